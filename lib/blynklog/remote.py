# blynklog.remote: what a configuration's "remote", "health" and "events" sections ask of a sync
# (config.py validates them; README "Remote settings, health, events"). Imported only by a Logger
# whose configuration has one of them: a configuration without them loads none of this.
#   run(log, client, report, began)   the sync's one step for these features, after the upload;
#                                     began: (ticks at the sync's start, the clock's stamp() then
#                                     while it was unset, else None, its budget_ms), from
#                                     logger_sync. A
#                                     generator of I/O ops (http.py), as the upload is: sync_gen
#                                     runs it with `yield from`, so sync() and sync_async() both
#                                     make its requests, on the upload's connection
#   (Logger.remote()'s values, what stats() adds and the check of a value: remote_values.py, which
#   a wake or stats() loads alone)
# Remote settings: one request for all of them (Device API get, Platform API datastream values;
# one a request when the server lacks a setting's datastream, which fails the read of them all),
# at most once per remote.read_every_s; each value is checked against its declared type, min and
# max: an invalid one is refused (report and stats "remote_refused") and the last good one kept.
# The answer kept is bounded by the number of settings (_PLATFORM_ENTRY, _DEVICE_ENTRY): one cut
# to it fails the read ("answer over N bytes").
# Events: Blynk's logEvent for a condition, at most once per condition per UTC day of the
# device's clock; a condition found while the server cannot be reached (or refuses the token)
# waits in the state for the first sync that gets through. Health: the Logger's own figures
# added as ordinary samples to the streams named, once per sync, at most health.share of
# limits.points_per_day a UTC day (they go up with the next sync's batches, counted in the quota).
# Everything the next wake needs is in state.json (keys "remote", "events", "health").
# Faults: a failed read or event is reported (report "remote_error", "events_error"), never raised
# and never in the way of the upload. RAM: a few small dicts; one answer body (bounded as above).
# One task at a time, as the Logger.
import gc

from .clock import FLAG_BOOTREL
from .compat import const, json, ticks_diff, ticks_ms, utc_day
from .policy import park_until
from .remote_values import _INF, _dict, check, same_source, sources

# the settings read's answer: bytes kept per setting asked (the Platform API's {"dataStreamId":
# 20,"pin":"V20","value":..,"updatedAt":..} with room for more fields, the Device API's "v20":..),
# at least http's 1 KB; at config.py's 64 settings 8 KB (Platform API), 2 KB (Device API)
_PLATFORM_ENTRY = const(128)
_DEVICE_ENTRY = const(32)
_MAX_DEPTH = const(8)  # nesting of the answer's JSON (its shapes: 3 at most)
_MS_MASK = (1 << 40) - 1  # the ms part of a boot-relative stamp (clock.py)
# the upload stopped so that nothing more should go to the server in this sync: a retry-later
# answer (network, 5xx, 429: the back-off holds) or a fault of our own
_NO_NETWORK = ("retry", "error", "backoff", "insecure")


def run(log, client, report, start):
    # The sync's step for remote settings, events and health, after the upload batches: the
    # upload is the sync's first duty (its budget goes to the backlog first), the conditions the
    # upload itself finds (a stream parked, the token refused) are reported in the same sync, and
    # the health figures describe the store as the upload left it. The settings read and the
    # events are a request each at most, over the upload's connection, after its last batch.
    cfg = log._cfg  # the report holds each section's keys already (logger_sync.sync_gen)
    if cfg["events"] is not None:
        try:
            _note_conditions(log, report, start, log._now(client))
        except Exception as e:
            report["events_error"] = "%s: %s" % (type(e).__name__, e)
    if report["stopped"] not in _NO_NETWORK:
        try:
            yield from _network(log, client, report, start)
        except Exception as e:  # a MemoryError, a damaged answer: reported, the sync goes on
            report["remote_error"] = "%s: %s" % (type(e).__name__, e)
    if cfg["health"] is not None:
        try:
            report["health"] = _health(log, start)
        except Exception as e:
            report["health"] = 0
            report["health_error"] = "%s: %s" % (type(e).__name__, e)


