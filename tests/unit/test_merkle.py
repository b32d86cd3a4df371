"""RFC 9162 Merkle tree: hashing, the compact range, proof generation and verification."""

from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger import merkle
from ledger.merkle import (
    EMPTY_ROOT,
    CompactRange,
    TreeBuilder,
    consistency_proof,
    consistency_proof_from,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_leaf_hashes,
    subtree_hash,
    verify_consistency,
    verify_inclusion,
)

# -- published vectors ------------------------------------------------------------------------
# The reference tree of RFC 6962 implementations, from github.com/transparency-dev/merkle,
# proof/verify_test.go (the same data as certificate-transparency-go's merkle tests): eight
# leaves, the root of every prefix, and known inclusion and consistency proofs.

RFC6962_LEAVES = [
    bytes.fromhex(""),
    bytes.fromhex("00"),
    bytes.fromhex("10"),
    bytes.fromhex("2021"),
    bytes.fromhex("3031"),
    bytes.fromhex("40414243"),
    bytes.fromhex("5051525354555657"),
    bytes.fromhex("606162636465666768696a6b6c6d6e6f"),
]

# RFC6962_ROOTS[i] is the root of the tree of the first i + 1 leaves.
RFC6962_ROOTS = [
    bytes.fromhex(h)
    for h in (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    )
]

# (leaf index, tree size, audit path); the Go file numbers leaves from 1, these from 0.
RFC6962_INCLUSION_PROOFS = [
    (0, 1, []),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]

# (old size, new size, consistency proof).
RFC6962_CONSISTENCY_PROOFS = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]

RFC6962_LEAF_HASHES = [leaf_hash(leaf) for leaf in RFC6962_LEAVES]


# -- an independent reference: RFC 9162's definitions, literally, over Python lists ----------


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: list[bytes]) -> bytes:
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return d[0]
    k = _k(len(d))
    return node_hash(ref_mth(d[:k]), ref_mth(d[k:]))


def ref_path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = _k(len(d))
    if m < k:
        return [*ref_path(m, d[:k]), ref_mth(d[k:])]
    return [*ref_path(m - k, d[k:]), ref_mth(d[:k])]


def ref_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    if m == len(d):
        return [] if b else [ref_mth(d)]
    k = _k(len(d))
    if m <= k:
        return [*ref_subproof(m, d[:k], b), ref_mth(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), ref_mth(d[:k])]


