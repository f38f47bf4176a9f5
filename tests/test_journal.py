# The wake journal: a Logger built from a configuration file validated before (a deep-sleep wake
# after the first) writes the numbers it is given to <store>/journal without loading the
# store; the store takes them in when it next opens, exactly once, in order and with their times,
# values, flags and decimals as a direct append would have stored them. Whatever a journal cannot
# hold (a string, a location, a full or damaged journal, a store that refuses when full) goes to
# the store itself. Power cuts at every block write of the wakes and of the taking in (real
# littlefs, unix port) lose no acknowledged sample and store none twice.
import json
import os
import sys

from blockdev import RAMBlockDev, littlefs
from blynklog import Logger
from blynklog.clock import Clock
from blynklog.store import Store
from logger_support import Unloaded
from support import raises, tmpdir

T0 = 1767225600000
STREAMS = {
    "t": {"pin": "V1", "decimals": 2},
    "n": {"pin": "V2", "type": "int"},
    "s": {"pin": "V3", "type": "string"},
    "b": {"pin": "V4", "type": "bool"},
}


def _config(folder, clock=None, **store):
    st = {"path": "data-folder", "capacity": 65536}
    for k in store:
        st[k] = store[k]
    cfg = {
        "server": "https://127.0.0.1:9",
        "api": "device",
        "token": "journal-token",
        "insecure": True,
        "streams": STREAMS,
        "store": st,
    }
    if clock is not None:
        cfg["clock"] = clock
    path = folder + "/config.json"
    with open(path, "w") as f:
        f.write(json.dumps(cfg))
    return path


def _first_start(path):
    # the first Logger() validates the file and makes the store; the next ones find the cache
    log = Logger(path)
    log.close()


def _folder(path):
    # the store's folder: state.json, the journal, and data/ (the segments)
    return path.rsplit("/", 1)[0] + "/data-folder"


def _data(path):
    return _folder(path) + "/data"


def _files(path):
    return sorted(os.listdir(_folder(path)))


def _stored(path):
    # {stream: [(ts, value)]} of what the store holds, oldest first (opening it takes a journal in)
    st = Store(_data(path), capacity=65536, journal=_folder(path))
    out = {}
    for name in STREAMS:
        sid = st.stream_id(name)
        out[name] = [(r[1], r[2]) for r in st.records(sid)]
    st.close()
    return out


def _wake(path, k, flush=True):
    # one sampling wake: numbers at given times (k varies them)
    log = Logger(path)
    kind = type(log._store).__name__
    log.add("t", 20.25 + k, ts=T0 + 1000 * k)
    log.add("n", 7 + k, ts=T0 + 1000 * k)
    log.add("t", 20.5 + k, ts=T0 + 1000 * k + 1)
    if flush:
        log.flush()
    return log, kind


def test_a_wake_after_the_first_writes_its_numbers_to_the_journal_without_loading_the_store():
    path = _config(tmpdir())
    _first_start(path)
    saved = {}
    for name in ("blynklog.store", "blynklog.frame"):
        if name in sys.modules:
            saved[name] = sys.modules.pop(name)
    try:
        log, kind = _wake(path, 1)
        loaded = [name for name in ("blynklog.store", "blynklog.frame") if name in sys.modules]
    finally:
        for name in saved:
            sys.modules[name] = saved[name]
    assert kind == "Journal"
    assert loaded == []
    assert "journal" in _files(path)
    assert os.stat(_folder(path) + "/journal")[6] == 3 * 28


def test_a_wakes_bool_samples_go_to_the_journal_and_are_stored_as_bools():
    # a bool sample opened the whole store at every wake (some 470 ms of a Pico W's wake)
    path = _config(tmpdir())
    _first_start(path)
    log = Logger(path)
    log.add("b", True, ts=T0)
    log.add("b", 0, ts=T0 + 1)
    log.flush()
    kind = type(log._store).__name__
    log.close()
    assert kind == "Journal"
    got = _stored(path)["b"]
    assert got == [(T0, True), (T0 + 1, False)] and [type(v) for _, v in got] == [bool, bool], got


