"""The application factory: ``create_app()`` wires everything in one place."""

from __future__ import annotations

import asyncio
import re
import weakref
from typing import Any

import msgspec
from advanced_alchemy.extensions.litestar import SQLAlchemyAsyncConfig, SQLAlchemyPlugin
from litestar import Litestar, MediaType, get
from litestar.config.app import AppConfig
from litestar.di import Provide
from litestar.enums import ScopeType
from litestar.openapi import OpenAPIConfig
from litestar.plugins import InitPluginProtocol, ReceiveRoutePlugin
from litestar.routes import BaseRoute
from litestar.types import (
    ASGIApp,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    Message,
    Receive,
    Scope,
    Send,
)

from app import documents
from app.api import openapi
from app.api.attachments import FORM_ROOM, ReceiptSettingsController, attachments_controller
from app.api.bodies import StrictJSONRequest
from app.api.claims import claims_controller
from app.api.giving import GivingController
from app.api.groups import GroupController, MeController
from app.api.ledger import LedgerController, LogController, well_known_key
from app.api.proposals import ProposalController
from app.api.reconciliations import ReconciliationController
from app.api.reference import ApiReference
from app.api.requests import RequestController
from app.api.statements import StatementController
from app.api.tiles import TileController
from app.api.witness import GroupWitnessController, WitnessController
from app.auth import session_cookie_name
from app.db import (
    WriterTurn,
    create_engine,
    create_session_maker,
    request_writes,
    unit_of_work_middleware,
    write_intent,
)
from app.deps import provide_notary
from app.errors import EXCEPTION_HANDLERS, PROBLEM_MEDIA_TYPE, problem_document
from app.jobs import due_rounds_first_middleware, maintenance_loop
from app.settings import Settings
from app.signing import load_cosigning_key, load_notary, signing_loop
from app.web import site
from app.witnessing import witnessing_loop
from ledger.files import DirectoryStore


def read_only_request_middleware(app: ASGIApp) -> ASGIApp:
    """Mark requests that only read, so SQLite begins them without the write lock."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP and not request_writes(scope):
            token = write_intent.set(False)
            try:
                await app(scope, receive, send)
            finally:
                write_intent.reset(token)
        else:
            await app(scope, receive, send)

    return middleware


class WriterTurns:
    """Requests that may write take turns within this process (SQLite only).

    SQLite allows one writer at a time. Without this, concurrent write requests of one
    process would all reach ``BEGIN IMMEDIATE`` and the losers would wait in SQLite's busy
    handler, which sleeps in growing steps (up to 100 ms) instead of waking when the lock is
    free. Here they queue on an ``asyncio.Lock`` and start the moment the previous one ends;
    other processes on the same file still wait in the busy handler.
    """

    def __init__(self) -> None:
        # One lock per event loop: an app may be driven by several loops (tests do that).
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    def lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Lock()
        return lock


def sqlite_writer_turns_middleware(app: ASGIApp) -> ASGIApp:
    """Queue the requests that may write (see ``WriterTurns``)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        turns: WriterTurns | None = scope["litestar_app"].state.get("writer_turns")
        if turns is None or scope["type"] != ScopeType.HTTP or not request_writes(scope):
            await app(scope, receive, send)
            return
        async with WriterTurn(turns.lock()) as turn:
            scope.setdefault("state", {})[WriterTurn.STATE_KEY] = turn
            await app(scope, receive, send)

    return middleware


# Routes that take a file: a receipt attached to an entry, a claim with its receipt, a
# place's bank statement.
_ATTACHING = re.compile(
    r"/api/groups/[^/]+/(entries/[0-9]+/attachments|claims|places/[^/]+/statements)"
)


