"""``commonpurse statements import``: a treasurer imports a place's statement from the shell;
the same file again adds nothing; a bad file is one clear line, exit 1, and stores nothing."""

from __future__ import annotations

import hashlib
from pathlib import Path

import msgspec
import pytest
from click.testing import CliRunner

from app.cli import main
from app.settings import Settings
from tests.unit.test_statements import UTF8

DATA = Path(__file__).resolve().parents[1] / "data" / "statements"


@pytest.fixture
def cli(settings: Settings):  # type: ignore[no-untyped-def]
    runner = CliRunner()
    env = {
        "COMMONPURSE_DATABASE_URL": settings.database_url,
        "COMMONPURSE_SIGNING_KEY_FILE": str(settings.signing_key_file),
        "COMMONPURSE_ATTACHMENTS_DIR": str(settings.attachments_dir),
    }

    def invoke(*args: str, stdin: str | None = None):  # type: ignore[no-untyped-def]
        return runner.invoke(main, list(args), env=env, input=stdin, catch_exceptions=False)

    return invoke


def _group(cli) -> None:  # type: ignore[no-untyped-def]
    cli("user", "add", "ana@example.org", "--name", "Ana", stdin="a long password\n")
    made = cli(
        "group", "add", "fridge", "--name", "Fridge", "--currency", "EUR",
        "--admin", "ana@example.org",
    )  # fmt: skip
    assert made.exit_code == 0, made.output


def test_a_statement_is_imported_once_from_the_shell(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _group(cli)
    mapping = tmp_path / "mapping.json"
    mapping.write_bytes(msgspec.json.encode(UTF8))
    csv = str(DATA / "utf8.csv")
    first = cli("statements", "import", "fridge", "bank", csv, "--mapping", str(mapping))
    assert first.exit_code == 0, first.output
    assert "8 line(s), 8 new" in first.output
    assert "from 2026-11-02 to 2026-11-28" in first.output
    # The mapping was saved with the place.
    again = cli("statements", "import", "fridge", "bank", csv, "--format", "csv")
    assert again.exit_code == 0, again.output
    assert "8 line(s), 0 new" in again.output
    camt = cli("statements", "import", "fridge", "bank", str(DATA / "camt053-001-08.xml"))
    assert camt.exit_code == 0, camt.output
    assert "(camt.053" in camt.output


def test_a_bad_statement_is_one_line_naming_where_and_stores_nothing(cli) -> None:  # type: ignore[no-untyped-def]
    _group(cli)
    bad = cli("statements", "import", "fridge", "bank", str(DATA / "mt940-bad-date.sta"))
    assert bad.exit_code == 1
    assert "Line 13" in bad.output
    assert "Traceback" not in bad.output
    good = cli("statements", "import", "fridge", "bank", str(DATA / "november.sta"))
    assert good.exit_code == 0, good.output
    assert "Imported statement 1 " in good.output  # the refused file left no statement
    nowhere = cli("statements", "import", "fridge", "cash", str(DATA / "november.sta"))
    assert nowhere.exit_code == 1
    assert "no place 'cash'" in nowhere.output


def test_reconcile_from_the_shell_refuses_in_one_line_until_the_books_match(cli) -> None:  # type: ignore[no-untyped-def]
    _group(cli)
    args = ("reconcile", "fridge", "bank", "--through", "2026-11-28", "--closing-balance")
    nothing = cli(*args, "1108.63")
    assert nothing.exit_code == 1
    assert "No imported statement of the place 'Bank account' covers 2026-11-28" in nothing.output
    assert "Traceback" not in nothing.output
    imported = cli("statements", "import", "fridge", "bank", str(DATA / "november.sta"))
    assert imported.exit_code == 0, imported.output
    unmatched = cli(*args, "1108.63")
    assert unmatched.exit_code == 1
    assert "bank line(s) of the place 'Bank account' dated on or before 2026-11-28" in (
        unmatched.output
    )
    bad = cli("reconcile", "fridge", "bank", "--through", "28/11/2026", "--closing-balance", "1")
    assert bad.exit_code == 2  # click's own refusal of a day it cannot read


def test_the_wrong_file_is_withdrawn_from_the_shell(cli, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    _group(cli)
    assert cli("statements", "import", "fridge", "bank", str(DATA / "november.sta")).exit_code == 0
    wrong = DATA / "camt053-001-08.xml"
    assert cli("statements", "import", "fridge", "bank", str(wrong)).exit_code == 0
    kept = settings.attachments_dir / hashlib.sha256(wrong.read_bytes()).hexdigest()[:2]
    assert any(kept.iterdir())
    earlier = cli("statements", "withdraw", "fridge", "bank", "1")
    assert earlier.exit_code == 1
    assert "Only the place's latest import can be withdrawn" in earlier.output
    assert "Traceback" not in earlier.output
    withdrawn = cli("statements", "withdraw", "fridge", "bank", "2")
    assert withdrawn.exit_code == 0, withdrawn.output
    assert "Withdrew statement 2 of Bank account" in withdrawn.output
    assert not any(kept.iterdir())  # the file left the store
    missing = cli("statements", "withdraw", "fridge", "bank", "2")
    assert missing.exit_code == 1
    assert "The place 'Bank account' has no statement 2." in missing.output
