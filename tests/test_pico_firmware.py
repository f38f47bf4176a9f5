# cpython-only: drives the real MicroPython firmware of a Pico W in the RP2040 emulator.
# The firmware's own loop on the emulated Pico W, without Wi-Fi: the image holds what
# tools/deploy.py lays on a Pico W (lib/blynklog/*.mpy, the firmware's .mpy, boards/rp2040's
# board.mpy, boot.py, main.py, config.json with sleep "deep"). Each wake is a fresh run of main.py
# on the flash the previous one left (tests/pico/wake.py turns deep sleep into the end of the
# run: the emulator has no reset). Samples are logged at every wake; the upload of the first wake
# fails at the radio (the emulated CYW43 never starts) and the samples wait. About a minute.
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "pico"))
import picohost

WAKES = 3
CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pico", "fw_config.json")
_state = {}


def _wakes():
    if _state:
        return _state
    sim = picohost.sim()
    # main.py as main_fw.py (wake.py runs it): an image that boots with main.py runs the firmware at
    # the emulator's own boot, until its Ctrl-C lands; under load that race can leave it running
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    img = picohost.image(
        "firmware", config=CONFIG, main=False, extra=[("main_fw.py", os.path.join(root, "firmware", "main.py"))]
    )
    woke = picohost.text("woke.py", "_PICO_WOKE = True\n")
    runs = []
    for n in range(WAKES):
        out = os.path.join(picohost.OUT, "wake%d.img" % n)
        scripts = ([woke] if n else []) + [picohost.script("wake.py")]
        r = sim.run(scripts, fs_in=img, fs_out=out, timeout=600)
        assert r.rc == 0, "wake %d:\n%s" % (n, picohost.explain(r))
        runs.append(r)
        img = out
    c = sim.run([picohost.script("fw_check.py")], fs_in=img, timeout=600)
    assert c.rc == 0, "check:\n" + picohost.explain(c)
    _state.update(
        runs=runs,
        check=c,
        stats=json.loads(c.lines("STATS")[0]),
        kept=json.loads(c.lines("KEPT")[0]),
        errlog=c.lines("ERRLOG"),
    )
    return _state


def test_every_wake_ends_in_deep_sleep_on_the_pico_w():
    for n, r in enumerate(_wakes()["runs"]):
        sleeps = r.lines("DEEPSLEEP")
        assert len(sleeps) == 1 and "MAIN RETURNED" not in r.out, "wake %d:\n%s" % (n, picohost.explain(r))
        assert 0 < int(sleeps[0].split(" ")[0]) <= 60000


def test_samples_from_every_wake_are_in_the_store_on_the_pico_w():
    st = _wakes()["stats"]
    assert st["by"] == {"air_temp": WAKES, "chip_temp": WAKES} and st["pending"] == 2 * WAKES


def test_uploads_wait_without_a_radio_on_the_pico_w():
    s = _wakes()
    assert s["stats"]["sent"] == 0 and s["stats"]["clock_set"] is False
    assert [line for line in s["errlog"] if line.startswith("upload: ") or " upload: " in line], s["errlog"]


def test_the_schedule_is_kept_across_wakes_on_the_pico_w():
    kept = _wakes()["kept"]
    # the first wake's upload counts from its cycle's due time, the reset (not from the moment it
    # began, after the sampling: the next came a sample period late); the next is due an hour
    # after it, counted across the wakes, whose periods run from reset to reset
    assert WAKES * 60000 - 1000 <= kept["up"] <= WAKES * 60000 + 1000, kept