def test_the_store_takes_the_journal_in_at_its_opening_and_the_journal_goes():
    path = _config(tmpdir())
    _first_start(path)
    for k in range(3):
        _wake(path, k)
    got = _stored(path)
    assert got["t"] == [(T0 + 1000 * k + d, 20.25 + k + 0.25 * d) for k in range(3) for d in (0, 1)]
    assert got["n"] == [(T0 + 1000 * k, 7 + k) for k in range(3)]
    assert [n for n in _files(path) if n.startswith("journal")] == []


def test_samples_through_the_journal_are_stored_as_a_direct_add_stores_them():
    direct = _config(tmpdir())
    log = Logger(direct)  # validates: the store itself
    assert type(log._store).__name__ == "Store"
    for k in range(2):
        log.add("t", 20.25 + k, ts=T0 + 1000 * k)
        log.add("n", 7 + k, ts=T0 + 1000 * k)
        log.add("t", 20.5 + k, ts=T0 + 1000 * k + 1)
    log.close()
    path = _config(tmpdir())
    _first_start(path)
    for k in range(2):
        _wake(path, k)
    assert _stored(path) == _stored(direct)


def test_clock_stamped_samples_keep_their_times_through_the_journal():
    path = _config(tmpdir())
    _first_start(path)
    log = Logger(path)
    log.clock.set_time_ms(T0 + 5000, "user")
    log.add("t", 1.5)
    log.add("t", 2.5)  # the same ms: a ms later, as add() makes it
    log.flush()
    got = _stored(path)["t"]
    assert len(got) == 2 and got[1][0] == got[0][0] + 1 and T0 + 5000 <= got[0][0] < T0 + 65000, got


def _burst(log, n):
    # n clock-stamped adds of "t" in one tick of a clock set at T0; -> how many add() refused
    log.clock = Clock(log._state, ticks=lambda: 0, port_time_ms=lambda: T0)
    refused = 0
    for i in range(n):
        try:
            log.add("t", float(i))
        except ValueError:
            refused += 1
    log.close()
    return refused


def test_a_burst_of_clock_stamps_through_the_journal_is_stamped_as_a_direct_add_stamps_it():
    # a ms apart, at most 1000 ms ahead of the clock, the rest refused: never a stamp twice
    direct = _config(tmpdir())
    log = Logger(direct)
    assert type(log._store).__name__ == "Store"
    assert _burst(log, 1003) == 2
    path = _config(tmpdir())
    _first_start(path)
    log = Logger(path)
    assert type(log._store).__name__ == "Journal"
    assert _burst(log, 1003) == 2
    got = _stored(path)["t"]
    assert [ts for ts, _ in got] == [T0 + i for i in range(1001)]
    assert got == _stored(direct)["t"]


def test_a_ts_after_the_clocks_max_year_is_refused_at_a_wake_and_reaches_no_journal():
    path = _config(tmpdir(), clock={"min_year": 2070})  # the clock stays unset (before 2070)
    _first_start(path)
    log = Logger(path)
    assert type(log._store).__name__ == "Journal"
    e = str(raises(ValueError, log.add, "t", 1.5, ts=4000000000000))
    log.flush()
    assert type(log._store).__name__ == "Journal"
    log.close()
    assert e == "ts 4000000000000 is too far in the future (after 2070, the clock's max_year)", e
    assert "journal" not in _files(path)
    assert _stored(path)["t"] == []


def test_stats_after_wakes_count_the_journals_samples_as_pending():
    path = _config(tmpdir())
    _first_start(path)
    for k in range(2):
        _wake(path, k)
    log, _ = _wake(path, 2, flush=False)  # three more still in RAM
    st = log.stats()
    log.close()
    assert st["pending"] == 9, st


def _seg_bytes(path):
    return sum(os.stat(_data(path) + "/" + n)[6] for n in os.listdir(_data(path)) if n.endswith(".seg"))


def _filled(path, n):
    # a store holding n samples of "t", added directly (the first Logger validates: no journal)
    log = Logger(path)
    for k in range(n):
        log.add("t", 20.25 + k, ts=T0 + 1000 * k)
    log.close()


