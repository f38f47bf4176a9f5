# Stand-in for micropython-lib's `ntptime`: time() answers what the test set, or raises.
import time as _time

host = "pool.ntp.org"
timeout = 1
answer = None  # seconds since the port epoch; None means the host clock
error = None  # an exception instance to raise instead


def time():
    if error is not None:
        raise error
    if answer is not None:
        return answer
    return int(_time.time())


def settime():
    t = _time.gmtime(time())
    import machine

    machine.RTC().datetime((t[0], t[1], t[2], t[6] + 1, t[3], t[4], t[5], 0))
