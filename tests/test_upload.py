# The upload policy, end to end against the local Blynk emulator: what sync() sends, commits,
# drops, retries and reports. Runs on CPython and the unix port (the device side is the same code).
import emu
from blynklog import Logger
from logger_support import DAY_MS, device_config, fill, fresh, now_ms, platform_config, received, shift_device_clock
from rawpoints import raw_points


def test_sync_uploads_every_sample_with_its_timestamp_and_value():
    fresh()
    log = Logger(device_config())
    t0 = fill(log, "temperature", 25, value=lambda i: 20 + i * 0.01)
    r = log.sync()
    assert r["sent"] == 25 and r["pending"] == 0 and r["stopped"] == "done"
    got = received(1)
    assert [p[0] for p in got] == [t0 + i * 1000 for i in range(25)]
    assert [round(p[1], 2) for p in got] == [round(20 + i * 0.01, 2) for i in range(25)]
    log.close()


def test_a_second_sync_sends_nothing_again():
    fresh()
    log = Logger(device_config())
    fill(log, "temperature", 10)
    log.sync()
    r = log.sync()
    assert r["sent"] == 0 and r["requests"] == 0
    assert len(received(1)) == 10
    log.close()


def test_committed_samples_are_not_resent_after_a_reopen():
    fresh()
    cfg = device_config()
    log = Logger(cfg)
    fill(log, "temperature", 10)
    log.sync()
    log.close()
    log = Logger(cfg)
    assert log.sync()["sent"] == 0
    assert len(received(1)) == 10
    log.close()


def test_a_second_logger_on_the_same_store_ends_the_first_and_nothing_is_lost_or_sent_twice():
    # a sketch that makes its Logger again without closing the last one: the first one ends (as
    # a power cut would end it) and refuses from then on. Both writing to the store, the first
    # one's flush lost the second one's samples and the rest went twice.
    fresh()
    cfg = device_config()
    first = Logger(cfg)
    t0 = fill(first, "temperature", 10)
    first.flush()
    second = Logger(cfg)
    for i in range(10, 20):
        second.add("temperature", i * 0.25, ts=t0 + i * 1000)
    second.flush()
    for call in (lambda: first.add("temperature", 5.0, ts=t0 + 20000), first.flush, first.sync):
        try:
            call()
        except ValueError as e:
            assert "another Logger opened" in str(e), e
        else:
            raise AssertionError("the first Logger still took a call")
    first.close()  # writes nothing
    r = second.sync()
    assert r["sent"] == 20 and r["pending"] == 0, r
    assert [p[0] for p in received(1)] == [t0 + i * 1000 for i in range(20)]
    second.close()


def test_a_second_logger_on_the_same_store_spelt_another_way_takes_it_over_too():
    # "bl" from the working folder and "<folder>/bl/" are one store: the first Logger was not
    # taken over, and both wrote to it
    import os

    from support import raises, tmpdir

    fresh()
    folder = tmpdir("spelt")
    here = os.getcwd()
    os.chdir(folder)
    try:
        first = Logger(device_config(store={"path": "bl"}))
        second = Logger(device_config(store={"path": folder + "/./bl/"}))
        raises(ValueError, first.add, "temperature", 1.0)
        second.close()
        first.close()
    finally:
        os.chdir(here)


def test_a_second_logger_on_the_same_store_through_a_parent_folder_takes_it_over_too():
    # "data" and "cfg/../data" (a config file's folder, then up) are one store: the first Logger
    # was not taken over, and its close() undid the 10 samples the second one had flushed
    import os

    from support import raises, tmpdir

    fresh()
    folder = tmpdir("up")
    os.mkdir(folder + "/cfg")
    here = os.getcwd()
    os.chdir(folder)
    try:
        first = Logger(device_config(store={"path": "data"}))
        second = Logger(device_config(store={"path": "cfg/../data"}))
        raises(ValueError, first.add, "temperature", 1.0)
        second.close()
        first.close()
    finally:
        os.chdir(here)


def test_relative_paths_are_taken_when_the_logger_is_made_and_a_later_chdir_moves_nothing():
    # a sketch that changes the current folder after Logger(): the store and the CA stay the ones
    # named then. They were looked up again at each use: the sync read no CA ("ENOENT"), or found
    # no store and reported "done" with the samples left behind, or stats() raised.
    import json
    import os

    from support import tmpdir

    fresh()
    a, b = tmpdir("cwda"), tmpdir("cwdb")
    here = os.getcwd()
    try:
        os.chdir(a)
        with open("ca.der", "wb") as f:
            f.write(emu.read_file(emu.ca_path()))
        rel = device_config(store={"path": "bl"})
        rel["ca"] = "ca.der"
        with open("c.json", "w") as f:
            f.write(json.dumps(rel))
        t0 = now_ms() - 60000
        for k, make in enumerate((lambda: Logger(rel), lambda: Logger("c.json"), lambda: Logger("c.json"))):
            os.chdir(a)
            log = make()
            log.add("temperature", 1.0, ts=t0 + k)
            log.flush()
            os.chdir(b)
            assert log.stats()["pending"] == 1, k
            r = log.sync()
            assert r["sent"] == 1 and r["pending"] == 0, (k, r)
            log.close()
            assert os.listdir(b) == [], (k, os.listdir(b))
        # the file's validated configuration was kept for the next Logger (it was not, while its
        # cache's path stayed relative and the store's was absolute)
        assert "config.cache" in os.listdir(a + "/bl")
    finally:
        os.chdir(here)
    assert [p[0] for p in received(1)] == [t0, t0 + 1, t0 + 2]


def test_many_batches_on_three_streams_share_one_handshake():
    fresh()
    log = Logger(device_config(limits={"points_per_request": 10}))
    for name in ("temperature", "humidity", "pressure"):
        fill(log, name, 30)
    r = log.sync()
    assert r["sent"] == 90 and r["batches"] == 9
    assert r["handshakes"] == 1
    assert emu.stats()["handshakes"] == 1
    log.close()


def test_no_request_when_nothing_is_pending():
    fresh()
    log = Logger(device_config())
    r = log.sync()
    assert r["requests"] == 0 and emu.stats()["requests"] == 0
    log.close()


def test_daily_quota_stops_the_sync_and_keeps_the_rest():
    fresh()
    log = Logger(device_config(limits={"points_per_day": 50, "points_per_request": 20}))
    fill(log, "temperature", 80)
    r = log.sync()
    assert r["sent"] == 50 and r["pending"] == 30
    assert r["stopped"] == "quota" and r["quota_left"] == 0
    assert len(received(1)) == 50
    log.close()


def test_daily_quota_is_shared_by_streams_and_survives_a_reopen():
    fresh()
    cfg = device_config(limits={"points_per_day": 40})
    log = Logger(cfg)
    fill(log, "temperature", 30)
    log.sync()
    log.close()
    log = Logger(cfg)
    fill(log, "humidity", 30)
    r = log.sync()
    assert r["sent"] == 10 and r["quota_left"] == 0
    log.close()


def test_stale_samples_are_dropped_and_counted():
    fresh()
    log = Logger(device_config(limits={"max_age_days": 2}))
    fill(log, "temperature", 5, start=now_ms() - 3 * DAY_MS)
    fill(log, "temperature", 5)
    r = log.sync()
    assert r["sent"] == 5 and r["dropped_stale"] == 5 and r["pending"] == 0
    assert log.stats()["dropped_stale"] == 5
    assert len(received(1)) == 5
    log.close()


def test_samples_too_far_in_the_future_wait():
    fresh()
    log = Logger(device_config())
    fill(log, "temperature", 3)
    log.add("temperature", 1.0, ts=now_ms() + 3600000)
    r = log.sync()
    assert r["sent"] == 3 and r["pending"] == 1
    log.close()


def test_a_stream_that_waits_for_a_future_sample_says_why_in_the_report():
    fresh()
    log = Logger(device_config())
    log.add("temperature", 1.0, ts=now_ms() + 3600000)
    r = log.sync()
    assert r["stopped"] == "done" and r["pending"] == 1
    assert "ahead of the clock" in r["waiting"]["temperature"]
    assert r["last_error"].startswith("stream temperature waits: its next sample is 3")
    log.close()


