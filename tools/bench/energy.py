#!/usr/bin/env python3
"""Battery model of a blynklog board: average current and life on a cell, from measured awake times.

    python tools/bench/energy.py --measured build/energy.json      # figures from energy_bench.py --json
    python tools/bench/energy.py --wake-ms 1070 --cycle-ms 35 --flush-ms 1 --sync-cpu-ms 2400 \\
        --sync-cpu-esp32-ms 2900 --bytes 9000 --requests 4 --handshakes 1   # or given by hand
    python tools/bench/energy.py --sources                         # every figure and where it comes from

Per upload period (upload_every_s; 60 sampling wakes of which one also uploads, in the example
configuration), per board:
  sampling  = wakes x (awake per sampling wake) x cpu_ma        (radio off)
              deep sleep with RTC memory (ESP32, sensors.fast_wake in firmware/sensors.py): per upload period one full
              wake (the upload's: app.py, adding the buffered samples: absorb_ms), one storing
              fast wake every flush_every_s less that one (store_ms: it adds the buffer to
              the store), the rest fast wakes (fast_ms: the sample to RTC memory); each
              boot_ms + speed_factor x (its time) + sensor wait
              deep sleep without (Pico W): boot_ms + speed_factor x (wake_ms + fill check) + sensor wait
              light sleep (Pico W's default): lightsleep exit + speed_factor x (the cycle's work +
              fill check + the flush every flush_every_s, shared out) + sensor wait (nothing is
              imported or opened again); the fill check (fill_ms) runs in 45 of 60 wakes
  upload_cpu = speed_factor x sync_cpu_ms x rx_ma               (the radio is up during the sync;
              the ESP32's sync_cpu_esp32_ms: its own native code, timed on the Pico W's CPU)
  radio     = (association + DHCP + handshakes x TLS + requests x round trip + NTP share) x rx_ma
              + bytes / throughput x tx_ma
  sleep     = the rest of the period x sleep_ma
average current = their sum / period; life = battery_mah / average / 24 days. The measured times
are the emulated Pico W's (tools/bench/energy_bench.py); the ESP32's are those scaled by its stated
speed factor. Currents, link figures and assumptions are in BOARDS / LINK below with their
sources (docs/ENERGY.md gives them in prose).
"""

import argparse
import json
import sys

EXAMPLE = {
    # firmware/config.example.json; the sensor wait is the SHT3x driver's (firmware/sensors.py)
    "sample_every_s": 60,
    "upload_every_s": 3600,
    "flush_every_s": 600,
    "ntp_every_s": 86400,
    "battery_mah": 2000.0,
    "sensor_wait_ms": 16.0,
}

