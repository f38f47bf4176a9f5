# Remote settings, health datastreams and events (lib/blynklog/remote.py) against the local Blynk
# emulator, on CPython and the unix ports. Device 2 (token test-device-token-2), settings on V20 and
# V21, health on V30.., so that its datastreams stay apart from device 1's. A fresh Logger on the
# same store is the next wake. One behaviour per test.
import blynklog
import emu
from logger_support import device_config, platform_config
from support import raises

TOKEN2 = "test-device-token-2"
INTERVAL = {"pin": "V20", "type": "int", "min": 10, "max": 3600}


def _settings_streams(device=2):
    # no bounds on the emulator: a value the device's own bounds refuse can reach it
    emu.add_stream(device, 20, "V20", "int", setting=True)
    emu.add_stream(device, 21, "V21", "double", setting=True)


def _config(**over):
    cfg = device_config({"x": {"pin": "V7"}}, token=TOKEN2)
    cfg.update(over)
    return cfg


def _remote_config(**over):
    return _config(remote={"sample_every_s": INTERVAL, "gain": "V21", "read_every_s": 0}, **over)


def _requests(path):
    return [r for r in emu.requests() if r["path"] == path]


def _sync(cfg, samples=1):
    log = blynklog.Logger(cfg)
    for i in range(samples):
        log.add("x", 1.5 + i)
    try:
        return log.sync(), log
    finally:
        log.close()


# ---- remote settings


def test_every_setting_is_read_in_one_device_api_request_at_the_sync():
    emu.require()
    emu.reset()
    _settings_streams()
    emu.set_value(2, "V20", 120)
    emu.set_value(2, "V21", 2.5)
    report, _ = _sync(_remote_config())
    gets = _requests("/external/api/get")
    assert len(gets) == 1 and gets[0]["query"].endswith("&v21&v20")
    assert report["remote"] == {"sample_every_s": 120, "gain": 2.5} and report["sent"] == 1


def test_the_settings_read_goes_over_the_uploads_connection():
    emu.require()
    emu.reset()
    _settings_streams()
    emu.set_value(2, "V20", 60)
    report, _ = _sync(_remote_config())
    assert report["handshakes"] == 1 and report["requests"] == 2


def test_a_redirect_of_the_settings_read_is_remembered_as_an_uploads_is():
    # a wrong region answers 308 to any request: the settings read, alone in this sync, moves the
    # Logger to the server it names, for this report and the next boots
    emu.require()
    emu.reset()
    _settings_streams()
    emu.set_value(2, "V20", 120)
    other = "https://localhost:" + emu.url().rsplit(":", 1)[1]  # the same emulator by another name
    emu.inject("redirect", target="settings", location=other)
    cfg = _remote_config()
    log = blynklog.Logger(cfg)
    r = log.sync()
    log.close()
    assert r["remote"] == {"sample_every_s": 120} and r["sent"] == 0 and r["server"] == other, r
    log = blynklog.Logger(cfg)
    assert log.stats()["server"] == other
    log.close()


def test_a_lone_setting_whose_datastream_the_server_lacks_is_refused_and_read_once_per_read_every_s():
    emu.require()
    emu.reset()
    cfg = _config(remote={"gone": "V22", "read_every_s": 3600})
    reports = [_sync(cfg)[0] for _ in range(3)]
    r = reports[0]
    assert list(r["remote_refused"]) == ["gone"] and r["remote_error"] is None, r
    assert len(_requests("/external/api/get")) == 1


def test_a_fresh_logger_returns_the_accepted_settings_without_the_network():
    emu.require()
    emu.reset()
    _settings_streams()
    emu.set_value(2, "V20", 300)
    cfg = _remote_config()
    _sync(cfg)
    before = len(emu.requests())  # any request would be counted there (the server is part of
    # where a setting is read from: another server's value would be no value of it)
    log = blynklog.Logger(cfg)
    try:
        assert log.remote() == {"sample_every_s": 300}
    finally:
        log.close()
    assert len(emu.requests()) == before


def test_an_invalid_setting_is_refused_reported_and_the_last_good_one_kept():
    emu.require()
    emu.reset()
    _settings_streams()
    cfg = _remote_config()
    emu.set_value(2, "V20", 120)
    _sync(cfg)
    emu.set_value(2, "V20", 5)  # below the setting's min (10)
    report, log = _sync(cfg)
    assert report["remote_refused"] == {"sample_every_s": "5 is below 10"}
    assert log.stats()["remote_refused"] == {"sample_every_s": "5 is below 10"}
    assert blynklog.Logger(cfg).remote() == {"sample_every_s": 120}


def test_a_double_for_an_int_setting_is_refused():
    emu.require()
    emu.reset()
    emu.add_stream(2, 20, "V20", "double", setting=True)  # the datastream's type is not the setting's
    emu.set_value(2, "V20", 60.5)
    report, _ = _sync(_config(remote={"sample_every_s": INTERVAL, "read_every_s": 0}))
    assert report["remote_refused"] == {"sample_every_s": "60.5 is not an integer"}


def test_one_setting_is_read_from_the_plain_text_answer():
    emu.require()
    emu.reset()
    _settings_streams()
    emu.set_value(2, "V20", 900)
    report, _ = _sync(_config(remote={"sample_every_s": INTERVAL, "read_every_s": 0}))
    assert report["remote"] == {"sample_every_s": 900} and report["remote_error"] is None


