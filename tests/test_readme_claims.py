# README.md's claims about the public contract, row by row of its tables ("Public API" and
# "Configuration", with the sync report and the upload policy's rows they point to): defaults,
# refused ranges that name their key, the errors add() documents, the keys of stats() and of a
# sync's report, and what happens at a documented limit. Only blynklog.Logger(config) and its
# methods; uploads go to the local Blynk emulator. Runs on CPython and the unix ports.
import time

import emu
from blynklog import ConfigError, Logger
from logger_support import DAY_MS, device_config, fill, fresh, now_ms, platform_config, received
from support import raises


def config_error(cfg):
    e = raises(ConfigError, Logger, cfg)
    assert isinstance(e, ValueError)
    return str(e)


# ---- Configuration


def test_the_readmes_example_error_message_is_the_one_given():
    # "streams.temperature.pin: expected a virtual pin 'V0'..'V255'"
    e = config_error(device_config(streams={"temperature": {"pin": "V256"}}))
    assert e.startswith("streams.temperature.pin: expected a virtual pin 'V0'..'V255'"), e


def test_an_underscore_key_inside_a_section_is_an_unknown_key_named():
    for section, key in (("store", "_note"), ("limits", "_note"), ("upload", "_note"), ("clock", "_note")):
        e = config_error(device_config(**{section: {key: "x"}}))
        assert e.startswith("%s.%s:" % (section, key)), e


def test_a_typo_inside_a_section_is_an_error_naming_it():
    for section, key, v in (
        ("upload", "timeout", 5000),
        ("limits", "points_per_days", 5),
        ("clock", "ntp", "pool.ntp.org"),
        ("store", "capacity_bytes", 65536),
    ):
        e = config_error(device_config(**{section: {key: v}}))
        assert e.startswith("%s.%s:" % (section, key)), e


def test_stream_types_are_taken_in_any_case_and_the_aliases_map():
    log = Logger(
        device_config(
            streams={
                "i": {"pin": "V1", "type": "INTEGER"},
                "d": {"pin": "V2", "type": "Float"},
                "s": {"pin": "V3", "type": "Str"},
                "b": {"pin": "V4", "type": "BOOLEAN"},
                "e": {"pin": "V5", "type": "Enum"},
                "l": {"pin": "V6", "type": "LOCATION"},
            }
        )
    )
    ts = now_ms() - 1000
    log.add("i", 3, ts=ts)
    raises(TypeError, log.add, "i", 1.5, ts=ts + 1)
    log.add("d", 1.5, ts=ts)
    log.add("s", "text", ts=ts)
    raises(TypeError, log.add, "s", 1.0, ts=ts + 1)
    log.add("b", True, ts=ts)
    raises(TypeError, log.add, "b", 2, ts=ts + 1)
    log.add("e", 2, ts=ts)
    log.add("l", (13.4, 52.5), ts=ts)
    assert log.stats()["pending"] == 6
    log.close()


def test_min_year_takes_2001_to_2070_and_refuses_2000_naming_the_key():
    for y in (2001, 2070):
        Logger(device_config(clock={"min_year": y})).close()
    assert config_error(device_config(clock={"min_year": 2000})).startswith("clock.min_year:")


def test_an_empty_ca_list_names_ca():
    cfg = device_config()
    cfg["ca"] = []
    assert config_error(cfg).startswith("ca:")


def test_a_ca_list_of_der_files_uploads():
    fresh()
    cfg = device_config()
    cfg["ca"] = [emu.other_ca_path(), emu.ca_path()]
    log = Logger(cfg)
    fill(log, "temperature", 3)
    r = log.sync()
    assert r["sent"] == 3 and r["stopped"] == "done", r
    log.close()


def test_with_insecure_the_ca_is_not_used():
    # "With it, `ca` is not used": a CA that would fail verification does not stop the upload
    fresh()
    log = Logger(device_config(ca=emu.other_ca_path(), insecure=True))
    fill(log, "temperature", 4)
    r = log.sync()
    assert r["sent"] == 4 and r["stopped"] == "done", r
    log.close()


