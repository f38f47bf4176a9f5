# Corrupted flash (seeded random cases, both runtimes; on the unix port the segment files live in
# the host folder): segment files with bytes flipped, truncated, extended with junk, or replaced by
# random data. The store opens, returns only records it wrote, keeps every record whose bytes (its
# frame's in format 3, and its segment's header) are untouched, counts pending exactly, and goes on
# working. The same for damaged "streams"/"cursors" files and a damaged state.json under a Logger.
# Every assertion message carries the seed: Rng(seed) reproduces the case on either runtime.
import os
import struct

from blynklog import frame, record
from blynklog.compat import unix_ms
from blynklog.store import Store
from fuzzlib import Rng
from support import tmpdir

_SEG = 512
_HDR = 24  # segment header bytes, formats 2 and 3 (docs/FORMAT.md)
_STREAMS = ("t", "n", "s")


def _value(rng, sid, i):
    if sid == 0:
        return i + 0.25
    if sid == 1:
        return rng.between(-(1 << 40), 1 << 40)
    return "s%d-" % i + "x" * rng.below(60)


def _fill(path, rng, count):
    # A store with `count` records over three streams; -> {sid: [(ts, value), ...]}
    st = Store(path, capacity=64 * _SEG, segment_size=_SEG)
    sids = [st.stream_id(n) for n in _STREAMS]
    written = dict((s, []) for s in sids)
    ts = 1700000000000
    for i in range(count):
        sid = sids[rng.below(3)]
        ts += rng.between(1, 5000)
        v = _value(rng, sid, i)
        assert st.append(sid, ts, v)
        written[sid].append((ts, v))
    st.flush()
    st.close()
    return written


def _segments(path):
    return sorted(n for n in os.listdir(path) if n.endswith(".seg"))


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def _frame_of(data, ordinal):
    # (offset, length) of the frame of a format 3 segment's data that holds the record of this
    # ordinal (the low 16 bits of its pos), or (0, 0)
    salt = record.signed_salt(struct.unpack_from("<I", data, 16)[0])
    off = _HDR
    while off < len(data):
        n = frame.check(data, off, len(data), memoryview(data), record.key(salt, off))
        if not n:
            return 0, 0
        first, ns, p = frame.head(data, off)
        total = 0
        for _ in range(ns):
            p, c = frame.varint(data, p + 1, p + 4)
            p = frame.varint(data, p, p + 3)[0]
            total += c
        if first <= ordinal < first + total:
            return off, n
        off += n
    return 0, 0


def _spans(store, sids):
    # {segment file name: [(offset, length, sid, ts, value)]} of every pending record: the bytes
    # it needs intact (its frame's in format 3, its own in format 2)
    out = {}
    for sid in sids:
        for pos, ts, value, flags in store.records(sid):
            seq, off = pos >> 16, pos & 0xFFFF
            name = "%08x.seg" % seq
            data = _read(store.path + "/" + name)
            salt = struct.unpack_from("<I", data, 16)[0]  # the segment's salt
            if data[2] == 3:
                off, n = _frame_of(data, off)
            else:
                n = record.check(data, off, len(data), None, record.key(salt, off))
            assert n, "records() gave a record that does not check at %s+%d" % (name, off)
            out.setdefault(name, []).append((off, n, sid, ts, value))
    return out


def _corrupt(rng, data):
    # -> (new bytes, what was done)
    k = rng.below(5)
    b = bytearray(data)
    if k == 0 and b:
        for _ in range(rng.between(1, 8)):
            i = rng.below(len(b))
            b[i] ^= 1 << rng.below(8)
        return bytes(b), "flipped bits"
    if k == 1:
        return bytes(b[: rng.below(len(b) + 1)]), "truncated"
    if k == 2:
        return bytes(b) + rng.bytes(rng.between(1, 300)), "appended junk"
    if k == 3:
        return rng.bytes(rng.below(2 * _SEG)), "replaced by random data"
    if b:
        i = rng.below(len(b))
        j = min(len(b), i + rng.between(1, 64))
        fill = rng.choice((0x00, 0xFF))
        for p in range(i, j):
            b[p] = fill
        return bytes(b), "erased a range"
    return bytes(b), "unchanged (empty)"


