# blynklog.policy: what goes up, when, and what happens on every answer. One place for the rules:
#   - streams take turns, a batch each, oldest records first; a batch holds at most
#     points_per_request points, at most max_request_bytes, and no more than the day's quota left;
#   - a record is committed (never sent again) only after the server accepted its batch; the
#     stream's filter state (previous timestamp, thinning) moves with that commit and with nothing
#     else: a batch that fails anywhere between plan and commit (an answer, a MemoryError, a failed
#     write) leaves it as it was, and the next batch is planned from there;
#   - a commit that cannot be written (full or failing flash) stops the sync (`store`); a batch the
#     server had accepted goes again at the next sync (at-least-once);
#   - stale records (older than max_age_days less stale_margin_s) are dropped at sync: dropped_stale;
#     records too far in the future wait; boot-relative records wait until the clock can place them,
#     and are dropped (unplaceable, counted with dropped_stale) when it never can;
#   - a record with the same timestamp as the one before it in its stream is a duplicate: the first
#     one wins, the later one is counted in `rejected`; no batch ever holds two points with one ts;
#     the one before it may have gone up at an earlier boot's sync (state "last");
#   - when the backlog cannot all go up before it goes stale, backlog_policy chooses which records
#     to skip (counted `thinned`): oldest_first skips none (the oldest go stale), newest_first skips
#     the oldest excess, spread skips evenly across the backlog;
#   - retry-later answers (network, timeout, 5xx, 429, a 400 about the request rather than its
#     points: blynk.py) stop the sync and back off exponentially with full jitter, capped,
#     persisted; a 429's Retry-After is a floor; a 429 (or a Retry-After) to remote.py's requests
#     after the batches backs off the same way (retry_later);
#   - 400 bad batch: the batch is halved until the bad point is alone; that point is set aside
#     (`rejected`, the server's message kept in a bounded log) and the rest goes on; when lone
#     points are refused one after another for one reason, the stream is parked instead, and the
#     reason is kept with its parking (state "parked": [until, message]): when the parking ends, a
#     point goes alone first, and the same refusal parks the stream again at once, setting
#     nothing aside (also after a reboot);
#   - a record over a day ahead of a set clock, or a string too big for any request, is set aside
#     (`rejected`): either would block its stream for good;
#   - every sample counted in `rejected` (by the server or here) has an entry in the rejects log
#     (state "rejects": the last _REJECT_LOG, each [now, stream, ts, why]);
#   - without a clock, a time request (HEAD /, no credentials, no point counted) goes first, and the
#     sync goes on if its Date set the clock, else waits: no batch goes unjudged (a ts over a day
#     ahead, stale points, a wake's estimated stamps that the Date makes exact);
#   - the day's quota is booked on the day a batch went (near a UTC midnight the server's day, by
#     its answer's Date: _booking_time); a new day
#     starts afresh, but a clock set back across UTC midnight takes the counts of the booked day and
#     the one before it back with it (they went on that earlier day while the clock was ahead), so
#     no day gets a second quota;
#   - a 400 saying the day's points are spent stops the sync until the next UTC day (by a clock set
#     back across midnight too): the server's day, by its answer's Date, where it has one;
#   - 404 unknown datastream parks that stream for park_s; the others go on; a parking holds only
#     while the configuration sends the stream to the same datastream (_Stream.park);
#   - 404 unknown device and auth failures stop the sync and say so (a gateway, gateway.py, parks
#     that device instead, and keeps the quota books per device, in its _commit, _oldest_stream,
#     _plan_batch and _batch);
#   - a 308 moves the device to the new server, remembered in the state; never from https to plain
#     http (refused by the client: retry later, nothing sent there).
# Samples dropped as unplaceable are also counted by the clock (clock.note_dropped) once committed.
# Counters and the day's quota are written with each commit, in the store's atomic commit record,
# so the books balance across power cuts. RAM: a few small objects per stream, a 128-byte bitmap.
from . import _is_int, blynk, encoder
from .clock import FLAG_BOOTREL
from .frame import (
    T_F64,
    T_FALSE,
    T_INT,
    T_LOC32,
    T_LOC64,
    T_SCALED,
    T_STR,
    T_TRUE,
    Rec,
)  # record.py's names (frame.py holds them: a sync of a store of frames loads no record.py)
from .compat import const, random, ticks_diff, ticks_ms
from .http import SLEEP, YIELD
from .quota import count as _count
from .quota import back_off, books, day_books, full_of, full_wait, hold_max_ms, left, retry_wait_ms, target, wait_ms

_DAY_MS = const(86400000)
_REJECT_LOG = const(8)
_MSG_MAX = const(96)

# verdicts on one record
_SEND = const(0)
_WAIT = const(1)
_STALE = const(2)
_UNPLACEABLE = const(3)
_DUP = const(4)
_THIN = const(5)
_FUTURE = const(6)  # over a day ahead of a set clock: it would block its stream for good
_TOO_BIG = const(7)  # alone, it does not fit max_request_bytes
_OLD_KIND = const(8)  # of a kind the stream's type no longer takes, and the server refused one this sync

_NEAR_MIDNIGHT_MS = const(600000)  # _booking_time: a device clock this far off the server's is mended
_NO_CLOCK = "the clock is not set: uploads wait for NTP or the server's Date"
_DAILY_HELD = "server: daily limit reached (at an earlier sync): uploads wait for the server's next UTC day"
_RAMP = const(8)  # after a bisection, each accepted batch may hold this many times the points of the last
_REJECTS_IN_ROW = const(3)  # this many lone points refused in a row with one message: the stream is refused
_BUCKETS = const(64)  # days of expiry the thinning plan tells apart

COUNTERS = ("sent", "dropped_stale", "rejected", "thinned", "unplaceable")
META_KEYS = ("qday", "qsent", "qprev")  # the day's quota books, beside COUNTERS in every commit's meta
_LAST = 1 << 62  # later than any timestamp: "no pending record"
_PAUSE = (YIELD, None, None)  # an op (http.py): an asyncio driver lets other tasks run
_PAUSE_EVERY = const(255)  # records walked between two _PAUSEs (a passes' step is a few us on a board)


