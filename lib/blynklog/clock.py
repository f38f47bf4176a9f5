# blynklog.clock: the wall clock in Unix milliseconds, whether it can be trusted, and the
# boot-relative stamps that let samples taken before the clock was set get their real time later.
#
#   clock = Clock(state)            # once per boot; a new boot id, or the last one's after its deep
#                                   # sleep while the time is still unknown (one state save)
#   ts, flags = clock.stamp()       # (unix_ms, 0) when set, else (code, FLAG_BOOTREL)
#   clock.resolve(ts, flags)        # -> (unix_ms, estimated) | None (not yet) | False (never)
#   clock.note_dropped(n)           # the upload policy dropped n samples resolve() called never
#   clock.note_stored(unix_ms)      # for a caller stamping samples from its own verified time
#
# The newest stamp for the step check comes from stamp() itself (verified sources only). The Logger
# does not pass add(ts=...) to note_stored: a caller's ts may be up to a day ahead (or anything while
# the clock is unset), and would make a correct NTP answer look like a step back, refused.
#
# A boot-relative code is boot_id << 40 | ms since this Clock was made (16 + 40 bits). The ms
# counter is kept unwrapped through ticks_diff: stamp(), now_ms() or is_set() must run at least
# once per half tick period (2**29 ms, about 6 days, on boards). Per boot the state keeps one entry
# (at most 16 boots): [boot, base_ms, estimated, sleep_at_ms, planned_sleep_ms, linked, exact_from], where
# base_ms is the Unix ms of code 0 of that boot (exact once the clock was set in that boot, or
# estimated across deep sleeps from the nearest anchored boot), sleep_at_ms/planned_sleep_ms come
# from before_sleep(), and linked says the boot started by waking from the previous one's sleep.
# A boot that wakes from the deep sleep of a boot that never had the time, and has none either,
# goes on with that boot's id and relative time (ms at sleep + planned sleep): a chain of
# timeless deep-sleep wakes, however long, takes one entry and is placed whole once one of them
# gets the time; its samples from before exact_from (the ms where the boot that got the time
# began) are placed through planned sleeps, so they resolve as estimated. exact_from -1 marks a
# boot whose clock was set from its start: it stamps nothing boot-relative, and its entry is the
# first to go when 16 are kept, so boots that wake with the time never push out one whose
# boot-relative samples still wait.
# Port clock: read via time.time_ns() (else the RTC, else time.time() plus ticks for the ms); set
# via machine.RTC where MicroPython has one, and always through an offset (now = port + offset),
# which is the only mechanism on the unix port and CPython (the host clock cannot be set).
# Allocates: the entry list and a small dict at construction and when an anchor changes; stamp(),
# now_ms() and resolve() allocate only their result (and big ints on 32-bit boards).
# Stamps without a heap int (Logger.add): while the clock is set, stamp_rel() and now_rel() give the
# time as `anchor` (a Unix ms read from the port clock) plus the ms the ticks counted since, a
# small int; the port clock is read again (allocating) when _REREAD_MS have passed since the
# anchor, so a step of the port clock (someone set it) shows within that. The ms ticks and the
# port clock's ms do not tick together, so where the port clock is time_ns() the time counts from
# its us past the anchor's ms with the us ticks: the port clock's own ms (a stamp 1 ms before a
# time_ns() read just before it was one stamp in eight, counted in ms). Elsewhere it is within a
# ms of now_ms(). It never goes back: a new anchor starts from the newest one given.
# Not safe from an interrupt; one task at a time (no lock).
from .compat import (
    BOARD,
    EPOCH_OFFSET_S,
    IS_MICROPYTHON,
    const,
    days_from_civil,
    json,
    os,
    ticks_diff,
    ticks_ms,
    ticks_us,
    time,
)

FLAG_BOOTREL = const(1)

