# The batch encoder: exact compact bodies for both APIs, exact lengths, bounded chunks.
import json
import struct
import sys

import exactnum
from blynklog import encoder
from blynklog.body import body_chunks, body_length
from support import IS_MICROPYTHON, raises, skip

TS = 1702656423136


def body(api, target, pts, decimals=None, chunk_size=512):
    def points():
        return iter(pts)

    data = b"".join(bytes(c) for c in body_chunks(api, target, points, decimals, chunk_size))
    assert len(data) == body_length(api, target, points, decimals)
    return data


def test_platform_body_is_the_documented_compact_form():
    data = body("platform", (1, 1), [(TS, 5), (1702656428136, 2)])
    assert (
        data
        == b'{"deviceId":1,"dataStreamId":1,"values":[{"value":5,"ts":1702656423136},{"value":2,"ts":1702656428136}]}'
    )


def test_device_body_is_a_list_of_ts_value_pairs():
    assert body("device", None, [(TS, 5), (TS + 1, 2.5)]) == b"[[1702656423136,5],[1702656423137,2.5]]"


def test_an_empty_batch_is_still_valid_json():
    assert body("device", None, []) == b"[]"
    assert json.loads(body("platform", (3, 4), [])) == {"deviceId": 3, "dataStreamId": 4, "values": []}


def test_floats_are_rounded_to_decimals_without_trailing_zeros():
    pts = [(TS, 21.456), (TS + 1, 21.5), (TS + 2, 21.0), (TS + 3, 0.05), (TS + 4, -3.14159), (TS + 5, -0.001)]
    assert body("device", None, pts, 2) == (
        b"[[1702656423136,21.46],[1702656423137,21.5],[1702656423138,21],"
        b"[1702656423139,0.05],[1702656423140,-3.14],[1702656423141,0]]"
    )


def test_floats_without_decimals_use_the_shortest_form_that_reads_back_equal():
    pts = [(TS, 0.1), (TS + 1, 21.0), (TS + 2, 1e22), (TS + 3, -2.5e-7)]
    data = body("device", None, pts)
    assert b",21]" in data and b"0.1]" in data
    assert [p[1] for p in json.loads(data)] == [0.1, 21.0, 1e22, -2.5e-7]


def test_ints_bools_strings_and_locations_keep_their_json_kinds():
    pts = [(TS, -42), (TS + 1, True), (TS + 2, False), (TS + 3, "ok"), (TS + 4, (13.405, 52.52))]
    assert body("device", None, pts, 3) == (
        b'[[1702656423136,-42],[1702656423137,true],[1702656423138,false],[1702656423139,"ok"],'
        b"[1702656423140,[13.405,52.52]]]"
    )


def test_strings_are_escaped_and_read_back_equal():
    s = 'q"b\\s/\n\r\t\x00\x1f\u00e9\u20ac end'
    data = body("platform", (1, 2), [(TS, s)])
    assert json.loads(data)["values"][0]["value"] == s
    assert b" " not in data.replace(b" end", b"")


def test_a_string_longer_than_the_chunk_buffer_is_split_across_chunks():
    s = "\x01ab\"" * 300
    data = body("device", None, [(TS, s), (TS + 1, "z")], chunk_size=200)
    assert json.loads(data) == [[TS, s], [TS + 1, "z"]]


def test_body_has_no_whitespace_and_round_trips_through_json():
    pts = [(TS + i, i * 0.37) for i in range(500)]
    data = body("platform", (9, 8), pts, 2)
    assert b" " not in data and b"\n" not in data
    values = json.loads(data)["values"]
    assert len(values) == 500
    assert values[123] == {"value": 45.51, "ts": TS + 123}


def test_chunks_never_exceed_the_buffer_size():
    def points():
        return ((TS + i, i) for i in range(300))

    sizes = [len(c) for c in body_chunks("device", None, points, None, 256)]
    assert max(sizes) <= 256 and len(sizes) > 10


def test_body_length_equals_the_bytes_produced_for_every_kind():
    pts = [(TS, 1.5), (TS + 1, "é\n"), (TS + 2, (1, 2)), (TS + 3, 7), (TS + 4, True)]
    for api, target in (("platform", (1, 5)), ("device", None)):
        for decimals in (None, 0, 1, 4):
            body(api, target, pts, decimals)


