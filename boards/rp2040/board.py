# board (Raspberry Pi Pico W, RP2040 + CYW43439, 2 MB flash) for the firmware; copied to the
# board as board.py (board.mpy) by tools/deploy.py.
#   sleep: light sleep by default (machine.lightsleep: RAM and the clock kept, Wi-Fi off). Deep
#          sleep (machine.deepsleep) is a reset on rp2 that also loses the wall clock: allowed
#          with "sleep": "deep" (the Logger then estimates time from its anchor until the next
#          NTP sync), not advised.
#   clock: epoch 1970-01-01; the RTC restarts at 2021-01-01 on every hard reset: the clock is
#          unset after power-on until NTP (samples taken before get their real time later).
#   watchdog: machine.WDT, at most 8388 ms: shorter than an upload, so off by default; set
#          watchdog_ms (<= 8388) only with a radio_budget_ms and wifi.timeout_ms below it.
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
    i2c_buses = (0, 1)
    i2c_sda = ((0, 4, 8, 12, 16, 20, 28), (2, 6, 10, 14, 18, 22, 26))
    i2c_scl = ((1, 5, 9, 13, 17, 21), (3, 7, 11, 15, 19, 27))

    def __init__(self, cfg=None):
        MachineBoard.__init__(self, cfg)
        self._temp = None

    def wdt_default(self, fw):
        return 0  # an upload outlasts the 8.4 s maximum: off unless watchdog_ms says otherwise

    def mcu_temperature(self):
        if self._temp is None:
            self._temp = self.machine.ADC(4)
        v = self._temp.read_u16() * 3.3 / 65535
        return 27 - (v - 0.706) / 0.001721
