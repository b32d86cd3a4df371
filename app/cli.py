"""The ``commonpurse`` command line. Errors go to stderr as one sentence, exit status 1."""

from __future__ import annotations

import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import create_token, hash_password
from app.backup import BackupError
from app.db import session_scope
from app.migrate import schema_refusal
from app.password_reset import start_reset
from app.passwords import weak_password_reason
from app.settings import Settings, SettingsError
from ledger import export as ledger_export
from ledger import groups
from ledger.errors import LedgerError
from ledger.models import Group
from ledger.queries import verify_summary
from ledger.schemas import MAX_ID
from ledger.verify import verify_group

T = TypeVar("T")


def fail(message: str) -> None:
    click.echo(f"commonpurse: {message}", err=True)
    raise SystemExit(1)


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run one command's work; domain refusals become a clear one-line error, and so does a
    database that cannot be reached, or whose schema is not this version's (the usual cause
    of a missing table or column)."""
    try:
        return asyncio.run(coroutine)
    except (LedgerError, SettingsError, BackupError) as error:
        fail(str(error))
        raise  # unreachable: fail() exits
    except (DBAPIError, OSError) as error:
        refusal = database_refusal(Settings.from_env())
        if refusal is None and isinstance(error, OSError) and error.filename is not None:
            refusal = file_refusal(error)  # a file or directory the command was given
        if refusal is None:  # the database is fine: the error is the command's own
            raise
        fail(refusal)
        raise  # unreachable: fail() exits


def file_refusal(error: OSError) -> str:
    return f"cannot use {error.filename}: {error.strerror or error}."


def database_refusal(settings: Settings) -> str | None:
    """Why the instance's database cannot serve this version of Common Purse, or None:
    it cannot be reached or opened, or its schema is not this version's."""
    try:
        return asyncio.run(schema_refusal(settings))
    except (DBAPIError, OSError) as error:
        reason = error.orig if isinstance(error, DBAPIError) else error
        address = make_url(settings.database_url).render_as_string(hide_password=True)
        return f"cannot use the database {address}: {reason}"


def async_command(func: Callable[..., Awaitable[None]]) -> Callable[..., None]:
    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        run(func(*args, **kwargs))  # type: ignore[arg-type]

    return wrapper