def _network(log, client, report, start):
    # Every request of these features: the settings read when due, then the events waiting.
    # Stops at the first answer that says the server cannot be reached or refuses the credentials.
    cfg = log._cfg
    if cfg["remote"] is not None:
        now = log._now(client)
        kept = _dict(log._state.get("remote"))
        at = kept.get("at")
        every = cfg["remote"]["read_every_s"] * 1000
        moved = kept.get("of") != sources(cfg)  # a setting added or moved since
        if now is None:
            # no clock: read_every_s cannot be kept, so once a read went through (with or
            # without one) the next waits for the time; it read again at every sync before
            due = moved or "at" not in kept
        else:
            due = moved or not isinstance(at, int) or not 0 <= now - at < every
        if due:
            ok = yield from _read(log, client, report, kept, start)
            if not ok:
                return
    if cfg["events"] is not None:
        yield from _send_events(log, client, report)


def _read(log, client, report, kept, start):
    # One read of every setting. -> False when the server could not be reached or refused us
    from . import blynk  # loaded by the sync already (a wake that only asks remote() does not load it)

    settings = log._cfg["remote"]["settings"]
    names = sorted(settings)
    got = {}
    refused = {}
    late = []
    # the read ends within upload.timeout_ms past the sync's budget (past its own start when that
    # is later; none without a budget): ms from the sync's start
    t = ticks_ms()
    end = None if start[2] is None else max(start[2], ticks_diff(t, start[0])) + log._cfg["upload"]["timeout_ms"]
    try:
        answer = yield from _get(log, client, names, got)
    except ValueError:  # a 200 whose body is no JSON (a captive portal's page, a proxy's)
        report["remote_error"] = "settings: the answer is not JSON"
        log._state.set("remote", _with(kept, "error", report["remote_error"]))
        return False
    if answer is not None and answer.kind in (blynk.BAD_BATCH, blynk.UNKNOWN_STREAM):
        # a datastream the server lacks (deleted from the template, say) fails the read of them
        # all: each setting alone then (a lone one's answer is this one), so that one is refused
        # for itself and the rest are read; a request goes while one as long as the slowest so
        # far still ends within the read's time, the settings after it are not read (reported)
        slow = ticks_diff(ticks_ms(), t)
        for name in names:
            if len(names) == 1:
                a = answer
            elif end is not None and ticks_diff(ticks_ms(), start[0]) + slow > end:
                late.append(name)
                continue
            else:
                t = ticks_ms()
                a = yield from _get(log, client, [name], got)
                slow = max(slow, ticks_diff(ticks_ms(), t))
            if a is None:
                continue
            if a.kind not in (blynk.BAD_BATCH, blynk.UNKNOWN_STREAM):
                break  # unreachable, the credentials refused...: the read failed
            refused[name] = "server: %s" % (a.message or ("HTTP %d" % a.status))
        else:
            a = None
        answer = a
    if answer is not None:
        report["remote_error"] = "settings: %s" % (answer.message or ("HTTP %d" % answer.status))
        log._state.set("remote", _with(kept, "error", report["remote_error"]))
        if answer.kind == blynk.AUTH:
            _condition(log, "auth_failing", "the server refused the credentials: " + answer.message)
        elif answer.kind == blynk.RETRY:
            log._uploader.retry_later(log._now(client), answer, report)  # a 429: policy's back-off
        return answer.kind not in (blynk.RETRY, blynk.AUTH)
    good = same_source(kept, log._cfg)  # the values kept of settings still read from their datastream
    for name in got:
        v, why = check(settings[name], got[name])
        if why is None:
            good[name] = v
            report["remote"][name] = v
        else:
            refused[name] = why
    report["remote_refused"] = refused
    err = None
    if late:  # (read again at the next sync: no "at", the time of a read done)
        err = report["remote_error"] = ("settings: not read in time: " + ", ".join(late))[:120]
    kept = {"v": good, "refused": dict(refused), "error": err, "of": sources(log._cfg)}  # (not the report's)
    if not late:
        kept["at"] = log._now(client)
    log._state.set("remote", kept)
    return True


