# cpython-only: it drives the unix port; it is the unix port's half of the suite.
# Every portable test module also runs on the MicroPython unix port: one pytest item per test,
# named unix::module::test. Each module runs in one `micropython` process (its results are
# cached for the module's items); a CPython-only module shows as one skipped item.
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


def micropython_command():
    exe = os.path.join(os.path.dirname(sys.executable), "micropython")
    if not os.path.exists(exe):
        exe = "micropython"
    return [exe, "-X", "heapsize=4M"]


def _list():
    out = subprocess.run(micropython_command() + [RUNNER, "--list"], capture_output=True, text=True, timeout=120)
    cases = []
    for line in out.stdout.splitlines():
        parts = line.split(" ", 2)
        if parts[0] == "TEST":
            cases.append(pytest.param(parts[1], parts[2], id="unix::%s::%s" % (parts[1], parts[2])))
        elif parts[0] == "SKIP":
            reason = parts[2] if len(parts) > 2 else "CPython only"
            cases.append(
                pytest.param(parts[1], None, id="unix::%s" % parts[1], marks=pytest.mark.skip(reason="CPython only: " + reason))
            )
        elif parts[0] == "BROKEN":
            cases.append(pytest.param(parts[1], "<import>", id="unix::%s::<import>" % parts[1]))
    if out.returncode != 0 or not cases:
        cases.append(pytest.param("<runner>", out.stderr[-2000:], id="unix::<runner>"))
    return cases


_results = {}


def _run_module(module):
    if module in _results:
        return _results[module]
    try:
        out = subprocess.run(
            micropython_command() + [RUNNER, module], capture_output=True, text=True, timeout=MODULE_TIMEOUT_S, cwd=os.path.dirname(HERE)
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
            results[name] = [status, [reason] if reason else []]
            current = name
        elif line.startswith("| ") and current:
            results[current][1].append(line[2:])
        elif current and current in results and results[current][0] == "RUNNING":
            results[current][1].append(line)
    _results[module] = (results, stderr, rc)
    return _results[module]


@pytest.mark.parametrize("module,test", _list())
def test_on_unix_port(module, test):
    if module == "<runner>":
        pytest.fail("the unix runner could not list the tests:\n" + (test or ""))
    if test == "<import>":
        results, stderr, rc = _run_module(module)
        pytest.fail("module %s does not import on the unix port:\n%s" % (module, stderr[-3000:]))
    results, stderr, rc = _run_module(module)
    if test not in results:
        pytest.fail("the unix port never ran %s (exit %s):\n%s" % (test, rc, stderr[-3000:]))
    status, detail = results[test]
    if status == "SKIP":
        pytest.skip(" ".join(detail))
    if status == "RUNNING":
        pytest.fail("the unix port died during %s (exit %s):\n%s\n%s" % (test, rc, "\n".join(detail[-50:]), stderr[-3000:]))
    if status == "FAIL":
        pytest.fail("on the unix port:\n" + "\n".join(detail), pytrace=False)
