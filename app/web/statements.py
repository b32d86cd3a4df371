"""A place's bank statements in the members' pages (stewards): import with a preview, the
lines with their status and suggestions to confirm or reject, a credit made a donation.

No JavaScript: the preview page carries the file back in a hidden field (base64), so
nothing is stored until the steward confirms; the import then goes through ``ledger.bank``
exactly as the API's does.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import anyio
from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.di import Provide
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.attachments import FORM_ROOM, store_of
from app.api.statements import STATEMENT_LIMIT, mapping_of, read_statement_upload
from app.auth import Caller, provide_caller
from app.deps import CurrentCaller, DbSession, Id, provide_notary, settings_of
from app.errors import status_of
from app.guards import member_with
from app.presenters.formatting import Formatter
from app.web.forms import Form
from app.web.templating import page, see_other
from ledger import bank, service
from ledger.errors import InvalidInput, LedgerError
from ledger.models import Place
from ledger.statements import CsvPreview, Statement, StatementFormat, preview_csv

PREVIEW_LINES = 12
FORMATS = [item.value for item in StatementFormat]


def _base(caller: Caller, place: Place) -> str:
    return f"/m/{caller.group.slug}/places/{place.slug}/statements"


async def _sent_file(request: Request[Any, Any, Any]) -> tuple[bytes, dict[str, str]]:
    """The file a form sent (the field ``file``, or the preview's ``content``) and its
    other fields."""
    data = await request.form()
    fields = {name: str(data.get(name) or "").strip() for name in ("format", "mapping", "content")}
    upload = data.get("file")
    if isinstance(upload, UploadFile) and upload.filename:
        return await read_statement_upload(upload), fields
    if fields["content"]:
        try:
            content = base64.b64decode(fields["content"], validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput("Choose the statement's file again.", field="file") from None
        if len(content) <= STATEMENT_LIMIT:
            return content, fields
    raise InvalidInput("Choose the statement's file.", field="file")


class StatementPages(Controller):
    include_in_schema = False
    dependencies = {"caller": Provide(provide_caller, sync_to_thread=False)}

    @get(
        "/m/{group:str}/places/{place:str}/statements",
        guards=[member_with("steward")],
        name="statements",
    )
    async def statements_page(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        place: str,
    ) -> Template:
        where = await bank.get_place(db_session, caller.group, place)
        settings = await bank.settings_of(db_session, where)
        form = Form(values={"mapping": settings.csv_mapping or "" if settings else ""})
        return await self._page(request, db_session, caller, where, form)

    async def _page(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        caller: Caller,
        place: Place,
        form: Form,
        *,
        status: int = 200,
        preview: Statement | None = None,
        columns: CsvPreview | None = None,
        content: str = "",
    ) -> Template:
        fmt = Formatter.for_group(caller.group, settings_of(request))
        return page(
            request,
            "member/statements.html",
            status_code=status,
            group=caller.group,
            caller=caller,
            fmt=fmt,
            place=place,
            form=form,
            formats=FORMATS,
            statements=await bank.list_statements(db_session, place),
            debits=await bank.unmatched_debits(db_session, place),
            preview=preview,
            preview_lines=list(preview.lines[:PREVIEW_LINES]) if preview else [],
            columns=columns,
            content=content,
            base=_base(caller, place),
        )

    @post(
        "/m/{group:str}/places/{place:str}/statements/preview",
        guards=[member_with("steward")],
        name="statements_preview",
        # The file, or the preview's copy of it in base64 (a third larger).
        request_max_body_size=STATEMENT_LIMIT * 2 + FORM_ROOM,
    )
    async def preview(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        place: str,
    ) -> Template:
        where = await bank.get_place(db_session, caller.group, place)
        form = Form(values={})
        columns: CsvPreview | None = None
        content = ""
        try:
            data, fields = await _sent_file(request)
            form.values.update(format=fields["format"], mapping=fields["mapping"])
            content = base64.b64encode(data).decode()
            mapping = mapping_of(fields["mapping"])
            if fields["format"] == "csv" or (mapping is None and not bank.detect(data)):
                columns = preview_csv(
                    data, encoding=mapping.encoding if mapping else "utf-8", count=PREVIEW_LINES
                )
            statement = await anyio.to_thread.run_sync(
                lambda: bank.read_for_place(
                    data, where, format=fields["format"] or None, mapping=mapping
                )
            )
        except LedgerError as error:
            form.fail(error.field if error.field in ("format", "mapping") else "file", str(error))
            return await self._page(
                request,
                db_session,
                caller,
                where,
                form,
                status=status_of(error),
                columns=columns,
                content=content,
            )
        return await self._page(
            request, db_session, caller, where, form, preview=statement, content=content
        )

    @post(
        "/m/{group:str}/places/{place:str}/statements",
        guards=[member_with("steward")],
        name="statements_import",
        # The file, or the preview's copy of it in base64 (a third larger).
        request_max_body_size=STATEMENT_LIMIT * 2 + FORM_ROOM,
    )
    async def import_statement(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        place: str,
    ) -> Template | Redirect:
        where = await bank.get_place(db_session, caller.group, place)
        form = Form(values={})
        try:
            data, fields = await _sent_file(request)
            form.values.update(format=fields["format"], mapping=fields["mapping"])
            sent = mapping_of(fields["mapping"])
            mapping = sent or bank.saved_mapping(await bank.settings_of(db_session, where))
            statement = await anyio.to_thread.run_sync(
                lambda: bank.read_for_place(
                    data, where, format=fields["format"] or None, mapping=mapping
                )
            )
            imported = await bank.store_statement(
                db_session,
                caller.group,
                where,
                statement,
                imported_by=caller.user_id,
                mapping=sent if statement.format == "csv" else None,
            )
            await anyio.to_thread.run_sync(store_of(request).put, data)
        except LedgerError as error:
            form.fail(error.field if error.field in ("format", "mapping") else "file", str(error))
            return await self._page(
                request, db_session, caller, where, form, status=status_of(error)
            )
        return see_other(f"{_base(caller, where)}/{imported.statement.id}")

    @get(
        "/m/{group:str}/places/{place:str}/statements/{statement:int}",
        guards=[member_with("steward")],
        name="statement_lines",
    )
    async def lines_page(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        place: str,
        statement: Id,
    ) -> Template:
        return await self._lines(request, db_session, caller, place, statement, Form())

    async def _lines(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        caller: Caller,
        place: str,
        statement: int,
        form: Form,
        *,
        status: int = 200,
    ) -> Template:
        where = await bank.get_place(db_session, caller.group, place)
        row = await bank.get_statement(db_session, where, statement)
        fmt = Formatter.for_group(caller.group, settings_of(request))
        return page(
            request,
            "member/statement.html",
            status_code=status,
            group=caller.group,
            caller=caller,
            fmt=fmt,
            place=where,
            statement=row,
            lines=await bank.statement_lines(db_session, caller.group, where, row),
            funds=await service.list_funds(db_session, caller.group),
            form=form,
            base=_base(caller, where),
        )

    @post(
        "/m/{group:str}/places/{place:str}/statements/{statement:int}/lines/{line:int}",
        guards=[member_with("steward")],
        name="statement_line_action",
    )
    async def line_action(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        place: str,
        statement: Id,
        line: Id,
    ) -> Template | Redirect:
        """One form per line: ``action`` is ``match`` (``entries``: numbers, comma
        separated), ``reject`` (``entry``) or ``donation`` (``fund``)."""
        where, found = await bank.find_line(db_session, caller.group, place, statement, line)
        data = await request.form()
        action = str(data.get("action") or "")
        form = Form(values={})
        try:
            if action == "match":
                text = str(data.get("entries") or "").replace("#", "")
                seqs = [int(part) for part in text.replace(",", " ").split() if part.isdigit()]
                if not seqs:
                    raise InvalidInput("Give the numbers of the entries.", field="entries")
                await bank.confirm_match(
                    db_session, caller.group, where, found, seqs, confirmed_by=caller.user_id
                )
            elif action == "reject":
                entry = str(data.get("entry") or "")
                if not entry.isdigit():
                    raise InvalidInput("Choose the suggestion to reject.", field="entry")
                await bank.reject_suggestion(
                    db_session, found, int(entry), rejected_by=caller.user_id
                )
            elif action == "donation":
                await bank.donation_from_line(
                    db_session,
                    caller.group,
                    where,
                    found,
                    str(data.get("fund") or ""),
                    recorded_by=caller.user_id,
                    notary=provide_notary(request.app.state),
                    dates=settings_of(request).date_window,
                )
            else:
                raise InvalidInput("Choose what to do with the line.", field="action")
        except LedgerError as error:
            form.fail("", f"#{line}: {error}")
            return await self._lines(
                request, db_session, caller, place, statement, form, status=status_of(error)
            )
        return see_other(f"{_base(caller, where)}/{statement}#line-{line}")
