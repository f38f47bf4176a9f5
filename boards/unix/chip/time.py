# time (the virtual board's): the port's time module with the virtual chip's clocks. The wall
# clock (time_ns, time, gmtime/localtime without an argument) is the RTC, ticks_ms counts from this
# boot with the skipped waits, and waits (sleep, sleep_ms, sleep_us) are shortened by time_scale.
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
