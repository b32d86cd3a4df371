"""Requests for support: private by default, turned into proposals by pseudonym, erasable."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.settings import Settings
from ledger.verify import verify_group
from proposals import support
from proposals.models import DetailsRead, Notification
from tests.support.clients import everyone_agrees
from tests.support.people import World, build_world

Client = AsyncTestClient[Litestar]
PERSON = {
    "name": "Marisol Quintanilla",
    "phone": "+34 611 222 333",
    "email": "marisol.q@example.net",
}


async def ask(session: AsyncSession, world: World, **overrides: Any) -> support.SupportRequest:
    form = support.AskForm(
        need="Two months of rent after losing my job.",
        amount="300",
        urgency="urgent",
        consent=True,
        **{**PERSON, **overrides},
    )
    request = await support.ask(session, world.group, form)
    await session.commit()
    return request


def api(world: World, tail: str = "") -> str:
    return f"/api/groups/{world.slug}/requests{tail}"


async def test_only_stewards_and_facilitators_read_requests_and_every_read_is_logged(
    client: Client, world: World, session: AsyncSession
) -> None:
    request = await ask(session, world)
    for person, status in ((world.member, 403), (world.outsider, 403)):
        assert (await client.get(api(world), headers=person.headers)).status_code == status
        assert (
            await client.get(api(world, f"/{request.id}"), headers=person.headers)
        ).status_code == status
    assert (await client.get(api(world))).status_code == 401
    queue = await client.get(api(world), headers=world.facilitator.headers)
    assert queue.status_code == 200
    assert PERSON["name"] not in queue.text
    assert queue.json()[0]["pseudonym"] == request.pseudonym
    shown = await client.get(api(world, f"/{request.id}"), headers=world.steward.headers)
    assert shown.json()["details"]["phone"] == PERSON["phone"]
    reads = (await session.scalars(select(DetailsRead))).all()
    assert [r.user_id for r in reads] == [world.steward.user.id]


async def test_other_groups_stewards_cannot_read_requests(
    client: Client, world: World, session: AsyncSession
) -> None:
    request = await ask(session, world)
    other = await build_world(session, slug="other-pod")
    response = await client.get(api(world, f"/{request.id}"), headers=other.steward.headers)
    assert response.status_code == 403
    response = await client.get(
        f"/api/groups/{other.slug}/requests/{request.id}", headers=other.steward.headers
    )
    assert response.status_code == 404


async def test_a_summary_that_repeats_the_persons_details_is_refused(
    client: Client, world: World, session: AsyncSession
) -> None:
    request = await ask(session, world)
    for summary in (
        f"Rent for {PERSON['name']}",
        "Call 611222333 first",
        f"Write to {PERSON['email']}",
    ):
        response = await client.post(
            api(world, f"/{request.id}/propose"),
            headers=world.steward.headers,
            json={
                "title": "Rent support",
                "summary": summary,
                "fund": "rent-relief",
                "amount": "300.00",
            },
        )
        assert response.status_code == 422, summary


async def test_ask_propose_pass_pay_then_erase_leaves_the_record_intact(
    client: Client, world: World, session: AsyncSession, settings: Settings
) -> None:
    request = await ask(session, world)
    await client.post(
        f"/api/groups/{world.slug}/entries",
        headers=world.steward.headers,
        json={"kind": "donation", "fund": "rent-relief", "amount": "500.00"},
    )
    proposed = await client.post(
        api(world, f"/{request.id}/propose"),
        headers=world.steward.headers,
        json={
            "title": "Rent support for two months",
            "summary": "Lost their job in October.",
            "fund": "rent-relief",
            "amount": "300.00",
        },
    )
    assert proposed.status_code == 201, proposed.text
    number = proposed.json()["proposal"]
    await everyone_agrees(client, world, number)
    paid = await client.post(
        f"/api/groups/{world.slug}/entries",
        headers=world.steward.headers,
        json={
            "kind": "disbursement",
            "fund": "rent-relief",
            "amount": "300.00",
            "proposal": number,
            "counterparty": request.pseudonym,
        },
    )
    assert paid.status_code == 201, paid.text
    status = await support.status_by_reference(session, world.group, request.reference)
    assert status.status == "paid"
    await session.commit()  # end the test's own transaction: SQLite has one writer

    minute_before = (
        await client.get(
            f"/api/groups/{world.slug}/proposals/{number}", headers=world.member.headers
        )
    ).json()
    public_outputs = [
        (await client.get(f"/api/groups/{world.slug}/proposals/{number}")).text,
        (await client.get(f"/api/groups/{world.slug}/entries")).text,
        *[
            (await client.get(f"/api/groups/{world.slug}/export.{fmt}")).text
            for fmt in ("csv", "json", "jsonl", "journal", "beancount")
        ],
    ]
    for output in public_outputs:
        assert request.pseudonym in output or "entries" in output
        for secret in PERSON.values():
            assert secret not in output

    erased = await client.delete(
        api(world, f"/{request.id}/personal-data"), headers=world.facilitator.headers
    )
    assert erased.status_code == 204
    shown = (await client.get(api(world, f"/{request.id}"), headers=world.steward.headers)).json()
    assert shown["details"] is None
    assert shown["erased"] is True
    assert shown["pseudonym"] == request.pseudonym
    minute_after = (
        await client.get(
            f"/api/groups/{world.slug}/proposals/{number}", headers=world.member.headers
        )
    ).json()
    assert minute_after == minute_before
    assert (await verify_group(session, await world.fresh_group(session))).ok
    await assert_gone_from_the_database(session, settings)


async def assert_gone_from_the_database(session: AsyncSession, settings: Settings) -> None:
    """No table, and on SQLite no byte of the file or its write-ahead log, holds them."""
    await session.rollback()
    if settings.is_sqlite:
        path = Path(settings.database_url.split("///", 1)[1])
        for file in (path, Path(f"{path}-wal")):
            if file.exists():
                content = file.read_bytes()
                for secret in PERSON.values():
                    assert secret.encode() not in content, (file.name, secret)
        return
    tables = (
        (
            await session.execute(
                text(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
                )
            )
        )
        .scalars()
        .all()
    )
    for table in tables:
        dump = (await session.execute(text(f'SELECT CAST(t.* AS text) FROM "{table}" t'))).scalars()
        joined = "\n".join(dump)
        for secret in PERSON.values():
            assert secret not in joined, (table, secret)


async def test_retention_erases_old_closed_requests_only(
    world: World, session: AsyncSession
) -> None:
    from datetime import timedelta

    from ledger.groups import utcnow

    old = await ask(session, world)
    await support.decline(
        session, old, "We cannot help this month, sorry.", now=utcnow() - timedelta(days=91)
    )
    fresh = await ask(session, world, email="other@example.net")
    await session.commit()
    assert await support.purge(session) == 1
    await session.commit()
    assert (await support.get_request(session, world.group, old.id)).erased_at is not None
    assert (await support.get_request(session, world.group, fresh.id)).erased_at is None


async def test_new_requests_notify_stewards_by_pseudonym(
    world: World, session: AsyncSession
) -> None:
    request = await ask(session, world)
    notes = (
        await session.scalars(select(Notification).where(Notification.kind == "new_request"))
    ).all()
    assert {n.user_id for n in notes} == {
        world.admin.user.id,
        world.steward.user.id,
        world.facilitator.user.id,
    }
    for note in notes:
        assert request.pseudonym in note.subject
        assert PERSON["name"] not in note.body


@pytest.mark.parametrize("field", ["need", "phone", "consent"])
async def test_an_incomplete_request_is_refused_and_stores_nothing(
    world: World, session: AsyncSession, field: str
) -> None:
    overrides: dict[str, Any] = {"need": "", "phone": "call me maybe", "consent": False}
    form = dataclasses.replace(
        support.AskForm(need="Food for the week", consent=True, phone="611 222 333"),
        **{field: overrides[field]},
    )
    with pytest.raises(support.InvalidInput):
        await support.ask(session, world.group, form)
    await session.rollback()
    assert await support.queue(session, await world.fresh_group(session)) == []


YOLANDA = {
    "name": "Yolanda Hernández",
    "phone": "+34 699 818 272",
    "email": "yolanda.hidden@example.net",
}


async def propose_for(client: Client, world: World, request_id: int, **fields: str) -> Any:
    body = {
        "title": "Food for the week",
        "summary": "Groceries for a family of four.",
        "fund": "groceries",
        "amount": "80.00",
        **fields,
    }
    return await client.post(
        api(world, f"/{request_id}/propose"), headers=world.steward.headers, json=body
    )


@pytest.mark.parametrize(
    ("fields", "field", "word"),
    [
        ({"title": "Food for Yolanda H."}, "title", "yolanda"),
        ({"summary": "Receipt to yolanda.hidden at example.net"}, "body", "yolanda.hidden"),
        ({"summary": "For the HERNANDEZ family"}, "body", "hernandez"),
        ({"summary": "Reach her on 818-27 in the evening"}, "body", "8182"),
    ],
)
async def test_a_proposal_with_any_part_of_the_persons_details_is_refused_naming_the_word(
    client: Client,
    world: World,
    session: AsyncSession,
    fields: dict[str, str],
    field: str,
    word: str,
) -> None:
    request = await ask(session, world, **YOLANDA)
    refused = await propose_for(client, world, request.id, **fields)
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert f"“{word}”" in problem["detail"]
    assert problem["errors"][0]["field"] == field
    for secret in YOLANDA.values():
        assert secret not in problem["detail"]
    assert (await client.get(f"/api/groups/{world.slug}/proposals")).json() == []


async def test_every_amendment_of_a_proposal_made_from_a_request_is_checked_too(
    client: Client, world: World, session: AsyncSession
) -> None:
    request = await ask(session, world, **YOLANDA)
    made = await propose_for(client, world, request.id)
    assert made.status_code == 201, made.text
    amend = f"/api/groups/{world.slug}/proposals/{made.json()['proposal']}/amendments"
    for body, field in (
        ({"title": "Food for Yolanda", "reason": "Clearer"}, "title"),
        ({"body": "Call yolanda.hidden first", "reason": "Clearer"}, "body"),
        ({"counterparty": "Yolanda Hernandez", "reason": "Pay her directly"}, "counterparty"),
        ({"body": "Groceries for a family of five.", "reason": "Hernández has a baby"}, "reason"),
    ):
        refused = await client.post(amend, headers=world.steward.headers, json=body)
        assert refused.status_code == 422, (body, refused.text)
        assert refused.json()["errors"][0]["field"] == field
    fine = {
        "body": "Groceries for a family of five.",
        "counterparty": request.pseudonym,
        "reason": "One more child",
    }
    amended = await client.post(amend, headers=world.steward.headers, json=fine)
    assert amended.status_code in (200, 201), amended.text
    # A proposal that was not made from a request is not compared with anyone's details.
    other = await client.post(
        f"/api/groups/{world.slug}/proposals",
        headers=world.member.headers,
        json={"title": "Yolanda's birthday party", "body": "Cake"},
    )
    assert other.status_code == 201, other.text
