# Fault-injection sweep (issue 14): a representative workload (three streams, a backlog of several
# batches, one poison point the server refuses, a 308, a token renewal, and a stale backlog filling a
# first segment that is removed once committed) runs a sync in which the k-th fallible call fails,
# for every k the workload makes, then fault-free syncs until done.
# Fallible calls (tests/faults.py): each socket connect, write and read, each flash open-for-write,
# write, flush, close, rename and remove, and a MemoryError at each allocation-heavy step (each HTTP
# request and the reading of its answer, the encoder's body and chunks, the store's read buffer and
# commit record, the state file, answer parsing); the sync flushes the last two samples itself.
# For every k: the sync does not raise, the books balance, every durable sample reaches the
# emulator with its value, none is refused as a duplicate of itself, nothing is booked twice. A
# sample may reach the server twice only for the batch in flight when the answer was lost or the
# commit failed after the server accepted it (at-least-once): counted and printed. Every third k
# the logger is closed and opened again after the faulty sync (a reboot).
# The same sweep on the raw-flash store (its flash file's writes and flushes fail), the same sweep
# with a power cut at k (that call and every later one fail, then a reopen), and a power cut at each
# segment change while a backlog is added to a full store (drop_oldest).
# Each sweep prints "fault sweep: N injection points, M runs (...)" and every failing run.
# Default (make test): on the unix ports every k of a small workload for faults (~190), every second
# k on the raw store, every third k for power cuts in a sync, every k while adding; CPython (whose
# emulator shares the process) takes every second of those k (the calls are the same on every
# runtime, but for CPython's fsync). Some 25 s on CPython, 1.5-2 minutes on a unix port.
# BLYNKLOG_SWEEP_FULL=1: a longer backlog, every k, each both with and without the reopen.
# BLYNKLOG_SWEEP_K=k[,k...]: only those k (to reproduce one failure).
import os

import emu
import faults
from blynklog import Logger
from logger_support import now_ms
from support import IS_MICROPYTHON, rmtree, tmpdir

PER_REQUEST = 4
TOKEN_RENEWAL_AFTER = 6  # upload requests before the server refuses the token once (401)
MAX_SYNCS = 8  # fault-free syncs after the faulty one before "stuck"
STALE = 1000  # more than a 4 KB segment holds (values that pack into some 5 bytes: about 800)
UNFLUSHED = 2  # the newest samples, left for the sync's own flush


def _full():
    return os.getenv("BLYNKLOG_SWEEP_FULL") == "1"


def workload():
    # [(stream, ts, value)], oldest first across streams; the poison point's ts.
    # a: a backlog of several batches whose last batch is a lone point; b: the poison point (a
    # fraction sent to an int datastream) in its second batch; c: one lone sample.
    n = 21 if _full() else 9
    base = now_ms() - 600000
    out = []
    for i in range(n):
        out.append(("a", base + i * 3000, 20 + i * 0.5))
    poison = None
    for i in range(7):
        ts = base + 1000 + i * 3000
        if i == 2:
            poison = ts
            out.append(("b", ts, 2.5))
        else:
            out.append(("b", ts, 10.0 + i))
    out.append(("c", base + 2000 + 4 * 3000, 7.0))
    out.sort(key=lambda p: p[1])
    return out, poison


def stale_samples():
    # d: samples older than max_age_days, added first: they fill the first segment, are dropped at
    # sync (dropped_stale, never sent) and their segment is removed once committed
    base = now_ms() - 40 * 86400000
    out = []
    for i in range(STALE):
        out.append(("d", base + i * 1000, _scrambled(i)))
    return out


def _scrambled(i):
    # a float exact in float32, and its tenths (decimals 1) under 2**24, whose changes from one
    # sample to the next take some 4 bytes packed (store format 3 packs steady values into a bit
    # or two, and these must fill segments)
    return float((i * 2654435761) % 1048573) + 0.5


