# What add() allocates per sample, and the pieces that keep it so (both runtimes and both unix
# ports). On the 64-bit unix port every time is a small int: add() of a double or int sample,
# stamped by the clock or with its ts, allocates nothing (heap_lock). On a 32-bit port (the
# board-like one, as ESP32 and RP2040) a Unix-ms ts is a heap int; add() makes none: it
# allocates the record's CRC only, a heap int of 32 bytes when the CRC is 2**30 or more (3 in 4
# records), else nothing. The store's first segment is opened before the measure (opening the
# next one allocates, once in some 400 samples); the clock runs on counted ticks, so it reads
# its port clock only where the test says.
import sys

from blynklog import Logger, record
from blynklog.clock import Clock
from blynklog.compat import round_scaled
from support import IS_MICROPYTHON, skip, tmpdir

T0 = 1767225600000  # 2026-01-01
N = 100  # adds measured: about 1 KB of records, well inside the first 4 KB segment
WIDE = sys.maxsize > 1 << 40


def _logger():
    cfg = {
        "server": "https://127.0.0.1:9",
        "api": "device",
        "token": "t",
        "insecure": True,
        "streams": {"t": {"pin": "V1", "decimals": 2}, "d": {"pin": "V2"}, "n": {"pin": "V3", "type": "int"}},
        "store": {"path": tmpdir("alloc") + "/bl"},
    }
    log = Logger(cfg)
    ticks = [0]
    # a clock on counted ticks, set from its port clock (2026-01-01 plus a day)
    log.clock = Clock(log._state, ticks=lambda: ticks[0], port_time_ms=lambda: T0 + 86400000)
    assert log.clock.is_set()
    log.add("t", 20.0, T0)  # opens the segment file
    return log, ticks


def _crc_is_boxed(log):
    # whether the CRC of the record just appended is a heap int on a 32-bit port (>= 2**30): its
    # top byte, in the store's encode buffer (L | body | CRC, L one byte for these records)
    enc = log._store._enc
    return enc[enc[0] + 4] >= 0x40


def _check(log, calls):
    # calls(i) makes add() number i; every one allocates what this runtime allows
    if not IS_MICROPYTHON:
        skip("heap figures are MicroPython's")
    import gc
    import micropython

    calls(-1)  # first-call work (a stream's add() entry) out of the measure
    calls(-2)
    if WIDE:
        err = None
        i = 0
        micropython.heap_lock()
        try:
            while i < N:
                calls(i)
                i += 1
        except MemoryError as e:
            err = e
        micropython.heap_unlock()
        assert err is None, "add() allocated at sample %d" % i
        return
    got = []
    want = []
    gc.collect()
    gc.disable()
    try:
        for i in range(N):
            a = gc.mem_alloc()
            calls(i)
            got.append(gc.mem_alloc() - a)
            want.append(32 if _crc_is_boxed(log) else 0)
    finally:
        gc.enable()
    assert got == want, (got, want)


def test_add_of_a_double_with_its_ts_allocates_nothing_but_a_32_bit_ports_crc():
    log, ticks = _logger()
    values = [(1800 + (i * 37) % 700) / 100 for i in range(N + 2)]
    stamps = [T0 + 1000 + i * 10000 for i in range(N + 2)]

    def calls(i):
        log.add("t" if i & 1 else "d", values[i], stamps[i])  # with decimals and without

    _check(log, calls)
    log.close()


def test_add_of_a_double_stamped_by_the_clock_allocates_nothing_but_a_32_bit_ports_crc():
    log, ticks = _logger()
    values = [(1800 + (i * 37) % 700) / 100 for i in range(N + 2)]

    def calls(i):
        ticks[0] += 1
        log.add("t" if i & 1 else "d", values[i])

    _check(log, calls)
    log.close()


def test_add_of_an_int_with_its_ts_allocates_nothing_but_a_32_bit_ports_crc():
    log, ticks = _logger()
    values = [(i * 7919) % 100000 - 50000 for i in range(N + 2)]
    stamps = [T0 + 1000 + i * 10000 for i in range(N + 2)]

    def calls(i):
        log.add("n", values[i], stamps[i])

    _check(log, calls)
    log.close()


def test_add_of_an_int_stamped_by_the_clock_allocates_nothing_but_a_32_bit_ports_crc():
    log, ticks = _logger()
    values = [(i * 7919) % 100000 - 50000 for i in range(N + 2)]

    def calls(i):
        ticks[0] += 1
        log.add("n", values[i])

    _check(log, calls)
    log.close()


