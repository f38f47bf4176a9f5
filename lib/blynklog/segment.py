# blynklog.segment: the store's reading of segments of frames (format 3, frame.py): the walk
# from frame to frame, the runs of records a frame's directory gives (counts, commits, drops), a
# stream's records read in place (Reader: one section, a record a step, nothing allocated for the
# numeric kinds: bit fields of at most 16 bits); and the Store's reading side (records(), scan(),
# commit(), counting, the cursors file's writing). Imported by the store when it first reads (a
# wake that only appends does not load it). Functions of
# the Store (store.py) that read its files; split from it so that each module compiles in a
# board's small heap. Same contract as the store's: one task at a time.
from .compat import binascii, const, json, os, struct
from . import frame
from .frame import T_F32, T_F64, T_INT, T_LOC32, T_SCALED, T_STR, T_TRUE

_SEG_SHIFT = const(16)
_OFF_MASK = const(0xFFFF)
_SEG_V3 = const(3)  # segments of frames
_RBUF = const(1200)  # a scan's read buffer (store.py's)
_CMAGIC = b"BC"
_VERSION = const(1)  # of the cursors file
_ENOSPC = const(28)  # errno: no space left on the file system
_FULL = "books.full"  # the file that says the books could not be written (_stuck)
_TRY = "books.try"  # check_books's file (a leftover is removed at open)
# the leading 1 bits (0..6) of a 6-bit field: the length of an integer code's prefix, less its 0
_ONES = bytes(
    0 if v < 32 else 1 if v < 48 else 2 if v < 56 else 3 if v < 60 else 4 if v < 62 else 5 if v < 63 else 6
    for v in range(64)
)


def frames(store, seq, buf, start, stop, skips=False, hd=None):
    # _walk for a segment of frames (format 3): yields off for each valid frame starting at
    # start <= off < stop, the frame in buf[_wi:_wi + _wn]. Damaged bytes are skipped one at
    # a time (the keyed CRC finds the next frame written as one) and counted when skips.
    if hd is None:
        hd = store._read_header(seq)
        if hd is None:
            return
    kb = frame.signed_salt(hd[1])
    name = store._seg_name(seq)
    mv = memoryview(buf)
    size = len(buf)
    fpos = start if start > hd[2] else hd[2]
    rounds = 0
    while fpos < stop and rounds < 100000:
        rounds += 1
        try:
            with open(name, "rb") as f:
                f.seek(fpos)
                got = f.readinto(buf) or 0
        except OSError:
            return
        limit = got if fpos + got <= stop else stop - fpos
        if limit <= 0:
            return
        more = got == size and fpos + limit < stop
        i = 0
        while i < limit:
            off = fpos + i
            n = frame.check(buf, i, limit, mv, kb ^ (off & 0xFFFF))
            if n:
                store._wi = i
                store._wn = n
                yield off
                i += n
            elif more and limit - i < frame.FRAME_MAX:
                break  # may be a frame cut by the chunk: read again from here
            else:
                if skips:
                    store.skipped_bytes += 1
                i += 1
        fpos += i


def _beyond(lo, c, cur):
    # how many of the c positions lo, lo + 1, ... are after cursor cur
    if lo + c - 1 <= cur:
        return 0
    if lo > cur:
        return c
    return lo + c - 1 - cur


def count_seg(store, k):
    from .store import _remove

    # Counts the records of segment k below its _segscan mark: each one past its stream's
    # cursor is pending. False when the segment's header is damaged (the segment is removed).
    seq = store._segs[k]
    stop = store._segscan[k]
    hd = store._read_header(seq)
    store._uncounted -= 1
    store._segscan[k] = 0
    if hd is None:
        store.bad_segments += 1
        _remove(store._seg_name(seq))
        store._segs.pop(k)
        store._segpend.pop(k)
        store._segsize.pop(k)
        store._segscan.pop(k)
        return False
    cur = store._cursor
    pend = store._pending
    nstreams = len(cur)
    buf = store._rbuf
    count = 0
    store._wend = end = hd[2]
    word = 0
    for sid, lo, c, off in runs(store, seq, buf, 0, stop, True, hd):
        if sid >= nstreams:
            count += c  # its name was lost (damaged streams file): counted later
        else:
            c = _beyond(lo, c, cur[sid])
            pend[sid] += c
            count += c
        end = store._wend
        word = store._wlast
    if seq == store._wseq and hd[3] == 3 and (word & 0xFFFF) > store._word:
        # the ordinal after the counted frames (at open; counted later, frames written since are
        # past it and _word with them: it never goes back, or new frames would reuse positions)
        store._word = word & 0xFFFF
    store._segpend[k] += count
    if seq != store._wseq:
        store._segsize[k] = end
    elif end < stop and store._wf is None and store._wsize == stop:
        # a damaged tail of the write segment with nothing appended after it: cut it, so the
        # next append follows the last good record. (Appended after it, the damaged bytes
        # stay: reading skips them.)
        store._cut(seq, end)
        ck = store._clean  # the bytes after end go: a run checked there too
        j = 0 if ck is None else store._slot(seq)
        if ck is not None and ck[j] == seq:
            if ck[j + 1] >= end:
                ck[j] = -1
            elif ck[j + 2] > end:
                ck[j + 2] = end
        store._wsize = store._segsize[k] = end
    return True


