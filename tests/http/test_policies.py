"""Spending policies: standing decisions that small payments run under, through the API."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.settings import Settings
from ledger import service as ledger_service
from ledger.bundle import verify_bundle
from ledger.canonical import parse_leaf
from ledger.schemas import DisbursementIn
from ledger.service import Authorisation
from tests.support.clients import (
    browser,
    everyone_agrees,
    give_password,
    post_form,
    racing_client,
    text_of,
)
from tests.support.people import Person, World, adopt_policy

Client = AsyncTestClient[Litestar]
HTML = {"Accept": "text/html"}


def api(world: World, tail: str) -> str:
    return f"/api/groups/{world.slug}{tail}"


async def donate(client: Client, world: World, amount: str, fund: str = "groceries") -> None:
    response = await client.post(
        api(world, "/entries"),
        headers=world.steward.headers,
        json={"kind": "donation", "fund": fund, "amount": amount},
    )
    assert response.status_code == 201, response.text


async def pay(client: httpx.AsyncClient, world: World, amount: str, **fields: Any) -> Any:
    body = {"kind": "disbursement", "fund": "groceries", "amount": amount, **fields}
    return await client.post(api(world, "/entries"), headers=world.steward.headers, json=body)


async def propose_policy(client: Client, world: World, by: Person, **policy: Any) -> int:
    terms = {
        "fund": "groceries",
        "max_per_payment": "20.00",
        "max_per_month": "50.00",
        "purpose": "Emergency grocery cards",
        **policy,
    }
    response = await client.post(
        api(world, "/proposals"),
        headers=by.headers,
        json={"title": "Emergency groceries", "kind": "policy", "policy": terms},
    )
    assert response.status_code == 201, response.text
    number: int = response.json()["number"]
    return number


def words(page: httpx.Response) -> str:
    """The page's text as read aloud: no space before punctuation after a link."""
    return text_of(page.text).replace(" ,", ",").replace(" :", ":")


async def policies(client: Client, world: World) -> dict[int, dict[str, Any]]:
    response = await client.get(api(world, "/policies"))
    assert response.status_code == 200, response.text
    return {p["number"]: p for p in response.json()}


async def test_a_payment_needs_a_decision_a_proposal_or_a_policy(
    client: Client, world: World
) -> None:
    await donate(client, world, "100.00")
    refused = await pay(client, world, "12.00", counterparty="R-99")
    assert refused.status_code == 409, refused.text
    assert refused.json()["errors"][0]["field"] == "proposal"
    assert "A payment needs a decision" in refused.json()["detail"]
    both = await pay(client, world, "12.00", proposal=1, policy=2)
    assert both.status_code == 422
    assert both.json()["errors"][0]["field"] == "policy"
    not_adopted = await pay(client, world, "12.00", policy=7)
    assert not_adopted.status_code == 409
    entries = (await client.get(api(world, "/entries"))).json()["entries"]
    assert [e["kind"] for e in entries] == ["donation"]


async def test_a_policy_is_adopted_by_consensus_and_pays_within_its_limits(
    client: Client, world: World
) -> None:
    await donate(client, world, "200.00")
    number = await propose_policy(client, world, world.member)
    shown = (await client.get(api(world, f"/proposals/{number}"))).json()
    assert shown["kind"] == "policy"
    assert shown["policy"] == {
        "max_per_payment": "20.00",
        "max_per_month": "50.00",
        "purpose": "Emergency grocery cards",
        "payers": [],
        "ends_on": None,
        "replaces": None,
        "reimbursements": False,
    }
    # Not in force while it is being decided.
    assert (await pay(client, world, "10.00", policy=number)).status_code == 409
    assert await policies(client, world) == {}
    await everyone_agrees(client, world, number)

    paid = await pay(client, world, "20.00", policy=number, counterparty="Corner shop")
    assert paid.status_code == 201, paid.text
    assert paid.json()["policy"] == {"number": number, "version": 1}
    assert paid.json()["proposal"] is None
    over_one = await pay(client, world, "20.01", policy=number)
    assert over_one.status_code == 409
    assert over_one.json()["errors"] == [
        {
            "field": "amount",
            "message": f"Policy {number} allows at most 20.00 EUR per payment; this payment "
            "is 20.01.",
        }
    ]
    assert (await pay(client, world, "20.00", policy=number)).status_code == 201
    month = date.today().strftime("%B %Y")
    over_month = await pay(client, world, "10.01", policy=number)
    assert over_month.status_code == 409
    assert over_month.json()["detail"] == (
        f"Policy {number} has 10.00 EUR left for {month}; this payment is 10.01."
    )
    other_fund = await pay(client, world, "5.00", policy=number, fund="rent-relief")
    assert other_fund.status_code == 409
    assert other_fund.json()["errors"][0]["field"] == "fund"
    # A reversed payment frees its room again.
    reversal = await client.post(
        api(world, "/entries"),
        headers=world.steward.headers,
        json={"kind": "reversal", "reverses": paid.json()["seq"], "memo": "Card not used"},
    )
    assert reversal.status_code == 201, reversal.text
    listed = (await policies(client, world))[number]
    assert listed == {
        "number": number,
        "version": 1,
        "title": "Emergency groceries",
        "purpose": "Emergency grocery cards",
        "fund": "groceries",
        "currency": "EUR",
        "max_per_payment": "20.00",
        "max_per_month": "50.00",
        "used_this_month": "20.00",
        "remaining_this_month": "30.00",
        "payers": [],
        "ends_on": None,
        "status": "in_force",
        "ended_by": None,
        "reimbursements": False,
    }


