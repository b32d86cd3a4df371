"""Verification of a group's ledger as stored in the database.

Re-derives every entry's canonical bytes from its rows, re-hashes them, follows the chain,
checks that every entry balances and that reversals follow the rules, replays the fund
balances and compares them with the stored ones. Reports the first bad ``seq``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, cast

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from ledger.canonical import (
    ATTACHMENT,
    ATTACHMENT_TYPES,
    ZERO_HASH,
    LeafDecisionDoc,
    Move,
    attachment_leaf_document,
    canonical_json,
    leaf_document,
    leaf_hash_hex,
    parse_leaf,
    reconciliation_leaf_document,
)
from ledger.decisions import DecisionBook
from ledger.errors import LedgerError
from ledger.merkle import HASH_SIZE, CompactRange, TreeBuilder
from ledger.models import (
    Attachment,
    Checkpoint,
    Entry,
    Fund,
    Group,
    LogState,
    LogTile,
    Place,
    Posting,
    Reconciliation,
)
from ledger.money import MAX_BALANCE
from ledger.rules import RECONCILIATION, Books, FundTerms, Leg, PlaceTerms
from ledger.tiles import TILE_WIDTH, perfect_root

_BATCH = 10_000


@dataclass(slots=True)
class VerifyReport:
    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str | None = None
    balances: dict[str, int] = field(default_factory=dict)
    # What each place holds, replayed (places any entry moved money in or out of).
    place_balances: dict[str, int] = field(default_factory=dict)
    # Payments written before decisions were logged: authorised by the database record
    # only (their count, and the first of them).
    unlogged_payments: int = 0
    unlogged_seqs: list[int] = field(default_factory=list)


def _check_leaf(seq: int, document: Mapping[str, Any], leaf: bytes, entry_hash: str) -> None:
    """The stored leaf is the one its row's values make, and the stored hash is its hash."""
    if canonical_json(document, check=False) != leaf:
        raise _Broken(seq, f"entry {seq} differs from the leaf that was hashed")
    if leaf_hash_hex(leaf) != entry_hash:
        raise _Broken(seq, f"entry {seq} does not match its hash")


class _Broken(Exception):
    def __init__(self, seq: int | None, problem: str) -> None:
        super().__init__(problem)
        self.seq = seq
        self.problem = problem


async def verify_group(session: AsyncSession, group: Group) -> VerifyReport:
    """Check the whole ledger of a group; never raises for a broken ledger, reports it."""
    return await session.run_sync(_verify, group.id, group.slug)


def _verify(session: Session, group_id: int, group_slug: str) -> VerifyReport:
    funds = {
        fund.id: fund for fund in session.scalars(select(Fund).where(Fund.group_id == group_id))
    }
    places = {
        place.id: place
        for place in session.scalars(select(Place).where(Place.group_id == group_id))
    }
    state = session.get(LogState, group_id)
    checker = _Checker(group_slug, funds, _reversed_seqs(session, group_id), places)
    latest = session.scalars(
        select(Checkpoint)
        .where(Checkpoint.group_id == group_id)
        .order_by(Checkpoint.size.desc())
        .limit(1)
    ).one_or_none()
    checker.checkpoint_size = latest.size if latest is not None else None
    checker.attachments = _attachments(session, group_id)
    checker.reconciliations = _reconciliations(session, group_id)
    try:
        _walk(session, group_id, checker)
        checker.finish(state, latest)
        checker.finish_tiles(
            session.scalars(select(LogTile).where(LogTile.group_id == group_id)).all()
        )
        checker.finish_attachments()
        checker.finish_reconciliations()
    except _Broken as broken:
        return VerifyReport(
            False, checker.count, checker.seq, checker.prev, broken.seq, broken.problem
        )
    balances = {slug: checker.books.balances[slug] for slug in sorted(checker.books.used)}
    return VerifyReport(
        True,
        checker.count,
        checker.seq,
        checker.prev,
        balances=balances,
        place_balances=dict(sorted(checker.books.place_balances.items())),
        unlogged_payments=checker.decisions.unlogged,
        unlogged_seqs=list(checker.decisions.unlogged_seqs),
    )


