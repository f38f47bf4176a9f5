# blynklog: log sensor samples into flash, upload them to Blynk Cloud in batches.
#   log = blynklog.Logger(config)     config: a dict, or the path of a JSON file of the same shape
#   log.add(stream, value, ts=None)   validated, stored; ts in Unix ms (default: the clock)
#   log.add(stream, value, device=name)  a gateway's device (the "devices" section, gateway.py)
#   log.flush()                       everything added so far survives a power cut
#   report = log.sync(budget_ms=None) upload what is due; never raises for network/server faults
#   log.stats(); log.close()
#   log.fill()                        fraction of the store's capacity in use (cheap)
#   log.upload_wait_ms()              0 when sync() may send now, else ms until it can (cheap)
#   log.remote()                      settings read from Blynk at a sync (the "remote" section)
#   log.health_hook                   None, or a function -> {"rssi", "battery_mv", "wakes"}
# The facade owns the configuration, the persisted state, the store and the clock. A Logger that
# only adds (a sampling wake) imports and reads no more than that: the store opens without
# reading its backlog, the upload side (logger_sync.py, with policy, encoder, blynk and the
# transport) is imported at the first sync(), stats() or upload_wait_ms(), and a configuration
# file validated before is not validated again (the validated-config cache, below): config.py is
# imported only when the file changed, and dropped again once it has validated it (unless it was
# loaded before), as is logger_open.py (the steps a wake seldom takes: writing the cache, making the store's folder,
# opening the raw backend).
# RAM: the store's buffers, the config dict and a few per-stream objects. Not thread-safe.
from sys import modules as _modules

__version__ = "0.1.0"

_MIN_TS = 978307200000  # 2001-01-01: anything earlier is not a Unix-ms timestamp
_MAX_TS = 4102444800000  # 2100-01-01
_AHEAD_MS = 86400000  # add(ts=...) accepts at most a day ahead of a set clock
_INT_MIN = -2147483648
_INT_MAX = 2147483647
_BUMP_MAX_MS = 1000  # a stream's clock stamps run at most this far ahead of the clock (one value per ms)
# past the last of them by this much before a Logger made next stamps: one clock's view of the ms
# may lag another's by one or two (the port clock read at a whole ms or second, the ticks since)
_PAST_MS = 3
_INF = float("inf")
_NINF = -_INF


def _ts_delta(ts, base):
    # frame_write.delta (a - b of two times without a heap int), imported at the first call: add()
    # needs it only when a stream's time base changed, and a wake that writes the journal loads
    # no frame_write.py. Looked up at each call, not bound: a sync lets frame_write.py go
    # (store.let_writer_go), and a function of it held here would keep its code in RAM
    fw = _modules.get("blynklog.frame_write")  # loaded with the store: no import statement's bytes
    if fw is None:
        from . import frame_write as fw
    return fw.delta(ts, base)


# The store's default folder (config.py documents why it is no identifier). Defined here for the
# config cache, which finds its file before config.py is imported.
_DEFAULT_STORE_PATH = "blynklog-data"
_CACHE_NAME = "config.cache"


class ConfigError(ValueError):
    # a wrong configuration; the message starts with the dotted key at fault (config.py)
    pass


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _der_head(path):
    # -> (the file's first 6 bytes, its size) for _looks_der: a PEM bundle given as 'ca' may be
    # larger than a board's heap, so the file is not read whole
    with open(path, "rb") as f:
        data = f.read(6)
        return data, f.seek(0, 2)


def _looks_der(data, n):
    # a DER certificate is an ASN.1 SEQUENCE: 0x30 then a long-form length that spans the rest of
    # the file exactly (a truncated copy or trailing bytes do not), and its first element is the
    # TBSCertificate, another SEQUENCE (config.py's check of a 'ca' file, made again when the
    # cache stands in for config.py). data: the file's first 6 bytes (_der_head), n: its size
    if n < 64 or len(data) < 6 or data[0] != 0x30 or not 0x81 <= data[1] <= 0x83:
        return False
    end = 2 + data[1] - 0x80
    size = 0
    for i in range(2, end):
        size = size * 256 + data[i]
    return end + size == n and data[end] == 0x30


