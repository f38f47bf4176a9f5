# gateway: an example firmware for a mains-powered ESP32 that receives sensor nodes' samples over
# ESP-NOW and uploads them to Blynk, one Blynk device per node, through blynklog's gateway mode (the
# configuration's "devices" section: api platform, one connection for every device).
#   Gateway(log, key, nodes): the receiving side, without I/O. handle(mac, msg) checks one packet
#     (firmware/gwpacket.py: node id, stream, value, optional ts, HMAC-SHA256 tag), refuses replays
#     (a node's seq must grow), and adds the sample to the node's device: log.add(stream, value,
#     ts, device=...). A packet without a timestamp (a node whose clock is unset) is stamped by the
#     gateway's clock as it arrives. Returns "ok" or why the packet was refused; counts each
#     ("full": the store refused the sample, full under on_full drop_newest: so "ok" counts only
#     the samples stored, and the node's seq stays where it was).
#   serve(gw, rx, sync_every_ms, ...): the loop: receive with rx.irecv(timeout_ms) (ESP-NOW's
#     signature: (mac, msg), or (None, None) at the timeout), flush and sync every sync_every_ms.
#     rx is espnow.ESPNow() on the board, tools/gateway_udp.py's UDP listener on a desktop.
#   main(path): the board's entry: gateway.json (below), Wi-Fi, ESP-NOW, serve() for ever.
# gateway.json: {"config": "config.json" (the Logger's, with "devices"), "key": "<32 to 128 hex
# digits>" (the nodes' HMAC key), "nodes": {"1": {"device": "greenhouse-1", "streams":
# ["temperature", "humidity"]}, ...} (node id -> its device and its stream names by index),
# "sync_every_s": 300 (an int 0..86400), "budget_ms": 20000 (each sync's: an int 1..86400000, or
# null for the configuration's upload.budget_ms), "wifi": {"ssid": ..., "password": ...}, "rxbuf":
# 8192}.
# ESP-NOW beside Wi-Fi: the nodes must send on the channel of the gateway's access point. During a
# sync() (seconds) packets wait in ESP-NOW's receive buffer (rxbuf bytes, about 40 bytes a packet);
# beyond it they are lost (espnow's stats() counts them).
# Replays: the last seq of each node is kept in RAM; after the gateway restarts, each node's first
# packet is accepted whatever its seq (a recorded packet could be replayed once then: a sample
# with a ts is a duplicate the upload drops; one without is stamped anew).
# RAM: a few ints per node, the key's two 64-byte pads; irecv() receives without allocating.
import gwpacket
from blynklog.compat import ticks_add, ticks_diff, ticks_ms

MAX_NODES = 256  # node ids are one byte
_STREAMS_MAX = 256  # a node's stream names: the packet's stream index is one byte
_STEPS_MAX = 1 << 30  # serve()'s bound when cycles is None (a board runs it for ever)


class Gateway:
    def __init__(self, log, key, nodes):
        # log: a blynklog.Logger with a "devices" section; key: bytes (16 to 64); nodes: {node id
        # (int or its decimal str): {"device": name, "streams": [stream name, ...]}}
        self.log = log
        self.key = gwpacket.Key(key)
        devices = log._cfg.get("devices") or {}
        self.nodes = {}
        for k in nodes:
            n = nodes[k]
            try:
                node = int(k)
            except ValueError:
                raise ValueError("nodes.%s: a node id 0..255" % k)
            if not 0 <= node < MAX_NODES:
                raise ValueError("nodes.%s: a node id 0..255" % k)
            if node in self.nodes:  # "1", "01", " 1" and 1 are one node: whose device would it be?
                raise ValueError("nodes.%s: node id %d is given twice" % (k, node))
            if not isinstance(n, dict) or not isinstance(n.get("streams"), list):
                raise ValueError("nodes.%s: expected {\"device\": name, \"streams\": [names]}" % k)
            dev = n.get("device")
            if not isinstance(dev, str) or dev not in devices:  # a list: unhashable on CPython
                raise ValueError("nodes.%s.device: %r is not a device of the configuration" % (k, dev))
            if len(n["streams"]) > _STREAMS_MAX:  # those past it no packet could name
                raise ValueError(
                    "nodes.%s.streams: at most %d (a packet's stream index is one byte)" % (k, _STREAMS_MAX)
                )
            for s in n["streams"]:
                if not isinstance(s, str) or s not in devices[dev]["streams"]:
                    raise ValueError("nodes.%s.streams: %r is not a stream of device %s" % (k, s, dev))
            self.nodes[node] = (dev, n["streams"])
        self.last_seq = {}  # node -> the last seq accepted (since this start)
        self.counts = {
            "ok": 0,
            "short": 0,
            "version": 0,
            "tag": 0,
            "flags": 0,
            "node": 0,
            "stream": 0,
            "replay": 0,
            "refused": 0,
            "full": 0,
        }

    def handle(self, mac, msg):
        # one packet -> "ok" or why it was refused (a key of counts); never raises for a bad packet
        p = gwpacket.unpack(self.key, msg)
        if isinstance(p, str):
            return self._count(p)
        node, stream, value, seq, ts = p
        n = self.nodes.get(node)
        if n is None:
            return self._count("node")
        if stream >= len(n[1]):
            return self._count("stream")
        last = self.last_seq.get(node)
        if last is not None and seq <= last:
            return self._count("replay")
        try:
            if not self.log.add(n[1][stream], value, ts=ts, device=n[0]):
                return self._count("full")  # not stored (drop_newest): no seq taken for it
        except (ValueError, TypeError):
            return self._count("refused")  # the Logger's checks (type, NaN, ts out of range)
        self.last_seq[node] = seq
        return self._count("ok")

    def _count(self, verdict):
        self.counts[verdict] += 1
        return verdict


