# Test helper: the local Blynk emulator's /_emu/ controls over raw-socket HTTP, the same on CPython
# and on the MicroPython unix port. The emulator's addresses come from the environment, set by
# tests/conftest.py (CPython) and tests/test_unix_port.py (for the micropython processes):
#   BLYNKLOG_EMU_URL        https://127.0.0.1:PORT (the TLS listener)
#   BLYNKLOG_EMU_HTTP_URL   http://127.0.0.1:PORT (plain HTTP, same state; the controls go here)
#   BLYNKLOG_EMU_CA         the CA certificate (DER) the TLS listener's chain verifies against
#   BLYNKLOG_EMU_OTHER_CA   an unrelated CA (DER), for "wrong CA" tests
#   BLYNKLOG_EMU_WRONG_NAME_URL  a TLS listener whose certificate names "wrong.example" only
# A test that needs the emulator calls emu.require() first: it skips when none is running.
import json
import os
import socket

_TIMEOUT_S = 10


def _env(name):
    v = os.getenv(name)
    return v if v else None


def url():
    return _env("BLYNKLOG_EMU_URL")


def http_url():
    return _env("BLYNKLOG_EMU_HTTP_URL")


def ca_path():
    return _env("BLYNKLOG_EMU_CA")


def other_ca_path():
    return _env("BLYNKLOG_EMU_OTHER_CA")


def wrong_name_url():
    return _env("BLYNKLOG_EMU_WRONG_NAME_URL")


def available():
    return http_url() is not None


def require():
    if not available():
        from support import skip

        skip("no local Blynk emulator (BLYNKLOG_EMU_HTTP_URL unset)")


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def _split(u):
    # "http://127.0.0.1:8080" -> ("127.0.0.1", 8080)
    rest = u.split("://", 1)[1].split("/", 1)[0]
    host, _, port = rest.rpartition(":")
    return host, int(port)


def request(method, path, body=None):
    # One HTTP/1.1 request on a fresh connection (Connection: close) to the plain-HTTP listener.
    # Returns (status, parsed JSON or None).
    status, payload = request_raw(method, path, body)
    return status, (json.loads(payload) if payload else None)


def request_raw(method, path, body=None):
    # request() with the answer's body as bytes: (status, body)
    base = http_url()
    if base is None:
        raise OSError("no emulator: BLYNKLOG_EMU_HTTP_URL is unset")
    host, port = _split(base)
    data = b"" if body is None else json.dumps(body).encode()
    head = (
        "%s %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
        % (method, path, host, port, len(data))
    )
    s = socket.socket()
    try:
        s.settimeout(_TIMEOUT_S)
        s.connect(socket.getaddrinfo(host, port)[0][-1])
        _send_all(s, head.encode() + data)
        chunks = []
        for _ in range(100000):
            c = s.recv(4096)
            if not c:
                break
            chunks.append(c)
    finally:
        s.close()
    raw = b"".join(chunks)
    head_end = raw.find(b"\r\n\r\n")
    if head_end < 0:
        raise OSError("emulator: no HTTP answer")
    return int(raw[:head_end].split(b" ", 2)[1]), raw[head_end + 4 :]


def _send_all(s, data):
    mv = memoryview(data)
    while len(mv):
        n = s.send(mv)
        mv = mv[n:]


def _ok(method, path, body=None):
    status, answer = request(method, path, body)
    if status != 200:
        raise OSError("emulator %s %s: %d %s" % (method, path, status, answer))
    return answer


def reset():
    _ok("POST", "/_emu/reset", {})


def inject(kind, count=1, **params):
    params["kind"] = kind
    params["count"] = count
    _ok("POST", "/_emu/inject", params)


def points(device=1, stream=1):
    # [(ts, value), ...] in arrival order
    answer = _ok("GET", "/_emu/points?device=%d&stream=%d" % (device, stream))
    return [tuple(p) for p in answer["points"]]


def stats():
    return _ok("GET", "/_emu/stats")


def requests():
    return _ok("GET", "/_emu/requests")["requests"]


def config(**kw):
    # With settings: changes them. Without: returns the current ones (dict).
    if not kw:
        return _ok("GET", "/_emu/config")
    _ok("POST", "/_emu/config", kw)


def add_stream(device, stream, pin, type="double", min=None, max=None, setting=False):
    # min/max: the bounds update clamps to (int and double streams); setting: editable on the page
    body = {"device": device, "stream": stream, "pin": pin, "type": type, "setting": setting}
    if min is not None:
        body["min"] = min
    if max is not None:
        body["max"] = max
    _ok("POST", "/_emu/stream", body)


def set_value(device, pin, value):
    # Writes a datastream's current value as the app would (GET /external/api/update): checked
    # against its type, clamped to min/max. Returns the value stored.
    return _ok("POST", "/_emu/value", {"device": device, "pin": pin, "value": value})["value"]


def values(device=1):
    # [{"stream", "pin", "ts", "value"}, ...]: the device's current values
    return _ok("GET", "/_emu/values?device=%d" % device)["values"]


def add_event_code(device, code):
    _ok("POST", "/_emu/event_code", {"device": device, "code": code})


def events(device=1):
    # [{"device", "ts", "code", "description"}, ...] in arrival order
    return _ok("GET", "/_emu/events?device=%d" % device)["events"]


def expire_tokens():
    _ok("POST", "/_emu/expire_tokens", {})


def add_device(device, streams=0):
    # a Platform API device (no token) with double datastreams 1..streams on V1..; kept until reset
    _ok("POST", "/_emu/device", {"device": device, "streams": streams})


def remove_device(device):
    # deletes the device: its imports answer 404 "Device with identifier ... is not found"
    _ok("POST", "/_emu/device", {"device": device, "remove": True})


def quota_used(device):
    # points the emulator's per-device daily quota counted today for the device
    return _ok("GET", "/_emu/quota?device=%d" % device)["used"]
