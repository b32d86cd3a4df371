"""The integrity seal of a group's page: "verified: N entries, head hash ..., checked at ...".

``ledger.verify.verify_group`` re-reads and re-hashes the whole log, O(n). The seal keeps
the last result per group, keyed by the log it checked (its size and head hash), so a page
view costs one row read while nothing was appended:

- a small log (up to ``inline_limit`` entries, a fraction of a second) that changed is
  verified again within the request, so the seal is always current;
- a large log that changed keeps showing its last verified result, honestly labelled with
  its size and time, while one background thread per group checks the new log with its own
  connection (not blocking the server's event loop); the page says that newer entries are
  being checked;
- a result older than ``max_age`` is checked again the same way, so a database edited
  behind the application's back (which the append-only triggers refuse) shows up even when
  nothing new was appended.

Each worker process keeps its own results: a few checks more after a restart, and nothing
to share or to invalidate across processes (the key is the log itself).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import create_engine, create_session_maker, unit_of_work
from app.settings import Settings
from ledger.groups import utcnow
from ledger.models import Group, LogState
from ledger.verify import VerifyReport, verify_group

logger = logging.getLogger("commonpurse")

INLINE_LIMIT = 20_000
MAX_AGE = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class Seal:
    """One verification of a group's log, and the log it checked."""

    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None
    problem: str | None
    checked_at: datetime
    log_size: int
    log_head: str


@dataclass(frozen=True, slots=True)
class SealView:
    """What a page shows: the newest result, and how far the log has grown since."""

    seal: Seal | None
    log_size: int
    checking: bool

    @property
    def newer_entries(self) -> int:
        return self.log_size - (self.seal.log_size if self.seal else 0)


def _seal(report: VerifyReport, size: int, head: str, checked_at: datetime) -> Seal:
    if report.ok:  # exactly what was verified
        size, head = report.head_seq, report.head_hash
    return Seal(
        ok=report.ok,
        entries=report.entries,
        head_seq=report.head_seq,
        head_hash=report.head_hash,
        first_bad_seq=report.first_bad_seq,
        problem=report.problem,
        checked_at=checked_at,
        log_size=size,
        log_head=head,
    )


async def _log_head(session: AsyncSession, group_id: int) -> tuple[int, str]:
    result = await session.execute(
        select(LogState.size, LogState.head_hash).where(LogState.group_id == group_id)
    )
    row = result.one_or_none()
    return (int(row[0]), str(row[1])) if row else (0, "")


class SealKeeper:
    def __init__(
        self, settings: Settings, *, inline_limit: int = INLINE_LIMIT, max_age: timedelta = MAX_AGE
    ) -> None:
        self.settings = settings
        self.inline_limit = inline_limit
        self.max_age = max_age
        self._seals: dict[int, Seal] = {}
        self._checking: dict[int, threading.Thread] = {}
        self._lock = threading.Lock()

    def cached(self, group_id: int) -> Seal | None:
        return self._seals.get(group_id)

    async def view(self, session: AsyncSession, group: Group) -> SealView:
        size, head = await _log_head(session, group.id)
        seal = self._seals.get(group.id)
        now = utcnow()
        matches = seal is not None and (seal.log_size, seal.log_head) == (size, head)
        fresh = seal is not None and now - seal.checked_at < self.max_age
        if matches and fresh:
            return SealView(seal, size, self.is_checking(group.id))
        if size <= self.inline_limit:
            report = await verify_group(session, group)
            seal = self._keep(group.id, _seal(report, size, head, now))
            return SealView(seal, size, False)
        self.check_in_background(group.id)
        return SealView(seal, size, True)

    def is_checking(self, group_id: int) -> bool:
        with self._lock:
            return group_id in self._checking

    def _keep(self, group_id: int, seal: Seal) -> Seal:
        with self._lock:
            known = self._seals.get(group_id)
            # A slower check of an older log never replaces a newer result.
            if known is None or known.log_size <= seal.log_size:
                self._seals[group_id] = seal
                return seal
            return known

    def check_in_background(self, group_id: int) -> None:
        """Start one checking thread for the group unless one runs already."""
        with self._lock:
            if group_id in self._checking:
                return
            thread = threading.Thread(
                target=self._check, args=(group_id,), name=f"seal-{group_id}", daemon=True
            )
            self._checking[group_id] = thread
        thread.start()

    def wait(self, group_id: int, timeout: float | None = None) -> None:
        """Wait for the group's background check (tests and the command line)."""
        with self._lock:
            thread = self._checking.get(group_id)
        if thread is not None:
            thread.join(timeout)

    def _check(self, group_id: int) -> None:
        try:
            seal = asyncio.run(self._verify(group_id))
            if seal is not None:
                self._keep(group_id, seal)
        except Exception:
            logger.exception("Checking the log of group %s failed", group_id)
        finally:
            with self._lock:
                self._checking.pop(group_id, None)

    async def _verify(self, group_id: int) -> Seal | None:
        engine = create_engine(self.settings)
        try:
            async with unit_of_work(create_session_maker(engine), writes=False) as session:
                group = await session.get(Group, group_id)
                if group is None:
                    return None
                size, head = await _log_head(session, group_id)
                checked_at = utcnow()
                report = await verify_group(session, group)
                return _seal(report, size, head, checked_at)
        finally:
            await engine.dispose()