SOURCES = {
    "esp32-ds": "Espressif, ESP32 Series Datasheet: 'Power Consumption by Power Modes' (Deep-sleep, RTC timer + "
    "RTC memory: 10 uA; Modem-sleep, CPU powered on: 240 MHz 30-68 mA, 160 MHz 27-44 mA, 80 MHz "
    "20-31 mA) and 'RF Power-Consumption Specifications' (TX 802.11b 1 Mbps +19.5 dBm: 240 mA, "
    "802.11g 54 Mbps +16 dBm: 190 mA, 802.11n MCS7 +14 dBm: 180 mA; RX 802.11b/g/n: 95-100 mA; "
    "TX at 50% duty cycle, 3.3 V, 25 C); read as reproduced at "
    "https://docs.deneyapkart.org/en/content/contentDetail/deneyap-1a-development-board-power-consumption-esp",
    "mp-lightsleep": "MicroPython commit b004e7e397 (pull request micropython/micropython#8832, 'rp2/modmachine: "
    "Implement lightsleep() with optional sleep period', Damien George; closes issue #8770): "
    "'Measured current consumption from the USB port on a PICO board is about 1.5mA when doing "
    "machine.lightsleep(5000), and about 0.9mA when doing machine.lightsleep()'",
    "mp-8770": "micropython/micropython#8770 (Peter Hinch): a Pico running MicroPython, 5 V on VSYS, no USB: "
    "~21 mA awake; on rp2 deepsleep() calls lightsleep()",
    "cyw43-126": "georgerobotics/cyw43-driver#126 (Damien George): 'CYW43_NO_POWERSAVE_MODE costs about 36mA in "
    "idle STA mode while connected to an AP (the cyw43xx stays on during idle)'; PM1/PM2 about 2 mA",
    "mp-esp32-131": "micropython/micropython-esp32#131: MicroPython on an ESP32, average TLS handshake 1.04-1.08 s "
    "over 21,000-55,000 handshakes",
    "mp-5543": "micropython/micropython#5543: MicroPython on an ESP32, 1,550 KB through a TLS socket in 21 s "
    "(about 70 KB/s; 20.3 s over plain TCP)",
    "scruss": "https://scruss.com/blog/tag/benchmark/ (one MicroPython benchmark on many boards): HUZZAH32, "
    "ESP32 at 160 MHz, MicroPython 1.24.1: 15.4 s; Raspberry Pi Pico W, RP2040 at 125 MHz, "
    "MicroPython 1.24.1: 19.8 s",
    "mp-sdkconfig": "micropython/micropython ports/esp32/boards/sdkconfig.base: sets no CPU frequency (ESP-IDF's "
    "default, 160 MHz, applies), CONFIG_BOOTLOADER_SKIP_VALIDATE_IN_DEEP_SLEEP=y",
    "johnmu": "https://johnmu.com/2022-esp8266-wifi-speed/ (ESP8266, measured): a normal connect about 4 s, "
    "1.3 s with BSSID and channel given, 170 ms with the connection state persisted",
    "lucidar": "https://lucidar.me/en/esp32/power-consumption-of-esp32-devkitc-v4/: an ESP32-DevKitC V4 draws "
    "3.8 mA in deep sleep at 5 V (its USB-UART bridge and regulator); a FireBeetle board 10 uA",
    "ghubcoder-7": "ghubcoder/micropython-pico-deepsleep#7: a Pico W's 1.5 mA in lightsleep rose to 2.2 mA "
    "once Wi-Fi had been started (2022 firmware)",
    "deploy": "tools/deploy.py: the functions marked native for every board are native code on both, the upload's "
    "reader and plan (marked for armv6m) on the Pico W only; the ESP32's sync time is timed with its own set",
    "readme": "this project's README and boards/rp2040/board.py: rp2's deep sleep is light sleep in watchdog-fed "
    "steps, then a reset marked in a watchdog scratch register, so its wake skips the 3 s boot grace",
    "mp-rtc-mem": "micropython/micropython ports/esp32/machine_rtc.c: RTC().memory() holds up to "
    "MICROPY_HW_RTC_USER_MEM_MAX (2048) bytes in RTC_NOINIT_ATTR memory, 'so the user memory survives "
    "WDT resets and the like' (and deep sleep); the firmware's fast wake (sensors.fast_wake in firmware/sensors.py) keeps "
    "its samples there",
    "assumption": "an assumption of this model, not a measurement",
}

LABELS = {
    "esp32": "ESP32 (WROOM module, deep sleep)",
    "esp32_devkit": "ESP32 on a DevKitC as sold (USB-UART bridge and regulator always on)",
    "pico_w": "Pico W (light sleep, the firmware's default)",
    "pico_w_deep": "Pico W with `sleep: deep`",
}

