# Seams of the folder store (lib/blynklog/store.py) found in review: the drop of a full store's
# oldest segment and its books move together (a power cut between them loses no sample from the
# books), and bytes inside a value never pass as a record, neither through a torn tail nor through
# bit rot, at open or at read time. Portable (CPython and the unix ports).
import binascii
import os
import struct

from blynklog import record
from blynklog import store as store_mod
from blynklog.store import Store
from support import tmpdir

T0 = 1700000000000
_SEG = 512


def _segments(path):
    return sorted(n for n in os.listdir(path) if n.endswith(".seg"))


def _books(s, sids):
    # every durable sample is pending or counted as dropped (nothing is committed here)
    return sum(s.pending(sid) for sid in sids) + s.stats()["dropped_full"]


def _fill_until_cut(s, sid):
    # Appends and flushes until an append raises (the injected power cut); returns how many
    # samples were made durable before it.
    durable = 0
    for i in range(1000):
        try:
            ok = s.append(sid, T0 + i * 1000, i)
            s.flush()
        except OSError:
            return durable
        assert ok
        durable += 1
    raise AssertionError("the store never dropped a segment")


def _cut(*args):
    raise OSError(5, "power cut")


def test_a_power_cut_while_a_full_store_books_a_drop_leaves_the_books_whole():
    path = tmpdir("drop") + "/s"
    s = Store(path, capacity=2 * _SEG, segment_size=_SEG)
    sid = s.stream_id("a")
    s._save_cursors = _cut  # the drop's write of the books is the one the power cut hits
    durable = _fill_until_cut(s, sid)
    assert durable > 40
    s2 = Store(path, capacity=2 * _SEG, segment_size=_SEG)
    assert _books(s2, [sid]) == durable, (_books(s2, [sid]), durable)
    assert s2.pending(sid) == len(list(s2.records(sid)))
    s2.close()


def test_a_power_cut_after_a_drop_is_booked_removes_its_samples_once():
    path = tmpdir("drop2") + "/s"
    s = Store(path, capacity=2 * _SEG, segment_size=_SEG)
    sid = s.stream_id("a")
    saved = store_mod._remove
    store_mod._remove = _cut  # the books are written, the segment file is not yet removed
    try:
        durable = _fill_until_cut(s, sid)
    finally:
        store_mod._remove = saved
    s2 = Store(path, capacity=2 * _SEG, segment_size=_SEG)
    values = [r[2] for r in s2.records(sid)]
    assert _books(s2, [sid]) == durable, (_books(s2, [sid]), durable)
    assert s2.pending(sid) == len(values) and values == list(range(durable - len(values), durable))
    assert s2.append(sid, T0 + 10**7, -1)
    s2.close()


# ---- values holding records

# the embedded records hold values 5..63 (never added by the tests) and a timestamp within 63 ms
# of the base, so that every byte but the CRC's is ASCII; a few thousand tries find an ASCII CRC


def _key(data, off):
    # the CRC key of a record at off in the segment data (docs/FORMAT.md): 0 in format 1, the
    # header's salt xor off in formats 2 and 3 (a frame's key)
    return struct.unpack_from("<I", data, 16)[0] ^ off if data[2] in (2, 3) else 0


