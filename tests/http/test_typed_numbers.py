"""Numbers typed into the pages' fields and carried in their links: whatever arrives, the
answer is the page with its field's error or a 4xx, never a 500. ``str.isdigit`` says yes
to "²" and to other digits ``int`` refuses, and a number beyond 64 bits overflows the
database's integers: both once reached ``int`` or the driver from several forms."""

from __future__ import annotations

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.web.forms import typed_number
from tests.http.test_reconciliations import november
from tests.support.clients import give_password, log_in, post_form
from tests.support.people import World

Client = AsyncTestClient[Litestar]
ODD = ("²", "1²", "٣", "99999999999999999999999", "-1", "0", " ", "1e3")


@pytest.mark.parametrize(
    ("text", "maximum", "expected"),
    [
        ("12", 100, 12),
        ("100", 100, 100),
        ("101", 100, None),
        ("0", 100, None),
        ("007", 100, 7),
        ("²", 100, None),
        ("٣", 100, None),  # an Arabic-Indic three: a digit, but not one people type here
        ("", 100, None),
        ("-1", 100, None),
        ("99999999999999999999999", 2**63 - 1, None),
    ],
)
def test_typed_number_is_ascii_digits_within_bounds(
    text: str, maximum: int, expected: int | None
) -> None:
    assert typed_number(text, maximum) == expected


async def test_odd_numbers_in_the_pages_fields_and_links_are_never_a_server_error(
    client: Client, world: World, session: AsyncSession
) -> None:
    statement = (await november(client, world, match=False))["id"]
    await give_password(session, world.steward)
    await log_in(client, world.steward)
    slug = world.slug
    statement_url = f"/m/{slug}/places/bank/statements/{statement}"
    line_url = f"{statement_url}/lines/1"
    for odd in ODD:
        for path in (
            f"/g/{slug}/ledger?before={odd}",
            f"/g/{slug}/proposals?before={odd}",
            f"{statement_url}?page={odd}",
        ):
            response = await client.get(path)
            assert response.status_code < 500, (path, odd, response.text[:300])
        for action, fields in (
            ("match", {"entries": odd}),
            ("reject", {"entry": odd}),
            ("restore", {"entry": odd}),
            ("match", {"entries": "1", "page": odd, "show": "open"}),
        ):
            response = await post_form(
                client, line_url, {"action": action, **fields}, form_url=statement_url
            )
            assert response.status_code < 500, (action, fields, response.text[:300])
        for form_url, fields in (
            (f"/m/{slug}/record/reversal", {"reverses": odd, "memo": "wrong"}),
            (f"/m/{slug}/record/payment", {"policy": odd, "amount": "1.00"}),
            (f"/m/{slug}/record/payment", {"claim": odd, "amount": "1.00"}),
            (f"/m/{slug}/record/payment", {"proposal": odd, "amount": "1.00"}),
            (f"/m/{slug}/policies/new", {"replaces": odd, "title": "Groceries"}),
            (f"/m/{slug}/claims/new", {"policy": odd, "amount": "1.00"}),
            (f"/m/{slug}/requests/held/clear", {"up_to": odd}),
        ):
            page_url = form_url.removesuffix("/held/clear")
            response = await post_form(client, form_url, fields, form_url=page_url)
            assert response.status_code < 500, (form_url, fields, response.text[:300])
