# The firmware loop (firmware/app.py) against a fake board and a fake Logger: sampling, flushing,
# the upload schedule, Wi-Fi, the clock, the radio budget, sleep, the watchdog, and errors that
# never end the loop.
from fwfakes import FailingSensor, FakeBoard, FakeLogger, FixedSensor, T0, DeepSleep, make_app, raw_config
from support import raises


def test_each_reading_is_added_with_the_boards_sample_timestamp():
    a, board, log = make_app()
    board.t = 5000
    a.sample()
    assert [(s, ts) for s, _, ts in log.added] == [("a", T0 + 5000), ("b", T0 + 5000)]
    assert log.added[1][1] == 41.5


def test_a_sensor_that_fails_is_reported_and_nothing_is_stored_for_it():
    a, board, log = make_app()
    a.sensors[0][0] = FailingSensor(OSError(19))
    a.sample()
    assert [s for s, _, _ in log.added] == ["b"]
    assert a.totals["sensor_errors"] == 1
    assert a.errors.count == 1


def test_a_nan_reading_is_reported_not_stored():
    a, board, log = make_app()
    a.sensors[0][0] = FixedSensor((float("nan"),))
    a.sample()
    assert [s for s, _, _ in log.added] == ["b"]
    assert a.totals["add_errors"] == 1


def test_a_sensor_mapped_to_two_streams_adds_both_fields():
    sensors = [{"type": "sim", "stream": "a"}]
    a, board, log = make_app(sensors=sensors)
    a.sensors[0][0] = FixedSensor((1.5, 2.5))
    a.sensors[0][1]["map"] = [(1, "c"), (0, "a")]
    a.sample()
    assert [(s, v) for s, v, _ in log.added] == [("c", 2.5), ("a", 1.5)]


def test_first_cycle_after_power_on_uploads():
    a, board, log = make_app()
    a.cycle()
    assert board.events == ["up", "down"]
    assert len(log.syncs) == 1


def test_upload_every_s_sets_the_upload_schedule():
    a, board, log = make_app(sample_every_s=60, upload_every_s=600)
    a.run(cycles=21)  # minutes 0..20
    assert len(log.syncs) == 3  # at 0, 10 and 20 minutes
    assert board.events.count("up") == board.events.count("down") == 3


def test_store_past_fill_threshold_uploads_early():
    a, board, log = make_app(sample_every_s=60, upload_every_s=3600, fill_threshold=0.5)
    log.capacity = 1000
    a.cycle()  # the power-on upload
    board.t += 900 * 1000  # a quarter of upload_every_s later
    log.store_bytes = 600
    a.cycle()
    assert len(log.syncs) == 2


def test_store_below_fill_threshold_waits_for_the_schedule():
    a, board, log = make_app(sample_every_s=60, upload_every_s=3600, fill_threshold=0.5)
    log.capacity = 1000
    a.cycle()
    board.t += 900 * 1000
    log.store_bytes = 400
    a.cycle()
    assert len(log.syncs) == 1


def test_wifi_failure_is_reported_and_the_loop_goes_on():
    board = FakeBoard()
    board.wifi_error = "no connection to 'net' after 15000 ms"
    a, board, log = make_app(board=board, upload_every_s=60)
    a.run(cycles=3)
    assert a.totals["cycles"] == 3
    assert a.totals["wifi_failures"] == 3
    assert log.syncs == []
    assert len(log.added) == 6


def test_sync_gets_the_radio_budget_left_after_wifi_came_up():
    board = FakeBoard()
    board.wifi_ms = 4000
    a, board, log = make_app(board=board, radio_budget_ms=30000)
    a.upload()
    assert log.syncs == [26000]


def test_no_sync_when_wifi_took_the_whole_radio_budget():
    board = FakeBoard()
    board.wifi_ms = 29800
    a, board, log = make_app(board=board, radio_budget_ms=30000)
    a.upload()
    assert log.syncs == []
    assert board.events[-1] == "down"


def test_wifi_is_brought_down_even_when_sync_raises():
    log = FakeLogger()
    log.sync_error = MemoryError("memory allocation failed")
    a, board, log = make_app(log=log)
    a.cycle()
    assert board.events == ["up", "down"]
    assert a.totals["loop_errors"] == 1


def test_an_exception_in_a_cycle_does_not_end_the_loop():
    log = FakeLogger()
    log.sync_error = OSError(12)
    a, board, log = make_app(log=log, upload_every_s=60)
    a.run(cycles=4)
    assert a.totals["cycles"] == 4
    assert len(log.syncs) == 4


def test_unset_clock_is_set_by_ntp_before_the_upload():
    log = FakeLogger()
    log.clock.set = False
    a, board, log = make_app(log=log)
    a.upload()
    assert len(log.clock.ntp_calls) == 1
    assert len(log.syncs) == 1


def test_ntp_runs_again_only_after_ntp_every_s():
    a, board, log = make_app(upload_every_s=60, ntp_every_s=300)
    a.run(cycles=7)  # uploads at 0..6 minutes
    assert len(log.clock.ntp_calls) == 2  # at 0 and 5 minutes


