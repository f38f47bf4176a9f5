# The firmware's configuration: its own keys validated with errors naming the key, the example
# file documenting every key (the firmware's and the Logger's), and boot errors that stop with a
# message instead of a boot loop.
import json

import fwfakes
from fwfakes import raw_config
from support import raises, tmpdir

import settings

_here = fwfakes._here


def _load(**over):
    return settings.load(raw_config(**over))


def _err(**over):
    return str(raises(ValueError, _load, **over))


def _example():
    with open(_here + "/../firmware/config.example.json") as f:
        return json.load(f)


def test_defaults_fill_every_missing_firmware_key():
    fw = settings.load({"streams": {"a": {}}, "sensors": [{"type": "sim", "stream": "a"}], "wifi": {"ssid": "n"}})
    assert fw["sample_every_s"] == 60 and fw["upload_every_s"] == 3600 and fw["sleep"] == "auto"
    assert fw["wifi"]["timeout_ms"] == 15000 and fw["radio_budget_ms"] == 30000


def test_null_is_the_default_of_a_firmware_key_and_a_wifi_key():
    # config.example.json: "null means 'the default'"
    fw = settings.load(
        {
            "streams": {"a": {}},
            "sensors": [{"type": "sim", "stream": "a"}],
            "wifi": {"ssid": "n", "timeout_ms": None},
            "sample_every_s": None,
            "sleep": None,
        }
    )
    assert fw["sample_every_s"] == 60 and fw["sleep"] == "auto" and fw["wifi"]["timeout_ms"] == 15000


def test_missing_wifi_ssid_names_the_key():
    e = str(raises(ValueError, settings.load, {"streams": {"a": {}}, "sensors": [{"type": "sim", "stream": "a"}]}))
    assert e.startswith("wifi.ssid:")


def test_wifi_is_optional_on_a_board_without_radio():
    fw = settings.load({"streams": {"a": {}}, "sensors": [{"type": "sim", "stream": "a"}]}, False)
    assert fw["wifi"]["ssid"] is None


def test_sensor_with_an_unknown_stream_names_the_key():
    e = _err(sensors=[{"type": "sim", "stream": "a"}, {"type": "mcu_temp", "stream": "nope"}])
    assert e.startswith("sensors[1].stream:") and "nope" in e


def test_sensor_with_an_unknown_type_names_the_key():
    assert _err(sensors=[{"type": "bme999", "stream": "a"}]).startswith("sensors[0].type:")


def test_sensor_with_an_unknown_field_names_the_key():
    e = _err(sensors=[{"type": "sht3x", "streams": {"temp": "a"}}])
    assert e.startswith("sensors[0].streams.temp:")


def test_adc_sensor_without_pin_names_the_key():
    assert _err(sensors=[{"type": "adc", "stream": "a"}]).startswith("sensors[0].pin:")


def test_wrong_type_of_a_number_key_names_the_key():
    assert _err(sample_every_s="60").startswith("sample_every_s:")


def test_fill_threshold_out_of_range_names_the_key():
    assert _err(fill_threshold=1.5).startswith("fill_threshold:")


def test_unknown_sleep_mode_names_the_key():
    assert _err(sleep="hibernate").startswith("sleep:")


def test_unknown_wifi_key_names_the_key():
    assert _err(wifi={"ssid": "n", "pasword": "x"}).startswith("wifi.pasword:")


def test_unknown_top_level_key_names_it_and_lists_the_known_keys():
    e = _err(sample_evry_s=5)
    assert e.startswith("sample_evry_s: unknown key"), e
    assert "sample_every_s" in e and "streams" in e and "wifi" in e


def test_top_level_keys_starting_with_an_underscore_are_comments():
    assert _load(_note="anything", _help={"x": "y"})["sensors"]


def test_every_logger_key_is_accepted_at_the_top_level():
    from blynklog.config import KEYS

    raw = raw_config()
    for k in KEYS:
        if k not in raw:
            raw[k] = None
    # the firmware's checks let the Logger's keys through (the Logger validates their values)
    assert settings.load(raw)["sensors"]


