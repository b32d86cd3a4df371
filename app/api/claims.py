"""Reimbursements through the API: a member files a claim with its receipt.

The claim and its receipt travel together (multipart: the fields of ``ClaimIn`` and the
file ``file``), because a claim without a receipt is not filed. The receipt is cleaned and
kept as attached receipts are (``app.api.attachments``); it is attached to the payment
when a steward records it under the claim's proposal (``attach_claim_receipt``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import anyio
import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import Provide
from litestar.enums import RequestEncodingType
from litestar.params import Body
from sqlalchemy.ext.asyncio import AsyncSession

from app.api import openapi
from app.api.attachments import FORM_ROOM, cleaned, keep, read_upload, store_of
from app.auth import provide_caller
from app.deps import CurrentCaller, DbSession
from app.guards import requires
from ledger import attachments
from ledger.cleaning import CleanFile
from ledger.errors import Conflict, InvalidInput
from ledger.models import Entry, Group
from proposals import claims
from proposals.schemas import ClaimIn, ClaimOut

JSON = "application/json"


@dataclass
class ClaimUpload:
    """The multipart body: what the claim is for, and its receipt under ``file``."""

    fund: str
    amount: str
    what_for: str
    file: UploadFile
    body: str = ""
    policy: str = ""  # a policy in force that pays reimbursements (its number)


def claim_in(fields: dict[str, Any]) -> ClaimIn:
    """The claim's fields as the JSON API would take them (422 naming the field)."""
    try:
        return msgspec.convert(fields, ClaimIn)
    except msgspec.ValidationError as error:
        message, _, where = str(error).partition(" - at `$.")
        raise InvalidInput(message, field=where.removesuffix("`") or None) from error


def policy_number(text: str) -> int | str:
    """The form's ``policy`` as a number ("2" or "#2"); other text stays text, for
    ``claim_in`` to refuse naming the field."""
    text = text.strip().lstrip("#")
    # isascii: "²" is a digit to ``isdigit`` but not to ``int``.
    return int(text) if text.isascii() and text.isdigit() and len(text) < 11 else text


def claims_controller(limit: int) -> type[Controller]:
    """The claims' route, with the instance's size limit for the receipt."""

    class ClaimController(Controller):
        path = "/api/groups/{group:str}/claims"
        tags = ["Reimbursements"]
        dependencies = {"caller": Provide(provide_caller, sync_to_thread=False)}

        @post(
            guards=[requires("member")],
            summary="File a claim to be paid back what you paid for the group",
            description=(
                "Multipart form: `fund`, `amount` (a decimal string), `what_for`, optional "
                "`body`, optional `policy`, and the receipt as `file` (PDF, PNG, JPEG or "
                "WebP; required, cleaned of its metadata like any receipt). Without "
                "`policy` it opens a disbursement proposal to the member's pseudonym "
                "(`M-<membership id>`); the member's own response does not count on it. "
                "With `policy` (a spending policy in force that pays reimbursements, from "
                "this fund, at most its most per payment) no proposal is opened: a steward "
                "pays the claim under the policy (`POST .../entries` with `policy` and "
                "`claim`: the claim's `id`), never the claimant. The receipt is attached "
                "to the payment when a steward records it."
            ),
            request_max_body_size=limit + FORM_ROOM,
            responses={
                201: openapi.success(ClaimOut, "The claim and the proposal it opened."),
                413: openapi.problem(413, "The receipt is larger than the instance accepts."),
                415: openapi.problem(415, "The receipt is not a PDF, PNG, JPEG or WebP."),
            },
        )
        async def file_claim(
            self,
            request: Request[Any, Any, Any],
            db_session: DbSession,
            caller: CurrentCaller,
            data: Annotated[ClaimUpload, Body(media_type=RequestEncodingType.MULTI_PART)],
        ) -> Response[bytes]:
            fields: dict[str, Any] = {
                "fund": data.fund,
                "amount": data.amount,
                "what_for": data.what_for,
                "body": data.body,
            }
            if data.policy:
                fields["policy"] = policy_number(data.policy)
            claim = claim_in(fields)
            receipt = await cleaned(await read_upload(data.file, limit))
            proposal, filed = await claims.file_claim(
                db_session, caller.group, caller.logged_in_user, claim, receipt
            )
            await keep(store_of(request), receipt)
            body = msgspec.json.encode(claims.claim_out(proposal, filed))
            return Response(body, status_code=201, media_type=JSON)

        @get(
            guards=[requires("member")],
            summary="The group's claims, newest first",
            description=(
                "Each claim with its proposal's number and status, the pseudonym it is paid "
                "to, and its receipt's SHA-256, type and size. Members only: a claim names "
                "no one, but what members paid out of pocket is the group's business."
            ),
        )
        async def list_claims(self, db_session: DbSession, caller: CurrentCaller) -> list[ClaimOut]:
            return await claims.list_claims(db_session, caller.group)

    return ClaimController


async def attach_claim_receipt(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    group: Group,
    entry: Entry,
    recorded_by: int | None,
    claim_id: int | None = None,
) -> None:
    """A payment under a claim's proposal, or under a policy naming the claim (``claim_id``),
    carries the claim's receipt (a leaf of its own, as any attached receipt); the same
    receipt is attached once to each payment."""
    claim = await claims.receipt_to_attach(session, group, entry, claim_id)
    if claim is None or claim.receipt_erased_at is not None:
        return  # (an erased receipt is not attached again: its file is gone)
    try:
        content = await anyio.to_thread.run_sync(store_of(request).get, claim.sha256)
    except FileNotFoundError:
        raise Conflict(
            f"The receipt of this claim ({claim.sha256}) is not in this instance's store; "
            "restore it from a backup of the files before recording the payment."
        ) from None
    await attachments.attach(
        session,
        group,
        entry.seq,
        CleanFile(content=content, content_type=claim.content_type),
        recorded_by=recorded_by,
        notary=request.app.state.notary,
    )
