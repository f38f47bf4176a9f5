# blynklog.encoder: the body of one (device, datastream) batch as compact JSON, streamed.
#   platform: {"deviceId":1,"dataStreamId":1,"values":[{"value":5,"ts":1702656423136},...]}
#   device:   [[1702656423136,5],...]
# `points` is a callable returning a fresh iterator of (ts_ms, value) pairs, or of record.Rec (the
# upload's passes: a record read in place); it is called once per pass: body_length() makes one
# pass to count the exact bytes, body_chunks() another to produce them (both in body.py, loaded
# only to make a body; here the point sizes, the slow path and the values' text). Lengths are counted, not
# written: from the digit counts of a point's ts and scaled int, kept as brackets of powers of ten
# (a record's ts: its delta's bracket per segment base). The body is never held whole: the points
# are print()ed into a BytesIO (a sink: print() formats ints in C, without allocating), read out
# into one bytearray (_CHUNK bytes, allocated per call) and yielded as memoryview slices of it; a
# chunk is valid only until the next one is asked for. A ts is written as the fixed text of its
# window and a small int (_window: no big int printed or split per point on a 32-bit port), a
# decimal from its scaled int: a sync makes no object per point for an int, a bool or a scaled
# value. The rare points (strings, floats without decimals, locations) take the slow path, _emit.
# Strings are escaped in pieces. point_size() and the slow paths share module scratch buffers and
# point_size() a digit bracket (_pc): not safe from two tasks at once.
# Values: bool -> true/false; int -> digits; float -> rounded half to even to `decimals` on its
# exact binary value, at most that many digits after the point, trailing zeros stripped (from
# 2**59 up, where every float is an integer: its shortest digits, "1e300"); decimals None: the
# fewest digits that read back as the value on this port, in repr's layout ("0.1", "1e+22").
# Decimals: digits of the exact scaled int (compat.round_scaled), never of a float product. No
# decimals: the shortest text that reads back (shortest.py, imported at the first such float:
# repr's text where it is the shortest, always on CPython). str -> JSON string; (lon, lat) ->
# [lon,lat].
# NaN and infinities raise ValueError. A body over the API's size limit raises ValueError.
import math

from .compat import FLOAT_BITS, IS_MICROPYTHON, const, round_scaled

# record.py's value types, as a record.Rec carries them (the encoder does not import record)
_T_FALSE = const(0)
_T_TRUE = const(1)
_T_INT = const(2)
_T_SCALED = const(8)

_ROOM = const(160)  # the most a non-string point can take, with its comma
_MAX_DIGITS = const(9)  # 10**9 < 2**30: the low part of a split int stays a small int

# request size limits in bytes: the Device API documents 2 MB; the Platform import has no stated
# limit, so a conservative one
LIMITS = {"device": 2000000, "platform": 1000000}

_scratch = bytearray(_ROOM)
_sh = None  # shortest.py, once imported (_short)
_HUGE = math.ldexp(1.0, 59)  # from here up every float is an integer: written as its shortest digits

# decimals d = 0..6: below 2**(FLOAT_BITS - bits of 10**d) (the body passes' flim) a float's ulp
# is under 10**-d, so the int m = round(v * 10**d) whose m / 10**d (one rounding) is v is the exact
# round_scaled(v, d); a scaled int m of a record with |m| < _LIM reads back as m
# (compat.scaled_float): its digits are written as they are.
_P10I = (1, 10, 100, 1000, 10000, 100000, 1000000)
_LIM = 1 << (FLOAT_BITS - 2)
# point_size()'s digit bracket (_bracket) of a record's ts: its base, its deltas' bracket and its
# digits; and the last record of a scaled value it counted: api, decimals, type, its scaled int's
# bracket, its size, the record class, its size less the scaled int's text (none at first)
_pc = [None, 0, -1, 0, None, None, None, 0, 0, 0, None, 0]
_SMALL = const(0x3FFFFFFF)  # the largest small int on a 32-bit port: a delta bracket stays within

