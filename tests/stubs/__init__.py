# CPython stand-ins for the board modules (machine, network, ntptime, micropython).
# conftest.py puts this folder on sys.path for CPython tests only; portable tests that need a
# controllable fake on the unix port import these modules as `stubs.machine` and install them
# in sys.modules themselves.
