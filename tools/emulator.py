#!/usr/bin/env python3
"""The local Blynk emulator for your own sketch: `make emulator [CONFIG=your-config.json]`.

Starts tools/blynk_server.py on loopback (verified TLS with its own CA, kept in --out so that it
stays the same from one run to the next), prints the server URL, the CA file, the credentials and
the path of a ready config.json for a sketch, and serves until Ctrl-C. Points that arrive are drawn
on the chart page (the server URL in a browser).

With --config your-config.json, the datastreams your configuration declares are created on the
emulator (device API: their pins; Platform API: their ids; with their types), its token or OAuth2
client is accepted, and the ready config.json is yours with `server` and `ca` pointed at the
emulator: your sketch runs against it unchanged. Without it, the ready config.json declares three
streams (a double, an int and a string) for the Device API's test token.

A configuration's `remote` section (the settings the app changes: {"sample_every_s": "V20", ...} or
{"sample_every_s": {"pin": "V20", "type": "int", "min": 10, "max": 3600}, ...}) becomes settings
datastreams, editable on the page; entries that are neither a pin nor an object with one are left
alone. --event CODE declares an event code the sketch may log (repeat it for more). A gateway's
"devices" section (Platform API) creates each device with its streams' datastreams (by id): an
import for a device id the configuration does not declare answers 404, as Blynk does.

    python tools/emulator.py [--config FILE] [--event CODE ...] [--port 8443] [--out build/emulator]
"""

import argparse
import json
import os
import shutil
import signal
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from blynk_server import BlynkServer  # noqa: E402
from cli_args import port_number  # noqa: E402

DEVICE_TOKEN = "test-device-token"
CLIENT_ID, CLIENT_SECRET = "test-client", "test-secret"
STARTER_STREAMS = {
    "temperature": {"pin": "V1", "id": 1, "type": "double", "decimals": 2},
    "count": {"pin": "V2", "id": 2, "type": "int"},
    "status": {"pin": "V3", "id": 3, "type": "string"},
}
TYPES = {
    "int": "int",
    "integer": "int",
    "double": "double",
    "float": "double",
    "string": "string",
    "str": "string",
    "bool": "bool",
    "boolean": "bool",
    "enum": "int",
    "location": "location",
}


class SetupError(Exception):
    pass


def _kind(s):
    # The emulator's type for a stream or setting object s, None for an unknown one. Read as
    # blynklog's config.py reads it: a name in any case ("Double"), a null or absent type double.
    given = s.get("type")
    if given is None:
        given = "double"
    return TYPES.get(given.lower()) if isinstance(given, str) else None


def _pin_number(pin):
    if isinstance(pin, str) and len(pin) > 1 and pin[0] in "Vv" and pin[1:].isdigit() and int(pin[1:]) <= 255:
        return int(pin[1:])
    return None


def provision(srv, cfg):
    # Creates on the emulator what cfg (a sketch's configuration, a dict) declares; returns the
    # configuration for the sketch, pointed at the emulator. Raises SetupError naming the key.
    api = cfg.get("api") or ("platform" if cfg.get("client_id") is not None else "device")
    devices = cfg.get("devices")
    if devices is not None and api != "platform":
        raise SetupError("devices: a gateway's devices need api 'platform'")
    gateway_only = devices is not None and not cfg.get("streams") and cfg.get("device_id") is None
    device = cfg.get("device_id", 1) if api == "platform" else 1
    if not isinstance(device, int) or isinstance(device, bool) or device < 0:
        raise SetupError("device_id: expected a non-negative integer")
    if api == "device":
        token = cfg.get("token") or DEVICE_TOKEN
        if not isinstance(token, str):
            raise SetupError("token: expected a string")
        srv.add_device(device, token)
    else:
        client_id, secret = cfg.get("client_id") or CLIENT_ID, cfg.get("client_secret") or CLIENT_SECRET
        with srv.lock:
            srv.clients[client_id] = secret
        srv.add_device(device, "%s-device-%d" % (client_id, device))
    streams = {} if gateway_only else cfg.get("streams")
    if not isinstance(streams, dict) or (not streams and not gateway_only):
        raise SetupError("streams: expected an object with at least one stream")
    with srv.lock:
        srv.streams[device] = {}  # only what the configuration declares
    _devices(srv, devices)
    for name, s in streams.items():
        if not isinstance(s, dict):
            raise SetupError("streams.%s: expected an object" % name)
        kind = _kind(s)
        if kind is None:
            raise SetupError("streams.%s.type: unknown type %r" % (name, s.get("type")))
        pin = s.get("pin")
        sid = s.get("id")
        if api == "device":
            number = _pin_number(pin)
            if number is None:
                raise SetupError("streams.%s.pin: expected V0..V255, got %r" % (name, pin))
            sid = number if sid is None else sid
        elif not isinstance(sid, int) or isinstance(sid, bool):
            raise SetupError("streams.%s.id: expected the datastream's id (an integer)" % name)
        if pin is None:
            pin = "V%d" % (sid % 256)
        srv.add_stream(device, sid, pin, kind)
        with srv.lock:
            srv.stream_names[(device, sid)] = name
    _settings(srv, device, api, cfg.get("remote"))
    out = dict(cfg)
    up = cfg.get("upload")
    if isinstance(up, dict) and up.get("transport") == "requests":
        # that transport cannot verify a certificate (Logger() refuses it with https): the
        # emulator's plain-http listener, said insecure as such a configuration must
        out["server"] = srv.http_url
        out["insecure"] = True
        out.pop("ca", None)
    else:
        out["server"] = srv.url
        out["ca"] = os.path.abspath(srv.ca_der_path)
        out.pop("insecure", None)
    out["api"] = api
    if api == "device":
        out["token"] = token
    else:
        out["client_id"], out["client_secret"] = client_id, secret
        if not gateway_only:
            out["device_id"] = device
    return out


