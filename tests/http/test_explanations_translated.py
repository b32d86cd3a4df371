"""A round's outcome is explained in the reader's language: the decision rules keep the
explanation as words (English messages of the catalogues and their values) in the round's
minute, and each page translates them; a round decided before they were kept shows its
stored English explanation as it always has."""

from __future__ import annotations

from datetime import UTC, datetime

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.settings import Settings
from proposals.models import Proposal, Round
from tests.support.clients import browser, give_password, text_of
from tests.support.people import World

Client = AsyncTestClient[Litestar]
HTML = {"Accept": "text/html"}
SPANISH = {"Accept": "text/html", "Accept-Language": "es"}


async def blocked_proposal(client: Client, world: World, *, everyone: bool = True) -> None:
    """Proposal 1, blocked by one member while the three others agree (``everyone``; else
    the author has not responded, and the round stays open)."""
    proposed = await client.post(
        f"/api/groups/{world.slug}/proposals",
        json={"title": "Shared tools", "body": "A drill for everyone."},
        headers=world.member.headers,
    )
    assert proposed.status_code == 201, proposed.text
    for person, position in (
        (world.admin, "block"),
        (world.steward, "agree"),
        (world.facilitator, "agree"),
        *([(world.member, "agree")] if everyone else []),
    ):
        answered = await client.post(
            f"/api/groups/{world.slug}/proposals/1/responses",
            json={
                "position": position,
                "reason": "Not before the next meeting." if position == "block" else "",
            },
            headers=person.headers,
        )
        assert answered.status_code == 201, answered.text


async def test_a_spanish_proposal_page_explains_the_outcome_in_spanish(
    client: Client, world: World, settings: Settings, session: AsyncSession
) -> None:
    await blocked_proposal(client, world)
    english = text_of((await client.get(f"/g/{world.slug}/proposals/1", headers=HTML)).text)
    assert (
        "Blocked by 1 member. 4 of 4 eligible members responded: 3 agree, 0 concerns, "
        "0 stand-asides, 1 block." in english
    )
    spanish = text_of((await client.get(f"/g/{world.slug}/proposals/1", headers=SPANISH)).text)
    assert (
        "Bloqueada por 1 miembro. Respondieron 4 de 4 miembros con derecho a decidir: "
        "3 de acuerdo, 0 con preocupaciones, 0 se hacen a un lado, 1 bloqueo." in spanish
    )
    assert "Blocked by 1 member" not in spanish
    # The group's list of decisions says why in Spanish too.
    listed = text_of((await client.get(f"/g/{world.slug}", headers=SPANISH)).text)
    assert "Bloqueada por 1 miembro." in listed
    # And the member's own page of the proposal, in the language the member picked.
    await give_password(session, world.member)
    async with browser(settings, world.member) as member:
        await member.get("/language", params={"to": "es", "next": "/m"})
        page = text_of((await member.get(f"/m/{world.slug}/proposals/1", headers=HTML)).text)
    assert "Bloqueada por 1 miembro." in page
    # The stored explanation stays English (the API, the CLI and the log read it).
    stored = await session.scalar(select(Round.explanation))
    assert stored is not None
    assert stored.startswith("Blocked by 1 member.")


async def test_a_round_decided_before_explanations_kept_their_words_shows_its_english(
    client: Client, world: World, session: AsyncSession
) -> None:
    await blocked_proposal(client, world, everyone=False)
    # The round closed as the code before closed it: an English explanation and no words
    # (closing is the one change a round takes).
    explanation = (
        "Blocked by 1 member. 3 of 4 eligible members responded: 2 agree, 0 concerns, "
        "0 stand-asides, 1 block."
    )
    await session.execute(
        update(Round).values(
            closed_at=datetime.now(UTC),
            closed_by="deadline",
            outcome="blocked",
            outcome_reason="blocked",
            explanation=explanation,
        )
    )
    await session.execute(update(Proposal).values(status="blocked"))
    await session.commit()
    spanish = text_of((await client.get(f"/g/{world.slug}/proposals/1", headers=SPANISH)).text)
    assert explanation in spanish
    assert "Bloqueada" in spanish  # the outcome's label is the page's own word
