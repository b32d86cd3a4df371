"""Rate limits that hold under concurrency, and whose address they count against.

Racing requests really overlap here: each app serves them on the test's event loop, on
PostgreSQL each on its own connection, and two apps (two connection pools, as two worker
processes would have) race each other too.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from litestar.datastructures import Headers
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import limits
from app.asgi import create_app
from app.cli import main
from app.limits import (
    ASK_PER_ADDRESS,
    LOGIN_PER_ACCOUNT,
    LOGIN_PER_ACCOUNT_AND_ADDRESS,
    client_address,
    login_delay,
)
from app.settings import Settings, SettingsError
from proposals.models import SupportRequest
from tests.support.clients import PASSWORD, calling_from, form_token, give_password
from tests.support.people import World

_CSRF = re.compile(r'name="_csrf_token" value="([^"]*)"')
HTML = {"Accept": "text/html"}


async def try_login(client: httpx.AsyncClient, token: str, email: str, password: str) -> Any:
    return await client.post(
        "/login",
        data={"_csrf_token": token, "email": email, "password": password},
        headers=HTML,
        follow_redirects=False,
    )


ASK = {
    "need": "Food for the week",
    "urgency": "normal",
    "consent": "yes",
    "language": "en",
    "phone": "611 222 333",
}


async def try_ask(
    client: httpx.AsyncClient, slug: str, token: str, headers: dict[str, str] | None = None
) -> Any:
    return await client.post(
        f"/g/{slug}/ask",
        data={"_csrf_token": token, **ASK},
        headers={**HTML, **(headers or {})},
        follow_redirects=False,
    )


async def requests_stored(session: AsyncSession) -> int:
    number = int(await session.scalar(select(func.count()).select_from(SupportRequest)) or 0)
    await session.commit()
    return number


# --- logging in ----------------------------------------------------------------------------


async def test_racing_wrong_passwords_are_checked_only_up_to_the_limit(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    """20 wrong passwords at once for one account from one address, through two app
    instances: exactly 5 are checked (400), the rest refused unchecked (429)."""
    await give_password(session, world.member)
    email = world.member.user.email
    async with (
        calling_from(create_app(settings), "203.0.113.20") as first,
        calling_from(create_app(settings), "203.0.113.20") as second,
    ):
        tokens = {
            first: await form_token(first, "/login"),
            second: await form_token(second, "/login"),
        }
        answers = await asyncio.gather(
            *(
                try_login(client, tokens[client], email, f"wrong {i}")
                for i in range(10)
                for client in (first, second)
            )
        )
        statuses = sorted(answer.status_code for answer in answers)
        assert statuses == [400] * LOGIN_PER_ACCOUNT_AND_ADDRESS.most + [429] * 15, statuses
        # The right password from the same address waits out the window too.
        refused = await try_login(first, tokens[first], email, PASSWORD)
        assert refused.status_code == 429


async def test_the_right_password_from_another_address_still_logs_in(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.member)
    email = world.member.user.email
    async with calling_from(create_app(settings), "203.0.113.66") as guesser:
        token = await form_token(guesser, "/login")
        for _ in range(LOGIN_PER_ACCOUNT_AND_ADDRESS.most):
            assert (await try_login(guesser, token, email, "guess")).status_code == 400
        assert (await try_login(guesser, token, email, "guess")).status_code == 429
    async with calling_from(create_app(settings), "198.51.100.9") as owner:
        logged_in = await try_login(owner, await form_token(owner, "/login"), email, PASSWORD)
        assert logged_in.status_code == 303, logged_in.text
        assert "cp_session" in owner.cookies


async def test_guesses_from_many_addresses_slow_an_account_down_but_never_lock_it(
    settings: Settings, world: World, session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each address stays under its own limit; the account's attempts beyond the free ones
    wait longer and longer before their password is checked, and its owner still gets in."""
    await give_password(session, world.member)
    email = world.member.user.email
    waited: list[float] = []

    async def pause(seconds: float) -> None:
        waited.append(seconds)

    monkeypatch.setattr(limits, "pause", pause)
    app = create_app(settings)
    guesses = LOGIN_PER_ACCOUNT.most + 4
    for n in range(guesses):
        async with calling_from(app, f"192.0.2.{n + 1}") as guesser:
            token = await form_token(guesser, "/login")
            assert (await try_login(guesser, token, email, "guess")).status_code == 400
    assert waited == [0.5, 1.0, 2.0, 4.0]
    async with calling_from(app, "198.51.100.10") as owner:
        logged_in = await try_login(owner, await form_token(owner, "/login"), email, PASSWORD)
        assert logged_in.status_code == 303
    assert waited[-1] == limits.LOGIN_DELAY_MOST  # the longest wait, and no refusal


