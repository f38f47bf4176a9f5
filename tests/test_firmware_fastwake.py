# cpython-only: it boots the virtual board (tools/vboard.py) as unix-port processes.
# The fast sampling wake (sensors.fast_wake, firmware/sensors.py) on the virtual board, the firmware deployed as
# on a board: a deep-sleep wake with only a sample due imports no package and no firmware module but
# sensors, and keeps its sample in RTC memory; the samples waiting there reach the store with their own timestamps at the wake that
# stores them and are uploaded once; a damaged buffer is reported and dropped, the wake goes on; a
# power cut loses what waits there and nothing else; RTC memory never holds more than its 2,048
# bytes (the storing wake comes first).
import json
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
for _p in (os.path.join(ROOT, "tools"), os.path.join(ROOT, "firmware")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import deploy  # noqa: E402
import sensors as quick  # noqa: E402
import vboard  # noqa: E402
from lifetime import buffered  # noqa: E402
from test_unix_port import runtimes  # noqa: E402

T0 = 1790000000000  # 2026-09-21, Unix ms
MIN = 60000
# a hook in boot.py: every module a boot imports, a line each in imports.log (read by the test)
IMPORT_LOG = """
import builtins
_orig = builtins.__import__
def _logged(name, *a):
    with open('imports.log', 'a') as f:
        f.write(name + '\\n')
    return _orig(name, *a)
builtins.__import__ = _logged
"""


def _config(folder, srv_url, ca, **over):
    with open(os.path.join(ROOT, "firmware", "config.example.json")) as f:
        cfg = json.load(f)
    cfg.update({"server": srv_url, "token": "test-device-token", "ca": "emulator-ca.der"})
    cfg["wifi"].update({"ssid": "virtual-net", "password": "virtual-password"})
    cfg["sensors"] = [
        {"type": "mcu_temp", "stream": "chip_temp"},
        {"type": "sim", "stream": "air_temp", "base": 21.0, "amplitude": 4.0, "decimals": 2, "seed": 1},
        {"type": "sim", "stream": "air_rh", "base": 55.0, "amplitude": 15.0, "decimals": 1, "seed": 2},
        {"type": "sim", "stream": "battery", "base": 3.9, "amplitude": 0.2, "decimals": 3, "seed": 3},
    ]
    cfg.update(over)
    os.makedirs(folder, exist_ok=True)
    with open(ca, "rb") as src, open(os.path.join(folder, "emulator-ca.der"), "wb") as dst:
        dst.write(src.read())
    path = os.path.join(folder, "config.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    return path


@pytest.fixture(params=sorted(runtimes()))
def board(request, tmp_path):
    from blynk_server import BlynkServer

    srv = BlynkServer(tls=True, cert_dir=str(tmp_path / "certs")).start()
    try:

        def make(**over):
            config = _config(str(tmp_path / "cfg"), srv.url, srv.ca_der_path, **over)
            deploy.deploy_to_folder("unix", str(tmp_path / "vb" / "flash"), config, out=lambda m: None)
            vb = vboard.VBoard(
                str(tmp_path / "vb"),
                micropython=runtimes()[request.param],
                heapsize="512K",
                time_scale=1e6,
                start_ms=T0,
            )
            vb.power_on(rtc_kept=True)  # the RTC has the time: no NTP needed for the first sample's
            return vb

        yield make, srv
    finally:
        srv.stop()


def _boot(vb, srv):
    srv.configure(clock_offset_ms=vb.world_ms() - int(__import__("time").time() * 1000))
    r = vb.boot(timeout_s=60)
    assert r.how == "deepsleep", r.out
    return r


def _full(r):
    return "blynklog firmware on " in r.out


def _memory(vb):
    return bytes(ord(c) for c in vb.state.get("memory") or "")


def test_a_fast_wake_imports_no_package_and_no_firmware_module_but_sensors(board):
    make, srv = board
    vb = make()
    _boot(vb, srv)  # power-on: the full wake, which leaves the plan in RTC memory
    with open(os.path.join(vb.flash, "boot.py"), "a") as f:
        f.write(IMPORT_LOG)
    r = _boot(vb, srv)
    with open(os.path.join(vb.flash, "imports.log")) as f:
        names = set(f.read().split())
    assert not _full(r) and len(buffered(vb.state)) == 1, r.out
    firmware = ("app", "settings", "hw", "board", "errlog", "boardcheck", "uplink")
    assert "sensors" in names and not [n for n in names if n.startswith("blynklog") or n in firmware], names


def test_buffered_samples_reach_the_store_with_their_timestamps_and_are_uploaded_once(board):
    make, srv = board
    vb = make()
    _boot(vb, srv)
    waiting = []
    for _ in range(3):
        _boot(vb, srv)
        waiting = buffered(vb.state)
    assert len(waiting) == 3
    stamps = [ts for ts, _ in waiting]
    # on to the upload, an hour after the first: the wakes that store the buffer, then the upload
    for _ in range(60):
        r = _boot(vb, srv)
        if "upload: sent" in r.out:
            break
    assert "upload: sent" in r.out, r.out
    for sid in range(1, 5):
        got = [ts for ts, _ in srv.points(1, sid)]
        for ts in stamps:
            assert got.count(ts) == 1, (sid, ts, got)


def test_a_damaged_buffer_is_reported_and_dropped_and_the_wake_goes_on(board):
    make, srv = board
    vb = make()
    _boot(vb, srv)
    _boot(vb, srv)
    raw = bytearray(_memory(vb))
    raw[-3] ^= 0x55  # a value's byte in the buffer
    s = dict(vb.state)
    s["memory"] = "".join(chr(b) for b in raw)
    vb._write(s)
    r = _boot(vb, srv)
    assert _full(r) and "buffered samples: buffered samples damaged (CRC): dropped" in r.out, r.out
    with open(os.path.join(vb.flash, "error.log")) as f:
        assert "buffered samples damaged (CRC): dropped" in f.read()
    assert quick.split(_memory(vb))[1] is None  # dropped: the schedule alone


def test_a_power_cut_loses_the_buffered_samples_and_nothing_else(board):
    make, srv = board
    vb = make()
    first = _boot(vb, srv)
    for _ in range(3):
        _boot(vb, srv)
    lost = [ts for ts, _ in buffered(vb.state)]
    assert len(lost) == 3
    vb.power_on(world_ms=vb.world_ms() + MIN, rtc_kept=True)  # RTC memory lost
    after = 0
    for _ in range(70):
        r = _boot(vb, srv)
        after += 1
        if "upload: sent" in r.out:
            break
    assert "upload: sent" in r.out, r.out
    for sid in range(1, 5):
        got = [ts for ts, _ in srv.points(1, sid)]
        # the first boot's sample and every one after the power cut, but not the three that waited
        assert not [ts for ts in lost if ts in got], (sid, lost, got)
        assert min(got) <= first.world_end and len(got) == len(set(got)) == 1 + after, (sid, after, got)


def test_rtc_memory_never_holds_more_than_2048_bytes_the_storing_wake_comes_first(board):
    make, srv = board
    # long stream names and a flush an hour apart: RTC memory, not flush_every_s, sets the storing wake
    names = ["stream_name_with_some_length_%02d" % i for i in range(12)]
    streams = dict((n, {"pin": "V%d" % (i + 1), "decimals": 2}) for i, n in enumerate(names))
    sensors = [{"type": "sim", "stream": n, "base": 20.0 + i, "seed": i + 1} for i, n in enumerate(names)]
    vb = make(streams=streams, sensors=sensors, flush_every_s=3600)
    _boot(vb, srv)
    sizes = []
    stored = 0
    for _ in range(40):
        r = _boot(vb, srv)
        assert not _full(r), r.out
        sizes.append(len(_memory(vb)))
        if len(sizes) > 1 and sizes[-1] < sizes[-2]:
            stored += 1
    assert max(sizes) <= quick.RTC_BYTES and stored >= 1, sizes
