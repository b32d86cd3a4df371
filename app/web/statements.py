"""A place's bank statements in the members' pages (stewards): import with a preview, the
lines with their status and suggestions to confirm or reject, a credit made a donation.

A CSV file opens the mapping editor: the file's first lines split into columns, and one
field per setting of the place's mapping (its saved one, else a guess from the file);
"Preview" reads the file with the fields' mapping and shows the lines or the error naming
the line; "Import" reads it the same way, stores it and saves the mapping for the place.
Other formats go straight to a preview of their lines.

No JavaScript: each page carries the file back in a hidden field (base64), so nothing is
stored until the steward imports, and the file is chosen once; the import then goes through
``ledger.bank`` exactly as the API's does.
"""

from __future__ import annotations

import base64
import binascii
from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal

import anyio
from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.di import Provide
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.attachments import FORM_ROOM, store_of
from app.api.statements import STATEMENT_LIMIT, mapping_of, read_statement_upload
from app.auth import Caller, provide_caller
from app.deps import CurrentCaller, DbSession, Id, provide_notary, settings_of
from app.errors import status_of
from app.guards import member_with
from app.jobs import withdraw_statement
from app.presenters.formatting import Formatter
from app.web import mapping_editor
from app.web.forms import Form, said, typed_number
from app.web.language import visitor_language
from app.web.templating import page, see_other
from ledger import bank, reconciliation, service
from ledger.errors import InvalidInput, LedgerError
from ledger.models import Place
from ledger.schemas import MAX_ID
from ledger.statements import (
    ENCODINGS,
    CsvMapping,
    CsvPreview,
    Encoding,
    Statement,
    StatementFormat,
    preview_csv,
)
from ledger.statements.csv_editor import DATE_FORMATS, FileColumns, file_columns, guess_mapping

PREVIEW_LINES = 12
EXAMPLE_DAY = date(2026, 12, 31)
FIRST_LINES = 15
FORMATS = [item.value for item in StatementFormat]
SENT_FIELDS = ("format", "mapping", "content", "editor", "filename")


def _base(caller: Caller, place: Place) -> str:
    return f"/m/{caller.group.slug}/places/{place.slug}/statements"


# A statement's page shows its lines a hundred at a time: a year's statement of a busy
# account has thousands, each with its forms.
LINES_PER_PAGE = 100
MAX_PAGE = 1_000_000
# The oldest lines of money out without an entry, shown on a place's statements page.
DEBITS_SHOWN = 20