def _unverified_reason(cfg):
    # Why this (validated) configuration may not upload, or None when it may.
    if cfg["server"].startswith("https") and not cfg["ca"] and not cfg["insecure"]:
        return (
            "ca: no CA certificate, so the server cannot be verified; give 'ca' (DER: tools/certs.py writes "
            "Blynk Cloud's) or set insecure: true"
        )
    return None


# ---- the validated-config cache
# Logger(path) validates the file once: the result is kept in <store folder>/config.cache with
# what it was made from, and used instead of config.py while the file's bytes, its path, the
# package version and the validator (config.py, devices.py and json_check.py: _VALIDATOR) are
# the same and the 'ca' files still look like DER certificates. Anything else, a missing or damaged cache (a CRC-32 covers it) included,
# means a full validation, which writes the cache again: one small write when the configuration
# changes, none at a wake that finds it. Layout: CRC-32 of the rest (8 hex digits), the key line
# "blynklog-config 2 <version> <validator> <runtime> <platform> <path> <file size>\n", the file's bytes, then the
# validated configuration as JSON. The cache holds what config.json holds (credentials too).


# The validator's identity in the key: CRC-32 of config.py's bytes followed by devices.py's (a
# gateway's part of the validation) and json_check.py's (a file's syntax), which
# tests/test_wake.py holds to the files (a stat of them instead cost a Pico W 6 ms each at every
# wake)
_VALIDATOR = "ccfe41a5"


def _cache_key(path, raw):
    # the file's path made absolute: the cache holds the paths resolved from its folder. The
    # runtime too: what validation allows depends on it (a store.path that would shadow a module
    # built into the port), and the desktop runs one file on CPython and on the unix port
    import sys

    path = _absolute(path).encode()
    rt = ("%s %s" % (sys.implementation.name, sys.platform)).encode()
    return b"blynklog-config 2 %s %s %s %s %d\n" % (__version__.encode(), _VALIDATOR.encode(), rt, path, len(raw))


def _absolute(path):
    # path ("" for the current folder itself) from the current folder, made absolute: the
    # configuration's relative paths are resolved once, at Logger(), and a later os.chdir() moves
    # nothing; as given on a port without a current folder
    if path.startswith("/"):
        return path
    from .compat import os

    try:
        cwd = os.getcwd()
    except (AttributeError, OSError):
        return path
    return cwd.rstrip("/") + "/" + path if path else cwd


def _config_folder(path):
    # the folder of the configuration file at path, absolute: its relative paths start there
    # ("/config.json", a board's: "/", not the current folder)
    if "/" not in path:
        return _absolute("")
    return _absolute(path.rsplit("/", 1)[0] or "/")


def _cache_path(path, text):
    # The cache's file for the configuration file at path holding text: in the store folder the text
    # names (its store.path, else the default, beside the file), or None when text is no JSON object.
    from .compat import json

    try:
        top = json.loads(text)
    except (ValueError, RuntimeError, MemoryError):
        return None
    st = top.get("store") if isinstance(top, dict) else None
    folder = st.get("path") if isinstance(st, dict) else None
    if not isinstance(folder, str):
        folder = _DEFAULT_STORE_PATH
    if not folder.startswith("/"):
        base = _config_folder(path)
        if base:
            folder = base.rstrip("/") + "/" + folder  # as config.py joins it
    return folder + "/" + _CACHE_NAME


def _cached_config(path, raw, cache):
    # The validated configuration the cache holds for exactly these bytes of the file, or None.
    from .compat import binascii, json

    try:
        with open(cache, "rb") as f:
            data = f.read()
        key = _cache_key(path, raw)
        n = 8 + len(key)
        if (
            int(data[:8], 16) != binascii.crc32(data[8:]) & 0xFFFFFFFF
            or data[8:n] != key
            or data[n : n + len(raw)] != raw
        ):
            return None
        cfg = json.loads(data[n + len(raw) :])
        for ca in cfg["ca"]:
            data, n = _der_head(ca)
            if not _looks_der(data, n):
                return None
    except Exception:  # unreadable, damaged or not ours: validate
        return None
    return cfg


def _exists(path):
    from .compat import os

    try:
        os.stat(path)
        return True
    except OSError:
        return False


