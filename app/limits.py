"""Rate limits that hold under concurrency, on both engines and across worker processes,
and the one place that says who the client is.

Every limit counts hits of a key in a window. A key is a keyed digest (HMAC with the
instance's secret) of what is limited (an address, an account, a group, a token), so the
table never holds an address or an e-mail. Counting is one statement: an upsert on the
key's row that starts a new window when the old one is over, or adds one, and returns the
new count. The decision is taken on the count that statement returns, so requests racing
each other (on one connection or on many, in one process or in several) each get a count
of their own and never both see the last free place. The windows start at a key's first
hit (as a counter with an expiry would), so a refusal can say how long to wait.

The callers commit the counts at once, before the slow work (a password check, storing a
request): a failed attempt counts even when its request answers an error, and no counter
row stays locked while the work runs.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from litestar.connection import ASGIConnection
from sqlalchemy import case, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import WriterTurn
from app.models import RateCounter
from app.settings import Settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class Limit:
    """At most ``most`` hits of one key per ``window``."""

    name: str
    most: int
    window: timedelta


# --- the limits (all of them, here) ----------------------------------------------------

LOGIN_WINDOW = timedelta(minutes=15)
# Wrong guesses at one account from one address: then that pair waits out the window.
LOGIN_PER_ACCOUNT_AND_ADDRESS = Limit("login-account-address", 5, LOGIN_WINDOW)
# Guesses from one address at any accounts (trying one password on many accounts).
LOGIN_PER_ADDRESS = Limit("login-address", 20, LOGIN_WINDOW)
# Guesses at one account from anywhere: never a wall (anyone could then lock its owner
# out), but each attempt beyond ``most`` waits longer before its password is checked.
LOGIN_PER_ACCOUNT = Limit("login-account", 5, LOGIN_WINDOW)
LOGIN_DELAY_FIRST = 0.5  # seconds, doubling with each further attempt
LOGIN_DELAY_MOST = 8.0

# Requests for a password reset link (``app.password_reset``), as strict as logins: from
# one address, and for one account (so nobody's mailbox is flooded with links).
RESET_PER_ADDRESS = Limit("reset-address", 10, LOGIN_WINDOW)
RESET_PER_ACCOUNT = Limit("reset-account", 3, LOGIN_WINDOW)

# Requests for support from one address.
ASK_PER_ADDRESS = Limit("ask-address", 5, timedelta(hours=1))
# Beyond this many requests to one group in an hour the group is flooded: requests without
# a solved challenge are then held apart (``app.challenge``), never refused.
ASK_FLOOD = Limit("ask-group", 60, timedelta(hours=1))
# Held requests a group keeps per hour; beyond, unproven ones are asked to send again.
ASK_HELD = Limit("ask-held", 300, timedelta(hours=1))
# A challenge proves one request only.
CHALLENGE_SPENT = Limit("ask-challenge", 1, timedelta(days=1))


def login_delay(attempts_on_account: int) -> float:
    """Seconds an attempt on an account waits before its password is checked."""
    beyond = attempts_on_account - LOGIN_PER_ACCOUNT.most
    if beyond <= 0:
        return 0.0
    return min(LOGIN_DELAY_MOST, LOGIN_DELAY_FIRST * float(2 ** min(beyond - 1, 16)))


# --- counting ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tally:
    """A key's count after a hit, and when its window ends."""

    limit: Limit
    hits: int
    resets_at: datetime

    @property
    def exceeded(self) -> bool:
        return self.hits > self.limit.most

    def wait(self, now: datetime) -> timedelta:
        return max(self.resets_at - now, timedelta(0))


