# board (ESP32): the facts of a generic ESP32 dev board (ESP32-WROOM-32, 4 MB flash) for the
# firmware; copied to the board as board.py (board.mpy) by tools/deploy.py.
#   sleep: deep sleep by default (about 10 uA): the board resets on wake and main.py starts again;
#          the firmware keeps its counters in RTC memory (2048 bytes, survives deep sleep) and the
#          Logger its clock anchor in its state file (log.before_sleep()).
#   clock: MicroPython's epoch is 2000-01-01 here; the RTC keeps counting through deep sleep
#          (on its RC oscillator: expect seconds of drift per hour), so samples after a wake are
#          stamped at once; NTP corrects it once per ntp_every_s.
#   watchdog: machine.WDT, any timeout; default radio_budget_ms + wifi.timeout_ms + 30 s.
#   Wi-Fi: network.WLAN(STA_IF); down between uploads (active(False)).
#   LED: GPIO 2 on most dev boards (active high). I2C 0: SCL 22, SDA 21. ADC: GPIO 32..39 with
#        atten 3 (11 dB, about 0..3.1 V) recommended.
#   check(): ADC on GPIO 32..39 only (ADC1: ADC2 reads nothing while Wi-Fi is on); I2C buses 0
#        and 1, on any output pin (not 6..11, the flash; not 34..39, input only).
#   flash/file system: littlefs (vfs.VfsLfs2) on the "vfs" partition (about 2 MB of a 4 MB
#        chip), erase block 4096 bytes.
#   internal temperature: esp32.mcu_temperature() (S2, S3, C3...), or raw_temperature() (F) on
#        the original ESP32 (uncalibrated: a trend, not a thermometer).

from hw import (
    MachineBoard,
    buffered_in_rtc_memory,
    keep_errors_in_rtc_memory,
    keep_in_rtc_memory,
    recall_from_rtc_memory,
)

_OUT_PINS = (0, 1, 2, 3, 4, 5, 12, 13, 14, 15, 16, 17, 18, 19, 21, 22, 23, 25, 26, 27, 32, 33)


class Board(MachineBoard):
    name = "esp32"
    sleep_default = "deep"
    has_deep_sleep = True
    wdt_max_ms = 0
    led_pin = 2
    # facts, for tools and for your own code
    epoch_year = 2000
    rtc_keeps_time_in_deep_sleep = True
    flash_bytes = 4194304
    filesystem = "littlefs"
    erase_block = 4096
    i2c_default = {"id": 0, "scl": 22, "sda": 21, "freq": 100000}
    adc_pins = (32, 33, 34, 35, 36, 37, 38, 39)
    adc_note = " (ADC1: ADC2's pins read nothing while Wi-Fi is on)"
    i2c_buses = (0, 1)
    i2c_sda = (_OUT_PINS, _OUT_PINS)
    i2c_scl = i2c_sda

    mcu_kind = "esp32"  # sensors.chip_temperature

    rtc_memory = True
    keep = keep_in_rtc_memory
    recall = recall_from_rtc_memory
    buffered = buffered_in_rtc_memory
    keep_errors = keep_errors_in_rtc_memory
