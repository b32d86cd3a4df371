"""The whole path of a request for support through the web pages and the API, then a search
of every public output for the person's details.

A person asks on the public form with a distinctive name, phone and e-mail; a steward
reads it in the queue, writes a note that repeats the phone, and turns it into a proposal
through the queue's page; the members pass it through the API; the steward records the
payment and marks the request paid; the person's status page says "paid". Then every
public output (the pages, the feed, the public API reads, every export and the bundle's
files, the audit statement, every receipt and the decision record, their text read back
with pdftotext and pypdf, their attachments and metadata too) is searched for the name,
the phone (however it is spaced), the e-mail and what the person wrote; and where the
proposal or its payment appears, its pseudonym must be there.

``tests/http/test_requests.py`` checks the erasure afterwards and the API's outputs after
the same path through the API alone; this test is the web path and the complete list.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import httpx
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.settings import Settings
from ledger.groups import utcnow
from tests.pdf.reading import pdftotext, reader
from tests.support.clients import browser, everyone_agrees, give_password, post_form, text_of
from tests.support.people import World

Client = AsyncTestClient[Litestar]
HTML = {"Accept": "text/html"}
NAME = "Thandiwe Oyelaran-Quispe"
PHONE = "+34 655 104 937"
EMAIL = "thandiwe.oq@example.net"
# What the person wrote is theirs too: a phrase no public text would hold by chance.
NEED = "Rent for March; the zebra-lantern laundry cut my hours."
SUMMARY = "Two months of rent after a cut in working hours."
# The phone however it is spaced or punctuated (a line break between its digits too).
PHONE_ANYHOW = re.compile(r"[\s().\-/]{0,3}".join("655104937"))


@dataclass
class Output:
    name: str
    text: str
    # The proposal or its payment is in this output: its pseudonym must be too.
    shows_pseudonym: bool


def leaks(text: str) -> list[str]:
    """The person's details that ``text`` holds, in any case or spacing."""
    lowered = text.lower()
    found = [
        what
        for what in (NAME, *NAME.split(), *NAME.split()[-1].split("-"), EMAIL, "zebra-lantern")
        if what.lower() in lowered
    ]
    found += [EMAIL.split("@")[0]] if EMAIL.split("@")[0] in lowered else []
    found += ["phone"] if PHONE_ANYHOW.search(text) else []
    return found


def pdf_texts(name: str, pdf: bytes, tmp_path: Path) -> list[Output]:
    """A PDF as an outsider reads it: pdftotext, pypdf, its attachments and its metadata."""
    assert pdf.startswith(b"%PDF"), name
    document = reader(pdf)
    attached = "\n".join(
        content.decode("utf-8", errors="replace")
        for contents in document.attachments.values()
        for content in contents
    )
    metadata = " ".join(str(v) for v in (document.metadata or {}).values())
    return [
        Output(f"{name} (pdftotext)", pdftotext(pdf, tmp_path), True),
        Output(f"{name} (pypdf)", "\n".join(p.extract_text() or "" for p in document.pages), True),
        Output(f"{name} (attachments)", attached, False),
        Output(f"{name} (metadata)", metadata, False),
    ]


async def ask_as_the_person(settings: Settings, slug: str) -> tuple[str, str]:
    """The ask form as a person without an account; returns their status page's address
    and the code it shows."""
    async with browser(settings) as person:
        sent = await post_form(
            person,
            f"/g/{slug}/ask",
            {
                "need": NEED,
                "amount": "300",
                "urgency": "urgent",
                "name": NAME,
                "phone": PHONE,
                "email": EMAIL,
                "language": "en",
                "consent": "yes",
            },
        )
        assert sent.status_code == 303, sent.text
        status_url = sent.headers["location"].split("?", 1)[0]
        status = await person.get(status_url, headers=HTML)
    code = re.search(r"R-[0-9A-Z]{4}", status.text)
    assert code is not None
    assert "Received" in text_of(status.text)
    return status_url, code.group(0)


async def steward_proposes_it(settings: Settings, world: World, code: str) -> int:
    """Through the queue's pages: find it by its code, read it, note, propose."""
    async with browser(settings, world.steward) as steward:
        queue = await steward.get(f"/m/{world.slug}/requests", headers=HTML)
        link = re.search(rf'href="(/m/{world.slug}/requests/\d+)">{code}<', queue.text)
        assert link is not None, queue.text
        url = link.group(1)
        shown = await steward.get(url, headers=HTML)
        assert NAME in shown.text
        assert PHONE in shown.text
        noted = await post_form(
            steward, f"{url}/notes", {"text": f"Called {NAME} on {PHONE}."}, form_url=url
        )
        assert noted.status_code == 303
        refused = await post_form(
            steward,
            f"{url}/propose",
            {
                "title": f"Rent support for {code}",
                "summary": f"Rent for {NAME}.",
                "fund": "rent-relief",
                "amount": "300.00",
            },
            form_url=url,
        )
        assert refused.status_code == 422  # the personal-data check of the service
        proposed = await post_form(
            steward,
            f"{url}/propose",
            {
                "title": f"Rent support for {code}",
                "summary": SUMMARY,
                "fund": "rent-relief",
                "amount": "300.00",
            },
            form_url=url,
        )
        assert proposed.status_code == 303, proposed.text
        page = text_of((await steward.get(url, headers=HTML)).text)
    number = re.search(r"Proposal #(\d+) pays", page)
    assert number is not None, page
    return int(number.group(1))


