"""The decision itself is in the log: closing a round appends a decision leaf, a payment
names it, and both verifiers hold payments to it, so a status changed behind the service's
back shows; closed rounds cannot be edited; logs written before decisions were logged still
verify, their payments counted as authorised by the database record only."""

from __future__ import annotations

import hashlib
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from ledger import service
from ledger.bundle import verify_bundle
from ledger.canonical import parse_leaf
from ledger.groups import active_membership
from ledger.models import Entry
from ledger.schemas import DisbursementIn, DonationIn, ReversalIn
from ledger.verify import verify_group
from proposals import service as proposals
from proposals.models import Proposal, Round
from proposals.schemas import AmendmentIn, ProposalIn
from tests.support.people import Person, World, adopt_policy

Client = AsyncTestClient[Litestar]
BLOCK = "This pays the wrong landlord; check the lease first."


def everyone(world: World) -> dict[str, Person]:
    """The members who count in a round, by role."""
    return {
        "admin": world.admin,
        "steward": world.steward,
        "facilitator": world.facilitator,
        "member": world.member,
    }


async def _proposal(
    session: AsyncSession, world: World, positions: dict[str, str], amount: str = "50.00"
) -> Proposal:
    """A proposal to pay R-1 from rent-relief, every member responding as ``positions``
    says (by role; agree otherwise): the last response closes the round."""
    proposal = await proposals.create_proposal(
        session,
        world.group,
        world.admin.user,
        ProposalIn(
            title="Rent for R-1",
            body="",
            fund="rent-relief",
            amount=amount,
            counterparty="R-1",
        ),
    )
    for role, person in everyone(world).items():
        position = positions.get(role, "agree")
        reason = BLOCK if position == "block" else ""
        await proposals.respond(
            session, world.group, proposal.number, person.user, position, reason
        )
    return await proposals.get_proposal(session, world.group, proposal.number)


async def _donate(session: AsyncSession, world: World, amount: str = "500.00") -> Entry:
    return await service.record_entry(
        session, world.group, DonationIn(fund="rent-relief", amount=amount), recorded_by=None
    )


async def _pay(
    session: AsyncSession, world: World, amount: str = "50.00", **named: object
) -> Entry:
    payment = DisbursementIn(fund="rent-relief", amount=amount, counterparty="R-1", **named)  # type: ignore[arg-type]
    return await service.record_entry(
        session,
        world.group,
        payment,
        recorded_by=world.steward.user.id,
        authority=proposals.authorise_payment,
    )


async def _decisions(session: AsyncSession, world: World) -> list[Entry]:
    return list(
        await session.scalars(
            select(Entry)
            .where(Entry.group_id == world.group.id, Entry.kind == "decision")
            .order_by(Entry.seq)
        )
    )


async def test_closing_a_round_appends_its_decision_and_the_payment_names_it(
    session: AsyncSession, world: World
) -> None:
    await _donate(session, world)
    proposal = await _proposal(session, world, {})
    assert proposal.status == "passed"
    (decision,) = await _decisions(session, world)
    leaf = parse_leaf(decision.leaf)
    assert (leaf.v, leaf.kind, leaf.seq) == ("4", "decision", "2")
    assert leaf.proposal is not None
    assert leaf.proposal.number == str(proposal.number)
    body = leaf.decision
    assert body is not None
    assert (body.outcome, body.round, body.closed_by) == ("passed", "1", "all_responded")
    assert (body.tally.agree, body.tally.responded, body.tally.eligible) == ("4", "4", "4")
    assert body.rules.quorum == "0.5"
    assert body.rules.fallback is None
    assert body.tier is None
    assert body.money is not None
    assert (body.money.fund, body.money.amount, body.money.counterparty) == (
        "rent-relief",
        "5000",
        "R-1",
    )
    stored = proposal.rounds[0].minute
    assert stored is not None
    assert body.minute == hashlib.sha256(stored.encode()).hexdigest()
    assert body.names is None  # the group publishes no names by default
    assert b"Ana" not in decision.leaf
    assert world.admin.user.name.encode() not in decision.leaf

    paid = await _pay(session, world, proposal=proposal.number)
    assert paid.decided_in == decision.seq
    assert parse_leaf(paid.leaf).decided_in == str(decision.seq)
    await session.commit()
    report = await verify_group(session, await world.fresh_group(session))
    assert report.ok, report.problem
    assert (report.entries, report.unlogged_payments) == (3, 0)


async def test_names_enter_the_decision_only_where_the_group_publishes_them(
    session: AsyncSession, world: World
) -> None:
    await proposals.set_rules(session, world.group, {}, public_names=True)
    await _proposal(session, world, {"member": "stand_aside"})
    (decision,) = await _decisions(session, world)
    body = parse_leaf(decision.leaf).decision
    assert body is not None
    assert body.names is not None
    assert (world.member.user.name, "stand_aside") in {(n.member, n.position) for n in body.names}