def test_a_setting_without_a_value_yet_is_no_error():
    emu.require()
    emu.reset()
    _settings_streams()
    report, log = _sync(_config(remote={"sample_every_s": INTERVAL, "read_every_s": 0}))
    assert report["remote"] == {} and report["remote_error"] is None and log.remote() == {}


def test_settings_are_read_at_most_once_per_read_every_s():
    emu.require()
    emu.reset()
    _settings_streams()
    emu.set_value(2, "V20", 60)
    cfg = _config(remote={"sample_every_s": INTERVAL, "read_every_s": 3600})
    _sync(cfg)
    _sync(cfg)
    assert len(_requests("/external/api/get")) == 1


def _moved(cfg, **settings):
    # the configuration (its store) with these settings, read at most once an hour
    cfg = dict(cfg)
    cfg["remote"] = dict(settings, read_every_s=3600)
    return cfg


def test_a_setting_moved_to_another_datastream_does_not_keep_the_old_ones_value():
    emu.require()
    emu.reset()
    _settings_streams()
    emu.set_value(2, "V20", 120)
    cfg = _config()
    _sync(_moved(cfg, a={"pin": "V20", "type": "int"}))
    log = blynklog.Logger(_moved(cfg, a={"pin": "V21", "type": "int"}))  # a wake after the setting moved
    try:
        assert log.remote() == {}, log.remote()
    finally:
        log.close()


def test_a_setting_read_from_one_device_is_no_value_once_the_configuration_names_another():
    # the setting was known by its pin and id alone: after the configuration named device 1's
    # token, remote() still gave device 2's value, and no read was due
    emu.require()
    emu.reset()
    _settings_streams()
    _settings_streams(1)
    emu.set_value(2, "V20", 120)
    emu.set_value(1, "V20", 30)
    cfg = _moved(_config(), a={"pin": "V20", "type": "int"})
    _sync(cfg)
    other = dict(cfg, token="test-device-token")
    log = blynklog.Logger(other)
    try:
        assert log.remote() == {}, log.remote()
    finally:
        log.close()
    report, log = _sync(other)
    assert report["remote"] == {"a": 30} and log.remote() == {"a": 30}, report


def test_a_setting_added_or_moved_in_the_configuration_is_read_at_the_next_sync():
    emu.require()
    emu.reset()
    _settings_streams()
    emu.set_value(2, "V20", 120)
    emu.set_value(2, "V21", 2.5)
    cfg = _config()
    _sync(_moved(cfg, a={"pin": "V20", "type": "int"}))
    report, log = _sync(_moved(cfg, a={"pin": "V20", "type": "int"}, gain="V21"))
    assert report["remote"] == {"a": 120, "gain": 2.5} and log.remote() == {"a": 120, "gain": 2.5}, report


def test_settings_kept_before_their_datastreams_were_noted_are_still_given():
    # a state.json of an earlier version: the values without "of"
    import json
    import os

    cfg = _config(remote={"a": {"pin": "V20", "type": "int"}})
    os.mkdir(cfg["store"]["path"])
    with open(cfg["store"]["path"] + "/state.json", "w") as f:
        f.write(json.dumps({"remote": {"at": 1, "v": {"a": 60}, "refused": {}, "error": None}}))
    log = blynklog.Logger(cfg)
    try:
        assert log.remote() == {"a": 60}
    finally:
        log.close()


def test_a_failed_settings_read_is_reported_and_the_upload_still_goes():
    emu.require()
    emu.reset()
    _settings_streams()
    emu.inject("status", status=503, target="settings")
    report, log = _sync(_remote_config(), samples=3)
    assert report["sent"] == 3 and report["stopped"] == "done"
    assert report["remote_error"] == "settings: Injected failure."
    assert log.stats()["remote_error"] == "settings: Injected failure."


def test_a_429_on_the_settings_read_holds_the_next_sync_off_for_its_retry_after():
    # the server's "not before 120 s" is about the client, whichever request it answered
    emu.require()
    emu.reset()
    _settings_streams()
    emu.inject("status", status=429, target="settings", retry_after=120)
    cfg = _remote_config()
    report, log = _sync(cfg, samples=3)
    assert report["sent"] == 3 and report["remote_error"] == "settings: Injected failure."
    assert report["next_retry_ms"] >= 120000, report["next_retry_ms"]
    before = len(emu.requests())
    report, log = _sync(cfg)
    assert report["stopped"] == "backoff" and len(emu.requests()) == before, report


def test_a_429_on_an_event_holds_the_next_sync_off_for_its_retry_after():
    emu.require()
    emu.reset()
    emu.add_event_code(2, "auth")
    emu.inject("status", status=401, target="upload")
    emu.inject("status", status=429, target="event", retry_after=120)
    cfg = _config(events={"auth_failing": "auth"})
    report, log = _sync(cfg)
    assert report["stopped"] == "auth" and report["events"] == [], report
    assert report["next_retry_ms"] >= 120000, report["next_retry_ms"]
    before = len(emu.requests())
    report, log = _sync(cfg)
    assert report["stopped"] == "backoff" and len(emu.requests()) == before, report


