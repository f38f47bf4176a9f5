# pytest setup for CPython: the package, the board stand-ins and the test helpers on sys.path.
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
for p in (os.path.join(HERE, "stubs"), os.path.join(ROOT, "lib"), HERE):
    if p not in sys.path:
        sys.path.insert(0, p)


# The local Blynk emulator (tools/blynk_server.py), one for the whole session, started on first use.
# Its addresses go into the environment (BLYNKLOG_EMU_*), where tests/emu.py reads them, so one
# portable test runs unchanged here and on the unix port (test_unix_port.py passes them on).
import pytest  # noqa: E402  (after the sys.path set-up above)

EMU_ENV = (
    "BLYNKLOG_EMU_URL",
    "BLYNKLOG_EMU_HTTP_URL",
    "BLYNKLOG_EMU_CA",
    "BLYNKLOG_EMU_OTHER_CA",
    "BLYNKLOG_EMU_WRONG_NAME_URL",
)


@pytest.fixture(scope="module")
def plain_server():
    # a plain-http emulator of the module's own, for tests of the emulator itself
    tools = os.path.join(ROOT, "tools")
    if tools not in sys.path:
        sys.path.insert(0, tools)
    from blynk_server import BlynkServer

    srv = BlynkServer(tls=False).start()
    yield srv
    srv.stop()


@pytest.fixture
def srv(plain_server):
    # that emulator, reset for each test (test_emulator.py has its own, over TLS)
    plain_server.reset()
    return plain_server


@pytest.fixture(scope="session", autouse=True)
def blynk_emulator():
    tools = os.path.join(ROOT, "tools")
    if tools not in sys.path:
        sys.path.insert(0, tools)
    from blynk_server import BlynkServer

    srv = BlynkServer(tls=True).start()
    saved = {k: os.environ.get(k) for k in EMU_ENV}
    os.environ.update(
        {
            "BLYNKLOG_EMU_URL": srv.url,
            "BLYNKLOG_EMU_HTTP_URL": srv.http_url,
            "BLYNKLOG_EMU_CA": srv.ca_der_path,
            "BLYNKLOG_EMU_OTHER_CA": srv.other_ca_der_path,
            "BLYNKLOG_EMU_WRONG_NAME_URL": srv.wrong_name_url,
        }
    )
    try:
        yield srv
    finally:
        srv.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# The misbehaving server (tools/hostile_server.py) in its own process, so that counting this
# process's open sockets sees only the client's. Its addresses go into BLYNKLOG_HOSTILE_*
# (tests/hostile.py reads them, here and on the unix port).
HOSTILE_ENV = ("BLYNKLOG_HOSTILE_URL", "BLYNKLOG_HOSTILE_TLS_URL", "BLYNKLOG_HOSTILE_CA")


@pytest.fixture(scope="session", autouse=True)
def hostile_server(blynk_emulator):
    import json
    import subprocess

    cmd = [sys.executable, os.path.join(ROOT, "tools", "hostile_server.py")]
    if blynk_emulator.cert_dir:
        cmd += ["--cert-dir", blynk_emulator.cert_dir]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    info = json.loads(proc.stdout.readline() or "{}")
    saved = {k: os.environ.get(k) for k in HOSTILE_ENV}
    os.environ.update(
        {
            "BLYNKLOG_HOSTILE_URL": info.get("url") or "",
            "BLYNKLOG_HOSTILE_TLS_URL": info.get("tls_url") or "",
            "BLYNKLOG_HOSTILE_CA": info.get("ca") or "",
        }
    )
    try:
        yield info
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


FIGURE_PREFIXES = ("fault sweep:", "power cuts:", "workload:", "lifetime ", "pico ", "pico_w power cuts:")


def pytest_terminal_summary(terminalreporter):
    # How many tests ran on each runtime: CPython items, and unix::/unix32:: items of test_unix_port.
    counts = {}
    for outcome in ("passed", "failed", "skipped", "error"):
        for rep in terminalreporter.stats.get(outcome, []):
            nodeid = getattr(rep, "nodeid", "")
            if "test_on_unix_port[" in nodeid:
                runtime = nodeid.split("[", 1)[1].split("::", 1)[0]
            else:
                runtime = "cpython"
            row = counts.setdefault(runtime, {})
            row[outcome] = row.get(outcome, 0) + 1
    # figures some tests print for the record (the fault sweep's count of injection points)
    figures = []
    for rep in terminalreporter.stats.get("passed", []):
        for line in (getattr(rep, "capstdout", "") or "").splitlines():
            if line.startswith(FIGURE_PREFIXES):
                nodeid = getattr(rep, "nodeid", "")
                runtime = nodeid.split("[", 1)[1].split("::", 1)[0] if "test_on_unix_port[" in nodeid else "cpython"
                if os.path.basename(nodeid.split("::", 1)[0]).startswith("test_pico"):
                    runtime = "pico_w"  # the emulated board's figures, from the host's items
                figures.append("%-8s %s" % (runtime, line))
    if _pico_totals["runs"]:  # what the emulated-board tier cost (the emulator runs at about 0.4x real time)
        figures.append(
            "%-8s tier: %d emulator runs, %.0f s simulated, %.0f s of wall time"
            % ("pico_w", _pico_totals["runs"], _pico_totals["sim"], _pico_totals["wall"])
        )
    if figures:
        terminalreporter.write_sep("-", "figures")
        for line in figures:
            terminalreporter.write_line(line)
    if counts:
        terminalreporter.write_sep("-", "tests per runtime")
        for runtime in sorted(counts):
            row = counts[runtime]
            terminalreporter.write_line("%-8s %s" % (runtime, ", ".join("%d %s" % (row[k], k) for k in sorted(row))))


