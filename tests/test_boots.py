# A board's life across boots, through the public contract: each boot is a new Logger built from
# the configuration FILE (as a board's wake has it: the first validates it, the later ones take
# the validated-config cache and the wake journal), with what the earlier boots left in the
# store's folder (the store, state.json). Where a boot changes the file, what the earlier boots
# left must not overrule what the new file says. Runs on CPython and the unix ports against the
# local emulator. (tools/vboard.py runs whole boots as processes: tests/test_lifetime*.py.)
import json

import emu
from blynklog import Logger
from logger_support import now_ms, platform_config, received
from support import tmpdir


def fresh():
    emu.require()
    emu.reset()
    emu.config(points_per_day=10000, max_age_days=30, token_lifetime_s=86400)


def write(folder, cfg):
    # the configuration file of the board, its store beside it
    cfg = dict(cfg)
    cfg["store"] = dict(cfg["store"])
    cfg["store"]["path"] = "data"
    path = folder + "/config.json"
    with open(path, "w") as f:
        f.write(json.dumps(cfg))
    return path


def boot(path, adds=(), sync=True):
    # one wake: a Logger from the file, its samples (stream, value, ts), a sync, the end of the wake
    log = Logger(path)
    for a in adds:
        log.add(a[0], a[1], ts=a[2])
    log.flush()
    r = log.sync() if sync else None
    log.close()
    return r


def test_a_stream_parked_for_a_missing_datastream_goes_at_the_next_boot_once_the_file_names_another():
    # the server does not know the datastream (404): the stream is parked for park_s. The user
    # fixes the stream's id in the file; the next wake uploads its samples, parked no longer
    fresh()
    folder = tmpdir("boots")
    cfg = platform_config(streams={"a": {"id": 1}, "b": {"id": 99}})
    path = write(folder, cfg)
    t = now_ms() - 60000
    r = boot(path, [("a", 1.5, t), ("b", 2.5, t), ("b", 3.5, t + 1)])
    assert r["parked"] == ["b"] and r["sent"] == 1 and r["pending"] == 2, r
    cfg["streams"]["b"]["id"] = 2
    write(folder, cfg)
    r = boot(path)
    assert r["parked"] == [] and r["sent"] == 2 and r["pending"] == 0, r
    assert received(2) == [(t, 2.5), (t + 1, 3.5)]


def test_a_parked_stream_stays_parked_at_the_next_boot_when_the_file_is_the_same():
    fresh()
    folder = tmpdir("boots")
    path = write(folder, platform_config(streams={"a": {"id": 1}, "b": {"id": 99}}))
    t = now_ms() - 60000
    boot(path, [("a", 1.5, t), ("b", 2.5, t)])
    r = boot(path, [("a", 4.5, t + 1)])
    assert r["parked"] == ["b"] and r["sent"] == 1 and r["requests"] == 1 and r["pending"] == 1, r


def test_a_gateway_device_parked_as_unknown_goes_at_the_next_boot_once_the_file_names_another_device_id():
    fresh()
    emu.add_device(100, 1)
    emu.add_device(101, 1)
    folder = tmpdir("boots")
    cfg = platform_config()
    del cfg["streams"]
    del cfg["device_id"]
    cfg["devices"] = {
        "node-0": {"device_id": 100, "streams": {"s": {"id": 1}}},
        "node-1": {"device_id": 199, "streams": {"s": {"id": 1}}},
    }
    path = write(folder, cfg)
    t = now_ms() - 60000
    log = Logger(path)
    log.add("s", 1.5, ts=t, device="node-0")
    log.add("s", 2.5, ts=t, device="node-1")
    r = log.sync()
    log.close()
    assert r["parked"] == ["node-1/s"] and r["devices"]["node-1"]["pending"] == 1, r
    cfg["devices"]["node-1"]["device_id"] = 101
    write(folder, cfg)
    log = Logger(path)
    assert not log.stats()["devices"]["node-1"]["parked"]
    r = log.sync()
    log.close()
    assert r["parked"] == [] and r["devices"]["node-1"]["sent"] == 1 and r["pending"] == 0, r
    assert received(1, device=101) == [(t, 2.5)]


