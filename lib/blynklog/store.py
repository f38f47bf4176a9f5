# blynklog.store: the flash store. Every sample from Logger.add() stays here until Blynk has
# acknowledged it. Append-only segment files in a folder of any VFS (littlefs on boards); the
# on-flash format is docs/FORMAT.md.
#   <path>/00000001.seg ...  segments: a 24-byte header (with a random salt), then frames
#                            (format 3, frame.py: a flush's samples packed per stream, one CRC
#                            keyed by the salt and the frame's offset); at most segment_size bytes,
#                            so a 4096-byte segment is one littlefs block. Segments of formats 1
#                            and 2 (a record per sample, record.py) are still read (legacy.py)
#                            until consumed; nothing is appended to them.
#   <path>/streams           stream names, one a line; the line number is the stream id
#   <path>/cursors           per-stream commit cursors and the caller's meta dict (atomic:
#                            written as .new, then renamed)
# Durability: append() encodes the sample as a format 2 record and writes its bits to the frame to
# come, in a RAM tail (frame_write.add: its exact bits); flush() assembles the frame, writes it after
# the segment's last one and syncs the file, and then everything appended is durable. The frame
# is written unsynced first when it would pass frame.FRAME_MAX or the tail, and the segment is
# synced once more when it is full and closed. littlefs rewrites a file's last block at every
# sync, so the default auto-flush is "when the segment is full" (one block write per 4 KB).
# Positions (pos) are seq << 16 | the record's ordinal in its segment (format 3; its offset in
# formats 1 and 2): opaque, ordered within a stream; a cursor may point inside a frame.
# Full store (capacity // segment_size segments, or a file system without room for one more):
# "drop_oldest" deletes the oldest segment and counts its pending records in dropped_full (booked
# first: one cursors write moves the cursors past it and adds them, then the file goes; on a
# file system with no block for that write, the file goes first, the drop booked by an empty
# <seq>.<dropped_full>.drop file: segment.drop_oldest); "drop_newest" refuses (append returns
# False) and counts the refusal. Fully committed segments are deleted; the newest one is kept (it
# holds the highest sequence number). A commit that finds no room has the oldest segment make it
# (segment.make_room); one that cannot raises ENOSPC, and records()/scan() raise it until a
# block is free again (segment.check_books), so that no batch goes out whose commit cannot be
# written.
# Interface (docs/DESIGN.md): Store(path, capacity, on_full, flush_records, flush_bytes, flush_ms,
# segment_size, journal: a folder whose wake journal, if any, the opening takes in: journal.py,
# new_segment: the first append starts a segment rather than adding to the newest, which another
# handle may still hold open: a Logger taken over); owner: None, or a list whose item 2 the store
# keeps True while its write file holds frames not synced (the Logger's holding cell);
# stream_id(name), stream_ids(names) (new names join in one go), append(sid, ts, value, flags,
# decimals) -> bool, flush(), let_writer_go(),
# records(sid, after) -> iterator of (pos, ts, value, flags), commit(sid, pos, count, meta),
# meta(), pending(sid), stats(), close(); scan(sid): records() as one record.Rec filled in place.
# flush_* = 0 means off; flush_ms is checked in append(); flush_bytes counts the tail's records
# as format 2 encodes them (some 13 bytes a number).
# Modules: store_open.py (the opening: the folder's listing, names, cursors, the newest segment's
# tail, a wake's journal) is imported by Store() and let go after; frame.py (the frame codec's
# reading side) at opening a segment of frames; frame_write.py (its writing side: the tail
# records' encoding, a new segment, a failed write's books) at the first append; segment.py
# (reading frames, and the Store's reading side: counts, records(), scan(), commit(), drops, the
# cursors file's writing) at the first read; legacy.py (record.py with it) at the first format 1
# or 2 segment. A board compiling .py sources compiles each in its own heap peak, a wake that only
# appends loads neither the readers nor record.py, and a sync that only reads and commits loads
# no writing side.
# RAM: fixed buffers allocated in __init__ (a 1.2 KB scan buffer, a header) plus two ints per
# stream and three per segment (both sized by configuration, never by the backlog); from the first
# append the record's encoding (1.1 KB, 40 small views) and the frame to come: a 3 KB tail (and
# 192 bytes of chunk links), a 1.2 KB frame buffer, a frame_write.State per stream (9 ints and 8
# bytes), a record.Rec; a records() or scan() iterator reads into a 1.2 KB buffer, kept for the
# next one when it ends, and a section reader (8 bytes and a few ints); the runs of records
# checked back to back in format 1/2 segments (legacy.walk): three ints a slot, a slot per segment
# the capacity holds (at most 256), made at the first such walk.
# dropped_full is kept in the cursors file (saved at a segment drop, commit, flush and close); the
# other counters count since open. A drop allocates two lists of an int per stream. append() of
# bool/int/float (decimals too) allocates nothing on a 64-bit port once the segment is open and
# the frame's buffers made, and on a 32-bit port at most the record's CRC (a heap int from 2**30)
# for a ts given as a clock's anchor and rel, or within days of the segment's base
# (record.encode_into; frame_write.add costs in small ints); writing a frame and opening the next
# segment allocate. Not safe from an interrupt; one task at a time.
import sys

