# ntptime (the virtual board's): the world time, while Wi-Fi is connected; else a timeout, as the
# real one times out without a network. time() is seconds since the port's epoch (1970 here).
import _vchip
import network

host = "pool.ntp.org"
timeout = 1


def time():
    _vchip.call()
    if not network._up[0] or _vchip.offline():
        raise OSError(110)  # ETIMEDOUT
    return _vchip.world_ms() // 1000


def settime():
    _vchip.set_rtc_ms(time() * 1000)
