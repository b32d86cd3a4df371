"""Receipts: one entry with its inclusion proof, checkable from the PDF alone."""

from __future__ import annotations

import json
import re
from pathlib import Path

from ledger.canonical import leaf_hash_hex
from ledger.checkpoint import Verifier, verify_note
from ledger.merkle import verify_inclusion
from tests.pdf.ledger_data import Client, record, record_ledger
from tests.pdf.reading import (
    fonts_without_embedded_file,
    pdftotext,
    qpdf_check,
    reader,
    without_bidi_marks,
    xmp,
)
from tests.support.people import World


async def receipt(client: Client, world: World, seq: int) -> bytes:
    response = await client.get(f"/g/{world.slug}/entries/{seq}/receipt.pdf")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert f"{world.slug}-receipt-{seq}.pdf" in response.headers["content-disposition"]
    return response.content


async def test_a_receipts_inclusion_proof_verifies_against_the_signed_checkpoint(
    client: Client, world: World, tmp_path: Path
) -> None:
    await record_ledger(client, world)
    seq = 5  # the donation of 60.25 (entry 3 is the decision adopting a policy)
    pdf = await receipt(client, world, seq)
    attachments = reader(pdf).attachments
    leaf_name = f"{world.slug}-entry-{seq}.json"
    proof_name = f"{world.slug}-entry-{seq}-inclusion-proof.json"
    assert set(attachments) == {leaf_name, proof_name, "checkpoint.txt"}

    # Everything below comes out of the PDF, except the published key.
    leaf = attachments[leaf_name][0]
    proof = json.loads(attachments[proof_name][0])
    note = attachments["checkpoint.txt"][0]
    verifier = Verifier.from_vkey((await client.get("/.well-known/commonpurse-key")).text)
    checkpoint = verify_note(note, verifier)
    assert proof["tree_size"] == checkpoint.size == 13  # and the two policies adopted
    assert proof["leaf_index"] == seq - 1
    assert leaf_hash_hex(leaf) == proof["leaf_hash"]
    assert verify_inclusion(
        bytes.fromhex(proof["leaf_hash"]),
        proof["leaf_index"],
        proof["tree_size"],
        [bytes.fromhex(node) for node in proof["audit_path"]],
        checkpoint.root,
    )

    # The same proof is printed, and the printed entry is the attached one.
    entry = (await client.get(f"/api/groups/{world.slug}/entries/{seq}")).json()
    assert leaf_hash_hex(leaf) == entry["hash"]
    assert leaf == _export_line(
        (await client.get(f"/api/groups/{world.slug}/export.jsonl")).content, seq
    )
    text = pdftotext(pdf, tmp_path)
    printed_path = re.findall(r"^\s*\d+\.\s+([0-9a-f]{64})\s*$", text, re.MULTILINE)
    assert printed_path == proof["audit_path"]
    for value in (entry["hash"], checkpoint.root.hex(), "60.25 EUR", "Benefit gig"):
        assert value in text
    assert "Bakery on 5th" in text
    assert f"#{seq}" in text
    assert note.decode().splitlines()[0] in text


def _export_line(export: bytes, seq: int) -> bytes:
    for line in export.splitlines():
        if json.loads(line)["seq"] == str(seq):
            return line
    raise AssertionError(f"entry {seq} is not in the export")


async def test_a_receipt_is_pdf_a_3_and_passes_qpdf_check(
    client: Client, world: World, tmp_path: Path
) -> None:
    await record(
        client,
        world,
        {
            "kind": "donation",
            "fund": "rent-relief",
            "amount": "7.00",
            "memo": "<script>alert(1)</script> تبرع من الجيران",
            "counterparty": "R-5",
        },
    )
    pdf = await receipt(client, world, 1)
    qpdf_check(pdf, tmp_path)
    assert re.search(r'pdfaid:part(="|>)3', xmp(pdf))
    assert fonts_without_embedded_file(pdf) == []
    info = reader(pdf).metadata
    assert info is not None
    assert "Receipt for entry 1" in info.title
    text = without_bidi_marks(pdftotext(pdf, tmp_path))
    assert "<script>alert(1)</script>" in text
    assert "الجيران" in text
    # A log of one entry: the proof has no path, the leaf hash is the root.
    assert "None: the log held only this entry" in text


async def test_a_receipt_for_an_entry_that_does_not_exist_is_404(
    client: Client, world: World
) -> None:
    await record(client, world, {"kind": "donation", "fund": "groceries", "amount": "1.00"})
    response = await client.get(f"/g/{world.slug}/entries/2/receipt.pdf")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    response = await client.get("/g/no-such-group/entries/1/receipt.pdf")
    assert response.status_code == 404
