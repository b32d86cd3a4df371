"""The rules that keep a person's details out of public text, and the sealing of them."""

from __future__ import annotations

import pytest
from cryptography.exceptions import InvalidTag

from ledger.errors import InvalidInput
from proposals.privacy import (
    Details,
    PersonalWords,
    fold,
    new_key,
    refuse_personal_data,
    seal,
    unseal,
)

YOLANDA = Details(
    need="Food",
    name="Yolanda Hernández-O'Brien",
    phone="+34 611 222 333",
    email="yolanda.hidden_x@example.net",
)


def test_folding_ignores_case_and_accents() -> None:
    assert fold("HERNÁNDEZ") == fold("hernandez") == "hernandez"
    assert fold("Straße") == "strasse"
    assert fold("ＹＯＬＡＮＤＡ") == "yolanda"  # full-width letters too (NFKD)


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("Food for Yolanda H.", "yolanda"),
        ("food for YOLANDA", "yolanda"),
        ("The Hernandez family", "hernandez"),
        ("the Hernándezes", "hernandez"),  # name parts of 5+ letters as word starts too
        ("write to yolanda.hidden at example.net", "yolanda"),
        ("ask hidden about it", "hidden"),
        ("yolanda.hidden_x@example.net", "yolanda.hidden_x"),
        ("Call 611-222 first", "6112"),
        ("call 6 1 1 2 2 2", "6112"),
        ("ends in 2333", "2333"),
        ("(34) 611", "3461"),
        ("O'Brien", "brien"),
    ],
)
def test_any_part_of_the_persons_details_is_found(text: str, word: str) -> None:
    found = PersonalWords.of(YOLANDA).found_in(text)
    assert found == word


@pytest.mark.parametrize(
    "text",
    [
        "Two months of rent after a job loss.",
        "Pay 300.00 by the 12th",  # digits that are not four of the phone's in a row
        "Yoland",  # a shorter word is not the name
        "call 611 and then 222",  # letters between the digits: two runs of three
        "obrien",  # "o" is too short to count, "brien" is not a word here
    ],
)
def test_text_without_the_persons_details_is_accepted(text: str) -> None:
    assert PersonalWords.of(YOLANDA).found_in(text) is None


def test_short_name_parts_count_only_as_whole_words() -> None:
    ana = Details(need="Rent", name="Ana Li", phone="", email="")
    assert PersonalWords.of(ana).found_in("bananas for the fridge") is None
    assert PersonalWords.of(ana).found_in("rent for ana") == "ana"


def test_the_refusal_names_the_field_and_the_word() -> None:
    with pytest.raises(InvalidInput) as refused:
        refuse_personal_data(YOLANDA, {"title": "Rent support", "body": "for Yolanda H."})
    assert refused.value.field == "body"
    assert "“yolanda”" in str(refused.value)
    assert "611" not in str(refused.value)  # the rest of the details are not repeated
    refuse_personal_data(None, {"title": "Yolanda"})  # erased: nothing left to compare


def test_a_sealed_value_opens_only_with_its_key_its_request_and_its_purpose() -> None:
    key = new_key()
    sealed = seal(key, 7, "details", YOLANDA.to_bytes())
    assert b"Yolanda" not in sealed
    assert Details.from_bytes(unseal(key, 7, "details", sealed)) == YOLANDA
    assert seal(key, 7, "details", b"x") != seal(key, 7, "details", b"x")  # a fresh nonce
    for wrong_key, request_id, purpose in (
        (new_key(), 7, "details"),
        (key, 8, "details"),
        (key, 7, "note"),
    ):
        with pytest.raises(InvalidTag):
            unseal(wrong_key, request_id, purpose, sealed)