def test_the_delay_grows_and_stops_growing() -> None:
    free = LOGIN_PER_ACCOUNT.most
    assert [login_delay(n) for n in range(free + 1)] == [0.0] * (free + 1)
    assert login_delay(free + 1) < login_delay(free + 2) < login_delay(free + 3)
    assert login_delay(free + 1000) == limits.LOGIN_DELAY_MOST


# --- asking for support ---------------------------------------------------------------------


async def test_racing_asks_from_one_address_are_accepted_only_up_to_the_limit(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    async with (
        calling_from(create_app(settings), "203.0.113.30") as first,
        calling_from(create_app(settings), "203.0.113.30") as second,
    ):
        path = f"/g/{world.slug}/ask"
        tokens = {first: await form_token(first, path), second: await form_token(second, path)}
        answers = await asyncio.gather(
            *(try_ask(client, world.slug, tokens[client]) for _ in range(10) for client in tokens)
        )
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [303] * ASK_PER_ADDRESS.most + [429] * 15, statuses
    assert await requests_stored(session) == ASK_PER_ADDRESS.most


# --- whose address ------------------------------------------------------------------------


async def test_forwarded_for_is_ignored_from_a_proxy_that_is_not_trusted(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    """By default no proxy is trusted: a client cannot rotate its address in a header."""
    async with calling_from(create_app(settings), "127.0.0.1") as client:
        token = await form_token(client, f"/g/{world.slug}/ask")
        for n in range(ASK_PER_ADDRESS.most):
            forged = {"X-Forwarded-For": f"198.51.100.{n + 1}"}
            assert (await try_ask(client, world.slug, token, forged)).status_code == 303
        forged = {"X-Forwarded-For": "198.51.100.200"}
        assert (await try_ask(client, world.slug, token, forged)).status_code == 429


async def test_forwarded_for_from_a_trusted_proxy_names_the_client(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    proxied = dataclasses.replace(settings, trusted_proxies=("127.0.0.1",))
    async with calling_from(create_app(proxied), "127.0.0.1") as proxy:
        token = await form_token(proxy, f"/g/{world.slug}/ask")
        # Different people behind the proxy each have their own limit...
        for n in range(ASK_PER_ADDRESS.most + 2):
            person = {"X-Forwarded-For": f"198.51.100.{n + 1}"}
            assert (await try_ask(proxy, world.slug, token, person)).status_code == 303
        # ...and one person cannot escape theirs by writing the header themselves: the
        # proxy appends the address it saw, which is the one that counts.
        for n in range(ASK_PER_ADDRESS.most):
            forged = {"X-Forwarded-For": f"10.9.9.{n}, 203.0.113.77"}
            assert (await try_ask(proxy, world.slug, token, forged)).status_code == 303
        forged = {"X-Forwarded-For": "10.9.9.99, 203.0.113.77"}
        assert (await try_ask(proxy, world.slug, token, forged)).status_code == 429


@dataclasses.dataclass
class _Client:
    host: str


@dataclasses.dataclass
class _Connection:
    client: _Client | None
    headers: Headers


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "expected"),
    [
        ("192.0.2.1", ["203.0.113.5"], (), "192.0.2.1"),
        ("10.0.0.2", ["203.0.113.5"], ("10.0.0.0/8",), "203.0.113.5"),
        ("10.0.0.2", ["6.6.6.6, 203.0.113.5"], ("10.0.0.0/8",), "203.0.113.5"),
        ("10.0.0.2", ["6.6.6.6, 203.0.113.5, 10.0.0.3"], ("10.0.0.0/8",), "203.0.113.5"),
        ("10.0.0.2", ["6.6.6.6", "203.0.113.5:4711"], ("10.0.0.0/8",), "203.0.113.5"),
        ("10.0.0.2", ["[2001:db8::7]:443"], ("10.0.0.0/8",), "2001:db8::7"),
        ("10.0.0.2", ["10.0.0.9, 10.0.0.3"], ("10.0.0.0/8",), "10.0.0.9"),
        ("10.0.0.2", [], ("10.0.0.0/8",), "10.0.0.2"),
        ("::1", ["203.0.113.5"], ("127.0.0.1",), "::1"),
    ],
)
def test_the_client_is_the_first_address_a_trusted_proxy_did_not_write(
    peer: str, forwarded: list[str], trusted: tuple[str, ...], expected: str
) -> None:
    headers = Headers([(b"x-forwarded-for", value.encode()) for value in forwarded])
    connection: Any = _Connection(_Client(peer), headers)
    networks = Settings(trusted_proxies=trusted).trusted_networks
    assert client_address(connection, networks) == expected


def test_a_trusted_proxy_that_is_not_an_address_is_refused_at_start() -> None:
    with pytest.raises(SettingsError, match="TRUSTED_PROXIES"):
        Settings.from_env({"COMMONPURSE_TRUSTED_PROXIES": "127.0.0.1, proxy.local"})
    assert Settings.from_env(
        {"COMMONPURSE_TRUSTED_PROXIES": " 10.0.0.0/8 ,::1"}
    ).trusted_proxies == (
        "10.0.0.0/8",
        "::1",
    )


@pytest.mark.parametrize(
    ("trusted", "proxy_headers", "allowed"),
    [("", False, ""), ("127.0.0.1,10.1.0.0/16", True, "127.0.0.1/32,10.1.0.0/16")],
)
def test_serve_lets_uvicorn_trust_only_the_configured_proxies(
    monkeypatch: pytest.MonkeyPatch,
    settings: Settings,
    trusted: str,
    proxy_headers: bool,
    allowed: str,
) -> None:
    import uvicorn

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: seen.update(kwargs))
    result = CliRunner().invoke(
        main,
        ["serve"],
        env={
            # A migrated database: serve refuses one without this version's schema.
            "COMMONPURSE_DATABASE_URL": settings.database_url,
            "COMMONPURSE_SECRET_KEY": "s" * 40,
            "COMMONPURSE_TRUSTED_PROXIES": trusted,
        },
    )
    assert result.exit_code == 0, result.output
    assert seen["proxy_headers"] is proxy_headers
    assert seen["forwarded_allow_ips"] == allowed


