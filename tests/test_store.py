# The folder store (lib/blynklog/store.py) on the host file system: the shared behaviour cases
# (store_cases.py) bound to it, plus what only a folder of segment files has (damaged bytes,
# torn tails, the on-disk layout) and the allocation-free append path.
import os
import sys

import store_cases
from blynklog.store import Store
from support import IS_MICROPYTHON, raises, skip, tmpdir

_last = [None]


def make_store(capacity=16384, on_full="drop_oldest", reopen=False, **kw):
    if not reopen or _last[0] is None:
        _last[0] = tmpdir("store") + "/s"
    return Store(_last[0], capacity=capacity, on_full=on_full, **kw)


# One test per shared case (store_cases.CASES), bound to this backend.
store_cases.bind(globals(), make_store)


T0 = store_cases.T0


def _segments(path):
    return sorted(n for n in os.listdir(path) if n.endswith(".seg"))


def _poke(path, offset, byte):
    with open(path, "rb") as f:
        data = bytearray(f.read())
    data[offset] = byte
    with open(path, "wb") as f:
        f.write(data)


def _frames_of(seg):
    # [(offset, length)] of the frames of a segment file (format 3: L, a varint, then L + 4 bytes)
    with open(seg, "rb") as f:
        data = f.read()
    out = []
    off = 24
    while off < len(data):
        n = data[off]
        k = 1
        if n >= 0x80:
            n = (n & 0x7F) | data[off + 1] << 7
            k = 2
        out.append((off, k + n + 4))
        off += k + n + 4
    return out


def test_a_damaged_frame_in_the_middle_loses_only_its_own_records():
    s = make_store()
    sid = s.stream_id("a")
    for i in range(20):
        s.append(sid, T0 + i, i)
        if i % 5 == 4:
            s.flush()  # a frame of 5 records
    s.close()
    seg = _last[0] + "/" + _segments(_last[0])[0]
    frames = _frames_of(seg)
    assert len(frames) == 4
    _poke(seg, frames[1][0] + 7, 0x5A)
    s = make_store(reopen=True)
    assert [r[2] for r in s.records(sid)] == [i for i in range(20) if not 5 <= i < 10]
    assert s.pending(sid) == 15 and s.stats()["skipped_bytes"] > 0
    s.close()


def test_a_damaged_frame_length_is_skipped_by_resynchronisation():
    s = make_store()
    sid = s.stream_id("a")
    for i in range(20):
        s.append(sid, T0 + i, "value %d" % i)
        if i % 4 == 3:
            s.flush()
    s.close()
    seg = _last[0] + "/" + _segments(_last[0])[0]
    frames = _frames_of(seg)
    _poke(seg, frames[2][0], 0x7E)
    s = make_store(reopen=True)
    assert [r[2] for r in s.records(sid)] == ["value %d" % i for i in range(20) if not 8 <= i < 12]
    s.close()


def test_a_torn_tail_is_cut_off_at_open_and_appending_goes_on():
    s = make_store()
    sid = s.stream_id("a")
    for i in range(10):
        s.append(sid, T0 + i, i)
    s.close()
    seg = _last[0] + "/" + _segments(_last[0])[0]
    size = os.stat(seg)[6]
    with open(seg, "ab") as f:
        f.write(b"\x0c\x08\x00\x02\x01")  # the start of a record, cut by a power loss
    s = make_store(reopen=True)
    assert os.stat(seg)[6] == size
    s.append(sid, T0 + 10, 10)
    assert [r[2] for r in s.records(sid)] == list(range(11))
    s.close()


def test_a_segment_with_a_damaged_header_is_set_aside():
    s = make_store()
    sid = s.stream_id("a")
    s.append(sid, T0, 1)
    s.close()
    seg = _last[0] + "/" + _segments(_last[0])[0]
    _poke(seg, 0, ord("X"))
    s = make_store(reopen=True)
    assert s.pending() == 0 and s.stats()["bad_segments"] == 1
    s.append(sid, T0 + 1, 2)
    assert [r[2] for r in s.records(sid)] == [2]
    s.close()


def test_a_segment_never_exceeds_the_segment_size():
    s = make_store(capacity=65536)
    sid = s.stream_id("a")
    for i in range(3000):
        s.append(sid, T0 + i * 7, "%d" % (i * 7919 % 100003))
    s.close()
    names = _segments(_last[0])
    assert len(names) > 2
    for n in names:
        assert os.stat(_last[0] + "/" + n)[6] <= 4096


