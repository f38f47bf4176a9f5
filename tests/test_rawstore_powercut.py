# Exhaustive power-cut test of the raw-flash store, littlefs's way: a workload (stream names,
# appends, commits, rotations that reclaim and drop the oldest sector, a reopen) is run again
# and again on a NOR simulator with the power cut at operation N, for EVERY N, and for each cut:
# nothing (the cut before the operation starts), a prefix of its bytes (a record half written,
# a sector half erased) and a random subset of its bits. After each cut the store is opened again
# and checked: nothing acknowledged is lost (except samples counted in dropped_full, oldest
# first), nothing committed comes back, no garbage, exact pending counts, the commits' meta
# agrees with the cursors (it counts the committed samples: old cursors with the old meta, new
# with new, never a mix), and the store keeps working. Two samples are strings holding whole
# frames (plain, and keyed for other places): torn or whole, none ever comes back as a sample of
# its own. A last test also cuts the power again during that recovery.
# Each case prints its id ("mode=prefix cut=57 seed=57"); run_case(mode, cut) reproduces one.
import binascii
import struct

from blynklog import record
from blynklog.rawstore import RawStore
from norflash import NorFlash, PowerCut

T0 = 1700000000000
SECTORS = 4
SECTOR = 256


def _ascii_frame(sid, base, crckey):
    # a mark and a whole record (values 5..63, CRC from crckey), all ASCII: a str holds it
    buf = bytearray(64)
    for t in range(59 * 32 * 4):
        n = record.encode_into(buf, 0, sid, base + t // 59 % 32, 5 + t % 59, t // (59 * 32), None, base)
        struct.pack_into("<I", buf, n - 4, binascii.crc32(memoryview(buf)[: n - 4], crckey) & 0xFFFFFFFF)
        if max(buf[:n]) < 0x80:
            return b"\x00" + bytes(buf[:n])
    raise AssertionError("no ASCII record found")


_HOSTILE = []


def hostile(k):
    # sample k of the hostile strings: whole frames of stream 0 ("a") for several keys
    if not _HOSTILE:
        parts = []
        for key in (0, 32, 3 << 16 | 60, 5 << 16 | 100):  # plain, and keyed with guessed salts
            parts.append(_ascii_frame(0, T0, key))
        _HOSTILE.append(str(b"|".join(parts), "utf-8"))
    return "<%d>%s" % (k, _HOSTILE[0])


class Model:
    def __init__(self):
        self.sids = {}
        self.acked = {}  # name -> values acknowledged, in order
        self.done = {}  # name -> the values committed (acknowledged commits)
        self.dropped = 0  # dropped_full after the last acknowledged operation
        self.meta = {}  # the meta of the last acknowledged commit
        self.inflight = None


def workload(s, m, reopen):
    # The operations, in order; m records each one as acknowledged when it returns.
    def name(n):
        m.inflight = ("name", n)
        m.sids[n] = s.stream_id(n)
        m.acked.setdefault(n, [])
        m.done.setdefault(n, [])
        m.inflight = None

    def add(n, v):
        m.inflight = ("add", n, v)
        assert s.append(m.sids[n], T0 + (v if type(v) is int else 500) * 1000, v)
        m.acked[n].append(v)
        m.dropped = s.stats()["dropped_full"]
        m.inflight = None

    def commit(n):
        got = list(s.records(m.sids[n]))
        if got:
            values = [r[2] for r in got]
            meta = books(m, len(values), values[-1] if type(values[-1]) is int else -2)
            m.inflight = ("commit", n, values, meta)
            s.commit(m.sids[n], got[-1][0], len(got), meta)
            m.done[n] = m.done[n] + values
            m.dropped = s.stats()["dropped_full"]
            m.meta = meta
            m.inflight = None

    def meta_only(n):
        # a commit that moves no cursor (pos at or before it) still saves its meta
        meta = books(m, 0, -1)
        m.inflight = ("meta", meta)
        s.commit(m.sids[n], 0, 0, meta)
        m.meta = meta
        m.inflight = None

    name("a")
    name("b")
    v = 0
    for rnd in range(10):
        for i in range(12):
            add("a" if i % 3 else "b", v)
            v += 1
        if rnd in (2, 6):
            add("a", hostile(rnd))
        commit("a")
        if rnd == 7:
            s = reopen()
        if rnd == 1:
            name("c")
            add("c", v)
            v += 1
            s = reopen()
        if rnd == 4:
            commit("b")
        if rnd == 5:
            meta_only("b")
    return s


def books(m, more, last):
    # the meta a commit carries: the number of samples committed with it, the last one's value
    n = more
    for k in m.done:
        n += len(m.done[k])
    return {"committed": n, "last": last}


def check(dev, m):
    # Opens the store on the device after a cut and checks it against the model.
    s = RawStore(dev)
    inf = m.inflight
    for n in m.sids:
        assert s.stream_id(n) == m.sids[n], ("sid", n)
    pending = 0
    lost = [0, 0]  # missing acknowledged samples not covered by a commit, without and with
    for n in m.sids:  # the commit in flight (if there is one)
        a = m.acked[n]
        y = [r[2] for r in s.records(m.sids[n])]
        assert s.pending(m.sids[n]) == len(y), ("pending", n, s.pending(m.sids[n]), len(y))
        pending += len(y)
        extra = inf[2] if inf is not None and inf[0] == "add" and inf[1] == n else None
        # no garbage, no gap, the newest kept: y is a tail of the acknowledged values, with or
        # without the sample in flight
        ok = not y or y == a[len(a) - len(y) :]
        if not ok and extra is not None:
            full = a + [extra]
            ok = y == full[len(full) - len(y) :]
        assert ok, ("not a tail", n, y, a, extra)
        kept = len([x for x in y if x in a])
        for h in (0, 1):
            done = m.done[n]
            if h and inf is not None and inf[0] == "commit" and inf[1] == n:
                done = done + inf[2]
            lost[h] += len([x for x in a if x not in done]) - kept
        # nothing committed comes back (a commit in flight may have landed or not)
        assert not [x for x in y if x in m.done[n]], ("committed sample back", n, y, m.done[n])
    st = s.stats()
    assert st["pending"] == pending
    d = st["dropped_full"]
    assert m.dropped <= d <= m.dropped + SECTOR // 8, ("dropped", d, m.dropped)
    # nothing flushed lost: every missing sample is committed or counted as dropped
    assert d in lost, ("lost without a count", lost, d)
    # the meta moved with the cursors: a commit in flight landed (its samples are gone and not
    # counted as dropped: d == lost[1] < lost[0]) with its meta, or not at all
    want = [m.meta]
    if inf is not None and inf[0] == "commit" and d != lost[0]:
        want = [inf[3]]
    elif inf is not None and inf[0] == "meta":
        want = [m.meta, inf[1]]
    assert s.meta() in want, ("meta", s.meta(), want, lost, d)
    # it keeps working: a new sample lands after everything else and survives a reopen
    sid = m.sids.get("a")
    if sid is not None:
        assert s.append(sid, T0 + 999999, 999999)
        s2 = RawStore(dev)
        assert [r[2] for r in s2.records(sid)][-1] == 999999
        assert s2.meta() == s.meta()
    return s


def new_device():
    return NorFlash(sectors=SECTORS, sector_size=SECTOR)


def run_case(mode, cut, seed=None):
    dev = new_device()
    dev.arm(cut, mode, cut if seed is None else seed)
    m = Model()
    try:
        s = RawStore(dev)
        workload(s, m, lambda: RawStore(dev))
    except PowerCut:
        dev.power_on()
        check(dev, m)
        return True
    return False  # the workload ended before the cut


def count_ops():
    dev = new_device()
    dev.arm(None)
    workload(RawStore(dev), Model(), lambda: RawStore(dev))
    return dev.ops


def sweep(mode, seeds=1):
    total = count_ops()
    assert total > 300
    cut = 0
    while True:
        for k in range(seeds):
            seed = cut + k * 100003
            print("mode=%s cut=%d seed=%d" % (mode, cut, seed))
            if not run_case(mode, cut, seed):
                assert cut == total
                return
        cut += 1


def test_the_workload_rotates_reclaims_and_drops():
    dev = new_device()
    m = Model()
    s = workload(RawStore(dev), m, lambda: RawStore(dev))
    assert s.stats()["dropped_full"] > 0 and dev.total_erases() >= SECTORS
    assert s.meta() == m.meta and m.meta["committed"] > 0
    check(dev, m)


def test_power_cut_before_every_program_and_erase():
    sweep("none")


def test_power_cut_part_way_through_every_program_and_erase():
    sweep("prefix")


def test_power_cut_leaving_random_bits_of_every_program_and_erase():
    sweep("bits", seeds=3)


def test_power_cut_again_during_the_recovery_from_every_cut():
    total = count_ops()
    for cut in range(total):
        dev = new_device()
        dev.arm(cut, "prefix", cut)
        m = Model()
        try:
            workload(RawStore(dev), m, lambda dev=dev: RawStore(dev))
        except PowerCut:
            pass
        snapshot = bytearray(dev.data)
        r = 0
        while r < 8:
            print("mode=prefix cut=%d seed=%d recut=%d" % (cut, cut, r))
            dev.data[:] = snapshot
            dev.arm(r, "bits", r + 1)
            try:
                # open, then a write: a closed or torn tail makes it rotate (erase, claim)
                RawStore(dev).stream_id("zz")
                break  # the recovery needed fewer than r operations
            except PowerCut:
                pass
            dev.power_on()
            check(dev, m)
            r += 1
