"""A group's log read through its tiles, as a tlog-tiles client reads it: the tiles kept in
``log_tiles`` (full tiles above level 0 and the last, partial tile of level 1, built by the
checkpoint signer), the rest built from the entries' hashes under them. A proof of a size
the signer has reached reads a few tiles, none built from more than 256 leaf hashes,
whatever the log's size."""

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
    TileError,
    TileReader,
    level_hashes,
    parse_hash_tile,
    parse_tile_path,
    perfect_root,
)


async def _kept(session: AsyncSession, group_id: int, level: int, index: int) -> bytes:
    """The hashes kept in ``log_tiles`` for a tile (empty when none are)."""
    kept = await session.scalar(
        select(LogTile.hashes).where(
            LogTile.group_id == group_id, LogTile.level == level, LogTile.tile_index == index
        )
    )
    return kept or b""


async def tile_hashes(session: AsyncSession, group_id: int, tile: Tile) -> bytes:
    """The bytes of hash tile ``tile`` of a group's log, which holds all of it (callers
    check). Above level 0 its hashes kept in ``log_tiles`` (``keep_tiles``) are used, as
    far as they go; the rest is built: at levels 0 and 1 from the leaf hashes under it (one
    read), above from the tiles of the level below (each of its hashes is the root of one
    full tile there)."""
    level, width = tile.hash_level, tile.width * HASH_SIZE
    # Kept: full tiles above level 0, and the last tile of level 1 as far as it goes.
    is_kept = level >= 1 and (tile.full or level == 1)
    kept = (await _kept(session, group_id, level, tile.index))[:width] if is_kept else b""
    if len(kept) == width:
        return kept
    if level <= 1:
        # A hash kept stands for a complete subtree, so it never changes: only the hashes
        # after the kept ones are built, from the leaves under them.
        per_hash = tile.leaves_per_hash()
        first = tile.first_leaf() + len(kept) // HASH_SIZE * per_hash
        count = tile.width * per_hash - (first - tile.first_leaf())
        leaves = [
            bytes.fromhex(h)
            for h in await session.scalars(
                select(Entry.hash)
                .where(Entry.group_id == group_id, Entry.seq > first, Entry.seq <= first + count)
                .order_by(Entry.seq)
            )
        ]
        if len(leaves) < count:
            raise TileError(f"{tile.path()} needs {count} more leaves than the log holds")
        return kept + b"".join(level_hashes(leaves, level))
    below = [
        await tile_hashes(session, group_id, Tile(level - 1, tile.index * TILE_WIDTH + i))
        for i in range(tile.width)
    ]
    return b"".join(perfect_root(parse_hash_tile(data, TILE_WIDTH)) for data in below)


async def _keep(
    session: AsyncSession, group_id: int, level: int, index: int, hashes: bytes
) -> None:
    """Keep a tile's hashes; a row already kept only ever grows (its hashes are a prefix
    of the new ones), so a tile another process kept meanwhile is left as it is."""
    dialect = session.get_bind().dialect.name
    make_insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = make_insert(LogTile).values(
        group_id=group_id, level=level, tile_index=index, hashes=hashes
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[LogTile.group_id, LogTile.level, LogTile.tile_index],
            set_={"hashes": statement.excluded.hashes},
            where=func.length(LogTile.hashes) < func.length(statement.excluded.hashes),
        )
    )


async def keep_tiles(session: AsyncSession, group_id: int, size: int) -> int:
    """Build and keep each full tile above level 0 that a log of ``size`` leaves holds and
    ``log_tiles`` does not yet, lowest level first, and the hashes of the last, partial
    tile of level 1 (one per complete 256 leaves); how many full tiles were kept. Full
    tiles are kept in order, so a level's count of full rows is its next index.

    With the partial tile of level 1 kept, a proof or a tile of a size up to ``size`` reads
    no more leaves than a level-0 tile holds; keeping it costs one read of that row per
    signing, and hashing the new leaves once every 256 entries."""
    kept = 0
    level = 1
    while full := size >> (TILE_HEIGHT * (level + 1)):
        have = await session.scalar(
            select(func.count())
            .select_from(LogTile)
            .where(
                LogTile.group_id == group_id,
                LogTile.level == level,
                func.length(LogTile.hashes) == TILE_WIDTH * HASH_SIZE,
            )
        )
        for index in range(have or 0, full):
            hashes = await tile_hashes(session, group_id, Tile(level, index))
            await _keep(session, group_id, level, index, hashes)
            kept += 1
        level += 1
    index, width = size >> (2 * TILE_HEIGHT), (size >> TILE_HEIGHT) % TILE_WIDTH
    if width and len(await _kept(session, group_id, 1, index)) < width * HASH_SIZE:
        partial = Tile(1, index, width)
        await _keep(session, group_id, 1, index, await tile_hashes(session, group_id, partial))
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
