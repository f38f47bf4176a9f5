# board (Raspberry Pi Pico W, RP2040 + CYW43439, 2 MB flash) for the firmware; copied to the
# board as board.py (board.mpy) by tools/deploy.py.
#   sleep: light sleep by default (machine.lightsleep: RAM and the clock kept, Wi-Fi off). Deep
#          sleep is a reset on rp2 that also loses the wall clock: allowed with "sleep": "deep"
#          (the Logger then goes on from its anchor until the next NTP sync), not advised. It is
#          done here as light sleep in steps that feed the watchdog (the RP2040's watchdog counts
#          through lightsleep) and then machine.reset(), with a mark in the watchdog's scratch
#          register 0 (kept through that reset) so the next boot knows it woke: rp2 reports every
#          such reset as a watchdog reset. A deep sleep before the firmware took the watchdog over
#          (wdt_start: a boot fault's sleep) takes over the one boot.py started, so that its steps
#          feed it (it cannot be stopped, and it cut the fault's minute or hour after 8.4 s: a
#          boot loop); where none runs (WATCHDOG_CTRL's ENABLE bit clear), none is started.
#   clock: epoch 1970-01-01; the RTC restarts at 2021-01-01 on every hard reset: the clock is
#          unset after power-on until NTP (samples taken before get their real time later).
#   watchdog: machine.WDT, at most 8388 ms, started by boot.py; the firmware feeds it between
#          steps, every 100 ms while Wi-Fi connects, and inside sync() between network steps, so
#          one network wait (upload.timeout_ms) must stay under it: 6000 or less.
#   Wi-Fi: network.WLAN(STA_IF) on the CYW43; set wifi.country (e.g. "GB") for your channels.
#   LED: the "LED" pin (on the CYW43). I2C 0: SDA GP4, SCL GP5. ADC: GP26..GP28 (ADC0..2).
#   check(): ADC on GP26..GP28 only (GP29 is the radio's on the Pico W; a Pico without W reads
#        VSYS there), no atten; I2C buses 0 and 1 on the RP2040's fixed pins: I2C0 SDA GP0/4/8/12/
#        16/20/28, SCL GP1/5/9/13/17/21; I2C1 SDA GP2/6/10/14/18/22/26, SCL GP3/7/11/15/19/27
#        (GP23..25 and GP29 are the radio's).
#   flash/file system: littlefs (vfs.VfsLfs2) on about 848 KB of the 2 MB chip, erase block
#        4096 bytes.
#   internal temperature: ADC(4): 27 - (V - 0.706) / 0.001721 deg C (about +-2 deg C).
from hw import MachineBoard

_SCRATCH0 = 0x4005800C  # WATCHDOG_SCRATCH0: kept through a watchdog reset (the SDK uses 4..7)
_WOKE = 0x0B1D5EEB  # "deep sleep done" mark
_WDT_CTRL = 0x40058000  # WATCHDOG_CTRL
_WDT_ENABLE = 0x40000000  # its ENABLE bit: the watchdog counts


class Board(MachineBoard):
    name = "rp2040"
    sleep_default = "light"
    has_deep_sleep = True
    wdt_max_ms = 8388
    led_pin = "LED"
    # facts, for tools and for your own code
    epoch_year = 1970
    rtc_keeps_time_in_deep_sleep = False
    flash_bytes = 2097152
    filesystem = "littlefs"
    erase_block = 4096
    i2c_default = {"id": 0, "scl": 5, "sda": 4, "freq": 100000}
    adc_pins = (26, 27, 28)
    adc_note = " (GP29 is the Pico W's radio)"
    adc_atten = False
    mcu_kind = "rp2"  # sensors.chip_temperature
    i2c_buses = (0, 1)
    i2c_sda = ((0, 4, 8, 12, 16, 20, 28), (2, 6, 10, 14, 18, 22, 26))
    i2c_scl = ((1, 5, 9, 13, 17, 21), (3, 7, 11, 15, 19, 27))

    def __init__(self, cfg=None):
        MachineBoard.__init__(self, cfg)
        mem = getattr(self.machine, "mem32", None)
        self._woke = False
        if mem is not None:
            self._woke = mem[_SCRATCH0] == _WOKE
            mem[_SCRATCH0] = 0

    def woke_from_deep_sleep(self):
        return self._woke

    def wifi_down(self):
        # active(False) leaves the CYW43 powered on the Pico W (micropython#9136): deinit() powers
        # it down; the next wifi_up() makes a new WLAN. (A deinit that hangs, micropython#17621,
        # ends in a watchdog reset.)
        MachineBoard.wifi_down(self)
        w = self._wlan
        if w is not None and hasattr(w, "deinit"):
            try:
                w.deinit()
            except OSError:
                pass
            self._wlan = None

    def watchdog_runs(self):
        # the hardware's word where the register can be read; else boot.py's (it starts one)
        mem = getattr(self.machine, "mem32", None)
        if mem is None:
            return self.boot_watchdog
        return bool(mem[_WDT_CTRL] & _WDT_ENABLE)

    def wdt_default(self, fw):
        return self.wdt_max_ms  # fed inside sync(): an upload may outlast it

    def sleep_ms(self, ms, mode):
        if mode != "deep":
            MachineBoard.sleep_ms(self, ms, mode)
            return
        # machine.deepsleep() is one lightsleep the watchdog would cut: sleep in fed steps, then
        # reset with the mark set
        if self._wdt is None and self.watchdog_runs():
            self.wdt_start(self.wdt_max_ms)  # boot.py's, taken over (feed() feeds only ours)
        ms = int(ms)
        step = self.wdt_max_ms // 2
        for _ in range(ms // step + 1):
            n = ms if ms < step else step
            if n <= 0:
                break
            MachineBoard.sleep_ms(self, n, "light")
            self.feed()
            ms -= n
        mem = getattr(self.machine, "mem32", None)
        if mem is not None:
            mem[_SCRATCH0] = _WOKE
        self.machine.reset()
