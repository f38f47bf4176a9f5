# blynklog.compat: what differs between MicroPython ports and CPython, in one place.
# const, the wrapping millisecond ticks, nanosecond time, and the offset from the port's
# epoch to Unix time (ESP32 counts from 2000, rp2 and unix from 1970: detected, not assumed), and
# exact float <-> scaled-int conversion for the port's float width (53-bit doubles or float32).
# The clock functions allocate nothing after import; round_scaled() and scaled_float() allocate a
# few (big) ints. Safe to call from any task.
# It also imports, once for the package, the port's built-in modules that a Python file of the same
# name could replace (array, binascii, json, os, random, struct, time): MicroPython looks for such a file along
# sys.path at every `import os` statement, since built-in modules are not kept in sys.modules (some
# 7 ms on a Pico W each time). On MicroPython array, binascii, json, os, random and struct are imported by
# their u-names (uos for os), which name the built-in module itself and skip that search (0.1 ms); so is
# time on a board's port (rp2, esp32: 7 ms on a Pico W by its name), while on the unix port it is
# imported by its name, as a virtual board (boards/unix/chip/time.py) replaces it with a file. The
# modules of a wake take them from here; BOARD says whether this is a board's port.
import math
import sys

BOARD = sys.platform in ("rp2", "esp32")
if BOARD:
    try:
        import utime as time
    except ImportError:
        import time  # type: ignore[no-redef]
else:
    import time  # type: ignore[no-redef]

if sys.implementation.name == "micropython":
    import ubinascii as binascii
    from uarray import array
    import ujson as json
    import uos as os
    import urandom as random
    import ustruct as struct
else:  # CPython (whose ujson, when installed, is another library); the stubs type the u-names
    import binascii  # type: ignore[no-redef]  # noqa: F401  (for the package)
    from array import array  # noqa: F401  (for the package)
    import json  # type: ignore[no-redef]  # noqa: F401  (for the package)
    import os  # type: ignore[no-redef]
    import random  # type: ignore[no-redef]  # noqa: F401  (for the package)
    import struct  # type: ignore[no-redef]  # noqa: F401  (for the package)

try:
    from micropython import const
except ImportError:

    def const(x):  # type: ignore[misc]  # CPython's stand-in: the stubs type the real one
        return x


IS_MICROPYTHON = sys.implementation.name == "micropython"


# the port's float: significand bits (53 for doubles, 24 for float32 as on ESP32 and rp2) and the
# exponent of its smallest subnormal (value = int * 2**exponent)
FLOAT_BITS = 53 if (1.0 + 2.0**-40) != 1.0 else 24
FLOAT_EMIN = -1074 if FLOAT_BITS == 53 else -149
_FLOAT_INT = 1 << FLOAT_BITS  # ints below it in size convert to float exactly
_POW10_BITS = (1, 4, 7, 10, 14, 17, 20)  # bit length of 10**d, d = 0..6

try:
    ticks_ms = time.ticks_ms
    ticks_us = time.ticks_us
    ticks_diff = time.ticks_diff
    ticks_add = time.ticks_add
    sleep_ms = time.sleep_ms
except AttributeError:
    # CPython: a 30-bit wrapping counter like a board's, so wrap-around bugs show on the host too.
    _TICKS_PERIOD = 1 << 30
    _TICKS_MASK = _TICKS_PERIOD - 1
    _TICKS_HALF = _TICKS_PERIOD >> 1

    def ticks_ms():
        return int(time.monotonic() * 1000) & _TICKS_MASK  # type: ignore[attr-defined]  # CPython only

    def ticks_us():
        return int(time.monotonic() * 1000000) & _TICKS_MASK  # type: ignore[attr-defined]  # CPython only

    def ticks_add(ticks, delta):
        return (ticks + delta) & _TICKS_MASK

    def ticks_diff(end, start):
        return ((end - start + _TICKS_HALF) & _TICKS_MASK) - _TICKS_HALF

    def sleep_ms(ms):
        time.sleep(ms / 1000)