def test_an_http_server_uploads_without_tls():
    fresh()
    cfg = device_config(server=emu.http_url())
    cfg.pop("ca", None)
    cfg.pop("insecure", None)
    log = Logger(cfg)
    assert log.upload_wait_ms() == 0
    t0 = fill(log, "temperature", 5)
    r = log.sync()
    assert r["sent"] == 5 and r["handshakes"] == 0 and r["stopped"] == "done", r
    assert [p[0] for p in received(1)] == [t0 + i * 1000 for i in range(5)]
    log.close()


def test_the_default_daily_quota_is_10000_points():
    fresh()
    log = Logger(device_config())
    assert log.stats()["quota_left"] == 10000
    fill(log, "temperature", 5)
    r = log.sync()
    assert r["sent"] == 5 and r["quota_left"] == 9995, r
    log.close()


def test_the_default_batch_is_1000_points():
    fresh()
    log = Logger(device_config())
    fill(log, "temperature", 2500, step=100)
    r = log.sync()
    assert r["sent"] == 2500 and r["batches"] == 3 and r["requests"] == 3, r
    log.close()


def test_the_default_future_tolerance_is_600_s():
    fresh()
    log = Logger(device_config())
    now = now_ms()
    log.add("temperature", 1.0, ts=now + 500000)
    log.add("humidity", 2.0, ts=now + 700000)
    r = log.sync()
    assert r["sent"] == 1 and r["pending"] == 1, r
    assert r["pending_by_stream"]["humidity"] == 1 and "humidity" in r["waiting"], r
    assert "temperature" not in r["waiting"], r
    log.close()


def test_the_default_age_limit_is_30_days_less_an_hour():
    fresh()
    log = Logger(device_config())
    now = now_ms()
    log.add("temperature", 1.0, ts=now - 30 * DAY_MS + 1800000)  # inside the last hour: dropped
    log.add("temperature", 2.0, ts=now - 30 * DAY_MS + 7200000)  # two hours left: sent
    r = log.sync()
    assert r["sent"] == 1 and r["dropped_stale"] == 1 and r["pending"] == 0, r
    log.close()


def test_upload_budget_ms_is_the_default_budget_of_sync():
    fresh()
    log = Logger(device_config(limits={"points_per_request": 10}, upload={"budget_ms": 300}))
    fill(log, "temperature", 2000, step=100)
    r = log.sync()
    assert r["stopped"] == "budget" and 0 < r["sent"] < 2000, r
    log.close()


def test_the_first_back_off_is_at_most_retry_base_s():
    fresh()
    log = Logger(device_config())
    fill(log, "temperature", 3)
    emu.inject("status", status=500)
    r = log.sync()
    assert r["stopped"] == "retry" and r["sent"] == 0 and r["pending"] == 3, r
    assert 0 <= r["next_retry_ms"] <= 10000, r
    assert 0 <= log.upload_wait_ms() <= 10000
    log.close()


def test_retry_max_s_caps_the_back_off():
    fresh()
    log = Logger(device_config(upload={"retry_base_s": 100, "retry_max_s": 1}))
    fill(log, "temperature", 3)
    emu.inject("status", status=503)
    r = log.sync()
    assert r["stopped"] == "retry" and 0 <= r["next_retry_ms"] <= 1000, r
    log.close()


def test_an_answer_slower_than_timeout_ms_is_a_retry_later_fault():
    fresh()
    log = Logger(device_config(upload={"timeout_ms": 500}))
    fill(log, "temperature", 3)
    emu.inject("slow", delay_s=3)
    began = time.time()
    r = log.sync()
    took = time.time() - began
    assert r["stopped"] == "retry" and r["sent"] == 0 and r["pending"] == 3, r
    assert took < 2.5, took
    log.close()


def test_drop_newest_refuses_with_false_and_the_books_balance():
    log = Logger(
        device_config(
            streams={"note": {"pin": "V8", "type": "string"}}, store={"capacity": 16384, "on_full": "drop_newest"}
        )
    )
    t = now_ms() - 400000
    results = []
    for i in range(100):
        results.append(log.add("note", "%04d" % i + "x" * 996, ts=t + i))
    log.flush()
    assert False in results
    first = results.index(False)
    assert results[first:] == [False] * (100 - first)  # refused until an upload frees a segment
    st = log.stats()
    assert st["pending"] == first and st["dropped_full"] == 100 - first, st
    assert log.fill() <= 1.0
    log.close()


