"""A form's error in its reader's language: catalogue messages, and the domain's commonest
refusals (which the domain writes in English, with values) mapped to catalogue messages."""

from __future__ import annotations

from app.web.forms import Form, said
from ledger.errors import InvalidInput
from ledger.money import parse_amount
from ledger.statements import CsvMapping, StatementError, parse_statement


def _refusal(text: str, currency: str = "EUR") -> str:
    try:
        parse_amount(text, currency)
    except InvalidInput as error:
        return str(error)
    raise AssertionError(f"{text!r} was taken as an amount")


def test_english_is_left_exactly_as_written() -> None:
    refusal = _refusal("12.345")
    assert said(refusal, "en") == refusal
    assert said("Keep this to %(limit)s characters.", "en", limit=500) == (
        "Keep this to 500 characters."
    )


def test_the_domains_amount_refusals_read_in_spanish_with_their_values() -> None:
    assert said(_refusal("0"), "es") == "La cantidad tiene que ser mayor que cero."
    assert said(_refusal("12,50"), "es") == (
        '"12,50" no es una cantidad: escribe cifras con un punto decimal opcional, como "12.50".'
    )
    assert said(_refusal("1.005"), "es") == (
        'Las cantidades en EUR tienen como mucho 2 decimal(es); "1.005" tiene 3.'
    )


def test_an_overdraft_says_the_money_the_languages_way() -> None:
    refusal = "The fund 'Rent relief' holds 1234.50 EUR; this entry needs 2000.00."
    assert said(refusal, "es") == (
        "El fondo 'Rent relief' quedaría por debajo de cero: tiene 1.234,50\xa0€ y este asiento"
        " necesita 2.000,00\xa0€."
    )


def test_a_text_no_catalogue_knows_stays_as_it_is() -> None:
    assert said("Group 'x' has no fund 'y'.", "es") == "Group 'x' has no fund 'y'."


def test_a_form_fills_its_errors_in_its_language_keeping_the_first() -> None:
    form = Form(language="es")
    form.fail("amount", "Enter an amount, such as 12.50.")
    form.fail("amount", "Write this on one line.")
    form.fail(
        "memo", "Keep this to %(limit)s characters or fewer (it has %(count)s).", limit=5, count=9
    )
    assert form.errors == {
        "amount": "Escribe una cantidad, como 12.50.",
        "memo": "No pases de 5 caracteres (tiene 9).",
    }


def test_a_join_link_that_cannot_be_used_says_why_in_spanish() -> None:
    refusal = "This invite link has expired. Please ask an admin of Food & Rent for a new one."
    assert said(refusal, "es") == (
        "Este enlace de invitación caducó. Pide uno nuevo a quien administra Food & Rent."
    )


def test_a_form_reads_amounts_the_way_its_readers_language_writes_money() -> None:
    spanish = Form(values={"amount": "60,50 €", "other": "1.234,50"}, language="es")
    assert spanish.amount("amount") == "60.50"
    assert spanish.amount("other") == "1234.50"
    # In English, an amount is taken exactly as typed (the ledger's own check reads it).
    english = Form(values={"amount": "1,234.50"})
    assert english.amount("amount") == "1,234.50"


def _refused(check: object, *args: object, **kwargs: object) -> str:
    try:
        check(*args, **kwargs)  # type: ignore[operator]
    except InvalidInput as error:
        return str(error)
    raise AssertionError(f"{args!r} was taken")


