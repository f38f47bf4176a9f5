# A sampling wake (Logger(path), add, flush, before_sleep) imports and reads no more than it needs:
# no upload module, no validator for a configuration file validated before, no segment of the
# backlog but the one it appends to. And the validated-config cache never stands in for a file
# that changed or a 'ca' file that stopped being a certificate.
import json
import sys

import blynklog
import blynklog.store as store_mod
import blynklog.store_open as open_mod  # imported here: Store() keeps it, with its stand-in open
from logger_support import Unloaded
from blynklog import ConfigError, Logger
from blynklog.store import Store
from support import raises, tmpdir

UPLOAD_MODULES = (
    "blynklog.logger_sync",
    "blynklog.policy",
    "blynklog.encoder",
    "blynklog.blynk",
    "blynklog.http",
    "blynklog.requests_transport",
    "blynklog.body",
)
T0 = 1767225600000
# a certificate's outer shape: a SEQUENCE of 200 bytes whose first element is a SEQUENCE
DER = b"\x30\x81\xc8\x30\x81\xc5" + bytes(197)


def _write_config(folder, **over):
    cfg = {
        "server": "https://127.0.0.1:9",
        "api": "device",
        "token": "wake-token",
        "insecure": True,
        "streams": {"t": {"pin": "V1", "decimals": 2}, "n": {"pin": "V2", "type": "int"}},
        "store": {"path": "data-folder", "capacity": 65536},
    }
    for k in over:
        cfg[k] = over[k]
    path = folder + "/config.json"
    with open(path, "w") as f:
        f.write(json.dumps(cfg))
    return path


def _wake(path):
    log = Logger(path)
    log.add("t", 21.5)
    log.add("n", 7)
    log.add("t", 21.75)
    log.flush()
    log.before_sleep(60000)
    return log


class _CountingOpen:
    # stands in for `open` in a module's globals: records (path, mode) of every call
    def __init__(self):
        self.calls = []

    def __call__(self, path, mode="r", *rest):
        self.calls.append((path, mode))
        return open(path, mode, *rest)


def _with_open(module, fn):
    counting = _CountingOpen()
    had = "open" in module.__dict__
    module.open = counting
    try:
        fn()
    finally:
        if had:
            module.open = open
        else:
            del module.open
    return counting.calls


def test_a_logger_that_only_adds_imports_no_upload_module():
    path = _write_config(tmpdir("wake"))
    with Unloaded(UPLOAD_MODULES) as u:
        log = _wake(path)
        loaded = u.loaded()
        log.close()
    assert loaded == [], loaded


def test_stats_imports_the_upload_side_the_wake_left_out():
    path = _write_config(tmpdir("wake"))
    with Unloaded(UPLOAD_MODULES) as u:
        log = _wake(path)
        assert log.stats()["pending"] == 3
        loaded = u.loaded()
        log.close()
    assert "blynklog.logger_sync" in loaded and "blynklog.policy" in loaded, loaded


def test_stats_leaves_out_the_bodys_two_passes():
    # body.py is native code on a board (some 7 KB of heap): only a body loads it
    path = _write_config(tmpdir("wake"))
    with Unloaded(UPLOAD_MODULES) as u:
        log = _wake(path)
        log.stats()
        loaded = u.loaded()
        log.close()
    assert "blynklog.policy" in loaded and "blynklog.body" not in loaded, loaded


# what a sampling wake of a store of frames needs besides the package, compat, clock (with the
# state file), store and frame: none of these (record.py is the format 1/2 and raw backend's codec,
# segment.py and legacy.py the store's reading side, clock_set.py setting the time and its figures)
NOT_AT_A_WAKE = (
    "blynklog.record",
    "blynklog.segment",
    "blynklog.legacy",
    "blynklog.clock_set",
    "blynklog.config",
    "blynklog.logger_open",
)


def test_a_sampling_wake_loads_neither_record_nor_the_stores_reading_side():
    path = _write_config(tmpdir("wake"))
    _wake(path).close()  # the first wake validates, writes the cache and the store's first frame
    with Unloaded(NOT_AT_A_WAKE + UPLOAD_MODULES) as u:
        log = _wake(path)
        loaded = u.loaded()
    log.close()
    assert loaded == [], loaded


def test_a_sampling_wake_with_a_backlog_loads_no_more_than_one_with_an_empty_store():
    path = _write_config(tmpdir("wake"))
    log = Logger(path)
    for i in range(3000):  # ints that pack badly (some 3 bytes each): a backlog over several segments
        log.add("n", (i * 7919) % 1000003, ts=T0 + i * 1000)
    log.close()
    with Unloaded(NOT_AT_A_WAKE + UPLOAD_MODULES) as u:
        log = _wake(path)
        loaded = u.loaded()
    assert log._store._uncounted > 0  # the backlog was there, not counted
    log.close()
    assert loaded == [], loaded


class _Validator:
    # stands in for blynklog.config in sys.modules: counts the validations it is asked for
    def __init__(self):
        self.calls = 0

    def load(self, config, raw=None):
        self.calls += 1
        raise ValueError("the stand-in validator was asked")


def test_an_unchanged_config_file_is_not_validated_again():
    path = _write_config(tmpdir("wake"))
    first = Logger(path)
    first.close()
    validator = _Validator()
    with Unloaded(("blynklog.config",)):
        sys.modules["blynklog.config"] = validator
        log = Logger(path)
    assert validator.calls == 0
    assert log._cfg == first._cfg
    log.close()


