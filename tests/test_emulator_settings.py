# cpython-only: it tests the host-side Blynk emulator (tools/blynk_server.py) with http.client.
# The emulator's current values (get, getAll, update, the Platform API's datastream values), its
# events (logEvent and its limits) and the page's settings forms: one behaviour per test.
import base64
import json
import os
import sys
import time
import http.client
import urllib.parse

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tools"))


TOKEN = "test-device-token"
BASIC = "Basic " + base64.b64encode(b"test-client:test-secret").decode()
VALUES = "/api/v2/organization/device/datastreams"
DAY_MS = 86400000
NOON = 1_800_000_000_000 // DAY_MS * DAY_MS + DAY_MS // 2  # a fixed instant, 12:00 UTC


def conn(srv):
    return http.client.HTTPConnection("127.0.0.1", urllib.parse.urlsplit(srv.http_url).port, timeout=10)


def call(srv, method, path, body=None, headers=None, c=None):
    c = c or conn(srv)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    ctype = r.getheader("Content-Type", "")
    return r, (json.loads(data) if data and ctype.startswith("application/json") else data)


def get(srv, query, path="/external/api/get", c=None):
    return call(srv, "GET", path + "?" + query, c=c)


def message(body):
    return body["error"]["message"]


def batch(srv, values, pin="V1"):
    r, _ = call(
        srv,
        "POST",
        "/external/api/batch/update?token=%s&pin=%s" % (TOKEN, pin),
        json.dumps(values),
        {"Content-Type": "application/json"},
    )
    assert r.status == 200


def bearer(srv):
    r, body = call(srv, "POST", "/oauth2/token?grant_type=client_credentials", b"", {"Authorization": BASIC})
    return {"Authorization": "Bearer " + body["access_token"]}


def settings_streams(srv):
    srv.add_stream(1, 20, "V20", "int", min=1, max=3600, setting=True)
    srv.add_stream(1, 21, "V21", "double", min=-10.0, max=10.0, setting=True)
    srv.add_stream(1, 22, "V22", "string")


# --- get: formats


def test_get_one_double_answers_plain_text_with_five_decimals(srv):
    srv.set_value(1, 1, 100)
    r, body = get(srv, "token=%s&v1" % TOKEN)
    assert r.status == 200 and r.getheader("Content-Type").startswith("text/plain") and body == b"100.00000"


def test_get_one_int_answers_the_integer(srv):
    settings_streams(srv)
    srv.set_value(1, 20, 60)
    assert get(srv, "token=%s&v20" % TOKEN)[1] == b"60"


def test_get_one_string_answers_it_as_it_is(srv):
    settings_streams(srv)
    srv.set_value(1, 22, "hello world")
    assert get(srv, "token=%s&v22" % TOKEN)[1] == b"hello world"


def test_get_accepts_the_pin_in_upper_case(srv):
    srv.set_value(1, 1, 2.5)
    assert get(srv, "token=%s&V1" % TOKEN)[1] == b"2.50000"


def test_get_by_data_stream_id_answers_its_value(srv):
    srv.set_value(1, 2, 7)
    assert get(srv, "token=%s&dataStreamId=2" % TOKEN)[1] == b"7.00000"


def test_get_several_pins_answers_a_json_object_typed_by_stream(srv):
    settings_streams(srv)
    srv.set_value(1, 1, 1)
    srv.set_value(1, 20, 2)
    srv.set_value(1, 22, "text")
    r, body = get(srv, "token=%s&v1&v20&v22" % TOKEN)
    assert r.status == 200 and r.getheader("Content-Type") == "application/json"
    assert body == {"v1": 1.0, "v20": 2, "v22": "text"} and type(body["v1"]) is float


def test_get_several_pins_leaves_out_pins_without_a_value(srv):
    srv.set_value(1, 1, 1)
    assert get(srv, "token=%s&v1&v2" % TOKEN)[1] == {"v1": 1.0}


# --- get: errors


def test_get_with_a_wrong_token_is_invalid_token(srv):
    r, body = get(srv, "token=nope&v1")
    assert r.status == 400 and message(body) == "Invalid token."


def test_get_parameter_names_are_case_sensitive(srv):
    r, body = get(srv, "Token=%s&v1" % TOKEN)
    assert r.status == 400 and message(body) == "Invalid token."


def test_get_path_is_case_sensitive(srv):
    r, _ = get(srv, "token=%s&v1" % TOKEN, path="/external/api/Get")
    assert r.status == 404


