# A board left in a field for months: the firmware against faults at boot, resets of every kind
# (deep-sleep wakes, the watchdog, brownouts, power-on), light sleep that returns early, a Logger
# that cannot upload, a battery too low for the radio, and the time a boot takes. Fake board and
# fake Logger (tests/fwfakes.py); the boot paths run app.main() for real.
import json

from fwfakes import DeepSleep, FakeBoard, FakeLogger, FixedSensor, T0, make_app, raw_config
from support import raises, tmpdir

MIN = 60000


def _radio_file(**marker):
    path = tmpdir("rr") + "/fw_radio.json"
    if marker:
        with open(path, "w") as f:
            json.dump(marker, f)
    return path


# ---- boot faults


class WatchdogBoard(FakeBoard):
    boot_watchdog = True  # boot.py started the watchdog, as on a hardware board


def _boot(cfg, board, logger=None):
    import app

    d = tmpdir("boot")
    with open(d + "/config.json", "w") as f:
        json.dump(cfg, f)
    try:
        return app.main(d + "/config.json", board=board, logger=logger), None
    except DeepSleep as e:
        return None, e.args[0]


def test_a_boot_fault_that_is_not_the_configuration_sleeps_and_boots_again():
    cfg = raw_config(log_file="error.log")
    cfg.update({"api": "device", "token": "t", "insecure": True, "server": "http://127.0.0.1:9"})
    cfg["store"] = {"path": "config.json/data"}  # below a file: the store's folder cannot be made (an OSError)
    board = FakeBoard()
    board.has_deep_sleep = True
    result, slept = _boot(cfg, board)
    assert result is None and slept == MIN  # a deep sleep of a minute, then main.py runs again


def test_a_configuration_error_stays_at_the_repl_without_a_watchdog():
    result, slept = _boot(raw_config(sample_every_s=0), FakeBoard())
    assert result is None and slept is None


def test_a_configuration_error_with_the_watchdog_running_sleeps_an_hour():
    result, slept = _boot(raw_config(sample_every_s=0), WatchdogBoard())
    assert result is None and slept == 60 * MIN


def test_a_watchdog_of_0_is_refused_naming_the_key():
    import settings

    e = raises(ValueError, settings.load, raw_config(watchdog_ms=0), True)
    assert str(e).startswith("watchdog_ms:")


def test_a_watchdog_shorter_than_one_network_wait_is_refused_naming_the_key():
    import hw
    import settings

    cfg = raw_config(watchdog_ms=8000)
    cfg["upload"] = {"timeout_ms": 10000}
    e = raises(ValueError, hw.MachineBoard.check, settings.load(cfg, True))
    assert str(e).startswith("watchdog_ms:") and "upload.timeout_ms" in str(e)


def test_the_pico_ws_default_watchdog_needs_a_short_network_wait():
    import settings

    rp2 = _board_class("rp2040")
    e = raises(ValueError, rp2.check, settings.load(raw_config(), True))  # upload.timeout_ms 10000
    assert str(e).startswith("watchdog_ms:") and "at most 6388" in str(e)
    cfg = raw_config()
    cfg["upload"] = {"timeout_ms": 6000}
    rp2.check(settings.load(cfg, True))


def _board_class(name):
    import sys

    here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
    path = here + "/../boards/" + name
    sys.path.insert(0, path)
    try:
        sys.modules.pop("board", None)
        import board

        return board.Board
    finally:
        sys.path.remove(path)
        sys.modules.pop("board", None)


def test_a_watchdog_shorter_than_the_radio_budget_is_fine_as_sync_feeds_it():
    a, board, log = make_app(watchdog_ms=20000, radio_budget_ms=30000)
    a.cycle()
    assert log.feeds == [board.feed]  # sync() got the watchdog's feed
    assert board.feeds >= 3


# ---- resets


def test_a_reset_under_the_radio_holds_the_radio_off_for_an_upload_period():
    path = _radio_file(on=True, n=0, t=None)
    a, board, log = make_app(radio_file=path, upload_every_s=600)
    a.run(cycles=10)  # 9 minutes
    assert board.events == [] and log.syncs == []
    board.t += MIN
    a.cycle()  # 10 minutes after the reset
    assert board.events == ["up", "down"]


