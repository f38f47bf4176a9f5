# Benchmark job on the emulated Pico W (MicroPython's rp2 firmware in rp2040js; tools/pico.py):
# tools/bench/pico_bench.py prepends SPEC = {...} and runs it from a littlefs image holding the
# package as .mpy, as on a board. Times are the emulated RP2040's (125 MHz; ticks_us).
#   {"job": "add", "n": N, "cfg": {...}}   heap free before/after Logger(); N add() calls of the
#                                         workload's first stream, timed; close()
#   {"job": "encode", "n": N}             blynklog.encoder's body of N points (both passes), timed
#   {"job": "sync", "cfg": {...}, "now": ms}  Logger().sync() of the backlog on the image to a
#                                         stand-in socket (StandInSocket below, in place of
#                                         blynklog.http's socket module) that answers as Blynk's
#                                         Device API does; the lowest heap free after a
#                                         collection at every 8th send and read
#   {"job": "modules", "names": [...]}    heap free before and after importing the named modules
#                                         (the firmware's at the root, the package's under /lib)
# Prints "RESULT {json}".
import gc
import io
import json
import sys
import time

sys.path.insert(0, "/lib")
T0 = 1767225600000  # 2026-01-01
_low = [1 << 30]
_calls = [0]
_probe_us = [0]  # the time of _free()'s own collections: not the sync's (job_sync takes it off)


def _free():
    # the heap free after a collection, at every 8th send or read (what the sync holds live
    # then; a collection at each would distort its time)
    _calls[0] += 1
    if _calls[0] & 7:
        return
    t = time.ticks_us()
    gc.collect()
    f = gc.mem_free()
    if f < _low[0]:
        _low[0] = f
    _probe_us[0] += time.ticks_diff(time.ticks_us(), t)


def _collected():
    gc.collect()
    return gc.mem_free()


class StandInSocket(io.IOBase):
    # One keep-alive connection to a server that reads each request whole (the head, then
    # Content-Length bytes of body, counting the points) and answers 200 with an empty body.
    # Nothing is kept beyond the counters and the current head.
    answers = []
    stats = {"requests": 0, "points": 0, "body_bytes": 0}

    def __init__(self, *args):
        self._head = b""
        self._left = -1  # body bytes still to come; -1: reading the head
        self._last = 0
        self._out = b""
        self._timeout = None

    def settimeout(self, t):
        self._timeout = t

    def connect(self, addr):
        pass

    def close(self):
        pass

    def sendall(self, data):
        _free()
        data = bytes(data)
        while data:
            if self._left < 0:
                self._head += data
                i = self._head.find(b"\r\n\r\n")
                if i < 0:
                    return
                rest = self._head[i + 4 :]
                n = 0
                for line in self._head[:i].split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        n = int(line[15:])
                self._head = b""
                self._left = n
                self._last = 0
                data = rest
                if n and data:
                    continue
                if not n:
                    self._answer()
                    continue
                return
            take = data[: self._left]
            data = data[self._left :]
            s = StandInSocket.stats
            s["body_bytes"] += len(take)
            # points of a Device API body [[ts,v],[ts,v],...]: one "[" per point after the first
            s["points"] += take.count(b"[") - (1 if self._last == 0 else 0)
            self._last += len(take)
            self._left -= len(take)
            if self._left == 0:
                self._answer()

    def _answer(self):
        StandInSocket.stats["requests"] += 1
        self._left = -1
        self._out += b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n"

    def readinto(self, buf):
        # as a real MicroPython socket: a non-blocking one (settimeout(0)) reads what has come,
        # None when nothing has; a blocking one waits for a full buffer, and every answer is made
        # at once in sendall, so such a wait would time out
        n = len(self._out)
        if not n and self._timeout == 0:
            return None
        if not n or (n < len(buf) and self._timeout != 0):
            raise OSError(110)
        _free()
        n = min(n, len(buf))
        buf[:n] = self._out[:n]
        self._out = self._out[n:]
        return n

    def ioctl(self, req, arg):
        # select.poll's question (MP_STREAM_POLL): readable while an answer waits, always writable
        if req == 3:
            return (arg & 1 if self._out else 0) | (arg & 4)
        return 0

    def recv(self, n):
        # as a real socket: nothing there is EAGAIN without waiting (settimeout(0)) and a
        # timeout otherwise (every answer is made at once in sendall, so none would come);
        # b"" would be the peer's EOF
        if not self._out:
            raise OSError(11 if self._timeout == 0 else 110)
        _free()
        out, self._out = self._out[:n], self._out[n:]
        return out


