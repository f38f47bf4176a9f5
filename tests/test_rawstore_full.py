# The raw-flash store (lib/blynklog/rawstore.py) full, and its rotation failing part-way. A full
# ring under drop_newest refuses new samples and keeps every one it acknowledged: the commits that
# free its oldest sector always find room (the room its last sector keeps, then the free sector,
# which the chain takes rather than erase pending samples), a power cut that closed the last
# sector takes none of that room away, and a commit that finds none at all raises ENOSPC and
# changes nothing. A flash operation that fails inside a rotation leaves every acknowledged
# sample readable and counted, in the same instance and after a reopen. Portable.
from blynklog.rawstore import RawStore
from norflash import NorFlash

T0 = 1700000000000
# the upload policy's commit meta is about this size (policy.meta_max() is larger; this is typical)
META = {"qday": 20000, "qsent": 12345, "qprev": 0, "sent": 1234, "failed": 3, "refused": 0, "x": "y" * 60}


class Flaky(NorFlash):
    # a program or an erase that fails once (OSError, nothing done), then the device works again
    fail_at = -1
    errno = 5

    def _tick(self):
        n = self.ops
        if n == self.fail_at:
            self.ops = n + 1
            self.fail_at = -1
            raise OSError(self.errno, "program failed")
        return NorFlash._tick(self)


def _fill(s, sids, limit=100000):
    # appends round the streams until the ring refuses one; {sid: [ts acknowledged]}
    acked = {}
    for sid in sids:
        acked[sid] = []
    i = 0
    while i < limit:
        sid = sids[i % len(sids)]
        ts = T0 + i * 1000
        if not s.append(sid, ts, i * 1.5):
            return acked
        acked[sid].append(ts)
        i += 1
    raise AssertionError("the ring never refused a sample")


def _full(streams=10, sectors=8, sector_size=4096, dev=None):
    d = dev or NorFlash(sectors=sectors, sector_size=sector_size)
    s = RawStore(d, on_full="drop_newest")
    sids = [s.stream_id("stream%d" % i) for i in range(streams)]
    return d, s, sids, _fill(s, sids)


def _readable(s, sid):
    return [r[1] for r in s.records(sid)]


def _kept(s, acked):
    # every acknowledged sample is pending and readable, once, in order
    for sid in acked:
        assert _readable(s, sid) == acked[sid], sid
        assert s.pending(sid) == len(acked[sid]), sid


def _lend(s, sid):
    # meta-only commits (nothing freed) until the chain takes the free sector; how many it took
    k = 0
    while s.stats()["segments"] < s.stats()["sectors"]:
        s.commit(sid, 0, None, {"k": k, "pad": "x" * 40})
        k += 1
        assert k < 50, "the chain never took the free sector"
    return k


def _metas_until_full(s, sid, meta):
    # meta-only commits (nothing freed), meta(k) each, until one finds no room (ENOSPC, nothing
    # changed); -> how many went in
    k = 0
    while True:
        try:
            s.commit(sid, 0, None, meta(k))
        except OSError as e:
            assert e.args[0] == 28, e
            return k
        k += 1
        assert k < 100, "every commit found room"


def _padded(k):
    return {"k": k, "pad": "x" * 40}


def _small(k):
    return {"k": k % 10}


def test_commits_of_many_streams_on_a_full_drop_newest_ring_lose_no_acknowledged_sample():
    # was: ten streams share the oldest sector; the fifth commit took a rotation that erased it,
    # 128 acknowledged samples of the streams not committed yet lost (counted in dropped_full)
    d, s, sids, acked = _full()
    refused = s.stats()["dropped_full"]
    meta = dict(META)
    for sid in sids:
        got = [r[0] for r in s.records(sid)]
        assert len(got) == len(acked[sid]), sid
        meta["sent"] += len(got)
        s.commit(sid, got[-1], len(got), dict(meta))
    assert s.pending() == 0
    assert s.stats()["dropped_full"] == refused


def test_a_commit_on_a_full_ring_whose_last_sector_a_power_cut_closed_drops_nothing():
    # was: a commit torn by a power cut closes the last sector, so the room it kept for commits
    # is gone; the next commit rotated and erased the oldest sector's pending samples
    d, s, sids, acked = _full(streams=3)
    d.arm(0, "prefix", seed=3)
    try:
        s.commit(sids[0], 0, None, {"k": 1})
    except OSError:
        pass
    d.power_on()
    s = RawStore(d, on_full="drop_newest")
    _kept(s, acked)
    got = [r[0] for r in s.records(sids[1])]
    s.commit(sids[1], got[-1], len(got), dict(META))
    acked[sids[1]] = []
    _kept(s, acked)
    _kept(RawStore(d, on_full="drop_newest"), acked)


