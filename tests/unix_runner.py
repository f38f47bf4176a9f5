# Runs the portable test modules on the MicroPython unix port (pytest drives it: test_unix_port.py).
#   micropython tests/unix_runner.py --list          one line per test: TEST module name
#                                                     and per CPython-only module: SKIP module reason
#   micropython tests/unix_runner.py MODULE [TEST..]  runs them; prints PASS/FAIL/SKIP lines
# A module is CPython-only when one of its first lines starts with "# cpython-only:".
import os
import sys

_here = sys.argv[0].rsplit("/", 1)[0] if "/" in sys.argv[0] else "."
_root = _here + "/.."
sys.path.insert(0, _here)
sys.path.insert(0, _root + "/lib")

MARK = "# cpython-only:"


def _modules():
    names = sorted(n for n in os.listdir(_here) if n.startswith("test_") and n.endswith(".py"))
    for name in names:
        reason = None
        with open(_here + "/" + name) as f:
            for _ in range(15):
                line = f.readline()
                if not line:
                    break
                if line.startswith(MARK):
                    reason = line[len(MARK) :].strip()
                    break
        yield name[:-3], reason


def _tests(module):
    mod = __import__(module)
    # __dict__, not dir(): the unix port's dir() misses names a module made with globals()[...]
    names = sorted(n for n in mod.__dict__ if n.startswith("test_") and callable(mod.__dict__[n]))
    return mod, names


def list_tests():
    for module, reason in _modules():
        if reason is not None:
            print("SKIP", module, reason)
            continue
        try:
            _, names = _tests(module)
        except Exception as e:
            print("BROKEN", module, repr(e))
            continue
        for n in names:
            print("TEST", module, n)


def run(module, wanted):
    import io

    mod, names = _tests(module)
    if wanted:
        names = [n for n in names if n in wanted]
    passed = failed = 0
    for name in names:
        print("START", name)
        try:
            getattr(mod, name)()
        except Exception as e:
            if type(e).__name__ == "Skipped":
                print("SKIP", name, e.args[0] if e.args else "")
                continue
            buf = io.StringIO()
            sys.print_exception(e, buf)
            print("FAIL", name)
            for line in buf.getvalue().split("\n"):
                print("|", line)
            if isinstance(e, MemoryError):
                # a leak across the module's tests or one large request: the heap says which
                import gc

                e = buf = None
                gc.collect()
                print("| heap after a collection: %d bytes in use, %d free" % (gc.mem_alloc(), gc.mem_free()))
            failed += 1
        else:
            print("PASS", name)
            passed += 1
    print("DONE", passed, failed)


if len(sys.argv) > 1 and sys.argv[1] == "--list":
    list_tests()
elif len(sys.argv) > 1:
    run(sys.argv[1], sys.argv[2:])
else:
    print("usage: micropython tests/unix_runner.py --list | MODULE [TEST ...]")
