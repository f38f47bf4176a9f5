# app: the firmware loop. Every sample_every_s: read the sensors and add() the readings; flush by
# policy; every upload_every_s (or when the store passes fill_threshold) bring Wi-Fi up, set the
# clock if needed, sync() within the radio budget, bring Wi-Fi down (without the time, that upload
# comes before the sampling); then sleep (light or deep by board and config). The watchdog is fed between steps. No error ends
# the loop: it goes to the console and the error log, and the loop goes on; a sensor that fails to
# read is reported and nothing is stored for it. A configuration error stops at boot with a message
# naming the key and leaves the board at the REPL (no reset, so no boot loop).
#   main(config_path="config.json", board=None) -> the summary dict (None after a boot error)
# Allocates: the sensors' buffers and the App once; per cycle only the readings and the reports.
# One task only.
import gc
import json
import sys

import sensors as _sensors
from errlog import ErrorLog

_COUNTERS = ("cycles", "samples", "refused", "sensor_errors", "add_errors", "uploads", "wifi_failures",
             "sent", "requests", "handshakes", "bytes_sent", "loop_errors")


class App:
    def __init__(self, fw, board, log, errors, capacity=262144):
        self.fw = fw
        self.capacity = capacity  # store.capacity (bytes), for fill_threshold
        self.board = board
        self.log = log
        self.errors = errors
        self.totals = {}
        for k in _COUNTERS:
            self.totals[k] = 0
        self.last_report = None
        self.sensors = []
        for i, spec in enumerate(fw["sensors"]):
            self.sensors.append([None, spec, "sensors[%d] %s" % (i, spec["type"])])
        self._make_sensors()
        mode = fw["sleep"]
        if mode == "auto":
            mode = board.sleep_default
        if mode == "deep" and not board.has_deep_sleep:
            mode = "light"
        self.sleep_mode = mode
        wdt = fw["watchdog_ms"]
        if wdt is None:
            wdt = board.wdt_default(fw)  # 0 where the board's maximum is shorter than an upload
        self.wdt_ms = wdt
        # schedule, in board ms; kept across deep sleep through board.keep()/recall()
        now = board.ms()
        kept = board.recall() if mode == "deep" else None
        if not isinstance(kept, dict):
            kept = {}
        up_every = fw["upload_every_s"] * 1000
        self.last_upload = now - kept.get("up", up_every)  # a fresh boot tries at once (and sets the clock)
        self.last_flush = now - kept.get("fl", 0)
        ntp = kept.get("ntp")
        self.last_ntp = None if ntp is None else now - ntp

    def _make_sensors(self):
        for entry in self.sensors:
            if entry[0] is None:
                try:
                    entry[0] = _sensors.make(entry[1], self.board)
                except Exception as e:  # a missing part: reported, retried next cycle
                    self.totals["sensor_errors"] += 1
                    self.errors.report(entry[2], e)

    # ---- one cycle

    def sample(self):
        ts = self.board.sample_ts()
        t = self.totals
        self._make_sensors()
        for sensor, spec, label in self.sensors:
            if sensor is None:
                continue
            try:
                values = sensor.read()
            except Exception as e:
                t["sensor_errors"] += 1
                self.errors.report(label, e)
                continue
            for i, stream in spec["map"]:
                v = values[i]
                try:
                    if self.log.add(stream, v, ts):
                        t["samples"] += 1
                    else:
                        t["refused"] += 1
                except (ValueError, TypeError) as e:  # NaN, out of range, wrong type: not stored
                    t["add_errors"] += 1
                    self.errors.report("%s -> %s" % (label, stream), e)
            if self.fw["verbose"]:
                print("sample", label, values)

    def fill(self):
        st = self.log.stats()
        store = st.get("store") or {}
        cap = store.get("capacity") or self.capacity
        used = store.get("bytes")
        if not cap or used is None:
            return 0.0
        return used / cap

    def upload_due(self, now):
        if now - self.last_upload >= self.fw["upload_every_s"] * 1000:
            return True
        # a store past the threshold uploads early, at most once per quarter of upload_every_s
        if now - self.last_upload >= self.fw["upload_every_s"] * 250:
            return self.fill() >= self.fw["fill_threshold"]
        return False

    def upload(self):
        b = self.board
        fw = self.fw
        t = self.totals
        start = b.ms()
        self.last_upload = start
        t["uploads"] += 1
        b.led(True)
        try:
            err = b.wifi_up(fw["wifi"])
            b.feed()
            if err:
                t["wifi_failures"] += 1
                self.errors.report("wifi", err)
                return None
            clock = self.log.clock
            budget = fw["radio_budget_ms"]
            if b.can_ntp and (not clock.is_set() or self.last_ntp is None or
                              b.ms() - self.last_ntp >= fw["ntp_every_s"] * 1000):
                if clock.sync_ntp(timeout_ms=min(5000, budget // 2)):
                    self.last_ntp = b.ms()
                else:
                    self.errors.report("ntp", clock.last_error or "no answer")
                b.feed()
            left = budget - (b.ms() - start)
            if left < 500:
                self.errors.report("upload", "radio budget spent before the upload")
                return None
            r = self.log.sync(budget_ms=left)
            self.last_report = r
            for k in ("sent", "requests", "handshakes", "bytes_sent"):
                t[k] += r.get(k) or 0
            print("upload: sent %d, pending %d, %d requests, %d handshakes, %d bytes, stopped %s, %d ms" % (
                r.get("sent", 0), r.get("pending", 0), r.get("requests") or 0, r.get("handshakes") or 0,
                r.get("bytes_sent") or 0, r.get("stopped"), b.ms() - start))
            if r.get("last_error"):
                self.errors.report("upload", r["last_error"])
            return r
        finally:
            b.wifi_down()
            b.led(False)
            b.feed()

    def _upload(self):
        try:
            self.upload()
        except Exception as e:
            self.totals["loop_errors"] += 1
            self.errors.report("upload", e)

    def cycle(self):
        b = self.board
        self.totals["cycles"] += 1
        b.feed()
        # without the time (after a power cut on ESP32) a due upload goes first: its NTP sync
        # gives this cycle's samples their time instead of a boot-relative stamp (see sleep())
        early = b.can_ntp and self.upload_due(b.ms()) and not self._clock_set()
        if early:
            self._upload()
        try:
            self.sample()
        except Exception as e:
            self.totals["loop_errors"] += 1
            self.errors.report("sample", e)
        b.feed()
        now = b.ms()
        if now - self.last_flush >= self.fw["flush_every_s"] * 1000:
            try:
                self.log.flush()
            except Exception as e:
                self.totals["loop_errors"] += 1
                self.errors.report("flush", e)
            self.last_flush = now
        if not early and self.upload_due(now):
            self._upload()
        gc.collect()

    # ---- the loop

    def _clock_set(self):
        try:
            return self.log.clock.is_set()
        except Exception:
            return True

    def sleep(self, ms):
        # Deep sleep starts a new boot. Samples stamped before the clock was set stay placeable:
        # a boot that wakes from deep sleep still without the time goes on with the relative time
        # of the boot before it (blynklog.clock), so the first upload with the time places them all.
        b = self.board
        if self.sleep_mode == "deep":
            now = b.ms()
            b.keep({"up": now - self.last_upload + ms, "fl": 0,
                    "ntp": None if self.last_ntp is None else now - self.last_ntp + ms})
            self.log.before_sleep(ms)
            b.sleep_ms(ms, "deep")  # a board resets here and main.py starts again
            return
        # light sleep (or a wait) in steps the watchdog survives
        mode = self.sleep_mode
        step = self.wdt_ms // 2 if self.wdt_ms else ms
        left = ms
        while left > 0:
            n = left if left < step else step
            b.sleep_ms(n, mode)
            b.feed()
            left -= n

    def run(self, cycles=None):
        b = self.board
        b.wdt_start(self.wdt_ms)
        period = self.fw["sample_every_s"] * 1000
        due = b.ms()
        n = 0
        while b.running() and (cycles is None or n < cycles):
            try:
                self.cycle()
            except Exception as e:  # MemoryError and the unexpected: the loop goes on
                self.totals["loop_errors"] += 1
                self.errors.report("loop", e)
            n += 1
            if cycles is not None and n >= cycles:
                break
            due += period
            now = b.ms()
            if due < now:
                due = now  # late (a long upload): no catching up with a burst of samples
            try:
                self.sleep(due - now)
            except Exception as e:
                # a sleep that failed must not turn the loop into a busy one: wait instead
                self.totals["loop_errors"] += 1
                self.errors.report("sleep", e)
                b.sleep_ms(due - now, "none")
        return self.totals

    def summary(self):
        s = dict(self.totals)
        try:
            st = self.log.stats()
            for k in ("pending", "dropped_full", "dropped_stale", "rejected"):
                s[k] = st.get(k, 0)
        except Exception as e:
            self.errors.report("stats", e)
        s["errors"] = self.errors.count
        return s


def _halt(board, errors, where, err):
    # a boot error: say what is wrong and stay at the REPL; never reset (no boot loop)
    errors.report(where, err)
    print("blynklog firmware stopped: fix config.json and reset the board")
    if board is not None:
        try:
            board.blink(5)
        except Exception:
            pass
    return None


def main(config_path="config.json", board=None, logger=None):
    # boot errors go to error.log beside the config until the config names the log file
    folder = config_path.rsplit("/", 1)[0] + "/" if "/" in config_path else ""
    errors = ErrorLog(folder + "error.log")
    try:
        import settings

        raw = settings.read(config_path)
        if board is None:
            import board as _board_module

            board = _board_module.Board(raw.get("board") if isinstance(raw, dict) else None)
        fw = settings.load(raw, board.needs_wifi)
        board.check(fw)  # what this board cannot do (pins, watchdog maximum, sleep)
    except Exception as e:
        return _halt(board, errors, "config", e)
    finally:
        # needed only at boot: its code and tables go back to the heap (about 7 KB on a board)
        settings = None
        sys.modules.pop("settings", None)
        gc.collect()
    path = fw["log_file"]
    if path and not path.startswith("/"):
        path = folder + path  # relative to the config's folder, like the Logger's paths
    errors = ErrorLog(path, fw["log_max_bytes"], board.time_ms)
    try:
        if logger is None:
            import blynklog

            logger = blynklog.Logger(config_path)
        store = raw.get("store") if isinstance(raw.get("store"), dict) else {}
        app = App(fw, board, logger, errors, store.get("capacity", 262144))
    except Exception as e:  # ConfigError names the key; OSError: the flash
        return _halt(board, errors, "config", e)
    print("blynklog firmware on %s: %d sensors, sample every %d s, upload every %d s, sleep %s, watchdog %s" % (
        board.name, len(fw["sensors"]), fw["sample_every_s"], fw["upload_every_s"], app.sleep_mode,
        "%d ms" % app.wdt_ms if app.wdt_ms else "off"))
    grace = getattr(board, "boot_grace_ms", 0)
    if grace and not board.woke_from_deep_sleep():
        # after power-on or reset: a moment in which Ctrl-C (or deploy) reaches the REPL before
        # the first sleep takes USB away
        print("Ctrl-C within %d s for the REPL" % (grace // 1000))
        board.sleep_ms(grace, "none")
    app.run(board.cycles)
    if board.upload_at_end:
        # the wake after the last cycle (the virtual board's end of an offline period): a cycle
        # whose upload is due whatever the schedule says
        try:
            app.sleep(fw["sample_every_s"] * 1000)
            app.last_upload = board.ms() - fw["upload_every_s"] * 1000
            app.cycle()
        except Exception as e:
            app.errors.report("wake", e)
    s = app.summary()
    try:
        logger.close()
    except Exception as e:
        errors.report("close", e)
    print("SUMMARY " + json.dumps(s))
    return s
