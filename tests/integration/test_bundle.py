"""Anyone can check a bundle offline, and every kind of tampering is named."""

from __future__ import annotations

import asyncio
import json
import os
import zipfile
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from click.testing import CliRunner
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.asgi import create_app
from app.cli import main
from app.db import create_engine, create_session_maker
from app.settings import Settings
from ledger import bundle as bundle_module
from ledger import service
from ledger.bundle import verify_bundle
from ledger.canonical import ZERO_HASH, canonical_json, leaf_hash_hex
from ledger.checkpoint import SigningKey
from ledger.merkle import root_from_leaf_hashes
from ledger.models import Checkpoint, Entry
from ledger.schemas import DisbursementIn, DonationIn, EntryIn, FundIn, ReversalIn, TransferIn
from proposals.service import authorise_payment
from tests.pdf.ledger_data import cents, record
from tests.support.clients import standing_policy
from tests.support.databases import fresh_database
from tests.support.people import World, adopt_policies, build_world

Client = AsyncTestClient[Litestar]
# The bundle's log opens with the decisions adopting a spending policy for each fund (the
# payments below are made under them): entries 1 and 2; ENTRIES follow from entry 3.
DECIDED = 2
ENTRIES = [
    {"kind": "donation", "fund": "rent-relief", "amount": "400.00", "memo": "Benefit gig"},
    {"kind": "donation", "fund": "groceries", "amount": "80.00", "counterparty": "Bakery"},
    {"kind": "disbursement", "fund": "rent-relief", "amount": "120.00", "counterparty": "R-17"},
    {"kind": "transfer", "from_fund": "rent-relief", "to_fund": "groceries", "amount": "30.00"},
    {"kind": "reversal", "reverses": 5, "memo": "Paid from the wrong fund"},
    {"kind": "disbursement", "fund": "groceries", "amount": "45.50", "counterparty": "R-02"},
]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """The check of a bundle reads no database: its two ways are compared on SQLite, and
    PostgreSQL builds bundles for the one-process check (each engine writes the rows)."""
    if "processes" in _explicit(metafunc):  # tests of the two processes themselves
        if "db_url" in metafunc.fixturenames:
            metafunc.parametrize("db_url", ["sqlite"], indirect=True)
        return
    if "db_url" in metafunc.fixturenames:
        metafunc.parametrize(
            ("db_url", "processes"),
            [("sqlite", "one process"), ("sqlite", "two processes"), ("postgres", "one process")],
            indirect=True,
            ids=["sqlite-one process", "sqlite-two processes", "postgres-one process"],
        )
    else:
        metafunc.parametrize("processes", ["one process", "two processes"], indirect=True)


def _explicit(metafunc: pytest.Metafunc) -> set[str]:
    return {
        name
        for mark in metafunc.definition.iter_markers("parametrize")
        for name in ([mark.args[0]] if isinstance(mark.args[0], str) else mark.args[0])
    }


@pytest.fixture
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """conftest's fresh database, for the engines ``pytest_generate_tests`` pairs."""
    with fresh_database(request, request.param, tmp_path) as url:
        yield url


@dataclass(frozen=True)
class Exported:
    """A group's bundle as exported, the key that signed it and the balances the database
    held then."""

    path: Path
    key_file: Path
    published_key: str
    balances: dict[str, int]


Writer = Callable[[Client, World, AsyncSession], Awaitable[None]]


@dataclass
class Exports:
    """Each engine writes each ledger once for this module (the generated one takes
    seconds); the tests read the bundles and write their changed copies beside them."""

    directory: Path
    made: dict[tuple[str, str], Exported] = field(default_factory=dict)

    def get(
        self, request: pytest.FixtureRequest, db_url: str, ledger: str, write: Writer
    ) -> Exported:
        key = (ledger, db_url.split(":", 1)[0])
        if key not in self.made:
            settings: Settings = request.getfixturevalue("settings")
            directory = self.directory / f"{key[0].replace(' ', '-')}-{key[1]}"
            directory.mkdir()
            self.made[key] = asyncio.run(_export(settings, write, directory))
        return self.made[key]


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> Exports:
    return Exports(tmp_path_factory.mktemp("exports"))


