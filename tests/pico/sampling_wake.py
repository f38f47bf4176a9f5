# One sampling wake on the emulated Pico W, as a board runs it after deep sleep (every wake is a
# reset): Logger(config file), three add(), flush(), before_sleep(). tests/test_pico_wake.py runs
# it twice with a soft reset between, so each run imports the package afresh. Prints the simulated
# ms of each phase ("WAKE ..."), where Logger() spends its time ("LOGGER ...": the package's
# imports, each module's own time, and the store's opening) and the package's modules it loaded
# ("IMPORTED ...") and kept ("MODS ...": the validator and logger_open are dropped after use).
# "LOGGER imports" counts the imports made inside Logger() (not those of `import blynklog`); the
# modules' own times after the bar cover every import. Imports are timed through a
# builtins.__import__ hook (its own small cost included).
import builtins
import sys
import time

T = time.ticks_us
_orig = builtins.__import__
_own = {}  # module -> us spent importing it, less the imports nested in it
_stack = []
_open = [0]


def _timed_init(init):
    def timed(*args, **kw):
        t = T()
        try:
            return init(*args, **kw)
        finally:
            _open[0] += time.ticks_diff(T(), t)

    return timed


def _hook(name, globals=None, locals=None, fromlist=(), level=0):
    # relative imports are the package's (MicroPython does not pass the importer's globals)
    full = ("blynklog." + name if name else "blynklog." + fromlist[0]) if level else name
    if not full.startswith("blynklog") or full in sys.modules:
        return _orig(name, globals, locals, fromlist, level)
    _stack.append(0)
    t = T()
    try:
        return _orig(name, globals, locals, fromlist, level)
    finally:
        dt = time.ticks_diff(T(), t)
        _own[full] = _own.get(full, 0) + dt - _stack.pop()
        if _stack:
            _stack[-1] += dt
        st = sys.modules.get("blynklog.store")
        if full == "blynklog.store" and st is not None:
            st.Store.__init__ = _timed_init(st.Store.__init__)


builtins.__import__ = _hook
t0 = T()
import blynklog  # noqa: E402

t1 = T()
_before = sum(_own[k] for k in _own if k != "blynklog")  # the package's own imports (record)
log = blynklog.Logger("wake-config.json")
t2 = T()
log.add("air_temp", 21.5)
log.add("chip_temp", 30.1)
log.add("air_temp", 21.6)
t3 = T()
log.flush()
t4 = T()
log.before_sleep(60000)
t5 = T()
builtins.__import__ = _orig
d = time.ticks_diff
print(
    "WAKE import %d logger %d add %d flush %d before_sleep %d total %d"
    % (d(t1, t0) // 1000, d(t2, t1) // 1000, d(t3, t2) // 1000, d(t4, t3) // 1000, d(t5, t4) // 1000, d(t5, t0) // 1000)
)
imp = sum(_own[k] for k in _own if k != "blynklog") - _before  # the imports Logger() made
print(
    "LOGGER imports %d open %d rest %d | %s"
    % (
        imp // 1000,
        _open[0] // 1000,
        (d(t2, t1) - imp - _open[0]) // 1000,
        " ".join("%s %d" % (k[9:] or "blynklog", _own[k] // 1000) for k in sorted(_own) if not k[9:10].isupper()),
    )
)
print("IMPORTED " + " ".join(sorted(k for k in _own if not k[9:10].isupper())))  # not ConfigError
print("MODS " + " ".join(sorted(k for k in sys.modules if k.startswith("blynklog"))))
