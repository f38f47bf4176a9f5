# cpython-only: it boots the virtual board (tools/vboard.py) as unix-port processes.
# The virtual board's chip (boards/unix/chip) across boots, with a small main.py of its own: a
# board's sys.path, deep sleep as the end of a process and a new one, the RTC and its memory kept
# across deep sleep and lost in a power cut, boot-relative ticks restarting, waits shortened by
# the time-scale, asyncio's loop on the chip's clock (its tasks run, its waits last their time,
# waits skipped by the time-scale count for them), Wi-Fi out of reach in an offline window, NTP
# answering the world's time; the
# resets of each kind (watchdog, brownout, power cut, machine.reset()), from outside at a moment of
# real time or from the chip at its N-th call (with the radio on), each with its reset cause and
# what it keeps of the RTC and its memory; the watchdog enforced in world time; the radio's record.
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
    vb = _board(
        tmp_path,
        runtime,
        "machine.RTC().datetime((2026, 9, 21, 1, 12, 0, 0, 0))\n"
        "machine.RTC().memory(b'kept')\nmachine.deepsleep(3600000)\nprint('after')\n",
    )
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
    vb = _board(
        tmp_path, runtime, "import time\ntime.sleep(7200)\nmachine.lightsleep(3600000)\nmachine.deepsleep(1000)\n"
    )
    r = vb.boot(timeout_s=60)
    assert r.how == "deepsleep"  # three hours of waits within the minute's timeout
    assert r.world_after - r.world_before >= 3 * 3600000 + 1000


def test_asyncio_runs_its_tasks_and_an_asyncio_sleep_lasts_its_time_by_ticks_ms(tmp_path, runtime):
    main = (
        "import asyncio, time\nasync def task():\n    print('TASK')\nasync def main():\n"
        "    await asyncio.create_task(task())\n    t = time.ticks_ms()\n    await asyncio.sleep_ms(300)\n"
        "    print('SLEPT', time.ticks_diff(time.ticks_ms(), t))\nasyncio.run(main())\nmachine.deepsleep(1000)\n"
    )
    r = _board(tmp_path, runtime, main).boot(timeout_s=20)
    assert r.how == "deepsleep" and "TASK" in r.out, r
    slept = int(r.out.split("SLEPT ", 1)[1].split()[0])
    assert 300 <= slept < 3000, slept


def test_a_wait_the_time_scale_skips_in_one_task_makes_another_tasks_asyncio_sleep_due(tmp_path, runtime):
    # a task's blocking hour (time.sleep, 3.6 ms of real time) passes another's half-hour asyncio.sleep
    main = (
        "import asyncio, time\nasync def sleeper():\n    await asyncio.sleep(1800)\n    print('WOKE')\n"
        "async def blocker():\n    time.sleep(3600)\nasync def main():\n    s = asyncio.create_task(sleeper())\n"
        "    await asyncio.sleep(0)\n    await asyncio.create_task(blocker())\n    await s\n"
        "asyncio.run(main())\nmachine.deepsleep(1000)\n"
    )
    r = _board(tmp_path, runtime, main).boot(timeout_s=20)
    assert r.how == "deepsleep" and "WOKE" in r.out, r
    assert r.world_before + 3600000 <= r.world_end < r.world_before + 3660000  # no half hour waited after it


def test_asyncio_runs_after_a_week_of_waits_skipped_in_the_same_process(tmp_path, runtime):
    # a week is more than half the ticks' period on a 32-bit port (6.2 days)
    main = (
        "import asyncio, time\ntime.sleep(7 * 86400)\nasync def main():\n    print('RAN')\n"
        "asyncio.run(main())\nmachine.deepsleep(1000)\n"
    )
    r = _board(tmp_path, runtime, main).boot(timeout_s=20)
    assert r.how == "deepsleep" and "RAN" in r.out, r


def test_wifi_is_out_of_reach_in_an_offline_window_and_ntp_answers_the_world_time(tmp_path, runtime):
    main = (
        "import network, ntptime\nw = network.WLAN(network.STA_IF)\nw.active(True)\nw.connect('net', 'pw')\n"
        "print('UP', w.isconnected())\ntry:\n    print('NTP', ntptime.time())\nexcept OSError as e:\n"
        "    print('NTP', e.args[0])\nmachine.deepsleep(3600000)\n"
    )
    vb = _board(tmp_path, runtime, main)
    vb.set_offline([(T0, T0 + 1800000)])
    out = vb.boot().out
    assert "UP False" in out and "NTP 110" in out
    out = vb.boot().out
    assert "UP True" in out
    ntp = int(out.split("NTP ", 1)[1].split()[0])
    assert (T0 + 3600000) // 1000 <= ntp < (T0 + 3600000) // 1000 + 10  # the world's time after the sleep


# ---- resets of each kind (boards/unix/chip/_vchip.py KINDS), the watchdog, the radio's record

SETS = "machine.RTC().datetime((2026, 9, 21, 1, 12, 0, 0, 0))\nmachine.RTC().memory(b'kept')\n"
SET_AT = 1789992000000  # 2026-09-21 12:00 UTC, set by SETS