def _quota_like(message):
    # A 400 that is about the daily limit, not about the batch's content: never bisect those.
    m = message.lower()
    return "daily" in m or "points limit" in m or "quota" in m


def _too_many(message):
    # A 400 about the batch's size, not a bad point: the Device API's "Too much data in batch.
    # Maximum batch size is N points." (a server whose maximum is below points_per_request) -> N
    # (0 when the message does not say it), or None for another message
    m = message.lower()
    i = m.find("maximum batch size is ")
    if i < 0:
        return None
    n = 0
    for c in m[i + 22 : i + 30]:
        if not "0" <= c <= "9":
            break
        n = n * 10 + ord(c) - 48
    return n


class _Stream:
    # Per-stream upload state for one sync: what the filter needs to decide the same way twice.
    dev = ""  # a gateway's device of the stream (gateway.py; "" the top-level one)

    def __init__(self, name, sid, cfg, where):
        self.name = name
        self.sid = sid
        self.cfg = cfg
        # its entry in the state's "parked": its name and the datastream the configuration sends it
        # to (the server, the device: `where`), so that a parking does not outlive a configuration
        # that changed that (the usual fix)
        self.park = "%s\n%s %s %s %s %s" % (
            name,
            cfg.get("device_id"),
            cfg.get("pin"),
            cfg.get("id"),
            cfg.get("type"),
            where,
        )
        # the last point accepted into a batch (duplicate check): its ts as prev_b + prev_d (prev_b
        # None: none), kept as its record gave it (record.Rec): no int made per point
        self.prev_b = None
        self.prev_d = 0
        self.thin_left = 0  # newest_first: how many of the oldest candidates to skip
        self.keep = 0  # spread: keep `keep` of every `total` candidates
        self.total = 0
        self.acc = 0
        self.limit = 0  # points per batch; halved while bisecting a 400, then grown back (_RAMP)
        self.suspect = 0  # while bisecting: the points from the commit point that hold a refused one
        self.cap = 0  # the most points a batch may grow back to: per_request, or less after a 413
        self.done = False
        self.rejects_in_row = 0  # lone points refused in a row with one message, last_reject
        self.last_reject = None  # (at most _MSG_MAX characters, as the state keeps it: _park)
        self.kept = None  # (prev_b, prev_d, thin_left, acc) at the stream's commit point (_one_batch)
        self.waits = None  # why the stream stopped at a sample that cannot go yet (see _say_waits)
        self.head = None  # its oldest pending record's timestamp; None: look again (_oldest_stream)
        self.old_kind = -2  # a record kind (frame.py's T_*) the server refused this sync, not the type's (_batch)