def test_drop_oldest_is_the_default_and_never_refuses():
    log = Logger(device_config(streams={"note": {"pin": "V8", "type": "string"}}, store={"capacity": 16384}))
    t = now_ms() - 400000
    for i in range(100):
        assert log.add("note", "%04d" % i + "x" * 996, ts=t + i) is not False
    log.flush()
    st = log.stats()
    assert st["dropped_full"] > 0 and st["pending"] + st["dropped_full"] == 100, st
    f = log.fill()
    assert 0.0 < f <= 1.0, f
    log.close()


def test_flush_records_makes_samples_durable_without_a_flush():
    # a Logger taken over loses what it had not flushed, as in a power cut
    cfg = device_config(store={"flush_records": 3})
    first = Logger(cfg)
    fill(first, "temperature", 3)
    second = Logger(cfg)
    assert second.stats()["pending"] == 3
    second.close()
    first.close()


def test_flush_bytes_makes_samples_durable_without_a_flush():
    cfg = device_config(store={"flush_bytes": 1})
    first = Logger(cfg)
    fill(first, "temperature", 2)
    second = Logger(cfg)
    assert second.stats()["pending"] == 2
    second.close()
    first.close()


def test_without_a_flush_policy_a_taken_over_loggers_unflushed_samples_are_lost():
    cfg = device_config()
    first = Logger(cfg)
    fill(first, "temperature", 3)
    second = Logger(cfg)
    assert second.stats()["pending"] == 0
    second.close()
    first.close()


def test_a_health_metric_on_a_string_stream_is_refused_naming_it():
    streams = {"temperature": {"pin": "V1"}, "note": {"pin": "V8", "type": "string"}}
    e = config_error(device_config(streams=streams, health={"pending": "note"}))
    assert e.startswith("health.pending:"), e


def test_a_health_share_outside_0_to_1_names_it():
    for share in (0, 1.5):
        e = config_error(device_config(health={"pending": "humidity", "share": share}))
        assert e.startswith("health.share:"), e


def test_an_event_code_with_a_space_names_its_condition():
    e = config_error(device_config(events={"store_dropping": "store full"}))
    assert e.startswith("events.store_dropping:"), e


# ---- add()


def test_add_returns_no_false_while_the_store_takes_samples():
    log = Logger(device_config())
    assert log.add("temperature", 1.0) is not False
    assert log.add("humidity", 2.0, ts=now_ms() - 5) is not False
    log.close()


def test_a_device_in_a_configuration_without_devices_is_refused_and_stores_nothing():
    log = Logger(device_config())
    e = raises(Exception, log.add, "temperature", 1.0, device="node")
    assert isinstance(e, (ValueError, TypeError)), e
    assert log.stats()["pending"] == 0
    log.close()


def gateway(**over):
    cfg = platform_config(**over)
    cfg["devices"] = {
        "_note": "the greenhouse nodes",
        "g1": {"device_id": 12, "streams": {"temperature": {"id": 1}, "humidity": {"id": 2}}},
    }
    return cfg


def test_a_device_named_with_an_underscore_is_left_out():
    log = Logger(gateway())
    raises(ValueError, log.add, "temperature", 1.0, device="_note")
    st = log.stats()
    assert sorted(st["devices"]) == ["", "g1"], st["devices"]
    log.close()


def test_an_unknown_device_a_missing_stream_and_a_device_that_is_no_str_store_nothing():
    log = Logger(gateway())
    raises(ValueError, log.add, "temperature", 1.0, device="g2")
    raises(ValueError, log.add, "pressure", 1.0, device="g1")
    raises(TypeError, log.add, "temperature", 1.0, device=12)
    assert log.stats()["pending"] == 0
    log.close()


def test_a_devices_stream_is_also_named_device_slash_stream():
    log = Logger(gateway())
    log.add("g1/temperature", 1.0, ts=now_ms() - 10)
    log.add("temperature", 2.0, device="g1", ts=now_ms() - 5)
    st = log.stats()
    assert st["pending_by_stream"]["g1/temperature"] == 2, st["pending_by_stream"]
    assert st["devices"]["g1"]["pending"] == 2 and st["devices"][""]["pending"] == 0, st["devices"]
    log.close()


