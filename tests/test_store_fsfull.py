# A littlefs filled to the brim (unix port: vfs.VfsLfs2 over tests/blockdev.py's RAM block device):
# the store at its last two segments and not one block free. Every way out of a full store writes
# the cursors file (a new littlefs block while the old one still holds its own): a commit, the
# booking of a drop. The store makes room under its policy (drop_oldest: the oldest segment goes
# first, its drop booked by a mark that needs no block), a commit of an acknowledged batch goes
# through, and a store that cannot make room (drop_newest) sends nothing whose commit it could not
# write. The power-cut sweep over that path: test_store_powercut.py's checks, on the full file system.
import os

from blockdev import RAMBlockDev, littlefs
from blynklog.store import Store

MOUNT = "/ff"
PATH = MOUNT + "/log/s"
T0 = 1700000000000
# the commit meta of an upload (its counters and the day's quota): the cursors file then takes
# more than littlefs keeps in its folder's metadata, and a block of its own
META = {"qday": 19700, "qsent": 4100, "qprev": 0, "sent": 4100, "rejected": 0, "dropped_stale": 0, "note": "x" * 60}


def _value(i):
    # values that pack badly (deltas of some 30 bits): a segment holds some 900
    return (i * 7919) % 1000003 * 1000


def _full_fs(blocks=12, other=10000, data=None):
    # a littlefs of `blocks` blocks with a file of `other` bytes beside the store's folder: room for
    # two segments of the store and nothing more
    vfs = littlefs()
    bdev = RAMBlockDev(blocks) if data is None else RAMBlockDev(data=data)
    if data is None:
        vfs.VfsLfs2.mkfs(bdev)
    vfs.mount(vfs.VfsLfs2(bdev), MOUNT)
    if data is None:
        with open(MOUNT + "/other", "wb") as f:
            f.write(bytes(other))
        os.mkdir(MOUNT + "/log")
    return vfs, bdev


def _umount(vfs):
    try:
        vfs.umount(MOUNT)
    except OSError:
        pass


def _batch(store, sid, n):
    got = []
    for r in store.records(sid):
        got.append(r)
        if len(got) == n:
            break
    return got


def _fill(store, sid, n, start=0, log=None):
    # n samples from id start, a flush every 100 and at the end; log: the ids appended and flushed
    for i in range(start, start + n):
        assert store.append(sid, T0 + i * 1000, _value(i))
        if log is not None:
            log["appended"] = i + 1
        if i % 100 == 99:
            store.flush()
            if log is not None:
                log["flushed"] = i + 1
    store.flush()
    if log is not None:
        log["flushed"] = start + n
    return start + n


def test_commits_on_a_file_system_full_to_the_brim_go_through_and_the_oldest_segment_makes_room():
    # was: every commit raised ENOSPC (the batch the server accepted went again at every sync),
    # and drop_oldest could not make room (its booking found none either)
    vfs, bdev = _full_fs()
    try:
        s = Store(PATH)
        sid = s.stream_id("a")
        added = _fill(s, sid, 6000)
        committed = 0
        last = -1
        for rnd in range(12):
            got = _batch(s, sid, 100)
            assert got and _index(got[0][2]) > last, rnd
            s.commit(sid, got[-1][0], len(got), META)
            committed += len(got)
            last = _index(got[-1][2])
            assert [_index(r[2]) for r in s.records(sid)][0] > last, "a committed record came back"
            added = _fill(s, sid, 150, added)  # the file system stays full: appends go on
        st = s.stats()
        assert st["dropped_full"] > 0, st
        assert st["pending"] + committed + st["dropped_full"] == added, (st, committed, added)
        assert s.meta() == META
        assert not [n for n in os.listdir(PATH) if n.endswith(".drop")], os.listdir(PATH)
        s.close()
        s = Store(PATH)  # what the next boot finds: the same books
        sid = s.stream_id("a")
        st2 = s.stats()
        assert (st2["pending"], st2["dropped_full"]) == (st["pending"], st["dropped_full"]), (st, st2)
        assert s.meta() == META
        got = [r[2] for r in s.records(sid)]
        assert got == [_value(i) for i in range(added - len(got), added)]
        s.close()
    finally:
        _umount(vfs)


