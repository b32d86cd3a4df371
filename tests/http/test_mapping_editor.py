"""The CSV mapping editor in the stewards' statement pages, on both engines: a CSV file
opens with its first lines split into columns and a mapping guessed from its header (or the
place's saved one); a preview reads the file with the fields' mapping and names the line
that does not fit; importing saves the mapping, and the next file opens with it. The file
is chosen once: every page carries it back."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.settings import Settings
from ledger.models import BankStatement, Place, StatementSettings
from tests.support.clients import browser, csrf_of, give_password, text_of
from tests.support.html_forms import Fields, form_fields
from tests.support.people import World

Client = AsyncTestClient[Litestar]
HTML = {"Accept": "text/html"}
DATA = Path(__file__).resolve().parents[1] / "data" / "statements"
# The sample month's amounts in cents, in the order of utf8.csv (see tests/data/statements).
NOVEMBER = [5000, -32000, 2000, 2000, -8437, 15000, -250, 3500]


def base_of(world: World) -> str:
    return f"/m/{world.slug}/places/bank/statements"


async def open_editor(steward: Client, world: World, name: str) -> tuple[str, Fields]:
    """Upload a sample file from the import form: the page and its editor's fields."""
    base = base_of(world)
    token = csrf_of((await steward.get(base, headers=HTML)).text)
    page = await steward.post(
        f"{base}/preview",
        data={"_csrf_token": token},
        files={"file": (name, (DATA / name).read_bytes(), "text/csv")},
        headers=HTML,
    )
    assert page.status_code in (200, 422), page.text
    return page.text, form_fields(page.text, "editor")


async def import_from_editor(steward: Client, world: World, fields: Fields) -> None:
    """Import the file the editor carries with ``fields``: the page goes on (303)."""
    imported = await steward.post(base_of(world), data=fields, headers=HTML, follow_redirects=False)
    assert imported.status_code == 303, imported.text


def selected(html: str, name: str) -> str:
    """The option selected in the select ``name``."""
    return str(form_fields(html, "editor")[name])


async def lines_of(client: Client, world: World, statement: int) -> list[dict[str, object]]:
    response = await client.get(
        f"/api/groups/{world.slug}/places/bank/statements/{statement}/lines",
        headers=world.steward.headers,
    )
    assert response.status_code == 200, response.text
    lines: list[dict[str, object]] = response.json()
    return lines


def cents(line: dict[str, object]) -> int:
    return round(float(str(line["amount"])) * 100)


async def test_a_csv_opens_with_its_first_lines_in_columns_and_a_guessed_mapping(
    client: Client, settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.steward)
    async with browser(settings, world.steward) as steward:
        html, fields = await open_editor(steward, world, "utf8.csv")
    text = text_of(html)
    # The first lines, split into numbered columns, the header marked as such.
    assert "Column 1" in text
    assert "Column 7" in text
    assert "Column 8" not in text
    assert "1 (header)" in text
    assert re.search(r"<td>2026-11-03</td>\s*<td>2026-11-03</td>\s*<td>Rent relief", html)
    assert "Berg Hausverwaltung GmbH" in text
    assert "This place has no saved mapping yet" in text
    # The guess, from the header's words and the values under them.
    assert fields["date"] == "1"
    assert fields["value_date"] == "2"
    assert fields["description"] == "3"
    assert fields["counterparty"] == "4"
    assert fields["reference"] == "5"
    assert fields["amount"] == "6"
    assert fields["balance"] == "7"
    assert fields["date_format"] == "%Y-%m-%d"
    assert fields["sign"] == "signed"
    assert fields["decimal_mark"] == "point"
    assert fields["encoding"] == "utf-8"
    assert fields["delimiter"] == "comma"
    assert fields["header"] == "yes"
    # The columns are offered by number and header; the guess already reads the file.
    assert '<option value="4" selected>4: Counterparty</option>' in html
    assert "8 lines read" in text
    assert "Donation November" in text
    # A screen reader hears what each field is and the table scrolls in its own box.
    assert '<label for="field-date_format">Date format</label>' in html
    assert "swipe the table sideways" in text
    assert await session.scalar(select(func.count()).select_from(BankStatement)) == 0


