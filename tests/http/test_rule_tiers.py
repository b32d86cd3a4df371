"""Rules that fit the amount through the API, on both engines: the table of tiers, lazy
consensus, a higher quorum for large sums, urgent decisions and their confirmation, and
an amendment that re-tiers the new round."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.bundle import verify_bundle
from proposals.models import Round
from tests.http.test_proposals import (
    BLOCK_REASON,
    answer,
    donate,
    let_the_deadline_pass,
    pay,
    propose,
    url,
)
from tests.support.people import World

Client = AsyncTestClient[Litestar]
TABLE = [
    {"up_to": "100", "mode": "lazy", "min_deadline_hours": 24, "urgent_agreements": 2},
    {"up_to": "1000", "mode": "consensus"},
    {"mode": "consensus", "quorum": "0.75", "min_deadline_hours": 96},
]


def rules_url(world: World) -> str:
    return f"/api/groups/{world.slug}/rules"


async def set_tiers(client: Client, world: World, tiers: Any = TABLE) -> Any:
    response = await client.put(
        rules_url(world), headers=world.admin.headers, json={"tiers": tiers}
    )
    assert response.status_code == 200, response.text
    return response.json()


async def show(client: Client, world: World, number: int) -> Any:
    response = await client.get(url(world, f"/{number}"), headers=world.member.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_table_is_kept_and_a_bad_one_is_refused_naming_the_field(
    client: Client, world: World
) -> None:
    assert (await client.get(rules_url(world), headers=world.admin.headers)).json()["tiers"] == []
    saved = await set_tiers(client, world)
    assert saved["tiers"][0] == {
        "up_to": "100",
        "mode": "lazy",
        "min_deadline_hours": 24,
        "quorum": "0",
        "urgent_agreements": 2,
    }
    assert saved["tiers"][2]["quorum"] == "0.75"
    assert "up_to" not in saved["tiers"][2]
    for bad, field in [
        ([TABLE[1], TABLE[0], TABLE[2]], "tiers[1].up_to"),
        ([TABLE[0], {**TABLE[2], "up_to": "5000"}], "tiers[1].up_to"),
        ([{"up_to": "12.345", "mode": "lazy"}, TABLE[2]], "tiers[0].up_to"),
        ([TABLE[0], {"mode": "majority"}], "tiers[1].mode"),
        ("lazy", "tiers"),
    ]:
        refused = await client.put(
            rules_url(world), headers=world.admin.headers, json={"tiers": bad}
        )
        assert refused.status_code == 422, refused.text
        assert field in refused.text
        assert refused.json()["errors"][0]["field"] == field
    kept = (await client.get(rules_url(world), headers=world.admin.headers)).json()
    assert kept["tiers"] == saved["tiers"]
    # Members may read the rules' effect on their proposals, not change the table.
    denied = await client.put(rules_url(world), headers=world.member.headers, json={"tiers": []})
    assert denied.status_code == 403
    assert (await set_tiers(client, world, []))["tiers"] == []


async def decision_leaf(client: Client, world: World, seq: int) -> dict[str, Any]:
    """The leaf of entry ``seq`` of the group's log, exactly as hashed (the jsonl export)."""
    leaves = (await client.get(f"/api/groups/{world.slug}/export.jsonl")).text.splitlines()
    leaf: dict[str, Any] = json.loads(leaves[seq - 1])
    assert leaf["seq"] == str(seq)
    return leaf


async def test_a_small_amount_passes_by_lazy_consensus_at_its_deadline(
    client: Client, world: World, session: AsyncSession
) -> None:
    await set_tiers(client, world)
    soon = (datetime.now(UTC) + timedelta(hours=25)).isoformat()
    proposal = await propose(client, world, world.member, amount="80.00", closes_at=soon)
    tier = proposal["rounds"][0]["tier"]
    assert (tier["number"], tier["label"], tier["mode"]) == (1, "up to EUR 100", "lazy")
    await let_the_deadline_pass(session)
    decided = await show(client, world, 1)
    assert decided["status"] == "passed"
    outcome = decided["rounds"][0]["outcome"]
    assert outcome["reason"] == "lazy_passed"
    assert outcome["explanation"].startswith(
        "Tier 1, up to EUR 100 (EUR 80 is asked): lazy consensus"
    )
    # The decision's leaf in the log names the tier it was decided in.
    leaf = await decision_leaf(client, world, decided["rounds"][0]["decided_in"])
    assert leaf["decision"]["tier"] == "1: up to EUR 100, lazy"


