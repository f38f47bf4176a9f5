# cpython-only: it runs the unix port with a board-sized heap (-X heapsize) and mpy-cross.
# Requirement 3 (bounded RAM): 10,000 points of one stream go out in one request over verified TLS
# from a 64 KB MicroPython heap, and the emulator receives every one of them exactly.
# The modules are compiled with mpy-cross first, as deploy puts them on a board (compiling .py
# source at import time needs more heap than the upload itself).
import os
import subprocess
import sys

import pytest

import emu

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MODULES = ("compat", "encoder", "http", "blynk")
N = 10000


def _tool(name):
    exe = os.path.join(os.path.dirname(sys.executable), name)
    return exe if os.path.exists(exe) else name


@pytest.fixture(scope="module")
def mpy_lib(tmp_path_factory):
    # blynklog/ with the transport's modules as .mpy and an empty __init__
    lib = tmp_path_factory.mktemp("mpylib")
    pkg = lib / "blynklog"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for m in MODULES:
        out = subprocess.run([_tool("mpy-cross"), "-o", str(pkg / (m + ".mpy")), os.path.join(ROOT, "lib", "blynklog", m + ".py")],
                             capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
    return str(lib)


def _upload(lib, api, heap):
    emu.reset()
    out = subprocess.run([_tool("micropython"), "-X", "heapsize=" + heap, os.path.join(HERE, "heap_upload.py"), lib, api, str(N)],
                         capture_output=True, text=True, timeout=120)
    return out.stdout + out.stderr


def _check_all_points_arrived():
    pts = emu.points(1, 1)
    assert len(pts) == N
    assert [v for _, v in pts[:5]] == [0, 0.25, 0.5, 0.75, 1]
    assert all(pts[i + 1][0] - pts[i][0] == 100 for i in range(N - 1))


def test_ten_thousand_points_go_out_over_verified_tls_in_a_64k_heap_with_the_device_api(mpy_lib):
    out = _upload(mpy_lib, "device", "64K")
    assert "SENT ok 200" in out, out
    _check_all_points_arrived()


def test_ten_thousand_points_go_out_over_verified_tls_in_a_64k_heap_with_the_platform_api(mpy_lib):
    out = _upload(mpy_lib, "platform", "64K")
    assert "SENT ok 204" in out, out
    _check_all_points_arrived()
