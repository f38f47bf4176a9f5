# blynklog.record: the record codec, one sample to bytes and back (format: docs/FORMAT.md).
#   record = L (varint, 1-2 bytes: body length) | body | CRC-32 (4 bytes, LE) of L and body
#   body   = H (flags | type << 2) | stream id | zigzag varint (ts - base_ts) | value
# Format 2: the CRC starts from a key, key(salt, off), made of a random salt drawn for the record's
# segment (sector) and the record's offset in it (format 1: 0), so a record is valid only where it
# was written: bytes that look like a record inside a value (a string holding one), copied from
# elsewhere, or left over from an older segment, fail the CRC, but for a 2**-31 chance. Every record
# decodes on its own given its segment's base_ts and its key, so a reader can resynchronise after
# a damaged record by sliding one byte at a time (check() finds the next valid one), and
# whatever check() accepts, decode() reads (strings are checked to be UTF-8 there).
# encode_into() allocates nothing for bool/int/float values, decimals scaling included, on a
# 64-bit port (the caller's buffer, small-int arithmetic). On a 32-bit port (boards: small ints
# are 31-bit, a Unix-ms ts is a heap int) it allocates at most the CRC (a heap int when >= 2**30)
# when the ts is within days of base_ts (the difference is taken from the ts's 16-bit words, not
# by subtracting heap ints; delta()) and the key is a small int (signed_salt); strings and
# locations allocate their encoding; a scaled value beyond 2**29 allocates a few ints. The path
# of a number is written for a board's cost of a few us a step and more for a call: varints and
# the common float32 scaling inline, and encode_into is native code on a board (about a third of
# its bytecode's time on an RP2040): its "# @micropython.native" line is a decorator in the copy
# tools/deploy.py compiles with the board's -march; the source itself compiles anywhere, as
# bytecode (mpy-cross without an arch, mip, the unix ports, CPython); strings and locations
# are encoded by a bytecode helper (native code costs RAM by its size). decode() allocates the
# value it returns; a scaled int reads back as m / 10**d rounded once to the port's float
# (compat.scaled_float), so that round_scaled() of it gives m again: the encoder writes the
# digits the store holds.
# read() fills a record.Rec in place (the store's scan: nothing made for bools, ints, scaled ints).
# Pure functions over caller buffers: safe from any task; not from an interrupt (ints may box).
import math
import sys
from array import array

from .compat import FLOAT_BITS, IS_MICROPYTHON, binascii, const, os, round_scaled, scaled_float, struct

VERSION = 1
FLAG_BOOTREL = 1
MAX_STR = const(1024)
MAX_BODY = const(1035)  # H + sid + 9-byte delta + 1024-byte string
MAX_RECORD = const(1041)  # 2-byte L + body + CRC
MAX_TS = 1 << 56  # Unix ms (~41 bits) and boot-relative codes (boot id << 40 | ms) both fit
_REL = const(0x20000000)  # encode_into's rel is within +-2**29
_TS_TOP = MAX_TS - _REL  # below it, ts + rel < MAX_TS
_MIN_BODY = const(3)
_INT_MIN = -(1 << 63)
_INT_MAX = (1 << 63) - 1

# value types (bits 2..5 of H)
T_FALSE = const(0)
T_TRUE = const(1)
T_INT = const(2)
T_F32 = const(3)
T_F64 = const(4)
T_STR = const(5)
T_LOC32 = const(6)
T_LOC64 = const(7)
T_SCALED = const(8)  # 8..14: scaled int with decimals = type - 8

_scratch = bytearray(8)
_isfinite = math.isfinite
# small ints are at least 62-bit here (a 64-bit port, CPython): ts arithmetic allocates nothing
_WIDE = sys.maxsize > 1 << 40
_words = array("H", (0, 0, 0, 0, 0, 0, 0, 0))  # two int64s as 16-bit words (delta)
_dbase = None  # delta's last base (an int object) and its words 0..2 (_dw0.._dw2; word 3 is 0)
_dw0 = _dw1 = _dw2 = 0
_P5 = (1, 5, 25, 125, 625, 3125, 15625)  # 5**decimals: 10**d = 5**d * 2**d
_P10_BITS = (1, 4, 7, 10, 14, 17, 20)  # bits of 10**d, rounded up
_SPLIT = 26 if _WIDE else 12  # the mantissa's halves: each times 5**6 stays a small int
_RESIDUE = const(0x2144DF1C)  # CRC-32 of any data followed by its own CRC (little-endian)


