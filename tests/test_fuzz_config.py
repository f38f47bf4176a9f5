# Hand-edited configurations (seeded random cases, both runtimes): wrong types, missing keys, huge
# values, unknown keys, bad server URLs, unreadable CA files, files that are not JSON. config.load()
# and Logger() either work or raise one ConfigError (a ValueError) whose message starts with the key
# at fault; nothing else escapes. Every assertion message carries the seed that reproduces it.
import os

import blynklog
from blynklog import config
from blynklog.config import ConfigError
from fuzzlib import Rng, json_value, mutate
from support import raises, tmpdir

TOP = (
    "server",
    "api",
    "client_id",
    "client_secret",
    "token",
    "device_id",
    "ca",
    "streams",
    "store",
    "limits",
    "upload",
    "clock",
    "insecure",
)
_KEYS = TOP + (
    "id",
    "pin",
    "type",
    "decimals",
    "path",
    "capacity",
    "on_full",
    "backend",
    "flush_records",
    "flush_bytes",
    "flush_ms",
    "points_per_day",
    "max_age_days",
    "points_per_request",
    "timeout_ms",
    "budget_ms",
    "retry_base_s",
    "ntp_host",
    "min_year",
)
BAD_URLS = (
    "",
    "https://",
    "http://",
    "ftp://x",
    "https://x/api",
    "https://x:0",
    "https://x:65536",
    "https://x:",
    "https://x:y",
    "https://:80",
    "https://[::1]:80",
    "https://a b",
    "https://user@x",
    "https://x?y=1",
    "https://x#f",
    "HTTPS://X",
    "https://x:-1",
    "https://x::80",
    "https://x:80:80",
    "//x",
    "://x",
    "https://\u00e9t\u00e9.example",
    "https://x\x00y",
    "https://" + "a" * 300,
    "https://x:99999999999999999999",
    "https://x:\u0668\u0660",
    "https://x:8_0",
    "https://x:+80",
    "https:/x",
    "https:x",
    " https://x",
    "https://x ",
)


def device_cfg(path):
    return {
        "server": "https://fra1.blynk.cloud",
        "api": "device",
        "token": "tok-123",
        "insecure": True,
        "streams": {
            "t": {"pin": "V1", "type": "double", "decimals": 2},
            "n": {"pin": "V2", "type": "int"},
            "s": {"pin": "V3", "type": "string"},
            "g": {"pin": "V4", "type": "location"},
        },
        "store": {"path": path, "capacity": 65536, "on_full": "drop_oldest", "flush_records": 8},
        "limits": {"points_per_day": 10000, "max_age_days": 30, "points_per_request": 100},
        "upload": {"timeout_ms": 2000, "budget_ms": 5000, "retry_base_s": 1, "backlog_policy": "spread"},
        "clock": {"ntp_host": "pool.ntp.org", "min_year": 2025},
    }


def platform_cfg(path):
    cfg = device_cfg(path)
    del cfg["token"]
    cfg.update({"api": "platform", "client_id": "cid", "client_secret": "sec", "device_id": 7})
    cfg["streams"] = {"t": {"id": 1, "type": "float"}, "b": {"id": 2, "type": "bool", "pin": "V9"}}
    return cfg


def named_key(e, seed, where):
    # The ConfigError's message starts with a key from the configuration, or "config".
    msg = str(e)
    key = msg.split(": ", 1)[0]
    # a stream's name is part of its key and may hold spaces
    assert ": " in msg and (" " not in key or key.startswith("streams.")), "seed %d (%s): no key in %r" % (
        seed,
        where,
        msg,
    )
    top = key.split(".")[0].split("[")[0]
    assert top in TOP or top == "config", "seed %d (%s): %r names no known key" % (seed, where, msg)
    return key


def load_or_key(cfg, seed, where):
    # -> the loaded config, or None after checking the error names a key.
    try:
        out = config.load(cfg)
    except ConfigError as e:
        named_key(e, seed, where)
        return None
    except Exception as e:
        raise AssertionError("seed %d (%s): %s escaped: %s" % (seed, where, type(e).__name__, e))
    assert out["api"] in ("platform", "device"), "seed %d" % seed
    return out


def test_mutated_configs_load_or_name_the_key():
    base = (device_cfg("/tmp/x"), platform_cfg("/tmp/x"))
    for seed in range(400):
        rng = Rng(seed)
        cfg = base[seed & 1]
        done = []
        for _ in range(rng.between(1, 3)):
            cfg, what = mutate(rng, cfg, _KEYS)
            done.append(what)
        load_or_key(cfg, seed, "; ".join(done))


