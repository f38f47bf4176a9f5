# Helpers for the Logger tests: configurations pointing at the local emulator, time, and the
# package's modules taken out of sys.modules for a test (Unloaded).
import sys

import blynklog
import emu
from support import tmpdir

DAY_MS = 86400000


def now_ms():
    from blynklog.compat import unix_ms

    return unix_ms()


class _ShiftedTime:
    # the time module as blynklog.clock reads it, `shift` ms away from the host's: a board whose
    # clock moved on (or was set to another time)
    def __init__(self, real, shift):
        self.real = real
        self.shift = shift

    def time_ns(self):
        return self.real.time_ns() + self.shift * 1000000

    def __getattr__(self, name):
        return getattr(self.real, name)


def shift_device_clock(ms):
    # the Logger's clock `ms` ahead of the host's from now on (0: back to the host's); on every
    # runtime (the clock module's own `time`)
    import blynklog.clock as clock

    real = clock.time
    while isinstance(real, _ShiftedTime):
        real = real.real
    clock.time = _ShiftedTime(real, ms) if ms else real


def device_config(streams=None, **over):
    # Device API over verified TLS to the emulator; device 1, double streams on V1.. .
    cfg = {
        "server": emu.url() or "https://127.0.0.1:9",
        "api": "device",
        "token": "test-device-token",
        "ca": emu.ca_path() or None,
        "streams": streams
        or {
            "temperature": {"pin": "V1", "decimals": 2},
            "humidity": {"pin": "V2"},
            "pressure": {"pin": "V3", "decimals": 1},
        },
        "store": {"path": tmpdir("log") + "/bl"},
    }
    if cfg["ca"] is None:
        del cfg["ca"]
        cfg["insecure"] = True
    for k in over:
        if isinstance(over[k], dict) and isinstance(cfg.get(k), dict) and k != "streams":
            cfg[k].update(over[k])
        else:
            cfg[k] = over[k]
    return cfg


def platform_config(streams=None, **over):
    cfg = device_config(
        streams
        or {"temperature": {"id": 1, "decimals": 2}, "humidity": {"id": 2}, "pressure": {"id": 3, "decimals": 1}},
        **over,
    )
    del cfg["token"]
    cfg["api"] = "platform"
    cfg["client_id"] = "test-client"
    cfg["client_secret"] = "test-secret"
    cfg["device_id"] = cfg.get("device_id") or 1
    for k in over:
        cfg[k] = over[k] if not isinstance(over[k], dict) or k == "streams" else cfg[k]
    return cfg


def received(stream_id, device=1):
    return [tuple(p) for p in emu.points(device, stream_id)]


def left_behind(log):
    # a sync_async task cancelled (not awaited) as the sketch's radio window ends, its loop then
    # ended: MicroPython's asyncio.run returns with the task still queued, never run again unless
    # a later loop runs it; CPython's finishes it
    import asyncio

    emu.inject("slow", after=1, delay_s=1)

    async def main():
        t = asyncio.create_task(log.sync_async())
        for _ in range(500):  # until the second request is on its way
            await asyncio.sleep(0.01)
            if len(emu.requests()) >= 2:
                break
        t.cancel()

    asyncio.run(main())


def fresh(**emu_config):
    # the emulator reset, with a roomy day's quota and token lifetime (and emu_config on top)
    emu.require()
    emu.reset()
    emu.config(points_per_day=10000, max_age_days=30, token_lifetime_s=86400)
    if emu_config:
        emu.config(**emu_config)


def fill(log, stream, n, start=None, step=1000, value=None):
    # n samples of stream a step apart, ending a second ago (or from start); -> their first ts
    start = start if start is not None else now_ms() - n * step - 1000
    for i in range(n):
        log.add(stream, value(i) if value else i * 0.25, ts=start + i * step)
    return start


class Unloaded:
    # The named modules out of sys.modules and out of the package's attributes for the duration
    # (put back after), so that the test sees which of them the code under test imports.
    def __init__(self, names):
        self.names = names
        self.saved = {}
        self.attrs = {}

    def __enter__(self):
        for name in self.names:
            if name in sys.modules:
                self.saved[name] = sys.modules.pop(name)
            attr = name.split(".")[1]
            if attr in blynklog.__dict__:
                self.attrs[attr] = blynklog.__dict__[attr]
                delattr(blynklog, attr)
        return self

    def loaded(self):
        return [name for name in self.names if name in sys.modules]

    def __exit__(self, *exc):
        for name in self.names:
            sys.modules.pop(name, None)
            attr = name.split(".")[1]
            if attr in blynklog.__dict__:
                delattr(blynklog, attr)
        for name in self.saved:
            sys.modules[name] = self.saved[name]
        for attr in self.attrs:
            setattr(blynklog, attr, self.attrs[attr])
