"""Funds and entries: load the rows, apply ``rules``, append. Never commits: the caller
(one HTTP request, one CLI command) owns the transaction, so a failure leaves nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Generic, Protocol, Self, TypeVar

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from ledger import rules
from ledger.canonical import (
    ATTACHMENT,
    Move,
    canonical_json,
    has_control_characters,
    leaf_document,
    leaf_hash_hex,
    nfc,
)
from ledger.decisions import DecisionLeaf, decision_body
from ledger.errors import (
    AlreadyExists,
    Conflict,
    InvalidInput,
    LedgerError,
    NotAuthorised,
    NotFound,
)
from ledger.groups import check_name, utcnow
from ledger.loaded import (
    DriverQuery,
    Model,
    as_loaded,
    column_names,
    current,
    driver_connection,
    held,
    table_of,
)
from ledger.log import Notary
from ledger.merkle import CompactRange
from ledger.models import Checkpoint, Entry, Fund, Group, LogState, Place, Posting
from ledger.money import check_currency, parse_amount
from ledger.schemas import (
    DisbursementIn,
    DonationIn,
    EntryIn,
    FundIn,
    MoveIn,
    PlaceIn,
    ReversalIn,
    TransferIn,
)

MAX_PAGE = 200


@dataclass(frozen=True, slots=True)
class Payment:
    """What a disbursement asks to be authorised: read after the log's lock, so the answer
    holds until the entry is written (racing payments are decided one after the other)."""

    fund: Fund
    amount: int
    counterparty: str | None
    occurred_on: date
    proposal: int | None  # the passed proposal it is made under, or
    policy: int | None  # the standing policy (its proposal's number)
    recorded_by: int | None
    claim: int | None = None  # the claim (its id) a payment under a policy pays back


@dataclass(frozen=True, slots=True)
class Authorisation:
    """The decision a payment is made under, as its leaf names it: (number, version)."""

    proposal: tuple[int, int] | None = None
    policy: tuple[int, int] | None = None
    # The decision leaf that authorises it (its seq); None when its decision was taken
    # before decisions were logged.
    decided_in: int | None = None


class DisbursementAuthority(Protocol):
    """Says which decision authorises a payment, or raises ``NotAuthorised``. The proposals
    package provides it; the ledger only records the answer."""

    def __call__(
        self, session: AsyncSession, group: Group, payment: Payment
    ) -> Awaitable[Authorisation]: ...


# --- funds -------------------------------------------------------------------------------


async def create_fund(session: AsyncSession, group: Group, fund_in: FundIn) -> Fund:
    slug = rules.check_slug(fund_in.slug)
    currency = check_currency(fund_in.currency or group.currency)
    existing = await session.scalars(
        select(Fund.id).where(Fund.group_id == group.id, Fund.slug == slug)
    )
    if existing.first() is not None:
        raise AlreadyExists(f"Group {group.slug!r} has a fund {slug!r} already.", field="slug")
    fund = Fund(
        group_id=group.id,
        slug=slug,
        name=check_name(fund_in.name),
        currency=currency,
        allow_negative=fund_in.allow_negative,
        balance=0,
        created_at=utcnow(),
    )
    session.add(fund)
    await session.flush()
    return fund


async def list_funds(session: AsyncSession, group: Group) -> list[Fund]:
    result = await session.scalars(select(Fund).where(Fund.group_id == group.id).order_by(Fund.id))
    return list(result)


async def _find_fund(session: AsyncSession, group: Group, slug: str) -> Fund | None:
    if not rules.SLUG.fullmatch(slug):
        return None
    result = await session.scalars(_FUND_BY_SLUG, {"group": group.id, "slug": slug})
    return result.one_or_none()


async def get_fund(session: AsyncSession, group: Group, slug: str, *, field: str = "fund") -> Fund:
    fund = await _find_fund(session, group, slug)
    if fund is None:
        raise _no_fund(group, slug, field)
    return fund


async def rename_fund(session: AsyncSession, group: Group, slug: str, name: str) -> Fund:
    """Give a fund another name. Its slug stays, and with it every entry, leaf and export
    account that names the fund: pages, and the exports' lists of funds, show the new name.
    404 for an unknown fund (the fund is the address here, not a field of an entry)."""
    fund = await _find_fund(session, group, slug)
    if fund is None:
        raise _no_fund(group, slug, "fund", NotFound)
    fund.name = check_name(name)
    await session.flush()
    return fund


def _no_fund(
    group: Group, slug: str, field: str, refusal: type[LedgerError] = InvalidInput
) -> LedgerError:
    return refusal(f"Group {group.slug!r} has no fund {slug!r}.", field=field)


_FUND_BY_SLUG = (
    select(Fund)
    .where(Fund.group_id == bindparam("group"), Fund.slug == bindparam("slug"))
    .execution_options(populate_existing=True)  # its balance as of now
)


# --- places ------------------------------------------------------------------------------


async def create_place(session: AsyncSession, group: Group, place_in: PlaceIn) -> Place:
    """A new place of the group (never its default: that one is made with the group)."""
    slug = rules.check_slug(place_in.slug)
    currency = check_currency(place_in.currency or group.currency)
    existing = await session.scalars(
        select(Place.id).where(Place.group_id == group.id, Place.slug == slug)
    )
    if existing.first() is not None:
        raise AlreadyExists(f"Group {group.slug!r} has a place {slug!r} already.", field="slug")
    place = Place(
        group_id=group.id,
        slug=slug,
        name=check_name(place_in.name),
        currency=currency,
        is_default=False,
        allow_negative=place_in.allow_negative,
        balance=0,
        created_at=utcnow(),
    )
    session.add(place)
    await session.flush()
    return place


async def get_place(session: AsyncSession, group: Group, slug: str) -> Place:
    place = (
        await session.scalars(select(Place).where(Place.group_id == group.id, Place.slug == slug))
    ).one_or_none()
    if place is None:
        raise NotFound(f"Group {group.slug!r} has no place {slug!r}.", field="place")
    return place


async def rename_place(session: AsyncSession, group: Group, slug: str, name: str) -> Place:
    """Give a place another name. Its slug stays, and with it every entry, leaf and export
    that names the place: only the pages show the new name."""
    place = await get_place(session, group, slug)
    place.name = check_name(name)
    await session.flush()
    return place


async def list_places(session: AsyncSession, group: Group) -> list[Place]:
    """The group's places, the default first."""
    result = await session.scalars(
        select(Place)
        .where(Place.group_id == group.id)
        .order_by(Place.is_default.desc(), Place.id)
        .execution_options(populate_existing=True)
    )
    return list(result)


