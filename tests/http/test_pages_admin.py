"""The admins' pages: invites on the members page (a link shown once, the open invites,
revoking) and the decision rules form. CSRF, roles, validation next to the fields, 303."""

from __future__ import annotations

import re
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.settings import Settings
from ledger.models import Invite
from proposals import service as proposals
from tests.support.clients import (
    browser,
    csrf_of,
    give_password,
    post_form,
    record_entry,
    text_of,
)
from tests.support.people import World
from tests.support.receipts import attach, png_with_text

Client = AsyncTestClient[Litestar]
HTML = {"Accept": "text/html"}
LINK = re.compile(r'id="new-invite-link" type="text" readonly value="([^"]+)"')


async def invite_count(session: AsyncSession) -> int:
    count = int(await session.scalar(select(func.count()).select_from(Invite)) or 0)
    await session.commit()  # end the read: on SQLite it holds the write lock
    return count


async def rules_of(client: Client, world: World) -> dict[str, Any]:
    response = await client.get(f"/api/groups/{world.slug}/rules", headers=world.admin.headers)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


# --- invites -----------------------------------------------------------------------------------


async def test_admin_makes_an_invite_sees_its_link_once_and_revokes_it(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.admin)
    members = f"/m/{world.slug}/members"
    async with browser(settings, world.admin) as admin:
        page = await admin.get(members, headers=HTML)
        assert page.status_code == 200
        text = text_of(page.text)
        assert "Invite someone with a link" in text
        assert "Open invites (0)" in text
        made = await post_form(
            admin,
            f"/m/{world.slug}/invites",
            {"roles": "steward", "days": "3"},
            form_url=members,
        )
        assert made.status_code == 303
        assert made.headers["location"] == f"{members}?done=invited#invites"
        cookie = next(
            c for c in made.headers.get_list("set-cookie") if c.startswith("cp_new_invite=")
        )
        assert f"Path={members}" in cookie
        assert "HttpOnly" in cookie
        assert "samesite=strict" in cookie.lower()

        shown = await admin.get(made.headers["location"], headers=HTML)
        link = LINK.search(shown.text)
        assert link, shown.text
        assert link.group(1).startswith("http://testserver.local/join/")
        text = text_of(shown.text)
        assert "Copy this link now: it is shown only once." in text
        assert "Open invites (1)" in text
        assert "Member, steward : made by Admin-Rent-Fund on" in text
        # Shown once: the cookie that carried it is cleared, and the page does not show it again.
        assert any(
            c.startswith("cp_new_invite=") and "Max-Age=0" in c
            for c in shown.headers.get_list("set-cookie")
        )
        again = await admin.get(made.headers["location"], headers=HTML)
        assert not LINK.search(again.text)
        assert "Its link is shown only once" in text_of(again.text)

        token = link.group(1).rsplit("/", 1)[1]
        async with browser(settings) as newcomer:
            invited = await newcomer.get(f"/join/{token}", headers=HTML)
            assert invited.status_code == 200
            assert "You will be a member and a steward." in text_of(invited.text)

        invite_id = re.search(r'id="invite-(\d+)"', again.text)
        assert invite_id
        revoked = await post_form(
            admin, f"/m/{world.slug}/invites/{invite_id.group(1)}/revoke", {}, form_url=members
        )
        assert revoked.status_code == 303
        assert revoked.headers["location"] == f"{members}?done=invite-revoked#invites"
        after = text_of((await admin.get(revoked.headers["location"], headers=HTML)).text)
        assert "The invite was revoked: its link no longer works." in after
        assert "Open invites (0)" in after
        async with browser(settings) as newcomer:
            gone = await newcomer.get(f"/join/{token}", headers=HTML)
            assert gone.status_code == 410
            assert "This invite link was withdrawn by the group." in text_of(gone.text)
    assert await invite_count(session) == 1


