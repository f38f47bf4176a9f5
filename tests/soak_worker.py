# The board side of test_soak_kill.py, run by the unix port and killed (SIGKILL) at random moments:
#   micropython tests/soak_worker.py CONFIG START COUNT SEED
# Adds samples START.. in chunks (explicit timestamps derived from the index), flushes, sometimes
# syncs, and says on stdout what has returned: "ADDED i", "FLUSHED i", "SYNC sent pending".
import sys

sys.path.insert(0, sys.argv[0].rsplit("/", 1)[0] + "/../lib")
import random

import blynklog

STREAMS = ("temperature", "humidity", "pressure")
STEP_MS = 60000


def ts_of(base, i):
    return base + (i // 3) * STEP_MS + i % 3


def value_of(i):
    return round(10 + (i % 89) * 0.25, 2)


def main():
    config, start, count, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    random.seed(seed)
    base = int(sys.argv[5])
    log = blynklog.Logger(config)
    i = start
    while i < start + count:
        n = min(random.randint(5, 40), start + count - i)
        for k in range(i, i + n):
            log.add(STREAMS[k % 3], value_of(k), ts=ts_of(base, k))
        i += n
        print("ADDED", i - 1)
        if random.random() < 0.7:
            log.flush()
            print("FLUSHED", i - 1)
        if random.random() < 0.4:
            r = log.sync()
            print("SYNC", r["sent"], r["pending"])
    r = log.sync()
    print("SYNC", r["sent"], r["pending"])
    st = log.stats()
    print("STATS", st["sent"], st["pending"], st["dropped_full"], st["dropped_stale"], st["rejected"], st["thinned"])
    log.close()


main()