def cut(store, seq, end):
    # Rewrites segment seq keeping its first `end` bytes (a torn or damaged tail goes).
    name = store._seg_name(seq)
    tmp = name + ".new"
    buf = store._rbuf
    with open(name, "rb") as src:
        with open(tmp, "wb") as dst:
            done = 0
            while done < end:
                got = src.readinto(buf) or 0
                if got <= 0:
                    break
                k = got if done + got <= end else end - done
                dst.write(store._rmv[:k])
                done += k
    os.rename(tmp, name)


def drop_oldest(store, sid=-1, upto=0, full=False, keep=False):
    from .store import _remove

    # The drop is booked before the file goes: one atomic write of the cursors file moves
    # every stream's cursor past the segment and adds its pending records to dropped_full.
    # A cut after that write leaves a segment whose records are all behind the cursors: open
    # counts none of them and reclaims it. A cut before it leaves everything as it was.
    # On a full file system (the write finds no room, or full: the caller's did not) the file
    # goes first: the drop is booked by an empty file named after it (_mark), then the segment
    # is deleted, which frees its block, then the cursors file is written (save_cursors
    # removes the mark); a cut after the mark is made finds it at open (store_open.py), which
    # books the drop then. Records of stream sid at or before upto are acknowledged (a commit
    # making room for itself): they are booked in dropped_full too, and store._acked says how
    # many, for the commit to take them out of it in its own write (commit): a commit that then
    # fails leaves them counted. keep: only a segment with nothing else to count goes (False:
    # it stays).
    seq = store._segs[0]
    cur = store._cursor
    buf = store._rbuf
    lost = [0] * len(cur)  # of the records counted in _pending (those past _segscan)
    scan = store._segscan[0]
    total = 0
    acked = 0
    hd = store._read_header(seq)
    if hd is not None:
        for s, lo, c, off in runs(store, seq, buf, 0, 1 << 30, False, hd):
            if s < len(cur):
                n = _beyond(lo, c, cur[s])
                if off >= scan:
                    lost[s] += n
                if s == sid and upto > cur[s]:
                    b = _beyond(lo, c, upto)
                    total += b
                    acked += n - b
                else:
                    total += n
    if total and keep:
        return False
    total += acked
    if total:
        old = cur[:]
        end = seq << _SEG_SHIFT | 0xFFFF  # after every record of the segment
        for s in range(len(cur)):
            if cur[s] < end:
                cur[s] = end
        store.dropped_full += total
        try:
            if full:
                raise OSError(_ENOSPC)
            store._save_cursors()
        except OSError as e:
            if not _no_room(e):
                store._cursor = old
                store.dropped_full -= total
                raise
            try:
                _mark(store, seq)
            except OSError:
                store._cursor = old
                store.dropped_full -= total
                raise
            _remove(store._seg_name(seq))  # its block is free now: the books can be written
            try:
                store._save_cursors()
            except OSError:
                pass  # booked by the mark: the books are written at the next save_cursors
    store._acked += acked
    for s in range(len(cur)):
        store._pending[s] -= lost[s]
    _remove(store._seg_name(seq))
    if scan:
        store._uncounted -= 1
    store._segs.pop(0)
    store._segpend.pop(0)
    store._segsize.pop(0)
    store._segscan.pop(0)
    return True


