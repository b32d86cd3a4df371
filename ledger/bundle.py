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

import contextlib
import hashlib
import io
import os
import signal
import struct
import sys
import zipfile
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import accumulate, chain, compress, repeat
from operator import attrgetter, gt, is_not, mul, sub
from pathlib import Path
from typing import IO

import msgspec
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.canonical import (
    ATTACHMENT,
    ATTACHMENT_TYPES,
    LEAF_VERSION,
    LEAF_VERSIONS,
    ZERO_HASH,
    LeafDoc,
    LeafPostingDoc,
    leaf_version_of,
    parse_leaf,
    parse_leaf_lines,
)
from ledger.checkpoint import (
    CheckpointError,
    Verifier,
    checkpoint_of_note,
    parse_note,
    verify_note,
)
from ledger.cosignature import CosignatureVerifier, count_cosigners
from ledger.decisions import DecisionBook
from ledger.errors import LedgerError
from ledger.log import Notary
from ledger.merkle import CompactRange, TreeBuilder
from ledger.models import (
    Checkpoint,
    Cosignature,
    Entry,
    Fund,
    Group,
    GroupWitness,
    LogState,
    Place,
)
from ledger.rules import (
    DECISION,
    HOLDING_ROOT,
    ISO_DAY,
    RECONCILIATION,
    REVERSAL,
    Books,
    FundTerms,
    Leg,
    PlaceTerms,
    negation,
)

FORMAT = "commonpurse-bundle/1"
HEX_LENGTH = len(ZERO_HASH)
HASH_BYTES = HEX_LENGTH // 2

README = """\
Verification bundle of the ledger of {name} ({origin})
====================================================

leaves.jsonl       every entry of the ledger, one per line, exactly the bytes that were hashed
checkpoints.jsonl  signed checkpoints of the log (C2SP tlog-checkpoint notes), with the
                   cosignatures of the log's witnesses (C2SP tlog-cosignature lines)
key.vkey           the instance's Ed25519 verifier key (C2SP vkey); compare it with
                   {base}/.well-known/commonpurse-key
witnesses.vkey     the verifier keys of the witnesses the log asks, one a line; get them
                   from the witnesses themselves before you rely on them
funds.json         the funds, and whether each may go below zero; the places where the
                   money is held (a leaf naming no place is in the default one)
ledger.journal     the same ledger for hledger      (hledger -f ledger.journal check)
ledger.beancount   the same ledger for beancount    (bean-check ledger.beancount)

To check everything at once:   commonpurse verify --bundle {filename}
And that witnesses vouch for the latest checkpoint:
    commonpurse verify --bundle {filename} --witness VKEY [--witness VKEY ...] [--min-witnesses K]

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


@dataclass(frozen=True, slots=True)
class BundlePlace:
    """A place where the group holds money; ``default``: the one leaves naming no place
    are in. A bundle written before places lists none (its leaves name none either)."""

    slug: str
    currency: str
    allow_negative: bool
    default: bool


def _daily_checkpoints(session: Session, group: Group, witnessed: set[int]) -> list[Checkpoint]:
    """The last checkpoint of each day, and the latest: what daily observers would hold;
    and the latest that witnesses cosigned (``witnessed``: the sizes they cosigned)."""
    chosen: dict[str, Checkpoint] = {}
    latest_witnessed: Checkpoint | None = None
    rows = session.scalars(
        select(Checkpoint)
        .where(Checkpoint.group_id == group.id)
        .order_by(Checkpoint.size)
        .execution_options(yield_per=10_000)
    )
    for checkpoint in rows:
        chosen[checkpoint.signed_at.date().isoformat()] = checkpoint
        if checkpoint.size in witnessed:
            latest_witnessed = checkpoint
    if latest_witnessed is not None:
        chosen["witnessed"] = latest_witnessed
    return sorted({c.size: c for c in chosen.values()}.values(), key=lambda c: c.size)


def _cosignature_lines(session: Session, group: Group) -> dict[int, str]:
    """The cosignature lines the group's witnesses gave, by checkpoint size."""
    lines: dict[int, str] = {}
    for cosignature in session.scalars(
        select(Cosignature)
        .where(Cosignature.group_id == group.id)
        .order_by(Cosignature.size, Cosignature.witness_id)
    ):
        lines[cosignature.size] = lines.get(cosignature.size, "") + cosignature.line
    return lines


