"""Tables of the ledger, and of the groups and people it belongs to.

Groups, people and memberships live here because every other package builds on them and
dependencies only point inward (``app -> proposals -> ledger``).
"""

from __future__ import annotations

from datetime import date, datetime

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Named constraints, so that migrations (batch mode on SQLite) can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# 64-bit ids on PostgreSQL; SQLite only auto-increments an INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class User(Base):
    """A person who can log in. Their name and e-mail never enter the ledger."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    # The language they read their e-mails and inbox in ("es"), as they picked it; None:
    # never picked (English).
    language: Mapped[str | None] = mapped_column(String(16))


class Group(Base):
    """A mutual-aid group: its books, its members and its decisions."""

    __tablename__ = "groups"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    currency: Mapped[str] = mapped_column(String(3))
    description: Mapped[str] = mapped_column(Text, default="")
    public: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    # Whether anyone may read the files attached to entries (receipts); members always may.
    publish_receipts: Mapped[bool] = mapped_column(Boolean, default=False)


class Membership(Base):
    """A person's membership of a group with its roles.

    Removal sets ``removed_at`` instead of deleting the row: minutes and decisions keep
    referring to the people who took part.
    """

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("group_id", "user_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # Space-separated role names, e.g. "member steward".
    roles: Mapped[str] = mapped_column(String(100))
    joined_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    removed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))

    user: Mapped[User] = relationship(lazy="joined", innerjoin=True)


class Invite(Base):
    """A one-time link to join a group with some roles, made by an admin.

    Only the SHA-256 of its token is kept (as for API tokens and sessions), so a copy of
    the database lets nobody join. It is open until it is used, revoked or expires.
    """

    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The roles the new member gets, stored as memberships store them ("member steward").
    roles: Mapped[str] = mapped_column(String(100))
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    used_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))

    group: Mapped[Group] = relationship(lazy="joined", innerjoin=True)
    creator: Mapped[User] = relationship(lazy="joined", innerjoin=True, foreign_keys=[created_by])
    user: Mapped[User | None] = relationship(lazy="joined", foreign_keys=[used_by])


class Fund(Base):
    """What money is for ("Rent relief"). Its balance is kept in the same transaction as
    every posting to it, so reading it costs one row; ``verify`` rebuilds it from postings."""

    __tablename__ = "funds"
    __table_args__ = (UniqueConstraint("group_id", "slug"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"))
    slug: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(120))
    currency: Mapped[str] = mapped_column(String(3))
    allow_negative: Mapped[bool] = mapped_column(Boolean, default=False)
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))


class Place(Base):
    """Where money is held (a bank account, a cash box), beside what it is for (funds).
    Every group has one default place (``is_default``), so a group with one account never
    chooses. Its balance, the sum over funds of what is held there, is kept in the same
    transaction as every entry in it, like a fund's; ``verify`` rebuilds it from the log."""

    __tablename__ = "places"
    __table_args__ = (UniqueConstraint("group_id", "slug"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"))
    slug: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(120))
    currency: Mapped[str] = mapped_column(String(3))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    allow_negative: Mapped[bool] = mapped_column(Boolean, default=False)
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    # The day of the place's last reconciliation with its bank (None: never): entries in
    # the place dated on or before it are refused (``rules.Books``).
    reconciled_through: Mapped[date | None] = mapped_column(Date, default=None)


class LogState(Base):
    """The head of a group's log. Appending locks this row first, always in this order:
    log state, then funds. That one lock serialises appends per group on PostgreSQL
    (SQLite serialises every write transaction with BEGIN IMMEDIATE)."""

    __tablename__ = "log_states"

    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    head_hash: Mapped[str] = mapped_column(String(64))
    # The Merkle tree's compact range (its peaks), so an append costs O(log n), no rescan.
    merkle: Mapped[str] = mapped_column(Text, default='{"peaks":[],"size":0}')


class Checkpoint(Base):
    """A signed checkpoint of a group's log after an append (C2SP tlog-checkpoint note).

    The primary key makes it impossible to sign two different roots for one size, and the
    log only grows, so a smaller tree is never signed after a larger one."""

    __tablename__ = "checkpoints"

    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    root_hash: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text)
    signed_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))


