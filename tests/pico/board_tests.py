# Runs test functions of a portable test module on the board, as tests/unix_runner.py does on the
# unix port: START / PASS / FAIL (traceback lines "| ...") / SKIP per test, then DONE. The host
# prepends MODULE and NAMES. Each test's folders under /tmp are removed after it: the Pico W's
# file system (848 KB) would fill up with them.
import gc
import io
import os
import sys

sys.path[:0] = ["/tests", "/lib"]
import support  # noqa: E402  (after the sys.path set-up above)

mod = __import__(MODULE)  # noqa: F821  (MODULE and NAMES: the host prepends them)
passed = failed = 0
for name in NAMES:  # noqa: F821
    print("START", name)
    try:
        mod.__dict__[name]()
    except Exception as e:
        if type(e).__name__ == "Skipped":
            print("SKIP", name, e.args[0] if e.args else "")
        else:
            buf = io.StringIO()
            sys.print_exception(e, buf)
            print("FAIL", name)
            for line in buf.getvalue().split("\n"):
                print("|", line)
            failed += 1
    else:
        print("PASS", name)
        passed += 1
    gc.collect()
    for entry in os.listdir("/tmp"):
        support.rmtree("/tmp/" + entry)
    gc.collect()
print("DONE", passed, failed, gc.mem_free())