def test_settings_are_read_through_the_platform_api_datastream_values():
    emu.require()
    emu.reset()
    emu.add_stream(1, 40, "V40", "int", setting=True)
    emu.set_value(1, "V40", 45)
    cfg = platform_config({"x": {"id": 7}})
    cfg["remote"] = {"sample_every_s": {"pin": "V40", "id": 40, "type": "int"}, "read_every_s": 0}
    report, _ = _sync(cfg)
    assert report["remote"] == {"sample_every_s": 45} and len(_requests("/api/v2/organization/device/datastreams")) == 1


def test_a_sync_that_backs_off_reports_every_key_of_its_sections():
    # README: with a remote, health or events section the report also has remote,
    # remote_refused, remote_error, health, events and events_error, at a sync that sends nothing too
    emu.require()
    emu.reset()
    _settings_streams()
    emu.add_stream(2, 30, "V30", "int")
    emu.inject("status", status=503, retry_after=120)  # a floor: full jitter alone may draw 0
    cfg = _all_three_config()
    first, _ = _sync(cfg)
    report, _ = _sync(cfg)
    assert first["stopped"] == "retry" and report["stopped"] == "backoff", (first, report)
    got = [
        report.get(k, "absent")
        for k in ("remote", "remote_refused", "remote_error", "health", "events", "events_error")
    ]
    assert got == [{}, {}, None, 0, [], None], got


def test_a_setting_whose_datastream_the_server_lacks_does_not_hold_the_others_back():
    # V22 is no datastream of device 2 (deleted from the template, say): refused, the rest read
    emu.require()
    emu.reset()
    _settings_streams()
    emu.set_value(2, "V20", 120)
    emu.set_value(2, "V21", 2.5)
    cfg = _config(remote={"sample_every_s": INTERVAL, "gain": "V21", "gone": "V22", "read_every_s": 0})
    report, log = _sync(cfg)
    assert report["remote"] == {"sample_every_s": 120, "gain": 2.5}, report
    assert list(report["remote_refused"]) == ["gone"] and report["remote_error"] is None, report
    assert log.remote() == {"sample_every_s": 120, "gain": 2.5}


def test_a_setting_whose_datastream_the_platform_api_lacks_does_not_hold_the_others_back():
    emu.require()
    emu.reset()
    emu.add_stream(1, 40, "V40", "int", setting=True)
    emu.set_value(1, "V40", 45)
    cfg = platform_config({"x": {"id": 7}})
    cfg["remote"] = {"sample_every_s": {"pin": "V40", "type": "int"}, "gone": "V41", "read_every_s": 0}
    report, _ = _sync(cfg)
    assert report["remote"] == {"sample_every_s": 45}, report
    assert list(report["remote_refused"]) == ["gone"] and report["remote_error"] is None, report


def test_fourteen_platform_api_settings_are_read():
    # their answer (some 80 bytes a setting) was cut to http's 1 KB: none was read, "not JSON"
    emu.require()
    emu.reset()
    remote = {"read_every_s": 0}
    for i in range(14):
        emu.add_stream(1, 40 + i, "V%d" % (40 + i), "double", setting=True)
        emu.set_value(1, "V%d" % (40 + i), 1234.125 + i)
        remote["s%02d" % i] = "V%d" % (40 + i)
    cfg = platform_config({"x": {"id": 7}})
    cfg["remote"] = remote
    report, _ = _sync(cfg)
    assert len(report["remote"]) == 14 and report["remote_error"] is None, report


def test_a_settings_answer_longer_than_its_cap_is_reported_as_such():
    # two settings keep 1 KB of their answer: a string datastream's 1024 characters go past it
    emu.require()
    emu.reset()
    emu.add_stream(2, 20, "V20", "int", setting=True)
    emu.add_stream(2, 21, "V21", "string", setting=True)
    emu.set_value(2, "V20", 120)
    emu.set_value(2, "V21", "a" * 1024)
    report, log = _sync(_remote_config())
    assert report["remote_error"] == "settings: answer over 1024 bytes", report
    assert log.stats()["remote_error"] == "settings: answer over 1024 bytes"


def test_more_than_64_settings_are_a_config_error():
    remote = {}
    for i in range(65):
        remote["s%d" % i] = "V%d" % (100 + i)
    e = raises(blynklog.ConfigError, blynklog.Logger, _config(remote=remote))
    assert str(e) == "remote: at most 64 settings", str(e)


def test_settings_read_one_a_request_stop_at_the_timeout_past_the_budget():
    # a missing datastream makes the read one setting a request: each answer 0.3 s, timeout
    # 0.5 s, a 1 ms budget, 4 settings took 5 requests (1.5 s past the budget)
    emu.require()
    emu.reset()
    remote = {"read_every_s": 0}
    for i in range(4):
        if i:  # V20: no datastream on the server
            emu.add_stream(2, 20 + i, "V%d" % (20 + i), "int", setting=True)
            emu.set_value(2, "V%d" % (20 + i), 100 + i)
        remote["s%d" % i] = {"pin": "V%d" % (20 + i), "type": "int"}
    emu.inject("slow", count=5, target="settings", delay_s=0.3)
    log = blynklog.Logger(_config(remote=remote, upload={"timeout_ms": 500}))
    log.add("x", 1.0)
    r = log.sync(budget_ms=1)
    log.close()
    assert len(_requests("/external/api/get")) == 1, emu.requests()
    assert r["remote_error"] == "settings: not read in time: s0, s1, s2, s3", r


