"""Withdrawing an import made by mistake (the wrong file, or the wrong place), through the
API and the steward's page, on both engines: the import and the lines it brought are gone,
its file leaves the store unless another import keeps the same bytes, and the record of it
stays (append-only); only the place's latest import, and only while nothing rests on it
(a line matched now or before, a reconciled day, a reconciliation closed against it);
every refusal changes nothing."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ledger.models import BankLine, BankStatement, RejectedSuggestion, StatementWithdrawal
from tests.http.test_reconciliations import HEADER, NOVEMBER, close, november
from tests.http.test_statements import DATA, MAPPING, donate, lines, upload, url
from tests.http.test_undo_match import match, undo
from tests.support.clients import give_password, log_in, post_form, text_of
from tests.support.databases import rows_in
from tests.support.people import World

Client = AsyncTestClient[Litestar]
UTF8 = (DATA / "utf8.csv").read_bytes()


async def withdraw(client: Client, world: World, statement: int, place: str = "bank") -> Any:
    return await client.delete(
        url(world, f"/statements/{statement}", place), headers=world.steward.headers
    )


async def stored(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, ...]:
    """How many imports, lines, rejected suggestions and withdrawals are stored."""
    return await rows_in(sessions, BankStatement, BankLine, RejectedSuggestion, StatementWithdrawal)


async def test_the_latest_import_is_withdrawn_with_its_lines_and_file(
    client: Client,
    app: Litestar,
    world: World,
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    await donate(client, world, "50.00", "2026-11-02")
    imported = (await upload(client, world, UTF8, mapping=MAPPING)).json()
    first = (await lines(client, world, imported["id"]))[0]
    entry = first["suggestions"][0]["entry"]
    rejected = await client.post(
        url(world, f"/statements/{imported['id']}/lines/{first['id']}/reject"),
        json={"entry": entry},
        headers=world.steward.headers,
    )
    assert rejected.status_code == 201, rejected.text
    sha256 = hashlib.sha256(UTF8).hexdigest()
    assert app.state.files.exists(sha256)
    assert await stored(session_maker) == (1, 8, 1, 0)

    response = await withdraw(client, world, imported["id"])
    assert response.status_code == 204, response.text
    assert await stored(session_maker) == (0, 0, 0, 1)
    # The file named people who may have nothing to do with the group: it is gone.
    assert not app.state.files.exists(sha256)
    gone = await client.get(
        url(world, f"/statements/{imported['id']}/lines"), headers=world.steward.headers
    )
    assert gone.status_code == 404
    async with session_maker() as session:
        record = (await session.scalars(select(StatementWithdrawal))).one()
    assert (record.statement_id, record.sha256, record.lines, record.new_lines) == (
        imported["id"],
        sha256,
        8,
        8,
    )
    assert record.imported_by == record.withdrawn_by == world.steward.user.id
    # The right file, imported again, brings its lines again.
    again = await upload(client, world, UTF8, mapping=MAPPING)
    assert (again.status_code, again.json()["new_lines"]) == (201, 8)


async def test_only_the_latest_import_and_only_while_nothing_rests_on_it(
    client: Client, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    statement = await november(client, world)  # three lines, each matched
    later = (await upload(client, world, UTF8, mapping=MAPPING)).json()
    earlier = await withdraw(client, world, statement["id"])
    assert earlier.status_code == 409, earlier.text
    assert "latest import" in earlier.json()["detail"]
    assert [e["field"] for e in earlier.json()["errors"]] == ["statement"]
    assert (await withdraw(client, world, later["id"])).status_code == 204
    assert await stored(session_maker) == (1, 3, 0, 1)

    # Now the November import is the latest, and its lines are matched.
    matched = await withdraw(client, world, statement["id"])
    assert matched.status_code == 409
    assert "3 of its lines matched: undo those matches first" in matched.json()["detail"]
    for line in await lines(client, world, statement["id"]):
        assert (await undo(client, world, statement["id"], line["id"])).status_code == 200
    # Matched once, the lines' record of it stays, and so does the import.
    before = await withdraw(client, world, statement["id"])
    assert before.status_code == 409
    assert "were matched before" in before.json()["detail"]
    assert await stored(session_maker) == (1, 3, 0, 1)


async def test_reconciled_days_keep_their_import(
    client: Client, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    statement = await november(client, world, match=False)
    first = (await lines(client, world, statement["id"]))[0]
    seq = first["suggestions"][0]["entry"]
    assert (await match(client, world, statement["id"], first["id"], seq)).status_code == 201
    assert (await close(client, world, "2026-11-02", "50.00")).status_code == 201
    refused = await withdraw(client, world, statement["id"])
    assert refused.status_code == 409
    # The closed reconciliation names this import (and its first line is matched).
    assert "reconciliation was closed against this import" in refused.json()["detail"]
    assert await stored(session_maker) == (1, 3, 0, 0)


async def test_an_import_with_lines_on_reconciled_days_stays(
    client: Client, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    await november(client, world)
    assert (await close(client, world, "2026-11-10", "70.00")).status_code == 201
    # A later file (another export of the account) with a line of a reconciled day.
    late = f"{HEADER}\r\n2026-11-05,2026-11-05,Fee refund,Bank,CV-9,5.00,5.00".encode()
    imported = (await upload(client, world, late, mapping=MAPPING)).json()
    assert imported["new_lines"] == 1
    refused = await withdraw(client, world, imported["id"])
    assert refused.status_code == 409, refused.text
    assert (
        "1 of its lines are on days the books are reconciled through (2026-11-10)"
        in (refused.json()["detail"])
    )
    assert await stored(session_maker) == (2, 4, 0, 0)


async def test_a_file_another_import_keeps_stays_in_the_store(
    client: Client, app: Litestar, world: World
) -> None:
    made = await client.post(
        f"/api/groups/{world.slug}/places",
        json={"slug": "cash", "name": "Cash box"},
        headers=world.admin.headers,
    )
    assert made.status_code == 201, made.text
    sha256 = hashlib.sha256(NOVEMBER).hexdigest()
    into_bank = (await upload(client, world, NOVEMBER, mapping=MAPPING)).json()
    into_cash = (await upload(client, world, NOVEMBER, mapping=MAPPING, place="cash")).json()
    assert (await withdraw(client, world, into_bank["id"])).status_code == 204
    assert app.state.files.exists(sha256)  # the cash box's import keeps it
    assert (await withdraw(client, world, into_cash["id"], "cash")).status_code == 204
    assert not app.state.files.exists(sha256)


async def test_the_record_of_withdrawals_is_append_only(
    client: Client, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    imported = (await upload(client, world, UTF8, mapping=MAPPING)).json()
    assert (await withdraw(client, world, imported["id"])).status_code == 204
    for statement_text in (
        "UPDATE statement_withdrawals SET lines = 0",
        "DELETE FROM statement_withdrawals",
    ):
        async with session_maker() as session:
            with pytest.raises((IntegrityError, DBAPIError), match="append-only"):
                await session.execute(text(statement_text))
    assert await stored(session_maker) == (0, 0, 0, 1)


async def test_the_statement_page_withdraws_the_latest_import_once_ticked(
    client: Client,
    world: World,
    session: AsyncSession,
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    first = (await upload(client, world, NOVEMBER, mapping=MAPPING)).json()
    latest = (await upload(client, world, UTF8, mapping=MAPPING)).json()
    await give_password(session, world.steward)
    await log_in(client, world.steward)
    base = f"/m/{world.slug}/places/bank/statements"
    assert "Withdraw this import" not in text_of((await client.get(f"{base}/{first['id']}")).text)
    page_url = f"{base}/{latest['id']}"
    assert "Withdraw this import" in text_of((await client.get(page_url)).text)
    unticked = await post_form(client, f"{page_url}/withdraw", {}, form_url=page_url)
    assert unticked.status_code == 422, unticked.text
    assert "Tick the box" in text_of(unticked.text)
    assert await stored(session_maker) == (2, 11, 0, 0)
    done = await post_form(client, f"{page_url}/withdraw", {"confirm": "yes"}, form_url=page_url)
    assert done.status_code == 303, done.text
    assert done.headers["location"] == f"{base}?withdrawn={latest['id']}"
    listed = text_of((await client.get(done.headers["location"])).text)
    assert f"Import {latest['id']} was withdrawn" in listed
    assert await stored(session_maker) == (1, 3, 0, 1)
    # The first import is the latest now; refused there, the page says why.
    await donate(client, world, "50.00", "2026-11-02")
    line = (await lines(client, world, first["id"]))[0]
    seq = line["suggestions"][0]["entry"]
    assert (await match(client, world, first["id"], line["id"], seq)).status_code == 201
    page_url = f"{base}/{first['id']}"
    # The page offers no form where it would be refused: it says what keeps the import.
    kept = text_of((await client.get(page_url)).text)
    assert "This import cannot be withdrawn: 1 of its lines matched: undo those" in kept
    assert "Withdraw this import" not in kept
    refused = await post_form(client, f"{page_url}/withdraw", {"confirm": "yes"}, form_url=page_url)
    assert refused.status_code == 409, refused.text
    assert "undo those matches first" in text_of(refused.text)
    assert await stored(session_maker) == (1, 3, 0, 1)
