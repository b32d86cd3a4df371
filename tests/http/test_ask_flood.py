"""A flood must not close the door on a person in need: during a flood, requests with a
solved or waited-for challenge reach the queue, the others are held apart (never refused),
and stewards release held ones one by one or discard them all in one action."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta
from html import unescape
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app import challenge
from app.asgi import create_app
from app.limits import ASK_FLOOD, Limiter
from app.settings import Settings
from ledger.groups import utcnow
from proposals.models import Notification, SupportRequest
from tests.support.clients import (
    browser,
    calling_from,
    form_token,
    give_password,
    post_form,
    text_of,
)
from tests.support.people import World

HTML = {"Accept": "text/html"}
ASK = {
    "need": "Food for the week",
    "urgency": "normal",
    "consent": "yes",
    "language": "en",
    "phone": "611 222 333",
}
_CHALLENGE = re.compile(r'name="challenge" value="([^"]*)"')


def proxied(settings: Settings) -> Settings:
    """Requests come through a trusted proxy, so each may name its own address."""
    return dataclasses.replace(settings, trusted_proxies=("127.0.0.1",))


async def ask_from(
    client: httpx.AsyncClient, world: World, csrf_token: str, address: str, **fields: str
) -> httpx.Response:
    return await client.post(
        f"/g/{world.slug}/ask",
        data={"_csrf_token": csrf_token, **ASK, **fields},
        headers={**HTML, "X-Forwarded-For": address},
        follow_redirects=False,
    )


async def form_challenge(client: httpx.AsyncClient, world: World) -> tuple[str, int]:
    page = await client.get(f"/g/{world.slug}/ask", headers=HTML)
    token = _CHALLENGE.search(page.text)
    assert token is not None
    bits = re.search(r'data-challenge-bits="(\d+)"', page.text)
    return unescape(token.group(1)), int(bits.group(1)) if bits else 0


async def flood(session: AsyncSession, settings: Settings, group_id: int) -> None:
    """As if the group had received more than its hourly share of requests already."""
    limiter = Limiter.of(settings)
    for _ in range(ASK_FLOOD.most + 1):
        await limiter.hit(session, utcnow(), (ASK_FLOOD, str(group_id)))
    await session.commit()


async def stored(session: AsyncSession) -> dict[str, bool]:
    """Each stored request's reference and whether it is held."""
    rows = (await session.execute(select(SupportRequest.reference, SupportRequest.held))).all()
    await session.commit()
    return {reference: held for reference, held in rows}


def reference_of(response: httpx.Response) -> str:
    assert response.status_code == 303, response.text
    return response.headers["location"].split("/ask/", 1)[1].split("?", 1)[0]


