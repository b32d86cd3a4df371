"""RFC 9162 (Certificate Transparency v2) Merkle tree over a group's log.

Leaves are raw bytes; a leaf hash is SHA-256(0x00 || leaf) and an interior node is
SHA-256(0x01 || left || right), so a leaf can never pass for a node. The tree over n leaves
splits at k, the largest power of two below n, which makes it append-only friendly: the
first k leaves form a complete subtree that never changes again.

Pure functions, no I/O. Generating a proof needs leaf hashes, which callers provide through
a callable (``hashes.__getitem__`` for a list); verifying needs only the proof.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
"""The root of the empty tree: SHA-256 of the empty string (RFC 9162, 2.1.1)."""

GetLeafHash = Callable[[int], bytes]


def leaf_hash(leaf: bytes) -> bytes:
    """Hash of one leaf: SHA-256(0x00 || leaf)."""
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Hash of an interior node: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def subtree_hash(start: int, end: int, get_leaf_hash: GetLeafHash) -> bytes:
    """MTH of the leaves ``start .. end-1`` (RFC 9162, 2.1.1), fetching each leaf hash once."""
    if not 0 <= start <= end:
        raise ValueError(f"bad leaf range [{start}, {end})")
    n = end - start
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return get_leaf_hash(start)
    k = _split(n)
    return node_hash(
        subtree_hash(start, start + k, get_leaf_hash),
        subtree_hash(start + k, end, get_leaf_hash),
    )


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """MTH of a whole list of leaf hashes; the empty list gives ``EMPTY_ROOT``."""
    return subtree_hash(0, len(hashes), hashes.__getitem__)


class TreeBuilder:
    """A Merkle tree grown one leaf hash at a time, in place: what a verifier streaming a
    whole log uses (``CompactRange`` is the immutable, validated form kept in the database;
    this one skips the per-append copies and checks, several times faster over millions)."""

    __slots__ = ("peaks", "size")

    def __init__(self) -> None:
        self.size = 0
        self.peaks: list[bytes] = []

    def append(self, hashed_leaf: bytes) -> None:
        merged = hashed_leaf
        size = self.size
        while size & 1:
            merged = hashlib.sha256(b"\x01" + self.peaks.pop() + merged).digest()
            size >>= 1
        self.peaks.append(merged)
        self.size += 1

    def root(self) -> bytes:
        return CompactRange(self.size, tuple(self.peaks)).root()

    def extend(
        self, hashed_leaves: Sequence[bytes], roots_at: Iterable[int] = ()
    ) -> dict[int, bytes]:
        """Append many leaf hashes at once, and return the root the tree had at each size in
        ``roots_at`` (sizes reached by this append: ``size < t <= size + len(hashed_leaves)``).

        The same tree as ``append`` one by one, built a level at a time: each level's pairs
        are hashed in one comprehension, so a batch costs one hash per node and little
        Python per leaf. ``rows[b]`` holds every node of level ``b`` from the first one this
        append touches (the old peak of that level, if any) up; ``rows[b][0]`` is node
        ``(old size >> b) & ~1`` of the level, which is where a size's peaks are looked up.
        """
        size = self.size
        sizes = list(roots_at)
        if any(not size < t <= size + len(hashed_leaves) for t in sizes):
            raise ValueError(f"sizes {sizes} are not all reached by this append")
        old_peaks = {b: peak for b, peak in zip(_levels(size), self.peaks, strict=True)}
        sha256 = hashlib.sha256
        rows: list[list[bytes]] = []
        row = list(hashed_leaves)
        level = 0
        while row or any(b >= level for b in old_peaks):
            if level in old_peaks:
                row.insert(0, old_peaks[level])
            rows.append(row)
            pairs = iter(row)
            row = [
                sha256(b"\x01" + left + right).digest()
                for left, right in zip(pairs, pairs, strict=False)
            ]
            level += 1
        self.size = size + len(hashed_leaves)
        # What is left over at each level (an odd last node) is a peak, largest first.
        self.peaks = [r[-1] for b, r in reversed(list(enumerate(rows))) if self.size >> b & 1]
        roots: dict[int, bytes] = {}
        for t in sizes:
            peaks = [rows[b][(t >> b) - 1 - ((size >> b) & ~1)] for b in _levels(t)]
            root = peaks[-1]
            for peak in reversed(peaks[:-1]):
                root = node_hash(peak, root)
            roots[t] = root
        return roots


def _levels(size: int) -> list[int]:
    """The levels of a tree of ``size`` leaves that hold a peak, largest first."""
    return [b for b in range(size.bit_length() - 1, -1, -1) if size >> b & 1]


@dataclass(frozen=True)
class CompactRange:
    """The peaks of a log of ``size`` leaves: enough to append and to compute the root.

    There is one peak per set bit of ``size``, left to right from the largest complete
    subtree down, so the state is O(log n) and appending costs O(log n) hashes without
    reading any earlier leaf. ``to_json`` / ``from_json`` store it in a text column.
    """

    size: int = 0
    peaks: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 0:
            raise ValueError("a compact range's size must be a non-negative integer")
        if len(self.peaks) != self.size.bit_count():
            raise ValueError(
                f"a compact range of size {self.size} has {self.size.bit_count()} peaks, "
                f"not {len(self.peaks)}"
            )
        if any(not isinstance(p, bytes) or len(p) != HASH_SIZE for p in self.peaks):
            raise ValueError("every peak must be a 32-byte hash")

    @classmethod
    def from_leaf_hashes(cls, hashes: Iterable[bytes]) -> CompactRange:
        """The compact range of a log holding these leaf hashes, in order."""
        return cls().extend(hashes)

    def append(self, hashed_leaf: bytes) -> CompactRange:
        """The range after appending one leaf, given its *leaf hash* (not its bytes)."""
        if not isinstance(hashed_leaf, bytes) or len(hashed_leaf) != HASH_SIZE:
            raise ValueError("append takes a 32-byte leaf hash, not the leaf itself")
        peaks = list(self.peaks)
        merged = hashed_leaf
        # Each trailing 1 bit of the old size is a complete subtree of the same height as
        # the one being carried: merge them, like carrying in binary addition.
        size = self.size
        while size & 1:
            merged = node_hash(peaks.pop(), merged)
            size >>= 1
        peaks.append(merged)
        return CompactRange(self.size + 1, tuple(peaks))

    def extend(self, hashes: Iterable[bytes]) -> CompactRange:
        """The range after appending several leaf hashes, in order."""
        compact = self
        for hashed_leaf in hashes:
            compact = compact.append(hashed_leaf)
        return compact

    def root(self) -> bytes:
        """The RFC 9162 root of the log: peaks folded from the right."""
        if not self.peaks:
            return EMPTY_ROOT
        root = self.peaks[-1]
        for peak in reversed(self.peaks[:-1]):
            root = node_hash(peak, root)
        return root

    def to_json(self) -> str:
        """``{"peaks":[hex...],"size":n}`` with sorted keys and no spaces (what
        ``json.dumps(..., sort_keys=True, separators=(",", ":"))`` writes: hex digits need
        no escaping)."""
        peaks = ",".join(f'"{p.hex()}"' for p in self.peaks)
        text = f'{{"peaks":[{peaks}],"size":{self.size}}}'
        _remember(text, self)
        return text

    @classmethod
    def from_json(cls, text: str) -> CompactRange:
        """Parse ``to_json`` output; ValueError when it is malformed or inconsistent."""
        # The next append of a log reads back what the last one wrote: parsed already.
        known = _RECENT.get(text)
        if known is not None:
            return known
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"compact range is not JSON: {exc}") from exc
        if not isinstance(document, dict) or set(document) != {"peaks", "size"}:
            raise ValueError("compact range JSON must be an object with 'size' and 'peaks'")
        size, peaks = document["size"], document["peaks"]
        if not isinstance(peaks, list) or not all(_is_hex_hash(p) for p in peaks):
            raise ValueError("compact range peaks must be a list of 64 lowercase hex digits")
        parsed = cls(size, tuple(bytes.fromhex(p) for p in peaks))
        _remember(text, parsed)
        return parsed


# Compact ranges by their JSON, recently written or read (a range is immutable, and its
# text says all of it): a few per log that appends here, cleared when it grows past a bound.
_RECENT: dict[str, CompactRange] = {}
_RECENT_MAX = 256


def _remember(text: str, compact: CompactRange) -> None:
    if len(_RECENT) >= _RECENT_MAX:
        _RECENT.clear()
    _RECENT[text] = compact


def _is_hex_hash(value: object) -> bool:
    return isinstance(value, str) and _HEX_HASH.fullmatch(value) is not None


_HEX_HASH = re.compile(f"[0-9a-f]{{{2 * HASH_SIZE}}}")


# -- proof generation (RFC 9162, 2.1.3.1 and 2.1.4.1) -----------------------------------------


def inclusion_proof(
    index: int,
    size: int,
    get_leaf_hash: GetLeafHash,
    *,
    subtree: Callable[[int, int], bytes] | None = None,
) -> list[bytes]:
    """The audit path PATH(index, D[size]), leaf-side first.

    ``get_leaf_hash(i)`` is called once for each of the first ``size`` leaves but ``index``,
    unless ``subtree(start, end)`` gives the hashes of whole ranges (as tiles do).
    ValueError unless ``0 <= index < size``.
    """
    subtree = subtree or (lambda start, end: subtree_hash(start, end, get_leaf_hash))
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is not in a tree of size {size}")
    proof: list[bytes] = []
    # Walk down from the root, collecting the sibling subtree at each split; the RFC's
    # recursion appends siblings on the way back up, so reverse at the end.
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            proof.append(subtree(start + k, end))
            end = start + k
        else:
            proof.append(subtree(start, start + k))
            start += k
    proof.reverse()
    return proof


def consistency_proof(
    m: int,
    n: int,
    get_leaf_hash: GetLeafHash,
    *,
    subtree: Callable[[int, int], bytes] | None = None,
) -> list[bytes]:
    """The proof PROOF(m, D[n]) that the tree of size m is a prefix of the tree of size n.

    Empty when ``m == n`` or ``m == 0`` (the empty tree is a prefix of every tree).
    ``subtree`` as for ``inclusion_proof``. ValueError unless ``0 <= m <= n``.
    """
    subtree = subtree or (lambda start, end: subtree_hash(start, end, get_leaf_hash))
    if not 0 <= m <= n:
        raise ValueError(f"no consistency proof from size {m} to size {n}")
    if m in (0, n):
        return []
    proof: list[bytes] = []
    # SUBPROOF(m, D[start:end], b), unrolled: b stays true while m is the left edge of the
    # subtree, i.e. while the old root itself is still one of the nodes we walk through.
    start, end, whole_old_tree = 0, n, True
    while m != end:
        k = _split(end - start)
        if m <= start + k:
            proof.append(subtree(start + k, end))
            end = start + k
        else:
            proof.append(subtree(start, start + k))
            start += k
            whole_old_tree = False
    if not whole_old_tree:
        # The old tree is not a single complete subtree of the new one, so the verifier
        # needs the hash of the subtree it ends in.
        proof.append(subtree(start, end))
    proof.reverse()
    return proof


def consistency_proof_from(old: CompactRange, n: int, get_leaf_hash: GetLeafHash) -> list[bytes]:
    """``consistency_proof(old.size, n, ...)`` knowing only the old tree's peaks and the leaf
    hashes after it (``get_leaf_hash`` is asked only for indexes ``old.size`` to ``n - 1``).

    Every node of such a proof is either a peak of the old tree (a subtree that ends at or
    before the old size starts where the peaks before it end and is as large as the old
    size's bit there) or a subtree of the leaves appended since: a log that keeps the
    compact range of a size it proved from need not read its earlier leaves again."""
    m = old.size
    if not 0 <= m <= n:
        raise ValueError(f"no consistency proof from size {m} to size {n}")
    peaks: dict[tuple[int, int], bytes] = {}
    start = 0
    for bit, peak in zip(
        (1 << b for b in range(m.bit_length() - 1, -1, -1) if m >> b & 1), old.peaks, strict=True
    ):
        peaks[start, start + bit] = peak
        start += bit

    def subtree(start: int, end: int) -> bytes:
        if end <= m:
            return peaks[start, end]
        if start < m:
            raise AssertionError(f"a consistency proof has no node across size {m}")
        return subtree_hash(start, end, get_leaf_hash)

    return consistency_proof(m, n, get_leaf_hash, subtree=subtree)


# -- proof verification (RFC 9162, 2.1.3.2 and 2.1.4.2) ----------------------------------------


def _all_hashes(*values: object) -> bool:
    return all(isinstance(v, bytes) and len(v) == HASH_SIZE for v in values)


def _is_size(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Whether ``proof`` shows that ``leaf_hash`` is leaf ``index`` of the tree ``root``."""
    if not (_is_size(index) and _is_size(size) and index < size):
        return False
    if not _all_hashes(leaf_hash, root, *proof):
        return False
    fn, sn = index, size - 1
    r = leaf_hash
    for p in proof:
        if sn == 0:
            return False  # the proof is longer than the path to the root
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                # A right-edge node with no right sibling: skip the levels where it is
                # promoted unchanged.
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    m: int, n: int, root_m: bytes, root_n: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether ``proof`` shows the tree of size m (``root_m``) is a prefix of size n's.

    ``m == n`` holds with an empty proof and equal roots; ``m == 0`` holds with an empty
    proof when ``root_m`` is the empty tree's root.
    """
    if not (_is_size(m) and _is_size(n) and m <= n):
        return False
    if not _all_hashes(root_m, root_n, *proof):
        return False
    if m == n:
        return not proof and root_m == root_n
    if m == 0:
        return not proof and root_m == EMPTY_ROOT
    if not proof:
        return False
    path = list(proof)
    if m & (m - 1) == 0:
        # The old tree is a complete subtree of the new one: its root is the starting node.
        path.insert(0, root_m)
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == root_m and sr == root_n
