# board (the virtual board): the MicroPython unix port (or CPython) as a board, for the desktop
# and `make demo`. The host's network and clock; sleep is a plain wait, shortened by time_scale:
# simulated time (ms(), time_ms(), sample_ts()) runs at real speed while the firmware works and
# jumps over the rest of each sleep, so a day of 1-minute samples replays in seconds with real
# Unix-ms timestamps (start_ago_s: the simulation starts that long before now). Sensors: "sim"
# (generated) or "replay" (a CSV file ts_ms,stream,value), or mcu_temp (a fixed value).
# Settings, the "board" object of config.json (all optional):
#   time_scale   1      simulated ms per real ms while sleeping
#   start_ago_s  0      s; the simulated clock starts at now - start_ago_s
#   wakes        null   sample cycles to run, then stop (null: forever)
#   offline_s    0      s of simulated time during which Wi-Fi does not come up
#   upload_at_end false after the last cycle, one more wake (a cycle) that uploads whatever the
#                       schedule says: the wake after an offline period
#   mcu_temp     35.0   deg C, what mcu_temperature() reads
# No watchdog, no deep sleep (light sleep is the wait), no NTP (the host clock is set), no LED.
# Allocates nothing per call beyond ints. One task only.
from blynklog.compat import sleep_ms, unix_ms
from hw import Uptime

_KEYS = ("time_scale", "start_ago_s", "wakes", "offline_s", "upload_at_end", "mcu_temp")


class Board:
    name = "unix"
    sleep_default = "light"
    has_deep_sleep = False
    wdt_max_ms = 0
    needs_wifi = False
    can_ntp = False
    epoch_year = 1970
    rtc_keeps_time_in_deep_sleep = True  # the host clock
    flash_bytes = None  # a host folder
    filesystem = "host"
    erase_block = None

    def __init__(self, cfg=None):
        cfg = cfg or {}
        for k in cfg:
            if k not in _KEYS:
                raise ValueError("board.%s: unknown key (known: %s)" % (k, ", ".join(_KEYS)))
        scale = cfg.get("time_scale", 1)
        if not isinstance(scale, (int, float)) or isinstance(scale, bool) or scale < 1:
            raise ValueError("board.time_scale: a number >= 1")
        self.time_scale = scale
        self.cycles = cfg.get("wakes")
        if self.cycles is not None and (not isinstance(self.cycles, int) or self.cycles < 1):
            raise ValueError("board.wakes: a positive integer or null")
        self.upload_at_end = bool(cfg.get("upload_at_end", False))
        self._offline_ms = int(cfg.get("offline_s", 0) * 1000)
        self._temp = cfg.get("mcu_temp", 35.0)
        self._real = Uptime()
        self._skipped = 0
        self._start_ms = unix_ms() - int(cfg.get("start_ago_s", 0) * 1000)
        self.sleeps = 0

    def ms(self):
        return self._real() + self._skipped

    def time_ms(self):
        return self._start_ms + self.ms()

    def sample_ts(self):
        return self.time_ms()

    def running(self):
        return True

    def wdt_default(self, fw):
        return 0

    def wdt_start(self, timeout_ms):
        pass

    def feed(self):
        pass

    def wifi_up(self, wifi):
        if self.ms() < self._offline_ms:
            return "offline (simulated, %d s left)" % ((self._offline_ms - self.ms()) // 1000)
        return None

    def wifi_down(self):
        pass

    def sleep_ms(self, ms, mode):
        ms = int(ms)
        if ms <= 0:
            return
        self.sleeps += 1
        real = int(ms / self.time_scale)
        if real:
            sleep_ms(real)
        self._skipped += ms - real

    def keep(self, data):
        pass

    def recall(self):
        return None

    def led(self, on):
        pass

    def blink(self, times, ms=150):
        pass

    def i2c(self, spec=None):
        raise OSError("no I2C bus on the virtual board")

    def adc(self, pin, atten=None):
        raise OSError("no ADC on the virtual board")

    def mcu_temperature(self):
        return self._temp