def test_get_a_key_that_is_no_pin_is_wrong_pin_format(srv):
    r, body = get(srv, "token=%s&x1" % TOKEN)
    assert r.status == 400 and message(body) == "Wrong pin format."


def test_get_without_a_pin_is_wrong_pin_format(srv):
    r, body = get(srv, "token=%s" % TOKEN)
    assert r.status == 400 and message(body) == "Wrong pin format."


def test_get_a_pin_without_a_datastream_is_refused(srv):
    r, body = get(srv, "token=%s&v99" % TOKEN)
    assert r.status == 400 and message(body) == "No datastream setup for that pin."


def test_get_an_unknown_data_stream_id_is_refused(srv):
    r, body = get(srv, "token=%s&dataStreamId=99" % TOKEN)
    assert r.status == 400 and message(body).startswith("Requested dataStream doesn't exist in the product")


def test_get_one_pin_without_a_value_is_refused(srv):
    r, body = get(srv, "token=%s&v1" % TOKEN)
    assert r.status == 400 and message(body) == "The datastream has no value yet."


# --- getAll


def test_get_all_answers_every_pin_that_holds_a_value(srv):
    settings_streams(srv)
    srv.set_value(1, 1, 3)
    srv.set_value(1, 20, 30)
    r, body = get(srv, "token=%s" % TOKEN, path="/external/api/getAll")
    assert r.status == 200 and body == {"v1": 3.0, "v20": 30}


def test_get_all_with_no_values_is_an_empty_object(srv):
    assert get(srv, "token=%s" % TOKEN, path="/external/api/getAll")[1] == {}


def test_get_all_with_a_wrong_token_is_invalid_token(srv):
    r, body = get(srv, "token=nope", path="/external/api/getAll")
    assert r.status == 400 and message(body) == "Invalid token."


# --- what "the value" is


def test_value_is_the_newest_point_of_a_timestamped_batch(srv):
    t = int(time.time() * 1000)
    batch(srv, [[t, 5.0], [t - 1000, 4.0]])
    assert get(srv, "token=%s&v1" % TOKEN)[1] == b"5.00000"


def test_an_older_batch_does_not_replace_a_newer_value(srv):
    srv.set_value(1, 1, 9)
    batch(srv, [[int(time.time() * 1000) - 60000, 1.0]])
    assert get(srv, "token=%s&v1" % TOKEN)[1] == b"9.00000"


def test_an_import_sets_the_value_the_device_api_reads(srv):
    t = int(time.time() * 1000)
    h = dict(bearer(srv), **{"Content-Type": "application/json"})
    body = {"deviceId": 1, "dataStreamId": 1, "values": [{"value": 6.5, "ts": t}]}
    assert call(srv, "POST", "/api/v1/organization/device/import/batch", json.dumps(body), h)[0].status == 204
    assert get(srv, "token=%s&v1" % TOKEN)[1] == b"6.50000"


# --- update


def test_update_sets_the_value_get_answers(srv):
    r, body = get(srv, "token=%s&v1=100" % TOKEN, path="/external/api/update")
    assert r.status == 200 and body == b""
    assert get(srv, "token=%s&v1" % TOKEN)[1] == b"100.00000"


def test_update_clamps_to_the_streams_max(srv):
    settings_streams(srv)
    get(srv, "token=%s&v20=99999" % TOKEN, path="/external/api/update")
    assert srv.value(1, 20)[1] == 3600


def test_update_clamps_to_the_streams_min(srv):
    settings_streams(srv)
    get(srv, "token=%s&v21=-50.5" % TOKEN, path="/external/api/update")
    assert srv.value(1, 21)[1] == -10.0


def test_update_of_the_wrong_type_is_refused(srv):
    settings_streams(srv)
    r, body = get(srv, "token=%s&v20=1.5" % TOKEN, path="/external/api/update")
    assert r.status == 400 and message(body) == "Value doesn't match the Datastream data type."
    assert srv.value(1, 20) is None


def test_update_by_data_stream_id_and_value(srv):
    assert get(srv, "token=%s&dataStreamId=3&value=4.25" % TOKEN, path="/external/api/update")[0].status == 200
    assert srv.value(1, 3)[1] == 4.25


def test_update_by_pin_and_value(srv):
    assert get(srv, "token=%s&pin=v2&value=3" % TOKEN, path="/external/api/update")[0].status == 200
    assert srv.value(1, 2)[1] == 3.0


