"""A crash loses nothing that was acknowledged and duplicates nothing that is retried.

A real server (two worker processes) takes appends from concurrent clients, each append
with its own Idempotency-Key; the whole process group is killed with SIGKILL mid-run (during
appends, whose transactions also sign the log's checkpoint; during a SQLite WAL
checkpoint; during exports), started again, and every append that got no answer is sent
again with the same key and body. Afterwards every append is in the ledger exactly once,
each acknowledged one as it was acknowledged, and the ledger verifies.

The moment of the kill is chosen by counting acknowledged answers, never by sleeping; what
the tests assert holds whatever the moment.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import sqlite_path
from app.settings import Settings
from ledger import service
from ledger.schemas import DonationIn
from tests.support.people import World, adopt_policy
from tests.support.serving import (
    REQUEST_TIMEOUT,
    Append,
    Load,
    ServerProcess,
    appends,
    commonpurse,
    load_in_background,
)
from tests.support.tools import need_tool
from tests.support.tools import run as run_tool

FUND = "rent-relief"


@pytest.fixture
async def policy(session: AsyncSession, world: World) -> int:
    """The spending policy the appends' payments are made under."""
    return await adopt_policy(session, world, fund=FUND)


@pytest.fixture
def server(settings: Settings, world: World, tmp_path: Path) -> Iterator[ServerProcess]:
    """A running server on the test's database, whose fund holds enough for every payment
    the test makes."""
    process = ServerProcess(settings, tmp_path)
    process.start()
    try:
        opening = httpx.post(
            f"{process.base}/api/groups/{world.slug}/entries",
            headers=world.steward.headers,
            json={"kind": "donation", "fund": FUND, "amount": "1000.00", "memo": "opening"},
            timeout=REQUEST_TIMEOUT,
        )
        assert opening.status_code == 201, opening.text
        yield process
    finally:
        process.kill()  # the database is thrown away: no need to wait for a graceful stop


def entries_url(server: ServerProcess, world: World) -> str:
    return f"{server.base}/api/groups/{world.slug}/entries"


def retry(server: ServerProcess, world: World, planned: Sequence[Append], load: Load) -> Load:
    """Send again, with the same key and body, every append that got no answer, and the
    last few that did, as if their answers had been lost on the way: those are answered
    with the first outcome, and recorded nothing more."""
    by_key = {append.key: append for append in planned}
    answers_lost = [by_key[key] for key in list(load.answered)[-5:]]
    again = Load(entries_url(server, world), world.steward.headers)
    again.run([*load.unanswered, *answers_lost], clients=4)
    assert not again.unanswered, "the restarted server left retries unanswered"
    for append in answers_lost:
        replay = again.answered[append.key]
        assert replay.headers.get("Idempotent-Replayed") == "true"
        assert replay.json() == load.answered[append.key].json()
    return again


def assert_each_append_once(
    server: ServerProcess,
    world: World,
    planned: Sequence[Append],
    answers: dict[str, Any],
    *,
    others: int = 1,
) -> dict[str, Any]:
    """Every planned append is in the ledger exactly once (found by its memo), each as its
    answer said, beside the ``others`` entries made before (and the decisions the log holds,
    such as the one adopting a standing policy); the log verifies (API and command line) and
    its checkpoint covers it all."""
    for key, response in answers.items():
        assert response.status_code == 201, (key, response.text)
    ledger = httpx.get(
        f"{server.base}/api/groups/{world.slug}/export.json", timeout=REQUEST_TIMEOUT
    ).json()
    logged = len(ledger["entries"])
    money = [entry for entry in ledger["entries"] if entry["kind"] != "decision"]
    memos = Counter(entry["memo"] for entry in money)
    twice = sorted(memo for memo, count in memos.items() if count > 1)
    missing = sorted(append.key for append in planned if memos[append.key] == 0)
    assert not twice, f"recorded twice: {twice}"
    assert not missing, f"lost: {missing}"
    total = len(planned) + others  # so nothing that was never sent
    assert len(money) == total
    by_memo = {entry["memo"]: entry for entry in money}
    for key, response in answers.items():
        answered = response.json()
        assert (by_memo[key]["seq"], by_memo[key]["hash"]) == (answered["seq"], answered["hash"])

    verify = httpx.get(f"{server.base}/api/groups/{world.slug}/verify").json()
    assert verify["ok"], verify
    assert verify["entries"] == logged
    checkpoint = httpx.get(f"{server.base}/api/groups/{world.slug}/checkpoint").text
    assert checkpoint.splitlines()[1] == str(logged)
    command = commonpurse(server.env, "verify", world.slug, cwd=server.directory)
    assert command.returncode == 0, command.stderr
    return verify


