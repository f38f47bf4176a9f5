# blynklog.record: the record codec, one sample to bytes and back (format: docs/FORMAT.md).
#   record = L (varint, 1-2 bytes: body length) | body | CRC-32 (4 bytes, LE) of L and body
#   body   = H (flags | type << 2) | stream id | zigzag varint (ts - base_ts) | value
# Format 2: the CRC starts from a key, key(salt, off), made of a random salt drawn for the record's
# segment (sector) and the record's offset in it (format 1: 0), so a record is valid only where it
# was written: bytes that look like a record inside a value (a string holding one), copied from
# elsewhere, or left over from an older segment, fail the CRC, but for a 2**-32 chance. Every record
# decodes on its own given its segment's base_ts and its key, so a reader can resynchronise after
# a damaged record by sliding one byte at a time (check() finds the next valid one), and
# whatever check() accepts, decode() reads (strings are checked to be UTF-8 there).
# encode_into() allocates nothing for bool/int/float values (the caller's buffer, stack-only
# arithmetic on a 64-bit port; boards box ints above 2**30); strings and locations allocate their
# encoding; decimals scaling allocates a few (big) ints. decode() allocates the value it returns;
# a scaled int reads back as m / 10**d rounded once to the port's float (compat.scaled_float), so
# that round_scaled() of it gives m again: the encoder writes the digits the store holds.
# read() fills a record.Rec in place (the store's scan: nothing made for bools, ints, scaled ints).
# Pure functions over caller buffers: safe from any task; not from an interrupt (ints may box).
import math

from .compat import IS_MICROPYTHON, binascii, const, os, round_scaled, scaled_float, struct

VERSION = 1
FLAG_BOOTREL = 1
MAX_STR = const(1024)
MAX_BODY = const(1035)  # H + sid + 9-byte delta + 1024-byte string
MAX_RECORD = const(1041)  # 2-byte L + body + CRC
MAX_TS = 1 << 56  # Unix ms (~41 bits) and boot-relative codes (boot id << 40 | ms) both fit
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
_RESIDUE = const(0x2144DF1C)  # CRC-32 of any data followed by its own CRC (little-endian)


def key(salt, off):
    # The CRC key (format 2) of the record at offset off of a segment or sector with this salt:
    # distinct for every offset (off < 65536) of one segment.
    return salt ^ (off & 0xFFFF)


def key_base(salt):
    # salt as a signed 32-bit int: crc32() takes a key modulo 2**32, and key_base(salt) ^ (off &
    # 0xFFFF) stays a small int on a 32-bit port for half the salts (key() boxes from 2**30 up).
    return salt - (1 << 32) if salt >= 1 << 31 else salt


def new_salt():
    # A random 32-bit salt for a new segment or sector: 31 random bits, below 2**30 or from
    # 2**32 - 2**30 up, so that its key_base() is a small int on a 32-bit port (reading its
    # records then boxes no int per record).
    try:
        r = struct.unpack("<I", os.urandom(4))[0] >> 1
    except (AttributeError, NotImplementedError, OSError):
        import random

        r = random.getrandbits(31)
    return r if r < 1 << 30 else r + (1 << 31)


def _varint(buf, i, z):
    # z >= 0; returns the offset after it
    while z >= 0x80:
        buf[i] = (z & 0x7F) | 0x80
        z >>= 7
        i += 1
    buf[i] = z
    return i + 1


def _zz(n):
    return n << 1 if n >= 0 else ((-n) << 1) - 1


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


def encode_into(buf, off, sid, ts, value, flags=0, decimals=None, base_ts=0, views=None, crckey=0):
    # Writes one whole record at buf[off:] and returns its length. Raises TypeError for a value
    # or ts of the wrong type, ValueError for one out of range; writes nothing usable then.
    # views: optional list with views[k] == memoryview(buf)[:k], so that a record encoded at
    # off 0 gets its CRC without allocating a slice. crckey: the key of the place the record goes
    # (key()), 0 for format 1.
    if type(ts) is not int:
        raise TypeError("ts not int")
    if not 0 <= ts < MAX_TS:
        raise ValueError("ts out of range")
    if type(sid) is not int or not 0 <= sid <= 254:
        raise ValueError("bad stream id")
    if type(flags) is not int or not 0 <= flags <= 3:
        raise ValueError("bad flags")
    if decimals is not None and (type(decimals) is not int or not 0 <= decimals <= 6):
        raise ValueError("bad decimals")
    # value first into its slot after a 2-byte-L guess is avoided: the body is laid out at
    # off + 1, and moved one byte on in the rare case L needs two bytes (strings only).
    t = type(value)
    p = off + 1
    buf[p + 1] = sid
    p = _varint(buf, p + 2, _zz(ts - base_ts))
    if t is bool:
        typ = T_TRUE if value else T_FALSE
    elif t is int:
        if not _INT_MIN <= value <= _INT_MAX:
            raise ValueError("int out of range")
        typ = T_INT
        p = _varint(buf, p, _zz(value))
    elif t is float:
        _check_float(value)
        typ = -1
        if decimals is not None:
            m = value * 10**decimals
            if m - m == 0:  # still finite: a huge value scaled overflows to infinity
                m = round_scaled(value, decimals)
                if _INT_MIN <= m <= _INT_MAX:
                    typ = T_SCALED + decimals
                    p = _varint(buf, p, _zz(m))
        if typ < 0:
            if _f32_exact(value):
                typ = T_F32
                struct.pack_into("<f", buf, p, value)
                p += 4
            else:
                typ = T_F64
                struct.pack_into("<d", buf, p, value)
                p += 8
    elif t is str:
        data = utf8(value)
        n = len(data)
        if n > MAX_STR:
            raise ValueError("string over 1024 bytes")
        typ = T_STR
        buf[p:p + n] = data
        p += n
    elif (t is tuple or t is list) and len(value) == 2:
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
            typ = T_LOC32
            struct.pack_into("<ff", buf, p, lon, lat)
            p += 8
        else:
            typ = T_LOC64
            struct.pack_into("<dd", buf, p, lon, lat)
            p += 16
    else:
        raise TypeError("value type not storable")
    buf[off + 1] = flags | (typ << 2)
    body = p - off - 1
    if body < 0x80:
        buf[off] = body
        end = p
    else:
        # two-byte L: shift the body one byte right (only strings get here)
        buf[off + 2:p + 1] = buf[off + 1:p]
        buf[off] = (body & 0x7F) | 0x80
        buf[off + 1] = body >> 7
        end = p + 1
    if off == 0 and views is not None and end < len(views):
        crc = binascii.crc32(views[end], crckey)
    else:
        crc = binascii.crc32(memoryview(buf)[off:end], crckey)
    struct.pack_into("<I", buf, end, crc & 0xFFFFFFFF)
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
    if binascii.crc32(mv[off:last + 4], crckey) != _RESIDUE:
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
            return str(bytes(buf[p:self.last]), "utf-8")
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
