"""Places: where the money is held, beside what it is for. Through the API on both
engines: the default place, adding places, entries naming theirs, moves between places,
a place never going below zero, and logs with places verifying (database and bundle)."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import msgspec
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.settings import Settings
from ledger.bundle import verify_bundle
from ledger.models import Place
from tests.support.clients import browser, give_password, post_form, standing_policy, text_of
from tests.support.people import World

Client = AsyncTestClient[Litestar]
HTML = {"Accept": "text/html"}


async def places(client: Client, world: World) -> dict[str, str]:
    response = await client.get(f"/api/groups/{world.slug}/places")
    assert response.status_code == 200, response.text
    return {place["slug"]: place["balance"] for place in response.json()}


async def funds(client: Client, world: World) -> dict[str, str]:
    response = await client.get(f"/api/groups/{world.slug}/funds")
    return {fund["slug"]: fund["balance"] for fund in response.json()}


async def record(client: Client, world: World, body: dict[str, Any]) -> Any:
    if body["kind"] == "disbursement":
        body = {**body, "policy": await standing_policy(client, world, body["fund"])}
    return await client.post(
        f"/api/groups/{world.slug}/entries", json=body, headers=world.steward.headers
    )


async def add_cash_box(client: Client, world: World) -> Any:
    return await client.post(
        f"/api/groups/{world.slug}/places",
        json={"slug": "cash", "name": "Cash box"},
        headers=world.steward.headers,
    )


async def test_every_group_has_a_default_place_and_adds_others(
    client: Client, world: World
) -> None:
    listed = (await client.get(f"/api/groups/{world.slug}/places")).json()
    assert listed == [
        {
            "slug": "bank",
            "name": "Bank account",
            "currency": "EUR",
            "default": True,
            "allow_negative": False,
            "balance": "0.00",
            "reconciled_through": None,
        }
    ]
    added = await add_cash_box(client, world)
    assert added.status_code == 201, added.text
    assert added.json()["default"] is False
    assert added.json()["currency"] == "EUR"
    again = await add_cash_box(client, world)
    assert again.status_code == 409
    assert [e["field"] for e in again.json()["errors"]] == ["slug"]
    # Only stewards add places.
    refused = await client.post(
        f"/api/groups/{world.slug}/places",
        json={"slug": "tin", "name": "Tin"},
        headers=world.member.headers,
    )
    assert refused.status_code == 403
    assert list(await places(client, world)) == ["bank", "cash"]


async def test_entries_name_their_place_and_moves_touch_no_fund(
    client: Client, world: World, tmp_path: Path
) -> None:
    assert (await add_cash_box(client, world)).status_code == 201
    banked = await record(
        client, world, {"kind": "donation", "fund": "rent-relief", "amount": "100.00"}
    )
    assert banked.status_code == 201, banked.text
    assert banked.json()["place"] == "bank"
    tin = await record(
        client,
        world,
        {"kind": "donation", "fund": "groceries", "amount": "40.00", "place": "cash"},
    )
    assert tin.status_code == 201, tin.text
    assert tin.json()["place"] == "cash"
    assert await places(client, world) == {"bank": "100.00", "cash": "40.00"}

    # The fund has the money, but not in the cash box: a place never goes below zero.
    short = await record(
        client,
        world,
        {"kind": "disbursement", "fund": "rent-relief", "amount": "50.00", "place": "cash"},
    )
    assert short.status_code == 409, short.text
    assert [e["field"] for e in short.json()["errors"]] == ["place"]
    assert await places(client, world) == {"bank": "100.00", "cash": "40.00"}

    # Cash paid into the bank: the places change, the funds do not.
    paid_in = await record(
        client,
        world,
        {"kind": "move", "from_place": "cash", "to_place": "bank", "amount": "30.00"},
    )
    assert paid_in.status_code == 201, paid_in.text
    body = paid_in.json()
    assert body["postings"] == []
    assert body["move"] == {
        "from_place": "cash",
        "to_place": "bank",
        "amount": "30.00",
        "currency": "EUR",
    }
    assert await places(client, world) == {"bank": "130.00", "cash": "10.00"}
    assert await funds(client, world) == {"rent-relief": "100.00", "groceries": "40.00"}
    too_much = await record(
        client,
        world,
        {"kind": "move", "from_place": "cash", "to_place": "bank", "amount": "10.01"},
    )
    assert too_much.status_code == 409
    assert [e["field"] for e in too_much.json()["errors"]] == ["from_place"]

    # A transfer between funds stays in its place; a payment from the cash box.
    shifted = await record(
        client,
        world,
        {
            "kind": "transfer",
            "from_fund": "groceries",
            "to_fund": "rent-relief",
            "amount": "5.00",
            "place": "cash",
        },
    )
    assert shifted.status_code == 201, shifted.text
    paid = await record(
        client,
        world,
        {"kind": "disbursement", "fund": "rent-relief", "amount": "5.00", "place": "cash"},
    )
    assert paid.status_code == 201, paid.text
    assert await places(client, world) == {"bank": "130.00", "cash": "5.00"}

    # A move is reversed like any entry: the money goes back.
    undone = await record(
        client, world, {"kind": "reversal", "reverses": paid_in.json()["seq"], "memo": "Not yet"}
    )
    assert undone.status_code == 201, undone.text
    assert undone.json()["move"]["amount"] == "-30.00"
    assert await places(client, world) == {"bank": "100.00", "cash": "35.00"}
    assert await funds(client, world) == {"rent-relief": "100.00", "groceries": "35.00"}

    # The log names places only where it must: an entry in the default place is written as
    # before places existed (leaf version 1), others in version 6.
    verified = (await client.get(f"/api/groups/{world.slug}/verify")).json()
    assert verified["ok"], verified
    leaves = [
        msgspec.json.decode(line)
        for line in (
            await client.get(f"/api/groups/{world.slug}/export.jsonl")
        ).content.splitlines()
    ]
    by_seq = {int(leaf["seq"]): leaf for leaf in leaves}
    assert by_seq[banked.json()["seq"]]["v"] == "1"
    assert "place" not in by_seq[banked.json()["seq"]]
    assert by_seq[tin.json()["seq"]]["v"] == "6"
    assert by_seq[tin.json()["seq"]]["place"] == "cash"
    assert by_seq[paid_in.json()["seq"]]["move"] == {
        "amount": "3000",
        "currency": "EUR",
        "from": "cash",
        "to": "bank",
    }

    # The bundle says where the money is, and verifies offline.
    zipped = await client.get(f"/api/groups/{world.slug}/export.zip")
    path = tmp_path / "bundle.zip"
    path.write_bytes(zipped.content)
    report = verify_bundle(path)
    assert report.ok, report.summary()
    with zipfile.ZipFile(path) as archive:
        described = msgspec.json.decode(archive.read("funds.json"))
    assert {p["slug"]: p["default"] for p in described["places"]} == {"bank": True, "cash": False}
    # Another place in a leaf than the one recorded is caught.
    changed = tmp_path / "changed.zip"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(changed, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "funds.json":
                data = data.replace(b'"slug":"cash"', b'"slug":"safe"')
            target.writestr(item, data)
    broken = verify_bundle(changed)
    assert not broken.ok
    assert "unknown place 'cash'" in (broken.problem or ""), broken.problem


async def test_an_entry_in_an_unknown_place_is_refused_naming_the_field(
    client: Client, world: World
) -> None:
    refused = await record(
        client, world, {"kind": "donation", "fund": "groceries", "amount": "1.00", "place": "safe"}
    )
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["place"]
    assert await places(client, world) == {"bank": "0.00"}


async def test_a_steward_adds_a_place_records_in_it_and_moves_money_on_the_web(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    """One place: no picker and no move. A second place: the record forms ask where the
    money is, money moves between places, and the group page says where the money is."""
    await give_password(session, world.steward)
    html = {"Accept": "text/html"}
    async with browser(settings, world.steward) as steward:
        alone = text_of((await steward.get(f"/m/{world.slug}/record/donation", headers=html)).text)
        assert "Where the money is" not in alone
        assert "Move money between places" not in alone
        public = text_of((await steward.get(f"/g/{world.slug}", headers=html)).text)
        assert "Where the money is" not in public

        refused = await post_form(steward, f"/m/{world.slug}/places/new", {"name": " "})
        assert refused.status_code == 422
        assert "Give the place a name" in text_of(refused.text)
        added = await post_form(steward, f"/m/{world.slug}/places/new", {"name": "Cash box"})
        assert added.status_code == 303, added.text
        taken = await post_form(
            steward, f"/m/{world.slug}/places/new", {"name": "Tin", "slug": "cash-box"}
        )
        assert taken.status_code == 422  # as the fund form answers a taken name
        assert "has a place 'cash-box' already" in text_of(taken.text)

        form = text_of((await steward.get(f"/m/{world.slug}/record/donation", headers=html)).text)
        assert "Where the money is" in form
        assert "Bank account (€0.00), the usual place" in form
        donated = await post_form(
            steward,
            f"/m/{world.slug}/record/donation",
            {"fund": "groceries", "amount": "30.00", "place": "cash-box"},
        )
        assert donated.status_code == 303, donated.text
        unknown = await post_form(
            steward,
            f"/m/{world.slug}/record/donation",
            {"fund": "groceries", "amount": "1.00", "place": "safe"},
        )
        assert unknown.status_code == 422
        too_much = await post_form(
            steward,
            f"/m/{world.slug}/record/move",
            {"from_place": "cash-box", "to_place": "bank", "amount": "30.01"},
        )
        assert too_much.status_code == 409
        assert "The place 'Cash box' holds 30.00 EUR" in text_of(too_much.text)
        moved = await post_form(
            steward,
            f"/m/{world.slug}/record/move",
            {"from_place": "cash-box", "to_place": "bank", "amount": "20.00", "memo": "Paid in"},
        )
        assert moved.status_code == 303, moved.text
        public = text_of((await steward.get(f"/g/{world.slug}", headers=html)).text)
        assert "Where the money is" in public
        assert "Moved €20.00 from Cash box to Bank account" in public
        assert await places(steward, world) == {"bank": "20.00", "cash-box": "10.00"}
        # The ledger's pages and documents take a move (it has no postings) in their stride.
        ledger = await steward.get(f"/g/{world.slug}/ledger", headers=html)
        assert ledger.status_code == 200
        assert "Moved €20.00 from Cash box to Bank account" in text_of(ledger.text)
        audit = await steward.get(f"/g/{world.slug}/audit.pdf")
        assert audit.status_code == 200, audit.text
        assert audit.content.startswith(b"%PDF")


async def test_verify_names_a_place_whose_kept_balance_differs_from_the_log(
    client: Client, world: World, session: AsyncSession
) -> None:
    assert (await add_cash_box(client, world)).status_code == 201
    tin = await record(
        client, world, {"kind": "donation", "fund": "groceries", "amount": "9.00", "place": "cash"}
    )
    assert tin.status_code == 201
    await session.execute(
        update(Place)
        .where(Place.group_id == world.group.id, Place.slug == "cash")
        .values(balance=Place.balance + 1)
    )
    await session.commit()
    verified = (await client.get(f"/api/groups/{world.slug}/verify")).json()
    assert not verified["ok"]
    assert verified["problem"] == (
        "the stored balance of place 'cash' differs from what the entries put there"
    )


async def test_a_place_is_renamed_and_nothing_that_names_it_changes(
    client: Client, world: World
) -> None:
    await record(client, world, {"kind": "donation", "fund": "rent-relief", "amount": "20.00"})
    export = f"/api/groups/{world.slug}/export.journal"
    journal = (await client.get(export)).text
    url = f"/api/groups/{world.slug}/places/bank"
    renamed = await client.patch(
        url, json={"name": "  Caja  de ahorros "}, headers=world.steward.headers
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json() | {"name": "?"} == {
        "slug": "bank",
        "name": "?",
        "currency": "EUR",
        "default": True,
        "allow_negative": False,
        "balance": "20.00",
        "reconciled_through": None,
    }
    assert renamed.json()["name"] == "Caja de ahorros"
    listed = (await client.get(f"/api/groups/{world.slug}/places")).json()
    assert [place["name"] for place in listed] == ["Caja de ahorros"]
    # The slug names the place in the log and the exports: they read as before.
    assert (await client.get(export)).text == journal
    assert (await client.get(f"/api/groups/{world.slug}/verify")).json()["ok"] is True
    # Refused, changing nothing: no name, too long a name, another field, an unknown place,
    # a member who is not a steward.
    for body, status in (
        ({"name": "   "}, 422),
        ({"name": ""}, 422),
        ({"name": "x" * 121}, 422),
        ({"name": "Till", "slug": "till"}, 422),
    ):
        refused = await client.patch(url, json=body, headers=world.steward.headers)
        assert refused.status_code == status, (body, refused.text)
        assert [e["field"] for e in refused.json()["errors"]] != []
    unknown = await client.patch(
        f"/api/groups/{world.slug}/places/till",
        json={"name": "Till"},
        headers=world.steward.headers,
    )
    assert unknown.status_code == 404
    member = await client.patch(url, json={"name": "Mine"}, headers=world.member.headers)
    assert member.status_code == 403
    listed = (await client.get(f"/api/groups/{world.slug}/places")).json()
    assert [place["name"] for place in listed] == ["Caja de ahorros"]


async def test_a_spanish_steward_renames_the_default_place_on_the_web(
    settings: Settings, client: Client, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.steward)
    async with browser(settings, world.steward) as steward:
        steward.cookies.set("lang", "es")
        page_url = f"/m/{world.slug}/places/new"
        page = text_of((await steward.get(page_url)).text)
        assert "Cambiar el nombre de un lugar" in page
        empty = await post_form(
            steward, f"/m/{world.slug}/places/rename", {"place": "bank", "new_name": " "},
            form_url=page_url,
        )  # fmt: skip
        assert empty.status_code == 422
        assert "Ponle un nombre al lugar, como Caja." in text_of(empty.text)
        done = await post_form(
            steward,
            f"/m/{world.slug}/places/rename",
            {"place": "bank", "new_name": "Cuenta de la cooperativa"},
            form_url=page_url,
        )
        assert done.status_code == 303, done.text
        shown = text_of((await steward.get(done.headers["location"])).text)
        assert "El lugar tiene su nuevo nombre." in shown
        assert "Cuenta de la cooperativa (el lugar habitual)" in shown
        # With two places, the steward chooses which; an unknown one is refused on its field.
        assert (await add_cash_box(client, world)).status_code == 201
        page = (await steward.get(page_url)).text
        assert '<select id="field-place" name="place"' in page
        unknown = await post_form(
            steward,
            f"/m/{world.slug}/places/rename",
            {"place": "till", "new_name": "Till"},
            form_url=page_url,
        )
        assert unknown.status_code == 422
    listed = (await client.get(f"/api/groups/{world.slug}/places")).json()
    assert [place["name"] for place in listed] == ["Cuenta de la cooperativa", "Cash box"]


async def test_a_fund_is_renamed_and_nothing_that_names_it_changes(
    settings: Settings, client: Client, world: World, session: AsyncSession
) -> None:
    await record(client, world, {"kind": "donation", "fund": "groceries", "amount": "20.00"})
    export = f"/api/groups/{world.slug}/export.journal"
    journal = (await client.get(export)).text
    url = f"/api/groups/{world.slug}/funds/groceries"
    renamed = await client.patch(url, json={"name": "Food"}, headers=world.steward.headers)
    assert renamed.status_code == 200, renamed.text
    assert (renamed.json()["slug"], renamed.json()["name"]) == ("groceries", "Food")
    assert renamed.json()["balance"] == "20.00"
    # The journal's accounts are named by slug: only its header's list of funds changes.
    assert (await client.get(export)).text == journal.replace(
        "fund groceries: Groceries", "fund groceries: Food"
    )
    assert (await client.get(f"/api/groups/{world.slug}/verify")).json()["ok"] is True
    ledger = text_of((await client.get(f"/g/{world.slug}/ledger", headers=HTML)).text)
    assert "Donation of €20.00 to Food" in ledger
    unknown = await client.patch(
        f"/api/groups/{world.slug}/funds/food", json={"name": "X"}, headers=world.steward.headers
    )
    assert unknown.status_code == 404
    await give_password(session, world.steward)
    async with browser(settings, world.steward) as steward:
        steward.cookies.set("lang", "es")
        page_url = f"/m/{world.slug}/funds/new"
        assert "Cambiar el nombre de un fondo" in text_of((await steward.get(page_url)).text)
        empty = await post_form(
            steward, f"/m/{world.slug}/funds/rename", {"fund": "groceries", "new_name": ""},
            form_url=page_url,
        )  # fmt: skip
        assert empty.status_code == 422
        assert "Ponle un nombre al fondo" in text_of(empty.text)
        done = await post_form(
            steward,
            f"/m/{world.slug}/funds/rename",
            {"fund": "groceries", "new_name": "Comida"},
            form_url=page_url,
        )
        assert done.status_code == 303, done.text
        assert "El fondo tiene su nuevo nombre." in text_of(
            (await steward.get(done.headers["location"])).text
        )
    names = [fund["name"] for fund in (await client.get(f"/api/groups/{world.slug}/funds")).json()]
    assert "Comida" in names
