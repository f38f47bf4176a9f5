# Fault-injection sweep of a gateway (the "devices" section, Platform API): test_fault_sweep.py's
# sweep (its Sweep, its k, its figures, its delivery check; tests/faults.py's fallible calls) run on
# a gateway's workload: three devices of two streams each beside one top-level stream, a backlog of
# a few batches per device (4 points a request), a point the server refuses (400: a fraction sent
# to node-1's int datastream), node-2 unknown to the server for one request after its first batch
# went (404 "Device ... is not found": parked, park_s 0, so the next sync takes it again), node-0's
# daily quota running out mid-sync (its last batch cut to what is left, the others going on), a
# 308 and a token renewal. A sync in which the k-th fallible call fails, for every k (the stride
# below), then fault-free syncs until only node-0's quota holds samples back; then the quota is
# raised (the Logger opened again with it) and a last sync sends the rest.
# For every k: the sync does not raise; each device's books in stats()["devices"] balance (sent +
# pending + dropped_stale + rejected + thinned = added) and say what went (node-0 sent its quota,
# node-1 one rejected; each device's quota left is the day's quota less what it sent), the same
# once the Logger is opened again and once the rest went; every durable sample reaches its own
# device's datastream with its value, none twice but the batch in flight (at-least-once), and
# nothing else arrives. Every third k the Logger is closed and opened again after the faulty sync.
# The same sweep with a power cut at k (that call and every later one fail, then a reopen).
# The workload's sync makes some 300 fallible calls. Default (make test): every third k for faults
# and every sixth for power cuts on the unix ports, every sixth and twelfth on CPython (_ks doubles
# the stride there, as the emulator shares its process): some 155 runs on a unix port (20 s,
# 30 s on the board-like one), 80 on CPython (15 s).
# BLYNKLOG_SWEEP_FULL=1: every k, each both with and without the reopen (some 600 runs a sweep,
# 1.5-2 minutes each). BLYNKLOG_SWEEP_K=k[,k...]: only those k.
import emu
import faults
import test_fault_sweep as fs
from blynklog import Logger
from blynklog.compat import utc_day
from logger_support import now_ms
from support import rmtree, tmpdir

RAISED = 10000  # points_per_day once the quota is raised (the Logger opened again with it)
QUOTA = 14  # points_per_day: node-0's 18 samples run out mid-sync, the others' fit (node-1 sends 12)
STRIDE = 3  # faults at every third k (every sixth on CPython): see the header
CUT_STRIDE = 6  # power cuts at every sixth k (every twelfth on CPython)
TOP = ""  # the top-level device in the books
TOP_SAMPLES = 3
# name: (emulator device id, samples of s0, samples of s1)
DEVICES = {"node-0": (100, 10, 8), "node-1": (101, 7, 6), "node-2": (102, 6, 6)}
POISON_DEV = "node-1"  # its s1 is an int datastream on the server: the fraction is refused
UNKNOWN = "node-2"
UNKNOWN_AFTER = 16  # upload requests before the one answered 404 (node-2's, after its first batches: the first test)
RENEWAL_AFTER = 12  # upload requests before the one answered 401 (the token is renewed)


def config(path, quota=QUOTA):
    cfg = fs.config(path)
    cfg["streams"] = {"t": {"id": 1, "decimals": 1}}
    devs = {}
    for name in DEVICES:
        devs[name] = {
            "device_id": DEVICES[name][0],
            "streams": {"s0": {"id": 1, "decimals": 1}, "s1": {"id": 2, "decimals": 1}},
        }
    cfg["devices"] = devs
    cfg["limits"]["points_per_day"] = quota
    cfg["upload"]["park_s"] = 0  # a parked device goes again at the next sync
    return cfg


def workload():
    # [(device, stream, ts, value)], oldest first; the poison point's ts. Every stream's samples
    # interleave with the others' (oldest first across devices: node-0 runs out amid the others)
    base = now_ms() - 600000
    out = []
    poison = None
    d = 0
    for name in sorted(DEVICES):  # one order on every runtime (dicts iterate in another on MicroPython)
        ns = DEVICES[name][1:]
        for s in range(2):
            for i in range(ns[s]):
                ts = base + i * 3000 + d * 10 + s
                value = 20 + d * 10 + s * 5 + i * 0.5
                if name == POISON_DEV and s == 1:
                    value = 10.0 + i  # an int datastream: whole numbers pass
                    if i == 2:
                        value = 2.5
                        poison = ts
                out.append((name, "s%d" % s, ts, value))
        d += 1
    for i in range(TOP_SAMPLES):
        out.append((TOP, "t", base + 1500 + i * 6000, 7.0 + i))
    out.sort(key=lambda p: p[2])
    return out, poison