@click.group()
def main() -> None:
    """Common Purse: shared money, decided together."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
def serve(host: str, port: int, workers: int) -> None:
    """Serve the web app and the API."""
    import uvicorn

    try:
        settings = Settings.from_env()
        settings.resolved_secret_key()
    except SettingsError as error:
        fail(str(error))
        raise  # unreachable: fail() exits
    # Refused before serving: every page would fail on the tables it lacks.
    refusal = database_refusal(settings)
    if refusal is not None:
        fail(refusal)
    # uvicorn believes X-Forwarded-For/-Proto only from the proxies the instance trusts
    # (by default from none: uvicorn's own default would trust 127.0.0.1).
    trusted = [str(network) for network in settings.trusted_networks]
    uvicorn.run(
        "app.asgi:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=bool(trusted),
        forwarded_allow_ips=",".join(trusted) if trusted else "",
    )


@main.group()
def db() -> None:
    """The database schema."""


@db.command()
def upgrade() -> None:
    """Upgrade the database to the newest schema (alembic upgrade head)."""
    from app.migrate import upgrade as alembic_upgrade

    settings = Settings.from_env()
    alembic_upgrade(settings.database_url)
    click.echo("Database is at the newest schema.")


@main.group()
def user() -> None:
    """People who can log in."""


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Password again: "):
            fail("The two passwords differ.")
        return first
    return sys.stdin.readline().rstrip("\r\n")


@user.command("add")
@click.argument("email")
@click.option("--name", required=True, help="The name other members see.")
@async_command
async def user_add(email: str, name: str) -> None:
    """Add a user; the password is read from standard input."""
    password = _read_password()
    if reason := weak_password_reason(password, email=email, name=name):
        fail(reason)
    async with session_scope(Settings.from_env()) as session:
        person = await groups.create_user(
            session, email=email, name=name, password_hash=hash_password(password)
        )
        click.echo(f"Added user {person.email}.")


@user.command("reset-link")
@click.argument("email")
@async_command
async def user_reset_link(email: str) -> None:
    """Print a one-time link that sets a new password for a user (for an instance without
    e-mail: give it to the person yourself). It works once, within an hour."""
    settings = Settings.from_env()
    async with session_scope(settings) as session:
        started = await start_reset(session, email)
        if started is None:
            fail(f"No user has the e-mail {email}.")
            return
        _, secret = started
        click.echo(f"{settings.base_url}/password/reset/{secret}")


@main.group()
def token() -> None:
    """API bearer tokens."""


@token.command("add")
@click.argument("email")
@click.option("--label", default="", help="What the token is for.")
@async_command
async def token_add(email: str, label: str) -> None:
    """Print a new API bearer token for a user; it is shown this once."""
    async with session_scope(Settings.from_env()) as session:
        person = await groups.get_user(session, email)
        click.echo(await create_token(session, person, label))


@main.group("group")
def group_command() -> None:
    """Groups."""


@group_command.command("add")
@click.argument("slug")
@click.option("--name", required=True)
@click.option("--currency", required=True, help="ISO 4217 code, e.g. EUR.")
@click.option("--private", is_flag=True, help="Only members can see its pages and exports.")
@click.option("--admin", "admin_email", required=True, help="E-mail of the first admin.")
@click.option("--description", default="")
@async_command
async def group_add(
    slug: str, name: str, currency: str, private: bool, admin_email: str, description: str
) -> None:
    """Create a group with its first admin."""
    async with session_scope(Settings.from_env()) as session:
        admin = await groups.get_user(session, admin_email)
        group = await groups.create_group(
            session,
            slug=slug,
            name=name,
            currency=currency.upper(),
            admin=admin,
            description=description,
            public=not private,
        )
        click.echo(f"Created group {group.slug} with admin {admin.email}.")


@main.command("export")
@click.argument("group")
@click.option(
    "--format", "fmt", type=click.Choice([*ledger_export.FORMATS, "bundle"]), required=True
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write; standard output when left out.",
)
def export_command(group: str, fmt: str, output: Path | None) -> None:
    """Export a group's ledger (bundle: the zip anyone can check with verify --bundle)."""
    settings = Settings.from_env()

    async def read() -> bytes:
        async with session_scope(settings) as session:
            owner = await groups.get_group(session, group)
            if fmt == "bundle":
                from app.signing import load_notary

                notary = load_notary(settings)
                return await ledger_export.export_bundle(
                    session, owner, notary.key.vkey(), settings.base_url, notary
                )
            return await ledger_export.export(session, owner, fmt)

    content = run(read())
    if output is None:
        sys.stdout.buffer.write(content)
    else:
        try:
            output.write_bytes(content)
        except OSError as error:
            fail(file_refusal(error))
        click.echo(f"Wrote {output}.", err=True)


@main.command()
@click.argument("group", required=False)
@click.option(
    "--bundle",
    "bundle_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Check an exported bundle offline instead of the database.",
)
@click.option(
    "--key",
    "published_key",
    default=None,
    help="The verifier key the instance publishes (/.well-known/commonpurse-key); "
    "the bundle's key must be this one.",
)
@click.option(
    "--witness",
    "witness_keys",
    multiple=True,
    metavar="VKEY",
    help="A witness's verifier key (from the witness itself); repeat for each. The bundle's "
    "latest checkpoint must carry their cosignatures.",
)
@click.option(
    "--min-witnesses",
    type=click.IntRange(1),
    default=None,
    help="How many of the --witness keys must have cosigned (default: all of them).",
)
@click.option(
    "--attachments",
    "attachments_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="A folder of receipt files: each must be a receipt the bundle's log names (by its "
    "SHA-256), and each receipt it names must be there.",
)
def verify(
    group: str | None,
    bundle_path: Path | None,
    published_key: str | None,
    witness_keys: tuple[str, ...],
    min_witnesses: int | None,
    attachments_dir: Path | None,
) -> None:
    """Check a group's ledger in the database, or a bundle offline; exit 1 naming the first
    bad entry (and, with --attachments, every file that is missing or does not match)."""
    if (witness_keys or min_witnesses is not None) and bundle_path is None:
        fail("--witness and --min-witnesses check a bundle: give --bundle FILE too.")
    if attachments_dir is not None and bundle_path is None:
        fail("--attachments checks files against a bundle: give --bundle FILE too.")
    if bundle_path is not None:
        from ledger.bundle import verify_bundle

        report = verify_bundle(
            bundle_path, published_key, witnesses=witness_keys, min_witnesses=min_witnesses
        )
        click.echo(report.summary(), err=not report.ok)
        if not report.ok:
            raise SystemExit(1)
        if attachments_dir is not None:
            from ledger.attachment_check import check_files

            files = check_files(bundle_path, attachments_dir)
            for line in files.lines():
                click.echo(line, err=not line.startswith("matches"))
            click.echo(files.summary(), err=not files.ok)
            raise SystemExit(0 if files.ok else 1)
        raise SystemExit(0)
    if group is None:
        fail("Name a group, or give --bundle FILE.")
        return

    async def check() -> bool:
        async with session_scope(Settings.from_env()) as session:
            report = await verify_group(session, await groups.get_group(session, group))
        click.echo(verify_summary(report), err=not report.ok)
        return report.ok

    if not run(check()):
        raise SystemExit(1)


