"""Canonical bytes (ledger/canonical.py): equal to RFC 8785 as written by an implementation
nobody here wrote (``rfc8785``), refusing whatever another tool would write differently,
and hashed as RFC 9162 leaves."""

from __future__ import annotations

import hashlib
import json
import unicodedata
from datetime import UTC, date, datetime
from typing import Any

import pytest
import rfc8785
from hypothesis import assume, example, given
from hypothesis import strategies as st

from ledger.canonical import (
    ZERO_HASH,
    Move,
    canonical_json,
    leaf_document,
    leaf_hash_hex,
    leaf_version_of,
    parse_leaf,
    parse_leaf_lines,
    timestamp,
)
from ledger.rules import Leg

# Characters the encoders are most likely to disagree on: every escape, the controls
# (C0, DEL, C1), separators JavaScript treats specially, the BOM, the private-use and last
# BMP characters that sort differently in UTF-16, and emoji (surrogate pairs in UTF-16).
TRICKY = (
    "\x00\x01\x07\x08\t\n\x0b\x0c\r\x1b\x1f\x7f\x80\x9f\"\\/'<>&"
    "\u00e9\u00c5\u2028\u2029\u200b\u200d\ufeff\ue000\uf8ff\ufb01\ufffd\uffff"
    "\U0001f600\U0001f4b6\U0001f469\U0001f3fd\U00010000\U0010ffff"
)
characters = st.one_of(st.characters(exclude_categories=["Cs"]), st.sampled_from(TRICKY))
texts = st.text(characters, max_size=10).map(lambda text: unicodedata.normalize("NFC", text))
values = st.recursive(
    texts,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(texts, children, max_size=4),
    max_leaves=12,
)
documents = st.dictionaries(texts, values, max_size=6)

# Characters whose NFD (or the character itself) is not NFC.
NOT_NFC = ["e\u0301", "A\u030a", "n\u0303", "\u1100\u1161", "\u2126", "\u212b", "\u0344"]


@given(documents)
@example({"\uffff": "", "\U0001f600": ""})  # U+FFFF sorts after an emoji in UTF-16
@example({"\ue000": "a", "\U00010000": "b", "z": "c"})
@example({"k": [{"\uf8ff": "1", "\U0001f4b6": "2"}]})  # the same, nested
@example({"": "", "a": "\x00\x1f\x7f\u2028\u2029"})
@example({"emoji": "\U0001f469\u200d\U0001f469\u200d\U0001f467", "bom": "\ufeff"})
def test_canonical_json_equals_rfc8785(document: dict[str, Any]) -> None:
    assert canonical_json(document) == rfc8785.dumps(document)


@given(documents)
def test_canonical_json_reads_back_as_the_same_document(document: dict[str, Any]) -> None:
    assert json.loads(canonical_json(document).decode("utf-8")) == document


@given(documents)
def test_canonical_json_ignores_the_order_keys_were_inserted_in(
    document: dict[str, Any],
) -> None:
    backwards = dict(reversed(list(document.items())))
    assert canonical_json(backwards) == canonical_json(document)


@given(
    st.dictionaries(
        st.text(st.characters(max_codepoint=0xDFFF, exclude_categories=["Cs"]), max_size=8).map(
            lambda key: unicodedata.normalize("NFC", key)
        ),
        texts,
        max_size=6,
    )
)
def test_unchecked_encoding_is_the_same_for_keys_below_u_e000(document: dict[str, str]) -> None:
    # The verifier's fast path (check=False) must give the bytes the writer hashed.
    assert canonical_json(document, check=False) == canonical_json(document)


@st.composite
def embedded(draw: st.DrawFn, bad: st.SearchStrategy[Any]) -> dict[str, Any]:
    """A document with one bad value somewhere: at the top, in a list, in a nested object."""
    value = draw(bad)
    where = draw(st.sampled_from(["top", "list", "nested", "deep"]))
    document = draw(documents)
    if where == "top":
        document["bad"] = value
    elif where == "list":
        document["bad"] = [*draw(st.lists(texts, max_size=3)), value]
    elif where == "nested":
        document["bad"] = {"inner": value}
    else:
        document["bad"] = [{"inner": [value]}]
    return document


@st.composite
def not_nfc_texts(draw: st.DrawFn) -> str:
    text = draw(texts) + draw(st.sampled_from(NOT_NFC)) + draw(texts)
    assume(not unicodedata.is_normalized("NFC", text))
    return text


@given(embedded(not_nfc_texts()))
@example({"memo": "Cafe\u0301"})
def test_text_that_is_not_nfc_is_refused(document: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="NFC"):
        canonical_json(document)


@given(not_nfc_texts(), st.sampled_from(["top", "nested"]))
def test_a_key_that_is_not_nfc_is_refused(key: str, where: str) -> None:
    document: dict[str, Any] = {key: "x"} if where == "top" else {"outer": {key: "x"}}
    with pytest.raises(ValueError, match="NFC"):
        canonical_json(document)


@given(
    embedded(
        st.one_of(
            st.floats(allow_nan=False),
            st.integers(),
            st.booleans(),
            st.none(),
        )
    )
)
@example({"amount": 12.5})
@example({"amount": 1250})
@example({"postings": [{"amount": True}]})
def test_numbers_booleans_and_null_are_refused(document: dict[str, Any]) -> None:
    with pytest.raises(TypeError):
        canonical_json(document)


def test_keys_that_are_not_strings_are_refused() -> None:
    with pytest.raises(TypeError):
        canonical_json({1: "one"})  # type: ignore[dict-item]