def _folder(path):
    # True when the store's folder exists, False when nothing is there; a file there is the
    # configuration's fault (the store would fail at its first write with ENOTDIR)
    from .compat import os

    try:
        mode = os.stat(path)[0]
    except OSError:
        return False
    if not mode & 0x4000:  # S_IFDIR
        raise ConfigError("store.path: %s is a file, not a folder" % path)
    return True


def _loaded(name):
    import sys

    return "blynklog." + name in sys.modules


_UPLOAD_SIDE = (
    "logger_sync",
    "policy",
    "blynk",
    "encoder",
    "body",
    "shortest",
    "http",
    "requests_transport",
    "aio",
    "remote",
    "remote_values",
    "gateway",
)


def _drop(name, was_loaded):
    # blynklog.<name>, a module used once (the validator, logger_open), out of sys.modules and the
    # package unless it was loaded before (its importer keeps it): its code leaves RAM at the next
    # collection, and a later import loads it again
    if not was_loaded:
        import sys

        sys.modules.pop("blynklog." + name, None)
        globals().pop(name, None)


# store.path -> [the token of the Logger of this process that holds it, that Logger while its
# sync runs, True while a file handle of this process may hold frames not synced in the store's
# newest segment (Store.owner), (the holder's add() entries, its clock) for _stamps_ahead]: a
# Logger opened on a store another one holds takes it over (see _take_over). The Logger itself is not kept: one left open (a sketch's, a test's power cut)
# goes with its references. Its store's write file, closed later by the collector, would commit
# littlefs's view of that handle over what was appended to the file since: a store opened while
# the flag is set appends from a new segment (new_segment), and the flag goes once that one's
# file is synced.
_holders = {}
# store.path -> Clock.ended() of the Logger this process closed on it last: the next one there
# goes on with its boot (Clock's went_on)
_clocks = {}