def test_flush_and_close_on_a_file_system_full_to_the_brim_make_room_under_drop_oldest():
    # was: a frame that found no room had the oldest segment dropped, whose booking found none
    # either: flush() and close() raised ENOSPC
    vfs, bdev = _full_fs()
    try:
        s = Store(PATH)
        sid = s.stream_id("a")
        added = _fill(s, sid, 3000)
        got = _batch(s, sid, 100)
        s.commit(sid, got[-1][0], len(got), META)
        # the file system to the brim: a file takes every block left
        with open(MOUNT + "/more", "wb") as f:
            try:
                for _ in range(64):
                    f.write(bytes(1024))
                    f.flush()
            except OSError:
                pass
        added = _fill(s, sid, 2000, added)
        s.close()
        s = Store(PATH)
        sid = s.stream_id("a")
        st = s.stats()
        assert st["pending"] + 100 + st["dropped_full"] == added, (st, added)
        got = [r[2] for r in s.records(sid)]
        assert got and got[-1] == _value(added - 1)
        s.close()
    finally:
        _umount(vfs)


def _brim(path):
    # files that take every block left (-> their names): one written 512 bytes at a time, then
    # small ones (a block each) while one more goes in
    names = [path + "/junk"]
    with open(names[0], "wb") as f:
        try:
            for _ in range(64):
                f.write(bytes(512))
                f.flush()
        except OSError:
            pass
    for k in range(8):
        name = path + "/junk%d" % k
        try:
            with open(name, "wb") as f:
                f.write(bytes(300))
        except OSError:
            _gone(name)
            break
        names.append(name)
    return names


def _gone(name):
    try:
        os.remove(name)
    except OSError:
        pass


def test_a_store_that_cannot_make_room_sends_nothing_it_could_not_commit():
    # drop_newest keeps its samples: with the file system full beside it (another file grew into
    # its room) a commit cannot be written. It raises ENOSPC, and the store's reads for an upload
    # raise ENOSPC too until the books can be written again, so no batch the server would accept
    # goes again at every sync (was: records() went on giving the same batch), across a reboot too.
    vfs, bdev = _full_fs(20, 14000)
    try:
        s = Store(PATH, on_full="drop_newest")
        sid = s.stream_id("a")
        _fill(s, sid, 1500)
        junk = _brim(MOUNT)
        got = _batch(s, sid, 100)
        try:
            s.commit(sid, got[-1][0], len(got), META)
            raise AssertionError("the commit found room")
        except OSError as e:
            assert e.args[0] == 28, e
        for read in (s.records, s.scan):
            try:
                read(sid)
                raise AssertionError("an upload's read went on")
            except OSError as e:
                assert e.args[0] == 28, e
        s.close()
        s = Store(PATH, on_full="drop_newest")  # the next boot: still full
        sid = s.stream_id("a")
        try:
            s.records(sid)
            raise AssertionError("an upload's read went on after a reboot")
        except OSError as e:
            assert e.args[0] == 28, e
        for name in junk:
            os.remove(name)  # room again: the books are written, the batch goes (once more) and commits
        got = _batch(s, sid, 100)
        assert got[0][2] == _value(0)
        s.commit(sid, got[-1][0], len(got), META)
        assert s.pending() == 1400 and s.stats()["dropped_full"] == 0
        assert "books.full" not in os.listdir(PATH)
        s.close()
    finally:
        _umount(vfs)


def test_a_commit_under_drop_newest_makes_room_from_a_segment_it_acknowledges_whole():
    # a segment whose records the commit acknowledges, all of them, is no sample to keep: it goes
    # first and the commit is written in its block
    vfs, bdev = _full_fs(20, 14000)
    try:
        s = Store(PATH, on_full="drop_newest")
        sid = s.stream_id("a")
        _fill(s, sid, 1500)
        _brim(MOUNT)
        first = s._segs[0]
        got = [r for r in s.records(sid) if r[0] >> 16 == first]
        s.commit(sid, got[-1][0], len(got), META)
        assert first not in s._segs and s.stats()["dropped_full"] == 0
        assert s.pending() == 1500 - len(got)
        s.close()
        s = Store(PATH, on_full="drop_newest")
        sid = s.stream_id("a")
        assert [r[2] for r in s.records(sid)][0] == _value(len(got)) and s.meta() == META
        s.close()
    finally:
        _umount(vfs)


