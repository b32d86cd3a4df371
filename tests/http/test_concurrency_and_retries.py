"""Money is never lost or duplicated: racing requests and retried requests."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.asgi import create_app
from app.jobs import forget_erased_pages
from ledger import groups, service
from ledger.schemas import DonationIn
from tests.support.clients import in_loop_client, racing_client, standing_policy
from tests.support.people import World, build_world, make_person

Client = AsyncTestClient[Litestar]


async def post_entry(
    client: httpx.AsyncClient, world: World, body: dict[str, Any], key: str | None = None
) -> Any:
    headers = dict(world.steward.headers)
    if key:
        headers["Idempotency-Key"] = key
    return await client.post(f"/api/groups/{world.slug}/entries", json=body, headers=headers)


async def fund_state(
    client: httpx.AsyncClient, world: World
) -> tuple[dict[str, str], dict[str, Any]]:
    funds = (await client.get(f"/api/groups/{world.slug}/funds")).json()
    verify = (await client.get(f"/api/groups/{world.slug}/verify")).json()
    return {f["slug"]: f["balance"] for f in funds}, verify


async def test_fifty_racing_payments_pay_exactly_what_the_fund_holds(
    settings: Any, world: World
) -> None:
    """Disbursements and transfers out of one fund, all at once (on PostgreSQL, each on its
    own connection): each must see the balance the one before it left."""
    async with racing_client(settings) as client:
        donation = {"kind": "donation", "fund": "rent-relief", "amount": "170.00"}
        assert (await post_entry(client, world, donation)).status_code == 201
        policy = await standing_policy(client, world, "rent-relief")
        payments: list[dict[str, Any]] = [
            {
                "kind": "disbursement",
                "fund": "rent-relief",
                "amount": "10.00",
                "counterparty": f"R-{i}",
                "policy": policy,
            }
            if i % 2
            else {
                "kind": "transfer",
                "from_fund": "rent-relief",
                "to_fund": "groceries",
                "amount": "10.00",
            }
            for i in range(50)
        ]
        responses = await asyncio.gather(*(post_entry(client, world, body) for body in payments))
        statuses = sorted(response.status_code for response in responses)
        assert statuses.count(201) == 17, [r.text for r in responses if r.status_code != 409]
        assert statuses.count(409) == 33
        transfers = sum(
            r.status_code == 201 and body["kind"] == "transfer"
            for r, body in zip(responses, payments, strict=True)
        )
        balances, verify = await fund_state(client, world)
    assert balances == {"rent-relief": "0.00", "groceries": f"{10 * transfers}.00"}
    assert verify["ok"]
    assert verify["entries"] == 18 + 1  # and the decision adopting the standing policy


async def test_racing_moves_and_payments_never_overdraw_a_place(
    settings: Any, world: World
) -> None:
    """The fund holds plenty, the cash box 50.00: moves out of it and payments from it, all at
    once, take exactly what it holds (its row is locked with the funds')."""
    async with racing_client(settings) as client:
        cash = {"slug": "cash", "name": "Cash box"}
        made = await client.post(
            f"/api/groups/{world.slug}/places", json=cash, headers=world.steward.headers
        )
        assert made.status_code == 201, made.text
        for body in (
            {"kind": "donation", "fund": "rent-relief", "amount": "500.00"},
            {"kind": "donation", "fund": "rent-relief", "amount": "50.00", "place": "cash"},
        ):
            assert (await post_entry(client, world, body)).status_code == 201
        policy = await standing_policy(client, world, "rent-relief")
        attempts: list[dict[str, Any]] = [
            {
                "kind": "disbursement",
                "fund": "rent-relief",
                "amount": "5.00",
                "place": "cash",
                "policy": policy,
            }
            if i % 2
            else {"kind": "move", "from_place": "cash", "to_place": "bank", "amount": "5.00"}
            for i in range(30)
        ]
        responses = await asyncio.gather(*(post_entry(client, world, body) for body in attempts))
        statuses = sorted(response.status_code for response in responses)
        assert statuses.count(201) == 10, [r.text for r in responses if r.status_code != 409]
        assert statuses.count(409) == 20
        places = (await client.get(f"/api/groups/{world.slug}/places")).json()
        _, verify = await fund_state(client, world)
    assert {p["slug"]: p["balance"] for p in places}["cash"] == "0.00"
    assert verify["ok"]


async def test_reversals_racing_payments_never_overdraw(settings: Any, world: World) -> None:
    """Reversals find their funds by id, payments by slug: all see the same balance."""
    async with racing_client(settings) as client:
        donation = {"kind": "donation", "fund": "rent-relief", "amount": "10.00"}
        for _ in range(10):
            assert (await post_entry(client, world, donation)).status_code == 201
        policy = await standing_policy(client, world, "rent-relief")
        payment = {
            "kind": "disbursement",
            "fund": "rent-relief",
            "amount": "10.00",
            "policy": policy,
        }
        bodies: list[dict[str, Any]] = []
        for seq in range(1, 11):
            bodies += [{"kind": "reversal", "reverses": seq, "memo": "It bounced"}, payment]
        responses = await asyncio.gather(*(post_entry(client, world, body) for body in bodies))
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [201] * 10 + [409] * 10, [r.text for r in responses]
        balances, verify = await fund_state(client, world)
    assert balances["rent-relief"] == "0.00"
    assert verify["ok"]
    assert verify["entries"] == 20 + 1  # and the decision adopting the standing policy


async def test_racing_payments_of_one_proposal_pay_it_once(settings: Any, world: World) -> None:
    """The fund could pay them all: only what the proposal has left to pay stops them."""
    async with racing_client(settings) as client:
        donation = {"kind": "donation", "fund": "rent-relief", "amount": "5000.00"}
        assert (await post_entry(client, world, donation)).status_code == 201
        proposals = f"/api/groups/{world.slug}/proposals"
        proposal = {"title": "Rent for R-17", "fund": "rent-relief", "amount": "300.00"}
        created = await client.post(proposals, json=proposal, headers=world.member.headers)
        assert created.status_code == 201, created.text
        for person in (world.admin, world.steward, world.facilitator, world.member):
            agreed = await client.post(
                f"{proposals}/1/responses", json={"position": "agree"}, headers=person.headers
            )
            assert agreed.status_code == 201, agreed.text
        payment = {"kind": "disbursement", "fund": "rent-relief", "amount": "300.00", "proposal": 1}
        responses = await asyncio.gather(*(post_entry(client, world, payment) for _ in range(10)))
        assert sorted(r.status_code for r in responses) == [201] + [409] * 9
        balances, verify = await fund_state(client, world)
    assert balances["rent-relief"] == "4700.00"
    assert verify["ok"]


async def test_a_retry_with_the_same_key_records_once_and_answers_the_same(
    client: Client, world: World
) -> None:
    body = {"kind": "donation", "fund": "groceries", "amount": "25.00", "memo": "Street fair"}
    first = await post_entry(client, world, body, key="gift-2026-11-25-1")
    again = await post_entry(client, world, body, key="gift-2026-11-25-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    balances, verify = await fund_state(client, world)
    assert balances["groceries"] == "25.00"
    assert verify["entries"] == 1


async def test_the_same_key_with_another_body_is_refused(client: Client, world: World) -> None:
    body = {"kind": "donation", "fund": "groceries", "amount": "25.00"}
    assert (await post_entry(client, world, body, key="k-1")).status_code == 201
    other = await post_entry(client, world, {**body, "amount": "26.00"}, key="k-1")
    assert other.status_code == 409
    assert "Idempotency-Key" in other.json()["detail"]
    balances, _ = await fund_state(client, world)
    assert balances["groceries"] == "25.00"


async def test_a_refusal_is_the_first_outcome_and_is_replayed(client: Client, world: World) -> None:
    policy = await standing_policy(client, world, "groceries")
    pay = {"kind": "disbursement", "fund": "groceries", "amount": "5.00", "policy": policy}
    refused = await post_entry(client, world, pay, key="pay-1")
    assert refused.status_code == 409
    assert refused.json()["errors"][0]["field"] == "amount"  # the fund is empty
    await post_entry(client, world, {"kind": "donation", "fund": "groceries", "amount": "50.00"})
    # The fund could pay now, but a retry must answer what the first attempt got.
    retried = await post_entry(client, world, pay, key="pay-1")
    assert retried.status_code == 409
    assert retried.json() == refused.json()
    balances, verify = await fund_state(client, world)
    assert balances["groceries"] == "50.00"
    assert verify["entries"] == 1 + 1  # and the decision adopting the standing policy


async def test_racing_retries_with_one_key_record_once(settings: Any, world: World) -> None:
    """Ten retries with one key race each other and ten appends without a key: the retries
    record once, and nothing deadlocks (a retry locks the log before it records)."""
    body = {"kind": "donation", "fund": "groceries", "amount": "3.00"}
    other = {"kind": "donation", "fund": "groceries", "amount": "1.00"}
    async with racing_client(settings) as client:
        responses = await asyncio.gather(
            *(
                post_entry(client, world, body, key="same-key")
                if i % 2
                else post_entry(client, world, other)
                for i in range(20)
            )
        )
        assert [r.status_code for r in responses] == [201] * 20, [r.text for r in responses]
        assert len({r.json()["hash"] for r in responses[1::2]}) == 1
        balances, verify = await fund_state(client, world)
    assert balances["groceries"] == "13.00"
    assert verify["ok"]
    assert verify["entries"] == 11


async def test_keys_belong_to_their_group(client: Client, world: World, session: Any) -> None:
    from tests.support.people import build_world

    other = await build_world(session, slug="other-fund")
    body = {"kind": "donation", "fund": "groceries", "amount": "3.00"}
    assert (await post_entry(client, world, body, key="shared")).status_code == 201
    response = await client.post(
        f"/api/groups/{other.slug}/entries",
        json=body,
        headers={**other.steward.headers, "Idempotency-Key": "shared"},
    )
    assert response.status_code == 201
    assert response.json()["seq"] == 1


async def test_an_append_waiting_for_the_log_lock_holds_no_fund_lock(
    settings: Any, world: World, session: Any
) -> None:
    """Some writers take the log lock first and record afterwards (an Idempotency-Key, a
    web form): an append waiting for that lock meanwhile must hold none of the group's fund
    rows, or the two wait for each other (a deadlock, one of them a 500)."""
    async with racing_client(settings) as client:
        await service.lock_log(session, world.group)
        racing = asyncio.create_task(
            post_entry(client, world, {"kind": "donation", "fund": "groceries", "amount": "2.00"})
        )
        await asyncio.sleep(0.5)
        assert not racing.done()  # it waits for the log lock
        await service.record_entry(
            session, world.group, DonationIn(fund="groceries", amount="3.00"), recorded_by=None
        )
        await session.commit()
        response = await racing
        assert response.status_code == 201, response.text
        balances, verify = await fund_state(client, world)
    assert balances["groceries"] == "5.00"
    assert verify["ok"]
    assert verify["entries"] == 2


async def test_appends_racing_a_wal_checkpoint_all_record(settings: Any) -> None:
    """An erasure ends with a WAL checkpoint that takes SQLite's write lock for a moment;
    appends arriving then wait for it and record, instead of failing."""
    app = create_app(settings)
    async with in_loop_client(app) as client:
        async with app.state.alchemy_config.get_session() as session:
            world = await build_world(session)
        engine = app.state.alchemy_config.get_engine()

        async def append() -> None:
            for _ in range(40):
                response = await client.post(
                    f"/api/groups/{world.slug}/entries",
                    headers=world.steward.headers,
                    json={"kind": "donation", "fund": "rent-relief", "amount": "1.00"},
                )
                assert response.status_code == 201, response.text

        async def checkpoints() -> None:
            while True:
                await forget_erased_pages(engine)
                await asyncio.sleep(0.01)

        checkpointing = asyncio.create_task(checkpoints())
        try:
            await asyncio.gather(*(append() for _ in range(4)))
        finally:
            checkpointing.cancel()
        verified = (await client.get(f"/api/groups/{world.slug}/verify")).json()
    assert verified["ok"]
    assert verified["entries"] == 160


async def test_a_key_is_the_callers_own_and_another_stewards_equal_key_records_anew(
    client: Client, world: World, session: AsyncSession
) -> None:
    second = await make_person(session, "second-steward")
    await groups.add_member(session, world.group, second.user, ["steward"])
    await session.commit()
    body = {"kind": "donation", "fund": "groceries", "amount": "7.00"}
    mine = await post_entry(client, world, body, key="till-42")
    theirs = await client.post(
        f"/api/groups/{world.slug}/entries",
        json=body,
        headers={**second.headers, "Idempotency-Key": "till-42"},
    )
    assert mine.status_code == theirs.status_code == 201
    assert (mine.json()["seq"], theirs.json()["seq"]) == (1, 2)
    assert "Idempotent-Replayed" not in theirs.headers
    again = await post_entry(client, world, body, key="till-42")
    assert again.json() == mine.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    balances, _ = await fund_state(client, world)
    assert balances["groceries"] == "14.00"


async def test_an_answer_is_never_sent_for_work_the_database_did_not_keep(
    client: Client, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A commit that fails (the disk full, the server gone) answers 500, not the 201 the
    handler had prepared, and keeps nothing; the retry with the same key then records once."""
    real_commit = AsyncSession.commit
    failures = [RuntimeError("the disk is full")]

    async def commit_that_fails_once(self: AsyncSession) -> None:
        if failures:
            raise failures.pop()
        await real_commit(self)

    monkeypatch.setattr(AsyncSession, "commit", commit_that_fails_once)
    body = {"kind": "donation", "fund": "groceries", "amount": "9.00"}
    failed = await post_entry(client, world, body, key="lost-answer")
    assert failed.status_code == 500
    assert failed.headers["content-type"] == "application/problem+json"
    assert "safe to send the request again" in failed.json()["detail"]
    _, verify = await fund_state(client, world)
    assert verify["entries"] == 0
    retried = await post_entry(client, world, body, key="lost-answer")
    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried.headers
    balances, verify = await fund_state(client, world)
    assert balances["groceries"] == "9.00"
    assert verify["ok"]
    assert verify["entries"] == 1
