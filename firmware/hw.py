# hw: what the two hardware boards (ESP32, Pico W) share: an unwrapped millisecond uptime built on
# ticks_diff, the watchdog, Wi-Fi up/down with a timeout, light/deep sleep, the LED, I2C buses and
# ADC pins through machine. boards/<board>/board.py subclasses MachineBoard with its own facts.
# The board interface the firmware uses (the virtual board in boards/unix has the same methods):
#   ms() uptime in ms (int, never wraps); time_ms() Unix ms; sample_ts() ts for add() or None
#   running(); wdt_start(ms); feed(); wifi_up(wifi) -> None or an error message; wifi_down()
#   sleep_ms(ms, mode) mode "light" | "deep" (does not return on a board) | "none" (a busy wait)
#   led(on); i2c(spec); adc(pin, atten); mcu_temperature(); keep(dict); recall() -> dict | None
#   buffered() -> the fast wakes' samples in RTC memory (bytes) or None
#   attributes: name, sleep_default, has_deep_sleep, wdt_max_ms, needs_wifi, can_ntp, cycles,
#   upload_at_end, rtc_memory, held
# And the fast sampling wake of a board with RTC memory, at the end of this file (fast_wake).
#   Board.check(fw) (a classmethod): ValueError("key: message") for what the board cannot do with
#   settings.load()'s result (watchdog, sleep, ADC and I2C pins); main() calls it at boot and
#   tools/deploy.py on the host before copying, so it uses no machine.
# Board modules that the unix port and CPython lack (network, esp32, rp2) are imported inside the
# methods that need them. Allocates: the Wi-Fi, I2C, ADC and WDT objects once each. One task only.
import json
import struct
import time

try:  # MicroPython: from time, so that the fast wake (below) does not load the package
    from time import sleep_ms, ticks_diff, ticks_ms
except ImportError:  # CPython
    from blynklog.compat import sleep_ms, ticks_diff, ticks_ms  # type: ignore[no-redef]

_LIGHTSLEEP_MAX_MS = 3600000  # rp2's lightsleep() refuses 4,294,967 ms and more: longer ones go in parts
_BOOT_TICKS_MAX = 600000  # ticks_ms() counts from the reset on a board; more than this is another origin
_epoch_ms = None  # the port's epoch in Unix ms (ESP32: 2000-01-01), found at the first time_ms()


def epoch_ms():
    # the port's epoch in Unix ms: 946684800000 where it counts from 2000 (ESP32), else 0
    global _epoch_ms
    if _epoch_ms is None:
        _epoch_ms = 946684800000 if time.gmtime(0)[0] == 2000 else 0  # the two epochs ports use
    return _epoch_ms


def unix_ms():
    # the port's wall clock in Unix ms (blynklog.compat.unix_ms, without loading the package)
    return time.time_ns() // 1000000 + epoch_ms()


class Uptime:
    # Milliseconds since the reset as a plain int (a board's ticks_ms() starts at 0 there, so the
    # schedule counts the boot's own time): each call adds ticks_diff since the previous call, so
    # it must be called at least once per half tick period (about 6 days on boards).
    def __init__(self):
        self._last = ticks_ms()
        self._ms = self._last if 0 <= self._last < _BOOT_TICKS_MAX else 0

    def __call__(self):
        now = ticks_ms()
        self._ms += ticks_diff(now, self._last)
        self._last = now
        return self._ms


def keep_in_rtc_memory(board, data):
    # MachineBoard.keep for a board whose RTC memory survives deep sleep (ESP32, the virtual board):
    # the JSON of data, then the buffered samples the App could not add (board.held), if any
    # (the layout: the fast wake, below). What does not fit goes: first the fast wake's plan (data["q"]),
    # then the held samples; the schedule always fits (a few counters and the last error line).
    held = getattr(board, "held", None)
    raw = json.dumps(data).encode()
    if held and len(raw) + 1 + len(held) > RTC_BYTES and "q" in data:
        data = dict(data)
        del data["q"]
        raw = json.dumps(data).encode()
    if held and len(raw) + 1 + len(held) <= RTC_BYTES:
        raw = raw + b"\x00" + held
    elif len(raw) > RTC_BYTES and "q" in data:
        data = dict(data)
        del data["q"]
        raw = json.dumps(data).encode()
    board.machine.RTC().memory(raw)