def test_settings_fault_hits_get_and_leaves_uploads_alone(srv):
    srv.inject("status", status=503, target="settings")
    batch(srv, [[int(time.time() * 1000), 1.0]])
    assert get(srv, "token=%s&v1" % TOKEN)[0].status == 503


def test_event_fault_hits_log_event(srv):
    srv.add_event_code(1, "e")
    srv.inject("status", status=500, target="event")
    assert log_event(srv, "token=%s&code=e" % TOKEN)[0].status == 500 and srv.event_log() == []


def test_update_a_pin_without_a_datastream_is_refused(srv):
    r, body = get(srv, "token=%s&v99=1" % TOKEN, path="/external/api/update")
    assert r.status == 400 and message(body) == "No datastream setup for that pin."


def test_device_api_requests_count_as_the_devices_messages(srv):
    get(srv, "token=%s&v1=1" % TOKEN, path="/external/api/update")
    get(srv, "token=%s&v1" % TOKEN)
    get(srv, "token=test-device-token-2&v1")
    assert srv.messages == {1: 2, 2: 1} and srv.stats()["messages"] == 3


# --- Platform API: a device's datastream values


def test_platform_values_answer_the_documented_fields(srv):
    srv.set_value(1, 2, 8)
    ts = srv.value(1, 2)[0]
    r, body = call(srv, "GET", VALUES + "?deviceId=1&dataStreamIds=2", headers=bearer(srv))
    assert r.status == 200 and body == [{"dataStreamId": 2, "pin": "V2", "value": 8.0, "updatedAt": ts}]


def test_platform_values_without_ids_list_every_stream_holding_a_value(srv):
    srv.set_value(1, 3, 1)
    srv.set_value(1, 1, 2)
    r, body = call(srv, "GET", VALUES + "?deviceId=1", headers=bearer(srv))
    assert [e["dataStreamId"] for e in body] == [1, 3]


def test_platform_values_need_a_bearer_token(srv):
    assert call(srv, "GET", VALUES + "?deviceId=1")[0].status == 401


def test_platform_values_of_an_unknown_device_are_404(srv):
    r, body = call(srv, "GET", VALUES + "?deviceId=9", headers=bearer(srv))
    assert r.status == 404 and message(body) == (
        "Device with identifier 9 is not found or belong to another organization."
    )


def test_platform_values_of_an_unknown_stream_are_404(srv):
    r, body = call(srv, "GET", VALUES + "?deviceId=1&dataStreamIds=1,99", headers=bearer(srv))
    assert r.status == 404 and message(body) == "Data stream with identifier 99 is not found!"


def test_platform_calls_share_the_organizations_rate_limit(srv):
    srv.configure(platform_requests_per_min=2, clock_fixed_ms=NOON)
    h = bearer(srv)
    h2 = dict(h, **{"Content-Type": "application/json"})
    body = json.dumps({"deviceId": 1, "dataStreamId": 1, "values": [{"value": 1, "ts": NOON - 1000}]})
    assert call(srv, "POST", "/api/v1/organization/device/import/batch", body, h2)[0].status == 204
    assert call(srv, "GET", VALUES + "?deviceId=1", headers=h)[0].status == 200
    r, _ = call(srv, "GET", VALUES + "?deviceId=1", headers=h)
    assert r.status == 429 and r.getheader("Retry-After") == "60"


def test_rate_limit_starts_afresh_the_next_minute(srv):
    srv.configure(platform_requests_per_min=1, clock_fixed_ms=NOON)
    h = bearer(srv)
    assert call(srv, "GET", VALUES + "?deviceId=1", headers=h)[0].status == 200
    srv.configure(clock_fixed_ms=NOON + 60000)
    assert call(srv, "GET", VALUES + "?deviceId=1", headers=h)[0].status == 200


# --- events


def log_event(srv, query, c=None):
    return get(srv, query, path="/external/api/logEvent", c=c)


def test_log_event_answers_200_with_an_empty_body_and_records_it(srv):
    srv.add_event_code(1, "low_battery")
    srv.configure(clock_fixed_ms=NOON)
    r, body = log_event(srv, "token=%s&code=low_battery&description=3.1%%20V" % TOKEN)
    assert r.status == 200 and body == b""
    assert srv.event_log() == [{"device": 1, "ts": NOON, "code": "low_battery", "description": "3.1 V"}]


def test_log_event_without_a_code_is_refused(srv):
    r, body = log_event(srv, "token=%s&description=x" % TOKEN)
    assert r.status == 400 and message(body) == "Event code is not provided."


