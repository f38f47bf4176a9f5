# The Logger's public contract without a server: add() validation, flush, stats, close, reopen.
from blynklog import ConfigError, Logger
from blynklog.clock import Clock
from logger_support import DAY_MS, device_config, now_ms
from support import raises

T0 = 1767225600000  # 2026-01-01


def make(**over):
    cfg = device_config(
        streams={
            "t": {"pin": "V1", "decimals": 2},
            "n": {"pin": "V2", "type": "int"},
            "s": {"pin": "V3", "type": "string"},
            "b": {"pin": "V4", "type": "bool"},
            "loc": {"pin": "V5", "type": "location"},
        },
        **over,
    )
    return Logger(cfg), cfg


def test_add_then_stats_counts_pending():
    log, _ = make()
    log.add("t", 21.5)
    log.add("t", 21.75, ts=now_ms())
    assert log.stats()["pending"] == 2
    log.close()


def test_stats_has_the_contract_keys():
    log, _ = make()
    st = log.stats()
    for k in ("pending", "sent", "dropped_full", "dropped_stale", "rejected"):
        assert st[k] == 0, k
    log.close()


def test_unknown_stream_is_a_value_error_naming_it():
    log, _ = make()
    e = raises(ValueError, log.add, "nope", 1.0)
    assert "nope" in str(e)
    log.close()


def test_unknown_stream_error_lists_the_known_streams():
    log, _ = make()
    e = str(raises(ValueError, log.add, "temprature", 1.0))
    log.close()
    assert "(streams: b, loc, n, s, t)" in e, e


def test_string_for_a_number_stream_is_a_type_error():
    log, _ = make()
    raises(TypeError, log.add, "t", "21.5")
    log.close()


def test_float_for_an_int_stream_is_a_type_error():
    log, _ = make()
    raises(TypeError, log.add, "n", 1.5)
    log.close()


def test_int_beyond_32_bits_is_a_value_error():
    log, _ = make()
    raises(ValueError, log.add, "n", 2**31)
    log.close()


def test_nan_and_infinity_are_value_errors():
    log, _ = make()
    raises(ValueError, log.add, "t", float("nan"))
    raises(ValueError, log.add, "t", float("inf"))
    raises(ValueError, log.add, "t", float("-inf"))
    log.close()


def test_string_over_1024_bytes_is_a_value_error():
    log, _ = make()
    raises(ValueError, log.add, "s", "\u00e9" * 513)  # 1026 bytes of UTF-8
    assert log.add("s", "\u00e9" * 512) is not False  # 1024 bytes: fits
    log.close()


def test_ts_that_is_not_an_int_is_a_type_error():
    log, _ = make()
    raises(TypeError, log.add, "t", 1.0, ts=1702656423136.0)
    raises(TypeError, log.add, "t", 1.0, ts="1702656423136")
    log.close()


def test_ts_before_2001_is_a_value_error():
    log, _ = make()
    raises(ValueError, log.add, "t", 1.0, ts=1702656423)  # seconds, not ms
    log.close()


def test_ts_far_in_the_future_is_a_value_error():
    log, _ = make()
    raises(ValueError, log.add, "t", 1.0, ts=now_ms() + 2 * DAY_MS)
    log.close()


def test_ts_after_the_clocks_max_year_is_a_value_error_naming_it_while_the_clock_is_unset():
    log, _ = make(clock={"min_year": 2070})  # no wall clock counts as set before 2070: the year limit is all there is
    assert not log.clock.is_set()
    for ts in (4000000000000, 4102444799999, 3187296000000):  # 2096, the last ms before 2100, 2071-01-01
        e = raises(ValueError, log.add, "t", 1.0, ts=ts)
        assert str(e) == "ts %d is too far in the future (after 2070, the clock's max_year)" % ts, e
    assert log.stats()["pending"] == 0
    log.close()


def test_bool_for_a_number_stream_is_a_type_error():
    log, _ = make()
    raises(TypeError, log.add, "t", True)
    log.close()


def test_location_must_be_a_lon_lat_pair_in_range():
    log, _ = make()
    raises(TypeError, log.add, "loc", 1.0)
    raises(ValueError, log.add, "loc", (200.0, 10.0))
    log.add("loc", (24.1, 56.9))
    log.close()


def test_a_rejected_add_stores_nothing():
    log, _ = make()
    log.add("t", 1.0)
    for bad in ((("nope", 1.0), {}), (("t", "x"), {}), (("t", float("nan")), {}), (("t", 1.0), {"ts": 5})):
        try:
            log.add(*bad[0], **bad[1])
        except (ValueError, TypeError):
            pass
    assert log.stats()["pending"] == 1
    log.close()