def test_clock_stamped_samples_of_one_stream_in_one_millisecond_all_arrive_a_ms_apart():
    fresh()
    log = Logger(device_config())
    for i in range(50):  # faster than one a ms on a desktop
        log.add("temperature", float(i))
    r = log.sync()
    got = received(1)
    assert r["sent"] == 50 and len(set(p[0] for p in got)) == 50
    log.close()


def test_a_clock_stamped_sample_after_an_explicit_one_ahead_keeps_the_clocks_time():
    fresh()
    log = Logger(device_config())
    log.add("temperature", 1.0, ts=now_ms() + 500)
    log.add("temperature", 2.0)
    after = now_ms()
    log.sync()
    stamps = sorted(p[0] for p in received(1))
    # the clock's stamp, not one pushed past the explicit stamp 500 ms ahead (a clock stamp follows
    # the ticks since the port clock's last reading: within a ms of it either way)
    assert len(stamps) == 2 and stamps[0] <= after + 1
    log.close()


def test_a_duplicate_timestamp_keeps_the_first_sample_and_counts_the_other():
    fresh()
    log = Logger(device_config())
    t = now_ms() - 10000
    log.add("temperature", 1.0, ts=t)
    log.add("temperature", 2.0, ts=t)
    log.add("temperature", 3.0, ts=t + 1)
    r = log.sync()
    assert r["sent"] == 2 and r["rejected"] == 1
    assert received(1) == [(t, 1.0), (t + 1, 3.0)]
    log.close()


def test_a_poison_point_is_found_by_halving_the_refused_span_alone():
    # the halves that went are not sent again: after an accepted half the batch grew back eight-
    # fold over the refused point, and was refused again at every level (30 requests, 21 refused,
    # for one point in 1,000; each costs a message of the plan's quota)
    fresh(max_age_days=1)
    log = Logger(device_config())
    t0 = fill(log, "temperature", 700)
    bad = now_ms() - 2 * DAY_MS
    log.add("temperature", 99.0, ts=bad)
    fill(log, "temperature", 299, start=t0 + 700000)
    r = log.sync()
    log.close()
    statuses = [q["status"] for q in emu.requests() if "/batch/" in q["path"]]
    assert r["rejected"] == 1 and r["sent"] == 999 and r["pending"] == 0, r
    assert statuses.count(400) <= 11 and len(statuses) <= 20, statuses  # 1 + log2(1,000) refused at most


def test_a_poison_point_is_isolated_and_the_rest_goes_through():
    # the emulator refuses points older than a day; the device allows 30: one bad point in 40
    fresh(max_age_days=1)
    log = Logger(device_config())
    t0 = fill(log, "temperature", 40)
    log.add("humidity", 5.0, ts=now_ms() - 1000)
    # a point the server refuses, in the middle of the queue
    log2_ts = now_ms() - 2 * DAY_MS
    log.add("temperature", 99.0, ts=log2_ts)
    fill(log, "temperature", 10, start=t0 + 100000)
    r = log.sync()
    assert r["rejected"] == 1 and r["sent"] == 51 and r["pending"] == 0
    assert log2_ts not in [p[0] for p in received(1)]
    st = log.stats()
    assert st["rejected"] == 1 and st["rejects"][-1][1] == "temperature"
    log.close()


def test_a_run_of_refused_points_costs_one_request_each_after_the_first():
    # the emulator keeps a day, the device allows 30: 60 old points, then 60 that go. The first
    # refusal is found by bisection (7 requests, from a batch of 100); each one after it is tried alone
    fresh(max_age_days=1)
    log = Logger(device_config(limits={"points_per_request": 100}))
    fill(log, "temperature", 60, start=now_ms() - 3 * DAY_MS)
    fill(log, "temperature", 60)
    r = log.sync()
    assert r["rejected"] == 60 and r["sent"] == 60 and r["pending"] == 0
    uploads = [q for q in emu.requests() if "batch" in q["path"]]
    # 7 to isolate the first, 59 alone, then 1, 8, 51 points as the batches grow back
    assert len(uploads) == 7 + 59 + 3, len(uploads)
    log.close()


def test_a_server_error_backs_off_and_keeps_everything():
    fresh()
    log = Logger(device_config())
    fill(log, "temperature", 10)
    emu.inject("status", status=503)
    r = log.sync()
    assert r["stopped"] == "retry" and r["sent"] == 0 and r["pending"] == 10
    assert "503" in r["last_error"] or "retry" in r["last_error"]
    log.close()


def test_a_back_off_is_respected_by_the_next_sync_without_a_request():
    fresh()
    log = Logger(device_config(upload={"retry_base_s": 60}))
    fill(log, "temperature", 10)
    emu.inject("status", status=500)
    for _ in range(5):  # full jitter may draw 0: fail until a real wait is drawn
        r = log.sync()
        if r["next_retry_ms"] > 0:
            break
        emu.inject("status", status=500)
    before = emu.stats()["requests"]
    r = log.sync()
    assert r["stopped"] == "backoff" and emu.stats()["requests"] == before
    assert r["pending"] == 10
    log.close()


def test_a_sync_held_off_by_the_back_off_names_the_failure_it_waits_out():
    # it said only "backing off after an earlier failure": the cause was gone after one sync
    fresh()
    log = Logger(device_config())
    fill(log, "temperature", 5)
    emu.inject("status", status=429, retry_after=120)
    first = log.sync()["last_error"]
    held = [log.sync() for _ in range(2)]
    log.close()
    assert first.startswith("retry later:"), first
    assert [r["stopped"] for r in held] == ["backoff", "backoff"], held
    assert [r["last_error"] for r in held] == ["backing off after an earlier failure (%s)" % first] * 2, held


def test_429_retry_after_is_a_floor_for_the_back_off():
    fresh()
    log = Logger(device_config())
    fill(log, "temperature", 5)
    emu.inject("status", status=429, retry_after=120)
    r = log.sync()
    assert r["stopped"] == "retry" and r["next_retry_ms"] >= 120000
    assert log.stats()["next_retry_ms"] > 100000
    log.close()


def test_429_retry_after_is_a_floor_with_a_short_retry_max_s_too():
    # retry_max_s caps our own back-off, not the server's "not before"
    fresh()
    log = Logger(device_config(upload={"retry_max_s": 2}))
    fill(log, "temperature", 5)
    emu.inject("status", status=429, retry_after=120)
    r = log.sync()
    assert r["stopped"] == "retry" and r["next_retry_ms"] >= 120000, r["next_retry_ms"]
    assert log.stats()["next_retry_ms"] > 100000
    before = len(emu.requests())
    r = log.sync()
    assert r["stopped"] == "backoff" and len(emu.requests()) == before
    log.close()


def test_a_400_about_the_request_not_its_points_is_retried_later_and_sets_nothing_aside():
    # the Device API's "Unknown content type." to every request: the batch was halved down to a
    # lone point, two good points set aside and the stream parked, at every park_s
    fresh()
    log = Logger(device_config(limits={"points_per_request": 10}))
    fill(log, "temperature", 20)
    emu.inject("status", count=20, status=400, body={"error": {"message": "Unknown content type."}})
    n = len(emu.requests())
    r = log.sync()
    log.close()
    assert r["stopped"] == "retry" and "Unknown content type." in r["last_error"], r
    assert r["rejected"] == 0 and r["pending"] == 20 and r["parked"] == [], r
    assert len(emu.requests()) - n == 1  # no halving


def test_a_dropped_connection_loses_nothing():
    fresh()
    log = Logger(device_config())
    fill(log, "temperature", 10)
    emu.inject("drop")
    r = log.sync()
    assert r["sent"] == 0 and r["pending"] == 10 and r["stopped"] == "retry"
    log.close()


def test_an_unknown_datastream_parks_only_that_stream():
    fresh()
    log = Logger(platform_config(streams={"a": {"id": 1}, "ghost": {"id": 99}, "c": {"id": 3}}))
    for name in ("a", "ghost", "c"):
        fill(log, name, 5)
    r = log.sync()
    assert r["sent"] == 10 and r["pending"] == 5
    assert r["parked"] == ["ghost"]
    assert len(received(1)) == 5 and len(received(3)) == 5
    r = log.sync()  # parked: not retried before park_s
    assert r["requests"] == 0
    log.close()


