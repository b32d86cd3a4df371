"""Backups that restore: the drill on both engines (and both PostgreSQL formats), the
refusal to overwrite, a backup taken while a server appends, and files that are not
backups."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import stat
import zipfile
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from advanced_alchemy.types import DateTimeUTC
from click.testing import CliRunner, Result
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import column, func, insert, select, table, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from app.backup import read_manifest
from app.cli import main
from app.db import create_engine, sqlite_path
from app.migrate import upgrade
from app.settings import Settings
from app.signing import load_notary
from ledger import service
from ledger.groups import utcnow
from ledger.models import Checkpoint, Entry
from ledger.schemas import DonationIn
from proposals import service as proposals
from proposals import support
from proposals.models import SupportRequest
from proposals.schemas import ProposalIn
from tests.support.databases import POSTGRES_URL, pg_admin, worker
from tests.support.people import World, adopt_policy
from tests.support.serving import REQUEST_TIMEOUT, Load, ServerProcess, appends, commonpurse

Cli = Callable[..., Result]


def cli_on(settings: Settings, env: dict[str, str] | None = None) -> Cli:
    runner = CliRunner()
    environment = {
        "COMMONPURSE_DATABASE_URL": settings.database_url,
        "COMMONPURSE_SIGNING_KEY_FILE": str(settings.signing_key_file),
        **(env or {}),
    }

    def invoke(*args: str, stdin: str | None = None) -> Result:
        return runner.invoke(main, list(args), env=environment, input=stdin, catch_exceptions=False)

    return invoke


@pytest.fixture
def cli(settings: Settings) -> Cli:
    return cli_on(settings)


async def run(cli: Cli, *args: str) -> Result:
    """The command runs its own event loop, so beside the test's, in a thread."""
    return await asyncio.to_thread(cli, *args)


def is_postgres(settings: Settings) -> bool:
    return not settings.is_sqlite


@pytest.fixture
def empty_database(settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    """A second database of the same engine, created but empty (no schema)."""
    if settings.is_sqlite:
        yield Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'restored.db'}")
        return
    name = f"{make_url(POSTGRES_URL).database}_{worker()}_restored"
    asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    asyncio.run(pg_admin(f'CREATE DATABASE "{name}"'))
    yield Settings(database_url=make_url(POSTGRES_URL).set(database=name).render_as_string(False))
    asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def donate(
    session: AsyncSession, world: World, count: int, memo: str, settings: Settings
) -> None:
    """Donations, each with its signed checkpoint (as the server records them)."""
    notary = load_notary(settings)
    for i in range(count):
        await service.record_entry(
            session,
            world.group,
            DonationIn(fund="rent-relief", amount=f"{10 + i}.00", memo=f"{memo} {i}"),
            recorded_by=world.steward.user.id,
            notary=notary,
        )
    await session.commit()


async def ask(session: AsyncSession, world: World, phone: str) -> SupportRequest:
    request = await support.ask(
        session,
        world.group,
        support.AskForm(need="Two weeks of groceries", phone=phone, consent=True),
    )
    await session.commit()
    return request


async def checkpoints_of(session: AsyncSession) -> list[tuple[int, int, str, str]]:
    rows = await session.execute(
        select(Checkpoint.group_id, Checkpoint.size, Checkpoint.root_hash, Checkpoint.note)
        .order_by(Checkpoint.group_id, Checkpoint.size)
        .execution_options(populate_existing=True)
    )
    await session.commit()  # no transaction left open: a restore drops the tables
    return [tuple(row) for row in rows]  # type: ignore[misc]


async def entry_count(session: AsyncSession) -> int:
    count = (await session.execute(select(func.count()).select_from(Entry))).scalar_one()
    await session.commit()
    return count


async def erased_at(session: AsyncSession, request_id: int) -> Any:
    value = (
        await session.execute(
            select(SupportRequest.erased_at).where(SupportRequest.id == request_id)
        )
    ).scalar_one_or_none()
    await session.commit()
    return value