class _Int(int):
    # a value type a sensor library may hand over (CPython's IntEnum members are such ints)
    pass


class _Float(float):
    pass


class _Str(str):
    pass


def test_a_value_of_an_int_subclass_is_stored_on_int_double_and_bool_streams():
    log, _ = make()
    assert log.add("n", _Int(7), ts=T0) is True
    assert log.add("t", _Int(-3), ts=T0) is True
    assert log.add("b", _Int(1), ts=T0) is True
    assert log.stats()["pending"] == 3
    log.close()


def test_a_value_of_a_float_subclass_is_stored_on_a_double_stream():
    log, _ = make()
    assert log.add("t", _Float(21.5), ts=T0) is True
    assert log.stats()["pending"] == 1
    log.close()


def test_a_value_of_a_str_subclass_is_stored_on_a_string_stream():
    log, _ = make()
    assert log.add("s", _Str("door open"), ts=T0) is True
    assert log.stats()["pending"] == 1
    log.close()


def test_a_location_of_int_and_float_subclasses_is_stored():
    log, _ = make()
    assert log.add("loc", (_Float(24.1), _Int(56)), ts=T0) is True
    assert log.stats()["pending"] == 1
    log.close()


def test_an_int_subclass_beyond_32_bits_is_a_value_error_naming_the_stream():
    log, _ = make()
    e = raises(ValueError, log.add, "n", _Int(2**31))
    assert str(e).startswith("n: "), e
    assert log.stats()["pending"] == 0
    log.close()


def test_a_ts_of_an_int_subclass_is_taken_as_its_int():
    log, _ = make()
    assert log.add("t", 1.0, ts=_Int(T0)) is True
    assert log.stats()["pending"] == 1
    log.close()


def test_a_ts_of_an_int_subclass_before_2001_is_a_value_error():
    log, _ = make()
    raises(ValueError, log.add, "t", 1.0, ts=_Int(1702656423))  # seconds, not ms
    assert log.stats()["pending"] == 0
    log.close()


def test_flushed_samples_survive_a_reopen():
    log, cfg = make()
    for i in range(10):
        log.add("t", i * 1.5)
    log.flush()
    log.close()
    log2 = Logger(cfg)
    assert log2.stats()["pending"] == 10
    log2.close()


def test_a_wrong_config_fails_at_logger_naming_the_key():
    cfg = device_config()
    cfg["limits"] = {"points_per_day": "many"}
    e = raises(ConfigError, Logger, cfg)
    assert str(e).startswith("limits.points_per_day")


def test_a_store_path_that_is_a_file_fails_at_logger_naming_the_key_and_leaves_the_file():
    cfg = device_config()
    path = cfg["store"]["path"]
    with open(path, "w") as f:
        f.write("my notes")
    e = raises(ConfigError, Logger, cfg)
    assert str(e).startswith("store.path:") and "file" in str(e)
    with open(path) as f:
        assert f.read() == "my notes"


def test_sync_without_ca_or_insecure_uploads_nothing_and_says_why():
    cfg = device_config()
    cfg.pop("ca", None)
    cfg["insecure"] = False
    log = Logger(cfg)
    log.add("temperature", 20.0)
    r = log.sync()
    assert r["sent"] == 0 and r["pending"] == 1
    assert "ca" in r["last_error"]
    log.close()


def test_add_after_close_is_refused():
    log, _ = make()
    log.close()
    raises(ValueError, log.add, "t", 1.0)


def test_stats_after_close_are_the_figures_at_close():
    log, _ = make()
    log.add("t", 1.0)
    log.close()
    st = log.stats()
    assert st["pending"] == 1 and st["sent"] == 0


def test_flush_after_close_is_refused():
    log, _ = make()
    log.close()
    raises(ValueError, log.flush)


def test_before_sleep_after_close_is_refused():
    log, _ = make()
    log.close()
    raises(ValueError, log.before_sleep, 60000)


def test_a_sync_budget_that_is_no_int_is_a_type_error_and_a_negative_one_a_value_error():
    log, _ = make()
    log.add("t", 1.0)
    raises(TypeError, log.sync, "10")
    raises(TypeError, log.sync, 1.5)
    raises(ValueError, log.sync, -1)
    assert log.stats()["pending"] == 1
    log.close()


def test_close_twice_is_harmless():
    log, _ = make()
    log.close()
    log.close()


