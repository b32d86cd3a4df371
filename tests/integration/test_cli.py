"""The command line a treasurer uses: set up, export, verify; clear errors."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli import main
from app.db import session_scope
from app.settings import Settings
from app.signing import load_notary
from ledger.groups import utcnow
from ledger.log import sign_pending


@pytest.fixture
def cli(settings: Settings, tmp_path: Path):  # type: ignore[no-untyped-def]
    runner = CliRunner()
    env = {
        "COMMONPURSE_DATABASE_URL": settings.database_url,
        # The commands' default host (127.0.0.1:8000) is not the test app's: a key of its own.
        "COMMONPURSE_SIGNING_KEY_FILE": str(tmp_path / "signing-key.pem"),
        "COMMONPURSE_ATTACHMENTS_DIR": str(settings.attachments_dir),
    }

    def invoke(*args: str, stdin: str | None = None):  # type: ignore[no-untyped-def]
        return runner.invoke(main, list(args), env=env, input=stdin, catch_exceptions=False)

    return invoke


def test_a_steward_sets_up_a_group_from_the_shell(cli) -> None:  # type: ignore[no-untyped-def]
    added = cli("user", "add", "ana@example.org", "--name", "Ana", stdin="a long password\n")
    assert added.exit_code == 0, added.output
    token = cli("token", "add", "ana@example.org", "--label", "laptop")
    assert token.exit_code == 0
    assert token.output.strip().startswith("cp_")
    group = cli(
        "group",
        "add",
        "fridge",
        "--name",
        "Community Fridge",
        "--currency",
        "eur",
        "--admin",
        "ana@example.org",
    )
    assert group.exit_code == 0, group.output
    verify = cli("verify", "fridge")
    assert verify.exit_code == 0
    assert "ok: 0 entries" in verify.output
    exported = cli("export", "fridge", "--format", "json")
    assert json.loads(exported.output)["group"]["currency"] == "EUR"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("group", "add", "fridge", "--name", "F", "--currency", "EUR", "--admin", "no@x.org"),
            "No user has the e-mail",
        ),
        (("token", "add", "nobody@example.org"), "No user has the e-mail"),
        (("verify", "no-such-group"), "There is no group"),
        (("export", "no-such-group", "--format", "csv"), "There is no group"),
        (
            ("group", "add", "Bad Slug", "--name", "F", "--currency", "EUR", "--admin", "a@x.org"),
            "slug",
        ),
    ],
)
def test_errors_are_one_clear_line_with_a_failing_exit(cli, args, message) -> None:  # type: ignore[no-untyped-def]
    cli("user", "add", "a@x.org", "--name", "A", stdin="a long password\n")
    result = cli(*args)
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_short_password_is_refused(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("user", "add", "b@x.org", "--name", "B", stdin="short\n")
    assert result.exit_code == 1
    assert "at least 10 characters" in result.output


@pytest.mark.parametrize(
    "password", ["aaaaaaaaaa", "1234567890", "password123", "qwertyuiop", "ben@x.org-ben"]
)
def test_a_common_or_guessable_password_is_refused(cli, password: str) -> None:  # type: ignore[no-untyped-def]
    result = cli("user", "add", "ben@x.org", "--name", "Ben", stdin=f"{password}\n")
    assert result.exit_code == 1, password
    assert "too easy to guess" in result.output
    assert "Traceback" not in result.output


def test_demo_loads_once_and_verifies(cli, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    first = cli("demo")
    assert first.exit_code == 0, first.output
    assert "Demo login" in first.output
    assert "with 334 entries in its log" in first.output
    assert "not loaded" in cli("demo").output
    verify = cli("verify", "northside")
    assert verify.exit_code == 0, verify.output
    # 320 entries of history and the reconciliation of its last month with the bank; then a
    # donation, the payment of the demo's passed proposal and its receipt; the demo's seven
    # decisions (four policies, a proposal blocked then passed, the policy that pays claims);
    # a donation, the payment of a claim and its receipt.
    assert "ok: 334 entries" in verify.output
    leaves = cli("export", "northside", "--format", "jsonl").output.splitlines()
    assert len(leaves) == 334
    assert json.loads(leaves[0])["seq"] == "1"
    # The passed proposal's payment carries the landlord's receipt.
    documents = [json.loads(leaf) for leaf in leaves]
    rent = next(
        d
        for d in documents
        if d["kind"] == "disbursement" and d.get("proposal", {}).get("number") == "5"
    )
    receipts = [d["attachment"] for d in documents if d["kind"] == "attachment"]
    assert receipts[0]["entry"] == rent["seq"]
    # The claim is paid under the policy that pays claims (proposal 7) and carries its
    # receipt; the receipts' files are in the store.
    claim_payment = documents[-2]
    assert (claim_payment["kind"], claim_payment["policy"]["number"]) == ("disbursement", "7")
    assert claim_payment["counterparty"].startswith("M-")
    assert receipts[-1]["entry"] == claim_payment["seq"]
    for receipt in receipts:
        path = settings.attachments_dir / receipt["sha256"][:2] / receipt["sha256"]
        assert path.exists()
    proposals_listed = cli("proposals", "list", "northside").output
    assert "[passed] Out-of-pocket costs" in proposals_listed
    under_policies = [
        leaf
        for leaf in map(json.loads, leaves)
        if leaf["kind"] == "disbursement" and "policy" in leaf
    ]
    assert len(under_policies) > 50
    # Each names the decision leaf that adopted its policy (leaf version 4).
    assert {leaf["v"] for leaf in under_policies} == {"4"}
    assert all("decided_in" in leaf for leaf in under_policies)
    assert {leaf["policy"]["number"] for leaf in under_policies} == {"1", "2", "3", "4", "7"}
    payments = [leaf for leaf in map(json.loads, leaves) if leaf["kind"] == "disbursement"]
    assert all("policy" in leaf or "proposal" in leaf for leaf in payments)
    proposals = cli("proposals", "list", "northside").output
    assert "[passed] Emergency groceries" in proposals
    assert "[passed] Two months of rent arrears for R-4K" in proposals
    assert "[open] Rice and oil for the community fridge" in proposals
    # A story told in time: the log's moments never go back, and the last two weeks' steps
    # (the gig, the block, the amendment, the agreements, the payment, ...) each have their
    # own day.
    moments = [document["recorded_at"] for document in documents]
    assert moments == sorted(moments)
    rent_steps = [
        d["recorded_at"][:10]
        for d in documents
        if d.get("proposal", {}).get("number") == "5" or d["kind"] == "attachment"
    ]
    assert len(set(rent_steps)) >= 3, rent_steps
    # The amendment says what the payment pays: 400 EUR, not the 450 first asked.
    shown = json.loads(cli("proposals", "show", "northside", "5").output)
    assert "400 EUR" in shown["body"]
    assert "450 EUR" not in shown["body"]
    assert shown["versions"][0]["body"] != shown["body"]


async def test_verify_exits_1_naming_the_first_bad_entry(cli, session, world) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    from tests.support.databases import drop_triggers
    from tests.support.people import fill

    await fill(session, world)
    await drop_triggers(session)
    await session.execute(text("UPDATE entries SET memo = 'moved' WHERE seq = 4"))
    await session.commit()
    # The command runs its own event loop, so it runs beside this test's, in a thread.
    result = await asyncio.to_thread(cli, "verify", world.slug)
    assert result.exit_code == 1
    assert "broken at entry 4" in result.output


async def test_requests_purge_erases_old_closed_requests(cli, session, world) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from ledger.groups import utcnow
    from proposals import support

    old = await support.ask(
        session,
        world.group,
        support.AskForm(need="Rent", phone="611222333", consent=True),
    )
    await support.decline(session, old, "Sorry", now=utcnow() - timedelta(days=100))
    await session.commit()
    result = await asyncio.to_thread(cli, "requests", "purge")
    assert result.exit_code == 0, result.output
    assert "Erased the details of 1 request(s)." in result.output


def test_an_admin_prints_a_one_time_reset_link_for_an_instance_without_mail(cli) -> None:  # type: ignore[no-untyped-def]
    cli("user", "add", "ana@example.org", "--name", "Ana", stdin="a long password\n")
    printed = cli("user", "reset-link", "ANA@example.org")
    assert printed.exit_code == 0, printed.output
    assert printed.output.startswith("http://127.0.0.1:8000/password/reset/")
    unknown = cli("user", "reset-link", "nobody@example.org")
    assert unknown.exit_code == 1
    assert "No user has the e-mail nobody@example.org." in unknown.output


def test_a_file_the_command_cannot_write_is_named_in_one_line(  # type: ignore[no-untyped-def]
    cli, settings: Settings, tmp_path: Path
) -> None:
    assert cli("demo").exit_code == 0
    # The demo's log signed, as the server's checkpointer would (the commands' own key).
    signed = Settings(
        database_url=settings.database_url, signing_key_file=tmp_path / "signing-key.pem"
    )

    async def sign() -> None:
        async with session_scope(signed) as session:
            await sign_pending(session, load_notary(signed), utcnow())

    asyncio.run(sign())
    missing = tmp_path / "missing"
    in_a_file = tmp_path / "a-file"
    in_a_file.write_text("not a directory")
    for args, path, reason in [
        (
            ("export", "northside", "--format", "csv", "-o", str(missing / "northside.csv")),
            missing / "northside.csv",
            "No such file or directory",
        ),
        (
            ("tiles", "northside", str(in_a_file / "tiles")),
            in_a_file / "tiles" / "tile" / "0",
            "Not a directory",
        ),
    ]:
        result = cli(*args)
        assert result.exit_code == 1, (args, result.output)
        assert result.output == f"commonpurse: cannot use {path}: {reason}.\n"