def test_the_less_common_refusals_read_in_spanish() -> None:
    from ledger.giving_rules import bank_details, check_bic, check_iban
    from ledger.groups import check_email
    from ledger.rules import check_slug

    assert said(_refused(check_iban, "XX89 3704 0044 0532 0130 00"), "es") == (
        "XX no es un país con IBAN."
    )
    assert said(_refused(check_iban, "DE89 3704 0044 0532 0130"), "es") == (
        "Un IBAN de DE tiene 22 caracteres; este tiene 20."
    )
    assert said(_refused(check_iban, "DE89 3704 0044 0532 0130 01"), "es") == (
        "Los dígitos de control de este IBAN no cuadran: probablemente hay un carácter mal escrito."
    )
    assert said(_refused(check_bic, "NOT A BIC"), "es").startswith("Un BIC tiene 8 u 11")
    assert said(_refused(bank_details, "", "COBADEFFXXX", ""), "es") == (
        "Un BIC necesita el IBAN de su cuenta."
    )
    assert said(_refused(check_slug, "9lives"), "es").endswith("'9lives' no lo es.")
    assert said(_refused(check_email, "nobody"), "es") == (
        "'nobody' no es una dirección de correo electrónico."
    )


def test_where_a_refusal_is_about_says_it_before_the_refusal_in_spanish() -> None:
    assert said("#12: Line 4: the file is empty.", "es") == "#12: Línea 4: el archivo está vacío."
    assert said("#3: Choose what to do with the line.", "es") == (
        "#3: Elige qué hacer con la línea."
    )
    assert said("At Document: something the domain never said.", "es") == (
        "En Document: something the domain never said."
    )


def test_a_form_built_in_english_says_its_errors_in_the_pages_language() -> None:
    form = Form()
    form.fail("", "#3: Choose what to do with the line.")
    assert form.said_in("es").errors == {"": "#3: Elige qué hacer con la línea."}
    assert form.said_in("en") is form
    spanish = Form(language="es")
    spanish.fail("", "#3: Choose what to do with the line.")
    assert spanish.said_in("en") is spanish  # said in its own language already


def _statement_refusal(data: bytes, **mapping: object) -> str:
    fields: dict[str, object] = {"date": "Date", "amount": "Amount"} | mapping
    try:
        parse_statement(data, currency="EUR", format="csv", mapping=CsvMapping(**fields))  # type: ignore[arg-type]
    except StatementError as error:
        return str(error)
    raise AssertionError("the file was read")


def test_a_mapping_that_cannot_read_the_file_is_refused_in_spanish() -> None:
    data = b"Date,Amount\r\n2026-11-02,12.50\r\n"
    cases = {
        _statement_refusal(data, amount=None, sign="in-out", amount_out="Amount"): (
            "la convención de signos «Dos columnas: dinero que entra y dinero que sale» "
            "necesita «Columna del dinero que entra»."
        ),
        _statement_refusal(data, decimal_mark=",", thousands_separator=","): (
            "la marca decimal y el separador de miles tienen que ser distintos."
        ),
        _statement_refusal(data, date_format="%Q"): (
            "'%Q' no es un formato de fecha como '%d/%m/%Y'."
        ),
        _statement_refusal(data, header=False): (
            "la columna 'Date' tiene nombre, pero la correspondencia dice que el archivo no "
            "tiene línea de cabecera: numera las columnas desde 1."
        ),
        _statement_refusal(data, date="Datum"): (
            "«Columna de la fecha» de la correspondencia, 'Datum', no está en la cabecera "
            "del archivo ('Date', 'Amount')."
        ),
        _statement_refusal(data, delimiter=";"): (
            "Línea 1: la correspondencia separa las columnas con ';', pero las líneas de este "
            "archivo parecen separadas con ','."
        ),
        _statement_refusal(b'Date,Amount\r\n2026-11-02,"12.50"x\r\n'): (
            "Línea 2: el CSV está mal formado: ',' expected after '\"'."
        ),
    }
    for refusal, spanish in cases.items():
        assert said(refusal, "es") == spanish
    # The mapping's settings by the editor's words, whichever of them the refusal names.
    assert said(_statement_refusal(data, amount=None), "es") == (
        "la convención de signos «Una columna de importe: el dinero que sale es negativo "
        "(-12.50)» necesita «Columna del importe»."
    )


def test_an_mt940_line_its_reader_cannot_read_is_refused_in_spanish() -> None:
    refusal = "Line 14: MT940 cannot read this line: the amount is not a number"
    assert said(refusal, "es") == (
        "Línea 14: MT940 no puede leer esta línea: the amount is not a number"
    )