_ESC = {0x22: b'\\"', 0x5C: b"\\\\", 0x0A: b"\\n", 0x0D: b"\\r", 0x09: b"\\t", 0x08: b"\\b", 0x0C: b"\\f"}
_HEX = b"0123456789abcdef"


def limit(api):
    try:
        return LIMITS[api]
    except KeyError:
        raise ValueError("api must be platform or device")


def _put(buf, pos, data):
    n = len(data)
    buf[pos : pos + n] = data
    return pos + n


def _put_small(buf, pos, n):
    # n: 0 <= n < 10**9 (a small int on every port)
    if n == 0:
        buf[pos] = 48
        return pos + 1
    end = pos
    t = n
    while t:
        t //= 10
        end += 1
    p = end
    while n:
        p -= 1
        buf[p] = 48 + n % 10
        n //= 10
    return end


def _put_int(buf, pos, n):
    if n < 0:
        buf[pos] = 45  # '-'
        pos += 1
        n = -n
    if n < 1000000000:
        return _put_small(buf, pos, n)
    hi = n // 1000000000
    lo = n - hi * 1000000000
    if hi >= 1000000000:
        raise ValueError("int out of range")
    pos = _put_small(buf, pos, hi)
    # the low 9 digits, zero padded
    p = pos + _MAX_DIGITS
    while p > pos:
        p -= 1
        buf[p] = 48 + lo % 10
        lo //= 10
    return pos + _MAX_DIGITS


# The per-point functions keep few locals: MicroPython puts a frame of more than 11 words (args,
# locals and stack) on the heap, an allocation per call that costs more than the work here.
def _short():
    # shortest.py (a float's fewest digits that read back), imported at the first float without
    # decimals, or past 2**59: a sync of streams with decimals does not load it
    global _sh
    if _sh is None:
        from . import shortest

        _sh = shortest
    return _sh


def _put_float(buf, pos, v, decimals):
    if v - v != 0.0:
        raise ValueError("nan or inf")
    if decimals is not None and decimals >= 0 and -_HUGE < v < _HUGE:
        # the held value rounded half to even to `decimals`, in digits from the exact scaled int
        # (for a value the store held scaled, the same int: see record.py)
        return _put_fixed(buf, pos, round_scaled(v, decimals), decimals)
    if v == 0.0:
        buf[pos] = 48
        return pos + 1
    if v < 0:
        buf[pos] = 45
        pos += 1
        v = -v
    if decimals is not None:
        # v >= 2**59 (an integer on every port) with decimals: its shortest digits and an
        # exponent, no digits after a point
        v = _short().shortest(v)
        pos = _put_int(buf, pos, v[0])
        if v[1]:
            buf[pos] = 101  # 'e'
            pos = _put_small(buf, pos + 1, v[1])
        return pos
    t = repr(v)
    if IS_MICROPYTHON:
        sh = _short()
        if not sh.settled(t, v):
            return sh.put_layout(buf, pos, sh.shortest(v))
    # repr is the shortest text that reads back (checked on a port): written as is, ".0" left off
    if t[-2:] == ".0":
        t = t[:-2]
    return _put(buf, pos, t.encode())


def _put_fixed(buf, pos, n, d):
    # n / 10**d with at most d digits after the point, trailing zeros left off; |n| < 2**59 * 10**d,
    # so the whole part stays under 10**18 (_put_int's range)
    if n < 0:
        buf[pos] = 45
        pos += 1
        n = -n
    scale = 10**d
    whole = n // scale
    pos = _put_int(buf, pos, whole)
    n -= whole * scale
    if not n:
        return pos
    while n % 10 == 0:
        n //= 10
        d -= 1
    buf[pos] = 46  # '.'
    return _put_digits(buf, pos + 1, n, d, 0)


def _put_digits(buf, pos, n, nd, point):
    # the nd low digits of n >= 0 (zero padded), with a '.' after the first `point` (0: none)
    end = pos + nd + (1 if point else 0)
    p = end
    while nd:
        if nd == point:
            p -= 1
            buf[p] = 46
        p -= 1
        buf[p] = 48 + n % 10
        n //= 10
        nd -= 1
    return end


