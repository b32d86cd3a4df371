"""The public pages: the directory, a group's transparency page, its ledger and its feed;
private groups stay hidden; the integrity seal is cached by the log it checked."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text as sql
from sqlalchemy.ext.asyncio import AsyncSession

from app.presenters.formatting import Formatter
from app.settings import Settings
from app.web import verification as verification_module
from app.web.chart import balance_chart
from app.web.groups import _xml_safe
from app.web.verification import VerificationKeeper
from ledger import groups, queries, service
from ledger.kept import Kept
from ledger.queries import BalancePoint
from ledger.verify import verify_group
from tests.support.clients import browser, give_password, record_entry, text_of
from tests.support.people import World, build_world

Client = AsyncTestClient[Litestar]
HTML = {"Accept": "text/html"}
ATOM = "{http://www.w3.org/2005/Atom}"


async def record(client: Client, world: World, body: dict[str, Any]) -> dict[str, Any]:
    return await record_entry(client, world, body)


async def donate(
    client: Client, world: World, amount: str, fund: str = "groceries", **extra: str
) -> int:
    entry = await record(
        client, world, {"kind": "donation", "fund": fund, "amount": amount, **extra}
    )
    return int(entry["seq"])


def seqs_on(html: str) -> list[int]:
    return [int(seq) for seq in re.findall(r'<li class="entry[^"]*" id="entry-(\d+)"', html)]


# --- the directory -------------------------------------------------------------------------


async def test_directory_lists_public_groups_with_totals_and_never_a_private_one(
    client: Client, world: World, session: AsyncSession
) -> None:
    hidden = await build_world(session, slug="hidden-fund", public=False)
    await donate(client, world, "12.50")
    await donate(client, hidden, "99.00")
    page = await client.get("/", headers=HTML)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    text = text_of(page.text)
    assert "Rent Fund" in text
    assert "Holds €12.50" in text
    assert "Entries 1" in text
    assert 'href="/g/rent-fund"' in page.text
    assert "hidden-fund" not in page.text
    assert "€99.00" not in text
    # Searching by the private group's name finds nothing either.
    hidden_group = await hidden.fresh_group(session)
    hidden_group.name = "Secret Circle"
    await session.commit()
    search = await client.get("/?q=secret", headers=HTML)
    assert "Secret Circle" not in search.text
    assert "No group's name matches" in search.text


async def test_directory_search_matches_names_and_pages_by_name(
    client: Client, world: World, session: AsyncSession
) -> None:
    for slug in ("alpha-pod", "beta-pod", "gamma-fridge"):
        other = await build_world(session, slug=slug)
        (await other.fresh_group(session)).name = slug.replace("-", " ").title()
    await session.commit()
    found = text_of((await client.get("/?q=POD", headers=HTML)).text)
    assert "Alpha Pod" in found
    assert "Beta Pod" in found
    assert "Gamma Fridge" not in found
    assert "Rent Fund" not in found
    wildcard = text_of((await client.get("/?q=%25", headers=HTML)).text)
    assert "No group's name matches" in wildcard  # % is a character, not a wildcard
    first, after = await queries.public_groups(session, limit=2)
    assert [g.slug for g in first] == ["alpha-pod", "beta-pod"]
    assert after == "beta-pod"
    rest, end = await queries.public_groups(session, after=after, limit=2)
    await session.commit()  # end the read: on SQLite it holds the write lock
    assert [g.slug for g in rest] == ["gamma-fridge", "rent-fund"]
    assert end is None
    page = await client.get(f"/?after={after}", headers=HTML)
    assert "Gamma Fridge" in page.text
    assert "Alpha Pod" not in page.text


# --- a group's page --------------------------------------------------------------------------


async def test_group_page_shows_funds_chart_entries_seal_and_links(
    client: Client, world: World
) -> None:
    await donate(client, world, "500.00", fund="rent-relief", memo="Benefit gig")
    await record(
        client,
        world,
        {"kind": "disbursement", "fund": "rent-relief", "amount": "120.50", "counterparty": "R-17"},
    )
    head = await record(
        client,
        world,
        {"kind": "transfer", "from_fund": "rent-relief", "to_fund": "groceries", "amount": "79.50"},
    )
    page = await client.get(f"/g/{world.slug}", headers=HTML)
    assert page.status_code == 200
    text = text_of(page.text)
    assert "<h1>Rent Fund</h1>" in page.text
    assert "Rent relief €300.00 €0.00 €300.00" in text  # balance, committed, available
    assert "Groceries €79.50 €0.00 €79.50" in text
    # One chart per fund: an image with a text alternative, and a table of its data.
    assert page.text.count('role="img"') == 2
    assert 'aria-labelledby="chart-caption-rent-relief"' in page.text
    assert "Balance of Rent relief since its first entry" in text
    assert "€300.00 now" in text
    assert "highest €500.00" in text
    assert "Balance at the end of each month" in text
    # Newest entries, newest first, in words.
    # (Entry 2 is the decision adopting the policy the payment is made under.)
    assert seqs_on(page.text) == [4, 3, 1]
    assert "Transfer of €79.50 from Rent relief to Groceries" in text
    assert "Payment of €120.50 from Rent relief" in text
    assert "To: R-17" in text
    assert "Benefit gig" in text
    assert "−€120.50" in text
    # The seal, the checkpoint and the ways to check it all.
    assert "Verified: 4 entries" in text  # and the decision adopting the policy
    assert head["hash"] in page.text
    assert "Latest signed checkpoint: 4 entries" in text
    for link in (
        f"/api/groups/{world.slug}/export.csv",
        f"/api/groups/{world.slug}/export.jsonl",
        f"/api/groups/{world.slug}/verify",
        f"/api/groups/{world.slug}/checkpoint",
        "/.well-known/commonpurse-key",
        f"/g/{world.slug}/feed.atom",
        f"/g/{world.slug}/follow",
    ):
        assert f'href="{link}"' in page.text, link


async def test_group_page_of_an_empty_group_says_so(client: Client, world: World) -> None:
    page = await client.get(f"/g/{world.slug}", headers=HTML)
    assert page.status_code == 200
    text = text_of(page.text)
    assert "Nothing has been recorded yet." in text
    assert "No money has moved in Groceries yet." in text
    assert "Verified: 0 entries" in text


async def test_private_group_pages_answer_404_to_everyone_but_members(
    settings: Settings, client: Client, session: AsyncSession
) -> None:
    hidden = await build_world(session, slug="hidden-fund", public=False)
    await donate(client, hidden, "10.00")
    await give_password(session, hidden.member, hidden.outsider)
    paths = ("/g/hidden-fund", "/g/hidden-fund/ledger", "/g/hidden-fund/feed.atom")
    for path in paths:
        anonymous = await client.get(path, headers=HTML)
        assert anonymous.status_code == 404, path
        assert "Hidden" not in anonymous.text
        assert "€10.00" not in anonymous.text
    async with browser(settings, hidden.outsider) as outsider:
        for path in (*paths, "/m/hidden-fund", "/m/hidden-fund/record/donation"):
            refused = await outsider.get(path, headers=HTML)
            assert refused.status_code == 404, path
        assert "hidden-fund" not in (await outsider.get("/", headers=HTML)).text
    async with browser(settings, hidden.member) as member:
        for path in paths:
            allowed = await member.get(path, headers=HTML)
            assert allowed.status_code == 200, path
        page = await member.get("/g/hidden-fund", headers=HTML)
        assert "Private group" in page.text
        assert "hidden-fund" not in (await member.get("/", headers=HTML)).text


async def test_unknown_group_and_page_get_a_friendly_404_page(client: Client) -> None:
    for path in ("/g/no-such-group", "/g/no-such-group/ledger", "/no/such/page"):
        response = await client.get(path, headers=HTML)
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/html")
        assert "Page not found" in response.text
        assert 'href="/"' in response.text
        assert "Traceback" not in response.text


async def test_a_page_no_route_has_shows_a_logged_in_member_the_way_to_their_groups(
    settings: Settings, client: Client, world: World, session: AsyncSession
) -> None:
    """No one is looked up for an address no route has: the page must not tell a member
    with a session to log in, nor leave them without the way back to their groups."""
    await give_password(session, world.member)
    async with browser(settings, world.member) as member:
        for path in ("/no/such/page", f"/m/{world.slug}/places/bank/reconciliations"):
            page = await member.get(path, headers=HTML)
            assert page.status_code in (404, 405)
            assert 'href="/login"' not in page.text
            assert "Go to your groups" in text_of(page.text)
    anonymous = await client.get("/no/such/page", headers=HTML)
    assert 'href="/login"' in anonymous.text
    assert "Go to your groups" not in text_of(anonymous.text)


async def test_a_form_address_opened_by_itself_says_how_to_send_the_form(
    client: Client, world: World
) -> None:
    """A bookmark or the address bar opens a form's address with GET: the page says what to
    do, in the visitor's language, and not the request's method in English."""
    path = f"/m/{world.slug}/places/bank/reconciliations"
    for language, words in (
        ("en", "Go back to the page the form is on and send it from there."),
        ("es", "Vuelve a la página del formulario y envíalo desde allí."),
    ):
        response = await client.get(path, headers={**HTML, "Accept-Language": language})
        assert response.status_code == 405
        assert words in text_of(response.text)
        assert "GET is not allowed" not in response.text
    # A program still reads what was wrong.
    problem = await client.get(path)
    assert problem.json()["detail"] == f"GET is not allowed at {path}."


# --- the ledger ------------------------------------------------------------------------------


async def test_ledger_pages_walk_every_entry_once_without_offset(
    client: Client, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    for amount in range(1, 8):
        await donate(client, world, f"{amount}.00")
    await donate(client, world, "1.00", fund="rent-relief")
    monkeypatch.setattr(queries, "LEDGER_PAGE", 3)
    seen: list[list[int]] = []
    url = f"/g/{world.slug}/ledger?fund=groceries"
    while url:
        page = await client.get(url, headers=HTML)
        assert page.status_code == 200
        seen.append(seqs_on(page.text))
        older = re.search(r'rel="next" href="([^"]+)"', page.text)
        url = older.group(1).replace("&amp;", "&") if older else ""
    assert seen == [[7, 6, 5], [4, 3, 2], [1]]


async def test_ledger_filters_by_fund_kind_and_dates(client: Client, world: World) -> None:
    await donate(client, world, "10.00", occurred_on="2026-01-10")
    await donate(client, world, "20.00", fund="rent-relief", occurred_on="2026-02-10")
    await record(
        client,
        world,
        {
            "kind": "disbursement",
            "fund": "groceries",
            "amount": "5.00",
            "occurred_on": "2026-03-10",
        },
    )
    base = f"/g/{world.slug}/ledger"
    # Entry 3 is the decision adopting the policy the payment is made under: the ledger
    # page lists the money, the decision is shown with its proposal.
    assert seqs_on((await client.get(base)).text) == [4, 2, 1]
    assert seqs_on((await client.get(f"{base}?fund=groceries")).text) == [4, 1]
    assert seqs_on((await client.get(f"{base}?kind=donation")).text) == [2, 1]
    assert seqs_on((await client.get(f"{base}?kind=disbursement")).text) == [4]
    assert seqs_on((await client.get(f"{base}?from=2026-02-01")).text) == [4, 2]
    assert seqs_on((await client.get(f"{base}?to=2026-02-10")).text) == [2, 1]
    assert seqs_on((await client.get(f"{base}?from=2026-02-01&to=2026-02-28")).text) == [2]
    assert seqs_on((await client.get(f"{base}?fund=groceries&kind=donation")).text) == [1]
    assert seqs_on((await client.get(f"{base}?before=3")).text) == [2, 1]
    nothing = await client.get(f"{base}?kind=reversal")
    assert "No entries match these filters." in nothing.text
    kept = await client.get(f"{base}?fund=groceries&kind=donation")
    assert '<option value="groceries" selected>' in kept.text
    assert '<option value="donation" selected>' in kept.text


async def test_ledger_explains_bad_filters_next_to_their_fields(
    client: Client, world: World
) -> None:
    response = await client.get(
        f"/g/{world.slug}/ledger?fund=nope&kind=gift&from=2026-13-01&to=yesterday", headers=HTML
    )
    assert response.status_code == 400
    text = text_of(response.text)
    assert "Choose one of the group's funds." in text
    assert "Choose one of the kinds listed." in text
    assert text.count("Write the date as YYYY-MM-DD") == 2
    assert 'aria-invalid="true"' in response.text
    assert 'value="2026-13-01"' in response.text  # the input is kept
    backwards = await client.get(f"/g/{world.slug}/ledger?from=2026-03-01&to=2026-02-01")
    assert backwards.status_code == 400
    assert "The end date is before the start date." in backwards.text
    broken = await client.get(f"/g/{world.slug}/ledger?before=99999999999999999999999")
    assert broken.status_code in (400, 404)


async def test_reversals_are_shown_next_to_what_they_reverse(client: Client, world: World) -> None:
    await donate(client, world, "10.00", memo="Bucket collection")
    await record(client, world, {"kind": "reversal", "reverses": 1, "memo": "Counted twice"})
    page = await client.get(f"/g/{world.slug}/ledger", headers=HTML)
    text = text_of(page.text)
    assert "Reversal of entry #1" in text
    assert "Undoes entry #1 : Donation of €10.00 to Groceries" in text
    assert "Reversed by entry #2 : Counted twice" in text
    assert f'href="/g/{world.slug}/ledger?before=2#entry-1"' in page.text
    assert f'href="/g/{world.slug}/ledger?before=3#entry-2"' in page.text
    assert "entry--reversed" in page.text


async def test_amounts_follow_the_currency_and_the_instance_locale(
    settings: Any, world: World, session: AsyncSession
) -> None:
    group = await groups.create_group(
        session, slug="yen-fund", name="Yen Fund", currency="JPY", admin=world.admin.user
    )
    from ledger import service
    from ledger.schemas import DonationIn, FundIn

    await service.create_fund(session, group, FundIn(slug="food", name="Food"))
    await service.record_entry(
        session, group, DonationIn(fund="food", amount="1234567"), recorded_by=None
    )
    await session.commit()
    from dataclasses import replace

    from app.asgi import create_app

    german = replace(settings, extra={**settings.extra, "LOCALE": "de_DE"})
    async with AsyncTestClient(app=create_app(german), base_url="http://testserver.local") as c:
        text = text_of((await c.get("/g/yen-fund/ledger", headers=HTML)).text)
        assert "+1.234.567 ¥" in text
    async with AsyncTestClient(app=create_app(settings), base_url="http://testserver.local") as c:
        text = text_of((await c.get("/g/yen-fund/ledger", headers=HTML)).text)
        assert "+¥1,234,567" in text


async def test_group_page_sums_what_is_held_and_what_came_in_and_went_out_by_month(
    client: Client, world: World
) -> None:
    today = date.today()
    last_month = (today.replace(day=1) - timedelta(days=1)).replace(day=5)
    await donate(client, world, "100.00", fund="rent-relief", occurred_on=last_month.isoformat())
    await donate(client, world, "10.00")
    await record(client, world, {"kind": "disbursement", "fund": "groceries", "amount": "4.00"})
    # Moving money between funds is neither in nor out of the group.
    await record(
        client,
        world,
        {"kind": "transfer", "from_fund": "rent-relief", "to_fund": "groceries", "amount": "30.00"},
    )
    page = await client.get(f"/g/{world.slug}", headers=HTML)
    text = text_of(page.text)
    assert "In all: €106.00" in text
    fmt = Formatter()
    assert f"{fmt.month(today)} €10.00 €4.00" in text
    assert f"{fmt.month(last_month)} €100.00 €0.00" in text


async def test_the_months_in_and_out_are_right_as_the_log_grows_whatever_was_summed_before(
    client: Client, world: World, session: AsyncSession
) -> None:
    """The days' sums are kept per log and grown by the entries after them (``ledger.kept``):
    each read must equal a sum made from nothing, including an entry back-dated into last
    month and a reversal, and a kept sum of another log must not be taken."""
    this_month = date.today().replace(day=1)
    last_month = (this_month - timedelta(days=1)).replace(day=1)

    async def flows() -> list[tuple[date, int, int]]:
        await session.rollback()  # see what the requests committed
        group = await groups.get_group(session, world.slug)
        kept = await queries.monthly_flows(session, group, last_month)
        queries.DAILY_FLOWS.forget()
        assert await queries.monthly_flows(session, group, last_month) == kept  # from nothing
        await session.rollback()  # the next request may write (SQLite: one writer)
        return [(flow.month, flow.money_in, flow.money_out) for flow in kept]

    assert await flows() == []
    await donate(client, world, "10.00")
    assert await flows() == [(this_month, 1000, 0)]
    back = await donate(
        client, world, "100.00", occurred_on=(last_month.replace(day=5)).isoformat()
    )
    assert await flows() == [(last_month, 10000, 0), (this_month, 1000, 0)]
    await record(client, world, {"kind": "disbursement", "fund": "groceries", "amount": "4.00"})
    await record(client, world, {"kind": "reversal", "reverses": back, "memo": "bounced"})
    await record(
        client,
        world,
        {"kind": "transfer", "from_fund": "groceries", "to_fund": "rent-relief", "amount": "1.00"},
    )
    assert await flows() == [(last_month, 10000, 0), (this_month, 1000, 10400)]
    # A sum kept of another database's log, at a size this log has passed, and at one it
    # has not reached.
    group_id = (await groups.get_group(session, world.slug)).id
    await session.rollback()
    for size in (2, 999):
        (key,) = [key for key in queries.DAILY_FLOWS._kept if key[1] == group_id]
        queries.DAILY_FLOWS._kept[key] = Kept(size, "0" * 64, {(this_month, "EUR"): (1, 1)})
        assert await flows() == [(last_month, 10000, 0), (this_month, 1000, 10400)]


async def test_ledger_of_one_fund_shows_its_running_balance_after_each_entry(
    client: Client, world: World
) -> None:
    await donate(client, world, "10.00")
    await donate(client, world, "100.00", fund="rent-relief")
    await record(
        client,
        world,
        {"kind": "transfer", "from_fund": "rent-relief", "to_fund": "groceries", "amount": "30.00"},
    )
    await record(client, world, {"kind": "disbursement", "fund": "groceries", "amount": "4.00"})
    page = await client.get(f"/g/{world.slug}/ledger?fund=groceries", headers=HTML)
    balances = re.findall(r'<strong class="entry__balance">([^<]+)</strong>', page.text)
    assert balances == ["€36.00", "€40.00", "€10.00"]  # newest first
    assert "Groceries after: €36.00" in text_of(page.text)
    rent = await client.get(f"/g/{world.slug}/ledger?fund=rent-relief", headers=HTML)
    assert re.findall(r'<strong class="entry__balance">([^<]+)</strong>', rent.text) == [
        "€70.00",
        "€100.00",
    ]
    # Unfiltered, entries move several funds: no single running balance.
    everything = await client.get(f"/g/{world.slug}/ledger", headers=HTML)
    assert "entry__balance" not in everything.text


async def test_group_page_picks_the_audit_statements_period_and_a_bad_day_gets_a_page(
    client: Client, world: World
) -> None:
    await donate(client, world, "10.00")
    page = await client.get(f"/g/{world.slug}", headers=HTML)
    assert f'action="/g/{world.slug}/audit.pdf" method="get"' in page.text
    assert 'name="from" type="date"' in page.text
    assert 'name="to" type="date"' in page.text
    # Fields left blank mean the whole ledger so far.
    blank = await client.get(f"/g/{world.slug}/audit.pdf?from=&to=", headers=HTML)
    assert blank.status_code == 200
    assert blank.headers["content-type"] == "application/pdf"
    # A browser typing a bad day gets a page saying what to fix, not a JSON problem.
    bad = await client.get(f"/g/{world.slug}/audit.pdf?from=2026-13-40", headers=HTML)
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("text/html")
    assert "from" in text_of(bad.text)
    assert "YYYY-MM-DD" in text_of(bad.text) or "2026-13-40" in text_of(bad.text)
    backwards = await client.get(
        f"/g/{world.slug}/audit.pdf?from=2026-01-02&to=2026-01-01", headers=HTML
    )
    assert backwards.status_code == 422
    assert "'from' must not be after 'to'" in text_of(backwards.text)


# --- the feed --------------------------------------------------------------------------------


async def test_follow_page_explains_the_feed_and_gives_its_address_to_copy(
    client: Client, world: World
) -> None:
    # A browser opening the feed shows raw XML: people are led to this page instead.
    response = await client.get(f"/g/{world.slug}/follow", headers=HTML)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    text = text_of(response.text)
    assert "feed reader" in text
    feed_url = f"http://testserver.local/g/{world.slug}/feed.atom"
    assert f'value="{feed_url}"' in response.text
    assert "readonly" in response.text
    assert f'href="/g/{world.slug}/ledger"' in response.text
    assert (await client.get("/g/no-such-group/follow", headers=HTML)).status_code == 404


async def test_feed_is_valid_atom_with_the_newest_entries(client: Client, world: World) -> None:
    await donate(client, world, "10.00", memo="Soup & bread <night>")
    await record(client, world, {"kind": "disbursement", "fund": "groceries", "amount": "4.00"})
    response = await client.get(f"/g/{world.slug}/feed.atom")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/atom+xml")
    feed = ET.fromstring(response.content)
    assert feed.tag == f"{ATOM}feed"
    for required in ("id", "title", "updated", "author"):
        assert feed.find(f"{ATOM}{required}") is not None, required
    assert feed.findtext(f"{ATOM}id", "").startswith("urn:uuid:")
    self_link = feed.find(f"{ATOM}link[@rel='self']")
    assert self_link is not None
    assert self_link.get("href") == f"http://testserver.local/g/{world.slug}/feed.atom"
    entries = feed.findall(f"{ATOM}entry")
    # The payment was made under a spending policy adopted just before it: a decision.
    assert [e.findtext(f"{ATOM}title") for e in entries] == [
        "Payment of €4.00 from Groceries",
        "Proposal 1 passed: Everyday payments from groceries",
        "Donation of €10.00 to Groceries",
    ]
    for entry in entries:
        assert entry.findtext(f"{ATOM}id", "").startswith("urn:uuid:")
        updated = entry.findtext(f"{ATOM}updated", "")
        assert datetime.fromisoformat(updated.replace("Z", "+00:00")).tzinfo is not None
        link = entry.find(f"{ATOM}link")
        assert link is not None
        assert link.get("href", "").startswith(
            (
                "http://testserver.local/g/rent-fund/ledger",
                "http://testserver.local/g/rent-fund/proposals/1",
            )
        )
    assert "Soup & bread <night>" in (entries[2].findtext(f"{ATOM}content") or "")
    assert len({e.findtext(f"{ATOM}id") for e in entries}) == 3


def test_feed_drops_characters_xml_cannot_carry() -> None:
    # The ledger refuses control characters now; the feed stays well-formed regardless.
    assert _xml_safe("bell\x07 and form\x0cfeed\ttab\uffff") == "bell and formfeed\ttab"
    cleaned = _xml_safe("a\x00b\x1fc")
    assert ET.fromstring(f"<t>{cleaned}</t>").text == "abc"


# --- safety of every response ------------------------------------------------------------------


async def test_every_response_carries_the_security_headers(client: Client, world: World) -> None:
    for path in (
        "/",
        f"/g/{world.slug}",
        "/login",
        "/no-such-page",
        "/api/groups/rent-fund/funds",
        "/static/site.css",
        f"/g/{world.slug}/feed.atom",
    ):
        response = await client.get(path, headers=HTML)
        csp = response.headers.get("content-security-policy", "")
        assert "frame-ancestors 'none'" in csp, path
        assert "script-src 'self'" in csp, path
        assert "unsafe-inline" not in csp, path
        assert response.headers["x-content-type-options"] == "nosniff", path
        assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin", path
    schema = await client.get("/schema")
    assert schema.headers["content-security-policy"] == response.headers["content-security-policy"]


async def test_api_reference_is_a_page_of_our_own_that_works_offline(client: Client) -> None:
    # Litestar's viewers load scripts and fonts from a CDN: offline the page was blank.
    reference = await client.get("/schema", headers=HTML)
    assert reference.status_code == 200
    assert reference.headers["content-type"].startswith("text/html")
    assert "<script" not in reference.text
    assert re.findall(r'(?:src|href)="(?:https?:)?//', reference.text) == []
    assert "unsafe-inline" not in reference.headers["content-security-policy"]
    text = text_of(reference.text)
    # Every operation of the schema is on the page, with its statuses and its bodies' shapes.
    schema = (await client.get("/schema/openapi.json")).json()
    for path, item in schema["paths"].items():
        for method in item:
            assert f"{method.upper()} {path}" in text, (method, path)
    assert "POST /api/groups/{group}/entries" in text
    assert "422" in text
    assert 'id="shape-Problem"' in reference.text
    assert 'href="/schema/openapi.json"' in reference.text


async def test_pages_have_no_inline_scripts_or_styles(client: Client, world: World) -> None:
    await donate(client, world, "3.00")
    for path in ("/", f"/g/{world.slug}", f"/g/{world.slug}/ledger", "/login", "/nope"):
        html = (await client.get(path, headers=HTML)).text
        assert "<script" not in html, path
        assert "style=" not in html, path
        assert "<style" not in html, path
        assert '<html lang="en">' in html, path
        assert 'href="#main"' in html, path
        assert '<main id="main"' in html, path


async def test_public_pages_set_no_cookie_for_anonymous_visitors(
    client: Client, world: World
) -> None:
    for path in ("/", f"/g/{world.slug}", f"/g/{world.slug}/ledger", f"/g/{world.slug}/feed.atom"):
        response = await client.get(path, headers=HTML)
        assert "set-cookie" not in response.headers, path
    login = await client.get("/login")
    assert "csrftoken=" in login.headers["set-cookie"]


async def test_static_files_are_served_with_a_cache_lifetime(client: Client) -> None:
    css = await client.get("/static/site.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert "max-age=86400" in css.headers["cache-control"]
    assert "@media print" in css.text


# --- the integrity seal -----------------------------------------------------------------------


async def test_seal_is_verified_once_per_log_size(
    app: Litestar, client: Client, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real = verify_group

    async def counting(session: AsyncSession, group: Any) -> Any:
        calls.append(group.id)
        return await real(session, group)

    monkeypatch.setattr(verification_module, "verify_group", counting)
    await donate(client, world, "1.00")
    for _ in range(3):
        assert "Verified: 1 entry" in text_of((await client.get(f"/g/{world.slug}")).text)
    assert len(calls) == 1
    await donate(client, world, "2.00")
    assert "Verified: 2 entries" in text_of((await client.get(f"/g/{world.slug}")).text)
    assert len(calls) == 2
    # A result older than max_age is checked again, even when nothing was appended.
    keeper: VerificationKeeper = app.state.verification_keeper
    keeper.max_age = timedelta(0)
    await client.get(f"/g/{world.slug}")
    assert len(calls) == 3


async def test_a_large_log_is_checked_in_the_background_and_says_so(
    app: Litestar, client: Client, world: World
) -> None:
    keeper: VerificationKeeper = app.state.verification_keeper
    keeper.inline_limit = 0
    await donate(client, world, "1.00")
    first = text_of((await client.get(f"/g/{world.slug}")).text)
    assert "The ledger is being checked now" in first
    keeper.wait(world.group.id, timeout=30)
    second = text_of((await client.get(f"/g/{world.slug}")).text)
    assert "Verified: 1 entry" in second
    await donate(client, world, "1.00")
    third = text_of((await client.get(f"/g/{world.slug}")).text)
    assert "Verified: 1 entry" in third  # the last result, honestly labelled
    assert "1 newer entry is being checked now." in third
    keeper.wait(world.group.id, timeout=30)
    assert "Verified: 2 entries" in text_of((await client.get(f"/g/{world.slug}")).text)


async def test_a_broken_ledger_shows_a_broken_seal(
    client: Client, world: World, session: AsyncSession
) -> None:
    await donate(client, world, "5.00")
    await session.execute(sql("UPDATE funds SET balance = balance + 1 WHERE slug = 'groceries'"))
    await session.commit()
    text = text_of((await client.get(f"/g/{world.slug}")).text)
    assert "Verification failed" in text
    assert "differs from the sum of its postings" in text


# --- the chart, on its own ---------------------------------------------------------------------


def test_chart_steps_from_zero_and_describes_itself_in_words() -> None:
    start = date(2026, 1, 1)
    points = [
        BalancePoint(start, 0, 0),
        BalancePoint(start, 1, 50_00),
        BalancePoint(start + timedelta(days=40), 2, 20_00),
    ]
    chart = balance_chart(
        points,
        today=start + timedelta(days=60),
        fmt=Formatter(),
        currency="EUR",
        fund_name="Groceries",
        complete=True,
    )
    assert chart is not None
    assert chart.line.startswith("M")
    assert chart.line.count("V") == 2  # one step per entry
    assert chart.y_ticks[0].label == "€0"
    assert chart.summary == (
        "Balance of Groceries since its first entry, from Jan 1, 2026 to Mar 2, 2026: "
        "€0.00 at the start, €20.00 now; highest €50.00 on Jan 1, 2026, "
        "lowest €0.00 on Jan 1, 2026."
    )
    assert chart.months == [("Jan 2026", "€50.00"), ("Feb 2026", "€20.00")]
    empty = balance_chart(
        [], today=start, fmt=Formatter(), currency="EUR", fund_name="x", complete=True
    )
    assert empty is None


def test_chart_of_a_fund_below_zero_keeps_zero_on_its_axis() -> None:
    start = date(2026, 1, 1)
    points = [BalancePoint(start, 0, 0), BalancePoint(start + timedelta(days=1), 1, -35_00)]
    chart = balance_chart(
        points,
        today=start + timedelta(days=2),
        fmt=Formatter(),
        currency="EUR",
        fund_name="Float",
        complete=True,
    )
    assert chart is not None
    labels = [tick.label for tick in chart.y_ticks]
    assert "€0" in labels
    assert labels[0].startswith("-€")
    assert chart.top <= chart.zero_y <= chart.bottom


async def test_chart_draws_money_on_the_day_it_moved(
    client: Client, world: World, session: AsyncSession
) -> None:
    # Recorded today, but the money moved in January and March: the line says so.
    await donate(client, world, "30.00", occurred_on="2026-03-05")
    await donate(client, world, "10.00", occurred_on="2026-01-20")
    fund = (await service.list_funds(session, await world.fresh_group(session)))[1]
    points, complete = await queries.fund_history(session, fund)
    await session.commit()
    assert complete
    assert [(p.on.isoformat(), p.balance) for p in points] == [
        ("2026-01-20", 0),
        ("2026-01-20", 10_00),
        ("2026-03-05", 40_00),
    ]
    text = text_of((await client.get(f"/g/{world.slug}")).text)
    assert "Balance of Groceries since its first entry, from Jan 20, 2026" in text