class LogTile(Base):
    """A hash tile of a group's log above level 0 (C2SP tlog-tiles): its hashes as served.
    Built by the checkpoint signer: a full tile (256 hashes) once, when the log holds all of
    it, and it never changes; the log's last tile of level 1 as it grows, a hash for each
    complete 256 leaves (a hash, once made, never changes either, so the row only grows).
    Level 0 is the entries' own hashes, so it is not kept here."""

    __tablename__ = "log_tiles"

    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"), primary_key=True)
    level: Mapped[int] = mapped_column(Integer, primary_key=True)
    tile_index: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hashes: Mapped[bytes] = mapped_column(LargeBinary)


class Entry(Base):
    """One append-only entry of a group's ledger: a balanced set of postings.

    ``leaf`` holds the exact canonical bytes that were hashed; the database refuses UPDATE
    and DELETE on this table (triggers created by the migrations).
    """

    __tablename__ = "entries"
    __table_args__ = (
        UniqueConstraint("group_id", "seq"),
        # An entry can be reversed once: the database says so too.
        UniqueConstraint("group_id", "reverses_seq"),
        # The public ledger's date filter walks this newest first without a sort.
        Index("ix_entries_group_day", "group_id", "occurred_on", "seq"),
        # What was paid under a proposal (committed money, authorising the next payment),
        # and under a policy, in log order (migration 0032: with seq, SQLite takes them).
        Index("ix_entries_group_proposal", "group_id", "proposal_number", "seq"),
        Index("ix_entries_group_policy", "group_id", "policy_number", "seq"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"))
    seq: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    occurred_on: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    memo: Mapped[str] = mapped_column(Text, default="")
    counterparty: Mapped[str | None] = mapped_column(String(64))
    reverses_seq: Mapped[int | None] = mapped_column(BigInteger)
    proposal_number: Mapped[int | None] = mapped_column(Integer)
    proposal_version: Mapped[int | None] = mapped_column(Integer)
    # The spending policy a payment was made under (its proposal's number and version).
    policy_number: Mapped[int | None] = mapped_column(Integer)
    policy_version: Mapped[int | None] = mapped_column(Integer)
    # The decision leaf (its seq) a payment is made under (leaf version 3, ledger.decisions).
    decided_in: Mapped[int | None] = mapped_column(BigInteger)
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    leaf: Mapped[bytes] = mapped_column(LargeBinary)
    # Where the money moved (leaf version 6): the place of a money entry (NULL for entries
    # written before places, which are in the group's default place); for a move (or its
    # reversal) the place it leaves, ``to_place_id`` the one it arrives in, and ``moved``
    # the amount (negated in a reversal), in the places' currency. A move has no postings.
    place_id: Mapped[int | None] = mapped_column(ForeignKey("places.id"))
    to_place_id: Mapped[int | None] = mapped_column(ForeignKey("places.id"))
    moved: Mapped[int | None] = mapped_column(BigInteger)

    postings: Mapped[list[Posting]] = relationship(
        order_by="Posting.position", lazy="selectin", viewonly=True
    )
    # Loaded by a second query only when some entry names a place (most groups never do):
    # a join would widen every read of entries.
    place: Mapped[Place | None] = relationship(
        foreign_keys=[place_id], lazy="selectin", viewonly=True
    )
    to_place: Mapped[Place | None] = relationship(
        foreign_keys=[to_place_id], lazy="selectin", viewonly=True
    )


class Posting(Base):
    """One leg of an entry: an amount (integer minor units, signed) on one account.

    ``account_type`` is ``holding`` (the money of a fund, where it is held), ``income`` or
    ``expense``; ``seq`` repeats the entry's so a fund's history reads from one index.
    """

    __tablename__ = "postings"
    __table_args__ = (
        UniqueConstraint("entry_id", "position"),
        Index("ix_postings_fund_history", "fund_id", "account_type", "seq"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id"))
    seq: Mapped[int] = mapped_column(BigInteger)
    position: Mapped[int] = mapped_column(Integer)
    fund_id: Mapped[int] = mapped_column(ForeignKey("funds.id"))
    account: Mapped[str] = mapped_column(String(200))
    account_type: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))

    fund: Mapped[Fund] = relationship(lazy="joined", innerjoin=True, viewonly=True)


class IdempotencyRecord(Base):
    """The first outcome of a request sent with a caller's key (``ledger.idempotency``): the
    entry it recorded, or the refusal (its kind, message and field). Never HTTP: the web
    shell turns either into its answer."""

    __tablename__ = "idempotency_records"

    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"), primary_key=True)
    # A key is the caller's own: another caller's equal key is another request.
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    entry_seq: Mapped[int | None] = mapped_column(BigInteger)
    refusal_kind: Mapped[str | None] = mapped_column(String(64))
    refusal_message: Mapped[str | None] = mapped_column(Text)
    refusal_field: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))


