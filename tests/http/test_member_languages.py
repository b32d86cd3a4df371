"""The members' pages read in the member's language: the picker's cookie, else the
browser's Accept-Language; their forms' errors too, and money the language's way."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.settings import Settings
from tests.support.clients import browser, give_password, post_form, record_entry, text_of
from tests.support.people import World

HTML = {"Accept": "text/html"}
SPANISH = {"Accept": "text/html", "Accept-Language": "es-ES,es;q=0.9"}


async def test_a_member_who_picked_spanish_sees_their_dashboard_in_spanish(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.member)
    async with browser(settings) as api:
        await record_entry(
            api, world, {"kind": "donation", "fund": "rent-relief", "amount": "12345.50"}
        )
        proposed = await api.post(
            f"/api/groups/{world.slug}/proposals",
            headers=world.steward.headers,
            json={"title": "Meet on Thursdays"},
        )
        assert proposed.status_code == 201, proposed.text
    async with browser(settings, world.member) as member:
        member.cookies.set("lang", "es")
        # The picker's choice wins over the browser's own language.
        page = await member.get("/m", headers={**HTML, "Accept-Language": "en"})
        assert page.status_code == 200
        assert '<html lang="es">' in page.text
        text = text_of(page.text)
        assert "Tus grupos" in text
        assert "Hola, Member-Rent-Fund. Estos son los grupos de los que formas parte." in text
        assert "Esperan tu respuesta (1)" in text
        assert "12.345,50 €" in text
        assert "miembro" in text
        assert "Your groups" not in text
        # The same member without the cookie reads it in English, as before.
        member.cookies.delete("lang")
        english = text_of((await member.get("/m", headers=HTML)).text)
        assert "Your groups" in english
        assert "€12,345.50" in english


async def test_a_proposal_page_and_its_respond_form_read_in_spanish(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.member)
    async with browser(settings) as api:
        proposed = await api.post(
            f"/api/groups/{world.slug}/proposals",
            headers=world.steward.headers,
            json={
                "title": "Rent for R-17",
                "fund": "rent-relief",
                "amount": "1500.00",
                "counterparty": "R-17",
            },
        )
        assert proposed.status_code == 201, proposed.text
    async with browser(settings, world.member) as member:
        member.headers["Accept-Language"] = "es-ES,es;q=0.9"
        url = f"/m/{world.slug}/proposals/1"
        page = await member.get(url, headers=HTML)
        assert page.status_code == 200
        text = text_of(page.text)
        assert "Propuesta n.º 1" in text
        assert "Paga 1.500,00 €" in text
        assert "Ronda 1: abierta hasta el" in text
        assert "Tu respuesta" in text
        assert "Todavía no has respondido en esta ronda." in text
        assert ">De acuerdo, con una preocupación</label>" in page.text
        assert ">Enviar tu respuesta</button>" in page.text
        assert "Debate" in text
        # A block without a reason is refused next to its field, in Spanish.
        refused = await post_form(
            member,
            f"{url}/respond",
            {"position": "block", "reason": ""},
            form_url=url,
        )
        assert refused.status_code == 422
        assert "Revisa el formulario, por favor" in refused.text
        assert (
            "Un bloqueo necesita un motivo al que el grupo pueda responder: di qué tendría que"
            " cambiar." in text_of(refused.text)
        )


async def test_the_record_form_and_its_errors_read_in_spanish(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.steward)
    async with browser(settings) as api:
        await record_entry(
            api, world, {"kind": "donation", "fund": "rent-relief", "amount": "1234.50"}
        )
    async with browser(settings, world.steward) as steward:
        steward.headers["Accept-Language"] = "es"
        url = f"/m/{world.slug}/record/donation"
        form = await steward.get(url, headers=HTML)
        assert form.status_code == 200
        text = text_of(form.text)
        assert "Registrar una donación" in text
        assert "Cantidad en EUR" in text
        assert "Rent relief (1.234,50 € disponibles)" in text
        assert "(opcional)" in text
        missing = await post_form(steward, url, {"fund": "rent-relief", "amount": ""})
        assert missing.status_code == 422
        text = text_of(missing.text)
        assert "Revisa el formulario, por favor" in text
        assert "Escribe una cantidad, como 12.50." in text
        assert "Enter an amount" not in text
        # The ledger's own refusal of an overdraft, with the money in Spanish.
        transfer = f"/m/{world.slug}/record/transfer"
        overdrawn = await post_form(
            steward,
            transfer,
            {"from_fund": "groceries", "to_fund": "rent-relief", "amount": "50.00"},
        )
        assert overdrawn.status_code == 409
        assert (
            "El fondo 'Groceries' quedaría por debajo de cero: tiene 0,00 € y este asiento"
            " necesita 50,00 €." in text_of(overdrawn.text)
        )
        # An amount typed the way Spanish writes money is read as such.
        recorded = await post_form(steward, url, {"fund": "rent-relief", "amount": "1.000,25 €"})
        assert recorded.status_code == 303, recorded.text
        shown = text_of((await steward.get(recorded.headers["location"], headers=HTML)).text)
        assert "Registrado como asiento n.º" in shown
        assert "Rent relief 2.234,75 €" in shown
        # The ledger's refusal of a zero amount, in Spanish too.
        zero = await post_form(steward, url, {"fund": "rent-relief", "amount": "0"})
        assert zero.status_code == 422
        assert "La cantidad tiene que ser mayor que cero." in text_of(zero.text)
        # Moving money between places, and naming a new place.
        move = f"/m/{world.slug}/record/move"
        unplaced = await post_form(steward, move, {"amount": "5.00"})
        assert unplaced.status_code == 422
        text = text_of(unplaced.text)
        assert "Elige el lugar del que sale el dinero." in text
        assert "Elige el lugar al que va el dinero." in text
        same = await post_form(
            steward, move, {"from_place": "bank", "to_place": "bank", "amount": "5.00"}
        )
        assert "Elige un lugar distinto del primero." in text_of(same.text)
        unnamed = await post_form(steward, f"/m/{world.slug}/places/new", {"name": " "})
        assert unnamed.status_code == 422
        assert "Ponle un nombre al lugar, como Caja." in text_of(unnamed.text)


async def test_the_login_page_and_its_error_read_in_spanish(
    client: AsyncTestClient[Litestar], world: World
) -> None:
    page = await client.get("/login", headers=SPANISH)
    assert page.status_code == 200
    assert ">Iniciar sesión</h1>" in page.text
    assert "Dirección de correo" in page.text
    wrong = await post_form(client, "/login", {"email": "", "password": ""})
    assert wrong.status_code in (400, 422)
    assert "Escribe tu dirección de correo." not in wrong.text  # no language asked for
    client.headers["Accept-Language"] = "es"
    wrong = await post_form(client, "/login", {"email": "", "password": ""})
    assert "Escribe tu dirección de correo." in wrong.text
    assert "Escribe tu contraseña." in wrong.text


async def test_every_members_page_of_an_admin_reads_in_spanish(
    settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.admin)
    group = f"/m/{world.slug}"
    headings = {
        "/m": "Tus grupos",
        "/notifications": "Notificaciones",
        "/password/forgot": "¿Olvidaste tu contraseña?",
        group: "Área de miembros",
        f"{group}/members": "Miembros y funciones",
        f"{group}/rules": "Reglas de decisión",
        f"{group}/giving": "Cómo donar",
        f"{group}/notifications": "Notificaciones",
        f"{group}/requests": "Peticiones de apoyo",
        f"{group}/claims": "Reembolsos",
        f"{group}/claims/new": "Pedir un reembolso",
        f"{group}/funds/new": "Abrir un fondo nuevo",
        f"{group}/donors": "Donantes a quienes se agradece por su nombre",
        f"{group}/proposals/new": "Proponer",
        f"{group}/policies/new": "Proponer una política de gasto",
        f"{group}/record/payment": "Registrar un pago",
        f"{group}/record/transfer": "Mover dinero entre fondos",
        f"{group}/record/reversal": "Anular un asiento",
    }
    async with browser(settings, world.admin) as admin:
        admin.headers["Accept-Language"] = "es"
        for url, heading in headings.items():
            page = await admin.get(url, headers=HTML)
            assert page.status_code == 200, url
            assert '<html lang="es">' in page.text, url
            assert f"<h1>{heading}</h1>" in page.text, url
