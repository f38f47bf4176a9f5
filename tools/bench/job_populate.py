# Benchmark job: fills the backlog an upload job will send, on the host file system.
#   micropython tools/bench/job_populate.py '{"side": "ours", "n": 1000, "k": 1, "config": PATH}'
#   micropython tools/bench/job_populate.py '{"side": "naive", "n": 1000, "k": 1, "log": PATH}'
# Prints "RESULT {json}".
import json
import sys

_here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
for _p in (_here + "/../naive", _here + "/../../lib", _here):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import workload  # noqa: E402  (after the sys.path set-up above)


def run(spec):
    from blynklog.compat import unix_ms

    n = spec["n"]
    k = spec["k"]
    now = unix_ms()
    start = workload.start_for(n, k, now)
    if spec["side"] == "naive":
        from jsonlog import JsonLinesLog

        log = JsonLinesLog(spec["log"])
    else:
        import blynklog

        log = blynklog.Logger(spec["config"])
        log.clock.set_time_ms(now, "user")
    for i in range(n):
        name, v, ts = workload.sample(i, k, start)
        log.add(name, v, ts=ts)
    log.close()
    return {"side": spec["side"], "n": n, "k": k, "start": start}


if __name__ == "__main__":
    print("RESULT " + json.dumps(run(json.loads(sys.argv[1]))))