def _put_value(buf, pos, value, decimals):
    # every value kind except str
    if value is True:
        return _put(buf, pos, b"true")
    if value is False:
        return _put(buf, pos, b"false")
    if isinstance(value, int):
        return _put_int(buf, pos, value)
    if isinstance(value, float):
        return _put_float(buf, pos, value, decimals)
    if isinstance(value, (tuple, list)) and len(value) == 2:
        buf[pos] = 91  # '['
        pos = _put_coord(buf, pos + 1, value[0], decimals)
        buf[pos] = 44  # ','
        pos = _put_coord(buf, pos + 1, value[1], decimals)
        buf[pos] = 93  # ']'
        return pos + 1
    raise TypeError("unsupported value")


def _put_coord(buf, pos, v, decimals):
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise TypeError("location needs numbers")
    return _put_float(buf, pos, float(v), decimals)


if IS_MICROPYTHON:
    from uio import BytesIO as _Sink  # the built-in by its u-name (compat.py says why)
    # print() writes a str's UTF-8 bytes into it; _Sink(n): room for n bytes
else:
    import io

    class _Sink(io.BytesIO):  # type: ignore[no-redef]  # CPython: print() writes str
        def __init__(self, size=0):
            io.BytesIO.__init__(self)

        def write(self, data):
            return io.BytesIO.write(self, data.encode() if isinstance(data, str) else data)


_sizer = _Sink()  # point_size()'s: not safe from two tasks at once


def _put_str(out, value):
    # a JSON string, escaped in pieces of the scratch buffer
    buf = _scratch
    mv = memoryview(buf)
    buf[0] = 34
    pos = 1
    for c in value.encode():
        if pos > _ROOM - 8:
            out.write(mv[:pos])
            pos = 0
        e = _ESC.get(c)
        if e is not None:
            buf[pos] = e[0]
            buf[pos + 1] = e[1]
            pos += 2
        elif c < 0x20:
            pos = _put(buf, pos, b"\\u00")
            buf[pos] = _HEX[c >> 4]
            buf[pos + 1] = _HEX[c & 15]
            pos += 2
        else:
            buf[pos] = c
            pos += 1
    buf[pos] = 34
    out.write(mv[: pos + 1])


def _emit(out, plat, ts, value, decimals):
    # Writes one point to out (a _Sink) after its comma, the slow way, for any value: ts an int
    # (with value), or a record.Rec (its ts made as an int, its value with value()). The value's
    # text is the _put_* functions' (an int printed as it is), the one body_chunks writes fast for
    # the common points.
    fixed = -1
    if ts.__class__ is not int and hasattr(ts, "delta"):
        d = ts.typ - _T_SCALED
        m = ts.m
        if 0 <= d <= 6 and (-m if m < 0 else m) >> 59 < _P10I[d]:
            # a scaled value: its own digits, as add() stored them (round_scaled: exact, whatever
            # their size), not rounded again to the stream's decimals now (changed since) from the
            # float it reads back as; below 2**59 * 10**d, _put_fixed's range
            fixed = _put_fixed(_scratch, 0, m, d)
        else:
            value = ts.value()
        ts = ts.base + ts.delta
    elif ts.__class__ is not int:
        _check_ts(ts)
        ts = int(ts)
    if plat:
        out.write(',{"value":')
    else:
        print(",[", ts, ",", sep="", end="", file=out)
    if fixed >= 0:
        out.write(memoryview(_scratch)[:fixed])
    elif value.__class__ is int:
        print(value, end="", file=out)
    elif value.__class__ is bool:
        out.write("true" if value else "false")
    elif isinstance(value, str):
        _put_str(out, value)
    else:
        out.write(memoryview(_scratch)[: _put_value(_scratch, 0, value, decimals)])
    if plat:
        print(',"ts":', ts, sep="", end="}", file=out)
    else:
        out.write("]")


def _check_ts(ts):
    if isinstance(ts, bool) or not isinstance(ts, int):
        raise TypeError("ts must be int")


