"""Browser tests: Debian's Chromium driven by Playwright against a real server process.

Playwright's own browser download cannot work here; ``.ci/run`` installs the ``chromium``
package. Without /usr/bin/chromium these tests are skipped with a reason outside CI and
fail in CI (``CI=true``). They run on SQLite only: the pages read the same rows on both
engines, which the HTTP tests check on PostgreSQL too.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.migrate import PROJECT_ROOT
from app.settings import Settings
from tests.browser.steps import Cast
from tests.support.clients import give_password
from tests.support.databases import unavailable
from tests.support.people import build_world

CHROMIUM = Path(os.environ.get("COMMONPURSE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = PROJECT_ROOT / "test-artifacts"


@pytest.fixture
def db_url(sqlite_template: Path, tmp_path: Path) -> str:
    """SQLite only for the browser tests (see the module's docstring)."""
    path = tmp_path / "commonpurse.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
def chromium(server: str, cast: Cast) -> Iterator[Any]:
    """A browser for one test. It starts after the server and the data, and stops before
    them: Playwright's synchronous API holds an event loop while it runs, which the
    database fixtures (asyncio) must not meet."""
    if not CHROMIUM.exists():
        unavailable(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:  # pragma: no cover - the test extras install it
        unavailable(f"playwright is not installed: {error}")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def server_env() -> dict[str, str]:
    """More settings for the server (a test module overrides it, e.g. to send e-mail)."""
    return {}


SERVER_LOG = pytest.StashKey[Path]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A failed browser test shows what the server logged: a page saying "Something went
    wrong" is all the browser sees of a server error."""
    report = yield
    log = item.stash.get(SERVER_LOG, None)
    if report.failed and log is not None and log.exists():
        report.sections.append(("server log", log.read_text(errors="replace")[-12000:]))
    return report


@pytest.fixture
def server_workers() -> int:
    """How many worker processes the server runs: one, unless a module says more (each
    worker is a process importing the app, about a second and a half of CPU to start)."""
    return 1


@pytest.fixture
def server(
    request: pytest.FixtureRequest,
    settings: Settings,
    tmp_path: Path,
    server_env: dict[str, str],
    server_workers: int,
) -> Iterator[str]:
    """``commonpurse serve`` with ``server_workers`` workers."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "COMMONPURSE_DATABASE_URL": settings.database_url,
        "COMMONPURSE_SECRET_KEY": settings.secret_key,
        "COMMONPURSE_SIGNING_KEY_FILE": str(tmp_path / "server-key"),
        "COMMONPURSE_BASE_URL": base,
        **server_env,
    }
    log = (tmp_path / "server.log").open("wb")
    request.node.stash[SERVER_LOG] = tmp_path / "server.log"
    workers = str(server_workers)
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", str(port), "--workers", workers],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"the server did not start: {(tmp_path / 'server.log').read_text()[-3000:]}"
                )
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


@pytest.fixture
async def cast(session: AsyncSession) -> Cast:
    world = await build_world(session)
    await give_password(session, world.steward, world.admin, world.facilitator, world.member)
    return Cast(world, world.steward, world.admin)
