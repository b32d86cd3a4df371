"""Bank statements through the API, on both engines: every format imports; a re-import or
an overlapping file adds nothing twice; every bad file is a 422 naming the line or element
and stores nothing, not even the file; matching suggests, confirms and rejects; a credit
becomes a donation in one step with the donor's name kept out of the log."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.models import BankLine, BankStatement
from tests.support.clients import standing_policy
from tests.support.people import World
from tests.unit.test_statements import SAMPLES, UTF8

Client = AsyncTestClient[Litestar]
DATA = Path(__file__).resolve().parents[1] / "data" / "statements"
MAPPING = msgspec.json.encode(UTF8).decode()


def url(world: World, rest: str = "", place: str = "bank") -> str:
    return f"/api/groups/{world.slug}/places/{place}{rest}"


async def upload(
    client: Client,
    world: World,
    content: bytes,
    *,
    mapping: str | None = None,
    format: str | None = None,
    place: str = "bank",
    headers: dict[str, str] | None = None,
) -> Any:
    form = {}
    if mapping is not None:
        form["mapping"] = mapping
    if format is not None:
        form["format"] = format
    return await client.post(
        url(world, "/statements", place),
        files={"file": ("statement", content, "application/octet-stream")},
        data=form,
        headers=headers if headers is not None else world.steward.headers,
    )


async def lines(client: Client, world: World, statement: int) -> list[dict[str, Any]]:
    response = await client.get(
        url(world, f"/statements/{statement}/lines"), headers=world.steward.headers
    )
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


async def donate(client: Client, world: World, amount: str, day: str, **more: Any) -> int:
    response = await client.post(
        f"/api/groups/{world.slug}/entries",
        json={"kind": "donation", "fund": "rent-relief", "amount": amount, "occurred_on": day}
        | more,
        headers=world.steward.headers,
    )
    assert response.status_code == 201, response.text
    seq: int = response.json()["seq"]
    return seq


async def counts(session: AsyncSession) -> tuple[int, int]:
    statements = await session.scalar(select(func.count()).select_from(BankStatement))
    stored = await session.scalar(select(func.count()).select_from(BankLine))
    return int(statements or 0), int(stored or 0)


@pytest.mark.parametrize(("name", "mapping", "kind"), SAMPLES)
async def test_every_format_imports_its_eight_lines(
    client: Client, world: World, name: str, mapping: Any, kind: Any
) -> None:
    content = (DATA / name).read_bytes()
    sent = msgspec.json.encode(mapping).decode() if mapping is not None else None
    response = await upload(client, world, content, mapping=sent)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["lines"] == 8
    assert body["new_lines"] == 8
    assert body["sha256"] == hashlib.sha256(content).hexdigest()
    assert body["format"] == kind.value
    listed = await lines(client, world, body["id"])
    assert [line["amount"] for line in listed][:2] == ["50.00", "-320.00"]


async def test_the_same_file_twice_or_an_overlapping_one_adds_nothing_twice(
    client: Client, app: Litestar, world: World, session: AsyncSession
) -> None:
    content = (DATA / "utf8.csv").read_bytes()
    first = await upload(client, world, content, mapping=MAPPING)
    assert first.status_code == 201, first.text
    assert first.json()["new_lines"] == 8
    # The mapping was saved for the place: the second import needs none.
    again = await upload(client, world, content)
    assert again.status_code == 201, again.text
    assert (again.json()["lines"], again.json()["new_lines"]) == (8, 0)
    assert again.json()["sha256"] == first.json()["sha256"]
    # A file holding the last days again and one day more adds that day only.
    header, *rows = content.decode().splitlines()
    later = "2026-11-30,2026-11-30,Donation,Ana Pérez,CV-2611-0009,10.00,1118.63"
    overlapping = "\r\n".join([header, *rows[-2:], later]).encode()
    overlap = await upload(client, world, overlapping)
    assert overlap.status_code == 201, overlap.text
    assert (overlap.json()["lines"], overlap.json()["new_lines"]) == (3, 1)
    assert await counts(session) == (3, 9)
    # The file is kept privately, by its hash.
    assert app.state.files.exists(first.json()["sha256"])
    listed = await client.get(url(world, "/statements"), headers=world.steward.headers)
    assert [s["new_lines"] for s in listed.json()] == [1, 0, 8]
    # The lines of a statement are the place's lines in its period, whoever brought them.
    assert len(await lines(client, world, again.json()["id"])) == 8


BAD_FILES = [
    ("bad-date.csv", MAPPING, "Line 6"),
    ("bad-amount.csv", MAPPING, "Line 6"),
    ("wrong-currency.csv", '{"date": 1, "amount": 3, "currency": 4}', "Line 7"),
    ("bad-balance.csv", MAPPING, "Line 7"),
    ("empty.csv", MAPPING, "empty"),
    ("unknown.txt", None, "mapping"),
    ("latin1.csv", MAPPING, "Line"),  # not UTF-8, nor the mapping's columns
    ("camt-wrong-currency.xml", None, "Stmt/Ntry[5]/Amt"),
    ("camt-bad-amount.xml", None, "Stmt/Ntry[5]/Amt"),
    ("camt-bad-date.xml", None, "BookgDt/Dt"),
    ("camt-unbalanced.xml", None, "Document/BkToCstmrStmt/Stmt"),
    ("camt052.xml", None, "Document"),
    ("billion-laughs.xml", None, "DOCTYPE"),
    ("external-entity.xml", None, "DOCTYPE"),
    ("ofx-bad-amount.ofx", None, "STMTTRN[5]/TRNAMT"),
    ("ofx-bad-date.ofx", None, "STMTTRN[5]"),
    ("ofx-wrong-currency.ofx", None, "CURDEF"),
    ("mt940-bad-amount.sta", None, "Line 13"),
    ("mt940-bad-date.sta", None, "Line 13"),
    ("mt940-wrong-currency.sta", None, "Line 4"),
    ("mt940-gap.sta", None, "Line 22"),
]


@pytest.mark.parametrize(("name", "mapping", "where"), BAD_FILES)
async def test_a_bad_file_is_a_422_naming_where_and_stores_nothing(
    client: Client,
    app: Litestar,
    world: World,
    session: AsyncSession,
    name: str,
    mapping: str | None,
    where: str,
) -> None:
    content = (DATA / name).read_bytes()
    response = await upload(client, world, content, mapping=mapping)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert where in problem["detail"], problem
    assert [error["field"] for error in problem["errors"]] == ["file"]
    assert await counts(session) == (0, 0)
    assert not app.state.files.exists(hashlib.sha256(content).hexdigest())
    # And the mapping sent with a refused file is not saved.
    saved = await client.get(url(world, "/statement-settings"), headers=world.steward.headers)
    assert saved.json()["mapping"] is None


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"format": "xls"}, "format"),
        ({"mapping": "{not json"}, "mapping"),
        ({"mapping": '{"date": "Date", "sign": "in-out"}'}, "mapping.amount_in"),
        ({"mapping": '{"date": "Day", "amount": "Amount"}'}, "mapping.date"),
    ],
)
async def test_a_bad_format_or_mapping_names_its_field(
    client: Client, world: World, session: AsyncSession, form: dict[str, str], field: str
) -> None:
    content = (DATA / "utf8.csv").read_bytes()
    response = await upload(client, world, content, **form)
    assert response.status_code == 422, response.text
    assert [error["field"] for error in response.json()["errors"]] == [field]
    assert await counts(session) == (0, 0)


async def test_only_stewards_import_and_read_lines(client: Client, world: World) -> None:
    content = (DATA / "november.sta").read_bytes()
    refused = await upload(client, world, content, headers=world.member.headers)
    assert refused.status_code == 403
    imported = await upload(client, world, content)
    assert imported.status_code == 201, imported.text
    peek = await client.get(
        url(world, f"/statements/{imported.json()['id']}/lines"), headers=world.member.headers
    )
    assert peek.status_code == 403
    anonymous = await client.get(url(world, f"/statements/{imported.json()['id']}/lines"))
    assert anonymous.status_code in (401, 403)
    missing = await upload(client, world, content, place="nowhere")
    assert missing.status_code == 404


async def test_lines_are_suggested_confirmed_rejected_and_a_credit_becomes_a_donation(
    client: Client, world: World
) -> None:
    # The ledger as the treasurer typed it: the first donation two days late, under its
    # donor's pseudonym; a donation of 40.00 that came in as two transfers of 20.00.
    pseudonym = await donate(client, world, "50.00", "2026-11-04", counterparty="R-17")
    decoy = await donate(client, world, "50.00", "2026-11-02")
    paid_in_parts = await donate(client, world, "40.00", "2026-11-05")
    header, *rows = (DATA / "utf8.csv").read_bytes().decode().splitlines()
    rows[0] = rows[0].replace("CV-2611-0001", "R-17 thanks")
    imported = await upload(client, world, "\r\n".join([header, *rows]).encode(), mapping=MAPPING)
    assert imported.status_code == 201, imported.text
    statement = imported.json()["id"]

    listed = await lines(client, world, statement)
    statuses = {(line["booked_on"], line["amount"]): line["status"] for line in listed}
    assert statuses[("2026-11-02", "50.00")] == "suggested"
    assert statuses[("2026-11-03", "-320.00")] == "unmatched"  # money out without an entry
    first = listed[0]
    # The pseudonym in the bank's reference ranks its entry above the closer date.
    assert [s["entry"] for s in first["suggestions"]] == [pseudonym, decoy]
    assert first["suggestions"][0]["reasons"] == ["pseudonym"]

    # Rejected, a suggestion is not made again.
    rejected = await client.post(
        url(world, f"/statements/{statement}/lines/{first['id']}/reject"),
        json={"entry": decoy},
        headers=world.steward.headers,
    )
    assert rejected.status_code == 201, rejected.text
    assert [s["entry"] for s in rejected.json()["suggestions"]] == [pseudonym]

    # Amounts must add up.
    short = await client.post(
        url(world, f"/statements/{statement}/lines/{first['id']}/match"),
        json={"entries": [paid_in_parts]},
        headers=world.steward.headers,
    )
    assert short.status_code == 422, short.text
    assert [e["field"] for e in short.json()["errors"]] == ["entries"]
    matched = await client.post(
        url(world, f"/statements/{statement}/lines/{first['id']}/match"),
        json={"entries": [pseudonym]},
        headers=world.steward.headers,
    )
    assert matched.status_code == 201, matched.text
    assert (matched.json()["status"], matched.json()["entries"]) == ("matched", [pseudonym])
    assert matched.json()["complete"] is True
    twice = await client.post(
        url(world, f"/statements/{statement}/lines/{first['id']}/match"),
        json={"entries": [decoy]},
        headers=world.steward.headers,
    )
    assert twice.status_code == 409

    # One entry, two lines: the match is complete when both are in it.
    twenties = [line for line in listed if line["amount"] == "20.00"]
    for count, line in enumerate(twenties, start=1):
        response = await client.post(
            url(world, f"/statements/{statement}/lines/{line['id']}/match"),
            json={"entries": [paid_in_parts]},
            headers=world.steward.headers,
        )
        assert response.status_code == 201, response.text
        assert response.json()["complete"] is (count == 2)
    # An entry in a match is not suggested again, nor matched with other lines.
    elsewhere = await client.post(
        url(world, f"/statements/{statement}/lines/{listed[-1]['id']}/match"),
        json={"entries": [paid_in_parts, pseudonym]},
        headers=world.steward.headers,
    )
    assert elsewhere.status_code == 409

    # An unmatched credit becomes a donation in one step, its donor's name kept private.
    concert = next(line for line in listed if line["amount"] == "35.00")
    made = await client.post(
        url(world, f"/statements/{statement}/lines/{concert['id']}/donation"),
        json={"fund": "groceries"},
        headers=world.steward.headers,
    )
    assert made.status_code == 201, made.text
    entry = made.json()
    assert (entry["kind"], entry["occurred_on"], entry["place"]) == (
        "donation",
        "2026-11-28",
        "bank",
    )
    assert entry["counterparty"] is None
    leaves = (await client.get(f"/api/groups/{world.slug}/export.jsonl")).content
    assert b"Soli-Konzert" not in leaves
    assert b"L\\u00f3pez" not in leaves
    assert "López".encode() not in leaves
    again = await client.post(
        url(world, f"/statements/{statement}/lines/{concert['id']}/donation"),
        json={"fund": "groceries"},
        headers=world.steward.headers,
    )
    assert again.status_code == 409
    debit = next(line for line in listed if line["amount"] == "-2.50")
    refused = await client.post(
        url(world, f"/statements/{statement}/lines/{debit['id']}/donation"),
        json={"fund": "groceries"},
        headers=world.steward.headers,
    )
    assert refused.status_code == 422

    after = {line["id"]: line for line in await lines(client, world, statement)}
    assert after[concert["id"]]["status"] == "matched"
    assert after[concert["id"]]["entries"] == [entry["seq"]]
    assert after[debit["id"]]["status"] == "unmatched"
    verified = await client.get(f"/api/groups/{world.slug}/verify")
    assert verified.json()["ok"] is True


async def test_the_matching_window_is_the_places_own(client: Client, world: World) -> None:
    seq = await donate(client, world, "50.00", "2026-11-09")  # a week after the bank's line
    imported = await upload(client, world, (DATA / "utf8.csv").read_bytes(), mapping=MAPPING)
    statement = imported.json()["id"]
    assert (await lines(client, world, statement))[0]["status"] == "unmatched"
    widened = await client.put(
        url(world, "/statement-settings"),
        json={"match_window_days": 7},
        headers=world.steward.headers,
    )
    assert widened.status_code == 200, widened.text
    assert widened.json()["match_window_days"] == 7
    assert json.loads(json.dumps(widened.json()["mapping"]))["date"] == "Date"
    first = (await lines(client, world, statement))[0]
    assert [s["entry"] for s in first["suggestions"]] == [seq]
    too_wide = await client.put(
        url(world, "/statement-settings"),
        json={"match_window_days": 400},
        headers=world.steward.headers,
    )
    assert too_wide.status_code in (400, 422)


async def test_a_payment_and_a_move_are_matched_in_their_places(
    client: Client, world: World
) -> None:
    await donate(client, world, "400.00", "2026-11-01")
    policy = await standing_policy(client, world, "rent-relief")
    paid = await client.post(
        f"/api/groups/{world.slug}/entries",
        json={
            "kind": "disbursement",
            "fund": "rent-relief",
            "amount": "320.00",
            "occurred_on": "2026-11-03",
            "policy": policy,
        },
        headers=world.steward.headers,
    )
    assert paid.status_code == 201, paid.text
    imported = await upload(client, world, (DATA / "utf8.csv").read_bytes(), mapping=MAPPING)
    listed = await lines(client, world, imported.json()["id"])
    rent = next(line for line in listed if line["amount"] == "-320.00")
    assert [s["entry"] for s in rent["suggestions"]] == [paid.json()["seq"]]
