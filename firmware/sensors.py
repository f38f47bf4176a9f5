# sensors: the adapter interface between the firmware loop and what it measures, and the fast
# sampling wake of a deep-sleep board whose RTC memory survives deep sleep (fast_wake, at the end of
# this file: the one module such a wake loads).
# A sensor has `fields` (a tuple of names) and `read()`, which returns a tuple of values in the
# order of `fields`, or raises OSError/ValueError when it cannot read (a bus error, a bad CRC, a
# value out of the part's range): the loop reports it and stores nothing for that read.
# Drivers: the MCU's internal temperature, an ADC pin, SHT3x and AHT20 (I2C, machine.I2C), a
# simulated source and a CSV replay. make(spec, board) builds one from a config entry.
# Allocates: each I2C driver its 6- or 7-byte buffer once; read() allocates only its result
# tuple (and floats). Not safe from an interrupt (I2C transfers and waits); one task at a time.
import sys

# A built-in module that a file may override (time, json, machine...) is looked for on the file
# system at every import statement of it: about 6.5 ms each on the emulated Pico W's littlefs, where
# it is nothing once in sys.modules. A board's file system holds no such file (deploy lays none), so
# the built-ins go in sys.modules under their names first: here (the first module every wake loads,
# from main.py) those the fast wake imports, in hw.py the others. Not on the unix port: the virtual
# board's chip (boards/unix/chip) is such files.
if sys.platform in ("esp32", "rp2"):
    for _n in ("time", "json", "struct", "binascii", "machine"):
        if _n not in sys.modules:
            try:
                sys.modules[_n] = __import__("u" + _n)
            except ImportError:  # a port without the u-name: the import statement finds it
                pass

import math
import struct
import time

try:  # MicroPython: not through blynklog.compat, so that the fast wake does not load the package
    from micropython import const
    from time import sleep_ms
except ImportError:  # CPython
    from blynklog.compat import const, sleep_ms

_SHT3X_ADDR = const(0x44)
_AHT20_ADDR = const(0x38)
_AHT20_BUSY = const(0x80)
_AHT20_CALIBRATED = const(0x08)
_SIM_PERIOD_S = const(86400)


def crc8(data, n):
    # CRC-8, polynomial 0x31, init 0xFF: what SHT3x and AHT20 append to their readings
    crc = 0xFF
    for i in range(n):
        crc ^= data[i]
        for _ in range(8):
            crc = ((crc << 1) ^ 0x31) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


class Sensor:
    fields = ("value",)

    def read(self):
        raise NotImplementedError


def chip_temperature(kind, machine):
    # the MCU's own temperature (deg C) by chip, as the boards read it (Board.mcu_kind): "esp32"
    # (esp32.mcu_temperature() on S2, S3, C3...; the original ESP32's uncalibrated
    # raw_temperature(), in F), "rp2" (ADC 4: 27 - (V - 0.706) / 0.001721; an ADC object made at
    # each reading), a number (a board whose reading is fixed: the virtual board's mcu_temp), None
    # (no such sensor: OSError)
    if kind == "esp32" and sys.platform == "esp32":  # (mypy's platform is the host's: it skips this)
        import esp32

        f = getattr(esp32, "mcu_temperature", None)
        if f is not None:
            return f()
        return (esp32.raw_temperature() - 32) / 1.8
    if kind == "rp2":
        v = machine.ADC(4).read_u16() * 3.3 / 65535
        return 27 - (v - 0.706) / 0.001721
    if isinstance(kind, (int, float)) and not isinstance(kind, bool):
        return kind
    raise OSError("no internal temperature sensor on this board")