def test_a_gateways_stats_and_report_have_the_per_device_figures():
    fresh()
    emu.add_device(12, 2)
    log = Logger(gateway())
    t = now_ms() - 10000
    log.add("temperature", 1.0, device="g1", ts=t)
    log.add("temperature", 2.0, ts=t)
    r = log.sync()
    assert r["sent"] == 2, r
    for name in ("", "g1"):
        d = r["devices"][name]
        for k in ("sent", "dropped_stale", "unplaceable", "rejected", "thinned", "quota_spent", "pending"):
            assert k in d, (name, k, d)
        assert "quota_left" in d and "parked" in d, d
        assert d["sent"] == 1 and d["pending"] == 0, d
        s = log.stats()["devices"][name]
        for k in ("pending", "sent", "dropped_stale", "unplaceable", "rejected", "thinned", "quota_left", "parked"):
            assert k in s, (name, k, s)
        assert s["sent"] == 1, s
    log.close()


def test_a_string_of_1024_bytes_of_utf8_is_taken_and_one_more_byte_is_not():
    log = Logger(device_config(streams={"note": {"pin": "V8", "type": "string"}}))
    ts = now_ms() - 1000
    log.add("note", "\u00e9" * 512, ts=ts)  # 1024 bytes
    raises(ValueError, log.add, "note", "\u00e9" * 512 + "x", ts=ts + 1)
    assert log.stats()["pending"] == 1
    log.close()


def test_an_int_stream_takes_the_32_bit_range_and_no_more():
    log = Logger(device_config(streams={"n": {"pin": "V2", "type": "int"}}))
    ts = now_ms() - 1000
    log.add("n", 2147483647, ts=ts)
    log.add("n", -2147483648, ts=ts + 1)
    raises(ValueError, log.add, "n", -2147483649, ts=ts + 2)
    raises(ValueError, log.add, "n", 2147483648, ts=ts + 3)
    assert log.stats()["pending"] == 2
    log.close()


def test_a_ts_at_the_start_of_2001_is_taken_and_one_ms_before_is_not():
    log = Logger(device_config())
    log.add("temperature", 1.0, ts=978307200000)
    raises(ValueError, log.add, "temperature", 1.0, ts=978307199999)
    assert log.stats()["pending"] == 1
    log.close()


def test_a_ts_within_a_day_ahead_is_taken_and_beyond_it_is_not():
    log = Logger(device_config())
    now = now_ms()
    log.add("temperature", 1.0, ts=now + DAY_MS - 60000)
    raises(ValueError, log.add, "temperature", 1.0, ts=now + DAY_MS + 60000)
    assert log.stats()["pending"] == 1
    log.close()


def test_a_ts_that_is_a_float_is_a_type_error():
    log = Logger(device_config())
    raises(TypeError, log.add, "temperature", 1.0, ts=float(now_ms()))
    log.close()


# ---- sync()'s report and stats()


REPORT_KEYS = (
    "sent",
    "dropped_stale",
    "rejected",
    "thinned",
    "unplaceable",
    "pending",
    "pending_by_stream",
    "dropped_full",
    "quota_left",
    "batches",
    "requests",
    "handshakes",
    "bytes_sent",
    "parked",
    "stopped",
    "next_retry_ms",
    "last_error",
    "server",
    "waiting",
)
STOPS = ("done", "budget", "quota", "retry", "backoff", "auth", "device", "clock", "store", "insecure", "error")


def test_a_sync_report_has_every_documented_key():
    fresh()
    log = Logger(device_config())
    fill(log, "temperature", 3)
    r = log.sync()
    for k in REPORT_KEYS:
        assert k in r, k
    assert r["stopped"] in STOPS and r["handshakes"] == 1 and r["bytes_sent"] > 0 and r["batches"] == 1, r
    assert r["server"] == emu.url()
    log.close()


