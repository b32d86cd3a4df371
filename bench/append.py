"""``append``: recording entries through the HTTP API against the app's no-op JSON route.

A real server: ``uvicorn app.asgi:create_app --factory`` (one worker, no access log) on a
free 127.0.0.1 port, with ``COMMONPURSE_DATABASE_URL`` pointing at a fresh database that
holds one group, a steward with an API token and two funds (made with the services before
the server starts). This process drives it with a few concurrent clients, each a minimal
HTTP/1.1 client on one kept-alive connection sending a prebuilt request. (httpx costs this
machine about 2 ms of CPU per request, more than half of what the no-op route costs the
server; on two cores it then limits the no-op's throughput and flatters the ratio. This
client costs about 0.2 ms.)

- **no-op**: ``GET /api/me`` with the bearer token: the same stack (middleware, token
  lookup in the database, one transaction, JSON out) doing no ledger work;
- **append**: ``POST /api/groups/{g}/entries`` with a donation (the steward's token; the
  entry is chained, hashed, added to the Merkle tree and its checkpoint signed).

The two alternate in slices (``--quick``: 2 x 300 requests each, else 4 x 500) so that
machine noise hits both. Figures: requests per second over all slices of a route, the
median latency, and the CPU time per request of the server process (from ``/proc``; less
sensitive to other load on the machine than wall time) and of the client. Target: append
throughput at least 40% of the no-op route's. Afterwards the group is verified.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from app.db import create_session_maker
from bench.common import (
    BenchGroup,
    Result,
    create_bench_group,
    fresh_database,
    load_group,
    open_engine,
    progress,
)
from ledger.checkpoint import parse_note
from ledger.cosignature import CosignatureVerifier, CosigningKey, count_cosigners
from ledger.verify import verify_group
from ledger.witnesses import add_witness, trust

TARGET = 0.50
WITNESSES = 2
WITNESS_INTERVAL = 1.0
CLIENTS = 4
WARM_UP = 50


@dataclass(slots=True)
class RouteFigures:
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    latencies: list[float] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux ``/proc``), 0 elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def _server(
    url: str, directory: Path, extra_env: dict[str, str] | None = None
) -> Iterator[tuple[int, int]]:
    port = _free_port()
    env = {
        **os.environ,
        "COMMONPURSE_DATABASE_URL": url,
        "COMMONPURSE_SECRET_KEY": "bench-secret-" + "x" * 40,
        "COMMONPURSE_SIGNING_KEY_FILE": str(directory / "signing-key.pem"),
        "COMMONPURSE_BASE_URL": f"http://127.0.0.1:{port}",
        **(extra_env or {}),
    }
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "app.asgi:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    log = (directory / "server.log").open("w")
    # cwd: a directory without a stray .env file that could change the settings.
    process = subprocess.Popen(command, env=env, cwd=directory, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"the server exited: {(directory / 'server.log').read_text()[-2000:]}"
                )
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not answer /health within 60 s")
            time.sleep(0.2)
        yield port, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


class _KeepAlive:
    """One kept-alive HTTP/1.1 connection sending prebuilt requests.

    About a tenth of httpx's CPU per request, so that the server, not the client, is what
    limits the throughput measured."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> _KeepAlive:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def send(self, raw: bytes) -> int:
        """Send one request and read the whole response; its status code."""
        self.writer.write(raw)
        await self.writer.drain()
        status = int((await self.reader.readline()).split()[1])
        length, chunked = 0, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if chunked:
            while size := int((await self.reader.readline()).strip(), 16):
                await self.reader.readexactly(size + 2)
            await self.reader.readline()
        elif length:
            await self.reader.readexactly(length)
        return status

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


def _raw_request(method: str, path: str, port: int, token: str, body: bytes = b"") -> bytes:
    head = [
        f"{method} {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        f"Authorization: Bearer {token}",
        "Accept: application/json",
    ]
    if body:
        head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(head) + "\r\n\r\n").encode("ascii") + body