def test_a_commit_whose_write_fails_after_it_made_room_leaves_its_samples_counted():
    # the segment that made room held records the commit acknowledges; the commit's own write
    # then failed (a flash fault): those records were gone and counted nowhere (505 of 1500 after
    # a reboot). They are booked in dropped_full with the drop and taken out of it by the
    # commit's write, so a commit that fails leaves them counted as dropped
    for policy in ("drop_newest", "drop_oldest"):
        vfs, bdev = _full_fs(20, 14000)
        s = Store(PATH, on_full=policy)
        sid = s.stream_id("a")
        _fill(s, sid, 1500)
        _brim(MOUNT)
        s.close()
        image = bytes(bdev.data)
        _umount(vfs)
        for n in range(8):
            vfs, bdev = _full_fs(data=bytearray(image))
            try:
                s = Store(PATH, on_full=policy)
                sid = s.stream_id("a")
                first = s._segs[0]
                got = [r for r in s.records(sid) if r[0] >> 16 == first]
                if policy == "drop_oldest":
                    got = got[:-5]
                bdev.fail_once(n)
                try:
                    s.commit(sid, got[-1][0], len(got), META)
                    landed = True
                except OSError:
                    landed = False
                s.close()
                _umount(vfs)
                vfs, bdev = _full_fs(data=bdev.data)
                s = Store(PATH, on_full=policy)
                st = s.stats()
                sent = len(got) if s.meta() == META else 0
                assert st["pending"] + st["dropped_full"] + sent == 1500, (policy, n, landed, st, sent)
                s.close()
            finally:
                _umount(vfs)
            if landed:
                break


# ---- power cuts through the new path


def _workload(s, sid, log):
    # fill, then rounds of a commit of 100 and 150 appends; log: the facts the checks need
    added = _fill(s, sid, 3000, 0, log)
    log["rounds"] = log["writes"]()  # block writes before the first commit on the full file system
    for rnd in range(4):
        got = _batch(s, sid, 100)
        log["inflight"] = (got[0][2], got[-1][2])
        s.commit(sid, got[-1][0], len(got), META)
        log["committed"].append(log["inflight"])
        log["inflight"] = None
        added = _fill(s, sid, 150, added, log)
    s.close()


_IDS = {}


def _index(v):
    # the sample's id from its value (_value is one to one below 1000003)
    if not _IDS:
        for i in range(10000):
            _IDS[_value(i)] = i
    return _IDS[v]


def _log(bdev):
    return {"committed": [], "inflight": None, "flushed": 0, "appended": 0, "writes": lambda: bdev.writes}


