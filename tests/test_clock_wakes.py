# Samples across a deep-sleep-like reboot with the clock unset, placed once a later sync
# sets the clock from the server's Date (docs/TIME.md), through the public API, on every runtime.
import time

import emu
from blynklog import Logger
from logger_support import device_config, now_ms, shift_device_clock
from rawpoints import raw_points
from support import skip

Y2000 = 946684800000
Y2021 = 1609459200000


def _sleep_ms(ms):
    if hasattr(time, "sleep_ms"):
        time.sleep_ms(ms)
    else:
        time.sleep(ms / 1000)


def _cause(deep):
    try:
        import machine

        machine.set_reset_cause(machine.DEEPSLEEP_RESET if deep else machine.PWRON_RESET)
    except (ImportError, AttributeError):
        pass  # the unix port: no reset_cause, every start counts as a wake


def _fresh():
    emu.require()
    emu.reset()
    emu.config(points_per_day=100000, max_age_days=30, token_lifetime_s=86400)


def _reset(deep):
    # a reset into a timeless boot on an RTC that restarts at 2021 (rp2), deep: from deep sleep.
    # What the process kept goes with it: the Clock a closed Logger leaves for the next one
    import blynklog

    blynklog._clocks.clear()
    shift_device_clock(Y2021 - now_ms())
    _cause(deep)


def _deep_sleep(log, planned, slept=None):
    # the end of a wake: before_sleep(), close(), and the sleep itself (slept: a wake ended it
    # early, after that many ms)
    log.before_sleep(planned)
    log.close()
    _sleep_ms(planned if slept is None else slept)


def _boot_samples(log, stream, n, base=0.0):
    taken = []
    for i in range(n):
        taken.append(now_ms())
        log.add(stream, base + i)
        _sleep_ms(100)
    return taken


class _HostUpFor:
    # the clock module's ticks_ms as a host up `ms` reads it when the next Clock starts (the unix
    # port's ticks are the host's monotonic clock, not the process's)
    def __init__(self, ms):
        import blynklog.clock as clock

        self.clock = clock
        self.real = clock.ticks_ms
        self.shift = ms - self.real()

    def __enter__(self):
        real, shift = self.real, self.shift
        self.clock.ticks_ms = lambda: (real() + shift) & 0x3FFFFFFF
        return self

    def __exit__(self, *exc):
        self.clock.ticks_ms = self.real


def _run(rtc_restarts, planned=3000, second="b", host_up_ms=None, slept=None):
    _fresh()
    cfg = device_config(streams={"a": {"pin": "V1"}, "b": {"pin": "V2"}})
    try:
        shift_device_clock((Y2021 if rtc_restarts else Y2000) - now_ms())
        _cause(False)
        log = Logger(cfg)
        assert not log.clock.is_set()
        r1 = _boot_samples(log, "a", 3)
        _deep_sleep(log, planned, slept)
        if rtc_restarts:
            shift_device_clock(Y2021 - now_ms())  # rp2: the RTC restarts at 2021 at the reset
        _cause(True)
        if host_up_ms is None:
            log = Logger(cfg)
        else:
            with _HostUpFor(host_up_ms):
                log = Logger(cfg)
        assert not log.clock.is_set()
        r2 = _boot_samples(log, second, 3, 10.0)
        r = log.sync()
        s = log.stats()
        log.close()
    finally:
        shift_device_clock(0)
        _cause(False)
    ga = [p[0] for p in raw_points(1, 1)]
    gb = [p[0] for p in raw_points(1, 2)]
    return r, s, r1, ga, r2, gb


def _check(res):
    r, s, r1, ga, r2, gb = res
    assert r["sent"] == 6 and r["pending"] == 0 and s["unplaceable"] == 0, (r, s)
    # Date: about +-0.5 s plus latency; an estimate through a planned sleep adds the reset-to-Clock
    # time (here about nothing: the wait was the planned sleep)
    err_b = [g - w for g, w in zip(gb, r2)]
    err_a = [g - w for g, w in zip(ga, r1)]
    assert all(abs(e) <= 1500 for e in err_b), err_b
    assert all(abs(e) <= 1700 for e in err_a), (err_a, err_b)


def test_a_timeless_wake_of_a_process_on_a_host_up_five_minutes_places_both_boots():
    # ticks under 10 minutes count from a board's reset: the unix ports' count from the host's
    # start, and its uptime went into the wake's time (both boots placed 300 s early)
    _check(_run(True, host_up_ms=300000))


def test_a_timeless_deep_sleep_wake_on_an_rtc_that_counts_through_places_both_boots():
    _check(_run(False))


