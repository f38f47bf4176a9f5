# cpython-only: drives the real MicroPython firmware of a Pico W in the RP2040 emulator.
# A sampling wake on the emulated Pico W (tests/pico/sampling_wake.py, twice, a soft reset between:
# each a fresh import of the package as .mpy). The second wake finds the configuration validated
# by the first (the config cache) and loads only the modules a wake needs: not the validator, not
# the upload side. The simulated ms of each phase are printed (pytest -s), not asserted: about
# 250 ms a wake here, of which the imports are half. About 10 s of wall time.
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "pico"))
import picohost

WAKE_MODULES = ["blynklog", "blynklog.clock", "blynklog.compat", "blynklog.record", "blynklog.state",
                "blynklog.store"]
CONFIG = {"server": "https://blynk.cloud", "api": "device", "token": "pico-sim-token", "insecure": True,
          "streams": {"air_temp": {"pin": "V1", "decimals": 2}, "chip_temp": {"pin": "V2", "decimals": 1}},
          "store": {"path": "wake-data", "capacity": 65536}}


def test_a_second_wake_loads_neither_the_validator_nor_the_upload_side_on_the_pico_w():
    sim = picohost.sim()
    cfg = picohost.text("wake-config.json", json.dumps(CONFIG))
    img = sim.image(os.path.join(picohost.OUT, "wake.img"), main=False, extra=[("wake-config.json", cfg)])
    wake = picohost.script("sampling_wake.py")
    r = sim.run([wake, "@softreset", wake], fs_in=img, timeout=600)
    assert r.rc == 0, picohost.explain(r)
    mods = r.lines("MODS")
    assert len(mods) == 2, picohost.explain(r)
    assert "blynklog.config" in mods[0].split(), mods[0]  # the first validates and keeps the result
    assert mods[1].split() == WAKE_MODULES, mods[1]
    for line in r.lines("WAKE"):
        print("pico_w sampling wake (simulated ms):", line)
