# Where one upload step leaves state for the next (plan -> send -> commit, answer -> next request,
# clock -> books): a failure between them must leave nothing behind that changes what the next
# step does. Against the local emulator and the hostile server over real TLS; a fault stand-in only
# where the fault itself must be injected (the store's os.rename, the transport's request).
# Portable: CPython and the unix ports.
import os

import emu
import hostile
from blynklog import Logger
from blynklog.clock import Clock
from blynklog.compat import sleep_ms, ticks_ms
from logger_support import DAY_MS, device_config, fill, fresh, now_ms, received, shift_device_clock
from support import tmpdir


_tag = []


def unique(prefix):
    # A name of its own on the shared hostile server (its points are kept per name).
    if not _tag:
        _tag.append(0)
        _tag.append(int.from_bytes(os.urandom(3), "little"))
    _tag[0] += 1
    return "%s%dx%d" % (prefix, _tag[1], _tag[0])


class _NoRename:
    # The store's `os` module with a flash that cannot rename (a full or failing flash).
    def __init__(self, real):
        self._real = real

    def rename(self, a, b):
        raise OSError(5)  # EIO

    def __getattr__(self, name):
        return getattr(self._real, name)


def _unset_clock(log):
    # The board after power-on without an RTC time (nothing set it yet): the port clock reads a
    # time before min_year, so stamps are boot-relative until NTP or a server's Date sets it.
    clock = Clock(log._state, port_time_ms=lambda: 946684800000 + ticks_ms())
    log.clock = clock
    log._uploader.clock = clock
    return clock


# ---- item 1: the duplicate filter's state after a batch that was not committed


def test_a_commit_that_fails_after_the_server_accepted_leaves_the_point_to_go_again():
    # a one-point batch: its point is the stream's "previous timestamp" only once it is committed;
    # a failed commit used to leave it there, and the next sync set the point aside as a duplicate
    fresh()
    import blynklog.segment as store_mod  # the store's reading side: commit's cursors file

    log = Logger(device_config())
    t = now_ms() - 5000
    log.add("temperature", 1.5, ts=t)
    real = store_mod.os
    store_mod.os = _NoRename(real)
    try:
        r = log.sync()
    finally:
        store_mod.os = real
    assert r["stopped"] == "store" and r["pending"] == 1, r
    assert "commit failed (EIO)" in r["last_error"] and "not committed" in r["last_error"]
    r = log.sync()
    assert r["sent"] == 1 and r["rejected"] == 0 and r["pending"] == 0, r
    assert received(1) == [(t, 1.5), (t, 1.5)]  # at-least-once: the accepted batch went again
    log.close()


def test_a_refused_point_whose_setting_aside_fails_is_not_counted_toward_a_park():
    # the refusal was counted (state.json's "parked") before the commit that sets the point
    # aside; two failed commits made the same point the third refusal in a row: the stream was
    # parked for it, again at every park_s, and the good points behind it never went
    from blynklog.store import Store

    fresh()
    emu.config(max_age_days=1)  # the server keeps a day: the first point, 2 days old, is refused
    cfg = device_config(streams={"t": {"pin": "V1", "decimals": 2}}, upload={"park_s": 0})
    t0 = now_ms() - 100000
    log = Logger(cfg)
    log.add("t", 1000.0, ts=t0 - 2 * DAY_MS)
    for i in range(1, 6):
        log.add("t", float(i), ts=t0 + i * 1000)
    log.close()
    real = Store.commit
    faults = [2]

    def failing(self, *a):
        if faults[0]:
            faults[0] -= 1
            raise OSError(5)  # EIO: the set-aside's commit at two syncs
        return real(self, *a)

    Store.commit = failing
    try:
        for _ in range(3):
            log = Logger(cfg)
            r = log.sync()
            st = log.stats()
            log.close()
    finally:
        Store.commit = real
    assert r["parked"] == [] and st["rejected"] == 1 and st["sent"] == 5, (r, st["rejected"], st["sent"])