# Each figure: (value, source key). Currents in mA at the chip or board as the source measured it
# (no regulator or converter losses are added); times in ms or s as named.
_ESP32 = {
    "sleep_mode": ("deep", "readme"),
    "rtc_memory": (1, "mp-rtc-mem"),  # the fast wake (sensors.fast_wake) runs: samples kept in RTC memory
    "sleep_ma": (0.010, "esp32-ds"),  # Deep-sleep, RTC timer + RTC memory
    "cpu_ma": (44.0, "esp32-ds"),  # Modem-sleep at 160 MHz: top of 27-44 mA
    "rx_ma": (100.0, "esp32-ds"),  # RX/listen: top of 95-100 mA (the radio is up)
    "tx_ma": (240.0, "esp32-ds"),  # the highest TX figure (802.11b at +19.5 dBm)
    "boot_ms": (300.0, "assumption"),  # deep-sleep wake to main.py: ROM, bootloader, MicroPython, littlefs, boot.py
    "grace_ms": (0.0, "readme"),  # a wake from deep sleep skips the boot grace
    "wake_overhead_ms": (0.0, "assumption"),
    "speed_factor": (0.78, "scruss"),  # ESP32 time / Pico W time = 15.4 / 19.8
    "sync_code": ("esp32", "deploy"),  # its sync's time: the ESP32's native set on the Pico W's CPU
    "assoc_s": (2.5, "johnmu"),  # WLAN.connect(ssid, key) to an IP: between 1.3 s and 4 s
    "tls_s": (1.08, "mp-esp32-131"),
    "throughput_kbs": (70.0, "mp-5543"),
    "rtt_s": (0.1, "assumption"),  # per request: the round trip to the Blynk region and the server's time
    "ntp_s": (0.1, "assumption"),  # one NTP exchange
}
_PICO_W = {
    "sleep_mode": ("light", "readme"),
    "rtc_memory": (0, "readme"),  # rp2 has no RTC memory: every deep-sleep wake is a full one
    "sleep_ma": (1.5, "mp-lightsleep"),  # timed lightsleep (0.9 mA is the untimed, dormant one)
    "cpu_ma": (21.0, "mp-8770"),
    "rx_ma": (57.0, "cyw43-126"),  # 21 mA (RP2040) + 36 mA (CYW43439 up, connected, no power save)
    "tx_ma": (250.0, "assumption"),  # no CYW43439 TX figure reached; of the order of the ESP32's
    "boot_ms": (0.0, "readme"),  # light sleep: no boot
    "grace_ms": (0.0, "readme"),
    "wake_overhead_ms": (1.0, "assumption"),  # lightsleep exit: clocks restarted
    "speed_factor": (1.0, "scruss"),  # the measured board itself
    "sync_code": ("pico_w", "deploy"),
    "assoc_s": (3.5, "assumption"),  # CYW43 firmware load at active(True), then as the ESP32's 2.5 s
    "tls_s": (3.0, "assumption"),  # no crypto accelerator on a 125 MHz Cortex-M0+: about 3x the ESP32's
    "throughput_kbs": (50.0, "assumption"),
    "rtt_s": (0.1, "assumption"),
    "ntp_s": (0.1, "assumption"),
}


def _values(d, **over):
    out = dict((k, v[0]) for k, v in d.items())
    out.update(over)
    return out


FIGURES = {"esp32": _ESP32, "pico_w": _PICO_W}
# the other rows: a board's figures with these changed (value, source)
VARIANTS = {
    "esp32_devkit": ("esp32", {"sleep_ma": (3.8, "lucidar")}),
    "pico_w_deep": (
        "pico_w",
        {
            "sleep_mode": ("deep", "readme"),
            "boot_ms": (300.0, "assumption"),
            "grace_ms": (0.0, "readme"),
            "wake_overhead_ms": (0.0, "readme"),
        },
    ),
}
BOARDS = {"esp32": _values(_ESP32), "pico_w": _values(_PICO_W)}
for _name, (_base, _over) in VARIANTS.items():
    BOARDS[_name] = _values(FIGURES[_base], **dict((k, v[0]) for k, v in _over.items()))
ORDER = ("esp32", "esp32_devkit", "pico_w", "pico_w_deep")
MEASURED_KEYS = (
    "wake_ms",
    "cycle_ms",
    "flush_ms",
    "sync_cpu_ms",
    "sync_cpu_esp32_ms",
    "bytes_sent",
    "requests",
    "handshakes",
)
SYNC_KEYS = {"pico_w": "sync_cpu_ms", "esp32": "sync_cpu_esp32_ms"}  # a board's sync_code -> its measured time


