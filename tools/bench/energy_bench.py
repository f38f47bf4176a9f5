# The energy row of make bench: the awake times the battery model (tools/bench/energy.py) needs,
# measured on what this project can run, then the model's projection per board.
#   1. a sampling wake of the real firmware (main.py up to machine.deepsleep) on the emulated Pico W
#      (tools/pico.py, typical flash times charged), phase by phase (tests/pico/energy_wake.py), with
#      the example configuration's shape (config() below) and an empty and a full store;
#   2. the CPU part of an upload wake's sync of one hour's backlog on the emulated Pico W, to a
#      stand-in socket (tests/pico/energy_sync.py: no radio, no TLS);
#   3. the bytes, requests and TLS handshakes of the same sync on the unix port against the local
#      Blynk emulator (tools/blynk_server.py, verified TLS, loopback).
# The stores are written by CPython's blynklog (the on-flash format is the same on every runtime)
# and laid into the flash image with the sim's mkfs.py.
#   bench(p, results)   fills results["energy"] (nothing when the emulator is not there)
#   section(results)    the Markdown lines of the section
#   python tools/bench/energy_bench.py [--out docs/benchmarks.md] [--json F]
#                       runs only this part and replaces its section in the document
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
for _p in (os.path.join(ROOT, "tools"), HERE):
    if _p not in sys.path:
        sys.path.insert(0, _p)
import energy  # noqa: E402  (tools/bench/energy.py)
import pico  # noqa: E402  (tools/pico.py)

TITLE = "## Energy"
WAKE_SCRIPT = os.path.join(ROOT, "tests", "pico", "energy_wake.py")
SYNC_SCRIPT = os.path.join(ROOT, "tests", "pico", "energy_sync.py")
T0 = 1767225600000  # 2026-01-01, the full store's first sample
# the example configuration's sensors (firmware/config.example.json: mcu_temp, an SHT3x with two
# fields, an ADC): on the emulator the internal sensor is read and "sim" sensors stand in for the
# SHT3x's two fields and the ADC (they read nothing from a bus), one stream each
STREAMS = (("chip_temp", "V1", 1), ("air_temp", "V2", 2), ("air_rh", "V3", 1), ("battery", "V4", 3))
SENSORS = [
    {"type": "mcu_temp", "stream": "chip_temp"},
    {"type": "sim", "stream": "air_temp", "base": 21, "amplitude": 4, "decimals": 2},
    {"type": "sim", "stream": "air_rh", "base": 50, "amplitude": 10, "decimals": 1, "seed": 2},
    {"type": "sim", "stream": "battery", "base": 3.9, "amplitude": 0.1, "decimals": 3, "seed": 3},
]


def config(store_path="blynklog-data", server="https://blynk.cloud"):
    # the example configuration's shape: its 4 streams and 3 sensors' worth of readings, 60 s /
    # 3600 s, flush every 600 s, store.capacity 262144, deep sleep. insecure (no CA files on the
    # image): on a sampling wake that is one warning line; no CA file is read before an upload.
    cfg = {
        "server": server,
        "api": "device",
        "token": "energy-bench-token",
        "insecure": True,
        "streams": {},
        "store": {"path": store_path, "capacity": 262144},
        "wifi": {"ssid": "no-radio-here", "password": "none", "timeout_ms": 15000},
        "sensors": SENSORS,
        "sample_every_s": 60,
        "upload_every_s": 3600,
        "flush_every_s": 600,
        "sleep": "deep",
        "upload": {"timeout_ms": 6000},
    }  # as config.example.json: within a Pico W's watchdog
    for name, pin, dec in STREAMS:
        cfg["streams"][name] = {"pin": pin, "type": "double", "decimals": dec}
    return cfg


def _logger(cfg):
    sys.path.insert(0, os.path.join(ROOT, "lib"))
    import blynklog

    return blynklog.Logger(cfg)


def _value(k, i):
    return (3.2 + (i % 50) * 0.01, 18.0 + (i % 400) * 0.01, 40.0 + (i % 300) * 0.1, 3.7 + (i % 200) * 0.001)[k]


