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


FIGURE_PREFIXES = ("fault sweep:", "power cuts:", "workload:", "lifetime ", "pico ")


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
                figures.append("%-8s %s" % (runtime, line))
    if figures:
        terminalreporter.write_sep("-", "figures")
        for line in figures:
            terminalreporter.write_line(line)
    if counts:
        terminalreporter.write_sep("-", "tests per runtime")
        for runtime in sorted(counts):
            row = counts[runtime]
            terminalreporter.write_line("%-8s %s" % (runtime, ", ".join("%d %s" % (row[k], k) for k in sorted(row))))
