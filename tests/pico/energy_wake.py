# Bench only (tools/bench/energy_bench.py): one sampling wake of the real firmware on the emulated
# Pico W, phase by phase, from main.py's first line (the harness imports none of the firmware
# before it: board.Board is replaced when main.py first imports board). It runs the deployed main.py as tests/pico/wake.py does (deep sleep ends
# the run) and times, with time.ticks_us, what the wake spends where:
#   imports      every import statement (module code included), through a builtins.__import__ hook
#   config       the settings cache's check (app._settings_key, app._cached_settings), or
#                settings.read + settings.load when it misses, + Board()
#   logger       blynklog.Logger() (its own imports counted under imports)
#   app          App() (sensors made, the kept schedule read)
#   sample_add   App.sample (sensor reads and Logger.add)
#   fill         App.fill (Logger.stats(): the cycle's check of store.capacity, from a quarter of
#                upload_every_s after the last upload)
#   flush        the store's flush, or the wake journal's (wherever it is called: the cycle, before_sleep)
#   before_sleep App.sleep up to machine.deepsleep (keep() and Logger.before_sleep, without the flush)
#   other        the rest (main.py's checks, the boot line, the cycle's upload check and collection)
#   absorb       App.absorb / hw.store_buffer: buffered samples added (without Logger(), flush, sensors)
#   quick        sensors.fast_wake's own work: RTC memory read and checked, the plan, the record packed
#   sensors      the sensor drivers (sensors.make, read) wherever they run (the fast wake or App.sample)
#   rtc          the stand-in RTC memory's reads and writes
# With bench_rtc.bin on the file system the wake is an ESP32's: its bytes are RTC memory's (the
# Pico W's rp2 port has none: a stand-in object holds them in RAM, as the ESP32's RTC memory is
# RAM), machine.reset_cause() says DEEPSLEEP_RESET, the board keeps its schedule there (hw's
# keep_in_rtc_memory) and the RTC is set to the plan's time (kept["q"]["t"] plus the ms the
# buffer says were slept), as an ESP32's RTC runs through deep sleep. Without it, the Pico W's own
# wake (fw_state.json on flash; the fast wake gives up at the reset cause).
# Each phase is the time inside it less the time of the phases nested in it (self time).
# Prints "PHASE name ms calls" lines, "CYCLE_SELF ms" (App.cycle's own time: its upload check and
# collection; with sample_add, fill and the cycle's flush, the whole of a light-sleep wake's work)
# and "WAKE total_ms" at the deep-sleep call, "HOOK_US us" (the hook's own cost per import statement,
# counted under imports: the bench takes it out), then "DEEPSLEEP ms". Relative imports are resolved against the package
# blynklog (the only package on the board): MicroPython does not pass the importer's globals.
import time

import builtins
import gc
import sys

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
    if "blynklog.journal" in m and hasattr(m["blynklog.journal"], "Journal") and "journal" not in _patched:
        _patched["journal"] = 1  # the wake journal's flush (a wake without the store)
        _wrap_method(m["blynklog.journal"].Journal, "flush", "flush")
    if "board" in m and hasattr(m["board"], "Board") and "board" not in _patched:
        _patched["board"] = 1
        _sim_board(m["board"])
    if "sensors" in m and hasattr(m["sensors"], "fast_wake") and "sensors" not in _patched:
        _patched["sensors"] = 1
        m["sensors"].fast_wake = _timed("quick", m["sensors"].fast_wake)
        m["sensors"].make = _timed("sensors", m["sensors"].make)
        for c in ("McuTemp", "Simulated", "Adc", "Sht3x", "Aht20"):
            _wrap_method(getattr(m["sensors"], c), "read", "sensors")
    if "hw" in m and hasattr(m["hw"], "store_buffer") and "hw" not in _patched:
        _patched["hw"] = 1
        m["hw"].store_buffer = _timed("absorb", m["hw"].store_buffer)
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
        _wrap_method(a, "absorb", "absorb")
        _wrap_method(a, "upload", "upload")  # must not run: this is the wake that only samples


_by_module = {}  # module name -> self time of its import statements, us


def _import(name, globals=None, locals=None, fromlist=(), level=0):
    if level:
        name = "blynklog" + ("." + name if name else "")
    _enter("imports")
    before = _self.get("imports", 0)
    try:
        mod = _orig_import(name, None, None, fromlist or (), 0)
    finally:
        _leave()
        _by_module[name] = _by_module.get(name, 0) + _self["imports"] - before
    _patch()
    return mod


import machine  # noqa: E402

try:
    with open("bench_rtc.bin", "rb") as _f:
        _rtc_mem = _f.read()
except OSError:
    _rtc_mem = None
_ESP32 = _rtc_mem is not None


class _Wake(BaseException):  # not an Exception: the firmware's loop must not catch it
    pass


