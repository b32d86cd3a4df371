"""Giving in a real browser: an admin writes how to give, a donor on a 360 px phone reads it,
puts an amount in the payment QR code, and the page keeps its strict content policy; axe
finds no serious, critical or moderate violation on the giving pages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.browser.steps import DESKTOP, NARROW_PHONE, Cast, accessibility_violations, log_in


def test_admin_writes_how_to_give_and_a_donor_on_a_phone_makes_the_code_with_an_amount(
    chromium: Any, server: str, cast: Cast, artifacts: Path
) -> None:
    slug = cast.world.slug
    found: dict[str, list[str]] = {}
    refused: list[str] = []  # the browser's reports of anything the page policy blocked

    admin = chromium.new_context(viewport=DESKTOP)
    page = admin.new_page()
    page.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else None)
    try:
        log_in(page, server, cast.admin.user.email, cast.password)
        page.goto(f"{server}/m/{slug}")
        page.get_by_role("link", name="How to give").click()
        page.get_by_label("Ways to give (optional)", exact=True).fill(
            "Transfer to our account, or bring **cash** to the Tuesday meeting."
        )
        page.get_by_label("IBAN", exact=True).fill("DE89 3704 0044 0532 0130 01")
        page.get_by_role("button", name="Save how to give").click()
        expect(page.locator("#error-iban")).to_contain_text("check digits do not match")
        found["giving form with errors"] = accessibility_violations(page)
        page.get_by_label("IBAN", exact=True).fill("DE89 3704 0044 0532 0130 00")
        page.get_by_label("Account holder (optional)", exact=True).fill("Rent Fund e.V.")
        page.get_by_role("button", name="Save how to give").click()
        expect(page.get_by_role("status")).to_contain_text("How to give was saved.")
        found[f"/m/{slug}/giving"] = accessibility_violations(page)
        page.goto(f"{server}/m/{slug}/donors")
        found[f"/m/{slug}/donors"] = accessibility_violations(page)
    finally:
        admin.close()

    phone = chromium.new_context(viewport=NARROW_PHONE, is_mobile=True, has_touch=True)
    page = phone.new_page()
    page.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else None)
    try:
        page.goto(f"{server}/g/{slug}")
        page.get_by_role("link", name="How to give").click()
        page.wait_for_url(f"{server}/g/{slug}/give")
        expect(page.get_by_role("heading", name="Give to Rent Fund")).to_be_visible()
        expect(page.locator("main strong", has_text="cash")).to_be_visible()
        code = page.get_by_role("img", name="SEPA payment QR code")
        expect(code).to_be_visible()
        box = code.bounding_box()
        assert box is not None
        assert box["width"] >= 170, box  # big enough for a camera at arm's length
        assert box["x"] + box["width"] <= NARROW_PHONE["width"]
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= NARROW_PHONE["width"], f"the give page scrolls sideways ({width}px)"
        found[f"/g/{slug}/give"] = accessibility_violations(page)

        page.get_by_label("Amount in the code, in EUR (optional)").fill("12.50")
        page.get_by_role("button", name="Put the amount in the code").click()
        page.wait_for_url(f"{server}/g/{slug}/give?amount=12.50")
        expect(page.locator("figure.give-qr figcaption")).to_contain_text("of €12.50")
        field = page.get_by_label("Amount in the code, in EUR (optional)").bounding_box()
        assert field is not None
        assert field["height"] >= 44  # sized for a thumb
        page.screenshot(path=str(artifacts / "give-phone.png"), full_page=True)

        page.get_by_label("Amount in the code, in EUR (optional)").fill("twelve")
        page.get_by_role("button", name="Put the amount in the code").click()
        expect(page.locator("#error-amount")).to_be_visible()
        found["give page with a bad amount"] = accessibility_violations(page)
    finally:
        phone.close()

    assert not refused, refused
    problems = {path: issues for path, issues in found.items() if issues}
    assert not problems, problems
