# A flash write that fails once, on real littlefs (vfs.VfsLfs2 over a RAM block device whose k-th
# block write raises EIO and then works again: a transient fault, not a power cut). The store
# meets it in an append, a flush, a segment change or a close, which raise OSError; the sketch
# goes on adding and flushing. What a later flush acknowledges is on flash: littlefs drops a
# failed file's unsynced data and syncs that file no more, so a store that kept its handle
# reported later flushes done while their samples never reached flash. Swept over every second
# block write of the workload (every one with BLYNKLOG_SWEEP_FULL=1); unix port only (littlefs).
import os

from blockdev import RAMBlockDev, littlefs
from blynklog.store import Store

MOUNT = "/wf"
PATH = MOUNT + "/store"
T0 = 1700000000000
ROUNDS = 12
PER_ROUND = 100


def _open():
    return Store(PATH, capacity=65536, segment_size=4096)


def _value(i):
    return i << 24 | (i * 2654435761) & 0xFFFFFF  # packs badly: the rounds fill segments


def _workload(store):
    # -> (ids stored, how many of them the last flush that returned acknowledged, faults met)
    stored = []
    acked = 0
    faults = 0
    i = 0
    for _ in range(ROUNDS):
        for _ in range(PER_ROUND):
            try:
                if store.append(i & 1, T0 + i * 1000, _value(i)):
                    stored.append(i)
            except OSError:
                faults += 1
            i += 1
        try:
            store.flush()
            acked = len(stored)
        except OSError:
            faults += 1
    try:
        store.close()
        acked = len(stored)
    except OSError:
        faults += 1
        store.close()  # the frame it could not write goes out now
        acked = len(stored)
    return stored, acked, faults


def _read_back(store):
    got = []
    for sid in (0, 1):
        ids = [r[2] >> 24 for r in store.records(sid)]
        assert store.pending(sid) == len(ids), "pending(%d) %d, records %d" % (sid, store.pending(sid), len(ids))
        got += ids
    return got


def _fresh(vfs, bdev):
    # a store with its two streams on a freshly formatted device, mounted
    vfs.VfsLfs2.mkfs(bdev)
    vfs.mount(vfs.VfsLfs2(bdev), MOUNT)
    store = _open()
    store.stream_id("a")
    store.stream_id("b")
    return store


def _case(vfs, k):
    bdev = RAMBlockDev(48)
    try:
        store = _fresh(vfs, bdev)
        bdev.fail_once(k)
        stored, acked, faults = _workload(store)
    finally:
        vfs.umount(MOUNT)
    vfs.mount(vfs.VfsLfs2(RAMBlockDev(data=bdev.data)), MOUNT)
    try:
        store = _open()
        got = _read_back(store)
        store.close()
    finally:
        vfs.umount(MOUNT)
    return stored, acked, faults, got


def _writes(vfs):
    # the block writes of the workload without a fault
    bdev = RAMBlockDev(48)
    try:
        store = _fresh(vfs, bdev)
        bdev.reset_counts()
        _workload(store)
    finally:
        vfs.umount(MOUNT)
    return bdev.writes


def test_a_flash_write_that_fails_once_loses_nothing_a_later_flush_acknowledged():
    vfs = littlefs()
    total = _writes(vfs)
    stride = 1 if os.getenv("BLYNKLOG_SWEEP_FULL") == "1" else 2
    met = 0
    for k in range(0, total, stride):
        stored, acked, faults, got = _case(vfs, k)
        met += faults
        have = set(got)
        lost = [i for i in stored[:acked] if i not in have]
        assert not lost, "write %d failed: %d acknowledged samples lost, from %d" % (k, len(lost), lost[0])
        assert len(have) == len(got), "write %d failed: a sample came back twice" % k
        assert have <= set(stored), "write %d failed: a sample never stored came back" % k
    assert met, "no fault was met"
    print("write faults: %d block writes, %d cases, %d faults met" % (total, len(range(0, total, stride)), met))


def test_a_read_failing_while_the_books_are_derived_again_loses_nothing_acknowledged():
    # the write fails, and then reading the write segment back fails too: its frame to come goes
    # (never acknowledged), every segment is counted again, the next append starts a new segment
    vfs = littlefs()
    bdev = RAMBlockDev(48)
    try:
        store = _fresh(vfs, bdev)
        for i in range(250):
            store.append(i & 1, T0 + i * 1000, _value(i))
        store.flush()
        for i in range(250, 280):
            store.append(i & 1, T0 + i * 1000, _value(i))
        failing = []

        def count_seg(k):
            # as the real one failing part-way: the segment taken as counted, some counted
            failing.append(k)
            store._segscan[k] = 0
            store._uncounted -= 1
            store._pending[0] += 7
            raise OSError(5)

        store._count_seg = count_seg
        bdev.fail_once(0)
        try:
            store.flush()
        except OSError:
            pass
        del store._count_seg
        assert failing, "the books were not derived again"
        for i in range(280, 300):
            store.append(i & 1, T0 + i * 1000, _value(i))
        store.flush()
        pending = store.pending()
        got = _read_back(store)
        have = set(got)
        assert all(i in have for i in range(250)) and all(i in have for i in range(280, 300)), "acknowledged lost"
        assert len(got) == len(have) == pending
        # and the positions hold: committing what was read leaves nothing
        for sid in (0, 1):
            last = None
            n = 0
            for r in store.records(sid):
                last = r[0]
                n += 1
            store.commit(sid, last, n)
        assert store.pending() == 0, "pending %d after committing every record" % store.pending()
        store.close()
    finally:
        vfs.umount(MOUNT)
    vfs.mount(vfs.VfsLfs2(RAMBlockDev(data=bdev.data)), MOUNT)
    try:
        store = _open()
        assert _read_back(store) == [], "committed records came back"
        store.close()
    finally:
        vfs.umount(MOUNT)