async def test_a_preview_with_the_wrong_date_format_names_the_line_and_stores_nothing(
    client: Client, settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.steward)
    async with browser(settings, world.steward) as steward:
        _html, fields = await open_editor(steward, world, "utf8.csv")
        fields["date_format"] = "%d/%m/%Y"
        page = await steward.post(f"{base_of(world)}/preview", data=fields, headers=HTML)
        assert page.status_code == 422, page.text
        text = text_of(page.text)
        assert "Line 2: the date '2026-11-02' is not a date written as '%d/%m/%Y'." in text
        # The error is the preview's, linked from the summary; the fields keep what was sent.
        assert 'href="#field-preview"' in page.text
        assert 'id="error-preview"' in page.text
        assert selected(page.text, "date_format") == "%d/%m/%Y"
        assert "lines read" not in text
        # The other way to get it wrong: a format that is no format, on its own field.
        fields["date_format"], fields["date_format_other"] = "other", "day-month-year"
        page = await steward.post(f"{base_of(world)}/preview", data=fields, headers=HTML)
        assert page.status_code == 422, page.text
        assert 'id="error-date_format"' in page.text
        assert "'day-month-year' is not a date format" in text_of(page.text)
        # Importing with a mapping that does not read the file stores nothing.
        fields["date_format"], fields["date_format_other"] = "%d/%m/%Y", ""
        refused = await steward.post(base_of(world), data=fields, headers=HTML)
        assert refused.status_code == 422, refused.text
        assert "Line 2:" in text_of(refused.text)
    await session.rollback()
    assert await session.scalar(select(func.count()).select_from(BankStatement)) == 0
    assert await session.scalar(select(func.count()).select_from(StatementSettings)) == 0


async def test_an_import_saves_the_new_mapping_and_the_next_file_opens_with_it(
    client: Client, settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.steward)
    async with browser(settings, world.steward) as steward:
        _, fields = await open_editor(steward, world, "utf8.csv")
        # The steward's own choices, which the guess would not make: the description is
        # the text and the reference joined, and the balance is not checked.
        fields["description"] = ["3", "5"]
        fields["reference"] = ""
        fields["balance"] = ""
        await import_from_editor(steward, world, fields)
        await session.rollback()
        place = (await session.scalars(select(Place).where(Place.slug == "bank"))).one()
        saved = await session.get(StatementSettings, place.id)
        assert saved is not None
        assert saved.csv_mapping is not None
        mapping = msgspec.json.decode(saved.csv_mapping)
        assert mapping["description"] == ["Description", "Reference"]
        assert mapping["balance"] is None
        assert mapping["reference"] is None
        assert mapping["date"] == "Date"  # named by the header: a new column breaks nothing
        await session.rollback()
        lines = await lines_of(client, world, 1)
        assert [cents(line) for line in lines] == NOVEMBER
        assert lines[0]["description"] == "Donation November CV-2611-0001"

        # The next file opens with the saved mapping, not a guess.
        html, again = await open_editor(steward, world, "utf8-bom.csv")
        assert "The fields hold this place's saved mapping" in text_of(html)
        assert again["description"] == ["3", "5"]
        assert again["reference"] == ""
        assert again["balance"] == ""
        assert again["encoding"] == "utf-8"
        assert "8 lines read" in text_of(html)


