# gwpacket: the packet a sensor node sends to a gateway (firmware/gateway.py), and its keyed check.
# Version 1, little-endian, 20 bytes (28 with a timestamp); ESP-NOW carries up to 250:
#   offset size field
#   0      1    version, 1
#   1      1    node id, 0..255 (the gateway's "nodes" map it to a Blynk device)
#   2      1    stream index, 0..255 (into that node's list of stream names)
#   3      1    flags: bit 0 a timestamp follows the value; bits 1-2 the value's kind: 0 float32,
#               1 int32, 2 bool (0 or 1 in the int32's place); other bits 0
#   4      4    seq, u32: grows with every packet of the node (see below)
#   8      4    value: float32 or int32
#   12     8    ts, u64 Unix ms (only with flag bit 0; a node whose clock is unset leaves it out
#               and the gateway stamps the sample when it arrives)
#   12/20  8    tag: HMAC-SHA256(key, every byte before the tag), its first 8 bytes
# The check is an HMAC-SHA256 truncated to 64 bits, not a keyed CRC: a CRC is linear, so one packet
# seen on the air is enough to compute the check of any altered packet, whatever the key; HMAC is
# a MAC (a forger without the key must guess, 2**-64 a try, at radio speed), and hashlib.sha256 is
# in every MicroPython port this runs on (hardware-assisted on the ESP32). 8 bytes keep the packet
# small; ESP-NOW's own encryption covers at most 6 (up to 17) peers, this covers any number.
# seq stops replays: a gateway accepts a node's packet only when its seq is above the last one it
# accepted from that node (since the gateway started). A node keeps its seq growing across deep
# sleep and power cuts: e.g. a boot counter kept in flash in the high 16 bits, a packet counter in
# the low 16.
# RAM: pack() builds the packet (bytes); unpack() a tuple. The HMAC's pads are made once per key.
import hashlib
import struct

VERSION = 1
TAG_LEN = 8
KIND_FLOAT = 0
KIND_INT = 1
KIND_BOOL = 2
_HEAD = "<BBBBIi"  # version, node, stream, flags, seq, value (int32 or float32 bits)
_HEAD_LEN = 12
_TS = "<Q"
_HAS_TS = 1
MIN_LEN = _HEAD_LEN + TAG_LEN
MAX_LEN = _HEAD_LEN + 8 + TAG_LEN


class Key:
    # an HMAC-SHA256 key (bytes, 16 to 64 of them): its inner and outer pads, made once
    def __init__(self, key):
        if not isinstance(key, (bytes, bytearray)) or not 16 <= len(key) <= 64:
            raise ValueError("key: 16 to 64 bytes")
        k = bytearray(64)
        k[: len(key)] = key
        self._ipad = bytes(b ^ 0x36 for b in k)
        self._opad = bytes(b ^ 0x5C for b in k)

    def mac(self, data):
        # HMAC-SHA256(key, data), 32 bytes
        h = hashlib.sha256(self._ipad)
        h.update(data)
        inner = h.digest()
        h = hashlib.sha256(self._opad)
        h.update(inner)
        return h.digest()


def pack(key, node, stream, value, seq, ts=None):
    # -> the packet (bytes). value: float (float32 on the air), int (int32) or bool.
    if isinstance(value, bool):
        kind, v = KIND_BOOL, 1 if value else 0
    elif isinstance(value, int):
        kind, v = KIND_INT, value
    else:
        kind = KIND_FLOAT
        v = struct.unpack("<i", struct.pack("<f", value))[0]
    flags = (kind << 1) | (_HAS_TS if ts is not None else 0)
    body = struct.pack(_HEAD, VERSION, node, stream, flags, seq, v)
    if ts is not None:
        body += struct.pack(_TS, ts)
    return body + key.mac(body)[:TAG_LEN]


def unpack(key, msg):
    # -> (node, stream, value, seq, ts or None), or a str saying why the packet is refused:
    # "short", "version", "tag" (altered, or another key), "flags"
    n = len(msg)
    if n < MIN_LEN:
        return "short"
    if msg[0] != VERSION:
        return "version"
    flags = msg[3]
    has_ts = flags & _HAS_TS
    if n != (MAX_LEN if has_ts else MIN_LEN):
        return "short"
    end = n - TAG_LEN
    if not _same(key.mac(msg[:end]), msg, end):
        return "tag"
    kind = flags >> 1
    if kind > KIND_BOOL:
        return "flags"
    _, node, stream, _, seq, v = struct.unpack_from(_HEAD, msg, 0)
    if kind == KIND_FLOAT:
        value = struct.unpack("<f", struct.pack("<i", v))[0]
    elif kind == KIND_BOOL:
        if v not in (0, 1):
            return "flags"
        value = v == 1
    else:
        value = v
    ts = struct.unpack_from(_TS, msg, _HEAD_LEN)[0] if has_ts else None
    return node, stream, value, seq, ts


def _same(mac, msg, at):
    # the tag equals the MAC's first TAG_LEN bytes, compared in constant time
    d = 0
    for i in range(TAG_LEN):
        d |= mac[i] ^ msg[at + i]
    return d == 0
