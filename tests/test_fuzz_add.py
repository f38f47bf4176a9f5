# add() fed random values and timestamps (seeded random cases, both runtimes): an accepted sample
# reads back from the store exactly (same value, same type, same float bits; rounded to its
# decimals when the stream has them), a refused one raises ValueError or TypeError and leaves the
# store as it was. Every assertion message carries the seed and the call. Expectations are exact
# for the runtime's floats (float32 on a board-like port): see _expected.
import struct

import blynklog
import exactnum
from blynklog.compat import unix_ms
from fuzzlib import Rng
from support import tmpdir

_MIN_TS = 978307200000  # 2001-01-01
_STREAMS = {
    "d": {"pin": "V1", "type": "double"},
    "c": {"pin": "V2", "type": "double", "decimals": 2},
    "i": {"pin": "V3", "type": "int"},
    "s": {"pin": "V4", "type": "string"},
    "b": {"pin": "V5", "type": "bool"},
    "g": {"pin": "V6", "type": "location"},
    "e": {"pin": "V7", "type": "enum"},
    "g3": {"pin": "V8", "type": "location", "decimals": 3},
}
_INTS = (
    0,
    1,
    -1,
    2147483647,
    2147483648,
    -2147483648,
    -2147483649,
    1 << 53,
    (1 << 53) + 1,
    -(1 << 53),
    1 << 63,
    (1 << 63) - 1,
    -(1 << 63),
    1 << 64,
    10**30,
    255,
    65536,
)
_FLOATS = (
    0.0,
    -0.0,
    0.5,
    -1.25,
    1e-320,
    5e-324,
    1e308,
    -1.7976931348623157e308,
    1.7e308,
    3.4028234663852886e38,
    3.4028235677973366e38,
    1.1754943508222875e-38,
    1e-45,
    0.1,
    123456.789,
    9007199254740993.0,
    1e16,
    float("inf"),
    float("-inf"),
    float("nan"),
    92233720368547758.0,
    9.2233720368547758e18,
)


def _logger():
    cfg = {
        "api": "device",
        "token": "t",
        "insecure": True,
        "server": "http://127.0.0.1:9",
        "streams": _STREAMS,
        "store": {"path": tmpdir("fa") + "/lg", "capacity": 1 << 20},
    }
    return blynklog.Logger(cfg)


def _float(rng):
    k = rng.below(4)
    if k == 0:
        return rng.choice(_FLOATS)
    if k == 1:
        # any 64-bit pattern: NaNs, infinities, subnormals, huge and tiny numbers
        return struct.unpack("<d", struct.pack("<II", rng.u32(), rng.u32()))[0]
    if k == 2:
        return rng.between(-(10**6), 10**6) / rng.choice((1, 2, 4, 10, 100, 1000, 3))
    return struct.unpack("<f", struct.pack("<I", rng.u32()))[0]


def _string(rng):
    k = rng.below(4)
    if k == 0:
        return "".join(chr(rng.between(32, 126)) for _ in range(rng.below(40)))
    if k == 1:
        # any code point below the surrogates, multi-byte ones included; now and then a lone
        # surrogate, which has no UTF-8 and is refused on every runtime
        s = "".join(chr(rng.between(0, 0xD7FF)) for _ in range(rng.below(30)))
        return s + chr(rng.between(0xD800, 0xDFFF)) if rng.chance(10) else s
    if k == 2:
        return "\u20ac" * rng.between(300, 400)  # 3 bytes each: around the 1024-byte limit
    return "a" * rng.between(1000, 1100)


def _value(rng):
    k = rng.below(11)
    if k == 0:
        return rng.choice(_INTS)
    if k == 1:
        return rng.between(-(1 << 33), 1 << 33)
    if k in (2, 3):
        return _float(rng)
    if k == 4:
        return rng.chance(50)
    if k == 5:
        return _string(rng)
    if k == 6:
        n = rng.choice((2, 2, 2, 1, 3))
        return tuple(
            _value(rng) if rng.chance(20) else rng.choice((_float(rng), rng.between(-200, 200))) for _ in range(n)
        )
    if k == 7:
        return [rng.between(-180, 180) / 2, rng.between(-90, 90) / 3]
    if k == 8:
        return rng.choice((None, b"12", bytearray(2), {"a": 1}, [], object))
    if k == 9:
        return rng.between(0, 1)
    return rng.between(-1000, 1000)


def _ts(rng, now):
    k = rng.below(8)
    if k == 0:
        return None
    if k == 1:
        return rng.choice(
            (
                _MIN_TS - 1,
                _MIN_TS,
                4102444800000 - 1,
                4102444800000,
                now + 86400000,
                now + 86400000 + 5000,
                0,
                -1,
                1 << 63,
                1700000000,
                True,
                False,
            )
        )
    if k == 2:
        return rng.choice((1.7e12, "1700000000000", None, [1], float(now)))
    return now - rng.between(0, 86400000 * 40)


def _same(a, b):
    # exact: same type, same value; floats by their bits (so -0.0 is not 0.0)
    if type(a) is not type(b):
        return False
    if type(a) is float:
        return struct.pack("<d", a) == struct.pack("<d", b)
    if type(a) in (tuple, list):
        return len(a) == len(b) and all(_same(a[i], b[i]) for i in range(len(a)))
    return a == b


