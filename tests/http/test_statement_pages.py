"""The stewards' statement pages, on both engines: a CSV with a mapping sent as JSON is
previewed, stored only when confirmed; lines are confirmed and
a credit made a donation from the page; a bad file sends the form back with a 422."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.settings import Settings
from ledger import bank
from ledger.models import BankStatement
from tests.http.test_statements import donate, lines, upload
from tests.support.clients import browser, csrf_of, give_password, text_of
from tests.support.people import World
from tests.unit.test_statements import UTF8

Client = AsyncTestClient[Litestar]
HTML = {"Accept": "text/html"}
DATA = Path(__file__).resolve().parents[1] / "data" / "statements"


async def test_a_steward_previews_imports_matches_and_makes_a_donation(
    client: Client, settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.steward)
    seq = (
        await client.post(
            f"/api/groups/{world.slug}/entries",
            json={"kind": "donation", "fund": "rent-relief", "amount": "50.00",
                  "occurred_on": "2026-11-02"},
            headers=world.steward.headers,
        )
    ).json()["seq"]  # fmt: skip
    base = f"/m/{world.slug}/places/bank/statements"
    content = (DATA / "utf8.csv").read_bytes()
    async with browser(settings, world.steward) as steward:
        form = await steward.get(base, headers=HTML)
        assert form.status_code == 200, form.text
        token = csrf_of(form.text)
        # Without a mapping, a CSV opens the mapping editor on its first lines, with a
        # guess that reads this file (tests/http/test_mapping_editor.py says more).
        bare = await steward.post(
            f"{base}/preview",
            data={"_csrf_token": token},
            files={"file": ("nov.csv", content, "text/csv")},
            headers=HTML,
        )
        assert bare.status_code == 200, bare.text
        assert "Counterparty" in text_of(bare.text)
        assert "María López" in text_of(bare.text)
        preview = await steward.post(
            f"{base}/preview",
            data={"_csrf_token": token, "mapping": msgspec.json.encode(UTF8).decode()},
            files={"file": ("nov.csv", content, "text/csv")},
            headers=HTML,
        )
        assert preview.status_code == 200, preview.text
        assert "8 lines read" in text_of(preview.text)
        assert await session.scalar(select(func.count()).select_from(BankStatement)) == 0
        await session.rollback()  # the test's own read lets the app write
        hidden = csrf_of(preview.text)
        content_field = preview.text.split('name="content" value="', 1)[1].split('"', 1)[0]
        imported = await steward.post(
            base,
            data={
                "_csrf_token": hidden,
                "content": content_field,
                "mapping": msgspec.json.encode(UTF8).decode(),
            },
            headers=HTML,
            follow_redirects=False,
        )
        assert imported.status_code == 303, imported.text
        lines_url = imported.headers["location"]
        page = await steward.get(lines_url, headers=HTML)
        assert page.status_code == 200, page.text
        assert f"#{seq}" in page.text
        lines = (
            await client.get(
                f"/api/groups/{world.slug}/places/bank/statements/1/lines",
                headers=world.steward.headers,
            )
        ).json()
        first, concert = lines[0], lines[-1]
        confirmed = await steward.post(
            f"{lines_url}/lines/{first['id']}",
            data={"_csrf_token": csrf_of(page.text), "action": "match", "entries": str(seq)},
            headers=HTML,
            follow_redirects=False,
        )
        assert confirmed.status_code == 303, confirmed.text
        donated = await steward.post(
            f"{lines_url}/lines/{concert['id']}",
            data={"_csrf_token": csrf_of(page.text), "action": "donation", "fund": "groceries"},
            headers=HTML,
            follow_redirects=False,
        )
        assert donated.status_code == 303, donated.text
        again = await steward.post(
            f"{lines_url}/lines/{concert['id']}",
            data={"_csrf_token": csrf_of(page.text), "action": "donation", "fund": "groceries"},
            headers=HTML,
        )
        assert again.status_code == 409
        after = text_of((await steward.get(lines_url, headers=HTML)).text)
        assert after.count("Matched with entry ") == 2  # one entry each
        steward.cookies.set("lang", "es")
        spanish = text_of((await steward.get(lines_url, headers=HTML)).text)
        assert spanish.count("Conciliado con el asiento ") == 2
        steward.cookies.delete("lang")
        home = text_of((await steward.get(f"/m/{world.slug}", headers=HTML)).text)
        assert "Bank account: 3 bank lines of money out without an entry" in home
        listing = text_of((await steward.get(base, headers=HTML)).text)
        assert "Money that left without an entry" in listing
        assert "8 lines, 8 new" in listing

        bad = await steward.post(
            f"{base}/preview",
            data={"_csrf_token": token},
            files={"file": ("bad.sta", (DATA / "mt940-bad-date.sta").read_bytes(), "text/plain")},
            headers=HTML,
        )
        assert bad.status_code == 422
        assert "Line 13" in text_of(bad.text)


def long_statement(count: int, sign: int = 1) -> bytes:
    """A CSV of ``count`` small gifts through November 2026 (``sign=-1``: payments out),
    as ``UTF8`` reads it."""
    rows = ["Date,Value date,Description,Counterparty,Reference,Amount,Balance"]
    for number in range(1, count + 1):
        day = f"2026-11-{1 + number * 29 // count:02d}"
        rows.append(
            f"{day},{day},Line {number},Party {number},REF-{number},{sign}.00,{sign * number}.00"
        )
    return ("\n".join(rows) + "\n").encode()


async def import_long_statement(
    client: Client, session: AsyncSession, world: World, count: int, sign: int = 1
) -> int:
    """``long_statement`` imported into the bank account (the steward may log in); its id."""
    await give_password(session, world.steward)
    await session.commit()
    mapping = msgspec.json.encode(UTF8).decode()
    imported = await upload(client, world, long_statement(count, sign), mapping=mapping)
    assert imported.status_code == 201, imported.text
    statement: int = imported.json()["id"]
    return statement


async def test_a_long_statement_is_shown_a_page_at_a_time_and_by_what_needs_a_steward(
    client: Client, settings: Settings, world: World, session: AsyncSession
) -> None:
    statement = await import_long_statement(client, session, world, 250)
    first_line = (await lines(client, world, statement))[0]
    seq = await donate(client, world, "1.00", first_line["booked_on"])
    lines_url = f"/m/{world.slug}/places/bank/statements/{statement}"
    async with browser(settings, world.steward) as steward:
        page = await steward.get(lines_url, headers=HTML)
        assert page.status_code == 200, page.text
        text = text_of(page.text)
        # The one gift recorded may be any of the lines of its first days.
        assert "Matched: 0. Suggested: 51. Unmatched: 199." in text
        assert "Lines 1 to 100 of 250, by day." in text
        assert "Page 1 of 3" in text
        assert page.text.count('<li class="card" id="line-') == 100
        assert f'href="{lines_url}?show=all&amp;page=2"' in page.text
        last = text_of((await steward.get(f"{lines_url}?page=3", headers=HTML)).text)
        assert "Lines 201 to 250 of 250, by day." in last
        assert "Later lines" not in last
        # A page past the last (its lines matched meanwhile) shows the last one.
        assert "Page 3 of 3" in text_of(
            (await steward.get(f"{lines_url}?page=9", headers=HTML)).text
        )

        # The suggestion confirmed from the second page of the open lines goes back there.
        open_page = await steward.get(f"{lines_url}?show=open", headers=HTML)
        assert "Needing a steward (250)" in text_of(open_page.text)
        confirmed = await steward.post(
            f"{lines_url}/lines/{first_line['id']}",
            data={
                "_csrf_token": csrf_of(open_page.text),
                "action": "match",
                "entries": str(seq),
                "show": "open",
                "page": "2",
            },
            headers=HTML,
            follow_redirects=False,
        )
        assert confirmed.status_code == 303, confirmed.text
        assert (
            confirmed.headers["location"] == f"{lines_url}?show=open&page=2#line-{first_line['id']}"
        )
        after = text_of((await steward.get(f"{lines_url}?show=open", headers=HTML)).text)
        assert "Matched: 1. Suggested: 0. Unmatched: 249." in after
        assert "Needing a steward (249)" in after
        assert "Lines 1 to 100 of 249, by day." in after

        for bad in ("?page=0", "?page=x", "?show=some", "?line=0", f"?line={'9' * 20}"):
            refused = await steward.get(f"{lines_url}{bad}", headers=HTML)
            assert refused.status_code == 400, bad

    api = f"/api/groups/{world.slug}/places/bank/statements/{statement}/lines"
    matched = await client.get(f"{api}?status=matched", headers=world.steward.headers)
    assert [line["id"] for line in matched.json()] == [first_line["id"]]
    unmatched = await client.get(f"{api}?status=unmatched", headers=world.steward.headers)
    assert len(unmatched.json()) == 249
    refused = await client.get(f"{api}?status=done", headers=world.steward.headers)
    assert refused.status_code == 400


async def test_money_out_without_an_entry_lists_the_oldest_lines_with_a_way_to_each(
    client: Client, settings: Settings, world: World, session: AsyncSession
) -> None:
    statement = await import_long_statement(client, session, world, 130, sign=-1)
    debits = await lines(client, world, statement)
    base = f"/m/{world.slug}/places/bank/statements"
    async with browser(settings, world.steward) as steward:
        listing = await steward.get(base, headers=HTML)
        text = text_of(listing.text)
        assert "130 bank lines of money out have no entry yet." in text
        assert "The oldest 20:" in text
        oldest = f"{base}/{statement}?show=open&amp;line={debits[0]['id']}#line-{debits[0]['id']}"
        assert oldest in listing.text
        assert f"line={debits[20]['id']}" not in listing.text
        # A line's link opens the page of its statement that shows it.
        late = debits[119]["id"]
        page = await steward.get(f"{base}/{statement}?show=open&line={late}", headers=HTML)
        assert f'id="line-{late}"' in page.text
        assert "Lines 101 to 130 of 130, by day." in text_of(page.text)


async def pages_of(client: Client, url: str, headers: dict[str, str]) -> list[list[dict[str, Any]]]:
    """The pages of lines from ``url`` on, each page's ``Link`` followed to the next."""
    pages: list[list[dict[str, Any]]] = []
    while url:
        page = await client.get(url, headers=headers)
        assert page.status_code == 200, page.text
        pages.append(page.json())
        link = page.headers.get("link", "")
        assert not link or link.endswith('>; rel="next"')
        url = link[1 : link.index(">")] if link else ""
    return pages


