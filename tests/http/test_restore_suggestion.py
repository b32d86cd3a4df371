"""Taking back a suggestion rejected by mistake ("Not this one" on the wrong entry), through
the API and the steward's page, on both engines: each line lists what was rejected for it;
taken back, the entry is suggested again and can be confirmed; an entry that was not
rejected, or a line of another group, is refused and changes nothing."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ledger.models import BankMatch, RejectedSuggestion
from tests.http.test_reconciliations import november
from tests.http.test_statements import lines, url
from tests.support.clients import give_password, log_in, post_form, text_of
from tests.support.databases import rows_in
from tests.support.people import World

Client = AsyncTestClient[Litestar]


async def reject(client: Client, world: World, statement: int, line: int, entry: int) -> Any:
    return await client.post(
        url(world, f"/statements/{statement}/lines/{line}/reject"),
        json={"entry": entry},
        headers=world.steward.headers,
    )


async def restore(
    client: Client,
    world: World,
    statement: int,
    line: int,
    entry: int,
    headers: dict[str, str] | None = None,
) -> Any:
    return await client.delete(
        url(world, f"/statements/{statement}/lines/{line}/rejections/{entry}"),
        headers=headers if headers is not None else world.steward.headers,
    )


async def stored(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, ...]:
    """How many rejections and matches are stored."""
    return await rows_in(sessions, RejectedSuggestion, BankMatch)


async def test_a_rejection_made_by_mistake_is_taken_back_and_the_entry_confirmed(
    client: Client, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    statement = (await november(client, world, match=False))["id"]
    first = (await lines(client, world, statement))[0]
    assert (first["status"], first["rejected"]) == ("suggested", [])
    right = first["suggestions"][0]["entry"]

    rejected = await reject(client, world, statement, first["id"], right)
    assert rejected.status_code == 201, rejected.text
    line = rejected.json()
    assert right not in [s["entry"] for s in line["suggestions"]]
    assert [r["entry"] for r in line["rejected"]] == [right]
    assert await stored(session_maker) == (1, 0)

    restored = await restore(client, world, statement, first["id"], right)
    assert restored.status_code == 200, restored.text
    line = restored.json()
    assert (line["status"], line["rejected"]) == ("suggested", [])
    assert line["suggestions"][0]["entry"] == right
    assert await stored(session_maker) == (0, 0)
    matched = await client.post(
        url(world, f"/statements/{statement}/lines/{first['id']}/match"),
        json={"entries": [right]},
        headers=world.steward.headers,
    )
    assert matched.status_code == 201, matched.text

    # Taken back twice: the second time there is nothing to take back, and nothing changes.
    again = await restore(client, world, statement, first["id"], right)
    assert again.status_code == 404, again.text
    assert [e["field"] for e in again.json()["errors"]] == ["entry"]
    assert await stored(session_maker) == (0, 1)


async def test_rejections_are_listed_in_order_and_taken_back_one_by_one(
    client: Client, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    statement = (await november(client, world, match=False))["id"]
    listed = await lines(client, world, statement)
    first, second = listed[0], listed[1]
    # Entries of other amounts may be rejected too: a steward says what is not the line.
    others = [line["suggestions"][0]["entry"] for line in listed[1:]]
    for entry in others:
        assert (await reject(client, world, statement, first["id"], entry)).status_code == 201
    line = (await lines(client, world, statement))[0]
    assert [r["entry"] for r in line["rejected"]] == others
    # Another line's rejections are its own.
    assert (await lines(client, world, statement))[1]["rejected"] == []
    wrong_line = await restore(client, world, statement, second["id"], others[0])
    assert wrong_line.status_code == 404
    assert await stored(session_maker) == (2, 0)

    assert (await restore(client, world, statement, first["id"], others[0])).status_code == 200
    line = (await lines(client, world, statement))[0]
    assert [r["entry"] for r in line["rejected"]] == others[1:]
    assert await stored(session_maker) == (1, 0)


async def test_only_a_steward_of_the_lines_group_takes_a_rejection_back(
    client: Client, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    statement = (await november(client, world, match=False))["id"]
    first = (await lines(client, world, statement))[0]
    entry = first["suggestions"][0]["entry"]
    assert (await reject(client, world, statement, first["id"], entry)).status_code == 201
    for person in (world.member, world.outsider):
        response = await restore(client, world, statement, first["id"], entry, person.headers)
        assert response.status_code == 403, response.text
    missing = await restore(client, world, statement, first["id"] + 1000, entry)
    assert missing.status_code == 404
    assert await stored(session_maker) == (1, 0)


async def test_the_statement_page_lists_rejections_and_suggests_an_entry_again(
    client: Client,
    world: World,
    session: AsyncSession,
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    statement = (await november(client, world, match=False))["id"]
    first = (await lines(client, world, statement))[0]
    entry = first["suggestions"][0]["entry"]
    await give_password(session, world.steward)
    await log_in(client, world.steward)
    page_url = f"/m/{world.slug}/places/bank/statements/{statement}"
    assert 'value="restore"' not in (await client.get(page_url)).text

    rejected = await post_form(
        client,
        f"{page_url}/lines/{first['id']}",
        {"action": "reject", "entry": str(entry), "show": "open", "page": "1"},
        form_url=page_url,
    )
    assert rejected.status_code == 303, rejected.text
    page = await client.get(page_url)
    assert page.text.count('value="restore"') == 1
    assert f"#{entry}, on " in text_of(page.text)
    assert "Entries a steward said are not this line:" in text_of(page.text)

    restored = await post_form(
        client,
        f"{page_url}/lines/{first['id']}",
        {"action": "restore", "entry": str(entry), "show": "open", "page": "1"},
        form_url=page_url,
    )
    assert restored.status_code == 303, restored.text
    assert restored.headers["location"].endswith(f"?show=open#line-{first['id']}")
    assert 'value="restore"' not in (await client.get(page_url)).text
    assert await stored(session_maker) == (0, 0)

    # A number that was not rejected, or that no entry can have, is refused on the page;
    # so is such a number for a rejection or a match.
    for action, field, typed, status in (
        ("restore", "entry", str(entry), 404),
        ("restore", "entry", "99999999999999999999999", 422),
        ("restore", "entry", "x", 422),
        ("restore", "entry", "0", 422),
        ("reject", "entry", "99999999999999999999999", 422),
        ("match", "entries", f"{entry}, 99999999999999999999999", 422),
    ):
        refused = await post_form(
            client,
            f"{page_url}/lines/{first['id']}",
            {"action": action, field: typed},
            form_url=page_url,
        )
        assert refused.status_code == status, (action, typed, refused.text)
    assert "No entry has the number 99999999999999999999999." in text_of(refused.text)
    assert await stored(session_maker) == (0, 0)
