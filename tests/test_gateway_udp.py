# cpython-only: it runs tools/gateway_udp.py (the gateway loop on CPython) as a process with a UDP listener.
# The gateway example's loop on the desktop: node packets over UDP on 127.0.0.1 stand in for ESP-NOW;
# the samples reach their devices on the emulator through one connection.
import json
import os
import socket
import subprocess
import sys

import emu
import fwfakes  # noqa: F401  (firmware/ on sys.path)
import gwpacket
from logger_support import now_ms, platform_config

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TOOL = os.path.join(ROOT, "tools", "gateway_udp.py")
KEY_HEX = "00112233445566778899aabbccddeeff"
FIRST_ID = 100


def test_help_names_both_commands():
    out = subprocess.run([sys.executable, TOOL, "--help"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and "serve" in out.stdout and "send" in out.stdout


def _files(tmp_path, devices):
    cfg = platform_config()
    del cfg["streams"]
    del cfg["device_id"]
    cfg["devices"] = {
        "node-%d" % d: {"device_id": FIRST_ID + d, "streams": {"temperature": {"id": 1}, "humidity": {"id": 2}}}
        for d in range(devices)
    }
    gw = {
        "key": KEY_HEX,
        "nodes": {
            str(d + 1): {"device": "node-%d" % d, "streams": ["temperature", "humidity"]} for d in range(devices)
        },
    }
    paths = (str(tmp_path / "config.json"), str(tmp_path / "gateway.json"))
    for path, data in zip(paths, (cfg, gw)):
        with open(path, "w") as f:
            json.dump(data, f)
    return paths


def test_packets_over_udp_reach_their_devices_through_one_connection(tmp_path):
    emu.require()
    emu.reset()
    for d in range(3):
        emu.add_device(FIRST_ID + d, 2)
    config, gateway = _files(tmp_path, 3)
    proc = subprocess.Popen(
        [
            sys.executable,
            TOOL,
            "serve",
            "--config",
            config,
            "--gateway",
            gateway,
            "--port",
            "0",
            "--seconds",
            "4",
            "--sync-every-s",
            "3600",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("READY "), line + proc.stderr.read()
        port = int(line.split()[1])
        key = gwpacket.Key(bytes.fromhex(KEY_HEX))
        t = now_ms() - 30000
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        seq = 0
        for d in range(3):
            for i in range(2):
                seq += 1
                s.sendto(gwpacket.pack(key, d + 1, i, 20.5 + d, seq, ts=t + i), ("127.0.0.1", port))
        seq += 1
        s.sendto(gwpacket.pack(key, 1, 0, 1.25, seq), ("127.0.0.1", port))  # no ts: stamped on arrival
        forged = bytearray(gwpacket.pack(key, 2, 0, 99.0, seq + 1))
        forged[8] ^= 1  # the value altered after the tag was made
        s.sendto(bytes(forged), ("127.0.0.1", port))
        s.close()
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    result = json.loads(out.strip().splitlines()[-1])
    assert result["counts"]["ok"] == 7 and result["counts"]["tag"] == 1, result
    r = result["report"]
    assert r["sent"] == 7 and r["pending"] == 0 and r["handshakes"] == 1, r
    assert emu.points(FIRST_ID + 2, 2) == [(t + 1, 22.5)]
    assert len(emu.points(FIRST_ID, 1)) == 2


def test_send_puts_one_packet_on_the_listeners_port(tmp_path):
    _config, gateway = _files(tmp_path, 1)
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(10)
    try:
        port = rx.getsockname()[1]
        out = subprocess.run(
            [
                sys.executable,
                TOOL,
                "send",
                "--gateway",
                gateway,
                "--node",
                "1",
                "--stream",
                "1",
                "--value",
                "21.5",
                "--seq",
                "9",
                "--port",
                str(port),
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert out.returncode == 0, out.stderr
        msg = rx.recvfrom(300)[0]
    finally:
        rx.close()
    assert gwpacket.unpack(gwpacket.Key(bytes.fromhex(KEY_HEX)), msg) == (1, 1, 21.5, 9, None)


def test_serve_refuses_an_unbounded_run(tmp_path):
    config, gateway = _files(tmp_path, 1)
    out = subprocess.run(
        [sys.executable, TOOL, "serve", "--config", config, "--gateway", gateway, "--seconds", "0"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode != 0 and "--seconds" in out.stderr


def _run(*args):
    return subprocess.run([sys.executable, TOOL, *args], capture_output=True, text=True, timeout=30)


def _send(gateway, *more):
    return _run("send", "--gateway", gateway, "--node", "1", "--value", "1", *more)


def _one_line(out, starts):
    return out.returncode != 0 and out.stderr.startswith(starts) and out.stderr.count("\n") == 1


def test_send_with_a_missing_gateway_file_is_one_line_naming_it(tmp_path):
    missing = str(tmp_path / "missing.json")
    assert _one_line(_send(missing), "gateway_udp: --gateway %s: cannot read it" % missing)


def test_send_with_a_gateway_file_that_is_not_json_is_one_line_naming_it(tmp_path):
    (tmp_path / "gateway.json").write_text("key = 1\n")
    gateway = str(tmp_path / "gateway.json")
    assert _one_line(_send(gateway), "gateway_udp: --gateway %s: not JSON" % gateway)


def test_send_with_a_bad_key_is_one_line_naming_the_key(tmp_path):
    (tmp_path / "gateway.json").write_text(json.dumps({"key": "abc", "nodes": {"1": {}}}))
    gateway = str(tmp_path / "gateway.json")
    assert _one_line(_send(gateway), "gateway_udp: --gateway %s: key: " % gateway)


def test_send_refuses_a_port_past_65535(tmp_path):
    _config, gateway = _files(tmp_path, 1)
    out = _send(gateway, "--port", "99999")
    assert out.returncode == 2 and "--port" in out.stderr and "Traceback" not in out.stderr


def test_serve_with_a_missing_config_file_is_one_line_naming_it(tmp_path):
    _config, gateway = _files(tmp_path, 1)
    missing = str(tmp_path / "missing.json")
    out = _run("serve", "--config", missing, "--gateway", gateway, "--seconds", "1", "--port", "0")
    assert _one_line(out, "gateway_udp: --config %s: " % missing)


def test_serve_with_a_node_naming_a_device_the_config_lacks_is_one_line_naming_it(tmp_path):
    config, gateway = _files(tmp_path, 1)
    with open(gateway) as f:
        g = json.load(f)
    g["nodes"]["1"]["device"] = "no-such-device"
    with open(gateway, "w") as f:
        json.dump(g, f)
    out = _run("serve", "--config", config, "--gateway", gateway, "--seconds", "1", "--port", "0")
    assert _one_line(out, "gateway_udp: --gateway %s: nodes.1.device: 'no-such-device'" % gateway)


def test_serve_with_a_node_stream_given_as_a_list_is_one_line_naming_it(tmp_path):
    config, gateway = _files(tmp_path, 1)
    with open(gateway) as f:
        g = json.load(f)
    g["nodes"]["1"]["streams"] = [["temperature"]]
    with open(gateway, "w") as f:
        json.dump(g, f)
    out = _run("serve", "--config", config, "--gateway", gateway, "--seconds", "1", "--port", "0")
    assert _one_line(out, "gateway_udp: --gateway %s: nodes.1.streams: " % gateway), out.stderr


def test_serve_with_a_budget_ms_that_is_no_int_is_one_line_naming_it(tmp_path):
    config, gateway = _files(tmp_path, 1)
    with open(gateway) as f:
        g = json.load(f)
    g["budget_ms"] = 2.5
    with open(gateway, "w") as f:
        json.dump(g, f)
    out = _run("serve", "--config", config, "--gateway", gateway, "--seconds", "1", "--port", "0")
    assert _one_line(out, "gateway_udp: --gateway %s: budget_ms: " % gateway), out.stderr


def _refused(out, arg):
    # argparse's usage line and one error line naming the argument (as for --port), or the tool's
    # own one line: no traceback
    return out.returncode != 0 and arg in out.stderr.splitlines()[-1] and "Traceback" not in out.stderr


def test_send_refuses_a_node_id_past_255(tmp_path):
    _config, gateway = _files(tmp_path, 1)
    assert _refused(_send(gateway, "--node", "256"), "--node")


def test_send_refuses_a_stream_index_past_255(tmp_path):
    _config, gateway = _files(tmp_path, 1)
    assert _refused(_send(gateway, "--stream", "300"), "--stream")


def test_send_refuses_a_negative_seq(tmp_path):
    _config, gateway = _files(tmp_path, 1)
    assert _refused(_send(gateway, "--seq", "-1"), "--seq")


def test_send_refuses_a_negative_ts(tmp_path):
    _config, gateway = _files(tmp_path, 1)
    assert _refused(_send(gateway, "--ts", "-5"), "--ts")


def test_send_refuses_an_int_value_past_int32(tmp_path):
    _config, gateway = _files(tmp_path, 1)
    out = _send(gateway, "--value", "3000000000")
    assert _one_line(out, "gateway_udp: --value: "), out.stderr


def test_send_refuses_a_float_value_past_float32(tmp_path):
    _config, gateway = _files(tmp_path, 1)
    out = _send(gateway, "--value", "1e40")
    assert _one_line(out, "gateway_udp: --value: "), out.stderr
