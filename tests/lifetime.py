# lifetime: the virtual board's lifetime tests' shared parts (CPython; not a test module).
# tests/test_lifetime.py and tests/test_lifetime_resets.py share: the firmware deployed by
# tools/deploy.py (through tools/mpbridge.py) onto a virtual board (tools/vboard.py) with
# firmware/config.example.json pointed at a local emulator, a boot against the emulator's clock,
# the Wi-Fi outages, the drain at the end of a life, and the books: what arrived against what the
# boots took and what the Logger's stats say (check_books).
#   deployed_board(exe, folder) -> (VBoard, BlynkServer), a generator: the server stops after it
#   boot(vb, srv, allowed=("deepsleep", "killed"), **kw) -> vboard.Boot (asserts its end is allowed)
#   drain(vb, srv, boots, allowed, hours) -> True when the backlog drained
#   check_books(vb, srv, boots, seed) -> (stats, samples arrived, arrived twice)
import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if os.path.join(ROOT, "tools") not in sys.path:
    sys.path.insert(0, os.path.join(ROOT, "tools"))

import deploy  # noqa: E402
import vboard  # noqa: E402

WAKES = int(os.getenv("BLYNKLOG_LIFETIME_WAKES") or 150)  # boots; short default: 10-20 s per runtime
SEED = int(os.getenv("BLYNKLOG_LIFETIME_SEED") or 5)
STREAMS = ("chip_temp", "air_temp", "air_rh", "battery")  # V1..V4: the emulator's device 1, streams 1..4
MIN = 60000
HOUR = 3600000
TOL_MS = 1500  # a sample placed by NTP (whole seconds) may sit this far outside its boot
FAULTS = (
    ("status", {"status": 500}),
    ("status", {"status": 503}),
    ("status", {"status": 429}),
    ("status", {"status": 502}),
    ("drop", {}),
    ("reset_mid_body", {}),
    ("garbage", {}),
    ("slow", {"delay_s": 0.3}),
)
CUT = ("killed", "reset")  # a boot cut by a power cut, or by a reset of another kind


def example_config(srv, folder):
    # firmware/config.example.json, pointed at the emulator, with the sensors the virtual board has
    with open(os.path.join(ROOT, "firmware", "config.example.json")) as f:
        cfg = json.load(f)
    os.makedirs(folder, exist_ok=True)
    shutil.copy(srv.ca_der_path, os.path.join(folder, "emulator-ca.der"))
    cfg["server"] = srv.url
    cfg["token"] = "test-device-token"
    cfg["ca"] = "emulator-ca.der"
    cfg["wifi"]["ssid"] = "virtual-net"
    cfg["wifi"]["password"] = "virtual-password"
    cfg["sensors"] = [
        {"type": "mcu_temp", "stream": "chip_temp"},
        {"type": "sim", "stream": "air_temp", "base": 21.0, "amplitude": 4.0, "decimals": 2, "seed": 1},
        {"type": "sim", "stream": "air_rh", "base": 55.0, "amplitude": 15.0, "decimals": 1, "seed": 2},
        {"type": "sim", "stream": "battery", "base": 3.9, "amplitude": 0.2, "decimals": 3, "seed": 3},
    ]
    path = os.path.join(folder, "config.json")
    with open(path, "w") as f:
        json.dump(cfg, f, indent=1)
    return path


