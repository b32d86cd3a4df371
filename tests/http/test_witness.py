"""``POST /witness/add-checkpoint`` as C2SP tlog-witness specifies it: every status, the
cosignature, the state kept by compare-and-swap before the answer, the CLI."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.cli import main
from app.settings import Settings
from ledger import witnesses
from ledger.checkpoint import SigningKey, parse_note, verify_note
from ledger.cosignature import CosignatureVerifier
from ledger.merkle import EMPTY_ROOT, consistency_proof, leaf_hash, root_from_leaf_hashes
from ledger.witness import request_body

Client = AsyncTestClient[Litestar]
ORIGIN = "other.example/g/rent"
LOG = SigningKey.generate(ORIGIN)
HASHES = [leaf_hash(f"leaf {i}".encode()) for i in range(40)]
ADD = "/witness/add-checkpoint"


def root(size: int) -> bytes:
    return root_from_leaf_hashes(HASHES[:size])


def body(old: int, new: int, *, roots: bytes | None = None, key: SigningKey = LOG) -> bytes:
    proof = consistency_proof(old, new, HASHES.__getitem__)
    return request_body(old, proof, key.sign_checkpoint(ORIGIN, new, roots or root(new)))


@pytest.fixture
async def trusted(session: AsyncSession) -> None:
    await witnesses.trust(session, ORIGIN, [LOG.verifier.vkey()], datetime.now(UTC))
    await session.commit()


async def test_a_consistent_checkpoint_gets_a_cosignature_and_is_kept(
    client: Client, app: Litestar, trusted: None, session: AsyncSession
) -> None:
    answer = await client.post(ADD, content=body(0, 10))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    witness = CosignatureVerifier.from_vkey(app.state.cosigning_key.vkey())
    note = LOG.sign_checkpoint(ORIGIN, 10, root(10))
    cosignature = witness.find(parse_note(note + answer.text))
    assert cosignature is not None
    assert abs(cosignature.timestamp - datetime.now(UTC).timestamp()) < 60
    assert answer.text == cosignature.line

    assert (await client.post(ADD, content=body(10, 25))).status_code == 200
    log = await witnesses.latest_cosigned(session, ORIGIN)
    assert log is not None
    assert (log.size, log.root_hash) == (25, root(25).hex())
    # The monitoring view: the latest cosigned checkpoint with both signatures.
    origin_hash = hashlib.sha256(ORIGIN.encode()).hexdigest()
    latest = await client.get(f"/witness/{origin_hash}/checkpoint")
    assert latest.status_code == 200
    assert verify_note(latest.text, LOG.verifier).size == 25
    assert witness.find(parse_note(latest.text)) is not None
    assert (await client.get(f"/witness/{'0' * 64}/checkpoint")).status_code == 404


async def test_every_refusal_has_the_specifications_status(client: Client, trusted: None) -> None:
    assert (await client.post(ADD, content=body(0, 10))).status_code == 200
    cases = {
        "malformed": (b"old 0\nno empty line", 400),
        "old size above the new": (
            request_body(11, [], LOG.sign_checkpoint(ORIGIN, 10, root(10))),
            400,
        ),
        "unknown origin": (
            request_body(
                0, [], SigningKey.generate("x.example").sign_checkpoint("x.example", 1, root(1))
            ),
            404,
        ),
        "no trusted signature": (body(10, 12, key=SigningKey.generate(ORIGIN)), 403),
        "same size, another root": (body(10, 10, roots=root(11)), 422),
        "failed consistency proof": (
            request_body(10, [HASHES[0]], LOG.sign_checkpoint(ORIGIN, 12, root(12))),
            422,
        ),
    }
    for name, (content, status) in cases.items():
        answer = await client.post(ADD, content=content)
        assert answer.status_code == status, (name, answer.text)
    stale = await client.post(ADD, content=body(4, 12))
    assert stale.status_code == 409
    assert stale.headers["content-type"] == "text/x.tlog.size"
    assert stale.text == "10\n"
    # None of them moved the witness on.
    assert (await client.post(ADD, content=body(10, 12))).status_code == 200


async def test_racing_requests_from_one_size_cosign_exactly_one(
    client: Client, trusted: None, session: AsyncSession
) -> None:
    assert (await client.post(ADD, content=body(0, 5))).status_code == 200
    answers = await asyncio.gather(
        *(client.post(ADD, content=body(5, new)) for new in (9, 13, 17, 21, 25))
    )
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200, 409, 409, 409, 409], [a.text for a in answers]
    won = next(
        new for new, a in zip((9, 13, 17, 21, 25), answers, strict=True) if a.status_code == 200
    )
    log = await witnesses.latest_cosigned(session, ORIGIN)
    assert log is not None
    assert log.size == won
    assert {a.text for a in answers if a.status_code == 409} == {f"{won}\n"}


async def test_the_cli_shows_the_witness_key_and_trusts_a_log(
    settings: Settings, client: Client
) -> None:
    env = {
        "COMMONPURSE_DATABASE_URL": settings.database_url,
        "COMMONPURSE_SIGNING_KEY_FILE": str(settings.signing_key_file),
        "COMMONPURSE_BASE_URL": settings.base_url,
    }
    runner = CliRunner()

    def cli(*args: str) -> str:
        result = runner.invoke(main, list(args), env=env)
        assert result.exit_code == 0, result.output
        return result.output

    vkey = (await asyncio.to_thread(cli, "witness", "key")).strip()
    witness = CosignatureVerifier.from_vkey(vkey)
    assert witness.name == "testserver.local/witness"
    # Its own key: not the log's.
    log_vkey = (await client.get("/.well-known/commonpurse-key")).text.strip()
    assert witness.public_key.hex() not in log_vkey
    assert vkey.split("+", 2)[2] != log_vkey.split("+", 2)[2]
    assert "size 0" in await asyncio.to_thread(cli, "witness", "trust", ORIGIN, LOG.verifier.vkey())
    assert (await client.post(ADD, content=body(0, 7))).status_code == 200
    listed = await asyncio.to_thread(cli, "witness", "list")
    assert listed.startswith(f"{ORIGIN} size 7 at ")
    assert (
        await client.post(
            ADD, content=request_body(0, [], LOG.sign_checkpoint(ORIGIN, 0, EMPTY_ROOT))
        )
    ).status_code == 409
