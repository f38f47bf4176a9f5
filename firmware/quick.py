# quick: the sampling wake of a deep-sleep board whose RTC memory survives deep sleep (ESP32, the
# virtual board), without the package. main.py calls run() first; on a deep-sleep wake where the
# plan the last full wake left in RTC memory holds, and nothing but a sample is due, it reads the
# sensors, appends the readings to a buffer in RTC memory behind the kept schedule and deep-sleeps
# to the next sample: no blynklog, no App, no flash write. When the buffer is due for the store
# (flush_every_s since the last flush, or no room for one more wake) the same wake opens the Logger,
# adds the buffered samples with their own timestamps and this wake's, flushes, clears the buffer
# and sleeps: still no App, settings or upload code. Anything else is a full wake (run() returns;
# main.py goes on to app.main, whose App adds the buffer first): an upload or an early-upload fill
# check due, the clock not known set, any reset but a deep-sleep wake, no plan (power-on, a full
# wake that could not make one), a sensor that fails, a damaged buffer (reported there, dropped).
# Durability: the buffer survives deep sleep and the resets that keep RTC memory (the watchdog,
# machine.reset()); a power cut or a brownout clears RTC memory, losing what it holds: at most
# flush_every_s of samples, as a light-sleep board loses its unflushed samples in RAM.
# RTC memory: the kept schedule as JSON (hw.keep_in_rtc_memory), then, when samples wait, b"\0" and
# the tail: CRC-32 of the rest (4 bytes), ms slept since the JSON was written (u32), the value's
# struct code ('f' where floats are 32-bit, else 'd'), the stream names (a count, then each as a
# length and UTF-8 bytes), then a record a wake: Unix ms (int64) and one value per name.
# The plan (kept["q"], written by App._kept): p sample period ms, fe flush_every ms, ue upload ms,
# fi the store was past ft (fill_threshold), t the Unix ms expected at the next reset, e the port epoch
# in Unix ms, s the sensor specs, b the board's settings, c config path, lf/lm the error log.
#   run(config_path) -> the Board it made (the full wake may use it) or None; deep-sleeps otherwise
#   split(raw) -> (head bytes, tail bytes or None); samples(tail) -> (elapsed, names, records)
#   pack(elapsed, names, records) -> tail bytes
# Allocates: the RTC memory's copy and the new one, the sensors, a record. One task only.
import json
import struct
import time

RTC_BYTES = 2048  # MicroPython's esp32 port: machine.RTC().memory() holds at most this
_SLACK_MS = 10000  # the RTC's reading may differ from the plan's by this + 1/8 of the time slept
_BOOT_TICKS_MAX = 600000  # as hw.Uptime: ticks beyond this do not count from the reset
_FMT = "f" if 1.0 + 2.0 ** -30 == 1.0 else "d"  # a port's float kept exactly


def split(raw):
    i = raw.find(b"\x00")
    if i < 0:
        return raw, None
    return raw[:i], raw[i + 1:]


def _crc(data):
    import binascii

    return binascii.crc32(data) & 0xFFFFFFFF


def _seal(body):
    # a tail: the CRC-32 of body, then body
    return struct.pack("<I", _crc(body)) + body


def samples(tail):
    # -> (elapsed ms, names, [(ts, (values...)), ...]); ValueError when the tail is damaged
    if len(tail) < 10 or struct.unpack("<I", tail[:4])[0] != _crc(tail[4:]):
        raise ValueError("buffered samples damaged (CRC)")
    elapsed = struct.unpack("<I", tail[4:8])[0]
    fmt = chr(tail[8])
    if fmt not in "fd":
        raise ValueError("buffered samples damaged (format)")
    n = tail[9]
    i = 10
    names = []
    for _ in range(n):
        k = tail[i]
        names.append(str(tail[i + 1:i + 1 + k], "utf-8"))
        i += 1 + k
    rec = "<q" + fmt * n
    size = struct.calcsize(rec)
    if n == 0 or i > len(tail) or (len(tail) - i) % size:
        raise ValueError("buffered samples damaged (length)")
    records = []
    while i < len(tail):
        r = struct.unpack(rec, tail[i:i + size])
        records.append((r[0], r[1:]))
        i += size
    return elapsed, names, records


def _names(names):
    out = bytearray(struct.pack("<I", 0) + bytes([ord(_FMT), len(names)]))
    for name in names:
        b = name.encode()
        out.append(len(b))
        out.extend(b)
    return out


def pack(elapsed, names, records):
    # a tail from scratch (the App keeps one it could not add)
    body = _names(names)
    body[0:4] = struct.pack("<I", elapsed)
    rec = "<q" + _FMT * len(names)
    for ts, values in records:
        body.extend(struct.pack(rec, ts, *values))
    return _seal(body)