def test_fill_at_a_wake_counts_the_segments_and_the_journal_without_opening_the_store():
    path = _config(tmpdir())
    _filled(path, 500)
    _wake(path, 0)
    saved = {}
    for name in ("blynklog.store", "blynklog.frame"):
        if name in sys.modules:
            saved[name] = sys.modules.pop(name)
    try:
        log, kind = _wake(path, 1, flush=False)  # three in the file, three in RAM
        got = log.fill()
        loaded = [name for name in ("blynklog.store", "blynklog.frame") if name in sys.modules]
    finally:
        for name in saved:
            sys.modules[name] = saved[name]
    assert kind == "Journal" and loaded == []
    assert os.stat(_folder(path) + "/journal")[6] == 3 * 28
    assert got == (_seg_bytes(path) + 6 * 28) / 65536


def test_fill_at_a_wake_is_at_most_the_journals_bytes_above_the_stores_own():
    path = _config(tmpdir())
    _filled(path, 500)
    for k in range(5):
        _wake(path, k)
    log, _ = _wake(path, 5)
    at_wake = log.fill()
    log.stats()  # opens the store: the journal is taken in
    opened = log.fill()
    log.close()
    assert type(log._store).__name__ == "Store"
    assert opened < at_wake <= opened + 18 * 28 / 65536, (opened, at_wake)


def _upload_side_or_store_loaded():
    return [
        n for n in ("blynklog.store", "blynklog.frame", "blynklog.logger_sync", "blynklog.policy") if n in sys.modules
    ]


def test_close_at_a_wake_leaves_the_journal_without_opening_the_store_or_loading_the_upload_side():
    path = _config(tmpdir())
    _first_start(path)
    saved = {}
    for name in _upload_side_or_store_loaded():
        saved[name] = sys.modules.pop(name)
    try:
        log, kind = _wake(path, 1, flush=False)
        log.close()
        loaded = _upload_side_or_store_loaded()
    finally:
        for name in saved:
            sys.modules[name] = saved[name]
    assert kind == "Journal" and loaded == []
    assert os.stat(_folder(path) + "/journal")[6] == 3 * 28


def test_stats_after_a_wakes_close_count_its_samples_and_leave_the_store_closed():
    path = _config(tmpdir())
    _first_start(path)
    _wake(path, 0)
    log, _ = _wake(path, 1, flush=False)
    log.close()
    first = log.stats()
    assert first["pending"] == 6 and log.stats() == first
    assert [n for n in _files(path) if n.startswith("journal")] == []
    assert log._store._closed
    assert [ts for ts, _ in _stored(path)["n"]] == [T0, T0 + 1000]


def test_samples_a_failed_journal_write_left_in_ram_go_to_the_store_at_close():
    path = _config(tmpdir())
    _first_start(path)
    import blynklog.journal as journal

    real_open = open

    def journal_refused(name, *args):
        if name.endswith("/journal") and args and args[0] == "ab":
            raise OSError(28)
        return real_open(name, *args)

    log, _ = _wake(path, 0, flush=False)
    journal.open = journal_refused
    try:
        try:
            log.flush()
            raise AssertionError("the flush did not fail")
        except OSError:
            pass
    finally:
        del journal.open
    log.close()
    assert log.stats()["pending"] == 3
    assert [ts for ts, _ in _stored(path)["n"]] == [T0]


class _ReachedThenFailed:
    # a journal file whose write reaches it, then fails (an fsync on a host disk, a write cut short)
    def __init__(self, f):
        self.f = f

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()

    def write(self, b):
        self.f.write(b)
        raise OSError(5)

    def flush(self):
        pass

    def fileno(self):
        return self.f.fileno()


def test_records_a_failed_journal_write_left_in_the_file_are_stored_once():
    # the store took in the records the file held, and the RAM buffer gave them again: 6 where
    # 3 were added
    path = _config(tmpdir())
    _first_start(path)
    import blynklog.journal as journal

    real_open = open

    def reached_then_failed(name, *args):
        f = real_open(name, *args)
        if name.endswith("/journal") and args and args[0] == "ab":
            return _ReachedThenFailed(f)
        return f

    log, _ = _wake(path, 0, flush=False)
    journal.open = reached_then_failed
    try:
        try:
            log.flush()
            raise AssertionError("the flush did not fail")
        except OSError:
            pass
    finally:
        del journal.open
    log.close()
    stored = _stored(path)
    assert log.stats()["pending"] == 3
    assert [ts for ts, _ in stored["n"]] == [T0] and len(stored["t"]) == 2, stored


_DAY = 86400000


