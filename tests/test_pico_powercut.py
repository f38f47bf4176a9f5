# cpython-only: drives the real MicroPython firmware of a Pico W in the RP2040 emulator.
# Power cuts on the real firmware: the store's power-cut workload (the ops of
# tests/test_store_powercut.py: appends, flushes, commits, segment rotations and drop_oldest of a
# full store) runs on the emulated Pico W's littlefs (tests/pico/powercut_work.py), and the
# emulator cuts the power at flash operation N, leaving that erase or program half done
# (run-pico.mjs --cut-after N --torn). A fresh boot on the flash as it was left opens the store
# (tests/pico/powercut_check.py) and the host checks the same verdicts as on the unix port:
# nothing flushed lost (but the oldest of a full store, no more than it had dropped), nothing
# returned that was not added or was committed, records in order, pending() exact, and the store
# goes on working. What finished before the cut is read from the workload's console markers, so
# a marker the cut swallowed only makes the verdict less demanding, never wrong.
# make test cuts at a fixed spread of about a dozen operations (about 2 minutes); with
# BLYNKLOG_PICO_FULL=1 at every flash operation of the workload (130; about 360 s simulated, 15-20
# minutes). Each prints its count. One cut alone: PICO_CUTS=20 (or 20,21,...).
import ast
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "pico"))
import picohost

# small segments so that a short workload rotates segments and drops the oldest of a full store
W = {"path": "/pc", "seg": 1024, "capacity": 3072, "rounds": 14, "per_round": 40, "a": 25, "b": 50, "b_rounds": (4, 10)}
DEFAULT_CUTS = 8  # make test's spread (about 9 cuts, two emulator runs each); BLYNKLOG_PICO_FULL=1: every one
KNOWN_CUTS = (73,)
_ref = {}


def ops(w):
    # the same list as powercut_work.py's ops()
    out = [("open",)]
    n = 0
    for rnd in range(w["rounds"]):
        for i in range(w["per_round"]):
            out.append(("append", n))
            n += 1
        out.append(("flush",))
        out.append(("commit", 0, w["a"]))
        if rnd in w["b_rounds"]:
            out.append(("commit", 1, w["b"]))
    out.append(("close",))
    return out


def _header(trace):
    return "W = %r\nTRACE = %r\n" % (W, trace)


def _markers(r):
    done = {}  # op index -> dropped_full after it
    commits = {}  # op index -> values
    for line in r.out.splitlines():
        parts = line.split(" ")
        if parts[0] == "D" and len(parts) == 3:
            done[int(parts[1])] = int(parts[2])
        elif parts[0] == "C" and len(parts) == 3:
            commits[int(parts[1])] = [int(v) for v in parts[2].split(",")]
    return done, commits


def reference():
    # the workload without a cut: its flash operations, and dropped_full after every op
    if not _ref:
        sim = picohost.sim()
        img = picohost.image("lib", main=False)
        r = sim.run([picohost.script("powercut_work.py", _header(True))], fs_in=img, timeout=600)
        assert r.rc == 0 and "END %d" % len(ops(W)) in r.out, picohost.explain(r)
        done, _ = _markers(r)
        assert sorted(done) == list(range(len(ops(W)))), "a marker is missing:\n" + picohost.explain(r)
        _ref.update(
            total=r.erases + r.programs,
            erases=r.erases,
            programs=r.programs,
            counters=[done[k] for k in range(len(ops(W)))],
            run=r,
        )
    return _ref


class Model:
    # what the host knows for sure from the markers of a cut run
    def __init__(self, r):
        done, commits = _markers(r)
        self.done = max(done) + 1 if done else 0  # ops 0 .. done-1 finished
        all_ops = ops(W)
        self.appended = set()
        self.maybe = set()
        self.flushed = 0
        self.committed = set()
        self.inflight = set()
        for k, op in enumerate(all_ops):
            if op[0] == "append":
                (self.appended if k < self.done else self.maybe).add(op[1])
            elif op[0] in ("flush", "close") and k in done:
                self.flushed = len(self.appended)
            elif op[0] == "commit" and (k in commits or k in done):
                # records() flushed before it returned the batch the marker lists
                self.flushed = len([i for i in self.appended if i < self._ids_before(all_ops, k)])
                if k in done:
                    self.committed |= set(commits.get(k, ()))
                else:
                    self.inflight |= set(commits.get(k, ()))

    @staticmethod
    def _ids_before(all_ops, k):
        return len([1 for op in all_ops[:k] if op[0] == "append"])


def _read_check(r):
    got = {"V": {}, "P": {}, "BAD": [], "OK": False, "S": None, "STATS": {}}
    for line in r.out.splitlines():
        parts = line.split(" ")
        if parts[0] == "V":
            got["V"][int(parts[1])] = [int(v) for v in parts[3].split(",")] if len(parts) > 3 and parts[3] else []
        elif parts[0] == "P":
            got["P"][int(parts[1])] = int(parts[2])
        elif parts[0] == "BAD":
            got["BAD"].append(line)
        elif parts[0] == "OK":
            got["OK"] = True
        elif parts[0] == "S":
            got["S"] = (int(parts[1]), int(parts[2]))
        elif parts[0] == "STATS":
            got["STATS"] = ast.literal_eval(line[6:].strip())
    return got


