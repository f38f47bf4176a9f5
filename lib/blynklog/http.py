# blynklog.http: a small HTTP/1.1 client for one server, over verified TLS by default.
# Connection(url, ca_ders=[der, ...], insecure=False, timeout_ms=10000)
#   request(method, path_and_query, headers, body=None | bytes | (length, chunk_iterable), keep=None)
#   -> Response(status, reason, headers, body); keep: the body bytes to keep (None: _KEEP); a
#   body cut to them says so in resp.cut (that cap, else 0)
# TLS: CERT_REQUIRED with the given DER roots and the server's host name checked; `tls` (or `ssl` on
# CPython) is imported only when an https URL is first used. insecure=True turns verification off
# and says so loudly once. Keep-alive: one socket (one handshake) serves request after request until
# the server closes it; a socket found closed before anything was sent is reopened silently, any
# failure after the first byte left raises OSError (a POST is never repeated behind the caller),
# except when the server answered early and stopped reading (a 413 under a body still going out;
# an interim 1xx that comes meanwhile is read and skipped, and the body goes on):
# that answer is returned, unless it is a success (2xx), which cannot be for a body not all sent:
# ValueError then. Bytes left over after an answer close the connection (they cannot be
# the next answer); bytes arriving while it is idle do too (checked before the next request).
# Every socket/TLS/timeout fault raises OSError, a malformed answer raises ValueError; the socket is
# closed on every error path. Timeouts: sock.settimeout covers connect, TLS, send and each read,
# and the whole answer must arrive within timeout_ms (a server dripping bytes is cut off);
# DNS (getaddrinfo) is not covered on MicroPython and can block longer.
# Responses are read whole at once but bounded: at most _KEEP body bytes are kept (or the request's
# keep), at most _DISCARD more are read and dropped; a longer body makes the connection drop instead. A head is capped
# in lines and bytes; a header line longer than the buffer is read past when it is of a header not
# kept (a CDN's long policy or cookie on an answer that acknowledged a batch), refused otherwise.
# Drivers: request_gen() is the exchange written once as a generator of I/O ops (OPEN, SEND, RECV,
# PEEK, STALE, SLEEP, YIELD below), which the layers above pass on with `yield from`; request() runs
# it with run_blocking() on blocking sockets, aio.py runs the same generator on asyncio streams.
# RAM: one _BUF-byte receive buffer per Connection (allocated once), the TLS context, the socket and
# a poll object on it (asked once per 512-byte chunk whether the server already answered), and per
# request the head (a few hundred bytes), the kept body, a few generator frames and a 3-tuple per
# op (one per body chunk, per read). Not safe to share between tasks.
import gc
import socket
import sys

from .compat import IS_MICROPYTHON, const, sleep_ms, ticks_add, ticks_diff, ticks_ms

_BUF = const(512)
_KEEP = const(1024)
_DISCARD = const(16384)
_MAX_HEADERS = const(100)  # header lines in one head (CPython's http.client allows as many)
_MAX_HEAD = const(16384)  # bytes of header lines in one head
_MAX_INTERIM = const(4)
_LINUX = sys.platform == "linux"  # MicroPython's unix port (its socket module has no TCP_NODELAY)
_KEPT_HEADERS = ("location", "retry-after", "date", "content-type", "content-length", "connection", "transfer-encoding")

_warned = []

# The I/O a request needs, yielded by request_gen() (and by the upload above it, through `yield
# from`) as (op, conn, arg) for a driver to do: run_blocking() below on blocking sockets, aio.py on
# asyncio streams. The exchange itself (head, body, answer parsing, keep-alive, timeouts of the
# whole answer) is written once, in the generators; a driver only moves bytes.
OPEN = const(0)  # open conn's socket (TCP, then TLS)
SEND = const(1)  # send arg (bytes) whole
RECV = const(2)  # read what arrives (waiting up to the answer's deadline) into conn._mv[conn._end:] -> count, 0 at EOF
PEEK = const(3)  # as RECV without waiting -> count, or None when nothing is there
STALE = const(4)  # whether the idle keep-alive socket was closed by the server -> bool
SLEEP = const(5)  # wait arg ms (conn None)
YIELD = const(6)  # nothing: a point where an asyncio driver lets other tasks run (between body chunks)


