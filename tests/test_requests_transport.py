# The stock-`requests` transport: refuses https unless insecure, uploads through the same clients,
# bounded answers. On the unix port it runs on the real micropython-lib module (skipped when the
# port lacks it); on CPython a small stand-in with that module's interface is put in sys.modules.
import sys
import time

import emu
from blynklog.blynk import BAD_BATCH, OK, RETRY, DeviceClient
from support import IS_MICROPYTHON, raises, skip

STREAM = {"id": 1, "pin": "V1", "type": "double", "decimals": 2}


class _StandInResponse:
    def __init__(self, resp, conn):
        self.status_code = resp.status
        self.reason = resp.reason
        self.headers = dict(resp.getheaders())
        self.raw = resp
        self._conn = conn

    def close(self):
        self._conn.close()


class _StandIn:
    # The slice of micropython-lib's requests the transport uses, on http.client; like the
    # original it never verifies certificates and follows redirects itself, replaying `data`.
    @staticmethod
    def request(method, url, data=None, json=None, headers=None, stream=None, auth=None, timeout=None):
        import http.client
        import ssl
        import urllib.parse

        u = urllib.parse.urlsplit(url)
        if u.scheme == "https":
            conn = http.client.HTTPSConnection(
                u.hostname, u.port, timeout=timeout, context=ssl._create_unverified_context()
            )
        else:
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
        body = data if data is None or isinstance(data, bytes) else b"".join(c for c in data)
        try:
            conn.request(method, u.path + ("?" + u.query if u.query else ""), body=body, headers=headers or {})
            resp = conn.getresponse()
        except OSError:
            conn.close()
            raise
        if resp.status in (301, 302, 303, 307, 308) and resp.getheader("Location"):
            conn.close()
            return _StandIn.request(method, resp.getheader("Location"), data, None, headers, timeout=timeout)
        return _StandInResponse(resp, conn)


def _module():
    # The requests_transport module with a `requests` module importable, or a visible skip.
    emu.require()
    if IS_MICROPYTHON:
        try:
            import requests  # noqa: F401
        except ImportError:
            skip("this unix port has no `requests` module")
    else:
        sys.modules["requests"] = _StandIn
    from blynklog import requests_transport

    return requests_transport


def _done():
    if not IS_MICROPYTHON and sys.modules.get("requests") is _StandIn:
        del sys.modules["requests"]


def pts(n, back_ms=600000):
    first = int(time.time()) * 1000 - back_ms

    def points():
        return ((first + i, i * 0.5) for i in range(n))

    return points


def test_it_refuses_https_without_insecure():
    rt = _module()
    try:
        raises(ValueError, rt.RequestsConnection, emu.url())
    finally:
        _done()


def test_it_uploads_a_batch_over_plain_http():
    rt = _module()
    try:
        emu.reset()
        c = DeviceClient(rt.RequestsConnection(emu.http_url()), "test-device-token")
        a = c.upload(STREAM, pts(300), 300)
        assert (a.kind, a.status) == (OK, 200)
        assert len(emu.points(1, 1)) == 300
        assert c.conn.requests == 1 and c.conn.date
    finally:
        _done()


def test_it_runs_over_https_only_when_insecure():
    rt = _module()
    try:
        c = rt.RequestsConnection(emu.url(), insecure=True)
        assert c.request("GET", "/_emu/stats").status == 200
        assert c.handshakes == 1
    finally:
        _done()


def test_its_answers_are_bounded():
    rt = _module()
    try:
        emu.reset()
        emu.inject("status", status=400, body={"error": {"message": "z" * 40000}})
        c = DeviceClient(rt.RequestsConnection(emu.http_url()), "test-device-token")
        a = c.upload(STREAM, pts(3), 3)
        assert a.kind == BAD_BATCH and len(a.message) <= 120
    finally:
        _done()


def test_a_redirect_with_a_streamed_body_is_a_retry_not_a_hang():
    rt = _module()
    try:
        emu.reset()
        emu.inject("redirect", location=emu.http_url().replace("127.0.0.1", "localhost"))
        c = DeviceClient(rt.RequestsConnection(emu.http_url(), timeout_ms=5000), "test-device-token")
        a = c.upload(STREAM, pts(3), 3)
        assert a.kind == RETRY and "replayed" in a.message
        assert emu.points(1, 1) == []
    finally:
        _done()
