# Bench only (tools/bench/energy_bench.py): one sampling wake of the real firmware on the emulated
# Pico W, phase by phase. It runs the deployed main.py as tests/pico/wake.py does (deep sleep ends
# the run) and times, with time.ticks_us, what the wake spends where:
#   imports      every import statement (module code included), through a builtins.__import__ hook
#   config       the settings cache's check (app._settings_key, app._cached_settings), or
#                settings.read + settings.load when it misses, + Board()
#   logger       blynklog.Logger() (its own imports counted under imports)
#   app          App() (sensors made, the kept schedule read)
#   sample_add   App.sample (sensor reads and Logger.add)
#   fill         App.fill (Logger.stats(): the cycle's check of store.capacity, from a quarter of
#                upload_every_s after the last upload)
#   flush        the store's flush (wherever it is called: the cycle, before_sleep)
#   before_sleep App.sleep up to machine.deepsleep (keep() and Logger.before_sleep, without the flush)
#   other        the rest (main.py's checks, the boot line, the cycle's upload check and collection)
# Each phase is the time inside it less the time of the phases nested in it (self time).
# Prints "PHASE name ms calls" lines, "CYCLE_SELF ms" (App.cycle's own time: its upload check and
# collection; with sample_add, fill and the cycle's flush, the whole of a light-sleep wake's work)
# and "WAKE total_ms" at the deep-sleep call, "HOOK_US us" (the hook's own cost per import statement,
# counted under imports: the bench takes it out), then "DEEPSLEEP ms". Relative imports are resolved against the package
# blynklog (the only package on the board): MicroPython does not pass the importer's globals.
import time

_T0 = time.ticks_us()
import builtins  # noqa: E402
import gc  # noqa: E402
import sys  # noqa: E402

_self = {}
_calls = {}
_stack = []  # [name, start_us, child_us]
_orig_import = builtins.__import__
_patched = {}


def _enter(name):
    _stack.append([name, time.ticks_us(), 0])


def _leave():
    name, start, child = _stack.pop()
    dt = time.ticks_diff(time.ticks_us(), start)
    _self[name] = _self.get(name, 0) + dt - child
    _calls[name] = _calls.get(name, 0) + 1
    if _stack:
        _stack[-1][2] += dt


def _timed(name, f):
    def timed(*args, **kw):
        _enter(name)
        try:
            return f(*args, **kw)
        finally:
            _leave()

    return timed


def _wrap_method(cls, attr, name):
    f = getattr(cls, attr, None)
    if f is not None:
        setattr(cls, attr, _timed(name, f))


def _patch():
    # wraps the phases' functions once their modules are loaded
    m = sys.modules
    s = m.get("settings")
    if s is not None and hasattr(s, "read") and hasattr(s, "load") and "settings" not in _patched:
        _patched["settings"] = 1
        s.read = _timed("config", s.read)
        s.load = _timed("config", s.load)
    if "blynklog" in m and hasattr(m["blynklog"], "Logger") and "blynklog" not in _patched:
        _patched["blynklog"] = 1
        _wrap_method(m["blynklog"].Logger, "__init__", "logger")
        _wrap_method(m["blynklog"].Logger, "before_sleep", "before_sleep")
    if "blynklog.store" in m and hasattr(m["blynklog.store"], "Store") and "store" not in _patched:
        _patched["store"] = 1
        _wrap_method(m["blynklog.store"].Store, "flush", "flush")
    if "app" in m and hasattr(m["app"], "App") and "app" not in _patched:
        _patched["app"] = 1
        for f in ("_settings_key", "_cached_settings"):  # the settings cache: part of config
            if hasattr(m["app"], f):
                setattr(m["app"], f, _timed("config", getattr(m["app"], f)))
        a = m["app"].App
        _wrap_method(a, "__init__", "app")
        _wrap_method(a, "sample", "sample_add")
        _wrap_method(a, "sleep", "before_sleep")
        _wrap_method(a, "cycle", "cycle")
        _wrap_method(a, "fill", "fill")
        _wrap_method(a, "upload", "upload")  # must not run: this is the wake that only samples


def _import(name, globals=None, locals=None, fromlist=(), level=0):
    if level:
        name = "blynklog" + ("." + name if name else "")
    _enter("imports")
    try:
        mod = _orig_import(name, None, None, fromlist or (), 0)
    finally:
        _leave()
    _patch()
    return mod


builtins.__import__ = _import

import board  # noqa: E402
import machine  # noqa: E402


class _Wake(BaseException):  # not an Exception: the firmware's loop must not catch it
    pass


class _Machine:
    # the board's deep sleep on rp2 is light sleep in watchdog-fed steps, then machine.reset():
    # the steps are counted, not slept, and the reset ends the run
    slept = 0

    def __getattr__(self, name):
        return getattr(machine, name)

    def deepsleep(self, ms):
        raise _Wake(ms)

    def lightsleep(self, ms):
        _Machine.slept += ms

    def reset(self):
        raise _Wake(_Machine.slept)


_Board = board.Board


class _SimBoard(_Board):
    def __init__(self, cfg=None):
        _enter("config")
        try:
            _Board.__init__(self, cfg)
        finally:
            _leave()
        self.machine = _Machine()

    def woke_from_deep_sleep(self):
        return True  # a wake from deep sleep: no boot grace (rp2 cannot tell; see tests/pico/wake.py)


board.Board = _SimBoard
try:
    with open("main.py") as _f:
        _code = _f.read()
    exec(_code, {"__name__": "__main__"})
    print("MAIN RETURNED")
except _Wake as e:
    _total = time.ticks_diff(time.ticks_us(), _T0)
    while _stack:  # the phases the deep-sleep call left open
        _leave()
    cycle = _self.get("cycle", 0)
    _known = 0
    for _name in ("imports", "config", "logger", "app", "sample_add", "fill", "flush", "before_sleep"):
        print("PHASE %s %.3f %d" % (_name, _self.get(_name, 0) / 1000.0, _calls.get(_name, 0)))
        _known += _self.get(_name, 0)
    # the cycle's own time beyond sample/flush goes to other (upload check, collection)
    print("PHASE other %.3f 0" % ((_total - _known - _self.get("upload", 0)) / 1000.0))
    print("PHASE upload %.3f %d" % (_self.get("upload", 0) / 1000.0, _calls.get("upload", 0)))
    print("CYCLE_SELF %.3f" % (cycle / 1000.0))
    print("WAKE %.3f" % (_total / 1000.0))
    # the hook's own cost per import statement: a cached import through it, less one without it
    _t = time.ticks_us()
    for _i in range(20):
        _import("gc")
    _hooked = time.ticks_diff(time.ticks_us(), _t)
    _t = time.ticks_us()
    for _i in range(20):
        _orig_import("gc", None, None, (), 0)
    print("HOOK_US %.1f" % ((_hooked - time.ticks_diff(time.ticks_us(), _t)) / 20.0))
    builtins.__import__ = _orig_import
    gc.collect()
    print("DEEPSLEEP", e.args[0], "free", gc.mem_free())
