# board (the virtual board): the MicroPython unix port as an ESP32-like board, run by
# tools/vboard.py in a folder laid out as tools/deploy.py lays a board's file system (config.json,
# boot.py, main.py, the .mpy modules, lib/blynklog/), with a board's sys.path ('' first, then lib).
# Its chip (boards/unix/chip, last on sys.path: the built-ins) gives machine, time, network and
# ntptime on a simulated clock, so the firmware runs its board path for real:
#   sleep: deep by default. machine.deepsleep() ends the process; the next wake is a new process
#          (reset cause DEEPSLEEP_RESET) with the RTC moved on by the sleep and the RTC memory kept
#          (a file outside the file system); the firmware keeps its schedule in RTC memory, as on
#          ESP32. Light sleep waits in the same process. Waits are shortened by the world's
#          time_scale (tools/vboard.py), so a day of 1-minute wakes runs in minutes; asyncio's
#          (asyncio mode) are real time.
#   clock: epoch 1970; the RTC counts through deep sleep, restarts at 2000-01-01 (unset) after a
#          power cut; NTP (ntptime) answers the simulated world time while Wi-Fi is up.
#   Wi-Fi: network.WLAN connects at once, except in the world's offline windows.
#   watchdog: enforced in world time by the chip (a boot that does not feed it in time is reset,
#          cause WDT_RESET). No LED, I2C or ADC; mcu_temperature() reads mcu_temp.
# Settings, the "board" object of config.json (all optional):
#   wakes        null   sample cycles to run in one boot, then return (null: forever)
#   upload_at_end false after the last cycle, one more cycle that uploads whatever the schedule
#                       says (the wake after an offline period)
#   mcu_temp     35.0   deg C, what mcu_temperature() reads
# check(fw) checks these too (deploy runs it on the host); ADC and I2C sensors pass it and fail
# when read, as a missing part does.
# The world (time_scale, start time, offline windows, power cuts and resets) is the runner's:
# tools/vboard.py.

from hw import (
    MachineBoard,
    buffered_in_rtc_memory,
    keep_errors_in_rtc_memory,
    keep_in_rtc_memory,
    recall_from_rtc_memory,
)

_KEYS = ("wakes", "upload_at_end", "mcu_temp")


class Board(MachineBoard):
    name = "unix"
    sleep_default = "deep"
    has_deep_sleep = True
    wdt_max_ms = 0
    needs_wifi = True
    can_ntp = True
    boot_grace_ms = 0  # the console is a pipe: it never goes away in deep sleep
    board_keys = _KEYS
    # facts, for tools and for your own code
    epoch_year = 1970
    rtc_keeps_time_in_deep_sleep = True
    flash_bytes = None  # a host folder
    filesystem = "host"
    erase_block = None

    boot_watchdog = False  # the unix port without the chip: no watchdog (see __init__)

    def __init__(self, cfg=None):
        cfg = cfg or {}
        self.cycles, self.upload_at_end, self._temp = self._settings(cfg)
        MachineBoard.__init__(self, cfg)
        try:
            import _vchip  # the chip's count of cycles, for tools/vboard.py

            self._chip = _vchip
            # whether boot.py started the chip's watchdog, as on a hardware board: then a
            # configuration error cannot wait at the REPL either (app._stop: it sleeps an hour,
            # RTC memory kept; stopped at the REPL, the boot ended and the next one was a
            # power-on that lost the fast wakes' samples and the clock)
            self.boot_watchdog = bool(_vchip.wdt_ms)
        except ImportError:  # imported on its own (tests)
            self._chip = None

    @classmethod
    def check(cls, fw):
        super().check(fw)
        cls._settings(fw["board"])

    @staticmethod
    def _settings(cfg):
        # the "board" object -> (cycles, upload_at_end, mcu_temp); ValueError naming the key
        for k in cfg:
            if k not in _KEYS:
                raise ValueError("board.%s: unknown key (known: %s)" % (k, ", ".join(_KEYS)))
        cycles = cfg.get("wakes")
        if cycles is not None and (not isinstance(cycles, int) or isinstance(cycles, bool) or cycles < 1):
            raise ValueError("board.wakes: a positive integer or null")
        temp = cfg.get("mcu_temp", 35.0)
        if not isinstance(temp, (int, float)) or isinstance(temp, bool):
            raise ValueError("board.mcu_temp: a number")
        return cycles, bool(cfg.get("upload_at_end", False)), temp

    def sample_ts(self):
        if self._chip is not None:
            self._chip.sampled()
        return None  # the Logger's clock stamps the sample, on the chip's RTC

    rtc_memory = True
    keep = keep_in_rtc_memory
    recall = recall_from_rtc_memory
    buffered = buffered_in_rtc_memory
    keep_errors = keep_errors_in_rtc_memory

    def i2c(self, spec=None):
        raise OSError("no I2C bus on the virtual board")

    def adc(self, pin, atten=None):
        raise OSError("no ADC on the virtual board")

    def mcu_temperature(self):
        return self._temp

    def fast_facts(self):
        # its fixed reading for the internal temperature (sensors.chip_temperature)
        return {"i2c": self.i2c_default, "mcu": self._temp}