async def test_a_new_link_of_another_group_or_a_used_one_is_not_shown(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.admin)
    members = f"/m/{world.slug}/members"
    async with browser(settings, world.admin) as admin:
        admin.cookies.set("cp_new_invite", "made-up-token", path=members)
        page = await admin.get(members, headers=HTML)
        assert page.status_code == 200
        assert not LINK.search(page.text)


async def test_the_invite_form_refuses_choices_it_does_not_offer(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.admin)
    members = f"/m/{world.slug}/members"
    url = f"/m/{world.slug}/invites"
    async with browser(settings, world.admin) as admin:
        for data, message in (
            ({"days": "365"}, "Choose how long the link works."),
            ({}, "Choose how long the link works."),
            ({"days": "7", "roles": "owner"}, "Unknown role(s) owner."),
        ):
            refused = await post_form(admin, url, data, form_url=members)
            assert refused.status_code == 422
            assert message in text_of(refused.text)
        missing = await post_form(admin, f"{url}/999999/revoke", {}, form_url=members)
        assert missing.status_code == 404
    assert await invite_count(session) == 0


async def test_only_admins_make_or_revoke_invites_and_change_rules(
    settings: Settings, client: Client, world: World, session: AsyncSession
) -> None:
    made = await client.post(
        f"/api/groups/{world.slug}/invites", json={}, headers=world.admin.headers
    )
    invite_id = made.json()["id"]
    rules_before = await rules_of(client, world)
    await give_password(session, world.member, world.steward, world.facilitator, world.outsider)
    for person in (world.member, world.steward, world.facilitator, world.outsider):
        async with browser(settings, person) as visitor:
            page = await visitor.get(f"/m/{world.slug}/rules", headers=HTML)
            assert page.status_code == 403
            token = csrf_of(page.text)  # the error page's logout form carries one
            for url, data in (
                (f"/m/{world.slug}/invites", {"days": "7"}),
                (f"/m/{world.slug}/invites/{invite_id}/revoke", {}),
                (f"/m/{world.slug}/rules", {"quorum": "10", "min_open_hours": "1"}),
            ):
                refused = await visitor.post(url, data={"_csrf_token": token, **data}, headers=HTML)
                assert refused.status_code == 403, url
    assert await invite_count(session) == 1
    assert await rules_of(client, world) == rules_before
    listed = await client.get(f"/api/groups/{world.slug}/invites", headers=world.admin.headers)
    assert [i["status"] for i in listed.json()] == ["open"]


async def test_invite_and_rules_forms_without_the_csrf_token_are_refused(
    settings: Settings, client: Client, world: World, session: AsyncSession
) -> None:
    made = await client.post(
        f"/api/groups/{world.slug}/invites", json={}, headers=world.admin.headers
    )
    invite_id = made.json()["id"]
    rules_before = await rules_of(client, world)
    await give_password(session, world.admin)
    async with browser(settings, world.admin) as admin:
        await admin.get(f"/m/{world.slug}/rules")
        for url, data in (
            (f"/m/{world.slug}/invites", {"days": "7"}),
            (f"/m/{world.slug}/invites/{invite_id}/revoke", {}),
            (f"/m/{world.slug}/rules", {"quorum": "10", "min_open_hours": "1"}),
        ):
            refused = await admin.post(url, data=data, headers=HTML, follow_redirects=False)
            assert refused.status_code == 403, url
    assert await invite_count(session) == 1
    assert await rules_of(client, world) == rules_before
    listed = await client.get(f"/api/groups/{world.slug}/invites", headers=world.admin.headers)
    assert [i["status"] for i in listed.json()] == ["open"]


# --- decision rules ------------------------------------------------------------------------------


def rules_form(**changes: str) -> dict[str, str]:
    """The form as the page fills it with the defaults, with ``changes``."""
    form = {
        "quorum": "50",
        "min_open_hours": "48",
        "blocks_to_stop": "1",
        "max_stand_aside_share": "25",
        "min_support_share": "50",
        "close_when_all_responded": "on",
        "exclude_beneficiary": "on",
        "fallback_rounds": "2",
        "fallback_share": "75",
    }
    form.update(changes)
    return {name: value for name, value in form.items() if value != "off"}


