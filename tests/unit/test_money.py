"""Amounts at the edges (ledger/money.py): every positive amount round-trips, every other
form is refused with ``InvalidInput`` naming the field."""

from __future__ import annotations

import unicodedata
from decimal import Decimal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from ledger.errors import InvalidInput
from ledger.money import MAX_MINOR_UNITS, exponent, format_amount, parse_amount

# One currency per exponent the API has to handle.
PLACES = {"JPY": 0, "EUR": 2, "KWD": 3}
currencies = st.sampled_from(sorted(PLACES))
minor_units = st.integers(min_value=1, max_value=MAX_MINOR_UNITS)
# Digits that are digits to Unicode (and to ``int()``), but not ASCII: "١٢", "１２", "१२"...
foreign_digits = st.characters(categories=["Nd"]).filter(lambda ch: not ch.isascii())
whitespace = st.sampled_from([" ", "\t", "\n", "\r", "\u00a0", "\u2003", "\u3000", "\ufeff"])


@st.composite
def valid_amounts(draw: st.DrawFn) -> tuple[str, str, int]:
    """A currency, a well-formed positive amount in it, and its value in minor units."""
    currency = draw(currencies)
    minor = draw(minor_units)
    return currency, format_amount(minor, currency), minor


@st.composite
def amount_texts(draw: st.DrawFn, currency: str) -> str:
    """Any plain decimal text with at most the currency's decimals (trailing zeros too)."""
    whole = draw(st.integers(min_value=0, max_value=MAX_MINOR_UNITS // 10 ** PLACES[currency] - 1))
    places = draw(st.integers(min_value=0, max_value=PLACES[currency]))
    if places == 0:
        return str(whole)
    decimals = draw(st.integers(min_value=0, max_value=10**places - 1))
    return f"{whole}.{decimals:0{places}d}"


def refused(text: object, currency: str) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        parse_amount(text, currency, field="amount")
    assert caught.value.field == "amount"
    assert str(caught.value)  # a sentence for people, never empty
    return caught.value


def test_the_currencies_have_their_iso_4217_exponents() -> None:
    assert {currency: exponent(currency) for currency in PLACES} == PLACES


# --- what is accepted ----------------------------------------------------------------------


@given(valid_amounts())
@example(("EUR", "0.01", 1))
@example(("JPY", "1", 1))
@example(("KWD", "0.001", 1))
@example(("JPY", str(MAX_MINOR_UNITS), MAX_MINOR_UNITS))
def test_every_positive_amount_round_trips_through_its_decimal_string(
    case: tuple[str, str, int],
) -> None:
    currency, text, minor = case
    assert parse_amount(text, currency) == minor
    assert format_amount(parse_amount(text, currency), currency) == text


@given(currencies, minor_units)
def test_formatted_amounts_have_exactly_the_currency_decimals(currency: str, minor: int) -> None:
    text = format_amount(minor, currency)
    whole, _, decimals = text.partition(".")
    assert len(decimals) == PLACES[currency]
    assert whole == "0" or not whole.startswith("0")
    assert Decimal(text) == Decimal(minor).scaleb(-PLACES[currency])


@given(currencies, minor_units)
def test_negative_amounts_format_with_a_leading_minus(currency: str, minor: int) -> None:
    assert format_amount(-minor, currency) == "-" + format_amount(minor, currency)


@given(st.data())
def test_parsing_agrees_with_decimal_arithmetic(data: st.DataObject) -> None:
    currency = data.draw(currencies)
    text = data.draw(amount_texts(currency))
    minor = int(Decimal(text).scaleb(PLACES[currency]))
    if minor == 0:
        refused(text, currency)
    else:
        assert parse_amount(text, currency) == minor


def test_fewer_decimals_than_the_currency_has_are_accepted() -> None:
    assert parse_amount("12", "EUR") == 1200
    assert parse_amount("12.5", "EUR") == 1250
    assert parse_amount("0.5", "KWD") == 500
    assert parse_amount("0.05", "KWD") == 50


# --- what is refused -----------------------------------------------------------------------


@given(
    st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(),
        st.decimals(allow_nan=False, allow_infinity=False),
        st.booleans(),
        st.none(),
        st.binary(min_size=1),
        st.lists(st.text(min_size=1), min_size=1),
    ),
    currencies,
)
@example(12.5, "EUR")
@example(12, "EUR")
@example(True, "JPY")
@example(b"12.50", "EUR")
def test_anything_but_a_string_is_refused(value: object, currency: str) -> None:
    refused(value, currency)


@given(
    valid_amounts(),
    st.sampled_from(["e", "E"]),
    st.sampled_from(["", "+", "-"]),
    st.integers(min_value=0, max_value=30),
)
@example(("EUR", "1", 100), "e", "", 3)
def test_exponents_are_refused(
    case: tuple[str, str, int], letter: str, sign: str, power: int
) -> None:
    currency, text, _ = case
    refused(f"{text}{letter}{sign}{power}", currency)


@given(valid_amounts(), st.sampled_from(["+", "-", "\u2212", "\u2795"]))
def test_signs_are_refused(case: tuple[str, str, int], sign: str) -> None:
    currency, text, _ = case
    refused(sign + text, currency)


@given(valid_amounts(), whitespace, st.sampled_from(["before", "after", "inside"]))
def test_whitespace_anywhere_is_refused(case: tuple[str, str, int], space: str, where: str) -> None:
    currency, text, _ = case
    if where == "before":
        padded = space + text
    elif where == "after":
        padded = text + space
    else:
        padded = text[:1] + space + text[1:]
    refused(padded, currency)


@given(valid_amounts(), st.integers(min_value=1, max_value=20), st.integers(0, 9))
@example(("EUR", "1.00", 100), 1, 1)  # "1.001" for EUR
@example(("JPY", "1", 1), 1, 5)  # "1.5" for JPY
def test_more_decimals_than_the_currency_has_are_refused(
    case: tuple[str, str, int], extra: int, digit: int
) -> None:
    currency, text, _ = case
    # Extra digits (even zeros) beyond the currency's minor unit.
    whole = text.partition(".")[0]
    decimals = text.partition(".")[2] + "0" * (extra - 1) + str(digit)
    error = refused(f"{whole}.{decimals}", currency)
    if PLACES[currency]:
        assert str(PLACES[currency]) in str(error)


@given(currencies, st.integers(min_value=0, max_value=5))
def test_zero_in_any_spelling_is_refused(currency: str, places: int) -> None:
    text = "0" if places == 0 else "0." + "0" * places
    refused(text, currency)


@given(valid_amounts(), st.integers(min_value=1, max_value=3))
@example(("EUR", "1.00", 100), 1)  # "01.00"
def test_leading_zeros_are_refused(case: tuple[str, str, int], zeros: int) -> None:
    currency, text, _ = case
    refused("0" * zeros + text, currency)


@given(currencies, st.integers(min_value=MAX_MINOR_UNITS + 1, max_value=10**40))
@example("EUR", MAX_MINOR_UNITS + 1)
def test_amounts_over_the_maximum_are_refused(currency: str, minor: int) -> None:
    error = refused(format_amount(minor, currency), currency)
    assert "too large" in str(error)


@given(valid_amounts(), foreign_digits)
@example(("JPY", "12", 12), "١")
def test_non_ascii_digits_are_refused(case: tuple[str, str, int], digit: str) -> None:
    currency, text, _ = case
    # Replace every ASCII digit with the foreign digit of the same value.
    zero = ord(digit) - unicodedata.digit(digit)
    foreign = "".join(chr(zero + int(ch)) if ch.isdigit() else ch for ch in text)
    assert foreign != text
    refused(foreign, currency)
    # Even one foreign digit among ASCII ones.
    refused(text + digit, currency)


@pytest.mark.parametrize(
    "text",
    [
        "",
        ".",
        ".50",
        "12.",
        "12,50",
        "1,000.00",
        "1_000",
        "1.2.3",
        "0x10",
        "NaN",
        "nan",
        "Infinity",
        "inf",
        "twelve",
        "12.50 EUR",
        "€12.50",
        "１２.５０",
        "١٢",
    ],
)
def test_malformed_texts_are_refused(text: str) -> None:
    refused(text, "EUR")


@pytest.mark.parametrize("currency", ["XYZ", "eur", "EURO", "", "€", "12"])
def test_unknown_currencies_are_refused(currency: str) -> None:
    with pytest.raises(InvalidInput):
        parse_amount("1.00", currency)
