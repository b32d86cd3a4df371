"""A log keeps its full tiles above level 0 and its last, partial tile of level 1
(``log_tiles``), built by the checkpoint signer once the log holds them: served tiles and
proofs read those few rows instead of every leaf hash under them, and say exactly what they
said when built from the leaves."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from litestar import Litestar
from sqlalchemy import event, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bench.generate import generate
from ledger import log, tree
from ledger.merkle import leaf_hash, verify_consistency, verify_inclusion
from ledger.models import Entry, LogTile
from ledger.tiles import Tile, hash_tile, parse_hash_tile, perfect_root
from ledger.verify import verify_group
from tests.support.people import World

# One full tile of level 1 (65,536 leaves) and a little more.
SIZE = 65_536 + 700


@contextmanager
def leaves_read(engine: AsyncEngine) -> Iterator[list[int]]:
    """How many leaf hashes each read of the entries' hashes in the block asked for."""
    rows_read: list[int] = []

    def count(_conn, _cursor, statement: str, parameters, _context, _many) -> None:  # type: ignore[no-untyped-def]
        if "entries.hash" in statement and "entries.seq >" in statement:
            _, first, last = list(parameters)
            rows_read.append(last - first)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        yield rows_read
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)


async def test_full_tiles_are_kept_once_and_proofs_then_read_a_few_rows(
    app: Litestar, session: AsyncSession, world: World, engine: AsyncEngine
) -> None:
    group = await world.fresh_group(session)
    await generate(session, group.slug, SIZE)
    await session.commit()

    # Before any tile is kept: everything is built from the entries' hashes.
    built = [await log.prove_inclusion(session, group, seq, SIZE) for seq in (1, 40_000, SIZE)]
    before = await log.prove_consistency(session, group, 1_000, SIZE)
    level_one = await tree.tile_hashes(session, group.id, Tile(1, 0))
    level_two = await log.read_tile(session, group, Tile(2, 0, 1))

    # Signed when the log was a little smaller, it kept the first tile of level 1 as far
    # as it went (253 of its 256 hashes); the full tile takes its place.
    assert await tree.keep_tiles(session, group.id, 65_000) == 0
    first = select(LogTile.hashes).where(LogTile.group_id == group.id, LogTile.level == 1)
    assert await session.scalar(first) == level_one[: 253 * 32]
    notary = app.state.notary
    assert await log.sign_pending(session, notary, datetime.now(UTC)) == 1
    await session.commit()
    kept = (await session.scalars(select(LogTile).where(LogTile.group_id == group.id))).all()
    # The full tile of level 1, and the beginning of the next: a hash for each complete 256
    # leaves of the last 700.
    assert [(tile.level, tile.tile_index, len(tile.hashes)) for tile in kept] == [
        (1, 0, 256 * 32),
        (1, 1, 2 * 32),
    ]
    hashes = [
        bytes.fromhex(h)
        for h in await session.scalars(
            select(Entry.hash).where(Entry.group_id == group.id).order_by(Entry.seq)
        )
    ]
    assert kept[0].hashes == level_one == hash_tile(Tile(1, 0), hashes)
    assert level_two == perfect_root(parse_hash_tile(level_one, 256))
    assert await tree.keep_tiles(session, group.id, SIZE) == 0  # kept once

    # After: the same proofs, checked against the signed root, from a few rows.
    with leaves_read(engine) as rows_read:
        again = [await log.prove_inclusion(session, group, seq, SIZE) for seq in (1, 40_000, SIZE)]
        after = await log.prove_consistency(session, group, 1_000, SIZE)
        assert await log.read_tile(session, group, Tile(2, 0, 1)) == level_two
    assert again == built
    assert after == before
    # Each proof reads level-0 tiles (256 hashes at most), never the 65,536 leaves under
    # the kept tile nor the 512 under the kept part of the partial one.
    assert rows_read
    assert max(rows_read) <= 256
    root = (await log.latest_checkpoint(session, group)).root_hash
    for proof in again:
        assert proof.root == root
        assert verify_inclusion(
            bytes.fromhex(proof.leaf_hash),
            proof.leaf_index,
            SIZE,
            [bytes.fromhex(node) for node in proof.audit_path],
            bytes.fromhex(root),
        )
    assert bytes.fromhex(again[0].leaf_hash) == hashes[0] != leaf_hash(b"")
    assert verify_consistency(
        1_000,
        SIZE,
        bytes.fromhex((await log.prove_inclusion(session, group, 1, 1_000)).root),
        bytes.fromhex(root),
        [bytes.fromhex(node) for node in after],
    )

    # The database verifier checks kept tiles against the entries.
    assert (await verify_group(session, group)).ok
    await session.execute(
        update(LogTile)
        .where(LogTile.group_id == group.id, LogTile.level == 1, LogTile.tile_index == 0)
        .values(hashes=bytes(32) + level_one[32:])
    )
    report = await verify_group(session, group)
    assert not report.ok
    assert report.problem == "the kept tile 1/0 of the log does not match the entries"


async def test_the_partial_tile_of_level_one_grows_with_the_log(
    app: Litestar, session: AsyncSession, world: World, engine: AsyncEngine
) -> None:
    """A log under 65,536 leaves keeps a hash for each complete 256 of its leaves as the
    signer reaches them, so its proofs read at most the leaves of one level-0 tile; the row
    only grows, and the verifier checks it."""
    group = await world.fresh_group(session)
    await generate(session, group.slug, 1_000)
    await session.commit()
    built = [await log.prove_inclusion(session, group, seq, 1_000) for seq in (1, 600, 1_000)]
    older = await log.prove_inclusion(session, group, 300, 700)
    consistency = await log.prove_consistency(session, group, 300, 1_000)
    hashes = [
        bytes.fromhex(h)
        for h in await session.scalars(
            select(Entry.hash).where(Entry.group_id == group.id).order_by(Entry.seq)
        )
    ]

    async def kept() -> bytes:
        return await session.scalar(
            select(LogTile.hashes).where(LogTile.group_id == group.id, LogTile.level == 1)
        )

    assert await tree.keep_tiles(session, group.id, 255) == 0
    assert await kept() is None  # no complete 256 leaves yet
    await tree.keep_tiles(session, group.id, 600)
    assert await kept() == hash_tile(Tile(1, 0, 2), hashes)
    await tree.keep_tiles(session, group.id, 1_000)
    assert await kept() == hash_tile(Tile(1, 0, 3), hashes)
    await tree.keep_tiles(session, group.id, 600)  # an older size never shrinks it
    assert await kept() == hash_tile(Tile(1, 0, 3), hashes)
    await session.commit()

    with leaves_read(engine) as rows_read:
        again = [await log.prove_inclusion(session, group, seq, 1_000) for seq in (1, 600, 1_000)]
        assert await log.prove_inclusion(session, group, 300, 700) == older
        assert await log.prove_consistency(session, group, 300, 1_000) == consistency
        assert await log.read_tile(session, group, Tile(1, 0, 3)) == hash_tile(
            Tile(1, 0, 3), hashes
        )
    assert again == built
    assert rows_read
    assert max(rows_read) <= 256

    assert (await verify_group(session, group)).ok
    await session.execute(
        update(LogTile)
        .where(LogTile.group_id == group.id, LogTile.level == 1)
        .values(hashes=hash_tile(Tile(1, 0, 2), hashes) + bytes(32))
    )
    report = await verify_group(session, group)
    assert not report.ok
    assert report.problem == "the kept tile 1/0 of the log does not match the entries"
