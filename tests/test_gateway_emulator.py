# cpython-only: it tests the host-side Blynk emulator (tools/blynk_server.py, tools/emulator.py) with http.client.
# The emulator as a gateway's server: many Platform API devices, each with its own strict daily
# quota, added and removed at run time, and 404 for a deviceId it does not know.
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tools"))

from test_emulator import error_message, import_batch, now_ms, plain, token  # noqa: E402


def test_a_device_added_at_run_time_takes_imports_on_its_datastreams(srv):
    srv.add_device(120, streams=3)
    conn = plain(srv)
    access = token(conn)["access_token"]
    r, _ = import_batch(conn, access, [{"value": 1.5, "ts": now_ms()}], device=120, stream=3)
    assert r.status == 204 and [p[1] for p in srv.points(120, 3)] == [1.5]


def test_each_of_twenty_devices_has_its_own_strict_quota(srv):
    srv.configure(points_per_day=3)
    for d in range(20):
        srv.add_device(100 + d, streams=1)
    conn = plain(srv)
    access = token(conn)["access_token"]
    t = now_ms() - 10000
    for d in range(20):
        r, _ = import_batch(conn, access, [{"value": i, "ts": t + i} for i in range(3)], device=100 + d)
        assert r.status == 204
    r, body = import_batch(conn, access, [{"value": 9, "ts": t + 9}], device=107)
    assert r.status == 400 and "Daily" in error_message(body)
    assert [srv.quota_used(100 + d) for d in range(20)] == [3] * 20


def test_a_removed_device_answers_404_with_the_documented_message(srv):
    srv.add_device(130, streams=1)
    srv.remove_device(130)
    conn = plain(srv)
    access = token(conn)["access_token"]
    r, body = import_batch(conn, access, [{"value": 1, "ts": now_ms()}], device=130)
    assert r.status == 404
    assert error_message(body) == "Device with identifier 130 is not found or belong to another organization."


def test_the_http_controls_add_and_remove_a_device(srv):
    import json

    conn = plain(srv)
    conn.request("POST", "/_emu/device", body=json.dumps({"device": 140, "streams": 2}))
    assert conn.getresponse().read() and 140 in srv.streams and sorted(srv.streams[140]) == [1, 2]
    conn.request("GET", "/_emu/quota?device=140")
    assert json.loads(conn.getresponse().read()) == {"used": 0}
    conn.request("POST", "/_emu/device", body=json.dumps({"device": 140, "remove": True}))
    conn.getresponse().read()
    assert 140 not in srv.streams


def test_the_request_log_names_the_device_of_an_import(srv):
    srv.add_device(150, streams=1)
    conn = plain(srv)
    access = token(conn)["access_token"]
    import_batch(conn, access, [{"value": 1, "ts": now_ms()}], device=150)
    assert [q.get("device") for q in srv.requests if q["path"].endswith("/import/batch")] == [150]


def test_emulator_py_creates_a_gateways_devices_and_their_datastreams(srv):
    import emulator

    srv.ca_der_path = srv.ca_der_path or "ca.der"
    cfg = {
        "api": "platform",
        "client_id": "c",
        "client_secret": "s",
        "devices": {
            "greenhouse-1": {"device_id": 12, "streams": {"temperature": {"id": 1}, "door": {"id": 2, "type": "bool"}}},
            "greenhouse-2": {"device_id": 13, "streams": {"temperature": {"id": 1}}},
        },
    }
    out = emulator.provision(srv, cfg)
    assert srv.streams[12] == {1: ("V1", "double"), 2: ("V2", "bool")} and srv.streams[13] == {1: ("V1", "double")}
    assert "device_id" not in out and out["devices"] == cfg["devices"]


def test_emulator_py_reads_a_gateway_streams_type_in_any_case(srv):
    import emulator

    srv.ca_der_path = srv.ca_der_path or "ca.der"
    devices = {"greenhouse-1": {"device_id": 12, "streams": {"door": {"id": 2, "type": "BOOL"}}}}
    emulator.provision(srv, {"api": "platform", "client_id": "c", "client_secret": "s", "devices": devices})
    assert srv.streams[12] == {2: ("V2", "bool")}


def test_emulator_py_refuses_devices_without_api_platform(srv):
    import emulator

    with pytest.raises(emulator.SetupError, match="^devices"):
        emulator.provision(srv, {"api": "device", "token": "t", "streams": {"t": {"pin": "V1"}}, "devices": {}})
