# blynklog.rawstore: the raw-flash store backend, a sector ring on a NOR block device (an
# esp32.Partition, an rp2.Flash region, or a simulator), with the interface of store.Store.
# Every append is durable when it returns: a record is programmed into erased bytes, then its
# one-byte commit mark in front of it; nothing but an erase ever resets a programmed byte.
# commit(sid, pos, count, meta) keeps the caller's meta dict (compact JSON, at most 256 bytes) in
# the same frame as the cursor, and every sector's checkpoint carries it: after a power cut the
# cursor and meta() are both the new ones or both the old ones.
# Format and recovery: docs/RAWSTORE.md. Costs: append O(1) (2 programs; a rotation adds one
# claim and one erase per sector); open reads every sector header and scans the newest sector.
# RAM: one frame buffer (1 KB + a little), 21 bytes per sector (erase count, seq, base_ts, salt,
# format) and a few bytes per stream (name, cursor, pending count), the meta's JSON (<= 256
# bytes); nothing grows with the backlog. commit() with a meta allocates its JSON; meta() allocates a dict.
# Measured on the unix port, a 64-sector ring with two streams: 3.4 KB kept after open, 3.8 KB
# once commits carry a policy-like meta, the same after 6,000 and 60,000 appends.
# Not safe from an interrupt or from two tasks at once; records() generators may stay alive
# across appends (they re-locate themselves by sequence number).
from . import record
from .compat import array, binascii, const, json, struct

_MAGIC = b"BLR2"  # format 2: a salt in the claim; a frame's CRC starts from record.key(salt, offset)
_MAGIC1 = b"BLR1"  # format 1 (plain CRCs, 28-byte header): still read; erased before reuse
_HDR = const(32)  # sector header: stage A 0..11, stage B 12..31; frames start here
_HDR1 = const(28)  # format 1: stage B 12..27
_NOSEQ = const(0)
_PEEK = const(32)
_MARK = b"\x00"

# control frame kinds (the record's H byte with both reserved bits set: never a sample)
_K_CKPT = const(0xC0)
_K_NAME = const(0xC1)
_K_COMMIT = const(0xC2)
# a checkpoint of a ring whose every sector is in the chain: a commit (or a name) found the ring
# full with pending samples in its oldest sector under drop_newest (or a sync_async's hold), and
# took the free sector rather than erase them (_rotate); open then counts N sectors, not N - 1
_K_CKPT_ALL = const(0xC3)
_ENOSPC = const(28)

_MAX_STREAMS = const(64)
_MAX_NAME = const(64)  # bytes of UTF-8, as the configuration allows
_MAX_META = const(256)  # bytes of the meta's JSON
_COMMIT = const(16)  # a commit frame's body before the meta
# drop_newest: a full ring whose oldest sector holds pending samples keeps room in its last sector
# for this many commit frames (the commits that free that sector), so that none of them needs a
# rotation, which would erase it and drop its samples
_KEPT = const(4)

# open_device: the rp2 page size, and the simulator's sector size
_PAGE = const(256)
_SECTOR = const(4096)


def _crc(mv, key=0):
    return binascii.crc32(mv, key) & 0xFFFFFFFF


