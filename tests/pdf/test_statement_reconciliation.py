"""The audit statement says per place whether its books matched the bank, as known at the
period's end (pdftotext), on both engines: before a reconciliation, never; after one, as
of its day with the leaf that proves it; in Spanish too."""

from __future__ import annotations

from pathlib import Path

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.http.test_reconciliations import close, november
from tests.pdf.reading import pdftotext
from tests.support.people import World

Client = AsyncTestClient[Litestar]


async def audit_text(client: Client, world: World, tmp_path: Path, **headers: str) -> str:
    response = await client.get(
        f"/g/{world.slug}/audit.pdf?from=2026-11-01&to=2026-12-05", headers=headers
    )
    assert response.status_code == 200, response.text
    return " ".join(pdftotext(response.content, tmp_path, layout=False).split())


async def test_the_audit_statement_says_whether_each_place_matched_the_bank(
    client: Client, world: World, tmp_path: Path
) -> None:
    await november(client, world)
    before = await audit_text(client, world, tmp_path)
    assert "Never reconciled with the bank" in before
    closed = await close(client, world, "2026-11-28", "100.00")
    assert closed.status_code == 201, closed.text
    seq = closed.json()["seq"]
    after = await audit_text(client, world, tmp_path)
    assert "Books match the bank as of Nov 28, 2026" in after
    assert f"entry #{seq} of the log" in after
    assert "Never reconciled" not in after
    spanish = await audit_text(client, world, tmp_path, **{"Accept-Language": "es"})
    assert "Las cuentas coinciden con el banco a" in spanish
