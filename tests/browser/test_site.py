"""The site in a real browser: a steward records money through the forms and the public page
shows it; no moderate or worse accessibility violations (axe-core); the public page on a phone.

Screenshots go to ``test-artifacts/`` (kept by CI, ignored by git).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.steps import (
    DESKTOP,
    PHONE,
    Cast,
    accessibility_violations,
    adopt_policy,
    log_in,
)


@pytest.fixture
def server_workers() -> int:
    """Two workers here: the steward's login must hold whichever process answers."""
    return 2


def adopt_a_policy(base: str, cast: Cast) -> int:
    """A spending policy for rent top-ups that the whole group agreed to; its number."""
    terms = {"fund": "rent-relief", "max_per_payment": "200.00", "max_per_month": "600.00"}
    return adopt_policy(base, cast, "Rent top-ups", {**terms, "purpose": "Small rent top-ups"})


def seed_entries(base: str, cast: Cast) -> None:
    """A few months of money, through the API with the steward's token."""
    url = f"{base}/api/groups/{cast.world.slug}/entries"
    bodies: list[dict[str, Any]] = [
        {
            "kind": "donation",
            "fund": "rent-relief",
            "amount": "400.00",
            "memo": "Benefit gig",
            "counterparty": "Tenants' union",
            "occurred_on": "2026-01-12",
        },
        {
            "kind": "donation",
            "fund": "groceries",
            "amount": "120.00",
            "memo": "Street fair",
            "occurred_on": "2026-02-03",
        },
        {
            "kind": "disbursement",
            "fund": "rent-relief",
            "amount": "150.00",
            "memo": "Rent support",
            "counterparty": "R-17",
            "occurred_on": "2026-02-20",
        },
        {
            "kind": "transfer",
            "from_fund": "rent-relief",
            "to_fund": "groceries",
            "amount": "50.00",
            "memo": "Rebalancing",
        },
        # Entry 1 of the log is the decision adopting the policy: 3 is the street fair.
        {"kind": "reversal", "reverses": 3, "memo": "Counted twice"},
    ]
    policy = adopt_a_policy(base, cast)
    for body in bodies:
        if body["kind"] == "disbursement":
            body = {**body, "policy": policy}
        response = httpx.post(url, json=body, headers=cast.steward.headers, timeout=30)
        assert response.status_code == 201, response.text


def test_steward_records_a_donation_and_a_payment_and_the_public_page_shows_them(
    chromium: Any, server: str, cast: Cast, artifacts: Path
) -> None:
    policy = adopt_a_policy(server, cast)
    context = chromium.new_context(viewport=DESKTOP)
    page = context.new_page()
    try:
        log_in(page, server, cast.steward.user.email, cast.password)
        expect(page.get_by_role("heading", name="Your groups")).to_be_visible()
        page.screenshot(path=str(artifacts / "dashboard.png"), full_page=True)
        page.get_by_role("link", name="Rent Fund").first.click()
        page.get_by_role("link", name="Record a donation").click()

        # A mistake first: the server explains it next to the field and keeps the input.
        page.get_by_label("Fund", exact=True).select_option("rent-relief")
        page.get_by_label("Amount in EUR", exact=True).fill("250,00")
        page.get_by_role("button", name="Record a donation").click()
        expect(page.locator("#error-amount")).to_be_visible()
        assert "is not an amount" in page.locator("#error-amount").inner_text()
        assert page.get_by_label("Amount in EUR", exact=True).input_value() == "250,00"
        page.screenshot(path=str(artifacts / "record-donation-error.png"), full_page=True)

        page.get_by_label("Amount in EUR", exact=True).fill("250.00")
        page.get_by_label("From (optional)", exact=True).fill("Bakery on 5th")
        page.get_by_label("Note (optional)", exact=True).fill("Benefit gig at the community hall")
        page.get_by_role("button", name="Record a donation").click()
        notice = page.get_by_role("status")
        # Entry 1 of the log is the decision adopting the policy.
        expect(notice).to_contain_text("Recorded as entry #2")
        expect(notice).to_contain_text("Donation of €250.00 to Rent relief")

        page.get_by_role("link", name="Payment").click()
        # Paid under the group's spending policy for rent top-ups (its fund comes with it).
        page.get_by_label("Or under a spending policy", exact=True).select_option(str(policy))
        page.get_by_label("Amount in EUR", exact=True).fill("80.50")
        page.get_by_label("To (optional)", exact=True).fill("R-17")
        page.get_by_label("Note (optional)", exact=True).fill("Rent support for March")
        page.get_by_role("button", name="Record a payment").click()
        expect(page.get_by_role("status")).to_contain_text("Recorded as entry #3")
        page.screenshot(path=str(artifacts / "record-payment.png"), full_page=True)

        page.goto(f"{server}/g/{cast.world.slug}")
        body = page.locator("main").inner_text()
        assert "Donation of €250.00 to Rent relief" in body
        assert "Payment of €80.50 from Rent relief" in body
        assert f"Under policy {policy} ‘Rent top-ups’: €80.50 of €600.00 used in" in body
        assert "Verified: 3 entries" in body  # and the decision adopting the policy
        row = page.get_by_role("row", name="Rent relief")
        assert "€169.50" in row.inner_text()
        page.screenshot(path=str(artifacts / "public-page.png"), full_page=True)

        # Logging out ends the session (on whichever worker answers next).
        page.get_by_role("button", name="Log out").click()
        page.wait_for_url(f"{server}/")
        page.goto(f"{server}/m")
        assert page.url.startswith(f"{server}/login")
    finally:
        context.close()


