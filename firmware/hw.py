# hw: what the two hardware boards (ESP32, Pico W) share: an unwrapped millisecond uptime built on
# ticks_diff, the watchdog, Wi-Fi up/down with a timeout, light/deep sleep, the LED, I2C buses and
# ADC pins through machine. boards/<board>/board.py subclasses MachineBoard with its own facts.
# The board interface the firmware uses (the virtual board in boards/unix has the same methods):
#   ms() uptime in ms (int, never wraps); time_ms() Unix ms; sample_ts() ts for add() or None
#   running(); wdt_start(ms); feed(); wifi_up(wifi) -> None or an error message; wifi_down()
#   sleep_ms(ms, mode) mode "light" | "deep" (does not return on a board) | "none" (a busy wait)
#   led(on); i2c(spec); adc(pin, atten); mcu_temperature(); keep(dict); recall() -> dict | None
#   buffered() -> the fast wakes' samples in RTC memory (bytes) or None
#   keep_errors(el) (boards with RTC memory only) a boot fault's error-log state, the rest kept
#   fast_facts() -> what the fast wake (sensors.fast_wake) needs of the board, for its plan
#   attributes: name, sleep_default, has_deep_sleep, wdt_max_ms, needs_wifi, can_ntp, cycles,
#   upload_at_end, rtc_memory, held, mcu_kind
# The fast sampling wake of a board with RTC memory and its buffer's format: sensors.py (the one
# module that wake loads); keep/recall through RTC memory for such boards: here.
#   Board.check(fw) (a classmethod): ValueError("key: message") for what the board cannot do with
#   settings.load()'s result (watchdog, sleep, ADC and I2C pins); main() calls it at boot and
#   tools/deploy.py on the host before copying, so it uses no machine.
# Board modules that the unix port and CPython lack (network, esp32, rp2) are imported inside the
# methods that need them. Allocates: the Wi-Fi, I2C, ADC and WDT objects once each. One task only.
import json
import struct
import sys
import time

# the other built-ins into sys.modules (the fast wake's went in at sensors' import: see there),
# before the full wake or the storing wake imports the package or app.py
if sys.platform in ("esp32", "rp2"):
    for _n in ("os", "io", "errno", "hashlib", "random", "re", "select", "socket", "collections", "array", "heapq"):
        if _n not in sys.modules:
            try:
                sys.modules[_n] = __import__("u" + _n)
            except ImportError:  # a port without the u-name: the import statement finds it
                pass

from sensors import _BOOT_TICKS_MAX, _FMT, RTC_BYTES, _header, _names, _seal, adc_pin, chip_temperature, i2c_bus, split

try:  # MicroPython: from time, not through the package (the storing fast wake loads hw before it)
    from time import sleep_ms, ticks_diff, ticks_ms
except ImportError:  # CPython
    from blynklog.compat import sleep_ms, ticks_diff, ticks_ms  # type: ignore[no-redef]

_LIGHTSLEEP_MAX_MS = 3600000  # rp2's lightsleep() refuses 4,294,967 ms and more: longer ones go in parts
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
    # (the layout: the fast wake, sensors.py). What does not fit goes: first the fast wake's plan (data["q"]),
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
    return split(raw) if raw else (raw, None)


def recall_from_rtc_memory(board):
    # MachineBoard.recall for such a board: what keep() left, after any reset that kept RTC
    # memory (a deep-sleep wake, the watchdog, a soft reset), moved on by the ms the fast wakes
    # (sensors.fast_wake) slept since it was written; None after power-on or a brownout, which clear it,
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


def keep_errors_in_rtc_memory(board, el):
    # MachineBoard.keep_errors for such a board: a boot fault's error-log state (ErrorLog.state())
    # into RTC memory, in place of the one there, the rest as it was (the schedule, the fast wake's
    # plan and its samples): the next boot, which restores it, counts the same fault rather than
    # writing it again. Fits as keep() fits it.
    try:
        head, tail = _rtc_parts(board)
        data = json.loads(head) if head else {}
    except ValueError:  # damaged bytes: the error log's state alone (the samples, if sound)
        data = {}
        tail = None
    if not isinstance(data, dict):
        data = {}
    data["el"] = list(el)
    board.held = tail
    keep_in_rtc_memory(board, data)


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
    mcu_kind = None  # how mcu_temperature() reads (sensors.chip_temperature): "esp32", "rp2", None (no sensor)
    keep_file = "fw_state.json"
    rtc_memory = False  # keep()/recall() use RTC memory: the fast sampling wake (sensors.fast_wake) may run
    held = None  # buffered samples the App could not add: keep() writes them back (RTC memory)
    keep_errors = None  # boards with RTC memory: a boot fault's error-log state there (app._stop)
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

    def fast_facts(self):
        # the board as the fast wake's drivers see it (sensors._Pins), kept in its plan
        return {"i2c": self.i2c_default, "mcu": self.mcu_kind}

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

    def rssi(self):
        # the link's signal strength in dBm (the health section's rssi; App.health asks during the
        # upload): WLAN.status("rssi") on ESP32 and the Pico W alike; no link, no figure
        w = self._wlan
        if w is None or not w.isconnected():
            raise OSError("Wi-Fi is down")
        return w.status("rssi")

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
        return i2c_bus(self.machine, self._i2c, self.i2c_default, spec)

    def adc(self, pin, atten=None):
        return adc_pin(self.machine, pin, atten)

    def mcu_temperature(self):
        return chip_temperature(self.mcu_kind, self.machine)


# ---- the fast wake's buffer in RTC memory (its layout and the fast wake itself: sensors.py): what
# the full wake (App.absorb) and the storing fast wake (store_buffer) run, kept out of the module
# every fast wake loads
#   samples(tail) -> (elapsed, names, records); pack(elapsed, names, records) -> tail bytes
#   store_buffer(...) the storing fast wake's: the buffer into the store
#   move_old_store() before anything imports blynklog
def samples(tail):
    # -> (elapsed ms, names, [(ts, (values...)), ...]); ValueError when the tail is damaged
    elapsed, names, i, rec = _header(tail)
    size = struct.calcsize(rec)
    records = []
    while i < len(tail):
        r = struct.unpack(rec, tail[i : i + size])
        records.append((r[0], r[1:]))
        i += size
    return elapsed, names, records


def pack(elapsed, names, records):
    # a tail from scratch (the App keeps one it could not add)
    body = _names(names)
    body[0:4] = struct.pack("<I", elapsed)
    rec = "<q" + _FMT * len(names)
    for ts, values in records:
        body.extend(struct.pack(rec, ts, *values))
    return _seal(body)


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


def store_buffer(d, q, tail, config_path, step, rtc):
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