def _place_terms(place: Place | _PlaceRow) -> rules.PlaceTerms:
    return rules.PlaceTerms(place.slug, place.currency, place.allow_negative, place.name)


def _terms(fund: Fund) -> rules.FundTerms:
    return rules.FundTerms(fund.slug, fund.currency, fund.allow_negative, fund.name)


def _legs(
    postings: Iterable[rules.PlannedPosting], place: str | None = None
) -> tuple[rules.Leg, ...]:
    """The legs of planned postings in ``place`` (None: the default place)."""
    return tuple(rules.Leg(p.account, p.fund_slug, p.amount, p.currency, place) for p in postings)


def _state(fund: Fund) -> rules.FundState:
    return rules.FundState(
        fund.id, fund.slug, fund.name, fund.currency, fund.allow_negative, fund.balance
    )


# --- appending ---------------------------------------------------------------------------


async def lock_log(session: AsyncSession, group: Group) -> LogState:
    """Take the group's append lock and return the fresh head of the log.

    On PostgreSQL this row lock serialises every append of the group, so the balances read
    after it are current (READ COMMITTED reads afresh per statement); on SQLite, BEGIN
    IMMEDIATE already holds the database's only write lock."""
    result = await session.scalars(_LOCK_LOG, {"group": group.id})
    return result.one()


_LOCK_LOG = (
    select(LogState)
    .where(LogState.group_id == bindparam("group"))
    .with_for_update()
    .execution_options(populate_existing=True)
)


async def _lock_log_and_funds(
    session: AsyncSession, group: Group, connection: AsyncConnection, driver: Any
) -> tuple[LogState, _Funds, _Places]:
    """``lock_log``, and the group's funds and places as of now, in one query (an append
    needs them all; a group has a handful of funds and places, most groups one place),
    sent to the driver (``DriverQuery``).

    The fund and place rows are locked too, and that is what makes their balances current:
    in READ COMMITTED, a row lock that waited for another append re-reads the rows it
    locks, while the rows of a table merely joined stay as the statement's snapshot saw
    them, which would let two workers spend the same money. (On SQLite, BEGIN IMMEDIATE
    holds the database's only write lock already.)"""
    rows = await _LOCK_LOG_AND_FUNDS.rows_on(connection, driver, group=group.id)
    if rows:  # the session's objects are brought up to date, as the ORM would
        funds_at = len(_LOG_COLUMNS)
        places_at = funds_at + len(_FUND_COLUMNS)
        # (The log's object is the session's: an append's plan may append a decision
        # first, which moves the head on through it.)
        log = current(session, LogState, dict(zip(_LOG_COLUMNS, rows[0][:funds_at], strict=True)))
        # (One row per fund and place: each is read once.)
        fund_rows = {row[funds_at]: row[funds_at:places_at] for row in rows}
        place_rows = {row[places_at]: row[places_at:] for row in rows}
        return (
            log,
            _Funds(
                session,
                (dict(zip(_FUND_COLUMNS, row, strict=True)) for row in fund_rows.values()),
            ),
            _Places(
                session,
                (dict(zip(_PLACE_COLUMNS, row, strict=True)) for row in place_rows.values()),
            ),
        )
    # A group without funds: nothing to record, but take the lock all the same.
    log = await lock_log(session, group)
    return log, _Funds.loaded(()), _Places.loaded(await list_places(session, group))


# Every column, so the objects made from them are whole (an unloaded column would be read
# lazily, which an async session cannot do).
_LOG_TABLE = table_of(LogState)
_FUND_TABLE = table_of(Fund)
_PLACE_TABLE = table_of(Place)
_LOG_COLUMNS = column_names(LogState)
_FUND_COLUMNS = column_names(Fund)
_PLACE_COLUMNS = column_names(Place)
_LOCKED = [*_LOG_TABLE.columns, *_FUND_TABLE.columns, *_PLACE_TABLE.columns]
_LOCK_LOG_AND_FUNDS = DriverQuery(
    select(*_LOCKED)
    .select_from(_LOG_TABLE)
    .join(_FUND_TABLE, _FUND_TABLE.c.group_id == _LOG_TABLE.c.group_id)
    .join(_PLACE_TABLE, _PLACE_TABLE.c.group_id == _LOG_TABLE.c.group_id)
    .where(_LOG_TABLE.c.group_id == bindparam("group"))
    .with_for_update(of=(_LOG_TABLE, _FUND_TABLE, _PLACE_TABLE)),
    _LOCKED,
)