_MS_BITS = const(40)
_BOOT_MASK = const(0xFFFF)
_MS_MASK = (1 << 40) - 1  # a big int on 32-bit boards: not a const
_KEEP = const(16)  # boots whose entry is kept in the state
_SINCE_RESET_MAX = const(600000)  # ticks beyond this at a Clock's start do not count from the reset
_STEP_SLACK_MS = const(
    5000
)  # a port clock's step through a deep sleep may exceed the plan by this (+1/8): the boot's own time
_TRACK_MS = const(2500)  # an estimated port clock that moved more than this was set by someone
_DAY_MS = const(86400000)
_REREAD_MS = const(1000)  # a stamp_rel()/now_rel() anchor serves this long (ticks), then the port clock is read
# the us ticks since an anchor agree with its ms ticks within this, else they wrapped (every 17.9 min)
_US_SLACK = const(2000)
_REL_MAX = const(0x10000000)  # a boot-relative stamp_rel() beyond this many ms gives its code whole
_VERIFIED = ("ntp", "user", "http")


def civil_from_days(days):
    # (year, month, day) of a day number since 1970-01-01 (Howard Hinnant's algorithm).
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return (yoe + era * 400 + (1 if m <= 2 else 0), m, d)


def rtc_tuple(unix_ms):
    # machine.RTC().datetime() 8-tuple of a Unix ms time (weekday as ntptime.settime writes it).
    days = unix_ms // _DAY_MS
    s = (unix_ms % _DAY_MS) // 1000
    y, m, d = civil_from_days(days)
    return (y, m, d, (days + 3) % 7 + 1, s // 3600, (s // 60) % 60, s % 60, 0)


def rtc_ms(dt):
    # Unix ms of an RTC 8-tuple; the calendar fields make it independent of the port's epoch.
    # The last field is taken as microseconds (ESP32; always 0 on rp2).
    return days_from_civil(dt[0], dt[1], dt[2]) * _DAY_MS + ((dt[4] * 60 + dt[5]) * 60 + dt[6]) * 1000 + dt[7] // 1000


def _set():
    # the Clock's seldom-run parts (clock_set.py: setting the time, the upload's notes, the
    # figures), imported at their first use: a wake that only samples does not load them
    from . import clock_set

    return clock_set


def _once(name, *args):
    # a seldom-run part that a wake calls once or not at all (setting the time, the figures):
    # clock_set.py is let go after (blynklog._drop) unless it was loaded before, so that its code
    # is not held through a sync that follows
    from . import _drop, _loaded

    had = _loaded("clock_set")
    try:
        return getattr(_set(), name)(*args)
    finally:
        _drop("clock_set", had)


def _valid(e):
    # a boot entry read back from the state file: anything else is ignored, never trusted
    if not isinstance(e, list) or len(e) not in (6, 7) or not isinstance(e[0], int):
        return False
    if len(e) == 6:
        e.append(0)  # written before chains: exact from its start
    for v in (e[1], e[3], e[4], e[6]):
        if v is not None and (not isinstance(v, int) or isinstance(v, bool)):
            return False
    return (e[3] is None) == (e[4] is None)


def _machine():
    # the port's machine module, or None. On a board's port by its u-name: `import machine` looks
    # along sys.path for a machine.py before it takes the built-in (7 ms on a Pico W), `umachine`
    # names the built-in itself. Elsewhere by its name: a virtual board (boards/unix/chip) replaces
    # it with a file.
    if BOARD:
        try:
            import umachine

            return umachine
        except ImportError:
            pass
    try:
        import machine

        return machine
    except ImportError:
        return None


def _woke_from_sleep(cause, m):
    # True unless the reset cause (asked from machine m when None) says power-on or a hard reset
    # (sleep time unknown then). A port that names DEEPSLEEP_RESET (ESP32) wakes with that cause
    # alone: its watchdog reset is none, though the RTC ran on (one between before_sleep() and
    # deepsleep() would pass for the planned sleep). rp2 names none: its deep sleep ends in a
    # watchdog reboot.
    if cause is None and m is not None and hasattr(m, "reset_cause"):
        cause = m.reset_cause()
    if cause is None:
        return True
    if hasattr(m, "DEEPSLEEP_RESET"):
        return cause == m.DEEPSLEEP_RESET
    return cause not in (getattr(m, "PWRON_RESET", 1), getattr(m, "HARD_RESET", 2))


class Clock:
    def __init__(
        self,
        state,
        min_year=2025,
        max_year=2070,
        max_step_back_ms=600000,
        ntp_host=None,
        rtc=None,
        ntp=None,
        ticks=None,
        port_time_ms=None,
        epoch_offset_s=None,
        reset_cause=None,
        went_on=None,
    ):
        # rtc: an object with datetime() like machine.RTC (default: machine.RTC on MicroPython
        # boards that have one; none on CPython). port_time_ms: a callable giving the port clock in
        # Unix ms (default: time_ns, else the RTC, else time.time + ticks). ticks: a callable like
        # time.ticks_ms. epoch_offset_s: port epoch to Unix seconds (default: detected from
        # time.gmtime(0)). reset_cause: the machine.reset_cause() value (default: asked).
        # max_step_back_ms: how far before the newest stored sample a new time may be (else
        # refused). ntp_host: the NTP server (default: ntptime's own). went_on: ended() of the
        # Clock this process had on the same state before (a Logger closed and made again, no
        # reset between), or None.
        self._state = state
        self._min_year = min_year
        self._max_year = max_year
        self._min_ms = days_from_civil(min_year, 1, 1) * _DAY_MS
        self._max_ms = days_from_civil(max_year + 1, 1, 1) * _DAY_MS
        self.max_step_back_ms = max_step_back_ms
        self._ntp_host = ntp_host
        self._ticks = ticks or ticks_ms
        self._epoch_ms = (EPOCH_OFFSET_S if epoch_offset_s is None else epoch_offset_s) * 1000
        self._ntp = ntp
        self._rtc = rtc
        m = _machine()  # once: every import of machine searches sys.path on a port
        if rtc is None and port_time_ms is None and IS_MICROPYTHON:
            if m is not None and hasattr(m, "RTC"):
                self._rtc = m.RTC()
        self._us = None  # the us ticks (ticks_us) where the port clock has us (time_ns) and the ticks are the port's
        self._frac = 0  # the us past its ms of the last time_ns() read
        if port_time_ms is not None:
            self._read = port_time_ms
        elif rtc is not None:
            self._read = self._read_rtc
        elif hasattr(time, "time_ns"):
            self._read = self._read_ns
            if ticks is None:
                self._us = ticks_us
        elif self._rtc is not None:
            self._read = self._read_rtc
        else:
            self._sec = None
            self._sec_tick = 0
            self._read = self._read_s
        self.last_error = None
        self.anchor = None  # now_rel()'s Unix ms (None: read the port clock at the next call)
        self._atick = 0  # the ticks at the anchor
        self._autick = 0  # the us ticks at the anchor (self._us)
        self._afrac = 0  # the port clock's us past the anchor's ms
        self._arel = 0  # the highest ms after the anchor given so far
        self.stamp_base = None  # stamp_rel()'s base and flags
        self.stamp_flags = 0
        self._unset_tick = None  # the ticks when set_soon() last found the port clock unset
        self._tick = self._ticks()
        self._ms = 0
        self._offset = 0
        self._last = 0
        self._set = False
        self._source = None
        self._base = None  # this boot's anchor: Unix ms of code 0
        self._est = False
        self._refused = 0

        d = state.get("clock")
        if not isinstance(d, dict):
            d = {}
        prev = d.get("boot")
        prev = prev if isinstance(prev, int) else -1
        newest = d.get("newest")
        self._nwa = None  # the newest stamp_rel() stamp's base and ms, not yet counted in (_newest)
        self._nwr = 0
        self._newest_v = newest if isinstance(newest, int) else None
        if went_on is not None and went_on[4] is not None and (self._newest_v is None or went_on[4] > self._newest_v):
            self._newest_v = went_on[4]  # (the Logger before this one in this process stamped later)
        dropped = d.get("dropped")
        self._dropped = dropped if isinstance(dropped, int) else 0
        # copies: the entries change in place, and the state must see each change against what it holds
        entries = []
        for e in d.get("boots") or ():
            e = list(e) if isinstance(e, list) else None
            if _valid(e):
                entries.append(e)
        # boots whose clock was set from their start hold no boot-relative stamps: their entries
        # give way first (the last one stays: the next boot links to it)
        entries = [e for e in entries[:-1] if e[6] != -1] + entries[-1:]
        last = entries[-1] if entries else None
        woke = last is not None and last[0] == prev and last[4] is not None and _woke_from_sleep(reset_cause, m)
        p = self._read()
        self._port_at_sleep = None  # the port clock's reading at before_sleep of a timeless boot
        port_set = self._min_ms <= p < self._max_ms
        self._exact_from = 0  # where the anchor's exact part of this entry begins (_adopt)
        went = went_on is not None and last is not None and went_on[0] == last[0] == prev and last[4] is None
        if went:
            dt = ticks_diff(self._tick, went_on[2])
            ms = went_on[1] + (dt if dt > 0 else 0)
            # without the time (the port clock still unset, or set since: the sketch's
            # ntptime.settime() between two Loggers), or with only the estimate of a wake (rp2's
            # lost RTC): the port clock reading back the estimate that Clock wrote into the RTC
            went = last[1] is None or (last[2] and (not port_set or abs(p - last[1] - ms) <= _TRACK_MS))
        if went:
            # the same boot, still without the time: this process's Logger before was closed and
            # made again (a sketch's `with Logger(...)` a cycle), no reset between. It goes on
            # with that one's time line, counted by the ticks, so its samples are placed with
            # this one's when the time comes (a new boot id left them unplaceable; an estimate
            # taken for a set clock kept its error)
            self._ms = self._start = ms
            self._exact_from = went_on[3]
            # a port clock set since anchors this time line, the samples of the Logger before too
            port_set = port_set and last[1] is None
            self._entry = last
            entries = entries[-_KEEP:]
            linked = 0
            boot = prev
        elif woke and not port_set and (last[1] is None or last[2]):
            # woken from the deep sleep of a boot that never got the time (or had only an
            # estimate of it, an rp2's lost RTC), and still without it: this boot goes on with
            # that boot's relative time line (its ms at sleep plus the planned sleep), so a chain
            # of such wakes of any length is one entry, placed as a whole by whichever of them
            # gets the time (its earlier parts as estimated as the planned sleeps are long)
            boot = prev
            # + the ms from the reset to here: a board's ticks count from its reset (when they
            # read more than a few minutes they count from something else, and add nothing; the
            # unix port's count from the host's start, not the process's: nothing there either)
            since_reset = self._tick if BOARD and 0 <= self._tick < _SINCE_RESET_MAX else 0
            step = last[4] + since_reset
            # a port clock that counted through the sleep, though unset (ESP32's RTC from its
            # 2000 epoch), measured the step itself: the boot's time before its ticks started
            # (ROM, bootloader) included, which a long chain would otherwise lose at every wake.
            # Taken when it agrees with the planned step: not shorter than it by more than an
            # RC oscillator's drift (an eighth; any shorter on a port that names its deep-sleep
            # wake, below), not longer by more than that and the boot's own
            # time (a clock that restarted at the reset, as rp2's does, measures about nothing,
            # or less than nothing: the time between two boots' first readings)
            rs = d.get("port_at_sleep")
            if isinstance(rs, list) and len(rs) == 2 and rs[0] == prev and isinstance(rs[1], int):
                measured = p - rs[1]
                # a port that names its deep-sleep wake (ESP32) keeps its RTC through the sleep,
                # and a wake (a pin, a touch, the ULP) may end that sleep early: any step from 0
                # up is taken there (a clock that restarted reads less than nothing)
                early = hasattr(m, "DEEPSLEEP_RESET") and measured >= 0
                if (early or step - step // 8 <= measured) and measured <= step + step // 8 + _STEP_SLACK_MS:
                    step = measured
            self._ms = self._start = self._exact_from = last[3] + step
            last[3] = last[4] = None
            self._entry = last
            entries = entries[-_KEEP:]
            linked = 0
        else:
            boot = (prev + 1) & _BOOT_MASK
            entries = [e for e in entries if e[0] != boot and not (port_set and e[6] == -1)]
            # a boot set from its start takes no room, this one (it needs no link either) or the
            # last one kept as this one's link: _KEEP boots that may hold boot-relative stamps
            entries = entries[-(_KEEP if port_set or (entries and entries[-1][6] == -1) else _KEEP - 1) :]
            linked = 1 if woke else 0
            self._start = 0
            self._entry = [boot, None, 0, None, None, linked, 0]
            entries.append(self._entry)
        self._boot = boot
        self._code0 = boot << _MS_BITS
        self._rel0 = self._code0 + self._start  # stamp_rel()'s base: a chain's wake starts past 0
        self._entries = entries

        # a boot set from its start after a boot that was too (an ESP32 waking with its RTC) has
        # nothing to write before its first sample: no earlier sample waits for its anchor and
        # none of its own is boot-relative. Its entry goes with the next save (before_sleep(),
        # sync()): one flash write a wake, not two
        self._defer = port_set and last is not None and last[6] == -1
        if port_set:
            # the port clock kept or got its time (ESP32 after deep sleep, the host clock): no
            # sample of this boot will need its entry (exact_from -1), unless it goes on with the
            # time line of the Logger before it (went): that one's samples do
            self._adopt(p, "rtc" if self._rtc is not None else "port")
            if not went:
                self._entry[6] = -1
        elif self._entry[1] is not None or (linked and last[1] is not None):
            # woken with a lost RTC (rp2): wall time at sleep + planned sleep, until the next
            # sync; a chain's wake goes on with its estimated anchor
            if self._entry[1] is None:
                self._entry[1] = last[1] + last[3] + last[4]
                self._entry[2] = 1
            self._base = self._entry[1]
            self._est = True
            now = self._base + self._ms
            self._write_port(now)
            self._offset = now - self._read()
            self._source = "estimate"
        self._rebuild()
        self._persist()
        if not self._defer:
            state.save()
        self._defer = False

    # ---- reading and setting the port clock

    def _read_ns(self):
        us = time.time_ns() // 1000
        self._frac = us % 1000
        return us // 1000 + self._epoch_ms

    def _read_rtc(self):
        return rtc_ms(self._rtc.datetime())

    def _read_s(self):
        s = int(time.time())
        if s != self._sec:
            self._sec = s
            self._sec_tick = self._ticks()
            d = 0
        else:
            d = ticks_diff(self._ticks(), self._sec_tick)
            d = 999 if d > 999 else (0 if d < 0 else d)
        return s * 1000 + self._epoch_ms + d

    def _write_port(self, unix_ms):
        if self._rtc is None:
            return
        try:
            self._rtc.datetime(rtc_tuple(unix_ms))
        except Exception:  # a port that refuses: the offset still carries the time
            pass

    def _elapsed(self):
        # ms since this Clock was made, unwrapped; a backwards or over-half-period step counts 0
        t = self._ticks()
        dt = ticks_diff(t, self._tick)
        self._tick = t
        if dt > 0:
            self._ms += dt
        return self._ms

    # ---- anchors

    def _adopt(self, unix_ms, source):
        # the clock is set (exact) now: anchor this boot and the sleep chain before it
        self._count_newest()  # a stamp not yet counted in it is, before the time changes
        self.anchor = None
        ms = self._elapsed()
        if not self._set or self._source not in _VERIFIED:
            # the monotonic guarantee starts with the first real time; a time that was never
            # verified (an RTC that drifted through deep sleep) may be corrected backwards
            self._last = 0
        self._set = True
        self._source = source
        if self._base is None or self._est:
            self._base = unix_ms - ms
            self._est = False
            self._entry[1] = self._base
            self._entry[2] = 0
            self._entry[6] = self._exact_from  # a chain's earlier boots are placed by planned sleeps
            self._backfill()
            self._rebuild()
            self._persist()
            if not self._defer:
                self._state.save()

    def _backfill(self):
        # walk back from this boot through boots that slept into the next one, estimating each
        # base from the later boot's base; stops at an exact anchor or a broken link
        es = self._entries
        i = len(es) - 1
        while i > 0 and es[i][5] and es[i][1] is not None:
            p = es[i - 1]
            if p[0] != (es[i][0] - 1) & _BOOT_MASK or (p[1] is not None and not p[2]):
                break
            if p[4] is None:
                break
            p[1] = es[i][1] - p[4] - p[3]
            p[2] = 1
            i -= 1

    def _rebuild(self):
        # boot -> (base, estimated) for past boots; None for past boots this boot's anchor may
        # still place (the unbroken sleep chain ending in this boot); absent means never
        a = {}
        es = self._entries
        for e in es[:-1]:
            if e[1] is not None:
                a[e[0]] = (e[1], bool(e[2]), e[6])
        if self._base is None:
            i = len(es) - 1
            while i > 0 and es[i][5]:
                p = es[i - 1]
                if p[1] is not None or p[4] is None:
                    break
                a[p[0]] = None
                i -= 1
        self._anchors = a

    def _persist(self):
        # a fresh dict, so State sees the change
        self._state.set(
            "clock",
            {
                "boot": self._boot,
                "boots": [list(e) for e in self._entries],
                "newest": self._newest,
                "dropped": self._dropped,
                "port_at_sleep": self._port_at_sleep,
            },
        )

    # ---- the interface

    def is_set(self):
        if self._set:
            return True
        p = self._read()
        if self._min_ms <= p < self._max_ms:
            if not self._est:
                self._adopt(p, "rtc" if self._rtc is not None else "port")
            elif abs(p + self._offset - self._base - self._elapsed()) > _TRACK_MS:
                # someone (the user's code, ntptime.settime) set the port clock over our estimate
                self._offset = 0
                self._adopt(p, "rtc" if self._rtc is not None else "port")
        return self._set

    def now_ms(self):
        # Unix ms; never goes backwards once set in this boot (a first verified sync may still
        # pull back a time that was never verified, see _adopt)
        v = self._read() + self._offset
        if v < self._last:
            return self._last
        self._last = v
        return v

    def set_soon(self):
        # is_set(), but while the clock is not set the port clock is asked at most once per
        # _REREAD_MS of ticks (a set port clock is noticed within that): Logger.add's check of a
        # ts against the time, on a board whose clock is not set, costs no port-clock reading
        if self._set:
            return True
        t = self._ticks()
        u = self._unset_tick
        if u is not None and 0 <= ticks_diff(t, u) < _REREAD_MS:
            return False
        if self.is_set():
            return True
        self._unset_tick = t
        return False

    def now_rel(self):
        # The ms since self.anchor (set clock only: is_set() first), a small int: now_ms() without
        # a heap int. The anchor is taken again (the port clock read) after _REREAD_MS of ticks,
        # or when the ticks went back.
        t = self._ticks()
        a = self.anchor
        us = self._us
        if a is not None:
            dt = ticks_diff(t, self._atick)
            if 0 <= dt < _REREAD_MS:
                if us is not None:
                    du = ticks_diff(us(), self._autick)
                    if -_US_SLACK < du - dt * 1000 < _US_SLACK:
                        dt = (self._afrac + du) // 1000
                if dt > self._arel:
                    self._arel = dt
                return self._arel
            a += self._arel
        # the ticks read again beside the port clock: a pause since the first read (a collection,
        # the process preempted) would put every stamp of this anchor that much ahead
        t = self._ticks()
        u = us() if us is not None else 0
        self._frac = 0
        v = self.now_ms()
        if a is not None and a > v:
            self.anchor = a
            self._afrac = 0
        else:
            self.anchor = v
            self._afrac = self._frac
        self._atick = t
        self._autick = u
        self._arel = 0
        return 0

    def stamp_rel(self):
        # stamp() as self.stamp_base + the small int returned, flags in self.stamp_flags: no heap
        # int while the clock is set (and for a boot-relative stamp, in its first 3 days)
        if self._set or self.is_set():
            r = self.now_rel()
            a = self.anchor
            if self._source in _VERIFIED:
                self._nwa = a  # the newest stamp, added up when read (_newest)
                self._nwr = r
            self.stamp_base = a
            self.stamp_flags = 0
            return r
        ms = self._elapsed()
        self.stamp_flags = FLAG_BOOTREL
        r = ms - self._start
        if r < _REL_MAX:  # (a chain of wakes: from this wake's start, however long the chain)
            self.stamp_base = self._rel0
            return r
        self.stamp_base = self._code0 | (ms & _MS_MASK)
        return 0

    def stamp(self):
        r = self.stamp_rel()
        return (self.stamp_base + r if r else self.stamp_base), self.stamp_flags

    def _count_newest(self):
        a = self._nwa
        if a is not None:
            self._nwa = None
            v = a + self._nwr
            if self._newest_v is None or v > self._newest_v:
                self._newest_v = v

    @property
    def _newest(self):
        # the newest verified stamp (the step check's), a stamp_rel() one counted in when read
        self._count_newest()
        return self._newest_v

    @_newest.setter
    def _newest(self, v):
        self._nwa = None
        self._newest_v = v

    def resolve(self, ts, flags):
        if not flags & FLAG_BOOTREL:
            return (ts, False)
        boot = ts >> _MS_BITS
        ms = ts & _MS_MASK
        if boot == self._boot:
            if self._base is None:
                return None
            return (self._base + ms, self._est or ms < self._entry[6])
        a = self._anchors.get(boot, False)
        if not a:
            return a
        return (a[0] + ms, a[1] or ms < a[2])

    def note_stored(self, ts_ms):
        _set().note_stored(self, ts_ms)

    def note_dropped(self, n=1):
        _set().note_dropped(self, n)

    def set_time_ms(self, unix_ms, source="user"):
        return _once("set_time_ms", self, unix_ms, source)

    def sync_ntp(self, timeout_ms=2000):
        return _once("sync_ntp", self, timeout_ms)

    def set_from_http_date(self, text):
        return _set().set_from_http_date(self, text)

    def ended(self):
        # (boot, its ms now, the ticks now, where its exact part begins, the newest verified
        # stamp): for the Clock a Logger made again in this process makes next (went_on). The
        # stamp because a Logger taken over saved nothing (close() saves it)
        ms = self._elapsed()
        return (self._boot, ms, self._tick, self._exact_from, self._newest)

    def before_sleep(self, planned_ms):
        # persist where this boot is and how long it will sleep: the next boot estimates from it
        self._entry[3] = self._elapsed()
        self._entry[4] = int(planned_ms)
        self._port_at_sleep = None if self._set else [self._boot, self._read()]
        self._persist()
        self._state.save()

    def stats(self):
        return _once("stats", self)


# ---- the persistent state (State, here: the Clock is its first user, and a
# wake loads one module for both). A small dict (JSON) written atomically: a power cut leaves the
# old or the new content. On littlefs the file is written over in place: littlefs keeps the old
# content until the closing commit (one metadata commit a save). Elsewhere (FAT, POSIX) it is
# written as "<path>.new", then renamed over <path> (three commits on littlefs: the create, the
# close and the rename, some 10 ms a save more on a Pico W). Modules keep their own key (clock,
# token, quota, retry, server) and call save() when their change must survive; save() writes
# only when something changed.
def _on_littlefs(path):
    # True when path lies on a littlefs mount (vfs.mount()'s table: MicroPython)
    try:
        import vfs

        table = vfs.mount()
    except Exception:  # CPython, or a port without the table
        return False
    if not path.startswith("/"):
        path = os.getcwd().rstrip("/") + "/" + path
    best = -1
    lfs = False
    for fs, point in table:
        p = point.rstrip("/")
        if (not p or path == p or path.startswith(p + "/")) and len(p) > best:
            best = len(p)
            lfs = type(fs).__name__ in ("VfsLfs2", "VfsLfs1")
    return lfs


def _errno_text(e, code):
    try:
        import errno

        name = errno.errorcode.get(code)
    except ImportError:
        name = None
    return name or str(e)


class State:
    def __init__(self, path):
        self.path = path
        self.data = {}
        self.error = None
        self._dirty = False
        self._lfs = None  # whether the path is on littlefs (save): asked at the first save
        for candidate in (path, path + ".new"):
            try:
                with open(candidate) as f:
                    data = json.load(f)
            except OSError:
                continue
            except ValueError:
                # unreadable content: start afresh, and say so in stats rather than crash
                self.error = "state file %s unreadable" % candidate
                continue
            if isinstance(data, dict):
                self.data = data
                break

    def get(self, key, default=None):
        return self.data.get(key, default)

    def set(self, key, value):
        if self.data.get(key) != value:
            self.data[key] = value
            self._dirty = True

    def save(self):
        if not self._dirty:
            return False
        if self._lfs is None:
            self._lfs = _on_littlefs(self.path)
        try:
            if self._lfs:
                # the text first: a MemoryError making it leaves the file as it was (a file
                # written over in place is committed at its closing, even by an exception)
                text = json.dumps(self.data)
                with open(self.path, "w") as f:
                    f.write(text)
            else:
                tmp = self.path + ".new"
                with open(tmp, "w") as f:
                    json.dump(self.data, f)  # in pieces: no copy of the whole text in RAM
                os.rename(tmp, self.path)
        except OSError as e:
            # the errno kept, the text naming the file (MicroPython's says only the errno: a
            # board's error log read "OSError: [Errno 21] EISDIR")
            code = e.args[0] if e.args and isinstance(e.args[0], int) else 5
            raise OSError(code, "%s writing %s" % (_errno_text(e, code), self.path))
        self._dirty = False
        return True