async def test_money_in_and_out_columns_with_decimal_commas_are_read_from_the_fields(
    client: Client, settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.steward)
    async with browser(settings, world.steward) as steward:
        _html, guessed = await open_editor(steward, world, "decimal-comma-in-out.csv")
        assert guessed["sign"] == "in-out"
        assert (guessed["amount_in"], guessed["amount_out"]) == ("4", "5")
        assert guessed["decimal_mark"] == "comma"
        assert guessed["thousands_separator"] == "point"
        assert guessed["delimiter"] == "semicolon"
        assert guessed["date_format"] == "%d/%m/%Y"
        # Read with a point as the decimal mark, "35,00" is no amount: the line is named.
        wrong = {**guessed, "decimal_mark": "point", "thousands_separator": ""}
        page = await steward.post(f"{base_of(world)}/preview", data=wrong, headers=HTML)
        assert page.status_code == 422, page.text
        assert "Line 2: '35,00' is not an amount written with '.' as decimal mark" in text_of(
            page.text
        )
        # Every field typed by hand, as a steward does for a bank the guess gets wrong.
        fields: Fields = {
            "_csrf_token": str(guessed["_csrf_token"]),
            "content": str(guessed["content"]),
            "format": "csv",
            "editor": "1",
            "encoding": "utf-8",
            "delimiter": "semicolon",
            "skip_lines": "0",
            "header": "yes",
            "skip_end_lines": "0",
            "date": "1",
            "date_format": "%d/%m/%Y",
            "sign": "in-out",
            "amount_in": "4",
            "amount_out": "5",
            "amount": "2",  # left over from another choice: the convention ignores it
            "decimal_mark": "comma",
            "thousands_separator": "point",
            "description": "2",
            "counterparty": "3",
            "balance": "6",
        }
        page = await steward.post(f"{base_of(world)}/preview", data=fields, headers=HTML)
        assert page.status_code == 200, page.text
        assert "8 lines read" in text_of(page.text)
        await import_from_editor(steward, world, fields)
    await session.rollback()
    lines = await lines_of(client, world, 1)
    assert sorted(cents(line) for line in lines) == sorted(NOVEMBER)
    fee = next(line for line in lines if cents(line) == -250)
    assert fee["description"] == "Account fee November"
    statement = (await session.scalars(select(BankStatement))).one()
    assert statement.closing == 110863  # the balance column, "1.108,63", checked line by line


async def test_a_latin1_file_is_guessed_and_a_wrong_encoding_is_named(
    client: Client, settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.steward)
    async with browser(settings, world.steward) as steward:
        html, fields = await open_editor(steward, world, "latin1.csv")
        text = text_of(html)
        assert fields["encoding"] == "latin-1"
        assert "Auftraggeber/Empfänger" in text
        assert (fields["skip_lines"], fields["skip_end_lines"]) == ("4", "1")
        assert "1 (skipped)" in text
        assert "5 (header)" in text
        assert fields["date_format"] == "%d.%m.%Y"
        assert (fields["decimal_mark"], fields["currency"]) == ("comma", "6")
        assert "8 lines read" in text
        # Read as UTF-8, its first accented letter stops it, and the page says where; the
        # lines still show (as Latin-1) to choose the encoding against.
        page = await steward.post(
            f"{base_of(world)}/preview", data={**fields, "encoding": "utf-8"}, headers=HTML
        )
        assert page.status_code == 422, page.text
        assert re.search(r"Line 5: byte \d+ of the file \(0x[0-9A-F]{2}\) is not UTF-8 text",
                         text_of(page.text))  # fmt: skip
        assert "Calle Verde" in text_of(page.text)
        await import_from_editor(steward, world, fields)
    await session.rollback()
    lines = await lines_of(client, world, 1)
    assert [cents(line) for line in lines] == NOVEMBER
    assert lines[0]["counterparty"] == "María López"


async def test_a_utf16_file_with_a_debit_or_credit_column_is_imported_from_the_editor(
    client: Client, settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.steward)
    async with browser(settings, world.steward) as steward:
        html, fields = await open_editor(steward, world, "utf16.csv")
        assert fields["encoding"] == "utf-16"
        assert fields["delimiter"] == "tab"
        assert (fields["sign"], fields["amount"], fields["direction"]) == ("direction", "5", "4")
        assert fields["debit_marks"] == "D, DR, DBIT, DEBIT, -"
        assert "Payee or payer" in text_of(html)
        # Without the marks its bank writes, no line reads.
        fields["credit_marks"] = "H"
        page = await steward.post(f"{base_of(world)}/preview", data=fields, headers=HTML)
        assert page.status_code == 422, page.text
        assert "Line 2: 'cr' is neither a debit mark" in text_of(page.text)
        fields["credit_marks"] = "CR, C"
        await import_from_editor(steward, world, fields)
    await session.rollback()
    lines = await lines_of(client, world, 1)
    assert [cents(line) for line in lines] == NOVEMBER
    assert lines[1]["counterparty"] == "Berg Hausverwaltung GmbH"