def test_a_change_to_stats_remote_refused_is_not_saved_in_the_state():
    # stats() gave the state's own dict: a caller's edit went into state.json at the next save
    emu.require()
    emu.reset()
    emu.add_stream(2, 20, "V20", "int", setting=True)
    emu.set_value(2, "V20", 5)
    cfg = _config(remote={"a": {"pin": "V20", "type": "int", "min": 10}, "read_every_s": 3600})
    log = blynklog.Logger(cfg)
    log.sync()
    log.stats()["remote_refused"]["zz"] = "the caller's"
    log.add("x", 2.0)
    log.sync()  # the read is not due: the state is saved as it is
    log.close()
    log = blynklog.Logger(cfg)
    refused = log.stats()["remote_refused"]
    log.close()
    assert list(refused) == ["a"], refused


def test_a_change_to_the_reports_remote_refused_is_not_saved_in_the_state():
    emu.require()
    emu.reset()
    emu.add_stream(2, 20, "V20", "int", setting=True)
    emu.set_value(2, "V20", 5)
    cfg = _config(remote={"a": {"pin": "V20", "type": "int", "min": 10}, "read_every_s": 3600})
    log = blynklog.Logger(cfg)
    log.sync()["remote_refused"]["zz"] = "the caller's"
    log.add("x", 2.0)
    log.sync()
    log.close()
    log = blynklog.Logger(cfg)
    refused = log.stats()["remote_refused"]
    log.close()
    assert list(refused) == ["a"], refused


def test_a_refusal_names_the_one_bound_a_value_passed():
    # without a max it read "5 is outside 10..None" (with both bounds "5 is outside 10..3600")
    from blynklog.remote_values import check

    assert check({"type": "int", "min": 10, "max": None}, 5)[1] == "5 is below 10"
    assert check({"type": "int", "min": None, "max": 100}, 500)[1] == "500 is above 100"


def test_a_setting_name_with_a_newline_is_a_config_error():
    # "a\nb" was accepted (README: a setting's name has no newline, as a stream's)
    e = raises(blynklog.ConfigError, blynklog.Logger, _config(remote={"a\nb": "V20"}))
    assert str(e) == "remote.a\nb: a setting's name has no newline", str(e)


def test_a_logger_without_the_remote_section_returns_no_settings():
    log = blynklog.Logger(_config())
    try:
        assert log.remote() == {}
    finally:
        log.close()


def test_a_setting_on_a_streams_pin_is_a_config_error():
    e = raises(blynklog.ConfigError, blynklog.Logger, _config(remote={"s": "V7"}))
    assert str(e).startswith("remote.s.pin:")


def test_a_setting_of_type_string_is_a_config_error():
    e = raises(blynklog.ConfigError, blynklog.Logger, _config(remote={"s": {"pin": "V20", "type": "string"}}))
    assert str(e).startswith("remote.s.type:")


# ---- health


def _health_config(**health):
    cfg = _config(
        streams={"x": {"pin": "V7"}, "h_pending": {"pin": "V30", "type": "int"}, "h_up": {"pin": "V31"}},
        health=dict({"pending": "h_pending", "upload_s": "h_up"}, **health),
    )
    return cfg


def _health_streams():
    emu.add_stream(2, 30, "V30", "int")
    emu.add_stream(2, 31, "V31", "double")


def test_health_figures_arrive_as_samples_of_their_streams_at_the_next_sync():
    emu.require()
    emu.reset()
    _health_streams()
    cfg = _health_config()
    first, _ = _sync(cfg, samples=2)
    second, _ = _sync(cfg, samples=0)
    assert first["health"] == 2 and second["sent"] == 2
    assert [v for _, v in emu.points(2, 30)] == [0]  # nothing was pending after the first upload
    assert len(emu.points(2, 31)) == 1


def test_health_points_stay_within_their_share_of_the_daily_quota():
    emu.require()
    emu.reset()
    _health_streams()
    cfg = _health_config(share=0.04)
    cfg["limits"] = {"points_per_day": 100}  # 4 health points a day: two syncs' worth
    added = [_sync(cfg, samples=0)[0]["health"] for _ in range(4)]
    assert added == [2, 2, 0, 0]
    assert len(emu.points(2, 30)) + len(emu.points(2, 31)) == 4


class _Cut(BaseException):
    pass


def _cut_wake(cfg):
    # a wake whose sync loses the power as it saves its state at its end (no close: the next
    # Logger takes the store over as after a power cut)
    log = blynklog.Logger(cfg)

    def cut():
        raise _Cut()

    log._save_state = cut
    log.add("x", 1.0)
    try:
        log.sync()
    except _Cut:
        pass


def test_health_points_stay_within_their_share_when_the_power_goes_as_the_sync_saves_its_state():
    # the points were flushed before the day's count was saved: a share of 2 points a day gave 6
    # in 3 such wakes
    emu.require()
    emu.reset()
    _health_streams()
    cfg = _health_config(share=0.02)
    cfg["limits"] = {"points_per_day": 100}
    for _ in range(3):
        _cut_wake(cfg)
    log = blynklog.Logger(cfg)
    by = log.stats()["pending_by_stream"]
    log.close()
    assert by["h_pending"] + by["h_up"] + len(emu.points(2, 30)) + len(emu.points(2, 31)) <= 2, by