class StandInModule:
    SOCK_STREAM = 1
    AF_INET = 2

    @staticmethod
    def getaddrinfo(host, port, af=0, kind=0):
        return [(2, 1, 0, "", ("10.0.0.1", port))]

    socket = StandInSocket


def job_add(spec):
    gc.collect()
    f0 = gc.mem_free()
    import blynklog

    log = blynklog.Logger(spec["cfg"])
    f1 = _collected()
    name = list(spec["cfg"]["streams"])[0]
    t = time.ticks_us()
    for i in range(spec["n"]):
        log.add(name, 20.0 + (i % 500) * 0.01, T0 + i * 10000)
    dt = time.ticks_diff(time.ticks_us(), t)
    f2 = _collected()
    t = time.ticks_us()
    log.close()
    close_us = time.ticks_diff(time.ticks_us(), t)
    return {"free_start": f0, "free_after_logger": f1, "free_after_adds": f2, "add_us": dt, "close_us": close_us}


def job_encode(spec):
    from blynklog import body

    n = spec["n"]

    def points():
        for i in range(n):
            yield T0 + i * 10000, 20.0 + (i % 500) * 0.01

    gc.collect()
    t = time.ticks_us()
    length = body.body_length("device", None, points, 2)
    t1 = time.ticks_us()
    got = 0
    for chunk in body.body_chunks("device", None, points, 2):
        got += len(chunk)
    t2 = time.ticks_us()
    assert got == length, (got, length)
    return {"n": n, "length_us": time.ticks_diff(t1, t), "chunks_us": time.ticks_diff(t2, t1), "bytes": got}


def job_sync(spec):
    gc.collect()
    f0 = gc.mem_free()
    import blynklog
    from blynklog import http

    http.socket = StandInModule  # the stand-in network, for this run
    log = blynklog.Logger(spec["cfg"])
    log.clock.set_time_ms(spec["now"], "user")
    f1 = _collected()
    pending = log.stats()["pending"]
    _low[0] = 1 << 30
    _probe_us[0] = 0
    t = time.ticks_ms()
    r = log.sync()
    dt = time.ticks_diff(time.ticks_ms(), t) - _probe_us[0] // 1000  # the heap probe's collections off
    low = _low[0]
    f2 = _collected()
    log.close()
    s = StandInSocket.stats
    return {
        "free_start": f0,
        "free_after_logger": f1,
        "pending_before": pending,
        "sent": r.get("sent"),
        "pending_after": r.get("pending"),
        "requests": s["requests"],
        "points": s["points"],
        "body_bytes": s["body_bytes"],
        "sync_ms": dt,
        "probe_ms": _probe_us[0] // 1000,
        "low_free": low,
        "free_after_sync": f2,
        "stopped": r.get("stopped"),
        "last_error": r.get("last_error"),
    }


def job_modules(spec):
    f0 = _collected()
    for name in spec["names"]:
        __import__(name)
        gc.collect()  # as the firmware and the sync load them: one at a time, collecting between
    return {"free_start": f0, "free_after": _collected()}


_out = {"add": job_add, "encode": job_encode, "sync": job_sync, "modules": job_modules}[SPEC["job"]](SPEC)  # noqa: F821
print("RESULT " + json.dumps(_out))
