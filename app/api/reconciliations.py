"""A place's reconciliations with its bank through the API: close one (stewards), list them
(public like the log: each is a leaf of it). The rule is ``ledger.reconciliation``'s."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import Provide
from litestar.params import FromPath, HeaderParameter, JSONBody

from app.api import openapi
from app.auth import provide_caller
from app.deps import CurrentCaller, DbSession, provide_notary
from app.errors import kept_refusal
from app.guards import public_or_member, requires
from ledger import reconciliation, service
from ledger.canonical import timestamp
from ledger.money import format_amount
from ledger.schemas import ReconciliationIn, ReconciliationOut

JSON = "application/json"


def reconciliation_out(view: reconciliation.ReconciliationView) -> ReconciliationOut:
    return ReconciliationOut(
        seq=view.seq,
        place=view.place,
        through=view.through,
        closing_balance=format_amount(view.closing_balance, view.currency),
        currency=view.currency,
        lines=view.lines,
        statement_sha256=view.sha256,
        recorded_at=timestamp(view.recorded_at),
    )


class ReconciliationController(Controller):
    path = "/api/groups/{group:str}/places/{place:str}/reconciliations"
    tags = ["Bank statements"]
    dependencies = {"caller": Provide(provide_caller, sync_to_thread=False)}

    @post(
        "/",
        guards=[requires("steward")],
        summary="Close the place's reconciliation with its bank through a day",
        description=(
            "Appends a leaf to the log naming the place, the day, the closing balance, the "
            "number of the place's statement lines booked on or before that day and the "
            "SHA-256 of the latest imported statement covering it. 422, naming the field, "
            "when the place's balance over the entries dated on or before `through` is not "
            "`closing_balance` (both figures said), when some of those lines are not "
            "matched (how many, and the first dates), when `through` is not after the "
            "place's last reconciliation (a closed one is never reopened), is still to "
            "come, or no imported statement covers it. Afterwards, entries in the place "
            "dated on or before `through` are refused (409). Send an `Idempotency-Key` "
            "header to make retries safe, as for entries."
        ),
        responses={201: openapi.success(ReconciliationOut, "The reconciliation, closed.")},
    )
    async def close(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        place: FromPath[str],
        data: JSONBody[ReconciliationIn],
        idempotency_key: Annotated[
            str | None,
            HeaderParameter(name="Idempotency-Key", required=False, max_length=200, min_length=1),
        ] = None,
    ) -> Response[bytes]:
        notary = provide_notary(request.app.state)
        if idempotency_key is None:
            view = await reconciliation.close(
                db_session,
                caller.group,
                place,
                data.through,
                data.closing_balance,
                recorded_by=caller.user_id,
                notary=notary,
            )
            return _closed(view)
        assert caller.user_id is not None  # the steward guard let a member in
        outcome = await reconciliation.close_once(
            db_session,
            caller.group,
            place,
            data.through,
            data.closing_balance,
            key=idempotency_key,
            caller_id=caller.user_id,
            notary=notary,
        )
        replayed = {"Idempotent-Replayed": "true"} if outcome.replayed else {}
        if outcome.refusal is not None:
            return kept_refusal(request, outcome.refusal, replayed)
        assert outcome.reconciliation is not None
        return _closed(outcome.reconciliation, replayed)

    @get(
        "/",
        guards=[public_or_member],
        summary="The place's reconciliations with its bank, newest first",
    )
    async def list_reconciliations(
        self, db_session: DbSession, caller: CurrentCaller, place: FromPath[str]
    ) -> list[ReconciliationOut]:
        where = await service.get_place(db_session, caller.group, place)
        views = await reconciliation.list_reconciliations(db_session, caller.group, where)
        return [reconciliation_out(view) for view in views]


def _closed(
    view: reconciliation.ReconciliationView, headers: dict[str, str] | None = None
) -> Response[bytes]:
    body = msgspec.json.encode(reconciliation_out(view))
    return Response(body, status_code=201, media_type=JSON, headers=headers or {})
