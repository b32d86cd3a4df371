"""Backups that restore: a consistent copy of the instance's database taken while it
serves, and the way back to it.

A backup is one zip file. ``manifest.json`` says what it holds: the engine and format, the
schema revision (Alembic), when it was taken, each group's log (entries and latest signed
checkpoint) at that moment, and the SHA-256 of every other member. The payload is one of:

- ``sqlite``: ``database.sqlite3``, a copy made with SQLite's online backup API in one read
  transaction (WAL: the server goes on writing meanwhile);
- ``pg_dump``: ``database.pgdump``, pg_dump's custom format, taken in a snapshot exported
  from the transaction that reads the manifest, so both see the same moment;
- ``logical`` (PostgreSQL without pg_dump): ``tables/<table>.jsonl``, every row of every
  table as a JSON array, read in one REPEATABLE READ transaction, tables in foreign-key
  order.

A restore refuses to replace a database that holds anything unless forced. It reads first,
from the database it replaces, which requests for support were erased; then it puts the
copy in place (SQLite: prepared apart and copied in with the backup API, in one write
transaction; pg_dump: the old tables dropped and the dump loaded in one transaction;
logical: the schema rebuilt at the backup's revision and the rows loaded), migrates it to
the newest schema, erases again the details erased since the backup, and checks every
group's log and that its latest checkpoint is the one the backup recorded.

Backups hold personal data until they are deleted (an erasure after a backup does not
reach into it): the file is written with mode 0600, and the README says how long to keep
them.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import msgspec
from sqlalchemy import MetaData, Table, inspect, select, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.db import create_engine, create_session_maker, sqlite_path
from app.settings import Settings

FORMATS = ("auto", "sqlite", "pg_dump", "logical")
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database.sqlite3"
PG_DUMP_MEMBER = "database.pgdump"
TABLES_DIR = "tables/"
MAGIC = "commonpurse-backup"
VERSION = 1
_CHUNK = 1 << 20
_ROWS_PER_BATCH = 1_000
# Dropping the tables waits for no open transaction longer than this: a server still
# running is named as the likely cause instead of a restore that hangs.
LOCK_TIMEOUT = "SET LOCAL lock_timeout = '10s';"
# The summary every format records: each group's log as the backup saw it.
_GROUPS_SQL = """
SELECT g.slug,
       (SELECT COUNT(*) FROM entries e WHERE e.group_id = g.id),
       c.size, c.root_hash
FROM groups g
LEFT JOIN checkpoints c ON c.group_id = g.id
 AND c.size = (SELECT MAX(size) FROM checkpoints WHERE group_id = g.id)
