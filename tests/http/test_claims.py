"""Reimbursements: a member files a claim with its receipt; it becomes a proposal to the
member's pseudonym that the others decide on (the claimant's own response does not count);
the payment under it carries the receipt; nobody pays themselves under a policy."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import httpx
from litestar import Litestar
from litestar.testing import AsyncTestClient
from PIL import Image
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.settings import Settings
from ledger.bundle import verify_bundle
from ledger.models import Membership
from tests.support.clients import (
    browser,
    form_token,
    give_password,
    post_form,
    record_entry,
    standing_policy,
    text_of,
)
from tests.support.people import Person, World
from tests.support.receipts import GPS_IFD, SECRET, photo_with_gps, png_with_text

Client = AsyncTestClient[Litestar]
HTML = {"Accept": "text/html"}
WHAT_FOR = "Nappies for the Tuesday distribution"


async def pseudonym_of(session: AsyncSession, world: World, person: Person) -> str:
    membership = await session.scalar(
        select(Membership).where(
            Membership.group_id == world.group.id, Membership.user_id == person.user.id
        )
    )
    assert membership is not None
    await session.commit()  # no read transaction left open while the app writes (SQLite)
    return f"M-{membership.id}"


async def file_claim(
    client: httpx.AsyncClient | Client,
    world: World,
    person: Person,
    content: bytes | None,
    **fields: str,
) -> httpx.Response:
    data = {"fund": "rent-relief", "amount": "23.40", "what_for": WHAT_FOR, **fields}
    files = {"file": ("IMG_2024 at home.jpg", content, "image/jpeg")} if content else None
    return await client.post(
        f"/api/groups/{world.slug}/claims", data=data, files=files, headers=person.headers
    )


async def respond(client: Client, world: World, person: Person, number: int, position: str) -> None:
    body = {"position": position, "reason": "I paid it myself" if position == "block" else ""}
    answered = await client.post(
        f"/api/groups/{world.slug}/proposals/{number}/responses", json=body, headers=person.headers
    )
    assert answered.status_code == 201, answered.text


async def proposal(client: Client, world: World, number: int) -> dict[str, object]:
    read = await client.get(
        f"/api/groups/{world.slug}/proposals/{number}", headers=world.admin.headers
    )
    assert read.status_code == 200, read.text
    body: dict[str, object] = read.json()
    return body


def no_exif(content: bytes) -> None:
    photo = Image.open(io.BytesIO(content))
    assert not photo.getexif()
    assert "exif" not in photo.info
    assert SECRET.encode() not in content


async def test_a_claim_passes_with_the_others_and_its_receipt_goes_with_the_payment(
    client: Client, world: World, session: AsyncSession
) -> None:
    await record_entry(
        client, world, {"kind": "donation", "fund": "rent-relief", "amount": "200.00"}
    )
    original = photo_with_gps()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(GPS_IFD)  # the test's premise
    pseudonym = await pseudonym_of(session, world, world.member)

    filed = await file_claim(client, world, world.member, original)

    assert filed.status_code == 201, filed.text
    claim = filed.json()
    assert claim["counterparty"] == pseudonym
    assert (claim["fund"], claim["amount"], claim["what_for"]) == ("rent-relief", "23.40", WHAT_FOR)
    assert claim["receipt"]["content_type"] == "image/jpeg"
    number = claim["proposal"]
    opened = await proposal(client, world, number)
    assert (opened["kind"], opened["status"]) == ("disbursement", "open")
    assert (opened["counterparty"], opened["amount"], opened["fund"]) == (
        pseudonym,
        "23.40",
        "rent-relief",
    )
    assert "Member" not in str(opened["counterparty"])  # never the member's name

    # The claimant's own agreement is kept but counts for nothing: three others decide.
    await respond(client, world, world.member, number, "agree")
    tally = (await proposal(client, world, number))["rounds"][0]["tally"]  # type: ignore[index]
    assert (tally["eligible"], tally["agree"], tally["responded"]) == (3, 0, 0)
    # Nor does the claimant's block: the others' agreement passes it.
    await respond(client, world, world.member, number, "block")
    for person in (world.admin, world.steward):
        await respond(client, world, person, number, "agree")
    assert (await proposal(client, world, number))["status"] == "open"
    await respond(client, world, world.facilitator, number, "agree")
    passed = await proposal(client, world, number)
    assert passed["status"] == "passed"
    assert passed["rounds"][0]["tally"]["block"] == 0  # type: ignore[index]

    # The steward pays it; the claim's receipt is attached to the payment.
    paid = await client.post(
        f"/api/groups/{world.slug}/entries",
        headers=world.steward.headers,
        json={
            "kind": "disbursement",
            "fund": "rent-relief",
            "amount": "23.40",
            "counterparty": pseudonym,
            "proposal": number,
        },
    )
    assert paid.status_code == 201, paid.text
    seq = paid.json()["seq"]
    entry = (await client.get(f"/api/groups/{world.slug}/entries/{seq}")).json()
    assert [a["sha256"] for a in entry["attachments"]] == [claim["receipt"]["sha256"]]
    kept = await client.get(
        f"/api/groups/{world.slug}/entries/{seq}/attachments/{claim['receipt']['sha256']}",
        headers=world.member.headers,
    )
    assert kept.status_code == 200
    assert hashlib.sha256(kept.content).hexdigest() == claim["receipt"]["sha256"]
    no_exif(kept.content)
    report = (await client.get(f"/api/groups/{world.slug}/verify")).json()
    assert report["ok"], report
    # The public ledger shows the payment, what authorised it, and its receipt.
    ledger = text_of((await client.get(f"/g/{world.slug}/ledger", headers=HTML)).text)
    assert f"To: {pseudonym}" in ledger
    assert f"Authorised by proposal {number}" in ledger
    assert "Receipt attached: JPEG" in ledger


async def test_members_list_the_groups_claims_newest_first(
    client: Client, world: World, session: AsyncSession
) -> None:
    pseudonym = await pseudonym_of(session, world, world.member)
    first = await file_claim(client, world, world.member, photo_with_gps())
    second = await file_claim(client, world, world.member, photo_with_gps(), amount="5.00")
    assert first.status_code == second.status_code == 201
    listed = await client.get(f"/api/groups/{world.slug}/claims", headers=world.admin.headers)
    assert listed.status_code == 200, listed.text
    claims = listed.json()
    assert [c["proposal"] for c in claims] == [
        second.json()["proposal"],
        first.json()["proposal"],
    ]
    assert [c["amount"] for c in claims] == ["5.00", "23.40"]
    assert {c["counterparty"] for c in claims} == {pseudonym}
    assert claims[1]["receipt"] == first.json()["receipt"]
    assert all(c["status"] == "open" for c in claims)
    outsider = await client.get(f"/api/groups/{world.slug}/claims")
    assert outsider.status_code in (401, 403)


async def test_the_claimant_alone_never_passes_a_claim(client: Client, world: World) -> None:
    filed = await file_claim(client, world, world.member, photo_with_gps())
    number = filed.json()["proposal"]

    await respond(client, world, world.member, number, "agree")
    closed = await client.post(
        f"/api/groups/{world.slug}/proposals/{number}/close", headers=world.facilitator.headers
    )

    assert closed.status_code in (200, 201, 409), closed.text
    assert (await proposal(client, world, number))["status"] != "passed"


async def test_a_claim_needs_its_receipt_and_names_what_is_wrong(
    client: Client, world: World
) -> None:
    without = await file_claim(client, world, world.member, None)
    # (Without a file, the body is a plain form: the API takes files as multipart only.)
    assert without.status_code in (400, 415, 422), without.text
    bad_amount = await file_claim(client, world, world.member, photo_with_gps(), amount="1e3")
    assert bad_amount.status_code == 422, bad_amount.text
    assert bad_amount.json()["errors"][0]["field"] == "amount"
    not_a_receipt = await file_claim(client, world, world.member, b"just some text")
    assert not_a_receipt.status_code == 415, not_a_receipt.text
    listed = (await client.get(f"/api/groups/{world.slug}/proposals")).json()
    assert listed == [] or listed.get("proposals") == []
    outsider = await file_claim(client, world, world.outsider, photo_with_gps())
    assert outsider.status_code in (403, 404)


async def test_a_claims_recipient_cannot_be_amended(client: Client, world: World) -> None:
    number = (await file_claim(client, world, world.member, photo_with_gps())).json()["proposal"]

    amended = await client.post(
        f"/api/groups/{world.slug}/proposals/{number}/amendments",
        headers=world.member.headers,
        json={"counterparty": "R-99", "reason": "Pay my friend instead"},
    )

    assert amended.status_code == 422, amended.text
    assert amended.json()["errors"][0]["field"] == "counterparty"


async def test_nobody_pays_themselves_under_a_policy(
    client: Client, world: World, session: AsyncSession
) -> None:
    await record_entry(
        client, world, {"kind": "donation", "fund": "rent-relief", "amount": "50.00"}
    )
    policy = await standing_policy(client, world, "rent-relief")
    body = {"kind": "disbursement", "fund": "rent-relief", "amount": "10.00", "policy": policy}
    own = await pseudonym_of(session, world, world.steward)

    to_oneself = await client.post(
        f"/api/groups/{world.slug}/entries",
        headers=world.steward.headers,
        json={**body, "counterparty": own},
    )

    assert to_oneself.status_code == 409, to_oneself.text
    assert to_oneself.json()["errors"][0]["field"] == "counterparty"
    # To another member it goes through.
    other = await pseudonym_of(session, world, world.member)
    to_another = await client.post(
        f"/api/groups/{world.slug}/entries",
        headers=world.steward.headers,
        json={**body, "counterparty": other},
    )
    assert to_another.status_code == 201, to_another.text


async def test_a_claim_through_the_pages_paid_from_the_prefilled_form(
    settings: Settings, client: Client, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.member, world.steward)
    await record_entry(
        client, world, {"kind": "donation", "fund": "rent-relief", "amount": "200.00"}
    )
    pseudonym = await pseudonym_of(session, world, world.member)
    async with browser(settings, world.member) as member:
        form = await member.get(f"/m/{world.slug}/claims/new", headers=HTML)
        assert form.status_code == 200
        assert pseudonym in text_of(form.text)
        assert (
            'href="/m/rent-fund/claims/new"'
            in (await member.get("/m/rent-fund", headers=HTML)).text
        )
        token = await form_token(member, f"/m/{world.slug}/claims/new")
        missing = await member.post(
            f"/m/{world.slug}/claims/new",
            data={
                "_csrf_token": token,
                "fund": "rent-relief",
                "amount": "23.40",
                "what_for": WHAT_FOR,
            },
            files={"receipt": ("", b"", "application/octet-stream")},
            headers=HTML,
        )
        assert missing.status_code == 422
        assert "A claim needs its receipt" in text_of(missing.text)
        filed = await member.post(
            f"/m/{world.slug}/claims/new",
            data={
                "_csrf_token": token,
                "fund": "rent-relief",
                "amount": "23.40",
                "what_for": WHAT_FOR,
            },
            files={"receipt": ("IMG_2024.jpg", photo_with_gps(), "image/jpeg")},
            headers=HTML,
            follow_redirects=False,
        )
        assert filed.status_code == 303, filed.text
        assert filed.headers["location"] == f"/m/{world.slug}/proposals/1?done=proposed"
        page = text_of((await member.get(f"/m/{world.slug}/proposals/1", headers=HTML)).text)
        assert "Your own response is recorded but does not count" in page
        receipt = await member.get(f"/m/{world.slug}/claims/1/receipt")
        assert receipt.status_code == 200
        assert receipt.headers["content-type"] == "image/jpeg"
        no_exif(receipt.content)
        agreed = await post_form(
            member,
            f"/m/{world.slug}/proposals/1/respond",
            {"position": "agree", "reason": ""},
            form_url=f"/m/{world.slug}/proposals/1",
        )
        assert agreed.status_code == 303, agreed.text
    for person in (world.admin, world.steward, world.facilitator):
        await respond(client, world, person, 1, "agree")
    assert (await proposal(client, world, 1))["status"] == "passed"
    async with browser(settings, world.steward) as steward:
        form = await steward.get(f"/m/{world.slug}/record/payment?proposal=1", headers=HTML)
        assert f'name="counterparty" type="text" value="{pseudonym}"' in form.text
        assert 'name="amount" type="text" value="23.40"' in form.text
        paid = await post_form(
            steward,
            f"/m/{world.slug}/record/payment",
            {"proposal": "1", "fund": "rent-relief", "amount": "23.40", "counterparty": pseudonym},
            form_url=f"/m/{world.slug}/record/payment?proposal=1",
        )
        assert paid.status_code == 303, paid.text
    ledger = text_of((await client.get(f"/g/{world.slug}/ledger", headers=HTML)).text)
    assert f"To: {pseudonym}" in ledger
    assert "Authorised by proposal 1" in ledger
    assert "Receipt attached: JPEG" in ledger


async def adopt_reimbursing_policy(
    client: Client, world: World, *, reimbursements: bool = True, per_payment: str = "30.00"
) -> int:
    """A policy for rent-relief adopted by everyone's agreement; it pays claims or not."""
    proposed = await client.post(
        f"/api/groups/{world.slug}/proposals",
        headers=world.admin.headers,
        json={
            "title": "Small out-of-pocket costs",
            "kind": "policy",
            "policy": {
                "fund": "rent-relief",
                "max_per_payment": per_payment,
                "max_per_month": "50.00",
                "purpose": "Paying members back for small costs",
                "reimbursements": reimbursements,
            },
        },
    )
    assert proposed.status_code == 201, proposed.text
    number: int = proposed.json()["number"]
    for person in (world.admin, world.steward, world.facilitator, world.member):
        await respond(client, world, person, number, "agree")
    assert (await proposal(client, world, number))["status"] == "passed"
    return number


