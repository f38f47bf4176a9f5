# blynklog.gateway: the upload policy of a gateway, one board uploading for several Blynk devices
# over the Platform API (the configuration's "devices" section; imported only with one, so a
# single-device Logger loads nothing of it). Everything else is policy.Uploader's, with these rules
# per device:
#   - the day's quota is per device (Blynk counts points per device per UTC day): each device has
#     its own books (day, points sent that day, points sent the day before), kept with the
#     store's atomic commit beside the top-level device's qday/qsent/qprev, in the commit meta's
#     "dev" entry: device name -> [qday, qsent, qprev, sent, dropped_stale, rejected, thinned,
#     unplaceable]; a device whose quota is spent is set aside for this sync, the others go on;
#   - batches go oldest first across every device and stream (policy's _oldest_stream), so a busy
#     device never starves a quiet one: each batch is the one whose oldest pending sample is oldest
#     (of a tie, the stream first by its "device/stream" name, on every runtime);
#   - a 404 "Device ... is not found" parks that device (all its streams) for upload.park_s, its
#     samples kept, retried later as a parked stream is; the other devices go on;
#   - a 400 saying a device's daily points are spent sets that device aside until the next UTC day
#     (state "quota_full_dev": name -> [when its day turns, the device id it was said of], as
#     policy's quota_full: a device the configuration moves to another id goes on); others go on;
#   - answers about the whole client (429, 5xx, network, auth) stop the sync as they do without
#     devices: one back-off for all (Blynk's rate limit is per organization);
#   - backlog_policy's thinning is planned per device, against that device's quota.
# The top-level device (top-level streams, device_id) is the device "" in the books and reports;
# its quota books are the top-level qday/qsent/qprev and its counters the totals less the named
# devices' (the meta stays as small as it can).
# The commit meta's "dev" entry takes at most meta_max_dev() bytes a device (214: an entry of 8 ints
# of at most 20 digits and a 32-character name; trailing zeros are left out, 25-40 bytes in
# practice): 32 devices (devices.MAX_DEVICES) and the let-go entry, at most 7.1 KB, within the
# littlefs store's 64 KB meta; a device joins the entry at its first commit, and stays in it while
# the configuration leaves it out (Uploader.gone), within those 32 entries; when more are left
# out, one of them holds the counters of the rest together ("/").
# RAM: per device, one 8-int list and the configuration's entries (README: measured per device).
from .quota import day_books, left, wait_ms
from . import policy
from .devices import MAX_DEVICES
from .policy import COUNTERS

_N = 3 + len(COUNTERS)  # a device's books: qday, qsent, qprev, then COUNTERS
_TOP = ""  # the top-level device's name in books and reports
_LET_GO = "/"  # the counters of left-out devices beyond MAX_DEVICES entries, together


def _entry(v):
    # a device's books read back from flash: up to 8 non-negative ints (trailing zeros left out:
    # _trim), else zeros (qday -1)
    out = [-1] + [0] * (_N - 1)
    if isinstance(v, list) and len(v) <= _N:
        for i in range(len(v)):
            x = v[i]
            if isinstance(x, int) and not isinstance(x, bool) and x >= out[i]:
                out[i] = x
    return out


def _trim(b):
    # a device's books without their trailing zeros (most counters stay 0): a smaller meta, which
    # the store writes whole at every commit
    n = len(b)
    while n > 1 and not b[n - 1]:
        n -= 1
    return b if n == len(b) else b[:n]


def meta_max_dev():
    # bytes of one device's entry in the commit meta's "dev" object (json.dumps with spaces):
    # "name": [20-digit int, ...],
    return 2 + 32 + 2 + 2 + _N * (20 + 2)


