# cpython-only: it boots the virtual board (tools/vboard.py) on the board-like unix port.
# The firmware's heap over a board's life, as deploy lays it out (package and firmware as .mpy):
# the first boot (its settings and the Logger's configuration validated) and a deep-sleep wake
# that uploads (the journal taken into the store, the upload stack loaded) each complete their
# upload in FIRMWARE_HEAP_KB on the board-like port (32-bit, float32; BLYNKLOG_MICROPYTHON_32,
# else skipped). A Pico W has about 198 KB free for a script, and its mbedTLS takes two buffers of
# about 16.7 KB from that same heap for the upload's session (../shared/spec/platform-facts.md);
# the virtual board's chip (machine, network, time as Python) takes about 10 KB of it that a
# board's C does not. With light sleep (one process through many wakes, as on a Pico W) twenty
# uploads and the samples between them go through LIGHT_HEAP_KB: the store's writing side,
# let go for each sync's batches, comes back for the next sample.
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
from test_heap import _board_port  # noqa: E402

T0 = 1790000000000
# deep sleep: each wake a new process. After the fixes of 2026-12-01 (a 1xx while the body goes,
# obs-text answers, the day's quota by the server's day, the parked and quota_full targets: about
# 1 KB of bytecode), 190 KB failed, 192 completed 2 runs of 3 (a 1,280-byte block), 194-196 all:
# held at 198 (188 before)
FIRMWARE_HEAP_KB = 198
# light sleep: one process, the upload stack kept between uploads. 188 KB measured before the
# store's full-file-system path and today's fixes (about 5 KB of code); now 194 KB completed 3
# runs of 4, 196 failed once in a clean-clone run (a 1,728-byte block), 198-200 all: held at 204
LIGHT_HEAP_KB = 204


@pytest.fixture
def srv(tmp_path):
    from blynk_server import BlynkServer

    s = BlynkServer(tls=True, cert_dir=str(tmp_path / "certs")).start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def board_dir():
    # the virtual board's folder, with a short path: the Logger makes the store's path absolute from
    # the current folder (the board's root, "/" on a board: "/blynklog-data"), and a test folder's
    # 70-character prefix on every path the store builds took heap a board does not spend (the
    # first boot failed at 188 KB and completed at 196; at 188 from here)
    import shutil
    import tempfile

    d = tempfile.mkdtemp(prefix="vb", dir="/tmp")
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _board(tmp_path, board_dir, srv, heap_kb, **over):
    # the example configuration (its sensors simulated, an upload every second wake) deployed on a
    # virtual board of heap_kb with the RTC set, the emulator's clock on the board's
    config = _config(str(tmp_path / "cfg"), srv.url, srv.ca_der_path, upload_every_s=120, **over)
    deploy.deploy_to_folder("unix", board_dir + "/flash", config, out=lambda m: None)
    vb = vboard.VBoard(board_dir, micropython=_board_port(), heapsize="%dK" % heap_kb, time_scale=1e6, start_ms=T0)
    vb.power_on(rtc_kept=True)
    return vb


def _boot(vb, srv, timeout_s=60):
    srv.configure(clock_offset_ms=vb.world_ms() - int(time.time() * 1000))
    return vb.boot(timeout_s=timeout_s)


def _uploads(r):
    return [line for line in r.out.splitlines() if line.startswith("upload:")]


def _sent(upload_line):
    return int(upload_line.split("sent ")[1].split(",")[0])


def test_the_first_boot_and_an_upload_wake_complete_their_uploads_in_the_board_like_heap(tmp_path, board_dir, srv):
    vb = _board(tmp_path, board_dir, srv, FIRMWARE_HEAP_KB)
    sent = 0
    for n in range(3):  # the first boot uploads, the next wake only samples, the third uploads
        r = _boot(vb, srv)
        assert r.how == "deepsleep", r.out
        assert "MemoryError" not in r.out, r.out
        ups = _uploads(r)
        assert len(ups) == (0 if n == 1 else 1), r.out
        if ups:
            assert "stopped done" in ups[0], r.out
            sent += _sent(ups[0])
    assert sent == 12  # 4 streams: the first boot's samples, then the two wakes'


def test_with_light_sleep_twenty_uploads_and_every_sample_between_them_go_through_the_board_like_heap(
    tmp_path, board_dir, srv
):
    vb = _board(tmp_path, board_dir, srv, LIGHT_HEAP_KB, sleep="light", board={"wakes": 40})
    r = _boot(vb, srv, timeout_s=120)
    assert "MemoryError" not in r.out and "ERROR" not in r.out, r.out
    ups = _uploads(r)
    assert len(ups) == 20 and all("stopped done" in u for u in ups), r.out
    assert sum(_sent(u) for u in ups) == 4 * 39  # every wake's 4 samples but the last wake's, still to go