def run_blocking(gen):
    # Drives a generator of the ops above on blocking sockets and returns what it returns. A fault
    # of an op is thrown back in at its yield, where the generator's handlers close the socket.
    val = err = None
    while True:
        try:
            op = gen.send(val) if err is None else gen.throw(err)
        except StopIteration as e:
            return e.value
        val = err = None
        try:
            val = _blocking(op)
        except BaseException as e:  # a KeyboardInterrupt too: the generator's handlers run now
            err = e
            if not IS_MICROPYTHON and isinstance(e, TimeoutError) and e.errno is None:
                # CPython's socket timeout ("timed out", no errno): the ETIMEDOUT MicroPython's
                # socket raises, and aio.py gives for asyncio's
                err = OSError(110)


def _blocking(op):
    code = op[0]
    conn = op[1]
    if code == SEND:
        conn._send(op[2])
    elif code == RECV:
        return conn._recv()
    elif code == PEEK:
        return conn._peek()
    elif code == OPEN:
        conn._open()
    elif code == STALE:
        return conn._stale()
    elif code == SLEEP:
        sleep_ms(op[2])
    return None


def no_delay(sock):
    # Nagle's algorithm off: it holds a write back while an earlier one waits for its ACK, which
    # the server delays (40 ms on Linux), so every request's body waited behind its head, and the
    # radio with it (45 ms a request on loopback, 1 ms without). socket.TCP_NODELAY is there on
    # CPython, rp2 (MicroPython v1.23 on) and ESP32 (v1.24 on); the unix port takes the OS's own
    # numbers; a port that has neither keeps Nagle.
    opt = getattr(socket, "TCP_NODELAY", None)
    if opt is None:
        if not _LINUX:
            return
        opt = 1
    try:
        sock.setsockopt(getattr(socket, "IPPROTO_TCP", 6), opt, 1)
    except OSError:
        pass


def _ready(poller, wait_ms=0):
    # Whether the polled socket is readable now (or within wait_ms); ipoll() where there is one
    # (no list per call).
    it = getattr(poller, "ipoll", None)
    if it is None:
        return bool(poller.poll(wait_ms))
    for _ in it(wait_ms):
        return True
    return False


def _text(b):
    # bytes of a head -> str, a byte over 127 as "?": a reason phrase or a field value may hold
    # any (obs-text, RFC 9110 5.5), which decode() refused, and decode(errors=) is not on MicroPython
    for c in b:
        if c > 127:
            b = bytearray(b)
            for i in range(len(b)):
                if b[i] > 127:
                    b[i] = 63
            break
    return b.decode()


def split_url(url):
    # "https://host[:port][/prefix]" -> (scheme, host, port, prefix); a bare host means https.
    if "://" not in url:
        url = "https://" + url
    scheme, rest = url.split("://", 1)
    scheme = scheme.lower()
    if scheme not in ("http", "https"):
        raise ValueError("url scheme must be http or https")
    slash = rest.find("/")
    if slash < 0:
        hostport, prefix = rest, ""
    else:
        hostport, prefix = rest[:slash], rest[slash:].rstrip("/")
    port = 443 if scheme == "https" else 80
    if hostport.startswith("["):
        end = hostport.find("]")
        host = hostport[1:end]
        tail = hostport[end + 1 :]
        if tail.startswith(":"):
            port = int(tail[1:])
    elif ":" in hostport:
        host, p = hostport.rsplit(":", 1)
        port = int(p)
    else:
        host = hostport
    if not host:
        raise ValueError("url has no host")
    return scheme, host, port, prefix


def base_url(url):
    # The "scheme://host[:port]" part of an absolute URL (for a moved server); an IPv6 host keeps
    # its brackets (without them "::1" read as host ":" and port 1).
    scheme, host, port, _ = split_url(url)
    if ":" in host:
        host = "[" + host + "]"
    if (scheme == "https" and port == 443) or (scheme == "http" and port == 80):
        return "%s://%s" % (scheme, host)
    return "%s://%s:%d" % (scheme, host, port)