class WitnessedLog(Base):
    """A log this instance witnesses (C2SP tlog-witness): the keys it trusts for the log's
    origin, and the latest checkpoint it cosigned. ``size`` and ``root_hash`` only move by
    compare-and-swap (``UPDATE ... WHERE size = old``), so two requests racing can never roll
    the witness back to a smaller tree."""

    __tablename__ = "witnessed_logs"

    origin: Mapped[str] = mapped_column(String(255), primary_key=True)
    # The log's verifier keys (C2SP vkeys), one a line.
    verifier_keys: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    root_hash: Mapped[str] = mapped_column(String(64))
    # The latest cosigned checkpoint, with the log's signatures and our cosignature.
    note: Mapped[str | None] = mapped_column(Text)
    trusted_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    cosigned_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))


class GroupWitness(Base):
    """A witness a group's log asks to cosign its checkpoints (C2SP tlog-witness), and what
    the log knows of it: the size it last cosigned, and whether it still answers."""

    __tablename__ = "group_witnesses"
    __table_args__ = (UniqueConstraint("group_id", "name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"), index=True)
    # The witness's key name, its submission prefix (``<url>/add-checkpoint``) and its vkey.
    name: Mapped[str] = mapped_column(String(255))
    url: Mapped[str] = mapped_column(String(500))
    vkey: Mapped[str] = mapped_column(String(500))
    added_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    # The size the witness last cosigned for this log, as it told us (its 200 or its 409).
    cosigned_size: Mapped[int] = mapped_column(BigInteger, default=0)
    cosigned_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    # Why the last round failed (None when it answered), and how many rounds in a row did.
    last_error: Mapped[str | None] = mapped_column(Text)
    failures: Mapped[int] = mapped_column(Integer, default=0)


class Cosignature(Base):
    """A witness's cosignature of one of the group's checkpoints, kept to be published with
    it: its signature line exactly as the witness sent it."""

    __tablename__ = "cosignatures"

    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    witness_id: Mapped[int] = mapped_column(ForeignKey("group_witnesses.id"), primary_key=True)
    line: Mapped[str] = mapped_column(Text)
    cosigned_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))


class Attachment(Base):
    """A file attached to an entry (a receipt, a proof of payment), as its leaf in the log
    states it: the log's leaf ``seq`` (of kind "attachment") names ``entry_seq`` and the
    file's SHA-256, type and size. The file itself is kept in a ``ledger.files`` store under
    its hash. Append-only, like entries (triggers made by the migrations)."""

    __tablename__ = "attachments"
    __table_args__ = (
        UniqueConstraint("group_id", "seq"),
        Index("ix_attachments_group_entry", "group_id", "entry_seq"),
        Index("ix_attachments_sha256", "sha256"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"))
    seq: Mapped[int] = mapped_column(BigInteger)
    entry_seq: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(BigInteger)
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))