def _ticking(log, port):
    # the Logger's clock on counted ticks (the list returned), set from its port clock (port[0])
    ticks = [0]
    log.clock = Clock(log._state, ticks=lambda: ticks[0], port_time_ms=lambda: port[0])
    assert log.clock.is_set()
    return ticks


def _stamps(log, stream):
    log.flush()
    return [r[1] for r in log._store.records(log._sids[stream])]


def _burst(log, stream, n):
    # n clock-stamped adds; -> the ValueErrors they raised
    errors = []
    for i in range(n):
        try:
            log.add(stream, float(i))
        except ValueError as e:
            errors.append(e)
    return errors


def test_a_burst_of_clock_stamps_in_one_ms_never_repeats_or_goes_back():
    log, _ = make()
    _ticking(log, [T0])
    _burst(log, "t", 1500)  # all in one tick of the clock
    got = _stamps(log, "t")
    assert [got[i + 1] - got[i] for i in range(len(got) - 1) if got[i + 1] <= got[i]] == []
    log.close()


def test_a_clock_stamp_over_a_second_ahead_of_the_clock_is_a_value_error_naming_the_stream_and_stores_nothing():
    log, _ = make()
    _ticking(log, [T0])
    assert _burst(log, "t", 1001) == []  # T0 .. T0 + 1000: a ms apart, at most 1000 ms ahead
    e = raises(ValueError, log.add, "t", 5.0)
    assert str(e).startswith("t: more than one sample a ms: its clock stamp would be over 1000 ms ahead"), e
    assert _stamps(log, "t") == [T0 + i for i in range(1001)]
    log.close()


def test_a_stream_at_its_rate_limit_takes_one_sample_per_ms_of_the_clock_after_its_last():
    log, _ = make()
    ticks = _ticking(log, [T0])
    assert len(_burst(log, "t", 1003)) == 2
    ticks[0] += 2
    assert len(_burst(log, "t", 3)) == 1
    assert _stamps(log, "t")[-3:] == [T0 + 1000, T0 + 1001, T0 + 1002]
    log.close()


def test_clock_stamps_follow_a_clock_a_sync_sets_back_though_a_burst_ran_them_ahead():
    # kept: a time never verified (here the port clock's) may be corrected backwards by the first
    # verified one, and the stamps follow it rather than run a ms apart past the step
    log, _ = make()
    _ticking(log, [T0])
    _burst(log, "t", 500)  # T0 .. T0 + 499
    assert log.clock.set_time_ms(T0 - 5000, "ntp")
    log.add("t", 1.0)
    log.add("t", 2.0)
    assert _stamps(log, "t")[-3:] == [T0 + 499, T0 - 5000, T0 - 4999]
    log.close()


class _Ntptime:
    # ntptime as the boards have it: a module whose host the caller sets; this one never answers
    host = "pool.ntp.org"
    timeout = 1

    def time(self):
        raise OSError(110)


def test_the_configured_ntp_host_is_the_one_the_clock_asks():
    # clock.ntp_host reaches the Logger's clock: log.clock.sync_ntp() (the firmware's NTP step)
    # asks that server, not ntptime's default
    import sys

    saved = sys.modules.get("ntptime")
    sys.modules["ntptime"] = fake = _Ntptime()
    try:
        log, _ = make(clock={"ntp_host": "time.example.org"})
        assert log.clock.sync_ntp(timeout_ms=100) is False
        log.close()
        assert fake.host == "time.example.org", fake.host
    finally:
        if saved is None:
            sys.modules.pop("ntptime", None)
        else:
            sys.modules["ntptime"] = saved


def test_before_sleep_with_a_bad_planned_ms_is_refused_before_it_writes():
    # planned_ms is the deep sleep's length: no number is a TypeError, a negative, infinite or NaN
    # one a ValueError naming it, and the clock's anchor is not kept (state.json unchanged)
    import json

    log, cfg = make()
    log.add("t", 21.5)
    path = cfg["store"]["path"] + "/state.json"
    log.before_sleep(1000)
    with open(path) as f:
        kept = json.load(f)["clock"]
    for bad, exc in (("60000", TypeError), (None, TypeError), (True, TypeError), (-1, ValueError), (-0.5, ValueError)):
        e = raises(exc, log.before_sleep, bad)
        assert str(e).startswith("planned_ms must be"), (bad, e)
    inf = float("inf")
    for bad in (inf, inf - inf):  # infinity and NaN: the message said "0 or more" to an infinity
        e = raises(ValueError, log.before_sleep, bad)
        assert str(e).startswith("planned_ms must be a finite number"), (bad, e)
    with open(path) as f:
        assert json.load(f)["clock"] == kept
    log.before_sleep(0)
    log.before_sleep(1500.0)
    log.close()


