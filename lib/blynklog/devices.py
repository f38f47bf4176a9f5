# blynklog.devices: add()'s stream names in a gateway (the configuration's "devices" section): a
# device's stream is "device/stream" in the flat stream table (config.py), which add(stream, value,
# device=name) looks up (add("device/stream", value) names it too, as stats()'s pending_by_stream
# does). Imported by add() only when a device is named, so a single-device Logger never loads it.
# A bad name raises as a bad stream does (ValueError or TypeError, nothing stored). RAM: none beyond
# the configuration's dicts.


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
