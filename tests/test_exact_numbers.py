# Exact numbers on every float width, through the real path: record.encode_into (store.append) ->
# the store -> record.decode (store.records) -> the encoder's body. The expected text of every
# value is computed here in ints from the float's bits (exactnum.py), for this runtime's floats
# (doubles, or float32 on a board-like port), never from a float product or repr.
# Default: 20,000 seeded random values with decimals 0..6 and 4,000 without (seconds on the unix
# ports); BLYNKLOG_EXACT_COUNT=N runs N with decimals (and N / 5 without).
import os
import struct

import exactnum
from blynklog import encoder
from blynklog.body import body_chunks
from blynklog.compat import round_scaled, scaled_float
from blynklog.store import Store
from fuzzlib import Rng
from support import tmpdir

T0 = 1700000000000
_INT64 = 1 << 63


def _count(default):
    try:
        return int(os.getenv("BLYNKLOG_EXACT_COUNT") or default)
    except (AttributeError, ValueError):
        return default


def _random_float(rng):
    # A float this runtime holds: float32 patterns on a float32 port, doubles elsewhere; a mix of
    # any bit pattern, sensor-like magnitudes with every significand bit set, decimal-looking
    # quotients, and exact binary ties (k / 2**j) that a rounding must send to the even side.
    k = rng.below(10)
    if k == 0:
        if exactnum.BITS == 24:
            v = struct.unpack("<f", struct.pack("<I", rng.u32()))[0]
        else:
            v = struct.unpack("<d", struct.pack("<II", rng.u32(), rng.u32()))[0]
    elif k <= 4:
        # sign, exponent 2**-20 .. 2**30, random significand
        if exactnum.BITS == 24:
            word = (rng.u32() & 0x807FFFFF) | ((127 - 20 + rng.below(51)) << 23)
            v = struct.unpack("<f", struct.pack("<I", word))[0]
        else:
            hi = (rng.u32() & 0x800FFFFF) | ((1023 - 20 + rng.below(51)) << 20)
            v = struct.unpack("<d", struct.pack("<II", rng.u32(), hi))[0]
    elif k <= 7:
        v = rng.between(-(10**9), 10**9) / rng.choice((1, 3, 10, 100, 1000, 10**4, 10**6, 7))
    else:
        v = rng.between(-(1 << 24), 1 << 24) / (1 << rng.below(12))
    if v - v != 0:  # NaN or infinity: not storable
        return 0.5
    return v


def _body_values(store, sid, decimals):
    def points():
        return ((ts, value) for pos, ts, value, flags in store.records(sid))

    body = b"".join(bytes(c) for c in body_chunks("device", None, points, decimals)).decode()
    assert body.startswith("[[") and body.endswith("]]"), body[:80]
    return [p.split(",", 1)[1] for p in body[2:-2].split("],[")] if body != "[]" else []


def _expected_decoded(v, d):
    # What store.records gives back: a scaled int that fits 64 bits reads back as its nearest float
    # (one rounding); a value too big to scale is kept as the float itself.
    m = exactnum.round_dec(v, d)
    if -_INT64 <= m < _INT64:
        return exactnum.nearest(abs(m), 10**d, m < 0)
    return v


def _expected_text(v, d):
    if d is None:
        return exactnum.repr_text(v)
    if -(2.0**59) < v < 2.0**59:
        return exactnum.fixed_text(exactnum.round_dec(v, d), d)
    return exactnum.int_text(v)  # an integer already: its shortest digits, no point


def _sweep(seed, count, decimals_list, batch=700):
    # in batches (the unix ports run with a small heap): append, read back, check, commit
    rng = Rng(seed)
    store = Store(tmpdir("exact") + "/s", capacity=65536)
    try:
        sids = {}
        for d in decimals_list:
            sids[d] = store.stream_id("d%s" % d)
        done = 0
        while done < count:
            kept = dict((d, []) for d in decimals_list)
            for i in range(done, min(count, done + batch)):
                d = decimals_list[i % len(decimals_list)]
                v = _random_float(rng)
                assert store.append(sids[d], T0 + i, v, 0, d), "store full at %d" % i
                kept[d].append(v)
            done += batch
            for d in decimals_list:
                _check(seed, store, sids[d], d, kept[d])
    finally:
        store.close()


def _check(seed, store, sid, d, values):
    got = [r[2] for r in store.records(sid)]
    assert len(got) == len(values)
    texts = _body_values(store, sid, d)
    assert len(texts) == len(values)
    for i in range(len(values)):
        v = values[i]
        want = v if d is None else _expected_decoded(v, d)
        assert exactnum.same(got[i], want), "seed %d: %r with decimals %s read back %r, not %r" % (
            seed,
            v,
            d,
            got[i],
            want,
        )
        text = _expected_text(v, d)
        assert texts[i] == text, "seed %d: %r with decimals %s sent as %s, not %s" % (seed, v, d, texts[i], text)
    last = None
    for r in store.records(sid):
        last = r[0]
    if last is not None:
        store.commit(sid, last)


def test_random_floats_with_decimals_reach_the_body_rounded_half_even_in_exact_digits():
    _sweep(1, _count(20000), (0, 1, 2, 3, 4, 5, 6))


def test_random_floats_without_decimals_reach_the_body_as_the_shortest_text_that_reads_back():
    _sweep(2, max(1, _count(20000) // 5), (None,))


def test_floats_whose_scaled_value_passes_the_float_width_keep_their_decimals():
    # 2**24 (float32) and 2**53 (doubles) scaled: the digits still come from the exact scaled int
    cases = (
        395282.52,
        -926375.536,
        198078.252,
        16777217.0 / 4,
        123456789.123456,
        -0.005,
        2.5,
        0.125,
        1e15 + 0.3,
        4503599627370497.5,
        9007199254740993.0,
    )
    for v in cases:
        for d in range(7):
            want = exactnum.fixed_text(exactnum.round_dec(v, d), d)
            buf = bytearray(200)
            got = bytes(buf[: encoder._put_float(buf, 0, v, d)]).decode()
            assert got == want, (v, d, got, want)
            frac = got.split(".")[1] if "." in got else ""
            assert len(frac) <= d, (v, d, got)


def test_a_scaled_int_reads_back_as_its_nearest_float_and_rounds_back_to_itself():
    rng = Rng(3)
    for i in range(3000):
        d = i % 7
        m = rng.between(-(1 << 62), 1 << 62) >> rng.below(62)
        x = scaled_float(m, d)
        assert exactnum.same(x, exactnum.nearest(abs(m), 10**d, m < 0)), (m, d, x)


def test_the_held_value_rounds_back_to_the_scaled_int_the_store_wrote():
    # what lets the encoder write the stored digits: round_scaled(scaled_float(m, d), d) == m for
    # every m the store can write from a float of this runtime
    rng = Rng(4)
    for i in range(3000):
        d = i % 7
        v = _random_float(rng)
        m = round_scaled(v, d)
        if -_INT64 <= m < _INT64:
            assert round_scaled(scaled_float(m, d), d) == m, (v, d, m)
