# blynklog: log sensor samples into flash, upload them to Blynk Cloud in batches.
#   log = blynklog.Logger(config)     config: a dict, or the path of a JSON file of the same shape
#   log.add(stream, value, ts=None)   validated, stored; ts in Unix ms (default: the clock)
#   log.flush()                       everything added so far survives a power cut
#   report = log.sync(budget_ms=None) upload what is due; never raises for network/server faults
#   log.stats(); log.close()
#   log.fill()                        fraction of the store's capacity in use (cheap)
#   log.upload_wait_ms()              0 when sync() may send now, else ms until it can (cheap)
# The facade owns the configuration, the persisted state, the store and the clock. A Logger that
# only adds (a sampling wake) imports and reads no more than that: the store opens without
# reading its backlog, and the upload modules (policy, encoder, blynk, transport) are imported
# at the first sync(), stats() or upload_wait_ms().
# RAM: the store's buffers, the config dict and a few per-stream objects. Not thread-safe.
from . import config as _config
from .record import utf8 as _utf8

__version__ = "0.1.0"
ConfigError = _config.ConfigError

_MIN_TS = 978307200000  # 2001-01-01: anything earlier is not a Unix-ms timestamp
_MAX_TS = 4102444800000  # 2100-01-01
_AHEAD_MS = 86400000  # add(ts=...) accepts at most a day ahead of a set clock
_INT_MIN = -2147483648
_INT_MAX = 2147483647
_FLOAT_INT_MAX = 9007199254740992  # 2**53: ints beyond cannot be a double stream's value
_STRING_MAX = 1024


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _finite(name, v):
    if isinstance(v, float) and v - v != 0:  # NaN and infinities
        raise ValueError("%s: value must be finite, got %r" % (name, v))
    if _is_int(v) and not -_FLOAT_INT_MAX <= v <= _FLOAT_INT_MAX:
        raise ValueError("%s: value out of range" % name)


def _makedirs(path):
    import os

    cur = "/" if path.startswith("/") else ""
    for part in path.split("/"):
        if not part:
            continue
        cur = cur + part if (not cur or cur.endswith("/")) else cur + "/" + part
        try:
            os.mkdir(cur)
        except OSError:
            pass  # it exists (or cannot be made: the store says so when it opens)


def _move_old_store(old, new):
    # A store made at the earlier default path ("blynklog", which shadows the package on a board)
    # moves to the new default once, when nothing is at the new path yet.
    import os

    try:
        os.stat(new)
        return
    except OSError:
        pass
    try:
        os.stat(old + "/state.json")
    except OSError:
        try:
            os.stat(old + "/data")
        except OSError:
            return
    try:
        os.rename(old, new)
        print("blynklog: moved the store from %r to %r" % (old, new))
    except OSError as e:
        print("blynklog: could not move the store from %r to %r (%s)" % (old, new, e))


