# The record codec (lib/blynklog/record.py): round trips of every value type and edge values,
# the sizes the format promises, and rejection of wrong values and damaged bytes.
import struct

import exactnum
from blynklog import record
from support import raises

T0 = 1702656423136
BASE = 1702656400000


def _rt(value, ts=T0, flags=0, decimals=None, base=BASE, off=5):
    buf = bytearray(record.MAX_RECORD + 16)
    n = record.encode_into(buf, off, 42, ts, value, flags, decimals, base)
    d = record.decode(buf, off, base)
    assert d is not None and d[0] == n and d[1] == 42 and d[2] == ts and d[3] == flags
    return d[4], n


def _same(value):
    got, n = _rt(value)
    assert got == value and type(got) is type(value), (got, value)
    return n


def test_bools_round_trip():
    assert _same(True) and _same(False)


def test_ints_round_trip_at_zero_signs_and_32_and_64_bit_limits():
    for v in (0, 1, -1, 63, -64, 64, 2147483647, -2147483648, 2147483648, -2147483649, 2**63 - 1, -(2**63)):
        _same(v)


def test_ints_beyond_64_bits_are_refused():
    buf = bytearray(64)
    raises(ValueError, record.encode_into, buf, 0, 0, T0, 2**63)
    raises(ValueError, record.encode_into, buf, 0, 0, T0, -(2**63) - 1)


def _f32(word):
    return struct.unpack("<f", struct.pack("<I", word))[0]


def _f64(lo, hi):
    return struct.unpack("<d", struct.pack("<II", lo, hi))[0]


# The extremes of this runtime's floats, made from their bits: the largest, the smallest normal and
# the smallest subnormal (float32 on a board-like port, where 1e300 is inf and 1e-300 is 0)
if exactnum.BITS == 24:
    _EXTREMES = (_f32(0x7F7FFFFF), -_f32(0x7F7FFFFF), _f32(0x00800000), _f32(0x00000001), -_f32(0x00000001))
else:
    _EXTREMES = (
        _f64(0xFFFFFFFF, 0x7FEFFFFF),
        -_f64(0xFFFFFFFF, 0x7FEFFFFF),
        _f64(0, 0x00100000),
        _f64(1, 0),
        -_f64(1, 0),
        1e300,
        1e-300,
    )


def test_floats_round_trip_exactly_without_decimals():
    for v in (0.0, -0.0, 1.5, -2.25, 0.1, 1 / 3, _f32(0x7F7FFFFF), _f32(0x00800000), _f32(1), 123456.789) + _EXTREMES:
        got, n = _rt(v)
        assert type(got) is float and exactnum.same(got, v), (got, v)


def test_a_float_that_survives_float32_takes_4_bytes_and_others_8():
    short = _same(21.5)
    long = _same(21.53)
    assert long - short == 4


def test_a_float_with_decimals_is_stored_scaled_and_reads_back_as_mantissa_over_ten_power():
    got, n = _rt(21.537, decimals=2)
    assert got == 2154 / 100 and type(got) is float
    got, _ = _rt(-0.5, decimals=0)
    assert got == 0.0 or got == -1.0
    got, _ = _rt(1.234567, decimals=6)
    assert got == 1234567 / 10**6


def test_decimals_out_of_range_are_refused():
    buf = bytearray(64)
    raises(ValueError, record.encode_into, buf, 0, 0, T0, 1.5, 0, 7)
    raises(ValueError, record.encode_into, buf, 0, 0, T0, 1.5, 0, -1)


def test_nan_and_infinity_are_refused():
    buf = bytearray(64)
    for v in (float("nan"), float("inf"), float("-inf")):
        raises(ValueError, record.encode_into, buf, 0, 0, T0, v)
        raises(ValueError, record.encode_into, buf, 0, 0, T0, v, 0, 2)


def test_strings_round_trip_including_unicode_and_empty():
    for v in ("", "a", "z\u00fcrich", "\u2603 snow", "\U0001f600", "line\nbreak"):
        _same(v)


def test_the_longest_string_of_1024_utf8_bytes_round_trips():
    _same("x" * 1024)
    _same("\u20ac" * 341 + "x")


