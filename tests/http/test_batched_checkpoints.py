"""Checkpoints signed in batches, off the appends' path: an append answers with its entry
(hash and leaf index) at once; the checkpoint follows within the interval; everything that
checks the log accepts a checkpoint that does not cover the newest entries yet."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.asgi import create_app
from app.settings import Settings
from app.signing import load_notary
from ledger import log
from ledger.bundle import verify_bundle
from ledger.checkpoint import Verifier, verify_note
from ledger.models import Checkpoint
from ledger.verify import verify_group
from tests.support.people import World

Client = AsyncTestClient[Litestar]
INTERVAL = 0.2


@pytest.fixture
async def batched(settings: Settings) -> AsyncIterator[tuple[Litestar, Client]]:
    app = create_app(replace(settings, checkpoint_interval=INTERVAL))
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        yield app, client


async def donate(client: Client, world: World) -> dict[str, object]:
    answer = await client.post(
        f"/api/groups/{world.slug}/entries",
        json={"kind": "donation", "fund": "groceries", "amount": "5.00"},
        headers=world.steward.headers,
    )
    assert answer.status_code == 201, answer.text
    entry: dict[str, object] = answer.json()
    return entry


async def test_an_append_answers_at_once_and_its_checkpoint_follows_within_the_interval(
    batched: tuple[Litestar, Client], world: World, session: AsyncSession
) -> None:
    app, client = batched
    assert not app.state.notary.on_append
    entries = [await donate(client, world) for _ in range(5)]
    assert [e["seq"] for e in entries] == [1, 2, 3, 4, 5]
    assert all(len(str(e["hash"])) == 64 for e in entries)
    # Fewer checkpoints than entries: the appends did not sign.
    signed = await session.scalar(select(func.count()).select_from(Checkpoint))
    assert signed is not None
    assert signed < 5
    await session.rollback()  # on SQLite, the test's transaction holds the write lock
    verifier = Verifier.from_vkey((await client.get("/.well-known/commonpurse-key")).text)
    deadline = time.monotonic() + 10
    while True:
        answer = await client.get(f"/api/groups/{world.slug}/checkpoint")
        if answer.status_code == 200 and verify_note(answer.text, verifier).size == 5:
            break
        assert time.monotonic() < deadline, answer.text
        await asyncio.sleep(INTERVAL / 2)
    proof = (await client.get(f"/api/groups/{world.slug}/entries/3/proof?size=5")).json()
    assert proof["root"] == verify_note(answer.text, verifier).root.hex()


async def test_the_log_verifies_while_its_newest_entries_await_their_checkpoint(
    client: Client, app: Litestar, world: World, session: AsyncSession, tmp_path: Path
) -> None:
    for _ in range(3):
        await donate(client, world)  # signed with each append (the test app's setting)
    late = replace(app.state.notary, on_append=False)
    from ledger import service
    from ledger.schemas import DonationIn

    group = await world.fresh_group(session)
    for _ in range(2):
        await service.record_entry(
            session,
            group,
            DonationIn(fund="groceries", amount="1.00"),
            recorded_by=None,
            notary=late,
        )
    await session.commit()
    assert (await log.latest_checkpoint(session, group)).size == 3
    report = await verify_group(session, group)
    assert report.ok, report.problem
    assert report.entries == 5

    # The bundle covers the newest entries with a checkpoint of the head signed for it.
    bundle = tmp_path / "bundle.zip"
    bundle.write_bytes((await client.get(f"/api/groups/{world.slug}/export.zip")).content)
    checked = verify_bundle(bundle)
    assert checked.ok, checked.problem
    assert checked.entries == 5

    # The batch signs the head once; again, nothing is left to sign.
    assert await log.sign_pending(session, late, group.created_at) == 1
    assert await log.sign_pending(session, late, group.created_at) == 0
    await session.commit()
    assert (await log.latest_checkpoint(session, group)).size == 5
    assert (await verify_group(session, group)).ok


async def test_a_log_whose_first_checkpoint_is_being_signed_says_so_and_when_to_ask_again(
    client: Client, app: Litestar, world: World, session: AsyncSession
) -> None:
    from ledger import service
    from ledger.schemas import DonationIn

    late = replace(app.state.notary, on_append=False)
    group = await world.fresh_group(session)
    await service.record_entry(
        session, group, DonationIn(fund="groceries", amount="1.00"), recorded_by=None, notary=late
    )
    await session.commit()
    for url in (f"/api/groups/{world.slug}/checkpoint", f"/g/{world.slug}/log/checkpoint"):
        answer = await client.get(url)
        assert answer.status_code == 503, answer.text
        assert answer.headers["retry-after"] == "1"
        assert "is being signed" in answer.json()["detail"]
    # The group's page shows the entry, with no seal until the checkpoint comes.
    page = await client.get(f"/g/{world.slug}")
    assert page.status_code == 200

    assert await log.sign_pending(session, late, group.created_at) == 1
    await session.commit()
    answer = await client.get(f"/g/{world.slug}/log/checkpoint")
    assert answer.status_code == 200
    assert verify_note(answer.text, late.key.verifier).size == 1


def test_servers_sign_in_batches_of_a_second_by_default(tmp_path: Path) -> None:
    settings = Settings.from_env({"COMMONPURSE_SIGNING_KEY_FILE": str(tmp_path / "key")})
    assert settings.checkpoint_interval == 1.0
    assert not load_notary(settings).on_append
    signing = Settings.from_env(
        {
            "COMMONPURSE_SIGNING_KEY_FILE": str(tmp_path / "key"),
            "COMMONPURSE_CHECKPOINT_INTERVAL": "0",
        }
    )
    assert load_notary(signing).on_append
