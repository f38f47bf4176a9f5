# The port differences: epoch offset, wrapping ticks, Unix milliseconds.
import time

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
    # (value, decimals, CPython's round(value, decimals) * 10**decimals)
    cases = [(-0.005, 2, -1), (2.5, 0, 2), (-2.5, 0, -2), (3.5, 0, 4), (1000000.125, 2, 100000012),
             (2404.05, 1, 24041), (3388.8500000000004, 1, 33889), (21.455, 2, 2145), (0.125, 2, 12),
             (1.005, 2, 100), (123456.789, 2, 12345679), (0.0, 3, 0), (-0.0, 2, 0), (7.0, 0, 7),
             (1e20, 2, 10 ** 22)]
    for value, decimals, expected in cases:
        assert compat.round_scaled(value, decimals) == expected, (value, decimals)
