# The boards' files: the virtual board's (boards/unix/board.py) settings checked with errors naming
# the key, and what it lacks; every board's check() of the settings against what the board can do
# (the watchdog maximum, sleep, ADC and I2C pins), which runs at boot and in tools/deploy.py. Its
# chip (boards/unix/chip) and whole boots: tests/test_vboard.py and tests/test_lifetime.py.
import json

import fwfakes  # firmware/ and boards/unix on sys.path
from fwfakes import raw_config
from support import raises

import board as vboard
import settings
from hw import MachineBoard

_boards = {}


def _board(name):
    # boards/<name>/board.py's Board, without importing it as "board" (the virtual board's name)
    if name not in _boards:
        ns = {"__name__": "board_" + name}
        with open(fwfakes._here + "/../boards/%s/board.py" % name) as f:
            exec(f.read(), ns)
        _boards[name] = ns["Board"]
    return _boards[name]


def _example(**over):
    with open(fwfakes._here + "/../firmware/config.example.json") as f:
        raw = json.load(f)
    for k in over:
        raw[k] = over[k]
    return settings.load(raw)


def _pico_w(index=0, **over):
    # the example wired for a Pico W (the battery on GP26, no atten on rp2; the SHT3x on I2C0 GP4/
    # GP5), with over's keys set in sensors[index]
    sensors = [
        {"type": "mcu_temp", "stream": "chip_temp"},
        {
            "type": "sht3x",
            "i2c": {"id": 0, "sda": 4, "scl": 5},
            "address": 68,
            "streams": {"temperature": "air_temp", "humidity": "air_rh"},
        },
        {"type": "adc", "pin": 26, "scale": 0.0001007, "samples": 4, "stream": "battery"},
    ]
    for k in over:
        sensors[index][k] = over[k]
    return _example(sensors=sensors)


def _refusal(name, fw):
    return str(raises(ValueError, _board(name).check, fw))


def test_esp32_check_accepts_the_example_config():
    _board("esp32").check(_example())


def test_rp2040_check_accepts_the_example_wired_for_a_pico_w():
    _board("rp2040").check(_pico_w())


def test_rp2040_check_refuses_a_watchdog_above_8388_ms_naming_the_key():
    e = _refusal("rp2040", _example(watchdog_ms=9000, sensors=[{"type": "mcu_temp", "stream": "chip_temp"}]))
    assert e == "watchdog_ms: at most 8388 on rp2040, got 9000", e


def test_rp2040_check_refuses_adc_pin_34_naming_the_key_and_the_valid_pins():
    e = _refusal("rp2040", _pico_w(2, pin=34))
    assert e == "sensors[2].pin: rp2040 reads ADC on pins 26, 27, 28 only, got 34 (GP29 is the Pico W's radio)", e


def test_rp2040_check_refuses_an_adc_atten():
    e = _refusal("rp2040", _pico_w(2, atten=3))
    assert e.startswith("sensors[2].atten: "), e


def test_esp32_check_refuses_an_adc2_pin():
    e = _refusal("esp32", _example(sensors=[{"type": "adc", "pin": 25, "stream": "battery"}]))
    assert e.startswith("sensors[0].pin: esp32 reads ADC on pins 32, 33, 34, 35, 36, 37, 38, 39 only, got 25"), e


def test_rp2040_check_refuses_an_i2c_sda_pin_of_the_other_bus():
    e = _refusal("rp2040", _pico_w(1, i2c={"id": 0, "sda": 6, "scl": 5}))
    assert e == "sensors[1].i2c.sda: I2C 0's SDA on rp2040 is one of pins 0, 4, 8, 12, 16, 20, 28, got 6", e


def test_rp2040_check_refuses_i2c_scl_on_the_sda_pin():
    e = _refusal("rp2040", _pico_w(1, i2c={"id": 1, "sda": 26, "scl": 26}))
    assert e.startswith("sensors[1].i2c.scl: I2C 1's SCL on rp2040 is one of pins 3, 7, 11, 15, 19, 27,"), e


def test_esp32_check_refuses_i2c_bus_2():
    sensors = [{"type": "aht20", "i2c": 2, "streams": {"temperature": "air_temp"}}]
    e = _refusal("esp32", _example(sensors=sensors))
    assert e == "sensors[0].i2c: esp32 has I2C buses 0, 1, got 2", e