Named = TypeVar("Named", Fund, Place)


class _Named(Generic[Named]):
    """A group's funds or places as read after the log lock, by id.

    Read without the ORM, a row becomes the session's object only when the append names it
    (``current``): the others are left alone, as their rows are, instead of each costing an
    object made and added to the session."""

    model: type[Named]

    def __init__(
        self,
        session: AsyncSession | None,
        rows: Iterable[dict[str, Any]],
        made: Iterable[Named] = (),
    ) -> None:
        self._session = session
        self._values = {row["id"]: row for row in rows}
        self._made: dict[int, Named] = {item.id: item for item in made}
        if session is not None:  # the objects the session holds are brought up to date
            self._made.update(_held(session, self.model, self._values.values()))
        self._index()

    def _index(self) -> None:
        """Find them by what the append names them by (subclasses)."""

    @classmethod
    def loaded(cls, items: Iterable[Named]) -> Self:
        """Funds or places the ORM loaded."""
        return cls(None, (), items)

    def of_id(self, item_id: int) -> Named:
        """The session's object of the fund or place ``item_id`` of the group."""
        found = self._made.get(item_id)
        if found is None:
            assert self._session is not None  # (rows come with their session)
            found = self._made[item_id] = current(self._session, self.model, self._values[item_id])
        return found


class _Funds(_Named[Fund]):
    """A group's funds as read after the log lock, found by slug or id."""

    model = Fund

    def _index(self) -> None:
        self._ids = {row["slug"]: fund_id for fund_id, row in self._values.items()}
        self._ids.update((fund.slug, fund.id) for fund in self._made.values())

    def named(self, group: Group, slug: str, field: str = "fund") -> Fund:
        fund_id = self._ids.get(slug)
        if fund_id is None:
            raise _no_fund(group, slug, field)
        return self.of_id(fund_id)


def _held(
    session: AsyncSession, model: type[Model], rows: Iterable[dict[str, Any]]
) -> Iterator[tuple[int, Model]]:
    for row in rows:
        found = held(session, model, row)
        if found is not None:
            yield row["id"], found


@dataclass(frozen=True, slots=True)
class _PlaceRow:
    """What an append reads of each of its group's places (the rules see them all)."""

    id: int
    slug: str
    name: str
    currency: str
    is_default: bool
    allow_negative: bool
    balance: int
    reconciled_through: date | None


_PLACE_ROW = tuple(_PlaceRow.__dataclass_fields__)


class _Places(_Named[Place]):
    """A group's places as read after the log lock, found by slug or id: every place's
    values (``rows``), and the session's objects of those the entry is in, made when it
    names them."""

    model = Place

    def _index(self) -> None:
        self.rows = {
            place_id: _PlaceRow(*(row[name] for name in _PLACE_ROW))
            for place_id, row in self._values.items()
        }
        self.rows.update(
            (place.id, _PlaceRow(*(getattr(place, name) for name in _PLACE_ROW)))
            for place in self._made.values()
        )
        self.by_slug = {place.slug: place for place in self.rows.values()}
        self.default = next((place for place in self.rows.values() if place.is_default), None)

    def named(self, group: Group, slug: str | None, field: str = "place") -> Place:
        """The place ``slug`` names; the default place when it names none."""
        row = self.default if slug is None else self.by_slug.get(slug)
        if row is None:
            raise InvalidInput(
                f"Group {group.slug!r} has no place {slug!r}."
                if slug is not None
                else f"Group {group.slug!r} has no place to hold money.",
                field=field,
            )
        return self.of_id(row.id)

    def of(self, place_id: int | None) -> Place:
        """The place of an entry's ``place_id`` (None: the default place)."""
        row = self.default if place_id is None else self.rows.get(place_id)
        assert row is not None  # every entry's place is one of its group's
        return self.of_id(row.id)

    def in_leaf(self, place: Place) -> str | None:
        """How a leaf names ``place``: not at all when it is the default place."""
        return None if place.is_default else place.slug


def _text(value: str | None, field: str, *, multiline: bool = False) -> str | None:
    """Public text as typed (NFC), without control characters (a memo may span lines)."""
    if value is None:
        return None
    value = nfc(value.strip())
    if has_control_characters(value, multiline=multiline):
        raise InvalidInput(
            "Control characters are not allowed here."
            if multiline
            else "Line breaks and control characters are not allowed here.",
            field=field,
        )
    return value


@dataclass(frozen=True, slots=True)
class _Plan:
    kind: str
    postings: list[rules.PlannedPosting]
    funds: dict[int, Fund]  # every fund the postings touch, read after the lock
    occurred_on: date
    memo: str
    counterparty: str | None = None
    reverses: int | None = None
    proposal: tuple[int, int] | None = None
    policy: tuple[int, int] | None = None
    decided_in: int | None = None
    # For a reversal: the legs of the entry it reverses (None when that is a reversal
    # itself), and whether it was reversed already; what ``rules.Books`` needs to know.
    original: tuple[rules.Leg, ...] | None = None
    original_reversed: bool = False
    # Where: the entry's place (for a move, the place it leaves), and a move's part.
    place: Place | None = None
    move: Move | None = None
    to_place: Place | None = None

    def legs(self, places: _Places) -> tuple[rules.Leg, ...]:
        """The entry's legs as the rules and its leaf see them."""
        if self.move is not None:
            return self.move.legs()
        return _legs(self.postings, None if self.place is None else places.in_leaf(self.place))