def key(salt, off):
    # The CRC key (format 2) of the record at offset off of a segment or sector with this salt:
    # distinct for every offset (off < 65536) of one segment.
    return salt ^ (off & 0xFFFF)


def signed_salt(salt):
    # The salt as a signed 32-bit int: binascii.crc32 takes a key's low 32 bits, so key(signed
    # salt, off) keys the same CRC; a small int on a 32-bit port for a salt from new_salt() (its
    # top two bits equal), so the key of each record appended costs no heap int.
    return salt - (1 << 32) if salt >= 1 << 31 else salt


def new_salt():
    # A random 32-bit salt for a new segment or sector, its top two bits equal (31 random bits;
    # readers take any salt): signed_salt() of it is a small int on a 32-bit port.
    try:
        b = bytearray(os.urandom(4))
    except (AttributeError, NotImplementedError, OSError):
        import random

        b = bytearray(struct.pack("<I", random.getrandbits(32)))
    b[3] = (b[3] & 0x3F) | (0xC0 if b[3] & 0x80 else 0)
    return struct.unpack("<I", b)[0]


def delta(ts, base):
    # ts - base for two non-negative ints, without a heap int on a 32-bit port when both are below
    # 2**46 and the difference is within 2**29 ms (6 days): taken from their 16-bit words. The
    # last base's words are kept (a segment's base serves all its records).
    global _dbase, _dw0, _dw1, _dw2
    if _WIDE or ts is base:
        return ts - base
    w = _words
    if _dbase is not base:
        struct.pack_into("<q", w, 8, base)
        if w[7] or w[6] >= 0x4000:
            return ts - base
        _dbase = base
        _dw0 = w[4]
        _dw1 = w[5]
        _dw2 = w[6]
    struct.pack_into("<q", w, 0, ts)
    if w[3] or w[2] >= 0x4000:
        return ts - base
    h = ((w[2] - _dw2) << 16) + w[1] - _dw1
    if -0x2000 < h < 0x2000:
        return (h << 16) + w[0] - _dw0
    return ts - base


def _f32_exact(v):
    # True when the float survives float32 unchanged (checked on its IEEE double bits, no
    # allocation): zero, or a normal float32 exponent and the 29 low mantissa bits clear.
    s = _scratch
    struct.pack_into("<d", s, 0, v)
    if s[0] or s[1] or s[2] or s[3] or (s[4] & 0x1F):
        return False
    e = ((s[7] & 0x7F) << 4) | (s[6] >> 4)
    if e == 0:
        return not (s[6] & 0x0F or s[5] or s[4])
    return 897 <= e <= 1150


def utf8(s):
    # The UTF-8 bytes of str s; ValueError when s holds a lone surrogate (which has no UTF-8: CPython
    # refuses to encode it, MicroPython would write the invalid bytes ED A0..BF xx) or, on a port,
    # any byte sequence that is not well-formed UTF-8. ASCII-only strings are checked by length.
    if not IS_MICROPYTHON:
        try:
            return s.encode()
        except UnicodeError:
            raise ValueError("string not valid UTF-8 (lone surrogate)")
    data = s.encode()
    n = len(data)
    if n == len(s):
        return data
    i = _bad_utf8(data, 0, n)
    if i < n:
        if data[i] == 0xED and i + 1 < n and data[i + 1] >= 0xA0:
            raise ValueError("string not valid UTF-8 (lone surrogate)")
        raise ValueError("string not valid UTF-8")
    return data


def _bad_utf8(data, i, n):
    # The offset of the first byte of data[i:n] that is not well-formed UTF-8 (RFC 3629: no
    # surrogates, no overlong forms, nothing past U+10FFFF), or n. Allocates nothing.
    while i < n:
        b = data[i]
        if b < 0x80:
            i += 1
            continue
        # (continuation bytes, lowest and highest allowed second byte) by lead byte
        if 0xC2 <= b <= 0xDF:
            k, lo, hi = 1, 0x80, 0xBF
        elif 0xE0 <= b <= 0xEF:
            k = 2
            lo = 0xA0 if b == 0xE0 else 0x80
            hi = 0x9F if b == 0xED else 0xBF  # ED A0..BF: the surrogates D800..DFFF
        elif 0xF0 <= b <= 0xF4:
            k = 3
            lo = 0x90 if b == 0xF0 else 0x80
            hi = 0x8F if b == 0xF4 else 0xBF
        else:
            return i
        if i + k >= n or not lo <= data[i + 1] <= hi:
            return i
        j = i + 2
        while j <= i + k and 0x80 <= data[j] <= 0xBF:
            j += 1
        if j <= i + k:
            return i
        i = j
    return n