ORDER BY g.slug
"""


class BackupError(Exception):
    """A backup or a restore cannot go on; the message says why in one sentence."""


@dataclass(frozen=True, slots=True)
class GroupAtBackup:
    slug: str
    entries: int
    checkpoint_size: int | None
    root_hash: str | None


@dataclass(frozen=True, slots=True)
class TableAtBackup:
    name: str
    columns: list[str]
    rows: int


@dataclass(frozen=True, slots=True)
class Manifest:
    engine: str  # "sqlite" or "postgresql"
    format: str  # "sqlite", "pg_dump" or "logical"
    revision: str
    created_at: str
    groups: list[GroupAtBackup]
    files: dict[str, str]  # member -> SHA-256
    tables: list[TableAtBackup] = field(default_factory=list)  # logical only

    @property
    def entries(self) -> int:
        return sum(group.entries for group in self.groups)

    def describe(self) -> str:
        if self.engine == "sqlite":
            return f"a SQLite backup (schema {self.revision}) taken {self.created_at}"
        return (
            f"a PostgreSQL backup ({self.format}, schema {self.revision}) taken {self.created_at}"
        )


@dataclass(frozen=True, slots=True)
class ErasedRequest:
    """A request whose details the database being replaced had erased (no personal data:
    its id, group, pseudonym and when)."""

    id: int
    group_id: int
    pseudonym: str
    erased_at: datetime


@dataclass(slots=True)
class RestoreReport:
    manifest: Manifest
    revision: str
    erased_again: list[str]
    groups: list[str]  # one line per group: its log and checkpoint
    ok: bool
    set_aside: Path | None = None  # where an unreadable SQLite database was kept


# --- taking a backup --------------------------------------------------------------------------


async def backup(settings: Settings, path: Path, fmt: str = "auto") -> Manifest:
    """Write a backup of the instance's database to ``path`` (replaced whole, or not at
    all: the zip is written beside it and renamed when complete)."""
    if fmt not in FORMATS:
        raise BackupError(f"Unknown backup format {fmt!r}; choose one of {', '.join(FORMATS)}.")
    if not path.parent.is_dir():
        raise BackupError(f"There is no directory {path.parent} to write the backup in.")
    if settings.is_sqlite:
        if fmt not in ("auto", "sqlite"):
            raise BackupError(f"A SQLite database is backed up as 'sqlite', not {fmt!r}.")
        try:
            return await asyncio.to_thread(_backup_sqlite, _sqlite_file(settings), path)
        except (sqlite3.Error, OSError) as error:
            raise BackupError(f"The backup failed: {_reason(error)}") from error
    if fmt == "sqlite":
        raise BackupError("A PostgreSQL database is backed up as 'pg_dump' or 'logical'.")
    if fmt == "auto":
        fmt = "pg_dump" if shutil.which("pg_dump") else "logical"
    engine = create_engine(settings)
    try:
        if fmt == "pg_dump":
            return await _backup_pg_dump(engine, settings.database_url, path)
        return await _backup_logical(engine, path)
    except (SQLAlchemyError, OSError) as error:
        raise BackupError(f"The backup failed: {_reason(error)}") from error
    finally:
        await engine.dispose()


def _sqlite_file(settings: Settings) -> Path:
    database = sqlite_path(settings.database_url)
    if database is None:
        raise BackupError("An in-memory SQLite database cannot be backed up or restored.")
    return database


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _backup_sqlite(database: Path, path: Path) -> Manifest:
    if not database.is_file():
        raise BackupError(f"There is no database at {database}.")
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        copy = Path(tmp) / SQLITE_MEMBER
        source = sqlite3.connect(database, timeout=30)
        target = sqlite3.connect(copy)
        try:
            # One step (pages=-1): the whole copy is read in one read transaction, so it is
            # one moment of the database however much the server writes meanwhile.
            source.backup(target)
            # A file of its own, with no write-ahead log beside it.
            target.execute("PRAGMA journal_mode=DELETE")
            if target.execute("PRAGMA quick_check").fetchone() != ("ok",):
                raise BackupError("The copy of the database failed SQLite's quick_check.")
            revision = _revision_of(target.execute)
            groups = _groups_of(target.execute)
        finally:
            target.close()
            source.close()
        manifest = Manifest(
            engine="sqlite",
            format="sqlite",
            revision=revision,
            created_at=_now(),
            groups=groups,
            files={SQLITE_MEMBER: _sha256_file(copy)},
        )
        with _zip_beside(path) as archive:
            archive.write(copy, SQLITE_MEMBER, compress_type=zipfile.ZIP_DEFLATED)
            archive.writestr(MANIFEST, _encode_manifest(manifest))
    return manifest


def _revision_of(execute: Any) -> str:
    try:
        row = execute("SELECT version_num FROM alembic_version").fetchone()
    except (sqlite3.Error, SQLAlchemyError) as error:
        raise BackupError(
            "The database has no Common Purse schema (run: commonpurse db upgrade)."
        ) from error
    if row is None:
        raise BackupError("The database has no Common Purse schema (run: commonpurse db upgrade).")
    return str(row[0])


def _groups_of(execute: Any) -> list[GroupAtBackup]:
    return [
        GroupAtBackup(slug, int(entries), None if size is None else int(size), root)
        for slug, entries, size, root in execute(_GROUPS_SQL).fetchall()
    ]


async def _read_snapshot(connection: AsyncConnection) -> tuple[str, list[GroupAtBackup]]:
    def read(sync: Connection) -> tuple[str, list[GroupAtBackup]]:
        def execute(sql: str) -> Any:
            return sync.execute(text(sql))

        return _revision_of(execute), _groups_of(execute)

    return await connection.run_sync(read)


async def _backup_pg_dump(engine: AsyncEngine, url: str, path: Path) -> Manifest:
    async with engine.connect() as connection:
        connection = await connection.execution_options(isolation_level="REPEATABLE READ")
        await connection.execute(text("SET TRANSACTION READ ONLY"))
        # pg_dump reads in this transaction's snapshot: the manifest and the dump are the
        # same moment of the database.
        snapshot = (await connection.execute(text("SELECT pg_export_snapshot()"))).scalar_one()
        revision, groups = await _read_snapshot(connection)
        with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
            dump = Path(tmp) / PG_DUMP_MEMBER
            await asyncio.to_thread(
                _run_client,
                ["pg_dump", "--format=custom", f"--snapshot={snapshot}", f"--file={dump}"],
                url,
            )
            await connection.rollback()
            manifest = Manifest(
                engine="postgresql",
                format="pg_dump",
                revision=revision,
                created_at=_now(),
                groups=groups,
                files={PG_DUMP_MEMBER: _sha256_file(dump)},
            )
            with _zip_beside(path) as archive:
                # Already compressed by pg_dump.
                archive.write(dump, PG_DUMP_MEMBER, compress_type=zipfile.ZIP_STORED)
                archive.writestr(MANIFEST, _encode_manifest(manifest))
    return manifest


async def _backup_logical(engine: AsyncEngine, path: Path) -> Manifest:
    async with engine.connect() as connection:
        connection = await connection.execution_options(isolation_level="REPEATABLE READ")
        await connection.execute(text("SET TRANSACTION READ ONLY"))
        revision, groups = await _read_snapshot(connection)
        tables = await _project_tables(connection)
        files: dict[str, str] = {}
        described: list[TableAtBackup] = []
        with _zip_beside(path) as archive:
            for table in tables:
                member = f"{TABLES_DIR}{table.name}.jsonl"
                digest = hashlib.sha256()
                rows = 0
                with archive.open(member, "w") as out:
                    ordered = select(table).order_by(*_order_of(table))
                    result = await connection.stream(ordered)
                    async for batch in result.partitions(_ROWS_PER_BATCH):
                        chunk = b"".join(
                            msgspec.json.encode([_encode(value) for value in row]) + b"\n"
                            for row in batch
                        )
                        digest.update(chunk)
                        out.write(chunk)
                        rows += len(batch)
                files[member] = digest.hexdigest()
                columns = [str(column.name) for column in table.columns]
                described.append(TableAtBackup(str(table.name), columns, rows))
            await connection.rollback()
            manifest = Manifest(
                engine="postgresql",
                format="logical",
                revision=revision,
                created_at=_now(),
                groups=groups,
                files=files,
                tables=described,
            )
            archive.writestr(MANIFEST, _encode_manifest(manifest))
    return manifest


async def _project_tables(connection: AsyncConnection) -> list[Table]:
    """The database's own tables in foreign-key order (parents first), as they are at its
    revision, not as today's models describe them; the Alembic bookkeeping is left out."""
    metadata = MetaData()
    await connection.run_sync(lambda sync: metadata.reflect(sync))
    return [table for table in metadata.sorted_tables if table.name != "alembic_version"]


