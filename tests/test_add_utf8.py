# Strings must be UTF-8: a lone surrogate (chr(0xD800) and the like) has no UTF-8 encoding.
# CPython refuses to encode one; MicroPython would store the invalid bytes ED A0 80 and send them in
# the body. add() refuses it the same way on both runtimes: ValueError naming the stream and the
# problem, nothing stored. record.utf8 is the one check (the store's encoder uses it too).
import blynklog
from blynklog import record
from logger_support import device_config
from support import IS_MICROPYTHON, raises, skip

T0 = 1702656423136


def _logger():
    return blynklog.Logger(device_config({"note": {"pin": "V4", "type": "string"}}))


def test_add_refuses_a_lone_surrogate_with_value_error_and_stores_nothing():
    log = _logger()
    try:
        for bad in (chr(0xD800), "ok " + chr(0xDFFF), chr(0xD83D) + chr(0xDE00), "x" * 300 + chr(0xDBFF)):
            e = raises(ValueError, log.add, "note", bad, T0)
            assert str(e) == "note: string not valid UTF-8 (lone surrogate)", str(e)
        assert log._store.pending() == 0
        assert log.add("note", "ok \u00e9\U0001f600", T0) is True
        assert [r[2] for r in log._store.records(log._sids["note"])] == ["ok \u00e9\U0001f600"]
    finally:
        log.close()


def test_the_record_codec_refuses_a_lone_surrogate_too():
    buf = bytearray(64)
    e = raises(ValueError, record.encode_into, buf, 0, 0, T0, "a" + chr(0xDC00))
    assert "surrogate" in str(e)


def test_utf8_gives_the_bytes_of_every_valid_string():
    for s in (
        "",
        "ascii",
        "\u00e9",
        "\u0800",
        "\ud7ff",
        "\ue000",
        "\uffff",
        "\U00010000",
        "\U0010ffff",
        "mixed \u20ac \U0001f600 end",
    ):
        assert record.utf8(s) == s.encode(), s


def test_utf8_refuses_ill_formed_bytes_a_port_decodes_into_a_string():
    # MicroPython's decode checks only the lengths of sequences: overlong forms (C0 80 for NUL),
    # surrogates and code points past U+10FFFF come through as a str. CPython refuses them itself.
    if not IS_MICROPYTHON:
        skip("CPython's bytes.decode refuses ill-formed UTF-8 itself")
    cases = (
        (b"\xc0\x80", "string not valid UTF-8"),
        (b"a\xe0\x80\xaf", "string not valid UTF-8"),
        (b"\xf0\x80\x80\xaf", "string not valid UTF-8"),
        (b"\xf4\x90\x80\x80", "string not valid UTF-8"),
        (b"\xed\xa0\x80", "string not valid UTF-8 (lone surrogate)"),
    )
    for data, message in cases:
        e = raises(ValueError, record.utf8, data.decode())
        assert str(e) == message, (data, str(e))