def synthetic_leaf_hashes(n: int) -> list[bytes]:
    return [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


HASHES_64 = synthetic_leaf_hashes(64)
ROOTS_64 = [ref_mth(HASHES_64[:n]) for n in range(65)]


def path_length(index: int, size: int) -> int:
    return len(ref_path(index, [b"\0" * 32] * size))


def consistency_length(m: int, n: int) -> int:
    return len(ref_subproof(m, [b"\0" * 32] * n, True))


def flip(h: bytes, at: int = 0) -> bytes:
    return h[:at] + bytes([h[at] ^ 0x10]) + h[at + 1 :]


# -- hashing ----------------------------------------------------------------------------------


def test_leaf_and_node_hashes_use_the_rfc_domain_prefixes() -> None:
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    left, right = b"L" * 32, b"R" * 32
    assert node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()


def test_empty_tree_root_is_sha256_of_the_empty_string() -> None:
    expected = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert EMPTY_ROOT.hex() == expected
    assert root_from_leaf_hashes([]) == EMPTY_ROOT
    assert CompactRange().root() == EMPTY_ROOT


@pytest.mark.parametrize("size", range(1, 9))
def test_root_of_reference_tree_matches_published_value(size: int) -> None:
    assert root_from_leaf_hashes(RFC6962_LEAF_HASHES[:size]) == RFC6962_ROOTS[size - 1]
    compact = CompactRange.from_leaf_hashes(RFC6962_LEAF_HASHES[:size])
    assert compact.root() == RFC6962_ROOTS[size - 1]


def test_subtree_hash_of_a_middle_range_is_the_root_of_that_slice() -> None:
    assert subtree_hash(3, 11, HASHES_64.__getitem__) == ref_mth(HASHES_64[3:11])
    assert subtree_hash(5, 5, HASHES_64.__getitem__) == EMPTY_ROOT
    with pytest.raises(ValueError):
        subtree_hash(4, 3, HASHES_64.__getitem__)


# -- compact range ----------------------------------------------------------------------------


def test_compact_range_root_equals_tree_hash_for_every_size_up_to_200() -> None:
    hashes = synthetic_leaf_hashes(200)
    compact = CompactRange()
    for size in range(201):
        assert compact.size == size
        assert len(compact.peaks) == size.bit_count()
        assert compact.root() == ref_mth(hashes[:size]), size
        assert compact.root() == root_from_leaf_hashes(hashes[:size])
        assert CompactRange.from_json(compact.to_json()) == compact
        if size < 200:
            compact = compact.append(hashes[size])


def test_compact_range_json_is_a_small_sorted_document() -> None:
    compact = CompactRange.from_leaf_hashes(RFC6962_LEAF_HASHES[:3])
    document = json.loads(compact.to_json())
    assert document == {"size": 3, "peaks": [p.hex() for p in compact.peaks]}
    assert compact.to_json().startswith('{"peaks":["')


def test_compact_range_json_is_what_json_dumps_writes_and_parses_back_afresh() -> None:
    compact = CompactRange()
    for size in range(130):
        text = compact.to_json()
        document = {"peaks": [p.hex() for p in compact.peaks], "size": size}
        assert text == json.dumps(document, sort_keys=True, separators=(",", ":"))
        merkle._RECENT.clear()  # parsed, not the range just written
        parsed = CompactRange.from_json(text)
        assert parsed == compact
        assert parsed is not compact
        assert CompactRange.from_json(text) is parsed  # the next read of the same text
        compact = compact.append(HASHES_64[size % 64])


def test_appending_does_not_change_the_earlier_range() -> None:
    before = CompactRange.from_leaf_hashes(HASHES_64[:5])
    after = before.append(HASHES_64[5])
    assert before.size == 5
    assert before.root() == ROOTS_64[5]
    assert after.root() == ROOTS_64[6]


def test_appending_leaf_bytes_instead_of_a_leaf_hash_is_refused() -> None:
    with pytest.raises(ValueError, match="leaf hash"):
        CompactRange().append(b'{"kind":"donation"}')


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        '{"size":1}',
        '{"size":1,"peaks":[],"extra":0}',
        '{"size":1,"peaks":[]}',  # one peak expected
        '{"size":2,"peaks":["' + "00" * 32 + '","' + "11" * 32 + '"]}',  # size 2 has one peak
        '{"size":-1,"peaks":[]}',
        '{"size":true,"peaks":["' + "00" * 32 + '"]}',
        '{"size":"1","peaks":["' + "00" * 32 + '"]}',
        '{"size":1,"peaks":["' + "AB" * 32 + '"]}',  # uppercase hex is not what we write
        '{"size":1,"peaks":["' + "00" * 31 + '"]}',
        '{"size":1,"peaks":[7]}',
    ],
)
def test_malformed_compact_range_json_is_rejected(text: str) -> None:
    with pytest.raises(ValueError):
        CompactRange.from_json(text)


# -- inclusion proofs -------------------------------------------------------------------------


@pytest.mark.parametrize(("index", "size", "path"), RFC6962_INCLUSION_PROOFS)
def test_inclusion_proof_matches_published_vector(index: int, size: int, path: list[str]) -> None:
    expected = [bytes.fromhex(h) for h in path]
    assert inclusion_proof(index, size, RFC6962_LEAF_HASHES.__getitem__) == expected
    root = RFC6962_ROOTS[size - 1]
    assert verify_inclusion(RFC6962_LEAF_HASHES[index], index, size, expected, root)


