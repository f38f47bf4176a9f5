# cpython-only: it boots the virtual board (tools/vboard.py) as unix-port processes.
# The firmware's asyncio mode ("asyncio": true) on the virtual board, deployed as on a board, against
# the local Blynk emulator: its loop runs its cycles and its upload (the board's asyncio is the
# port's, on the chip's clock: boards/unix/chip/time.py). The loop's waits are real time, so the
# cycles are a second apart and few.
import json
import os
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
for _p in (os.path.join(ROOT, "tools"), os.path.join(ROOT, "firmware")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import deploy  # noqa: E402
import vboard  # noqa: E402
from test_firmware_fastwake import _config  # noqa: E402
from test_unix_port import runtimes  # noqa: E402

T0 = 1790000000000  # 2026-09-21, Unix ms
CYCLES = 3


@pytest.fixture(params=sorted(runtimes()))
def env(request, tmp_path):
    from blynk_server import BlynkServer

    srv = BlynkServer(tls=True, cert_dir=str(tmp_path / "certs")).start()
    try:
        yield tmp_path, srv, runtimes()[request.param]
    finally:
        srv.stop()


def _boot(env, board):
    # the firmware in asyncio mode, a sample every second, deployed on the virtual board with the
    # board settings given, booted once: -> (the boot's result, its SUMMARY)
    tmp_path, srv, exe = env
    config = _config(
        str(tmp_path / "cfg"),
        srv.url,
        srv.ca_der_path,
        asyncio=True,
        sample_every_s=1,
        upload_every_s=600,
        board=board,
    )
    deploy.deploy_to_folder("unix", str(tmp_path / "vb" / "flash"), config, out=lambda m: None)
    vb = vboard.VBoard(str(tmp_path / "vb"), micropython=exe, heapsize="512K", time_scale=1e6, start_ms=T0)
    vb.power_on(rtc_kept=True)
    srv.configure(clock_offset_ms=vb.world_ms() - int(time.time() * 1000))
    r = vb.boot(timeout_s=60)
    lines = [x for x in r.lines() if x.startswith("SUMMARY ")]
    return r, json.loads(lines[-1][len("SUMMARY ") :]) if lines else None


def test_in_asyncio_mode_the_firmware_runs_its_cycles_and_its_upload_on_the_virtual_board(env):
    r, summary = _boot(env, {"wakes": CYCLES})
    assert r.how == "exit" and "sleep none (asyncio)" in r.out, r.out
    assert summary["cycles"] == CYCLES and summary["samples"] == 4 * CYCLES, summary
    assert summary["uploads"] == 1 and summary["sent"] >= 4 and summary["errors"] == 0, summary  # power-on's


def test_in_asyncio_mode_upload_at_end_runs_its_last_cycle_awake_and_uploads_what_the_cycles_took(env):
    # the board's upload_at_end (the virtual board's end of an offline period) after an asyncio
    # mode's cycles: asyncio mode never sleeps, so its last cycle follows a wait, not a deep sleep
    r, summary = _boot(env, {"wakes": CYCLES, "upload_at_end": True})
    assert r.how == "exit", (r.how, r.out)  # was a deep sleep
    assert summary["cycles"] == CYCLES + 1 and summary["uploads"] == 2, summary
    assert summary["errors"] == 0 and summary["pending"] == 0, summary
