"""The public side of proposals: a proposal's page (its text, versions and what changed,
rounds with their tally, responses and minute, the payments made under it), the list of
decisions, proposals on the group's page with committed money, and decisions in the feed.
Names of members show only where the group allows it; a private group stays hidden."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.presenters.diff import DiffPart, text_diff, word_diff
from app.settings import Settings
from proposals import queries
from proposals.models import Round
from tests.support.clients import browser, give_password, text_of
from tests.support.people import Person, World, build_world

Client = AsyncTestClient[Litestar]
HTML = {"Accept": "text/html"}
ATOM = "{http://www.w3.org/2005/Atom}"

BODY_1 = (
    "## Why\n"
    "R-17 is **three months** behind on rent.\n"
    "\n"
    "We pay the landlord directly.\n"
    "\n"
    "See [the tenants' union](https://example.org/union)."
)
BODY_2 = BODY_1.replace("three months", "two months")
BLOCK_REASON = "We promised R-17 rent for two months, not three; cut it to 250."


def api(world: World, tail: str = "") -> str:
    return f"/api/groups/{world.slug}/proposals{tail}"


async def propose(client: Client, world: World, by: Person, **fields: Any) -> dict[str, Any]:
    body = {
        "title": "Rent for R-17",
        "body": BODY_1,
        "fund": "rent-relief",
        "amount": "300.00",
        "counterparty": "R-17",
        **fields,
    }
    response = await client.post(api(world), json=body, headers=by.headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def answer(
    client: Client, world: World, by: Person, number: int, position: str, reason: str = ""
) -> None:
    response = await client.post(
        api(world, f"/{number}/responses"),
        headers=by.headers,
        json={"position": position, "reason": reason},
    )
    assert response.status_code == 201, response.text


async def amend(client: Client, world: World, by: Person, number: int, **fields: Any) -> None:
    response = await client.post(
        api(world, f"/{number}/amendments"), headers=by.headers, json=fields
    )
    assert response.status_code == 201, response.text


async def entry(client: Client, world: World, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(
        f"/api/groups/{world.slug}/entries", json=body, headers=world.steward.headers
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def everyone(world: World) -> tuple[Person, ...]:
    return (world.admin, world.steward, world.facilitator, world.member)


async def blocked_amended_passed_and_paid(client: Client, world: World) -> None:
    """Proposal 1: blocked in round 1, amended (round 2), its title fixed, passed, paid."""
    await entry(client, world, {"kind": "donation", "fund": "rent-relief", "amount": "500.00"})
    await propose(client, world, world.member)
    await answer(client, world, world.admin, 1, "block", BLOCK_REASON)
    await answer(client, world, world.steward, 1, "agree")
    await answer(client, world, world.facilitator, 1, "concern", "Is the landlord paid on time?")
    await answer(client, world, world.member, 1, "agree")
    await amend(
        client, world, world.member, 1, amount="250.00", body=BODY_2, reason="Two months, as asked."
    )
    await amend(
        client,
        world,
        world.member,
        1,
        title="Rent for R-17, March and April",
        reason="Say which months.",
    )
    for person in everyone(world):
        await answer(client, world, person, 1, "agree")
    await entry(
        client,
        world,
        {
            "kind": "disbursement",
            "fund": "rent-relief",
            "amount": "250.00",
            "proposal": 1,
            "counterparty": "R-17",
            "memo": "March and April rent",
        },
    )


def names_of(world: World) -> list[str]:
    return [person.user.name for person in everyone(world)]


# --- a proposal's page ---------------------------------------------------------------------


async def test_proposal_page_shows_text_versions_rounds_responses_minute_and_payments(
    client: Client, world: World
) -> None:
    await blocked_amended_passed_and_paid(client, world)
    page = await client.get(f"/g/{world.slug}/proposals/1", headers=HTML)
    assert page.status_code == 200
    html, text = page.text, text_of(page.text)
    # The proposal, its current text rendered from Markdown, in short.
    assert "<h1>Rent for R-17, March and April</h1>" in html
    assert "<h4>Why</h4>" in html  # a heading of the body stays below the page's own
    assert "<strong>two months</strong>" in html
    assert 'href="https://example.org/union" rel="nofollow noopener noreferrer"' in html
    assert "Status Passed" in text
    assert "Kind Payment from a fund" in text
    assert "Amount €250.00 From the fund Rent relief Paid to R-17" in text
    assert "Authorised €250.00 Paid so far €250.00 Left to pay €0.00" in text
    assert f'href="/g/{world.slug}/proposals/1.pdf"' in html
    # Versions, with what changed and why.
    assert "Version 3 (current)" in text
    assert "Why it was amended: Two months, as asked." in text
    assert "Why it was amended: Say which months." in text
    assert "<del>€300.00</del>" in html
    assert "<ins>€250.00</ins>" in html
    assert "R-17 is **<del>three</del> months** behind on rent." in html
    assert "<ins>two</ins>" in html
    assert "Removed:" in text
    assert "Added:" in text
    assert "This change opened a new round" in text
    assert "Only the title changed, so the responses given so far still count." in text
    assert "Rent for R-17<ins>, March and April</ins>" in html
    assert "Full text of version 1" in text
    # Rounds: the block and its reason, the outcome and why, the minute.
    assert "Round 1 on version 1 Blocked" in text
    assert "Blocked by 1 member." in text
    assert BLOCK_REASON in text
    assert "Agree with a concern" in text
    assert "Is the landlord paid on time?" in text
    assert "Round 2 on version 2 Passed" in text
    assert "when every eligible member had responded" in text
    assert text.count("Responses (4)") == 2
    assert "Minute of round 2" in text
    assert (
        "Before the members was version 3, “Rent for R-17, March and April”: "
        "€250.00 from Rent relief, to R-17." in text
    )
    assert "4 members were eligible to respond." in text
    # The payment, with its receipt.
    payments = html[html.index('id="payments-heading"') :]
    assert "Payment of €250.00 from Rent relief" in text_of(payments)
    assert "March and April rent" in payments
    # Entries 2 and 3 are the decisions of its two rounds; the payment is entry 4.
    assert f'href="/g/{world.slug}/entries/4/receipt.pdf"' in payments
    assert 'id="entry-1"' not in payments  # the donation was not made under it
    # Names are the group's to show: by default nobody outside sees them.
    for name in names_of(world):
        assert name not in html, name
    assert "This group shows who responded only to its members" in text


async def test_a_reversed_payment_shows_as_reversed_and_no_longer_counts_as_paid(
    client: Client, world: World
) -> None:
    await blocked_amended_passed_and_paid(client, world)
    await entry(
        client, world, {"kind": "reversal", "reverses": 4, "memo": "Paid the wrong landlord"}
    )
    page = await client.get(f"/g/{world.slug}/proposals/1", headers=HTML)
    text = text_of(page.text)
    assert "Authorised €250.00 Paid so far €0.00 Left to pay €250.00" in text
    payments = text_of(page.text[page.text.index('id="payments-heading"') :])
    assert "Reversed by entry #5 : Paid the wrong landlord" in payments
    shown = (await client.get(api(world, "/1"))).json()
    assert shown["paid"] == "0.00"  # the page and the API count alike


async def test_names_show_to_members_and_to_everyone_once_the_group_allows(
    client: Client, world: World
) -> None:
    await blocked_amended_passed_and_paid(client, world)
    url = f"/g/{world.slug}/proposals/1"
    as_member = text_of((await client.get(url, headers=world.outsider.headers)).text)
    assert world.admin.user.name not in as_member  # logged in, but not a member
    as_member = text_of((await client.get(url, headers=world.member.headers)).text)
    assert f"Block {world.admin.user.name}" in as_member
    assert f"by {world.member.user.name}" in as_member
    assert "4 members were eligible to respond: " in as_member
    rules = await client.put(
        f"/api/groups/{world.slug}/rules", json={"public_names": True}, headers=world.admin.headers
    )
    assert rules.status_code == 200, rules.text
    anyone = text_of((await client.get(url, headers=HTML)).text)
    for name in names_of(world):
        assert name in anyone, name
    assert f"Block {world.admin.user.name}" in anyone
    assert "shows who responded only to its members" not in anyone


async def test_open_round_shows_the_live_tally_deadline_and_what_closing_now_gives(
    client: Client, world: World
) -> None:
    await propose(client, world, world.member, body="", fund=None, amount=None, counterparty=None)
    await answer(client, world, world.steward, 1, "agree")
    await answer(client, world, world.facilitator, 1, "stand_aside", "Away that week.")
    page = await client.get(f"/g/{world.slug}/proposals/1", headers=HTML)
    text = text_of(page.text)
    assert "Round 1 on version 1 Open" in text
    assert "Live tally" in text
    assert "Agree 1 Agree with a concern 0 Stand aside 1 Block 0" in text
    assert "2 of 4 eligible members responded; 2 responses are needed for a quorum." in text
    assert "If the round closed now: Not passed: 1 of 2 stood aside" in text
    assert "Away that week." in text
    assert "Responses (2)" in text
    assert "Kind Decision" in text
    assert "this proposal has no further text" in text
    assert "This proposal does not pay money from a fund." in text
    assert "Minute of round" not in text
    deadline = re.search(r'Deadline <time datetime="([^"]+)"', page.text)
    assert deadline is not None
    assert datetime.fromisoformat(deadline.group(1)) > datetime.fromisoformat(
        re.findall(r'Opened <time datetime="([^"]+)"', page.text)[0]
    )


async def test_a_round_past_its_deadline_is_closed_when_a_page_is_read(
    client: Client, world: World, session: AsyncSession
) -> None:
    await propose(client, world, world.member)
    await answer(client, world, world.steward, 1, "agree")
    await session.execute(update(Round).values(closes_at=datetime(2020, 1, 1, tzinfo=UTC)))
    await session.commit()
    text = text_of((await client.get(f"/g/{world.slug}/proposals/1", headers=HTML)).text)
    assert "Status Not passed" in text
    assert re.search(r"Closed [^.]+ at its deadline", text)
    assert "Not passed for lack of a quorum: 2 of 4 eligible members must respond." in text
    assert "Money is paid only once a proposal has passed." in text


async def test_proposal_path_is_a_number_or_its_record_and_nothing_else(
    client: Client, world: World
) -> None:
    await propose(client, world, world.member)
    for tail in (
        "abc",
        "0",
        "01",
        "1.txt",
        "1.pdf.pdf",
        "1.PDF",
        "-1",
        "2",
        "2.pdf",
        "1234567890",
        "1" * 40,
        "1%20",
    ):
        response = await client.get(f"/g/{world.slug}/proposals/{tail}", headers=HTML)
        assert response.status_code == 404, tail
        assert "Page not found" in response.text, tail
    assert (await client.get(f"/g/{world.slug}/proposals/1", headers=HTML)).status_code == 200
    record = await client.get(f"/g/{world.slug}/proposals/1.pdf")
    assert record.status_code == 200, record.text
    assert record.headers["content-type"] == "application/pdf"
    assert record.content.startswith(b"%PDF-")
    assert 'filename="rent-fund-proposal-1.pdf"' in record.headers["content-disposition"]


async def test_private_group_proposals_answer_404_to_everyone_but_members(
    settings: Settings, client: Client, session: AsyncSession
) -> None:
    hidden = await build_world(session, slug="hidden-fund", public=False)
    await propose(client, hidden, hidden.member, title="Secret roof repair")
    await give_password(session, hidden.member, hidden.outsider)
    paths = (
        "/g/hidden-fund/proposals",
        "/g/hidden-fund/proposals/1",
        "/g/hidden-fund/proposals/1.pdf",
        "/g/hidden-fund/feed.atom",
    )
    for path in paths:
        anonymous = await client.get(path, headers=HTML)
        assert anonymous.status_code == 404, path
        assert "Secret roof repair" not in anonymous.text
    async with browser(settings, hidden.outsider) as outsider:
        for path in paths:
            refused = await outsider.get(path, headers=HTML)
            assert refused.status_code == 404, path
            assert "Secret roof repair" not in refused.text
    async with browser(settings, hidden.member) as member:
        for path in paths[:2]:
            allowed = await member.get(path, headers=HTML)
            assert allowed.status_code == 200, path
            assert "Secret roof repair" in allowed.text


# --- lists of proposals ----------------------------------------------------------------------


async def test_group_page_shows_open_and_decided_proposals_and_committed_money(
    client: Client, world: World
) -> None:
    await entry(client, world, {"kind": "donation", "fund": "rent-relief", "amount": "500.00"})
    await propose(client, world, world.member, amount="120.00", title="Boiler repair")
    for person in everyone(world):
        await answer(client, world, person, 1, "agree")
    await propose(client, world, world.member, title="Bus passes", amount="40.00")
    await answer(
        client, world, world.admin, 2, "block", "We agreed bus passes come from the groceries fund."
    )
    for person in everyone(world)[1:]:
        await answer(client, world, person, 2, "agree")
    await propose(client, world, world.member, title="Summer picnic", amount="60.00")
    await answer(client, world, world.steward, 3, "agree")
    page = await client.get(f"/g/{world.slug}", headers=HTML)
    text = text_of(page.text)
    # Passed and unpaid money is committed; available is what is left to decide on.
    assert "Rent relief €500.00 €120.00 €380.00" in text
    assert "Groceries €0.00 €0.00 €0.00" in text
    decisions = text_of(page.text[page.text.index('id="decisions-heading"') :])
    opened = decisions[: decisions.index("Decided")]
    assert "Proposal 3: Summer picnic Open" in opened
    assert "€60.00 from Rent relief, to R-17" in opened
    assert "Deadline" in opened
    assert "Agree 1 Agree with a concern 0 Stand aside 0 Block 0" in opened
    assert "1 of 4 eligible members responded" in opened
    decided = decisions[decisions.index("Decided") :]
    assert decided.index("Bus passes") < decided.index("Boiler repair")  # latest first
    assert "Proposal 2: Bus passes Blocked" in decided
    assert "Why: Blocked by 1 member." in decided
    assert "Proposal 1: Boiler repair Passed" in decided
    assert "Why: Passed: 4 of 4 responses agree" in decided
    assert f'href="/g/{world.slug}/proposals/3"' in page.text
    assert f'href="/g/{world.slug}/proposals"' in page.text  # the "Decisions" place
    paid = await entry(
        client,
        world,
        {
            "kind": "disbursement",
            "fund": "rent-relief",
            "amount": "100.00",
            "proposal": 1,
            "counterparty": "R-17",
        },
    )
    assert paid["seq"] == 4  # after the donation and the decisions of proposals 1 and 2
    text = text_of((await client.get(f"/g/{world.slug}", headers=HTML)).text)
    assert "Rent relief €400.00 €20.00 €380.00" in text


async def test_group_page_without_proposals_says_so(client: Client, world: World) -> None:
    text = text_of((await client.get(f"/g/{world.slug}", headers=HTML)).text)
    assert "No proposal is open right now." in text
    assert "Nothing has been decided yet." in text


async def test_decisions_page_lists_open_then_closed_proposals_page_by_page(
    client: Client, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    for title in ("One", "Two", "Three", "Four"):
        await propose(client, world, world.member, title=title, fund=None, amount=None)
    for number in (1, 2, 3):
        for person in everyone(world):
            await answer(client, world, person, number, "agree")
    soon = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    await propose(client, world, world.member, title="Five", fund=None, amount=None, closes_at=soon)
    monkeypatch.setattr(queries, "PROPOSALS_PAGE", 2)
    first = await client.get(f"/g/{world.slug}/proposals", headers=HTML)
    assert first.status_code == 200
    text = text_of(first.text)
    assert (  # open ones first, the next deadline first
        text.index("Open proposals")
        < text.index("Proposal 5: Five")
        < text.index("Proposal 4: Four")
        < text.index("Decided and withdrawn")
    )
    assert "Proposal 3: Three Passed" in text
    assert "Proposal 2: Two Passed" in text
    assert "Proposal 1: One" not in text
    assert 'aria-current="page">Decisions</a>' in first.text
    older = re.search(r'rel="next" href="([^"]+)"', first.text)
    assert older is not None
    assert older.group(1) == f"/g/{world.slug}/proposals?before=2"
    second = text_of((await client.get(older.group(1), headers=HTML)).text)
    assert "Proposal 1: One Passed" in second
    assert "Proposal 4" not in second
    assert "Proposal 5" not in second
    assert "Open proposals" not in second
    broken = await client.get(f"/g/{world.slug}/proposals?before=x", headers=HTML)
    assert broken.status_code == 404


async def test_withdrawn_proposals_are_listed_but_are_not_decisions(
    client: Client, world: World
) -> None:
    await propose(client, world, world.member, title="Never mind")
    response = await client.post(api(world, "/1/withdraw"), headers=world.member.headers)
    assert response.status_code == 200, response.text
    text = text_of((await client.get(f"/g/{world.slug}/proposals", headers=HTML)).text)
    assert "Proposal 1: Never mind Withdrawn" in text
    assert "Withdrawn by its author." in text
    group = text_of((await client.get(f"/g/{world.slug}", headers=HTML)).text)
    assert "Nothing has been decided yet." in group
    feed = ET.fromstring((await client.get(f"/g/{world.slug}/feed.atom")).content)
    assert feed.findall(f"{ATOM}entry") == []


# --- the feed ------------------------------------------------------------------------------


async def test_feed_carries_each_decision_next_to_the_entries_newest_first(
    client: Client, world: World
) -> None:
    await blocked_amended_passed_and_paid(client, world)
    response = await client.get(f"/g/{world.slug}/feed.atom")
    assert response.status_code == 200
    feed = ET.fromstring(response.content)
    assert feed.findtext(f"{ATOM}title") == "Rent Fund: entries and decisions"
    entries = feed.findall(f"{ATOM}entry")
    titles = [e.findtext(f"{ATOM}title") for e in entries]
    assert titles == [
        "Payment of €250.00 from Rent relief",
        "Proposal 1 passed: Rent for R-17, March and April",
        "Proposal 1 blocked: Rent for R-17",
        "Donation of €500.00 to Rent relief",
    ]
    updated = [e.findtext(f"{ATOM}updated") or "" for e in entries]
    assert updated == sorted(updated, reverse=True)
    assert feed.findtext(f"{ATOM}updated") == updated[0]
    passed, blocked = entries[1], entries[2]
    terms = [c.get("term") for c in passed.findall(f"{ATOM}category")]
    assert terms == ["decision", "passed"]
    link = passed.find(f"{ATOM}link")
    assert link is not None
    assert link.get("href") == f"http://testserver.local/g/{world.slug}/proposals/1#round-2"
    assert "Passed: 4 of 4 responses agree" in (passed.findtext(f"{ATOM}content") or "")
    assert "Blocked by 1 member." in (blocked.findtext(f"{ATOM}content") or "")
    assert len({e.findtext(f"{ATOM}id") for e in entries}) == 4
    # Names never reach the feed, whatever the group shows on its pages.
    for name in names_of(world):
        assert name not in response.text


# --- the diff, on its own -------------------------------------------------------------------


def test_word_diff_marks_only_the_changed_words() -> None:
    removed, added = word_diff("Pay three months of rent.", "Pay two months of rent.")
    assert [p for p in removed if p.changed] == [DiffPart("three", True)]
    assert [p for p in added if p.changed] == [DiffPart("two", True)]
    assert "".join(p.text for p in removed) == "Pay three months of rent."
    assert "".join(p.text for p in added) == "Pay two months of rent."
    unlike_old, unlike_new = word_diff("Apples and pears", "Completely different words here")
    assert unlike_old == [DiffPart("Apples and pears", True)]
    assert unlike_new == [DiffPart("Completely different words here", True)]


def test_text_diff_folds_unchanged_lines_and_shows_added_and_removed_ones() -> None:
    before = "\n".join(f"line {n}" for n in range(1, 11))
    after = before.replace("line 5", "line five").replace("line 10", "line 10\nline 11")
    lines = text_diff(before, after, context=1)
    shown = [(line.kind, "".join(p.text for p in line.parts), line.skipped) for line in lines]
    assert shown == [
        ("gap", "", 3),
        ("same", "line 4", 0),
        ("removed", "line 5", 0),
        ("added", "line five", 0),
        ("same", "line 6", 0),
        ("gap", "", 3),
        ("same", "line 10", 0),
        ("added", "line 11", 0),
    ]
    assert text_diff("same", "same") == []
    assert [line.kind for line in text_diff("", "new text")] == ["added"]
    assert [line.kind for line in text_diff("a\nb\nc", "x")] == ["removed"] * 3 + ["added"]