def test_health_takes_the_boards_figures_from_its_hook():
    emu.require()
    emu.reset()
    emu.add_stream(2, 32, "V32", "int")
    cfg = _config(streams={"x": {"pin": "V7"}, "rssi": {"pin": "V32", "type": "int"}}, health={"rssi": "rssi"})
    log = blynklog.Logger(cfg)
    log.health_hook = lambda: {"rssi": -67}
    assert log.sync()["health"] == 1 and log.sync()["sent"] == 1
    log.close()
    assert [v for _, v in emu.points(2, 32)] == [-67]


def test_a_hook_figure_its_stream_cannot_take_is_left_out_and_the_share_still_holds():
    # battery_mv 2**31 for an int datastream: that figure is left out, the others go, and the
    # day's count of health points follows what was added
    emu.require()
    emu.reset()
    emu.add_stream(2, 31, "V31", "double")
    emu.add_stream(2, 32, "V32", "int")
    cfg = _config(
        streams={"x": {"pin": "V7"}, "hu": {"pin": "V31"}, "hw": {"pin": "V32", "type": "int"}},
        health={"upload_s": "hu", "battery_mv": "hw", "share": 0.04},
        limits={"points_per_day": 100},  # 4 health points a day
    )
    added = []
    for _ in range(6):
        log = blynklog.Logger(cfg)
        log.health_hook = lambda: {"battery_mv": 2**31}
        added.append(log.sync()["health"])
        log.close()
    log = blynklog.Logger(cfg)
    on_hu = len(emu.points(2, 31)) + log.stats()["pending_by_stream"]["hu"]
    on_hw = len(emu.points(2, 32)) + log.stats()["pending_by_stream"]["hw"]
    log.close()
    assert (sum(added), on_hu, on_hw) == (3, 3, 0), (added, on_hu, on_hw)  # room kept for both a sync


def test_a_hook_figure_that_is_not_finite_is_left_out():
    emu.require()
    emu.reset()
    emu.add_stream(2, 31, "V31", "double")
    cfg = _config(streams={"x": {"pin": "V7"}, "hb": {"pin": "V31"}}, health={"battery_mv": "hb"})
    log = blynklog.Logger(cfg)
    log.health_hook = lambda: {"battery_mv": float("inf")}
    r = log.sync()
    log.close()
    assert r["health"] == 0 and "health_error" not in r, r


def test_a_health_metric_on_an_unknown_stream_is_a_config_error():
    e = raises(blynklog.ConfigError, blynklog.Logger, _config(health={"pending": "nope"}))
    assert str(e).startswith("health.pending:")


# ---- events


def _codes():
    return [e["code"] for e in emu.events(2)]


def test_a_store_that_drops_samples_logs_one_event_a_day_across_wakes():
    emu.require()
    emu.reset()
    emu.add_event_code(2, "dropping")
    cfg = _config(events={"store_dropping": "dropping"})
    cfg["store"]["capacity"] = 16384
    cfg["store"]["on_full"] = "drop_newest"
    reports = []
    for wake in range(3):  # each wake fills the store past full, then syncs
        log = blynklog.Logger(cfg)
        t0 = blynklog_now() - 3600000 + wake * 100000
        for i in range(6000):  # more than the store holds (values that pack badly): it refuses the rest
            log.add("x", (i * 2654435761 % 1000003) / 7.0, ts=t0 + i)
        reports.append(log.sync())
        log.close()
    assert [r["events"] for r in reports] == [["dropping"], [], []], [
        (r["events"], r.get("events_error"), r["dropped_full"], r["last_error"]) for r in reports
    ]
    assert reports[2]["dropped_full"] > reports[0]["dropped_full"] > 0
    assert _codes() == ["dropping"]


def blynklog_now():
    from blynklog.compat import unix_ms

    return unix_ms()


def _parking_config():
    # "gone" writes V99, which device 2 has no datastream for: the server refuses it, it is parked
    return _config(streams={"x": {"pin": "V7"}, "gone": {"pin": "V99"}}, events={"stream_parked": "parked"})


def _park_sync(cfg):
    log = blynklog.Logger(cfg)
    log.add("gone", 1.0)
    report = log.sync()
    log.close()
    return report


def test_a_parked_stream_logs_one_event_a_day_across_wakes():
    emu.require()
    emu.reset()
    emu.add_event_code(2, "parked")
    cfg = _parking_config()
    for _ in range(3):
        _park_sync(cfg)
    assert _codes() == ["parked"]
    assert emu.events(2)[0]["description"] == "streams parked: gone"


def test_an_event_refused_as_the_days_events_spent_is_not_tried_again_that_day():
    # a 400 with the words of the points' daily limit ("Daily events limit reached."): refused for
    # the day, as an undeclared code is, neither retried at every sync nor a back-off of the upload
    emu.require()
    emu.reset()
    emu.add_event_code(2, "parked")
    emu.config(events_per_day=0)  # the device's events of the day went elsewhere already
    cfg = _parking_config()
    reports = [_park_sync(cfg) for _ in range(3)]
    tried = [r for r in emu.requests() if r["path"] == "/external/api/logEvent"]
    assert len(tried) == 1 and "limit" in reports[0]["events_error"], reports[0]
    assert [r["next_retry_ms"] for r in reports] == [0, 0, 0], reports