def test_a_string_over_1024_utf8_bytes_is_refused():
    buf = bytearray(record.MAX_RECORD + 16)
    raises(ValueError, record.encode_into, buf, 0, 0, T0, "x" * 1025)
    raises(ValueError, record.encode_into, buf, 0, 0, T0, "\u20ac" * 342)


def test_a_location_pair_round_trips():
    got, n = _rt((13.5, 52.25))
    assert tuple(got) == (13.5, 52.25) and n <= 20
    got, _ = _rt([13.404954, 52.520008])
    assert tuple(got) == (13.404954, 52.520008)


def test_a_location_out_of_range_is_refused():
    buf = bytearray(64)
    raises(ValueError, record.encode_into, buf, 0, 0, T0, (181.0, 0.0))
    raises(ValueError, record.encode_into, buf, 0, 0, T0, (0.0, -91.0))


def test_values_of_other_types_are_refused_with_type_error():
    buf = bytearray(64)
    for v in (None, b"bytes", bytearray(2), {"a": 1}, (1.0,), (1.0, 2.0, 3.0), ("a", 1.0)):
        raises(TypeError, record.encode_into, buf, 0, 0, T0, v)


def test_a_ts_that_is_not_an_int_is_refused_with_type_error():
    buf = bytearray(64)
    for ts in (1.5, "1", None, True):
        raises(TypeError, record.encode_into, buf, 0, 0, ts, 1)


def test_a_ts_out_of_range_is_refused():
    buf = bytearray(64)
    raises(ValueError, record.encode_into, buf, 0, 0, -1, 1)
    raises(ValueError, record.encode_into, buf, 0, 0, 1 << 56, 1)


def test_bad_stream_ids_and_flags_are_refused():
    buf = bytearray(64)
    raises(ValueError, record.encode_into, buf, 0, 255, T0, 1)
    raises(ValueError, record.encode_into, buf, 0, -1, T0, 1)
    raises(ValueError, record.encode_into, buf, 0, 0, T0, 1, 4)


def test_timestamps_before_the_base_and_far_from_it_round_trip():
    for ts in (BASE - 1, BASE - 10**9, 0, (1 << 56) - 1, (3 << 40) | 1234, BASE):
        got, n = _rt(7, ts=ts)
        assert got == 7


def test_flags_are_stored_verbatim():
    for f in range(4):
        _rt(1, flags=f)


def test_a_numeric_sample_within_an_hour_of_its_base_takes_at_most_16_bytes():
    base = T0
    ts = T0 + 3600 * 1000
    for v, dec in ((21.5, None), (-12345, None), (21.53, 2), (True, None), (2147483647, None)):
        _, n = _rt(v, ts=ts, decimals=dec, base=base)
        assert n <= 16, (v, n)


def test_every_single_byte_change_is_detected():
    buf = bytearray(64)
    n = record.encode_into(buf, 0, 3, T0, 21.53, 1, 2, BASE)
    for i in range(n):
        for bit in (1, 0x80):
            buf[i] ^= bit
            assert record.check(buf, 0, n) == 0, (i, bit)
            buf[i] ^= bit
    assert record.check(buf, 0, n) == n


def test_a_record_cut_short_is_not_valid():
    buf = bytearray(64)
    n = record.encode_into(buf, 0, 3, T0, 12345, 0, None, BASE)
    for end in range(n):
        assert record.check(buf, 0, end) == 0
    assert record.decode(buf, 0, BASE, n - 1) is None


def test_erased_and_zeroed_flash_is_never_a_record():
    assert record.check(bytearray(b"\xff" * 64), 0, 64) == 0
    assert record.check(bytearray(64), 0, 64) == 0


def test_records_decode_on_their_own_at_any_offset():
    buf = bytearray(200)
    offs = []
    off = 0
    for i in range(5):
        offs.append(off)
        off += record.encode_into(buf, off, i, BASE + i * 1000, i * 10, 0, None, BASE)
    for i in (3, 0, 4):
        d = record.decode(buf, offs[i], BASE)
        assert d[1] == i and d[2] == BASE + i * 1000 and d[4] == i * 10
    assert record.sid_of(buf, offs[2]) == 2