def test_a_timeless_deep_sleep_wake_ended_early_on_an_rtc_that_counts_through_places_both_boots():
    # ESP32: a pin or touch wake after 500 ms of a planned 8 s sleep; the RTC measured the sleep
    # (the plan placed the first boot 7.5 s early). A port that does not name its deep-sleep wake
    # has only the plan to go by
    try:
        import machine

        named = hasattr(machine, "DEEPSLEEP_RESET") and hasattr(machine, "reset_cause")
    except ImportError:
        named = False
    if not named:
        skip("this port's machine names no deep-sleep wake")
    _check(_run(False, planned=8000, slept=500))


def test_a_timeless_deep_sleep_wake_on_an_rtc_that_restarts_places_both_boots():
    _check(_run(True))


def test_a_timeless_deep_sleep_wake_on_an_rtc_that_restarts_after_a_longer_sleep_places_both_boots():
    # 8 s: outside the 5 s + 1/8 agreement window of TIME.md, so the planned sleep is used
    _check(_run(True, planned=8000))


def test_a_timeless_short_deep_sleep_wake_on_an_rtc_that_restarts_keeps_every_sample_of_one_stream():
    # the same stream in both boots: each sample must arrive, at its own time
    r, s, r1, ga, r2, gb = _run(True, second="a")
    assert r["sent"] == 6 and s["rejected"] == 0, (
        r["sent"],
        r["pending"],
        r["rejected"],
        r["stopped"],
        r["last_error"],
        s["rejects"],
        s["dropped_stale"],
        ga,
    )
    assert len(set(ga)) == 6 and ga == sorted(ga), ga


def test_a_power_on_reset_of_a_timeless_boot_drops_its_samples_as_unplaceable_not_misplaced():
    # TIME.md: a sample whose boot ended in a reset or power cut before the clock was ever set
    # is dropped and counted (unplaceable)
    _fresh()
    cfg = device_config(streams={"a": {"pin": "V1"}})
    try:
        _reset(False)
        log = Logger(cfg)
        _boot_samples(log, "a", 3)
        log.close()  # no before_sleep: a reset, not a planned sleep
        _sleep_ms(500)
        _reset(False)
        log = Logger(cfg)
        taken = _boot_samples(log, "a", 2, 10.0)
        r = log.sync()
        s = log.stats()
        log.close()
    finally:
        shift_device_clock(0)
    got = raw_points(1, 1)
    assert r["sent"] == 2 and s["unplaceable"] == 3 and r["pending"] == 0, (r, s)
    assert [p[1] for p in got] == ["10", "11"] or [p[1] for p in got] == ["10.0", "11.0"], got
    assert all(abs(p[0] - t) <= 1500 for p, t in zip(got, taken)), (got, taken)


def test_an_rp2_wake_after_a_boot_that_had_the_time_places_both_boots():
    # TIME.md: on waking the clock restores wall time at sleep + planned sleep (an estimate), the
    # next sync makes that boot's samples exact
    _fresh()
    cfg = device_config(streams={"a": {"pin": "V1"}, "b": {"pin": "V2"}})
    try:
        _reset(False)
        log = Logger(cfg)
        r0 = log.sync()  # nothing pending: asks the Date? (the clock may stay unset)
        ta = _boot_samples(log, "a", 3)
        r1 = log.sync()
        _deep_sleep(log, 3000)
        _reset(True)
        log = Logger(cfg)
        tb = _boot_samples(log, "b", 3)
        r2 = log.sync()
        s = log.stats()
        log.close()
    finally:
        shift_device_clock(0)
        _cause(False)
    ga = [p[0] for p in raw_points(1, 1)]
    gb = [p[0] for p in raw_points(1, 2)]
    assert r1["sent"] + r2["sent"] == 6 and s["pending"] == 0, (r0, r1, r2, s)
    err_a = [g - t for g, t in zip(ga, ta)]
    err_b = [g - t for g, t in zip(gb, tb)]
    assert all(abs(e) <= 1500 for e in err_a + err_b), (err_a, err_b)


def test_a_short_timeless_rp2_wake_that_samples_at_once_loses_no_sample_of_its_stream():
    # both boots add 30 clock-stamped samples to one stream right after Logger(): each must arrive
    _fresh()
    cfg = device_config(streams={"a": {"pin": "V1"}})
    try:
        _reset(False)
        log = Logger(cfg)
        for i in range(30):
            log.add("a", float(i))
        _sleep_ms(200)
        _deep_sleep(log, 3000)
        _reset(True)
        log = Logger(cfg)
        for i in range(30):
            log.add("a", 100.0 + i)
        r = log.sync()
        s = log.stats()
        log.close()
    finally:
        shift_device_clock(0)
        _cause(False)
    got = emu.points(1, 1)
    assert r["sent"] == 60 and len(set(p[0] for p in got)) == 60, (
        r["sent"],
        r["pending"],
        r["stopped"],
        r["last_error"],
        s["rejected"],
        s["rejects"][:2],
        len(got),
    )