def test_a_watchdog_reset_reports_wdt_reset_and_keeps_the_rtc_and_its_memory(tmp_path, runtime):
    vb = _board(tmp_path, runtime, SETS + "import time\ntime.sleep_ms(20000)\n", time_scale=1)
    cut = vb.boot(reset_after_s=1.0, reset_kind="wdt", off_ms=0)
    assert cut.how == "reset" and cut.reset_kind == "wdt"
    r = _report(vb.boot(kill_after_s=1.0))
    assert r["cause"] == vboard.WDT_RESET and r["mem"] == "kept"
    assert SET_AT <= r["rtc"] < SET_AT + 20000  # the RTC ran on from its setting


def test_a_brownout_reports_power_on_keeps_the_rtc_and_loses_its_memory(tmp_path, runtime):
    vb = _board(tmp_path, runtime, SETS + "import time\ntime.sleep_ms(20000)\n", time_scale=1)
    cut = vb.boot(reset_after_s=1.0, reset_kind="brownout")
    assert cut.how == "reset" and cut.reset_kind == "brownout"
    r = _report(vb.boot(kill_after_s=1.0))
    assert r["cause"] == vboard.PWRON_RESET and r["mem"] == ""
    assert SET_AT <= r["rtc"] < SET_AT + 20000


def test_a_reset_planned_at_a_chip_call_cuts_the_boot_there_with_its_kind(tmp_path, runtime):
    main = SETS + "import time\nfor i in range(100):\n    print('T', i, time.ticks_ms())\nmachine.deepsleep(1000)\n"
    vb = _board(tmp_path, runtime, main)
    cut = vb.boot(plan=("wdt", 50, False))
    assert cut.how == "reset" and cut.reset_kind == "wdt" and not cut.radio_cut
    assert "T 0 " in cut.out and "T 99 " not in cut.out  # cut within the loop, before the deep sleep
    assert cut.calls[0] == 50
    r = _report(vb.boot())
    assert r["cause"] == vboard.WDT_RESET and r["mem"] == "kept"


def test_a_power_cut_planned_at_a_chip_call_loses_the_rtc_and_its_memory(tmp_path, runtime):
    main = SETS + "import time\nfor i in range(100):\n    time.ticks_ms()\nmachine.deepsleep(1000)\n"
    vb = _board(tmp_path, runtime, main)
    cut = vb.boot(plan=("power", 30, False), off_ms=600000)
    assert cut.how == "killed" and cut.reset_kind == "power"
    assert cut.world_after >= cut.world_end + 600000  # the power came back off_ms later
    r = _report(vb.boot())
    assert r["cause"] == vboard.PWRON_RESET and r["mem"] == "" and r["rtc"] < 978307200000  # unset


def test_machine_reset_reports_hard_reset_and_keeps_the_rtc_and_its_memory(tmp_path, runtime):
    vb = _board(tmp_path, runtime, SETS + "machine.reset()\nprint('after')\n")
    cut = vb.boot()
    assert cut.how == "reset" and cut.reset_kind == "sw" and "after" not in cut.out
    r = _report(vb.boot(kill_after_s=5.0))
    assert r["cause"] == vboard.HARD_RESET and r["mem"] == "kept" and SET_AT <= r["rtc"] < SET_AT + 20000


RADIO = (
    "import network\nw = network.WLAN(network.STA_IF)\nw.active(True)\nw.connect('net', 'pw')\n"
    "for i in range(40):\n    print('C', i, w.isconnected())\n"
)


def test_a_reset_planned_with_the_radio_on_lands_while_it_is_on(tmp_path, runtime):
    vb = _board(
        tmp_path,
        runtime,
        "import time\nfor i in range(200):\n    time.ticks_ms()\n"
        + RADIO
        + "w.active(False)\nmachine.deepsleep(1000)\n",
    )
    cut = vb.boot(plan=("brownout", 10, True))
    assert cut.how == "reset" and cut.radio_cut and cut.calls[1] == 10  # the 10th call with the radio on
    assert cut.calls[0] > 200
    ev = [e for e in vb.events() if e["boot"] == cut.boot_no]
    assert [e["ev"] for e in ev] == ["up", "reset"] and ev[1]["kind"] == "brownout" and ev[1]["radio"]


def test_a_reset_planned_with_the_radio_on_spares_a_boot_without_radio(tmp_path, runtime):
    vb = _board(tmp_path, runtime, "import time\nfor i in range(200):\n    time.ticks_ms()\nmachine.deepsleep(1000)\n")
    r = vb.boot(plan=("brownout", 1, True))
    assert r.how == "deepsleep" and r.calls[1] == 0