def _dec(decimals):
    return decimals if decimals is not None and 0 <= decimals <= 6 else -1


# @micropython.native armv6m
def point_size(api, ts, value, decimals):
    # The bytes one point adds to a body, its separating comma included. ts: an int, or a
    # record.Rec (value unused). Counted from digits for the common kinds (a float with decimals, an
    # int, a bool), without a big int per point (a record's ts from its base's bracket in _pc);
    # written to _sizer and measured for the rest. A record of a scaled value like the last one
    # counted (the same api, decimals, type, base and digit counts) takes its size from _pc (when
    # its last digit is not 0, at once): a sync's plan calls this for every record it batches.
    c = _pc
    plat = api == "platform"
    if not plat and api != "device":
        limit(api)  # raises
    k = 17 if plat else 4  # the bytes besides ts and value, the comma included
    dec = _dec(decimals)
    if ts.__class__ is not int and hasattr(ts, "delta"):
        value = ts.base
        if value is not c[0] or not c[1] <= ts.delta < c[2]:
            c[0] = c[4] = None  # (the size cached counted the old digits)
            if value + ts.delta >= 0:
                c[1], c[2], c[3] = _bracket(value + ts.delta)
                c[1] = max(c[1] - value, -_SMALL)
                c[2] = min(c[2] - value, _SMALL)
                c[0] = value
        if value is c[0]:
            k += c[3]
            value = ts.typ
            if dec >= 0 and value == _T_SCALED + dec and -_LIM < ts.m < _LIM:
                return k + _vsize(ts.m, dec)
            if value == _T_INT:
                return k + _vsize(ts.m, 0)
            if value == _T_TRUE or value == _T_FALSE:
                return k + 5 - value
    out = _sizer
    out.seek(0)
    _emit(out, plat, ts, value, decimals)
    return out.tell()


def _envelope(api, target):
    # (head bytes, tail bytes) of a body
    if api == "platform":
        if target is None:
            raise ValueError("platform needs (device_id, stream_id)")
        device_id, stream_id = target
        if isinstance(device_id, bool) or not isinstance(device_id, int):
            raise TypeError("device id must be int")
        if isinstance(stream_id, bool) or not isinstance(stream_id, int):
            raise TypeError("stream id must be int")
        return b'{"deviceId":%d,"dataStreamId":%d,"values":[' % (device_id, stream_id), b"]}"
    limit(api)
    return b"[", b"]"


def overhead(api, target):
    # The bytes of a body with no points: body_length = overhead + sum(point_size) - 1 (n >= 1).
    head, tail = _envelope(api, target)
    return len(head) + len(tail)


def _bracket(n):
    # (low, high, digits) for an int n >= 0: low <= n < high hold the ints of its digit count
    d = 1
    t = 10
    while n >= t:
        t *= 10
        d += 1
    return (t // 10 if d > 1 else 0), t, d


def _window(lead, ts):
    # Timestamps near ts >= 0 as a fixed text and a small int, without big-int work per point:
    # (prefix, base, low, high); a t with low <= t - base < high is written as prefix (lead and
    # ts's leading digits) then t - base: ts's last k digits, those of ts % 10**9 without its
    # leading zeros (k <= 9, a small int on every port). After a run of zeros the windows grow
    # tenfold each.
    s = str(ts)
    n = len(s)
    k = n if n < 9 else 9
    while k > 1 and s[n - k] == "0":
        k -= 1
    return lead + s[: n - k], ts - int(s[n - k :]), (10 ** (k - 1) if k > 1 else 0), 10**k


# @micropython.native armv6m
def _vsize(m, d):
    # The length of the text of m / 10**d (m an int, d = 0..6) as the encoder writes it: at most d
    # digits after the point, trailing zeros left off, the sign included.
    n = d + 1  # at least one digit before the point
    if m < 0:
        m = -m
        n += 1
    t = _P10I[d] * 10
    while m >= t:
        t *= 10
        n += 1
    if d:
        t = m % _P10I[d]
        if not t:
            return n - d
        while t % 10 == 0:
            t //= 10
            n -= 1
        n += 1
    return n
