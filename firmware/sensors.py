# sensors: the adapter interface between the firmware loop and what it measures.
# A sensor has `fields` (a tuple of names) and `read()`, which returns a tuple of values in the
# order of `fields`, or raises OSError/ValueError when it cannot read (a bus error, a bad CRC, a
# value out of the part's range): the loop reports it and stores nothing for that read.
# Drivers: the MCU's internal temperature, an ADC pin, SHT3x and AHT20 (I2C, machine.I2C), a
# simulated source and a CSV replay. make(spec, board) builds one from a config entry.
# Allocates: each I2C driver its 6- or 7-byte buffer once; read() allocates only its result
# tuple (and floats). Not safe from an interrupt (I2C transfers and waits); one task at a time.
import math

try:  # MicroPython: not through blynklog.compat, so that the fast wake (hw.fast_wake) does not load the package
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


class McuTemp(Sensor):
    # The chip's own temperature (deg C) as the board reads it (esp32.mcu_temperature, ADC(4) on rp2).
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
