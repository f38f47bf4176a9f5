# One wake of the firmware on the emulated Pico W: runs the deployed main.py (the real firmware
# loop, its board file and the package as .mpy) until the loop asks for deep sleep. The emulator
# has no hard reset, so the board's deep sleep (light sleep, then machine.reset()) ends this run
# instead ("DEEPSLEEP ms" on the console); the next wake is a fresh run on the saved flash image,
# as after a reset.
# Wi-Fi is the firmware's own: the emulated CYW43 never starts, so every upload fails and waits.
# rp2 has no DEEPSLEEP_RESET cause, so on a Pico W the firmware takes every wake for a power-on
# and waits its 3 s boot grace each time; here a run after the first says it woke (the host runs
# "_PICO_WOKE = True" first), which skips that wait and nothing else.
import gc
import time

import board
import machine


class _Wake(BaseException):  # not an Exception: the firmware's loop must not catch it
    pass


class _Machine:
    # the board's deep sleep on rp2 is light sleep in watchdog-fed steps, then machine.reset():
    # the steps are counted (not slept: the emulator's sleep is not the wake's cost) and the
    # reset ends the run
    slept = 0

    def __getattr__(self, name):
        return getattr(machine, name)

    def deepsleep(self, ms):
        raise _Wake(ms)

    def lightsleep(self, ms):
        _Machine.slept += ms

    def reset(self):
        raise _Wake(_Machine.slept)


_Board = board.Board


_woke = globals().get("_PICO_WOKE", False)


class _SimBoard(_Board):
    def __init__(self, cfg=None):
        _Board.__init__(self, cfg)
        self.machine = _Machine()

    def woke_from_deep_sleep(self):
        return _woke


board.Board = _SimBoard
try:
    try:  # the test's image holds main.py as main_fw.py (so the board's own boot runs no firmware)
        _f = open("main_fw.py")
    except OSError:
        _f = open("main.py")
    with _f:
        _code = _f.read()
    exec(_code, {"__name__": "__main__"})
    print("MAIN RETURNED")
except _Wake as e:
    awake = time.ticks_ms()  # since the reset: the whole wake, the boot included
    gc.collect()
    print("DEEPSLEEP", e.args[0], "free", gc.mem_free(), "awake_ms", awake)
