# blynklog.blynk: the two Blynk Cloud upload clients and the classification of every answer.
#   PlatformClient(conn, client_id, client_secret, device_id, state): OAuth2 client credentials
#     (Basic auth) + POST /api/v1/organization/device/import/batch (Bearer).
#   DeviceClient(conn, token): POST /external/api/batch/update?token=..&pin=.. (or dataStreamId).
#   client.upload(stream, points, count, length=None) -> Answer(kind, status, message, retry_after_ms, moved_to)
# Kinds: OK (accepted), RETRY (network fault, timeout, 5xx, 429, garbage, a 400 about the request
# rather than its points: try later), BAD_BATCH (400/413: this batch as sent is refused; for a
# single point only when the body is Blynk's JSON error, otherwise RETRY, so a middlebox's 400
# never discards data), UNKNOWN_STREAM, UNKNOWN_DEVICE, AUTH. An error's message is Blynk's JSON
# error message as the server said it, else "HTTP <status>" with the first line of a plain-text
# body after it (none of a proxy's HTML page): short, and never a secret.
# upload() never raises for network or server faults. A 308 (or 301) is followed (a few hops at
# most) on a new Connection with the same TLS settings; answer.moved_to names the new server for
# the caller to persist, and client.conn is the new Connection from then on. A 302 or 307 is
# followed the same way (client.conn is its target for the rest of the client's life, one sync)
# but is no move: moved_to stays as it was, and a permanent redirect met after it (the
# temporary target's own move) is not reported either. A redirect from https to plain http is
# refused (RETRY, nothing is sent there): it would carry the credentials in clear text.
# client.fetch_gen(path, keep=None) -> (Answer, body when OK): one GET for remote.py (a settings
#   read, an event; keep: the body bytes kept, http's, a body cut to them named in the OK answer's
#   message), answered, redirected and classified as an upload is (the Platform API's with its Bearer
#   token); a generator of I/O ops like upload_gen() below, for remote.py's `yield from`.
# client.ask_time(): one HEAD / without credentials, only for its answer's Date header (the
# connection keeps it as conn.date); faults are ignored.
# upload_gen() and ask_time_gen() are the same as generators of I/O ops (http.py), for the policy
# to pass on with `yield from` to the blocking or the asyncio driver; upload() and ask_time() run
# them on blocking sockets. Every request goes through _send(), a generator too: a new request
# is `resp = yield from self._send(...)`.
# The access token is cached in RAM and in state["token"] = {"access_token", "client_id",
# "server", "expires_at_ms", "renew_at_ms", "refresh_token"} (saved when it changes) and renewed
# before it expires; a later client uses it only for the same client id on the server that
# granted it. On a 401/403 the client fetches a new token once and retries once, then reports AUTH.
# Secrets (client secret, tokens) never appear in a message.
# RAM: the token strings and one answer body (at most ~1 KB, bounded by http, or fetch_gen's
# keep). Not task-safe.
from . import encoder
from .compat import const, json, ticks_add, ticks_diff, ticks_ms, unix_ms
from .http import base_url, run_blocking, split_url

body = None  # body.py (a batch's two passes), imported at the first body: stats() loads no more

OK = "ok"
RETRY = "retry"
BAD_BATCH = "bad_batch"
UNKNOWN_STREAM = "unknown_stream"
UNKNOWN_DEVICE = "unknown_device"
AUTH = "auth"

_HOPS = const(3)
_MSG = const(120)  # longest message kept
_MARGIN_MS = const(60000)
_SANE_MS = 1672531200000  # 2023-01-01: a wall clock before this is not set
_MAX_RETRY_AFTER_MS = const(86400000)
_TICKS_MAX_MS = const(86400000)  # the ticks deadline's reach: ticks_add takes under 2**29 ms on a board
_IMPORT_PATH = "/api/v1/organization/device/import/batch"
_JSON = "application/json"


class Answer:
    def __init__(self, kind, status=0, message="", retry_after_ms=None, moved_to=None):
        self.kind = kind
        self.status = status
        self.message = message
        self.retry_after_ms = retry_after_ms
        self.moved_to = moved_to

    def __repr__(self):
        return "Answer(%s, %d, %r)" % (self.kind, self.status, self.message)