def i2c_bus(machine, buses, default, spec=None):
    # the I2C bus of a sensor's "i2c" spec (default: the board's i2c_default), made once per id in buses
    spec = spec or {}
    bus = spec.get("id", default["id"])
    if bus not in buses:
        d = default if bus == default["id"] else {}
        scl = spec.get("scl", d.get("scl"))
        sda = spec.get("sda", d.get("sda"))
        freq = spec.get("freq", d.get("freq", 100000))
        if scl is None or sda is None:
            buses[bus] = machine.I2C(bus, freq=freq)
        else:
            buses[bus] = machine.I2C(bus, scl=machine.Pin(scl), sda=machine.Pin(sda), freq=freq)
    return buses[bus]


def adc_pin(machine, pin, atten=None):
    if atten is None:
        return machine.ADC(machine.Pin(pin))
    return machine.ADC(machine.Pin(pin), atten=atten)


class McuTemp(Sensor):
    # The chip's own temperature (deg C) as the board reads it (chip_temperature).
    fields = ("temperature",)

    def __init__(self, board):
        self._board = board

    def read(self):
        return (self._board.mcu_temperature(),)


class Adc(Sensor):
    # An analog pin: value = read_u16() * scale + offset (scale 1, offset 0: the raw 0..65535).
    def __init__(self, board, pin, scale=1.0, offset=0.0, atten=None, samples=1):
        self._adc = board.adc(pin, atten)
        self._scale = scale
        self._offset = offset
        self._samples = samples

    def read(self):
        total = 0
        for _ in range(self._samples):
            total += self._adc.read_u16()
        return ((total / self._samples) * self._scale + self._offset,)


class Sht3x(Sensor):
    # Sensirion SHT30/31/35: single shot, high repeatability, no clock stretching; 15.5 ms per read.
    fields = ("temperature", "humidity")
    _MEASURE = b"\x24\x00"

    def __init__(self, i2c, address=_SHT3X_ADDR):
        self._i2c = i2c
        self._addr = address
        self._buf = bytearray(6)
        self._mv = memoryview(self._buf)

    def read(self):
        self._i2c.writeto(self._addr, self._MEASURE)
        sleep_ms(16)
        self._i2c.readfrom_into(self._addr, self._buf)
        b = self._buf
        if crc8(self._mv[0:2], 2) != b[2] or crc8(self._mv[3:5], 2) != b[5]:
            raise ValueError("sht3x: bad CRC")
        t = -45 + 175 * ((b[0] << 8) | b[1]) / 65535
        rh = 100 * ((b[3] << 8) | b[4]) / 65535
        return (t, rh)


class Aht20(Sensor):
    # ASAIR AHT20 (and AHT21/25): trigger, wait 80 ms, read 7 bytes (status, 5 data, CRC).
    fields = ("temperature", "humidity")
    _INIT = b"\xbe\x08\x00"
    _TRIGGER = b"\xac\x33\x00"

    def __init__(self, i2c, address=_AHT20_ADDR):
        self._i2c = i2c
        self._addr = address
        self._buf = bytearray(7)
        self._mv = memoryview(self._buf)
        self._ready = False

    def _init(self):
        self._i2c.readfrom_into(self._addr, self._mv[0:1])
        if not self._buf[0] & _AHT20_CALIBRATED:
            self._i2c.writeto(self._addr, self._INIT)
            sleep_ms(10)
        self._ready = True

    def read(self):
        if not self._ready:
            self._init()
        self._i2c.writeto(self._addr, self._TRIGGER)
        sleep_ms(80)
        b = self._buf
        for _ in range(5):
            self._i2c.readfrom_into(self._addr, b)
            if not b[0] & _AHT20_BUSY:
                break
            sleep_ms(10)
        else:
            raise OSError("aht20: busy")
        if crc8(b, 6) != b[6]:
            raise ValueError("aht20: bad CRC")
        rh_raw = (b[1] << 12) | (b[2] << 4) | (b[3] >> 4)
        t_raw = ((b[3] & 0x0F) << 16) | (b[4] << 8) | b[5]
        return (t_raw * 200 / 1048576 - 50, rh_raw * 100 / 1048576)