def _order_of(table: Table) -> list[Any]:
    return list(table.primary_key.columns) or list(table.columns)


# Values in the logical format: JSON, with the types JSON lacks tagged so they come back
# exactly (an aware timestamp stays aware, bytes stay bytes).
def _encode(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str | float):
        return value
    if isinstance(value, datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, date):
        return {"date": value.isoformat()}
    if isinstance(value, bytes | memoryview):
        return {"bytes": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, Decimal):
        return {"decimal": str(value)}
    if isinstance(value, dict | list):
        return {"json": value}
    raise BackupError(f"A value of type {type(value).__name__} cannot be backed up.")


def _decode(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    ((tag, inner),) = value.items()
    if tag == "datetime":
        return datetime.fromisoformat(inner)
    if tag == "date":
        return date.fromisoformat(inner)
    if tag == "bytes":
        return base64.b64decode(inner)
    if tag == "decimal":
        return Decimal(inner)
    if tag == "json":
        return inner
    raise ValueError(f"unknown tag {tag!r}")


# --- files ------------------------------------------------------------------------------------


@contextmanager
def _zip_beside(path: Path) -> Iterator[zipfile.ZipFile]:
    """A zip written next to ``path`` and renamed over it once complete and on disk: a
    crash leaves the previous backup, never half of a new one. Mode 0600: it holds
    personal data."""
    if not path.parent.is_dir():
        raise BackupError(f"There is no directory {path.parent} to write the backup in.")
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as raw:
            with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
                yield archive
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(partial, path)
    except BaseException:
        with suppress(FileNotFoundError):
            partial.unlink()
        raise


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _encode_manifest(manifest: Manifest) -> bytes:
    return msgspec.json.format(
        msgspec.json.encode({"kind": MAGIC, "version": VERSION, **msgspec.to_builtins(manifest)}),
        indent=2,
    )


def read_manifest(path: Path) -> Manifest:
    """The manifest of a backup, after checking that every member is whole (its SHA-256);
    a damaged or foreign file is refused with a clear message."""
    with _open_backup(path) as archive:
        return _checked_manifest(path, archive)


@contextmanager
def _open_backup(path: Path) -> Iterator[zipfile.ZipFile]:
    if not path.is_file():
        raise BackupError(f"There is no file {path}.")
    try:
        with zipfile.ZipFile(path) as archive:
            yield archive
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as error:
        raise BackupError(
            f"{path} is not a Common Purse backup, or it is damaged ({error})."
        ) from error


def _checked_manifest(path: Path, archive: zipfile.ZipFile) -> Manifest:
    not_ours = f"{path} is not a Common Purse backup (it has no valid {MANIFEST})."
    try:
        document = json.loads(archive.read(MANIFEST))
    except (KeyError, ValueError) as error:
        raise BackupError(not_ours) from error
    if not isinstance(document, dict) or document.get("kind") != MAGIC:
        raise BackupError(not_ours)
    if document.get("version") != VERSION:
        raise BackupError(
            f"{path} is a backup of format version {document.get('version')}; this version of "
            f"Common Purse reads version {VERSION}."
        )
    document.pop("kind")
    document.pop("version")
    try:
        manifest = msgspec.convert(document, Manifest)
    except msgspec.ValidationError as error:
        raise BackupError(f"{path} has a damaged {MANIFEST} ({error}).") from error
    if set(manifest.files) != _payload_of(manifest):
        raise BackupError(f"{path} has a damaged {MANIFEST} (its parts do not match its format).")
    names = set(archive.namelist())
    for member, expected in manifest.files.items():
        if member not in names:
            raise BackupError(f"{path} is damaged: {member} is missing.")
        digest = hashlib.sha256()
        with archive.open(member) as file:
            while chunk := file.read(_CHUNK):
                digest.update(chunk)
        if digest.hexdigest() != expected:
            raise BackupError(f"{path} is damaged: {member} is not what was backed up.")
    return manifest


def _payload_of(manifest: Manifest) -> set[str]:
    """The members a backup of the manifest's engine and format must hold, each checked."""
    if (manifest.engine, manifest.format) == ("sqlite", "sqlite"):
        return {SQLITE_MEMBER}
    if (manifest.engine, manifest.format) == ("postgresql", "pg_dump"):
        return {PG_DUMP_MEMBER}
    if (manifest.engine, manifest.format) == ("postgresql", "logical"):
        return {f"{TABLES_DIR}{table.name}.jsonl" for table in manifest.tables}
    return {f"unknown format {manifest.format!r} of {manifest.engine!r}"}


# --- PostgreSQL's client programs ---------------------------------------------------------------


def _libpq_env(url: str) -> dict[str, str]:
    """The connection as libpq's variables, so no password appears on a command line."""
    parsed = make_url(url)
    values = {
        "PGHOST": parsed.host,
        "PGPORT": str(parsed.port) if parsed.port else None,
        "PGUSER": parsed.username,
        "PGPASSWORD": parsed.password,
        "PGDATABASE": parsed.database,
    }
    ssl = parsed.query.get("ssl") or parsed.query.get("sslmode")
    if isinstance(ssl, str):
        values["PGSSLMODE"] = ssl
    return {**os.environ, **{key: value for key, value in values.items() if value}}


def _client(name: str, needed_for: str) -> str:
    program = shutil.which(name)
    if program is None:
        raise BackupError(f"{needed_for} needs {name} (PostgreSQL's client programs).")
    return program


def _run_client(args: Sequence[str], url: str) -> None:
    result = subprocess.run(  # noqa: S603  (our own arguments, no shell)
        [_client(args[0], "This backup"), *args[1:]],
        env=_libpq_env(url),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise BackupError(f"{args[0]} failed: {_last_line(result.stderr)}")


def _last_line(output: str) -> str:
    lines = [line for line in output.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


# --- restoring ----------------------------------------------------------------------------------


async def restore(settings: Settings, path: Path, *, force: bool = False) -> RestoreReport:
    """Put the backup at ``path`` in place of the instance's database (see the module's
    docstring for the steps)."""
    manifest = read_manifest(path)
    engine_name = "sqlite" if settings.is_sqlite else "postgresql"
    if manifest.engine != engine_name:
        here = "SQLite" if settings.is_sqlite else "PostgreSQL"
        raise BackupError(
            f"{path} is {manifest.describe()}; COMMONPURSE_DATABASE_URL names a {here} database."
        )
    _check_revision_is_known(manifest.revision, settings.database_url)
    set_aside: Path | None = None
    try:
        erased, holds_data = await _what_is_there(settings)
    except (SQLAlchemyError, sqlite3.Error) as error:
        # A database that cannot be read is what a restore is for; --force replaces it
        # (SQLite: the file is kept aside, not deleted).
        if not (force and settings.is_sqlite):
            advice = "; restore --force replaces it." if settings.is_sqlite else "."
            raise BackupError(f"The database cannot be read ({_reason(error)}){advice}") from error
        set_aside = _set_aside(_sqlite_file(settings))
        erased, holds_data = [], False
    if holds_data and not force:
        raise BackupError(
            "The database is not empty; restore --force replaces everything in it with the backup."
        )
    try:
        if settings.is_sqlite:
            erased_again = await _restore_sqlite(settings, path, erased)
        else:
            if manifest.format == "pg_dump":
                await _restore_pg_dump(settings, path)
            else:
                await _restore_logical(settings, path, manifest, erased)
            await asyncio.to_thread(_upgrade, settings.database_url)
            erased_again = await _erase_again(settings, erased)
        report = await _check_restored(settings, manifest, erased_again)
    except (SQLAlchemyError, OSError) as error:
        raise BackupError(f"The restore failed: {_reason(error)}") from error
    report.set_aside = set_aside
    return report


async def _what_is_there(settings: Settings) -> tuple[list[ErasedRequest], bool]:
    """What the database to be replaced had erased, and whether it holds anything."""
    if settings.is_sqlite and not _sqlite_file(settings).exists():
        return [], False
    return await _erased_requests(settings), await _holds_data(settings)


def _set_aside(database: Path) -> Path:
    aside = database.with_name(f"{database.name}.unreadable-{_now()}")
    for suffix in ("", "-wal", "-shm"):
        with suppress(FileNotFoundError):
            database.with_name(database.name + suffix).rename(aside.with_name(aside.name + suffix))
    return aside


def _reason(error: BaseException) -> str:
    """The first line of a driver's message, with a hint for the usual cause."""
    reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
    if "lock timeout" in reason:
        reason += " (is the server still running? stop it first)"
    return reason


def _upgrade(url: str, revision: str = "head") -> None:
    """Alembic's upgrade, imported only when a restore needs it (the command line starts
    faster without it)."""
    from app.migrate import upgrade

    upgrade(url, revision)


def _check_revision_is_known(revision: str, url: str) -> None:
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    from app.migrate import alembic_config

    scripts = ScriptDirectory.from_config(alembic_config(url))
    try:
        known = scripts.get_revision(revision)
    except CommandError:
        known = None
    if known is None:
        raise BackupError(
            f"The backup's schema revision {revision} is unknown to this version of Common "
            "Purse; restore it with the version that made it, or a newer one."
        )


async def _holds_data(settings: Settings) -> bool:
    engine = create_engine(settings)
    try:
        async with engine.connect() as connection:
            for table in await _project_tables(connection):
                found = await connection.execute(select(text("1")).select_from(table).limit(1))
                if found.first() is not None:
                    return True
            return False
    finally:
        await engine.dispose()


async def _erased_requests(settings: Settings) -> list[ErasedRequest]:
    """What the database being replaced had erased (nothing when it has no such table)."""
    from proposals.models import SupportRequest

    engine = create_engine(settings)
    try:
        async with engine.connect() as connection:
            has_table = await connection.run_sync(
                lambda sync: inspect(sync).has_table(SupportRequest.__tablename__)
            )
            if not has_table:
                return []
            rows = await connection.execute(
                select(
                    SupportRequest.id,
                    SupportRequest.group_id,
                    SupportRequest.pseudonym,
                    SupportRequest.erased_at,
                )
                .where(SupportRequest.erased_at.is_not(None))
                .order_by(SupportRequest.id)
            )
            return [
                ErasedRequest(request_id, group_id, pseudonym, erased_at)
                for request_id, group_id, pseudonym, erased_at in rows
                if erased_at is not None
            ]
    finally:
        await engine.dispose()


async def _erase_again(settings: Settings, erased: Iterable[ErasedRequest]) -> list[str]:
    """Erase again, in the restored database, what was erased since the backup was taken
    (the same request: same id, group and pseudonym), dated when it was first erased."""
    from app.jobs import forget_erased_pages
    from proposals.models import SupportRequest
    from proposals.support import erase

    pending = list(erased)
    if not pending:
        return []
    done: list[str] = []
    engine = create_engine(settings)
    try:
        async with create_session_maker(engine)() as session, session.begin():
            for was in pending:
                request = await session.get(SupportRequest, was.id)
                if (
                    request is None
                    or request.group_id != was.group_id
                    or request.pseudonym != was.pseudonym
                    or request.erased_at is not None
                ):
                    continue
                await erase(session, request, was.erased_at)
                done.append(request.pseudonym)
        if done:
            await forget_erased_pages(engine)
    finally:
        await engine.dispose()
    return done


def _extract(path: Path, member: str, to: Path) -> None:
    with _open_backup(path) as archive, archive.open(member) as source, to.open("wb") as out:
        shutil.copyfileobj(source, out, _CHUNK)


async def _restore_sqlite(settings: Settings, path: Path, erased: list[ErasedRequest]) -> list[str]:
    """Prepare the copy apart (migrated, erasures applied again), then copy it over the
    database with the backup API: one write transaction, so the database is either the old
    one or the restored one, never a mix."""
    database = _sqlite_file(settings)
    database.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=database.parent) as tmp:
        staged = Path(tmp) / "restoring.sqlite3"
        _extract(path, SQLITE_MEMBER, staged)
        staged_settings = Settings(database_url=f"sqlite+aiosqlite:///{staged}")
        try:
            await asyncio.to_thread(_quick_check, staged)
            await asyncio.to_thread(_upgrade, staged_settings.database_url)
            erased_again = await _erase_again(staged_settings, erased)
        except (sqlite3.Error, SQLAlchemyError) as error:
            raise BackupError(
                f"The backup's database cannot be restored ({error}); the database was left "
                "as it was."
            ) from error
        await asyncio.to_thread(_copy_sqlite, staged, database)
    return erased_again


def _quick_check(database: Path) -> None:
    connection = sqlite3.connect(database)
    try:
        if connection.execute("PRAGMA quick_check").fetchone() != ("ok",):
            raise sqlite3.DatabaseError("it fails SQLite's quick_check")
    finally:
        connection.close()


def _copy_sqlite(source_path: Path, target_path: Path) -> None:
    source = sqlite3.connect(source_path)
    target = sqlite3.connect(target_path, timeout=30)
    try:
        source.backup(target)
        # Fold the write-ahead log into the file: no page of the replaced database stays in it.
        target.execute("PRAGMA journal_mode=WAL")
        target.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        target.close()
        source.close()


async def _clear_statements(connection: AsyncConnection) -> list[str]:
    """SQL that drops every table and function of the schema (the append-only triggers go
    with their tables), so the restored copy finds nothing in its way."""
    tables = (
        await connection.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        )
    ).scalars()
    functions = (
        await connection.execute(
            text(
                "SELECT p.oid::regprocedure::text FROM pg_proc p "
                "JOIN pg_namespace n ON n.oid = p.pronamespace "
                "WHERE n.nspname = current_schema() AND NOT EXISTS ("
                " SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')"
            )
        )
    ).scalars()
    names = [f'"{name}"' for name in tables]
    statements = [f"DROP TABLE IF EXISTS {', '.join(names)} CASCADE;"] if names else []
    statements += [f"DROP FUNCTION IF EXISTS {function} CASCADE;" for function in functions]
    return statements


async def _restore_pg_dump(settings: Settings, path: Path) -> None:
    """Drop the old tables and load the dump in one transaction (psql --single-transaction
    reading pg_restore's script): a failure leaves the old database as it was."""
    programs = [_client(name, "Restoring a pg_dump backup") for name in ("pg_restore", "psql")]
    engine = create_engine(settings)
    try:
        async with engine.connect() as connection:
            clear = await _clear_statements(connection)
    finally:
        await engine.dispose()
    with tempfile.TemporaryDirectory() as tmp:
        dump = Path(tmp) / PG_DUMP_MEMBER
        _extract(path, PG_DUMP_MEMBER, dump)
        await asyncio.to_thread(
            _pipe_restore, programs, dump, clear, settings.database_url, Path(tmp) / "psql.log"
        )


def _pipe_restore(programs: list[str], dump: Path, clear: list[str], url: str, log: Path) -> None:
    """pg_restore writes the dump as SQL, psql runs it after the drops inside one
    transaction, and COMMIT is sent only once pg_restore has read the whole dump: a dump
    that fails part way ends psql's input without it, and the server rolls it all back."""
    pg_restore, psql = programs
    env = _libpq_env(url)
    with log.open("w+") as errors:
        script = subprocess.Popen(  # noqa: S603  (our own arguments, no shell)
            [pg_restore, "--no-owner", "--no-privileges", "--file=-", str(dump)],
            stdout=subprocess.PIPE,
            stderr=errors,
            env=env,
        )
        loader = subprocess.Popen(  # noqa: S603
            [psql, "--no-psqlrc", "--quiet", "--set=ON_ERROR_STOP=1"],
            stdin=subprocess.PIPE,
            stderr=errors,
            stdout=subprocess.DEVNULL,
            env=env,
        )
        assert script.stdout is not None
        assert loader.stdin is not None
        try:
            start = ["BEGIN;", LOCK_TIMEOUT, *clear]
            loader.stdin.write(("\n".join(start) + "\n").encode())
            shutil.copyfileobj(script.stdout, loader.stdin, _CHUNK)
            script.stdout.close()
            if script.wait() == 0:
                loader.stdin.write(b"\nCOMMIT;\n")
        except BrokenPipeError:
            pass  # psql stopped at an error: its message is in the log
        finally:
            with suppress(BrokenPipeError):
                loader.stdin.close()
            script.stdout.close()
        dumped, loaded = script.wait(), loader.wait()
        if dumped != 0 or loaded != 0:
            errors.seek(0)
            raise BackupError(
                "The restore failed and the database was left as it was: "
                f"{_reason(Exception(_last_line(errors.read())))}"
            )


async def _restore_logical(
    settings: Settings, path: Path, manifest: Manifest, erased: list[ErasedRequest]
) -> None:
    """Drop the old tables, build the schema at the backup's revision, load the rows in
    one transaction (parents first), and set each id sequence past the highest id."""
    engine = create_engine(settings)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(LOCK_TIMEOUT))
            for statement in await _clear_statements(connection):
                await connection.execute(text(statement))
        try:
            await asyncio.to_thread(_upgrade, settings.database_url, manifest.revision)
            async with engine.begin() as connection:
                await _load_tables(connection, path, manifest)
        except (BackupError, SQLAlchemyError, OSError, ValueError) as error:
            # The old tables are gone: say what is left to do, the erasures included.
            again = ", ".join(was.pseudonym for was in erased)
            raise BackupError(
                f"The restore stopped after the old tables were dropped ({error}); run it "
                "again with --force"
                + (f", then erase the details of {again} again." if again else ".")
            ) from error
    finally:
        await engine.dispose()


