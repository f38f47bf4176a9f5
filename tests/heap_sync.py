# Run by test_heap.py (and tools/bench.py) on the board-like unix port with a small heap
# (-X heapsize=...): one whole Logger sync() of a prepared backlog, as a board's upload wake runs it.
#   micropython -X heapsize=64K tests/heap_sync.py LIBDIR CONFIG
# LIBDIR holds the package (as .mpy, or .py sources). Prints "SENT sent pending stopped", then
# "HEAP start code": the heap in use (after a collection) when the script began and after the
# Logger was closed and dropped (what is left is the modules' code and their qstrs).
import gc
import sys

gc.collect()
start = gc.mem_alloc()
sys.path.insert(0, sys.argv[1])

import blynklog  # noqa: E402
from blynklog.compat import unix_ms  # noqa: E402

log = blynklog.Logger(sys.argv[2])
log.clock.set_time_ms(unix_ms(), "user")
report = log.sync()
log.close()
log = None
# the store's close() lets its frame and reader modules go (a board's RAM): loaded again, so that
# their code counts as the package's, as it would be frozen into flash with the rest
from blynklog import frame, segment  # noqa: E402, F401

gc.collect()
print("SENT %d %d %s %s" % (report["sent"], report["pending"], report["stopped"], report["last_error"]))
print("HEAP %d %d" % (start, gc.mem_alloc()))
