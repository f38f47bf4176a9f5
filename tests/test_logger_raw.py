# The Logger on the raw-flash store ("store": {"backend": "raw"}), end to end against the local
# Blynk emulator: every sample arrives once, the books balance, the upload policy's counters
# (kept in the store's commit frames as meta) survive a reopen, and close() closes the device
# file. On the host the device is a NOR flash simulated in <store.path>/nor.bin, "capacity" bytes.
# Runs on CPython and the unix port.
import emu
from blynklog import Logger
from logger_support import DAY_MS, device_config, now_ms, received

PINS = {"temperature": 1, "humidity": 2, "pressure": 3}  # the emulator's stream ids (V1..V3)


def fresh():
    emu.require()
    emu.reset()
    emu.config(points_per_day=10000, max_age_days=30, token_lifetime_s=86400)


def raw_config(capacity=65536, **over):
    cfg = device_config(**over)
    cfg["store"]["backend"] = "raw"
    cfg["store"]["capacity"] = capacity
    return cfg


def fill(log, n, start=None, step=1000):
    # n samples on each of the three streams; returns {stream: [(ts, value), ...]} as added
    start = start if start is not None else now_ms() - n * step - 1000
    added = {}
    for name in PINS:
        added[name] = []
    for i in range(n):
        for k, name in enumerate(PINS):
            ts = start + i * step + k
            v = i * 0.5 + k
            assert log.add(name, v, ts=ts)
            added[name].append((ts, v))
    return added


def balanced(st, added):
    return (
        added == st["sent"] + st["pending"] + st["dropped_full"] + st["dropped_stale"] + st["rejected"] + st["thinned"]
    )


def test_every_sample_on_three_streams_arrives_exactly_once_from_the_raw_store():
    fresh()
    log = Logger(raw_config(limits={"points_per_request": 25}))
    added = fill(log, 60)
    r = log.sync()
    assert r["sent"] == 180 and r["pending"] == 0 and r["stopped"] == "done"
    for name in PINS:
        got = received(PINS[name])
        assert [p[0] for p in got] == [a[0] for a in added[name]], name
        assert [round(p[1], 2) for p in got] == [a[1] for a in added[name]], name
    assert log.sync()["requests"] == 0
    log.close()


def test_the_books_balance_on_the_raw_store():
    fresh()
    log = Logger(raw_config(limits={"points_per_day": 40, "max_age_days": 2, "points_per_request": 10}))
    # added first, so that they are in the first batch of their stream
    old = now_ms() - 3 * DAY_MS
    for i in range(4):
        log.add("humidity", 1.0, ts=old + i * 1000)  # too old for Blynk: dropped_stale
    dup = now_ms() - 3600000
    log.add("pressure", 7.0, ts=dup)
    log.add("pressure", 8.0, ts=dup)  # a duplicate timestamp: rejected
    fill(log, 20)
    r = log.sync()  # batches of 10 taking turns: 40 sent, then the day's quota stops it
    st = log.stats()
    assert st["sent"] == 40 and st["dropped_stale"] == 4 and st["rejected"] == 1 and st["pending"] == 21
    assert r["sent"] == 40 and r["stopped"] == "quota"
    assert balanced(st, 66)
    assert r["pending"] == st["pending"] and st["store"]["backend"] == "raw"
    log.close()


def test_a_reopen_keeps_the_pending_and_sent_counts():
    fresh()
    cfg = raw_config(limits={"points_per_day": 50})
    log = Logger(cfg)
    fill(log, 30)
    log.sync()
    st = log.stats()
    assert st["sent"] == 50 and st["pending"] == 40
    log.close()
    log = Logger(cfg)
    st2 = log.stats()
    assert st2["sent"] == 50 and st2["pending"] == 40 and st2["pending_by_stream"] == st["pending_by_stream"]
    assert st2["quota_left"] == 0 and log.sync()["sent"] == 0  # the day's quota came back too
    log.close()


def test_the_rest_goes_after_a_reopen_and_every_sample_arrives_once():
    fresh()
    cfg = raw_config(limits={"points_per_day": 50})
    log = Logger(cfg)
    added = fill(log, 30)
    log.sync()
    log.close()
    cfg["limits"]["points_per_day"] = 1000
    log = Logger(cfg)
    r = log.sync()
    assert r["sent"] == 40 and r["pending"] == 0
    assert log.stats()["sent"] == 90
    for name in PINS:
        assert sorted(p[0] for p in received(PINS[name])) == [a[0] for a in added[name]], name
    log.close()


def test_samples_survive_without_flush_or_close():
    # every append on the raw store is durable at once: a new Logger sees them as after a cut
    fresh()
    cfg = raw_config()
    log = Logger(cfg)
    fill(log, 5)
    log2 = Logger(cfg)
    assert log2.stats()["pending"] == 15
    log2.close()
    log.close()


def test_a_full_raw_ring_drops_the_oldest_and_the_books_still_balance():
    fresh()
    log = Logger(raw_config(capacity=16384))  # 4 sectors: a chain of 3
    n = 0
    while log.stats()["dropped_full"] == 0 and n < 3000:
        fill(log, 20, start=now_ms() - 3600000 + n * 1000)
        n += 20
    r = log.sync()
    st = log.stats()
    assert st["dropped_full"] > 0 and st["pending"] == 0 and r["sent"] == st["sent"]
    assert balanced(st, 3 * n)
    log.close()


def test_close_closes_the_device_file():
    fresh()
    log = Logger(raw_config())
    dev = log._store._dev  # the FileFlash the Logger opened
    log.close()
    try:
        dev.readblocks(0, bytearray(4), 0)
        closed = False
    except (ValueError, OSError):  # "I/O operation on closed file" on both runtimes
        closed = True
    assert closed


