# A Logger taken over on littlefs (one Logger made again without closing the last one): nothing a
# later Logger flushed may be lost when the file the earlier one left open, with frames written
# but not synced, is closed later by the collector (modelled here by closing it: littlefs then
# commits that handle's view of the file over it). The littlefs tests skip on CPython; the host
# file system's run everywhere (CPython's buffered file writes its buffer at the close as well).
import json

import emu
from blockdev import RAMBlockDev, littlefs
from blynklog import Logger
from logger_support import device_config, left_behind, now_ms, received
from support import tmpdir

T0 = 1767225600000  # 2026-01-01

_mounts = [0]


def _mount(blocks=64):
    # a fresh littlefs on a RAM block device: (vfs, bdev, mount point)
    vfs = littlefs()
    bdev = RAMBlockDev(blocks)
    vfs.VfsLfs2.mkfs(bdev)
    _mounts[0] += 1
    point = "/lfs_take%d" % _mounts[0]
    vfs.mount(vfs.VfsLfs2(bdev), point)
    return vfs, bdev, point


def _on_littlefs(run):
    # run(cfg, bdev, point) on a fresh littlefs with a store on it, unmounted after
    vfs, bdev, point = _mount()
    try:
        run(_cfg(point), bdev, point)
    finally:
        vfs.umount(point)


def _cfg(point, **store):
    s = {"path": point + "/bl"}
    s.update(store)
    return device_config(
        streams={"a": {"pin": "V1"}}, store=s, limits={"points_per_day": 100000, "points_per_request": 50}
    )


def _cfg_file(point, cfg):
    # the configuration as a file: a Logger built from it a second time reads its cache (a wake's
    # journal stands in for the store then)
    path = point + "/config.json"
    with open(path, "w") as f:
        f.write(json.dumps(cfg))
    return path


def _dirty(log, base, t0=T0):
    # 100 samples flushed, then 300 more of which some frames are written to the newest segment's
    # file and not synced; -> how many of the 300 were written
    for i in range(base, base + 400):
        log.add("a", i * 1.0, ts=t0 + i * 1000)
        if i == base + 99:
            log.flush()
    written = 300 - log._store._fcount  # the rest is still in RAM
    assert log._store._wf is not None and 0 < written < 300, written
    return written


def _add(log, base, n, flush=True, t0=T0):
    for i in range(base, base + n):
        log.add("a", i * 1.0, ts=t0 + i * 1000)
    if flush:
        log.flush()
    return base + n


def _collect(log):
    # the collector closing the file a taken-over Logger left open
    f = log._store._wf
    if f is not None:
        f.close()


def _flush_collect_count(cfg, a, log, base):
    # log's 50 samples from base flushed, then a's file closed (the collector) and log closed ->
    # the samples pending at the next opening
    _add(log, base, 50)
    _collect(a)
    log.close()
    return _pending(cfg)


def _pending(cfg):
    log = Logger(cfg)
    try:
        return log.stats()["pending"]
    finally:
        log.close()


def test_a_logger_taken_over_with_frames_not_synced_cannot_undo_what_the_new_one_flushed():
    # A's newest segment was open with frames written but not synced. Its file, closed later,
    # committed littlefs's view of that handle over the file, and the samples B had appended to
    # it and flushed were gone. B now writes from a new segment: closing A's file keeps both.
    def run(cfg, bdev, point):
        a = Logger(cfg)
        w = _dirty(a, 0)
        b = Logger(cfg)
        _add(b, 1000, 50, flush=False)
        b.flush()
        assert b.stats()["pending"] == 150  # A's frames not synced are not seen
        n = _flush_collect_count(cfg, a, b, 2000)
        assert n == 200 + w, (n, w)

    _on_littlefs(run)


def test_a_logger_taken_over_before_it_appended_passes_the_dirty_file_on():
    # A left frames not synced in the newest segment; B takes it over (it writes from a new
    # segment) but appends nothing before C takes B over: C must not append to A's file either
    def run(cfg, bdev, point):
        a = Logger(cfg)
        w = _dirty(a, 0)
        b = Logger(cfg)  # noqa: F841 (made again, nothing added)
        c = Logger(cfg)
        n = _flush_collect_count(cfg, a, c, 1000)
        assert n == 150 + w, (n, w)  # A's 100 flushed, C's 50, A's written ones

    _on_littlefs(run)


