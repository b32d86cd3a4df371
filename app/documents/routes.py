"""The documents' routes: thin handlers that read the data, then print it off the loop.

Anyone may print a public group's documents; a private group's answer 404 to everyone who
is not a member (``public_or_member``). A period or entry that does not exist is a problem
(422 / 404) before any printing starts.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.di import Provide
from litestar.exceptions import ServiceUnavailableException
from litestar.params import QueryParameter

from app.api.attachments import store_of
from app.auth import Caller, provide_caller
from app.deps import CurrentCaller, DbSession, Id, settings_of
from app.documents.pdf import DEFAULT_LIMITS, Limits, PdfDocument, RenderError, render_pdf
from app.documents.receipt import receipt_document
from app.documents.statement import (
    DecisionsInPeriod,
    no_decisions,
    resolve_period,
    statement_document,
)
from app.guards import may_read_files, public_or_member
from app.web.language import visitor_language

PDF = "application/pdf"
LIMITS_STATE_KEY = "pdf_limits"
DECISIONS_STATE_KEY = "decisions_in_period"
"""App state key of the ``DecisionsInPeriod`` the statement uses (proposals plug in here)."""
RETRY_AFTER_SECONDS = "30"


def _limits(request: Request[Any, Any, Any]) -> Limits:
    limits: Limits = request.app.state.get(LIMITS_STATE_KEY, DEFAULT_LIMITS)
    return limits


def base_url_of(request: Request[Any, Any, Any]) -> str:
    """The instance's public address, which documents print their links against."""
    base_url: str = settings_of(request).base_url
    return base_url


async def pdf_response(
    document: PdfDocument,
    filename: str,
    caller: Caller,
    db_session: DbSession,
    request: Request[Any, Any, Any],
    private: bool = False,
) -> Response[bytes]:
    """Print ``document`` and answer it inline as ``filename`` (``private``: never kept by
    a shared cache, as a private group's documents).

    The database connection goes back to the pool before printing starts: every value the
    document needs is in it already, and printing may take seconds."""
    private = private or not caller.group.public
    await db_session.close()
    try:
        content = await render_pdf(document, _limits(request))
    except RenderError as error:
        raise ServiceUnavailableException(
            str(error), headers={"Retry-After": RETRY_AFTER_SECONDS}
        ) from error
    return Response(
        content,
        media_type=PDF,
        headers={
            "Content-Disposition": f'inline; filename="{filename}"',
            "Cache-Control": "private, no-store" if private else "no-cache",
            "X-Content-Type-Options": "nosniff",
        },
    )


class DocumentController(Controller):
    """Printable documents of a group: the audit statement and receipts (PDF/A-3)."""

    path = "/g/{group:str}"
    tags = ["Documents"]
    guards = [public_or_member]
    dependencies = {"caller": Provide(provide_caller, sync_to_thread=False)}

    @get(
        "/audit.pdf",
        media_type=PDF,
        raises=[ServiceUnavailableException],
        summary="Audit statement of a period (PDF/A-3 with the period's leaves attached)",
        description=(
            "Per fund the opening balance, every entry of the period with its running "
            "balance and the closing balance; the decisions taken; the latest signed "
            "checkpoint with how to verify it; each entry's receipts by hash and type, and, "
            "for members (everyone where the group publishes receipts), their files "
            "attached to the PDF as associated files named `receipt-<entry>-<sha256>.<ext>`. "
            "`from` defaults to the day of the group's first entry, `to` to today "
            "(YYYY-MM-DD)."
        ),
    )
    async def audit_statement(
        self,
        db_session: DbSession,
        caller: CurrentCaller,
        request: Request[Any, Any, Any],
        date_from: Annotated[
            str | None, QueryParameter(name="from", description="First day, YYYY-MM-DD")
        ] = None,
        date_to: Annotated[
            str | None, QueryParameter(name="to", description="Last day, YYYY-MM-DD")
        ] = None,
    ) -> Response[bytes]:
        group = caller.group
        start, end = await resolve_period(
            db_session, group, date_from, date_to, settings_of(request).date_window
        )
        decisions: DecisionsInPeriod = request.app.state.get(DECISIONS_STATE_KEY, no_decisions)
        document = await statement_document(
            db_session,
            group,
            start,
            end,
            base_url=base_url_of(request),
            decisions_in_period=decisions,
            limits=_limits(request),
            receipt_files=store_of(request) if may_read_files(caller) else None,
            language=visitor_language(request),
        )
        filename = f"{group.slug}-audit-{start.isoformat()}-{end.isoformat()}.pdf"
        # Receipts' files for members only stay out of every shared cache.
        private = bool(document.context["receipts_attached"]) and not group.publish_receipts
        return await pdf_response(document, filename, caller, db_session, request, private)

    @get(
        "/entries/{seq:int}/receipt.pdf",
        media_type=PDF,
        raises=[ServiceUnavailableException],
        summary="Receipt for one entry with its inclusion proof (PDF/A-3)",
    )
    async def receipt(
        self,
        db_session: DbSession,
        caller: CurrentCaller,
        request: Request[Any, Any, Any],
        seq: Id,
    ) -> Response[bytes]:
        group = caller.group
        document = await receipt_document(
            db_session,
            group,
            seq,
            base_url=base_url_of(request),
            language=visitor_language(request),
        )
        filename = f"{group.slug}-receipt-{seq}.pdf"
        return await pdf_response(document, filename, caller, db_session, request)