def test_a_board_without_ntp_never_asks_for_it():
    board = FakeBoard()
    board.can_ntp = False
    log = FakeLogger()
    log.clock.set = False
    a, board, log = make_app(board=board, log=log)
    a.upload()
    assert log.clock.ntp_calls == []
    assert len(log.syncs) == 1


def test_samples_are_spaced_by_sample_every_s_whatever_the_work_took():
    a, board, log = make_app(sample_every_s=60, upload_every_s=100000)
    board.wifi_ms = 7000  # the first cycle's upload takes 7 s
    a.run(cycles=3)
    assert [ts - T0 for _, _, ts in log.added][::2] == [0, 60000, 120000]


def test_flush_every_s_flushes_by_time():
    a, board, log = make_app(sample_every_s=60, upload_every_s=100000, flush_every_s=180)
    a.run(cycles=7)  # minutes 0..6: flushes at 3 and 6
    assert log.flushes == 2


def test_light_sleep_is_cut_into_steps_that_feed_the_watchdog():
    a, board, log = make_app(sample_every_s=60, sleep="light", watchdog_ms=20000)
    feeds = board.feeds
    a.sleep(60000)
    assert [ms for ms, _ in board.sleeps] == [10000] * 6
    assert board.feeds - feeds == 6


def test_deep_sleep_keeps_the_schedule_and_calls_before_sleep():
    a, board, log = make_app(sample_every_s=60, upload_every_s=600, sleep="deep")
    a.cycle()  # uploads
    board.t += 1000
    raised = False
    try:
        a.sleep(59000)
    except DeepSleep:
        raised = True
    assert raised
    assert log.slept == [59000]
    assert board.kept["up"] == 60000


def test_a_flush_that_fails_before_deep_sleep_is_reported_and_the_board_sleeps_all_the_same():
    # a full flash (ENOSPC) at before_sleep's flush: awake to try again, the board would stay
    # awake for as long as the flash stays full
    a, board, log = make_app(sample_every_s=60, upload_every_s=600, sleep="deep")

    def full(ms):
        raise OSError(28)

    log.before_sleep = full
    raised = False
    try:
        a.sleep(59000)
    except DeepSleep:
        raised = True
    assert raised and board.sleeps[-1] == (59000, "deep") and a.totals["loop_errors"] == 1


def test_a_deep_sleep_that_fails_resets_the_board():
    a, board, log = make_app(sample_every_s=60, upload_every_s=600, sleep="deep")
    resets = []

    class Machine:  # the board's machine module, as far as a reset goes
        def reset(self):
            resets.append(1)

    board.machine = Machine()

    def no_sleep(ms, mode):
        if mode == "deep":
            raise MemoryError("memory allocation failed")
        board.t += ms  # the fallback's wait

    board.sleep_ms = no_sleep
    a.run(cycles=2)
    assert resets == [1] and a.totals["loop_errors"] == 1


def test_a_keep_that_fails_still_flushes_before_deep_sleep():
    # RTC memory too small for the kept schedule: the samples in RAM still go to the store
    a, board, log = make_app(sample_every_s=60, upload_every_s=600, sleep="deep")

    def keep(data):
        raise ValueError("RTC memory too small")

    board.keep = keep
    try:
        a.sleep(59000)
    except DeepSleep:
        pass
    assert log.slept == [59000], log.slept  # before_sleep (the flush) ran


def test_after_deep_sleep_the_kept_schedule_is_resumed():
    board = FakeBoard()
    board.kept = {"up": 580000, "fl": 0, "ntp": 580000}
    a, board, log = make_app(board=board, sample_every_s=60, upload_every_s=600, sleep="deep")
    a.cycle()
    assert log.syncs == []  # 580 s since the last upload: not yet
    board.t += 20000
    a.cycle()
    assert len(log.syncs) == 1


def test_sleep_auto_takes_the_boards_default():
    board = FakeBoard()
    board.sleep_default = "deep"
    a, _, _ = make_app(board=board)
    assert a.sleep_mode == "deep"


def test_deep_sleep_falls_back_to_light_on_a_board_without_it():
    board = FakeBoard()
    board.has_deep_sleep = False
    a, _, _ = make_app(board=board, sleep="deep")
    assert a.sleep_mode == "light"


def test_a_setting_the_board_cannot_do_stops_the_boot_naming_the_key():
    # main() runs the board's check() on the settings (the watchdog maximum, the pins: see
    # tests/test_firmware_boards.py), as it stops for any configuration error
    import json

    import app
    from support import tmpdir

    class Board(FakeBoard):
        @classmethod
        def check(cls, fw):
            raise ValueError("watchdog_ms: at most 8388 on fake, got %d" % fw["watchdog_ms"])

    path = tmpdir("check") + "/config.json"
    with open(path, "w") as f:
        f.write(json.dumps(raw_config(watchdog_ms=20000)))
    assert app.main(path, board=Board()) is None
    with open(path.rsplit("/", 1)[0] + "/error.log") as f:
        assert "watchdog_ms: at most 8388 on fake, got 20000" in f.read()