async def test_a_saved_mapping_naming_a_column_the_file_lacks_says_so_on_its_field(
    client: Client, settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.steward)
    saved = await client.put(
        f"/api/groups/{world.slug}/places/bank/statement-settings",
        json={"mapping": {"date": "Date", "amount": "Amount", "balance": "Kontostand"}},
        headers=world.steward.headers,
    )
    assert saved.status_code == 200, saved.text
    async with browser(settings, world.steward) as steward:
        html, fields = await open_editor(steward, world, "utf8.csv")
    assert 'id="error-balance"' in html
    assert "The saved mapping reads the column “Kontostand”, which this file lacks." in text_of(
        html
    )
    assert fields["balance"] == ""
    assert fields["amount"] == "6"


async def test_the_editor_and_its_errors_read_in_spanish(
    client: Client, settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.steward)
    async with browser(settings, world.steward) as steward:
        steward.headers["Accept-Language"] = "es"
        _, fields = await open_editor(steward, world, "utf8.csv")
        fields["skip_lines"] = "many"
        page = await steward.post(f"{base_of(world)}/preview", data=fields, headers=HTML)
    assert page.status_code == 422, page.text
    text = text_of(page.text)
    assert "Asigna las columnas de utf8.csv" in text
    assert "Las primeras líneas del archivo" in text
    assert "Columna 7" in text
    assert "Escribe un número de líneas de 0 a 1000." in text
    assert "%d es el día, %m el mes" in text
    assert "31/12/2026 (%d/%m/%Y)" in text
    for english in ("Date column", "Decimal mark", "Lines to skip", "Read with this mapping"):
        assert english not in text


async def test_an_empty_or_unreadable_file_opens_the_editor_with_the_reason(
    client: Client, settings: Settings, world: World, session: AsyncSession
) -> None:
    await give_password(session, world.steward)
    async with browser(settings, world.steward) as steward:
        html, fields = await open_editor(steward, world, "empty.csv")
        assert 'id="error-preview"' in html
        assert "the file is empty." in text_of(html)
        importing = await steward.post(base_of(world), data=fields, headers=HTML)
        assert importing.status_code == 422, importing.text
        # A letter, not a table: its lines show, and the mapping says what it lacks.
        html, _ = await open_editor(steward, world, "unknown.txt")
        assert "Dear treasurer" in text_of(html)
        assert 'id="error-amount"' in html
        # In the editor's words, not the mapping's JSON names.
        assert (
            "the sign convention “One amount column: money out is negative (-12.50)” needs "
            "the “Amount column”."
        ) in text_of(html)
    await session.rollback()
    assert await session.scalar(select(func.count()).select_from(BankStatement)) == 0


async def test_a_file_that_does_not_read_is_refused_in_the_stewards_language(
    client: Client, settings: Settings, world: World, session: AsyncSession
) -> None:
    """A Spanish steward reads why the file does not read in Spanish, where in it first."""
    await give_password(session, world.steward)
    async with browser(settings, world.steward) as steward:
        await steward.get("/language", params={"to": "es", "next": "/m"})
        _html, fields = await open_editor(steward, world, "utf8.csv")
        for changed, spanish in (
            (
                {"date_format": "%d/%m/%Y"},
                "Línea 2: la fecha '2026-11-02' no es una fecha escrita como '%d/%m/%Y'.",
            ),
            (
                {"decimal_mark": "comma"},
                "Línea 2: '50.00' no es un importe escrito con ',' como separador decimal.",
            ),
        ):
            page = await steward.post(
                f"{base_of(world)}/preview", data={**fields, **changed}, headers=HTML
            )
            assert page.status_code == 422, page.text
            assert spanish in text_of(page.text), changed
            assert " is not " not in text_of(page.text)
        # A Latin-1 file read as UTF-8 stops at its first accented letter.
        _html, fields = await open_editor(steward, world, "latin1.csv")
        page = await steward.post(
            f"{base_of(world)}/preview", data={**fields, "encoding": "utf-8"}, headers=HTML
        )
        assert page.status_code == 422, page.text
        assert "no es texto UTF-8; ¿está el archivo en otra codificación" in text_of(page.text)