class Uploader:
    _client = None  # the client of the sync that runs (run(): its last answer's Date)

    def __init__(self, cfg, store, clock, state, sids):
        self.cfg = cfg
        self.store = store
        self.clock = clock
        self.state = state
        limits = cfg["limits"]
        self.per_request = limits["points_per_request"]
        self.per_day = limits["points_per_day"]
        self.max_bytes = min(limits["max_request_bytes"], encoder.limit(cfg["api"]))
        self.max_age_ms = limits["max_age_days"] * _DAY_MS - limits["stale_margin_s"] * 1000
        self.future_ms = limits["future_tolerance_s"] * 1000
        self.never_ms = max(self.future_ms, _DAY_MS)  # add() takes ts up to a day ahead
        self.max_age_days = limits["max_age_days"]
        self.gap_ms = 1000 // limits["requests_per_s"] + 1  # Blynk: 50 requests/s per device
        # ticks_ms() of the last request, across this Uploader's syncs (a sketch's syncs back to
        # back are paced too; ticks that wrapped between far-apart ones cost at most one pause)
        self._last_request = None
        self.feed = None  # set by Logger.sync(): called between batches
        self.api = cfg["api"]
        # in the order of their names, not the configuration's dict's (MicroPython's is its hash
        # table's): streams whose oldest samples share a timestamp take turns in that order
        # (_oldest_stream), and the thinning plan shares its excess out in it, on every runtime
        self.streams = []
        # the top-level device the streams go to (quota.target)
        self.where = where = target(cfg)
        for name in sorted(cfg["streams"]):
            self.streams.append(_Stream(name, sids[name], cfg["streams"][name], where))
        # the ts of each stream's last point the server accepted (state "last", kept by _commit and
        # saved with the sync's state): a later boot's point at that ts is a duplicate too
        last = state.get("last")
        last = last if isinstance(last, dict) else {}
        for st in self.streams:
            ts = last.get(st.name)
            if isinstance(ts, int) and not isinstance(ts, bool):
                st.prev_b = ts
        # the entries of streams the configuration leaves out now stay for when it names them
        # again (the state kept only the named ones: back in, a point at a ts already sent went
        # twice)
        self._last_out = last = dict(last)
        for st in self.streams:
            last.pop(st.name, None)
        self._cap = self.max_bytes  # the bytes a batch of more than one point may take (_size_cap)
        self._learning = False  # whether a 413 refused a batch in this sync (_learnt)
        self._good = 0  # the largest batch (bytes) that went since that 413
        self._seen = bytearray(128)  # 1024-bit filter of the timestamps in the current batch
        self._max_b = None  # the batch's latest ts so far: _max_b + _max_d
        self._max_d = 0
        self._cb = None  # the record base (ts) the limits below are relative to (_limits)
        meta = store.meta()
        self.totals = {}
        for k in COUNTERS:
            self.totals[k] = _count(meta.get(k), 0)
        # points booked on quota_day, and on the day before it
        self.quota_day, self.quota_sent, self.quota_prev = books(meta)

    # ---- the books

    def _books(self, now):
        # (day, points sent on it, points sent the day before) of the quota books at `now`
        # (quota.day_books says how a day follows another)
        return day_books(self.quota_day, self.quota_sent, self.quota_prev, now)

    def _quota_for(self, st, now):
        # the points stream st's batch may take (gateway.py: its device's)
        return self.quota_left(now)

    def quota_left(self, now):
        # Points the day still allows. Without a clock the day is unknown: what is left of the last
        # known one (run() sends at most one batch then, whose answer's Date sets the clock).
        return left(
            self.per_day, self.quota_day, self.quota_sent, self.quota_prev, full_of(self.state, self.where), now
        )

    def _commit(self, st, pos, covered, delta, now, sent, keep):
        # The counters, the day's quota and the stream's filter state (`keep`, see _one_batch) go
        # with the store's atomic commit; RAM follows only once the commit is written, so a failed
        # write cannot count a batch that will be sent again. A failed write stops the sync, here
        # for every caller: _StoreFault, caught in run().
        totals = {}
        for k in COUNTERS:
            totals[k] = self.totals[k] + delta.get(k, 0)
        qday, qsent, qprev = self.quota_day, self.quota_sent, self.quota_prev
        own = self._device_books(st, delta, now, sent)
        if sent and own is None:
            qday, qsent, qprev = self._books(now)
            qsent += sent
        meta = {"qday": qday, "qsent": qsent, "qprev": qprev}
        for k in COUNTERS:
            meta[k] = totals[k]
        self._device_meta(meta, st, own)
        try:
            self.store.commit(st.sid, pos, covered, meta)
        except Exception as e:  # a flash fault or a MemoryError: the store kept its old cursor
            raise _StoreFault(sent, e)
        self.totals = totals
        self.quota_day, self.quota_sent, self.quota_prev = qday, qsent, qprev
        if own is not None:
            self._device_kept(st, own)
        st.kept = keep
        last = dict(self._last_out)
        for s in self.streams:  # the others are at their commit points (_one_batch)
            b, d = (keep[0], keep[1]) if s is st else (s.prev_b, s.prev_d)
            if b is not None:
                last[s.name] = b + d
        self.state.set("last", last)
        if delta.get("unplaceable"):
            self.clock.note_dropped(delta["unplaceable"])

    # A gateway's part of the commit (gateway.py): the books of st's device after it (None: the
    # day's quota books above count it), every device's books in its meta, and RAM's once written
    def _device_books(self, st, delta, now, sent):
        return None

    def _device_meta(self, meta, st, own):
        pass

    def _device_kept(self, st, own):
        pass

    def _log_reject(self, now, st, ts, message):
        log = self.state.get("rejects")
        if not isinstance(log, list):  # absent, or a damaged state file
            log = []
        # a new list, not the state's own changed in place: State.set sees a change by comparing
        # (an entry appended to its own list would look unchanged, and not be saved)
        log = log + [[now, st.name, ts, message[:_MSG_MAX]]]
        self.state.set("rejects", log[-_REJECT_LOG:])

    # ---- judging one record

    # @micropython.native armv6m
    def _judge(self, st, rec, now):
        # -> verdict on the record (record.Rec). Deterministic for a given stream state: the same
        # records get the same verdicts on every pass over a batch. A boot-relative record that the
        # clock places gets its Unix ts as rec.base (delta 0); one that waits for the clock, ts 0.
        # Timestamps are compared as deltas against limits relative to the record's base (one set
        # per segment and pass: _limits): no int is made per record on a 32-bit port. A verdict
        # _SEND changes nothing yet: _take() does, once the point goes into the batch.
        if rec.flags & FLAG_BOOTREL:
            placed = self.clock.resolve(rec.base + rec.delta, rec.flags)
            if not placed:
                rec.base = 0
                rec.delta = 0
                return _WAIT if placed is None else _UNPLACEABLE
            rec.base = placed[0]
            rec.delta = 0
        base = rec.base
        d = rec.delta
        if base is not self._cb:
            self._limits(base, now)
        if now is not None:
            if d < self._c_stale:
                return _STALE
            if d > self._c_future:
                return _FUTURE if d > self._c_never else _WAIT
        pb = st.prev_b
        if pb is not None and ((d == st.prev_d and base is pb) or (base is not pb and base + d == pb + st.prev_d)):
            return _DUP
        if (rec.typ == T_STR or (rec.typ < 0 and isinstance(rec.obj, str))) and encoder.overhead(
            self.api, self._target(st)
        ) + encoder.point_size(self.api, rec, None, None) > self.max_bytes:
            return _TOO_BIG  # it can never fit a request: set it aside rather than stop the stream
        if rec.typ == st.old_kind:
            return _OLD_KIND
        if st.thin_left > 0:
            st.thin_left -= 1
            return _THIN
        if st.total and st.acc + st.keep < st.total:
            st.acc += st.keep
            return _THIN
        return _SEND

    # @micropython.native armv6m
    def _take(self, st, rec):
        # The record judged _SEND goes into the batch: the stream's filter state moves past it.
        if st.total:
            st.acc += st.keep - st.total
        st.prev_b = rec.base
        st.prev_d = rec.delta

    def _limits(self, base, now):
        # The stale, future and never limits as deltas from base, and base's low bits (_seen_before).
        self._cb = base
        self._c_h = base & 0xFFFFF
        if now is not None:
            self._c_stale = now - self.max_age_ms - base
            self._c_future = now + self.future_ms - base
            self._c_never = now + self.never_ms - base

    def _scan(self, sid):
        # The stream's pending records as one record.Rec per step (Store.scan), or records()
        # adapted for a store without scan().
        scan = getattr(self.store, "scan", None)
        if scan is not None:
            return scan(sid)
        return _adapt(self.store.records(sid))

    def _plan_thinning(self, now, quota_left):
        # When the backlog cannot all go up before it goes stale, how many records must be
        # skipped whatever is sent: the largest excess, over d, of the records with at most d whole
        # days left over the points d days allow (today's quota + points_per_day per day after).
        # Sending oldest first loses exactly that many; the backlog policy chooses which instead.
        # One pass over the pending records; RAM: one int per day of expiry.
        for st in self.streams:
            st.thin_left = st.keep = st.total = st.acc = 0
        policy = self.cfg["upload"]["backlog_policy"]
        if policy == "oldest_first" or now is None or not self.store.pending():
            return
        buckets = min(self.max_age_days + 1, _BUCKETS)
        counts = [0] * buckets
        mine = [0] * len(self.streams)
        for i in range(len(self.streams)):
            if self.streams[i].done:  # parked for this sync
                continue
            it = self.store.records(self.streams[i].sid)
            n = 0
            for _, ts, _, flags in it:
                n += 1
                if not n & _PAUSE_EVERY:
                    yield _PAUSE
                if flags & FLAG_BOOTREL:
                    placed = self.clock.resolve(ts, flags)
                    if not placed:
                        continue
                    ts = placed[0]
                if ts < now - self.max_age_ms or ts > now + self.future_ms:
                    continue  # stale, or waiting: neither takes quota now
                counts[min((ts + self.max_age_ms - now) // _DAY_MS, buckets - 1)] += 1
                mine[i] += 1
            _close(it)
        excess = total = 0
        for d in range(buckets):
            total += counts[d]
            if d < buckets - 1:  # the last bucket holds everything further out: no deadline there
                excess = max(excess, total - quota_left - self.per_day * d)
        if excess <= 0:
            return
        backlog = total
        left = excess
        for i in range(len(self.streams)):
            st = self.streams[i]
            skip = min(mine[i], -(-excess * mine[i] // backlog), left)  # rounded up, shared out
            left -= skip
            if policy == "newest_first":
                st.thin_left = skip
            else:
                st.keep, st.total = mine[i] - skip, mine[i]

    def _snapshot(self, st):
        return (st.prev_b, st.prev_d, st.thin_left, st.acc)

    def _restore(self, st, snap):
        st.prev_b, st.prev_d, st.thin_left, st.acc = snap

    # ---- batches

    # @micropython.native armv6m
    def _seen_before(self, rec):
        # Whether the record's ts may already be in this batch. Exact for timestamps that only
        # grow; for one out of order, a bitmap hit ends the batch there (the point opens the next
        # batch). The bit is (ts ^ (ts >> 10)) & 1023, from ts's low 20 bits (_limits: its base's).
        h = (self._c_h + rec.delta) & 0xFFFFF
        bit = (h ^ (h >> 10)) & 1023
        hit = self._seen[bit >> 3] & (1 << (bit & 7))
        self._seen[bit >> 3] |= 1 << (bit & 7)
        mb = self._max_b
        if mb is None or (rec.delta > self._max_d if rec.base is mb else rec.base + rec.delta > mb + self._max_d):
            self._max_b = rec.base
            self._max_d = rec.delta
            return False
        return bool(hit)

    # @micropython.native armv6m
    def _plan_batch(self, st, now, limit):
        # First pass: walk the stream's pending records and decide which go into the next batch.
        # -> (points, covered, last_pos, delta counters, nbytes)
        for i in range(len(self._seen)):
            self._seen[i] = 0
        self._max_b = None
        self._cb = None
        delta = {}
        points = covered = 0
        last_pos = None
        decimals = st.cfg["decimals"]
        nbytes = encoder.overhead(self.api, self._target(st))
        it = self._scan(st.sid)
        for rec in it:
            if not covered & _PAUSE_EVERY and covered:
                yield _PAUSE
            verdict = self._judge(st, rec, now)
            if verdict == _WAIT:
                st.done = True
                st.waits = rec.base + rec.delta  # why the stream stops here (0: stamped before the clock)
                break
            if verdict == _SEND:
                if points >= limit:
                    break
                size = encoder.point_size(self.api, rec, None, decimals)
                if nbytes + size > self.max_bytes or (points and (nbytes + size > self._cap or self._seen_before(rec))):
                    break
                if not points:
                    self._seen_before(rec)
                self._take(st, rec)
                points += 1
                nbytes += size
            else:
                key = _VERDICT_COUNTER[verdict]
                delta[key] = delta.get(key, 0) + 1
                if verdict in _VERDICT_REASON:
                    # each one for the rejects log (_note_why), which keeps the last _REJECT_LOG:
                    # a batch keeps no more either
                    why = delta.get("_why")
                    if why is None:
                        why = delta["_why"] = []
                    elif len(why) >= _REJECT_LOG:
                        why.pop(0)
                    why.append((rec.base + rec.delta, _VERDICT_REASON[verdict]))
            covered += 1
            last_pos = rec.pos
        else:
            st.done = True
        _close(it)
        return points, covered, last_pos, delta, nbytes

    def _points(self, st, now, covered, snap):
        # Second pass, as often as the client needs it: the same records, the same verdicts. Yields
        # the record (record.Rec, valid until the next one), which the encoder takes as a point.
        # @micropython.native armv6m
        def gen():
            self._restore(st, snap)
            self._cb = None
            n = 0
            it = self._scan(st.sid)
            for rec in it:
                if n >= covered:
                    break
                n += 1
                if self._judge(st, rec, now) == _SEND:
                    self._take(st, rec)
                    yield rec
            _close(it)

        return gen

    def _target(self, st):
        return (st.cfg.get("device_id", self.cfg["device_id"]), st.cfg["id"])

    # ---- the sync

    def run(self, client, report, budget_ms, now_fn):
        # Upload until done, out of quota or budget, or a failure stops it. Fills `report`.
        # A generator of I/O ops (http.py), driven by http.run_blocking (sync) or aio (sync_async):
        # every request below is a `yield from` down to the client's and the connection's.
        start = ticks_ms()
        now = now_fn()
        self._client = client  # (_day_quota: its last answer's Date)
        parked = self.state.get("parked")
        if not isinstance(parked, dict):  # absent, or a damaged state file
            parked = {}
        # this configuration's streams' entries only (an entry of a datastream the file no longer
        # names is let go): the stream is tried again
        keys = [st.park for st in self.streams]
        parked = {k: parked[k] for k in parked if k in keys}
        yield from self._begin(now, parked, report)
        stop = None
        self._asked = False  # whether a request went out (without a clock, one: its Date sets it)
        while stop is None:
            # oldest data first across the streams: the next batch is the stream whose oldest
            # pending record is the oldest (a quota that binds never starves a stream)
            st = self._oldest_stream(now)
            if st is None:
                stop = "done"
                if now is None and not self._asked:
                    # without a clock, nothing pending could be placed (boot-relative samples,
                    # no NTP answer) and so nothing went, or nothing is pending (a board's first
                    # upload after power-on, before its first sample): a cheap request brings the
                    # server's Date, so that what comes next is stamped with the time
                    now = yield from self._ask_time(client, now_fn, parked, report)
                    if now is not None:
                        stop = None
                        continue
                    stop = "clock"
                    report["last_error"] = _NO_CLOCK
                break
            if budget_ms is not None and ticks_diff(ticks_ms(), start) >= budget_ms:
                stop = "budget"
                break
            if now is None:
                if self._asked:
                    stop = "clock"
                    report["last_error"] = _NO_CLOCK
                    for st in self.streams:  # their next sample waits for the time (_say_waits)
                        if st.head == _LAST - 1:
                            st.waits = 0
                    break
                # the server's Date first: a batch sent blind would go unjudged (an explicit ts
                # over a day ahead, stale points), its samples stamped by a wake's estimate that
                # the Date makes exact
                now = yield from self._ask_time(client, now_fn, parked, report)
                continue
            quota = self._day_quota(now, self.quota_left)
            if quota <= 0:
                stop = "quota"
                break
            if self.feed is not None:
                self.feed()
            try:
                stop = yield from self._one_batch(client, st, now, quota, report, parked, now_fn)
            except _StoreFault as e:
                # the one place for a commit that could not be written (a full or failing flash):
                # the records stay pending; a batch the server accepted goes again (at-least-once)
                stop = "store"
                sent, err = e.args
                report["last_error"] = "store: commit failed (%s)" % blynk._err_text(err)
                if sent:
                    report["last_error"] += (
                        "; the batch the server accepted (%d points) was not committed and goes again" % sent
                    )
            st.head = None
            now = now_fn()
        self.state.set("parked", parked)
        report["stopped"] = stop
        if stop == "quota" and not report["last_error"] and full_wait(full_of(self.state, self.where), now):
            # the server said so at an earlier sync: its word still holds the points back
            report["last_error"] = _DAILY_HELD
        self._say_parked(parked, report)
        report["quota_left"] = self.quota_left(now)
        self._say_waits(now, report)
        return stop

    def _say_waits(self, now, report):
        # the streams whose next sample cannot go yet, and why: report["waiting"], and last_error
        # when nothing else explains a sync that stopped with samples pending
        waiting = {}
        for st in self.streams:
            if st.waits is None:
                continue
            if not st.waits:
                why = "its next sample was stamped before the clock was set: it waits for the time"
            else:
                why = "its next sample is %d s ahead of the clock: it goes once within limits.future_tolerance_s" % (
                    (st.waits - now) // 1000 if now is not None else 0
                )
            waiting[st.name] = why
        report["waiting"] = waiting
        if waiting and not report.get("last_error"):
            name = sorted(waiting)[0]
            report["last_error"] = "stream %s waits: %s" % (name, waiting[name])

    def _day_quota(self, now, left):
        # left(t): the points the books allow at t. The quota of the day a batch will be booked on
        # (_booking_time): near a UTC midnight the server's, by its last answer's Date once the
        # sync has one: ours may turn before or after its, and a clock ahead of the server's had a
        # new day's quota while the server still counted the old one (a batch over its limit,
        # refused; a sync's first batch, before any answer, still may be)
        ms = _server_ms(self._client) if _near_midnight(now) else None
        return left(now if ms is None else ms)

    def _begin(self, now, parked, report):
        # Every stream's state for a sync (again once a time request set the clock).
        # (a clock behind the books' day, set back across midnight, or behind the server's near
        # one: the books are read as that earlier day's, quota.day_books, and left as they are
        # until a commit sends on it; folded here, the server's new day's count was forgotten at
        # our midnight, and the next batch was refused as over its daily limit)
        self._size_cap(now)
        for st in self.streams:
            st.done = False
            st.old_kind = -2
            st.limit = st.cap = self.per_request
            st.head = None  # the timestamp of its oldest pending record, or None: look again
            st.waits = None
            entry = parked.get(st.park)
            # lone points the server refused one after another with one message are counted
            # across syncs and boots ([0, message, count] in the state's "parked": a board that
            # syncs a point or two at each wake meets 3 in a row over several); a stream parked
            # for them ([until, message]) has them where they were, so its first point refused
            # for that reason again parks it at once and sets nothing aside; that point goes
            # alone (one request, not a bisection of a full batch)
            st.last_reject = park_reason(entry)
            st.rejects_in_row = park_count(entry)
            if st.last_reject is not None:
                st.limit = 1
            until = park_until(entry)
            if until is not None and now is not None and 0 < until - now <= self.cfg["upload"]["park_s"] * 1000:
                st.done = True
                report["parked"].append(st.name)
        yield from self._plan_thinning(now, self.quota_left(now))  # parked streams take no quota: left out

    def _oldest_stream(self, now):
        # The active stream whose oldest pending record is the oldest (of a tie, the first by name:
        # self.streams' order); one peek per stream whose head moved. A record that cannot be
        # placed in time yet counts as the newest.
        best = None
        for st in self.streams:
            if st.done:
                continue
            if st.head is None:
                st.head = _LAST
                it = self.store.records(st.sid)
                for _, ts, _, flags in it:
                    if flags & FLAG_BOOTREL:
                        placed = self.clock.resolve(ts, flags)
                        # never placeable: first (it is dropped at no cost); not yet: last
                        ts = placed[0] if placed else (0 if placed is False else _LAST - 1)
                    st.head = ts
                    break
                _close(it)
                if st.head == _LAST:  # nothing pending
                    st.done = True
                    continue
            if best is None or st.head < best.head:
                best = st
        return best

    def _one_batch(self, client, st, now, quota, report, parked, now_fn):
        # The stream's filter state (previous timestamp, thinning) is the one at its commit point:
        # _commit moves st.kept along with the store's cursor, and whatever else happens between
        # plan and commit (a MemoryError in the upload, a failed commit, any answer) leaves the
        # stream as before the batch. The next batch is planned from there.
        st.kept = self._snapshot(st)
        try:
            return (yield from self._batch(client, st, now, quota, report, parked, now_fn))
        finally:
            self._restore(st, st.kept)

    def _batch(self, client, st, now, quota, report, parked, now_fn):
        snap = st.kept
        points, covered, last_pos, delta, nbytes = yield from self._plan_batch(st, now, min(st.limit, quota))
        if not covered:
            st.done = True
            return None
        after = self._snapshot(st)
        if not points:
            # nothing to send in this stretch (all stale, duplicate, thinned...): just move past it
            self._commit(st, last_pos, covered, delta, now, 0, after)
            self._add(report, delta)
            self._note_why(now, st, delta)
            return None
        self._asked = True
        # the body's length is the planned sum (point_size counts each point's comma; the first
        # point has none): the client need not walk the records once more to know it
        answer = yield from self.paced(
            client, client.upload_gen(st.cfg, self._points(st, now, covered, snap), points, nbytes - 1)
        )
        # the time after the answer (it may have taken the whole timeout; its Date header may have
        # set the clock): back-off and parking count from it. The batch is booked on the day it
        # went (the server counts it on arrival). `judged` stays the time the records were judged
        # at, for going over them again.
        judged, now = now, now_fn()
        sent_at = _booking_time(client, judged if judged is not None else now)
        kind = answer.kind
        if kind == blynk.OK:
            delta["sent"] = delta.get("sent", 0) + points
            self._commit(st, last_pos, covered, delta, sent_at, points, after)
            self._add(report, delta)
            self._note_why(now, st, delta)
            report["batches"] += 1
            st.rejects_in_row = 0
            if self._learning:
                self._learnt(nbytes, False, now)
            if st.suspect > points:
                # bisecting: this half went, so the refused point is in the rest of the span the
                # server refused: half of that next (growing back here would send it again)
                st.suspect -= points
                st.limit = max(1, st.suspect // 2)
            elif st.limit < st.cap:  # grow back after a bisection, in a few steps
                st.suspect = 0
                st.limit = min(st.cap, st.limit * _RAMP)
            self.state.set("retry", None)
            if st.park in parked:
                del parked[st.park]
            return None
        st.done = False
        msg = answer.message or ("HTTP %s" % answer.status)
        if answer.status == 400 and kind in (blynk.BAD_BATCH, blynk.RETRY) and _quota_like(msg):
            # the server counts the day's points too, and says they are spent: wait for the next day
            report["last_error"] = "server: daily limit reached (%s)" % msg
            if now is not None:
                # kept: later wakes that day do not ask again. Until the server's day turns, by
                # its answer's Date: ours may turn before or after its does (a clock a little off
                # at midnight), and its new day starts when its clock turns
                self.state.set("quota_full", [_server_day_end(client, now), self.where])
            return "quota"
        if kind == blynk.BAD_BATCH:
            if points > 1:
                most = _too_many(msg)
                if answer.status == 413 or most is not None:
                    # too large (a proxy's body limit, or a server's maximum of points that its
                    # message names), not a bad point: halved (or cut to that maximum) until a
                    # size goes, and no batch grows back past it for the rest of the sync (a
                    # bisection went on down to lone points: 14 requests for 3,000 points after
                    # one 413, now 3); the size is kept for later syncs and boots (_learnt)
                    st.suspect = 0
                    st.cap = st.limit = max(1, most if most and most < points else points // 2)
                    self._learnt(nbytes, True, now)
                    return None
                st.suspect = points  # a refused point is among them
                st.limit = max(1, points // 2)
                return None
            st.suspect = 0
            reason = msg[:_MSG_MAX]
            ts, kind = self._first_point(st, judged, covered, snap)
            fits = kind is None
            if not fits:
                # a point stored as another kind than the stream's type now takes (from before the
                # type changed) is a bad point whatever the server's message: set aside, not
                # counted toward parking (the old backlog parked the stream for good), and the
                # records of that kind after it go aside this sync without a request each (200
                # of them cost 200 requests and 200 commits)
                if kind >= 0:  # (a raw store's records are all -1: _adapt)
                    st.old_kind = kind
            else:
                if reason != st.last_reject:
                    st.rejects_in_row = 0
                if st.rejects_in_row >= _REJECTS_IN_ROW - 1:
                    # lone points refused one after another for one reason: the stream is
                    # refused (a wrong datastream type, say), not a point. Park it; nothing is set
                    # aside. The reason goes with the parking (_begin): when it ends, the same
                    # refusal parks the stream again at once
                    return self._park(st, now, parked, report, reason, True)
                st.rejects_in_row += 1
                st.last_reject = reason
            # the bad point is alone: set it aside and go on (it is not the stream's previous
            # timestamp: the one before it stays that)
            self._log_reject(now, st, ts, msg)
            delta["rejected"] = delta.get("rejected", 0) + 1
            self._commit(st, last_pos, covered, delta, now, 0, snap[:2] + after[2:])
            if fits:
                # counted once it is set aside (a commit that failed leaves it to go again, uncounted)
                parked[st.park] = [0, reason, st.rejects_in_row]  # (not parked: _begin)
            self._add(report, delta)
            self._note_why(now, st, delta)  # what the batch set aside beside it (a duplicate of it, say)
            report["last_error"] = "rejected a point of %s: %s" % (st.name, msg)
            # the next point alone first: refused points come in runs (a backlog older than the
            # server keeps), and each would cost a whole bisection (10 requests from 1,000 points);
            # alone it costs one, and accepted batches grow back to the full size in a few steps
            st.limit = 1
            return None
        if kind == blynk.UNKNOWN_STREAM:
            return self._park(st, now, parked, report, msg)
        if kind == blynk.UNKNOWN_DEVICE:
            report["last_error"] = "unknown device: %s" % msg
            return "device"
        if kind == blynk.AUTH:
            report["last_error"] = "authentication failed: %s" % msg
            return "auth"
        # retry later
        if not answer.status:
            report["network_fault"] = True  # no HTTP answer at all (network, TLS, timeout)
        self._back_off(now, answer.retry_after_ms, report)
        report["last_error"] = "retry later: %s" % msg
        return "retry"

    # ---- the body size a 413 taught (state "cap": [bytes, since, key]): kept across syncs and
    # boots, as the proxy that refused a larger body is still there; forgotten when the server or
    # the limits change (key), and doubled each day since it was learnt (one 413 a day at most,
    # should the proxy have been lifted)

    def _cap_key(self):
        return "%s %d %d" % (self.cfg["server"], self.per_request, self.max_bytes)

    def _size_cap(self, now):
        # at a sync's start: the bytes a batch may take, by the state's entry
        self._learning = False
        self._cap = self.max_bytes
        e = self.state.get("cap")
        if not (isinstance(e, list) and len(e) == 3 and e[2] == self._cap_key()):
            if e is not None:
                self.state.set("cap", None)
            return
        size, since = e[0], e[1]
        if not (_is_count(size) and _is_count(since) and size > 0):
            self.state.set("cap", None)  # a damaged state file
            return
        if now is not None and not since:
            self.state.set("cap", [size, now, e[2]])  # learnt while the clock was unset: its day starts now
        elif now is not None and now - since >= _DAY_MS:
            size, since = size * 2, now  # grown back a step a day
            if size >= self.max_bytes:
                self.state.set("cap", None)
                return
            self.state.set("cap", [size, since, e[2]])
        self._cap = min(size, self.max_bytes)

    def _learnt(self, nbytes, refused, now):
        # refused: a 413 answered a batch of nbytes (as planned: the body's length + 1); else a
        # batch of nbytes went after one in this sync. Kept: the largest that went since the last
        # 413, or half the refused one until one goes
        if refused:
            self._learning = True
            self._good = 0
            self._cap = min(self._cap, nbytes - 1)  # this sync: never that size again
            nbytes //= 2
        elif nbytes > self._good:
            self._good = nbytes
        else:
            return
        self.state.set("cap", [nbytes, now or 0, self._cap_key()])

    def _park(self, st, now, parked, report, reason, refused=False):
        # Set a stream aside for park_s (for this sync only while the clock is unset), the
        # server's message (reason) kept in the entry: the syncs that the parking holds back say
        # it too (_say_parked). refused: the server refused the stream's points one by one: the
        # entry [until, reason] (park_reason) holds until a batch of the stream is accepted; else
        # [until, reason, 0] (an unknown datastream)
        st.done = True
        entry = [0, reason] if refused else park_entry(0, reason)
        if now is not None:
            entry[0] = now + self.cfg["upload"]["park_s"] * 1000
            parked[st.park] = entry
        report["parked"].append(st.name)
        report["last_error"] = "stream %s parked: %s" % (st.name, park_why(entry))
        return None

    def _say_parked(self, parked, report):
        # a sync that says nothing else names the parking that held a stream's samples back, as
        # the sync that parked it did (the syncs until park_s passes, at later boots too)
        if report.get("last_error") or not report["parked"]:
            return
        for st in self.streams:
            if st.name in report["parked"] and self.store.pending(st.sid):
                why = park_why(parked.get(st.park)) or "set aside for upload.park_s"
                report["last_error"] = "stream %s parked: %s" % (st.name, why)
                return

    def _note_why(self, now, st, delta):
        # the records a committed batch set aside without the server (_plan_batch), in their order
        for why in delta.get("_why") or ():
            self._log_reject(now, st, why[0], why[1])

    def _first_point(self, st, now, covered, snap):
        # (ts, None or its stored kind when the stream's type does not take that) of a batch's
        # first point
        for rec in self._points(st, now, covered, snap)():
            return rec.base + rec.delta, (None if _fits(rec, st.cfg.get("type")) else rec.typ)
        return None, None

    def _back_off(self, now, retry_after_ms, report):
        retry = back_off(self.state, self.cfg["server"])
        n = retry.get("n") if retry is not None else 0
        n = min(max(n, 0) + 1, 20) if isinstance(n, int) else 1  # a damaged state file: start afresh
        up = self.cfg["upload"]
        cap = min(up["retry_max_s"] * 1000, up["retry_base_s"] * 1000 * (1 << (n - 1)))
        delay = random.randint(0, cap) if cap > 0 else 0  # full jitter
        if retry_after_ms is not None:
            delay = max(delay, min(retry_after_ms, hold_max_ms(up["retry_max_s"])))
        at = (now + delay) if now is not None else None
        self.state.set("retry", {"n": n, "at": at, "server": self.cfg["server"]})
        report["next_retry_ms"] = delay

    def _ask_time(self, client, now_fn, parked, report):
        # Without a clock: a request that counts no point (HEAD /) for the server's Date, which
        # sets the clock; the sync begins again from it -> the time, or None (still unset)
        self._asked = True
        yield from self.paced(client, client.ask_time_gen())
        now = now_fn()
        if now is not None:
            yield from self._begin(now, parked, report)
        return now

    def paced(self, client, request):
        # Every request of a sync goes through here (the batches, remote.py's settings read and
        # events): at most limits.requests_per_s, however they mix. A burst over the server's
        # rate limit only earns a 429 and a back-off. request: the client's generator of it.
        if self._last_request is not None:
            elapsed = ticks_diff(ticks_ms(), self._last_request)
            if 0 <= elapsed < self.gap_ms:
                yield (SLEEP, None, self.gap_ms - elapsed)
        self._last_request = ticks_ms()
        try:
            return (yield from request)
        finally:
            # the pace counts from when the request went out: the first one's connection,
            # handshake and token came before it (a transport that does not say keeps the time
            # before them)
            sent = getattr(getattr(client, "conn", None), "sent_ms", None)
            if sent is not None and ticks_diff(sent, self._last_request) > 0:
                self._last_request = sent

    def retry_later(self, now, answer, report):
        # A request beside the batches (remote.py's settings read, an event) answered "later": a
        # 429, or any answer with a Retry-After, holds the next syncs off as a batch's would (the
        # server's "not before" is about the client, whichever request it answered). A 5xx or a
        # network fault without one only fails that request: the upload went through.
        if answer.status == 429 or answer.retry_after_ms is not None:
            self._back_off(now, answer.retry_after_ms, report)

    def retry_wait_ms(self, now):
        # How long the persisted back-off still holds, or 0.
        return retry_wait_ms(self.state, self.cfg["server"], self.cfg["upload"]["retry_max_s"], now)

    def quota_wait_ms(self, now):
        # How long until the day's quota allows a point again (upload_wait_ms()), or 0
        return wait_ms(0, self.quota_left(now), now, full_of(self.state, self.where))

    def _add(self, report, delta):
        for k in delta:
            if k[0] != "_":
                report[k] = report.get(k, 0) + delta[k]


_VERDICT_COUNTER = {
    _STALE: "dropped_stale",
    _UNPLACEABLE: "unplaceable",
    _DUP: "rejected",
    _THIN: "thinned",
    _FUTURE: "rejected",
    _TOO_BIG: "rejected",
    _OLD_KIND: "rejected",
}

# why a record was set aside without the server, for the rejects log
_VERDICT_REASON = {
    _DUP: "duplicate timestamp (the first sample kept)",
    _FUTURE: "timestamp over a day ahead of the clock",
    _TOO_BIG: "point larger than max_request_bytes",
    _OLD_KIND: "a kind of value the stream's type no longer takes (the server refused one)",
}


class _StoreFault(Exception):
    # The store could not commit: args (points the server accepted in that batch, the OSError).
    pass


def _booking_time(client, t):
    # The time a batch is booked on the day's quota at: ours, but within _NEAR_MIDNIGHT_MS of a
    # UTC midnight the server's, by its answer's Date (whole seconds). It counts the points on its
    # day: a clock a minute ahead booked them on the next one, whose quota it then lacked.
    if not _near_midnight(t):
        return t
    ms = _server_ms(client)
    return t if ms is None else ms


def _near_midnight(t):
    # within _NEAR_MIDNIGHT_MS of a UTC midnight (False without a clock)
    return t is not None and not _NEAR_MIDNIGHT_MS < t % _DAY_MS < _DAY_MS - _NEAR_MIDNIGHT_MS


def _server_ms(client):
    # the server's time (Unix ms, whole seconds) by its last answer's Date header, or None
    date = getattr(getattr(client, "conn", client), "date", None)
    if not date:
        return None
    from .clock_set import parse_http_date

    return parse_http_date(date)


def _server_day_end(client, now):
    # The time on our clock at which the server's UTC day turns, by its last answer's Date header
    # (whole seconds), or our day's end without one: its day, not ours, is the one it counts
    date = getattr(getattr(client, "conn", client), "date", None)
    ms = None
    if date:
        from .clock_set import parse_http_date

        ms = parse_http_date(date)
    if ms is None:
        ms = now
    return now + _DAY_MS - ms % _DAY_MS


def _is_count(v):
    return _is_int(v) and v >= 0


def park_until(entry):
    # The end (Unix ms) of an entry of the state's "parked": `until` (an unknown datastream, as
    # earlier versions kept it) or [until, message, 0] (as now), [until, message] for a stream
    # parked because the server refused its points one by one (_park), or [0, message, count] for
    # one whose points it refused `count` times in a row, not parked (_batch); None for a damaged
    # entry
    if isinstance(entry, list) and 2 <= len(entry) <= 3:
        entry = entry[0]
    return entry if isinstance(entry, int) and not isinstance(entry, bool) else None


def park_reason(entry):
    # The server's message an entry [until, message] or [0, message, count] of the state's
    # "parked" keeps, else None
    if park_until(entry) is None or not isinstance(entry, list) or not isinstance(entry[1], str):
        return None
    if len(entry) == 3 and not (isinstance(entry[2], int) and 0 < entry[2] < _REJECTS_IN_ROW):
        return None
    return entry[1][:_MSG_MAX]


def park_entry(until, message):
    # The entry of the state's "parked" for a stream parked until `until` as unknown (park_why)
    return [until, message[:_MSG_MAX], 0]


def park_why(entry):
    # Why an entry of the state's "parked" parks its stream, as _park says it: [until, message]
    # (its points refused one by one), [until, message, 0] (an unknown datastream or device);
    # else None
    if park_until(entry) is None or not isinstance(entry, list) or not isinstance(entry[1], str):
        return None
    if len(entry) == 2:
        return "the server refuses every point: " + entry[1][:_MSG_MAX]
    if entry[2] == 0 and not isinstance(entry[2], bool):
        return entry[1][:_MSG_MAX]
    return None


def park_count(entry):
    # The refusals in a row an entry of the state's "parked" holds: the count of [0, message,
    # count]; for a stream parked for them ([until, message]) one short of parking it, so that the
    # next refusal for that reason parks it again; else 0
    if park_reason(entry) is None:
        return 0
    return _REJECTS_IN_ROW - 1 if len(entry) == 2 else entry[2]


# the record kinds (frame.py's T_*) each datastream type takes; a double takes any number
_KINDS = {
    "string": (T_STR,),
    "int": (T_INT,),
    "enum": (T_INT,),
    "bool": (T_FALSE, T_TRUE),
    "location": (T_LOC32, T_LOC64),
}


def _fits(rec, stype):
    t = rec.typ
    if t < 0:  # a value as it is (_adapt)
        v = rec.obj
        if isinstance(v, str):
            t = T_STR
        elif isinstance(v, bool):
            t = T_TRUE
        elif isinstance(v, int):
            t = T_INT
        elif isinstance(v, float):
            t = T_F64
        else:
            t = T_LOC64
    kinds = _KINDS.get(stype)
    if kinds is None:
        return T_INT <= t <= T_F64 or t >= T_SCALED
    return t in kinds


def _adapt(it):
    # records() of a store without scan() (rawstore) as Store.scan() yields them.
    rec = Rec()
    try:
        for pos, ts, value, flags in it:
            rec.pos = pos
            rec.base = ts
            rec.delta = 0
            rec.flags = flags
            rec.obj = value
            yield rec
    finally:
        _close(it)


def _close(it):
    # Release a generator stopped early (its open file) now rather than at the next collection.
    close = getattr(it, "close", None)
    if close:
        close()


def meta_max():
    # The most bytes of compact JSON the commit meta of Uploader._commit() takes: "qday", "qsent",
    # "qprev" and every counter, each an int of at most 20 digits (any count below 10**20, beyond a u64).
    # The raw store keeps this much room in its checkpoint (the Logger checks the streams fit).
    n = 1
    for k in META_KEYS + COUNTERS:
        n += len(k) + 3 + 20 + 1  # "key": value ,  (the last comma is the closing brace)
    return n