class Uploader(policy.Uploader):
    def __init__(self, cfg, store, clock, state, sids):
        policy.Uploader.__init__(self, cfg, store, clock, state, sids)
        for st in self.streams:
            st.dev = st.cfg.get("device", _TOP)
        saved = store.meta().get("dev")
        if not isinstance(saved, dict):
            saved = {}
        self.books = {}
        for name in cfg["devices"]:
            self.books[name] = _entry(saved.get(name))
        # the books of devices the configuration has no more (left out for a while, say): kept in
        # the meta as they were, so that the top-level device's counts (the totals less every
        # device's) never take theirs, and a device that comes back has its books again; up to
        # MAX_DEVICES entries in all. Beyond, their counters are kept together (_LET_GO: no
        # device's name has a "/"), still not the top-level device's; such a device that comes
        # back starts new books.
        self.gone = {}
        # in the order of their names: which of them keep their books is the same on every
        # runtime (a dict's order is not)
        out = sorted([name for name in saved if name not in self.books])
        room = MAX_DEVICES - len(self.books)
        if len(out) > room:  # the let-go entry takes a place of its own
            room -= 1
        rest = None
        for name in out:
            if name != _LET_GO and len(self.gone) < room:
                self.gone[name] = _trim(_entry(saved[name]))
                continue
            b = _entry(saved[name])
            if rest is None:
                rest = _entry(None)
            for i in range(3, _N):
                rest[i] += b[i]
        if rest is not None:
            self.gone[_LET_GO] = _trim(rest)
        self._out = []  # devices whose quota is spent (this sync)

    # ---- quota per device

    def _id(self, dev):
        return self.cfg["devices"][dev]["device_id"] if dev != _TOP else self.cfg.get("device_id")

    def _full(self, dev):
        # when the server's day turns for dev, if it said dev's points are spent (quota_full_dev),
        # of dev's device id now: an entry of another id (a device moved) or of an earlier version
        # (the time alone) is none
        e = self.state.get("quota_full_dev")
        e = e.get(dev) if isinstance(e, dict) else None
        return e[0] if isinstance(e, list) and len(e) == 2 and e[1] == self._id(dev) else None

    def device_quota_left(self, dev, now):
        full = self._full(dev)
        if dev == _TOP:
            return left(self.per_day, self.quota_day, self.quota_sent, self.quota_prev, full, now)
        b = self.books[dev]
        return left(self.per_day, b[0], b[1], b[2], full, now)

    def _devices(self):
        # the devices that have streams, in the order of their first streams' names (self.streams)
        out = []
        for st in self.streams:
            if st.dev not in out:
                out.append(st.dev)
        return out

    def quota_left(self, now):
        # all devices' together (a whole sync's figure; each batch takes its device's: _plan_batch)
        n = 0
        for dev in self._devices():
            n += self.device_quota_left(dev, now)
        return n

    def quota_wait_ms(self, now):
        # every device's quota spent: until the first one's comes back (the server's day, for a
        # device it said so of; else our UTC day), as policy's for one device
        if now is None or self.quota_left(now) > 0:
            return 0
        out = 0
        for dev in self._devices():
            w = wait_ms(0, 0, now, self._full(dev))
            if not out or w < out:
                out = w
        return out

    def _oldest_stream(self, now):
        # policy's choice among the devices whose quota is not spent (a spent one is set aside)
        while True:
            st = policy.Uploader._oldest_stream(self, now)
            if st is None or now is None or self._dev_quota(st.dev, now) > 0:
                return st
            self._spent(st, None)

    def _quota_for(self, st, now):
        return self.device_quota_left(st.dev, now)

    def _dev_quota(self, dev, now):
        # the device's quota of the day its batch will be booked on (policy's _day_quota)
        return self._day_quota(now, lambda t: self.device_quota_left(dev, t))

    def _plan_batch(self, st, now, limit):
        # a batch takes no more than its device's quota (policy's run() passes all devices' left)
        limit = min(limit, self._dev_quota(st.dev, now))
        return (yield from policy.Uploader._plan_batch(self, st, now, limit))

    def _set_aside(self, dev):
        for st in self.streams:
            if st.dev == dev:
                st.done = True

    def _spent(self, st, report):
        self._set_aside(st.dev)
        if st.dev not in self._out:
            self._out.append(st.dev)
        return None

    def _batch(self, client, st, now, quota, report, parked, now_fn):
        # policy's batch; its answers about st's device alone stop only that device: "quota" (a
        # 400 saying the device's daily points are spent) sets it aside until the next UTC day,
        # "device" (404 unknown device) parks its streams as an unknown stream is parked
        full = self.state.get("quota_full")
        stop = yield from policy.Uploader._batch(self, client, st, now, quota, report, parked, now_fn)
        if stop == "quota":
            self.state.set("quota_full", full)  # policy's entry is the top-level device's alone
            report["last_error"] = "device %s: %s" % (st.dev, report["last_error"])
            if now is not None:
                days = self.state.get("quota_full_dev")
                days = dict(days) if isinstance(days, dict) else {}
                days[st.dev] = [policy._server_day_end(client, now), self._id(st.dev)]  # as quota_full
                self.state.set("quota_full_dev", days)
            self._spent(st, report)
            return None
        if stop == "device":
            until = now + self.cfg["upload"]["park_s"] * 1000 if now is not None else None
            for s in self.streams:
                if s.dev == st.dev:
                    s.done = True
                    if until is not None:
                        # a stream parked for its points' refusals keeps that reason (policy._park)
                        e = parked.get(s.park)
                        if policy.park_reason(e) is None:  # (its message, as policy._park keeps it)
                            e = policy.park_entry(until, report["last_error"])
                        else:
                            e = [until] + e[1:]
                        parked[s.park] = e
                    if s.name not in report["parked"]:
                        report["parked"].append(s.name)
            report["last_error"] = "device %s parked: %s" % (st.dev, report["last_error"])
            return None
        return stop

    def _plan_thinning(self, now, quota_left):
        # policy's plan, device by device: each device's backlog against its own quota
        every = self.streams
        try:
            for dev in self._devices():
                self.streams = [st for st in every if st.dev == dev]
                yield from policy.Uploader._plan_thinning(self, now, self.device_quota_left(dev, now))
        finally:
            self.streams = every

    # ---- the books a commit writes

    def _device_books(self, st, delta, now, sent):
        # policy's commit hook: a named device's books after this commit (its quota and counters);
        # the top-level device's quota stays in qday, qsent and qprev
        if st.dev == _TOP:
            return None
        b = self.books[st.dev]
        e = list(b)
        if sent:
            e[0], e[1], e[2] = day_books(b[0], b[1], b[2], now)
            e[1] += sent
        for i in range(len(COUNTERS)):
            e[3 + i] += delta.get(COUNTERS[i], 0)
        return e

    def _device_meta(self, meta, st, own):
        # policy's commit hook: every device's books in the meta's "dev" entry, st's as own
        dev = self._dev_meta(st.dev, own)
        if dev:
            meta["dev"] = dev

    def _device_kept(self, st, own):
        self.books[st.dev] = own

    def _dev_meta(self, dev, e):
        # the meta's "dev" entry: every device with books, dev's as e (None: as in RAM)
        out = {}
        for name in self.books:
            b = e if name == dev and e is not None else self.books[name]
            if b[0] >= 0 or max(b) > 0:
                out[name] = _trim(b)
        for name in self.gone:
            out[name] = self.gone[name]
        return out

    # ---- per-device figures

    def counts(self):
        # device -> {counter: total}; the top-level device's are the totals less the named ones'
        out = {}
        rest = dict(self.totals)
        for name in self.books:
            d = {}
            for i in range(len(COUNTERS)):
                k = COUNTERS[i]
                d[k] = self.books[name][3 + i]
                rest[k] -= d[k]
            out[name] = d
        for name in self.gone:  # not reported, but not the top-level device's either
            b = _entry(self.gone[name])
            for i in range(len(COUNTERS)):
                rest[COUNTERS[i]] -= b[3 + i]
        if _TOP in self._devices():
            out[_TOP] = rest
        return out

    def run(self, client, report, budget_ms, now_fn):
        # policy's run(), then this sync's figures per device in report["devices"]
        self._out = []
        before = self.counts()
        stop = yield from policy.Uploader.run(self, client, report, budget_ms, now_fn)
        if stop == "done" and self._out:
            stop = report["stopped"] = "quota"  # some device's quota held samples back
        after = self.counts()
        devs = {}
        for dev in after:
            d = {}
            for k in COUNTERS:
                d[k] = after[dev][k] - before[dev][k]
            d["dropped_stale"] += d["unplaceable"]
            d["quota_spent"] = dev in self._out
            devs[dev] = d
        report["devices"] = devs
        return stop

    def figures(self, log, out, now, totals):
        # The per-device part of stats() (totals True: the books since the store began) or of a sync's
        # report (totals False: out["devices"] holds this sync's counters, from run()): out["devices"] =
        # {device: {"pending", "sent", "dropped_stale", "rejected", "thinned", "unplaceable",
        # "quota_left", "parked"}}; the top-level device is "".
        devs = out.get("devices") if not totals else None
        if not isinstance(devs, dict):
            devs = {}
            counts = self.counts()
            for dev in counts:
                d = dict(counts[dev])
                if not totals:  # a sync that did not run the upload (a back-off...): none
                    for k in COUNTERS:
                        d[k] = 0
                    d["quota_spent"] = False
                d["dropped_stale"] += d["unplaceable"]
                devs[dev] = d
        parked = log._state.get("parked")
        if not isinstance(parked, dict):
            parked = {}
        for dev in devs:
            d = devs[dev]
            d["pending"] = 0
            d["quota_left"] = self.device_quota_left(dev, now)
            d["parked"] = False
        for st in self.streams:
            d = devs.get(st.dev)
            if d is None:
                continue
            d["pending"] += log._opened().pending(st.sid)
            until = policy.park_until(parked.get(st.park))
            if until is not None and now is not None and until > now:
                d["parked"] = True
        out["devices"] = devs