class Logger:
    # Defaults kept on the class: an instance holds them only once set (a smaller instance dict)
    _syncing = False  # a sync (or sync_async) is running: sync() raises, sync_async() waits
    _async = None  # the running sync_async's generator (aio.sync; logger_sync.left_behind)
    _async_ms = 0  # ticks_ms() of its last step (aio._after_the_running_one)
    _gw = None  # a gateway's devices (the "devices" section)
    _jr = None  # the wake journal standing in for the store (journal.py), until the store opens
    _final = None  # stats() after close(): the figures at close (None: a journal wake's, not asked for yet)
    health_hook = None  # the board's figures for the health section (remote.py)

    def __init__(self, config):
        cfg = cache = raw = None
        validated = False
        if isinstance(config, str):
            try:
                with open(config, "rb") as f:
                    raw = f.read()
            except OSError:
                pass  # config.load says why
            if raw is not None:
                cache = _cache_path(config, raw)
                if cache is not None:
                    cfg = _cached_config(config, raw, cache)
        if cfg is None:
            had = _loaded("config")
            from . import config as _config

            try:
                cfg = _config.load(config, raw)
            finally:
                _config = None
                _drop("config", had)
            validated = True
        from .clock import Clock, State

        self._cfg = cfg
        self._closed = False
        self.last_error = None
        scfg = cfg["store"]
        self._key = key = _one_spelling(scfg["path"])  # (_holders, _clocks)
        cell = self._cell = _take_over(key)
        here = cache == scfg["path"] + "/" + _CACHE_NAME  # the cache is in the store's folder
        folder = (here and not validated) or _folder(scfg["path"])  # a cache read there: it exists
        save = validated and here
        raw_backend = scfg["backend"] == "raw"
        self._store = None
        if not folder or save or raw_backend:
            had = _loaded("logger_open")
            from . import logger_open as _open

            try:
                dev = _open.raw_check(cfg, validated) if raw_backend else None  # before anything is written
                if not folder:
                    _open.store_folder(scfg["path"], scfg.get("old_path"))
                if save:
                    _open.save_cached_config(config, raw, cache, cfg)
                if raw_backend:
                    self._store = _open.raw_store(cfg, dev)
            finally:
                _open = None
                _drop("logger_open", had)
        self._state = State(scfg["path"] + "/state.json")
        self._raw = raw_backend
        if raw_backend:  # the samples it refused since its last frame, as the last save left them
            self._store.drops_back(self._state.get("rawdrops"))
        if not (
            validated
            or raw_backend
            or cfg.get("devices")
            or scfg["on_full"] != "drop_oldest"
            or scfg["flush_records"]
            or scfg["flush_bytes"]
            or scfg["flush_ms"]
        ):
            # a wake after the first (the configuration came from its cache): numbers go to the
            # store's journal without loading the store (journal.Journal), when the store allows it
            from .journal import wake_journal

            self._store = self._jr = wake_journal(self, scfg)
        if self._store is None and not raw_backend:
            self._store = self._new_store()
        ccfg = cfg["clock"]
        self.clock = Clock(
            self._state,
            min_year=ccfg["min_year"],
            max_step_back_ms=ccfg["max_step_back_s"] * 1000,
            ntp_host=ccfg["ntp_host"],
            # the clock of the Logger closed here last, or of the one taken over (same process)
            went_on=cell[3][1].ended() if cell[3] is not None else _clocks.pop(key, None),
        )
        self._sids = {}
        self._last_ts = {}  # stream -> add()'s entry (_entry): its last time, id, kind; one value per ms of a stream
        if cell[3] is not None:  # the Logger taken over stamped ahead of the clock: past its stamps first
            _wait_ms(_stamps_ahead(cell[3][0], cell[3][1]))
        self._dup_said = []  # streams whose duplicate ts add() has pointed out
        try:
            # the folder store's new names join in one go, or none (no room for them all: the
            # names file stays as it was); the journal knows each one (open)
            names = list(cfg["streams"])
            ids = self._store.stream_ids(names)
            for i in range(len(names)):
                self._sids[names[i]] = ids[i]
        except ValueError as e:  # the store keeps every name it was given: it has no room for one more
            raise ConfigError(
                "streams: the store at %r has no room for another stream's name (%s); keep the names it "
                "has, or give a new store.path once this one is uploaded" % (scfg["path"], e)
            )
        if cfg.get("devices"):
            self._gw = cfg["devices"]
        self._up = None  # the Uploader, built by _uploader at the first upload or stats()
        self._own = cell[0] = object()  # the store is this Logger's from here on
        cell[3] = (self._last_ts, self.clock)
        if self._jr is None and not raw_backend:
            self._store.owner = cell
        self.unverified = _unverified_reason(cfg)
        if self.unverified:
            print("blynklog: WARNING: %s. Samples are logged but not uploaded." % self.unverified)
        elif cfg["insecure"] and cfg["server"].startswith("https"):
            print("blynklog: WARNING: insecure: true, the server's certificate is NOT verified")
        elif cfg["server"].startswith("http:"):
            print("blynklog: WARNING: plain http, credentials and data travel unencrypted")

    @property
    def _uploader(self):
        # the upload stack (policy.Uploader), built at the first upload, stats() or upload_wait_ms()
        if self._up is None:
            self._up = _upload().uploader(self)
        return self._up

    def _opened(self):
        # The store itself: opened now when the journal stood in for it (the store takes the
        # journal's flushed samples in at its opening, and the ones still in RAM come after)
        if self._jr is not None:
            self._store = self._new_store()
            self._jr.replay(self._store)
            self._jr = None
            _drop("journal", False)  # its code (some 8 KB on a Pico W) leaves RAM before the upload
            self._store.owner = self._cell
        return self._store

    def _new_store(self):
        # the configuration's store (segments in <path>/data); a journal in <path> comes in first
        from .store import Store

        scfg = self._cfg["store"]
        kw = {}
        for k in ("flush_records", "flush_bytes", "flush_ms"):
            if scfg[k] is not None:
                kw[k] = scfg[k]
        return Store(
            scfg["path"] + "/data",
            capacity=scfg["capacity"],
            on_full=scfg["on_full"],
            journal=scfg["path"],
            new_segment=bool(self._cell[2]),  # (see _holders)
            **kw,
        )

    # ---- logging

    def _entry(self, stream):
        # add()'s entry of a stream, made at its first add(): [ts, rel, flags, lead] of its last
        # add() (its time is ts + rel; ts None before the first; lead: the ms its clock stamp was
        # moved on past the clock's, -1 for a caller's ts), then the stream id, the value kind
        # (1 double, 2 int, 0 other), decimals and the stream's configuration
        s = self._cfg["streams"].get(stream) if isinstance(stream, str) else None
        if s is None:
            if not isinstance(stream, str):
                raise TypeError("stream must be a str, got %s" % type(stream).__name__)
            raise ValueError("unknown stream %r (streams: %s)" % (stream, ", ".join(sorted(self._cfg["streams"]))))
        t = s["type"]
        e = [None, 0, 0, -1, self._sids[stream], 1 if t == "double" else (2 if t == "int" else 0), s["decimals"], s]
        self._last_ts[stream] = e
        return e

    # @micropython.native
    def add(self, stream, value, ts=None, device=None):
        # Validates, then appends to the store's RAM buffer (flushed by policy or flush()).
        # Returns True when stored, False when the store is full and refuses (on_full drop_newest).
        # A time is kept as a base and a small int of ms after it (rel): the clock's anchor and
        # the ms since (Clock.stamp_rel), or the caller's ts and 0, so that no heap int is made
        # for it on a 32-bit port (a Unix ms is one there); record.delta compares two such times.
        # Written for a board's few steps (a few us each on an RP2040): one entry per stream
        # (_entry) holds what add() needs, the common value checks are inline (the rest in _value);
        # native code on a board, bytecode elsewhere (record's header says how).
        if self._closed or self._cell[0] is not self._own:
            self._refuse()
        if device is not None:
            from .devices import name  # a gateway's device: its stream's name "device/stream"

            stream = name(self._gw, stream, device)
        e = self._last_ts.get(stream) if isinstance(stream, str) else None
        if e is None:
            e = self._entry(stream)
        k = e[5]
        if k == 1 and type(value) is float and _NINF < value < _INF:  # finite: NaN compares false
            v = value
        elif k == 2 and type(value) is int and _INT_MIN <= value <= _INT_MAX:
            v = value
        else:
            v = _checked(stream, e[7], value)
        last = e[0]  # None before the stream's first add()
        if ts is None:
            c = self.clock
            rel = c.stamp_rel()
            ts = c.stamp_base
            flags = c.stamp_flags
            lead = 0
            if last is not None and (flags == e[2] or e[2]):  # the stream's last time is of this kind
                if flags == e[2]:
                    d = rel - e[1] + (0 if ts is last else _ts_delta(ts, last))  # this - last
                else:  # boot-relative: the clock was set since (seldom, no hot path)
                    d = _after_rel(c, ts, rel, e)
                # Blynk keeps one value per ms of a stream: a stamp in the last one's ms, or
                # before a clock stamp, goes a ms after it (up to _BUMP_MAX_MS ahead of the clock,
                # then refused), unless the clock itself stepped back (d + lead: this stamp - the
                # clock's last one). Before the caller's ts it stays the clock's time.
                if d == 0 or (d < 0 and e[3] >= 0 and d + e[3] > -_BUMP_MAX_MS):
                    lead = 1 - d
                    if lead > _BUMP_MAX_MS:
                        _too_fast(stream)
                    rel += lead
        else:
            if type(ts) is not int or not _MIN_TS <= ts < _MAX_TS:
                ts = _plain_ts(ts)
            c = self.clock
            if c._set or c.set_soon():
                if _ahead(c, ts) > _AHEAD_MS:
                    _bad_ts(ts)
            elif ts >= c._max_ms:
                _bad_ts(ts, c)  # no time the clock can be set to is that late
            rel = 0
            flags = 0
            lead = -1
            if (
                last is not None
                and (ts == last if not e[1] else _ts_delta(ts, last) == e[1])
                and not e[2]
                and stream not in self._dup_said
            ):
                # stored, as asked; the sync keeps the first (duplicates counted): said once a stream
                self._dup_said.append(stream)
                print(
                    "blynklog: %s: two samples at ts %d: Blynk keeps one value per ms of a stream, "
                    "so the upload keeps the first" % (stream, ts)
                )
        # checked: the store does not check the stream id, ts, flags and decimals again
        stored = self._store.append(e[4], ts, v, flags, e[6], rel, True)
        e[0] = ts  # in place: add() allocates no per-sample object here
        e[1] = rel
        e[2] = flags
        e[3] = lead
        return stored

    def flush(self):
        self._check_open()
        self._store.flush()
        # a process that ends after this without close() (killed, a crash, a reset) leaves the
        # next one nothing to wait past the stamps a burst ran ahead of the clock (it would stamp
        # those ms again): they are waited for here, at most a second, and only after a burst
        _wait_ms(_stamps_ahead(self._last_ts, self.clock, True))

    # ---- uploading

    def _server(self):
        return _upload().server(self)

    def _client(self, timeout_ms):
        return _upload().client(self, timeout_ms)

    def _now(self, client=None):
        return _upload().now(self, client)

    def sync(self, budget_ms=None, feed=None):
        # Uploads what is due, oldest first, within budget_ms. Returns a report (dict); network and
        # server faults are reported in it, never raised. feed: a function called between batches
        # and between the network operations of a request (a watchdog's feed), or None.
        self._check_open()
        return _upload().sync(self, budget_ms, feed)

    def sync_async(self, budget_ms=None):
        # `await log.sync_async(budget_ms)`: sync() over asyncio streams, the same policy and report;
        # other tasks run while it waits for the network (and between body chunks). add() and
        # flush() from another task meanwhile are safe (aio.py says what that means on one core).
        self._check_open()
        from . import aio

        return aio.sync(self, budget_ms)

    def _save_state(self):
        # sync() never raises for a fault: a flash error or a MemoryError here is reported
        self._note_drops()
        try:
            self._state.save()
        except Exception as e:
            self.last_error = "state not saved: %s" % e

    def _note_drops(self):
        # the raw store's refusals since its last frame go with the state (see RawStore.drops)
        if self._raw:
            self._state.set("rawdrops", self._store.drops())

    def fill(self):
        # The fraction of the store's capacity its segments (or sectors) take, 0.0..1.0, without
        # reading the backlog: for deciding on an early upload at a wake that only samples. A
        # wake's journal answers it without opening the store (journal.Journal.usage).
        self._check_open()
        used, cap = self._store.usage()
        return min(1.0, used / cap) if cap else 0.0

    def upload_wait_ms(self):
        # 0 when sync() may send now; else the ms until it could: a back-off after a failure, or
        # the day's quota spent (until its UTC day turns: the server's, when it said so); None
        # when it never will (an unverified configuration: see unverified). Reads no backlog: for
        # deciding whether to bring the radio up. Pending samples are not looked at (stats()
        # counts them).
        self._check_open()
        if self.unverified:
            return None
        if self._jr is not None:  # a wake's journal: the books from the store's files (journal.py)
            return self._jr.wait_ms()
        return _upload().upload_wait_ms(self)

    def remote(self):
        # The settings read from Blynk datastreams (the "remote" section), as accepted at the last
        # sync that read them and kept in state.json: a deep-sleep wake has them without the
        # network. name -> value; {} without the section or before the first read. After close()
        # too, as stats(); a Logger taken over raises.
        self._check_held()
        if self._cfg.get("remote") is None:
            return {}
        from .remote_values import values

        return values(self)

    def stats(self):
        self._check_held()
        if self._closed:
            if self._final is None:  # a journal wake's close() left them to be asked for
                self._final = self._late_stats()
            return dict(self._final)  # as they were at close()
        return _upload().stats(self)

    def _late_stats(self):
        # The figures at close() of a wake whose journal stood in for the store, asked for after
        # it: the store opens for them (taking the journal in, as the next wake's would) and
        # closes again; {} when that fails, as at close()
        cell = self._cell
        if cell[0] is not None:  # another Logger took the store over since: it is not opened
            return {}
        self._closed = False
        cell[0] = self._own
        try:
            return self.stats()
        except Exception:
            return {}
        finally:
            self._closed = True
            cell[0] = None
            self._let_go()

    # ---- deep sleep and shutdown

    def before_sleep(self, planned_ms):
        # Call before deep sleep: makes the samples durable and keeps the clock's anchor.
        # planned_ms: the sleep's length, ms; a bad one is refused before anything is written
        self._check_open()
        if not isinstance(planned_ms, (int, float)) or isinstance(planned_ms, bool):
            raise TypeError("planned_ms must be a number (the sleep's ms), got %s" % type(planned_ms).__name__)
        if not 0 <= planned_ms < _INF:  # NaN compares false
            raise ValueError("planned_ms must be a finite number, 0 or more (the sleep's ms), got %r" % (planned_ms,))
        self._store.flush()
        # first: where the clock is at sleep is where the wake's boot-relative stamps go on from
        _wait_ms(_stamps_ahead(self._last_ts, self.clock) - planned_ms)
        self._note_drops()  # (in the clock's save)
        self.clock.before_sleep(planned_ms)
        self._save_state()

    def close(self):
        if self._closed:
            return
        if self._cell[0] is not self._own:  # taken over: it writes nothing more (_take_over)
            self._closed = True
            self._final = {}
            return
        if self._syncing and not _upload().left_behind(self):
            # a sync_async whose loop still runs (or a sync() whose hook calls this): closing the
            # store under it would end it in the middle of a batch. A left-behind one ends first.
            raise ValueError("a sync is running: await sync_async() (or cancel its task) before close()")
        try:
            self._store.flush()
        finally:
            # the figures for stats() after close(); a wake whose journal stands in for the store
            # leaves them to be asked for (_late_stats): its close() neither opens the store nor
            # loads the upload side, as a sampling wake's flush() does not
            self._final = None
            if self._jr is None or not self._jr.clean():  # a failed write's samples go to the store
                try:
                    self._final = self.stats()
                except Exception:
                    self._final = {}
            self._closed = True
            self._cell[0] = None  # the store is nobody's
            self._let_go()
            _wait_ms(_stamps_ahead(self._last_ts, self.clock))
            key = self._key
            _clocks[key] = self.clock.ended()
            cell = self._cell
            cell[3] = None
            # the store's entry goes with it, unless a file handle may still hold frames of it
            # (the flag), or the figures are to be asked for later (_late_stats: the entry says
            # whether another Logger holds the store then)
            if self._final is not None and not cell[2] and _holders.get(key) is cell:
                del _holders[key]

    def _check_open(self):
        # the public calls' first step (add() has it inline): closed, or its store taken over
        if self._closed or self._cell[0] is not self._own:
            self._refuse()

    def _check_held(self):
        # stats() and remote() answer after close(), not once another Logger took the store over
        if not self._closed and self._cell[0] is not self._own:
            self._refuse()

    def _refuse(self):
        if self._closed:
            raise ValueError("logger is closed")
        raise ValueError(
            "another Logger opened this one's store (store.path %r): this one writes nothing more"
            % self._cfg["store"]["path"]
        )

    def _let_go(self):
        self._store.close()
        self.clock._persist()  # the newest verified stamp (the step check's) for the next boot
        self._save_state()
        # the upload side (stats() loads it) leaves RAM with the Logger; a Logger still open keeps
        # the code it holds, and a later one imports it again
        for name in _UPLOAD_SIDE:
            _drop(name, False)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _take_over(path):
    # The holding cell of a Logger about to open the store at path (_one_spelling's). Another Logger of this
    # process holds it (a sketch that made its Logger again without closing the last one, or a
    # test's power cut): from here on it writes nothing (what it had not flushed is lost, as in a
    # power cut) and raises ValueError. Both writing to the store, the older one's flushes and
    # commits lost what the newer one wrote, and sent the rest twice. One whose sync still runs
    # is not taken over: the new Logger raises, as close() would (a sync_async its loop left
    # behind is).
    cell = _holders.get(path)
    if cell is None:
        cell = _holders[path] = [None, None, False, None]
    elif cell[1] is not None and cell[1]._syncing and not _upload().left_behind(cell[1]):
        raise ValueError("store.path %r: a Logger's sync is running on it; await it (or cancel its task) first" % path)
    cell[1] = None
    return cell


