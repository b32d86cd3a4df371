"""Recording an entry once, however often the same request is sent.

A caller names a request with a key of its own (the API's ``Idempotency-Key`` header, a web
form's id). The first outcome under that key, the entry it recorded or the rule that refused
it, is kept; a retry with the same key and the same entry gets that outcome back and records
nothing more, and the same key with another entry is refused. Keys belong to the caller who
chose them: another steward's key, even an equal one, is another request.

As TigerBeetle does with transfer ids: the answer is the first outcome, success or failure,
so a retry after a lost answer never records twice and never turns a refusal into a payment
behind the caller's back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from ledger import service
from ledger.errors import Conflict, IdempotencyMismatch, LedgerError
from ledger.groups import utcnow
from ledger.models import Entry, Group, IdempotencyRecord
from ledger.schemas import EntryIn


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a request with a key came to: the entry it recorded, or the refusal (one of the
    two); ``replayed`` when it was the first request's outcome, given again."""

    entry: Entry | None
    refusal: LedgerError | None
    replayed: bool


def request_hash(entry_in: EntryIn) -> str:
    """What "the same request" means: the same entry, field for field."""
    return hashlib.sha256(msgspec.json.encode(entry_in)).hexdigest()


async def record_entry_once(
    session: AsyncSession,
    group: Group,
    entry_in: EntryIn,
    *,
    key: str,
    caller_id: int,
    now: datetime | None = None,
    **record: Any,
) -> Outcome:
    """``service.record_entry`` under the caller's ``key``: the first outcome, recorded now
    or given again. Raises ``IdempotencyMismatch`` when the key was used for another entry.

    The keyword arguments ``record`` are ``record_entry``'s (``recorded_by`` is the caller).
    A refusal is an outcome too: it is kept in the session like a recorded entry, so the
    caller's transaction must be committed whichever the outcome.
    """
    found, refusal, replayed = await run_once(
        session,
        group,
        key=key,
        caller_id=caller_id,
        digest=request_hash(entry_in),
        act=lambda at: service.record_entry(
            session, group, entry_in, recorded_by=caller_id, now=at, **record
        ),
        kept=lambda seq: service.get_entry(session, group, seq),
        now=now,
    )
    return Outcome(found, refusal, replayed)


class _Logged(Protocol):
    @property
    def seq(self) -> int: ...  # the leaf it appended


Done = TypeVar("Done", bound=_Logged)


async def run_once(
    session: AsyncSession,
    group: Group,
    *,
    key: str,
    caller_id: int,
    digest: str,
    act: Callable[[datetime], Awaitable[Done]],
    kept: Callable[[int], Awaitable[Done]],
    now: datetime | None = None,
) -> tuple[Done | None, LedgerError | None, bool]:
    """Do ``act`` (at ``now``), which appends a leaf to the log, once under the caller's
    ``key`` for the request ``digest``: what it appended, or its refusal, and whether that
    was the first request's outcome given again (``kept`` reads what the leaf of a number
    was). Raises ``IdempotencyMismatch`` when the key was used for another request."""
    now = now or utcnow()
    # Two retries racing each other take turns here, before either reads the key.
    await service.lock_log(session, group)
    record = await session.get(IdempotencyRecord, (group.id, caller_id, key))
    if record is not None:
        if record.request_hash != digest:
            raise IdempotencyMismatch(
                "This Idempotency-Key was used for a different request; use a new key.",
            )
        if record.entry_seq is not None:
            return await kept(record.entry_seq), None, True
        return None, _refusal_of(record), True
    record = IdempotencyRecord(
        group_id=group.id, user_id=caller_id, key=key, request_hash=digest, created_at=now
    )
    try:
        async with session.begin_nested():  # a refusal leaves nothing of the act behind
            done = await act(now)
    except LedgerError as error:
        record.refusal_kind = type(error).__name__
        record.refusal_message = str(error)
        record.refusal_field = error.field
        session.add(record)
        return None, error, False
    record.entry_seq = done.seq
    session.add(record)
    return done, None, False


def _refusal_of(kept: IdempotencyRecord) -> LedgerError:
    """The refusal a record keeps, as the error that was raised the first time."""
    kinds = {kind.__name__: kind for kind in _kinds(LedgerError)}
    kind = kinds.get(kept.refusal_kind or "", Conflict)
    return kind(kept.refusal_message or "This request was refused.", field=kept.refusal_field)


def _kinds(kind: type[LedgerError]) -> Iterator[type[LedgerError]]:
    """Every kind of refusal: the ledger's, and those of packages built on it."""
    yield kind
    for sub in kind.__subclasses__():
        yield from _kinds(sub)