async def test_counters_past_their_window_start_again_and_are_swept(
    settings: Settings, session: AsyncSession
) -> None:
    limiter = limits.Limiter.of(settings)
    limit = limits.Limit("test", 2, timedelta(minutes=1))
    from ledger.groups import utcnow

    now = utcnow()
    hits = [(await limiter.hit(session, now, (limit, "x")))[0].hits for _ in range(3)]
    assert hits == [1, 2, 3]
    later = now + timedelta(minutes=2)
    (fresh,) = await limiter.hit(session, later, (limit, "x"))
    assert (fresh.hits, fresh.exceeded, fresh.resets_at) == (1, False, later + limit.window)
    assert await limits.sweep(session, later + timedelta(minutes=5)) == 1
    await session.commit()


async def test_a_slowed_login_steps_out_of_the_sqlite_writers_turn_meanwhile() -> None:
    """Other writers of the process go on while a slowed login waits (no deadlock), and a
    wait cut short (the client went away) leaves the turn released exactly once."""
    from app.db import WriterTurn

    lock = asyncio.Lock()
    async with WriterTurn(lock) as turn, turn.stepped_out(), asyncio.timeout(1), WriterTurn(lock):
        pass  # another request's turn, while the first one waits
    assert not lock.locked()

    async def slowed() -> None:
        async with WriterTurn(lock) as turn, turn.stepped_out():
            await asyncio.sleep(10)

    waiting = asyncio.create_task(slowed())
    await asyncio.sleep(0.01)
    async with lock:  # the slowed request stepped out: the turn is free
        waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert not lock.locked()