def days_from_civil(year, month, day):
    # Days from 1970-01-01 to the given proleptic Gregorian date (Howard Hinnant's algorithm).
    if month <= 2:
        year -= 1
    era = (year if year >= 0 else year - 399) // 400
    yoe = year - era * 400
    mp = (month + 9) % 12
    doy = (153 * mp + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def epoch_offset_s(gmtime0=None):
    # Seconds to add to the port's time to get Unix time: 946684800 when the port counts
    # from 2000 (ESP32), 0 when it counts from 1970 (rp2, unix, CPython).
    t = gmtime0 if gmtime0 is not None else time.gmtime(0)
    return (days_from_civil(t[0], t[1], t[2]) * 86400) + t[3] * 3600 + t[4] * 60 + t[5]


EPOCH_OFFSET_S = epoch_offset_s()
_EPOCH_OFFSET_MS = EPOCH_OFFSET_S * 1000

if hasattr(time, "time_ns"):
    time_ns = time.time_ns
else:

    def time_ns():
        return int(time.time() * 1000000000)


def unix_ms():
    # The port's wall clock in Unix milliseconds; whether it is set is the clock module's business.
    return time_ns() // 1000000 + _EPOCH_OFFSET_MS


def dir_entries(path):
    # (name, size) of each entry of a folder; size -1 where the listing does not give it
    # (littlefs's ilistdir does: a segment's size costs no stat)
    if hasattr(os, "ilistdir"):
        for e in os.ilistdir(path):
            yield e[0], (e[3] if len(e) > 3 and e[1] == 0x8000 else -1)
    else:
        for name in os.listdir(path):
            yield name, -1


def utc_day(unix_ms_value):
    # The UTC day number (days since 1970-01-01) of a Unix millisecond time.
    return unix_ms_value // 86400000


def round_scaled(value, decimals):
    # round(value * 10**decimals) on value's exact binary value, half to even: the integer behind
    # CPython's round(value, decimals). The plain product rounds twice (the multiplication first),
    # which turns near-ties into ties on both runtimes (-0.005 with 2 decimals gave 0, not -1).
    # Few locals: MicroPython puts a larger frame on the heap, per call (this is per sample).
    m, e = math.frexp(value)
    # value = int(m * 2**FLOAT_BITS) * 2**(e - FLOAT_BITS) exactly (ldexp, not a 2**53 literal: a
    # float32 port may parse a 16-digit literal one step short of 2**53)
    m = int(math.ldexp(m, FLOAT_BITS)) * 10**decimals
    e -= FLOAT_BITS
    if e >= 0:
        return m << e
    if m < 0:
        return -_shift_even(-m, -e)
    return _shift_even(m, -e)


def _shift_even(n, s):
    # n / 2**s rounded half to even, n >= 0, s > 0
    q = n >> s
    r = n - (q << s)
    s = 1 << (s - 1)
    if r > s or (r == s and q & 1):
        q += 1
    return q


def scaled_float(m, d):
    # m / 10**d rounded once, to the nearest float (half to even): the float a scaled int stands
    # for. CPython's int / int already rounds once; so does the port's when both ints convert to
    # float exactly. Else (|m| >= 2**FLOAT_BITS on a port) in ints: the quotient to FLOAT_BITS + 1
    # bits with a sticky remainder, rounded, then ldexp (exact: the result is a normal float).
    # round_scaled(scaled_float(m, d), d) == m when m = round_scaled(v, d) for a float v of this
    # port, which is how the encoder gets the stored digits back: where the float spacing near
    # m / 10**d is under 10**-d, x * 10**d is within 1/2 of m; where it is not, v is within half a
    # spacing of m / 10**d, so x is v itself (tests/test_exact_numbers.py checks both ways).
    q = 10**d
    if not IS_MICROPYTHON or -_FLOAT_INT < m < _FLOAT_INT:
        return m / q
    n = -m if m < 0 else m
    # frexp's exponent is n's bit length or one more (float(n) may round up): t lands in
    # [2**(bits + 1), 2**(bits + 4))
    s = FLOAT_BITS + 3 - math.frexp(float(n))[1] + _POW10_BITS[d]
    if s >= 0:
        t, sticky = divmod(n << s, q)
    else:
        t, sticky = divmod(n, q << -s)
    top = _FLOAT_INT << 1
    while t >= top:
        sticky |= t & 1
        t >>= 1
        s -= 1
    half = t & 1
    t >>= 1
    s -= 1
    if half and (sticky or t & 1):
        t += 1
    x = math.ldexp(float(t), -s)
    return -x if m < 0 else x
