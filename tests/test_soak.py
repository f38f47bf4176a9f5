# The randomised soak: a simulated week of samples on 3 streams, uploaded to the local emulator
# through random server faults and random power cuts (between and during syncs) on real littlefs.
# At the end, with faults and cuts off, the backlog drains, and:
#   - every flushed sample reached the server, with its exact timestamp and value;
#   - nothing reached it that was never added (no garbage);
#   - nothing twice, except points of a batch cut off after the server accepted it (bounded);
#   - the books balance: added = sent + pending + dropped_full + dropped_stale + rejected + thinned.
# Runs where littlefs is (the unix port); the seed is printed, BLYNKLOG_SOAK_SEED=N runs another.
import os
import random

import emu
from blockdev import RAMBlockDev, littlefs
from blynklog import Logger
from logger_support import DAY_MS, now_ms

MOUNT = "/soak"
STREAMS = (("temperature", "V1", 1, 2), ("humidity", "V2", 2, 1), ("pressure", "V3", 3, None))
PER_REQUEST = 150
STEP_MS = 600000  # a sample every 10 minutes per stream: 1,008 per stream over the week
STALE = 6  # samples older than max_age: dropped at sync, counted


def _config():
    streams = {}
    for name, pin, _, dec in STREAMS:
        streams[name] = {"pin": pin}
        if dec is not None:
            streams[name]["decimals"] = dec
    return {
        "server": emu.url(),
        "api": "device",
        "token": "test-device-token",
        "ca": emu.ca_path(),
        "streams": streams,
        "store": {"path": MOUNT + "/bl", "capacity": 196608},
        "limits": {"points_per_request": PER_REQUEST, "max_age_days": 30},
        "upload": {"timeout_ms": 3000, "retry_base_s": 0, "retry_max_s": 0},
    }


def _value(si, i):
    if si == 0:
        return round(15 + (i % 97) * 0.13, 2)
    if si == 1:
        return round(40 + (i % 53) * 0.7, 1)
    return 990 + (i % 41)


class _Board:
    # The flash, the mount and the Logger, with power cuts.
    def __init__(self, vfs):
        self.vfs = vfs
        self.bdev = RAMBlockDev(blocks=96)
        vfs.VfsLfs2.mkfs(self.bdev)
        vfs.mount(vfs.VfsLfs2(self.bdev), MOUNT)
        self.log = Logger(_config())
        self.boots = 1

    def reboot(self):
        try:
            self.vfs.umount(MOUNT)
        except OSError:
            pass
        self.bdev = RAMBlockDev(data=self.bdev.data)
        self.vfs.mount(self.vfs.VfsLfs2(self.bdev), MOUNT)
        self.log = Logger(_config())
        self.boots += 1

    def close(self):
        try:
            self.log.close()
        finally:
            self.vfs.umount(MOUNT)


def _faults(rng):
    kind = rng.choice(("status", "status", "drop", "reset_mid_body", "garbage", "slow"))
    if kind == "status":
        emu.inject("status", count=rng.randint(1, 2), status=rng.choice((500, 503, 429)), retry_after=0)
    elif kind == "slow":
        emu.inject("slow", delay_s=4)  # past the 3 s timeout: accepted, then the answer is lost
        return 1
    else:
        emu.inject(kind)
    return 0


def test_a_week_of_samples_through_faults_and_power_cuts_arrives_exactly_once_or_counted():
    vfs = littlefs()
    emu.require()
    emu.reset()
    del _log[:]
    seed = int(os.getenv("BLYNKLOG_SOAK_SEED") or 11)  # a fixed default: make test is reproducible
    print("soak seed", seed)
    rng = random.Random(seed) if hasattr(random, "Random") else random
    if rng is random:
        random.seed(seed)
    board = _Board(vfs)
    end = now_ms() - 60000
    start = end - 7 * DAY_MS
    per_stream = 7 * DAY_MS // STEP_MS
    flushed = set()  # (stream index, ts) made durable by a flush that returned
    added = {}  # (stream index, ts) -> value, every add() that returned
    unflushed = []
    cut_syncs = slow = 0
    i = 0
    try:
        while i < per_stream:
            # a wake: some samples, maybe a flush, maybe a sync, a cut anywhere
            n = rng.randint(5, 60)
            if rng.random() < 0.3:
                board.bdev.arm(rng.randint(0, 12))
            try:
                for _ in range(n):
                    if i >= per_stream:
                        break
                    ts = start + i * STEP_MS
                    for si in range(3):
                        added[(si, ts + si)] = _value(si, i)  # before add(): a cut inside it may keep it
                        board.log.add(STREAMS[si][0], _value(si, i), ts=ts + si)
                        unflushed.append((si, ts + si))
                    i += 1
                if rng.random() < 0.8:
                    board.log.flush()
                    if not board.bdev.dead:
                        flushed.update(unflushed)
                        unflushed = []
                if not board.bdev.dead and rng.random() < 0.6:
                    if rng.random() < 0.5:
                        slow += _faults(rng)
                    if rng.random() < 0.3:
                        board.bdev.arm(rng.randint(0, 6))  # a cut during the sync
                    board.log.sync()
                    if board.bdev.dead:
                        cut_syncs += 1
            except OSError:
                pass
            if board.bdev.dead:
                unflushed = []
                board.reboot()
            else:
                board.bdev.cut_after = None
        # a few samples too old for Blynk, flushed: they must be dropped and counted
        for k in range(STALE):
            ts = now_ms() - 40 * DAY_MS + k
            board.log.add("temperature", 1.0, ts=ts)
        board.log.flush()
        # drain: no faults, no cuts
        board.bdev.cut_after = None
        _harvest()
        emu.reset()
        report = None
        for _ in range(100):
            report = board.log.sync()
            if report["pending"] == 0:
                break
        st = board.log.stats()
        _harvest()
    finally:
        board.close()
    assert report["pending"] == 0, report
    dups = 0
    received = _all_received()
    for key in received:
        if received[key] > 1:
            dups += received[key] - 1
    arrived = set(k[:2] for k in received)
    lost = [k for k in flushed if k not in arrived]
    assert not lost, "soak seed %d: %d flushed samples never arrived, e.g. %r" % (seed, len(lost), lost[:3])
    garbage = [k for k in received if k[:2] not in added]
    assert not garbage, "soak seed %d: received what was never added: %r" % (seed, garbage[:3])
    wrong = [k for k in received if added[k[:2]] != k[2] and round(added[k[:2]], 2) != round(k[2], 2)]
    assert not wrong, "soak seed %d: values changed: %r" % (seed, wrong[:3])
    assert dups <= (cut_syncs + slow) * PER_REQUEST, (seed, dups, cut_syncs, slow)
    survived = len(arrived)
    books = st["sent"] + st["pending"] + st["dropped_full"] + st["dropped_stale"] + st["rejected"] + st["thinned"]
    assert st["dropped_stale"] == STALE and st["dropped_full"] == 0 and st["rejected"] == 0, st
    assert books == survived + STALE, (seed, books, survived, st)
    print(
        "soak seed %d: %d boots, %d samples added, %d flushed, %d arrived, %d resent, %d cut syncs"
        % (seed, board.boots, len(added), len(flushed), survived, dups, cut_syncs)
    )


_log = []


def _harvest():
    # the emulator's record of every point, kept here across its resets
    for si in range(3):
        for ts, value in emu.points(1, STREAMS[si][2]):
            _log.append((si, ts, value))


def _all_received():
    # (stream index, ts, value) -> times received, over the whole soak
    counts = {}
    for p in _log:
        counts[p] = counts.get(p, 0) + 1
    return counts
