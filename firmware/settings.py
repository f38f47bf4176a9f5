# settings: the firmware's own keys of config.json, validated at boot with defaults filled in.
# They sit at the top level beside the Logger's keys (which blynklog.Logger validates itself and
# which ignores these). Every error is a ValueError whose message starts with the key at fault,
# e.g. "sensors[1].stream: unknown stream 'humidty'". Runs once per boot; RAM: the result dict.
import json

from blynklog.compat import const
from blynklog.config import KEYS as LOGGER_KEYS
from blynklog.config import TYPES, _given  # (_given: null takes the default, as the Logger's keys)

_MAX_SENSORS = const(16)
_SLEEP_MODES = ("auto", "deep", "light", "none")

DEFAULTS = {
    "sample_every_s": 60,
    "upload_every_s": 3600,
    "fill_threshold": 0.5,
    "radio_budget_ms": 30000,
    "flush_every_s": 600,
    "sleep": "auto",
    "watchdog_ms": None,
    "ntp_every_s": 86400,
    "log_file": "error.log",
    "log_max_bytes": 4096,
    "verbose": False,
    "battery_stream": None,
    "battery_min": None,
    "asyncio": False,  # sampling and uploading as two asyncio tasks (app.App.run_async)
}
SECTIONS = ("wifi", "sensors", "board")  # the firmware's own objects beside DEFAULTS' keys
WIFI_DEFAULTS = {"ssid": None, "password": "", "timeout_ms": 15000, "country": None, "hostname": None}
I2C_KEYS = ("id", "scl", "sda", "freq")
# per sensor type: the keys it takes besides type/stream/streams, and its fields
SENSOR_KEYS = {
    "mcu_temp": (),
    "adc": ("pin", "scale", "offset", "atten", "samples"),
    "sht3x": ("i2c", "address"),
    "aht20": ("i2c", "address"),
    "sim": ("base", "amplitude", "period_s", "noise", "seed", "decimals"),
    "replay": ("file", "fields"),
}
FIELDS = {
    "mcu_temp": ("temperature",),
    "adc": ("value",),
    "sht3x": ("temperature", "humidity"),
    "aht20": ("temperature", "humidity"),
    "sim": ("value",),
}


def _fail(key, message):
    raise ValueError("%s: %s" % (key, message))


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _int(key, v, lo, hi, allow_none=False):
    if v is None and allow_none:
        return None
    if not _is_int(v):
        _fail(key, "expected an integer")
    if v < lo or v > hi:
        _fail(key, "must be between %d and %d, got %d" % (lo, hi, v))
    return v


def _num(key, v):
    if not _is_num(v):
        _fail(key, "expected a number")
    return v


def _i2c(key, v):
    if v is None:
        return None
    if _is_int(v):
        v = {"id": v}
    if not isinstance(v, dict):
        _fail(key, "expected a bus number or an object with id, scl, sda, freq")
    for k in v:
        if k not in I2C_KEYS:
            _fail("%s.%s" % (key, k), "unknown key (known: %s)" % ", ".join(I2C_KEYS))
        _int("%s.%s" % (key, k), v[k], 0, 1000000 if k == "freq" else 64)
    return v