def test_a_full_drop_newest_ring_loses_no_accepted_sample_to_the_commits_that_free_it():
    # a sync that stops inside the oldest sector (here the day's quota, after one batch of 100)
    # committed into a full last sector: the commit rotated into the oldest sector and dropped its
    # 156 accepted, unsent samples (counted in dropped_full). The last sector now keeps room for
    # the commits while the oldest one holds pending samples
    fresh()
    cfg = raw_config(16384, limits={"points_per_request": 100, "points_per_day": 100})
    cfg["store"]["on_full"] = "drop_newest"
    log = Logger(cfg)
    t0 = now_ms() - DAY_MS // 2
    accepted = 0
    while log.add("temperature", float(accepted), ts=t0 + accepted * 10):
        accepted += 1
    r = log.sync()
    assert r["sent"] == 100 and log.stats()["pending"] == accepted - 100, (r["stopped"], log.stats())
    log.close()
    cfg["limits"]["points_per_day"] = 10000
    log = Logger(cfg)
    r = log.sync()
    st = log.stats()
    log.close()
    assert r["pending"] == 0 and st["sent"] == accepted and st["dropped_full"] == 1, st
    assert [p[0] for p in received(1)] == [t0 + i * 10 for i in range(accepted)]


def test_the_samples_a_full_drop_newest_ring_refused_stay_counted_after_close_and_a_new_logger():
    # the refusals since the ring's last frame were counted in RAM only: a board whose wakes
    # sample into a full ring and sleep without a sync lost the count at each reset (6 -> 0)
    fresh()
    cfg = raw_config(16384)
    cfg["store"]["on_full"] = "drop_newest"
    t0 = now_ms() - DAY_MS // 2
    log = Logger(cfg)
    accepted = 0
    while log.add("temperature", float(accepted), ts=t0 + accepted * 10):
        accepted += 1
    refused = 1
    for i in range(5):
        assert not log.add("temperature", 1.0, ts=t0 + (accepted + i) * 10)
        refused += 1
    assert log.stats()["dropped_full"] == refused
    log.before_sleep(1000)
    log.close()
    log = Logger(cfg)
    assert not log.add("temperature", 1.0, ts=t0 + (accepted + 10) * 10)
    log.close()
    log = Logger(cfg)
    st = log.stats()
    log.close()
    assert st["dropped_full"] == refused + 1 and st["pending"] == accepted, st


def test_a_stream_whose_type_changed_sends_its_new_samples_from_the_raw_store():
    # the raw store's records carry no kind (-1): once an old int was refused, every record of
    # the stream was taken for one of that kind and set aside, the new strings with them (sent
    # 0, rejected 7)
    fresh()
    cfg = raw_config(streams={"a": {"pin": "V1", "type": "int"}})
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
    assert r["sent"] == 2 and r["rejected"] == 5, r
    assert [p[1] for p in received(1)] == ["on", "off"]


def test_a_raw_store_on_a_path_whose_littlefs_store_holds_samples_not_uploaded_is_refused_naming_the_backend():
    # store.backend changed to raw between boots: the raw ring does not see the littlefs store's
    # segments at the same store.path, so its flushed samples dropped out of pending and were
    # never uploaded (10 of 10 lost). Logger() refuses until they are uploaded, and writes nothing
    from blynklog import ConfigError
    from support import raises

    fresh()
    cfg = device_config()
    log = Logger(cfg)
    t = now_ms() - 60000
    for i in range(10):
        log.add("temperature", i * 0.5, ts=t + i)
    log.close()
    raw = dict(cfg)
    raw["store"] = dict(cfg["store"], backend="raw", capacity=65536)
    e = raises(ConfigError, Logger, raw)
    assert str(e).startswith("store.backend: ") and "10 samples" in str(e), str(e)
    import os

    assert "nor.bin" not in os.listdir(cfg["store"]["path"])
    log = Logger(cfg)  # uploaded with the littlefs backend, the raw one may take the path
    r = log.sync()
    log.close()
    assert r["sent"] == 10 and r["pending"] == 0, r
    log = Logger(raw)
    assert log.add("temperature", 1.5, ts=t + 10)
    r = log.sync()
    log.close()
    assert r["sent"] == 1, r
    assert [p[0] for p in received(1)] == [t + i for i in range(11)]


def test_a_raw_store_given_another_capacity_is_refused_naming_the_key():
    # the ring's size is fixed once written: on the host it is <store.path>/nor.bin's. Another
    # capacity at the next boot lost flushed samples uncounted (a 64 KB ring made 32 KB: 650 of
    # 1500 pending never sent; 32 KB made 64 KB: 657 of 1500). Logger() refuses it, writing nothing
    import os

    from blynklog import ConfigError
    from support import raises

    fresh()
    cfg = raw_config(capacity=65536)
    log = Logger(cfg)
    fill(log, 5)
    log.close()
    nor = cfg["store"]["path"] + "/nor.bin"
    with open(nor, "rb") as f:
        before = f.read()
    for cap in (32768, 131072):
        cfg["store"]["capacity"] = cap
        e = raises(ConfigError, Logger, cfg)
        assert str(e).startswith("store.capacity: ") and "65536" in str(e), str(e)
        assert os.stat(nor)[6] == 65536
    with open(nor, "rb") as f:
        assert f.read() == before
    cfg["store"]["capacity"] = 65536
    log = Logger(cfg)
    assert log.stats()["pending"] == 15
    log.close()
