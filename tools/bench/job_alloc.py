# Benchmark job, run by tools/bench.py on a unix port: the heap bytes one add() allocates, for a
# double stream (2 decimals, the workload's temperature) and an int stream, with an explicit ts
# and stamped by the clock. gc.mem_alloc() before and after n add() calls with the collector
# off, over the calls only: the caller's values and timestamps are made before (they are not
# add()'s). The store is a folder of the host file system (the unix port's VFS allocates nothing
# per write; a block device written in Python would), opened and written once first so that the
# segment file is open. A few adds allocate more (the next segment's opening, about one in 400;
# the clock's port-clock reading, once a second): "steady" leaves out the adds over RARE bytes.
# Prints "RESULT {json}":
#   {"n": n, "wide": small ints hold a Unix ms, "double_ts": {"mean": B per add, "steady": B per
#    add without the rare ones, "rare": how many}, "double_stamped": ..., "int_ts": ..., "int_stamped": ...}
#   micropython tools/bench/job_alloc.py '{"n": 200, "dir": "/tmp/x"}'
import gc
import json
import sys

_here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
for _p in (_here + "/../../lib", _here):
    if _p not in sys.path:
        sys.path.insert(0, _p)

T0 = 1767225600000  # 2026-01-01
RARE = 64


def _config(path):
    return {
        "server": "https://127.0.0.1:9",
        "api": "device",
        "token": "bench-token",
        "insecure": True,
        "streams": {"temperature": {"pin": "V1", "decimals": 2}, "count": {"pin": "V2", "type": "int"}},
        "store": {"path": path},
    }


def _measure(log, name, values, stamps):
    # bytes per add() over len(values) calls: all, and without the rare ones
    n = len(values)
    rare = 0
    rare_bytes = 0
    gc.collect()
    gc.disable()
    try:
        total = gc.mem_alloc()
        for i in range(n):
            a = gc.mem_alloc()
            if stamps is None:
                log.add(name, values[i])
            else:
                log.add(name, values[i], stamps[i])
            b = gc.mem_alloc() - a
            if b > RARE:
                rare += 1
                rare_bytes += b
        total = gc.mem_alloc() - total
    finally:
        gc.enable()
    return {"mean": total / n, "steady": (total - rare_bytes) / (n - rare) if n > rare else None, "rare": rare}


def run(spec):
    import blynklog

    n = spec.get("n", 200)
    log = blynklog.Logger(_config(spec["dir"] + "/bl"))
    # the explicit stamps: the last 2 n samples at 10 s before the clock's time
    now = T0 + 2 * n * 10000
    log.clock.set_time_ms(now, "user")
    log.add("temperature", 20.0, T0)  # opens the segment file
    out = {"n": n, "wide": sys.maxsize > 1 << 40}
    doubles = [(1800 + (i * 37) % 700) / 100 for i in range(n)]
    ints = [(i * 7919) % 100000 - 50000 for i in range(n)]
    stamps = [T0 + 1000 + i * 20000 for i in range(n)]
    # the explicit-ts rows first (their stamps are older than the clock's)
    kinds = (
        ("double_ts", "temperature", doubles, stamps),
        ("int_ts", "count", ints, stamps),
        ("double_stamped", "temperature", doubles, None),
        ("int_stamped", "count", ints, None),
    )
    for key, name, values, ts in kinds:
        out[key] = _measure(log, name, values, ts)
    log.close()
    return out


if __name__ == "__main__":
    print("RESULT " + json.dumps(run(json.loads(sys.argv[1]))))