class AttachmentErasure(Base):
    """When an attached file was erased with a person's data: the file leaves the store,
    its leaf and hash stay in the log, and pages say "erased on" this day."""

    __tablename__ = "attachment_erasures"

    attachment_id: Mapped[int] = mapped_column(ForeignKey("attachments.id"), primary_key=True)
    erased_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))


class GivingDetails(Base):
    """How to give to a group, as its admins wrote it: words (Markdown) and bank details.

    Public like the group's page; none of it enters the log. The IBAN and BIC are stored as
    checked (``ledger.giving_rules``), without spaces."""

    __tablename__ = "group_giving"

    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"), primary_key=True)
    how_to_give: Mapped[str] = mapped_column(Text, default="")
    iban: Mapped[str | None] = mapped_column(String(34))
    bic: Mapped[str | None] = mapped_column(String(11))
    account_holder: Mapped[str | None] = mapped_column(String(70))
    updated_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class DonorThanks(Base):
    """A donor who asked to be thanked by name, for one donation: the name they chose.

    Personal data, so never in the log (the donation's entry stays anonymous) and erased on
    request (the row is deleted; the donation then counts among the anonymous ones)."""

    __tablename__ = "donor_thanks"
    __table_args__ = (UniqueConstraint("group_id", "entry_seq"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"))
    entry_seq: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(70))
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))


class StatementSettings(Base):
    """How a place's statements are read and matched: the saved CSV mapping (JSON of a
    ``ledger.statements.CsvMapping``, saved by the last CSV import that sent one) and the
    days a bank line's date may differ from an entry's to be suggested for it."""

    __tablename__ = "statement_settings"

    place_id: Mapped[int] = mapped_column(ForeignKey("places.id"), primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"))
    csv_mapping: Mapped[str | None] = mapped_column(Text)
    match_window_days: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))


class BankStatement(Base):
    """One import of a place's statement file. The file itself is kept privately in the
    file store under ``sha256`` (it names people); the hash, the period, the balances and
    the counts are what may become public. ``lines`` counts the file's lines, ``new_lines``
    those no earlier import of the place had (by fingerprint)."""

    __tablename__ = "bank_statements"
    __table_args__ = (
        Index("ix_bank_statements_place", "place_id", "id"),
        # What a line's one foreign key refers to: an import of the line's place and group.
        Index("ix_bank_statements_line_key", "id", "place_id", "group_id", unique=True),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"))
    place_id: Mapped[int] = mapped_column(ForeignKey("places.id"))
    sha256: Mapped[str] = mapped_column(String(64))
    format: Mapped[str] = mapped_column(String(16))
    variant: Mapped[str | None] = mapped_column(String(40))
    starts_on: Mapped[date | None] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    opening_on: Mapped[date | None] = mapped_column(Date)
    opening: Mapped[int | None] = mapped_column(BigInteger)
    closing_on: Mapped[date | None] = mapped_column(Date)
    closing: Mapped[int | None] = mapped_column(BigInteger)
    lines: Mapped[int] = mapped_column(Integer)
    new_lines: Mapped[int] = mapped_column(Integer)
    imported_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    imported_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))


class StatementWithdrawal(Base):
    """A steward withdrew an import (the wrong file, or the wrong place): its row and the
    lines it brought were deleted, and its file leaves the store unless another import or
    an attachment keeps the same bytes. What stays is this record: which import it was
    (``statement_id``, no longer a row), the file's SHA-256, its period and counts, who
    imported it and when, who withdrew it and when. Append-only."""

    __tablename__ = "statement_withdrawals"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"))
    place_id: Mapped[int] = mapped_column(ForeignKey("places.id"), index=True)
    statement_id: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    format: Mapped[str] = mapped_column(String(16))
    starts_on: Mapped[date | None] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    lines: Mapped[int] = mapped_column(Integer)
    new_lines: Mapped[int] = mapped_column(Integer)
    imported_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    imported_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    withdrawn_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    withdrawn_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))


