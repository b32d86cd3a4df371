"""Canonical bytes of an entry: the leaf of the group's log.

UTF-8 JSON with sorted keys, no spaces, every number written as a string and every text
NFC-normalised. For these values (objects, arrays, strings) the output equals RFC 8785 (JCS),
so anyone can re-derive it with an off-the-shelf canonicaliser.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from itertools import compress
from operator import not_
from typing import Any, NoReturn

import msgspec

from ledger.rules import RECONCILIATION, Leg, move_legs

# Leaf formats. A log keeps every leaf as it was written, so each version stays readable:
# "1" the first format; "2" adds "policy", the spending policy a payment is made under;
# "3" is a leaf of kind "attachment" (a receipt attached to an earlier entry, see
# ``attachment_leaf_document``); "4" adds decision leaves (kind "decision": a closed round,
# with "decision") and payments that name the decision leaf authorising them ("decided_in",
# its seq); "5" adds "reimbursements" to a policy decision's terms (the policy may pay
# members' claims); "6" adds places, where money is held: "place" names the place of an entry
# not in the group's default place (a leaf naming none is in the default place, as every
# leaf before places was), and "move" is the part of an entry moving money between two
# places (kind "move", or the reversal of one), which has no postings; "7" is a leaf of kind
# "reconciliation" (a place's books agreed with its bank statement through a day, see
# ``reconciliation_leaf_document``).
# A leaf is written in the lowest version that can hold it.
LEAF_VERSION = "1"
LEAF_VERSION_POLICY = "2"
LEAF_VERSION_ATTACHMENT = "3"
LEAF_VERSION_DECISION = "4"
LEAF_VERSION_REIMBURSEMENTS = "5"
LEAF_VERSION_PLACES = "6"
LEAF_VERSION_RECONCILIATION = "7"
LEAF_VERSIONS = (
    LEAF_VERSION,
    LEAF_VERSION_POLICY,
    LEAF_VERSION_ATTACHMENT,
    LEAF_VERSION_DECISION,
    LEAF_VERSION_REIMBURSEMENTS,
    LEAF_VERSION_PLACES,
    LEAF_VERSION_RECONCILIATION,
)
ATTACHMENT = "attachment"
# The types of file a receipt may be (what ``ledger.cleaning`` reads from the bytes).
ATTACHMENT_TYPES = ("application/pdf", "image/jpeg", "image/png", "image/webp")
ZERO_HASH = "0" * 64

# msgspec's sorted, compact, UTF-8 output is byte-for-byte what ``json.dumps(...,
# sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` writes, several times faster
# (tests/unit/test_canonical.py holds it to RFC 8785).
_encoder = msgspec.json.Encoder(order="sorted")
# For documents whose keys are already in RFC 8785 order (see ``_in_utf16_order``).
_ordered_encoder = json.JSONEncoder(ensure_ascii=False, sort_keys=False, separators=(",", ":"))
# RFC 8785 sorts keys by UTF-16 code units, Python by code points. The two orders agree
# unless a key holds a character from U+E000 to U+FFFF (which sorts after a surrogate pair
# in UTF-16, before it by code point); keys below this bound can use Python's order.
_UTF16_ORDER_MATTERS_FROM = "\ue000"


def nfc(text: str) -> str:
    """NFC form of a text (cheap when it is already normal, as nearly all input is)."""
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


# Control characters: none in a line of text; tabs and line breaks in a longer text.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def has_control_characters(text: str, *, multiline: bool = False) -> bool:
    """Whether a text holds characters no person types (NUL, escapes, bells...)."""
    return bool((_CONTROL_IN_TEXT if multiline else _CONTROL).search(text))


def canonical_json(
    document: Mapping[str, Any], *, check: bool = True, nulls: bool = False
) -> bytes:
    """Encode a document of dicts, lists and strings canonically.

    The caller builds documents from strings only: a float or a bare int here is a bug, and
    ``_check`` says so rather than hashing something another tool would write differently.
    The verifier passes ``check=False`` for leaf documents (whose keys are fixed ASCII names):
    it compares the result with stored bytes anyway. Without the check, keys are sorted by
    code point, which equals RFC 8785's UTF-16 order for keys below U+E000.
    ``nulls``: the document may hold JSON null, a place kept empty (a decision's tier).
    """
    if check and _check(document, nulls):
        return _ordered_encoder.encode(_in_utf16_order(document)).encode("utf-8")
    return _encoder.encode(document)


def _check(value: object, nulls: bool = False) -> bool:
    """Refuse what is not canonical text; True when some key needs RFC 8785's UTF-16 order.
    With ``nulls``, ``None`` (JSON null) marks a place kept empty."""
    if value is None and nulls:
        return False
    if isinstance(value, str):
        if not unicodedata.is_normalized("NFC", value):
            raise ValueError("canonical text must be NFC-normalised")
        return False
    reorder = False
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError("canonical keys must be strings")
            if not unicodedata.is_normalized("NFC", key):
                raise ValueError("canonical keys must be NFC-normalised")
            if key and max(key) >= _UTF16_ORDER_MATTERS_FROM:
                reorder = True
            reorder = _check(item, nulls) or reorder
    elif isinstance(value, list):
        for item in value:
            reorder = _check(item, nulls) or reorder
    else:
        raise TypeError(f"canonical values are strings, lists or objects, not {type(value)}")
    return reorder


def _in_utf16_order(value: Any) -> Any:
    """The document with every object's keys in RFC 8785 order (by UTF-16 code units)."""
    if isinstance(value, Mapping):
        return {
            key: _in_utf16_order(value[key])
            for key in sorted(value, key=lambda key: key.encode("utf-16-be"))
        }
    if isinstance(value, list):
        return [_in_utf16_order(item) for item in value]
    return value


def leaf_hash_hex(leaf: bytes) -> str:
    """RFC 9162 leaf hash, SHA-256(0x00 || leaf), in hex: an entry's ``hash``."""
    return hashlib.sha256(b"\x00" + leaf).hexdigest()


def timestamp(moment: datetime) -> str:
    """UTC time with microseconds and a Z, as it is hashed."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def leaf_document(
    *,
    group: str,
    seq: int,
    kind: str,
    occurred_on: date,
    recorded_at: datetime,
    memo: str,
    counterparty: str | None,
    postings: Sequence[Leg],
    reverses: int | None,
    proposal: tuple[int, int] | None,
    prev: str,
    policy: tuple[int, int] | None = None,
    decided_in: int | None = None,
    decision: Mapping[str, Any] | None = None,
    place: str | None = None,
    move: Move | None = None,
) -> dict[str, Any]:
    """The document an entry's leaf encodes. Optional parts are left out when absent.

    It holds no personal data: a counterparty is a pseudonym, a memo is public text.
    ``decision``: the body of a decision leaf (``ledger.decisions.decision_body``);
    ``decided_in``: the seq of the decision leaf a payment is made under;
    ``place``: the place of an entry not in the default place; ``move``: a move's part
    (its ``postings`` are then empty).
    """
    if place is not None or move is not None:
        version = LEAF_VERSION_PLACES
    elif decision is not None and "reimbursements" in (decision.get("policy") or {}):
        version = LEAF_VERSION_REIMBURSEMENTS
    elif decision is not None or decided_in is not None:
        version = LEAF_VERSION_DECISION
    else:
        version = LEAF_VERSION if policy is None else LEAF_VERSION_POLICY
    document: dict[str, Any] = {
        "v": version,
        "group": group,
        "seq": str(seq),
        "kind": kind,
        "occurred_on": occurred_on.isoformat(),
        "recorded_at": timestamp(recorded_at),
        "memo": memo,
        "postings": [
            {"account": p.account, "fund": p.fund, "amount": str(p.amount), "currency": p.currency}
            for p in postings
        ],
        "prev": prev,
    }
    if counterparty is not None:
        document["counterparty"] = counterparty
    if reverses is not None:
        document["reverses"] = str(reverses)
    if proposal is not None:
        document["proposal"] = {"number": str(proposal[0]), "version": str(proposal[1])}
    if policy is not None:
        document["policy"] = {"number": str(policy[0]), "version": str(policy[1])}
    if decided_in is not None:
        document["decided_in"] = str(decided_in)
    if decision is not None:
        document["decision"] = decision
    if place is not None:
        document["place"] = place
    if move is not None:
        document["move"] = {
            "amount": str(move.amount),
            "currency": move.currency,
            "from": move.from_place,
            "to": move.to_place,
        }
    return document


@dataclass(frozen=True, slots=True)
class Move:
    """A move's part of its leaf: ``amount`` (minor units; negated in its reversal) leaves
    ``from_place`` for ``to_place`` (both places' slugs, always written)."""

    from_place: str
    to_place: str
    amount: int
    currency: str

    def legs(self) -> tuple[Leg, Leg]:
        return move_legs(self.from_place, self.to_place, self.amount, self.currency)


def attachment_leaf_document(
    *,
    group: str,
    seq: int,
    occurred_on: date,
    recorded_at: datetime,
    entry: int,
    sha256: str,
    content_type: str,
    size: int,
    prev: str,
) -> dict[str, Any]:
    """The leaf of a file attached to entry ``entry``: its SHA-256, type and size. It moves
    no money (no postings, no memo) and names no file: a file's name can name a person."""
    return {
        "v": LEAF_VERSION_ATTACHMENT,
        "group": group,
        "seq": str(seq),
        "kind": ATTACHMENT,
        "occurred_on": occurred_on.isoformat(),
        "recorded_at": timestamp(recorded_at),
        "memo": "",
        "postings": [],
        "attachment": {
            "entry": str(entry),
            "sha256": sha256,
            "size": str(size),
            "type": content_type,
        },
        "prev": prev,
    }


def reconciliation_leaf_document(
    *,
    group: str,
    seq: int,
    occurred_on: date,
    recorded_at: datetime,
    place: str,
    through: date,
    balance: int,
    currency: str,
    lines: int,
    sha256: str,
    prev: str,
) -> dict[str, Any]:
    """The leaf of a reconciliation: the place (its slug, always written, the default place
    too) agreed with its bank through the day ``through``, where it held ``balance`` (minor
    units of ``currency``), over ``lines`` statement lines, as the statement file with this
    SHA-256 says (the file stays private: it names people). It moves no money."""
    return {
        "v": LEAF_VERSION_RECONCILIATION,
        "group": group,
        "seq": str(seq),
        "kind": RECONCILIATION,
        "occurred_on": occurred_on.isoformat(),
        "recorded_at": timestamp(recorded_at),
        "memo": "",
        "postings": [],
        "reconciliation": {
            "balance": str(balance),
            "currency": currency,
            "lines": str(lines),
            "place": place,
            "sha256": sha256,
            "through": through.isoformat(),
        },
        "prev": prev,
    }


def leaf_version_of(document: LeafDoc) -> str:
    """The version a leaf with these parts is written in (see ``LEAF_VERSIONS``)."""
    if document.reconciliation is not None:
        return LEAF_VERSION_RECONCILIATION
    if document.attachment is not None:
        return LEAF_VERSION_ATTACHMENT
    if document.place is not None or document.move is not None:
        return LEAF_VERSION_PLACES
    decision = document.decision
    if decision is not None and decision.policy and decision.policy.reimbursements is not None:
        return LEAF_VERSION_REIMBURSEMENTS
    if decision is not None or document.decided_in is not None:
        return LEAF_VERSION_DECISION
    return LEAF_VERSION if document.policy is None else LEAF_VERSION_POLICY


# --- reading leaves back --------------------------------------------------------------------


# The fields of these structs are declared in sorted order, so a plain encoder writes them
# in canonical order without sorting them on every leaf (a quarter faster than
# ``order="sorted"``, which a verifier reading millions of leaves notices).


class LeafPostingDoc(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    account: str
    amount: str
    currency: str
    fund: str


class LeafProposalDoc(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    number: str
    version: str


class LeafAttachmentDoc(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    entry: str
    sha256: str
    size: str
    type: str


class LeafReconciliationDoc(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """A reconciliation's part: the place's balance through a day, by a statement."""

    balance: str
    currency: str
    lines: str
    place: str
    sha256: str
    through: str


class LeafMoveDoc(msgspec.Struct, forbid_unknown_fields=True, gc=False, kw_only=True):
    """A move's part: the amount leaving the place "from" for the place "to"."""

    amount: str
    currency: str
    from_: str = msgspec.field(name="from")
    to: str

    def legs(self) -> tuple[Leg, Leg]:
        """Its legs, as ``Move.legs`` gives them (the amount read as an integer: the caller
        checked it is one)."""
        return move_legs(self.from_, self.to, int(self.amount), self.currency)


class LeafTallyDoc(msgspec.Struct, forbid_unknown_fields=True, gc=False, kw_only=True):
    """A closed round's counts, as its minute's tally states them."""

    agree: str
    block: str
    concern: str
    eligible: str
    quorum_needed: str
    responded: str
    stand_aside: str


class LeafFallbackDoc(msgspec.Struct, forbid_unknown_fields=True, gc=False, kw_only=True):
    after_blocked_rounds: str
    agree_share: str


class LeafRulesDoc(msgspec.Struct, forbid_unknown_fields=True, gc=False, kw_only=True):
    """The decision rules a round was decided by (CONTRACT section 5), as text."""

    blocks_to_stop: str
    close_when_all_responded: str
    exclude_beneficiary: str
    fallback: LeafFallbackDoc | None  # null: no fallback
    max_stand_aside_share: str
    min_open_hours: str
    min_support_share: str
    quorum: str


class LeafMoneyDoc(
    msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, gc=False, kw_only=True
):
    """What a decision authorises to pay: the amount from the fund, to the counterparty
    (absent: to nobody named)."""

    amount: str
    counterparty: str | None = None
    currency: str
    fund: str


class LeafPolicyTermsDoc(
    msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, gc=False, kw_only=True
):
    """The terms a policy decision adopts (absent parts: an ending, "end": "true")."""

    currency: str | None = None
    end: str | None = None
    ends_on: str | None = None
    fund: str | None = None
    max_per_month: str | None = None
    max_per_payment: str | None = None
    payers: tuple[str, ...] | None = None
    purpose: str | None = None
    reimbursements: str | None = None  # "true": it may pay members' claims (version "5")
    replaces: str | None = None


class LeafNameDoc(msgspec.Struct, forbid_unknown_fields=True, gc=False, kw_only=True):
    """A member who counted and what they said (only where the group publishes names)."""

    member: str
    position: str


class LeafDecisionDoc(
    msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, gc=False, kw_only=True
):
    """The body of a decision leaf: a closed round of a proposal (named by the leaf's
    "proposal") and what it decided. ``tier`` is always written (null until groups have
    tiers of decisions)."""

    closed_by: str
    minute: str  # SHA-256 (hex) of the round's stored minute
    money: LeafMoneyDoc | None = None
    names: tuple[LeafNameDoc, ...] | None = None
    outcome: str
    policy: LeafPolicyTermsDoc | None = None
    round: str
    rules: LeafRulesDoc
    tally: LeafTallyDoc
    tier: str | None


class LeafDoc(
    msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, gc=False, kw_only=True
):
    """A leaf as ``leaf_document`` (or ``attachment_leaf_document``) writes it: every value
    a string, optional parts absent."""

    attachment: LeafAttachmentDoc | None = None
    counterparty: str | None = None
    decided_in: str | None = None
    decision: LeafDecisionDoc | None = None
    group: str
    kind: str
    memo: str
    move: LeafMoveDoc | None = None
    occurred_on: str
    place: str | None = None
    policy: LeafProposalDoc | None = None
    # A tuple, not a list: a verifier keeps the postings of every entry a later reversal
    # may name, and tuples of these (untracked) structs drop out of the garbage collector.
    postings: tuple[LeafPostingDoc, ...]
    prev: str
    proposal: LeafProposalDoc | None = None
    reconciliation: LeafReconciliationDoc | None = None
    recorded_at: str
    reverses: str | None = None
    seq: str
    v: str


_leaf_encoder = msgspec.json.Encoder()
_leaf_decoder = msgspec.json.Decoder(LeafDoc)
_leaves_decoder = msgspec.json.Decoder(list[LeafDoc])


def parse_leaf(leaf: bytes) -> LeafDoc:
    """Read a leaf back, refusing anything ``leaf_document`` + ``canonical_json`` would not
    have written byte for byte: another shape, a number, other key order or spacing,
    other escapes, text not in NFC. Raises ValueError saying which."""
    # UTF-8 is checked here, first: JSON decoders differ in how (and whether) they report
    # bytes that are not UTF-8, and the report must not change with a library's version.
    try:
        text = leaf.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"not UTF-8: {error}") from error
    try:
        document = _leaf_decoder.decode(leaf)
    except msgspec.ValidationError as error:
        raise ValueError(f"not a leaf: {error}") from error
    except msgspec.DecodeError as error:
        raise ValueError(f"not JSON: {error}") from error
    if _leaf_encoder.encode(document) != leaf:
        raise ValueError("not in canonical form")
    if not unicodedata.is_normalized("NFC", text):
        raise ValueError("text not in NFC")
    return document


def parse_leaf_lines(block: bytes) -> tuple[list[LeafDoc], list[bytes]]:
    """``parse_leaf`` for every line of ``block`` (lines joined by line feeds, without a
    last one), and the lines: the fast path of a verifier. One decoder call for the block
    and no split: the leaves re-encoded and joined by line feeds must be the block itself,
    and as a canonical leaf holds no line feed, each line is then its leaf byte for byte.
    When something is wrong the lines are read one by one, so the ValueError names the
    first bad one (``.args[1]`` its index in the block)."""
    try:
        documents = _leaves_decoder.decode(b"[" + block.replace(b"\n", b",") + b"]")
    except (msgspec.DecodeError, UnicodeDecodeError):
        documents = None
    if documents:  # a block holds at least one line, if only an empty one
        leaves = list(map(_leaf_encoder.encode, documents))
        if b"\n".join(leaves) == block and _in_nfc(leaves):
            return documents, leaves
    _first_bad_leaf(block.split(b"\n"))


def _in_nfc(leaves: list[bytes]) -> bool:
    """Whether the text of these (valid UTF-8) leaves is NFC; only text beyond ASCII can
    fail to be, so only those leaves are decoded."""
    text = b"\n".join(compress(leaves, map(not_, map(bytes.isascii, leaves)))).decode("utf-8")
    return unicodedata.is_normalized("NFC", text)


def _first_bad_leaf(leaves: list[bytes]) -> NoReturn:
    for index, leaf in enumerate(leaves):
        try:
            parse_leaf(leaf)
        except ValueError as error:
            raise ValueError(str(error), index) from error
    raise ValueError("the leaves could not be read", 0)  # unreachable: some leaf failed
