"""Two real instances (``commonpurse serve`` processes, real HTTP between them), each the
witness of a group of the other: appends on both are cosigned in the background; a forked
log (the same origin, another history, signed with the log's own key) is refused by the
witness and never cosigned; a witness that stops answering is shown on the group's page."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from app.db import create_engine, create_session_maker
from app.settings import Settings
from ledger.checkpoint import SigningKey, parse_note, verify_note
from ledger.cosignature import CosignatureVerifier
from ledger.merkle import consistency_proof, leaf_hash, root_from_leaf_hashes
from ledger.witness import request_body
from tests.support.clients import text_of
from tests.support.databases import fresh_database
from tests.support.people import World, build_world
from tests.support.serving import ServerProcess, commonpurse

WAIT_SECONDS = 60.0


async def _world(url: str, slug: str) -> World:
    engine = create_engine(Settings(database_url=url))
    try:
        async with create_session_maker(engine)() as session:
            return await build_world(session, slug=slug)
    finally:
        await engine.dispose()


class Instance:
    def __init__(self, name: str, url: str, directory: Path) -> None:
        directory.mkdir()
        self.host = f"{name}.test"
        self.slug = name
        self.directory = directory
        self.world = asyncio.run(_world(url, name))
        settings = Settings(database_url=url, secret_key=f"{name}-secret-" + "z" * 40)
        self.server = ServerProcess(settings, directory, workers=1)
        self.server.env.update(
            {
                "COMMONPURSE_BASE_URL": f"http://{self.host}",
                "COMMONPURSE_WITNESS_INTERVAL": "0.3",
                # Checkpoints signed in batches, off the appends' path, as servers do.
                "COMMONPURSE_CHECKPOINT_INTERVAL": "0.2",
            }
        )
        self.origin = f"{self.host}/g/{name}"

    @property
    def base(self) -> str:
        return self.server.base

    def cli(self, *args: str) -> str:
        done = commonpurse(self.server.env, *args, cwd=self.directory)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def donate(self, count: int) -> None:
        for i in range(count):
            answer = httpx.post(
                f"{self.base}/api/groups/{self.slug}/entries",
                json={"kind": "donation", "fund": "groceries", "amount": f"{i + 1}.00"},
                headers=self.world.steward.headers,
                timeout=30,
            )
            assert answer.status_code == 201, answer.text

    def checkpoint(self) -> str:
        return httpx.get(f"{self.base}/g/{self.slug}/log/checkpoint", timeout=30).text

    def signed(self) -> bool:
        """Whether the log's first checkpoint is signed (503 until the batch signs it)."""
        answer = httpx.get(f"{self.base}/g/{self.slug}/log/checkpoint", timeout=30)
        assert answer.status_code in (200, 503), answer.text
        return answer.status_code == 200


def wait_until(what: str, check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {WAIT_SECONDS:.0f} s for {what}")
        time.sleep(0.2)


def cosigned_at(instance: Instance, witness: CosignatureVerifier, size: int) -> Callable[[], bool]:
    def check() -> bool:
        if not instance.signed():
            return False
        note = parse_note(instance.checkpoint())
        return f"\n{size}\n" in note.text and witness.find(note) is not None

    return check


def test_two_instances_vouch_for_each_other_and_refuse_a_fork(
    request: pytest.FixtureRequest, db_url: str, tmp_path: Path
) -> None:
    engine = "sqlite" if db_url.startswith("sqlite") else "postgres"
    # A directory of its own: on SQLite the database is a file named after it.
    (tmp_path / "other-database").mkdir()
    with fresh_database(request, engine, tmp_path / "other-database") as other_url:
        assert other_url != db_url
        alpha = Instance("alpha", db_url, tmp_path / "alpha")
        beta = Instance("beta", other_url, tmp_path / "beta")
        try:
            alpha.server.start()
            beta.server.start()
            _vouch(alpha, beta)
        finally:
            alpha.server.stop()
            beta.server.stop()


def _vouch(alpha: Instance, beta: Instance) -> None:
    witness_keys = {}
    for me, other in ((alpha, beta), (beta, alpha)):
        log_key = httpx.get(f"{other.base}/.well-known/commonpurse-key").text.strip()
        me.cli("witness", "trust", other.origin, log_key)
        witness_keys[me.host] = me.cli("witness", "key").strip()
    for me, other in ((alpha, beta), (beta, alpha)):
        added = httpx.post(
            f"{me.base}/api/groups/{me.slug}/witnesses",
            json={"url": f"{other.base}/witness", "vkey": witness_keys[other.host]},
            headers=me.world.admin.headers,
        )
        assert added.status_code == 201, added.text

    alpha.donate(3)
    beta.donate(2)
    by_beta = CosignatureVerifier.from_vkey(witness_keys[beta.host])
    by_alpha = CosignatureVerifier.from_vkey(witness_keys[alpha.host])
    wait_until("beta to cosign alpha at 3", cosigned_at(alpha, by_beta, 3))
    wait_until("alpha to cosign beta at 2", cosigned_at(beta, by_alpha, 2))
    alpha.donate(2)
    wait_until("beta to cosign alpha at 5", cosigned_at(alpha, by_beta, 5))
    note = alpha.checkpoint()
    alpha_key = SigningKey.load_or_create(alpha.directory / "server-key", alpha.host)
    assert verify_note(note, alpha_key.verifier).size == 5
    page = text_of(httpx.get(f"{alpha.base}/g/{alpha.slug}").text)
    assert "Witnessed by beta.test/witness at size 5" in page

    # A fork: alpha's own key signs another history of the same origin.
    forged = [leaf_hash(f"rewritten {i}".encode()) for i in range(7)]
    root5 = root_from_leaf_hashes(forged[:5])
    fork_cases = [
        # From the size beta cosigned, to a longer tree: the proof cannot lead from its root.
        (5, 7, consistency_proof(5, 7, forged.__getitem__), root_from_leaf_hashes(forged), 422),
        # The same size with another root.
        (5, 5, [], root5, 422),
        # An old size beta never cosigned last: 409 with the size it has.
        (3, 7, consistency_proof(3, 7, forged.__getitem__), root_from_leaf_hashes(forged), 409),
    ]
    for old, new, proof, root, status in fork_cases:
        body = request_body(old, proof, alpha_key.sign_checkpoint(alpha.origin, new, root))
        answer = httpx.post(f"{beta.base}/witness/add-checkpoint", content=body)
        assert answer.status_code == status, answer.text
        assert "—" not in answer.text
        if status == 409:
            assert answer.text == "5\n"
    origin_hash = hashlib.sha256(alpha.origin.encode()).hexdigest()
    kept = httpx.get(f"{beta.base}/witness/{origin_hash}/checkpoint").text
    assert parse_note(kept).text == parse_note(note).text  # still the real tree at 5

    # A witness that stops answering is shown, not hidden.
    beta.server.stop()
    alpha.donate(1)

    def alpha_sees_beta_gone() -> bool:
        listed = httpx.get(
            f"{alpha.base}/api/groups/{alpha.slug}/witnesses", headers=alpha.world.admin.headers
        ).json()
        return listed[0]["answering"] is False

    wait_until("alpha to see beta not answering", alpha_sees_beta_gone)
    page = text_of(httpx.get(f"{alpha.base}/g/{alpha.slug}").text)
    assert "Witnessed by beta.test/witness at size 5" in page
    assert "Not answering" in page
