# blynklog.config: load and validate the configuration (a dict, or the path of a JSON file).
# Every error is a ConfigError (a ValueError) whose message starts with the dotted key at fault,
# e.g. "streams.temperature.pin: expected 'V0'..'V255'". Returns a new, normalised dict with every
# default filled in; the caller's dict is not changed. Runs at Logger(), for a file only when it
# changed (the Logger keeps what this returned: the validated-config cache, blynklog/__init__.py);
# ConfigError and the DER check are defined there, for that cache. RAM: the dict.
from . import ConfigError, _DEFAULT_STORE_PATH, _absolute, _config_folder, _der_head, _looks_der
from . import _unverified_reason as unverified_reason  # noqa: F401  (re-exported)
from .compat import const, json

DEFAULT_SERVER = "https://blynk.cloud"
_MAX_STREAMS = const(64)
_MAX_SETTINGS = const(64)  # remote settings (remote.py keeps their answer's bytes per setting)
_MAX_NAME = const(32)
_MAX_PINS = const(256)
_MAX_YEAR = const(2070)  # the Clock's max_year (clock.py)

# Blynk's datastream types, and the names accepted for each
TYPES = {
    "int": "int",
    "integer": "int",
    "double": "double",
    "float": "double",
    "string": "string",
    "str": "string",
    "bool": "bool",
    "boolean": "bool",
    "enum": "enum",
    "location": "location",
}

# The top-level keys the Logger reads; keys starting with "_" are comments. The firmware checks a
# config.json's top level against these and its own keys (firmware/settings.py), so a typo there
# is an error rather than a default taken in silence.
KEYS = (
    "server",
    "api",
    "client_id",
    "client_secret",
    "token",
    "device_id",
    "ca",
    "insecure",
    "streams",
    "store",
    "limits",
    "upload",
    "clock",
    "remote",
    "health",
    "events",
    "devices",
)

# The store's folder. On a board the config sits at the file system's root, which is also the first
# entry of sys.path: a folder there named like a module is imported in its place at the next boot,
# __init__.py or not (so "time/data" beside the config hides time; a last folder so named hides it
# wherever sys.path reaches, /lib too). So the default is no identifier, and a path with any folder
# named as a module a board can import is refused: the package's, the firmware's and the boards'
# (firmware/, boards/), MicroPython's built-in modules on ESP32 and rp2 (each also after a "u":
# uos, utime, ujson, ...), the modules frozen into the stock ESP32 and RP2 / Pico W firmware
# (ports/*/modules, extmod/asyncio, micropython-lib's bundle-networking and the drivers their
# manifests require), a sketch's usual own, and on MicroPython whatever it has without a file
# (_builtin). A store made at the earlier default, "blynklog", is moved to the new one by the
# Logger (and by firmware/main.py before the package is imported).
DEFAULT_STORE_PATH = _DEFAULT_STORE_PATH
OLD_STORE_PATH = "blynklog"
SHADOWED_MODULES = (
    # the package, the firmware, the boards
    "blynklog",
    "app",
    "main",
    "boot",
    "board",
    "sensors",
    "settings",
    "hw",
    "errlog",
    "boardcheck",
    "uplink",
    "gateway",
    "gwpacket",
    "_vchip",
    # built into MicroPython on ESP32 and rp2
    "array",
    "binascii",
    "bluetooth",
    "btree",
    "builtins",
    "cmath",
    "collections",
    "cryptolib",
    "deflate",
    "errno",
    "esp",
    "esp32",
    "framebuf",
    "gc",
    "hashlib",
    "heapq",
    "io",
    "json",
    "lwip",
    "machine",
    "marshal",
    "math",
    "micropython",
    "network",
    "os",
    "platform",
    "random",
    "re",
    "rp2",
    "select",
    "socket",
    "ssl",
    "string",
    "struct",
    "sys",
    "time",
    "timeq",
    "tls",
    "uctypes",
    "vfs",
    "weakref",
    "websocket",
    "zlib",
    "_asyncio",
    "_espnow",
    "_onewire",
    "_rp2",
    "_thread",
    "_webrepl",
    # frozen into the stock ESP32 and RP2 / Pico W firmware (earlier releases' too)
    "asyncio",
    "requests",
    "ntptime",
    "mip",
    "webrepl",
    "webrepl_setup",
    "websocket_helper",
    "upip",
    "upip_utarfile",
    "neopixel",
    "apa106",
    "dht",
    "onewire",
    "ds18x20",
    "upysh",
    "umqtt",
    "espnow",
    "aioespnow",
    "aioble",
    "flashbdev",
    "inisetup",
    "_boot",
    "_boot_fat",
    # a sketch's own, by custom
    "config",
    "wifi",
    "secrets",
)