def build_bundle(
    session: Session,
    group: Group,
    vkey: str,
    base_url: str,
    *,
    journal: bytes,
    beancount: bytes,
    notary: Notary | None = None,
) -> bytes:
    """The bundle of a group as zip bytes (run inside ``AsyncSession.run_sync``), with the
    group's hledger ``journal`` and ``beancount`` file (``ledger.export`` writes them).

    With the ``notary``, entries newer than the latest checkpoint (signed in batches) are
    covered by a checkpoint of the log's head signed now, so the bundle verifies whole."""
    funds = list(session.scalars(select(Fund).where(Fund.group_id == group.id).order_by(Fund.id)))
    places = list(
        session.scalars(select(Place).where(Place.group_id == group.id).order_by(Place.id))
    )
    cosignatures = _cosignature_lines(session, group)
    checkpoints = _daily_checkpoints(session, group, set(cosignatures))
    witnesses = session.scalars(
        select(GroupWitness.vkey).where(GroupWitness.group_id == group.id).order_by(GroupWitness.id)
    )
    state = session.get(LogState, group.id)
    if (
        notary is not None
        and state is not None
        and state.size > (checkpoints[-1].size if checkpoints else 0)
    ):
        root = CompactRange.from_json(state.merkle).root()
        checkpoints.append(
            Checkpoint(
                group_id=group.id,
                size=state.size,
                root_hash=root.hex(),
                note=notary.sign(group.slug, state.size, root),
            )
        )
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
                msgspec.json.encode({"size": c.size, "note": c.note + cosignatures.get(c.size, "")})
                + b"\n"
                for c in checkpoints
            ),
        )
        archive.writestr("key.vkey", vkey + "\n")
        archive.writestr("witnesses.vkey", "".join(f"{w}\n" for w in witnesses))
        archive.writestr(
            "funds.json",
            msgspec.json.encode(
                {
                    "format": FORMAT,
                    "group": group.slug,
                    "funds": [BundleFund(f.slug, f.currency, f.allow_negative) for f in funds],
                    "places": [
                        BundlePlace(p.slug, p.currency, p.allow_negative, p.is_default)
                        for p in places
                    ],
                }
            ),
        )
        archive.writestr("ledger.journal", journal)
        archive.writestr("ledger.beancount", beancount)
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
    # The witnesses whose valid cosignature the latest checkpoint carries (when asked for).
    cosigned_by: list[str] = field(default_factory=list)
    # Payments written before decisions were logged: authorised by the database record
    # only (their count, and the first of them).
    unlogged_payments: int = 0
    unlogged_seqs: list[int] = field(default_factory=list)

    def summary(self) -> str:
        if self.ok:
            witnessed = (
                f", cosigned by {len(self.cosigned_by)} witness(es): " + ", ".join(self.cosigned_by)
                if self.cosigned_by
                else ""
            )
            unlogged = (
                f"; {self.unlogged_payments} payment(s) recorded before decisions were logged "
                "are authorised by the database record only"
                if self.unlogged_payments
                else ""
            )
            return (
                f"ok: {self.entries} entries and {self.checkpoints} signed checkpoints "
                f"verified{witnessed}{unlogged}"
            )
        where = f" at entry {self.first_bad_seq}" if self.first_bad_seq is not None else ""
        return f"broken{where}: {self.problem}"


