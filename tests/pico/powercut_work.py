# The power-cut workload on the emulated Pico W (tests/test_pico_powercut.py prepends W = {...}
# and TRACE): the store's ops of tests/test_store_powercut.py (appends, flushes, commits, segment
# rotations, drops of a full store) on the firmware's littlefs. Markers on the console tell the
# host what finished before the cut: "C k v,v,.." a commit of those values starts, "D k d" op k
# finished (d: dropped_full then). Without TRACE only the ops that are not appends say "D".
import sys
import time

sys.path.insert(0, "/lib")
from blynklog.store import Store

T0 = 1700000000000


def ops(w):
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


def run(w, trace):
    store = None
    k = 0
    for op in ops(w):
        kind = op[0]
        if kind == "open":
            store = Store(w["path"], capacity=w["capacity"], segment_size=w["seg"])
            store.stream_id("a")
            store.stream_id("b")
        elif kind == "append":
            i = op[1]
            # i and 40 scrambled bits: values that pack badly (store format 3 packs steady ones
            # into a bit or two, and the workload must fill the store)
            store.append(i % 2, T0 + i * 1000, i << 40 | (i * 2654435761 * 257) & 0xFFFFFFFFFF, i & 1)
        elif kind == "flush":
            store.flush()
        elif kind == "commit":
            sid = op[1]
            batch = []
            for pos, ts, value, flags in store.records(sid):
                batch.append((pos, value >> 40))
                if len(batch) == op[2]:
                    break
            if batch:
                print("C", k, ",".join(str(v) for p, v in batch))
                time.sleep_ms(2)
                store.commit(sid, batch[-1][0], len(batch))
        elif kind == "close":
            st = store.stats()
            store.close()
            print("D", k, st["dropped_full"])
            k += 1
            continue
        if trace or kind != "append":
            print("D", k, store.stats()["dropped_full"])
            if kind != "append":
                time.sleep_ms(2)  # the console catches up before the next flash write
        k += 1
    print("END", k)


run(W, TRACE)  # noqa: F821
