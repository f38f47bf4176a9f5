# cpython-only: it deploys to the virtual board and boots it as unix-port processes, reset at random.
# A board's lifetime with resets of every kind a field board meets, besides the Wi-Fi outages, power
# cuts and server faults of tests/test_lifetime.py: the firmware deployed with
# firmware/config.example.json onto the virtual board (tools/vboard.py) lives through many boots,
# some cut at random moments by
#   - a power cut (PWRON_RESET; the RTC and its memory lost; the power back 1 to 30 min later),
#   - a brownout (PWRON_RESET, as MicroPython's esp32 port reports ESP_RST_BROWNOUT; the RTC runs
#     on; RTC memory lost),
#   - a watchdog reset (WDT_RESET; the RTC and its memory kept),
#   - a software reset or panic (HARD_RESET; the RTC and its memory kept),
# either from the chip at its N-th call (for a boot that uploads, mostly the N-th call with the
# radio on: the brownout under transmit) or from outside at a moment of real time (in the middle
# of anything, a flash write included); besides, the chip's watchdog resets a boot that does not
# feed it in time. Then the faults and outages stop, the board drains its backlog, and:
#   - no boot halts: every boot ends in deep sleep or is cut by a reset or power cut (a firmware
#     stopped at the REPL, returned, failed or hung is a halt);
#   - the books balance exactly as tests/test_lifetime.py checks them (tests/lifetime.py
#     check_books);
#   - no loop of radio wakes: after a boot whose radio-on period a reset cut, the radio stays off
#     for upload_every_s of world time; over the whole life the radio comes up at most once per
#     upload slot, plus once per reset, plus one (the bound is derived at its test).
# The life runs once per runtime (a module-scoped fixture) and each test asserts one of these on
# it. Runs on every unix runtime (test_unix_port.runtimes()). make test runs a short life
# (WAKES boots: a few seconds per runtime); BLYNKLOG_LIFETIME_WAKES=1000 a long one,
# BLYNKLOG_LIFETIME_SEED=N another seed (printed). Besides the life, one step of it planned on a
# short life of its own (a few boots): a watchdog reset between the clock's before_sleep() and the
# deep sleep places nothing a sleep early (the step a loaded machine gave seed 5 now and then).
import json
import os
import random
import time

import pytest

from lifetime import (
    CUT,
    FAULTS,
    HOUR,
    MIN,
    ROOT,
    SEED,
    STREAMS,
    TOL_MS,
    arrivals,
    check_books,
    counted_boot,
    deployed_board,
    drain,
    outages,
    upload_due,
)
from test_unix_port import runtimes

# boots before the drain: short default (5-15 s per runtime), BLYNKLOG_LIFETIME_WAKES=1000 a long life
WAKES = int(os.getenv("BLYNKLOG_LIFETIME_WAKES") or 100)
# the kinds of reset and their weights (a software reset or panic is the rarest in the field)
KINDS = (("power", 3), ("brownout", 3), ("wdt", 3), ("sw", 1))
RESET_P = {True: 0.6, False: 0.08}  # a reset in a boot that uploads / that does not
RADIO_SHARE = 0.75  # of the resets in a boot that uploads: planned at a call with the radio on
RADIO_CUTS = 4  # until this many resets cut the radio, every boot that uploads gets one planned there
DRAIN_HOURS = 24
with open(os.path.join(ROOT, "firmware", "config.example.json")) as _f:
    UPLOAD_EVERY_MS = json.load(_f)["upload_every_s"] * 1000


def _kind(rng):
    n = rng.randrange(sum(w for _, w in KINDS))
    for kind, w in KINDS:
        if n < w:
            return kind
        n -= w
    raise AssertionError("unreachable")