async def _plan(
    session: AsyncSession,
    group: Group,
    entry_in: EntryIn,
    today: date,
    authority: DisbursementAuthority | None,
    group_funds: _Funds,
    dates: rules.DateWindow,
    recorded_by: int | None,
    places: _Places,
) -> _Plan:
    memo = _text(entry_in.memo, "memo", multiline=True) or ""
    if isinstance(entry_in, ReversalIn):
        if not memo:
            raise InvalidInput("A reversal needs a reason in its memo.", field="memo")
        original = await find_entry(session, group, entry_in.reverses)
        if original is None or original.kind in (ATTACHMENT, rules.RECONCILIATION):
            # (An attached file's leaf moves no money: there is nothing to reverse.)
            raise InvalidInput(
                f"There is no entry {entry_in.reverses} to reverse.", field="reverses"
            )
        if original.kind == rules.DECISION:
            raise Conflict(
                f"Entry {original.seq} is a decision: it moves no money, and a decision "
                "stands in the log as taken.",
                field="reverses",
            )
        planned = [
            rules.PlannedPosting(p.fund_id, p.fund.slug, p.account_type, p.amount, p.currency)
            for p in original.postings
        ]
        funds = {p.fund_id: group_funds.of_id(p.fund_id) for p in planned}
        # A reversal is in its entry's place; a move's reverses the move.
        place = places.of(original.place_id)
        move = to_place = None
        original_legs: tuple[rules.Leg, ...]
        if original.moved is not None:
            to_place = places.of(original.to_place_id)
            move = Move(place.slug, to_place.slug, original.moved, place.currency)
            original_legs = move.legs()
            move = Move(place.slug, to_place.slug, -original.moved, place.currency)
        else:
            original_legs = _legs(planned, places.in_leaf(place))
        return _Plan(
            "reversal",
            rules.reversal(planned),
            funds,
            today,
            memo,
            reverses=original.seq,
            original=None if original.kind == rules.REVERSAL else original_legs,
            original_reversed=await reversal_of(session, group, original.seq) is not None,
            place=place,
            move=move,
            to_place=to_place,
        )

    occurred_on = dates.check(entry_in.occurred_on or today, today)
    if isinstance(entry_in, MoveIn):
        leaves = places.named(group, entry_in.from_place, field="from_place")
        arrives = places.named(group, entry_in.to_place, field="to_place")
        if leaves.id == arrives.id:
            raise InvalidInput("A move needs two different places.", field="to_place")
        if leaves.currency != arrives.currency:
            raise InvalidInput(
                f"Cannot move money between {leaves.currency} and {arrives.currency} places.",
                field="to_place",
            )
        moved = parse_amount(entry_in.amount, leaves.currency)
        return _Plan(
            rules.MOVE,
            [],
            {},
            occurred_on,
            memo,
            place=leaves,
            move=Move(leaves.slug, arrives.slug, moved, leaves.currency),
            to_place=arrives,
        )
    place = places.named(group, entry_in.place)
    if isinstance(entry_in, TransferIn):
        source = group_funds.named(group, entry_in.from_fund, field="from_fund")
        target = group_funds.named(group, entry_in.to_fund, field="to_fund")
        _check_place_currency(place, source)
        amount = parse_amount(entry_in.amount, source.currency)
        return _Plan(
            "transfer",
            rules.transfer(_state(source), _state(target), amount),
            {source.id: source, target.id: target},
            occurred_on,
            memo,
            place=place,
        )

    fund = group_funds.named(group, entry_in.fund)
    _check_place_currency(place, fund)
    amount = parse_amount(entry_in.amount, fund.currency)
    counterparty = _text(entry_in.counterparty, "counterparty")
    if isinstance(entry_in, DonationIn):
        return _Plan(
            "donation",
            rules.donation(_state(fund), amount),
            {fund.id: fund},
            occurred_on,
            memo,
            counterparty,
            place=place,
        )
    assert isinstance(entry_in, DisbursementIn)
    if entry_in.proposal is not None and entry_in.policy is not None:
        raise InvalidInput(
            "A payment is made under one decision: a proposal or a policy, not both.",
            field="policy",
        )
    if entry_in.proposal is None and entry_in.policy is None:
        # Only the group's decisions move money out: a passed proposal, or a standing
        # policy for small payments.
        raise NotAuthorised(
            "A payment needs a decision: name the passed proposal it pays (proposal) or the "
            "spending policy in force it is made under (policy).",
            field="proposal",
        )
    if authority is None:
        raise NotAuthorised("Nothing here can authorise payments.", field="proposal")
    if entry_in.claim is not None and entry_in.policy is None:
        raise InvalidInput(
            "A claim is paid under the policy it was filed under (policy); a claim that became "
            "a proposal is paid under its proposal.",
            field="claim",
        )
    payment = Payment(
        fund,
        amount,
        counterparty,
        occurred_on,
        entry_in.proposal,
        entry_in.policy,
        recorded_by,
        entry_in.claim,
    )
    authorisation = await authority(session, group, payment)
    return _Plan(
        "disbursement",
        rules.disbursement(_state(fund), amount),
        {fund.id: fund},
        occurred_on,
        memo,
        counterparty,
        proposal=authorisation.proposal,
        policy=authorisation.policy,
        decided_in=authorisation.decided_in,
        place=place,
    )


def _check_place_currency(place: Place, fund: Fund) -> None:
    """A place holds money of its own currency only; but the default place, which holds
    whatever the funds held before places existed, of any currency (the log's rule)."""
    if fund.currency != place.currency and not place.is_default:
        raise InvalidInput(
            f"The place {place.name!r} holds {place.currency}; the fund {fund.name!r} holds "
            f"{fund.currency}.",
            field="place",
        )