def test_random_documents_load_or_name_the_key():
    for seed in range(300):
        rng = Rng(1000 + seed)
        cfg = json_value(rng, 3)
        if rng.chance(70):
            cfg = {}
            for _ in range(rng.below(8)):
                cfg[rng.choice(TOP)] = json_value(rng, 2)
        load_or_key(cfg, seed, "random document")


def test_bad_server_urls_name_server():
    for i in range(len(BAD_URLS)):
        url = BAD_URLS[i]
        out = load_or_key(dict(device_cfg("/tmp/x"), server=url), i, "server %r" % url)
        if out is not None:
            # accepted: then the transport can use it as it is
            from blynklog.http import split_url

            scheme, host, port, prefix = split_url(out["server"])
            assert scheme in ("http", "https") and host and 0 < port < 65536 and prefix == "", (url, out["server"])


def test_random_server_strings_load_or_name_server():
    chars = "hts:/.-_[]@?#%: 0123456789abcxyz\u00e9\x00"
    for seed in range(300):
        rng = Rng(2000 + seed)
        url = "".join(rng.choice(chars) for _ in range(rng.below(24)))
        if rng.chance(50):
            url = rng.choice(("https://", "http://")) + url
        try:
            out = config.load(dict(device_cfg("/tmp/x"), server=url))
        except ConfigError as e:
            assert str(e).startswith("server: "), "seed %d: %r -> %r" % (seed, url, str(e))
            continue
        except Exception as e:
            raise AssertionError("seed %d: server %r: %s escaped: %s" % (seed, url, type(e).__name__, e))
        from blynklog.http import split_url

        split_url(out["server"])


def test_unreadable_ca_files_name_ca():
    d = tmpdir("ca")
    os.mkdir(d + "/folder")
    contents = {
        "empty.der": b"",
        "pem.der": b"-----BEGIN CERTIFICATE-----\nMIIB\n",
        "short.der": b"\x30\x82\x01",
        "junk.der": bytes(range(256)) * 2,
    }
    for name in contents:
        with open(d + "/" + name, "wb") as f:
            f.write(contents[name])
    cases = [
        "missing.der",
        d + "/folder",
        d + "/empty.der",
        d + "/pem.der",
        d + "/short.der",
        d + "/junk.der",
        [],
        [d + "/missing.der"],
        ["", 5],
        5,
        {"a": 1},
        True,
    ]
    for i in range(len(cases)):
        cfg = dict(device_cfg("/tmp/x"), ca=cases[i])
        e = None
        try:
            config.load(cfg)
        except ConfigError as err:
            e = err
        except Exception as err:
            raise AssertionError("ca %r: %s escaped: %s" % (cases[i], type(err).__name__, err))
        assert e is not None, "ca %r was accepted" % (cases[i],)
        assert str(e).startswith("ca"), "ca %r: %r" % (cases[i], str(e))


def test_config_files_that_are_not_json_name_config():
    d = tmpdir("cf")
    good = '{"api": "device", "token": "t", "insecure": true, "streams": {"t": {"pin": "V1"}}}'
    for seed in range(120):
        rng = Rng(3000 + seed)
        k = rng.below(4)
        if k == 0:
            data = rng.bytes(rng.below(200))
        elif k == 1:
            data = good[: rng.below(len(good))].encode()
        elif k == 2:
            b = bytearray(good.encode())
            for _ in range(rng.between(1, 4)):
                b[rng.below(len(b))] = rng.u32() & 0xFF
            data = bytes(b)
        else:
            data = b"[" * rng.between(1, 50000)
        path = d + "/c%d.json" % seed
        with open(path, "wb") as f:
            f.write(data)
        try:
            config.load(path)
        except ConfigError as e:
            named_key(e, seed, "file %r" % data[:40])
        except Exception as e:
            raise AssertionError("seed %d: file %r: %s escaped: %s" % (seed, data[:40], type(e).__name__, e))


def test_a_missing_config_file_names_config():
    e = None
    try:
        config.load("/nonexistent/blynklog/config.json")
    except ConfigError as err:
        e = err
    assert e is not None and str(e).startswith("config: ")


