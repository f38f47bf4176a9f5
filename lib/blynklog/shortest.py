# blynklog.shortest: the text of a float without decimals (encoder.py's slow path), imported at the
# first such float: the fewest significant digits that read back as the value on this port, the
# nearest to it among them, in repr's layout ("0.1", "1e+22"). CPython's repr is exactly that;
# MicroPython's is not always (a digit too many for ~2% of doubles, a wrong digit for ~1% of
# float32 values), so there repr is checked with one to five float operations (settled) and, when
# they disagree (mostly 16-17 digit values), the digits are found in ints (shortest, _fits).
# Pure functions; allocates a few (big) ints per value.
import math

from .compat import FLOAT_BITS, FLOAT_EMIN, IS_MICROPYTHON
from .encoder import _put_digits, _put_small

# the powers of ten a float holds exactly (5**j < 2**FLOAT_BITS): 1e0..1e22, or 1e0..1e10 on
# float32 ports; made by ldexp where settled() needs one (no table kept), not parsed (a port's parser
# may be a step off). Few module names here: MicroPython's globals table fills up, and a fuller
# one slows every builtin's lookup.
_P10_TOP = 23 if FLOAT_BITS == 53 else 11


def put_layout(buf, pos, nk):
    # n * 10**k, nk = (n, k) with n > 0 without trailing zeros, in repr's layout
    n, k = nk
    nd = 1
    t = n // 10
    while t:
        nd += 1
        t //= 10
    x = k + nd - 1  # the power of ten of the first digit
    # repr's layout: positional for 1e-4 <= v < 1e16, else d.ddde+XX; ".0" left off
    if x < -4 or x >= 16:
        pos = _put_digits(buf, pos, n, nd, 1 if nd > 1 else 0)
        buf[pos] = 101
        buf[pos + 1] = 43 if x >= 0 else 45  # '+' / '-'
        x = x if x >= 0 else -x
        if x < 10:
            buf[pos + 2] = 48
            pos += 1
        return _put_small(buf, pos + 2, x)
    if k >= 0:
        pos = _put_digits(buf, pos, n, nd, 0)
        while k:
            buf[pos] = 48
            pos += 1
            k -= 1
        return pos
    if x < 0:
        # 0.000ddd: the zeros after the point pad the digits to nd - x - 1 places
        buf[pos] = 48
        buf[pos + 1] = 46
        return _put_digits(buf, pos + 2, n, nd - x - 1, 0)
    return _put_digits(buf, pos, n, nd, x + 1)


def shortest(v):
    # (n, k) for finite v > 0: the fewest significant digits n (an int without trailing zeros)
    # whose number n * 10**k reads back as v on this port (round to nearest even), the nearest to v
    # among them. CPython's repr is exactly that. MicroPython's is not always (a digit too many, or
    # on float32 ports a wrong last digit): there repr is only the first guess, checked by
    # settled() and, when that fails, searched for in ints from the guess (_fits()).
    t = repr(v)
    n, k = _guess(t)
    if not IS_MICROPYTHON or settled(t, v):
        return n, k
    m, e = math.frexp(v)
    m = int(math.ldexp(m, FLOAT_BITS))
    e -= FLOAT_BITS
    if e < FLOAT_EMIN:  # subnormal: its low bits are zero
        m >>= FLOAT_EMIN - e
        e = FLOAT_EMIN
    t = _fits(m, e, k + 1)
    if t:
        while t:
            n = t
            k += 1
            t = _fits(m, e, k + 1)
    else:
        n = _fits(m, e, k)
        while not n:
            k -= 1
            n = _fits(m, e, k)
    while n % 10 == 0:
        n //= 10
        k += 1
    return n, k


def _guess(t):
    # (n, k) of repr's text t of a float > 0: n * 10**k, n without trailing zeros
    k = 0
    i = t.find("e")
    if i >= 0:
        k = int(t[i + 1 :])
        t = t[:i]
    i = t.find(".")
    if i >= 0:
        k -= len(t) - i - 1
        t = t.replace(".", "")
    i = int(t)
    while i and i % 10 == 0:
        i //= 10
        k += 1
    return i, k


def settled(t, v):
    # Whether repr's text t of v > 0 is v's shortest text, cheaply. n * 10**k below is one float
    # multiplication or division of exact operands (n < 2**FLOAT_BITS, 10**|k| exact), rounded
    # once: it reads back exactly as parsing would (Clinger's fast path). When it reads back as v
    # and n < 2**(FLOAT_BITS - 2), v's ulp is under 10**k (ulp <= v * 2**(1 - FLOAT_BITS) for a
    # normal v), so no other multiple of 10**k reads back as v, nor one with fewer digits (each is
    # one): t is the shortest and the nearest. A longer n: neither neighbour of its length nor
    # either candidate a digit shorter (c, c + 1) may read back. False out of the fast path's reach.
    n, k = _guess(t)
    if n >> FLOAT_BITS or not -_P10_TOP < k < _P10_TOP - 1:
        return False
    c = n // 10
    if k >= 0:
        t = math.ldexp(float(5**k), k)
        if n * t != v:
            return False
        if not n >> (FLOAT_BITS - 2):
            return True
        k = math.ldexp(float(5 ** (k + 1)), k + 1)
        return (n - 1) * t != v and (n + 1) * t != v and c * k != v and (c + 1) * k != v
    t = math.ldexp(float(5**-k), -k)
    if n / t != v:
        return False
    if not n >> (FLOAT_BITS - 2):
        return True
    k = math.ldexp(float(5 ** (-k - 1)), -k - 1)
    return (n - 1) / t != v and (n + 1) / t != v and c / k != v and (c + 1) / k != v


def _fits(m, e, k):
    # The multiple c of 10**k nearest m * 2**e among those that read back as m * 2**e, or 0 when
    # none does (c > 0). In units u = 2**(e - 2): the value is 4m, the numbers that read back as it
    # lie within 4m - 2 .. 4m + 2 (4m - 1 below a power of two), the ends only when m is even.
    w = (1 if m == 1 << (FLOAT_BITS - 1) and e > FLOAT_EMIN else 2) | (0 if m & 1 else 4)  # gap below, even
    m <<= 2  # from here: the value, over q
    u = 1
    q = 1
    if e >= 2:
        m <<= e - 2
        u <<= e - 2
    else:
        q <<= 2 - e
    if k >= 0:
        q *= 10**k
    else:
        e = 10**-k
        m *= e
        u *= e
    k, m = divmod(m, q)  # c * 10**k <= value < (c + 1) * 10**k; m: how far above c
    e = k > 0 and (m < u * (w & 3) or (w & 4 and m == u * (w & 3)))  # c reads back
    m = q - m if m else 0  # how far below c + 1 (none when the value is c)
    u = m and (m < u << 1 or (w & 4 and m == u << 1))  # c + 1 reads back
    if e and u:
        if m * 2 == q:  # equally near: the even one
            return k if not k & 1 else k + 1
        return k + 1 if m * 2 < q else k
    if e:
        return k
    return k + 1 if u else 0