def test_example_config_passes_the_firmware_checks():
    fw = settings.load(_example())
    assert len(fw["sensors"]) == 3


def test_example_config_documents_every_key_it_has():
    ex = _example()
    doc = ex["_help"]
    for key in ex:
        if key.startswith("_"):
            continue
        if isinstance(ex[key], dict) and key not in ("streams", "board"):
            for sub in ex[key]:
                assert "%s.%s" % (key, sub) in doc, "%s.%s undocumented" % (key, sub)
        else:
            assert key in doc, key + " undocumented"


def test_example_config_documents_every_firmware_and_logger_key():
    from blynklog import config

    doc = _example()["_help"]
    keys = list(settings.DEFAULTS) + ["wifi." + k for k in settings.WIFI_DEFAULTS] + ["sensors", "board"]
    for name, defaults in (
        ("store", config._STORE_DEFAULTS),
        ("limits", config._LIMIT_DEFAULTS),
        ("upload", config._UPLOAD_DEFAULTS),
        ("clock", config._CLOCK_DEFAULTS),
    ):
        keys += ["%s.%s" % (name, k) for k in defaults]
    keys += ["server", "api", "token", "client_id", "client_secret", "device_id", "ca", "insecure", "streams"]
    missing = [k for k in keys if k not in doc]
    assert not missing, "undocumented: %s" % ", ".join(missing)


def _boot(cfg_text):
    import app

    d = tmpdir("boot")
    path = d + "/config.json"
    if cfg_text is not None:
        with open(path, "w") as f:
            f.write(cfg_text)
    result = app.main(path)
    try:
        with open(d + "/error.log") as f:
            log = f.read()
    except OSError:
        log = ""
    return result, log


def test_boot_without_config_stops_with_a_message_instead_of_looping():
    result, log = _boot(None)
    assert result is None
    assert "config.example.json" in log


def test_boot_with_broken_json_stops_with_a_message():
    result, log = _boot("{not json")
    assert result is None and "not valid JSON" in log


def test_boot_with_a_byte_order_mark_in_the_config_stops_saying_so():
    result, log = _boot("\ufeff" + json.dumps(raw_config()))
    assert result is None and "byte order mark" in log, log


def test_boot_with_a_wrong_firmware_key_names_it():
    cfg = raw_config(sample_every_s=0)
    result, log = _boot(json.dumps(cfg))
    assert result is None and "sample_every_s:" in log


def test_boot_with_a_wrong_logger_key_names_it():
    cfg = raw_config(log_file="error.log")
    cfg.update({"api": "device", "token": "t", "insecure": True})
    cfg["streams"]["a"] = {"pin": "X9"}
    result, log = _boot(json.dumps(cfg))
    assert result is None and "streams.a.pin:" in log


def test_boot_with_a_wrong_board_key_names_it():
    cfg = raw_config(board={"time_scal": 10})
    result, log = _boot(json.dumps(cfg))
    assert result is None and "board.time_scal:" in log


def _valid_config(d, **over):
    cfg = raw_config(**over)
    path = d + "/config.json"
    with open(path, "w") as f:
        json.dump(cfg, f)
    return path


def test_the_validated_settings_are_reused_only_for_the_same_config_file():
    import app

    d = tmpdir("cache")
    path = _valid_config(d)
    cache = d + "/" + app.SETTINGS_CACHE
    key = app._settings_key(path)
    fw, board = app._load_settings(path, None, cache, key)
    assert app._cached_settings(cache, key) == json.loads(json.dumps(fw))  # as JSON keeps it
    path = _valid_config(d, sample_every_s=61)  # one byte changed
    assert app._settings_key(path) != key and app._cached_settings(cache, app._settings_key(path)) is None


