"""Funds, entries, verification and exports of a group's ledger.

Reading a public group's ledger needs no login (anyone may check where the money went);
a private group's answers 404 to everyone but its members. Recording money needs the
steward role.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, patch, post
from litestar.di import Provide
from litestar.exceptions import ServiceUnavailableException
from litestar.handlers import HTTPRouteHandler
from litestar.params import (
    FromPath,
    FromQuery,
    HeaderParameter,
    JSONBody,
    Parameter,
    QueryParameter,
)

from app.api import openapi
from app.api.claims import attach_claim_receipt
from app.api.schemas import ConsistencyProofOut, InclusionProofOut, LedgerExportOut
from app.auth import provide_caller, request_session
from app.deps import CurrentCaller, CurrentNotary, DbSession, Id, provide_notary, settings_of
from app.errors import kept_refusal
from app.guards import public_or_member, requires
from ledger import attachments, export, log, service
from ledger.idempotency import record_entry_once
from ledger.models import Entry
from ledger.queries import entry_out, fund_out, place_out
from ledger.schemas import (
    MAX_ID,
    DisbursementIn,
    EntryIn,
    EntryOut,
    EntryPage,
    FundIn,
    FundOut,
    HeadOut,
    NewName,
    PlaceIn,
    PlaceOut,
    VerifyOut,
)
from ledger.verify import verify_group
from proposals.service import authorise_payment, committed_by_fund

JSON = "application/json"
# Litestar adds "; charset=utf-8" to text/* media types itself.
TEXT = "text/plain"


@dataclasses.dataclass(frozen=True)
class Export:
    format: str  # as ``ledger.export`` names it ("bundle": the zip)
    media_type: str
    what: str
    document: type[msgspec.Struct] | None = None  # the JSON document's type, if it is one


# File extension -> what is exported there.
EXPORTS = {
    "csv": Export("csv", "text/csv", "csv: a row per posting"),
    "json": Export("json", JSON, "json: entries as the API shows them", LedgerExportOut),
    "jsonl": Export(
        "jsonl", "application/jsonl", "jsonl: the leaves exactly as hashed, one per line"
    ),
    "journal": Export("hledger", TEXT, "an hledger journal"),
    "beancount": Export("beancount", TEXT, "a beancount file"),
    "zip": Export(
        "bundle",
        "application/zip",
        "zip: the verification bundle (leaves, checkpoints, key, journal, beancount)",
    ),
}


def export_route(extension: str) -> HTTPRouteHandler:
    """The route of one export (one each, so that each states its own content type)."""
    export_ = EXPORTS[extension]

    @get(
        f"/export.{extension}",
        guards=[public_or_member],
        media_type=export_.media_type,
        summary=f"Export the ledger as {export_.what}",
        responses=(
            {200: openapi.success(export_.document, "The export, as a download.")}
            if export_.document
            else None
        ),
    )
    async def export_ledger(
        self: Controller,
        db_session: DbSession,
        caller: CurrentCaller,
        notary: CurrentNotary,
        request: Request[Any, Any, Any],
    ) -> Response[bytes]:
        if export_.format == "bundle":
            settings = settings_of(request)
            content = await export.export_bundle(
                db_session, caller.group, notary.key.vkey(), settings.base_url, notary
            )
        else:
            content = await export.export(db_session, caller.group, export_.format)
        filename = f"{caller.group.slug}-ledger.{extension}"
        return Response(
            content,
            media_type=export_.media_type,
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    return export_ledger


class LedgerController(Controller):
    path = "/api/groups/{group:str}"
    tags = ["Ledger"]
    dependencies = {
        "caller": Provide(provide_caller, sync_to_thread=False),
    }

    @post("/funds", guards=[requires("steward")], summary="Create a fund")
    async def create_fund(
        self, db_session: DbSession, caller: CurrentCaller, data: JSONBody[FundIn]
    ) -> FundOut:
        return fund_out(await service.create_fund(db_session, caller.group, data))

    @get(
        "/funds",
        guards=[public_or_member],
        summary="Funds with their balance, committed and available money",
    )
    async def list_funds(self, db_session: DbSession, caller: CurrentCaller) -> list[FundOut]:
        committed = await committed_by_fund(db_session, caller.group)
        return [
            fund_out(fund, committed.get(fund.id, 0))
            for fund in await service.list_funds(db_session, caller.group)
        ]

    @patch(
        "/funds/{fund:str}",
        guards=[requires("steward")],
        summary="Rename a fund",
        description=(
            "`name`: 1-120 characters. Only the name changes: the slug, and so every entry, "
            "leaf and export account that names the fund, stays (pages and the exports' "
            "lists of funds show the new name). 404 for an unknown fund."
        ),
    )
    async def rename_fund(
        self,
        db_session: DbSession,
        caller: CurrentCaller,
        fund: FromPath[str],
        data: JSONBody[NewName],
    ) -> FundOut:
        renamed = await service.rename_fund(db_session, caller.group, fund, data.name)
        committed = await committed_by_fund(db_session, caller.group)
        return fund_out(renamed, committed.get(renamed.id, 0))

    @post(
        "/places",
        guards=[requires("steward")],
        summary="Add a place where the group holds money",
        description=(
            "A bank account, a PayPal account, a cash box: where money is, beside what it is "
            "for (funds). Every group has a default place (slug `bank`), which entries "
            "naming no place are in. 409 when the slug is taken."
        ),
    )
    async def create_place(
        self, db_session: DbSession, caller: CurrentCaller, data: JSONBody[PlaceIn]
    ) -> PlaceOut:
        return place_out(await service.create_place(db_session, caller.group, data))

    @get(
        "/places",
        guards=[public_or_member],
        summary="Places with what each holds (the default first)",
    )
    async def list_places(self, db_session: DbSession, caller: CurrentCaller) -> list[PlaceOut]:
        return [place_out(place) for place in await service.list_places(db_session, caller.group)]

    @patch(
        "/places/{place:str}",
        guards=[requires("steward")],
        summary="Rename a place",
        description=(
            "`name`: 1-120 characters. Only the name changes: the slug, and so every entry, "
            "leaf and export that names the place, stays. The default place is made with the "
            'group as "Bank account": a group renames it in its own words.'
        ),
    )
    async def rename_place(
        self,
        db_session: DbSession,
        caller: CurrentCaller,
        place: FromPath[str],
        data: JSONBody[NewName],
    ) -> PlaceOut:
        return place_out(await service.rename_place(db_session, caller.group, place, data.name))

    @post(
        "/entries",
        guards=[requires("steward")],
        summary="Record a donation, disbursement, transfer, move or reversal",
        description=(
            "Send an `Idempotency-Key` header to make retries safe: a retry with the same key "
            "and body answers the first outcome (success or failure) and records nothing "
            "more; the same key with another body is a 409."
        ),
        responses={201: openapi.success(EntryOut, "The entry, as recorded.")},
    )
    async def record_entry(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[EntryIn],
        idempotency_key: Annotated[
            str | None,
            HeaderParameter(name="Idempotency-Key", required=False, max_length=200, min_length=1),
        ] = None,
    ) -> Response[bytes]:
        # The caller, the notary and the session (the guard's) are read here rather than
        # injected: Litestar resolves two or more dependencies as concurrent tasks, a tenth
        # of the cost of an append, and even one costs it 1-2%.
        caller, notary = provide_caller(request), provide_notary(request.app.state)
        db_session = request_session(request)
        group, dates = caller.group, settings_of(request).date_window
        if idempotency_key is None:
            entry = await service.record_entry(
                db_session,
                group,
                data,
                recorded_by=caller.user_id,
                notary=notary,
                authority=authorise_payment,
                dates=dates,
            )
            await attach_claim_receipt(
                request, db_session, group, entry, caller.user_id, _claim_of(data)
            )
            return _recorded(entry)
        assert caller.user_id is not None  # the steward guard let a member in
        outcome = await record_entry_once(
            db_session,
            group,
            data,
            key=idempotency_key,
            caller_id=caller.user_id,
            notary=notary,
            authority=authorise_payment,
            dates=dates,
        )
        replayed = {"Idempotent-Replayed": "true"} if outcome.replayed else {}
        if outcome.refusal is not None:
            return kept_refusal(request, outcome.refusal, replayed)
        assert outcome.entry is not None
        if not outcome.replayed:
            await attach_claim_receipt(
                request, db_session, group, outcome.entry, caller.user_id, _claim_of(data)
            )
        return _recorded(outcome.entry, replayed)

    @get("/entries", guards=[public_or_member], summary="Entries, newest first")
    async def list_entries(
        self,
        db_session: DbSession,
        caller: CurrentCaller,
        fund: FromQuery[str | None] = None,
        before: Annotated[int | None, Parameter(ge=1, le=MAX_ID)] = None,
        limit: Annotated[int, Parameter(ge=1, le=service.MAX_PAGE)] = 50,
    ) -> EntryPage:
        fund_row = await service.get_fund(db_session, caller.group, fund) if fund else None
        entries, next_before = await service.list_entries(
            db_session, caller.group, fund=fund_row, before=before, limit=limit
        )
        seqs = [e.seq for e in entries]
        reversed_by = await service.reversals_of(db_session, caller.group, seqs)
        files = await attachments.by_entry(db_session, caller.group, seqs)
        return EntryPage(
            entries=[entry_out(e, reversed_by.get(e.seq), files.get(e.seq, ())) for e in entries],
            next=next_before,
        )

    @get("/entries/{seq:int}", guards=[public_or_member], summary="One entry")
    async def get_entry(self, db_session: DbSession, caller: CurrentCaller, seq: Id) -> EntryOut:
        entry = await service.get_entry(db_session, caller.group, seq)
        return entry_out(
            entry,
            await service.reversal_of(db_session, caller.group, seq),
            await attachments.attachments_of(db_session, caller.group, [seq]),
        )

    @get("/verify", guards=[public_or_member], summary="Verify the group's whole ledger")
    async def verify(self, db_session: DbSession, caller: CurrentCaller) -> VerifyOut:
        report = await verify_group(db_session, caller.group)
        return VerifyOut(
            ok=report.ok,
            entries=report.entries,
            head=HeadOut(seq=report.head_seq, hash=report.head_hash),
            first_bad_seq=report.first_bad_seq,
            problem=report.problem,
        )

    export_csv = export_route("csv")
    export_json = export_route("json")
    export_jsonl = export_route("jsonl")
    export_journal = export_route("journal")
    export_beancount = export_route("beancount")
    export_zip = export_route("zip")


def _claim_of(entry_in: EntryIn) -> int | None:
    """The claim a payment under a policy pays back, if it names one."""
    return entry_in.claim if isinstance(entry_in, DisbursementIn) else None


def _recorded(entry: Entry, headers: dict[str, str] | None = None) -> Response[bytes]:
    """201 with the entry as recorded (a replay gives the same bytes: entries never change)."""
    body = msgspec.json.encode(entry_out(entry))
    return Response(body, status_code=201, media_type=JSON, headers=headers)


class LogController(Controller):
    """What an outsider needs to check the log: checkpoints and RFC 9162 proofs."""

    path = "/api/groups/{group:str}"
    tags = ["Log"]
    dependencies = {"caller": Provide(provide_caller, sync_to_thread=False)}

    @get(
        "/checkpoint",
        guards=[public_or_member],
        media_type=TEXT,
        summary="The latest signed checkpoint (C2SP tlog-checkpoint signed note)",
        # The first checkpoint follows the first entry within the signing interval.
        raises=[ServiceUnavailableException],
        description="Signed by the instance's key, then cosigned by the group's witnesses "
        "once they answered (C2SP tlog-cosignature lines).",
    )
    async def checkpoint(self, db_session: DbSession, caller: CurrentCaller) -> str:
        return await log.published_checkpoint(db_session, caller.group)

    @get(
        "/entries/{seq:int}/proof",
        guards=[public_or_member],
        summary="RFC 9162 inclusion proof of an entry",
    )
    async def inclusion(
        self,
        db_session: DbSession,
        caller: CurrentCaller,
        seq: Id,
        size: Annotated[int | None, Parameter(ge=1, le=MAX_ID)] = None,
    ) -> InclusionProofOut:
        proof = await log.prove_inclusion(db_session, caller.group, seq, size)
        return InclusionProofOut(**dataclasses.asdict(proof))

    @get(
        "/consistency",
        guards=[public_or_member],
        summary="RFC 9162 consistency proof between two tree sizes",
    )
    async def consistency(
        self,
        db_session: DbSession,
        caller: CurrentCaller,
        first: Annotated[int, QueryParameter(name="from", ge=1, le=MAX_ID)],
        second: Annotated[int, QueryParameter(name="to", ge=1, le=MAX_ID)],
    ) -> ConsistencyProofOut:
        path = await log.prove_consistency(db_session, caller.group, first, second)
        return ConsistencyProofOut(first=first, second=second, path=path)


@get(
    "/.well-known/commonpurse-key",
    media_type=TEXT,
    tags=["Log"],
    summary="The instance's Ed25519 verifier key (C2SP vkey)",
)
async def well_known_key(notary: CurrentNotary) -> str:
    return notary.key.vkey() + "\n"