def _reversed_seqs(session: Session, group_id: int) -> set[int]:
    rows = session.scalars(
        select(Entry.reverses_seq).where(
            Entry.group_id == group_id, Entry.reverses_seq.is_not(None)
        )
    )
    return {seq for seq in rows if seq is not None}


# What an attachment's leaf states beyond the entry's columns: the entry it is attached
# to, the file's SHA-256, type and size (by the leaf's seq).
_AttachmentRow = tuple[int, str, str, int]


def _attachments(session: Session, group_id: int) -> dict[int, _AttachmentRow]:
    rows = session.execute(
        select(
            Attachment.seq,
            Attachment.entry_seq,
            Attachment.sha256,
            Attachment.content_type,
            Attachment.size,
        ).where(Attachment.group_id == group_id)
    )
    return {seq: (entry, sha256, kind, size) for seq, entry, sha256, kind, size in rows}


# What a reconciliation's leaf states beyond the entry's columns: the place (its id), the
# day, the closing balance, the currency, the number of lines and the statement's SHA-256.
_ReconciliationRow = tuple[int, date, int, str, int, str]


def _reconciliations(session: Session, group_id: int) -> dict[int, _ReconciliationRow]:
    rows = session.execute(
        select(
            Reconciliation.seq,
            Reconciliation.place_id,
            Reconciliation.through,
            Reconciliation.closing_balance,
            Reconciliation.currency,
            Reconciliation.lines,
            Reconciliation.sha256,
        ).where(Reconciliation.group_id == group_id)
    )
    return {seq: tuple(rest) for seq, *rest in rows}  # type: ignore[misc]


_ENTRY_COLUMNS = (
    Entry.seq,
    Entry.kind,
    Entry.occurred_on,
    Entry.recorded_at,
    Entry.memo,
    Entry.counterparty,
    Entry.reverses_seq,
    Entry.proposal_number,
    Entry.proposal_version,
    Entry.prev_hash,
    Entry.hash,
    Entry.leaf,
    Entry.policy_number,
    Entry.policy_version,
    Entry.decided_in,
    Entry.place_id,
    Entry.to_place_id,
    Entry.moved,
)
# The entry's columns, then one posting's, as ``_walk`` reads them.
_EntryRow = tuple[
    int,
    str,
    date,
    datetime,
    str,
    str | None,
    int | None,
    int | None,
    int | None,
    str,
    str,
    bytes,
    int | None,
    int | None,
    int | None,
    int | None,
    int | None,
    int | None,
]
_ENTRY_WIDTH = len(_ENTRY_COLUMNS)
_PostingRow = tuple[int, str, str, int, str]
_POSTING_COLUMNS = (
    Posting.fund_id,
    Posting.account,
    Posting.account_type,
    Posting.amount,
    Posting.currency,
)


def _walk(session: Session, group_id: int, checker: _Checker) -> None:
    """One pass over entries joined with their postings, in log order."""
    query = (
        select(*_ENTRY_COLUMNS, *_POSTING_COLUMNS)
        .outerjoin(Posting, Posting.entry_id == Entry.id)
        .where(Entry.group_id == group_id)
        .order_by(Entry.seq, Posting.position)
        .execution_options(yield_per=_BATCH)
    )
    current: _EntryRow | None = None
    postings: list[_PostingRow] = []
    for row in session.execute(query):
        if current is None or row[0] != current[0]:
            if current is not None:
                checker.entry(current, postings)
            current, postings = cast("_EntryRow", tuple(row[:_ENTRY_WIDTH])), []
        if row[_ENTRY_WIDTH] is not None:
            postings.append(cast("_PostingRow", tuple(row[_ENTRY_WIDTH:])))
    if current is not None:
        checker.entry(current, postings)