def test_a_memory_error_inside_the_upload_leaves_the_point_to_go_next_time():
    # mbedTLS failing to allocate during the request: the batch was neither sent nor refused
    fresh()
    log = Logger(device_config())
    t = now_ms() - 5000
    log.add("temperature", 2.5, ts=t)
    make = log._client

    def failing_client(timeout_ms):
        client = make(timeout_ms)

        def request(*args):
            raise MemoryError("memory allocation failed, allocating 16384 bytes")

        client.conn.request_gen = request
        return client

    log._client = failing_client
    r = log.sync()
    assert r["stopped"] == "error" and r["pending"] == 1, r
    log._client = make
    r = log.sync()
    assert r["sent"] == 1 and r["rejected"] == 0 and r["pending"] == 0, r
    assert received(1) == [(t, 2.5)]
    log.close()


# ---- item 5: nothing can be placed and nothing is asked


def test_with_only_boot_relative_samples_and_no_clock_a_cheap_request_sets_the_time():
    # no NTP answered: the server's Date is the only time there is, and only a request brings it
    fresh()
    log = Logger(device_config())
    clock = _unset_clock(log)
    for i in range(5):
        log.add("temperature", i * 1.0)
        sleep_ms(3)  # one stamp per ms at most (two in one ms are duplicates)
    assert not clock.is_set()
    before = now_ms()
    r = log.sync()
    assert clock.is_set()
    assert r["sent"] == 5 and r["pending"] == 0 and r["stopped"] == "done", r
    got = received(1)
    assert len(got) == 5
    # placed with the server's time (whole seconds from the Date header, so within a few seconds)
    assert abs(got[0][0] - before) < 10000, (got[0][0], before)
    assert r["requests"] == 2  # the time request (HEAD /, no credentials), then the batch
    assert len(emu.requests()) == 1
    log.close()


# ---- item 6: a redirect that would drop TLS


def test_a_redirect_from_https_to_plain_http_is_refused_and_nothing_is_sent():
    fresh()
    cfg = device_config()
    log = Logger(cfg)
    fill(log, "temperature", 5)
    emu.inject("redirect", location=emu.http_url())
    r = log.sync()
    assert r["sent"] == 0 and r["pending"] == 5, r
    assert "plain http" in r["last_error"] and r["server"] == cfg["server"]
    assert [q["status"] for q in emu.requests()] == [308]  # the token and the data went nowhere else
    log.close()
    log = Logger(cfg)
    assert log.stats()["server"] == cfg["server"]
    log.close()


def test_a_remembered_plain_http_server_is_not_used_for_an_https_configuration():
    # a state file written before downgrades were refused
    fresh()
    cfg = device_config()
    log = Logger(cfg)
    log._state.set("server", {"configured": cfg["server"], "to": emu.http_url()})
    assert log.stats()["server"] == cfg["server"]
    fill(log, "temperature", 3)
    r = log.sync()
    assert r["sent"] == 3 and r["server"] == cfg["server"]
    assert emu.stats()["handshakes"] == 1
    log.close()


# ---- item 9: bytes left after an answer


def _hostile_device(name, n, per_request, api="device"):
    # a Logger of the hostile server's device `name` (Device API token, or Platform API client id)
    # with n points pending, per_request of them a batch
    hostile.require(True)
    cfg = {
        "server": hostile.tls_url(),
        "ca": hostile.ca_path(),
        "api": api,
        "streams": {"t": {"pin": "V1", "id": 1}},
        "store": {"path": tmpdir("hs") + "/store"},
        "limits": {"points_per_request": per_request},
        "upload": {"timeout_ms": 3000},
    }
    if api == "device":
        cfg["token"] = name
    else:
        cfg.update({"client_id": name, "client_secret": "s", "device_id": 1})
        cfg["streams"] = {"t": {"id": 1}}
    log = Logger(cfg)
    fill(log, "t", n)
    return log