@pytest.mark.parametrize("how", ["deadline", "facilitator", "withdrawn", "amended", "fallback"])
async def test_every_way_a_round_closes_is_logged(
    session: AsyncSession, world: World, how: str
) -> None:
    group = world.group
    if how == "fallback":
        await proposals.set_rules(
            session, group, {"fallback": {"after_blocked_rounds": 1, "agree_share": "0.75"}}, None
        )
    proposal = await proposals.create_proposal(
        session,
        group,
        world.admin.user,
        ProposalIn(title="Rent", body="", fund="rent-relief", amount="10.00", counterparty="R-1"),
    )
    number = proposal.number
    opened = proposal.rounds[0].opened_at
    later = opened + timedelta(days=365)  # not replace(year=...): 29 February has no next year
    expected: list[str]
    if how == "deadline":
        await proposals.respond(session, group, number, world.admin.user, "agree", "", opened)
        await proposals.close_due(session, later, group)
        expected = ["not_passed"]  # one of four responded: no quorum
    elif how == "facilitator":
        for person in list(everyone(world).values())[:3]:
            await proposals.respond(session, group, number, person.user, "agree", "", opened)
        await proposals.close(session, group, number, opened + timedelta(hours=49))
        expected = ["passed"]
    elif how == "withdrawn":
        await proposals.withdraw(session, group, number, world.admin.user, opened)
        expected = ["withdrawn"]
    elif how == "amended":
        membership = await active_membership(session, group.id, world.admin.user.id)
        assert membership is not None
        await proposals.amend(
            session,
            group,
            number,
            world.admin.user,
            membership,
            AmendmentIn(amount="12.00", reason="the rent went up"),
            opened,
        )
        expected = ["amended"]
    else:
        for role, person in everyone(world).items():
            position = "block" if role == "member" else "agree"
            await proposals.respond(
                session, group, number, person.user, position, BLOCK if position == "block" else ""
            )
        membership = await active_membership(session, group.id, world.admin.user.id)
        assert membership is not None
        await proposals.amend(
            session,
            group,
            number,
            world.admin.user,
            membership,
            AmendmentIn(body="Checked the lease.", reason="answering the block"),
        )
        for role, person in everyone(world).items():
            position = "block" if role == "member" else "agree"
            await proposals.respond(
                session, group, number, person.user, position, BLOCK if position == "block" else ""
            )
        expected = ["blocked", "passed"]  # 3 of 4 agree after a blocked round: 75%
    outcomes = [
        body.outcome
        for body in (parse_leaf(d.leaf).decision for d in await _decisions(session, world))
        if body is not None
    ]
    assert outcomes == expected
    await session.commit()
    assert (await verify_group(session, await world.fresh_group(session))).ok


async def test_a_status_changed_behind_the_log_authorises_a_payment_that_verify_names_broken(
    session: AsyncSession, world: World, client: Client, tmp_path: Path
) -> None:
    await _donate(session, world)
    proposal = await _proposal(session, world, {"member": "block"})
    assert proposal.status == "blocked"
    (decision,) = await _decisions(session, world)
    await session.commit()
    # Someone with database access says it passed; the service trusts the status...
    await session.execute(
        text("UPDATE proposals SET status = 'passed' WHERE id = :id"), {"id": proposal.id}
    )
    paid = await _pay(session, world, proposal=proposal.number)
    await session.commit()
    # ... but the log says what the group decided.
    report = await verify_group(session, await world.fresh_group(session))
    assert not report.ok
    assert report.first_bad_seq == paid.seq
    assert report.problem == (
        f"entry {paid.seq} is paid under proposal {proposal.number}, which did not pass "
        f"(entry {decision.seq}: blocked)"
    )
    exported = await client.get(f"/api/groups/{world.slug}/export.zip")
    assert exported.status_code == 200
    bundle = tmp_path / "bundle.zip"
    bundle.write_bytes(exported.content)
    checked = verify_bundle(bundle)
    assert (checked.ok, checked.first_bad_seq, checked.problem) == (
        False,
        paid.seq,
        report.problem,
    )


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE rounds SET outcome = 'passed'",
        "UPDATE rounds SET closed_at = NULL, outcome = NULL",
        "DELETE FROM rounds",
        "UPDATE responses SET position = 'agree'",
        "DELETE FROM responses",
    ],
)
async def test_the_database_refuses_to_change_closed_rounds_and_their_responses(
    session: AsyncSession, world: World, statement: str
) -> None:
    await _proposal(session, world, {"member": "block"})
    await session.commit()
    with pytest.raises(DBAPIError, match=r"final|append-only"):
        await session.execute(text(statement))
    await session.rollback()
    outcomes = list(await session.scalars(select(Round.outcome)))
    assert outcomes == ["blocked"]


async def test_an_open_round_still_takes_its_close(session: AsyncSession, world: World) -> None:
    """The triggers leave open rounds alone: closing is the update an open round gets."""
    proposal = await proposals.create_proposal(
        session, world.group, world.admin.user, ProposalIn(title="Picnic", body="")
    )
    await session.execute(
        text("UPDATE rounds SET closes_at = opened_at WHERE proposal_id = :id"),
        {"id": proposal.id},
    )
    assert await proposals.close_due(session, None, world.group) == 1