def test_stats_has_every_documented_key():
    log = Logger(device_config())
    st = log.stats()
    for k in (
        "pending",
        "pending_by_stream",
        "sent",
        "dropped_full",
        "dropped_stale",
        "unplaceable",
        "rejected",
        "thinned",
        "quota_left",
        "next_retry_ms",
        "last_error",
        "rejects",
        "server",
        "clock_set",
        "store",
    ):
        assert k in st, k
    assert st["rejects"] == [] and st["clock_set"] in (True, False) and "devices" not in st
    assert sorted(st["pending_by_stream"]) == ["humidity", "pressure", "temperature"]
    log.close()


def test_the_default_server_is_blynk_cloud():
    cfg = device_config()
    del cfg["server"]
    log = Logger(cfg)
    assert log.stats()["server"] == "https://blynk.cloud"
    log.close()


def test_the_sections_keys_are_in_the_report_and_stats():
    fresh()
    emu.add_stream(1, 9, "V9", "int")
    streams = {"temperature": {"pin": "V1"}, "hp": {"pin": "V9", "type": "int"}}
    log = Logger(
        device_config(
            streams=streams,
            remote={"every": {"pin": "V20", "type": "int"}},
            health={"pending": "hp"},
            events={"store_dropping": "store_full"},
        )
    )
    fill(log, "temperature", 2)
    r = log.sync()
    for k in ("remote", "remote_refused", "remote_error", "health", "events", "events_error"):
        assert k in r, (k, r)
    assert r["health"] == 1, r
    st = log.stats()
    assert "remote_refused" in st and "remote_error" in st, st
    log.close()


def test_rejects_entries_say_why_as_documented():
    fresh()
    log = Logger(device_config())
    t = now_ms() - 10000
    log.add("temperature", 1.0, ts=t)
    log.add("temperature", 2.0, ts=t)
    r = log.sync()
    assert r["sent"] == 1 and r["rejected"] == 1, r
    e = log.stats()["rejects"][-1]
    assert len(e) == 4 and isinstance(e[0], int), e
    assert e[1:] == ["temperature", t, "duplicate timestamp (the first sample kept)"], e
    log.close()


def test_a_point_too_large_for_max_request_bytes_is_set_aside_saying_so():
    fresh()
    emu.add_stream(1, 8, "V8", "string")
    log = Logger(device_config(streams={"note": {"pin": "V8", "type": "string"}}, limits={"max_request_bytes": 1024}))
    t = now_ms() - 10000
    log.add("note", "x" * 1024, ts=t)
    r = log.sync()
    assert r["rejected"] == 1 and r["pending"] == 0, r
    assert log.stats()["rejects"][-1][1:] == ["note", t, "point larger than max_request_bytes"]
    log.close()


def test_a_servers_reason_in_rejects_is_at_most_96_characters():
    fresh()
    log = Logger(device_config())
    t = now_ms() - 10000
    log.add("temperature", 1.0, ts=t)
    emu.inject("status", status=400, body={"error": {"message": "Bad point " + "y" * 190}})
    r = log.sync()
    assert r["rejected"] == 1, r
    why = log.stats()["rejects"][-1][3]
    assert why.startswith("Bad point ") and len(why) <= 96, why
    log.close()


def test_feed_is_called_for_every_batch():
    fresh()
    log = Logger(device_config(limits={"points_per_request": 10}))
    fill(log, "temperature", 30)
    calls = []
    r = log.sync(feed=lambda: calls.append(1))
    assert r["batches"] == 3 and len(calls) >= 3, (r, len(calls))
    log.close()


# ---- fill(), upload_wait_ms(), remote(), health_hook, before_sleep()


def test_fill_is_a_fraction_of_the_capacity():
    log = Logger(device_config())
    f = log.fill()
    assert isinstance(f, float) and 0.0 <= f < 0.1, f
    log.close()


def test_upload_wait_ms_is_none_for_an_unverified_configuration():
    cfg = device_config()
    cfg.pop("ca", None)
    cfg.pop("insecure", None)
    log = Logger(cfg)
    assert log.upload_wait_ms() is None
    assert log.sync()["stopped"] == "insecure"
    log.close()


def test_upload_wait_ms_is_0_when_sync_may_send():
    fresh()
    log = Logger(device_config())
    assert log.upload_wait_ms() == 0
    log.close()


def test_remote_is_empty_without_the_section_and_health_hook_is_none():
    log = Logger(device_config())
    assert log.remote() == {} and log.health_hook is None
    log.close()


