#!/usr/bin/env python3
"""The virtual board: the MicroPython unix port run as an ESP32-like board, one process per boot.

A virtual board is a folder:
    DIR/flash/     the board's file system: tools/deploy.py lays it out (config.json, boot.py,
                   main.py, *.mpy, lib/blynklog/, certs); each boot runs in it
    DIR/chip/      the chip's built-ins (machine, time, network, ntptime: boards/unix/chip),
                   copied here; last on sys.path, outside the file system
    DIR/hw.json    the chip's state between boots: world time, RTC, RTC memory, reset cause,
                   time_scale, Wi-Fi offline windows, the boot number (boards/unix/chip/_vchip.py)
    DIR/events.jsonl  the chip's events, a JSON object a line: the radio up / down (Wi-Fi
                   active(True) / active(False)) and the resets, each with its world time and boot

A boot runs boot.py then main.py with sys.path ['', '.frozen', 'lib', DIR/chip], as a board does.
When the firmware deep-sleeps, the chip writes the wake's state (world time and RTC moved on by
the sleep, RTC memory kept) and the process ends with status 75; the next boot() is the wake.
Resets cut a boot at once (no finally block of the firmware runs); the next boot starts with the
reset's cause, RTC and RTC memory as _vchip.KINDS says an ESP32 with MicroPython's esp32 port has
them:
    "power"     a power cut: cause PWRON_RESET, the RTC restarts unset, RTC memory lost; the power
                comes back off_ms later
    "brownout"  cause PWRON_RESET (the port reports ESP_RST_BROWNOUT so), the RTC keeps its time,
                RTC memory lost
    "wdt"       cause WDT_RESET, the RTC keeps its time, RTC memory kept; the chip's machine.WDT
                resets so by itself when it is not fed within its timeout of world time
    "sw"        machine.reset(): cause HARD_RESET, RTC and its memory kept
A reset comes from outside at a moment of real time (reset_after_s: SIGKILL, then the runner
writes the state from what the chip noted: world time at light sleeps, the RTC's offset, RTC
memory written through), or from the chip at the N-th call of a chip function (plan: the N-th
call while Wi-Fi is active, plan_radio, lands while the radio is on: the brownout under transmit).
Waits are shortened by time_scale: simulated time runs at real speed while the firmware works and
jumps over every sleep (asyncio's waits excepted: its loop waits in real time).

    vb = VBoard("DIR", micropython=".venv/bin/micropython", time_scale=1e6, start_ms=...)
    vb.power_on()                       # a fresh board (the RTC unset, RTC memory empty)
    r = vb.boot(timeout_s=60, kill_after_s=None, off_ms=0)   # kill_after_s: a power cut then
    r = vb.boot(reset_after_s=0.2, reset_kind="wdt")         # a reset of a kind at a real moment
    r = vb.boot(plan=("brownout", 40, True))                 # at the 40th chip call with the radio on
        # -> Boot: how ("deepsleep", "killed" (a power cut), "reset" (another kind), "exit",
        #    "error", "timeout"), rc, out, cycles, world_before / world_end / world_after (the next
        #    boot's start), real_s, boot_no, reset_kind (None or the kind that cut it), radio_cut
        #    (the cut came while the radio was on), calls ([chip calls, those with the radio on])
    vb.set_offline([(start_ms, end_ms), ...])   # Wi-Fi outages, in world time
    vb.events()                         # the chip's events so far (dicts)

CLI (a board that lives through N boots; DIR/flash must be there, laid out by tools/deploy.py;
exit status 1 when a boot fails or hangs):
    python tools/vboard.py DIR [--boots N] [--time-scale S] [--micropython EXE] [--heapsize 512K]
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHIP_SRC = os.path.join(ROOT, "boards", "unix", "chip")
DEEPSLEEP_EXIT = 75
RESET_EXIT = 76
PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
RTC_POWER_ON_MS = 946684800000  # 2000-01-01, where an ESP32's RTC starts after power-on
# kind -> (reset cause, the RTC keeps its time, RTC memory kept): boards/unix/chip/_vchip.py KINDS,
# where the sources are cited
KINDS = {
    "power": (PWRON_RESET, False, False),
    "brownout": (PWRON_RESET, True, False),
    "wdt": (WDT_RESET, True, True),
    "sw": (HARD_RESET, True, True),
}
# boot.py, then main.py, as a board runs them (a missing one is skipped)
LAUNCH = (
    "for _f in ('boot.py', 'main.py'):\n"
    "    try:\n"
    "        _s = open(_f).read()\n"
    "    except OSError:\n"
    "        continue\n"
    "    exec(_s)\n"
)


def default_micropython():
    exe = os.path.join(os.path.dirname(sys.executable), "micropython")
    return exe if os.path.exists(exe) else shutil.which("micropython") or "micropython"


class Boot:
    def __init__(self, how, rc, out, world_before, world_end, world_after, real_s, state, cycles):
        self.how = how  # deepsleep | killed | exit | error | timeout | reset
        self.rc = rc
        self.out = out
        self.world_before = world_before  # world time at its start
        self.world_end = world_end  # at its end (a killed boot: at its last light sleep, or later)
        self.world_after = world_after  # world time at the next boot's start (sleep included)
        self.real_s = real_s
        self.state = state  # the chip state after it
        self.cycles = cycles  # the firmware's cycles in it (a kill may cut one more)
        self.boot_no = state.get("boot_no", 0)
        self.reset_kind = None  # the kind of reset that cut it (power, brownout, wdt, sw)
        self.radio_cut = False  # the cut came while the radio was on
        self.calls = None  # [chip calls, those while Wi-Fi was active] (a boot that slept or was reset from within)
        self.slept = False

    def lines(self):
        return self.out.splitlines()

    def __repr__(self):
        return "Boot(%s, rc=%s, %.2f s)" % (self.how, self.rc, self.real_s)


class VBoard:
    def __init__(self, folder, micropython=None, heapsize="512K", time_scale=None, start_ms=None):
        # an existing board (DIR/hw.json) keeps its world; time_scale, when given, replaces its own
        self.dir = os.path.abspath(folder)
        self.flash = os.path.join(self.dir, "flash")
        self.chip = os.path.join(self.dir, "chip")
        self.state_path = os.path.join(self.dir, "hw.json")
        self.events_path = os.path.join(self.dir, "events.jsonl")
        self.exe = micropython or default_micropython()
        self.heapsize = heapsize
        os.makedirs(self.flash, exist_ok=True)
        shutil.rmtree(self.chip, ignore_errors=True)
        shutil.copytree(CHIP_SRC, self.chip, ignore=shutil.ignore_patterns("__pycache__"))
        self.boots = 0
        if os.path.exists(self.state_path):
            self.state = self._read()
            if time_scale is not None:
                self.state["time_scale"] = time_scale
                self._write(self.state)
        else:
            if os.path.exists(self.events_path):
                os.remove(self.events_path)
            self._write(
                {
                    "world_ms": int(time.time() * 1000) if start_ms is None else int(start_ms),
                    "rtc_ms": None,
                    "memory": None,
                    "cause": PWRON_RESET,
                    "boot": 0,
                    "time_scale": 1 if time_scale is None else time_scale,
                    "offline": [],
                }
            )

    # ---- the chip state

    def _read(self):
        with open(self.state_path) as f:
            return json.load(f)

    def _write(self, state):
        tmp = self.state_path + ".new"
        with open(tmp, "w") as f:
            json.dump(state, f)
        os.replace(tmp, self.state_path)
        self.state = state

    def world_ms(self):
        return self.state["world_ms"]

    def set_offline(self, windows):
        s = dict(self.state)
        s["offline"] = [[int(a), int(b)] for a, b in windows]
        self._write(s)

    def events(self):
        # the chip's events so far: [{"ev": "up" | "down" | "reset", "ms", "boot", ...}, ...]
        try:
            with open(self.events_path) as f:
                lines = f.read().splitlines()
        except OSError:
            return []
        out = []
        for line in lines:
            try:
                out.append(json.loads(line))
            except ValueError:
                pass  # a line cut by a power cut
        return out

    def _event(self, ev, ms, boot, **kw):
        kw.update({"ev": ev, "ms": int(ms), "boot": boot})
        with open(self.events_path, "a") as f:
            f.write(json.dumps(kw) + "\n")

    def _radio_on(self, boot):
        # the radio was on at the end of that boot: its last radio event is an "up"
        on = False
        for e in self.events():
            if e.get("boot") == boot and e["ev"] in ("up", "down"):
                on = e["ev"] == "up"
        return on

    def power_on(self, world_ms=None, rtc_kept=False):
        # a power-on reset: the RTC restarts unset (rtc_kept: it keeps the time, as one on a
        # battery would), RTC memory is empty
        s = dict(self.state)
        if world_ms is not None:
            s["world_ms"] = int(world_ms)
        s.update({"rtc_ms": s["world_ms"] if rtc_kept else None, "memory": None, "cause": PWRON_RESET})
        self._write(s)

    def env(self):
        e = dict(os.environ)
        e["MICROPYPATH"] = ":".join(["", ".frozen", "lib", self.chip])
        e["BLYNKLOG_VBOARD"] = self.state_path
        return e

    def command(self):
        return [self.exe, "-X", "heapsize=" + self.heapsize, "-c", LAUNCH]

    # ---- a boot

    def boot(self, timeout_s=120, kill_after_s=None, off_ms=0, reset_after_s=None, reset_kind="power", plan=None):
        # One boot, until the firmware deep-sleeps, returns, fails, or is cut: by a power cut at
        # kill_after_s (the power comes back off_ms later), by a reset of reset_kind at
        # reset_after_s (real seconds), or by the chip: its watchdog, or plan = (kind, n, radio):
        # a reset of that kind at the n-th chip call (radio: the n-th while Wi-Fi is active). -> Boot
        if kill_after_s is not None:
            reset_after_s, reset_kind = kill_after_s, "power"
        if reset_kind not in KINDS:
            raise ValueError("reset_kind: one of %s" % ", ".join(sorted(KINDS)))
        s = dict(self.state)
        for k in ("noted_ms", "cycles", "calls", "reset", "rtc_off", "plan", "slept_ms"):
            s.pop(k, None)  # the chip notes this boot's
        s["boot_no"] = s.get("boot_no", 0) + 1
        if plan is not None:
            kind, n, radio = plan
            if kind not in KINDS:
                raise ValueError("plan: kind one of %s" % ", ".join(sorted(KINDS)))
            s["plan"] = {"kind": kind, "call": int(n), "radio": bool(radio), "off_ms": int(off_ms)}
        self._write(s)
        before = s["world_ms"]
        rtc_off = (RTC_POWER_ON_MS if s.get("rtc_ms") is None else s["rtc_ms"]) - before
        t0 = time.monotonic()
        p = subprocess.Popen(
            self.command(),
            cwd=self.flash,
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        killed = []

        def kill():
            if p.poll() is not None:
                return  # it ended first
            killed.append(time.monotonic())
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass

        timer = threading.Timer(reset_after_s, kill) if reset_after_s is not None else None
        if timer:
            timer.start()
        timed_out = False
        try:
            out, _ = p.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            kill()
            out, _ = p.communicate()
        finally:
            if timer:
                timer.cancel()
        real = time.monotonic() - t0
        out = out.decode("utf-8", "replace")
        rc = p.returncode
        self.boots += 1
        after = self._read()
        after.pop("plan", None)  # this boot's only (a process at the board's REPL must not meet it)
        cycles = after.get("cycles", 0)  # noted at its sleeps (a kill may cut one more cycle)
        slept = after.get("boot") != s.get("boot")  # the chip wrote the wake's state: it went to sleep
        chip_reset = after.get("reset") if (after.get("reset") or {}).get("boot") == s["boot_no"] else None
        if slept:
            end = after["world_ms"] - after.get("slept_ms", 0)
        elif chip_reset:
            end = chip_reset["ms"]
        else:  # the world time noted at its last light sleep, or its real time (a lower bound)
            end = max(before + int(real * 1000), after.get("noted_ms") or 0)
        kind = None
        radio_cut = False
        if rc == DEEPSLEEP_EXIT and not killed:
            how = "deepsleep"
            self.state = after
        elif chip_reset:
            # the chip reset itself (its watchdog, the plan, machine.reset()) and wrote the next state
            kind, radio_cut = chip_reset["kind"], chip_reset["radio"]
            how = "killed" if kind == "power" else "reset"
            self.state = after
        elif timed_out or rc != -signal.SIGKILL and not killed:
            # main.py returned or failed (a board at the REPL), or hung: the next boot is a power-on
            how = "timeout" if timed_out else {0: "exit", RESET_EXIT: "reset"}.get(rc, "error")
            self.state = after
            self.power_on(max(end, after["world_ms"]))
        else:
            # cut from outside: the next boot's state by the kind, from what the chip noted
            kind = reset_kind
            how = "killed" if kind == "power" else "reset"
            radio_cut = self._radio_on(s["boot_no"])
            self._event("reset", end, s["boot_no"], kind=kind, radio=radio_cut)
            cause, keeps_rtc, keeps_memory = KINDS[kind]
            if slept:  # cut after it wrote the wake's state
                rtc_off = after["rtc_ms"] - after["world_ms"]
            n = dict(after)
            world = max(end, after["world_ms"]) + int(off_ms)
            n.update(
                {
                    "world_ms": world,
                    "cause": cause,
                    "rtc_ms": world + after.get("rtc_off", rtc_off) if keeps_rtc else None,
                    "memory": after.get("memory") if keeps_memory else None,
                }
            )
            self._write(n)
        b = Boot(how, rc, out, before, end, self.state["world_ms"], real, dict(self.state), cycles)
        b.slept = slept  # it reached its deep sleep (a power cut may still have come after)
        b.boot_no = s["boot_no"]
        b.reset_kind = kind
        b.radio_cut = radio_cut
        b.calls = after.get("calls")
        return b


def is_board(folder):
    # a virtual board's folder holds its file system, DIR/flash (tools/deploy.py --flash DIR/flash
    # lays it out; tools/mpbridge.py --vboard DIR --new makes an empty one)
    return os.path.isdir(os.path.join(folder, "flash"))


def find_executable(exe):
    # the unix port's path, or None when exe names no executable (a path or a name on PATH)
    return shutil.which(exe or default_micropython())


def time_scale(text):
    # argparse type of --time-scale: more than 0 (a wait is divided by it), finite
    try:
        scale = float(text)
    except ValueError:
        scale = 0.0
    if not 0 < scale < float("inf"):
        raise argparse.ArgumentTypeError("expected a number more than 0, got %r" % text)
    return scale


def main(argv=None):
    ap = argparse.ArgumentParser(description="Boot a virtual board (a folder laid out by tools/deploy.py) N times.")
    ap.add_argument("dir", help="the virtual board's folder (its file system in DIR/flash)")
    ap.add_argument("--boots", type=int, default=1, help="boots to run (default 1)")
    ap.add_argument(
        "--time-scale",
        type=time_scale,
        default=None,
        help="simulated ms per real ms of a wait, more than 0 (default: the board's, 1 for a new one)",
    )
    ap.add_argument("--micropython", default=None, help="the unix port (default: the venv's)")
    ap.add_argument("--heapsize", default="512K", help="the board's RAM (default 512K)")
    args = ap.parse_args(argv)
    if args.boots < 1:
        ap.error("argument --boots: at least 1, got %d" % args.boots)
    # a mistyped DIR must not become a new, empty board that boots nothing and exits 0
    if not is_board(args.dir):
        sys.exit(
            "vboard: %s: no virtual board there (no flash/ folder); lay one out first: "
            "python tools/deploy.py --board unix --flash %s --config CONFIG"
            % (args.dir, os.path.join(args.dir, "flash"))
        )
    if find_executable(args.micropython) is None:
        sys.exit("vboard: --micropython %s: no such executable" % (args.micropython or default_micropython()))
    vb = VBoard(args.dir, args.micropython, args.heapsize, args.time_scale)
    for _ in range(args.boots):
        r = vb.boot()
        sys.stdout.write(r.out)
        print("vboard: boot %d: %s, %.2f s" % (vb.boots, r.how, r.real_s), flush=True)
        if r.how not in ("deepsleep",):
            break
    # a boot that failed (the firmware raised, the unix port refused its arguments) or hung fails the run
    return 1 if r.how in ("error", "timeout") else 0


if __name__ == "__main__":
    sys.exit(main())