def _due(d, q, e):
    # what the kept schedule says at this reset, e ms after it was written: a full wake's work
    up = d.get("up", 0) + e
    nb = d.get("nb", 0) - e
    if nb <= 0 and (up >= q["ue"] or (up >= q["ue"] // 4 and q["fi"])):
        return True
    return False


def run(config_path="config.json"):
    try:
        import machine
    except ImportError:  # CPython
        return None
    if machine.reset_cause() != getattr(machine, "DEEPSLEEP_RESET", None):
        return None
    rtc = machine.RTC()
    try:
        head, tail = split(rtc.memory())
        d = json.loads(head)
        q = d["q"]
        e = 0
        if tail is not None:
            e, kept_names, _ = samples(tail)  # a damaged one goes to the full wake's report
    except Exception:
        return None
    if q["fe"] <= 0 or _due(d, q, e):
        return None
    # the clock: set, and where the plan puts it (the RTC kept counting through the sleeps)
    now = time.time_ns() // 1000000 + q["e"]
    if abs(now - q["t"] - e) > _SLACK_MS + e // 8:
        return None
    import board as _board
    import sensors

    b = _board.Board(q.get("b"))
    names = []
    values = []
    for spec in q["s"]:
        try:
            got = sensors.make(spec, b).read()
        except Exception:
            return b  # the full wake reads it again and reports
        for i, name in spec["map"]:
            v = got[i]
            if not isinstance(v, float):
                return b  # kept exactly only as a float; the full wake adds it as it is
            names.append(name)
            values.append(v)
    if tail is not None and kept_names != names:
        return b  # the buffer is of other streams: the full wake adds it
    b.sample_ts()  # the virtual board counts the cycle
    t = time.ticks_ms()
    sleep_ms = q["p"] - (t if 0 <= t < _BOOT_TICKS_MAX else 0)
    if sleep_ms <= 0:
        return b  # a late wake: the full one takes it from here
    body = _names(names) if tail is None else bytearray(tail[4:])
    step = e + q["p"]  # ms from the reset the schedule was written for to the next one
    body[0:4] = struct.pack("<I", step)
    body.extend(struct.pack("<q" + _FMT * len(values), now, *values))
    tail = _seal(body)
    if d.get("fl", 0) + step >= q["fe"] or len(head) + 1 + len(tail) > RTC_BYTES:
        _flush(d, q, tail, config_path, step, rtc)
    else:
        rtc.memory(head + b"\x00" + tail)
    b.sleep_ms(sleep_ms, "deep")
    return b  # a board's deep sleep does not return


def move_old_store():
    # A store made at the earlier default path, the folder "blynklog" beside config.json, would be
    # imported in place of the package (sys.path starts with ''): moved to the default path before
    # anything imports blynklog. A folder holding the package itself is left alone.
    import os

    try:
        os.stat("blynklog-data")
        return
    except OSError:
        pass
    for name in ("state.json", "data"):
        try:
            os.stat("blynklog/" + name)
            os.rename("blynklog", "blynklog-data")
            return
        except OSError:
            pass


def _flush(d, q, tail, config_path, step, rtc):
    # the buffer (this wake's record included) into the store. The schedule alone goes to RTC
    # memory first (moved on by the ms slept since it was written): a reset from there to the
    # flush loses the buffer, as a power cut would, and nothing is ever stored twice. A fault
    # before the flush puts the buffer back for the full wake.
    move_old_store()
    import blynklog

    _, names, records = samples(tail)
    log = blynklog.Logger(config_path)  # a fault here leaves the buffer as it was
    q["fi"] = 1 if log.fill() >= q["ft"] else 0  # the store's early-upload check, for the next wakes
    d["up"] = d.get("up", 0) + step
    d["fl"] = 0
    if isinstance(d.get("ntp"), int):
        d["ntp"] += step
    d["nb"] = max(0, d.get("nb", 0) - step)
    q["t"] += step
    head = json.dumps(d).encode()
    rtc.memory(head)
    errors = None
    try:
        for ts, values in records:
            for i in range(len(names)):
                try:
                    log.add(names[i], values[i], ts)
                except (ValueError, TypeError) as err:  # as App.sample: reported, not stored
                    if errors is None:
                        from errlog import ErrorLog

                        errors = ErrorLog(q["lf"], q["lm"], lambda: time.time_ns() // 1000000 + q["e"])
                        el = d.get("el")
                        if isinstance(el, list) and len(el) == 2:
                            errors.restore(el[0], el[1])
                    errors.report(names[i], err)
        log.flush()
    except Exception:
        rtc.memory(head + b"\x00" + _seal(struct.pack("<I", 0) + tail[8:]))  # elapsed 0: in the schedule now
        raise
    if errors is not None:
        d["el"] = list(errors.state())
        rtc.memory(json.dumps(d).encode())
