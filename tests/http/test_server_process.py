"""A real server with two worker processes shares one database correctly."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.settings import Settings
from tests.support.people import World, adopt_policy


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def server(settings: Settings, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "COMMONPURSE_DATABASE_URL": settings.database_url,
        "COMMONPURSE_SECRET_KEY": settings.secret_key,
        "COMMONPURSE_SIGNING_KEY_FILE": str(tmp_path / "server-key"),
        "COMMONPURSE_BASE_URL": f"http://127.0.0.1:{port}",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.stdout.read().decode() if process.stdout else ""
                pytest.fail(f"the server did not start: {output[-2000:]}")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=15)


@pytest.fixture
async def policy(session: AsyncSession, world: World) -> int:
    return await adopt_policy(session, world)


def test_two_workers_never_overdraw_a_fund(server: str, world: World, policy: int) -> None:
    headers = world.steward.headers
    entries = f"{server}/api/groups/{world.slug}/entries"
    donation = httpx.post(
        entries,
        headers=headers,
        json={"kind": "donation", "fund": "rent-relief", "amount": "170.00"},
    )
    assert donation.status_code == 201, donation.text

    def pay(i: int) -> int:
        response = httpx.post(
            entries,
            headers=headers,
            timeout=60,
            json={
                "kind": "disbursement",
                "fund": "rent-relief",
                "amount": "10.00",
                "counterparty": f"R-{i}",
                "policy": policy,
            },
        )
        return response.status_code

    with ThreadPoolExecutor(max_workers=25) as pool:
        statuses = list(pool.map(pay, range(50)))
    assert statuses.count(201) == 17, statuses
    assert statuses.count(409) == 33, statuses
    funds = httpx.get(f"{server}/api/groups/{world.slug}/funds").json()
    assert {f["slug"]: f["balance"] for f in funds}["rent-relief"] == "0.00"
    verify = httpx.get(f"{server}/api/groups/{world.slug}/verify").json()
    assert verify["ok"]
    assert verify["entries"] == 18 + 1  # and the decision adopting the standing policy


@pytest.fixture
async def small_policy(session: AsyncSession, world: World) -> int:
    return await adopt_policy(
        session, world, fund="groceries", max_per_payment="10.00", max_per_month="70.00"
    )


def test_two_workers_never_overspend_a_policys_month(
    server: str, world: World, small_policy: int
) -> None:
    """The month's room of a spending policy holds across processes as a fund's money does:
    of many racing payments under it, exactly those that fit go through."""
    headers = world.steward.headers
    entries = f"{server}/api/groups/{world.slug}/entries"
    donation = httpx.post(
        entries,
        headers=headers,
        json={"kind": "donation", "fund": "groceries", "amount": "500.00"},
    )
    assert donation.status_code == 201, donation.text

    def pay(i: int) -> int:
        body = {
            "kind": "disbursement",
            "fund": "groceries",
            "amount": "10.00",
            "policy": small_policy,
        }
        return httpx.post(entries, headers=headers, timeout=60, json=body).status_code

    with ThreadPoolExecutor(max_workers=25) as pool:
        statuses = list(pool.map(pay, range(30)))
    assert sorted(statuses) == [201] * 7 + [409] * 23, statuses
    policies = httpx.get(f"{server}/api/groups/{world.slug}/policies").json()
    assert (policies[0]["used_this_month"], policies[0]["remaining_this_month"]) == (
        "70.00",
        "0.00",
    )
    assert httpx.get(f"{server}/api/groups/{world.slug}/verify").json()["ok"]