def _intact(before, after, off, n):
    return len(after) >= off + n and after[off : off + n] == before[off : off + n] and after[:_HDR] == before[:_HDR]


def _reopen_checked(path, spans, before, after, seed, what):
    st = Store(path, capacity=64 * _SEG, segment_size=_SEG)
    sids = [st.stream_id(n) for n in _STREAMS]
    assert sids == [0, 1, 2], "seed %d (%s): stream ids changed: %r" % (seed, what, sids)
    all_written = {}
    must = {}
    for name in spans:
        for off, n, sid, ts, value in spans[name]:
            all_written[(sid, ts)] = value
            if name in after and _intact(before[name], after[name], off, n):
                must[(sid, ts)] = value
    for sid in sids:
        got = []
        for pos, ts, value, flags in st.records(sid):
            key = (sid, ts)
            assert key in all_written and all_written[key] == value, (
                "seed %d (%s): a record the store never wrote: sid %d ts %d %r" % (seed, what, sid, ts, value)
            )
            got.append(key)
        assert len(got) == len(set(got)), "seed %d (%s): a record came twice" % (seed, what)
        for key in must:
            if key[0] == sid:
                assert key in got, "seed %d (%s): intact record lost: %r" % (seed, what, key)
        assert st.pending(sid) == len(got), "seed %d (%s): pending(%d) %d, records %d" % (
            seed,
            what,
            sid,
            st.pending(sid),
            len(got),
        )
    return st, sids


def _works_on(st, sids, seed):
    # append, read back, commit everything, and find it all gone after a reopen
    ts = 1800000000000
    for i in range(30):
        assert st.append(sids[i % 3], ts + i, i), "seed %d: append refused" % seed
    for sid in sids:
        last = None
        count = 0
        for pos, t, value, flags in st.records(sid):
            last = pos
            count += 1
        assert count == st.pending(sid), "seed %d: pending %d, records %d" % (seed, st.pending(sid), count)
        if last is not None:
            st.commit(sid, last, count)
        assert st.pending(sid) == 0, "seed %d: pending after commit" % seed
    path = st.path
    st.close()
    st = Store(path, capacity=64 * _SEG, segment_size=_SEG)
    for name in _STREAMS:
        sid = st.stream_id(name)
        assert st.pending(sid) == 0, "seed %d: committed records of %s came back: %d" % (seed, name, st.pending(sid))
    st.close()


def _one_case(seed, files=1):
    rng = Rng(seed)
    path = tmpdir("fs") + "/store"
    _fill(path, rng, rng.between(20, 120))
    st = Store(path, capacity=64 * _SEG, segment_size=_SEG)
    spans = _spans(st, [0, 1, 2])
    st.close()
    names = _segments(path)
    before = dict((n, _read(path + "/" + n)) for n in names)
    after = dict(before)
    done = []
    for _ in range(files):
        name = rng.choice(names)
        data, what = _corrupt(rng, after[name])
        with open(path + "/" + name, "wb") as f:
            f.write(data)
        after[name] = data
        done.append("%s %s" % (name, what))
    what = ", ".join(done)
    st, sids = _reopen_checked(path, spans, before, after, seed, what)
    _works_on(st, sids, seed)


def test_one_damaged_segment_loses_only_its_damaged_records():
    for seed in range(40):
        _one_case(seed)


def test_several_damaged_segments_lose_only_their_damaged_records():
    for seed in range(100, 130):
        _one_case(seed, files=3)