def _check_float(v):
    if not math.isfinite(v):
        raise ValueError("value not finite")


def _scaled_f32(v, d):
    # round_scaled(v, d) (v finite) from v's float32 bits, in small ints; None where the result
    # may not be one (|v| * 10**d from 2**29 on: round_scaled then). v = m * 2**(e - 150) exactly,
    # so v * 10**d = m * 5**d / 2**k, k = 150 - e - d, rounded half to even.
    s = _scratch
    struct.pack_into("<f", s, 0, v)
    e = ((s[3] & 0x7F) << 1) | (s[2] >> 7)
    if e == 0:
        return 0  # zero, or a subnormal: under 2**-126 * 10**6, it rounds to 0
    if e + _P10_BITS[d] > 155:
        return None
    k = 150 - e - d
    if k <= 0:
        return None
    m = ((s[2] & 0x7F) << 16) | (s[1] << 8) | s[0] | 0x800000
    if d > 2:
        q = _shift_split(m, k, d)  # m * 5**d would pass 2**30
    elif k > 30:
        return 0  # m * 5**d < 2**29 <= half of 2**k
    else:
        m *= _P5[d]
        q = m >> k
        r = m - (q << k)
        h = 1 << (k - 1)
        if r > h or (r == h and q & 1):
            q += 1
    return -q if s[3] & 0x80 else q


def _scaled_f64(v, d):
    # _scaled_f32 for doubles on a port with 62-bit small ints (CPython: any): v = m * 2**(e - 1075)
    s = _scratch
    struct.pack_into("<d", s, 0, v)
    e = ((s[7] & 0x7F) << 4) | (s[6] >> 4)
    if e == 0:
        return 0
    if e + _P10_BITS[d] > 1051:
        return None
    k = 1075 - e - d
    if k <= 0:
        return None
    m = (
        0x10000000000000
        | ((s[6] & 0x0F) << 48)
        | (s[5] << 40)
        | (s[4] << 32)
        | (s[3] << 24)
        | (s[2] << 16)
        | (s[1] << 8)
        | s[0]
    )
    q = _shift_split(m, k, d)
    return -q if s[7] & 0x80 else q


def _shift_split(m, k, d):
    # m * 5**d / 2**k rounded half to even (k > 0, the result under 2**29), the mantissa m taken in
    # two halves so that no product leaves the small ints
    f = _P5[d]
    hi = (m >> _SPLIT) * f
    lo = (m & ((1 << _SPLIT) - 1)) * f
    # m * 5**d = hi * 2**_SPLIT + lo; q = that >> k
    if k <= _SPLIT:
        q = (hi << (_SPLIT - k)) + (lo >> k)
        r = lo - ((lo >> k) << k)
        half = r >> (k - 1)
        rest = r - (half << (k - 1))
    else:
        j = k - _SPLIT
        c = hi + (lo >> _SPLIT)
        q = c >> j
        half = (c >> (j - 1)) & 1
        rest = c - (q << j) - (half << (j - 1)) + (lo & ((1 << _SPLIT) - 1))
    if half and (rest or q & 1):
        q += 1
    return q


_F32 = FLOAT_BITS == 24
if _F32:
    _scaled = _scaled_f32
elif _WIDE:
    _scaled = _scaled_f64
else:
    _scaled = None  # a 32-bit port with doubles: round_scaled


def _check_args(sid, ts, flags, decimals, rel):
    if type(ts) is not int or type(rel) is not int:
        raise TypeError("ts not int")
    if rel:
        if not -_REL < rel < _REL:
            raise ValueError("rel out of range")
        if (ts < _REL or ts >= _TS_TOP) and not 0 <= ts + rel < MAX_TS:
            raise ValueError("ts out of range")
    elif not 0 <= ts < MAX_TS:
        raise ValueError("ts out of range")
    if type(sid) is not int or not 0 <= sid <= 254:
        raise ValueError("bad stream id")
    if type(flags) is not int or not 0 <= flags <= 3:
        raise ValueError("bad flags")
    if decimals is not None and (type(decimals) is not int or not 0 <= decimals <= 6):
        raise ValueError("bad decimals")


