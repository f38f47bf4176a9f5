# Configuration: defaults, relative paths, and errors that name the key at fault.
import json

from blynklog import config
from blynklog.config import ConfigError
from support import raises, tmpdir


def device_cfg(**over):
    cfg = {"api": "device", "token": "tok-123", "insecure": True, "streams": {"t": {"pin": "V1"}}}
    cfg.update(over)
    return cfg


def platform_cfg(**over):
    cfg = {
        "api": "platform",
        "client_id": "c",
        "client_secret": "s",
        "device_id": 1,
        "insecure": True,
        "streams": {"t": {"id": 1}},
    }
    cfg.update(over)
    return cfg


# a certificate's outer shape: a SEQUENCE of 256 bytes whose first element is a SEQUENCE
DER = b"\x30\x82\x01\x00\x30\x81\xfd" + b"\x00" * 253


def error_of(cfg):
    return str(raises(ConfigError, config.load, cfg))


def test_defaults_are_filled_in():
    c = config.load(device_cfg())
    assert c["server"] == "https://blynk.cloud"
    assert c["store"]["capacity"] == 262144 and c["store"]["on_full"] == "drop_oldest"
    assert c["limits"] == {
        "points_per_day": 10000,
        "max_age_days": 30,
        "points_per_request": 1000,
        "max_request_bytes": 1048576,
        "stale_margin_s": 3600,
        "future_tolerance_s": 600,
        "requests_per_s": 50,
    }
    assert c["streams"]["t"] == {"id": None, "pin": "V1", "type": "double", "decimals": None}


def test_a_raw_region_not_on_erase_block_bounds_names_its_key():
    for key, v in (("start", 606209), ("length", 262144 + 100)):
        store = {"backend": "raw", "start": 606208, "length": 262144}
        store[key] = v
        assert error_of(device_cfg(store=store)).startswith("store.%s:" % key), key


def test_a_raw_region_given_to_a_littlefs_store_names_its_key():
    # "backend": "raw" forgotten: the region would be left unused without a word
    for key, v in (("partition", "blynklog"), ("start", 606208), ("length", 262144)):
        assert error_of(device_cfg(store={key: v})).startswith("store.%s:" % key), key
    assert config.load(device_cfg(store={"partition": None, "start": None, "length": None}))  # null: none


def test_the_servers_scheme_is_read_in_any_case():
    assert config.load(device_cfg(server="HTTPS://fra1.blynk.cloud"))["server"] == "https://fra1.blynk.cloud"


def test_a_bare_host_means_https_on_443():
    assert config.load(device_cfg(server="fra1.blynk.cloud"))["server"] == "https://fra1.blynk.cloud"


def test_a_port_is_kept_in_the_server_url():
    assert config.load(device_cfg(server="https://127.0.0.1:8443"))["server"] == "https://127.0.0.1:8443"


def test_config_error_is_a_value_error():
    assert issubclass(ConfigError, ValueError)


def test_bad_server_scheme_names_server():
    assert error_of(device_cfg(server="ftp://x")).startswith("server:")


def test_server_with_a_path_names_server():
    assert error_of(device_cfg(server="https://x/api")).startswith("server:")


def test_bad_port_names_server():
    assert error_of(device_cfg(server="https://x:99999")).startswith("server:")


def test_unknown_api_names_api():
    assert error_of(device_cfg(api="mqtt")).startswith("api:")


def test_api_is_inferred_from_the_only_credentials_given():
    cfg = device_cfg()
    del cfg["api"]
    assert config.load(cfg)["api"] == "device"


def test_no_api_and_no_credentials_names_token():
    cfg = device_cfg()
    del cfg["api"], cfg["token"]
    e = error_of(cfg)
    assert e.startswith("token:") and "client_id" in e


def test_no_api_with_both_credentials_names_api():
    cfg = device_cfg(client_id="c", client_secret="s", device_id=1)
    del cfg["api"]
    assert error_of(cfg).startswith("api:")


def test_device_api_without_token_names_token():
    cfg = device_cfg()
    del cfg["token"]
    assert error_of(cfg).startswith("token:")


