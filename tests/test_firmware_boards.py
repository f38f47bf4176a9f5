# The virtual board's file (boards/unix/board.py): its settings checked with errors naming the key,
# and what it lacks. Its chip (boards/unix/chip) and whole boots: tests/test_vboard.py and
# tests/test_lifetime.py.
import fwfakes  # noqa: F401  (firmware/ and boards/unix on sys.path)
from support import raises

import board as vboard


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