async def test_the_api_pages_a_statements_lines_by_day_after_the_last_one_sent(
    client: Client, session: AsyncSession, world: World
) -> None:
    statement = await import_long_statement(client, session, world, 250)
    api = f"/api/groups/{world.slug}/places/bank/statements/{statement}/lines"
    steward = world.steward.headers
    answer = await client.get(api, headers=steward)
    assert "link" not in answer.headers  # without a limit: every line, as before
    whole = [line["id"] for line in answer.json()]
    assert len(whole) == 250

    async def paged(url: str) -> list[list[int]]:
        return [[line["id"] for line in page] for page in await pages_of(client, url, steward)]

    pages = await paged(f"{api}?limit=100")
    assert [len(page) for page in pages] == [100, 100, 50]
    assert [line for page in pages for line in page] == whole
    # A filter by status pages too, and its next address keeps the filter.
    first = (await lines(client, world, statement))[0]
    await donate(client, world, "1.00", first["booked_on"])
    unmatched = [
        line["id"] for line in (await client.get(f"{api}?status=unmatched", headers=steward)).json()
    ]
    pages = await paged(f"{api}?status=unmatched&limit=120")
    assert [line for page in pages for line in page] == unmatched
    assert len(pages) == 2
    # A line not in the statement's period; a limit out of range.
    assert (await client.get(f"{api}?after=999999", headers=steward)).status_code == 422
    assert (await client.get(f"{api}?limit=0", headers=steward)).status_code == 400
    assert (await client.get(f"{api}?limit=5001", headers=steward)).status_code == 400