async def test_admin_reads_and_changes_the_decision_rules(
    settings: Settings, client: Client, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.admin)
    url = f"/m/{world.slug}/rules"
    async with browser(settings, world.admin) as admin:
        home = await admin.get(f"/m/{world.slug}", headers=HTML)
        assert f'href="{url}"' in home.text
        page = await admin.get(url, headers=HTML)
        assert page.status_code == 200
        assert page.headers["cache-control"] == "no-store"
        for name, value in rules_form().items():
            if value == "on":
                assert re.search(rf'name="{name}" type="checkbox" checked', page.text), name
            else:
                assert f'name="{name}" type="text" value="{value}"' in page.text, name
        assert not re.search(r'name="fallback" type="checkbox" checked', page.text)
        assert not re.search(r'name="public_names" type="checkbox" checked', page.text)

        saved = await post_form(
            admin,
            url,
            rules_form(
                quorum="60 %",
                min_open_hours="24",
                blocks_to_stop="2",
                max_stand_aside_share="30",
                min_support_share="62.5",
                close_when_all_responded="off",
                fallback="on",
                fallback_rounds="3",
                fallback_share="80",
                public_names="on",
                policy_room_committed="on",
                public_comments="on",
                reminder_hours="12",
                hide_tally_until_close="on",
            ),
        )
        assert saved.status_code == 303, saved.text
        assert saved.headers["location"] == f"{url}?saved=1"
        shown = await admin.get(saved.headers["location"], headers=HTML)
        assert "The decision rules were saved." in text_of(shown.text)
        assert 'name="quorum" type="text" value="60"' in shown.text
        assert 'name="min_support_share" type="text" value="62.5"' in shown.text
        assert re.search(r'name="fallback" type="checkbox" checked', shown.text)
        assert not re.search(r'name="close_when_all_responded" type="checkbox" checked', shown.text)
        assert re.search(r'name="policy_room_committed" type="checkbox" checked', shown.text)
        assert re.search(r'name="public_comments" type="checkbox" checked', shown.text)
        assert 'name="reminder_hours" type="text" value="12"' in shown.text
        assert re.search(r'name="hide_tally_until_close" type="checkbox" checked', shown.text)
    assert await rules_of(client, world) == {
        "rules": {
            "quorum": "0.6",
            "min_open_hours": 24,
            "blocks_to_stop": 2,
            "max_stand_aside_share": "0.3",
            "min_support_share": "0.625",
            "close_when_all_responded": False,
            "exclude_beneficiary": True,
            "fallback": {"after_blocked_rounds": 3, "agree_share": "0.8"},
        },
        "public_names": True,
        "policy_room_committed": True,
        "public_comments": True,
        "reminder_hours_before": 12,
        "hide_tally_until_close": True,
        "tiers": [],
    }
    # Switching the fallback off again clears it; precise shares stay exact.
    async with browser(settings, world.admin) as admin:
        again = await post_form(admin, url, rules_form(quorum="33.3333", fallback="off"))
        assert again.status_code == 303
    rules = (await rules_of(client, world))["rules"]
    assert rules["fallback"] is None
    assert rules["quorum"] == "0.333333"
    group = await world.fresh_group(session)
    stored, public_names = await proposals.get_rules(session, group)
    await session.commit()
    assert str(stored.quorum) == "333333/1000000"
    assert public_names is False


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        (
            {"quorum": "half", "min_open_hours": "-1", "blocks_to_stop": "0"},
            {
                "quorum": "Write a percentage from 0 to 100 with digits",
                "min_open_hours": "Enter a whole number from 0 to 8,760.",
                "blocks_to_stop": "Enter a whole number from 1 to 999.",
            },
        ),
        (
            {"max_stand_aside_share": "101", "min_support_share": "", "quorum": "12.34567"},
            {
                "max_stand_aside_share": "Choose a percentage from 0 to 100.",
                "min_support_share": "Enter a percentage from 0 to 100, such as 50.",
                "quorum": "(at most 4 decimals)",
            },
        ),
        (
            {"fallback": "on", "fallback_rounds": "", "fallback_share": "40"},
            {
                "fallback_rounds": "Enter a whole number, such as 2.",
                "fallback_share": "Choose a percentage from 50 to 100.",
            },
        ),
        (
            {"min_open_hours": "9999", "blocks_to_stop": "1.5", "quorum": "５０"},
            {
                "min_open_hours": "Enter a whole number from 0 to 8,760.",
                "blocks_to_stop": "Enter a whole number from 1 to 999.",
                "quorum": "Write a percentage from 0 to 100 with digits",
            },
        ),
    ],
    ids=["numbers", "shares", "fallback", "out of range"],
)
async def test_the_rules_form_shows_errors_next_to_fields_and_keeps_the_input(
    settings: Settings,
    client: Client,
    world: World,
    session: AsyncSession,
    changes: dict[str, str],
    errors: dict[str, str],
) -> None:
    before = await rules_of(client, world)
    await give_password(session, world.admin)
    async with browser(settings, world.admin) as admin:
        refused = await post_form(admin, f"/m/{world.slug}/rules", rules_form(**changes))
        assert refused.status_code == 422
        text = text_of(refused.text)
        assert "Please check the form" in text
        for name, message in errors.items():
            shown = re.search(rf'<p class="field-error" id="error-{name}">(.*?)</p>', refused.text)
            assert shown, name
            assert message in text_of(shown.group(1)), (name, shown.group(1))
            assert f'aria-describedby="hint-{name} error-{name}"' in refused.text
        for name, value in changes.items():
            if value != "on":
                assert f'name="{name}" type="text" value="{value}"' in refused.text, name
    assert await rules_of(client, world) == before


