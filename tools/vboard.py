#!/usr/bin/env python3
"""The virtual board: the MicroPython unix port run as an ESP32-like board, one process per boot.

A virtual board is a folder:
    DIR/flash/     the board's file system: tools/deploy.py lays it out (config.json, boot.py,
                   main.py, *.mpy, lib/blynklog/, certs); each boot runs in it
    DIR/chip/      the chip's built-ins (machine, time, network, ntptime: boards/unix/chip),
                   copied here; last on sys.path, outside the file system
    DIR/hw.json    the chip's state between boots: world time, RTC, RTC memory, reset cause,
                   time_scale, Wi-Fi offline windows (boards/unix/chip/_vchip.py)

A boot runs boot.py then main.py with sys.path ['', '.frozen', 'lib', DIR/chip], as a board does.
When the firmware deep-sleeps, the chip writes the wake's state (world time and RTC moved on by
the sleep, RTC memory kept) and the process ends with status 75; the next boot() is the wake.
A power cut (kill_after_s: SIGKILL at that moment; the power comes back off_ms later) loses the
RTC memory and the RTC's time; the next boot is a power-on. Waits are shortened by time_scale: simulated time runs at
real speed while the firmware works and jumps over every sleep.

    vb = VBoard("DIR", micropython=".venv/bin/micropython", time_scale=1e6, start_ms=...)
    vb.power_on()                       # a fresh board (the RTC unset, RTC memory empty)
    r = vb.boot(timeout_s=60, kill_after_s=None, off_ms=0)
        # -> Boot: how ("deepsleep", "killed", "exit", "error", "timeout"), rc, out, cycles,
        #    world_before / world_end / world_after (the next boot's start), real_s
    vb.set_offline([(start_ms, end_ms), ...])   # Wi-Fi outages, in world time

CLI (a board that lives through N boots):
    python tools/vboard.py DIR [--boots N] [--time-scale S] [--micropython EXE]
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
DEEPSLEEP_RESET = 4
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
            self._write({"world_ms": int(time.time() * 1000) if start_ms is None else int(start_ms),
                         "rtc_ms": None, "memory": None, "cause": PWRON_RESET, "boot": 0,
                         "time_scale": 1 if time_scale is None else time_scale, "offline": []})

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

    def boot(self, timeout_s=120, kill_after_s=None, off_ms=0):
        # One boot, until the firmware deep-sleeps, returns, fails, or is killed (a power cut:
        # the power comes back off_ms later). -> Boot
        s = dict(self.state)
        s.pop("noted_ms", None)
        s.pop("cycles", None)  # the chip counts this boot's
        self._write(s)
        before = s["world_ms"]
        t0 = time.monotonic()
        p = subprocess.Popen(self.command(), cwd=self.flash, env=self.env(), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, start_new_session=True)
        killed = []

        def kill():
            if p.poll() is not None:
                return  # it ended first
            killed.append(time.monotonic())
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass

        timer = threading.Timer(kill_after_s, kill) if kill_after_s is not None else None
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
        cycles = after.get("cycles", 0)  # noted at its sleeps (a kill may cut one more cycle)
        slept = after.get("boot") != s.get("boot")  # the chip wrote the wake's state: it went to sleep
        if slept:
            end = after["world_ms"] - after.get("slept_ms", 0)
        else:  # the world time noted at its last light sleep, or its real time (a lower bound)
            end = max(before + int(real * 1000), after.get("noted_ms") or 0)
        if rc == DEEPSLEEP_EXIT and not killed:
            how = "deepsleep"
            self.state = after
        else:
            if rc == -signal.SIGKILL or killed:
                how = "timeout" if timed_out else "killed"
            else:
                # main.py returned or failed (a board at the REPL), or a reset: the next boot is a reset
                how = {0: "exit", RESET_EXIT: "reset"}.get(rc, "error")
                off_ms = 0
            self.state = after
            self.power_on(max(end, after["world_ms"]) + int(off_ms))
        b = Boot(how, rc, out, before, end, self.state["world_ms"], real, dict(self.state), cycles)
        b.slept = slept  # it reached its deep sleep (a power cut may still have come after)
        return b


def main(argv=None):
    ap = argparse.ArgumentParser(description="Boot a virtual board (a folder laid out by tools/deploy.py) N times.")
    ap.add_argument("dir", help="the virtual board's folder (its file system in DIR/flash)")
    ap.add_argument("--boots", type=int, default=1, help="boots to run (default 1)")
    ap.add_argument("--time-scale", type=float, default=None, help="simulated ms per real ms of a wait "
                    "(default: the board's, 1 for a new one)")
    ap.add_argument("--micropython", default=None, help="the unix port (default: the venv's)")
    ap.add_argument("--heapsize", default="512K", help="the board's RAM (default 512K)")
    args = ap.parse_args(argv)
    vb = VBoard(args.dir, args.micropython, args.heapsize, args.time_scale)
    for _ in range(args.boots):
        r = vb.boot()
        sys.stdout.write(r.out)
        print("vboard: boot %d: %s, %.2f s" % (vb.boots, r.how, r.real_s), flush=True)
        if r.how not in ("deepsleep",):
            break
    return 0


if __name__ == "__main__":
    sys.exit(main())
