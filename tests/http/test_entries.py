"""Recording money through the API: every kind of entry and the balances after each."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import World

Client = AsyncTestClient[Litestar]


async def balances(client: Client, world: World) -> dict[str, str]:
    response = await client.get(f"/api/groups/{world.slug}/funds", headers=world.member.headers)
    assert response.status_code == 200
    return {fund["slug"]: fund["balance"] for fund in response.json()}


async def record(client: Client, world: World, body: dict[str, Any], **headers: str) -> Any:
    return await client.post(
        f"/api/groups/{world.slug}/entries", json=body, headers={**world.steward.headers, **headers}
    )


async def test_every_entry_kind_moves_the_balances_it_should(client: Client, world: World) -> None:
    donation = await record(
        client,
        world,
        {
            "kind": "donation",
            "fund": "rent-relief",
            "amount": "500.00",
            "memo": "Benefit gig",
            "counterparty": "Bakery on 5th",
        },
    )
    assert donation.status_code == 201, donation.text
    body = donation.json()
    assert body["seq"] == 1
    assert body["prev_hash"] == "0" * 64
    assert [(p["account"], p["amount"]) for p in body["postings"]] == [
        ("Assets:Holding:Rent-relief", "500.00"),
        ("Income:Donations:Rent-relief", "-500.00"),
    ]
    assert await balances(client, world) == {"rent-relief": "500.00", "groceries": "0.00"}

    paid = await record(
        client,
        world,
        {"kind": "disbursement", "fund": "rent-relief", "amount": "120.50", "counterparty": "R-17"},
    )
    assert paid.status_code == 201, paid.text
    assert paid.json()["prev_hash"] == body["hash"]
    assert await balances(client, world) == {"rent-relief": "379.50", "groceries": "0.00"}

    moved = await record(
        client,
        world,
        {"kind": "transfer", "from_fund": "rent-relief", "to_fund": "groceries", "amount": "79.50"},
    )
    assert moved.status_code == 201, moved.text
    assert await balances(client, world) == {"rent-relief": "300.00", "groceries": "79.50"}

    undone = await record(
        client, world, {"kind": "reversal", "reverses": 2, "memo": "Paid twice by mistake"}
    )
    assert undone.status_code == 201, undone.text
    assert undone.json()["reverses"] == 2
    assert await balances(client, world) == {"rent-relief": "420.50", "groceries": "79.50"}

    page = await client.get(f"/api/groups/{world.slug}/entries", headers=world.member.headers)
    assert [e["seq"] for e in page.json()["entries"]] == [4, 3, 2, 1]
    assert page.json()["entries"][2]["reversed_by"] == 4

    verify = await client.get(f"/api/groups/{world.slug}/verify", headers=world.member.headers)
    assert verify.json() == {
        "ok": True,
        "entries": 4,
        "head": {"seq": 4, "hash": undone.json()["hash"]},
        "first_bad_seq": None,
        "problem": None,
    }


async def test_disbursement_beyond_the_fund_is_refused_and_records_nothing(
    client: Client, world: World
) -> None:
    await record(client, world, {"kind": "donation", "fund": "groceries", "amount": "10.00"})
    refused = await record(
        client, world, {"kind": "disbursement", "fund": "groceries", "amount": "10.01"}
    )
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "groceries" in refused.json()["detail"].lower()
    assert await balances(client, world) == {"rent-relief": "0.00", "groceries": "10.00"}


async def test_second_reversal_of_an_entry_is_refused(client: Client, world: World) -> None:
    await record(client, world, {"kind": "donation", "fund": "groceries", "amount": "10.00"})
    first = await record(client, world, {"kind": "reversal", "reverses": 1, "memo": "Bounced"})
    assert first.status_code == 201
    second = await record(client, world, {"kind": "reversal", "reverses": 1, "memo": "Again"})
    assert second.status_code == 409
    reversal_of_reversal = await record(
        client, world, {"kind": "reversal", "reverses": 2, "memo": "Undo the undo"}
    )
    assert reversal_of_reversal.status_code == 409


async def test_keyset_pages_walk_every_entry_once(client: Client, world: World) -> None:
    for amount in range(1, 8):
        await record(
            client, world, {"kind": "donation", "fund": "groceries", "amount": f"{amount}.00"}
        )
    await record(client, world, {"kind": "donation", "fund": "rent-relief", "amount": "1.00"})
    seen: list[int] = []
    url = f"/api/groups/{world.slug}/entries?fund=groceries&limit=3"
    while url:
        page = (await client.get(url)).json()
        seen += [entry["seq"] for entry in page["entries"]]
        url = (
            f"/api/groups/{world.slug}/entries?fund=groceries&limit=3&before={page['next']}"
            if page["next"]
            else ""
        )
    assert seen == [7, 6, 5, 4, 3, 2, 1]


async def test_a_group_without_funds_records_nothing_and_says_which_fund_is_missing(
    client: Client, world: World
) -> None:
    created = await client.post(
        "/api/groups",
        json={"slug": "new-pod", "name": "New pod", "currency": "EUR"},
        headers=world.steward.headers,
    )
    assert created.status_code == 201, created.text
    donation = await client.post(
        "/api/groups/new-pod/entries",
        json={"kind": "donation", "fund": "rent-relief", "amount": "5.00"},
        headers=world.steward.headers,
    )
    assert donation.status_code == 422, donation.text
    assert "has no fund 'rent-relief'" in donation.json()["detail"]
    entries = await client.get("/api/groups/new-pod/entries", headers=world.steward.headers)
    assert entries.json()["entries"] == []
    verified = await client.get("/api/groups/new-pod/verify", headers=world.steward.headers)
    assert verified.json()["entries"] == 0