def test_a_logger_closed_before_it_appended_passes_the_dirty_file_on():
    # as above, B closed (not taken over) before C is made
    def run(cfg, bdev, point):
        a = Logger(cfg)
        w = _dirty(a, 0)
        b = Logger(cfg)
        b.close()
        c = Logger(cfg)
        n = _flush_collect_count(cfg, a, c, 1000)
        assert n == 150 + w, (n, w)

    _on_littlefs(run)


def test_a_journal_wake_taken_over_by_a_logger_that_opens_the_store():
    # A (store open) left frames not synced; B, built from the config file again, writes its
    # samples to the journal; C, built from the dict, opens the store and takes the journal in
    def run(cfg, bdev, point):
        path = _cfg_file(point, cfg)
        a = Logger(path)
        w = _dirty(a, 0)
        b = Logger(path)
        assert b._jr is not None  # the journal stands in for the store
        _add(b, 1000, 5)
        c = Logger(cfg)
        n = _flush_collect_count(cfg, a, c, 2000)
        assert n == 155 + w, (n, w)  # A's 100, B's 5, C's 50

    _on_littlefs(run)


def test_a_journal_wake_whose_store_opens_later_keeps_what_it_flushed():
    def run(cfg, bdev, point):
        path = _cfg_file(point, cfg)
        a = Logger(path)
        w = _dirty(a, 0)
        b = Logger(path)
        assert b._jr is not None
        _add(b, 1000, 5)
        assert b.stats()["pending"] >= 105  # the store opens (journal taken in)
        n = _flush_collect_count(cfg, a, b, 2000)
        assert n == 155 + w, (n, w)

    _on_littlefs(run)


def test_two_journal_wakes_after_a_dirty_logger_then_the_store_opens():
    def run(cfg, bdev, point):
        path = _cfg_file(point, cfg)
        a = Logger(path)
        w = _dirty(a, 0)
        b = Logger(path)
        _add(b, 1000, 5)
        c = Logger(path)
        _add(c, 2000, 5)
        assert c.stats()["pending"] >= 110
        n = _flush_collect_count(cfg, a, c, 3000)
        assert n == 160 + w, (n, w)

    _on_littlefs(run)


def test_posix_take_over_chain_keeps_everything_flushed():
    # the same chain on the host's file system (every runtime): nothing flushed is lost
    cfg = device_config(streams={"a": {"pin": "V1"}}, store={"path": tmpdir("tk") + "/bl"})
    a = Logger(cfg)
    w = _dirty(a, 0)
    b = Logger(cfg)  # noqa: F841
    c = Logger(cfg)
    n = _flush_collect_count(cfg, a, c, 1000)
    assert n == 150 + w, (n, w)


def test_a_logger_taken_over_just_after_a_rollover_keeps_the_new_ones():
    # A's newest segment holds only its header (not synced): B writes from a new one
    def run(cfg, bdev, point):
        a = Logger(cfg)
        i = _add(a, 0, 10)
        segs = len(a._store._segs)
        for _ in range(5000):
            a.add("a", i * 1.37, ts=T0 + i * 1000)
            i += 1
            if len(a._store._segs) > segs:
                break
        assert len(a._store._segs) > segs and a._store._wf is not None
        b = Logger(cfg)
        _add(b, 100000, 50)
        _collect(a)
        b.close()
        pend = _pending(cfg)
        # A's flushed 10, what the full segment held (synced by the rollover), B's 50; A's last
        # sample (in RAM) is lost
        assert pend == i - 1 + 50, (pend, i)

    _on_littlefs(run)