def _get(log, client, names, got):
    # One request for the settings named: their values into got. -> None, or the failed Answer
    from . import blynk

    settings = log._cfg["remote"]["settings"]
    platform = log._cfg["api"] == "platform"
    keys = [settings[n]["id" if platform else "pin"] for n in names]
    if platform:  # the Platform API's datastream values, by id
        path = "/api/v2/organization/device/datastreams?deviceId=%d&dataStreamIds=%s" % (
            log._cfg["device_id"],
            ",".join([str(k) for k in keys]),
        )
    else:  # the Device API's get: ?token=..&v20&v21
        path = "/external/api/get?token=" + blynk._quote(client.token) + "".join(["&" + k.lower() for k in keys])
    keep = max(1024, (_PLATFORM_ENTRY if platform else _DEVICE_ENTRY) * len(keys))
    answer, body = yield from log._uploader.paced(client, client.fetch_gen(path, None, keep))
    if answer.kind != blynk.OK or answer.message:  # (an OK's message: "answer over N bytes")
        return None if len(keys) == 1 and "no value" in answer.message else answer  # one pin without a value yet
    data = body if len(keys) == 1 and not platform else json.loads(_quoted(body))
    if not isinstance(data, list if platform else (bytes, dict)):  # ([], null, 123: no "no value")
        answer.message = "the answer is JSON of another shape"
        return answer  # (an OK's message fails the read, as above)
    if platform:
        for e in data:
            if isinstance(e, dict) and e.get("dataStreamId") in keys and "value" in e:
                got[names[keys.index(e["dataStreamId"])]] = e["value"]
    elif len(keys) == 1:
        got[names[0]] = data.decode()
    else:
        for i in range(len(names)):
            k = keys[i].lower()
            if k in data:
                got[names[i]] = data[k]
    return None


def _quoted(body):
    # the JSON text with each number that has a fraction or an exponent in quotes: json.loads
    # gives its text, which check() reads exactly (through json's float, float32 on a board, an
    # int setting's 16777217.0 was 16777216); strings' bytes are skipped. Nested deeper than
    # _MAX_DEPTH: ValueError (CPython's json.loads raised RecursionError at 1024 "[")
    out = []
    i = start = depth = 0
    n = len(body)
    text = False
    while i < n:
        c = body[i]
        i += 1
        if text:
            if c == 92:  # a backslash: the byte after it is escaped
                i += 1
            elif c == 34:
                text = False
        elif c == 34:
            text = True
        elif c == 91 or c == 123:  # [ {
            depth += 1
            if depth > _MAX_DEPTH:
                raise ValueError
        elif c == 93 or c == 125:
            depth -= 1
        elif c == 45 or 48 <= c <= 57:  # a number: '-' or a digit
            j = i
            while j < n and body[j] in b"+-.eE0123456789":
                j += 1
            number = body[i - 1 : j]
            if b"." in number or b"e" in number or b"E" in number:
                out.append(body[start : i - 1])
                out.append(b'"' + number + b'"')
                start = j
            i = j
    out.append(body[start:])
    return b"".join(out)


def _with(d, key, value):
    d = dict(d)
    d[key] = value
    return d


# ---- events


def _condition(log, name, description):
    # the condition holds: its event waits for the next send, unless it went today already
    ev = log._cfg["events"]
    if ev is None or name not in ev["codes"]:
        return
    st = _dict(log._state.get("events"))
    now = log._now()
    if now is not None and _dict(st.get("day")).get(name) == utc_day(now):
        return
    pend = _with(_dict(st.get("pend")), name, description[:100])
    log._state.set("events", _with(st, "pend", pend))