def _after_rel(clock, ts, rel, e):
    # add()'s this - last where the stream's last stamp (e) is boot-relative and this one (ts + rel)
    # a set clock's: that one placed by this boot's anchor (the clock set since, in this boot)
    return _ts_delta(ts, clock._base) + rel - (e[0] - clock._code0) - e[1]


def _stamps_ahead(entries, clock, moved=False):
    # The ms until the clock is past the latest clock stamp add() gave (a stream's stamps run
    # ahead of the clock while it takes more than one sample a ms; one not moved on may be of
    # this very ms), 0 when none is ahead. A Logger made after this one (a new process, a
    # take-over) knows nothing of them and would stamp in those ms again, where Blynk keeps one
    # value per ms of a stream (a wake's journal Logger closed and made again in under a ms did):
    # close(), before_sleep() (less the sleep) and a take-over wait that long, at most a second
    # and _PAST_MS. moved (flush()): the set clock's stamps moved on past it only.
    # A boot-relative stamp is measured by the boot's own ms, which a Logger made next in this
    # boot (or its wake after the sleep) goes on from: a ms past it is enough.
    ahead = 0
    r = a = None
    for e in entries.values():
        if e[3] < 0 or (moved and (not e[3] or e[2])):  # an explicit ts (or, moved: not ahead)
            continue
        if e[2]:  # boot-relative (the clock set since or not)
            d = e[0] - clock._code0 + e[1] - clock._elapsed() + 1
        elif a is None and not clock.is_set():  # (a Logger taking over: its clock not asked yet)
            continue
        else:  # a set clock's stamp
            if a is None:
                r = clock.now_rel()
                a = clock.anchor
            d = (e[0] - a) + (e[1] - r) + _PAST_MS  # that stamp - now, and a margin
            if d > _BUMP_MAX_MS + _PAST_MS:
                # further ahead than add() ever moves a stamp: the clock was set back since by
                # more than add() follows with moved-on stamps (a second), and no wait here
                # brings it there (close() waited a second, flush() at every call): the clock's
                # own ms, none for flush(). A smaller step back is waited out, as add() would
                # move the next stamps on past it
                if moved:
                    continue
                d = _PAST_MS
        if d > ahead:
            ahead = d
    return min(ahead, _BUMP_MAX_MS + _PAST_MS)