def test_log_event_with_an_undeclared_code_is_refused(srv):
    r, body = log_event(srv, "token=%s&code=nope" % TOKEN)
    assert r.status == 400 and message(body) == "Can't find Event with this code in Product template"


def test_log_event_with_a_wrong_token_is_invalid_token(srv):
    r, body = log_event(srv, "token=nope&code=x")
    assert r.status == 400 and message(body) == "Invalid token."


def test_same_event_within_a_second_is_refused(srv):
    srv.add_event_code(1, "e")
    srv.configure(clock_fixed_ms=NOON)
    assert log_event(srv, "token=%s&code=e" % TOKEN)[0].status == 200
    srv.configure(clock_fixed_ms=NOON + 999)
    r, body = log_event(srv, "token=%s&code=e" % TOKEN)
    assert r.status == 400 and message(body) == "Events of the same type are too frequent."


def test_same_event_a_second_later_is_accepted(srv):
    srv.add_event_code(1, "e")
    srv.configure(clock_fixed_ms=NOON)
    log_event(srv, "token=%s&code=e" % TOKEN)
    srv.configure(clock_fixed_ms=NOON + 1000)
    assert log_event(srv, "token=%s&code=e" % TOKEN)[0].status == 200


def test_another_event_type_within_the_second_is_accepted(srv):
    srv.add_event_code(1, "a")
    srv.add_event_code(1, "b")
    srv.configure(clock_fixed_ms=NOON)
    log_event(srv, "token=%s&code=a" % TOKEN)
    assert log_event(srv, "token=%s&code=b" % TOKEN)[0].status == 200


def test_the_101st_event_of_a_utc_day_is_refused(srv):
    srv.add_event_code(1, "e")
    c = conn(srv)
    for i in range(100):
        srv.configure(clock_fixed_ms=NOON + i * 1000)
        assert log_event(srv, "token=%s&code=e" % TOKEN, c=c)[0].status == 200
    srv.configure(clock_fixed_ms=NOON + 100 * 1000)
    r, body = log_event(srv, "token=%s&code=e" % TOKEN, c=c)
    assert r.status == 400 and message(body) == "Daily events limit reached."


def test_daily_event_limit_starts_afresh_on_the_next_utc_day(srv):
    srv.add_event_code(1, "e")
    srv.configure(events_per_day=1, clock_fixed_ms=NOON)
    log_event(srv, "token=%s&code=e" % TOKEN)
    srv.configure(clock_fixed_ms=NOON + DAY_MS)
    assert log_event(srv, "token=%s&code=e" % TOKEN)[0].status == 200


def test_event_codes_are_declared_per_device(srv):
    srv.add_event_code(2, "e")
    assert log_event(srv, "token=%s&code=e" % TOKEN)[0].status == 400


# --- the /_emu/ controls


def test_emu_value_control_writes_as_update_would(srv):
    settings_streams(srv)
    r, body = call(srv, "POST", "/_emu/value", json.dumps({"device": 1, "pin": "V20", "value": 0}))
    assert r.status == 200 and body["value"] == 1 and srv.value(1, 20)[1] == 1


def test_emu_values_control_lists_the_current_values(srv):
    srv.set_value(1, 2, 4)
    r, body = call(srv, "GET", "/_emu/values?device=1")
    assert body == {"values": [{"stream": 2, "pin": "V2", "ts": srv.value(1, 2)[0], "value": 4.0}]}


def test_emu_event_code_control_declares_a_code(srv):
    assert call(srv, "POST", "/_emu/event_code", json.dumps({"device": 1, "code": "boot"}))[0].status == 200
    assert log_event(srv, "token=%s&code=boot" % TOKEN)[0].status == 200


def test_emu_events_control_lists_the_event_log(srv):
    srv.add_event_code(1, "boot")
    log_event(srv, "token=%s&code=boot&description=hi" % TOKEN)
    r, body = call(srv, "GET", "/_emu/events?device=1")
    assert [(e["code"], e["description"]) for e in body["events"]] == [("boot", "hi")]


def test_emu_stream_control_takes_min_max_and_setting(srv):
    body = {"device": 1, "stream": 20, "pin": "V20", "type": "int", "min": 5, "max": 9, "setting": True}
    assert call(srv, "POST", "/_emu/stream", json.dumps(body))[0].status == 200
    assert srv.stream_limits[(1, 20)] == (5, 9) and (1, 20) in srv.settings