async def test_a_block_stops_lazy_consensus(
    client: Client, world: World, session: AsyncSession
) -> None:
    await set_tiers(client, world)
    await propose(client, world, world.member, amount="80.00")
    assert (await answer(client, world, world.admin, 1, "agree")).status_code == 201
    blocked = await answer(client, world, world.steward, 1, "block", BLOCK_REASON)
    assert blocked.status_code == 201
    await let_the_deadline_pass(session)
    decided = await show(client, world, 1)
    assert decided["status"] == "blocked"
    assert "under lazy consensus one block stops" in decided["rounds"][0]["outcome"]["explanation"]


async def test_a_large_amount_needs_the_higher_quorum_and_a_longer_deadline(
    client: Client, world: World, session: AsyncSession
) -> None:
    await set_tiers(client, world)
    too_soon = (datetime.now(UTC) + timedelta(hours=50)).isoformat()
    refused = await client.post(
        url(world),
        headers=world.member.headers,
        json={
            "title": "A new roof",
            "fund": "rent-relief",
            "amount": "2000.00",
            "closes_at": too_soon,
        },
    )
    assert refused.status_code == 422
    assert "96 hours" in refused.text
    await propose(client, world, world.member, amount="2000.00")
    await propose(client, world, world.member, amount="500.00")
    for number in (1, 2):
        for person in (world.admin, world.steward):
            assert (await answer(client, world, person, number, "agree")).status_code == 201
    await let_the_deadline_pass(session)
    large, middle = await show(client, world, 1), await show(client, world, 2)
    # Two of four: enough for the ordinary quorum (half), not for three quarters.
    assert large["status"] == "not_passed"
    assert large["rounds"][0]["outcome"]["reason"] == "no_quorum"
    assert large["rounds"][0]["tally"]["quorum_needed"] == 3
    assert large["rounds"][0]["outcome"]["explanation"].startswith(
        "Tier 3, above EUR 1,000 (EUR 2,000 is asked)"
    )
    assert middle["status"] == "passed"
    assert middle["rounds"][0]["tier"]["label"] == "up to EUR 1,000"


async def test_urgent_passes_early_money_goes_out_and_the_deadline_confirms_it(
    client: Client, world: World, session: AsyncSession
) -> None:
    await set_tiers(client, world)
    await donate(client, world, "500.00")
    proposal = await propose(client, world, world.member, amount="60.00", urgent=True)
    assert proposal["urgent"] is True
    assert proposal["urgent_decision"] is None
    assert (await pay(client, world, "60.00")).status_code == 409  # not passed yet
    await answer(client, world, world.admin, 1, "agree")
    await answer(client, world, world.steward, 1, "concern", "Receipts, please.")
    passed = await show(client, world, 1)
    assert passed["status"] == "passed"
    assert passed["urgent_decision"] == "passed urgently, awaiting confirmation"
    assert passed["rounds"][0]["closed_at"] is None
    assert passed["rounds"][0]["urgent_passed_at"] is not None
    # Who has not spoken yet still shows: the confirmation needs them too.
    assert {m["member"] for m in passed["not_responded"]} == {
        world.facilitator.user.name,
        world.member.user.name,
    }
    paid = await pay(client, world, "60.00")
    assert paid.status_code == 201
    # The urgent decision is in the log before the money it authorises: a leaf closed_by
    # "urgent", stating the hash of the minute as it stood then (kept on the round).
    payment = await decision_leaf(client, world, int(paid.json()["seq"]))
    urgent = await decision_leaf(client, world, int(payment["decided_in"]))
    assert (urgent["decision"]["outcome"], urgent["decision"]["closed_by"]) == ("passed", "urgent")
    assert urgent["decision"]["round"] == "1"
    assert "passed urgently at" in urgent["decision"]["tier"]
    kept = await session.scalar(select(Round.urgent_minute))
    await session.commit()
    assert kept is not None
    assert urgent["decision"]["minute"] == hashlib.sha256(kept.encode()).hexdigest()
    # The round stays open: the others may still respond until the deadline.
    assert (await answer(client, world, world.facilitator, 1, "agree")).status_code == 201
    await let_the_deadline_pass(session)
    confirmed = await show(client, world, 1)
    assert confirmed["status"] == "passed"
    assert confirmed["urgent_decision"] == "passed urgently, confirmed"
    assert confirmed["rounds"][0]["outcome"]["explanation"].startswith("Passed urgently on ")
    assert confirmed["paid"] == "60.00"
    leaf = await decision_leaf(client, world, confirmed["rounds"][0]["decided_in"])
    assert leaf["decision"]["tier"].startswith("1: up to EUR 100, lazy, passed urgently at ")
    assert leaf["decision"]["closed_by"] == "deadline"
    assert int(leaf["seq"]) > int(urgent["seq"])
    verified = (await client.get(f"/api/groups/{world.slug}/verify")).json()
    assert verified["ok"], verified