def test_resets_under_the_radio_in_a_row_hold_it_off_longer_each_time():
    holds = []
    path = _radio_file()
    for n in range(3):
        with open(path, "w") as f:
            json.dump({"on": True, "n": n, "t": None}, f)
        a, board, log = make_app(radio_file=path, upload_every_s=600)
        holds.append(a.not_before - board.ms())
    assert holds == [600000, 1200000, 2400000]


def test_the_hold_goes_on_across_deep_sleep_wakes_through_rtc_memory():
    path = _radio_file(on=True, n=0, t=None)
    board = FakeBoard()
    a, board, log = make_app(board=board, radio_file=path, upload_every_s=600, sleep="deep")
    raises(DeepSleep, a.sleep, MIN)
    kept = board.kept
    for wake in range(8):  # the wakes of the next 8 minutes, each a new App from RTC memory
        board.t = 0
        board.kept = kept
        a, board, log = make_app(board=board, radio_file=path, upload_every_s=600, sleep="deep")
        a.cycle()
        raises(DeepSleep, a.sleep, MIN)
        kept = board.kept
    assert board.events == []


def test_the_radio_marker_is_cleared_by_an_upload_that_ends():
    path = _radio_file()
    a, board, log = make_app(radio_file=path)
    a.cycle()
    with open(path) as f:
        assert json.load(f)["on"] is False


def test_the_radio_marker_is_set_while_the_radio_is_on():
    path = _radio_file()
    seen = []

    class Board(FakeBoard):
        def wifi_up(self, wifi):
            with open(path) as f:
                seen.append(json.load(f)["on"])
            return FakeBoard.wifi_up(self, wifi)

    a, board, log = make_app(board=Board(), radio_file=path)
    a.cycle()
    assert seen == [True]


def test_a_reset_after_an_ended_upload_keeps_the_schedule_by_the_clock():
    # power-on without RTC memory, but the clock is set and the marker says when the last upload
    # began: the next one waits for its time instead of coming at once
    log = FakeLogger()
    log.clock.now_ms = lambda: 1800000000000 + 5 * MIN
    path = _radio_file(on=False, n=0, t=1800000000000)
    a, board, log = make_app(log=log, radio_file=path, upload_every_s=600)
    a.cycle()
    assert board.events == []
    board.t += 5 * MIN
    a.cycle()
    assert board.events == ["up", "down"]


def test_the_marker_keeps_the_uploads_due_time_so_a_power_on_counts_the_period_from_there():
    # the upload began 30 s after its cycle was due (the sampling, uplink loaded): the marker said
    # the start, and a power-on after it counted the next upload from there, 30 s late
    log = FakeLogger()
    log.clock.now_ms = lambda: 1800000000000 + board.t
    path = _radio_file()
    a, board, log = make_app(log=log, radio_file=path, upload_every_s=600)
    upload = a.upload

    def slow_upload():
        board.t += 30000
        return upload()

    a.upload = slow_upload
    a.cycle(board.t)
    with open(path) as f:
        assert json.load(f)["t"] == 1800000000000, f


def test_after_power_on_without_a_marker_the_first_cycle_uploads():
    a, board, log = make_app(radio_file=_radio_file())
    a.cycle()
    assert board.events == ["up", "down"]


def _error_log_lines_after_wakes_with_parts_missing(parts):
    # 5 deep-sleep wakes whose first `parts` sensors are missing (reported at every wake) -> the
    # lines of error.log
    from errlog import ErrorLog

    path = tmpdir("el") + "/error.log"
    board = FakeBoard()
    for wake in range(5):
        errors = ErrorLog(path, 4096)
        a, board, log = make_app(board=board, errors=errors, sleep="deep")
        for i in range(parts):
            a.sensors[i][0] = None
            a.sensors[i][1] = {"type": "sht3x", "i2c": None, "address": 68 + i, "map": [(0, "ab"[i])]}
        a.sample()
        raises(DeepSleep, a.sleep, MIN)
    with open(path) as f:
        return f.read().splitlines()


def test_the_error_log_counts_a_repeated_error_across_a_deep_sleep_instead_of_writing_it():
    lines = _error_log_lines_after_wakes_with_parts_missing(1)
    assert len(lines) == 1, lines


# ---- sleep


