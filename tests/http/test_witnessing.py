"""A group's log asks its witnesses (another instance, in this process): the newest
checkpoint with a proof from the size each last cosigned, a 409 followed from the size the
witness names, the cosignatures kept and published, a witness that does not answer shown."""

from __future__ import annotations

import asyncio
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.asgi import create_app
from app.cli import main
from app.db import create_engine, create_session_maker
from app.settings import Settings
from app.witnessing import witness_round
from ledger import witnesses
from ledger.bundle import verify_bundle
from ledger.checkpoint import parse_note, verify_note
from ledger.cosignature import CosignatureVerifier, CosigningKey
from ledger.witness import request_body
from tests.pdf.reading import reader
from tests.support.clients import text_of
from tests.support.databases import fresh_database
from tests.support.people import World

Client = AsyncTestClient[Litestar]
WITNESS = "http://witness.test"


@pytest.fixture
def witness_db_url(request: pytest.FixtureRequest, db_url: str, tmp_path: Path) -> Iterator[str]:
    """A second instance's database, on the same engine as the first's."""
    directory = tmp_path / "witness"
    directory.mkdir()
    engine = "sqlite" if db_url.startswith("sqlite") else "postgres"
    with fresh_database(request, engine, directory) as url:
        yield url


async def donate(client: Client, world: World, count: int) -> None:
    for i in range(count):
        answer = await client.post(
            f"/api/groups/{world.slug}/entries",
            json={"kind": "donation", "fund": "groceries", "amount": f"{i + 1}.00"},
            headers=world.steward.headers,
        )
        assert answer.status_code == 201, answer.text


def witness_instance(url: str, directory: Path) -> Litestar:
    return create_app(
        Settings(
            database_url=url,
            secret_key="witness-secret-" + "y" * 40,
            signing_key_file=directory / "signing-key.pem",
            base_url=WITNESS,
        )
    )


async def trust_the_log(witness_app: Litestar, app: Litestar, world: World) -> None:
    engine = create_engine(witness_app.state.settings)
    async with create_session_maker(engine)() as witness_session:
        await witnesses.trust(
            witness_session,
            f"testserver.local/g/{world.slug}",
            [app.state.notary.key.vkey()],
            datetime.now(UTC),
        )
        await witness_session.commit()
    await engine.dispose()