@pytest.mark.parametrize(
    ("db_url", "fmt"),
    [("sqlite", "auto"), ("postgres", "auto"), ("postgres", "logical")],
    indirect=["db_url"],
)
async def test_restore_drill_brings_back_the_ledger_and_keeps_later_erasures(
    cli: Cli,
    session: AsyncSession,
    world: World,
    settings: Settings,
    client: AsyncTestClient[Litestar],
    tmp_path: Path,
    fmt: str,
) -> None:
    await donate(session, world, 6, "before", settings)
    await proposals.create_proposal(
        session, world.group, world.member.user, ProposalIn(title="Buy a chest freezer")
    )
    await session.commit()
    kept = await ask(session, world, "611000001")
    erased_later = await ask(session, world, "611000002")
    checkpoint_url = f"/api/groups/{world.slug}/checkpoint"
    signed_before = (await client.get(checkpoint_url)).text
    checkpoints_before = await checkpoints_of(session)

    backup_file = tmp_path / "instance.cpbackup"
    made = await run(cli, "backup", str(backup_file), "--format", fmt)
    assert made.exit_code == 0, made.output
    assert "1 group(s), 6 entries" in made.output
    manifest = read_manifest(backup_file)
    expected_format = {"sqlite": "sqlite", "postgres": "pg_dump"}[
        "sqlite" if settings.is_sqlite else "postgres"
    ]
    assert manifest.format == (expected_format if fmt == "auto" else fmt)
    assert manifest.revision == (await current_revision(session))
    assert stat.S_IMODE(backup_file.stat().st_mode) == 0o600  # it holds personal data

    # Life goes on after the backup: more money, an erasure, a new request.
    await donate(session, world, 3, "after", settings)
    first_erasure = utcnow() - timedelta(minutes=5)
    request = await session.get(SupportRequest, erased_later.id)
    assert request is not None
    await support.erase(session, request, first_erasure)
    await session.commit()
    await ask(session, world, "611000003")
    assert await entry_count(session) == 9

    restored = await run(cli, "restore", str(backup_file), "--force")
    assert restored.exit_code == 0, restored.output
    assert (
        f"Erased again the details of 1 request(s) erased since the backup: "
        f"{erased_later.pseudonym}." in restored.output
    )
    assert f"{world.slug}: ok: 6 entries verified" in restored.output
    assert "checkpoint 6 as at the backup" in restored.output

    assert await entry_count(session) == 6  # the entries after the backup are gone
    assert await checkpoints_of(session) == checkpoints_before
    assert (await client.get(checkpoint_url)).text == signed_before
    assert await erased_at(session, erased_later.id) == first_erasure
    assert await erased_at(session, kept.id) is None
    assert await current_revision(session) == head_revision()
    verify = await run(cli, "verify", world.slug)
    assert verify.exit_code == 0, verify.output
    # The restored instance takes new entries where the backup left off.
    await donate(session, world, 1, "restored", settings)
    assert (await run(cli, "verify", world.slug)).exit_code == 0


async def current_revision(session: AsyncSession) -> str:
    revision = (await session.execute(text("SELECT version_num FROM alembic_version"))).scalar_one()
    await session.commit()
    return str(revision)


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    from app.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


async def test_restore_refuses_a_database_that_is_not_empty_without_force(
    cli: Cli, session: AsyncSession, world: World, settings: Settings, tmp_path: Path
) -> None:
    await donate(session, world, 2, "before", settings)
    backup_file = tmp_path / "instance.cpbackup"
    assert (await run(cli, "backup", str(backup_file))).exit_code == 0
    await donate(session, world, 1, "after", settings)

    refused = await run(cli, "restore", str(backup_file))
    assert refused.exit_code == 1
    assert refused.output.strip() == (
        "commonpurse: The database is not empty; restore --force replaces everything in it "
        "with the backup."
    )
    assert await entry_count(session) == 3