def test_platform_api_without_secret_names_client_secret():
    cfg = platform_cfg()
    del cfg["client_secret"]
    assert error_of(cfg).startswith("client_secret:")


def test_platform_api_without_device_id_names_device_id():
    cfg = platform_cfg()
    del cfg["device_id"]
    assert error_of(cfg).startswith("device_id:")


def test_device_id_of_the_wrong_type_names_device_id():
    assert error_of(platform_cfg(device_id="1")).startswith("device_id:")


def test_platform_stream_without_id_names_the_stream_id():
    assert error_of(platform_cfg(streams={"t": {"pin": "V1"}})).startswith("streams.t.id:")


def test_bad_pin_names_the_stream_pin():
    assert error_of(device_cfg(streams={"t": {"pin": "A0"}})).startswith("streams.t.pin:")


def test_pin_out_of_range_names_the_stream_pin():
    assert error_of(device_cfg(streams={"t": {"pin": "V256"}})).startswith("streams.t.pin:")


def test_unknown_stream_type_names_the_stream_type():
    assert error_of(device_cfg(streams={"t": {"pin": "V1", "type": "matrix"}})).startswith("streams.t.type:")


def test_decimals_out_of_range_names_them():
    assert error_of(device_cfg(streams={"t": {"pin": "V1", "decimals": 9}})).startswith("streams.t.decimals:")


def test_unknown_key_in_a_stream_is_named():
    assert error_of(device_cfg(streams={"t": {"pin": "V1", "colour": 3}})).startswith("streams.t.colour:")


def test_no_streams_names_streams():
    assert error_of(device_cfg(streams={})).startswith("streams:")


def test_capacity_too_small_names_store_capacity():
    assert error_of(device_cfg(store={"capacity": 100})).startswith("store.capacity:")


def test_bad_full_policy_names_store_on_full():
    assert error_of(device_cfg(store={"on_full": "panic"})).startswith("store.on_full:")


def test_unknown_store_key_is_named():
    assert error_of(device_cfg(store={"capacty": 65536})).startswith("store.capacty:")


def test_points_per_request_over_blynks_maximum_names_it():
    assert error_of(device_cfg(limits={"points_per_request": 20000})).startswith("limits.points_per_request:")


def test_limits_of_the_wrong_type_name_limits():
    assert error_of(device_cfg(limits=[1, 2])).startswith("limits:")


def test_bad_backlog_policy_names_it():
    assert error_of(device_cfg(upload={"backlog_policy": "random"})).startswith("upload.backlog_policy:")


def test_insecure_must_be_a_bool():
    assert error_of(device_cfg(insecure="yes")).startswith("insecure:")


def test_missing_ca_file_names_ca():
    assert error_of(device_cfg(insecure=False, ca="/nonexistent/ca.der")).startswith("ca:")


def test_a_pem_file_given_as_ca_names_ca():
    d = tmpdir()
    with open(d + "/ca.pem", "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\n" + "A" * 200 + "\n-----END CERTIFICATE-----\n")
    assert error_of(device_cfg(ca=d + "/ca.pem")).startswith("ca:")


def test_https_without_ca_or_insecure_loads_but_may_not_upload():
    c = config.load(device_cfg(insecure=False))
    assert "ca" in config.unverified_reason(c)


def test_insecure_true_may_upload_without_ca():
    assert config.unverified_reason(config.load(device_cfg())) is None


def test_relative_paths_are_taken_from_the_config_files_folder():
    d = tmpdir()
    with open(d + "/ca.der", "wb") as f:
        f.write(DER)
    cfg = device_cfg(insecure=False, ca="ca.der", store={"path": "data"})
    with open(d + "/config.json", "w") as f:
        json.dump(cfg, f)
    c = config.load(d + "/config.json")
    assert c["ca"] == [d + "/ca.der"]
    assert c["store"]["path"] == d + "/data"


def test_a_config_file_that_is_not_json_names_config():
    d = tmpdir()
    with open(d + "/config.json", "w") as f:
        f.write("{nope")
    assert error_of(d + "/config.json").startswith("config:")


def _write(text):
    d = tmpdir()
    with open(d + "/config.json", "wb") as f:
        f.write(text.encode())
    return d + "/config.json"