class _Broken(Exception):
    def __init__(self, problem: str, seq: int | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.seq = seq


def verify_bundle(
    path: Path | str,
    published_vkey: str | None = None,
    *,
    two_processes: bool | None = None,
    witnesses: Sequence[str] = (),
    min_witnesses: int | None = None,
) -> BundleReport:
    """Check a bundle offline. With ``published_vkey`` (the key the instance publishes),
    the bundle's own key must be that key; without it, the bundle's key is trusted.

    With ``witnesses`` (their vkeys, from the witnesses themselves), the bundle's latest
    checkpoint, which every entry is checked against, must carry valid cosignatures by at
    least ``min_witnesses`` of them (default: all); a checkpoint nobody else vouched for
    could be a split view.

    ``two_processes``: check the leaves with a second process (see ``_check_in_two_processes``);
    by default when the machine has two cores and the bundle is large enough to gain.
    """
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
            group, funds, places = _read_funds(archive.read("funds.json"))
            checkpoints = _read_checkpoints(archive.read("checkpoints.jsonl"), verifier)
            if witnesses or min_witnesses is not None:
                report.cosigned_by = _check_witnesses(
                    archive.read("checkpoints.jsonl"), witnesses, min_witnesses
                )
            replay = _Replay(group, funds, checkpoints, places)
            if two_processes is None:
                two_processes = uses_two_processes(archive.getinfo("leaves.jsonl").file_size)
            if not (two_processes and _check_in_two_processes(path, replay)):
                # The definition, and what names the first problem: one process, in order.
                replay = _Replay(group, funds, checkpoints, places)
                with archive.open("leaves.jsonl") as leaves:
                    for block in _leaf_blocks(leaves):
                        replay.check(block)
                        report.entries = replay.seq
            report.entries = replay.seq
            replay.finish()
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
    report.balances = {
        slug: total for slug, total in replay.books.balances.items() if slug in replay.books.used
    }
    report.unlogged_payments = replay.decisions.unlogged
    report.unlogged_seqs = list(replay.decisions.unlogged_seqs)
    return report


def _read_funds(raw: bytes) -> tuple[str, dict[str, BundleFund], list[BundlePlace]]:
    """The group's slug, its funds and its places (none in a bundle from before places)."""
    try:
        document = msgspec.json.decode(raw)
        funds = {
            f["slug"]: BundleFund(f["slug"], f["currency"], bool(f["allow_negative"]))
            for f in document["funds"]
        }
        places = [
            BundlePlace(p["slug"], p["currency"], bool(p["allow_negative"]), bool(p["default"]))
            for p in document.get("places", [])
        ]
        group = document["group"]
    except (msgspec.DecodeError, KeyError, TypeError) as error:
        raise _Broken(f"funds.json is not readable ({error})") from error
    if not isinstance(group, str):
        raise _Broken("funds.json does not name the group")
    if places and sum(place.default for place in places) != 1:
        raise _Broken("funds.json does not name one default place")
    return group, funds, places


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


def _check_witnesses(raw: bytes, vkeys: Sequence[str], min_witnesses: int | None) -> list[str]:
    """The names of the witnesses that cosigned the latest checkpoint; _Broken when fewer
    than ``min_witnesses`` (default: every one given) did."""
    try:
        witnesses = [CosignatureVerifier.from_vkey(vkey) for vkey in vkeys]
    except CheckpointError as error:
        raise _Broken(f"a witness key given is not valid: {error}") from error
    needed = len(witnesses) if min_witnesses is None else min_witnesses
    if not 1 <= needed <= len(witnesses):
        raise _Broken(
            f"asked for {needed} witness cosignature(s) with {len(witnesses)} witness key(s) "
            "given: give at least that many keys (--witness), and ask for at least one"
        )
    notes = [msgspec.json.decode(line)["note"] for line in raw.splitlines()]
    latest = max((parse_note(note) for note in notes), key=lambda n: checkpoint_of_note(n).size)
    cosigned = count_cosigners(latest, witnesses)
    if len(cosigned) < needed:
        size = checkpoint_of_note(latest).size
        raise _Broken(
            f"the latest checkpoint (size {size}) carries valid cosignatures by "
            f"{len(cosigned)} of the {len(witnesses)} witnesses given; {needed} are needed"
        )
    return [cosignature.name for cosignature in cosigned]


BATCH_BYTES = 1 << 18
"""The leaves are read and checked this many bytes at a time (some 500 entries): a batch,
and the objects it decodes to, stay in the processor's cache while each rule passes over
them (a third less time than batches of 4 MB)."""


def _leaf_blocks(stream: IO[bytes]) -> Iterator[bytes]:
    """The lines of ``stream`` a few hundred kilobytes at a time: whole lines joined by line
    feeds, without the last one's."""
    rest = b""
    while block := stream.read(BATCH_BYTES):
        block = rest + block
        end = block.rfind(b"\n")
        if end < 0:
            rest = block
            continue
        rest = block[end + 1 :]
        yield block[:end]
    if rest:
        yield rest


TWO_PROCESSES_FROM = 4 << 20
"""Leaves of at least this many bytes (some 10,000 entries) are checked by two processes
when the machine has two cores: below it, starting the second one costs more than it saves."""

_BLOCK_HEADER = struct.Struct("<II")  # a block's length in bytes and its number of leaves
_PIPE_BYTES = 1 << 20


def uses_two_processes(leaf_bytes: int) -> bool:
    """Whether ``verify_bundle`` checks leaves of this size with two processes here."""
    return leaf_bytes >= TWO_PROCESSES_FROM and hasattr(os, "fork") and _cores() > 1


def _cores() -> int:
    """The cores this process may run on (all of the machine's where the system cannot say)."""
    if hasattr(os, "sched_getaffinity"):  # Linux
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _check_in_two_processes(path: Path | str, replay: _Replay) -> bool:
    """Replay every leaf with the work split between two cores: a child process inflates
    the leaves, hashes each one and grows the Merkle tree (checking the root at every
    checkpoint); this process receives each block of leaves with their hashes and checks
    the rules, the canonical bytes and the chain (``_Replay.holds``).

    True when every leaf held and every root matched: ``replay`` then holds the whole log
    (all but the tree). False as soon as anything did not hold, or the child could not do
    its part: the caller then checks the bundle again in one process, which names the
    first problem. So a bundle that verifies went through both processes, and a broken one
    is always reported by the one-process check, the same report either way.
    """
    read_end, write_end = os.pipe()
    _widen(write_end)
    child = os.fork()
    if child == 0:  # pragma: no cover (the child leaves with os._exit; coverage never sees it)
        status = 1
        try:
            os.close(read_end)
            with open(write_end, "wb") as out:
                status = 0 if _read_and_hash(path, replay.checkpoints, out) else 1
        finally:
            os._exit(status)
    os.close(write_end)
    try:
        with open(read_end, "rb") as blocks:
            while header := blocks.read(_BLOCK_HEADER.size):
                if len(header) < _BLOCK_HEADER.size:
                    return False
                length, count = _BLOCK_HEADER.unpack(header)
                block = blocks.read(length)
                hashes = blocks.read(count * HASH_BYTES)
                if len(block) < length or len(hashes) < count * HASH_BYTES:
                    return False  # the child stopped: a root differed, or it failed
                if not replay.holds(block, hashes):
                    return False
        _, status = os.waitpid(child, 0)
        child = 0
        return os.waitstatus_to_exitcode(status) == 0
    finally:
        if child:  # this process stopped early: so does the child
            os.kill(child, signal.SIGKILL)
            os.waitpid(child, 0)


def _widen(pipe: int) -> None:
    """Room for a few blocks in the pipe (64 KiB by default), so the child runs ahead. Only
    Linux can resize a pipe; elsewhere, or above the system's cap (OSError), the pipe keeps
    its size and the two processes only wait for each other more often."""
    if sys.platform != "linux":
        return
    import fcntl

    with contextlib.suppress(OSError):
        fcntl.fcntl(pipe, fcntl.F_SETPIPE_SZ, _PIPE_BYTES)


def _read_and_hash(path: Path | str, checkpoints: dict[int, bytes], out: IO[bytes]) -> bool:
    """The child's part: each block of leaves with their leaf hashes, written to ``out``;
    False at the first checkpoint whose root the leaves do not give."""
    sizes = sorted(checkpoints)
    tree = TreeBuilder()
    with zipfile.ZipFile(path) as archive, archive.open("leaves.jsonl") as leaves:
        for block in _leaf_blocks(leaves):
            digests = _leaf_digests(block.split(b"\n"))
            out.write(_BLOCK_HEADER.pack(len(block), len(digests)))
            out.write(block)
            out.write(b"".join(digests))
            if _grow(tree, digests, checkpoints, sizes) is not None:
                return False
    return True


def _grow(
    tree: TreeBuilder, digests: list[bytes], checkpoints: dict[int, bytes], sizes: list[int]
) -> int | None:
    """Add leaf hashes to the tree; the first checkpoint size (of ``sizes``, sorted) they
    reach whose root is not the one the checkpoint states, else None."""
    reached = sizes[
        bisect_left(sizes, tree.size + 1) : bisect_right(sizes, tree.size + len(digests))
    ]
    for size, root in tree.extend(digests, reached).items():
        if root != checkpoints[size]:
            return size
    return None


class _Replay:
    """The log replayed in ``seq`` order, a batch of leaves at a time.

    ``_entry`` checks one entry and names what is wrong with it: it is the definition of
    every rule. ``_batch_holds`` decides the same rules for a whole batch with a few list
    operations per rule (``map``, ``accumulate``, ``compress``, list equality: the work
    per entry runs in C) instead of a few dozen Python steps per entry, and changes nothing
    unless every entry holds. When it says no, the batch is replayed with ``_entry``, which
    stops at the first bad entry and says why. So a bundle that verifies went through
    ``_batch_holds``, one that fails is reported by ``_entry``, and a batch the fast path
    does not decide (an entry mixing currencies) is simply checked entry by entry.
    """

    def __init__(
        self,
        group: str,
        funds: dict[str, BundleFund],
        checkpoints: dict[int, bytes],
        places: Sequence[BundlePlace] = (),
    ) -> None:
        self.group = group
        self.funds = funds
        self.checkpoints = checkpoints
        self.checkpoint_sizes = sorted(checkpoints)
        self.prev = ZERO_HASH
        self.tree = TreeBuilder()
        # The rules of the log and what they read: the balances, and the postings of entry
        # seq at ``books.reversible[seq - 1]`` while a reversal may still name it (the
        # batched check keeps the leaves' own postings there, amounts as text).
        self.books = Books(
            (FundTerms(f.slug, f.currency, f.allow_negative) for f in funds.values()),
            places=(PlaceTerms(p.slug, p.currency, p.allow_negative) for p in places),
            default_place=next((p.slug for p in places if p.default), None),
        )
        # Which decisions the log holds, and what was paid under them (``ledger.decisions``).
        self.decisions = DecisionBook()
        # False while another process grows the Merkle tree (``holds``).
        self.grows_tree = True

    @property
    def seq(self) -> int:
        return self.books.seq

    def check(self, block: bytes) -> None:
        """Check the leaves of ``block`` (lines joined by line feeds) and add them."""
        try:
            documents, leaves = parse_leaf_lines(block)
        except ValueError as error:
            index = int(error.args[1])
            # The entries before the bad leaf may hold an earlier problem: name that one.
            for leaf in block.split(b"\n")[:index]:
                self._entry(parse_leaf(leaf), _leaf_digest(leaf))
            bad = self.seq + 1
            raise _Broken(f"entry {bad} is not a canonical leaf ({error.args[0]})", bad) from error
        digests = _leaf_digests(leaves)
        if not self._batch_holds(documents, b"".join(digests)):
            for document, digest in zip(documents, digests, strict=True):
                self._entry(document, digest)
            return
        # The batch is in the replay; the tree, behind by the batch, catches up.
        differs = _grow(self.tree, digests, self.checkpoints, self.checkpoint_sizes)
        if differs is not None:
            raise _root_differs(differs)

    def holds(self, block: bytes, hashes: bytes) -> bool:
        """``check`` for a block whose leaf hashes (``hashes``, joined) another process
        computed, without the Merkle tree (that process grows it): True and the block
        added when every entry holds; else False (the replay is then to be dropped: the
        caller checks the bundle again in one process, which names the problem). A block
        the fast path does not decide (an attached file's leaf, an entry mixing currencies)
        is checked leaf by leaf here too, rather than given up."""
        try:
            documents, _ = parse_leaf_lines(block)
        except ValueError:
            return False
        if len(documents) * HASH_BYTES != len(hashes):
            return False
        if self._batch_holds(documents, hashes):
            return True
        self.grows_tree = False
        try:
            for index, document in enumerate(documents):
                self._entry(document, hashes[index * HASH_BYTES : (index + 1) * HASH_BYTES])
        except _Broken:
            return False
        return True

    def _entry(self, document: LeafDoc, digest: bytes) -> None:
        """Check the next entry, then add it to the replay; _Broken names the first problem."""
        seq = self.seq + 1

        def fail(problem: str) -> _Broken:
            return _Broken(f"entry {seq} {problem}", seq)

        if document.seq != str(seq):
            raise fail(f"says it is entry {document.seq}; entries are missing or moved")
        if document.prev != self.prev:
            raise fail("does not follow the previous entry's hash")
        if document.group != self.group:
            raise fail(f"belongs to the group {document.group!r}, not {self.group!r}")
        if document.v not in LEAF_VERSIONS:
            raise fail(f"is a leaf of version {document.v!r}, which this verifier does not know")
        if document.v != leaf_version_of(document):
            raise fail(
                f"is written as version {document.v!r} but holds the parts of version "
                f"{leaf_version_of(document)!r}"
            )
        if document.kind == ATTACHMENT or document.attachment is not None:
            self._attachment(document, digest, fail)
            return
        if document.kind == RECONCILIATION or document.reconciliation is not None:
            self._reconciliation(document, digest, fail)
            return
        try:
            amounts = [int(p.amount) for p in document.postings]
        except ValueError as error:
            raise fail(f"has an unreadable amount ({error})") from error
        if [str(amount) for amount in amounts] != [p.amount for p in document.postings]:
            raise fail("has an amount not written as whole minor units")
        reverses: int | None = None
        if document.reverses is not None:
            reverses = _entry_number(document.reverses)
            if reverses is None:
                if document.kind == REVERSAL:
                    raise fail(f"reverses {document.reverses!r}, which is not an entry number")
                reverses = 0  # whatever it names, only a reversal may name one
        legs = [
            Leg(p.account, p.fund, amount, p.currency, document.place)
            for p, amount in zip(document.postings, amounts, strict=True)
        ]
        if document.move is not None:
            # A move's part: its amount written as the ledger writes whole minor units,
            # and its legs (a move has no postings: ``Books`` holds it to two legs).
            moved = document.move.amount
            if _entry_number(moved.removeprefix("-")) is None or moved in ("-0", "0"):
                raise fail(f"moves an amount {moved!r} not written as whole minor units")
            if document.place is not None:
                raise fail("names a place beside a move's places")
            legs = [*document.move.legs(), *legs]
        try:
            self.books.record(document.kind, legs, reverses, document.occurred_on)
            self.decisions.leaf(seq, document, legs)
        except LedgerError as broken:
            raise fail(broken.in_log) from broken
        self._add(digest)

    def _attachment(self, document: LeafDoc, digest: bytes, fail: Callable[[str], _Broken]) -> None:
        """An attached file's leaf: its shape (``attachment_problem``), and that it names an
        earlier entry that moves money; then it joins the replay."""
        problem = attachment_problem(document)
        if problem is not None:
            raise fail(problem)
        assert document.attachment is not None  # attachment_problem said so
        entry = _entry_number(document.attachment.entry)
        try:
            self.books.attach(entry or 0)
        except LedgerError as broken:
            raise fail(broken.in_log) from broken
        self._add(digest)

    def _reconciliation(
        self, document: LeafDoc, digest: bytes, fail: Callable[[str], _Broken]
    ) -> None:
        """A reconciliation's leaf: its shape (``reconciliation_problem``), and the log's
        rule (``Books.reconcile``: the place's balance through the day is the one stated,
        and the day is after the place's last reconciliation); then it joins the replay."""
        problem = reconciliation_problem(document)
        if problem is not None:
            raise fail(problem)
        part = document.reconciliation
        assert part is not None  # reconciliation_problem said so
        try:
            self.books.reconcile(part.place, part.through, int(part.balance), part.currency)
        except LedgerError as broken:
            raise fail(broken.in_log) from broken
        self._add(digest)

    def _add(self, digest: bytes) -> None:
        seq = self.seq
        self.prev = digest.hex()
        if not self.grows_tree:
            return
        self.tree.append(digest)
        if seq in self.checkpoints and self.tree.root() != self.checkpoints[seq]:
            raise _root_differs(seq)

    def _batch_holds(self, documents: list[LeafDoc], hashes: bytes) -> bool:
        """Whether every entry of the batch (``hashes``: their leaf hashes, joined) passes
        ``_entry``'s checks; when it does, the batch is added to the replay (all but the
        Merkle tree, which ``check`` extends)."""
        books = self.books
        first, count = books.seq + 1, len(documents)
        # The chain: every ``prev`` is 64 characters and, joined, they are the previous
        # entry's hash followed by this batch's hashes but the last, in hex.
        prevs = list(map(_PREV, documents))
        chain_hex = hashes.hex()
        if (
            list(map(_SEQ, documents)) != list(map(str, range(first, first + count)))
            or set(map(len, prevs)) != {HEX_LENGTH}
            or "".join(prevs) != self.prev + chain_hex[:-HEX_LENGTH]
            or set(map(_GROUP, documents)) != {self.group}
            or not _versions_match(documents)
            # Attached files, and entries naming places: leaf by leaf (``_entry``).
            or any(map(_ATTACHMENT_PART, documents))
            or any(map(_RECONCILIATION_PART, documents))
            or any(map(_PLACE_PART, documents))
            or any(map(_MOVE_PART, documents))
        ):
            return False
        postings = list(map(_POSTINGS, documents))
        counts = list(map(len, postings))
        flat = list(chain.from_iterable(postings))
        amounts = _whole_minor_units(list(map(_AMOUNT, flat)))
        kinds = list(map(_KIND, documents))
        if amounts is None or not _postings_counts_hold(kinds, counts):
            return False
        # ``starts[i]``: where entry i's postings start in ``flat``. Every entry balances
        # when the running total of all amounts is back to zero at each entry's start...
        starts = list(accumulate(counts, initial=0))
        if any(map(list(accumulate(amounts, initial=0)).__getitem__, starts)):
            return False
        # ... provided each entry is in one currency (entries mixing currencies: _entry).
        if len(set(map(_CURRENCY, flat))) > 1 and any(
            len(set(map(_CURRENCY, entry))) > 1 for entry in postings
        ):
            return False
        # Reversals (a few in a hundred entries) one by one.
        reverses = list(map(_REVERSES, documents))
        named = list(compress(range(count), map(is_not, reverses, repeat(None))))
        if kinds.count("reversal") != len(named):
            return False  # a reversal that names no entry
        added: list[tuple[LeafPostingDoc, ...] | None] = list(postings)
        reversed_now: set[int] = set()
        for i in named:
            target = _entry_number(reverses[i] or "")
            if documents[i].kind != "reversal" or target is None or not 0 < target < first + i:
                return False
            original = books.reversible[target - 1] if target < first else added[target - first]
            if (
                original is None
                or target in reversed_now
                or negation(original) != _postings(postings[i], amounts[starts[i] : starts[i + 1]])
            ):
                return False
            reversed_now.add(target)
            added[i] = None
            if target >= first:
                added[target - first] = None
        # Each fund's running balance, posting by posting, never below zero unless allowed.
        holding = list(map(str.startswith, map(_ACCOUNT, flat), repeat(HOLDING_ROOT)))
        funds = list(map(_FUND, compress(flat, holding)))
        moves = list(compress(amounts, holding))
        slugs = set(funds)
        if not slugs <= books.funds.keys():
            return False  # a fund funds.json does not list
        # A fund holding more than everything the batch pays out cannot run dry in it; the
        # others are replayed posting by posting.
        outflow = -sum(compress(moves, map(gt, repeat(0), moves)))
        # Each fund's net change; the last one's is what the others leave of the total.
        balances: dict[str, int] = {}
        rest = sum(moves)
        for number, slug in enumerate(slugs, start=1):
            start = books.balances[slug]
            replay = start < outflow and not books.funds[slug].allow_negative
            if number == len(slugs) and not replay:
                net = rest
            else:
                mine = moves if len(slugs) == 1 else list(compress(moves, map(slug.__eq__, funds)))
                if replay and min(accumulate(mine, initial=start)) < 0:
                    return False
                net = sum(mine)
            rest -= net
            balances[slug] = start + net
        # Every leg of the batch is in the default place (the others went leaf by leaf): its
        # running balance, never below zero unless it may.
        default = books.default_place
        held = None
        day_changes: dict[str, int] = {}
        if default is not None and default in books.places:
            start = books.place_balances[default]
            if (
                start < outflow
                and not books.places[default].allow_negative
                and min(accumulate(moves, initial=start)) < 0
            ):
                return False
            held = start + sum(moves)
            # What each day changes in the place (for its reconciliations); and once it is
            # reconciled, no money entry dated on or before that day.
            days = list(map(_OCCURRED_ON, documents))
            through = books.reconciled.get(default)
            if through is not None:
                money_days = list(compress(days, counts))
                if money_days and (
                    min(money_days) <= through or not all(map(ISO_DAY.fullmatch, money_days))
                ):
                    return False
            held_run = list(accumulate(map(mul, amounts, holding), initial=0))
            at_starts = list(map(held_run.__getitem__, starts))
            for day, net in zip(days, map(sub, at_starts[1:], at_starts), strict=False):
                if net:
                    day_changes[day] = day_changes.get(day, 0) + net
        # Payments follow decisions: the few entries that decide, pay or reverse, in order.
        if not self._authority_holds(documents, kinds, first):
            return False
        # Every entry holds: add the batch.
        for target in reversed_now:
            if target < first:
                books.reversible[target - 1] = None
        books.reversible.extend(added)
        books.reversed |= reversed_now
        books.balances.update(balances)
        if held is not None and default is not None:
            books.place_balances[default] = held
            changes = books.days.setdefault(default, {})
            for day, net in day_changes.items():
                changes[day] = changes.get(day, 0) + net
        books.used |= slugs
        books.seq = first + count - 1
        self.prev = chain_hex[-HEX_LENGTH:]
        return True

    def _authority_holds(self, documents: list[LeafDoc], kinds: list[str], first: int) -> bool:
        """``DecisionBook.leaf`` for the batch's decisions, payments and reversals (and any
        leaf naming a decision), added to the book when all hold; else nothing added."""
        decisions = self.decisions
        decisions.mark()
        try:
            for i in compress(range(len(documents)), map(_touches_decisions, kinds, documents)):
                document = documents[i]
                legs = [
                    Leg(p.account, p.fund, int(p.amount), p.currency) for p in document.postings
                ]
                decisions.leaf(first + i, document, legs)
        except LedgerError:
            decisions.undo()
            return False
        decisions.keep()
        return True

    def finish(self) -> None:
        last_size = self.checkpoint_sizes[-1]
        if self.seq < last_size:
            raise _Broken(
                f"the bundle holds {self.seq} entries but a checkpoint covers {last_size}; "
                "entries were removed",
                self.seq + 1,
            )
        if self.seq > last_size:
            raise _Broken(
                f"entries after {last_size} are covered by no signed checkpoint", last_size + 1
            )


_sha256 = hashlib.sha256
_SEQ, _PREV, _GROUP, _VERSION, _KIND, _REVERSES, _POSTINGS = map(
    attrgetter, ("seq", "prev", "group", "v", "kind", "reverses", "postings")
)
_ACCOUNT, _FUND, _AMOUNT, _CURRENCY = map(attrgetter, ("account", "fund", "amount", "currency"))
_POLICY = attrgetter("policy")
_PLACE_PART, _MOVE_PART = attrgetter("place"), attrgetter("move")
_ATTACHMENT_PART = attrgetter("attachment")
_RECONCILIATION_PART, _OCCURRED_ON = attrgetter("reconciliation"), attrgetter("occurred_on")
_DECIDED_IN, _DECISION = attrgetter("decided_in"), attrgetter("decision")
_AUTHORITY_KINDS = frozenset((DECISION, REVERSAL, "disbursement"))


def _touches_decisions(kind: str, document: LeafDoc) -> bool:
    return (
        kind in _AUTHORITY_KINDS
        or document.decided_in is not None
        or (document.decision is not None)
    )


def _postings_counts_hold(kinds: list[str], counts: list[int]) -> bool:
    """Every entry has two postings or more, but decisions, which have none (as
    ``Books.record`` says one by one)."""
    if min(counts) >= 2:
        return DECISION not in kinds
    return all(
        count == 0 if kind == DECISION else count >= 2
        for kind, count in zip(kinds, counts, strict=True)
    )


def _versions_match(documents: list[LeafDoc]) -> bool:
    """Whether each leaf is written in the version its parts need (``leaf_version_of``);
    for a batch of first-version leaves, the common case, without a loop in Python."""
    if set(map(_VERSION, documents)) == {LEAF_VERSION}:
        return not (
            any(map(_POLICY, documents))
            or any(map(_DECIDED_IN, documents))
            or any(map(_DECISION, documents))
        )
    return all(document.v == leaf_version_of(document) for document in documents)


def _leaf_digest(leaf: bytes) -> bytes:
    return _sha256(b"\x00" + leaf).digest()


def _leaf_digests(leaves: list[bytes]) -> list[bytes]:
    return [_sha256(b"\x00" + leaf).digest() for leaf in leaves]


_amounts_decoder = msgspec.json.Decoder(list[int])
_amounts_encoder = msgspec.json.Encoder()


def _whole_minor_units(texts: list[str]) -> list[int] | None:
    """The amounts ``texts`` state, when every one is written as ``str(int)`` writes it
    (what ``_entry`` checks one by one); else None. One decode and one encode for them
    all: JSON writes integers as ``str`` does, but for "-0", which the encoder writes
    back as "0"; the comparison also refuses spaces, signs, fractions and exponents, and
    with as many numbers as texts, a text holding a comma."""
    joined = ("[" + ",".join(texts) + "]").encode()
    try:
        amounts = _amounts_decoder.decode(joined)
    except msgspec.DecodeError:
        return None
    if len(amounts) != len(texts) or _amounts_encoder.encode(amounts) != joined:
        return None
    return amounts


def _root_differs(size: int) -> _Broken:
    return _Broken(
        f"the log's first {size} entries do not have the root the signed checkpoint of "
        f"size {size} states",
        size,
    )


def attachment_problem(document: LeafDoc) -> str | None:
    """What is wrong with the shape of an attached file's leaf, else None: it is of kind
    "attachment" and carries the file's part (entry, SHA-256, size, type) and nothing of
    a money entry."""
    part = document.attachment
    if document.kind != ATTACHMENT or part is None:
        return "mixes an attached file with a money entry"
    if (
        document.postings
        or document.memo
        or document.counterparty is not None
        or document.reverses is not None
        or document.proposal is not None
        or document.policy is not None
    ):
        return "attaches a file but also holds parts of a money entry"
    if _entry_number(part.entry) is None:
        return f"attaches a file to {part.entry!r}, which is not an entry number"
    if len(part.sha256) != HEX_LENGTH or part.sha256.strip("0123456789abcdef"):
        return "names a file by something that is not a SHA-256 in lower-case hex"
    size = _entry_number(part.size)
    if size is None or size == 0:
        return f"states a file size {part.size!r} that is not a positive whole number"
    if part.type not in ATTACHMENT_TYPES:
        return f"states a file type {part.type!r} that receipts cannot have"
    return None


def reconciliation_problem(document: LeafDoc) -> str | None:
    """What is wrong with the shape of a reconciliation's leaf, else None: it is of kind
    "reconciliation" and carries its part (place, day, balance, currency, lines, SHA-256)
    and nothing of a money entry."""
    part = document.reconciliation
    if document.kind != RECONCILIATION or part is None:
        return "mixes a reconciliation with another kind of leaf"
    if (
        document.postings
        or document.memo
        or document.counterparty is not None
        or document.reverses is not None
        or document.proposal is not None
        or document.policy is not None
        or document.place is not None
        or document.move is not None
        or document.decided_in is not None
        or document.decision is not None
        or document.attachment is not None
    ):
        return "is a reconciliation but also holds parts of a money entry"
    if _entry_number(part.balance.removeprefix("-")) is None or part.balance == "-0":
        return f"states a balance {part.balance!r} not written as whole minor units"
    if _entry_number(part.lines) is None:
        return f"states {part.lines!r} lines, which is not a whole number"
    if len(part.sha256) != HEX_LENGTH or part.sha256.strip("0123456789abcdef"):
        return "names a statement by something that is not a SHA-256 in lower-case hex"
    try:
        day = date.fromisoformat(part.through)
    except ValueError:
        day = None
    if day is None or day.isoformat() != part.through:
        return f"reconciles through {part.through!r}, which is not a day written YYYY-MM-DD"
    return None


def _entry_number(text: str) -> int | None:
    """The entry number ``text`` names, written as the ledger writes it; else None."""
    return int(text) if text.isascii() and text.isdigit() and str(int(text)) == text else None


def _postings(
    postings: Sequence[LeafPostingDoc], amounts: Sequence[int]
) -> list[tuple[str, str, int, str, str | None]]:
    """Legs of a leaf in the default place (the fast path reads no others)."""
    return [
        (p.account, p.fund, amount, p.currency, None)
        for p, amount in zip(postings, amounts, strict=True)
    ]