async def test_pages_of_each_status_hold_what_the_whole_list_holds_read_part_by_part(
    client: Client, session: AsyncSession, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A few lines read at a time: a page of one status then takes several parts.
    monkeypatch.setattr(bank, "_PAGE_PART", 4)
    statement = await import_long_statement(client, session, world, 60)
    api = f"/api/groups/{world.slug}/places/bank/statements/{statement}/lines"
    steward = world.steward.headers
    first, *rest = await lines(client, world, statement)
    seq = await donate(client, world, "1.00", first["booked_on"])
    confirmed = await client.post(
        f"{api}/{first['id']}/match", json={"entries": [seq]}, headers=steward
    )
    assert confirmed.status_code == 201, confirmed.text
    await donate(client, world, "1.00", rest[30]["booked_on"])
    whole = (await client.get(api, headers=steward)).json()
    assert {line["status"] for line in whole} == {"matched", "suggested", "unmatched"}
    for status in (None, "matched", "suggested", "unmatched"):
        wanted = [line for line in whole if status in (None, line["status"])]
        for limit in (2, 7, 64):
            query = f"limit={limit}" + (f"&status={status}" if status else "")
            pages = await pages_of(client, f"{api}?{query}", steward)
            assert [line for page in pages for line in page] == wanted, (status, limit)
            assert [len(page) for page in pages[:-1]] == [limit] * (len(pages) - 1)
            assert 1 <= len(pages[-1]) <= limit