GOOD_JSON = '{"api": "device", "token": "tok", "insecure": true, "streams": {"t": {"pin": "V1", "decimals": 2}}}'


def test_json_that_micropython_would_read_but_json_has_not_names_config_on_every_runtime():
    # MicroPython's json.loads takes each of these (and CPython's NaN and half surrogate pairs):
    # a file means one thing on every runtime, and a typo is pointed at, not guessed around
    bad = [
        ("a comma too many", GOOD_JSON[:-1] + ",}"),
        ("a comma left out", GOOD_JSON.replace('"device",', '"device"')),
        ("a leading zero", GOOD_JSON.replace('"decimals": 2', '"decimals": 02')),
        ("an escape JSON lacks", GOOD_JSON.replace('"tok"', '"to\\k"')),
        ("text after the value", GOOD_JSON + "\x00\x00 x"),
        ("NaN", GOOD_JSON.replace('"decimals": 2', '"decimals": NaN')),
        ("half a surrogate pair", GOOD_JSON.replace('"t":', '"t\\ud800":')),
        ("a surrogate pair", GOOD_JSON.replace('"t":', '"t\\ud83d\\ude00":')),
        ("a control character", GOOD_JSON.replace('"tok"', '"t\tok"')),
        ("a control byte between tokens", GOOD_JSON.replace('"device",', '"device",\x01')),
        ("a number without digits", GOOD_JSON.replace('"decimals": 2', '"decimals": 2.')),
        ("single quotes", GOOD_JSON.replace('"tok"', "'tok'")),
    ]
    for what, text in bad:
        e = error_of(_write(text))
        assert e.startswith("config:") and "not valid JSON" in e, (what, e)


def test_a_config_file_with_a_byte_order_mark_is_refused_saying_so_on_every_runtime():
    # Windows editors save one; JSON has none, and the runtimes' readers disagreed about it
    e = error_of(_write("\ufeff" + GOOD_JSON))
    assert e.startswith("config:") and "byte order mark" in e, e


def test_json_nested_deeper_than_64_levels_is_refused_on_every_runtime():
    # CPython's reader gave up at about 1,000 levels, the unix ports' took 5,000, a board's
    # stops at its C stack: one limit for all
    # (the file's object is the first level: 63 arrays in it are 64 levels); an empty innermost
    # array is a level as a full one is
    deep = GOOD_JSON[:-1] + ', "_note": %s}'
    assert config.load(_write(deep % ("[" * 63 + "]" * 63)))
    assert config.load(_write(deep % ("[" * 63 + "1" + "]" * 63)))
    for inner in ("", "1"):
        e = error_of(_write(deep % ("[" * 64 + inner + "]" * 64)))
        assert e.startswith("config:") and "nested more than 64 deep" in e, e


def test_a_json_error_says_where_it_is():
    e = error_of(_write('{"api": "device",\n "token": "tok" "insecure": true}'))
    assert "line 2, byte 17: ',' or '}' expected" in e, e


def test_json_that_is_json_is_read_as_json_says():
    # escapes, a character beyond 16 bits as itself, numbers of every form, nesting, empty containers, whitespace
    text = (
        ' \r\n{"api": "device", "token": "tok", "insecure": true,\t"_note": [-0, 1.5e3, 2E-2, 0.25, [], {}, null],'
        '"streams": {"a\\"\\\\\\/\\t\\u00e9\U0001f600z": {"pin": "V1", "decimals": 0}}} '
    )
    c = config.load(_write(text))
    assert list(c["streams"]) == ['a"\\/\t\u00e9\U0001f600z'], list(c["streams"])


def test_a_missing_config_file_names_config():
    assert error_of("/nonexistent/config.json").startswith("config:")


def test_the_callers_dict_is_not_changed():
    cfg = device_cfg()
    before = json.dumps(cfg)
    config.load(cfg)
    assert json.dumps(cfg) == before


def test_unknown_top_level_keys_are_left_for_the_firmware():
    c = config.load(device_cfg(wifi={"ssid": "x"}, sample_every_s=60))
    assert c["api"] == "device"