def test_a_power_cut_after_the_new_logger_flushed_keeps_what_both_flushed():
    vfs, bdev, point = _mount()
    try:
        cfg = _cfg(point)
        a = Logger(cfg)
        w = _dirty(a, 0)
        b = Logger(cfg)
        _add(b, 1000, 50)
        image = bytearray(bdev.data)  # the power goes here
    finally:
        vfs.umount(point)
    bdev2 = RAMBlockDev(data=image)
    vfs.mount(vfs.VfsLfs2(bdev2), point)
    try:
        n = _pending(cfg)
        assert n == 150, (n, w)
    finally:
        vfs.umount(point)


def test_a_power_cut_after_the_collector_closed_the_old_file_keeps_what_both_flushed():
    vfs, bdev, point = _mount()
    try:
        cfg = _cfg(point)
        a = Logger(cfg)
        w = _dirty(a, 0)
        b = Logger(cfg)
        _add(b, 1000, 50)
        _collect(a)
        _add(b, 2000, 5, flush=False)
        image = bytearray(bdev.data)  # the power goes here
    finally:
        vfs.umount(point)
    bdev2 = RAMBlockDev(data=image)
    vfs.mount(vfs.VfsLfs2(bdev2), point)
    try:
        n = _pending(cfg)
        assert n in (150, 150 + w), (n, w)
    finally:
        vfs.umount(point)


def test_power_cuts_through_a_take_over_never_lose_an_acknowledged_sample():
    # the power goes at each write in turn, from A's dirty frames through B's take-over and flush
    littlefs()
    k = 0
    while k < 200:
        vfs, bdev, point = _mount()
        acked = 0
        cut = False
        try:
            cfg = _cfg(point)
            a = Logger(cfg)
            _add(a, 0, 100)
            acked = 100
            bdev.arm(k)
            try:
                for i in range(100, 400):
                    a.add("a", i * 1.0, ts=T0 + i * 1000)
                b = Logger(cfg)
                _add(b, 1000, 50)
                acked += 50
                _collect(a)
                _add(b, 2000, 50)
                acked += 50
            except OSError:
                cut = True
            image = bytearray(bdev.data)
        finally:
            try:
                vfs.umount(point)
            except OSError:
                pass
        if not cut:
            break
        bdev2 = RAMBlockDev(data=image)
        vfs.mount(vfs.VfsLfs2(bdev2), point)
        try:
            n = _pending(cfg)
            assert n >= acked, (k, n, acked)
        finally:
            vfs.umount(point)
        k += 1
    assert k > 3, k


def test_repeated_take_overs_after_a_flush_stay_in_one_segment_on_littlefs():
    vfs, bdev, point = _mount()
    try:
        import os

        cfg = _cfg(point)
        log = Logger(cfg)
        for k in range(20):
            _add(log, k * 10, 10)
            log = Logger(cfg)
        assert log.stats()["pending"] == 200
        segs = [n for n in os.listdir(point + "/bl/data") if n.endswith(".seg")]
        assert len(segs) == 1, segs
        log.close()
    finally:
        vfs.umount(point)


def test_repeated_dirty_take_overs_lose_nothing_flushed():
    # every Logger flushes 100 and leaves frames not synced; the collector closes each file at a
    # later loop. Each loop spends a segment (bounded by the store's drop_oldest)
    vfs, bdev, point = _mount(128)
    try:
        cfg = _cfg(point, capacity=131072)
        logs = []
        flushed = 0
        for k in range(8):
            log = Logger(cfg)
            _dirty(log, k * 1000)
            flushed += 100
            logs.append(log)
            if len(logs) > 2:
                _collect(logs.pop(0))
        log = Logger(cfg)
        for old in logs:
            _collect(old)
        st = log.stats()
        assert st["dropped_full"] == 0, st
        assert st["pending"] >= flushed, (st, flushed)
        log.close()
    finally:
        vfs.umount(point)


def _fresh_emu():
    emu.require()
    emu.reset()
    emu.config(points_per_day=100000, max_age_days=30, token_lifetime_s=86400)


def _sent_once(expected, in_flight=0):
    # every expected ts received, none twice (but the batch a cancelled sync had in flight:
    # the server got it, the Logger never heard back)
    got = [p[0] for p in received(1)]
    twice = len(got) - len(set(got))
    assert twice <= in_flight, "sent twice: %d of %d" % (twice, len(got))
    missing = [t for t in expected if t not in set(got)]
    assert not missing, "never sent: %d, first %r" % (len(missing), missing[:3])
    return got