def run_until_killed(
    server: ServerProcess,
    world: World,
    planned: Sequence[Append],
    *,
    kill_after: int,
    clients: int = 8,
    before_kill: Any = None,
) -> Load:
    """Send ``planned`` concurrently and kill -9 the server once ``kill_after`` appends
    were acknowledged (after ``before_kill``, if given, has run). Plan more than the
    clients can send before the kill: what was never sent is left out of the check."""
    load = Load(entries_url(server, world), world.steward.headers)
    with load_in_background(load, planned, clients):
        assert load.when_acknowledged(kill_after).wait(REQUEST_TIMEOUT), server.log()[-3000:]
        if before_kill is not None:
            before_kill(load)
        server.kill()
    assert load.unsent, "the clients ran out of appends before the kill"
    assert load.unanswered, "the kill cut off no append"
    return load


def sent(planned: Sequence[Append], load: Load) -> list[Append]:
    unsent = {append.key for append in load.unsent}
    return [append for append in planned if append.key not in unsent]


def test_kill_9_during_appends_loses_no_acknowledged_entry_and_duplicates_none(
    server: ServerProcess, world: World, policy: int
) -> None:
    """Each append signs a checkpoint of the log in its own transaction, so a kill during a
    burst of appends is also a kill during checkpoint signing."""
    planned = appends(1000, fund=FUND, policy=policy)
    load = run_until_killed(server, world, planned, kill_after=30)

    server.start()
    again = retry(server, world, planned, load)
    assert_each_append_once(server, world, sent(planned, load), {**load.answered, **again.answered})


