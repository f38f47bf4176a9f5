# cpython-only: runs `make demo`'s program (tools/demo.py) as a subprocess.
# The demo: the real firmware on the virtual board, a simulated offline day, then the upload; then
# a remote setting changed on the emulator's page, taken by the board from its next wake.
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def test_demo_uploads_every_point_of_a_simulated_offline_day_and_exits_0():
    r = subprocess.run(
        [sys.executable, os.path.join(ROOT, "tools", "demo.py")], cwd=ROOT, capture_output=True, text=True, timeout=170
    )
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "OK: every point arrived" in out
    assert "points logged      4323" in out
    assert "chart              http://127.0.0.1:" in out
    assert "remote setting     OK: the board samples every 300 s from the wake after the change" in out
