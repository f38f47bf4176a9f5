# Seams of the raw-flash store (lib/blynklog/rawstore.py) found in review: the checkpoint keeps
# room for the largest meta the upload policy writes (a Logger whose streams leave less is refused
# with a ConfigError naming `streams`, and every commit it makes then fits), stream names as long
# as the configuration allows, bytes inside a value never pass as a frame, and a record that
# checks but does not decode neither stops the replay nor counts as pending. Portable.
import binascii
import struct

from blynklog import ConfigError, Logger, policy, record
from blynklog.rawstore import RawStore
from logger_support import device_config, now_ms
from norflash import NorFlash

T0 = 1700000000000


def _raw_config(streams):
    cfg = device_config(streams)
    cfg["store"]["backend"] = "raw"
    cfg["store"]["capacity"] = 65536
    return cfg


def _streams(n, width=10):
    out = {}
    for i in range(n):
        out[("s%d" % i) + "x" * (width - 1 - len(str(i)))] = {"pin": "V%d" % i}
    return out


def _largest_meta():
    # what the upload policy's commit can carry at most: the day and every counter at 20 digits
    meta = {"qday": 10**20 - 1, "qsent": 10**20 - 1}
    for k in policy.COUNTERS:
        meta[k] = 10**20 - 1
    return meta


def test_a_logger_whose_streams_leave_no_room_for_the_meta_is_refused_naming_streams():
    try:
        Logger(_raw_config(_streams(64)))
    except ConfigError as e:
        assert str(e).startswith("streams:"), str(e)
    else:
        raise AssertionError("64 streams were accepted on the raw store")


def test_a_refused_raw_configuration_writes_nothing():
    # no store folder, no cache of the refused file, no formatted device: the check comes first
    import json
    import os

    from support import tmpdir

    d = tmpdir("rawrefused")
    cfg = _raw_config(_streams(64))
    cfg["store"]["path"] = "bl"
    with open(d + "/config.json", "w") as f:
        f.write(json.dumps(cfg))
    try:
        Logger(d + "/config.json")
    except ConfigError as e:
        assert str(e).startswith("streams:"), str(e)
    else:
        raise AssertionError("64 streams were accepted on the raw store")
    assert os.listdir(d) == ["config.json"], os.listdir(d)


def test_every_commit_the_policy_can_make_fits_once_the_logger_accepted_its_streams():
    lo, hi = 1, 64  # the most streams the Logger accepts, by bisection: lo fits, hi + 1 not
    while lo < hi:
        mid = (lo + hi + 1) // 2
        try:
            Logger(_raw_config(_streams(mid))).close()
            lo = mid
        except ValueError:
            hi = mid - 1
    assert lo >= 20, lo
    log = Logger(_raw_config(_streams(lo)))
    store = log._store
    name = sorted(log._sids)[0]
    assert log.add(name, 1.5, ts=now_ms() - 1000)
    sid = log._sids[name]
    pos = list(store.records(sid))[0][0]
    store.commit(sid, pos, 1, _largest_meta())  # no "meta too large" after the server said yes
    assert store.meta() == _largest_meta() and store.pending(sid) == 0
    log.close()


def test_the_meta_the_policy_commits_is_what_meta_max_counts():
    # meta_max() lists the keys itself: a key added to the policy's commit without it would make
    # the room short; this catches it
    import json

    import emu

    emu.require()
    emu.reset()
    emu.config(points_per_day=10000, max_age_days=30, token_lifetime_s=86400)
    log = Logger(_raw_config({"temperature": {"pin": "V1"}}))
    assert log.add("temperature", 1.5, ts=now_ms() - 1000)
    assert log.sync()["sent"] == 1
    meta = log._store.meta()
    log.close()
    assert sorted(meta) == sorted(policy.META_KEYS + policy.COUNTERS), sorted(meta)
    assert len(json.dumps(meta, separators=(",", ":"))) <= policy.meta_max()


