"""Funds and entries: load the rows, apply ``rules``, append. Never commits: the caller
(one HTTP request, one CLI command) owns the transaction, so a failure leaves nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Protocol, cast

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from ledger import rules
from ledger.canonical import (
    ATTACHMENT,
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
    NotAuthorised,
    NotFound,
)
from ledger.groups import check_name, utcnow
from ledger.loaded import as_loaded, current
from ledger.log import Notary
from ledger.merkle import CompactRange
from ledger.models import Checkpoint, Entry, Fund, Group, LogState, Posting
from ledger.money import check_currency, parse_amount
from ledger.schemas import DisbursementIn, DonationIn, EntryIn, FundIn, ReversalIn, TransferIn

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


async def get_fund(session: AsyncSession, group: Group, slug: str, *, field: str = "fund") -> Fund:
    fund = None
    if rules.SLUG.fullmatch(slug):
        result = await session.scalars(_FUND_BY_SLUG, {"group": group.id, "slug": slug})
        fund = result.one_or_none()
    if fund is None:
        raise _no_fund(group, slug, field)
    return fund


def _no_fund(group: Group, slug: str, field: str) -> InvalidInput:
    return InvalidInput(f"Group {group.slug!r} has no fund {slug!r}.", field=field)


_FUND_BY_SLUG = (
    select(Fund)
    .where(Fund.group_id == bindparam("group"), Fund.slug == bindparam("slug"))
    .execution_options(populate_existing=True)  # its balance as of now
)


def _terms(fund: Fund) -> rules.FundTerms:
    return rules.FundTerms(fund.slug, fund.currency, fund.allow_negative, fund.name)


def _legs(postings: Iterable[rules.PlannedPosting]) -> tuple[rules.Leg, ...]:
    return tuple(rules.Leg(p.account, p.fund_slug, p.amount, p.currency) for p in postings)


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
    session: AsyncSession, group: Group, driver: Any | None
) -> tuple[LogState, _Funds]:
    """``lock_log``, and the group's funds as of now, in one query (an append needs both; a
    group has a handful of funds).

    The fund rows are locked too, and that is what makes their balances current: in READ
    COMMITTED, a row lock that waited for another append re-reads the rows it locks, while
    the rows of a table merely joined stay as the statement's snapshot saw them, which
    would let two workers spend the same money."""
    if driver is not None:
        rows = await driver.fetch(_LOCK_LOG_AND_FUNDS_POSTGRES, group.id)
        if rows:  # the session gets the rows as if the ORM had loaded them
            log = current(session, LogState, dict(zip(_LOG_COLUMNS, rows[0], strict=False)))
            split = len(_LOG_COLUMNS)
            return log, _Funds(
                current(session, Fund, dict(zip(_FUND_COLUMNS, row[split:], strict=True)))
                for row in rows
            )
    else:
        rows = (await session.execute(_LOCK_LOG_AND_FUNDS, {"group": group.id})).all()
        if rows:
            return rows[0][0], _Funds(fund for _, fund in rows)
    # A group without funds: nothing to record, but take the lock all the same.
    return await lock_log(session, group), _Funds(())


async def _asyncpg(connection: AsyncConnection) -> Any | None:
    """The session's asyncpg connection on PostgreSQL (None on other engines). An append's
    lock and write go to it directly, in the session's transaction: SQLAlchemy's statement
    and ORM machinery cost two to four times what asyncpg does for these two statements,
    and the group's ledger is locked while they run."""
    if connection.dialect.name != "postgresql":
        return None
    return (await connection.get_raw_connection()).driver_connection


# Every column, so the objects made from them are whole (an unloaded column would be read
# lazily, which an async session cannot do).
_LOG_COLUMNS = tuple(column.name for column in cast("Table", LogState.__table__).columns)
_FUND_COLUMNS = tuple(column.name for column in cast("Table", Fund.__table__).columns)
# (S608: the names are the models' own, not input.)
_LOCK_LOG_AND_FUNDS_POSTGRES = f"""
SELECT {", ".join(f"log_states.{name}" for name in _LOG_COLUMNS)},
       {", ".join(f"funds.{name}" for name in _FUND_COLUMNS)}
FROM log_states JOIN funds ON funds.group_id = log_states.group_id
WHERE log_states.group_id = $1
FOR UPDATE OF log_states, funds
"""  # noqa: S608


