"""Inputs of the ledger as msgspec Structs: the JSON API decodes straight into them.

Amounts stay strings here; ``ledger.money.parse_amount`` turns them into minor units with the
fund's currency, so a JSON number is refused before any rule runs.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import msgspec

# Ids and sequence numbers are 64-bit in the database: larger ones are refused as input.
MAX_ID = 2**63 - 1
Id = Annotated[int, msgspec.Meta(ge=1, le=MAX_ID)]
# A group's proposals are numbered 1, 2, 3...: 32 bits, as their columns.
MAX_PROPOSAL = 2**31 - 1
ProposalNumber = Annotated[int, msgspec.Meta(ge=1, le=MAX_PROPOSAL)]
Slug = Annotated[str, msgspec.Meta(min_length=1, max_length=64, examples=["rent-relief"])]
Amount = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=40,
        description='Decimal string in the currency\'s major unit, e.g. "12.50".',
        examples=["12.50"],
    ),
]
Memo = Annotated[str, msgspec.Meta(max_length=500, description="Public text: no personal data.")]
Counterparty = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=64,
        description="A pseudonym such as R-17 or a public name of a shop; never a person's name.",
    ),
]


class _Entry(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, tag_field="kind"):
    pass


# Where the money is: one of the group's places (its slug); absent, the group's default place.
PlaceSlug = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=64,
        description="The place the money is in (its slug); the group's default place if absent.",
        examples=["cash"],
    ),
]


class DonationIn(_Entry, tag="donation"):
    fund: Slug
    amount: Amount
    place: PlaceSlug | None = None
    occurred_on: date | None = None
    memo: Memo = ""
    counterparty: Counterparty | None = None


class DisbursementIn(_Entry, tag="disbursement"):
    fund: Slug
    amount: Amount
    place: PlaceSlug | None = None
    proposal: ProposalNumber | None = None
    policy: ProposalNumber | None = None  # a spending policy in force (its proposal's number)
    # A member's claim filed under that policy: the payment pays it back and carries its
    # receipt.
    claim: Id | None = None
    occurred_on: date | None = None
    memo: Memo = ""
    counterparty: Counterparty | None = None


class TransferIn(_Entry, tag="transfer"):
    from_fund: Slug
    to_fund: Slug
    amount: Amount
    place: PlaceSlug | None = None  # a transfer between funds stays in one place
    occurred_on: date | None = None
    memo: Memo = ""


class MoveIn(_Entry, tag="move"):
    """Money moved from one of the group's places to another (cash paid into the bank):
    no fund changes."""

    from_place: Slug
    to_place: Slug
    amount: Amount
    occurred_on: date | None = None
    memo: Memo = ""


class ReversalIn(_Entry, tag="reversal"):
    reverses: Id
    memo: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]


EntryIn = DonationIn | DisbursementIn | TransferIn | ReversalIn | MoveIn


class PlaceIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A place where the group holds money (a bank account, a cash box)."""

    slug: Slug
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
    currency: Annotated[str, msgspec.Meta(min_length=3, max_length=3)] | None = None
    # A bank account with an overdraft may go below zero; a cash box never does.
    allow_negative: bool = False


class FundIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    slug: Slug
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
    currency: Annotated[str, msgspec.Meta(min_length=3, max_length=3)] | None = None
    allow_negative: bool = False


# --- read models -------------------------------------------------------------------------


class MoveOut(msgspec.Struct, kw_only=True):
    """What a move (or its reversal, with the amount negated) moved between places."""

    from_place: str
    to_place: str
    amount: str
    currency: str