def test_the_radio_ups_are_recorded_with_their_world_time_and_boot_number(tmp_path, runtime):
    vb = _board(
        tmp_path,
        runtime,
        "import time\ntime.sleep(600)\n" + RADIO + "w.active(False)\nw.active(True)\nmachine.deepsleep(3600000)\n",
    )
    first = vb.boot()
    second = vb.boot()
    ups = [e for e in vb.events() if e["ev"] == "up"]
    assert [e["boot"] for e in ups] == [first.boot_no, first.boot_no, second.boot_no, second.boot_no]
    assert second.boot_no == first.boot_no + 1
    assert T0 + 600000 <= ups[0]["ms"] < T0 + 605000  # after the boot's ten-minute wait
    assert ups[2]["ms"] >= first.world_after + 600000  # the next boot, an hour later, after its wait
    assert second.radio_cut is False and vb._radio_on(second.boot_no)  # it slept with the radio on


def test_an_unfed_watchdog_resets_the_board_at_its_timeout_of_world_time(tmp_path, runtime):
    main = (
        SETS
        + "import time\nwdt = machine.WDT(timeout=60000)\ntime.sleep(3600)\nprint('after')\nmachine.deepsleep(1000)\n"
    )
    vb = _board(tmp_path, runtime, main)
    cut = vb.boot()
    assert cut.how == "reset" and cut.reset_kind == "wdt" and "after" not in cut.out
    assert cut.world_before + 60000 <= cut.world_end < cut.world_before + 65000  # at the timeout, not after the hour
    r = _report(vb.boot())
    assert r["cause"] == vboard.WDT_RESET and r["mem"] == "kept"


def test_an_overdue_watchdog_resets_at_the_next_chip_call(tmp_path, runtime):
    # no wait passes the deadline: work without chip calls (a shell's sleep) outlasts the timeout
    main = (
        "import os, time\nwdt = machine.WDT(timeout=300)\nos.system('sleep 0.6')\nprint('WORKED')\n"
        "time.ticks_ms()\nprint('after')\nmachine.deepsleep(1000)\n"
    )
    vb = _board(tmp_path, runtime, main, time_scale=1)
    cut = vb.boot()
    assert cut.how == "reset" and cut.reset_kind == "wdt" and "WORKED" in cut.out and "after" not in cut.out


def test_a_fed_watchdog_lets_a_long_boot_reach_its_deep_sleep(tmp_path, runtime):
    main = (
        "import time\nwdt = machine.WDT(timeout=60000)\nfor i in range(120):\n    time.sleep(30)\n"
        "    wdt.feed()\nmachine.deepsleep(1000)\n"
    )
    vb = _board(tmp_path, runtime, main)
    r = vb.boot()
    assert r.how == "deepsleep" and r.world_end >= r.world_before + 3600000


# --- the command line (python tools/vboard.py DIR ...)


def _cli_board(tmp_path, main):
    flash = tmp_path / "vb" / "flash"
    flash.mkdir(parents=True)
    (flash / "main.py").write_text(main)
    return str(tmp_path / "vb")


def test_cli_refuses_a_folder_that_is_no_board_and_makes_nothing(tmp_path):
    with pytest.raises(SystemExit) as e:
        vboard.main([str(tmp_path / "typo")])
    assert "no virtual board there" in str(e.value.code) and not (tmp_path / "typo").exists()


def test_cli_refuses_a_micropython_that_is_no_executable(tmp_path):
    folder = _cli_board(tmp_path, "print('never')\n")
    with pytest.raises(SystemExit) as e:
        vboard.main([folder, "--micropython", str(tmp_path / "nonexistent")])
    assert str(e.value.code).startswith("vboard: --micropython ")


def test_cli_refuses_a_time_scale_of_zero_and_keeps_the_boards(tmp_path, runtime):
    folder = _cli_board(tmp_path, "print('never')\n")
    vboard.VBoard(folder, micropython=runtimes()[runtime], time_scale=1000)
    with pytest.raises(SystemExit) as e:
        vboard.main([folder, "--time-scale", "0", "--micropython", runtimes()[runtime]])
    with open(os.path.join(folder, "hw.json")) as f:
        assert e.value.code == 2 and json.load(f)["time_scale"] == 1000


def test_cli_refuses_zero_boots(tmp_path):
    folder = _cli_board(tmp_path, "print('never')\n")
    with pytest.raises(SystemExit) as e:
        vboard.main([folder, "--boots", "0"])
    assert e.value.code == 2 and not os.path.exists(os.path.join(folder, "hw.json"))


def test_cli_exits_0_when_main_py_returns(tmp_path, runtime):
    folder = _cli_board(tmp_path, "print('done')\n")
    assert vboard.main([folder, "--micropython", runtimes()[runtime]]) == 0


def test_cli_exits_1_when_the_boot_fails(tmp_path, runtime):
    folder = _cli_board(tmp_path, "raise ValueError('broken firmware')\n")
    assert vboard.main([folder, "--micropython", runtimes()[runtime]]) == 1


def test_cli_exits_1_when_the_unix_port_refuses_the_heapsize(tmp_path, runtime):
    folder = _cli_board(tmp_path, "print('never')\n")
    assert vboard.main([folder, "--heapsize", "abc", "--micropython", runtimes()[runtime]]) == 1