_LOCK_LOG_AND_FUNDS = (
    select(LogState, Fund)
    .join(Fund, Fund.group_id == LogState.group_id)
    .where(LogState.group_id == bindparam("group"))
    .with_for_update(of=(LogState, Fund))
    .execution_options(populate_existing=True)
)


class _Funds:
    """A group's funds as read after the log lock, found by slug or id."""

    def __init__(self, funds: Iterable[Fund]) -> None:
        self.by_id = {fund.id: fund for fund in funds}
        self.by_slug = {fund.slug: fund for fund in self.by_id.values()}

    def named(self, group: Group, slug: str, field: str = "fund") -> Fund:
        fund = self.by_slug.get(slug)
        if fund is None:
            raise _no_fund(group, slug, field)
        return fund


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


async def _plan(
    session: AsyncSession,
    group: Group,
    entry_in: EntryIn,
    today: date,
    authority: DisbursementAuthority | None,
    group_funds: _Funds,
    dates: rules.DateWindow,
    recorded_by: int | None,
) -> _Plan:
    memo = _text(entry_in.memo, "memo", multiline=True) or ""
    if isinstance(entry_in, ReversalIn):
        if not memo:
            raise InvalidInput("A reversal needs a reason in its memo.", field="memo")
        original = await find_entry(session, group, entry_in.reverses)
        if original is None or original.kind == ATTACHMENT:
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
        funds = {p.fund_id: group_funds.by_id[p.fund_id] for p in planned}
        return _Plan(
            "reversal",
            rules.reversal(planned),
            funds,
            today,
            memo,
            reverses=original.seq,
            original=None if original.kind == rules.REVERSAL else _legs(planned),
            original_reversed=await reversal_of(session, group, original.seq) is not None,
        )

    occurred_on = dates.check(entry_in.occurred_on or today, today)
    if isinstance(entry_in, TransferIn):
        source = group_funds.named(group, entry_in.from_fund, field="from_fund")
        target = group_funds.named(group, entry_in.to_fund, field="to_fund")
        amount = parse_amount(entry_in.amount, source.currency)
        return _Plan(
            "transfer",
            rules.transfer(_state(source), _state(target), amount),
            {source.id: source, target.id: target},
            occurred_on,
            memo,
        )

    fund = group_funds.named(group, entry_in.fund)
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
    connection = await session.connection()
    driver = await _asyncpg(connection)
    log, group_funds = await _lock_log_and_funds(session, group, driver)
    plan = await _plan(
        session, group, entry_in, now.date(), authority, group_funds, dates, recorded_by
    )
    funds = plan.funds
    # The rules of the log, as the verifiers apply them to every entry after it is written.
    books = rules.Books(
        (_terms(fund) for fund in funds.values()),
        balances={fund.slug: fund.balance for fund in funds.values()},
        first=log.size + 1,
        earlier={plan.reverses: plan.original} if plan.reverses is not None else None,
        reversed_=[plan.reverses] if plan.original_reversed and plan.reverses else [],
    )
    books.record(plan.kind, _legs(plan.postings), plan.reverses)
    changes = rules.fund_changes(plan.postings)
    # And what the database can hold.
    rules.check_balance_limit({i: _state(f) for i, f in funds.items()}, changes)

    seq = log.size + 1
    document = leaf_document(
        group=group.slug,
        seq=seq,
        kind=plan.kind,
        occurred_on=plan.occurred_on,
        recorded_at=now,
        memo=plan.memo,
        counterparty=plan.counterparty,
        postings=_legs(plan.postings),
        reverses=plan.reverses,
        proposal=plan.proposal,
        policy=plan.policy,
        decided_in=plan.decided_in,
        prev=log.head_hash,
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
    if driver is not None:
        entry_id = await _write_postgres(driver, columns, postings, balances, head, checkpoint)
    else:
        entry_id = await _write(connection, columns, postings, balances, head, checkpoint)

    # The session's objects are made to match the rows, as if freshly loaded.
    entry = as_loaded(Entry, {"id": entry_id, **columns})
    session.add(entry)
    loaded_postings = []
    for row, planned in zip(postings, plan.postings, strict=True):
        posting = as_loaded(Posting, {"entry_id": entry_id, **row})
        set_committed_value(posting, "fund", funds[planned.fund_id])
        loaded_postings.append(posting)
    set_committed_value(entry, "postings", loaded_postings)
    for fund_id, change in changes.items():
        set_committed_value(funds[fund_id], "balance", funds[fund_id].balance + change)
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


async def _write(
    connection: AsyncConnection,
    entry: dict[str, Any],
    postings: _Rows,
    balances: _Rows,
    head: dict[str, Any],
    checkpoint: dict[str, Any] | None,
) -> int:
    """Write an entry, its postings, the funds' new balances, the log's new head and the
    checkpoint; the entry's id."""
    entry_id: int = (await connection.execute(_INSERT_ENTRY, entry)).scalar_one()
    await connection.execute(_INSERT_POSTINGS, [{"entry_id": entry_id, **p} for p in postings])
    await connection.execute(_ADD_TO_BALANCE, balances)
    await connection.execute(_ADVANCE_LOG, head)
    if checkpoint is not None:
        await connection.execute(_INSERT_CHECKPOINT, checkpoint)
    return entry_id


async def _write_postgres(
    driver: Any,
    entry: dict[str, Any],
    postings: _Rows,
    balances: _Rows,
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
)
_POSTING_COLUMNS = ("position", "fund_id", "account", "account_type", "amount", "currency")
# Parameters: $1-$17 the entry (_ENTRY_COLUMNS), $18-$23 the postings' columns as arrays
# (_POSTING_COLUMNS), $24-$25 the funds' ids and balance changes, $26 the compact range, and
# with a checkpoint $27-$28 its root and note (its size is the entry's seq).
_WRITE_SQL = """
WITH new_entry AS (
    INSERT INTO entries (group_id, seq, kind, occurred_on, recorded_at, memo, counterparty,
                         reverses_seq, proposal_number, proposal_version, recorded_by,
                         prev_hash, hash, leaf, policy_number, policy_version, decided_in)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
    RETURNING id
), new_postings AS (
    INSERT INTO postings (entry_id, seq, position, fund_id, account, account_type, amount,
                          currency)
    SELECT new_entry.id, $2, p.position, p.fund_id, p.account, p.account_type, p.amount,
           p.currency
    FROM new_entry,
         unnest($18::integer[], $19::bigint[], $20::varchar[], $21::varchar[], $22::bigint[],
                $23::varchar[])
         AS p(position, fund_id, account, account_type, amount, currency)
), new_balances AS (
    UPDATE funds SET balance = funds.balance + b.change
    FROM unnest($24::bigint[], $25::bigint[]) AS b(fund_id, change)
    WHERE funds.id = b.fund_id
), new_head AS (
    UPDATE log_states SET size = $2, head_hash = $13, merkle = $26
    WHERE group_id = $1
){checkpoint}
SELECT id FROM new_entry
"""
_NEW_CHECKPOINT = """, new_checkpoint AS (
    INSERT INTO checkpoints (group_id, size, root_hash, note, signed_at)
    VALUES ($1, $2, $27, $28, $5)
)"""
_WRITE_POSTGRES = _WRITE_SQL.format(checkpoint="")
_WRITE_AND_SIGN_POSTGRES = _WRITE_SQL.format(checkpoint=_NEW_CHECKPOINT)

_ENTRIES = cast("Table", Entry.__table__)
_FUNDS = cast("Table", Fund.__table__)
_LOGS = cast("Table", LogState.__table__)
_INSERT_ENTRY = insert(_ENTRIES).returning(_ENTRIES.c.id)
_INSERT_POSTINGS = insert(cast("Table", Posting.__table__))
_INSERT_CHECKPOINT = insert(cast("Table", Checkpoint.__table__))
_ADD_TO_BALANCE = (
    update(_FUNDS)
    .where(_FUNDS.c.id == bindparam("fund"))
    .values(balance=_FUNDS.c.balance + bindparam("change"))
)
_ADVANCE_LOG = (
    update(_LOGS)
    .where(_LOGS.c.group_id == bindparam("group"))
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
    query = select(Entry).where(Entry.group_id == group.id, Entry.kind != ATTACHMENT)
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
