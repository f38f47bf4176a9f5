# _vchip: the virtual board's chip (the unix port as an ESP32-like board; tools/vboard.py starts it).
# Its machine, time, network and ntptime modules (beside this file, last on sys.path, outside the
# board's file system: the chip's built-ins) read and write one state here:
#   world time: the simulated "true" time (Unix ms): it runs at real speed while the firmware works
#     and jumps over waits (time.sleep*, lightsleep, deepsleep) shortened by time_scale;
#   the RTC: counts with the world through waits and deep sleep; after power-on it restarts at
#     2000-01-01 (unset) until someone (NTP) sets it; time.time_ns()/time()/gmtime() read it;
#   ticks_ms: boot-relative, restart with every process (every boot), include the skipped waits;
#   asyncio's clock (loop_ticks, given to asyncio by time.py): the port's own ticks plus the
#     skipped waits, as MicroPython's C scheduler stamps a task made ready with the port's ticks;
#   RTC memory (machine.RTC().memory()): kept across deep sleep and the resets that keep it (KINDS);
#   the reset cause; Wi-Fi coverage (offline windows of world time); the watchdog.
# The state file (JSON, named by the environment's BLYNKLOG_VBOARD) is what the next boot starts
# from: tools/vboard.py writes it at power-on, machine.deepsleep() writes it (the wake's state)
# and ends the process with exit status 75. lightsleep() and each cycle's sample also note the world
# time and the cycles so far in it, so that the runner knows the time after a power cut; setting the RTC notes its
# offset from the world time (rtc_off) and setting RTC memory writes it through, so that the runner
# can make the state after a reset it injects from outside (tools/vboard.py). Writes go to a
# temporary file and a rename.
# Resets: every call of a chip function (call()) first checks
#   - the watchdog (machine.WDT): not fed within its timeout of world time -> a "wdt" reset; a wait
#     (time.sleep*, lightsleep) that would pass the deadline ends at it with the reset (the WDT
#     counts through waits and light sleep; deep sleep ends the boot and with it the WDT);
#   - the runner's plan for this boot (state["plan"]: {kind, call: N, radio, off_ms}): a reset of
#     that kind at the N-th chip call (radio: the N-th call made while Wi-Fi is active, so that it
#     lands while the radio is on; a boot that makes fewer such calls is not reset).
# A reset writes the next boot's state by KINDS, notes {kind, ms, boot, radio} as state["reset"]
# and ends the process at once (SIGKILL from a shell: no finally block of the firmware runs, as on
# a board). The chip also appends its events to events.jsonl beside the state file, one JSON
# object a line: {"ev": "up" | "down" | "reset", "ms": world time, "boot": boot number, ...}.
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
EVENTS = PATH.rsplit("/", 1)[0] + "/events.jsonl" if "/" in PATH else "events.jsonl"
DEEPSLEEP_EXIT = 75
RESET_EXIT = 76
RTC_POWER_ON_MS = 946684800000  # 2000-01-01, where an ESP32's RTC starts after power-on
# kind -> (machine.reset_cause() of the next boot, the RTC keeps its time, RTC memory is kept).
# The causes as MicroPython's esp32 port maps esp_reset_reason() (ports/esp32/modmachine.c,
# mp_machine_reset_cause, at commit 1c3c201 of 2026-08-19): ESP_RST_POWERON and ESP_RST_BROWNOUT
# -> PWRON_RESET (1); ESP_RST_INT_WDT, ESP_RST_TASK_WDT, ESP_RST_WDT -> WDT_RESET (3);
# ESP_RST_DEEPSLEEP -> DEEPSLEEP_RESET (4); ESP_RST_SW, ESP_RST_PANIC, ESP_RST_EXT -> HARD_RESET
# (2). (So since 50a7ba2 of 2020-05-02, "use IDF's esp_reset_reason"; before it a brownout,
# RTCWDT_BROWN_OUT_RESET, read WDT_RESET, and esp_restart() SOFT_RESET.) A brownout looks like a
# power-on to the firmware.
# RTC memory: the port keeps RTC.memory() in RTC_NOINIT_ATTR variables with a magic word
# (ports/esp32/machine_rtc.c: "so the user memory survives WDT resets and the like"), so a WDT
# reset and machine.reset() keep it. For a brownout no source found says that RTC slow memory
# keeps its contents (the supply dipped below the detector's threshold), so it is modelled as lost.
# The RTC counter runs on through all but a power cut (then the RTC restarts unset).
KINDS = {
    "power": (1, False, False),  # power-on: the power cut and its return
    "brownout": (1, True, False),
    "wdt": (3, True, True),
    "sw": (2, True, True),  # machine.reset()
}