async def steward_marks_it_paid(settings: Settings, world: World, code: str) -> None:
    async with browser(settings, world.steward) as steward:
        queue = await steward.get(f"/m/{world.slug}/requests", headers=HTML)
        link = re.search(rf'href="(/m/{world.slug}/requests/\d+)">{code}<', queue.text)
        assert link is not None
        marked = await post_form(steward, f"{link.group(1)}/paid", {}, form_url=link.group(1))
        assert marked.status_code == 303, marked.text


async def public_outputs(
    client: Client, world: World, number: int, status_url: str, tmp_path: Path
) -> tuple[list[Output], list[str]]:
    """Everything anyone may fetch about the group, fetched without logging in; and the
    outputs that did not answer."""
    slug, api = world.slug, f"/api/groups/{world.slug}"
    outputs: list[Output] = []
    missing: list[str] = []

    async def fetch(url: str) -> httpx.Response:
        response = await client.get(url)
        if response.status_code != 200:
            missing.append(f"{url}: {response.status_code}")
        return response

    pages = {
        "/": False,
        f"/g/{slug}": True,
        f"/g/{slug}/ledger": True,
        f"/g/{slug}/proposals": True,
        f"/g/{slug}/proposals/{number}": True,
        f"/g/{slug}/feed.atom": True,
        status_url: True,
        f"{api}/entries": True,
        f"{api}/entries/3": True,  # the payment (entry 2: its decision)
        f"{api}/proposals": True,
        f"{api}/proposals/{number}": True,
        f"{api}/funds": False,
        f"{api}/verify": False,
        f"{api}/checkpoint": False,
    }
    for url, shows in pages.items():
        outputs.append(Output(url, (await fetch(url)).text, shows))
    for fmt in ("csv", "json", "jsonl", "journal", "beancount"):
        outputs.append(Output(f"export.{fmt}", (await fetch(f"{api}/export.{fmt}")).text, True))
    bundle = await fetch(f"{api}/export.zip")
    if bundle.status_code == 200:
        with zipfile.ZipFile(io.BytesIO(bundle.content)) as archive:
            names = archive.namelist()
            assert names, "the bundle is empty"
            for member in names:
                content = archive.read(member).decode("utf-8", errors="replace")
                # The files with the entries name the payment's pseudonym.
                shows = member in ("leaves.jsonl", "ledger.journal", "ledger.beancount")
                outputs.append(Output(f"export.zip/{member}", content, shows))
    today = utcnow().date().isoformat()
    documents = {
        "audit.pdf": f"/g/{slug}/audit.pdf?to={today}",
        "receipt of the donation": f"/g/{slug}/entries/1/receipt.pdf",
        "receipt of the payment": f"/g/{slug}/entries/3/receipt.pdf",
        "decision record": f"/g/{slug}/proposals/{number}.pdf",
    }
    for name, url in documents.items():
        response = await fetch(url)
        if response.status_code == 200:
            for output in pdf_texts(name, response.content, tmp_path):
                output.shows_pseudonym &= name != "receipt of the donation"
                outputs.append(output)
    return outputs, missing


async def test_no_public_output_holds_the_persons_details_and_the_proposal_shows_its_code(
    settings: Settings, client: Client, world: World, session: AsyncSession, tmp_path: Path
) -> None:
    await give_password(session, world.steward)
    donation = await client.post(
        f"/api/groups/{world.slug}/entries",
        headers=world.steward.headers,
        json={"kind": "donation", "fund": "rent-relief", "amount": "500.00", "memo": "Gig"},
    )
    assert donation.status_code == 201, donation.text

    status_url, code = await ask_as_the_person(settings, world.slug)
    number = await steward_proposes_it(settings, world, code)
    await everyone_agrees(client, world, number)
    assert (await client.get(f"/api/groups/{world.slug}/proposals/{number}")).json()[
        "status"
    ] == "passed"
    paid = await client.post(
        f"/api/groups/{world.slug}/entries",
        headers=world.steward.headers,
        json={
            "kind": "disbursement",
            "fund": "rent-relief",
            "amount": "300.00",
            "proposal": number,
            "counterparty": code,
            "memo": "Rent support",
        },
    )
    assert paid.status_code == 201, paid.text
    assert paid.json()["seq"] == 3  # entry 2 is the decision that passed it
    await steward_marks_it_paid(settings, world, code)
    status = text_of((await client.get(status_url, headers=HTML)).text)
    assert "The money has been paid." in status
    assert "Paid" in status

    outputs, missing = await public_outputs(client, world, number, status_url, tmp_path)
    leaked = {o.name: found for o in outputs if (found := leaks(o.text))}
    assert not leaked, leaked
    without_code = [o.name for o in outputs if o.shows_pseudonym and code not in o.text]
    assert not without_code, f"the proposal or its payment shows without {code}: {without_code}"
    # Checked last, so that a missing output does not hide a leak in the others.
    assert not missing, "these public outputs did not answer: " + "; ".join(missing)
    # The search would have found them: the steward's own page holds all of them.
    async with browser(settings, world.steward) as steward:
        queue = await steward.get(f"/m/{world.slug}/requests", headers=HTML)
        link = re.search(rf'href="(/m/{world.slug}/requests/\d+)">{code}<', queue.text)
        assert link is not None
        private = (await steward.get(link.group(1), headers=HTML)).text
    assert {"phone", EMAIL, NAME, "zebra-lantern"} <= set(leaks(private))