def test_esp32_check_refuses_i2c_on_an_input_only_pin():
    sensors = [{"type": "aht20", "i2c": {"id": 0, "sda": 21, "scl": 35}, "streams": {"temperature": "air_temp"}}]
    e = _refusal("esp32", _example(sensors=sensors))
    assert e.startswith("sensors[0].i2c.scl: I2C 0's SCL on esp32 is one of pins "), e


def test_deep_sleep_is_refused_on_a_board_without_it():
    class Board(MachineBoard):
        name = "nodeep"
        has_deep_sleep = False

    e = str(raises(ValueError, Board.check, settings.load(raw_config(sleep="deep"))))
    assert e.startswith("sleep: nodeep has no deep sleep"), e


def test_the_virtual_board_check_refuses_a_wrong_board_key():
    e = str(raises(ValueError, vboard.Board.check, settings.load(raw_config(board={"wakes": 0}))))
    assert e.startswith("board.wakes:"), e


def test_the_virtual_board_check_lets_adc_and_i2c_sensors_through_as_missing_parts():
    vboard.Board.check(_example())  # they fail when read, as a part that is not wired


def test_board_settings_give_cycles_and_the_final_upload():
    b = vboard.Board({"wakes": 5, "upload_at_end": True})
    assert b.cycles == 5 and b.upload_at_end


def test_the_virtual_board_is_an_esp32_like_board_that_deep_sleeps():
    b = vboard.Board()
    assert b.sleep_default == "deep" and b.has_deep_sleep and b.needs_wifi and b.can_ntp
    assert b.cycles is None and not b.upload_at_end


def test_an_unknown_board_key_names_it():
    e = raises(ValueError, vboard.Board, {"timescale": 2})
    assert str(e).startswith("board.timescale:")


def test_wakes_below_1_names_the_key():
    e = raises(ValueError, vboard.Board, {"wakes": 0})
    assert str(e).startswith("board.wakes:")


def test_mcu_temp_reads_the_setting():
    assert vboard.Board({"mcu_temp": 41.5}).mcu_temperature() == 41.5


def test_the_virtual_board_has_no_i2c_bus():
    raises(OSError, vboard.Board().i2c, None)


def test_a_typo_in_the_board_object_of_a_hardware_board_is_refused_naming_the_key():
    e = _refusal("esp32", _example(board={"Sleep": "deep"}))
    assert e.startswith("board.Sleep: unknown key for esp32") and "top-level" in e, e


def test_i2c_scl_and_sda_on_one_pin_or_one_bus_on_two_pin_pairs_name_the_sensor():
    # a bus is opened once (sensors.i2c_bus), with its first sensor's pins: a later sensor naming
    # others would be read on pins it does not sit on; and SCL and SDA cannot share a pin
    def refusal(*i2c):
        sensors = [{"type": "aht20", "i2c": spec, "stream": "air_temp"} for spec in i2c]
        return _refusal("esp32", _example(sensors=sensors))

    for spec in ({"id": 0, "sda": 21, "scl": 21}, {"id": 0, "scl": 21}):  # 21: the default bus's SDA
        assert refusal(spec) == "sensors[0].i2c: SCL and SDA on one pin, 21", spec
    e = refusal({"id": 1, "scl": 25, "sda": 26}, {"id": 1, "scl": 18, "sda": 19})
    assert e.startswith(
        "sensors[1].i2c: I2C 1 is opened once, as sensors[0].i2c has it (scl 25, sda 26, freq 100000)"
    ), e
    e = refusal({"id": 0}, {"id": 0, "freq": 400000})
    assert e.startswith(
        "sensors[1].i2c: I2C 0 is opened once, as sensors[0].i2c has it (scl 22, sda 21, freq 100000)"
    ), e
    # the same bus with the same pins (or the default's, given or not), or two buses: accepted
    sensors = [
        {"type": "aht20", "stream": "air_temp"},
        {"type": "sht3x", "i2c": {"id": 0, "scl": 22, "sda": 21}, "stream": "air_rh"},
        {"type": "sht3x", "i2c": {"id": 1, "scl": 18, "sda": 19}, "stream": "chip_temp"},
    ]
    _board("esp32").check(_example(sensors=sensors))