@given(st.binary())
@example(b"")
@example(b'{"v":"1"}')
def test_leaf_hash_is_sha256_of_a_zero_byte_and_the_leaf(leaf: bytes) -> None:
    expected = hashlib.sha256(b"\x00" + leaf).hexdigest()
    assert leaf_hash_hex(leaf) == expected
    assert leaf_hash_hex(leaf) != hashlib.sha256(leaf).hexdigest()


def test_leaf_hash_of_the_empty_leaf_is_rfc_6962s() -> None:
    # The well-known Certificate Transparency hash of an empty leaf.
    assert leaf_hash_hex(b"") == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"


@given(
    seq=st.integers(min_value=1, max_value=2**63 - 1),
    memo=texts,
    counterparty=st.none() | texts,
    amount=st.integers(min_value=1, max_value=10**15),
    reverses=st.none() | st.integers(min_value=1, max_value=2**63 - 1),
    moment=st.datetimes(timezones=st.just(UTC)),
)
def test_leaf_documents_encode_as_rfc8785(
    seq: int,
    memo: str,
    counterparty: str | None,
    amount: int,
    reverses: int | None,
    moment: datetime,
) -> None:
    document = leaf_document(
        group="rent-fund",
        seq=seq,
        kind="donation",
        occurred_on=date(2025, 3, 1),
        recorded_at=moment,
        memo=memo,
        counterparty=counterparty,
        postings=[
            Leg("Assets:Holding:Groceries", "groceries", amount, "EUR"),
            Leg("Income:Donations:Groceries", "groceries", -amount, "EUR"),
        ],
        reverses=reverses,
        proposal=None,
        prev=ZERO_HASH,
    )
    leaf = canonical_json(document)
    assert leaf == rfc8785.dumps(document)
    assert canonical_json(document, check=False) == leaf
    assert json.loads(leaf)["recorded_at"] == timestamp(moment)
    assert json.loads(leaf)["postings"][1]["amount"] == str(-amount)


def _a_leaf() -> bytes:
    return canonical_json(
        leaf_document(
            group="rent-fund",
            seq=1,
            kind="donation",
            occurred_on=date(2025, 3, 1),
            recorded_at=datetime(2025, 3, 1, tzinfo=UTC),
            memo="café",
            counterparty=None,
            postings=[
                Leg("Assets:Holding:Groceries", "groceries", 100, "EUR"),
                Leg("Income:Donations:Groceries", "groceries", -100, "EUR"),
            ],
            reverses=None,
            proposal=None,
            prev=ZERO_HASH,
        )
    )


@pytest.mark.parametrize(
    "bad_bytes",
    [b"\xed\xa0\x80", b"\xff", b"\xc3", b"\xe9t\xe9", b"\xf4\x90\x80\x80"],
    ids=["a surrogate", "0xff", "a truncated sequence", "Latin-1", "beyond U+10FFFF"],
)
def test_a_leaf_that_is_not_utf8_is_named_so_whatever_the_json_library_says(
    bad_bytes: bytes,
) -> None:
    leaf = _a_leaf().replace(b'"memo":"', b'"memo":"' + bad_bytes)
    with pytest.raises(ValueError, match=r"^not UTF-8"):
        parse_leaf(leaf)
    with pytest.raises(ValueError) as raised:
        parse_leaf_lines(_a_leaf() + b"\n" + leaf)
    problem, index = raised.value.args
    assert problem.startswith("not UTF-8")
    assert index == 1  # the second line


def test_a_canonical_leaf_reads_back() -> None:
    leaf = _a_leaf()
    assert parse_leaf(leaf).memo == "café"
    documents, lines = parse_leaf_lines(leaf + b"\n" + leaf)
    assert lines == [leaf, leaf]
    assert len(documents) == 2


# --- places (leaf version 6) -----------------------------------------------------------------


def _placed_leaf(**parts: Any) -> bytes:
    legs = [
        Leg("Assets:Holding:Groceries", "groceries", 500, "EUR", parts.get("place")),
        Leg("Income:Donations:Groceries", "groceries", -500, "EUR", parts.get("place")),
    ]
    return canonical_json(
        leaf_document(
            group="pod",
            seq=2,
            kind=parts.pop("kind", "donation"),
            occurred_on=date(2026, 12, 6),
            recorded_at=datetime(2026, 12, 6, 5, 0, tzinfo=UTC),
            memo="",
            counterparty=None,
            postings=[] if parts.get("move") else legs,
            reverses=None,
            proposal=None,
            prev=ZERO_HASH,
            **parts,
        )
    )


def test_an_entry_in_the_default_place_is_written_as_before_places() -> None:
    leaf = _placed_leaf()
    assert b'"v":"1"' in leaf
    assert b"place" not in leaf
    assert leaf_version_of(parse_leaf(leaf)) == "1"


def test_a_place_or_a_move_makes_a_version_6_leaf_that_reads_back() -> None:
    cash = parse_leaf(_placed_leaf(place="cash"))
    assert (cash.v, cash.place) == ("6", "cash")
    moved = parse_leaf(_placed_leaf(kind="move", move=Move("cash", "bank", 8000, "EUR")))
    assert moved.v == "6"
    assert moved.move is not None
    assert moved.move.legs() == Move("cash", "bank", 8000, "EUR").legs()
    assert leaf_version_of(moved) == "6"


def test_a_leaf_of_an_older_version_may_not_name_a_place() -> None:
    """A verifier compares the version a leaf says with the one its parts need."""
    leaf = _placed_leaf(place="cash").replace(b'"v":"6"', b'"v":"1"')
    assert leaf_version_of(parse_leaf(leaf)) == "6"
