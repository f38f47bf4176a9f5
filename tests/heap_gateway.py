# Run by test_gateway_heap.py on the board-like unix port: the heap a gateway Logger holds for its
# devices. Opens the Logger of CONFIG, builds its upload side (stats()) and prints
# "HELD bytes": the heap in use (after a collection) with the Logger open and a sample added to
# each stream, less the heap in use before it (the package's code and its qstrs are loaded by a first Logger, closed before).
#   micropython tests/heap_gateway.py LIBDIR CONFIG
import gc
import sys

sys.path.insert(0, sys.argv[1])

import blynklog

log = blynklog.Logger(sys.argv[2])
log.stats()
log.close()
# every module the measured Logger loads, loaded before it (compiled from .py, a module interns its
# qstrs, and crossing the qstr pool's end allocates the next pool: 9 KB of the measure once)
from blynklog import frame, frame_write, gateway, logger_sync, policy, segment, blynk, encoder, http  # noqa: E402, F401

log = None
gc.collect()
before = gc.mem_alloc()
log = blynklog.Logger(sys.argv[2])
log.stats()
for dev in log._cfg["devices"]:  # one sample a stream: add()'s entry of each
    for name in log._cfg["devices"][dev]["streams"]:
        log.add(name, 1.0, device=dev)
gc.collect()
print("HELD %d" % (gc.mem_alloc() - before))
