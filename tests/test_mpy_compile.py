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


def test_add_path_is_native_code_for_a_board_and_bytecode_without_an_arch(tmp_path):
    # frame_write.py holds encode_into (marked "# @micropython.native"): native code in a board's
    # .mpy (the arch in byte 2, bits 2-7), none without -march (the source as it is: bytecode)
    src = os.path.join(ROOT, "lib", "blynklog", "frame_write.py")
    for march, arch in ((None, "none"), ("armv6m", "armv6m"), ("xtensawin", "xtensawin")):
        out = str(tmp_path / ("frame-%s.mpy" % march))
        r = deploy.mpy_cross_run(src, out, march=march)
        assert r.returncode == 0, r.stderr
        with open(out, "rb") as f:
            header = f.read(4)
        assert deploy.MPY_ARCHS[header[2] >> 2] == arch, (march, header)
