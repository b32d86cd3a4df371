"""A database whose schema is not this version's is refused in one clear line: before
serving (every page would fail), and by a command that meets a missing table; on each
engine."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from alembic.script import ScriptDirectory
from click.testing import CliRunner

from app.cli import main
from app.migrate import alembic_config, schema_refusal, upgrade
from app.settings import Settings
from tests.support.databases import run_sql


def _newest_two() -> tuple[str, str]:
    """The newest revision of ``migrations/versions`` but one, and the newest."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    head = script.get_revision("head")
    assert head is not None
    assert isinstance(head.down_revision, str)
    return head.down_revision, head.revision


def _env(url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "COMMONPURSE_DATABASE_URL": url,
        "COMMONPURSE_SECRET_KEY": "x" * 64,
        "COMMONPURSE_SIGNING_KEY_FILE": str(tmp_path / "signing-key.pem"),
        "COMMONPURSE_ATTACHMENTS_DIR": str(tmp_path / "files"),
    }


def _serve(url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """``commonpurse serve``, which must stop at once (a timeout says it served instead)."""
    return subprocess.run(
        [sys.executable, "-m", "app", "serve", "--port", "0"],
        env={**os.environ, **_env(url, tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _refusal(url: str) -> str | None:
    return asyncio.run(schema_refusal(Settings(database_url=url)))


def test_a_database_without_this_versions_schema_is_refused_in_one_line(
    empty_db_url: str, tmp_path: Path
) -> None:
    no_schema = "the database has no schema yet: run `commonpurse db upgrade` first."
    assert _refusal(empty_db_url) == no_schema
    served = _serve(empty_db_url, tmp_path)
    assert served.returncode == 1
    assert served.stderr.strip() == f"commonpurse: {no_schema}"
    # A command that meets the missing tables says the same, not a traceback.
    env = _env(empty_db_url, tmp_path)
    verified = CliRunner().invoke(main, ["verify", "northside"], env=env)
    assert verified.exit_code == 1
    assert verified.output.strip() == f"commonpurse: {no_schema}"

    # The code upgraded, the database not.
    before_head, head = _newest_two()
    upgrade(empty_db_url, before_head)
    behind = (
        f"the database's schema is at revision {before_head}, and this version of Common Purse "
        f"needs {head}: run `commonpurse db upgrade` first."
    )
    assert _refusal(empty_db_url) == behind
    served = _serve(empty_db_url, tmp_path)
    assert (served.returncode, served.stderr.strip()) == (1, f"commonpurse: {behind}")

    upgrade(empty_db_url)
    assert _refusal(empty_db_url) is None
    unknown = CliRunner().invoke(main, ["verify", "northside"], env=env)
    assert (unknown.exit_code, unknown.output.strip()) == (
        1,
        "commonpurse: There is no group 'northside'.",
    )

    # A database written by a newer version than this one.
    asyncio.run(run_sql(empty_db_url, ("UPDATE alembic_version SET version_num = '9999'", {})))
    refusal = _refusal(empty_db_url)
    assert refusal is not None
    assert "revision 9999, newer than this version of Common Purse knows" in refusal


def test_a_database_that_cannot_be_reached_is_named_in_one_line(tmp_path: Path) -> None:
    in_a_file = tmp_path / "a-file"
    in_a_file.write_text("not a directory")
    unreachable = {
        # Nothing listens on port 1; the password is not shown.
        "postgresql+asyncpg://treasurer:secret@127.0.0.1:1/ledger": (
            "commonpurse: cannot use the database "
            "postgresql+asyncpg://treasurer:***@127.0.0.1:1/ledger: "
        ),
        f"sqlite+aiosqlite:///{in_a_file}/commonpurse.db": (
            f"commonpurse: cannot use the database sqlite+aiosqlite:///{in_a_file}/commonpurse.db: "
        ),
    }
    for url, said in unreachable.items():
        result = CliRunner().invoke(main, ["verify", "northside"], env=_env(url, tmp_path))
        assert result.exit_code == 1, result.output
        assert result.output.startswith(said), result.output
        assert "Traceback" not in result.output
        served = _serve(url, tmp_path)
        assert (served.returncode, served.stderr.startswith(said)) == (1, True), served.stderr