def test_logger_with_a_mutated_config_works_or_names_the_key():
    base = tmpdir("lg")
    cwd = os.getcwd()
    os.chdir(base)  # a mutation that drops store.path puts the default store here, not in the checkout
    try:
        for seed in range(60):
            rng = Rng(4000 + seed)
            path = "%s/s%d" % (base, seed)
            cfg = (device_cfg(path), platform_cfg(path))[seed & 1]
            cfg, what = mutate(rng, cfg, _KEYS)
            store = cfg.get("store")
            if isinstance(store, dict) and "path" in store:
                store["path"] = path  # never let a random path create folders outside the test's own
            try:
                log = blynklog.Logger(cfg)
            except ConfigError as e:
                named_key(e, seed, what)
                continue
            except Exception as e:
                raise AssertionError("seed %d (%s): Logger() raised %s: %s" % (seed, what, type(e).__name__, e))
            try:
                st = log.stats()
                assert st["pending"] == 0, "seed %d" % seed
            finally:
                log.close()
    finally:
        os.chdir(cwd)


def _file_error(data):
    path = tmpdir("cfe") + "/config.json"
    with open(path, "wb") as f:
        f.write(data)
    try:
        config.load(path)
    except ConfigError as e:
        return str(e)
    raise AssertionError("no ConfigError for %r" % data[:40])


def test_a_config_file_that_is_not_utf8_names_config():
    # found by the fuzzing above: UnicodeError escaped from the file's read
    assert _file_error(b'{"api": "devi\xcde"}').startswith("config: ")


def test_a_config_file_nested_too_deep_names_config():
    # found by the fuzzing above: CPython's parser raised RecursionError
    assert _file_error(b"[" * 100000).startswith("config: ")


def test_a_store_path_that_is_a_file_raises_an_error_naming_the_store():
    # found by the fuzzing above: a bare "[Errno 20]" (on the unix port just "20") came out; the
    # file is the configuration's fault, named as such
    d = tmpdir("sf")
    with open(d + "/file", "w") as f:
        f.write("x")
    e = raises(ConfigError, blynklog.Logger, device_cfg(d + "/file"))
    assert str(e).startswith("store.path:") and d in str(e)


def test_a_store_path_below_a_file_raises_an_error_naming_the_store():
    d = tmpdir("sf")
    with open(d + "/file", "w") as f:
        f.write("x")
    e = raises(OSError, blynklog.Logger, device_cfg(d + "/file/data"))
    assert "store" in str(e) and d in str(e)


def test_a_stream_name_the_store_cannot_keep_names_the_stream():
    # found by the hypothesis cases: config accepted these names, then Logger() failed inside the
    # store with a bare "bad stream name"
    for name in ("a\nb", "\U0001f600" * 32):
        cfg = device_cfg("/tmp/x")
        cfg["streams"] = {name: {"pin": "V1"}}
        e = raises(ConfigError, config.load, cfg)
        assert str(e).startswith("streams.%s: " % name), str(e)


def test_a_nul_in_a_file_name_names_its_key():
    # found by the hypothesis cases: open() raised ValueError "embedded null byte" from inside load()
    assert str(raises(ConfigError, config.load, dict(device_cfg("/tmp/x"), ca="a\x00b"))).startswith("ca: ")
    assert str(raises(ConfigError, config.load, device_cfg("/tmp/x\x00y"))).startswith("store.path: ")


def test_a_config_file_with_an_overlong_utf8_form_names_config_on_every_runtime():
    # MicroPython's decoder read 0xC1 0xA5 as "e"; UTF-8 (and CPython) has no such form
    e = _file_error(b'{"api": "devic\xc1\xa5", "token": "t", "streams": {"t": {"pin": "V1"}}}')
    assert e.startswith("config: ") and "not UTF-8" in e, e


def test_a_config_file_with_an_encoded_surrogate_names_config_on_every_runtime():
    e = _file_error(b'{"api": "device", "token": "t", "streams": {"\xed\xa0\x80": {"pin": "V1"}}}')
    assert e.startswith("config: ") and "not UTF-8" in e, e


def test_a_config_file_with_a_code_point_past_u10ffff_names_config_on_every_runtime():
    e = _file_error(b'{"api": "device", "token": "t", "streams": {"\xf4\x90\x80\x80": {"pin": "V1"}}}')
    assert e.startswith("config: ") and "not UTF-8" in e, e


def test_a_config_file_in_utf8_with_letters_beyond_ascii_loads():
    path = tmpdir("cfu") + "/config.json"
    with open(path, "wb") as f:
        f.write(
            '{"api": "device", "token": "t", "insecure": true, "streams": {"t\u00e9\u20ac\U0001f600": {"pin": "V1"}}}'.encode()
        )
    assert list(config.load(path)["streams"]) == ["t\u00e9\u20ac\U0001f600"]