from . import _drop, _loaded
from .compat import IS_MICROPYTHON, array, binascii, const, os, struct, ticks_diff, ticks_ms

_ESP32 = sys.platform == "esp32"
frame = None  # the frame codec (frame.py), imported at the first frame read or append (_codec)
fw = None  # its writing side (frame_write.py), imported at the first append (_alloc)

_HDR = const(24)  # segment header, format 2 (format 1: 20 bytes, no salt)
_HDR1 = const(20)
_HDR_FMT = "<2sBBIQ"
_MAGIC = b"BL"
_CMAGIC = b"BC"
_VERSION = const(1)  # of the cursors file
_SEG_V1 = const(1)  # segments whose records have plain CRCs (read, never written)
_SEG_V2 = const(2)  # segments whose records' CRCs start from their place (record.key): read only
_SEG_V3 = const(3)  # segments of frames (frame.py), the ones written


_RBUF = const(1200)
_MAX_STREAMS = const(255)
_MAX_NAME = const(64)
_DEFAULT_SEG = const(4096)
_SEG_SHIFT = const(16)
_OFF_MASK = const(0xFFFF)
_CLEAN_SLOTS = const(256)  # at most this many segments' checked runs are remembered (_clean)


def _codec(load=True):
    # imports the frame codec at its first use: opening a store, or a Logger, costs no more heap
    # for it (a board with .py sources compiles each module as it is imported); load False: lets
    # it go (close(); a store still open imports it again at its next use)
    global frame
    if load and frame is None:
        from . import frame as f

        frame = f
    elif not load:
        frame = None


def _writer():
    # the frame codec's writing side, imported at the first append (or new segment): a store
    # opened to be read and committed (a sync's) does not load it
    global fw
    if fw is None:
        from . import frame_write

        fw = frame_write
    return fw


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


def _reader():
    # the store's reading side (segment.py: counting, reading, committing, dropping, the cursors
    # file's writing), imported at its first use: a wake that only appends does not load it
    from . import segment

    return segment