CHECKPOINTER = """
import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=120)
print("checkpointing", flush=True)
while True:
    done = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    # (1, -1, -1): the server's own automatic checkpoint was running, and SQLite does not
    # wait for another checkpoint; start this one again.
    if done != (1, -1, -1):
        break
    time.sleep(0.01)
print(done, flush=True)
"""


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # PostgreSQL: the test above
def test_kill_9_during_a_sqlite_wal_checkpoint_loses_nothing(
    server: ServerProcess, world: World, settings: Settings, policy: int
) -> None:
    """A reader holding an old snapshot keeps a TRUNCATE checkpoint from finishing while
    appends go on, so the kill lands while the checkpoint has copied part of the WAL into
    the database file and waits to truncate it."""
    path = sqlite_path(settings.database_url)
    assert path is not None
    planned = appends(1000, fund=FUND, policy=policy)
    reader = sqlite3.connect(path, isolation_level=None)
    checkpointer: list[subprocess.Popen[str]] = []

    def hold_a_snapshot(load: Load) -> None:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM entries").fetchone()
        # Appends after the snapshot, so the checkpoint cannot copy the whole WAL.
        assert load.when_acknowledged(40).wait(REQUEST_TIMEOUT)
        process = subprocess.Popen(
            [sys.executable, "-c", CHECKPOINTER, str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        checkpointer.append(process)
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "checkpointing"
        # Still inside the checkpoint (it waits for the reader, up to two minutes).
        time.sleep(0.5)
        assert process.poll() is None, process.stdout.read()

    try:
        load = run_until_killed(server, world, planned, kill_after=20, before_kill=hold_a_snapshot)
        checkpointer[0].kill()
        checkpointer[0].wait(timeout=30)
    finally:
        for process in checkpointer:
            if process.poll() is None:
                process.kill()
        reader.close()
    wal = path.with_name(path.name + "-wal")
    assert wal.exists()
    assert wal.stat().st_size > 0, "the checkpoint finished before the kill"

    server.start()
    again = retry(server, world, planned, load)
    assert_each_append_once(server, world, sent(planned, load), {**load.answered, **again.answered})
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)


@pytest.fixture
async def long_ledger(session: AsyncSession, world: World) -> None:
    """Enough entries that an export takes the server a while to build."""
    for i in range(EXPORT_ENTRIES):
        await service.record_entry(
            session,
            world.group,
            DonationIn(fund="groceries", amount=f"{1 + i % 50}.25", memo=f"gift {i}"),
            recorded_by=world.steward.user.id,
        )
    await session.commit()


EXPORT_ENTRIES = 600


class Exports:
    """Clients asking for export.zip and export.beancount again and again, counting the
    exports that came whole and the ones a crash cut off."""

    def __init__(self, server: ServerProcess, world: World) -> None:
        self.urls = [
            f"{server.base}/api/groups/{world.slug}/export.zip",
            f"{server.base}/api/groups/{world.slug}/export.beancount",
        ]
        self.completed = 0
        self.cut_off = 0
        self.stop = threading.Event()
        self._lock = threading.Lock()

    def loop(self, first: int) -> None:
        turn = first
        with httpx.Client(timeout=REQUEST_TIMEOUT) as client:
            while not self.stop.is_set():
                try:
                    response = client.get(self.urls[turn % 2])
                    response.raise_for_status()
                except httpx.TransportError:
                    with self._lock:
                        self.cut_off += 1
                    return
                with self._lock:
                    self.completed += 1
                turn += 1


def test_kill_9_during_exports_leaves_a_ledger_that_verifies_and_exports_whole(
    long_ledger: None, server: ServerProcess, world: World, tmp_path: Path, policy: int
) -> None:
    planned = appends(1000, fund=FUND, policy=policy)
    exports = Exports(server, world)

    with ThreadPoolExecutor(max_workers=2) as pool:
        exporting = [pool.submit(exports.loop, first) for first in (0, 1)]
        try:
            # Let a few exports finish first, so that the kill comes while others are built.
            deadline = time.monotonic() + REQUEST_TIMEOUT
            while exports.completed < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert exports.completed >= 2
            load = run_until_killed(server, world, planned, kill_after=10, clients=4)
        finally:
            exports.stop.set()
        for future in exporting:
            future.result(timeout=REQUEST_TIMEOUT)
    assert exports.cut_off >= 1, "no export was under way when the server was killed"

    server.start()
    again = retry(server, world, planned, load)
    verify = assert_each_append_once(
        server,
        world,
        sent(planned, load),
        {**load.answered, **again.answered},
        others=EXPORT_ENTRIES + 1,
    )
    bundle = httpx.get(f"{server.base}/api/groups/{world.slug}/export.zip", timeout=REQUEST_TIMEOUT)
    assert bundle.status_code == 200
    (tmp_path / "export.zip").write_bytes(bundle.content)
    key = httpx.get(f"{server.base}/.well-known/commonpurse-key").text.strip()
    checked = commonpurse(
        server.env, "verify", "--bundle", str(tmp_path / "export.zip"), "--key", key, cwd=tmp_path
    )
    assert checked.returncode == 0, checked.stderr + checked.stdout
    assert f"{verify['entries']} entries" in checked.stdout + checked.stderr
    beancount = httpx.get(
        f"{server.base}/api/groups/{world.slug}/export.beancount", timeout=REQUEST_TIMEOUT
    ).text
    assert all(f': {append.key}"' in beancount for append in sent(planned, load))
    (tmp_path / "ledger.beancount").write_text(beancount, encoding="utf-8")
    bean_check = run_tool(need_tool("bean-check"), str(tmp_path / "ledger.beancount"))
    assert bean_check.returncode == 0, bean_check.stdout + bean_check.stderr
