# The port differences: epoch offset, wrapping ticks, Unix milliseconds.
import struct
import time

import exactnum
from blynklog import compat


def test_epoch_offset_is_zero_for_a_port_counting_from_1970():
    assert compat.epoch_offset_s((1970, 1, 1, 0, 0, 0, 3, 1)) == 0


def test_epoch_offset_is_946684800_for_a_port_counting_from_2000():
    assert compat.epoch_offset_s((2000, 1, 1, 0, 0, 0, 5, 1)) == 946684800


def test_epoch_offset_of_this_runtime_matches_its_gmtime0():
    assert compat.EPOCH_OFFSET_S == compat.epoch_offset_s(time.gmtime(0))


def test_days_from_civil_known_dates():
    assert compat.days_from_civil(1970, 1, 1) == 0
    assert compat.days_from_civil(2000, 1, 1) == 10957
    assert compat.days_from_civil(2023, 12, 15) == 19706
    assert compat.days_from_civil(2024, 2, 29) + 1 == compat.days_from_civil(2024, 3, 1)


def test_unix_ms_is_after_2024_and_in_milliseconds():
    ms = compat.unix_ms()
    assert 1704067200000 < ms < 4102444800000


def test_unix_ms_agrees_with_time_time():
    a = compat.unix_ms() // 1000
    b = time.time() + compat.EPOCH_OFFSET_S
    assert abs(a - b) <= 2


def test_ticks_diff_across_wrap_around():
    start = compat.ticks_add(0, -5)  # five ms before the counter wraps
    end = compat.ticks_add(start, 20)
    assert compat.ticks_diff(end, start) == 20
    assert compat.ticks_diff(start, end) == -20


def test_ticks_add_negative_delta_round_trips():
    t = compat.ticks_ms()
    assert compat.ticks_diff(compat.ticks_add(t, -1000), t) == -1000


def test_const_returns_its_value():
    assert compat.const(7) == 7


def test_utc_day_of_a_known_time():
    assert compat.utc_day(1702656423136) == 19706


def test_round_scaled_rounds_the_exact_value_half_to_even_like_cpythons_round():
    # (value, decimals, CPython's round(value, decimals) * 10**decimals). That holds for the double
    # the literal stands for; a float32 port holds another value (-0.005 is -0.0049999998882...),
    # so there the expectation is the same rounding of the value it holds, computed in ints from
    # its bits (exactnum), and checked against the table wherever the double is held.
    cases = [
        (-0.005, 2, -1),
        (2.5, 0, 2),
        (-2.5, 0, -2),
        (3.5, 0, 4),
        (1000000.125, 2, 100000012),
        (2404.05, 1, 24041),
        (3388.8500000000004, 1, 33889),
        (21.455, 2, 2145),
        (0.125, 2, 12),
        (1.005, 2, 100),
        (123456.789, 2, 12345679),
        (0.0, 3, 0),
        (-0.0, 2, 0),
        (7.0, 0, 7),
        (1e20, 2, 10**22),
    ]
    for value, decimals, expected in cases:
        if exactnum.BITS == 53:
            assert exactnum.round_dec(value, decimals) == expected, (value, decimals)
        else:
            expected = exactnum.round_dec(value, decimals)
        assert compat.round_scaled(value, decimals) == expected, (value, decimals)


def test_round_scaled_of_float32_values_rounds_the_value_held():
    # float32 values made from their bits (no literal parsing), exact on every runtime: -0.005 as
    # float32 is -0.00499999988824129 (2 decimals: 0, not -1); 0.125 and 2.5 are exact ties
    cases = [
        (0xBBA3D70A, 2, 0),
        (0xBBA3D70A, 3, -5),
        (0x3E000000, 2, 12),
        (0x40200000, 0, 2),
        (0x40600000, 0, 4),
        (0x49742402, 2, 100000012),
        (0x4B800001, 0, 16777218),
        (0x00000001, 6, 0),
        (0x7F7FFFFF, 0, 340282346638528859811704183484516925440),
    ]
    for word, decimals, expected in cases:
        value = struct.unpack("<f", struct.pack("<I", word))[0]
        assert compat.round_scaled(value, decimals) == expected, (hex(word), decimals)


def test_scaled_float_is_the_scaled_int_over_ten_power_rounded_once():
    # 2**53 + 1 (and 2**24 + 1) cannot be converted to float first without a rounding
    for m, d in (
        (7, 2),
        (-1, 2),
        (2154, 2),
        ((1 << 53) + 1, 0),
        ((1 << 53) + 1, 6),
        (-(1 << 62) - 1, 3),
        ((1 << 24) + 1, 0),
        ((1 << 24) + 3, 1),
        (39528252, 2),
        (-92637554, 2),
        ((1 << 63) - 1, 6),
    ):
        want = exactnum.nearest(abs(m), 10**d, m < 0)
        assert exactnum.same(compat.scaled_float(m, d), want), (m, d)
