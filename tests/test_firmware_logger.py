# The real firmware loop with the real Logger in this process (a simulated board, tests/fwfakes.py)
# against the local Blynk emulator (verified TLS): what was logged while offline arrives at the
# wake, each point once, with the board's simulated timestamps. Device 2's streams 7 and 8 keep it
# apart from other tests. The virtual board as a board (its own processes): tests/test_lifetime.py.
import json

import emu
from fwfakes import SimBoard
from support import tmpdir


def _config(d):
    cfg = {
        "server": emu.url(),
        "api": "device",
        "token": "test-device-token-2",
        "ca": "ca.der",
        "streams": {"x": {"pin": "V7"}, "y": {"pin": "V8"}},
        "store": {"path": "store", "capacity": 65536},
        "sensors": [{"type": "sim", "stream": "x"}, {"type": "mcu_temp", "stream": "y"}],
        "sample_every_s": 60,
        "upload_every_s": 3600,
        "log_file": "error.log",
        "sleep": "light",
    }
    with open(d + "/ca.der", "wb") as f:
        f.write(emu.read_file(emu.ca_path()))
    with open(d + "/config.json", "w") as f:
        f.write(json.dumps(cfg))
    return d + "/config.json"


def test_points_logged_offline_arrive_once_at_the_wake_with_the_boards_timestamps():
    emu.require()
    emu.reset()  # no fault another test left injected (the fault sweep's last 401) reaches this one
    import app

    before_x = len(emu.points(2, 7))
    before_y = len(emu.points(2, 8))
    path = _config(tmpdir("fwlog"))
    s = app.main(path, board=SimBoard(30, 30 * 60, 1800))
    assert s is not None
    assert s["samples"] == 62 and s["sent"] == 62 and s["pending"] == 0  # 30 offline wakes + the last
    assert s["wifi_failures"] >= 1
    xs = emu.points(2, 7)[before_x:]
    ys = emu.points(2, 8)[before_y:]
    assert len(xs) == 31 and len(ys) == 31
    ts = sorted(p[0] for p in xs)
    assert len(set(ts)) == 31
    assert ts[1] - ts[0] == 60000  # the simulated minute, not the real one


def test_after_power_on_without_ntp_the_boots_first_upload_sets_the_clock_from_the_servers_date():
    # a board's first boot (or a power cut after an upload that left nothing): the RTC unset, NTP
    # blocked, the server reachable. The upload that comes before the first sample is there to get
    # the time; with nothing pending it made no request, so the clock stayed unset until the next
    # upload (every wake a full one meanwhile, the samples boot-relative: lost to a power cut)
    emu.require()
    emu.reset()
    import app
    import blynklog
    from blynklog.clock import Clock
    from blynklog.compat import ticks_ms

    path = _config(tmpdir("fwdate"))
    log = blynklog.Logger(path)
    clock = Clock(log._state, port_time_ms=lambda: 946684800000 + ticks_ms())  # the RTC after power-on
    log.clock = clock
    log._uploader.clock = clock

    def no_ntp(timeout_ms=2000):
        clock.last_error = "ntp: timeout"
        return False

    clock.sync_ntp = no_ntp

    class Board(SimBoard):
        can_ntp = True  # it asks NTP (which does not answer), and uploads before its first sample

    board = Board(1, 0)
    board.upload_at_end = False
    assert app.main(path, board=board, logger=log) is not None
    assert clock.is_set()


class _DriftedRTC:
    # an ESP32's RTC after a day of deep sleep: its RC oscillator ran two minutes fast
    def __init__(self, off_ms):
        self.off = off_ms

    def datetime(self, dt=None):
        from blynklog.clock import rtc_ms
        from blynklog.compat import unix_ms

        if dt is not None:
            self.off = rtc_ms(dt) - unix_ms()
            return None
        ms = unix_ms() + self.off
        import time

        t = time.gmtime(ms // 1000)
        return (t[0], t[1], t[2], t[6], t[3], t[4], t[5], (ms % 1000) * 1000)


def test_an_rtc_that_drifted_through_deep_sleep_is_corrected_by_the_uploads_server_date():
    # NTP not asked (not due, or blocked): the clock kept by the RTC alone was never corrected by
    # the server's Date, so its drift went on into every timestamp, without bound while NTP failed
    emu.require()
    emu.reset()
    import app
    import blynklog
    from blynklog.clock import Clock
    from blynklog.compat import unix_ms

    path = _config(tmpdir("fwdrift"))
    log = blynklog.Logger(path)
    rtc = _DriftedRTC(120000)
    clock = Clock(log._state, rtc=rtc)
    log.clock = clock
    log._uploader.clock = clock
    assert clock.is_set() and clock.now_ms() - unix_ms() > 100000
    board = SimBoard(1, 0)
    board.upload_at_end = False
    assert app.main(path, board=board, logger=log) is not None
    assert abs(clock.now_ms() - unix_ms()) < 3000, clock.now_ms() - unix_ms()
    assert abs(rtc.off) < 3000  # and the RTC with it, for the next wakes


def _error_lines(path, rtc_ms):
    # error.log after one boot of the firmware whose RTC reads rtc_ms at its start and whose
    # Logger's clock reads the same RTC; a sensor fails at every sample (no I2C bus)
    emu.require()
    emu.reset()
    import app
    import blynklog
    from blynklog.clock import Clock

    class Board(SimBoard):
        def time_ms(self):
            return rtc_ms + self.t

    board = Board(2, 0)
    board.upload_at_end = False
    log = blynklog.Logger(path)
    clock = Clock(log._state, port_time_ms=board.time_ms)
    log.clock = clock
    log._uploader.clock = clock
    assert app.main(path, board=board, logger=log) is not None
    with open(path.rsplit("/", 1)[0] + "/error.log") as f:
        return [ln for ln in f.read().split("\n") if ln]


def _with_failing_sensor(d):
    path = _config(d)
    with open(path) as f:
        cfg = json.loads(f.read())
    cfg["sensors"].append({"type": "sht3x", "streams": {"temperature": "x"}})  # no I2C bus here
    with open(path, "w") as f:
        f.write(json.dumps(cfg))
    return path


def test_error_log_lines_carry_no_time_stamp_while_the_clock_is_unset():
    # an RTC after power-on (year 2000) dated every line to 2000
    lines = _error_lines(_with_failing_sensor(tmpdir("fwerrunset")), 946684800000)
    assert lines and all(not ln.split(" ", 1)[0].isdigit() for ln in lines), lines


def test_error_log_lines_carry_the_loggers_time_once_the_clock_is_set():
    t0 = 1800000000000
    lines = _error_lines(_with_failing_sensor(tmpdir("fwerrset")), t0)
    stamps = [int(ln.split(" ", 1)[0]) for ln in lines]
    assert stamps and all(t0 <= t < t0 + 3600000 for t in stamps), lines