SIDS = {"a": 1, "b": 2, "c": 3}


def config(path, backend="littlefs"):
    cfg = {
        "server": emu.http_url(),  # the 308 moves it to the TLS listener
        "ca": emu.ca_path(),
        "api": "platform",
        "client_id": "test-client",
        "client_secret": "test-secret",
        "device_id": 1,
        "streams": {"a": {"id": 1, "decimals": 1}, "b": {"id": 2, "decimals": 1}, "c": {"id": 3}, "d": {"id": 4}},
        "store": {"path": path},
        "limits": {"points_per_request": PER_REQUEST, "requests_per_s": 1000},
        "upload": {"retry_base_s": 0, "timeout_ms": 5000},
    }
    if backend == "raw":
        cfg["store"]["backend"] = "raw"  # its flash in <path>/nor.bin
        cfg["store"]["capacity"] = 65536  # 16 sectors: a smaller file to blank at each run
    return cfg


def fresh_server():
    emu.reset()
    emu.add_stream(1, 2, "V2", "int")  # stream b: the poison point's fraction is refused (400)
    emu.inject("redirect", target="upload", after=1, location=emu.url())
    emu.inject("status", target="upload", after=TOKEN_RENEWAL_AFTER, status=401)


class Sweep:
    def __init__(self, backend="littlefs"):
        self.backend = backend
        self.budget = faults.Budget()
        self.failures = []  # (k, site, how, [symptom, ...])
        self.repeats = 0  # samples the server got twice (at-least-once), over all runs
        self.repeat_runs = 0
        self.runs = 0
        self.sites = {}

    def run(self, k, reopen, cut=False):
        # One run with fault k (0: none), or a power cut at k (then always a reopen). Returns the
        # number of fallible calls the faulty sync made.
        self.runs += 1
        fresh_server()
        folder = tmpdir("sweep")
        cfg = config(folder + "/store", self.backend)
        samples, poison = workload()
        log = Logger(cfg)
        for name, ts, value in stale_samples():
            log.add(name, value, ts=ts)
        for name, ts, value in samples[:-UNFLUSHED]:
            log.add(name, value, ts=ts)
        log.flush()
        for name, ts, value in samples[-UNFLUSHED:]:
            log.add(name, value, ts=ts)  # the sync flushes these: in RAM until then (store format 3)
        log, samples, symptoms, calls, site, _report = self.faulty_sync(log, cfg, k, reopen, cut, samples)
        report = None
        for _ in range(MAX_SYNCS):
            report = log.sync()
            if report["stopped"] == "done":
                break
        else:
            symptoms.append("stuck: %s (%s)" % (report["stopped"], report["last_error"]))
        symptoms += self.books("", log.stats(), samples)
        log.close()
        log = Logger(cfg)
        symptoms += self.books("after reopen: ", log.stats(), samples)
        log.close()
        symptoms += self.delivered(samples, poison, site)
        rmtree(folder)
        if symptoms:
            self.failures.append((k, site, "power cut" if cut else "reopened" if reopen else "", symptoms))
        return calls

    def faulty_sync(self, log, cfg, k, reopen, cut, samples):
        # The sync with fault k (0: none) or a power cut at k, then the restart or the reopen that
        # follows -> (the Logger to go on with, the samples that count, symptoms, the fallible
        # calls the sync made, the site that failed, the sync's report or None)
        symptoms = []
        self.budget.arm(k, cut)
        report = None
        try:
            report = log.sync()
        except faults.PowerCut:
            pass
        except Exception as e:
            symptoms.append("sync raised %s: %s" % (type(e).__name__, e))
        finally:
            calls = self.budget.disarm()
        site = self.budget.fired
        if k == 0:
            self.sites = dict(self.budget.sites)
        if cut and site is not None and getattr(log._store, "_fcount", 0):
            # the cut came before the sync's flush wrote the last samples: not durable, gone with
            # the RAM (docs/FORMAT.md: a sample is durable once flush() returns); the books and
            # the server then hold the others
            samples = samples[:-UNFLUSHED]
        if cut and site is not None:
            # the board restarts: RAM is gone; only the file the store held open is let go
            if getattr(log._store, "_wf", None) is not None:
                log._store._wf.close()
            log = Logger(cfg)
        elif reopen:
            try:
                log.close()
            except Exception as e:
                symptoms.append("close raised %s: %s" % (type(e).__name__, e))
            log = Logger(cfg)
        return log, samples, symptoms, calls, site, report

    def books(self, when, st, samples):
        out = []
        added = len(samples) + STALE
        total = st["sent"] + st["pending"] + st["rejected"] + st["dropped_stale"] + st["dropped_full"] + st["thinned"]
        if total != added:
            out.append(
                "%sbooks: sent %d + pending %d + rejected %d + dropped %d + thinned %d != added %d"
                % (
                    when,
                    st["sent"],
                    st["pending"],
                    st["rejected"],
                    st["dropped_stale"] + st["dropped_full"],
                    st["thinned"],
                    added,
                )
            )
        if st["pending"]:
            out.append("%spending %d after the syncs" % (when, st["pending"]))
        if st["sent"] != len(samples) - 1:
            out.append("%ssent %d, expected %d (each sample booked once)" % (when, st["sent"], len(samples) - 1))
        if st["dropped_stale"] != STALE:
            out.append("%sdropped_stale %d, expected %d" % (when, st["dropped_stale"], STALE))
        if st["rejected"] != 1:
            out.append("%srejected %d, expected 1 (the poison point)" % (when, st["rejected"]))
        for entry in st["rejects"]:
            if "duplicate" in str(entry[3]):
                out.append("%srefused as a duplicate of itself: %s ts %s" % (when, entry[1], entry[2]))
        return out

    def delivered(self, samples, poison, site):
        want = {(1, 4): {}}  # stream d: stale, never sent
        for name, ts, value in samples:
            if ts != poison:
                want.setdefault((1, SIDS[name]), {})[ts] = value
        return self.arrived(want, site)

    def arrived(self, want, site):
        # want: {(device id, datastream id): {ts: value}}, every datastream to look at (an empty
        # dict: it gets nothing). Each sample reached the server with its value, nothing else did,
        # none twice but the batch in flight at the fault (at-least-once: counted)
        out = []
        repeats = 0
        for dev, sid in sorted(want):
            mine = want[(dev, sid)]
            seen = {}
            for ts, value in emu.points(dev, sid):
                expected = mine.get(ts)
                if expected is None:
                    out.append(
                        "device %d stream %d: the server got ts %d, never added there (or refused)" % (dev, sid, ts)
                    )
                elif value != expected:
                    out.append("device %d stream %d: ts %d has value %r, added %r" % (dev, sid, ts, value, expected))
                seen[ts] = seen.get(ts, 0) + 1
            for ts in mine:
                n = seen.get(ts, 0)
                if not n:
                    out.append("device %d stream %d: sample ts %d never reached the server" % (dev, sid, ts))
                repeats += max(0, n - 1)
        if repeats > PER_REQUEST:
            out.append("%d samples reached the server twice: more than the one batch in flight" % repeats)
        if repeats and not _may_repeat(site):
            out.append("%d samples reached the server twice after a fault before it could accept them" % repeats)
        if repeats:
            self.repeats += repeats
            self.repeat_runs += 1
        return out