def _live(vb, srv, runtime):
    seed = SEED
    rng = random.Random(seed)
    t0 = time.monotonic()
    start = vb.world_ms()
    offline = outages(rng, start, WAKES * MIN * 3)
    vb.set_offline(offline)
    boots = []  # (Boot, arrivals per stream before it, after it)
    faults = 0
    took = {False: 0.05, True: 0.3}  # real s of a boot without / with an upload, averaged
    # chip calls of a boot without / with the radio up (all, with the radio on), averaged: where a
    # planned reset may land
    calls = {False: [20.0, 0.0], True: [600.0, 400.0]}
    while len(boots) < WAKES:
        due = upload_due(vb)
        if due and rng.random() < 0.5:
            kind, params = FAULTS[rng.randrange(len(FAULTS))]
            srv.inject(kind, count=rng.randint(1, 2), **params)
            faults += 1
        kw = {}
        radio_cuts = sum(1 for r, _, _ in boots if r.radio_cut)
        if rng.random() < RESET_P[due] or due and radio_cuts < RADIO_CUTS:
            kind = _kind(rng)
            # the power back after a cut; the supply back after a brownout; a reboot's own time (the
            # boot ROM, the bootloader, MicroPython's start: a second or more on an ESP32). Never
            # under 2 * TOL_MS, so that the books tell a cut boot's samples from the next boot's.
            kw["off_ms"] = {"power": rng.randint(1, 30) * MIN, "brownout": rng.randint(3000, 60000)}.get(
                kind, rng.randint(3000, 5000)
            )
            where = rng.random()
            if due and (where < RADIO_SHARE or radio_cuts < RADIO_CUTS):
                kw["plan"] = (kind, rng.randint(1, max(1, int(calls[True][1]))), True)
            elif where < ((RADIO_SHARE + 1) / 2 if due else 0.5):
                kw["plan"] = (kind, rng.randint(1, max(1, int(calls[due][0]))), False)
            else:  # a moment of real time within such a boot (runtimes and machines differ)
                kw["reset_after_s"] = rng.uniform(0.0, 1.1 * took[due])
                kw["reset_kind"] = kind
        r = counted_boot(vb, srv, boots, allowed=None, **kw)
        r.injected = kw
        if r.how == "deepsleep" and r.cycles == 1:
            took[due] = 0.8 * took[due] + 0.2 * r.real_s
        if r.how == "deepsleep" and r.calls and (r.calls[1] > 0) == due:
            calls[due] = [0.8 * c + 0.2 * n for c, n in zip(calls[due], r.calls)]
    # a firmware that backs off after repeated resets with the radio on may wait hours: a day
    drained = drain(vb, srv, boots, allowed=None, hours=DRAIN_HOURS)
    for r, _, _ in boots[WAKES:]:
        r.injected = {}
    life = {
        "vb": vb,
        "srv": srv,
        "runtime": runtime,
        "seed": seed,
        "boots": boots,
        "drained": drained,
        "start": start,
        "end": vb.world_ms(),
        "events": vb.events(),
        "faults": faults,
        "outages": len([o for o in offline if o[0] < vb.world_ms()]),
        "real_s": time.monotonic() - t0,
    }
    print(_figures(life))
    return life


def _figures(life):
    boots = [r for r, _, _ in life["boots"]]
    kinds = {}
    for r in boots:
        if r.reset_kind:
            key = r.reset_kind + ("" if r.injected else " (watchdog, not injected)")
            kinds[key] = kinds.get(key, 0) + 1
    ups = [e for e in life["events"] if e["ev"] == "up"]
    return (
        "lifetime resets %s seed %d: %d boots (%d ended in deep sleep), %d resets (%s; %d with the radio on), "
        "%d radio-ups, %d upload slots, %d faults injected, %d outages, %.0f simulated hours, %.1f s"
        % (
            life["runtime"],
            life["seed"],
            len(boots),
            sum(1 for r in boots if r.how == "deepsleep"),
            sum(kinds.values()),
            ", ".join("%s %d" % kv for kv in sorted(kinds.items())),
            sum(1 for r in boots if r.radio_cut),
            len(ups),
            _slots(life),
            life["faults"],
            life["outages"],
            (life["end"] - life["start"]) / HOUR,
            life["real_s"],
        )
    )


def _slots(life):
    return (life["end"] - life["start"]) // UPLOAD_EVERY_MS + 1


@pytest.fixture(scope="module", params=sorted(runtimes()))
def life(request, tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("life-" + request.param))
    for vb, srv in deployed_board(runtimes()[request.param], folder):
        yield _live(vb, srv, request.param)


def test_no_boot_of_a_life_with_resets_halts(life):
    halted = [
        "boot %d: %s (exit %s): %s" % (r.boot_no, r.how, r.rc, " | ".join(r.lines()[-3:]))
        for r, _, _ in life["boots"]
        if r.how not in ("deepsleep",) + CUT or "firmware stopped" in r.out
    ]
    assert not halted, "seed %d: %d boots halted:\n%s" % (life["seed"], len(halted), "\n".join(halted[:10]))


def test_the_books_of_a_life_with_resets_balance(life):
    assert life["drained"], "the backlog did not drain in %d simulated hours:\n%s" % (
        DRAIN_HOURS,
        life["boots"][-1][0].out[-2000:],
    )
    st, distinct, twice = check_books(life["vb"], life["srv"], life["boots"], life["seed"])
    print(
        "lifetime resets %s seed %d: books: %d samples arrived (%d twice, %d unplaceable)"
        % (life["runtime"], life["seed"], distinct, twice, st["unplaceable"])
    )