def test_two_streams_on_one_pin_name_the_second():
    e = error_of(device_cfg(streams={"a": {"pin": "V1"}, "b": {"pin": "V1"}}))
    assert e.startswith("streams.a.pin:") or e.startswith("streams.b.pin:")


def test_two_streams_on_one_datastream_id_name_the_second():
    e = error_of(platform_cfg(streams={"a": {"id": 4}, "b": {"id": 4}}))
    assert e.startswith("streams.a.id:") or e.startswith("streams.b.id:")


def test_a_host_with_an_empty_label_names_server():
    for url in ("https://a..invalid", "https://.invalid", "https://a.invalid."):
        assert error_of(device_cfg(server=url)).startswith("server:"), url


def test_a_host_label_with_a_hyphen_at_either_end_names_server():
    for url in ("https://-a.invalid", "https://a-.invalid", "https://a.-b"):
        assert error_of(device_cfg(server=url)).startswith("server:"), url


def test_a_host_with_a_letter_outside_ascii_names_server_on_every_runtime():
    assert error_of(device_cfg(server="https://bl\u00fcnk.cloud")).startswith("server:")


def test_a_host_with_an_underscore_names_server():
    assert error_of(device_cfg(server="https://my_host.invalid")).startswith("server:")


def test_a_host_label_of_64_characters_names_server():
    assert error_of(device_cfg(server="https://" + "a" * 64 + ".invalid")).startswith("server:")


def test_a_host_of_253_characters_in_63_character_labels_is_accepted():
    host = ".".join(("a" * 63, "b" * 63, "c" * 63, "d" * 61))
    assert config.load(device_cfg(server="https://" + host))["server"] == "https://" + host


def test_a_host_of_254_characters_names_server():
    host = ".".join(("a" * 63, "b" * 63, "c" * 63, "d" * 62))
    assert error_of(device_cfg(server="https://" + host)).startswith("server:")


def test_digits_and_dots_that_are_no_ipv4_address_name_server():
    for url in ("https://1.2.3.4.5", "https://127.0.0.1.", "https://256.1.1.1", "https://1.2.3", "https://1..2.3"):
        assert error_of(device_cfg(server=url)).startswith("server:"), url


def test_the_local_emulators_servers_are_accepted():
    for url in ("https://127.0.0.1:8443", "http://127.0.0.1:8080", "https://localhost:9443", "http://localhost"):
        assert config.load(device_cfg(server=url))["server"] == url


def test_a_port_of_anything_but_ascii_digits_names_server_on_every_runtime():
    # int() takes "+80", "8_0" and other scripts' digits on CPython, not on MicroPython
    for url in ("https://x:+80", "https://x:8_0", "https://x: 80", "https://x:\u0668\u0660"):
        assert error_of(device_cfg(server=url)).startswith("server:"), url


def test_a_pin_of_anything_but_ascii_digits_names_the_stream_pin_on_every_runtime():
    # str.isdigit() takes other scripts' digits and superscripts on CPython, not on MicroPython
    for pin in ("V\u0663", "V\u00b2", "V\uff11"):
        assert error_of(device_cfg(streams={"t": {"pin": pin}})).startswith("streams.t.pin:"), pin


def test_a_settings_pin_of_anything_but_ascii_digits_names_it_on_every_runtime():
    for pin in ("V\u0663", "V\u00b2"):
        assert error_of(device_cfg(remote={"s": pin})).startswith("remote.s.pin:"), pin


def test_a_token_with_a_letter_or_digit_beyond_ascii_names_token_on_every_runtime():
    for token in ("ab\u00e9c", "ab\u0663c"):
        assert error_of(device_cfg(token=token)).startswith("token:"), token


def test_an_event_code_with_a_letter_beyond_ascii_names_it_on_every_runtime():
    assert error_of(device_cfg(events={"clock_unset": "caf\u00e9"})).startswith("events.clock_unset:")


def test_a_health_metric_that_is_no_string_names_it():
    # a dict configuration's keys need not be strings (a JSON file's are)
    assert error_of(device_cfg(health={5: "t"})).startswith("health.5:")


