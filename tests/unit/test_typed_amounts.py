"""Amounts as people type them in their language, read as the ledger's decimal text."""

from __future__ import annotations

from decimal import Decimal

import pytest
from babel.numbers import format_currency, format_decimal
from hypothesis import given
from hypothesis import strategies as st

from app.presenters.formatting import typed_amount


@pytest.mark.parametrize(
    ("typed", "language", "read"),
    [
        ("60,50", "es", "60.50"),
        ("60,50 €", "es", "60.50"),
        ("60,50\u00a0€", "es", "60.50"),
        ("1.234,50", "es", "1234.50"),
        ("60.50", "es", "60.50"),  # the English way, understood in Spanish too
        ("60", "es", "60"),
        ("60.50", "en", "60.50"),
        ("€60.50", "en", "60.50"),
        ("1,234.50", "en", "1234.50"),
        ("12 EUR", "en", "12"),
    ],
)
def test_an_amount_reads_the_way_its_language_writes_it(
    typed: str, language: str, read: str
) -> None:
    assert typed_amount(typed, language) == read


@pytest.mark.parametrize("typed", ["sesenta", "60,5,0", "", "  ", "1.2.3"])
def test_what_reads_as_no_amount_is_left_for_the_ledger_to_refuse(typed: str) -> None:
    assert typed_amount(typed, "es") == typed


@given(
    cents=st.integers(min_value=0, max_value=10**9),
    language=st.sampled_from(["en", "es", "de", "fr"]),
    as_money=st.booleans(),
)
def test_what_the_pages_write_reads_back_as_the_same_amount(
    cents: int, language: str, as_money: bool
) -> None:
    amount = Decimal(cents) / 100
    written = (
        format_currency(amount, "EUR", locale=language)
        if as_money
        else format_decimal(amount, format="#,##0.00", locale=language)
    )
    assert Decimal(typed_amount(written, language)) == amount
