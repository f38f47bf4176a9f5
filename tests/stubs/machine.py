# Stand-in for `machine` (signatures as in the micropython-esp32/rp2 stubs), for CPython tests.
# Tests drive it through the module-level knobs: RTC datetimes, ADC readings, I2C replies, and
# DeepSleep raised by deepsleep() so a test can see the board go to sleep.
import time as _time

PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5

_reset_cause = PWRON_RESET


class DeepSleep(Exception):
    # Raised by deepsleep(): on a board the next instruction runs after a reset.
    def __init__(self, time_ms):
        Exception.__init__(self, time_ms)
        self.time_ms = time_ms


def reset_cause():
    return _reset_cause


def set_reset_cause(cause):
    global _reset_cause
    _reset_cause = cause


def reset():
    raise SystemExit("machine.reset")


def soft_reset():
    raise SystemExit("machine.soft_reset")


def deepsleep(time_ms=None):
    raise DeepSleep(time_ms)


def lightsleep(time_ms=None):
    if time_ms:
        _time.sleep(time_ms / 1000)


def idle():
    pass


def freq(hz=None):
    return 240000000


def unique_id():
    return b"\x24\x0a\xc4\x00\x00\x01"


class RTC:
    # datetime() is the 8-tuple (year, month, day, weekday, hours, minutes, seconds, subseconds).
    _now = None  # shared like the one hardware RTC; None means "follow the host clock"
    _memory = b""

    def __init__(self, id=0):
        pass

    def datetime(self, datetimetuple=None):
        if datetimetuple is not None:
            RTC._now = tuple(datetimetuple)
            return None
        if RTC._now is not None:
            return RTC._now
        t = _time.gmtime()
        return (t[0], t[1], t[2], t[6], t[3], t[4], t[5], 0)

    def init(self, datetime):
        self.datetime(datetime)

    def memory(self, data=None):
        if data is None:
            return RTC._memory
        if len(data) > 2048:
            raise ValueError("RTC memory is 2048 bytes")
        RTC._memory = bytes(data)
        return None


class Pin:
    IN = 1
    OUT = 3
    OPEN_DRAIN = 7
    PULL_UP = 2
    PULL_DOWN = 1
    IRQ_RISING = 1
    IRQ_FALLING = 2

    def __init__(self, id, mode=-1, pull=-1, *, value=None, drive=None, alt=None):
        self.id = id
        self.mode = mode
        self._value = value or 0

    def value(self, x=None):
        if x is None:
            return self._value
        self._value = 1 if x else 0
        return None

    def on(self):
        self._value = 1

    def off(self):
        self._value = 0

    def __call__(self, x=None):
        return self.value(x)


class ADC:
    ATTN_0DB = 0
    ATTN_11DB = 3
    readings = {}  # pin id -> u16 value, set by tests

    def __init__(self, pin, *, atten=None):
        self.pin = pin.id if isinstance(pin, Pin) else pin

    def read_u16(self):
        return ADC.readings.get(self.pin, 32768)

    def read_uv(self):
        return self.read_u16() * 3300000 // 65535


class I2C:
    devices = {}  # address -> {register: bytes}, set by tests

    def __init__(self, id=-1, *, scl=None, sda=None, freq=400000, timeout=50000):
        self.id = id

    def scan(self):
        return sorted(I2C.devices)

    def _device(self, addr):
        if addr not in I2C.devices:
            raise OSError(19)  # ENODEV, as a missing device answers on a board
        return I2C.devices[addr]

    def writeto(self, addr, buf, stop=True):
        self._device(addr)["last_write"] = bytes(buf)
        return 1

    def readfrom(self, addr, nbytes, stop=True):
        return bytes(self._device(addr).get("read", b"\x00" * nbytes)[:nbytes])

    def readfrom_into(self, addr, buf, stop=True):
        data = self.readfrom(addr, len(buf))
        buf[: len(data)] = data

    def readfrom_mem(self, addr, memaddr, nbytes, *, addrsize=8):
        return bytes(self._device(addr).get(memaddr, b"\x00" * nbytes)[:nbytes])

    def writeto_mem(self, addr, memaddr, buf, *, addrsize=8):
        self._device(addr)[memaddr] = bytes(buf)


class WDT:
    feeds = 0

    def __init__(self, id=0, timeout=5000):
        self.timeout = timeout

    def feed(self):
        WDT.feeds += 1