def _clean(text, secrets=()):
    # A short printable message with every secret masked (the longest first: a secret that holds
    # another, a client secret that starts with the client id, is masked whole).
    for s in sorted([s for s in secrets if s], key=len, reverse=True):
        text = text.replace(s, "***")
    out = []
    for ch in text[:_MSG]:
        out.append(ch if " " <= ch <= "~" else "?")
    return "".join(out).strip()


def error_message(body):
    # The server's message from an error body, defensively: JSON {"error":{"message":..}},
    # {"error":"code","error_description":..}, {"message":..}, plain text, or garbage.
    try:
        text = body.decode()
    except Exception:
        return "undecodable body"
    try:
        data = json.loads(text)
    except Exception:
        data = None
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return err["message"]
        if isinstance(err, str):
            desc = data.get("error_description")
            return err + (": " + desc if isinstance(desc, str) else "")
        if isinstance(data.get("message"), str):
            return data["message"]
    return text


def _json_error(body):
    # True when the body has the shape of Blynk's error answers: {"error": {"message": "..."}},
    # {"error": "code", ...} or {"message": "..."}.
    try:
        data = json.loads(body.decode())
    except Exception:
        return False
    if not isinstance(data, dict):
        return False
    err = data.get("error")
    if isinstance(err, dict):
        return isinstance(err.get("message"), str)
    return isinstance(err, str) or isinstance(data.get("message"), str)


def _about_request(message):
    # A 400 about the request itself, not its points: the Device API's "Unknown content type." (a
    # header our request always has, so a proxy or the server changed), or any other saying so
    m = message.lower()
    return "content type" in m or "content-type" in m


def retry_after_ms(value, date=None):
    # Retry-After in seconds -> ms (capped); an HTTP date -> ms after the answer's own Date (so
    # that our clock, set or not, plays no part); garbage, or a date without a Date -> None.
    if not value:
        return None
    try:
        s = float(value)
    except ValueError:
        if not date:
            return None
        from .clock_set import parse_http_date

        at = parse_http_date(value)
        now = parse_http_date(date)
        if at is None or now is None:
            return None
        s = max(0, at - now) / 1000
    if s != s or s < 0:
        return None
    return int(min(s * 1000, _MAX_RETRY_AFTER_MS))


def _quote(s):
    # Percent-encoding for a query value.
    out = []
    for b in s.encode():
        c = chr(b)
        if ("a" <= c <= "z") or ("A" <= c <= "Z") or ("0" <= c <= "9") or c in "-._~":
            out.append(c)
        else:
            out.append("%%%02X" % b)
    return "".join(out)


def _b64(text):
    import binascii

    return binascii.b2a_base64(text.encode())[:-1].decode().strip()


