# cpython-only: drives the real MicroPython firmware of a Pico W in the RP2040 emulator.
# The Logger across power cycles on the emulated Pico W: each step is a fresh run of the firmware
# on the flash image the previous one left (the emulator's only reset is a power cycle), with
# blynklog deployed as .mpy (tests/pico/logger_cycle.py). Flushed samples survive a power cut
# without close(); what close() saved is all there after the next boot. About 40 s of wall time.
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "pico"))
import picohost

_runs = {}


def _step(n):
    # runs steps 1..n once each (in order), each on the image the previous one saved
    for step in range(1, n + 1):
        if step in _runs:
            continue
        sim = picohost.sim()
        src = (
            picohost.image("lib", main=False) if step == 1 else os.path.join(picohost.OUT, "logger%d.img" % (step - 1))
        )
        out = os.path.join(picohost.OUT, "logger%d.img" % step)
        r = sim.run([picohost.script("logger_cycle.py", "STEP = %d\n" % step)], fs_in=src, fs_out=out, timeout=600)
        assert r.rc == 0, "logger step %d:\n%s" % (step, picohost.explain(r))
        _runs[step] = r
    return _runs[n]


def _report(r, step):
    line = r.lines("R %d " % step)
    assert line, "no report:\n" + picohost.explain(r)
    parts = line[0].split(" ")
    values = [int(v) for v in parts[5].split(",")] if len(parts) > 5 and parts[5] else []
    return int(parts[1]), int(parts[3]), values


def test_flushed_samples_survive_a_power_cut_without_close_on_the_pico_w():
    _step(1)
    pending, n, values = _report(_step(2), 2)
    # the 300 flushed are there; of the 25 added after the flush, a prefix may be
    assert 300 <= len(values) <= 325 and values == list(range(len(values)))
    assert pending == n == len(values)


def test_what_close_saved_is_there_after_the_next_boot_on_the_pico_w():
    before = len(_report(_step(2), 2)[2])
    pending, n, values = _report(_step(3), 3)
    assert values == list(range(before)) + list(range(1000, 1100))
    assert n == before + 100 and pending == before + 200


def test_the_logger_leaves_most_of_the_heap_free_on_the_pico_w():
    free = int(_step(3).lines("FREE")[0])
    assert free > 100000, "only %d bytes free after Logger() on the Pico W" % free


def test_a_logger_taken_over_cannot_undo_what_the_new_one_flushed_on_the_pico_w():
    # the collector's close of the first Logger's file, frames in it not synced, is a real close
    # on the firmware's littlefs: it committed that file's view over the second one's flushed
    # samples (they were appended to the same segment)
    r = picohost.sim().run([picohost.script("takeover.py")], fs_in=picohost.image("lib", main=False), timeout=600)
    assert r.rc == 0, picohost.explain(r)
    written = r.lines("WRITTEN")
    assert written and written[0].split()[0] != "0" and written[0].split()[1] == "True", picohost.explain(r)
    line = r.lines("R ")
    assert line, picohost.explain(r)
    pending, expected = [int(v) for v in line[0].split()]
    assert pending == expected, (pending, expected)