def test_light_sleep_that_returns_early_is_slept_again_until_the_sample_is_due():
    class Early(FakeBoard):
        def sleep_ms(self, ms, mode):
            n = ms if mode != "light" else min(ms, 1000)  # returns after a second at most
            FakeBoard.sleep_ms(self, n, mode)

    a, board, log = make_app(board=Early(), sleep="light", upload_every_s=100000)
    a.run(cycles=5)
    assert board.t >= 4 * MIN and len(log.added) == 5 * 2


def test_a_failed_sleep_waits_in_steps_that_feed_the_watchdog():
    class Board(FakeBoard):
        def sleep_ms(self, ms, mode):
            if mode == "light":
                raise OSError("lightsleep failed")
            FakeBoard.sleep_ms(self, ms, mode)

    a, board, log = make_app(board=Board(), sleep="light", watchdog_ms=20000, upload_every_s=100000)
    a.run(cycles=2)
    assert board.sleeps and max(ms for ms, _ in board.sleeps) <= 10000
    assert sum(ms for ms, _ in board.sleeps) >= MIN - 1


def test_a_long_light_sleep_goes_to_machine_in_parts_rp2_accepts():
    import hw

    asked = []

    class M:
        @staticmethod
        def lightsleep(ms):
            if ms >= 4294967:
                raise ValueError("sleep too long")
            asked.append(ms)

    class Board(hw.MachineBoard):
        def __init__(self):
            self.machine = M

    b = Board()
    b.sleep_ms(3 * 3600000 + 5, "light")
    assert sum(asked) == 3 * 3600000 + 5 and max(asked) < 4294967


def test_the_period_counts_from_the_reset_whatever_the_boot_took():
    board = FakeBoard()
    board.t = 1500  # main.py ran 1.5 s after the reset
    a, board, log = make_app(board=board, sleep="light", upload_every_s=100000)
    a.last_upload = board.ms()
    a.run(cycles=2)
    assert [ts - T0 for _, _, ts in log.added] == [1500, 1500, MIN, MIN]  # the second cycle: a period after the reset


# ---- the radio only when it can help


def test_no_radio_while_the_logger_cannot_upload():
    log = FakeLogger()
    log.wait_ms = 3 * 3600000  # the day's quota spent (or a back-off): three hours to wait
    log.store_bytes = 200000  # and a store past fill_threshold, which asks for early uploads
    a, board, log = make_app(log=log, upload_every_s=3600, fill_threshold=0.5)
    a.run(cycles=4 * 60)  # four hours of 1-minute cycles
    assert board.events.count("up") == 0
    assert a.totals["radio_skips"] == 2  # asked again once each wait was over (at 0 and 3 h), not every cycle


def test_no_radio_below_battery_min():
    a, board, log = make_app(battery_stream="a", battery_min=3.4)
    a.sensors[0][0] = FixedSensor((3.2,))
    a.cycle()
    assert board.events == [] and a.totals["radio_skips"] == 1
    a.sensors[0][0] = FixedSensor((3.9,))
    board.t += 600000
    a.cycle()
    assert board.events == ["up", "down"]


def test_battery_min_without_battery_stream_names_the_key():
    import settings

    e = raises(ValueError, settings.load, raw_config(battery_min=3.4), True)
    assert str(e).startswith("battery_min:")


def test_two_errors_at_every_wake_are_counted_across_deep_sleeps_instead_of_written():
    lines = _error_log_lines_after_wakes_with_parts_missing(2)
    assert len(lines) == 2, lines


def test_a_part_that_cannot_be_made_at_every_wake_is_one_line_not_one_a_wake():
    # the App reports a sensor it cannot make (a bus that does not come up) while it starts, and
    # took the kept error state only after that: each wake wrote the same line again
    from errlog import ErrorLog

    path = tmpdir("el") + "/error.log"
    board = FakeBoard()  # its i2c() raises OSError: no I2C bus
    sensors = [{"type": "sht3x", "i2c": None, "address": 68, "stream": "a"}]
    for wake in range(5):
        errors = ErrorLog(path, 4096)
        a, board, log = make_app(board=board, errors=errors, sleep="deep", sensors=sensors)
        a.sample()  # reported again here: counted
        raises(DeepSleep, a.sleep, MIN)
    with open(path) as f:
        lines = f.read().splitlines()
    assert len(lines) == 1, lines
