# Backend-agnostic behaviour cases of a store (the Store interface of docs/DESIGN.md).
# Each case is case_<behaviour>(make_store) where
#     make_store(capacity=16384, on_full="drop_oldest", reopen=False) -> a fresh, empty store
#     make_store(..., reopen=True)  -> the same storage as the previous call, opened again
#                                      (the case closes the previous store first)
# To bind another backend, write a test module that defines make_store for it and one test per
# case, written out (the unix port's dir() does not list names made at run time with globals()):
#     def test_records_are_per_stream_and_oldest_first():
#         store_cases.case_records_are_per_stream_and_oldest_first(make_store)
# tests/test_store.py (folder backend) and tests/test_rawstore.py (raw NOR flash) do so.
# The cases assume nothing about segment or record sizes: they fill a store until it reports
# being full and check exact counters. Run on CPython and on the unix port.
import exactnum
from support import raises

T0 = 1700000000000


def _fill(store, sid, count, start=0, step=1000):
    # Appends int values start..start+count-1; returns how many were accepted.
    ok = 0
    for i in range(start, start + count):
        if store.append(sid, T0 + i * step, i):
            ok += 1
    return ok


def _values(store, sid, after=None):
    return [r[2] for r in store.records(sid, after)]


def case_every_value_type_round_trips_through_the_store(make_store):
    s = make_store()
    sid = s.stream_id("mixed")
    # a huge and a tiny float this runtime holds (float32 on a board-like port: 1e300 is inf there)
    huge, tiny = (1e300, -1e-300) if exactnum.BITS == 53 else (3e38, -1e-38)
    values = [
        True,
        False,
        0,
        -1,
        2147483647,
        -2147483648,
        2**63 - 1,
        -(2**63),
        0.0,
        1.5,
        -2.25,
        0.1,
        huge,
        tiny,
        "",
        "hello",
        "z\u00fcrich \u2603",
        "x" * 1024,
        (13.5, 52.25),
        (13.404954, 52.520008),
    ]
    for i, v in enumerate(values):
        assert s.append(sid, T0 + i, v, i & 3)
    got = list(s.records(sid))
    assert len(got) == len(values)
    for i, (pos, ts, value, flags) in enumerate(got):
        v = values[i]
        assert ts == T0 + i and flags == i & 3
        if isinstance(v, tuple):
            assert tuple(value) == v
        else:
            assert value == v and type(value) is type(v), (value, v)
    s.close()


def case_float_with_decimals_reads_back_as_the_scaled_value(make_store):
    s = make_store()
    sid = s.stream_id("t")
    s.append(sid, T0, 21.537, 0, 2)
    s.append(sid, T0 + 1, -0.004, 0, 2)
    s.append(sid, T0 + 2, 3.0, 0, 0)
    assert _values(s, sid) == [21.54, 0.0, 3.0]
    s.close()


def case_wrong_values_are_rejected_and_store_nothing(make_store):
    s = make_store()
    sid = s.stream_id("t")
    raises(ValueError, s.append, sid, T0, float("nan"))
    raises(ValueError, s.append, sid, T0, float("inf"))
    raises(ValueError, s.append, sid, T0, "x" * 1025)
    raises(ValueError, s.append, sid, T0, 2**64)
    raises(TypeError, s.append, sid, T0, None)
    raises(TypeError, s.append, sid, T0, b"bytes")
    raises(TypeError, s.append, sid, 1.5, 1)
    raises(ValueError, s.append, sid, -1, 1)
    raises(ValueError, s.append, sid, T0, 1, 4)
    raises(ValueError, s.append, sid + 1, T0, 1)
    assert s.pending() == 0 and list(s.records(sid)) == []
    s.close()


def case_timestamps_out_of_order_and_far_apart_round_trip(make_store):
    s = make_store()
    sid = s.stream_id("t")
    stamps = [T0, T0 - 5000, T0 + 10**9, 0, (7 << 40) | 12345, T0 + 1, (1 << 56) - 1]
    for i, ts in enumerate(stamps):
        s.append(sid, ts, i, 1 if ts < T0 - 10**6 else 0)
    assert [r[1] for r in s.records(sid)] == stamps
    s.close()


def case_stream_ids_are_small_stable_and_survive_a_reopen(make_store):
    s = make_store()
    a = s.stream_id("a")
    b = s.stream_id("b")
    assert (a, b) == (0, 1) and s.stream_id("a") == 0
    s.close()
    s = make_store(reopen=True)
    assert s.stream_id("b") == 1 and s.stream_id("c") == 2
    s.close()