def _may_repeat(site):
    # a fault after the server may have accepted a batch: its answer lost, or its commit failed
    if site is None:
        return False
    return site in ("sock.recv", "mem.reply", "mem.commit", "mem.commitbuf") or site.startswith("flash.")


def _ks(n, stride=1):
    # the k to run (n: fallible calls in a fault-free run), each with whether to reopen after it
    only = os.getenv("BLYNKLOG_SWEEP_K")
    if only:
        return [(int(k), int(k) % 3 == 0) for k in only.split(",")]
    if _full():
        stride = 1
    elif not IS_MICROPYTHON:
        stride *= 2  # the emulator shares this process (and its GIL) on CPython: the unix ports take every k
    out = []
    for k in range(1, n + 1, stride):
        out.append((k, k % 3 == 0))
        if _full():
            out.append((k, k % 3 != 0))
    return out


def sweep(cut, stride=1, backend="littlefs", sw=None, what=None):
    # Runs the sweep; prints its figures and every failing run; fails when a run failed. sw: a
    # Sweep whose run() makes another workload (test_gateway_faults.py), what: its name in the figures
    if what is None:
        what = ("power cuts" if cut else "faults") + (" on the raw store" if backend == "raw" else "")
    if sw is None:
        sw = Sweep(backend)
    points = {}
    with faults.Injected(sw.budget):
        n = sw.run(0, False)
        assert not sw.failures, describe(sw.failures[0])
        for k, reopen in _ks(n, stride):
            sw.run(k, reopen, cut)
            points[k] = 1
    print("fault sweep: %d injection points, %d runs (%s)" % (len(points), sw.runs, what))
    print(
        "fault sweep (%s): %d samples reached the server twice (at-least-once), in %d runs"
        % (what, sw.repeats, sw.repeat_runs)
    )
    for f in sw.failures:
        print("fault sweep (%s): FAIL %s" % (what, describe(f)))
    if not os.getenv("BLYNKLOG_SWEEP_K"):
        assert len(points) >= 20, len(points)  # the workload makes over 150 calls (test above)
    assert not sw.failures, failed(sw)