class Logger:
    def __init__(self, config):
        cfg = _config.load(config)
        from .clock import Clock
        from .state import State

        self._cfg = cfg
        self._closed = False
        self.last_error = None
        scfg = cfg["store"]
        if scfg.get("old_path"):
            _move_old_store(scfg["old_path"], scfg["path"])
        _makedirs(scfg["path"])
        self._state = State(scfg["path"] + "/state.json")
        if scfg["backend"] == "raw":
            from .policy import meta_max  # the raw store's checkpoint keeps room for its meta
            from .rawstore import RawStore, open_device

            # every checkpoint holds each stream's name and keeps room for the largest meta the
            # upload policy commits: streams that leave less are refused here, not after a sync
            room = meta_max()
            self._store = RawStore(open_device(scfg), on_full=scfg["on_full"], close_device=True, meta_room=room)
            spare = self._store.spare(cfg["streams"])
            if spare < 0:
                self._store.close()
                raise ConfigError("streams: %d streams with these names do not fit the raw store's checkpoint beside "
                                  "the upload counters (%d bytes): %d bytes over; use fewer streams or shorter names"
                                  % (len(cfg["streams"]), room, -spare))
        else:
            from .store import Store

            kw = {}
            for k in ("flush_records", "flush_bytes", "flush_ms"):
                if scfg[k] is not None:
                    kw[k] = scfg[k]
            self._store = Store(scfg["path"] + "/data", capacity=scfg["capacity"], on_full=scfg["on_full"], **kw)
        ccfg = cfg["clock"]
        self.clock = Clock(self._state, min_year=ccfg["min_year"], max_step_back_ms=ccfg["max_step_back_s"] * 1000)
        self._sids = {}
        for name in cfg["streams"]:
            self._sids[name] = self._store.stream_id(name)
        self._up = None  # the Uploader, built by _uploader at the first upload or stats()
        self.unverified = _config.unverified_reason(cfg)
        if self.unverified:
            print("blynklog: WARNING: %s. Samples are logged but not uploaded." % self.unverified)
        elif cfg["insecure"] and cfg["server"].startswith("https"):
            print("blynklog: WARNING: insecure: true, the server's certificate is NOT verified")
        elif cfg["server"].startswith("http:"):
            print("blynklog: WARNING: plain http, credentials and data travel unencrypted")

    @property
    def _uploader(self):
        # The upload stack, imported the first time it is needed: the largest module first, with a
        # collection between them (compiling from .py source needs the most heap while little is
        # held: 192 KB -> 150 KB of smallest heap for a 10,000-point sync from source).
        if self._up is None:
            import gc

            transport = "http" if self._cfg["upload"]["transport"] == "socket" else "requests_transport"
            for name in (transport, "blynk", "policy"):
                __import__("blynklog." + name)
                gc.collect()
            from .policy import Uploader

            self._up = Uploader(self._cfg, self._store, self.clock, self._state, self._sids)
        return self._up

    # ---- logging

    def _value(self, name, s, value):
        t = s["type"]
        if t == "double":
            if not _is_number(value):
                raise TypeError("%s: expected a number, got %s" % (name, type(value).__name__))
            _finite(name, value)
            return value
        if t == "int" or t == "enum":
            if not _is_int(value):
                raise TypeError("%s: expected an int, got %s" % (name, type(value).__name__))
            if not _INT_MIN <= value <= _INT_MAX:
                raise ValueError("%s: %d does not fit a 32-bit integer" % (name, value))
            return value
        if t == "bool":
            if isinstance(value, bool):
                return 1 if value else 0
            if _is_int(value) and value in (0, 1):
                return value
            raise TypeError("%s: expected True/False (or 0/1), got %r" % (name, value))
        if t == "string":
            if not isinstance(value, str):
                raise TypeError("%s: expected a str, got %s" % (name, type(value).__name__))
            try:
                n = len(_utf8(value))  # a lone surrogate has no UTF-8: refused on every runtime
            except ValueError as e:
                raise ValueError("%s: %s" % (name, e))
            if n > _STRING_MAX:
                raise ValueError("%s: string longer than %d bytes of UTF-8" % (name, _STRING_MAX))
            return value
        # location: (lon, lat)
        if not isinstance(value, (tuple, list)) or len(value) != 2:
            raise TypeError("%s: expected a (lon, lat) pair" % name)
        lon, lat = value
        if not _is_number(lon) or not _is_number(lat):
            raise TypeError("%s: lon and lat must be numbers" % name)
        _finite(name, lon)
        _finite(name, lat)
        if not -180 <= lon <= 180 or not -90 <= lat <= 90:
            raise ValueError("%s: lon must be within +-180 and lat within +-90" % name)
        return (float(lon), float(lat))

    def add(self, stream, value, ts=None):
        # Validates, then appends to the store's RAM buffer (flushed by policy or flush()).
        # Returns True when stored, False when the store is full and refuses (on_full drop_newest).
        if self._closed:
            raise ValueError("logger is closed")
        s = self._cfg["streams"].get(stream) if isinstance(stream, str) else None
        if s is None:
            if not isinstance(stream, str):
                raise TypeError("stream must be a str, got %s" % type(stream).__name__)
            raise ValueError("unknown stream %r (streams: %s)" % (stream, ", ".join(sorted(self._cfg["streams"]))))
        v = self._value(stream, s, value)
        if ts is None:
            ts, flags = self.clock.stamp()
        else:
            if not _is_int(ts):
                raise TypeError("ts must be an int (Unix milliseconds), got %s" % type(ts).__name__)
            if ts < _MIN_TS:
                raise ValueError("ts %d is before 2001: expected Unix milliseconds" % ts)
            if ts >= _MAX_TS or (self.clock.is_set() and ts > self.clock.now_ms() + _AHEAD_MS):
                raise ValueError("ts %d is too far in the future" % ts)
            flags = 0
        return self._store.append(self._sids[stream], ts, v, flags, s["decimals"])

    def flush(self):
        if self._closed:
            raise ValueError("logger is closed")
        self._store.flush()

    # ---- uploading

    def _server(self):
        moved = self._state.get("server")
        # the state file may be damaged: only a well-formed entry counts
        conf = self._cfg["server"]
        if isinstance(moved, dict) and moved.get("configured") == conf and isinstance(moved.get("to"), str):
            to = moved["to"]
            # never from https to plain http (a state written before such a redirect was refused)
            if to.startswith("https:") or not conf.startswith("https:"):
                return to
        return conf

    def _client(self, timeout_ms):
        cfg = self._cfg
        cas = []
        for path in cfg["ca"]:
            with open(path, "rb") as f:
                cas.append(f.read())
        if cfg["upload"]["transport"] == "requests":
            from .requests_transport import RequestsConnection as Conn
        else:
            from .http import Connection as Conn
        conn = Conn(self._server(), ca_ders=cas, insecure=cfg["insecure"], timeout_ms=timeout_ms)
        from . import blynk

        if cfg["api"] == "platform":
            client = blynk.PlatformClient(conn, cfg["client_id"], cfg["client_secret"], cfg["device_id"], self._state)
        else:
            client = blynk.DeviceClient(conn, cfg["token"])
        return client

    def _now(self, client=None):
        clock = self.clock
        if not clock.is_set() and client is not None:
            date = getattr(_conn(client), "date", None)
            if date:
                clock.set_from_http_date(date)
        return clock.now_ms() if clock.is_set() else None

    def sync(self, budget_ms=None, feed=None):
        # Uploads what is due, oldest first, within budget_ms. Returns a report (dict); network and
        # server faults are reported in it, never raised. feed: a function called between batches
        # and between the network operations of a request (a watchdog's feed), or None.
        if self._closed:
            raise ValueError("logger is closed")
        if budget_ms is None:
            budget_ms = self._cfg["upload"]["budget_ms"]
        elif not _is_int(budget_ms) or budget_ms < 0:
            raise ValueError("budget_ms must be a non-negative int")
        if feed is not None and not callable(feed):
            raise TypeError("feed must be a function or None")
        report = {"sent": 0, "batches": 0, "requests": 0, "handshakes": 0, "bytes_sent": 0, "parked": [],
                  "stopped": None, "last_error": None, "next_retry_ms": 0, "server": self._server(),
                  "pending": 0, "pending_by_stream": {}, "dropped_full": 0, "quota_left": 0,
                  "dropped_stale": 0, "rejected": 0, "thinned": 0, "unplaceable": 0}  # + policy.COUNTERS
        up = None
        client = None
        try:
            up = self._uploader
            self._store.flush()
            now = self._now()
            if self.unverified:
                report["stopped"] = "insecure"
                report["last_error"] = self.unverified
            elif up.retry_wait_ms(now):
                report["stopped"] = "backoff"
                report["next_retry_ms"] = up.retry_wait_ms(now)
                report["last_error"] = "backing off after an earlier failure"
            elif not self._store.pending():
                report["stopped"] = "done"
            else:
                timeout = self._cfg["upload"]["timeout_ms"]
                if budget_ms is not None:
                    timeout = max(100, min(timeout, budget_ms))
                client = self._client(timeout)
                _conn(client).feed = feed
                up.feed = feed
                up.run(client, report, budget_ms, lambda: self._now(client))
        except Exception as e:  # a fault (flash, network, anything) must never end the caller's loop
            report["stopped"] = "error"
            report["last_error"] = "%s: %s" % (type(e).__name__, e)
        finally:
            if up is not None:
                up.feed = None
            if client is not None:
                conn = _conn(client)
                for key in ("requests", "handshakes", "bytes_sent"):
                    report[key] = getattr(conn, key, 0)
                try:
                    conn.close()
                except Exception:
                    pass
            if report.pop("network_fault", False) and report["server"] != self._cfg["server"]:
                # the server a 308 sent us to is unreachable (or fails TLS): go back to the configured
                # one, which redirects again if the move was real
                report["server"] = self._cfg["server"]
                self._state.set("server", None)
                report["last_error"] = (report["last_error"] or "") + "; back to the configured server"
            elif report["server"] != self._cfg["server"]:
                self._state.set("server", {"configured": self._cfg["server"], "to": report["server"]})
            self._state.set("last_error", report["last_error"])
            self._save_state()
        self.last_error = report["last_error"]
        report["dropped_stale"] += report["unplaceable"]
        try:
            report["pending"] = self._store.pending()
            report["pending_by_stream"] = self._pending_by_stream()
            report["dropped_full"] = self._store.stats().get("dropped_full", 0)
            report["quota_left"] = up.quota_left(self._now())
        except Exception as e:
            report["stopped"] = "error"
            report["last_error"] = self.last_error = "%s: %s" % (type(e).__name__, e)
        return report

    def _save_state(self):
        # sync() never raises for a fault: a flash error or a MemoryError here is reported
        try:
            self._state.save()
        except Exception as e:
            self.last_error = "state not saved: %s" % e

    def _pending_by_stream(self):
        out = {}
        for name in self._sids:
            out[name] = self._store.pending(self._sids[name])
        return out

    def fill(self):
        # The fraction of the store's capacity its segments (or sectors) take, 0.0..1.0, without
        # reading the backlog: for deciding on an early upload at a wake that only samples.
        if self._closed:
            raise ValueError("logger is closed")
        used, cap = self._store.usage()
        return min(1.0, used / cap) if cap else 0.0

    def upload_wait_ms(self):
        # 0 when sync() may send now; else the ms until it could: a back-off after a failure, or
        # the day's quota spent (until the next UTC day); None when it never will (an unverified
        # configuration: see unverified). Reads no backlog: for deciding whether to bring the radio
        # up. Pending samples are not looked at (stats() counts them).
        if self._closed:
            raise ValueError("logger is closed")
        if self.unverified:
            return None
        up = self._uploader
        now = self._now()
        wait = up.retry_wait_ms(now)
        if not wait and now is not None and up.quota_left(now) <= 0:
            wait = 86400000 - now % 86400000  # the quota is per UTC day
        return wait

    def stats(self):
        if self._closed:
            return dict(self._final)  # as they were at close()
        up = self._uploader
        t = up.totals
        now = self._now()
        store_stats = self._store.stats()
        return {
            "pending": self._store.pending(),
            "pending_by_stream": self._pending_by_stream(),
            "sent": t["sent"],
            "dropped_full": store_stats.get("dropped_full", 0),
            "dropped_stale": t["dropped_stale"] + t["unplaceable"],
            "unplaceable": t["unplaceable"],
            "rejected": t["rejected"],
            "thinned": t["thinned"],
            "quota_left": up.quota_left(now),
            "next_retry_ms": up.retry_wait_ms(now),
            "last_error": self._state.get("last_error"),
            "rejects": self._state.get("rejects") or [],
            "server": self._server(),
            "clock_set": self.clock.is_set(),
            "store": store_stats,
        }

    # ---- deep sleep and shutdown

    def before_sleep(self, planned_ms):
        # Call before deep sleep: makes the samples durable and keeps the clock's anchor.
        self._store.flush()
        self.clock.before_sleep(planned_ms)
        self._save_state()

    def close(self):
        if self._closed:
            return
        try:
            self._store.flush()
        finally:
            try:
                self._final = self.stats()
            except Exception:
                self._final = {}
            self._closed = True
            self._store.close()
            self._save_state()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _conn(client):
    return getattr(client, "conn", client)
