# blynklog.logger_sync: the Logger's upload side, sync(), stats() and upload_wait_ms() with the
# upload stack they build (policy, encoder, blynk, transport). The Logger imports this module at
# the first of them, so a wake that only adds loads none of it. Functions of the Logger (log);
# RAM: what the upload stack takes (policy.py). One sync at a time (a second one raises
# ValueError, unless the first is a sync_async its ended loop left behind: left_behind); add()
# from another task during sync_async() is safe (aio.py says why).
import gc

from . import _is_int
from . import _modules as _loaded_modules
from .compat import IS_MICROPYTHON, ticks_diff, ticks_ms
from .http import YIELD

_PAUSE = (YIELD, None, None)  # an op (http.py): an asyncio driver lets other tasks run


def uploader(log):
    # The upload stack, imported the first time it is needed: the largest module first, with a
    # collection between them (compiling from .py source needs the most heap while little is
    # held: 192 KB -> 150 KB of smallest heap for a 10,000-point sync from source).
    for name in _modules(log):
        _load(name)
    from .policy import Uploader

    if log._gw is not None:
        from .gateway import Uploader  # a gateway's per-device books

    return Uploader(log._cfg, log._opened(), log.clock, log._state, log._sids)


def _modules(log):
    transport = "http" if log._cfg["upload"]["transport"] == "socket" else "requests_transport"
    return (transport, "blynk", "policy")


def _sync_modules(log):
    # a sync's: the upload stack's, and the batches' body passes (body.py), loaded here with the
    # rest rather than at the first batch, where the heap holds the batch's buffers and the store
    # reader's: in pieces by then (a wake of the firmware on the board-like port needed a 224 KB
    # heap with body.py loaded at its first batch, 192 KB with it loaded here)
    return _modules(log) + ("body",)


def _load(name):
    __import__("blynklog." + name)
    if IS_MICROPYTHON:  # CPython's collection frees no heap for the next one (and takes long)
        gc.collect()


def _tls_context(log):
    # At a Logger's first sync, the TLS context is made right after http loads, before the rest of
    # the upload stack's code: it takes blocks of KB in one piece (the CA's parse), which the heap
    # has then, and later may not (the board-like port's smallest heap for a 10,000-point sync went
    # from 122-124 KB to 116-118 KB). Only on MicroPython; the sync hands it to its Connection.
    if not IS_MICROPYTHON or not log._server().startswith("https") or log.unverified:
        return None
    cas = []
    for path in log._cfg["ca"]:
        with open(path, "rb") as f:
            cas.append(f.read())
    from .http import context

    ctx = context(cas, log._cfg["insecure"])
    cas = None
    gc.collect()
    return ctx


def server(log):
    moved = log._state.get("server")
    # the state file may be damaged: only a well-formed entry counts
    conf = log._cfg["server"]
    if isinstance(moved, dict) and moved.get("configured") == conf and isinstance(moved.get("to"), str):
        to = moved["to"]
        # never from https to plain http (a state written before such a redirect was refused)
        if to.startswith("https:") or not conf.startswith("https:"):
            return to
    return conf


def client(log, timeout_ms):
    cfg = log._cfg
    cas = []
    for path in cfg["ca"]:
        with open(path, "rb") as f:
            cas.append(f.read())
    if cfg["upload"]["transport"] == "requests":
        from . import requests_transport as transport
        from .requests_transport import RequestsConnection as Conn
    else:
        from . import http as transport  # type: ignore[no-redef]  # one transport or the other
        from .http import Connection as Conn
    if cfg["insecure"] and not transport._warned:
        transport._warned.append(1)  # the Logger said so when it started: once is enough
    conn = Conn(log._server(), ca_ders=cas, insecure=cfg["insecure"], timeout_ms=timeout_ms)
    from . import blynk

    if cfg["api"] == "platform":
        return blynk.PlatformClient(conn, cfg["client_id"], cfg["client_secret"], cfg["device_id"], log._state)
    return blynk.DeviceClient(conn, cfg["token"])