@main.command("tiles")
@click.argument("group")
@click.argument("directory", type=click.Path(file_okay=False, writable=True, path_type=Path))
def tiles_command(group: str, directory: Path) -> None:
    """Write GROUP's log as C2SP tlog-tiles into DIRECTORY (checkpoint, tile/...), for any
    static web server or bucket to serve at <prefix>/; run it again after new entries: full
    tiles already there are kept, only new ones are written."""
    from ledger.log import write_tiles

    async def work() -> str:
        async with session_scope(Settings.from_env()) as session:
            owner = await groups.get_group(session, group)
            done = await write_tiles(session, owner, directory)
        return (
            f"Wrote the log of {group} at size {done.size} to {directory}: "
            f"{done.written} file(s) written, {done.kept} full tile(s) kept."
        )

    click.echo(run(work()))


@main.group("witness")
def witness_command() -> None:
    """This instance as a witness of other logs (C2SP tlog-witness)."""


@witness_command.command("key")
def witness_key() -> None:
    """Print this instance's witness verifier key (a key of its own, not the log's)."""
    from app.signing import load_cosigning_key
    from ledger.checkpoint import CheckpointError

    try:
        click.echo(load_cosigning_key(Settings.from_env()).vkey())
    except CheckpointError as error:
        fail(str(error))


@witness_command.command("trust")
@click.argument("origin")
@click.argument("vkeys", nargs=-1, required=True, metavar="VKEY...")
@async_command
async def witness_trust(origin: str, vkeys: tuple[str, ...]) -> None:
    """Witness the log ORIGIN (its checkpoints' first line), whose checkpoints are signed by
    VKEY (the log's verifier key, e.g. from its /.well-known/commonpurse-key)."""
    from datetime import UTC, datetime

    from ledger.witnesses import trust

    async with session_scope(Settings.from_env()) as session:
        log = await trust(session, origin, list(vkeys), datetime.now(UTC))
        click.echo(f"Witnessing {log.origin} (cosigned up to size {log.size}).")


@witness_command.command("list")
@async_command
async def witness_list() -> None:
    """The logs this instance witnesses and the latest size it cosigned for each."""
    from ledger.witnesses import witnessed_logs

    async with session_scope(Settings.from_env()) as session:
        for log in await witnessed_logs(session):
            when = f" at {log.cosigned_at:%Y-%m-%d %H:%M:%S} UTC" if log.cosigned_at else ""
            click.echo(f"{log.origin} size {log.size}{when}")


@main.group("witnesses")
def witnesses_command() -> None:
    """The witnesses a group's log asks to cosign its checkpoints."""


