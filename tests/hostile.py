# Test helper: the misbehaving server (tools/hostile_server.py), the same on CPython and on the
# MicroPython unix port. tests/conftest.py starts it and puts its addresses in the environment:
#   BLYNKLOG_HOSTILE_URL      http://127.0.0.1:PORT
#   BLYNKLOG_HOSTILE_TLS_URL  https://127.0.0.1:PORT (certificate for 127.0.0.1 and localhost)
#   BLYNKLOG_HOSTILE_CA       the CA (DER) that certificate verifies against
# A test that needs it calls hostile.require() first: it skips when none is running.
import json
import os
import socket
import time

_TIMEOUT_S = 10


def _env(name):
    v = os.getenv(name)
    return v if v else None


def url():
    return _env("BLYNKLOG_HOSTILE_URL")


def tls_url():
    return _env("BLYNKLOG_HOSTILE_TLS_URL")


def ca_path():
    return _env("BLYNKLOG_HOSTILE_CA")


def require(tls=False):
    if url() is None or (tls and (tls_url() is None or ca_path() is None)):
        from support import skip

        skip("no hostile server (BLYNKLOG_HOSTILE_URL%s unset)" % (" or _TLS_URL/_CA" if tls else ""))


def _control(action, query=""):
    host, _, port = url().split("://", 1)[1].rpartition(":")
    port = int(port)
    head = "GET /_hostile/%s%s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n\r\n" % (
        action,
        ("?" + query) if query else "",
        host,
        port,
    )
    s = socket.socket()
    try:
        s.settimeout(_TIMEOUT_S)
        s.connect(socket.getaddrinfo(host, port)[0][-1])
        s.send(head.encode())
        raw = b""
        for _ in range(10000):
            c = s.recv(4096)
            if not c:
                break
            raw += c
            i = raw.find(b"\r\n\r\n")
            if i >= 0:
                n = 0
                for line in raw[:i].split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        n = int(line.split(b":")[1])
                if len(raw) >= i + 4 + n:
                    return json.loads(raw[i + 4 : i + 4 + n])
    finally:
        s.close()
    raise OSError("hostile server: no answer")


def set(name, behaviour):
    # Requests named `name` (device token or client id) meet `behaviour` from now on.
    _control("set", "name=%s&behaviour=%s" % (name, behaviour))


def stats():
    return _control("stats")


def points(name):
    return [tuple(p) for p in _control("points", "name=" + name)["points"]]


def after_the_answer(conn, chunks, limit_s=10):
    # A request body's chunks (for conn, a blynklog.http.Connection), each one after the first
    # held back while nothing of the server's answer is readable (at most limit_s in all), for the
    # early-413 and early-ok cases: otherwise a loaded machine's kernel buffers can take the whole
    # body before the server's thread answers, and the answer then comes after the body, as a real
    # one would. Not only the second chunk: the socket can be readable with no answer (a TLS 1.3
    # session ticket, which the client's check between chunks consumes), so each chunk waits again.
    from blynklog.http import _ready

    waits = int(limit_s * 100)
    first = True
    for chunk in chunks:
        while not first and waits > 0 and conn._poll is not None and not _ready(conn._poll):
            waits -= 1
            time.sleep(0.01)
        first = False
        yield chunk


def hold_large_bodies(log, over=16384):
    # The Logger's connections send a body over `over` bytes (what the early behaviours leave
    # unread) through after_the_answer().
    real_client = log._client

    def client(timeout_ms):
        c = real_client(timeout_ms)
        conn = c.conn
        real = conn.request_gen

        def request_gen(method, path, headers=None, body=None, keep=None):
            if isinstance(body, tuple) and body[0] > over:
                body = (body[0], after_the_answer(conn, body[1]))
            return real(method, path, headers, body, keep)

        conn.request_gen = request_gen
        return c

    log._client = client
    return log


def _served_sockets():
    # The inodes of this process's network namespace's TCP sockets whose local port is a listening
    # one: the server side of a connection (a client's own port is never a listening port).
    rows = []
    for name in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        try:
            with open(name) as f:
                rows += [line.split() for line in f.read().split("\n")[1:]]
        except OSError:
            pass
    rows = [r for r in rows if len(r) > 9]
    listening = [r[1].rsplit(":", 1)[1] for r in rows if r[3] == "0A"]
    return [r[9] for r in rows if r[3] != "0A" and r[1].rsplit(":", 1)[1] in listening]


def open_fds():
    # Open file descriptors of this process (CPython on Linux), or None when unknown. The server
    # side of connections to a server in this process is left out: under CPython the Blynk
    # emulator's threads hold theirs until they get to close them, on their own schedule (a
    # "slow" fault's answer, 3 s on, after its test ended), which is not the client's doing.
    try:
        fds = os.listdir("/proc/self/fd")
    except (OSError, AttributeError):
        return None
    readlink = getattr(os, "readlink", None)
    if readlink is None:  # MicroPython's unix port: no server runs in this process
        return len(fds)
    served = _served_sockets()
    n = 0
    for fd in fds:
        try:
            target = readlink("/proc/self/fd/" + fd)
        except OSError:
            target = ""  # the listing's own, closed by now
        if not (target.startswith("socket:[") and target[8:-1] in served):
            n += 1
    return n