class Simulated(Sensor):
    # A daily sine wave with deterministic noise, from the board's (possibly simulated) time.
    def __init__(self, board, base=20.0, amplitude=5.0, period_s=_SIM_PERIOD_S, noise=0.0, seed=1, decimals=2):
        self._board = board
        self._base = base
        self._amp = amplitude
        self._period_ms = period_s * 1000
        self._noise = noise
        self._seed = (seed * 2654435761 + 1) & 0x7FFFFFFF
        self._decimals = decimals

    def _rand(self):
        # a 31-bit LCG (portable and repeatable), -1.0 .. 1.0
        self._seed = (self._seed * 1103515245 + 12345) & 0x7FFFFFFF
        return self._seed / 0x3FFFFFFF - 1.0

    def read(self):
        phase = (self._board.time_ms() % self._period_ms) / self._period_ms
        v = self._base + self._amp * math.sin(2 * math.pi * phase) + self._noise * self._rand()
        return (round(v, self._decimals),)


class Replay(Sensor):
    # Values from a CSV file of lines "ts_ms,stream,value" in time order: read() returns, for each
    # field (a stream name of the file), its latest value at or before the board's time. The file is
    # read forward once, never loaded whole; lines starting with '#' and a header are skipped.
    def __init__(self, board, path, fields):
        self._board = board
        self.fields = tuple(fields)
        self._last = [None] * len(self.fields)
        self._f = open(path)
        self._pending = None

    def _next(self):
        while True:
            line = self._f.readline()
            if not line:
                return None
            parts = line.strip().split(",")
            if len(parts) != 3 or line[0] == "#":
                continue
            try:
                return int(parts[0]), parts[1], float(parts[2])
            except ValueError:
                continue  # the header, or a damaged line

    def read(self):
        now = self._board.time_ms()
        while True:
            row = self._pending or self._next()
            self._pending = None
            if row is None:
                break
            if row[0] > now:
                self._pending = row
                break
            if row[1] in self.fields:
                self._last[self.fields.index(row[1])] = row[2]
        if None in self._last:
            raise ValueError("replay: no value yet for %s" % self.fields[self._last.index(None)])
        return tuple(self._last)


def make(spec, board):
    # One sensor from a validated config entry (see settings.py for the keys).
    kind = spec["type"]
    if kind == "mcu_temp":
        return McuTemp(board)
    if kind == "adc":
        return Adc(
            board,
            spec["pin"],
            spec.get("scale", 1.0),
            spec.get("offset", 0.0),
            spec.get("atten"),
            spec.get("samples", 1),
        )
    if kind == "sht3x":
        return Sht3x(board.i2c(spec.get("i2c")), spec.get("address", _SHT3X_ADDR))
    if kind == "aht20":
        return Aht20(board.i2c(spec.get("i2c")), spec.get("address", _AHT20_ADDR))
    if kind == "sim":
        return Simulated(
            board,
            spec.get("base", 20.0),
            spec.get("amplitude", 5.0),
            spec.get("period_s", _SIM_PERIOD_S),
            spec.get("noise", 0.0),
            spec.get("seed", 1),
            spec.get("decimals", 2),
        )
    if kind == "replay":
        return Replay(board, spec["file"], spec["fields"])
    raise ValueError("sensor type %r unknown" % kind)


KINDS = ("mcu_temp", "adc", "sht3x", "aht20", "sim", "replay")


