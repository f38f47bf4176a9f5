# Test helper: the misbehaving server (tools/hostile_server.py), the same on CPython and on the
# MicroPython unix port. tests/conftest.py starts it and puts its addresses in the environment:
#   BLYNKLOG_HOSTILE_URL      http://127.0.0.1:PORT
#   BLYNKLOG_HOSTILE_TLS_URL  https://127.0.0.1:PORT (certificate for 127.0.0.1 and localhost)
#   BLYNKLOG_HOSTILE_CA       the CA (DER) that certificate verifies against
# A test that needs it calls hostile.require() first: it skips when none is running.
import json
import os
import socket

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


def open_fds():
    # Open file descriptors of this process (CPython on Linux), or None when unknown.
    try:
        return len(os.listdir("/proc/self/fd"))
    except (OSError, AttributeError):
        return None