class RawStore:
    def __init__(self, bdev, capacity=None, on_full="drop_oldest", close_device=False, meta_room=0, **_ignored):
        # meta_room: bytes of meta JSON every checkpoint keeps room for (the largest meta the
        # caller's commits carry, policy.meta_max()): stream_id() refuses a stream that would
        # leave less, so that no commit within it is ever refused for size.
        if on_full not in ("drop_oldest", "drop_newest"):
            raise ValueError("bad on_full")
        self._dev = bdev
        self._close_device = close_device
        self._meta_room = meta_room
        ss = bdev.ioctl(5, 0) or _SECTOR
        blocks = bdev.ioctl(4, 0)
        n = blocks if capacity is None else capacity // ss
        if n > blocks:
            raise ValueError("capacity over the device size")
        if n < 3 or ss < 256:
            raise ValueError("device too small: 3 sectors needed")
        self._ss = ss
        self._n = n
        self._drop_newest = on_full == "drop_newest"
        self.hold = None  # a function -> True while a sync_async holds the oldest records (aio.py)
        size = min(record.MAX_RECORD + 8, ss - _HDR)
        self._buf = bytearray(size)
        self._mv = memoryview(self._buf)
        self._hb = bytearray(_HDR)
        self._counts = array("I", bytes(4 * n))
        self._seqs = array("I", bytes(4 * n))
        self._base = array("Q", bytes(8 * n))  # per sector: base_ts of its claim
        self._v2 = bytearray(n)  # per sector: 1 when its frames have keyed CRCs (format 2)
        self._salt = array("I", bytes(4 * n))  # per sector: the salt of its claim (format 2)
        self.bytes_programmed = 0
        self.erases = 0
        self.record_bytes = 0  # bytes of the samples' records (record.py) appended
        self.damaged = 0  # damaged frames met (and skipped) by this instance
        self._tail = -1
        self._tail_seq = 0
        self._off = 0
        self._chain = 0
        self._failed = False  # a failed rotation whose state could not be read back (_recover)
        self._kept_drops = 0  # the dropped count the newest frame on flash carries (drops)
        self._no_room = False  # the last control frame found no room the ring may give it (_full)
        # {sid: name} given out while a full ring had no room for the name's frame (stream_id):
        # written before the stream's first sample or commit, or by the next checkpoint
        self._unwritten = {}
        self._reset_state()
        self._open()

    # ---- device primitives ----
    def _prog(self, idx, off, mv):
        if self._failed:
            raise OSError(5, "store failed: reopen it")
        try:
            self._dev.writeblocks(idx, mv, off)
        except OSError:
            # isolate the damage: never program this sector again
            if idx == self._tail:
                self._off = self._ss
            raise
        self.bytes_programmed += len(mv)

    def _erase(self, idx):
        if self._failed:
            raise OSError(5, "store failed: reopen it")
        self._dev.ioctl(6, idx)
        self.erases += 1
        self._counts[idx] += 1

    def _blank(self, idx, off):
        # True when bytes off..end of sector idx are all 0xFF
        ss = self._ss
        b = self._buf
        mv = self._mv
        k = len(b)
        while off < ss:
            n = min(k, ss - off)
            self._dev.readblocks(idx, mv[:n], off)
            for i in range(n):
                if b[i] != 0xFF:
                    return False
            off += n
        return True

    def _head(self, idx):
        # (state, erase count or None, seq, base_ts); state: 0 blank, 1 prepared, 2 claimed, 3 bad.
        # Sets the sector's format flag (_v2) from its magic.
        h = self._hb
        self._dev.readblocks(idx, h, 0)
        magic = h[0:4]
        v2 = magic == _MAGIC
        self._v2[idx] = 1 if v2 else 0
        hs = _HDR if v2 else _HDR1
        a_ok = (v2 or magic == _MAGIC1) and _crc(memoryview(h)[0:8]) == struct.unpack_from("<I", h, 8)[0]
        count = struct.unpack_from("<I", h, 4)[0] if a_ok else None
        b_blank = all(x == 0xFF for x in h[12:hs])
        if a_ok and b_blank:
            return 1, count, 0, 0
        if not a_ok:
            if b_blank and all(x == 0xFF for x in h[0:12]):
                return 0, None, 0, 0
            return 3, None, 0, 0
        seq, base = struct.unpack_from("<IQ", h, 12)
        if v2:
            self._salt[idx] = struct.unpack_from("<I", h, 24)[0]
        if _crc(memoryview(h)[0 : hs - 4]) != struct.unpack_from("<I", h, hs - 4)[0] or seq == 0 or seq == 0xFFFFFFFF:
            return 3, count, 0, 0
        return 2, count, seq, base

    def _start(self, idx):
        # offset of the first frame of sector idx
        return _HDR if self._v2[idx] else _HDR1

    def _prepare(self, idx, count):
        h = self._hb
        h[0:4] = _MAGIC
        struct.pack_into("<I", h, 4, count)
        struct.pack_into("<I", h, 8, _crc(memoryview(h)[0:8]))
        self._prog(idx, 0, memoryview(h)[0:12])
        self._counts[idx] = count
        self._v2[idx] = 1

    def _make_ready(self, idx):
        # Leaves sector idx prepared and blank (erasing it when it is anything else).
        st, count, _, _ = self._head(idx)
        if st == 1 and self._v2[idx] and self._blank(idx, 12):
            return
        if st == 0 and self._blank(idx, 0):
            self._prepare(idx, self._estimate(idx))
            return
        est = count if count is not None else self._estimate(idx)
        self._erase(idx)
        self._prepare(idx, est + 1)

    def _estimate(self, idx):
        # an unreadable erase count: its ring neighbours were erased in the same lap
        n = self._n
        return max(self._counts[(idx - 1) % n], self._counts[(idx + 1) % n])

    # ---- frames: M (commit mark, 0xFF until committed) | record (record.py envelope) ----
    def _key(self, idx, off):
        # the CRC key of the frame at off in sector idx (its claim's salt and the offset of M)
        return record.key(self._salt[idx], off) if self._v2[idx] else 0

    def _frame(self, idx, off, end):
        # Reads the frame at off into the buffer (record at buf[1:]); returns its length,
        # -1 when the mark is erased (end of the log), 0 when damaged or torn.
        if off + 1 > end:
            return -1 if off >= end else 0
        b = self._buf
        mv = self._mv
        n = min(_PEEK, end - off)
        self._dev.readblocks(idx, mv[:n], off)
        if b[0] == 0xFF:
            return -1
        if n < 6:
            return 0
        b1 = b[1]
        if b1 < 0x80:
            body = b1
            lb = 1
        else:
            body = (b1 & 0x7F) | (b[2] << 7)
            lb = 2
        total = 1 + lb + body + 4
        if body < 3 or total > len(b) or off + total > end:
            return 0
        if total > n:
            self._dev.readblocks(idx, mv[n:total], off + n)
        key = self._key(idx, off)
        if b[1 + lb] & 0xC0 == 0xC0:
            last = total - 4
            if _crc(mv[1:last], key) != struct.unpack_from("<I", b, last)[0]:
                return 0
            return total
        return total if record.check(b, 1, total, mv, key) == total - 1 else 0

    def _scan(self, idx, off, end):
        # (offset, length) of the next valid frame at or after off, or (offset, -1) at the end of
        # the log. Damaged bytes (bit rot) are skipped one at a time until a frame checks again
        # (records carry their length and CRC-32), so damage costs one record, not the sector.
        t = self._frame(idx, off, end)
        if t != 0:
            return off, t
        self.damaged += 1
        while off + 1 < end:
            off += 1
            t = self._frame(idx, off, end)
            if t > 0:
                return off, t
            if t < 0 and self._blank(idx, off):
                return off, -1
        return end, -1

    def _kind(self):
        b = self._buf
        return b[2] if b[1] < 0x80 else b[3]

    def _body(self):
        return 2 if self._buf[1] < 0x80 else 3

    def _seal(self, body, key):
        # buf[2:2+body] holds a control body (L fits one byte when body < 128): adds L and the
        # CRC keyed for the frame's place
        b = self._buf
        if body < 0x80:
            b[1] = body
            end = 2 + body
        else:
            b[3 : 3 + body] = b[2 : 2 + body]
            b[1] = (body & 0x7F) | 0x80
            b[2] = body >> 7
            end = 3 + body
        struct.pack_into("<I", b, end, _crc(self._mv[1:end], key))
        return end + 4

    def _put(self, total):
        # Programs the frame in buf[0:total] at the tail: the record, then its mark.
        idx = self._tail
        off = self._off
        self._prog(idx, off + 1, self._mv[1:total])
        self._off = off + total
        self._prog(idx, off, _MARK)
        return self._tail_seq * self._ss + off

    # ---- control frames ----
    def _ckpt_body(self, kind=_K_CKPT):
        b = self._buf
        b[2] = kind
        struct.pack_into("<IB", b, 3, self._dropped, len(self._names))
        p = 8
        for name, sid in self._names.items():
            c = self._cursor.get(sid, 0)
            data = name.encode()
            struct.pack_into("<BIHIB", b, p, sid, c // self._ss, c % self._ss, self._pending.get(sid, 0), len(data))
            p += 12
            b[p : p + len(data)] = data
            p += len(data)
        m = self._metab
        b[p : p + len(m)] = m  # the caller's meta: the rest of the body
        return p - 2 + len(m)

    def _ckpt_size(self, extra, names=None, meta=-1):
        # an upper bound of the checkpoint frame's size, with extra bytes more in its body and
        # room for a meta of `meta` bytes (default: the larger of the one held and meta_room);
        # names: more streams to count
        if meta < 0:
            meta = max(len(self._metab), self._meta_room)
        n = ckpt_size(self._names, extra + meta)
        if names is not None:
            for name in names:
                if name not in self._names:
                    n += _name_size(name)
        return n

    def spare(self, names=()):
        # Bytes a checkpoint would still have with every stream known and those named added, and
        # meta_room kept for the meta; negative when they do not fit (the Logger checks this).
        return len(self._buf) - self._ckpt_size(0, names)

    def _control(self, body):
        # Writes a control frame whose body the caller laid at buf[2:]; when the tail has no
        # room, the rotation's checkpoint carries the change instead.
        total = self._seal(body, self._key(self._tail, self._off))
        if self._off + total > self._ss:
            self._rotate(False)
            return
        self._put(total)

    # ---- rotation ----
    def _rotate(self, may_refuse):
        # Moves the tail to the next sector F (claim: seq and base_ts, then a checkpoint), erasing
        # the oldest sector O when the ring is full. Returns False when refused: a sample
        # (may_refuse) while drop_newest, or a sync_async's hold, keeps the pending samples of the
        # sector that would go. A control frame (a commit, a name) is never refused for that: it
        # takes F and keeps O, the chain then every sector (_K_CKPT_ALL); samples wait until the
        # commits free O. Only when F itself is that oldest sector and still pending does a
        # control frame find no room: OSError ENOSPC, nothing changed.
        n = self._n
        f = (self._tail + 1) % n
        o = (f + 1) % n
        keep = self._keeps()
        whole = self._chain >= n  # every sector in the chain: F is the oldest, dropped before its claim
        lost_f = self._uncommitted(f) if whole else None
        if whole and keep and _total(lost_f):
            if may_refuse:
                return False
            raise self._full("the oldest sector holds pending samples")
        drop = self._chain - (1 if whole else 0) >= n - 1
        lost_o = self._uncommitted(o) if drop else None
        if drop and keep and _total(lost_o):
            if may_refuse:
                return False
            drop = False  # a control frame: the chain takes F, O stays
        self._old_pending = None
        # From here on a failure (a program, an erase, a MemoryError) leaves RAM ahead of the
        # flash: _recover reads the state back from the flash, in this one place.
        try:
            if whole:
                self._drop(f, lost_f)
            if drop:
                self._drop(o, lost_o)
            self._make_ready(f)
            seq = self._tail_seq + 1
            h = self._hb  # holds f's stage A (read or written by _make_ready)
            salt = record.new_salt()
            struct.pack_into("<IQI", h, 12, seq, self._last_ts, salt)
            struct.pack_into("<I", h, 28, _crc(memoryview(h)[0:28]))
            self._tail = f
            self._tail_seq = seq
            self._off = self._ss  # until the checkpoint is in, nothing may go here
            self._prog(f, 12, memoryview(h)[12:_HDR])
            self._seqs[f] = seq
            self._base[f] = self._last_ts
            self._salt[f] = salt
            self._chain += 1
            body = self._ckpt_body(_K_CKPT_ALL if self._chain >= n else _K_CKPT)
            total = self._seal(body, self._key(f, _HDR))
            self._off = _HDR
            self._put(total)
            self._kept_drops = self._dropped
            self._unwritten = {}  # the checkpoint carries every name
            if drop:
                self._erase(o)
                self._prepare(o, self._counts[o])
        except BaseException:
            self._recover()
            raise
        return True

    def _lent_room(self, total, sid=-1, was=0):
        # A lent ring (every sector in the chain) whose oldest sector holds pending samples, which
        # no rotation may erase (drop_newest, or a sync_async's hold): a control frame of `total`
        # bytes that fits the tail must leave room there for one commit per stream still pending
        # in that sector (a meta of meta_room or the last meta's size, plus 32 bytes), so that the
        # commits that free it always go in; else OSError ENOSPC. A commit of stream sid (cursor
        # moved from `was`) that frees its stream there is one of those: it goes in where it fits.
        # Uses the buffer.
        n = self._n
        if self._chain < n or self._off + total > self._ss:
            return
        if not self._keeps():
            return
        f = (self._tail + 1) % n
        lost = self._uncommitted(f)
        if sid >= 0 and sid not in lost and sid in self._uncommitted(f, sid, was):
            return
        if self._off + total + len(lost) * (max(len(self._metab), self._meta_room) + 32) > self._ss:
            raise self._full("the room left is for the commits that free the oldest sector")

    def _full(self, why):
        # the ring's own "no room" (ENOSPC), told apart from a device's by a flag (_no_room)
        self._no_room = True
        return OSError(_ENOSPC, "store full: " + why)

    def _keeps(self):
        # whether a full ring refuses samples rather than drop its oldest pending ones:
        # drop_newest, or a sync_async holding the oldest records
        return self._drop_newest or (self.hold and self.hold())

    def _drop(self, idx, lost):
        # sector idx leaves the chain (the oldest): its pending samples are counted as dropped
        for sid in lost:
            self._pending[sid] = self._pending.get(sid, 0) - lost[sid]
        self._dropped += _total(lost)
        self._chain -= 1
        self._seqs[idx] = _NOSEQ

    def _recover(self):
        # A rotation failed part-way: the chain, the tail and the counts are read back from the
        # flash as a reopen would (names, cursors, pending, meta). When the flash cannot be read
        # either, every later call fails until the store is opened again.
        try:
            self._open(False)
        except BaseException:
            self._failed = True
            self._off = self._ss
            return
        # the names that wait, as they were (the flash never had them, unless a checkpoint did)
        for sid in self._unwritten:
            self._names[self._unwritten[sid]] = sid

    def _uncommitted(self, idx, sid0=-1, cur0=0):
        # {sid: samples of sector idx that are still pending} (stream sid0's cursor taken as cur0)
        seq = self._seqs[idx]
        out = {}
        off = self._start(idx)
        ss = self._ss
        while True:
            off, t = self._scan(idx, off, ss)
            if t <= 0:
                break
            if self._kind() < 0xC0:
                sid = record.sid_of(self._buf, 1)
                if seq * ss + off > (cur0 if sid == sid0 else self._cursor.get(sid, 0)):
                    out[sid] = out.get(sid, 0) + 1
            off += t
        return out

    # ---- open and recovery ----
    def _reset_state(self):
        self._names = {}
        self._cursor = {}
        self._pending = {}
        self._dropped = 0
        self._kept_drops = 0
        self._last_ts = 0
        self._metab = b""  # the caller's meta as compact JSON; b"" when none
        self._old_pending = None  # whether the sector a rotation would erase holds pending samples (None: not known)

    def _open(self, may_format=True):
        n = self._n
        seqs = self._seqs
        unknown = []
        for i in range(n):
            st, count, seq, base = self._head(i)
            if count is None:
                unknown.append(i)
            else:
                self._counts[i] = count
            seqs[i] = seq if st == 2 else _NOSEQ
            if st == 2:
                self._base[i] = base
        for i in unknown:
            self._counts[i] = self._estimate(i)
        for _ in range(n):
            best = -1
            for i in range(n):
                if seqs[i] != _NOSEQ and (best < 0 or seqs[i] > seqs[best]):
                    best = i
            if best < 0:
                break
            kind = self._load_tail(best)
            if kind:
                # a checkpoint of a ring lent its free sector counts every sector; otherwise the
                # one after the tail is not in the chain (erased, or its erase was cut short)
                most = n if kind == _K_CKPT_ALL else n - 1
                k = 1
                while k < most and k < self._tail_seq and seqs[(best - k) % n] == self._tail_seq - k:
                    k += 1
                self._chain = k
                if kind == _K_CKPT_ALL and k < n:
                    self._recount()
                return
            seqs[best] = _NOSEQ  # a torn claim: that sector is erased when next claimed
        if not may_format:
            raise OSError(5, "no checkpoint found")
        self._format()

    def _recount(self):
        # A lent ring (_K_CKPT_ALL) whose chain is short: a rotation erased its oldest sector (the
        # one after the tail, dropped before its claim) and stopped before its checkpoint, which
        # would have counted the drop. The counts still hold that sector's samples: they are
        # counted again from the chain's sectors (a scan of the ring, in this case only), and the
        # samples gone go to dropped_full.
        n = self._n
        was = self.pending()
        for sid in self._pending:
            self._pending[sid] = 0
        for k in range(self._chain):
            lost = self._uncommitted((self._tail - k) % n)
            for sid in lost:
                self._pending[sid] = self._pending.get(sid, 0) + lost[sid]
        gone = was - self.pending()
        if gone > 0:
            self._dropped += gone

    def _format(self):
        self._reset_state()
        for i in range(self._n):
            self._seqs[i] = _NOSEQ
            self._make_ready(i)
        self._tail = self._n - 1
        self._tail_seq = 0
        self._off = self._ss
        self._chain = 0
        self._rotate(False)

    def _load_tail(self, idx):
        # Replays the newest sector: its checkpoint, then names, commits and samples. Returns
        # the checkpoint's kind, or 0 when it has no valid checkpoint (a claim cut short).
        self._reset_state()
        ss = self._ss
        seq = self._seqs[idx]
        self._tail = idx
        self._tail_seq = seq
        self._last_ts = self._base[idx]
        off = self._start(idx)
        first = True
        kind = 0
        b = self._buf
        closed = False
        while True:
            o2, t = self._scan(idx, off, ss)
            if o2 != off:
                closed = True  # damage: keep what checks, program nothing more here
                off = o2
            if t < 0:
                break
            k = self._kind()
            p = self._body() + 1
            if first:
                if k != _K_CKPT and k != _K_CKPT_ALL:
                    return 0
                first = False
                kind = k
                self._dropped, count = struct.unpack_from("<IB", b, p)
                p += 5
                for _ in range(count):
                    sid, cs, co, pend, ln = struct.unpack_from("<BIHIB", b, p)
                    p += 12
                    self._names[str(bytes(b[p : p + ln]), "utf-8")] = sid
                    p += ln
                    self._cursor[sid] = cs * ss + co
                    self._pending[sid] = pend
                if p < t - 4:
                    self._metab = bytes(b[p : t - 4])
            elif k == _K_NAME:
                ln = t - 4 - p
                self._names[str(bytes(b[p + 1 : p + ln]), "utf-8")] = b[p]
            elif k == _K_COMMIT:
                sid, cs, co, pend, dropped = struct.unpack_from("<BIHII", b, p)
                self._cursor[sid] = cs * ss + co
                self._pending[sid] = pend
                self._dropped = dropped
                if p + _COMMIT - 1 < t - 4:  # a commit that carries a meta
                    self._metab = bytes(b[p + _COMMIT - 1 : t - 4])
            elif k < 0xC0:
                r = record.decode(b, 1, self._base[idx], t, self._key(idx, off))
                if r is None:  # check() accepted it, so never; if it did, skip it as damage
                    closed = True
                else:
                    sid = r[1]
                    self._pending[sid] = self._pending.get(sid, 0) + 1
                    self._last_ts = r[2]
            off += t
        if first:
            return 0
        if not closed and not self._blank(idx, off):
            closed = True  # a record torn before its mark: never program this sector again
        self._off = ss if closed else off
        self._kept_drops = self._dropped
        return kind

    # ---- the Store interface ----
    def stream_id(self, name):
        sid = self._names.get(name)
        if sid is not None:
            return sid
        if type(name) is not str or not name:
            raise ValueError("bad stream name")
        data = name.encode()
        if len(data) > _MAX_NAME:
            raise ValueError("stream name too long")
        used = set(self._names.values())
        sid = 0
        while sid in used:
            sid += 1
        if sid >= _MAX_STREAMS or self._ckpt_size(12 + len(data)) > len(self._buf):
            raise ValueError("too many streams: every stream's name and the meta must fit one checkpoint")
        self._names[name] = sid
        try:
            self._name_frame(sid, data)
        except BaseException:
            if not self._no_room:
                self._names.pop(name, None)  # (a rotation's _recover read the names back already)
                raise
            # a full ring whose room is the commits' (nothing changed): the name waits in RAM
            # (a Logger() with a new stream opens; its samples are refused as the others' are)
            self._unwritten[sid] = name
        return sid

    def stream_ids(self, names):
        # the ids of names, in their order (Store's interface: here a frame a new name)
        return [self.stream_id(name) for name in names]

    def _name_frame(self, sid, data):
        self._no_room = False
        self._lent_room(8 + len(data))
        b = self._buf
        b[2] = _K_NAME
        b[3] = sid
        b[4 : 4 + len(data)] = data
        self._control(2 + len(data))
        self._unwritten.pop(sid, None)

    def _write_waiting(self, sid):
        # the name of sid onto flash before anything of the stream goes there (see _unwritten);
        # False when there is still no room for it
        try:
            self._name_frame(sid, self._unwritten[sid].encode())
        except BaseException:
            if not self._no_room:
                raise
            return False
        return True

    def append(self, sid, ts, value, flags=0, decimals=None, rel=0, checked=False):
        # rel: the sample's time is ts + rel; checked: the caller checked the arguments (store.py's append)
        if not checked and sid not in self._names.values():
            raise ValueError("unknown stream id")
        if self._unwritten and sid in self._unwritten and not self._write_waiting(sid):
            self._dropped += 1  # refused: a full ring, as its samples would be
            return False
        if type(value) is str and len(value.encode()) + 24 > len(self._buf):
            raise ValueError("record too large")
        base = self._base[self._tail]
        n = record.encode_into(
            self._buf, 1, sid, ts, value, flags, decimals, base, None, self._key(self._tail, self._off), rel, checked
        )
        if rel:
            ts = ts + rel  # the sector's base at a rotation, and _last_ts: a heap int on a 32-bit port
        if self._off + 1 + n > self._ss:
            if 1 + n > self._ss - _HDR - self._ckpt_size(0):
                raise ValueError("record too large")
            self._last_ts = ts
            if not self._rotate(True):
                self._dropped += 1
                return False
            n = self._encode_again(sid, ts, value, flags, decimals)
        elif self._chain >= self._n - 1 and (
            self._chain >= self._n or self._off + 1 + n > self._ss - self._room_kept()
        ):
            # the room the last sector keeps for commits (see _KEPT), while the ring refuses
            # samples rather than drop them: drop_newest, or a sync_async holding the oldest ones;
            # a ring whose free sector went to commits (_K_CKPT_ALL) keeps all of it for them
            if self._keeps():
                if self._old_pending is None:
                    self._old_pending = bool(self._uncommitted((self._tail - self._chain + 1) % self._n))
                    n = self._encode_again(sid, ts, value, flags, decimals)  # (the read used the buffer)
                if self._old_pending:
                    self._dropped += 1
                    return False
        self._put(1 + n)
        self.record_bytes += n
        self._pending[sid] = self._pending.get(sid, 0) + 1
        self._last_ts = ts
        return True

    def _room_kept(self):
        # bytes of _KEPT commit frames whose meta is the last one's size and a little more (its
        # counters grow), or 128 bytes before the first (the upload policy's takes about 100);
        # at most a quarter of a sector
        m = len(self._metab)
        k = _KEPT * (32 + (m if m else 128))
        q = (self._ss - _HDR) >> 2
        return k if k < q else q

    def _encode_again(self, sid, ts, value, flags, decimals):
        # the record into the buffer again, at the tail (after a rotation, or a read through the buffer)
        return record.encode_into(
            self._buf,
            1,
            sid,
            ts,
            value,
            flags,
            decimals,
            self._base[self._tail],
            None,
            self._key(self._tail, self._off),
        )

    def let_writer_go(self):
        # store.py's: a sync's batches need the heap more than the next append does. The raw
        # ring's writing is a part of this module and a sector's buffer: nothing to let go
        pass

    def flush(self):
        # every append is already durable
        pass

    def drops(self):
        # [the dropped count the newest frame on flash carries, the count now]: the samples
        # refused since that frame (drop_newest, a sync_async's hold) are counted in RAM only
        # (a frame per refusal would take the room a full ring keeps for its commits); a caller
        # keeps this pair where it saves anyway (the Logger's state) and gives it back (drops_back)
        return [self._kept_drops, self._dropped]

    def drops_back(self, kept):
        # drops() as saved before this opening: its count holds when no frame came after it
        if (
            isinstance(kept, list)
            and len(kept) == 2
            and kept[0] == self._kept_drops
            and type(kept[1]) is int
            and kept[1] > self._dropped
        ):
            self._dropped = kept[1]

    def records(self, sid, after=None):
        if self._failed:
            raise OSError(5, "store failed: reopen it")
        start = self._cursor.get(sid, 0) if after is None else after
        ss = self._ss
        seq = start // ss
        while True:
            tail_seq = self._tail_seq
            oldest = tail_seq - self._chain + 1
            if seq < oldest:
                seq = oldest
            if seq > tail_seq:
                return
            idx = (self._tail - (tail_seq - seq)) % self._n
            base = self._base[idx]
            off = self._start(idx)
            while True:
                if self._tail_seq - self._chain + 1 > seq:
                    break  # this sector was reclaimed while the caller held us
                end = self._off if seq == self._tail_seq else ss
                off, t = self._scan(idx, off, end)
                if t <= 0:
                    break
                pos = seq * ss + off
                key = self._key(idx, off)
                off += t
                if pos > start and self._kind() < 0xC0 and record.sid_of(self._buf, 1) == sid:
                    r = record.decode(self._buf, 1, base, t, key)
                    if r is not None:
                        yield pos, r[2], r[4], r[3]
            seq += 1

    def commit(self, sid, pos, count=None, meta=None):
        # Records of sid up to and including pos are done; count: how many pending records that
        # covers (trusted; None: counted here by reading them). meta: a small dict (None keeps the
        # last one), written in the same frame as the cursor. Durable when it returns, but on a
        # lent ring whose last sector was closed (held in RAM: see the except below).
        if sid not in self._names.values():
            raise ValueError("unknown stream id")
        if self._unwritten and sid in self._unwritten and not self._write_waiting(sid):
            raise self._full("the room left is for the commits that free the oldest sector")
        mb = None
        if meta is not None:
            if not isinstance(meta, dict):
                raise TypeError("meta not dict")
            mb = json.dumps(meta, separators=(",", ":")).encode()
            m = len(mb)
            k = len(self._buf)  # the commit frame and the next checkpoint must both fit it
            if m > _MAX_META or 7 + _COMMIT + m > k or self._ckpt_size(0, None, m) > k:
                raise ValueError("meta too large")
            if mb == self._metab:
                mb = None
        cur = self._cursor.get(sid, 0)
        if pos <= cur:
            if mb is None:
                return
            pos = cur  # only the meta changes
            count = 0
        elif count is None:
            count = 0
            for r in self.records(sid):
                if r[0] > pos:
                    break
                count += 1
        # The cursor, the count and the meta move first (a rotation's checkpoint carries them);
        # whatever fails before the frame is on flash (a program error, a MemoryError) puts them
        # back here, so RAM never runs ahead of what a reopen would read.
        old_pending, old_metab = self._pending.get(sid, 0), self._metab
        self._old_pending = None
        self._no_room = False
        self._cursor[sid] = pos
        p = old_pending - count
        self._pending[sid] = p if p > 0 else 0
        try:
            body = _COMMIT + (len(mb) if mb is not None else 0)
            self._lent_room(body + (6 if body < 0x80 else 7), sid, cur)
            b = self._buf
            b[2] = _K_COMMIT
            struct.pack_into("<BIHII", b, 3, sid, pos // self._ss, pos % self._ss, self._pending[sid], self._dropped)
            body = _COMMIT
            if mb is not None:
                self._metab = mb
                b[2 + body : 2 + body + len(mb)] = mb
                body += len(mb)
            self._control(body)
            self._kept_drops = self._dropped
        except Exception:
            if self._no_room and self._off >= self._ss and self._chain >= self._n:
                # a lent ring whose last sector a power cut or a program error closed, its oldest
                # sector still pending: no frame can go anywhere until commits free that sector,
                # and none could be written to free it (stuck for good, every sample refused).
                # The commit is held in RAM; the rotation the freeing commit makes carries it in
                # its checkpoint (a power cut before then: its samples go again, none is lost)
                return
            self._cursor[sid] = cur
            self._pending[sid] = old_pending
            self._metab = old_metab
            raise

    def meta(self):
        # The dict saved by the last commit(..., meta), {} when none (a new dict at each call).
        if not self._metab:
            return {}
        try:
            m = json.loads(str(self._metab, "utf-8"))
        except (ValueError, UnicodeError):
            return {}
        return m if isinstance(m, dict) else {}

    def pending(self, sid=None):
        if sid is not None:
            return self._pending.get(sid, 0)
        n = 0
        for v in self._pending.values():
            n += v
        return n

    def usage(self):
        # (bytes from the oldest sector holding a pending sample to the tail, the region's bytes)
        return self._live_bytes(), self._n * self._ss

    def stats(self):
        c = self._counts
        return {
            "backend": "raw",
            "dropped_full": self._dropped,
            "pending": self.pending(),
            "bytes": self._live_bytes(),
            "segments": self._chain,
            "sectors": self._n,
            "erase_min": min(c),
            "erase_max": max(c),
            "bytes_programmed": self.bytes_programmed,
            "erases": self.erases,
            "record_bytes": self.record_bytes,
            "damaged": self.damaged,
        }

    def _live_bytes(self):
        # bytes from the oldest sector that may hold a pending sample to the end of the tail;
        # sectors behind it hold committed data only and are reused without further notice
        ss = self._ss
        oldest = self._tail_seq - self._chain + 1
        live = self._tail_seq
        for sid in self._pending:
            if self._pending[sid] > 0:
                s = self._cursor.get(sid, 0) // ss
                live = min(live, s if s > oldest else oldest)
        return (self._tail_seq - live) * ss + self._off

    def close(self):
        # the device stays open unless the store was told to own it (close_device=True)
        if self._close_device and hasattr(self._dev, "close"):
            self._dev.close()
        self._dev = None


class FileFlash:
    # A NOR flash simulated in a host file (the unix port and CPython): programming ANDs bytes in,
    # erase writes 0xFF; a 1 over a 0 raises OSError. The file is made blank at first use.
    def __init__(self, path, size, sector=_SECTOR):
        self._ss = sector
        self._n = size // sector
        try:
            self._f = open(path, "r+b")
        except OSError:
            self._f = open(path, "w+b")
        f = self._f
        f.seek(0, 2)
        have = f.tell()
        blank = b"\xff" * sector
        while have < self._n * sector:
            f.write(blank[: sector - have % sector])
            have = f.tell()
        f.flush()
        self._tmp = bytearray(64)

    def readblocks(self, n, buf, offset=0):
        self._f.seek(n * self._ss + offset)
        self._f.readinto(buf)

    def writeblocks(self, n, buf, offset=0):
        a = n * self._ss + offset
        f = self._f
        tmp = self._tmp
        i = 0
        k = len(buf)
        while i < k:
            m = min(len(tmp), k - i)
            f.seek(a + i)
            f.readinto(tmp)
            for j in range(m):
                if buf[i + j] & ~tmp[j] & 0xFF:
                    raise OSError(5, "1 over 0")
                tmp[j] &= buf[i + j]
            f.seek(a + i)
            f.write(memoryview(tmp)[:m])
            i += m
        f.flush()

    def ioctl(self, op, arg=0):
        if op == 4:
            return self._n
        if op == 5:
            return self._ss
        if op == 6:
            self._f.seek(arg * self._ss)
            self._f.write(b"\xff" * self._ss)
            self._f.flush()
        return 0

    def close(self):
        self._f.close()


class PageFlash:
    # rp2.Flash programs whole 256-byte pages: a program of a few bytes goes out as its page(s)
    # padded with 0xFF, which leaves the other bytes as they were on NOR flash.
    def __init__(self, dev):
        self._dev = dev
        self._page = bytearray(_PAGE)
        self._ss = dev.ioctl(5, 0)

    def readblocks(self, n, buf, offset=0):
        self._dev.readblocks(n, buf, offset)

    def writeblocks(self, n, buf, offset=0):
        p = self._page
        i = 0
        k = len(buf)
        while i < k:
            a = offset + i
            start = a - a % _PAGE
            m = min(k - i, start + _PAGE - a)
            for j in range(_PAGE):
                p[j] = 0xFF
            p[a - start : a - start + m] = buf[i : i + m]
            self._dev.writeblocks(n, p, start)
            i += m

    def ioctl(self, op, arg=0):
        return self._dev.ioctl(op, arg)


def _total(lost):
    n = 0
    for sid in lost:
        n += lost[sid]
    return n


def _name_size(name):
    # a stream's entry in a checkpoint, at most
    return 12 + len(name.encode())


def ckpt_size(names, body):
    # an upper bound of a checkpoint frame's size with these streams and `body` bytes more
    n = 6 + 4 + 1 + body + 6
    for name in names:
        n += _name_size(name)
    return n


def new_spare(names, meta_room):
    # RawStore.spare(names) of a new store on a 4096-byte sector (every board's, and FileFlash's):
    # the Logger's check before it writes anything
    return min(record.MAX_RECORD + 8, _SECTOR - _HDR) - ckpt_size(names, meta_room)


def open_device(cfg):
    # The block device for this board's raw store (imports of esp32 / rp2 only where they exist);
    # a region the configuration does not give, or the board does not have: ConfigError. Opening
    # one writes nothing on a board.
    import sys

    from . import ConfigError

    if sys.platform == "esp32":
        import esp32

        label = cfg.get("partition") or "blynklog"
        found = esp32.Partition.find(esp32.Partition.TYPE_DATA, label=label)
        if not found:
            raise ConfigError("store.partition: this board has no data partition labelled %r" % label)
        return found[0]
    if sys.platform == "rp2":
        import rp2

        start = cfg.get("start")
        length = cfg.get("length") or cfg.get("len")
        if start is None or not length:
            raise ConfigError("store.start, store.length: the raw store's flash region (bytes) is needed on rp2")
        try:
            return PageFlash(rp2.Flash(start=start, len=length))
        except ValueError:  # past the flash's storage area
            raise ConfigError(
                "store.start, store.length: no such flash region on this board (%d, %d)" % (start, length)
            )
    path = cfg["path"]
    try:
        import os

        if os.stat(path)[0] & 0x4000:
            path += "/nor.bin"  # a folder (it also holds the state file): the device goes inside
    except OSError:
        pass
    return FileFlash(path, cfg.get("capacity") or 262144)
