# cpython-only: it runs tools/bench.py, which drives the unix port and the emulator from CPython.
# The benchmark tool (make bench) works: a --quick run writes every row of the table with figures
# on both sides, and the heap search finds the smallest passing heap. The figures of a quick run
# mean nothing; the full run writes docs/benchmarks.md.
import importlib.util
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TOOL = os.path.join(ROOT, "tools", "bench.py")


def _bench_module():
    spec = importlib.util.spec_from_file_location("bench_tool", TOOL)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    d = tmp_path_factory.mktemp("bench")
    out = d / "benchmarks.md"
    r = subprocess.run(
        [sys.executable, TOOL, "--quick", "--out", str(out), "--json", str(d / "results.json")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    text = out.read_text() if out.exists() else ""
    return r, text


def _rows(text):
    return [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| #")]


def _row(text, words):
    found = [r for r in _rows(text) if words in r]
    assert found, "no row with %r in:\n%s" % (words, text)
    return [c.strip() for c in found[0].strip("|").split("|")]


def test_quick_run_exits_cleanly_and_writes_the_document(quick):
    r, text = quick
    assert r.returncode == 0, r.stderr[-3000:]
    assert text.startswith("# Benchmarks")
    assert "## Machine and versions" in text and "MicroPython" in text and "CPython: 3." in text


def test_quick_run_writes_a_row_for_each_measurement_of_the_issue(quick):
    _, text = quick
    for words in (
        "Smallest `-X heapsize`",
        "mem_peak()",
        "Flash bytes written per sample, littlefs",
        "Bytes stored per sample",
        "Request body bytes per point",
        "TLS handshakes for",
        "HTTP requests for",
        "`add()` throughput, unix port",
        "Upload throughput, unix port",
    ):
        _row(text, words)


def test_quick_run_includes_the_raw_backend_rows_when_rawstore_exists(quick):
    _, text = quick
    if not os.path.exists(os.path.join(ROOT, "lib", "blynklog", "rawstore.py")):
        pytest.skip("no raw backend in this checkout")
    _row(text, "raw backend (NOR simulator)")
    _row(text, "Sector erases per 10,000 samples, raw backend")


def test_quick_run_measures_both_sides_of_the_flash_and_add_rows(quick):
    _, text = quick
    for words in (
        "Flash bytes written per sample, littlefs",
        "Bytes stored per sample",
        "`add()` throughput, unix port",
    ):
        cells = _row(text, words)
        assert cells[2] != "n/a" and cells[3] != "n/a" and cells[4] != "n/a", cells


def test_quick_run_measures_both_sides_of_the_upload_rows(quick):
    _, text = quick
    for words in (
        "Smallest `-X heapsize`",
        "Request body bytes per point",
        "TLS handshakes for",
        "Upload throughput, unix port",
    ):
        cells = _row(text, words)
        assert cells[2] != "n/a" and cells[3] != "n/a", cells


def test_quick_run_reports_no_errors(quick):
    _, text = quick
    assert "## Errors during this run" not in text, text[text.find("## Errors") :]


def test_heap_search_finds_the_smallest_passing_heap_to_the_step():
    bench = _bench_module()
    calls = []

    def ok(h):
        calls.append(h)
        return h >= 70 * 1024

    assert bench.min_heap(ok, 16 * 1024, 512 * 1024, 2 * 1024, 8192 * 1024) == 70 * 1024
    assert len(calls) < 12


def test_heap_search_grows_past_its_first_guess_and_gives_up_at_the_cap():
    bench = _bench_module()
    assert bench.min_heap(lambda h: h >= 1500 * 1024, 16 * 1024, 512 * 1024, 2 * 1024, 8192 * 1024) == 1500 * 1024
    assert bench.min_heap(lambda h: False, 16 * 1024, 512 * 1024, 2 * 1024, 2048 * 1024) is None


def test_heap_search_confirms_an_earlier_result_in_two_runs():
    bench = _bench_module()
    calls = []

    def ok(h):
        calls.append(h)
        return h >= 64 * 1024

    assert bench.min_heap(ok, 16 * 1024, 512 * 1024, 2 * 1024, 8192 * 1024, hint=64 * 1024) == 64 * 1024
    assert calls == [64 * 1024, 62 * 1024]