def write_store(folder, wakes=0, full=False, start_ms=T0):
    # a store as the firmware leaves it: one sample per stream per 60 s wake; full=True adds wakes
    # until the pending samples take store.capacity (the next segment would drop the oldest)
    cfg = config(os.path.join(folder, "blynklog-data"))
    log = _logger(cfg)
    cap = cfg["store"]["capacity"]
    i = 0
    while (full and log.stats()["store"]["bytes"] < cap - 4096 and not log.stats()["dropped_full"]) or i < wakes:
        ts = start_ms + i * 60000
        for k, (name, _pin, _dec) in enumerate(STREAMS):
            log.add(name, _value(k, i), ts)
        i += 1
    st = log.stats()
    log.close()
    return os.path.join(folder, "blynklog-data"), {
        "samples": st["pending"],
        "bytes": st["store"]["bytes"],
        "dropped_full": st["dropped_full"],
        "wakes": i,
    }


def _mkfs_add(sim, img, pairs):
    r = subprocess.run(
        [sys.executable, os.path.join(sim.dir, "mkfs.py"), "--board", sim.board, "--in", img, img]
        + ["%s:%s" % p for p in pairs],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if r.returncode != 0:
        raise RuntimeError("mkfs.py: " + (r.stderr or r.stdout)[-2000:])
    return img


RTC_T = T0 + 7 * 86400000  # the ESP32 wakes' clock: the reset their kept schedule was written for


def rtc_memory(buffered, plan=True, since_upload_ms=60000):
    # what an ESP32's RTC memory holds at a deep-sleep wake (firmware/sensors.py's layout; hw.pack): the
    # schedule the last full wake kept (the last upload since_upload_ms before the reset it was
    # written for; with plan, the fast wakes' plan, as app.App._plan writes it for config()), then
    # the samples of `buffered` fast wakes since, a minute apart, packed as on a 32-bit-float port
    fwdir = os.path.join(ROOT, "firmware")
    if fwdir not in sys.path:
        sys.path.insert(0, fwdir)
    sys.path.insert(0, os.path.join(ROOT, "lib"))
    import hw
    import sensors
    import settings

    fw = settings.load(config())
    specs = [dict((k, v) for k, v in s.items() if k not in ("stream", "streams")) for s in fw["sensors"]]
    head = {"up": since_upload_ms, "fl": 0, "ntp": None, "nb": 0, "el": [None, 0]}
    if plan:
        head["q"] = {
            "p": fw["sample_every_s"] * 1000,
            "fe": fw["flush_every_s"] * 1000,
            "ue": fw["upload_every_s"] * 1000,
            "fi": 0,
            "ft": fw["fill_threshold"],
            "t": RTC_T,
            "e": 0,
            "s": specs,
            # the board's facts (Board.fast_facts) as the emulated Pico W's board file gives them:
            # its I2C default and its internal temperature sensor, read through ADC 4
            "h": {"i2c": {"id": 0, "scl": 5, "sda": 4, "freq": 100000}, "mcu": "rp2"},
            "c": "config.json",
            "lf": "error.log",
            "lm": fw["log_max_bytes"],
        }
    else:
        head["bench_t"] = RTC_T  # the RTC's time for tests/pico/energy_wake.py (the App reads no such key)
    raw = json.dumps(head).encode()
    if buffered:
        names = [n for s in fw["sensors"] for _, n in s["map"]]
        records = [(RTC_T + i * 60000, tuple(_value(k, i) for k in range(len(names)))) for i in range(buffered)]
        fmt, hw._FMT, sensors._FMT = hw._FMT, "f", "f"
        try:
            raw += b"\x00" + hw.pack(buffered * 60000, names, records)
        finally:
            hw._FMT = sensors._FMT = fmt
    return raw


def _caches(folder):
    # the firmware's validated settings a first wake after a deploy leaves for the next ones
    # (app.SETTINGS_CACHE, keyed by the config file's hash and the version: the same on every
    # runtime), made here with CPython's code; -> [(board path, local file)]. The Logger's own
    # cache (<store>/config.cache) names the runtime and the file's absolute path, so the board
    # writes it itself: _first_logger()
    fwdir = os.path.join(ROOT, "firmware")
    for d in (fwdir, os.path.join(ROOT, "lib")):
        if d not in sys.path:
            sys.path.insert(0, d)
    import hashlib

    import blynklog
    import settings

    path = os.path.join(folder, "config.json")
    with open(path, "rb") as f:
        raw = f.read()
    fw = settings.load(json.loads(raw))
    with open(os.path.join(folder, "fw_settings.json"), "w") as f:
        json.dump({"key": hashlib.sha256(raw).hexdigest() + ":" + blynklog.__version__, "fw": fw}, f)
    return [("fw_settings.json", os.path.join(folder, "fw_settings.json"))]


def _first_logger(sim, tmp, img):
    # the Logger's validated-configuration cache as a board's first wake writes it: Logger() of the
    # deployed config.json on the emulated board itself (its path, its runtime), into img
    script = os.path.join(tmp, "first_logger.py")
    with open(script, "w") as f:
        f.write("import blynklog\nblynklog.Logger('config.json').close()\nprint('CACHED')\n")
    r = sim.run([script], fs_in=img, fs_out=img, timeout=300)
    if r.rc != 0 or not r.lines("CACHED"):
        raise RuntimeError("the first Logger() failed (exit %s):\n%s\n%s" % (r.rc, r.out[-2000:], r.err[-2000:]))


def _wake(sim, tmp, name, store_wakes=0, full=False, since_upload_ms=60000, rtc=None, kind="app"):
    # one sampling wake on an image with the firmware, the configuration and a store, the last
    # upload since_upload_ms earlier (before a quarter of upload_every_s: no fill check). rtc: the
    # bytes of an ESP32's RTC memory (rtc_memory()) for a wake as an ESP32's; kind: what the wake
    # must be, "app" (app.py's), "fast" (sensors.fast_wake's, to RTC memory) or "store" (its store of the buffer)
    folder = os.path.join(tmp, name)
    os.makedirs(folder)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config(), f)
    # the schedule the previous wake kept (app.App.sleep): the last upload since_upload_ms ago, so
    # this wake samples only
    if rtc is None:
        kept = ("fw_state.json", json.dumps({"up": since_upload_ms, "fl": 0, "ntp": None}).encode())
    else:
        kept = ("bench_rtc.bin", rtc)
    with open(os.path.join(folder, kept[0]), "wb") as f:
        f.write(kept[1])
    store, info = write_store(folder, wakes=store_wakes, full=full)
    caches = _caches(folder)
    # main.py as main_fw.py (run by the bench script): a board that boots with main.py runs the
    # firmware at its own boot, before the script, as long as the emulator's Ctrl-C takes to land
    img = sim.image(
        os.path.join(tmp, name + ".img"),
        config=os.path.join(folder, "config.json"),
        main=False,
        extra=caches
        + [(kept[0], os.path.join(folder, kept[0])), ("main_fw.py", os.path.join(ROOT, "firmware", "main.py"))],
    )
    _mkfs_add(sim, img, [(store, "/blynklog-data")])
    _first_logger(sim, tmp, img)
    r = sim.run(
        [WAKE_SCRIPT], fs_in=img, flash_timing=True, timeout=int(os.environ.get("BLYNKLOG_ENERGY_WAKE_TIMEOUT") or 900)
    )
    sleeps = r.lines("DEEPSLEEP")
    if r.rc != 0 or not sleeps or "MAIN RETURNED" in r.out:
        raise RuntimeError(
            "energy wake %s did not end in deep sleep (exit %s):\n%s\n%s" % (name, r.rc, r.out[-2000:], r.err[-2000:])
        )
    phases = {}
    for line in r.lines("PHASE "):
        p, ms, calls = line.split()
        phases[p] = {"ms": float(ms), "calls": int(calls)}
    # the shape of the wake: it samples once and does not upload (else the schedule was not kept)
    calls = dict((k, v["calls"]) for k, v in phases.items())
    loaded = r.lines("LOADED ")[0].split() if r.lines("LOADED ") else []
    if kind == "app":
        ok = calls.get("sample_add") == 1 and not calls.get("upload")
    else:
        ok = (
            calls.get("quick") == 1
            and not calls.get("app")
            and "app" not in loaded
            and ((kind == "fast") == ("blynklog" not in loaded))
            and (kind == "fast") == (not calls.get("absorb"))
        )
    if not ok:
        raise RuntimeError(
            "energy wake %s is not a %s wake (phases %s, modules %s):\n%s" % (name, kind, phases, loaded, r.out[-2000:])
        )
    # the import hook's own time is taken out of the imports and of the whole wake
    hook_ms = float(r.lines("HOOK_US ")[0]) * phases["imports"]["calls"] / 1000.0
    phases["imports"]["ms"] -= hook_ms
    out = {
        "phases": phases,
        "wake_ms": float(r.lines("WAKE ")[0]) - hook_ms,
        "hook_ms": hook_ms,
        "cycle_self_ms": float(r.lines("CYCLE_SELF ")[0]),
        "sleep_ms": int(sleeps[0].split()[0]),
        "store": info,
        "sim_s": r.sim_s,
        "wall_s": r.wall_s,
        "erases": r.erases,
        "programs": r.programs,
        "modules": loaded,
        "rtc_bytes": int(r.lines("RTC_BYTES ")[0]) if r.lines("RTC_BYTES ") else None,
        "import_ms": dict((ln.split()[0], float(ln.split()[1])) for ln in r.lines("IMPORT ")),
    }
    return out


