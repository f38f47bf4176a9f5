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
# Where: the writing side (encode_into, delta, new_salt and read) is in frame_write.py, the CRC
# keys and Rec in frame.py, whose store of frames encodes its tail's records with them: a wake
# that appends to such a store loads those two only. This module holds the reading side (check, decode, sid_of), the string and
# location encoder (_put_other, imported by encode_into at the first one) and exports the writing
# side's names as its own, for format 1/2 segments (legacy.py), the raw backend and the tools.
# Pure functions over caller buffers: safe from any task; not from an interrupt (ints may box).
import math

from .compat import IS_MICROPYTHON, binascii, const, scaled_float, struct

# the writing side (frame_write.py and frame.py hold it: a format 3 store's append loads no more),
# here as ever
from .frame import (  # noqa: F401  (the record codec's names, for its users)
    T_F32,
    T_F64,
    T_FALSE,
    T_INT,
    T_LOC32,
    T_LOC64,
    T_SCALED,
    T_STR,
    T_TRUE,
    Rec,
    key,
    signed_salt,
)
from .frame_write import MAX_TS, _f32_exact, _scaled, delta, encode_into, new_salt, read  # noqa: F401

VERSION = 1
FLAG_BOOTREL = 1
MAX_STR = const(1024)
MAX_BODY = const(1035)  # H + sid + 9-byte delta + 1024-byte string
MAX_RECORD = const(1041)  # 2-byte L + body + CRC
_MIN_BODY = const(3)
_RESIDUE = const(0x2144DF1C)  # CRC-32 of any data followed by its own CRC (little-endian)


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
    dts, p = _read_varint(buf, q + 2)
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
    return n, sid, base_ts + dts, h & 3, value
