"""Logging in and out with server-side sessions: cookies, new ids, rate limits, CSRF.

The helpers here (``give_password``, ``log_in``, ``csrf_of``, ``browser``) are used by the
other page tests as well.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.asgi import create_app
from app.auth import hash_password, token_digest
from app.limits import LOGIN_PER_ACCOUNT_AND_ADDRESS, LOGIN_PER_ADDRESS
from app.models import RateCounter, WebSession
from app.settings import Settings
from ledger.models import User
from tests.support.clients import (
    BASE_URL,
    PASSWORD,
    browser,
    form_token,
    give_password,
    log_in,
    post_form,
)
from tests.support.people import World

Client = AsyncTestClient[Litestar]


async def test_login_sets_a_strict_session_cookie_and_keeps_it_on_the_server(
    client: Client, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.member)
    page = await client.get("/login")
    assert page.status_code == 200
    assert 'autocomplete="current-password"' in page.text
    response = await log_in(client, world.member, next_path="/m/rent-fund")
    assert response.headers["location"] == "/m/rent-fund"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("cp_session="))
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "path", "samesite", "max-age"} <= attributes
    assert "samesite=lax" in cookie.lower()
    assert "secure" not in attributes  # the instance's base URL is http
    token = cookie.split(";")[0].split("=", 1)[1]
    stored = await session.scalars(select(WebSession.token_hash))
    assert list(stored) == [token_digest(token)]  # only the digest is kept
    assert (await client.get("/m")).status_code == 200
    me = await client.get("/api/me")
    assert me.json()["email"] == world.member.user.email


async def test_login_gives_a_new_session_id_and_ends_the_old_one(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.member)
    async with browser(settings, world.member) as client:
        first = client.cookies["cp_session"]
        await log_in(client, world.member)
        second = client.cookies["cp_session"]
        assert first != second
    async with browser(settings) as stranger:
        stranger.cookies.set("cp_session", first)
        assert (await stranger.get("/api/me")).status_code == 401
        stranger.cookies.set("cp_session", second)
        assert (await stranger.get("/api/me")).status_code == 200


async def test_session_cookie_is_secure_when_the_instance_is_served_over_https(
    settings: Settings, world: World, session: AsyncSession, tmp_path: Path
) -> None:
    await give_password(session, world.member)
    https = Settings(
        database_url=settings.database_url,
        secret_key=settings.secret_key,
        # Another host, so another key: a key file holds one host's key.
        signing_key_file=tmp_path / "signing-key.pem",
        base_url="https://purse.example.org",
    )
    async with AsyncTestClient(app=create_app(https), base_url="https://purse.example.org") as c:
        token = await form_token(c, "/login")
        response = await c.post(
            "/login",
            data={"_csrf_token": token, "email": world.member.user.email, "password": PASSWORD},
            follow_redirects=False,
        )
        assert response.status_code == 303
        cookie = next(
            v
            for v in response.headers.get_list("set-cookie")
            if "cp_session=" in v and "Max-Age=0" not in v
        )
        assert cookie.startswith("__Host-cp_session=")
        assert "Secure" in cookie
        assert "HttpOnly" in cookie
        assert "Strict-Transport-Security" in response.headers


async def test_wrong_password_is_refused_with_a_clear_message_and_the_email_kept(
    client: Client, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.member)
    response = await post_form(
        client, "/login", {"email": world.member.user.email, "password": "not the password"}
    )
    assert response.status_code == 400
    assert "The e-mail address or the password is not right." in response.text
    assert f'value="{world.member.user.email}"' in response.text
    assert "not the password" not in response.text
    assert "cp_session" not in client.cookies
    unknown = await post_form(client, "/login", {"email": "nobody@example.org", "password": "x"})
    assert unknown.status_code == 400
    assert "The e-mail address or the password is not right." in unknown.text
    empty = await post_form(client, "/login", {"email": "", "password": ""})
    assert empty.status_code == 400
    assert "Enter your e-mail address." in empty.text
    assert "Enter your password." in empty.text


async def test_failed_logins_are_rate_limited_per_account_and_address(
    client: Client, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.member)
    for _ in range(LOGIN_PER_ACCOUNT_AND_ADDRESS.most):
        failed = await post_form(
            client, "/login", {"email": world.member.user.email, "password": "guess"}
        )
        assert failed.status_code == 400
    refused = await post_form(
        client, "/login", {"email": world.member.user.email, "password": PASSWORD}
    )
    assert refused.status_code == 429
    assert "Too many failed attempts to log in" in refused.text
    assert "wait 15 minutes" in refused.text
    assert int(refused.headers["retry-after"]) > 800
    assert "cp_session" not in client.cookies
    # Another person's login from the same address still works.
    await give_password(session, world.steward)
    await log_in(client, world.steward)
    # Attempts are counted under keyed digests, never the e-mail or the address itself.
    keys = "".join(await session.scalars(select(RateCounter.key)))
    assert world.member.user.email not in keys
    assert "testclient" not in keys


async def test_failed_logins_are_rate_limited_per_address(
    client: Client, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.member)
    for i in range(LOGIN_PER_ADDRESS.most):
        failed = await post_form(
            client, "/login", {"email": f"guess-{i}@example.org", "password": "guess"}
        )
        assert failed.status_code == 400
    refused = await post_form(
        client, "/login", {"email": world.member.user.email, "password": PASSWORD}
    )
    assert refused.status_code == 429
    assert "Too many failed attempts" in refused.text


async def test_old_failures_no_longer_count(
    client: Client, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.member)
    for _ in range(LOGIN_PER_ACCOUNT_AND_ADDRESS.most + 1):
        await post_form(client, "/login", {"email": world.member.user.email, "password": "x"})
    # Refused first, even with the right password: the limit was reached...
    refused = await post_form(
        client, "/login", {"email": world.member.user.email, "password": PASSWORD}
    )
    assert refused.status_code == 429
    # ... and once the window has passed, the failures no longer count.
    for counter in await session.scalars(select(RateCounter)):
        counter.started_at -= timedelta(minutes=16)
        counter.expires_at -= timedelta(minutes=16)
    await session.commit()
    await log_in(client, world.member)


async def test_logout_ends_the_session_everywhere(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.member)
    async with browser(settings, world.member) as client:
        token = client.cookies["cp_session"]
        response = await post_form(client, "/logout", {}, form_url="/m")
        assert response.status_code == 303
        assert response.headers["location"] == "/"
        assert any(
            "cp_session=" in c and "Max-Age=0" in c for c in response.headers.get_list("set-cookie")
        )
        count = await session.scalar(select(func.count()).select_from(WebSession))
        assert count == 0
        gone = await client.get("/m", follow_redirects=False)
        assert gone.status_code == 303
    async with browser(settings) as replay:
        replay.cookies.set("cp_session", token)
        assert (await replay.get("/api/me")).status_code == 401


async def test_login_and_logout_without_a_csrf_token_are_refused(
    settings: Settings, client: Client, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.member)
    await client.get("/login")
    refused = await client.post(
        "/login",
        data={"email": world.member.user.email, "password": PASSWORD},
        headers={"Accept": "text/html"},
    )
    assert refused.status_code == 403
    assert "cp_session" not in client.cookies
    async with browser(settings, world.member) as member:
        await member.get("/m")
        kept = await member.post("/logout", data={}, follow_redirects=False)
        assert kept.status_code == 403
        assert (await member.get("/m", follow_redirects=False)).status_code == 200


async def test_login_only_follows_paths_on_this_site(
    client: Client, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.member)
    for target in ("//evil.example/steal", "https://evil.example/", "/\\evil.example", "m"):
        response = await post_form(
            client,
            "/login",
            {"email": world.member.user.email, "password": PASSWORD, "next": target},
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/m"


async def test_pages_ask_anonymous_visitors_to_log_in(client: Client, world: World) -> None:
    for path in ("/m", "/m/rent-fund", "/m/rent-fund/record/donation", "/m/rent-fund/members"):
        response = await client.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login?next=")
    landed = await client.get("/m/rent-fund/record/donation")
    assert landed.url.path == "/login"
    assert 'name="next" value="/m/rent-fund/record/donation"' in landed.text


async def test_the_login_page_says_what_members_do_here_now(client: Client) -> None:
    page = await client.get("/login")
    assert page.status_code == 200
    assert "soon" not in page.text  # deciding together is here, not promised
    assert "propose and decide together" in page.text


async def test_a_session_cookie_api_write_needs_the_csrf_header_and_a_bearer_token_does_not(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.steward)
    body = {"kind": "donation", "fund": "groceries", "amount": "5.00"}
    url = f"/api/groups/{world.slug}/entries"
    async with browser(settings, world.steward) as client:
        refused = await client.post(url, json=body)
        assert refused.status_code == 403
        token = await form_token(client, "/m")
        accepted = await client.post(url, json=body, headers={"X-CSRFToken": token})
        assert accepted.status_code == 201, accepted.text
        # With a bearer token the cookie is ignored, and no CSRF token is needed.
        scripted = await client.post(url, json=body, headers=world.steward.headers)
        assert scripted.status_code == 201, scripted.text
    async with browser(settings) as script:
        plain = await script.post(url, json=body, headers=world.steward.headers)
        assert plain.status_code == 201
        anonymous = await script.post(url, json=body)
        assert anonymous.status_code == 401  # no credentials: nothing for CSRF to protect


async def test_an_expired_session_is_anonymous(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.member)
    async with browser(settings, world.member) as client:
        row = (await session.scalars(select(WebSession))).one()
        row.expires_at -= timedelta(days=30)
        await session.commit()
        assert (await client.get("/api/me")).status_code == 401
        assert (await client.get("/m", follow_redirects=False)).status_code == 303


async def test_a_password_hashed_with_the_apps_own_strong_parameters_logs_in(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    """The other tests' people have light hashes (see ``_PASSWORD_HASH``); the app's own
    hashes are Argon2id with its library's strong defaults, and they log in the same way."""
    strong = hash_password(PASSWORD)
    assert strong.startswith("$argon2id$")
    assert "m=65536,t=3" in strong
    user = await session.get(User, world.member.user.id)
    assert user is not None
    user.password_hash = strong
    await session.commit()
    async with AsyncTestClient(app=create_app(settings), base_url=BASE_URL) as client:
        token = await form_token(client, "/login")
        response = await client.post(
            "/login",
            data={"_csrf_token": token, "email": world.member.user.email, "password": PASSWORD},
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
