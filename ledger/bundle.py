"""The verification bundle: everything an outsider needs to check a group's ledger offline.

A zip with the leaves exactly as hashed (``leaves.jsonl``), signed checkpoints
(``checkpoints.jsonl``: the latest, and the last of every day), the instance's verifier key
(``key.vkey``), the funds (``funds.json``: which may go below zero), the hledger journal
and beancount file, and a README saying how to check them.

``verify_bundle`` checks it with nothing but the bundle (and, better, the key published at
``/.well-known/commonpurse-key``): canonical bytes, the hash chain, the Merkle root at each
checkpoint, the signatures, consistency between checkpoints, every entry balanced, balances
replayed never below zero where not allowed, and the reversal rules.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.canonical import ZERO_HASH, LeafDoc, parse_leaves
from ledger.checkpoint import CheckpointError, Verifier, verify_note
from ledger.merkle import TreeBuilder
from ledger.models import Checkpoint, Entry, Fund, Group

FORMAT = "commonpurse-bundle/1"
HOLDING_ROOT = "Assets:Holding:"

README = """\
Verification bundle of the ledger of {name} ({origin})
====================================================

leaves.jsonl       every entry of the ledger, one per line, exactly the bytes that were hashed
checkpoints.jsonl  signed checkpoints of the log (C2SP tlog-checkpoint notes)
key.vkey           the instance's Ed25519 verifier key (C2SP vkey); compare it with
                   {base}/.well-known/commonpurse-key
funds.json         the funds, and whether each may go below zero
ledger.journal     the same ledger for hledger      (hledger -f ledger.journal check)
ledger.beancount   the same ledger for beancount    (bean-check ledger.beancount)

To check everything at once:   commonpurse verify --bundle {filename}