def test_a_store_with_no_room_for_another_stream_name_is_a_config_error_naming_streams():
    # the store keeps every stream name it was given (255 at most): configurations that renamed
    # all of their 64 streams four times over end there
    cfg = device_config()
    for k in range(4):
        cfg["streams"] = dict([("s%d_%d" % (k, i), {"pin": "V%d" % i}) for i in range(64)])
        if k < 3:
            Logger(cfg).close()
    e = raises(ConfigError, Logger, cfg)
    assert str(e).startswith("streams:") and "store.path" in str(e), str(e)


def test_a_configuration_refused_for_the_stream_names_leaves_the_stores_names_as_they_were():
    # the names before the one that did not fit were saved: a store of 254 names refused 3 new
    # ones but kept the first of them, so a later configuration with one new name was refused too
    cfg = device_config()
    for k in range(4):
        cfg["streams"] = dict([("s%d_%d" % (k, i), {"pin": "V%d" % i}) for i in range(64 if k < 3 else 62)])
        Logger(cfg).close()
    cfg["streams"] = {"new_a": {"pin": "V1"}, "new_b": {"pin": "V2"}, "new_c": {"pin": "V3"}}
    raises(ConfigError, Logger, cfg)
    cfg["streams"] = {"other": {"pin": "V1"}}
    Logger(cfg).close()


def test_loggers_closed_on_many_store_paths_leave_no_entry_behind():
    # each store path's holding entry stayed for the process's life (about 100 bytes of heap a
    # path on the board-like port): a host tool or gateway rotating stores grew without bound
    import blynklog

    before = len(blynklog._holders)
    for _ in range(20):
        log, _cfg = make()
        log.add("n", 1, ts=T0)
        log.close()
    assert len(blynklog._holders) == before


def test_clock_stamps_a_burst_ran_ahead_are_not_given_again_after_the_process_ends_past_flush():
    # flush() returned, then the process ended without close() (killed, a crash, a reset): the
    # next one knows nothing of the stamps the burst ran ahead of the clock, and stamped those ms
    # again, where Blynk keeps one value per ms of a stream (the unix port killed after 4 bursts
    # of 900: 3600 samples sent at 1044 distinct ms)
    import blynklog

    cfg = device_config(streams={"t": {"pin": "V1"}})
    log = Logger(cfg)
    _burst(log, "t", 400)  # a few ms: the stamps run some 400 ms ahead of the clock
    log.flush()
    first = _stamps(log, "t")
    # the process ends here: a new one has none of this one's module state
    blynklog._holders.clear()
    blynklog._clocks.clear()
    log2 = Logger(cfg)
    _burst(log2, "t", 5)
    got = _stamps(log2, "t")
    log2.close()
    assert len(first) == 400 and got[:400] == first
    assert got[400:] and min(got[400:]) > max(first), (max(first), got[400:])


def test_clock_stamps_a_burst_ran_ahead_are_not_given_again_after_close_and_a_small_step_back():
    # a burst, then a sync's time 100 ms behind the clock (a step back add() itself follows by
    # moving stamps on), then close(): it waited 3 ms, and the next process stamped 5 of 5 in
    # the burst's ms again
    import blynklog

    cfg = device_config(streams={"t": {"pin": "V1"}})
    log = Logger(cfg)
    _burst(log, "t", 300)
    assert log.clock.set_time_ms(log.clock.now_ms() - 100, "ntp")
    log.close()
    blynklog._clocks.clear()  # the process ends: a new one has none of this one's module state
    log2 = Logger(cfg)
    _burst(log2, "t", 5)
    got = _stamps(log2, "t")
    log2.close()
    assert len(got) == 305 and min(got[300:]) > max(got[:300]), (max(got[:300]), got[300:])


def test_flush_after_a_burst_does_not_wait_for_a_clock_set_back_since():
    # flush() waits past stamps a burst moved ahead of the clock, not past a clock set back
    # since by more than add() follows (a sync's first verified time): that held every flush up
    # to a second until the clock was there again (3 flushes: 3.0 s)
    import blynklog

    cfg = device_config(streams={"t": {"pin": "V1"}, "u": {"pin": "V2"}})
    log = Logger(cfg)
    _burst(log, "t", 200)
    log.flush()
    assert log.clock.set_time_ms(now_ms() - 5000, "ntp")
    log.add("u", 1.0)
    wait = blynklog._stamps_ahead(log._last_ts, log.clock, True)
    log.close()
    assert wait == 0, wait
