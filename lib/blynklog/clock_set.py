# blynklog.clock_set: the parts of clock.Clock that a wake which only samples never runs: setting
# the clock (the user's time, NTP, an HTTP Date header), the upload's notes (note_stored,
# note_dropped) and the figures (stats). clock.py's Clock calls these at their first use (a small
# method each), so that a sampling wake does not load them. Functions of a Clock c; the same
# contract as clock.py's (one task at a time, not from an interrupt).
from .compat import days_from_civil, ticks_diff

_DAY_MS = 86400000
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def parse_http_date(text):
    # Unix ms of an HTTP Date header ("Wed, 25 Nov 2026 17:49:28 GMT"), or None; also in the two
    # obsolete forms a recipient must accept (RFC 9110): RFC 850's "Wednesday, 25-Nov-26 17:49:28
    # GMT" (its year taken as 20xx) and asctime's "Wed Nov 25 17:49:28 2026". Each number is digits
    # alone, and the day one of its month's (a garbled "31 Feb" is no 3 Mar).
    p = text.split() if isinstance(text, str) else []
    n = len(p)
    if n == 6 and p[5] == "GMT":
        day, mon, year, hms = p[1], p[2], p[3], p[4]
    elif n == 4 and p[3] == "GMT" and p[1].count("-") == 2:
        day, mon, year = p[1].split("-")
        year = "20" + year if len(year) == 2 else ""
        hms = p[2]
    elif n == 5:
        mon, day, hms, year = p[1], p[2], p[3], p[4]
    else:
        return None
    hms = hms.split(":")
    if mon not in _MONTHS or len(hms) != 3:
        return None
    for v in hms + [day, year]:
        if not v.isdigit():
            return None
    day, year = int(day), int(year)
    h, mi, s = int(hms[0]), int(hms[1]), int(hms[2])
    m = _MONTHS.index(mon) + 1
    days = days_from_civil(year, m, day)
    if not (1 <= day and days < days_from_civil(year + m // 12, m % 12 + 1, 1) and h < 24 and mi < 60 and s < 61):
        return None
    return days * _DAY_MS + ((h * 60 + mi) * 60 + s) * 1000


def note_stored(c, ts_ms):
    # the newest Unix ms stored so far (for the step check); kept in memory until persisted
    if c._newest is None or ts_ms > c._newest:
        c._newest = ts_ms


def note_dropped(c, n=1):
    # the caller dropped n samples that resolve() said can never be placed (the upload policy,
    # once their drop is committed); in the state from now on, written with its next save
    c._dropped += n
    c._persist()


def refuse(c, why):
    c.last_error = why
    c._refused += 1
    return False


def set_time_ms(c, unix_ms, source="user"):
    if not isinstance(unix_ms, int) or isinstance(unix_ms, bool):
        raise TypeError("unix_ms must be an int")
    if unix_ms < c._min_ms:
        return refuse(c, "%s: year before %d" % (source, c._min_year))
    if unix_ms >= c._max_ms:
        return refuse(c, "%s: year after %d" % (source, c._max_year))
    if c._newest is not None and unix_ms < c._newest - c.max_step_back_ms:
        return refuse(c, "%s: %d s before stored data" % (source, (c._newest - unix_ms) // 1000))
    c._write_port(unix_ms)
    c._offset = unix_ms - c._read()
    c._adopt(unix_ms, source)
    c.last_error = None
    return True


def sync_ntp(c, timeout_ms=2000):
    ntp = c._ntp
    if ntp is None:
        try:
            import ntptime as ntp
        except ImportError:
            return refuse(c, "ntp: no ntptime module")
    if c._ntp_host is not None:
        ntp.host = c._ntp_host
    if hasattr(ntp, "timeout"):
        ntp.timeout = timeout_ms / 1000  # seconds, for the socket's settimeout
    t0 = c._ticks()
    try:
        s = ntp.time()
    except OSError as e:
        timeout = (e.args and e.args[0] == 110) or type(e).__name__ == "TimeoutError"  # ETIMEDOUT
        return refuse(c, "ntp: timeout" if timeout else "ntp: %r" % (e,))
    except Exception as e:  # ntptime raises plain Exception for an unknown epoch
        return refuse(c, "ntp: %r" % (e,))
    if not isinstance(s, int):
        return refuse(c, "ntp: bad answer")
    rtt = ticks_diff(c._ticks(), t0)
    # whole seconds, truncated: +0.5 s on average, plus the way back
    return set_time_ms(c, s * 1000 + c._epoch_ms + 500 + (rtt // 2 if rtt > 0 else 0), "ntp")


def set_from_http_date(c, text):
    # used only while no better source set the clock in this boot; True when it set it
    if c._set and c._source in ("ntp", "user", "http", "port"):
        return False
    ms = parse_http_date(text)
    if ms is None:
        return refuse(c, "http: bad date")
    return set_time_ms(c, ms + 500, "http")


def stats(c):
    return {
        "set": c._set,
        "source": c._source,
        "estimated": c._est,
        "boot": c._boot,
        "anchors": len([1 for e in c._entries if e[1] is not None]),
        "refused": c._refused,
        "unplaceable": c._dropped,
        "last_error": c.last_error,
    }
