# The virtual board (boards/unix/board.py): simulated time over real Unix-ms timestamps, the
# time-scale, the simulated offline period, its settings checked with errors naming the key.
import fwfakes  # noqa: F401  (firmware/ and boards/unix on sys.path)
from support import raises

import board as vboard
from blynklog.compat import unix_ms


def test_simulated_clock_starts_start_ago_s_before_now():
    b = vboard.Board({"start_ago_s": 86400})
    lag = unix_ms() - b.sample_ts()
    assert 86400000 - 60000 < lag <= 86400000


def test_a_sleep_moves_simulated_time_by_its_full_length():
    b = vboard.Board({"time_scale": 100000})
    before = b.ms()
    b.sleep_ms(3600000, "light")  # an hour, waited as 36 ms
    assert b.ms() - before >= 3600000


def test_wifi_is_down_during_the_simulated_offline_period_then_up():
    b = vboard.Board({"time_scale": 100000, "offline_s": 600})
    assert b.wifi_up({}) is not None
    b.sleep_ms(600000, "light")
    assert b.wifi_up({}) is None


def test_board_settings_give_cycles_and_the_final_upload():
    b = vboard.Board({"wakes": 5, "upload_at_end": True})
    assert b.cycles == 5 and b.upload_at_end


def test_an_unknown_board_key_names_it():
    e = raises(ValueError, vboard.Board, {"timescale": 2})
    assert str(e).startswith("board.timescale:")


def test_a_time_scale_below_1_names_the_key():
    e = raises(ValueError, vboard.Board, {"time_scale": 0})
    assert str(e).startswith("board.time_scale:")


def test_the_virtual_board_has_no_i2c_bus():
    raises(OSError, vboard.Board().i2c, None)
