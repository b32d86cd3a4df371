"""Receipts beyond the API: the members' forms, an auditor's check of files against a
bundle, the log's rules for attachment leaves, erasure with a person's data, and the audit
statement; on both engines."""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.cli import main
from app.settings import Settings
from ledger import attachments
from ledger import bundle as bundle_module
from ledger.bundle import verify_bundle
from ledger.canonical import LEAF_VERSION_ATTACHMENT, ZERO_HASH, canonical_json, leaf_hash_hex
from ledger.checkpoint import SigningKey
from ledger.merkle import root_from_leaf_hashes
from ledger.models import Attachment, Entry
from proposals import support
from tests.pdf.reading import pdftotext, qpdf_check, reader
from tests.support.clients import (
    browser,
    csrf_of,
    everyone_agrees,
    give_password,
    record_entry,
    text_of,
)
from tests.support.people import World, ask_for_support
from tests.support.receipts import attach, pdf_with_author, photo_with_gps, png_with_text

Client = AsyncTestClient[Litestar]
HTML = {"Accept": "text/html"}


async def donation(client: Client, world: World, amount: str = "50.00") -> int:
    entry = await record_entry(
        client, world, {"kind": "donation", "fund": "rent-relief", "amount": amount}
    )
    return int(entry["seq"])


async def receipt_of(client: Client, world: World, seq: int, content: bytes, **kw: Any) -> str:
    attached = await attach(client, world, seq, content, **kw)
    assert attached.status_code == 201, attached.text
    sha256: str = attached.json()["sha256"]
    return sha256


async def file_of(client: Client, world: World, seq: int, sha256: str) -> bytes:
    response = await client.get(
        f"/api/groups/{world.slug}/entries/{seq}/attachments/{sha256}",
        headers=world.member.headers,
    )
    assert response.status_code == 200, response.text
    return response.content


async def bundle_of(client: Client, world: World, tmp_path: Path) -> Path:
    exported = await client.get(f"/api/groups/{world.slug}/export.zip")
    assert exported.status_code == 200
    path = tmp_path / "bundle.zip"
    path.write_bytes(exported.content)
    return path


def cli_verify(*args: str) -> Any:
    return CliRunner().invoke(main, ["verify", *args], catch_exceptions=False)


# --- the members' forms ------------------------------------------------------------------


async def test_a_steward_records_a_payment_with_its_receipt_and_attaches_another_later(
    client: Client, world: World, settings: Settings, session: AsyncSession
) -> None:
    await give_password(session, world.steward, world.member)
    await donation(client, world, "100.00")
    await record_entry(  # a policy in force for the form's payment
        client,
        world,
        {"kind": "disbursement", "fund": "rent-relief", "amount": "1.00", "counterparty": "R-1"},
    )
    policy = (await client.get(f"/api/groups/{world.slug}/policies")).json()[0]["number"]
    async with browser(settings, world.steward) as steward:
        form = await steward.get(f"/m/{world.slug}/record/payment", headers=HTML)
        assert 'enctype="multipart/form-data"' in form.text
        assert 'type="file"' in form.text
        sent = await steward.post(
            f"/m/{world.slug}/record/payment",
            data={
                "_csrf_token": csrf_of(form.text),
                "policy": str(policy),
                "amount": "20.00",
                "counterparty": "R-17",
            },
            files={"receipt": ("till receipt of R-17.jpg", photo_with_gps(), "image/jpeg")},
            headers=HTML,
            follow_redirects=False,
        )
        assert sent.status_code == 303, sent.text
        seq = int(sent.headers["location"].rsplit("=", 1)[1])
        entry = (await client.get(f"/api/groups/{world.slug}/entries/{seq}")).json()
        assert entry["kind"] == "disbursement"
        assert [a["content_type"] for a in entry["attachments"]] == ["image/jpeg"]

        # A file that is no receipt sends the form back with the error; nothing is recorded.
        form = await steward.get(f"/m/{world.slug}/record/donation", headers=HTML)
        refused = await steward.post(
            f"/m/{world.slug}/record/donation",
            data={"_csrf_token": csrf_of(form.text), "fund": "rent-relief", "amount": "5.00"},
            files={"receipt": ("notes.txt", b"just words", "text/plain")},
            headers=HTML,
        )
        assert refused.status_code == 415
        assert "PDF, PNG, JPEG or WebP" in text_of(refused.text)
        listed = (await client.get(f"/api/groups/{world.slug}/entries")).json()["entries"]
        assert listed[0]["seq"] == seq

        # Later, from the entry's page of receipts.
        url = f"/m/{world.slug}/entries/{seq}/receipts"
        page = await steward.get(url, headers=HTML)
        assert page.status_code == 200
        assert "Attach the receipt" in page.text
        later = await steward.post(
            url,
            data={"_csrf_token": csrf_of(page.text)},
            files={"receipt": ("bank.pdf", pdf_with_author(), "application/pdf")},
            headers=HTML,
            follow_redirects=False,
        )
        assert later.status_code == 303, later.text
        assert later.headers["location"] == f"{url}?attached=1"
        shown = text_of((await steward.get(later.headers["location"], headers=HTML)).text)
        assert "The receipt is attached" in shown
        assert "Receipt attached: JPEG image" in shown
        assert "Receipt attached: PDF" in shown
        empty = await steward.post(url, data={"_csrf_token": csrf_of(page.text)}, headers=HTML)
        assert empty.status_code == 422
    async with browser(settings, world.member) as member:
        page = await member.get(f"/m/{world.slug}/entries/{seq}/receipts", headers=HTML)
        assert page.status_code == 200
        assert "Attach the receipt" not in page.text
        assert "/attachments/" in page.text  # members may open the files
        refused = await member.post(
            f"/m/{world.slug}/entries/{seq}/receipts",
            data={"_csrf_token": csrf_of(page.text)},
            headers=HTML,
        )
        assert refused.status_code == 403
    report = (await client.get(f"/api/groups/{world.slug}/verify")).json()
    assert report["ok"], report