def test_a_stream_name_of_64_bytes_works_on_the_raw_store():
    name = "\u00e9" * 32  # 32 characters, 64 bytes of UTF-8: the most the configuration allows
    cfg = _raw_config({name: {"pin": "V1"}})
    log = Logger(cfg)
    assert log.add(name, 2.5, ts=now_ms() - 1000)
    log.flush()
    log.close()
    log = Logger(cfg)
    assert log.stats()["pending"] == 1
    log.close()


def test_a_store_refuses_a_stream_that_would_leave_the_meta_room_short():
    d = NorFlash(sectors=4, sector_size=4096)
    s = RawStore(d, meta_room=250)
    n = 0
    try:
        while n < 64:
            s.stream_id("name%06d" % n)
            n += 1
    except ValueError:
        pass
    assert 0 < n < 64 and s.spare() >= 0
    meta = {"m": "x" * 242}  # 250 bytes of JSON
    for sid in range(n):
        s.append(sid, T0 + sid, sid)
    s.commit(0, list(s.records(0))[0][0], 1, meta)
    assert RawStore(d).meta() == meta


# ---- values holding frames

# the embedded records hold values 5..63 (never added by the tests) and a timestamp within 63 ms
# of the base, so that every byte but the CRC's is ASCII; a few thousand tries find an ASCII CRC


def _key(d, idx, off, sector_size=512):
    # the CRC key of a frame at off in sector idx (docs/RAWSTORE.md): the claim's salt xor off in
    # format 2, 0 in format 1
    a = idx * sector_size
    if bytes(d.data[a : a + 4]) != b"BLR2":
        return 0
    return struct.unpack_from("<I", d.data, a + 24)[0] ^ off