def test_the_caches_key_names_this_validator_by_its_bytes():
    # a changed config.py, devices.py (a gateway's validation) or json_check.py (a file's syntax)
    # invalidates every cache: _VALIDATOR is the CRC-32 of their bytes in that order (update it
    # with the files)
    import binascii

    crc = 0
    for name in ("config.py", "devices.py", "json_check.py"):
        with open(blynklog.__file__.rsplit("/", 1)[0] + "/" + name, "rb") as f:
            crc = binascii.crc32(f.read(), crc)
    assert blynklog._VALIDATOR == "%08x" % (crc & 0xFFFFFFFF)


def test_the_validator_leaves_ram_once_it_has_validated():
    path = _write_config(tmpdir("wake"))
    with Unloaded(("blynklog.config",)) as u:
        log = Logger(path)
        loaded = u.loaded()
        attr = "config" in blynklog.__dict__  # (the with block puts back what was there before)
    log.close()
    assert loaded == [], loaded
    assert not attr


def test_the_cache_is_written_at_the_first_logger_and_not_at_the_next():
    # the cache is written by blynklog.logger_open, which the Logger drops after each use: the
    # module is put back into sys.modules before each Logger() so that its open() can be counted
    import blynklog.logger_open as steps

    path = _write_config(tmpdir("wake"))
    writes = []
    for _ in range(3):
        sys.modules["blynklog.logger_open"] = steps
        calls = []
        calls += _with_open(steps, lambda calls=calls: calls.extend(_with_open(blynklog, lambda: Logger(path).close())))
        writes.append(len([c for c in calls if c[1].startswith("w")]))
    sys.modules.pop("blynklog.logger_open", None)
    blynklog.__dict__.pop("logger_open", None)
    assert writes == [1, 0, 0], writes


def test_a_changed_config_is_validated_again_and_takes_effect():
    folder = tmpdir("wake")
    path = _write_config(folder)
    Logger(path).close()
    _write_config(folder, streams={"t": {"pin": "V1", "decimals": 3}, "n": {"pin": "V2", "type": "int"}})
    log = Logger(path)
    assert log._cfg["streams"]["t"]["decimals"] == 3
    log.close()


def test_a_changed_config_that_is_invalid_fails_though_a_cache_exists():
    folder = tmpdir("wake")
    path = _write_config(folder)
    Logger(path).close()
    _write_config(folder, streams={"t": {"pin": "V999"}})
    e = raises(ConfigError, Logger, path)
    assert str(e).startswith("streams.t.pin:"), str(e)


def test_the_same_bytes_at_another_path_are_validated_for_that_path():
    # relative paths are taken from the config's folder: a cache is for one file's path
    a = tmpdir("wake")
    b = tmpdir("wake")
    Logger(_write_config(a)).close()
    log = Logger(_write_config(b))
    assert log._cfg["store"]["path"] == b + "/data-folder"
    log.close()


def test_a_damaged_cache_falls_back_to_validation():
    folder = tmpdir("wake")
    path = _write_config(folder)
    Logger(path).close()
    cache = folder + "/data-folder/config.cache"
    with open(cache, "rb") as f:
        data = bytearray(f.read())
    i = data.find(b"65536", len(data) // 2)  # the capacity in the validated JSON
    data[i] = ord("9")
    with open(cache, "wb") as f:
        f.write(data)
    log = Logger(path)
    assert log._cfg["store"]["capacity"] == 65536
    log.close()


def _ca_changed_after_the_cache(data):
    # a Logger with a DER ca opened once (its configuration cached), then the ca file holds data
    # -> the error of the next Logger()
    folder = tmpdir("wake")
    with open(folder + "/ca.der", "wb") as f:
        f.write(DER)
    path = _write_config(folder, insecure=False, ca="ca.der")
    Logger(path).close()
    with open(folder + "/ca.der", "wb") as f:
        f.write(data)
    return raises(ConfigError, Logger, path)


def test_a_ca_file_that_stops_being_a_certificate_fails_though_a_cache_exists():
    e = _ca_changed_after_the_cache(b"-----BEGIN CERTIFICATE-----\n" + b"A" * 100 + b"\n")
    assert str(e).startswith("ca:"), str(e)


def test_a_ca_file_cut_short_fails_though_a_cache_exists():
    e = _ca_changed_after_the_cache(DER[:200])
    assert str(e).startswith("ca:"), str(e)


def _filled_store(path, segments):
    s = Store(path, capacity=64 * 256, segment_size=256)
    sid = s.stream_id("t")
    i = 0
    while len(s._segs) < segments:
        s.append(sid, T0 + i, float(i), 0, 2)
        i += 1
    s.close()
    return sid


def test_opening_the_store_and_appending_reads_only_the_write_segment():
    path = tmpdir("wake") + "/s"
    sid = _filled_store(path, 6)
    names = []
    calls_open = []

    def wake():
        s = Store(path, capacity=64 * 256, segment_size=256)
        names.append(s._seg_name(s._segs[-1]))
        assert s.stream_id("t") == sid
        s.append(sid, T0 + 10**6, 1.5, 0, 2)
        s.flush()
        s.close()

    calls = _with_open(store_mod, lambda: calls_open.extend(_with_open(open_mod, wake)))
    calls += calls_open
    segments = sorted(set(p for p, mode in calls if p.endswith(".seg")))
    assert segments == names, (segments, names)