def _devices(srv, devices):
    # A gateway's "devices" section: each device with the datastreams of its streams (by id)
    if devices is None:
        return
    if not isinstance(devices, dict) or not devices:
        raise SetupError("devices: expected an object with at least one device")
    for name, d in devices.items():
        if name.startswith("_"):
            continue
        did = d.get("device_id") if isinstance(d, dict) else None
        if not isinstance(did, int) or isinstance(did, bool) or did < 0:
            raise SetupError("devices.%s.device_id: expected a non-negative integer" % name)
        ss = d.get("streams")
        if not isinstance(ss, dict) or not ss:
            raise SetupError("devices.%s.streams: expected an object with at least one stream" % name)
        srv.add_device(did)
        with srv.lock:
            srv.streams[did] = {}
        for sname, s in ss.items():
            sid = s.get("id") if isinstance(s, dict) else None
            if not isinstance(sid, int) or isinstance(sid, bool):
                raise SetupError("devices.%s.streams.%s.id: expected the datastream's id (an integer)" % (name, sname))
            kind = _kind(s)
            if kind is None:
                raise SetupError("devices.%s.streams.%s.type: unknown type %r" % (name, sname, s.get("type")))
            srv.add_stream(did, sid, s.get("pin") or "V%d" % (sid % 256), kind)
            with srv.lock:
                srv.stream_names[(did, sid)] = "%s/%s" % (name, sname)


SETTING_TYPES = ("int", "double")


def _settings(srv, device, api, remote):
    # The configuration's "remote" section: each entry naming a pin (a string starting with V, or
    # an object with "pin" and optionally "type" int|double (default double), "min", "max" and, for
    # the Platform API, "id" (default: the pin's number)) becomes a settings datastream. Other
    # entries are left alone: the section may hold options of the library's own. A pin that is
    # not V0..V255 is an error naming the entry.
    if remote is None:
        return
    if not isinstance(remote, dict):
        raise SetupError("remote: expected an object")
    with srv.lock:
        taken = {p for p, _ in srv.streams[device].values()}
        taken_ids = set(srv.streams[device])
    for name, s in remote.items():
        key = "remote.%s" % name
        if isinstance(s, str) and s[:1] in ("V", "v"):
            s = {"pin": s}
        elif not isinstance(s, dict) or "pin" not in s:
            continue
        number = _pin_number(s["pin"])
        if number is None:
            raise SetupError("%s.pin: expected V0..V255, got %r" % (key, s["pin"]))
        pin = "V%d" % number
        kind = _kind(s)
        if kind not in SETTING_TYPES:
            raise SetupError("%s.type: expected int or double, got %r" % (key, s.get("type")))
        sid = s.get("id", number) if api == "platform" else number
        if not isinstance(sid, int) or isinstance(sid, bool):
            raise SetupError("%s.id: expected the datastream's id (an integer)" % key)
        if pin in taken or sid in taken_ids:
            raise SetupError("%s: pin %s (id %d) is already a stream's" % (key, pin, sid))
        taken.add(pin)
        taken_ids.add(sid)
        try:
            srv.add_stream(device, sid, pin, kind, min=s.get("min"), max=s.get("max"), setting=True)
        except ValueError as e:
            raise SetupError("%s: %s" % (key, e))
        with srv.lock:
            srv.stream_names[(device, sid)] = name


