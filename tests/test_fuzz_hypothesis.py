# cpython-only: property-based cases with hypothesis (the seeded test_fuzz_* modules run on both runtimes)
# The same properties as the seeded fuzz modules, with hypothesis choosing and shrinking the cases:
# the record codec never raises on arbitrary bytes; the store keeps every intact record whatever is
# done to its segment files; config.load() works or names the key; add() round-trips or refuses
# without a trace. Derandomized and small (max_examples), so `make test` stays fast and repeatable.
import math
import os
import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import test_fuzz_add as fa
import test_fuzz_config as fc
import test_fuzz_store as fs
from blynklog import config, record
from blynklog.compat import unix_ms
from blynklog.config import ConfigError
from blynklog.store import Store
from fuzzlib import Rng
from support import tmpdir

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=40))
json_value = st.recursive(
    json_leaf,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=12), kids, max_size=4),
    max_leaves=12,
)

# ---- the record codec


@SETTINGS
@given(st.binary(max_size=1200), st.integers(0, 64))
def test_check_and_decode_never_raise_on_arbitrary_bytes(data, off):
    buf = bytearray(data)
    n = record.check(buf, off, len(buf))
    assert n == 0 or off + n <= len(buf)
    got = record.decode(buf, off, 1700000000000)
    assert (got is None) == (n == 0)


values = st.one_of(
    st.booleans(),
    st.integers(-(1 << 63), (1 << 63) - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=300),
    st.tuples(st.floats(-180, 180), st.floats(-90, 90)),
)


@SETTINGS
@given(values, st.integers(0, (1 << 56) - 1), st.integers(0, 254), st.integers(0, 3))
def test_every_storable_value_round_trips_through_the_codec(value, ts, sid, flags):
    buf = bytearray(record.MAX_RECORD + 8)
    base = max(0, ts - 12345)
    n = record.encode_into(buf, 0, sid, ts, value, flags, None, base)
    got = record.decode(buf, 0, base, n)
    assert got is not None and got[:4] == (n, sid, ts, flags)
    v = got[4]
    if isinstance(value, tuple):
        assert v == value
    elif isinstance(value, bool):
        assert v is value
    else:
        assert type(v) is type(value) and (v == value)
        if isinstance(value, float):
            assert struct.pack("<d", v) == struct.pack("<d", value)


# ---- the store: operations on segment files


damage = st.lists(
    st.tuples(
        st.integers(0, 1000),
        st.sampled_from(("flip", "truncate", "append", "replace", "erase", "delete")),
        st.integers(0, 10000),
        st.binary(min_size=1, max_size=64),
    ),
    min_size=1,
    max_size=4,
)


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.integers(0, 2**32 - 1), damage)
def test_a_damaged_store_keeps_every_intact_record(seed, ops):
    path = tmpdir("hs") + "/store"
    fs._fill(path, Rng(seed), 20 + seed % 100)
    s = Store(path, capacity=64 * fs._SEG, segment_size=fs._SEG)
    spans = fs._spans(s, [0, 1, 2])
    s.close()
    names = fs._segments(path)
    before = dict((n, fs._read(path + "/" + n)) for n in names)
    after = dict(before)
    for which, op, at, junk in ops:
        name = names[which % len(names)]
        if name not in after:
            continue
        data = bytearray(after[name])
        i = at % (len(data) + 1)
        if op == "flip" and data:
            data[i % len(data)] ^= junk[0] or 1
        elif op == "truncate":
            data = data[:i]
        elif op == "append":
            data += junk
        elif op == "replace":
            data = bytearray(junk * (1 + at % 20))
        elif op == "erase":
            data[i : i + len(junk)] = b"\xff" * len(data[i : i + len(junk)])
        if op == "delete":
            os.remove(path + "/" + name)
            del after[name]
            continue
        with open(path + "/" + name, "wb") as f:
            f.write(data)
        after[name] = bytes(data)
    s, sids = fs._reopen_checked(path, spans, before, after, seed, repr(ops))
    fs._works_on(s, sids, seed)


# ---- the configuration


@SETTINGS
@given(json_value)
def test_any_json_document_loads_or_names_the_key(doc):
    fc.load_or_key(doc, 0, repr(doc)[:200])


@SETTINGS
@given(st.sampled_from(fc._KEYS + ("server",)), json_value, st.booleans())
def test_any_value_under_a_known_key_loads_or_names_the_key(key, value, platform):
    cfg = fc.platform_cfg("/tmp/x") if platform else fc.device_cfg("/tmp/x")
    # put it where the key lives: top level, or in one of the sections that has it
    for section in ("store", "limits", "upload", "clock"):
        if key in cfg[section]:
            cfg[section][key] = value
            break
    else:
        if key in ("id", "pin", "type", "decimals"):
            cfg["streams"][list(cfg["streams"])[0]][key] = value
        else:
            cfg[key] = value
    fc.load_or_key(cfg, 0, "%s=%r" % (key, value))


@SETTINGS
@given(st.text(max_size=60))
def test_any_server_string_loads_or_names_server(url):
    try:
        out = config.load(dict(fc.device_cfg("/tmp/x"), server=url))
    except ConfigError as e:
        assert str(e).startswith("server: ")
        return
    from blynklog.http import split_url

    split_url(out["server"])


# ---- add()

_log = []


def _logger():
    if not _log:
        _log.append(fa._logger())
    return _log[0]


add_values = st.one_of(
    st.integers(),
    st.floats(),
    st.booleans(),
    st.text(max_size=400),
    st.binary(max_size=4),
    st.none(),
    st.tuples(st.one_of(st.floats(), st.integers()), st.one_of(st.floats(), st.integers())),
    st.lists(st.floats(-200, 200), max_size=3),
)
add_ts = st.one_of(
    st.none(),
    st.integers(-(1 << 70), 1 << 70),
    st.integers(978307200000 - 5, 4102444800000 + 5),
    st.floats(),
    st.booleans(),
)


@SETTINGS
@given(st.sampled_from(sorted(fa._STREAMS) + ["nope"]), add_values, add_ts)
def test_add_round_trips_exactly_or_refuses_without_a_trace(stream, value, ts):
    log = _logger()
    pending = log._store.pending()
    t0 = unix_ms()
    try:
        ok = log.add(stream, value, ts=ts) if ts is not None else log.add(stream, value)
    except (ValueError, TypeError):
        assert log._store.pending() == pending
        return
    assert ok is True and log._store.pending() == pending + 1
    last = None
    for pos, gts, gv, flags in log._store.records(log._sids[stream]):
        last = (gts, gv)
    if ts is None:
        # a clock stamp follows the ticks since the port clock's last reading (clock.py's
        # now_rel): within a ms of the port clock, either way
        assert t0 - 1 <= last[0] <= unix_ms() + 1
    else:
        assert last[0] == ts
    assert fa._same(last[1], fa._expected(stream, value)), (last, value)
    if isinstance(value, float):
        assert math.isfinite(value)


def test_zz_close_the_shared_logger():
    # the add() property above shares one logger across its examples
    if _log:
        _log.pop().close()
