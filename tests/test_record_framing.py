# record.py's framing (docs/FORMAT.md, "Record"): a record's CRC is keyed by its place, so it is
# valid only where it was written, and check() accepts exactly what decode() reads.
import binascii
import struct

from blynklog import record

BASE = 1700000000000


def _rec(value, crckey):
    buf = bytearray(record.MAX_RECORD + 8)
    n = record.encode_into(buf, 0, 3, BASE + 7, value, 1, None, BASE, None, crckey)
    return buf, n


def test_a_record_checks_and_decodes_with_the_key_it_was_written_with():
    buf, n = _rec(21, record.key(0x12345678, 40))
    assert record.check(buf, 0, n, None, record.key(0x12345678, 40)) == n
    assert record.decode(buf, 0, BASE, n, record.key(0x12345678, 40)) == (n, 3, BASE + 7, 1, 21)


def test_a_record_is_refused_at_any_other_place_or_salt_and_as_format_1():
    buf, n = _rec("some text", record.key(0x12345678, 40))
    for k in (0, record.key(0x12345678, 41), record.key(0x12345678, 39), record.key(0x12345679, 40)):
        assert record.check(buf, 0, n, None, k) == 0, k


def test_key_zero_is_format_1_the_plain_crc():
    buf, n = _rec(5, 0)
    assert struct.unpack_from("<I", buf, n - 4)[0] == binascii.crc32(bytes(buf[: n - 4])) & 0xFFFFFFFF


def test_keys_of_one_salt_differ_at_every_offset():
    seen = set(record.key(0xA5A5A5A5, off) for off in range(65536))
    assert len(seen) == 65536


def test_salts_are_random_32_bit_ints():
    salts = [record.new_salt() for _ in range(8)]
    assert all(0 <= s < 1 << 32 for s in salts) and len(set(salts)) > 1


def test_a_string_record_that_is_not_utf8_is_refused_by_check_as_by_decode():
    buf, n = _rec("\u00e9\u00e9", 0)
    buf[n - 6] = 0x28  # "\xc3\xa9(\xa9": not UTF-8
    struct.pack_into("<I", buf, n - 4, binascii.crc32(bytes(buf[: n - 4])) & 0xFFFFFFFF)
    assert record.check(buf, 0, n) == 0
    assert record.decode(buf, 0, BASE, n) is None


def test_a_utf8_string_record_checks():
    buf, n = _rec("z\u00fcrich \u2603", 0)
    assert record.check(buf, 0, n) == n and record.decode(buf, 0, BASE, n)[4] == "z\u00fcrich \u2603"