def test_every_inclusion_proof_up_to_size_64_verifies_and_tampering_fails() -> None:
    get = HASHES_64.__getitem__
    for size in range(1, 65):
        root = ROOTS_64[size]
        for index in range(size):
            leaf = HASHES_64[index]
            proof = inclusion_proof(index, size, get)
            assert proof == ref_path(index, HASHES_64[:size])
            assert verify_inclusion(leaf, index, size, proof, root), (index, size)

            assert not verify_inclusion(flip(leaf), index, size, proof, root)
            assert not verify_inclusion(leaf, index, size, proof, flip(root, 31))
            assert not verify_inclusion(leaf, index, size, [*proof, root], root)
            assert not verify_inclusion(leaf, index, size, [root, *proof], root)
            for i in range(len(proof)):
                tampered = [*proof[:i], flip(proof[i], i % 32), *proof[i + 1 :]]
                assert not verify_inclusion(leaf, index, size, tampered, root)
                dropped = proof[:i] + proof[i + 1 :]
                assert not verify_inclusion(leaf, index, size, dropped, root)
            for other in (index - 1, index + 1):
                if 0 <= other < size:
                    assert not verify_inclusion(leaf, other, size, proof, root)
            # A path of the wrong length for the claimed size must fail. (A same-length one
            # can legitimately verify: from leaf 0, sizes 3 and 4 have the same path shape,
            # and a verifier cannot tell a leaf hash from a node hash; the signed
            # checkpoint is what binds a root to its size.)
            for other_size in (size - 1, size + 1, size * 2):
                if index < other_size and path_length(index, other_size) != len(proof):
                    assert not verify_inclusion(leaf, index, other_size, proof, root)


def test_inclusion_proof_is_refused_for_an_index_outside_the_tree() -> None:
    get = HASHES_64.__getitem__
    for index, size in [(0, 0), (1, 1), (8, 7), (-1, 4)]:
        with pytest.raises(ValueError):
            inclusion_proof(index, size, get)


def test_inclusion_proof_fetches_only_the_leaves_it_needs() -> None:
    fetched: list[int] = []

    def get(i: int) -> bytes:
        fetched.append(i)
        return HASHES_64[i]

    inclusion_proof(5, 13, get)
    assert sorted(fetched) == [i for i in range(13) if i != 5]


@pytest.mark.parametrize(
    ("leaf", "index", "size", "proof", "root"),
    [
        (HASHES_64[0], 0, 0, [], EMPTY_ROOT),
        (HASHES_64[0], 1, 1, [], HASHES_64[0]),
        (HASHES_64[0], -1, 1, [], HASHES_64[0]),
        (HASHES_64[0], 0, 1, [], HASHES_64[0][:31]),
        (HASHES_64[0][:31], 0, 1, [], HASHES_64[0][:31]),
        (HASHES_64[0], 0, 2, [HASHES_64[1][:31]], ROOTS_64[2]),
        (HASHES_64[0], True, 2, [HASHES_64[0]], ROOTS_64[2]),
    ],
)
def test_inclusion_with_bad_arguments_is_false_not_an_exception(
    leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes
) -> None:
    assert verify_inclusion(leaf, index, size, proof, root) is False


def test_hash_boundaries_cannot_be_shifted_between_leaf_and_proof() -> None:
    # root(2) = H(0x01 || h0 || h1): a 16-byte "leaf" and a 48-byte proof element would
    # hash to the same bytes, so lengths must be checked, not only the final root.
    h0, h1 = HASHES_64[0], HASHES_64[1]
    assert node_hash(h0[:16], h0[16:] + h1) == ROOTS_64[2]
    assert not verify_inclusion(h0[:16], 0, 2, [h0[16:] + h1], ROOTS_64[2])
    assert not verify_consistency(1, 2, h0, ROOTS_64[2], [h1[:16], h1[16:]])


def test_single_leaf_tree_proves_inclusion_with_an_empty_path() -> None:
    h = leaf_hash(b"data")
    assert verify_inclusion(h, 0, 1, [], h)
    assert not verify_inclusion(h, 0, 1, [h], h)


# -- consistency proofs -----------------------------------------------------------------------


