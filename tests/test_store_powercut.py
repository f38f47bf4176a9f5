# Power cuts on real littlefs, exhaustively: the store runs a fixed workload (appends, flushes,
# reads, commits, segment rotations, reclaim, drops of a full store) on vfs.VfsLfs2 over a RAM
# block device whose power goes off at block write N, for EVERY N from 1 to the workload's total
# (make test takes every third N of the default-segment workload, which has 409 with format 3's
# frames; BLYNKLOG_POWERCUT_FULL=1 takes them all). After each cut: remount over the same bytes,
# reopen, and check that every record flushed before the cut is pending or was committed (or was
# dropped as oldest by a full store), that no committed record comes back, that nothing returned
# is garbage, that pending() is exact, that the books balance (pending + committed + dropped_full
# = the samples durably added: every flushed sample that is gone was counted as dropped, and no
# more were counted than are gone), and that the store goes on working. Some samples are strings
# holding whole records (plain, and keyed for other places): none of those ever comes back as a
# record of its own. Each case prints "cut N"; run one alone with CUTS=N micropython
# tests/unix_runner.py test_store_powercut (unix port: it has littlefs).
import binascii
import os
import struct

from blockdev import RAMBlockDev, littlefs
from blynklog import record
from blynklog.store import Store

MOUNT = "/pc"
PATH = MOUNT + "/store"
T0 = 1700000000000
# two workloads: small segments (many rotations for few writes) and the default 4096-byte ones
SMALL = {"seg": 512, "capacity": 2048, "blocks": 24, "rounds": 14, "per_round": 30, "a": 25, "b": 40}
LARGE = {"seg": 4096, "capacity": 16384, "blocks": 48, "rounds": 12, "per_round": 240, "a": 200, "b": 300}


def _open(w):
    return Store(PATH, capacity=w["capacity"], segment_size=w["seg"])


def _ops(w):
    # The workload, one step at a time: ("append", id) / ("flush",) / ("commit", stream, batch)
    ops = [("open",)]
    n = 0
    for rnd in range(w["rounds"]):
        for i in range(w["per_round"]):
            ops.append(("append", n))
            n += 1
        ops.append(("flush",))
        ops.append(("commit", 0, w["a"]))
        if rnd in (4, 10):
            ops.append(("commit", 1, w["b"]))
    ops.append(("close",))
    return ops


def _sid(i):
    return i % 2


