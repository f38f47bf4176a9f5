# Run by test_heap.py (and tools/bench.py) on the board-like unix port with a small heap
# (-X heapsize=...): one whole Logger sync() of a prepared backlog, as a board's upload wake runs it.
#   micropython -X heapsize=64K tests/heap_sync.py LIBDIR CONFIG
# LIBDIR holds the package (as .mpy, or .py sources). Prints "SENT sent pending stopped", then
# "HEAP start code": the heap in use (after a collection) when the script began, and the heap the
# package's code held at the sync: once the Logger is closed and dropped, the modules loaded at
# the sync's end imported again (close() lets the upload side go), with the qstrs of every module
# the process loaded (what a board with the package frozen into flash keeps out of RAM).
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
loaded = [name for name in sys.modules if name.startswith("blynklog")]
log.close()
log = None
print("SENT %d %d %s %s" % (report["sent"], report["pending"], report["stopped"], report["last_error"]))
report = None
print("LOADED %s" % " ".join(sorted(loaded)))
gc.collect()
for name in loaded:  # a heap that only just held the sync may not hold a second loading: no HEAP line
    __import__(name)
# The collector scans the C stack conservatively: a stale word there kept the closed Logger's
# upload stack (about 32 KB, its code with it) alive through a gc.collect(), some runs and not
# others. dir() probes every qstr through calls that overwrite that part of the stack.
dir(blynklog)
gc.collect()
print("HEAP %d %d" % (start, gc.mem_alloc()))