def test_a_commit_after_a_program_error_closed_the_last_sector_drops_nothing():
    # the same with a device error that passes (no reopen): the tail is closed in this instance
    d, s, sids, acked = _full(streams=3, dev=Flaky(sectors=8, sector_size=4096))
    d.fail_at = d.ops
    try:
        s.commit(sids[0], 0, None, {"k": 1})
        raise AssertionError("the program did not fail")
    except OSError:
        pass
    got = [r[0] for r in s.records(sids[1])]
    s.commit(sids[1], got[-1], len(got), dict(META))
    acked[sids[1]] = []
    _kept(s, acked)
    _kept(RawStore(d, on_full="drop_newest"), acked)


def test_the_ring_reopens_with_every_sector_in_its_chain_after_a_commit_took_the_free_sector():
    d, s, sids, acked = _full(streams=2, sectors=4, sector_size=512)
    k = _lend(s, sids[0])
    _kept(s, acked)
    again = RawStore(d, on_full="drop_newest")
    assert again.stats()["segments"] == 4
    assert again.meta()["k"] == k - 1
    _kept(again, acked)


def test_samples_are_refused_while_the_free_sector_holds_commits():
    d, s, sids, acked = _full(streams=2, sectors=4, sector_size=512)
    _lend(s, sids[0])
    refused = s.stats()["dropped_full"]
    assert s.append(sids[1], T0 + 10**9, 1) is False
    assert s.stats()["dropped_full"] == refused + 1
    _kept(s, acked)


def test_a_commit_that_finds_no_room_raises_enospc_and_changes_nothing():
    # was: meta-only commits (the counters after a failed sync) past the room kept rotated, and
    # the ring erased all 91 acknowledged samples of its oldest sectors
    d, s, sids, acked = _full(streams=1, sectors=4, sector_size=512)
    k = _metas_until_full(s, sids[0], _padded)
    assert s.meta()["k"] == k - 1
    _kept(s, acked)
    again = RawStore(d, on_full="drop_newest")
    assert again.meta()["k"] == k - 1
    _kept(again, acked)


def test_a_commit_that_frees_the_oldest_sector_goes_in_when_no_other_would():
    d, s, sids, acked = _full(streams=1, sectors=4, sector_size=512)
    k = _metas_until_full(s, sids[0], _padded)
    got = [r[0] for r in s.records(sids[0])]
    s.commit(sids[0], got[-1], len(got), {"k": k})
    assert s.pending() == 0
    assert s.append(sids[0], T0 + 10**9, 1) is True
    assert RawStore(d, on_full="drop_newest").pending() == 1


def test_the_ring_gives_its_free_sector_back_once_the_oldest_is_committed():
    d, s, sids, acked = _full(streams=2, sectors=4, sector_size=512)
    k = _lend(s, sids[0])
    for sid in sids:
        got = [r[0] for r in s.records(sid)]
        s.commit(sid, got[-1], len(got), {"k": k})
    acked = _fill(s, sids)  # a whole ring of samples again, the last ones refused
    assert s.stats()["segments"] == 3
    _kept(s, acked)


def _rotations(fail_at, on_full):
    # a ring of 6 small sectors filled to a lap and a half, the op fail_at failing once; returns
    # (the device, the store, {sid: [ts acknowledged]}, whether the failure was met)
    d = Flaky(sectors=6, sector_size=512)
    s = RawStore(d, on_full=on_full)
    sids = [s.stream_id("a"), s.stream_id("b")]
    d.fail_at = d.ops + fail_at
    acked = {sids[0]: [], sids[1]: []}
    met = False
    for i in range(300):
        sid = sids[i % 2]
        ts = T0 + i * 1000
        try:
            ok = s.append(sid, ts, i)
        except OSError:
            met = True
            continue
        if ok:
            acked[sid].append(ts)
    return d, s, acked, met


def _kept_after_drops(s, acked):
    # drop_oldest: the oldest acknowledged samples may go, counted; the rest readable, in order
    lost = 0
    for sid in acked:
        got = _readable(s, sid)
        n = len(acked[sid])
        assert got == acked[sid][n - len(got) :], sid
        assert s.pending(sid) == len(got), (sid, s.pending(sid), len(got))
        lost += n - len(got)
    assert lost == s.stats()["dropped_full"], (lost, s.stats()["dropped_full"])