def fresh_server():
    emu.reset()
    emu.config(points_per_day=10000)  # the client's quota binds, not the server's
    for name in DEVICES:
        emu.add_device(DEVICES[name][0], 2)
    emu.add_stream(DEVICES[POISON_DEV][0], 2, "V2", "int")
    emu.inject("redirect", target="upload", after=1, location=emu.url())
    message = "Device with identifier %d is not found or belong to another organization." % DEVICES[UNKNOWN][0]
    emu.inject("status", target="upload", after=UNKNOWN_AFTER, status=404, body={"error": {"message": message}})
    emu.inject("status", target="upload", after=RENEWAL_AFTER, status=401)


def add(log, sample):
    dev, stream, ts, value = sample
    if dev == TOP:
        log.add(stream, value, ts=ts)
    else:
        log.add(stream, value, ts=ts, device=dev)


def sync_until(log, stops):
    # fault-free syncs until one stops for a reason in stops with no device parked (a sync that
    # met the 404 leaves that device to the next); -> symptoms
    report = None
    for _ in range(fs.MAX_SYNCS):
        report = log.sync()
        if report["stopped"] in stops and not report["parked"]:
            return []
    return ["stuck: %s (%s)" % (report["stopped"], report["last_error"])]


class GatewaySweep(fs.Sweep):
    def run(self, k, reopen, cut=False):
        # One run with fault k (0: none), or a power cut at k (then always a reopen); -> the
        # fallible calls the faulty sync made.
        self.runs += 1
        fresh_server()
        folder = tmpdir("gwsweep")
        cfg = config(folder + "/store")
        samples, poison = workload()
        day = utc_day(now_ms())
        log = Logger(cfg)
        for sample in samples[: -fs.UNFLUSHED]:
            add(log, sample)
        log.flush()
        for sample in samples[-fs.UNFLUSHED :]:
            add(log, sample)  # the sync flushes these
        log, samples, symptoms, calls, site, report = self.faulty_sync(log, cfg, k, reopen, cut, samples)
        if k == 0:
            self.first = (report, emu.requests())  # the fault-free sync's (the first test's)
        # node-0's quota holds the rest of its samples back (unless a UTC day began meanwhile)
        symptoms += sync_until(log, ("done", "quota"))
        same = day == utc_day(now_ms())
        held = True if same else None
        symptoms += self.books("", log.stats(), samples, poison, held, QUOTA if same else None)
        log.close()
        log = Logger(config(folder + "/store", RAISED))  # the quota raised: the rest may go
        symptoms += self.books("after reopen: ", log.stats(), samples, poison, held, RAISED if same else None)
        symptoms += sync_until(log, ("done",))
        same = day == utc_day(now_ms())
        symptoms += self.books("with the quota raised: ", log.stats(), samples, poison, False, RAISED if same else None)
        log.close()
        symptoms += self.delivered(samples, poison, site)
        rmtree(folder)
        if symptoms:
            self.failures.append((k, site, "power cut" if cut else "reopened" if reopen else "", symptoms))
        return calls

    def books(self, when, st, samples, poison, held, per_day):
        # each device's books: balanced, and what went (held: node-0's quota still binds; None: a
        # UTC day began during the run, node-0 may have sent more); each device's quota left is
        # per_day less what it sent (per_day None: a UTC day began, the books' day is another)
        out = []
        added = {}
        for dev, _, _, _ in samples:
            added[dev] = added.get(dev, 0) + 1
        per = st["devices"]
        for dev in added:
            b = per.get(dev)
            if b is None:
                out.append("%sno books for device %r" % (when, dev))
                continue
            total = b["sent"] + b["pending"] + b["dropped_stale"] + b["rejected"] + b["thinned"]
            if total != added[dev]:
                out.append(
                    "%s%r: sent %d + pending %d + dropped %d + rejected %d + thinned %d != added %d"
                    % (when, dev, b["sent"], b["pending"], b["dropped_stale"], b["rejected"], b["thinned"], added[dev])
                )
            rejected = 1 if dev == POISON_DEV else 0
            pending = added[dev] - QUOTA if held and dev == "node-0" else 0
            want = added[dev] - rejected - pending
            if held is None and dev == "node-0":
                want, pending = b["sent"], b["pending"]
            if b["sent"] != want or b["pending"] != pending or b["rejected"] != rejected:
                out.append(
                    "%s%r: sent %d, pending %d, rejected %d; expected %d, %d, %d (each sample booked once)"
                    % (when, dev, b["sent"], b["pending"], b["rejected"], want, pending, rejected)
                )
            if per_day is not None and b["quota_left"] != per_day - b["sent"]:
                out.append("%s%r: quota left %d, sent %d of %d" % (when, dev, b["quota_left"], b["sent"], per_day))
        for entry in st["rejects"]:
            if entry[2] != poison:
                out.append("%sa sample refused but the poison point: %s" % (when, entry))
        return out

    def delivered(self, samples, poison, site):
        want = {}
        for name in DEVICES:
            want[(DEVICES[name][0], 1)] = {}
            want[(DEVICES[name][0], 2)] = {}
        want[(1, 1)] = {}
        for dev, stream, ts, value in samples:
            if ts != poison:
                did = DEVICES[dev][0] if dev != TOP else 1
                want[(did, 1 if stream != "s1" else 2)][ts] = value
        return self.arrived(want, site)


