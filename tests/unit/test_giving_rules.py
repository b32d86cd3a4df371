"""The rules of how to give: IBANs (ISO 13616, MOD 97-10), BICs, and the text of the SEPA
payment QR code (EPC069-12), checked against examples published by the banks' registries and
by properties that hold for every IBAN."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import InvalidInput
from ledger.giving_rules import (
    EPC_MAX_BYTES,
    IBAN_LENGTHS,
    BankDetails,
    bank_details,
    check_account_holder,
    check_bic,
    check_how_to_give,
    check_iban,
    epc_payload,
    format_iban,
    iban_check_digits,
    iban_remainder,
)
from tests.support.qr import decode_svg

# Examples of the IBAN registry and national banks, as people write them.
PUBLISHED = [
    "DE89 3704 0044 0532 0130 00",
    "GB82 WEST 1234 5698 7654 32",
    "FR14 2004 1010 0505 0001 3M02 606",
    "NL91 ABNA 0417 1643 00",
    "BE68 5390 0754 7034",
    "ES91 2100 0418 4502 0005 1332",
    "AT61 1904 3002 3457 3201",
    "CH93 0076 2011 6238 5295 7",
    "NO93 8601 1117 947",
    "MT84 MALT 0110 0001 2345 MTLC AST0 01S",
    "LC55 HEMM 0001 0001 0012 0012 0002 3015",
    "BR15 0000 0000 0000 1093 2840 814P 2",
]
GERMAN = "DE89370400440532013000"


@pytest.mark.parametrize("written", PUBLISHED)
def test_published_ibans_pass_and_are_kept_without_spaces(written: str) -> None:
    iban = check_iban(written)
    assert iban == written.replace(" ", "")
    assert format_iban(iban) == written
    assert check_iban(written.lower()) == iban  # people type it in small letters too


@pytest.mark.parametrize(
    ("written", "words"),
    [
        ("", "Enter an IBAN"),
        ("DE89 3704 0044 0532 0130 01", "check digits do not match"),
        ("DE98 3704 0044 0532 0130 00", "check digits do not match"),
        ("DE89 3704 0044 0532 0130", "has 22 characters; this one has 20"),
        ("DE89 3704 0044 0532 0130 0000", "has 22 characters"),
        ("XX89 3704 0044 0532 0130 00", "XX is not a country"),
        ("3704 0044 0532 0130 00", "two letters of its country"),
        ("DE89-3704-0044-0532-0130-00", "two letters of its country"),
        ("DE8937040044053201300€", "two letters of its country"),
    ],
)
def test_a_bad_iban_is_refused_naming_the_field(written: str, words: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_iban(written)
    assert refused.value.field == "iban"
    assert words in str(refused.value)


def test_check_digits_00_01_and_99_are_never_valid() -> None:
    # MOD 97-10 makes them 02 to 98: "01" could pass the remainder where "98" is meant.
    bban = "000000000000000048"  # its remainder with "00" is 0, so both 98 and 01 give 1
    assert iban_check_digits("DE", bban) == "98"
    assert iban_remainder("DE01" + bban) == 1
    with pytest.raises(InvalidInput):
        check_iban("DE01" + bban)
    assert check_iban("DE98" + bban) == "DE98" + bban


countries = st.sampled_from(sorted(IBAN_LENGTHS))
ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@st.composite
def ibans(draw: st.DrawFn, alphabet: str = ALNUM) -> str:
    country = draw(countries)
    length = IBAN_LENGTHS[country] - 4
    bban = draw(st.text(alphabet=alphabet, min_size=length, max_size=length))
    return country + iban_check_digits(country, bban) + bban


@settings(max_examples=300)
@given(ibans())
def test_every_iban_with_its_computed_check_digits_passes(iban: str) -> None:
    assert check_iban(format_iban(iban)) == iban
    assert iban_remainder(iban) == 1


@settings(max_examples=300)
@given(ibans(alphabet="0123456789"), st.data())
def test_any_one_mistyped_digit_is_caught(iban: str, data: st.DataObject) -> None:
    position = data.draw(st.integers(min_value=4, max_value=len(iban) - 1))
    typed = data.draw(st.sampled_from([d for d in "0123456789" if d != iban[position]]))
    mistyped = iban[:position] + typed + iban[position + 1 :]
    with pytest.raises(InvalidInput):
        check_iban(mistyped)


@settings(max_examples=300)
@given(ibans(alphabet="0123456789"), st.data())
def test_any_two_neighbouring_digits_swapped_are_caught(iban: str, data: st.DataObject) -> None:
    position = data.draw(st.integers(min_value=4, max_value=len(iban) - 2))
    a, b = iban[position], iban[position + 1]
    if a == b:
        return
    swapped = iban[:position] + b + a + iban[position + 2 :]
    with pytest.raises(InvalidInput):
        check_iban(swapped)


@settings(max_examples=300)
@given(ibans(), st.integers(min_value=1, max_value=4))
def test_an_iban_of_another_length_than_its_countrys_is_refused(iban: str, cut: int) -> None:
    with pytest.raises(InvalidInput, match="characters"):
        check_iban(iban[:-cut])


def test_bics_of_8_and_11_characters() -> None:
    assert check_bic("cobadeff") == "COBADEFF"
    assert check_bic("COBA DE FF XXX") == "COBADEFFXXX"
    for bad in ("COBADE", "COBADEFFX", "1OBADEFF", "COBA12FF", "COBADEFF-XX"):
        with pytest.raises(InvalidInput) as refused:
            check_bic(bad)
        assert refused.value.field == "bic"


def test_bank_details_need_an_iban_for_a_bic_or_a_name() -> None:
    assert bank_details(None, None, None) is None
    assert bank_details("", "", "  ") is None
    for bic, holder in (("COBADEFFXXX", ""), ("", "Rent Fund")):
        with pytest.raises(InvalidInput) as refused:
            bank_details("", bic, holder)
        assert refused.value.field == "iban"
    assert bank_details(GERMAN, "cobadeffxxx", " Rent   Fund ") == BankDetails(
        GERMAN, "COBADEFFXXX", "Rent Fund"
    )


def test_texts_keep_their_limits_and_refuse_control_characters() -> None:
    assert check_how_to_give("  Cash\r\nat meetings \n") == "Cash\nat meetings"
    with pytest.raises(InvalidInput, match="5000"):
        check_how_to_give("x" * 5001)
    with pytest.raises(InvalidInput) as refused:
        check_how_to_give("Cash\x07")
    assert refused.value.field == "how_to_give"
    assert check_account_holder("x" * 70) == "x" * 70
    with pytest.raises(InvalidInput) as refused:
        check_account_holder("x" * 71)
    assert refused.value.field == "account_holder"


# --- the EPC payment code ----------------------------------------------------------------


def test_the_payment_code_text_follows_epc069_12_line_by_line() -> None:
    details = BankDetails(GERMAN, "COBADEFFXXX", "Rent Fund e.V.")
    payload = epc_payload(
        details, beneficiary="Rent Fund", currency="EUR", amount=1250, text="Donation"
    )
    assert payload == (
        "BCD\n"  # service tag
        "002\n"  # version (the BIC is optional)
        "1\n"  # character set: UTF-8
        "SCT\n"  # SEPA credit transfer
        "COBADEFFXXX\n"
        "Rent Fund e.V.\n"
        "DE89370400440532013000\n"
        "EUR12.50\n"
        "\n"  # purpose: none
        "\n"  # structured reference: none
        "Donation"
    )


def test_without_amount_and_text_the_trailing_lines_are_left_out() -> None:
    details = BankDetails(GERMAN)
    payload = epc_payload(details, beneficiary="Rent Fund", currency="EUR")
    assert payload == "BCD\n002\n1\nSCT\n\nRent Fund\nDE89370400440532013000"


def test_no_payment_code_outside_euros_or_sepa() -> None:
    assert epc_payload(BankDetails(GERMAN), beneficiary="X", currency="GBP") is None
    brazil = check_iban("BR15 0000 0000 0000 1093 2840 814P 2")
    assert epc_payload(BankDetails(brazil), beneficiary="X", currency="EUR") is None
    # British IBANs are in the SEPA area (paid in euros there).
    british = check_iban("GB82 WEST 1234 5698 7654 32")
    assert epc_payload(BankDetails(british), beneficiary="X", currency="EUR") is not None


@pytest.mark.parametrize("amount", [0, -1, 100_000_000_000])
def test_amounts_outside_the_codes_range_are_refused(amount: int) -> None:
    with pytest.raises(InvalidInput) as refused:
        epc_payload(BankDetails(GERMAN), beneficiary="X", currency="EUR", amount=amount)
    assert refused.value.field == "amount"


def test_the_largest_amount_is_written_with_two_decimals() -> None:
    payload = epc_payload(
        BankDetails(GERMAN), beneficiary="X", currency="EUR", amount=99_999_999_999
    )
    assert payload is not None
    assert payload.split("\n")[7] == "EUR999999999.99"


@settings(max_examples=200)
@given(
    name=st.text(min_size=1, max_size=200).filter(lambda s: s.strip()),
    text=st.text(max_size=400),
    amount=st.none() | st.integers(min_value=1, max_value=99_999_999_999),
)
def test_every_payment_code_fits_the_epc_limits(name: str, text: str, amount: int | None) -> None:
    payload = epc_payload(
        BankDetails(GERMAN), beneficiary=name, currency="EUR", amount=amount, text=text
    )
    assert payload is not None
    lines = payload.split("\n")
    assert lines[:4] == ["BCD", "002", "1", "SCT"]
    assert lines[6] == GERMAN
    assert len(payload.encode("utf-8")) <= EPC_MAX_BYTES
    assert 1 <= len(lines[5]) <= 70
    assert len(lines) <= 11
    if len(lines) == 11:
        assert 1 <= len(lines[10]) <= 140


def test_the_page_code_decodes_to_the_payload_even_with_letters_beyond_latin() -> None:
    from app.web.giving import payment_qr  # the pages' renderer (segno)

    payload = epc_payload(
        BankDetails(GERMAN, "", "Ärztinnen für Ünïcødé 日本"),
        beneficiary="X",
        currency="EUR",
        amount=500,
        text="Spende für die Küche",
    )
    assert payload is not None
    assert decode_svg(str(payment_qr(payload))) == payload
