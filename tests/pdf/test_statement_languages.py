"""The audit statement in the reader's language: asked for with ``Accept-Language: es`` its
words are Spanish and its money reads "12.345,50 €", parsed back with pdftotext; asked for
in English it reads exactly as it always has."""

from __future__ import annotations

import re
from pathlib import Path

from tests.pdf.ledger_data import Client, record
from tests.pdf.reading import pdftotext, without_bidi_marks
from tests.support.people import World

SPANISH = {"Accept-Language": "es-ES,es;q=0.9"}
DONATION = {
    "kind": "donation",
    "fund": "rent-relief",
    "amount": "12345.50",
    "occurred_on": "2024-01-05",
    "memo": "Herencia de una vecina",
}
TRANSFER = {
    "kind": "transfer",
    "from_fund": "rent-relief",
    "to_fund": "groceries",
    "amount": "25.00",
    "occurred_on": "2024-01-10",
    "memo": "Reparto tras la asamblea",
}


def flat(text: str) -> str:
    return re.sub(r"-\s+", "-", " ".join(without_bidi_marks(text).split()))


async def statement_text(client: Client, world: World, tmp_path: Path, **headers: str) -> str:
    response = await client.get(
        f"/g/{world.slug}/audit.pdf?from=2024-01-01&to=2024-01-31", headers=headers
    )
    assert response.status_code == 200, response.text
    return flat(pdftotext(response.content, tmp_path))


async def test_the_audit_statement_in_spanish(client: Client, world: World, tmp_path: Path) -> None:
    await record(client, world, DONATION)
    await record(client, world, TRANSFER)
    text = await statement_text(client, world, tmp_path, **SPANISH)
    for words in (
        "Informe de auditoría del 2024-01-01 al 2024-01-31",
        "Periodo del 2024-01-01 al 2024-01-31 (ambos días incluidos)",
        "2 asientos",
        "Resumen",
        "FONDO APERTURA ENTRADAS SALIDAS CIERRE ASIENTOS",  # (headings in capitals)
        "12.345,50 €",
        "12.320,50 €",  # rent relief's closing balance after the transfer
        "Saldo de apertura al comenzar el 2024-01-01",
        "Saldo de cierre al terminar el 2024-01-31",
        "donativo",
        "+12345,50",  # the grid's amounts, with the Spanish decimal sign
        "hacia groceries",
        "Decisiones tomadas en el periodo",
        "Sello de integridad",
        "Cómo verificar este documento",
        "Comprueba la firma.",
        "Generado el",
        "Página 1 de 2",
    ):
        assert words in text, words
    for english in (
        "Audit statement",
        "Summary",
        "Opening balance",
        "Closing balance",
        "12345.50 EUR",
        "donation",
        "Integrity seal",
        "How to verify",
        "Generated",
        "No decisions were recorded",
        "Page 1",
    ):
        assert english not in text, english

    # Asked for in English, the statement is as it was before it was translated.
    text = await statement_text(client, world, tmp_path, **{"Accept-Language": "en"})
    assert "Audit statement 2024-01-01 to 2024-01-31" in text
    assert "Opening balance at the start of 2024-01-01 0.00 EUR" in text
    assert "Closing balance at the end of 2024-01-31 12320.50 EUR" in text
    assert "+12345.50" in text
    assert "to groceries" in text
    assert "Page 1 of 2" in text