def test_a_power_cut_at_every_block_write_of_the_full_file_system_path_loses_nothing_flushed():
    # The workload on the brim-full file system, the power cut after each of its block writes in
    # turn from the first full commit on: after the reboot every flushed sample is pending,
    # committed or counted dropped (only the oldest ones), no committed one comes back, the books
    # balance (pending + committed + dropped_full = the samples durably added, with an interrupted
    # commit either way) and the store goes on (a commit goes through, the mark is gone).
    vfs, bdev = _full_fs()
    image = bytes(bdev.data)
    _umount(vfs)
    # the reference: where the workload's writes are
    vfs, bdev = _full_fs(data=bytearray(image))
    try:
        bdev.reset_counts()
        s = Store(PATH)
        sid = s.stream_id("a")
        log = _log(bdev)
        _workload(s, sid, log)
    finally:
        _umount(vfs)
    total = bdev.writes
    first = log["rounds"] + 1
    getenv = getattr(os, "getenv", lambda k: None)
    only = getenv("CUTS")
    stride = 1 if getenv("BLYNKLOG_POWERCUT_FULL") == "1" else 2
    cuts = [int(only)] if only else list(range(first, total + 1, stride))
    marks_seen = 0
    for n in cuts:
        label = "cut %d of %d" % (n, total)
        vfs, bdev = _full_fs(data=bytearray(image))
        log = _log(bdev)
        bdev.arm(n - 1)
        try:
            s = Store(PATH)
            sid = s.stream_id("a")
            _workload(s, sid, log)
        except Exception:
            if not bdev.dead:  # (after the cut, whatever a swallowed write's failure led to)
                raise
        assert bdev.dead, label + ": no cut"
        _umount(vfs)
        vfs, bdev = _full_fs(data=bdev.data)
        try:
            names = os.listdir(PATH)
            marks_seen += len([x for x in names if x.endswith(".drop")])
            s = Store(PATH)
            sid = s.stream_id("a")
            ids = [_index(r[2]) for r in s.records(sid)]
            done = set()
            for a, b in log["committed"]:
                done.update(range(_index(a), _index(b) + 1))
            either = set()
            if log["inflight"]:
                either = set(range(_index(log["inflight"][0]), _index(log["inflight"][1]) + 1))
            assert ids == sorted(ids) and len(set(ids)) == len(ids), label + ": out of order or twice"
            assert not done.intersection(ids), label + ": a committed sample came back"
            assert s.pending() == len(ids), label
            gone = [i for i in range(log["appended"] + 1) if i not in done and i not in either and i not in ids]
            lost = [i for i in gone if i < log["flushed"]]
            if ids:
                assert not lost or max(lost) < ids[0], label + ": flushed samples lost: %r" % lost[:5]
            dropped = s.stats()["dropped_full"]
            assert len(lost) <= dropped <= len(gone), label + ": books: %d flushed gone, %d gone, dropped_full %d" % (
                len(lost),
                len(gone),
                dropped,
            )
            # it goes on: a commit and an append go through, the marks are gone
            if ids:
                got = _batch(s, sid, 50)
                s.commit(sid, got[-1][0], len(got), META)
            assert s.append(sid, T0 + 30000 * 1000, 5)
            s.flush()
            s.close()
            assert not [x for x in os.listdir(PATH) if x.endswith(".drop")], label + ": a mark stayed"
        except Exception:
            print(label)
            raise
        finally:
            _umount(vfs)
            bdev.dead = True
    print("power cuts: %d cases (block writes %d..%d), %d found a drop's mark" % (len(cuts), first, total, marks_seen))
    assert marks_seen > 0


