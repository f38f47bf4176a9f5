# cpython-only: it drives the unix ports; it is the unix ports' half of the suite.
# Every portable test module also runs on the MicroPython unix port: one pytest item per test,
# named unix::module::test. When a board-like port is named (BLYNKLOG_MICROPYTHON_32: a unix port
# built 32-bit with float32, as ESP32 and RP2040 are), every portable module runs on it as well,
# as unix32::module::test. Each module runs in one process per runtime (its results are cached for
# the module's items); a CPython-only module shows as one skipped item.
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
RUNNER = os.path.join(HERE, "unix_runner.py")
MODULE_TIMEOUT_S = 600

# One local Blynk emulator for the session (conftest.py's blynk_emulator): its BLYNKLOG_EMU_* variables
# are in os.environ, which the micropython processes inherit; tests/emu.py reads them there.
pytestmark = pytest.mark.usefixtures("blynk_emulator")


def runtimes():
    # {tag: executable}: the pip unix port always; the board-like port when one is named.
    exe = os.path.join(os.path.dirname(sys.executable), "micropython")
    if not os.path.exists(exe):
        exe = "micropython"
    found = {"unix": exe}
    board_like = os.environ.get("BLYNKLOG_MICROPYTHON_32", "")
    if board_like:
        board_like = os.path.abspath(board_like)
        if not os.access(board_like, os.X_OK):
            raise SystemExit("BLYNKLOG_MICROPYTHON_32=%s is not an executable" % board_like)
        found["unix32"] = board_like
    return found


def micropython_command(runtime="unix"):
    return [runtimes()[runtime], "-X", "heapsize=4M"]


def _list():
    cases = []
    for runtime in runtimes():
        out = subprocess.run(
            micropython_command(runtime) + [RUNNER, "--list"], capture_output=True, text=True, timeout=120
        )
        found = []
        for line in out.stdout.splitlines():
            parts = line.split(" ", 2)
            if parts[0] == "TEST":
                found.append(pytest.param(runtime, parts[1], parts[2], id="%s::%s::%s" % (runtime, parts[1], parts[2])))
            elif parts[0] == "SKIP":
                reason = parts[2] if len(parts) > 2 else "CPython only"
                found.append(
                    pytest.param(
                        runtime,
                        parts[1],
                        None,
                        id="%s::%s" % (runtime, parts[1]),
                        marks=pytest.mark.skip(reason="CPython only: " + reason),
                    )
                )
            elif parts[0] == "BROKEN":
                found.append(pytest.param(runtime, parts[1], "<import>", id="%s::%s::<import>" % (runtime, parts[1])))
        if out.returncode != 0 or not found:
            found.append(pytest.param(runtime, "<runner>", out.stderr[-2000:], id="%s::<runner>" % runtime))
        cases += found
    return cases


_results = {}


def _run_module(runtime, module):
    key = (runtime, module)
    if key in _results:
        return _results[key]
    try:
        out = subprocess.run(
            micropython_command(runtime) + [RUNNER, module],
            capture_output=True,
            text=True,
            timeout=MODULE_TIMEOUT_S,
            cwd=os.path.dirname(HERE),
        )
        stdout, stderr, rc = out.stdout, out.stderr, out.returncode
    except subprocess.TimeoutExpired as e:
        stdout, stderr, rc = (e.stdout or b"").decode(errors="replace"), "timed out after %d s" % MODULE_TIMEOUT_S, -1
    results = {}
    current = None
    for line in stdout.splitlines():
        if line.startswith("START "):
            current = line[6:]
            results[current] = ["RUNNING", []]
        elif line.startswith(("PASS ", "FAIL ", "SKIP ")):
            status, _, rest = line.partition(" ")
            name, _, reason = rest.partition(" ")
            printed = results[name][1] if status == "PASS" and name in results else []
            results[name] = [status, printed + ([reason] if reason else [])]
            current = name
        elif line.startswith("| ") and current:
            results[current][1].append(line[2:])
        elif current and current in results and results[current][0] == "RUNNING":
            results[current][1].append(line)
    _results[key] = (results, stderr, rc)
    return _results[key]


@pytest.mark.parametrize("runtime,module,test", _list())
def test_on_unix_port(runtime, module, test):
    if module == "<runner>":
        pytest.fail("the %s runner could not list the tests:\n%s" % (runtime, test or ""))
    if test == "<import>":
        results, stderr, rc = _run_module(runtime, module)
        pytest.fail("module %s does not import on %s:\n%s" % (module, runtime, stderr[-3000:]))
    results, stderr, rc = _run_module(runtime, module)
    if test not in results:
        pytest.fail("the unix port never ran %s (exit %s):\n%s" % (test, rc, stderr[-3000:]))
    status, detail = results[test]
    if status == "SKIP":
        pytest.skip(" ".join(detail))
    if status == "RUNNING":
        pytest.fail(
            "the unix port died during %s (exit %s):\n%s\n%s" % (test, rc, "\n".join(detail[-50:]), stderr[-3000:])
        )
    if status == "FAIL":
        pytest.fail("on the unix port:\n" + "\n".join(detail), pytrace=False)
    if detail:
        print("\n".join(detail))  # what the test printed (figures the summary may quote)
