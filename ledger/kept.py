"""Reads that sum over a group's whole log, kept between requests and grown by new entries.

A log only grows, and each entry's hash chains every entry before it. So a sum over the
log's first ``size`` entries whose last hash is ``head`` stays true while the log's entry at
``size`` still has that hash, and only the entries after it can change the sum. A public
page that counts the donations of a million-entry log then reads its newest few entries,
not all of them (``bench reads``).

Kept per process, by database, group and what is summed. The head is checked, not trusted:
another database under the same address, or an append rolled back and made again, is summed
again from nothing. Only what the log alone decides may be kept this way: nothing a steward
can change or erase beside it (a donor's name, a request).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.models import Entry, Group, LogState

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Kept(Generic[T]):
    """``value``: the sum over the log's first ``size`` entries, the last of which has the
    hash ``head``."""

    size: int
    head: str
    value: T


# ``grow(value, after, through)``: ``value`` (None: nothing yet) grown by the entries whose
# seq is after ``after`` and at most ``through``. It must return a new value, never change
# the one it is given (a request may still hold it).
Grow = Callable[[T | None, int, int], Awaitable[T]]


class LogSums(Generic[T]):
    """One kind of sum over each group's log (say, the donations counted)."""

    def __init__(self) -> None:
        self._kept: dict[tuple[str, int, Hashable], Kept[T]] = {}

    def forget(self) -> None:
        """Sum every log again from nothing at its next read (for tests)."""
        self._kept.clear()

    async def read(
        self, session: AsyncSession, group: Group, grow: Grow[T], *, over: Hashable = None
    ) -> T:
        """The sum over ``group``'s log as this session sees it; ``over`` tells apart sums
        of one kind taken with different parameters (say, since another day)."""
        state = await session.get(LogState, group.id)
        size, head = (state.size, state.head_hash) if state is not None else (0, "")
        key = (str(session.get_bind().engine.url), group.id, over)
        last = self._kept.get(key)
        if last is not None and (last.size, last.head) == (size, head):
            return last.value
        after: int = 0
        value: T | None = None
        if last is not None and 0 < last.size < size:
            at_last = await session.scalar(
                select(Entry.hash).where(Entry.group_id == group.id, Entry.seq == last.size)
            )
            if at_last == last.head:  # the same log, grown
                after, value = last.size, last.value
        grown = await grow(value, after, size)
        self._kept[key] = Kept(size, head, grown)
        return grown
