# The emulated Pico W's rows of make bench: MicroPython v1.28.0's own RPI_PICO_W firmware in the
# RP2040 emulator (tools/pico.py, ../shared/pico-sim), running tools/bench/pico_job.py from a
# littlefs image that holds the package as .mpy. The figures closest to a real board that this
# project can measure: the RP2040's own heap (32-bit objects, float32, the firmware's modules
# frozen), the rp2 port's littlefs on its flash driver, and simulated time at 125 MHz.
#   bench(p, results)   fills results["pico"] (nothing when the emulator is not there)
#   section(results)    the Markdown lines of the section
#   python tools/bench/pico_bench.py [--quick] [--out docs/benchmarks.md]
#                       runs only this part and replaces its section in the document
import json
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path[:0] = [os.path.join(ROOT, "tools")]
import pico  # noqa: E402  (tools/pico.py)

TITLE = "## The emulated Pico W"
T0 = 1767225600000  # as pico_job.py
STREAMS = {"temperature": {"pin": "V1", "decimals": 2}}
KB = 1024


def _cfg(path="/blynklog-data"):
    # Device API over plain http: the stand-in socket speaks no TLS (the radio is not emulated)
    return {
        "server": "http://blynk.test",
        "api": "device",
        "token": "bench-token",
        "streams": STREAMS,
        "store": {"path": path},
        "limits": {"points_per_day": 20000},
    }


# what an upload wake of the firmware holds during its batches (app.py's loop, the journal taken
# into the store, the upload stack): the firmware's modules, then the package's as the sync loads
# them (the store's writing side, frame_write.py, is let go before the batches)
WAKE_MODULES = [
    "errlog",
    "sensors",
    "hw",
    "board",
    "app",
    "uplink",
    "blynklog",
    "blynklog.clock",
    "blynklog.journal",
    "blynklog.store",
    "blynklog.segment",
    "blynklog.logger_sync",
    "blynklog.http",
    "blynklog.blynk",
    "blynklog.policy",
    "blynklog.body",
]


def _job(sim, img, spec, tmp, **kw):
    script = os.path.join(tmp, "job-%s.py" % spec["job"])
    with open(os.path.join(HERE, "pico_job.py")) as f:
        body = f.read()
    with open(script, "w") as f:
        f.write("SPEC = %r\n" % (spec,) + body)
    r = sim.run([script], fs_in=img, timeout=kw.pop("timeout", 1800), **kw)
    res = r.lines("RESULT ")
    if r.rc != 0 or not res:
        raise RuntimeError("pico job %s failed (exit %s):\n%s\n%s" % (spec["job"], r.rc, r.out[-2000:], r.err[-2000:]))
    out = json.loads(res[0])
    out.update(sim_s=r.sim_s, wall_s=r.wall_s, erases=r.erases, programs=r.programs)
    return out


def _backlog(folder, n):
    # n points of the workload's first stream in a store written by CPython (the on-flash format
    # is the same on every runtime): the sync job's backlog, copied into the image
    sys.path.insert(0, os.path.join(ROOT, "lib"))
    import blynklog

    log = blynklog.Logger(_cfg(os.path.join(folder, "blynklog-data")))
    for i in range(n):
        log.add("temperature", 20.0 + (i % 500) * 0.01, T0 + i * 10000)
    log.close()
    return os.path.join(folder, "blynklog-data")


# The library's own sampling wake (tests/pico/sampling_wake.py: Logger() from the config file,
# three add(), flush(), before_sleep()), run twice with a soft reset between: the second finds the
# config cache, as every wake after the first does. As tests/test_pico_wake.py's configuration.
WAKE_SCRIPT = os.path.join(ROOT, "tests", "pico", "sampling_wake.py")
WAKE_CFG = {
    "server": "https://blynk.cloud",
    "api": "device",
    "token": "pico-sim-token",
    "insecure": True,
    "streams": {"air_temp": {"pin": "V1", "decimals": 2}, "chip_temp": {"pin": "V2", "decimals": 1}},
    "store": {"path": "wake-data", "capacity": 65536},
}
WAKE_STORES = (("empty store", 0), ("2,000 pending samples", 2000), ("full store", None))