def context(ca_ders, insecure=False):
    # The SSLContext a Connection uses (made at its first https request unless given as conn._ctx):
    # CERT_REQUIRED with the DER roots, the host name checked at wrap; `tls` on MicroPython, `ssl`
    # on CPython.
    try:
        import tls

        ctx = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
        if insecure:
            ctx.verify_mode = tls.CERT_NONE  # type: ignore[attr-defined]  # the stubs lack verify_mode
        else:
            ctx.verify_mode = tls.CERT_REQUIRED  # type: ignore[attr-defined]
            for der in ca_ders:
                ctx.load_verify_locations(der)  # positional only: the native module's form
    except ImportError:
        import ssl

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if insecure:
            ctx.check_hostname = False  # type: ignore[attr-defined]  # CPython: ctx typed as tls's above
            ctx.verify_mode = ssl.CERT_NONE  # type: ignore[attr-defined]
        else:
            ctx.verify_mode = ssl.CERT_REQUIRED  # type: ignore[attr-defined]
            ctx.check_hostname = True  # type: ignore[attr-defined]
            for der in ca_ders:
                ctx.load_verify_locations(cadata=bytes(der))
            # a `ca` that is an intermediate of the server's chain is trusted as mbedTLS trusts it
            # (OpenSSL wanted a self-signed root above it: "unable to get issuer certificate").
            # Not while a `ca` is no CA (a server's own certificate): the flag would take that
            # whoever signed it, mbedTLS (and OpenSSL without the flag) only when self-signed
            n = ctx.cert_store_stats()  # type: ignore[attr-defined]
            if n["x509_ca"] == n["x509"]:
                ctx.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN  # type: ignore[attr-defined]
    return ctx


def tls_fault(e):
    # A certificate that failed verification (or roots that could not be loaded), as the one fault
    # both drivers report: OSError("tls: <the TLS library's reason>"), so that last_error reads
    # "retry later: network: tls: ..." on every runtime. CPython's ssl raises SSLCertVerificationError
    # (a ValueError) at the handshake; MicroPython's tls raises ValueError, at the handshake of a
    # blocking socket and at the first write or read of an asyncio stream (aio.py).
    return OSError("tls: " + str(e).strip())