def test_remote_is_empty_before_the_first_read():
    log = Logger(device_config(remote={"every": "V20"}))
    assert log.remote() == {}
    log.close()


def test_before_sleep_takes_a_float():
    log = Logger(device_config())
    log.add("temperature", 1.0)
    log.before_sleep(1500.5)
    log.close()


# ---- close() and take-over


def test_after_close_the_documented_calls_raise_value_error():
    import asyncio

    log = Logger(device_config())
    log.close()
    for call in (log.fill, log.upload_wait_ms, log.sync):
        raises(ValueError, call)

    async def main():
        await log.sync_async()

    raises(ValueError, asyncio.run, main())
    assert isinstance(log.stats(), dict)


def test_a_logger_is_a_context_manager_that_closes():
    with Logger(device_config()) as log:
        log.add("temperature", 1.0)
    raises(ValueError, log.add, "temperature", 2.0)
    assert log.stats()["pending"] == 1


def test_a_taken_over_loggers_calls_raise_and_its_close_does_nothing():
    cfg = device_config()
    first = Logger(cfg)
    second = Logger(cfg)
    for call in (first.fill, first.upload_wait_ms, first.sync, first.stats, first.flush):
        raises(ValueError, call)
    raises(ValueError, first.before_sleep, 1000)
    first.close()
    second.add("temperature", 1.0)
    second.flush()
    assert second.stats()["pending"] == 1
    second.close()


# ---- more rows: the store, the upload policy, health


def test_the_default_store_path_is_blynklog_data():
    import os

    from support import tmpdir

    folder = tmpdir("defpath")
    here = os.getcwd()
    os.chdir(folder)
    try:
        cfg = device_config()
        del cfg["store"]
        log = Logger(cfg)
        log.add("temperature", 1.0)
        log.close()
        assert "blynklog-data" in os.listdir(folder), os.listdir(folder)
    finally:
        os.chdir(here)


def test_the_default_capacity_is_262144_bytes():
    from support import tmpdir

    a = Logger(device_config(streams={"note": {"pin": "V8", "type": "string"}}))
    b = Logger(
        device_config(
            streams={"note": {"pin": "V8", "type": "string"}}, store={"path": tmpdir("cap") + "/bl", "capacity": 16384}
        )
    )
    t = now_ms() - 10000
    for log in (a, b):
        for i in range(3):
            log.add("note", "x" * 500, ts=t + i)
        log.flush()
    fa, fb = a.fill(), b.fill()
    assert fa > 0 and fa * 16 == fb, (fa, fb)
    a.close()
    b.close()


def test_a_400_without_blynks_json_body_on_a_lone_point_is_retried_not_set_aside():
    fresh()
    log = Logger(device_config())
    log.add("temperature", 1.0, ts=now_ms() - 10000)
    emu.inject("status", status=400, body="<html>proxy</html>")
    r = log.sync()
    assert r["rejected"] == 0 and r["pending"] == 1 and r["stopped"] == "retry", r
    log.close()


def test_our_daily_quota_spent_stops_the_sync_and_waits_for_utc_midnight():
    fresh()
    log = Logger(device_config(limits={"points_per_day": 3}))
    fill(log, "temperature", 5)
    r = log.sync()
    assert r["sent"] == 3 and r["stopped"] == "quota" and r["quota_left"] == 0 and r["pending"] == 2, r
    to_midnight = DAY_MS - now_ms() % DAY_MS
    wait = log.upload_wait_ms()
    assert abs(wait - to_midnight) < 5000, (wait, to_midnight)
    log.close()


def test_the_default_health_share_is_5_percent_of_points_per_day():
    fresh()
    emu.add_stream(1, 9, "V9", "int")
    streams = {"temperature": {"pin": "V1"}, "hp": {"pin": "V9", "type": "int"}}
    log = Logger(device_config(streams=streams, limits={"points_per_day": 40}, health={"pending": "hp"}))
    added = [log.sync()["health"] for _ in range(3)]
    assert added == [1, 1, 0], added
    log.close()


