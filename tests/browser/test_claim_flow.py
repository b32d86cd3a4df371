"""A reimbursement in a real browser, against the real server: a member who paid out of
pocket files a claim with a phone photo of the receipt, the other members pass it (the
claimant's own agreement does not count), a steward pays it from the form the decision
fills in, and an anonymous visitor sees the payment, what authorised it and that a receipt
is attached (its copy without the photo's EXIF and GPS)."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import httpx
from PIL import Image
from playwright.sync_api import expect

from tests.browser.steps import (
    DESKTOP,
    NARROW_PHONE,
    Cast,
    accessibility_violations,
    adopt_policy,
    fits_the_screen,
    log_in,
)
from tests.support.people import Person
from tests.support.receipts import GPS_IFD, SECRET, photo_with_gps

WHAT_FOR = "Nappies and formula for the Tuesday distribution"


def open_as(chromium: Any, base: str, person: Person, password: str, opened: list[Any]) -> Any:
    context = chromium.new_context(viewport=DESKTOP)
    opened.append(context)
    page = context.new_page()
    log_in(page, base, person.user.email, password)
    return page


def respond_agree(page: Any) -> None:
    form = page.locator("#respond")
    form.get_by_label("Agree", exact=True).check()
    form.get_by_role("button", name="Send your response").click()
    expect(page.get_by_role("status")).to_contain_text("Your response was recorded")


def test_a_member_is_paid_back_with_the_receipt_attached_to_the_payment(
    chromium: Any, server: str, cast: Cast, artifacts: Path, tmp_path: Path
) -> None:
    world, slug = cast.world, cast.world.slug
    donated = httpx.post(
        f"{server}/api/groups/{slug}/entries",
        json={"kind": "donation", "fund": "groceries", "amount": "150.00", "memo": "Street fair"},
        headers=cast.steward.headers,
        timeout=30,
    )
    assert donated.status_code == 201, donated.text
    photo = tmp_path / "IMG_20261205_101500.jpg"
    photo.write_bytes(photo_with_gps())
    assert Image.open(photo).getexif().get_ifd(GPS_IFD)  # the test's premise
    found: dict[str, list[str]] = {}
    opened: list[Any] = []
    try:
        # 1. The member files the claim from the members' area, with the photo.
        claimant = open_as(chromium, server, world.member, cast.password, opened)
        claimant.goto(f"{server}/m/{slug}")
        claimant.get_by_role("link", name="Claim a reimbursement").click()
        claimant.wait_for_url(f"{server}/m/{slug}/claims/new")
        lede = claimant.locator(".lede").inner_text()
        match = re.search(r"proposal to pay (M-\d+)", lede)
        assert match, lede
        pseudonym = match.group(1)
        found["claim form"] = accessibility_violations(claimant)
        claimant.get_by_label("What for", exact=True).fill(WHAT_FOR)
        claimant.get_by_label("From fund", exact=True).select_option("groceries")
        claimant.get_by_label("Amount in EUR", exact=True).fill("23.40")
        claimant.get_by_label("Receipt", exact=True).set_input_files(str(photo))
        claimant.get_by_role("button", name="File the claim").click()
        claimant.wait_for_url(f"{server}/m/{slug}/proposals/1?done=proposed")
        expect(claimant.get_by_role("heading", name=WHAT_FOR, level=1)).to_be_visible()
        assert (
            f"Pays €23.40 from Groceries to {pseudonym}" in claimant.locator(".lede").inner_text()
        )
        assert world.member.user.name not in claimant.locator(".lede").inner_text()
        # Their own agreement is kept, and counts for nothing: three others decide.
        respond_agree(claimant)
        round_one = claimant.get_by_role("region", name="Round 1: open until", exact=False)
        assert "0 of 3" in round_one.inner_text()

        # 2. The other members agree; the last answer passes it.
        for person in (world.facilitator, world.admin, world.steward):
            page = open_as(chromium, server, person, cast.password, opened)
            page.goto(f"{server}/m/{slug}/proposals/1")
            respond_agree(page)
        steward = page
        expect(steward.locator(".badge", has_text="Passed")).to_be_visible()

        # 3. The steward pays it from the decision's prefilled form.
        steward.get_by_role("link", name="Record a payment under this proposal").click()
        expect(steward.get_by_label("Amount in EUR", exact=True)).to_have_value("23.40")
        recipient = steward.get_by_label("To (optional)", exact=True)
        expect(recipient).to_have_value(pseudonym)
        expect(recipient).not_to_be_editable()
        steward.get_by_role("button", name="Record a payment").click()
        # Entry 2 of the log is the decision of the round that passed the claim.
        expect(steward.get_by_role("status")).to_contain_text("Recorded as entry #3")

        # 4. Anyone reads the payment, its authority and that a receipt is attached.
        context = chromium.new_context(viewport=DESKTOP)
        opened.append(context)
        visitor = context.new_page()
        visitor.goto(f"{server}/g/{slug}/ledger")
        payment = visitor.locator("#entry-3")
        text = payment.inner_text()
        assert f"To: {pseudonym}" in text
        assert "Authorised by proposal 1" in text
        assert "Receipt attached: JPEG" in text
        found["public ledger with a reimbursement"] = accessibility_violations(visitor)
        visitor.screenshot(path=str(artifacts / "reimbursement-public.png"), full_page=True)
        # On a phone, the receipt's SHA-256 wraps: neither page scrolls sideways.
        visitor.set_viewport_size(NARROW_PHONE)
        for path in ("/ledger", ""):
            visitor.goto(f"{server}/g/{slug}{path}")
            expect(visitor.get_by_text("Receipt attached: JPEG").first).to_be_visible()
            fits_the_screen(visitor, NARROW_PHONE["width"])
        listed = httpx.get(f"{server}/api/groups/{slug}/entries/3/attachments", timeout=30).json()
        assert len(listed) == 1
        kept = httpx.get(
            f"{server}/api/groups/{slug}/entries/3/attachments/{listed[0]['sha256']}",
            headers=world.member.headers,
            timeout=30,
        )
        assert kept.status_code == 200
        copy = Image.open(io.BytesIO(kept.content))
        assert not copy.getexif()
        assert SECRET.encode() not in kept.content
    finally:
        for context in opened:
            context.close()
    problems = {where: issues for where, issues in found.items() if issues}
    assert not problems, problems


def test_a_small_claim_is_paid_back_under_a_policy_that_pays_claims_without_a_round(
    chromium: Any, server: str, cast: Cast, artifacts: Path, tmp_path: Path
) -> None:
    world, slug = cast.world, cast.world.slug
    donated = httpx.post(
        f"{server}/api/groups/{slug}/entries",
        json={"kind": "donation", "fund": "groceries", "amount": "150.00", "memo": "Street fair"},
        headers=cast.steward.headers,
        timeout=30,
    )
    assert donated.status_code == 201, donated.text
    # The group adopts a policy that pays members' claims (decision: entry 2).
    policy = adopt_policy(
        server,
        cast,
        "Out-of-pocket costs",
        {
            "fund": "groceries",
            "max_per_payment": "40.00",
            "max_per_month": "120.00",
            "purpose": "Paying members back small costs",
            "reimbursements": True,
        },
    )
    photo = tmp_path / "IMG_20261205_101500.jpg"
    photo.write_bytes(photo_with_gps())
    found: dict[str, list[str]] = {}
    opened: list[Any] = []
    try:
        # 1. The member files the claim under the policy: no round opens.
        claimant = open_as(chromium, server, world.member, cast.password, opened)
        claimant.goto(f"{server}/m/{slug}/claims/new")
        claimant.get_by_label("What for", exact=True).fill(WHAT_FOR)
        claimant.get_by_label("From fund", exact=True).select_option("groceries")
        claimant.get_by_label("Amount in EUR", exact=True).fill("23.40")
        claimant.get_by_label("Paid under a spending policy", exact=True).select_option(str(policy))
        claimant.get_by_label("Receipt", exact=True).set_input_files(str(photo))
        claimant.get_by_role("button", name="File the claim").click()
        claimant.wait_for_url(f"{server}/m/{slug}/claims?filed=1")
        expect(claimant.get_by_role("status")).to_contain_text("Claim 1 is filed")
        found["claims page"] = accessibility_violations(claimant)
        assert claimant.get_by_role("link", name="Pay it").count() == 0

        # 2. A steward pays it from the claims page, the form filled in from the claim.
        steward = open_as(chromium, server, world.steward, cast.password, opened)
        steward.goto(f"{server}/m/{slug}/claims")
        steward.get_by_role("link", name="Pay it").click()
        expect(steward.get_by_role("heading", name="Paying back claim 1")).to_be_visible()
        expect(steward.get_by_label("Amount in EUR", exact=True)).to_have_value("23.40")
        found["payment form of a claim"] = accessibility_violations(steward)
        steward.get_by_role("button", name="Record a payment").click()
        expect(steward.get_by_role("status")).to_contain_text("Recorded as entry #3")

        # 3. Anyone reads the payment, the policy that authorised it, and its receipt.
        context = chromium.new_context(viewport=DESKTOP)
        opened.append(context)
        visitor = context.new_page()
        visitor.goto(f"{server}/g/{slug}/ledger")
        text = visitor.locator("#entry-3").inner_text()
        assert re.search(r"To: M-\d+", text), text
        assert f"Under policy {policy}" in text
        assert "Receipt attached: JPEG" in text
        visitor.screenshot(path=str(artifacts / "reimbursement-policy.png"), full_page=True)
    finally:
        for context in opened:
            context.close()
    problems = {where: issues for where, issues in found.items() if issues}
    assert not problems, problems