def test_stream_min_of_the_wrong_type_is_refused(srv):
    with pytest.raises(ValueError):
        srv.add_stream(1, 20, "V20", "int", min=0.5)


def test_reset_forgets_values_events_and_settings(srv):
    settings_streams(srv)
    srv.add_event_code(1, "e")
    srv.set_value(1, 20, 5)
    log_event(srv, "token=%s&code=e" % TOKEN)
    srv.reset()
    assert srv.values == {} and srv.events == [] and srv.settings == set() and srv.event_codes == {}


# --- the page


def test_page_shows_each_setting_with_a_form_posting_to_the_emulator(srv):
    settings_streams(srv)
    srv.set_value(1, 20, 60)
    page = get(srv, "", path="/")[1].decode()
    assert '<form method="post" action="/_emu/set">' in page
    assert '<input type="hidden" name="stream" value="20">' in page and 'name="value" value="60"' in page
    assert 'name="stream" value="22"' not in page  # not a setting


def test_page_form_sets_the_value_and_sends_the_browser_back(srv):
    settings_streams(srv)
    r, _ = call(
        srv, "POST", "/_emu/set", "device=1&stream=20&value=120", {"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert r.status == 303 and r.getheader("Location") == "/"
    assert get(srv, "token=%s&v20" % TOKEN)[1] == b"120"


def test_page_form_clamps_like_update(srv):
    settings_streams(srv)
    call(
        srv, "POST", "/_emu/set", "device=1&stream=21&value=11.5", {"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert srv.value(1, 21)[1] == 10.0


def test_page_form_with_a_value_of_the_wrong_type_is_400(srv):
    settings_streams(srv)
    r, _ = call(
        srv, "POST", "/_emu/set", "device=1&stream=20&value=abc", {"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert r.status == 400 and srv.value(1, 20) is None


def test_page_lists_events_with_time_code_and_description(srv):
    srv.add_event_code(1, "low_battery")
    srv.configure(clock_fixed_ms=NOON)
    log_event(srv, "token=%s&code=low_battery&description=%%3Cb%%3E3.1%%20V" % TOKEN)
    page = get(srv, "", path="/")[1].decode()
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(NOON / 1000))
    assert "<td>%s</td><td>1</td><td>low_battery</td><td>&lt;b&gt;3.1 V</td>" % stamp in page


# --- tools/emulator.py: a configuration's "remote" section


def provision(srv, remote, api="device"):
    import emulator

    cfg = {"api": api, "streams": {"t": {"pin": "V1", "id": 1}}, "remote": remote}
    if api == "platform":
        cfg.update(client_id="c", client_secret="s", device_id=1)
    srv.ca_der_path = srv.ca_der_path or "ca.der"  # a plain-HTTP server has no CA file to point at
    return emulator.provision(srv, cfg)


def test_remote_pin_becomes_a_double_setting(srv):
    provision(srv, {"sample_every_s": "V20"})
    assert srv.streams[1][20] == ("V20", "double") and (1, 20) in srv.settings


def test_remote_object_gives_type_min_and_max(srv):
    provision(srv, {"sample_every_s": {"pin": "V20", "type": "int", "min": 10, "max": 3600}})
    assert srv.streams[1][20] == ("V20", "int") and srv.stream_limits[(1, 20)] == (10, 3600)


def test_remote_setting_is_named_after_its_key(srv):
    provision(srv, {"sample_every_s": "V20"})
    assert srv.stream_names[(1, 20)] == "sample_every_s"


def test_remote_entries_without_a_pin_are_left_alone(srv):
    provision(srv, {"poll_every_s": 600, "sample_every_s": "V20"})
    assert sorted(srv.streams[1]) == [1, 20]


def test_remote_string_that_is_no_pin_is_left_alone(srv):
    provision(srv, {"mode": "fast", "sample_every_s": "V20"})
    assert sorted(srv.streams[1]) == [1, 20]


def test_remote_pin_out_of_range_is_a_setup_error(srv):
    import emulator

    with pytest.raises(emulator.SetupError, match="remote.x.pin"):
        provision(srv, {"x": "V300"})


def test_config_without_remote_creates_no_setting(srv):
    import emulator

    srv.ca_der_path = srv.ca_der_path or "ca.der"
    emulator.provision(srv, {"api": "device", "streams": {"t": {"pin": "V1"}}})
    assert srv.settings == set()


def test_remote_pin_taken_by_a_stream_is_a_setup_error(srv):
    import emulator

    with pytest.raises(emulator.SetupError, match="remote.x"):
        provision(srv, {"x": "V1"})


def test_remote_setting_of_type_string_is_a_setup_error(srv):
    import emulator

    with pytest.raises(emulator.SetupError, match="remote.x.type"):
        provision(srv, {"x": {"pin": "V20", "type": "string"}})


def test_remote_setting_takes_its_platform_id(srv):
    provision(srv, {"x": {"pin": "V20", "id": 7}}, api="platform")
    assert srv.streams[1][7] == ("V20", "double") and (1, 7) in srv.settings


def test_remote_setting_type_is_read_in_any_case(srv):
    provision(srv, {"x": {"pin": "V20", "type": "Int"}})
    assert srv.streams[1][20] == ("V20", "int")


def test_remote_setting_type_null_is_a_double(srv):
    provision(srv, {"x": {"pin": "V20", "type": None}})
    assert srv.streams[1][20] == ("V20", "double")


# --- tools/emulator.py: a configuration's streams' types, read as blynklog.Logger() reads them


def provision_stream(srv, stream):
    import emulator

    srv.ca_der_path = srv.ca_der_path or "ca.der"
    return emulator.provision(srv, {"api": "device", "streams": {"t": stream}})


def test_stream_type_is_read_in_any_case(srv):
    provision_stream(srv, {"pin": "V5", "type": "Double"})
    assert srv.streams[1][5] == ("V5", "double")


def test_stream_type_null_is_a_double(srv):
    provision_stream(srv, {"pin": "V5", "type": None})
    assert srv.streams[1][5] == ("V5", "double")


def test_stream_type_that_is_no_name_is_a_setup_error(srv):
    import emulator

    with pytest.raises(emulator.SetupError, match="streams.t.type"):
        provision_stream(srv, {"pin": "V5", "type": 3})


def test_a_requests_transport_configuration_gets_the_plain_http_listener_it_can_use(srv, tmp_path):
    # the ready configuration named the https listener and its CA, which Logger() refuses for
    # the requests transport (it cannot verify a certificate)
    import emulator

    cfg = {
        "api": "device",
        "token": "tok-1",
        "server": "http://127.0.0.1:1",
        "upload": {"transport": "requests"},
        "streams": {"t": {"pin": "V5"}},
        "store": {"path": str(tmp_path / "data")},
    }
    out = emulator.provision(srv, cfg)
    assert out["server"] == srv.http_url and out["insecure"] is True and "ca" not in out, out
    sys.path.insert(0, os.path.join(os.path.dirname(HERE), "lib"))
    import blynklog

    blynklog.Logger(out).close()


def test_emulator_cli_declares_the_event_codes_it_is_given(tmp_path):
    import signal
    import subprocess

    cmd = [
        sys.executable,
        os.path.join(os.path.dirname(HERE), "tools", "emulator.py"),
        "--port",
        "0",
        "--out",
        str(tmp_path),
        "--event",
        "boot",
        "--event",
        "low_battery",
    ]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        lines = []
        for _ in range(100):  # bounded: the description is about 15 lines
            line = p.stdout.readline()
            if not line or line.startswith("Ctrl-C"):
                break
            lines.append(line)
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(30)
    assert "  event codes: boot, low_battery\n" in lines


def _emulator_cli(*args):
    import subprocess

    tool = os.path.join(os.path.dirname(HERE), "tools", "emulator.py")
    return subprocess.run([sys.executable, tool, *args], capture_output=True, text=True, timeout=30)


def test_emulator_cli_refuses_a_port_past_65535_in_one_line(tmp_path):
    r = _emulator_cli("--port", "99999", "--out", str(tmp_path))
    assert r.returncode != 0 and "Traceback" not in r.stderr and "--port" in r.stderr


def test_emulator_cli_refuses_a_negative_port_in_one_line(tmp_path):
    r = _emulator_cli("--port", "-1", "--out", str(tmp_path))
    assert r.returncode != 0 and "Traceback" not in r.stderr and "--port" in r.stderr


def test_emulator_cli_names_an_out_folder_it_cannot_make(tmp_path):
    (tmp_path / "file").write_text("")
    r = _emulator_cli("--port", "0", "--out", str(tmp_path / "file" / "out"))
    assert r.returncode != 0 and r.stderr.startswith("emulator: --out ") and "Traceback" not in r.stderr
