"""A group's log as static tiles (C2SP ``tlog-tiles``): paths, contents and proofs.

A tile at level ``L`` and index ``N`` holds up to 256 consecutive hashes of level ``L`` of the
tree: at level 0 the leaf hashes, above the Merkle tree hash of each *full* tile of the level
below, i.e. ``MTH(D[(N*256 + i) * 256**L : (N*256 + i + 1) * 256**L])``. An entry bundle
``tile/entries/N`` holds the leaves of level-0 tile ``N`` exactly as hashed, each behind a
big-endian uint16 length. The last tile of a level is *partial* (``.p/<W>``, 1 to 255
hashes) until it fills; a full tile never changes, so it can be cached forever, and
appending only ever adds tiles (and new partial ones).

Pure: callers give the hashes and leaves; ``TileReader`` computes hashes and proofs from
tiles alone, as a client that trusts nothing but a checkpoint would.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from ledger.merkle import HASH_SIZE, CompactRange, consistency_proof, inclusion_proof

TILE_WIDTH = 256
TILE_HEIGHT = 8  # 256 = 2**8
MAX_LEVEL = 63
MAX_LEAF_SIZE = 0xFFFF  # an entry bundle's length prefix is a uint16

ENTRIES = "entries"


class TileError(ValueError):
    """A tile path that the specification does not allow, or a tile with the wrong bytes."""


def index_path(index: int) -> str:
    """``1234067`` -> ``x001/x234/067``: 3-digit elements, all but the last behind an ``x``."""
    if index < 0:
        raise TileError(f"a tile index is not negative: {index}")
    parts = []
    while True:
        parts.append(f"{index % 1000:03d}")
        index //= 1000
        if index == 0:
            break
    parts.reverse()
    return "/".join([*(f"x{part}" for part in parts[:-1]), parts[-1]])


_INDEX_PATH = re.compile(r"(?:x[0-9]{3}/)*[0-9]{3}")
_LEVEL = re.compile(r"0|[1-9][0-9]?")
_WIDTH = re.compile(r"[1-9][0-9]{0,2}")


@dataclass(frozen=True, order=True)
class Tile:
    """One tile: ``level`` (an int, or ``None`` for an entry bundle), ``index`` and
    ``width`` (256 for a full tile)."""

    level: int | None
    index: int
    width: int = TILE_WIDTH

    def __post_init__(self) -> None:
        if self.level is not None and not 0 <= self.level <= MAX_LEVEL:
            raise TileError(f"a tile level is 0 to {MAX_LEVEL}, not {self.level}")
        if self.index < 0:
            raise TileError(f"a tile index is not negative: {self.index}")
        if not 1 <= self.width <= TILE_WIDTH:
            raise TileError(f"a tile is 1 to {TILE_WIDTH} wide, not {self.width}")

    @property
    def full(self) -> bool:
        return self.width == TILE_WIDTH

    @property
    def hash_level(self) -> int:
        """The level of the tree its hashes are on (entry bundles go with level 0)."""
        return 0 if self.level is None else self.level

    def path(self) -> str:
        """``tile/<L>/<N>[.p/<W>]`` or ``tile/entries/<N>[.p/<W>]``."""
        level = ENTRIES if self.level is None else str(self.level)
        partial = "" if self.full else f".p/{self.width}"
        return f"tile/{level}/{index_path(self.index)}{partial}"

    def first_leaf(self) -> int:
        """The index of the first leaf under this tile (its *start index*)."""
        return self.index << (TILE_HEIGHT * (self.hash_level + 1))

    def leaves_per_hash(self) -> int:
        return 1 << (TILE_HEIGHT * self.hash_level)

    def needs_size(self) -> int:
        """The smallest tree size that holds this tile's whole content."""
        return self.first_leaf() + self.width * self.leaves_per_hash()