def _mark(store, seq):
    # The booking of segment seq's drop, made without a data block: an empty file (littlefs keeps
    # it in its folder's metadata) named <seq>.<dropped_full>.drop, 8 hex digits each. Open moves
    # every cursor past the segment and takes dropped_full from it when the cursors file has less.
    name = "%s/%08x.%08x.drop" % (store.path, seq, store.dropped_full & 0xFFFFFFFF)
    open(name, "wb").close()
    store._marks.append(name)


def _no_room(e):
    # an OSError that says the file system is full (ENOSPC, as MicroPython's and CPython's file
    # errors give it: their first argument)
    return bool(e.args) and e.args[0] == _ENOSPC


def make_room(store, sid=-1, upto=0):
    # The cursors file found no room (a full file system): the oldest segment goes, when there is
    # an older one than the write segment, under drop_oldest (its records not acknowledged counted
    # in dropped_full), and under any policy when all its records are acknowledged (committed, or
    # sid's at or before upto). A held store (sync_async) is not held here: the one that commits
    # is the sync, between two batches. The write segment stays (the newest, with the sequence
    # number), unless nothing is appended to it (a cut left it behind the cursors: store_open.py;
    # they carry its number then). True when a segment went.
    if len(store._segs) < (1 if store._wver != _SEG_V3 else 2):
        return False
    return drop_oldest(store, sid, upto, True, store.on_full != "drop_oldest")


def write_books(store):
    # save_cursors, making room when the file system is full (flush(), close(), and the upload's
    # reads while store._full); a full store that cannot (drop_newest, or a single segment)
    # raises ENOSPC
    while True:
        try:
            store._save_cursors()
            return
        except OSError as e:
            if not _no_room(e) or not make_room(store):
                if _no_room(e):
                    _stuck(store)
                raise


def _stuck(store):
    # The books could not be written for lack of room, and no room could be made: the store's
    # upload reads (records(), scan()) raise ENOSPC until a block is free again (check_books), so
    # that no batch goes out whose commit cannot be written (it would go again at every sync).
    # Kept across reboots by an empty file (no data block), removed by check_books.
    if not store._full:
        store._full = True
        try:
            open(store.path + "/" + _FULL, "wb").close()
        except OSError:
            pass


def check_books(store):
    # store._full: whether a commit's write would find a block now: a file of 1,200 bytes (more
    # than littlefs keeps in a folder's metadata) is written and removed, making room as a commit
    # does (make_room); ENOSPC while there is none. Then the mark of _stuck goes.
    from .store import _remove

    name = store.path + "/" + _TRY
    while True:
        try:
            with open(name, "wb") as f:
                f.write(store._rbuf)
            break
        except OSError as e:
            _remove(name)
            if not _no_room(e) or not make_room(store):
                raise
    _remove(name)
    store._full = False
    _remove(store.path + "/" + _FULL)


def runs(store, seq, buf, start, stop, skips, hd):
    # Yields (sid, pos of its first record, count, offset) for each run of records of a segment
    # (either format): a frame's sections (format 3), or each record (formats 1 and 2, from byte
    # start on). store._wend: the end of the frame or record; store._wlast: the pos after the run.
    if hd[3] != 3:
        from . import legacy

        for off in legacy.walk(store, seq, buf, start, stop, skips):
            store._wend = off + store._wn
            store._wlast = off + store._wn
            i = store._wi
            yield buf[i + (1 if buf[i] < 0x80 else 2) + 1], seq << _SEG_SHIFT | off, 1, off  # record.sid_of
        return
    top = seq << _SEG_SHIFT
    for off in frames(store, seq, buf, 0, stop, skips, hd):
        store._wend = off + store._wn
        for s, o, c, _ in sections(buf, store._wi):
            store._wlast = o + c
            yield s, top | o, c, off


# @micropython.native armv6m
def scan(store, seq, hd, sid, start, stop, buf, rec, rd):
    # Store._scan of a segment of frames: rec filled with each record of sid after start and the
    # stream's cursor, in frames starting before stop; rd: a frame.Reader
    base = hd[0]
    top = seq << _SEG_SHIFT
    for off in frames(store, seq, buf, 0, stop, False, hd):
        at = -1  # the section of sid: its first pos, count, offset
        for s, o, c, q in sections(buf, store._wi):
            if s == sid:
                at = top | o
                cnt = c
                p = q
        if at < 0:
            continue
        cur = store._cursor[sid]
        if at + cnt - 1 <= (start if start > cur else cur):
            continue  # all of it committed or before start
        rd.start(buf, p)
        for j in range(cnt):
            rd.next(rec)
            pos = at + j
            if pos <= start or pos <= store._cursor[sid]:
                continue
            rec.pos = pos
            rec.base = base
            rec.sid = sid
            yield rec