class BankLine(Base):
    """One booking on a place's statements, kept once whatever files carried it: the
    fingerprint (``ledger.statements.lines``) is unique per place. The counterparty, the
    reference and the text are private (they name people); ``statement_id`` is the import
    that first brought the line, ``source`` where in that file it was (line or element)."""

    __tablename__ = "bank_lines"
    # A fingerprint is made from its line's day, so (place, day, fingerprint) is unique as
    # (place, fingerprint) is, and the one key also serves the reads by a place's days.
    # One foreign key says a line belongs to an import of its own place and group (the
    # import's keys name them): PostgreSQL checks it once for each line stored, not three
    # times (bench import).
    __table_args__ = (
        UniqueConstraint("place_id", "booked_on", "fingerprint"),
        ForeignKeyConstraint(
            ["statement_id", "place_id", "group_id"],
            ["bank_statements.id", "bank_statements.place_id", "bank_statements.group_id"],
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    group_id: Mapped[int] = mapped_column(BigId)
    place_id: Mapped[int] = mapped_column(BigId)
    statement_id: Mapped[int] = mapped_column(BigId)
    fingerprint: Mapped[str] = mapped_column(String(64))
    booked_on: Mapped[date] = mapped_column(Date)
    value_on: Mapped[date | None] = mapped_column(Date)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    counterparty: Mapped[str | None] = mapped_column(Text)
    reference: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(String(200))


class Reconciliation(Base):
    """A place's books agreed with its bank through a day, as its leaf in the log states
    it (leaf ``seq``, of kind "reconciliation"): the closing balance, the number of the
    place's statement lines dated on or before that day, and the SHA-256 of the statement
    file closed against (``statement_id``: its import). Append-only, like entries."""

    __tablename__ = "reconciliations"
    __table_args__ = (UniqueConstraint("group_id", "seq"), UniqueConstraint("place_id", "through"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"))
    seq: Mapped[int] = mapped_column(BigInteger)
    place_id: Mapped[int] = mapped_column(ForeignKey("places.id"))
    through: Mapped[date] = mapped_column(Date)
    closing_balance: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    lines: Mapped[int] = mapped_column(BigInteger)
    statement_id: Mapped[int] = mapped_column(ForeignKey("bank_statements.id"))
    sha256: Mapped[str] = mapped_column(String(64))
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))


class BankMatch(Base):
    """A steward's confirmation that some bank lines and some entries of a place are the
    same money: one line may cover several entries, one entry several lines. Complete when
    the lines add up to the entries; a line or an entry is in one match at most."""

    __tablename__ = "bank_matches"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"))
    place_id: Mapped[int] = mapped_column(ForeignKey("places.id"))
    confirmed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    confirmed_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))


class BankMatchLine(Base):
    __tablename__ = "bank_match_lines"

    line_id: Mapped[int] = mapped_column(ForeignKey("bank_lines.id"), primary_key=True)
    match_id: Mapped[int] = mapped_column(ForeignKey("bank_matches.id"), index=True)


class BankMatchEntry(Base):
    __tablename__ = "bank_match_entries"
    __table_args__ = (UniqueConstraint("group_id", "entry_seq"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    match_id: Mapped[int] = mapped_column(ForeignKey("bank_matches.id"), index=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"))
    entry_seq: Mapped[int] = mapped_column(BigInteger)


class BankMatchUndo(Base):
    """A steward took one bank line out of a confirmed match (it was the wrong entry), before
    any reconciliation closed over the line's day: the entries the match named
    (``entries``: their numbers, comma separated), who had confirmed it and when, and who
    took it back. Append-only: what was once confirmed stays on record."""

    __tablename__ = "bank_match_undos"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"))
    line_id: Mapped[int] = mapped_column(ForeignKey("bank_lines.id"), index=True)
    entries: Mapped[str] = mapped_column(Text)
    confirmed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    confirmed_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    undone_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    undone_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))


class RejectedSuggestion(Base):
    """A steward said this entry is not this bank line: it is not suggested for it again."""

    __tablename__ = "rejected_suggestions"

    line_id: Mapped[int] = mapped_column(ForeignKey("bank_lines.id"), primary_key=True)
    entry_seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    rejected_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    rejected_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