async def _slice(
    connections: list[_KeepAlive],
    request: bytes,
    count: int,
    figures: RouteFigures | None,
    server_pid: int,
    expected: int,
) -> None:
    """``count`` requests shared by the concurrent clients; figures unless warm-up."""
    remaining = count
    latencies: list[float] = []
    errors = 0

    async def worker(connection: _KeepAlive) -> None:
        nonlocal remaining, errors
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            status = await connection.send(request)
            latencies.append(time.perf_counter() - started)
            if status != expected:
                errors += 1

    cpu_before = _cpu_seconds(server_pid)
    client_cpu_before = time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(worker(connection) for connection in connections))
    elapsed = time.perf_counter() - started
    if figures is not None:
        figures.requests += count
        figures.errors += errors
        figures.seconds += elapsed
        figures.server_cpu += _cpu_seconds(server_pid) - cpu_before
        figures.client_cpu += time.process_time() - client_cpu_before
        figures.latencies.extend(latencies)


async def _drive(
    port: int, server_pid: int, group: BenchGroup, slices: int, per_slice: int
) -> tuple[RouteFigures, RouteFigures]:
    body = json.dumps(
        {
            "kind": "donation",
            "fund": "rent-relief",
            "amount": "12.50",
            "memo": "Bench donation",
            "counterparty": "Bakery on 5th",
        }
    ).encode()
    me = _raw_request("GET", "/api/me", port, group.token)
    donation = _raw_request("POST", f"/api/groups/{group.slug}/entries", port, group.token, body)
    noop, append = RouteFigures(), RouteFigures()
    connections = [await _KeepAlive.open(port) for _ in range(CLIENTS)]
    try:
        await _slice(connections, me, WARM_UP, None, server_pid, 200)
        await _slice(connections, donation, WARM_UP, None, server_pid, 201)
        for number in range(slices):
            # Alternate which route goes first, so neither always follows the other.
            order = [(me, noop, 200), (donation, append, 201)]
            if number % 2:
                order.reverse()
            for request, figures, expected in order:
                await _slice(connections, request, per_slice, figures, server_pid, expected)
            progress(
                f"slice {number + 1}/{slices}: no-op {noop.per_second:.0f} req/s, "
                f"append {append.per_second:.0f} req/s so far"
            )
    finally:
        for connection in connections:
            await connection.close()
    return noop, append


async def _setup(url: str) -> BenchGroup:
    engine = open_engine(url)
    try:
        async with create_session_maker(engine)() as session, session.begin():
            return await create_bench_group(session)
    finally:
        await engine.dispose()


async def _verify(url: str, slug: str) -> tuple[bool, int, str | None]:
    engine = open_engine(url)
    try:
        async with create_session_maker(engine)() as session:
            report = await verify_group(session, await load_group(session, slug))
            return report.ok, report.entries, report.problem
    finally:
        await engine.dispose()


def _describe(figures: RouteFigures) -> str:
    median = statistics.median(figures.latencies) * 1000 if figures.latencies else 0.0
    requests = figures.requests or 1
    text = (
        f"{figures.per_second:6.0f} req/s  median {median:6.2f} ms  CPU/request: "
        f"server {figures.server_cpu / requests * 1000:5.2f} ms, "
        f"client {figures.client_cpu / requests * 1000:4.2f} ms"
    )
    return text + (f"  ({figures.errors} errors)" if figures.errors else "")


async def _witness_the_log(
    url: str, slug: str, port: int, log_vkey: str, witnesses: list[tuple[str, int, Path]]
) -> None:
    """Each witness instance trusts the bench log; the bench group asks each of them."""
    now = datetime.now(UTC)
    for witness_url, _, _ in witnesses:
        engine = open_engine(witness_url)
        try:
            async with create_session_maker(engine)() as session, session.begin():
                await trust(session, f"127.0.0.1:{port}/g/{slug}", [log_vkey], now)
        finally:
            await engine.dispose()
    engine = open_engine(url)
    try:
        async with create_session_maker(engine)() as session, session.begin():
            group = await load_group(session, slug)
            for _, witness_port, directory in witnesses:
                key = CosigningKey.load_or_create(
                    directory / "witness-key", f"127.0.0.1:{witness_port}/witness"
                )
                await add_witness(
                    session, group, f"http://127.0.0.1:{witness_port}/witness", key.vkey(), now
                )
    finally:
        await engine.dispose()