def json_only_api_middleware(app: ASGIApp) -> ASGIApp:
    """The API reads JSON only: a body of another type is a 415, before anything is parsed.

    Browsers send text/plain and form bodies cross-site without asking first; refusing them
    keeps a logged-in member's cookie from being used to write through the API."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == ScopeType.HTTP
            and scope.get("method") in ("POST", "PUT", "PATCH")
            and scope.get("path", "").startswith("/api/")
        ):
            headers = dict(scope.get("headers", []))
            has_body = headers.get(b"content-length", b"0") != b"0" or (
                b"transfer-encoding" in headers
            )
            media_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
            # Receipts and statements come as files (CSRF still guards a browser's cookie).
            attaching = media_type == b"multipart/form-data" and _ATTACHING.fullmatch(
                scope.get("path", "")
            )
            if has_body and media_type != b"application/json" and not attaching:
                body = msgspec.json.encode(
                    problem_document(
                        415, "Send the request body as JSON (Content-Type: application/json)."
                    )
                )
                start: HTTPResponseStartEvent = {
                    "type": "http.response.start",
                    "status": 415,
                    "headers": [
                        (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
                end: HTTPResponseBodyEvent = {
                    "type": "http.response.body",
                    "body": body,
                    "more_body": False,
                }
                await send(start)
                await send(end)
                return
        await app(scope, receive, send)

    return middleware


def no_store_for_callers_middleware(app: ASGIApp) -> ASGIApp:
    """API answers to a caller who is logged in (a bearer token or the session cookie) may
    carry personal data (members' names and e-mails, a request's details, who said what):
    no cache, shared or the browser's own, may keep them (``Cache-Control: no-store``),
    unless the handler chose its own caching. Anonymous reads of public books are left to
    cache as they like."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or not scope.get("path", "").startswith("/api/"):
            await app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        cookie_name = session_cookie_name(scope["litestar_app"].state.settings).encode()
        if b"authorization" not in headers and cookie_name + b"=" not in headers.get(
            b"cookie", b""
        ):
            await app(scope, receive, send)
            return

        async def send_no_store(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer = list(message.get("headers", []))
                if not any(name.lower() == b"cache-control" for name, _ in answer):
                    answer.append((b"cache-control", b"no-store"))
                    message["headers"] = answer
            await send(message)

        await app(scope, receive, send_no_store)

    return middleware


@get("/health", media_type=MediaType.JSON, tags=["Instance"], summary="Liveness check")
async def health() -> dict[str, str]:
    return {"status": "ok"}


class CommonPursePlugin(InitPluginProtocol, ReceiveRoutePlugin):
    """The single place where the application is wired."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.dependencies["notary"] = Provide(provide_notary, sync_to_thread=False)
        settings = self.settings
        engine = create_engine(settings)
        alchemy = SQLAlchemyAsyncConfig(
            engine_instance=engine,
            session_maker=create_session_maker(engine),
            # The plugin only closes the request's session: ``unit_of_work_middleware``
            # commits or rolls back before the answer leaves (see there why).
            create_all=False,
        )
        app_config.plugins.extend([SQLAlchemyPlugin(config=alchemy), openapi.ExactIntegerBounds()])
        app_config.state.update(
            {
                "settings": settings,
                "alchemy_config": alchemy,
                "notary": load_notary(settings),
                "cosigning_key": load_cosigning_key(settings),
                "files": DirectoryStore(settings.attachments_dir),
            }
        )
        # Pages' forms may carry a receipt: room for the largest file the instance takes.
        limit = settings.max_attachment_bytes + FORM_ROOM
        if isinstance(app_config.request_max_body_size, int):
            app_config.request_max_body_size = max(app_config.request_max_body_size, limit)
        app_config.route_handlers.extend(
            [
                health,
                well_known_key,
                MeController,
                GroupController,
                GivingController,
                LedgerController,
                LogController,
                attachments_controller(settings.max_attachment_bytes),
                ReceiptSettingsController,
                StatementController,
                ReconciliationController,
                claims_controller(settings.max_attachment_bytes),
                ProposalController,
                RequestController,
                TileController,
                WitnessController,
                GroupWitnessController,
            ]
        )
        app_config.exception_handlers.update(EXCEPTION_HANDLERS)
        app_config.request_class = StrictJSONRequest

        # A stopped app closes its connections (advanced-alchemy's own shutdown misses an
        # engine given to it once a process has made a second config): the next start
        # opens new ones, on its own event loop.
        async def close_connections() -> None:
            await engine.dispose()

        app_config.on_shutdown.append(close_connections)
        app_config.lifespan.append(maintenance_loop)
        app_config.lifespan.append(signing_loop)
        app_config.lifespan.append(witnessing_loop)
        site.configure(app_config, settings)
        documents.configure(app_config, settings)
        app_config.middleware.insert(0, read_only_request_middleware)
        app_config.middleware.insert(1, json_only_api_middleware)
        app_config.middleware.insert(2, no_store_for_callers_middleware)
        if settings.is_sqlite:
            app_config.state["writer_turns"] = WriterTurns()
            app_config.middleware.insert(3, sqlite_writer_turns_middleware)
        # Before any of the request's reads: due rounds closed in a transaction of their own.
        app_config.middleware.append(due_rounds_first_middleware)
        # Innermost: a request's transaction ends inside its writer's turn and read mode.
        app_config.middleware.append(unit_of_work_middleware)
        app_config.openapi_config = OpenAPIConfig(
            title="Common Purse",
            version="0.1.0",
            description=(
                "Shared money, decided together. Amounts are decimal strings in the currency's "
                "major unit; errors are RFC 9457 problem details (`application/problem+json`), "
                "and every operation lists each status it can answer."
            ),
            path="/schema",
            render_plugins=[ApiReference()],
            components=openapi.COMPONENTS,
        )
        return app_config

    def receive_route(self, route: BaseRoute) -> None:
        openapi.document(route)


def create_app(settings: Settings | None = None, **kwargs: Any) -> Litestar:
    settings = settings or Settings.from_env()
    return Litestar(plugins=[CommonPursePlugin(settings)], **kwargs)