def starter_config(store_path):
    return {"api": "device", "token": DEVICE_TOKEN, "streams": STARTER_STREAMS, "store": {"path": store_path}}


def describe(srv, cfg, config_path):
    lines = [
        "Blynk emulator on loopback, verified TLS with its own CA",
        "  server:      %s   (open it in a browser for the chart of what arrived)" % srv.url,
        "  CA file:     %s" % os.path.abspath(srv.ca_der_path),
    ]
    # both APIs' credentials, the configuration's first: either works against this emulator
    device = "  credentials: api device, token %s (device %d)" % (cfg.get("token") or DEVICE_TOKEN, 1)
    platform = "  credentials: api platform, client_id %s, client_secret %s, device_id %s" % (
        cfg.get("client_id") or CLIENT_ID,
        cfg.get("client_secret") or CLIENT_SECRET,
        cfg.get("device_id") or 1,
    )
    lines += [device, platform] if cfg["api"] == "device" else [platform, device]
    for name, d in (cfg.get("devices") or {}).items():
        if isinstance(d, dict):
            lines.append(
                "  device %-12s id %s, streams %s" % (name, d.get("device_id"), ", ".join(d.get("streams") or ()))
            )
    for name, s in (cfg.get("streams") or {}).items():
        lines.append("  stream %-12s %s %s" % (name, s.get("pin") or "id %s" % s.get("id"), _kind(s)))
    device = 1 if cfg["api"] == "device" else cfg.get("device_id", 1)
    with srv.lock:
        settings = sorted(sid for d, sid in srv.settings if d == device)
        codes = sorted(srv.event_codes.get(device, ()))
        streams = dict(srv.streams.get(device, {}))
        names = dict(srv.stream_names)
    for sid in settings:
        lines.append("  setting %-11s %s %s (editable on the page)" % (names.get((device, sid), ""), *streams[sid]))
    if codes:
        lines.append("  event codes: %s" % ", ".join(codes))
    lines += [
        "  config.json: %s" % config_path,
        "Run your sketch on the unix port (from the checkout's root):",
        "  MICROPYPATH=lib:.frozen .venv/bin/micropython your_sketch.py %s" % os.path.relpath(config_path, ROOT),
        "Ctrl-C stops the emulator.",
    ]
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--config", help="your sketch's config.json: its streams, token or client are created on the emulator"
    )
    ap.add_argument(
        "--event",
        action="append",
        default=[],
        metavar="CODE",
        help="an event code the sketch may log (repeat for more)",
    )
    ap.add_argument(
        "--port", type=port_number, default=8443, help="HTTPS port on 127.0.0.1 (default 8443; 0: any free port)"
    )
    ap.add_argument(
        "--out",
        default=os.path.join(ROOT, "build", "emulator"),
        help="folder for the CA, the certificates and the ready config.json (default build/emulator)",
    )
    args = ap.parse_args(argv)
    out = os.path.abspath(args.out)
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as e:
        sys.exit("emulator: --out %s: cannot make the folder (%s)" % (args.out, e.strerror or e))
    if args.config:
        try:
            with open(args.config) as f:
                user = json.load(f)
        except (OSError, ValueError) as e:
            sys.exit("emulator: cannot read %s: %s" % (args.config, e))
        if not isinstance(user, dict):
            sys.exit("emulator: %s: expected a JSON object" % args.config)
    else:
        user = starter_config(os.path.join(out, "blynklog-data"))
    srv = BlynkServer(tls=True, host="127.0.0.1", port=args.port, cert_dir=os.path.join(out, "certs"))
    try:
        srv.start()
    except OSError as e:
        sys.exit(
            "emulator: cannot listen on 127.0.0.1:%d (%s); try --port 0 (make emulator EMU_PORT=0)" % (args.port, e)
        )
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: done.set())
    signal.signal(signal.SIGINT, lambda *a: done.set())
    try:
        try:
            cfg = provision(srv, user)
            device = 1 if cfg["api"] == "device" else cfg.get("device_id", 1)
            for code in args.event:
                try:
                    srv.add_event_code(device, code)
                except ValueError as e:
                    raise SetupError("--event %r: %s" % (code, e))
        except SetupError as e:
            sys.exit("emulator: %s: %s" % (args.config or "config", e))
        config_path = os.path.join(out, "config.json")
        tmp = config_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(cfg, f, indent=1)
        shutil.move(tmp, config_path)
        print(describe(srv, cfg, config_path), flush=True)
        while not done.wait(0.5):
            pass
    finally:
        srv.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