def _cosigned(port: int, slug: str, witnesses: list[tuple[str, int, Path]]) -> tuple[int, int]:
    """The size of the published checkpoint and how many witnesses cosigned it, once the
    witnesses had a round to catch up (a few seconds at most)."""
    keys = [
        CosignatureVerifier.from_vkey(
            CosigningKey.load_or_create(
                directory / "witness-key", f"127.0.0.1:{witness_port}/witness"
            ).vkey()
        )
        for _, witness_port, directory in witnesses
    ]
    deadline = time.monotonic() + 3 * WITNESS_INTERVAL + 10
    while True:
        note = httpx.get(f"http://127.0.0.1:{port}/api/groups/{slug}/checkpoint").text
        parsed = parse_note(note)
        cosigned = len(count_cosigners(parsed, keys))
        if cosigned == len(keys) or time.monotonic() > deadline:
            return int(parsed.text.split("\n")[1]), cosigned
        time.sleep(0.2)


def run(engine_name: str, quick: bool) -> Result:
    slices, per_slice = (2, 300) if quick else (4, 500)
    result = Result("append", engine_name)
    with contextlib.ExitStack() as stack:
        directory = Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="commonpurse-bench-server-"))
        )
        url = stack.enter_context(fresh_database(engine_name))
        group = asyncio.run(_setup(url))
        # Two other instances witness the log (real servers, real HTTP), as the issue asks.
        witnesses = []
        for number in range(WITNESSES):
            witness_url = stack.enter_context(fresh_database(engine_name, f"_w{number}"))
            witness_directory = directory / f"witness-{number}"
            witness_directory.mkdir()
            witness_port, _ = stack.enter_context(_server(witness_url, witness_directory))
            witnesses.append((witness_url, witness_port, witness_directory))
        log_env = {"COMMONPURSE_WITNESS_INTERVAL": str(WITNESS_INTERVAL)}
        with _server(url, directory, log_env) as (port, pid):
            log_vkey = httpx.get(f"http://127.0.0.1:{port}/.well-known/commonpurse-key").text
            asyncio.run(_witness_the_log(url, group.slug, port, log_vkey.strip(), witnesses))
            noop, append = asyncio.run(_drive(port, pid, group, slices, per_slice))
            size, cosigned = _cosigned(port, group.slug, witnesses)
        ok, entries, problem = asyncio.run(_verify(url, group.slug))
    result.figure("requests per route", f"{noop.requests:,} ({CLIENTS} concurrent clients)")
    result.figure(
        "witnesses of the log",
        f"{cosigned} of {WITNESSES} cosigned the published checkpoint ({size:,} entries); "
        f"a round every {WITNESS_INTERVAL:g} s",
    )
    result.figure("no-op   GET /api/me", _describe(noop))
    result.figure("append  POST /api/groups/{g}/entries", _describe(append))
    result.figure(
        "after the run, verify_group",
        f"{'ok' if ok else 'BROKEN: ' + str(problem)}, {entries:,} entries",
    )
    ratio = append.per_second / noop.per_second if noop.per_second else 0.0
    result.check("append / no-op throughput", ratio, f">= {TARGET:.0%}", ratio >= TARGET)
    cpu_ratio = (
        (noop.server_cpu / noop.requests) / (append.server_cpu / append.requests)
        if append.server_cpu and noop.requests
        else 0.0
    )
    result.figure("no-op / append server CPU per request", f"{cpu_ratio:6.2f}x (not a target)")
    return result
