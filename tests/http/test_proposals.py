"""The life of a proposal through the API, and the money a passed one authorises."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.settings import Settings
from ledger import groups
from proposals.models import Round
from tests.support.clients import racing_client
from tests.support.people import Person, World, make_person

Client = AsyncTestClient[Litestar]
BLOCK_REASON = "We promised R-17 rent for two months, not three; cut it to 250."


def url(world: World, tail: str = "") -> str:
    return f"/api/groups/{world.slug}/proposals{tail}"


async def propose(client: Client, world: World, by: Person, **fields: Any) -> Any:
    body = {
        "title": "Rent for R-17 in March",
        "body": "Three months of arrears.",
        "fund": "rent-relief",
        "amount": "300.00",
        "counterparty": "R-17",
        **fields,
    }
    response = await client.post(url(world), json=body, headers=by.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def answer(
    client: httpx.AsyncClient,
    world: World,
    by: Person,
    number: int,
    position: str,
    reason: str = "",
) -> Any:
    return await client.post(
        url(world, f"/{number}/responses"),
        headers=by.headers,
        json={"position": position, "reason": reason},
    )


async def donate(client: Client, world: World, amount: str) -> None:
    response = await client.post(
        f"/api/groups/{world.slug}/entries",
        headers=world.steward.headers,
        json={"kind": "donation", "fund": "rent-relief", "amount": amount},
    )
    assert response.status_code == 201


async def pay(
    client: httpx.AsyncClient, world: World, amount: str, proposal: int | None = 1
) -> Any:
    return await client.post(
        f"/api/groups/{world.slug}/entries",
        headers=world.steward.headers,
        json={
            "kind": "disbursement",
            "fund": "rent-relief",
            "amount": amount,
            "proposal": proposal,
            "counterparty": "R-17",
        },
    )


async def funds(client: Client, world: World) -> dict[str, dict[str, str]]:
    listed = (await client.get(f"/api/groups/{world.slug}/funds")).json()
    return {f["slug"]: f for f in listed}


async def membership_id(client: Client, world: World, person: Person) -> int:
    members = (
        await client.get(f"/api/groups/{world.slug}/members", headers=world.admin.headers)
    ).json()
    found: int = next(m["id"] for m in members if m["name"] == person.user.name)
    return found


async def let_the_deadline_pass(session: AsyncSession) -> None:
    await session.execute(
        update(Round)
        .where(Round.closed_at.is_(None))
        .values(closes_at=datetime.now(UTC) - timedelta(hours=1))
    )
    await session.commit()


async def stored_rounds(session: AsyncSession) -> list[Round]:
    """The rounds as stored, read without a request (a request would close due rounds)."""
    rounds = list(await session.scalars(select(Round).order_by(Round.id)))
    await session.commit()  # end the read: on SQLite it would hold up the app's writes
    return rounds


async def test_blocked_then_amended_then_passed_then_paid(client: Client, world: World) -> None:
    await donate(client, world, "500.00")
    proposal = await propose(client, world, world.member)
    assert proposal["status"] == "open"
    assert proposal["rounds"][0]["tally"]["eligible"] == 4

    blocked = await answer(client, world, world.admin, 1, "block", BLOCK_REASON)
    assert blocked.status_code == 201, blocked.text
    for person in (world.steward, world.facilitator, world.member):
        assert (await answer(client, world, person, 1, "agree")).status_code == 201
    after_round_1 = (await client.get(url(world, "/1"), headers=world.member.headers)).json()
    assert after_round_1["status"] == "blocked"
    assert after_round_1["rounds"][0]["closed_by"] == "all_responded"
    assert "Blocked by 1 member" in after_round_1["rounds"][0]["outcome"]["explanation"]
    assert (await pay(client, world, "300.00")).status_code == 409

    amended = await client.post(
        url(world, "/1/amendments"),
        headers=world.member.headers,
        json={"amount": "250.00", "reason": "Two months, as asked."},
    )
    assert amended.status_code == 201, amended.text
    body = amended.json()
    assert body["status"] == "open"
    assert [r["number"] for r in body["rounds"]] == [1, 2]
    assert body["rounds"][1]["responses"] == []
    assert [c["reason"] for c in body["rounds"][1]["concerns_to_answer"]] == [BLOCK_REASON]
    assert body["versions"][1]["changed"] == ["amount"]

    for person in (world.admin, world.steward, world.facilitator, world.member):
        assert (await answer(client, world, person, 1, "agree")).status_code == 201
    passed = (await client.get(url(world, "/1"), headers=world.member.headers)).json()
    assert passed["status"] == "passed"
    assert passed["authorised"] == "250.00"
    assert (await funds(client, world))["rent-relief"]["committed"] == "250.00"
    assert (await funds(client, world))["rent-relief"]["available"] == "250.00"

    assert (await pay(client, world, "250.01")).status_code == 409
    paid = await pay(client, world, "250.00")
    assert paid.status_code == 201, paid.text
    assert paid.json()["proposal"] == {"number": 1, "version": 2}
    # The hashed leaf itself names the decision, so the public log proves it.
    leaves = (await client.get(f"/api/groups/{world.slug}/export.jsonl")).content.splitlines()
    leaf = json.loads(leaves[paid.json()["seq"] - 1])
    assert leaf["proposal"] == {"number": "1", "version": "2"}
    assert (await pay(client, world, "0.01")).status_code == 409
    shown = (await client.get(url(world, "/1"))).json()
    assert shown["paid"] == "250.00"
    fund = (await funds(client, world))["rent-relief"]
    assert (fund["balance"], fund["committed"], fund["available"]) == ("250.00", "0.00", "250.00")


async def test_payments_need_a_passed_disbursement_proposal(client: Client, world: World) -> None:
    await donate(client, world, "500.00")
    await propose(client, world, world.member)
    refused = await pay(client, world, "10.00")
    assert refused.status_code == 409
    assert "open" in refused.json()["detail"]
    assert (await pay(client, world, "10.00", proposal=99)).status_code == 409


async def test_a_payment_under_a_decision_pays_whom_the_group_decided(
    client: Client, world: World
) -> None:
    await donate(client, world, "500.00")
    await propose(client, world, world.member)  # pays R-17
    for person in (world.admin, world.steward, world.facilitator, world.member):
        await answer(client, world, person, 1, "agree")
    for counterparty, named in (("R-77", "names R-77"), (None, "names no recipient")):
        refused = await client.post(
            f"/api/groups/{world.slug}/entries",
            headers=world.steward.headers,
            json={
                "kind": "disbursement",
                "fund": "rent-relief",
                "amount": "10.00",
                "proposal": 1,
                "counterparty": counterparty,
            },
        )
        assert refused.status_code == 409, refused.text
        assert refused.json()["errors"] == [
            {"field": "counterparty", "message": f"Proposal 1 pays R-17; this payment {named}."}
        ]
    entries = (await client.get(f"/api/groups/{world.slug}/entries")).json()
    assert [e["kind"] for e in entries["entries"]] == ["decision", "donation"]
    # Several partial payments to the decided recipient are fine.
    assert (await pay(client, world, "100.00")).status_code == 201
    assert (await pay(client, world, "50.00")).status_code == 201


async def test_two_racing_payments_of_one_proposal_record_once(
    client: Client, world: World, settings: Settings
) -> None:
    await donate(client, world, "500.00")
    await propose(client, world, world.member)
    for person in (world.admin, world.steward, world.facilitator, world.member):
        await answer(client, world, person, 1, "agree")
    async with racing_client(settings) as racing:
        results = await asyncio.gather(pay(racing, world, "300.00"), pay(racing, world, "300.00"))
    assert sorted(r.status_code for r in results) == [201, 409]
    assert (await funds(client, world))["rent-relief"]["balance"] == "200.00"


async def test_a_member_who_joined_mid_round_cannot_respond_in_it(
    client: Client, world: World, session: AsyncSession
) -> None:
    await propose(client, world, world.member)
    newcomer = await make_person(session, "newcomer")
    await groups.add_member(session, await world.fresh_group(session), newcomer.user, ["member"])
    await session.commit()
    refused = await answer(client, world, newcomer, 1, "agree")
    assert refused.status_code == 409
    assert "when this round opened" in refused.json()["detail"]


async def test_a_member_removed_mid_round_no_longer_counts(
    client: Client, world: World, session: AsyncSession
) -> None:
    await propose(client, world, world.member)
    members = (
        await client.get(f"/api/groups/{world.slug}/members", headers=world.admin.headers)
    ).json()
    steward_id = next(m["id"] for m in members if "steward" in m["roles"])
    removed = await client.delete(
        f"/api/groups/{world.slug}/members/{steward_id}", headers=world.admin.headers
    )
    assert removed.status_code == 204
    shown = (await client.get(url(world, "/1"), headers=world.member.headers)).json()
    assert shown["rounds"][0]["tally"]["eligible"] == 3
    for person in (world.admin, world.facilitator, world.member):
        await answer(client, world, person, 1, "agree")
    assert (await client.get(url(world, "/1"))).json()["status"] == "passed"
    # The minute lists the members who counted, as the tally does.
    [round_1] = await stored_rounds(session)
    minute = json.loads(round_1.minute or "{}")
    assert len(minute["eligible"]) == minute["tally"]["eligible"] == 3
    assert world.steward.user.name not in json.dumps(minute)


async def test_responses_and_amendments_after_the_close_are_refused(
    client: Client, world: World
) -> None:
    await propose(client, world, world.member)
    for person in (world.admin, world.steward, world.facilitator, world.member):
        await answer(client, world, person, 1, "agree")
    assert (await answer(client, world, world.admin, 1, "block", BLOCK_REASON)).status_code == 409
    late = await client.post(
        url(world, "/1/amendments"),
        headers=world.member.headers,
        json={"body": "More detail", "reason": "Clarify"},
    )
    assert late.status_code == 409


async def test_the_latest_response_of_a_member_counts_once(client: Client, world: World) -> None:
    await propose(client, world, world.member)
    await answer(client, world, world.admin, 1, "concern", "Is R-17 behind on March too?")
    await answer(client, world, world.admin, 1, "agree")
    await answer(client, world, world.admin, 1, "agree")
    round_1 = (await client.get(url(world, "/1"), headers=world.member.headers)).json()["rounds"][0]
    assert round_1["tally"]["responded"] == 1
    assert round_1["tally"]["agree"] == 1
    assert [r["position"] for r in round_1["responses"]] == ["agree"]


async def test_two_racing_closes_give_one_outcome(
    client: Client, world: World, settings: Settings
) -> None:
    rules = await client.put(
        f"/api/groups/{world.slug}/rules",
        headers=world.admin.headers,
        json={"rules": {"min_open_hours": 0}},
    )
    assert rules.status_code == 200, rules.text
    await propose(client, world, world.member)
    await answer(client, world, world.admin, 1, "agree")
    await answer(client, world, world.steward, 1, "agree")
    async with racing_client(settings) as racing:
        closes = await asyncio.gather(
            *(
                racing.post(url(world, "/1/close"), headers=world.facilitator.headers)
                for _ in range(2)
            )
        )
    assert sorted(r.status_code for r in closes) == [200, 409]
    shown = (await client.get(url(world, "/1"))).json()
    assert shown["status"] == "passed"
    assert shown["rounds"][0]["closed_by"] == "facilitator"


async def test_a_close_before_the_minimum_time_is_refused(client: Client, world: World) -> None:
    await propose(client, world, world.member)
    early = await client.post(url(world, "/1/close"), headers=world.facilitator.headers)
    assert early.status_code == 409
    assert "every eligible member" in early.json()["detail"]


async def test_a_block_needs_a_real_reason(client: Client, world: World) -> None:
    await propose(client, world, world.member)
    for reason in ("", "   ", "no"):
        response = await answer(client, world, world.admin, 1, "block", reason)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "reason"


async def test_only_the_author_withdraws_and_only_facilitators_close(
    client: Client, world: World
) -> None:
    await propose(client, world, world.member)
    refused = await client.post(url(world, "/1/withdraw"), headers=world.admin.headers)
    assert refused.status_code == 403
    assert refused.json()["detail"] == "Only the author can withdraw a proposal."
    assert (
        await client.post(url(world, "/1/close"), headers=world.member.headers)
    ).status_code == 403
    assert (await client.get(url(world, "/1"))).json()["status"] == "open"
    withdrawn = await client.post(url(world, "/1/withdraw"), headers=world.member.headers)
    assert withdrawn.status_code == 200
    assert withdrawn.json()["status"] == "withdrawn"


async def test_the_public_sees_counts_and_reasons_but_not_names(
    client: Client, world: World
) -> None:
    await propose(client, world, world.member)
    await answer(client, world, world.admin, 1, "block", BLOCK_REASON)
    public = (await client.get(url(world, "/1"))).json()["rounds"][0]["responses"]
    assert public == [
        {
            "position": "block",
            "reason": BLOCK_REASON,
            "at": public[0]["at"],
            "member": None,
            "member_id": None,
        }
    ]
    # Nor who proposed it: the author is a member too.
    shown = (await client.get(url(world, "/1"))).json()
    assert shown["author"] is None
    assert [v["author"] for v in shown["versions"]] == [None]
    assert world.member.user.name not in json.dumps(shown)
    member_view = (await client.get(url(world, "/1"), headers=world.member.headers)).json()
    assert member_view["rounds"][0]["responses"][0]["member"] == world.admin.user.name
    assert member_view["author"] == world.member.user.name
    assert member_view["versions"][0]["author"] == world.member.user.name


async def test_reading_a_proposal_after_its_deadline_closes_the_round_first(
    client: Client, world: World, session: AsyncSession
) -> None:
    proposal = await propose(client, world, world.member)
    agreed = await answer(client, world, world.admin, proposal["number"], "agree")
    assert agreed.status_code == 201, agreed.text
    await session.execute(update(Round).values(closes_at=datetime.now(UTC) - timedelta(hours=1)))
    await session.commit()

    for path in (f"/{proposal['number']}", ""):  # one proposal, and the list
        response = await client.get(url(world, path), headers=world.member.headers)
        assert response.status_code == 200, response.text
    shown = (await client.get(url(world, f"/{proposal['number']}"))).json()
    assert shown["status"] != "open"
    assert shown["rounds"][0]["closed_at"] is not None


async def test_a_title_only_fix_keeps_the_round_and_its_responses(
    client: Client, world: World
) -> None:
    await propose(client, world, world.member)
    await answer(client, world, world.admin, 1, "concern", "Which month is this for?")
    await answer(client, world, world.steward, 1, "agree")
    fixed = await client.post(
        url(world, "/1/amendments"),
        headers=world.member.headers,
        json={"title": "Rent for R-17, March only", "reason": "Say which month."},
    )
    assert fixed.status_code == 201, fixed.text
    body = fixed.json()
    assert body["title"] == "Rent for R-17, March only"
    assert [v["changed"] for v in body["versions"]] == [[], ["title"]]
    assert [r["number"] for r in body["rounds"]] == [1]
    assert [r["position"] for r in body["rounds"][0]["responses"]] == ["concern", "agree"]
    # The round the first two responses began is completed by the other two.
    for person in (world.facilitator, world.member):
        assert (await answer(client, world, person, 1, "agree")).status_code == 201
    shown = (await client.get(url(world, "/1"), headers=world.member.headers)).json()
    assert shown["status"] == "passed"
    assert shown["rounds"][0]["tally"]["responded"] == 4


async def test_only_the_author_or_a_facilitator_amends(client: Client, world: World) -> None:
    await propose(client, world, world.member)
    change = {"amount": "250.00", "reason": "Two months, as asked."}
    refused = await client.post(
        url(world, "/1/amendments"), headers=world.steward.headers, json=change
    )
    assert refused.status_code == 403
    assert "Only the author or a facilitator" in refused.json()["detail"]
    assert len((await client.get(url(world, "/1"))).json()["versions"]) == 1
    allowed = await client.post(
        url(world, "/1/amendments"), headers=world.facilitator.headers, json=change
    )
    assert allowed.status_code == 201, allowed.text
    assert [r["number"] for r in allowed.json()["rounds"]] == [1, 2]


async def test_the_member_who_would_receive_the_money_does_not_count(
    client: Client, world: World
) -> None:
    beneficiary = await membership_id(client, world, world.steward)
    proposal = await propose(client, world, world.member, beneficiary=beneficiary)
    assert proposal["rounds"][0]["tally"]["eligible"] == 3
    # Their block is taken but does not count, nor does the round wait for them.
    blocked = await answer(client, world, world.steward, 1, "block", BLOCK_REASON)
    assert blocked.status_code == 201, blocked.text
    for person in (world.admin, world.facilitator, world.member):
        assert (await answer(client, world, person, 1, "agree")).status_code == 201
    shown = (await client.get(url(world, "/1"), headers=world.member.headers)).json()
    assert shown["status"] == "passed"
    round_1 = shown["rounds"][0]
    assert round_1["closed_by"] == "all_responded"
    assert (round_1["tally"]["eligible"], round_1["tally"]["block"]) == (3, 0)
    assert world.steward.user.name not in [r["member"] for r in round_1["responses"]]


async def test_a_round_keeps_the_rules_it_opened_with(client: Client, world: World) -> None:
    await propose(client, world, world.member)
    changed = await client.put(
        f"/api/groups/{world.slug}/rules",
        headers=world.admin.headers,
        json={"rules": {"quorum": "1", "min_open_hours": 0}},
    )
    assert changed.status_code == 200, changed.text
    first = (await client.get(url(world, "/1"))).json()
    assert first["rounds"][0]["tally"]["quorum_needed"] == 2
    # Round 1 opened with 48 hours before a close: the change does not shorten it.
    early = await client.post(url(world, "/1/close"), headers=world.facilitator.headers)
    assert early.status_code == 409
    second = await propose(client, world, world.member)
    assert second["rounds"][0]["tally"]["quorum_needed"] == 4


async def test_acting_after_the_deadline_meets_the_decided_round(
    client: Client, world: World, session: AsyncSession
) -> None:
    await donate(client, world, "500.00")
    await propose(client, world, world.member)
    for person in (world.admin, world.steward):  # a quorum: it passes at its deadline
        await answer(client, world, person, 1, "agree")
    await let_the_deadline_pass(session)

    # Nobody read it since: the late block is refused, and the close it made is kept.
    late = await answer(client, world, world.facilitator, 1, "block", BLOCK_REASON)
    assert late.status_code == 409
    [round_1] = await stored_rounds(session)
    assert (round_1.closed_by, round_1.outcome) == ("deadline", "passed")
    # What passed can no longer be changed into a new round, nor withdrawn.
    amended = await client.post(
        url(world, "/1/amendments"),
        headers=world.member.headers,
        json={"amount": "400.00", "reason": "Four months after all."},
    )
    assert amended.status_code == 409
    withdrawn = await client.post(url(world, "/1/withdraw"), headers=world.member.headers)
    assert withdrawn.status_code == 409
    assert len(await stored_rounds(session)) == 1
    assert (await pay(client, world, "300.00")).status_code == 201


async def test_a_payment_after_the_deadline_needs_nobody_to_read_the_proposal_first(
    client: Client, world: World, session: AsyncSession
) -> None:
    await donate(client, world, "500.00")
    await propose(client, world, world.member)
    for person in (world.admin, world.steward):
        await answer(client, world, person, 1, "agree")
    await let_the_deadline_pass(session)
    paid = await pay(client, world, "300.00")
    assert paid.status_code == 201, paid.text
    [round_1] = await stored_rounds(session)
    assert (round_1.closed_by, round_1.outcome) == ("deadline", "passed")


async def test_a_member_posting_twice_at_once_has_one_current_response(
    client: Client, world: World, settings: Settings
) -> None:
    await propose(client, world, world.member)
    async with racing_client(settings) as racing:
        posted = await asyncio.gather(
            answer(racing, world, world.admin, 1, "agree"),
            answer(racing, world, world.admin, 1, "concern", "Is March paid already?"),
        )
    assert [r.status_code for r in posted] == [201, 201]
    round_1 = (await client.get(url(world, "/1"), headers=world.member.headers)).json()["rounds"][0]
    assert round_1["tally"]["responded"] == 1
    assert len(round_1["responses"]) == 1


async def test_a_closed_round_reads_the_same_after_a_member_leaves(
    client: Client, world: World
) -> None:
    await propose(client, world, world.member)
    for person in (world.admin, world.steward, world.facilitator, world.member):
        await answer(client, world, person, 1, "agree")
    before = (await client.get(url(world, "/1"), headers=world.member.headers)).json()
    assert before["status"] == "passed"
    steward = await membership_id(client, world, world.steward)
    removed = await client.delete(
        f"/api/groups/{world.slug}/members/{steward}", headers=world.admin.headers
    )
    assert removed.status_code == 204
    after = (await client.get(url(world, "/1"), headers=world.member.headers)).json()
    assert after["rounds"] == before["rounds"]
    assert after["rounds"][0]["tally"]["eligible"] == 4


async def test_the_last_responses_arriving_together_close_the_round(
    client: Client, world: World, settings: Settings
) -> None:
    await propose(client, world, world.member)
    async with racing_client(settings) as racing:
        posted = await asyncio.gather(
            *(
                answer(racing, world, person, 1, "agree")
                for person in (world.admin, world.steward, world.facilitator, world.member)
            )
        )
    assert [r.status_code for r in posted] == [201] * 4
    shown = (await client.get(url(world, "/1"))).json()
    assert shown["status"] == "passed"
    assert shown["rounds"][0]["closed_by"] == "all_responded"