def test_a_fault_free_run_meets_the_quota_the_unknown_device_and_the_refused_point():
    emu.require()
    sw = GatewaySweep()
    with faults.Injected(sw.budget):
        calls = sw.run(0, False)
    assert not sw.failures, fs.failed(sw)
    report, requests = sw.first
    uploads = []  # [device id (None: not accepted), status] of the first sync's uploads, in order
    for r in requests:
        if r["path"].endswith("/import/batch"):
            uploads.append([r.get("device"), r["status"]])
    statuses = [u[1] for u in uploads]
    assert 308 in statuses and 401 in statuses and 400 in statuses and 404 in statuses, uploads
    # node-2: a batch went, then the 404 parked both its streams for the rest of the sync
    unknown = DEVICES[UNKNOWN][0]
    assert [unknown, 204] in uploads[: statuses.index(404)], uploads
    assert sorted(report["parked"]) == [UNKNOWN + "/s0", UNKNOWN + "/s1"], report
    assert report["devices"][UNKNOWN]["sent"] > 0 and report["devices"][UNKNOWN]["pending"] > 0, report
    # node-0's quota ran out mid-sync: spent, and other devices' batches went after its last one
    assert report["devices"]["node-0"]["quota_spent"] and report["devices"]["node-0"]["sent"] == QUOTA, report
    last = max([j for j in range(len(uploads)) if uploads[j][0] == DEVICES["node-0"][0]])
    assert [u for u in uploads[last + 1 :] if u[1] == 204], uploads
    assert report["devices"][POISON_DEV]["rejected"] == 1 and report["stopped"] == "quota", report
    print("fault-free run: %d fallible calls %s" % (calls, sw.sites))


def test_a_later_run_meets_every_kind_of_fallible_call_the_first_did():
    # the stand-ins stay through a Logger's close, which lets the upload side's modules and the
    # store's reading side go (a later import would load them without the stand-ins)
    emu.require()
    sw = GatewaySweep()
    with faults.Injected(sw.budget):
        sw.run(0, False)
        first = sorted(sw.budget.sites)
        sw.run(0, True)
        second = sorted(sw.budget.sites)
    assert not sw.failures, fs.failed(sw)
    assert second == first, (first, second)


def test_every_fault_in_a_gateway_sync_keeps_every_device_s_samples_and_books():
    emu.require()
    fs.sweep(False, stride=STRIDE, sw=GatewaySweep(), what="gateway")


def test_a_power_cut_at_any_call_of_a_gateway_sync_keeps_every_device_s_samples_and_books():
    emu.require()
    fs.sweep(True, stride=CUT_STRIDE, sw=GatewaySweep(), what="gateway, power cuts")
