"""Closing a place's reconciliation with its bank through the API, on both engines: the
closing rule (a balance that differs, unmatched lines, a day no statement covers, a day
still to come, reopening), the leaf in the log that both verifiers check, entries dated
into the closed period refused, idempotent retries, and the places' ``reconciled_through``."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from ledger.bundle import verify_bundle
from tests.http.test_statements import MAPPING, donate, lines, upload, url
from tests.integration.test_plaintext_exports import bean_check, hledger_check
from tests.support.people import World

Client = AsyncTestClient[Litestar]

HEADER = "Date,Value date,Description,Counterparty,Reference,Amount,Balance"
NOVEMBER = "\r\n".join(
    [
        HEADER,
        "2026-11-02,2026-11-02,Donation,María López,CV-1,50.00,50.00",
        "2026-11-10,2026-11-10,Donation,Jonas Weiß,CV-2,20.00,70.00",
        "2026-11-28,2026-11-28,Donation,Zoë Ångström,CV-3,30.00,100.00",
    ]
).encode()


async def november(client: Client, world: World, *, match: bool = True) -> dict[str, Any]:
    """The November statement imported, its three donations recorded (and matched)."""
    seqs = [
        await donate(client, world, amount, day)
        for amount, day in (
            ("50.00", "2026-11-02"),
            ("20.00", "2026-11-10"),
            ("30.00", "2026-11-28"),
        )
    ]
    imported = await upload(client, world, NOVEMBER, mapping=MAPPING)
    assert imported.status_code == 201, imported.text
    statement: dict[str, Any] = imported.json()
    if match:
        for line, seq in zip(await lines(client, world, statement["id"]), seqs, strict=True):
            response = await client.post(
                url(world, f"/statements/{statement['id']}/lines/{line['id']}/match"),
                json={"entries": [seq]},
                headers=world.steward.headers,
            )
            assert response.status_code == 201, response.text
    return statement


async def close(client: Client, world: World, through: str, balance: str, **headers: str) -> Any:
    return await client.post(
        url(world, "/reconciliations"),
        json={"through": through, "closing_balance": balance},
        headers=world.steward.headers | headers,
    )


def fields(response: Any) -> list[str]:
    return [error["field"] for error in response.json()["errors"]]


async def test_a_steward_closes_a_reconciliation_and_the_log_carries_it(
    client: Client, world: World, tmp_path: Path
) -> None:
    statement = await november(client, world)
    closed = await close(client, world, "2026-11-28", "100.00")
    assert closed.status_code == 201, closed.text
    body = closed.json()
    assert body["place"] == "bank"
    assert body["through"] == "2026-11-28"
    assert body["closing_balance"] == "100.00"
    assert body["lines"] == 3
    assert body["statement_sha256"] == statement["sha256"] == hashlib.sha256(NOVEMBER).hexdigest()
    # The leaf: version 7, public, naming nobody.
    leaves = (await client.get(f"/api/groups/{world.slug}/export.jsonl")).content.splitlines()
    leaf = leaves[body["seq"] - 1]
    assert b'"kind":"reconciliation"' in leaf
    assert b'"v":"7"' in leaf
    assert b'"balance":"10000"' in leaf
    assert "López".encode() not in b"".join(leaves)
    # The places say so; the list of reconciliations too (public, like the log).
    places = (await client.get(f"/api/groups/{world.slug}/places")).json()
    assert places[0]["reconciled_through"] == "2026-11-28"
    listed = (await client.get(url(world, "/reconciliations"))).json()
    assert [r["seq"] for r in listed] == [body["seq"]]
    # Both verifiers check it.
    verified = (await client.get(f"/api/groups/{world.slug}/verify")).json()
    assert verified["ok"] is True, verified
    bundle = tmp_path / "bundle.zip"
    bundle.write_bytes((await client.get(f"/api/groups/{world.slug}/export.zip")).content)
    report = verify_bundle(bundle)
    assert report.ok, report.problem
    # The exports still read (the leaf moves no money).
    for fmt in ("csv", "json", "journal", "beancount"):
        response = await client.get(f"/api/groups/{world.slug}/export.{fmt}")
        assert response.status_code == 200, (fmt, response.text)
    exported = (await client.get(f"/api/groups/{world.slug}/export.json")).json()
    assert exported["reconciliations"] == [
        {
            "seq": body["seq"],
            "place": "bank",
            "through": "2026-11-28",
            "closing_balance": "100.00",
            "currency": "EUR",
            "lines": 3,
            "statement_sha256": statement["sha256"],
            "recorded_at": body["recorded_at"],
        }
    ]
    assert exported["places"][0]["reconciled_through"] == "2026-11-28"


async def test_a_balance_that_differs_is_a_422_saying_both_figures(
    client: Client, world: World
) -> None:
    await november(client, world)
    refused = await close(client, world, "2026-11-28", "120.00")
    assert refused.status_code == 422, refused.text
    assert fields(refused) == ["closing_balance"]
    assert "100.00 EUR" in refused.text
    assert "120.00 EUR" in refused.text
    # Through an earlier day, the balance of that day.
    assert (await close(client, world, "2026-11-10", "70.00")).status_code == 201


async def test_unmatched_lines_are_a_422_saying_how_many_and_the_first_dates(
    client: Client, world: World
) -> None:
    await november(client, world, match=False)
    refused = await close(client, world, "2026-11-28", "100.00")
    assert refused.status_code == 422, refused.text
    assert fields(refused) == ["through"]
    assert "3 bank line(s)" in refused.text
    assert "2026-11-02, 2026-11-10, 2026-11-28" in refused.text


async def test_a_day_no_statement_covers_or_still_to_come_is_a_422(
    client: Client, world: World
) -> None:
    none_yet = await close(client, world, "2026-11-28", "0.00")
    assert none_yet.status_code == 422
    assert fields(none_yet) == ["through"]
    assert "No imported statement" in none_yet.text
    await november(client, world)
    outside = await close(client, world, "2026-10-31", "0.00")
    assert outside.status_code == 422
    assert "No imported statement" in outside.text
    future = await close(client, world, "2999-01-01", "100.00")
    assert future.status_code == 422
    assert "still to come" in future.text


async def test_a_closed_reconciliation_is_never_reopened_and_its_period_is_closed(
    client: Client, world: World
) -> None:
    await november(client, world)
    assert (await close(client, world, "2026-11-28", "100.00")).status_code == 201
    for day in ("2026-11-28", "2026-11-10"):
        again = await close(client, world, day, "100.00")
        assert again.status_code == 422, again.text
        assert fields(again) == ["through"]
        assert "never reopened" in again.text
    # An entry dated into the closed period is refused; after it, recorded.
    backdated = await client.post(
        f"/api/groups/{world.slug}/entries",
        json={
            "kind": "donation",
            "fund": "rent-relief",
            "amount": "5.00",
            "occurred_on": "2026-11-20",
        },
        headers=world.steward.headers,
    )
    assert backdated.status_code == 409, backdated.text
    assert fields(backdated) == ["occurred_on"]
    assert "reconciled with the bank through 2026-11-28" in backdated.text
    await donate(client, world, "5.00", "2026-11-29")
    # A reversal is dated today: after the closed day, so it is recorded (a correction).
    reversal = await client.post(
        f"/api/groups/{world.slug}/entries",
        json={"kind": "reversal", "reverses": 1, "memo": "typed twice"},
        headers=world.steward.headers,
    )
    assert reversal.status_code == 201, reversal.text
    assert (await client.get(f"/api/groups/{world.slug}/verify")).json()["ok"] is True


async def test_closing_with_a_key_answers_the_first_outcome_again(
    client: Client, world: World
) -> None:
    await november(client, world)
    refused = await close(client, world, "2026-11-28", "1.00", **{"Idempotency-Key": "k1"})
    assert refused.status_code == 422
    again = await close(client, world, "2026-11-28", "1.00", **{"Idempotency-Key": "k1"})
    assert again.status_code == 422
    assert again.headers["Idempotent-Replayed"] == "true"
    first = await close(client, world, "2026-11-28", "100.00", **{"Idempotency-Key": "k2"})
    assert first.status_code == 201, first.text
    retry = await close(client, world, "2026-11-28", "100.00", **{"Idempotency-Key": "k2"})
    assert retry.status_code == 201
    assert retry.json() == first.json()
    other = await close(client, world, "2026-11-27", "100.00", **{"Idempotency-Key": "k2"})
    assert other.status_code == 409
    log = (await client.get(f"/api/groups/{world.slug}/verify")).json()
    assert log["entries"] == first.json()["seq"]


async def test_only_stewards_close_and_bad_input_names_its_field(
    client: Client, world: World
) -> None:
    await november(client, world)
    member = await client.post(
        url(world, "/reconciliations"),
        json={"through": "2026-11-28", "closing_balance": "100.00"},
        headers=world.member.headers,
    )
    assert member.status_code == 403
    for body, field in (
        ({"through": "2026-11-28", "closing_balance": 100}, "closing_balance"),
        ({"through": "2026-11-28", "closing_balance": "100.001"}, "closing_balance"),
        ({"through": "30/11/2026", "closing_balance": "100.00"}, "through"),
        ({"closing_balance": "100.00"}, "through"),
    ):
        response = await client.post(
            url(world, "/reconciliations"), json=body, headers=world.steward.headers
        )
        assert response.status_code in (400, 422), response.text
        assert field in response.text
    unknown = await client.post(
        url(world, "/reconciliations", place="safe"),
        json={"through": "2026-11-28", "closing_balance": "0"},
        headers=world.steward.headers,
    )
    assert unknown.status_code == 404


async def test_hledger_and_beancount_check_the_reconciled_balance(
    client: Client, world: World, tmp_path: Path
) -> None:
    """The exports assert each reconciliation on the place's account: the real tools accept
    them, and refuse them when the asserted balance is a cent off."""
    await november(client, world)
    await donate(client, world, "7.00", "2026-12-01")  # after the day: not in its balance
    assert (await close(client, world, "2026-11-10", "70.00")).status_code == 201
    assert (await close(client, world, "2026-11-28", "100.00")).status_code == 201
    journal = (await client.get(f"/api/groups/{world.slug}/export.journal")).text
    beancount = (await client.get(f"/api/groups/{world.slug}/export.beancount")).text
    assert "Assets:Bank  0 EUR =* 100.00 EUR" in journal
    assert "2026-11-29 balance Assets:Bank  100.00 ~ 0 EUR" in beancount
    for name, text, check in (
        ("ledger.journal", journal, hledger_check),
        ("ledger.beancount", beancount, bean_check),
    ):
        good = tmp_path / name
        good.write_text(text)
        done = check(good)
        assert done.returncode == 0, done.stdout + done.stderr
        bad = tmp_path / f"bad-{name}"
        bad.write_text(
            text.replace("=* 100.00 EUR", "=* 100.01 EUR").replace(
                "balance Assets:Bank  100.00 ~", "balance Assets:Bank  100.01 ~"
            )
        )
        assert check(bad).returncode != 0
