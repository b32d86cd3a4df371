"""Witnesses, both ways.

This instance as a witness (C2SP tlog-witness): ``POST /witness/add-checkpoint`` cosigns a
checkpoint of a log it trusts once the checkpoint is proved consistent with the last one it
cosigned, and ``GET /witness/<sha256 of origin>/checkpoint`` shows that last one.
A group's log and its witnesses: ``GET|POST /api/groups/{group}/witnesses`` (admins).

The answers are the specification's: the cosignature lines (200), a problem document saying
why (400, 403, 404, 422: the specification gives their statuses, not their bodies), and for
a 409 the size of the latest cosigned checkpoint as ``text/x.tlog.size``, which is the one
body it prescribes. The new state is committed before the cosignature leaves.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import NotFoundException
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Operation
from litestar.params import JSONBody, Parameter

from app.api.openapi import problem
from app.api.schemas import WitnessIn, WitnessOut
from app.auth import provide_caller
from app.deps import CurrentCaller, DbSession
from app.errors import problem_response
from app.guards import requires
from ledger import witnesses
from ledger.cosignature import CosigningKey
from ledger.models import GroupWitness
from ledger.witness import SIZE_MEDIA_TYPE, WitnessRefusal

TEXT = "text/plain"
MAX_BODY = 64 * 1024  # a checkpoint, 63 hashes and signatures: a few kilobytes


@dataclass
class WitnessOperation(Operation):
    """Documented as the specification answers: its 409 is not a problem document."""


def _text(description: str, media_type: str = TEXT) -> ResponseSpec:
    return ResponseSpec(
        str, description=description, media_type=media_type, generate_examples=False
    )


def cosigning_key(state: State) -> CosigningKey:
    key: CosigningKey = state.cosigning_key
    return key


class WitnessController(Controller):
    path = "/witness"
    tags = ["Witness"]

    @post(
        "/add-checkpoint",
        media_type=TEXT,
        status_code=200,
        operation_class=WitnessOperation,
        request_max_body_size=MAX_BODY,
        summary="Cosign a checkpoint of a log this instance witnesses (C2SP tlog-witness)",
        description="The body: `old <size>` (the size this witness last cosigned for the "
        "log, 0 the first time), up to 63 lines of a base64 consistency proof from that size, "
        "an empty line, and the log's signed checkpoint. The answer: this witness's "
        "`cosignature/v1` line (Ed25519, C2SP tlog-cosignature).",
        responses={
            200: _text("The cosignature lines."),
            400: problem(400, "The body is malformed, or the old size is larger than the new."),
            403: problem(403, "No valid signature by a key trusted for the checkpoint's origin."),
            404: problem(404, "This witness does not witness the checkpoint's origin."),
            409: _text(
                "The old size is not the size this witness last cosigned: the body is that "
                "size in decimal, and a newline.",
                SIZE_MEDIA_TYPE,
            ),
            422: problem(
                422,
                "The checkpoint is not consistent with the one this witness cosigned: a "
                "failed proof, or another root for the same size.",
            ),
        },
    )
    async def add_checkpoint(
        self, request: Request[Any, Any, Any], db_session: DbSession
    ) -> Response[Any]:
        body = await request.body()
        key = cosigning_key(request.app.state)
        try:
            line = await witnesses.add_checkpoint(db_session, key, body, datetime.now(UTC))
        except WitnessRefusal as refusal:
            if refusal.status == 409:
                # Exactly this type: no charset parameter (the size is ASCII digits).
                return Response(
                    f"{refusal.size}\n",
                    status_code=409,
                    media_type=SIZE_MEDIA_TYPE,
                    headers={"content-type": SIZE_MEDIA_TYPE},
                )
            return problem_response(refusal.status, refusal.message)
        return Response(line, status_code=200, media_type=TEXT)

    @get(
        "/{origin_hash:str}/checkpoint",
        media_type=TEXT,
        summary="The latest checkpoint this witness cosigned for a log",
        description="`origin_hash` is the SHA-256 of the log's origin line, in lowercase hex. "
        "The checkpoint carries the log's signatures and this witness's cosignature.",
    )
    async def latest(
        self,
        db_session: DbSession,
        origin_hash: Annotated[str, Parameter(pattern="^[0-9a-f]{64}$")],
    ) -> Response[str]:
        for log in await witnesses.witnessed_logs(db_session):
            if hashlib.sha256(log.origin.encode()).hexdigest() == origin_hash and log.note:
                return Response(log.note, media_type=TEXT)
        raise NotFoundException("This witness has cosigned no checkpoint of that log.")


def witness_out(witness: GroupWitness) -> WitnessOut:
    return WitnessOut(
        id=witness.id,
        name=witness.name,
        url=witness.url,
        vkey=witness.vkey,
        added_at=witness.added_at,
        cosigned_size=witness.cosigned_size,
        cosigned_at=witness.cosigned_at,
        last_attempt_at=witness.last_attempt_at,
        answering=witness.last_error is None,
        last_error=witness.last_error,
        failures=witness.failures,
    )


class GroupWitnessController(Controller):
    """The witnesses a group's log asks to cosign its checkpoints (admins)."""

    path = "/api/groups/{group:str}/witnesses"
    tags = ["Log"]
    dependencies = {"caller": Provide(provide_caller, sync_to_thread=False)}

    @post(
        "/",
        guards=[requires("admin")],
        summary="Have the group's log ask a witness to cosign its checkpoints",
        description="From then on, the instance sends the witness each new checkpoint with a "
        "consistency proof (in the background, a round every few seconds at most), and "
        "publishes its cosignatures with the checkpoint.",
    )
    async def add(
        self, db_session: DbSession, caller: CurrentCaller, data: JSONBody[WitnessIn]
    ) -> WitnessOut:
        witness = await witnesses.add_witness(
            db_session, caller.group, data.url, data.vkey, datetime.now(UTC)
        )
        return witness_out(witness)

    @get(
        "/",
        guards=[requires("admin")],
        summary="The group's witnesses and the size each last cosigned",
    )
    async def list_witnesses(
        self, db_session: DbSession, caller: CurrentCaller
    ) -> list[WitnessOut]:
        return [witness_out(w) for w in await witnesses.group_witnesses(db_session, caller.group)]
