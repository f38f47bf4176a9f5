# cpython-only: the ESP32 and Pico W board files run against the machine/network stubs (tests/stubs).
# ESP32 and Pico W board files (boards/*/board.py with firmware/hw.py): Wi-Fi with a timeout,
# deep-sleep memory, the watchdog limit, the internal temperature.
import importlib.util
import os

import fwfakes  # noqa: F401
import machine
import network
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _board(name):
    spec = importlib.util.spec_from_file_location("board_" + name, os.path.join(ROOT, "boards", name, "board.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.Board()


WIFI = {"ssid": "net", "password": "pw", "timeout_ms": 1000, "country": None, "hostname": None}


@pytest.mark.parametrize("name", ["esp32", "rp2040"])
def test_wifi_up_then_down(name):
    b = _board(name)
    assert b.wifi_up(WIFI) is None
    w = b._wlan
    assert w.isconnected()
    b.wifi_down()
    assert not w.active()


def test_pico_w_powers_the_radio_down_after_an_upload():
    # active(False) leaves the CYW43 powered: deinit() powers it down, and the next upload makes a
    # new WLAN
    b = _board("rp2040")
    assert b.wifi_up(WIFI) is None
    w = b._wlan
    b.wifi_down()
    assert getattr(w, "deinited", False) and b._wlan is None
    assert b.wifi_up(WIFI) is None and b._wlan is not w


@pytest.mark.parametrize("name", ["esp32", "rp2040"])
def test_the_board_reads_the_links_rssi_while_wifi_is_up(name):
    b = _board(name)
    assert b.wifi_up(WIFI) is None
    assert b.rssi() == network.rssi
    b.wifi_down()
    with pytest.raises(OSError):
        b.rssi()


def test_the_health_hook_gives_the_rssi_during_the_upload_and_leaves_it_out_without_a_link():
    from app import App

    app = App.__new__(App)  # health() reads only the board and the wake count
    app.board, app.wakes = _board("esp32"), 3
    app.board.wifi_up(WIFI)
    assert app.health() == {"wakes": 3, "rssi": network.rssi}
    app.board.wifi_down()
    assert app.health() == {"wakes": 3}


def test_wifi_that_never_connects_gives_up_after_its_timeout(monkeypatch):
    monkeypatch.setattr(network, "reachable", False)
    b = _board("esp32")
    err = b.wifi_up(dict(WIFI, timeout_ms=300))
    assert "no connection" in err and not b._wlan.active()


def test_esp32_keeps_the_schedule_in_rtc_memory_across_deep_sleep(monkeypatch):
    b = _board("esp32")
    b.keep({"up": 123})
    monkeypatch.setattr(machine, "_reset_cause", machine.DEEPSLEEP_RESET)
    assert b.recall() == {"up": 123}


def test_esp32_after_power_on_forgets_the_kept_schedule(monkeypatch):
    b = _board("esp32")
    b.keep({"up": 123})
    monkeypatch.setattr(machine, "_reset_cause", machine.PWRON_RESET)
    monkeypatch.setattr(machine.RTC, "_memory", b"")  # power-on clears RTC memory
    assert b.recall() is None


@pytest.mark.parametrize("cause", ["WDT_RESET", "SOFT_RESET", "HARD_RESET"])
def test_esp32_keeps_the_schedule_across_a_reset_that_keeps_rtc_memory(monkeypatch, cause):
    # a watchdog reset, a brownout's or a soft reset: RTC memory is kept and so is the schedule,
    # so a board that resets under the radio does not come up uploading at once
    b = _board("esp32")
    b.keep({"up": 123})
    monkeypatch.setattr(machine, "_reset_cause", getattr(machine, cause))
    assert b.recall() == {"up": 123}


def test_esp32_rtc_memory_that_is_not_a_json_object_is_ignored(monkeypatch):
    b = _board("esp32")
    for junk in (b"\xff\x00garbage", b"[1, 2]", b"12"):
        monkeypatch.setattr(machine.RTC, "_memory", junk)
        assert b.recall() is None


def test_esp32_deep_sleep_is_machine_deepsleep():
    with pytest.raises(machine.DeepSleep):
        _board("esp32").sleep_ms(60000, "deep")


def test_pico_w_watchdog_is_on_at_its_maximum_by_default():
    b = _board("rp2040")
    assert b.wdt_default({"radio_budget_ms": 30000, "wifi": WIFI}) == 8388
    assert b.wdt_max_ms == 8388 and b.sleep_default == "light"


def test_pico_w_internal_temperature_from_adc4(monkeypatch):
    monkeypatch.setattr(machine.ADC, "readings", {4: int(0.706 / 3.3 * 65535)})
    assert abs(_board("rp2040").mcu_temperature() - 27.0) < 0.1


def test_esp32_watchdog_outlasts_an_upload():
    fw = {"radio_budget_ms": 30000, "wifi": WIFI}
    assert _board("esp32").wdt_default(fw) > 30000 + WIFI["timeout_ms"]


def test_esp32_deep_sleep_cycle_keeps_samples_and_schedule_across_boots(tmp_path, monkeypatch, blynk_emulator):
    # boot 1 (power-on): sample, upload, deep sleep; boot 2 (woken): sample, no upload yet
    import json
    import shutil

    import app

    shutil.copy(blynk_emulator.ca_der_path, tmp_path / "ca.der")
    cfg = {
        "server": blynk_emulator.url,
        "api": "device",
        "token": "test-device-token-2",
        "ca": "ca.der",
        "streams": {"t": {"pin": "V6"}},
        "store": {"path": "store"},
        "wifi": {"ssid": "net"},
        "sensors": [{"type": "mcu_temp", "stream": "t"}],
        "sample_every_s": 60,
        "upload_every_s": 600,
    }
    (tmp_path / "config.json").write_text(json.dumps(cfg))

    class Reset(BaseException):  # machine.deepsleep() never returns: the board resets
        def __init__(self, ms):
            BaseException.__init__(self, ms)
            self.time_ms = ms

    def deepsleep(ms=None):
        raise Reset(ms)

    monkeypatch.setattr(machine, "deepsleep", deepsleep)
    before = len(blynk_emulator.points(2, 6))
    monkeypatch.setattr(machine, "_reset_cause", machine.PWRON_RESET)
    monkeypatch.setattr(machine.RTC, "_memory", b"")  # power-on clears RTC memory
    import hw
    from blynklog.compat import ticks_diff, ticks_ms

    for boot in (1, 2):
        # a board's ticks count from its reset (CPython's from the host's start: a host up less
        # than 10 minutes put its uptime into the boot's, and made the upload due)
        reset = ticks_ms()
        monkeypatch.setattr(hw, "ticks_ms", lambda r=reset: ticks_diff(ticks_ms(), r))
        b = _board("esp32")
        b.boot_grace_ms = 0
        b.mcu_temperature = lambda: 40.0
        with pytest.raises(Reset) as slept:
            app.main(str(tmp_path / "config.json"), board=b)
        assert 0 < slept.value.time_ms <= 60000
        if boot == 1:
            assert len(blynk_emulator.points(2, 6)) == before + 1
        monkeypatch.setattr(machine, "_reset_cause", machine.DEEPSLEEP_RESET)
    assert len(blynk_emulator.points(2, 6)) == before + 1  # boot 2: the next upload is not due yet
    assert json.loads(machine.RTC().memory())["up"] >= 60000


# ---- the Pico W's watchdog through a boot fault's sleep


class WatchdogReset(BaseException):  # the RP2040 resets itself: nothing after it runs
    pass


class _Rp2:
    # The RP2040 as a boot fault meets it: a clock that moves only in its waits (lightsleep, the
    # LED's blinks); the watchdog as machine.WDT(id=0, timeout=ms) arms it, counting from there
    # through lightsleep, reloaded by feed(), never stopped, resetting the chip when not fed within
    # its timeout; mem32 with WATCHDOG_CTRL's ENABLE bit set while it counts; deepsleep(ms) is
    # lightsleep(ms) then a reset, as the rp2 port's.
    def __init__(self):
        self.now = 0
        self.timeout = None
        self.fed = 0
        self.words = {}
        chip = self

        class WDT:
            def __init__(self, id=0, timeout=5000):
                chip.timeout, chip.fed = timeout, chip.now

            def feed(self):
                chip.fed = chip.now

        class Mem32:
            def __getitem__(self, addr):
                if addr == 0x40058000:  # WATCHDOG_CTRL
                    return 0x40000000 if chip.timeout is not None else 0
                return chip.words.get(addr, 0)

            def __setitem__(self, addr, value):
                chip.words[addr] = value

        self.WDT = WDT
        self.mem32 = Mem32()

    def wait(self, ms=None):
        self.now += ms or 0
        if self.timeout is not None and self.now - self.fed > self.timeout:
            raise WatchdogReset("not fed for %d ms" % (self.now - self.fed))

    def deepsleep(self, ms=None):
        self.wait(ms)
        machine.reset()


@pytest.fixture
def rp2(monkeypatch):
    import hw

    chip = _Rp2()
    monkeypatch.setattr(machine, "WDT", chip.WDT)
    monkeypatch.setattr(machine, "mem32", chip.mem32, raising=False)
    monkeypatch.setattr(machine, "lightsleep", chip.wait)
    monkeypatch.setattr(machine, "deepsleep", chip.deepsleep)
    monkeypatch.setattr(hw, "sleep_ms", chip.wait)  # the LED's blinks
    machine.WDT(timeout=8388)  # boot.py's
    return chip


def _pico_boot(folder, **over):
    import json

    import app
    from fwfakes import raw_config

    cfg = raw_config(upload={"timeout_ms": 6000}, **over)
    cfg.update({"api": "device", "token": "t", "insecure": True, "server": "http://127.0.0.1:9"})
    (folder / "config.json").write_text(json.dumps(cfg))
    b = _board("rp2040")
    b.boot_grace_ms = 0
    with pytest.raises(SystemExit):  # machine.reset(), the end of its deep sleep: the next boot
        app.main(str(folder / "config.json"), board=b)


def test_a_pico_ws_boot_fault_sleeps_a_minute_with_boot_pys_watchdog_fed(rp2, tmp_path):
    _pico_boot(tmp_path, store={"path": "config.json/data"})  # below a file: an OSError, not the config
    assert 60000 <= rp2.now < 70000


def test_a_pico_ws_configuration_error_sleeps_an_hour_with_boot_pys_watchdog_fed(rp2, tmp_path):
    _pico_boot(tmp_path, sample_every_s=0)
    assert 3600000 <= rp2.now < 3610000


def test_a_pico_ws_fault_that_main_py_catches_sleeps_a_minute_with_boot_pys_watchdog_fed(rp2, monkeypatch):
    import sys
    import types

    def wake(config_path):
        raise MemoryError("importing")

    monkeypatch.setitem(sys.modules, "sensors", types.SimpleNamespace(wake=wake))
    monkeypatch.setattr(sys, "platform", "rp2")
    monkeypatch.setattr(sys, "print_exception", lambda e: None, raising=False)
    with open(os.path.join(ROOT, "firmware", "main.py")) as f:
        code = compile(f.read(), "main.py", "exec")
    with pytest.raises(SystemExit):
        exec(code, {"__name__": "__main__"})
    assert 60000 <= rp2.now < 70000


def test_a_boot_fault_without_a_board_goes_to_main_pys_sleep_that_keeps_the_watchdog_fed(rp2, tmp_path, monkeypatch):
    # no board to sleep with (its module fails): the fault goes on to main.py's last resort
    import sys
    import types

    import app

    def broken(cfg=None):
        raise MemoryError("making the board")

    monkeypatch.setitem(sys.modules, "board", types.SimpleNamespace(Board=broken))
    (tmp_path / "config.json").write_text("{")
    with pytest.raises(ValueError):
        app.main(str(tmp_path / "config.json"))
    assert rp2.now < 8388
