# Hostile answers (tools/hostile_server.py on loopback): whatever a broken server or middlebox
# says, sync() returns within its budget plus the timeouts, reports the failure, leaves no socket
# open, and keeps every pending sample (they all go up once the server behaves again).
# Portable: the same tests run on CPython and the unix port; the 100-round heap check is unix-only.
import gc
import os
import time

import blynklog
import hostile
from fuzzlib import Rng
from blynklog.compat import ticks_diff, ticks_ms, unix_ms
from support import IS_MICROPYTHON, skip, tmpdir

_N = 12
_TIMEOUT_MS = 1000
# A hang check, not a speed check: a connection that is never cut lasts 30 s on the server side.
_SLACK_MS = 4000
_tag = []


def _name():
    if not _tag:
        _tag.append(0)
        _tag.append(int.from_bytes(os.urandom(3), "little"))
    _tag[0] += 1
    return "f%dx%d" % (_tag[1], _tag[0])


def _logger(name, api="device", tls=False, timeout_ms=_TIMEOUT_MS, n=_N):
    d = tmpdir("hs")
    cfg = {
        "api": api,
        "streams": {"t": {"pin": "V1", "id": 1}},
        "store": {"path": d + "/store"},
        "upload": {"timeout_ms": timeout_ms, "retry_base_s": 0, "retry_max_s": 0},
    }
    if api == "device":
        cfg["token"] = name
    else:
        cfg.update({"client_id": name, "client_secret": "s", "device_id": 1})
    if tls:
        cfg.update({"server": hostile.tls_url(), "ca": hostile.ca_path()})
    else:
        cfg["server"] = hostile.url()
    log = blynklog.Logger(cfg)
    base = unix_ms() - 600000
    pts = []
    for i in range(n):
        pts.append((base + i * 1000, i + 0.5))
        log.add("t", i + 0.5, ts=base + i * 1000)
    log.flush()
    return log, pts


def _timed_sync(log, budget_ms=None):
    t0 = ticks_ms()
    report = log.sync(budget_ms)
    return report, ticks_diff(ticks_ms(), t0)


def _wait_retry_after(log):
    # A Retry-After the server gave (bad-json-429: 1 s) holds the next sync off, whatever
    # retry_max_s says (0 here: no back-off of our own): wait it out before the next sync.
    wait = log.stats()["next_retry_ms"]
    assert wait <= 1000, wait
    if wait:
        time.sleep(wait / 1000 + 0.05)


def _check_hostile(behaviour, api="device", tls=False, timeout_ms=_TIMEOUT_MS, budget_ms=None, acked_ok=False):
    # One case: the logger meets `behaviour`, then a well-behaved server. acked_ok: the behaviour
    # answers a success status (a middlebox's 200 is an acknowledgement), so samples may count as sent.
    hostile.require(tls)
    name = _name()
    hostile.set(name, behaviour)
    fds0 = hostile.open_fds()
    log, pts = _logger(name, api, tls, timeout_ms)
    fds1 = hostile.open_fds()
    report, elapsed = _timed_sync(log, budget_ms)
    bound = (budget_ms or 0) + timeout_ms * 2 + _SLACK_MS
    assert elapsed < bound, "sync took %d ms (bound %d)" % (elapsed, bound)
    assert hostile.open_fds() == fds1, "a socket was left open"
    assert report["sent"] + report["pending"] == len(pts)
    if not acked_ok:
        assert report["sent"] == 0 and report["pending"] == len(pts)
        assert report["stopped"] not in (None, "done")
        assert report["last_error"]
    # the server behaves again: every sample still pending goes up
    _wait_retry_after(log)
    hostile.set(name, "ok")
    report2, _ = _timed_sync(log)
    assert report2["pending"] == 0, report2
    got = hostile.points(name)
    if not acked_ok:
        assert got == pts, (got, pts)
    log.close()
    assert hostile.open_fds() == fds0, "a file or socket was left open after close()"
    return report


def test_a_garbage_status_line_is_a_reported_failure():
    _check_hostile("garbage-status")


def test_random_bytes_as_the_answer_are_a_reported_failure():
    for seed in range(6):
        _check_hostile("random-%d" % seed)


def test_a_blank_answer_is_a_reported_failure():
    _check_hostile("no-status")


def test_a_connection_closed_without_answer_is_a_reported_failure():
    _check_hostile("close")


