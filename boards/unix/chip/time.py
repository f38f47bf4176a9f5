# time (the virtual board's): the port's time module with the virtual chip's clocks. The wall
# clock (time_ns, time, gmtime/localtime without an argument) is the RTC, ticks_ms counts from this
# boot with the skipped waits, and waits (sleep, sleep_ms, sleep_us) are shortened by time_scale.
# asyncio runs on another reading of the same clock (_vchip.loop_ticks: the port's own ticks plus
# the skipped waits). MicroPython's C scheduler (_asyncio, extmod/modasyncio.c) stamps a task made
# ready (a new task, one woken by an event, I/O or another task's end) with the port's own ticks,
# which the frozen asyncio/core.py compares with `ticks`, the ticks_ms it imports from here. On a
# board the two are one clock; here boot-relative ticks are the host's uptime behind the port's,
# and asyncio.run() waited that long (hours) in poll() for a task due at once. ticks_ms stays
# boot-relative, as a board's (the firmware counts a boot's own time by it), and an import hook
# (builtins.__import__) gives core.py loop_ticks as its `ticks` at core.py's next import (`sys`,
# right after `from time import ticks_ms as ticks`) and passes every import on unchanged. The two
# readings run at one rate; only their origins differ. asyncio's own waits (poll) are real time,
# not shortened by time_scale; the watchdog is checked at each step of the loop.
import builtins
import sys

_p = sys.path
sys.path = []
try:
    from time import *  # noqa: F403  (the port's own, for what is not replaced here)
    import time as _t
finally:
    sys.path = _p

import _vchip  # noqa: E402  (after the port's time: sys.path is back)


def time_ns():
    _vchip.call()
    return _vchip.rtc_ms() * 1000000


def time():
    _vchip.call()
    return _vchip.rtc_ms() // 1000


def gmtime(secs=None):
    return _t.gmtime(time() if secs is None else secs)


def localtime(secs=None):
    return _t.gmtime(time() if secs is None else secs)


def mktime(t):
    return _t.mktime(t)


def ticks_ms():
    _vchip.call()
    return _vchip.ticks()


def sleep_ms(ms):
    _vchip.call()
    _vchip.wait(ms)


def sleep(s):
    _vchip.call()
    _vchip.wait(s * 1000)


def sleep_us(us):
    _vchip.call()
    if us >= 1000:
        _vchip.wait(us // 1000)
    else:
        _t.sleep_us(us)


def _loop_ticks():
    _vchip.call()
    return _vchip.loop_ticks()


_import = builtins.__import__


def _import_hook(name, globals=None, locals=None, fromlist=None, level=0):
    m = _import(name, globals, locals, fromlist, level)
    if globals is not None and globals.get("__name__") == "asyncio.core" and "ticks" in globals:
        globals["ticks"] = _loop_ticks
    return m


builtins.__import__ = _import_hook