def test_failing_authentication_logs_one_event_a_day_across_wakes():
    emu.require()
    emu.reset()
    emu.add_event_code(2, "auth")
    emu.inject("status", count=3, status=401, target="upload")
    cfg = _config(events={"auth_failing": "auth"})
    stops = [_sync(cfg)[0]["stopped"] for _ in range(3)]
    assert stops == ["auth", "auth", "auth"] and _codes() == ["auth"]


def test_an_event_is_not_sent_twice_a_day_when_the_power_goes_as_the_sync_saves_its_state():
    # the day an event went was saved only at the sync's end: 3 such wakes sent it 3 times
    emu.require()
    emu.reset()
    emu.config(event_min_interval_ms=0)  # (the wakes come within a second)
    emu.add_event_code(2, "auth")
    emu.inject("status", count=3, status=401, target="upload")
    cfg = _config(events={"auth_failing": "auth"})
    for _ in range(3):
        _cut_wake(cfg)
    assert _codes() == ["auth"], _codes()


def test_an_event_refused_by_the_token_waits_for_a_sync_that_gets_through():
    emu.require()
    emu.reset()
    emu.add_event_code(2, "auth")
    emu.inject("status", status=401, target="upload")
    emu.inject("status", status=401, target="event")
    cfg = _config(events={"auth_failing": "auth"})
    first, _ = _sync(cfg)
    second, _ = _sync(cfg)
    assert first["events"] == [] and second["events"] == ["auth"] and _codes() == ["auth"]


def test_a_clock_unset_for_longer_than_clock_unset_h_logs_one_event_a_day_across_wakes():
    emu.require()
    emu.reset()
    emu.add_event_code(2, "noclock")
    from blynklog.clock import Clock

    cfg = _config(events={"clock_unset": "noclock", "clock_unset_h": 6})
    for _ in range(2):
        log = blynklog.Logger(cfg)
        ticks = [0]
        # a port clock that is not set, whose ticks show 7 hours since the boot: the server's Date
        # sets it at the sync's first request
        log.clock = Clock(log._state, port_time_ms=lambda: 0, ticks=lambda t=ticks: t[0])
        ticks[0] = 7 * 3600000
        log.sync()
        log.close()
    assert _codes() == ["noclock"] and emu.events(2)[0]["description"] == "the clock was unset for 7 h"


def test_an_event_goes_again_on_the_next_utc_day():
    emu.require()
    emu.reset()
    emu.add_event_code(2, "parked")
    emu.config(event_min_interval_ms=0)  # Blynk's 1 s between two events of a code: not this test's
    cfg = _parking_config()
    _park_sync(cfg)
    log = blynklog.Logger(cfg)
    st = dict(log._state.get("events"))
    st["day"] = {"stream_parked": st["day"]["stream_parked"] - 1}  # as if it went yesterday
    log._state.set("events", dict(st))
    log.close()
    _park_sync(cfg)
    assert _codes() == ["parked", "parked"]


def test_events_with_the_platform_api_are_a_config_error():
    cfg = platform_config({"x": {"id": 7}})
    cfg["events"] = {"auth_failing": "auth"}
    e = raises(blynklog.ConfigError, blynklog.Logger, cfg)
    assert str(e).startswith("events:")


def test_two_conditions_with_one_code_are_a_config_error():
    e = raises(blynklog.ConfigError, blynklog.Logger, _config(events={"auth_failing": "a", "stream_parked": "a"}))
    assert str(e).startswith("events.")


# ---- sync_async(): the same step, through the asyncio driver


def _sync_async(cfg, samples=1):
    import asyncio

    log = blynklog.Logger(cfg)
    for i in range(samples):
        log.add("x", 1.5 + i)
    try:
        return asyncio.run(log.sync_async()), log.remote()
    finally:
        log.close()


def test_sync_async_reads_every_setting_in_one_request_over_the_uploads_connection():
    emu.require()
    emu.reset()
    _settings_streams()
    emu.set_value(2, "V20", 120)
    emu.set_value(2, "V21", 2.5)
    report, kept = _sync_async(_remote_config())
    assert len(_requests("/external/api/get")) == 1
    assert report["remote"] == {"sample_every_s": 120, "gain": 2.5} and report["sent"] == 1
    assert report["handshakes"] == 1 and report["requests"] == 2
    assert kept == {"sample_every_s": 120, "gain": 2.5}


def _all_three_config():
    # settings, health and an event (the stream "gone" is parked: device 2 has no V99)
    return _config(
        streams={"x": {"pin": "V7"}, "gone": {"pin": "V99"}, "h_pending": {"pin": "V30", "type": "int"}},
        remote={"sample_every_s": INTERVAL, "gain": "V21", "read_every_s": 0},
        health={"pending": "h_pending"},
        events={"stream_parked": "parked"},
    )


def _all_three(use_async):
    emu.reset()
    _settings_streams()
    emu.add_stream(2, 30, "V30", "int")
    emu.add_event_code(2, "parked")
    emu.set_value(2, "V20", 5)  # refused: below the setting's min
    emu.set_value(2, "V21", 2.5)
    cfg = _all_three_config()
    log = blynklog.Logger(cfg)
    log.add("x", 1.5)
    log.add("gone", 1.0)
    log.close()
    report = (_sync_async if use_async else _sync)(cfg, samples=0)[0]
    return report, emu.requests(), _codes()