async def test_a_backup_restores_into_an_empty_database_without_force(
    cli: Cli,
    session: AsyncSession,
    world: World,
    settings: Settings,
    tmp_path: Path,
    empty_database: Settings,
) -> None:
    await donate(session, world, 4, "gift", settings)
    backup_file = tmp_path / "instance.cpbackup"
    assert (await run(cli, "backup", str(backup_file))).exit_code == 0
    elsewhere = cli_on(empty_database)
    restored = await run(elsewhere, "restore", str(backup_file))
    assert restored.exit_code == 0, restored.output
    assert f"{world.slug}: ok: 4 entries verified" in restored.output
    assert (await run(elsewhere, "verify", world.slug)).exit_code == 0


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_without_pg_dump_postgresql_is_backed_up_table_by_table(
    session: AsyncSession, world: World, settings: Settings, tmp_path: Path
) -> None:
    await donate(session, world, 2, "gift", settings)
    no_tools = tmp_path / "bin"
    no_tools.mkdir()
    cli = cli_on(settings, {"PATH": str(no_tools)})
    backup_file = tmp_path / "instance.cpbackup"
    made = await run(cli, "backup", str(backup_file))
    assert made.exit_code == 0, made.output
    manifest = read_manifest(backup_file)
    assert manifest.format == "logical"
    assert {table.name: table.rows for table in manifest.tables}["entries"] == 2
    # A pg_dump backup cannot be restored without PostgreSQL's client programs: said so.
    with_tools = cli_on(settings)
    dumped = tmp_path / "dumped.cpbackup"
    assert (await run(with_tools, "backup", str(dumped), "--format", "pg_dump")).exit_code == 0
    refused = await run(cli, "restore", str(dumped), "--force")
    assert refused.exit_code == 1
    assert "needs pg_restore (PostgreSQL's client programs)" in refused.output
    # The logical one restores with nothing but Python.
    restored = await run(cli, "restore", str(backup_file), "--force")
    assert restored.exit_code == 0, restored.output