def test_an_rp2_that_had_the_time_keeps_every_sample_of_twenty_deep_sleep_wakes_without_a_sync():
    # each wake's clock is an estimate (wall time at sleep + planned sleep): a chain of such wakes
    # takes one of the clock's 16 boot entries, so the samples of the first wakes are not pushed
    # out and dropped as unplaceable before the next sync places them
    _fresh()
    cfg = device_config(streams={"a": {"pin": "V1"}})
    wakes = 20
    taken = []
    try:
        _reset(False)
        log = Logger(cfg)
        log.sync()
        taken += _boot_samples(log, "a", 1)
        for i in range(wakes):
            _deep_sleep(log, 150)
            _reset(True)
            log = Logger(cfg)
            taken += _boot_samples(log, "a", 1, 1.0 + i)
        r = log.sync()
        s = log.stats()
        log.close()
    finally:
        shift_device_clock(0)
        _cause(False)
    got = raw_points(1, 1)
    assert r["sent"] == wakes + 1 and s["unplaceable"] == 0, (r, s["unplaceable"])
    assert [float(p[1]) for p in got] == [float(i) for i in range(wakes + 1)], got
    # placed back from the last wake's exact time through the planned sleeps: each wake's time
    # from its reset to its Clock (a process start here) is not counted, a few ms to 100 a wake
    err = [p[0] - t for p, t in zip(got, taken)]
    assert all(abs(e) <= 3000 for e in err), err


def test_a_logger_taking_over_an_unclosed_one_while_the_clock_is_unset_places_its_flushed_samples():
    # README: a Logger made again without closing the last one takes its store over, and only the
    # samples that one had not flushed are lost; the same process, so the same boot to the clock
    _fresh()
    cfg = device_config(streams={"a": {"pin": "V1"}})
    try:
        _reset(False)
        first = Logger(cfg)
        taken = _boot_samples(first, "a", 3)
        first.flush()
        log = Logger(cfg)  # first is not closed
        taken += _boot_samples(log, "a", 1, 10.0)
        r = log.sync()
        s = log.stats()
        log.close()
    finally:
        shift_device_clock(0)
    got = raw_points(1, 1)
    assert r["sent"] == 4 and s["unplaceable"] == 0, (r["sent"], s["unplaceable"])
    assert [float(p[1]) for p in got] == [0.0, 1.0, 2.0, 10.0], got
    assert all(abs(p[0] - t) <= 1500 for p, t in zip(got, taken)), (got, taken)


def test_a_logger_made_again_after_the_sketch_set_the_port_clock_places_the_samples_taken_before():
    # a sketch's `with Logger(...)` cycles: the first while the clock is unset, then the sketch
    # sets the port clock (ntptime.settime()), then the next Logger, no reset between. The next
    # one took a new boot, and the first one's samples stayed unplaceable (3 of 4 lost)
    _fresh()
    cfg = device_config(streams={"a": {"pin": "V1"}})
    try:
        _reset(False)
        with Logger(cfg) as first:
            assert not first.clock.is_set()
            taken = _boot_samples(first, "a", 3)
        shift_device_clock(0)  # the sketch sets the port clock
        with Logger(cfg) as log:
            taken += _boot_samples(log, "a", 1, 10.0)
            r = log.sync()
            s = log.stats()
    finally:
        shift_device_clock(0)
    got = raw_points(1, 1)
    assert r["sent"] == 4 and s["unplaceable"] == 0, (r["sent"], s["unplaceable"])
    assert [float(p[1]) for p in got] == [0.0, 1.0, 2.0, 10.0], got
    assert all(abs(p[0] - t) <= 1500 for p, t in zip(got, taken)), (got, taken)


def test_a_streams_clock_stamps_do_not_repeat_across_the_clock_being_set():
    # README: a stream's clock stamps never repeat. A burst while the clock is unset runs ahead of
    # it (a ms a sample); the sketch sets the port clock; the next burst comes after the first
    _fresh()
    cfg = device_config(streams={"a": {"pin": "V1"}})
    try:
        _reset(False)
        log = Logger(cfg)
        for i in range(20):
            log.add("a", float(i))
        shift_device_clock(0)  # the sketch sets the time (as machine.RTC().datetime() would)
        for i in range(20):
            log.add("a", 100.0 + i)
        r = log.sync()
        log.close()
    finally:
        shift_device_clock(0)
    ts = [p[0] for p in raw_points(1, 1)]
    assert r["sent"] == 40 and len(ts) == 40, (r["sent"], len(ts))
    assert len(set(ts)) == 40 and ts == sorted(ts), ts