def now(log, client=None):
    # the clock's time, set from the server's Date when nothing set it in this boot, and also when
    # only the RTC kept it (an ESP32 through deep sleep: its RC oscillator drifts; Clock takes the
    # Date over it once a boot, and over nothing verified)
    clock = log.clock
    if client is not None and (not clock.is_set() or getattr(clock, "_source", None) == "rtc"):
        date = getattr(_conn(client), "date", None)
        if date:
            clock.set_from_http_date(date)
    return clock.now_ms() if clock.is_set() else None


def sync(log, budget_ms, feed):
    from .http import run_blocking

    return run_blocking(sync_gen(log, budget_ms, feed))


def left_behind(log, held=False):
    # True when the sync_async that holds the Logger was left behind by an asyncio loop that has
    # ended (MicroPython's asyncio.run returns with other tasks still queued: they never run unless
    # a later loop runs them), now closed: its clean-up has run (the connection closed, the store
    # no longer held, the state saved). With a loop running, its task may still go on: False.
    # held: asked by the store for an add() (which a micropython.schedule callback may make while
    # the loop waits for I/O, its last task still current): any current task means a loop.
    gen = log._async
    if gen is None:
        return False
    aio = _loaded_modules.get("asyncio")
    if aio is not None:
        try:
            # a loop running in this thread (CPython: a callback has no current task in it)
            t = (getattr(aio, "get_running_loop", None) or aio.current_task)()
            if held or _in_task(t) or _step_due(log) >= 0:
                return False
        except RuntimeError:  # no running event loop
            pass
    log._async = None
    gen.close()
    return not log._syncing


# a step (an op) of a running sync_async waits at most upload.timeout_ms, or a pause of the
# pacing (at most a second): one with no step for longer is in no running loop
STEP_SLACK_MS = 2000


def _step_due(log):
    # ms left until the running sync_async's next step is overdue (< 0: it is). A callback of
    # micropython.schedule runs while the loop polls, the last task current as after Ctrl-C:
    # there a sync that stepped within that time is taken for running
    return log._cfg["upload"]["timeout_ms"] + STEP_SLACK_MS - ticks_diff(ticks_ms(), log._async_ms)


def _in_task(t):
    # False when t, MicroPython's current task, may be one its loop left current as an exception
    # no task caught ended the loop (Ctrl-C, SystemExit): its coroutine is not running this call.
    # pend_throw refuses a running generator; called twice it leaves the pending value as it was.
    coro = getattr(t, "coro", None)  # CPython: a loop (get_running_loop)
    try:
        coro.pend_throw(coro.pend_throw(None))
    except (ValueError, AttributeError):  # "generator already executing": this call is in the task
        return True
    return False


