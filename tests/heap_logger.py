# Run by test_heap.py (and tools/bench.py) on the board-like unix port with a small heap: Logger()
# from the package's .py sources, as mip install delivers them (each module compiled at import).
#   micropython -X heapsize=128K tests/heap_logger.py LIBDIR CONFIG
# Prints "OPEN <heap in use after a collection>" once the Logger is built.
import gc
import sys

sys.path.insert(0, sys.argv[1])

import blynklog

log = blynklog.Logger(sys.argv[2])
gc.collect()
print("OPEN %d" % gc.mem_alloc())
log.close()