def failed(sw):
    # the assertion's message: every failing run (the unix runner shows only the message)
    lines = ["%d of %d runs failed:" % (len(sw.failures), sw.runs)]
    for f in sw.failures:
        lines.append(describe(f))
    return "\n".join(lines)


def describe(failure):
    k, site, how, symptoms = failure
    return "k=%d %s%s: %s" % (k, site, " (%s)" % how if how else "", "; ".join(symptoms))


def test_a_fault_free_run_exercises_every_kind_of_fallible_call():
    emu.require()
    sweep = Sweep()
    with faults.Injected(sweep.budget):
        calls = sweep.run(0, False)
    assert not sweep.failures, sweep.failures
    kinds = {}
    for site in sweep.sites:
        kinds[site.split(".")[0]] = 1
        kinds[site] = 1
    for want in (
        "sock.connect",
        "sock.send",
        "sock.recv",
        "flash.open",
        "flash.write",
        "flash.rename",
        "flash.flush",
        "flash.remove",
        "mem.body",
        "mem.chunk",
        "mem.commit",
        "mem.commitbuf",
        "mem.readbuf",
        "mem.state",
        "mem.answer",
        "mem.request",
        "mem.reply",
    ):
        assert want in kinds, (want, sweep.sites)
    print("fault-free run: %d fallible calls %s" % (calls, sweep.sites))
    assert calls >= 100, calls


def test_the_workload_meets_a_308_a_token_renewal_and_a_refused_point():
    emu.require()
    sweep = Sweep()
    with faults.Injected(sweep.budget):
        sweep.run(0, False)
    uploads = [r["status"] for r in emu.requests() if r["path"] != "/oauth2/token"]
    assert uploads[0] != 308 and uploads[1] == 308, uploads  # the 308 waits for one upload (after=1)
    statuses = [r["status"] for r in emu.requests()]
    paths = [r["path"] + "?" + r["query"] for r in emu.requests()]
    assert 308 in statuses and 401 in statuses and 400 in statuses, statuses
    assert len([p for p in paths if "grant_type=refresh_token" in p]) == 1, paths