def _put_other(buf, p, t, value):
    # encode_into's string or location value at buf[p:] -> its type << 16 | the end (p < 2**16):
    # bytecode, out of the native number path (native code costs a board RAM by its size)
    if t is str:
        data = utf8(value)
        n = len(data)
        if n > MAX_STR:
            raise ValueError("string over 1024 bytes")
        buf[p : p + n] = data
        return T_STR << 16 | (p + n)
    if (t is tuple or t is list) and len(value) == 2:
        lon = value[0]
        lat = value[1]
        if type(lon) not in (int, float) or type(lat) not in (int, float):
            raise TypeError("location not (lon, lat) numbers")
        lon = float(lon)
        lat = float(lat)
        _check_float(lon)
        _check_float(lat)
        if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
            raise ValueError("location out of range")
        if _f32_exact(lon) and _f32_exact(lat):
            struct.pack_into("<ff", buf, p, lon, lat)
            return T_LOC32 << 16 | (p + 8)
        struct.pack_into("<dd", buf, p, lon, lat)
        return T_LOC64 << 16 | (p + 16)
    raise TypeError("value type not storable")


# @micropython.native
def encode_into(
    buf, off, sid, ts, value, flags=0, decimals=None, base_ts=0, views=None, crckey=0, rel=0, checked=False
):
    # Writes one whole record at buf[off:] and returns its length. Raises TypeError for a value
    # or ts of the wrong type, ValueError for one out of range; writes nothing usable then.
    # views: optional list with views[k] == memoryview(buf)[:k], so that a record encoded at
    # off 0 gets its CRC without allocating a slice. crckey: the key of the place the record goes
    # (key()), 0 for format 1. rel: the record's time is ts + rel (a small int: a clock's stamp
    # as its anchor and the ms since, so that no heap int is made for it on a 32-bit port).
    # checked: the caller has checked sid, ts, rel, flags and decimals as below (Logger.add, via
    # the store's append): a board spends a few us a step. The value is checked here always.
    if not checked:
        _check_args(sid, ts, flags, decimals, rel)
    # value first into its slot after a 2-byte-L guess is avoided: the body is laid out at
    # off + 1, and moved one byte on in the rare case L needs two bytes (strings only).
    # The varints are written inline (zigzag, then 7 bits a byte): a call costs much on a board.
    t = type(value)
    buf[off + 2] = sid
    p = off + 3
    if ts is base_ts:
        z = rel
    elif _WIDE:
        z = ts - base_ts + rel
    elif _dbase is base_ts:
        # delta(), inline for the common case: base_ts's words kept, ts in its 2**32 ms
        w = _words
        struct.pack_into("<q", w, 0, ts)
        z = w[1] - _dw1
        if w[2] == _dw2 and not w[3] and -0x2000 < z < 0x2000:
            z = (z << 16) + w[0] - _dw0 + rel
        else:
            z = delta(ts, base_ts) + rel
    else:
        z = delta(ts, base_ts) + rel
    z = z << 1 if z >= 0 else ((-z) << 1) - 1
    if z < 0x4000:  # the varint: up to 4 bytes unrolled (the value's, below: 2), else a loop
        if z < 0x80:
            buf[p] = z
            p += 1
        else:
            buf[p] = (z & 0x7F) | 0x80
            buf[p + 1] = z >> 7
            p += 2
    elif z < 0x10000000:
        buf[p] = (z & 0x7F) | 0x80
        buf[p + 1] = ((z >> 7) & 0x7F) | 0x80
        if z < 0x200000:
            buf[p + 2] = z >> 14
            p += 3
        else:
            buf[p + 2] = ((z >> 14) & 0x7F) | 0x80
            buf[p + 3] = z >> 21
            p += 4
    else:
        while z >= 0x80:
            buf[p] = (z & 0x7F) | 0x80
            z >>= 7
            p += 1
        buf[p] = z
        p += 1
    z = None  # an int to write as a zigzag varint after the type's byte
    if t is int:
        if not _INT_MIN <= value <= _INT_MAX:
            raise ValueError("int out of range")
        typ = T_INT
        z = value
    elif t is float:
        if not _isfinite(value):
            raise ValueError("value not finite")
        typ = -1
        if decimals is not None:
            if _F32 and decimals <= 2:
                # _scaled_f32, inline for the common decimals (a call costs much on a board)
                s = _scratch
                struct.pack_into("<f", s, 0, value)
                e = ((s[3] & 0x7F) << 1) | (s[2] >> 7)
                k = 150 - e - decimals
                if e == 0 or k > 30:
                    z = 0  # zero, a subnormal, or under half of 10**-decimals
                elif e + _P10_BITS[decimals] > 155 or k <= 0:
                    z = None  # may pass 2**29: round_scaled below
                else:
                    z = (((s[2] & 0x7F) << 16) | (s[1] << 8) | s[0] | 0x800000) * _P5[decimals]
                    e = z >> k
                    z -= e << k  # the bits shifted out
                    k = 1 << (k - 1)
                    if z > k or (z == k and e & 1):
                        e += 1
                    z = -e if s[3] & 0x80 else e
            else:
                z = _scaled(value, decimals) if _scaled is not None else None
            if z is None:
                z = value * 10**decimals
                if z - z == 0:  # still finite: a huge value scaled overflows to infinity
                    z = round_scaled(value, decimals)
                    if not _INT_MIN <= z <= _INT_MAX:
                        z = None
                else:
                    z = None
            if z is not None:
                typ = T_SCALED + decimals
        if typ < 0:
            if _f32_exact(value):
                typ = T_F32
                struct.pack_into("<f", buf, p, value)
                p += 4
            else:
                typ = T_F64
                struct.pack_into("<d", buf, p, value)
                p += 8
    elif t is bool:
        typ = T_TRUE if value else T_FALSE
    else:
        p = _put_other(buf, p, t, value)  # a string or a location: the type in bits 16 on
        typ = p >> 16
        p &= 0xFFFF
    if z is not None:
        z = z << 1 if z >= 0 else ((-z) << 1) - 1
        if z < 0x4000:
            if z < 0x80:
                buf[p] = z
                p += 1
            else:
                buf[p] = (z & 0x7F) | 0x80
                buf[p + 1] = z >> 7
                p += 2
        else:
            while z >= 0x80:
                buf[p] = (z & 0x7F) | 0x80
                z >>= 7
                p += 1
            buf[p] = z
            p += 1
    buf[off + 1] = flags | (typ << 2)
    body = p - off - 1
    if body < 0x80:
        buf[off] = body
        end = p
    else:
        # two-byte L: shift the body one byte right (only strings get here)
        buf[off + 2 : p + 1] = buf[off + 1 : p]
        buf[off] = (body & 0x7F) | 0x80
        buf[off + 1] = body >> 7
        end = p + 1
    if views is not None and off == 0 and end < len(views):
        crc = binascii.crc32(views[end], crckey)
    else:
        crc = binascii.crc32(memoryview(buf)[off:end], crckey)
    struct.pack_into("<I", buf, end, crc)  # crc32 gives it unsigned (a heap int from 2**30 on a 32-bit port)
    return end + 4 - off