@dataclass(frozen=True)
class _LinesShown:
    """The lines a statement's page shows: all, or those that need a steward (``open``:
    suggested or unmatched), one page of them; and how many lines have each status."""

    show: str
    page: int
    pages: int
    views: list[bank.LineView]
    first: int  # the number of the first line shown, among those chosen (from 1)
    chosen: int
    counts: dict[str, int]

    @classmethod
    def of(
        cls, views: list[bank.LineView], show: str, page: int, *, line: int | None = None
    ) -> _LinesShown:
        counts = Counter(view.status for view in views)
        chosen = views if show == "all" else [v for v in views if v.status != bank.MATCHED]
        pages = max(1, -(-len(chosen) // LINES_PER_PAGE))
        at = next((i for i, view in enumerate(chosen) if view.line.id == line), None)
        if at is not None:
            page = at // LINES_PER_PAGE + 1
        # A page past the last (its lines matched meanwhile) shows the last.
        page = min(page, pages)
        start = (page - 1) * LINES_PER_PAGE
        return cls(
            show=show,
            page=page,
            pages=pages,
            views=chosen[start : start + LINES_PER_PAGE],
            first=start + 1,
            chosen=len(chosen),
            counts={status: counts[status] for status in bank.STATUSES},
        )

    @staticmethod
    def query(show: str, page: int) -> str:
        """The page's query string ("" for the first page of all lines)."""
        parts = [f"show={show}"] if show != "all" else []
        if page > 1:
            parts.append(f"page={page}")
        return "?" + "&".join(parts) if parts else ""


def _entry_numbers(value: object, field: str) -> list[int]:
    """Entry numbers as a steward types them ("#12, 14"); a number no entry can have is
    refused here, before the database is asked about it."""
    numbers = []
    for part in str(value or "").replace("#", "").replace(",", " ").split():
        number = typed_number(part, MAX_ID)
        if number is None:
            raise InvalidInput(f"No entry has the number {part}.", field=field)
        numbers.append(number)
    return numbers


async def _sent_file(request: Request[Any, Any, Any], form: Form) -> bytes:
    """The file a form sent (the field ``file``, or the page's ``content``); its other
    fields go into ``form``."""
    data = await request.form()
    for name in (*SENT_FIELDS, *mapping_editor.FIELDS):
        form.values[name] = str(data.get(name) or "").strip()
    for name in mapping_editor.LISTS:
        form.lists[name] = [str(value) for value in data.getall(name, [])]
    upload = data.get("file")
    if isinstance(upload, UploadFile) and upload.filename:
        form.values["filename"] = upload.filename[:200]
        return await read_statement_upload(upload)
    if form.value("content"):
        try:
            content = base64.b64decode(form.value("content"), validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput("Choose the statement's file again.", field="file") from None
        if len(content) <= STATEMENT_LIMIT:
            return content
    raise InvalidInput("Choose the statement's file.", field="file")


def _is_csv(form: Form, data: bytes) -> bool:
    chosen = form.value("format")
    return chosen == "csv" or (not chosen and bank.detect(data) is None)


@dataclass(frozen=True, slots=True)
class _Sent:
    """A statement file sent to a place's preview or import, and the page's form."""

    place: Place
    form: Form
    data: bytes
    content: str  # the file in base64, carried in the page so it is never uploaded twice


@dataclass
class Editor:
    """What the mapping editor shows: the file's columns and first lines, and where the
    mapping came from (``saved``, ``guessed``, ``sent`` as JSON, or the ``form``)."""

    columns: FileColumns
    rows: list[tuple[int, list[str]]]
    source: str
    mapping: CsvMapping | None = None
    skipped: int = 0
    header_line: int | None = None


async def _mapping_for(
    db_session: AsyncSession, place: Place, data: bytes, form: Form
) -> tuple[CsvMapping | None, FileColumns, str]:
    """The mapping to read ``data`` with: the editor's fields when the page sent them,
    else the mapping sent as JSON, the place's saved one, or a guess from the file; the
    form is filled with it and the file's columns read as it says."""
    if form.value("editor"):
        columns = mapping_editor.columns_from_form(data, form)
        return mapping_editor.mapping_from_form(form, columns), columns, "form"
    mapping: CsvMapping | None = None
    source = "sent"
    try:
        mapping = mapping_of(form.value("mapping"))
    except LedgerError as error:
        form.fail("", str(error))
    if mapping is None:
        source = "saved"
        try:
            mapping = bank.saved_mapping(await bank.settings_of(db_session, place))
        except LedgerError:  # a mapping saved before its rules changed: start again
            mapping = None
    if mapping is None:
        source = "guessed"
        mapping = await anyio.to_thread.run_sync(guess_mapping, data)
    columns = file_columns(
        data,
        encoding=mapping.encoding,
        delimiter=mapping.delimiter,
        skip_lines=mapping.skip_lines,
        header=mapping.header,
    )
    mapping_editor.fields_of(mapping, columns, form)
    return (mapping if form.ok else None), columns, source


def _first_lines(data: bytes, form: Form) -> list[tuple[int, list[str]]]:
    """The file's first lines split as the form's encoding and delimiter say (Latin-1,
    which every byte is, when the file is not in the chosen encoding: reading it names
    the line)."""
    encoding = form.value("encoding")
    delimiter = mapping_editor.DELIMITERS.get(form.value("delimiter"))
    chosen: Encoding = next((known for known in ENCODINGS if known == encoding), "utf-8")
    for tried in (chosen, "latin-1"):
        try:
            found: CsvPreview = preview_csv(
                data,
                encoding=tried,
                delimiter=delimiter,
                count=FIRST_LINES,
            )
        except LedgerError:
            continue
        return found.rows
    return []


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
        place: FromPath[str],
        withdrawn: Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)] = None,
    ) -> Template:
        """The place's imports and the import form; ``withdrawn``: the import just withdrawn."""
        where = await service.get_place(db_session, caller.group, place)
        form = Form(language=visitor_language(request))
        return await self._page(request, db_session, caller, where, form, withdrawn=withdrawn)

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
        editor: Editor | None = None,
        content: str = "",
        withdrawn: int | None = None,
    ) -> Template:
        fmt = Formatter.for_group(caller.group, settings_of(request))
        return page(
            request,
            "member/statements.html",
            withdrawn=withdrawn,
            status_code=status,
            group=caller.group,
            caller=caller,
            fmt=fmt,
            place=place,
            form=form,
            formats=FORMATS,
            statements=await bank.list_statements(db_session, place),
            debits=await bank.unmatched_debits(db_session, place, limit=DEBITS_SHOWN),
            close_through=await reconciliation.next_closing_day(db_session, place),
            preview=preview,
            preview_lines=list(preview.lines[:PREVIEW_LINES]) if preview else [],
            editor=editor,
            # Each format shown with a day it writes unmistakably (the 31st of December).
            date_formats=[(item, EXAMPLE_DAY.strftime(item)) for item in DATE_FORMATS],
            other_format=mapping_editor.OTHER_FORMAT,
            content=content,
            base=_base(caller, place),
        )

    async def _editor(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        caller: Caller,
        place: Place,
        data: bytes,
        form: Form,
    ) -> tuple[Editor, Statement | None]:
        """The editor for ``data``, and the statement its mapping reads (None, with the
        error on its field or on the preview, when it reads none)."""
        mapping, columns, source = await _mapping_for(db_session, place, data, form)
        skip = form.value("skip_lines")
        skipped = typed_number(skip, mapping_editor.MAX_SKIPPED, minimum=0) or 0
        rows = _first_lines(data, form)
        header_line = next(
            (line for line, cells in rows if line > skipped and any(c.strip() for c in cells)),
            None,
        )
        editor = Editor(
            columns=columns,
            rows=rows,
            source=source,
            mapping=mapping,
            skipped=skipped,
            header_line=header_line if form.value("header") != "no" else None,
        )
        if mapping is None:
            return editor, None
        try:
            statement = await anyio.to_thread.run_sync(
                lambda: bank.read_for_place(data, place, format="csv", mapping=mapping)
            )
        except LedgerError as error:
            form.fail(mapping_editor.field_of(error), str(error))
            return editor, None
        return editor, statement

    async def _received(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        caller: Caller,
        place: str,
    ) -> _Sent | Template:
        """The place and the file a preview or an import sent (with the page's form), or
        the page saying why the file could not be read."""
        where = await service.get_place(db_session, caller.group, place)
        form = Form(language=visitor_language(request))
        try:
            data = await _sent_file(request, form)
        except LedgerError as error:
            form.fail("file", str(error))
            return await self._page(
                request, db_session, caller, where, form, status=status_of(error)
            )
        return _Sent(where, form, data, base64.b64encode(data).decode())

    async def _refused(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        caller: Caller,
        where: Place,
        form: Form,
        error: LedgerError,
    ) -> Template:
        """The page again, with why the file was not read or stored on its field."""
        form.fail("format" if error.field == "format" else "file", str(error))
        return await self._page(request, db_session, caller, where, form, status=status_of(error))

    @post(
        "/m/{group:str}/places/{place:str}/statements/preview",
        guards=[member_with("steward")],
        name="statements_preview",
        # The file, or the page's copy of it in base64 (a third larger).
        request_max_body_size=STATEMENT_LIMIT * 2 + FORM_ROOM,
    )
    async def preview(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        place: FromPath[str],
    ) -> Template:
        sent = await self._received(request, db_session, caller, place)
        if isinstance(sent, Template):
            return sent
        where, form, data, content = sent.place, sent.form, sent.data, sent.content
        if _is_csv(form, data):
            editor, statement = await self._editor(request, db_session, caller, where, data, form)
            return await self._page(
                request,
                db_session,
                caller,
                where,
                form,
                status=200 if statement is not None else 422,
                preview=statement,
                editor=editor,
                content=content,
            )
        try:
            statement = await anyio.to_thread.run_sync(
                lambda: bank.read_for_place(data, where, format=form.value("format") or None)
            )
        except LedgerError as error:
            return await self._refused(request, db_session, caller, where, form, error)
        return await self._page(
            request, db_session, caller, where, form, preview=statement, content=content
        )

    @post(
        "/m/{group:str}/places/{place:str}/statements",
        guards=[member_with("steward")],
        name="statements_import",
        # The file, or the page's copy of it in base64 (a third larger).
        request_max_body_size=STATEMENT_LIMIT * 2 + FORM_ROOM,
    )
    async def import_statement(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        place: FromPath[str],
    ) -> Template | Redirect:
        sent = await self._received(request, db_session, caller, place)
        if isinstance(sent, Template):
            return sent
        where, form, data, content = sent.place, sent.form, sent.data, sent.content
        mapping: CsvMapping | None = None
        statement: Statement | None = None
        if _is_csv(form, data):
            editor, statement = await self._editor(request, db_session, caller, where, data, form)
            if statement is None:
                return await self._page(
                    request,
                    db_session,
                    caller,
                    where,
                    form,
                    status=422,
                    editor=editor,
                    content=content,
                )
            mapping = editor.mapping
        try:
            if statement is None:
                statement = await anyio.to_thread.run_sync(
                    lambda: bank.read_for_place(data, where, format=form.value("format") or None)
                )
            imported = await bank.store_statement(
                db_session,
                caller.group,
                where,
                statement,
                imported_by=caller.user_id,
                # The mapping that read the file becomes the place's: the next file from
                # this bank opens with it.
                mapping=mapping,
            )
            await anyio.to_thread.run_sync(store_of(request).put, data)
        except LedgerError as error:
            return await self._refused(request, db_session, caller, where, form, error)
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
        place: FromPath[str],
        statement: Id,
        show: FromQuery[Literal["all", "open"]] = "all",
        page: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE)] = 1,
        line: Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)] = None,
    ) -> Template:
        """A page of the statement's lines: all of them, or those that need a steward
        (``show=open``: suggested or unmatched); ``line``: the page that shows that line."""
        return await self._lines(
            request, db_session, caller, place, statement, Form(), shown=(show, page), line=line
        )

    async def _lines(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        caller: Caller,
        place: str,
        statement: int,
        form: Form,
        *,
        shown: tuple[str, int] = ("all", 1),
        line: int | None = None,
        status: int = 200,
    ) -> Template:
        where = await service.get_place(db_session, caller.group, place)
        row = await bank.get_statement(db_session, where, statement)
        fmt = Formatter.for_group(caller.group, settings_of(request))
        views = await bank.statement_lines(db_session, caller.group, where, row)
        lines = _LinesShown.of(views, *shown, line=line)
        # Only the latest import may be withdrawn, from its page; the form is offered when
        # nothing keeps the import, else the page says what does.
        latest = await bank.latest_statement(db_session, where)
        is_latest = latest is not None and latest.id == row.id
        refusal = await bank.withdrawal_refusal(db_session, where, row) if is_latest else None
        kept_because = said(refusal, visitor_language(request)) if refusal else None
        return page(
            request,
            "member/statement.html",
            status_code=status,
            group=caller.group,
            caller=caller,
            fmt=fmt,
            place=where,
            statement=row,
            lines=lines,
            funds=await service.list_funds(db_session, caller.group),
            close_through=await reconciliation.next_closing_day(db_session, where),
            latest=is_latest,
            kept_because=kept_because,
            form=form,
            base=_base(caller, where),
        )

    @post(
        "/m/{group:str}/places/{place:str}/statements/{statement:int}/withdraw",
        guards=[member_with("steward")],
        name="statement_withdraw",
    )
    async def withdraw(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        place: FromPath[str],
        statement: Id,
    ) -> Template | Redirect:
        """Withdraw the place's latest import, once the steward ticked that they mean it."""
        where = await service.get_place(db_session, caller.group, place)
        row = await bank.get_statement(db_session, where, statement)
        data = await request.form()
        form = Form(values={})
        try:
            if data.get("confirm") != "yes":
                raise InvalidInput(
                    "Tick the box to say you want this import withdrawn.", field="confirm"
                )
            await withdraw_statement(
                request, db_session, caller.group, where, row, withdrawn_by=caller.user_id
            )
        except LedgerError as error:
            form.fail("", str(error))
            return await self._lines(
                request, db_session, caller, place, statement, form, status=status_of(error)
            )
        return see_other(f"{_base(caller, where)}?withdrawn={statement}")

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
        place: FromPath[str],
        statement: Id,
        line: Id,
    ) -> Template | Redirect:
        """One form per line: ``action`` is ``match`` (``entries``: numbers, comma
        separated), ``reject`` (``entry``), ``restore`` (``entry``: take a rejection back),
        ``donation`` (``fund``) or ``undo`` (take the line out of its match)."""
        where, found = await bank.find_line(db_session, caller.group, place, statement, line)
        data = await request.form()
        action = str(data.get("action") or "")
        form = Form(values={})
        # The page of lines the steward acted from, to go back to.
        show = "open" if data.get("show") == "open" else "all"
        number = str(data.get("page") or "")
        shown = (show, typed_number(number, MAX_PAGE) or 1)
        try:
            if action == "match":
                seqs = _entry_numbers(data.get("entries"), "entries")
                if not seqs:
                    raise InvalidInput("Give the numbers of the entries.", field="entries")
                await bank.confirm_match(
                    db_session, caller.group, where, found, seqs, confirmed_by=caller.user_id
                )
            elif action == "reject":
                seqs = _entry_numbers(data.get("entry"), "entry")
                if len(seqs) != 1:
                    raise InvalidInput("Choose the suggestion to reject.", field="entry")
                await bank.reject_suggestion(db_session, found, seqs[0], rejected_by=caller.user_id)
            elif action == "restore":
                seqs = _entry_numbers(data.get("entry"), "entry")
                if len(seqs) != 1:
                    raise InvalidInput("Choose the rejection to take back.", field="entry")
                await bank.restore_suggestion(db_session, found, seqs[0])
            elif action == "undo":
                await bank.undo_match(
                    db_session, caller.group, where, found, undone_by=caller.user_id
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
                request,
                db_session,
                caller,
                place,
                statement,
                form,
                shown=shown,
                status=status_of(error),
            )
        return see_other(
            f"{_base(caller, where)}/{statement}{_LinesShown.query(*shown)}#line-{line}"
        )
