# The upload's heap churn per point (issue 18, target 2): what a sync allocates grows by at most 64
# bytes per point uploaded on a 32-bit port (twice that where objects are twice as wide), counted
# with the collector off as the growth of gc.mem_alloc() from a 1,000-point sync to a 3,000-point
# one (one request per 1,000 points), as the benchmark counts mem_peak() from 1,000 to 10,000. The
# server is a stand-in connection that reads each body and answers 200, so only blynklog counts.
import gc
import sys

from support import IS_MICROPYTHON, skip, tmpdir

T0 = 1767225600000  # 2026-01-01: a Unix-ms timestamp is a heap int on a 32-bit port
STEP_MS = 10000


class _Answer:
    def __init__(self, status, body=b""):
        self.status = status
        self.reason = "OK"
        self.headers = {}
        self.body = body


class _Conn:
    # http.Connection's request_gen() as the upload uses it: the body is read (its chunks counted).
    scheme = "http"
    url = "http://127.0.0.1:9"
    date = None

    def __init__(self):
        self.bytes = 0

    def request_gen(self, method, path, headers, body=None, keep=None):
        # a generator of no I/O ops (http.py): the request is done here
        if body is not None:
            for chunk in body[1]:
                self.bytes += len(chunk)
        return _Answer(200)
        yield

    def close(self):
        pass


def _config(path):
    return {
        "server": "http://127.0.0.1:9",
        "api": "device",
        "token": "test-device-token",
        "streams": {"temperature": {"pin": "V1", "decimals": 2}},
        "store": {"path": path},
    }


def _sync_alloc(n):
    # bytes allocated by one sync of n pending points (a fresh Logger on a written store, as a wake)
    import blynklog
    from blynklog import blynk

    cfg = _config(tmpdir("alloc") + "/bl")
    log = blynklog.Logger(cfg)
    for i in range(n):
        log.add("temperature", (1800 + (i * 37) % 700) / 100, T0 + i * STEP_MS)
    log.close()
    log = blynklog.Logger(cfg)
    log.clock.set_time_ms(T0 + n * STEP_MS + 60000, "user")
    conn = _Conn()
    log._client = lambda timeout_ms: blynk.DeviceClient(conn, "test-device-token")
    gc.collect()
    gc.disable()
    try:
        before = gc.mem_alloc()
        report = log.sync()
        used = gc.mem_alloc() - before
    finally:
        gc.enable()
    log.close()
    assert report["sent"] == n and report["pending"] == 0, report
    return used


def test_a_sync_allocates_at_most_64_bytes_per_point_uploaded_on_a_32_bit_port():
    if not IS_MICROPYTHON:
        skip("gc.mem_alloc() is MicroPython's")
    per_point = (_sync_alloc(3000) - _sync_alloc(1000)) / 2000
    bound = 64 if sys.maxsize < 2**32 else 128  # objects and pointers twice as wide on a 64-bit port
    assert per_point <= bound, per_point
