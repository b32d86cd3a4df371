"""A real ``commonpurse serve`` in processes of its own, which a test can kill -9 and start
again, and the clients that load it: for the tests of what a crash may (not) lose."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.settings import Settings

# Generous: two cores shared by several test runs start a worker in seconds, not in 30.
START_TIMEOUT = 90.0
REQUEST_TIMEOUT = 60.0
SERVE = (sys.executable, "-m", "app", "serve")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cli_env(settings: Settings, signing_key: Path) -> dict[str, str]:
    """The environment of a ``commonpurse`` process on the test's database."""
    return {
        **os.environ,
        "COMMONPURSE_DATABASE_URL": settings.database_url,
        "COMMONPURSE_SECRET_KEY": settings.secret_key,
        "COMMONPURSE_SIGNING_KEY_FILE": str(signing_key),
        # Fixed, whatever the port: the host names the logs (checkpoint origins).
        "COMMONPURSE_BASE_URL": "http://crash.test",
        # Each append signs its checkpoint in its own transaction (a crash mid-append is a
        # crash mid-signing); a test that wants batches says so.
        "COMMONPURSE_CHECKPOINT_INTERVAL": "0",
    }


def commonpurse(
    env: dict[str, str], *args: str, cwd: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the command line in a process of its own, as an operator would."""
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class ServerProcess:
    """``commonpurse serve --workers N`` in a session of its own, so that kill -9 reaches
    the supervisor and every worker at once (the process group), as a power cut would."""

    def __init__(self, settings: Settings, directory: Path, workers: int = 2) -> None:
        self.directory = directory
        self.workers = workers
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = cli_env(settings, directory / "server-key")
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        # A file, not a pipe: nobody reads the log while the server runs, and a full pipe
        # would stall it.
        log = open(self.directory / f"server-{self.starts}.log", "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            [*SERVE, "--port", str(self.port), "--workers", str(self.workers)],
            env=self.env,
            cwd=self.directory,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.wait_until_ready()

    def wait_until_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                if httpx.get(f"{self.base}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the server did not start: {self.log()[-3000:]}")
            time.sleep(0.2)

    def log(self) -> str:
        path = self.directory / f"server-{self.starts}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def kill(self) -> None:
        """kill -9 of the whole process group: supervisor and workers die mid-request."""
        assert self.process is not None
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        # The workers are the supervisor's children, in its group: wait until none is left.
        deadline = time.monotonic() + 30
        while _group_alive(self.process.pid) and time.monotonic() < deadline:
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            if self.process is not None:
                self.kill()
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=20)
        self.kill()


def _group_alive(pgid: int) -> bool:
    """Whether a process of the group still runs. Zombies do not count: they hold no
    socket, file or lock, and where nothing reaps them they would never go away."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        state, group = fields[0], int(fields[2])
        if group == pgid and state != "Z":
            return True
    return False


@dataclass(frozen=True)
class Append:
    """One append a client means to make exactly once: its key, memo and body."""

    key: str
    body: dict[str, Any]


def appends(count: int, *, fund: str, policy: int, prefix: str = "crash") -> list[Append]:
    """Donations and payments under the spending ``policy`` (small enough that the fund
    never runs out), each with its own Idempotency-Key, which is also its memo: an entry
    is found again by its memo."""
    planned = []
    for i in range(count):
        key = f"{prefix}-{i:04d}"
        body: dict[str, Any] = (
            {"kind": "donation", "fund": fund, "amount": f"{5 + i % 7}.00", "memo": key}
            if i % 3
            else {
                "kind": "disbursement",
                "fund": fund,
                "amount": "1.00",
                "counterparty": f"R-{i}",
                "memo": key,
                "policy": policy,
            }
        )
        planned.append(Append(key, body))
    return planned


@dataclass
class Load:
    """Clients sending planned appends concurrently until told to stop, keeping each
    answer, which appends were sent and got none (cut off by a crash), and which were
    never sent (a client stops at its first append without an answer)."""

    url: str
    headers: dict[str, str]
    answered: dict[str, httpx.Response] = field(default_factory=dict)
    unanswered: list[Append] = field(default_factory=list)
    unsent: list[Append] = field(default_factory=list)
    acknowledged: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _reached: dict[int, threading.Event] = field(default_factory=dict)

    def send(self, client: httpx.Client, append: Append) -> httpx.Response | None:
        if self.stop.is_set():
            with self._lock:
                self.unsent.append(append)
            return None
        try:
            response = client.post(
                self.url,
                json=append.body,
                headers={**self.headers, "Idempotency-Key": append.key},
                timeout=REQUEST_TIMEOUT,
            )
        except httpx.TransportError:
            with self._lock:
                self.unanswered.append(append)
            return None
        with self._lock:
            self.answered[append.key] = response
            if response.status_code == 201:
                self.acknowledged += 1
                for target, event in self._reached.items():
                    if self.acknowledged >= target:
                        event.set()
        return response

    def when_acknowledged(self, count: int) -> threading.Event:
        with self._lock:
            event = self._reached.setdefault(count, threading.Event())
            if self.acknowledged >= count:
                event.set()
            return event

    def run(self, planned: Sequence[Append], clients: int) -> None:
        """Send ``planned`` from ``clients`` threads, each with a connection of its own."""
        shares = [planned[i::clients] for i in range(clients)]

        def client_loop(share: Sequence[Append]) -> None:
            with httpx.Client() as client:
                for number, append in enumerate(share):
                    if self.send(client, append) is None:
                        # The server is gone: this client sends nothing more until told.
                        with self._lock:
                            self.unsent.extend(share[number + 1 :])
                        return

        with ThreadPoolExecutor(max_workers=clients) as pool:
            list(pool.map(client_loop, shares))


@contextmanager
def load_in_background(
    load: Load, planned: Sequence[Append], clients: int
) -> Iterator[threading.Thread]:
    thread = threading.Thread(target=load.run, args=(planned, clients), daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        load.stop.set()
        thread.join(timeout=REQUEST_TIMEOUT * 2)
