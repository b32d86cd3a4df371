"""The group's log as a Merkle tree: signed checkpoints and proofs (RFC 9162, C2SP).

``record_entry`` appends each leaf to the compact range kept in ``log_states`` and asks the
``Notary`` to sign a checkpoint of the new tree; this module serves what outsiders check:
the latest checkpoint, inclusion proofs and consistency proofs.
"""

from __future__ import annotations

import base64
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.canonical import canonical_json, leaf_hash_hex
from ledger.checkpoint import SigningKey
from ledger.errors import InvalidInput, NotFound, NotYet
from ledger.merkle import CompactRange
from ledger.models import Checkpoint, Entry, Group, LogState
from ledger.tiles import Tile, entry_bundle, tiles_of
from ledger.tree import keep_tiles, tile_hashes, tree_reader
from ledger.witnesses import cosignatures_of


@dataclass(frozen=True)
class Notary:
    """Signs checkpoints of every group's log with the instance's key.

    The origin line names the instance and the group (``<host>/g/<group>``), so a checkpoint
    of one group can never pass for another's."""

    key: SigningKey
    host: str
    # Sign in each append's transaction (True), or leave it to ``sign_pending`` batches.
    on_append: bool = True

    def origin(self, group_slug: str) -> str:
        return f"{self.host}/g/{group_slug}"

    def sign(self, group_slug: str, size: int, root: bytes) -> str:
        return self.key.sign_checkpoint(self.origin(group_slug), size, root)


def add_leaf(
    session: AsyncSession,
    group: Group,
    log: LogState,
    kind: str,
    document: Mapping[str, Any],
    *,
    recorded_by: int | None,
    notary: Notary | None,
    now: datetime,
) -> None:
    """Append a leaf that moves no money (an attached file, a reconciliation) to the
    group's locked ``log``: its row of ``entries`` with the leaf as hashed, the log's new
    head, and the head signed in the same transaction when the notary signs each append
    (otherwise ``sign_pending`` signs it in its next batch). Entries and decisions have
    their own statements."""
    leaf = canonical_json(document)
    leaf_hash = leaf_hash_hex(leaf)
    seq = log.size + 1
    session.add(
        Entry(
            group_id=group.id,
            seq=seq,
            kind=kind,
            occurred_on=now.date(),
            recorded_at=now,
            memo="",
            recorded_by=recorded_by,
            prev_hash=log.head_hash,
            hash=leaf_hash,
            leaf=leaf,
        )
    )
    tree = CompactRange.from_json(log.merkle).append(bytes.fromhex(leaf_hash))
    log.size, log.head_hash, log.merkle = seq, leaf_hash, tree.to_json()
    if notary is not None and notary.on_append:
        root = tree.root()
        session.add(
            Checkpoint(
                group_id=group.id,
                size=seq,
                root_hash=root.hex(),
                note=notary.sign(group.slug, seq, root),
                signed_at=now,
            )
        )


async def latest_checkpoint(session: AsyncSession, group: Group) -> Checkpoint:
    result = await session.scalars(
        select(Checkpoint)
        .where(Checkpoint.group_id == group.id)
        .order_by(Checkpoint.size.desc())
        .limit(1)
    )
    checkpoint = result.one_or_none()
    if checkpoint is None:
        if await _size(session, group):
            # Checkpoints are signed in batches off the appends' path: the first one follows
            # the first entry within the interval.
            raise NotYet(
                f"The first checkpoint of group {group.slug!r} is being signed; "
                "ask again in a moment."
            )
        raise NotFound(f"Group {group.slug!r} has no entries yet, so no checkpoint.")
    return checkpoint


async def published_checkpoint(session: AsyncSession, group: Group) -> str:
    """The latest checkpoint as published: the signed note, and after the log's signature
    the cosignatures its witnesses gave it (C2SP tlog-cosignature lines)."""
    checkpoint = await latest_checkpoint(session, group)
    cosignatures = await cosignatures_of(session, group.id, checkpoint.size)
    return checkpoint.note + "".join(cosignature.line for cosignature in cosignatures)


async def checkpoints(session: AsyncSession, group: Group) -> list[Checkpoint]:
    result = await session.scalars(
        select(Checkpoint).where(Checkpoint.group_id == group.id).order_by(Checkpoint.size)
    )
    return list(result)


async def _size(session: AsyncSession, group: Group) -> int:
    state = await session.get(LogState, group.id)
    return state.size if state else 0


def _check_size(size: int, log_size: int, field: str) -> None:
    if not 1 <= size <= log_size:
        raise InvalidInput(f"{field} must be between 1 and the log's size {log_size}.", field=field)


@dataclass(frozen=True, slots=True)
class InclusionProof:
    seq: int
    leaf_index: int
    tree_size: int
    leaf_hash: str
    audit_path: list[str]
    root: str