async def record_entry(
    session: AsyncSession,
    group: Group,
    entry_in: EntryIn,
    *,
    recorded_by: int | None,
    authority: DisbursementAuthority | None = None,
    notary: Notary | None = None,
    now: datetime | None = None,
    dates: rules.DateWindow = rules.DEFAULT_DATES,
) -> Entry:
    """Append one entry to the group's ledger, or raise without writing anything.

    With a ``notary`` that signs on append, the new tree head is signed as a checkpoint in
    the same transaction; otherwise the next batch (``log.sign_pending``) signs it.
    ``dates``: the days an entry may have occurred on (the instance's setting).
    """
    now = now or utcnow()
    # The lock and the writes go to the driver directly, in the session's transaction:
    # SQLAlchemy's statement and ORM machinery cost two to four times what the driver does
    # for these statements, and the group's ledger is locked while they run.
    connection, driver = await driver_connection(session)
    postgres = connection.dialect.name == "postgresql"
    log, group_funds, group_places = await _lock_log_and_funds(session, group, connection, driver)
    plan = await _plan(
        session,
        group,
        entry_in,
        now.date(),
        authority,
        group_funds,
        dates,
        recorded_by,
        group_places,
    )
    funds = plan.funds
    legs = plan.legs(group_places)
    places = group_places.rows.values()
    # The rules of the log, as the verifiers apply them to every entry after it is written.
    books = rules.Books(
        (_terms(fund) for fund in funds.values()),
        balances={fund.slug: fund.balance for fund in funds.values()},
        first=log.size + 1,
        earlier={plan.reverses: plan.original} if plan.reverses is not None else None,
        reversed_=[plan.reverses] if plan.original_reversed and plan.reverses else [],
        places=map(_place_terms, places),
        default_place=group_places.default.slug if group_places.default else None,
        place_balances={place.slug: place.balance for place in places},
        reconciled={
            place.slug: place.reconciled_through.isoformat()
            for place in places
            if place.reconciled_through is not None
        },
    )
    books.record(plan.kind, legs, plan.reverses, plan.occurred_on)
    changes = rules.fund_changes(plan.postings)
    place_changes = {
        group_places.by_slug[slug].id: books.place_balances[slug] - balance
        for slug, balance in ((p.slug, p.balance) for p in places)
        if books.place_balances[slug] != balance
    }
    # And what the database can hold.
    rules.check_balance_limit({i: _state(f) for i, f in funds.items()}, changes)
    rules.check_place_limit(
        {i: _place_terms(p) for i, p in group_places.rows.items()},
        {i: group_places.rows[i].balance for i in place_changes},
        place_changes,
    )

    seq = log.size + 1
    document = leaf_document(
        group=group.slug,
        seq=seq,
        kind=plan.kind,
        occurred_on=plan.occurred_on,
        recorded_at=now,
        memo=plan.memo,
        counterparty=plan.counterparty,
        postings=() if plan.move is not None else legs,
        reverses=plan.reverses,
        proposal=plan.proposal,
        policy=plan.policy,
        decided_in=plan.decided_in,
        prev=log.head_hash,
        place=None
        if plan.move is not None or plan.place is None
        else group_places.in_leaf(plan.place),
        move=plan.move,
    )
    leaf = canonical_json(document)
    leaf_hash = leaf_hash_hex(leaf)
    columns: dict[str, Any] = {
        "group_id": group.id,
        "seq": seq,
        "kind": plan.kind,
        "occurred_on": plan.occurred_on,
        "recorded_at": now,
        "memo": plan.memo,
        "counterparty": plan.counterparty,
        "reverses_seq": plan.reverses,
        "proposal_number": plan.proposal[0] if plan.proposal else None,
        "proposal_version": plan.proposal[1] if plan.proposal else None,
        "policy_number": plan.policy[0] if plan.policy else None,
        "policy_version": plan.policy[1] if plan.policy else None,
        "decided_in": plan.decided_in,
        "recorded_by": recorded_by,
        "prev_hash": log.head_hash,
        "hash": leaf_hash,
        "leaf": leaf,
        "place_id": plan.place.id if plan.place is not None else None,
        "to_place_id": plan.to_place.id if plan.to_place is not None else None,
        "moved": plan.move.amount if plan.move is not None else None,
    }
    postings = [
        {
            "seq": seq,
            "position": i,
            "fund_id": p.fund_id,
            "account": p.account,
            "account_type": p.account_type,
            "amount": p.amount,
            "currency": p.currency,
        }
        for i, p in enumerate(plan.postings)
    ]
    tree = CompactRange.from_json(log.merkle).append(bytes.fromhex(leaf_hash))
    head = {"group": group.id, "size": seq, "head_hash": leaf_hash, "merkle": tree.to_json()}
    checkpoint = None
    if notary is not None and notary.on_append:
        root = tree.root()
        checkpoint = {
            "group_id": group.id,
            "size": seq,
            "root_hash": root.hex(),
            "note": notary.sign(group.slug, seq, root),
            "signed_at": now,
        }
    balances = [{"fund": fund, "change": change} for fund, change in changes.items()]
    held = [{"place": place, "change": change} for place, change in place_changes.items()]
    if postgres:
        entry_id = await _write_postgres(
            driver, columns, postings, balances, held, head, checkpoint
        )
    else:
        entry_id = await _write_sqlite(
            driver, connection.dialect, columns, postings, balances, held, head, checkpoint
        )

    # The session's objects are made to match the rows, as if freshly loaded.
    # (A many-to-one is loaded with its row, as the columns are; the postings are a list.)
    entry = as_loaded(
        Entry, {"id": entry_id, **columns, "place": plan.place, "to_place": plan.to_place}
    )
    session.add(entry)
    set_committed_value(
        entry,
        "postings",
        [
            as_loaded(Posting, {"entry_id": entry_id, **row, "fund": funds[planned.fund_id]})
            for row, planned in zip(postings, plan.postings, strict=True)
        ],
    )
    for fund_id, change in changes.items():
        set_committed_value(funds[fund_id], "balance", funds[fund_id].balance + change)
    for place_id, change in place_changes.items():
        place = group_places.of_id(place_id)
        set_committed_value(place, "balance", place.balance + change)
    for name in ("size", "head_hash", "merkle"):
        set_committed_value(log, name, head[name])
    return entry


