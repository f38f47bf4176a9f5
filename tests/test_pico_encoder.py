# cpython-only: drives the real MicroPython firmware of a Pico W in the RP2040 emulator.
# The encoder's tests (tests/test_encoder.py) on the emulated Pico W, against blynklog as deploy
# builds it for the board: there the encoder's two passes are native code (armv6m), which no unix
# port runs, with the RP2040's float32. One pytest item per test; the module runs once on the board
# for all of them (about 10 s of wall time).
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "pico"))
import picohost
import test_encoder

NAMES = sorted(n for n in test_encoder.__dict__ if n.startswith("test_") and callable(test_encoder.__dict__[n]))
_results = {}


def _run():
    if "r" not in _results:
        _results["r"] = picohost.run_tests("test_encoder", NAMES)
    return _results["r"]


@pytest.mark.parametrize("name", [pytest.param(n, id="pico_w::test_encoder::" + n) for n in NAMES])
def test_encoder_on_the_pico_w(name):
    results, r = _run()
    picohost.check_result(results, r, name)