# ---- the fast wake: the sampling wake of a deep-sleep board whose RTC memory survives deep sleep
# (ESP32, the virtual board). It lives here, in the module it needs for its drivers anyway, so that
# it loads no other file: no board module, no hw, no package (each module found and loaded costs
# milliseconds on a board's littlefs, and this wake comes 54 times an hour). main.py calls wake();
# on a deep-sleep wake where the plan the last full wake left in RTC memory holds, and nothing but
# a sample is due, fast_wake() reads the sensors, appends the readings to a buffer in RTC memory
# behind the kept schedule and deep-sleeps to the next sample: no App, no flash write. The drivers
# see the board through _Pins, made from the board's facts in the plan (Board.fast_facts). When the
# buffer is due for the store (flush_every_s since the last flush, or no room for one more wake)
# the same wake hands it to hw.store_buffer: the Logger opened, the buffered samples added with
# their own timestamps and this wake's, a flush, the buffer cleared; still no App, settings or
# upload code. Anything else is a full wake (fast_wake returns; wake() goes on to app.main, whose
# App adds the buffer first): an upload or an early-upload fill check due, the clock not known
# set, any reset but a deep-sleep wake, no plan (power-on, a full wake that could not make one), a
# sensor that fails, a damaged buffer (reported there, dropped).
# Durability: the buffer survives deep sleep and the resets that keep RTC memory (the watchdog,
# machine.reset()); a power cut or a brownout clears RTC memory, losing what it holds: at most
# flush_every_s of samples, as a light-sleep board loses its unflushed samples in RAM.
# RTC memory: the kept schedule as JSON (hw.keep_in_rtc_memory), then, when samples wait, b"\0" and
# the tail: CRC-32 of the rest (4 bytes), ms slept since the JSON was written (u32), the value's
# struct code ('f' where floats are 32-bit, else 'd'), the stream names (a count, then each as a
# length and UTF-8 bytes), then a record a wake: Unix ms (int64) and one value per name.
# The plan (kept["q"], written by App._plan): p sample period ms, fe flush_every ms, ue upload ms,
# fi the store was past ft (fill_threshold), t the Unix ms expected at the next reset, e the port
# epoch in Unix ms, s the sensor specs, h the board's facts, c config path, lf/lm the error log.
#   wake(config_path)      main.py's: fast_wake(), else app.main(); a fault in fast_wake() is
#                          printed and the full wake goes on (it reports what fails there)
#   fast_wake(config_path) -> None when the full wake must run; else deep-sleeps
#   split(raw) -> (head bytes, tail bytes or None)
# What only the storing and the full wakes run is in hw.py: samples(tail), pack(...),
# store_buffer(...), move_old_store().
# Allocates: the RTC memory's copy and the new one, the sensors, a record.
RTC_BYTES = 2048  # MicroPython's esp32 port: machine.RTC().memory() holds at most this
_SLACK_MS = 10000  # the RTC's reading may differ from the plan's by this + 1/8 of the time slept
_BOOT_TICKS_MAX = 600000  # ticks_ms() counts from the reset on a board; more than this is another origin
_FMT = "f" if 1.0 + 2.0**-30 == 1.0 else "d"  # a port's float kept exactly


def split(raw):
    i = raw.find(b"\x00")
    if i < 0:
        return raw, None
    return raw[:i], raw[i + 1 :]


def _crc(data):
    import binascii

    return binascii.crc32(data) & 0xFFFFFFFF


def _seal(body):
    # a tail: the CRC-32 of body, then body
    return struct.pack("<I", _crc(body)) + body


def _header(tail):
    # -> (elapsed ms, names, offset of the first record, record's struct format); ValueError when
    # the tail is damaged
    if len(tail) < 10 or struct.unpack("<I", tail[:4])[0] != _crc(tail[4:]):
        raise ValueError("buffered samples damaged (CRC)")
    fmt = chr(tail[8])
    if fmt not in "fd":
        raise ValueError("buffered samples damaged (format)")
    n = tail[9]
    i = 10
    names = []
    for _ in range(n):
        k = tail[i]
        names.append(str(tail[i + 1 : i + 1 + k], "utf-8"))
        i += 1 + k
    rec = "<q" + fmt * n
    if n == 0 or i > len(tail) or (len(tail) - i) % struct.calcsize(rec):
        raise ValueError("buffered samples damaged (length)")
    return struct.unpack("<I", tail[4:8])[0], names, i, rec


def _names(names):
    out = bytearray(struct.pack("<I", 0) + bytes([ord(_FMT), len(names)]))
    for name in names:
        b = name.encode()
        out.append(len(b))
        out.extend(b)
    return out