def rewrite(source: Path, target: Path, change: Callable[[str, bytes], bytes | None]) -> None:
    """A copy of a zip with some members changed (or left out, when ``change`` says None)."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            content = change(info.filename, old.read(info.filename))
            if content is not None:
                new.writestr(info.filename, content)


def flip_a_byte(name: str, content: bytes) -> bytes:
    if name == "manifest.json":
        return content
    middle = len(content) // 2
    return content[:middle] + bytes([content[middle] ^ 0xFF]) + content[middle + 1 :]


def other_revision(name: str, content: bytes) -> bytes:
    if name != "manifest.json":
        return content
    return json.dumps({**json.loads(content), "revision": "9999"}).encode()


def as_other_engine(good: Path, bad: Path) -> None:
    """A whole backup of the other engine: a SQLite file passed off as a pg_dump one, or the
    other way round."""
    with zipfile.ZipFile(good) as old:
        manifest = json.loads(old.read("manifest.json"))
        ((member, _),) = manifest["files"].items()
        payload = old.read(member)
    engine, fmt, member = (
        ("postgresql", "pg_dump", "database.pgdump")
        if manifest["engine"] == "sqlite"
        else ("sqlite", "sqlite", "database.sqlite3")
    )
    manifest.update(engine=engine, format=fmt, files={member: hashlib.sha256(payload).hexdigest()})
    with zipfile.ZipFile(bad, "w") as new:
        new.writestr(member, payload)
        new.writestr("manifest.json", json.dumps(manifest))


def no_parts(name: str, content: bytes) -> bytes:
    if name != "manifest.json":
        return content
    return json.dumps({**json.loads(content), "files": {}}).encode()


DAMAGED: dict[str, tuple[Callable[[Path, Path], None], str]] = {
    "not a zip": (
        lambda _good, bad: bad.write_bytes(b"SQLite format 3\x00" + os.urandom(4000)),
        "is not a Common Purse backup, or it is damaged",
    ),
    "cut short": (
        lambda good, bad: bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2]),
        "is not a Common Purse backup, or it is damaged",
    ),
    "a zip of something else": (
        lambda good, bad: rewrite(good, bad, lambda n, c: None if n == "manifest.json" else c),
        "is not a Common Purse backup (it has no valid manifest.json)",
    ),
    "a changed byte": (
        lambda good, bad: rewrite(good, bad, flip_a_byte),
        "is damaged: database.",
    ),
    "an unknown schema": (
        lambda good, bad: rewrite(good, bad, other_revision),
        "schema revision 9999 is unknown to this version of Common Purse",
    ),
    "the other engine": (as_other_engine, "COMMONPURSE_DATABASE_URL names a"),
    "a manifest that does not match its parts": (
        lambda good, bad: rewrite(good, bad, no_parts),
        "has a damaged manifest.json (its parts do not match its format)",
    ),
}


@pytest.mark.parametrize("damage", list(DAMAGED))
async def test_a_damaged_or_foreign_file_is_refused_and_changes_nothing(
    cli: Cli, session: AsyncSession, world: World, settings: Settings, tmp_path: Path, damage: str
) -> None:
    await donate(session, world, 2, "gift", settings)
    good = tmp_path / "good.cpbackup"
    assert (await run(cli, "backup", str(good))).exit_code == 0
    await donate(session, world, 1, "after", settings)
    make, message = DAMAGED[damage]
    bad = tmp_path / "bad.cpbackup"
    make(good, bad)

    refused = await run(cli, "restore", str(bad), "--force")
    assert refused.exit_code == 1
    assert message in refused.output
    assert len(refused.output.strip().splitlines()) == 1
    assert "Traceback" not in refused.output
    assert await entry_count(session) == 3


def garbage_payload(name: str, content: bytes) -> bytes:
    """The payload replaced by bytes that are no database, its checksum made to match: a
    backup that is whole but cannot be restored."""
    if name.startswith("database."):
        return b"not a database " * 1000
    manifest = json.loads(content)
    for member in manifest["files"]:
        manifest["files"][member] = hashlib.sha256(b"not a database " * 1000).hexdigest()
    return json.dumps(manifest).encode()


async def test_a_restore_that_fails_leaves_the_database_as_it_was(
    cli: Cli, session: AsyncSession, world: World, settings: Settings, tmp_path: Path
) -> None:
    """SQLite: the copy is prepared apart; pg_dump: dropping the old tables and loading the
    dump are one transaction."""
    await donate(session, world, 2, "gift", settings)
    good = tmp_path / "good.cpbackup"
    assert (await run(cli, "backup", str(good))).exit_code == 0
    await donate(session, world, 1, "after", settings)
    bad = tmp_path / "bad.cpbackup"
    rewrite(good, bad, garbage_payload)

    failed = await run(cli, "restore", str(bad), "--force")
    assert failed.exit_code == 1
    assert "the database was left as it was" in failed.output
    assert "Traceback" not in failed.output
    assert await entry_count(session) == 3
    assert (await run(cli, "verify", world.slug)).exit_code == 0


@pytest.mark.parametrize(
    ("db_url", "fmt"), [("postgres", "pg_dump"), ("postgres", "logical")], indirect=["db_url"]
)
async def test_a_restore_while_the_database_is_in_use_stops_and_says_why(
    cli: Cli,
    session: AsyncSession,
    world: World,
    settings: Settings,
    tmp_path: Path,
    fmt: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A transaction left open (a server still running) would make the drop wait forever."""
    monkeypatch.setattr("app.backup.LOCK_TIMEOUT", "SET LOCAL lock_timeout = '1s';")
    await donate(session, world, 2, "gift", settings)
    backup_file = tmp_path / "instance.cpbackup"
    assert (await run(cli, "backup", str(backup_file), "--format", fmt)).exit_code == 0
    await session.execute(select(Entry.id).limit(1))  # holds a lock on entries

    stopped = await run(cli, "restore", str(backup_file), "--force")
    await session.rollback()
    assert stopped.exit_code == 1
    assert "lock timeout (is the server still running? stop it first)" in stopped.output
    assert await entry_count(session) == 2


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_sqlite_database_that_cannot_be_read_is_replaced_with_force_and_kept_aside(
    cli: Cli, session: AsyncSession, world: World, settings: Settings, tmp_path: Path
) -> None:
    await donate(session, world, 3, "gift", settings)
    backup_file = tmp_path / "instance.cpbackup"
    assert (await run(cli, "backup", str(backup_file))).exit_code == 0
    await session.close()
    database = sqlite_path(settings.database_url)
    assert database is not None
    for suffix in ("-wal", "-shm"):
        database.with_name(database.name + suffix).unlink(missing_ok=True)
    database.write_bytes(b"\x00 a disk that failed " * 2000)

    refused = await run(cli, "restore", str(backup_file))
    assert refused.exit_code == 1
    assert refused.output.startswith("commonpurse: The database cannot be read (")
    assert refused.output.strip().endswith("; restore --force replaces it.")

    restored = await run(cli, "restore", str(backup_file), "--force")
    assert restored.exit_code == 0, restored.output
    assert "The database could not be read; it was kept as " in restored.output
    (kept,) = database.parent.glob(f"{database.name}.unreadable-*")
    assert kept.read_bytes().startswith(b"\x00 a disk that failed")
    assert f"{world.slug}: ok: 3 entries verified" in restored.output
    assert (await run(cli, "verify", world.slug)).exit_code == 0