def case_records_are_per_stream_and_oldest_first(make_store):
    s = make_store()
    a = s.stream_id("a")
    b = s.stream_id("b")
    for i in range(30):
        s.append(a if i % 3 else b, T0 + i, i)
    assert _values(s, a) == [i for i in range(30) if i % 3]
    assert _values(s, b) == [i for i in range(30) if not i % 3]
    assert s.pending(a) == 20 and s.pending(b) == 10 and s.pending() == 30
    s.close()


def case_records_called_twice_yield_the_same_records(make_store):
    s = make_store()
    sid = s.stream_id("a")
    _fill(s, sid, 200)
    first = list(s.records(sid))
    assert list(s.records(sid)) == first and len(first) == 200
    s.close()


def case_records_after_a_position_start_just_after_it(make_store):
    s = make_store()
    sid = s.stream_id("a")
    _fill(s, sid, 50)
    got = list(s.records(sid))
    assert _values(s, sid, got[9][0]) == list(range(10, 50))
    s.close()


def case_commit_removes_exactly_the_covered_records(make_store):
    s = make_store()
    a = s.stream_id("a")
    b = s.stream_id("b")
    _fill(s, a, 40)
    _fill(s, b, 5)
    got = list(s.records(a))
    s.commit(a, got[14][0], 15)
    assert s.pending(a) == 25 and s.pending(b) == 5
    assert _values(s, a) == list(range(15, 40))
    s.close()


def case_commit_between_batches_while_iterating(make_store):
    s = make_store()
    sid = s.stream_id("a")
    _fill(s, sid, 100)
    seen = []
    batch = []
    for pos, ts, value, flags in s.records(sid):
        batch.append(value)
        if len(batch) == 7:
            s.commit(sid, pos, len(batch))
            seen.extend(batch)
            batch = []
    assert seen == list(range(98)) and s.pending(sid) == 2
    s.close()


def case_committed_records_never_come_back_after_a_reopen(make_store):
    s = make_store()
    sid = s.stream_id("a")
    _fill(s, sid, 60)
    got = list(s.records(sid))
    s.commit(sid, got[29][0], 30)
    s.close()
    s = make_store(reopen=True)
    assert _values(s, sid) == list(range(30, 60)) and s.pending(sid) == 30
    s.close()


def case_flushed_records_survive_a_reopen(make_store):
    s = make_store()
    sid = s.stream_id("a")
    _fill(s, sid, 25)
    s.flush()
    s.close()
    s = make_store(reopen=True)
    assert _values(s, sid) == list(range(25)) and s.pending() == 25
    s.close()


def case_appending_continues_after_a_reopen(make_store):
    s = make_store()
    sid = s.stream_id("a")
    _fill(s, sid, 10)
    s.close()
    s = make_store(reopen=True)
    _fill(s, sid, 10, 10)
    assert _values(s, sid) == list(range(20))
    s.close()


def case_records_include_appends_not_yet_flushed(make_store):
    s = make_store()
    sid = s.stream_id("a")
    _fill(s, sid, 3)
    assert _values(s, sid) == [0, 1, 2]
    s.close()


def case_drop_oldest_drops_whole_oldest_data_and_counts_every_sample(make_store):
    s = make_store(capacity=16384)
    a = s.stream_id("a")
    b = s.stream_id("b")
    n = 0
    while s.stats()["dropped_full"] == 0 and n < 20000:
        s.append(a if n % 4 else b, T0 + n, n)
        n += 1
    assert 0 < n < 20000
    more = n + n // 2
    for i in range(n, more):
        assert s.append(a if i % 4 else b, T0 + i, i)
    st = s.stats()
    kept = _values(s, a) + _values(s, b)
    assert st["dropped_full"] + st["pending"] == more
    assert len(kept) == st["pending"] == s.pending(a) + s.pending(b)
    # what is left is the newest data, without a gap
    kept.sort()
    assert kept == list(range(more - len(kept), more))
    assert st["bytes"] <= 16384
    s.close()


def case_drop_oldest_counts_only_uncommitted_samples(make_store):
    s = make_store(capacity=16384)
    sid = s.stream_id("a")
    committed = 0
    n = 0
    while s.stats()["dropped_full"] == 0 and n < 20000:
        s.append(sid, T0 + n, n)
        n += 1
        if n == 100:
            got = list(s.records(sid))
            s.commit(sid, got[-1][0], len(got))
            committed = 100
    st = s.stats()
    assert committed == 100
    assert st["dropped_full"] + st["pending"] + committed == n
    s.close()


def case_drop_newest_refuses_new_samples_and_counts_them(make_store):
    s = make_store(capacity=16384, on_full="drop_newest")
    sid = s.stream_id("a")
    n = 0
    while n < 20000 and s.append(sid, T0 + n, n):
        n += 1
    assert 0 < n < 20000
    refused = 1
    for i in range(n + 1, n + 50):
        assert not s.append(sid, T0 + i, i)
        refused += 1
    st = s.stats()
    assert st["dropped_full"] == refused and st["pending"] == n
    assert _values(s, sid) == list(range(n))
    s.close()


