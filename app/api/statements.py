"""A place's bank statements through the API: import (multipart), the lines with their
status and suggestions, confirming, rejecting or undoing matches, and a credit made a
donation.

Stewards only: the lines name people. The import reads the whole file in a worker thread
before anything is stored (``ledger.bank``); a bad file is a 422 naming the line or element
and leaves nothing behind, not even the file, which is kept privately by its SHA-256 only
once its lines are stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

import anyio
import msgspec
from litestar import Controller, Request, Response, delete, get, post, put
from litestar.datastructures import UploadFile
from litestar.di import Provide
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery, JSONBody, Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from app.api import openapi
from app.api.attachments import FORM_ROOM, store_of
from app.auth import provide_caller
from app.deps import CurrentCaller, DbSession, Id, provide_notary, settings_of
from app.guards import requires
from app.jobs import withdraw_statement
from ledger import bank, service
from ledger.errors import FileTooLarge, InvalidInput
from ledger.matching import DEFAULT_WINDOW_DAYS
from ledger.models import BankLine, BankStatement, Group, Place
from ledger.money import format_amount
from ledger.queries import entry_out
from ledger.schemas import (
    MAX_ID,
    EntryOut,
    LineDonationIn,
    LineOut,
    MatchIn,
    RejectedOut,
    RejectIn,
    StatementOut,
    StatementSettingsIn,
    StatementSettingsOut,
    SuggestionOut,
    UndoneOut,
)
from ledger.statements import CsvMapping, mapping_from_json

JSON = "application/json"
# A year of a busy account in the most verbose format fits with room to spare.
STATEMENT_LIMIT = 32 * 1024 * 1024
# The most lines one answer of a statement's list holds when the caller pages it.
LINES_PAGE = 5_000


@dataclass
class StatementUpload:
    """The multipart body: the statement ``file``; ``format`` (csv, ofx, qfx, camt.053,
    mt940) when the content should not decide; ``mapping``, a CSV mapping as JSON (the
    place's saved one when left out; a mapping sent is saved for the place)."""

    file: UploadFile
    format: str | None = None
    mapping: str | None = None


def statement_out(row: BankStatement, place: Place) -> StatementOut:
    def money(amount: int | None) -> str | None:
        return None if amount is None else format_amount(amount, place.currency)

    return StatementOut(
        id=row.id,
        sha256=row.sha256,
        format=row.format,
        lines=row.lines,
        new_lines=row.new_lines,
        starts_on=row.starts_on,
        ends_on=row.ends_on,
        opening=money(row.opening),
        closing=money(row.closing),
        closing_on=row.closing_on,
        imported_at=row.imported_at.isoformat(),
    )


def line_out(view: bank.LineView) -> LineOut:
    line = view.line
    return LineOut(
        id=line.id,
        booked_on=line.booked_on,
        value_on=line.value_on,
        amount=format_amount(line.amount, line.currency),
        currency=line.currency,
        status=view.status,
        counterparty=line.counterparty,
        reference=line.reference,
        description=line.description,
        source=line.source,
        entries=list(view.match.entries) if view.match else [],
        complete=view.match.complete if view.match else None,
        suggestions=[
            SuggestionOut(entry=s.seq, days=s.days, reasons=list(s.reasons))
            for s in view.suggestions
        ],
        undone=[
            UndoneOut(entries=list(undone.entries), undone_at=undone.undone_at)
            for undone in view.undone
        ],
        rejected=[RejectedOut(entry=r.seq, rejected_at=r.rejected_at) for r in view.rejected],
    )


async def line_now(session: AsyncSession, group: Group, place: Place, line: BankLine) -> LineOut:
    """The line as it stands after an action on it: its status, match and suggestions."""
    return line_out((await bank.views_of(session, group, place, [line]))[0])


async def read_statement_upload(upload: UploadFile | Any) -> bytes:
    if not isinstance(upload, UploadFile):
        raise InvalidInput("Send the statement as the form field 'file'.", field="file")
    content = await upload.read(STATEMENT_LIMIT + 1)
    if len(content) > STATEMENT_LIMIT:
        raise FileTooLarge(
            f"A statement may be at most {STATEMENT_LIMIT // (1024 * 1024)} MB; this file is "
            "larger: export a shorter period.",
            field="file",
        )
    return content


def mapping_of(text: str | None) -> CsvMapping | None:
    return mapping_from_json(text) if text and text.strip() else None


class StatementController(Controller):
    path = "/api/groups/{group:str}/places/{place:str}"
    tags = ["Bank statements"]
    dependencies = {"caller": Provide(provide_caller, sync_to_thread=False)}

    @post(
        "/statements",
        guards=[requires("steward")],
        summary="Import a statement of the place (CSV, OFX/QFX, CAMT.053, MT940)",
        description=(
            "Multipart form: `file`; optional `format` (`csv`, `ofx`, `qfx`, `camt.053`, "
            "`mt940`; otherwise the content decides); optional `mapping`, the CSV mapping as "
            "JSON (saved for the place; the saved one is used when left out). The file is "
            "read whole or refused whole: a 422 names the line or XML element and stores "
            "nothing. Each line is kept once per place by its fingerprint: `new_lines` "
            "counts what this file added. The file is kept privately; its `sha256` is "
            "public wherever a reconciliation names it."
        ),
        request_max_body_size=STATEMENT_LIMIT + FORM_ROOM,
        responses={
            201: openapi.success(StatementOut, "The import: its lines and what was new."),
            413: openapi.problem(413, "The file is larger than a statement may be."),
        },
    )
    async def import_statement(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        place: FromPath[str],
        data: Annotated[StatementUpload, Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> Response[bytes]:
        where = await service.get_place(db_session, caller.group, place)
        content = await read_statement_upload(data.file)
        sent = mapping_of(data.mapping)
        mapping = sent or bank.saved_mapping(await bank.settings_of(db_session, where))
        statement = await anyio.to_thread.run_sync(
            lambda: bank.read_for_place(content, where, format=data.format, mapping=mapping)
        )
        imported = await bank.store_statement(
            db_session,
            caller.group,
            where,
            statement,
            imported_by=caller.user_id,
            mapping=sent if statement.format == "csv" else None,
        )
        await anyio.to_thread.run_sync(store_of(request).put, content)
        body = msgspec.json.encode(statement_out(imported.statement, where))
        return Response(body, status_code=201, media_type=JSON)

    @get(
        "/statements",
        guards=[requires("steward")],
        summary="The place's imported statements, newest first",
    )
    async def list_statements(
        self, db_session: DbSession, caller: CurrentCaller, place: FromPath[str]
    ) -> list[StatementOut]:
        where = await service.get_place(db_session, caller.group, place)
        return [statement_out(row, where) for row in await bank.list_statements(db_session, where)]

    @delete(
        "/statements/{statement:int}",
        guards=[requires("steward")],
        summary="Withdraw the place's latest import (the wrong file, or the wrong place)",
        description=(
            "Deletes the import and the lines it brought (with the suggestions rejected for "
            "them); once committed, the file leaves the private store unless another import "
            "keeps the same bytes. The record of it stays: the file's SHA-256, its period and "
            "counts, who imported and who withdrew it. 409 unless it is the place's latest "
            "import and nothing rests on it: no line of it matched (now or before), none on "
            "a day the books are reconciled through, no reconciliation closed against it."
        ),
    )
    async def withdraw(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        place: FromPath[str],
        statement: Id,
    ) -> None:
        where = await service.get_place(db_session, caller.group, place)
        row = await bank.get_statement(db_session, where, statement)
        await withdraw_statement(
            request, db_session, caller.group, where, row, withdrawn_by=caller.user_id
        )

    @get(
        "/statements/{statement:int}/lines",
        guards=[requires("steward")],
        summary="A statement's lines with their status and suggested entries",
        description=(
            "The place's bank lines in the statement's period, by day, each `matched`, "
            "`suggested` (with the entries that may be it, best first: same amount and "
            "direction, within the place's window of days, ranked up when the bank's texts "
            "carry the entry's number, the proposal number or the counterparty's pseudonym) "
            "or `unmatched` (a debit here is money that left without an entry). `status` "
            "keeps the lines of one status only. All of them without `limit`; with it, at "
            'most `limit` lines, and when more follow a `Link` header (`rel="next"`) whose '
            "address asks for the lines `after` the last one sent (a line's `id`: the lines "
            "that come after it by day, whatever became of it meanwhile). 422 on `after` for "
            "a line that is not in the statement's period."
        ),
    )
    async def list_lines(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        place: FromPath[str],
        statement: Id,
        status: FromQuery[Literal["matched", "suggested", "unmatched"] | None] = None,
        after: Annotated[int | None, Parameter(ge=1, le=MAX_ID)] = None,
        limit: Annotated[int | None, Parameter(ge=1, le=LINES_PAGE)] = None,
    ) -> Response[list[LineOut]]:
        where = await service.get_place(db_session, caller.group, place)
        row = await bank.get_statement(db_session, where, statement)
        page = await bank.statement_lines_page(
            db_session, caller.group, where, row, after=after, status=status, limit=limit
        )
        headers = {}
        if page.more and page.views:
            query = {"after": str(page.views[-1].line.id), "limit": str(limit)}
            if status is not None:
                query["status"] = status
            headers["Link"] = f'<{request.url.path}?{urlencode(query)}>; rel="next"'
        return Response([line_out(view) for view in page.views], headers=headers)

    @post(
        "/statements/{statement:int}/lines/{line:int}/match",
        guards=[requires("steward")],
        summary="Confirm which entries a bank line is",
        description=(
            "`entries`: their amounts in the place add up to the line (or, for an entry "
            "paid in parts, naming the entries of an earlier match adds this line to it). "
            "409 when the line or an entry is matched already otherwise."
        ),
        responses={201: openapi.success(LineOut, "The line, matched.")},
    )
    async def match(
        self,
        db_session: DbSession,
        caller: CurrentCaller,
        place: FromPath[str],
        statement: Id,
        line: Id,
        data: JSONBody[MatchIn],
    ) -> LineOut:
        where, found = await bank.find_line(db_session, caller.group, place, statement, line)
        await bank.confirm_match(
            db_session, caller.group, where, found, data.entries, confirmed_by=caller.user_id
        )
        return await line_now(db_session, caller.group, where, found)

    @delete(
        "/statements/{statement:int}/lines/{line:int}/match",
        guards=[requires("steward")],
        status_code=200,
        summary="Take a bank line out of its confirmed match",
        description=(
            "For a match confirmed by mistake: the line is open again (suggested or "
            "unmatched), and a match left with no line is gone, its entries free to match "
            "other lines. What was confirmed, by whom and when, stays on record; the line "
            "lists it under `undone`. 409 when the line is not matched, or when a "
            "reconciliation of the place closed over the line's day (the match is part "
            "of that proof)."
        ),
        responses={200: openapi.success(LineOut, "The line, open again.")},
    )
    async def undo_match(
        self,
        db_session: DbSession,
        caller: CurrentCaller,
        place: FromPath[str],
        statement: Id,
        line: Id,
    ) -> LineOut:
        where, found = await bank.find_line(db_session, caller.group, place, statement, line)
        await bank.undo_match(db_session, caller.group, where, found, undone_by=caller.user_id)
        return await line_now(db_session, caller.group, where, found)

    @post(
        "/statements/{statement:int}/lines/{line:int}/reject",
        guards=[requires("steward")],
        summary="Say a suggested entry is not this bank line",
        responses={201: openapi.success(LineOut, "The line, without that suggestion.")},
    )
    async def reject(
        self,
        db_session: DbSession,
        caller: CurrentCaller,
        place: FromPath[str],
        statement: Id,
        line: Id,
        data: JSONBody[RejectIn],
    ) -> LineOut:
        where, found = await bank.find_line(db_session, caller.group, place, statement, line)
        await bank.reject_suggestion(db_session, found, data.entry, rejected_by=caller.user_id)
        return await line_now(db_session, caller.group, where, found)

    @delete(
        "/statements/{statement:int}/lines/{line:int}/rejections/{entry:int}",
        guards=[requires("steward")],
        status_code=200,
        summary="Take back a rejected suggestion: the entry may be suggested for the line again",
        description=(
            "For a suggestion rejected by mistake. The line's `rejected` lists what can be "
            "taken back; 404 when the entry was not rejected for the line."
        ),
        responses={200: openapi.success(LineOut, "The line, the entry suggested again.")},
    )
    async def restore_suggestion(
        self,
        db_session: DbSession,
        caller: CurrentCaller,
        place: FromPath[str],
        statement: Id,
        line: Id,
        entry: Id,
    ) -> LineOut:
        where, found = await bank.find_line(db_session, caller.group, place, statement, line)
        await bank.restore_suggestion(db_session, found, entry)
        return await line_now(db_session, caller.group, where, found)

    @post(
        "/statements/{statement:int}/lines/{line:int}/donation",
        guards=[requires("steward")],
        summary="Record an unmatched credit as a donation, matched to the line",
        description=(
            "Appends a donation to `fund` in this place, on the line's booking date, for "
            "the line's amount, and matches it with the line. The donor's name stays on "
            "the private bank line: the entry names no one. 409 when the line is matched."
        ),
        responses={201: openapi.success(EntryOut, "The donation, as recorded.")},
    )
    async def donation(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        place: FromPath[str],
        statement: Id,
        line: Id,
        data: JSONBody[LineDonationIn],
    ) -> EntryOut:
        where, found = await bank.find_line(db_session, caller.group, place, statement, line)
        entry = await bank.donation_from_line(
            db_session,
            caller.group,
            where,
            found,
            data.fund,
            recorded_by=caller.user_id,
            notary=provide_notary(request.app.state),
            dates=settings_of(request).date_window,
        )
        return entry_out(entry)

    @get(
        "/statement-settings",
        guards=[requires("steward")],
        summary="The place's saved CSV mapping and matching window",
    )
    async def read_settings(
        self, db_session: DbSession, caller: CurrentCaller, place: FromPath[str]
    ) -> StatementSettingsOut:
        where = await service.get_place(db_session, caller.group, place)
        return settings_out(await bank.settings_of(db_session, where))

    @put(
        "/statement-settings",
        guards=[requires("steward")],
        summary="Save the place's CSV mapping and/or matching window (days, default 5)",
    )
    async def change_settings(
        self,
        db_session: DbSession,
        caller: CurrentCaller,
        place: FromPath[str],
        data: JSONBody[StatementSettingsIn],
    ) -> StatementSettingsOut:
        where = await service.get_place(db_session, caller.group, place)
        mapping = None
        if data.mapping is not None:
            mapping = mapping_from_json(msgspec.json.encode(data.mapping))
        saved = await bank.change_settings(
            db_session, where, mapping=mapping, window_days=data.match_window_days
        )
        return settings_out(saved)


def settings_out(settings: Any) -> StatementSettingsOut:
    mapping = None
    if settings is not None and settings.csv_mapping:
        mapping = msgspec.json.decode(settings.csv_mapping)
    return StatementSettingsOut(
        mapping=mapping,
        match_window_days=bank.window_of(settings) if settings else DEFAULT_WINDOW_DAYS,
    )
