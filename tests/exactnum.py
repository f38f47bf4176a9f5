# Test helper: exact expectations for numbers on the runtime the tests run on (CPython, the 64-bit
# unix port, a float32 port), computed in ints from a float's IEEE bits (struct, not frexp/ldexp,
# so independent of the library's own method) and never through a float operation or repr.
#   BITS, EMIN                  significand bits and the smallest subnormal's exponent here
#   held(v)                     (negative, m, e) with v == +-m * 2**e exactly
#   nearest(num, den)           the float here nearest num / den (half to even; inf past the top)
#   round_dec(v, d)             v * 10**d rounded half to even on its exact value (an int)
#   fixed_text(n, d)            n / 10**d as the encoder writes it: at most d decimals, no trailing 0
#   shortest(v)                 (digits, k): fewest digits that read back as v here, nearest to v
#   repr_text(v), int_text(v)   shortest() laid out as repr does (".0" left off) / as digits "eK"
import struct

# float32 keeps 0.1 unchanged through a float32 round trip only when floats are float32
BITS = 24 if struct.unpack("<f", struct.pack("<f", 0.1))[0] == 0.1 else 53
EMIN = -149 if BITS == 24 else -1074
_EMAX = 127 - 23 if BITS == 24 else 1023 - 52  # exponent of the largest float's last bit


def bitlen(n):
    return len(bin(n)) - 2 if n else 0


def held(v):
    lo, hi = struct.unpack("<II", struct.pack("<d", v))  # a float32 widens to double exactly
    neg = bool(hi >> 31)
    field = (hi >> 20) & 0x7FF
    frac = ((hi & 0xFFFFF) << 32) | lo
    if field == 0:
        return neg, frac, -1074
    return neg, frac | (1 << 52), field - 1075


def _bits_float(neg, m, e):
    # m * 2**e with m < 2**BITS, already rounded; e >= EMIN
    if BITS == 24:
        field = 0 if m < (1 << 23) else e - EMIN + 1
        word = (int(neg) << 31) | (field << 23) | (m & 0x7FFFFF)
        return struct.unpack("<f", struct.pack("<I", word))[0]
    field = 0 if m < (1 << 52) else e - EMIN + 1
    frac = m & ((1 << 52) - 1)
    hi = (int(neg) << 31) | (field << 20) | (frac >> 32)
    return struct.unpack("<d", struct.pack("<II", frac & 0xFFFFFFFF, hi))[0]


def _div_even(num, den):
    q, r = divmod(num, den)
    if 2 * r > den or (2 * r == den and q & 1):
        q += 1
    return q


def nearest(num, den, neg=False):
    # num >= 0, den > 0
    if num == 0:
        return -0.0 if neg else 0.0
    e = bitlen(num) - bitlen(den) - BITS + 1  # num / den / 2**e in (2**(BITS - 2), 2**BITS)
    if num * (1 << max(0, -e)) < den * (1 << max(0, e)) * (1 << (BITS - 1)):
        e -= 1  # num / den < 2**(BITS - 1 + e): one bit more below
    if e < EMIN:
        e = EMIN
    if e >= 0:
        m = _div_even(num, den << e)
    else:
        m = _div_even(num << -e, den)
    if m == 1 << BITS:
        m >>= 1
        e += 1
    if e > _EMAX:
        return float("-inf") if neg else float("inf")
    return _bits_float(neg, m, e)


def same(a, b):
    return struct.pack("<d", a) == struct.pack("<d", b)


def round_dec(v, d):
    neg, m, e = held(v)
    num = m * 10**d
    n = num << e if e >= 0 else _div_even(num, 1 << -e)
    return -n if neg else n


def fixed_text(n, d):
    sign = "-" if n < 0 else ""
    n = abs(n)
    whole = str(n // 10**d)
    if not d or not n % 10**d:
        return sign + whole if n else "0"
    frac = str(n % 10**d)
    frac = ("0" * (d - len(frac)) + frac).rstrip("0")
    return sign + whole + "." + frac


def shortest(v):
    # v finite, not 0. Tries 1, 2, ... significant digits: the nearest such decimal and, when it
    # does not read back, the other one next to v.
    neg, m, e = held(v)
    num, den = (m << e, 1) if e >= 0 else (m, 1 << -e)
    x = len(str(num)) - len(str(den))  # the power of ten of v's first digit, or one more
    if num * 10 ** max(0, -x) < den * 10 ** max(0, x):
        x -= 1
    for n in range(1, 18):
        k = x - n + 1
        sn, sd = (num, den * 10**k) if k >= 0 else (num * 10**-k, den)
        q, r = divmod(sn, sd)
        near = q + 1 if 2 * r > sd or (2 * r == sd and q & 1) else q
        for c in (near, q + q + 1 - near):
            back = nearest(c * 10**k, 1, neg) if k >= 0 else nearest(c, 10**-k, neg)
            if c > 0 and same(back, v):
                while c % 10 == 0:
                    c //= 10
                    k += 1
                return str(c), k
    raise AssertionError("no shortest form for %r" % v)


def repr_text(v):
    if v == 0:
        return "0"
    digits, k = shortest(v)
    sign = "-" if v < 0 else ""
    n = len(digits)
    x = k + n - 1
    if x < -4 or x >= 16:
        mant = digits[0] + ("." + digits[1:] if n > 1 else "")
        return "%s%se%s%02d" % (sign, mant, "-" if x < 0 else "+", abs(x))
    if k >= 0:
        return sign + digits + "0" * k
    if x < 0:
        return sign + "0." + "0" * (-x - 1) + digits
    return sign + digits[: x + 1] + "." + digits[x + 1 :]


def int_text(v):
    digits, k = shortest(v)
    return ("-" if v < 0 else "") + digits + ("e%d" % k if k else "")