def _ascii_frame(sid, ts, base, crckey):
    # A commit mark and a whole valid record (CRC from crckey), all ASCII so that a str holds it;
    # its value, timestamp and flags are searched.
    buf = bytearray(64)
    for t in range(59 * 32 * 4):
        v = 5 + t % 59
        n = record.encode_into(buf, 0, sid, base + t // 59 % 32, v, t // (59 * 32), None, base)
        struct.pack_into("<I", buf, n - 4, binascii.crc32(memoryview(buf)[: n - 4], crckey) & 0xFFFFFFFF)
        if max(buf[:n]) < 0x80:
            return b"\x00" + bytes(buf[:n])
    raise AssertionError("no ASCII record found")


def _adversarial(sector_size=512):
    # A ring whose tail sector ends with a string holding whole frames: plain ones (format 1),
    # ones keyed for other places of this sector (its real salt), and one keyed as if the salt
    # were 0.
    d = NorFlash(sectors=4, sector_size=sector_size)
    s = RawStore(d)
    sid = s.stream_id("a")
    for i in range(5):
        assert s.append(sid, T0 + i, i)
    start = s._off
    base = s._base[s._tail]
    parts = [b"<"]
    for k in (0, _key(d, s._tail, 32, sector_size), _key(d, s._tail, start - 10, sector_size), start + 6):
        parts.append(_ascii_frame(sid, base + 5, base, k))
        parts.append(b"|")
    assert s.append(sid, T0 + 5, str(b"".join(parts), "utf-8"))
    end = s._off
    first = s._tail * sector_size
    return d, sid, first + start, first + end


def _only_added(d, sid, label):
    s = RawStore(d)
    got = list(s.records(sid))
    for pos, ts, value, flags in got:
        assert type(value) is str or value in range(5), "%s: a record nobody added came back: %r" % (label, value)
    assert s.pending(sid) == len(got), "%s: pending %d, records %d" % (label, s.pending(sid), len(got))
    return got


def test_bit_rot_in_a_string_holding_frames_never_brings_them_back():
    d, sid, start, end = _adversarial()
    data = bytes(d.data)
    for at in range(start, end):
        for flip in (0x01, 0x80, 0xFF):
            d.data[:] = data
            d.data[at] ^= flip
            _only_added(d, sid, "byte %d ^ 0x%02x" % (at, flip))


def test_a_string_holding_frames_torn_at_every_byte_never_brings_them_back():
    d, sid, start, end = _adversarial()
    data = bytes(d.data)
    for cut in range(start + 1, end):
        d.data[:] = data
        d.data[start] = 0xFF  # the mark comes last: not programmed yet
        for i in range(cut, end):
            d.data[i] = 0xFF
        got = _only_added(d, sid, "cut at %d" % cut)
        assert [r[2] for r in got] == [0, 1, 2, 3, 4], "cut at %d" % cut


def test_a_record_that_checks_but_is_not_utf8_neither_stops_the_replay_nor_counts():
    d = NorFlash(sectors=4, sector_size=512)
    s = RawStore(d)
    sid = s.stream_id("a")
    s.append(sid, T0, 1)
    at = s._off
    s.append(sid, T0 + 1, "\u00e9\u00e9")
    s.append(sid, T0 + 2, 3)
    got = list(s.records(sid))
    s.commit(sid, got[0][0], 1, {"n": 1})  # a commit frame after the string
    a = s._tail * 512 + at
    n = d.data[a + 1] + 1  # L and body of the record after the mark
    key = _key(d, s._tail, at)
    d.data[a + n - 1] = 0x28  # "\xc3(" is not UTF-8; the CRC is made right again
    struct.pack_into("<I", d.data, a + 1 + n, binascii.crc32(bytes(d.data[a + 1 : a + 1 + n]), key) & 0xFFFFFFFF)
    s2 = RawStore(d)
    assert [r[2] for r in s2.records(sid)] == [3]  # the commit after it was replayed
    assert s2.meta() == {"n": 1}
    # (pending is 2 here: the commit frame counted the string while it was whole, as with any
    # record damaged after a commit was written; docs/RAWSTORE.md, "Recovery")


# ---- format 1 (plain CRCs, 28-byte header) is still read


def _v1_ring(values, name="a", sector_size=512):
    # sector 0 claimed in format 1 (seq 1) with a checkpoint and samples; sector 1 prepared in
    # format 1 (it must be erased before it is claimed); sectors 2 and 3 blank
    d = NorFlash(sectors=4, sector_size=sector_size)
    a = bytearray(b"BLR1" + struct.pack("<I", 1))
    a += struct.pack("<I", binascii.crc32(a) & 0xFFFFFFFF)
    hdr = a + struct.pack("<IQ", 1, T0)
    hdr += struct.pack("<I", binascii.crc32(hdr) & 0xFFFFFFFF)
    nb = name.encode()
    body = bytes([0xC0]) + struct.pack("<IB", 0, 1) + struct.pack("<BIHIB", 0, 0, 0, 0, len(nb)) + nb
    rec = bytes([len(body)]) + body
    sec = bytearray(hdr) + b"\x00" + rec + struct.pack("<I", binascii.crc32(rec) & 0xFFFFFFFF)
    buf = bytearray(64)
    for k, v in enumerate(values):
        n = record.encode_into(buf, 0, 0, T0 + k * 1000, v, 0, None, T0)
        sec += b"\x00" + buf[:n]
    d.data[0 : len(sec)] = sec
    d.data[sector_size : sector_size + 12] = a
    return d


def test_a_format_1_ring_is_read_appended_to_and_goes_on_in_format_2():
    d = _v1_ring(list(range(10)))
    s = RawStore(d)
    sid = s.stream_id("a")
    assert [r[2] for r in s.records(sid)] == list(range(10)) and s.pending(sid) == 10
    for v in range(10, 100):  # into the format 1 sector, then rotations into format 2 ones
        assert s.append(sid, T0 + v * 1000, v)
    assert bytes(d.data[512:516]) == b"BLR2"  # the sector prepared in format 1 was erased first
    s = RawStore(d)
    got = list(s.records(sid))
    assert [r[2] for r in got] == list(range(100)) and s.pending(sid) == 100
    s.commit(sid, got[4][0], 5, {"n": 5})
    s = RawStore(d)
    assert [r[2] for r in s.records(sid)] == list(range(5, 100)) and s.meta() == {"n": 5}
    assert s.stats()["damaged"] == 0