class _Client:
    # What both clients share: sending one body, following redirects, classifying answers.
    api = None
    _secrets = ()
    _away = False  # True after a temporary redirect (302, 307): no move is reported from then on

    def __init__(self, conn):
        self.conn = conn
        self.moved_to = None

    def _send(self, method, path, headers, body, keep=None):
        # A generator of I/O ops (http.py): `resp = yield from self._send(...)`.
        # -> Response, or an Answer for a fault; follows redirects onto a new Connection.
        # body: None or (length, points_factory) re-encoded on each try; keep: the answer body bytes
        # kept (http.py)
        for _ in range(_HOPS + 1):
            try:
                if body is None:
                    resp = yield from self.conn.request_gen(method, path, headers, None, keep)
                else:
                    resp = yield from self.conn.request_gen(method, path, headers, (body[0], body[1]()))
            except (OSError, ValueError) as e:
                self.conn.close()
                return Answer(RETRY, 0, _clean("network: " + _err_text(e), self._secrets), None, self.moved_to)
            if resp.status not in (301, 302, 307, 308):
                return resp
            loc = resp.headers.get("location")
            if not loc:
                return Answer(RETRY, resp.status, "redirect without location", None, self.moved_to)
            try:
                if "://" in loc:
                    if self.conn.scheme == "https" and split_url(loc)[0] != "https":
                        # a downgrade: the token and the data would go out in clear text
                        self.conn.close()
                        return Answer(
                            RETRY,
                            resp.status,
                            "redirect to plain http refused (%s)" % _clean(base_url(loc), self._secrets),
                            None,
                            self.moved_to,
                        )
                    new = self.conn.moved(loc)
                    rest = loc.split("://", 1)[1]
                    i = rest.find("/")
                    if i >= 0 and rest[i:] not in ("", "/"):
                        path = rest[i:]
                    self.conn.close()
                    self.conn = new
                    if resp.status in (302, 307):
                        self._away = True
                    if not self._away:
                        self.moved_to = new.url
                elif loc.startswith("/"):
                    path = loc
            except (OSError, ValueError):
                return Answer(RETRY, resp.status, "bad redirect", None, self.moved_to)
        return Answer(RETRY, 308, "too many redirects", None, self.moved_to)

    def ask_time(self):
        run_blocking(self.ask_time_gen())

    def ask_time_gen(self):
        try:
            yield from self.conn.request_gen("HEAD", "/", {})
        except (OSError, ValueError):
            self.conn.close()

    def upload_gen(self, stream, points, count, length=None):
        # each client's own: a generator of I/O ops that returns the Answer
        raise NotImplementedError

    def upload(self, stream, points, count, length=None):
        # upload_gen() on blocking sockets
        return run_blocking(self.upload_gen(stream, points, count, length))

    def fetch_gen(self, path, headers=None, keep=None):
        # One GET of remote.py (a settings read, an event), a generator of I/O ops
        # -> (Answer, the body when OK, else None); keep: the body bytes kept (http's), a body
        # cut to them is an OK answer whose message says so
        resp = yield from self._send("GET", path, headers or {}, None, keep)
        if isinstance(resp, Answer):
            return resp, None
        answer = self._classify(resp)
        if resp.cut and answer.kind == OK:
            answer.message = "answer over %d bytes" % resp.cut
        if answer.kind == BAD_BATCH and "token" in answer.message.lower():
            answer.kind = AUTH  # the Device API's 400 "Invalid token."
        return answer, (resp.body if answer.kind == OK else None)

    def _classify(self, resp, count=0):
        status = resp.status
        if 200 <= status < 300:
            return Answer(OK, status, "", None, self.moved_to)
        # what the server said: Blynk's JSON error message, else the first line of a plain text;
        # nothing from markup (a proxy's HTML page) or JSON of another shape. The message is what
        # it said when it is Blynk's error, else "HTTP <status>" and what it said after it
        said = error_message(resp.body)
        ours = _json_error(resp.body)
        if not ours:
            said = said.split("\n")[0] if said[:1] not in "<{[" else ""
        said = _clean(said, self._secrets)
        if ours and said:
            msg = said
        elif said:
            msg = ("HTTP %d: %s" % (status, said))[:_MSG]
        else:
            msg = "HTTP %d" % status
        ra = retry_after_ms(resp.headers.get("retry-after"), resp.headers.get("date"))
        if status == 429 or status >= 500:
            return Answer(RETRY, status, msg, ra, self.moved_to)
        if status in (401, 403):
            return Answer(AUTH, status, msg, None, self.moved_to)
        if said.startswith("Device"):
            return Answer(UNKNOWN_DEVICE, status, msg, None, self.moved_to)
        if said.startswith("Data stream") or said.startswith("Wrong pin") or said.startswith("Wrong data stream"):
            return Answer(UNKNOWN_STREAM, status, msg, None, self.moved_to)
        if status == 400 and "daily" in said.lower():
            return Answer(RETRY, status, msg, ra, self.moved_to)
        if status == 400 and _about_request(said):
            # the request is refused whatever points it holds: none of them is to blame, none is
            # set aside (a halving would only spend requests); it goes again after the back-off
            return Answer(RETRY, status, "request refused: " + msg, ra, self.moved_to)
        if status in (400, 413):
            if count == 1 and not ours:
                # a lone point refused without Blynk's JSON error: a proxy spoke, not Blynk; keep it
                return Answer(RETRY, status, msg, ra, self.moved_to)
            return Answer(BAD_BATCH, status, msg, None, self.moved_to)
        # anything else (a 404 without a known message, 405, 411...) costs nothing to retry
        return Answer(RETRY, status, msg, ra, self.moved_to)

    def _body(self, target, stream, points, length=None):
        # (length, chunks factory) for the stream, or an Answer when the batch cannot be encoded.
        # A caller that already summed encoder.point_size over the points gives `length` and
        # spares a pass over them (the transport still checks the bytes sent against it).
        global body
        if body is None:
            from . import body as passes

            body = passes
        decimals = stream.get("decimals")
        api = self.api
        if length is None or length > encoder.limit(api):
            try:
                length = body.body_length(api, target, points, decimals)
            except (ValueError, TypeError) as e:
                return Answer(BAD_BATCH, 0, _clean("body: " + _err_text(e)), None, self.moved_to)

        def chunks():
            return body.body_chunks(api, target, points, decimals)

        return (length, chunks)


