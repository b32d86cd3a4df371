"""Security headers on every response, and CSRF where a browser's cookie could be abused.

CSRF (Litestar's ``CSRFMiddleware``, a signed double-submit cookie) guards every unsafe
request that a browser's ambient credentials could carry: the pages' forms (logged in or
not: the login form too) and API requests authenticated by the session cookie (they send
the token in the ``X-CSRFToken`` header). It does not apply to

- requests with an ``Authorization`` header: bearer tokens are not sent by browsers on
  their own, so a forged request cannot carry one (``authenticate`` then ignores cookies);
- API requests without a session cookie: they carry no credentials to abuse;
- safe requests of pages marked ``cookie_free`` (public pages) from visitors without a
  session: they leave without a cookie, so reading a group's books sets none.
"""

from __future__ import annotations

from typing import Any

from litestar.config.csrf import CSRFConfig
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.middleware.csrf import CSRFMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from app.auth import session_cookie_name, uses_https
from app.settings import Settings
from app.web.templating import CSRF_COOKIE

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Paths that never need the CSRF cookie on a safe request.
_NO_COOKIE_PREFIXES = ("/api/", "/static/", "/schema", "/health", "/.well-known/", "/witness/")
COOKIE_FREE = "cookie_free"

# No inline script or style anywhere; our pages use only their own stylesheet.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)


def csrf_config(settings: Settings) -> CSRFConfig:
    return CSRFConfig(
        secret=settings.resolved_secret_key(),
        cookie_name=CSRF_COOKIE,
        header_name="x-csrftoken",
        cookie_secure=uses_https(settings),
        cookie_httponly=True,
        cookie_samesite="lax",
    )


class CSRFUnlessBearer:
    """``CSRFMiddleware`` for requests that a browser's cookies could make (see above)."""

    def __init__(self, app: ASGIApp, config: CSRFConfig, session_cookie: str) -> None:
        self.app = app
        self.protected = CSRFMiddleware(app=app, config=config)
        self.session_cookie = session_cookie.encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or not self._needs_csrf(scope):
            await self.app(scope, receive, send)
            return
        await self.protected(scope, receive, send)

    def _needs_csrf(self, scope: Scope) -> bool:
        headers = dict(scope["headers"])
        if b"authorization" in headers:
            return False
        if self.session_cookie in _cookie_names(headers.get(b"cookie", b"")):
            return True
        path: str = scope["path"]
        # The API, and the witness protocol that other logs' servers call without cookies.
        if path.startswith(("/api/", "/witness/")):
            return False
        if scope.get("method", "GET") in SAFE_METHODS:
            handler = scope.get("route_handler")
            opt: dict[str, Any] = getattr(handler, "opt", {}) or {}
            return not (path.startswith(_NO_COOKIE_PREFIXES) or opt.get(COOKIE_FREE))
        return True


def _cookie_names(header: bytes) -> set[bytes]:
    return {part.split(b"=", 1)[0].strip() for part in header.split(b";")}


def csrf_middleware(settings: Settings) -> Any:
    """The middleware as Litestar's ``middleware`` list takes it."""
    from litestar.middleware import DefineMiddleware

    return DefineMiddleware(
        CSRFUnlessBearer, config=csrf_config(settings), session_cookie=session_cookie_name(settings)
    )


def security_headers(settings: Settings) -> Any:
    """A ``before_send`` hook: the same headers on every response, errors and 404s too."""
    strict_transport = uses_https(settings)

    async def add_headers(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        headers = MutableScopeHeaders.from_message(message)
        path: str = scope.get("path", "")
        # Every page, the API reference (``/schema``) included, is our own: one policy.
        if "content-security-policy" not in headers:
            headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        headers["X-Content-Type-Options"] = "nosniff"
        if "referrer-policy" not in headers:  # a page may ask for less (no-referrer)
            headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
        headers["X-Frame-Options"] = "DENY"
        headers["Cross-Origin-Opener-Policy"] = "same-origin"
        headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()"
        if strict_transport:
            headers["Strict-Transport-Security"] = "max-age=31536000"
        if headers.get("content-type", "").startswith("text/html"):
            # A page is in the visitor's language (their browser's, or the picker's cookie).
            vary = headers.get("vary")
            headers["Vary"] = (
                f"{vary}, Accept-Language, Cookie" if vary else "Accept-Language, Cookie"
            )
        members_page = path in ("/m", "/login") or path.startswith("/m/")
        if members_page and "cache-control" not in headers:
            # Members' pages show names and roles: never kept by a shared cache.
            headers["Cache-Control"] = "no-store"

    return add_headers