def test_sync_async_gives_the_report_and_requests_of_sync_with_settings_health_and_events():
    emu.require()
    blocking = _all_three(False)
    asynchronous = _all_three(True)
    report = blocking[0]
    assert report["remote"] == {"gain": 2.5} and "sample_every_s" in report["remote_refused"]
    assert report["events"] == ["parked"] and report["health"] == 1
    assert asynchronous[0] == report
    assert [r["path"] for r in asynchronous[1]] == [r["path"] for r in blocking[1]]
    assert asynchronous[2] == blocking[2] == ["parked"]


def test_a_platform_setting_on_a_streams_datastream_id_names_the_id():
    # the Platform API reads datastream ids: a setting whose id is a stream's names remote.NAME.id
    # and that id, not its pin (V20 is no stream's datastream)
    cfg = platform_config({"x": {"id": 7}})
    cfg["remote"] = {"s": {"pin": "V20", "id": 7}}
    e = str(raises(blynklog.ConfigError, blynklog.Logger, cfg))
    assert e == "remote.s.id: datastream id 7 is already the datastream of a stream or another setting", e
    cfg["remote"] = {"s": "V7"}  # its id is the pin's number: the pin names it
    e = str(raises(blynklog.ConfigError, blynklog.Logger, cfg))
    assert e.startswith("remote.s.pin: datastream id 7 "), e