def test_an_unknown_device_stops_the_sync_and_says_so():
    fresh()
    log = Logger(platform_config(device_id=99))
    fill(log, "temperature", 5)
    r = log.sync()
    assert r["stopped"] == "device" and r["pending"] == 5
    assert "device" in r["last_error"].lower()
    log.close()


def test_a_wrong_device_token_is_an_auth_failure():
    fresh()
    log = Logger(device_config(token="not-a-token"))
    fill(log, "temperature", 5)
    r = log.sync()
    assert r["stopped"] == "auth" and r["pending"] == 5
    assert "not-a-token" not in r["last_error"]
    log.close()


def test_a_wrong_client_secret_is_an_auth_failure():
    fresh()
    log = Logger(platform_config(client_secret="wrong"))
    fill(log, "temperature", 5)
    r = log.sync()
    assert r["stopped"] == "auth" and r["pending"] == 5
    assert "wrong" not in r["last_error"]
    log.close()


def test_the_platform_api_uploads_with_an_oauth_token():
    fresh()
    log = Logger(platform_config())
    t0 = fill(log, "humidity", 12)
    r = log.sync()
    assert r["sent"] == 12
    assert [p[0] for p in received(2)] == [t0 + i * 1000 for i in range(12)]
    log.close()


def test_a_platform_token_that_lives_thirty_days_is_used_and_the_upload_goes():
    # expires_in is the server's to choose (spec: always honour it); 30 days in ms is beyond the
    # interval a 32-bit port's ticks_add takes (2**29 ms)
    fresh(token_lifetime_s=30 * 86400)
    log = Logger(platform_config())
    fill(log, "temperature", 5)
    r = log.sync()
    assert r["stopped"] == "done" and r["sent"] == 5 and r["pending"] == 0, r
    assert len(received(1)) == 5
    r = log.sync()  # the token kept from the first sync: no new one
    assert len([q for q in emu.requests() if q["path"] == "/oauth2/token"]) == 1
    log.close()


def test_a_damaged_token_entry_in_the_state_file_is_replaced_by_a_new_token():
    # a state file whose token entry has a deadline of the wrong type (a damaged file): the token
    # is fetched afresh, not the sync stopped at every wake
    import json

    fresh()
    cfg = platform_config()
    log = Logger(cfg)
    fill(log, "temperature", 3)
    assert log.sync()["sent"] == 3
    log.close()
    path = cfg["store"]["path"] + "/state.json"
    with open(path) as f:
        state = json.load(f)
    state["token"]["renew_at_ms"] = "soon"
    with open(path, "w") as f:
        json.dump(state, f)
    log = Logger(cfg)
    fill(log, "temperature", 2)
    r = log.sync()
    assert r["stopped"] == "done" and r["sent"] == 2, r
    log.close()


def test_a_zero_budget_sends_nothing_and_the_next_sync_goes_on():
    fresh()
    log = Logger(device_config(limits={"points_per_request": 5}))
    fill(log, "temperature", 20)
    r = log.sync(budget_ms=0)
    assert r["stopped"] == "budget" and r["sent"] == 0
    r = log.sync()
    assert r["sent"] == 20
    log.close()


def test_a_redirect_moves_the_device_and_is_remembered():
    fresh()
    cfg = device_config()
    log = Logger(cfg)
    fill(log, "temperature", 5)
    # the same emulator under its other name stands in for the right region (https stays https:
    # a redirect to plain http is refused, see test_upload_seams.py)
    other = "https://localhost:" + emu.url().rsplit(":", 1)[1]
    emu.inject("redirect", location=other)
    r = log.sync()
    assert r["sent"] == 5 and r["server"] == other
    log.close()
    log = Logger(cfg)
    assert log.stats()["server"] == other
    log.close()


def test_a_temporary_redirect_is_followed_but_not_remembered():
    # a 302 or 307 (a proxy's, a load balancer's) answers that sync: the later ones ask the
    # configured server again
    from blynklog import http

    other = "https://localhost:" + emu.url().rsplit(":", 1)[1]
    real = http.Connection

    class Redirected(real):
        statuses = [302, 307]  # the first request of each sync below

        def request_gen(self, method, path, headers=None, body=None, keep=None):
            if self.url != other and self.statuses:
                return http.Response(self.statuses.pop(0), "Found", {"location": other + path}, b"")
            return (yield from real.request_gen(self, method, path, headers, body, keep))

    fresh()
    cfg = device_config()
    log = Logger(cfg)
    http.Connection = Redirected
    try:
        for start in (now_ms() - 60000, now_ms() - 30000):
            fill(log, "temperature", 5, start=start)
            r = log.sync()
            assert r["sent"] == 5 and r["server"] == cfg["server"], r
    finally:
        http.Connection = real
    assert Redirected.statuses == []  # each sync asked the configured server first
    log.close()
    log = Logger(cfg)
    assert log.stats()["server"] == cfg["server"]
    log.close()