def test_an_event_condition_that_is_no_string_names_it():
    assert error_of(device_cfg(events={5: "code"})).startswith("events.5:")


def test_the_requests_transport_to_an_https_server_with_a_ca_names_upload_transport():
    d = tmpdir()
    with open(d + "/ca.der", "wb") as f:
        f.write(DER)
    e = error_of(device_cfg(insecure=False, ca=d + "/ca.der", upload={"transport": "requests"}))
    assert e.startswith("upload.transport:") and "ca" in e and "insecure" in e, e


def test_the_requests_transport_to_an_https_server_without_insecure_names_upload_transport():
    e = error_of(device_cfg(insecure=False, upload={"transport": "requests"}))
    assert e.startswith("upload.transport:"), e


def test_the_requests_transport_is_accepted_over_http_or_with_insecure():
    assert config.load(device_cfg(upload={"transport": "requests"}))["upload"]["transport"] == "requests"
    c = config.load(device_cfg(insecure=False, server="http://127.0.0.1:8080", upload={"transport": "requests"}))
    assert c["upload"]["transport"] == "requests"


def _ca_error(data):
    d = tmpdir()
    with open(d + "/ca.der", "wb") as f:
        f.write(data)
    return error_of(device_cfg(insecure=False, ca=d + "/ca.der"))


def test_a_truncated_der_ca_names_ca():
    e = _ca_error(DER[:200])
    assert e.startswith("ca:") and "truncated" in e, e


def test_a_der_ca_with_bytes_after_its_end_names_ca():
    assert _ca_error(DER + b"\x00").startswith("ca:")


def test_a_der_ca_that_does_not_start_with_a_sequence_inside_names_ca():
    assert _ca_error(DER[:4] + b"\x02" + DER[5:]).startswith("ca:")


def test_a_der_ca_of_the_right_shape_is_accepted():
    d = tmpdir()
    with open(d + "/ca.der", "wb") as f:
        f.write(DER)
    assert config.load(device_cfg(insecure=False, ca=d + "/ca.der"))["ca"] == [d + "/ca.der"]


def test_a_min_year_after_the_clocks_max_year_names_its_key():
    # the clock counts as set from min_year to its max_year (2070): a min_year after it would
    # refuse every time (NTP's, the server's Date) and no sample would ever be uploaded
    assert config.load(device_cfg(clock={"min_year": 2070}))["clock"]["min_year"] == 2070
    for year in (2071, 2100):
        e = error_of(device_cfg(clock={"min_year": year}))
        assert e.startswith("clock.min_year: ") and "2070" in e, e


def test_an_ntp_host_that_is_no_host_name_names_its_key():
    # ntptime takes a host name (or an IPv4 address): a URL, a port or a space would fail every
    # NTP query in silence
    for host in ("pool.ntp.org", "time.example.org", "127.0.0.1"):
        assert config.load(device_cfg(clock={"ntp_host": host}))["clock"]["ntp_host"] == host
    for host in ("https://pool.ntp.org", "pool.ntp.org:123", "pool ntp org", "999.1.1.1", "-pool.ntp.org"):
        e = error_of(device_cfg(clock={"ntp_host": host}))
        assert e.startswith("clock.ntp_host: bad "), (host, e)


def test_the_health_points_a_day_are_the_same_on_every_port():
    # health.share x points_per_day in the port's floats: 0.57 x 100 is 56.99999999999999 in a
    # double and 57.0 in a float32; every port takes 57 (within a millionth of a whole number)
    for share, per_day, want in ((0.57, 100, 57), (0.29, 100, 29), (0.05, 10000, 500), (0.5, 3, 1), (0.33, 10, 3)):
        cfg = device_cfg(
            streams={"p": {"pin": "V1", "type": "int"}},
            limits={"points_per_day": per_day},
            health={"pending": "p", "share": share},
        )
        assert config.load(cfg)["health"]["per_day"] == want, (share, per_day)


