# After a power cut: a fresh boot opens the store again and reports what it holds ("V sid n
# values", "P sid pending"), then checks it goes on working (appends, flush, commit all: "OK").
# tests/test_pico_powercut.py prepends W = {...}.
import sys

sys.path.insert(0, "/lib")
from blynklog.store import Store

T0 = 1700000000000
store = Store(W["path"], capacity=W["capacity"], segment_size=W["seg"])  # noqa: F821
print("S", store.stream_id("a"), store.stream_id("b"))
print("STATS", store.stats())
for sid in (0, 1):
    vals = []
    for pos, ts, value, flags in store.records(sid):
        # the value of sample i: i << 40 and 40 scrambled bits (powercut_work.py)
        i = value >> 40 if type(value) is int else -1
        if i < 0 or value != i << 40 | (i * 2654435761 * 257) & 0xFFFFFFFFFF or ts != T0 + i * 1000 or flags != i & 1:
            print("BAD", sid, repr(value), ts, flags)
        vals.append(str(i))
    print("V", sid, len(vals), ",".join(vals))
    print("P", sid, store.pending(sid))
base = 100000
for k in range(5):
    assert store.append(k % 2, T0 + (base + k) * 1000, base + k)
store.flush()
for sid in (0, 1):
    got = list(store.records(sid))
    assert got and got[-1][2] >= base, "new records missing"
    store.commit(sid, got[-1][0], len(got))
assert store.pending() == 0, "pending after committing all"
store.close()
print("OK", store.stats()["segments"] if hasattr(store, "stats") else "")
