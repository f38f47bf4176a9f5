# blynklog.devices: a gateway's devices (the configuration's "devices" section): their validation
# (config.py calls validate() only when the section is there) and add()'s stream names: a device's
# stream is "device/stream" in the flat stream table, which add(stream, value, device=name) looks
# up (add("device/stream", value) names it too, as stats()'s pending_by_stream does). Imported by
# add() only when a device is named, so a single-device Logger never loads it. A bad name raises
# as a bad stream does (ValueError or TypeError, nothing stored). RAM: none beyond the
# configuration's dicts.
from .compat import const

_MAX_NAME = const(32)  # as config.py's (a private const is no module attribute on MicroPython)
MAX_DEVICES = const(32)  # a gateway's devices (README: RAM per device, the commit meta's size)


def name(devices, stream, device):
    # -> the stream's name in the flat stream table; devices: the configuration's "devices" or None
    if devices is None:
        raise ValueError("device=%r: this configuration has no devices" % (device,))
    if not isinstance(device, str):
        raise TypeError("device must be a str, got %s" % type(device).__name__)
    d = devices.get(device)
    if d is None:
        raise ValueError("unknown device %r (devices: %s)" % (device, ", ".join(sorted(devices))))
    f = d["streams"].get(stream) if isinstance(stream, str) else None
    if f is None:
        if not isinstance(stream, str):
            raise TypeError("stream must be a str, got %s" % type(stream).__name__)
        raise ValueError(
            "unknown stream %r of device %r (streams: %s)" % (stream, device, ", ".join(sorted(d["streams"])))
        )
    return f


def validate(cfg, api, out):
    from .config import _fail, _int, _name, _ordered, _stream  # config.py is loaded: it calls this

    # "devices": {"name": {"device_id": 12, "streams": {...}}, ...}: a gateway uploading for several
    # Blynk devices (api 'platform' only: one org credential, deviceId in every request). Each
    # device's streams join the flat stream table as "name/stream" with their device's name and id
    # (the store knows streams only); keys starting with "_" are comments. -> {name: {"device_id",
    # "streams": {stream: flat name}}}, or None without the section.
    devs = cfg.get("devices")
    if api != "platform":
        _fail("devices", "needs api 'platform': only the Platform API names the device in each request")
    if not isinstance(devs, dict) or not devs:
        _fail("devices", "expected an object with at least one device")
    ids = {}
    if out["device_id"] is not None and (out["streams"] or cfg.get("remote") is not None):
        # the top-level device's streams, or its settings (a device's stream could be a setting's)
        ids[out["device_id"]] = "the top-level device"
    res = {}
    for name in _ordered(devs):
        if isinstance(name, str) and name[:1] == "_":
            continue
        key = _name("devices", name)
        for ch in name:
            if ch in "/\n":
                _fail(key, "a device name has no '/' and no newline")
        if len(res) >= MAX_DEVICES:
            _fail("devices", "at most %d devices" % MAX_DEVICES)
        d = devs[name]
        if not isinstance(d, dict):
            _fail(key, "expected an object with device_id and streams")
        for k in _ordered(d):
            if k not in ("device_id", "streams"):
                _fail("%s.%s" % (key, k), "unknown key (known: device_id, streams)")
        if "device_id" not in d:
            _fail(key + ".device_id", "required (the Blynk device's id)")
        did = _int(key + ".device_id", d["device_id"], 0, 2147483647)
        if did in ids:
            _fail(key + ".device_id", "%d is already %s's" % (did, ids[did]))
        ids[did] = "device " + name
        ss = d.get("streams")
        if not isinstance(ss, dict) or not ss:
            _fail(key + ".streams", "expected an object with at least one stream")
        flat = {}
        seen = {}
        for sname in _ordered(ss):
            skey = _name(key + ".streams", sname)
            fname = name + "/" + sname
            if "\n" in sname or len(fname.encode()) > 2 * _MAX_NAME:  # what the store can keep
                _fail(skey, "no newline, and 'device/stream' at most 64 bytes of UTF-8")
            if fname in out["streams"]:
                _fail(skey, "%r is already a top-level stream's name" % fname)
            st = _stream(skey, ss[sname], api)
            if st["id"] in seen:
                _fail(skey + ".id", "%s is already the datastream of stream %r" % (st["id"], seen[st["id"]]))
            seen[st["id"]] = sname
            st["device"] = name
            st["device_id"] = did
            out["streams"][fname] = st
            flat[sname] = fname
        res[name] = {"device_id": did, "streams": flat}
    if not res:
        _fail("devices", "expected an object with at least one device")
    if len(out["streams"]) > 64:  # config.py's bound on streams
        _fail("devices", "at most 64 streams in all, top-level and devices' (%d)" % len(out["streams"]))
    if out["store"]["backend"] != "littlefs":
        _fail(
            "store.backend",
            "a gateway (devices) needs 'littlefs': the raw backend's commit meta holds one device's books",
        )
    if out["device_id"] is None and cfg.get("remote") is not None:
        _fail("remote", "a gateway reads settings of its top-level device: give device_id")
    return res