class _Pins:
    # the board as the drivers see it in a fast wake (what make() and read() call), from the
    # board's facts (Board.fast_facts): i2c the default bus, mcu its chip_temperature kind
    def __init__(self, machine, facts, epoch):
        self.machine = machine
        self._f = facts
        self._e = epoch
        self._i2c = {}

    def time_ms(self):
        return time.time_ns() // 1000000 + self._e

    def mcu_temperature(self):
        return chip_temperature(self._f.get("mcu"), self.machine)

    def i2c(self, spec=None):
        return i2c_bus(self.machine, self._i2c, self._f["i2c"], spec)

    def adc(self, pin, atten=None):
        return adc_pin(self.machine, pin, atten)

    def sample_ts(self):
        chip = sys.modules.get("_vchip")  # the virtual board's chip (its time module loaded it) counts samples
        if chip is not None:
            chip.sampled()


def fast_wake(config_path="config.json"):
    try:
        import machine
    except ImportError:  # CPython
        return None
    if machine.reset_cause() != getattr(machine, "DEEPSLEEP_RESET", None):
        return None
    rtc = machine.RTC()
    try:
        import json

        head, tail = split(rtc.memory())
        d = json.loads(head)
        q = d["q"]
        e = 0
        if tail is not None:  # a damaged one goes to the full wake's report
            if len(tail) < 10 or struct.unpack("<I", tail[:4])[0] != _crc(tail[4:]):
                return None
            e = struct.unpack("<I", tail[4:8])[0]
        # what the kept schedule says at this reset, e ms after it was written: a full wake's work
        up = d.get("up", 0) + e
        if q["fe"] <= 0 or (d.get("nb", 0) <= e and (up >= q["ue"] or (up >= q["ue"] // 4 and q["fi"]))):
            return None
        # the clock: set, and where the plan puts it (the RTC kept counting through the sleeps)
        now = time.time_ns() // 1000000 + q["e"]
        if abs(now - q["t"] - e) > _SLACK_MS + e // 8:
            return None
        b = _Pins(machine, q["h"], q["e"])
        names = []
        values = []
        for spec in q["s"]:
            got = make(spec, b).read()
            for i, name in spec["map"]:
                v = got[i]
                if not isinstance(v, float):
                    return None  # kept exactly only as a float; the full wake adds it as it is
                names.append(name)
                values.append(v)
    except Exception:  # a sensor that fails (the full wake reads it again and reports), a damaged plan
        return None
    body = _names(names)
    rec = "<q" + _FMT * len(values)
    if tail is not None:
        # of these streams, in this port's format, whole records (else the full wake adds it)
        if tail[8 : 4 + len(body)] != body[4:] or (len(tail) - 4 - len(body)) % struct.calcsize(rec):
            return None
        body = bytearray(tail[4:])
    b.sample_ts()  # the virtual board counts the cycle
    t = time.ticks_ms()
    ms = q["p"] - (t if 0 <= t < _BOOT_TICKS_MAX else 0)
    if ms <= 0:
        return None  # a late wake: the full one takes it from here
    step = e + q["p"]  # ms from the reset the schedule was written for to the next one
    body[0:4] = struct.pack("<I", step)
    body.extend(struct.pack(rec, now, *values))
    tail = _seal(body)
    if d.get("fl", 0) + step >= q["fe"] or len(head) + 1 + len(tail) > RTC_BYTES:
        import hw

        hw.store_buffer(d, q, tail, config_path, step, rtc)
    else:
        rtc.memory(head + b"\x00" + tail)
    machine.deepsleep(ms)
    return None  # a board's deep sleep does not return


def wake(config_path="config.json"):
    try:
        fast_wake(config_path)  # deep-sleeps when it took the wake
    except Exception as e:  # the full wake does it again, and reports what fails there
        sys.print_exception(e)
    import hw

    hw.move_old_store()  # before anything imports blynklog
    import app

    app.main(config_path)