def test_after_a_reset_that_cut_the_radio_the_radio_stays_off_for_upload_every_s(life):
    # from the reset's moment (world time) to the next radio-up, in whatever boot it comes, unless
    # the power went (a power cut, or a brownout with the radio off) in between: a board that
    # comes back from that looks as after power-on, loses RTC memory, and uploads at once to get
    # the time; what a weak cell's loop is made of, resets with the radio on, are all counted
    ups = [e for e in life["events"] if e["ev"] == "up"]
    cut = [r for r, _, _ in life["boots"] if r.radio_cut]
    power_ons = [r.boot_no for r, _, _ in life["boots"] if r.reset_kind in ("power", "brownout") and not r.radio_cut]
    early = []
    for r in cut:
        nxt = [e for e in ups if e["boot"] > r.boot_no]
        if nxt and [b for b in power_ons if r.boot_no < b < nxt[0]["boot"]]:
            continue
        if nxt and nxt[0]["ms"] - r.world_end < UPLOAD_EVERY_MS:
            early.append(
                "boot %d (%s, power back after %.1f min): the radio up again %.1f min after the reset, "
                "in boot %d"
                % (
                    r.boot_no,
                    r.reset_kind,
                    (r.world_after - r.world_end) / MIN,
                    (nxt[0]["ms"] - r.world_end) / MIN,
                    nxt[0]["boot"],
                )
            )
    assert cut, "seed %d: no reset cut the radio: nothing was checked" % life["seed"]
    assert not early, "seed %d: %d of %d resets that cut the radio were followed by a radio-up within %d min:\n%s" % (
        life["seed"],
        len(early),
        len(cut),
        UPLOAD_EVERY_MS // MIN,
        "\n".join(early[:10]),
    )


def test_the_radio_comes_up_at_most_once_per_upload_slot_plus_once_per_reset(life):
    # The bound. The radio comes up only for an upload (MachineBoard.wifi_up), and an upload
    # starts when upload_every_s (U) has passed since the last one started (the schedule; the early
    # upload past fill_threshold never comes here: a short or long life fills a few % of the store).
    # So between two resets (a stretch of length L in world time) the radio-ups are at most
    # 1 + floor(L / U): the first may come at once (a boot without a kept schedule uploads at
    # once), each next one U later (the board's own ms, which count no more than the world time
    # between its boots). Over R resets there are R + 1 stretches whose lengths add up to the life
    # T: ups <= R + 1 + sum(floor(L_i / U)) <= R + 1 + floor(T / U) = slots + R, with slots =
    # floor(T / U) + 1, the upload slots of the life. The constant 1 spares the rounding of ms
    # between the schedule's start of an upload and its radio-up.
    ups = [e for e in life["events"] if e["ev"] == "up"]
    resets = sum(1 for r, _, _ in life["boots"] if r.how in CUT)
    slots = _slots(life)
    assert len(ups) <= slots + resets + 1, "seed %d: %d radio-ups in a life of %d upload slots and %d resets" % (
        life["seed"],
        len(ups),
        slots,
        resets,
    )


@pytest.mark.parametrize("runtime", sorted(runtimes()))
def test_a_watchdog_reset_between_the_clocks_before_sleep_and_the_deep_sleep_places_nothing_a_sleep_early(
    runtime, tmp_path
):
    # The step of seed 5's life that a loaded machine sometimes gave, planned: a board without the
    # time (Wi-Fi out of reach after power-on) wakes from deep sleep without it, and one wake is
    # cut by the watchdog at its machine.deepsleep() call, after Logger.before_sleep() saved the
    # planned minute; the reset's own time is 5 s. Once the time comes (upload_every_s 300 here,
    # a short life), whatever arrived lies within its boot, none a sleep early.
    for vb, srv in deployed_board(runtimes()[runtime], str(tmp_path)):
        path = os.path.join(vb.flash, "config.json")
        with open(path) as f:
            cfg = json.load(f)
        cfg["upload_every_s"] = 300
        with open(path, "w") as f:
            json.dump(cfg, f)
        vb.set_offline([(vb.world_ms(), vb.world_ms() + 4 * MIN)])
        boots = []
        for _ in range(2):
            r = counted_boot(vb, srv, boots, allowed=("deepsleep",))
        # a wake like the one before makes as many chip calls: the last is its deepsleep()
        cut = counted_boot(vb, srv, boots, allowed=("reset",), plan=("wdt", r.calls[0], False), off_ms=5000)
        with open(os.path.join(vb.flash, "blynklog-data", "state.json")) as f:
            entry = json.load(f)["clock"]["boots"][-1]
        assert not cut.slept and entry[4] is not None, (entry, cut.out)  # cut after before_sleep()
        for _ in range(10):
            r = counted_boot(vb, srv, boots, allowed=("deepsleep",))
            if "upload: sent" in r.out:
                break
        assert "upload: sent" in r.out, r.out
        for sid, pts in enumerate(arrivals(srv)):
            for ts, _ in pts:
                assert [1 for b, _, _ in boots if b.world_before - TOL_MS <= ts <= b.world_end + TOL_MS], (
                    "%s: %d taken by no boot (boots start at %s)"
                    % (STREAMS[sid], ts, [b.world_before for b, _, _ in boots])
                )
        assert sum(len(p) for p in arrivals(srv)) > 0
