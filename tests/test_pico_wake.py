# cpython-only: drives the real MicroPython firmware of a Pico W in the RP2040 emulator.
# A sampling wake on the emulated Pico W (tests/pico/sampling_wake.py, twice, a soft reset between:
# each a fresh import of the package as .mpy), with an empty store, a backlog of 2,000 samples and
# a full store. The second wake finds the configuration validated by the first (the config cache)
# and loads only the modules a wake needs, whatever the backlog: not the validator, not the upload
# side, not the store (its journal stands in). The simulated ms of each phase are printed (pytest -s), not asserted (tools/bench/
# pico_bench.py reports them). About 15 s of wall time.
import json
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "pico"))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "lib"))
import picohost  # noqa: E402

# the first wake (it validates) opens the store: its frame codec (frame.py, frame_write.py with the
# tail records' encoding), never its readers (segment.py) nor record.py; the next ones write the journal
# (journal.py) and load no store at all. The state file's class is in clock.py
FIRST_WAKE_MODULES = [
    "blynklog",
    "blynklog.clock",
    "blynklog.compat",
    "blynklog.frame",
    "blynklog.frame_write",
    "blynklog.store",
]
WAKE_MODULES = ["blynklog", "blynklog.clock", "blynklog.compat", "blynklog.journal"]
CONFIG = {
    "server": "https://blynk.cloud",
    "api": "device",
    "token": "pico-sim-token",
    "insecure": True,
    "streams": {"air_temp": {"pin": "V1", "decimals": 2}, "chip_temp": {"pin": "V2", "decimals": 1}},
    "store": {"path": "wake-data", "capacity": 65536},
}
T0 = 1767225600000  # 2026-01-01


def write_store(folder, samples):
    # the wake's store with `samples` pending samples (None: until it is full), written by CPython's
    # blynklog (the on-flash format is the same on every runtime) -> [(board path, local path)]
    import blynklog

    cfg = dict(CONFIG, store=dict(CONFIG["store"], path=os.path.join(folder, "wake-data")))
    log = blynklog.Logger(cfg)
    i = 0
    while (samples is None and not log.stats()["dropped_full"]) or (samples is not None and i < samples):
        log.add("air_temp" if i % 2 else "chip_temp", 20 + (i % 500) * 0.01, T0 + i * 30000)
        i += 1
    log.close()
    files = []
    for top, _dirs, names in os.walk(os.path.join(folder, "wake-data")):
        for n in names:
            local = os.path.join(top, n)
            files.append((os.path.relpath(local, folder), local))
    return files


_runs = {}


def wake(tmp_path, samples):
    # the two wakes on an image holding the configuration and a store -> (MODS, IMPORTED) of each,
    # once per store
    if samples not in _runs:
        _runs[samples] = _wake(tmp_path, samples)
    return _runs[samples]


def _wake(tmp_path, samples):
    sim = picohost.sim()
    cfg = picohost.text("wake-config.json", json.dumps(CONFIG))
    extra = [("wake-config.json", cfg)]
    if samples != 0:
        extra += write_store(str(tmp_path), samples)
    img = sim.image(os.path.join(picohost.OUT, "wake-%s.img" % samples), main=False, extra=extra)
    script = picohost.script("sampling_wake.py")
    r = sim.run([script, "@softreset", script], fs_in=img, timeout=600)
    assert r.rc == 0, picohost.explain(r)
    mods = r.lines("MODS")
    imported = r.lines("IMPORTED")
    assert len(mods) == 2 and len(imported) == 2, picohost.explain(r)
    for line in r.lines("WAKE") + r.lines("LOGGER"):
        print("pico_w sampling wake, %s samples (simulated ms): %s" % (samples, line))
    return [m.split() for m in mods], [m.split() for m in imported]


def test_a_second_wake_loads_neither_the_validator_nor_the_upload_side_on_the_pico_w(tmp_path):
    mods, imported = wake(tmp_path, 0)
    assert "blynklog.config" in imported[0], imported[0]  # the first validates and keeps the result
    assert imported[1] == WAKE_MODULES, imported[1]
    assert mods[1] == WAKE_MODULES, mods[1]


def test_the_validator_is_dropped_from_ram_after_the_first_wake_on_the_pico_w(tmp_path):
    mods, imported = wake(tmp_path, 0)
    assert "blynklog.config" in imported[0] and "blynklog.logger_open" in imported[0], imported[0]
    assert mods[0] == FIRST_WAKE_MODULES, mods[0]


@pytest.mark.parametrize("samples", [2000, None], ids=["backlog-2000", "full"])
def test_a_wake_with_a_backlog_loads_the_same_modules_as_one_with_an_empty_store(tmp_path, samples):
    mods, imported = wake(tmp_path, samples)
    assert imported[1] == WAKE_MODULES, imported[1]
    assert mods[1] == WAKE_MODULES, mods[1]
