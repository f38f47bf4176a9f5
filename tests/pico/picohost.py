# Host side of the emulated-board tier (tests/test_pico*.py): the emulator (tools/pico.py) when
# BLYNKLOG_PICO_SIM names it (the Makefile's PICO_SIM), images built once per session under
# build/pico/, and on-board scripts written out with a header of parameters.
#   BLYNKLOG_PICO_FULL=1  every store test and every flash operation of the power-cut sweep
#                         (make test runs a fixed subset: see each module)
import atexit
import os
import shutil
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
os.makedirs(os.path.join(ROOT, "build", "pico"), exist_ok=True)
# this session's images and scripts (two sessions at once must not share a flash image)
OUT = tempfile.mkdtemp(prefix="run-", dir=os.path.join(ROOT, "build", "pico"))
atexit.register(shutil.rmtree, OUT, True)
if os.path.join(ROOT, "tools") not in sys.path:
    sys.path.insert(0, os.path.join(ROOT, "tools"))
import pico  # noqa: E402  (tools/pico.py)

FULL = os.environ.get("BLYNKLOG_PICO_FULL", "") not in ("", "0")
_cache = {}
_totals = {"runs": 0, "sim": 0.0, "wall": 0.0}


def totals():
    # what the tier cost in this process (the emulator runs at about 0.4x real time): conftest.py
    # adds up the test workers' and prints it in the closing summary
    return dict(_totals)


def _counted(run):
    def counted(scripts, **kw):
        r = run(scripts, **kw)
        _totals["runs"] += 1
        _totals["sim"] += r.sim_s or 0
        _totals["wall"] += r.wall_s or 0
        return r

    return counted


def _locked_sim():
    # pico.Sim() installs rp2040js into build/pico-sim-node on first use (npm ci): one process at a
    # time (the test workers of `make test` run in parallel), the others then find it installed
    import fcntl

    with open(os.path.join(ROOT, "build", "pico", ".sim.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return pico.Sim()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def sim():
    # the emulator, or the test is skipped saying why
    if "sim" not in _cache:
        why = pico.missing(pico.sim_dir())
        _cache["sim"] = why or _locked_sim()
        if not why:
            _cache["sim"].run = _counted(_cache["sim"].run)
    s = _cache["sim"]
    if isinstance(s, str):
        pytest.skip("emulated Pico W: " + s)
    return s


def image(kind, **kw):
    # a deployed image, built once per session: kind "lib" (no main.py), "tests" (+ /tests/*.mpy)
    if kind not in _cache:
        _cache[kind] = sim().image(os.path.join(OUT, kind + ".img"), **kw)
    return _cache[kind]


def script(name, header=""):
    # tests/pico/<name> with the header before it, as a file the emulator can run
    os.makedirs(os.path.join(OUT, "scripts"), exist_ok=True)
    with open(os.path.join(HERE, name)) as f:
        body = f.read()
    path = os.path.join(OUT, "scripts", name if not header else "%s-%08x.py" % (name[:-3], hash(header) & 0xFFFFFFFF))
    with open(path, "w") as f:
        f.write(header + body)
    return path


def text(name, body):
    os.makedirs(os.path.join(OUT, "scripts"), exist_ok=True)
    path = os.path.join(OUT, "scripts", name)
    with open(path, "w") as f:
        f.write(body)
    return path


def run_tests(module, names, timeout=1200):
    # runs tests of a portable module on the board (board_tests.py, with the "tests" image) ->
    # ({name: [status, [detail lines]]}, the run); status PASS, FAIL, SKIP or RUNNING (it stopped)
    img = image("tests", tests=True, main=False)
    header = "MODULE = %r\nNAMES = %r\n" % (module, list(names))
    r = sim().run([script("board_tests.py", header)], fs_in=img, timeout=timeout)
    results = {}
    current = None
    for line in r.out.splitlines():
        if line.startswith("START "):
            current = line[6:].strip()
            results[current] = ["RUNNING", []]
        elif line.startswith(("PASS ", "FAIL ", "SKIP ")):
            status, _, rest = line.partition(" ")
            name, _, reason = rest.strip().partition(" ")
            results[name] = [status, [reason] if reason else []]
            current = name
        elif line.startswith("| ") and current:
            results[current][1].append(line[2:])
    return results, r


def check_result(results, r, name):
    # one pytest item's verdict from run_tests()'s results
    if name not in results:
        pytest.fail("the board never ran %s:\n%s" % (name, explain(r)))
    status, detail = results[name]
    if status == "SKIP":
        pytest.skip(" ".join(detail))
    if status == "RUNNING":
        pytest.fail("the board stopped during %s:\n%s" % (name, explain(r)))
    if status == "FAIL":
        pytest.fail("on the emulated Pico W:\n" + "\n".join(detail), pytrace=False)


def explain(r):
    # what to show when a run went wrong
    return "exit %s\n--- stdout (end)\n%s\n--- stderr (end)\n%s" % (r.rc, r.out[-3000:], r.err[-3000:])
