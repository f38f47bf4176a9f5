#!/usr/bin/env python3
"""The gateway example (firmware/gateway.py) on the desktop: a UDP listener on 127.0.0.1 stands in for ESP-NOW.

serve: runs the firmware's Gateway and serve() loop on CPython with the real blynklog Logger: each
UDP datagram to 127.0.0.1:PORT is one node packet (firmware/gwpacket.py), received through the
same irecv(timeout_ms) -> (mac, msg) call as espnow.ESPNow() (the "mac" is the sender's IPv4
address and port, 6 bytes). It prints "READY <port>" once listening, syncs every --sync-every-s,
stops after --seconds (bounded; at most a day) with a last sync, and prints the verdict counts and
the last sync's report as one JSON line.

send: one node packet to the listener, as a node would send it over ESP-NOW (the same packet and
HMAC key), for trying the loop by hand.

  python tools/gateway_udp.py serve --config config.json --gateway gateway.json [--port 47800]
                                    [--seconds 60] [--sync-every-s 30]
  python tools/gateway_udp.py send --gateway gateway.json --node 1 --stream 0 --value 21.5
                                   [--ts MS] [--seq N] [--port 47800]

gateway.json: {"key": "<32 to 128 hex digits>", "nodes": {"1": {"device": "greenhouse-1",
"streams": ["temperature", "humidity"]}}} (the board's file; "config", "wifi" and "rxbuf" are the
board's only). The Logger's configuration needs a "devices" section naming those devices.
"""

import argparse
import json
import os
import socket
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
for p in (HERE, os.path.join(ROOT, "lib"), os.path.join(ROOT, "firmware")):
    if p not in sys.path:
        sys.path.insert(0, p)

import gwpacket  # noqa: E402
from gateway import Gateway, load, serve  # noqa: E402
from cli_args import int_in, port_number  # noqa: E402

DEFAULT_PORT = 47800
MAX_SECONDS = 86400


class UdpReceiver:
    # espnow.ESPNow()'s receiving side over a UDP socket on loopback: irecv(timeout_ms) -> the same
    # reused [mac, msg] list, or (None, None) at the timeout; datagrams over 250 bytes (more than
    # ESP-NOW carries) are dropped and counted, as stats()'s rx_dropped_packets
    def __init__(self, port=DEFAULT_PORT):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", port))
        self.port = self.sock.getsockname()[1]
        self._data = [None, bytearray(250)]
        self.received = self.dropped = 0

    def irecv(self, timeout_ms=None):
        self.sock.settimeout(None if timeout_ms is None or timeout_ms < 0 else timeout_ms / 1000)
        try:
            msg, addr = self.sock.recvfrom(251)
        except (socket.timeout, BlockingIOError):
            return (None, None)
        if len(msg) > 250:
            self.dropped += 1
            return (None, None)
        self.received += 1
        self._data[0] = socket.inet_aton(addr[0]) + addr[1].to_bytes(2, "big")
        self._data[1][:] = msg
        return self._data

    def stats(self):
        return (0, 0, 0, self.received, self.dropped)

    def close(self):
        self.sock.close()


def load_gateway(path):
    # gateway.json -> (its dict, the key's bytes), or the tool ends with one line naming the file
    # and the key at fault (a missing file, bad JSON, a bad key)
    try:
        return load(path)
    except OSError as e:
        sys.exit("gateway_udp: --gateway %s: cannot read it (%s)" % (path, e.strerror or e))
    except json.JSONDecodeError as e:
        sys.exit("gateway_udp: --gateway %s: not JSON (%s)" % (path, e))
    except ValueError as e:
        sys.exit("gateway_udp: --gateway %s: %s" % (path, e))


