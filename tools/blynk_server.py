#!/usr/bin/env python3
"""A local Blynk Cloud emulator on loopback, for the tests, the demo and the benchmarks.

It speaks HTTPS (with a throwaway CA it makes itself) and plain HTTP on the same state, and is as
strict as the real cloud (shared/spec): the OAuth2 token endpoint, the Platform API's Import
DataStream Values, the Device API's timestamped batch upload, the per-device per-UTC-day point
quota, the maximum age. It records every request and point, injects faults on demand, and draws
the received points on an HTML page (GET /).

It also keeps each datastream's current value and the devices' events, as Blynk documents them
(shared/spec/platform-facts.md, "More of Blynk's Device HTTPS API"):
  GET /external/api/get?token=T&v1          one pin: plain text (double "100.00000", int "2", string
                                            as it is); several pins (&v1&v2): a JSON object
                                            {"v1":1.0,"v2":2,"v3":"text"} of the pins holding a value
  GET /external/api/getAll?token=T          every pin holding a value, as that object
  GET /external/api/update?token=T&v1=100   one value, parsed by the stream's type, clamped to min/max
  GET /external/api/logEvent?token=T&code=C&description=D
                                            200, empty body; declared codes only, 100 a device per UTC
                                            day, one code at least 1 s apart (events_per_day,
                                            event_min_interval_ms)
  GET /api/v2/organization/device/datastreams?deviceId=1&dataStreamIds=1,2   (Bearer token)
                                            [{"dataStreamId","pin","value","updatedAt"}, ...]
Errors are 400 {"error":{"message":...}} ("Invalid token.", "Wrong pin format.", ...); paths and
parameter names are case-sensitive. The current value is the write with the latest timestamp
(update: the server's clock; a timestamped batch or an import: its newest point). Every Device API
request counts as one of the device's messages (srv.messages); Platform API calls share the
organization's per-minute rate limit (platform_requests_per_min, then 429). Settings datastreams
(add_stream(..., setting=True)) are editable on the page, which also lists the events.

Python API (tests put tools/ on sys.path):

    with BlynkServer(tls=True) as srv:          # or srv.start() ... srv.stop()
        srv.url, srv.http_url, srv.ca_der_path, srv.other_ca_der_path, srv.wrong_name_url
        srv.points(1, 1) -> [(ts, value), ...]; srv.requests; srv.handshakes; srv.connections
        srv.inject("status", count=1, status=503, retry_after=2); srv.reset()
        srv.inject("redirect", after=3, location=srv.url)   # the 4th upload request gets the 308

The same controls over HTTP on every listener (JSON in and out), for tests on the unix port:
POST /_emu/reset, POST /_emu/inject, GET /_emu/points?device=1&stream=1, GET /_emu/stats,
POST /_emu/config, POST /_emu/stream, POST /_emu/expire_tokens, GET /_emu/info, GET /_emu/requests,
POST /_emu/device {"device": 12, "streams": 3} (a Platform API device with datastreams 1..3, V1..V3;
{"device": 12, "remove": true} deletes it: its imports answer 404), GET /_emu/quota?device=12
(points its per-device daily quota counted today),
POST /_emu/value {"device","pin" or "stream","value"}, GET /_emu/values?device=1,
POST /_emu/event_code {"device","code"}, GET /_emu/events[?device=1], POST /_emu/set (the page's form).

CLI: python tools/blynk_server.py [--port N] [--http-port N] [--no-tls] [--cert-dir D]
[--token-lifetime S] prints one JSON line {"url", "http_url", "ca", ...} when ready and serves until
SIGTERM/SIGINT.
"""

import argparse
import base64
import datetime
import email.utils
import html
import json
import math
import os
import re
import secrets
import shutil
import signal
import socket
import socketserver
import ssl
import sys
import tempfile
import threading
import time
import urllib.parse

LOOPBACK = ("127.0.0.1", "localhost")
MAX_BODY = 2 * 1024 * 1024  # the cloud's 2 MB request limit
MAX_LINE = 8192
MAX_HEADERS = 100
IDLE_TIMEOUT_S = 30.0
MAX_DELAY_S = 120.0
DAY_MS = 86400000
STREAM_TYPES = ("int", "double", "string", "bool", "location")
FAULT_KINDS = ("status", "drop", "reset_mid_body", "slow", "redirect", "garbage")
FAULT_TARGETS = ("upload", "token", "settings", "event", "any")
FAULT_STATUSES = (400, 401, 403, 404, 413, 429, 500, 502, 503, 504)
CONFIG_KEYS = (
    "token_lifetime_s",
    "points_per_day",
    "max_age_days",
    "max_batch",
    "max_body",
    "clock_offset_ms",
    "clock_fixed_ms",
    "events_per_day",
    "event_min_interval_ms",
    "platform_requests_per_min",
)
TOO_MUCH = "Too much data in batch. Maximum batch size is %d points."
PRODUCT = "blynklog emulator"  # the template name in "Requested dataStream doesn't exist in the product ..."
MAX_EVENTS_KEPT = 10000  # the event log keeps the latest this many (100 a day per device in Blynk)
PAGE_EVENTS = 50  # the page lists the latest this many events
_DOUBLE_TEXT = re.compile(r"-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\Z", re.ASCII)
_INT_TEXT = re.compile(r"-?\d+\Z", re.ASCII)

REASONS = {
    100: "Continue",
    200: "OK",
    204: "No Content",
    303: "See Other",
    308: "Permanent Redirect",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    411: "Length Required",
    413: "Payload Too Large",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
    505: "HTTP Version Not Supported",
}


# ---------------------------------------------------------------------------------------------
# Certificates


def _name(cn):
    from cryptography.x509.oid import NameOID
    from cryptography import x509

    return x509.Name(
        [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "blynklog test"), x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    )


def _make_ca(cn, now):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _make_leaf(ca_key, ca_cert, names, ips, now):
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID

    key = ec.generate_private_key(ec.SECP256R1())
    san = [x509.DNSName(n) for n in names] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(names[0]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=825))
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


CERT_FILES = ("ca.der", "ca.pem", "server.pem", "server.key", "other-ca.der", "wrong-name.pem", "wrong-name.key")