def check(buf, off, end, crcview=None, crckey=0):
    # Length of the valid record at buf[off:end], or 0 when there is none (torn, damaged,
    # erased, garbage, or a record written for another place: crckey is the key of this one).
    # Validates L, the CRC, reserved bits, the type and its value width, and a string's UTF-8
    # (so decode() never refuses what check() accepted).
    if off + 1 > end:
        return 0
    b0 = buf[off]
    if b0 < 0x80:
        body = b0
        q = off + 1
    else:
        if off + 2 > end:
            return 0
        b1 = buf[off + 1]
        body = (b0 & 0x7F) | (b1 << 7)
        if body < 0x80 or b1 >= 0x80:
            return 0
        q = off + 2
    if body < _MIN_BODY or body > MAX_BODY:
        return 0
    last = q + body
    if last + 4 > end:
        return 0
    mv = crcview if crcview is not None else memoryview(buf)
    # the CRC over the record with its own CRC appended is a constant (CRC-32's residue) exactly
    # when the CRC matches: a small int, where the CRC itself would be boxed on a 32-bit port
    if binascii.crc32(mv[off : last + 4], crckey) != _RESIDUE:
        return 0
    h = buf[q]
    if h & 0xC0 or buf[q + 1] == 255:
        return 0
    typ = h >> 2
    # skip the ts varint (at most 9 bytes)
    p = q + 2
    k = 0
    while p < last and buf[p] & 0x80 and k < 9:
        p += 1
        k += 1
    if p >= last or buf[p] & 0x80:
        return 0
    p += 1
    rest = last - p
    if typ <= T_TRUE:
        ok = rest == 0
    elif typ == T_INT or typ >= T_SCALED:
        # a varint that ends exactly at the end of the body
        ok = typ <= T_SCALED + 6 and 1 <= rest <= 10
        while ok and p < last - 1:
            ok = buf[p] & 0x80
            p += 1
        ok = ok and not buf[last - 1] & 0x80
    elif typ == T_F32 or typ == T_LOC32:
        ok = rest == (4 if typ == T_F32 else 8)
    elif typ == T_F64:
        ok = rest == 8
    elif typ == T_LOC64:
        ok = rest == 16
    else:  # T_STR
        ok = rest <= MAX_STR and _bad_utf8(buf, p, last) == last
    return last + 4 - off if ok else 0


