# Test helpers for the firmware tests (CPython and the unix port): firmware/ and boards/unix on
# sys.path, a fake board whose time moves only when it sleeps, a simulated board for the real
# Logger in this process (SimBoard), a fake Logger that records calls.
import sys

_here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
for _p in (_here + "/../firmware", _here + "/../boards/unix"):
    if _p not in sys.path:
        sys.path.append(_p)

T0 = 1800000000000  # 2027-01-15, Unix ms


class DeepSleep(Exception):
    pass


class FakeBoard:
    name = "fake"
    sleep_default = "light"
    has_deep_sleep = True
    wdt_max_ms = 0
    needs_wifi = True
    can_ntp = True
    cycles = None
    upload_at_end = False

    @classmethod
    def check(cls, fw):
        pass  # a fake board can do anything

    def __init__(self):
        self.t = 0
        self.events = []
        self.wifi_error = None
        self.feeds = 0
        self.wdt = None
        self.kept = None
        self.sleeps = []
        self.wifi_ms = 0  # how long wifi_up takes

    def ms(self):
        return self.t

    def time_ms(self):
        return T0 + self.t

    def sample_ts(self):
        return T0 + self.t

    def running(self):
        return True

    def woke_from_deep_sleep(self):
        return False

    def needs_grace(self):
        return not self.woke_from_deep_sleep()

    def wdt_default(self, fw):
        return 0

    def wdt_start(self, ms):
        self.wdt = ms

    def feed(self):
        self.feeds += 1

    def wifi_up(self, wifi):
        self.events.append("up")
        self.t += self.wifi_ms
        return self.wifi_error

    def wifi_down(self):
        self.events.append("down")

    def sleep_ms(self, ms, mode):
        self.sleeps.append((ms, mode))
        self.t += ms
        if mode == "deep":
            raise DeepSleep(ms)

    def led(self, on):
        pass

    def blink(self, times, ms=150):
        self.events.append("blink")

    def keep(self, data):
        self.kept = data

    def recall(self):
        return self.kept

    def mcu_temperature(self):
        return 41.5

    def i2c(self, spec=None):
        raise OSError("no I2C bus")

    def adc(self, pin, atten=None):
        raise OSError("no ADC")


class SimBoard(FakeBoard):
    # The firmware with the real Logger in this process: Unix-ms sample timestamps that start
    # start_ago_s before now and move by each sleep (light sleep only, no wait), Wi-Fi down for
    # the first offline_s of simulated time, `wakes` cycles then one more that uploads.
    name = "sim"
    can_ntp = False
    needs_wifi = False

    def __init__(self, wakes, start_ago_s, offline_s=0):
        FakeBoard.__init__(self)
        from blynklog.compat import unix_ms

        self.cycles = wakes
        self.upload_at_end = True
        self.has_deep_sleep = False
        self._start = unix_ms() - start_ago_s * 1000
        self._offline_ms = offline_s * 1000

    def time_ms(self):
        return self._start + self.t

    def sample_ts(self):
        return self._start + self.t

    def wifi_up(self, wifi):
        self.events.append("up")
        if self.t < self._offline_ms:
            return "offline (simulated)"
        return None


class FakeClock:
    def __init__(self, is_set=True, ntp_ok=True):
        self.set = is_set
        self.ntp_ok = ntp_ok
        self.ntp_calls = []
        self.last_error = None

    def is_set(self):
        return self.set

    def stats(self):
        return {"set": self.set, "estimated": False}

    def sync_ntp(self, timeout_ms=2000):
        self.ntp_calls.append(timeout_ms)
        if self.ntp_ok:
            self.set = True
            return True
        self.last_error = "ntp: timed out"
        return False


class FakeLogger:
    def __init__(self):
        self.added = []
        self.flushes = 0
        self.syncs = []
        self.clock = FakeClock()
        self.store_bytes = 0
        self.sync_error = None
        self.slept = []
        self.closed = False
        self.sent = 0
        self.capacity = 262144
        self.wait_ms = 0  # what upload_wait_ms() answers
        self.feeds = []  # the feed function of each sync
        self.unverified = None
        self.async_syncs = []  # len(added) as each sync_async() began
        self.async_wait_s = 0

    def add(self, stream, value, ts=None):
        if isinstance(value, float) and value - value != 0:
            raise ValueError("%s: value must be finite" % stream)
        self.added.append((stream, value, ts))
        return True

    def flush(self):
        self.flushes += 1

    def fill(self):
        return self.store_bytes / self.capacity

    def upload_wait_ms(self):
        return self.wait_ms

    def sync(self, budget_ms=None, feed=None):
        self.syncs.append(budget_ms)
        self.feeds.append(feed)
        if feed is not None:
            feed()
        if self.sync_error is not None:
            raise self.sync_error
        n = len(self.added) - self.sent
        self.sent = len(self.added)
        return {
            "sent": n,
            "pending": 0,
            "requests": 1 if n else 0,
            "handshakes": 1 if n else 0,
            "bytes_sent": 20 * n,
            "stopped": "done",
            "last_error": None,
        }

    async def sync_async(self, budget_ms=None):
        # sync() after a network wait of async_wait_s, during which the other tasks run
        import asyncio

        self.async_syncs.append(len(self.added))  # the samples added when it started
        await asyncio.sleep(self.async_wait_s)
        return self.sync(budget_ms)

    def stats(self):
        return {
            "pending": len(self.added) - self.sent,
            "sent": self.sent,
            "dropped_full": 0,
            "dropped_stale": 0,
            "rejected": 0,
            "store": {"bytes": self.store_bytes},
        }

    def before_sleep(self, planned_ms):
        self.slept.append(planned_ms)

    def close(self):
        self.closed = True


class FailingSensor:
    fields = ("value",)

    def __init__(self, exc):
        self.exc = exc
        self.reads = 0

    def read(self):
        self.reads += 1
        raise self.exc


class FixedSensor:
    def __init__(self, values):
        self.values = values
        self.fields = tuple("f%d" % i for i in range(len(values)))

    def read(self):
        return self.values


def raw_config(**over):
    cfg = {
        "streams": {"a": {"pin": "V1"}, "b": {"pin": "V2"}, "c": {"pin": "V3"}},
        "sensors": [{"type": "sim", "stream": "a"}, {"type": "mcu_temp", "stream": "b"}],
        "wifi": {"ssid": "net", "password": "pw"},
        "sample_every_s": 60,
        "upload_every_s": 600,
        "log_file": "",
    }
    for k in over:
        cfg[k] = over[k]
    return cfg


def make_app(board=None, log=None, **over):
    import app
    import settings
    from errlog import ErrorLog

    from support import tmpdir

    board = board or FakeBoard()
    log = log or FakeLogger()
    radio_file = over.pop("radio_file", None) or tmpdir("fw") + "/fw_radio.json"
    errors = over.pop("errors", None) or ErrorLog("", 4096)
    fw = settings.load(raw_config(**over), board.needs_wifi)
    return app.App(fw, board, log, errors, radio_file), board, log
