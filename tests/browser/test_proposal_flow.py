"""The whole life of a proposal in a real browser, against the real server: a member proposes
a payment, a second member blocks it with a reason, the author amends it, every member
agrees, the steward pays it, and an anonymous visitor reads the decision, its versions and
rounds, and the payment. Each person works in a browser context of their own.

The pages met on the way have no moderate or worse accessibility violations (axe-core),
and the public proposal page fits a phone. Screenshots go to ``test-artifacts/``; with
``COMMONPURSE_UPDATE_SCREENSHOTS=1`` the public page and the dashboard are also copied to
``docs/screenshots/`` for the README.
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import expect

from app.migrate import PROJECT_ROOT
from tests.browser.steps import (
    DESKTOP,
    PHONE,
    Cast,
    accessibility_violations,
    fits_the_screen,
    log_in,
)
from tests.support.people import Person

SCREENSHOTS = PROJECT_ROOT / "docs" / "screenshots"
TITLE = "Pay R-17's March rent"
BODY = (
    "R-17 lost hours at work and cannot pay **March rent** in full.\n"
    "\n"
    "- the rent is due on 1 March\n"
    "- the landlord agreed to wait one week\n"
)
AMENDED_BODY = BODY + "- the tenants' union pays the other €40\n"
BLOCK_REASON = "The tenants' union already offered €40: ask us only for the rest."
AMEND_REASON = "The union pays €40, so we ask for €280 instead of €320."
# (days ago, fund, amount, memo, from): €600 in Rent relief before the proposal.
DONATIONS = [
    (120, "rent-relief", "250.00", "Benefit gig", "Tenants' union"),
    (75, "groceries", "120.00", "Street fair", "Corner shop"),
    (60, "rent-relief", "200.00", "Monthly pledges", "Members"),
    (20, "rent-relief", "150.00", "Bake sale", "Bakery on 5th"),
]
# The number of the payment's entry: after the donations, the log holds the decisions of the
# blocked round and of the round that passed.
PAYMENT = len(DONATIONS) + 2 + 1


def seed_fund(base: str, cast: Cast) -> None:
    """A few months of donations, through the API with the steward's token (dated in the
    past, so the balance chart has a history to draw)."""
    today = datetime.now(UTC).date()
    for days_ago, fund, amount, memo, donor in DONATIONS:
        response = httpx.post(
            f"{base}/api/groups/{cast.world.slug}/entries",
            json={
                "kind": "donation",
                "fund": fund,
                "amount": amount,
                "memo": memo,
                "counterparty": donor,
                "occurred_on": (today - timedelta(days=days_ago)).isoformat(),
            },
            headers=cast.steward.headers,
            timeout=30,
        )
        assert response.status_code == 201, response.text


def open_as(chromium: Any, base: str, person: Person, password: str, opened: list[Any]) -> Any:
    """A page in a browser context of the person's own, logged in."""
    context = chromium.new_context(viewport=DESKTOP)
    opened.append(context)
    page = context.new_page()
    log_in(page, base, person.user.email, password)
    return page


def respond(page: Any, position: str, reason: str = "", *, refused: bool = False) -> None:
    """Send a response and wait for the page that answers it."""
    form = page.locator("#respond")
    form.get_by_label(position, exact=True).check()
    form.get_by_label("Reason").fill(reason)
    form.get_by_role("button", name="Send your response").click()
    if refused:
        expect(page.get_by_role("heading", name="Please check the form")).to_be_visible()
    else:
        expect(page.get_by_role("status")).to_contain_text("Your response was recorded")