def test_two_clock_stamps_in_one_tick_go_a_ms_apart():
    log, ticks = _logger()
    log.add("n", 1)
    log.add("n", 2)
    got = [ts for pos, ts, v, flags in log._store.records(log._sids["n"])]
    assert got == [T0 + 86400000, T0 + 86400001]
    log.close()


def test_a_clock_stamp_follows_the_ticks_and_reads_the_port_clock_again_after_a_second():
    log, ticks = _logger()
    port = [T0]
    c = Clock(log._state, ticks=lambda: ticks[0], port_time_ms=lambda: port[0])
    ticks[0] = 5
    assert c.stamp() == (T0, 0)
    port[0] = T0 + 5000  # set by someone: within a second of ticks, the stamps follow the ticks
    ticks[0] += 999
    assert c.stamp() == (T0 + 999, 0)
    ticks[0] += 1
    assert c.stamp() == (T0 + 5000, 0)
    log.close()


def test_a_clock_stamp_never_goes_back_when_the_port_clock_is_read_again():
    log, ticks = _logger()
    port = [T0]
    c = Clock(log._state, ticks=lambda: ticks[0], port_time_ms=lambda: port[0])
    c.stamp()
    ticks[0] += 999
    assert c.stamp() == (T0 + 999, 0)
    ticks[0] += 1  # a second on: the port clock is read, and it ran slower than the ticks
    port[0] = T0 + 600
    assert c.stamp() == (T0 + 999, 0)
    ticks[0] += 5
    assert c.stamp() == (T0 + 1004, 0)
    log.close()


def _port_ms():
    import time

    return time.time_ns() // 1000000


def test_a_clock_stamp_is_the_port_clocks_own_ms_never_one_before_a_reading_just_before_it():
    # The port's own clock and ticks (time_ns, ticks_ms, ticks_us). Counted in ms ticks from a ms
    # anchor, one stamp in eight came out 1 ms before a time_ns() read just before it: the two ms
    # do not tick together. Over two seconds, so that the anchor is taken again.
    import time

    log, _ticks = _logger()
    c = Clock(log._state)
    assert c.is_set()
    c.stamp()
    early = []
    n = 0
    end = _port_ms() + 2100
    while n < 20000:
        t0 = _port_ms()
        ts, flags = c.stamp()
        t1 = _port_ms()
        n += 1
        if not t0 <= ts <= t1 + 1:
            early.append((t0, ts, t1))
        if t1 > end:
            break
        time.sleep_us(300) if hasattr(time, "sleep_us") else time.sleep(0.0003)
    log.close()
    assert n > 100 and not early, (n, early[:5])


def test_a_clock_stamp_from_the_ports_own_clock_allocates_nothing_between_two_readings_of_it():
    # the us ticks' path of stamp_rel() (no ticks injected): small ints only, as the ms path
    if not IS_MICROPYTHON:
        skip("heap_lock() is MicroPython's")
    import micropython
    from blynklog.compat import ticks_diff, ticks_ms

    log, _ticks = _logger()
    c = Clock(log._state)
    assert c.is_set()
    c.stamp_rel()
    t = ticks_ms()
    done = 0
    micropython.heap_lock()
    try:
        while done < 200:
            c.stamp_rel()
            done += 1
    except MemoryError:
        pass
    finally:
        micropython.heap_unlock()
    log.close()
    # the port clock is read again (a heap int) a second after the anchor: only then may it stop
    assert done == 200 or ticks_diff(ticks_ms(), t) >= 1000, done


def test_delta_is_the_difference_of_two_times_on_every_port():
    bases = (T0, T0 + 65535, (1 << 32) - 7, 1 << 32, (1 << 46) - 3, 1 << 46, 1 << 52, 0, 12345)
    diffs = (0, 1, -1, 65535, 65536, -65536, (1 << 29) - 1, -(1 << 29), 1 << 29, 1 << 31, -(1 << 33), 1 << 40)
    for b in bases:
        for d in diffs:
            if b + d >= 0:
                assert record.delta(b + d, b) == d, (b, d)


def test_scaling_from_the_float_bits_matches_round_scaled():
    # every runtime's own floats (float32 on the board-like port), ties and near-ties included
    values = [
        0.0,
        -0.0,
        0.5,
        1.5,
        2.5,
        -2.5,
        0.005,
        -0.005,
        0.015,
        0.125,
        20.37,
        19.99,
        -273.15,
        1e-30,
        123456.789,
        8388607.5,
        536870.911,
        5368709.11,
        2.0**-20,
    ]
    for i in range(300):
        values.append((i * 7919 % 200001 - 100000) / 100)
        values.append((i * 104729 % 1000003) / 1000003.0 * 10 ** (i % 9 - 4))
    fn = record._scaled
    if fn is None:
        skip("a 32-bit port with doubles scales through round_scaled")
    for v in values:
        for d in range(7):
            got = fn(v, d)
            if got is not None:
                assert got == round_scaled(v, d), (v, d, got)