def _wake_files(folder, samples):
    # the wake's configuration and its store with `samples` pending (None: until it is full), written
    # by CPython -> [(board path, local path)]
    sys.path.insert(0, os.path.join(ROOT, "lib"))
    import blynklog

    os.makedirs(folder)
    cfg_path = os.path.join(folder, "wake-config.json")
    with open(cfg_path, "w") as f:
        json.dump(WAKE_CFG, f)
    files = [("wake-config.json", cfg_path)]
    if samples == 0:
        return files
    log = blynklog.Logger(dict(WAKE_CFG, store=dict(WAKE_CFG["store"], path=os.path.join(folder, "wake-data"))))
    i = 0
    while (samples is None and not log.stats()["dropped_full"]) or (samples is not None and i < samples):
        log.add("air_temp" if i % 2 else "chip_temp", 20 + (i % 500) * 0.01, T0 + i * 30000)
        i += 1
    log.close()
    for top, _dirs, names in os.walk(os.path.join(folder, "wake-data")):
        for n in names:
            files.append((os.path.relpath(os.path.join(top, n), folder), os.path.join(top, n)))
    return files


def _pairs(line):
    # "a 1 b 2 | ..." -> {"a": 1, "b": 2} (up to the bar)
    words = line.split("|")[0].split()
    return dict((words[i], int(words[i + 1])) for i in range(0, len(words) - 1, 2))


def _wakes(sim, tmp, say):
    out = []
    for label, samples in WAKE_STORES:
        say("pico: sampling wake, %s" % label)
        files = _wake_files(os.path.join(tmp, "wake-%s" % samples), samples)
        img = sim.image(os.path.join(tmp, "wake-%s.img" % samples), main=False, extra=files)
        r = sim.run([WAKE_SCRIPT, "@softreset", WAKE_SCRIPT], fs_in=img, timeout=600)
        wake, logger = r.lines("WAKE "), r.lines("LOGGER ")
        if r.rc != 0 or len(wake) != 2 or len(logger) != 2:
            raise RuntimeError(
                "pico sampling wake (%s) failed (exit %s):\n%s\n%s" % (label, r.rc, r.out[-2000:], r.err[-2000:])
            )
        out.append(
            {
                "store": label,
                "first": _pairs(wake[0]),
                "wake": _pairs(wake[1]),
                "logger": _pairs(logger[1]),
                "modules": logger[1].split("|")[1].strip(),
            }
        )
    return out


