# sync() and `await sync_async()` give the same report, stats and points received for the same
# backlog and the same server, faults in the middle of a sync and budgets included: the two drivers
# (http.run_blocking, aio._drive) only move bytes, everything a report says is the policy's.
# Each test runs one scenario twice against the local emulator, once per driver, from the same
# backlog (the same timestamps), and compares what differs by nothing but chance: the back-off's
# jitter (next_retry_ms) and the time a reject was logged at are left out.
import asyncio

import emu
from blynklog import Logger
from logger_support import device_config, now_ms, platform_config, received

N = 200
_start = []


def _backlog_start():
    if not _start:
        _start.append(now_ms() - (N + 60) * 1000)
    return _start[0]


def _run(use_async, api, setup, budget=None, limits=None, stale=0):
    emu.require()
    emu.reset()
    emu.config(points_per_day=10000, max_age_days=30, token_lifetime_s=86400)
    lim = {"points_per_request": 50}
    lim.update(limits or {})
    log = Logger((platform_config if api == "platform" else device_config)(limits=lim))
    start = _backlog_start()
    for i in range(stale):  # older than max_age_days: dropped at the sync
        log.add("temperature", -1.0, ts=start - 2 * 86400000 + i)
    for i in range(N):
        log.add("temperature", i * 0.25, ts=start + i * 1000)
        if i % 2:
            log.add("humidity", i * 1.5, ts=start + i * 1000 + 1)
    log.flush()
    setup()
    if use_async:
        report = asyncio.run(log.sync_async(budget))
    else:
        report = log.sync(budget)
    stats = log.stats()
    log.close()
    for d in (report, stats):
        d.pop("next_retry_ms")
    stats["rejects"] = [r[1:] for r in stats["rejects"]]
    return report, stats, (len(received(1)), len(received(2))), [q["status"] for q in emu.requests()]


def _same(api, setup, budget=None, limits=None, racy=(), stale=0):
    # racy: report keys that hang on when a reset reaches the client (while its body still goes,
    # or after: whether the request counts as sent), not on the driver
    a = _run(False, api, setup, budget, limits, stale)
    b = _run(True, api, setup, budget, limits, stale)
    for k in racy:
        a[0].pop(k)
        b[0].pop(k)
    for i in range(4):
        if isinstance(a[i], dict):
            for k in a[i]:
                assert a[i][k] == b[i].get(k), (k, a[i][k], b[i].get(k))
        assert a[i] == b[i], (a[i], b[i])
    return a[0]


def _inject(*args, **kw):
    return lambda: emu.inject(*args, **kw)


def test_a_clean_upload_reports_the_same_through_both_drivers():
    r = _same("device", lambda: None)
    assert r["sent"] == 300 and r["stopped"] == "done"


def test_a_503_after_two_batches_reports_the_same_through_both_drivers():
    r = _same("device", _inject("status", status=503, after=2))
    assert r["sent"] == 100 and r["stopped"] == "retry"


def test_a_429_with_retry_after_mid_sync_reports_the_same_through_both_drivers():
    r = _same("platform", _inject("status", status=429, after=2, retry_after=30))
    assert r["sent"] == 100 and r["stopped"] == "retry"


def test_a_connection_reset_mid_body_reports_the_same_through_both_drivers():
    r = _same("platform", _inject("reset_mid_body", after=1), racy=("requests", "bytes_sent"))
    assert r["sent"] == 50 and r["stopped"] == "retry"


def test_a_dropped_connection_mid_sync_reports_the_same_through_both_drivers():
    r = _same("device", _inject("drop", after=3))
    assert r["sent"] == 150 and r["stopped"] == "retry"


def test_an_expired_token_mid_sync_reports_the_same_through_both_drivers():
    r = _same("platform", _inject("status", status=401, after=2))
    assert r["sent"] == 300 and r["stopped"] == "done"


def test_a_refused_renewal_mid_sync_reports_the_same_through_both_drivers():
    r = _same("platform", _inject("status", status=401, count=2, after=2))
    assert r["sent"] == 100 and r["stopped"] == "auth"