class Store:
    def __init__(
        self,
        path,
        capacity=262144,
        on_full="drop_oldest",
        flush_records=0,
        flush_bytes=0,
        flush_ms=0,
        segment_size=_DEFAULT_SEG,
        journal=None,
        new_segment=False,
    ):
        if on_full not in ("drop_oldest", "drop_newest"):
            raise ValueError("on_full not drop_oldest/drop_newest")
        if type(segment_size) is not int or not 256 <= segment_size <= 65535:
            raise ValueError("segment_size not 256..65535")
        if type(capacity) is not int or capacity < 2 * segment_size:
            raise ValueError("capacity under 2 segments")
        for v in (flush_records, flush_bytes, flush_ms):
            if type(v) is not int or v < 0:
                raise ValueError("flush_* not int >= 0")
        self.path = path
        self.capacity = capacity
        self.on_full = on_full
        self.hold = None  # a function -> True while a sync_async holds the oldest records (aio.py)
        self.segment_size = segment_size
        self._max_segs = capacity // segment_size
        self._fl_n = flush_records
        self._fl_b = flush_bytes
        self._fl_ms = flush_ms
        self._hdr = bytearray(_HDR)
        self._rbuf = bytearray(_RBUF)
        self._rmv = memoryview(self._rbuf)
        # the frame to come (format 3): its records in RAM (format 2 encoding, key 0), costed as
        # they come (frame_write.add: exact bits per stream), built at flush (frame_write.put);
        # the buffers and states (frame_write.alloc: the tail, the frame's buffer, the per-stream
        # states) are made at the first append: opening a store costs no more
        self._fst = None
        self._fcount = 0  # records in the frame to come
        self._word = 0  # ordinal of the next frame's first record in the write segment
        self._wver = 0  # the write segment's format (3 is written; another: a new one is made)
        self.dropped_full = 0
        self._saved_drops = 0
        self._marks = []  # the files booking drops that the cursors file does not hold yet (segment.drop_oldest)
        self._acked = 0  # records a commit acknowledges that its make_room booked in dropped_full (segment.commit)
        self._lost = None  # id -> the cursors file's cursor, for ids the names file lacks (store_open._load_cursors)
        self._full = False  # True while the books cannot be written for lack of room (segment._stuck)
        self.skipped_bytes = 0
        self.flushes = 0
        self.bad_segments = 0
        self._wsalt = None  # salt of the write segment (None: format 1, plain CRCs)
        self._wsalt_of = None  # _wsk is signed _wsalt_of (_wkey)
        self._wsk = 0
        self._wi = self._wn = 0  # the record or frame a walk is at: buf[_wi:_wi + _wn]
        # The run of records checked back to back in a format 1/2 segment (legacy.walk): seq, lo,
        # hi in slot seq % slots (_slot), made at the first such walk (_checked_runs). Not a dict
        # of tuples: that grew with the backlog, and its entries, made during the first count's
        # walk, were strewn over the heap that the upload then needed whole.
        self._clean = None
        self._sbuf = None  # the read buffer of scans (_scan)
        self._wf = None
        self.owner = None  # a list whose [2] the store sets while _wf holds frames not synced (Logger)
        self._wseq = 0
        self._wbase = 0
        self._wsize = 0
        self._un_n = 0
        self._un_b = 0
        self._un_t0 = 0
        self._closed = False
        self._names = []  # these three: store_open.run, from the files
        self._cursor = []
        self._pending = []
        self._enc = self._views = None  # append()'s encoding and its views (frame_write.alloc)
        self._tail = None  # the frame to come's sections (frame_write.alloc), and its Writer (_fwr)
        self._meta = {}
        self._segs = []
        self._segpend = []
        self._segsize = []
        # per segment: the offset below which its records are not counted yet (0: counted). Open
        # reads the write segment's header only; the counts come at the first call that needs them
        # (_count), so a wake that only appends does not read the backlog.
        self._segscan = []
        self._uncounted = 0
        # the names, the cursors and the segments on flash, and a wake's journal taken in
        # (store_open.py: its code is in RAM only while a store opens)
        had = _loaded("store_open")
        from . import store_open

        try:
            store_open.run(self, journal, new_segment)
        finally:
            store_open = None
            _drop("store_open", had)

    # ---- files and names
    def _seg_name(self, seq):
        return "%s/%08x.seg" % (self.path, seq)

    def _save_names(self):
        tmp = self.path + "/streams.new"
        with open(tmp, "wb") as f:  # bytes: a name's "\r" read back in text mode is CPython's "\n"
            for n in self._names:
                f.write(n.encode())
                f.write(b"\n")
        os.rename(tmp, self.path + "/streams")

    def _save_cursors(self):
        _reader().save_cursors(self)

    def _read_header(self, seq, f=None):
        # (base_ts, salt, header size, format) of the segment (salt None in format 1), or None
        # when its header is missing or damaged. f: the segment's file, opened at its start by the caller.
        h = self._hdr
        try:
            if f is not None:
                got = f.readinto(h)
            else:
                with open(self._seg_name(seq), "rb") as g:
                    got = g.readinto(h)
        except OSError:
            return None
        if not got or got < _HDR1:
            return None
        magic, ver, _, hseq, base = struct.unpack_from(_HDR_FMT, h, 0)
        if magic != _MAGIC or hseq != seq:
            return None
        if ver == _SEG_V1:
            salt = None
            size = _HDR1
        elif (ver == _SEG_V2 or ver == _SEG_V3) and got == _HDR:
            salt = struct.unpack_from("<I", h, 16)[0]
            size = _HDR
        else:
            return None
        if binascii.crc32(memoryview(h)[: size - 4]) & 0xFFFFFFFF != struct.unpack_from("<I", h, size - 4)[0]:
            return None
        return base, salt, size, ver

    # ---- counting: the segments found at opening are counted when a figure needs them
    def _checked_runs(self):
        # _clean, made when first needed: a store of format 3 segments only never needs it
        if self._clean is None:
            slots = self._max_segs + 2
            if slots > _CLEAN_SLOTS:
                slots = _CLEAN_SLOTS  # more segments share slots: a run forgotten is checked again
            self._clean = array("i", [-1] * (3 * slots))
        return self._clean

    def _slot(self, seq):
        # the index of segment seq's entry in _clean
        return seq % (len(self._clean) // 3) * 3

    def _count(self):
        # Counts every segment not counted yet (segment.count); then commit, pending and reclaiming can work.
        if self._uncounted:
            _reader().count(self)
        else:
            self._reclaim()

    def _count_seg(self, k):
        return _reader().count_seg(self, k)

    def _cut(self, seq, end):
        _reader().cut(self, seq, end)

    def _drop_oldest(self):
        _reader().drop_oldest(self)

    def _next_seq(self):
        top = self._segs[-1] if self._segs else 0
        for c in self._cursor:
            if (c >> _SEG_SHIFT) > top:
                top = c >> _SEG_SHIFT
        return top + 1

    # ---- streams
    def stream_id(self, name):
        return self.stream_ids((name,))[0]

    def stream_ids(self, names):
        # The ids of names, in their order. The names the store lacks join together: the names
        # file written once, the backlog read once for all of them (one name at a time, 60 new
        # names read a backlog of 69 segments 60 times: 347 ms on the board-like port, and wrote
        # the names file 60 times)
        for name in names:
            if type(name) is not str:
                raise TypeError("stream name not str")
            if not name or "\n" in name or len(name.encode()) > _MAX_NAME:
                raise ValueError("bad stream name")
        known = self._names
        new = []
        for name in names:
            if name not in known and name not in new:
                new.append(name)
        if new:
            if len(known) + len(new) > _MAX_STREAMS:
                raise ValueError("too many streams")
            self._join(new)
        return [known.index(name) for name in names]

    def _join(self, new):
        names = self._names
        first = len(names)
        names.extend(new)
        try:
            self._save_names()
        except OSError:
            while len(names) > first:
                names.pop()
            raise
        self._count()  # counts what the other streams have before the new ones join
        # an id whose name was lost with a damaged streams file keeps the cursor the cursors file
        # has for it: its records up to there were committed
        curs = {}
        for sid in range(first, len(names)):
            cur = self._lost.pop(sid, 0) if self._lost else 0
            curs[sid] = cur
            self._cursor.append(cur)
            self._pending.append(0)
            if self._fst is not None:
                _writer().add_stream(self)
        # records already on flash under these ids, past their cursors
        pending = self._pending
        buf = self._rbuf
        for seq in self._segs:
            hd = self._read_header(seq)
            if hd is not None:
                for s, lo, c, off in _reader().runs(self, seq, buf, 0, 1 << 30, False, hd):
                    cur = curs.get(s)
                    if cur is not None:
                        if lo > cur:
                            pending[s] += c
                        elif lo + c - 1 > cur:
                            pending[s] += lo + c - 1 - cur

    def _check_sid(self, sid):
        if self._closed:
            raise OSError("store closed")
        if type(sid) is not int or not 0 <= sid < len(self._names):
            raise ValueError("unknown stream id")

    # ---- write side
    # @micropython.native
    def append(self, sid, ts, value, flags=0, decimals=None, rel=0, checked=False):
        # rel: the sample's time is ts + rel (a clock stamp as its anchor and a small int, which
        # allocates nothing on a 32-bit port); checked: sid, ts, flags and decimals were checked
        # by the caller (Logger.add; record.encode_into)
        # The record goes to the tail (RAM) in format 2's encoding, relative to the segment's
        # base, and is costed in the frame to come (frame_write.code: exact bits). When the frame would
        # not fit the segment, the frame is written and the segment closed first; when it would
        # pass frame.FRAME_MAX or the tail, it is written (not synced) first.
        if not checked:
            self._check_sid(sid)
        if self._fst is None or frame is None or fw is None:  # (fw: another store's sync let it go)
            self._alloc()
        enc = self._enc
        if self._wver != _SEG_V3:
            n = 0  # no segment of frames to write to: the next one is made below
        else:
            n = fw.encode_into(enc, 0, sid, ts, value, flags, decimals, self._wbase, self._views, 0, rel, checked)
        while True:
            est = fw.add(self, sid, n) if n else -1
            if est >= 0:
                break
            if est == -2:
                self._put_frame()  # over the frame's or the tail's bounds: out to the file
                continue
            # the segment is full (or there is none): the frame to come ends it, a new one starts
            t = ts + rel if rel else ts
            if not fw.new_segment(self, t):
                self.dropped_full += 1
                return False
            n = fw.encode_into(enc, 0, sid, t, value, flags, decimals, t, self._views, 0)
        self._pending[sid] += 1
        self._segpend[-1] += 1
        u = self._un_n
        if not u and self._fl_ms:
            self._un_t0 = ticks_ms()
        self._un_n = u + 1
        self._un_b += n
        if (
            (self._fl_n and u >= self._fl_n - 1)
            or (self._fl_b and self._un_b >= self._fl_b)
            or (self._fl_ms and ticks_diff(ticks_ms(), self._un_t0) >= self._fl_ms)
        ):
            self.flush()
        return True

    def let_writer_go(self):
        # Between frames (nothing appended since the last flush) the writing side's code holds
        # nothing a later append needs: frame_write.py (13 KB on a 32-bit port, 24 KB as the Pico
        # W's native code) goes back to the heap for a sync's batches, with the objects of its
        # classes (the frame's Writer, the streams' states), and the next append loads it again
        # (_alloc). Its buffers stay: made again, 3 KB in one piece, they may not fit a heap the
        # upload stack has cut into pieces. Not on an ESP32: its native code takes IRAM that only
        # a reset frees, so each loading again would take more of it.
        # record.py (a string's check or encoding loads it) binds the module's functions: it goes
        # too; not while legacy.py or rawstore.py, which hold record.py, are loaded
        global fw
        if self._fcount or _ESP32 or _loaded("legacy") or _loaded("rawstore"):
            return
        self._fwr = self._fst = None
        fw = None
        from . import _drop as drop  # the package's at this call (the fault tests keep modules so)

        drop("frame_write", False)
        drop("record", False)

    def _alloc(self):
        _codec()
        _writer()
        if self._fst is None:
            if self._tail is None:
                fw.alloc(self)
            else:  # the buffers kept, the Writer and the states let go (let_writer_go, write_failed)
                fw.restate(self)
        elif not self._fcount and type(self._fwr) is not fw.Writer:
            fw.restate(self)  # another store's sync let go the copy they are of: they would keep it

    def _put_frame(self):
        # Writes the frame to come (the tail's records, costed as they came) at the end of the
        # write segment, without syncing it.
        _codec()
        while True:
            try:
                _writer().put(self)
                return
            except OSError as e:
                _writer().write_failed(self)
                # a file system full before the store is (smaller than capacity, or shared with
                # other files): under drop_oldest the oldest segment makes room and the frame
                # (kept in RAM) goes again, while there is an older segment than the one written
                if not fw.no_room(e) or not self._fcount or len(self._segs) < 2 or fw._refuses(self):
                    raise
                self._drop_oldest()

    def _close_write(self):
        # closes the write segment's file (which syncs it)
        if self._wf is not None:
            try:
                self._wf.close()
            except OSError:
                _writer().write_failed(self)
                raise
            self._wf = None
            if self._un_n:
                self._synced()
            else:
                self._unmark()

    def _let_go(self):
        # the write segment's handle closed and dropped, whatever closing it says
        f = self._wf
        self._wf = None
        if f is not None:
            self._unmark()  # (a failed file's data not synced is dropped, not synced at its close)
            try:
                f.close()
            except OSError:
                pass

    def _unmark(self):
        # its write file, the newest segment, holds nothing not synced (Store.owner)
        if self.owner is not None:
            self.owner[2] = False

    def _synced(self):
        self._unmark()
        self._segsize[-1] = self._wsize
        self._un_n = 0
        self._un_b = 0
        self.flushes += 1

    def flush(self):
        # Everything appended so far is durable when this returns.
        if self._fcount:
            self._put_frame()
        if self._wf is not None and self._un_n:
            try:
                self._wf.flush()
                if not IS_MICROPYTHON and hasattr(os, "fsync"):
                    os.fsync(self._wf.fileno())
            except OSError:
                _writer().write_failed(self)
                raise
            self._synced()
        if self.dropped_full != self._saved_drops or self._marks:
            _reader().write_books(self)

    # ---- read side
    def records(self, sid, after=None):
        # Pending records of sid, oldest first, as (pos, ts, value, flags). Flushes first, then
        # yields what the store held at the call; appends made while iterating show in the
        # next call. A record committed meanwhile is skipped.
        self._check_sid(sid)
        self.flush()
        if self._full:
            _reader().check_books(self)  # (ENOSPC while a commit cannot be written: segment._stuck)
        start = self._cursor[sid]
        if after is not None and after > start:
            start = after
        return _reader().store_records(self, sid, start, self._wseq, self._wsize)

    def scan(self, sid):
        # What records(sid) yields, as one record.Rec filled afresh at each step (valid until the
        # next): no tuple, timestamp or value made per record (the upload's passes).
        self._check_sid(sid)
        self.flush()
        r = _reader()
        if self._full:
            r.check_books(self)  # (ENOSPC while a commit cannot be written: segment._stuck)
        return r.store_scan(self, sid, self._cursor[sid], self._wseq, self._wsize, r.frame.Rec())

    def commit(self, sid, pos, count=None, meta=None):
        # Records of sid up to and including pos are done (segment.commit says how).
        _reader().commit(self, sid, pos, count, meta)

    def _reclaim(self):
        # Deletes fully committed segments, except the newest (it carries the sequence number).
        k = 0
        while k < len(self._segs) - 1:
            if self._segpend[k] <= 0 and not self._segscan[k]:
                _remove(self._seg_name(self._segs[k]))
                self._segs.pop(k)
                self._segpend.pop(k)
                self._segsize.pop(k)
                self._segscan.pop(k)
            else:
                k += 1

    def meta(self):
        # The dict saved by the last commit(..., meta) (a copy), {} when none.
        return dict(self._meta)

    # ---- figures
    def pending(self, sid=None):
        self._count()
        if sid is None:
            return sum(self._pending)
        self._check_sid(sid)
        return self._pending[sid]

    def _bytes(self):
        # the bytes the segments take; an older segment's size the listing did not give (no
        # littlefs) is asked once
        sz = self._segsize
        if not sz:
            return 0
        for k in range(len(sz) - 1):
            if sz[k] < 0:
                try:
                    sz[k] = os.stat(self._seg_name(self._segs[k]))[6]
                except OSError:
                    sz[k] = 0
        return sum(sz) - sz[-1] + self._wsize

    def usage(self):
        # (bytes the segments take, capacity): without counting the backlog
        return self._bytes(), self.capacity

    def stats(self):
        return _reader().stats(self)

    def close(self):
        if self._closed:
            return
        if self._fcount:
            self._put_frame()
        self._close_write()
        if self.dropped_full != self._saved_drops or self._marks:
            _reader().write_books(self)
        self._closed = True
        self._sbuf = None
        if frame is not None:
            frame.free(self)  # the frame's buffers, and the reader modules' code, go
            _codec(False)