async def _export(settings: Settings, write: Writer, directory: Path) -> Exported:
    """A fresh app on the test's fresh database: a world, ``write``, then the export."""
    app = create_app(settings)
    engine = create_engine(settings)
    try:
        async with (
            AsyncTestClient(app=app, base_url="http://testserver.local") as client,
            create_session_maker(engine)() as session,
        ):
            world = await build_world(session)
            await write(client, world, session)
            exported = await client.get(f"/api/groups/{world.slug}/export.zip")
            assert exported.status_code == 200
            assert exported.headers["content-type"] == "application/zip"
            funds = (await client.get(f"/api/groups/{world.slug}/funds")).json()
            published = (await client.get("/.well-known/commonpurse-key")).text
    finally:
        await engine.dispose()
    path = directory / "bundle.zip"
    path.write_bytes(exported.content)
    key_file = directory / "signing-key.pem"
    key_file.write_bytes(settings.signing_key_file.read_bytes())
    balances = {fund["slug"]: cents(fund["balance"]) for fund in funds}
    return Exported(path, key_file, published, balances)


@pytest.fixture(autouse=True)
def processes(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every check of this module runs with the leaves checked in one process and in two
    (which large bundles get on a machine of two cores): the reports must be the same."""
    two: bool = request.param == "two processes"
    monkeypatch.setattr(bundle_module, "uses_two_processes", lambda leaf_bytes: two)
    return str(request.param)


@pytest.fixture
def bundle(request: pytest.FixtureRequest, db_url: str, exports: Exports) -> Exported:
    """A bundle of the six ENTRIES, recorded through the API under standing policies."""
    return exports.get(request, db_url, "six entries", _record_entries)


async def _record_entries(client: Client, world: World, session: AsyncSession) -> None:
    for fund in ("rent-relief", "groceries"):
        await standing_policy(client, world, fund)
    for body in ENTRIES:
        await record(client, world, body)


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
    lines[5] = lines[5].replace(b"30.00", b"31.00").replace(b'"3000"', b'"3100"', 1)
    return lines


async def test_an_honest_bundle_verifies_with_the_published_key(bundle: Exported) -> None:
    published = bundle.published_key
    report = verify_bundle(bundle.path, published)
    assert report.ok, report.problem
    assert report.entries == DECIDED + len(ENTRIES)
    assert report.unlogged_payments == 0  # each payment names its decision
    assert report.balances == {"rent-relief": 40000 - 3000, "groceries": 8000 + 3000 - 4550}
    with zipfile.ZipFile(bundle.path) as archive:
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
        CliRunner().invoke, main, ["verify", "--bundle", str(bundle.path), "--key", published]
    )
    assert result.exit_code == 0, result.output
    assert "ok: 8 entries" in result.output


TAMPERING: dict[str, tuple[Callable[[dict[str, bytes]], None], int | None, str]] = {
    "one byte changed in a leaf": (edit_leaves(flip_byte), 6, "entry 6"),
    "a leaf holding bytes that are not UTF-8": (
        edit_leaves(
            lambda lines: [
                *lines[:6],
                lines[6].replace(b'"memo":"', b'"memo":"\xed\xa0\x80'),
                *lines[7:],
            ]
        ),
        7,
        "entry 7 is not a canonical leaf (not UTF-8",
    ),
    "a leaf removed": (edit_leaves(lambda lines: lines[:2] + lines[3:]), 3, "entry 3"),
    "two leaves swapped": (
        edit_leaves(lambda lines: [lines[0], lines[2], lines[1], *lines[3:]]),
        2,
        "entry 2",
    ),
    "the last leaf removed": (edit_leaves(lambda lines: lines[:-1]), 8, "removed"),
}


@pytest.mark.parametrize("tampering", TAMPERING, ids=list(TAMPERING))
def test_tampered_leaves_are_named(bundle: Exported, tampering: str) -> None:
    change, first_bad, words = TAMPERING[tampering]
    report = verify_bundle(rewrite(bundle.path, change))
    assert not report.ok
    assert report.first_bad_seq == first_bad, report.problem
    assert words in report.summary()


def test_a_checkpoint_signed_by_another_key_is_refused(bundle: Exported) -> None:
    stranger = SigningKey.generate("stranger.example")

    def change(files: dict[str, bytes]) -> None:
        note = msgspec.json.decode(files["checkpoints.jsonl"].splitlines()[-1])["note"]
        body = note.split("\n\n", 1)[0] + "\n"
        files["checkpoints.jsonl"] = (
            msgspec.json.encode({"size": 6, "note": stranger.sign_note(body)}) + b"\n"
        )

    report = verify_bundle(rewrite(bundle.path, change))
    assert not report.ok
    assert "not signed by the instance's key" in (report.problem or "")


def test_a_bundle_whose_key_is_not_the_published_one_is_refused(bundle: Exported) -> None:
    other = SigningKey.generate("testserver.local").vkey()
    report = verify_bundle(bundle.path, other)
    assert not report.ok
    assert "not the published key" in (report.problem or "")


def test_a_truncated_bundle_is_refused(bundle: Exported) -> None:
    data = bundle.path.read_bytes()
    cut = bundle.path.with_name("cut.zip")
    cut.write_bytes(data[: len(data) // 2])
    report = verify_bundle(cut)
    assert not report.ok
    assert "damaged or truncated" in (report.problem or "")


def test_a_checkpoint_inconsistent_with_the_log_is_refused(bundle: Exported) -> None:
    key = SigningKey.load_or_create(bundle.key_file, "testserver.local")

    def change(files: dict[str, bytes]) -> None:
        latest = files["checkpoints.jsonl"]
        origin = msgspec.json.decode(latest.splitlines()[-1])["note"].split("\n", 1)[0]
        # Properly signed, but a different history: a root for size 3 the leaves don't give.
        forged = key.sign_checkpoint(origin, 3, b"\x07" * 32)
        files["checkpoints.jsonl"] = (
            msgspec.json.encode({"size": 3, "note": forged}) + b"\n" + latest
        )

    report = verify_bundle(rewrite(bundle.path, change))
    assert not report.ok
    assert report.first_bad_seq == 3
    assert "checkpoint of size 3" in (report.problem or "")


# --- a generated ledger: hundreds of entries, reversals, transfers, checkpoints in between --

GENERATED = 600
# Signed checkpoints besides the final one, each the last of its day, so the bundle holds them
# all: sizes at and around powers of two, some in the middle of a batch of leaves.
CHECKPOINT_SIZES = (1, 2, 3, 63, 64, 65, 255, 256, 257, 511)
SMALL_BATCH = 16_384  # bytes: some 35 leaves, so reversals name entries of earlier batches
FUNDS = ("rent-relief", "groceries", "utilities")


def history(count: int) -> Iterator[EntryIn | int]:
    """A mixed history that the rules accept: donations, payments, transfers and, every
    seventh entry, the reversal of a payment made a dozen or so entries before (an int:
    the caller knows which entry that was). Payments never outrun the donations."""
    for i in range(count):
        fund = FUNDS[i % len(FUNDS)]
        if i < len(FUNDS):  # every fund starts with money
            yield DonationIn(fund=fund, amount="100.00", memo="Opening appeal")
            continue
        match i % 7:
            case 0 | 3:
                yield DonationIn(fund=fund, amount=f"{40 + i % 13}.{i % 100:02}", memo=f"Gift {i}")
            case 1 | 4:
                yield DisbursementIn(fund=fund, amount=f"{i % 9 + 1}.50", counterparty=f"R-{i}")
            case 2 | 5:
                other = FUNDS[(i + 1) % len(FUNDS)]
                yield TransferIn(from_fund=fund, to_fund=other, amount="1.25")
            case _:
                yield i


@pytest.fixture
def generated(request: pytest.FixtureRequest, db_url: str, exports: Exports) -> Exported:
    return exports.get(request, db_url, "generated", _generate)


async def _generate(client: Client, world: World, session: AsyncSession) -> None:
    app = client.app
    group = world.group
    await service.create_fund(session, group, FundIn(slug="utilities", name="Utilities"))
    # Payments under policies write leaves of the second version among the first's.
    policy_of = await adopt_policies(session, group, FUNDS)
    payments: list[int] = []
    for step in history(GENERATED):
        if isinstance(step, int):  # the reversal of an earlier payment, never of a recent one
            step = ReversalIn(reverses=payments.pop(len(payments) // 2), memo="Paid twice")
        if isinstance(step, DisbursementIn):
            step = msgspec.structs.replace(step, policy=policy_of[step.fund])
        entry = await service.record_entry(
            session, group, step, recorded_by=None, authority=authorise_payment
        )
        if entry.kind == "disbursement":
            payments.append(entry.seq)
    await session.commit()
    notary = app.state.notary
    group = await world.fresh_group(session)
    hashes = [
        bytes.fromhex(value)
        for value in await session.scalars(
            select(Entry.hash).where(Entry.group_id == group.id).order_by(Entry.seq)
        )
    ]
    first_day = datetime(2024, 1, 1, 12, tzinfo=UTC)
    # The checkpoints of past days, and the latest (of the whole log).
    for day, size in enumerate((*CHECKPOINT_SIZES, len(hashes))):
        root = root_from_leaf_hashes(hashes[:size])
        session.add(
            Checkpoint(
                group_id=group.id,
                size=size,
                root_hash=root.hex(),
                note=notary.sign(world.slug, size, root),
                signed_at=first_day + timedelta(days=day),
            )
        )
    await session.commit()


def summary(report: bundle_module.BundleReport) -> tuple[object, ...]:
    return (report.ok, report.entries, report.checkpoints, report.problem, report.balances)


def test_a_generated_ledger_verifies_whatever_the_batch_size(
    generated: Exported, monkeypatch: pytest.MonkeyPatch
) -> None:
    published = generated.published_key
    report = verify_bundle(generated.path, published)
    assert report.ok, report.problem
    assert report.entries == GENERATED + len(FUNDS)  # and the policies adopted
    assert report.checkpoints == len(CHECKPOINT_SIZES) + 1
    assert report.balances == {
        fund: balance for fund, balance in generated.balances.items() if fund in report.balances
    }
    assert set(report.balances) == {"rent-relief", "groceries", "utilities"}
    with zipfile.ZipFile(generated.path) as archive:
        kinds = {json.loads(line)["kind"] for line in archive.read("leaves.jsonl").splitlines()}
    assert kinds == {"decision", "donation", "disbursement", "transfer", "reversal"}

    # Batches of a few leaves; reads shorter than a leaf.
    for batch in (SMALL_BATCH, 100):
        monkeypatch.setattr(bundle_module, "BATCH_BYTES", batch)
        assert summary(verify_bundle(generated.path, published)) == summary(report)
    # Entry by entry (the rules as ``_entry`` states them) agrees with the batch checks.
    monkeypatch.setattr(bundle_module._Replay, "_batch_holds", lambda *_: False)
    assert summary(verify_bundle(generated.path, published)) == summary(report)


Documents = list[dict[str, Any]]


def reseal(
    path: Path, key: SigningKey, edit: Callable[[Documents], int | None]
) -> tuple[Path, int | None]:
    """The bundle with its leaves edited, then re-chained and every checkpoint re-signed by
    the instance's own key: what a dishonest instance could publish. Only the ledger's rules
    can catch what such an edit breaks."""
    with zipfile.ZipFile(path) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    documents = [json.loads(line) for line in files["leaves.jsonl"].splitlines()]
    edited = edit(documents)
    prev, leaves, hashes = ZERO_HASH, [], []
    for document in documents:
        document["prev"] = prev
        leaf = canonical_json(document, nulls=True)
        prev = leaf_hash_hex(leaf)
        leaves.append(leaf + b"\n")
        hashes.append(bytes.fromhex(prev))
    files["leaves.jsonl"] = b"".join(leaves)
    notes = []
    for line in files["checkpoints.jsonl"].splitlines():
        checkpoint = msgspec.json.decode(line)
        size, origin = checkpoint["size"], checkpoint["note"].split("\n", 1)[0]
        note = key.sign_checkpoint(origin, size, root_from_leaf_hashes(hashes[:size]))
        notes.append(msgspec.json.encode({"size": size, "note": note}) + b"\n")
    files["checkpoints.jsonl"] = b"".join(notes)
    out = path.with_name("resealed.zip")
    with zipfile.ZipFile(out, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return out, edited


MIDDLE = 300  # edits land in the middle of the log, in the middle of a batch


def first(documents: Documents, kind: str, after: int = MIDDLE) -> dict[str, Any]:
    return next(d for d in documents[after:] if d["kind"] == kind)


def unbalance(documents: Documents) -> int:
    entry = first(documents, "donation")
    entry["postings"][0]["amount"] = str(int(entry["postings"][0]["amount"]) + 1)
    return int(entry["seq"])


def overdraw(documents: Documents) -> int:
    entry = first(documents, "disbursement")
    for posting in entry["postings"]:
        posting["amount"] = "1000000000000" if int(posting["amount"]) > 0 else "-1000000000000"
    return int(entry["seq"])


def reverse_twice(documents: Documents) -> int:
    reversal = first(documents, "reversal")
    entry = first(documents, "donation", after=int(reversal["seq"]))
    for name in ("counterparty", "proposal"):
        entry.pop(name, None)
    entry.update(
        kind="reversal",
        memo=reversal["memo"],
        postings=reversal["postings"],
        reverses=reversal["reverses"],
    )
    return int(entry["seq"])


def misreverse(documents: Documents) -> int:
    reversal = first(documents, "reversal")
    for posting in reversal["postings"]:
        amount = int(posting["amount"])
        posting["amount"] = str(amount + 1 if amount > 0 else amount - 1)
    return int(reversal["seq"])


def reverse_a_reversal(documents: Documents) -> int:
    earlier = first(documents, "reversal")
    reversal = first(documents, "reversal", after=int(earlier["seq"]))
    reversal["reverses"] = earlier["seq"]
    return int(reversal["seq"])


def unknown_fund(documents: Documents) -> int:
    entry = first(documents, "donation")
    for posting in entry["postings"]:
        posting["fund"] = "nowhere"
    return int(entry["seq"])


def plus_sign(documents: Documents) -> int:
    entry = first(documents, "donation")
    for posting in entry["postings"]:
        if not posting["amount"].startswith("-"):
            posting["amount"] = "+" + posting["amount"]
    return int(entry["seq"])


def amounts_written(*texts: str) -> Callable[[Documents], int]:
    """A donation whose amounts are these texts (each balanced by the next)."""

    def edit(documents: Documents) -> int:
        entry = first(documents, "donation")
        for posting, text in zip(entry["postings"], texts, strict=True):
            posting["amount"] = text
        return int(entry["seq"])

    return edit


def other_group(documents: Documents) -> int:
    entry = first(documents, "transfer")
    entry["group"] = "another-fund"
    return int(entry["seq"])


def reversal_naming_nothing(documents: Documents) -> int:
    reversal = first(documents, "reversal")
    del reversal["reverses"]
    return int(reversal["seq"])


def donation_naming_an_entry(documents: Documents) -> int:
    entry = first(documents, "donation")
    entry["reverses"] = "5"
    return int(entry["seq"])


BROKEN_RULES: dict[str, tuple[Callable[[Documents], int], str]] = {
    "an entry that does not balance": (unbalance, "does not balance"),
    "a fund taken below zero": (overdraw, "below zero"),
    "an entry reversed twice": (reverse_twice, "a second time"),
    "a reversal that is not the negation": (misreverse, "not the exact negation"),
    "a reversal of a reversal": (reverse_a_reversal, "cannot be reversed"),
    "an unknown fund": (unknown_fund, "unknown fund 'nowhere'"),
    "an amount with a plus sign": (plus_sign, "not written as whole minor units"),
    "an amount with a leading zero": (
        amounts_written("0400", "-0400"),
        "not written as whole minor units",
    ),
    "an amount of minus zero": (amounts_written("0", "-0"), "not written as whole minor units"),
    "an amount in exponent form": (amounts_written("4e2", "-400"), "unreadable amount"),
    "an amount with a space": (amounts_written(" 400", "-400"), "not written as whole minor"),
    "an amount holding a comma": (amounts_written("400,0", "-400"), "unreadable amount"),
    "an entry of another group": (other_group, "belongs to the group 'another-fund'"),
    "a reversal that names no entry": (reversal_naming_nothing, "names no entry"),
    "a donation that names an entry to reverse": (donation_naming_an_entry, "not a reversal"),
}


def test_every_broken_rule_is_named_even_in_a_properly_signed_bundle(
    generated: Exported, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = SigningKey.load_or_create(generated.key_file, "testserver.local")
    assert verify_bundle(reseal(generated.path, key, lambda documents: None)[0]).ok
    for name, (edit, words) in BROKEN_RULES.items():
        resealed, bad = reseal(generated.path, key, edit)
        for batch in (bundle_module.BATCH_BYTES, SMALL_BATCH):
            monkeypatch.setattr(bundle_module, "BATCH_BYTES", batch)
            report = verify_bundle(resealed)
            assert not report.ok, name
            assert report.first_bad_seq == bad, (name, report.problem)
            assert words in (report.problem or ""), (name, report.problem)
            assert report.summary().startswith(f"broken at entry {bad}: entry {bad} ")


AMOUNT_TEXTS = [
    ["1", "-1"],
    ["0"],
    ["-0"],
    ["05"],
    ["-05"],
    ["1.0"],
    ["1e3"],
    [" 1"],
    ["1 "],
    ["+1"],
    ["1_000"],
    ["\u0661"],
    ["0x10"],
    ["1,2"],
    ["1,2", ""],
    ["", "1,2"],
    ["1", "2,3"],
    [""],
    ["99999999999999999999999", "-99999999999999999999999"],
    ["18446744073709551616"],
    ["-9223372036854775809"],
    ["null"],
    ["true"],
    ["[1]"],
    ['"1"'],
    [],
]


@pytest.mark.parametrize("texts", AMOUNT_TEXTS, ids=repr)
def test_the_batch_reads_amounts_exactly_as_the_rule_for_one_entry(texts: list[str]) -> None:
    """``_whole_minor_units`` (one decode for a batch) accepts exactly what ``_entry`` does:
    texts ``int`` reads and ``str`` writes back unchanged."""
    try:
        expected: list[int] | None = [int(text) for text in texts]
    except ValueError:
        expected = None
    if expected is not None and [str(amount) for amount in expected] != texts:
        expected = None
    assert bundle_module._whole_minor_units(texts) == expected


def test_a_checkpoint_whose_root_differs_inside_a_batch_is_named(generated: Exported) -> None:
    key = SigningKey.load_or_create(generated.key_file, "testserver.local")

    def change(files: dict[str, bytes]) -> None:
        lines = files["checkpoints.jsonl"].splitlines()
        origin = msgspec.json.decode(lines[0])["note"].split("\n", 1)[0]
        forged = key.sign_checkpoint(origin, 256, b"\x07" * 32)
        files["checkpoints.jsonl"] = b"\n".join(
            msgspec.json.encode({"size": 256, "note": forged})
            if msgspec.json.decode(line)["size"] == 256
            else line
            for line in lines
        )

    report = verify_bundle(rewrite(generated.path, change))
    assert not report.ok
    assert report.first_bad_seq == 256
    assert "checkpoint of size 256" in (report.problem or "")


# --- two processes ---------------------------------------------------------------------------


@pytest.mark.parametrize("processes", ["two processes"], indirect=True)
def test_two_processes_check_every_leaf_and_stop_together(
    generated: Exported, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The child really does its part (the one-process check is not run on an honest
    bundle); when this process stops early, the child is stopped and reaped."""
    forked: list[int] = []
    real_fork = os.fork

    def fork() -> int:
        child = real_fork()
        if child:
            forked.append(child)
        return child

    monkeypatch.setattr(os, "fork", fork)
    one_by_one = bundle_module._Replay.check
    checked: list[int] = []

    def check(replay: bundle_module._Replay, block: bytes) -> None:
        checked.append(replay.seq)
        one_by_one(replay, block)

    monkeypatch.setattr(bundle_module._Replay, "check", check)
    report = verify_bundle(generated.path)
    assert report.ok, report.problem
    assert report.entries == GENERATED + len(FUNDS)  # and the policies adopted
    assert len(forked) == 1
    assert checked == []  # every block went through the two processes

    # A broken leaf in the first block: this process stops at once, the one-process check
    # names the problem, and the child, still busy with later blocks, is gone.
    misnumbered = edit_leaves(
        lambda lines: [*lines[:3], lines[3].replace(b'"seq":"4"', b'"seq":"44"'), *lines[4:]]
    )
    broken = verify_bundle(rewrite(generated.path, misnumbered))
    assert not broken.ok
    assert broken.first_bad_seq == 4
    assert checked  # the one-process check named it
    assert len(forked) == 2
    with pytest.raises(ProcessLookupError):
        os.kill(forked[-1], 0)


@pytest.mark.parametrize("processes", ["two processes"], indirect=True)
def test_a_child_that_fails_leaves_the_check_to_one_process(
    generated: Exported, monkeypatch: pytest.MonkeyPatch
) -> None:

    def fail(*_: object) -> bool:
        raise MemoryError("no room for the child")

    monkeypatch.setattr(bundle_module, "_read_and_hash", fail)
    report = verify_bundle(generated.path)
    assert report.ok, report.problem
    assert report.entries == GENERATED + len(FUNDS)  # and the policies adopted
