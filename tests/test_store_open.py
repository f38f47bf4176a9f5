# Opening a store costs the same whatever its backlog: the folder is listed once, and no segment but
# the newest (the one appended to) is opened or stat-ed. Counted through a stand-in for the os and
# open of the store's modules (store.py, store_open.py), on a store of 2 segments and one of 12.
import blynklog.store as store_mod
import blynklog.store_open as open_mod  # imported here: Store() keeps it, with its stand-ins
from blynklog.store import Store
from support import tmpdir

T0 = 1767225600000


class _CountingOs:
    # the store's os module, counting listdir/ilistdir/stat calls by the path they name
    def __init__(self, real):
        self.real = real
        self.calls = []

    def __getattr__(self, name):
        fn = getattr(self.real, name)
        if name not in ("listdir", "ilistdir", "stat"):
            return fn

        def counted(path, *rest):
            self.calls.append((name, path))
            return fn(path, *rest)

        return counted


def _filled(path, segments):
    s = Store(path, capacity=64 * 256, segment_size=256)
    sid = s.stream_id("t")
    i = 0
    while len(s._segs) < segments:
        s.append(sid, T0 + i * 1000, float(i), 0, 2)
        i += 1
    s.close()


def _open_calls(path):
    # (os calls, opened paths) of Store(path)
    real_os = store_mod.os
    counting = _CountingOs(real_os)
    opened = []

    def counting_open(p, mode="r", *rest):
        opened.append(p)
        return open(p, mode, *rest)

    for mod in (store_mod, open_mod):
        mod.os = counting
        mod.open = counting_open
    try:
        s = Store(path, capacity=64 * 256, segment_size=256)
    finally:
        for mod in (store_mod, open_mod):
            mod.os = real_os
            del mod.open
    s.close()
    return [c[0] for c in counting.calls], opened, len(s._segs)


def test_opening_a_store_lists_stats_and_opens_as_much_for_a_backlog_as_for_none():
    few = tmpdir("open-few") + "/s"
    many = tmpdir("open-many") + "/s"
    _filled(few, 2)
    _filled(many, 12)
    calls_few, opened_few, segs_few = _open_calls(few)
    calls_many, opened_many, segs_many = _open_calls(many)
    assert (segs_few, segs_many) == (2, 12), (segs_few, segs_many)
    assert calls_many == calls_few, (calls_few, calls_many)
    assert len(calls_many) <= 2, calls_many  # the listing, and on a host the newest segment's size
    assert len(opened_many) == len(opened_few), (opened_few, opened_many)
    segs = [p for p in opened_many if p.endswith(".seg")]
    assert len(segs) == 1, opened_many


def test_a_backlog_opened_without_its_sizes_still_counts_its_bytes_and_records():
    path = tmpdir("open-bytes") + "/s"
    _filled(path, 5)
    s = Store(path, capacity=64 * 256, segment_size=256)
    before = s.stats()
    s.close()
    s = Store(path, capacity=64 * 256, segment_size=256)
    used, cap = s.usage()
    assert used == before["bytes"] and used > 4 * 200, (used, before)
    assert s.stats()["pending"] == before["pending"] > 0, before
    s.close()


def test_opening_tries_no_file_the_folder_listing_lacks():
    path = tmpdir("open-absent") + "/s"
    _filled(path, 2)  # no commit, no drop: no cursors file
    _calls, opened, _segs = _open_calls(path)
    names = [p.rsplit("/", 1)[1] for p in opened]
    assert "cursors" not in names and "cursors.new" not in names and "streams.new" not in names, names
    assert "streams" in names, names