Checking by hand: each line of leaves.jsonl is canonical JSON (RFC 8785). Its hash is
SHA-256(0x00 || line) (RFC 9162 leaf hash); "prev" in each leaf is the hash of the leaf
before (64 zeros for the first). The Merkle tree over the leaf hashes (RFC 9162: interior
nodes SHA-256(0x01 || left || right)) must have, at each checkpoint's size, the root the
checkpoint states, and each checkpoint must carry a valid signature by the key above.
"""


@dataclass(frozen=True, slots=True)
class BundleFund:
    slug: str
    currency: str
    allow_negative: bool


def _daily_checkpoints(session: Session, group: Group) -> list[Checkpoint]:
    """The last checkpoint of each day, and the latest: what daily observers would hold."""
    chosen: dict[str, Checkpoint] = {}
    rows = session.scalars(
        select(Checkpoint)
        .where(Checkpoint.group_id == group.id)
        .order_by(Checkpoint.size)
        .execution_options(yield_per=10_000)
    )
    for checkpoint in rows:
        chosen[checkpoint.signed_at.date().isoformat()] = checkpoint
    return sorted(chosen.values(), key=lambda c: c.size)


def build_bundle(session: Session, group: Group, vkey: str, base_url: str) -> bytes:
    """The bundle of a group as zip bytes (run inside ``AsyncSession.run_sync``)."""
    from ledger.plaintext import write_beancount, write_hledger

    funds = list(session.scalars(select(Fund).where(Fund.group_id == group.id).order_by(Fund.id)))
    checkpoints = _daily_checkpoints(session, group)
    origin = checkpoints[-1].note.split("\n", 1)[0] if checkpoints else ""
    filename = f"{group.slug}-bundle.zip"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("leaves.jsonl", "w") as leaves:
            for leaf in session.scalars(
                select(Entry.leaf)
                .where(Entry.group_id == group.id)
                .order_by(Entry.seq)
                .execution_options(yield_per=10_000)
            ):
                leaves.write(leaf + b"\n")
        archive.writestr(
            "checkpoints.jsonl",
            b"".join(
                msgspec.json.encode({"size": c.size, "note": c.note}) + b"\n" for c in checkpoints
            ),
        )
        archive.writestr("key.vkey", vkey + "\n")
        archive.writestr(
            "funds.json",
            msgspec.json.encode(
                {
                    "format": FORMAT,
                    "group": group.slug,
                    "funds": [BundleFund(f.slug, f.currency, f.allow_negative) for f in funds],
                }
            ),
        )
        archive.writestr("ledger.journal", write_hledger(session, group))
        archive.writestr("ledger.beancount", write_beancount(session, group))
        archive.writestr(
            "README.txt",
            README.format(name=group.name, origin=origin, base=base_url, filename=filename),
        )
    return out.getvalue()


# --- verification ---------------------------------------------------------------------------


@dataclass(slots=True)
class BundleReport:
    ok: bool
    entries: int = 0
    checkpoints: int = 0
    first_bad_seq: int | None = None
    problem: str | None = None
    balances: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        if self.ok:
            return f"ok: {self.entries} entries and {self.checkpoints} signed checkpoints verified"
        where = f" at entry {self.first_bad_seq}" if self.first_bad_seq is not None else ""
        return f"broken{where}: {self.problem}"


class _Broken(Exception):
    def __init__(self, problem: str, seq: int | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.seq = seq


def verify_bundle(path: Path | str, published_vkey: str | None = None) -> BundleReport:
    """Check a bundle offline. With ``published_vkey`` (the key the instance publishes),
    the bundle's own key must be that key; without it, the bundle's key is trusted."""
    report = BundleReport(ok=False)
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            missing = {"leaves.jsonl", "checkpoints.jsonl", "key.vkey", "funds.json"} - names
            if missing:
                raise _Broken(f"the bundle lacks {', '.join(sorted(missing))}")
            vkey = archive.read("key.vkey").decode().strip()
            if published_vkey is not None and vkey != published_vkey.strip():
                raise _Broken("the bundle's key is not the published key")
            verifier = Verifier.from_vkey(vkey)
            funds = _read_funds(archive.read("funds.json"))
            checkpoints = _read_checkpoints(archive.read("checkpoints.jsonl"), verifier)
            with archive.open("leaves.jsonl") as raw, io.BufferedReader(raw, 1 << 20) as leaves:  # type: ignore[type-var,unused-ignore]
                _check_leaves(iter(leaves), funds, checkpoints, report)
    except _Broken as broken:
        report.problem, report.first_bad_seq = broken.problem, broken.seq
        return report
    except (zipfile.BadZipFile, EOFError, OSError, KeyError) as error:
        report.problem = f"the bundle is damaged or truncated ({error})"
        return report
    except CheckpointError as error:
        report.problem = f"a checkpoint is not valid: {error}"
        return report
    report.ok = True
    report.checkpoints = len(checkpoints)
    return report


def _read_funds(raw: bytes) -> dict[str, BundleFund]:
    try:
        document = msgspec.json.decode(raw)
        return {
            f["slug"]: BundleFund(f["slug"], f["currency"], bool(f["allow_negative"]))
            for f in document["funds"]
        }
    except (msgspec.DecodeError, KeyError, TypeError) as error:
        raise _Broken(f"funds.json is not readable ({error})") from error


def _read_checkpoints(raw: bytes, verifier: Verifier) -> dict[int, bytes]:
    """Every checkpoint's size -> root, each signed by ``verifier`` and for one origin."""
    roots: dict[int, bytes] = {}
    origin: str | None = None
    for number, line in enumerate(raw.splitlines(), start=1):
        try:
            note = msgspec.json.decode(line)["note"]
        except (msgspec.DecodeError, KeyError, TypeError) as error:
            raise _Broken(f"checkpoint line {number} is not readable ({error})") from error
        try:
            checkpoint = verify_note(note, verifier)
        except CheckpointError as error:
            raise _Broken(
                f"checkpoint {number} is not signed by the instance's key: {error}"
            ) from error
        if origin is None:
            origin = checkpoint.origin
        elif checkpoint.origin != origin:
            raise _Broken(f"checkpoint {number} is for another log ({checkpoint.origin})")
        if roots.get(checkpoint.size, checkpoint.root) != checkpoint.root:
            raise _Broken(f"two checkpoints of size {checkpoint.size} state different roots")
        roots[checkpoint.size] = checkpoint.root
    if not roots:
        raise _Broken("the bundle has no signed checkpoint")
    return roots