def _ascii_record(sid, base, crckey):
    # a whole record (values 5..63, CRC from crckey) whose bytes are all ASCII: a str holds it
    buf = bytearray(64)
    for t in range(59 * 32 * 4):
        n = record.encode_into(buf, 0, sid, base + t // 59 % 32, 5 + t % 59, t // (59 * 32), None, base)
        struct.pack_into("<I", buf, n - 4, binascii.crc32(memoryview(buf)[: n - 4], crckey) & 0xFFFFFFFF)
        if max(buf[:n]) < 0x80:
            return bytes(buf[:n])
    raise AssertionError("no ASCII record found")


_HOSTILE = []


def _value(i):
    # the sample of id i: an int that packs badly (i and 30 scrambled bits: the frames of format 3
    # pack steady values into a bit or two, and the workload must fill the store), or every 37th a
    # string "<i>" holding whole records
    if i % 37 != 5:
        return i << 30 | (i * 2654435761) & 0x3FFFFFFF
    if not _HOSTILE:
        parts = []
        for k in (0, 20, 1 << 16 | 40, 3 << 16 | 300):  # plain, and keyed with guessed salts
            parts.append(_ascii_record(_sid(i), T0, k))
        _HOSTILE.append(str(b"|".join(parts), "utf-8"))
    return "<%d>%s" % (i, _HOSTILE[0])


def _id_of(value):
    if type(value) is str and value.startswith("<") and ">" in value:
        return int(value[1 : value.index(">")])
    return value >> 30


_APPENDED = 1
_COMMITTED = 2


class Model:
    # What the workload knows for sure, whatever the store does. An id's facts are bits of one
    # byte (a sample's stream, ts and flags follow from its id): thousands of ids in dicts and
    # sets, made afresh for each of hundreds of cases, fragment a 4 MB heap until a table's
    # resize finds no room.
    def __init__(self, w):
        self.marks = bytearray(w["rounds"] * w["per_round"])  # id -> _APPENDED | _COMMITTED
        self.appended = 0  # how many appends returned True
        self.maybe = set()  # ids whose append was cut: present or not
        self.flushed = 0  # ids below this were made durable by a flush that returned
        self.inflight = set()  # a commit that the cut interrupted: either way is right
        self.done = 0  # ops completed before the cut

    def has(self, i, mark):
        return type(i) is int and 0 <= i < len(self.marks) and self.marks[i] & mark


def _run(w, ops, model, counters):
    # Runs ops until the end or a cut (OSError). Returns the store (or None).
    store = None
    for op in ops:
        kind = op[0]
        try:
            if kind == "open":
                store = _open(w)
                store.stream_id("a")
                store.stream_id("b")
            elif kind == "append":
                i = op[1]
                model.maybe.add(i)
                ok = store.append(_sid(i), T0 + i * 1000, _value(i), i & 1)
                model.maybe.discard(i)
                if ok:
                    model.marks[i] |= _APPENDED
                    model.appended += 1
            elif kind == "flush":
                store.flush()
                model.flushed = model.appended
            elif kind == "commit":
                sid = op[1]
                batch = []
                it = store.records(sid)
                model.flushed = model.appended
                for pos, ts, value, flags in it:
                    batch.append((pos, _id_of(value)))
                    if len(batch) == op[2]:
                        break
                if batch:
                    model.inflight = set(v for p, v in batch)
                    store.commit(sid, batch[-1][0], len(batch))
                    for v in model.inflight:
                        model.marks[v] |= _COMMITTED
                    model.inflight = set()
            elif kind == "close":
                store.close()
                model.flushed = model.appended
            if counters is not None:
                counters.append(store.stats()["dropped_full"])
        except OSError:
            return False
        model.done += 1
    return True


def _check_after_reboot(w, model, label, may_drop=None):
    store = _open(w)
    assert store.stream_id("a") == 0 and store.stream_id("b") == 1, label + ": stream ids changed"
    present = bytearray(len(model.marks))
    first = len(present)
    for sid in (0, 1):
        last = -1
        n = 0
        for pos, ts, value, flags in store.records(sid):
            i = _id_of(value)
            where = "%s: stream %d record %r" % (label, sid, i)
            assert model.has(i, _APPENDED) or i in model.maybe, where + " is garbage"
            assert value == _value(i), where + " has another value"
            assert _sid(i) == sid and ts == T0 + i * 1000 and flags == i & 1, where + " differs"
            assert not model.has(i, _COMMITTED), where + " was committed and came back"
            assert i > last, where + " out of order or twice"
            last = i
            present[i] = 1
            first = min(first, i)
            n += 1
        assert store.pending(sid) == n, "%s: pending(%d) %d, records %d" % (label, sid, store.pending(sid), n)

    def gone(i):
        return not present[i] and not model.marks[i] & _COMMITTED and i not in model.inflight

    lost = [i for i in range(model.flushed) if gone(i)]
    if lost and first < len(present):
        # only a full store may lose flushed records, and only its oldest
        assert max(lost) < first, "%s: flushed records lost: %r" % (label, lost[:10])
    if may_drop is not None:
        # and no more than the same workload without a cut had dropped by the end of that op
        assert len(lost) <= may_drop, "%s: %d flushed records lost, at most %d dropped" % (label, len(lost), may_drop)
    # the books: every flushed record that is gone was counted in dropped_full, and no more
    # records were counted than are gone (an unflushed one may be dropped or lost to the cut)
    dropped = store.stats()["dropped_full"]
    n_gone = sum(1 for i in range(len(present)) if model.marks[i] & _APPENDED and gone(i))
    assert len(lost) <= dropped <= n_gone, "%s: books: %d flushed gone, %d gone, dropped_full %d" % (
        label,
        len(lost),
        n_gone,
        dropped,
    )
    # the store keeps working
    base = 100000
    for k in range(5):
        assert store.append(k % 2, T0 + (base + k) * 1000, base + k)
    store.flush()
    for sid in (0, 1):
        got = list(store.records(sid))
        assert got and got[-1][2] >= base, label + ": new records missing"
        store.commit(sid, got[-1][0], len(got))
    assert store.pending() == 0, label + ": pending after committing all"
    store.close()
    return len(lost)


def _mount(vfs, bdev, fresh):
    if fresh:
        vfs.VfsLfs2.mkfs(bdev)
    vfs.mount(vfs.VfsLfs2(bdev), MOUNT)


def _umount(vfs):
    try:
        vfs.umount(MOUNT)
    except OSError:
        pass


def _reference(vfs, w):
    # The workload without a cut: how many block writes it makes, and that it behaves.
    bdev = RAMBlockDev(w["blocks"])
    _mount(vfs, bdev, True)
    try:
        bdev.reset_counts()
        model = Model(w)
        counters = []
        assert _run(w, _ops(w), model, counters)
        writes = bdev.writes
        _check_after_reboot(w, model, "no cut")
    finally:
        _umount(vfs)
    return writes, counters


def _workload_behaves(w):
    vfs = littlefs()
    writes, counters = _reference(vfs, w)
    print("workload: %d block writes, dropped_full %d" % (writes, counters[-1]))
    assert counters[-1] > 0 and writes > 100


def _exhaustive(w, stride=1):
    # stride: every stride-th block write (and the last); BLYNKLOG_POWERCUT_FULL=1 makes it every one
    vfs = littlefs()
    total, counters = _reference(vfs, w)
    getenv = getattr(os, "getenv", lambda k: None)
    only = getenv("CUTS")
    if getenv("BLYNKLOG_POWERCUT_FULL") == "1":
        stride = 1
    cuts = [int(only)] if only else sorted(set(list(range(1, total + 1, stride)) + [total]))
    ops = _ops(w)
    lost_cases = 0
    # one flash image for every case, erased afresh (a board-like port's 4 MB heap, fragmented
    # over hundreds of cases, has no room for two new 192 KB images each time)
    erased = bytes(RAMBlockDev(w["blocks"]).data)
    data = bytearray(erased)
    for n in cuts:
        label = "seg %d cut %d" % (w["seg"], n)
        data[:] = erased
        bdev = RAMBlockDev(data=data)
        _mount(vfs, bdev, True)
        model = Model(w)
        try:
            bdev.arm(n - 1)
            finished = _run(w, ops, model, None)
        finally:
            _umount(vfs)
        assert finished == (n > total), label + ": the cut did not happen where expected"
        reboot = RAMBlockDev(data=bdev.data)
        _mount(vfs, reboot, False)
        try:
            k = model.done if model.done < len(counters) else len(counters) - 1
            if _check_after_reboot(w, model, label, counters[k]):
                lost_cases += 1
        except Exception:
            print(label)
            raise
        finally:
            _umount(vfs)
            reboot.dead = True  # a finaliser of this case's files writes nothing into the next one
    print("power cuts: %d cases, %d where a full store had dropped flushed records" % (len(cuts), lost_cases))


def test_small_segment_workload_rotates_reclaims_and_drops():
    _workload_behaves(SMALL)


def test_default_segment_workload_rotates_reclaims_and_drops():
    _workload_behaves(LARGE)


def test_a_power_cut_at_every_block_write_loses_nothing_flushed_small_segments():
    _exhaustive(SMALL)


def test_power_cuts_through_the_default_segment_workload_lose_nothing_flushed():
    # every third block write in make test (about 140 cases); BLYNKLOG_POWERCUT_FULL=1: all 409
    _exhaustive(LARGE, 3)