def _waits(books=None, state=None):
    # upload_wait_ms() at a journal wake, then from the same Logger once its store is open: the
    # store's commit meta (books) and state.json's entries (state) set as syncs leave them, the
    # clock set
    from blynklog.compat import unix_ms

    path = _config(tmpdir())
    log = Logger(path)
    log.clock.set_time_ms(unix_ms(), "user")
    log.add("n", 1, ts=T0)
    log.flush()
    if books is not None:
        sid = log._store.stream_id("n")
        pos = list(log._store.records(sid))[0][0]
        log._store.commit(sid, pos, 1, books(log.clock.now_ms()))
    for k in state or ():
        log._state.set(k, state[k](log.clock.now_ms()))
    log.close()
    log, kind = _wake(path, 1)
    saved = {}
    for name in _upload_side_or_store_loaded():
        saved[name] = sys.modules.pop(name)
    try:
        at_wake = log.upload_wait_ms()
        loaded = _upload_side_or_store_loaded()
    finally:
        for name in saved:
            sys.modules[name] = saved[name]
    assert kind == "Journal" and loaded == [] and "journal" in _files(path)
    log.stats()  # the store opens: the Uploader's books answer from here on
    opened = log.upload_wait_ms()
    log.close()
    return at_wake, opened


def test_upload_wait_ms_at_a_wake_is_0_when_nothing_holds_the_upload_back():
    assert _waits() == (0, 0)


def test_upload_wait_ms_at_a_wake_reads_the_back_off_from_the_state_as_the_uploader_does():
    at_wake, opened = _waits(state={"retry": lambda now: {"n": 2, "at": now + 600000}})
    assert 590000 < opened <= at_wake <= 600000, (at_wake, opened)