def test_a_segment_overwritten_in_place_keeps_the_other_records():
    # writes over a range with r+b (no truncation), the way a torn flash write looks
    for seed in range(200, 230):
        rng = Rng(seed)
        path = tmpdir("fw") + "/store"
        _fill(path, rng, 80)
        st = Store(path, capacity=64 * _SEG, segment_size=_SEG)
        spans = _spans(st, [0, 1, 2])
        st.close()
        names = _segments(path)
        before = dict((n, _read(path + "/" + n)) for n in names)
        name = rng.choice(names)
        size = len(before[name])
        off = rng.below(size)
        junk = rng.bytes(rng.between(1, 40))
        with open(path + "/" + name, "r+b") as f:
            f.seek(off)
            f.write(junk)
        after = dict(before)
        after[name] = _read(path + "/" + name)
        st, sids = _reopen_checked(path, spans, before, after, seed, "%s overwritten at %d" % (name, off))
        _works_on(st, sids, seed)


def test_a_deleted_segment_keeps_the_other_records():
    for seed in range(300, 310):
        rng = Rng(seed)
        path = tmpdir("fd") + "/store"
        _fill(path, rng, 100)
        st = Store(path, capacity=64 * _SEG, segment_size=_SEG)
        spans = _spans(st, [0, 1, 2])
        st.close()
        names = _segments(path)
        before = dict((n, _read(path + "/" + n)) for n in names)
        name = rng.choice(names)
        os.remove(path + "/" + name)
        after = dict(before)
        del after[name]
        st, sids = _reopen_checked(path, spans, before, after, seed, "%s deleted" % name)
        _works_on(st, sids, seed)


def test_junk_files_in_the_store_folder_are_ignored():
    for seed in range(400, 410):
        rng = Rng(seed)
        path = tmpdir("fj") + "/store"
        _fill(path, rng, 60)
        st = Store(path, capacity=64 * _SEG, segment_size=_SEG)
        spans = _spans(st, [0, 1, 2])
        st.close()
        names = _segments(path)
        before = dict((n, _read(path + "/" + n)) for n in names)
        for junk in (
            "zzzzzzzz.seg",
            "%08x.seg" % (int(names[-1][:8], 16) + 1),
            "ffffffff.seg",
            "1.seg",
            "00000000.seg",
            "readme.txt",
        ):
            with open(path + "/" + junk, "wb") as f:
                f.write(rng.bytes(rng.below(700)))
        st, sids = _reopen_checked(path, spans, before, before, seed, "junk files")
        _works_on(st, sids, seed)


def _side_file_case(seed, name):
    rng = Rng(seed)
    path = tmpdir("fc") + "/store"
    _fill(path, rng, 60)
    st = Store(path, capacity=64 * _SEG, segment_size=_SEG)
    pos = None
    for p, ts, v, f in st.records(0):
        pos = p
        break
    if pos is not None:
        st.commit(0, pos, 1)
    st.close()
    target = path + "/" + name
    try:
        data = _read(target)
    except OSError:
        data = b""
    data, what = _corrupt(rng, data)
    with open(target, "wb") as f:
        f.write(data)
    # the store opens and goes on working; what it reads may be less, never a crash
    st = Store(path, capacity=64 * _SEG, segment_size=_SEG)
    sids = [st.stream_id(n) for n in _STREAMS]
    for sid in sids:
        n = 0
        for p, ts, v, f in st.records(sid):
            n += 1
        assert n == st.pending(sid), "seed %d (%s %s): pending %d, records %d" % (seed, name, what, st.pending(sid), n)
    _works_on(st, sids, seed)


def test_a_damaged_cursors_file_never_stops_the_store():
    for seed in range(500, 530):
        _side_file_case(seed, "cursors")


def test_a_damaged_streams_file_never_stops_the_store():
    for seed in range(600, 630):
        _side_file_case(seed, "streams")