async def record_decision(
    session: AsyncSession,
    group: Group,
    decision: DecisionLeaf,
    *,
    now: datetime,
    notary: Notary | None = None,
) -> Entry:
    """Append a decision leaf (``ledger.decisions``): an entry that moves no money. The
    caller holds the group's log lock already (closing a round takes it first), and writes
    the round's close in the same transaction."""
    log = await lock_log(session, group)
    seq = log.size + 1
    document = leaf_document(
        group=group.slug,
        seq=seq,
        kind=rules.DECISION,
        occurred_on=now.astimezone(UTC).date(),
        recorded_at=now,
        memo="",
        counterparty=None,
        postings=(),
        reverses=None,
        proposal=(decision.proposal, decision.version),
        prev=log.head_hash,
        decision=decision_body(decision),
    )
    leaf = canonical_json(document, nulls=True)
    leaf_hash = leaf_hash_hex(leaf)
    columns: dict[str, Any] = {
        "group_id": group.id,
        "seq": seq,
        "kind": rules.DECISION,
        "occurred_on": now.astimezone(UTC).date(),
        "recorded_at": now,
        "memo": "",
        "counterparty": None,
        "reverses_seq": None,
        "proposal_number": decision.proposal,
        "proposal_version": decision.version,
        "policy_number": None,
        "policy_version": None,
        "decided_in": None,
        "recorded_by": None,
        "prev_hash": log.head_hash,
        "hash": leaf_hash,
        "leaf": leaf,
        "place_id": None,
        "to_place_id": None,
        "moved": None,
    }
    tree = CompactRange.from_json(log.merkle).append(bytes.fromhex(leaf_hash))
    head = {"group": group.id, "size": seq, "head_hash": leaf_hash, "merkle": tree.to_json()}
    connection = await session.connection()
    entry_id: int = (await connection.execute(_INSERT_ENTRY, columns)).scalar_one()
    await connection.execute(_ADVANCE_LOG, head)
    if notary is not None and notary.on_append:
        root = tree.root()
        await connection.execute(
            _INSERT_CHECKPOINT,
            {
                "group_id": group.id,
                "size": seq,
                "root_hash": root.hex(),
                "note": notary.sign(group.slug, seq, root),
                "signed_at": now,
            },
        )
    entry = as_loaded(Entry, {"id": entry_id, **columns})
    session.add(entry)
    set_committed_value(entry, "postings", [])
    set_committed_value(entry, "place", None)
    set_committed_value(entry, "to_place", None)
    for name in ("size", "head_hash", "merkle"):
        set_committed_value(log, name, head[name])
    return entry


async def decision_of(
    session: AsyncSession, group: Group, proposal: int
) -> tuple[int, int | None] | None:
    """The latest decision leaf of a proposal in the group's log: (seq, version); None
    when none was logged (decided before decisions were logged, or not decided)."""
    row = (
        await session.execute(
            select(Entry.seq, Entry.proposal_version)
            .where(
                Entry.group_id == group.id,
                Entry.proposal_number == proposal,
                Entry.kind == rules.DECISION,
            )
            .order_by(Entry.seq.desc())
            .limit(1)
        )
    ).one_or_none()
    return None if row is None else (row[0], row[1])


# Appending is the hot path: its writes are plain statements built once, executed without
# the unit of work (the caller updates the session's objects to match).
_Rows = list[dict[str, Any]]


async def _write_sqlite(
    driver: Any,
    dialect: Dialect,
    entry: dict[str, Any],
    postings: _Rows,
    balances: _Rows,
    held: _Rows,
    head: dict[str, Any],
    checkpoint: dict[str, Any] | None,
) -> int:
    """Write an entry, its postings, the funds' and places' new balances, the log's new head
    and the checkpoint on SQLite; the entry's id. The statements go to the session's
    aiosqlite connection (``driver``), in its transaction, with the values SQLAlchemy's
    column types would write (a write transaction's statements run inline,
    ``app.sqlite_inline``): SQLAlchemy's execution of these five statements cost about a
    sixth of an append's CPU."""
    write = _sqlite_writer(dialect)
    cursor = await driver.execute(_INSERT_ENTRY_SQLITE, write.entry(entry))
    row = await cursor.fetchone()
    await cursor.close()
    entry_id: int = row[0]
    if postings:  # (a move has none)
        await driver.executemany(
            _INSERT_POSTINGS_SQLITE,
            [(entry_id, *(p[name] for name in _POSTING_ROW)) for p in postings],
        )
    if balances:
        await driver.executemany(
            _ADD_TO_BALANCE_SQLITE, [(b["change"], b["fund"]) for b in balances]
        )
    if held:
        await driver.executemany(_ADD_TO_PLACE_SQLITE, [(h["change"], h["place"]) for h in held])
    await driver.execute(
        _ADVANCE_LOG_SQLITE, (head["size"], head["head_hash"], head["merkle"], head["group"])
    )
    if checkpoint is not None:
        await driver.execute(_INSERT_CHECKPOINT_SQLITE, write.checkpoint(checkpoint))
    return entry_id


