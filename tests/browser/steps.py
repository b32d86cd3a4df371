"""What a person does in the browser tests, and what the accessibility check reports."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx
from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]

from tests.support.clients import PASSWORD
from tests.support.people import Person, World

# axe's impacts that fail a test: everything but "minor".
REPORTED = ("moderate", "serious", "critical")


def log_in(page: Any, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("E-mail address", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.locator("main").get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/m")


def accessibility_violations(page: Any) -> list[str]:
    """What axe-core finds on the page, moderate or worse, one line each."""
    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in REPORTED
    ]


DESKTOP = {"width": 1280, "height": 900}


PHONE = {"width": 390, "height": 844}
# The narrowest phone the pages are made for.
NARROW_PHONE = {"width": 360, "height": 740}


@dataclass
class Cast:
    """The group under test and the people who log in to it (password ``PASSWORD``): the
    steward and the admin here, and the facilitator and the plain member through ``world``."""

    world: World
    steward: Person
    admin: Person
    password: str = PASSWORD


def adopt_policy(base: str, cast: Cast, title: str, policy: dict[str, object]) -> int:
    """A spending policy that the whole group agreed to, over HTTP; its number (every
    payment is made under a decision)."""
    proposals = f"{base}/api/groups/{cast.world.slug}/proposals"
    proposed = httpx.post(
        proposals,
        json={"title": title, "kind": "policy", "policy": policy},
        headers=cast.world.admin.headers,
        timeout=30,
    )
    assert proposed.status_code == 201, proposed.text
    number: int = proposed.json()["number"]
    for person in (cast.world.admin, cast.world.steward, cast.world.facilitator, cast.world.member):
        agreed = httpx.post(
            f"{proposals}/{number}/responses",
            json={"position": "agree"},
            headers=person.headers,
            timeout=30,
        )
        assert agreed.status_code == 201, agreed.text
    return number


# The labels the person reads, in each language of the form.
WORDS = {
    "en": {
        "need": "What do you need?",
        "amount": "How much, if you know (EUR)",
        "urgent": "Urgent: in the next few days",
        "name": "What should we call you?",
        "phone": "Phone",
        "email": "E-mail",
        "consent": "I agree that the group keeps my details as described above.",
        "send": "Send my request",
        "thanks": "Thank you. Your request has reached Rent Fund.",
        "heading": "Your request",
        "received": "Received",
        "no_contact": "Please tell us one way to reach you",
    },
    "es": {
        "need": "¿Qué necesitas?",
        "amount": "Cuánto, si lo sabes (EUR)",
        "urgent": "Urgente: en los próximos días",
        "name": "¿Cómo quieres que te llamemos?",
        "phone": "Teléfono",
        "email": "Correo electrónico",
        "consent": "Acepto que el grupo guarde mis datos como se describe arriba.",
        "send": "Enviar mi petición",
        "thanks": "Gracias. Tu petición ha llegado a Rent Fund.",
        "heading": "Tu petición",
        "received": "Recibida",
        "no_contact": "Indica una forma de contactarte",
    },
}


STATUS_URL = re.compile(r".*/g/rent-fund/ask/[A-Za-z0-9_-]{20,}\?sent=1$")


# The tables that scroll sideways in their box without the hint above them that says so.
HIDDEN_SCROLL = """
() => [...document.querySelectorAll('.table-scroll')]
  .filter((box) => box.scrollWidth > box.clientWidth + 1)
  .filter((box) => {
    const hint = box.previousElementSibling;
    return !(hint && hint.matches('.table-scroll__hint') && hint.offsetHeight > 0);
  })
  .map((box) => `${box.getAttribute('aria-label') || 'a table'} (${box.scrollWidth}px)`)
"""


def fits_the_screen(page: Any, width: int = PHONE["width"]) -> None:
    """Nothing on the page scrolls sideways but a table in its box, under its hint."""
    scrolled = page.evaluate("document.documentElement.scrollWidth")
    assert scrolled <= width, f"{page.url} scrolls sideways ({scrolled}px)"
    hidden = page.evaluate(HIDDEN_SCROLL)
    assert not hidden, f"{page.url}: tables scroll without a hint: {hidden}"


def fill_the_form(page: Any, words: dict[str, str], *, contact: bool = True) -> None:
    page.get_by_label(words["need"], exact=True).fill("Rent for March: I lost my hours at work.")
    page.get_by_label(words["amount"]).fill("320")
    page.get_by_label(words["urgent"], exact=True).check()
    page.get_by_label(words["name"]).fill(PERSON["name"])
    if contact:
        page.get_by_label(words["phone"], exact=True).fill(PERSON["phone"])
        page.get_by_label(words["email"], exact=True).fill(PERSON["email"])
    page.get_by_label(words["consent"], exact=True).check()


PERSON = {
    "name": "Wenonah Kowalczyk-Adeyemi",
    "phone": "+34 622 917 405",
    "email": "wk.a@example.net",
}
