"""Hidden tallies: a group that keeps responses hidden until a round closes.

Three members respond to an open round (a block, a concern and a stand aside, each with a
reason no other text holds); then every output a non-member and a member can read is
searched for the others' positions, their reasons and the counts: the API, the pages, the
lists, the feed, the notifications, the decision record and the audit statements. Once
the round closes, the same reads show everything, which proves the search finds what it
looks for. A round opened before the group chose to hide keeps showing its tally.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.settings import Settings
from tests.pdf.reading import pdftotext
from tests.support.clients import browser, give_password, text_of
from tests.support.people import Person, World

Client = AsyncTestClient[Litestar]
HTML = {"Accept": "text/html"}
# What each responder says, in words no page holds otherwise.
SAID = {
    "steward": ("block", "Quinoa-harbour budget was never agreed."),
    "facilitator": ("concern", "Marmalade-kestrel vendor is slow."),
    "member": ("stand_aside", "Velvet-anchor conflict of mine."),
}
OTHERS = [SAID["steward"][1], SAID["facilitator"][1]]
# What only a shown tally or a shown response prints.
TALLY_MARKS = ('class="tally"', "If the round closed now", "If it closed now", "Who said what")


async def _rules(client: Client, world: World, **changes: object) -> dict[str, Any]:
    response = await client.put(
        f"/api/groups/{world.slug}/rules", json=changes, headers=world.admin.headers
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _propose(client: Client, world: World, title: str) -> int:
    response = await client.post(
        f"/api/groups/{world.slug}/proposals",
        json={
            "title": title,
            "body": "Two quotes are attached.",
            "fund": "rent-relief",
            "amount": "40.00",
            "counterparty": "R-12",
        },
        headers=world.member.headers,
    )
    assert response.status_code == 201, response.text
    return int(response.json()["number"])


async def _respond(client: Client, world: World, number: int) -> None:
    for role, (position, reason) in SAID.items():
        person: Person = getattr(world, role)
        response = await client.post(
            f"/api/groups/{world.slug}/proposals/{number}/responses",
            json={"position": position, "reason": reason},
            headers=person.headers,
        )
        assert response.status_code in (200, 201), response.text


async def _outputs(
    client: Client, world: World, settings: Settings, number: int, tmp_path: Path
) -> dict[str, dict[str, str]]:
    """Every output about the group, as the public and as the member who stood aside read
    it: name -> text."""
    g = world.slug
    public: dict[str, str] = {}
    for url in (
        f"/api/groups/{g}/proposals/{number}",
        f"/api/groups/{g}/proposals",
        f"/g/{g}",
        f"/g/{g}/proposals",
        f"/g/{g}/proposals/{number}",
        f"/g/{g}/feed.atom",
    ):
        response = await client.get(url, headers=HTML if url.startswith("/g/") else {})
        assert response.status_code == 200, (url, response.text)
        public[url] = response.text
    for url in (f"/g/{g}/proposals/{number}.pdf", f"/g/{g}/audit.pdf"):
        response = await client.get(url)
        assert response.status_code == 200, (url, response.text)
        public[url] = pdftotext(response.content, tmp_path)
    member: dict[str, str] = {}
    response = await client.get(f"/api/groups/{g}/proposals/{number}", headers=world.member.headers)
    member["api"] = response.text
    async with browser(settings, world.member) as web:
        for url in (
            f"/m/{g}",
            f"/m/{g}/proposals/{number}",
            f"/g/{g}/proposals/{number}",
            f"/g/{g}/proposals",
            f"/m/{g}/notifications",
            "/notifications",
            "/m",
        ):
            response = await web.get(url, headers=HTML)
            assert response.status_code == 200, (url, response.text)
            member[url] = response.text
        response = await web.get(f"/g/{g}/audit.pdf")
        assert response.status_code == 200, response.text
        member["members' audit statement"] = pdftotext(response.content, tmp_path)
    return {"public": public, "member": member}


def _positions(api_text: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    round_ = json.loads(api_text)["rounds"][-1]
    return round_["tally"], round_["responses"]


async def test_nothing_shows_what_others_said_until_the_round_closes(
    client: Client, world: World, settings: Settings, session: AsyncSession, tmp_path: Path
) -> None:
    await give_password(session, world.member)
    before = await _propose(client, world, "Fix the boiler")  # opened before the setting
    rules = await _rules(client, world, hide_tally_until_close=True, public_names=True)
    assert rules["hide_tally_until_close"] is True
    number = await _propose(client, world, "Replace the fridge door")
    await _respond(client, world, before)
    await _respond(client, world, number)

    seen = await _outputs(client, world, settings, number, tmp_path)
    for reader, outputs in seen.items():
        for name, text in outputs.items():
            for reason in OTHERS:
                assert reason not in text, f"{reader} reads {reason!r} in {name}"
            if name.endswith(f"/proposals/{number}") or name in ("api",):
                for mark in TALLY_MARKS:
                    assert mark not in text, f"{reader} sees {mark!r} in {name}"
    own = SAID["member"][1]
    assert own not in seen["public"][f"/g/{world.slug}/proposals/{number}"]
    assert own in seen["member"][f"/m/{world.slug}/proposals/{number}"]  # their own, only
    tally, responses = _positions(seen["public"][f"/api/groups/{world.slug}/proposals/{number}"])
    assert [tally[k] for k in ("agree", "concern", "stand_aside", "block")] == [None] * 4
    assert tally["responded"] == 3
    assert responses == []
    tally, responses = _positions(seen["member"]["api"])
    assert [tally[k] for k in ("agree", "concern", "stand_aside", "block")] == [None] * 4
    assert [(r["position"], r["reason"]) for r in responses] == [SAID["member"]]
    assert json.loads(seen["member"]["api"])["rounds"][-1]["live"] is None
    page = text_of(seen["public"][f"/g/{world.slug}/proposals/{number}"])
    assert "The group keeps responses hidden until the round closes." in page
    assert "3 of 4 eligible members responded" in page
    member_page = text_of(seen["member"][f"/m/{world.slug}/proposals/{number}"])
    assert "3 of 4 members have responded" in member_page
    record = " ".join(seen["public"][f"/g/{world.slug}/proposals/{number}.pdf"].split())
    assert "the group keeps what each said hidden until the round closes" in record

    # The round opened before the group chose to hide keeps its tally shown.
    tally, responses = _positions(
        (await client.get(f"/api/groups/{world.slug}/proposals/{before}")).text
    )
    assert tally["block"] == 1
    assert len(responses) == 3

    # Closed, everything shows: the search above looked for what is there.
    # The last member responds: the round closes as everyone has.
    last = await client.post(
        f"/api/groups/{world.slug}/proposals/{number}/responses",
        json={"position": "agree", "reason": ""},
        headers=world.admin.headers,
    )
    assert last.status_code in (200, 201), last.text
    shown = (await client.get(f"/api/groups/{world.slug}/proposals/{number}")).json()
    assert shown["rounds"][-1]["closed_at"] is not None, shown
    seen = await _outputs(client, world, settings, number, tmp_path)
    for where in (
        seen["public"][f"/g/{world.slug}/proposals/{number}"],
        seen["public"][f"/g/{world.slug}/proposals/{number}.pdf"],
        seen["member"][f"/m/{world.slug}/proposals/{number}"],
    ):
        for reason in OTHERS:
            assert reason in " ".join(where.split()), reason
    tally, responses = _positions(seen["public"][f"/api/groups/{world.slug}/proposals/{number}"])
    assert (tally["block"], tally["concern"], tally["stand_aside"]) == (1, 1, 1)
    assert len(responses) == 4


async def test_the_setting_is_the_admins_and_shows_on_the_rules_page(
    client: Client, world: World, settings: Settings, session: AsyncSession
) -> None:
    assert (await _rules(client, world))["hide_tally_until_close"] is False
    refused = await client.put(
        f"/api/groups/{world.slug}/rules",
        json={"hide_tally_until_close": True},
        headers=world.steward.headers,
    )
    assert refused.status_code == 403
    wrong = await client.put(
        f"/api/groups/{world.slug}/rules",
        json={"hide_tally_until_close": "yes"},
        headers=world.admin.headers,
    )
    assert wrong.status_code == 422, wrong.text
    assert (await _rules(client, world))["hide_tally_until_close"] is False
    await _rules(client, world, hide_tally_until_close=True)
    await give_password(session, world.admin)
    async with browser(settings, world.admin) as web:
        page = await web.get(f"/m/{world.slug}/rules", headers=HTML)
        assert 'name="hide_tally_until_close"' in page.text
        assert re.search(r'name="hide_tally_until_close" type="checkbox" checked', page.text)
