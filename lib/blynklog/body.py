# blynklog.body: the two passes over one batch's points that make its body, in encoder.py's
# format: body_length() counts its bytes, body_chunks() yields them (see encoder.py for how, and
# for the values' text). Apart from encoder.py (point sizes, the rare points' slow path) so that
# what only plans or reports (Logger.stats(), the upload's planning) does not load them: on a
# board they are native code (the "# @micropython.native" lines, decorators in deploy's -march
# copy), half their bytecode's time on an RP2040 (the encoder's time is radio-on time), for some
# 7 KB of the heap while loaded. blynk.py imports this module at the first body.
from .compat import FLOAT_BITS, const, round_scaled
from .encoder import (
    _LIM,
    _P10I,
    _Sink,
    _bracket,
    _dec,
    _emit,
    _envelope,
    _vsize,
    _window,
    limit,
    overhead,
    point_size,
)

# record.py's value types, as a record.Rec carries them
_T_FALSE = const(0)
_T_TRUE = const(1)
_T_INT = const(2)
_T_SCALED = const(8)

_CHUNK = const(512)
_ROOM = const(160)  # the most a non-string point can take, with its comma (encoder.py's)

_PAD = (".", ".0", ".00", ".000", ".0000", ".00000")
_kit = [None]  # type: list  # body_chunks' buffer and sink, kept for the next body: no 512-byte blocks per request


# @micropython.native
def body_length(api, target, points, decimals, max_bytes=None):
    # The exact length of the body; ValueError when it would exceed the API's size limit. Counted,
    # not written: by point_size(), but a (ts, float) pair here while its ts and its scaled int m
    # stay in the digit brackets (_bracket) of the last pair point_size() counted. Its m is found by
    # one product and may be one off: that changes neither its digit count nor its size when its
    # last digit is 2..8; else it is checked. (A sync gives its length: records are not seen here.)
    cap = limit(api) if max_bytes is None else max_bytes
    base = overhead(api, target) - 1  # the first point has no comma
    total = base
    dec = _dec(decimals)
    pf = float(_P10I[dec]) if dec >= 0 else 1.0
    flim = float(1 << (FLOAT_BITS - len(bin(_P10I[dec])) + 2)) if dec >= 0 else 0.0
    mcap = int(flim) * _P10I[dec]  # m below it: |value| < flim
    point = 1 if dec > 0 else 0
    low = high = vlo = vhi = vd = td = n1 = 0  # empty brackets: the first pair sets them
    tup = tuple
    flt = float
    num = int
    rnd = round
    for p in points():
        if p.__class__ is not tup and p.__class__ is not list:
            total += point_size(api, p, None, decimals)
            continue
        ts, v = p
        m = -1
        if v.__class__ is flt and ts.__class__ is num and low <= ts < high:
            try:
                m = rnd(v * pf)
            except (ValueError, OverflowError):  # nan, inf
                m = -1
            if vlo <= m < vhi:
                r = m % 10
                if 1 < r < 9:
                    total += n1
                    continue
                if m / pf != v:
                    m = round_scaled(v, dec)
                total += n1 - vd - point + _vsize(m, dec)
                continue
        total += point_size(api, ts, v, decimals)
        if ts.__class__ is int and ts >= 0 and not low <= ts < high:
            low, high, td = _bracket(ts)
        if v.__class__ is flt and -flim < v < flim:
            m = round(v * pf)
            if 0 <= m < mcap and not vlo <= m < vhi:
                vlo, vhi, vd = _bracket(m)
                if vd <= dec:  # below 10**dec: "0." and dec digits
                    vlo = 0
                    vhi = _P10I[dec] * 10
                    vd = dec + 1
                vhi = min(vhi, mcap)
        n1 = (17 if api == "platform" else 4) + point + vd + td
    if total > cap:
        raise ValueError("body over %d bytes" % cap)
    return total if total > base else base + 1  # no point: the body is head and tail