async def prove_inclusion(
    session: AsyncSession, group: Group, seq: int, size: int | None
) -> InclusionProof:
    """RFC 9162 inclusion proof of entry ``seq`` (leaf index seq - 1) in the tree of ``size``
    leaves (default: the whole log)."""
    log_size = await _size(session, group)
    size = log_size if size is None else size
    _check_size(size, log_size, "size")
    if not 1 <= seq <= size:
        raise InvalidInput(f"Entry {seq} is not in a tree of {size} entries.", field="seq")
    tree = await tree_reader(
        session,
        group.id,
        size,
        lambda reader: (reader.inclusion_proof(seq - 1), reader.leaf_hash(seq - 1), reader.root()),
    )
    return InclusionProof(
        seq=seq,
        leaf_index=seq - 1,
        tree_size=size,
        leaf_hash=tree.leaf_hash(seq - 1).hex(),
        audit_path=[node.hex() for node in tree.inclusion_proof(seq - 1)],
        root=tree.root().hex(),
    )


async def prove_consistency(
    session: AsyncSession, group: Group, first: int, second: int
) -> list[str]:
    """RFC 9162 consistency proof between the trees of ``first`` and ``second`` leaves."""
    log_size = await _size(session, group)
    _check_size(second, log_size, "to")
    if not 1 <= first <= second:
        raise InvalidInput("from must be between 1 and to.", field="from")
    tree = await tree_reader(
        session, group.id, second, lambda reader: reader.consistency_proof(first)
    )
    return [node.hex() for node in tree.consistency_proof(first)]


async def read_tile(session: AsyncSession, group: Group, tile: Tile) -> bytes:
    """A tile's bytes (NotFound when the log does not hold it yet): an entry bundle from the
    entries, a hash tile from ``tile_hashes``."""
    if tile.needs_size() > await _size(session, group):
        raise NotFound(f"The log of {group.slug!r} has no {tile.path()} yet.")
    return await _tile_bytes(session, group, tile)


async def _tile_bytes(session: AsyncSession, group: Group, tile: Tile) -> bytes:
    """The bytes of a tile the log holds (callers check)."""
    if tile.level is None:
        first = tile.first_leaf()  # leaf index: entries count from seq 1
        leaves = await session.scalars(
            select(Entry.leaf)
            .where(Entry.group_id == group.id, Entry.seq > first, Entry.seq <= first + tile.width)
            .order_by(Entry.seq)
        )
        return entry_bundle(list(leaves))
    return await tile_hashes(session, group.id, tile)


@dataclass(frozen=True, slots=True)
class TilesWritten:
    size: int
    written: int
    kept: int


async def write_tiles(session: AsyncSession, group: Group, directory: Path) -> TilesWritten:
    """Write the log of ``group`` as tiles under ``directory`` (``checkpoint``, ``tile/...``),
    up to its latest checkpoint, for any static web server to serve.

    Incremental: a full tile already there is kept as it is (it can never change); new full
    tiles and the partial tiles of the checkpoint's size are written, each atomically, and
    the checkpoint last, so a reader never sees a checkpoint whose tiles are missing.
    """
    checkpoint = await latest_checkpoint(session, group)
    size = checkpoint.size
    wanted = [
        tile for tile in tiles_of(size) if not (tile.full and (directory / tile.path()).exists())
    ]
    for tile in wanted:  # (the log holds each: they are tiles of a size it signed)
        _write_atomically(directory / tile.path(), await _tile_bytes(session, group, tile))
    _write_atomically(directory / "checkpoint", checkpoint.note.encode())
    kept = sum(1 for tile in tiles_of(size) if tile.full) - sum(1 for t in wanted if t.full)
    return TilesWritten(size=size, written=len(wanted) + 1, kept=kept)


def _write_atomically(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.chmod(temporary, 0o644)  # served to anyone, as the files of a web root are
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


async def sign_pending(session: AsyncSession, notary: Notary, now: datetime) -> int:
    """Sign the head of every log that has entries its latest checkpoint does not cover
    (and keep its new tiles): the batch that replaces signing in each append's
    transaction. The head is read as one
    committed row (size and compact range together), so the checkpoint is always of a tree
    the log really had; a size another process signed meanwhile is left as it is."""
    covered = (
        select(Checkpoint.group_id, func.max(Checkpoint.size).label("size"))
        .group_by(Checkpoint.group_id)
        .subquery()
    )
    rows = await session.execute(
        select(LogState.group_id, LogState.size, LogState.merkle, Group.slug)
        .join(Group, Group.id == LogState.group_id)
        .outerjoin(covered, covered.c.group_id == LogState.group_id)
        .where(LogState.size > func.coalesce(covered.c.size, 0))
    )
    dialect = session.get_bind().dialect.name
    make_insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    signed = 0
    for group_id, size, merkle, slug in rows.tuples():
        tree = CompactRange.from_json(merkle)
        if tree.size != size:  # never sign a head whose tree disagrees with its size
            continue
        root = tree.root()
        await session.execute(
            make_insert(Checkpoint)
            .values(
                group_id=group_id,
                size=size,
                root_hash=root.hex(),
                note=notary.sign(slug, size, root),
                signed_at=now,
            )
            .on_conflict_do_nothing()
        )
        # A log that grew past a tile boundary keeps its new tiles (cheap otherwise: one
        # read of its partial level-1 tile, and one count per level it has full tiles of).
        await keep_tiles(session, group_id, size)
        signed += 1
    return signed


def root_base64(root_hex: str) -> str:
    return base64.b64encode(bytes.fromhex(root_hex)).decode("ascii")