async def test_the_leaf_names_the_policy_in_a_new_version_and_old_leaves_still_verify(
    client: Client, world: World, session: AsyncSession, tmp_path: Path
) -> None:
    await donate(client, world, "100.00")  # a leaf of the first version
    number = await adopt_policy(session, world, fund="groceries")
    paid = await pay(client, world, "15.00", policy=number, counterparty="R-3")
    assert paid.status_code == 201, paid.text
    leaves = (await client.get(api(world, "/export.jsonl"))).content.splitlines()
    first, decided, second = (parse_leaf(leaf) for leaf in leaves)
    assert (first.v, first.policy) == ("1", None)
    # Adopting the policy is a decision leaf; the payment names it (leaf version 3).
    assert (decided.v, decided.kind) == ("4", "decision")
    assert decided.decision is not None
    assert decided.decision.policy is not None
    assert (decided.decision.outcome, decided.decision.policy.fund) == ("passed", "groceries")
    assert (second.v, second.decided_in) == ("4", "2")
    assert json.loads(leaves[2])["policy"] == {"number": str(number), "version": "1"}
    assert (await client.get(api(world, "/verify"))).json()["ok"] is True
    bundle = tmp_path / "bundle.zip"
    bundle.write_bytes((await client.get(api(world, "/export.zip"))).content)
    key = (await client.get("/.well-known/commonpurse-key")).text
    for two_processes in (False, True):
        report = verify_bundle(bundle, key, two_processes=two_processes)
        assert report.ok, report
    csv = (await client.get(api(world, "/export.csv"))).text.splitlines()
    assert csv[0].endswith(",hash,policy,place")
    assert csv[-1].endswith(f",{number}v1,bank")
    journal = (await client.get(api(world, "/export.journal"))).text
    assert f"policy:{number}v1" in journal
    assert f"under policy {number} v1" in journal


async def test_a_later_policy_amends_or_ends_one_in_force(client: Client, world: World) -> None:
    await donate(client, world, "200.00")
    first = await propose_policy(client, world, world.member)
    await everyone_agrees(client, world, first)
    second = await propose_policy(
        client, world, world.member, max_per_payment="30.00", replaces=first
    )
    await everyone_agrees(client, world, second)
    listed = await policies(client, world)
    assert (listed[first]["status"], listed[first]["ended_by"]) == ("ended", second)
    assert listed[second]["status"] == "in_force"
    refused = await pay(client, world, "10.00", policy=first)
    assert refused.status_code == 409
    assert refused.json()["detail"] == f"Policy {first} was ended by proposal {second}."
    assert (await pay(client, world, "30.00", policy=second)).status_code == 201
    ending = await client.post(
        api(world, "/proposals"),
        headers=world.member.headers,
        json={"title": "Stop it", "kind": "policy", "policy": {"replaces": second, "end": True}},
    )
    assert ending.status_code == 201, ending.text
    await everyone_agrees(client, world, ending.json()["number"])
    assert (await policies(client, world))[second]["status"] == "ended"
    assert (await pay(client, world, "5.00", policy=second)).status_code == 409


