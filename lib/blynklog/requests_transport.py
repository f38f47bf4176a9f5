# blynklog.requests_transport: the same request() interface as http.Connection, built on the stock
# `requests` module (micropython-lib's, also known as urequests), for users who want it.
# It cannot verify certificates (that module always uses CERT_NONE and takes no context), so it
# refuses to run over https unless insecure=True, and then warns loudly once. It opens one connection
# per request (no keep-alive: a TLS handshake per batch), and a 308 cannot be followed with a
# streamed body: the module replays the exhausted body, which this transport turns into an OSError
# (the client then reports RETRY); configure the right region instead.
# Answers are bounded like Connection's: at most _KEEP body bytes (or the request's keep) are read,
# the rest is dropped with the socket (resp.cut says so where the length says so). RAM: per request the module's own socket and headers dict, and the kept body.
# Blocking only: request_gen() does the whole request in one step, so Logger.sync_async() over this
# transport stops the other tasks for each request. Not safe to share between tasks.
from .compat import const
from .http import Response, base_url, split_url

_KEEP = const(1024)
_KEPT_HEADERS = ("location", "retry-after", "date", "content-type", "content-length", "connection")

_warned = []


class _Body:
    # A streamed body the module writes chunk by chunk (no __len__: it must not try len()).
    def __init__(self, chunks, counter):
        self._it = iter(chunks)
        self._used = False
        self._counter = counter

    def __iter__(self):
        if self._used:
            raise OSError("body cannot be replayed (redirect)")
        self._used = True
        return self

    def __next__(self):
        chunk = next(self._it)
        self._counter.bytes_sent += len(chunk)
        return bytes(chunk)


class RequestsConnection:
    def __init__(self, url, ca_ders=None, insecure=False, timeout_ms=10000):
        self.scheme, self.host, self.port, self.prefix = split_url(url)
        if self.scheme == "https" and not insecure:
            raise ValueError("requests cannot verify TLS: use http:// or insecure=True")
        import requests  # noqa: F401  (ImportError here when the module is not installed)

        self.url = url
        self.ca_ders = list(ca_ders or ())
        self.insecure = bool(insecure)
        self.timeout_ms = timeout_ms
        self.handshakes = 0
        self.requests = 0
        self.bytes_sent = 0
        self.bytes_received = 0
        self.date = None
        if self.scheme == "https" and not _warned:
            _warned.append(1)
            print("blynklog: WARNING: the requests transport does not verify TLS certificates")

    def moved(self, url):
        return RequestsConnection(base_url(url), self.ca_ders, self.insecure, self.timeout_ms)

    def close(self):
        pass  # every request closes its own socket

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def request_gen(self, method, path, headers=None, body=None, keep=None):
        # request() as http.Connection's generator of I/O ops, with none to yield: this transport
        # blocks, under an asyncio driver too (sync_async() then stops the loop for each request)
        return self.request(method, path, headers, body, keep)
        yield  # a generator (never reached; MicroPython's compiler drops an `if False: yield`)

    def request(self, method, path, headers=None, body=None, keep=None):
        import requests

        h = {}
        if headers:
            for k in headers:
                h[k] = headers[k]
        if body is None:
            data = None
            if method in ("POST", "PUT", "PATCH"):
                h["Content-Length"] = "0"
        elif isinstance(body, (bytes, bytearray, memoryview)):
            data = bytes(body)
            h["Content-Length"] = str(len(data))
            self.bytes_sent += len(data)
        else:
            length, chunks = body
            data = _Body(chunks, self)
            h["Content-Length"] = str(length)
        base = "%s://%s:%d%s" % (
            self.scheme,
            self.host if ":" not in self.host else "[" + self.host + "]",
            self.port,
            self.prefix,
        )
        try:
            r = requests.request(method, base + path, data=data, headers=h, timeout=self.timeout_ms / 1000)
        except OSError:
            raise
        except (ValueError, NotImplementedError, TypeError, IndexError) as e:
            raise ValueError("bad answer: %s" % e)
        if self.scheme == "https":
            self.handshakes += 1
        self.requests += 1
        try:
            status = r.status_code
            kept = {}
            got = getattr(r, "headers", None) or {}
            for k in got:
                name = k.lower() if isinstance(k, str) else k.decode().lower()
                if name in _KEPT_HEADERS:
                    v = got[k]
                    kept[name] = (v if isinstance(v, str) else v.decode()).strip()
            raw = r.raw
            body_bytes = b""
            keep = keep or _KEEP
            length = None
            if method != "HEAD" and status not in (204, 304) and raw is not None:
                length = kept.get("content-length")
                length = keep if length is None else int(length)
                if length > 0:
                    body_bytes = raw.read(min(keep, length)) or b""
        finally:
            r.close()
        self.bytes_received += len(body_bytes)
        if "date" in kept:
            self.date = kept["date"]
        resp = Response(status, getattr(r, "reason", b"") or "", kept, body_bytes)
        if length is not None and length > keep:
            resp.cut = keep
        return resp