def _note_conditions(log, report, start, now):
    # the conditions to tell the user about, found from the store, the clock and this sync
    store = log._opened()
    dropped = store.stats().get("dropped_full", 0)
    st = _dict(log._state.get("events"))
    seen = st.get("dropped")
    seen = seen if isinstance(seen, int) else 0
    if dropped > seen:
        _condition(log, "store_dropping", "the store is full: %d samples dropped" % (dropped - seen))
    if seen != dropped:
        log._state.set("events", _with(_dict(log._state.get("events")), "dropped", dropped))
    unset = start[1]  # how long the clock had been unset at the sync's start: its boot-relative ms
    unset = (unset[0] & _MS_MASK) if unset is not None and unset[1] & FLAG_BOOTREL else None
    hours = log._cfg["events"]["clock_unset_h"]
    if unset is not None and unset >= hours * 3600000:
        _condition(log, "clock_unset", "the clock was unset for %d h" % (unset // 3600000))
    parked = _dict(log._state.get("parked"))
    names = []
    for st in log._uploader.streams:  # the state's entries are policy._Stream.park's
        until = park_until(parked.get(st.park))
        if until and (now is None or until > now):  # (0: refusals counted, not parked)
            names.append(st.name)
    names.sort()
    if names:
        _condition(log, "stream_parked", "streams parked: " + ", ".join(names))
    if report["stopped"] == "auth":
        _condition(log, "auth_failing", report["last_error"] or "authentication failed")


def _send_events(log, client, report):
    # the waiting events, each once a UTC day of the device's clock (one code per condition, so
    # the same code never goes twice within Blynk's 1 s, and at most 4 a day of its 100)
    from . import blynk

    st = _dict(log._state.get("events"))
    pend = _dict(st.get("pend"))
    if not pend:
        return
    now = log._now(client)
    if now is None:
        # the day decides: the server's Date sets the clock
        yield from log._uploader.paced(client, client.ask_time_gen())
        now = log._now(client)
        if now is None:
            report["events_error"] = "the clock is not set: events wait for the time"
            return
    day = utc_day(now)
    codes = log._cfg["events"]["codes"]
    sent = report["events"]
    days = dict(_dict(st.get("day")))
    pend = dict(pend)
    try:
        for name in sorted(pend):
            if days.get(name) == day or name not in codes:
                del pend[name]  # it went today already (found again since), or no longer configured
                continue
            path = "/external/api/logEvent?token=%s&code=%s&description=%s" % (
                blynk._quote(client.token),
                blynk._quote(codes[name]),
                blynk._quote(pend[name]),
            )
            # its day spent before it goes, in state.json: a power cut before the sync's end saves
            # the state may lose the event for the day, never send it twice
            days[name] = day
            log._state.set("events", _with(_dict(log._state.get("events")), "day", dict(days)))
            log._state.save()
            answer = (yield from log._uploader.paced(client, client.fetch_gen(path)))[0]
            wait = answer.kind == blynk.AUTH or (answer.kind == blynk.RETRY and answer.status != 400)
            if wait or "frequent" in answer.message:
                # unreachable, the token refused, or this code's last event under a second ago (a
                # 400 of the points' daily limit's words is the day's events spent: refused below)
                report["events_error"] = "%s: %s" % (codes[name], answer.message or answer.kind)
                if answer.kind == blynk.RETRY:
                    log._uploader.retry_later(now, answer, report)  # a 429: policy's back-off
                del days[name]
                return  # it waits for the next sync
            if answer.kind != blynk.OK:
                # refused (an undeclared code, the day's events spent): not again today
                report["events_error"] = "%s: %s" % (codes[name], answer.message or answer.kind)
            else:
                sent.append(codes[name])
            del pend[name]
    finally:
        st = _with(_dict(log._state.get("events")), "pend", pend)
        log._state.set("events", _with(st, "day", days))


# ---- health


def _health(log, start):
    # The figures as ordinary samples of their streams, within the day's share. -> points added
    hcfg = log._cfg["health"]
    metrics = hcfg["metrics"]
    now = log._now()
    books = log._state.get("health")
    day, n = books if isinstance(books, list) and len(books) == 2 else (None, 0)
    if now is not None and day != utc_day(now):
        day, n = utc_day(now), 0
    if not isinstance(n, int) or n + len(metrics) > hcfg["per_day"]:
        return 0
    figures = _figures(log, start, metrics)
    # the day's count with every point first, in state.json before the points are flushed: a
    # power cut before the sync's end saves the state may lose them, never exceed the share
    log._state.set("health", [day, n + len(metrics)])
    log._state.save()
    added = 0
    for metric in metrics:
        v = figures.get(metric)
        if v is None:
            continue  # not known on this board (heap on CPython, no hook for RSSI)
        name = metrics[metric]
        if log._cfg["streams"][name]["type"] == "int" and v.__class__ is not int:
            # (an int as it is: through a float32, 16777217 went as 16777216)
            v = int(v + 0.5) if v >= 0 else -int(-v + 0.5)
        try:
            if log.add(name, v):
                added += 1
        except (ValueError, TypeError):
            pass  # a hook's figure its stream cannot take (2**31 for an int): left out, the rest go
    log._state.set("health", [day, n + added])
    if added:
        # durable as the sync returns, as the samples the sync flushed first are: the day's
        # share counts them (saved above), so they would not be added again
        log._opened().flush()
    return added


def _figures(log, start, metrics):
    store = log._opened()
    totals = log._uploader.totals
    out = {
        "pending": store.pending(),
        "dropped": store.stats().get("dropped_full", 0) + totals["dropped_stale"] + totals["unplaceable"],
        "rejected": totals["rejected"],
        "upload_s": ticks_diff(ticks_ms(), start[0]) / 1000,
    }
    if "heap" in metrics and hasattr(gc, "mem_free"):
        gc.collect()
        out["heap"] = gc.mem_free()
    hook = getattr(log, "health_hook", None)
    if hook is not None:
        try:
            extra = hook()
        except Exception:  # the board's hook must not end the sync
            extra = None
        for k in extra if isinstance(extra, dict) else ():
            v = extra[k]
            if k in metrics and isinstance(v, (int, float)) and not isinstance(v, bool) and -_INF < v < _INF:
                out[k] = v
    return out