def test_what_the_old_logger_flushed_is_sent_once_after_a_dirty_take_over():
    _fresh_emu()

    def run(cfg, bdev, point):
        s = now_ms() - 5000 * 1000
        a = Logger(cfg)
        _dirty(a, 0, s)
        b = Logger(cfg)
        _add(b, 1000, 50, t0=s)
        r = b.sync()
        assert r["stopped"] == "done" and r["pending"] == 0, r
        _collect(a)
        b.close()
        c = Logger(cfg)
        r = c.sync()
        c.close()
        assert r["stopped"] == "done" and r["pending"] == 0, r
        _sent_once([s + i * 1000 for i in list(range(100)) + list(range(1000, 1050))])

    _on_littlefs(run)


def test_a_chain_of_take_overs_synced_before_the_collector_sends_everything_once():
    _fresh_emu()

    def run(cfg, bdev, point):
        s = now_ms() - 5000 * 1000
        a = Logger(cfg)
        _dirty(a, 0, s)
        Logger(cfg)  # made again, nothing added
        c = Logger(cfg)
        _add(c, 1000, 50, t0=s)
        r = c.sync()
        assert r["stopped"] == "done" and r["pending"] == 0, r
        _collect(a)
        _add(c, 2000, 10, t0=s)
        r = c.sync()
        c.close()
        d = Logger(cfg)
        r = d.sync()
        d.close()
        assert r["stopped"] == "done" and r["pending"] == 0, r
        _sent_once([s + i * 1000 for i in list(range(100)) + list(range(1000, 1050)) + list(range(2000, 2010))])

    _on_littlefs(run)


def test_a_dirty_take_over_after_a_sync_async_left_behind_keeps_and_sends_everything_once():
    _fresh_emu()

    def run(cfg, bdev, point):
        s = now_ms() - 5000 * 1000
        a = Logger(cfg)
        _add(a, 0, 200, t0=s)
        left_behind(a)
        _dirty(a, 200, s)
        b = Logger(cfg)
        _add(b, 1000, 50, t0=s)
        _collect(a)
        r = b.sync()
        b.close()
        assert r["stopped"] == "done" and r["pending"] == 0, r
        _sent_once([s + i * 1000 for i in list(range(300)) + list(range(1000, 1050))], 50)

    _on_littlefs(run)


def test_a_take_over_during_a_left_behind_sync_async_on_the_host_fs_sends_everything_once():
    # every runtime: the host's file system
    _fresh_emu()
    cfg = device_config(
        streams={"a": {"pin": "V1"}},
        store={"path": tmpdir("tk") + "/bl"},
        limits={"points_per_day": 100000, "points_per_request": 50},
    )
    s = now_ms() - 5000 * 1000
    a = Logger(cfg)
    _add(a, 0, 200, t0=s)
    left_behind(a)
    _dirty(a, 200, s)
    b = Logger(cfg)
    _add(b, 1000, 50, t0=s)
    _collect(a)
    r = b.sync()
    b.close()
    assert r["stopped"] == "done" and r["pending"] == 0, r
    _sent_once([s + i * 1000 for i in list(range(300)) + list(range(1000, 1050))], 50)


def test_a_logger_made_again_after_a_flush_without_a_close_goes_on_in_the_same_segment():
    # the take-over starts a new segment only when the Logger taken over had frames in its file
    # not synced: a sketch that makes its Logger again at every loop (after a flush or a sync)
    # does not spend a segment a loop, which would drop the oldest samples once the store holds
    # capacity / 4 KB segments
    import os

    cfg = device_config(streams={"t": {"pin": "V1"}})
    log = Logger(cfg)
    for k in range(6):
        log.add("t", 20.0 + k, ts=T0 + k * 1000)
        log.flush()
        log = Logger(cfg)
    assert log.stats()["pending"] == 6
    data = cfg["store"]["path"] + "/data"
    assert len([n for n in os.listdir(data) if n.endswith(".seg")]) == 1, os.listdir(data)
    log.close()
