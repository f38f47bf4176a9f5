# Timestamps through the public API (Logger.add -> sync -> what the emulator holds), on
# every runtime: explicit ts across heap-int and delta boundaries, clock stamps, an unset clock
# set by the server's Date during a sync, a clock stepping back, duplicates.
import time

import emu
from blynklog import Logger
from logger_support import DAY_MS, device_config, now_ms, shift_device_clock
from rawpoints import raw_points


def fresh(**kw):
    emu.require()
    emu.reset()
    emu.config(points_per_day=100000, max_age_days=30, token_lifetime_s=86400)
    if kw:
        emu.config(**kw)


def _cfg(**over):
    return device_config(streams={"a": {"pin": "V1"}, "b": {"pin": "V2", "decimals": 2}}, **over)


def _sleep_ms(ms):
    if hasattr(time, "sleep_ms"):
        time.sleep_ms(ms)
    else:
        time.sleep(ms / 1000)


def test_explicit_ts_with_gaps_across_small_int_and_32_bit_limits_arrive_exactly():
    fresh()
    log = Logger(_cfg())
    base = now_ms() - 29 * DAY_MS
    gaps = [0, 1, (1 << 30) - 1, 1, 1, (1 << 30) - 3, 7, 1 << 20, 3]
    want = []
    t = base
    for g in gaps:
        t += g
        want.append(t)
    want = sorted(set(want))
    assert want[-1] < now_ms()
    for i, ts in enumerate(want):
        log.add("a", float(i) + 0.5, ts=ts)
        log.add("b", i, ts=ts)
    r = log.sync()
    log.close()
    assert r["sent"] == 2 * len(want), r
    assert [p[0] for p in raw_points(1, 1)] == want
    assert [p[0] for p in raw_points(1, 2)] == want


def test_explicit_ts_out_of_order_with_large_negative_steps_arrive_exactly():
    fresh()
    log = Logger(_cfg())
    now = now_ms()
    stamps = [now - 1000, now - 29 * DAY_MS, now - 2000, now - (1 << 31) - 5, now - (1 << 30) + 3, now - 1]
    for i, ts in enumerate(stamps):
        log.add("a", i, ts=ts)
    r = log.sync()
    log.close()
    assert r["sent"] == len(stamps), r
    assert sorted(p[0] for p in raw_points(1, 1)) == sorted(stamps)


def test_explicit_ts_near_two_to_the_41_arrive_exactly_with_the_clock_there():
    fresh()
    target = (1 << 41) + 12345
    shift = target - now_ms()
    try:
        shift_device_clock(shift)
        emu.config(clock_offset_ms=shift)
        log = Logger(_cfg())
        stamps = [(1 << 41) - 3, (1 << 41) - 1, 1 << 41, (1 << 41) + 1, (1 << 41) + 1000]
        for i, ts in enumerate(stamps):
            log.add("a", i + 0.25, ts=ts)
        before = now_ms() + shift
        log.add("b", 1.5)
        log.add("b", 2.5)
        after = now_ms() + shift
        r = log.sync()
        log.close()
    finally:
        shift_device_clock(0)
        emu.config(clock_offset_ms=0)
    assert r["sent"] == len(stamps) + 2, r
    assert [p[0] for p in raw_points(1, 1)] == stamps
    got = [p[0] for p in raw_points(1, 2)]
    assert len(got) == 2 and before - 2 <= got[0] < got[1] <= after + 2, (before, got, after)


def test_clock_stamps_arrive_within_the_add_calls_time():
    fresh()
    log = Logger(_cfg())
    spans = []
    for i in range(5):
        a = now_ms()
        log.add("a", float(i))
        b = now_ms()
        spans.append((a, b))
        _sleep_ms(30)
    r = log.sync()
    log.close()
    got = [p[0] for p in raw_points(1, 1)]
    assert r["sent"] == 5 and len(got) == 5, r
    for (a, b), t in zip(spans, got):
        assert a - 1 <= t <= b + 1, (a, t, b)


def test_an_explicit_ts_then_a_clock_stamp_in_the_same_ms_both_arrive():
    # README: "a clock-stamped sample in the same ms as the stream's previous one (or before it)
    # is stamped a ms after it, so a stream's clock stamps never repeat"
    fresh()
    log = Logger(_cfg())
    lost = 0
    for i in range(20):
        t = now_ms()
        log.add("a", float(i), ts=t + 2)  # a little ahead, so the clock stamp lands on or before it
        log.add("a", float(i) + 0.5)
        _sleep_ms(5)
    r = log.sync()
    s = log.stats()
    log.close()
    lost = s["rejected"]
    assert lost == 0 and r["sent"] == 40, (r, s["rejects"])