def test_a_new_salt_has_its_top_two_bits_equal_and_its_signed_form_keys_the_same_crc():
    import binascii

    data = b"\x05\x10\x03\x00\x04\x04"
    for i in range(20):
        salt = record.new_salt()
        assert 0 <= salt < 1 << 32 and (salt >> 30) in (0, 3), salt
        sk = record.signed_salt(salt)
        assert -(1 << 30) <= sk < 1 << 30
        assert binascii.crc32(data, record.key(sk, 77)) == binascii.crc32(data, record.key(salt, 77))


def test_a_record_with_a_clock_stamp_as_anchor_and_ms_reads_as_the_whole_time():
    buf = bytearray(64)
    n = record.encode_into(buf, 0, 1, T0 + 100, 1.5, 0, None, T0, None, 0, 23)
    d = record.decode(buf, 0, T0)
    assert d is not None and d[0] == n and d[2] == T0 + 123 and d[4] == 1.5


def test_add_into_the_wake_journal_allocates_nothing_but_a_32_bit_ports_crc():
    # a Logger from a configuration file validated before writes numbers to the journal: add()
    # packs the record into the journal's RAM buffer (its file is written at flush() or every 8
    # records: the 7 measured stay in the buffer)
    import json

    if not IS_MICROPYTHON:
        skip("heap figures are MicroPython's")
    import gc
    import micropython

    folder = tmpdir("alloc")
    path = folder + "/config.json"
    cfg = {
        "server": "https://127.0.0.1:9",
        "api": "device",
        "token": "t",
        "insecure": True,
        "streams": {"t": {"pin": "V1", "decimals": 2}, "n": {"pin": "V3", "type": "int"}},
        "store": {"path": "bl"},
    }
    with open(path, "w") as f:
        f.write(json.dumps(cfg))
    Logger(path).close()
    log = Logger(path)
    assert type(log._store).__name__ == "Journal"
    log.clock = Clock(log._state, ticks=lambda: 0, port_time_ms=lambda: T0 + 86400000)
    log.add("t", 20.5, T0)  # the streams' add() entries
    log.add("n", 7, T0)
    log.flush()
    values = [(1800 + (i * 37) % 700) / 100 for i in range(7)]
    stamps = [T0 + 1000 + i * 10000 for i in range(7)]
    got = []
    if WIDE:
        micropython.heap_lock()
        try:
            for i in range(7):
                log.add("t" if i & 1 else "n", values[i] if i & 1 else i, stamps[i])
        finally:
            micropython.heap_unlock()
    else:
        gc.collect()
        gc.disable()
        try:
            for i in range(7):
                a = gc.mem_alloc()
                log.add("t" if i & 1 else "n", values[i] if i & 1 else i, stamps[i])
                got.append(gc.mem_alloc() - a)
        finally:
            gc.enable()
        assert max(got) <= 32, got
    assert log._store._n == 7
    log.close()


class _Cell:
    # a state holder as the Logger's State is to the clock (get/set/save, in RAM)
    def __init__(self):
        self.data = {}

    def get(self, k, d=None):
        return self.data.get(k, d)

    def set(self, k, v):
        self.data[k] = v

    def save(self):
        pass


def test_a_stamp_of_an_rp2_wake_after_days_of_estimated_wakes_allocates_nothing():
    # a chain of deep-sleep wakes on an estimated clock carries its ms on from wake to wake:
    # past 2**28 ms (3.1 days of planned sleeps) every boot-relative stamp was a heap int
    if not IS_MICROPYTHON:
        skip("heap_lock() is MicroPython's")
    import micropython

    now = [1796083200000]  # 2026-12-01: the time is known at the first boot
    tk = [0]
    st = _Cell()
    c = Clock(st, port_time_ms=lambda: now[0], ticks=lambda: tk[0], reset_cause=1)
    for _ in range(80):  # an hour's sleep each: 80 hours
        c.before_sleep(3600000)
        now[0] = 1609459200000  # an rp2's RTC after the reset
        c = Clock(st, port_time_ms=lambda: now[0], ticks=lambda: tk[0], reset_cause=3)
    assert not c.is_set() and c._ms > 0x10000000
    c.stamp_rel()
    micropython.heap_lock()
    try:
        c.stamp_rel()
        c.stamp_rel()
    finally:
        micropython.heap_unlock()