@dataclass(frozen=True, slots=True)
class _SqliteWriter:
    """The parameters of the entry's and the checkpoint's rows as SQLAlchemy's column types
    write them on SQLite (days and times as text), in ``_ENTRY_COLUMNS`` and
    ``_CHECKPOINT_COLUMNS`` order."""

    entry_processors: tuple[Any, ...]
    checkpoint_processors: tuple[Any, ...]

    def entry(self, values: dict[str, Any]) -> tuple[Any, ...]:
        return _processed(self.entry_processors, _ENTRY_COLUMNS, values)

    def checkpoint(self, values: dict[str, Any]) -> tuple[Any, ...]:
        return _processed(self.checkpoint_processors, _CHECKPOINT_COLUMNS, values)


def _processed(
    processors: tuple[Any, ...], names: tuple[str, ...], values: dict[str, Any]
) -> tuple[Any, ...]:
    return tuple(
        values[name] if process is None or values[name] is None else process(values[name])
        for process, name in zip(processors, names, strict=True)
    )


_sqlite_writers: dict[type[Dialect], _SqliteWriter] = {}


def _sqlite_writer(dialect: Dialect) -> _SqliteWriter:
    writer = _sqlite_writers.get(type(dialect))
    if writer is None:

        def processors(table: Table, names: tuple[str, ...]) -> tuple[Any, ...]:
            return tuple(
                table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
            )

        writer = _sqlite_writers[type(dialect)] = _SqliteWriter(
            processors(_ENTRIES, _ENTRY_COLUMNS),
            processors(table_of(Checkpoint), _CHECKPOINT_COLUMNS),
        )
    return writer


async def _write_postgres(
    driver: Any,
    entry: dict[str, Any],
    postings: _Rows,
    balances: _Rows,
    held: _Rows,
    head: dict[str, Any],
    checkpoint: dict[str, Any] | None,
) -> int:
    """``_write`` as one statement of data-modifying CTEs, sent to asyncpg (``driver``): on
    PostgreSQL each statement is a round trip to the server while the log's row lock is
    held."""
    arguments = [
        *(entry[name] for name in _ENTRY_COLUMNS),
        *([p[name] for p in postings] for name in _POSTING_COLUMNS),
        [b["fund"] for b in balances],
        [b["change"] for b in balances],
        head["merkle"],
        [h["place"] for h in held],
        [h["change"] for h in held],
    ]
    if checkpoint is None:
        entry_id: int = await driver.fetchval(_WRITE_POSTGRES, *arguments)
    else:
        arguments += [checkpoint["root_hash"], checkpoint["note"]]
        entry_id = await driver.fetchval(_WRITE_AND_SIGN_POSTGRES, *arguments)
    return entry_id


_ENTRY_COLUMNS = (
    "group_id",
    "seq",
    "kind",
    "occurred_on",
    "recorded_at",
    "memo",
    "counterparty",
    "reverses_seq",
    "proposal_number",
    "proposal_version",
    "recorded_by",
    "prev_hash",
    "hash",
    "leaf",
    "policy_number",
    "policy_version",
    "decided_in",
    "place_id",
    "to_place_id",
    "moved",
)
_POSTING_COLUMNS = ("position", "fund_id", "account", "account_type", "amount", "currency")
# Parameters: $1-$20 the entry (_ENTRY_COLUMNS), $21-$26 the postings' columns as arrays
# (_POSTING_COLUMNS), $27-$28 the funds' ids and balance changes, $29 the compact range,
# $30-$31 the places' ids and balance changes, and with a checkpoint $32-$33 its root and
# note (its size is the entry's seq).
_WRITE_SQL = """
WITH new_entry AS (
    INSERT INTO entries (group_id, seq, kind, occurred_on, recorded_at, memo, counterparty,
                         reverses_seq, proposal_number, proposal_version, recorded_by,
                         prev_hash, hash, leaf, policy_number, policy_version, decided_in,
                         place_id, to_place_id, moved)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
            $19, $20)
    RETURNING id
), new_postings AS (
    INSERT INTO postings (entry_id, seq, position, fund_id, account, account_type, amount,
                          currency)
    SELECT new_entry.id, $2, p.position, p.fund_id, p.account, p.account_type, p.amount,
           p.currency
    FROM new_entry,
         unnest($21::integer[], $22::bigint[], $23::varchar[], $24::varchar[], $25::bigint[],
                $26::varchar[])
         AS p(position, fund_id, account, account_type, amount, currency)
), new_balances AS (
    UPDATE funds SET balance = funds.balance + b.change
    FROM unnest($27::bigint[], $28::bigint[]) AS b(fund_id, change)
    WHERE funds.id = b.fund_id
), new_held AS (
    UPDATE places SET balance = places.balance + h.change
    FROM unnest($30::bigint[], $31::bigint[]) AS h(place_id, change)
    WHERE places.id = h.place_id
), new_head AS (
    UPDATE log_states SET size = $2, head_hash = $13, merkle = $29
    WHERE group_id = $1
){checkpoint}
SELECT id FROM new_entry
"""
_NEW_CHECKPOINT = """, new_checkpoint AS (
    INSERT INTO checkpoints (group_id, size, root_hash, note, signed_at)
    VALUES ($1, $2, $32, $33, $5)
)"""
_WRITE_POSTGRES = _WRITE_SQL.format(checkpoint="")
_WRITE_AND_SIGN_POSTGRES = _WRITE_SQL.format(checkpoint=_NEW_CHECKPOINT)

