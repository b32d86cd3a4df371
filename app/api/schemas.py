"""The JSON API's own documents: what its routes read and answer beyond the domain's read
models (``ledger.schemas``, ``proposals.schemas``). msgspec Structs: strict on the way in
(unknown fields refused), amounts as decimal strings."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from ledger.groups import INVITE_DAYS, MAX_INVITE_DAYS, InviteState
from ledger.schemas import EntryOut, FundOut, HeadOut, PlaceOut, ReconciliationOut


class GroupIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    slug: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
    currency: Annotated[str, msgspec.Meta(min_length=3, max_length=3)]
    description: Annotated[str, msgspec.Meta(max_length=2000)] = ""
    public: bool = True


class GroupOut(msgspec.Struct, kw_only=True):
    slug: str
    name: str
    currency: str
    description: str
    public: bool
    created_at: datetime


class MemberIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    email: Annotated[str, msgspec.Meta(min_length=3, max_length=254)]
    roles: Annotated[list[str], msgspec.Meta(max_length=4)] = msgspec.field(
        default_factory=lambda: ["member"]
    )


class MemberOut(msgspec.Struct, kw_only=True):
    id: int
    name: str
    roles: list[str]
    joined_at: datetime


class InviteIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Every role implies ``member``; the link works for ``expires_in_days`` (default 7)."""

    roles: Annotated[list[str], msgspec.Meta(max_length=4)] = msgspec.field(
        default_factory=lambda: ["member"]
    )
    expires_in_days: Annotated[int, msgspec.Meta(ge=1, le=MAX_INVITE_DAYS)] = INVITE_DAYS


class InviteCreated(msgspec.Struct, kw_only=True):
    """The one-time join link. Its token is shown here once and never again."""

    id: int
    link: str
    token: str
    roles: list[str]
    expires_at: datetime


class InviteOut(msgspec.Struct, kw_only=True):
    id: int
    roles: list[str]
    status: InviteState
    created_by: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None
    used_by: str | None
    revoked_at: datetime | None


class MeOut(msgspec.Struct, kw_only=True):
    id: int
    email: str
    name: str


class InboxLineOut(msgspec.Struct, kw_only=True):
    """One line of a member's inbox: the newest notification about one thing (a proposal
    still open gathers all of its rounds' notifications into one line)."""

    id: int
    group: str  # the group's slug
    kind: str
    subject: str
    created_at: datetime
    unread: bool
    proposal: int | None  # the open proposal it is about
    url: str  # the page it leads to


class ExportGroupOut(msgspec.Struct, kw_only=True):
    slug: str
    name: str
    currency: str


class LedgerExportOut(msgspec.Struct, kw_only=True):
    """``export.json``: the group, its funds and every entry as the API shows them."""

    group: ExportGroupOut
    head: HeadOut
    funds: list[FundOut]
    # Where the money is held, and each place's reconciliations with its bank.
    places: list[PlaceOut] = msgspec.field(default_factory=list)
    reconciliations: list[ReconciliationOut] = msgspec.field(default_factory=list)
    entries: list[EntryOut]


class InclusionProofOut(msgspec.Struct, kw_only=True):
    seq: int
    leaf_index: int
    tree_size: int
    leaf_hash: str
    audit_path: list[str]
    root: str


class ConsistencyProofOut(msgspec.Struct, kw_only=True, rename={"first": "from", "second": "to"}):
    first: int
    second: int
    path: list[str]


class RequestOut(msgspec.Struct, kw_only=True):
    id: int
    pseudonym: str
    status: str
    urgency: str
    amount: str | None
    currency: str
    language: str
    created_at: datetime
    proposal: int | None
    erased: bool
    # Sent during a flood without proof of a person: apart from the queue until released.
    held: bool


class NoteOut(msgspec.Struct, kw_only=True):
    author: str
    text: str
    at: datetime


class DetailsOut(msgspec.Struct, kw_only=True):
    name: str
    need: str
    phone: str
    email: str
    via_member: str


class NoteIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=4000)]


class ProposeIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    summary: Annotated[str, msgspec.Meta(max_length=20_000)]
    fund: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    amount: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]


class DeclineIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    message: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class ReadOut(msgspec.Struct, kw_only=True):
    user_id: int
    read_at: datetime


class SupportSettingsIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    retention_days: Annotated[int, msgspec.Meta(ge=1, le=3650)] | None = None
    ask_enabled: bool | None = None


class SupportSettingsOut(msgspec.Struct, kw_only=True):
    retention_days: int
    ask_enabled: bool


class PreferenceIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    mode: Annotated[str, msgspec.Meta(examples=["none", "each", "daily"])]


class ProposedOut(msgspec.Struct, kw_only=True):
    proposal: int


class DiscardedOut(msgspec.Struct, kw_only=True):
    discarded: int


class WitnessIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A witness for the group's log: its submission prefix (``<url>/add-checkpoint`` is
    called) and its verifier key (its name is the key's)."""

    url: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
    vkey: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]


class WitnessOut(msgspec.Struct, kw_only=True):
    """A witness of the group's log and how it is doing: the size it last cosigned and
    when; ``answering`` is false after a round that got no cosignature (``last_error``)."""

    id: int
    name: str
    url: str
    vkey: str
    added_at: datetime
    cosigned_size: int
    cosigned_at: datetime | None
    last_attempt_at: datetime | None
    answering: bool
    last_error: str | None
    failures: int
