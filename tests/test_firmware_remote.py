# The firmware's schedule from remote settings: the real firmware loop with the real Logger in
# this process (a simulated board, tests/fwfakes.py) against the local Blynk emulator. A setting
# changed on the emulator (as the app's slider, or the emulator's page, sets it) is read at an
# upload and is the schedule from the next wake; each app.main() here is a boot of the board (a
# fresh App and Logger on the same files, as after a deep sleep). Device 2, setting on V20.
import json

import emu
from fwfakes import FakeLogger, SimBoard, make_app
from support import tmpdir


def _config(d):
    cfg = {
        "server": emu.url(),
        "api": "device",
        "token": "test-device-token-2",
        "ca": "ca.der",
        "streams": {"x": {"pin": "V7"}},
        "remote": {"sample_every_s": {"pin": "V20", "type": "int", "min": 10, "max": 3600}, "read_every_s": 0},
        "store": {"path": "store", "capacity": 65536},
        "sensors": [{"type": "sim", "stream": "x"}],
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


def _boot(path, wakes=2, offline_s=0):
    # one boot: `wakes` sample cycles (the first uploads: a power-on's upload is due at once), then
    # the board's last cycle. -> the board's sleeps between cycles, in ms
    import app

    board = SimBoard(wakes, 3600, offline_s)
    assert app.main(path, board=board) is not None
    return [ms for ms, _ in board.sleeps]


def _setup():
    emu.require()
    emu.reset()
    emu.add_stream(2, 20, "V20", "int", setting=True)
    return _config(tmpdir("fwremote"))


def test_a_setting_changed_on_the_emulator_is_the_schedule_from_the_next_wake():
    path = _setup()
    assert set(_boot(path)) == {60000}
    emu.set_value(2, "V20", 120)  # as the page's form (or the app's slider) sets it
    _boot(path)  # its upload reads the setting
    # the next wake, offline: the setting comes from the Logger's state, not the network
    assert set(_boot(path, wakes=3, offline_s=10**6)) == {120000}


def test_an_invalid_setting_is_refused_and_the_schedule_keeps_the_last_good_one():
    path = _setup()
    emu.set_value(2, "V20", 120)
    _boot(path)
    emu.set_value(2, "V20", 5)  # below the setting's min: refused by the Logger
    _boot(path)
    assert set(_boot(path, wakes=3, offline_s=10**6)) == {120000}


# ---- the schedule's decisions at a boot take the upload_every_s in force (a remote one)


class _RemoteLogger(FakeLogger):
    def __init__(self, remote):
        FakeLogger.__init__(self)
        self._remote = remote

    def remote(self):
        return dict(self._remote)


def _radio_file(**marker):
    path = tmpdir("fwradio") + "/fw_radio.json"
    with open(path, "w") as f:
        json.dump(marker, f)
    return path


def test_the_hold_after_a_reset_under_the_radio_is_one_remote_upload_every_s():
    log = _RemoteLogger({"upload_every_s": 86400})  # the app's slider: once a day
    a, board, log = make_app(log=log, radio_file=_radio_file(on=True, n=0, t=None), upload_every_s=600)
    assert a.fw["upload_every_s"] == 86400 and a.not_before - board.ms() == 86400 * 1000


def test_after_a_brownout_the_last_upload_is_judged_by_the_remote_upload_every_s():
    # RTC memory lost, the clock still set (an ESP32 brownout keeps the RTC): the marker says the
    # last upload began 30 minutes ago; the schedule in force is daily
    log = _RemoteLogger({"upload_every_s": 86400})
    t_last = 1800000000000
    log.clock.now_ms = lambda: t_last + 30 * 60000
    a, board, log = make_app(log=log, radio_file=_radio_file(on=False, n=0, t=t_last), upload_every_s=600)
    a.cycle()
    assert board.events == []


def test_after_power_on_the_first_cycle_uploads_with_a_remote_upload_every_s():
    # after power-on the first upload comes right after boot, whatever the period: it sets the clock
    log = _RemoteLogger({"upload_every_s": 86400})
    log.clock.set = False
    a, board, log = make_app(log=log, radio_file=tmpdir("fwradio2") + "/fw_radio.json", upload_every_s=600)
    a.cycle()
    assert board.events == ["up", "down"]


def test_a_remote_value_the_firmware_cannot_take_brings_back_the_files_value_in_a_process_that_lives_on():
    # light sleep: one App for the board's life. A good remote 600, then 0 (the Logger's setting
    # had no min; the firmware's range starts at 1): the schedule kept 600 for good, and the
    # message said "kept 600"; README: the file's value
    log = _RemoteLogger({"upload_every_s": 600})
    a, board, log = make_app(log=log, upload_every_s=3600)
    a.apply_remote()
    assert a.fw["upload_every_s"] == 600
    log._remote = {"upload_every_s": 0}
    a.apply_remote()
    assert a.fw["upload_every_s"] == 3600
    log._remote = {"upload_every_s": 600}
    a.apply_remote()
    assert a.fw["upload_every_s"] == 600