def test_stray_bytes_after_an_answer_are_not_read_as_the_next_answer():
    # a body longer than its Content-Length: the next batch on that connection used to read the
    # stray bytes as its status line and retry a batch the server had accepted
    name = unique("tj")
    hostile.set(name, "tail-junk")
    log = _hostile_device(name, 20, 5)
    r = log.sync()
    assert r["sent"] == 20 and r["stopped"] == "done", r
    assert len(hostile.points(name)) == 20  # each batch went once
    log.close()


def _all_acknowledged_once(behaviour, tag, api):
    # 20 points in batches of 5 to the hostile server behaving so: each batch acknowledged once
    hostile.require(True)
    name = unique(tag)
    hostile.set(name, behaviour)
    log = _hostile_device(name, 20, 5, api)
    r = log.sync()
    assert r["sent"] == 20 and r["stopped"] == "done", r
    assert len(hostile.points(name)) == 20
    log.close()


def test_an_answer_with_long_header_lines_acknowledges_its_batch():
    # a CDN's long policy or cookie (and many header lines) on the server's 200/204: each batch is
    # acknowledged once, by both APIs; these answers used to be refused as malformed, and the
    # batches the server had accepted sent again at every sync
    _all_acknowledged_once("long-fields", "lf", "device")
    _all_acknowledged_once("long-fields", "lp", "platform")


def test_a_204_with_a_body_does_not_poison_the_next_request():
    _all_acknowledged_once("204-body", "nb", "platform")


# ---- item 10: the day's books across a clock set back over midnight


