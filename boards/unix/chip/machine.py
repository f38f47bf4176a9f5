# machine (the virtual board's): the port's machine module plus what the firmware uses of an
# ESP32's: reset_cause(), deepsleep() (the process ends; the next boot is a new process),
# lightsleep(), reset() (HARD_RESET, as the esp32 port reports esp_restart()), RTC (datetime and 2048
# bytes of memory kept across deep sleep and the resets that keep it: _vchip.KINDS), WDT (enforced in
# world time: a boot that does not feed it within its timeout is reset, cause WDT_RESET), Pin (an
# output that remembers its value). No I2C or ADC: the board raises for those.
import sys

_p = sys.path
sys.path = []
try:
    from machine import *  # noqa: F403
finally:
    sys.path = _p

import _vchip  # noqa: E402  (after the port's machine: sys.path is back)

PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5


def reset_cause():
    _vchip.call()
    return _vchip.cause


def deepsleep(time_ms=None):
    _vchip.call()
    _vchip.deep_sleep(time_ms)


def lightsleep(time_ms=None):
    _vchip.call()
    _vchip.light_sleep(time_ms)


def reset():
    _vchip.call()
    _vchip.reset("sw")


def freq(hz=None):
    return 240000000


def unique_id():
    return b"vboard"


def _tuple(ms):
    import time as _t

    t = _t.gmtime(ms // 1000)
    return (t[0], t[1], t[2], t[6], t[3], t[4], t[5], (ms % 1000) * 1000)


class RTC:
    def __init__(self, id=0):
        pass

    def datetime(self, dt=None):
        _vchip.call()
        if dt is None:
            return _tuple(_vchip.rtc_ms())
        import time as _t

        s = _t.mktime((dt[0], dt[1], dt[2], dt[4], dt[5], dt[6], 0, 0))
        us = dt[7] if len(dt) > 7 else 0
        _vchip.set_rtc_ms(s * 1000 + us // 1000)

    def init(self, dt):
        self.datetime(dt)

    def memory(self, data=None):
        _vchip.call()
        if data is None:
            return _vchip.memory
        if len(data) > 2048:
            raise ValueError("RTC memory is 2048 bytes")
        _vchip.set_memory(data)


class WDT:
    # one watchdog per boot, as the esp32 port's; it cannot be stopped, only fed
    def __init__(self, id=0, timeout=5000):
        _vchip.call()
        self.timeout = timeout
        _vchip.wdt_start(timeout)

    def feed(self):
        _vchip.call()
        _vchip.wdt_feed()


class Pin:
    IN = 1
    OUT = 3

    def __init__(self, id, mode=-1, *args, **kw):
        self.id = id
        self._v = 0

    def value(self, v=None):
        if v is None:
            return self._v
        self._v = 1 if v else 0