def test_validating_the_settings_lets_the_packages_validator_go():
    # settings.py imports blynklog.config (25 KB of code on a 32-bit port): after the settings
    # are validated it leaves RAM with settings.py, so that the first boot's Logger (which keeps a
    # validator it finds loaded) and its upload do not carry it
    import sys

    import app
    import blynklog

    d = tmpdir("validator")
    path = _valid_config(d)
    kept = [(name, sys.modules.pop(name, None)) for name in ("blynklog.config", "settings")]
    if "config" in dir(blynklog):
        delattr(blynklog, "config")
    try:
        app._load_settings(path, None, d + "/" + app.SETTINGS_CACHE, app._settings_key(path))
        assert "blynklog.config" not in sys.modules and "config" not in dir(blynklog)
        assert "settings" not in sys.modules
    finally:
        for name, module in kept:
            if module is not None:
                sys.modules[name] = module
        if kept[0][1] is not None:
            blynklog.config = kept[0][1]


def test_a_damaged_settings_cache_means_validating_again():
    import app

    d = tmpdir("cache")
    key = app._settings_key(_valid_config(d))
    with open(d + "/" + app.SETTINGS_CACHE, "w") as f:
        f.write('{"key": "%s", "fw": [1' % key)
    assert app._cached_settings(d + "/" + app.SETTINGS_CACHE, key) is None


def test_a_config_made_invalid_after_a_good_boot_is_refused_at_the_next():
    import app

    cfg = raw_config(log_file="error.log")
    cfg.update({"api": "device", "token": "t", "insecure": True, "server": "http://127.0.0.1:9"})
    d = tmpdir("boot")
    with open(d + "/config.json", "w") as f:
        json.dump(cfg, f)
    board = fwfakes.FakeBoard()
    board.cycles = 1
    assert app.main(d + "/config.json", board=board) is not None  # a good boot: its settings are cached
    cfg["sample_every_s"] = 0
    with open(d + "/config.json", "w") as f:
        json.dump(cfg, f)
    assert app.main(d + "/config.json", board=board) is None
    with open(d + "/error.log") as f:
        assert "sample_every_s:" in f.read()


def test_a_sensor_on_a_stream_that_is_not_double_names_the_key():
    # every sensor reads floats: an int, string, bool... stream would refuse every sample
    streams = {"a": {}, "f": {"type": "float"}, "n": {"type": "int"}, "s": {"type": "string"}}
    fw = _load(streams=streams, sensors=[{"type": "sim", "stream": "a"}, {"type": "mcu_temp", "stream": "f"}])
    assert [s["map"] for s in fw["sensors"]] == [[(0, "a")], [(0, "f")]]
    for name in ("n", "s"):
        e = _err(streams=streams, sensors=[{"type": "sim", "stream": "a"}, {"type": "sim", "stream": name}])
        assert e.startswith("sensors[1].stream: stream %r" % name), e
    e = _err(streams=streams, sensors=[{"type": "sht3x", "streams": {"temperature": "a", "humidity": "n"}}])
    assert e.startswith("sensors[0].streams.humidity: stream 'n'"), e


def test_a_wifi_country_or_hostname_that_is_no_string_names_its_key():
    # network.country() and network.hostname() take strings: another value would raise at every
    # Wi-Fi start
    fw = _load(wifi={"ssid": "net", "country": "gb", "hostname": "sensor-1"})
    assert fw["wifi"]["country"] == "gb" and fw["wifi"]["hostname"] == "sensor-1"
    assert _load(wifi={"ssid": "net", "country": "", "hostname": ""})["wifi"]["country"] == ""  # none, as null
    for country in (5, "GBR", "G", "\u00c9U", "1A"):
        e = _err(wifi={"ssid": "net", "country": country})
        assert e.startswith("wifi.country: "), (country, e)
    for hostname in (5, ["a"]):
        e = _err(wifi={"ssid": "net", "hostname": hostname})
        assert e.startswith("wifi.hostname: "), (hostname, e)