with open(PATH) as _f:
    state = json.load(_f)

_period = _t.ticks_add(0, -1) + 1
_half = _period // 2
_t0 = _t.ticks_ms()
_skipped = 0  # ms of waits not waited in real time
_world0 = state["world_ms"]
_rtc0 = state.get("rtc_ms")
if _rtc0 is None:
    _rtc0 = RTC_POWER_ON_MS
scale = state.get("time_scale", 1)


# RTC memory's bytes as the state file's text, a character a byte (latin-1). MicroPython's
# str(bytes, "latin-1") decodes UTF-8, which binary bytes are not, so the characters are written
# as UTF-8 here, and read back from it, in one buffer each: a list of a character a byte (2,048
# of them) took 8-16 KB of the board's heap at every deep sleep, which a board's C code does not.
def _text(data):
    out = bytearray(len(data) + sum(1 for b in data if b >= 0x80))
    j = 0
    for b in data:
        if b < 0x80:
            out[j] = b
        else:
            out[j] = 0xC0 | (b >> 6)
            j += 1
            out[j] = 0x80 | (b & 0x3F)
        j += 1
    return str(out, "utf-8")


def _bytes(text):
    raw = text.encode()
    out = bytearray(len(text))
    i = j = 0
    while i < len(raw):
        b = raw[i]
        if b >= 0xC0:  # a character 0x80-0xFF: two bytes
            i += 1
            b = ((b & 0x1F) << 6) | (raw[i] & 0x3F)
        out[j] = b
        i += 1
        j += 1
    return bytes(out)


memory = state.get("memory")
memory = _bytes(memory) if isinstance(memory, str) else b""
cause = state.get("cause", 1)
boot_no = state.get("boot_no", 0)  # the runner's count of boots, this one included
plan = state.get("plan")  # the runner's reset for this boot, or None
cycles = 0  # the firmware's cycles in this boot (the board counts each sample: sampled())
calls = [0, 0]  # chip calls in this boot: all, and those made while Wi-Fi was active
radio = False  # Wi-Fi active (network.WLAN.active(True))
wdt_ms = 0  # the watchdog's timeout (0: not started)
_wdt_due = None  # world ms by which it must be fed


def elapsed():
    # ms since this boot (a process never lives near half a tick period: no unwrapping needed)
    return _t.ticks_diff(_t.ticks_ms(), _t0) + _skipped


def ticks():
    # from 0 at this boot, as a board's after a reset
    return elapsed() & (_period - 1)


def loop_ticks():
    # asyncio's clock: the port's ticks (those _asyncio.TaskQueue.push() stamps a task with when
    # given no time: a new task, one woken by an event, I/O or another task's end, which is then
    # due at once) plus the waits skipped in this process, so that asyncio's deadlines move with
    # the world as ticks_ms does. The skipped part is taken modulo half a tick period, which keeps
    # the port's stamps in this clock's past (ticks_diff <= 0: due) however long the process has
    # skipped (half a period is 6.2 days on a 32-bit port); only a wait skipped within a running
    # loop across a multiple of it would move that loop's pending deadlines by half a period
    return (_t.ticks_ms() + _skipped % _half) & (_period - 1)


def world_ms():
    return _world0 + elapsed()


def rtc_ms():
    return _rtc0 + elapsed()


def set_rtc_ms(ms):
    global _rtc0
    _rtc0 = ms - elapsed()
    state["rtc_off"] = _rtc0 - _world0  # for the runner: the RTC after a reset it injects
    _write(state)