@witnesses_command.command("add")
@click.argument("group")
@click.argument("url")
@click.argument("vkey")
@async_command
async def witnesses_add(group: str, url: str, vkey: str) -> None:
    """Have GROUP's log ask the witness at URL (its submission prefix; URL/add-checkpoint is
    called) whose verifier key is VKEY (from its 'commonpurse witness key')."""
    from datetime import UTC, datetime

    from ledger.witnesses import add_witness

    async with session_scope(Settings.from_env()) as session:
        owner = await groups.get_group(session, group)
        witness = await add_witness(session, owner, url, vkey, datetime.now(UTC))
        click.echo(f"The log of {owner.slug} now asks {witness.name} at {witness.url}.")


@witnesses_command.command("list")
@click.argument("group")
@async_command
async def witnesses_list(group: str) -> None:
    """GROUP's witnesses: the size each last cosigned and when, or why it did not answer."""
    from ledger.witnesses import group_witnesses

    async with session_scope(Settings.from_env()) as session:
        owner = await groups.get_group(session, group)
        for witness in await group_witnesses(session, owner):
            when = f" at {witness.cosigned_at:%Y-%m-%d %H:%M:%S} UTC" if witness.cosigned_at else ""
            state = "" if witness.last_error is None else f"; not answering: {witness.last_error}"
            click.echo(f"{witness.name} {witness.url} size {witness.cosigned_size}{when}{state}")


@main.group("proposals")
def proposals_command() -> None:
    """Proposals and their rounds."""


@proposals_command.command("close-due")
def proposals_close_due() -> None:
    """Close every round whose deadline has passed (the server does this every minute)."""
    from proposals.service import close_due

    async def work() -> int:
        async with session_scope(Settings.from_env()) as session:
            return await close_due(session)

    click.echo(f"Closed {run(work())} round(s) past their deadline.")


@proposals_command.command("list")
@click.argument("group")
@click.option(
    "--status", type=click.Choice(["open", "passed", "blocked", "not_passed", "withdrawn"])
)
def proposals_list(group: str, status: str | None) -> None:
    """List a group's proposals, newest first (rounds past their deadline are closed first)."""
    from proposals.queries import proposal_summary
    from proposals.service import close_due, list_proposals

    async def work() -> list[str]:
        async with session_scope(Settings.from_env()) as session:
            owner = await groups.get_group(session, group)
            # A deadline passes even when nobody looks: never list a round as open past it.
            await close_due(session, group=owner)
            found = await list_proposals(session, owner, status)
            lines = []
            for proposal in found:
                summary = proposal_summary(proposal)
                money = (
                    f" {summary.amount} {summary.currency} from {summary.fund}"
                    if summary.amount
                    else ""
                )
                due = (
                    f" (closes {summary.closes_at:%Y-%m-%d %H:%M} UTC)" if summary.closes_at else ""
                )
                lines.append(f"#{summary.number} [{summary.status}] {summary.title}{money}{due}")
            return lines

    for line in run(work()):
        click.echo(line)


@proposals_command.command("show")
@click.argument("group")
@click.argument("number", type=int)
def proposals_show(group: str, number: int) -> None:
    """Show a proposal with its rounds, tally and outcome, as members see it (rounds past
    their deadline are closed first)."""
    import msgspec

    from proposals.queries import proposal_out
    from proposals.service import close_due, get_proposal

    async def work() -> bytes:
        async with session_scope(Settings.from_env()) as session:
            owner = await groups.get_group(session, group)
            await close_due(session, group=owner)
            proposal = await get_proposal(session, owner, number)
            shown = await proposal_out(session, owner, proposal, show_names=True)
            return msgspec.json.format(msgspec.json.encode(shown), indent=2)

    click.echo(run(work()).decode())


async def _check_facilitator(session: AsyncSession, group: Group, email: str) -> None:
    """The rule of ``POST .../close``: a facilitator of the group (admin implies it)."""
    from proposals.errors import NotAllowed

    person = await groups.get_user(session, email)
    membership = await groups.active_membership(session, group.id, person.id)
    if membership is None or not groups.has_role(membership.roles, "facilitator"):
        role = "a member" if membership is None else "a facilitator"
        raise NotAllowed(
            f"{person.email} is not {role} of {group.slug!r}; "
            "only its facilitators and admins close rounds."
        )