# --- an auditor's check of files against a bundle ------------------------------------------


async def test_verify_with_attachments_names_missing_and_tampered_files(
    client: Client, world: World, tmp_path: Path
) -> None:
    first, second = await donation(client, world), await donation(client, world, "9.00")
    photo = await receipt_of(client, world, first, photo_with_gps())
    png = await receipt_of(client, world, second, png_with_text(), content_type="image/png")
    pdf = await receipt_of(client, world, second, pdf_with_author())
    bundle = await bundle_of(client, world, tmp_path)
    assert verify_bundle(bundle).ok
    folder = tmp_path / "handed"
    folder.mkdir()
    for seq, sha256, extension in (
        (first, photo, "jpeg"),
        (second, png, "png"),
        (second, pdf, "pdf"),
    ):
        (folder / f"{sha256}.{extension}").write_bytes(await file_of(client, world, seq, sha256))

    good = cli_verify("--bundle", str(bundle), "--attachments", str(folder))
    assert good.exit_code == 0, good.output
    assert "ok: 3 file(s) match" in good.output

    (folder / f"{pdf}.pdf").unlink()
    tampered = folder / f"{png}.png"
    tampered.write_bytes(tampered.read_bytes() + b"\0")
    (folder / "unrelated.jpeg").write_bytes(photo_with_gps((1, 2, 3)))
    broken = cli_verify("--bundle", str(bundle), "--attachments", str(folder))
    assert broken.exit_code == 1
    assert f"missing: the receipt {pdf} of entry {second}" in broken.output
    assert f"does not match: {png}.png: named as the receipt {png}" in broken.output
    assert "does not match: unrelated.jpeg" in broken.output
    assert f"matches: {photo}.jpeg" in broken.output
    no_bundle = cli_verify(world.slug, "--attachments", str(folder))
    assert no_bundle.exit_code != 0


# --- the log's rules for attachment leaves -------------------------------------------------