def test_many_clock_stamps_in_one_ms_while_the_clock_is_unset_all_arrive_after_the_date_sets_it():
    fresh()
    try:
        shift_device_clock(946684800000 - now_ms())  # the RTC at 2000-01-01: not set
        log = Logger(_cfg())
        assert not log.clock.is_set()
        t0 = now_ms()
        for i in range(40):
            log.add("a", float(i))
            if i == 0:
                a1 = now_ms()  # the first stamp is of a tick in t0..a1
        t1 = now_ms()
        _sleep_ms(300)
        m0 = now_ms()
        log.add("b", 7.0)
        m1 = now_ms()
        r = log.sync()
        set_after = log.clock.is_set()
        log.close()
    finally:
        shift_device_clock(0)
    got = [p[0] for p in raw_points(1, 1)]
    gb = [p[0] for p in raw_points(1, 2)]
    assert set_after and r["sent"] == 41 and r["pending"] == 0, r
    assert got == sorted(got) and len(set(got)) == 40, got
    # TIME.md accuracy of the Date header: about +-0.5 s plus the request's latency
    assert t0 - 1500 <= got[0] and got[-1] <= t1 + 40 + 1500, (t0, got[0], got[-1], t1)
    assert m0 - 1500 <= gb[0] <= m1 + 1500, (m0, gb, m1)
    # the spacing of the two streams' samples is the ticks' (exact, ms since boot): that of two
    # ticks in t0..a1 and m0..m1 (a process preempted between a now_ms() and its add widens them)
    assert m0 - a1 - 5 <= gb[0] - got[0] <= m1 - t0 + 5, (gb[0] - got[0], m0 - a1, m1 - t0)


def test_a_clock_set_back_by_seconds_between_two_adds_keeps_both_samples():
    fresh()
    log = Logger(_cfg())
    try:
        a0 = now_ms()
        log.add("a", 1.0)
        a1 = now_ms()
        shift_device_clock(-5000)
        _sleep_ms(1100)  # the port clock is read again after a second
        b0 = now_ms() - 5000
        log.add("a", 2.0)
        log.add("a", 3.0)
        shift_device_clock(-400)
        _sleep_ms(1100)
        log.add("a", 4.0)
        r = log.sync()
        s = log.stats()
    finally:
        shift_device_clock(0)
        log.close()
    got = raw_points(1, 1)
    assert r["sent"] == 4 and s["rejected"] == 0, (r, s["rejects"])
    assert len(set(p[0] for p in got)) == 4, got
    assert a0 - 2 <= got[0][0] <= a1 + 2, (got, a0, a1)  # stamped during its add() call
    assert abs(got[1][0] - b0) <= 2 or got[1][0] > got[0][0], (got, b0)


def test_the_same_explicit_ts_twice_in_different_batches_keeps_the_first():
    fresh()
    log = Logger(_cfg(limits={"points_per_request": 2}))
    t = now_ms() - 60000
    for i in range(3):
        log.add("a", float(i), ts=t + i)
    log.add("a", 9.0, ts=t + 2)
    log.add("a", 8.0, ts=t + 2)
    r = log.sync()
    log.close()
    got = emu.points(1, 1)
    assert [p for p in got if p[0] == t + 2] == [(t + 2, 2.0)], (r, got)
    assert r["sent"] == 3 and r["rejected"] == 2, r


def test_the_same_explicit_ts_across_a_reopen_before_any_upload_keeps_the_first():
    fresh()
    cfg = _cfg()
    log = Logger(cfg)
    t = now_ms() - 60000
    log.add("a", 1.0, ts=t)
    log.close()
    log = Logger(cfg)
    log.add("a", 2.0, ts=t)
    log.add("a", 3.0, ts=t + 1)
    r = log.sync()
    log.close()
    assert emu.points(1, 1) == [(t, 1.0), (t + 1, 3.0)], r
    assert r["sent"] == 2 and r["rejected"] == 1, r


def test_a_clock_stamp_in_the_same_ms_as_an_explicit_ts_just_before_it_is_kept():
    # README add(): "a clock-stamped sample in the same ms as the stream's previous one (or before
    # it) is stamped a ms after it"; here the previous one is an explicit ts of this very ms
    fresh()
    log = Logger(_cfg())
    for i in range(20):
        log.add("a", float(i), ts=now_ms())
        log.add("a", float(i) + 0.5)
        _sleep_ms(3)
    r = log.sync()
    s = log.stats()
    log.close()
    assert s["rejected"] == 0 and r["sent"] == 40, (r, s["rejects"])


def test_a_clock_set_back_over_stamps_already_used_sends_no_ms_of_a_stream_twice():
    # README: a step back of more than a second is followed; Blynk keeps one value per ms of a
    # stream (the upload keeps the first of two samples at one ts)
    fresh()
    log = Logger(_cfg())
    n = 0
    try:
        end = now_ms() + 600
        while now_ms() < end and n < 3000:
            log.add("a", float(n))
            n += 1
            _sleep_ms(1)
        shift_device_clock(-1500)
        _sleep_ms(1100)  # the port clock is read again after a second: now ~400 ms before `end`
        end = now_ms() + 400
        while now_ms() < end and n < 6000:
            log.add("a", float(n))
            n += 1
            _sleep_ms(1)
        r = log.sync()
    finally:
        shift_device_clock(0)
        log.close()
    got = emu.points(1, 1)
    stamps = [p[0] for p in got]
    assert len(set(stamps)) == len(stamps), (n, r["sent"], r["rejected"], len(stamps) - len(set(stamps)))