async def pay_claim(client: Client, world: World, by: Person, **fields: object) -> httpx.Response:
    body = {"kind": "disbursement", "fund": "rent-relief", "amount": "23.40", **fields}
    return await client.post(f"/api/groups/{world.slug}/entries", headers=by.headers, json=body)


def field_of(response: httpx.Response) -> str:
    field: str = response.json()["errors"][0]["field"]
    return field


async def test_a_claim_under_a_policy_that_pays_claims_is_paid_without_a_round(
    client: Client, world: World, session: AsyncSession, tmp_path: Path
) -> None:
    await record_entry(
        client, world, {"kind": "donation", "fund": "rent-relief", "amount": "200.00"}
    )
    policy = await adopt_reimbursing_policy(client, world)
    listed = (await client.get(f"/api/groups/{world.slug}/policies")).json()
    assert [p["reimbursements"] for p in listed if p["number"] == policy] == [True]
    pseudonym = await pseudonym_of(session, world, world.member)

    filed = await file_claim(client, world, world.member, photo_with_gps(), policy=str(policy))

    assert filed.status_code == 201, filed.text
    claim = filed.json()
    assert (claim["proposal"], claim["policy"], claim["status"]) == (
        None,
        policy,
        "awaiting_payment",
    )
    assert (claim["counterparty"], claim["amount"], claim["what_for"]) == (
        pseudonym,
        "23.40",
        WHAT_FOR,
    )
    # No round: the only proposal is the policy's.
    proposals = (await client.get(f"/api/groups/{world.slug}/proposals")).json()
    assert [p["number"] for p in proposals] == [policy]

    # The payment pays what the claim asks, to whom it names, from its fund.
    claimed = {"policy": policy, "claim": claim["id"], "counterparty": pseudonym}
    elsewhere = await pay_claim(client, world, world.steward, **{**claimed, "counterparty": "R-9"})
    assert (elsewhere.status_code, field_of(elsewhere)) == (409, "counterparty")
    less = await pay_claim(client, world, world.steward, **claimed, amount="20.00")
    assert (less.status_code, field_of(less)) == (409, "amount")
    no_policy = await pay_claim(
        client, world, world.steward, claim=claim["id"], counterparty=pseudonym
    )
    assert no_policy.status_code in (409, 422), no_policy.text

    paid = await pay_claim(client, world, world.steward, **claimed)

    assert paid.status_code == 201, paid.text
    seq = paid.json()["seq"]
    assert paid.json()["policy"]["number"] == policy
    entry = (await client.get(f"/api/groups/{world.slug}/entries/{seq}")).json()
    assert [a["sha256"] for a in entry["attachments"]] == [claim["receipt"]["sha256"]]
    kept = await client.get(
        f"/api/groups/{world.slug}/entries/{seq}/attachments/{claim['receipt']['sha256']}",
        headers=world.member.headers,
    )
    no_exif(kept.content)
    claims = (
        await client.get(f"/api/groups/{world.slug}/claims", headers=world.member.headers)
    ).json()
    assert [(c["id"], c["status"], c["paid_in"]) for c in claims] == [(claim["id"], "paid", seq)]
    # Paid once: a second payment of the same claim is refused.
    again = await pay_claim(client, world, world.steward, **claimed)
    assert (again.status_code, field_of(again)) == (409, "claim")
    report = (await client.get(f"/api/groups/{world.slug}/verify")).json()
    assert report["ok"], report
    ledger = text_of((await client.get(f"/g/{world.slug}/ledger", headers=HTML)).text)
    assert f"To: {pseudonym}" in ledger
    assert "Receipt attached: JPEG" in ledger
    page = text_of((await client.get(f"/g/{world.slug}/policies/{policy}", headers=HTML)).text)
    assert "a member's claim may be paid under it" in page
    # The log says the policy pays claims: its decision leaf is of version "5", and the
    # bundle, leaves of versions 4 and 5 together, checks whole.
    leaves = [
        json.loads(line)
        for line in (await client.get(f"/api/groups/{world.slug}/export.jsonl")).text.splitlines()
    ]
    adopted = [
        leaf
        for leaf in leaves
        if leaf["kind"] == "decision" and leaf["proposal"]["number"] == str(policy)
    ]
    assert [(leaf["v"], leaf["decision"]["policy"]["reimbursements"]) for leaf in adopted] == [
        ("5", "true")
    ]
    exported = await client.get(f"/api/groups/{world.slug}/export.zip")
    bundle = tmp_path / "bundle.zip"
    bundle.write_bytes(exported.content)
    checked = verify_bundle(bundle)
    assert checked.ok, checked.problem