def test_every_fault_in_one_sync_keeps_every_sample_and_the_books():
    emu.require()
    sweep(False)


def test_every_fault_in_one_sync_on_the_raw_store_keeps_every_sample_and_the_books():
    # every other k by default (time), every k under BLYNKLOG_SWEEP_FULL=1
    emu.require()
    sweep(False, stride=2, backend="raw")


def test_a_power_cut_at_any_call_of_a_sync_keeps_every_sample_and_the_books():
    # every third k by default (time), every k under BLYNKLOG_SWEEP_FULL=1
    emu.require()
    sweep(True, stride=3)


FULL_SAMPLES = 6000  # about 24 KB packed: over the smallest capacity (16 KB), so segments are dropped


def add_run(sw, k):
    # A power cut at the k-th fallible call (flash writes not counted) while a long backlog is added
    # to a store too small for it (drop_oldest), then a reopen and syncs. Returns the calls made.
    fresh_server()
    folder = tmpdir("sweepadd")
    cfg = config(folder + "/store")
    cfg["store"]["capacity"] = 16384
    cfg["limits"]["points_per_request"] = 1000
    base = now_ms() - FULL_SAMPLES * 1000 - 60000
    added = {}
    log = Logger(cfg)
    sw.budget.arm(k, True, ("flash.write",))
    try:
        for i in range(FULL_SAMPLES):
            ts = base + i * 1000
            if log.add("a", _scrambled(i), ts=ts):
                added[ts] = _scrambled(i)
        log.flush()
    except faults.PowerCut:
        pass
    finally:
        calls = sw.budget.disarm()
    site = sw.budget.fired
    if log._store._wf is not None:
        log._store._wf.close()
    log = Logger(cfg)
    symptoms = []
    for _ in range(MAX_SYNCS):
        report = log.sync()
        if report["stopped"] == "done":
            break
    else:
        symptoms.append("stuck: %s (%s)" % (report["stopped"], report["last_error"]))
    st = log.stats()
    log.close()
    total = st["sent"] + st["pending"] + st["rejected"] + st["dropped_stale"] + st["dropped_full"]
    if total != len(added):
        symptoms.append(
            "books: sent %d + pending %d + rejected %d + dropped_full %d + dropped_stale %d != added %d"
            % (st["sent"], st["pending"], st["rejected"], st["dropped_full"], st["dropped_stale"], len(added))
        )
    got = emu.points(1, 1)
    seen = {}
    for ts, value in got:
        if added.get(ts) != value:
            symptoms.append("the server got ts %d value %r, added %r" % (ts, value, added.get(ts)))
            break
        seen[ts] = 1
    if len(seen) != len(got):
        symptoms.append("%d samples reached the server twice" % (len(got) - len(seen)))
    if len(seen) != st["sent"]:
        symptoms.append("sent %d, the server holds %d" % (st["sent"], len(seen)))
    if k == 0 and not st["dropped_full"]:
        symptoms.append("nothing dropped: the store was never full")
    rmtree(folder)
    sw.runs += 1
    if symptoms:
        sw.failures.append((k, site, "power cut while adding", symptoms))
    return calls


def test_a_power_cut_while_adding_to_a_full_store_keeps_the_books():
    # every segment change (close, drop the oldest, save the counters, open the next) met by a cut
    emu.require()
    sw = Sweep()
    points = {}
    with faults.Injected(sw.budget):
        n = add_run(sw, 0)
        assert not sw.failures, describe(sw.failures[0])
        for k, _ in _ks(n):
            if k not in points:  # the reopen flag means nothing here: each k once
                add_run(sw, k)
                points[k] = 1
    print("fault sweep: %d injection points, %d runs (power cuts while adding)" % (len(points), sw.runs))
    for f in sw.failures:
        print("fault sweep (power cuts while adding): FAIL %s" % describe(f))
    assert len(points) >= 10, len(points)
    assert not sw.failures, failed(sw)