async def test_a_log_written_before_decisions_were_logged_still_verifies(
    session: AsyncSession,
    world: World,
    client: Client,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The previous code path: rounds closed without a decision leaf, payments of leaf
    versions 1 and 2. Then decisions are logged, and the old and the new live together."""

    async def not_logged(*_: object, **__: object) -> None:
        return None

    with monkeypatch.context() as before:
        before.setattr(proposals, "_log_decision", not_logged)
        await _donate(session, world)
        old_proposal = await _proposal(session, world, {})
        old_policy = await adopt_policy(session, world, fund="rent-relief")
        under_proposal = await _pay(session, world, "20.00", proposal=old_proposal.number)
        under_policy = await _pay(session, world, "5.00", policy=old_policy)
    assert [parse_leaf(e.leaf).v for e in (under_proposal, under_policy)] == ["1", "2"]
    assert await _decisions(session, world) == []
    # Decisions are logged from now on; the old proposal's money is still payable.
    new_proposal = await _proposal(session, world, {})
    later_old = await _pay(session, world, "30.00", proposal=old_proposal.number)
    assert parse_leaf(later_old.leaf).v == "1"
    new_payment = await _pay(session, world, proposal=new_proposal.number)
    assert parse_leaf(new_payment.leaf).v == "4"
    undone = await service.record_entry(
        session,
        world.group,
        ReversalIn(reverses=new_payment.seq, memo="paid twice"),
        recorded_by=None,
    )
    again = await _pay(session, world, proposal=new_proposal.number)  # the room came back
    assert again.seq == undone.seq + 1
    await session.commit()

    report = await verify_group(session, await world.fresh_group(session))
    assert report.ok, report.problem
    assert report.unlogged_payments == 3
    assert report.unlogged_seqs == [under_proposal.seq, under_policy.seq, later_old.seq]
    exported = await client.get(f"/api/groups/{world.slug}/export.zip")
    bundle = tmp_path / "bundle.zip"
    bundle.write_bytes(exported.content)
    for two_processes in (False, True):
        checked = verify_bundle(bundle, two_processes=two_processes)
        assert checked.ok, checked.problem
        assert checked.unlogged_payments == 3
        assert "authorised by the database record only" in checked.summary()
    with zipfile.ZipFile(bundle) as archive:
        versions = {parse_leaf(line).v for line in archive.read("leaves.jsonl").splitlines()}
    assert versions == {"1", "2", "4"}


async def test_an_old_payment_cannot_skip_a_decision_the_log_holds(
    session: AsyncSession, world: World
) -> None:
    """Once a proposal's decision is in the log, a payment under it must name it: one
    written the old way (no decided_in) is broken, not merely unlogged."""
    await _donate(session, world)
    proposal = await _proposal(session, world, {})

    async def old_authority(*args: object) -> service.Authorisation:
        found = await proposals.authorise_payment(*args)  # type: ignore[arg-type]
        return service.Authorisation(proposal=found.proposal)

    paid = await service.record_entry(
        session,
        world.group,
        DisbursementIn(
            fund="rent-relief", amount="10.00", counterparty="R-1", proposal=proposal.number
        ),
        recorded_by=None,
        authority=old_authority,
    )
    await session.commit()
    report = await verify_group(session, await world.fresh_group(session))
    assert (report.ok, report.first_bad_seq) == (False, paid.seq)
    assert "without naming its decision (entry 2)" in (report.problem or "")


async def test_the_proposal_page_and_the_exports_say_where_the_decision_is_in_the_log(
    session: AsyncSession, world: World, client: Client
) -> None:
    await _donate(session, world)
    proposal = await _proposal(session, world, {})
    paid = await _pay(session, world, proposal=proposal.number)
    await session.commit()
    page = await client.get(f"/g/{world.slug}/proposals/{proposal.number}")
    assert page.status_code == 200
    assert "Decided in" in page.text
    assert f'href="/api/groups/{world.slug}/entries/2">entry #2</a> of the log' in page.text
    shown = (await client.get(f"/api/groups/{world.slug}/proposals/{proposal.number}")).json()
    assert [r["decided_in"] for r in shown["rounds"]] == [2]
    exported = (await client.get(f"/api/groups/{world.slug}/export.json")).json()
    by_seq = {entry["seq"]: entry for entry in exported["entries"]}
    assert by_seq[2]["kind"] == "decision"
    assert by_seq[2]["postings"] == []
    assert by_seq[paid.seq]["decided_in"] == 2
    # The public ledger lists the money; the decision is shown with its proposal.
    ledger = await client.get(f"/g/{world.slug}/ledger")
    assert ledger.status_code == 200
    assert 'id="entry-2"' not in ledger.text
    assert f'id="entry-{paid.seq}"' in ledger.text
