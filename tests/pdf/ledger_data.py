"""A small ledger recorded through the API, and what the API says about it.

The expected balances are computed here from ``GET /api/groups/{g}/entries`` alone, never
with the documents' own code, so a wrong sum in a statement cannot agree with itself.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.support.clients import record_entry as record
from tests.support.people import World

Client = AsyncTestClient[Litestar]
HOLDING_PREFIX = "Assets:Holding:"
FUNDS = ("rent-relief", "groceries")  # in the order build_world creates them

# (kind, body) in the order they are recorded; dates around February 2024.
ENTRIES: list[dict[str, Any]] = [
    {
        "kind": "donation",
        "fund": "rent-relief",
        "amount": "120.00",
        "occurred_on": "2024-01-05",
        "memo": "Standing order",
        "counterparty": "Tenants' union",
    },
    {
        "kind": "donation",
        "fund": "groceries",
        "amount": "45.50",
        "occurred_on": "2024-01-20",
        "memo": "Bucket at the street fair",
    },
    {
        "kind": "disbursement",
        "fund": "rent-relief",
        "amount": "30.00",
        "occurred_on": "2024-01-31",
        "memo": "Rent support",
        "counterparty": "R-17",
    },
    {
        "kind": "donation",
        "fund": "rent-relief",
        "amount": "60.25",
        "occurred_on": "2024-02-01",
        "memo": "Benefit gig",
        "counterparty": "Bakery on 5th",
    },
    {
        "kind": "donation",
        "fund": "groceries",
        "amount": "12.00",
        "occurred_on": "2024-02-03",
        "memo": "Café solidaire",
    },
    {
        "kind": "transfer",
        "from_fund": "rent-relief",
        "to_fund": "groceries",
        "amount": "25.00",
        "occurred_on": "2024-02-10",
        "memo": "Rebalancing after the meeting",
    },
    {
        "kind": "disbursement",
        "fund": "groceries",
        "amount": "40.10",
        "occurred_on": "2024-02-14",
        "memo": "Grocery vouchers",
        "counterparty": "R-203",
    },
    {
        "kind": "donation",
        "fund": "rent-relief",
        "amount": "15.00",
        "occurred_on": "2024-02-29",
        "memo": "Spende vom Straßenfest",
    },
    {
        "kind": "donation",
        "fund": "groceries",
        "amount": "9.99",
        "occurred_on": "2024-03-01",
        "memo": "Monthly gift",
    },
    # Backdated into February although recorded after a March entry.
    {
        "kind": "disbursement",
        "fund": "rent-relief",
        "amount": "5.00",
        "occurred_on": "2024-02-20",
        "memo": "Bus passes",
        "counterparty": "R-9",
    },
    {
        "kind": "donation",
        "fund": "rent-relief",
        "amount": "200.00",
        "occurred_on": "2024-03-15",
        "memo": "Parish collection",
    },
]
PERIOD = (date(2024, 2, 1), date(2024, 2, 29))


async def record_ledger(client: Client, world: World) -> None:
    for body in ENTRIES:
        await record(client, world, body)


async def all_entries(client: Client, world: World) -> list[dict[str, Any]]:
    """Every entry as the API shows it, oldest first."""
    entries: list[dict[str, Any]] = []
    url = f"/api/groups/{world.slug}/entries?limit=200"
    before: int | None = None
    while True:
        response = await client.get(url + (f"&before={before}" if before else ""))
        assert response.status_code == 200, response.text
        page = response.json()
        entries.extend(page["entries"])
        before = page["next"]
        if before is None:
            return sorted(entries, key=lambda e: e["seq"])


def cents(amount: str) -> int:
    return int(Decimal(amount) * 100)


def holding_moves(entry: dict[str, Any]) -> dict[str, int]:
    """Fund slug -> what the entry moved in or out of the fund's money, in cents."""
    moves: dict[str, int] = defaultdict(int)
    for posting in entry["postings"]:
        if posting["account"].startswith(HOLDING_PREFIX):
            moves[posting["fund"]] += cents(posting["amount"])
    return dict(moves)


def in_period(entry: dict[str, Any], start: date, end: date) -> bool:
    return start <= date.fromisoformat(entry["occurred_on"]) <= end


def expected_balances(
    entries: list[dict[str, Any]], start: date, end: date
) -> tuple[dict[str, int], dict[str, int]]:
    """Opening (before ``start``) and closing (up to ``end``) balances per fund, in cents."""
    opening = dict.fromkeys(FUNDS, 0)
    closing = dict.fromkeys(FUNDS, 0)
    for entry in entries:
        day = date.fromisoformat(entry["occurred_on"])
        for fund, amount in holding_moves(entry).items():
            if day < start:
                opening[fund] += amount
            if day <= end:
                closing[fund] += amount
    return opening, closing


def money(amount_cents: int) -> str:
    sign = "-" if amount_cents < 0 else ""
    whole, part = divmod(abs(amount_cents), 100)
    return f"{sign}{whole}.{part:02d}"
