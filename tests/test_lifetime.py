# cpython-only: it deploys to the virtual board and boots it as unix-port processes, killed at random.
# A board's lifetime: the firmware, deployed by tools/deploy.py (through tools/mpbridge.py) onto
# the virtual board (tools/vboard.py: a folder laid out as a board's file system, one process per
# boot, deep sleep between wakes), with firmware/config.example.json (its default store path; the
# server, token and CA of a local emulator, the sensors the virtual board has, a Wi-Fi name) lives
# through many wakes, Wi-Fi outages of hours, power cuts (SIGKILL at random moments: the RTC and
# its memory are lost) and server faults. Then the outages and faults stop and the board drains
# its backlog, and:
#   - every sample of a boot that reached its deep sleep arrived (each cycle of it, each stream),
#     also when a power cut came right after;
#     a boot cut by a power cut gave at most one sample per stream per cycle it began;
#   - nothing arrived that no boot took;
#   - a point arrived twice only when its first arrival came from a boot that was then killed (a
#     batch the server accepted before the power cut, not yet committed);
#   - the books balance: stats' sent + pending + dropped_* + rejected + thinned = samples arrived,
#     with nothing pending and nothing dropped.
# (The books: tests/lifetime.py check_books, shared with tests/test_lifetime_resets.py.)
# Runs on every unix runtime (test_unix_port.runtimes()). make test runs a short life (WAKES
# in tests/lifetime.py); BLYNKLOG_LIFETIME_WAKES=1000 a long one, BLYNKLOG_LIFETIME_SEED=N another seed (printed).
import os
import random
import time

import pytest

from lifetime import (
    FAULTS,
    HOUR,
    MIN,
    SEED,
    STREAMS,
    WAKES,
    boot,
    buffered,
    check_books,
    counted_boot,
    deployed_board,
    drain,
    kept,
    outages,
    stats,
    upload_due,
)
from test_unix_port import runtimes
import vboard  # tools/ (on sys.path through lifetime)


@pytest.fixture(params=sorted(runtimes()))
def board(request, tmp_path):
    # a virtual board of this runtime, with the firmware deployed by tools/deploy.py through the
    # bridge (its REPL), and its own emulator (tests/lifetime.py)
    for vb, srv in deployed_board(runtimes()[request.param], str(tmp_path)):
        yield vb, srv, request.param


def test_deployed_firmware_boots_twice_with_the_default_store_path(board):
    vb, srv, runtime = board
    first = boot(vb, srv)
    second = boot(vb, srv)
    assert first.how == second.how == "deepsleep"
    # the second is a fast wake (sensors.fast_wake): its sample waits in RTC memory, nothing printed
    assert "blynklog firmware on unix" in first.out and second.out == "", second.out
    assert os.path.isdir(os.path.join(vb.flash, "blynklog-data"))
    assert not os.path.exists(os.path.join(vb.flash, "blynklog"))  # the package is lib/blynklog
    assert second.state["cause"] == vboard.DEEPSLEEP_RESET
    # the schedule, kept in RTC memory (two minutes since the upload, to the ms the simulated clocks allow)
    assert 2 * MIN - 100 <= kept(second.state)["up"] < 3 * MIN
    assert "upload: sent 0, pending 0" in first.out  # power-on: the upload (NTP) before the first sample
    assert stats(vb)["pending"] == len(STREAMS)  # the first boot's samples wait in the store for the next upload
    assert len(buffered(second.state)) == 1  # the second's in RTC memory, for the next full wake


def test_an_old_store_named_like_the_package_is_moved_and_the_next_boots_import_the_package(board):
    vb, srv, runtime = board
    boot(vb, srv)
    os.rename(os.path.join(vb.flash, "blynklog-data"), os.path.join(vb.flash, "blynklog"))  # the earlier default
    # the fast wakes (sensors.fast_wake) import no package; the first wake that does, the one that
    # stores their samples (flush_every_s: the 10th), moves the store first
    wakes = []
    while len(wakes) < 10 and not os.path.isdir(os.path.join(vb.flash, "blynklog-data")):
        wakes.append(boot(vb, srv))
    assert [r.how for r in wakes] == ["deepsleep"] * 10, wakes[-1].out
    assert os.path.isdir(os.path.join(vb.flash, "blynklog-data")) and not os.path.exists(
        os.path.join(vb.flash, "blynklog")
    )
    assert stats(vb)["pending"] == 11 * len(STREAMS)  # the store came along: its samples and the ten wakes' wait


def test_a_lifetime_of_wakes_outages_power_cuts_and_server_faults_loses_nothing(board):
    vb, srv, runtime = board
    seed = SEED
    rng = random.Random(seed)
    t0 = time.monotonic()
    start = vb.world_ms()
    offline = outages(rng, start, WAKES * MIN * 3)
    vb.set_offline(offline)
    boots = []  # (Boot, arrivals per stream before it, after it)
    kills = faults = 0
    took = {False: 0.05, True: 0.3}  # real s of a boot without / with an upload, averaged
    while len(boots) < WAKES:
        kill = None
        due = upload_due(vb)
        if due and rng.random() < 0.5:
            kind, params = FAULTS[rng.randrange(len(FAULTS))]
            srv.inject(kind, count=rng.randint(1, 2), **params)
            faults += 1
        if rng.random() < (0.3 if due else 0.05):
            # a moment within such a boot (their length so far: runtimes and machines differ)
            kill = rng.uniform(0.0, 1.1 * took[due])
        r = counted_boot(vb, srv, boots, kill_after_s=kill, off_ms=rng.randint(1, 30) * MIN)
        if r.how == "deepsleep" and r.cycles == 1:
            took[due] = 0.8 * took[due] + 0.2 * r.real_s
        kills += r.how == "killed"
    # the drain: Wi-Fi back for good, no more faults or power cuts, until an upload leaves nothing
    assert drain(vb, srv, boots), "the backlog did not drain in 6 simulated hours:\n" + boots[-1][0].out[-2000:]
    st, distinct, twice = check_books(vb, srv, boots, seed)
    uploads = sum(r.out.count("upload: sent") for r, _, _ in boots)
    deep = sum(1 for r, _, _ in boots if r.how == "deepsleep")
    cycles = sum(r.cycles for r, _, _ in boots)
    print(
        "lifetime %s seed %d: %d boots (%d ended in deep sleep, %d cut by power cuts), %d cycles, %d faults "
        "injected, %d outages, %d uploads, %d samples arrived (%d twice, %d unplaceable), %.0f simulated hours, "
        "%.1f s"
        % (
            runtime,
            seed,
            len(boots),
            deep,
            kills,
            cycles,
            faults,
            len([o for o in offline if o[0] < vb.world_ms()]),
            uploads,
            distinct,
            twice,
            st["unplaceable"],
            (vb.world_ms() - start) / HOUR,
            time.monotonic() - t0,
        )
    )