def test_a_flash_operation_failing_anywhere_in_the_appends_and_rotations_loses_no_acknowledged_sample():
    # was: a program failing during a sector's claim left the chain and the tail's seq moved in RAM
    # and not on flash: a hole in the seqs, 223 acknowledged samples unreadable, pending stuck
    met = 0
    for k in range(0, 400, 3):
        for on_full in ("drop_newest", "drop_oldest"):
            d, s, acked, failed = _rotations(k, on_full)
            met += failed
            if on_full == "drop_newest":
                _kept(s, acked)
                _kept(RawStore(d, on_full=on_full), acked)
            else:
                _kept_after_drops(s, acked)
                _kept_after_drops(RawStore(d, on_full=on_full), acked)
    assert met > 200, met


def test_the_count_of_samples_a_full_ring_refused_comes_back_from_the_pair_its_caller_kept():
    # the refusals since the last frame live in RAM: a caller saves drops() where it saves anyway
    # (the Logger's state) and gives it back at the next opening
    d, s, sids, acked = _full(streams=2, sectors=4)
    for i in range(5):
        assert not s.append(sids[0], T0 + 10**8 + i, 1.0)
    kept = s.drops()
    refused = s.stats()["dropped_full"]
    assert kept[1] == refused >= 6 and kept[0] < refused
    t = RawStore(d, on_full="drop_newest")
    assert t.stats()["dropped_full"] == kept[0]  # the frame's count alone
    t.drops_back(kept)
    assert t.stats()["dropped_full"] == refused


def test_a_kept_count_older_than_the_last_frame_is_not_taken_back():
    d, s, sids, acked = _full(streams=2, sectors=4)
    assert not s.append(sids[0], T0 + 10**8, 1.0)
    kept = s.drops()
    assert not s.append(sids[0], T0 + 10**8 + 1, 1.0)
    got = [r[0] for r in s.records(sids[1])]
    s.commit(sids[1], got[0], 1)  # a frame after the pair was kept carries the count since
    refused = s.stats()["dropped_full"]
    t = RawStore(d, on_full="drop_newest")
    t.drops_back(kept)
    assert t.stats()["dropped_full"] == refused


def test_flush_writes_nothing():
    d, s, sids, acked = _full(streams=2, sectors=4)
    assert not s.append(sids[0], T0 + 10**8, 1.0)
    programmed = s.bytes_programmed
    s.flush()
    assert s.bytes_programmed == programmed


def test_meta_only_commits_on_a_lent_ring_leave_room_for_the_commits_that_free_it():
    # was: meta-only commits (the counters of syncs that sent nothing) filled the free sector the
    # chain took; then neither stream's commit alone freed the oldest sector, both raised ENOSPC
    # at every try and the ring refused every sample for good (74 acknowledged samples stuck)
    d, s, sids, acked = _full(streams=2, sectors=4, sector_size=512)
    _metas_until_full(s, sids[0], _small)
    _kept(s, acked)
    for sid in sids:
        got = [r[0] for r in s.records(sid)]
        s.commit(sid, got[-1], len(got), {"k": 0})
    assert s.pending() == 0
    assert s.append(sids[0], T0 + 10**9, 1) is True
    assert RawStore(d, on_full="drop_newest").pending() == 1


def _lent_then_released():
    # a drop_oldest ring that a sync_async's hold kept full: the chain took the free sector, then
    # the hold ends with the oldest sector still pending
    d = NorFlash(sectors=4, sector_size=512)
    s = RawStore(d, on_full="drop_oldest")
    held = [True]
    s.hold = lambda: held[0]
    sids = [s.stream_id("a"), s.stream_id("b")]
    acked = _fill(s, sids)
    _lend(s, sids[0])
    held[0] = False
    return d, s, sids, acked


def test_a_power_cut_in_the_rotation_out_of_a_lent_ring_keeps_pending_equal_to_readable():
    # was: that rotation erases the oldest sector before the checkpoint that counts its drop; a
    # cut between the two left 25 samples gone, still in pending and not in dropped_full
    cuts = 0
    for cut in range(40, 76):
        d, s, sids, acked = _lent_then_released()
        before = RawStore(d.copy(), on_full="drop_oldest").stats()["dropped_full"]
        d.arm(cut, "prefix", seed=cut)
        i = 0
        try:
            while i < 200:
                ts = T0 + 10**8 + i * 1000
                s.append(sids[i % 2], ts, i)
                acked[sids[i % 2]].append(ts)
                i += 1
        except OSError:
            cuts += 1
        d.power_on()
        s = RawStore(d, on_full="drop_oldest")
        lost = 0
        for sid in sids:
            got = _readable(s, sid)
            n = len(acked[sid])
            assert got == acked[sid][n - len(got) :], (cut, sid)
            assert s.pending(sid) == len(got), (cut, sid, s.pending(sid), len(got))
            lost += n - len(got)
        assert s.stats()["dropped_full"] - before == lost, (cut, s.stats()["dropped_full"], before, lost)
    assert cuts == 36, cuts