async def test_admin_publishes_the_receipts_from_the_rules_page_and_withdraws_them(
    settings: Settings, client: Client, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.admin)
    donated = await record_entry(
        client, world, {"kind": "donation", "fund": "rent-relief", "amount": "5.00"}
    )
    attached = await attach(
        client, world, donated["seq"], png_with_text(), content_type="image/png"
    )
    assert attached.status_code == 201, attached.text
    file_url = (
        f"/api/groups/{world.slug}/entries/{donated['seq']}/attachments/{attached.json()['sha256']}"
    )
    settings_url = f"/api/groups/{world.slug}/receipt-settings"
    assert (await client.get(file_url)).status_code in (401, 403, 404)
    url = f"/m/{world.slug}/rules"
    async with browser(settings, world.admin) as admin:
        page = await admin.get(url, headers=HTML)
        assert 'name="publish_receipts" type="checkbox"' in page.text
        assert not re.search(r'name="publish_receipts" type="checkbox" checked', page.text)

        saved = await post_form(admin, url, rules_form(publish_receipts="on"))

        assert saved.status_code == 303, saved.text
        shown = await admin.get(saved.headers["location"], headers=HTML)
        assert re.search(r'name="publish_receipts" type="checkbox" checked', shown.text)
        published = await client.get(settings_url, headers=world.member.headers)
        assert published.json() == {"published": True}
        opened = await client.get(file_url)
        assert opened.status_code == 200
        as_member = await client.get(file_url, headers=world.member.headers)
        assert opened.content == as_member.content

        withdrawn = await post_form(admin, url, rules_form())

        assert withdrawn.status_code == 303, withdrawn.text
    assert (await client.get(settings_url, headers=world.member.headers)).json() == {
        "published": False
    }
    assert (await client.get(file_url)).status_code in (401, 403, 404)