async def _load_tables(connection: AsyncConnection, path: Path, manifest: Manifest) -> None:
    tables = {table.name: table for table in await _project_tables(connection)}
    with _open_backup(path) as archive:
        for described in manifest.tables:
            table = tables.get(described.name)
            if table is None or [c.name for c in table.columns] != described.columns:
                raise BackupError(
                    f"the backup's table {described.name} does not match schema revision "
                    f"{manifest.revision}"
                )
            with archive.open(f"{TABLES_DIR}{described.name}.jsonl") as rows:
                await _load_rows(connection, table, rows)
    await _reset_sequences(connection, tables.values())


async def _load_rows(connection: AsyncConnection, table: Table, rows: IO[bytes]) -> None:
    names = [column.name for column in table.columns]
    batch: list[dict[str, Any]] = []
    for line in rows:
        values = msgspec.json.decode(line)
        batch.append({name: _decode(value) for name, value in zip(names, values, strict=True)})
        if len(batch) >= _ROWS_PER_BATCH:
            await connection.execute(table.insert(), batch)
            batch = []
    if batch:
        await connection.execute(table.insert(), batch)


async def _reset_sequences(connection: AsyncConnection, tables: Iterable[Table]) -> None:
    for table in tables:
        for column in table.primary_key.columns:
            sequence = (
                await connection.execute(
                    text("SELECT pg_get_serial_sequence(:table, :column)"),
                    {"table": f'"{table.name}"', "column": column.name},
                )
            ).scalar_one()
            if sequence is None:
                continue
            # Names from the database's own catalogue, not from the backup file.
            await connection.execute(
                text(
                    f'SELECT setval(:sequence, COALESCE(MAX("{column.name}"), 1), '  # noqa: S608
                    f'MAX("{column.name}") IS NOT NULL) FROM "{table.name}"'
                ),
                {"sequence": sequence},
            )