class Response:
    cut = 0  # the body was cut to this many bytes (the request's keep), else 0

    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body

    def close(self):
        # the body was read (bounded) with the answer: nothing holds the socket
        self.body = b""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Connection:
    _shaking = False  # aio.py: opened over TLS on MicroPython, its handshake not done yet

    def __init__(self, url, ca_ders=None, insecure=False, timeout_ms=10000):
        self.url = url
        self.scheme, self.host, self.port, self.prefix = split_url(url)
        self.tls = self.scheme == "https"
        self.ca_ders = list(ca_ders or ())
        self.insecure = bool(insecure)
        if self.tls and not self.insecure and not self.ca_ders:
            raise ValueError("https needs ca_ders (or insecure=True)")
        self.timeout_ms = timeout_ms
        self.handshakes = 0
        self.requests = 0
        self.bytes_sent = 0
        self.bytes_received = 0
        self.sent_ms = None  # ticks_ms() when the last request's head went out (policy's pacing)
        self.date = None
        self._ctx = None
        self._sock = None
        self._raw = None  # the TCP socket under self._sock
        self._poll = None  # a poll object on it (PEEK), or None
        self._reader = None  # asyncio driver (aio.py): the stream read from; self._sock is its writer
        self._buf = bytearray(_BUF)
        self._mv = memoryview(self._buf)
        self._start = 0
        self._end = 0
        self._until = 0  # ticks deadline of the answer being read (set by _answer)
        self._keep = _KEEP  # body bytes the answer being read may still keep (request_gen, _body)
        self._head_left = 0  # bytes of header lines the head being read may still take (_head)
        self.feed = None  # called before each blocking step (a watchdog's feed), or None
        if self.tls and self.insecure and not _warned:
            _warned.append(1)
            print("blynklog: WARNING: TLS certificate verification is OFF (insecure=True)")

    def moved(self, url):
        # A Connection to another server with the same TLS settings (after a 308). It carries the
        # counters on, so a sync's report counts the requests and handshakes of both.
        new = Connection(base_url(url), self.ca_ders, self.insecure, self.timeout_ms)
        new.requests, new.handshakes = self.requests, self.handshakes
        new.bytes_sent, new.bytes_received = self.bytes_sent, self.bytes_received
        return new

    # --- socket plumbing
    def _context(self):
        if self._ctx is None:
            self._ctx = context(self.ca_ders, self.insecure)
        return self._ctx

    def _open(self):
        ai = socket.getaddrinfo(self.host, self.port, 0, socket.SOCK_STREAM)[0]
        sock = socket.socket(ai[0], socket.SOCK_STREAM)
        self._wait_s = self.timeout_ms / 1000  # a float: a heap object on a board, made once
        try:
            sock.settimeout(self._wait_s)
            sock.connect(ai[-1])
            no_delay(sock)
            self._raw = sock
            if self.tls:
                try:
                    sock = self._context().wrap_socket(sock, server_hostname=self.host)
                except ValueError as e:
                    raise tls_fault(e)
                self.handshakes += 1
        except BaseException:
            sock.close()
            raise
        self._sock = sock
        self._start = self._end = 0
        self._poll = self._poller()

    def _stale(self):
        # STALE: True when the idle keep-alive socket was closed by the server (readable: EOF or
        # junk), or holds bytes already: CPython's TLS socket keeps what it decrypted past our last
        # read (pending()), which a poll of the socket does not see (MicroPython's poll counts them)
        pending = getattr(self._sock, "pending", None)
        if pending is not None and pending():
            return True
        return self._poll is not None and _ready(self._poll)

    def close(self):
        sock = self._sock
        self._sock = self._raw = self._poll = self._reader = None
        self._start = self._end = 0
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass
            s = getattr(sock, "s", None)  # MicroPython's asyncio Stream: close() leaves its socket open
            if s is not None:
                try:
                    s.close()
                except OSError:
                    pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- the blocking driver's side of the ops (run_blocking); aio.py has the asyncio one
    def _send(self, data):
        # SEND
        if self.feed is not None:
            self.feed()
        sock = self._sock
        if hasattr(sock, "sendall"):
            sock.sendall(data)
        else:
            mv = memoryview(data)
            off = 0
            while off < len(mv):
                n = sock.write(mv[off:])
                if not n:
                    raise OSError(110)  # ETIMEDOUT: a non-blocking write made no progress
                off += n

    def _left(self):
        # ms left until the answer's deadline (set by _answer), at least 1: a read waits no longer
        left = ticks_diff(self._until, ticks_ms())
        return left if left > 0 else 1

    def _recv(self):
        # RECV: waits until something arrives or the answer's deadline passes
        if self.feed is not None:
            self.feed()
        sock = self._sock
        free = self._mv[self._end :]
        if not IS_MICROPYTHON:
            sock.settimeout(self._left() / 1000)
            try:
                return sock.recv_into(free)
            finally:
                sock.settimeout(self._wait_s)
        if self._poll is None:  # no poll object: recv() returns what has arrived (None: timed out)
            data = sock.recv(len(free))
            if data is None:
                return None
            free[: len(data)] = data
            return len(data)
        # MicroPython's readinto() on a blocking socket waits for a full buffer ("no short
        # reads"), and recv() allocates a bytes object of the size asked whatever comes (a
        # 513-byte block per read: the block a fragmented heap fails first). So: wait until the
        # socket is readable, then read what came without waiting. A TLS socket can be readable
        # with nothing for us (a session ticket, consumed by the read): wait again, within the
        # answer's deadline.
        until = self._until
        while True:
            left = ticks_diff(until, ticks_ms())
            if left <= 0 or not _ready(self._poll, left):
                return None
            n = self._now()
            if n is not None:
                return n

    def _now(self):
        # The bytes that have arrived, read into the free end of the buffer without waiting: their
        # count, 0 at EOF, None when nothing came (a would-block: MicroPython's readinto() returns
        # None, CPython raises). MicroPython's TLS socket has no settimeout: its raw socket's
        # timeout is the one it uses (CPython's raw socket is detached by the wrap).
        sock = self._sock
        timed = self._raw if IS_MICROPYTHON else sock
        free = self._mv[self._end :]
        try:
            timed.settimeout(0)
            return sock.readinto(free) if IS_MICROPYTHON else sock.recv_into(free)
        finally:
            timed.settimeout(self._wait_s)

    def _peek(self):
        # PEEK: a read that does not wait (asked once per body chunk: a poll first, which costs
        # no read where nothing came). The socket may be readable with no answer (a TLS 1.3
        # session ticket, consumed here): None then.
        if self._poll is not None and not _ready(self._poll):
            return None
        try:
            return self._now()
        except OSError:  # EAGAIN / SSLWantReadError: nothing yet; a reset shows at the next send
            return None

    # --- the exchange (generators of ops)
    def _compact(self):
        # The unread bytes moved to the buffer's start (room to read into after them).
        if self._start:
            n = self._end - self._start
            self._buf[:n] = self._mv[self._start : self._end]
            self._start, self._end = 0, n

    def _fill(self):
        # Reads more bytes into the free end of the buffer; compacts first. EOF raises OSError.
        self._compact()
        if self._end >= _BUF:
            raise ValueError("header line too long")
        if ticks_diff(self._until, ticks_ms()) <= 0:
            raise OSError(110)  # ETIMEDOUT: a drip of bytes keeps each read alive, not the answer
        n = yield (RECV, self, None)
        if not n:
            raise OSError(104 if n == 0 else 110)  # ECONNRESET: closed; None: timed out
        self._end += n
        self.bytes_received += n

    def _line(self, head=False):
        # One line without its CRLF, as bytes; at most _BUF bytes. head: a header line, whose bytes
        # count against self._head_left (the head's bytes left); one longer than the buffer is
        # read past to its end and None returned when its header is not kept (a CDN's long policy
        # or cookie), refused when it is one of _KEPT_HEADERS.
        skip = False
        while True:
            i = self._buf.find(b"\n", self._start, self._end)
            full = i < 0 and head and self._end - self._start >= _BUF
            if i >= 0 or full:
                if head:
                    self._head_left -= (i + 1 if i >= 0 else self._end) - self._start
                    if self._head_left < 0:
                        raise ValueError("header too large")
                if i >= 0:
                    line = None if skip else bytes(self._mv[self._start : i])
                    self._start = i + 1
                    if line is not None and line.endswith(b"\r"):
                        line = line[:-1]
                    return line
                if not skip:
                    c = self._buf.find(b":", self._start, self._end)
                    if c <= self._start or _text(bytes(self._mv[self._start : c]).strip().lower()) in _KEPT_HEADERS:
                        raise ValueError("header line too long")
                    skip = True
                self._start = self._end = 0
            yield from self._fill()

    def _body(self, length, keep):
        # Reads exactly `length` bytes, keeping in `keep` (a list of bytes) as many as self._keep
        # still allows (the answer's whole body, over its chunks). -> whether any was dropped
        cut = False
        while length > 0:
            if self._start == self._end:
                self._start = self._end = 0
                yield from self._fill()
            n = min(length, self._end - self._start)
            k = min(n, self._keep)
            if k:
                keep.append(bytes(self._mv[self._start : self._start + k]))
                self._keep -= k
            cut = cut or k < n
            self._start += n
            length -= n
        return cut

    # --- the request
    def request(self, method, path, headers=None, body=None, keep=None):
        # request_gen() on blocking sockets
        return run_blocking(self.request_gen(method, path, headers, body, keep))

    def request_gen(self, method, path, headers=None, body=None, keep=None):
        # The request as a generator of ops (see OPEN..YIELD); returns the Response.
        self._keep = keep or _KEEP
        if body is None:
            length, chunks = (0 if method in ("POST", "PUT", "PATCH") else None), None
        elif isinstance(body, (bytes, bytearray, memoryview)):
            length, chunks = len(body), (body,)
        else:
            length, chunks = body
        host = self.host if ":" not in self.host else "[" + self.host + "]"
        if self.port != (443 if self.tls else 80):
            host = "%s:%d" % (host, self.port)
        lines = ["%s %s%s HTTP/1.1\r\nHost: %s\r\n" % (method, self.prefix, path, host)]
        if headers:
            for k in headers:
                lines.append("%s: %s\r\n" % (k, headers[k]))
        if length is not None:
            lines.append("Content-Length: %d\r\n" % length)
        lines.append("\r\n")
        head = "".join(lines).encode()
        lines = None
        if self._sock is not None:
            try:
                stale = yield (STALE, self, None)
            except Exception:
                stale = True
            if stale:
                self.close()
        for attempt in (0, 1):
            reused = self._sock is not None
            sent = 0
            try:
                if not reused:
                    if self.feed is not None:
                        self.feed()
                    if self.tls and IS_MICROPYTHON:
                        # the TLS context and handshake take large blocks (the CA's parse, mbedTLS's
                        # buffers: from the MicroPython heap on rp2): the planning's garbage goes first
                        gc.collect()
                    yield (OPEN, self, None)
                    self._start = self._end = 0
                self.sent_ms = ticks_ms()
                yield (SEND, self, head)
                self.bytes_sent += len(head)
                sent = len(head)
                if chunks is not None:
                    early = False
                    try:
                        for chunk in chunks:
                            if sent - len(head) + len(chunk) > length:
                                raise ValueError("body longer than its Content-Length")
                            if (yield from self._arrived()):
                                early = True  # the server answered before the whole body
                                break
                            yield (SEND, self, chunk)
                            self.bytes_sent += len(chunk)
                            sent += len(chunk)
                            yield (YIELD, self, None)
                    except OSError as e:
                        # the send failed: the server may have answered and closed (or stopped
                        # reading); an answer already there counts (or its first bytes), none is
                        # waited for
                        if self._sock is None or not ((yield from self._arrived()) or self._start < self._end):
                            raise
                        early = e
                    if early is not False:
                        # that answer (a 413, a 400) is the request's answer; the connection ends
                        resp = yield from self._early_answer(method)
                        if resp is None:
                            raise early if early is not True else OSError(104)  # ECONNRESET
                        if 200 <= resp.status < 300:
                            # a success said before the body was all out cannot be for it: the
                            # server did not take what never reached it (nothing acknowledged)
                            raise ValueError("%d answered before the body was sent" % resp.status)
                        return resp
                    if sent - len(head) != length:
                        raise ValueError("body shorter than its Content-Length")
                self.requests += 1
                return (yield from self._answer(method))
            except OSError:
                self.close()
                if attempt == 0 and reused and sent == 0:
                    continue  # the kept socket was dead before a byte left: open a new one
                raise
            except BaseException:
                self.close()
                raise

    def _poller(self):
        # A poll object on the socket (to notice an answer that comes while the body still goes).
        try:
            import select

            p = select.poll()
            p.register(self._sock, select.POLLIN)
            return p
        except Exception:
            return None

    def _arrived(self):
        # Whether the server answered while the body still goes (PEEK: a read that does not wait);
        # EOF reads as True. An interim answer (1xx: a "100 Continue" not asked for, which a client
        # must take, RFC 9110 15.2) is read whole and skipped: the body goes on. Fewer than the 10
        # bytes that tell a status ("HTTP/1.1 1") wait in the buffer for the next look.
        self._compact()  # room to read into (an empty read would look like EOF)
        try:
            n = yield (PEEK, self, None)
        except OSError:
            n = None
        if n is None:
            return False
        if not n:
            return True
        self._end += n
        self.bytes_received += n
        for _ in range(_MAX_INTERIM):
            s = self._start
            if self._end - s < 10:
                return False
            if self._buf[s + 9] != 49 or self._buf.find(b"HTTP/1.", s, s + 7) != s:  # not "HTTP/1.x 1"
                return True
            self._until = ticks_add(ticks_ms(), self.timeout_ms)
            if not 100 <= (yield from self._head())[0] < 200:
                raise ValueError("bad status line")
        raise ValueError("too many interim answers")

    def _early_answer(self, method):
        # The answer the server sent before the body was all out (its first bytes are in the
        # buffer), or None. The connection is closed either way: the rest of the body never went.
        try:
            resp = yield from self._answer(method)
        except (OSError, ValueError):
            resp = None
        self.close()
        if resp is not None:
            self.requests += 1
        return resp

    def _head(self):
        # The status line and the header block: (status, reason, keep_alive, kept headers).
        line = yield from self._line()
        if not line.startswith(b"HTTP/1."):
            raise ValueError("not an HTTP answer")
        parts = line.split(None, 2)
        if len(parts) < 2 or not parts[1].isdigit():
            raise ValueError("bad status line")
        status = int(parts[1])
        reason = _text(parts[2]) if len(parts) > 2 else ""
        keep_alive = line.startswith(b"HTTP/1.1")
        headers = {}
        count = 0
        self._head_left = _MAX_HEAD
        while True:
            line = yield from self._line(True)
            if line is None:
                continue  # a long line of a header not kept
            if not line:
                break
            count += 1
            if count > _MAX_HEADERS:
                raise ValueError("too many headers")
            i = line.find(b":")
            if i <= 0:
                continue
            name = _text(line[:i].strip().lower())
            if name in _KEPT_HEADERS:
                headers[name] = _text(line[i + 1 :].strip())
        return status, reason, keep_alive, headers

    def _answer(self, method):
        # the whole answer must arrive within timeout_ms (each read waits at most what is left)
        self._until = ticks_add(ticks_ms(), self.timeout_ms)
        # interim 1xx answers (a header block each) come before the final one: skip a few
        for _ in range(_MAX_INTERIM):
            status, reason, keep_alive, headers = yield from self._head()
            if not 100 <= status < 200:
                break
        else:
            raise ValueError("too many interim answers")
        if "date" in headers:
            self.date = headers["date"]
        conn = headers.get("connection", "").lower()
        if conn == "close":
            keep_alive = False
        elif conn == "keep-alive":
            keep_alive = True
        keep = []
        cap = self._keep  # (request_gen's keep)
        cut = False
        if method == "HEAD" or status in (204, 304):
            pass
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            total = 0
            while True:
                size_line = (yield from self._line()).split(b";")[0].strip()
                try:
                    size = int(size_line, 16)
                except ValueError:
                    raise ValueError("bad chunk size")
                if size < 0:
                    raise ValueError("bad chunk size")
                total += size
                if total > cap + _DISCARD:
                    keep_alive = False
                    cut = True
                    break
                if size == 0:
                    for _ in range(_MAX_HEADERS):  # trailers
                        if not (yield from self._line()):
                            break
                    break
                cut = (yield from self._body(size, keep)) or cut
                yield from self._line()
        elif "content-length" in headers:
            try:
                length = int(headers["content-length"])
            except ValueError:
                raise ValueError("bad content-length")
            if length < 0:
                raise ValueError("bad content-length")
            if length > cap + _DISCARD:
                yield from self._body(cap, keep)
                keep_alive = False
                cut = True
            else:
                cut = yield from self._body(length, keep)
        else:
            # no length: the body runs to the close; read what is kept and drop the rest
            keep_alive = False
            try:
                yield from self._body(cap, keep)
                cut = True  # (as far as is known: the close did not come first)
            except OSError:
                pass
        body = b"".join(keep)
        if self._start != self._end:
            # bytes after the answer (a body longer than its Content-Length, a 204 with a body):
            # whatever they are, they are not the next answer
            keep_alive = False
        if not keep_alive:
            self.close()
        resp = Response(status, reason, headers, body)
        if cut:
            resp.cut = cap
        return resp