def cmd_serve(args):
    import blynklog

    if not 0 < args.seconds <= MAX_SECONDS:
        sys.exit("gateway_udp: --seconds: more than 0 and at most %d" % MAX_SECONDS)
    g, key = load_gateway(args.gateway)
    try:
        log = blynklog.Logger(args.config)
    except blynklog.ConfigError as e:
        sys.exit("gateway_udp: --config %s: %s" % (args.config, e))
    try:
        gw = Gateway(log, key, g["nodes"])
        rx = UdpReceiver(args.port)
    except ValueError as e:  # nodes naming devices or streams the configuration lacks
        log.close()
        sys.exit("gateway_udp: --gateway %s: %s" % (args.gateway, e))
    except OSError as e:
        log.close()
        sys.exit("gateway_udp: cannot listen on 127.0.0.1:%d (%s)" % (args.port, e.strerror or e))
    print("READY %d" % rx.port, flush=True)
    try:
        report = serve(
            gw,
            rx,
            int(args.sync_every_s * 1000),
            budget_ms=args.budget_ms,
            recv_timeout_ms=100,
            run_ms=int(args.seconds * 1000),
            cycles=int(args.seconds * 100000),  # a count bound too: at most 100,000 packets a second
        )
    finally:
        rx.close()
        stats = log.stats()
        log.close()
    out = {"counts": gw.counts, "received": rx.received, "report": report, "pending": stats["pending"]}
    print(json.dumps(out, default=str), flush=True)
    return 0


def cmd_send(args):
    g, key = load_gateway(args.gateway)
    seq = args.seq if args.seq is not None else int(time.time() * 1000) % (1 << 32)
    value = args.value
    for cast in (int, float):
        try:
            value = cast(value)
            break
        except ValueError:
            continue
    else:
        if value in ("true", "false"):
            value = value == "true"
        else:
            sys.exit("gateway_udp: --value: a number, true or false")
    if isinstance(value, int) and not isinstance(value, bool) and not -(1 << 31) <= value < 1 << 31:
        sys.exit("gateway_udp: --value: an int travels as int32: -2147483648..2147483647, got %d" % value)
    if isinstance(value, float):
        try:
            struct.pack("<f", value)
        except OverflowError:
            sys.exit("gateway_udp: --value: a float travels as float32: at most 3.4e38 in size, got %r" % value)
    msg = gwpacket.pack(gwpacket.Key(key), args.node, args.stream, value, seq, ts=args.ts)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.sendto(msg, ("127.0.0.1", args.port))
    finally:
        s.close()
    print(
        "sent %d bytes: node %d stream %d value %r seq %d ts %s"
        % (len(msg), args.node, args.stream, value, seq, args.ts)
    )
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve", help="run the gateway loop with a UDP listener on 127.0.0.1")
    s.add_argument("--config", required=True, help="the Logger's configuration (with a devices section)")
    s.add_argument("--gateway", required=True, help="gateway.json: the nodes' key and node -> device map")
    s.add_argument(
        "--port",
        type=port_number,
        default=DEFAULT_PORT,
        help="UDP port on 127.0.0.1 (default %d; 0: any)" % DEFAULT_PORT,
    )
    s.add_argument("--seconds", type=float, default=60, help="how long to serve, at most a day (default 60)")
    s.add_argument("--sync-every-s", type=float, default=30, help="seconds between syncs (default 30)")
    s.add_argument("--budget-ms", type=int, default=None, help="each sync's budget (default: none)")
    s.set_defaults(func=cmd_serve)
    n = sub.add_parser("send", help="send one node packet to the listener")
    n.add_argument("--gateway", required=True, help="gateway.json (its key)")
    n.add_argument("--node", type=int_in(0, 255), required=True, help="node id, 0..255")
    n.add_argument(
        "--stream", type=int_in(0, 255), default=0, help="stream index in the node's list, 0..255 (default 0)"
    )
    n.add_argument("--value", required=True, help="a number (an int travels as int32, else float32), true or false")
    n.add_argument(
        "--ts", type=int_in(0, (1 << 64) - 1), default=None, help="Unix ms; left out, the gateway stamps the sample"
    )
    n.add_argument(
        "--seq",
        type=int_in(0, (1 << 32) - 1),
        default=None,
        help="the node's packet counter, 0..4294967295 (default: from the time)",
    )
    n.add_argument(
        "--port", type=port_number, default=DEFAULT_PORT, help="the listener's UDP port (default %d)" % DEFAULT_PORT
    )
    n.set_defaults(func=cmd_send)
    args = ap.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