def test_two_streams_on_one_pin_name_the_stream_whose_name_sorts_last_in_any_order():
    # the same file is the same error on every runtime (MicroPython's dicts keep no order)
    for streams in ({"t": {"pin": "V1"}, "u": {"pin": "V1"}}, {"u": {"pin": "V1"}, "t": {"pin": "V1"}}):
        e = error_of(device_cfg(streams=streams))
        assert e == "streams.u.pin: V1 is already the datastream of stream 't'", e


def test_two_streams_on_one_datastream_id_name_the_stream_whose_name_sorts_last_in_any_order():
    for streams in ({"a": {"id": 4}, "b": {"id": 4}}, {"b": {"id": 4}, "a": {"id": 4}}):
        e = error_of(platform_cfg(streams=streams))
        assert e == "streams.b.id: 4 is already the datastream of stream 'a'", e


def test_a_stream_name_over_32_characters_names_the_stream():
    name = "greenhouse_north_temperature_celsius"
    e = error_of(device_cfg(streams={name: {"pin": "V1"}}))
    assert e.startswith("streams.%s:" % name) and "32" in e, e


def test_an_empty_stream_name_names_the_section():
    assert error_of(device_cfg(streams={"": {"pin": "V1"}})).startswith("streams:")


def test_a_setting_name_over_32_characters_names_the_setting():
    name = "s" * 33
    e = error_of(device_cfg(remote={name: "V20"}))
    assert e.startswith("remote.%s:" % name), e


def test_a_device_name_over_32_characters_names_the_device():
    name = "d" * 33
    e = error_of(platform_cfg(devices={name: {"device_id": 2, "streams": {"x": {"id": 1}}}}))
    assert e.startswith("devices.%s:" % name), e


def test_a_device_stream_name_over_32_characters_names_it():
    name = "x" * 33
    e = error_of(platform_cfg(devices={"d": {"device_id": 2, "streams": {name: {"id": 1}}}}))
    assert e.startswith("devices.d.streams.%s:" % name), e


def test_a_ca_file_larger_than_the_heap_is_judged_by_its_head():
    # a PEM bundle given as 'ca' (a system one is some 200 KB, more than a board's heap): the
    # check reads the file's first bytes and its size, and names the key (it ran out of memory)
    d = tmpdir()
    chunk = b"-----BEGIN CERTIFICATE-----\n" + b"A" * 65508 + b"\n"
    with open(d + "/bundle.pem", "wb") as f:
        for _ in range(96):  # 6 MB: more than the unix ports' test heap
            f.write(chunk)
    e = error_of(device_cfg(insecure=False, ca=d + "/bundle.pem"))
    assert e.startswith("ca:") and "PEM" in e, e


def test_a_config_file_at_the_root_takes_its_relative_paths_from_the_root():
    import blynklog

    assert blynklog._config_folder("/config.json") == "/"
    assert blynklog._config_folder("/a/config.json") == "/a"


def test_null_is_the_default():
    # config.example.json: "null means 'the default'"
    c = config.load(
        device_cfg(
            server=None,
            insecure=None,
            streams={"t": {"pin": "V1", "type": None}},
            store={"path": None, "capacity": None},
            limits={"points_per_day": None},
            upload={"timeout_ms": None},
        )
    )
    assert c["server"] == "https://blynk.cloud" and c["insecure"] is False
    assert c["streams"]["t"]["type"] == "double" and c["store"]["capacity"] == 262144
    assert c["store"]["path"].endswith("/blynklog-data") and c["limits"]["points_per_day"] == 10000
    assert c["upload"]["timeout_ms"] == 10000


def test_null_is_the_default_for_a_setting_s_options():
    c = config.load(device_cfg(remote={"gain": {"pin": "V20", "type": None, "id": None}, "read_every_s": None}))
    assert c["remote"]["read_every_s"] == 3600 and c["remote"]["settings"]["gain"]["id"] == 20


def test_of_two_unknown_keys_the_one_whose_name_sorts_first_is_named_on_every_runtime():
    assert error_of(device_cfg(store={"zz": 1, "aa": 2})).startswith("store.aa:")


def test_of_two_settings_on_one_pin_the_one_whose_name_sorts_last_is_named_on_every_runtime():
    assert error_of(device_cfg(remote={"y": "V20", "x": "V20"})).startswith("remote.y.pin:")
