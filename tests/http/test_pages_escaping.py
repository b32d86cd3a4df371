"""Member-supplied text is only ever text: a corpus of XSS payloads in every field that
exists (group name and description, fund name, member names, memo, counterparty, the
reason of a reversal, a search, a login e-mail) never reaches a page or the feed as markup."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from markupsafe import escape
from sqlalchemy.ext.asyncio import AsyncSession

from app.settings import Settings
from ledger import groups, service
from ledger.schemas import DisbursementIn, DonationIn, FundIn, ReversalIn
from tests.conftest import Person
from tests.http.test_login import browser, give_password, post_form

Client = AsyncTestClient[Litestar]
HTML = {"Accept": "text/html"}
ATOM = "{http://www.w3.org/2005/Atom}"

PAYLOADS = [
    '<script>alert("cp")</script>',
    '"><img src=x onerror=alert(1)>',
    "'><svg onload=alert(1)>",
    "</textarea><script>alert(1)</script>",
    "</title></option><b>bold</b>",
    "{{ 7*7 }} {% raw %} ${7*7}",
    "]]><!-- <x y='1'>",
    "&lt;i&gt;already escaped&lt;/i&gt;",
]


async def stage(session: AsyncSession, payload: str) -> Person:
    """A public group whose every member-supplied text is ``payload``; returns its admin."""
    admin = await groups.create_user(
        session, email="admin@example.org", name=payload, password_hash=None
    )
    member = await groups.create_user(
        session, email="member@example.org", name=payload + " 2", password_hash=None
    )
    group = await groups.create_group(
        session,
        slug="xss-fund",
        name=payload,
        currency="EUR",
        admin=admin,
        description=payload,
    )
    await groups.add_member(session, group, member, ["member"])
    await service.create_fund(session, group, FundIn(slug="food", name=payload))
    await service.create_fund(session, group, FundIn(slug="rent", name="Rent"))
    await service.record_entry(
        session,
        group,
        DonationIn(fund="food", amount="20.00", memo=payload, counterparty=payload[:64]),
        recorded_by=admin.id,
    )
    await service.record_entry(
        session,
        group,
        DisbursementIn(fund="food", amount="5.00", memo=payload, counterparty=payload[:64]),
        recorded_by=admin.id,
    )
    await service.record_entry(
        session, group, ReversalIn(reverses=2, memo=payload), recorded_by=admin.id
    )
    await session.commit()
    person = Person(admin, "")
    await give_password(session, person)
    return person


def assert_only_text(body: str, payload: str, where: str, *, shown: bool = True) -> None:
    if any(ch in payload for ch in "<>\"'&"):
        assert payload not in body, f"{where} carries the payload as markup"
    assert "<script" not in body.lower(), where
    if shown:
        assert str(escape(payload)) in body, f"{where} does not show the text"


@pytest.mark.parametrize("payload", PAYLOADS)
async def test_member_text_is_escaped_on_every_page_and_in_the_feed(
    settings: Settings, client: Client, session: AsyncSession, payload: str
) -> None:
    admin = await stage(session, payload)
    public_pages = ["/", "/g/xss-fund", "/g/xss-fund/ledger", "/g/xss-fund/ledger?kind=reversal"]
    for path in public_pages:
        response = await client.get(path, headers=HTML)
        assert response.status_code == 200, path
        assert_only_text(response.text, payload, path)
    search = await client.get("/", params={"q": payload}, headers=HTML)
    assert_only_text(search.text, payload, "search", shown=True)

    async with browser(settings, admin) as logged_in:
        for path in (
            "/m",
            "/m/xss-fund",
            "/m/xss-fund/members",
            "/m/xss-fund/record/donation",
            "/m/xss-fund/record/transfer",
            "/g/xss-fund",
        ):
            response = await logged_in.get(path, headers=HTML)
            assert response.status_code == 200, path
            assert_only_text(response.text, payload, path)
        # A refused form shows the typed text back, as text.
        kept = await post_form(
            logged_in,
            "/m/xss-fund/record/donation",
            {"fund": "food", "amount": "oops", "memo": payload, "counterparty": payload},
        )
        assert kept.status_code == 422
        assert_only_text(kept.text, payload, "the refused form")

    async with browser(settings) as stranger:
        login = await post_form(stranger, "/login", {"email": payload, "password": "x"})
        assert login.status_code == 400
        assert_only_text(login.text, payload, "the refused login")

    feed = await client.get("/g/xss-fund/feed.atom")
    assert feed.status_code == 200
    document = ET.fromstring(feed.content)  # well-formed whatever the text
    assert document.findtext(f"{ATOM}title") == f"{payload}: new entries"
    contents = [e.findtext(f"{ATOM}content") or "" for e in document.findall(f"{ATOM}entry")]
    assert all(payload in content for content in contents)
