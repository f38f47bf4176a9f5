# Gateway mode's configuration (the "devices" section): the flat stream table it makes, and errors
# that name the key at fault. Runs on CPython and the unix ports.
from blynklog import config
from blynklog.config import ConfigError
from blynklog.devices import MAX_DEVICES
from support import raises


def gw_cfg(devices=None, **over):
    cfg = {
        "api": "platform",
        "client_id": "c",
        "client_secret": "s",
        "insecure": True,
        "devices": devices
        if devices is not None
        else {
            "greenhouse-1": {"device_id": 12, "streams": {"temperature": {"id": 1}, "humidity": {"id": 2}}},
            "greenhouse-2": {"device_id": 13, "streams": {"temperature": {"id": 1, "decimals": 1}}},
        },
    }
    cfg.update(over)
    return cfg


def error_of(cfg):
    return str(raises(ConfigError, config.load, cfg))


def test_a_devices_streams_join_the_flat_table_with_their_device():
    c = config.load(gw_cfg())
    s = c["streams"]["greenhouse-2/temperature"]
    assert s["device"] == "greenhouse-2" and s["device_id"] == 13 and s["id"] == 1 and s["decimals"] == 1
    assert c["devices"]["greenhouse-1"] == {
        "device_id": 12,
        "streams": {"temperature": "greenhouse-1/temperature", "humidity": "greenhouse-1/humidity"},
    }


def test_a_gateway_needs_neither_top_level_streams_nor_device_id():
    c = config.load(gw_cfg())
    assert c["device_id"] is None and len(c["streams"]) == 3


def test_an_empty_top_level_streams_table_is_as_none_in_a_gateway():
    c = config.load(gw_cfg(streams={}))
    assert c["device_id"] is None and c == config.load(gw_cfg())


def test_top_level_streams_belong_to_the_top_level_device():
    c = config.load(gw_cfg(device_id=1, streams={"t": {"id": 1}}))
    assert c["device_id"] == 1 and "device" not in c["streams"]["t"]


def test_top_level_streams_without_device_id_name_device_id():
    assert error_of(gw_cfg(streams={"t": {"id": 1}})).startswith("device_id:")


def test_health_takes_the_top_level_devices_streams_only():
    # a device's stream would take the health points on that device's quota
    health = {"pending": "greenhouse-1/temperature"}
    assert error_of(gw_cfg(device_id=1, streams={"t": {"id": 9}}, health=health)).startswith("health.pending:")
    c = config.load(gw_cfg(device_id=1, streams={"t": {"id": 9}}, health={"pending": "t"}))
    assert c["health"]["metrics"] == {"pending": "t"}


def test_a_configuration_without_devices_has_none():
    c = config.load(
        {"api": "platform", "client_id": "c", "client_secret": "s", "device_id": 1, "streams": {"t": {"id": 1}}}
    )
    assert c["devices"] is None and "device" not in c["streams"]["t"]


def test_devices_need_api_platform():
    msg = error_of(gw_cfg(api="device", token="tok"))
    assert msg.startswith("devices:") and "platform" in msg


def test_a_device_without_device_id_names_its_key():
    assert error_of(gw_cfg({"g": {"streams": {"t": {"id": 1}}}})).startswith("devices.g.device_id:")


def test_a_wrong_device_id_names_its_key():
    assert error_of(gw_cfg({"greenhouse-1": {"device_id": "12", "streams": {"t": {"id": 1}}}})).startswith(
        "devices.greenhouse-1.device_id:"
    )


def test_two_devices_with_one_device_id_are_refused():
    msg = error_of(
        gw_cfg({"a": {"device_id": 5, "streams": {"t": {"id": 1}}}, "b": {"device_id": 5, "streams": {"t": {"id": 1}}}})
    )
    assert msg.startswith("devices.b.device_id:")


def test_a_device_with_the_top_level_device_id_is_refused():
    msg = error_of(gw_cfg({"a": {"device_id": 1, "streams": {"t": {"id": 1}}}}, device_id=1, streams={"x": {"id": 1}}))
    assert msg.startswith("devices.a.device_id:")


def test_a_device_with_the_device_id_whose_remote_settings_are_read_is_refused():
    # no top-level streams, but remote settings read from device_id 1: a device's stream there
    # could be a setting's datastream (README: a setting's datastream is no stream's)
    cfg = gw_cfg({"a": {"device_id": 1, "streams": {"t": {"id": 20}}}}, device_id=1)
    cfg["remote"] = {"s": {"pin": "V20"}}
    assert error_of(cfg).startswith("devices.a.device_id:")


def test_a_device_name_that_is_no_string_names_devices():
    # a dict configuration keyed by the devices' ids, say
    assert error_of(gw_cfg({12: {"device_id": 12, "streams": {"t": {"id": 1}}}})).startswith("devices:")


def test_a_device_without_streams_names_its_key():
    assert error_of(gw_cfg({"g": {"device_id": 3}})).startswith("devices.g.streams:")


def test_a_device_stream_without_id_names_its_key():
    assert error_of(gw_cfg({"g": {"device_id": 3, "streams": {"t": {}}}})).startswith("devices.g.streams.t.id:")


def test_two_streams_of_a_device_on_one_datastream_are_refused():
    msg = error_of(gw_cfg({"g": {"device_id": 3, "streams": {"a": {"id": 1}, "b": {"id": 1}}}}))
    assert msg.startswith("devices.g.streams.b.id:")


def test_an_unknown_key_of_a_device_is_named():
    assert error_of(gw_cfg({"g": {"device_id": 3, "streams": {"t": {"id": 1}}, "pin": "V1"}})).startswith(
        "devices.g.pin:"
    )


def test_a_device_name_with_a_slash_is_refused():
    assert error_of(gw_cfg({"a/b": {"device_id": 3, "streams": {"t": {"id": 1}}}})).startswith("devices.a/b:")


def test_an_empty_devices_section_is_refused():
    assert error_of(gw_cfg({})).startswith("devices:")


def test_more_devices_than_the_bound_are_refused():
    devs = {}
    for i in range(MAX_DEVICES + 1):
        devs["n%d" % i] = {"device_id": i, "streams": {"t": {"id": 1}}}
    msg = error_of(gw_cfg(devs))
    assert msg.startswith("devices:") and str(MAX_DEVICES) in msg


def test_the_bound_itself_is_accepted():
    devs = {}
    for i in range(MAX_DEVICES):
        devs["n%d" % i] = {"device_id": i, "streams": {"t": {"id": 1}}}
    assert len(config.load(gw_cfg(devs))["devices"]) == MAX_DEVICES


def test_more_than_64_streams_in_all_are_refused():
    devs = {}
    for i in range(22):
        devs["n%d" % i] = {"device_id": i, "streams": {"a": {"id": 1}, "b": {"id": 2}, "c": {"id": 3}}}
    assert error_of(gw_cfg(devs)).startswith("devices:")


def test_the_raw_backend_is_refused_for_a_gateway():
    msg = error_of(gw_cfg(store={"backend": "raw", "start": 0, "length": 65536}))
    assert msg.startswith("store.backend:")


def test_a_flat_name_over_64_bytes_is_refused():
    name = "d" * 32
    assert error_of(gw_cfg({name: {"device_id": 3, "streams": {"s" * 32: {"id": 1}}}})).startswith(
        "devices.%s.streams.%s:" % (name, "s" * 32)
    )


def test_a_gateway_without_device_id_refuses_remote_settings():
    assert error_of(gw_cfg(remote={"every": "V20"})).startswith("remote:")