def test_the_device_api_uploads_to_batch_update():
    fresh()
    log = Logger(device_config())
    fill(log, "temperature", 2)
    log.sync()
    paths = [q.get("path") or q.get("target") for q in emu.requests()]
    assert paths and all(p.startswith("/external/api/batch/update") for p in paths), emu.requests()
    log.close()


def test_a_stream_taken_out_of_the_configuration_keeps_its_samples():
    fresh()
    cfg = device_config()
    log = Logger(cfg)
    t = now_ms() - 10000
    log.add("temperature", 1.0, ts=t)
    log.add("humidity", 2.0, ts=t)
    log.close()
    fewer = dict(cfg)
    fewer["streams"] = {"temperature": cfg["streams"]["temperature"]}
    log = Logger(fewer)
    st = log.stats()
    assert st["pending"] == 2 and sorted(st["pending_by_stream"]) == ["temperature"], st
    r = log.sync()
    assert r["sent"] == 1 and r["stopped"] == "done" and r["pending"] == 1, r
    log.close()
    log = Logger(cfg)
    r = log.sync()
    assert r["sent"] == 1 and r["pending"] == 0, r
    assert received(2) == [(t, 2.0)]
    log.close()


def test_sync_async_refuses_a_bad_budget_as_sync_does():
    import asyncio

    log = Logger(device_config())

    async def run(b):
        await log.sync_async(budget_ms=b)

    raises(TypeError, asyncio.run, run("1000"))
    raises(ValueError, asyncio.run, run(-1))
    log.close()


def test_the_health_hook_is_called_once_per_sync():
    fresh()
    emu.add_stream(1, 9, "V9", "int")
    streams = {"temperature": {"pin": "V1"}, "rs": {"pin": "V9", "type": "int"}}
    log = Logger(device_config(streams=streams, health={"rssi": "rs"}))
    calls = []

    def hook():
        calls.append(1)
        return {"rssi": -60}

    log.health_hook = hook
    fill(log, "temperature", 2)
    log.sync()
    log.sync()
    assert len(calls) == 2, calls
    assert [p[1] for p in received(9)] == [-60], received(9)
    log.close()


def test_a_full_4_kb_segment_is_flushed_by_the_store_itself():
    cfg = device_config(streams={"note": {"pin": "V8", "type": "string"}})
    first = Logger(cfg)
    t = now_ms() - 10000
    for i in range(10):
        first.add("note", "%04d" % i + "x" * 996, ts=t + i)
    second = Logger(cfg)
    assert second.stats()["pending"] >= 3, second.stats()
    second.close()
    first.close()


def test_the_backlog_takes_no_more_flash_than_store_capacity():
    import os

    cfg = device_config(streams={"note": {"pin": "V8", "type": "string"}}, store={"capacity": 16384})
    log = Logger(cfg)
    t = now_ms() - 400000
    for i in range(100):
        log.add("note", "%04d" % i + "x" * 996, ts=t + i)
    log.flush()
    data = cfg["store"]["path"] + "/data"
    used = sum(os.stat(data + "/" + n)[6] for n in os.listdir(data))
    assert used <= 16384, (used, os.listdir(data))
    log.close()


def test_flush_ms_makes_samples_durable_without_a_flush():
    cfg = device_config(store={"flush_ms": 1})
    first = Logger(cfg)
    first.add("temperature", 1.0, ts=now_ms() - 1000)
    time.sleep(0.01)
    first.add("temperature", 2.0, ts=now_ms() - 900)
    second = Logger(cfg)
    assert second.stats()["pending"] >= 1
    second.close()
    first.close()


def test_the_health_figures_are_the_documented_ones():
    fresh()
    emu.add_stream(1, 9, "V9", "int")
    emu.add_stream(1, 10, "V10", "int")
    streams = {"temperature": {"pin": "V1"}, "hp": {"pin": "V9", "type": "int"}, "hd": {"pin": "V10", "type": "int"}}
    log = Logger(device_config(streams=streams, health={"pending": "hp", "dropped": "hd"}))
    now = now_ms()
    log.add("temperature", 1.0, ts=now - 30 * DAY_MS)  # stale: dropped
    log.add("temperature", 2.0, ts=now - 5000)
    log.add("temperature", 3.0, ts=now + 3600000)  # waits: pending after the upload
    r = log.sync()
    assert r["sent"] == 1 and r["dropped_stale"] == 1 and r["health"] == 2, r
    log.sync()
    assert [p[1] for p in received(9)] == [1] and [p[1] for p in received(10)] == [1], (received(9), received(10))
    log.close()


