"""The OpenAPI schema says what the API does, and the API does what the schema says.

Schemathesis reads ``/schema/openapi.json`` and, for every operation in it, generates requests
(valid and invalid ones), sends them to the app in-process with a real database on both
engines, and checks each answer: never a 5xx; a documented status, with a documented content
type; a body that matches the documented schema (problem documents included). The caller is an
admin of a group with money in its funds, an open proposal and a request for support, so that
the requests reach the handlers rather than stop at a guard.

The run is bounded to stay within seconds per engine and to repeat itself: a few generated
examples per operation, a fixed seed, no example database, no deadline.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import schemathesis
from litestar import Litestar
from litestar.testing import AsyncTestClient, TestClient
from schemathesis.config import SchemathesisConfig
from schemathesis.python import asgi as schemathesis_asgi

from app.asgi import create_app
from app.db import create_engine, create_session_maker
from app.settings import Settings
from tests.support.people import World, ask_for_support, build_world

GROUP = "rent-fund"
PROBLEM = "application/problem+json"


def unused_settings(directory: str) -> Settings:
    return Settings(
        database_url=f"sqlite+aiosqlite:///{directory}/unused.db",
        secret_key="test-secret-" + "x" * 40,
        signing_key_file=Path(directory) / "signing-key.pem",
    )


def served_schema() -> dict[str, Any]:
    """The schema exactly as ``GET /schema/openapi.json`` serves it (no database needed)."""
    with tempfile.TemporaryDirectory() as directory:
        response = TestClient(create_app(unused_settings(directory))).get("/schema/openapi.json")
        assert response.status_code == 200, response.text
        document: dict[str, Any] = response.json()
        # The tests are named after the operations, and xdist's workers must collect the
        # same tests in the same order: Litestar's order of paths can differ between
        # processes (it follows a set), so put them in one order.
        document["paths"] = {
            path: dict(sorted(operations.items()))
            for path, operations in sorted(document["paths"].items())
        }
        return document


DOCUMENT = served_schema()


class AppUnderTest:
    """The app of the engine under test. The schema is loaded once, at import; each engine's
    app (its own database) takes its turn behind this one address."""

    app: Litestar | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert self.app is not None, "the app fixture is not active"
        await self.app(scope, receive, send)


APP = AppUnderTest()

schema = schemathesis.openapi.from_dict(
    DOCUMENT,
    config=SchemathesisConfig.from_dict(
        {
            "seed": 9457,
            # Every group route is tried on the group the caller administers; other names
            # would stop at the guard with a 404.
            "parameters": {"path.group": GROUP},
            "generation": {
                "max-examples": 5,
                "deterministic": True,
                "database": "none",
                # Unknown query parameters and headers are ignored, as HTTP APIs do, so a
                # request with one added is not a bad request. (Unknown body fields are a
                # 422: the bad-input tests try them.)
                "allow-extra-parameters": False,
            },
            # One operation at a time: sequences of calls are the other HTTP tests' work.
            "phases": {"stateful": {"enabled": False}},
            # A witness's body is a checkpoint signed by a log it trusts, and a proof: no
            # schema can describe one, so generated bodies are malformed (400).
            "operations": [
                {
                    "include-path": "/witness/add-checkpoint",
                    "checks": {"positive_data_acceptance": {"enabled": False}},
                }
            ],
            "checks": {
                # Litestar 2's automatic OPTIONS answers only the methods of the first handler
                # registered on a path (litestar-org/litestar#4169, fixed in Litestar 3):
                # `OPTIONS .../funds` says `Allow: OPTIONS, POST` though GET is served too.
                "allow_header_conformance": {"enabled": False},
                # A schema cannot state every rule: a fund that must exist, an amount with no
                # more decimals than its currency has, a deadline at least 48 hours away.
                # Schema-valid data may still be refused, but only with a 422 saying why.
                "positive_data_acceptance": {
                    "expected-statuses": ["2xx", "401", "403", "404", "409", "422"]
                },
            },
        }
    ),
)
schema.app = APP


@dataclass
class Stage:
    settings: Settings
    world: World


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stage(
    module_db_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stage]:
    """The usual world with money in both funds, an open proposal and a request for support."""
    settings = Settings(
        database_url=module_db_url,
        secret_key="test-secret-" + "x" * 40,
        signing_key_file=tmp_path_factory.mktemp("keys") / "signing-key.pem",
        base_url="http://testserver.local",
    )
    engine = create_engine(settings)
    try:
        async with create_session_maker(engine)() as session:
            world = await build_world(session, slug=GROUP)
            await ask_for_support(session, world)
            await session.commit()
        async with AsyncTestClient(app=create_app(settings), base_url=settings.base_url) as client:
            for path, body in [
                ("entries", {"kind": "donation", "fund": "groceries", "amount": "500.00"}),
                ("entries", {"kind": "donation", "fund": "rent-relief", "amount": "500.00"}),
                ("proposals", {"title": "Mend the roof", "body": "The rain comes in."}),
            ]:
                response = await client.post(
                    f"/api/groups/{GROUP}/{path}", json=body, headers=world.admin.headers
                )
                assert response.status_code == 201, response.text
        yield Stage(settings, world)
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def app_under_test(stage: Stage) -> Iterator[AppUnderTest]:
    APP.app = create_app(stage.settings)
    try:
        yield APP
    finally:
        # Schemathesis keeps an app's lifespan running until told; end it before the
        # database goes.
        schemathesis_asgi.shutdown_lifespans()
        APP.app = None


@schema.parametrize()
def test_every_operation_answers_as_documented(
    case: Any, app_under_test: AppUnderTest, stage: Stage
) -> None:
    case.call_and_validate(headers=stage.world.admin.headers)


def test_the_served_schema_is_valid_openapi_3_1() -> None:
    assert DOCUMENT["openapi"].startswith("3.1.")
    schemathesis.openapi.from_dict(DOCUMENT).validate()


def operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "responses" in operation:
                yield method.upper(), path, operation


def test_every_error_of_every_operation_is_a_documented_problem() -> None:
    """Statuses of 400 and up are problem documents (pages may also answer HTML)."""
    problem = {"$ref": "#/components/schemas/Problem"}
    for method, path, operation in operations():
        for status, response in operation["responses"].items():
            if int(status) < 400:
                continue
            content = response.get("content", {})
            if (method, path, status) == ("POST", "/witness/add-checkpoint", "409"):
                # C2SP tlog-witness: the latest cosigned size, as text/x.tlog.size.
                assert set(content) == {"text/x.tlog.size"}
                continue
            assert content.get(PROBLEM, {}).get("schema") == problem, (method, path, status)
            assert set(content) <= {PROBLEM, "text/html"}, (method, path, status)
            if path.startswith("/api/"):
                assert set(content) == {PROBLEM}, (method, path, status)
    required = DOCUMENT["components"]["schemas"]["Problem"]["required"]
    assert sorted(required) == ["detail", "status", "title", "type"]


def test_every_operation_documents_the_problems_its_shape_can_meet() -> None:
    for method, path, operation in operations():
        statuses = {int(status) for status in operation["responses"]}
        needs_login = operation.get("security") == [{"bearer": []}]
        expected = set()
        if operation.get("security"):
            expected.add(401)
        if needs_login and "{group}" in path:
            expected.update((403, 404))
        if operation.get("requestBody"):
            expected.update((400, 413, 422))
        if method in ("POST", "PUT", "DELETE"):
            expected.update((403, 409))
        if method in ("POST", "PUT") and path.startswith("/api/"):
            expected.add(415)
        assert expected <= statuses, (method, path, sorted(expected - statuses))
        assert any(200 <= status < 300 for status in statuses), (method, path)


def test_downloads_state_their_real_content_types() -> None:
    success = {
        path: next(iter(operation["responses"][min(operation["responses"])].get("content", {})))
        for method, path, operation in operations()
        if method == "GET"
    }
    assert success["/api/groups/{group}/export.csv"] == "text/csv"
    assert success["/api/groups/{group}/export.json"] == "application/json"
    assert success["/api/groups/{group}/export.jsonl"] == "application/jsonl"
    assert success["/api/groups/{group}/export.journal"] == "text/plain"
    assert success["/api/groups/{group}/export.beancount"] == "text/plain"
    assert success["/api/groups/{group}/export.zip"] == "application/zip"
    assert success["/api/groups/{group}/checkpoint"] == "text/plain"
    assert success["/.well-known/commonpurse-key"] == "text/plain"
    assert success["/g/{group}/audit.pdf"] == "application/pdf"


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/api/groups/{group}/export.csv", "text/csv; charset=utf-8"),
        ("/api/groups/{group}/export.json", "application/json"),
        ("/api/groups/{group}/export.jsonl", "application/jsonl"),
        ("/api/groups/{group}/export.journal", "text/plain; charset=utf-8"),
        ("/api/groups/{group}/export.beancount", "text/plain; charset=utf-8"),
        ("/api/groups/{group}/export.zip", "application/zip"),
        ("/api/groups/{group}/checkpoint", "text/plain; charset=utf-8"),
        ("/.well-known/commonpurse-key", "text/plain; charset=utf-8"),
    ],
)
async def test_downloads_answer_one_content_type_with_one_charset(
    client: AsyncTestClient[Litestar], world: World, path: str, content_type: str
) -> None:
    """Text downloads said `charset=utf-8` twice (Litestar adds it to text/* itself)."""
    donation = {"kind": "donation", "fund": "groceries", "amount": "5.00"}
    recorded = await client.post(
        f"/api/groups/{world.slug}/entries", json=donation, headers=world.steward.headers
    )
    assert recorded.status_code == 201, recorded.text
    response = await client.get(path.format(group=world.slug))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == content_type