def verdict(model, got, may_drop, label):
    # the checks of test_store_powercut._check_after_reboot; returns how many flushed were lost
    assert got["S"] == (0, 1), label + ": stream ids changed"
    assert not got["BAD"], "%s: garbage records: %r" % (label, got["BAD"][:5])
    present = []
    for sid in (0, 1):
        last = -1
        for i in got["V"][sid]:
            where = "%s: stream %d record %r" % (label, sid, i)
            assert i in model.appended or i in model.maybe, where + " was never added"
            assert i % 2 == sid, where + " is in the wrong stream"
            assert i not in model.committed, where + " was committed and came back"
            assert i > last, where + " out of order or twice"
            last = i
            present.append(i)
        assert got["P"][sid] == len(got["V"][sid]), "%s: pending(%d) %d, records %d" % (
            label,
            sid,
            got["P"][sid],
            len(got["V"][sid]),
        )
    have = set(present)
    lost = [i for i in range(model.flushed) if i not in have and i not in model.committed and i not in model.inflight]
    if lost and present:
        assert max(lost) < min(present), "%s: flushed records lost: %r" % (label, lost[:10])
    assert len(lost) <= may_drop, "%s: %d flushed records lost, at most %d dropped" % (label, len(lost), may_drop)
    assert got["OK"], label + ": the store did not go on working"
    return len(lost)


def may_drop(model, ref):
    # the most the workload without a cut had dropped by the end of the op in progress at the cut:
    # the ops after the last marker up to the next op that prints one (appends print none)
    all_ops = ops(W)
    k = model.done
    while k < len(all_ops) - 1 and all_ops[k][0] == "append":
        k += 1
    return ref["counters"][min(k, len(ref["counters"]) - 1)]


def cut_case(n, ref):
    # -> (flushed records lost, dropped_full of the reopened store); raises AssertionError
    sim = picohost.sim()
    img = picohost.image("lib", main=False)
    out = os.path.join(picohost.OUT, "cut.img")
    label = "pico_w cut %d (torn)" % n
    r = sim.run(
        [picohost.script("powercut_work.py", _header(False))],
        fs_in=img,
        fs_out=out,
        cut_after=n,
        torn=True,
        timeout=600,
    )
    assert r.rc == (3 if n <= ref["total"] else 0), (
        label + ": the cut did not happen where expected\n" + picohost.explain(r)
    )
    model = Model(r)
    c = sim.run([picohost.script("powercut_check.py", "W = %r\n" % (W,))], fs_in=out, timeout=600)
    assert c.rc == 0, label + ": the store does not open or work after the cut\n" + picohost.explain(c)
    got = _read_check(c)
    return verdict(model, got, may_drop(model, ref), label), got["STATS"].get("dropped_full")


def cuts(total):
    only = os.environ.get("PICO_CUTS")
    if only:
        return [int(x) for x in only.split(",")]
    if picohost.FULL:
        return list(range(1, total + 1))
    # a fixed spread: the first operations, the last, and evenly between; and 73, a cut inside a
    # drop of the full store (between the save of dropped_full and the segment's removal)
    step = max(1, total // (DEFAULT_CUTS - 2))
    return sorted(set([1, 2, total] + list(range(step, total, step)) + [n for n in KNOWN_CUTS if n <= total]))


def test_the_workload_rotates_segments_and_drops_the_oldest_on_the_pico_w():
    ref = reference()
    assert ref["counters"][-1] > 0, "the workload never filled the store"
    assert ref["erases"] > 3 and ref["total"] > 50


def sweep():
    # every cut of cuts(): {n: (lost, dropped_full after the reopen, failure or None)}
    if "sweep" not in _ref:
        ref = reference()
        out = {}
        for n in cuts(ref["total"]):
            try:
                lost, dropped = cut_case(n, ref)
                out[n] = (lost, dropped, None)
            except AssertionError as e:
                out[n] = (None, None, str(e).split("\n")[0])
        _ref["sweep"] = out
    return _ref["sweep"]


def test_a_power_cut_at_flash_operations_loses_nothing_flushed_on_the_pico_w():
    ref = reference()
    got = sweep()
    failed = [(n, why) for n, (lost, dropped, why) in sorted(got.items()) if why]
    dropping = [n for n, (lost, dropped, why) in got.items() if lost]
    uncounted = sorted(n for n, (lost, dropped, why) in got.items() if lost and lost > (dropped or 0))
    # captured: conftest.py's closing summary lists it under figures (also from a parallel worker)
    print(
        "pico_w power cuts: %d of the workload's %d flash operations (%d erases, %d programs), torn: "
        "%d failed; %d where a full store had dropped flushed records, %d of them uncounted %r"
        % (
            len(got),
            ref["total"],
            ref["erases"],
            ref["programs"],
            len(failed),
            len(dropping),
            len(uncounted),
            uncounted[:20],
        )
    )
    assert not failed, "%d cuts failed:\n%s" % (len(failed), "\n".join("%d: %s" % f for f in failed[:10]))


def test_every_drop_a_power_cut_interrupts_is_still_counted_on_the_pico_w():
    # the books balance after the cut: the flushed records a full store dropped are in the
    # reopened store's dropped_full (the unix port's sweep checks them against the run without a cut)
    got = sweep()
    uncounted = [
        (n, lost, dropped) for n, (lost, dropped, why) in sorted(got.items()) if lost and lost > (dropped or 0)
    ]
    assert not uncounted, "cut N: flushed records dropped, dropped_full after the reopen: %s" % (
        ", ".join("%d: %d, %d" % u for u in uncounted[:10])
    )