@pytest.mark.parametrize(("m", "n", "path"), RFC6962_CONSISTENCY_PROOFS)
def test_consistency_proof_matches_published_vector(m: int, n: int, path: list[str]) -> None:
    expected = [bytes.fromhex(h) for h in path]
    assert consistency_proof(m, n, RFC6962_LEAF_HASHES.__getitem__) == expected
    assert verify_consistency(m, n, RFC6962_ROOTS[m - 1], RFC6962_ROOTS[n - 1], expected)


def test_every_consistency_proof_up_to_size_64_verifies_and_tampering_fails() -> None:
    get = HASHES_64.__getitem__
    for n in range(1, 65):
        root_n = ROOTS_64[n]
        for m in range(1, n + 1):
            root_m = ROOTS_64[m]
            proof = consistency_proof(m, n, get)
            assert proof == ref_subproof(m, HASHES_64[:n], True)
            assert verify_consistency(m, n, root_m, root_n, proof), (m, n)

            assert not verify_consistency(m, n, flip(root_m), root_n, proof)
            assert not verify_consistency(m, n, root_m, flip(root_n, 31), proof)
            assert not verify_consistency(m, n, root_m, root_n, [*proof, root_n])
            assert not verify_consistency(m, n, root_m, root_n, [root_m, *proof])
            if m == n:
                assert proof == []
                continue
            assert not verify_consistency(m, n, root_n, root_m, proof)
            assert not verify_consistency(m, n, root_m, root_n, [])
            for i in range(len(proof)):
                tampered = [*proof[:i], flip(proof[i], i % 32), *proof[i + 1 :]]
                assert not verify_consistency(m, n, root_m, root_n, tampered)
                dropped = proof[:i] + proof[i + 1 :]
                assert not verify_consistency(m, n, root_m, root_n, dropped)
            for other_m in (m - 1, m + 1):
                if 1 <= other_m < n:
                    assert not verify_consistency(other_m, n, root_m, root_n, proof)
            # As for inclusion, only a proof of the wrong length for the sizes must fail.
            for other_n in (n - 1, n + 1, n * 2):
                if m < other_n and consistency_length(m, other_n) != len(proof):
                    assert not verify_consistency(m, other_n, root_m, root_n, proof)


def test_consistency_from_the_empty_tree_needs_no_proof_and_the_empty_root() -> None:
    assert consistency_proof(0, 5, HASHES_64.__getitem__) == []
    assert verify_consistency(0, 5, EMPTY_ROOT, ROOTS_64[5], [])
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert not verify_consistency(0, 5, ROOTS_64[1], ROOTS_64[5], [])
    assert not verify_consistency(0, 5, EMPTY_ROOT, ROOTS_64[5], [ROOTS_64[5]])


def test_consistency_proof_is_refused_backwards_or_negative() -> None:
    get = HASHES_64.__getitem__
    for m, n in [(2, 1), (-1, 3), (9, 8)]:
        with pytest.raises(ValueError):
            consistency_proof(m, n, get)


@pytest.mark.parametrize(
    ("m", "n", "root_m", "root_n", "proof"),
    [
        (2, 1, ROOTS_64[2], ROOTS_64[1], []),
        (-1, 1, EMPTY_ROOT, ROOTS_64[1], []),
        (1, 1, ROOTS_64[1], ROOTS_64[2], []),
        (1, 1, b"short", b"short", []),
        (1, 2, ROOTS_64[1], ROOTS_64[2], [HASHES_64[1][:16]]),
        (1, 2, ROOTS_64[1], ROOTS_64[2], [b""]),
    ],
)
def test_consistency_with_bad_arguments_is_false_not_an_exception(
    m: int, n: int, root_m: bytes, root_n: bytes, proof: list[bytes]
) -> None:
    assert verify_consistency(m, n, root_m, root_n, proof) is False


# -- properties -------------------------------------------------------------------------------

leaf_lists = st.lists(st.binary(max_size=40), min_size=1, max_size=150)