class _Rtc:
    # machine.RTC with memory() held here (the ESP32's RTC memory, which rp2 lacks)
    def __init__(self, *a):
        self._rtc = machine.RTC()

    def datetime(self, *a):
        return self._rtc.datetime(*a)

    def memory(self, data=None):
        global _rtc_mem
        _enter("rtc")
        try:
            if data is None:
                return _rtc_mem
            if len(data) > 2048:
                raise ValueError("RTC memory is 2048 bytes")
            _rtc_mem = bytes(data)
        finally:
            _leave()


class _MachineModule:
    # the machine module as an ESP32 woken from deep sleep shows it (reset cause, RTC memory);
    # deep sleep ends the run
    DEEPSLEEP_RESET = 4

    def __getattr__(self, name):
        return getattr(machine, name)

    def reset_cause(self):
        return 4

    def RTC(self, *a):
        return _Rtc()

    def deepsleep(self, ms):
        raise _Wake(ms)


if _ESP32:
    import json

    sys.modules["machine"] = _MachineModule()
    # the RTC at the plan's time: the reset the schedule was written for, plus the ms slept since
    _i = _rtc_mem.find(b"\x00")
    _kept = json.loads(_rtc_mem if _i < 0 else _rtc_mem[:_i])
    _t = _kept.get("q", {}).get("t") or _kept["bench_t"]
    if _i >= 0:
        _t += int.from_bytes(_rtc_mem[_i + 5 : _i + 9], "little")
    _g = time.gmtime(_t // 1000)
    machine.RTC().datetime((_g[0], _g[1], _g[2], _g[6], _g[3], _g[4], _g[5], 0))
    _kept = _g = None


class _Machine:
    # the board's deep sleep on rp2 is light sleep in watchdog-fed steps, then machine.reset():
    # the steps are counted, not slept, and the reset ends the run
    slept = 0

    def __getattr__(self, name):
        return getattr(sys.modules["machine"], name)  # the ESP32 stand-in's RTC when it is one

    def deepsleep(self, ms):
        raise _Wake(ms)

    def lightsleep(self, ms):
        _Machine.slept += ms

    def reset(self):
        raise _Wake(_Machine.slept)


def _sim_board(board):
    # board.Board as the bench runs it, made when main.py first imports board (the harness
    # imports none of the firmware before main.py: its imports are the wake's)
    import hw

    base = board.Board

    class _SimBoard(base):
        def __init__(self, cfg=None):
            _enter("config")
            try:
                base.__init__(self, cfg)
            finally:
                _leave()
            self.machine = _Machine()

        def woke_from_deep_sleep(self):
            return True  # a wake from deep sleep: no boot grace (rp2 cannot tell; see tests/pico/wake.py)

        if _ESP32:  # the schedule in the stand-in RTC memory, as an ESP32 keeps it
            rtc_memory = True
            keep = hw.keep_in_rtc_memory
            recall = hw.recall_from_rtc_memory
            buffered = hw.buffered_in_rtc_memory

    board.Board = _SimBoard


try:
    try:  # the bench's image holds main.py as main_fw.py (so the board's own boot runs no firmware)
        _f = open("main_fw.py")
    except OSError:
        _f = open("main.py")
    with _f:
        _code = _f.read()
    gc.collect()
    builtins.__import__ = _import
    _T0 = time.ticks_us()  # the wake: main.py from its first line
    exec(_code, {"__name__": "__main__"})
    print("MAIN RETURNED")
except _Wake as e:
    _total = time.ticks_diff(time.ticks_us(), _T0)
    while _stack:  # the phases the deep-sleep call left open
        _leave()
    cycle = _self.get("cycle", 0)
    _known = 0
    for _name in (
        "imports",
        "config",
        "logger",
        "app",
        "absorb",
        "quick",
        "sensors",
        "rtc",
        "sample_add",
        "fill",
        "flush",
        "before_sleep",
    ):
        print("PHASE %s %.3f %d" % (_name, _self.get(_name, 0) / 1000.0, _calls.get(_name, 0)))
        _known += _self.get(_name, 0)
    # the cycle's own time beyond sample/flush goes to other (upload check, collection)
    print("PHASE other %.3f 0" % ((_total - _known - _self.get("upload", 0)) / 1000.0))
    print("PHASE upload %.3f %d" % (_self.get("upload", 0) / 1000.0, _calls.get("upload", 0)))
    print("CYCLE_SELF %.3f" % (cycle / 1000.0))
    print("WAKE %.3f" % (_total / 1000.0))
    # the hook's own cost per import statement: a cached import through it, less one without it
    # (its imports are not the wake's: _by_module as the wake left it)
    _wake_imports = dict(_by_module)
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
    if _ESP32:
        print("RTC_BYTES", len(_rtc_mem))
    print("LOADED", " ".join(sorted(k for k in sys.modules)))
    for _name in sorted(_wake_imports, key=lambda k: -_wake_imports[k]):
        print("IMPORT %s %.3f" % (_name, _wake_imports[_name] / 1000.0))