async def test_urgent_not_confirmed_keeps_the_money_paid_and_says_so(
    client: Client, world: World, session: AsyncSession, tmp_path: Path
) -> None:
    await set_tiers(client, world)
    await donate(client, world, "500.00")
    await propose(client, world, world.member, amount="60.00", urgent=True)
    await answer(client, world, world.admin, 1, "agree")
    await answer(client, world, world.steward, 1, "agree")
    assert (await pay(client, world, "40.00")).status_code == 201
    blocked = await answer(client, world, world.facilitator, 1, "block", BLOCK_REASON)
    assert blocked.status_code == 201
    await let_the_deadline_pass(session)
    decided = await show(client, world, 1)
    assert decided["status"] == "blocked"
    assert decided["urgent_decision"] == "passed urgently, not confirmed"
    assert "money already paid stays paid" in decided["rounds"][0]["outcome"]["explanation"]
    assert (decided["paid"], decided["authorised"]) == ("40.00", None)
    # No more money under a decision that was not confirmed.
    assert (await pay(client, world, "20.00")).status_code == 409
    # The payment under the urgent leaf, then the leaf that did not confirm it: both the
    # database's verifier and the bundle's check the log whole.
    verified = (await client.get(f"/api/groups/{world.slug}/verify")).json()
    assert verified["ok"], verified
    exported = await client.get(f"/api/groups/{world.slug}/export.zip")
    bundle = tmp_path / "bundle.zip"
    bundle.write_bytes(exported.content)
    checked = verify_bundle(bundle)
    assert checked.ok, checked.problem


async def test_urgent_is_refused_where_the_tier_does_not_allow_it(
    client: Client, world: World
) -> None:
    await set_tiers(client, world)
    for amount in ("500.00", None):
        body: dict[str, Any] = {"title": "Fix the van", "urgent": True}
        if amount:
            body.update(fund="rent-relief", amount=amount)
        refused = await client.post(url(world), headers=world.member.headers, json=body)
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["field"] == "urgent"
    listed = await client.get(url(world), headers=world.member.headers)
    assert listed.json() == []


async def test_an_amendment_that_changes_the_amount_re_tiers_the_new_round(
    client: Client, world: World
) -> None:
    await set_tiers(client, world)
    await propose(client, world, world.member, amount="80.00")
    amended = await client.post(
        url(world, "/1/amendments"),
        headers=world.member.headers,
        json={"amount": "1500.00", "reason": "Three months, not one."},
    )
    assert amended.status_code == 201, amended.text
    rounds = amended.json()["rounds"]
    assert [r["tier"]["number"] for r in rounds] == [1, 3]
    assert rounds[1]["tier"]["quorum"] == "0.75"
    # A later change of the table leaves the open round's tier alone.
    await set_tiers(client, world, [])
    assert (await show(client, world, 1))["rounds"][1]["tier"]["number"] == 3