def _module(name):
    # The module a folder so named would stand in for, or None: the name without .py / .mpy, in
    # lower case (FAT matches a name in any case), when an import statement can name it.
    name = name.lower()  # first: "TIME.PY" stands in for time as "time.py" does
    for suffix in (".py", ".mpy"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    if not name or "0" <= name[0] <= "9":
        return None
    for ch in name:
        if not ("a" <= ch <= "z" or "0" <= ch <= "9" or ch == "_"):
            return None
    if name in SHADOWED_MODULES or (name[0] == "u" and name[1:] in SHADOWED_MODULES) or _builtin(name):
        return name
    return None


def _builtin(name):
    # On MicroPython: whether it has a module of this name without a file, built in (a port's or a
    # custom firmware's own) or imported already. sys.path holds only a folder that does not exist
    # meanwhile, so that no file (a frozen one neither) is run by the look-up (an empty sys.path
    # means built-ins only from MicroPython 1.22, the current folder before). CPython runs on no
    # board: not asked.
    import sys

    if sys.implementation.name != "micropython":
        return False
    path = sys.path
    saved = path[:]
    path.clear()
    path.append("/.blynklog-no-such-folder")
    try:
        __import__(name)
        return True
    except ImportError:
        return False
    except Exception:  # a module that is there but failed to start
        return True
    finally:
        path.clear()
        path.extend(saved)


_STORE_DEFAULTS = {
    "path": DEFAULT_STORE_PATH,
    "capacity": 262144,
    "on_full": "drop_oldest",
    "backend": "littlefs",
    "flush_records": None,
    "flush_bytes": None,
    "flush_ms": None,
    "partition": None,
    "start": None,
    "length": None,
}

_LIMIT_DEFAULTS = {
    "points_per_day": 10000,
    "max_age_days": 30,
    "points_per_request": 1000,
    "max_request_bytes": 1048576,
    "stale_margin_s": 3600,
    "future_tolerance_s": 600,
    "requests_per_s": 50,
}

_UPLOAD_DEFAULTS = {
    "backlog_policy": "oldest_first",
    "timeout_ms": 10000,
    "budget_ms": None,
    "retry_base_s": 10,
    "retry_max_s": 3600,
    "park_s": 3600,
    "transport": "socket",
}

_CLOCK_DEFAULTS = {
    "ntp_host": None,
    "min_year": 2025,
    "max_step_back_s": 600,
}


def _fail(key, message):
    raise ConfigError("%s: %s" % (key, message))


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _int(key, v, lo, hi, allow_none=False):
    if v is None and allow_none:
        return None
    if not _is_int(v):
        _fail(key, "expected an integer, got %s" % type(v).__name__)
    if v < lo or v > hi:
        _fail(key, "must be between %d and %d, got %d" % (lo, hi, v))
    return v


def _name(section, name):
    # a name of a section's entries (a stream, a device, a setting): its error names the entry,
    # as "streams.<name>: ...", not the section alone
    if isinstance(name, str) and name:
        _str(section + "." + name, name, max_len=_MAX_NAME)
    else:
        _str(section, name)  # no str, or empty: "<section>: expected a string / must not be empty"
    return section + "." + name


def _str(key, v, allow_empty=False, max_len=4096):
    if not isinstance(v, str):
        _fail(key, "expected a string, got %s" % type(v).__name__)
    if not v and not allow_empty:
        _fail(key, "must not be empty")
    if len(v) > max_len:
        _fail(key, "too long (%d characters, at most %d)" % (len(v), max_len))
    try:
        v.encode()
    except UnicodeError:  # CPython's half of a surrogate pair: no file or datastream can hold it
        _fail(key, "not valid Unicode text")
    return v


def _word(s, extra, letters=True):
    # whether s has only ASCII digits (and letters), or characters of extra: compared by character
    # ranges, since str.isalpha() and str.isdigit() take any script's letters and digits on CPython
    # and only ASCII on MicroPython (a token a host validated would fail on the board)
    for ch in s:
        if not ("0" <= ch <= "9" or (letters and ("a" <= ch <= "z" or "A" <= ch <= "Z")) or ch in extra):
            return False
    return True


def _choice(key, v, choices):
    if v not in choices:
        _fail(key, "expected one of %s, got %r" % (", ".join(choices), v))
    return v


def _ordered(d):
    # a section's keys in the order of their names: of two faults, the same one is named on every
    # runtime (MicroPython's dict keeps no order; a dict configuration's keys may be no str)
    return sorted(d, key=str)


def _given(d, key, default):
    # d[key], or the default when it is left out or null ("null means the default", as the
    # example configuration's notes say)
    v = d.get(key)
    return default if v is None else v


def _section(cfg, name, defaults):
    given = cfg.get(name)
    if given is None:
        given = {}
    if not isinstance(given, dict):
        _fail(name, "expected an object, got %s" % type(given).__name__)
    for k in _ordered(given):
        if k not in defaults:
            _fail("%s.%s" % (name, k), "unknown key (known: %s)" % ", ".join(sorted(defaults)))
    out = {}
    for k in defaults:
        out[k] = _given(given, k, defaults[k])
    return out


def _host(key, host):
    # An IPv4 address, or a DNS name: labels of 1..63 ASCII letters, digits and hyphens, no hyphen
    # at a label's ends, 253 characters in all. Compared by character ranges, not str.isalpha(),
    # which takes any script's letters on CPython and only ASCII on MicroPython.
    if host and not host.strip("0123456789."):
        parts = host.split(".")
        if len(parts) != 4 or [n for n in parts if not 0 < len(n) < 4 or int(n) > 255]:
            _fail(key, "bad IPv4 address %r" % host)
        return
    if not host or len(host) > 253:
        _fail(key, "bad host name %r: 1 to 253 characters" % host)
    for label in host.split("."):
        ok = 0 < len(label) < 64 and label[0] != "-" and label[-1] != "-"
        for ch in label:
            if not ("a" <= ch <= "z" or "A" <= ch <= "Z" or "0" <= ch <= "9" or ch == "-"):
                ok = False
        if not ok:
            _fail(
                key,
                "bad host name %r: dot-separated labels of 1 to 63 ASCII letters, digits and "
                "hyphens, no hyphen first or last" % host,
            )


def parse_server(url, key="server"):
    # -> (scheme, host, port, base_url). A bare host name means https on 443.
    _str(key, url, max_len=267)  # "https://", a 253-character host, ":65535"
    scheme = "https"
    rest = url
    if "://" in url:
        scheme, rest = url.split("://", 1)
        scheme = scheme.lower()  # a URL's scheme is case-insensitive: HTTPS:// is https://
        if scheme not in ("https", "http"):
            _fail(key, "scheme must be https or http, got %r" % scheme)
    rest = rest.rstrip("/")
    if "/" in rest or "?" in rest or "@" in rest or not rest:
        _fail(key, "expected https://host[:port], got %r" % url)
    host = rest
    port = 443 if scheme == "https" else 80
    if rest.startswith("["):
        _fail(key, "IPv6 literals are not supported")
    if ":" in rest:
        host, p = rest.rsplit(":", 1)
        if not p or len(p) > 5 or p.strip("0123456789"):  # ASCII digits only, as on every runtime
            _fail(key, "bad port %r" % p)
        port = int(p)
        if port < 1 or port > 65535:
            _fail(key, "bad port %d" % port)
    _host(key, host)
    base = "%s://%s" % (scheme, host)
    if port != (443 if scheme == "https" else 80):
        base = "%s:%d" % (base, port)
    return scheme, host, port, base


def _join(base_dir, path):
    if path.startswith("/") or not base_dir:
        return path
    return base_dir.rstrip("/") + "/" + path


def _stream(key, s, api):
    if not isinstance(s, dict):
        _fail(key, "expected an object, got %s" % type(s).__name__)
    known = ("id", "pin", "type", "decimals")
    for k in _ordered(s):
        if k not in known:
            _fail("%s.%s" % (key, k), "unknown key (known: %s)" % ", ".join(known))
    out = {}
    sid = s.get("id")
    if sid is None:
        if api == "platform":
            _fail(key + ".id", "required for api 'platform' (the datastream id)")
    else:
        _int(key + ".id", sid, 0, 2147483647)
    out["id"] = sid
    pin = s.get("pin")
    if pin is None:
        if api == "device":
            _fail(key + ".pin", "required for api 'device' (e.g. 'V1')")
    else:
        _str(key + ".pin", pin)
        ok = len(pin) >= 2 and pin[0] in "Vv" and _word(pin[1:], "", False) and len(pin) <= 4
        if not ok or int(pin[1:]) >= _MAX_PINS:
            _fail(key + ".pin", "expected a virtual pin 'V0'..'V255', got %r" % pin)
        pin = "V" + str(int(pin[1:]))
    out["pin"] = pin
    t = _given(s, "type", "double")
    if not isinstance(t, str) or t.lower() not in TYPES:
        _fail(key + ".type", "expected one of int, double, string, bool, enum, location; got %r" % (t,))
    out["type"] = TYPES[t.lower()]
    dec = s.get("decimals")
    if dec is not None:
        _int(key + ".decimals", dec, 0, 6)
        if out["type"] not in ("double", "location"):
            _fail(key + ".decimals", "only for double or location streams")
    out["decimals"] = dec
    return out


# remote, health and events (blynklog/remote.py does them): the section's own options, and what
# each may map
_REMOTE_OPTIONS = {"read_every_s": 3600}
_SETTING_KEYS = ("pin", "type", "min", "max", "id")
HEALTH_METRICS = ("pending", "dropped", "rejected", "heap", "rssi", "battery_mv", "wakes", "upload_s")
_HEALTH_OPTIONS = {"share": 0.05}
EVENT_CONDITIONS = ("store_dropping", "clock_unset", "stream_parked", "auth_failing")
_EVENT_OPTIONS = {"clock_unset_h": 24}


def _options(cfg, name, options):
    # -> (the section, its options with defaults) or (None, None) when it is absent
    sec = cfg.get(name)
    if sec is None:
        return None, None
    if not isinstance(sec, dict) or not sec:
        _fail(name, "expected an object with at least one entry")
    opts = {}
    for k in options:
        opts[k] = _given(sec, k, options[k])
    return sec, opts


def _pin(key, pin):
    _str(key, pin, max_len=4)
    if len(pin) < 2 or pin[0] not in "Vv" or not _word(pin[1:], "", False) or int(pin[1:]) >= _MAX_PINS:
        _fail(key, "expected a virtual pin 'V0'..'V255', got %r" % pin)
    return "V" + str(int(pin[1:]))


def _remote(cfg, api, streams):
    # "remote": {"name": "V20" | {"pin", "type" int|double (double), "min", "max", "id"}, ...,
    # "read_every_s": 3600}. A setting's datastream is neither a stream's nor another setting's.
    sec, out = _options(cfg, "remote", _REMOTE_OPTIONS)
    if sec is None:
        return None
    _int("remote.read_every_s", out["read_every_s"], 0, 30 * 86400)
    pins = [streams[n]["pin"] for n in streams]
    ids = [streams[n]["id"] for n in streams]
    settings = out["settings"] = {}
    for name in _ordered(sec):
        if name in _REMOTE_OPTIONS:
            continue
        key = _name("remote", name)
        if "\n" in name:  # (README: as a stream's)
            _fail(key, "a setting's name has no newline")
        s = sec[name]
        if isinstance(s, str):
            s = {"pin": s}
        if not isinstance(s, dict) or "pin" not in s:
            _fail(key, "expected a pin 'V20' or an object with pin, type, min, max, id")
        for k in _ordered(s):
            if k not in _SETTING_KEYS:
                _fail("%s.%s" % (key, k), "unknown key (known: %s)" % ", ".join(_SETTING_KEYS))
        pin = _pin(key + ".pin", s["pin"])
        t = _given(s, "type", "double")
        if not isinstance(t, str) or TYPES.get(t.lower()) not in ("int", "double"):
            _fail(key + ".type", "expected int or double, got %r" % (t,))
        t = TYPES[t.lower()]
        bounds = []
        for k in ("min", "max"):
            v = s.get(k)
            if v is not None and (
                not isinstance(v, (int, float)) or isinstance(v, bool) or (t == "int" and not _is_int(v)) or v != v
            ):
                _fail("%s.%s" % (key, k), "expected a number of the setting's type (%s)" % t)
            bounds.append(v)
        if bounds[0] is not None and bounds[1] is not None and bounds[0] > bounds[1]:
            _fail(key + ".min", "more than max")
        sid = _int(key + ".id", _given(s, "id", int(pin[1:])), 0, 2147483647)
        if api == "platform" and sid in ids:
            # the Platform API reads datastream ids: the id at fault (the pin's number when not given)
            _fail(
                key + (".id" if "id" in s else ".pin"),
                "datastream id %d is already the datastream of a stream or another setting" % sid,
            )
        if pin in pins:
            _fail(key + ".pin", "%s is already the datastream of a stream or another setting" % pin)
        pins.append(pin)
        ids.append(sid)
        settings[name] = {"pin": pin, "id": sid, "type": t, "min": bounds[0], "max": bounds[1]}
    if not settings:
        _fail("remote", "no setting: map a name to a pin, e.g. {\"sample_every_s\": \"V20\"}")
    if len(settings) > _MAX_SETTINGS:
        _fail("remote", "at most %d settings" % _MAX_SETTINGS)
    return out


def _health(cfg, streams, per_day):
    # "health": {"metric": "stream name", ..., "share": 0.05}: the Logger adds the metric to that
    # stream (int or double) once per sync, within share x points_per_day a UTC day
    sec, out = _options(cfg, "health", _HEALTH_OPTIONS)
    if sec is None:
        return None
    share = out["share"]
    if not isinstance(share, (int, float)) or isinstance(share, bool) or not 0 < share <= 1:
        _fail("health.share", "a fraction of limits.points_per_day, more than 0 and at most 1")
    # share x per_day, whole: a product within a millionth of a whole number is that number (0.57 x
    # 100 is 56.99999999999999 in a double and 57.0 in a float32: 57 on every port), else rounded down
    x = share * per_day
    n = int(x + 0.5)
    out["per_day"] = n if -1e-6 * x <= x - n <= 1e-6 * x else int(x)
    metrics = out["metrics"] = {}
    for k in _ordered(sec):
        if k in _HEALTH_OPTIONS:
            continue
        if k not in HEALTH_METRICS:
            _fail("health.%s" % (k,), "unknown metric (known: %s, share)" % ", ".join(HEALTH_METRICS))
        name = sec[k]
        if not isinstance(name, str) or name not in streams:
            _fail("health." + k, "expected the name of a stream in streams, got %r" % (name,))
        if streams[name]["type"] not in ("int", "double"):
            _fail("health." + k, "stream %r must be an int or double stream" % name)
        if name in metrics.values():
            _fail("health." + k, "stream %r already holds another metric" % name)
        metrics[k] = name
    if not metrics:
        _fail("health", "no metric: map one of %s to a stream" % ", ".join(HEALTH_METRICS))
    return out


def _events(cfg, api):
    # "events": {"condition": "event code", ..., "clock_unset_h": 24}: Blynk's logEvent (Device API)
    sec, out = _options(cfg, "events", _EVENT_OPTIONS)
    if sec is None:
        return None
    if api != "device":
        _fail("events", "needs api 'device': events go through the Device API's logEvent")
    _int("events.clock_unset_h", out["clock_unset_h"], 1, 24 * 365)
    codes = out["codes"] = {}
    for k in _ordered(sec):
        if k in _EVENT_OPTIONS:
            continue
        if k not in EVENT_CONDITIONS:
            _fail("events.%s" % (k,), "unknown condition (known: %s, clock_unset_h)" % ", ".join(EVENT_CONDITIONS))
        code = _str("events." + k, sec[k], max_len=50)
        if not _word(code, "_-"):
            _fail("events." + k, "an event code has letters, digits, '_' and '-' only, got %r" % code)
        if code in codes.values():
            _fail("events." + k, "code %r is another condition's (Blynk spaces one code's events 1 s apart)" % code)
        codes[k] = code
    if not codes:
        _fail("events", "no condition: map one of %s to an event code" % ", ".join(EVENT_CONDITIONS))
    return out


# Lead bytes of what MicroPython's decoder takes and UTF-8 (and CPython) does not: overlong forms,
# surrogates, code points past U+10FFFF; each with the range of its next byte that makes it so
_NOT_UTF8 = (
    (0xC0, 0x80, 0xC0),
    (0xC1, 0x80, 0xC0),
    (0xE0, 0x80, 0xA0),
    (0xED, 0xA0, 0xC0),
    (0xF0, 0x80, 0x90),
    (0xF4, 0x90, 0xC0),
    (0xF5, 0x80, 0xC0),
    (0xF6, 0x80, 0xC0),
    (0xF7, 0x80, 0xC0),
)


def _strict_utf8(data):
    # data decoded without error: False when it holds one of _NOT_UTF8 (a lead byte is never a
    # follower, and the decoder saw the followers there)
    for lead, lo, hi in _NOT_UTF8:
        b = bytes((lead,))
        i = data.find(b)
        while i >= 0:
            if lo <= data[i + 1] < hi:
                return False
            i = data.find(b, i + 1)
    return True


def load(config, data=None):
    # -> the validated configuration with defaults; raises ConfigError naming the key.
    # Relative paths are taken from the config file's folder, or the current folder for a dict,
    # and made absolute here: a later os.chdir() moves neither the store nor the CA files.
    # data: the file's bytes when the caller read them already (the Logger, for its cache).
    base_dir = _absolute("")
    if isinstance(config, str):
        path = config
        if data is None:
            try:
                with open(path, "rb") as f:
                    data = f.read()
            except OSError as e:
                _fail("config", "cannot read %r (%s)" % (path, e))
        try:
            text = str(data, "utf-8")
            ok = len(text) == len(data) or _strict_utf8(data)
        except UnicodeError:
            text = ""
            ok = False
        if not ok:
            _fail("config", "%r is not UTF-8 text" % path)
        if text[:1] == "\ufeff":  # Windows editors write one; JSON has none (RFC 8259)
            _fail("config", "%r starts with a byte order mark: save it as UTF-8 without BOM" % path)
        from . import _drop, _loaded

        had = _loaded("json_check")
        from .json_check import check  # its own module: compiled from .py apart from this one

        try:
            check(data)
        except ValueError as e:
            at, what = e.args
            line = data.count(b"\n", 0, at) + 1
            _fail(
                "config",
                "%r is not valid JSON (line %d, byte %d: %s)" % (path, line, at - data.rfind(b"\n", 0, at), what),
            )
        finally:
            check = None
            _drop("json_check", had)
        try:
            config = json.loads(text)
        except (ValueError, RuntimeError, MemoryError) as e:  # nesting too deep for the parser
            _fail("config", "%r is not valid JSON (%s)" % (path, e))
        base_dir = _config_folder(path)
    if not isinstance(config, dict):
        _fail("config", "expected an object (dict) or a file path, got %s" % type(config).__name__)
    return _validate(config, base_dir)


def _validate(cfg, base_dir):
    out = {}
    scheme, host, port, base = parse_server(_given(cfg, "server", DEFAULT_SERVER))
    out["server"] = base
    out["insecure"] = _given(cfg, "insecure", False)
    if not isinstance(out["insecure"], bool):
        _fail("insecure", "expected true or false")

    api = cfg.get("api")
    if api is None:
        # the one that has its credentials, when only one has
        has_token = cfg.get("token") is not None
        has_client = cfg.get("client_id") is not None
        if not has_token and not has_client:
            _fail(
                "token",
                "required: the device's auth token (api 'device'), or client_id, client_secret and "
                "device_id (api 'platform')",
            )
        if has_token and has_client:
            _fail("api", "required when both token and client_id are given: 'device' or 'platform'")
        api = "device" if has_token else "platform"
    out["api"] = _choice("api", api, ("platform", "device"))
    if api == "platform":
        for key in ("client_id", "client_secret"):
            if cfg.get(key) is None:
                _fail(key, "required for api 'platform'")
            out[key] = _str(key, cfg[key], max_len=256)
        if cfg.get("device_id") is not None or "devices" not in cfg or cfg.get("streams"):
            if cfg.get("device_id") is None:
                _fail("device_id", "required for api 'platform'")
            out["device_id"] = _int("device_id", cfg.get("device_id"), 0, 2147483647)
        else:
            out["device_id"] = None  # a gateway whose devices are all under "devices"
        out["token"] = None
    else:
        if "token" not in cfg:
            _fail("token", "required for api 'device' (the device's auth token)")
        out["token"] = _str("token", cfg.get("token"), max_len=256)
        if not _word(out["token"], "-_."):
            _fail("token", "contains a character a token cannot have")
        out["device_id"] = cfg.get("device_id")
        out["client_id"] = out["client_secret"] = None

    ca = cfg.get("ca")
    cas = []
    if ca is not None:
        names = ca if isinstance(ca, list) else [ca]
        if not names:
            _fail("ca", "an empty list: give at least one DER certificate file")
        for i, name in enumerate(names):
            key = "ca" if not isinstance(ca, list) else "ca[%d]" % i
            _str(key, name)
            path = _join(base_dir, name)
            try:
                der, size = _der_head(path)
            except (OSError, ValueError) as e:  # ValueError: a NUL in the name (CPython)
                _fail(key, "cannot read certificate %r (%s)" % (path, e))
            if not _looks_der(der, size):
                if der[:1] == b"0":  # an ASN.1 SEQUENCE whose length is not the file's
                    _fail(key, "%r is not a whole DER certificate (truncated or damaged?)" % path)
                _fail(key, "%r is not a DER certificate (PEM? convert it: tools/certs.py --der FILE)" % path)
            cas.append(path)
    out["ca"] = cas
    # Without a CA the server cannot be verified: logging works, uploading waits for either a 'ca'
    # or an explicit "insecure": true (the Logger says so loudly; see unverified_reason()).

    streams = cfg.get("streams")
    if (streams is None or streams == {}) and cfg.get("devices") is not None:
        streams = {}  # a gateway may have no streams of its own (top-level device): left out, or {}
    elif not isinstance(streams, dict) or not streams:
        _fail("streams", "expected an object with at least one stream")
    if len(streams) > _MAX_STREAMS:
        _fail("streams", "at most %d streams" % _MAX_STREAMS)
    out["streams"] = {}
    for name in _ordered(streams):
        _name("streams", name)
        if "\n" in name or len(name.encode()) > 2 * _MAX_NAME:  # what the store can keep
            _fail("streams." + name, "a stream's name has no newline and at most 64 bytes of UTF-8")
        st = out["streams"][name] = _stream("streams." + name, streams[name], api)
        # two streams writing one datastream would mix their points (and their timestamps)
        key = "id" if api == "platform" else "pin"
        for other in out["streams"]:
            if other != name and out["streams"][other][key] == st[key]:
                # the one whose name sorts last is named: the same error on every runtime, whatever
                # order the dict gives (MicroPython's keeps none)
                a, b = (name, other) if other < name else (other, name)
                _fail("streams.%s.%s" % (a, key), "%s is already the datastream of stream %r" % (st[key], b))

    store = _section(cfg, "store", _STORE_DEFAULTS)
    path = _str("store.path", store["path"], max_len=200)
    if "\x00" in path:
        _fail("store.path", "contains a NUL character")
    for part in path.split("/"):
        name = _module(part)
        if name:
            _fail(
                "store.path",
                "%r: its folder %r would be imported in place of the module %r at the next boot; "
                "use names that are not a module's, such as %r" % (path, part, name, DEFAULT_STORE_PATH),
            )
    store["path"] = _join(base_dir, path)
    # where the earlier default would have put the store, for the Logger's one-time move
    store["old_path"] = _join(base_dir, OLD_STORE_PATH) if path == DEFAULT_STORE_PATH else None
    _int("store.capacity", store["capacity"], 16384, 1 << 30)
    _choice("store.on_full", store["on_full"], ("drop_oldest", "drop_newest"))
    _choice("store.backend", store["backend"], ("littlefs", "raw"))
    _int("store.flush_records", store["flush_records"], 1, 100000, True)
    _int("store.flush_bytes", store["flush_bytes"], 1, 1 << 20, True)
    _int("store.flush_ms", store["flush_ms"], 0, 86400000, True)
    if store["partition"] is not None:
        _str("store.partition", store["partition"], max_len=16)
    _int("store.start", store["start"], 0, 1 << 30, True)
    _int("store.length", store["length"], 8192, 1 << 30, True)
    for k in ("start", "length"):
        if store[k] is not None and store[k] % 4096:
            _fail("store." + k, "a multiple of 4096 (the flash's erase block), got %d" % store[k])
    for k in ("partition", "start", "length"):
        # a region given for a littlefs store would be left unused without a word (backend forgotten)
        if store[k] is not None and store["backend"] != "raw":
            _fail("store." + k, 'the raw backend\'s region: give "backend": "raw" with it, or leave it out')
    out["store"] = store

    limits = _section(cfg, "limits", _LIMIT_DEFAULTS)
    _int("limits.points_per_day", limits["points_per_day"], 1, 100000000)
    _int("limits.max_age_days", limits["max_age_days"], 1, 3650)
    _int("limits.points_per_request", limits["points_per_request"], 1, 10000)
    _int("limits.max_request_bytes", limits["max_request_bytes"], 1024, 2000000)
    _int("limits.stale_margin_s", limits["stale_margin_s"], 0, 864000)
    _int("limits.future_tolerance_s", limits["future_tolerance_s"], 0, 86400)
    _int("limits.requests_per_s", limits["requests_per_s"], 1, 1000)
    if limits["stale_margin_s"] >= limits["max_age_days"] * 86400:
        _fail("limits.stale_margin_s", "must be less than max_age_days")
    out["limits"] = limits

    upload = _section(cfg, "upload", _UPLOAD_DEFAULTS)
    _choice("upload.backlog_policy", upload["backlog_policy"], ("oldest_first", "newest_first", "spread"))
    _int("upload.timeout_ms", upload["timeout_ms"], 100, 600000)
    _int("upload.budget_ms", upload["budget_ms"], 1, 86400000, True)
    _int("upload.retry_base_s", upload["retry_base_s"], 0, 86400)
    _int("upload.retry_max_s", upload["retry_max_s"], 0, 7 * 86400)
    _int("upload.park_s", upload["park_s"], 0, 7 * 86400)
    _choice("upload.transport", upload["transport"], ("socket", "requests"))
    if upload["transport"] == "requests" and scheme == "https" and not out["insecure"]:
        # that module cannot verify a certificate (requests_transport.py): every sync would fail
        _fail(
            "upload.transport",
            "'requests' cannot verify the https server's certificate against ca: use 'socket', "
            "an http:// server, or insecure: true",
        )
    out["upload"] = upload

    clock = _section(cfg, "clock", _CLOCK_DEFAULTS)
    if clock["ntp_host"] is not None:
        _host("clock.ntp_host", _str("clock.ntp_host", clock["ntp_host"], max_len=253))  # a name, no URL or port
    # the clock counts as set from min_year to its max_year (clock.py: 2070): a later min_year
    # would refuse every time, NTP's and the server's Date too, and no sample would ever go
    _int("clock.min_year", clock["min_year"], 2001, _MAX_YEAR)
    _int("clock.max_step_back_s", clock["max_step_back_s"], 0, 86400 * 365)
    out["clock"] = clock
    out["remote"] = _remote(cfg, api, out["streams"])
    # the top-level device's, as remote: before a gateway's devices add theirs to the streams (a
    # device's stream would take the health points on that device's quota)
    out["health"] = _health(cfg, out["streams"], limits["points_per_day"])
    out["devices"] = None
    if cfg.get("devices") is not None:
        from .devices import validate  # a gateway's devices, their streams added to out["streams"]

        out["devices"] = validate(cfg, api, out)
    out["events"] = _events(cfg, api)
    out["base_dir"] = base_dir
    return out