async def test_a_claim_under_a_policy_stays_within_its_limits(
    client: Client, world: World, session: AsyncSession
) -> None:
    await record_entry(
        client, world, {"kind": "donation", "fund": "rent-relief", "amount": "200.00"}
    )
    plain = await adopt_reimbursing_policy(client, world, reimbursements=False)
    paying = await adopt_reimbursing_policy(client, world)

    not_for_claims = await file_claim(
        client, world, world.member, photo_with_gps(), policy=str(plain)
    )
    assert (not_for_claims.status_code, field_of(not_for_claims)) == (422, "policy")
    too_much = await file_claim(
        client, world, world.member, photo_with_gps(), amount="30.01", policy=str(paying)
    )
    assert (too_much.status_code, field_of(too_much)) == (422, "amount")
    other_fund = await file_claim(
        client, world, world.member, photo_with_gps(), fund="groceries", policy=str(paying)
    )
    assert other_fund.status_code in (404, 422), other_fund.text

    # Two claims of 30.00 each fit the per-payment limit; the month's 50.00 pays only one.
    pseudonym = await pseudonym_of(session, world, world.member)
    ids = []
    for _ in range(2):
        filed = await file_claim(
            client, world, world.member, photo_with_gps(), amount="30.00", policy=str(paying)
        )
        assert filed.status_code == 201, filed.text
        ids.append(filed.json()["id"])
    terms = {"policy": paying, "counterparty": pseudonym, "amount": "30.00"}
    first = await pay_claim(client, world, world.steward, claim=ids[0], **terms)
    assert first.status_code == 201, first.text
    second = await pay_claim(client, world, world.steward, claim=ids[1], **terms)
    assert (second.status_code, field_of(second)) == (409, "amount")
    assert "left for" in second.json()["errors"][0]["message"]


