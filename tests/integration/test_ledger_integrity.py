"""The ledger cannot be quietly changed: the database refuses edits, and when someone goes
around it (triggers dropped by hand), ``verify`` names the first entry that was touched."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ledger import service
from ledger.errors import InsufficientFunds, LedgerError
from ledger.models import Fund
from ledger.schemas import DisbursementIn, DonationIn, ReversalIn, TransferIn
from ledger.verify import verify_group
from proposals.service import authorise_payment
from tests.support.databases import drop_triggers
from tests.support.people import World, adopt_policies, adopt_policy, fill


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE entries SET memo = 'changed'",
        "DELETE FROM entries WHERE seq = 3",
        "UPDATE postings SET amount = amount + 1",
        "DELETE FROM postings",
    ],
)
async def test_the_database_refuses_to_change_entries_and_postings(
    session: AsyncSession, world: World, statement: str
) -> None:
    await fill(session, world)
    with pytest.raises(DBAPIError, match="append-only"):
        await session.execute(text(statement))
    await session.rollback()
    assert (await verify_group(session, await world.fresh_group(session))).ok


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)  # no TRUNCATE in SQLite
async def test_postgres_refuses_to_truncate_the_ledger(session: AsyncSession, world: World) -> None:
    await fill(session, world)
    with pytest.raises(DBAPIError, match="append-only"):
        await session.execute(text("TRUNCATE postings, entries CASCADE"))


TAMPERING = {
    "one amount": (["UPDATE postings SET amount = amount + 100 WHERE seq = 4"], 4),
    "one memo": (["UPDATE entries SET memo = 'for the party' WHERE seq = 3"], 3),
    "the last entry deleted": (
        ["DELETE FROM postings WHERE seq = 6", "DELETE FROM entries WHERE seq = 6"],
        6,
    ),
    "two entries swapped": (
        [
            "UPDATE entries SET seq = -1 WHERE seq = 2",
            "UPDATE entries SET seq = 2 WHERE seq = 5",
            "UPDATE entries SET seq = 5 WHERE seq = -1",
        ],
        2,
    ),
    "a middle entry deleted": (
        ["DELETE FROM postings WHERE seq = 3", "DELETE FROM entries WHERE seq = 3"],
        3,
    ),
}


@pytest.mark.parametrize("tampering", TAMPERING, ids=list(TAMPERING))
async def test_verify_names_the_first_tampered_entry(
    session: AsyncSession, world: World, tampering: str
) -> None:
    await fill(session, world)
    statements, first_bad = TAMPERING[tampering]
    await drop_triggers(session)
    for statement in statements:
        await session.execute(text(statement))
    await session.commit()
    report = await verify_group(session, world.group)
    assert not report.ok
    assert report.first_bad_seq == first_bad, report.problem


async def test_a_stored_balance_changed_behind_the_ledger_is_reported(
    session: AsyncSession, world: World
) -> None:
    await fill(session, world)
    await session.execute(text("UPDATE funds SET balance = balance + 1"))
    await session.commit()
    report = await verify_group(session, world.group)
    assert not report.ok
    assert "stored balance" in (report.problem or "")


async def test_rebuilt_balances_equal_the_stored_ones_after_a_random_history(
    session: AsyncSession, world: World
) -> None:
    rng = random.Random(7)
    policy_of = await adopt_policies(session, world.group, ["rent-relief", "groceries"])
    recorded = 0
    for _ in range(120):
        fund, other = rng.sample(["rent-relief", "groceries"], 2)
        amount = f"{rng.randint(1, 90)}.{rng.randint(0, 99):02d}"
        entry = rng.choice(
            [
                DonationIn(fund=fund, amount=amount),
                DonationIn(fund=fund, amount=amount),
                DisbursementIn(
                    fund=fund, amount=amount, counterparty="R-1", policy=policy_of[fund]
                ),
                TransferIn(from_fund=fund, to_fund=other, amount=amount),
                ReversalIn(reverses=rng.randint(1, max(recorded, 1)), memo="mistake"),
            ]
        )
        try:
            async with session.begin_nested():
                await service.record_entry(
                    session, world.group, entry, recorded_by=None, authority=authorise_payment
                )
            recorded += 1
        except LedgerError:  # refusals are part of a real history
            pass
    await session.commit()
    stored = {fund.slug: fund.balance for fund in await service.list_funds(session, world.group)}
    assert await service.rebuild_balances(session, world.group) == stored
    assert all(balance >= 0 for balance in stored.values())
    report = await verify_group(session, world.group)
    assert report.ok, report.problem
    # Each policy adopted is a decision leaf of the log too.
    assert report.entries == recorded + len(policy_of)
    assert recorded > 60
    assert {slug: report.balances.get(slug, 0) for slug in stored} == stored
    assert (await session.get(Fund, 1)) is not None


async def test_an_append_reads_the_funds_afresh_even_when_the_session_holds_them(
    session_maker: async_sessionmaker[AsyncSession], world: World
) -> None:
    """The funds and the log's head an append reads under its lock replace what the session
    already held (another session may have recorded since): on PostgreSQL the lock reads
    them without the ORM and updates the session's objects in place."""
    async with session_maker() as adopting:
        policy = await adopt_policy(adopting, world)
    async with session_maker() as reader:
        held = {fund.slug: fund for fund in await service.list_funds(reader, world.group)}
        assert held["rent-relief"].balance == 0
        await reader.commit()  # the session keeps its objects (and SQLite lets others write)
        async with session_maker() as other:
            await service.record_entry(
                other,
                world.group,
                DonationIn(fund="rent-relief", amount="100.00"),
                recorded_by=None,
            )
            await other.commit()
        # The reader's fund still says 0, but the payment sees the 100.00 given since.
        entry = await service.record_entry(
            reader,
            world.group,
            DisbursementIn(fund="rent-relief", amount="60.00", counterparty="R-1", policy=policy),
            recorded_by=None,
            authority=authorise_payment,
        )
        assert entry.seq == 3  # after the policy's decision and the donation
        assert [p.fund for p in entry.postings] == [held["rent-relief"]] * 2
        assert held["rent-relief"].balance == 4000  # the same object, brought up to date
        with pytest.raises(InsufficientFunds):
            await service.record_entry(
                reader,
                world.group,
                DisbursementIn(
                    fund="rent-relief", amount="40.01", counterparty="R-1", policy=policy
                ),
                recorded_by=None,
                authority=authorise_payment,
            )
        await reader.commit()
    async with session_maker() as check:
        assert (await verify_group(check, await world.fresh_group(check))).ok