class NewName(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A fund's or a place's new name (its slug stays)."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=120)]


class PlaceOut(msgspec.Struct, kw_only=True):
    slug: str
    name: str
    currency: str
    default: bool
    allow_negative: bool
    balance: str
    # The last day the books were reconciled with the place's statement (None: never).
    reconciled_through: date | None = None


class PostingOut(msgspec.Struct, kw_only=True):
    fund: str
    account: str
    amount: str
    currency: str


class ProposalRef(msgspec.Struct, kw_only=True):
    number: int
    version: int


class AttachmentOut(msgspec.Struct, kw_only=True):
    """A file attached to an entry (a receipt), as its leaf in the log states it."""

    sha256: str
    content_type: str
    size: int
    entry: int  # the entry it is attached to
    seq: int  # its own leaf in the log
    recorded_at: str
    # The day its file was erased with a person's data (the leaf and the hash stay).
    erased_on: date | None = None


class EntryOut(msgspec.Struct, kw_only=True):
    seq: int
    kind: str
    occurred_on: date
    recorded_at: str
    memo: str
    counterparty: str | None
    reverses: int | None
    reversed_by: int | None
    proposal: ProposalRef | None
    policy: ProposalRef | None = None
    # The decision leaf (its seq) a payment is made under; None for payments decided
    # before decisions were logged, and for other entries.
    decided_in: int | None = None
    postings: list[PostingOut]
    # Where the money is (a place's slug); None for entries that move no money. A move
    # (and its reversal) says what it moved in ``move`` and has no postings.
    place: str | None = None
    move: MoveOut | None = None
    prev_hash: str
    hash: str
    attachments: list[AttachmentOut] = msgspec.field(default_factory=list)


class EntryPage(msgspec.Struct, kw_only=True):
    entries: list[EntryOut]
    next: int | None = msgspec.field(default=None)


class FundOut(msgspec.Struct, kw_only=True):
    slug: str
    name: str
    currency: str
    allow_negative: bool
    balance: str
    committed: str
    available: str


class HeadOut(msgspec.Struct, kw_only=True):
    seq: int
    hash: str


class VerifyOut(msgspec.Struct, kw_only=True):
    ok: bool
    entries: int
    head: HeadOut
    first_bad_seq: int | None
    problem: str | None


# --- how to give -------------------------------------------------------------------------


class GivingIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """How to give, as a whole: what is left out is cleared."""

    how_to_give: Annotated[
        str,
        msgspec.Meta(
            max_length=5000,
            description="Markdown: bank transfer details and other ways to give; "
            "shown rendered and sanitised on the group's pages.",
        ),
    ] = ""
    iban: (
        Annotated[
            str,
            msgspec.Meta(
                max_length=64,
                description="The account's IBAN (ISO 13616), spaces allowed; checked (country, "
                "length, MOD 97-10 check digits). Empty: no bank details.",
                examples=["DE89 3704 0044 0532 0130 00"],
            ),
        ]
        | None
    ) = None
    bic: Annotated[str, msgspec.Meta(max_length=16, examples=["COBADEFFXXX"])] | None = None
    account_holder: (
        Annotated[
            str, msgspec.Meta(max_length=200, description="The name on the account (70 at most).")
        ]
        | None
    ) = None


class ThanksIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Annotated[
        str,
        msgspec.Meta(
            min_length=1,
            max_length=200,
            description="The name the donor asked to be thanked by (70 characters at most); "
            "only with their consent: it is shown on the group's public pages.",
        ),
    ]


class MoneyOut(msgspec.Struct, kw_only=True):
    currency: str
    amount: str


class DonorsOut(msgspec.Struct, kw_only=True):
    """The group's donations: counted and summed (reversed ones left out), and the names of
    the donors who asked to be thanked by name, newest first. Nobody else is named."""

    donations: int
    totals: list[MoneyOut]
    named: list[str]


class GivingOut(msgspec.Struct, kw_only=True):
    how_to_give: str
    iban: str | None
    bic: str | None
    account_holder: str | None
    epc_qr: (
        Annotated[
            str,
            msgspec.Meta(
                description="The text of the SEPA payment QR code (EPC069-12 version 002, "
                "UTF-8, lines joined by LF) for a euro group with an IBAN of the SEPA area; "
                "null otherwise."
            ),
        ]
        | None
    )
    updated_at: str | None  # when an admin last changed it; null when never said
    donors: DonorsOut


class ThanksOut(msgspec.Struct, kw_only=True):
    entry: int
    name: str
    recorded_at: str


# --- bank statements (ledger.bank) ---------------------------------------------------------


class StatementOut(msgspec.Struct, kw_only=True):
    """One import of a place's statement. ``lines`` counts the file's lines, ``new_lines``
    those the place had not had (a re-import or an overlapping file adds only these). The
    file itself is private; its SHA-256 is what may be published."""

    id: int
    sha256: str
    format: str
    lines: int
    new_lines: int
    starts_on: date | None = None
    ends_on: date | None = None
    opening: str | None = None
    closing: str | None = None
    closing_on: date | None = None
    imported_at: str


Balance = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=41,
        description="Decimal string in the currency's major unit; zero, or below zero with "
        'a leading minus for an overdrawn account ("-12.50").',
        examples=["1250.00"],
    ),
]


class ReconciliationIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Close the place's books against its bank through ``through`` (a day the bank has
    booked): ``closing_balance`` is the statement's balance at the end of that day."""

    through: date
    closing_balance: Balance


class ReconciliationOut(msgspec.Struct, kw_only=True):
    """A place's books agreed with its bank through a day; ``seq`` is its leaf in the log,
    ``lines`` the place's statement lines booked on or before the day (all of them
    matched), ``statement_sha256`` the hash of the statement file closed against (the
    file itself stays private)."""

    seq: int
    place: str
    through: date
    closing_balance: str
    currency: str
    lines: int
    statement_sha256: str
    recorded_at: str


class SuggestionOut(msgspec.Struct, kw_only=True):
    """An entry that may be the bank line: amount and direction agree, its date is within
    the place's window; ``reasons`` what in the bank's texts points to it."""

    entry: int
    days: int
    reasons: list[str]


class UndoneOut(msgspec.Struct, kw_only=True):
    """A confirmed match the line was taken out of: the entries it named, and when."""

    entries: list[int]
    undone_at: datetime


class RejectedOut(msgspec.Struct, kw_only=True):
    """An entry a steward said is not the line, and when: it is not suggested for the line
    until the rejection is taken back."""

    entry: int
    rejected_at: datetime


class LineOut(msgspec.Struct, kw_only=True):
    """A bank line (private: it names people), with ``status`` ``matched``, ``suggested``
    or ``unmatched``. A matched line lists the entries of its match, and whether the match
    adds up (``complete``: more lines may be expected for an entry paid in parts);
    ``undone``, the matches a steward took it out of, oldest first; ``rejected`` (lines not
    matched), the entries stewards said are not the line, in the order they said it."""

    id: int
    booked_on: date
    amount: str
    currency: str
    status: str
    value_on: date | None = None
    counterparty: str | None = None
    reference: str | None = None
    description: str | None = None
    source: str | None = None
    entries: list[int] = msgspec.field(default_factory=list)
    complete: bool | None = None
    suggestions: list[SuggestionOut] = msgspec.field(default_factory=list)
    undone: list[UndoneOut] = msgspec.field(default_factory=list)
    rejected: list[RejectedOut] = msgspec.field(default_factory=list)


class MatchIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The entries a bank line is (their amounts add up to it); naming entries already
    matched with other lines adds this line to their match."""

    entries: Annotated[list[Id], msgspec.Meta(min_length=1, max_length=1000)]


class RejectIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A suggested entry that is not this bank line."""

    entry: Id


class LineDonationIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The fund an unmatched credit goes to, as a donation."""

    fund: Slug


class StatementSettingsIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A place's saved CSV mapping (a ``CsvMapping`` as JSON) and matching window."""

    mapping: dict[str, object] | None = None
    match_window_days: Annotated[int, msgspec.Meta(ge=0, le=60)] | None = None


class StatementSettingsOut(msgspec.Struct, kw_only=True):
    mapping: dict[str, object] | None
    match_window_days: int