async def test_a_log_asks_its_witness_and_publishes_the_cosignatures(
    client: Client,
    app: Litestar,
    session: AsyncSession,
    world: World,
    witness_db_url: str,
    tmp_path: Path,
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    # The rounds run on the test's own engine (the server's background loop would use the
    # app's): the same database, on this event loop.
    witness_app = witness_instance(witness_db_url, tmp_path / "witness")
    witness_key = witness_app.state.cosigning_key
    await trust_the_log(witness_app, app, world)
    slug = world.slug

    async with AsyncTestClient(app=witness_app, base_url=WITNESS) as witness_client:
        added = await client.post(
            f"/api/groups/{slug}/witnesses",
            json={"url": f"{WITNESS}/witness", "vkey": witness_key.vkey()},
            headers=world.admin.headers,
        )
        assert added.status_code == 201, added.text
        assert added.json()["name"] == "witness.test/witness"
        await donate(client, world, 3)

        answers = await witness_round(session_maker, witness_client, interval=0)
        assert [(a.request.old_size, a.request.size, a.error) for a in answers] == [(0, 3, None)]
        verifier = CosignatureVerifier.from_vkey(witness_key.vkey())
        for url in (f"/api/groups/{slug}/checkpoint", f"/g/{slug}/log/checkpoint"):
            note = (await client.get(url)).text
            assert verify_note(note, app.state.notary.key.verifier).size == 3
            assert verifier.find(parse_note(note)) is not None
        page = text_of((await client.get(f"/g/{slug}")).text)
        assert "Witnessed by witness.test/witness at size 3" in page
        assert await witness_round(session_maker, witness_client, interval=0) == []

        # The witness moved on without us (the log's size-5 checkpoint reached it another
        # way): the log's next round gets a 409 naming 5, and asks again from there.
        await donate(client, world, 2)
        five = (await client.get(f"/api/groups/{slug}/checkpoint")).text
        proof = (await client.get(f"/api/groups/{slug}/consistency?from=3&to=5")).json()["path"]
        direct = await witness_client.post(
            "/witness/add-checkpoint",
            content=request_body(3, [bytes.fromhex(h) for h in proof], five),
        )
        assert direct.status_code == 200, direct.text
        await donate(client, world, 1)
        answers = await witness_round(session_maker, witness_client, interval=0)
        assert [(a.request.old_size, a.request.size, a.error) for a in answers] == [(5, 6, None)]
        listed = await client.get(f"/api/groups/{slug}/witnesses", headers=world.admin.headers)
        assert [(w["cosigned_size"], w["answering"]) for w in listed.json()] == [(6, True)]

        # A witness that does not answer as one: shown, not hidden.
        await witnesses.add_witness(
            session,
            await world.fresh_group(session),
            f"{WITNESS}/nowhere",
            _other_witness_vkey(),
            datetime.now(UTC),
        )
        await session.commit()
        await donate(client, world, 1)
        answers = await witness_round(session_maker, witness_client, interval=0)
        assert sorted(a.error is None for a in answers) == [False, True]
        page = text_of((await client.get(f"/g/{slug}")).text)
        assert "Witnessed by witness.test/witness at size 7" in page
        assert "gone.test/witness has not witnessed this log yet. Not answering" in page
        listed = await client.get(f"/api/groups/{slug}/witnesses", headers=world.admin.headers)
        assert [w["answering"] for w in listed.json()] == [True, False]
        # Its rounds now wait longer and longer: not asked again at once.
        assert await witness_round(session_maker, witness_client, interval=60) == []


async def test_rounds_prove_from_the_range_kept_for_the_size_the_witness_cosigned(
    client: Client,
    app: Litestar,
    world: World,
    witness_db_url: str,
    tmp_path: Path,
    engine: AsyncEngine,
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    """Once a round has proved a size to the witness, the next round's proof is made from
    that size's compact range and the leaves appended since: the log's earlier leaf hashes
    are not read again, and the witness (which checks the proof) cosigns."""
    witness_app = witness_instance(witness_db_url, tmp_path / "witness")
    await trust_the_log(witness_app, app, world)
    known = witnesses.KnownRanges()
    read_from: list[object] = []

    def hashes_read(_conn, _cursor, statement: str, parameters, _context, _many) -> None:  # type: ignore[no-untyped-def]
        if "entries.hash" in statement and "entries.seq >" in statement:
            read_from.append(list(parameters)[1])  # group, then the seq read after

    async with AsyncTestClient(app=witness_app, base_url=WITNESS) as witness_client:
        added = await client.post(
            f"/api/groups/{world.slug}/witnesses",
            json={"url": f"{WITNESS}/witness", "vkey": witness_app.state.cosigning_key.vkey()},
            headers=world.admin.headers,
        )
        assert added.status_code == 201, added.text
        sizes = []
        for count in (3, 2, 4, 1):
            await donate(client, world, count)
            event.listen(engine.sync_engine, "before_cursor_execute", hashes_read)
            try:
                answers = await witness_round(session_maker, witness_client, 0, known)
            finally:
                event.remove(engine.sync_engine, "before_cursor_execute", hashes_read)
            assert [a.error for a in answers] == [None]
            sizes.append((answers[0].request.old_size, answers[0].request.size, [*read_from]))
            read_from.clear()
    group_id = answers[0].request.group_id
    # From 0 nothing is proved; from 3 every leaf is read (after seq 0: nothing kept yet),
    # and the range of 5 is kept; from 5 and from 9 only the leaves after them.
    assert sizes == [(0, 3, []), (3, 5, [0]), (5, 9, [5]), (9, 10, [9])]
    assert known.get(group_id, 10) is not None
    assert known.get(group_id, 5) is not None


def _other_witness_vkey() -> str:
    return CosigningKey.generate("gone.test/witness").vkey()


async def test_a_witness_is_added_once_with_a_valid_url_and_key(
    client: Client, world: World
) -> None:
    url = f"/api/groups/{world.slug}/witnesses"
    vkey = _other_witness_vkey()
    for body, status in [
        ({"url": "ftp://x.test", "vkey": vkey}, 422),
        ({"url": "https://w.test", "vkey": "nope"}, 422),
        ({"url": "https://w.test", "vkey": vkey}, 201),
        ({"url": "https://w2.test", "vkey": vkey}, 409),
    ]:
        answer = await client.post(url, json=body, headers=world.admin.headers)
        assert answer.status_code == status, (body, answer.text)
    assert (await client.get(url, headers=world.steward.headers)).status_code == 403


async def test_the_bundle_and_the_statement_carry_the_witnesses(
    client: Client,
    app: Litestar,
    world: World,
    witness_db_url: str,
    tmp_path: Path,
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    witness_app = witness_instance(witness_db_url, tmp_path / "witness")
    await trust_the_log(witness_app, app, world)
    vkey = witness_app.state.cosigning_key.vkey()
    other = _other_witness_vkey()
    async with AsyncTestClient(app=witness_app, base_url=WITNESS) as witness_client:
        added = await client.post(
            f"/api/groups/{world.slug}/witnesses",
            json={"url": f"{WITNESS}/witness", "vkey": vkey},
            headers=world.admin.headers,
        )
        assert added.status_code == 201, added.text
        await donate(client, world, 4)
        bundle = tmp_path / "bundle.zip"
        bundle.write_bytes((await client.get(f"/api/groups/{world.slug}/export.zip")).content)
        # Not cosigned yet: a verifier who asks for the witness refuses the bundle.
        report = verify_bundle(bundle, witnesses=[vkey])
        assert not report.ok
        assert "carries valid cosignatures by 0 of the 1 witnesses" in (report.problem or "")
        assert verify_bundle(bundle).ok

        await witness_round(session_maker, witness_client, interval=0)
    bundle.write_bytes((await client.get(f"/api/groups/{world.slug}/export.zip")).content)
    report = verify_bundle(bundle, witnesses=[vkey])
    assert report.ok, report.problem
    assert report.cosigned_by == ["witness.test/witness"]
    assert "cosigned by 1 witness(es): witness.test/witness" in report.summary()
    assert not verify_bundle(bundle, witnesses=[vkey, other]).ok
    assert verify_bundle(bundle, witnesses=[vkey, other], min_witnesses=1).ok
    assert not verify_bundle(bundle, witnesses=[vkey], min_witnesses=2).ok
    with zipfile.ZipFile(bundle) as archive:
        assert archive.read("witnesses.vkey").decode() == vkey + "\n"

    runner = CliRunner()
    for args, code in [
        (["--witness", vkey], 0),
        (["--witness", vkey, "--witness", other], 1),
        (["--witness", vkey, "--witness", other, "--min-witnesses", "1"], 0),
        (["--witness", "not-a-key"], 1),
    ]:
        result = await asyncio.to_thread(
            runner.invoke, main, ["verify", "--bundle", str(bundle), *args]
        )
        assert result.exit_code == code, (args, result.output)

    statement = await client.get(f"/g/{world.slug}/audit.pdf")
    assert statement.status_code == 200
    text = "".join(page.extract_text() for page in reader(statement.content).pages)
    assert "witness.test/witness" in "".join(text.split())