def test_upload_wait_ms_at_a_wake_reads_the_days_spent_quota_from_the_store_as_the_uploader_does():
    at_wake, opened = _waits(books=lambda now: {"qday": now // _DAY, "qsent": 10000, "qprev": 0})
    assert 0 < opened <= at_wake <= _DAY and at_wake - opened < 10000, (at_wake, opened)


def test_upload_wait_ms_at_a_wake_reads_the_servers_quota_answer_as_the_uploader_does():
    at_wake, opened = _waits(state={"quota_full": lambda now: now // _DAY})
    assert 0 < opened <= at_wake <= _DAY and at_wake - opened < 10000, (at_wake, opened)


def test_upload_wait_ms_at_a_wake_forgets_yesterdays_spent_quota_as_the_uploader_does():
    assert _waits(books=lambda now: {"qday": now // _DAY - 1, "qsent": 10000, "qprev": 0}) == (0, 0)


def test_a_ninth_number_before_a_flush_opens_the_store_and_no_journal_is_written():
    # the wake's buffer holds 8 records until its flush: more go to the store, in one frame
    path = _config(tmpdir())
    _first_start(path)
    log, kind = _wake(path, 0, flush=False)
    for k in range(1, 4):  # 9 numbers in all
        log.add("n", 7 + k, ts=T0 + 1000 * k)
        log.add("t", 20.25 + k, ts=T0 + 1000 * k)
    after = type(log._store).__name__
    log.close()
    assert kind == "Journal" and after == "Store"
    assert [n for n in _files(path) if n.startswith("journal")] == []
    got = _stored(path)
    assert [ts for ts, _ in got["n"]] == [T0 + 1000 * k for k in range(4)]
    assert [v for _, v in got["t"]] == [20.25, 20.5, 21.25, 22.25, 23.25]


def test_a_string_opens_the_store_and_the_samples_before_it_keep_their_order():
    path = _config(tmpdir())
    _first_start(path)
    _wake(path, 0)
    log, _ = _wake(path, 1, flush=False)
    log.add("s", "hello", ts=T0 + 5000)
    log.add("t", 99.5, ts=T0 + 6000)
    assert type(log._store).__name__ == "Store"
    log.close()
    got = _stored(path)
    assert [v for _, v in got["t"]] == [20.25, 20.5, 21.25, 21.5, 99.5]
    assert got["s"] == [(T0 + 5000, "hello")]


def test_a_full_journal_opens_the_store_at_the_next_wake():
    path = _config(tmpdir())
    _first_start(path)
    kinds = []
    for k in range(30):  # 3 records a wake: the journal holds 2048 bytes
        log, kind = _wake(path, k)
        kinds.append(kind)
        if kind == "Store":
            log.close()
    assert kinds[0] == "Journal" and "Store" in kinds, kinds
    first = kinds.index("Store")
    assert (first * 3 + 8) * 28 > 2048 >= (first * 3) * 28, first
    got = _stored(path)
    assert [ts for ts, _ in got["n"]] == [T0 + 1000 * k for k in range(30)]


def test_a_store_that_refuses_when_full_gets_no_journal():
    # add() says at once whether a drop_newest store took the sample: the store stays itself
    path = _config(tmpdir(), on_full="drop_newest")
    _first_start(path)
    _log, kind = _wake(path, 0)
    assert kind == "Store"


def test_a_store_that_flushes_by_itself_gets_no_journal():
    # flush_records, flush_bytes or flush_ms: add() may be durable when it returns
    path = _config(tmpdir(), flush_records=1)
    _first_start(path)
    _log, kind = _wake(path, 0, flush=False)
    assert kind == "Store"


def test_samples_a_flush_acknowledged_are_stored_though_the_store_now_refuses_when_full():
    # the configuration changed to drop_newest after wakes wrote the journal, with the store full:
    # the journal's samples displace the oldest ones, as when they were added
    path = _config(tmpdir())
    _first_start(path)
    data = _data(path)
    st = Store(data, capacity=8192, segment_size=4096)
    sid = st.stream_id("n")
    i = 0
    while st.append(sid, T0 - 10000000 + i * 1000, 1000000 + i * 7919) and st.stats()["dropped_full"] == 0:
        i += 1
    st.close()
    for k in range(2):
        _wake(path, k)
    st = Store(data, capacity=8192, segment_size=4096, on_full="drop_newest", journal=_folder(path))
    got = [r[1] for r in st.records(st.stream_id("n"))]
    st.close()
    assert got[-2:] == [T0, T0 + 1000], got[-4:]


def test_a_journal_ending_in_a_part_record_is_taken_in_to_its_last_whole_record():
    path = _config(tmpdir())
    _first_start(path)
    _wake(path, 0)
    with open(_folder(path) + "/journal", "ab") as f:
        f.write(b"\x00" * 11)  # a write cut short (not on littlefs, whose appends are atomic)
    _log, kind = _wake(path, 1)
    assert kind == "Store"  # no wake appends after a part record
    got = _stored(path)
    assert [ts for ts, _ in got["n"]] == [T0, T0 + 1000]


def test_a_damaged_journal_record_is_skipped_and_the_others_are_taken_in():
    path = _config(tmpdir())
    _first_start(path)
    _wake(path, 0)
    with open(_folder(path) + "/journal", "rb") as f:
        data = bytearray(f.read())
    data[28 + 12] ^= 0x40  # the second record's ts
    with open(_folder(path) + "/journal", "wb") as f:
        f.write(data)
    got = _stored(path)
    assert got["t"] == [(T0, 20.25), (T0 + 1, 20.5)]
    assert got["n"] == []


def _cut_after_two(path):
    # a wake's 3 records in the journal, then an opening of the store cut (OSError) after it took
    # in 2 of them and flushed: journal.in and its seal stay -> the store's folder
    _first_start(path)
    _wake(path, 0)
    import blynklog.journal as journal

    take = journal.take

    def two_then_cut(store, buf, n, i, done):
        take(store, buf, 2, i, done)
        store.flush()
        raise OSError(5)

    journal.take = two_then_cut
    try:
        try:
            Store(_data(path), capacity=65536, journal=_folder(path))
            raise AssertionError("the cut did not happen")
        except OSError:
            pass
    finally:
        journal.take = take
    return _folder(path)


def test_a_journal_found_with_its_seal_is_taken_in_from_where_the_store_stopped():
    # a power cut after the store took in part of journal.in: the seal holds where its records
    # begin in the store; those are counted and not taken again
    path2 = _config(tmpdir())
    folder2 = _cut_after_two(path2)
    assert "journal.seal" in os.listdir(folder2) and "journal.in" in os.listdir(folder2)
    got = _stored(path2)
    assert got["t"] == [(T0, 20.25), (T0 + 1, 20.5)] and got["n"] == [(T0, 7)], got
    assert [n for n in os.listdir(folder2) if n.startswith("journal")] == []


def test_a_seal_that_cannot_be_read_now_fails_the_opening_and_nothing_is_taken_twice():
    # a power cut left journal.in with its seal after 2 of its 3 records; the next opening cannot
    # read the seal (a transient fault): it fails rather than take all 3 again
    path = _config(tmpdir())
    folder = _cut_after_two(path)
    data = _data(path)
    import blynklog.journal as journal

    real_open = open

    def seal_unreadable(name, *args):
        if name.endswith("journal.seal"):
            raise OSError(5)
        return real_open(name, *args)

    journal.open = seal_unreadable
    try:
        try:
            Store(data, capacity=65536, journal=folder)
            raise AssertionError("the opening did not fail")
        except OSError:
            pass
    finally:
        del journal.open
    got = _stored(path)
    assert got["t"] == [(T0, 20.25), (T0 + 1, 20.5)] and got["n"] == [(T0, 7)], got


# ---- power cuts (real littlefs: the unix port)

MOUNT = "/jc"
WAKES = 6


def _lfs_config():
    cfg = {
        "server": "https://127.0.0.1:9",
        "api": "device",
        "token": "journal-token",
        "insecure": True,
        "streams": {"t": {"pin": "V1", "decimals": 2}, "n": {"pin": "V2", "type": "int"}},
        "store": {"path": MOUNT + "/st", "capacity": 32768},
    }
    with open(MOUNT + "/config.json", "w") as f:
        f.write(json.dumps(cfg))
    return MOUNT + "/config.json"


def _life(path, acked):
    # first start, WAKES journal wakes (3 samples each, flushed), then a full opening that takes
    # them in; acked: the ids of the samples whose flush returned
    log = Logger(path)
    log.close()
    for w in range(WAKES):
        log = Logger(path)
        for j in range(3):
            i = w * 3 + j
            log.add("n", i, ts=T0 + 1000 * i)
        log.flush()
        acked.extend(range(w * 3, w * 3 + 3))
        log.before_sleep(60000)
    st = Store(MOUNT + "/st/data", capacity=32768, journal=MOUNT + "/st")
    st.close()


def _ids_on_flash(bdev, vfs):
    vfs.mount(vfs.VfsLfs2(RAMBlockDev(data=bdev.data)), MOUNT)
    try:
        try:
            os.stat(MOUNT + "/st/data")
        except OSError:
            return []  # cut before the first start made the store
        st = Store(MOUNT + "/st/data", capacity=32768, journal=MOUNT + "/st")  # takes in what a cut left
        ids = [r[2] for r in st.records(st.stream_id("n"))]
        st.close()
    finally:
        vfs.umount(MOUNT)
    return ids


def _life_writes(vfs):
    # the block writes of the life without a cut
    bdev = RAMBlockDev(32)
    vfs.VfsLfs2.mkfs(bdev)
    vfs.mount(vfs.VfsLfs2(bdev), MOUNT)
    try:
        path = _lfs_config()
        bdev.reset_counts()
        _life(path, [])
    finally:
        vfs.umount(MOUNT)
    return bdev.writes


def _umount_cut(vfs):
    # the mount let go, though a power cut may have left littlefs unable to say so
    try:
        vfs.umount(MOUNT)
    except OSError:
        pass


def _life_cut(vfs, k):
    # the life with the power cut at block write k -> (the device, the ids acknowledged)
    bdev = RAMBlockDev(32)
    vfs.VfsLfs2.mkfs(bdev)
    vfs.mount(vfs.VfsLfs2(bdev), MOUNT)
    acked = []
    try:
        path = _lfs_config()
        bdev.arm(k)
        try:
            _life(path, acked)
        except OSError:
            pass
    finally:
        _umount_cut(vfs)
    return bdev, acked


def test_power_cuts_through_journal_wakes_and_the_taking_in_lose_nothing_acknowledged_and_store_nothing_twice():
    vfs = littlefs()
    total = _life_writes(vfs)
    assert total > 20, total
    for k in range(total):
        bdev, acked = _life_cut(vfs, k)
        ids = _ids_on_flash(bdev, vfs)
        assert len(ids) == len(set(ids)), "cut %d: stored twice: %s" % (k, ids)
        missing = [i for i in acked if i not in ids]
        assert not missing, "cut %d: acknowledged and lost: %s" % (k, missing)
        assert ids == sorted(ids), "cut %d: out of order: %s" % (k, ids)


def _recover(data, vfs, cut):
    # one opening of the store on a copy of data with the power cut at block write `cut` (None:
    # no cut) -> (the data after it, whether the cut came, the block writes made)
    bdev = RAMBlockDev(data=bytearray(data))
    vfs.mount(vfs.VfsLfs2(bdev), MOUNT)
    try:
        bdev.reset_counts()
        if cut is not None:
            bdev.arm(cut)
        try:
            os.stat(MOUNT + "/st/data")
            Store(MOUNT + "/st/data", capacity=32768, journal=MOUNT + "/st").close()
        except OSError:
            pass
    finally:
        _umount_cut(vfs)
    return bdev.data, bdev.dead, bdev.writes


def test_a_second_power_cut_while_the_store_recovers_the_journal_loses_and_doubles_nothing():
    # a cut at each of the last block writes of the wakes' life (the taking in), then a cut at
    # each block write of the next opening (the recovery), then a clean opening
    vfs = littlefs()
    total = _life_writes(vfs)
    cases = 0
    for k in range(max(0, total - 12), total):
        bdev, acked = _life_cut(vfs, k)
        _data_after, _cut, writes = _recover(bdev.data, vfs, None)
        for m in range(writes):
            data, cut, _w = _recover(bdev.data, vfs, m)
            assert cut, (k, m)
            ids = _ids_on_flash(RAMBlockDev(data=data), vfs)
            assert len(ids) == len(set(ids)), "cuts %d, %d: stored twice: %s" % (k, m, ids)
            missing = [i for i in acked if i not in ids]
            assert not missing, "cuts %d, %d: acknowledged and lost: %s" % (k, m, missing)
            cases += 1
    assert cases > 0


def _sync_with_a_fault(vfs, k):
    # a journal wake's sync whose k-th block write fails once (the server unreachable) -> (report,
    # the ids on flash after a clean opening)
    bdev = RAMBlockDev(32)
    vfs.VfsLfs2.mkfs(bdev)
    vfs.mount(vfs.VfsLfs2(bdev), MOUNT)
    try:
        path = _lfs_config()
        Logger(path).close()
        log = Logger(path)
        for i in range(3):
            log.add("n", i, ts=T0 + 1000 * i)
        log.flush()
        assert type(log._store).__name__ == "Journal"
        bdev.fail_once(k)
        report = log.sync(budget_ms=1000)
        log = None
    finally:
        vfs.umount(MOUNT)
    return report, _ids_on_flash(bdev, vfs)


def test_a_flash_fault_while_a_sync_takes_the_journal_in_is_reported_and_loses_nothing():
    vfs = littlefs()
    report, ids = _sync_with_a_fault(vfs, 0)  # the journal's rename fails
    assert report["stopped"] == "error" and "OSError" in report["last_error"], report
    assert ids == [0, 1, 2]
    for k in range(1, 12):  # each later block write of the sync in turn
        report, ids = _sync_with_a_fault(vfs, k)
        assert ids == [0, 1, 2], (k, ids, report)


def test_the_journal_leaves_ram_once_the_store_has_taken_it_in_at_a_wake():
    # the upload that opens the store needs the heap more than the journal's code (about 8 KB on
    # a Pico W): a later wake's Logger imports it again
    path = _config(tmpdir())
    _first_start(path)
    _wake(path, 0)[0].close()
    log, kind = _wake(path, 1, flush=False)
    held = "blynklog.journal" in sys.modules
    log.stats()  # opens the store: it takes the journal in
    gone = "blynklog.journal" not in sys.modules
    log.close()
    assert kind == "Journal" and held and gone
    assert [v for _, v in _stored(path)["t"]] == [20.25, 20.5, 21.25, 21.5]


def test_a_store_opened_on_a_journal_lets_the_journals_code_go_after_taking_it_in():
    path = _config(tmpdir())
    _first_start(path)
    _wake(path, 0)[0].close()
    with Unloaded(("blynklog.journal",)) as u:
        got = _stored(path)
        loaded = u.loaded()
    assert got["n"] == [(T0, 7)] and loaded == []