def sync_gen(log, budget_ms, feed, hold=False):
    # The whole sync as a generator of I/O ops (http.py): sync() drives it on blocking sockets,
    # aio.sync() on asyncio streams. hold: the store refuses new samples rather than drop its
    # oldest segment while the sync runs (add() from another task between two of its awaits must
    # not delete the records of the batch in flight; aio.py's header).
    log._check_open()  # a sync_async() made before close() or a take-over, awaited after it
    if log._syncing and not left_behind(log):
        raise ValueError("a sync is already running")
    if budget_ms is None:
        budget_ms = log._cfg["upload"]["budget_ms"]
    elif not _is_int(budget_ms):
        raise TypeError("budget_ms must be an int (ms) or None, got %s" % type(budget_ms).__name__)
    elif budget_ms < 0:
        raise ValueError("budget_ms must be 0 or more, got %d" % budget_ms)
    if feed is not None and not callable(feed):
        raise TypeError("feed must be a function or None")
    called = ticks_ms()  # the budget counts from here: the modules, the store's opening come out of it
    report = {
        "sent": 0,
        "batches": 0,
        "requests": 0,
        "handshakes": 0,
        "bytes_sent": 0,
        "parked": [],
        "stopped": None,
        "last_error": None,
        "next_retry_ms": 0,
        "server": log._server(),
        "pending": 0,
        "pending_by_stream": {},
        "dropped_full": 0,
        "quota_left": 0,
        "waiting": {},
        "dropped_stale": 0,
        "rejected": 0,
        "thinned": 0,
        "unplaceable": 0,
    }  # + policy.COUNTERS
    c = log._cfg
    # a section's keys are in every report, also of a sync that stops before remote.run() (a
    # back-off, an unverified configuration, a fault): nothing read, nothing added, nothing logged
    if c.get("remote"):
        report["remote"] = {}
        report["remote_refused"] = {}
        report["remote_error"] = None
    if c.get("health"):
        report["health"] = 0
    if c.get("events"):
        report["events"] = []
        report["events_error"] = None
    up = None
    client = None
    ctx = None
    store = None
    log._syncing = True
    log._cell[1] = log  # a Logger opened on the store meanwhile raises (__init__._take_over)
    try:
        store = log._opened()  # a wake's journal is taken in here (a flash fault is reported)
        store.flush()
        store.let_writer_go()  # the batches need the heap more than the next append does
        if hold:  # held while the sync runs: not once its loop has left it behind (left_behind)
            store.hold = lambda: not left_behind(log, True)
        began = None
        if extras(log, False):  # what remote.run() needs from the sync's start
            clock = log.clock
            began = (ticks_ms(), None if clock.is_set() else clock.stamp(), budget_ms)
        if log._up is None:
            # the modules one at a time, a pause between them (compiling one from source takes a
            # while on a board: under asyncio the other tasks run in between)
            for name in _sync_modules(log):
                _load(name)
                if name == "http":
                    ctx = _tls_context(log)
                yield _PAUSE
        elif "blynklog.body" not in _loaded_modules:  # the stack stats() or upload_wait_ms() built
            _load("body")
        up = log._uploader
        store.flush()
        t = log._now()
        if log.unverified:
            report["stopped"] = "insecure"
            report["last_error"] = log.unverified
        elif up.retry_wait_ms(t):
            report["stopped"] = "backoff"
            report["next_retry_ms"] = up.retry_wait_ms(t)
            report["last_error"] = _backing_off(log._state.get("last_error"))
        elif not store.pending() and began is None and log.clock.is_set():
            report["stopped"] = "done"  # (without a clock: the policy asks the server's Date)
        else:
            # each network step waits up to upload.timeout_ms whatever the budget: a batch cut off
            # by a budget shorter than the server's answer would go again at every sync, never
            # counted (the budget is checked between batches)
            client = log._client(log._cfg["upload"]["timeout_ms"])  # connects at its first request
            conn = _conn(client)
            if ctx is not None and getattr(conn, "tls", False):
                conn._ctx = ctx
            ctx = None
            conn.feed = feed
            up.feed = feed
            if budget_ms is not None:
                budget_ms = max(0, budget_ms - ticks_diff(ticks_ms(), called))
            if store.pending() or not log.clock.is_set():
                yield from up.run(client, report, budget_ms, lambda: log._now(client))
            else:
                report["stopped"] = "done"
            store.hold = None  # no batch in flight now: the health points are added as in sync()
            if began is not None:
                # remote settings, events and health (remote.py, imported now: not during the
                # batches, whose peak of heap it would add to): after the batches, on their
                # connection, through the same driver as they (sync() or sync_async())
                rem = extras(log)
                yield _PAUSE
                yield from rem.run(log, client, report, began)
    except Exception as e:  # a fault (flash, network, anything) must never end the caller's loop
        report["stopped"] = "error"
        report["last_error"] = "%s: %s" % (type(e).__name__, e)
    finally:
        log._syncing = False
        if log._cell[1] is log:
            log._cell[1] = None
        if store is not None:
            store.hold = None
        if up is not None:
            up.feed = None
            up._client = None  # (run(): its connection goes with the sync)
        if client is not None:
            conn = _conn(client)
            for key in ("requests", "handshakes", "bytes_sent"):
                report[key] = getattr(conn, key, 0)
            if getattr(client, "moved_to", None):  # a 308 on any request: a batch, the settings read, an event
                report["server"] = client.moved_to
            try:
                conn.close()
            except Exception:
                pass
        if report.pop("network_fault", False) and report["server"] != log._cfg["server"]:
            # the server a 308 sent us to is unreachable (or fails TLS): go back to the configured
            # one, which redirects again if the move was real
            report["server"] = log._cfg["server"]
            log._state.set("server", None)
            report["last_error"] = (report["last_error"] or "") + "; back to the configured server"
        elif report["server"] != log._cfg["server"]:
            log._state.set("server", {"configured": log._cfg["server"], "to": report["server"]})
        log._state.set("last_error", report["last_error"])
        log._save_state()
    log.last_error = report["last_error"]
    report["dropped_stale"] += report["unplaceable"]
    try:
        store = log._opened()
        report["pending"] = store.pending()
        report["pending_by_stream"] = _pending_by_stream(log)
        report["dropped_full"] = store.stats().get("dropped_full", 0)
        if up is not None:  # else building it failed: that fault stays the report's
            report["quota_left"] = up.quota_left(log._now())
            if log._gw is not None:
                up.figures(log, report, log._now(), False)
    except Exception as e:
        report["stopped"] = "error"
        report["last_error"] = log.last_error = "%s: %s" % (type(e).__name__, e)
    return report


