"""Taking a bank line out of a match confirmed by mistake, through the API and the steward's
page, on both engines: the line is open again and the wrong entry free; a line of an entry
paid in parts leaves its match alone; a match a reconciliation closed over stays; what was
confirmed stays on record (append-only); a line not matched, or another group's, is
refused and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ledger import bank, service
from ledger.errors import Conflict
from ledger.models import BankLine, BankMatch, BankMatchEntry, BankMatchLine, BankMatchUndo
from tests.http.test_reconciliations import close, november
from tests.http.test_statements import DATA, MAPPING, donate, lines, upload, url
from tests.support.clients import give_password, log_in, post_form, text_of
from tests.support.databases import rows_in
from tests.support.people import World

Client = AsyncTestClient[Litestar]


async def match(client: Client, world: World, statement: int, line: int, *seqs: int) -> Any:
    return await client.post(
        url(world, f"/statements/{statement}/lines/{line}/match"),
        json={"entries": list(seqs)},
        headers=world.steward.headers,
    )


async def undo(
    client: Client, world: World, statement: int, line: int, headers: dict[str, str] | None = None
) -> Any:
    return await client.delete(
        url(world, f"/statements/{statement}/lines/{line}/match"),
        headers=headers if headers is not None else world.steward.headers,
    )


async def matches(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, ...]:
    """How many matches, matched lines, matched entries and undos are stored."""
    return await rows_in(sessions, BankMatch, BankMatchLine, BankMatchEntry, BankMatchUndo)


async def test_a_match_confirmed_by_mistake_is_undone_and_stays_on_record(
    client: Client, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    wrong = await donate(client, world, "50.00", "2026-11-02")
    right = await donate(client, world, "50.00", "2026-11-04", counterparty="R-17")
    imported = await upload(client, world, (DATA / "utf8.csv").read_bytes(), mapping=MAPPING)
    statement = imported.json()["id"]
    first = (await lines(client, world, statement))[0]
    assert (first["booked_on"], first["amount"]) == ("2026-11-02", "50.00")
    assert (await match(client, world, statement, first["id"], wrong)).status_code == 201

    undone = await undo(client, world, statement, first["id"])
    assert undone.status_code == 200, undone.text
    line = undone.json()
    assert (line["status"], line["entries"], line["complete"]) == ("suggested", [], None)
    # The wrong entry is free again: suggested as before, not as if it were rejected.
    assert {s["entry"] for s in line["suggestions"]} == {wrong, right}
    assert [u["entries"] for u in line["undone"]] == [[wrong]]
    assert await matches(session_maker) == (0, 0, 0, 1)

    assert (await match(client, world, statement, first["id"], right)).status_code == 201
    listed = {line["id"]: line for line in await lines(client, world, statement)}
    assert listed[first["id"]]["entries"] == [right]
    assert [u["entries"] for u in listed[first["id"]]["undone"]] == [[wrong]]
    # Who confirmed it and who took it back are on record.
    async with session_maker() as session:
        record = (await session.scalars(select(BankMatchUndo))).one()
    assert (record.line_id, record.entries) == (first["id"], str(wrong))
    assert record.confirmed_by == record.undone_by == world.steward.user.id
    assert record.undone_at >= record.confirmed_at

    # A line that is not matched has nothing to undo; nothing changes.
    open_line = next(line for line in listed.values() if line["status"] != "matched")
    refused = await undo(client, world, statement, open_line["id"])
    assert refused.status_code == 409, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == ["line"]
    assert await matches(session_maker) == (1, 1, 1, 1)


async def test_a_line_of_an_entry_paid_in_parts_leaves_the_match_alone(
    client: Client, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    parts = await donate(client, world, "40.00", "2026-11-05")
    imported = await upload(client, world, (DATA / "utf8.csv").read_bytes(), mapping=MAPPING)
    statement = imported.json()["id"]
    twenties = [line for line in await lines(client, world, statement) if line["amount"] == "20.00"]
    for line in twenties:
        assert (await match(client, world, statement, line["id"], parts)).status_code == 201

    first = await undo(client, world, statement, twenties[0]["id"])
    assert first.status_code == 200, first.text
    listed = {line["id"]: line for line in await lines(client, world, statement)}
    # The other line keeps the entry, and the match waits for a line again.
    kept = listed[twenties[1]["id"]]
    assert (kept["status"], kept["entries"], kept["complete"]) == ("matched", [parts], False)
    assert await matches(session_maker) == (1, 1, 1, 1)
    # The line taken out joins the same match again by naming the same entry.
    assert (await match(client, world, statement, twenties[0]["id"], parts)).json()["complete"]

    for line in twenties:
        assert (await undo(client, world, statement, line["id"])).status_code == 200
    # The last line gone, the match is gone: its entry is free for other lines.
    assert await matches(session_maker) == (0, 0, 0, 3)
    assert (await match(client, world, statement, twenties[1]["id"], parts)).status_code == 201


async def test_a_match_a_reconciliation_closed_over_stays(
    client: Client, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    statement = await november(client, world)
    assert (await close(client, world, "2026-11-10", "70.00")).status_code == 201
    listed = await lines(client, world, statement["id"])
    closed_over, after = listed[1], listed[2]  # 10 and 28 November
    refused = await undo(client, world, statement["id"], closed_over["id"])
    assert refused.status_code == 409, refused.text
    assert "reconciled through 2026-11-10" in refused.json()["detail"]
    assert await matches(session_maker) == (3, 3, 3, 0)
    # A line after the closed day may still be taken out.
    assert (await undo(client, world, statement["id"], after["id"])).status_code == 200
    assert await matches(session_maker) == (2, 2, 2, 1)


async def test_only_a_steward_of_the_lines_group_undoes(
    client: Client, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    statement = await november(client, world)
    line = (await lines(client, world, statement["id"]))[0]
    for person, status in ((world.member, 403), (world.outsider, 403)):
        response = await undo(client, world, statement["id"], line["id"], person.headers)
        assert response.status_code == status, response.text
    missing = await undo(client, world, statement["id"], line["id"] + 1000)
    assert missing.status_code == 404
    assert await matches(session_maker) == (3, 3, 3, 0)


async def test_the_record_of_undone_matches_is_append_only(
    client: Client, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    statement = await november(client, world)
    line = (await lines(client, world, statement["id"]))[0]
    assert (await undo(client, world, statement["id"], line["id"])).status_code == 200
    for statement_text in (
        "UPDATE bank_match_undos SET entries = '1'",
        "DELETE FROM bank_match_undos",
    ):
        async with session_maker() as session:
            with pytest.raises((IntegrityError, DBAPIError), match="append-only"):
                await session.execute(text(statement_text))
    assert await matches(session_maker) == (2, 2, 2, 1)


async def test_the_statement_page_undoes_a_match_and_says_so(
    client: Client,
    world: World,
    session: AsyncSession,
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    statement = await november(client, world)
    line = (await lines(client, world, statement["id"]))[0]
    await give_password(session, world.steward)
    await log_in(client, world.steward)
    page_url = f"/m/{world.slug}/places/bank/statements/{statement['id']}"
    page = await client.get(page_url)
    assert page.status_code == 200, page.text
    assert page.text.count('value="undo"') == 3
    done = await post_form(
        client,
        f"{page_url}/lines/{line['id']}",
        {"action": "undo", "show": "all", "page": "1"},
        form_url=page_url,
    )
    assert done.status_code == 303, done.text
    assert done.headers["location"].endswith(f"#line-{line['id']}")
    after = text_of((await client.get(page_url)).text)
    assert "Taken out of a match with entry " in after
    assert (await client.get(page_url)).text.count('value="undo"') == 2
    assert await matches(session_maker) == (2, 2, 2, 1)
    # Once the books are closed over a line, its page says the match stays.
    seq = (await lines(client, world, statement["id"]))[0]["suggestions"][0]["entry"]
    assert (await match(client, world, statement["id"], line["id"], seq)).status_code == 201
    assert (await close(client, world, "2026-11-10", "70.00")).status_code == 201
    closed = await client.get(page_url)
    assert text_of(closed.text).count("Part of the reconciliation through") == 2
    assert closed.text.count('value="undo"') == 1


async def test_a_reconciliation_closed_after_the_place_was_read_still_counts(
    client: Client, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    """The place a request read before taking the log's lock may predate a reconciliation
    closed meanwhile: undoing a match reads the reconciled day under the lock (as
    withdrawing an import does, through the same ``bank.reconciled_through``)."""
    statement = await november(client, world)
    line_id = (await lines(client, world, statement["id"]))[0]["id"]
    async with session_maker() as session:
        group = await world.fresh_group(session)
        place = await service.get_place(session, group, "bank")
        line = await session.get(BankLine, line_id)
        await session.commit()  # the objects stay as they were read
        assert place.reconciled_through is None
        assert (await close(client, world, "2026-11-10", "70.00")).status_code == 201
        assert line is not None
        with pytest.raises(Conflict, match="reconciled through 2026-11-10"):
            await bank.undo_match(session, group, place, line, undone_by=None)
        await session.rollback()
    assert await matches(session_maker) == (3, 3, 3, 0)