def test_spread_thins_evenly_when_the_backlog_cannot_all_go_before_it_is_stale():
    fresh()
    log = Logger(
        device_config(
            limits={"points_per_day": 10, "max_age_days": 1, "stale_margin_s": 0}, upload={"backlog_policy": "spread"}
        )
    )
    t0 = fill(log, "temperature", 100, start=now_ms() - 20 * 3600000, step=600000)
    r = log.sync()
    assert r["sent"] == 10 and r["thinned"] == 90 and r["pending"] == 0
    sent_ts = [p[0] for p in received(1)]
    assert len(sent_ts) == 10
    # evenly spread over the backlog: the gaps are all about a tenth of it
    gaps = [(b - a) // 600000 for a, b in zip(sent_ts, sent_ts[1:])]
    assert min(gaps) >= 9 and max(gaps) <= 11, gaps
    assert sent_ts[0] >= t0
    log.close()


def test_newest_first_skips_the_oldest_excess():
    fresh()
    log = Logger(
        device_config(
            limits={"points_per_day": 10, "max_age_days": 1, "stale_margin_s": 0},
            upload={"backlog_policy": "newest_first"},
        )
    )
    t0 = fill(log, "temperature", 100, start=now_ms() - 20 * 3600000, step=600000)
    r = log.sync()
    assert r["sent"] == 10 and r["thinned"] == 90 and r["pending"] == 0
    assert [p[0] for p in received(1)] == [t0 + i * 600000 for i in range(90, 100)]
    log.close()


def test_the_books_balance_after_faults():
    fresh()
    log = Logger(device_config(limits={"points_per_request": 7, "max_age_days": 2}))
    fill(log, "temperature", 30)
    fill(log, "humidity", 3, start=now_ms() - 3 * DAY_MS)
    t = now_ms() - 5000  # once: two calls a ms apart would make two timestamps, not a duplicate
    log.add("pressure", 1.0, ts=t)
    log.add("pressure", 2.0, ts=t)
    emu.inject("status", status=503)
    log.sync()
    emu.reset()
    log._state.set("retry", None)  # skip the back-off for the test
    log.sync()
    st = log.stats()
    added = 35
    assert (
        added == st["sent"] + st["pending"] + st["dropped_full"] + st["dropped_stale"] + st["rejected"] + st["thinned"]
    )
    assert st["sent"] == 31 and st["dropped_stale"] == 3 and st["rejected"] == 1
    log.close()


def test_the_servers_daily_limit_stops_the_sync_without_setting_anything_aside():
    # the server's count of the day is spent though the device's is not (another uploader, a lost state)
    fresh(points_per_day=20)
    log = Logger(device_config(limits={"points_per_request": 30}))
    fill(log, "temperature", 30)
    r = log.sync()
    assert r["stopped"] == "quota" and r["quota_left"] == 0
    assert r["rejected"] == 0 and r["pending"] == 30
    log.close()


def test_the_servers_daily_limit_waits_for_the_servers_day_not_the_devices():
    # the device's UTC day has turned, the server's (behind it) has not: a daily-limit answer
    # then is about the server's old day, and the new one starts when the server's turns, not a
    # whole day of the device's later
    fresh(points_per_day=30)
    behind = -(now_ms() % DAY_MS) - 60000
    emu.config(clock_offset_ms=behind)  # the server: 23:59 of the day before ours
    log = Logger(device_config(limits={"points_per_request": 20}))
    fill(log, "temperature", 60)
    r = log.sync()
    assert r["stopped"] == "quota" and r["sent"] == 20 and "daily" in r["last_error"], r
    # the server's day has not turned yet: no request into its limit (our day turned already)
    assert r["quota_left"] == 0 and 55000 <= log.upload_wait_ms() <= 61000, (r, log.upload_wait_ms())
    r = log.sync()
    assert r["stopped"] == "quota" and r["requests"] == 0, r
    try:
        shift_device_clock(62000)  # a minute on: the server's day turns
        emu.config(clock_offset_ms=behind + 62000, points_per_day=10000)
        assert log.upload_wait_ms() == 0
        r = log.sync()
    finally:
        shift_device_clock(0)
    assert r["stopped"] == "done" and r["sent"] == 40 and r["pending"] == 0, r
    assert len(received(1)) == 60
    log.close()


def test_the_servers_daily_limit_holds_until_the_servers_day_turns_when_it_is_ahead_of_ours():
    # we are at 23:59 of our day, the server two minutes ahead at 00:01 of its next: a daily-limit
    # answer is about its new day, which turns a day less a minute from now, not at our midnight
    fresh(points_per_day=20)
    shift = DAY_MS - (now_ms() % DAY_MS) - 60000
    try:
        shift_device_clock(shift)
        emu.config(clock_offset_ms=shift + 120000)
        log = Logger(device_config(limits={"points_per_request": 20}))
        fill(log, "temperature", 30)
        r = log.sync()
        assert r["stopped"] == "quota" and r["sent"] == 20 and "daily" in r["last_error"], r
        wait = log.upload_wait_ms()
        assert DAY_MS - 62000 <= wait <= DAY_MS - 58000, wait
        shift_device_clock(shift + 90000)  # our midnight has passed, the server's day has not turned
        r = log.sync()
        assert r["stopped"] == "quota" and r["requests"] == 0, r
        log.close()
    finally:
        shift_device_clock(0)


def test_without_a_clock_a_spent_last_known_day_asks_the_time_before_any_batch():
    # the day's 20 went; the board resets and its RTC is lost (rp2): a blind batch would go over
    # the day if it still runs. A request that counts no point brings the server's Date first.
    fresh(points_per_day=20)
    cfg = device_config(limits={"points_per_day": 20})
    log = Logger(cfg)
    t = now_ms() - 100000
    fill(log, "temperature", 20, start=t)
    r = log.sync()
    assert r["sent"] == 20 and r["quota_left"] == 0, r
    log.close()
    try:
        shift_device_clock(946684800000 - now_ms())  # the RTC at 2000-01-01: not set
        log = Logger(cfg)
        assert not log.clock.is_set()
        log.add("temperature", 99.0, ts=t + 50000)
        n = len(emu.requests())
        r = log.sync()
        log.close()
    finally:
        shift_device_clock(0)
    batches = [q for q in emu.requests()[n:] if q["path"] == "/external/api/batch/update"]
    assert batches == [] and r["stopped"] == "quota" and r["pending"] == 1, (r, batches)


def test_a_stream_the_server_refuses_point_by_point_is_parked_not_emptied():
    # a datastream of another type than configured: every point gets a 400
    fresh()
    emu.add_stream(1, 9, "V9", "int")
    log = Logger(device_config(streams={"wrong": {"pin": "V9", "decimals": 2}, "fine": {"pin": "V1"}}))
    fill(log, "wrong", 40, value=lambda i: 1.5 + i)
    fill(log, "fine", 5)
    r = log.sync()
    assert r["parked"] == ["wrong"] and "refuses every point" in r["last_error"]
    assert r["rejected"] <= 2 and r["pending"] >= 38
    assert len(received(1)) == 5
    log.close()


def _parked_for_its_type(log):
    # a stream whose datastream has another type (every point refused, one message): parked at the
    # third lone refusal, the two before it set aside
    fill(log, "wrong", 40, value=lambda i: 1.5 + i)
    r = log.sync()
    assert r["parked"] == ["wrong"] and r["rejected"] == 2 and r["pending"] == 38, r


def _uploads_since(n):
    return [q for q in emu.requests()[n:] if q["path"] == "/external/api/batch/update"]


def test_a_stream_parked_for_refusing_every_point_is_parked_again_at_its_first_refusal_after_the_park():
    # it lost two samples at every park_s (48 a day at the default): the refusals in a row began
    # again at each sync
    fresh()
    emu.add_stream(1, 9, "V9", "int")
    log = Logger(device_config(streams={"wrong": {"pin": "V9", "decimals": 2}}))
    _parked_for_its_type(log)
    try:
        for k in (1, 2, 3):
            shift_device_clock(k * 3601000)  # park_s (3,600 s) is over
            n = len(emu.requests())
            r = log.sync()
            assert r["parked"] == ["wrong"] and r["rejected"] == 0 and r["pending"] == 38, (k, r)
            assert len(_uploads_since(n)) == 1, (k, _uploads_since(n))  # one point alone, no bisection
    finally:
        shift_device_clock(0)
    assert log.stats()["rejected"] == 2
    log.close()


def test_a_stream_parked_for_refusing_every_point_is_parked_again_at_its_first_refusal_after_a_reboot():
    fresh()
    emu.add_stream(1, 9, "V9", "int")
    cfg = device_config(streams={"wrong": {"pin": "V9", "decimals": 2}})
    log = Logger(cfg)
    _parked_for_its_type(log)
    log.close()
    log = Logger(cfg)
    try:
        shift_device_clock(3601000)
        r = log.sync()
    finally:
        shift_device_clock(0)
    assert r["parked"] == ["wrong"] and r["rejected"] == 0 and r["pending"] == 38, r
    assert log.stats()["rejected"] == 2
    log.close()


def test_a_stream_whose_points_are_refused_one_per_wake_is_parked_at_the_third():
    # the refusals in a row were counted within a sync only: a board syncing a point at each
    # wake never parked the stream, and every point was set aside (10 of 10, none delivered
    # once the datastream took them)
    fresh()
    emu.add_stream(1, 9, "V9", "int")
    cfg = device_config(streams={"wrong": {"pin": "V9", "decimals": 2}}, upload={"park_s": 0})
    t0 = now_ms() - 100000
    for i in range(10):
        log = Logger(cfg)  # a wake
        log.add("wrong", i + 0.5, ts=t0 + i * 1000)
        log.sync()
        log.close()
    emu.add_stream(1, 9, "V9", "double")
    log = Logger(cfg)
    r = log.sync()
    st = log.stats()
    log.close()
    assert st["rejected"] == 2 and st["sent"] == 8 and r["pending"] == 0, (r, st["rejected"])
    assert len(received(9)) == 8


def test_a_record_far_in_the_future_is_set_aside_and_the_queue_goes_on():
    # stored while the clock was wrong: it would otherwise wait for years at the head of its stream
    fresh()
    log = Logger(device_config())
    log._store.append(log._sids["temperature"], now_ms() + 400 * DAY_MS, 1.0, 0, 2)
    fill(log, "temperature", 5)
    r = log.sync()
    assert r["sent"] == 5 and r["rejected"] == 1 and r["pending"] == 0
    assert "ahead" in log.stats()["rejects"][-1][3]
    log.close()


def test_a_point_too_large_for_any_request_is_set_aside():
    fresh()
    emu.add_stream(1, 8, "V8", "string")
    log = Logger(device_config(streams={"note": {"pin": "V8", "type": "string"}}, limits={"max_request_bytes": 1024}))
    t = now_ms() - 10000
    log.add("note", '"' * 600, ts=t)  # 1,200 bytes once escaped
    log.add("note", "short", ts=t + 1)
    r = log.sync()
    assert r["sent"] == 1 and r["rejected"] == 1 and r["pending"] == 0
    assert received(8) == [(t + 1, "short")]
    log.close()


def test_every_point_one_batch_sets_aside_has_its_entry_in_rejects():
    fresh()
    emu.add_stream(1, 8, "V8", "string")
    log = Logger(device_config(streams={"note": {"pin": "V8", "type": "string"}}, limits={"max_request_bytes": 1024}))
    t = now_ms() - 10000
    log.add("note", '"' * 600, ts=t)  # 1,200 bytes once escaped
    log.add("note", "x" * 1024, ts=t + 1)  # over 1,024 with the body around it
    log.add("note", "short", ts=t + 2)
    r = log.sync()
    assert r["sent"] == 1 and r["rejected"] == 2
    assert [e[2] for e in log.stats()["rejects"]] == [t, t + 1]
    log.close()


def test_the_rejects_log_keeps_the_last_eight_points_set_aside():
    fresh()
    emu.add_stream(1, 8, "V8", "string")
    log = Logger(device_config(streams={"note": {"pin": "V8", "type": "string"}}, limits={"max_request_bytes": 1024}))
    t = now_ms() - 10000
    for i in range(10):
        log.add("note", '"' * 600, ts=t + i)
    log.add("note", "short", ts=t + 10)
    r = log.sync()
    assert r["sent"] == 1 and r["rejected"] == 10
    assert [e[2] for e in log.stats()["rejects"]] == [t + i for i in range(2, 10)]
    log.close()


def test_a_duplicate_set_aside_beside_a_point_the_server_refuses_has_its_entry_in_rejects():
    # the emulator refuses points older than a day: the lone refused point's batch also covers
    # the duplicate of it that follows (set aside without the server)
    fresh(max_age_days=1)
    log = Logger(device_config())
    old = now_ms() - 2 * DAY_MS
    log.add("temperature", 1.0, ts=old)
    log.add("temperature", 2.0, ts=old)
    fill(log, "temperature", 5)
    r = log.sync()
    assert r["sent"] == 5 and r["rejected"] == 2, r
    rejects = log.stats()["rejects"]
    assert [e[2] for e in rejects] == [old, old] and rejects[1][3].startswith("duplicate"), rejects
    log.close()


def test_a_refusal_logged_after_an_earlier_one_survives_a_reopen():
    # the second entry of the rejects log is saved in state.json, not only kept in RAM
    fresh()
    emu.add_stream(1, 8, "V8", "string")
    cfg = device_config(streams={"note": {"pin": "V8", "type": "string"}}, limits={"max_request_bytes": 1024})
    log = Logger(cfg)
    t = now_ms() - 10000
    log.add("note", '"' * 600, ts=t)  # 1,200 bytes once escaped
    log.add("note", "short", ts=t + 1)
    log.sync()
    log.add("note", '"' * 600, ts=t + 2)
    log.add("note", "short", ts=t + 3)
    log.sync()
    log.close()
    log = Logger(cfg)
    assert [e[2] for e in log.stats()["rejects"]] == [t, t + 2]
    log.close()


def test_newest_first_drops_nothing_fresh_when_the_excess_is_already_stale():
    fresh()
    log = Logger(
        device_config(
            limits={"points_per_day": 10, "max_age_days": 1, "stale_margin_s": 0},
            upload={"backlog_policy": "newest_first"},
        )
    )
    fill(log, "temperature", 50, start=now_ms() - 2 * DAY_MS)
    fill(log, "temperature", 10)
    r = log.sync()
    assert r["sent"] == 10 and r["dropped_stale"] == 50 and r["thinned"] == 0
    log.close()


def test_a_backlog_that_fits_before_it_goes_stale_is_not_thinned():
    fresh()
    log = Logger(
        device_config(
            limits={"points_per_day": 10, "max_age_days": 4, "stale_margin_s": 0}, upload={"backlog_policy": "spread"}
        )
    )
    fill(log, "temperature", 25, start=now_ms() - 2 * DAY_MS, step=3600000)
    r = log.sync()
    assert r["sent"] == 10 and r["thinned"] == 0 and r["pending"] == 15
    log.close()


def test_without_a_clock_the_sync_asks_the_time_and_sends_nothing_it_cannot_judge():
    # min_year 2070: the clock does not count as set before 2070 (the server's Date is refused too).
    # One batch went blind before: unjudged (a ts over a day ahead, stale points went with it)
    fresh()
    log = Logger(device_config(limits={"points_per_request": 10}, clock={"min_year": 2070}))
    fill(log, "temperature", 30)
    r = log.sync()
    log.close()
    assert r["sent"] == 0 and r["stopped"] == "clock" and r["pending"] == 30, r
    assert r["requests"] == 1 and emu.requests() == [], r  # the HEAD alone (the emulator logs API requests)


def test_an_explicit_ts_over_a_day_ahead_is_set_aside_at_a_sync_that_began_without_a_clock():
    # min_year 2027 (this host's clock is earlier): unset until the server's Date; the emulator's
    # clock a year on, so that its Date sets it. The point 20 days ahead went in the blind batch
    fresh(clock_offset_ms=366 * DAY_MS)
    log = Logger(device_config(clock={"min_year": 2027}))
    t = now_ms() + 366 * DAY_MS
    log.add("temperature", 1.0, ts=t - 1000)
    log.add("temperature", 2.0, ts=t + 20 * DAY_MS)
    r = log.sync()
    log.close()
    assert r["sent"] == 1 and r["rejected"] == 1, r
    assert [p[0] for p in received(1)] == [t - 1000]


def test_oldest_data_goes_first_across_streams_when_the_quota_binds():
    fresh()
    log = Logger(device_config(limits={"points_per_day": 10, "points_per_request": 10}))
    now = now_ms()
    fill(log, "pressure", 10, start=now - 1 * 3600000)
    fill(log, "humidity", 10, start=now - 2 * 3600000)
    fill(log, "temperature", 10, start=now - 3 * 3600000)
    r = log.sync()
    assert r["sent"] == 10 and r["stopped"] == "quota"
    assert len(received(1)) == 10 and received(2) == [] and received(3) == []
    log.close()


def test_streams_whose_oldest_samples_share_a_timestamp_take_turns_in_the_order_of_their_names():
    # declared temperature first: the tie goes by name (humidity), not by the configuration's
    # dict, whose order MicroPython does not keep
    fresh()
    streams = {"temperature": {"pin": "V1", "decimals": 2}, "humidity": {"pin": "V2"}}
    log = Logger(device_config(streams=streams, limits={"points_per_day": 5}))
    t = now_ms() - 60000
    for i in range(4):
        log.add("temperature", 20 + i, ts=t + i)
        log.add("humidity", 40 + i, ts=t + i)
    r = log.sync()
    assert r["sent"] == 5 and r["stopped"] == "quota", r
    assert [p[0] for p in received(2)] == [t, t + 1, t + 2, t + 3] and received(1) == [(t, 20)]
    log.close()


def test_newest_first_shares_an_uneven_excess_out_in_the_order_of_stream_names():
    # 12 points within the day of the age limit, 11 allowed: the one skipped is the stream first by
    # name's oldest (humidity's, though temperature is declared first)
    fresh()
    streams = {"temperature": {"pin": "V1", "decimals": 2}, "humidity": {"pin": "V2"}}
    log = Logger(
        device_config(
            streams=streams,
            limits={"points_per_day": 11, "max_age_days": 1, "stale_margin_s": 0},
            upload={"backlog_policy": "newest_first"},
        )
    )
    t = fill(log, "temperature", 6, start=now_ms() - 3600000)
    fill(log, "humidity", 6, start=t + 1)
    r = log.sync()
    assert r["sent"] == 11 and r["thinned"] == 1, r
    assert len(received(1)) == 6 and [p[0] for p in received(2)] == [t + 1 + i * 1000 for i in range(1, 6)]
    log.close()


def test_a_redirect_to_a_server_that_fails_is_forgotten():
    fresh()
    cfg = device_config()
    log = Logger(cfg)
    fill(log, "temperature", 5)
    emu.inject("redirect", location=emu.wrong_name_url())  # its certificate names another host
    r = log.sync()
    assert r["stopped"] == "retry" and r["pending"] == 5
    assert r["server"] == emu.url() and log.stats()["server"] == emu.url()
    log._state.set("retry", None)  # skip the back-off for the test
    r = log.sync()
    assert r["sent"] == 5
    log.close()


def _tls_fault(cfg):
    # a sync against a server whose certificate fails verification: a retry, its last_error a "tls:" fault
    log = Logger(cfg)
    fill(log, "temperature", 3)
    r = log.sync()
    assert r["stopped"] == "retry" and r["last_error"].startswith("retry later: network: tls: "), r
    log.close()


def test_sync_reports_a_certificate_from_another_ca_as_a_tls_fault():
    fresh()
    if emu.other_ca_path() is None:
        from support import skip

        skip("the emulator runs without TLS")
    _tls_fault(device_config(ca=emu.other_ca_path()))


def test_sync_reports_a_certificate_for_another_host_name_as_a_tls_fault():
    fresh()
    if emu.wrong_name_url() is None:
        from support import skip

        skip("no wrong-name listener")
    _tls_fault(device_config(server=emu.wrong_name_url()))


def test_a_tls_handshake_with_a_plain_http_listener_is_reported_as_a_tls_fault_not_an_os_errno():
    # CPython's ssl errors carry the TLS library's code in errno (1, 8): not an OS errno, so not
    # EPERM or ENOEXEC; MicroPython names the mbedTLS error
    fresh()
    log = Logger(device_config(server=emu.http_url().replace("http://", "https://")))
    fill(log, "temperature", 3)
    r = log.sync()
    log.close()
    assert r["stopped"] == "retry" and r["pending"] == 3, r
    assert "SSL" in r["last_error"] and "EPERM" not in r["last_error"], r["last_error"]


def test_requests_are_paced_under_the_servers_rate_limit():
    # Blynk allows 50 requests a second per device: batches are spaced at least 21 ms apart.
    # A client that answers at once shows the spacing comes from the device, not the network.
    from blynklog import blynk
    from blynklog.compat import ticks_diff, ticks_ms

    class InstantClient:
        requests = handshakes = bytes_sent = 0

        def __init__(self):
            self.conn = self
            self.times = []

        def upload_gen(self, stream, points, count, length=None):
            # a generator of no I/O ops (http.py): the request is done here
            self.times.append(ticks_ms())  # a request starts here: the pacing is start to start
            for _ in points():
                pass
            return blynk.Answer(blynk.OK, 200)
            yield

        def close(self):
            pass

    log = Logger(device_config(limits={"points_per_request": 2, "requests_per_s": 50}))
    client = InstantClient()
    log._client = lambda timeout_ms: client
    fill(log, "temperature", 40)
    r = log.sync()
    assert r["sent"] == 40 and len(client.times) == 20
    gaps = [ticks_diff(b, a) for a, b in zip(client.times, client.times[1:])]
    assert min(gaps) >= 20, gaps
    log.close()


def test_the_pace_counts_from_when_a_request_went_out_not_from_the_handshake_and_token_before_it():
    # requests_per_s 2: the imports at least 501 ms apart where they arrive. The pause counted
    # from the first batch's start, before its connection, handshake and token request (0.4 s
    # here): the second import followed the first within 0.1 s
    fresh()
    emu.inject("slow", target="token", delay_s=0.4)
    log = Logger(platform_config(limits={"points_per_request": 10, "requests_per_s": 2}))
    fill(log, "temperature", 30)
    r = log.sync()
    assert r["sent"] == 30, r
    at = [q["mono_us"] for q in emu.requests() if "/import/" in q["path"]]
    gaps = [(b - a) // 1000 for a, b in zip(at, at[1:])]
    assert len(at) == 3 and min(gaps) >= 450, gaps  # (a margin for the arrivals' own jitter)
    log.close()


def test_syncs_back_to_back_are_paced_as_one():
    # a sketch calling sync() again at once: its first request came right after the last one of
    # the sync before, whatever requests_per_s said (the pace started again at each sync)
    fresh()
    log = Logger(device_config(limits={"points_per_request": 10, "requests_per_s": 2}))
    t0 = fill(log, "temperature", 10)
    assert log.sync()["sent"] == 10
    for i in range(10, 20):
        log.add("temperature", i * 0.25, ts=t0 + i * 1000)
    assert log.sync()["sent"] == 10
    at = [q["mono_us"] for q in emu.requests() if "/batch/" in q["path"]]
    assert len(at) == 2 and (at[1] - at[0]) // 1000 >= 450, at  # (a margin for the arrivals' jitter)
    log.close()


def test_a_logger_taken_over_refuses_remote_as_its_other_calls():
    fresh()
    cfg = device_config(remote={"every": "V20"})
    first = Logger(cfg)
    second = Logger(cfg)
    from support import raises

    e = raises(ValueError, first.remote)
    assert "another Logger opened" in str(e), e
    assert second.remote() == {}
    second.close()
    assert second.remote() == {}  # after close() too, as stats()


def test_a_long_max_age_leaves_time_for_the_backlog_and_thins_nothing():
    # 1,000 fresh points, 10 a day, a year to go: they need 100 days, and all fit before they go stale
    fresh()
    log = Logger(
        device_config(limits={"points_per_day": 10, "max_age_days": 365}, upload={"backlog_policy": "newest_first"})
    )
    fill(log, "temperature", 1000)
    r = log.sync()
    assert r["sent"] == 10 and r["thinned"] == 0 and r["pending"] == 990
    log.close()


def test_a_bool_stream_goes_as_true_and_false_on_both_apis():
    # Blynk's batch upload takes true or false for a boolean datastream; 0/1 given to add() too
    for make in (device_config, platform_config):
        fresh()
        emu.add_stream(1, 1, "V1", type="bool")
        log = Logger(make(streams={"door": {"id": 1, "pin": "V1", "type": "bool"}}))
        t0 = now_ms() - 10000
        for i, v in enumerate((True, False, 1, 0)):
            log.add("door", v, ts=t0 + i)
        r = log.sync()
        log.close()
        assert r["sent"] == 4, (r, log.stats()["rejects"])
        assert [p[1] for p in raw_points(1, 1)] == ["true", "false", "true", "false"]


def test_a_budget_shorter_than_the_servers_answer_still_gets_the_batch_it_sent_acknowledged():
    # the budget is checked between batches: the answer to a batch sent waits up to
    # upload.timeout_ms. Cut at the budget, the same batch went again at every sync, never counted
    fresh()
    emu.inject("slow", count=4, delay_s=0.8)
    log = Logger(device_config(limits={"points_per_request": 10}))
    fill(log, "temperature", 30)
    r = log.sync(budget_ms=300)
    assert r["sent"] == 10 and r["stopped"] == "budget", r
    assert len(received(1)) == 10
    log.close()


def test_samples_stored_with_two_decimals_go_with_them_after_the_stream_is_set_to_one():
    # the decimals apply when add() stores a sample; those stored before a change were rounded
    # again at the upload (20.25 went as 20.2)
    fresh()
    cfg = device_config(streams={"t": {"pin": "V1", "decimals": 2}})
    log = Logger(cfg)
    t0 = now_ms() - 10000
    for i, v in enumerate((20.25, 21.5, -0.05)):
        log.add("t", v, ts=t0 + i)
    log.close()
    cfg["streams"]["t"]["decimals"] = 1
    log = Logger(cfg)
    log.add("t", 22.25, ts=t0 + 3)
    r = log.sync()
    log.close()
    assert r["sent"] == 4, r
    assert [p[1] for p in raw_points(1, 1)] == ["20.25", "21.5", "-0.05", "22.2"]


def test_a_413_halves_the_batch_until_a_size_goes_and_keeps_that_size():
    # a body limit, not a bad point: after one 413 on 300 points, the halves of 150 both go; the
    # bisection for a refused point went on halving what was accepted down to lone points
    fresh()
    emu.inject("status", status=413, body={"error": {"message": "Request Entity Too Large"}})
    log = Logger(device_config(limits={"points_per_request": 300}))
    fill(log, "temperature", 300)
    r = log.sync()
    log.close()
    batches = [(q["status"], q["points"]) for q in emu.requests() if "/batch/" in q["path"]]
    assert r["sent"] == 300 and r["pending"] == 0, r
    assert batches == [(413, 0), (200, 150), (200, 150)], batches  # (the 413's points not taken)


def test_after_a_413_and_a_refused_point_the_batches_grow_back_to_the_size_the_server_took():
    # the size kept after a 413 is a ceiling, not a stop to every growth: set aside alone, a bad
    # point left the rest of the sync going one point a request (459 requests for 600 points)
    fresh()
    emu.add_stream(1, 1, "V1", type="int")
    log = Logger(device_config(streams={"t": {"pin": "V1", "decimals": 1}}, limits={"points_per_request": 100}))
    t0 = now_ms() - 700000
    for i in range(600):
        log.add("t", 0.5 if i == 150 else float(i), ts=t0 + i * 1000)
    emu.inject("status", status=413, body={"error": {"message": "Request Entity Too Large"}})
    r = log.sync()
    log.close()
    sizes = [q["points"] for q in emu.requests() if "/batch/" in q["path"] and q["status"] == 200]
    assert r["sent"] == 599 and r["rejected"] == 1, r
    assert max(sizes) == 50 and len(sizes) < 30, sizes


def test_a_lost_streams_file_sends_nothing_the_server_acknowledged_again():
    # the names file gone, the cursors file whole: its cursors were dropped with the names, and
    # the ids given again counted every record on flash as pending (10 acknowledged sent again)
    import os

    fresh()
    cfg = device_config(streams={"a": {"pin": "V1"}})
    log = Logger(cfg)
    t0 = now_ms() - 100000
    for i in range(10):
        log.add("a", i + 0.5, ts=t0 + i)
    assert log.sync()["sent"] == 10
    for i in range(10, 12):
        log.add("a", i + 0.5, ts=t0 + i)
    log.close()
    os.remove(cfg["store"]["path"] + "/data/streams")
    log = Logger(cfg)
    pending = log.stats()["pending"]
    r = log.sync()
    log.close()
    assert pending == 2 and r["sent"] == 2, (pending, r["sent"])
    assert len(received(1)) == 12


def test_a_lost_streams_file_keeps_the_cursors_of_streams_named_again_only_later():
    # the names file gone and a configuration naming one of two streams for a while: that
    # stream's cursors write dropped the other id's kept cursor, and when the configuration named
    # it again its acknowledged samples went out a second time
    import os

    fresh()
    both = device_config(streams={"a": {"pin": "V1"}, "b": {"pin": "V2"}})
    log = Logger(both)
    t0 = now_ms() - 100000
    for i in range(10):
        log.add("a", i + 0.5, ts=t0 + i)
        log.add("b", i + 0.25, ts=t0 + i)
    assert log.sync()["sent"] == 20
    log.add("b", 10.25, ts=t0 + 10)
    log.close()
    os.remove(both["store"]["path"] + "/data/streams")
    log = Logger(dict(both, streams={"a": {"pin": "V1"}}))
    log.add("a", 10.5, ts=t0 + 10)
    assert log.sync()["sent"] == 1
    log.close()
    log = Logger(both)
    pending = log.stats()["pending"]
    r = log.sync()
    log.close()
    assert pending == 1 and r["sent"] == 1, (pending, r["sent"])
    assert len(received(1)) == 11 and len(received(2)) == 11


def _fixed_text(m, d):
    # m / 10**d as the shortest decimal text (m an int, d 0..6), in ints: the runtime's float
    # plays no part
    sign = "-" if m < 0 else ""
    m = -m if m < 0 else m
    whole, frac = m // 10**d, m % 10**d
    if not frac:
        return sign + str(whole)
    digits = ("000000" + str(frac))[-d:]
    while digits.endswith("0"):
        digits = digits[:-1]
    return sign + str(whole) + "." + digits


def test_samples_with_seven_digits_or_more_keep_their_stored_decimals_after_the_setting_changes():
    # beyond 2**22 (float32) or 2**51 (doubles) a scaled sample was rebuilt as a float and rounded
    # to the new decimals (101325.12 stored with 2 went as 101325.1 on a board); its own digits
    # now, whatever their size, as the runtime stored them
    from blynklog.compat import round_scaled

    fresh()
    cfg = device_config(streams={"p": {"pin": "V1", "decimals": 2}, "q": {"pin": "V2", "decimals": 6}})
    log = Logger(cfg)
    t0 = now_ms() - 10000
    log.add("p", 101325.12, ts=t0)
    log.add("q", 2300000000.123456, ts=t0)
    log.close()
    cfg["streams"]["p"]["decimals"] = 1
    cfg["streams"]["q"]["decimals"] = 2
    log = Logger(cfg)
    r = log.sync()
    log.close()
    assert r["sent"] == 2, r
    assert [p[1] for p in raw_points(1, 1)] == [_fixed_text(round_scaled(101325.12, 2), 2)]
    assert [p[1] for p in raw_points(1, 2)] == [_fixed_text(round_scaled(2300000000.123456, 6), 6)]


def test_a_stream_whose_type_changed_sets_its_old_backlog_aside_and_sends_the_new_samples():
    # int -> string on the datastream and in the configuration, 5 ints pending: three lone
    # refusals of old ints parked the stream, and after park_s each first refusal parked it again
    # (2 ints set aside in all, the strings never sent)
    fresh()
    cfg = device_config(streams={"a": {"pin": "V1", "type": "int"}})
    log = Logger(cfg)
    t0 = now_ms() - 100000
    for i in range(5):
        log.add("a", i, ts=t0 + i)
    log.close()
    emu.add_stream(1, 1, "V1", type="string")
    cfg["streams"]["a"]["type"] = "string"
    log = Logger(cfg)
    log.add("a", "on", ts=t0 + 10)
    log.add("a", "off", ts=t0 + 11)
    r = log.sync()
    log.close()
    assert r["sent"] == 2 and r["rejected"] == 5 and r["parked"] == [] and r["pending"] == 0, r
    assert [p[1] for p in received(1)] == ["on", "off"]
    # the batch bisected down to one old int, the other four set aside with it; then the
    # strings (each old int alone cost a request of its own: 9 in all)
    assert r["requests"] == 5, r


def test_a_stream_left_out_for_a_synced_boot_still_knows_its_last_sent_timestamp():
    # the state kept the last accepted ts of the configured streams only: a boot that named
    # only "b" and synced forgot "a"'s, and back in, a sample of "a" at a ts already sent went
    # twice (two points in one ms of V1, rejected 0)
    fresh()
    both = device_config(streams={"a": {"pin": "V1"}, "b": {"pin": "V2"}})
    t0 = now_ms() - 100000
    log = Logger(both)
    log.add("a", 1.0, ts=t0)
    log.add("b", 1.0, ts=t0)
    assert log.sync()["sent"] == 2
    log.close()
    log = Logger(dict(both, streams={"b": {"pin": "V2"}}))
    log.add("b", 2.0, ts=t0 + 1)
    assert log.sync()["sent"] == 1
    log.close()
    log = Logger(both)
    log.add("a", 7.0, ts=t0)
    r = log.sync()
    log.close()
    assert r["sent"] == 0 and r["rejected"] == 1, r
    assert [p[1] for p in received(1)] == [1]


def test_a_stream_parked_on_one_device_goes_to_the_device_the_configuration_names_next():
    # parked for a datastream device 1 lacks; the configuration then names device 2's token,
    # whose device has it: the parking outlived the change (sent 0, no request for park_s)
    fresh()
    emu.add_stream(2, 99, "V99")
    cfg = device_config(streams={"a": {"pin": "V1"}, "b": {"pin": "V99"}})
    t0 = now_ms() - 100000
    log = Logger(cfg)
    log.add("a", 1.5, ts=t0)
    log.add("b", 2.5, ts=t0)
    r = log.sync()
    log.close()
    assert r["parked"] == ["b"], r
    cfg["token"] = "test-device-token-2"
    log = Logger(cfg)
    log.add("b", 3.5, ts=t0 + 1)
    r = log.sync()
    log.close()
    assert r["sent"] == 2 and r["parked"] == [], r
    assert len(emu.points(2, 99)) == 2


def test_the_servers_daily_limit_of_one_device_does_not_hold_the_device_named_next():
    # device 1's server said its day's points were spent; the configuration then named device
    # 2's token: the word held every upload (sent 0, no request, stopped "quota") until device
    # 1's day turned
    fresh(points_per_day=3)
    cfg = device_config(streams={"a": {"pin": "V1"}}, limits={"points_per_request": 2})
    t0 = now_ms() - 100000
    log = Logger(cfg)
    for i in range(6):
        log.add("a", 1.0 + i, ts=t0 + i)
    r = log.sync()
    log.close()
    assert r["stopped"] == "quota", r
    cfg["token"] = "test-device-token-2"
    log = Logger(cfg)
    waited = log.upload_wait_ms()
    r = log.sync()
    log.close()
    assert waited == 0 and r["sent"] > 0, (waited, r)


def _batches():
    return [(q["status"], q["points"]) for q in emu.requests() if "/batch/" in q["path"]]


def test_the_size_a_413_taught_is_kept_by_the_next_sync_and_the_next_boot():
    # a proxy's body limit is there at the next sync too: every sync (each deep-sleep wake a new
    # Logger) began at the full batch size again, and spent a request and its radio time on a 413
    fresh(max_body=4000)
    cfg = device_config(limits={"points_per_request": 300})
    log = Logger(cfg)
    t0 = fill(log, "temperature", 300, start=now_ms() - 2000000)
    r = log.sync()
    assert r["sent"] == 300 and _batches() == [(413, 0), (200, 150), (200, 150)], (r, _batches())
    for i in range(300):
        log.add("temperature", i * 0.25, ts=t0 + 300000 + i * 1000)
    emu.reset()
    emu.config(points_per_day=10000, max_body=4000)
    r = log.sync()
    ok = [b for b in _batches() if b[0] == 200]
    assert r["sent"] == 300 and r["requests"] == 2 and len(ok) == 2 == len(_batches()), (r, _batches())
    log.close()
    log = Logger(cfg)  # the next wake: a new process
    for i in range(300):
        log.add("temperature", i * 0.25, ts=t0 + 600000 + i * 1000)
    emu.reset()
    emu.config(points_per_day=10000, max_body=4000)
    r = log.sync()
    log.close()
    ok = [b for b in _batches() if b[0] == 200]
    assert r["sent"] == 300 and r["requests"] == 2 and len(ok) == 2 == len(_batches()), (r, _batches())
    assert sum(b[1] for b in ok) == 300 and len(received(1)) == 300


def _cap_learnt():
    # a sync of 300 points through a 4,000-byte body limit: -> (cfg, the first ts, state.json's path)
    fresh(max_body=4000)
    cfg = device_config(limits={"points_per_request": 300})
    log = Logger(cfg)
    t0 = fill(log, "temperature", 300, start=now_ms() - 2000000)
    log.sync()
    log.close()
    return cfg, t0, cfg["store"]["path"] + "/state.json"


def test_the_size_a_413_taught_is_forgotten_with_new_limits_and_grows_back_after_a_day():
    # a new points_per_request (or server, or max_request_bytes) starts afresh at its full size;
    # an entry a day old doubles, so a proxy lifted since is found again
    import json

    cfg, t0, path = _cap_learnt()
    with open(path) as f:
        size, since, key = json.load(f)["cap"]
    assert 3000 < size < 4000 and since > 0, (size, since)
    emu.reset()
    emu.config(points_per_day=10000)  # the proxy lifted
    cfg = device_config(store=cfg["store"], limits={"points_per_request": 200})
    log = Logger(cfg)
    for i in range(200):
        log.add("temperature", i * 0.25, ts=t0 + 300000 + i * 1000)
    r = log.sync()
    log.close()
    assert r["sent"] == 200 and _batches() == [(200, 200)], (r, _batches())
    with open(path) as f:
        assert json.load(f).get("cap") is None
    # learnt again under points_per_request 300, then a day passes: it doubles
    emu.config(max_body=4000)
    cfg = device_config(store=cfg["store"], limits={"points_per_request": 300})
    log = Logger(cfg)
    for i in range(300):
        log.add("temperature", i * 0.25, ts=t0 + 600000 + i * 1000)
    log.sync()
    log.close()
    with open(path) as f:
        state = json.load(f)
    size = state["cap"][0]
    state["cap"][1] -= DAY_MS
    with open(path, "w") as f:
        json.dump(state, f)
    emu.reset()
    emu.config(points_per_day=10000)
    log = Logger(cfg)
    for i in range(300):
        log.add("temperature", i * 0.25, ts=t0 + 900000 + i * 1000)
    r = log.sync()
    log.close()
    assert r["sent"] == 300 and _batches() == [(200, 300)], (r, _batches())  # 2 x size took them all
    with open(path) as f:
        assert json.load(f)["cap"][0] == 2 * size


def test_a_sync_held_back_by_a_parked_stream_says_why_in_last_error():
    # its only stream parked (a datastream the server does not know), the next syncs and the next
    # boot sent nothing and said last_error None, in the report and in stats(): nothing to see why
    fresh()
    cfg = platform_config(streams={"ghost": {"id": 99}})
    log = Logger(cfg)
    fill(log, "ghost", 5)
    r = log.sync()
    assert r["parked"] == ["ghost"] and r["pending"] == 5 and "not found" in r["last_error"], r
    first = r["last_error"]
    r = log.sync()
    assert r["requests"] == 0 and r["parked"] == ["ghost"] and r["sent"] == 0, r
    assert r["last_error"] == first and log.stats()["last_error"] == first, (r, first)
    log.close()
    log = Logger(cfg)  # the next wake
    r = log.sync()
    assert r["requests"] == 0 and r["last_error"] == first and log.stats()["last_error"] == first, (r, first)
    log.close()


def test_a_stream_parked_for_its_points_refusals_says_why_at_the_syncs_it_waits_out():
    fresh()
    emu.add_stream(1, 9, "V9", "int")
    log = Logger(device_config(streams={"wrong": {"pin": "V9", "decimals": 2}}))
    _parked_for_its_type(log)
    r = log.sync()
    assert r["requests"] == 0 and r["parked"] == ["wrong"], r
    assert "refuses every point" in (r["last_error"] or ""), r
    assert r["last_error"] == log.stats()["last_error"]
    log.close()


def test_a_400_saying_the_batch_holds_too_many_points_is_a_size_not_a_bad_point():
    # Blynk's "Too much data in batch. Maximum batch size is N points." from a server with a lower
    # maximum than points_per_request: bisected as for a bad point, 1,000 points took 63 requests
    # (19 refused), and grew back into the refusal again and again; now 11 (1 refused)
    fresh(max_batch=100)
    log = Logger(device_config(limits={"points_per_request": 1000}))
    fill(log, "temperature", 1000, step=100)
    r = log.sync()
    log.close()
    b = _batches()
    assert r["sent"] == 1000 and r["rejected"] == 0 and len(received(1)) == 1000, r
    assert b == [(400, 0)] + [(200, 100)] * 10, b  # the maximum the message names, at once


def test_a_sync_that_waits_out_the_servers_daily_limit_says_so_in_last_error():
    # the server said the day's points are spent: the syncs after it that day sent nothing and
    # said last_error None (stats() too), though the server, not the configuration, held them
    fresh(points_per_day=45)
    log = Logger(device_config(limits={"points_per_request": 10, "points_per_day": 100}))
    fill(log, "temperature", 60)
    r = log.sync()
    assert r["sent"] == 40 and r["stopped"] == "quota" and "daily limit" in r["last_error"], r
    r = log.sync()
    assert r["requests"] == 0 and r["stopped"] == "quota" and r["quota_left"] == 0, r
    assert "daily limit" in (r["last_error"] or "") and log.stats()["last_error"] == r["last_error"], r
    log.close()


def test_a_size_learnt_while_the_clock_was_unset_starts_its_day_at_the_next_sync_with_the_time():
    # an entry learnt without the time (since 0) never grew back: its day never began
    import json

    cfg, t0, path = _cap_learnt()
    with open(path) as f:
        state = json.load(f)
    state["cap"][1] = 0  # as a sync without the time leaves it
    with open(path, "w") as f:
        json.dump(state, f)
    log = Logger(cfg)
    log.add("temperature", 1.0, ts=t0 + 400000)
    log.sync()
    log.close()
    with open(path) as f:
        since = json.load(f)["cap"][1]
    assert since > 0, since
