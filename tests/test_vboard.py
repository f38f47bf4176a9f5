# cpython-only: it boots the virtual board (tools/vboard.py) as unix-port processes.
# The virtual board's chip (boards/unix/chip) across boots, with a small main.py of its own: a
# board's sys.path, deep sleep as the end of a process and a new one, the RTC and its memory kept
# across deep sleep and lost in a power cut, boot-relative ticks restarting, waits shortened by
# the time-scale, Wi-Fi out of reach in an offline window, NTP answering the world's time.
import json
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tools"))

import vboard  # noqa: E402
from test_unix_port import runtimes  # noqa: E402

T0 = 1790000000000  # 2026-09-21, Unix ms
REPORT = """
import sys, time, machine, json
print('R ' + json.dumps({'path': sys.path, 'rtc': time.time_ns() // 1000000, 'ticks': time.ticks_ms(),
      'cause': machine.reset_cause(), 'mem': str(machine.RTC().memory(), 'latin-1')}))
"""


def _board(tmp_path, runtime, main, time_scale=1e6):
    vb = vboard.VBoard(str(tmp_path / "vb"), micropython=runtimes()[runtime], time_scale=time_scale, start_ms=T0)
    with open(os.path.join(vb.flash, "main.py"), "w") as f:
        f.write(REPORT + main)
    return vb


def _report(boot):
    lines = [x for x in boot.lines() if x.startswith("R ")]
    assert lines, boot.out
    return json.loads(lines[-1][2:])


@pytest.fixture(params=sorted(runtimes()))
def runtime(request):
    return request.param


def test_a_boot_has_a_boards_sys_path_and_no_repository_paths(tmp_path, runtime):
    vb = _board(tmp_path, runtime, "")
    r = _report(vb.boot())
    assert r["path"][:3] == ["", ".frozen", "lib"] and r["path"][3] == vb.chip
    assert not [p for p in r["path"] if p.startswith(ROOT)]


def test_deep_sleep_ends_the_process_and_the_wake_keeps_rtc_and_memory(tmp_path, runtime):
    vb = _board(tmp_path, runtime, "machine.RTC().datetime((2026, 9, 21, 1, 12, 0, 0, 0))\n"
                                   "machine.RTC().memory(b'kept')\nmachine.deepsleep(3600000)\nprint('after')\n")
    first = vb.boot()
    assert first.how == "deepsleep" and "after" not in first.out
    second = _report(vb.boot())
    assert second["cause"] == 4 and second["mem"] == "kept"
    set_at = 1789992000000  # 2026-09-21 12:00 UTC, set in the first boot
    assert set_at + 3600000 <= second["rtc"] < set_at + 3600000 + 5000  # the RTC ran through the sleep
    assert second["ticks"] < 5000  # boot-relative ticks restarted


def test_a_power_cut_loses_the_rtc_and_its_memory(tmp_path, runtime):
    vb = _board(tmp_path, runtime, "machine.RTC().memory(b'kept')\nimport time\ntime.sleep_ms(20000)\n", time_scale=1)
    cut = vb.boot(kill_after_s=1.0, off_ms=60000)
    assert cut.how == "killed"
    r = _report(vb.boot(kill_after_s=1.0))
    assert r["cause"] == 1 and r["mem"] == "" and r["rtc"] < 978307200000  # before 2001: unset


def test_waits_are_shortened_by_the_time_scale_and_the_world_moves_by_their_whole_length(tmp_path, runtime):
    vb = _board(tmp_path, runtime, "import time\ntime.sleep(7200)\nmachine.lightsleep(3600000)\nmachine.deepsleep(1000)\n")
    r = vb.boot(timeout_s=60)
    assert r.how == "deepsleep"  # three hours of waits within the minute's timeout
    assert r.world_after - r.world_before >= 3 * 3600000 + 1000


def test_wifi_is_out_of_reach_in_an_offline_window_and_ntp_answers_the_world_time(tmp_path, runtime):
    main = ("import network, ntptime\nw = network.WLAN(network.STA_IF)\nw.active(True)\nw.connect('net', 'pw')\n"
            "print('UP', w.isconnected())\ntry:\n    print('NTP', ntptime.time())\nexcept OSError as e:\n"
            "    print('NTP', e.args[0])\nmachine.deepsleep(3600000)\n")
    vb = _board(tmp_path, runtime, main)
    vb.set_offline([(T0, T0 + 1800000)])
    out = vb.boot().out
    assert "UP False" in out and "NTP 110" in out
    out = vb.boot().out
    assert "UP True" in out
    ntp = int(out.split("NTP ", 1)[1].split()[0])
    assert (T0 + 3600000) // 1000 <= ntp < (T0 + 3600000) // 1000 + 10  # the world's time after the sleep
