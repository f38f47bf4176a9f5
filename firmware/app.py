# app: the firmware loop. Every sample_every_s: read the sensors and add() the readings; flush by
# policy; every upload_every_s (or when the store passes fill_threshold) bring Wi-Fi up, set the
# clock if needed, sync() within the radio budget, bring Wi-Fi down (without the time, that upload
# comes before the sampling); then sleep (light or deep by board and config) until the next
# sample is due, counted from the boot's reset. The watchdog (started in boot.py) is fed between
# steps and inside sync(). No error ends the loop: it goes to the console and the error log, and
# the loop goes on; a sensor that fails to read is reported and nothing is stored for it.
# The radio comes up only when it can help: not while the Logger backs off or the day's quota is
# spent (log.upload_wait_ms()), nor below battery_min. Whatever the reset (deep-sleep wake,
# watchdog, brownout, power-on) the schedule goes on: RTC memory keeps it across the resets that
# keep RTC memory, and a small file (RADIO_FILE) says whether the radio was on when the board
# reset: a reset under transmit (a brownout, a hang the watchdog ended) holds the radio off for an
# upload period, doubling with each one in a row, so a weak cell never loops boot-radio-reset.
# Remote settings (the config's "remote" section, read by the Logger at a sync and kept in its
# state): the schedule keys among them (REMOTE_KEYS) replace the file's values from the next
# wake (a deep-sleep board: its next boot; a light-sleeping one: the cycle after the upload). A
# value the firmware cannot take is reported and the file's kept. The Logger's health section
# gets the board's figures through log.health_hook (App.health).
# At boot: a configuration error stops with a message naming the key (then, with the watchdog
# running, the board sleeps an hour and tries again); any other fault (the flash, a MemoryError)
# is reported and the board sleeps CONFIG_RETRY_MS / 60 and boots again: never the REPL.
#   main(config_path="config.json", board=None) -> the summary dict (None after a boot error)
# Allocates: the sensors' buffers and the App once; per cycle only the readings and the reports.
# One task only, except in asyncio mode ("asyncio": true, App.run_async): sampling and uploading
# are two tasks of one asyncio loop, the upload on Logger.sync_async(), and the board stays awake.
import gc
import json
import sys

import sensors as _sensors
from errlog import ErrorLog

_COUNTERS = (
    "cycles",
    "samples",
    "refused",
    "sensor_errors",
    "add_errors",
    "uploads",
    "wifi_failures",
    "sent",
    "requests",
    "handshakes",
    "bytes_sent",
    "loop_errors",
    "radio_skips",
)
SETTINGS_CACHE = "fw_settings.json"  # beside config.json: the validated settings, keyed by the file's hash
RADIO_FILE = "fw_radio.json"  # beside config.json: {"on": radio up now, "n": resets under it in a row, "t": Unix ms}
CONFIG_RETRY_MS = 3600000  # a configuration error: sleep, then look again (someone may have fixed it)
_MAX_HOLD_DOUBLINGS = 5  # radio held off after resets under it: upload_every_s x 1, 2, 4 ... 32
_BOOT_MS_MAX = 600000  # board.ms() at the App's start beyond this: not counted from the reset
_SLEEP_STEPS = 10000  # bound of a sleep loop's steps (light sleep may return early, many times)
# the firmware's keys a remote setting may change, with the bounds settings.py checks
REMOTE_KEYS = {"sample_every_s": (1, 86400), "upload_every_s": (1, 30 * 86400), "flush_every_s": (0, 86400)}


