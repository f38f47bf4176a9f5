#!/usr/bin/env python3
"""make demo: the real firmware loop on the virtual board against the local Blynk emulator.

It starts the emulator (verified TLS with its own CA, the Device API with device 1's token),
writes a configuration into .demo/config/, deploys the firmware with it into the virtual board's
file system (.demo/board/flash, laid out as tools/deploy.py lays a board) and boots the virtual
board (tools/vboard.py: the MicroPython unix port, its clock set): a simulated offline day of 1-minute
samples from 3 simulated sensors (timestamps over the last 24 hours, at a high time-scale), then
the wake that finds Wi-Fi and uploads the backlog. It prints a short summary and the URL of the
emulator's chart page, and exits 0 only if every logged point arrived, exactly once.

Then a remote setting: the configuration maps sample_every_s to the settings datastream V20 (its
"remote" section). The board goes to deep sleep between wakes (each wake a new process); the
demo sets V20 on the emulator through the page's form, as a user would, and the board takes the
new sampling period from its next wake on (it reads the setting at that wake's upload). It exits
0 only if the wakes after the change are that far apart.

    python tools/demo.py [--hours 24] [--every 60] [--time-scale 200000] [--heapsize 512K] [--keep]

--keep serves the chart page after the run until Ctrl-C.
"""

import argparse
import json
import os
import shutil
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = os.path.join(ROOT, ".demo")
BOARD_DIR = os.path.join(DEMO, "board")  # the virtual board (tools/vboard.py); its file system in flash/
CONFIG_DIR = os.path.join(DEMO, "config")
RUN_TIMEOUT_S = 150
SETTING = {"pin": "V20", "type": "int", "min": 10, "max": 3600}  # the remote setting of sample_every_s
NEW_EVERY_S = 300  # what the demo sets it to on the page
REMOTE_WAKES = (2, 3)  # deep-sleep wakes before and after the change
STREAMS = (  # name, datastream id / pin, simulated sensor
    ("temperature", 1, {"base": 21.0, "amplitude": 4.0, "noise": 0.3, "seed": 1}),
    ("humidity", 2, {"base": 55.0, "amplitude": 15.0, "noise": 1.0, "seed": 2, "decimals": 1}),
    ("pressure", 3, {"base": 1013.0, "amplitude": 6.0, "noise": 0.5, "seed": 3, "period_s": 43200, "decimals": 1}),
)


def micropython():
    exe = os.path.join(os.path.dirname(sys.executable), "micropython")
    if os.path.exists(exe):
        return exe
    exe = shutil.which("micropython")
    if exe is None:
        sys.exit("demo: no micropython command; run `make demo` (it installs requirements-dev.txt into .venv)")
    return exe


def demo_config(srv, hours, every_s):
    cycles = hours * 3600 // every_s  # the offline period; then the wake that uploads (one more cycle)
    streams = {}
    sensors = []
    for name, sid, sim in STREAMS:
        streams[name] = {"id": sid, "pin": "V%d" % sid, "type": "double"}
        spec = {"type": "sim", "stream": name}
        spec.update(sim)
        sensors.append(spec)
    return {
        "server": srv.url,
        "api": "device",
        "token": "test-device-token",
        "ca": "emulator-ca.der",
        "streams": streams,
        "store": {"capacity": 262144},
        "wifi": {"ssid": "virtual-net", "password": "virtual-password"},
        "sensors": sensors,
        "sample_every_s": every_s,
        "upload_every_s": 3600,
        "radio_budget_ms": 60000,
        "sleep": "light",  # one process for the whole day (deep sleep: a process per wake)
        "log_file": "error.log",
        "board": {"wakes": cycles, "upload_at_end": True},
        "remote": {"sample_every_s": SETTING, "read_every_s": 0},
    }