def _no_room(s, sid):
    # meta-only commits until the lent ring's room is the freeing commits' alone (ENOSPC), then
    # new names while their frames fit: -> the id of the first name that did not (it waits)
    _metas_until_full(s, sid, _small)
    for i in range(10):
        programmed = s.bytes_programmed
        new = s.stream_id("n%d" % i)
        if s.bytes_programmed == programmed:
            return new
    raise AssertionError("every name found room")


def test_a_new_stream_name_on_a_full_ring_with_no_room_for_its_frame_gets_its_id_and_waits():
    # was: stream_id raised OSError ENOSPC, so a Logger() given a new stream could not open and
    # so never synced the samples whose commits would make the room: stuck for good
    d, s, sids, acked = _full(streams=2, sectors=4, sector_size=512)
    new = _no_room(s, sids[0])  # nothing written: the name waits in RAM
    name = "n%d" % (new - 2)
    assert s.stream_id(name) == new
    refused = s.stats()["dropped_full"]
    assert s.append(new, T0 + 10**9, 1.0) is False
    assert s.stats()["dropped_full"] == refused + 1
    for sid in sids:
        got = [r[0] for r in s.records(sid)]
        s.commit(sid, got[-1], len(got), {"k": 0})
    assert s.append(new, T0 + 10**9 + 1, 2.0) is True
    t = RawStore(d, on_full="drop_newest")
    assert t.stream_id(name) == new and t.stream_id("stream0") == sids[0]
    assert _readable(t, new) == [T0 + 10**9 + 1]


def test_a_new_stream_name_that_waits_is_lost_with_a_reopen_and_nothing_was_written_under_its_id():
    d, s, sids, acked = _full(streams=2, sectors=4, sector_size=512)
    new = _no_room(s, sids[0])
    assert s.append(new, T0 + 10**9, 1.0) is False
    t = RawStore(d, on_full="drop_newest")
    _kept(t, acked)
    assert t.pending(new) == 0 and _readable(t, new) == []


def test_commits_on_a_lent_ring_whose_last_sector_a_failed_write_closed_still_free_it():
    # was: no frame could go anywhere (the last sector closed, the oldest pending), every commit
    # raised ENOSPC and every sample was refused for good (52 of 543 power cuts in a lent ring).
    # A commit there is held in RAM until the one that frees the oldest sector rotates
    d = Flaky(sectors=4, sector_size=512)
    d, s, sids, acked = _full(streams=2, sectors=4, sector_size=512, dev=d)
    _lend(s, sids[0])
    d.fail_at = d.ops
    try:
        s.commit(sids[0], 0, None, {"closed": 1})
        raise AssertionError("the program did not fail")
    except OSError as e:
        assert e.args[0] == 5, e
    for sid in sids:
        got = [r[0] for r in s.records(sid)]
        s.commit(sid, got[-1], len(got), {"k": 1})
    assert s.pending() == 0
    assert s.append(sids[0], T0 + 10**9, 1.0) is True
    t = RawStore(d, on_full="drop_newest")
    assert t.pending() == 1 and _readable(t, sids[0]) == [T0 + 10**9] and _readable(t, sids[1]) == []
    assert t.meta() == {"k": 1}


def test_a_new_name_whose_frame_the_device_fails_with_enospc_is_refused_not_kept_waiting():
    # the device's own ENOSPC (a host file system full) is no full ring: the name does not wait
    # in RAM as one the ring had no room for (its samples would have been refused for good)
    d = Flaky(sectors=4, sector_size=512)
    s = RawStore(d, on_full="drop_newest")
    s.stream_id("a")
    d.errno, d.fail_at = 28, d.ops
    try:
        s.stream_id("b")
        raise AssertionError("the device did not fail")
    except OSError as e:
        assert e.args[0] == 28, e
    assert s.stream_id("b") == 1
    assert s.append(1, T0, 1.0) is True
    assert _readable(RawStore(d, on_full="drop_newest"), 1) == [T0]
