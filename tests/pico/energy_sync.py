# Bench only (tools/bench/energy_bench.py): the CPU part of an upload wake's sync on the emulated
# Pico W. The host prepends SPEC = {"cfg": {...}, "now": ms}; the image holds the package as .mpy
# and a store with one hour's backlog. The radio is not emulated: a stand-in for the `socket`
# module (placed in sys.modules before anything imports blynklog.http) answers every request as
# Blynk's Device API does (200, empty body) at once, over plain http, so the time measured is the
# board's own work (planning, reading the store, encoding, HTTP framing, committing) with no
# network wait and no TLS. Whatever sync() imports on first use is inside the timed call, as on a
# board. Prints "RESULT {json}".
import gc
import io
import json
import sys
import time

sys.path.insert(0, "/lib")


class StandInSocket(io.IOBase):
    # one keep-alive connection that reads each request whole (head, then Content-Length bytes)
    # and answers 200 with an empty body; counts requests and body bytes
    stats = {"requests": 0, "body_bytes": 0, "connects": 0}

    def __init__(self, *args):
        self._head = b""
        self._left = -1  # body bytes still to come; -1: reading the head
        self._out = b""
        self._timeout = None

    def settimeout(self, t):
        self._timeout = t

    def setblocking(self, flag):
        self._timeout = None if flag else 0

    def connect(self, addr):
        StandInSocket.stats["connects"] += 1

    def close(self):
        pass

    def sendall(self, data):
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
                data = rest
                if not n:
                    self._answer()
                continue
            take = data[: self._left]
            data = data[self._left :]
            StandInSocket.stats["body_bytes"] += len(take)
            self._left -= len(take)
            if self._left == 0:
                self._answer()

    def write(self, data):
        self.sendall(data)
        return len(data)

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
        out, self._out = self._out[:n], self._out[n:]
        return out

    def read(self, n=-1):
        return self.recv(n if n >= 0 else len(self._out))


class StandInModule:
    SOCK_STREAM = 1
    AF_INET = 2

    @staticmethod
    def getaddrinfo(host, port, af=0, kind=0):
        return [(2, 1, 0, "", ("10.0.0.1", port))]

    socket = StandInSocket


sys.modules["socket"] = StandInModule
gc.collect()
t0 = time.ticks_ms()
import blynklog  # noqa: E402

log = blynklog.Logger(SPEC["cfg"])  # noqa: F821  (SPEC comes from the host)
t1 = time.ticks_ms()
log.clock.set_time_ms(SPEC["now"], "user")  # noqa: F821
pending = log.stats()["pending"]
gc.collect()
t2 = time.ticks_ms()
report = log.sync()
sync_ms = time.ticks_diff(time.ticks_ms(), t2)
log.close()
s = StandInSocket.stats
print(
    "RESULT "
    + json.dumps(
        {
            "logger_ms": time.ticks_diff(t1, t0),
            "sync_ms": sync_ms,
            "pending_before": pending,
            "sent": report.get("sent"),
            "pending_after": report.get("pending"),
            "requests": s["requests"],
            "body_bytes": s["body_bytes"],
            "report_bytes_sent": report.get("bytes_sent"),
            "report_requests": report.get("requests"),
            "stopped": report.get("stopped"),
            "last_error": report.get("last_error"),
        }
    )
)