async def test_nobody_pays_their_own_claim_under_a_policy(
    client: Client, world: World, session: AsyncSession
) -> None:
    await record_entry(
        client, world, {"kind": "donation", "fund": "rent-relief", "amount": "200.00"}
    )
    policy = await adopt_reimbursing_policy(client, world)
    own = await pseudonym_of(session, world, world.steward)
    filed = await file_claim(client, world, world.steward, photo_with_gps(), policy=str(policy))
    assert filed.status_code == 201, filed.text
    claimed = {"policy": policy, "claim": filed.json()["id"], "counterparty": own}

    by_claimant = await pay_claim(client, world, world.steward, **claimed)

    assert (by_claimant.status_code, field_of(by_claimant)) == (409, "claim")
    # Another steward (here the admin) pays it.
    by_another = await pay_claim(client, world, world.admin, **claimed)
    assert by_another.status_code == 201, by_another.text


async def test_a_claim_under_a_policy_through_the_pages_paid_from_the_claims_list(
    settings: Settings, client: Client, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.member, world.steward)
    await record_entry(
        client, world, {"kind": "donation", "fund": "rent-relief", "amount": "200.00"}
    )
    policy = await adopt_reimbursing_policy(client, world)
    pseudonym = await pseudonym_of(session, world, world.member)
    async with browser(settings, world.member) as member:
        form = await member.get(f"/m/{world.slug}/claims/new", headers=HTML)
        assert f'<option value="{policy}"' in form.text
        # Offered as the payment form offers it: with the room it leaves, in money.
        chosen = f"#{policy} Small out-of-pocket costs: €50.00 left this month, at most €30.00"
        assert chosen in text_of(form.text)
        spanish = await member.get(f"/m/{world.slug}/claims/new?lang=es", headers=HTML)
        chosen = f"#{policy} Small out-of-pocket costs: quedan 50,00 € este mes, como mucho 30,00 €"
        assert chosen in text_of(spanish.text)
        token = await form_token(member, f"/m/{world.slug}/claims/new")
        filed = await member.post(
            f"/m/{world.slug}/claims/new",
            data={
                "_csrf_token": token,
                "fund": "rent-relief",
                "amount": "23.40",
                "what_for": WHAT_FOR,
                "policy": str(policy),
            },
            files={"receipt": ("IMG_2024.jpg", photo_with_gps(), "image/jpeg")},
            headers=HTML,
            follow_redirects=False,
        )
        assert filed.status_code == 303, filed.text
        assert filed.headers["location"] == f"/m/{world.slug}/claims?filed=1"
        listed = await member.get(filed.headers["location"], headers=HTML)
        assert "Claim 1 is filed" in text_of(listed.text)
        assert "awaiting payment" in text_of(listed.text)
        assert "/record/payment?claim=1" not in listed.text  # a member does not pay
        receipt = await member.get(f"/m/{world.slug}/claims/1/file")
        assert receipt.headers["content-type"] == "image/jpeg"
        no_exif(receipt.content)
    async with browser(settings, world.steward) as steward:
        listed = await steward.get(f"/m/{world.slug}/claims", headers=HTML)
        assert f'href="/m/{world.slug}/record/payment?claim=1"' in listed.text
        # Money and funds as people read them, not as the API writes them.
        assert "€23.40 Rent relief" in text_of(listed.text)
        steward.cookies.set("lang", "es")
        spanish = text_of((await steward.get(f"/m/{world.slug}/claims", headers=HTML)).text)
        assert "23,40 € Rent relief" in spanish
        form = await steward.get(f"/m/{world.slug}/record/payment?claim=1", headers=HTML)
        assert (
            f"#{policy} Small out-of-pocket costs: quedan 50,00 € este mes, como mucho"
        ) in text_of(form.text)
        steward.cookies.delete("lang")
        form = await steward.get(f"/m/{world.slug}/record/payment?claim=1", headers=HTML)
        assert f'name="counterparty" type="text" value="{pseudonym}"' in form.text
        assert 'name="amount" type="text" value="23.40"' in form.text
        assert 'name="claim" value="1"' in form.text
        paid = await post_form(
            steward,
            f"/m/{world.slug}/record/payment",
            {
                "claim": "1",
                "policy": str(policy),
                "fund": "rent-relief",
                "amount": "23.40",
                "counterparty": pseudonym,
            },
            form_url=f"/m/{world.slug}/record/payment?claim=1",
        )
        assert paid.status_code == 303, paid.text
        listed = await steward.get(f"/m/{world.slug}/claims", headers=HTML)
        assert "paid in entry" in text_of(listed.text)
    ledger = text_of((await client.get(f"/g/{world.slug}/ledger", headers=HTML)).text)
    assert f"To: {pseudonym}" in ledger
    assert f"policy {policy}" in ledger
    assert "Receipt attached: JPEG" in ledger


