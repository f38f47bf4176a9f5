# blynklog.quota: the day's quota books and the back-off's wait, as plain numbers. policy.Uploader
# keeps the store's books with them, gateway.py each device's, and upload_wait_ms() at a wake
# whose journal stands in for the store (journal.Journal.wait_ms) answers with them from the
# store's cursors file and state.json: no store opened, no upload side loaded. Small on purpose:
# that wake imports it, and a sync holds it.
from .compat import binascii, utc_day

_DAY_MS = 86400000


def count(v, default):
    # A counter read back from flash: an int, or the default when absent or damaged.
    return v if isinstance(v, int) and not isinstance(v, bool) and v >= default else default


def books(meta):
    # (qday, qsent, qprev): the day's quota books as a commit's meta holds them (store.meta(), the
    # cursors file), a damaged or absent entry read as none
    return count(meta.get("qday"), -1), count(meta.get("qsent"), 0), count(meta.get("qprev"), 0)


def day_books(qday, qsent, qprev, now):
    # (day, points sent on it, points sent the day before) of the books (qday, qsent, qprev) at
    # `now`. A new day starts afresh (the day it follows kept as the one before); a day before the
    # booked one (a clock set back across UTC midnight) takes the books of both days over: what
    # went while the clock was ahead went on that earlier day, and spent its quota (so it reads;
    # the books themselves move back only with a commit that sends on that day: the next day's
    # may be the server's, by its Date near a midnight, and come back to count once ours turns).
    # Without a clock: the last known day.
    if now is None:
        return qday, qsent, qprev
    day = utc_day(now)
    if day > qday:
        return day, 0, (qsent if day == qday + 1 else 0)
    if day < qday:
        return day, qsent + qprev, 0
    return day, qsent, qprev


def target(cfg):
    # The top-level device a configuration sends to: its server, its device id (Platform API) and
    # its token's CRC (Device API; the token itself is no state file's). What the server said of
    # one device (its day's points spent, a stream it lacks) holds for that one alone
    token = cfg.get("token")
    return "%s %s %x" % (cfg["server"], cfg.get("device_id"), binascii.crc32(token.encode()) if token else 0)


def full_of(state, where):
    # The state's "quota_full" ([the time the server's day turns, target()], or that time alone
    # from an earlier version) for the device `where`, or None
    full = state.get("quota_full")
    if isinstance(full, list) and len(full) == 2:
        return full[0] if full[1] == where else None
    return full


_DAYS = 10000000  # a quota_full under this is a UTC day number (a state file of an earlier version)


def full_wait(full, now):
    # How long the server's word that its day's points are spent still holds, or 0. full (state
    # "quota_full", set by policy._batch): the time on our clock at which the server's UTC day
    # turns; never longer than two days (a damaged entry, a clock set back). A day number from an
    # earlier version holds that day, and one ahead, by our day.
    if now is None or not isinstance(full, int) or isinstance(full, bool):
        return 0
    if full < _DAYS:
        return _DAY_MS - now % _DAY_MS if 0 <= full - utc_day(now) <= 1 else 0
    return full - now if 0 < full - now <= 2 * _DAY_MS else 0


def left(per_day, qday, qsent, qprev, full, now):
    # Points the day of `now` still allows by the books (qday, qsent, qprev); none while the
    # server's word that its day's points are spent holds (full: full_wait). Without a clock:
    # what is left of the last known day.
    if full_wait(full, now):
        return 0
    return max(0, per_day - day_books(qday, qsent, qprev, now)[1])


def wait_ms(retry_wait, quota_left, now, full=None):
    # upload_wait_ms(): the back-off's wait; else, the day's quota spent, until the server's day
    # turns when it said so (full: full_wait), else the rest of our UTC day
    if not retry_wait and now is not None and quota_left <= 0:
        return full_wait(full, now) or _DAY_MS - now % _DAY_MS
    return retry_wait


def hold_max_ms(retry_max_s):
    # The longest a back-off holds: 24 x retry_max_s, and at least a day, the longest Retry-After
    # taken (blynk.py): retry_max_s caps our own back-off, not the server's floor
    return max(retry_max_s * 1000 * 24, _DAY_MS)


def back_off(state, server):
    # the persisted back-off (state.json's "retry"), or None: none, a damaged entry, or one of a
    # server the configuration no longer names (an entry without "server" was written before
    # entries named it)
    retry = state.get("retry")
    if not isinstance(retry, dict) or retry.get("server", server) != server:
        return None
    return retry


def retry_wait_ms(state, server, retry_max_s, now):
    # How long the persisted back-off still holds, or 0: never longer than a back-off can be (a
    # damaged "at" must not stop uploads for years)
    retry = back_off(state, server)
    at = retry.get("at") if retry is not None else None
    if not isinstance(at, int) or now is None:  # none, or a damaged state file
        return 0
    return max(0, min(at - now, hold_max_ms(retry_max_s)))