def test_a_logger_on_a_file_system_full_to_the_brim_uploads_each_batch_once():
    # The Logger of a board whose littlefs holds its configuration, its cache and state beside a
    # store that fills it (12 blocks): was, every sync sent the same batch of 100 again and could
    # not commit it ("commit failed (28)"), flush() and close() raised ENOSPC. Now the syncs upload
    # what the store holds once each, and the books balance.
    import json

    import emu
    from blynklog import Logger
    from blynklog.compat import unix_ms

    vfs = littlefs()
    bdev = RAMBlockDev(12)
    vfs.VfsLfs2.mkfs(bdev)
    vfs.mount(vfs.VfsLfs2(bdev), MOUNT)
    try:
        emu.reset()
        emu.config(points_per_day=1000000, max_age_days=30, token_lifetime_s=86400)
        cfg = {
            "server": emu.url(),
            "api": "device",
            "token": "test-device-token",
            "ca": emu.ca_path(),
            "streams": {"b": {"pin": "V2", "type": "int"}},
            "store": {"path": MOUNT + "/st", "capacity": 262144},
            "limits": {"points_per_day": 1000000, "points_per_request": 100},
        }
        with open(MOUNT + "/config.json", "w") as f:
            f.write(json.dumps(cfg))
        path = MOUNT + "/config.json"
        t = unix_ms() - 86400000
        log = Logger(path)
        for n in range(12000):
            log.add("b", _value(n) // 1000, ts=t + n * 10)
            if n % 100 == 99:
                log.flush()
        for k in range(3):
            r = log.sync(budget_ms=1) if k == 0 else log.sync()
            assert r.get("last_error") is None, r
        log.close()
        log = Logger(path)  # the next boot
        r = log.sync()
        assert r.get("last_error") is None and r["pending"] == 0, r
        for n in range(12000, 12010):
            log.add("b", _value(n) // 1000, ts=t + n * 10)
        log.flush()
        r = log.sync()
        st = log.stats()
        log.close()
        got = emu.points(1, 2)
        assert len(got) == len(set(p[0] for p in got)), "%d points, %d distinct" % (len(got), len(set(got)))
        assert st["pending"] == 0 and len(got) + st["dropped_full"] == 12010, (len(got), st)
        assert got[-1][0] == t + 12009 * 10
    finally:
        _umount(vfs)


def _refusing(s, sid, log):
    # drop_newest on the brim-full file system: a commit that fails, the reads that refuse, the
    # room made again (the junk removed), the reads and the commit that go through
    _fill(s, sid, 1500, 0, log)
    junk = _brim(MOUNT)
    log["junk"] = junk
    log["from"] = log["writes"]()
    got = _batch(s, sid, 100)
    log["inflight"] = (got[0][2], got[-1][2])
    try:
        s.commit(sid, got[-1][0], len(got), META)
    except OSError:
        pass
    log["inflight"] = None
    try:
        s.records(sid)
    except OSError:
        pass
    for name in junk:
        os.remove(name)
    got = _batch(s, sid, 100)
    log["inflight"] = (got[0][2], got[-1][2])
    s.commit(sid, got[-1][0], len(got), META)
    log["committed"].append(log["inflight"])
    log["inflight"] = None
    s.close()


def test_a_power_cut_at_every_block_write_of_a_store_that_cannot_make_room_loses_nothing():
    # drop_newest's way through a full file system (books.full made, books.try written and
    # removed while it is there), the power cut after each block write from the brim on: after the
    # reboot every sample is there or committed (nothing dropped), none committed comes back, and
    # with the room back the store reads, commits and leaves no file of that path behind.
    vfs, bdev = _full_fs(20, 14000)
    image = bytes(bdev.data)
    _umount(vfs)
    vfs, bdev = _full_fs(data=bytearray(image))
    try:
        bdev.reset_counts()
        s = Store(PATH, on_full="drop_newest")
        log = _log(bdev)
        _refusing(s, s.stream_id("a"), log)
    finally:
        _umount(vfs)
    total = bdev.writes
    first = log["from"] + 1
    getenv = getattr(os, "getenv", lambda k: None)
    only = getenv("CUTS")
    cuts = [int(only)] if only else list(range(first, total + 1))
    stuck = 0
    for n in cuts:
        label = "drop_newest cut %d of %d" % (n, total)
        vfs, bdev = _full_fs(data=bytearray(image))
        log = _log(bdev)
        bdev.arm(n - 1)
        try:
            s = Store(PATH, on_full="drop_newest")
            _refusing(s, s.stream_id("a"), log)
        except Exception:
            if not bdev.dead:  # (after the cut, whatever a swallowed write's failure led to)
                raise
        assert bdev.dead, label + ": no cut"
        _umount(vfs)
        vfs, bdev = _full_fs(data=bdev.data)
        try:
            if "books.full" in os.listdir(PATH):
                stuck += 1
            for name in log.get("junk", ()):
                _gone(name)
            s = Store(PATH, on_full="drop_newest")
            sid = s.stream_id("a")
            ids = [_index(r[2]) for r in s.records(sid)]
            done = set()
            for a, b in log["committed"]:
                done.update(range(_index(a), _index(b) + 1))
            either = set()
            if log["inflight"]:
                either = set(range(_index(log["inflight"][0]), _index(log["inflight"][1]) + 1))
            assert not done.intersection(ids), label + ": a committed sample came back"
            rest = [i for i in range(1500) if i not in done and i not in either]
            assert [i for i in ids if i not in either] == rest, label + ": samples lost"
            assert s.pending() == len(ids) and s.stats()["dropped_full"] == 0, label
            got = _batch(s, sid, 50)
            s.commit(sid, got[-1][0], len(got), META)
            s.close()
            left = [x for x in os.listdir(PATH) if x.startswith("books.") or x.endswith(".drop")]
            assert not left, label + ": left %r" % left
        except Exception:
            print(label)
            raise
        finally:
            _umount(vfs)
            bdev.dead = True
    print("power cuts: %d cases (block writes %d..%d), %d rebooted onto books.full" % (len(cuts), first, total, stuck))
    assert stuck > 0