def test_a_platform_token_is_not_used_after_the_file_names_another_client():
    # the access token the previous client got is kept in state.json for later wakes; a file that
    # names another client (another organization's, say) must not upload with it: the next sync
    # asks for a token with the new credentials (here refused: a client the server does not know)
    fresh()
    folder = tmpdir("boots")
    cfg = platform_config(streams={"a": {"id": 1}})
    path = write(folder, cfg)
    t = now_ms() - 60000
    r = boot(path, [("a", 1.5, t)])
    assert r["sent"] == 1, r
    cfg["client_id"] = "another-client"
    write(folder, cfg)
    r = boot(path, [("a", 2.5, t + 1)])
    assert r["stopped"] == "auth" and r["sent"] == 0 and r["pending"] == 1, r
    assert received(1) == [(t, 1.5)]


def test_a_back_off_from_one_server_does_not_hold_the_next_boot_once_the_file_names_another():
    # a retry-later answer (here a 503 asking for an hour) backs off, persisted for later wakes;
    # the user points the file at another server: the next wake uploads there at once
    fresh()
    folder = tmpdir("boots")
    cfg = platform_config(streams={"a": {"id": 1}})
    path = write(folder, cfg)
    t = now_ms() - 60000
    emu.inject("status", status=503, retry_after=3600)
    r = boot(path, [("a", 1.5, t)])
    assert r["stopped"] == "retry" and r["next_retry_ms"] >= 3600000, r
    r = boot(path, [("a", 2.5, t + 1)])
    assert r["stopped"] == "backoff" and r["sent"] == 0, r  # the same file: the back-off holds
    cfg["server"] = emu.http_url()  # the emulator's plain-http listener: another server to the file
    del cfg["ca"]
    write(folder, cfg)
    log = Logger(path)
    assert log.upload_wait_ms() == 0
    log.close()
    r = boot(path)
    assert r["stopped"] == "done" and r["sent"] == 2, r
    assert received(1) == [(t, 1.5), (t + 1, 2.5)]


def test_a_sample_at_the_ts_of_one_an_earlier_boot_uploaded_is_a_duplicate_the_first_kept():
    # Blynk keeps one value per ms of a stream, and the upload keeps the first of two samples at
    # one ts: also when the first went up at an earlier boot's sync (a sketch that adds a
    # reading again after a reset, with the ts it was taken at)
    fresh()
    folder = tmpdir("boots")
    path = write(folder, platform_config(streams={"a": {"id": 1}}))
    t = now_ms() - 60000
    r = boot(path, [("a", 1.5, t)])
    assert r["sent"] == 1, r
    r = boot(path, [("a", 9.5, t), ("a", 2.5, t + 1)])
    assert r["sent"] == 1 and r["rejected"] == 1 and r["pending"] == 0, r
    assert received(1) == [(t, 1.5), (t + 1, 2.5)]
    log = Logger(path)
    s = log.stats()
    log.close()
    assert s["sent"] == 2 and s["rejected"] == 1
    assert s["rejects"][-1][1:] == ["a", t, "duplicate timestamp (the first sample kept)"], s["rejects"]


def test_a_wake_after_a_stream_whose_name_holds_a_carriage_return_was_dropped_keeps_its_samples():
    # the store keeps every name it was given, one a line of its streams file; a name may hold a
    # carriage return (only a newline is refused). The wake's journal must read that file as the
    # store does: read with newline translation (CPython's text mode), "a\rb" became two lines
    # and put "c" a line too far, so its samples went under an id the store does not have
    # (3 flushed samples lost, stats() raised "unknown stream id")
    fresh()
    folder = tmpdir("boots")
    cfg = platform_config(streams={"a\rb": {"id": 1}, "c": {"id": 2}})
    path = write(folder, cfg)
    t = now_ms() - 60000
    boot(path, [("c", 1.5, t)], sync=False)
    del cfg["streams"]["a\rb"]
    write(folder, cfg)
    boot(path, sync=False)  # validates the new file (and keeps it in the cache)
    boot(path, [("c", 2.5 + i, t + 1 + i) for i in range(3)], sync=False)  # a wake: the journal
    r = boot(path)
    assert r["sent"] == 4 and r["pending"] == 0, sorted(r.items())
    assert received(2) == [(t, 1.5), (t + 1, 2.5), (t + 2, 3.5), (t + 3, 4.5)]
