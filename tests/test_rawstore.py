# The raw-flash store (lib/blynklog/rawstore.py) on a RAM NOR simulator: every backend-agnostic
# store case (tests/store_cases.py), then what only a raw ring has: program-only writes, the
# sector ring's rotation and recovery, even wear, the file-backed device and the rp2 page adapter.
import store_cases
from blynklog import ConfigError
from blynklog.rawstore import FileFlash, PageFlash, RawStore, open_device
from norflash import NorFlash
from support import IS_MICROPYTHON, raises, skip, tmpdir

T0 = 1700000000000
_dev = [None]


def make_store(capacity=16384, on_full="drop_oldest", reopen=False):
    if not reopen or _dev[0] is None:
        _dev[0] = NorFlash(sectors=capacity // 4096, sector_size=4096)
    return RawStore(_dev[0], capacity=capacity, on_full=on_full)


# One test per shared case (store_cases.CASES), bound to this backend.
store_cases.bind(globals(), make_store)


def test_every_shared_case_is_bound_here():
    import test_rawstore

    missing = [c.__name__ for c in store_cases.CASES if not hasattr(test_rawstore, "test_" + c.__name__[5:])]
    assert missing == [], missing


def small(sectors=4, sector_size=512, **kw):
    d = NorFlash(sectors=sectors, sector_size=sector_size)
    return d, RawStore(d, **kw)


def test_a_fresh_device_is_formatted_without_erasing_blank_sectors():
    d, s = small()
    assert d.total_erases() == 0
    assert s.stats()["segments"] == 1 and s.pending() == 0


def test_a_device_holding_other_data_is_erased_at_format():
    d = NorFlash(sectors=4, sector_size=512)
    d.writeblocks(2, b"\x00\x11littlefs")
    RawStore(d)
    assert d.erases == [0, 0, 1, 0]


def test_every_append_programs_only_erased_bytes():
    # the simulator raises on a 1 over a 0: any rewrite of programmed bytes would fail here
    d, s = small()
    sid = s.stream_id("t")
    for i in range(400):
        assert s.append(sid, T0 + i * 1000, i * 0.5)
    assert d.total_erases() > 0 and s.stats()["dropped_full"] > 0


def test_each_append_is_durable_without_flush():
    d, s = small()
    sid = s.stream_id("t")
    s.append(sid, T0, 21.5)
    s2 = RawStore(d)  # no flush, no close: as after a power cut
    assert [r[2] for r in s2.records(sid)] == [21.5]


def test_a_commit_is_durable_when_it_returns():
    d, s = small()
    sid = s.stream_id("t")
    for i in range(20):
        s.append(sid, T0 + i, i)
    got = list(s.records(sid))
    s.commit(sid, got[4][0], 5)
    s2 = RawStore(d)
    assert [r[2] for r in s2.records(sid)] == list(range(5, 20)) and s2.pending(sid) == 15


def test_an_old_commit_position_changes_nothing():
    d, s = small()
    sid = s.stream_id("t")
    for i in range(10):
        s.append(sid, T0 + i, i)
    got = list(s.records(sid))
    s.commit(sid, got[5][0], 6)
    s.commit(sid, got[2][0], 3)
    assert s.pending(sid) == 4


def _ten(s, name="t"):
    sid = s.stream_id(name)
    for i in range(10):
        s.append(sid, T0 + i, i)
    return sid, list(s.records(sid))


def test_a_new_store_has_an_empty_meta():
    d, s = small()
    assert s.meta() == {} and RawStore(d).meta() == {}


def test_meta_given_to_commit_is_saved_with_the_cursor_and_survives_a_reopen():
    d, s = small()
    sid, got = _ten(s)
    s.commit(sid, got[3][0], 4, {"sent": 4, "qday": 19700, "qsent": -1})
    assert s.meta() == {"sent": 4, "qday": 19700, "qsent": -1}
    s2 = RawStore(d)
    assert s2.meta() == {"sent": 4, "qday": 19700, "qsent": -1} and s2.pending(sid) == 6


def test_meta_is_saved_even_when_the_cursor_does_not_move():
    d, s = small()
    sid, got = _ten(s)
    s.commit(sid, got[5][0], 6, {"sent": 6})
    s.commit(sid, got[2][0], 3, {"sent": 6, "rejected": 2})
    s2 = RawStore(d)
    assert s2.meta() == {"sent": 6, "rejected": 2} and s2.pending(sid) == 4


def test_a_commit_without_meta_keeps_the_last_meta():
    d, s = small()
    sid, got = _ten(s)
    s.commit(sid, got[1][0], 2, {"sent": 2})
    s.commit(sid, got[4][0], 3)
    s2 = RawStore(d)
    assert s2.meta() == {"sent": 2} and s2.pending(sid) == 5


def test_meta_survives_the_reclaim_of_every_sector_that_held_it():
    d, s = small()
    sid, got = _ten(s)
    s.commit(sid, got[-1][0], 10, {"sent": 10})
    for i in range(400):  # several laps of the 4-sector ring
        s.append(sid, T0 + 100 + i, i)
    assert min(d.erases) >= 2
    assert RawStore(d).meta() == {"sent": 10}


def test_meta_goes_into_the_checkpoint_when_the_commit_rotates():
    d, s = small(sectors=8)
    sid = s.stream_id("t")
    i = 0
    while s.stats()["segments"] == 1:
        snap = bytearray(d.data)
        s.append(sid, T0 + i, i)
        i += 1
    d.data[:] = snap  # back to the moment the first sector had no room for one more sample
    s = RawStore(d)
    got = list(s.records(sid))
    s.commit(sid, got[-1][0], len(got), {"sent": len(got)})
    assert s.stats()["segments"] == 2
    s2 = RawStore(d)
    assert s2.meta() == {"sent": len(got)} and s2.pending(sid) == 0 and s2.stats()["segments"] == 2


def test_a_meta_over_256_bytes_is_refused_and_changes_nothing():
    d, s = small(sector_size=4096)
    sid, got = _ten(s)
    s.commit(sid, got[0][0], 1, {"sent": 1})
    b = d.bytes_programmed
    e = raises(ValueError, s.commit, sid, got[4][0], 4, {"k%d" % i: 1000000 + i for i in range(30)})
    assert "meta" in str(e)
    assert d.bytes_programmed == b and s.pending(sid) == 9 and s.meta() == {"sent": 1}
    assert RawStore(d).meta() == {"sent": 1}


def test_a_meta_too_large_for_a_small_sector_is_refused():
    # 256-byte sectors: the checkpoint (streams and meta) must fit in 228 bytes
    d, s = small(sector_size=256)
    sid, got = _ten(s)
    raises(ValueError, s.commit, sid, got[0][0], 1, {"note": "x" * 200})
    assert s.pending(sid) == 10 and RawStore(d).meta() == {}
    s.commit(sid, got[0][0], 1, {"note": "x" * 100})
    assert RawStore(d).meta() == {"note": "x" * 100}


def test_a_meta_that_is_not_a_dict_is_refused():
    d, s = small()
    sid, got = _ten(s)
    raises(TypeError, s.commit, sid, got[0][0], 1, [1, 2])
    assert s.pending(sid) == 10 and s.meta() == {}


def test_meta_returns_a_copy():
    d, s = small()
    sid, got = _ten(s)
    s.commit(sid, got[0][0], 1, {"sent": 1})
    s.meta()["sent"] = 99
    assert s.meta() == {"sent": 1}


def test_a_commit_without_count_counts_the_covered_records():
    d, s = small()
    sid, got = _ten(s)
    s.stream_id("u")
    s.append(1, T0 + 50, 50)
    s.commit(sid, got[6][0])
    assert s.pending(sid) == 3 and s.pending(1) == 1
    assert RawStore(d).pending(sid) == 3


def test_a_reopen_before_the_first_lap_ends_counts_only_the_claimed_sectors():
    d, s = small(sectors=8)
    sid, got = _ten(s)
    st = RawStore(d).stats()
    assert st["segments"] == 1 and st["bytes"] < 512


def test_erases_go_round_the_ring_evenly():
    d, s = small(sectors=6)
    sid = s.stream_id("t")
    for i in range(3000):
        s.append(sid, T0 + i * 1000, i)
        if i % 50 == 49:
            got = list(s.records(sid))
            s.commit(sid, got[-1][0], len(got))
    st = s.stats()
    assert max(d.erases) - min(d.erases) <= 1
    assert st["erase_max"] - st["erase_min"] <= 1 and st["erase_max"] == max(d.erases)


def test_erase_counts_survive_a_reopen():
    d, s = small()
    sid = s.stream_id("t")
    for i in range(600):
        s.append(sid, T0 + i * 1000, i)
    st = RawStore(d).stats()
    assert st["erase_min"] == min(d.erases) and st["erase_max"] == max(d.erases)


def test_a_ring_smaller_than_three_sectors_is_refused():
    raises(ValueError, RawStore, NorFlash(sectors=2, sector_size=512))


def test_capacity_uses_only_the_first_sectors_of_the_device():
    d = NorFlash(sectors=8, sector_size=512)
    s = RawStore(d, capacity=4 * 512)
    sid = s.stream_id("t")
    for i in range(500):
        s.append(sid, T0 + i, i)
    assert d.erases[4:] == [0, 0, 0, 0] and d.data[4 * 512 :] == b"\xff" * (4 * 512)


def test_a_capacity_over_the_device_is_refused():
    raises(ValueError, RawStore, NorFlash(sectors=4, sector_size=512), 8 * 512)


def test_too_many_streams_are_refused_with_a_short_message():
    d, s = small(sector_size=4096)
    e = None
    for i in range(200):
        try:
            s.stream_id("stream-number-%03d" % i)
        except ValueError as x:
            e = x
            break
    assert e is not None and "streams" in str(e) and i >= 16


def test_names_outlive_the_sector_that_first_held_them():
    d, s = small()
    a = s.stream_id("alpha")
    b = s.stream_id("beta")
    for i in range(300):
        s.append(b, T0 + i, i)
    s2 = RawStore(d)
    assert s2.stream_id("alpha") == a and s2.stream_id("beta") == b


def test_records_survive_appends_that_reclaim_the_sector_being_read():
    d, s = small()
    sid = s.stream_id("t")
    for i in range(50):
        s.append(sid, T0 + i, i)
    seen = []
    for pos, ts, v, f in s.records(sid):
        seen.append(v)
        if v == 10:
            for j in range(50, 250):
                s.append(sid, T0 + j, j)
    assert seen == sorted(seen) and seen[-1] == 249


def test_a_record_torn_before_its_mark_closes_the_sector_and_is_not_returned():
    d, s = small()
    sid = s.stream_id("t")
    s.append(sid, T0, 1)
    d.arm(0, "prefix", seed=3)  # the record's program is cut: its mark is never written
    raises(OSError, s.append, sid, T0 + 1, 2)
    d.power_on()
    s2 = RawStore(d)
    assert [r[2] for r in s2.records(sid)] == [1]
    s2.append(sid, T0 + 2, 3)  # goes to a fresh sector, never over the torn bytes
    assert [r[2] for r in RawStore(d).records(sid)] == [1, 3]


def test_a_partly_programmed_mark_still_commits_a_whole_record():
    d, s = small()
    sid = s.stream_id("t")
    d.arm(1, "bits", seed=5)  # the record lands, its mark is torn
    raises(OSError, s.append, sid, T0, 7)
    d.power_on()
    got = [r[2] for r in RawStore(d).records(sid)]
    assert got in ([7], [])


def test_file_flash_keeps_data_across_instances():
    path = tmpdir() + "/nor.bin"
    f = FileFlash(path, 4 * 4096)
    s = RawStore(f)
    sid = s.stream_id("t")
    s.append(sid, T0, 1.5)
    f.close()
    f = FileFlash(path, 4 * 4096)
    assert [r[2] for r in RawStore(f).records(sid)] == [1.5]
    f.close()


def test_file_flash_refuses_a_one_over_a_zero():
    f = FileFlash(tmpdir() + "/nor.bin", 4 * 4096)
    f.writeblocks(1, b"\x0f", 10)
    raises(OSError, f.writeblocks, 1, b"\xf0", 10)
    f.close()


def test_open_device_gives_a_file_flash_on_the_host():
    cfg = {"backend": "raw", "path": tmpdir() + "/nor.bin", "capacity": 3 * 4096}
    dev = open_device(cfg)
    assert dev.ioctl(4, 0) == 3 and dev.ioctl(5, 0) == 4096
    dev.close()


def test_the_page_adapter_programs_whole_pages_padded_with_ones():
    class Pages(NorFlash):
        def writeblocks(self, n, buf, offset=0):
            assert offset % 256 == 0 and len(buf) == 256
            NorFlash.writeblocks(self, n, buf, offset)

    d = Pages(sectors=4, sector_size=4096)
    d.strict = False  # a real chip ignores the padding's ones
    p = PageFlash(d)
    p.writeblocks(1, b"abc", 254)
    got = bytearray(7)
    d.readblocks(1, got, 252)
    assert got == b"\xff\xffabc\xff\xff"
    s = RawStore(p)
    sid = s.stream_id("t")
    for i in range(300):
        s.append(sid, T0 + i, i)
    assert [r[2] for r in RawStore(p).records(sid)] == list(range(300))


def _books(sent):
    # a meta the size of the upload policy's (its counters and the day's quota)
    return {
        "qday": 19700 + sent // 5760,
        "qsent": sent % 5760,
        "sent": sent,
        "dropped_stale": 0,
        "rejected": 0,
        "thinned": 0,
        "unplaceable": 0,
    }


def _workload(s, n, t0=T0, v0=0):
    # two sensors every 30 s, an upload (commit of everything, with the policy's meta) every 240
    # samples
    t = s.stream_id("temperature")
    h = s.stream_id("humidity")
    for i in range(v0, v0 + n):
        if i % 2:
            s.append(h, t0 + i * 15000, 40 + (i * 7) % 30)
        else:
            s.append(t, t0 + i * 15000, 20.0 + ((i * 13) % 500) / 100, 0, 2)
        if i % 240 == 239:
            for sid in (t, h):
                got = list(s.records(sid))
                if got:
                    s.commit(sid, got[-1][0], len(got), _books(i + 1))


def test_wear_each_sample_durable_at_under_one_and_a_half_times_its_record():
    d = NorFlash(sectors=16, sector_size=4096)
    s = RawStore(d)
    _workload(s, 6000)  # warm up: the ring goes round, so every new sector costs an erase
    b0, e0, r0 = d.bytes_programmed, d.total_erases(), s.record_bytes
    _workload(s, 10000, v0=6000)
    st = s.stats()
    per_sample = (d.bytes_programmed - b0) / 10000
    record = (s.record_bytes - r0) / 10000
    erases = d.total_erases() - e0
    print(
        "raw store, 10000 samples, each durable at once: %.2f bytes programmed per sample, "
        "record %.2f bytes, %.3fx; %d erases per 10000 samples; erase counts per sector %d..%d"
        % (per_sample, record, per_sample / record, erases, st["erase_min"], st["erase_max"])
    )
    assert per_sample <= 1.5 * record
    assert st["erase_max"] - st["erase_min"] <= 1
    assert st["dropped_full"] == 0


class _Counting:
    # a fast RAM block device for littlefs that counts bytes programmed and erases
    def __init__(self, blocks, size=4096):
        self.size = size
        self.blocks = blocks
        self.data = bytearray(b"\xff" * (blocks * size))
        self.programmed = 0
        self.erases = 0

    def readblocks(self, n, buf, off=0):
        a = n * self.size + off
        buf[:] = memoryview(self.data)[a : a + len(buf)]

    def writeblocks(self, n, buf, off=0):
        a = n * self.size + off
        self.data[a : a + len(buf)] = buf
        self.programmed += len(buf)

    def ioctl(self, op, arg):
        if op == 4:
            return self.blocks
        if op == 5:
            return self.size
        if op == 6:
            self.erases += 1
        return 0


class _FlushEach:
    # the littlefs store made as durable as the raw one: flush() after every append
    def __init__(self, store):
        self.s = store

    def stream_id(self, name):
        return self.s.stream_id(name)

    def append(self, *a):
        ok = self.s.append(*a)
        self.s.flush()
        return ok

    def records(self, sid):
        return self.s.records(sid)

    def commit(self, sid, pos, count, meta=None):
        self.s.commit(sid, pos, count, meta)


def test_wear_of_the_littlefs_store_flushed_after_every_sample_for_comparison():
    # the figures beside the raw store's: littlefs rewrites the file's last block at every flush
    try:
        import vfs
        from blynklog.store import Store
    except ImportError:
        skip("needs littlefs (vfs.VfsLfs2): the unix port")
    dev = _Counting(64)
    vfs.VfsLfs2.mkfs(dev)
    vfs.mount(vfs.VfsLfs2(dev), "/rawcmp")
    try:
        s = Store("/rawcmp/s", capacity=65536)
        _workload(_FlushEach(s), 2000)
        b0, e0 = dev.programmed, dev.erases
        _workload(_FlushEach(s), 2000, v0=2000)
        per_sample = (dev.programmed - b0) / 2000
        erases = (dev.erases - e0) * 5
        print(
            "littlefs store, flush() after every sample: %.1f bytes programmed per sample, "
            "%d erases per 10000 samples" % (per_sample, erases)
        )
        assert per_sample > 1.5 * 13
        s.close()
    finally:
        vfs.umount("/rawcmp")


def test_open_device_puts_the_file_inside_an_existing_folder():
    d = tmpdir()
    dev = open_device({"path": d, "capacity": 3 * 4096})
    s = RawStore(dev, close_device=True)
    s.stream_id("t")
    s.close()
    import os

    assert "nor.bin" in os.listdir(d)


def test_a_record_larger_than_a_small_sector_is_refused_and_stores_nothing():
    d, s = small(sector_size=512)
    sid = s.stream_id("t")
    raises(ValueError, s.append, sid, T0, "x" * 600)
    assert s.pending() == 0 and d.bytes_programmed < 200
    assert s.append(sid, T0, "x" * 200)


def test_a_damaged_record_costs_that_record_only():
    d, s = small()
    sid = s.stream_id("t")
    for i in range(60):
        s.append(sid, T0 + i * 1000, i)
    got = list(s.records(sid))
    pos = got[3][0]  # a record in the oldest sector
    d.data[pos % 512 + ((pos // 512 - 1) % 4) * 512 + 4] ^= 0x10  # bit rot in its body
    s2 = RawStore(d)
    values = [r[2] for r in s2.records(sid)]
    assert values == [r[2] for r in got if r[0] != pos]
    assert s2.stats()["damaged"] >= 1
    s2.append(sid, T0 + 99000, 99)
    assert [r[2] for r in RawStore(d).records(sid)][-1] == 99


def test_damage_in_the_newest_sector_keeps_the_records_after_it_and_closes_the_sector():
    d, s = small()
    sid = s.stream_id("t")
    for i in range(6):
        s.append(sid, T0 + i * 1000, i)
    got = list(s.records(sid))
    pos = got[2][0]
    d.data[(pos // 512 - 1) % 4 * 512 + pos % 512 + 5] ^= 0x01
    s2 = RawStore(d)
    assert [r[2] for r in s2.records(sid)] == [0, 1, 3, 4, 5]
    s2.append(sid, T0 + 9000, 9)
    assert [r[2] for r in RawStore(d).records(sid)] == [0, 1, 3, 4, 5, 9]


class _FakePlatform:
    # sys.platform and a board module made up for one call of open_device (CPython only: the
    # unix port's sys.platform cannot be changed)
    def __init__(self, platform, name, module):
        import sys

        if IS_MICROPYTHON:
            skip("sys.platform is fixed on the unix port")
        self.sys = sys
        self.saved = sys.platform
        sys.platform = platform
        sys.modules[name] = module
        self.name = name

    def close(self):
        self.sys.platform = self.saved
        del self.sys.modules[self.name]


def _esp32(found, asked):
    # an esp32 module whose Partition.find answers `found` (a list), noting what it was asked
    class Partition:
        TYPE_DATA = 1

        @staticmethod
        def find(kind, label=None):
            asked.append((kind, label))
            return found

    class M:
        pass

    m = M()
    m.Partition = Partition
    return _FakePlatform("esp32", "esp32", m)


def test_open_device_finds_the_esp32_partition_by_label_blynklog_by_default():
    asked = []
    fake = _esp32([NorFlash(sectors=3, sector_size=4096)], asked)
    try:
        open_device({"partition": None})
        open_device({"partition": "ring"})
    finally:
        fake.close()
    assert asked == [(1, "blynklog"), (1, "ring")]


def test_an_esp32_without_the_named_partition_is_a_config_error_naming_store_partition():
    fake = _esp32([], [])
    try:
        e = raises(ConfigError, open_device, {"partition": "ring"})
    finally:
        fake.close()
    assert str(e).startswith("store.partition:") and "'ring'" in str(e), str(e)


def test_open_device_wraps_the_rp2_flash_region_in_the_page_adapter():
    made = []

    class M:
        @staticmethod
        def Flash(start, len):
            made.append((start, len))
            return NorFlash(sectors=len // 4096, sector_size=4096)

    fake = _FakePlatform("rp2", "rp2", M())
    try:
        dev = open_device({"start": 606208, "length": 262144})
        e = raises(ConfigError, open_device, {"start": None, "length": None})
    finally:
        fake.close()
    assert made == [(606208, 262144)] and isinstance(dev, PageFlash) and "length" in str(e)


def test_a_logger_on_rp2_without_the_raw_region_is_refused_naming_it_and_writes_nothing():
    import json
    import os

    from blynklog import Logger

    class M:
        @staticmethod
        def Flash(start, len):
            return NorFlash(sectors=len // 4096, sector_size=4096)

    d = tmpdir("rawrp2")
    cfg = {"api": "device", "token": "t", "insecure": True, "streams": {"t": {"pin": "V1"}}}
    cfg["store"] = {"backend": "raw", "path": "bl"}
    with open(d + "/config.json", "w") as f:
        f.write(json.dumps(cfg))
    fake = _FakePlatform("rp2", "rp2", M())
    try:
        e = raises(ConfigError, Logger, d + "/config.json")
    finally:
        fake.close()
    assert str(e).startswith("store.start, store.length:"), str(e)
    assert os.listdir(d) == ["config.json"], os.listdir(d)