def test_a_connection_reset_at_once_is_a_reported_failure():
    _check_hostile("reset")


def test_headers_without_end_are_cut_off():
    _check_hostile("header-flood")


def test_a_header_line_without_end_is_cut_off():
    _check_hostile("long-header")


def test_an_enormous_content_length_is_not_waited_for():
    _check_hostile("huge-length")


def test_a_content_length_longer_than_the_body_is_a_reported_failure():
    _check_hostile("length-lie")


def test_a_negative_content_length_is_a_reported_failure():
    _check_hostile("neg-length")


def test_a_reset_in_the_middle_of_the_body_is_a_reported_failure():
    _check_hostile("reset-mid-body")


def test_a_chunk_longer_than_its_data_is_a_reported_failure():
    _check_hostile("chunk-lie")


def test_negative_chunk_sizes_do_not_loop_forever():
    _check_hostile("chunk-negative")


def test_a_chunk_size_that_is_not_hex_is_a_reported_failure():
    _check_hostile("chunk-garbage")


def test_endless_chunks_are_cut_off():
    _check_hostile("chunk-endless", acked_ok=True)


def test_a_slow_drip_answer_ends_within_the_timeout():
    # one byte a second: every read succeeds, only a deadline for the whole answer ends it
    _check_hostile("drip", timeout_ms=1500)


def test_an_answer_whose_bytes_come_just_within_each_reads_wait_is_cut_at_its_deadline():
    # a byte every 1.9 s with a 2 s timeout: each read would get its byte in time, and a read's
    # full wait past the deadline made the answer last 3.8 s before it was cut (2 s from now on)
    hostile.require(False)
    name = _name()
    hostile.set(name, "drip-1.9")
    log, pts = _logger(name, timeout_ms=2000, n=2)
    report, elapsed = _timed_sync(log)
    log.close()
    assert report["sent"] == 0 and "ETIMEDOUT" in report["last_error"], report
    assert elapsed < 3000, elapsed  # (the deadline, plus a second for a busy machine)


def test_a_slow_drip_answer_ends_within_the_budget_plus_timeout():
    _check_hostile("drip-0.2", timeout_ms=1000, budget_ms=500)


def test_an_invalid_json_400_body_keeps_every_sample():
    _check_hostile("bad-json-400")


def test_an_invalid_json_404_body_is_a_reported_failure():
    _check_hostile("bad-json-404")


def test_an_invalid_json_500_body_is_a_reported_failure():
    _check_hostile("bad-json-500")


def test_an_invalid_json_401_body_is_a_reported_failure():
    _check_hostile("bad-json-401")


def test_an_invalid_json_429_body_is_a_reported_failure():
    _check_hostile("bad-json-429")


def test_json_of_the_wrong_shape_in_a_400_keeps_every_sample():
    _check_hostile("odd-json-400")


def test_a_redirect_to_itself_ends():
    _check_hostile("redirect-self")


def test_a_redirect_to_garbage_is_a_reported_failure():
    _check_hostile("redirect-garbage")


def test_a_garbage_retry_after_is_a_reported_failure():
    _check_hostile("retry-garbage")


def test_endless_100_continue_answers_end():
    _check_hostile("continue-flood")


def test_an_http10_answer_without_length_is_read_to_its_close():
    _check_hostile("http10", acked_ok=True)


def test_an_oauth_token_answer_that_is_not_json_is_a_reported_failure():
    _check_hostile("token-bad-json", api="platform")


def test_an_oauth_token_answer_of_the_wrong_types_is_a_reported_failure():
    _check_hostile("token-odd", api="platform")


def test_an_invalid_json_500_on_the_platform_api_is_a_reported_failure():
    _check_hostile("bad-json-500", api="platform")


def test_garbage_over_tls_is_a_reported_failure():
    _check_hostile("garbage-status", tls=True)


def test_a_slow_drip_over_tls_ends_within_the_timeout():
    _check_hostile("drip-0.3", tls=True, timeout_ms=1000)


def test_a_reset_mid_body_over_tls_is_a_reported_failure():
    _check_hostile("reset-mid-body", tls=True)


