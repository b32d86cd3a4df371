"""Migration 0024 gives every group its default place, on both engines, and a log written
before places (leaves of version 1, no place anywhere) keeps verifying after it: its
entries are in the default place, which holds what the funds hold. New entries in the
default place are written exactly as before; entries in another place, and moves, in
version 6; the database verifier, the bundle, hledger and bean-check all accept the lot."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC

from app.db import create_engine, create_session_maker
from app.migrate import upgrade
from app.settings import Settings
from app.signing import load_notary
from ledger import service
from ledger.bundle import verify_bundle
from ledger.canonical import (
    ZERO_HASH,
    canonical_json,
    leaf_document,
    leaf_hash_hex,
    parse_leaf,
)
from ledger.export import export, export_bundle, write_beancount, write_hledger
from ledger.merkle import CompactRange
from ledger.models import Entry, Group
from ledger.rules import Leg
from ledger.schemas import DonationIn, MoveIn, PlaceIn
from ledger.verify import verify_group
from tests.support.databases import settings_for
from tests.support.tools import need_tool, run

WHEN = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
RENT, FOOD = "Assets:Holding:Rent-relief", "Assets:Holding:Groceries"
# The first leaf exactly as the code before places wrote it (leaf version 1).
FIRST_LEAF = (
    b'{"group":"pod","kind":"donation","memo":"Benefit gig","occurred_on":"2026-11-30",'
    b'"postings":[{"account":"Assets:Holding:Rent-relief","amount":"10000","currency":"EUR",'
    b'"fund":"rent-relief"},{"account":"Income:Donations:Rent-relief","amount":"-10000",'
    b'"currency":"EUR","fund":"rent-relief"}],"prev":"' + ZERO_HASH.encode() + b'",'
    b'"recorded_at":"2026-11-30T09:00:00.000000Z","seq":"1","v":"1"}'
)


def _table(table: str, /, **columns: Any) -> sa.TableClause:
    return sa.table(table, *(sa.column(n, t) for n, t in columns.items()))


# (kind, [(fund id, fund slug, account type, account, amount)], reverses)
OLD_ENTRIES: list[tuple[str, list[tuple[int, str, str, str, int]], int | None]] = [
    (
        "donation",
        [
            (1, "rent-relief", "holding", RENT, 10_000),
            (1, "rent-relief", "income", "Income:Donations:Rent-relief", -10_000),
        ],
        None,
    ),
    (
        "donation",
        [
            (2, "groceries", "holding", FOOD, 4_000),
            (2, "groceries", "income", "Income:Donations:Groceries", -4_000),
        ],
        None,
    ),
    (
        "transfer",
        [(2, "groceries", "holding", FOOD, 1_000), (1, "rent-relief", "holding", RENT, -1_000)],
        None,
    ),
    (
        "reversal",
        [(2, "groceries", "holding", FOOD, -1_000), (1, "rent-relief", "holding", RENT, 1_000)],
        3,
    ),
]


async def write_log_as_0023(url: str) -> None:
    """A group "pod" with two funds and four entries, rows and leaves as written before
    places existed."""
    engine = create_engine(Settings(database_url=url))
    when = DateTimeUTC(timezone=True)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                sa.insert(
                    _table(
                        "groups",
                        id=Id,
                        slug=sa.String(),
                        name=sa.String(),
                        currency=sa.String(),
                        description=sa.String(),
                        public=sa.Boolean(),
                        created_at=when,
                        publish_receipts=sa.Boolean(),
                    )
                ),
                [
                    {
                        "id": 1,
                        "slug": "pod",
                        "name": "Pod",
                        "currency": "EUR",
                        "description": "",
                        "public": True,
                        "created_at": WHEN,
                        "publish_receipts": False,
                    }
                ],
            )
            await connection.execute(
                sa.insert(
                    _table(
                        "funds",
                        id=Id,
                        group_id=Id,
                        slug=sa.String(),
                        name=sa.String(),
                        currency=sa.String(),
                        allow_negative=sa.Boolean(),
                        balance=sa.BigInteger(),
                        created_at=when,
                    )
                ),
                [
                    {
                        "id": 1,
                        "group_id": 1,
                        "slug": "rent-relief",
                        "name": "Rent relief",
                        "currency": "EUR",
                        "allow_negative": False,
                        "balance": 10_000,
                        "created_at": WHEN,
                    },
                    {
                        "id": 2,
                        "group_id": 1,
                        "slug": "groceries",
                        "name": "Groceries",
                        "currency": "EUR",
                        "allow_negative": False,
                        "balance": 4_000,
                        "created_at": WHEN,
                    },
                ],
            )
            prev, tree = ZERO_HASH, CompactRange.from_json('{"peaks":[],"size":0}')
            for seq, (kind, legs, reverses) in enumerate(OLD_ENTRIES, start=1):
                memo = "Benefit gig" if seq == 1 else ("Wrong fund" if reverses else "")
                leaf = canonical_json(
                    leaf_document(
                        group="pod",
                        seq=seq,
                        kind=kind,
                        occurred_on=date(2026, 11, 30),
                        recorded_at=WHEN,
                        memo=memo,
                        counterparty=None,
                        postings=[Leg(a, f, amount, "EUR") for _, f, _, a, amount in legs],
                        reverses=reverses,
                        proposal=None,
                        prev=prev,
                    )
                )
                if seq == 1:
                    assert leaf == FIRST_LEAF
                digest = leaf_hash_hex(leaf)
                # (The database numbers the rows: later entries take the next numbers.)
                entries = _table(
                    "entries",
                    id=Id,
                    group_id=Id,
                    seq=sa.BigInteger(),
                    kind=sa.String(),
                    occurred_on=sa.Date(),
                    recorded_at=when,
                    memo=sa.Text(),
                    reverses_seq=sa.BigInteger(),
                    prev_hash=sa.String(),
                    hash=sa.String(),
                    leaf=sa.LargeBinary(),
                )
                entry_id = (
                    await connection.execute(
                        sa.insert(entries).returning(entries.c.id),
                        [
                            {
                                "group_id": 1,
                                "seq": seq,
                                "kind": kind,
                                "occurred_on": date(2026, 11, 30),
                                "recorded_at": WHEN,
                                "memo": memo,
                                "reverses_seq": reverses,
                                "prev_hash": prev,
                                "hash": digest,
                                "leaf": leaf,
                            }
                        ],
                    )
                ).scalar_one()
                await connection.execute(
                    sa.insert(
                        _table(
                            "postings",
                            entry_id=Id,
                            seq=sa.BigInteger(),
                            position=sa.Integer(),
                            fund_id=Id,
                            account=sa.String(),
                            account_type=sa.String(),
                            amount=sa.BigInteger(),
                            currency=sa.String(),
                        )
                    ),
                    [
                        {
                            "entry_id": entry_id,
                            "seq": seq,
                            "position": i,
                            "fund_id": fund_id,
                            "account": account,
                            "account_type": account_type,
                            "amount": amount,
                            "currency": "EUR",
                        }
                        for i, (fund_id, _, account_type, account, amount) in enumerate(legs)
                    ],
                )
                prev, tree = digest, tree.append(bytes.fromhex(digest))
            await connection.execute(
                sa.insert(
                    _table(
                        "log_states",
                        group_id=Id,
                        size=sa.BigInteger(),
                        head_hash=sa.String(),
                        merkle=sa.Text(),
                    )
                ),
                [
                    {
                        "group_id": 1,
                        "size": len(OLD_ENTRIES),
                        "head_hash": prev,
                        "merkle": tree.to_json(),
                    }
                ],
            )
    finally:
        await engine.dispose()


def test_a_log_from_before_places_is_in_the_default_place_and_keeps_verifying(
    empty_db_url: str, tmp_path: Path
) -> None:
    upgrade(empty_db_url, "0023")
    asyncio.run(write_log_as_0023(empty_db_url))
    upgrade(empty_db_url)
    asyncio.run(_after_the_migration(empty_db_url, tmp_path))


async def _after_the_migration(url: str, tmp_path: Path) -> None:
    settings = settings_for(url, tmp_path)
    notary = load_notary(settings)
    engine = create_engine(settings)
    try:
        async with create_session_maker(engine)() as session:
            group = (await session.scalars(sa.select(Group))).one()
            [bank] = await service.list_places(session, group)
            assert (bank.slug, bank.name, bank.currency) == ("bank", "Bank account", "EUR")
            assert bank.is_default
            assert not bank.allow_negative
            assert bank.balance == 14_000  # what the funds hold
            # No stored entry was touched: the old ones name no place.
            rows = (await session.execute(sa.select(Entry.seq, Entry.place_id))).all()
            assert rows == [(1, None), (2, None), (3, None), (4, None)]
            report = await verify_group(session, group)
            assert report.ok, report.problem
            assert report.place_balances == {"bank": 14_000}

            # New entries: one in the default place (written as before), one elsewhere.
            await service.create_place(session, group, PlaceIn(slug="cash", name="Cash box"))
            banked = await service.record_entry(
                session,
                group,
                DonationIn(fund="groceries", amount="5.00"),
                recorded_by=None,
                notary=notary,
            )
            tin = await service.record_entry(
                session,
                group,
                DonationIn(fund="rent-relief", amount="2.50", place="cash"),
                recorded_by=None,
                notary=notary,
            )
            moved = await service.record_entry(
                session,
                group,
                MoveIn(from_place="bank", to_place="cash", amount="20.00"),
                recorded_by=None,
                notary=notary,
            )
            await session.commit()
            assert [parse_leaf(e.leaf).v for e in (banked, tin, moved)] == ["1", "6", "6"]
            places = {p.slug: p.balance for p in await service.list_places(session, group)}
            assert places == {"bank": 12_500, "cash": 2_250}
            report = await verify_group(session, group)
            assert report.ok, report.problem
            for fmt in ("csv", "json", "jsonl"):
                assert await export(session, group, fmt)
            csv = (await export(session, group, "csv")).decode()
            assert csv.splitlines()[0].endswith(",place")
            assert ",bank\n" in csv
            assert ",cash\n" in csv
            journal = await session.run_sync(lambda sync: write_hledger(sync, group))
            beancount = await session.run_sync(lambda sync: write_beancount(sync, group))
            bundle = await export_bundle(
                session, group, notary.key.vkey(), settings.base_url, notary
            )
    finally:
        await engine.dispose()
    (tmp_path / "pod.journal").write_bytes(journal)
    assert b"Assets:Bank:Groceries" in journal
    assert b"    Assets:Cash:Between-Places  20.00 EUR" in journal
    checked = run(need_tool("hledger"), "-f", str(tmp_path / "pod.journal"), "check", "--strict")
    assert checked.returncode == 0, checked.stderr
    (tmp_path / "pod.beancount").write_bytes(beancount)
    checked = run(need_tool("bean-check"), str(tmp_path / "pod.beancount"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    (tmp_path / "pod.zip").write_bytes(bundle)
    for two_processes in (False, True):
        report = verify_bundle(tmp_path / "pod.zip", notary.key.vkey(), two_processes=two_processes)
        assert report.ok, report.problem