def _sync(sim, tmp, points_per_stream, native_of=None):
    # the CPU part of the upload of one hour's backlog, on the emulated Pico W; native_of "esp32":
    # with the ESP32's native code (tools/deploy.py: the upload's reader and plan stay bytecode)
    name = "sync-" + (native_of or "pico_w")
    folder = os.path.join(tmp, name)
    os.makedirs(folder)
    start = T0
    store, info = write_store(folder, wakes=points_per_stream, start_ms=start)
    img = sim.image(os.path.join(tmp, name + ".img"), main=False, native_of=native_of)
    _mkfs_add(sim, img, [(store, "/blynklog-data")])
    cfg = config("/blynklog-data", server="http://blynk.test")
    spec = {"cfg": cfg, "now": start + points_per_stream * 60000 + 60000}
    script = os.path.join(tmp, name + "_job.py")
    with open(SYNC_SCRIPT) as f:
        body = f.read()
    with open(script, "w") as f:
        f.write("SPEC = %r\n" % (spec,) + body)
    r = sim.run([script], fs_in=img, flash_timing=True, timeout=900)
    res = r.lines("RESULT ")
    if r.rc != 0 or not res:
        raise RuntimeError("energy sync failed (exit %s):\n%s\n%s" % (r.rc, r.out[-2000:], r.err[-2000:]))
    out = json.loads(res[0])
    out.update(points=info["samples"], sim_s=r.sim_s, wall_s=r.wall_s)
    return out