# A burst of clock stamps runs ahead of the clock (one value per ms of a stream); a Logger made
# right after it, which knows nothing of them, stamped its samples in those ms again: 600 sent,
# 500 ms on the server. close(), before_sleep() and a take-over now wait until the clock is past them.
BURST = 500


def _burst_then(end):
    fresh()
    cfg = _cfg()
    log = Logger(cfg)
    for k in range(BURST):
        log.add("a", k + 0.5)
    end(log)
    log = Logger(cfg)
    for k in range(100):
        log.add("a", 1000 + k + 0.5)
    r = log.sync()
    log.close()
    ts = [p[0] for p in raw_points(1, 1)]
    assert r["sent"] == BURST + 100 and len(set(ts)) == len(ts) == BURST + 100, (r, len(set(ts)))
    assert ts == sorted(ts)  # the second Logger's samples after the first's


def test_a_logger_made_after_a_close_stamps_after_the_last_ones_burst():
    _burst_then(lambda log: log.close())


def test_a_logger_made_after_before_sleep_stamps_after_the_last_ones_burst():
    _burst_then(lambda log: log.before_sleep(0))


def test_a_logger_that_takes_over_stamps_after_the_last_ones_burst():
    _burst_then(lambda log: log.flush())  # (not closed: taken over, what it had not flushed goes)


def test_loggers_closed_and_made_again_in_quick_succession_never_stamp_one_ms_twice():
    # one clock stamp each, not moved on past the clock: a Logger made in the same ms as the last
    # one's stamp stamped that ms again (a journal wake's Logger() and close() take under a ms on
    # CPython: 159 distinct of 200 there, 119 on the board-like port)
    import json

    from support import tmpdir

    fresh()
    cfg = tmpdir() + "/config.json"
    with open(cfg, "w") as f:
        f.write(json.dumps(_cfg()))
    Logger(cfg).close()  # the first start validates; the next ones take the journal path
    for k in range(100):
        log = Logger(cfg)
        log.add("a", k + 0.5)
        log.close()
    log = Logger(cfg)
    r = log.sync()
    log.close()
    ts = [p[0] for p in raw_points(1, 1)]
    assert r["sent"] == 100 and len(set(ts)) == 100, (r["sent"], r["rejected"], len(set(ts)))


def test_samples_of_loggers_closed_and_made_again_while_the_clock_is_unset_arrive_once_it_is_set():
    # a sketch's `with Logger(...)` a cycle, no reset between: each Logger took a new boot id, and
    # the samples of the ones closed before the time came could never be placed (3 of 4 lost)
    fresh()
    try:
        shift_device_clock(946684800000 - now_ms())  # the RTC at 2000-01-01: not set
        cfg = _cfg()
        marks = []
        for i in range(3):
            with Logger(cfg) as log:
                before = now_ms()
                log.add("a", 20.0 + i)
                marks.append((before, now_ms()))
            _sleep_ms(50)
        log = Logger(cfg)
        log.clock.set_time_ms(now_ms())
        log.add("a", 30.0)
        r = log.sync()
        s = log.stats()
        log.close()
    finally:
        shift_device_clock(0)
    assert r["sent"] == 4 and s["unplaceable"] == 0 and s["dropped_stale"] == 0, (r, s)
    got = raw_points(1, 1)
    assert [p[1] for p in got] == ["20", "21", "22", "30"], got
    # placed by the ticks that ran between the Loggers: each within its add()'s time (the
    # time set by the caller: TIME.md gives it no ms accuracy, hence the slack)
    for (lo, hi), (ts, _v) in zip(marks, got):
        assert lo - 50 <= ts <= hi + 50, (lo, ts, hi)


def test_a_clock_set_back_after_a_stamp_does_not_hold_close_for_a_second():
    # the last stamp, not moved on, ahead of a clock set back 5 s: close() waited up to its cap
    # (1,003 ms) for a clock that is not behind any stamp it gave since
    import blynklog

    fresh()
    log = Logger(_cfg())
    log.add("a", 1.0)
    _sleep_ms(10)
    assert log.clock.set_time_ms(now_ms() - 5000, "ntp")
    wait = blynklog._stamps_ahead(log._last_ts, log.clock)
    log.close()
    assert wait <= 3, wait


def test_a_clock_set_back_after_stamps_moved_on_does_not_hold_close_for_a_second():
    # stamps moved on a few ms past the clock (a burst within its ms), then the clock set back
    # 5 s: close() waited its cap (1,003 ms) for a clock that no wait brings past them
    import blynklog

    fresh()
    log = Logger(_cfg())
    for i in range(200):
        log.add("a", float(i))
        if i >= 10 and log._last_ts["a"][3] > 0:
            break
    lead = log._last_ts["a"][3]
    assert 0 < lead < 200, lead  # the burst ran ahead of the clock
    assert log.clock.set_time_ms(now_ms() - 5000, "ntp")
    wait = blynklog._stamps_ahead(log._last_ts, log.clock)
    log.close()
    assert wait <= 3, (wait, lead)