def deployed_board(exe, folder):
    # a virtual board of this runtime, with the firmware deployed by tools/deploy.py through the
    # bridge (its REPL), and its own emulator; a generator for a fixture: yields (vb, srv)
    from blynk_server import BlynkServer

    srv = BlynkServer(tls=True, cert_dir=os.path.join(folder, "certs")).start()
    try:
        config = example_config(srv, os.path.join(folder, "cfg"))
        vb = vboard.VBoard(
            os.path.join(folder, "vb"),
            micropython=exe,
            heapsize="512K",
            time_scale=1e6,
            start_ms=int(time.time() * 1000) - 2 * 86400000,
        )
        bridge = subprocess.Popen(
            [
                sys.executable,
                os.path.join(ROOT, "tools", "mpbridge.py"),
                "--vboard",
                vb.dir,
                "--micropython",
                exe,
                "--max-seconds",
                "120",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            url = json.loads(bridge.stdout.readline())["url"]
            _wait_for_repl(url)
            for attempt in range(3):  # a REPL still starting on a busy machine may miss the first try
                try:
                    deploy.deploy("unix", url, config, out=lambda m: None)
                    break
                except Exception as e:
                    if attempt == 2 or "raw repl" not in str(e):
                        raise
                    time.sleep(1)
        finally:
            bridge.terminate()
            bridge.wait(10)
        vb.power_on()
        yield vb, srv
    finally:
        srv.stop()


def _wait_for_repl(url):
    # the bridge's REPL answers a return with its prompt once it is up
    import socket

    host, port = url[len("socket://") :].split(":")
    deadline = time.monotonic() + 20
    with socket.create_connection((host, int(port)), timeout=5) as c:
        got = b""
        while b">>> " not in got and time.monotonic() < deadline:
            c.sendall(b"\r\n")
            c.settimeout(0.5)
            try:
                got += c.recv(1024)
            except socket.timeout:
                pass


def boot(vb, srv, allowed=("deepsleep", "killed"), **kw):
    # one boot, the emulator's clock on the world's (its Date header, day and age limits); allowed:
    # the ends it may have (None: any, the caller looks)
    srv.configure(clock_offset_ms=vb.world_ms() - int(time.time() * 1000))
    r = vb.boot(timeout_s=120, **kw)
    assert allowed is None or r.how in allowed, "boot %d: %s (exit %s):\n%s" % (vb.boots, r.how, r.rc, r.out[-3000:])
    if r.how in CUT:
        quiet(srv)
    return r


def quiet(srv):
    # after a cut: the emulator finishes what it had received before the next boot counts arrivals
    deadline = time.monotonic() + 5
    while srv._live and time.monotonic() < deadline:
        time.sleep(0.01)


def arrivals(srv):
    return [srv.points(1, sid) for sid in range(1, len(STREAMS) + 1)]


def stats(vb):
    # what the board's Logger says, asked at its REPL (a process in its file system)
    code = "import json, blynklog\nl = blynklog.Logger('config.json')\nprint('STATS ' + json.dumps(l.stats()))\nl.close()\n"
    r = subprocess.run(
        [vb.exe, "-X", "heapsize=" + vb.heapsize, "-c", code],
        cwd=vb.flash,
        env=vb.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    line = [x for x in r.stdout.splitlines() if x.startswith("STATS ")]
    assert line, r.stdout + r.stderr
    return json.loads(line[-1][6:])


def outages(rng, start, span):
    # Wi-Fi outages of 1 to 4 hours, the first 20 to 40 minutes into the life, then every 3 to 9 h
    out = []
    t = start + rng.randint(20, 40) * MIN
    while t < start + span:
        length = rng.randint(60, 240) * MIN
        out.append((t, t + length))
        t += length + rng.randint(180, 540) * MIN
    return out


def kept(state):
    # the schedule the firmware kept in RTC memory as the next boot reads it: the JSON before the
    # fast wakes' buffer, moved on by the ms they slept since it was written (sensors.fast_wake, firmware/sensors.py)
    raw = bytes(ord(c) for c in state.get("memory") or "")
    head, _, tail = raw.partition(b"\x00")
    d = json.loads(head or b"{}")
    if tail:
        e = int.from_bytes(tail[4:8], "little")
        for k in ("up", "fl"):
            d[k] = d.get(k, 0) + e
    return d


def buffered(state):
    # the samples waiting in RTC memory (firmware/sensors.py's buffer, hw.samples): [(ts, values)]
    sys.path.insert(0, os.path.join(ROOT, "firmware"))
    import hw

    raw = bytes(ord(c) for c in state.get("memory") or "")
    tail = raw.partition(b"\x00")[2]
    return hw.samples(tail)[2] if tail else []


def upload_due(vb):
    # whether this boot will upload (a power-on boot does at once; a wake when the kept schedule says)
    s = vb.state
    if s.get("cause") != vboard.DEEPSLEEP_RESET:
        return True
    try:
        return kept(s).get("up", 0) >= HOUR
    except ValueError:
        return True


def story(boots, k, pts):
    # the boots around k and the arrivals near them, for a failure's message
    lines = []
    for i in range(max(0, k - 3), min(len(boots), k + 3)):
        r = boots[i][0]
        lines.append(
            "boot %d %s%s cycles %d world %d..%d (next %d): %s"
            % (
                i,
                r.how,
                " " + r.reset_kind if r.reset_kind else "",
                r.cycles,
                r.world_before,
                r.world_end,
                r.world_after,
                " | ".join(r.lines()[-4:]),
            )
        )
    lo, hi = boots[max(0, k - 3)][0].world_before, boots[min(len(boots), k + 3) - 1][0].world_after
    lines.append("arrived: %r" % sorted(ts for ts, _ in pts if lo - 60000 <= ts <= hi + 60000))
    return "\n".join(lines)


def counted_boot(vb, srv, boots, **kw):
    # a boot with the arrivals before and after it, appended to boots as (Boot, before, after)
    before = [len(p) for p in arrivals(srv)]
    cause = vb.state.get("cause")
    r = boot(vb, srv, **kw)
    r.state_before_cause = cause
    boots.append((r, before, [len(p) for p in arrivals(srv)]))
    return r


def drain(vb, srv, boots, allowed=("deepsleep", "killed"), hours=6):
    # the drain: Wi-Fi back for good, no more faults or cuts, until an upload leaves nothing (within
    # hours of 1-minute wakes)
    vb.set_offline([])
    with srv.lock:
        del srv.faults[:]
    for _ in range(hours * 60 + 10):
        r = counted_boot(vb, srv, boots, allowed=allowed)
        r.state_before_cause = None
        # an upload that left nothing; one that came before the sampling (a boot that woke without
        # the time uploads first) leaves that boot's own samples: the store says
        if "pending 0, " in r.out and "stopped done" in r.out and stats(vb)["pending"] == 0:
            return True
    return False


def check_books(vb, srv, boots, seed):
    # The books after the drain:
    #   - every sample of a boot that reached its deep sleep arrived (each cycle of it, each stream),
    #     also when a cut came right after; a cut boot gave at most one sample per stream per cycle
    #     it began; a fast wake's (sensors.fast_wake: its sample waits in RTC memory) is lost whole
    #     only when RTC memory was (a power cut or a brownout), or a boot was cut, before the next
    #     full wake reached its deep sleep (the samples wait at most flush_every_s);
    #   - nothing arrived that no boot took;
    #   - a point arrived twice only when its first arrival came from a boot that was then cut (a
    #     batch the server accepted before the cut, not yet committed);
    #   - stats' sent + pending + dropped_* + rejected + thinned = samples arrived, with nothing
    #     pending and nothing dropped but what no clock can place.
    # -> (stats, distinct samples arrived, arrived twice)
    st = stats(vb)
    arrived = arrivals(srv)

    # each arrival: the boot it arrived in, the boot that took it
    def boot_of_index(sid, i):
        for k, (_, b, a) in enumerate(boots):
            if b[sid] <= i < a[sid]:
                return k
        raise AssertionError("stream %d: arrival %d in no boot" % (sid, i))

    def boot_of_ts(ts):
        for k, (r, _, _) in enumerate(boots):
            if r.world_before - TOL_MS <= ts <= r.world_end + TOL_MS:
                return k
        return None

    taken = {}  # (boot, sid) -> distinct timestamps
    twice = 0
    for sid, pts in enumerate(arrived):
        first = {}
        for i, (ts, value) in enumerate(pts):
            k = boot_of_ts(ts)
            if k is None:
                near = min(range(len(boots)), key=lambda j: abs(boots[j][0].world_before - ts))
                raise AssertionError(
                    "seed %d: %s: %d was taken by no boot\n%s" % (seed, STREAMS[sid], ts, story(boots, near, pts))
                )
            if sid == 0:
                assert value == 35.0, (ts, value)
            if ts in first:
                twice += 1
                j = first[ts]
                was = boots[boot_of_index(sid, j)][0]
                assert was.how in CUT, "seed %d: %s %d arrived twice, first from a boot that was not cut (%s)" % (
                    seed,
                    STREAMS[sid],
                    ts,
                    was.how,
                )
                continue
            first[ts] = i
            taken.setdefault((k, sid), set()).add(ts)

    # A cut ends a chain of boots that never had the time (a power-on boot without Wi-Fi, and the
    # deep-sleep wakes that went on with its relative time): nothing links their boot-relative
    # samples to real time any more, so the Logger drops them, counted as unplaceable.
    def cut_timeless(j):
        r = boots[j][0]
        if r.how not in CUT or "upload: sent" in r.out:
            return []
        chain = [j]
        i = j
        while boots[i][0].state_before_cause == vboard.DEEPSLEEP_RESET and i > 0:
            i -= 1
            if boots[i][0].how != "deepsleep" or "upload: sent" in boots[i][0].out:
                return []
            chain.append(i)
        return chain

    def full(r):
        return "blynklog firmware on " in r.out

    def buffer_lost(k):
        # boot k was a fast wake that reached its deep sleep, and RTC memory was lost (a cut came
        # then) or a boot cut before a full wake after it reached its own (which stores what waits)
        r = boots[k][0]
        if full(r) or not (r.how == "deepsleep" or r.slept):
            return False
        for j in range(k + 1, len(boots)):
            r = boots[j][0]
            if r.state_before_cause == vboard.PWRON_RESET or r.how in CUT:
                return True
            if full(r) and r.how == "deepsleep":
                return False
        return False

    timeless_boots = set()
    for j in range(len(boots)):
        timeless_boots.update(cut_timeless(j))
    for k, (r, _, _) in enumerate(boots):
        for sid in range(len(STREAMS)):
            n = len(taken.get((k, sid), ()))
            if k in timeless_boots and n == 0:
                continue
            if n == 0 and buffer_lost(k):
                continue
            if r.how == "deepsleep" or r.slept:  # flushed before its deep sleep, whatever came after
                assert n == r.cycles, "seed %d: boot %d (%d cycles) gave %d %s samples\n%s" % (
                    seed,
                    k,
                    r.cycles,
                    n,
                    STREAMS[sid],
                    story(boots, k, arrived[sid]) + "\nstats %r" % st,
                )
            else:
                assert n <= r.cycles + 1, "seed %d: boot %d (%s, %d cycles) gave %d %s samples\n%s" % (
                    seed,
                    k,
                    r.how,
                    r.cycles,
                    n,
                    STREAMS[sid],
                    story(boots, k, arrived[sid]) + "\nstats %r" % st,
                )
    distinct = sum(len(v) for v in taken.values())
    # the chains of boots cut before they ever had the time (above) leave samples no clock can
    # place: the Logger drops them, counted as unplaceable, and no more than they took
    timeless = sum(boots[k][0].cycles + 1 for k in timeless_boots)
    assert st["unplaceable"] <= len(STREAMS) * timeless, (seed, st, timeless)
    books = sum(st[k] for k in ("sent", "pending", "dropped_full", "dropped_stale", "rejected", "thinned"))
    assert st["pending"] == 0 and st["dropped_stale"] == st["unplaceable"], (seed, st)
    assert st["dropped_full"] == st["rejected"] == st["thinned"] == 0, (seed, st)
    assert st["sent"] == distinct and books == distinct + st["unplaceable"], (seed, st, distinct)
    return st, distinct, twice