async def test_erasing_a_members_data_erases_their_claims_receipts_and_keeps_the_hashes(
    settings: Settings, client: Client, world: World, session: AsyncSession
) -> None:
    await record_entry(
        client, world, {"kind": "donation", "fund": "rent-relief", "amount": "200.00"}
    )
    policy = await adopt_reimbursing_policy(client, world)
    pseudonym = await pseudonym_of(session, world, world.member)
    membership = int(pseudonym.removeprefix("M-"))
    # One claim paid under the policy (its receipt attached to the payment), one waiting.
    paid_claim = (
        await file_claim(client, world, world.member, photo_with_gps((1, 2, 3)), policy=str(policy))
    ).json()
    waiting = (
        await file_claim(
            client,
            world,
            world.member,
            photo_with_gps((4, 5, 6)),
            amount="5.00",
            policy=str(policy),
        )
    ).json()
    paid = await pay_claim(
        client,
        world,
        world.steward,
        policy=policy,
        claim=paid_claim["id"],
        counterparty=pseudonym,
    )
    assert paid.status_code == 201, paid.text
    seq = paid.json()["seq"]
    others = await file_claim(client, world, world.steward, png_with_text(), amount="1.00")
    hashes = [paid_claim["receipt"]["sha256"], waiting["receipt"]["sha256"]]
    kept = others.json()["receipt"]["sha256"]
    store = settings.attachments_dir
    assert len({*hashes, kept}) == 3
    assert all((store / h[:2] / h).exists() for h in [*hashes, kept])
    url = f"/api/groups/{world.slug}/members/{membership}/personal-data"
    not_admin = await client.delete(url, headers=world.steward.headers)
    assert not_admin.status_code == 403
    assert all((store / h[:2] / h).exists() for h in hashes)

    erased = await client.delete(url, headers=world.admin.headers)

    assert erased.status_code == 204, erased.text
    assert not any((store / h[:2] / h).exists() for h in hashes)
    assert (store / kept[:2] / kept).exists()  # another member's receipt stays
    listed = (
        await client.get(f"/api/groups/{world.slug}/claims", headers=world.admin.headers)
    ).json()
    erased_on = {c["receipt"]["sha256"]: c["receipt"]["erased_on"] for c in listed}
    assert erased_on[kept] is None
    assert all(erased_on[h] is not None for h in hashes)
    attached = f"/api/groups/{world.slug}/entries/{seq}/attachments"
    gone = await client.get(f"{attached}/{hashes[0]}", headers=world.member.headers)
    assert gone.status_code == 410
    assert [a["sha256"] for a in (await client.get(attached)).json()] == [hashes[0]]
    page = text_of((await client.get(f"/g/{world.slug}/ledger", headers=HTML)).text)
    assert f"SHA-256 {hashes[0]} · erased on" in page
    report = (await client.get(f"/api/groups/{world.slug}/verify")).json()
    assert report["ok"], report
    # The claim still waiting can be paid; it goes without its erased receipt.
    later = await pay_claim(
        client,
        world,
        world.steward,
        policy=policy,
        claim=waiting["id"],
        counterparty=pseudonym,
        amount="5.00",
    )
    assert later.status_code == 201, later.text
    later_entry = await client.get(f"/api/groups/{world.slug}/entries/{later.json()['seq']}")
    assert later_entry.json()["attachments"] == []
    await give_password(session, world.member)
    async with browser(settings, world.member) as member:
        claims_page = text_of((await member.get(f"/m/{world.slug}/claims", headers=HTML)).text)
        assert "erased on" in claims_page
        assert (await member.get(f"/m/{world.slug}/claims/{waiting['id']}/file")).status_code == 410