def serve(gw, rx, sync_every_ms, budget_ms=None, recv_timeout_ms=100, cycles=None, feed=None, run_ms=None):
    # Receive and upload: each cycle waits up to recv_timeout_ms for a packet; every sync_every_ms
    # (and at the end of a bounded run) the Logger flushes and syncs. cycles: how many receive
    # waits, run_ms: for how long (None and None: for ever). feed: the watchdog's, called every
    # cycle and during syncs. -> the last sync's report (None when none ran)
    log = gw.log
    start = ticks_ms()
    due = ticks_add(start, sync_every_ms)
    report = None
    n = 0
    bounded = cycles is not None or run_ms is not None
    while n < (cycles if cycles is not None else _STEPS_MAX):
        if run_ms is not None and ticks_diff(ticks_ms(), start) >= run_ms:
            break
        n += 1
        if feed is not None:
            feed()
        mac, msg = rx.irecv(recv_timeout_ms)
        if msg:
            gw.handle(mac, msg)
        if ticks_diff(ticks_ms(), due) >= 0:
            log.flush()
            report = log.sync(budget_ms=budget_ms, feed=feed)
            due = ticks_add(ticks_ms(), sync_every_ms)
    log.flush()
    if bounded:
        report = log.sync(budget_ms=budget_ms, feed=feed)
    return report


def load(path):
    # gateway.json -> (its dict, the key's bytes); ValueError naming the key at fault
    import json

    with open(path) as f:
        g = json.load(f)
    if not isinstance(g, dict):
        raise ValueError("gateway: expected an object")
    key = g.get("key")
    if not isinstance(key, str) or len(key) % 2 or not 32 <= len(key) <= 128:
        raise ValueError("key: 32 to 128 hex digits (16 to 64 bytes)")
    try:
        raw = bytes(int(key[i : i + 2], 16) for i in range(0, len(key), 2))
    except ValueError:
        raise ValueError("key: hex digits only")
    if not isinstance(g.get("nodes"), dict) or not g["nodes"]:
        raise ValueError("nodes: expected an object with at least one node")
    # refused here, not by the loop's first sync (which would end it)
    _whole(g, "sync_every_s", 300, 0, 86400, False)
    _whole(g, "budget_ms", 20000, 1, 86400000, True)
    return g, raw


def _whole(g, k, default, lo, hi, none):
    # g[k] (default when absent): an int lo..hi, or None when `none`
    v = g[k] = g.get(k, default)
    if not (v is None and none) and (not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi):
        raise ValueError("%s: an int %d..%d%s, got %r" % (k, lo, hi, " or null" if none else "", v))


def main(path="gateway.json"):  # pragma: no cover (the board's entry; its parts are tested)
    import blynklog
    import network

    g, key = load(path)
    log = blynklog.Logger(g.get("config", "config.json"))
    sta = network.WLAN(network.STA_IF)
    sta.active(True)
    wifi = g.get("wifi") or {}
    if wifi.get("ssid"):
        sta.connect(wifi["ssid"], wifi.get("password"))
    espnow = __import__("espnow")  # ESP32 (and ESP8266) only
    rx = espnow.ESPNow()
    rx.active(True)
    rx.config(rxbuf=g.get("rxbuf", 8192))
    gw = Gateway(log, key, g["nodes"])
    serve(gw, rx, g["sync_every_s"] * 1000, g["budget_ms"])
