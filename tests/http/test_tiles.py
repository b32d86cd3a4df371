"""A group's log served as C2SP tlog-tiles: a client holding only the verifier key and the
tiles checks inclusion and consistency against the signed checkpoint; full tiles never
change; ``commonpurse tiles`` writes the same files, incrementally."""

from __future__ import annotations

import asyncio
from pathlib import Path

from click.testing import CliRunner
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.cli import main
from app.settings import Settings
from ledger import service
from ledger.checkpoint import Checkpoint, Verifier, verify_note
from ledger.log import write_tiles
from ledger.merkle import leaf_hash, verify_consistency, verify_inclusion
from ledger.schemas import DonationIn
from ledger.tiles import TileReader, tiles_of
from tests.support.people import World, build_world

Client = AsyncTestClient[Litestar]


async def record(session: AsyncSession, app: Litestar, world: World, count: int) -> None:
    group = await world.fresh_group(session)
    for i in range(count):
        await service.record_entry(
            session,
            group,
            DonationIn(fund="groceries", amount=f"{i % 50 + 1}.00", memo=f"gift {i}"),
            recorded_by=None,
            notary=app.state.notary,
        )
    await session.commit()


async def served(client: Client, slug: str) -> tuple[Checkpoint, dict[str, bytes]]:
    """The checkpoint, verified with the published key, and every tile it needs."""
    vkey = (await client.get("/.well-known/commonpurse-key")).text
    answer = await client.get(f"/g/{slug}/log/checkpoint")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/plain; charset=utf-8"
    assert answer.headers["cache-control"] == "public, max-age=5"
    checkpoint = verify_note(answer.text, Verifier.from_vkey(vkey))
    files = {}
    for tile in tiles_of(checkpoint.size):
        response = await client.get(f"/g/{slug}/log/{tile.path()}")
        assert response.status_code == 200, (tile.path(), response.text)
        assert response.headers["content-type"] == "application/octet-stream"
        assert "set-cookie" not in response.headers
        expected = "max-age=31536000, immutable" if tile.full else "max-age=60"
        assert response.headers["cache-control"] == f"public, {expected}"
        files[tile.path()] = response.content
    return checkpoint, files


async def test_proofs_computed_from_the_tiles_alone_verify_against_the_checkpoint(
    client: Client, app: Litestar, session: AsyncSession, world: World
) -> None:
    await record(session, app, world, 300)
    early, early_files = await served(client, world.slug)
    assert early.size == 300
    await record(session, app, world, 250)
    latest, files = await served(client, world.slug)
    assert latest.size == 550

    reader = TileReader(latest.size, files.__getitem__)
    assert reader.root() == latest.root
    for index in (0, 255, 256, 299, 549):
        leaf = reader.leaves(index // 256)[index % 256]
        entry = (await client.get(f"/api/groups/{world.slug}/entries/{index + 1}")).json()
        assert leaf_hash(leaf).hex() == entry["hash"]
        proof = reader.inclusion_proof(index)
        assert verify_inclusion(leaf_hash(leaf), index, latest.size, proof, latest.root)
    proof = reader.consistency_proof(early.size)
    assert verify_consistency(early.size, latest.size, early.root, latest.root, proof)
    # What was full at 300 entries is the same bytes at 550.
    assert {p: c for p, c in early_files.items() if p in files} == {
        p: files[p] for p in early_files if p in files
    }
    assert "tile/0/000" in early_files
    assert "tile/0/001.p/44" in early_files


async def test_a_tile_beyond_the_log_or_a_bad_path_is_a_404(
    client: Client, app: Litestar, session: AsyncSession, world: World
) -> None:
    await record(session, app, world, 3)
    base = f"/g/{world.slug}/log"
    assert (await client.get(f"{base}/tile/0/000.p/3")).status_code == 200
    for path in ("tile/0/000.p/4", "tile/0/000", "tile/1/000.p/1", "tile/0/0", "tile/x/000"):
        assert (await client.get(f"{base}/{path}")).status_code == 404, path


async def test_a_private_groups_tiles_are_for_its_members_and_no_shared_cache(
    client: Client, app: Litestar, session: AsyncSession
) -> None:
    world = await build_world(session, slug="quiet-fund", public=False)
    await record(session, app, world, 2)
    path = f"/g/{world.slug}/log/tile/entries/000.p/2"
    assert (await client.get(path)).status_code == 404
    answer = await client.get(path, headers=world.member.headers)
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "private, max-age=60"


async def test_the_tiles_command_writes_the_same_files_and_keeps_full_tiles(
    client: Client,
    app: Litestar,
    session: AsyncSession,
    world: World,
    settings: Settings,
    tmp_path: Path,
) -> None:
    directory = tmp_path / "www"
    await record(session, app, world, 260)
    done = await write_tiles(session, await world.fresh_group(session), directory)
    assert (done.size, done.kept) == (260, 0)
    first_full = directory / "tile/0/000"
    stamp = first_full.stat().st_mtime_ns, first_full.stat().st_ino

    await record(session, app, world, 40)
    runner = CliRunner()
    env = {
        "COMMONPURSE_DATABASE_URL": settings.database_url,
        "COMMONPURSE_SIGNING_KEY_FILE": str(settings.signing_key_file),
        "COMMONPURSE_BASE_URL": settings.base_url,
    }
    # The command runs its own event loop, as it does from a shell.
    result = await asyncio.to_thread(
        runner.invoke, main, ["tiles", world.slug, str(directory)], env=env
    )
    assert result.exit_code == 0, result.output
    assert "size 300" in result.output
    assert "2 full tile(s) kept" in result.output
    assert (first_full.stat().st_mtime_ns, first_full.stat().st_ino) == stamp

    checkpoint, files = await served(client, world.slug)
    assert (directory / "checkpoint").read_text() == (
        await client.get(f"/g/{world.slug}/log/checkpoint")
    ).text
    for path, content in files.items():
        assert (directory / path).read_bytes() == content, path
    reader = TileReader(checkpoint.size, lambda path: (directory / path).read_bytes())
    assert reader.root() == checkpoint.root
