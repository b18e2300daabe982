"""PINs and serials: what a customer types is checked before it ever counts as a guess."""

import struct

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from shop.vouchers import pins as pins_module
from shop.vouchers.pins import (
    InvalidPin,
    damm_check_digit,
    damm_valid,
    format_pin,
    generate_pin,
    generate_pins,
    make_serial,
    normalise_pin,
    normalise_serial,
    serials,
)

DIGITS = "0123456789"
FULL_WIDTH = str.maketrans(DIGITS, "０１２３４５６７８９")

pin_bodies = st.text(alphabet=DIGITS, min_size=15, max_size=15)
pins = pin_bodies.map(lambda body: body + damm_check_digit(body))
positions = st.integers(min_value=0, max_value=15)


def groups(pin: str) -> list[str]:
    return [pin[i : i + 4] for i in range(0, 16, 4)]


# --- generation -----------------------------------------------------------------------------


def test_every_generated_pin_is_sixteen_digits_with_a_valid_check_digit():
    generated = [generate_pin() for _ in range(5_000)]
    for pin in generated:
        assert len(pin) == 16
        assert pin.isascii() and pin.isdigit()
        assert damm_valid(pin)
        assert normalise_pin(pin) == pin
    assert len(set(generated)) == len(generated)


def test_generated_pins_use_every_digit_in_every_position():
    generated = [generate_pin() for _ in range(2_000)]
    for position in range(15):
        assert {pin[position] for pin in generated} == set(DIGITS), position


def test_pins_drawn_many_at_a_time_are_as_many_as_asked_and_all_valid():
    for count in (0, 1, 7, 5_000):
        drawn = generate_pins(count)
        assert len(drawn) == count
        assert all(len(pin) == 16 and pin.isdigit() and damm_valid(pin) for pin in drawn)
    drawn = generate_pins(20_000)
    assert len(set(drawn)) == len(drawn)
    for position in range(15):
        assert {pin[position] for pin in drawn} == set(DIGITS), position


