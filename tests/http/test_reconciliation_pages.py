"""Reconciliation on the pages, on both engines: the members' place page closes one (the
form filled in from the statement, the rule's refusals in the form), and the public group
page says per place that the books match the bank, with the proof, or plainly (in amber,
with words and a sign) that they were not reconciled lately or never; in Spanish too."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.settings import Settings
from ledger.reconciliation import STALE_AFTER
from tests.http.test_statements import MAPPING, donate, lines, upload, url
from tests.support.clients import browser, csrf_of, give_password, text_of
from tests.support.people import World

Client = AsyncTestClient[Litestar]
HTML = {"Accept": "text/html"}
SPANISH = {"Accept": "text/html", "Accept-Language": "es-ES,es;q=0.9"}
HEADER = "Date,Value date,Description,Counterparty,Reference,Amount,Balance"


async def statement_ending(client: Client, world: World, last: date) -> dict[str, Any]:
    """A statement of two donations ending on ``last`` (dates near today, so the badge does
    not age with the calendar), both recorded and matched."""
    days = [last - timedelta(days=6), last]
    content = "\r\n".join(
        [
            HEADER,
            f"{days[0].isoformat()},{days[0].isoformat()},Donation,Ana,CV-1,40.00,40.00",
            f"{days[1].isoformat()},{days[1].isoformat()},Donation,Luis,CV-2,2.50,42.50",
        ]
    ).encode()
    seqs = [
        await donate(client, world, "40.00", days[0].isoformat()),
        await donate(client, world, "2.50", days[1].isoformat()),
    ]
    imported = await upload(client, world, content, mapping=MAPPING)
    assert imported.status_code == 201, imported.text
    statement: dict[str, Any] = imported.json()
    for line, seq in zip(await lines(client, world, statement["id"]), seqs, strict=True):
        matched = await client.post(
            url(world, f"/statements/{statement['id']}/lines/{line['id']}/match"),
            json={"entries": [seq]},
            headers=world.steward.headers,
        )
        assert matched.status_code == 201, matched.text
    return statement


async def test_a_steward_closes_a_reconciliation_from_the_place_page_and_the_public_sees_it(
    client: Client, settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.steward)
    last = date.today() - timedelta(days=2)
    await statement_ending(client, world, last)
    # Before: the place has statements but was never reconciled, said plainly in amber.
    group_page = await client.get(f"/g/{world.slug}", headers=HTML)
    assert "reconciled--stale" in group_page.text
    assert "Never reconciled with the bank" in text_of(group_page.text)
    place_page = f"/m/{world.slug}/places/new"
    async with browser(settings, world.steward) as steward:
        form = await steward.get(place_page, headers=HTML)
        assert form.status_code == 200, form.text
        # Filled in from the statement: its last day and closing balance.
        assert f'value="{last.isoformat()}"' in form.text
        assert 'value="42.50"' in form.text
        token = csrf_of(form.text)
        action = f"/m/{world.slug}/places/bank/reconciliations"
        wrong = await steward.post(
            action,
            data={"_csrf_token": token, "through": last.isoformat(), "closing_balance": "40.00"},
            headers=HTML,
        )
        assert wrong.status_code == 422, wrong.text
        assert 'id="error-closing_balance"' in wrong.text
        assert "42.50 EUR" in text_of(wrong.text)
        bad_day = await steward.post(
            action,
            data={"_csrf_token": token, "through": "yesterday", "closing_balance": "42.50"},
            headers=HTML,
        )
        assert bad_day.status_code == 422
        assert 'id="error-through"' in bad_day.text
        closed = await steward.post(
            action,
            data={"_csrf_token": token, "through": last.isoformat(), "closing_balance": "42.50"},
            headers=HTML,
            follow_redirects=False,
        )
        assert closed.status_code == 303, closed.text
        after = await steward.get(closed.headers["location"], headers=HTML)
        assert "The reconciliation is closed and in the log." in text_of(after.text)
    seq = (await client.get(url(world, "/reconciliations"))).json()[0]["seq"]
    group_page = await client.get(f"/g/{world.slug}", headers=HTML)
    text = text_of(group_page.text)
    assert "Books match the bank as of" in text
    assert "reconciled--ok" in group_page.text
    assert f'href="/api/groups/{world.slug}/entries/{seq}/proof"' in group_page.text
    proof = await client.get(f"/api/groups/{world.slug}/entries/{seq}/proof")
    assert proof.status_code == 200, proof.text
    spanish = text_of((await client.get(f"/g/{world.slug}", headers=SPANISH)).text)
    assert "Las cuentas coinciden con el banco a" in spanish
    assert "Books match the bank" not in spanish


async def test_a_reconciliation_older_than_the_limit_is_shown_as_not_reconciled_since(
    client: Client, world: World
) -> None:
    last = date.today() - STALE_AFTER - timedelta(days=5)
    await statement_ending(client, world, last)
    closed = await client.post(
        url(world, "/reconciliations"),
        json={"through": last.isoformat(), "closing_balance": "42.50"},
        headers=world.steward.headers,
    )
    assert closed.status_code == 201, closed.text
    page = await client.get(f"/g/{world.slug}", headers=HTML)
    assert "reconciled--stale" in page.text
    assert "Not reconciled with the bank since" in text_of(page.text)
    assert "Warning:" in text_of(page.text)  # said, not only coloured
    spanish = text_of((await client.get(f"/g/{world.slug}", headers=SPANISH)).text)
    assert "Sin conciliar con el banco desde" in spanish


async def test_a_place_without_statements_says_nothing_of_the_bank(
    client: Client, world: World
) -> None:
    page = await client.get(f"/g/{world.slug}", headers=HTML)
    assert page.status_code == 200
    assert "reconciled" not in page.text


async def test_the_statement_pages_lead_to_the_close_form_until_the_statement_is_closed(
    client: Client, settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.steward)
    last = date.today() - timedelta(days=2)
    statement = await statement_ending(client, world, last)
    link = f'href="/m/{world.slug}/places/new?reconcile=bank#reconcile"'
    pages = [
        f"/m/{world.slug}/places/bank/statements",
        f"/m/{world.slug}/places/bank/statements/{statement['id']}",
    ]
    async with browser(settings, world.steward) as steward:
        for path in pages:
            shown = await steward.get(path, headers=HTML)
            assert shown.status_code == 200, shown.text
            assert link in shown.text, path
            assert "Close the reconciliation" in text_of(shown.text)
            assert last.isoformat() not in text_of(shown.text)  # the day, as people read it
        spanish = await steward.get(pages[1], headers=SPANISH)
        assert "Cerrar la conciliación" in text_of(spanish.text)
        # The link's form is the place page's, for this place, filled in from the statement.
        form = await steward.get(f"/m/{world.slug}/places/new?reconcile=bank", headers=HTML)
        assert f'value="{last.isoformat()}"' in form.text
        closed = await client.post(
            url(world, "/reconciliations"),
            json={"through": last.isoformat(), "closing_balance": "42.50"},
            headers=world.steward.headers,
        )
        assert closed.status_code == 201, closed.text
        # Closed through the statement's last day: nothing left to close, and it says so.
        for path in pages:
            shown = await steward.get(path, headers=HTML)
            assert link not in shown.text, path
            assert "The books of this place match the bank through" in text_of(shown.text)
