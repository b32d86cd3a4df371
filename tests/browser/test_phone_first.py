"""The phone first: every main page at 360 px, as a person in need, a donor and a member
meet it. No page scrolls sideways, every control a thumb presses is at least 44 px high
and wide (links inside running text excepted, as WCAG 2.5.8 does), and axe finds no
serious or moderate violation on the public, ask and members' pages. Each page leaves a
phone-width screenshot in ``test-artifacts/phone``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from ledger.places import DEFAULT_PLACE_SLUG
from tests.browser.steps import (
    HIDDEN_SCROLL,
    NARROW_PHONE,
    PERSON,
    STATUS_URL,
    WORDS,
    Cast,
    accessibility_violations,
    adopt_policy,
    fill_the_form,
    log_in,
)
from tests.browser.test_site import seed_entries

THUMB = 44  # px: the smallest control a thumb presses surely

# The controls a thumb presses, and for a radio or a checkbox its label (what is pressed).
# Links inside running text (paragraphs, list items of prose, table cells) are left out.
SMALL_TARGETS = """
(thumb) => {
  const seen = [];
  const controls = document.querySelectorAll(
    'button, select, textarea, input:not([type=hidden]), a.button, nav a, summary'
  );
  for (const el of controls) {
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || style.display === 'none') continue;
    let box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;
    if (el.matches('input[type=radio], input[type=checkbox]')) {
      const label = el.closest('label') || document.querySelector(`label[for="${el.id}"]`);
      if (label) box = label.getBoundingClientRect();
    }
    if (el.matches('.skip-link') || el.closest('.visually-hidden')) continue;
    if (box.height < thumb - 0.5 || box.width < thumb - 0.5) {
      const name = (el.innerText || el.value || el.name || el.id).trim().slice(0, 40);
      const size = `${Math.round(box.width)}x${Math.round(box.height)}`;
      seen.push(`${el.tagName.toLowerCase()} "${name}" ${size}`);
    }
  }
  return seen;
}
"""


# A table wider than its box scrolls inside it, and says so where the eye meets it.


def check_page(page: Any, name: str, shots: Path, *, axe: bool) -> list[str]:
    problems = []
    width = page.evaluate("document.documentElement.scrollWidth")
    if width > NARROW_PHONE["width"]:
        problems.append(f"scrolls sideways ({width}px)")
    problems += [f"small target: {t}" for t in page.evaluate(SMALL_TARGETS, THUMB)]
    problems += [f"scrolls without a hint: {t}" for t in page.evaluate(HIDDEN_SCROLL)]
    if axe:
        problems += accessibility_violations(page)
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    return problems


def test_every_main_page_works_at_360_px(
    chromium: Any, server: str, cast: Cast, artifacts: Path
) -> None:
    world = cast.world
    slug = world.slug
    seed_entries(server, cast)
    # A large month: its amounts are the widest cells of the group page's table of months.
    terms = {"fund": "rent-relief", "max_per_payment": "5000.00", "max_per_month": "5000.00"}
    policy = adopt_policy(server, cast, "Rent arrears", {**terms, "purpose": "Rent arrears"})
    for body in (
        {"kind": "donation", "fund": "rent-relief", "amount": "12345.67", "memo": "Gala"},
        {"kind": "disbursement", "fund": "rent-relief", "amount": "1081.00", "policy": policy},
    ):
        large = httpx.post(
            f"{server}/api/groups/{slug}/entries",
            json=body,
            headers=world.steward.headers,
            timeout=30,
        )
        assert large.status_code == 201, large.text
    opened = httpx.post(
        f"{server}/api/groups/{slug}/proposals",
        json={
            "title": "Rent for R-17 in March",
            "body": "Two months **behind**.",
            "fund": "rent-relief",
            "amount": "150.00",
            "counterparty": "R-17",
        },
        headers=world.member.headers,
        timeout=30,
    )
    assert opened.status_code == 201, opened.text
    shots = artifacts / "phone"
    shots.mkdir(exist_ok=True)
    found: dict[str, list[str]] = {}
    context = chromium.new_context(viewport=NARROW_PHONE, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        # A person asks, in Spanish, and reads their status page.
        page.goto(f"{server}/g/{slug}/ask?lang=es")
        found["ask-es"] = check_page(page, "ask-es", shots, axe=True)
        fill_the_form(page, WORDS["es"])
        page.get_by_role("button", name=WORDS["es"]["send"]).click()
        page.wait_for_url(STATUS_URL)
        assert PERSON["name"] not in page.url
        found["ask-status-es"] = check_page(page, "ask-status-es", shots, axe=True)
        public = {
            "directory": "/",
            "group": f"/g/{slug}",
            "ledger": f"/g/{slug}/ledger",
            "proposals": f"/g/{slug}/proposals",
            "proposal": f"/g/{slug}/proposals/1",
            "follow": f"/g/{slug}/follow",
            "give": f"/g/{slug}/give",
            "ask": f"/g/{slug}/ask",
            "verify": "/verify",
            "login": "/login",
            "password-forgot": "/password/forgot",
            # Spanish words are longer ("Entradas", "Salidas"), and so are its amounts.
            "group-es": f"/g/{slug}?lang=es",
        }
        for name, path in public.items():
            page.goto(server + path)
            found[name] = check_page(page, name, shots, axe=True)
        log_in(page, server, cast.admin.user.email, cast.password)
        members = {
            "m": "/m",
            "m-group": f"/m/{slug}",
            "m-proposal": f"/m/{slug}/proposals/1",
            "m-propose": f"/m/{slug}/proposals/new",
            "m-donation": f"/m/{slug}/record/donation",
            "m-requests": f"/m/{slug}/requests",
            "m-notifications": "/notifications",
            "m-rules": f"/m/{slug}/rules",
            "m-members": f"/m/{slug}/members",
            "m-giving": f"/m/{slug}/giving",
            "m-donors": f"/m/{slug}/donors",
            "m-transfer": f"/m/{slug}/record/transfer",
            "m-claims": f"/m/{slug}/claims",
            "m-statements": f"/m/{slug}/places/{DEFAULT_PLACE_SLUG}/statements",
        }
        for name, path in members.items():
            page.goto(server + path)
            found[name] = check_page(page, name, shots, axe=True)
    finally:
        context.close()
    problems = {name: issues for name, issues in found.items() if issues}
    assert not problems, problems