def test_pages_have_no_moderate_or_worse_accessibility_violations(
    chromium: Any, server: str, cast: Cast, artifacts: Path
) -> None:
    seed_entries(server, cast)
    slug = cast.world.slug
    public = [
        "/",
        "/?q=rent",
        "/?q=nothing-matches",
        f"/g/{slug}",
        f"/g/{slug}/ledger",
        f"/g/{slug}/ledger?kind=reversal",
        f"/g/{slug}/ledger?from=2026-13-01",
        f"/g/{slug}/proposals",
        f"/g/{slug}/ask",
        "/login",
        "/password/forgot",
        "/password/reset/not-a-real-link",
        "/join/not-a-real-invite",
        "/no-such-page",
    ]
    members = [
        "/m",
        "/notifications",
        f"/m/{slug}",
        f"/m/{slug}/record/donation",
        f"/m/{slug}/record/payment",
        f"/m/{slug}/record/transfer",
        f"/m/{slug}/record/reversal",
        f"/m/{slug}/funds/new",
        f"/m/{slug}/members",
        f"/m/{slug}/rules",
        f"/m/{slug}/proposals/new",
        f"/m/{slug}/notifications",
        f"/m/{slug}/requests",
    ]
    context = chromium.new_context(viewport=DESKTOP)
    page = context.new_page()
    found: dict[str, list[str]] = {}
    try:
        for path in public:
            page.goto(server + path)
            found[path] = accessibility_violations(page)
        log_in(page, server, cast.admin.user.email, cast.password)
        for path in members:
            page.goto(server + path)
            found[path] = accessibility_violations(page)
        # A form with errors is a page people meet too.
        page.goto(f"{server}/m/{slug}/record/donation")
        page.get_by_role("button", name="Record a donation").click()
        expect(page.get_by_role("heading", name="Please check the form")).to_be_visible()
        found["donation form with errors"] = accessibility_violations(page)
        page.screenshot(path=str(artifacts / "form-errors.png"), full_page=True)
        page.goto(f"{server}/m/{slug}/members")
        page.screenshot(path=str(artifacts / "members.png"), full_page=True)
    finally:
        context.close()
    problems = {path: issues for path, issues in found.items() if issues}
    assert not problems, problems


def test_public_page_reads_well_on_a_phone(
    chromium: Any, server: str, cast: Cast, artifacts: Path
) -> None:
    seed_entries(server, cast)
    context = chromium.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        for path in (f"/g/{cast.world.slug}", f"/g/{cast.world.slug}/ledger", "/"):
            page.goto(server + path)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"{path} scrolls sideways ({width}px)"
        page.goto(f"{server}/g/{cast.world.slug}")
        available = page.get_by_role("columnheader", name="Available")
        box = available.bounding_box()
        assert box is not None
        assert box["x"] + box["width"] <= PHONE["width"]
        expect(page.get_by_role("heading", name="Integrity seal")).to_be_visible()
        for chart in page.locator("figure.chart svg").all():
            chart_box = chart.bounding_box()
            assert chart_box is not None
            assert chart_box["width"] <= PHONE["width"]
        font = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
        assert font >= 16
        page.screenshot(path=str(artifacts / "public-page-phone.png"), full_page=True)
    finally:
        context.close()


def test_the_skip_link_is_the_first_stop_of_the_keyboard(
    chromium: Any, server: str, cast: Cast
) -> None:
    context = chromium.new_context(viewport=DESKTOP)
    page = context.new_page()
    try:
        page.goto(f"{server}/g/{cast.world.slug}")
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.textContent.trim()")
        assert focused == "Skip to main content"
        expect(page.locator(".skip-link")).to_be_visible()
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "main"
    finally:
        context.close()


@pytest.mark.parametrize("path", ["/", "/g/rent-fund"])
def test_pages_print_without_navigation(chromium: Any, server: str, cast: Cast, path: str) -> None:
    context = chromium.new_context(viewport=DESKTOP)
    page = context.new_page()
    try:
        page.goto(server + path)
        page.emulate_media(media="print")
        expect(page.locator(".site-nav")).to_be_hidden()
        expect(page.locator("main h1")).to_be_visible()
    finally:
        context.close()