def feed_draws(monkeypatch, draws: list[int]) -> list[int]:
    """Make ``os.urandom`` in the PIN module return ``draws`` (64-bit) in order; return reads."""
    reads = []
    source = iter(draws)

    def urandom(size):
        reads.append(size)
        return struct.pack(f"<{size // 8}Q", *(next(source) for _ in range(size // 8)))

    monkeypatch.setattr(pins_module.os, "urandom", urandom)
    return reads


def test_draws_that_would_favour_some_pins_are_thrown_away(monkeypatch):
    limit = (2**64 // 10**15) * 10**15  # the largest multiple of 10**15 that fits in 64 bits
    kept = [5, limit - 1, 10**15 + 42]
    thrown = [limit, 2**64 - 1]
    reads = feed_draws(monkeypatch, [thrown[0], kept[0], thrown[1], kept[1], kept[2]] + [1] * 20)

    drawn = generate_pins(3)

    assert [pin[:15] for pin in drawn] == [f"{draw % 10**15:015d}" for draw in kept]
    assert reads == [8 * (3 + 8)]  # one read for the lot, with spare draws


@settings(max_examples=300)
@given(st.lists(st.integers(min_value=0, max_value=10**15 - 1), min_size=1, max_size=30))
def test_the_check_digit_worked_out_three_digits_at_a_time_is_damms(bodies):
    with pytest.MonkeyPatch.context() as monkeypatch:
        feed_draws(monkeypatch, bodies + [0] * 8)
        drawn = generate_pins(len(bodies))
    expected = [f"{body:015d}" for body in bodies]
    assert drawn == [body + damm_check_digit(body) for body in expected]


# --- the check digit catches typing mistakes -----------------------------------------------


@given(pins)
def test_a_pin_built_with_its_check_digit_is_valid(pin):
    assert damm_valid(pin)
    assert normalise_pin(pin) == pin


@given(pins, positions, st.integers(min_value=1, max_value=9))
def test_any_single_mistyped_digit_is_caught(pin, position, shift):
    wrong_digit = str((int(pin[position]) + shift) % 10)
    mistyped = pin[:position] + wrong_digit + pin[position + 1 :]
    assert mistyped != pin
    assert not damm_valid(mistyped)
    with pytest.raises(InvalidPin) as refused:
        normalise_pin(mistyped)
    assert refused.value.problem == "check_digit"


@given(pins, st.integers(min_value=0, max_value=14))
def test_any_swap_of_two_adjacent_different_digits_is_caught(pin, position):
    first, second = pin[position], pin[position + 1]
    assume(first != second)
    swapped = pin[:position] + second + first + pin[position + 2 :]
    assert not damm_valid(swapped)
    with pytest.raises(InvalidPin) as refused:
        normalise_pin(swapped)
    assert refused.value.problem == "check_digit"


def test_every_adjacent_swap_is_caught_for_every_pair_of_digits():
    base = "314159265358979"
    for position in range(14):
        for a in DIGITS:
            for b in DIGITS:
                if a == b:
                    continue
                body = base[:position] + a + b + base[position + 2 :]
                pin = body + damm_check_digit(body)
                swapped = pin[:position] + b + a + pin[position + 2 :]
                assert not damm_valid(swapped), (pin, position)
    for last in DIGITS:  # the last body digit swapped with the check digit
        body = base[:14] + last
        pin = body + damm_check_digit(body)
        if pin[14] != pin[15]:
            assert not damm_valid(pin[:14] + pin[15] + pin[14])


# --- what customers may type ------------------------------------------------------------------


@given(pins)
def test_a_pin_is_accepted_grouped_by_spaces_or_dashes_or_bare(pin):
    assert normalise_pin(pin) == pin
    assert normalise_pin(" ".join(groups(pin))) == pin
    assert normalise_pin("-".join(groups(pin))) == pin
    assert normalise_pin(format_pin(pin)) == pin
    assert normalise_pin(f"  {format_pin(pin)}  ") == pin


@given(pins, positions, st.sampled_from("abcxyzOIlABCDEF"))
def test_a_pin_with_a_letter_is_refused(pin, position, letter):
    typed = pin[:position] + letter + pin[position + 1 :]
    with pytest.raises(InvalidPin) as refused:
        normalise_pin(typed)
    assert refused.value.problem == "format"


@given(pins, positions)
def test_fifteen_digits_are_refused(pin, position):
    with pytest.raises(InvalidPin) as refused:
        normalise_pin(pin[:position] + pin[position + 1 :])
    assert refused.value.problem == "format"


@given(pins, st.integers(min_value=0, max_value=16), st.sampled_from(DIGITS))
def test_seventeen_digits_are_refused(pin, position, extra):
    with pytest.raises(InvalidPin) as refused:
        normalise_pin(pin[:position] + extra + pin[position:])
    assert refused.value.problem == "format"


@given(pins, st.sampled_from([".", "/", "_", ",", "+", ":", "|"]))
def test_other_separators_are_refused(pin, separator):
    with pytest.raises(InvalidPin) as refused:
        normalise_pin(separator.join(groups(pin)))
    assert refused.value.problem == "format"


@given(pins)
def test_full_width_digits_are_refused(pin):
    with pytest.raises(InvalidPin) as refused:
        normalise_pin(pin.translate(FULL_WIDTH))
    assert refused.value.problem == "format"
    with pytest.raises(InvalidPin):
        normalise_pin(format_pin(pin).translate(FULL_WIDTH))


@pytest.mark.parametrize("typed", [None, 1234567890123456, b"1234567890123456", "", "    "])
def test_something_that_is_not_pin_text_is_refused(typed):
    with pytest.raises(InvalidPin) as refused:
        normalise_pin(typed)
    assert refused.value.problem == "format"


# --- serials --------------------------------------------------------------------------------

batch_ids = st.integers(min_value=1, max_value=10**7 - 1)
serial_positions = st.integers(min_value=1, max_value=10**6 - 1)


@given(batch_ids, serial_positions)
def test_a_serial_reads_back_as_itself(batch_id, position):
    serial = make_serial(batch_id, position)
    assert len(serial) == 14 and serial.isdigit()
    assert serial.startswith(f"{batch_id:07d}{position:06d}")
    assert normalise_serial(serial) == serial
    assert normalise_serial(f" {serial[:7]}-{serial[7:]} ") == serial


@given(batch_ids, serial_positions, st.integers(min_value=1, max_value=9))
def test_a_serial_with_a_wrong_luhn_digit_is_refused(batch_id, position, shift):
    serial = make_serial(batch_id, position)
    wrong = serial[:-1] + str((int(serial[-1]) + shift) % 10)
    assert normalise_serial(wrong) is None


@pytest.mark.parametrize("typed", [None, "", "1234", "0000001000001x", "00000010000010" + "1"])
def test_something_that_is_not_a_serial_is_refused(typed):
    assert normalise_serial(typed) is None


@pytest.mark.parametrize("batch_id, position", [(0, 1), (1, 0), (10**7, 1), (1, 10**6)])
def test_a_serial_out_of_range_cannot_be_made(batch_id, position):
    with pytest.raises(ValueError):
        make_serial(batch_id, position)


@settings(max_examples=200, deadline=None)
@given(
    batch_id=st.integers(min_value=1, max_value=10**7 - 1),
    start=st.integers(min_value=1, max_value=10**6 - 40),
    count=st.integers(min_value=0, max_value=40),
)
def test_a_chunk_of_serials_is_exactly_the_serials_of_its_positions(batch_id, start, count):
    chunk = serials(batch_id, start, start + count)

    assert chunk == [make_serial(batch_id, position) for position in range(start, start + count)]
    assert all(normalise_serial(serial) == serial for serial in chunk)  # Luhn-checked


@given(
    batch_id=st.integers(min_value=1, max_value=10**7 - 1),
    position=st.integers(min_value=1, max_value=10**6 - 1),
)
def test_a_serial_in_full_width_digits_is_no_serial(batch_id, position):
    assert normalise_serial(make_serial(batch_id, position).translate(FULL_WIDTH)) is None