def test_seeded_random_behaviours_in_a_row_lose_nothing():
    # One logger meets a seeded random sequence of hostile answers, then a good server.
    hostile.require()
    rnd = Rng(9)
    kinds = (
        "garbage-status",
        "no-status",
        "close",
        "reset",
        "neg-length",
        "chunk-garbage",
        "bad-json-500",
        "bad-json-429",
        "redirect-garbage",
        "retry-garbage",
        "random-3",
        "random-4",
        "length-lie",
    )
    name = _name()
    log, pts = _logger(name)
    for i in range(12):
        k = rnd.choice(kinds)
        hostile.set(name, k)
        _wait_retry_after(log)
        report, elapsed = _timed_sync(log)
        assert elapsed < _TIMEOUT_MS * 2 + _SLACK_MS, (k, elapsed)
        assert report["sent"] == 0 and report["pending"] == len(pts), (k, report)
    hostile.set(name, "ok")
    _wait_retry_after(log)
    assert _timed_sync(log)[0]["pending"] == 0
    assert hostile.points(name) == pts
    log.close()


def test_heap_stays_flat_across_100_hostile_rounds():
    # unix port: gc.mem_alloc() after gc.collect(), before and after 100 failing sync() rounds.
    # Slack: 2 KB. The state keeps the last error text (its length varies with the failure), the
    # report of the last round is alive, and the first rounds of a behaviour intern a few strings.
    if not IS_MICROPYTHON:
        skip("gc.mem_alloc is MicroPython's; CPython counts file descriptors instead")
    hostile.require()
    kinds = ("garbage-status", "bad-json-500", "close", "neg-length", "chunk-garbage")
    name = _name()
    log, pts = _logger(name)
    for k in kinds * 2:  # warm up: first-use allocations (imports, the connection class, strings)
        hostile.set(name, k)
        log.sync()
    gc.collect()
    before = gc.mem_alloc()
    for i in range(100):
        hostile.set(name, kinds[i % len(kinds)])
        report = log.sync()
        assert report["pending"] == len(pts)
    report = None
    gc.collect()
    after = gc.mem_alloc()
    assert after - before < 2048, "heap grew by %d bytes over 100 rounds" % (after - before)
    hostile.set(name, "ok")
    assert log.sync()["pending"] == 0
    log.close()


def _transport_fault(behaviour, timeout_ms):
    from blynklog.http import Connection

    hostile.require()
    conn = Connection(hostile.url(), timeout_ms=timeout_ms)
    t0 = ticks_ms()
    err = None
    try:
        conn.request("POST", "/b/%s/x" % behaviour, {"Content-Type": "application/json"}, b"[]")
    except (OSError, ValueError) as e:
        err = e
    finally:
        conn.close()
    return err, ticks_diff(ticks_ms(), t0)


def test_the_transport_cuts_a_drip_off_after_its_timeout():
    # found by the hostile server: each dripped byte kept the read alive, so sync() hung for as
    # long as the server went on (30 s here, forever in the field)
    err, elapsed = _transport_fault("drip-0.2", 600)
    assert isinstance(err, OSError)
    assert elapsed < 600 * 2 + _SLACK_MS, elapsed


def test_the_transport_refuses_a_negative_chunk_size():
    # found by the hostile server: "-10" chunk sizes were summed into a falling total, endlessly
    err, elapsed = _transport_fault("chunk-negative", 1000)
    assert isinstance(err, ValueError) and "chunk" in str(err)


def _lone_point_answer(behaviour):
    from blynklog.blynk import DeviceClient
    from blynklog.http import Connection

    hostile.require()
    name = _name()
    hostile.set(name, behaviour)
    client = DeviceClient(Connection(hostile.url(), timeout_ms=_TIMEOUT_MS), name)
    ts = unix_ms() - 1000

    def points():
        return iter([(ts, 1.5)])

    try:
        return client.upload({"pin": "V1", "type": "double", "decimals": None}, points, 1)
    finally:
        client.conn.close()


def test_a_lone_point_refused_with_an_invalid_json_400_is_retried_not_rejected():
    # found by the hostile server: bisection got down to single points and set every one aside as
    # rejected, so a middlebox answering 400 emptied the whole backlog
    from blynklog.blynk import RETRY

    assert _lone_point_answer("bad-json-400").kind == RETRY


def test_a_lone_point_refused_with_a_400_of_the_wrong_json_shape_is_retried():
    from blynklog.blynk import RETRY

    assert _lone_point_answer("odd-json-400").kind == RETRY