def test_watchdog_is_started_with_the_configured_timeout():
    a, board, log = make_app(watchdog_ms=45000)
    a.run(cycles=1)
    assert board.wdt == 45000


def test_summary_counts_samples_and_uploads():
    a, board, log = make_app(upload_every_s=120)
    a.run(cycles=3)
    s = a.summary()
    assert s["samples"] == 6 and s["sent"] == 6 and s["uploads"] == 2 and s["pending"] == 0


def test_a_sleep_that_fails_becomes_a_wait_not_a_busy_loop():
    class Board(FakeBoard):
        def sleep_ms(self, ms, mode):
            if mode == "light":
                raise OSError("lightsleep failed")
            FakeBoard.sleep_ms(self, ms, mode)

    a, board, log = make_app(board=Board(), sample_every_s=60, upload_every_s=100000)
    a.run(cycles=3)
    assert board.sleeps == [(60000, "none"), (60000, "none")]
    assert a.totals["loop_errors"] == 2


class RtcBoard(FakeBoard):
    def sample_ts(self):
        return None  # the Logger's clock stamps, as on ESP32 and Pico W


def test_deep_sleep_stays_deep_while_samples_stamped_without_the_time_wait():
    # after a power cut on ESP32 (clock unset, NTP failing): the samples carry boot-relative
    # stamps, and the next boot goes on with this boot's relative time (blynklog.clock), so deep
    # sleep costs them nothing
    log = FakeLogger()
    log.clock.set = False
    log.clock.ntp_ok = False
    a, board, log = make_app(board=RtcBoard(), log=log, sample_every_s=60, sleep="deep")
    a.cycle()
    raises(DeepSleep, a.sleep, 60000)
    assert log.slept == [60000]


def test_without_the_time_the_due_upload_sets_the_clock_before_the_sampling():
    log = FakeLogger()
    log.clock.set = False
    board = RtcBoard()
    a, board, log = make_app(board=board, log=log, sample_every_s=60, sleep="deep")
    read = []
    a.sensors[0][0] = FixedSensor((1.5,))
    a.sensors[0][0].read = lambda: read.append(log.clock.set) or (1.5,)
    a.cycle()
    assert read == [True] and len(log.syncs) == 1
    raises(DeepSleep, a.sleep, 60000)  # nothing was stamped without the time


def _uploads_over_deep_sleep_wakes(boot_ms, wake):
    # 21 wakes a minute apart (a sample a minute, an upload every 10), each a new App from RTC
    # memory, started boot_ms after its reset; wake(a, board) runs its cycle -> the wakes that uploaded
    board = FakeBoard()
    kept = None
    ups = []
    for n in range(21):
        board.t = boot_ms
        board.kept = kept
        a, board, log = make_app(board=board, sample_every_s=60, upload_every_s=600, sleep="deep")
        wake(a, board)
        if log.syncs:
            ups.append(n)
        raises(DeepSleep, a.sleep, 60000 - board.t)
        kept = board.kept
    return ups


def test_deep_sleep_wakes_upload_every_upload_every_s_however_long_the_cycle_takes():
    # a wake's reset is the cycle's due time, but the upload starts later in the wake (the sensors
    # read, uplink loaded): counted from that moment, the upload was not yet due a period later, and
    # came a sample period late (hourly samples and uploads: every two hours)
    def wake(a, board):
        upload = a.upload

        def slow_upload():
            board.t += 30  # loading uplink from flash
            return upload()

        a.upload = slow_upload
        a.cycle()

    assert _uploads_over_deep_sleep_wakes(0, wake) == [0, 10, 20]


def test_full_deep_sleep_wakes_count_the_boot_before_the_app_in_the_upload_schedule():
    # every wake a full one (a Pico W in deep sleep, verbose, a sensor that fails): the kept
    # schedule is as at the reset, but it was taken as at the App's start, a boot's time later, so
    # each wake lost that time from the upload's count and the upload came a sample period late
    # (300 ms from the reset to the App: the boot, the imports, the Logger opened)
    assert _uploads_over_deep_sleep_wakes(300, lambda a, board: a.cycle(0)) == [0, 10, 20]  # run()'s first cycle


def test_ntp_that_does_not_answer_is_asked_again_only_after_ntp_every_s_while_the_clock_is_set():
    # NTP blocked on the network (the server's Date keeps the clock): each upload waited out NTP's
    # timeout (5 s of radio an hour), not once per ntp_every_s
    a, board, log = make_app(upload_every_s=60, ntp_every_s=300)
    log.clock.ntp_ok = False
    a.run(cycles=7)  # uploads at 0..6 minutes
    assert len(log.clock.ntp_calls) == 2  # at 0 and 5 minutes


def test_ntp_that_does_not_answer_is_asked_at_every_upload_while_the_clock_is_unset():
    a, board, log = make_app(upload_every_s=60, ntp_every_s=300)
    log.clock.set = False
    log.clock.ntp_ok = False
    a.run(cycles=3)
    assert len(log.clock.ntp_calls) == 3
