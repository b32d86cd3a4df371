"""Asking for support on a phone, in a real browser against the real server: the form is
filled and sent on a 390x844 screen, the person lands on their private status page, and
the form, the form with errors and the status page have no moderate or worse
accessibility violations (axe-core), in English and in Spanish. It works without
JavaScript too.

Screenshots go to ``test-artifacts/`` (kept by CI, ignored by git).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.steps import (
    PERSON,
    PHONE,
    STATUS_URL,
    WORDS,
    Cast,
    accessibility_violations,
    fill_the_form,
    fits_the_screen,
    log_in,
)


@pytest.mark.parametrize("language", ["en", "es"])
def test_a_person_asks_for_support_on_a_phone_and_follows_it(
    chromium: Any, server: str, cast: Cast, artifacts: Path, language: str
) -> None:
    words = WORDS[language]
    slug = cast.world.slug
    context = chromium.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    found: dict[str, list[str]] = {}
    try:
        page.goto(f"{server}/g/{slug}/ask?lang={language}")
        assert page.locator("html").get_attribute("lang") is not None
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        fits_the_screen(page)
        # Text fields of at least 16px, so a phone does not zoom in on them.
        sizes = page.eval_on_selector_all(
            "main textarea, main input:not([type=hidden]):not([type=radio]):not([type=checkbox])",
            "fields => fields.filter(f => f.offsetParent)"
            ".map(f => parseFloat(getComputedStyle(f).fontSize))",
        )
        assert sizes
        assert min(sizes) >= 16, sizes
        found["form"] = accessibility_violations(page)

        # A mistake first: no way to reach the person. The answer says so next to the field
        # and keeps what was typed.
        fill_the_form(page, words, contact=False)
        page.get_by_role("button", name=words["send"]).click()
        error = page.locator("#error-phone")
        expect(error).to_be_visible()
        assert words["no_contact"] in error.inner_text()
        assert page.get_by_label(words["name"]).input_value() == PERSON["name"]
        fits_the_screen(page)
        found["form with errors"] = accessibility_violations(page)
        page.screenshot(path=str(artifacts / f"ask-phone-errors-{language}.png"), full_page=True)

        fill_the_form(page, words)
        page.screenshot(path=str(artifacts / f"ask-phone-form-{language}.png"), full_page=True)
        page.get_by_role("button", name=words["send"]).click()
        page.wait_for_url(STATUS_URL)
        notice = page.get_by_role("status")
        assert words["thanks"] in notice.inner_text()
        heading = page.get_by_role("heading", level=1).inner_text()
        assert re.fullmatch(rf"{words['heading']} R-[0-9A-Z]{{4}}", heading), heading
        current = page.locator("[aria-current=step]")
        assert words["received"] in current.inner_text()
        body = page.locator("body").inner_text()
        for secret in PERSON.values():
            assert secret not in body
        fits_the_screen(page)
        found["status"] = accessibility_violations(page)
        page.screenshot(path=str(artifacts / f"ask-phone-status-{language}.png"), full_page=True)

        # The private address keeps working on its own (it is all the person has).
        reference_url = page.url.split("?", 1)[0]
        page.goto(reference_url)
        assert page.get_by_role("heading", level=1).inner_text() == heading
    finally:
        context.close()
    problems = {name: issues for name, issues in found.items() if issues}
    assert not problems, problems
    # The stewards received it, in the language the person chose, by its code.
    queue = httpx.get(
        f"{server}/api/groups/{slug}/requests", headers=cast.steward.headers, timeout=30
    ).json()
    assert [(r["pseudonym"], r["language"], r["urgency"]) for r in queue] == [
        (heading.split()[-1], language, "urgent")
    ]


def test_the_ask_form_works_on_a_phone_without_javascript(
    chromium: Any, server: str, cast: Cast
) -> None:
    context = chromium.new_context(
        viewport=PHONE, is_mobile=True, has_touch=True, java_script_enabled=False
    )
    page = context.new_page()
    try:
        page.goto(f"{server}/g/{cast.world.slug}/ask")
        fill_the_form(page, WORDS["en"])
        page.get_by_role("button", name=WORDS["en"]["send"]).click()
        page.wait_for_url(STATUS_URL)
        assert WORDS["en"]["thanks"] in page.get_by_role("status").inner_text()
    finally:
        context.close()


def test_a_steward_answers_a_request_on_a_phone(
    chromium: Any, server: str, cast: Cast, artifacts: Path
) -> None:
    slug = cast.world.slug
    found: dict[str, list[str]] = {}
    context = chromium.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        page.goto(f"{server}/g/{slug}/ask")
        fill_the_form(page, WORDS["en"])
        page.get_by_role("button", name=WORDS["en"]["send"]).click()
        page.wait_for_url(STATUS_URL)
        code = page.get_by_role("heading", level=1).inner_text().split()[-1]
        context.clear_cookies()

        log_in(page, server, cast.steward.user.email, cast.password)
        page.goto(f"{server}/m/{slug}")
        page.get_by_role("link", name="Requests for support").click()
        page.wait_for_url(f"{server}/m/{slug}/requests")
        fits_the_screen(page)
        found["queue"] = accessibility_violations(page)
        page.screenshot(path=str(artifacts / "queue-phone.png"), full_page=True)

        page.get_by_role("link", name=code).click()
        expect(page.locator("main")).to_contain_text(PERSON["phone"])
        fits_the_screen(page)
        found["request"] = accessibility_violations(page)

        # The summary repeats the person's name: refused, next to the field, input kept.
        summary = page.get_by_label("Summary (optional)", exact=True)
        summary.fill(f"Rent for {PERSON['name']}")
        page.get_by_label("Fund", exact=True).select_option("rent-relief")
        page.get_by_role("button", name="Propose to the group").click()
        assert "without the person's name" in page.locator("#error-summary").inner_text()
        assert summary.input_value() == f"Rent for {PERSON['name']}"
        fits_the_screen(page)
        found["request with errors"] = accessibility_violations(page)
        page.screenshot(path=str(artifacts / "request-phone-errors.png"), full_page=True)

        summary.fill("Rent for March after a cut in working hours.")
        page.get_by_role("button", name="Propose to the group").click()
        expect(page.get_by_role("status")).to_contain_text("The request is now a proposal")
        assert f"pays {code}" in page.locator("main").inner_text()
        page.screenshot(path=str(artifacts / "request-phone-proposed.png"), full_page=True)

        page.get_by_role("link", name="Erase the details…").click()
        expect(page.get_by_role("heading", name=f"Erase the details of {code}?")).to_be_visible()
        found["erase confirmation"] = accessibility_violations(page)
        page.get_by_label(f"Yes, erase the details of {code} for good").check()
        page.get_by_role("button", name="Erase the details").click()
        expect(page.get_by_role("status")).to_contain_text("were erased")
        assert PERSON["phone"] not in page.locator("main").inner_text()
    finally:
        context.close()
    problems = {name: issues for name, issues in found.items() if issues}
    assert not problems, problems
