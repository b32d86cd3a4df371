"""C2SP tlog-tiles: paths, which tiles a tree has, their bytes, and proofs from tiles alone."""

from __future__ import annotations

from collections import Counter

import pytest

from ledger.merkle import (
    CompactRange,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_from_leaf_hashes,
    subtree_hash,
    verify_consistency,
    verify_inclusion,
)
from ledger.tiles import (
    Tile,
    TileError,
    TileReader,
    entry_bundle,
    hash_tile,
    index_path,
    parse_entry_bundle,
    parse_tile_path,
    tile_at,
    tiles_of,
)


@pytest.mark.parametrize(
    ("index", "path"),
    [(0, "000"), (5, "005"), (999, "999"), (1000, "x001/000"), (1234067, "x001/x234/067")],
)
def test_tile_indexes_are_written_in_three_digit_elements(index: int, path: str) -> None:
    assert index_path(index) == path
    assert parse_tile_path(f"tile/0/{path}") == Tile(0, index)


@pytest.mark.parametrize(
    ("path", "tile"),
    [
        ("tile/0/x001/x234/067", Tile(0, 1234067)),
        ("tile/3/000.p/17", Tile(3, 0, 17)),
        ("tile/entries/x002/015.p/255", Tile(None, 2015, 255)),
        ("tile/63/001", Tile(63, 1)),
    ],
)
def test_tile_paths_round_trip(path: str, tile: Tile) -> None:
    assert parse_tile_path(path) == tile
    assert tile.path() == path


@pytest.mark.parametrize(
    "path",
    [
        "tile/0/1",  # not three digits
        "tile/0/x000/001",  # a leading zero element: a second name for tile 1
        "tile/0/001/002",  # all but the last element begin with x
        "tile/00/001",  # a level with a leading zero
        "tile/64/001",  # above level 63
        "tile/0/001.p/0",  # a partial tile is 1 to 255 wide
        "tile/0/001.p/256",
        "tile/0/001.p/07",
        "tile/data/001",
        "tiles/0/001",
    ],
)
def test_paths_the_specification_does_not_allow_are_refused(path: str) -> None:
    with pytest.raises(TileError):
        parse_tile_path(path)


def _census(size: int) -> Counter[tuple[int | None, bool]]:
    return Counter((tile.level, tile.full) for tile in tiles_of(size))


def test_a_tree_of_70000_has_the_tiles_the_specification_lists() -> None:
    tiles = list(tiles_of(70_000))
    hashes = [t for t in tiles if t.level is not None]
    assert _census(70_000)[(0, True)] == 273
    assert Tile(0, 273, 112) in hashes
    assert [t for t in hashes if t.level == 1] == [Tile(1, 0), Tile(1, 1, 17)]
    assert [t for t in hashes if t.level == 2] == [Tile(2, 0, 1)]
    assert len(hashes) == 273 + 1 + 2 + 1
    assert [t for t in tiles if t.level is None][-1] == Tile(None, 273, 112)


def test_a_tree_of_256_has_a_full_tile_and_a_partial_tile_of_width_one_above() -> None:
    assert [t for t in tiles_of(256) if t.level is not None] == [Tile(0, 0), Tile(1, 0, 1)]
    assert list(tiles_of(0)) == []


def test_appending_adds_tiles_and_never_a_full_one_twice() -> None:
    seen: set[Tile] = set()
    size = 0
    for new_size in (1, 255, 256, 257, 600, 65_536, 65_800):
        added = list(tiles_of(new_size, since=size))
        assert not {t for t in added if t.full} & seen
        seen |= {t for t in added if t.full}
        assert {t for t in tiles_of(new_size) if t.full} == seen
        size = new_size


def _leaves(count: int) -> list[bytes]:
    return [f'{{"n":"{i}"}}'.encode() for i in range(count)]


def _serve(leaves: list[bytes]) -> dict[str, bytes]:
    """The files of the tree over ``leaves``, as a log would write them."""
    hashes = [leaf_hash(leaf) for leaf in leaves]
    files = {}
    for tile in tiles_of(len(leaves)):
        first = tile.first_leaf()
        if tile.level is None:
            files[tile.path()] = entry_bundle(leaves[first : first + tile.width])
        else:
            files[tile.path()] = hash_tile(tile, hashes[first:])
    return files


def test_a_hash_tile_holds_the_roots_of_the_full_tiles_below() -> None:
    leaves = _leaves(600)
    hashes = [leaf_hash(leaf) for leaf in leaves]
    files = _serve(leaves)
    assert files["tile/0/001"] == b"".join(hashes[256:512])
    assert files["tile/0/002.p/88"] == b"".join(hashes[512:600])
    assert files["tile/1/000.p/2"] == (
        subtree_hash(0, 256, hashes.__getitem__) + subtree_hash(256, 512, hashes.__getitem__)
    )
    assert parse_entry_bundle(files["tile/entries/002.p/88"]) == leaves[512:600]
    assert files["tile/entries/000"][:2] == len(leaves[0]).to_bytes(2, "big")


def test_an_entry_bundle_refuses_a_leaf_too_long_for_its_length() -> None:
    with pytest.raises(TileError):
        entry_bundle([b"x" * 65_536])


@pytest.mark.parametrize("size", [1, 2, 7, 255, 256, 257, 511, 512, 1000, 65_536 + 300])
def test_proofs_from_tiles_alone_are_the_proofs_of_the_tree(size: int) -> None:
    leaves = _leaves(size)
    hashes = [leaf_hash(leaf) for leaf in leaves]
    root = root_from_leaf_hashes(hashes)
    files = _serve(leaves)
    fetched: list[str] = []

    def fetch(path: str) -> bytes:
        fetched.append(path)
        return files[path]

    reader = TileReader(size, fetch)
    assert reader.root() == root
    for index in {0, size // 3, size - 1}:
        proof = reader.inclusion_proof(index)
        assert proof == inclusion_proof(index, size, hashes.__getitem__)
        assert verify_inclusion(leaf_hash(leaves[index]), index, size, proof, root)
        assert reader.leaves(index // 256)[index % 256] == leaves[index]
    for old in {1, size // 2, size - 1} - {0}:
        proof = reader.consistency_proof(old)
        assert proof == consistency_proof(old, size, hashes.__getitem__)
        assert verify_consistency(old, size, root_from_leaf_hashes(hashes[:old]), root, proof)
    # A few tiles, not every leaf: upper levels stand for the full tiles under them.
    assert len(set(fetched)) <= 12


def test_a_tile_the_tree_does_not_hold_yet_is_none() -> None:
    assert tile_at(0, 1, 256) is None
    assert tile_at(0, 0, 255) == Tile(0, 0, 255)
    assert tile_at(1, 0, 255) is None
    with pytest.raises(TileError):
        TileReader(10, lambda path: b"").node(0, 10)


@pytest.mark.parametrize("size", [1, 2, 7, 255, 256, 257, 511, 512, 1000, 65_536 + 300])
def test_the_compact_range_from_tiles_alone_is_the_trees(size: int) -> None:
    leaves = _leaves(size)
    files = _serve(leaves)
    compact = TileReader(size, files.__getitem__).compact_range()
    assert compact == CompactRange.from_leaf_hashes([leaf_hash(leaf) for leaf in leaves])