def run_firmware(cfg_path, hours, time_scale, heapsize="512K"):
    # the virtual board (tools/vboard.py): its file system laid out by deploy, its RTC set (a board
    # that had the time), Wi-Fi out of reach for the first `hours` of simulated time
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    import deploy
    import vboard

    start = int(time.time() * 1000) - hours * 3600000
    vb = vboard.VBoard(BOARD_DIR, micropython(), heapsize, time_scale, start_ms=start)
    deploy.deploy_to_folder("unix", vb.flash, cfg_path, out=lambda m: None)
    vb.set_offline([(start, start + hours * 3600000)])
    vb.power_on(rtc_kept=True)
    r = vb.boot(timeout_s=RUN_TIMEOUT_S)
    summary = None
    offline = 0
    with open(os.path.join(DEMO, "firmware.log"), "w") as log:
        log.write(r.out)
    for line in r.lines():
        if line.startswith("SUMMARY "):
            summary = json.loads(line[8:])
        elif "wifi: no connection" in line:
            offline += 1
        elif line.startswith(("blynklog firmware", "upload:", "ERROR", "blynklog:")):
            print("  board |", line)
    if offline:
        print("  board | (%d upload attempts found no Wi-Fi during the simulated offline day)" % offline)
    if r.how != "exit":
        print("demo: the firmware ended with %s (status %s); last lines:" % (r.how, r.rc))
        for line in r.lines()[-15:]:
            print("  board |", line)
    return summary


def set_on_page(srv, stream, value):
    # what the emulator's page does when its form is sent: POST /_emu/set, as a browser would
    import urllib.parse
    import urllib.request

    body = urllib.parse.urlencode({"device": 1, "stream": stream, "value": value}).encode()
    req = urllib.request.Request(srv.http_url + "/_emu/set", data=body, method="POST")
    req.add_header("Content-Type", "application/x-www-form-urlencoded")

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args):
            return None  # the page's 303 back to "/": not followed

    try:
        urllib.request.build_opener(NoRedirect).open(req, timeout=10)
    except urllib.error.HTTPError as e:
        if e.code != 303:
            raise


