"""The rules page's table of tiers: filled in, saved, refused next to the row's field."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.settings import Settings
from tests.http.test_pages_admin import rules_form, rules_of
from tests.http.test_proposals import BLOCK_REASON, answer, donate, let_the_deadline_pass, pay
from tests.http.test_rule_tiers import set_tiers
from tests.support.clients import browser, give_password, post_form, text_of
from tests.support.people import World

Client = AsyncTestClient[Litestar]
HTML = {"Accept": "text/html"}


def tier_rows(*rows: tuple[str, str, str, str, str]) -> dict[str, str]:
    """Form rows: up to, way of deciding, hours, quorum %, urgent agreements."""
    fields: dict[str, str] = {}
    for index, row in enumerate(rows):
        for column, value in zip(("up_to", "mode", "hours", "quorum", "urgent"), row, strict=True):
            fields[f"tier_{index}_{column}"] = value
    return fields


async def test_admin_edits_the_table_of_tiers_on_the_rules_page(
    settings: Settings, client: Client, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.admin)
    url = f"/m/{world.slug}/rules"
    async with browser(settings, world.admin) as admin:
        page = await admin.get(url, headers=HTML)
        assert "Rules that fit the amount" in text_of(page.text)
        assert 'name="tier_0_mode"' in page.text
        saved = await post_form(
            admin,
            url,
            {
                **rules_form(),
                **tier_rows(
                    ("100", "lazy", "24", "", "2"),
                    ("1,000", "consensus", "", "", ""),
                    ("", "consensus", "96", "75", ""),
                ),
            },
        )
        assert saved.status_code == 303, saved.text
        shown = await admin.get(saved.headers["location"], headers=HTML)
        assert 'name="tier_1_up_to" value="1000"' in shown.text
        assert 'value="lazy" selected' in shown.text
        assert 'name="tier_2_quorum" value="75"' in shown.text
    tiers = (await rules_of(client, world))["tiers"]
    assert [(t.get("up_to"), t["mode"], t["min_deadline_hours"], t["quorum"]) for t in tiers] == [
        ("100", "lazy", 24, "0"),
        ("1000", "consensus", 48, "0.5"),
        (None, "consensus", 96, "0.75"),
    ]
    assert tiers[0]["urgent_agreements"] == 2

    # Limits out of order: refused next to the row's field, nothing changes.
    async with browser(settings, world.admin) as admin:
        refused = await post_form(
            admin,
            url,
            {
                **rules_form(quorum="60"),
                **tier_rows(("500", "lazy", "", "", ""), ("100", "consensus", "", "", "")),
            },
        )
        assert refused.status_code == 422
        assert 'id="error-tier_1_up_to"' in refused.text
        assert "the last tier has no upper limit" in text_of(refused.text)
    after = await rules_of(client, world)
    assert after["tiers"] == tiers
    assert after["rules"]["quorum"] == "0.5"

    # Every row left unused: the ordinary rules for every amount again.
    async with browser(settings, world.admin) as admin:
        cleared = await post_form(admin, url, rules_form())
        assert cleared.status_code == 303
    assert (await rules_of(client, world))["tiers"] == []


async def test_an_urgent_proposal_from_the_form_and_its_state_on_the_pages(
    settings: Settings, client: Client, world: World, session: AsyncSession
) -> None:
    await set_tiers(client, world)
    await donate(client, world, "500.00")
    await give_password(session, world.member)
    async with browser(settings, world.member) as member:
        refused = await post_form(
            member,
            f"/m/{world.slug}/proposals/new",
            {"title": "Van repair", "fund": "rent-relief", "amount": "500.00", "urgent": "on"},
        )
        assert refused.status_code == 422
        assert "do not allow urgent decisions for tier 2" in text_of(refused.text)
        opened = await post_form(
            member,
            f"/m/{world.slug}/proposals/new",
            {
                "title": "Van repair",
                "fund": "rent-relief",
                "amount": "60.00",
                "counterparty": "R-17",
                "urgent": "on",
            },
        )
        assert opened.status_code == 303, opened.text
        page = text_of((await member.get(f"/m/{world.slug}/proposals/1", headers=HTML)).text)
        assert "decided by tier 1, up to EUR 100" in page
        assert "Urgent: it may pass early" in page
    await answer(client, world, world.admin, 1, "agree")
    await answer(client, world, world.steward, 1, "agree")
    assert (await pay(client, world, "40.00")).status_code == 201
    public = text_of((await client.get(f"/g/{world.slug}/proposals/1", headers=HTML)).text)
    assert "Passed urgently on" in public
    assert "awaiting confirmation" in public
    async with browser(settings, world.member) as member:
        page = await member.get(f"/m/{world.slug}/proposals/1", headers=HTML)
        # The round stays open for its confirmation: members can still respond.
        assert "awaiting confirmation" in text_of(page.text)
        assert 'name="position"' in page.text
    await answer(client, world, world.facilitator, 1, "block", BLOCK_REASON)
    await let_the_deadline_pass(session)
    public = text_of((await client.get(f"/g/{world.slug}/proposals/1", headers=HTML)).text)
    assert "not confirmed at its deadline" in public
    assert "paid under the urgent decision stays paid" in public
    record = await client.get(f"/g/{world.slug}/proposals/1.pdf")
    assert record.status_code == 200
