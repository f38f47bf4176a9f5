# The real firmware loop with the real Logger in this process (a simulated board, tests/fwfakes.py)
# against the local Blynk emulator (verified TLS): what was logged while offline arrives at the
# wake, each point once, with the board's simulated timestamps. Device 2's streams 7 and 8 keep it
# apart from other tests. The virtual board as a board (its own processes): tests/test_lifetime.py.
import json

import emu
from fwfakes import SimBoard
from support import tmpdir


def _config(d):
    cfg = {
        "server": emu.url(),
        "api": "device",
        "token": "test-device-token-2",
        "ca": "ca.der",
        "streams": {"x": {"pin": "V7"}, "y": {"pin": "V8"}},
        "store": {"path": "store", "capacity": 65536},
        "sensors": [{"type": "sim", "stream": "x"}, {"type": "mcu_temp", "stream": "y"}],
        "sample_every_s": 60,
        "upload_every_s": 3600,
        "log_file": "error.log",
        "sleep": "light",
    }
    with open(d + "/ca.der", "wb") as f:
        f.write(emu.read_file(emu.ca_path()))
    with open(d + "/config.json", "w") as f:
        f.write(json.dumps(cfg))
    return d + "/config.json"


def test_points_logged_offline_arrive_once_at_the_wake_with_the_boards_timestamps():
    emu.require()
    emu.reset()  # no fault another test left injected (the fault sweep's last 401) reaches this one
    import app

    before_x = len(emu.points(2, 7))
    before_y = len(emu.points(2, 8))
    path = _config(tmpdir("fwlog"))
    s = app.main(path, board=SimBoard(30, 30 * 60, 1800))
    assert s is not None
    assert s["samples"] == 62 and s["sent"] == 62 and s["pending"] == 0  # 30 offline wakes + the last
    assert s["wifi_failures"] >= 1
    xs = emu.points(2, 7)[before_x:]
    ys = emu.points(2, 8)[before_y:]
    assert len(xs) == 31 and len(ys) == 31
    ts = sorted(p[0] for p in xs)
    assert len(set(ts)) == 31
    assert ts[1] - ts[0] == 60000  # the simulated minute, not the real one