def _rtc_parts(board):
    raw = board.machine.RTC().memory()
    i = raw.find(b"\x00") if raw else -1
    return (raw, None) if i < 0 else (raw[:i], raw[i + 1 :])


def recall_from_rtc_memory(board):
    # MachineBoard.recall for such a board: what keep() left, after any reset that kept RTC
    # memory (a deep-sleep wake, the watchdog, a soft reset), moved on by the ms the fast wakes
    # (below) slept since it was written; None after power-on or a brownout, which clear it,
    # or when it holds anything but a JSON object. A damaged buffer moves nothing (the App
    # reports and drops it).
    try:
        head, tail = _rtc_parts(board)
        data = json.loads(head) if head else None
    except Exception:  # damaged bytes, a port without RTC memory
        return None
    if not isinstance(data, dict):
        return None
    if tail is not None:
        try:
            e = samples(tail)[0]
        except Exception:
            e = 0
        for k in ("up", "fl", "ntp"):
            if isinstance(data.get(k), int):
                data[k] += e
        if isinstance(data.get("nb"), int):
            data["nb"] = max(0, data["nb"] - e)
    return data


def buffered_in_rtc_memory(board):
    # the buffered samples' bytes (samples() reads them), or None
    try:
        return _rtc_parts(board)[1]
    except Exception:
        return None