def fill_share(w=EXAMPLE):
    # the share of the sampling wakes that check the store's fill (app.App.upload_due: from a
    # quarter of upload_every_s after the last upload until the next one is due): 45 of 60
    wakes = w["upload_every_s"] // w["sample_every_s"]
    first = -(-w["upload_every_s"] // (4 * w["sample_every_s"]))  # ceil
    return float(wakes - first) / wakes


def wake_counts(w=EXAMPLE):
    # per upload period on a board with the fast wake: (full wakes, storing fast wakes, fast wakes).
    # The full one is the upload's; a storing one comes flush_every_s after the last store.
    wakes = w["upload_every_s"] // w["sample_every_s"]
    per_store = max(1, w["flush_every_s"] // w["sample_every_s"])
    store = max(0, wakes // per_store - 1)
    return 1, store, wakes - 1 - store


def fast_path(b, m):
    # whether board b's deep-sleep wakes are the fast ones (RTC memory, and they were measured)
    return b["sleep_mode"] == "deep" and b.get("rtc_memory") and m.get("fast_ms") is not None


def sampling_wake_ms(b, m, w=EXAMPLE):
    # awake time of one sampling wake on board b (ms), on average over an upload period
    k = b["speed_factor"]
    fill = m.get("fill_ms", 0.0) * fill_share(w)
    if fast_path(b, m):
        full, store, fast = wake_counts(w)
        each = b["boot_ms"] + b["grace_ms"] + w["sensor_wait_ms"]
        total = (
            full * (each + k * m["absorb_ms"]) + store * (each + k * m["store_ms"]) + fast * (each + k * m["fast_ms"])
        )
        return total / float(full + store + fast)
    if b["sleep_mode"] == "deep":
        return b["boot_ms"] + b["grace_ms"] + k * (m["wake_ms"] + fill) + w["sensor_wait_ms"]
    flush = m["flush_ms"] * float(w["sample_every_s"]) / w["flush_every_s"]
    return b["wake_overhead_ms"] + k * (m["cycle_ms"] + fill + flush) + w["sensor_wait_ms"]


def sampling_ma(b, m, w=EXAMPLE):
    # the sampling wakes' share of the average current alone (e.g. with a full store's wake)
    return sampling_wake_ms(b, m, w) * b["cpu_ma"] / (w["sample_every_s"] * 1000.0)


def project(b, m, w=EXAMPLE):
    # -> dict: the times (ms per upload period), breakdown_ma (each part's share of the average
    # current), avg_ma, life_days
    period_ms = w["upload_every_s"] * 1000.0
    wakes = float(w["upload_every_s"]) / w["sample_every_s"]
    wake = sampling_wake_ms(b, m, w)
    full_wake = wake  # the upload wake's sampling part: a full wake where fast ones are the rest
    if fast_path(b, m):
        full_wake = b["boot_ms"] + b["grace_ms"] + w["sensor_wait_ms"] + b["speed_factor"] * m["absorb_ms"]
    cpu_sync = b["speed_factor"] * m[SYNC_KEYS[b.get("sync_code", "pico_w")]]
    listen = 1000.0 * (
        b["assoc_s"]
        + m["handshakes"] * b["tls_s"]
        + m["requests"] * b["rtt_s"]
        + b["ntp_s"] * float(w["upload_every_s"]) / w["ntp_every_s"]
    )
    tx = 1000.0 * m["bytes_sent"] / (b["throughput_kbs"] * 1000.0)
    awake = wakes * wake + cpu_sync + listen + tx
    charge = {  # mA x ms per upload period
        "sleep": (period_ms - awake) * b["sleep_ma"],
        "sampling": wakes * wake * b["cpu_ma"],
        "upload_cpu": cpu_sync * b["rx_ma"],
        "radio": listen * b["rx_ma"] + tx * b["tx_ma"],
    }
    breakdown = dict((k, v / period_ms) for k, v in charge.items())
    avg = sum(breakdown.values())
    return {
        "sampling_wake_ms": wake,
        "upload_cpu_ms": cpu_sync,
        "radio_listen_ms": listen,
        "radio_tx_ms": tx,
        "radio_on_ms": cpu_sync + listen + tx,
        "upload_wake_ms": full_wake + cpu_sync + listen + tx,
        "awake_ms": awake,
        "breakdown_ma": breakdown,
        "avg_ma": avg,
        "life_days": w["battery_mah"] / avg / 24.0,
    }


def sleep_cap_days(sleep_ma, w=EXAMPLE):
    # the life the sleep current alone allows
    return w["battery_mah"] / sleep_ma / 24.0


def life_text(days):
    return "%.0f days (%.1f months)" % (days, days / 30.44)


def projections(m, w=EXAMPLE):
    return [(LABELS[k], project(BOARDS[k], m, w)) for k in ORDER]


def table(m, w=EXAMPLE):
    lines = [
        "%-70s %9s %9s %9s %9s %9s %8s  %s"
        % ("board", "wake ms", "upload s", "sleep", "sampling", "upl.cpu", "radio", "average -> life")
    ]
    for label, r in projections(m, w):
        b = r["breakdown_ma"]
        lines.append(
            "%-70s %9.1f %9.2f %9.4f %9.4f %9.4f %8.4f  %.3f mA -> %s"
            % (
                label,
                r["sampling_wake_ms"],
                r["upload_wake_ms"] / 1000.0,
                b["sleep"],
                b["sampling"],
                b["upload_cpu"],
                b["radio"],
                r["avg_ma"],
                life_text(r["life_days"]),
            )
        )
    cap = sleep_cap_days(BOARDS["pico_w"]["sleep_ma"], w)
    lines.append("Pico W: its sleep current alone caps the life at %s" % life_text(cap))
    return "\n".join(lines)


def sources_text():
    out = []
    for board, figs in sorted(FIGURES.items()):
        out.append(board + ":")
        for k, (v, src) in figs.items():
            out.append("  %-16s %-8s %s" % (k, v, src))
    for name, (base, over) in sorted(VARIANTS.items()):
        out.append("%s (%s with):" % (name, base))
        for k, (v, src) in over.items():
            out.append("  %-16s %-8s %s" % (k, v, src))
    out.append("")
    for k, v in SOURCES.items():
        out.append("%s: %s" % (k, v))
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--measured", help="JSON with a 'measured' dict (tools/bench/energy_bench.py --json writes one)")
    ap.add_argument("--wake-ms", type=float, help="a deep-sleep sampling wake, main.py to deepsleep() (Pico W), ms")
    ap.add_argument("--cycle-ms", type=float, help="a light-sleep cycle's work (sample + add + checks), ms")
    ap.add_argument("--flush-ms", type=float, help="one flush of a wake's samples, ms")
    ap.add_argument("--fill-ms", type=float, help="the cycle's fill check (Logger.stats()), ms (default 0)")
    ap.add_argument("--fast-ms", type=float, help="a fast wake (sensors.fast_wake: the sample to RTC memory), ms")
    ap.add_argument("--store-ms", type=float, help="a fast wake that stores the buffer, ms (with --fast-ms)")
    ap.add_argument("--absorb-ms", type=float, help="a full wake that adds the buffer first, ms (with --fast-ms)")
    ap.add_argument("--sync-cpu-ms", type=float, help="CPU time of the upload's sync (Pico W), ms")
    ap.add_argument(
        "--sync-cpu-esp32-ms",
        type=float,
        help="the same with the ESP32's native code (timed on the Pico W's CPU, before the speed factor), ms",
    )
    ap.add_argument("--bytes", type=float, dest="bytes_sent", help="bytes sent by the upload")
    ap.add_argument("--requests", type=float, help="HTTP requests of the upload")
    ap.add_argument("--handshakes", type=float, help="TLS handshakes of the upload")
    ap.add_argument("--battery-mah", type=float, default=EXAMPLE["battery_mah"])
    ap.add_argument("--sample-every-s", type=int, default=EXAMPLE["sample_every_s"])
    ap.add_argument("--upload-every-s", type=int, default=EXAMPLE["upload_every_s"])
    ap.add_argument("--sources", action="store_true", help="print every figure and its source, then exit")
    ap.add_argument("--json", action="store_true", help="print the projections as JSON")
    a = ap.parse_args(argv)
    if a.sources:
        print(sources_text())
        return 0
    m = {}
    if a.measured:
        with open(a.measured) as f:
            data = json.load(f)
        m.update(data.get("measured", data))
    for k in MEASURED_KEYS + ("fill_ms", "fast_ms", "store_ms", "absorb_ms"):
        if getattr(a, k) is not None:
            m[k] = getattr(a, k)
    missing = [k for k in MEASURED_KEYS if k not in m]
    if m.get("fast_ms") is not None:
        missing += [k for k in ("store_ms", "absorb_ms") if m.get(k) is None]
    if missing:
        ap.error("missing measured figures: %s (give --measured FILE or the flags)" % ", ".join(missing))
    w = dict(EXAMPLE, battery_mah=a.battery_mah, sample_every_s=a.sample_every_s, upload_every_s=a.upload_every_s)
    if a.json:
        print(json.dumps(dict(projections(m, w)), indent=1))
    else:
        print(table(m, w))
    return 0


if __name__ == "__main__":
    sys.exit(main())
