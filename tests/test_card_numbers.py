"""Card numbers: ICCIDs with a Luhn check digit, and E.164 phone numbers."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shop.cards.numbers import (
    InvalidCardNumber,
    card_number_kind,
    luhn_check_digit,
    luhn_checksum_ok,
    normalise_card_number,
)

#: A real-world shaped 19-digit ICCID (89 = telecom, 44 = UK) with a valid Luhn digit.
ICCID_19 = "8944000000000000027"


def with_check_digit(partial: str) -> str:
    return partial + luhn_check_digit(partial)


def problem_of(text) -> str:
    with pytest.raises(InvalidCardNumber) as caught:
        normalise_card_number(text)
    return caught.value.problem


@pytest.mark.parametrize("length", [18, 19, 20, 21, 22])
def test_iccid_of_18_to_22_digits_with_valid_check_digit_is_accepted(length):
    number = with_check_digit("89" + "1" * (length - 3))
    assert len(number) == length

    assert normalise_card_number(number) == number
    assert card_number_kind(number) == "iccid"


@pytest.mark.parametrize(
    "typed",
    [
        "8944 0000 0000 0000 027",
        "8944-0000-0000-0000-027",
        " 8944000000000000027 ",
        "8944.0000.0000.0000.027",
        "(8944) 0000-0000 0000 027",
    ],
)
def test_iccid_typed_with_spaces_or_dashes_is_normalised_to_its_digits(typed):
    assert normalise_card_number(typed) == ICCID_19


def test_iccid_with_wrong_check_digit_is_refused():
    wrong = ICCID_19[:-1] + "8"

    assert problem_of(wrong) == "iccid_check_digit"


def test_iccid_with_two_adjacent_digits_swapped_is_refused():
    number = with_check_digit("894400000000001234")
    swapped = number[:-4] + number[-3] + number[-4] + number[-2:]
    assert swapped != number

    assert problem_of(swapped) == "iccid_check_digit"


@pytest.mark.parametrize("length", [1, 10, 16, 17, 23, 30])
def test_iccid_of_wrong_length_is_refused_even_with_valid_check_digit(length):
    number = with_check_digit("8" * (length - 1))

    assert problem_of(number) == "iccid_length"


@pytest.mark.parametrize(
    "text",
    [
        "89440000000000000A7",
        "ICCID8944000000000000027",
        "89440000000000000２7",
        "٨٩٤٤٠٠٠٠٠٠٠٠٠٠٠٠٠٢٧",
    ],
)
def test_iccid_with_letters_or_non_ascii_digits_is_refused(text):
    assert problem_of(text) == "characters"


@pytest.mark.parametrize("text", ["", "   ", "--"])
def test_empty_card_number_is_refused(text):
    with pytest.raises(InvalidCardNumber):
        normalise_card_number(text)


def test_card_number_that_is_not_text_is_refused():
    assert problem_of(8944000000000000027) == "not_text"
    assert problem_of(None) == "not_text"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("+66812345678", "+66812345678"),
        ("+66 81 234 5678", "+66812345678"),
        ("+66-81-234-5678", "+66812345678"),
        ("+1 (415) 555-0100", "+14155550100"),
        ("+12345678", "+12345678"),
        ("+123456789012345", "+123456789012345"),
    ],
)
def test_e164_phone_number_is_accepted(typed, expected):
    assert normalise_card_number(typed) == expected
    assert card_number_kind(expected) == "phone"


@pytest.mark.parametrize(
    "text",
    [
        "+066812345678",  # country codes never start with 0
        "+0812345678",
        "+1234567",  # 7 digits: too short
        "+1234567890123456",  # 16 digits: too long
        "+",
        "+66 81 234 567A",
        "++66812345678",
        "66+812345678",
    ],
)
def test_malformed_phone_number_is_refused(text):
    with pytest.raises(InvalidCardNumber):
        normalise_card_number(text)


def test_phone_problems_are_reported_as_phone_format():
    assert problem_of("+0812345678") == "phone_format"
    assert problem_of("+1234567") == "phone_format"
    assert problem_of("+1234567890123456") == "phone_format"


def test_problem_message_is_readable():
    with pytest.raises(InvalidCardNumber) as caught:
        normalise_card_number(ICCID_19[:-1] + "8")

    assert "check digit" in str(caught.value)


@given(st.text(alphabet="0123456789", min_size=17, max_size=21))
def test_appending_the_luhn_digit_makes_a_valid_iccid_and_any_single_typo_breaks_it(partial):
    number = partial + luhn_check_digit(partial)

    assert luhn_checksum_ok(number)
    assert normalise_card_number(number) == number
    for position, original in enumerate(number):
        for typo in "0123456789".replace(original, ""):
            mistyped = number[:position] + typo + number[position + 1 :]
            assert not luhn_checksum_ok(mistyped), mistyped
            with pytest.raises(InvalidCardNumber) as caught:
                normalise_card_number(mistyped)
            assert caught.value.problem == "iccid_check_digit"
