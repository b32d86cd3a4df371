"""Member-supplied text is only ever text: a corpus of XSS payloads in every field that
exists (group name and description, fund name, member names, memo, counterparty, the
reason of a reversal, a search, a login e-mail, a proposal's title, body and counterparty,
the reasons of responses and amendments) never reaches a page or the feed as markup.
Proposal bodies are Markdown: they reach the page rendered and sanitised, so there the test
is that only the sanitiser's tags and attributes appear."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from markupsafe import escape
from sqlalchemy.ext.asyncio import AsyncSession

from app.presenters.markdown import ALLOWED_ATTRIBUTES, ALLOWED_TAGS
from app.settings import Settings
from ledger import groups, service
from ledger.schemas import DisbursementIn, DonationIn, FundIn, ReversalIn
from proposals import service as proposals
from proposals.schemas import AmendmentIn, PolicyIn, ProposalIn
from tests.support.clients import browser, give_password, post_form
from tests.support.people import Person

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
    # Proposal 1: blocked in round 1 (a minute, a decision in the feed), amended, round 2
    # open with a response; names public, so they are on the page too.
    await proposals.set_rules(session, group, {}, True)
    await proposals.create_proposal(
        session,
        group,
        member,
        ProposalIn(
            title=payload, body=payload, fund="food", amount="5.00", counterparty=payload[:64]
        ),
    )
    await proposals.respond(session, group, 1, admin, "block", payload)
    await proposals.respond(session, group, 1, member, "concern", payload)
    membership = await groups.active_membership(session, group.id, member.id)
    assert membership is not None
    await proposals.amend(
        session,
        group,
        1,
        member,
        membership,
        AmendmentIn(reason=payload, body=f"{payload}\n\n{payload} again", amount="4.00"),
    )
    await proposals.respond(session, group, 1, admin, "agree", payload)
    # Proposal 2: a spending policy, which the payment is made under.
    policy = await proposals.create_proposal(
        session,
        group,
        member,
        ProposalIn(
            title=payload,
            body=payload,
            kind="policy",
            policy=PolicyIn(
                fund="food", max_per_payment="10.00", max_per_month="50.00", purpose=payload
            ),
        ),
    )
    for person in (admin, member):
        await proposals.respond(session, group, policy.number, person, "agree", payload)
    await service.record_entry(
        session,
        group,
        DonationIn(fund="food", amount="20.00", memo=payload, counterparty=payload[:64]),
        recorded_by=admin.id,
    )
    paid = await service.record_entry(
        session,
        group,
        DisbursementIn(
            fund="food",
            amount="5.00",
            memo=payload,
            counterparty=payload[:64],
            policy=policy.number,
        ),
        recorded_by=admin.id,
        authority=proposals.authorise_payment,
    )
    await service.record_entry(
        session, group, ReversalIn(reverses=paid.seq, memo=payload), recorded_by=admin.id
    )
    await session.commit()
    person = Person(admin, "")
    await give_password(session, person)
    return person


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


PROSE = re.compile(r'<div class="prose">(.*?)</div>', re.DOTALL)


def assert_sanitised_bodies(html: str, where: str) -> str:
    """Check each rendered Markdown body holds only the sanitiser's markup; return the page
    without them (Markdown decodes ``&lt;`` to text, which is then escaped again, so a
    payload of entities may appear there verbatim, as harmless text)."""
    bodies = PROSE.findall(html)
    assert bodies, f"{where} shows no proposal body"
    for body in bodies:
        parser = _Tags()
        parser.feed(body)
        for tag, attrs in parser.tags:
            assert tag in ALLOWED_TAGS, (where, tag)
            assert {name for name, _ in attrs} <= ALLOWED_ATTRIBUTES.get(tag, set()) | {"rel"}
        assert "<script" not in body.lower(), where
    return PROSE.sub("", html)


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
    public_pages = [
        "/",
        "/g/xss-fund",
        "/g/xss-fund/ledger",
        "/g/xss-fund/ledger?kind=reversal",
        "/g/xss-fund/proposals",
    ]
    for path in public_pages:
        response = await client.get(path, headers=HTML)
        assert response.status_code == 200, path
        assert_only_text(response.text, payload, path)
    proposal = await client.get("/g/xss-fund/proposals/1", headers=HTML)
    assert proposal.status_code == 200
    rest = assert_sanitised_bodies(proposal.text, "the proposal's page")
    assert_only_text(rest, payload, "the proposal's page")
    assert str(escape(payload + " 2")) in rest  # a member's name, shown as text
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
        # The members' pages of decisions, and their refused forms.
        for path in (
            "/m/xss-fund/proposals/1",
            "/m/xss-fund/proposals/new",
            "/m/xss-fund/notifications",
            "/m/xss-fund/record/payment",
        ):
            response = await logged_in.get(path, headers=HTML)
            assert response.status_code == 200, path
            rest = assert_sanitised_bodies(response.text, path) if "/1" in path else response.text
            assert_only_text(rest, payload, path)
        refused = {
            "/m/xss-fund/proposals/new": {
                "title": payload,
                "body": payload,
                "counterparty": payload,
                "closes_at": payload,
            },
            "/m/xss-fund/proposals/1/respond": {"position": payload, "reason": payload},
            "/m/xss-fund/proposals/1/amend": {
                "title": "",
                "body": payload,
                "amend_reason": payload,
            },
        }
        for path, data in refused.items():
            form_url = "/m/xss-fund/proposals/new" if path.endswith("new") else None
            sent = await post_form(
                logged_in, path, data, form_url=form_url or "/m/xss-fund/proposals/1"
            )
            assert sent.status_code == 422, path
            rest = PROSE.sub("", sent.text)
            assert_only_text(rest, payload, f"the refused form {path}")

    async with browser(settings) as stranger:
        login = await post_form(stranger, "/login", {"email": payload, "password": "x"})
        assert login.status_code == 400
        assert_only_text(login.text, payload, "the refused login")

    feed = await client.get("/g/xss-fund/feed.atom")
    assert feed.status_code == 200
    document = ET.fromstring(feed.content)  # well-formed whatever the text
    assert document.findtext(f"{ATOM}title") == f"{payload}: entries and decisions"
    contents = [e.findtext(f"{ATOM}content") or "" for e in document.findall(f"{ATOM}entry")]
    # Three entries, the decision that blocked proposal 1 and the one that adopted policy 2.
    assert len(contents) == 5
    assert all(payload in content for content in contents)
    titles = [e.findtext(f"{ATOM}title") or "" for e in document.findall(f"{ATOM}entry")]
    assert f"Proposal 1 blocked: {payload}" in titles
    assert f"Proposal 2 passed: {payload}" in titles