def test_a_proposal_is_made_blocked_amended_agreed_paid_and_shown_to_the_public(
    chromium: Any, server: str, cast: Cast, artifacts: Path
) -> None:
    world, slug = cast.world, cast.world.slug
    seed_fund(server, cast)
    found: dict[str, list[str]] = {}
    opened: list[Any] = []
    try:
        # 1. A member proposes a payment from the members' area.
        author = open_as(chromium, server, world.member, cast.password, opened)
        author.get_by_role("link", name="Members' area of Rent Fund").click()
        author.get_by_role("link", name="Propose", exact=True).click()
        author.wait_for_url(f"{server}/m/{slug}/proposals/new")
        expect(author.get_by_role("heading", name="Propose", level=1)).to_be_visible()
        found["propose form"] = accessibility_violations(author)
        author.get_by_label("Title", exact=True).fill(TITLE)
        author.get_by_label("What and why").fill(BODY)
        author.get_by_label("From fund", exact=True).select_option("rent-relief")
        author.get_by_label("Amount in EUR", exact=True).fill("320.00")
        author.get_by_label("To (optional)", exact=True).fill("R-17")
        author.get_by_role("button", name="Open the proposal").click()
        author.wait_for_url(f"{server}/m/{slug}/proposals/1?done=proposed")
        assert "Your proposal is open" in author.get_by_role("status").inner_text()
        expect(author.get_by_role("heading", name=TITLE, level=1)).to_be_visible()
        assert "Pays €320.00 from Rent relief to R-17" in author.locator(".lede").inner_text()
        # The Markdown arrives as a list and bold text, not as asterisks and dashes.
        prose = author.locator(".prose")
        expect(prose.locator("strong", has_text="March rent")).to_be_visible()
        expect(prose.get_by_role("listitem")).to_have_count(2)

        # 2. A second member finds it awaiting a response and blocks it, with a reason.
        blocker = open_as(chromium, server, world.facilitator, cast.password, opened)
        awaiting = blocker.get_by_role("region", name="Awaiting your response (1)")
        expect(awaiting).to_be_visible()
        found["dashboard with a proposal awaiting"] = accessibility_violations(blocker)
        blocker.screenshot(path=str(artifacts / "dashboard-awaiting.png"), full_page=True)
        blocker.get_by_role("link", name="Members' area of Rent Fund").click()
        group_awaiting = blocker.get_by_role("region", name="Awaiting your response (1)")
        expect(group_awaiting.get_by_role("link", name=f"#1 {TITLE}")).to_be_visible()
        found["members' area with a proposal awaiting"] = accessibility_violations(blocker)
        group_awaiting.get_by_role("link", name=f"#1 {TITLE}").click()
        blocker.wait_for_url(f"{server}/m/{slug}/proposals/1#respond")
        expect(blocker.get_by_role("heading", name="Your response")).to_be_visible()
        respond_panel = blocker.locator("#respond").inner_text()
        assert "You have not responded in this round yet" in respond_panel
        found["member proposal page"] = accessibility_violations(blocker)

        # A block without a reason is refused next to the field.
        respond(blocker, "Block", refused=True)
        expect(blocker.locator("#error-reason")).to_be_visible()
        assert "A block needs a reason" in blocker.locator("#error-reason").inner_text()
        expect(blocker.get_by_label("Block", exact=True)).to_be_checked()
        found["member proposal page with an error"] = accessibility_violations(blocker)

        respond(blocker, "Block", BLOCK_REASON)
        assert f"You responded: Block: {BLOCK_REASON}" in blocker.locator("#respond").inner_text()

        # 3. The author answers the block with an amendment: a new round opens.
        author.reload()
        round_one = author.get_by_role("region", name="Round 1: open until", exact=False)
        assert f"Block: {BLOCK_REASON}" in round_one.inner_text()
        amend = author.locator("#amend")
        amend.get_by_label("What and why").fill(AMENDED_BODY)
        amend.get_by_label("Amount in EUR", exact=True).fill("280.00")
        amend.get_by_label("Why amend it?", exact=True).fill(AMEND_REASON)
        amend.get_by_role("button", name="Amend the proposal").click()
        expect(author.get_by_role("status")).to_contain_text("The proposal was amended")
        assert "Pays €280.00 from Rent relief to R-17" in author.locator(".lede").inner_text()
        concerns = author.get_by_role("region", name="Concerns to answer")
        assert f"Block ({world.facilitator.user.name}): {BLOCK_REASON}" in concerns.inner_text()
        assert f"Why it was amended: {AMEND_REASON}" in concerns.inner_text()
        expect(
            author.get_by_role("heading", name="Round 2: open until", exact=False)
        ).to_be_visible()
        round_two = author.get_by_role("region", name="Round 2: open until", exact=False)
        assert "0 of 4 (2 needed)" in round_two.inner_text()
        versions = author.get_by_role("region", name="History").inner_text()
        assert "Version 2" in versions
        assert "changed the text and amount" in versions
        author.screenshot(path=str(artifacts / "proposal-member.png"), full_page=True)

        # 4. Every member agrees, each in their own browser; the last answer closes the round.
        respond(author, "Agree")
        blocker.goto(f"{server}/m/{slug}/proposals/1")
        expect(blocker.get_by_role("heading", name="Concerns to answer")).to_be_visible()
        respond(blocker, "Agree", "Thank you, this answers my block.")
        assert "You responded: Agree" in blocker.locator("#respond").inner_text()
        steward = open_as(chromium, server, cast.steward, cast.password, opened)
        admin = open_as(chromium, server, cast.admin, cast.password, opened)
        for page in (steward, admin):
            page.get_by_role("region", name="Awaiting your response (1)").get_by_role(
                "link", name=f"#1 {TITLE}"
            ).click()
            respond(page, "Agree")
        expect(admin.locator(".badge", has_text="Passed")).to_be_visible()
        expect(admin.get_by_role("heading", name="Round 2: closed")).to_be_visible()
        outcome = admin.locator("p", has_text="Outcome:").inner_text()
        assert "Outcome: Passed: 4 of 4 responses agree" in outcome
        expect(admin.get_by_role("region", name="Your response")).to_be_hidden()

        # 5. The steward pays it from the decision: the form comes filled in with what the
        # group decided (fund, recipient, the amount left), the recipient not editable.
        steward.goto(f"{server}/m/{slug}/proposals/1")
        steward.get_by_role("link", name="Record a payment under this proposal").click()
        decided = steward.get_by_role("region", name=f"Paying under proposal 1: {TITLE}")
        expect(decided).to_contain_text("to R-17; €280.00 is left to pay")
        found["payment form"] = accessibility_violations(steward)
        expect(steward.get_by_label("Amount in EUR", exact=True)).to_have_value("280.00")
        recipient = steward.get_by_label("To (optional)", exact=True)
        expect(recipient).to_have_value("R-17")
        expect(recipient).not_to_be_editable()
        steward.get_by_label("Note (optional)", exact=True).fill("March rent, as decided")
        steward.get_by_role("button", name="Record a payment").click()
        notice = steward.get_by_role("status")
        expect(notice).to_contain_text(f"Recorded as entry #{PAYMENT}")
        expect(notice).to_contain_text("€280.00 from Rent relief")
        steward.goto(f"{server}/m/{slug}/proposals/1")
        money = steward.get_by_role("region", name="Money decided").inner_text()
        assert "Paid so far\n€280.00" in money
        assert "Left to pay\n€0.00" in money

        # 6. Anyone, without logging in, reads the decision and the payment.
        context = chromium.new_context(viewport=DESKTOP)
        opened.append(context)
        visitor = context.new_page()
        visitor.goto(f"{server}/g/{slug}")
        decided = visitor.get_by_role("region", name="Decided", exact=True)
        decided_text = decided.inner_text()
        assert TITLE in decided_text
        assert "Passed: 4 of 4 responses agree" in decided_text  # why, in words
        entries = visitor.get_by_role("region", name="Newest entries").inner_text()
        assert "Payment of €280.00 from Rent relief" in entries
        visitor.screenshot(path=str(artifacts / "public-page-with-decision.png"), full_page=True)

        decided.get_by_role("link", name=f"Proposal 1: {TITLE}").click()
        visitor.wait_for_url(f"{server}/g/{slug}/proposals/1")
        expect(visitor.get_by_role("heading", name=TITLE, level=1)).to_be_visible()
        facts = visitor.get_by_role("region", name="In short").inner_text()
        assert "Status\nPassed" in facts
        assert "Paid so far\n€280.00" in facts
        versions_region = visitor.get_by_role("region", name="Versions")
        expect(versions_region.get_by_role("heading", name="Version 1")).to_be_visible()
        expect(versions_region.get_by_role("heading", name="Version 2")).to_be_visible()
        versions_text = versions_region.inner_text()
        assert f"Why it was amended: {AMEND_REASON}" in versions_text
        assert "€320.00" in versions_text
        assert "€280.00" in versions_text
        text_changes = visitor.get_by_role("group", name="Changes to the text in version 2")
        assert text_changes.locator("ins").filter(has_text="union").count() >= 1
        rounds = visitor.get_by_role("region", name="Rounds of responses")
        for heading in ("Round 1 on version 1 Closed", "Round 2 on version 2 Passed"):
            expect(rounds.get_by_role("heading", name=heading, level=3)).to_be_visible()
        round_1 = visitor.locator("#round-1").inner_text()
        assert "Block\n" in round_1
        assert BLOCK_REASON in round_1
        assert "because the proposal was amended" in round_1
        round_2 = visitor.locator("#round-2").inner_text()
        assert "Passed: 4 of 4 responses agree" in round_2
        assert "when every eligible member had responded" in round_2
        assert "Thank you, this answers my block." in round_2
        payments = visitor.get_by_role("region", name="Payments made under it")
        assert "Payment of €280.00 from Rent relief" in payments.inner_text()
        receipt_path = f"/g/{slug}/entries/{PAYMENT}/receipt.pdf"
        receipt = payments.get_by_role("link", name=f"Receipt for entry {PAYMENT}")
        assert receipt.get_attribute("href") == receipt_path
        receipt_pdf = visitor.request.get(server + receipt_path)
        assert receipt_pdf.status == 200
        assert receipt_pdf.body().startswith(b"%PDF-")
        found["public proposal page"] = accessibility_violations(visitor)
        visitor.screenshot(path=str(artifacts / "proposal-public.png"), full_page=True)

        record = visitor.request.get(f"{server}/g/{slug}/proposals/1.pdf")
        assert record.status == 200
        assert record.headers["content-type"].startswith("application/pdf")
        assert record.body().startswith(b"%PDF-")

        visitor.goto(f"{server}/g/{slug}/proposals")
        closed = visitor.get_by_role("region", name="Decided and withdrawn")
        expect(closed.get_by_role("link", name=f"Proposal 1: {TITLE}")).to_be_visible()
        found["decisions list"] = accessibility_violations(visitor)

        phone_context = chromium.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
        opened.append(phone_context)
        phone = phone_context.new_page()
        phone.goto(f"{server}/g/{slug}/proposals/1")
        fits_the_screen(phone)
        expect(phone.get_by_role("heading", name=TITLE, level=1)).to_be_visible()
    finally:
        for context in opened:
            context.close()
    problems = {where: issues for where, issues in found.items() if issues}
    assert not problems, problems

    if os.environ.get("COMMONPURSE_UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(
            artifacts / "public-page-with-decision.png", SCREENSHOTS / "public-page.png"
        )
        shutil.copyfile(artifacts / "dashboard-awaiting.png", SCREENSHOTS / "dashboard.png")