def sections(buf, i):
    # Yields (sid, ordinal of its first record, count, offset of its bits in buf) for each section
    # of the valid frame at buf[i:] (check() accepted it)
    o, n, q = frame.head(buf, i)
    p = q
    for _ in range(n):  # the directory's end: where the sections start
        p = frame.varint(buf, p + 1, p + 4)[0]
        p = frame.varint(buf, p, p + 3)[0]
    for _ in range(n):
        sid = buf[q]
        q, c = frame.varint(buf, q + 1, q + 4)
        q, z = frame.varint(buf, q, q + 3)
        yield sid, o, c, p
        o += c
        p += z


class Reader:
    # One section of a frame read into a record.Rec (Store.scan): buf holds the frame; q the bit
    # position. The state of the last record read (the previous one of the section).
    def __init__(self):
        self.buf = None
        self.q = 0
        self.h = 0
        self.d = 0
        self.step = 0
        self.m = 0
        self.fv = bytearray(8)
        self.first = True

    def start(self, buf, p):
        self.buf = buf
        self.q = p << 3
        self.first = True

    # @micropython.native armv6m
    def get(self, k):
        # k <= 16 bits (the buffer holds 2 bytes past the frame)
        q = self.q
        i = q >> 3
        buf = self.buf
        w = (buf[i] << 16) | (buf[i + 1] << 8) | buf[i + 2]
        self.q = q + k
        return (w >> (24 - (q & 7) - k)) & ((1 << k) - 1)

    # @micropython.native armv6m
    def get_z(self):
        # frame_write.Writer.put_z's code: its prefix (up to six 1 bits) read at once from a 24-bit
        # window, and the short codes' bits with it
        q = self.q
        i = q >> 3
        buf = self.buf
        w = (buf[i] << 16) | (buf[i + 1] << 8) | buf[i + 2]
        s = 24 - (q & 7)  # bits of w from q on (17..24)
        k = _ONES[(w >> (s - 6)) & 0x3F]
        if k == 0:
            self.q = q + 1
            return 0
        if k == 1:
            self.q = q + 9
            return (w >> (s - 9)) & 0x7F
        if k == 2:
            self.q = q + 12
            return (w >> (s - 12)) & 0x1FF
        if k == 3:
            self.q = q + 4
            return self.get(16)
        if k == 4:
            self.q = q + 5
            return (self.get(12) << 12) | self.get(12)
        self.q = q + 6
        if k == 5:
            return (self.get(16) << 16) | self.get(16)
        n = self.get(7)
        z = 0
        while n > 0:
            k = 16 if n > 16 else n
            n -= k
            z = (z << k) | self.get(k)
        return z

    # @micropython.native armv6m
    def next(self, rec):
        # Fills rec (sid, flags, typ, delta, m or buf/p/last) with the section's next record. The
        # header's bits and the integer codes' short forms (up to 9 bits after a prefix of 0-2 ones,
        # all but a few records') are read here from a 24-bit window, the rest by get() and get_z():
        # a call costs more than the read itself.
        buf = self.buf
        q = self.q
        i = q >> 3
        w = (buf[i] << 16) | (buf[i + 1] << 8) | buf[i + 2]
        s = 24 - (q & 7)  # bits of w from q on (17..24)
        first = self.first
        if first:
            h = (w >> (s - 6)) & 0x3F
            q += 6
            same = False
        elif not (w >> (s - 1)) & 1:
            h = self.h
            q += 1
            same = True
        else:
            h = (w >> (s - 7)) & 0x3F
            q += 7
            same = False
        self.h = h
        typ = h >> 2
        rec.flags = h & 3
        rec.typ = typ
        i = q >> 3
        w = (buf[i] << 16) | (buf[i + 1] << 8) | buf[i + 2]
        s = 24 - (q & 7)
        k = _ONES[(w >> (s - 6)) & 0x3F]
        if k == 0:
            z = 0
            q += 1
        elif k == 1:
            z = (w >> (s - 9)) & 0x7F
            q += 9
        elif k == 2:
            z = (w >> (s - 12)) & 0x1FF
            q += 12
        else:
            self.q = q
            z = self.get_z()
            q = self.q
        z = (z >> 1) ^ -(z & 1)
        if first:
            d = z
            step = 0
            self.first = False
        else:
            step = self.step + z
            d = self.d + step
        self.d = d
        self.step = step
        rec.delta = d
        if typ == T_INT or typ >= T_SCALED:
            i = q >> 3
            w = (buf[i] << 16) | (buf[i + 1] << 8) | buf[i + 2]
            s = 24 - (q & 7)
            k = _ONES[(w >> (s - 6)) & 0x3F]
            if k == 0:
                z = 0
                q += 1
            elif k == 1:
                z = (w >> (s - 9)) & 0x7F
                q += 9
            elif k == 2:
                z = (w >> (s - 12)) & 0x1FF
                q += 12
            else:
                self.q = q
                z = self.get_z()
                q = self.q
            self.q = q
            z = (z >> 1) ^ -(z & 1)
            m = self.m + z if same else z
            self.m = m
            rec.m = m
            return
        self.q = q
        if typ == T_F32 or typ == T_F64:
            fv = self.fv
            if not same:
                for k in range(8):
                    fv[k] = 0
            if self.get(1):
                c = self.get(6)
                k = (4 if typ == T_F32 else 8) - 1 - (c >> 3)
                low = k - (c & 7)
                while k >= low:
                    fv[k] ^= self.get(8)
                    k -= 1
            rec.buf = fv
            rec.p = 0
        elif typ > T_TRUE:
            if typ == T_STR:
                k = self.get(11)
            else:
                k = 8 if typ == T_LOC32 else 16
            q = (self.q + 7) & ~7
            p = q >> 3
            rec.buf = self.buf
            rec.p = p
            rec.last = p + k
            self.q = q + 8 * k


