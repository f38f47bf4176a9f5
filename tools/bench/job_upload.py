# Benchmark job: one wake's upload of a prepared backlog to the local Blynk emulator, on one
# side. tools/bench.py runs it on the unix port under -X heapsize=N (compiled with mpy-cross, as
# on a board) to find the smallest heap that completes, and with a large heap for the timing.
#   ours:  {"side": "ours", "config": PATH, "n": N}    Logger(config).sync()
#   naive: {"side": "naive", "log": PATH, "n": N, "server": URL, "streams": {name: id}}
# Prints "RESULT {json}": ok (every point sent), sent, ms (the upload alone), mem_peak (the unix
# port's micropython.mem_peak() right after the upload: counts memory the GC reclaimed, so it
# overstates), alloc_* (heap in use after gc.collect() at four points, see run()), and for ours
# the report's requests/handshakes/bytes_sent.
import gc
import sys


def _peak():
    try:
        import micropython

        return micropython.mem_peak()
    except (ImportError, AttributeError):
        return None


def _alloc():
    gc.collect()
    return gc.mem_alloc() if hasattr(gc, "mem_alloc") else None


def run(spec):
    from blynklog.compat import ticks_ms, ticks_diff

    out = {"side": spec["side"], "n": spec["n"]}
    a0 = _alloc()
    peak0 = _peak()
    if spec["side"] == "ours":
        import blynklog
        from blynklog.compat import unix_ms

        log = blynklog.Logger(spec["config"])
        log.clock.set_time_ms(unix_ms(), "user")
        a1 = _alloc()
        t0 = ticks_ms()
        report = log.sync()
        out["ms"] = ticks_diff(ticks_ms(), t0)
        out["mem_peak"] = _peak()
        a2 = _alloc()
        log.close()
        log = None
        for key in ("sent", "pending", "requests", "handshakes", "bytes_sent", "batches", "stopped", "last_error"):
            out[key] = report.get(key)
        out["ok"] = report["sent"] == spec["n"] and report["pending"] == 0
    else:
        import upload

        a1 = _alloc()
        t0 = ticks_ms()
        sent, requests = upload.upload(spec["log"], spec["server"], "test-client", "test-secret", 1, spec["streams"])
        out["ms"] = ticks_diff(ticks_ms(), t0)
        out["mem_peak"] = _peak()
        a2 = _alloc()
        out["sent"] = sent
        out["requests"] = requests
        out["poster"] = upload.POSTER
        out["ok"] = sent == spec["n"]
    out["mem_peak_start"] = peak0
    # heap in use (after gc.collect()): at the start, once ready to upload (modules imported,
    # Logger built), after the upload (objects alive), and at the end (the modules' code alone)
    out["alloc_start"] = a0
    out["alloc_ready"] = a1
    out["alloc_after"] = a2
    out["alloc"] = _alloc()
    return out


def main(spec):
    import json

    try:
        out = run(spec)
    except MemoryError:
        out = {"ok": False, "error": "MemoryError"}
    print("RESULT " + json.dumps(out))


if __name__ == "__main__":
    import json

    _here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
    for _p in (_here + "/../naive", _here + "/../../lib", _here):
        if _p not in sys.path:
            sys.path.insert(0, _p)
    main(json.loads(sys.argv[1]))
