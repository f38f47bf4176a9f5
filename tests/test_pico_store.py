# cpython-only: drives the real MicroPython firmware of a Pico W in the RP2040 emulator.
# The store's tests on the emulated Pico W (MicroPython v1.28.0's own RPI_PICO_W firmware in
# rp2040js, tools/pico.py): tests/test_store.py, with the shared cases of store_cases.py, runs on
# the board as .mpy against the rp2 port's littlefs on its flash driver, with the RP2040's heap.
# One pytest item per test; the module runs once on the board for all of them. make test runs
# the cases below that take under half a simulated second each, plus one drop_oldest case (about
# 20 s of wall time on an idle core); BLYNKLOG_PICO_FULL=1 runs every test (about 36 s simulated,
# 100 s of wall time on an idle core).
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "pico"))
import picohost
import test_store

DEFAULT = (
    "test_every_value_type_round_trips_through_the_store",
    "test_float_with_decimals_reads_back_as_the_scaled_value",
    "test_wrong_values_are_rejected_and_store_nothing",
    "test_timestamps_out_of_order_and_far_apart_round_trip",
    "test_stream_ids_are_small_stable_and_survive_a_reopen",
    "test_records_are_per_stream_and_oldest_first",
    "test_records_after_a_position_start_just_after_it",
    "test_commit_removes_exactly_the_covered_records",
    "test_committed_records_never_come_back_after_a_reopen",
    "test_flushed_records_survive_a_reopen",
    "test_appending_continues_after_a_reopen",
    "test_records_include_appends_not_yet_flushed",
    "test_drop_oldest_counts_only_uncommitted_samples",
    "test_stats_report_the_counters",
    "test_a_torn_tail_is_cut_off_at_open_and_appending_goes_on",
    "test_a_damaged_record_in_the_middle_loses_only_itself",
)
# Known to fail on this board for reasons in the test, not the store; shown as xfail, and as XPASS
# once they pass.
KNOWN = {}
# The case's own list(s.records(...)) of a full 16 KB store (some 1,300 tuples, each timestamp a
# big int on a 32-bit port) does not fit the Pico W's heap: MemoryError in the test, not the store.
for _name in (
    "test_drop_newest_accepts_again_once_records_are_committed",
    "test_fully_committed_data_is_reclaimed",
    "test_many_wrap_arounds_keep_counts_exact",
):
    KNOWN[_name] = "the case lists every record of a full store at once: more than the Pico W's heap"
ALL = sorted(n for n in test_store.__dict__ if n.startswith("test_") and callable(test_store.__dict__[n]))
_results = {}


def _names():
    return ALL if picohost.FULL else [n for n in ALL if n in DEFAULT]


def _run():
    if "r" not in _results:
        _results["r"] = picohost.run_tests("test_store", _names())
    return _results["r"]


def _params():
    out = []
    for name in ALL:
        marks = []
        if name in KNOWN:
            marks.append(pytest.mark.xfail(reason=KNOWN[name], strict=False))
        if name not in DEFAULT and not picohost.FULL:
            marks.append(pytest.mark.skip(reason="runs with BLYNKLOG_PICO_FULL=1 (takes too long for make test)"))
        out.append(pytest.param(name, id="pico_w::test_store::" + name, marks=marks))
    return out


@pytest.mark.parametrize("name", _params())
def test_store_on_the_pico_w(name):
    results, r = _run()
    picohost.check_result(results, r, name)