@given(leaves=leaf_lists, data=st.data())
def test_any_log_proves_inclusion_of_each_of_its_leaves(
    leaves: list[bytes], data: st.DataObject
) -> None:
    hashes = [leaf_hash(leaf) for leaf in leaves]
    root = CompactRange.from_leaf_hashes(hashes).root()
    assert root == root_from_leaf_hashes(hashes)
    index = data.draw(st.integers(0, len(hashes) - 1))
    proof = inclusion_proof(index, len(hashes), hashes.__getitem__)
    assert verify_inclusion(hashes[index], index, len(hashes), proof, root)
    other = data.draw(st.binary(max_size=40).filter(lambda b: b != leaves[index]))
    assert not verify_inclusion(leaf_hash(other), index, len(hashes), proof, root)


@given(leaves=leaf_lists, data=st.data())
def test_any_prefix_is_consistent_and_a_rewritten_history_is_not(
    leaves: list[bytes], data: st.DataObject
) -> None:
    hashes = [leaf_hash(leaf) for leaf in leaves]
    n = len(hashes)
    m = data.draw(st.integers(1, n))
    root_m = root_from_leaf_hashes(hashes[:m])
    root_n = root_from_leaf_hashes(hashes)
    proof = consistency_proof(m, n, hashes.__getitem__)
    assert verify_consistency(m, n, root_m, root_n, proof)

    # Rewriting any leaf of the old tree changes the new tree: the old proof cannot hold.
    changed = data.draw(st.integers(0, m - 1))
    forged = list(hashes)
    forged[changed] = leaf_hash(leaves[changed] + b"!")
    forged_root_n = root_from_leaf_hashes(forged)
    forged_proof = consistency_proof(m, n, forged.__getitem__)
    assert not verify_consistency(m, n, root_m, forged_root_n, forged_proof)


def test_a_tree_grown_in_batches_equals_one_grown_leaf_by_leaf_and_knows_its_past_roots() -> None:
    hashes = [leaf_hash(str(i).encode()) for i in range(150)]
    prefix_roots = [root_from_leaf_hashes(hashes[:size]) for size in range(151)]
    for start in range(0, 70):
        for count in (0, 1, 2, 3, 7, 8, 9, 31, 32, 33, 80):
            batched, single = TreeBuilder(), TreeBuilder()
            for hashed in hashes[:start]:
                batched.append(hashed)
                single.append(hashed)
            sizes = range(start + 1, start + count + 1)
            roots = batched.extend(hashes[start : start + count], sizes)
            for hashed in hashes[start : start + count]:
                single.append(hashed)
            assert (batched.size, batched.peaks) == (single.size, single.peaks)
            assert roots == {size: prefix_roots[size] for size in sizes}
    with pytest.raises(ValueError, match="not all reached"):
        TreeBuilder().extend(hashes[:4], [5])


def test_a_proof_from_the_old_trees_peaks_is_the_proof_from_all_its_leaves() -> None:
    """Every pair of sizes up to 64, and a few around powers of two in a larger tree: the
    proof made from the old size's compact range and the leaves after it only is the same
    proof, and the earlier leaves are never asked for."""
    big = [leaf_hash(str(i).encode()) for i in range(1100)]
    pairs = [(m, n) for n in range(65) for m in range(n + 1)]
    pairs += [(m, n) for m in (255, 256, 257, 511, 1000) for n in (m, m + 1, 1024, 1025, 1100)]
    for m, n in pairs:
        hashes = HASHES_64 if n <= 64 else big
        asked: list[int] = []

        def after_old(index: int, hashes: list[bytes] = hashes, asked: list[int] = asked) -> bytes:
            asked.append(index)
            return hashes[index]

        old = CompactRange.from_leaf_hashes(hashes[:m])
        assert consistency_proof_from(old, n, after_old) == consistency_proof(
            m, n, hashes.__getitem__
        ), (m, n)
        assert all(index >= m for index in asked), (m, n)
    with pytest.raises(ValueError, match="no consistency proof"):
        consistency_proof_from(
            CompactRange.from_leaf_hashes(HASHES_64[:5]), 4, HASHES_64.__getitem__
        )