def make_certs(cert_dir, reuse=True):
    """Writes the throwaway CA and certificates into cert_dir; returns cert_dir.

    ca.der/ca.pem: the CA the clients trust; server.pem/server.key: 127.0.0.1 and localhost (SAN
    both), signed by it; wrong-name.pem/.key: signed by the same CA for "wrong.example" only;
    other-ca.der: an unrelated CA, for "wrong CA" tests. With reuse, files already there that are
    still valid for a week are kept, so a board keeps trusting the same CA across restarts.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    os.makedirs(cert_dir, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    if reuse and all(os.path.exists(os.path.join(cert_dir, f)) for f in CERT_FILES):
        try:
            with open(os.path.join(cert_dir, "server.pem"), "rb") as f:
                leaf = x509.load_pem_x509_certificate(f.read())
            if leaf.not_valid_after_utc - now > datetime.timedelta(days=7):
                return cert_dir
        except ValueError:
            pass
    ca_key, ca_cert = _make_ca("blynklog test CA", now)
    _, other_cert = _make_ca("blynklog unrelated CA", now)
    srv_key, srv_cert = _make_leaf(ca_key, ca_cert, ["localhost"], ["127.0.0.1"], now)
    bad_key, bad_cert = _make_leaf(ca_key, ca_cert, ["wrong.example"], [], now)

    def key_pem(k):
        return k.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    out = {
        "ca.der": ca_cert.public_bytes(serialization.Encoding.DER),
        "ca.pem": ca_cert.public_bytes(serialization.Encoding.PEM),
        "server.pem": srv_cert.public_bytes(serialization.Encoding.PEM),
        "server.key": key_pem(srv_key),
        "other-ca.der": other_cert.public_bytes(serialization.Encoding.DER),
        "wrong-name.pem": bad_cert.public_bytes(serialization.Encoding.PEM),
        "wrong-name.key": key_pem(bad_key),
    }
    for name, data in out.items():
        path = os.path.join(cert_dir, name)
        with open(path + ".new", "wb") as f:
            f.write(data)
        if name.endswith(".key"):
            os.chmod(path + ".new", 0o600)
        os.replace(path + ".new", path)
    return cert_dir


# ---------------------------------------------------------------------------------------------
# Errors raised while handling a request; each becomes one answer.


class _Answer(Exception):
    def __init__(self, status, body=None, headers=None, close=False):
        Exception.__init__(self, status)
        self.status = status
        self.body = body
        self.headers = headers or []
        self.close = close


def _api_error(status, message):
    return _Answer(status, {"error": {"message": message}})


def _oauth_error(error, description):
    return _Answer(400, {"error": error, "error_description": description})


class _Drop(Exception):
    # Close the connection now, without answering (reset=True: with a TCP RST).
    def __init__(self, reset=False):
        Exception.__init__(self)
        self.reset = reset


def _reject_constant(name):
    raise ValueError("not JSON: " + name)


def _no_duplicate_keys(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            raise ValueError("duplicate key " + k)
        d[k] = v
    return d


def _strict_json(body):
    return json.loads(body.decode("utf-8"), parse_constant=_reject_constant, object_pairs_hook=_no_duplicate_keys)


def _is_int(v):
    return type(v) is int


def _is_number(v):
    return type(v) in (int, float) and math.isfinite(v)


def _value_ok(kind, v):
    if kind == "int":
        return _is_int(v) and -(1 << 31) <= v < (1 << 31)
    if kind == "double":
        return _is_number(v)
    if kind == "string":
        return type(v) is str and len(v.encode("utf-8")) <= 1024
    if kind == "bool":
        return type(v) is bool or (_is_int(v) and v in (0, 1))
    if kind == "location":
        return (
            type(v) is list
            and len(v) == 2
            and all(_is_number(x) for x in v)
            and -180 <= v[0] <= 180
            and -90 <= v[1] <= 90
        )
    return False


# ---------------------------------------------------------------------------------------------
# The shared state and the Python API


class BlynkServer:
    def __init__(
        self,
        tls=True,
        host="127.0.0.1",
        port=0,
        cert_dir=None,
        token_lifetime_s=86400,
        points_per_day=10000,
        max_age_days=30,
        max_batch=10000,
        http_port=0,
        max_body=MAX_BODY,
        idle_timeout_s=IDLE_TIMEOUT_S,
        wrong_name=True,
        events_per_day=100,
        event_min_interval_ms=1000,
        platform_requests_per_min=10000,
    ):
        if host not in LOOPBACK:
            raise ValueError("loopback only: 127.0.0.1 or localhost")
        self.tls = bool(tls)
        self.host = host
        self._port = port
        self._http_port = http_port
        self._own_cert_dir = cert_dir is None
        self.cert_dir = cert_dir
        self._defaults = {
            "token_lifetime_s": token_lifetime_s,
            "points_per_day": points_per_day,
            "max_age_days": max_age_days,
            "max_batch": max_batch,
            "max_body": max_body,
            "clock_offset_ms": 0,
            "clock_fixed_ms": 0,
            "events_per_day": events_per_day,
            "event_min_interval_ms": event_min_interval_ms,
            "platform_requests_per_min": platform_requests_per_min,
        }
        self.config = dict(self._defaults)
        self.idle_timeout_s = idle_timeout_s
        self._want_wrong_name = wrong_name
        self.lock = threading.RLock()
        self._stopping = threading.Event()
        self._servers = []
        self._threads = []
        self._live = set()
        self.url = self.http_url = self.wrong_name_url = None
        self.ca_der_path = self.other_ca_der_path = None
        # provisioning
        self.clients = {"test-client": "test-secret"}
        self.device_tokens = {}
        self.streams = {}
        self.stream_names = {}  # (device, stream id) -> the name the chart page shows (tools/emulator.py sets it)
        self.stream_limits = {}  # (device, stream id) -> (min, max): what update clamps to
        self.settings = set()  # (device, stream id): shown as editable on the page
        self.event_codes = {}  # device -> set of declared event codes (Blynk declares them in the template)
        self._access = {}  # access token -> [client, expiry (monotonic s)]
        self._refresh = {}  # refresh token -> client (single use)
        self._provision_defaults()
        self._clear()

    # -- provisioning
    def _provision_defaults(self):
        with self.lock:
            self.device_tokens = {"test-device-token": 1, "test-device-token-2": 2}
            self.streams = {}
            for device in (1, 2):
                self.streams[device] = {}
                for sid in range(1, 9):
                    self.streams[device][sid] = ("V%d" % sid, "double")
            self.stream_limits = {}
            self.settings = set()
            self.event_codes = {}

    def add_device(self, device_id, token=None, streams=0):
        # token None: a Platform API device only (the organization's client reaches it by id);
        # streams: that many double datastreams 1..n on V1..Vn (a gateway's nodes in the tests)
        with self.lock:
            if token is not None:
                self.device_tokens[token] = device_id
            self.streams.setdefault(device_id, {})
            for sid in range(1, int(streams) + 1):
                self.streams[device_id].setdefault(sid, ("V%d" % sid, "double"))

    def remove_device(self, device_id):
        # the device is deleted from the organization: its imports answer 404 from now on
        with self.lock:
            self.streams.pop(device_id, None)
            for token in [t for t, d in self.device_tokens.items() if d == device_id]:
                del self.device_tokens[token]

    def quota_used(self, device_id):
        # points the device's quota counted on the server's current UTC day
        with self.lock:
            qday, used = self.quota.get(device_id, (None, 0))
            return used if qday == self.now_ms() // DAY_MS else 0

    def add_stream(self, device_id, stream_id, pin, type="double", min=None, max=None, setting=False):
        # min/max: the datastream's bounds (int and double only), which update clamps to; setting:
        # the page shows it as an editable setting (the app's slider).
        if type not in STREAM_TYPES:
            raise ValueError("stream type: one of " + ", ".join(STREAM_TYPES))
        if not _valid_pin(pin):
            raise ValueError("pin: V0..V255")
        for name, v in (("min", min), ("max", max)):
            if v is not None and not (_value_ok(type, v) and type in ("int", "double")):
                raise ValueError("%s: a number of the stream's type (int or double streams only)" % name)
        if min is not None and max is not None and min > max:
            raise ValueError("min > max")
        key = (device_id, int(stream_id))
        with self.lock:
            if device_id not in self.streams:
                raise ValueError("unknown device %r" % (device_id,))
            self.streams[device_id][int(stream_id)] = (pin, type)
            self.stream_limits.pop(key, None)
            self.settings.discard(key)
            if min is not None or max is not None:
                self.stream_limits[key] = (min, max)
            if setting:
                self.settings.add(key)

    def add_event_code(self, device_id, code):
        # Declares an event code for a device (Blynk: an event in the device's template).
        if not isinstance(code, str) or not code or len(code) > 64:
            raise ValueError("code: a non-empty string of at most 64 characters")
        with self.lock:
            if device_id not in self.streams:
                raise ValueError("unknown device %r" % (device_id,))
            self.event_codes.setdefault(device_id, set()).add(code)

    def set_value(self, device_id, stream_id, value, text=False):
        # Writes a datastream's current value as GET /external/api/update would (the app's slider):
        # checked against the type (ValueError otherwise), clamped to min/max, stamped with the
        # server's clock. text=True: value is the query string's text, parsed by the type.
        with self.lock:
            entry = self.streams.get(device_id, {}).get(int(stream_id))
            if entry is None:
                raise ValueError("no datastream %r on device %r" % (stream_id, device_id))
            kind = entry[1]
            v = _from_text(kind, value) if text else value
            if v is None or not _value_ok(kind, v) or kind == "location":
                raise ValueError("Value doesn't match the Datastream data type.")
            v = self._clamp(device_id, int(stream_id), kind, v)
            self._store_value(device_id, int(stream_id), self.now_ms(), v)
            return v

    def _clamp(self, device, sid, kind, v):
        lo, hi = self.stream_limits.get((device, sid), (None, None))
        if kind == "double":
            v = float(v)
        if lo is not None and v < lo:
            v = float(lo) if kind == "double" else lo
        if hi is not None and v > hi:
            v = float(hi) if kind == "double" else hi
        return v

    def _store_value(self, device, sid, ts, v):
        # The current value is the write with the latest timestamp; of equal timestamps, the later
        # arrival. Blynk's docs do not say how a timestamped batch or an import of older points
        # affects the value `get` answers: the emulator lets a point replace it only when it is at
        # least as new, so a backlog uploaded late never hides a setting written since.
        cur = self.values.get((device, sid))
        if cur is None or ts >= cur[0]:
            self.values[(device, sid)] = (ts, v)

    def value(self, device_id, stream_id):
        # (ts_ms, value) of a datastream's current value, or None
        with self.lock:
            return self.values.get((int(device_id), int(stream_id)))

    def _clear(self):
        with self.lock:
            self._points = {}
            self.values = {}  # (device, stream id) -> (ts_ms, value): what get/getAll answer
            self.events = []  # {"device", "ts", "code", "description"}, in arrival order
            self.event_quota = {}  # device -> (UTC day, events logged that day)
            self.event_last = {}  # (device, code) -> ts_ms of the last accepted event
            self.messages = {}  # device -> Device API requests with its token (Blynk's "messages")
            self.platform_window = (None, 0)  # (minute, Platform API requests in it), the org's rate limit
            self.requests = []
            self.faults = []
            self.quota = {}
            self.handshakes = 0
            self.tls_failures = 0
            self.connections = 0

    def reset(self):
        # Clears points, current values, events, requests, faults, quotas and counters; restores the
        # constructor's limits and the default provisioning (no settings, no event codes). Issued
        # tokens stay valid.
        with self.lock:
            self._clear()
            self.config = dict(self._defaults)
            self._provision_defaults()

    def configure(self, **kw):
        for k, v in kw.items():
            if k not in CONFIG_KEYS:
                raise ValueError("unknown setting " + k)
            if type(v) not in (int, float) or not math.isfinite(v) or (v < 0 and k != "clock_offset_ms"):
                raise ValueError(k + ": a number >= 0")
        with self.lock:
            self.config.update(kw)

    def expire_tokens(self):
        # Every access token issued so far answers 401 from now on (refresh tokens still work).
        with self.lock:
            for entry in self._access.values():
                entry[1] = 0.0

    def inject(self, kind, count=1, target="upload", after=0, **params):
        # after: this many matching requests go by untouched before the fault applies (a fault in
        # the middle of a sync); a request another fault takes counts too
        if kind not in FAULT_KINDS:
            raise ValueError("fault kind: one of " + ", ".join(FAULT_KINDS))
        if target not in FAULT_TARGETS:
            raise ValueError("fault target: one of " + ", ".join(FAULT_TARGETS))
        if type(count) is not int or count < 1:
            raise ValueError("count: an int >= 1")
        if type(after) is not int or after < 0:
            raise ValueError("after: an int >= 0")
        if kind == "status":
            status = params.get("status", 500)
            if status not in FAULT_STATUSES:
                raise ValueError("status: one of %s" % (FAULT_STATUSES,))
            params["status"] = status
        if kind == "redirect" and not isinstance(params.get("location"), str):
            raise ValueError("redirect needs location=URL")
        if kind == "slow":
            delay = params.get("delay_s", 1.0)
            if type(delay) not in (int, float) or not 0 <= delay <= MAX_DELAY_S:
                raise ValueError("delay_s: 0..%d" % MAX_DELAY_S)
            params["delay_s"] = delay
        with self.lock:
            self.faults.append({"kind": kind, "count": count, "target": target, "after": after, "params": params})

    def _take_fault(self, target):
        with self.lock:
            taken = None
            for f in list(self.faults):
                if f["target"] not in (target, "any"):
                    continue
                if f["after"] > 0:
                    f["after"] -= 1
                elif taken is None:
                    taken = f
            if taken is not None:
                taken["count"] -= 1
                if taken["count"] <= 0:
                    self.faults.remove(taken)
            return taken

    # -- records
    def points(self, device_id, stream_id):
        with self.lock:
            return list(self._points.get((int(device_id), int(stream_id)), ()))

    def all_points(self):
        with self.lock:
            return {k: list(v) for k, v in self._points.items()}

    def event_log(self, device_id=None):
        with self.lock:
            return [dict(e) for e in self.events if device_id is None or e["device"] == device_id]

    def stats(self):
        with self.lock:
            return {
                "requests": len(self.requests),
                "handshakes": self.handshakes,
                "events": len(self.events),
                "messages": sum(self.messages.values()),
                "connections": self.connections,
                "points": sum(len(v) for v in self._points.values()),
                "tls_failures": self.tls_failures,
                "faults_pending": sum(f["count"] for f in self.faults),
            }

    def info(self):
        return {
            "url": self.url,
            "http_url": self.http_url,
            "wrong_name_url": self.wrong_name_url,
            "ca": self.ca_der_path,
            "other_ca": self.other_ca_der_path,
            "cert_dir": self.cert_dir,
        }

    # -- lifecycle
    def start(self):
        if self._servers:
            return self
        if self.tls:
            if self.cert_dir is None:
                self.cert_dir = tempfile.mkdtemp(prefix="blynk-emu-")
            make_certs(self.cert_dir)
            self.ca_der_path = os.path.join(self.cert_dir, "ca.der")
            self.other_ca_der_path = os.path.join(self.cert_dir, "other-ca.der")
        try:
            http = self._listen(self._http_port, None)
            self.http_url = "http://%s:%d" % (self.host, http.server_address[1])
            if self.tls:
                ctx = self._context("server.pem", "server.key")
                main = self._listen(self._port, ctx)
                self.url = "https://%s:%d" % (self.host, main.server_address[1])
            else:
                self.url = self.http_url
            if self.tls and self._want_wrong_name:
                wrong = self._listen(0, self._context("wrong-name.pem", "wrong-name.key"))
                self.wrong_name_url = "https://%s:%d" % (self.host, wrong.server_address[1])
        except BaseException:
            self.stop()
            raise
        return self

    def _context(self, cert, key):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(os.path.join(self.cert_dir, cert), os.path.join(self.cert_dir, key))
        return ctx

    def _listen(self, port, ctx):
        srv = _TCPServer((self.host if self.host != "localhost" else "127.0.0.1", port), _Handler)
        srv.emu = self
        srv.ssl_ctx = ctx
        t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        t.start()
        self._servers.append(srv)
        self._threads.append(t)
        return srv

    def stop(self):
        self._stopping.set()
        for srv in self._servers:
            srv.shutdown()
            srv.server_close()
        with self.lock:
            live = list(self._live)
        for s in live:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in self._threads:
            t.join(5)
        self._servers = []
        self._threads = []
        if self._own_cert_dir and self.cert_dir:
            shutil.rmtree(self.cert_dir, ignore_errors=True)
            self.cert_dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- request handling (called from the connection threads)
    def now_ms(self):
        # The server's wall clock: the host's, moved by clock_offset_ms (to test a UTC day change
        # or the age limit without waiting). It sets the quota's day and the oldest accepted ts.
        # clock_fixed_ms (when not 0) stops it at that instant, for limits tested to the millisecond.
        if self.config["clock_fixed_ms"]:
            return int(self.config["clock_fixed_ms"])
        return int(time.time() * 1000) + int(self.config["clock_offset_ms"])

    def handle(self, req):
        # req: a _Request. Returns (status, body, headers); raises _Drop or _Answer.
        path = req.path
        if path.startswith("/_emu/"):
            return self._control(req)
        if path == "/" or path == "/index.html":
            if req.method != "GET":
                raise _api_error(405, "Method not allowed.")
            return 200, chart_page(self), [("Content-Type", "text/html; charset=utf-8")]
        if path == "/oauth2/token":
            return self._record(req, "token", self._token)
        if path == "/api/v1/organization/device/import/batch":
            return self._record(req, "upload", self._import_batch)
        if path == "/external/api/batch/update":
            return self._record(req, "upload", self._batch_update)
        if path == "/external/api/get":
            return self._record(req, "settings", self._get)
        if path == "/external/api/getAll":
            return self._record(req, "settings", self._get_all)
        if path == "/external/api/update":
            return self._record(req, "settings", self._update)
        if path == "/external/api/logEvent":
            return self._record(req, "event", self._log_event)
        if path == "/api/v2/organization/device/datastreams":
            return self._record(req, "settings", self._platform_values)
        raise _api_error(404, "Not found.")

    def _record(self, req, target, func):
        entry = {
            "method": req.method,
            "path": req.path,
            "query": req.query,
            "status": None,
            "bytes_in": req.bytes_in,
            "body_bytes": len(req.body),
            "points": 0,
            "fault": None,
            "conn": req.conn_id,
            "time": time.time(),
            "mono_us": time.monotonic_ns() // 1000,  # (an int: exact on a float32 port)
        }
        with self.lock:
            self.requests.append(entry)
        fault = self._take_fault(target)
        delay = 0
        if fault:
            entry["fault"] = fault["kind"]
            kind, p = fault["kind"], fault["params"]
            if kind == "drop":
                raise _Drop()
            if kind == "garbage":
                raise _Answer(-1)
            if kind == "status":
                headers = []
                if p.get("retry_after") is not None:
                    headers.append(("Retry-After", str(p["retry_after"])))
                body = p.get("body")
                if body is None:
                    body = {"error": {"message": "Injected failure."}}
                entry["status"] = p["status"]
                raise _Answer(p["status"], body, headers)
            if kind == "redirect":
                loc = p["location"]
                parts = urllib.parse.urlsplit(loc)
                if parts.path in ("", "/"):
                    loc = loc.rstrip("/") + req.target
                entry["status"] = 308
                raise _Answer(308, {"error": {"message": "Wrong region."}}, [("Location", loc)])
            if kind == "slow":
                delay = p["delay_s"]
        try:
            status, body, headers = func(req, entry)
        except _Answer as a:
            entry["status"] = a.status
            if delay:
                self._stopping.wait(delay)
            raise
        entry["status"] = status
        if delay:
            self._stopping.wait(delay)
        return status, body, headers

    # -- OAuth2
    def _token(self, req, entry):
        if req.method != "POST":
            raise _api_error(405, "Method not allowed.")
        q = req.params
        client = _basic_client(req.header("authorization"))
        if client is None or self.clients.get(client[0]) != client[1]:
            raise _oauth_error("invalid_client", "Bad client credentials")
        grant = q.get("grant_type")
        if grant is None:
            raise _oauth_error("invalid_request", "Missing grant type")
        with self.lock:
            if grant == "refresh_token":
                rt = q.get("refresh_token")
                if rt is None:
                    raise _oauth_error("invalid_request", "Missing refresh token")
                if self._refresh.get(rt) != client[0]:
                    raise _oauth_error("invalid_grant", "Invalid refresh token")
                del self._refresh[rt]
            elif grant != "client_credentials":
                raise _oauth_error("unsupported_grant_type", "Unsupported grant type")
            lifetime = self.config["token_lifetime_s"]
            access = secrets.token_urlsafe(30)
            refresh = secrets.token_urlsafe(30)
            self._access[access] = [client[0], time.monotonic() + lifetime]
            self._refresh[refresh] = client[0]
        expires_in = int(lifetime) if float(lifetime).is_integer() else lifetime
        return (
            200,
            {"access_token": access, "token_type": "Bearer", "expires_in": expires_in, "refresh_token": refresh},
            [],
        )

    def _bearer_ok(self, req):
        auth = req.header("authorization") or ""
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _api_error(401, "Authorization header is missing or malformed.")
        with self.lock:
            entry = self._access.get(token.strip())
            if entry is None:
                raise _api_error(401, "Invalid access token.")
            if time.monotonic() >= entry[1]:
                raise _api_error(401, "Access token expired.")

    # -- the two upload endpoints
    def _need_json(self, req):
        ctype = (req.header("content-type") or "").split(";")[0].strip().lower()
        if ctype != "application/json":
            raise _api_error(400, "Unknown content type.")

    def _platform_rate(self):
        # The organization's Platform API rate limit (10,000 requests a minute by default), counted
        # per minute of the server's clock over every authenticated Platform API request.
        with self.lock:
            now = self.now_ms()
            minute = now // 60000
            wmin, used = self.platform_window
            if wmin != minute:
                used = 0
            if used >= self.config["platform_requests_per_min"]:
                retry = max(1, (60000 - now % 60000 + 999) // 1000)
                raise _Answer(429, {"error": {"message": "Too many requests."}}, [("Retry-After", str(retry))])
            self.platform_window = (minute, used + 1)

    def _import_batch(self, req, entry):
        if req.method != "POST":
            raise _api_error(405, "Method not allowed.")
        self._bearer_ok(req)
        self._platform_rate()
        self._need_json(req)
        body = _parse(req.body)
        if (
            type(body) is not dict
            or set(body) != {"deviceId", "dataStreamId", "values"}
            or not _is_int(body["deviceId"])
            or not _is_int(body["dataStreamId"])
            or type(body["values"]) is not list
        ):
            raise _api_error(400, "Wrong body format.")
        device, sid = body["deviceId"], body["dataStreamId"]
        with self.lock:
            if device not in self.streams:
                raise _api_error(
                    404, "Device with identifier %d is not found or belong to another organization." % device
                )
            if sid not in self.streams[device]:
                raise _api_error(404, "Data stream with identifier %d is not found!" % sid)
            kind = self.streams[device][sid][1]
        pairs = []
        for v in body["values"]:
            if type(v) is not dict or set(v) != {"value", "ts"}:
                raise _api_error(400, "Wrong body format.")
            pairs.append((v["ts"], v["value"]))
        self._accept(device, sid, kind, pairs, entry)
        return 204, None, []

    def _batch_update(self, req, entry):
        if req.method != "POST":
            raise _api_error(405, "Method not allowed.")
        q = req.params
        device = self._device(req)
        pin = q.get("pin")
        with self.lock:
            streams = self.streams.get(device, {})
            if pin is not None:
                if not _valid_pin(pin):
                    raise _api_error(400, "Wrong pin format.")
                found = [s for s, (p, _) in streams.items() if p == pin]
                if not found:
                    raise _api_error(400, "Data stream with pin %s is not found." % pin)
                sid = found[0]
            elif q.get("dataStreamId") is not None:
                try:
                    sid = int(q["dataStreamId"])
                except ValueError:
                    raise _api_error(400, "Wrong data stream id.")
                if sid not in streams:
                    raise _api_error(400, "Data stream with identifier %d is not found!" % sid)
            else:
                raise _api_error(400, "Wrong pin format.")
            kind = streams[sid][1]
        self._need_json(req)
        body = _parse(req.body)
        if type(body) is not list or any(type(p) is not list or len(p) != 2 for p in body):
            raise _api_error(400, "Wrong body format.")
        self._accept(device, sid, kind, [(p[0], p[1]) for p in body], entry)
        return 200, None, []

    def _accept(self, device, sid, kind, pairs, entry):
        # All-or-nothing: every check passes before the first point is stored.
        cfg = self.config
        if len(pairs) > cfg["max_batch"]:
            raise _api_error(400, TOO_MUCH % cfg["max_batch"])
        now = self.now_ms()
        oldest = now - int(cfg["max_age_days"] * DAY_MS)
        seen = set()
        for ts, value in pairs:
            if not _is_int(ts) or ts < 0:
                raise _api_error(400, "Timestamp must be an integer number of milliseconds.")
            if ts < oldest:
                raise _api_error(400, "Timestamp %d is older than %s days." % (ts, cfg["max_age_days"]))
            if not _value_ok(kind, value):
                raise _api_error(400, "Value doesn't match the Datastream data type.")
            if ts in seen:
                raise _api_error(400, "Duplicate timestamp.")
            seen.add(ts)
        day = now // DAY_MS
        with self.lock:
            qday, used = self.quota.get(device, (day, 0))
            if qday != day:
                used = 0
            if used + len(pairs) > cfg["points_per_day"]:
                raise _api_error(400, "Daily points limit reached.")
            self.quota[device] = (day, used + len(pairs))
            self._points.setdefault((device, sid), []).extend(pairs)
            if pairs:
                newest = max(pairs, key=lambda p: p[0])
                self._store_value(device, sid, newest[0], newest[1])
        entry["points"] = len(pairs)
        entry["device"] = device

    # -- Device API: current values and events
    def _device(self, req):
        # The device of the request's token (400 "Invalid token." otherwise); each such request is
        # one of the device's messages. Parameter names are case-sensitive, as Blynk's are.
        with self.lock:
            device = self.device_tokens.get(req.params.get("token", ""))
            if device is None:
                raise _api_error(400, "Invalid token.")
            self.messages[device] = self.messages.get(device, 0) + 1
            return device

    def _stream_of(self, device, q):
        # The stream a dataStreamId parameter names (the documented errors otherwise).
        try:
            sid = int(q["dataStreamId"])
        except ValueError:
            raise _api_error(400, "Wrong dataStreamId format.")
        if sid not in self.streams.get(device, {}):
            raise _api_error(400, "Requested dataStream doesn't exist in the product %s" % PRODUCT)
        return sid

    def _stream_of_pin(self, device, name):
        # The stream on the pin a query key names: v1 or V1 (Blynk's docs write both); a key that
        # is no virtual pin is "Wrong pin format.", a pin without a datastream "No datastream setup
        # for that pin.".
        pin = _pin_key(name)
        if pin is None:
            raise _api_error(400, "Wrong pin format.")
        for sid, (p, _) in self.streams.get(device, {}).items():
            if p == pin:
                return sid
        raise _api_error(400, "No datastream setup for that pin.")

    def _get(self, req, entry):
        # One pin (or dataStreamId): its value as plain text. Several pins: a JSON object keyed by
        # the pins as asked for, lower case, holding only the pins that have a value.
        if req.method != "GET":
            raise _api_error(405, "Method not allowed.")
        device = self._device(req)
        q = req.params
        with self.lock:
            if "dataStreamId" in q:
                sids = [("", self._stream_of(device, q))]
            else:
                names = [k for k in q if k != "token"]
                if not names or any(q[k] != "" for k in names):
                    raise _api_error(400, "Wrong pin format.")
                sids = [(_pin_key(k).lower() if _pin_key(k) else k, self._stream_of_pin(device, k)) for k in names]
            if len(sids) == 1:
                sid = sids[0][1]
                cur = self.values.get((device, sid))
                if cur is None:
                    raise _api_error(400, "The datastream has no value yet.")
                return 200, _as_text(self.streams[device][sid][1], cur[1]), []
            out = {}
            for key, sid in sids:
                cur = self.values.get((device, sid))
                if cur is not None:
                    out[key] = _as_json(self.streams[device][sid][1], cur[1])
            return 200, out, []

    def _get_all(self, req, entry):
        # Every datastream of the device that holds a value, keyed by its pin in lower case.
        if req.method != "GET":
            raise _api_error(405, "Method not allowed.")
        device = self._device(req)
        with self.lock:
            streams = self.streams.get(device, {})
            out = {}
            for sid in sorted(streams, key=lambda s: int(streams[s][0][1:])):
                cur = self.values.get((device, sid))
                if cur is not None:
                    out[streams[sid][0].lower()] = _as_json(streams[sid][1], cur[1])
            return 200, out, []

    def _update(self, req, entry):
        # One value: ?token=T&v1=100, ?token=T&pin=v1&value=100 or ?token=T&dataStreamId=1&value=100.
        # Parsed by the stream's type, clamped to its min/max. Location streams (two values, the
        # documented value=lon&value=lat) are not supported here.
        if req.method != "GET":
            raise _api_error(405, "Method not allowed.")
        device = self._device(req)
        q = req.params
        with self.lock:
            if "dataStreamId" in q:
                sid = self._stream_of(device, q)
                raw = q.get("value")
            elif "pin" in q:
                sid = self._stream_of_pin(device, q["pin"])
                raw = q.get("value")
            else:
                names = [k for k in q if k != "token"]
                if len(names) != 1:
                    raise _api_error(400, "Wrong pin format.")
                sid = self._stream_of_pin(device, names[0])
                raw = q[names[0]]
            if raw is None:
                raise _api_error(400, "Value doesn't match the Datastream data type.")
            try:
                self.set_value(device, sid, raw, text=True)
            except ValueError:
                raise _api_error(400, "Value doesn't match the Datastream data type.")
        return 200, None, []

    def _log_event(self, req, entry):
        # Blynk's limits: the codes declared for the device only, 100 events per device per UTC
        # day, the same code at least 1 s apart (both settings). A refused event is not counted.
        if req.method != "GET":
            raise _api_error(405, "Method not allowed.")
        device = self._device(req)
        q = req.params
        code = q.get("code")
        if not code:
            raise _api_error(400, "Event code is not provided.")
        with self.lock:
            if code not in self.event_codes.get(device, ()):
                raise _api_error(400, "Can't find Event with this code in Product template")
            now = self.now_ms()
            day = now // DAY_MS
            qday, used = self.event_quota.get(device, (day, 0))
            if qday != day:
                used = 0
            if used >= self.config["events_per_day"]:
                raise _api_error(400, "Daily events limit reached.")
            last = self.event_last.get((device, code))
            if last is not None and now - last < self.config["event_min_interval_ms"]:
                raise _api_error(400, "Events of the same type are too frequent.")
            self.event_quota[device] = (day, used + 1)
            self.event_last[(device, code)] = now
            self.events.append({"device": device, "ts": now, "code": code, "description": q.get("description", "")})
            del self.events[:-MAX_EVENTS_KEPT]
        return 200, None, []

    # -- Platform API: a device's datastream values
    def _platform_values(self, req, entry):
        # GET /api/v2/organization/device/datastreams?deviceId=1[&dataStreamIds=1,2]: a list of
        # {"dataStreamId", "pin", "value", "updatedAt"} for the asked streams (default: all) that
        # hold a value; updatedAt is the value's timestamp in Unix ms.
        if req.method != "GET":
            raise _api_error(405, "Method not allowed.")
        self._bearer_ok(req)
        self._platform_rate()
        q = req.params
        try:
            device = int(q["deviceId"])
        except (KeyError, ValueError):
            raise _api_error(400, "Wrong deviceId format.")
        with self.lock:
            if device not in self.streams:
                raise _api_error(
                    404, "Device with identifier %d is not found or belong to another organization." % device
                )
            streams = self.streams[device]
            if q.get("dataStreamIds"):
                try:
                    sids = [int(x) for x in q["dataStreamIds"].split(",")]
                except ValueError:
                    raise _api_error(400, "Wrong dataStreamIds format.")
                for sid in sids:
                    if sid not in streams:
                        raise _api_error(404, "Data stream with identifier %d is not found!" % sid)
            else:
                sids = sorted(streams)
            out = []
            for sid in sids:
                cur = self.values.get((device, sid))
                if cur is not None:
                    out.append(
                        {
                            "dataStreamId": sid,
                            "pin": streams[sid][0],
                            "value": _as_json(streams[sid][1], cur[1]),
                            "updatedAt": cur[0],
                        }
                    )
        return 200, out, []

    # -- /_emu/ controls
    def _control(self, req):
        name = req.path[len("/_emu/") :]
        q = req.params
        try:
            if req.method == "GET":
                if name == "points":
                    pts = self.points(int(q.get("device", "1")), int(q.get("stream", "1")))
                    return 200, {"points": [list(p) for p in pts]}, []
                if name == "stats":
                    return 200, self.stats(), []
                if name == "quota":
                    return 200, {"used": self.quota_used(int(q.get("device", "1")))}, []
                if name == "info":
                    return 200, self.info(), []
                if name == "requests":
                    with self.lock:
                        return 200, {"requests": list(self.requests)}, []
                if name == "config":
                    with self.lock:
                        return 200, dict(self.config), []
                if name == "values":
                    device = int(q.get("device", "1"))
                    with self.lock:
                        streams = self.streams.get(device, {})
                        rows = [
                            {"stream": sid, "pin": streams[sid][0], "ts": v[0], "value": v[1]}
                            for (d, sid), v in sorted(self.values.items())
                            if d == device and sid in streams
                        ]
                    return 200, {"values": rows}, []
                if name == "events":
                    device = int(q["device"]) if "device" in q else None
                    return 200, {"events": self.event_log(device)}, []
                raise _api_error(404, "Not found.")
            if req.method != "POST":
                raise _api_error(405, "Method not allowed.")
            if name == "set":
                return self._form_set(req)
            args = _parse(req.body) if req.body.strip() else {}
            if type(args) is not dict:
                raise ValueError("a JSON object")
            if name == "reset":
                self.reset()
            elif name == "inject":
                args = dict(args)
                kind = args.pop("kind", None)
                self.inject(kind, **args)
            elif name == "config":
                self.configure(**args)
            elif name == "expire_tokens":
                self.expire_tokens()
            elif name == "device":
                if args.get("remove"):
                    self.remove_device(int(args["device"]))
                else:
                    self.add_device(int(args["device"]), args.get("token"), int(args.get("streams", 0)))
            elif name == "event_code":
                self.add_event_code(args["device"], args["code"])
            elif name == "value":
                stream = args.get("stream")
                if stream is None:
                    with self.lock:
                        stream = self._stream_of_pin(args["device"], args["pin"])
                return 200, {"ok": True, "value": self.set_value(args["device"], stream, args["value"])}, []
            elif name == "stream":
                self.add_stream(
                    args["device"],
                    args["stream"],
                    args["pin"],
                    args.get("type", "double"),
                    args.get("min"),
                    args.get("max"),
                    bool(args.get("setting", False)),
                )
                if args.get("name"):
                    with self.lock:
                        self.stream_names[(args["device"], int(args["stream"]))] = str(args["name"])
            else:
                raise _api_error(404, "Not found.")
            return 200, {"ok": True}, []
        except (ValueError, TypeError, KeyError) as e:
            raise _Answer(400, {"error": {"message": "%s: %s" % (type(e).__name__, e)}})

    def _form_set(self, req):
        # The page's form (application/x-www-form-urlencoded: device, stream, value): writes the
        # value as update would, then sends the browser back to the page (303).
        ctype = (req.header("content-type") or "").split(";")[0].strip().lower()
        if ctype != "application/x-www-form-urlencoded":
            raise ValueError("a form (application/x-www-form-urlencoded)")
        form = dict(urllib.parse.parse_qsl(req.body.decode("utf-8"), keep_blank_values=True))
        try:
            self.set_value(int(form["device"]), int(form["stream"]), form["value"], text=True)
        except (KeyError, ValueError) as e:
            raise _Answer(400, {"error": {"message": "%s" % (e,)}})
        return 303, None, [("Location", "/")]


def _pin_key(name):
    # "v1" or "V1" (a query key) -> "V1"; None when it is not a virtual pin V0..V255
    if isinstance(name, str) and name[:1] in ("v", "V") and _valid_pin("V" + name[1:]):
        return "V" + name[1:]
    return None


def _from_text(kind, raw):
    # A value given as text (update's query string, the page's form) parsed by the stream's type;
    # None when it does not parse. Booleans are 0/1 (also true/false); strings are taken as they are.
    if not isinstance(raw, str):
        return None
    if kind == "string":
        return raw
    if kind in ("int", "bool"):
        if kind == "bool" and raw in ("true", "false"):
            return int(raw == "true")
        return int(raw) if _INT_TEXT.match(raw) else None
    if kind == "double":
        return float(raw) if _DOUBLE_TEXT.match(raw) and math.isfinite(float(raw)) else None
    return None


def _as_text(kind, v):
    # get's plain-text answer for one pin: a double with five decimals (Blynk's example: 100.00000),
    # an int or a boolean as an integer, a string as it is, a location as a JSON [lon, lat].
    if kind == "double":
        return "%.5f" % float(v)
    if kind in ("int", "bool"):
        return "%d" % int(v)
    if kind == "location":
        return json.dumps([float(v[0]), float(v[1])], separators=(",", ":"))
    return v


def _as_json(kind, v):
    # The value in a JSON answer (several pins, getAll, the Platform API): a double always as a
    # JSON float (1.0), an int or boolean as an integer, a location as [lon, lat].
    if kind == "double":
        return float(v)
    if kind in ("int", "bool"):
        return int(v)
    if kind == "location":
        return [float(v[0]), float(v[1])]
    return v


def _valid_pin(pin):
    return (
        isinstance(pin, str)
        and len(pin) >= 2
        and pin[0] == "V"
        and pin[1:].isdigit()
        and pin[1:].isascii()
        and 0 <= int(pin[1:]) <= 255
        and (pin[1] != "0" or pin == "V0")
    )


def _basic_client(auth):
    if not auth:
        return None
    scheme, _, data = auth.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        text = base64.b64decode(data.strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    cid, sep, secret = text.partition(":")
    return (cid, secret) if sep else None


def _parse(body):
    try:
        return _strict_json(body)
    except (ValueError, UnicodeDecodeError):
        raise _api_error(400, "Wrong body format.")


# ---------------------------------------------------------------------------------------------
# HTTP/1.1 over one connection


class _TCPServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 64


class _Request:
    def __init__(self):
        self.method = self.target = self.path = self.query = self.version = None
        self.headers = []
        self.params = {}
        self.body = b""
        self.bytes_in = 0
        self.conn_id = 0

    def header(self, name):
        for k, v in self.headers:
            if k == name:
                return v
        return None


_conn_ids = [0]
_conn_lock = threading.Lock()


class _Handler(socketserver.BaseRequestHandler):
    def handle(self):
        emu = self.server.emu
        raw = self.request
        raw.settimeout(emu.idle_timeout_s)
        sock = raw
        with emu.lock:
            emu._live.add(raw)
        try:
            if self.server.ssl_ctx is not None:
                try:
                    sock = self.server.ssl_ctx.wrap_socket(raw, server_side=True)
                except (ssl.SSLError, OSError):
                    with emu.lock:
                        emu.tls_failures += 1
                    return
                with emu.lock:
                    emu.handshakes += 1
            self.sock = sock
            self.rfile = sock.makefile("rb", buffering=65536)
            with _conn_lock:
                _conn_ids[0] += 1
                conn_id = _conn_ids[0]
            state = {"counted": False}
            for _ in range(100000):
                if emu._stopping.is_set():
                    break
                if not self._one(emu, conn_id, state):
                    break
        except _Drop as d:
            if d.reset:
                try:
                    raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                except OSError:
                    pass
        except (OSError, ValueError):
            pass
        finally:
            with emu.lock:
                emu._live.discard(raw)
            try:
                sock.close()
            except OSError:
                pass

    def _line(self, req):
        line = self.rfile.readline(MAX_LINE + 1)
        req.bytes_in += len(line)
        if len(line) > MAX_LINE:
            raise _Answer(431, {"error": {"message": "Line too long."}}, close=True)
        return line

    def _one(self, emu, conn_id, state):
        # Reads and answers one request; returns False when the connection is to close.
        req = _Request()
        req.conn_id = conn_id
        keep = False
        try:
            line = self._line(req)
            if not line:
                return False
            if line in (b"\r\n", b"\n"):
                line = self._line(req)  # one stray empty line between requests is tolerated
            parts = line.decode("latin-1").rstrip("\r\n").split(" ")
            if len(parts) != 3 or not parts[2].startswith("HTTP/"):
                raise _Answer(400, {"error": {"message": "Bad request line."}}, close=True)
            req.method, req.target, req.version = parts
            if req.version not in ("HTTP/1.1", "HTTP/1.0"):
                raise _Answer(505, {"error": {"message": "HTTP version not supported."}}, close=True)
            split = urllib.parse.urlsplit(req.target)
            req.path, req.query = split.path, split.query
            req.params = dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True))
            for _ in range(MAX_HEADERS + 1):
                h = self._line(req)
                if h in (b"\r\n", b"\n"):
                    break
                if not h:
                    return False
                k, sep, v = h.decode("latin-1").partition(":")
                if not sep or not k or k != k.strip():
                    raise _Answer(400, {"error": {"message": "Bad header."}}, close=True)
                req.headers.append((k.lower(), v.strip()))
            else:
                raise _Answer(431, {"error": {"message": "Too many headers."}}, close=True)
            if req.version == "HTTP/1.1" and not req.header("host"):
                raise _Answer(400, {"error": {"message": "Missing Host header."}}, close=True)
            conn_hdr = (req.header("connection") or "").lower()
            if req.version == "HTTP/1.1":
                keep = "close" not in conn_hdr
            else:
                keep = "keep-alive" in conn_hdr
            if _is_upload(req.path):
                with emu.lock:
                    if not state["counted"]:
                        state["counted"] = True
                        emu.connections += 1
            self._read_body(emu, req)
            status, body, headers = emu.handle(req)
        except _Answer as a:
            if a.status == -1:
                self._send_raw(b"\x15\x03\x01\x00\x02\x02\x50 this is not HTTP\r\n\r\n")
                return False
            status, body, headers = a.status, a.body, a.headers
            if a.close:
                keep = False
                self._send(req, status, body, headers, keep)
                self._linger()
                return False
        self._send(req, status, body, headers, keep)
        return keep

    def _linger(self):
        # After an early answer (413, 411, ...) the client may still be sending: read and discard
        # for a moment, so the kernel does not reset the connection before the answer is read.
        try:
            self.sock.settimeout(0.5)
            for _ in range(64):
                if not self.rfile.read1(65536):
                    break
        except (OSError, ValueError):
            pass

    def _read_body(self, emu, req):
        limit = emu.config["max_body"]
        te = (req.header("transfer-encoding") or "").lower()
        cl = req.header("content-length")
        if te:
            if te != "chunked":
                raise _Answer(400, {"error": {"message": "Unsupported transfer encoding."}}, close=True)
            chunks = []
            total = 0
            for _ in range(1 << 20):
                size_line = self._line(req)
                if not size_line:
                    raise OSError("closed in a chunked body")
                try:
                    size = int(size_line.split(b";")[0].strip(), 16)
                except ValueError:
                    raise _Answer(400, {"error": {"message": "Bad chunk size."}}, close=True)
                if size == 0:
                    for _ in range(MAX_HEADERS + 1):  # trailers
                        t = self._line(req)
                        if t in (b"\r\n", b"\n", b""):
                            break
                    break
                total += size
                if total > limit:
                    self._too_large(emu, req, total)
                self._fault_mid_body(emu, req, size)
                data = self._read_exact(req, size)
                chunks.append(data)
                if self._line(req) not in (b"\r\n", b"\n"):
                    raise _Answer(400, {"error": {"message": "Bad chunk."}}, close=True)
            req.body = b"".join(chunks)
            return
        if cl is None:
            if req.method in ("POST", "PUT", "PATCH"):
                raise _Answer(411, {"error": {"message": "Content-Length required."}}, close=True)
            return
        if not cl.isdigit():
            raise _Answer(400, {"error": {"message": "Bad Content-Length."}}, close=True)
        n = int(cl)
        if n > limit:
            self._too_large(emu, req, n)
        if (req.header("expect") or "").lower() == "100-continue":
            self._send_raw(b"HTTP/1.1 100 Continue\r\n\r\n")
        self._fault_mid_body(emu, req, n)
        req.body = self._read_exact(req, n)

    def _too_large(self, emu, req, n):
        # 413 before the body is read: an upload is recorded with it (status 413, no points), so
        # that a test counts the requests a body limit refused as it counts the others
        if _is_upload(req.path):
            with emu.lock:
                emu.requests.append(
                    {
                        "method": req.method,
                        "path": req.path,
                        "query": req.query,
                        "status": 413,
                        "bytes_in": req.bytes_in,
                        "body_bytes": n,
                        "points": 0,
                        "fault": None,
                        "conn": req.conn_id,
                        "time": time.time(),
                        "mono_us": time.monotonic_ns() // 1000,
                    }
                )
        raise _Answer(413, {"error": {"message": "Request is too large."}}, close=True)

    def _fault_mid_body(self, emu, req, n):
        # "reset_mid_body": read about half of the body, then reset the connection (TCP RST).
        if n < 2 or not _is_upload(req.path):
            return
        target = "token" if req.path == "/oauth2/token" else "upload"
        with emu.lock:
            first = [f for f in emu.faults if f["target"] in (target, "any") and not f["after"]]
            if not first or first[0]["kind"] != "reset_mid_body":
                return
            f = emu._take_fault(target)
            emu.requests.append(
                {
                    "method": req.method,
                    "path": req.path,
                    "query": req.query,
                    "status": None,
                    "bytes_in": req.bytes_in,
                    "body_bytes": n,
                    "points": 0,
                    "fault": f["kind"],
                    "conn": req.conn_id,
                    "time": time.time(),
                    "mono_us": time.monotonic_ns() // 1000,
                }
            )
        self._read_exact(req, n // 2)
        raise _Drop(reset=True)

    def _read_exact(self, req, n):
        data = self.rfile.read(n)
        req.bytes_in += len(data)
        if len(data) != n:
            raise OSError("closed in the body")
        return data

    def _send_raw(self, data):
        self.sock.sendall(data)

    def _send(self, req, status, body, headers, keep):
        if body is None:
            payload = b""
            ctype = None
        elif isinstance(body, (bytes, str)):
            payload = body.encode("utf-8") if isinstance(body, str) else body
            ctype = "text/plain; charset=utf-8"
        else:
            payload = json.dumps(body, separators=(",", ":")).encode("utf-8")
            ctype = "application/json"
        lines = [
            "HTTP/1.1 %d %s" % (status, REASONS.get(status, "Status")),
            # the server's clock (clock_offset_ms, clock_fixed_ms): the day its quota counts in
            "Date: " + email.utils.formatdate(self.server.emu.now_ms() / 1000, usegmt=True),
            "Server: blynk-emulator",
        ]
        names = [h[0].lower() for h in headers]
        if ctype and "content-type" not in names:
            lines.append("Content-Type: " + ctype)
        for k, v in headers:
            lines.append("%s: %s" % (k, v))
        if status != 204:
            lines.append("Content-Length: %d" % len(payload))
        else:
            payload = b""
        lines.append("Connection: " + ("keep-alive" if keep else "close"))
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if req is not None and req.method == "HEAD":
            payload = b""
        self.sock.sendall(head + payload)


def _is_upload(path):
    return path in ("/oauth2/token", "/api/v1/organization/device/import/batch", "/external/api/batch/update")


# ---------------------------------------------------------------------------------------------
# The chart page (GET /)

CHART_W, CHART_H, CHART_PAD, CHART_TOP = 860, 190, 48, 10
CHART_MAX_POINTS = 2000  # drawn per stream; longer series are thinned (min and max of each bucket)
CHART_TABLE_ROWS = 20  # strings and locations: the latest this many points, in a table


def _thin(pts, limit):
    # Keeps the shape of a long series: per bucket, its lowest and highest point, in time order.
    if len(pts) <= limit:
        return pts
    size = (len(pts) * 2 + limit - 1) // limit
    out = []
    for i in range(0, len(pts), size):
        bucket = pts[i : i + size]
        lo = min(bucket, key=lambda p: p[1])
        hi = max(bucket, key=lambda p: p[1])
        out.extend(sorted({lo, hi}))
    return out


def _utc(ms):
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


GAP_FACTOR = 5  # a step this many times the series' median step is drawn as a gap, not a line


def _runs(series):
    # Splits a series where it has a gap: a step over GAP_FACTOR times its median step (separate
    # runs of a logger, an offline day that was never uploaded) is not joined by a line.
    if len(series) < 3:
        return [series]
    steps = sorted(b[0] - a[0] for a, b in zip(series, series[1:]))
    limit = GAP_FACTOR * max(steps[len(steps) // 2], 1)
    runs, start = [], 0
    for i in range(1, len(series)):
        if series[i][0] - series[i - 1][0] > limit:
            runs.append(series[start:i])
            start = i
    runs.append(series[start:])
    return runs


def _svg(series):
    # series: [(ts, number), ...] sorted by ts. One inline SVG line chart with its axes' extremes;
    # a line per run of the series, so gaps show as gaps.
    w, h, pad, top = CHART_W, CHART_H, CHART_PAD, CHART_TOP
    t0, t1 = series[0][0], series[-1][0]
    vals = [v for _, v in series]
    v0, v1 = min(vals), max(vals)
    if t1 == t0:
        t1 = t0 + 1
    if v1 == v0:
        v0, v1 = v0 - 1, v1 + 1

    def xy(ts, v):
        return (pad + (ts - t0) * (w - 2 * pad) / (t1 - t0), h - pad + (v0 - v) * (h - top - pad) / (v1 - v0))

    lines = "".join(
        '<polyline fill="none" stroke="#2364aa" stroke-width="1.5" points="%s"/>'
        % " ".join("%.1f,%.1f" % xy(ts, v) for ts, v in run)
        for run in _runs(series)
    )
    dots = "".join('<circle cx="%.1f" cy="%.1f" r="2"/>' % xy(ts, v) for ts, v in series) if len(series) <= 200 else ""
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img">' % (w, h, w, h)
        + '<rect x="%d" y="%d" width="%d" height="%d" fill="#fafafa" stroke="#bbb"/>'
        % (pad, top, w - 2 * pad, h - top - pad)
        + lines
        + '<g fill="#2364aa">%s</g>' % dots
        + '<g font-family="monospace" font-size="11" fill="#333">'
        + '<text x="%d" y="%d" text-anchor="end">%s</text>' % (pad - 4, top + 4, html.escape("%g" % v1))
        + '<text x="%d" y="%d" text-anchor="end">%s</text>' % (pad - 4, h - pad + 4, html.escape("%g" % v0))
        + '<text x="%d" y="%d">%s UTC</text>' % (pad, h - pad + 16, _utc(t0))
        + '<text x="%d" y="%d" text-anchor="end">%s UTC</text>' % (w - pad, h - pad + 16, _utc(t1))
        + "</g></svg>"
    )


def _numeric(v):
    if type(v) is bool:
        return int(v)
    if type(v) in (int, float):
        return v
    return None


def _settings_html(settings, streams, names, limits, values):
    # The settings datastreams, each with a form that writes it as GET /external/api/update would.
    if not settings:
        return []
    out = [
        '<h2>Settings</h2><table><tr><th>device</th><th>name</th><th>pin</th><th>type</th><th>min</th>'
        "<th>max</th><th>value</th><th>updated (UTC)</th><th>set to</th></tr>"
    ]
    for device, sid in settings:
        pin, kind = streams[device][sid]
        lo, hi = limits.get((device, sid), (None, None))
        cur = values.get((device, sid))
        shown = "" if cur is None else _as_text(kind, cur[1])
        cells = [
            str(device),
            names.get((device, sid), ""),
            pin,
            kind,
            "" if lo is None else repr(lo),
            "" if hi is None else repr(hi),
            shown,
            "" if cur is None else _utc(cur[0]),
        ]
        form = (
            '<form method="post" action="/_emu/set"><input type="hidden" name="device" value="%d">'
            '<input type="hidden" name="stream" value="%d"><input name="value" value="%s" size="12">'
            '<button type="submit">Set</button></form>' % (device, sid, html.escape(shown, quote=True))
        )
        out.append("<tr>%s<td>%s</td></tr>" % ("".join("<td>%s</td>" % html.escape(c) for c in cells), form))
    out.append("</table>")
    return out


def _events_html(events):
    # The latest events, newest first.
    if not events:
        return []
    out = ["<h2>Events</h2><table><tr><th>time (UTC)</th><th>device</th><th>code</th><th>description</th></tr>"]
    for e in reversed(events):
        out.append(
            "<tr><td>%s</td><td>%d</td><td>%s</td><td>%s</td></tr>"
            % (_utc(e["ts"]), e["device"], html.escape(e["code"]), html.escape(e["description"]))
        )
    out.append("</table>")
    return out


def chart_page(emu):
    # GET /: every datastream that received points, as an inline SVG chart (numbers and booleans)
    # or a table of the latest values (strings, locations); then the counters and the last requests.
    with emu.lock:
        data = {k: list(v) for k, v in emu._points.items()}
        streams = {d: dict(s) for d, s in emu.streams.items()}
        names = dict(emu.stream_names)
        recent = list(emu.requests[-30:])
        stats = emu.stats()
        cfg = dict(emu.config)
        settings = sorted(k for k in emu.settings if k[1] in streams.get(k[0], {}))
        limits = dict(emu.stream_limits)
        values = dict(emu.values)
        events = list(emu.events[-PAGE_EVENTS:])
    # a slower refresh when there are forms to type into
    out = [
        '<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="refresh" content="%d">'
        % (30 if settings else 5),
        "<title>Blynk emulator</title><style>body{font-family:sans-serif;margin:1.5em;color:#222}"
        "h2{font-size:1.05em;margin:1.2em 0 .3em}table{border-collapse:collapse;font-size:.85em}"
        "td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}.muted{color:#777}</style></head><body>",
        "<h1>Blynk Cloud emulator</h1>",
        '<p class="muted">%s &middot; %s</p>'
        % (
            html.escape(" ".join("%s=%s" % kv for kv in stats.items())),
            html.escape(" ".join("%s=%s" % kv for kv in cfg.items())),
        ),
    ]
    out.extend(_settings_html(settings, streams, names, limits, values))
    out.extend(_events_html(events))
    if not data:
        out.append("<p>No points received yet.</p>")
    for device, sid in sorted(data):
        pts = data[(device, sid)]
        pin, kind = streams.get(device, {}).get(sid, ("?", "?"))
        name = names.get((device, sid))
        out.append(
            "<h2>%sDevice %d &middot; datastream %d (%s, %s) &middot; %d points</h2>"
            % (
                ("%s &middot; " % html.escape(name)) if name else "",
                device,
                sid,
                html.escape(pin),
                html.escape(kind),
                len(pts),
            )
        )
        series = sorted((ts, _numeric(v)) for ts, v in pts if _numeric(v) is not None)
        if series:
            out.append(_svg(_thin(series, CHART_MAX_POINTS)))
        else:
            shown = pts[-CHART_TABLE_ROWS:]
            rows = "".join(
                "<tr><td>%s</td><td>%s</td></tr>" % (_utc(ts), html.escape(json.dumps(v))) for ts, v in shown
            )
            out.append('<p class="muted">the last %d of %d points</p>' % (len(shown), len(pts)))
            out.append("<table><tr><th>ts (UTC)</th><th>value</th></tr>%s</table>" % rows)
    out.append(
        "<h2>Last requests</h2><table><tr><th>conn</th><th>method</th><th>path</th><th>status</th>"
        "<th>bytes in</th><th>points</th><th>fault</th></tr>"
    )
    for r in reversed(recent):
        out.append(
            "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>"
            % tuple(html.escape(str(r[k])) for k in ("conn", "method", "path", "status", "bytes_in", "points", "fault"))
        )
    out.append("</table></body></html>")
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# CLI


def main(argv=None):
    ap = argparse.ArgumentParser(description="A local Blynk Cloud emulator on loopback (HTTPS and HTTP).")
    ap.add_argument("--host", default="127.0.0.1", choices=LOOPBACK, help="listen address (loopback only)")
    ap.add_argument("--port", type=int, default=0, help="HTTPS port (0: any free port)")
    ap.add_argument("--http-port", type=int, default=0, help="plain HTTP port (0: any free port)")
    ap.add_argument("--no-tls", action="store_true", help="serve plain HTTP only")
    ap.add_argument(
        "--cert-dir",
        default=None,
        help="where the CA and certificates are written and reused (default: a temporary folder removed at exit)",
    )
    ap.add_argument("--token-lifetime", type=float, default=86400, help="OAuth2 access token lifetime, s")
    ap.add_argument("--points-per-day", type=int, default=10000, help="per-device per-UTC-day point quota")
    ap.add_argument("--max-age-days", type=float, default=30, help="oldest accepted timestamp, days")
    ap.add_argument("--max-batch", type=int, default=10000, help="most points in one batch")
    args = ap.parse_args(argv)
    srv = BlynkServer(
        tls=not args.no_tls,
        host=args.host,
        port=args.port,
        http_port=args.http_port,
        cert_dir=args.cert_dir,
        token_lifetime_s=args.token_lifetime,
        points_per_day=args.points_per_day,
        max_age_days=args.max_age_days,
        max_batch=args.max_batch,
    )
    done = threading.Event()

    def _stop(signum, frame):
        done.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    srv.start()
    try:
        print(
            json.dumps(
                {
                    "url": srv.url,
                    "http_url": srv.http_url,
                    "ca": srv.ca_der_path,
                    "other_ca": srv.other_ca_der_path,
                    "wrong_name_url": srv.wrong_name_url,
                }
            ),
            flush=True,
        )
        while not done.wait(0.5):
            pass
    finally:
        srv.stop()
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.exit(main())