def bench(p, results, say=print):
    if not os.environ.get("BLYNKLOG_PICO_SIM") and os.path.isdir(os.path.join(ROOT, "..", "shared", "pico-sim")):
        os.environ["BLYNKLOG_PICO_SIM"] = os.path.join(ROOT, "..", "shared", "pico-sim")
    why = pico.missing(pico.sim_dir())
    if why:
        say("pico: skipped (%s)" % why)
        return
    quick = getattr(p, "quick", False)
    n_add = 300 if quick else 3000
    n_enc = 200 if quick else 2000
    n_sync = 1000 if quick else 10000
    sim = pico.Sim()
    tmp = tempfile.mkdtemp(prefix="blynklog-pico-bench-")
    try:
        lib = sim.image(os.path.join(tmp, "lib.img"), main=False)
        say("pico: add() x %d (flash timing on)" % n_add)
        base = _job(sim, lib, {"job": "add", "n": 0, "cfg": _cfg()}, tmp, flash_timing=True)
        add = _job(sim, lib, {"job": "add", "n": n_add, "cfg": _cfg()}, tmp, flash_timing=True)
        say("pico: encoder, %d points" % n_enc)
        enc = _job(sim, lib, {"job": "encode", "n": n_enc}, tmp)
        say("pico: sync of %d points to the stand-in socket" % n_sync)
        store = _backlog(tmp, n_sync)
        img = sim.image(os.path.join(tmp, "backlog.img"), main=False, extra=[], base=None)
        img = _mkfs_add(sim, img, store)
        now = T0 + n_sync * 10000 + 3600000
        syn = _job(sim, img, {"job": "sync", "cfg": _cfg(), "now": now}, tmp)
        say("pico: the modules of a firmware's upload wake")
        mods = _job(sim, lib, {"job": "modules", "names": WAKE_MODULES}, tmp)
        results["pico"] = {
            "n_add": n_add,
            "n_enc": n_enc,
            "n_sync": n_sync,
            "base": base,
            "add": add,
            "encode": enc,
            "sync": syn,
            "modules": mods,
            "sim": os.path.basename(sim.dir),
        }
        results["pico"]["wakes"] = _wakes(sim, tmp, say)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _mkfs_add(sim, img, folder):
    import subprocess

    r = subprocess.run(
        [
            sys.executable,
            os.path.join(sim.dir, "mkfs.py"),
            "--board",
            sim.board,
            "--in",
            img,
            img,
            "%s:/blynklog-data" % folder,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if r.returncode != 0:
        raise RuntimeError("mkfs.py: " + (r.stderr or r.stdout)[-2000:])
    return img


def _kb(b):
    return "%.1f KB" % (b / KB)


def _n(v):
    return "{:,}".format(v)


def section(results):
    r = results.get("pico")
    if not r:
        return []
    add, base, enc, syn = r["add"], r["base"], r["encode"], r["sync"]
    per_k = 1000.0 / r["n_add"]
    rows = [
        (
            "Heap free at the job's start (`gc.mem_free()` after a collection; the raw REPL and the job's "
            "own code loaded), KB",
            _kb(add["free_start"]),
            "",
        ),
        (
            "Heap free after `Logger()` (package as `.mpy` on the file system; 1 stream), KB",
            _kb(add["free_after_logger"]),
            "`Logger()` takes %s" % _kb(add["free_start"] - add["free_after_logger"]),
        ),
        (
            "Lowest heap free during a sync of %s points up to the network (after a collection at every 8th "
            "send and read of the stand-in socket), KB" % _n(r["n_sync"]),
            _kb(syn["low_free"]),
            "%s points in %d requests, %s body bytes; `Logger()` and the sync's modules loaded"
            % (_n(syn["points"]), syn["requests"], _n(syn["body_bytes"])),
        ),
        ("Heap free after that sync (after a collection), KB", _kb(syn["free_after_sync"]), ""),
        (
            "Heap the modules of a firmware's upload wake take during its batches (the firmware's, the "
            "journal, the store's reader, the upload stack: `.mpy` as deploy builds them for the Pico W), KB",
            _kb(r["modules"]["free_start"] - r["modules"]["free_after"]),
            "%s free before them, %s after; the TLS session's buffers (about 34 KB) come from the same heap"
            % (_kb(r["modules"]["free_start"]), _kb(r["modules"]["free_after"])),
        ),
        (
            "`add()` time per sample (%s samples, 1 double stream, flash erase/program times charged), ms"
            % _n(r["n_add"]),
            "%.2f ms" % (add["add_us"] / 1000.0 / r["n_add"]),
            "%.0f samples/s" % (r["n_add"] * 1e6 / add["add_us"]),
        ),
        (
            "Encoder time per point (a %s-point Device API body: the length pass and the chunk pass), ms"
            % _n(r["n_enc"]),
            "%.2f ms" % ((enc["length_us"] + enc["chunks_us"]) / 1000.0 / r["n_enc"]),
            "chunks alone %.2f ms" % (enc["chunks_us"] / 1000.0 / r["n_enc"]),
        ),
        (
            "Sync time per point uploaded (%s points to the stand-in socket), ms" % _n(r["n_sync"]),
            "%.2f ms" % (syn["sync_ms"] / float(max(1, syn["sent"] or 0))),
            "%.1f s in all (the heap probe's %.1f s of collections taken off)"
            % (syn["sync_ms"] / 1000.0, syn.get("probe_ms", 0) / 1000.0),
        ),
        (
            "Flash erases per 1,000 samples (rp2 littlefs, default flush policy, `close()` included)",
            "%.1f" % ((add["erases"] - base["erases"]) * per_k),
            "",
        ),
        (
            "Flash programs per 1,000 samples (256-byte pages or less)",
            "%.1f" % ((add["programs"] - base["programs"]) * per_k),
            "",
        ),
    ]
    lines = [
        TITLE,
        "",
        "MicroPython v1.28.0's own `RPI_PICO_W` firmware in the rp2040js emulator (`tools/pico.py`, the pico-sim), "
        "running `tools/bench/pico_job.py` with blynklog as `.mpy` on the board's littlefs, as `make deploy` builds it "
        "(the functions marked native are native code: `add()`'s, the encoder's passes, the upload's reader and plan): "
        "the RP2040's own heap "
        "(32-bit objects, float32; blynklog's bytecode loaded into it from `.mpy`, not frozen), the rp2 port's flash driver, simulated time "
        "at 125 MHz. The emulator is deterministic, so each figure is one run. Times are approximate (no flash wait "
        "states; the `add()` row charges typical W25Q16 erase and program times, `--flash-timing`). The radio is not "
        "emulated: the sync talks to a stand-in for `blynklog.http`'s socket module that answers as Blynk's Device "
        "API does (200, empty body), over plain http, so TLS's own heap is not in these figures; its backlog was written by CPython "
        "and copied into the image. At the sync's pace a Wi-Fi budget of 30 s (`radio_budget_ms`) uploads "
        "about %s points per wake."
        % _n(int(30000 / max(0.001, syn["sync_ms"] / float(max(1, syn["sent"] or 0))) // 100 * 100)),
        "",
        "| Measurement | Pico W (emulated) | Detail |",
        "|---|---|---|",
    ]
    for w in r.get("wakes") or ():
        a, g = w["wake"], w["logger"]
        rows.append(
            (
                "Sampling wake of the library, %s (`Logger()` from the config cache, 3 `add()`, `flush()`, "
                "`before_sleep()`; package as `.mpy`), ms" % w["store"],
                "%d ms" % a["total"],
                "import %d, `Logger()` %d (its imports %d; %s; the rest %d), add %d, flush %d, "
                "before_sleep %d; each module's import, ms: %s; the first wake (it validates) %d ms; an import hook's "
                "own cost included"
                % (
                    a["import"],
                    a["logger"],
                    g["imports"],
                    ("the store's opening %d" % g["open"]) if g["open"] else "the store not opened: the journal",
                    g["rest"],
                    a["add"],
                    a["flush"],
                    a["before_sleep"],
                    w["modules"],
                    w["first"]["total"],
                ),
            )
        )
    lines += ["| %s | %s | %s |" % row for row in rows]
    if syn.get("sent") != r["n_sync"]:
        lines += [
            "",
            "- The sync sent %s of %s points (stopped: %s, last error: %s)."
            % (syn.get("sent"), r["n_sync"], syn.get("stopped"), syn.get("last_error")),
        ]
    return lines


def splice(path, lines):
    # replaces (or appends before the notes) this section of an existing benchmarks.md
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

    ap = argparse.ArgumentParser(description="the emulated Pico W's rows of docs/benchmarks.md")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "benchmarks.md"))
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    results = {}
    bench(a, results)
    if not results.get("pico"):
        return 1
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results["pico"], f, indent=1)
    splice(a.out, section(results))
    print("wrote the Pico W section of %s" % a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
