"""How to give, through real HTTP on both engines: the API (public read, admin write, a bad
IBAN a 422 naming the field), the admins' form, the public page with its SEPA payment QR
code (the code read back from the page's SVG and decoded), and donors named only when they
asked to be."""

from __future__ import annotations

import re
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.settings import Settings
from ledger import giving, groups
from ledger.kept import Kept
from tests.support.clients import browser, give_password, post_form, record_entry, text_of
from tests.support.people import World
from tests.support.qr import decode_svg

Client = AsyncTestClient[Litestar]
HTML = {"Accept": "text/html"}
PROBLEM = "application/problem+json"
IBAN = "DE89 3704 0044 0532 0130 00"
WAYS = "Transfer to our account, or bring **cash** to the Tuesday meeting.\n\n- food\n- nappies"


def api(world: World, tail: str = "/giving") -> str:
    return f"/api/groups/{world.slug}{tail}"


async def say_how_to_give(client: Client, world: World, **body: Any) -> dict[str, Any]:
    body = {"how_to_give": WAYS, "iban": IBAN, "account_holder": "Rent Fund e.V.", **body}
    response = await client.put(api(world), json=body, headers=world.admin.headers)
    assert response.status_code == 200, response.text
    saved: dict[str, Any] = response.json()
    return saved


async def donate(client: Client, world: World, amount: str) -> int:
    entry = await record_entry(
        client, world, {"kind": "donation", "fund": "groceries", "amount": amount}
    )
    seq: int = entry["seq"]
    return seq


# --- the API -------------------------------------------------------------------------------


async def test_admin_says_how_to_give_and_anyone_reads_it_with_the_payment_qr_text(
    client: Client, world: World
) -> None:
    empty = await client.get(api(world))
    assert empty.status_code == 200
    assert empty.json() == {
        "how_to_give": "",
        "iban": None,
        "bic": None,
        "account_holder": None,
        "epc_qr": None,
        "updated_at": None,
        "donors": {"donations": 0, "totals": [], "named": []},
    }

    saved = await say_how_to_give(client, world, bic="cobadeff xxx")
    assert saved["iban"] == "DE89370400440532013000"  # stored without spaces
    assert saved["bic"] == "COBADEFFXXX"
    read = (await client.get(api(world))).json()  # no login: a donor has no account
    assert read == saved
    assert read["how_to_give"] == WAYS
    assert read["updated_at"].endswith("Z")
    assert read["epc_qr"].split("\n") == [
        "BCD",
        "002",
        "1",
        "SCT",
        "COBADEFFXXX",
        "Rent Fund e.V.",
        "DE89370400440532013000",
        "",
        "",
        "",
        "Donation to Rent Fund",
    ]


async def test_leaving_fields_out_clears_them(client: Client, world: World) -> None:
    await say_how_to_give(client, world, bic="COBADEFFXXX")
    cleared = await client.put(
        api(world), json={"how_to_give": "Cash only."}, headers=world.admin.headers
    )
    assert cleared.status_code == 200
    body = cleared.json()
    assert (body["iban"], body["bic"], body["account_holder"], body["epc_qr"]) == (
        None,
        None,
        None,
        None,
    )


async def test_a_mistyped_iban_is_a_422_naming_the_field_and_nothing_changes(
    client: Client, world: World
) -> None:
    await say_how_to_give(client, world)
    for iban, words in [
        ("DE89 3704 0044 0532 0130 01", "check digits"),  # one digit changed
        ("DE89 3704 0044 0532 0130", "has 22 characters"),  # too short for Germany
        ("ZZ89 3704 0044 0532 0130 00", "not a country"),
        ("DE89-3704-0044", "two letters of its country"),
    ]:
        response = await client.put(
            api(world), json={"how_to_give": "x", "iban": iban}, headers=world.admin.headers
        )
        assert response.status_code == 422, iban
        assert response.headers["content-type"].startswith(PROBLEM)
        problem = response.json()
        assert problem["errors"][0]["field"] == "iban", problem
        assert words in problem["errors"][0]["message"], problem
    bad_bic = await client.put(
        api(world), json={"iban": IBAN, "bic": "COBA"}, headers=world.admin.headers
    )
    assert bad_bic.status_code == 422
    assert bad_bic.json()["errors"][0]["field"] == "bic"
    assert (await client.get(api(world))).json()["how_to_give"] == WAYS