async def _check_restored(
    settings: Settings, manifest: Manifest, erased_again: list[str]
) -> RestoreReport:
    """Every group of the backup verifies, with the latest checkpoint the backup recorded."""
    from app.db import session_scope
    from ledger import groups
    from ledger.errors import LedgerError
    from ledger.models import Checkpoint
    from ledger.queries import verify_summary
    from ledger.verify import verify_group

    lines: list[str] = []
    ok = True
    async with session_scope(settings) as session:
        revision = (
            await session.execute(text("SELECT version_num FROM alembic_version"))
        ).scalar_one()
        for was in manifest.groups:
            try:
                group = await groups.get_group(session, was.slug)
            except LedgerError:
                lines.append(f"{was.slug}: missing after the restore")
                ok = False
                continue
            report = await verify_group(session, group)
            latest = (
                await session.scalars(
                    select(Checkpoint)
                    .where(Checkpoint.group_id == group.id)
                    .order_by(Checkpoint.size.desc())
                    .limit(1)
                )
            ).one_or_none()
            now = (latest.size, latest.root_hash) if latest else (None, None)
            matches = now == (was.checkpoint_size, was.root_hash)
            ok = ok and report.ok and matches and report.entries == was.entries
            seal = (
                f"checkpoint {was.checkpoint_size} as at the backup"
                if matches
                else f"checkpoint {now[0]} differs from the backup's {was.checkpoint_size}"
            )
            lines.append(f"{was.slug}: {verify_summary(report)}; {seal}")
    return RestoreReport(manifest, str(revision), erased_again, lines, ok)
