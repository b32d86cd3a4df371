"""Recording money through the API: every kind of entry and the balances after each."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.asgi import create_app
from app.settings import Settings
from ledger.models import Fund
from ledger.money import MAX_BALANCE
from tests.support.clients import standing_policy
from tests.support.people import World

Client = AsyncTestClient[Litestar]


async def balances(client: Client, world: World) -> dict[str, str]:
    response = await client.get(f"/api/groups/{world.slug}/funds", headers=world.member.headers)
    assert response.status_code == 200
    return {fund["slug"]: fund["balance"] for fund in response.json()}


async def record(client: Client, world: World, body: dict[str, Any], **headers: str) -> Any:
    """The API's answer; a payment that names no decision is made under a standing policy."""
    if body["kind"] == "disbursement" and "proposal" not in body and "policy" not in body:
        body = {**body, "policy": await standing_policy(client, world, body["fund"])}
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
    # The policy it is paid under was adopted in between: a decision, entry 2 of the log.
    decision = (await client.get(f"/api/groups/{world.slug}/entries/2")).json()
    assert decision["kind"] == "decision"
    assert decision["prev_hash"] == body["hash"]
    assert paid.json()["prev_hash"] == decision["hash"]
    assert await balances(client, world) == {"rent-relief": "379.50", "groceries": "0.00"}

    moved = await record(
        client,
        world,
        {"kind": "transfer", "from_fund": "rent-relief", "to_fund": "groceries", "amount": "79.50"},
    )
    assert moved.status_code == 201, moved.text
    assert await balances(client, world) == {"rent-relief": "300.00", "groceries": "79.50"}

    undone = await record(
        client, world, {"kind": "reversal", "reverses": 3, "memo": "Paid twice by mistake"}
    )
    assert undone.status_code == 201, undone.text
    assert undone.json()["reverses"] == 3
    assert await balances(client, world) == {"rent-relief": "420.50", "groceries": "79.50"}

    page = await client.get(f"/api/groups/{world.slug}/entries", headers=world.member.headers)
    assert [e["seq"] for e in page.json()["entries"]] == [5, 4, 3, 2, 1]
    assert page.json()["entries"][2]["reversed_by"] == 5

    verify = await client.get(f"/api/groups/{world.slug}/verify", headers=world.member.headers)
    assert verify.json() == {
        "ok": True,
        "entries": 5,
        "head": {"seq": 5, "hash": undone.json()["hash"]},
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


async def test_a_date_outside_the_window_is_refused_and_records_nothing(
    client: Client, world: World
) -> None:
    for day in ("9999-12-31", "1969-12-31"):
        refused = await record(
            client,
            world,
            {"kind": "donation", "fund": "groceries", "amount": "1.00", "occurred_on": day},
        )
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["field"] == "occurred_on"
        assert "outside the dates the ledger accepts: from 1970-01-01" in refused.json()["detail"]
    recorded = await record(
        client,
        world,
        {"kind": "donation", "fund": "groceries", "amount": "1.00", "occurred_on": "1970-01-01"},
    )
    assert recorded.status_code == 201, recorded.text
    assert recorded.json()["seq"] == 1  # the refusals took no place in the log


async def test_the_window_of_dates_is_the_instances_setting(
    settings: Settings, world: World
) -> None:
    narrow = replace(settings, earliest_date=date(2020, 1, 1), max_days_ahead=0)
    async with AsyncTestClient(app=create_app(narrow), base_url="http://testserver.local") as c:
        old = await record(
            c,
            world,
            {
                "kind": "donation",
                "fund": "groceries",
                "amount": "1.00",
                "occurred_on": "2019-12-31",
            },
        )
        assert old.status_code == 422
        tomorrow = (datetime.now(UTC).date() + timedelta(days=1)).isoformat()
        ahead = await record(
            c,
            world,
            {"kind": "donation", "fund": "groceries", "amount": "1.00", "occurred_on": tomorrow},
        )
        assert ahead.status_code == 422
        statement = await c.get(f"/g/{world.slug}/audit.pdf?from=2019-06-01")
        assert statement.status_code == 422
        assert statement.json()["errors"][0]["field"] == "from"


async def test_a_fund_is_never_taken_beyond_the_balance_limit_and_nothing_is_recorded(
    client: Client, world: World, session: AsyncSession
) -> None:
    # A fund a little below the limit, as 999 of the largest donations would leave it.
    await session.execute(
        update(Fund)
        .where(Fund.group_id == world.group.id, Fund.slug == "groceries")
        .values(balance=MAX_BALANCE - 100)
    )
    await session.commit()
    refused = await record(
        client, world, {"kind": "donation", "fund": "groceries", "amount": "1.01"}
    )
    assert refused.status_code == 409, refused.text
    assert refused.json()["errors"][0]["field"] == "amount"
    assert "cannot hold more than 10000000000000000.00 EUR" in refused.json()["detail"]
    funds = (await client.get(f"/api/groups/{world.slug}/funds")).json()
    assert {f["slug"]: f["balance"] for f in funds}["groceries"] == "9999999999999999.00"
    entries = (await client.get(f"/api/groups/{world.slug}/entries")).json()
    assert entries["entries"] == []
    exact = await record(client, world, {"kind": "donation", "fund": "groceries", "amount": "1.00"})
    assert exact.status_code == 201, exact.text


async def test_verify_names_a_stored_balance_beyond_the_bounds_and_pages_still_answer(
    client: Client, world: World, session: AsyncSession, settings: Settings
) -> None:
    # What 9,300 donations of 10,000,000,000,000.00 did before the limit: SQLite stored the
    # overflowing sum as a float. PostgreSQL cannot store that; a balance beyond the
    # ledger's bounds stands in for it there.
    broken = 9.3e18 if settings.is_sqlite else MAX_BALANCE + 1
    await session.execute(
        update(Fund)
        .where(Fund.group_id == world.group.id, Fund.slug == "groceries")
        .values(balance=broken)
    )
    await session.commit()
    report = (await client.get(f"/api/groups/{world.slug}/verify")).json()
    assert report["ok"] is False
    assert "stored balance of fund 'groceries' is not a whole number" in report["problem"]
    for path in (f"/g/{world.slug}", f"/api/groups/{world.slug}/funds", f"/m/{world.slug}"):
        response = await client.get(path, headers={**world.steward.headers, "Accept": "text/html"})
        assert response.status_code == 200, path
    funds = (await client.get(f"/api/groups/{world.slug}/funds")).json()
    assert "e" not in {f["slug"]: f["balance"] for f in funds}["groceries"]


async def test_documents_answer_404_or_422_for_numbers_and_days_no_ledger_holds(
    client: Client, world: World
) -> None:
    await record(client, world, {"kind": "donation", "fund": "groceries", "amount": "1.00"})
    for path in (
        f"/g/{world.slug}/entries/9223372036854775808/receipt.pdf",
        f"/g/{world.slug}/entries/0/receipt.pdf",
        f"/api/groups/{world.slug}/entries/9223372036854775808",
        f"/g/{world.slug}/proposals/9223372036854775808.pdf",
    ):
        assert (await client.get(path)).status_code == 404, path
    # Proposal numbers are 32 bits, as their columns (PostgreSQL answered 500 beyond).
    member_page = await client.get(
        f"/m/{world.slug}/proposals/2147483648",
        headers={**world.steward.headers, "Accept": "text/html"},
    )
    assert member_page.status_code == 404
    payment = await record(
        client,
        world,
        {
            "kind": "disbursement",
            "fund": "groceries",
            "amount": "1.00",
            "proposal": 2**31,
            "counterparty": "R-1",
        },
    )
    assert payment.status_code == 422
    assert payment.json()["errors"][0]["field"] == "proposal"
    for query in ("to=9999-12-31", "from=0001-01-01&to=2026-01-01", "from=1969-12-31"):
        response = await client.get(f"/g/{world.slug}/audit.pdf?{query}")
        assert response.status_code == 422, query
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_a_refused_entry_names_only_fields_of_its_body(client: Client, world: World) -> None:
    """A 422 was seen naming a `group` field that no entry has: the path's group is never a
    field at fault, whatever is wrong with the body or the headers."""
    bodies: list[Any] = [
        {"kind": "donation", "fund": "groceries", "amount": "1.001"},
        {"kind": "donation", "fund": "nowhere", "amount": "1.00"},
        {"kind": "donation", "fund": "groceries", "amount": 1},
        {"kind": "donation", "fund": "groceries"},
        {"kind": "bogus", "fund": "groceries", "amount": "1.00"},
        {"kind": "transfer", "from_fund": "groceries", "to_fund": "groceries", "amount": "1.00"},
        {"kind": "reversal", "reverses": 5},
        {"kind": "reversal", "reverses": 2**70, "memo": "x"},
        {"kind": "donation", "fund": "groceries", "amount": "1.00", "occurred_on": "2026-13-01"},
        [],
        {},
    ]
    for number, body in enumerate(bodies):
        for key in ({}, {"Idempotency-Key": f"probe-{number}"}):
            answer = await client.post(
                f"/api/groups/{world.slug}/entries?group=x",
                json=body,
                headers={**world.steward.headers, **key},
            )
            assert answer.status_code == 422, (body, answer.text)
            fields = {error["field"] for error in answer.json().get("errors", [])}
            assert "group" not in fields, (body, answer.text)
            named = set(body) if isinstance(body, dict) else set()
            assert fields <= named | {"kind", "fund", "amount", "memo"}, (body, answer.text)