def test_a_clock_set_back_across_midnight_grants_the_day_no_second_quota():
    # An RTC that ran ahead says 00:00:30; the day's 10 points go. NTP then says 23:59:50 of the
    # day before: those 10 points were really sent on that day, whose quota they spent. The
    # server's clock is the true one (its Date books a batch near midnight: 23:59:20)
    fresh()
    log = Logger(device_config(limits={"points_per_day": 10, "points_per_request": 10}))
    midnight = (now_ms() // DAY_MS) * DAY_MS
    emu.config(clock_offset_ms=midnight - 40000 - now_ms())
    fake = [midnight + 30000]
    clock = Clock(log._state, port_time_ms=lambda: fake[0])  # set from the start, source "port"
    log.clock = clock
    log._uploader.clock = clock
    fill(log, "temperature", 30, start=midnight - 3600000, step=60000)
    r = log.sync()
    assert r["sent"] == 10 and r["stopped"] == "quota", r
    assert clock.set_time_ms(midnight - 10000, "ntp")
    assert clock.now_ms() < midnight
    r = log.sync()
    assert r["sent"] == 0 and r["stopped"] == "quota" and r["quota_left"] == 0, r
    fake[0] += 60000  # a minute on: past midnight, a new day and a new quota
    emu.config(clock_offset_ms=midnight + 20000 - now_ms())
    assert clock.now_ms() >= midnight
    r = log.sync()
    assert r["sent"] == 10, r
    log.close()


def test_a_day_spent_before_a_clock_ran_ahead_over_midnight_gets_no_second_quota():
    # 23:59:00: 10 of the day's 20 points go. The RTC then jumps to 00:00:30 (it ran ahead) and 10
    # more go. NTP says 23:59:50: all 20 went on the first day, whose quota is spent.
    fresh()
    log = Logger(device_config(limits={"points_per_day": 20, "points_per_request": 10}))
    midnight = (now_ms() // DAY_MS) * DAY_MS
    fake = [midnight - 60000]
    clock = Clock(log._state, port_time_ms=lambda: fake[0])
    log.clock = clock
    log._uploader.clock = clock
    fill(log, "temperature", 10, start=midnight - 3600000, step=60000)
    assert log.sync()["sent"] == 10
    fake[0] = midnight + 30000
    fill(log, "temperature", 10, start=midnight - 1800000, step=60000)
    assert log.sync()["sent"] == 10
    assert clock.set_time_ms(midnight - 10000, "ntp")
    fill(log, "temperature", 10, start=midnight - 1200000, step=60000)
    r = log.sync()
    assert r["sent"] == 0 and r["quota_left"] == 0, r
    log.close()


def test_points_sent_by_a_clock_ahead_of_the_servers_across_midnight_are_booked_on_its_day():
    # The server at 23:59:00, the device 2 minutes ahead, at 00:01:00 of the next day: the day's
    # 20 points go, and the server counts them on its day; no fifth batch is asked for (the
    # device's new day allowed it, the server's did not: it was refused). Past the server's
    # midnight the device, which booked them on its own next day, sent nothing more: that day's
    # quota lay unused
    fresh(points_per_day=20)
    to_midnight = DAY_MS - now_ms() % DAY_MS
    server = to_midnight - 60000
    emu.config(clock_offset_ms=server)
    try:
        shift_device_clock(server + 120000)
        log = Logger(device_config(limits={"points_per_day": 20, "points_per_request": 5}))
        start = now_ms() + server - 3600000
        fill(log, "temperature", 50, start=start, step=1000)
        first = log.sync()
        emu.config(clock_offset_ms=server + 70000)  # both 70 s on: the server 10 s past its midnight
        shift_device_clock(server + 190000)
        second = log.sync()
        log.close()
    finally:
        shift_device_clock(0)
    assert first["sent"] == 20 and first["stopped"] == "quota", first
    assert second["sent"] == 20 and emu.quota_used(1) == 20, second
    assert 400 not in [q["status"] for q in emu.requests() if "/batch/" in q["path"]]


def test_a_clock_behind_the_servers_at_midnight_keeps_the_count_of_the_servers_new_day():
    # The device a minute behind the server. 23:58 (both): 60 of the day's 100 go. Device
    # 23:59:30, server 00:00:30: 40 go, booked by the server's Date on its new day. Device
    # 23:59:40: the books of the server's day were folded into the device's old one as if its
    # clock had been set back, and forgotten at its midnight: 100 left where 60 were, and the
    # next batch was refused as over the server's daily limit. Now the 60 go at one of the two
    # later syncs, asked by the server's day
    fresh(points_per_day=100)
    midnight = (now_ms() // DAY_MS + 5) * DAY_MS

    def at(device_ms, server_ms):
        shift_device_clock(device_ms - now_ms())
        emu.config(clock_offset_ms=server_ms - now_ms())

    try:
        at(midnight - 120000, midnight - 120000)
        log = Logger(device_config(limits={"points_per_day": 100}))
        fill(log, "temperature", 60, start=midnight - 3600000, step=1000)
        assert log.sync()["sent"] == 60
        at(midnight - 30000, midnight + 30000)
        fill(log, "temperature", 40, start=midnight - 1800000, step=1000)
        assert log.sync()["sent"] == 40
        at(midnight - 20000, midnight + 40000)
        fill(log, "temperature", 200, start=midnight - 1200000, step=1000)
        third = log.sync()
        at(midnight + 60000, midnight + 120000)
        left = log.stats()["quota_left"]
        server_left = 100 - emu.quota_used(1)
        fourth = log.sync()
        log.close()
    finally:
        shift_device_clock(0)
    statuses = [q["status"] for q in emu.requests() if "/batch/" in q["path"]]
    assert 400 not in statuses, statuses
    assert third["sent"] + fourth["sent"] == 60 and emu.quota_used(1) == 100, (third, fourth)
    assert left == server_left, (left, server_left)


# ---- item 12: the clock's count of samples it could never place


def test_samples_dropped_as_unplaceable_are_counted_by_the_clock():
    # (note_stored, the other never-called hook, stays uncalled on purpose: the clock's own stamps
    # keep its newest time; a caller's add(ts=...) may be a day ahead, or anything while the clock
    # is unset, and would make a correct NTP time look like a step back. See clock.py's header.)
    fresh()
    cfg = device_config()
    log = Logger(cfg)
    _unset_clock(log)
    for i in range(4):
        log.add("temperature", i * 1.0)
        sleep_ms(3)
    log.close()  # power cut without an anchor: that boot's samples can never be placed
    import blynklog

    blynklog._clocks.clear()  # (the reset: what this process kept of that boot's clock goes)
    log = Logger(cfg)
    r = log.sync()
    assert r["unplaceable"] == 4
    assert log.clock.stats()["unplaceable"] == 4
    log.close()
    log = Logger(cfg)  # and it is kept across boots
    assert log.clock.stats()["unplaceable"] == 4
    log.close()


# ---- item 13: the server answers before the body is sent and closes


def test_a_success_answered_before_the_body_was_sent_acknowledges_nothing():
    # a server (a proxy) that says 200 after the head and closes without reading the body has not
    # taken the batch: it must not count as sent (it did, and the batch was lost)
    name = unique("eo")
    hostile.set(name, "early-ok")
    # about 150 KB, far over the 16 KB the server reads: still going out when the answer comes
    log = hostile.hold_large_bodies(_hostile_device(name, 6000, 6000))
    r = log.sync()
    assert r["sent"] == 0 and r["pending"] == 6000 and r["stopped"] == "retry", r
    assert r["last_error"] and "before" in r["last_error"], r
    assert hostile.points(name) == []
    log.close()


def test_an_early_413_before_the_body_is_sent_is_read_and_the_batch_halved():
    # a proxy with a body limit answers 413 after the head and closes: the client's send fails
    # mid-body. That answer used to be lost (a network fault), so the same batch went forever.
    name = unique("e4")
    hostile.set(name, "early-413")
    # about 150 KB, far over the proxy's 16 KB: still going out when the answer comes
    log = hostile.hold_large_bodies(_hostile_device(name, 6000, 6000))
    r = log.sync()
    assert r["sent"] == 6000 and r["pending"] == 0 and r["stopped"] == "done", r
    assert len(hostile.points(name)) == 6000
    log.close()


def test_a_clock_set_back_to_minutes_before_midnight_grants_the_day_no_second_quota():
    # 70 of the day's 100 go; the RTC then runs 15 minutes ahead: at its 00:15 (the server's
    # 23:45) 30 go, on the server's first day. NTP sets it back to 23:56: within 10 minutes of
    # midnight the books were read as the server's next day's, and 70 more were asked (refused)
    fresh(points_per_day=100)
    midnight = (now_ms() // DAY_MS + 5) * DAY_MS
    log = Logger(device_config(limits={"points_per_day": 100, "points_per_request": 100}))
    fake = [midnight - 180 * 60000]
    emu.config(clock_offset_ms=fake[0] - now_ms())
    clock = Clock(log._state, port_time_ms=lambda: fake[0])
    log.clock = clock
    log._uploader.clock = clock
    fill(log, "temperature", 70, start=midnight - 300 * 60000, step=1000)
    assert log.sync()["sent"] == 70
    fake[0] = midnight + 15 * 60000
    emu.config(clock_offset_ms=midnight - 15 * 60000 - now_ms())
    fill(log, "temperature", 30, start=midnight - 290 * 60000, step=1000)
    assert log.sync()["sent"] == 30
    emu.config(clock_offset_ms=midnight - 4 * 60000 - now_ms())
    assert clock.set_time_ms(midnight - 4 * 60000, "ntp")
    fill(log, "temperature", 50, start=midnight - 280 * 60000, step=1000)
    left = log.stats()["quota_left"]
    r = log.sync()
    log.close()
    statuses = [q["status"] for q in emu.requests() if "/batch/" in q["path"]]
    assert left == 0 and r["sent"] == 0 and 400 not in statuses, (left, r, statuses)