# @micropython.native
def body_chunks(api, target, points, decimals, chunk_size=_CHUNK):
    # Yields memoryview chunks of the body; each is valid until the next one is requested.
    # The points are print()ed into a sink. Here: a (ts, float) pair and a record of a scaled value
    # with decimals 0..6 (from its scaled int), an int or a bool, their ts written as the text of
    # its window (_window) and a small int: no big int per point. The rest by _emit().
    if chunk_size < _ROOM + 16:
        raise ValueError("chunk_size too small")
    head, tail = _envelope(api, target)
    kit = _kit[0]  # the chunk buffer and sink of the last body, taken while this one runs
    _kit[0] = None
    if kit is not None and len(kit[0]) == chunk_size:
        buf, out = kit
        out.seek(0)
    else:
        buf = bytearray(chunk_size)
        out = _Sink()
    mv = memoryview(buf)
    first = len(head) - 1
    out.write(head[:first])  # every point goes out after a comma: the first one's becomes head's "["
    plat = api == "platform"
    dec = _dec(decimals)
    pf = float(_P10I[dec]) if dec >= 0 else 1.0
    q = _P10I[dec] if dec >= 0 else 1
    tsc = _T_SCALED + dec if dec >= 0 else -2
    flim = float(1 << (FLOAT_BITS - len(bin(q)) + 2)) if dec >= 0 else 0.0
    mcap = int(flim) * q  # a pair's |m| below it: |value| < flim
    amin = q // 10 if dec > 0 else 1  # the digits after the point: dec of them from amin up
    lead = ',"ts":' if plat else ",["
    pre = ""  # the ts window (_window): empty, the first point sets it
    tb = high = 0
    low = 1
    rb = rc = None  # a record's base, and it less the window's base: ro
    ro = 0
    tup = tuple
    flt = float
    num = int
    rnd = round
    pr = print
    tell = out.tell
    stop = chunk_size - _ROOM
    it = iter(points())
    done = False
    while not done:
        done = True
        for p in it:
            m = w = None  # the value: a scaled int m, or w to print as it is (an int, true, false)
            if p.__class__ is tup:
                ts, v = p
                c = v.__class__ if ts.__class__ is num else None
                if c is not None:
                    lo = ts - tb
                    if not low <= lo < high:
                        if ts < 0:
                            c = None
                        else:
                            pre, tb, low, high = _window(lead, ts)
                            rb = None
                            lo = ts - tb
                if c is flt:
                    try:
                        m = rnd(v * pf)
                    except (ValueError, OverflowError):  # nan, inf
                        m = mcap
                    if -mcap < m < mcap:
                        if m / pf != v:
                            m = round_scaled(v, dec)
                    else:
                        m = None
                        _emit(out, plat, ts, v, decimals)
                else:
                    _emit(out, plat, ts, v, decimals)
            elif p.__class__ is rc:
                b = p.base
                if b is not rb:
                    rb = b
                    ro = b - tb
                lo = ro + p.delta
                c = p.typ
                if not low <= lo < high:
                    if b + p.delta < 0:
                        c = -2
                    else:
                        pre, tb, low, high = _window(lead, b + p.delta)
                        ro = b - tb
                        lo = ro + p.delta
                if c == tsc:
                    m = p.m
                    if not -_LIM < m < _LIM:
                        m = None
                        _emit(out, plat, p, None, decimals)
                elif c == _T_INT:
                    w = p.m
                elif c == _T_TRUE:
                    w = "true"
                elif c == _T_FALSE:
                    w = "false"
                else:
                    _emit(out, plat, p, None, decimals)
            elif p.__class__ is list:
                _emit(out, plat, p[0], p[1], decimals)
            else:
                if hasattr(p, "delta"):
                    rc = p.__class__  # the record class: the next records take the branch above
                _emit(out, plat, p, None, decimals)
            if m is not None:
                # m / 10**dec, as _put_fixed writes it: w, then fa and a (the digits after the point)
                if m >= 0:
                    w = m // q
                    a = m - w * q
                else:
                    a = -m
                    w = a // q
                    a -= w * q
                    w = -w if w else "-0"
                if not a:
                    fa = a = ""
                elif a < amin or not a % 10:
                    c = dec  # a's digits: dec less its trailing zeros, less its leading ones
                    while a % 10 == 0:
                        a //= 10
                        c -= 1
                    m = 10
                    while m <= a:
                        m *= 10
                        c -= 1
                    fa = _PAD[c - 1]
                else:
                    fa = "."  # the most common: all dec digits, the last not 0
            elif w is not None:
                fa = a = ""
            if w is not None:
                if plat:
                    pr(',{"value":', w, fa, a, pre, lo, sep="", end="}", file=out)
                else:
                    pr(pre, lo, ",", w, fa, a, sep="", end="]", file=out)
            if tell() > stop:
                done = False
                break
        if first >= 0:
            # the first point's comma becomes head's last byte (none: the body has no point)
            n = tell()
            if n > first:
                out.seek(first)
                out.write(head[first:])
                out.seek(n)
            else:
                out.write(head[first:])
            first = -1
        if done:
            out.write(tail)
        # what was written, as views of buf (one, but for a long string); out starts afresh
        n = tell()
        out.seek(0)
        while n > 0:
            k = out.readinto(buf)
            if k > n:
                k = n
            yield mv if k == chunk_size else mv[:k]
            n -= k
        out.seek(0)
    _kit[0] = (buf, out)  # for the next body (one given up half way leaves the next its own)
