# _vchip: the virtual board's chip (the unix port as an ESP32-like board; tools/vboard.py starts it).
# Its machine, time, network and ntptime modules (beside this file, last on sys.path, outside the
# board's file system: the chip's built-ins) read and write one state here:
#   world time: the simulated "true" time (Unix ms): it runs at real speed while the firmware works
#     and jumps over waits (time.sleep*, lightsleep, deepsleep) shortened by time_scale;
#   the RTC: counts with the world through waits and deep sleep; after power-on it restarts at
#     2000-01-01 (unset) until someone (NTP) sets it; time.time_ns()/time()/gmtime() read it;
#   ticks_ms: boot-relative, restart with every process (every boot), include the skipped waits;
#   RTC memory (machine.RTC().memory()): kept across deep sleep, lost on power-on;
#   the reset cause; Wi-Fi coverage (offline windows of world time).
# The state file (JSON, named by the environment's BLYNKLOG_VBOARD) is what the next boot starts
# from: tools/vboard.py writes it at power-on, machine.deepsleep() writes it (the wake's state)
# and ends the process with exit status 75. lightsleep() also notes the world time and the cycles
# so far in it, so that the runner knows the time after a power cut. Writes go to a temporary file
# and a rename.
import json
import os
import sys

_p = sys.path
sys.path = []
try:
    import time as _t  # the port's own time module
finally:
    sys.path = _p

PATH = os.getenv("BLYNKLOG_VBOARD")
if not PATH:
    raise ImportError("_vchip: not on a virtual board (BLYNKLOG_VBOARD is not set)")
DEEPSLEEP_EXIT = 75
RESET_EXIT = 76
RTC_POWER_ON_MS = 946684800000  # 2000-01-01, where an ESP32's RTC starts after power-on

with open(PATH) as _f:
    state = json.load(_f)

_period = _t.ticks_add(0, -1) + 1
_t0 = _t.ticks_ms()
_skipped = 0  # ms of waits not waited in real time
_world0 = state["world_ms"]
_rtc0 = state.get("rtc_ms")
if _rtc0 is None:
    _rtc0 = RTC_POWER_ON_MS
scale = state.get("time_scale", 1)
memory = state.get("memory")
memory = bytes(memory, "latin-1") if isinstance(memory, str) else b""
cause = state.get("cause", 1)
cycles = 0  # the firmware's cycles in this boot (the board counts each sample: sampled())


def elapsed():
    # ms since this boot (a process never lives near half a tick period: no unwrapping needed)
    return _t.ticks_diff(_t.ticks_ms(), _t0) + _skipped


def ticks():
    # from 0 at this boot, as a board's after a reset
    return elapsed() & (_period - 1)


def world_ms():
    return _world0 + elapsed()


def rtc_ms():
    return _rtc0 + elapsed()


def set_rtc_ms(ms):
    global _rtc0
    _rtc0 = ms - elapsed()


def wait(ms):
    # a wait of ms simulated milliseconds: ms / time_scale of them in real time
    global _skipped
    ms = int(ms)
    if ms <= 0:
        return
    real = int(ms / scale)
    if real > 0:
        _t.sleep_ms(real)
    _skipped += ms - real


def offline(at_ms=None):
    # True when the world time falls in one of the state's offline windows [start, end)
    now = world_ms() if at_ms is None else at_ms
    for w in state.get("offline") or ():
        if w[0] <= now < w[1]:
            return True
    return False


def _write(d):
    tmp = PATH + ".tmp"
    with open(tmp, "w") as f:
        f.write(json.dumps(d))
    os.rename(tmp, PATH)


def sampled():
    global cycles
    cycles += 1


def light_sleep(ms):
    ms = 0 if ms is None else int(ms)
    wait(ms)
    # the world time and cycles so far, for the runner (a power cut may follow)
    d = dict(state)
    d["noted_ms"] = world_ms()
    d["cycles"] = cycles
    _write(d)


def deep_sleep(ms):
    # the state of the wake: world and RTC moved by the sleep, RTC memory kept; then the process ends
    ms = 0 if ms is None else int(ms)
    d = dict(state)
    d["cycles"] = cycles  # of the boot that ends here
    d["world_ms"] = world_ms() + ms
    d["rtc_ms"] = rtc_ms() + ms
    d["memory"] = str(memory, "latin-1")
    d["cause"] = 4  # DEEPSLEEP_RESET
    d["boot"] = state.get("boot", 0) + 1
    d["slept_ms"] = ms
    d.pop("noted_ms", None)
    _write(d)
    raise SystemExit(DEEPSLEEP_EXIT)