class _Checker:
    def __init__(
        self,
        group_slug: str,
        funds: dict[int, Fund],
        reversed_seqs: set[int],
        places: dict[int, Place],
    ) -> None:
        self.group_slug = group_slug
        self.funds = funds
        self.slugs = {fund_id: fund.slug for fund_id, fund in funds.items()}
        self.places = places
        default = next((place for place in places.values() if place.is_default), None)
        self.default_place = default
        # The rules of the log; the legs of an entry are kept only if a reversal names it.
        self.books = Books(
            (FundTerms(f.slug, f.currency, f.allow_negative, f.name) for f in funds.values()),
            keep=reversed_seqs,
            places=(
                PlaceTerms(p.slug, p.currency, p.allow_negative, p.name) for p in places.values()
            ),
            default_place=default.slug if default is not None else None,
        )
        # Which decisions the log holds, and what was paid under them (``ledger.decisions``).
        self.decisions = DecisionBook()
        self.count = 0
        self.seq = 0
        self.prev = ZERO_HASH
        self.tree = TreeBuilder()
        self._block: list[bytes] = []
        self.tile_nodes: list[bytes] = []  # the roots of each full 256 leaves, in order
        # The size of the latest signed checkpoint, and the root the entries give there:
        # checkpoints are signed in batches, so the newest entries may not be covered yet.
        self.checkpoint_size: int | None = None
        self.checkpoint_root: bytes | None = None
        # The attachments' rows not yet met in the log, by their leaf's seq.
        self.attachments: dict[int, _AttachmentRow] = {}
        # The reconciliations' rows not yet met in the log, by their leaf's seq.
        self.reconciliations: dict[int, _ReconciliationRow] = {}

    def entry(self, row: _EntryRow, postings: list[_PostingRow]) -> None:
        (
            seq,
            kind,
            occurred_on,
            recorded_at,
            memo,
            counterparty,
            reverses,
            p_number,
            p_version,
            prev_hash,
            entry_hash,
            leaf,
            policy_number,
            policy_version,
            decided_in,
            place_id,
            to_place_id,
            moved,
        ) = row
        expected = self.seq + 1
        if seq != expected:
            raise _Broken(expected, f"entry {expected} is missing")
        if prev_hash != self.prev:
            raise _Broken(seq, f"entry {seq} does not follow the previous entry's hash")
        if kind == ATTACHMENT:
            self._attachment(row, postings)
            return
        if kind == RECONCILIATION:
            self._reconciliation(row, postings)
            return
        # A decision's body lives in its leaf alone (read strictly); the rest of the leaf is
        # re-derived from the row like any entry's.
        decision: LeafDecisionDoc | None = None
        if kind == "decision":
            try:
                decision = parse_leaf(leaf).decision
            except ValueError as exc:
                raise _Broken(seq, f"entry {seq} is not a canonical leaf ({exc})") from exc
        try:
            # Where: the entry's place, named in the leaf unless it is the default; a move
            # (or its reversal) has a move's part and no postings.
            place = None if place_id is None else self.places[place_id]
            in_leaf = None if place is None or place.is_default else place.slug
            move: Move | None = None
            if moved is not None:
                leaves = place or self.default_place
                arrives = None if to_place_id is None else self.places[to_place_id]
                if leaves is None or arrives is None:
                    raise ValueError("a move between places the group does not have")
                move = Move(leaves.slug, arrives.slug, moved, leaves.currency)
                in_leaf = None
            legs = [
                Leg(account, self.slugs[fund_id], amount, currency, in_leaf)
                for fund_id, account, _, amount, currency in postings
            ]
            if move is not None:
                legs = [*move.legs(), *legs]
            document = leaf_document(
                group=self.group_slug,
                seq=seq,
                kind=kind,
                occurred_on=occurred_on,
                recorded_at=recorded_at,
                memo=memo,
                counterparty=counterparty,
                postings=[] if move is not None else [*legs],
                reverses=reverses,
                proposal=(p_number, p_version)
                if p_number is not None and p_version is not None
                else None,
                prev=prev_hash,
                policy=(policy_number, policy_version)
                if policy_number is not None and policy_version is not None
                else None,
                decided_in=decided_in,
                decision=None if decision is None else msgspec.to_builtins(decision),
                place=in_leaf,
                move=move,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise _Broken(seq, f"entry {seq} cannot be read: {exc}") from exc
        _check_leaf(seq, document, leaf, entry_hash)
        try:
            self.books.record(kind, legs, reverses, occurred_on)
            self._authority(seq, kind, legs, row, decision)
        except LedgerError as broken:
            raise _Broken(seq, f"entry {seq} {broken.in_log}") from broken
        self._add(seq, entry_hash)

    def _add(self, seq: int, entry_hash: str) -> None:
        self.count += 1
        self.seq = seq
        self.prev = entry_hash
        hashed = bytes.fromhex(entry_hash)
        self.tree.append(hashed)
        # Every 256 leaves, the level-1 tile hash over them (kept tiles are checked at the end).
        self._block.append(hashed)
        if len(self._block) == TILE_WIDTH:
            self.tile_nodes.append(perfect_root(self._block))
            self._block = []
        if seq == self.checkpoint_size:
            self.checkpoint_root = self.tree.root()

    def _attachment(self, row: _EntryRow, postings: list[_PostingRow]) -> None:
        """A file attached to an earlier entry: its leaf re-derived from the entry's and the
        attachment's rows, and the rule that it names an earlier entry that moves money."""
        seq, _, occurred_on, recorded_at, memo = row[:5]
        prev_hash, entry_hash, leaf = row[9:12]
        found = self.attachments.pop(seq, None)
        if found is None:
            raise _Broken(seq, f"entry {seq} is an attached file the database does not hold")
        if postings or memo or any(part is not None for part in (*row[5:9], *row[12:])):
            raise _Broken(seq, f"entry {seq} attaches a file but also holds parts of a money entry")
        entry, sha256, content_type, size = found
        if content_type not in ATTACHMENT_TYPES:
            raise _Broken(seq, f"entry {seq} states a file type {content_type!r}")
        document = attachment_leaf_document(
            group=self.group_slug,
            seq=seq,
            occurred_on=occurred_on,
            recorded_at=recorded_at,
            entry=entry,
            sha256=sha256,
            content_type=content_type,
            size=size,
            prev=prev_hash,
        )
        _check_leaf(seq, document, leaf, entry_hash)
        try:
            self.books.attach(entry)
        except LedgerError as broken:
            raise _Broken(seq, f"entry {seq} {broken.in_log}") from broken
        self._add(seq, entry_hash)

    def _reconciliation(self, row: _EntryRow, postings: list[_PostingRow]) -> None:
        """A place reconciled with its bank: its leaf re-derived from the entry's and the
        reconciliation's rows, and the log's rule (``Books.reconcile``)."""
        seq, _, occurred_on, recorded_at, memo = row[:5]
        prev_hash, entry_hash, leaf = row[9:12]
        found = self.reconciliations.pop(seq, None)
        if found is None:
            raise _Broken(seq, f"entry {seq} is a reconciliation the database does not hold")
        if postings or memo or any(part is not None for part in (*row[5:9], *row[12:])):
            raise _Broken(
                seq, f"entry {seq} is a reconciliation but also holds parts of a money entry"
            )
        place_id, through, balance, currency, lines, sha256 = found
        place = self.places.get(place_id)
        if place is None:
            raise _Broken(seq, f"entry {seq} reconciles a place the group does not have")
        document = reconciliation_leaf_document(
            group=self.group_slug,
            seq=seq,
            occurred_on=occurred_on,
            recorded_at=recorded_at,
            place=place.slug,
            through=through,
            balance=balance,
            currency=currency,
            lines=lines,
            sha256=sha256,
            prev=prev_hash,
        )
        _check_leaf(seq, document, leaf, entry_hash)
        try:
            self.books.reconcile(place.slug, through, balance, currency)
        except LedgerError as broken:
            raise _Broken(seq, f"entry {seq} {broken.in_log}") from broken
        self._add(seq, entry_hash)

    def finish_reconciliations(self) -> None:
        """Every reconciliation's row is a leaf of the log, and each place's last
        reconciled day, kept with the place, is the one the log says."""
        if self.reconciliations:
            seq = min(self.reconciliations)
            raise _Broken(seq, f"the reconciliation recorded as entry {seq} is not in the log")
        for place in self.places.values():
            through = place.reconciled_through
            kept = None if through is None else through.isoformat()
            if kept != self.books.reconciled.get(place.slug):
                raise _Broken(
                    None,
                    f"the place {place.slug!r} is kept as reconciled through {kept}, but the "
                    f"log says {self.books.reconciled.get(place.slug)}",
                )

    def finish_tiles(self, kept: Sequence[LogTile]) -> None:
        """Each tile kept in ``log_tiles`` is the one the entries make (or, for a partial
        tile, its beginning)."""
        nodes = {1: self.tile_nodes}  # level -> that level's hashes
        for tile in sorted(kept, key=lambda tile: (tile.level, tile.tile_index)):
            for level in range(2, tile.level + 1):
                if level not in nodes:
                    below = nodes[level - 1]
                    nodes[level] = [
                        perfect_root(below[start : start + TILE_WIDTH])
                        for start in range(0, len(below) - TILE_WIDTH + 1, TILE_WIDTH)
                    ]
            # A full tile, or the log's last, partial tile of level 1 as far as it is kept.
            width = len(tile.hashes) // HASH_SIZE
            start = tile.tile_index * TILE_WIDTH
            made = nodes[tile.level][start : start + width]
            if not 0 < width <= TILE_WIDTH or len(made) < width or b"".join(made) != tile.hashes:
                raise _Broken(
                    None,
                    f"the kept tile {tile.level}/{tile.tile_index} of the log does not match "
                    "the entries",
                )

    def finish_attachments(self) -> None:
        """Every attachment's row is a leaf of the log."""
        if self.attachments:
            seq = min(self.attachments)
            raise _Broken(seq, f"the attachment recorded as entry {seq} is not in the log")

    def _authority(
        self,
        seq: int,
        kind: str,
        legs: list[Leg],
        row: _EntryRow,
        decision: LeafDecisionDoc | None,
    ) -> None:
        """The rule that payments follow decisions (``ledger.decisions``), for this entry."""
        p_number, p_version, decided_in = row[7], row[8], row[14]
        if decision is not None:
            if p_number is None or p_version is None:
                raise LedgerError("", in_log="is a decision of no proposal")
            self.decisions.decision(seq, p_number, p_version, decision)
        elif kind == "reversal" and row[6] is not None:
            self.decisions.reversal(row[6])
        elif kind == "disbursement":
            holding = [leg for leg in legs if leg.holding]
            if len(holding) != 1:
                raise LedgerError("", in_log="is a payment that does not take money from one fund")
            self.decisions.payment(
                seq,
                proposal=None if p_number is None or p_version is None else (p_number, p_version),
                policy=None if row[12] is None or row[13] is None else (row[12], row[13]),
                decided_in=decided_in,
                fund=holding[0].fund,
                amount=-holding[0].amount,
                currency=holding[0].currency,
                counterparty=row[5],
                occurred_on=row[2].isoformat(),
                recorded_on=row[3].astimezone(UTC).date().isoformat(),
            )
        elif decided_in is not None:
            raise LedgerError("", in_log="names a decision but is not a payment")

    def finish(self, state: LogState | None, latest: Checkpoint | None) -> None:
        if state is None:
            raise _Broken(None, "the group has no log")
        if state.size > self.seq:
            raise _Broken(self.seq + 1, f"entry {self.seq + 1} is missing")
        if state.size != self.seq or state.head_hash != self.prev:
            raise _Broken(None, "the log's recorded head differs from its last entry")
        root = self.tree.root()
        if CompactRange.from_json(state.merkle).root() != root:
            raise _Broken(None, "the log's recorded Merkle tree differs from its entries")
        if latest is not None and (
            self.checkpoint_root is None or latest.root_hash != self.checkpoint_root.hex()
        ):
            raise _Broken(
                None,
                f"the latest signed checkpoint (size {latest.size}) does not match the entries",
            )
        balances = self.books.balances
        for fund in self.funds.values():
            # SQLite turns an integer sum that overflows 64 bits into a float: a balance
            # must be a whole number within the ledger's bounds before it can be compared.
            if type(fund.balance) is not int or abs(fund.balance) > MAX_BALANCE:
                raise _Broken(
                    None,
                    f"the stored balance of fund {fund.slug!r} is not a whole number of "
                    f"minor units within the ledger's bounds ({fund.balance!r})",
                )
            if fund.balance != balances.get(fund.slug, 0):
                raise _Broken(
                    None,
                    f"the stored balance of fund {fund.slug!r} differs from "
                    "the sum of its postings",
                )
        held = self.books.place_balances
        for place in self.places.values():
            if type(place.balance) is not int or place.balance != held.get(place.slug, 0):
                raise _Broken(
                    None,
                    f"the stored balance of place {place.slug!r} differs from "
                    "what the entries put there",
                )