async def test_a_policy_may_name_who_pays_under_it_and_when_it_ends(
    client: Client, world: World
) -> None:
    await donate(client, world, "200.00")
    members = (await client.get(api(world, "/members"), headers=world.admin.headers)).json()
    admin_id = next(m["id"] for m in members if m["name"] == world.admin.user.name)
    number = await propose_policy(client, world, world.member, payers=[admin_id])
    await everyone_agrees(client, world, number)
    by_steward = await pay(client, world, "5.00", policy=number)
    assert by_steward.status_code == 409
    assert "names who may pay under it" in by_steward.json()["detail"]
    by_admin = await client.post(
        api(world, "/entries"),
        headers=world.admin.headers,
        json={"kind": "disbursement", "fund": "groceries", "amount": "5.00", "policy": number},
    )
    assert by_admin.status_code == 201, by_admin.text
    # A visitor of a group that keeps members' names private is told how many, in their
    # language.
    shown = text_of((await client.get(f"/g/{world.slug}/policies/{number}", headers=HTML)).text)
    assert "Who may pay under it 1 named member" in shown
    assert world.admin.user.name not in shown
    path = f"/g/{world.slug}/policies/{number}?lang=es"
    assert "1 miembro designado" in text_of((await client.get(path, headers=HTML)).text)
    ended = await propose_policy(client, world, world.member, ends_on="2020-01-31")
    await everyone_agrees(client, world, ended)
    assert (await policies(client, world))[ended]["status"] == "expired"
    assert (await pay(client, world, "5.00", policy=ended)).status_code == 409


async def test_bad_policy_terms_are_refused_naming_the_field(client: Client, world: World) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        (
            {
                "fund": "groceries",
                "max_per_payment": "20.00",
                "max_per_month": "10.00",
                "purpose": "x",
            },
            "policy.max_per_month",
        ),
        ({"fund": "groceries", "max_per_payment": "20.00", "purpose": "x"}, "policy.max_per_month"),
        (
            {"fund": "nope", "max_per_payment": "1.00", "max_per_month": "1.00", "purpose": "x"},
            "fund",
        ),
        ({"end": True}, "policy.replaces"),
    ]
    for terms, field in cases:
        response = await client.post(
            api(world, "/proposals"),
            headers=world.member.headers,
            json={"title": "A policy", "kind": "policy", "policy": terms},
        )
        assert response.status_code in (404, 422), response.text
        assert response.json()["errors"][0]["field"] == field, response.text
    with_amount = await client.post(
        api(world, "/proposals"),
        headers=world.member.headers,
        json={
            "title": "A policy",
            "kind": "policy",
            "amount": "5.00",
            "fund": "groceries",
            "policy": {
                "fund": "groceries",
                "max_per_payment": "1.00",
                "max_per_month": "1.00",
                "purpose": "x",
            },
        },
    )
    assert with_amount.status_code == 422
    listed = (await client.get(api(world, "/proposals"))).json()
    assert listed == []


async def test_unused_room_counts_as_committed_only_where_the_group_chooses(
    client: Client, world: World
) -> None:
    await donate(client, world, "200.00")
    number = await propose_policy(client, world, world.member)
    await everyone_agrees(client, world, number)
    assert (await pay(client, world, "20.00", policy=number)).status_code == 201

    async def groceries() -> dict[str, str]:
        funds = (await client.get(api(world, "/funds"))).json()
        found: dict[str, str] = next(f for f in funds if f["slug"] == "groceries")
        return found

    assert ((await groceries())["committed"], (await groceries())["available"]) == (
        "0.00",
        "180.00",
    )
    chosen = await client.put(
        api(world, "/rules"), headers=world.admin.headers, json={"policy_room_committed": True}
    )
    assert chosen.status_code == 200, chosen.text
    assert chosen.json()["policy_room_committed"] is True
    assert ((await groceries())["committed"], (await groceries())["available"]) == (
        "30.00",
        "150.00",
    )


async def test_racing_payments_under_one_policy_take_exactly_the_months_room(
    settings: Settings, world: World, session: AsyncSession, client: Client
) -> None:
    await donate(client, world, "1000.00")
    number = await adopt_policy(
        session, world, fund="groceries", max_per_payment="10.00", max_per_month="70.00"
    )
    async with racing_client(settings) as racing:
        results = await asyncio.gather(
            *(pay(racing, world, "10.00", policy=number) for _ in range(20))
        )
    assert sorted(r.status_code for r in results) == [201] * 7 + [409] * 13
    listed = (await policies(client, world))[number]
    assert (listed["used_this_month"], listed["remaining_this_month"]) == ("70.00", "0.00")
    assert (await client.get(api(world, "/verify"))).json()["ok"] is True