def test_a_damaged_state_file_never_stops_the_logger():
    import blynklog

    for seed in range(700, 740):
        rng = Rng(seed)
        path = tmpdir("fl") + "/lg"
        cfg = {
            "api": "device",
            "token": "t",
            "insecure": True,
            "server": "http://127.0.0.1:9",
            "streams": {"t": {"pin": "V1"}},
            "store": {"path": path},
            "upload": {"timeout_ms": 200},
        }
        log = blynklog.Logger(cfg)
        log.add("t", 1.5, ts=unix_ms() - 60000)
        log.sync()  # a refused connection: it leaves a retry entry and an error in the state
        log.close()
        text = _read(path + "/state.json")
        if rng.chance(50):
            data, what = _corrupt(rng, text)
        else:
            # valid JSON with values of the wrong type under the keys the modules keep
            import json

            from fuzzlib import json_value

            doc = json.loads(text)
            for key in ("clock", "retry", "token", "quota", "server", "last_error", "rejects", "parked", "counters"):
                if rng.chance(40):
                    doc[key] = json_value(rng, 2)
            data, what = json.dumps(doc).encode(), "wrong types: %r" % doc
        with open(path + "/state.json", "wb") as f:
            f.write(data)
        try:
            log = blynklog.Logger(cfg)
            log.add("t", 2.5, ts=unix_ms() - 59000)
            log.stats()
            report = log.sync()
            st = log.stats()
        except Exception as e:
            raise AssertionError("seed %d (%s): %s: %s" % (seed, what, type(e).__name__, e))
        assert report["pending"] == 2 and st["pending"] == 2, "seed %d (%s): %r" % (seed, what, report)
        log.close()


def test_a_streams_file_damaged_into_invalid_utf8_opens():
    # found by the fuzzing above: UnicodeError escaped from Store() when reading the names
    path = tmpdir("fu") + "/store"
    _fill(path, Rng(1), 10)
    with open(path + "/streams", "wb") as f:
        f.write(b"t\n\xbc\xe3\n")
    st = Store(path, capacity=64 * _SEG, segment_size=_SEG)
    sid = st.stream_id("t")
    assert st.append(sid, 1800000000000, 1)
    assert st.pending(sid) >= 1
    st.close()


def test_records_whose_stream_name_was_lost_are_kept_and_counted():
    # found by the fuzzing above: with the streams file damaged (junk appended, so no final newline)
    # Store() counted nothing for the unnamed ids and deleted their segments as fully committed
    path = tmpdir("fn") + "/store"
    written = _fill(path, Rng(2), 100)
    with open(path + "/streams", "ab") as f:
        f.write(b"junk")
    st = Store(path, capacity=64 * _SEG, segment_size=_SEG)
    for k in range(3):
        sid = st.stream_id(_STREAMS[k])
        got = [(ts, v) for pos, ts, v, flags in st.records(sid)]
        assert got == written[sid], "stream %s: %d of %d records" % (_STREAMS[k], len(got), len(written[sid]))
        assert st.pending(sid) == len(got)
    st.close()


def _logger_with_state(doc):
    import json

    import blynklog

    path = tmpdir("fs") + "/lg"
    os.mkdir(path)
    with open(path + "/state.json", "w") as f:
        f.write(json.dumps(doc))
    cfg = {
        "api": "device",
        "token": "t",
        "insecure": True,
        "server": "http://127.0.0.1:9",
        "streams": {"t": {"pin": "V1"}},
        "store": {"path": path},
        "upload": {"timeout_ms": 200},
    }
    return blynklog.Logger(cfg)


def test_state_entries_of_the_wrong_type_are_ignored():
    # found by the fuzzing above: stats() and sync() raised AttributeError/TypeError on these
    for doc in (
        {"server": 5},
        {"server": {"configured": "http://127.0.0.1:9", "to": 7}},
        {"retry": []},
        {"retry": {"n": -5, "at": "x"}},
        {"parked": "x"},
        {"parked": {"t": "soon"}},
        {"rejects": {}},
    ):
        log = _logger_with_state(doc)
        try:
            log.add("t", 1.5, ts=unix_ms() - 1000)
            log.stats()
            report = log.sync()
            assert report["pending"] == 1 and log.stats()["pending"] == 1, (doc, report)
        finally:
            log.close()


def test_a_damaged_back_off_far_in_the_future_is_capped():
    log = _logger_with_state({"retry": {"n": 3, "at": unix_ms() + 10**15}})
    try:
        assert log.stats()["next_retry_ms"] <= 3600 * 1000 * 24
    finally:
        log.close()
