"""The public ledger pages cost the same at any depth and any size: every query a page
runs on the entries and their postings reads an index in the page's order, never scans a
table and never sorts (keyset pagination, no OFFSET). Checked on the query plans of the
statements the pages really send, on both engines, so the property holds at a million
entries without building a million entries here: ``bench pages`` measures that size.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.settings import Settings
from ledger import service
from ledger.schemas import DisbursementIn, DonationIn, TransferIn
from proposals.service import authorise_payment
from tests.support.people import World, adopt_policy

HTML = {"Accept": "text/html"}
ENTRIES = 120
# The tables whose size grows with the ledger: a page may only search these by index.
GROWING = ("entries", "postings")


@contextmanager
def statements_sent(engine: AsyncEngine) -> Iterator[list[tuple[str, Any]]]:
    """Every statement the engine sends while the block runs, with its parameters."""
    sent: list[tuple[str, Any]] = []

    def record(_c: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        sent.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


def reads_a_growing_table(statement: str) -> bool:
    return statement.lstrip().upper().startswith("SELECT") and any(
        re.search(rf"\b{table}\b", statement) for table in GROWING
    )


def sqlite_plan(settings: Settings, statement: str, parameters: Any) -> str:
    path = make_url(settings.database_url).database
    assert path
    with sqlite3.connect(path) as connection:
        rows = connection.execute(f"EXPLAIN QUERY PLAN {statement}", parameters).fetchall()
    return "\n".join(str(row[-1]) for row in rows)


async def postgres_plan(settings: Settings, statement: str, parameters: Any) -> str:
    url = make_url(settings.database_url).set(drivername="postgresql")
    connection = await asyncpg.connect(url.render_as_string(hide_password=False))
    try:
        # With the tables this small the planner would rightly read them whole; what
        # matters is that an index path in the page's order exists, so it is asked for.
        await connection.execute("SET enable_seqscan = off; SET enable_sort = off")
        rows = await connection.fetch(f"EXPLAIN {statement}", *(parameters or ()))
    finally:
        await connection.close()
    return "\n".join(row[0] for row in rows)


def problems_of(statement: str, plan: str, engine: str) -> list[str]:
    """What in a plan grows with the ledger: a table read whole, or rows sorted. Rows read
    by a list of the page's own ids (the postings of the entries shown) may be sorted: at
    most a page of them."""
    of_the_page = bool(re.search(r"\bIN \(|= ANY \(", statement))
    if engine == "sqlite":
        return [
            line
            for line in plan.splitlines()
            if re.search(rf"\bSCAN ({'|'.join(GROWING)})\b", line)  # even a whole index
            or ("TEMP B-TREE" in line and not of_the_page)
        ]
    return [
        line
        for line in plan.splitlines()
        if re.search(rf"Seq Scan on ({'|'.join(GROWING)})\b", line)
        or (re.search(r"\bSort\b", line) and not of_the_page)
    ]


@pytest.fixture
async def long_ledger(session: AsyncSession, world: World) -> World:
    policy = await adopt_policy(session, world, fund="groceries")
    group = await world.fresh_group(session)
    for i in range(ENTRIES):
        match i % 3:
            case 0:
                entry: Any = DonationIn(fund="groceries", amount="10.00")
            case 1:
                entry = DisbursementIn(
                    fund="groceries", amount="4.00", counterparty=f"R-{i}", policy=policy
                )
            case _:
                entry = TransferIn(from_fund="groceries", to_fund="rent-relief", amount="1.00")
        await service.record_entry(
            session, group, entry, recorded_by=None, authority=authorise_payment
        )
    await session.commit()
    return world


@pytest.mark.parametrize(
    "query",
    ["", "?before=40", "?fund=groceries", "?fund=groceries&before=40", "?fund=rent-relief"],
)
async def test_a_ledger_page_reads_its_entries_by_index_at_any_depth(
    client: AsyncTestClient[Litestar],
    app: Litestar,
    settings: Settings,
    long_ledger: World,
    query: str,
) -> None:
    with statements_sent(app.state.alchemy_config.engine_instance) as sent:
        page = await client.get(f"/g/{long_ledger.slug}/ledger{query}", headers=HTML)
    assert page.status_code == 200
    shown = [int(s) for s in re.findall(r'<li class="entry[^"]*" id="entry-(\d+)"', page.text)]
    assert shown
    if "before=40" in query:
        assert max(shown) < 40
    reads = [(s, p) for s, p in sent if reads_a_growing_table(s)]
    assert reads, "the page read no entries"
    engine_name = "sqlite" if settings.is_sqlite else "postgres"
    for statement, parameters in reads:
        if re.search(r"\bOFFSET\b", statement):  # some dialects always write one: it is 0
            assert list(parameters)[-1] == 0, statement  # else deep pages read all above
        if engine_name == "sqlite":
            plan = sqlite_plan(settings, statement, parameters)
        else:
            plan = await postgres_plan(settings, statement, parameters)
        assert problems_of(statement, plan, engine_name) == [], f"{statement}\n{plan}"