def _wire(tmp, points_per_stream):
    # bytes, requests and handshakes of the same sync on the unix port, verified TLS, loopback
    from blynk_server import BlynkServer

    folder = os.path.join(tmp, "wire")
    os.makedirs(folder)
    now = int(time.time() * 1000)
    start = now - (points_per_stream + 1) * 60000
    srv = BlynkServer(tls=True, host="127.0.0.1", port=0).start()
    try:
        store, info = write_store(folder, wakes=points_per_stream, start_ms=start)
        cfg = config(store, server=srv.url)
        del cfg["insecure"]
        cfg["token"] = "test-device-token"  # the emulator's device 1 (pins V1..V8, double)
        cfg["ca"] = srv.ca_der_path
        path = os.path.join(folder, "config.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        res = _unix_job("job_upload.py", {"side": "ours", "n": info["samples"], "config": path}, folder)
        st = srv.stats()
        reqs = list(srv.requests)
        res.update(
            server_requests=st["requests"],
            server_handshakes=st["handshakes"],
            server_points=st["points"],
            http_bytes_in=sum(r["bytes_in"] for r in reqs),
            body_bytes=sum(r["body_bytes"] for r in reqs),
            points=info["samples"],
        )
        return res
    finally:
        srv.stop()


def _micropython():
    for exe in (
        os.path.join(os.path.dirname(sys.executable), "micropython"),
        os.path.join(ROOT, ".venv", "bin", "micropython"),
    ):
        if os.path.exists(exe):
            return exe
    return "micropython"


def _unix_job(script, spec, cwd):
    # a tools/bench/ job on the pip unix port (as tools/bench.py runs them) -> its RESULT dict
    out = subprocess.run(
        [_micropython(), "-X", "heapsize=16M", os.path.join(HERE, script), json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
    )
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(
        "%s: no result (exit %s)\n%s%s" % (script, out.returncode, out.stdout[-1000:], out.stderr[-2000:])
    )


def bench(p, results, say=print):
    if not os.environ.get("BLYNKLOG_PICO_SIM") and os.path.isdir(os.path.join(ROOT, "..", "shared", "pico-sim")):
        os.environ["BLYNKLOG_PICO_SIM"] = os.path.join(ROOT, "..", "shared", "pico-sim")
    why = pico.missing(pico.sim_dir())
    if why:
        say("energy: skipped (%s)" % why)
        return
    per_stream = energy.EXAMPLE["upload_every_s"] // energy.EXAMPLE["sample_every_s"]
    sim = pico.Sim()
    tmp = tempfile.mkdtemp(prefix="blynklog-energy-bench-")
    try:
        say("energy: a sampling wake on the emulated Pico W, empty store")
        empty = _wake(sim, tmp, "empty")
        say("energy: the same, half an hour after the upload (the cycle checks the store's fill)")
        filled = _wake(sim, tmp, "empty_fill", since_upload_ms=1800000)
        say("energy: a sampling wake, full store (store.capacity of pending samples)")
        full = _wake(sim, tmp, "full", full=True)
        say("energy: an ESP32's fast wake (sensors.fast_wake: the sample to RTC memory, 3 samples waiting)")
        fast = _wake(sim, tmp, "fast", rtc=rtc_memory(3), kind="fast")
        say("energy: an ESP32's fast wake that stores the buffer (9 samples waiting, flush_every_s reached)")
        store = _wake(sim, tmp, "store", rtc=rtc_memory(9), kind="store")
        say("energy: an ESP32's full wake that adds 9 buffered samples first")
        absorb = _wake(sim, tmp, "absorb", rtc=rtc_memory(9, plan=False))
        say("energy: the sync of one hour's backlog (%d points), CPU part" % (per_stream * len(STREAMS)))
        syn = _sync(sim, tmp, per_stream)
        say("energy: the same sync with the ESP32's native code (timed on the Pico W's CPU)")
        syn_esp = _sync(sim, tmp, per_stream, "esp32")
        say("energy: the same sync's bytes and handshakes on the unix port")
        wire = _wire(tmp, per_stream)
        results["energy"] = {
            "empty": empty,
            "empty_fill": filled,
            "full": full,
            "fast": fast,
            "store": store,
            "absorb": absorb,
            "sync": syn,
            "sync_esp32": syn_esp,
            "wire": wire,
            "streams": len(STREAMS),
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def measured(results):
    # the model's inputs from this run's results
    e = results["energy"]
    ph = e["empty"]["phases"]
    w = e["wire"]
    return {
        "wake_ms": e["empty"]["wake_ms"],
        "wake_full_ms": e["full"]["wake_ms"],
        "cycle_ms": e["empty"]["cycle_self_ms"] + ph["sample_add"]["ms"],
        "flush_ms": ph["flush"]["ms"],
        "fill_ms": e["empty_fill"]["phases"]["fill"]["ms"],
        "sync_cpu_ms": e["sync"]["sync_ms"],
        "sync_cpu_esp32_ms": e["sync_esp32"]["sync_ms"],
        "fast_ms": e["fast"]["wake_ms"],
        "store_ms": e["store"]["wake_ms"],
        "absorb_ms": e["absorb"]["wake_ms"],
        "upload_points": e["sync"]["points"],
        "bytes_sent": w.get("bytes_sent") or 0,
        "requests": w.get("requests") or 0,
        "handshakes": w.get("handshakes") or 0,
    }


PHASES = (
    ("imports", "imports (every `import`, module code included)"),
    ("config", "config: the settings cache's check (or `settings.read` + `settings.load`) + `Board()`"),
    ("quick", "`sensors.fast_wake`: RTC memory read and checked, the plan, the clock, the record packed"),
    ("logger", "`Logger()` (its imports counted above)"),
    ("app", "`App()`: sensors made, the kept schedule read"),
    ("absorb", "buffered samples added with their timestamps (`App.absorb`, `hw.store_buffer`)"),
    ("sample_add", "sample (the sensor drivers) + add: 4 readings, 4 `add()` in a full wake"),
    ("fill", "fill check: `App.fill()` (`Logger.stats()`), from 15 minutes after an upload"),
    ("flush", "flush (the store's)"),
    ("before_sleep", "before sleep: `keep()`, the clock's anchor, `state.json`"),
    ("rtc", "RTC memory's reads and writes (the stand-in)"),
    ("other", "other: `main.py` (its built-ins into `sys.modules`), the boot line, the cycle's checks, collection"),
)


def _phase(r, key):
    ph = r["phases"]
    v = ph.get(key, {}).get("ms", 0.0)
    if key == "sample_add":
        v += ph.get("sensors", {}).get("ms", 0.0)
    return v


def _phase_table(title, runs):
    lines = ["| %s | %s |" % (title, " | ".join(label for label, _ in runs)), "|---|" + "---|" * len(runs)]
    for key, label in PHASES:
        lines.append("| %s | %s |" % (label, " | ".join(_ms(_phase(r, key)) for _, r in runs)))
    lines.append(
        "| **whole wake, `main.py` to `deepsleep()`** | %s |"
        % " | ".join("**%s**" % _ms(r["wake_ms"]) for _, r in runs)
    )
    return lines


def _ms(v):
    return "%.0f ms" % v if v >= 10 else "%.1f ms" % v


def section(results):
    e = results.get("energy")
    if not e:
        return []
    m = measured(results)
    empty, filled, full, syn, wire = e["empty"], e["empty_fill"], e["full"], e["sync"], e["wire"]
    lines = [
        TITLE,
        "",
        "Awake times measured on the emulated Pico W (MicroPython v1.28.0's `RPI_PICO_W` firmware in rp2040js, "
        "125 MHz, typical flash erase/program times charged), fed to the battery model of `tools/bench/energy.py` "
        "with the currents and link figures of [docs/ENERGY.md](ENERGY.md), where every figure has its source. "
        "Workload: the example configuration (`firmware/config.example.json`: 3 sensors giving 4 streams, a sample "
        "every 60 s, an upload every hour, a flush every 10 minutes), a 2,000 mAh cell. A sampling wake is the "
        "real `main.py` up to `machine.deepsleep()` (`tests/pico/energy_wake.py`: the last upload a minute "
        "earlier, so it does not upload; `mcu_temp` and three `sim` sensors stand in for the SHT3x and the ADC). "
        "The upload's CPU time is `Logger.sync()` of one hour's backlog (%d points) to a stand-in socket "
        "(`tests/pico/energy_sync.py`: no radio, no TLS); its bytes, requests and handshakes come from the same "
        "sync on the unix port against `tools/blynk_server.py` over verified TLS. Every wake finds the caches a "
        "first wake after a deploy writes (the firmware's validated settings, the Logger's validated configuration). "
        "An ESP32's wakes are run with what the Pico W lacks stood in (`tests/pico/energy_wake.py`): RTC memory (a "
        "bytes object holding what the last wake kept), `DEEPSLEEP_RESET` as the reset cause and the RTC running "
        "through the sleep; a fast wake (`sensors.fast_wake`, `firmware/sensors.py`) adds its sample to RTC memory, every `flush_every_s` one "
        "of them stores the buffer, and the full wake (`app.py`, at the upload) adds what waits first."
        % m["upload_points"],
        "",
    ]
    lines += _phase_table(
        "Phase of a Pico W wake (emulated; `fw_state.json` on flash)",
        [("empty store", empty), ("empty store, 30 min after the upload", filled), ("full store", full)],
    )
    lines += [""]
    lines += _phase_table(
        "Phase of an ESP32's wake (on the emulated Pico W; RTC memory stood in)",
        [
            ("fast: the sample to RTC memory (3 waiting)", e["fast"]),
            ("fast, storing: 9 waiting + its own, flush_every_s reached", e["store"]),
            ("full (app.py): adds 9 waiting first", e["absorb"]),
        ],
    )
    lines += [
        "",
        "Stores: empty (a store with no samples), full (%s pending samples, %s bytes of segments: `store.capacity` "
        "262,144 less the segment being written). Flash on the full-store wake: erases %s, programs %s (the whole run). "
        "The import hook's own time (%s over %d imports) is taken out of the imports and of the whole wake."
        % (
            "{:,}".format(full["store"]["samples"]),
            "{:,}".format(full["store"]["bytes"]),
            full["erases"],
            full["programs"],
            _ms(empty["hook_ms"]),
            empty["phases"]["imports"]["calls"],
        ),
        "",
        "| Measurement | value | Detail |",
        "|---|---|---|",
        "| Awake per sampling wake, empty store (Pico W, emulated), ms | %s | %s of it imports |"
        % (_ms(empty["wake_ms"]), _ms(empty["phases"]["imports"]["ms"])),
        "| Awake per sampling wake, full store (Pico W, emulated), ms | %s | %s of it `Logger()` |"
        % (_ms(full["wake_ms"]), _ms(full["phases"]["logger"]["ms"])),
        "| ESP32 fast wake (sensors.fast_wake, on the emulated Pico W), ms | %s | %s of it imports (%s); RTC memory then "
        "holds %s of 2,048 bytes |"
        % (
            _ms(m["fast_ms"]),
            _ms(e["fast"]["phases"]["imports"]["ms"]),
            ", ".join(
                sorted(x for x in e["fast"]["import_ms"] if not x.startswith("u") and e["fast"]["import_ms"][x] >= 1)
            ),
            "{:,}".format(e["fast"]["rtc_bytes"] or 0),
        ),
        "| ESP32 fast wake that stores the buffer, ms | %s | `Logger()` %s, adding 40 samples %s |"
        % (_ms(m["store_ms"]), _ms(e["store"]["phases"]["logger"]["ms"]), _ms(e["store"]["phases"]["absorb"]["ms"])),
        "| ESP32 full wake (app.py) adding 36 buffered samples, ms | %s | the upload wake's sampling part |"
        % (_ms(m["absorb_ms"])),
        "| A light-sleep cycle's work (Pico W's default: sample + add, the cycle's checks), ms | %s | plus the fill "
        "check (%s) in 45 of 60 wakes, a flush (%s) every 10th |"
        % (_ms(m["cycle_ms"]), _ms(m["fill_ms"]), _ms(m["flush_ms"])),
        "| Upload wake: CPU time of the sync of %d points (Pico W, emulated, no radio), ms | %s | %s per point; "
        "%s sent in %d requests |"
        % (
            m["upload_points"],
            _ms(syn["sync_ms"]),
            "%.2f ms" % (syn["sync_ms"] / float(max(1, syn["sent"] or 1))),
            syn["sent"],
            syn["requests"],
        ),
        "| The same sync with the ESP32's native code (its reader and plan as bytecode; Pico W's CPU), ms | %s | "
        "%s per point; the ESP32's upload CPU, before its speed factor |"
        % (
            _ms(m["sync_cpu_esp32_ms"]),
            "%.2f ms" % (m["sync_cpu_esp32_ms"] / float(max(1, e["sync_esp32"]["sent"] or 1))),
        ),
        "| Upload wake: bytes sent, requests, TLS handshakes (unix port, verified TLS) | %s B, %d, %d | %s body bytes |"
        % ("{:,}".format(m["bytes_sent"]), m["requests"], m["handshakes"], "{:,}".format(wire.get("body_bytes", 0))),
    ]
    rows = energy.projections(m)
    lines += [
        "",
        "| Board (model) | awake per sampling wake | awake per upload wake (radio on) | average current | "
        "sleep | sampling wakes | upload CPU | radio | life on 2,000 mAh |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for label, r in rows:
        b = r["breakdown_ma"]
        lines.append(
            "| %s | %s | %s (%s) | %.3f mA | %.3f | %.3f | %.3f | %.3f | **%s** |"
            % (
                label,
                _ms(r["sampling_wake_ms"]),
                "%.1f s" % (r["upload_wake_ms"] / 1000.0),
                "%.1f s" % (r["radio_on_ms"] / 1000.0),
                r["avg_ma"],
                b["sleep"],
                b["sampling"],
                b["upload_cpu"],
                b["radio"],
                energy.life_text(r["life_days"]),
            )
        )
    cap = energy.sleep_cap_days(energy.BOARDS["pico_w"]["sleep_ma"])
    pw = dict(rows)[energy.LABELS["pico_w"]]
    esp = energy.BOARDS["esp32"]
    full_m = dict(m, wake_ms=m["wake_full_ms"], fill_ms=0.0, fast_ms=None)
    every_full = dict(m, fast_ms=None)
    nfull, nstore, nfast = energy.wake_counts()
    er = dict(rows)[energy.LABELS["esp32"]]
    six = energy.EXAMPLE["battery_mah"] / (182.6 * 24.0)
    boots = (
        (esp["boot_ms"] + energy.EXAMPLE["sensor_wait_ms"])
        * esp["cpu_ma"]
        / (energy.EXAMPLE["sample_every_s"] * 1000.0)
    )
    lines += [
        "",
        "- Breakdown columns are each part's share of the average current, in mA. The ESP32's times are the Pico "
        "W's scaled by a stated speed factor (%.2f) plus an assumed boot; the Pico W's sleep current alone caps its "
        "life at %s on this cell: the default (light sleep) reaches %.0f%% of that cap. Sources and assumptions: "
        "[docs/ENERGY.md](ENERGY.md); the model's arithmetic: `python tools/bench/energy.py --help`."
        % (esp["speed_factor"], energy.life_text(cap), 100.0 * pw["life_days"] / cap),
        "- ESP32 rows: per hour %d full wake (the upload's), %d fast wakes that store the buffer and %d fast wakes "
        "(their average is the awake column). Were every wake a full one (no fast wake), the ESP32 would average "
        "%.3f mA (%s)."
        % (
            nfull,
            nstore,
            nfast,
            energy.project(esp, every_full)["avg_ma"],
            energy.life_text(energy.project(esp, every_full)["life_days"]),
        ),
        "- Six months (182.6 days) on this cell is an average of %.3f mA; the ESP32 row is %.3f mA. Its wakes' assumed "
        "boot and the sensor wait alone (%d ms at %.0f mA every minute) are %.3f mA of it."
        % (six, er["avg_ma"], esp["boot_ms"] + energy.EXAMPLE["sensor_wait_ms"], esp["cpu_ma"], boots),
        "- With a full store (days without an upload) a Pico W wake takes %s; an ESP32 whose every wake were a full "
        "one would then average %.2f mA in its sampling wakes alone (%.2f mA with the empty store's wake)."
        % (
            "%.1f s" % (m["wake_full_ms"] / 1000.0),
            energy.sampling_ma(esp, full_m),
            energy.sampling_ma(esp, every_full),
        ),
    ]
    if not filled["phases"].get("fill", {}).get("calls"):
        lines.append("- The wake half an hour after the upload did not check the store's fill: the fill row reads 0.")
    for label, run in (("emulated sync", syn), ("emulated sync with the ESP32's native code", e["sync_esp32"])):
        if run.get("sent") != m["upload_points"]:
            lines.append(
                "- The %s sent %s of %s points (stopped: %s, last error: %s)."
                % (label, run.get("sent"), m["upload_points"], run.get("stopped"), run.get("last_error"))
            )
    if wire.get("sent") != m["upload_points"]:
        lines.append(
            "- The unix-port sync sent %s of %s points (stopped: %s, last error: %s)."
            % (wire.get("sent"), m["upload_points"], wire.get("stopped"), wire.get("last_error"))
        )
    return lines


def splice(path, lines):
    # replaces (or inserts before the notes) this section of an existing benchmarks.md
    with open(path) as f:
        doc = f.read().split("\n")
    if TITLE in doc:
        i = doc.index(TITLE)
        j = i + 1
        while j < len(doc) and not doc[j].startswith("## "):
            j += 1
        doc[i:j] = lines + [""]
    else:
        at = doc.index("## Notes on the figures") if "## Notes on the figures" in doc else len(doc)
        doc[at:at] = lines + [""]
    with open(path, "w") as f:
        f.write("\n".join(doc))


def main(argv):
    import argparse

    ap = argparse.ArgumentParser(description="the Energy section of docs/benchmarks.md (emulated Pico W + model)")
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "benchmarks.md"))
    ap.add_argument(
        "--json", help="also write the measured figures as JSON here (tools/bench/energy.py --measured reads it)"
    )
    a = ap.parse_args(argv)
    results = {}
    bench(None, results, say=lambda s: print(s, file=sys.stderr, flush=True))
    if not results.get("energy"):
        return 1
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"energy": results["energy"], "measured": measured(results)}, f, indent=1)
    splice(a.out, section(results))
    print("wrote the Energy section of %s" % a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