@proposals_command.command("close")
@click.argument("group")
@click.argument("number", type=int)
@click.option(
    "--as",
    "as_email",
    required=True,
    metavar="EMAIL",
    help="The facilitator (or admin) closing it; the same rules as on the web apply.",
)
def proposals_close(group: str, number: int, as_email: str) -> None:
    """Close a proposal's open round now, as a facilitator (not before the group's minimum
    hours unless everyone has responded)."""
    from proposals.service import close, close_due

    settings = Settings.from_env()

    async def work() -> str:
        # Two transactions, as on the API: a round past its deadline was decided then, and
        # that close stands even when this one is then refused.
        async with session_scope(settings) as session:
            owner = await groups.get_group(session, group)
            await _check_facilitator(session, owner, as_email)
            await close_due(session, group=owner)
        async with session_scope(settings) as session:
            owner = await groups.get_group(session, group)
            await _check_facilitator(session, owner, as_email)
            outcome = await close(session, owner, number)
        return f"Closed proposal {number}. {outcome.explanation}"

    click.echo(run(work()))


async def _forget_erased(settings: Settings) -> None:
    """After a committed erasure or withdrawal: the files no record keeps leave the store,
    and the deleted rows the database's files (``app.jobs``, as the server does)."""
    from app.db import create_engine
    from app.jobs import forget_erased_files_in, forget_erased_pages
    from ledger.files import DirectoryStore

    async with session_scope(settings) as session:
        await forget_erased_files_in(session, DirectoryStore(settings.attachments_dir))
    engine = create_engine(settings)
    try:
        await forget_erased_pages(engine)
    finally:
        await engine.dispose()


@main.group("requests")
def requests_command() -> None:
    """Requests for support."""


@requests_command.command("purge")
def requests_purge() -> None:
    """Erase the personal details of requests closed longer ago than their group keeps them
    (the server does this every hour)."""
    from proposals.support import purge

    settings = Settings.from_env()

    async def work() -> int:
        async with session_scope(settings) as session:
            erased = await purge(session)
        # The erased receipts' files leave the store once the erasure is committed.
        await _forget_erased(settings)
        return erased

    click.echo(f"Erased the details of {run(work())} request(s).")


@main.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "sqlite", "pg_dump", "logical"]),
    default="auto",
    show_default=True,
    help="auto: SQLite's backup API, or pg_dump when it is installed, else a logical copy "
    "of the tables (PostgreSQL).",
)
def backup_command(file: Path, fmt: str) -> None:
    """Write a consistent copy of the whole database to FILE while the server runs. It holds
    personal data: keep it safe, and delete it when its time is up."""
    from app.backup import backup

    manifest = run(backup(Settings.from_env(), file, fmt))
    click.echo(
        f"Backed up {len(manifest.groups)} group(s), {manifest.entries} entries "
        f"({manifest.format}, schema {manifest.revision}) to {file}."
    )


@main.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace a database that is not empty.")
def restore_command(file: Path, force: bool) -> None:
    """Replace the database with the backup in FILE (stop the server first), bring it to the
    newest schema, erase again what was erased since the backup, and check every group."""
    from app.backup import restore

    report = run(restore(Settings.from_env(), file, force=force))
    if report.set_aside is not None:
        click.echo(f"The database could not be read; it was kept as {report.set_aside}.")
    click.echo(
        f"Restored {report.manifest.describe()}; the database is at schema {report.revision}."
    )
    if report.erased_again:
        click.echo(
            f"Erased again the details of {len(report.erased_again)} request(s) erased since "
            f"the backup: {', '.join(report.erased_again)}."
        )
    for line in report.groups:
        click.echo(line, err=not report.ok)
    if not report.ok:
        fail("The restored database does not verify as the backup recorded it.")


@main.group("statements")
def statements_command() -> None:
    """Bank statements of a group's places."""


