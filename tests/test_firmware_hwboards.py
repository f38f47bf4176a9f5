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
    assert b._wlan.isconnected()
    b.wifi_down()
    assert not b._wlan.active()


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
    assert b.recall() is None


def test_esp32_deep_sleep_is_machine_deepsleep():
    with pytest.raises(machine.DeepSleep):
        _board("esp32").sleep_ms(60000, "deep")


def test_pico_w_watchdog_is_off_by_default_and_limited():
    b = _board("rp2040")
    assert b.wdt_default({"radio_budget_ms": 30000, "wifi": WIFI}) == 0
    assert b.wdt_max_ms == 8388 and b.sleep_default == "light"


def test_pico_w_internal_temperature_from_adc4(monkeypatch):
    monkeypatch.setattr(machine.ADC, "readings", {4: int(0.706 / 3.3 * 65535)})
    assert abs(_board("rp2040").mcu_temperature() - 27.0) < 0.1


def test_esp32_watchdog_outlasts_an_upload():
    fw = {"radio_budget_ms": 30000, "wifi": WIFI}
    assert _board("esp32").wdt_default(fw) > 30000 + WIFI["timeout_ms"]
