# One power cycle of the Logger on the emulated Pico W (tests/test_pico_logger.py prepends STEP):
#   1: Logger(), add 300 samples, flush(), add 25 more, then the power goes (no close)
#   2: a fresh boot: Logger() again; report what survived; add 100, close()
#   3: a fresh boot: Logger() again; report; close()
# "R <step> pending <n> values <v,v,...>" lists stream n's values oldest first.
import gc
import sys

sys.path.insert(0, "/lib")
import blynklog

T0 = 1700000000000
CFG = {
    "server": "https://127.0.0.1:9",
    "token": "pico-sim-token",
    "insecure": True,
    "streams": {"n": {"pin": "V1", "type": "int"}, "t": {"pin": "V2", "decimals": 2}},
    "store": {"path": "/blynklog-data", "capacity": 65536},
}


def report(log):
    # the values are printed as they are read: a list of hundreds of strings does not fit beside
    # the Logger in the Pico W's heap
    st = log.stats()
    sid = log._sids["n"]
    print("R", STEP, "pending", st["pending"], "n", st["pending_by_stream"]["n"], "values", end=" ")  # noqa: F821
    sep = ""
    for r in log._store.records(sid):
        print(sep + str(r[2]), end="")
        sep = ","
    print()


log = blynklog.Logger(CFG)
if STEP == 1:  # noqa: F821
    for i in range(300):
        log.add("n", i, T0 + i * 1000)
    log.flush()
    print("FLUSHED", 300)
    for i in range(300, 325):
        log.add("n", i, T0 + i * 1000)
    print("ADDED", 325)
elif STEP == 2:  # noqa: F821
    report(log)
    for i in range(1000, 1100):
        log.add("n", i, T0 + i * 1000)
        log.add("t", i / 100, T0 + i * 1000)
    log.close()
    print("CLOSED")
else:
    report(log)
    log.close()
gc.collect()
print("FREE", gc.mem_free())
