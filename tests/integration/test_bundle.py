"""Anyone can check a bundle offline, and every kind of tampering is named."""

from __future__ import annotations

import asyncio
import zipfile
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest
from click.testing import CliRunner
from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.cli import main
from ledger.bundle import verify_bundle
from ledger.checkpoint import SigningKey
from tests.conftest import World

Client = AsyncTestClient[Litestar]
ENTRIES = [
    {"kind": "donation", "fund": "rent-relief", "amount": "400.00", "memo": "Benefit gig"},
    {"kind": "donation", "fund": "groceries", "amount": "80.00", "counterparty": "Bakery"},
    {"kind": "disbursement", "fund": "rent-relief", "amount": "120.00", "counterparty": "R-17"},
    {"kind": "transfer", "from_fund": "rent-relief", "to_fund": "groceries", "amount": "30.00"},
    {"kind": "reversal", "reverses": 3, "memo": "Paid from the wrong fund"},
    {"kind": "disbursement", "fund": "groceries", "amount": "45.50", "counterparty": "R-02"},
]


@pytest.fixture
async def bundle(client: Client, world: World, tmp_path: Path) -> Path:
    for body in ENTRIES:
        response = await client.post(
            f"/api/groups/{world.slug}/entries", json=body, headers=world.steward.headers
        )
        assert response.status_code == 201, response.text
    exported = await client.get(f"/api/groups/{world.slug}/export.zip")
    assert exported.status_code == 200
    assert exported.headers["content-type"] == "application/zip"
    path = tmp_path / "bundle.zip"
    path.write_bytes(exported.content)
    return path


def rewrite(path: Path, change: Callable[[dict[str, bytes]], None]) -> Path:
    with zipfile.ZipFile(path) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    change(files)
    out = path.with_name("changed.zip")
    with zipfile.ZipFile(out, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return out


def edit_leaves(edit: Callable[[list[bytes]], list[bytes]]) -> Callable[[dict[str, bytes]], None]:
    def change(files: dict[str, bytes]) -> None:
        files["leaves.jsonl"] = b"".join(
            line + b"\n" for line in edit(files["leaves.jsonl"].splitlines())
        )

    return change


def flip_byte(lines: list[bytes]) -> list[bytes]:
    lines[3] = lines[3].replace(b"30.00", b"31.00").replace(b'"3000"', b'"3100"', 1)
    return lines


async def test_an_honest_bundle_verifies_with_the_published_key(
    client: Client, bundle: Path
) -> None:
    published = (await client.get("/.well-known/commonpurse-key")).text
    report = verify_bundle(bundle, published)
    assert report.ok, report.problem
    assert report.entries == len(ENTRIES)
    assert report.balances == {"rent-relief": 40000 - 3000, "groceries": 8000 + 3000 - 4550}
    with zipfile.ZipFile(bundle) as archive:
        assert {
            "leaves.jsonl",
            "checkpoints.jsonl",
            "key.vkey",
            "funds.json",
            "ledger.journal",
            "ledger.beancount",
            "README.txt",
        } <= set(archive.namelist())
        assert archive.read("key.vkey").decode().strip() == published.strip()
    result = await asyncio.to_thread(
        CliRunner().invoke, main, ["verify", "--bundle", str(bundle), "--key", published]
    )
    assert result.exit_code == 0, result.output
    assert "ok: 6 entries" in result.output


TAMPERING: dict[str, tuple[Callable[[dict[str, bytes]], None], int | None, str]] = {
    "one byte changed in a leaf": (edit_leaves(flip_byte), 4, "entry 4"),
    "a leaf removed": (edit_leaves(lambda lines: lines[:2] + lines[3:]), 3, "entry 3"),
    "two leaves swapped": (
        edit_leaves(lambda lines: [lines[0], lines[2], lines[1], *lines[3:]]),
        2,
        "entry 2",
    ),
    "the last leaf removed": (edit_leaves(lambda lines: lines[:-1]), 6, "removed"),
}


@pytest.mark.parametrize("tampering", TAMPERING, ids=list(TAMPERING))
def test_tampered_leaves_are_named(bundle: Path, tampering: str) -> None:
    change, first_bad, words = TAMPERING[tampering]
    report = verify_bundle(rewrite(bundle, change))
    assert not report.ok
    assert report.first_bad_seq == first_bad, report.problem
    assert words in report.summary()


def test_a_checkpoint_signed_by_another_key_is_refused(bundle: Path, tmp_path: Path) -> None:
    stranger = SigningKey.generate("stranger.example")

    def change(files: dict[str, bytes]) -> None:
        note = msgspec.json.decode(files["checkpoints.jsonl"].splitlines()[-1])["note"]
        body = note.split("\n\n", 1)[0] + "\n"
        files["checkpoints.jsonl"] = (
            msgspec.json.encode({"size": 6, "note": stranger.sign_note(body)}) + b"\n"
        )

    report = verify_bundle(rewrite(bundle, change))
    assert not report.ok
    assert "not signed by the instance's key" in (report.problem or "")


def test_a_bundle_whose_key_is_not_the_published_one_is_refused(bundle: Path) -> None:
    other = SigningKey.generate("testserver.local").vkey()
    report = verify_bundle(bundle, other)
    assert not report.ok
    assert "not the published key" in (report.problem or "")


def test_a_truncated_bundle_is_refused(bundle: Path) -> None:
    data = bundle.read_bytes()
    cut = bundle.with_name("cut.zip")
    cut.write_bytes(data[: len(data) // 2])
    report = verify_bundle(cut)
    assert not report.ok
    assert "damaged or truncated" in (report.problem or "")


def test_a_checkpoint_inconsistent_with_the_log_is_refused(bundle: Path, settings) -> None:  # type: ignore[no-untyped-def]
    key = SigningKey.load_or_create(settings.signing_key_file, "testserver.local")

    def change(files: dict[str, bytes]) -> None:
        latest = files["checkpoints.jsonl"]
        origin = msgspec.json.decode(latest.splitlines()[-1])["note"].split("\n", 1)[0]
        # Properly signed, but a different history: a root for size 3 the leaves don't give.
        forged = key.sign_checkpoint(origin, 3, b"\x07" * 32)
        files["checkpoints.jsonl"] = (
            msgspec.json.encode({"size": 3, "note": forged}) + b"\n" + latest
        )

    report = verify_bundle(rewrite(bundle, change))
    assert not report.ok
    assert report.first_bad_seq == 3
    assert "checkpoint of size 3" in (report.problem or "")
