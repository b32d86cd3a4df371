"""The check of a group's log shown on its page (the "Integrity seal" panel): "verified:
N entries, head hash ..., checked at ...".

``ledger.verify.verify_group`` re-reads and re-hashes the whole log, O(n). The keeper keeps
the last result per group, keyed by the log it checked (its size and head hash), so a page
view costs one row read while nothing was appended:

- a small log (up to ``inline_limit`` entries, a fraction of a second) that changed is
  verified again within the request, so the result is always current;
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
class Verification:
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
class VerificationView:
    """What a page shows: the newest result, and how far the log has grown since."""

    result: Verification | None
    log_size: int
    checking: bool

    @property
    def newer_entries(self) -> int:
        return self.log_size - (self.result.log_size if self.result else 0)


def _verification(report: VerifyReport, size: int, head: str, checked_at: datetime) -> Verification:
    if report.ok:  # exactly what was verified
        size, head = report.head_seq, report.head_hash
    return Verification(
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


class VerificationKeeper:
    def __init__(
        self, settings: Settings, *, inline_limit: int = INLINE_LIMIT, max_age: timedelta = MAX_AGE
    ) -> None:
        self.settings = settings
        self.inline_limit = inline_limit
        self.max_age = max_age
        self._results: dict[int, Verification] = {}
        self._checking: dict[int, threading.Thread] = {}
        self._lock = threading.Lock()

    def cached(self, group_id: int) -> Verification | None:
        return self._results.get(group_id)

    async def view(self, session: AsyncSession, group: Group) -> VerificationView:
        size, head = await _log_head(session, group.id)
        result = self._results.get(group.id)
        now = utcnow()
        matches = result is not None and (result.log_size, result.log_head) == (size, head)
        fresh = result is not None and now - result.checked_at < self.max_age
        if matches and fresh:
            return VerificationView(result, size, self.is_checking(group.id))
        if size <= self.inline_limit:
            report = await verify_group(session, group)
            result = self._keep(group.id, _verification(report, size, head, now))
            return VerificationView(result, size, False)
        self.check_in_background(group.id)
        return VerificationView(result, size, True)

    def is_checking(self, group_id: int) -> bool:
        with self._lock:
            return group_id in self._checking

    def _keep(self, group_id: int, result: Verification) -> Verification:
        with self._lock:
            known = self._results.get(group_id)
            # A slower check of an older log never replaces a newer result.
            if known is None or known.log_size <= result.log_size:
                self._results[group_id] = result
                return result
            return known

    def check_in_background(self, group_id: int) -> None:
        """Start one checking thread for the group unless one runs already."""
        with self._lock:
            if group_id in self._checking:
                return
            thread = threading.Thread(
                target=self._check, args=(group_id,), name=f"verify-{group_id}", daemon=True
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
            result = asyncio.run(self._verify(group_id))
            if result is not None:
                self._keep(group_id, result)
        except Exception:
            logger.exception("Checking the log of group %s failed", group_id)
        finally:
            with self._lock:
                self._checking.pop(group_id, None)

    async def _verify(self, group_id: int) -> Verification | None:
        engine = create_engine(self.settings)
        try:
            async with unit_of_work(create_session_maker(engine), writes=False) as session:
                group = await session.get(Group, group_id)
                if group is None:
                    return None
                size, head = await _log_head(session, group_id)
                checked_at = utcnow()
                report = await verify_group(session, group)
                return _verification(report, size, head, checked_at)
        finally:
            await engine.dispose()