async def test_every_payment_says_what_authorised_it_and_a_policy_has_its_page(
    client: Client, world: World, session: AsyncSession
) -> None:
    await donate(client, world, "200.00")
    number = await propose_policy(client, world, world.member)
    await everyone_agrees(client, world, number)
    paid = await pay(client, world, "20.00", policy=number, counterparty="Corner shop")
    assert paid.status_code == 201, paid.text
    # A payment recorded before every payment needed a decision: its leaf names neither
    # (an authority that says so stands in for the old code).
    group = await world.fresh_group(session)

    async def no_decision(*_: Any) -> Authorisation:
        return Authorisation()

    await ledger_service.record_entry(
        session,
        group,
        DisbursementIn(fund="groceries", amount="1.00", policy=number, memo="Old payment"),
        recorded_by=None,
        authority=no_decision,
    )
    await session.commit()
    month = date.today().strftime("%B %Y")
    ledger = words(await client.get(f"/g/{world.slug}/ledger", headers=HTML))
    assert (
        f"Under policy {number} ‘Emergency groceries’: €20.00 of €50.00 used in {month}" in ledger
    )
    assert "Recorded before every payment needed a decision" in ledger
    page = await client.get(f"/g/{world.slug}/ledger", headers=HTML)
    assert f'href="/g/{world.slug}/policies/{number}"' in page.text

    decisions = text_of((await client.get(f"/g/{world.slug}/proposals", headers=HTML)).text)
    assert f"Policy {number}: Emergency groceries In force" in decisions
    assert "at most €20.00 a payment and €50.00 a month" in decisions
    assert "€20.00 used this month, €30.00 left" in decisions

    shown = await client.get(f"/g/{world.slug}/policies/{number}", headers=HTML)
    assert shown.status_code == 200
    text = text_of(shown.text)
    assert f"Policy {number}: Emergency groceries In force" in text
    assert "Most per payment €20.00 Most per calendar month €50.00" in text
    assert "Who may pay under it Every steward" in text
    assert "This month €20.00 used, €30.00 left" in text
    assert "Payment of €20.00 from Groceries" in text
    assert "Old payment" not in text
    missing = await client.get(f"/g/{world.slug}/policies/99", headers=HTML)
    assert missing.status_code == 404


async def test_a_payment_under_a_proposal_says_when_it_passed(client: Client, world: World) -> None:
    await donate(client, world, "200.00", fund="rent-relief")
    proposed = await client.post(
        api(world, "/proposals"),
        headers=world.member.headers,
        json={"title": "Rent", "fund": "rent-relief", "amount": "50.00", "counterparty": "R-4"},
    )
    assert proposed.status_code == 201, proposed.text
    await everyone_agrees(client, world, 1)
    paid = await pay(client, world, "50.00", fund="rent-relief", proposal=1, counterparty="R-4")
    assert paid.status_code == 201, paid.text
    today = date.today()
    passed = f"{today:%b} {today.day}, {today.year}"
    group_page = words(await client.get(f"/g/{world.slug}", headers=HTML))
    assert f"Authorised by proposal 1, passed {passed}" in group_page


async def test_a_member_proposes_a_policy_and_a_later_one_ends_it_through_the_forms(
    settings: Settings, client: Client, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.member)
    url = f"/m/{world.slug}/policies/new"
    terms = {
        "title": "Emergency groceries",
        "purpose": "Grocery cards for households in a crisis",
        "fund": "groceries",
        "max_per_payment": "20.00",
        "max_per_month": "10.00",
    }
    async with browser(settings, world.member) as member:
        form = await member.get(url, headers=HTML)
        assert form.status_code == 200
        assert "Propose a spending policy" in text_of(form.text)
        assert "Replaces" not in text_of(form.text)  # no policy is in force yet
        refused = await post_form(member, url, terms)
        assert refused.status_code == 422
        assert "The most per month is at least the most per payment." in text_of(refused.text)
        assert 'id="error-max_per_month"' in refused.text
        assert 'value="Emergency groceries"' in refused.text
        proposed = await post_form(
            member, url, {**terms, "max_per_month": "300.00", "reimbursements": "on"}
        )
        assert proposed.status_code == 303, proposed.text
        assert proposed.headers["location"] == f"/m/{world.slug}/proposals/1?done=proposed"
    await everyone_agrees(client, world, 1)
    assert (await policies(client, world))[1]["max_per_month"] == "300.00"
    assert (await policies(client, world))[1]["reimbursements"] is True
    # Nothing paid under it yet: the pages say so (zero is an amount to show, not to refuse).
    decisions = await client.get(f"/g/{world.slug}/proposals", headers=HTML)
    assert decisions.status_code == 200
    assert "€0.00 used this month, €300.00 left" in text_of(decisions.text)
    assert (await client.get(f"/g/{world.slug}/policies/1", headers=HTML)).status_code == 200
    async with browser(settings, world.member) as member:
        form = await member.get(url, headers=HTML)
        assert '<option value="1">#1 Emergency groceries</option>' in form.text
        ending = await post_form(
            member, url, {"title": "Stop the grocery cards", "replaces": "1", "end": "on"}
        )
        assert ending.status_code == 303, ending.text
    await everyone_agrees(client, world, 2)
    assert (await policies(client, world))[1]["status"] == "ended"
    shown = (await client.get(api(world, "/proposals/2"))).json()
    assert (shown["kind"], shown["policy"]["replaces"], shown["policy"]["max_per_month"]) == (
        "policy",
        1,
        None,
    )