def _distinct_stamps_of_two_bursts(between, n=200):
    # two bursts of n clock-stamped samples of one stream while the clock is unset (each runs
    # ahead of the clock, a ms a sample), between(log) -> the Logger of the second; a sync's Date
    # sets the clock at the end
    _fresh()
    cfg = device_config(streams={"a": {"pin": "V1"}})
    try:
        _reset(False)
        log = Logger(cfg)
        for i in range(n):
            log.add("a", float(i))
        log = between(log, cfg)
        for i in range(n):
            log.add("a", 1000.0 + i)
        r = log.sync()
        log.close()
    finally:
        shift_device_clock(0)
        _cause(False)
    ts = [p[0] for p in raw_points(1, 1)]
    assert r["sent"] == 2 * n and len(ts) == 2 * n, (r["sent"], r["pending"], len(ts))
    return len(set(ts)), ts


def test_a_logger_closed_while_the_clock_is_unset_waits_past_its_stamps_that_ran_ahead():
    # README: close() waits until the clock has passed the stamps that ran ahead, so the Logger
    # made next (the same boot to the clock) stamps after them: none repeats
    def again(log, cfg):
        log.close()
        return Logger(cfg)

    n, ts = _distinct_stamps_of_two_bursts(again)
    assert n == len(ts) and ts == sorted(ts), ts


def test_before_sleep_of_a_timeless_boot_waits_past_its_stamps_that_ran_ahead():
    # README: before_sleep(planned_ms) waits (less planned_ms) until the clock has passed the
    # stamps that ran ahead: the wake of the timeless chain goes on after them
    def wake(log, cfg):
        _deep_sleep(log, 50)
        shift_device_clock(Y2021 - now_ms())  # rp2: the RTC restarts at 2021 at the reset
        _cause(True)
        import blynklog

        blynklog._clocks.clear()  # a reset: the process's closed Logger goes with it
        return Logger(cfg)

    n, ts = _distinct_stamps_of_two_bursts(wake)
    assert n == len(ts) and ts == sorted(ts), ts


def _a_time_20_minutes_back_after(first_ends):
    # a Logger stamps a sample under the sketch's own verified time and ends (first_ends(log));
    # the next Logger is given a time 20 minutes before it -> (taken, the clock's last_error)
    _fresh()
    cfg = device_config(streams={"a": {"pin": "V1"}})
    try:
        _reset(False)
        log = Logger(cfg)
        assert log.clock.set_time_ms(now_ms())
        log.add("a", 1.0)
        first_ends(log)
        log = Logger(cfg)
        ok = log.clock.set_time_ms(now_ms() - 20 * 60000)
        err = log.clock.last_error
        log.close()
    finally:
        shift_device_clock(0)
    return ok, err


def _closed_then_reset(log):
    log.close()
    _reset(False)  # a reset, no deep sleep


def test_a_boot_that_ends_with_close_keeps_its_newest_stamp_for_the_next_boots_step_check():
    # TIME.md: a time more than max_step_back_ms (10 minutes) before the newest sample stamped
    # under a verified time is refused, in the next boot too: not only after before_sleep()
    ok, err = _a_time_20_minutes_back_after(_closed_then_reset)
    assert not ok and "before stored data" in err, (ok, err)


def test_a_logger_taking_over_an_unclosed_one_keeps_its_newest_stamp_for_the_step_check():
    # the same, when the sketch makes its Logger again without closing the last one (flushed,
    # then taken over): the new one took a time 20 minutes before the flushed sample
    ok, err = _a_time_20_minutes_back_after(lambda log: log.flush())
    assert not ok and "before stored data" in err, (ok, err)


def test_a_sync_that_gets_no_time_names_the_streams_whose_samples_wait_for_it():
    # README: report["waiting"] names each stream whose next sample cannot go yet, "stamped
    # before the clock was set" among the reasons (min_year 2070: the server's Date is refused)
    _fresh()
    cfg = device_config(streams={"a": {"pin": "V1"}, "b": {"pin": "V2"}}, clock={"min_year": 2070})
    log = Logger(cfg)
    log.add("a", 1.0)
    r = log.sync()
    log.close()
    assert r["stopped"] == "clock" and r["sent"] == 0, r
    assert list(r["waiting"]) == ["a"] and "before the clock was set" in r["waiting"]["a"], r["waiting"]