def case_drop_newest_accepts_again_once_records_are_committed(make_store):
    s = make_store(capacity=16384, on_full="drop_newest")
    sid = s.stream_id("a")
    n = 0
    while n < 20000 and s.append(sid, T0 + n, n):
        n += 1
    got = list(s.records(sid))
    s.commit(sid, got[-1][0], len(got))
    assert s.pending() == 0
    half = n // 2
    assert _fill(s, sid, half, n + 1) == half
    assert s.pending() == half and s.stats()["dropped_full"] == 1
    s.close()


def case_counters_and_data_survive_a_reopen_of_a_full_store(make_store):
    s = make_store(capacity=16384)
    sid = s.stream_id("a")
    n = 0
    while s.stats()["dropped_full"] < 500 and n < 30000:
        s.append(sid, T0 + n, n)
        n += 1
    before = _values(s, sid)
    s.close()
    s = make_store(capacity=16384, reopen=True)
    assert _values(s, sid) == before and s.pending() == len(before)
    s.close()


def case_many_wrap_arounds_keep_counts_exact(make_store):
    s = make_store(capacity=16384)
    a = s.stream_id("a")
    b = s.stream_id("b")
    total = 0
    sent = 0
    v = 0
    rnd = 0
    # 12 rounds, and more until b's oldest data has been dropped (a packed store holds more)
    while rnd < 12 or (s.stats()["dropped_full"] == 0 and rnd < 200):
        rnd += 1
        for i in range(700):
            s.append(a if i % 2 else b, T0 + v, v)
            v += 1
        total += 700
        # stream a uploads every round, stream b never: b's old data is what gets dropped
        got = list(s.records(a))
        if got:
            s.commit(a, got[-1][0], len(got))
            sent += len(got)
        st = s.stats()
        assert st["pending"] + st["dropped_full"] + sent == total
        assert st["bytes"] <= 16384
    assert s.stats()["dropped_full"] > 0
    s.close()
    s = make_store(capacity=16384, reopen=True)
    assert s.pending(a) == 0 and s.pending(b) == len(list(s.records(b)))
    s.close()


def case_fully_committed_data_is_reclaimed(make_store):
    s = make_store(capacity=16384)
    sid = s.stream_id("a")
    for rnd in range(8):
        _fill(s, sid, 500, rnd * 500)
        got = list(s.records(sid))
        s.commit(sid, got[-1][0], len(got))
    st = s.stats()
    assert st["dropped_full"] == 0 and st["pending"] == 0
    assert st["bytes"] <= 8192
    s.close()


def case_stats_report_the_counters(make_store):
    s = make_store()
    st = s.stats()
    for key in ("dropped_full", "pending", "bytes", "segments"):
        assert key in st
    assert st["pending"] == 0 and st["dropped_full"] == 0
    s.close()


CASES = [
    case_every_value_type_round_trips_through_the_store,
    case_float_with_decimals_reads_back_as_the_scaled_value,
    case_wrong_values_are_rejected_and_store_nothing,
    case_timestamps_out_of_order_and_far_apart_round_trip,
    case_stream_ids_are_small_stable_and_survive_a_reopen,
    case_records_are_per_stream_and_oldest_first,
    case_records_called_twice_yield_the_same_records,
    case_records_after_a_position_start_just_after_it,
    case_commit_removes_exactly_the_covered_records,
    case_commit_between_batches_while_iterating,
    case_committed_records_never_come_back_after_a_reopen,
    case_flushed_records_survive_a_reopen,
    case_appending_continues_after_a_reopen,
    case_records_include_appends_not_yet_flushed,
    case_drop_oldest_drops_whole_oldest_data_and_counts_every_sample,
    case_drop_oldest_counts_only_uncommitted_samples,
    case_drop_newest_refuses_new_samples_and_counts_them,
    case_drop_newest_accepts_again_once_records_are_committed,
    case_counters_and_data_survive_a_reopen_of_a_full_store,
    case_many_wrap_arounds_keep_counts_exact,
    case_fully_committed_data_is_reclaimed,
    case_stats_report_the_counters,
]


def bind(namespace, make_store):
    # Adds test_<behaviour> to a backend's test module (its globals()) for every case, bound to
    # that backend's make_store. Both runners collect names made this way (the unix runner reads
    # the module's __dict__).
    for case in CASES:
        namespace["test_" + case.__name__[len("case_") :]] = _bound(case, make_store)


def _bound(case, make_store):
    def test():
        case(make_store)

    return test
