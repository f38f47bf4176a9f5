#!/usr/bin/env python3
"""A misbehaving HTTP (and HTTPS) server on loopback: what a broken proxy or middlebox may answer.

Each connection picks its behaviour from the request it reads first: the Device API's `token=`
query value, the Platform API's client id (HTTP Basic), or a path `/b/<behaviour>/...`. A name that
was mapped with the `/_hostile/set` control takes the mapped behaviour; any other name is itself
the behaviour (so a config with `"token": "drip"` meets the slow drip). Unknown names act as "ok".

Behaviours (a trailing `-N` on a name seeds the random ones: `random-7`):
    ok               a well-behaved Blynk: 200 on /external/api/batch/update, OAuth2 token, 204 import
    garbage-status   "FOO 200 BAR" as status line       random       random bytes, then close
    no-status        a blank line, then close           close        close without a byte
    reset            RST at once                        header-flood endless header lines, no blank line
    long-header      one header line without end        huge-length  Content-Length: 10**15, 10 bytes, close
    length-lie       Content-Length 500, 20 bytes, close  neg-length Content-Length: -1
    reset-mid-body   Content-Length 400, 40 bytes, then RST
    chunk-lie        chunk size larger than the data, close   chunk-negative  chunk size "-10"
    chunk-garbage    chunk size "zz"                   chunk-endless  endless 1-byte chunks
    drip             a 200 head whose headers never end, one byte a second (drip-0.2: every 0.2 s)
    bad-json-400 / bad-json-404 / bad-json-500 / bad-json-401 / bad-json-429   an invalid JSON body
    odd-json-400     valid JSON of the wrong shape      redirect-self  308 to this same server
    redirect-garbage 308 to "ftp://\\x01"                retry-garbage  429, Retry-After: -99999999999
    continue-flood   endless "100 Continue" answers     http10         HTTP/1.0 200, body to the close
    token-bad-json   OAuth2 answers 200 with a body that is not JSON (ok otherwise)
    portal-get       a captive portal's HTML page (200) to every GET, ok otherwise
    list-get         a 200 with the JSON [] to every GET (no Device API settings read's shape), ok
                     otherwise
    deep-get         a 200 with 1024 bytes of "[" to every GET (JSON nested past CPython's recursion
                     limit), ok otherwise
    token-odd        OAuth2 answers 200 with expires_in -5 and access_token 7 (ok otherwise)
    tail-junk        ok, but every answer is followed by stray bytes in the same write (a body longer
                     than its Content-Length): they must not be read as the next answer
    204-body         ok, but the Platform import's 204 carries a body (which a 204 cannot have)
    early-ok         a body over 16384 bytes is not read: its success status (200, or 204 for the
                     Platform import) goes out as soon as the request head is in, and the connection
                     closes under the client's send; nothing is recorded (smaller bodies are ok)
    long-fields      ok, but every answer carries a CDN's long headers: a 2 KB policy, a 3 KB
                     cookie and 60 short lines (a valid answer: what it acknowledges is done)
    early-413        a body over 16384 bytes is not read: a 413 (a proxy's HTML page) goes out as
                     soon as the request head is in, and the connection closes under the client's
                     send; smaller bodies are ok

Every connection ends within `max_conn_s` (default 30 s) whatever it does; the endless behaviours
also end as soon as the client goes away.

Controls (plain JSON over HTTP, on every listener):
    GET /_hostile/set?name=K&behaviour=B    requests named K get behaviour B from now on
    GET /_hostile/stats                     {"accepted", "open", "points": {name: n}, "requests"}
    GET /_hostile/points?name=K             {"points": [[ts, value], ...]} acknowledged for name K
    GET /_hostile/reset                     forgets mappings and points

Python API:  srv = HostileServer(tls=False).start(); srv.url; srv.set("k1", "drip"); srv.stop()
CLI: python tools/hostile_server.py [--port N] [--tls-port N] [--no-tls] prints one JSON line
{"url": ..., "tls_url": ..., "ca": ...} when ready and serves until SIGTERM/SIGINT or stdin closes.
"""