def _sensor(key, s, streams):
    if not isinstance(s, dict):
        _fail(key, "expected an object")
    kind = s.get("type")
    if kind not in SENSOR_KEYS:
        _fail(key + ".type", "expected one of %s, got %r" % (", ".join(SENSOR_KEYS), kind))
    known = ("type", "stream", "streams") + SENSOR_KEYS[kind]
    for k in s:
        if k not in known:
            _fail("%s.%s" % (key, k), "unknown key for a %s sensor (known: %s)" % (kind, ", ".join(known)))
    out = dict(s)
    if kind == "adc":
        if "pin" not in s:
            _fail(key + ".pin", "required for an adc sensor")
        _int(key + ".pin", s["pin"], 0, 64)
        _num(key + ".scale", s.get("scale", 1.0))
        _num(key + ".offset", s.get("offset", 0.0))
        _int(key + ".atten", s.get("atten"), 0, 3, True)
        _int(key + ".samples", s.get("samples", 1), 1, 64)
    elif kind in ("sht3x", "aht20"):
        out["i2c"] = _i2c(key + ".i2c", s.get("i2c"))
        _int(key + ".address", s.get("address", 0x44 if kind == "sht3x" else 0x38), 8, 119)
    elif kind == "sim":
        for k in ("base", "amplitude", "noise"):
            _num("%s.%s" % (key, k), s.get(k, 0.0))
        _int(key + ".period_s", s.get("period_s", 86400), 1, 10 * 365 * 86400)
        _int(key + ".seed", s.get("seed", 1), 0, 2147483647)
        _int(key + ".decimals", s.get("decimals", 2), 0, 6)
    elif kind == "replay":
        if not isinstance(s.get("file"), str) or not s["file"]:
            _fail(key + ".file", "required: the CSV file (ts_ms,stream,value)")
        f = s.get("fields")
        if not isinstance(f, list) or not f or [x for x in f if not isinstance(x, str)]:
            _fail(key + ".fields", "required: a list of the stream names of the CSV file")
    fields = tuple(s["fields"]) if kind == "replay" else FIELDS[kind]
    # which stream each field goes to: "stream" for the first field, or "streams": {field: stream}
    mapping = []
    if "stream" in s:
        if "streams" in s:
            _fail(key + ".stream", "give either stream or streams, not both")
        mapping.append((0, s["stream"], key + ".stream"))
    elif isinstance(s.get("streams"), dict) and s["streams"]:
        for field in s["streams"]:
            if field not in fields:
                _fail("%s.streams.%s" % (key, field), "a %s sensor has the fields %s" % (kind, ", ".join(fields)))
            mapping.append((fields.index(field), s["streams"][field], "%s.streams.%s" % (key, field)))
    else:
        _fail(key + ".stream", "required: the stream to log into (or streams: {field: stream})")
    for i, name, k in mapping:
        if not isinstance(name, str) or name not in streams:
            _fail(k, "unknown stream %r (not in streams)" % (name,))
        # every sensor reads floats (sensors.py), which only a double stream takes: another type
        # would refuse every sample (the Logger checks the stream itself)
        st = streams[name]
        t = st.get("type", "double") if isinstance(st, dict) else "double"
        if isinstance(t, str) and TYPES.get(t.lower(), "double") != "double":
            _fail(
                k,
                "stream %r is of type %r: a sensor's readings are numbers with a fraction, for a double stream"
                % (name, t),
            )
    out["map"] = [(i, name) for i, name, _ in mapping]
    return out