def test_before_sleep_flushes():
    cfg = device_config()
    first = Logger(cfg)
    first.add("temperature", 1.0)
    first.before_sleep(60000)
    second = Logger(cfg)
    assert second.stats()["pending"] == 1
    second.close()
    first.close()


def test_a_sample_too_far_ahead_stops_its_stream_there():
    fresh()
    log = Logger(device_config())
    now = now_ms()
    log.add("temperature", 1.0, ts=now + 3600000)
    log.add("temperature", 2.0, ts=now - 5000)
    log.add("humidity", 3.0, ts=now - 5000)
    r = log.sync()
    assert r["sent"] == 1 and r["pending_by_stream"]["temperature"] == 2, r
    assert "temperature" in r["waiting"], r
    log.close()


def test_a_sync_stopped_by_its_budget_goes_on_where_it_stopped():
    fresh()
    log = Logger(device_config(limits={"points_per_request": 10}))
    t0 = fill(log, "temperature", 500)
    r = log.sync(budget_ms=100)
    assert r["stopped"] == "budget" and r["sent"] < 500, r
    r2 = log.sync()
    assert r["sent"] + r2["sent"] == 500 and r2["stopped"] == "done", r2
    assert [p[0] for p in received(1)] == [t0 + i * 1000 for i in range(500)]
    log.close()


def test_a_sync_budget_counts_from_the_call_the_store_opening_included():
    # README: sync() uploads within the budget. It was counted from the upload loop's start, after
    # the modules, the store's opening and the count of its backlog: a slow flash there (300 ms)
    # and a budget of 200 ms still sent a batch
    fresh()
    log = Logger(device_config())
    fill(log, "temperature", 20)
    opened = log._opened

    def slow_flash():
        store = opened()
        time.sleep(0.3)
        return store

    log._opened = slow_flash
    r = log.sync(budget_ms=200)
    del log._opened
    assert r["stopped"] == "budget" and r["sent"] == 0, r
    r = log.sync()
    assert r["sent"] == 20, r
    log.close()


def test_points_per_request_bounds_every_batch():
    fresh()
    log = Logger(device_config(limits={"points_per_request": 7}))
    fill(log, "temperature", 20)
    r = log.sync()
    assert r["sent"] == 20 and r["batches"] == 3, r
    assert [q["points"] for q in emu.requests()] == [7, 7, 6], emu.requests()
    log.close()


def test_max_request_bytes_bounds_every_request_body():
    fresh()
    log = Logger(device_config(limits={"max_request_bytes": 1024}))
    fill(log, "temperature", 200)
    r = log.sync()
    assert r["sent"] == 200 and r["batches"] > 1, r
    sizes = [q["body_bytes"] for q in emu.requests()]
    assert max(sizes) <= 1024, sizes
    log.close()


def test_a_syncs_health_figures_are_added_whole_or_not_at_all():
    fresh()
    emu.add_stream(1, 9, "V9", "int")
    emu.add_stream(1, 10, "V10", "int")
    streams = {"temperature": {"pin": "V1"}, "hp": {"pin": "V9", "type": "int"}, "hd": {"pin": "V10", "type": "int"}}
    log = Logger(
        device_config(streams=streams, limits={"points_per_day": 60}, health={"pending": "hp", "dropped": "hd"})
    )
    added = [log.sync()["health"] for _ in range(3)]
    assert added == [2, 0, 0], added  # 3 a day: room for one sync's two, not for a second's
    log.close()


def test_the_store_folder_holds_state_json_and_config_cache():
    import json
    import os

    from support import tmpdir

    folder = tmpdir("cache")
    cfg = device_config(store={"path": "store"})
    with open(folder + "/config.json", "w") as f:
        f.write(json.dumps(cfg))
    log = Logger(folder + "/config.json")
    log.add("temperature", 1.0)
    log.close()
    names = os.listdir(folder + "/store")
    assert "state.json" in names and "config.cache" in names, names