def parse_tile_path(path: str) -> Tile:
    """The tile at ``tile/...`` (TileError for any path the specification does not allow)."""
    parts = path.split("/")
    if len(parts) < 3 or parts[0] != "tile":
        raise TileError(f"not a tile path: {path!r}")
    level_text, rest = parts[1], parts[2:]
    width = TILE_WIDTH
    if len(rest) >= 2 and rest[-2].endswith(".p"):
        if not _WIDTH.fullmatch(rest[-1]) or int(rest[-1]) >= TILE_WIDTH:
            raise TileError(f"a partial tile's width is 1 to 255: {path!r}")
        width = int(rest[-1])
        rest = [*rest[:-2], rest[-2][: -len(".p")]]
    index_text = "/".join(rest)
    if not _INDEX_PATH.fullmatch(index_text):
        raise TileError(f"a tile index is written as x001/x234/067: {path!r}")
    index = int("".join(part.lstrip("x") for part in rest))
    if index_path(index) != index_text:  # a leading x000 would give two names to one tile
        raise TileError(f"a tile index has no leading zero elements: {path!r}")
    if level_text == ENTRIES:
        return Tile(None, index, width)
    if not _LEVEL.fullmatch(level_text) or int(level_text) > MAX_LEVEL:
        raise TileError(f"a tile level is 0 to {MAX_LEVEL}: {path!r}")
    return Tile(int(level_text), index, width)