# ---- the Store's reading side (store.py calls these): the cursors file's writing, a stream's
# records, commits, counting


def save_cursors(store):
    k = len(store._cursor)
    lost = store._lost
    # the ids a lost streams file took keep their cursors here until names claim them again
    # (store_open._load_cursors): the ids k, k + 1, ... that stream_id() gives out next
    n = k + len(lost) if lost else k
    blob = json.dumps(store._meta).encode() if store._meta else b""
    m = len(blob)
    data = bytearray(14 + 8 * n + m)
    data[0:2] = _CMAGIC
    data[2] = _VERSION
    data[3] = n
    for i in range(n):
        struct.pack_into("<Q", data, 4 + 8 * i, store._cursor[i] if i < k else lost.get(i, 0))
    drops = store.dropped_full & 0xFFFFFFFF
    struct.pack_into("<IH", data, 4 + 8 * n, drops, m)
    data[10 + 8 * n : 10 + 8 * n + m] = blob
    end = 10 + 8 * n + m
    struct.pack_into("<I", data, end, binascii.crc32(memoryview(data)[:end]) & 0xFFFFFFFF)
    tmp = store.path + "/cursors.new"
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, store.path + "/cursors")
    store._saved_drops = drops
    if store._marks:
        from .store import _remove

        for name in store._marks:  # drops booked by a mark (drop_oldest): booked here now
            _remove(name)
        store._marks = []


def store_records(store, sid, start, end_seq, end_off):
    it = store_scan(store, sid, start, end_seq, end_off, frame.Rec())
    try:
        for rec in it:
            yield rec.pos, rec.base + rec.delta, rec.value(), rec.flags
    finally:
        it.close()  # its read buffer goes back to the store when this one is dropped early