def _wait_ms(ms):
    if ms > 0:
        from .compat import sleep_ms

        sleep_ms(ms)


def _one_spelling(path):
    # a store's path as one key however it is spelt ("bl", "./bl/", "<cwd>/bl", "cfg/../bl"):
    # absolute, without "." parts, empty parts or a trailing slash, a ".." taking the part before
    # it away (as a file system without symbolic links, a board's, reads it)
    parts = []
    for p in _absolute(path).split("/"):
        if p == "..":
            if parts:
                parts.pop()
        elif p and p != ".":
            parts.append(p)
    return "/" + "/".join(parts)


def _checked(name, s, value):
    # add()'s checks of a value its inline path does not take (values.py, imported at the first)
    from .values import checked

    return checked(name, s, value)


def _plain_ts(ts):
    # add()'s ts that its inline check did not take: an int subclass's (an IntEnum member's) plain
    # int when that is a good ts (MicroPython cannot compare an int with one), else _bad_ts's error
    if isinstance(ts, int) and not isinstance(ts, bool) and type(ts) is not int:
        ts = int(ts)
        if _MIN_TS <= ts < _MAX_TS:
            return ts
    _bad_ts(ts)


def _bad_ts(ts, clock=None):
    # add()'s error for a ts that is no int, before 2001 or too far ahead (clock: an unset one,
    # whose max_year it is after)
    if type(ts) is not int:
        raise TypeError("ts must be an int (Unix milliseconds), got %s" % type(ts).__name__)
    if ts < _MIN_TS:
        raise ValueError("ts %d is before 2001: expected Unix milliseconds" % ts)
    if clock is not None:
        raise ValueError("ts %d is too far in the future (after %d, the clock's max_year)" % (ts, clock._max_year))
    raise ValueError("ts %d is too far in the future" % ts)


def _too_fast(stream):
    # add()'s error for a clock-stamped sample that would stamp its stream over _BUMP_MAX_MS ahead
    raise ValueError(
        "%s: more than one sample a ms: its clock stamp would be over %d ms ahead of the clock "
        "(Blynk keeps one value per ms of a stream); not stored: add less often, or give ts" % (stream, _BUMP_MAX_MS)
    )


# @micropython.native
def _ahead(clock, ts):
    # ts - now in ms (a set clock) where ts is ahead of the clock's anchor, else 0 (or less):
    # without a heap int on a 32-bit port for a ts in the past or within days ahead
    r = clock.now_rel()
    a = clock.anchor
    if ts <= a:
        return 0
    return _ts_delta(ts, a) - r


def _upload():
    # the Logger's upload side (logger_sync.py), imported at its first use
    from . import logger_sync

    return logger_sync