@statements_command.command("import")
@click.argument("group")
@click.argument("place")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "ofx", "qfx", "camt.053", "mt940"]),
    help="The file's format; otherwise its content decides (a CSV needs a mapping).",
)
@click.option(
    "--mapping",
    "mapping_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A CSV mapping as JSON (saved for the place); the place's saved one otherwise.",
)
def statements_import(
    group: str, place: str, file: Path, fmt: str | None, mapping_file: Path | None
) -> None:
    """Import FILE as a statement of GROUP's PLACE: all of it or, on a bad file, nothing.
    Lines already imported (by fingerprint) are not added again."""
    from ledger import bank, service
    from ledger.files import DirectoryStore
    from ledger.statements import mapping_from_json

    settings = Settings.from_env()
    content = file.read_bytes()
    sent = mapping_from_json(mapping_file.read_bytes()) if mapping_file is not None else None

    async def work() -> tuple[bank.Imported, str]:
        async with session_scope(settings) as session:
            owner = await groups.get_group(session, group)
            where = await service.get_place(session, owner, place)
            mapping = sent or bank.saved_mapping(await bank.settings_of(session, where))
            statement = bank.read_for_place(content, where, format=fmt, mapping=mapping)
            keep = sent if statement.format == "csv" else None
            if sys.stdout.isatty():
                with click.progressbar(
                    length=len(statement.lines), label=f"Importing {file.name}"
                ) as bar:
                    imported = await bank.store_statement(
                        session,
                        owner,
                        where,
                        statement,
                        imported_by=None,
                        mapping=keep,
                        progress=bar.update,
                    )
            else:
                imported = await bank.store_statement(
                    session, owner, where, statement, imported_by=None, mapping=keep
                )
            # Kept only once the lines are stored; the file names people: never public.
            DirectoryStore(settings.attachments_dir).put(content)
            return imported, where.name

    imported, name = run(work())
    row = imported.statement
    period = f" from {row.starts_on} to {row.ends_on}" if row.starts_on and row.ends_on else ""
    click.echo(
        f"Imported statement {row.id} into {name} ({row.format}{period}): {row.lines} "
        f"line(s), {imported.new_lines} new; SHA-256 {row.sha256}."
    )


@statements_command.command("withdraw")
@click.argument("group")
@click.argument("place")
@click.argument("statement", type=click.IntRange(1, MAX_ID))
def statements_withdraw(group: str, place: str, statement: int) -> None:
    """Withdraw import STATEMENT of GROUP's PLACE (the wrong file, or the wrong place): the
    import and the lines it brought are deleted and its file leaves the store. Only the
    place's latest import, while none of its lines is matched or reconciled; the record that
    it was imported and withdrawn stays."""
    from ledger import bank, service

    settings = Settings.from_env()

    async def work() -> str:
        async with session_scope(settings) as session:
            owner = await groups.get_group(session, group)
            where = await service.get_place(session, owner, place)
            row = await bank.get_statement(session, where, statement)
            record = await bank.withdraw_statement(session, owner, where, row, withdrawn_by=None)
            said = (
                f"Withdrew statement {record.statement_id} of {where.name}: its "
                f"{record.new_lines} line(s) are deleted; SHA-256 {record.sha256}."
            )
        # Its file leaves the store once the withdrawal is committed.
        await _forget_erased(settings)
        return said

    click.echo(run(work()))


@main.command("reconcile")
@click.argument("group")
@click.argument("place")
@click.option(
    "--through",
    required=True,
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="The day the books are closed through (YYYY-MM-DD): the statement's closing day.",
)
@click.option(
    "--closing-balance",
    "closing_balance",
    required=True,
    help='The bank\'s balance at the end of that day, as the API writes amounts ("1108.63", '
    '"-12.50" when overdrawn).',
)
def reconcile_command(group: str, place: str, through: datetime, closing_balance: str) -> None:
    """Close GROUP's PLACE's reconciliation with its bank through a day: the place's balance
    over the entries dated on or before it must equal the closing balance, and every
    statement line up to it must be matched. Appends a leaf to the log; never reopened."""
    from ledger import reconciliation

    settings = Settings.from_env()

    async def work() -> reconciliation.ReconciliationView:
        async with session_scope(settings) as session:
            owner = await groups.get_group(session, group)
            return await reconciliation.close(
                session, owner, place, through.date(), closing_balance, recorded_by=None
            )

    click.echo(f"Reconciled: {reconciliation.describe(run(work()))}.")


@main.command()
def demo() -> None:
    """Load a demo group into an empty database."""
    from app.demo import load_demo

    run(load_demo(Settings.from_env()))