def store_scan(store, sid, start, end_seq, end_off, rec):
    # one read buffer for the scans that run one after another (an upload's passes): taken
    # while this one runs, given back at its end (a scan dropped unfinished keeps its own)
    buf = store._sbuf
    store._sbuf = None
    if buf is None:
        buf = bytearray(_RBUF)
    seq = start >> _SEG_SHIFT
    segs = store._segs
    rd = None  # a frame section's reader, made at the first frame
    try:
        while True:
            nxt = -1
            for s in segs:
                if s >= seq:
                    nxt = s
                    break
            if nxt < 0 or nxt > end_seq:
                return
            seq = nxt
            hd = store._read_header(seq)
            if hd is not None and hd[3] == _SEG_V3:
                if rd is None:
                    rd = Reader()
                stop = end_off if seq == end_seq else 1 << 30
                yield from scan(store, seq, hd, sid, start, stop, buf, rec, rd)
            elif hd is not None:
                from . import legacy

                stop = end_off if seq == end_seq else 1 << 30
                yield from legacy.scan(store, seq, hd, sid, start, stop, buf, rec)
            seq += 1
    finally:
        store._sbuf = buf


def commit(store, sid, pos, count=None, meta=None):
    # Records of sid up to and including pos are done. The store counts them itself (count
    # is the caller's figure, not trusted). meta: an optional small dict (JSON) saved in the
    # same atomic write, read back with meta(): the caller's books move with the cursor.
    # Persisted atomically before returning. On a full file system the oldest segment makes room
    # (make_room) and the commit goes again; a full store that cannot make room raises ENOSPC and
    # its uploads stop until books can be written (store.full: check_books).
    store._check_sid(sid)
    if type(pos) is not int:
        raise TypeError("pos not int")
    if meta is not None and not isinstance(meta, dict):
        raise TypeError("meta not dict")
    store._count()
    while True:
        # records of this commit a drop booked in dropped_full (make_room): out of it in this write
        acked = store._acked
        store.dropped_full -= acked
        try:
            _commit(store, sid, pos, meta)
            store._acked = 0
            return
        except Exception as e:
            store.dropped_full += acked  # (the commit did not land: they stay counted as dropped)
            if not isinstance(e, OSError) or not _no_room(e) or not make_room(store, sid, pos):
                store._acked = 0
                if _no_room(e):
                    _stuck(store)
                raise


def _commit(store, sid, pos, meta):
    cur = store._cursor[sid]
    if pos <= cur:
        if meta is not None and meta != store._meta:
            old = store._meta
            store._meta = meta
            try:
                store._save_cursors()
            except Exception:  # a flash fault, a MemoryError: RAM stays with what is on flash
                store._meta = old
                raise
        return
    pseq = pos >> _SEG_SHIFT
    buf = store._rbuf
    found = pseq not in store._segs
    done = [0] * len(store._segs)
    total = 0
    for k in range(len(store._segs)):
        seq = store._segs[k]
        if seq < cur >> _SEG_SHIFT or seq > pseq:
            continue
        hd = store._read_header(seq)
        if hd is None:
            continue
        first = cur & _OFF_MASK if seq == cur >> _SEG_SHIFT else 0  # (format 1 and 2)
        for s, lo, c, off in runs(store, seq, buf, first, 1 << 30, False, hd):
            if lo > pos:
                break
            if s == sid:
                hi = lo + c - 1
                if lo <= cur:
                    lo = cur + 1
                if hi >= lo:
                    done[k] += (hi if hi < pos else pos) - lo + 1
                    total += (hi if hi < pos else pos) - lo + 1
                    if lo <= pos <= hi:
                        found = True
    if not found:
        raise ValueError("pos not a record of this stream")
    store._cursor[sid] = pos
    old = store._meta
    if meta is not None:
        store._meta = meta
    try:
        store._save_cursors()
    except Exception:  # a flash fault, a MemoryError: RAM stays with what is on flash
        store._cursor[sid] = cur
        store._meta = old
        raise
    store._pending[sid] -= total
    for k in range(len(done)):
        store._segpend[k] -= done[k]
    store._reclaim()


def count(store):
    # Counts every segment not counted yet (Store._count); then commit, pending and reclaiming can work.
    k = 0
    while store._uncounted and k < len(store._segs):
        if store._segscan[k] and not store._count_seg(k):
            continue  # a damaged segment went: the same k is the next one
        k += 1
    if not store._uncounted:
        # fully committed older segments left by a cut between commit and reclaim
        store._reclaim()


def stats(store):
    store._count()
    return {
        "pending": sum(store._pending),
        "dropped_full": store.dropped_full,
        "bytes": store._bytes(),
        "segments": len(store._segs),
        "capacity": store.capacity,
        "streams": len(store._names),
        "flushes": store.flushes,
        "skipped_bytes": store.skipped_bytes,
        "bad_segments": store.bad_segments,
    }