def load(raw, board_needs_wifi=True):
    # raw: the parsed config.json (a dict). -> the firmware settings; raises ValueError naming the key.
    if not isinstance(raw, dict):
        _fail("config", "expected a JSON object")
    # the top level holds the Logger's keys and the firmware's; "_" starts a comment
    for k in raw:
        if not (k.startswith("_") or k in DEFAULTS or k in SECTIONS or k in LOGGER_KEYS):
            known = sorted(LOGGER_KEYS + SECTIONS + tuple(DEFAULTS))
            _fail(k, "unknown key (known: %s; keys starting with '_' are comments)" % ", ".join(known))
    out = {}
    for k in DEFAULTS:
        out[k] = _given(raw, k, DEFAULTS[k])
    _int("sample_every_s", out["sample_every_s"], 1, 86400)
    _int("upload_every_s", out["upload_every_s"], 1, 30 * 86400)
    _num("fill_threshold", out["fill_threshold"])
    if not 0 < out["fill_threshold"] <= 1:
        _fail("fill_threshold", "a fraction of store.capacity, more than 0 and at most 1")
    _int("radio_budget_ms", out["radio_budget_ms"], 1000, 600000)
    _int("flush_every_s", out["flush_every_s"], 0, 86400)
    if out["sleep"] not in _SLEEP_MODES:
        _fail("sleep", "expected one of %s, got %r" % (", ".join(_SLEEP_MODES), out["sleep"]))
    if out["watchdog_ms"] == 0:
        _fail(
            "watchdog_ms",
            "0 (off) is not possible: boot.py starts the watchdog at every reset; "
            "give a timeout in ms, or null for the board's",
        )
    _int("watchdog_ms", out["watchdog_ms"], 1000, 3600000, True)
    _int("ntp_every_s", out["ntp_every_s"], 0, 30 * 86400)
    if not isinstance(out["log_file"], str):
        _fail("log_file", "expected a file name (\"\" for none)")
    _int("log_max_bytes", out["log_max_bytes"], 256, 1 << 20)
    if not isinstance(out["verbose"], bool):
        _fail("verbose", "expected true or false")
    if not isinstance(out["asyncio"], bool):
        _fail("asyncio", "expected true or false")

    wifi = raw.get("wifi") or {}
    if not isinstance(wifi, dict):
        _fail("wifi", "expected an object with ssid and password")
    for k in wifi:
        if k not in WIFI_DEFAULTS:
            _fail("wifi." + k, "unknown key (known: %s)" % ", ".join(WIFI_DEFAULTS))
    w = {}
    for k in WIFI_DEFAULTS:
        w[k] = _given(wifi, k, WIFI_DEFAULTS[k])
    if board_needs_wifi and not (isinstance(w["ssid"], str) and w["ssid"]):
        _fail("wifi.ssid", "required: the name of your Wi-Fi network")
    if not isinstance(w["password"], str):
        _fail("wifi.password", "expected a string")
    _int("wifi.timeout_ms", w["timeout_ms"], 1000, 120000)
    # network.country() and network.hostname() take strings: anything else would raise at every
    # Wi-Fi start, and no upload would ever go ("" is none, as null: hw.py leaves it out)
    c = w["country"]
    if (
        c is not None
        and c != ""
        and not (isinstance(c, str) and len(c) == 2 and "A" <= c[0].upper() <= "Z" and "A" <= c[1].upper() <= "Z")
    ):
        _fail("wifi.country", "expected a two-letter country code such as \"GB\", got %r" % (c,))
    if w["hostname"] is not None and not isinstance(w["hostname"], str):
        _fail("wifi.hostname", "expected a host name (a string), got %r" % (w["hostname"],))
    out["wifi"] = w

    streams = raw.get("streams")
    if not isinstance(streams, dict):
        streams = {}
    if out["battery_stream"] is not None and out["battery_stream"] not in streams:
        _fail("battery_stream", "unknown stream %r (not in streams)" % (out["battery_stream"],))
    if out["battery_min"] is not None:
        _num("battery_min", out["battery_min"])
        if out["battery_stream"] is None:
            _fail("battery_min", "needs battery_stream: the stream whose last reading is compared")
    # one network wait of the Logger (its own key, validated by the Logger): the watchdog must outlast it
    up = raw.get("upload")
    t = up.get("timeout_ms") if isinstance(up, dict) else None
    out["upload_timeout_ms"] = t if _is_int(t) else 10000
    sensors = raw.get("sensors")
    if not isinstance(sensors, list) or not sensors:
        _fail("sensors", "expected a list with at least one sensor")
    if len(sensors) > _MAX_SENSORS:
        _fail("sensors", "at most %d sensors" % _MAX_SENSORS)
    out["sensors"] = [_sensor("sensors[%d]" % i, s, streams) for i, s in enumerate(sensors)]
    b = raw.get("board") or {}
    if not isinstance(b, dict):
        _fail("board", "expected an object")
    out["board"] = b
    return out


def read(path):
    # The parsed JSON of the config file; errors name the file ("config: ...").
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        _fail("config", "cannot read %s (%s): copy config.example.json to it and fill it in" % (path, e))
    if text[:1] == "\ufeff":  # Windows editors write one; JSON has none (RFC 8259)
        _fail("config", "%s starts with a byte order mark: save it as UTF-8 without BOM" % path)
    try:
        return json.loads(text)
    except ValueError as e:
        _fail("config", "%s is not valid JSON (%s)" % (path, e))