class App:
    def __init__(self, fw, board, log, errors, radio_file=RADIO_FILE, config_path="config.json"):
        self.fw = fw
        self.file_fw = fw  # the file's settings (apply_remote copies fw before it changes them)
        self.remote_applied = {}  # the remote settings in force (apply_remote)
        self.radio_file = radio_file
        self.config_path = config_path  # for the fast wake's Logger (sensors.fast_wake)
        self.board = board
        self.log = log
        self.errors = errors
        self.totals = {}
        for k in _COUNTERS:
            self.totals[k] = 0
        self.last_report = None
        # what the last boot kept (RTC memory across the resets that keep it; None after power-on):
        # the error log's recent messages first, so that what this start reports again (a part
        # it cannot make, a remote setting it cannot take) is counted, not written at every wake
        errors.clock = self._stamp_ms  # from here error.log's lines carry the Logger's time
        kept = board.recall()
        if not isinstance(kept, dict):
            kept = {}
        el = kept.get("el")
        if isinstance(el, list) and len(el) == 2:
            errors.restore(el[0], el[1])
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
            wdt = board.wdt_default(fw)  # board.check() made sure it outlasts one network wait
        self.wdt_ms = wdt
        self.battery = None  # the last reading of battery_stream
        self._slot = None  # while a cycle runs: when it was due (an upload counts from there)
        self.apply_remote()
        # schedule, in board ms (from the reset); kept through board.keep()/recall() across every
        # reset that keeps RTC memory
        now = board.ms()
        up_every = self.fw["upload_every_s"] * 1000  # a remote setting's, when one is in force
        # the kept figures are as at this boot's reset (keep() moved them on by the sleep), where
        # board.ms() starts: taken from there, not from now (each full wake lost its boot's time
        # from the schedule, and the upload came a sample period late)
        at = 0 if 0 <= now < _BOOT_MS_MAX else now
        self.last_upload = at - _int(kept.get("up"), up_every)  # after power-on: at once (it sets the clock)
        self.last_flush = at - _int(kept.get("fl"), 0)
        ntp = kept.get("ntp")
        self.last_ntp = None if not isinstance(ntp, int) else at - ntp
        self.not_before = at + _int(kept.get("nb"), 0)  # no radio before (a back-off, a spent quota)
        self.wakes = _int(kept.get("w"), 0)  # wakes since RTC memory was lost (power-on): health
        self._radio = self._read_radio()
        if "up" not in kept and isinstance(self._radio.get("t"), int):
            # RTC memory lost (power-on): the last upload's time, if the clock still knows it
            ago = self._unix_now()
            if ago is not None:
                ago -= self._radio["t"]
                if 0 <= ago < up_every:
                    self.last_upload = now - ago
        if self._radio.get("on"):
            # the board reset while the radio was on: hold it off, longer at each such reset in a
            # row (n goes back to 0 only when an upload ends without a reset). The hold is kept in
            # RTC memory, which the deep-sleep wakes of a weak cell keep: its next brownout comes
            # with the radio on again. A power-on meanwhile starts afresh (and uploads: the clock)
            n = _int(self._radio.get("n"), 0) + 1
            self._radio = {"on": False, "n": n, "t": self._radio.get("t")}
            self._write_radio()
            hold = up_every << min(n - 1, _MAX_HOLD_DOUBLINGS)
            self.last_upload = now
            self.not_before = now + hold
            errors.report(
                "radio", "the board reset while the radio was on (%d in a row): no radio for %d s" % (n, hold // 1000)
            )

    # ---- what must survive a reset: the radio marker (flash), the schedule (RTC memory)

    def _read_radio(self):
        try:
            with open(self.radio_file) as f:
                d = json.load(f)
            return d if isinstance(d, dict) else {}
        except (OSError, ValueError):
            return {}

    def _write_radio(self):
        # written as a new file and renamed over the old: a cut leaves one or the other
        try:
            tmp = self.radio_file + ".new"
            with open(tmp, "w") as f:
                json.dump(self._radio, f)
            import os

            os.rename(tmp, self.radio_file)
        except OSError as e:
            self.errors.report("radio file", e)

    def _unix_now(self):
        try:
            clock = self.log.clock
            return clock.now_ms() if clock.is_set() else None
        except Exception:
            return None

    def _kept(self, ms):
        # what the next boot needs, as seen `ms` from now (the sleep's length)
        now = self.board.ms()
        last, repeats = self.errors.state()
        kept = {
            "up": now - self.last_upload + ms,
            "fl": now - self.last_flush + ms,
            "ntp": None if self.last_ntp is None else now - self.last_ntp + ms,
            "nb": max(0, self.not_before - now - ms),
            "el": [last, repeats],
            "w": self.wakes,
        }
        q = self._plan(ms)
        if q is not None:
            kept["q"] = q
        return kept

    def _plan(self, ms):
        # what the fast sampling wakes (sensors.fast_wake) need, or None where they must not run: not in deep
        # sleep, no RTC memory, verbose (a line per reading), or no clock they can go on with: the
        # Logger's clock set and the port's own (what the fast wake reads) agreeing with it
        fw = self.fw
        facts = getattr(self.board, "fast_facts", None)  # a board of your own may lack it: no fast wake
        if self.sleep_mode != "deep" or not getattr(self.board, "rtc_memory", False) or fw["verbose"] or facts is None:
            return None
        now = self._unix_now()
        if now is None:
            return None
        import hw

        port = hw.unix_ms()
        if abs(port - now) > 1000:
            return None
        try:
            fi = 1 if self.fill() >= fw["fill_threshold"] else 0
        except Exception:
            fi = 1  # unknown: no early-upload check skipped
        specs = []
        for spec in fw["sensors"]:
            s = {}
            for k in spec:
                if k not in ("stream", "streams"):  # the map names them
                    s[k] = spec[k]
            specs.append(s)
        q = {
            "p": fw["sample_every_s"] * 1000,
            "fe": fw["flush_every_s"] * 1000,
            "ue": fw["upload_every_s"] * 1000,
            "fi": fi,
            "ft": fw["fill_threshold"],
            "t": port + ms,
            "e": hw.epoch_ms(),
            "s": specs,
            "h": facts(),
            "c": self.config_path,
            "lf": self.errors.path,
            "lm": self.errors.max_bytes,
        }
        return q

    def apply_remote(self):
        # the Logger's accepted remote settings that are schedule keys, over the file's values
        get = getattr(self.log, "remote", None)
        if get is None:
            return
        try:
            got = get()
        except Exception as e:  # a damaged state: the file's schedule
            self.errors.report("remote", e)
            return
        for k in got:
            if k not in REMOTE_KEYS or got[k] == self.remote_applied.get(k):
                continue
            v = got[k]
            lo, hi = REMOTE_KEYS[k]
            if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
                # the file's value, as README says: not the last good remote one, which a
                # process that lives on (light sleep) kept for good
                if k in self.remote_applied:
                    del self.remote_applied[k]
                    self.fw[k] = self.file_fw[k]
                self.errors.report(
                    "remote", "%s: %r is not an integer within %d..%d: kept %r" % (k, v, lo, hi, self.fw[k])
                )
                continue
            if not self.remote_applied:
                self.fw = dict(self.fw)  # the caller's (cached) settings stay as the file has them
            self.fw[k] = v
            self.remote_applied[k] = v
            print("remote: %s = %d" % (k, v))

    def health(self):
        # the board's figures for the Logger's health section (log.health_hook)
        out = {"wakes": self.wakes}
        for k in ("rssi", "battery_mv"):
            f = getattr(self.board, k, None)
            if f is not None:
                try:
                    out[k] = f()
                except Exception:
                    pass
        return out

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
                if stream == self.fw["battery_stream"]:
                    self.battery = v
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
        # the store's own figure (a raw store's region, not store.capacity); without the backlog
        return self.log.fill()

    def upload_due(self, now):
        if now < self.not_before:
            return False
        if now - self.last_upload >= self.fw["upload_every_s"] * 1000:
            return True
        # a store past the threshold uploads early, at most once per quarter of upload_every_s
        if now - self.last_upload >= self.fw["upload_every_s"] * 250:
            return self.fill() >= self.fw["fill_threshold"]
        return False

    def upload(self):
        # one upload (uplink.py, imported only by a wake that uploads) -> sync()'s report or None
        import uplink

        return uplink.upload(self)

    def _upload(self):
        try:
            self.upload()
        except Exception as e:
            self.totals["loop_errors"] += 1
            self.errors.report("upload", e)

    def cycle(self, due=None):
        # due: when this cycle was due (board ms; run() passes it: a deep-sleep wake's first cycle
        # is due at the reset), else now. An upload counts from there, as the cycles do, so that it
        # is due again exactly upload_every_s later (counted from the moment it began, after the
        # sampling and loading uplink, it came a sample period late)
        b = self.board
        now = b.ms()
        self._slot = now if due is None or due > now else due
        try:
            self._cycle()
        finally:
            self._slot = None

    def _cycle(self):
        b = self.board
        self.totals["cycles"] += 1
        self.wakes += 1
        b.feed()
        # without the time (after a power cut on ESP32) a due upload goes first: its NTP sync
        # gives this cycle's samples their time instead of a boot-relative stamp (see sleep());
        # not while battery_min waits for this boot's first battery reading (the samples first)
        early = b.can_ntp and self.upload_due(b.ms()) and not self._clock_set()
        early = early and (self.fw["battery_min"] is None or self.battery is not None)
        if early:
            self._upload()
        now = self._sample_flush()
        if not early and self.upload_due(now):
            self._upload()
        gc.collect()

    def _sample_flush(self):
        # a cycle's sampling and its flush by policy -> the board's ms after them
        b = self.board
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
        return now

    # ---- the loop

    def _stamp_ms(self):
        # error.log's time stamp: the Logger's clock, none while it has no time (an unset RTC
        # would date the line to its start, 2000 or 2021)
        c = self.log.clock
        return c.now_ms() if c.is_set() else None

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
            self.last_flush = b.ms() + ms  # before_sleep flushes
            # a full flash, a MemoryError: what a step could not keep is lost as a power cut
            # would lose it, and the board sleeps all the same (staying awake to try again would
            # hold it awake for as long as the fault lasts); the other step is still taken
            for step in (self._keep, self.log.before_sleep):
                try:
                    step(ms)
                except Exception as e:
                    self.totals["loop_errors"] += 1
                    self.errors.report("sleep", e)
            b.sleep_ms(ms, "deep")  # a board resets here and main.py starts again
            return
        self.wait(ms, self.sleep_mode)

    def _keep(self, ms):
        self.board.keep(self._kept(ms))

    def wait(self, ms, mode):
        # Light sleep (or a busy wait) until ms from now by the board's clock, in steps the
        # watchdog survives: a light sleep that returns early (on rp2 while the radio has work)
        # is slept again, not taken for the whole.
        b = self.board
        step = self.wdt_ms // 2 if self.wdt_ms else ms
        end = b.ms() + ms
        for _ in range(_SLEEP_STEPS):
            left = end - b.ms()
            if left <= 0:
                return
            b.sleep_ms(left if left < step else step, mode)
            b.feed()
        if mode != "none":
            self.wait(end - b.ms(), "none")  # it kept returning at once: wait out the rest

    def absorb(self):
        # the samples the fast wakes (sensors.fast_wake) left in RTC memory: the buffer cleared first (keep()
        # writes the schedule alone), then added with their own timestamps and flushed. A reset in
        # between loses them, as a power cut would; none is ever stored twice. A damaged buffer is
        # reported and dropped; a fault while adding puts it back (board.held, kept by keep()).
        b = self.board
        buffered = getattr(b, "buffered", None)  # boards with RTC memory (and test boards without)
        tail = buffered() if buffered is not None else None
        if tail is None:
            return
        import hw

        t = self.totals
        try:
            _, names, records = hw.samples(tail)
        except ValueError as e:
            self.errors.report("buffered samples", "%s: dropped" % e)
            b.keep(self._kept(0))
            return
        b.keep(self._kept(0))
        try:
            for ts, values in records:
                for i in range(len(names)):
                    try:
                        if self.log.add(names[i], values[i], ts):
                            t["samples"] += 1
                        else:
                            t["refused"] += 1
                    except (ValueError, TypeError) as e:  # as sample(): reported, not stored
                        t["add_errors"] += 1
                        self.errors.report("buffered -> %s" % names[i], e)
            self.log.flush()
            self.last_flush = b.ms()
        except Exception as e:
            t["loop_errors"] += 1
            self.errors.report("buffered samples", e)
            b.held = hw.pack(0, names, records)  # back in RTC memory at the next keep()
            b.keep(self._kept(0))

    def _start(self):
        # the first steps of run() and of asyncio mode's loop: the watchdog, the buffered samples
        self.board.wdt_start(self.wdt_ms)
        try:
            self.absorb()
        except Exception as e:
            self.totals["loop_errors"] += 1
            self.errors.report("buffered samples", e)

    def run(self, cycles=None):
        b = self.board
        self._start()
        # the first cycle is due at the reset: a deep-sleep period runs from wake to wake,
        # whatever the boot took (board.ms() counts from the reset)
        due = 0
        n = 0
        while b.running() and (cycles is None or n < cycles):
            try:
                self.cycle(due)
            except Exception as e:  # MemoryError and the unexpected: the loop goes on
                self.totals["loop_errors"] += 1
                self.errors.report("loop", e)
            n += 1
            if cycles is not None and n >= cycles:
                break
            due, now = self._next_due(due)
            try:
                self.sleep(due - now)
            except Exception as e:
                # a sleep that failed must not turn the loop into a busy one: wait instead, fed;
                # a deep sleep that failed resets the board (a fresh heap), which then sleeps
                self.totals["loop_errors"] += 1
                self.errors.report("sleep", e)
                if self.sleep_mode == "deep":
                    _reset(b)
                self.wait(due - b.ms(), "none")
        return self.totals

    def _next_due(self, due):
        # -> (the next cycle's time, now), both in board.ms(): one period on (a remote setting may
        # change it: apply_remote); late (a long upload), no catching up with a burst of samples
        due += self.fw["sample_every_s"] * 1000
        now = self.board.ms()
        return (now if due < now else due), now

    def run_async(self, cycles=None):
        # The loop in asyncio mode (setting "asyncio": true): sampling is this task, uploading
        # another (uplink.upload_task, on Logger.sync_async): the samples keep their period while an
        # upload waits for the network. The board stays awake: the waits are the loop's, fed in
        # steps the watchdog survives (no light or deep sleep). Returns the totals.
        import asyncio

        return asyncio.run(self._run_async(cycles))

    async def _run_async(self, cycles):
        import uplink

        b = self.board
        self._start()
        import asyncio

        done = [False]
        uploads = asyncio.create_task(uplink.upload_task(self, done))
        due = 0
        n = 0
        try:
            while b.running() and (cycles is None or n < cycles):
                self.totals["cycles"] += 1
                self.wakes += 1
                b.feed()
                try:
                    self._sample_flush()
                    gc.collect()
                except Exception as e:
                    self.totals["loop_errors"] += 1
                    self.errors.report("loop", e)
                n += 1
                if cycles is not None and n >= cycles:
                    break
                due, now = self._next_due(due)
                await self.wait_async(due - now)
        finally:
            done[0] = True
            await uploads  # an upload under way ends first (within radio_budget_ms)
        return self.totals

    async def wait_async(self, ms):
        # wait() for asyncio mode: the other tasks run meanwhile
        import asyncio

        b = self.board
        step = self.wdt_ms // 2 if self.wdt_ms else ms
        end = b.ms() + ms
        for _ in range(_SLEEP_STEPS):
            left = end - b.ms()
            if left <= 0:
                return
            await asyncio.sleep((left if left < step else step) / 1000)
            b.feed()

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


_TIME_MIN_MS = 1735689600000  # 2025-01-01 (blynklog.clock's min_year): an RTC before it is unset


def _time_if_set(board):
    # the board's time for error.log before the Logger is made, none while the RTC is unset
    t = board.time_ms()
    return t if t >= _TIME_MIN_MS else None


def _int(v, default):
    return v if isinstance(v, int) and not isinstance(v, bool) else default


def _config_error(e):
    # settings, the board and the Logger name the key at fault in a ValueError (ConfigError)
    return isinstance(e, ValueError) and not isinstance(e, UnicodeError)


def _reset(board):
    m = getattr(board, "machine", None)
    try:
        if m is not None:
            m.reset()
    except Exception:
        pass  # no reset here: the loop waits instead


def _default_board():
    # the board module's Board with its default settings, for _stop after settings that failed
    # (so that a board blinks and sleeps as its own kind does); None when that fails too
    try:
        import board as _board_module

        return _board_module.Board()
    except Exception:
        return None


def _stop(board, errors, where, err):
    # A boot error. A configuration error stays at the REPL where nothing resets the board; with
    # the watchdog running since boot.py (a hardware board) the REPL cannot stay, so the board
    # sleeps an hour and looks again. Any other fault (the flash, a MemoryError) sleeps a minute
    # and boots again. Where the board keeps the error log's recent messages in RTC memory (as the
    # App does), they come from there and go back: a fault at every boot is counted, one line in
    # the file, not a line a boot. -> None (when the board stays at the REPL); without a board to
    # sleep with, the fault is raised again for main.py's last resort (a minute, fed on rp2)
    keep = None if board is None else getattr(board, "keep_errors", None)
    if keep is not None:
        try:
            kept = board.recall()
            el = kept.get("el") if isinstance(kept, dict) else None
            if isinstance(el, list) and len(el) == 2:
                errors.restore(el[0], el[1])
        except Exception:  # what the board keeps is damaged: the line is written
            pass
    errors.report(where, err)
    if keep is not None:
        try:
            keep(errors.state())
        except Exception:
            pass
    config = _config_error(err)
    if config:
        print("blynklog firmware stopped: fix config.json (the key named above) and reset the board")
    else:
        print("blynklog firmware: the boot failed; it sleeps and tries again")
    if board is None:
        raise err
    try:
        board.blink(5)
    except Exception:
        pass
    if config and not getattr(board, "boot_watchdog", False):
        return None
    ms = CONFIG_RETRY_MS if config else CONFIG_RETRY_MS // 60
    board.sleep_ms(ms, "deep" if board.has_deep_sleep else "light")
    return None


def _settings_key(config_path):
    # what the cached settings depend on: the config file's bytes and the firmware's version
    # (deploy also removes the cache when it copies code); None when the file cannot be read
    import binascii
    import hashlib

    from blynklog import __version__

    try:
        with open(config_path, "rb") as f:
            return binascii.hexlify(hashlib.sha256(f.read()).digest()).decode() + ":" + __version__
    except OSError:
        return None


def _cached_settings(path, key):
    # the settings validated at an earlier boot with this key, or None
    if key is None:
        return None
    try:
        with open(path) as f:
            c = json.load(f)
        if c.get("key") == key and isinstance(c.get("fw"), dict):
            return c["fw"]
    except Exception:  # missing, damaged: validate again
        pass
    return None


def _load_settings(config_path, board, cache, key):
    # -> (fw, board): the config validated (settings.py) and the board built from it; the result
    # is kept in `cache` so that a wake with the same config neither imports nor runs settings
    had_validator = "blynklog.config" in sys.modules
    try:
        import settings

        raw = settings.read(config_path)
        if board is None:
            import board as _board_module

            board = _board_module.Board(raw.get("board") if isinstance(raw, dict) else None)
        fw = settings.load(raw, board.needs_wifi)
        board.check(fw)  # what this board cannot do (pins, watchdog maximum, sleep)
    finally:
        # needed only at boot: its code and tables go back to the heap (about 7 KB on a board),
        # and so does the package's validator it imported (blynklog.config, 25 KB on a 32-bit
        # port), which the Logger would otherwise find loaded and keep through the first boot
        settings = None
        sys.modules.pop("settings", None)
        pkg = sys.modules.get("blynklog")
        if pkg is not None:
            pkg._drop("config", had_validator)  # as the Logger lets its validator go
        gc.collect()
    if key is not None:
        try:
            with open(cache + ".new", "w") as f:
                json.dump({"key": key, "fw": fw}, f)
            import os

            os.rename(cache + ".new", cache)
        except OSError:
            pass  # validated again at the next boot
    return fw, board


def main(config_path="config.json", board=None, logger=None):
    # boot errors go to error.log beside the config until the config names the log file
    folder = config_path.rsplit("/", 1)[0] + "/" if "/" in config_path else ""
    errors = ErrorLog(folder + "error.log")
    try:
        cache = folder + SETTINGS_CACHE
        key = _settings_key(config_path)
        fw = _cached_settings(cache, key)
        if fw is None:
            fw, board = _load_settings(config_path, board, cache, key)
        elif board is None:
            import board as _board_module

            board = _board_module.Board(fw["board"])
    except Exception as e:
        if board is None:  # the settings failed before the board was made: the board's defaults
            board = _default_board()
        return _stop(board, errors, "config", e)
    path = fw["log_file"]
    if path and not path.startswith("/"):
        path = folder + path  # relative to the config's folder, like the Logger's paths
    errors = ErrorLog(path, fw["log_max_bytes"], lambda: _time_if_set(board))
    try:
        if logger is None:
            import blynklog

            logger = blynklog.Logger(config_path)
        app = App(fw, board, logger, errors, folder + RADIO_FILE, config_path)
    except Exception as e:  # ConfigError names the key; OSError: the flash; MemoryError
        return _stop(board, errors, "boot" if not _config_error(e) else "config", e)
    print(
        "blynklog firmware on %s: %d sensors, sample every %d s, upload every %d s, sleep %s, watchdog %s"
        % (
            board.name,
            len(fw["sensors"]),
            app.fw["sample_every_s"],
            app.fw["upload_every_s"],
            "none (asyncio)" if fw["asyncio"] else app.sleep_mode,
            "%d ms" % app.wdt_ms if app.wdt_ms else "off",
        )
    )
    grace = getattr(board, "boot_grace_ms", 0)
    if grace and board.needs_grace():
        # after power-on or reset: a moment in which Ctrl-C (or deploy) reaches the REPL before
        # the first sleep takes USB away
        print("Ctrl-C within %d s for the REPL" % (grace // 1000))
        board.sleep_ms(grace, "none")
    if fw["asyncio"]:
        app.run_async(board.cycles)
    else:
        app.run(board.cycles)
    if board.upload_at_end:
        # the wake after the last cycle (the virtual board's end of an offline period): a cycle
        # whose upload is due whatever the schedule says
        try:
            ms = app.fw["sample_every_s"] * 1000
            if fw["asyncio"]:
                app.wait(ms, "none")  # asyncio mode stays awake: its loop has ended, the wait is plain
            else:
                app.sleep(ms)
            app.last_upload = board.ms() - app.fw["upload_every_s"] * 1000
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
