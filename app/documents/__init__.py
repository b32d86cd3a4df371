"""Documents: audit statements, decision records and receipts as PDF/A-3 (WeasyPrint).

``configure`` is called once by ``app.asgi.CommonPursePlugin`` and adds the documents'
route handlers.

The shape, so a new document is one function and one template:

- ``pdf.py``: ``PdfDocument`` (template, context, metadata, attachments) and ``render_pdf``
  (Jinja2 with autoescape and StrictUndefined, then WeasyPrint in a worker thread with a
  time limit, PDF/A-3u, fonts embedded, only our static files fetched);
- ``seal.py``: the signed checkpoint every document carries (verbatim, root in hex, QR);
- ``statement.py``, ``receipt.py``: read the data into a ``PdfDocument``;
  ``templates/pdf/<name>.pdf.html`` prints it;
- ``routes.py``: the handlers; ``pdf_response`` prints a document and answers it.

The decision record of a proposal (``/g/{group}/proposals/{n}.pdf``) is the same shape:
``proposal.py`` reads it into a ``PdfDocument`` (``proposal_document``) for
``proposal.pdf.html``, and ``proposal_record_response`` prints it for the public pages'
proposal route (``app.web.proposals``), which owns that path. The statement's decisions come
from a ``DecisionsInPeriod`` function in the app state under ``decisions_in_period``:
``configure`` puts ``proposal.proposal_decisions`` there (the rounds closed with a decision
in the period, and withdrawals).

Optional settings: ``COMMONPURSE_PDF_TIME_LIMIT`` (seconds, default 120),
``COMMONPURSE_PDF_MAX_ROWS`` (fund movements per statement, default 20000) and
``COMMONPURSE_PDF_CONCURRENCY`` (renders at once per process, default 1).

Only ``routes.py`` imports Litestar (loaded by ``configure``, and by
``proposal_record_response`` when it runs), so ``render_statement`` and ``render_receipt``
stay light to import for the CLI and the bench.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.documents.pdf import DEFAULT_LIMITS, Limits
from app.documents.proposal import proposal_decisions
from app.documents.receipt import render_receipt
from app.documents.statement import (
    DecisionLine,
    DecisionsInPeriod,
    no_decisions,
    render_statement,
)
from app.settings import Settings, SettingsError

if TYPE_CHECKING:
    from litestar.config.app import AppConfig

__all__ = [
    "DecisionLine",
    "DecisionsInPeriod",
    "Limits",
    "configure",
    "no_decisions",
    "render_receipt",
    "render_statement",
]


def limits_from(settings: Settings) -> Limits:
    """The documents' limits, with overrides from ``COMMONPURSE_PDF_*`` settings."""
    extra = settings.extra
    try:
        return Limits(
            seconds=float(extra.get("PDF_TIME_LIMIT") or DEFAULT_LIMITS.seconds),
            max_rows=int(extra.get("PDF_MAX_ROWS") or DEFAULT_LIMITS.max_rows),
            concurrency=int(extra.get("PDF_CONCURRENCY") or DEFAULT_LIMITS.concurrency),
        )
    except ValueError as error:
        raise SettingsError(
            "COMMONPURSE_PDF_TIME_LIMIT, COMMONPURSE_PDF_MAX_ROWS and "
            f"COMMONPURSE_PDF_CONCURRENCY must be numbers: {error}"
        ) from error


def configure(app_config: AppConfig, settings: Settings) -> None:
    """Wire the document routes onto the application."""
    # Imported here: the render functions above serve the CLI and benches without Litestar.
    from app.documents.routes import DECISIONS_STATE_KEY, LIMITS_STATE_KEY, DocumentController

    limits = limits_from(settings)  # read now: bad settings stop the app before it starts
    # Set on each start, so a run may swap them (tests do) without the next run inheriting it.
    app_config.on_startup.append(
        lambda app: app.state.update(
            {LIMITS_STATE_KEY: limits, DECISIONS_STATE_KEY: proposal_decisions}
        )
    )
    app_config.route_handlers.append(DocumentController)