import argparse
import base64
import json
import os
import random
import signal
import socket
import ssl
import struct
import sys
import tempfile
import threading
import time
import urllib.parse

_MAX_HEAD = 16384
_MAX_BODY = 4 * 1024 * 1024
_EARLY_LIMIT = 16384  # early-413: the largest body read


class _Gone(Exception):
    """The client went away (or the connection's time is up)."""


class _Conn:
    def __init__(self, sock, deadline):
        self.sock = sock
        self.deadline = deadline
        self.buf = b""

    def _check(self):
        if time.monotonic() > self.deadline:
            raise _Gone()

    def _more(self, size):
        # One read into buf (nothing on a socket timeout); _Gone when the peer or the deadline is.
        self._check()
        try:
            data = self.sock.recv(size)
        except socket.timeout:
            return
        except OSError:
            raise _Gone()
        if not data:
            raise _Gone()
        self.buf += data

    def recv_until(self, marker, limit):
        while marker not in self.buf:
            if len(self.buf) > limit:
                raise _Gone()
            self._more(4096)
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def recv_exact(self, n):
        while len(self.buf) < n:
            self._more(65536)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send(self, data):
        self._check()
        try:
            self.sock.sendall(data)
        except OSError:
            raise _Gone()

    def client_gone(self):
        # True when the client closed its side (readable with EOF) or reset.
        import select

        try:
            r, _, _ = select.select([self.sock], [], [], 0)
            if not r:
                return False
            return not self.sock.recv(4096, socket.MSG_PEEK)
        except (OSError, ValueError):
            return True

    def sleep(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self._check()
            if self.client_gone():
                raise _Gone()
            time.sleep(min(0.05, max(0.0, end - time.monotonic())))

    def reset(self):
        # Close with RST (SO_LINGER on, zero time) rather than FIN.
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass


class _Request:
    def __init__(self, method, target, headers, body):
        self.method = method
        self.target = target
        self.path, _, self.query_string = target.partition("?")
        self.query = dict(urllib.parse.parse_qsl(self.query_string, keep_blank_values=True))
        self.headers = headers
        self.body = body

    def name(self):
        # The name that selects the behaviour: /b/<name>/..., token=..., or the Basic client id.
        if self.path.startswith("/b/"):
            return self.path.split("/")[2]
        if "token" in self.query:
            return self.query["token"]
        auth = self.headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            try:
                return base64.b64decode(auth[6:].strip()).decode().split(":", 1)[0]
            except (ValueError, UnicodeError):
                return ""
        if auth.lower().startswith("bearer "):
            return auth[7:].strip().split("~", 1)[0]
        return ""


def _answer(status, body=b"", headers=(), reason="X"):
    if isinstance(body, str):
        body = body.encode()
    head = ["HTTP/1.1 %d %s" % (status, reason)]
    head += list(headers)
    head.append("Content-Length: %d" % len(body))
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class HostileServer:
    def __init__(self, tls=False, host="127.0.0.1", port=0, tls_port=0, cert_dir=None, max_conn_s=30.0):
        if host not in ("127.0.0.1", "localhost"):
            raise ValueError("loopback only")
        self.host = host
        self.port = port
        self.tls_port = tls_port
        self.want_tls = tls
        self.cert_dir = cert_dir
        self.max_conn_s = max_conn_s
        self.url = self.tls_url = self.ca_der_path = None
        self._lock = threading.Lock()
        self._map = {}
        self._points = {}
        self.accepted = 0
        self.open = 0
        self.requests = 0
        self._listeners = []
        self._threads = []
        self._stop = threading.Event()

    # ---- controls
    def set(self, name, behaviour):
        with self._lock:
            self._map[name] = behaviour

    def points(self, name):
        with self._lock:
            return list(self._points.get(name, ()))

    def reset(self):
        with self._lock:
            self._map.clear()
            self._points.clear()

    def stats(self):
        with self._lock:
            return {
                "accepted": self.accepted,
                "open": self.open,
                "requests": self.requests,
                "points": {k: len(v) for k, v in self._points.items()},
            }

    # ---- life cycle
    def start(self):
        plain = self._listen(self.port)
        self.url = "http://%s:%d" % (self.host, plain.getsockname()[1])
        self._spawn(self._accept_loop, plain, None)
        if self.want_tls:
            if self.cert_dir is None:
                self.cert_dir = tempfile.mkdtemp(prefix="blynklog-hostile-")
            here = os.path.dirname(os.path.abspath(__file__))
            if here not in sys.path:
                sys.path.insert(0, here)
            from blynk_server import make_certs

            make_certs(self.cert_dir)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(os.path.join(self.cert_dir, "server.pem"), os.path.join(self.cert_dir, "server.key"))
            self.ca_der_path = os.path.join(self.cert_dir, "ca.der")
            secure = self._listen(self.tls_port)
            self.tls_url = "https://%s:%d" % (self.host, secure.getsockname()[1])
            self._spawn(self._accept_loop, secure, ctx)
        return self

    def stop(self):
        self._stop.set()
        for s in self._listeners:
            try:
                s.close()
            except OSError:
                pass
        for t in list(self._threads):
            t.join(timeout=2)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _listen(self, port):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((self.host, port))
        s.listen(64)
        s.settimeout(0.2)
        self._listeners.append(s)
        return s

    def _spawn(self, func, *args):
        t = threading.Thread(target=func, args=args, daemon=True)
        self._threads.append(t)
        t.start()

    def _accept_loop(self, listener, ctx):
        while not self._stop.is_set():
            try:
                sock, _ = listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                self.accepted += 1
                self.open += 1
            t = threading.Thread(target=self._serve, args=(sock, ctx), daemon=True)
            t.start()

    def _serve(self, sock, ctx):
        deadline = time.monotonic() + self.max_conn_s
        conn = None
        try:
            sock.settimeout(0.5)
            if ctx is not None:
                sock.settimeout(5)
                try:
                    sock = ctx.wrap_socket(sock, server_side=True)
                except (OSError, ssl.SSLError):
                    return
                sock.settimeout(0.5)
            conn = _Conn(sock, deadline)
            for _ in range(1000):
                if self._stop.is_set():
                    return
                req = self._read_request(conn)
                with self._lock:
                    self.requests += 1
                if not self._handle(conn, req):
                    return
        except _Gone:
            pass
        except Exception as e:  # a bug here must not kill the server
            print("hostile_server: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        finally:
            try:
                sock.close()
            except OSError:
                pass
            with self._lock:
                self.open -= 1

    def _read_request(self, conn):
        # The head, then the body, unless the behaviour answers before the body (early-413).
        head = conn.recv_until(b"\r\n\r\n", _MAX_HEAD).decode("latin-1")
        lines = head.split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3:
            raise _Gone()
        headers = {}
        for line in lines[1:]:
            k, sep, v = line.partition(":")
            if sep:
                headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0") or 0)
        if n < 0 or n > _MAX_BODY:
            raise _Gone()
        req = _Request(parts[0], parts[1], headers, None)
        if n > _EARLY_LIMIT and self._behaviour(req)[1] in ("early-413", "early-ok"):
            return req  # body None: answered before it is read
        req.body = conn.recv_exact(n) if n else b""
        return req

    # ---- behaviours
    def _behaviour(self, req):
        name = req.name()
        with self._lock:
            b = self._map.get(name, name)
        return name, b

    def _handle(self, conn, req):
        # Returns True to read the next request on the same connection.
        if req.path.startswith("/_hostile/"):
            conn.send(self._control(req))
            return True
        name, b = self._behaviour(req)
        base, _, arg = b.partition("-") if b.startswith(("random-", "drip-")) else (b, "", "")
        rnd = random.Random(arg or name)
        if req.body is None:  # early-413, early-ok, body unread: answer, then close under the client's send
            try:
                conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # the answer leaves now
            except OSError:
                pass
            if b == "early-ok":
                ok = 204 if req.path.endswith("/import/batch") else 200
                conn.send(_answer(ok, b"", ["Connection: close"], "OK"))
            else:
                conn.send(
                    _answer(
                        413,
                        "<html><body>413 Request Entity Too Large</body></html>",
                        ["Content-Type: text/html", "Connection: close"],
                        "Request Entity Too Large",
                    )
                )
            try:
                conn.sock.shutdown(socket.SHUT_WR)  # FIN after the answer...
            except OSError:
                pass
            return False  # ...then the close: with the body unread, an RST under the client's send
        if b == "tail-junk":
            conn.send(self._ok(name, req) + b"\r\nstray bytes\r\n")
            return True
        if b == "long-fields":
            ans = self._ok(name, req)
            extra = b"Content-Security-Policy: " + b"default-src 'self'; " * 100 + b"\r\n"
            extra += b"Set-Cookie: lb=" + b"c" * 3000 + b"; Path=/; Secure\r\n"
            extra += b"".join(b"X-Edge-%d: hit\r\n" % i for i in range(60))
            i = ans.index(b"\r\n") + 2
            conn.send(ans[:i] + extra + ans[i:])
            return True
        if b == "204-body":
            ans = self._ok(name, req)
            if ans.startswith(b"HTTP/1.1 204 "):
                ans = ans.replace(b"Content-Length: 0\r\n\r\n", b"Content-Length: 12\r\n\r\n{\"ok\": true}")
            conn.send(ans)
            return True
        if (
            base == "ok"
            or b in ("early-413", "early-ok")
            or (b.startswith("token-") and not req.path.startswith("/oauth2/"))
        ):
            conn.send(self._ok(name, req))
            return True
        if b == "portal-get":
            # a captive portal's page as the answer to every GET (a settings read), ok otherwise
            if req.method == "GET":
                conn.send(_answer(200, b"<html><body>Sign in</body></html>", ["Content-Type: text/html"], "OK"))
            else:
                conn.send(self._ok(name, req))
            return True
        if b in ("list-get", "deep-get"):
            if req.method == "GET":
                body = b"[]" if b == "list-get" else b"[" * 1024
                conn.send(_answer(200, body, ["Content-Type: application/json"], "OK"))
            else:
                conn.send(self._ok(name, req))
            return True
        if b == "token-bad-json":
            conn.send(_answer(200, '{"access_token": "x', ["Content-Type: application/json"]))
            return True
        if b == "token-odd":
            conn.send(_answer(200, '{"access_token": 7, "expires_in": -5}', ["Content-Type: application/json"]))
            return True
        if base == "garbage-status":
            conn.send(b"FOO 200 BAR\r\nContent-Length: 0\r\n\r\n")
        elif base == "random":
            conn.send(bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(1, 3000))))
        elif base == "no-status":
            conn.send(b"\r\n")
        elif base == "close":
            pass
        elif base == "reset":
            conn.reset()
        elif base == "header-flood":
            conn.send(b"HTTP/1.1 200 OK\r\n")
            for i in range(10**7):
                conn.send(b"X-Flood-%d: %s\r\n" % (i, b"a" * 40))
        elif base == "long-header":
            conn.send(b"HTTP/1.1 200 OK\r\nX-Long: ")
            for _ in range(10**7):
                conn.send(b"b" * 1024)
        elif base == "huge-length":
            conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000000000\r\n\r\n0123456789")
        elif base == "length-lie":
            conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n" + b"x" * 20)
        elif base == "neg-length":
            conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n")
            conn.sleep(2)
        elif base == "reset-mid-body":
            conn.send(b"HTTP/1.1 400 Bad\r\nContent-Length: 400\r\n\r\n" + b'{"error":{"message":"' + b"y" * 20)
            time.sleep(0.05)
            conn.reset()
        elif base == "chunk-lie":
            conn.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n100\r\n" + b"z" * 30)
        elif base == "chunk-negative":
            conn.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            for _ in range(10**6):
                conn.send(b"-10\r\n\r\n")
        elif base == "chunk-garbage":
            conn.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n")
            conn.sleep(2)
        elif base == "chunk-endless":
            conn.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            for _ in range(10**7):
                conn.send(b"1\r\nq\r\n")
        elif base == "drip":
            step = float(arg) if arg else 1.0
            data = _answer(200, b"", ["Content-Type: application/json"], reason="OK")
            data = data[:-4] + b"\r\n" + b"X-Pad: " + b"p" * 100000
            for i in range(len(data)):
                conn.send(data[i : i + 1])
                conn.sleep(step)
        elif base.startswith("bad-json-"):
            status = int(base.rsplit("-", 1)[1])
            hdrs = ["Content-Type: application/json"]
            if status == 429:
                hdrs.append("Retry-After: 1")
            conn.send(_answer(status, b'{"error": {"message": "unterminated \xff\xfe', hdrs))
            return True
        elif base == "odd-json-400":
            conn.send(_answer(400, b'{"error": [1, {"message": {"deep": null}}]}', ["Content-Type: application/json"]))
            return True
        elif base == "redirect-self":
            host = req.headers.get("host", "127.0.0.1")
            scheme = "https" if hasattr(conn.sock, "cipher") else "http"
            conn.send(_answer(308, b"", ["Location: %s://%s%s" % (scheme, host, req.target)]))
            return True
        elif base == "redirect-garbage":
            conn.send(_answer(308, b"", ["Location: ftp://\x01\x02:99999999/"]))
            return True
        elif base == "retry-garbage":
            conn.send(_answer(429, b"{}", ["Retry-After: -99999999999", "Content-Type: application/json"]))
            return True
        elif base == "continue-flood":
            for _ in range(10**6):
                conn.send(b"HTTP/1.1 100 Continue\r\n\r\n")
        elif base == "http10":
            conn.send(b"HTTP/1.0 200 OK\r\n\r\n" + b"w" * 100)
        else:
            conn.send(self._ok(name, req))
            return True
        return False

    def _ok(self, name, req):
        # A minimal well-behaved Blynk for both APIs; acknowledged points are kept per name.
        if req.path.startswith("/oauth2/token"):
            body = json.dumps(
                {"access_token": name + "~tok", "token_type": "Bearer", "expires_in": 3600, "refresh_token": "r"}
            )
            return _answer(200, body, ["Content-Type: application/json"], "OK")
        try:
            data = json.loads(req.body or b"null")
        except ValueError:
            return _answer(400, '{"error":{"message":"bad json"}}', ["Content-Type: application/json"])
        pts = []
        if req.path.endswith("/import/batch") and isinstance(data, dict):
            pts = [[v.get("ts"), v.get("value")] for v in data.get("values", ()) if isinstance(v, dict)]
            status = 204
        elif isinstance(data, list):
            pts = [p for p in data if isinstance(p, list)]
            status = 200
        else:
            return _answer(400, '{"error":{"message":"bad body"}}', ["Content-Type: application/json"])
        with self._lock:
            self._points.setdefault(name, []).extend(pts)
        return _answer(status, b"", [], "OK")

    def _control(self, req):
        q = req.query
        action = req.path[len("/_hostile/") :]
        if action == "set":
            self.set(q.get("name", ""), q.get("behaviour", "ok"))
            out = {"ok": True}
        elif action == "stats":
            out = self.stats()
        elif action == "points":
            out = {"points": self.points(q.get("name", ""))}
        elif action == "reset":
            self.reset()
            out = {"ok": True}
        else:
            return _answer(404, '{"error":"unknown control"}')
        return _answer(200, json.dumps(out), ["Content-Type: application/json"], "OK")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--tls-port", type=int, default=0)
    ap.add_argument("--no-tls", action="store_true")
    ap.add_argument("--cert-dir")
    ap.add_argument("--max-conn-s", type=float, default=30.0)
    args = ap.parse_args(argv)
    srv = HostileServer(
        tls=not args.no_tls, port=args.port, tls_port=args.tls_port, cert_dir=args.cert_dir, max_conn_s=args.max_conn_s
    ).start()
    print(json.dumps({"url": srv.url, "tls_url": srv.tls_url, "ca": srv.ca_der_path}), flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: done.set())
    signal.signal(signal.SIGINT, lambda *a: done.set())

    def watch_stdin():
        # the parent (a test session) going away ends the server too
        try:
            sys.stdin.read()
        except (OSError, ValueError):
            pass
        done.set()

    if not sys.stdin.isatty():
        threading.Thread(target=watch_stdin, daemon=True).start()
    done.wait()
    srv.stop()


if __name__ == "__main__":
    main()
