"""Money is never lost or duplicated: racing requests and retried requests."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.asgi import create_app
from app.jobs import forget_erased_pages
from tests.conftest import World, build_world

Client = AsyncTestClient[Litestar]


async def post_entry(
    client: Client, world: World, body: dict[str, Any], key: str | None = None
) -> Any:
    headers = dict(world.steward.headers)
    if key:
        headers["Idempotency-Key"] = key
    return await client.post(f"/api/groups/{world.slug}/entries", json=body, headers=headers)


async def fund_state(client: Client, world: World) -> tuple[dict[str, str], dict[str, Any]]:
    funds = (await client.get(f"/api/groups/{world.slug}/funds")).json()
    verify = (await client.get(f"/api/groups/{world.slug}/verify")).json()
    return {f["slug"]: f["balance"] for f in funds}, verify


async def test_fifty_racing_disbursements_pay_exactly_what_the_fund_holds(
    client: Client, world: World
) -> None:
    assert (
        await post_entry(
            client, world, {"kind": "donation", "fund": "rent-relief", "amount": "170.00"}
        )
    ).status_code == 201
    responses = await asyncio.gather(
        *(
            post_entry(
                client,
                world,
                {
                    "kind": "disbursement",
                    "fund": "rent-relief",
                    "amount": "10.00",
                    "counterparty": f"R-{i}",
                },
            )
            for i in range(50)
        )
    )
    statuses = sorted(response.status_code for response in responses)
    assert statuses.count(201) == 17
    assert statuses.count(409) == 33
    balances, verify = await fund_state(client, world)
    assert balances["rent-relief"] == "0.00"
    assert verify["ok"]
    assert verify["entries"] == 18


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
    pay = {"kind": "disbursement", "fund": "groceries", "amount": "5.00"}
    refused = await post_entry(client, world, pay, key="pay-1")
    assert refused.status_code == 409
    await post_entry(client, world, {"kind": "donation", "fund": "groceries", "amount": "50.00"})
    # The fund could pay now, but a retry must answer what the first attempt got.
    retried = await post_entry(client, world, pay, key="pay-1")
    assert retried.status_code == 409
    assert retried.json() == refused.json()
    balances, verify = await fund_state(client, world)
    assert balances["groceries"] == "50.00"
    assert verify["entries"] == 1


async def test_racing_retries_with_one_key_record_once(client: Client, world: World) -> None:
    body = {"kind": "donation", "fund": "groceries", "amount": "3.00"}
    responses = await asyncio.gather(
        *(post_entry(client, world, body, key="same-key") for _ in range(10))
    )
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["hash"] for r in responses}) == 1
    balances, verify = await fund_state(client, world)
    assert balances["groceries"] == "3.00"
    assert verify["entries"] == 1


async def test_keys_belong_to_their_group(client: Client, world: World, session: Any) -> None:
    from tests.conftest import build_world

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



async def test_appends_racing_a_wal_checkpoint_all_record(settings: Any) -> None:
    """An erasure ends with a WAL checkpoint that takes SQLite's write lock for a moment;
    appends arriving then wait for it and record, instead of failing."""
    app = create_app(settings)
    async with app.lifespan():
        async with app.state.alchemy_config.get_session() as session:
            world = await build_world(session)
        engine = app.state.alchemy_config.get_engine()
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
            base_url="http://testserver.local",
        ) as client:

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