def set_memory(data):
    global memory
    memory = bytes(data)
    state["memory"] = _text(memory)  # written through, as RTC memory is
    _write(state)


def call():
    # every chip function's first step: the watchdog and the runner's planned reset
    calls[0] += 1
    if radio:
        calls[1] += 1
    if _wdt_due is not None and world_ms() >= _wdt_due:
        reset("wdt")
    if plan and calls[1 if plan.get("radio") else 0] >= plan["call"] and (radio or not plan.get("radio")):
        reset(plan["kind"], plan.get("off_ms", 0))


def wdt_start(timeout):
    global wdt_ms, _wdt_due
    wdt_ms = int(timeout)
    _wdt_due = world_ms() + wdt_ms


def wdt_feed():
    global _wdt_due
    if wdt_ms:
        _wdt_due = world_ms() + wdt_ms


def wait(ms):
    # a wait of ms simulated milliseconds: ms / time_scale of them in real time; a watchdog that
    # runs out during it resets the board at its deadline
    global _skipped
    ms = int(ms)
    cut = _wdt_due is not None and world_ms() + ms >= _wdt_due
    if cut:
        ms = _wdt_due - world_ms()
    if ms > 0:
        real = int(ms / scale)
        if real > 0:
            _t.sleep_ms(real)
        _skipped += ms - real
    if cut:
        reset("wdt")


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


def event(ev, **kw):
    kw["ev"] = ev
    kw["ms"] = world_ms()
    kw["boot"] = boot_no
    with open(EVENTS, "a") as f:
        f.write(json.dumps(kw) + "\n")


def set_radio(on):
    # Wi-Fi's radio on or off (network.WLAN.active): each change is an event
    global radio
    on = bool(on)
    if on != radio:
        radio = on
        event("up" if on else "down")


def _note():
    # the world time and cycles so far, for the runner (a cut from outside may follow); kept in
    # state, so that the writes through (RTC, RTC memory) keep them too
    state["noted_ms"] = world_ms()
    state["cycles"] = cycles
    _write(state)


def sampled():
    # a cycle's sample: its time noted, so that a boot cut later is known to have lived till here
    # (waits skipped before it, an upload without the time, move the world past the runner's count)
    global cycles
    cycles += 1
    _note()


def light_sleep(ms):
    ms = 0 if ms is None else int(ms)
    wait(ms)
    _note()


def deep_sleep(ms):
    # the state of the wake: world and RTC moved by the sleep, RTC memory kept; then the process ends
    ms = 0 if ms is None else int(ms)
    d = dict(state)
    d["cycles"] = cycles  # of the boot that ends here
    d["calls"] = calls
    d["world_ms"] = world_ms() + ms
    d["rtc_ms"] = rtc_ms() + ms
    d["memory"] = _text(memory)
    d["cause"] = 4  # DEEPSLEEP_RESET
    d["boot"] = state.get("boot", 0) + 1
    d["slept_ms"] = ms
    for k in ("noted_ms", "plan", "rtc_off"):
        d.pop(k, None)
    _write(d)
    raise SystemExit(DEEPSLEEP_EXIT)


def reset(kind, off_ms=0):
    # a reset of this kind now (the power back off_ms later): the next boot's state, then the end
    cause_, keeps_rtc, keeps_memory = KINDS[kind]
    now = world_ms()
    event("reset", kind=kind, radio=radio)
    d = dict(state)
    d["cycles"] = cycles
    d["calls"] = calls
    d["world_ms"] = now + off_ms
    d["rtc_ms"] = rtc_ms() + off_ms if keeps_rtc else None
    d["memory"] = _text(memory) if keeps_memory else None
    d["cause"] = cause_
    d["reset"] = {"kind": kind, "ms": now, "boot": boot_no, "radio": radio}
    for k in ("noted_ms", "slept_ms", "plan", "rtc_off"):
        d.pop(k, None)
    _write(d)
    os.system("kill -9 $PPID")  # the shell's parent: this process, at once
    raise SystemExit(RESET_EXIT)  # only if the shell could not