def remote_setting(srv, cfg_path, every_s, heapsize):
    # The board of the first part, now sleeping deep between wakes (a new process each, as a
    # board's deep sleep is a reset) and uploading at each wake. Wakes before the change, the
    # setting changed on the page, wakes after it. -> (intervals before, intervals after) in s
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    import vboard

    vb = vboard.VBoard(BOARD_DIR, micropython(), heapsize)
    with open(cfg_path) as f:
        cfg = json.load(f)
    cfg.update({"sleep": "deep", "upload_every_s": 30, "board": {}})  # an upload at every wake
    with open(os.path.join(vb.flash, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    starts = []
    changed_at = None
    with open(os.path.join(DEMO, "firmware.log"), "a") as log:
        for i in range(sum(REMOTE_WAKES) + 1):
            if i == REMOTE_WAKES[0] + 1:
                set_on_page(srv, 20, NEW_EVERY_S)
                changed_at = len(starts)
                print("  page  | V20 (sample_every_s) set to %d on the emulator's page" % NEW_EVERY_S)
            r = vb.boot(timeout_s=60)
            log.write(r.out)
            starts.append(r.world_before)
            for line in r.lines():
                if line.startswith(("remote:", "ERROR")):
                    print("  board | wake %d: %s" % (i + 1, line))
            if r.how != "deepsleep":
                print("demo: wake %d ended with %s (status %s)" % (i + 1, r.how, r.rc))
                return None
    gaps = [(starts[k + 1] - starts[k]) // 1000 for k in range(len(starts) - 1)]
    # the wake that reads the new value sleeps by it already: the gaps from changed_at on
    return gaps[:changed_at], gaps[changed_at:]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=int, default=24, help="simulated offline period (default 24)")
    ap.add_argument("--every", type=int, default=60, help="seconds between samples (default 60)")
    ap.add_argument("--time-scale", type=float, default=200000, help="simulated ms per real ms of sleep")
    ap.add_argument("--heapsize", default="512K", help="the unix port's heap, like a board's RAM (default 512K)")
    ap.add_argument("--keep", action="store_true", help="serve the chart page after the run until Ctrl-C")
    args = ap.parse_args(argv)
    t0 = time.monotonic()
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    from blynk_server import BlynkServer

    shutil.rmtree(BOARD_DIR, ignore_errors=True)
    shutil.rmtree(CONFIG_DIR, ignore_errors=True)
    os.makedirs(CONFIG_DIR)
    srv = BlynkServer(tls=True, cert_dir=os.path.join(DEMO, "certs"), wrong_name=False).start()
    try:
        shutil.copy(srv.ca_der_path, os.path.join(CONFIG_DIR, "emulator-ca.der"))
        cfg = demo_config(srv, args.hours, args.every)
        cfg_path = os.path.join(CONFIG_DIR, "config.json")
        with open(cfg_path, "w") as f:
            json.dump(cfg, f, indent=1)
        print("demo: emulator at %s (verified TLS), virtual board in %s" % (srv.url, os.path.relpath(BOARD_DIR, ROOT)))
        print(
            "demo: %d h offline, a sample every %d s from %d sensors, time-scale %g"
            % (args.hours, args.every, len(STREAMS), args.time_scale)
        )
        srv.add_stream(1, 20, SETTING["pin"], "int", min=SETTING["min"], max=SETTING["max"], setting=True)
        srv.stream_names[(1, 20)] = "sample_every_s"
        summary = run_firmware(cfg_path, args.hours, args.time_scale, args.heapsize)
        elapsed = time.monotonic() - t0
        ok = summary is not None
        arrived = {}
        dupes = 0
        for name, sid, _ in STREAMS:
            pts = srv.points(1, sid)
            arrived[name] = len(pts)
            dupes += len(pts) - len(set(ts for ts, _ in pts))
        total = sum(arrived.values())
        stats = srv.stats()
        print()
        if summary is None:
            print("demo: FAILED: the firmware gave no summary (see .demo/firmware.log)")
        else:
            logged = summary["samples"]
            print("points logged      %d (%s)" % (logged, ", ".join("%s %d" % (n, arrived[n]) for n, _, _ in STREAMS)))
            print(
                "points uploaded    %d acknowledged, %d arrived at the server, %d pending on the board"
                % (summary["sent"], total, summary.get("pending", -1))
            )
            print("requests           %d (server saw %d)" % (summary["requests"], stats["requests"]))
            print("TLS handshakes     %d" % summary["handshakes"])
            print(
                "bytes sent         %d (%.1f per point)"
                % (summary["bytes_sent"], summary["bytes_sent"] / max(1, total))
            )
            print(
                "board errors       %d (%d Wi-Fi attempts offline), sensor errors %d"
                % (summary["errors"], summary["wifi_failures"], summary["sensor_errors"])
            )
            print("time               %.1f s" % elapsed)
            ok = (
                logged > 0
                and total == logged
                and summary["sent"] == logged
                and not dupes
                and summary.get("pending") == 0
            )
        if ok:  # the second part: a remote setting
            print()
            print("demo: a remote setting: the board sleeps deep between wakes, sample_every_s %d s" % args.every)
            gaps = remote_setting(srv, cfg_path, args.every, args.heapsize)
            if gaps is None:
                ok = False
            else:
                before, after = gaps
                print("wakes before       %s s apart" % ", ".join(str(g) for g in before))
                print("wakes after        %s s apart" % ", ".join(str(g) for g in after))
                good = set(after) == {NEW_EVERY_S} and set(before) == {args.every}
                print(
                    "remote setting     %s"
                    % (
                        "OK: the board samples every %d s from the wake after the change" % NEW_EVERY_S
                        if good
                        else "FAILED: the wakes do not follow the setting"
                    )
                )
                ok = good
        print(
            "chart              %s/%s"
            % (srv.http_url, "" if args.keep else "  (served while the demo runs; --keep to keep it)")
        )
        print(
            "demo: %s"
            % (
                "OK: every point arrived, and the setting changed on the page took effect at the next wake"
                if ok
                else "FAILED: see above and .demo/firmware.log"
            )
        )
        if args.keep:
            print("demo: serving the chart until Ctrl-C")
            try:
                while True:
                    time.sleep(1)
            except KeyboardInterrupt:
                pass
        return 0 if ok else 1
    finally:
        srv.stop()


if __name__ == "__main__":
    sys.exit(main())
