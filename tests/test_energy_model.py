# cpython-only: checks the host-side battery model (tools/bench/energy.py), which never runs on a board.
# The model's arithmetic on hand-computed cases (not the emulated Pico W's measurement): the
# average current of each part, the life on a cell, the light-sleep wake and the command line.
import importlib.util
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOOL = os.path.join(os.path.dirname(HERE), "tools", "bench", "energy.py")


def _energy():
    spec = importlib.util.spec_from_file_location("energy_model", TOOL)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


BOARD = {
    "sleep_mode": "deep",
    "sleep_ma": 0.01,
    "cpu_ma": 40.0,
    "rx_ma": 100.0,
    "tx_ma": 200.0,
    "boot_ms": 200.0,
    "grace_ms": 0.0,
    "wake_overhead_ms": 1.0,
    "speed_factor": 0.5,
    "assoc_s": 2.0,
    "tls_s": 1.0,
    "throughput_kbs": 50.0,
    "rtt_s": 0.1,
    "ntp_s": 0.1,
}
MEASURED = {
    "wake_ms": 600.0,
    "cycle_ms": 30.0,
    "flush_ms": 10.0,
    "sync_cpu_ms": 1000.0,
    "sync_cpu_esp32_ms": 1500.0,  # the ESP32's own native code (BOARD takes the Pico W's build: 1000)
    "bytes_sent": 10000.0,
    "requests": 4.0,
    "handshakes": 1.0,
}
WORK = {
    "sample_every_s": 60,
    "upload_every_s": 3600,
    "flush_every_s": 600,
    "ntp_every_s": 3600,
    "battery_mah": 2000.0,
    "sensor_wait_ms": 0.0,
}
# By hand, per hour: a sampling wake 200 + 0.5 x 600 = 500 ms, 60 of them at 40 mA = 1,200,000 mA.ms;
# the sync's CPU 0.5 x 1000 = 500 ms at 100 mA = 50,000; radio listening 2 + 1 x 1 + 4 x 0.1 + 0.1
# = 3.5 s at 100 mA = 350,000, sending 10,000 B at 50 kB/s = 200 ms at 200 mA = 40,000; awake
# 30,000 + 500 + 3,500 + 200 = 34,200 ms, so sleep (3,600,000 - 34,200) x 0.01 = 35,658.
HAND = {
    "sampling": 1200000.0 / 3600000,
    "upload_cpu": 50000.0 / 3600000,
    "radio": 390000.0 / 3600000,
    "sleep": 35658.0 / 3600000,
}


def _close(a, b):
    return abs(a - b) <= 1e-9 * max(1.0, abs(b))


def test_each_part_of_the_average_current_matches_the_hand_computed_case():
    r = _energy().project(BOARD, MEASURED, WORK)
    for part, want in HAND.items():
        assert _close(r["breakdown_ma"][part], want), (part, r["breakdown_ma"][part], want)


def test_average_current_is_the_sum_of_the_parts_and_the_awake_time_is_counted_once():
    r = _energy().project(BOARD, MEASURED, WORK)
    assert _close(r["avg_ma"], 1675658.0 / 3600000)
    assert _close(r["awake_ms"], 34200.0) and _close(r["upload_wake_ms"], 500.0 + 500.0 + 3500.0 + 200.0)


def test_life_is_the_cell_over_the_average_current_in_days():
    r = _energy().project(BOARD, MEASURED, WORK)
    assert _close(r["life_days"], 2000.0 / (1675658.0 / 3600000) / 24.0)  # 179.03 days


def test_a_light_sleep_wake_is_the_cycle_plus_its_share_of_the_flush():
    light = dict(BOARD, sleep_mode="light", speed_factor=1.0)
    work = dict(WORK, sensor_wait_ms=16.0)
    # 1 ms out of light sleep + 30 ms of the cycle + 10 ms of flush every 10th wake + 16 ms sensor wait
    assert _close(_energy().sampling_wake_ms(light, MEASURED, work), 1.0 + 30.0 + 1.0 + 16.0)


def test_an_esp32_takes_the_sync_time_of_its_own_native_code():
    # the upload's reader and plan are native code on the Pico W only: an ESP32's upload CPU is
    # the sync timed with the ESP32's set, times its speed factor
    energy = _energy()
    esp = energy.BOARDS["esp32"]
    assert _close(energy.project(esp, MEASURED, WORK)["upload_cpu_ms"], esp["speed_factor"] * 1500.0)
    assert _close(energy.project(energy.BOARDS["pico_w"], MEASURED, WORK)["upload_cpu_ms"], 1000.0)


def test_the_sleep_current_alone_caps_the_life():
    assert _close(_energy().sleep_cap_days(1.5, WORK), 2000.0 / 1.5 / 24.0)  # 55.6 days


def test_the_command_line_projects_every_board_from_a_measured_file(tmp_path):
    path = tmp_path / "energy.json"
    path.write_text(json.dumps({"measured": MEASURED}))
    r = subprocess.run(
        [sys.executable, TOOL, "--measured", str(path), "--json"], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    energy = _energy()
    assert sorted(out) == sorted(energy.LABELS.values())
    esp = out[energy.LABELS["esp32"]]
    assert _close(esp["avg_ma"], energy.project(energy.BOARDS["esp32"], MEASURED)["avg_ma"])


def test_the_command_line_refuses_to_project_without_the_measured_figures():
    r = subprocess.run([sys.executable, TOOL, "--wake-ms", "900"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "missing measured figures" in r.stderr


def test_the_fill_check_counts_in_45_of_60_sampling_wakes():
    energy = _energy()
    assert _close(energy.fill_share(WORK), 45.0 / 60.0)  # minutes 15..59 after the upload
    # deep: 200 ms boot + 0.5 x (600 + 4 ms x 0.75)
    assert _close(energy.sampling_wake_ms(BOARD, dict(MEASURED, fill_ms=4.0), WORK), 501.5)


def test_a_board_with_rtc_memory_counts_fast_storing_and_full_wakes_by_hand():
    # per hour: 1 full wake (the upload's), 60 / 10 - 1 = 5 storing fast wakes, 54 fast wakes; each
    # 200 ms of boot + 0.5 x its time: full 200 + 350 = 550, storing 200 + 150 = 350, fast 200 + 25
    # = 225 ms; together 550 + 1,750 + 12,150 = 14,450 ms at 40 mA
    rtc = dict(BOARD, rtc_memory=1)
    m = dict(MEASURED, fast_ms=50.0, store_ms=300.0, absorb_ms=700.0)
    e = _energy()
    assert e.wake_counts(WORK) == (1, 5, 54)
    r = e.project(rtc, m, WORK)
    assert _close(r["breakdown_ma"]["sampling"], 14450.0 * 40.0 / 3600000)
    assert _close(r["upload_wake_ms"], 550.0 + 500.0 + 3500.0 + 200.0)  # the full wake's, not the average


def test_a_board_without_rtc_memory_wakes_in_full_every_time_even_with_fast_figures():
    m = dict(MEASURED, fast_ms=50.0, store_ms=300.0, absorb_ms=700.0)
    r = _energy().project(dict(BOARD, rtc_memory=0), m, WORK)
    assert _close(r["breakdown_ma"]["sampling"], HAND["sampling"])