async def test_an_admin_erases_a_members_claims_receipts_from_the_members_page(
    settings: Settings, client: Client, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.admin)
    pseudonym = await pseudonym_of(session, world, world.member)
    membership = int(pseudonym.removeprefix("M-"))
    filed = await file_claim(client, world, world.member, photo_with_gps())
    assert filed.status_code == 201, filed.text
    sha256 = filed.json()["receipt"]["sha256"]
    kept = settings.attachments_dir / sha256[:2] / sha256
    assert kept.exists()
    url = f"/m/{world.slug}/members/{membership}/erase"
    async with browser(settings, world.admin) as admin:
        members = await admin.get(f"/m/{world.slug}/members", headers=HTML)
        assert f'href="{url}"' in members.text
        confirm = await admin.get(url, headers=HTML)
        assert confirm.status_code == 200
        assert "1 not erased yet" in text_of(confirm.text)

        unconfirmed = await post_form(admin, url, {})

        assert unconfirmed.status_code == 422
        assert "Tick the box" in text_of(unconfirmed.text)
        assert kept.exists()

        erased = await post_form(admin, url, {"confirm": "yes"})

        assert erased.status_code == 303, erased.text
        assert erased.headers["location"] == f"/m/{world.slug}/members?done=erased"
        done = await admin.get(erased.headers["location"], headers=HTML)
        assert "claims' receipts were erased" in text_of(done.text)
    assert not kept.exists()
    listed = (
        await client.get(f"/api/groups/{world.slug}/claims", headers=world.admin.headers)
    ).json()
    assert listed[0]["receipt"]["sha256"] == sha256
    assert listed[0]["receipt"]["erased_on"] is not None