def _expected(stream, value):
    # What the store gives back for an accepted value.
    cfg = _STREAMS[stream]
    t = cfg["type"]
    if t == "bool":
        return bool(value)  # kept as a bool (sent as true/false), 0/1 given too
    if t == "location":
        v = (float(value[0]), float(value[1]))
        d = cfg.get("decimals")
        return v if d is None else v  # locations keep their floats (decimals only format the upload)
    d = cfg.get("decimals")
    if t == "double" and type(value) is float and d is not None:
        # the held value rounded half to even to d decimals, exactly (in ints, from its bits), and
        # read back as the float nearest that scaled int over 10**d: one rounding each, for this
        # runtime's floats. A scaled int past 64 bits is not stored scaled: the float stays.
        m = exactnum.round_dec(value, d)
        if -(1 << 63) <= m <= (1 << 63) - 1:
            return exactnum.nearest(abs(m), 10**d, m < 0)
    return value


def _records(log):
    out = {}
    for name in _STREAMS:
        sid = log._sids[name]
        out[name] = [(ts, v) for pos, ts, v, flags in log._store.records(sid)]
    return out


def _run(seed, calls):
    rng = Rng(seed)
    log = _logger()
    now = unix_ms()
    kept = dict((name, []) for name in _STREAMS)
    names = list(_STREAMS) + ["nope", 5, None]
    try:
        for n in range(calls):
            stream = rng.choice(names)
            value = _value(rng)
            ts = _ts(rng, now)
            pending = log._store.pending()
            call = "seed %d call %d: add(%r, %r, ts=%r)" % (seed, n, stream, value, ts)
            t0 = unix_ms()
            try:
                ok = log.add(stream, value, ts=ts) if ts is not None else log.add(stream, value)
            except (ValueError, TypeError):
                assert log._store.pending() == pending, call + " refused but the store changed"
                continue
            except Exception as e:
                raise AssertionError("%s raised %s: %s" % (call, type(e).__name__, e))
            assert ok is True, call + " returned %r" % (ok,)
            assert log._store.pending() == pending + 1, call
            kept[stream].append((ts, _expected(stream, value), t0, call))
        got = _records(log)
        for name in _STREAMS:
            want = kept[name]
            have = got[name]
            assert len(have) == len(want), "seed %d stream %s: %d stored, %d read back" % (
                seed,
                name,
                len(want),
                len(have),
            )
            prev = None  # the stream's previous clock stamp: one in the same ms follows it by a ms
            for k in range(len(want)):
                ts, value, t0, call = want[k]
                gts, gv = have[k]
                if ts is None:
                    # a stamp follows the ticks from the port clock's last reading (clock.py's
                    # now_rel): within a ms of the port clock, either way
                    top = unix_ms() if prev is None else max(unix_ms(), prev + 1)
                    assert t0 - 1 <= gts <= top + 1, call + " stamped %d" % gts
                    prev = gts
                else:
                    assert gts == ts, call + " read back ts %r" % gts
                    prev = None
                assert _same(gv, value), call + " read back %r, expected %r" % (gv, value)
    finally:
        log.close()


def test_random_adds_round_trip_or_are_refused_without_a_trace():
    for seed in range(40):
        _run(seed, 150)


def test_refused_adds_leave_a_reopened_store_unchanged():
    # after a run of refusals only, the store (reopened) holds exactly the accepted samples
    for seed in range(100, 110):
        rng = Rng(seed)
        log = _logger()
        now = unix_ms()
        log.add("d", 1.5, ts=now - 1000)
        for _ in range(100):
            try:
                log.add(
                    rng.choice(("d", "i", "s", "b", "g", "e")),
                    rng.choice((None, float("nan"), float("inf"), b"x", [1, 2, 3], "x" * 2000, 1 << 64, {"a": 1})),
                    ts=rng.choice((None, -1, 1.5, "x", True)),
                )
            except (ValueError, TypeError):
                pass
        path = log._cfg["store"]["path"]
        log.close()
        log2 = blynklog.Logger(
            {
                "api": "device",
                "token": "t",
                "insecure": True,
                "server": "http://127.0.0.1:9",
                "streams": _STREAMS,
                "store": {"path": path},
            }
        )
        try:
            assert log2.stats()["pending"] == 1, "seed %d" % seed
            assert _records(log2)["d"] == [(now - 1000, 1.5)], "seed %d" % seed
        finally:
            log2.close()


def test_a_huge_float_on_a_stream_with_decimals_is_stored_or_refused_cleanly():
    # scaling 1.7e308 by 10**2 overflows to infinity: round() of it must not escape as OverflowError
    log = _logger()
    try:
        for v in (1.7e308, -1.7976931348623157e308, 1e307):
            try:
                ok = log.add("c", v, ts=unix_ms() - 1000)
            except (ValueError, TypeError):
                continue
            assert ok is True
            assert _same(_records(log)["c"][-1][1], v)
    finally:
        log.close()