def _err_text(e):
    # "ETIMEDOUT", "tls: ...": the most telling part of an exception, short. An errno goes by its
    # name, as MicroPython's OSError(104) says it: CPython's ConnectionResetError(104, "Connection
    # reset by peer") (an asyncio stream's, or a blocking socket's) reads the same as the
    # ECONNRESET the connection raises itself, in sync() and sync_async() alike. A code without
    # a name (a resolver's -2) leaves the text, where there is one.
    if type(e).__name__.startswith("SSL"):
        # CPython's ssl errors: their errno is the TLS library's code (1 for a protocol error, 8
        # for an EOF in the handshake), not an OS errno: the reason says it ("[SSL: ...] ...")
        return "tls: " + str(e).strip()
    a = getattr(e, "errno", None)
    if isinstance(a, int):
        name = _errno_name(a)
        if name:
            return name
    a = e.args[-1] if e.args else None
    if isinstance(a, int):
        return _errno_name(a) or str(a)
    if a is None:
        return type(e).__name__
    return str(a).strip()


def _errno_name(code):
    try:
        import errno

        return errno.errorcode.get(code)
    except (ImportError, AttributeError):
        return None


class DeviceClient(_Client):
    api = "device"

    def __init__(self, conn, token):
        _Client.__init__(self, conn)
        self.token = token
        self._secrets = (token, _quote(token))  # as sent in the query too, for a server that echoes it

    def upload_gen(self, stream, points, count, length=None):
        body = self._body(None, stream, points, length)
        if isinstance(body, Answer):
            return body
        pin = stream.get("pin")
        if pin:
            which = "pin=" + _quote(pin)
        else:
            which = "dataStreamId=%d" % stream["id"]
        path = "/external/api/batch/update?token=%s&%s" % (_quote(self.token), which)
        resp = yield from self._send("POST", path, {"Content-Type": _JSON}, body)
        if isinstance(resp, Answer):
            return resp
        answer = self._classify(resp, count)
        if answer.kind == BAD_BATCH and "token" in answer.message.lower():
            answer.kind = AUTH
        return answer