# Parallel runs: `make test` runs pytest-xdist workers (-n). A unit of work stays on one worker:
# a test module (its module-scoped fixtures and caches build things once), and for
# test_unix_port.py each (port, module) pair (one micropython process runs the whole module for
# its items). Units go out longest first, so that no long unit starts last while the other workers
# idle: by the seconds each took in the last run (kept in pytest's cache), else by ESTIMATE_S
# (seconds of one run on a busy 2-core machine; only an order, so a stale figure costs time, never
# a result), else half a second per test. Every worker sorts the same way, as xdist needs.
ESTIMATE_S = {
    "unix32::test_fault_sweep": 228,
    "unix::test_fault_sweep": 152,
    "test_pico_powercut.py": 150,
    "test_fault_sweep.py": 78,
    "test_pico_firmware.py": 56,
    "unix32::test_store_powercut": 34,
    "test_lifetime_resets.py": 33,
    "test_pico_store.py": 29,
    "test_pico_logger.py": 26,
    "unix::test_store_powercut": 25,
    "unix::test_exact_numbers": 25,
    "unix32::test_record_framing": 18,
    "test_fuzz_store.py": 16,
    "test_pico_wake.py": 16,
    "test_bench_smoke.py": 16,
    "test_lifetime.py": 16,
    "unix32::test_rawstore_powercut": 15,
    "unix::test_rawstore_powercut": 15,
    "test_mpremote_vboard.py": 15,
}
UNIT_CACHE_KEY = "blynklog/unit_seconds"


def unit_of(nodeid):
    # "test_x.py", or "unix::test_x" / "unix32::test_x" for test_unix_port.py's items
    path, _, rest = nodeid.partition("::")
    name = os.path.basename(path)
    if name == "test_unix_port.py" and "[" in rest:
        return "::".join(rest.split("[", 1)[1].rstrip("]").split("::")[:2])
    return name


def _unit_seconds(config):
    cache = getattr(config, "cache", None)
    return (cache.get(UNIT_CACHE_KEY, None) if cache is not None else None) or {}


def pytest_collection_modifyitems(config, items):
    # in a worker (xdist gives it workerinput): the items unit by unit, the longest unit first
    if not hasattr(config, "workerinput"):
        return
    last = _unit_seconds(config)
    units = {}
    for item in items:
        units.setdefault(unit_of(item.nodeid), []).append(item)

    def cost(unit):
        seconds = last.get(unit, ESTIMATE_S.get(unit))
        return seconds if isinstance(seconds, (int, float)) else 0.5 * len(units[unit])

    order = sorted(units, key=lambda u: (-cost(u), u))
    items[:] = [item for unit in order for item in units[unit]]


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    # xdist's own "load" (what -n runs unless --dist says otherwise) with units instead of single
    # tests, sent out in the workers' order (longest first), one at a time as a worker runs dry
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class UnitScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            return unit_of(nodeid)

    config.option.loadscopereorder = False
    return UnitScheduling(config, log)


_unit_times = {}


def pytest_runtest_logreport(report):
    # on the controller (or a run without workers): each unit's seconds, for the next run's order
    _unit_times[unit_of(report.nodeid)] = _unit_times.get(unit_of(report.nodeid), 0.0) + (report.duration or 0.0)


_pico_totals = {"runs": 0, "sim": 0.0, "wall": 0.0}


def _add_pico_totals(t):
    for k in _pico_totals:
        _pico_totals[k] += (t or {}).get(k, 0)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    # a worker's emulated-board figures (sent from its pytest_sessionfinish)
    _add_pico_totals(getattr(node, "workeroutput", {}).get("pico_totals"))


def pytest_sessionfinish(session):
    config = session.config
    picohost = sys.modules.get("picohost")
    if hasattr(config, "workeroutput"):  # a worker: its figures go to the controller
        if picohost is not None:
            config.workeroutput["pico_totals"] = picohost.totals()
        return
    if picohost is not None:
        _add_pico_totals(picohost.totals())
    cache = getattr(config, "cache", None)
    if cache is not None and _unit_times:
        seconds = dict(_unit_seconds(config))
        seconds.update({u: round(s, 1) for u, s in _unit_times.items()})
        cache.set(UNIT_CACHE_KEY, seconds)