def test_a_bad_point_mid_sync_reports_the_same_through_both_drivers():
    r = _same("device", _inject("status", status=400, after=1, body={"error": {"message": "Bad point."}}))
    assert r["sent"] == 300 and r["rejected"] == 0


def test_the_servers_daily_limit_mid_sync_reports_the_same_through_both_drivers():
    r = _same("device", lambda: emu.config(points_per_day=120))
    assert r["sent"] == 100 and r["stopped"] == "quota"


def test_the_configured_daily_quota_reports_the_same_through_both_drivers():
    r = _same("device", lambda: None, limits={"points_per_day": 130})
    assert r["sent"] == 130 and r["stopped"] == "quota"


def test_a_zero_budget_reports_the_same_through_both_drivers():
    r = _same("device", lambda: None, budget=0)
    assert r["sent"] == 0 and r["stopped"] == "budget"


def test_a_budget_spent_mid_sync_stops_both_drivers_after_the_same_batches():
    # two answers 1.2 s late against a 2 s budget: the budget is spent after the second batch
    # (0.8 s of margin on either side: the timeout is the budget, and one late answer is not it)
    r = _same("device", _inject("slow", count=2, delay_s=1.2), budget=2000)
    assert r["sent"] == 100 and r["stopped"] == "budget" and r["batches"] == 2, r


def test_a_token_endpoint_429_reports_the_same_through_both_drivers():
    r = _same("platform", _inject("status", status=429, target="token", retry_after=7))
    assert r["sent"] == 0 and r["stopped"] == "retry"


def test_a_stream_the_server_refuses_point_by_point_is_parked_alike_by_both_drivers():
    # an int datastream: 0.0 goes (as "0"), 0.25 and 0.5 are set aside, 0.75 parks the stream
    r = _same("platform", lambda: emu.add_stream(1, 1, "V1", type="int"))
    assert r["parked"] == ["temperature"] and r["rejected"] == 2 and r["sent"] == 1 + 100, r


def test_stale_samples_are_dropped_alike_by_both_drivers():
    r = _same("device", lambda: None, limits={"max_age_days": 1}, stale=7)
    assert r["dropped_stale"] == 7 and r["sent"] == 300, r


def _refused(use_async):
    # a server that refuses the connection (nothing listens on port 9, discard, on loopback)
    log = Logger(device_config(server="https://127.0.0.1:9"))
    log.add("temperature", 1.5, ts=_backlog_start())
    report = asyncio.run(log.sync_async()) if use_async else log.sync()
    stats = log.stats()
    log.close()
    return report, stats


def test_a_refused_connection_is_reported_in_the_same_words_by_both_drivers():
    # CPython's ConnectionRefusedError says it one way from a socket, another from asyncio (and
    # MicroPython's OSError by its errno): the report names the errno, the same everywhere
    a, sa = _refused(False)
    b, sb = _refused(True)
    assert a["last_error"] == b["last_error"] == "retry later: network: ECONNREFUSED", (
        a["last_error"],
        b["last_error"],
    )
    assert sa["last_error"] == sb["last_error"]
    assert a["stopped"] == b["stopped"] == "retry" and a["pending"] == b["pending"] == 1


def _timed_out(use_async):
    # an answer that comes after upload.timeout_ms
    emu.require()
    emu.reset()
    emu.inject("slow", delay_s=1.5)
    log = Logger(device_config(upload={"timeout_ms": 500}))
    log.add("temperature", 1.5, ts=_backlog_start())
    report = asyncio.run(log.sync_async()) if use_async else log.sync()
    log.close()
    return report


def test_a_read_that_times_out_is_reported_in_the_same_words_by_both_drivers():
    # CPython's blocking socket says "timed out" (TimeoutError, no errno), asyncio's wait_for and
    # MicroPython ETIMEDOUT: the report names the errno, the same everywhere
    a = _timed_out(False)
    b = _timed_out(True)
    assert a["last_error"] == b["last_error"] == "retry later: network: ETIMEDOUT", (a["last_error"], b["last_error"])
    assert a["stopped"] == b["stopped"] == "retry" and a["pending"] == b["pending"] == 1
