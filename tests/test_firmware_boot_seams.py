# cpython-only: boots the virtual board (tools/vboard.py) as unix-port processes.
# The firmware's boot where two of its steps meet, on the virtual board against the local Blynk
# emulator (docs/FIRMWARE.md): battery_min after a reset that lost the clock (the first upload
# would set the clock, but the battery is read by the samples), every configuration error with
# one outcome whether the Logger's key, the firmware's, the board's or the file is at fault, and
# a remote upload_every_s in force after a power cut.
import json
import os
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
for _p in (os.path.join(ROOT, "tools"), os.path.join(ROOT, "firmware")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import deploy  # noqa: E402
import vboard  # noqa: E402
from test_firmware_fastwake import _config as _fastwake_config  # noqa: E402
from test_unix_port import runtimes  # noqa: E402

T0 = 1790000000000


def _config(folder, srv, **over):
    # test_firmware_fastwake's configuration, its battery reading 3.0 V every time
    path = _fastwake_config(folder, srv.url, srv.ca_der_path, **over)
    with open(path) as f:
        cfg = json.load(f)
    for sensor in cfg["sensors"]:
        if sensor["stream"] == "battery":
            sensor.update(base=3.0, amplitude=0.0)
    with open(path, "w") as f:
        json.dump(cfg, f)
    return path


def make_board(tmp_path, srv, exe, rtc_kept, **over):
    config = _config(str(tmp_path / "cfg"), srv, **over)
    deploy.deploy_to_folder("unix", str(tmp_path / "vb" / "flash"), config, out=lambda m: None)
    vb = vboard.VBoard(str(tmp_path / "vb"), micropython=exe, heapsize="512K", time_scale=1e6, start_ms=T0)
    vb.power_on(rtc_kept=rtc_kept)
    return vb


def boot(vb, srv, **kw):
    srv.configure(clock_offset_ms=vb.world_ms() - int(time.time() * 1000))
    return vb.boot(timeout_s=60, **kw)


def radio_ups(vb, boot_no):
    return [e for e in vb.events() if e["ev"] == "up" and e["boot"] == boot_no]


@pytest.fixture(params=sorted(runtimes()))
def env(request, tmp_path):
    from blynk_server import BlynkServer

    srv = BlynkServer(tls=True, cert_dir=str(tmp_path / "certs")).start()
    try:
        yield tmp_path, srv, runtimes()[request.param]
    finally:
        srv.stop()


def test_below_battery_min_the_radio_stays_off_with_the_clock_kept(env):
    # the RTC kept its time (power-on with a set RTC): sample first, the battery (3.0 V)
    # is below battery_min (3.5): the radio stays off
    tmp_path, srv, exe = env
    vb = make_board(tmp_path, srv, exe, True, battery_stream="battery", battery_min=3.5)
    r = boot(vb, srv)
    assert r.how == "deepsleep", r.out
    assert "radio stays off: battery" in r.out, r.out
    assert radio_ups(vb, r.boot_no) == []


def test_below_battery_min_the_radio_stays_off_after_a_power_on_without_the_time(env):
    # the same board after a power cut (the RTC unset): the upload that would set the clock waits
    # for the battery's first reading
    tmp_path, srv, exe = env
    vb = make_board(tmp_path, srv, exe, False, battery_stream="battery", battery_min=3.5)
    r = boot(vb, srv)
    assert r.how == "deepsleep", r.out
    assert radio_ups(vb, r.boot_no) == [], "radio came up below battery_min:\n" + r.out[-2000:]


def _edit(vb, fn):
    p = os.path.join(vb.flash, "config.json")
    with open(p) as f:
        cfg = json.load(f)
    fn(cfg)
    with open(p, "w") as f:
        json.dump(cfg, f)


def _errlog(vb):
    try:
        with open(os.path.join(vb.flash, "error.log")) as f:
            return f.read()
    except OSError:
        return ""


def _outcome(vb, srv, edit):
    _edit(vb, edit)
    vb.power_on(rtc_kept=True)
    r = boot(vb, srv)
    return r.how, r.state.get("slept_ms") if r.how == "deepsleep" else None


def test_every_configuration_error_has_one_outcome_whatever_key_is_at_fault(env):
    # docs/FIRMWARE.md: a missing or wrong key stops the board at boot, named on the console and
    # in error.log; with the watchdog boot.py started running (the virtual board's chip has one,
    # as a hardware board) it blinks and sleeps an hour, whatever the key. The firmware's settings fail before the
    # board is made: the board's defaults then, not a minute's sleep.
    tmp_path, srv, exe = env
    vb = make_board(tmp_path, srv, exe, True)
    assert boot(vb, srv).how == "deepsleep"
    good = json.load(open(os.path.join(vb.flash, "config.json")))
    out = {}

    def restore(c):
        c.clear()
        c.update(json.loads(json.dumps(good)))

    out["logger key"] = _outcome(vb, srv, lambda c: c["streams"]["air_temp"].update(pin="X9"))
    assert "streams.air_temp.pin" in _errlog(vb)
    out["firmware key"] = _outcome(vb, srv, lambda c: (restore(c), c.update(sample_every_s=0)))
    assert "sample_every_s:" in _errlog(vb)
    out["board key"] = _outcome(vb, srv, lambda c: (restore(c), c.update(board={"wakez": 1})))
    assert "board.wakez" in _errlog(vb)
    _edit(vb, restore)
    with open(os.path.join(vb.flash, "config.json"), "a") as f:
        f.write("{")  # a copy cut short
    vb.power_on(rtc_kept=True)
    r = boot(vb, srv)
    out["not JSON"] = (r.how, r.state.get("slept_ms") if r.how == "deepsleep" else None)
    assert "not valid JSON" in _errlog(vb)
    print("OUTCOMES", out)
    assert len(set(out.values())) == 1, out
    # an hour's sleep, RTC memory kept (it ended the boot at the REPL: the next one a power-on)
    assert out["logger key"] == ("deepsleep", 3600000), out


def test_after_a_power_cut_a_daily_remote_upload_every_s_still_uploads_at_once_to_set_the_clock(env):
    tmp_path, srv, exe = env
    remote = {"upload_every_s": {"pin": "V20", "type": "int", "min": 60, "max": 86400}, "read_every_s": 0}
    vb = make_board(tmp_path, srv, exe, True, remote=remote, upload_every_s=3600)
    srv.add_stream(1, 20, "V20", "int", setting=True)
    srv.set_value(1, 20, 86400)  # the app's slider: upload once a day
    r = boot(vb, srv)
    assert r.how == "deepsleep" and "upload: sent" in r.out, r.out
    for _ in range(3):
        assert boot(vb, srv).how == "deepsleep"
    vb.power_on()  # a power cut: the RTC restarts unset, RTC memory lost
    r = boot(vb, srv)
    assert r.how == "deepsleep", r.out
    # docs/FIRMWARE.md: after power-on with the clock unset the first upload comes right after
    # boot (it sets the clock; samples wait boot-relative until then and a power cut drops them)
    assert radio_ups(vb, r.boot_no), "no upload after the power cut: the clock stays unset\n" + r.out


def test_a_boot_fault_at_every_wake_is_one_line_in_the_error_log_counted_across_the_minutes_sleep(env):
    # the store's state file is a folder: the Logger cannot start, the board sleeps a minute and
    # boots again; the error log's state goes through RTC memory as the App's does
    tmp_path, srv, exe = env
    vb = make_board(tmp_path, srv, exe, True)
    os.makedirs(os.path.join(vb.flash, "blynklog-data", "state.json"))
    for _ in range(4):
        r = boot(vb, srv)
        assert r.how == "deepsleep" and r.state.get("slept_ms") == 60000, r.out
    lines = _errlog(vb).splitlines()
    assert len(lines) == 1 and "boot: OSError" in lines[0], lines