# The same writes on SQLite, one statement each (S608: the names are the models' own).
_CHECKPOINT_COLUMNS = ("group_id", "size", "root_hash", "note", "signed_at")
_POSTING_ROW = ("seq", "position", "fund_id", "account", "account_type", "amount", "currency")
_INSERT_ENTRY_SQLITE = (
    f"INSERT INTO entries ({', '.join(_ENTRY_COLUMNS)}) "  # noqa: S608
    f"VALUES ({', '.join('?' for _ in _ENTRY_COLUMNS)}) RETURNING id"
)
_INSERT_POSTINGS_SQLITE = (
    f"INSERT INTO postings (entry_id, {', '.join(_POSTING_ROW)}) "  # noqa: S608
    f"VALUES (?, {', '.join('?' for _ in _POSTING_ROW)})"
)
_ADD_TO_BALANCE_SQLITE = "UPDATE funds SET balance = balance + ? WHERE id = ?"
_ADD_TO_PLACE_SQLITE = "UPDATE places SET balance = balance + ? WHERE id = ?"
_ADVANCE_LOG_SQLITE = "UPDATE log_states SET size = ?, head_hash = ?, merkle = ? WHERE group_id = ?"
_INSERT_CHECKPOINT_SQLITE = (
    f"INSERT INTO checkpoints ({', '.join(_CHECKPOINT_COLUMNS)}) "  # noqa: S608
    f"VALUES ({', '.join('?' for _ in _CHECKPOINT_COLUMNS)})"
)

_ENTRIES = table_of(Entry)
_INSERT_ENTRY = insert(_ENTRIES).returning(_ENTRIES.c.id)
_INSERT_CHECKPOINT = insert(table_of(Checkpoint))
_ADVANCE_LOG = (
    update(_LOG_TABLE)
    .where(_LOG_TABLE.c.group_id == bindparam("group"))
    .values(size=bindparam("size"), head_hash=bindparam("head_hash"), merkle=bindparam("merkle"))
)


# --- reading -----------------------------------------------------------------------------


async def find_entry(session: AsyncSession, group: Group, seq: int) -> Entry | None:
    result = await session.scalars(
        select(Entry).where(Entry.group_id == group.id, Entry.seq == seq)
    )
    return result.one_or_none()


async def get_entry(session: AsyncSession, group: Group, seq: int) -> Entry:
    entry = await find_entry(session, group, seq)
    if entry is None:
        raise NotFound(f"Group {group.slug!r} has no entry {seq}.")
    return entry


async def reversal_of(session: AsyncSession, group: Group, seq: int) -> int | None:
    result = await session.scalars(
        select(Entry.seq).where(Entry.group_id == group.id, Entry.reverses_seq == seq)
    )
    return result.one_or_none()


async def reversals_of(session: AsyncSession, group: Group, seqs: Sequence[int]) -> dict[int, int]:
    """Which of these entries were reversed, and by which entry."""
    if not seqs:
        return {}
    rows = await session.execute(
        select(Entry.reverses_seq, Entry.seq).where(
            Entry.group_id == group.id, Entry.reverses_seq.in_(list(seqs))
        )
    )
    return {reversed_seq: seq for reversed_seq, seq in rows if reversed_seq is not None}


async def list_entries(
    session: AsyncSession,
    group: Group,
    *,
    fund: Fund | None = None,
    before: int | None = None,
    limit: int = 50,
    money_only: bool = False,
) -> tuple[list[Entry], int | None]:
    """Newest first, keyset-paginated on ``seq``: returns a page and the ``before`` of the
    next page (None on the last). Deep pages cost what the first does (no OFFSET).
    ``money_only``: without decision leaves (for pages that show decisions apart)."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit is between 1 and {MAX_PAGE}.", field="limit")
    # Money entries: files attached to them are listed with them (``ledger.attachments``).
    query = select(Entry).where(
        Entry.group_id == group.id, Entry.kind.not_in((ATTACHMENT, rules.RECONCILIATION))
    )
    if fund is not None:
        seqs = (
            select(Posting.seq)
            .where(Posting.fund_id == fund.id, Posting.account_type == rules.HOLDING)
            .order_by(Posting.seq.desc())
            .limit(limit + 1)
        )
        if before is not None:
            seqs = seqs.where(Posting.seq < before)
        query = query.where(Entry.seq.in_(seqs.scalar_subquery()))
    elif before is not None:
        query = query.where(Entry.seq < before)
    if money_only:
        query = query.where(Entry.kind != rules.DECISION)
    entries = list(await session.scalars(query.order_by(Entry.seq.desc()).limit(limit + 1)))
    if len(entries) > limit:
        return entries[:limit], entries[limit - 1].seq
    return entries, None


async def rebuild_balances(session: AsyncSession, group: Group) -> dict[str, int]:
    """Every fund's balance summed afresh from its postings (what the stored balance must
    equal; ``verify`` checks the same while replaying the log)."""
    rows = await session.execute(
        select(Fund.slug, func.coalesce(func.sum(Posting.amount), 0))
        .outerjoin(Posting, (Posting.fund_id == Fund.id) & (Posting.account_type == rules.HOLDING))
        .where(Fund.group_id == group.id)
        .group_by(Fund.slug)
    )
    return {slug: int(total) for slug, total in rows}
