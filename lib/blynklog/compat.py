# blynklog.compat: what differs between MicroPython ports and CPython, in one place.
# const, the wrapping millisecond ticks, nanosecond time, and the offset from the port's
# epoch to Unix time (ESP32 counts from 2000, rp2 and unix from 1970: detected, not assumed).
# Allocates nothing after import; safe to call from any task.
import math
import sys
import time

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

IS_MICROPYTHON = sys.implementation.name == "micropython"

try:
    ticks_ms = time.ticks_ms
    ticks_diff = time.ticks_diff
    ticks_add = time.ticks_add
    sleep_ms = time.sleep_ms
except AttributeError:
    # CPython: a 30-bit wrapping counter like a board's, so wrap-around bugs show on the host too.
    _TICKS_PERIOD = 1 << 30
    _TICKS_MASK = _TICKS_PERIOD - 1
    _TICKS_HALF = _TICKS_PERIOD >> 1

    def ticks_ms():
        return int(time.monotonic() * 1000) & _TICKS_MASK

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


def utc_day(unix_ms_value):
    # The UTC day number (days since 1970-01-01) of a Unix millisecond time.
    return unix_ms_value // 86400000


def round_scaled(value, decimals):
    # round(value * 10**decimals) on value's exact binary value, half to even: the integer behind
    # CPython's round(value, decimals). The plain product rounds twice (the multiplication first),
    # which turns near-ties into ties on both runtimes (-0.005 with 2 decimals gave 0, not -1).
    m, e = math.frexp(value)
    # value = n * 2**(e - 53) exactly: m has at most 53 significant bits. ldexp, not a 2**53
    # literal: a float32 port may parse a 16-digit literal one step short of 2**53.
    n = int(math.ldexp(m, 53))
    e -= 53
    neg = n < 0
    if neg:
        n = -n
    n *= 10 ** decimals
    if e >= 0:
        q = n << e
    else:
        q = n >> -e
        r = n - (q << -e)
        half = 1 << (-e - 1)
        if r > half or (r == half and q & 1):
            q += 1
    return -q if neg else q