BATCH = 10_000


def _batches(lines: Iterator[bytes]) -> Iterator[list[bytes]]:
    batch: list[bytes] = []
    for raw in lines:
        batch.append(raw.rstrip(b"\n"))
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _check_leaves(
    lines: Iterator[bytes],
    funds: dict[str, BundleFund],
    checkpoints: dict[int, bytes],
    report: BundleReport,
) -> None:
    tree = TreeBuilder()
    prev = ZERO_HASH
    seq = 0
    balances: dict[str, int] = defaultdict(int)
    reversible: dict[int, list[tuple[str, str, int, str]]] = {}
    reversed_seqs: set[int] = set()
    last_size = max(checkpoints)
    sha256 = hashlib.sha256
    for batch in _batches(lines):
        try:
            documents = parse_leaves(batch)
        except ValueError as error:
            bad = seq + 1 + int(error.args[1])
            raise _Broken(f"entry {bad} is not a canonical leaf ({error.args[0]})", bad) from error
        # Hash the batch first (C speed), then walk it once for the rules.
        digests = [sha256(b"\x00" + leaf).digest() for leaf in batch]
        for document, digest in zip(documents, digests, strict=True):
            seq += 1
            _check_one(document, seq, prev, funds, balances, reversible, reversed_seqs)
            prev = digest.hex()
            tree.append(digest)
            if seq in checkpoints and tree.root() != checkpoints[seq]:
                raise _Broken(
                    f"the log's first {seq} entries do not have the root the signed "
                    f"checkpoint of size {seq} states",
                    seq,
                )
        report.entries = seq
    if seq < last_size:
        raise _Broken(
            f"the bundle holds {seq} entries but a checkpoint covers {last_size}; "
            "entries were removed",
            seq + 1,
        )
    if seq > last_size:
        raise _Broken(
            f"entries after {last_size} are covered by no signed checkpoint", last_size + 1
        )
    report.balances = dict(balances)


def _check_one(
    document: LeafDoc,
    seq: int,
    prev: str,
    funds: dict[str, BundleFund],
    balances: dict[str, int],
    reversible: dict[int, list[tuple[str, str, int, str]]],
    reversed_seqs: set[int],
) -> None:
    def fail(problem: str) -> _Broken:
        return _Broken(f"entry {seq} {problem}", seq)

    if document.seq != str(seq):
        raise fail(f"says it is entry {document.seq}; entries are missing or moved")
    if document.prev != prev:
        raise fail("does not follow the previous entry's hash")
    try:
        postings = [(p.account, p.fund, int(p.amount), p.currency) for p in document.postings]
    except ValueError as error:
        raise fail(f"has an unreadable amount ({error})") from error
    totals: dict[str, int] = defaultdict(int)
    for _, _, amount, currency in postings:
        totals[currency] += amount
    if len(postings) < 2 or any(totals.values()):
        raise fail("does not balance")
    if document.kind == "reversal":
        target = int(document.reverses or "0")
        if target in reversed_seqs:
            raise fail(f"reverses entry {target} a second time")
        original = reversible.pop(target, None)
        if original is None:
            raise fail(f"reverses entry {target}, which cannot be reversed")
        if [(a, f, -amount, c) for a, f, amount, c in original] != postings:
            raise fail(f"is not the exact negation of entry {target}")
        reversed_seqs.add(target)
    elif document.reverses is not None:
        raise fail("names an entry to reverse but is not a reversal")
    else:
        reversible[seq] = postings
    for account, fund_slug, amount, _ in postings:
        if not account.startswith(HOLDING_ROOT):
            continue
        fund = funds.get(fund_slug)
        if fund is None:
            raise fail(f"uses the unknown fund {fund_slug!r}")
        balances[fund_slug] += amount
        if amount < 0 and balances[fund_slug] < 0 and not fund.allow_negative:
            raise fail(f"takes the fund {fund_slug!r} below zero")