_BACKING_OFF = "backing off after an earlier failure"


def _backing_off(last):
    # a sync held off by the back-off says which failure it waits out: the one the last sync
    # reported (kept as is by the syncs held off after it)
    if not isinstance(last, str) or not last:
        return _BACKING_OFF
    if last.startswith(_BACKING_OFF):
        return last
    return "%s (%s)" % (_BACKING_OFF, last)


def _pending_by_stream(log):
    out = {}
    store = log._opened()
    for name in log._sids:
        out[name] = store.pending(log._sids[name])
    return out


def upload_wait_ms(log):
    up = log._uploader
    t = log._now()
    return up.retry_wait_ms(t) or up.quota_wait_ms(t)  # journal.Journal.wait_ms: the same


def stats(log):
    up = log._uploader
    t = up.totals
    ms = log._now()
    store = log._opened()
    store_stats = store.stats()
    out = {
        "pending": store.pending(),
        "pending_by_stream": _pending_by_stream(log),
        "sent": t["sent"],
        "dropped_full": store_stats.get("dropped_full", 0),
        "dropped_stale": t["dropped_stale"] + t["unplaceable"],
        "unplaceable": t["unplaceable"],
        "rejected": t["rejected"],
        "thinned": t["thinned"],
        "quota_left": up.quota_left(ms),
        "next_retry_ms": up.retry_wait_ms(ms),
        "last_error": log._state.get("last_error"),
        "rejects": log._state.get("rejects") or [],
        "server": log._server(),
        "clock_set": log.clock.is_set(),
        "store": store_stats,
    }
    if log._gw is not None:
        up.figures(log, out, ms, True)
    if log._cfg.get("remote"):
        from .remote_values import stats as remote_stats

        remote_stats(log, out)
    return out


def extras(log, load=True):
    # remote.py when the configuration has a remote, health or events section (load False: True),
    # else None: nothing imported
    c = log._cfg
    if c.get("remote") or c.get("health") or c.get("events"):
        if not load:
            return True
        gc.collect()
        from . import remote

        return remote


def _conn(client):
    return getattr(client, "conn", client)