class MachineBoard:
    name = "machine"
    sleep_default = "light"
    has_deep_sleep = True
    wdt_max_ms = 0  # 0: no limit known
    needs_wifi = True
    can_ntp = True
    led_pin = None
    led_active_low = False
    i2c_default = {"id": 0}
    keep_file = "fw_state.json"
    rtc_memory = False  # keep()/recall() use RTC memory: the fast sampling wake (fast_wake) may run
    held = None  # buffered samples the App could not add: keep() writes them back (RTC memory)
    boot_grace_ms = 3000  # after power-on: time to reach the REPL before the first sleep
    boot_watchdog = True  # boot.py started the watchdog: the REPL cannot stay (see app._stop)
    board_keys = ()  # the keys of config.json's "board" object this board takes
    cycles = None  # a board runs until power-off
    upload_at_end = False
    # what check() holds a configuration to; None: anything goes
    adc_pins = None  # the GPIOs adc() can read
    adc_note = ""  # why others cannot, for the message
    adc_atten = True  # ADC(pin, atten=...) exists
    i2c_buses = None  # the I2C bus ids
    i2c_sda = None  # per bus id: the GPIOs its SDA can be on
    i2c_scl = None  # per bus id: the GPIOs its SCL can be on

    @classmethod
    def check(cls, fw):
        # what this board cannot do with settings fw (boardcheck.py: imported at validation only,
        # not at every wake); raises ValueError naming the key
        from boardcheck import check

        check(cls, fw)

    def __init__(self, cfg=None):
        import machine

        self.machine = machine
        self.cfg = cfg or {}
        self.ms = Uptime()
        self._wdt = None
        self._wlan = None
        self._led = None
        self._i2c = {}

    def time_ms(self):
        return unix_ms()

    def buffered(self):
        return None  # samples the fast wakes left in RTC memory (boards that have it)

    def sample_ts(self):
        return None  # the Logger's clock stamps the sample

    def running(self):
        return True

    def woke_from_deep_sleep(self):
        m = self.machine
        return m.reset_cause() == getattr(m, "DEEPSLEEP_RESET", -1)

    def needs_grace(self):
        # the boot grace (a moment for Ctrl-C) after power-on or a reset by hand; not after a
        # deep-sleep wake or a watchdog reset, which would pay it at every wake or in every loop
        m = self.machine
        return not self.woke_from_deep_sleep() and m.reset_cause() != getattr(m, "WDT_RESET", -1)

    # ---- watchdog

    def wdt_default(self, fw):
        # long enough for the longest blocking step: an upload within its radio budget
        return fw["radio_budget_ms"] + fw["wifi"]["timeout_ms"] + 30000

    def wdt_start(self, timeout_ms):
        if timeout_ms and self._wdt is None:
            self._wdt = self.machine.WDT(timeout=timeout_ms)

    def feed(self):
        if self._wdt is not None:
            self._wdt.feed()

    # ---- Wi-Fi

    def _wifi_prepare(self, network, wifi):
        if wifi.get("hostname") and hasattr(network, "hostname"):
            network.hostname(wifi["hostname"])
        if wifi.get("country") and hasattr(network, "country"):
            network.country(wifi["country"])

    def wifi_up(self, wifi):
        import network

        if self._wlan is None:
            self._wifi_prepare(network, wifi)
            self._wlan = network.WLAN(network.STA_IF)
        w = self._wlan
        w.active(True)
        if w.isconnected():
            return None
        w.connect(wifi["ssid"], wifi["password"])
        start = ticks_ms()
        bad_password = getattr(network, "STAT_WRONG_PASSWORD", None)
        while not w.isconnected():
            status = w.status()
            if bad_password is not None and status == bad_password:
                self.wifi_down()
                return "wrong password for %r" % wifi["ssid"]
            if ticks_diff(ticks_ms(), start) > wifi["timeout_ms"]:
                self.wifi_down()
                return "no connection to %r after %d ms (status %s)" % (wifi["ssid"], wifi["timeout_ms"], status)
            sleep_ms(100)
            self.feed()
        return None

    def wifi_down(self):
        w = self._wlan
        if w is None:
            return
        try:
            w.disconnect()
        except OSError:
            pass
        w.active(False)

    # ---- sleep

    def sleep_ms(self, ms, mode):
        ms = int(ms)
        if ms <= 0:
            return
        if mode == "deep":
            self.machine.deepsleep(ms)
        elif mode == "light":
            for _ in range(ms // _LIGHTSLEEP_MAX_MS + 1):
                n = ms if ms < _LIGHTSLEEP_MAX_MS else _LIGHTSLEEP_MAX_MS
                if n <= 0:
                    break
                self.machine.lightsleep(n)
                ms -= n
        else:
            sleep_ms(ms)

    def keep(self, data):
        # what the firmware needs after a deep sleep (a few counters); a file by default
        try:
            with open(self.keep_file, "w") as f:
                json.dump(data, f)
        except OSError:
            pass

    def recall(self):
        try:
            with open(self.keep_file) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    # ---- LED, buses, pins

    def led(self, on):
        if self.led_pin is None:
            return
        if self._led is None:
            self._led = self.machine.Pin(self.led_pin, self.machine.Pin.OUT)
        self._led.value(1 if bool(on) != self.led_active_low else 0)

    def blink(self, times, ms=150):
        for _ in range(times):
            self.led(True)
            sleep_ms(ms)
            self.led(False)
            sleep_ms(ms)

    def i2c(self, spec=None):
        spec = spec or {}
        bus = spec.get("id", self.i2c_default["id"])
        if bus not in self._i2c:
            m = self.machine
            d = self.i2c_default if bus == self.i2c_default["id"] else {}
            scl = spec.get("scl", d.get("scl"))
            sda = spec.get("sda", d.get("sda"))
            freq = spec.get("freq", d.get("freq", 100000))
            if scl is None or sda is None:
                self._i2c[bus] = m.I2C(bus, freq=freq)
            else:
                self._i2c[bus] = m.I2C(bus, scl=m.Pin(scl), sda=m.Pin(sda), freq=freq)
        return self._i2c[bus]

    def adc(self, pin, atten=None):
        m = self.machine
        if atten is None:
            return m.ADC(m.Pin(pin))
        return m.ADC(m.Pin(pin), atten=atten)

    def mcu_temperature(self):
        raise OSError("no internal temperature sensor on this board")


# ---- the fast wake: the sampling wake of a deep-sleep board whose RTC memory survives deep sleep
# (ESP32, the virtual board), without the package (here, in a module every wake loads anyway: a
# module of its own would be one more file to find and a name a store folder could shadow).
# main.py calls fast_wake() first; on a deep-sleep wake where the
# plan the last full wake left in RTC memory holds, and nothing but a sample is due, it reads the
# sensors, appends the readings to a buffer in RTC memory behind the kept schedule and deep-sleeps
# to the next sample: no blynklog, no App, no flash write. When the buffer is due for the store
# (flush_every_s since the last flush, or no room for one more wake) the same wake opens the Logger,
# adds the buffered samples with their own timestamps and this wake's, flushes, clears the buffer
# and sleeps: still no App, settings or upload code. Anything else is a full wake (it returns;
# main.py goes on to app.main, whose App adds the buffer first): an upload or an early-upload fill
# check due, the clock not known set, any reset but a deep-sleep wake, no plan (power-on, a full
# wake that could not make one), a sensor that fails, a damaged buffer (reported there, dropped).
# Durability: the buffer survives deep sleep and the resets that keep RTC memory (the watchdog,
# machine.reset()); a power cut or a brownout clears RTC memory, losing what it holds: at most
# flush_every_s of samples, as a light-sleep board loses its unflushed samples in RAM.
# RTC memory: the kept schedule as JSON (keep_in_rtc_memory), then, when samples wait, b"\0" and
# the tail: CRC-32 of the rest (4 bytes), ms slept since the JSON was written (u32), the value's
# struct code ('f' where floats are 32-bit, else 'd'), the stream names (a count, then each as a
# length and UTF-8 bytes), then a record a wake: Unix ms (int64) and one value per name.
# The plan (kept["q"], written by App._kept): p sample period ms, fe flush_every ms, ue upload ms,
# fi the store was past ft (fill_threshold), t the Unix ms expected at the next reset, e the port epoch
# in Unix ms, s the sensor specs, b the board's settings, c config path, lf/lm the error log.
#   fast_wake(config_path) -> the Board it made (the full wake may use it) or None; deep-sleeps otherwise
#   move_old_store() before anything imports blynklog
#   split(raw) -> (head bytes, tail bytes or None); samples(tail) -> (elapsed, names, records)
#   pack(elapsed, names, records) -> tail bytes
# Allocates: the RTC memory's copy and the new one, the sensors, a record.
RTC_BYTES = 2048  # MicroPython's esp32 port: machine.RTC().memory() holds at most this
_SLACK_MS = 10000  # the RTC's reading may differ from the plan's by this + 1/8 of the time slept
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


def samples(tail):
    # -> (elapsed ms, names, [(ts, (values...)), ...]); ValueError when the tail is damaged
    if len(tail) < 10 or struct.unpack("<I", tail[:4])[0] != _crc(tail[4:]):
        raise ValueError("buffered samples damaged (CRC)")
    elapsed = struct.unpack("<I", tail[4:8])[0]
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
    size = struct.calcsize(rec)
    if n == 0 or i > len(tail) or (len(tail) - i) % size:
        raise ValueError("buffered samples damaged (length)")
    records = []
    while i < len(tail):
        r = struct.unpack(rec, tail[i : i + size])
        records.append((r[0], r[1:]))
        i += size
    return elapsed, names, records


def _names(names):
    out = bytearray(struct.pack("<I", 0) + bytes([ord(_FMT), len(names)]))
    for name in names:
        b = name.encode()
        out.append(len(b))
        out.extend(b)
    return out


def pack(elapsed, names, records):
    # a tail from scratch (the App keeps one it could not add)
    body = _names(names)
    body[0:4] = struct.pack("<I", elapsed)
    rec = "<q" + _FMT * len(names)
    for ts, values in records:
        body.extend(struct.pack(rec, ts, *values))
    return _seal(body)


def _due(d, q, e):
    # what the kept schedule says at this reset, e ms after it was written: a full wake's work
    up = d.get("up", 0) + e
    nb = d.get("nb", 0) - e
    if nb <= 0 and (up >= q["ue"] or (up >= q["ue"] // 4 and q["fi"])):
        return True
    return False


def fast_wake(config_path="config.json"):
    try:
        import machine
    except ImportError:  # CPython
        return None
    if machine.reset_cause() != getattr(machine, "DEEPSLEEP_RESET", None):
        return None
    rtc = machine.RTC()
    try:
        head, tail = split(rtc.memory())
        d = json.loads(head)
        q = d["q"]
        e = 0
        if tail is not None:
            e, kept_names, _ = samples(tail)  # a damaged one goes to the full wake's report
    except Exception:
        return None
    if q["fe"] <= 0 or _due(d, q, e):
        return None
    # the clock: set, and where the plan puts it (the RTC kept counting through the sleeps)
    now = time.time_ns() // 1000000 + q["e"]
    if abs(now - q["t"] - e) > _SLACK_MS + e // 8:
        return None
    import board as _board
    import sensors

    b = _board.Board(q.get("b"))
    names = []
    values = []
    for spec in q["s"]:
        try:
            got = sensors.make(spec, b).read()
        except Exception:
            return b  # the full wake reads it again and reports
        for i, name in spec["map"]:
            v = got[i]
            if not isinstance(v, float):
                return b  # kept exactly only as a float; the full wake adds it as it is
            names.append(name)
            values.append(v)
    if tail is not None and kept_names != names:
        return b  # the buffer is of other streams: the full wake adds it
    b.sample_ts()  # the virtual board counts the cycle
    t = time.ticks_ms()
    sleep_ms = q["p"] - (t if 0 <= t < _BOOT_TICKS_MAX else 0)
    if sleep_ms <= 0:
        return b  # a late wake: the full one takes it from here
    body = _names(names) if tail is None else bytearray(tail[4:])
    step = e + q["p"]  # ms from the reset the schedule was written for to the next one
    body[0:4] = struct.pack("<I", step)
    body.extend(struct.pack("<q" + _FMT * len(values), now, *values))
    tail = _seal(body)
    if d.get("fl", 0) + step >= q["fe"] or len(head) + 1 + len(tail) > RTC_BYTES:
        _store_buffer(d, q, tail, config_path, step, rtc)
    else:
        rtc.memory(head + b"\x00" + tail)
    b.sleep_ms(sleep_ms, "deep")
    return b  # a board's deep sleep does not return


def move_old_store():
    # A store made at the earlier default path, the folder "blynklog" beside config.json, would be
    # imported in place of the package (sys.path starts with ''): moved to the default path before
    # anything imports blynklog. A folder holding the package itself is left alone.
    import os

    try:
        os.stat("blynklog-data")
        return
    except OSError:
        pass
    for name in ("state.json", "data"):
        try:
            os.stat("blynklog/" + name)
            os.rename("blynklog", "blynklog-data")
            return
        except OSError:
            pass


def _store_buffer(d, q, tail, config_path, step, rtc):
    # the buffer (this wake's record included) into the store. The schedule alone goes to RTC
    # memory first (moved on by the ms slept since it was written): a reset from there to the
    # flush loses the buffer, as a power cut would, and nothing is ever stored twice. A fault
    # before the flush puts the buffer back for the full wake.
    move_old_store()
    import blynklog

    _, names, records = samples(tail)
    log = blynklog.Logger(config_path)  # a fault here leaves the buffer as it was
    q["fi"] = 1 if log.fill() >= q["ft"] else 0  # the store's early-upload check, for the next wakes
    d["up"] = d.get("up", 0) + step
    d["fl"] = 0
    if isinstance(d.get("ntp"), int):
        d["ntp"] += step
    d["nb"] = max(0, d.get("nb", 0) - step)
    q["t"] += step
    head = json.dumps(d).encode()
    rtc.memory(head)
    errors = None
    try:
        for ts, values in records:
            for i in range(len(names)):
                try:
                    log.add(names[i], values[i], ts)
                except (ValueError, TypeError) as err:  # as App.sample: reported, not stored
                    if errors is None:
                        from errlog import ErrorLog

                        errors = ErrorLog(q["lf"], q["lm"], lambda: time.time_ns() // 1000000 + q["e"])
                        el = d.get("el")
                        if isinstance(el, list) and len(el) == 2:
                            errors.restore(el[0], el[1])
                    errors.report(names[i], err)
        log.flush()
    except Exception:
        rtc.memory(head + b"\x00" + _seal(struct.pack("<I", 0) + tail[8:]))  # elapsed 0: in the schedule now
        raise
    if errors is not None:
        d["el"] = list(errors.state())
        rtc.memory(json.dumps(d).encode())