@dataclass(frozen=True, slots=True)
class Limiter:
    secret: str

    @classmethod
    def of(cls, settings: Settings) -> Limiter:
        return cls(settings.resolved_secret_key())

    def key(self, limit: Limit, subject: str) -> str:
        message = f"{limit.name}\x00{subject}".encode()
        return hmac.new(self.secret.encode(), message, hashlib.sha256).hexdigest()

    async def hit(
        self, session: AsyncSession, now: datetime, *counted: tuple[Limit, str]
    ) -> list[Tally]:
        """Count one hit on each (limit, subject) and return their tallies, in order.

        One statement for all of them, rows in key order (so two requests never lock the
        same rows in opposite orders)."""
        keys = [self.key(limit, subject) for limit, subject in counted]
        if len(set(keys)) != len(keys):
            raise ValueError("each limit may be counted once per call")
        rows = sorted(
            (
                {"key": key, "hits": 1, "started_at": now, "expires_at": now + limit.window}
                for key, (limit, _) in zip(keys, counted, strict=True)
            ),
            key=lambda row: str(row["key"]),
        )
        insert = _insert_for(session)
        statement = insert(RateCounter).values(rows)
        over = RateCounter.expires_at <= now
        statement = statement.on_conflict_do_update(
            index_elements=[RateCounter.key],
            set_={
                "hits": case((over, 1), else_=RateCounter.hits + 1),
                "started_at": case(
                    (over, statement.excluded.started_at), else_=RateCounter.started_at
                ),
                "expires_at": case(
                    (over, statement.excluded.expires_at), else_=RateCounter.expires_at
                ),
            },
        ).returning(RateCounter.key, RateCounter.hits, RateCounter.expires_at)
        found = {key: (hits, ends) for key, hits, ends in await session.execute(statement)}
        return [Tally(limit, *found[key]) for key, (limit, _) in zip(keys, counted, strict=True)]

    async def peek(self, session: AsyncSession, now: datetime, limit: Limit, subject: str) -> int:
        """The hits counted so far in the key's current window (counting none)."""
        hits = await session.scalar(
            select(RateCounter.hits).where(
                RateCounter.key == self.key(limit, subject), RateCounter.expires_at > now
            )
        )
        return int(hits or 0)

    async def refund(
        self, session: AsyncSession, now: datetime, limit: Limit, subject: str
    ) -> None:
        """Take one hit back (an attempt that turned out to be allowed)."""
        await session.execute(
            update(RateCounter)
            .where(
                RateCounter.key == self.key(limit, subject),
                RateCounter.expires_at > now,
                RateCounter.hits > 0,
            )
            .values(hits=RateCounter.hits - 1)
        )

    async def forget(self, session: AsyncSession, limit: Limit, subject: str) -> None:
        await session.execute(
            delete(RateCounter).where(RateCounter.key == self.key(limit, subject))
        )


def _insert_for(session: AsyncSession) -> Any:
    """The dialect's INSERT, which has ``on_conflict_do_update`` (both speak it alike)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert


async def sweep(session: AsyncSession, now: datetime) -> int:
    """Delete counters whose window is over (the hourly job)."""
    result = await session.execute(delete(RateCounter).where(RateCounter.expires_at <= now))
    return int(getattr(result, "rowcount", 0) or 0)


# --- who is calling ----------------------------------------------------------------------


def client_address(
    connection: ASGIConnection[Any, Any, Any, Any], trusted: Sequence[Network]
) -> str:
    """The caller's address, for the login's and the ask form's limits.

    ``X-Forwarded-For`` is believed only when the request comes from a trusted proxy
    (``COMMONPURSE_TRUSTED_PROXIES``), and then only as far as the chain of trusted proxies
    goes: read from the right (each proxy appends the address it was called from), the
    first address that is not a trusted proxy is the client; if all are, the leftmost.
    What a client writes into the header itself sits further left and is never reached.
    The rule of uvicorn's ``--forwarded-allow-ips``, which ``commonpurse serve`` gives the
    same list, so the two always agree."""
    peer = connection.client.host if connection.client else "unknown"
    if not _is_trusted(peer, trusted):
        return peer
    header = ",".join(connection.headers.getall("x-forwarded-for", []))
    hops = [_host_of(hop.strip()) for hop in header.split(",") if hop.strip()]
    if not hops:
        return peer
    for hop in reversed(hops):
        if not _is_trusted(hop, trusted):
            return hop[:64]
    return hops[0][:64]


def _host_of(hop: str) -> str:
    """An address without its port: ``192.0.2.1:5000``, ``[2001:db8::1]:443``."""
    if hop.startswith("[") and "]" in hop:
        return hop[1 : hop.index("]")]
    if hop.count(":") == 1:
        return hop.rsplit(":", 1)[0]
    return hop


def _is_trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(parsed in network for network in trusted)


async def wait_outside_turn(connection: ASGIConnection[Any, Any, Any, Any], seconds: float) -> None:
    """Sleep without holding the SQLite writers' turn (``app.db.WriterTurn``), so that
    other requests write meanwhile. The caller holds no transaction while it waits."""
    if seconds <= 0:
        return
    turn: WriterTurn | None = connection.scope.get("state", {}).get(WriterTurn.STATE_KEY)
    if turn is None:
        await pause(seconds)
        return
    async with turn.stepped_out():
        await pause(seconds)


async def pause(seconds: float) -> None:
    """The wait itself (tests count the seconds instead of waiting them)."""
    await asyncio.sleep(seconds)