class PlatformClient(_Client):
    api = "platform"

    def __init__(self, conn, client_id, client_secret, device_id, state):
        _Client.__init__(self, conn)
        self.client_id = client_id
        self.device_id = device_id
        self.state = state
        self._basic = "Basic " + _b64("%s:%s" % (client_id, client_secret))
        self._secret = client_secret
        self._token = None
        self._refresh = None
        self._renew_ticks = None  # a ticks deadline when the token was fetched this boot
        self._renew_at_ms = None  # the wall-clock deadline (from the state file)
        self.token_fetches = 0
        self._home = conn.url  # the server this client speaks for (tokens are kept with it)
        saved = state.get("token") if state is not None else None
        # a token kept for later wakes counts for the client it was issued to (a configuration
        # that names another client, another organization's, gets its own) and with the server
        # that granted it (another server never sees it, nor its refresh token; an entry of an
        # older version, without its server, is dropped); a damaged entry (a deadline that is no
        # int, say) is no token: a new one is fetched
        if (
            isinstance(saved, dict)
            and isinstance(saved.get("access_token"), str)
            and saved.get("client_id") == client_id
            and saved.get("server") == self._home
        ):
            renew = saved.get("renew_at_ms", saved.get("expires_at_ms"))
            refresh = saved.get("refresh_token")
            if (renew is None or type(renew) is int) and (refresh is None or isinstance(refresh, str)):
                self._token = saved["access_token"]
                self._refresh = refresh
                self._renew_at_ms = renew
        self._update_secrets()

    def _update_secrets(self):
        self._secrets = (self._basic[6:], self._secret, self._token, self._refresh, self.client_id)

    def token_valid(self):
        # True when a token is held and not due for renewal.
        if not self._token:
            return False
        if self._renew_ticks is not None:
            return ticks_diff(self._renew_ticks, ticks_ms()) > 0
        now = unix_ms()
        if self._renew_at_ms is None or now < _SANE_MS:
            return True  # no trusted clock: use it; a 401 renews it
        return now < self._renew_at_ms

    def _forget(self):
        self._token = None
        self._renew_ticks = None
        self._renew_at_ms = None

    def _fetch(self):
        # Gets a new access token (a generator of I/O ops). Returns None on success, or an Answer
        # (AUTH or RETRY).
        self.token_fetches += 1
        headers = {"Authorization": self._basic}
        resp = None
        if self._refresh:
            path = "/oauth2/token?grant_type=refresh_token&refresh_token=" + _quote(self._refresh)
            resp = yield from self._send("POST", path, headers, None)
            self._refresh = None  # single use, whatever happened
            if isinstance(resp, Answer):
                return resp
            if resp.status != 200 and resp.status != 429 and resp.status < 500:
                resp = None  # a refused refresh token: fall back to a fresh grant
            # a busy server (429, 5xx) is answered below with its Retry-After: no second request now
        if resp is None:
            resp = yield from self._send("POST", "/oauth2/token?grant_type=client_credentials", headers, None)
            if isinstance(resp, Answer):
                return resp
        if resp.status != 200:
            a = self._classify(resp)
            if resp.status in (400, 401, 403):
                return Answer(AUTH, resp.status, "token: " + a.message, None, self.moved_to)
            a.message = "token: " + a.message
            return a
        try:
            data = json.loads(resp.body)
            token = data["access_token"]
            life_ms = int(float(data.get("expires_in", 300)) * 1000)
            refresh = data.get("refresh_token")
        except Exception:
            return Answer(RETRY, resp.status, "token: unreadable answer", None, self.moved_to)
        if not isinstance(token, str) or not token or life_ms <= 0:
            return Answer(RETRY, resp.status, "token: unreadable answer", None, self.moved_to)
        margin = max(_MARGIN_MS, life_ms // 10)
        if margin > life_ms // 2:
            margin = life_ms // 2
        self._token = token
        self._refresh = refresh if isinstance(refresh, str) else None
        # a client lives one sync: a day of ticks is reach enough (and a 30-day token's would not
        # fit a 32-bit port's ticks_add); the wall-clock deadline below keeps the whole lifetime
        self._renew_ticks = ticks_add(ticks_ms(), min(life_ms - margin, _TICKS_MAX_MS))
        now = unix_ms()
        if now >= _SANE_MS:
            self._renew_at_ms = now + life_ms - margin
            expires = now + life_ms
        else:
            self._renew_at_ms = expires = None
        self._update_secrets()
        if self.state is not None:
            self.state.set(
                "token",
                {
                    "access_token": token,
                    "client_id": self.client_id,
                    # its server: the one that granted it (where a 308 sent this client for
                    # good, or a 302/307 for this sync: the configured server never sees it)
                    "server": self.conn.url,
                    "expires_at_ms": expires,
                    "renew_at_ms": self._renew_at_ms,
                    "refresh_token": self._refresh,
                },
            )
            try:
                self.state.save()
            except OSError:
                pass  # the token still works from RAM this wake
        return None

    def upload_gen(self, stream, points, count, length=None):
        target = (stream.get("device_id", self.device_id), stream["id"])  # a gateway's device: its own
        body = self._body(target, stream, points, length)
        if isinstance(body, Answer):
            return body
        answer = None
        for attempt in (0, 1):
            if attempt or not self.token_valid():
                self._forget()
                fault = yield from self._fetch()
                if fault is not None:
                    return fault
            headers = {"Authorization": "Bearer " + self._token, "Content-Type": _JSON}
            resp = yield from self._send("POST", _IMPORT_PATH, headers, body)
            if isinstance(resp, Answer):
                return resp
            answer = self._classify(resp, count)
            if answer.kind != AUTH:
                return answer
        return answer

    def fetch_gen(self, path, headers=None, keep=None):
        # with the Bearer token, renewed once on a 401/403 as upload_gen() does
        answer = body = None
        for attempt in (0, 1):
            if attempt or not self.token_valid():
                self._forget()
                fault = yield from self._fetch()
                if fault is not None:
                    return fault, None
            answer, body = yield from _Client.fetch_gen(self, path, {"Authorization": "Bearer " + self._token}, keep)
            if answer.kind != AUTH:
                break
        return answer, body