def test_frames_written_before_the_first_count_keep_positions_of_their_own():
    # a reopened store counts its backlog at the first call that needs it; frames flushed before
    # that call come after the counted ones, and so do their positions
    s = make_store()
    sid = s.stream_id("a")
    for i in range(10):
        s.append(sid, T0 + i, i)
    s.close()
    s = make_store(reopen=True)
    for i in range(10, 20):
        s.append(sid, T0 + i, i)
    s.flush()
    assert s.pending(sid) == 20  # the count
    for i in range(20, 30):
        s.append(sid, T0 + i, i)
    got = list(s.records(sid))
    assert [r[2] for r in got] == list(range(30))
    assert len(set(r[0] for r in got)) == 30
    s.commit(sid, got[14][0], 15)
    s.close()
    s = make_store(reopen=True)
    assert [r[2] for r in s.records(sid)] == list(range(15, 30))
    s.close()


def test_auto_flush_by_records_syncs_every_n_appends():
    s = make_store(flush_records=10)
    sid = s.stream_id("a")
    for i in range(35):
        s.append(sid, T0 + i, i)
    assert s.stats()["flushes"] == 3
    s.close()


def test_auto_flush_by_bytes_syncs_once_enough_bytes_wait():
    s = make_store(flush_bytes=100)
    sid = s.stream_id("a")
    flushes = []
    for i in range(40):
        s.append(sid, T0 + i, i)
        flushes.append(s.stats()["flushes"])
    assert 0 < flushes[-1] < 40 and flushes[0] == 0
    s.close()


def test_commit_of_a_position_that_is_not_a_record_is_refused():
    s = make_store()
    sid = s.stream_id("a")
    s.append(sid, T0, 1)
    pos = list(s.records(sid))[0][0]
    raises(ValueError, s.commit, sid, pos + 1, 1)
    assert s.pending(sid) == 1
    s.close()


def test_bad_options_are_refused():
    d = tmpdir("store")
    raises(ValueError, Store, d + "/a", on_full="drop_all")
    raises(ValueError, Store, d + "/b", capacity=4096)
    raises(ValueError, Store, d + "/c", flush_ms=-1)


def test_append_of_ints_and_floats_does_not_allocate():
    if not IS_MICROPYTHON:
        skip("heap_lock is the unix port's")
    if sys.maxsize < 2**40:
        skip("a 32-bit port holds ms timestamps (~1.7e12) as heap ints: ts - base allocates there")
    import micropython

    s = make_store(capacity=65536)
    sid = s.stream_id("a")
    s.append(sid, T0, 0)  # opens the segment file
    values = (1, -5, 123456, 2.5, 0.1, True, 21.75)
    n = 0
    err = None
    micropython.heap_lock()
    try:
        while n < 140:
            s.append(sid, T0 + n * 1000, values[n % 7])
            n += 1
    except MemoryError as e:
        err = e
    micropython.heap_unlock()
    assert err is None, "append allocated at sample %d" % n
    assert s.pending(sid) == 141
    s.close()


def test_meta_given_to_commit_is_saved_with_the_cursor_and_survives_a_reopen():
    s = make_store()
    sid = s.stream_id("a")
    s.append(sid, T0, 1)
    s.append(sid, T0 + 1, 2)
    got = list(s.records(sid))
    s.commit(sid, got[0][0], 1, {"sent": 1, "qday": 19700})
    assert s.meta() == {"sent": 1, "qday": 19700}
    s.close()
    s = make_store(reopen=True)
    assert s.meta() == {"sent": 1, "qday": 19700} and s.pending(sid) == 1
    s.close()


def test_meta_is_saved_even_when_the_cursor_does_not_move():
    s = make_store()
    sid = s.stream_id("a")
    s.append(sid, T0, 1)
    got = list(s.records(sid))
    s.commit(sid, got[0][0], 1, {"sent": 1})
    s.commit(sid, got[0][0], 0, {"sent": 1, "rejected": 2})
    s.close()
    s = make_store(reopen=True)
    assert s.meta() == {"sent": 1, "rejected": 2}
    s.close()


def test_dropped_full_survives_a_reopen_under_drop_oldest():
    s = make_store(capacity=16384)
    sid = s.stream_id("a")
    n = 0
    while s.stats()["dropped_full"] == 0 and n < 20000:
        s.append(sid, T0 + n, n)
        n += 1
    dropped = s.stats()["dropped_full"]
    s.close()
    s = make_store(capacity=16384, reopen=True)
    assert s.stats()["dropped_full"] == dropped
    s.close()