async def test_a_flood_from_rotating_addresses_never_turns_a_person_away(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    settings = proxied(settings)
    secret = settings.resolved_secret_key()
    async with calling_from(create_app(settings), "127.0.0.1") as client:
        token = await form_token(client, f"/g/{world.slug}/ask")
        _, bits = await form_challenge(client, world)
        assert bits == 0  # no flood yet: the page asks the browser for no work
        flood = [
            await ask_from(client, world, token, f"198.51.100.{n}")
            for n in range(1, ASK_FLOOD.most + 1)
        ]
        assert {answer.status_code for answer in flood} == {303}
        robot = reference_of(await ask_from(client, world, token, "203.0.113.1"))
        # A person whose browser ran the page's script: the challenge solved.
        page_token, bits = await form_challenge(client, world)
        assert bits == challenge.BITS
        solved = challenge.solve(page_token, bits)
        with_script = reference_of(
            await ask_from(client, world, token, "203.0.113.2", challenge=page_token, proof=solved)
        )
        # A person without JavaScript, who took the time to write: the challenge waited for.
        written = challenge.issue(secret, world.group.id, utcnow() - timedelta(minutes=3), bits=0)
        without_script = reference_of(
            await ask_from(client, world, token, "203.0.113.3", challenge=written)
        )
    held = await stored(session)
    assert held[with_script] is False
    assert held[without_script] is False
    assert held[robot] is True
    assert sum(held.values()) == 1
    queue = f"/api/groups/{world.slug}/requests"
    async with calling_from(create_app(settings), "127.0.0.1") as api:
        listed = (await api.get(queue, headers=world.steward.headers)).json()
        assert len(listed) == ASK_FLOOD.most + 2
        assert not any(r["held"] for r in listed)
        apart = (await api.get(f"{queue}?held=true", headers=world.steward.headers)).json()
        assert [r["held"] for r in apart] == [True]
    # Nobody is told of a held request.
    pseudonym = await session.scalar(
        select(SupportRequest.pseudonym).where(SupportRequest.reference == robot)
    )
    subjects = list(await session.scalars(select(Notification.subject)))
    await session.commit()
    assert subjects
    assert not any(str(pseudonym) in subject for subject in subjects)


async def test_a_challenge_proves_one_request_only_and_only_when_genuine(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    settings = proxied(settings)
    secret = settings.resolved_secret_key()
    await flood(session, settings, world.group.id)
    async with calling_from(create_app(settings), "127.0.0.1") as client:
        token = await form_token(client, f"/g/{world.slug}/ask")
        page_token, bits = await form_challenge(client, world)
        solved = challenge.solve(page_token, bits)
        first = reference_of(
            await ask_from(client, world, token, "192.0.2.1", challenge=page_token, proof=solved)
        )
        again = reference_of(
            await ask_from(client, world, token, "192.0.2.2", challenge=page_token, proof=solved)
        )
        too_soon = challenge.issue(secret, world.group.id, utcnow(), bits=0)
        hasty = reference_of(await ask_from(client, world, token, "192.0.2.3", challenge=too_soon))
        forged_token = challenge.issue(
            "another instance's secret" * 2, world.group.id, utcnow(), bits=1
        )
        forged = reference_of(
            await ask_from(
                client,
                world,
                token,
                "192.0.2.4",
                challenge=forged_token,
                proof=challenge.solve(forged_token, 1),
            )
        )
        other_group = challenge.issue(
            secret, world.group.id + 1, utcnow() - timedelta(minutes=5), bits=0
        )
        elsewhere = reference_of(
            await ask_from(client, world, token, "192.0.2.5", challenge=other_group)
        )
        stale = challenge.issue(secret, world.group.id, utcnow() - timedelta(days=2), bits=0)
        too_old = reference_of(await ask_from(client, world, token, "192.0.2.6", challenge=stale))
    held = await stored(session)
    assert held[first] is False
    assert held[again] is True
    assert held[hasty] is True
    assert held[forged] is True
    assert held[elsewhere] is True
    assert held[too_old] is True


async def held_requests(
    client: httpx.AsyncClient, world: World, token: str, count: int
) -> list[str]:
    return [
        reference_of(await ask_from(client, world, token, f"198.51.100.{200 + n}"))
        for n in range(count)
    ]


async def test_stewards_release_a_held_request_or_discard_those_they_saw(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    settings = proxied(settings)
    await flood(session, settings, world.group.id)
    queue = f"/api/groups/{world.slug}/requests"
    async with calling_from(create_app(settings), "127.0.0.1") as client:
        token = await form_token(client, f"/g/{world.slug}/ask")
        references = await held_requests(client, world, token, 3)
        steward = world.steward.headers
        listed = (await client.get(f"{queue}?held=true", headers=steward)).json()
        assert len(listed) == 3
        first = listed[0]["id"]
        # A held request waits for release: no proposal, no decline, no notes before that.
        for action, body in (
            ("propose", {"title": "Food", "summary": "", "fund": "groceries", "amount": "20"}),
            ("decline", {"message": "Sorry"}),
            ("notes", {"text": "Called"}),
        ):
            refused = await client.post(f"{queue}/{first}/{action}", json=body, headers=steward)
            assert refused.status_code == 409, (action, refused.text)
            assert "release it to the queue first" in refused.json()["detail"]
        member = await client.post(f"{queue}/{first}/release", headers=world.member.headers)
        assert member.status_code == 403
        released = await client.post(f"{queue}/{first}/release", headers=steward)
        assert released.status_code == 200, released.text
        assert released.json()["held"] is False
        twice = await client.post(f"{queue}/{first}/release", headers=steward)
        assert twice.status_code == 409
        assert [r["id"] for r in (await client.get(queue, headers=steward)).json()] == [first]
        seen = [r["id"] for r in (await client.get(f"{queue}?held=true", headers=steward)).json()]
        # One more arrives after the steward looked: clearing what they saw leaves it.
        late = await held_requests(client, world, token, 1)
        refused = await client.post(
            f"{queue}/held/clear?up_to={max(seen)}", headers=world.member.headers
        )
        assert refused.status_code == 403
        cleared = await client.post(
            f"{queue}/held/clear?up_to={max(seen)}", headers=world.facilitator.headers
        )
        assert cleared.status_code == 200, cleared.text
        assert cleared.json() == {"discarded": 2}
        remaining = (await client.get(f"{queue}?held=true", headers=steward)).json()
        assert len(remaining) == 1
        everything = await client.post(f"{queue}/held/clear", headers=steward)
        assert everything.json() == {"discarded": 1}
        # The discarded are gone entirely; the released one is followed as any other.
        for reference in (*references[1:], *late):
            gone = await client.get(f"/g/{world.slug}/ask/{reference}", headers=HTML)
            assert gone.status_code == 404
        kept = await client.get(f"/g/{world.slug}/ask/{references[0]}", headers=HTML)
        assert kept.status_code == 200
        bad = await client.post(f"{queue}/held/clear?up_to=0", headers=steward)
        assert bad.status_code == 400
    pseudonym = await session.scalar(
        select(SupportRequest.pseudonym).where(SupportRequest.id == first)
    )
    told = list(await session.scalars(select(Notification.subject)))
    await session.commit()
    assert any(str(pseudonym) in subject for subject in told)  # told once released


async def test_the_queue_page_shows_held_requests_apart_with_one_button_to_discard_them(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    settings = proxied(settings)
    await flood(session, settings, world.group.id)
    async with calling_from(create_app(settings), "127.0.0.1") as client:
        token = await form_token(client, f"/g/{world.slug}/ask")
        await held_requests(client, world, token, 3)
    held_ids = sorted(
        await session.scalars(select(SupportRequest.id).where(SupportRequest.held.is_(True)))
    )
    await session.commit()
    await give_password(session, world.steward)
    async with browser(settings, world.steward) as steward:
        queue = f"/m/{world.slug}/requests"
        page = await steward.get(queue, headers=HTML)
        text = text_of(page.text)
        assert "Held during a flood (3)" in text
        assert "Waiting for an answer (0)" in text
        assert "Discard the 3 held requests" in text
        request_page = await steward.get(f"{queue}/{held_ids[0]}", headers=HTML)
        assert "Release to the queue" in request_page.text
        assert "Turn it into a proposal" not in text_of(request_page.text)
        released = await post_form(
            steward, f"{queue}/{held_ids[0]}/release", {}, form_url=f"{queue}/{held_ids[0]}"
        )
        assert released.status_code == 303
        shown = await steward.get(released.headers["location"], headers=HTML)
        assert "The request is in the queue now" in text_of(shown.text)
        cleared = await post_form(
            steward, f"{queue}/held/clear", {"up_to": str(held_ids[-1])}, form_url=queue
        )
        assert cleared.status_code == 303
        after = await steward.get(cleared.headers["location"], headers=HTML)
        text = text_of(after.text)
        assert "The held requests were discarded" in text
        assert "Held during a flood" not in text
        assert "Waiting for an answer (1)" in text


def test_the_ask_script_is_our_own_and_served_from_this_site() -> None:
    from app.web.templating import STATIC

    script = (STATIC / "ask.js").read_text()
    assert "http" not in script.replace("https pages", "")  # nothing fetched from elsewhere
    assert "crypto.subtle.digest" in script


async def test_the_page_asks_for_work_only_during_a_flood(
    settings: Settings, world: World, session: AsyncSession, client: Any
) -> None:
    quiet = await client.get(f"/g/{world.slug}/ask", headers=HTML)
    assert "data-challenge-bits" not in quiet.text
    assert "ask.js" not in quiet.text
    assert 'name="challenge"' in quiet.text  # the waited-for path needs no script
    await flood(session, settings, world.group.id + 1)  # another group's flood is its own
    assert "data-challenge-bits" not in (await client.get(f"/g/{world.slug}/ask")).text
    await flood(session, settings, world.group.id)
    flooded = await client.get(f"/g/{world.slug}/ask", headers=HTML)
    assert f'data-challenge-bits="{challenge.BITS}"' in flooded.text
    assert re.search(r'<script src="/static/ask\.js\?v=\w+" defer></script>', flooded.text)
