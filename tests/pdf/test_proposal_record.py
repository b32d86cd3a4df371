"""The decision record of a proposal, parsed back with pypdf, pdftotext and qpdf."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ledger.canonical import leaf_hash_hex
from ledger.checkpoint import Verifier, verify_note
from ledger.merkle import verify_inclusion
from tests.pdf.ledger_data import Client, record
from tests.pdf.reading import (
    fonts_without_embedded_file,
    pdftotext,
    qpdf_check,
    reader,
    without_bidi_marks,
    xmp,
)
from tests.support.people import Person, World, build_world

BLOCK_REASON = "We promised R-17 rent for two months, not three; cut it to 250."
CONCERN = "Is R-17 also behind on the electricity bill?"
AMENDMENT_REASON = "Two months, as the block asked."
BODY = "R-17 is three months behind.\n\nThe landlord agreed to wait until the 15th."


def proposals_url(world: World, tail: str = "") -> str:
    return f"/api/groups/{world.slug}/proposals{tail}"


async def answer(
    client: Client, world: World, by: Person, position: str, reason: str = "", number: int = 1
) -> None:
    response = await client.post(
        proposals_url(world, f"/{number}/responses"),
        headers=by.headers,
        json={"position": position, "reason": reason},
    )
    assert response.status_code == 201, response.text


async def pay(client: Client, world: World, amount: str, memo: str) -> dict[str, Any]:
    return await record(
        client,
        world,
        {
            "kind": "disbursement",
            "fund": "rent-relief",
            "amount": amount,
            "proposal": 1,
            "counterparty": "R-17",
            "memo": memo,
        },
    )


async def blocked_amended_passed_and_paid(client: Client, world: World) -> list[dict[str, Any]]:
    """Proposal 1: blocked in round 1, amended to 250.00, passed in round 2, then paid in
    two payments, one of them reversed and paid again. Returns the payment entries."""
    await record(client, world, {"kind": "donation", "fund": "rent-relief", "amount": "500.00"})
    created = await client.post(
        proposals_url(world),
        headers=world.member.headers,
        json={
            "title": "Rent for R-17 in March",
            "body": BODY,
            "fund": "rent-relief",
            "amount": "300.00",
            "counterparty": "R-17",
        },
    )
    assert created.status_code == 201, created.text
    await answer(client, world, world.admin, "block", BLOCK_REASON)
    await answer(client, world, world.steward, "concern", CONCERN)
    await answer(client, world, world.facilitator, "agree")
    await answer(client, world, world.member, "agree")
    amended = await client.post(
        proposals_url(world, "/1/amendments"),
        headers=world.member.headers,
        json={"amount": "250.00", "reason": AMENDMENT_REASON},
    )
    assert amended.status_code == 201, amended.text
    for person in (world.admin, world.steward, world.facilitator, world.member):
        await answer(client, world, person, "agree", "Fine by me" if person is world.admin else "")
    first = await pay(client, world, "100.00", "First half of the rent")
    reversal = await record(
        client, world, {"kind": "reversal", "reverses": first["seq"], "memo": "Wrong account"}
    )
    assert reversal["seq"] == first["seq"] + 1
    second = await pay(client, world, "100.00", "First half, to the right account")
    third = await pay(client, world, "150.00", "Second half")
    return [first, second, third]


async def decision_record(client: Client, world: World, number: int = 1, **kwargs: Any) -> bytes:
    response = await client.get(f"/g/{world.slug}/proposals/{number}.pdf", **kwargs)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert f"{world.slug}-proposal-{number}.pdf" in response.headers["content-disposition"]
    assert response.content.startswith(b"%PDF-")
    return response.content


def flat(text: str) -> str:
    """Text with runs of whitespace as one space, and words broken after a hyphen joined."""
    return re.sub(r"-\s+", "-", " ".join(without_bidi_marks(text).split()))


def people(world: World) -> list[str]:
    return [
        person.user.name for person in (world.admin, world.steward, world.facilitator, world.member)
    ]


async def test_the_record_shows_versions_rounds_reasons_outcome_and_payments(
    client: Client, world: World, tmp_path: Path
) -> None:
    payments = await blocked_amended_passed_and_paid(client, world)
    pdf = await decision_record(client, world)
    text = flat(pdftotext(pdf, tmp_path))
    pypdf_text = flat("\n".join(page.extract_text() for page in reader(pdf).pages))
    for words in (
        "Rent for R-17 in March",
        "R-17 is three months behind.",
        "The landlord agreed to wait until the 15th.",
        "Version 1",
        "Version 2",
        AMENDMENT_REASON,
        "Round 1",
        "Round 2",
        BLOCK_REASON,
        CONCERN,
        "Fine by me",
        "Blocked",
        "Passed",
        "250.00 EUR from rent-relief",
        "300.00 EUR from rent-relief",
        "Reversed by entry",
    ):
        assert words in text, words
        assert words in pypdf_text, words
    shown = (await client.get(proposals_url(world, "/1"))).json()
    for round_ in shown["rounds"]:
        explanation = " ".join(round_["outcome"]["explanation"].split())
        assert explanation in text
    assert "when every eligible member had responded" in text
    for payment in payments:
        assert f"#{payment['seq']}" in text
        assert payment["hash"] in text
    assert "100.00 EUR" in text
    assert "150.00 EUR" in text
    # 250.00 authorised; the reversed 100.00 does not count: 250.00 paid, nothing left.
    assert "Paid under this proposal: 250.00 EUR of 250.00 EUR authorised" in text
    assert "0.00 EUR left to pay" in text


async def test_names_are_hidden_unless_the_group_makes_them_public(
    client: Client, world: World, tmp_path: Path
) -> None:
    await blocked_amended_passed_and_paid(client, world)
    # Even a member's copy hides them: the record is meant to be passed on.
    for headers in ({}, world.member.headers):
        pdf = await decision_record(client, world, headers=headers)
        text = flat(pdftotext(pdf, tmp_path, layout=False))
        for name in people(world):
            assert name not in text, name
        assert "Names are left out" in text
        minutes = json.loads(reader(pdf).attachments[f"{world.slug}-proposal-1-minutes.json"][0])
        assert [m["round"] for m in minutes] == [1, 2]
        assert minutes[0]["eligible"] == 4
        assert minutes[0]["outcome"]["status"] == "blocked"
        for minute in minutes:
            for response in minute["responses"]:
                assert set(response) == {"position", "reason", "at"}
        assert BLOCK_REASON in json.dumps(minutes, ensure_ascii=False)

    public = await client.put(
        f"/api/groups/{world.slug}/rules",
        headers=world.admin.headers,
        json={"public_names": True},
    )
    assert public.status_code == 200, public.text
    pdf = await decision_record(client, world)
    text = flat(pdftotext(pdf, tmp_path, layout=False))
    for name in people(world):
        assert name in text, name
    assert "Names are left out" not in text
    minutes = json.loads(reader(pdf).attachments[f"{world.slug}-proposal-1-minutes.json"][0])
    assert {member["name"] for member in minutes[0]["eligible"]} == set(people(world))
    assert {response["member"] for response in minutes[0]["responses"]} == set(people(world))


async def test_the_payments_are_proven_by_the_signed_checkpoint_inside_the_record(
    client: Client, world: World, tmp_path: Path
) -> None:
    payments = await blocked_amended_passed_and_paid(client, world)
    pdf = await decision_record(client, world)
    attachments = reader(pdf).attachments
    slug = world.slug
    assert set(attachments) == {
        f"{slug}-proposal-1-minutes.json",
        f"{slug}-proposal-1-payments.jsonl",
        f"{slug}-proposal-1-payment-proofs.json",
        "checkpoint.txt",
    }
    leaves = attachments[f"{slug}-proposal-1-payments.jsonl"][0].splitlines()
    export = (await client.get(f"/api/groups/{slug}/export.jsonl")).content.splitlines()
    assert leaves == [export[p["seq"] - 1] for p in payments]
    assert [json.loads(leaf)["proposal"]["number"] for leaf in leaves] == ["1"] * 3

    verifier = Verifier.from_vkey((await client.get("/.well-known/commonpurse-key")).text)
    checkpoint = verify_note(attachments["checkpoint.txt"][0], verifier)
    assert checkpoint.size == len(export)
    proofs = json.loads(attachments[f"{slug}-proposal-1-payment-proofs.json"][0])
    assert [proof["seq"] for proof in proofs] == [p["seq"] for p in payments]
    for proof, leaf in zip(proofs, leaves, strict=True):
        assert proof["leaf_hash"] == leaf_hash_hex(leaf)
        assert verify_inclusion(
            bytes.fromhex(proof["leaf_hash"]),
            proof["leaf_index"],
            proof["tree_size"],
            [bytes.fromhex(node) for node in proof["audit_path"]],
            checkpoint.root,
        )
        served = await client.get(
            f"/api/groups/{slug}/entries/{proof['seq']}/proof?size={checkpoint.size}"
        )
        assert served.json() == proof
    text = pdftotext(pdf, tmp_path)
    assert checkpoint.root.hex() in text
    assert attachments["checkpoint.txt"][0].decode().splitlines()[0] in text


async def test_the_record_is_pdf_a_3_with_metadata_fonts_and_a_clean_qpdf_check(
    client: Client, world: World, tmp_path: Path
) -> None:
    await blocked_amended_passed_and_paid(client, world)
    pdf = await decision_record(client, world)
    qpdf_check(pdf, tmp_path)
    metadata = xmp(pdf)
    assert re.search(r'pdfaid:part(="|>)3', metadata)
    assert fonts_without_embedded_file(pdf) == []
    info = reader(pdf).metadata
    assert info is not None
    assert info.title == "Decision record of proposal 1 of Rent Fund"
    assert world.slug in info.get("/Keywords", "")
    assert "Rent Fund" in info.author


async def test_a_hostile_proposal_prints_as_harmless_text(
    client: Client, world: World, tmp_path: Path
) -> None:
    created = await client.post(
        proposals_url(world),
        headers=world.member.headers,
        json={
            "title": "<script>alert(1)</script> تبرع",
            "body": "<img src=x onerror=alert(1)>\n" + "x" * 400 + "\nbefore \u202eoverride after",
        },
    )
    assert created.status_code == 201, created.text
    await answer(client, world, world.admin, "block", "<b>No</b> — " + "y" * 300)
    pdf = await decision_record(client, world)
    text = without_bidi_marks(pdftotext(pdf, tmp_path, layout=False))
    assert "<script>alert(1)</script>" in text
    assert "<img src=x onerror=alert(1)>" in text
    assert "تبرع" in text
    assert "before \ufffdoverride after" in text
    assert "<b>No</b>" in text
    assert "No payment has been made under this proposal." in text
    assert "Open" in text
    qpdf_check(pdf, tmp_path)


async def test_the_text_prints_its_markdown_rendered_as_the_page_shows_it(
    client: Client, world: World, tmp_path: Path
) -> None:
    created = await client.post(
        proposals_url(world),
        headers=world.member.headers,
        json={
            "title": "Rent help",
            "body": "R-50 is **two months behind**.\n\n- first month\n- second month",
        },
    )
    assert created.status_code == 201, created.text
    pdf = await decision_record(client, world)
    text = pdftotext(pdf, tmp_path, layout=False)
    assert "two months behind" in text
    assert "**" not in text
    assert "- first month" not in text
    assert "first month" in text
    assert "second month" in text


async def test_an_unknown_proposal_is_404(client: Client, world: World) -> None:
    await record(client, world, {"kind": "donation", "fund": "groceries", "amount": "1.00"})
    assert (await client.get(f"/g/{world.slug}/proposals/1.pdf")).status_code == 404
    assert (await client.get(f"/g/{world.slug}/proposals/99.pdf")).status_code == 404
    assert (await client.get("/g/no-such-group/proposals/1.pdf")).status_code == 404


async def test_a_private_groups_record_is_404_to_non_members(
    client: Client, session: AsyncSession, tmp_path: Path
) -> None:
    world = await build_world(session, slug="quiet-fund", public=False)
    created = await client.post(
        proposals_url(world), headers=world.member.headers, json={"title": "Buy a freezer"}
    )
    assert created.status_code == 201, created.text
    url = f"/g/{world.slug}/proposals/1.pdf"
    assert (await client.get(url)).status_code == 404
    assert (await client.get(url, headers=world.outsider.headers)).status_code == 404
    response = await client.get(url, headers=world.member.headers)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "private, no-store"
    assert "Buy a freezer" in pdftotext(response.content, tmp_path)