def resealed(path: Path, key: SigningKey, edit: Callable[[list[dict[str, Any]]], None]) -> Path:
    """The bundle with its leaves edited, re-chained and re-signed by the instance's key:
    what a dishonest instance could publish; only the log's rules catch it."""
    with zipfile.ZipFile(path) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    documents = [json.loads(line) for line in files["leaves.jsonl"].splitlines()]
    edit(documents)
    prev, leaves, hashes = ZERO_HASH, [], []
    for document in documents:
        document["prev"] = prev
        leaf = canonical_json(document)
        prev = leaf_hash_hex(leaf)
        leaves.append(leaf + b"\n")
        hashes.append(bytes.fromhex(prev))
    files["leaves.jsonl"] = b"".join(leaves)
    notes = []
    for line in files["checkpoints.jsonl"].splitlines():
        size = json.loads(line)["size"]
        origin = json.loads(line)["note"].split("\n", 1)[0]
        note = key.sign_checkpoint(origin, size, root_from_leaf_hashes(hashes[:size]))
        notes.append(json.dumps({"size": size, "note": note}).encode() + b"\n")
    files["checkpoints.jsonl"] = b"".join(notes)
    out = path.with_name("resealed.zip")
    with zipfile.ZipFile(out, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return out


def attachment_leaf(documents: list[dict[str, Any]]) -> dict[str, Any]:
    return next(d for d in documents if d["kind"] == "attachment")


def naming(entry: str) -> Callable[[list[dict[str, Any]]], None]:
    def edit(documents: list[dict[str, Any]]) -> None:
        attachment_leaf(documents)["attachment"]["entry"] = entry

    return edit


def with_money(documents: list[dict[str, Any]]) -> None:
    attachment_leaf(documents)["memo"] = "paid in cash"


def as_first_version(documents: list[dict[str, Any]]) -> None:
    attachment_leaf(documents)["v"] = "1"


def with_a_file_type(kind: str) -> Callable[[list[dict[str, Any]]], None]:
    def edit(documents: list[dict[str, Any]]) -> None:
        attachment_leaf(documents)["attachment"]["type"] = kind

    return edit


def money_entry_with_a_file(documents: list[dict[str, Any]]) -> None:
    donation = next(d for d in documents if d["kind"] == "donation")
    donation["v"] = "3"
    donation["attachment"] = dict(attachment_leaf(documents)["attachment"])


BROKEN = {
    "a file attached to a later entry": (naming("9"), "not an earlier entry"),
    "a file attached to itself": (naming("3"), "not an earlier entry"),
    "a file attached to another file's leaf": (naming("3"), "not an earlier entry"),
    "a file attached to entry zero": (naming("0"), "not an earlier entry"),
    "a file attached to no entry number": (naming("one"), "not an entry number"),
    "a file's leaf holding a memo": (with_money, "parts of a money entry"),
    "a file's leaf of the first version": (as_first_version, "version"),
    "a file of a type receipts cannot be": (with_a_file_type("text/html"), "file type"),
    "a money entry carrying a file": (money_entry_with_a_file, "mixes an attached file"),
}


async def test_the_bundle_verifier_names_a_broken_attachment_leaf(
    client: Client, world: World, tmp_path: Path, settings: Settings
) -> None:
    first = await donation(client, world)
    await receipt_of(client, world, first, photo_with_gps())  # leaf 2
    await receipt_of(client, world, first, png_with_text(), content_type="image/png")  # leaf 3
    await donation(client, world, "3.00")  # leaf 4
    bundle = await bundle_of(client, world, tmp_path)
    report = verify_bundle(bundle)
    assert report.ok, report.problem
    assert report.entries == 4
    key = SigningKey.load_or_create(settings.signing_key_file, "testserver.local")
    assert verify_bundle(resealed(bundle, key, lambda documents: None)).ok
    for name, (edit, words) in BROKEN.items():
        if name == "a file attached to another file's leaf":
            edit = naming("2")
        report = verify_bundle(resealed(bundle, key, edit))
        assert not report.ok, name
        assert words in (report.problem or ""), (name, report.problem)


async def test_the_database_verifier_names_an_attachment_row_that_differs_from_its_leaf(
    client: Client, world: World, session: AsyncSession, settings: Settings
) -> None:
    seq = await donation(client, world)
    await receipt_of(client, world, seq, photo_with_gps())
    await donation(client, world, "2.00")
    assert (await client.get(f"/api/groups/{world.slug}/verify")).json()["ok"]
    trigger = "attachments_refuse_update" if settings.is_sqlite else "attachments_refuse_change"
    drop = (
        f"DROP TRIGGER {trigger}"
        if settings.is_sqlite
        else f"DROP TRIGGER {trigger} ON attachments"
    )
    await session.execute(text(drop))
    await session.execute(update(Attachment).values(sha256="b" * 64))
    await session.commit()
    report = (await client.get(f"/api/groups/{world.slug}/verify")).json()
    assert not report["ok"]
    assert report["first_bad_seq"] == seq + 1
    assert "differs from the leaf" in report["problem"]


async def test_attachments_are_append_only_in_the_database(
    client: Client, world: World, session: AsyncSession
) -> None:
    seq = await donation(client, world)
    await receipt_of(client, world, seq, photo_with_gps())
    with pytest.raises(Exception, match="append-only"):
        await session.execute(update(Attachment).values(size=1))
    await session.rollback()
    with pytest.raises(Exception, match="append-only"):
        await session.execute(text("DELETE FROM attachments"))
    await session.rollback()


async def test_logs_written_before_receipts_still_verify_and_grow_with_them(
    client: Client, world: World, tmp_path: Path
) -> None:
    await donation(client, world)
    paid = await record_entry(
        client,
        world,
        {"kind": "disbursement", "fund": "rent-relief", "amount": "5.00", "counterparty": "R-3"},
    )
    before = await bundle_of(client, world, tmp_path)
    leaves = zipfile.ZipFile(before).read("leaves.jsonl").splitlines()
    versions = {json.loads(line)["v"] for line in leaves}
    assert LEAF_VERSION_ATTACHMENT not in versions  # a log written without receipts
    assert verify_bundle(before).ok
    await receipt_of(client, world, paid["seq"], pdf_with_author())
    after = await bundle_of(client, world, tmp_path)
    report = verify_bundle(after)
    assert report.ok, report.problem
    assert report.entries == len(leaves) + 1
    # The exports' own checks see the money only (tests/integration/test_plaintext_exports).
    exported = json.loads((await client.get(f"/api/groups/{world.slug}/export.json")).content)
    money = [e for e in exported["entries"] if e["kind"] != "decision"]
    assert [e["seq"] for e in money] == [1, paid["seq"]]
    assert [a["entry"] for a in money[1]["attachments"]] == [paid["seq"]]
    csv = (await client.get(f"/api/groups/{world.slug}/export.csv")).text
    assert "attachment" not in csv
    journal = (await client.get(f"/api/groups/{world.slug}/export.journal")).text
    assert "kind:attachment" not in journal


# --- erasure with the person's data -------------------------------------------------------


async def test_erasing_a_persons_data_erases_their_receipts_files_and_keeps_the_hashes(
    client: Client, world: World, session: AsyncSession, settings: Settings
) -> None:
    await donation(client, world, "300.00")
    asked = await ask_for_support(session, world)
    proposal = await support.propose(
        session,
        world.group,
        asked,
        world.steward.user,
        title="Help with rent",
        summary="A month of rent.",
        fund="rent-relief",
        amount="120.00",
    )
    await session.commit()
    await everyone_agrees(client, world, proposal.number)
    paid = await record_entry(
        client,
        world,
        {
            "kind": "disbursement",
            "fund": "rent-relief",
            "amount": "120.00",
            "counterparty": asked.pseudonym,
            "proposal": proposal.number,
        },
    )
    photo = await receipt_of(client, world, paid["seq"], photo_with_gps())
    other = await donation(client, world, "4.00")
    kept = await receipt_of(client, world, other, png_with_text(), content_type="image/png")
    store = settings.attachments_dir
    assert (store / photo[:2] / photo).exists()

    erased = await client.delete(
        f"/api/groups/{world.slug}/requests/{asked.id}/personal-data",
        headers=world.facilitator.headers,
    )
    assert erased.status_code in (200, 204), erased.text

    assert not (store / photo[:2] / photo).exists()
    assert (store / kept[:2] / kept).exists()
    url = f"/api/groups/{world.slug}/entries/{paid['seq']}/attachments"
    gone = await client.get(f"{url}/{photo}", headers=world.member.headers)
    assert gone.status_code == 410
    assert "erased on" in gone.json()["detail"]
    listed = (await client.get(url)).json()
    assert [(a["sha256"], a["erased_on"] is not None) for a in listed] == [(photo, True)]
    page = text_of((await client.get(f"/g/{world.slug}/ledger")).text)
    assert f"SHA-256 {photo} · erased on" in page
    # The leaf and its hash stay: the log verifies as before.
    report = (await client.get(f"/api/groups/{world.slug}/verify")).json()
    assert report["ok"], report
    rows = await session.scalars(select(Entry.kind).where(Entry.group_id == world.group.id))
    assert list(rows).count("attachment") == 2


# --- the audit statement -------------------------------------------------------------------


async def test_the_audit_statement_lists_each_entrys_receipts(
    client: Client, world: World, tmp_path: Path
) -> None:
    seq = await donation(client, world)
    photo = await receipt_of(client, world, seq, photo_with_gps())
    pdf = await receipt_of(client, world, seq, pdf_with_author())
    response = await client.get(f"/g/{world.slug}/audit.pdf")
    assert response.status_code == 200, response.text
    printed = " ".join(pdftotext(response.content, tmp_path, layout=False).split())
    assert "Receipts" in printed
    for sha256 in (photo, pdf):
        assert sha256 in printed.replace(" ", "") or sha256[:32] in printed
    assert "JPEG image" in printed
    assert "PDF" in printed
    assert hashlib.sha256(b"").hexdigest() not in printed


async def test_the_members_audit_statement_carries_the_receipts_files_and_the_publics_does_not(
    client: Client, world: World, tmp_path: Path
) -> None:
    seq = await donation(client, world)
    photo = await receipt_of(client, world, seq, photo_with_gps())
    pdf = await receipt_of(client, world, seq, pdf_with_author())
    other = await donation(client, world, "3.00")
    png = await receipt_of(client, world, other, png_with_text(), content_type="image/png")
    leaves = f"{world.slug}-leaves-"

    for_members = await client.get(f"/g/{world.slug}/audit.pdf", headers=world.member.headers)

    assert for_members.status_code == 200, for_members.text
    assert for_members.headers["cache-control"] == "private, no-store"
    attached = reader(for_members.content).attachments
    receipts = {name: files for name, files in attached.items() if not name.startswith(leaves)}
    receipts.pop("checkpoint.txt", None)
    assert set(receipts) == {
        f"receipt-{seq}-{photo}.jpg",
        f"receipt-{seq}-{pdf}.pdf",
        f"receipt-{other}-{png}.png",
    }
    for entry, sha256 in [(seq, photo), (seq, pdf), (other, png)]:
        (content,) = next(files for name, files in receipts.items() if sha256 in name)
        # The very bytes the group keeps (cleaned), as the log names them.
        assert hashlib.sha256(content).hexdigest() == sha256
        assert content == await file_of(client, world, entry, sha256)
    printed = " ".join(pdftotext(for_members.content, tmp_path, layout=False).split())
    assert "The files themselves are attached to this PDF (3)" in printed
    qpdf_check(for_members.content, tmp_path)  # still a sound PDF with its files inside

    # The public reads the hashes only, unless the group publishes its receipts.
    public = await client.get(f"/g/{world.slug}/audit.pdf")
    public_files = set(reader(public.content).attachments)
    assert not any(name.startswith("receipt-") for name in public_files)
    published = await client.put(
        f"/api/groups/{world.slug}/receipt-settings",
        json={"published": True},
        headers=world.admin.headers,
    )
    assert published.status_code == 200, published.text
    public = await client.get(f"/g/{world.slug}/audit.pdf")
    assert f"receipt-{other}-{png}.png" in reader(public.content).attachments
    assert public.headers["cache-control"] == "no-cache"


async def test_an_erased_receipt_is_listed_in_the_members_statement_but_not_attached(
    client: Client, world: World, session: AsyncSession
) -> None:
    seq = await donation(client, world)
    photo = await receipt_of(client, world, seq, photo_with_gps())
    await attachments.erase_hashes(session, [photo])
    await session.commit()

    pdf = await client.get(f"/g/{world.slug}/audit.pdf", headers=world.member.headers)

    assert pdf.status_code == 200, pdf.text
    assert not any(name.startswith("receipt-") for name in reader(pdf.content).attachments)


async def test_verify_bundle_checks_a_batch_holding_receipt_leaves_leaf_by_leaf_in_two_processes(
    client: Client, world: World, tmp_path: Path, settings: Settings, monkeypatch: Any
) -> None:
    """A batch with a receipt's leaf is not one the fast path decides: it is checked leaf by
    leaf, in one process and in two (large bundles), and the two-process check does not give
    up on it (the one-process check, which names problems, is not needed for an honest one)."""
    first = await donation(client, world)
    await receipt_of(client, world, first, photo_with_gps())
    second = await donation(client, world, "7.00")
    await receipt_of(client, world, second, png_with_text(), content_type="image/png")
    await donation(client, world, "3.00")
    bundle = await bundle_of(client, world, tmp_path)
    one_by_one = bundle_module._Replay.check
    checked: list[int] = []

    def check(replay: Any, block: bytes) -> None:
        checked.append(replay.seq)
        one_by_one(replay, block)

    monkeypatch.setattr(bundle_module._Replay, "check", check)
    for two_processes in (False, True):
        checked.clear()
        report = verify_bundle(bundle, two_processes=two_processes)
        assert report.ok, (two_processes, report.problem)
        assert report.entries == 5
        assert checked == ([] if two_processes else [0])
    # The command line, as a large bundle gets it on a machine of two cores.
    monkeypatch.setattr(bundle_module, "uses_two_processes", lambda leaf_bytes: True)
    checked.clear()
    verified = cli_verify("--bundle", str(bundle))
    assert verified.exit_code == 0, verified.output
    assert checked == []
    # A broken receipt leaf is named the same way in both.
    key = SigningKey.load_or_create(settings.signing_key_file, "testserver.local")
    broken = resealed(bundle, key, naming("9"))
    reports = [verify_bundle(broken, two_processes=two) for two in (False, True)]
    assert [(r.ok, r.first_bad_seq, r.problem) for r in reports] == [
        (False, 2, reports[0].problem)
    ] * 2
    assert "not an earlier entry" in (reports[0].problem or "")