def tile_at(level: int | None, index: int, size: int) -> Tile | None:
    """Tile ``index`` of ``level`` as a tree of ``size`` leaves has it: full, partial, or
    None when that tree has nothing in it yet."""
    per_tile = TILE_WIDTH ** ((level or 0) + 1)
    if (index + 1) * per_tile <= size:
        return Tile(level, index)
    if index != size // per_tile:
        return None
    width = (size // TILE_WIDTH ** (level or 0)) % TILE_WIDTH
    return Tile(level, index, width) if width else None


def tiles_of(size: int, *, since: int = 0) -> Iterator[Tile]:
    """Every tile (hash tiles of every level, then entry bundles) a tree of ``size`` leaves
    is served as, but the full ones a tree of ``since`` leaves already had: what appending
    from ``since`` to ``size`` adds. Partial tiles are those of ``size`` itself."""
    if not 0 <= since <= size:
        raise TileError(f"no tiles from size {since} to size {size}")
    level = 0
    while size >= TILE_WIDTH**level:
        yield from _level_tiles(level, size, since)
        level += 1
    yield from _level_tiles(None, size, since)


def _level_tiles(level: int | None, size: int, since: int) -> Iterator[Tile]:
    per_tile = TILE_WIDTH ** ((level or 0) + 1)
    for index in range(since // per_tile, size // per_tile):
        yield Tile(level, index)
    partial = tile_at(level, size // per_tile, size)
    if partial is not None and not partial.full:
        yield partial


# -- contents ---------------------------------------------------------------------------------


def perfect_root(hashes: Sequence[bytes]) -> bytes:
    """The root over a power-of-two number of node hashes (a complete subtree)."""
    count = len(hashes)
    if count == 0 or count & (count - 1):
        raise ValueError(f"a complete subtree has a power-of-two number of nodes, not {count}")
    row = list(hashes)
    sha256 = hashlib.sha256
    while len(row) > 1:
        pairs = iter(row)
        row = [
            sha256(b"\x01" + left + right).digest()
            for left, right in zip(pairs, pairs, strict=False)
        ]
    return row[0]


def level_hashes(leaf_hashes: Sequence[bytes], level: int) -> list[bytes]:
    """The hashes of ``level`` over these leaf hashes (the first leaf is leaf 0 of a tile
    boundary): one per complete group of ``256**level`` leaves."""
    row = list(leaf_hashes)
    for _ in range(level):
        row = [
            perfect_root(row[start : start + TILE_WIDTH])
            for start in range(0, len(row) - TILE_WIDTH + 1, TILE_WIDTH)
        ]
    return row


def hash_tile(tile: Tile, leaf_hashes: Sequence[bytes]) -> bytes:
    """The bytes of a hash tile, given the leaf hashes under it, from its first leaf on."""
    if tile.level is None:
        raise TileError("an entry bundle holds leaves, not hashes")
    if len(leaf_hashes) < tile.width * tile.leaves_per_hash():
        raise TileError(f"{tile.path()} needs {tile.width * tile.leaves_per_hash()} leaves")
    hashes = level_hashes(leaf_hashes[: tile.width * tile.leaves_per_hash()], tile.level)
    return b"".join(hashes)


def entry_bundle(leaves: Sequence[bytes]) -> bytes:
    """The bytes of an entry bundle: each leaf exactly as hashed, behind its uint16 length."""
    parts = []
    for leaf in leaves:
        if len(leaf) > MAX_LEAF_SIZE:
            raise TileError(f"a leaf of {len(leaf)} bytes does not fit an entry bundle")
        parts.append(len(leaf).to_bytes(2, "big") + leaf)
    return b"".join(parts)


def parse_entry_bundle(data: bytes) -> list[bytes]:
    """The leaves of an entry bundle (TileError when it is cut short)."""
    leaves, at = [], 0
    while at < len(data):
        if at + 2 > len(data):
            raise TileError("an entry bundle ends inside a length")
        length = int.from_bytes(data[at : at + 2], "big")
        if at + 2 + length > len(data):
            raise TileError("an entry bundle ends inside a leaf")
        leaves.append(data[at + 2 : at + 2 + length])
        at += 2 + length
    return leaves


def parse_hash_tile(data: bytes, width: int) -> list[bytes]:
    if len(data) != width * HASH_SIZE:
        raise TileError(f"a tile of {width} hashes is {width * HASH_SIZE} bytes, not {len(data)}")
    return [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]


# -- reading a log from its tiles --------------------------------------------------------------


class TileReader:
    """Hashes and proofs of the tree of ``size`` leaves, computed from its tiles alone.

    ``fetch(path)`` returns a tile's bytes (from HTTP, a directory, ...); each tile is
    fetched once. A range's hash uses the highest-level tile hashes that cover it, so a
    proof costs a few tiles, not the leaves.
    """

    def __init__(self, size: int, fetch: Callable[[str], bytes]) -> None:
        self.size = size
        self._fetch = fetch
        self._tiles: dict[Tile, list[bytes]] = {}

    def _tile_hashes(self, level: int, index: int) -> list[bytes]:
        tile = tile_at(level, index, self.size)
        if tile is None:
            raise TileError(f"a tree of {self.size} leaves has no tile {level}/{index}")
        if tile not in self._tiles:
            self._tiles[tile] = parse_hash_tile(self._fetch(tile.path()), tile.width)
        return self._tiles[tile]

    def node(self, level: int, index: int) -> bytes:
        """Hash ``index`` of tile level ``level`` (the root of leaves
        ``index * 256**level`` up to the next such boundary)."""
        return self._tile_hashes(level, index // TILE_WIDTH)[index % TILE_WIDTH]

    def range_hash(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) for the ranges proofs ask for: complete subtrees, aligned, or
        split as RFC 9162 splits them."""
        count = end - start
        if count < 1 or end > self.size:
            raise TileError(f"no range [{start}, {end}) in a tree of {self.size} leaves")
        if count & (count - 1) == 0 and start % count == 0:
            height = count.bit_length() - 1
            level = height // TILE_HEIGHT
            per_node = TILE_WIDTH**level
            first = start // per_node
            return perfect_root([self.node(level, first + i) for i in range(count // per_node)])
        k = 1 << ((count - 1).bit_length() - 1)
        return hashlib.sha256(
            b"\x01" + self.range_hash(start, start + k) + self.range_hash(start + k, end)
        ).digest()

    def root(self) -> bytes:
        return self.range_hash(0, self.size)

    def compact_range(self) -> CompactRange:
        """The tree's compact range: the hash of each complete subtree its size's bits make,
        largest first."""
        peaks, start = [], 0
        for bit in reversed(range(self.size.bit_length())):
            if self.size >> bit & 1:
                peaks.append(self.range_hash(start, start + (1 << bit)))
                start += 1 << bit
        return CompactRange(self.size, tuple(peaks))

    def leaf_hash(self, index: int) -> bytes:
        return self.node(0, index)

    def inclusion_proof(self, index: int) -> list[bytes]:
        return inclusion_proof(index, self.size, self.leaf_hash, subtree=self.range_hash)

    def consistency_proof(self, old_size: int) -> list[bytes]:
        return consistency_proof(old_size, self.size, self.leaf_hash, subtree=self.range_hash)

    def leaves(self, index: int) -> list[bytes]:
        """The leaves of entry bundle ``index`` as the tree of ``size`` leaves has it."""
        tile = tile_at(None, index, self.size)
        if tile is None:
            raise TileError(f"a tree of {self.size} leaves has no entry bundle {index}")
        leaves = parse_entry_bundle(self._fetch(tile.path()))
        if len(leaves) != tile.width:
            raise TileError(f"{tile.path()} holds {len(leaves)} leaves, not {tile.width}")
        return leaves
