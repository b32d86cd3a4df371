"""The less common refusals of the domain read in the language of the member's form: bank
details and slugs, a statement's lines, closing a reconciliation, and statement files that
do not read. ``app.web.forms.said`` says them in it."""

from __future__ import annotations

from pathlib import Path

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.settings import Settings
from tests.http.test_reconciliations import close, november
from tests.http.test_statements import lines
from tests.support.clients import browser, csrf_of, give_password, post_form, text_of
from tests.support.people import World

Client = AsyncTestClient[Litestar]
HTML = {"Accept": "text/html"}
DATA = Path(__file__).resolve().parents[1] / "data" / "statements"


async def test_bank_details_and_slug_refusals_read_in_spanish(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.admin)
    async with browser(settings, world.admin) as admin:
        await admin.get("/language", params={"to": "es", "next": "/m"})
        giving = await post_form(
            admin,
            f"/m/{world.slug}/giving",
            {
                "how_to_give": "En las reuniones.",
                "iban": "XX89 3704 0044 0532 0130 00",
                "bic": "NOT A BIC",
                "account_holder": "",
            },
        )
        assert giving.status_code == 422
        text = text_of(giving.text)
        assert "XX no es un país con IBAN." in text
        assert "Un BIC tiene 8 u 11 letras y cifras" in text
        assert "is not a country" not in text
        fund = await post_form(
            admin, f"/m/{world.slug}/funds/new", {"name": "Comida", "slug": "9-comida"}
        )
        assert fund.status_code == 422
        assert "'9-comida' no lo es." in text_of(fund.text)


async def test_the_statement_pages_refusals_read_in_spanish(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.steward)
    base = f"/m/{world.slug}/places/bank/statements"
    async with browser(settings, world.steward) as steward:
        await steward.get("/language", params={"to": "es", "next": "/m"})
        form = await steward.get(base, headers={"Accept": "text/html"})
        refused = await steward.post(
            f"{base}/preview",
            data={"_csrf_token": csrf_of(form.text)},
            files={"file": ("nov.csv", b"", "text/csv")},
            headers={"Accept": "text/html"},
        )
    assert refused.status_code == 422, refused.text
    text = text_of(refused.text)
    assert "el archivo está vacío." in text or "Elige el archivo del extracto." in text
    assert "the file is empty" not in text


async def test_a_statement_lines_refusals_and_what_keeps_an_import_read_in_spanish(
    settings: Settings, client: Client, world: World, session: AsyncSession
) -> None:
    statement = await november(client, world)
    first = (await lines(client, world, statement["id"]))[0]
    await give_password(session, world.steward)
    page_url = f"/m/{world.slug}/places/bank/statements/{statement['id']}"
    async with browser(settings, world.steward) as steward:
        await steward.get("/language", params={"to": "es", "next": "/m"})
        page = text_of((await steward.get(page_url, headers=HTML)).text)
        # The page says in Spanish what keeps the import, where it would offer the form.
        assert "Esta importación no se puede retirar: 3 de sus movimientos están" in page
        for fields, spanish in (
            ({"action": "restore", "entry": "7"}, "El asiento 7 no se rechazó para este"),
            ({"action": "match", "entries": "99999999999999999999999"}, "Ningún asiento tiene"),
            ({"action": "donation", "fund": "rent-relief"}, "Este movimiento del banco ya está"),
        ):
            refused = await post_form(
                steward, f"{page_url}/lines/{first['id']}", fields, form_url=page_url
            )
            assert refused.status_code in (404, 409, 422), refused.text
            assert spanish in text_of(refused.text), fields
            assert "bank line" not in refused.text


async def test_closing_a_reconciliation_refused_reads_in_spanish(
    settings: Settings, client: Client, world: World, session: AsyncSession
) -> None:
    await november(client, world, match=False)
    await give_password(session, world.steward)
    action = f"/m/{world.slug}/places/bank/reconciliations"
    async with browser(settings, world.steward) as steward:
        await steward.get("/language", params={"to": "es", "next": "/m"})
        form = await steward.get(f"/m/{world.slug}/places/new", headers=HTML)
        token = csrf_of(form.text)
        for fields, spanish in (
            (
                {"through": "2026-11-28", "closing_balance": "100.00"},
                "movimiento(s) del banco del lugar 'Bank account' con fecha hasta el "
                "2026-11-28 aún no están emparejados",
            ),
            (
                {"through": "2026-10-01", "closing_balance": "0.00"},
                "Ningún extracto importado del lugar 'Bank account' cubre el 2026-10-01",
            ),
        ):
            refused = await steward.post(
                action, data={"_csrf_token": token, **fields}, headers=HTML
            )
            assert refused.status_code == 422, refused.text
            assert spanish in text_of(refused.text), text_of(refused.text)[:2000]
    # Matched, but the closing balance given is not what the books put there.
    await november(client, world)
    async with browser(settings, world.steward) as steward:
        await steward.get("/language", params={"to": "es", "next": "/m"})
        form = await steward.get(f"/m/{world.slug}/places/new", headers=HTML)
        refused = await steward.post(
            action,
            data={
                "_csrf_token": csrf_of(form.text),
                "through": "2026-11-10",
                "closing_balance": "1.00",
            },
            headers=HTML,
        )
    assert refused.status_code == 422, refused.text
    assert "el saldo de cierre indicado es 1,00 €" in text_of(refused.text)


async def test_an_entry_dated_into_a_reconciled_period_is_refused_in_spanish(
    settings: Settings, client: Client, world: World, session: AsyncSession
) -> None:
    await november(client, world)
    assert (await close(client, world, "2026-11-10", "70.00")).status_code == 201
    await give_password(session, world.steward)
    async with browser(settings, world.steward) as steward:
        await steward.get("/language", params={"to": "es", "next": "/m"})
        refused = await post_form(
            steward,
            f"/m/{world.slug}/record/donation",
            {"fund": "rent-relief", "amount": "5.00", "occurred_on": "2026-11-05"},
        )
    assert refused.status_code in (409, 422), refused.text
    assert (
        "El lugar 'Bank account' está conciliado con el banco hasta el 2026-11-10: un asiento "
        "allí con fecha 2026-11-05 cambiaría el saldo acordado."
    ) in text_of(refused.text)


async def test_structured_statement_files_refused_read_in_spanish(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    """CAMT.053 and its XML refused at an element, read by a Spanish steward."""
    await give_password(session, world.steward)
    base = f"/m/{world.slug}/places/bank/statements"
    async with browser(settings, world.steward) as steward:
        await steward.get("/language", params={"to": "es", "next": "/m"})
        for name, spanish in (
            (
                "camt-bad-amount.xml",
                "En Document/BkToCstmrStmt/Stmt/Ntry[5]/Amt: '84.3x' no es un importe.",
            ),
            ("camt-bad-date.xml", "'2026-11-31' no es una fecha."),
            (
                "camt-unbalanced.xml",
                "el saldo inicial 1240.50 más los movimientos (-131.87) da 1108.63, pero el "
                "saldo final es 1180.63: ¿está completo el archivo?",
            ),
            ("external-entity.xml", "el XML declara un tipo de documento (DTD)"),
        ):
            form = await steward.get(base, headers=HTML)
            refused = await steward.post(
                f"{base}/preview",
                data={"_csrf_token": csrf_of(form.text)},
                files={"file": (name, (DATA / name).read_bytes(), "application/xml")},
                headers=HTML,
            )
            assert refused.status_code == 422, refused.text
            assert spanish in text_of(refused.text), (name, text_of(refused.text)[-2500:])
