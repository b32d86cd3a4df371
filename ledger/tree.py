"""A group's log read through its tiles, as a tlog-tiles client reads it: the tiles kept in
``log_tiles`` (full tiles above level 0, built once by the checkpoint signer), the rest built
from the entries' hashes under them. Proofs read a few tiles and at most the leaves of one
partial tile of level 1, whatever the log's size."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.merkle import HASH_SIZE
from ledger.models import Entry, LogTile
from ledger.tiles import (
    TILE_HEIGHT,
    TILE_WIDTH,
    Tile,
    TileReader,
    hash_tile,
    parse_hash_tile,
    parse_tile_path,
    perfect_root,
)


async def tile_hashes(session: AsyncSession, group_id: int, tile: Tile) -> bytes:
    """The bytes of hash tile ``tile`` of a group's log, which holds all of it (callers
    check): a full tile above level 0 as kept in ``log_tiles`` (``keep_tiles``), otherwise
    built: at levels 0 and 1 from the leaf hashes under it (one read), above from the tiles
    of the level below (each of its hashes is the root of one full tile there)."""
    level = tile.hash_level
    if level >= 1 and tile.full:
        kept = await session.scalar(
            select(LogTile.hashes).where(
                LogTile.group_id == group_id,
                LogTile.level == level,
                LogTile.tile_index == tile.index,
            )
        )
        if kept is not None:
            return kept
    if level <= 1:
        first, count = tile.first_leaf(), tile.width * tile.leaves_per_hash()
        hashes = await session.scalars(
            select(Entry.hash)
            .where(Entry.group_id == group_id, Entry.seq > first, Entry.seq <= first + count)
            .order_by(Entry.seq)
        )
        return hash_tile(tile, [bytes.fromhex(h) for h in hashes])
    below = [
        await tile_hashes(session, group_id, Tile(level - 1, tile.index * TILE_WIDTH + i))
        for i in range(tile.width)
    ]
    return b"".join(perfect_root(parse_hash_tile(data, TILE_WIDTH)) for data in below)


async def keep_tiles(session: AsyncSession, group_id: int, size: int) -> int:
    """Build and keep each full tile above level 0 that a log of ``size`` leaves holds and
    ``log_tiles`` does not yet, lowest level first; how many were kept. A log of fewer than
    65,536 leaves has none. Tiles are kept in order, so a level's count is its next index;
    a tile another process kept meanwhile is left as it is."""
    dialect = session.get_bind().dialect.name
    make_insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    kept = 0
    level = 1
    while full := size >> (TILE_HEIGHT * (level + 1)):
        have = await session.scalar(
            select(func.count())
            .select_from(LogTile)
            .where(LogTile.group_id == group_id, LogTile.level == level)
        )
        for index in range(have or 0, full):
            hashes = await tile_hashes(session, group_id, Tile(level, index))
            await session.execute(
                make_insert(LogTile)
                .values(group_id=group_id, level=level, tile_index=index, hashes=hashes)
                .on_conflict_do_nothing()
            )
            kept += 1
        level += 1
    return kept


async def tree_reader(
    session: AsyncSession, group_id: int, size: int, use: Callable[[TileReader], object]
) -> TileReader:
    """A reader of the tree of ``size`` leaves holding the tiles that ``use`` reads.

    Which tiles a proof or a root reads depends only on the sizes and indexes, never on the
    hashes: ``use`` runs first on a reader that notes each tile it asks for, then those
    tiles are read (a few, kept or built by ``tile_hashes``) for the reader returned."""
    asked: set[str] = set()

    def note(path: str) -> bytes:
        asked.add(path)
        return bytes(parse_tile_path(path).width * HASH_SIZE)

    use(TileReader(size, note))
    tiles = {
        path: await tile_hashes(session, group_id, parse_tile_path(path)) for path in sorted(asked)
    }
    return TileReader(size, tiles.__getitem__)
