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
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

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
    now = now or utcnow()
    # Two retries racing each other take turns here, before either reads the key.
    await service.lock_log(session, group)
    digest = request_hash(entry_in)
    kept = await session.get(IdempotencyRecord, (group.id, caller_id, key))
    if kept is not None:
        if kept.request_hash != digest:
            raise IdempotencyMismatch(
                "This Idempotency-Key was used for a different request; use a new key.",
            )
        if kept.entry_seq is not None:
            return Outcome(await service.get_entry(session, group, kept.entry_seq), None, True)
        return Outcome(None, refusal_of(kept), True)
    record_row = IdempotencyRecord(
        group_id=group.id, user_id=caller_id, key=key, request_hash=digest, created_at=now
    )
    try:
        async with session.begin_nested():  # a refusal leaves nothing of the entry behind
            entry = await service.record_entry(
                session, group, entry_in, recorded_by=caller_id, now=now, **record
            )
    except LedgerError as error:
        record_row.refusal_kind = type(error).__name__
        record_row.refusal_message = str(error)
        record_row.refusal_field = error.field
        session.add(record_row)
        return Outcome(None, error, False)
    record_row.entry_seq = entry.seq
    session.add(record_row)
    return Outcome(entry, None, False)


def refusal_of(kept: IdempotencyRecord) -> LedgerError:
    """The refusal a record keeps, as the error that was raised the first time."""
    kinds = {kind.__name__: kind for kind in _kinds(LedgerError)}
    kind = kinds.get(kept.refusal_kind or "", Conflict)
    return kind(kept.refusal_message or "This request was refused.", field=kept.refusal_field)


def _kinds(kind: type[LedgerError]) -> Iterator[type[LedgerError]]:
    """Every kind of refusal: the ledger's, and those of packages built on it."""
    yield kind
    for sub in kind.__subclasses__():
        yield from _kinds(sub)