async def test_only_admins_say_how_to_give(client: Client, world: World) -> None:
    for person in (world.steward, world.member, world.outsider):
        response = await client.put(api(world), json={"how_to_give": "x"}, headers=person.headers)
        assert response.status_code == 403, person
    assert (await client.put(api(world), json={"how_to_give": "x"})).status_code == 401


async def test_a_private_groups_giving_is_for_its_members_only(
    client: Client, session: AsyncSession, world: World
) -> None:
    group = await world.fresh_group(session)
    group.public = False
    await session.commit()
    await say_how_to_give(client, world)
    assert (await client.get(api(world))).status_code == 404
    assert (await client.get(api(world), headers=world.outsider.headers)).status_code == 404
    assert (await client.get(api(world), headers=world.member.headers)).status_code == 200
    assert (await client.get(f"/g/{world.slug}/give", headers=HTML)).status_code == 404


async def test_no_qr_code_for_a_group_in_another_currency_or_an_iban_outside_sepa(
    client: Client, session: AsyncSession, world: World
) -> None:
    # Outside the SEPA area (Brazil): the account is shown, but no SEPA code is made for it.
    brazil = "BR15 0000 0000 0000 1093 2840 814P 2"
    saved = await say_how_to_give(client, world, iban=brazil)
    assert saved["iban"] == "BR1500000000000010932840814P2"
    assert saved["epc_qr"] is None
    page = await client.get(f"/g/{world.slug}/give", headers=HTML)
    assert "BR15 0000 0000 0000 1093 2840 814P 2" in page.text
    assert "give-qr__code" not in page.text

    pounds = await groups.create_group(
        session, slug="pounds", name="Pounds", currency="GBP", admin=world.admin.user
    )
    await session.commit()
    response = await client.put(
        f"/api/groups/{pounds.slug}/giving",
        json={"iban": "GB82 WEST 1234 5698 7654 32"},
        headers=world.admin.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["epc_qr"] is None
    page = await client.get(f"/g/{pounds.slug}/give", headers=HTML)
    assert "GB82 WEST 1234 5698 7654 32" in page.text
    assert "give-qr__code" not in page.text


# --- donors --------------------------------------------------------------------------------


async def test_donors_are_named_only_when_they_asked_and_otherwise_counted(
    client: Client, world: World
) -> None:
    await say_how_to_give(client, world)
    first = await donate(client, world, "20.00")
    second = await donate(client, world, "5.50")
    await donate(client, world, "100.00")
    reversed_ = await donate(client, world, "7.00")
    await record_entry(
        client, world, {"kind": "reversal", "reverses": reversed_, "memo": "bounced"}
    )

    thanked = await client.put(
        api(world, f"/entries/{second}/thanks"),
        json={"name": "  Ana   from No. 4 "},
        headers=world.steward.headers,
    )
    assert thanked.status_code == 200, thanked.text
    assert thanked.json()["name"] == "Ana from No. 4"
    assert thanked.json()["entry"] == second

    donors = (await client.get(api(world))).json()["donors"]
    assert donors == {
        "donations": 3,  # the reversed one is not counted
        "totals": [{"currency": "EUR", "amount": "125.50"}],
        "named": ["Ana from No. 4"],
    }
    for path in (f"/g/{world.slug}/give", f"/g/{world.slug}"):
        text = text_of((await client.get(path, headers=HTML)).text)
        assert "3 donations so far, €125.50 in all" in text, path
        assert "Ana from No. 4" in text, path

    # The name is erased on request: the donation stays, counted without a name.
    erased = await client.delete(
        api(world, f"/entries/{second}/thanks"), headers=world.steward.headers
    )
    assert erased.status_code == 204
    donors = (await client.get(api(world))).json()["donors"]
    assert donors["named"] == []
    assert donors["donations"] == 3
    assert "Ana" not in (await client.get(f"/g/{world.slug}/give", headers=HTML)).text
    again = await client.delete(
        api(world, f"/entries/{second}/thanks"), headers=world.steward.headers
    )
    assert again.status_code == 404

    # Only a donation's donor is thanked, only by stewards, and the log never holds the name.
    payment_like = await client.put(
        api(world, f"/entries/{reversed_ + 1}/thanks"),
        json={"name": "Ben"},
        headers=world.steward.headers,
    )
    assert payment_like.status_code == 422
    assert payment_like.json()["errors"][0]["field"] == "seq"
    member = await client.put(
        api(world, f"/entries/{first}/thanks"), json={"name": "Ben"}, headers=world.member.headers
    )
    assert member.status_code == 403
    await client.put(
        api(world, f"/entries/{first}/thanks"),
        json={"name": "Chidi"},
        headers=world.steward.headers,
    )
    leaves = (await client.get(api(world, "/export.jsonl"))).text
    assert "Chidi" not in leaves


# --- pages ---------------------------------------------------------------------------------


async def test_the_give_page_shows_the_words_the_account_and_a_qr_code_a_bank_app_reads(
    client: Client, world: World
) -> None:
    await say_how_to_give(client, world, how_to_give=WAYS + "\n\n<script>alert(1)</script>")
    page = await client.get(f"/g/{world.slug}/give", headers=HTML)
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "<strong>cash</strong>" in page.text  # Markdown rendered
    assert "<script>" not in page.text  # and sanitised
    assert "alert(1)" in page.text
    assert " style=" not in page.text  # the strict policy refuses inline styles
    text = text_of(page.text)
    assert "IBAN DE89 3704 0044 0532 0130 00" in text
    assert "Account holder Rent Fund e.V." in text
    assert "Reference Donation to Rent Fund" in text
    assert "Rent Fund's admins last changed how to give on" in text
    svg = re.search(r"<svg role=\"img\".*?</svg>", page.text, re.S)
    assert svg, page.text
    assert "<title>SEPA payment QR code" in svg.group(0)
    assert decode_svg(svg.group(0)) == (
        "BCD\n002\n1\nSCT\n\nRent Fund e.V.\nDE89370400440532013000\n\n\n\nDonation to Rent Fund"
    )

    # The donor may put the amount in the code.
    with_amount = await client.get(f"/g/{world.slug}/give?amount=12.50", headers=HTML)
    assert with_amount.status_code == 200
    code = re.search(r"<svg role=\"img\".*?</svg>", with_amount.text, re.S)
    assert code
    assert decode_svg(code.group(0)).split("\n")[7] == "EUR12.50"
    assert "of €12.50" in text_of(with_amount.text)

    # A donor reading Spanish gets the reference in Spanish, in the code as on the page.
    spanish = await client.get(f"/g/{world.slug}/give?lang=es", headers=HTML)
    assert "Concepto Donación a Rent Fund" in text_of(spanish.text)
    code = re.search(r"<svg role=\"img\".*?</svg>", spanish.text, re.S)
    assert code
    assert "<title>Código QR de pago SEPA" in code.group(0)
    assert decode_svg(code.group(0)).split("\n")[10] == "Donación a Rent Fund"

    bad = await client.get(f"/g/{world.slug}/give?amount=12.345", headers=HTML)
    assert bad.status_code == 422
    assert 'aria-invalid="true"' in bad.text
    assert "give-qr__code" in bad.text  # the code without an amount is still there


async def test_the_group_page_links_to_the_give_page_once_the_group_says_how(
    client: Client, world: World
) -> None:
    before = await client.get(f"/g/{world.slug}", headers=HTML)
    assert f'href="/g/{world.slug}/give"' not in before.text
    empty = await client.get(f"/g/{world.slug}/give", headers=HTML)
    assert "has not written here how to give yet" in text_of(empty.text)
    await say_how_to_give(client, world)
    after = await client.get(f"/g/{world.slug}", headers=HTML)
    assert f'href="/g/{world.slug}/give"' in after.text


async def test_admin_writes_how_to_give_in_the_form_with_errors_next_to_the_fields(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.admin, world.steward)
    form = f"/m/{world.slug}/giving"
    async with browser(settings, world.admin) as admin:
        home = await admin.get(f"/m/{world.slug}", headers=HTML)
        assert f'href="{form}"' in home.text
        refused = await post_form(
            admin,
            form,
            {
                "how_to_give": "Cash\r\nat meetings",
                "iban": "DE89 3704 0044 0532 0130 01",
                "bic": "NOT A BIC",
                "account_holder": "",
            },
        )
        assert refused.status_code == 422
        text = text_of(refused.text)
        assert "check digits do not match" in text
        assert "A BIC has 8 or 11 letters and digits" in text
        assert 'value="DE89 3704 0044 0532 0130 01"' in refused.text  # kept as typed
        assert (await admin.get(api(world))).json()["iban"] is None

        saved = await post_form(
            admin,
            form,
            {
                "how_to_give": "Cash\r\nat meetings",
                "iban": IBAN.lower(),
                "bic": "",
                "account_holder": "Rent Fund e.V.",
            },
        )
        assert saved.status_code == 303
        assert saved.headers["location"] == f"{form}?saved=1"
        shown = await admin.get(saved.headers["location"], headers=HTML)
        assert "How to give was saved." in text_of(shown.text)
        assert f'value="{IBAN}"' in shown.text
        body = (await admin.get(api(world))).json()
        assert body["how_to_give"] == "Cash\nat meetings"
        assert body["iban"] == "DE89370400440532013000"

    async with browser(settings, world.steward) as steward:
        assert (await steward.get(form, headers=HTML)).status_code == 403


async def test_a_steward_thanks_a_donor_when_recording_and_erases_the_name_on_request(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.steward)
    async with browser(settings, world.steward) as steward:
        form = await steward.get(f"/m/{world.slug}/record/donation", headers=HTML)
        assert "Thank the donor by name" in text_of(form.text)
        refused = await post_form(
            steward,
            f"/m/{world.slug}/record/donation",
            {"fund": "groceries", "amount": "30.00", "thank_as": "x" * 71},
        )
        assert refused.status_code == 422
        assert "Keep the donor's name to 70 characters or fewer" in text_of(refused.text)
        assert (await steward.get(api(world))).json()["donors"]["donations"] == 0

        recorded = await post_form(
            steward,
            f"/m/{world.slug}/record/donation",
            {"fund": "groceries", "amount": "30.00", "thank_as": "The Bakery Collective"},
        )
        assert recorded.status_code == 303, recorded.text
        await post_form(
            steward,
            f"/m/{world.slug}/record/donation",
            {"fund": "groceries", "amount": "10.00"},
        )
        donors = (await steward.get(api(world))).json()["donors"]
        assert donors["named"] == ["The Bakery Collective"]
        assert donors["donations"] == 2
        entry = (await steward.get(api(world, "/entries/1"))).json()
        assert entry["kind"] == "donation"
        assert "Bakery" not in str(entry)  # never in the log

        listed = await steward.get(f"/m/{world.slug}/donors", headers=HTML)
        assert listed.status_code == 200
        assert "The Bakery Collective : entry #1" in text_of(listed.text)
        erased = await post_form(
            steward, f"/m/{world.slug}/donors/1/erase", {}, form_url=f"/m/{world.slug}/donors"
        )
        assert erased.status_code == 303
        assert erased.headers["location"] == f"/m/{world.slug}/donors?erased=1"
        shown = await steward.get(erased.headers["location"], headers=HTML)
        assert "The name given for entry #1 was erased." in text_of(shown.text)
        assert "Bakery" not in shown.text
        assert (await steward.get(api(world))).json()["donors"]["named"] == []


async def test_donors_are_counted_right_as_the_log_grows_whatever_was_counted_before(
    client: Client, world: World, session: AsyncSession
) -> None:
    """The count and the totals are kept per log and grown by the entries after them: each
    read must equal a count made from nothing, including a reversal of a donation counted
    before, and a kept count of another log (another database) must not be taken."""

    async def donors() -> dict[str, Any]:
        counted = (await client.get(api(world))).json()["donors"]
        giving.COUNTED.forget()
        assert (await client.get(api(world))).json()["donors"] == counted  # from nothing
        return (await client.get(api(world))).json()["donors"] | {"named": None}

    def said(donations: int, amount: str | None) -> dict[str, Any]:
        totals = [{"currency": "EUR", "amount": amount}] if amount else []
        return {"donations": donations, "totals": totals, "named": None}

    assert await donors() == said(0, None)
    first = await donate(client, world, "10.00")
    assert await donors() == said(1, "10.00")
    await donate(client, world, "2.50")
    assert await donors() == said(2, "12.50")
    await record_entry(client, world, {"kind": "reversal", "reverses": first, "memo": "bounced"})
    assert await donors() == said(1, "2.50")
    await record_entry(
        client,
        world,
        {"kind": "transfer", "from_fund": "groceries", "to_fund": "rent-relief", "amount": "1.00"},
    )
    third = await donate(client, world, "4.00")
    await record_entry(client, world, {"kind": "reversal", "reverses": third, "memo": "twice"})
    await donate(client, world, "0.25")
    assert await donors() == said(2, "2.75")
    # A count kept of another database's log, at a size this log has passed.
    group = await groups.get_group(session, world.slug)
    (key,) = [key for key in giving.COUNTED._kept if key[1] == group.id]
    giving.COUNTED._kept[key] = Kept(2, "0" * 64, giving.DonationsCounted(9, {}))
    assert await donors() == said(2, "2.75")
    # And one at a size this log has not reached.
    giving.COUNTED._kept[key] = Kept(999, "0" * 64, giving.DonationsCounted(9, {}))
    assert await donors() == said(2, "2.75")