def test_refused_samples_are_counted_across_a_reopen_under_drop_newest():
    s = make_store(capacity=16384, on_full="drop_newest")
    sid = s.stream_id("a")
    n = 0
    while n < 20000 and s.append(sid, T0 + n, n):
        n += 1
    s.append(sid, T0 + n, n)
    s.close()
    s = make_store(capacity=16384, on_full="drop_newest", reopen=True)
    assert s.stats()["dropped_full"] == 2
    assert not s.append(sid, T0 + n + 1, n + 1)
    assert s.stats()["dropped_full"] == 3
    s.close()


def test_a_streams_file_damaged_into_too_many_names_is_not_used():
    s = make_store()
    s.stream_id("a")
    s.close()
    with open(_last[0] + "/streams", "w") as f:
        f.write("x\n" * 300)
    s = make_store(reopen=True)
    assert s.stream_id("a") == 0
    s.close()


def test_a_stream_name_holding_a_carriage_return_keeps_its_id_across_a_reopen():
    # the names file was read in text mode: CPython's universal newlines read "a\rb" as two
    # names, and every later stream's id moved onto another's samples
    s = make_store()
    assert [s.stream_id(n) for n in ("x", "a\rb", "y")] == [0, 1, 2]
    s.close()
    s = make_store(reopen=True)
    assert [s.stream_id(n) for n in ("x", "a\rb", "y")] == [0, 1, 2]
    s.close()


class _NoRoomOnce:
    # a segment file whose first flush finds the file system full (ENOSPC), then works
    failed = [False]

    def __init__(self, f):
        self._f = f

    def __getattr__(self, name):
        return getattr(self._f, name)

    def flush(self):
        if not _NoRoomOnce.failed[0]:
            _NoRoomOnce.failed[0] = True
            raise OSError(28)
        self._f.flush()


def test_a_new_segments_header_that_finds_no_room_drops_the_oldest_first():
    # the file system short of room for the next segment (statvfs says so) and the next one's
    # header finding none itself: under drop_oldest the oldest segment goes first, counted, and
    # the samples keep coming (the header's flush is where a full file system says so)
    import blynklog.store as store_module

    s = make_store(capacity=65536)
    sid = s.stream_id("a")
    assert s.append(sid, T0, 0)
    fw = store_module.fw
    room = fw._room
    fw._room = lambda store: False
    fw.open = lambda name, mode: _NoRoomOnce(open(name, mode))
    _NoRoomOnce.failed[0] = False
    n = 4000  # about three segments of 4 KB
    try:
        for i in range(1, n):
            assert s.append(sid, T0 + i * 1000, i * 7919 % 1000003)
        s.flush()
    finally:
        fw._room = room
        del fw.open
    assert _NoRoomOnce.failed[0]
    st = s.stats()
    assert st["dropped_full"] > 0 and st["dropped_full"] + st["pending"] == n, st
    assert [r[1] for r in s.records(sid)] == [T0 + i * 1000 for i in range(n - st["pending"], n)]
    s.close()


def test_new_stream_names_given_together_write_the_names_file_once_and_read_the_backlog_once():
    # one name at a time, 20 new names wrote the names file 20 times and read every segment 20
    # times (60 names over 69 segments: 347 ms of a Logger() on the board-like port)
    s = make_store(capacity=65536)
    a = s.stream_id("a")
    for i in range(3000):
        s.append(a, T0 + i * 7, "%d" % (i * 7919 % 100003))
    s.close()
    segments = len(_segments(_last[0]))
    assert segments > 2
    s = make_store(capacity=65536, reopen=True)
    calls = {"names": 0, "headers": 0}
    save, read = s._save_names, s._read_header

    def counted_save():
        calls["names"] += 1
        save()

    def counted_read(seq, f=None):
        calls["headers"] += 1
        return read(seq, f)

    s._save_names, s._read_header = counted_save, counted_read
    s.pending(0)  # the backlog counted first, as a Logger's first sync would
    calls["headers"] = 0
    names = ["s%d" % i for i in range(20)]
    assert s.stream_ids(["a"] + names + ["s3"]) == [0] + list(range(1, 21)) + [4]
    assert calls == {"names": 1, "headers": segments}, calls
    assert [s.pending(i) for i in range(21)] == [3000] + [0] * 20
    s.close()
    s = make_store(capacity=65536, reopen=True)
    assert [s.stream_id(n) for n in names] == list(range(1, 21))
    s.close()


def test_a_bad_name_among_new_ones_is_refused_and_none_of_them_joins():
    s = make_store()
    s.stream_id("a")
    raises(ValueError, s.stream_ids, ["b", "", "c"])
    raises(TypeError, s.stream_ids, ["b", 3])
    s.close()
    s = make_store(reopen=True)
    assert s.stream_ids(["c", "a"]) == [1, 0]
    s.close()
