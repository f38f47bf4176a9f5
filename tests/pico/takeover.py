# A Logger made again without closing the last one, on the Pico W's own littlefs: the first one
# has frames in its newest segment's file not synced; the collector closes that file (the
# firmware's finaliser, a real close) after the second one flushed. Nothing the second one
# flushed may be lost. "R <pending> <expected>" after a third Logger reopens the store.
import gc
import sys

sys.path.insert(0, "/lib")
import blynklog

T0 = 1700000000000
CFG = {
    "server": "https://127.0.0.1:9",
    "token": "pico-sim-token",
    "insecure": True,
    "streams": {"n": {"pin": "V1", "type": "int"}},
    "store": {"path": "/blynklog-take", "capacity": 65536},
}

first = blynklog.Logger(CFG)
for i in range(400):
    first.add("n", i * 7919 % 100003, T0 + i * 1000)
    if i == 99:
        first.flush()
written = 300 - first._store._fcount  # frames written to the file, not synced
print("WRITTEN", written, first._store._wf is not None)
second = blynklog.Logger(CFG)
first = None
for i in range(1000, 1050):
    second.add("n", i, T0 + i * 1000)
second.flush()
gc.collect()  # the first one's file is closed here
gc.collect()
second.close()
third = blynklog.Logger(CFG)
print("R", third.stats()["pending"], 150 + written)
third.close()
