"""Who may call what: every route of the app, every kind of caller, public and private groups.

``ROUTES`` classifies every route the app serves; ``test_every_route_is_classified`` fails as
soon as a route exists that the table does not name, so a new route cannot ship unguarded
by accident. For each route, every caller gets exactly the answer the classification says:

- anonymous callers get 401 wherever a login is needed;
- a token that is not valid gets 401 on every guarded route (never a silent anonymous);
- a logged-in caller without the role gets 403, or 404 when the group is private and they
  are not a member (a private group's existence does not leak);
- the public-read routes of a public group answer anyone; a private group's answer 404 to
  anyone who is not a member;
- a caller with the role gets through the guard (a probe that is harmless: reads, or bodies
  the validation refuses, or removing the last admin, which is refused).

Roles (CONTRACT section 3): every role implies ``member``; ``admin`` implies every role;
``steward`` and ``facilitator`` do not imply each other.

The requests of one engine share one database (they change nothing), so the whole matrix
runs in seconds.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.asgi import create_app
from app.db import create_engine, create_session_maker
from app.models import ApiToken
from app.settings import Settings
from ledger import groups
from tests.support.clients import browser, give_password
from tests.support.people import Person, World, ask_for_support, build_world, make_person
from tests.support.routes import PATH_PARAMETER, app_routes

pytestmark = pytest.mark.asyncio(loop_scope="module")

Client = AsyncTestClient[Litestar]
PROBLEM = "application/problem+json"

# --- the classification ----------------------------------------------------------------


@dataclass(frozen=True)
class Access:
    """Who may call a route: ``anyone``, any ``logged-in`` user, ``public-read`` (anyone for
    a public group, its members for a private one), or the group's members holding any of
    ``roles``."""

    kind: str
    roles: frozenset[str] = frozenset()

    def __str__(self) -> str:
        return f"{self.kind} {' or '.join(sorted(self.roles))}".strip()


def holding(*roles: str) -> Access:
    return Access("members holding", frozenset(roles))


ANYONE = Access("anyone")
# Anyone, where the group takes requests for support (public groups; private ones that
# switched it on): elsewhere the form does not exist (404), whoever asks.
WHERE_ASKING_IS_OPEN = Access("anyone where asking is open")
LOGGED_IN = Access("logged-in")
PUBLIC_READ = Access("public-read")
MEMBER = holding("member")
STEWARD = holding("steward")
FACILITATOR = holding("facilitator")
STEWARD_OR_FACILITATOR = holding("steward", "facilitator")
ADMIN = holding("admin")


@dataclass(frozen=True)
class Route:
    """A route's access and a harmless probe: what a caller who may use the route sends and
    gets (a read, a body the validation refuses, or an action the ledger refuses)."""

    access: Access
    query: str = ""
    body: Any = None
    allowed: int = 200
    # An HTML page: an anonymous visitor is sent to log in (303), and a form (an unsafe
    # method) without a bearer token needs a CSRF token first (403).
    page: bool = False
    # Callers who get another answer than ``allowed`` by design.
    overrides: dict[str, int] = field(default_factory=dict)
    # Path parameters other than the usual samples (see ``url_of``).
    params: dict[str, str] = field(default_factory=dict)


# Every (method, path) the app serves, as Litestar names it; OPTIONS is Litestar's own.
ROUTES: dict[tuple[str, str], Route] = {
    # The instance.
    ("GET", "/health"): Route(ANYONE),
    ("GET", "/schema"): Route(ANYONE),
    ("GET", "/schema/openapi.json"): Route(ANYONE),
    # Litestar's answer for schema pages that do not exist: a 404 to everyone alike.
    ("GET", "/schema/{path:str}"): Route(ANYONE, allowed=404),
    ("GET", "/.well-known/commonpurse-key"): Route(ANYONE),
    # People and groups.
    ("GET", "/api/me"): Route(LOGGED_IN),
    ("GET", "/api/me/notifications"): Route(LOGGED_IN),
    ("POST", "/api/me/notifications/read"): Route(LOGGED_IN, allowed=204),
    # Nobody's notification 999999: a logged-in caller learns only that it is not theirs.
    ("POST", "/api/me/notifications/{notification_id:int}/read"): Route(
        LOGGED_IN, allowed=404, params={"notification_id": "999999"}
    ),
    ("POST", "/api/groups"): Route(LOGGED_IN, body={}, allowed=422),
    ("GET", "/api/groups/{group:str}"): Route(MEMBER),
    ("GET", "/api/groups/{group:str}/members"): Route(MEMBER),
    ("POST", "/api/groups/{group:str}/members"): Route(ADMIN, body={}, allowed=422),
    # The probe removes the group's only admin, which is refused.
    ("DELETE", "/api/groups/{group:str}/members/{member_id:int}"): Route(ADMIN, allowed=409),
    ("DELETE", "/api/groups/{group:str}/members/{member_id:int}/personal-data"): Route(
        ADMIN, allowed=204
    ),
    # Invites: the probes send a duration out of range, or revoke an invite that is not.
    ("POST", "/api/groups/{group:str}/invites"): Route(
        ADMIN, body={"expires_in_days": 0}, allowed=422
    ),
    ("GET", "/api/groups/{group:str}/invites"): Route(ADMIN),
    ("DELETE", "/api/groups/{group:str}/invites/{invite_id:int}"): Route(
        ADMIN, allowed=404, params={"invite_id": "999999"}
    ),
    # The ledger.
    ("GET", "/api/groups/{group:str}/funds"): Route(PUBLIC_READ),
    ("POST", "/api/groups/{group:str}/funds"): Route(STEWARD, body={}, allowed=422),
    ("PATCH", "/api/groups/{group:str}/funds/{fund:str}"): Route(
        STEWARD, body={}, allowed=422, params={"fund": "rent-relief"}
    ),
    ("GET", "/api/groups/{group:str}/places"): Route(PUBLIC_READ),
    ("POST", "/api/groups/{group:str}/places"): Route(STEWARD, body={}, allowed=422),
    ("PATCH", "/api/groups/{group:str}/places/{place:str}"): Route(
        STEWARD, body={}, allowed=422, params={"place": "bank"}
    ),
    # A place's statements name people: stewards only. The probes name no statement.
    ("POST", "/api/groups/{group:str}/places/{place:str}/statements"): Route(
        STEWARD, allowed=422, params={"place": "bank", "statement": "999999", "line": "1"}
    ),
    ("GET", "/api/groups/{group:str}/places/{place:str}/statements"): Route(
        STEWARD, params={"place": "bank", "statement": "999999", "line": "1"}
    ),
    ("GET", "/api/groups/{group:str}/places/{place:str}/statements/{statement:int}/lines"): Route(
        STEWARD, allowed=404, params={"place": "bank", "statement": "999999", "line": "1"}
    ),
    (
        "POST",
        "/api/groups/{group:str}/places/{place:str}/statements/{statement:int}/lines/{line:int}/match",
    ): Route(
        STEWARD, body={}, allowed=422, params={"place": "bank", "statement": "999999", "line": "1"}
    ),
    ("DELETE", "/api/groups/{group:str}/places/{place:str}/statements/{statement:int}"): Route(
        STEWARD, allowed=404, params={"place": "bank", "statement": "999999"}
    ),
    (
        "DELETE",
        "/api/groups/{group:str}/places/{place:str}/statements/{statement:int}/lines/{line:int}/match",
    ): Route(STEWARD, allowed=404, params={"place": "bank", "statement": "999999", "line": "1"}),
    (
        "POST",
        "/api/groups/{group:str}/places/{place:str}/statements/{statement:int}/lines/{line:int}/reject",
    ): Route(
        STEWARD, body={}, allowed=422, params={"place": "bank", "statement": "999999", "line": "1"}
    ),
    (
        "DELETE",
        "/api/groups/{group:str}/places/{place:str}/statements/{statement:int}/lines/{line:int}"
        "/rejections/{entry:int}",
    ): Route(
        STEWARD,
        allowed=404,
        params={"place": "bank", "statement": "999999", "line": "1", "entry": "1"},
    ),
    (
        "POST",
        "/api/groups/{group:str}/places/{place:str}/statements/{statement:int}/lines/{line:int}/donation",
    ): Route(
        STEWARD, body={}, allowed=422, params={"place": "bank", "statement": "999999", "line": "1"}
    ),
    # Reconciliations are leaves of the log: public to read, closed by stewards.
    ("POST", "/api/groups/{group:str}/places/{place:str}/reconciliations"): Route(
        STEWARD, body={}, allowed=422, params={"place": "bank"}
    ),
    ("GET", "/api/groups/{group:str}/places/{place:str}/reconciliations"): Route(
        PUBLIC_READ, params={"place": "bank"}
    ),
    ("GET", "/api/groups/{group:str}/places/{place:str}/statement-settings"): Route(
        STEWARD, params={"place": "bank", "statement": "999999", "line": "1"}
    ),
    ("PUT", "/api/groups/{group:str}/places/{place:str}/statement-settings"): Route(
        STEWARD,
        body={"match_window_days": -1},
        allowed=422,
        params={"place": "bank", "statement": "999999", "line": "1"},
    ),
    ("GET", "/api/groups/{group:str}/entries"): Route(PUBLIC_READ),
    ("POST", "/api/groups/{group:str}/entries"): Route(STEWARD, body={}, allowed=422),
    ("GET", "/api/groups/{group:str}/entries/{seq:int}"): Route(PUBLIC_READ),
    ("GET", "/api/groups/{group:str}/verify"): Route(PUBLIC_READ),
    ("GET", "/api/groups/{group:str}/export.csv"): Route(PUBLIC_READ),
    ("GET", "/api/groups/{group:str}/export.json"): Route(PUBLIC_READ),
    ("GET", "/api/groups/{group:str}/export.jsonl"): Route(PUBLIC_READ),
    ("GET", "/api/groups/{group:str}/export.journal"): Route(PUBLIC_READ),
    ("GET", "/api/groups/{group:str}/export.beancount"): Route(PUBLIC_READ),
    ("GET", "/api/groups/{group:str}/export.zip"): Route(PUBLIC_READ),
    # The log.
    ("GET", "/api/groups/{group:str}/checkpoint"): Route(PUBLIC_READ),
    ("GET", "/api/groups/{group:str}/entries/{seq:int}/proof"): Route(PUBLIC_READ),
    # Receipts: the probe sends no file (422); the entry has none to read (404).
    ("POST", "/api/groups/{group:str}/entries/{seq:int}/attachments"): Route(STEWARD, allowed=422),
    ("GET", "/api/groups/{group:str}/entries/{seq:int}/attachments"): Route(PUBLIC_READ),
    ("GET", "/api/groups/{group:str}/entries/{seq:int}/attachments/{sha256:str}"): Route(
        PUBLIC_READ, allowed=404, params={"sha256": "0" * 64}
    ),
    # A claim: the probe sends no form at all (422).
    ("POST", "/api/groups/{group:str}/claims"): Route(MEMBER, allowed=422),
    ("GET", "/api/groups/{group:str}/claims"): Route(MEMBER),
    ("GET", "/api/groups/{group:str}/receipt-settings"): Route(MEMBER),
    # The probe sends an empty body, which the validation refuses.
    ("PUT", "/api/groups/{group:str}/receipt-settings"): Route(ADMIN, body={}, allowed=422),
    ("GET", "/api/groups/{group:str}/consistency"): Route(PUBLIC_READ, query="from=1&to=1"),
    # The witnesses the group's log asks (admins); the probe sends an empty body.
    ("GET", "/api/groups/{group:str}/witnesses"): Route(ADMIN),
    ("POST", "/api/groups/{group:str}/witnesses"): Route(ADMIN, body={}, allowed=422),
    # The log as tiles (C2SP tlog-tiles).
    ("GET", "/g/{group:str}/log/checkpoint"): Route(PUBLIC_READ),
    ("GET", "/g/{group:str}/log/tile/{tile:path}"): Route(
        PUBLIC_READ, params={"tile": "0/000.p/1"}
    ),
    # This instance as a witness (C2SP tlog-witness): anyone may submit a checkpoint, which
    # is judged by its signatures; an empty body is malformed, and nothing was cosigned.
    ("POST", "/witness/add-checkpoint"): Route(ANYONE, allowed=400),
    ("GET", "/witness/{origin_hash:str}/checkpoint"): Route(
        ANYONE, allowed=404, params={"origin_hash": "0" * 64}
    ),
    # Decisions. Proposal 1 is open and was opened just now.
    ("GET", "/api/groups/{group:str}/proposals"): Route(PUBLIC_READ),
    ("POST", "/api/groups/{group:str}/proposals"): Route(MEMBER, body={}, allowed=422),
    ("GET", "/api/groups/{group:str}/policies"): Route(PUBLIC_READ),
    ("GET", "/api/groups/{group:str}/proposals/{number:int}"): Route(PUBLIC_READ),
    ("POST", "/api/groups/{group:str}/proposals/{number:int}/responses"): Route(
        MEMBER, body={}, allowed=422
    ),
    ("POST", "/api/groups/{group:str}/proposals/{number:int}/amendments"): Route(
        MEMBER, body={}, allowed=422
    ),
    # Too early to close: the round opened just now and few responded.
    ("POST", "/api/groups/{group:str}/proposals/{number:int}/close"): Route(
        FACILITATOR, allowed=409
    ),
    # Only the author may withdraw, which the service checks: probe a proposal that is not.
    ("POST", "/api/groups/{group:str}/proposals/{number:int}/withdraw"): Route(
        MEMBER, allowed=404, params={"number": "999"}
    ),
    # The discussion. Members write; a facilitator hides (probes refused by validation). The
    # stage's groups keep their discussions for members (the default); a group that makes
    # them public lets anyone who reads its proposals read them (tests/http/test_discussion).
    ("POST", "/api/groups/{group:str}/proposals/{number:int}/comments"): Route(
        MEMBER, body={}, allowed=422
    ),
    ("GET", "/api/groups/{group:str}/proposals/{number:int}/comments"): Route(MEMBER),
    ("PATCH", "/api/groups/{group:str}/proposals/{number:int}/comments/{comment_id:int}"): Route(
        MEMBER, body={}, allowed=422
    ),
    ("POST", "/api/groups/{group:str}/proposals/{number:int}/comments/{comment_id:int}/hide"): (
        Route(FACILITATOR, body={}, allowed=422)
    ),
    # Reminding is not harmless: probe a proposal that does not exist.
    ("POST", "/api/groups/{group:str}/proposals/{number:int}/reminders"): Route(
        FACILITATOR, allowed=404, params={"number": "999"}
    ),
    ("GET", "/api/groups/{group:str}/rules"): Route(ADMIN),
    ("PUT", "/api/groups/{group:str}/rules"): Route(ADMIN, body={"unknown": 1}, allowed=422),
    ("GET", "/api/groups/{group:str}/giving"): Route(PUBLIC_READ),
    ("PUT", "/api/groups/{group:str}/giving"): Route(ADMIN, body={"unknown": 1}, allowed=422),
    ("PUT", "/api/groups/{group:str}/entries/{seq:int}/thanks"): Route(
        STEWARD, body={}, allowed=422
    ),
    ("DELETE", "/api/groups/{group:str}/entries/{seq:int}/thanks"): Route(STEWARD, allowed=404),
    # Requests for support. Request 1 was just received.
    ("GET", "/api/groups/{group:str}/requests"): Route(STEWARD_OR_FACILITATOR),
    ("GET", "/api/groups/{group:str}/requests/{request_id:int}"): Route(STEWARD_OR_FACILITATOR),
    ("GET", "/api/groups/{group:str}/requests/{request_id:int}/reads"): Route(
        STEWARD_OR_FACILITATOR
    ),
    ("POST", "/api/groups/{group:str}/requests/{request_id:int}/notes"): Route(
        STEWARD_OR_FACILITATOR, body={}, allowed=422
    ),
    ("POST", "/api/groups/{group:str}/requests/{request_id:int}/propose"): Route(
        STEWARD, body={}, allowed=422
    ),
    ("POST", "/api/groups/{group:str}/requests/{request_id:int}/decline"): Route(
        STEWARD_OR_FACILITATOR, body={"unknown": 1}, allowed=422
    ),
    # Nothing was paid for request 1 yet: refused.
    ("POST", "/api/groups/{group:str}/requests/{request_id:int}/paid"): Route(STEWARD, allowed=409),
    # Request 1 is in the queue, not held: releasing it is refused, and clearing the held
    # requests finds none to discard.
    ("POST", "/api/groups/{group:str}/requests/{request_id:int}/release"): Route(
        STEWARD_OR_FACILITATOR, allowed=409
    ),
    ("POST", "/api/groups/{group:str}/requests/held/clear"): Route(STEWARD_OR_FACILITATOR),
    # Erasing is for real: probe a request that does not exist.
    ("DELETE", "/api/groups/{group:str}/requests/{request_id:int}/personal-data"): Route(
        STEWARD_OR_FACILITATOR, allowed=404, params={"request_id": "999"}
    ),
    ("GET", "/api/groups/{group:str}/support-settings"): Route(MEMBER),
    ("PUT", "/api/groups/{group:str}/support-settings"): Route(
        ADMIN, body={"unknown": 1}, allowed=422
    ),
    ("PUT", "/api/groups/{group:str}/notifications"): Route(MEMBER, body={}, allowed=422),
    # The public pages.
    ("GET", "/"): Route(ANYONE),
    # The language picker: remembers the choice and goes back (303).
    ("GET", "/language"): Route(ANYONE, query="to=es&next=/", allowed=303),
    ("GET", "/static/{file_path:path}"): Route(ANYONE),
    ("HEAD", "/static/{file_path:path}"): Route(ANYONE),
    ("GET", "/g/{group:str}"): Route(PUBLIC_READ),
    ("GET", "/g/{group:str}/ledger"): Route(PUBLIC_READ),
    ("GET", "/g/{group:str}/feed.atom"): Route(PUBLIC_READ),
    ("GET", "/g/{group:str}/follow"): Route(PUBLIC_READ),
    ("GET", "/g/{group:str}/give"): Route(PUBLIC_READ),
    ("GET", "/g/{group:str}/proposals"): Route(PUBLIC_READ),
    # The probe's group adopted no policy: past the guard, a 404.
    ("GET", "/g/{group:str}/policies/{number:int}"): Route(PUBLIC_READ, allowed=404),
    # A proposal's page (the probe); ``1.pdf`` on the same route is its decision record.
    ("GET", "/g/{group:str}/proposals/{number:str}"): Route(PUBLIC_READ),
    # Asking for support (no login; the private group has not switched its form on).
    ("GET", "/g/{group:str}/ask"): Route(WHERE_ASKING_IS_OPEN),
    # The probe's form is empty: refused, nothing is kept.
    ("POST", "/g/{group:str}/ask"): Route(WHERE_ASKING_IS_OPEN, page=True, allowed=422),
    ("GET", "/g/{group:str}/ask/{reference:str}"): Route(WHERE_ASKING_IS_OPEN),
    # The person's own actions on their status page: the probe's empty form is refused
    # (422) before anything is looked up, and changes nothing.
    ("POST", "/g/{group:str}/ask/{reference:str}/add"): Route(
        WHERE_ASKING_IS_OPEN, page=True, allowed=422
    ),
    ("POST", "/g/{group:str}/ask/{reference:str}/withdraw"): Route(
        WHERE_ASKING_IS_OPEN, page=True, allowed=422
    ),
    ("POST", "/g/{group:str}/ask/{reference:str}/erase"): Route(
        WHERE_ASKING_IS_OPEN, page=True, allowed=422
    ),
    ("POST", "/g/{group:str}/ask/{reference:str}/follow"): Route(
        WHERE_ASKING_IS_OPEN, page=True, allowed=422
    ),
    # Documents. Printing takes long: the probes are refused before any printing starts.
    ("GET", "/g/{group:str}/audit.pdf"): Route(PUBLIC_READ, query="from=2025-02-30", allowed=422),
    # (Entry 0 names nothing: 404, as a private group is to those outside it.)
    ("GET", "/g/{group:str}/entries/{seq:int}/receipt.pdf"): Route(
        PUBLIC_READ, allowed=404, params={"seq": "0"}
    ),
    # Logging in and out: the probes send no form, which is refused.
    # Whoever is logged in already is sent on.
    ("GET", "/login"): Route(ANYONE, allowed=303, overrides={"anonymous": 200}),
    ("POST", "/login"): Route(ANYONE, page=True, allowed=400),
    ("POST", "/logout"): Route(ANYONE, page=True, allowed=303),
    # The members' pages. The probes' forms are empty, which the pages refuse.
    ("GET", "/m"): Route(LOGGED_IN, page=True),
    # A forgotten password: this instance sends no e-mail, so the page says to ask an admin.
    ("GET", "/password/forgot"): Route(ANYONE),
    ("POST", "/password/forgot"): Route(ANYONE, page=True),
    # A reset link anyone may open; the probe's token was never issued.
    ("GET", "/password/reset/{token:str}"): Route(
        ANYONE, allowed=404, params={"token": "never-issued"}
    ),
    ("POST", "/password/reset/{token:str}"): Route(
        ANYONE, page=True, allowed=404, params={"token": "never-issued"}
    ),
    # The inbox is each person's own: another's notification (or none) is not found.
    ("GET", "/notifications"): Route(LOGGED_IN, page=True),
    ("GET", "/notifications/{notification_id:int}"): Route(
        LOGGED_IN, page=True, allowed=404, params={"notification_id": "999999"}
    ),
    ("POST", "/notifications/read"): Route(LOGGED_IN, page=True, allowed=303),
    ("GET", "/m/{group:str}"): Route(MEMBER, page=True),
    ("GET", "/m/{group:str}/record/{kind:str}"): Route(STEWARD, page=True),
    ("POST", "/m/{group:str}/record/{kind:str}"): Route(STEWARD, page=True, allowed=422),
    # An entry's receipts: members read them; a steward's form without a file is a 422.
    ("GET", "/m/{group:str}/entries/{seq:int}/receipts"): Route(MEMBER, page=True),
    ("POST", "/m/{group:str}/entries/{seq:int}/receipts"): Route(STEWARD, page=True, allowed=422),
    ("GET", "/m/{group:str}/funds/new"): Route(STEWARD, page=True),
    ("POST", "/m/{group:str}/funds/new"): Route(STEWARD, page=True, allowed=422),
    ("POST", "/m/{group:str}/funds/rename"): Route(STEWARD, page=True, allowed=422),
    ("GET", "/m/{group:str}/places/new"): Route(STEWARD, page=True),
    ("POST", "/m/{group:str}/places/new"): Route(STEWARD, page=True, allowed=422),
    ("POST", "/m/{group:str}/places/rename"): Route(STEWARD, page=True, allowed=422),
    # The probe closes nothing: its day is not one.
    ("POST", "/m/{group:str}/places/{place:str}/reconciliations"): Route(
        STEWARD, page=True, allowed=422, params={"place": "bank"}
    ),
    ("GET", "/m/{group:str}/places/{place:str}/statements"): Route(
        STEWARD, page=True, params={"place": "bank", "statement": "999999", "line": "1"}
    ),
    ("POST", "/m/{group:str}/places/{place:str}/statements"): Route(
        STEWARD,
        page=True,
        allowed=422,
        params={"place": "bank", "statement": "999999", "line": "1"},
    ),
    ("POST", "/m/{group:str}/places/{place:str}/statements/preview"): Route(
        STEWARD,
        page=True,
        allowed=422,
        params={"place": "bank", "statement": "999999", "line": "1"},
    ),
    ("GET", "/m/{group:str}/places/{place:str}/statements/{statement:int}"): Route(
        STEWARD,
        page=True,
        allowed=404,
        params={"place": "bank", "statement": "999999", "line": "1"},
    ),
    (
        "POST",
        "/m/{group:str}/places/{place:str}/statements/{statement:int}/lines/{line:int}",
    ): Route(
        STEWARD,
        page=True,
        allowed=404,
        params={"place": "bank", "statement": "999999", "line": "1"},
    ),
    ("POST", "/m/{group:str}/places/{place:str}/statements/{statement:int}/withdraw"): Route(
        STEWARD, page=True, allowed=404, params={"place": "bank", "statement": "999999"}
    ),
    ("GET", "/m/{group:str}/members"): Route(ADMIN, page=True),
    ("POST", "/m/{group:str}/members"): Route(ADMIN, page=True, allowed=422),
    # Removing the only admin is refused.
    ("POST", "/m/{group:str}/members/{member_id:int}/remove"): Route(ADMIN, page=True, allowed=409),
    ("GET", "/m/{group:str}/members/{member_id:int}/erase"): Route(ADMIN, page=True),
    ("POST", "/m/{group:str}/members/{member_id:int}/erase"): Route(ADMIN, page=True, allowed=422),
    # Changing the roles of someone who is not a member.
    # Decisions. Proposal 1 (by the member) is open and was opened just now.
    ("GET", "/m/{group:str}/proposals/new"): Route(MEMBER, page=True),
    ("POST", "/m/{group:str}/proposals/new"): Route(MEMBER, page=True, allowed=422),
    ("GET", "/m/{group:str}/claims/new"): Route(MEMBER, page=True),
    ("POST", "/m/{group:str}/claims/new"): Route(MEMBER, page=True, allowed=422),
    # Proposal 1 is not a claim: it has no receipt.
    ("GET", "/m/{group:str}/claims/{number:int}/receipt"): Route(MEMBER, page=True, allowed=404),
    ("GET", "/m/{group:str}/claims"): Route(MEMBER, page=True),
    ("GET", "/m/{group:str}/claims/{number:int}/file"): Route(MEMBER, page=True, allowed=404),
    ("GET", "/m/{group:str}/policies/new"): Route(MEMBER, page=True),
    ("POST", "/m/{group:str}/policies/new"): Route(MEMBER, page=True, allowed=422),
    ("GET", "/m/{group:str}/proposals/{number:int}"): Route(MEMBER, page=True),
    # An empty form chooses no response.
    ("POST", "/m/{group:str}/proposals/{number:int}/respond"): Route(
        MEMBER, page=True, allowed=422
    ),
    # Only the author or a facilitator may amend or withdraw: probe a proposal that is not.
    ("POST", "/m/{group:str}/proposals/{number:int}/amend"): Route(
        MEMBER, page=True, allowed=404, params={"number": "999"}
    ),
    ("POST", "/m/{group:str}/proposals/{number:int}/withdraw"): Route(
        MEMBER, page=True, allowed=404, params={"number": "999"}
    ),
    # Too early to close: the round opened just now and few responded.
    ("POST", "/m/{group:str}/proposals/{number:int}/close"): Route(
        FACILITATOR, page=True, allowed=409
    ),
    # The discussion: an empty form is refused (422) before anything is written; reminding
    # is not harmless, so probe a proposal that does not exist.
    ("POST", "/m/{group:str}/proposals/{number:int}/comments"): Route(
        MEMBER, page=True, allowed=422
    ),
    ("POST", "/m/{group:str}/proposals/{number:int}/comments/{comment_id:int}/edit"): Route(
        MEMBER, page=True, allowed=422
    ),
    ("POST", "/m/{group:str}/proposals/{number:int}/comments/{comment_id:int}/hide"): Route(
        FACILITATOR, page=True, allowed=422
    ),
    ("POST", "/m/{group:str}/proposals/{number:int}/remind"): Route(
        FACILITATOR, page=True, allowed=404, params={"number": "999"}
    ),
    ("GET", "/m/{group:str}/notifications"): Route(MEMBER, page=True),
    ("POST", "/m/{group:str}/notifications"): Route(MEMBER, page=True, allowed=422),
    ("POST", "/m/{group:str}/members/{member_id:int}/roles"): Route(
        ADMIN, page=True, allowed=404, params={"member_id": "999999"}
    ),
    # The stewards' queue of requests for support. Opening request 1 logs a read (harmless).
    ("GET", "/m/{group:str}/requests"): Route(STEWARD_OR_FACILITATOR, page=True),
    ("GET", "/m/{group:str}/requests/{request_id:int}"): Route(STEWARD_OR_FACILITATOR, page=True),
    ("POST", "/m/{group:str}/requests/{request_id:int}/notes"): Route(
        STEWARD_OR_FACILITATOR, page=True, allowed=422
    ),
    ("POST", "/m/{group:str}/requests/{request_id:int}/propose"): Route(
        STEWARD, page=True, allowed=422
    ),
    # An empty message is a valid decline: probe a request that does not exist.
    ("POST", "/m/{group:str}/requests/{request_id:int}/decline"): Route(
        STEWARD_OR_FACILITATOR, page=True, allowed=404, params={"request_id": "999"}
    ),
    # Nothing was paid for request 1 yet: refused.
    ("POST", "/m/{group:str}/requests/{request_id:int}/paid"): Route(
        STEWARD, page=True, allowed=409
    ),
    ("GET", "/m/{group:str}/requests/{request_id:int}/erase"): Route(
        STEWARD_OR_FACILITATOR, page=True
    ),
    # Request 1 is not held: refused on its page. Clearing finds no held request.
    ("POST", "/m/{group:str}/requests/{request_id:int}/release"): Route(
        STEWARD_OR_FACILITATOR, page=True, allowed=409
    ),
    ("POST", "/m/{group:str}/requests/held/clear"): Route(
        STEWARD_OR_FACILITATOR, page=True, allowed=303
    ),
    # Without the confirmation box ticked nothing is erased.
    ("POST", "/m/{group:str}/requests/{request_id:int}/erase"): Route(
        STEWARD_OR_FACILITATOR, page=True, allowed=422
    ),
    # Invites and decision rules (admins). The probes' forms are empty, which is refused.
    ("POST", "/m/{group:str}/invites"): Route(ADMIN, page=True, allowed=422),
    ("POST", "/m/{group:str}/invites/{invite_id:int}/revoke"): Route(
        ADMIN, page=True, allowed=404, params={"invite_id": "999999"}
    ),
    ("GET", "/m/{group:str}/rules"): Route(ADMIN, page=True),
    ("POST", "/m/{group:str}/rules"): Route(ADMIN, page=True, allowed=422),
    # An empty form is valid (no way to give shown): it saves and goes back to the form.
    ("GET", "/m/{group:str}/giving"): Route(ADMIN, page=True),
    ("POST", "/m/{group:str}/giving"): Route(ADMIN, page=True, allowed=303),
    ("GET", "/m/{group:str}/donors"): Route(STEWARD, page=True),
    ("POST", "/m/{group:str}/donors/{seq:int}/erase"): Route(STEWARD, page=True, allowed=404),
    # An invite link anyone may open; the probe's token was never issued.
    ("GET", "/join/{token:str}"): Route(ANYONE, allowed=404, params={"token": "never-issued"}),
    ("POST", "/join/{token:str}"): Route(
        ANYONE, page=True, allowed=404, params={"token": "never-issued"}
    ),
}

# Who calls. Outsiders of other kinds (a former member, an admin of another group) are
# checked on one route of each kind of access, in a test of their own.
CALLERS = ("anonymous", "bad token", "outsider", "member", "steward", "facilitator", "admin")
# For a group that does not exist, it only matters whether the caller is logged in.
CALLERS_OF_NO_GROUP = ("anonymous", "bad token", "outsider")
OTHER_OUTSIDERS = ("former steward", "admin of another group")
# What each kind of caller holds in the group under test (None: not a member).
ROLES_OF: dict[str, frozenset[str] | None] = {
    "anonymous": None,
    "bad token": None,
    "outsider": None,
    "former steward": None,
    "admin of another group": None,
    "member": frozenset({"member"}),
    "steward": frozenset({"member", "steward"}),
    "facilitator": frozenset({"member", "facilitator"}),
    "admin": frozenset({"member", "steward", "facilitator", "admin"}),
}


def expected_statuses(
    method: str, route: Route, caller: str, group: World | None
) -> frozenset[int]:
    """The answers the classification allows ``caller`` (``group`` None: no such group)."""
    access = route.access
    if caller in route.overrides:
        return frozenset({route.overrides[caller]})
    if caller == "anonymous" and route.page and method not in ("GET", "HEAD"):
        return frozenset({403})  # CSRF comes first
    if access in (ANYONE, WHERE_ASKING_IS_OPEN):
        open_ = access == ANYONE or (group is not None and group.group.public)
        answer = route.allowed if open_ else 404
        # A token that is not valid may be ignored or refused where nobody needs one.
        return frozenset({answer, 401} if caller == "bad token" else {answer})
    if caller == "bad token":
        return frozenset({401})
    public = group is not None and group.group.public
    if caller == "anonymous":
        if access == PUBLIC_READ:
            return frozenset({route.allowed if public else 404})
        return frozenset({303 if route.page else 401})
    if access == LOGGED_IN:
        return frozenset({route.allowed})
    if group is None:
        return frozenset({404})
    roles = ROLES_OF[caller]
    if roles is None:  # logged in, not a member
        if access == PUBLIC_READ:
            return frozenset({route.allowed if public else 404})
        return frozenset({403 if public else 404})
    if access == PUBLIC_READ or access.roles & roles:
        return frozenset({route.allowed})
    return frozenset({403})


def _bare(path: str) -> str:
    """``/a/{group:str}`` as OpenAPI writes it: ``/a/{group}``."""
    return PATH_PARAMETER.sub(lambda m: "{" + m.group(1) + "}", path)


def test_every_route_is_classified(tmp_path: Path) -> None:
    app = create_app(
        Settings(
            database_url=f"sqlite+aiosqlite:///{tmp_path}/unused.db",
            secret_key="test-secret-" + "x" * 40,
            signing_key_file=tmp_path / "signing-key.pem",
        )
    )
    served = app_routes(app)
    unclassified = sorted(served - ROUTES.keys())
    assert not unclassified, f"classify these routes in ROUTES of {__file__}: {unclassified}"
    stale = sorted(ROUTES.keys() - served)
    assert not stale, f"these routes of ROUTES are gone; remove them: {stale}"
    documented = {
        (method.upper(), path)
        for path, item in (app.openapi_schema.paths or {}).items()
        for method in ("get", "put", "post", "delete", "patch")
        if getattr(item, method, None) is not None
    }
    assert documented <= {(method, _bare(path)) for method, path in ROUTES}


def test_routes_of_a_group_have_a_group_guard_and_only_they() -> None:
    # A group's data is never served without the group's guard, and a group's guard needs
    # a group in the path.
    for (method, path), route in ROUTES.items():
        group_guard = route.access not in (ANYONE, LOGGED_IN)
        assert group_guard == ("{group" in path), (method, path, str(route.access))


# --- one database per engine for the whole matrix -----------------------------------------


@dataclass
class Stage:
    engine: str
    client: Client
    public: World
    private: World
    former: Person
    admin_membership: dict[str, int] = field(default_factory=dict)
    request_id: dict[str, int] = field(default_factory=dict)
    reference: dict[str, str] = field(default_factory=dict)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stage(
    module_db_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stage]:
    """A public and a private group, one person per role in each, a former steward of
    both, and one entry, one open proposal and one request for support in each group."""
    settings = Settings(
        database_url=module_db_url,
        secret_key="test-secret-" + "x" * 40,
        signing_key_file=tmp_path_factory.mktemp("keys") / "signing-key.pem",
        attachments_dir=tmp_path_factory.mktemp("attachments"),
        base_url="http://testserver.local",
    )
    engine = create_engine(settings)
    async with create_session_maker(engine)() as session:
        public = await build_world(session, slug="open-purse", public=True)
        private = await build_world(session, slug="hidden-purse", public=False)
        former = await make_person(session, "former")
        admin_membership, request_id, reference = {}, {}, {}
        for world in (public, private):
            asked = await ask_for_support(session, world)
            request_id[world.slug], reference[world.slug] = asked.id, asked.reference
            joined = await groups.add_member(session, world.group, former.user, ["steward"])
            await groups.remove_member(session, world.group, joined.id)
            admin = await groups.active_membership(session, world.group.id, world.admin.user.id)
            assert admin is not None
            admin_membership[world.slug] = admin.id
        await session.commit()
    try:
        async with AsyncTestClient(app=create_app(settings), base_url=settings.base_url) as client:
            for world in (public, private):
                donation = await client.post(
                    f"/api/groups/{world.slug}/entries",
                    json={"kind": "donation", "fund": "groceries", "amount": "10.00"},
                    headers=world.steward.headers,
                )
                assert donation.status_code == 201, donation.text
                proposal = await client.post(
                    f"/api/groups/{world.slug}/proposals",
                    json={"title": "Mend the roof", "body": "The rain comes in."},
                    headers=world.member.headers,
                )
                assert proposal.status_code == 201, proposal.text
            yield Stage(
                "sqlite" if module_db_url.startswith("sqlite") else "postgres",
                client,
                public,
                private,
                former,
                admin_membership,
                request_id,
                reference,
            )
    finally:
        await engine.dispose()


def headers_of(stage: Stage, caller: str, group: World | None) -> dict[str, str]:
    world = group or stage.public
    other = stage.private if world is stage.public else stage.public
    if caller == "anonymous":
        return {}
    if caller == "bad token":
        return {"Authorization": "Bearer cp_this-token-was-never-issued"}
    if caller == "former steward":
        return stage.former.headers
    if caller == "admin of another group":
        return other.admin.headers
    person: Person = getattr(world, caller)
    return person.headers


def url_of(stage: Stage, path: str, group: World | None, route: Route) -> str:
    world = group or stage.public
    samples = {
        "group": world.slug if group is not None else "no-such-group",
        "seq": "1",
        "number": "1",
        "request_id": str(stage.request_id[world.slug]),
        "reference": stage.reference[world.slug],
        "kind": "donation",
        "file_path": "site.css",
        "member_id": str(stage.admin_membership[world.slug]),
        "comment_id": "999999",
        "path": "no-such-page",
        **route.params,
    }

    def sample(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in samples:
            pytest.fail(f"add a sample value for the path parameter {name!r} of {path}")
        return samples[name]

    url = PATH_PARAMETER.sub(sample, path)
    return f"{url}?{route.query}" if route.query else url


def groups_for(stage: Stage, path: str) -> list[World | None]:
    """The public group, the private one and a group that does not exist; or no group."""
    if "{group" in path:
        return [stage.public, stage.private, None]
    return [stage.public]


@pytest.mark.parametrize(
    ("method", "path"), sorted(ROUTES), ids=[" ".join(key) for key in sorted(ROUTES)]
)
async def test_each_caller_gets_exactly_what_the_route_allows(
    stage: Stage, method: str, path: str
) -> None:
    route = ROUTES[(method, path)]
    cases = [
        (group, caller)
        for group in groups_for(stage, path)
        for caller in (CALLERS if group else CALLERS_OF_NO_GROUP)
    ]
    responses = await asyncio.gather(
        *(
            stage.client.request(
                method,
                url_of(stage, path, group, route),
                headers=headers_of(stage, caller, group),
                json=route.body,
                follow_redirects=False,
            )
            for group, caller in cases
        )
    )
    wrong: list[str] = []
    for (group, caller), response in zip(cases, responses, strict=True):
        where = group.slug if group else "no-such-group"
        want, got = expected_statuses(method, route, caller, group), response.status_code
        if got not in want:
            expected = " or ".join(map(str, sorted(want)))
            wrong.append(
                f"{where:14} {caller:22} got {got}, expected {expected}: {response.text[:200]}"
            )
        elif got in (401, 403, 404) and path.startswith("/api/"):
            content_type = response.headers["content-type"]
            if not content_type.startswith(PROBLEM) or not response.json().get("detail"):
                wrong.append(f"{where:14} {caller:22} refused without a problem document")
    assert not wrong, f"{method} {path} ({route.access}):\n" + "\n".join(wrong)


# One route of each kind of access to a group.
ONE_ROUTE_PER_ACCESS = sorted(
    {
        (route.access, route.page, method): (method, path)
        for (method, path), route in sorted(ROUTES.items(), reverse=True)
        if "{group" in path
    }.values()
)


@pytest.mark.parametrize(
    ("method", "path"), ONE_ROUTE_PER_ACCESS, ids=[" ".join(k) for k in ONE_ROUTE_PER_ACCESS]
)
async def test_former_members_and_admins_of_other_groups_are_outsiders(
    stage: Stage, method: str, path: str
) -> None:
    route = ROUTES[(method, path)]
    for group in (stage.public, stage.private):
        for caller in OTHER_OUTSIDERS:
            response = await stage.client.request(
                method,
                url_of(stage, path, group, route),
                headers=headers_of(stage, caller, group),
                json=route.body,
                follow_redirects=False,
            )
            want = expected_statuses(method, route, "outsider", group)
            assert response.status_code in want, (group.slug, caller, response.text[:200])


async def test_the_probes_left_both_groups_as_they_were(stage: Stage) -> None:
    # Runs after the matrix above on the same database: its probes were harmless, so both
    # groups still hold their one entry and their admin.
    for world in (stage.public, stage.private):
        verify = await stage.client.get(
            f"/api/groups/{world.slug}/verify", headers=world.member.headers
        )
        assert verify.json()["ok"] is True
        assert verify.json()["entries"] == 1
        members = await stage.client.get(
            f"/api/groups/{world.slug}/members", headers=world.admin.headers
        )
        assert "admin" in {role for m in members.json() for role in m["roles"]}
        proposal = await stage.client.get(
            f"/api/groups/{world.slug}/proposals/1", headers=world.member.headers
        )
        assert proposal.json()["status"] == "open"


# --- credentials that must not work ----------------------------------------------------------


@pytest.mark.asyncio(loop_scope="function")  # its own database, not the stage
async def test_a_revoked_token_is_refused_on_every_kind_of_route(
    client: Client, world: World, session: AsyncSession
) -> None:
    await session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == world.steward.user.id)
        .values(revoked_at=groups.utcnow())
    )
    await session.commit()
    donation = {"kind": "donation", "fund": "groceries", "amount": "5.00"}
    for method, path in (
        ("GET", "/api/me"),
        ("GET", f"/api/groups/{world.slug}/entries"),  # public, open to anyone
        ("POST", f"/api/groups/{world.slug}/entries"),  # the steward's, were the token valid
        ("GET", "/api/groups/no-such-group/entries"),
        ("GET", "/api/groups/No_Such_Slug/entries"),
    ):
        response = await client.request(method, path, json=donation, headers=world.steward.headers)
        assert response.status_code == 401, (method, path, response.text)
    verify = await client.get(f"/api/groups/{world.slug}/verify")
    assert verify.json()["entries"] == 0


@pytest.mark.asyncio(loop_scope="function")  # its own database, not the stage
async def test_an_empty_authorization_header_does_not_turn_a_session_into_a_script(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    """Any Authorization header exempts a request from CSRF (a script sends one, a page
    cannot); so a request with one is never served as the browser's session."""
    await give_password(session, world.steward)
    url = f"/api/groups/{world.slug}/entries"
    async with browser(settings, world.steward) as client:
        sent = await client.post(
            url,
            json={"kind": "donation", "fund": "groceries", "amount": "5.00"},
            headers={"Authorization": ""},
        )
        assert sent.status_code in (401, 403), sent.text
        verify = await client.get(f"/api/groups/{world.slug}/verify")
    assert verify.json()["entries"] == 0