def test_point_size_is_what_each_point_adds_with_its_comma():
    for api, target in (("platform", (12, 3)), ("device", None)):
        pts = [(TS, 2.25), (TS + 1, "hello"), (TS + 2, 100000)]
        total = encoder.overhead(api, target) - 1
        for ts, v in pts:
            total += encoder.point_size(api, ts, v, 1)
        assert total == len(body(api, target, pts, 1))


def test_nan_and_infinity_are_refused():
    inf = float("inf")
    for bad in (inf, -inf, inf - inf):
        raises(ValueError, encoder.point_size, "device", TS, bad, 2)
        raises(ValueError, body, "device", None, [(TS, bad)])


def test_unsupported_values_and_non_int_timestamps_are_refused():
    raises(TypeError, encoder.point_size, "device", TS, None, None)
    raises(TypeError, encoder.point_size, "device", TS, {"a": 1}, None)
    raises(TypeError, encoder.point_size, "device", 1.5, 1, None)
    raises(ValueError, encoder.point_size, "mqtt", TS, 1, None)


def test_body_length_refuses_a_body_over_the_api_limit():
    def points():
        return ((TS + i, 1) for i in range(100))

    n = body_length("device", None, points, None)
    assert body_length("device", None, points, None, max_bytes=n) == n
    raises(ValueError, body_length, "device", None, points, None, n - 1)


def test_default_limits_are_two_megabytes_for_the_device_api_and_less_for_platform():
    assert encoder.limit("device") == 2000000
    assert encoder.limit("platform") <= 2000000


def test_body_length_needs_two_passes_but_never_a_list():
    calls = []

    def points():
        calls.append(1)
        return ((TS + i, i) for i in range(10))

    n = body_length("device", None, points, None)
    data = b"".join(bytes(c) for c in body_chunks("device", None, points, None))
    assert n == len(data) and len(calls) == 2


def test_the_per_point_step_does_not_allocate_for_int_values():
    if not IS_MICROPYTHON or sys.maxsize < 2**40:
        skip("needs the 64-bit unix port (small-int timestamps) for heap_lock")
    import micropython

    encoder.point_size("platform", TS, 12345, None)
    micropython.heap_lock()
    try:
        for i in range(100):
            encoder.point_size("platform", TS + i, i, None)
            encoder.point_size("device", TS + i, True, None)
    finally:
        micropython.heap_unlock()


def _point_text(v, decimals):
    data = body("device", None, [(TS, v)], decimals)
    return data[len(b"[[1702656423136,") : -2].decode()


def test_floats_without_decimals_are_the_shortest_text_that_reads_back_even_where_repr_is_not():
    # MicroPython's repr gives 0.07000000000000001 and 4.940656458412465e-324 (doubles); on float32
    # ports 198078.24 for 198078.25 and 35024670 for 35024672. Expected: computed from the bits
    # of the value this runtime holds (exactnum), laid out as CPython's repr.
    words = (0x4841637C, 0x4C059A48, 0x3D8F5C29, 0x00000001, 0x7F7FFFFF, 0x3DCCCCCD, 0xB4862CB2)
    values = [struct.unpack("<f", struct.pack("<I", w))[0] for w in words] + [0.07, 5e-324, 1e22, 1e16, 123456.789]
    for v in values:
        if v == 0 or v - v != 0:
            continue  # 5e-324 is 0 on float32
        assert _point_text(v, None) == exactnum.repr_text(v), (v, _point_text(v, None))
    if not IS_MICROPYTHON:
        for v in values:
            text = repr(v)
            assert _point_text(v, None) == (text[:-2] if text.endswith(".0") else text), v


def test_a_float_past_two_to_the_59_with_decimals_is_its_integer_digits_without_a_point():
    # every float from 2**59 up is an integer: its shortest digits, and an exponent, never a '.'
    big = struct.unpack("<f", struct.pack("<I", 0x5F800000))[0]  # 2**64, on every runtime
    assert _point_text(big, 2) == ("18446744073709552e3" if exactnum.BITS == 53 else "18446744e12")
    assert _point_text(-big, 0) == "-" + _point_text(big, 0)