def _ascii_record(sid, ts, base, crckey):
    # A whole valid record (CRC from crckey) whose bytes are all ASCII, so that a str holds it;
    # its value, timestamp and flags are searched.
    buf = bytearray(64)
    for t in range(59 * 32 * 4):
        v = 5 + t % 59
        n = record.encode_into(buf, 0, sid, base + t // 59 % 32, v, t // (59 * 32), None, base)
        struct.pack_into("<I", buf, n - 4, binascii.crc32(memoryview(buf)[: n - 4], crckey) & 0xFFFFFFFF)
        if max(buf[:n]) < 0x80:
            return bytes(buf[:n])
    raise AssertionError("no ASCII record found")


def _payload(sid, base, keys):
    # a string of whole records, one for each CRC key, between some text
    parts = [b"<"]
    for k in keys:
        parts.append(_ascii_record(sid, base + 5, base, k))
        parts.append(b"|")
    return str(b"".join(parts), "utf-8")


def _adversarial_store(tag):
    # A store whose newest segment ends with a string holding whole records: plain ones (format
    # 1, or bytes copied from any log), ones keyed for other places of this very segment (its
    # real salt, read from the file), and one keyed as if the salt were 0.
    path = tmpdir(tag) + "/s"
    s = Store(path, capacity=8 * _SEG, segment_size=_SEG)
    sid = s.stream_id("a")
    for i in range(5):
        assert s.append(sid, T0 + i, i)
    s.flush()
    seg = path + "/" + _segments(path)[-1]
    start = os.stat(seg)[6]
    with open(seg, "rb") as f:
        head = f.read()
    keys = [0, _key(head, 24), _key(head, start - 9), start + 6]
    assert s.append(sid, T0 + 5, _payload(sid, T0, keys))
    s.close()
    with open(seg, "rb") as f:
        data = f.read()
    return path, seg, sid, start, data


def _only_added(path, sid, label):
    # open the store again: nothing but what was added comes back, and pending agrees
    s = Store(path, capacity=8 * _SEG, segment_size=_SEG)
    got = list(s.records(sid))
    for pos, ts, value, flags in got:
        assert type(value) is str or value in range(5), "%s: a record nobody added came back: %r" % (label, value)
    assert s.pending(sid) == len(got), "%s: pending %d, records %d" % (label, s.pending(sid), len(got))
    s.close()
    return got


def test_a_torn_string_holding_records_never_brings_them_back():
    path, seg, sid, start, data = _adversarial_store("torn")
    for cut in range(start + 1, len(data)):
        with open(seg, "wb") as f:
            f.write(data[:cut])
        got = _only_added(path, sid, "cut at %d" % cut)
        assert [r[2] for r in got] == [0, 1, 2, 3, 4], "cut at %d" % cut


def test_bit_rot_in_a_string_holding_records_never_brings_them_back():
    path, seg, sid, start, data = _adversarial_store("rot")
    for at in range(start, len(data)):
        for flip in (0x01, 0x80, 0xFF):
            damaged = bytearray(data)
            damaged[at] ^= flip
            with open(seg, "wb") as f:
                f.write(damaged)
            _only_added(path, sid, "byte %d ^ 0x%02x" % (at, flip))


def _v2_segment(path, seq, base, values, sid=0, salt=0x1234567):
    # a format 2 segment (records keyed by salt and offset), as stores wrote before format 3
    h = bytearray(struct.pack("<2sBBIQI", b"BL", 2, 0, seq, base, salt))
    data = h + struct.pack("<I", binascii.crc32(h) & 0xFFFFFFFF)
    buf = bytearray(64)
    for k, v in enumerate(values):
        n = record.encode_into(buf, 0, sid, base + k, v, 0, None, base, None, record.key(salt, len(data)))
        data += buf[:n]
    with open("%s/%08x.seg" % (path, seq), "wb") as f:
        f.write(data)


def test_a_record_that_checks_but_is_not_utf8_is_neither_pending_nor_returned():
    # A string record of a format 2 segment with a valid CRC but bytes that are not UTF-8 (what a
    # damaged or forged record may hold): check() refuses it, so pending and records() agree.
    path = tmpdir("utf") + "/s"
    os.mkdir(path)
    with open(path + "/streams", "w") as f:
        f.write("a\n")
    _v2_segment(path, 1, T0, [1, "\u00e9\u00e9", 3])
    s = Store(path, capacity=8 * _SEG, segment_size=_SEG)
    sid = s.stream_id("a")
    got = list(s.records(sid))
    assert [r[2] for r in got] == [1, "\u00e9\u00e9", 3]
    s.close()
    seg = path + "/" + _segments(path)[-1]
    with open(seg, "rb") as f:
        data = bytearray(f.read())
    off = got[1][0] & 0xFFFF
    n = data[off] + 1  # L and body (a short record)
    data[off + n - 2] = 0x28  # "\xc3(" is not UTF-8
    key = _key(data, off)
    struct.pack_into("<I", data, off + n, binascii.crc32(memoryview(data)[off : off + n], key) & 0xFFFFFFFF)
    with open(seg, "wb") as f:
        f.write(data)
    s = Store(path, capacity=8 * _SEG, segment_size=_SEG)
    assert [r[2] for r in s.records(sid)] == [1, 3]
    assert s.pending(sid) == 2
    s.close()


def test_a_format_2_store_is_read_committed_and_goes_on_in_format_3():
    path = tmpdir("v2") + "/s"
    os.mkdir(path)
    with open(path + "/streams", "w") as f:
        f.write("a\nb\n")
    _v2_segment(path, 1, T0, list(range(10)))
    _v2_segment(path, 2, T0 + 10, list(range(100, 105)), 1, 0xC0000001)
    s = Store(path, capacity=8 * _SEG, segment_size=_SEG)
    a = s.stream_id("a")
    b = s.stream_id("b")
    assert s.pending(a) == 10 and s.pending(b) == 5
    got = list(s.records(a))
    s.commit(a, got[3][0], 4)
    for v in range(10, 40):
        assert s.append(a, T0 + 100 + v, v)
    s.close()
    s = Store(path, capacity=8 * _SEG, segment_size=_SEG)
    assert [r[2] for r in s.records(a)] == list(range(4, 40)) and s.pending(a) == 36
    assert [r[2] for r in s.records(b)] == list(range(100, 105))
    assert s.stats()["skipped_bytes"] == 0
    s.close()


# ---- format 1 (plain CRCs, 20-byte header) is still read


def _v1_segment(path, seq, base, values, sid=0):
    h = struct.pack("<2sBBIQ", b"BL", 1, 0, seq, base)
    data = bytearray(h + struct.pack("<I", binascii.crc32(h) & 0xFFFFFFFF))
    buf = bytearray(64)
    for k, v in enumerate(values):
        n = record.encode_into(buf, 0, sid, base + k * 1000, v, 0, None, base)
        data += buf[:n]
    with open("%s/%08x.seg" % (path, seq), "wb") as f:
        f.write(data)


def test_a_format_1_store_is_read_and_goes_on_in_format_3():
    path = tmpdir("v1") + "/s"
    os.mkdir(path)
    with open(path + "/streams", "w") as f:
        f.write("a\n")
    _v1_segment(path, 1, T0, list(range(10)))
    _v1_segment(path, 2, T0 + 10000, list(range(10, 15)))
    s = Store(path, capacity=8 * _SEG, segment_size=_SEG)
    sid = s.stream_id("a")
    assert [r[2] for r in s.records(sid)] == list(range(15))
    for v in range(15, 80):  # into new segments: format 1 is only read
        assert s.append(sid, T0 + 20000 + v, v)
    s.close()
    names = _segments(path)
    with open(path + "/" + names[-1], "rb") as f:
        assert f.read(3)[2] == 3  # a new segment is format 3 (frames)
    s = Store(path, capacity=8 * _SEG, segment_size=_SEG)
    got = list(s.records(sid))
    assert [r[2] for r in got] == list(range(80)) and s.pending(sid) == 80
    s.commit(sid, got[11][0], 12)
    s.close()
    s = Store(path, capacity=8 * _SEG, segment_size=_SEG)
    assert [r[2] for r in s.records(sid)] == list(range(12, 80)) and s.stats()["skipped_bytes"] == 0
    s.close()