class Rec:
    # One record read in place by Store.scan(): valid until the scan's next step. Its ts is
    # base + delta (base: its segment's, one int per segment; delta: a small int within 12 days of
    # it), its value as stored: typ, m (the varint of T_INT and T_SCALED + d), or buf[p:last] (the
    # bytes of the other kinds); value() makes the Python value. typ -1: a record of another store
    # (policy's adapter), its value in obj. Filled by read(); nothing boxed for the common kinds.
    def __init__(self):
        self.pos = 0
        self.sid = 0
        self.flags = 0
        self.typ = -1
        self.base = 0
        self.delta = 0
        self.m = 0
        self.buf = None
        self.p = 0
        self.last = 0
        self.obj = None

    def ts(self):
        return self.base + self.delta

    def value(self):
        typ = self.typ
        if typ < 0:
            return self.obj
        if typ == T_FALSE:
            return False
        if typ == T_TRUE:
            return True
        if typ == T_INT:
            return self.m
        if typ >= T_SCALED:
            return scaled_float(self.m, typ - T_SCALED)
        buf = self.buf
        p = self.p
        if typ == T_F32:
            return struct.unpack_from("<f", buf, p)[0]
        if typ == T_F64:
            return struct.unpack_from("<d", buf, p)[0]
        if typ == T_STR:
            return str(bytes(buf[p : self.last]), "utf-8")
        return struct.unpack_from("<ff" if typ == T_LOC32 else "<dd", buf, p)


def read(rec, buf, off, n):
    # Fills rec from the record buf[off:off + n] that check() accepted (not its pos or base).
    q = off + (1 if buf[off] < 0x80 else 2)
    h = buf[q]
    rec.sid = buf[q + 1]
    rec.flags = h & 3
    typ = h >> 2
    rec.typ = typ
    p = q + 2
    b = buf[p]
    z = b & 0x7F
    s = 7
    while b & 0x80:
        p += 1
        b = buf[p]
        z |= (b & 0x7F) << s
        s += 7
    p += 1
    rec.delta = (z >> 1) ^ -(z & 1)
    if typ == T_INT or typ >= T_SCALED:
        b = buf[p]
        z = b & 0x7F
        s = 7
        while b & 0x80:
            p += 1
            b = buf[p]
            z |= (b & 0x7F) << s
            s += 7
        rec.m = (z >> 1) ^ -(z & 1)
    elif typ > T_TRUE:
        rec.buf = buf
        rec.p = p
        rec.last = off + n - 4


def sid_of(buf, off):
    # The stream id of a record that check() accepted.
    return buf[off + (1 if buf[off] < 0x80 else 2) + 1]


def _read_varint(buf, p):
    z = 0
    shift = 0
    while shift < 70:
        b = buf[p]
        z |= (b & 0x7F) << shift
        p += 1
        if not b & 0x80:
            break
        shift += 7
    return (z >> 1) ^ -(z & 1), p


def decode(buf, off, base_ts, end=None, crckey=0):
    # (length, sid, ts, flags, value) of the record at buf[off:], or None when it is not valid.
    if end is None:
        end = len(buf)
    n = check(buf, off, end, None, crckey)
    if not n:
        return None
    q = off + (1 if buf[off] < 0x80 else 2)
    last = off + n - 4
    h = buf[q]
    sid = buf[q + 1]
    delta, p = _read_varint(buf, q + 2)
    typ = h >> 2
    if typ == T_FALSE:
        value = False
    elif typ == T_TRUE:
        value = True
    elif typ == T_INT:
        value = _read_varint(buf, p)[0]
    elif typ == T_F32:
        value = struct.unpack_from("<f", buf, p)[0]
    elif typ == T_F64:
        value = struct.unpack_from("<d", buf, p)[0]
    elif typ == T_STR:
        try:
            value = str(bytes(buf[p:last]), "utf-8")
        except UnicodeError:
            return None
    elif typ == T_LOC32:
        value = struct.unpack_from("<ff", buf, p)
    elif typ == T_LOC64:
        value = struct.unpack_from("<dd", buf, p)
    else:
        value = scaled_float(_read_varint(buf, p)[0], typ - T_SCALED)
    return n, sid, base_ts + delta, h & 3, value