@pytest.mark.parametrize(
    ("db_url", "fmt"),
    [("sqlite", "auto"), ("postgres", "auto"), ("postgres", "logical")],
    indirect=["db_url"],
)
async def test_a_backup_of_an_older_schema_is_restored_and_brought_to_the_newest(
    cli: Cli, settings: Settings, tmp_path: Path, empty_database: Settings, fmt: str
) -> None:
    await asyncio.to_thread(upgrade, empty_database.database_url, "0005")
    old = cli_on(empty_database)
    # A row, so that the restore has something to carry; written as that schema has it (the
    # commands of today read the columns of today).
    users = table(
        "users", column("email"), column("name"), column("created_at", DateTimeUTC(timezone=True))
    )
    engine = create_engine(empty_database)
    async with engine.begin() as connection:
        await connection.execute(
            insert(users).values(email="ana@example.org", name="Ana", created_at=utcnow())
        )
    await engine.dispose()
    backup_file = tmp_path / "old.cpbackup"
    made = await run(old, "backup", str(backup_file), "--format", fmt)
    assert made.exit_code == 0, made.output
    assert read_manifest(backup_file).revision == "0005"

    restored = await run(cli, "restore", str(backup_file), "--force")
    assert restored.exit_code == 0, restored.output
    assert f"the database is at schema {head_revision()}." in restored.output
    token = await run(cli, "token", "add", "ana@example.org")
    assert token.exit_code == 0, token.output


async def test_a_backup_taken_while_a_server_appends_is_one_consistent_moment(
    settings: Settings,
    world: World,
    tmp_path: Path,
    empty_database: Settings,
    session: AsyncSession,
) -> None:
    """Appends from concurrent clients to a two-worker server go on during the backup; the
    copy verifies, and holds at least what was acknowledged before it began."""
    policy = await adopt_policy(session, world, fund="groceries")
    server = ServerProcess(settings, tmp_path)
    await asyncio.to_thread(server.start)
    try:
        entries = f"{server.base}/api/groups/{world.slug}/entries"
        opening = {"kind": "donation", "fund": "groceries", "amount": "900.00"}
        response = await asyncio.to_thread(
            httpx.post, entries, json=opening, headers=world.steward.headers
        )
        assert response.status_code == 201, response.text
        load = Load(entries, world.steward.headers)
        loading = asyncio.create_task(
            asyncio.to_thread(
                load.run, appends(4000, fund="groceries", prefix="during", policy=policy), 6
            )
        )
        assert await asyncio.to_thread(load.when_acknowledged(20).wait, REQUEST_TIMEOUT)
        acknowledged_before = load.acknowledged
        backup_file = tmp_path / "during.cpbackup"
        made = await asyncio.to_thread(
            commonpurse, server.env, "backup", str(backup_file), cwd=tmp_path
        )
        assert made.returncode == 0, made.stderr
        acknowledged_after = load.acknowledged
        load.stop.set()
        await loading
    finally:
        await asyncio.to_thread(server.kill)
    assert acknowledged_after > acknowledged_before, "the appends stopped during the backup"

    manifest = read_manifest(backup_file)
    (group,) = manifest.groups
    assert acknowledged_before < group.entries <= load.acknowledged + 1  # and the opening
    elsewhere = cli_on(empty_database)
    restored = await run(elsewhere, "restore", str(backup_file))
    assert restored.exit_code == 0, restored.output
    assert f"{world.slug}: ok: {group.entries} entries verified" in restored.output
    assert (await run(elsewhere, "verify", world.slug)).exit_code == 0


async def test_a_backup_that_cannot_be_made_says_why_in_one_line(
    cli: Cli, settings: Settings, tmp_path: Path
) -> None:
    other_format = "logical" if settings.is_sqlite else "sqlite"
    wrong = await run(cli, "backup", str(tmp_path / "x.cpbackup"), "--format", other_format)
    assert wrong.exit_code == 1
    assert wrong.output.startswith("commonpurse: A ")
    assert "database is backed up as" in wrong.output
    nowhere = await run(cli, "backup", str(tmp_path / "no" / "such" / "x.cpbackup"))
    assert nowhere.exit_code == 1
    assert "There is no directory" in nowhere.output
    assert len(nowhere.output.strip().splitlines()) == 1