def test_every_request_of_a_sync_keeps_the_pace_of_requests_per_s():
    # limits.requests_per_s holds over all of a sync's requests, not its batches alone: the
    # settings read and an event came right after the last batch (a stream parked: V9 is no
    # datastream of device 2)
    emu.require()
    emu.reset()
    _settings_streams()
    emu.add_event_code(2, "parked")
    cfg = device_config({"x": {"pin": "V7"}, "y": {"pin": "V9"}}, token=TOKEN2)
    cfg["remote"] = {"gain": "V21", "read_every_s": 0}
    cfg["events"] = {"stream_parked": "parked"}
    cfg["limits"] = {"requests_per_s": 2}
    log = blynklog.Logger(cfg)
    log.add("x", 1.5)
    log.add("y", 2.5)
    report = log.sync()
    log.close()
    assert report["events"] == ["parked"] and report["remote_error"] is None, report
    paths = [r["path"] for r in emu.requests()]
    assert paths == ["/external/api/batch/update"] * 2 + ["/external/api/get", "/external/api/logEvent"], paths
    at = [r["mono_us"] for r in emu.requests()]
    gaps = [(b - a) // 1000 for a, b in zip(at, at[1:])]
    assert min(gaps) >= 450, gaps  # 501 ms due; a margin for the arrivals' own jitter


def test_an_int_setting_written_as_a_doubles_text_is_read_exactly():
    # "16777217.00000" went through a float: float32 on a board read 16777216, and refused
    # 2147483647.00000 as too large for 32 bits
    from blynklog.remote_values import check

    spec = {"type": "int", "min": None, "max": None}
    assert check(spec, "16777217.00000") == (16777217, None)
    assert check(spec, "2147483647.00000") == (2147483647, None)
    assert check(spec, "-60.0") == (-60, None)
    assert check(spec, "16777216.5") == (None, "16777216.5 is not an integer")


def test_an_int_setting_in_a_device_api_json_answer_is_read_exactly():
    # a double datastream's 16777217.0 in the answer's JSON went through a float: float32 on a
    # board read 16777216 (and refused 2147483647.0 as too large for 32 bits)
    emu.require()
    emu.reset()
    _settings_streams()
    emu.set_value(2, "V20", 60)
    emu.set_value(2, "V21", 16777217)
    cfg = _config(remote={"n": {"pin": "V21", "type": "int"}, "other": INTERVAL, "read_every_s": 0})
    report, _ = _sync(cfg)
    assert report["remote"] == {"n": 16777217, "other": 60}, report


def test_an_int_setting_in_a_platform_api_answer_is_read_exactly():
    emu.require()
    emu.reset()
    emu.add_stream(1, 41, "V41", "double", setting=True)
    emu.set_value(1, "V41", 2147483647)
    cfg = platform_config({"x": {"id": 7}})
    cfg["remote"] = {"n": {"pin": "V41", "type": "int"}, "read_every_s": 0}
    report, _ = _sync(cfg)
    assert report["remote"] == {"n": 2147483647}, report


def test_a_settings_text_that_is_no_ascii_decimal_number_is_refused_on_every_runtime():
    # MicroPython's float() took "." and "e5" as 0.0, CPython's int() "\u0661\u0662" as 12 and
    # "5\u00a0" as 5: the verdict depended on the runtime
    from blynklog.remote_values import check

    double = {"type": "double", "min": None, "max": None}
    whole = {"type": "int", "min": None, "max": None}
    got = [check(double, "."), check(double, "e5"), check(whole, "\u0661\u0662"), check(whole, "5\u00a0")]
    assert [v for v, _ in got] == [None, None, None, None], got


def test_a_setting_in_pythons_digit_groups_is_not_a_number():
    from blynklog.remote_values import check

    assert check({"type": "int", "min": None, "max": None}, "1_000")[1] == "not a number: '1_000'"
    assert check({"type": "double", "min": None, "max": None}, "1_0.5")[1] == "not a number: '1_0.5'"


def test_a_settings_read_answered_by_a_captive_portal_is_a_failed_read_kept_for_stats():
    # a 200 whose body is no JSON: the report had a bare exception (worded by the runtime) and
    # stats() said nothing (remote_error None), so a later wake never learned the read failed
    import hostile
    from support import tmpdir

    hostile.require(False)
    name = "portal%d" % len(tmpdir("p"))
    hostile.set(name, "portal-get")
    cfg = {
        "server": hostile.url(),
        "api": "device",
        "token": name,
        "streams": {"x": {"pin": "V7"}},
        "store": {"path": tmpdir("portal") + "/bl"},
        "remote": {"sample_every_s": INTERVAL, "gain": "V21", "read_every_s": 0},
        "insecure": True,
    }
    log = blynklog.Logger(cfg)
    r = log.sync()
    log.close()
    assert r["remote_error"] == "settings: the answer is not JSON", r["remote_error"]
    log = blynklog.Logger(cfg)
    assert log.stats()["remote_error"] == "settings: the answer is not JSON"
    log.close()


def _list_answer_config():
    # a server answering every GET with the JSON [] (no object of the Device API's pins)
    import hostile
    from support import tmpdir

    hostile.require(False)
    name = "listget%d" % len(tmpdir("l"))
    hostile.set(name, "list-get")
    return {
        "server": hostile.url(),
        "api": "device",
        "token": name,
        "streams": {"x": {"pin": "V7"}},
        "store": {"path": tmpdir("listget") + "/bl"},
        "remote": {"sample_every_s": INTERVAL, "gain": "V21", "read_every_s": 3600},
        "insecure": True,
    }


def test_a_settings_answer_of_another_json_shape_is_a_failed_read():
    # a 200 with [] (or null, 123) for several pins was taken as "no values yet", no error
    log = blynklog.Logger(_list_answer_config())
    r = log.sync()
    log.close()
    assert r["remote_error"] == "settings: the answer is JSON of another shape", r["remote_error"]


def test_a_settings_answer_of_another_json_shape_is_read_again_at_the_next_sync():
    # it counted as a read done: not again for read_every_s (an hour here)
    cfg = _list_answer_config()
    log = blynklog.Logger(cfg)
    log.sync()
    r = log.sync()
    log.close()
    assert r["remote_error"] == "settings: the answer is JSON of another shape", r["remote_error"]


def test_a_settings_answer_nested_past_cpythons_recursion_limit_is_not_json_on_every_runtime():
    # 1024 bytes of "[": CPython's json raised RecursionError (remote_error named it, stats()
    # had None), MicroPython's said the answer is not JSON
    import hostile
    from support import tmpdir

    cfg = _list_answer_config()
    hostile.set(cfg["token"], "deep-get")
    cfg["store"] = {"path": tmpdir("deepget") + "/bl"}
    log = blynklog.Logger(cfg)
    r = log.sync()
    log.close()
    assert r["remote_error"] == "settings: the answer is not JSON", r["remote_error"]


def test_without_a_clock_the_settings_are_read_once_and_then_wait_for_the_time():
    # with the clock unset (here a server's Date before the clock's min_year), every sync read
    # the settings again whatever read_every_s said (3 syncs, 3 reads, a message each)
    emu.require()
    emu.reset()
    _settings_streams()
    emu.set_value(2, "V20", 120)
    cfg = _config(remote={"sample_every_s": INTERVAL, "read_every_s": 3600}, clock={"min_year": 2070})
    reports = [_sync(cfg, samples=0)[0] for _ in range(3)]
    assert reports[0]["remote"] == {"sample_every_s": 120}, reports[0]
    assert len(_requests("/external/api/get")) == 1
    log = blynklog.Logger(cfg)
    assert log.remote() == {"sample_every_s": 120}
    log.close()


def test_health_points_a_sync_added_survive_a_power_cut_after_it():
    # the sync flushes the store first, then adds its health points: nothing flushed them, and a
    # power cut (here: a second Logger taking the store over) lost them, counted in the day's
    # share, never sent
    emu.require()
    emu.reset()
    _health_streams()
    cfg = _health_config()
    log = blynklog.Logger(cfg)
    log.add("x", 1.0)
    log.flush()
    r = log.sync()
    after = blynklog.Logger(cfg)  # the first one ends as a power cut would end it
    pending = after.stats()["pending"]
    after.close()
    assert r["health"] == 2 and r["pending"] == 2 and pending == 2, (r, pending)


def test_whole_number_health_figures_go_to_int_streams_as_they_are():
    # through a float, 16777217 went as 16777216 on float32 boards and 2147483600 was left out
    emu.require()
    emu.reset()
    emu.add_stream(2, 32, "V32", "int")
    emu.add_stream(2, 33, "V33", "int")
    cfg = _config(
        streams={"x": {"pin": "V7"}, "w": {"pin": "V32", "type": "int"}, "b": {"pin": "V33", "type": "int"}},
        health={"wakes": "w", "battery_mv": "b"},
    )
    log = blynklog.Logger(cfg)
    log.health_hook = lambda: {"wakes": 16777217, "battery_mv": 2147483600}
    assert log.sync()["health"] == 2 and log.sync()["sent"] == 2
    log.close()
    assert [v for _, v in emu.points(2, 32)] == [16777217]
    assert [v for _, v in emu.points(2, 33)] == [2147483600]
