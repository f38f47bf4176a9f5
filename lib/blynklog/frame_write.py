# blynklog.frame_write: the writing side of the frame codec (frame.py: the format, its reading
# side). The store writes each record of a frame to come to its stream's section at add()
# (record.py's encoding read back, coded inline for the common record or by code(): the exact
# bits, so the frame's size is known before it is written), into a RAM tail of 16-byte chunks
# linked per section (Writer); at flush the frame is assembled from the sections' bytes (build).
# Imported at a store's first append (and by add() for delta): a sync that only reads and commits
# does not load it.
# Pure functions over caller buffers and per-stream state objects; one task at a time.
import math
import sys

from .compat import FLOAT_BITS, array, binascii, const, os, round_scaled, struct
from .frame import Rec, key, signed_salt

# frame.py's value types and bounds, as consts of this module (inlined in add()'s path)
_ENOSPC = const(28)  # errno: no space left on the file system
_T_FALSE = const(0)
_T_TRUE = const(1)
_T_INT = const(2)
_T_F32 = const(3)
_T_F64 = const(4)
_T_STR = const(5)
_T_SCALED = const(8)
_FRAME_MAX = const(1192)
_FIXED = const(10)
_SECTION_MAX = const(6)
_TAIL = const(3072)  # bytes of the frame's sections (the unflushed tail, in RAM), and of its records
# as format 2 encodes them at most
_CHUNKS = const(192)  # the tail's 16-byte chunks
_MAX_ORD = const(0xFFF0)  # records in a segment (their ordinals are the low 16 bits of a pos)
_HDR = const(24)  # a segment's header
_HDR_FMT = "<2sBBIQI"  # store.py's: magic, format, 0, seq, base ts, salt (then its CRC)
_MAGIC = b"BL"
_SEG_V3 = const(3)  # segments of frames, the ones written
_WHOLE = const(0x3FFFFFFF)  # a scan mark past any segment's end: count the whole file
_MAX_RECORD = const(1041)  # record.MAX_RECORD: a format 2 record's bytes at most
_VIEWS = const(40)  # encode_into's views of the record's buffer, one per length


def zbits(z):
    # the bits of the code of a zigzag int z >= 0 (put_z)
    if z == 0:
        return 1
    if z < 0x80:
        return 9
    if z < 0x200:
        return 12
    if z < 0x10000:
        return 20
    if z < 0x1000000:
        return 29
    if z < 0x100000000:
        return 38
    n = 33
    while z >> n:
        n += 1
    return 13 + n


class Writer:
    # The frame to come: its size at most (est), the bytes of its records as format 2 records
    # (tn), the bounds of both and of its records' count for the write segment as it is (lim, ocap:
    # set at each stream's first record in the frame), and its sections' bits in the store's tail.
    # The tail is cut into 16-byte chunks, given out in turn (used) to the sections as they grow
    # and linked per section (link[c]: the chunk after c; State.first: a section's first), so each
    # section's bits are written once, at add(), and the frame is built by copying whole bytes.
    # put() writes at most 16 bits at a time to the section of stream state v, most significant
    # first: p where its next byte goes (0: the section has no chunk yet; a multiple of 16: its
    # chunk is full), acc its nb bits (< 8) not written yet.
    def __init__(self, buf, link):
        self.buf = buf
        self.link = link
        self.used = 0
        self.est = _FIXED
        self.tn = 0
        self.lim = 0
        self.ocap = 0
        self.v = None
        self.p = 0
        self.acc = 0
        self.nb = 0
        self.fv = bytearray(8)  # add(): the last value's bytes of the stream being written

    def chunk(self, p, v):
        # the next chunk for the section of stream state v, whose next byte would go to p -> its start
        c = self.used
        if c >= _CHUNKS:
            raise RuntimeError("frame tail")  # never: _FRAME_MAX bounds the chunks a frame takes
        if p:
            self.link[(p - 1) >> 4] = c
        else:
            v.first = c
        self.used = c + 1
        return c << 4

    def put(self, v, k):
        acc = (self.acc << k) | v
        nb = self.nb + k
        if nb >= 8:
            buf = self.buf
            p = self.p
            while nb >= 8:
                nb -= 8
                if not p & 15:
                    p = self.chunk(p, self.v)
                buf[p] = (acc >> nb) & 0xFF
                p += 1
            self.p = p
            acc &= (1 << nb) - 1
        self.acc = acc
        self.nb = nb

    def copy(self, src, a, b):
        # src[a:b] as whole bytes (the section is at a byte boundary)
        p = self.p
        buf = self.buf
        while a < b:
            if not p & 15:
                p = self.chunk(p, self.v)
            k = 16 - (p & 15)
            if k > b - a:
                k = b - a
            buf[p : p + k] = src[a : a + k]
            p += k
            a += k
        self.p = p

    def put_z(self, z):
        # z >= 0: '0' | '10' 7 bits | '110' 9 bits | '1110' 16 bits | '11110' 24 bits |
        # '111110' 32 bits | '111111' 7-bit n and n bits
        if z == 0:
            self.put(0, 1)
        elif z < 0x80:
            self.put(0x100 | z, 9)
        elif z < 0x200:
            self.put(0xC00 | z, 12)
        elif z < 0x10000:
            self.put(0xE, 4)
            self.put(z, 16)
        elif z < 0x1000000:
            self.put(0x1E, 5)
            self.put(z >> 12, 12)
            self.put(z & 0xFFF, 12)
        elif z < 0x100000000:
            self.put(0x3E, 6)
            self.put(z >> 16, 16)
            self.put(z & 0xFFFF, 16)
        else:
            n = 33
            while z >> n:
                n += 1
            self.put(0x3F, 6)
            self.put(n, 7)
            while n > 0:
                k = 16 if n > 16 else n
                n -= k
                self.put((z >> n) & ((1 << k) - 1), k)


class State:
    # One stream's: its last record's H, ts delta, step and value (m; float bytes), its count and
    # bits in the frame so far, and where its section is written (Writer: its first chunk, the next
    # byte's place, the bits not written yet). The store keeps one per stream (a list).
    def __init__(self):
        self.h = 0
        self.d = 0
        self.step = 0
        self.m = 0
        self.fv = bytearray(8)
        self.n = 0
        self.bits = 0
        self.first = 0
        self.pos = 0
        self.acc = 0


def code(st, rec, out):
    # The bits of record rec (record.read of an encoded record) as the next one of the section of
    # stream state st. out None: only counted, st unchanged; else written to out (a Writer at the
    # end of the section) and st advanced.
    n = st.n
    h = rec.flags | (rec.typ << 2)
    typ = rec.typ
    if n == 0:
        bits = 6
        same = False
        if out is not None:
            out.put(h, 6)
    elif h == st.h:
        bits = 1
        same = True
        if out is not None:
            out.put(0, 1)
    else:
        bits = 7
        same = False
        if out is not None:
            out.put(0x40 | h, 7)
    d = rec.delta
    if n == 0:
        step = 0
        z = d
    else:
        step = d - st.d
        z = step - st.step
    z = z << 1 if z >= 0 else ((-z) << 1) - 1
    bits += zbits(z)
    if out is not None:
        st.h = h
        st.d = d
        st.step = step
        out.put_z(z)
    if typ == _T_INT or typ >= _T_SCALED:
        m = rec.m
        z = m - st.m if same else m
        z = z << 1 if z >= 0 else ((-z) << 1) - 1
        bits += zbits(z)
        if out is not None:
            st.m = m
            out.put_z(z)
    elif typ == _T_F32 or typ == _T_F64:
        # XOR with the last value's bytes (zeros after another type): '0' equal, else '1', 3 bits
        # of leading zero bytes, 3 bits of (bytes - 1), the bytes from the top one down
        w = 4 if typ == _T_F32 else 8
        fv = st.fv
        buf = rec.buf
        p = rec.p
        top = -1
        low = w
        for k in range(w):
            if buf[p + k] != (fv[k] if same else 0):
                if low == w:
                    low = k
                top = k
        if top < 0:
            bits += 1
            if out is not None:
                out.put(0, 1)
        else:
            bits += 7 + 8 * (top - low + 1)
            if out is not None:
                out.put(0x40 | ((w - 1 - top) << 3) | (top - low), 7)
                k = top
                while k >= low:
                    out.put(buf[p + k] ^ (fv[k] if same else 0), 8)
                    k -= 1
        if out is not None:
            for k in range(8):
                fv[k] = buf[p + k] if k < w else 0
    elif typ > _T_TRUE:
        # a string (11-bit length) or a location: padded to a byte, then its bytes as stored
        k = rec.last - rec.p
        if typ == _T_STR:
            bits += 11
            if out is not None:
                out.put(k, 11)
        pad = (-(st.bits + bits)) & 7
        bits += pad + 8 * k
        if out is not None:
            if pad:
                out.put(0, pad)
            out.copy(rec.buf, rec.p, rec.last)
    if out is not None:
        st.n = n + 1
        st.bits += bits
    return bits


def put_varint(buf, p, z):
    while z >= 0x80:
        buf[p] = (z & 0x7F) | 0x80
        z >>= 7
        p += 1
    buf[p] = z
    return p + 1


def vbytes(z):
    return 1 if z < 0x80 else (2 if z < 0x4000 else 3)


def build(fst, w, fb, first):
    # Builds the frame of the sections written in w's chunks (their sizes and counts in the streams'
    # states fst) in fb, its first record's ordinal `first`; returns start << 16 | end: the frame is
    # fb[start:end] and its CRC.
    ns = 0
    at = put_varint(fb, 2, first)  # L's 1 or 2 bytes go before it, at the end
    p = at + 1
    for sid in range(len(fst)):
        st = fst[sid]
        if st.n:
            fb[p] = sid
            p = put_varint(fb, p + 1, st.n)
            p = put_varint(fb, p, (st.bits + 7) >> 3)
            ns += 1
    fb[at] = ns
    tail = w.buf
    link = w.link
    for st in fst:
        if not st.n:
            continue
        bits = st.bits
        left = bits >> 3
        c = st.first
        while left > 0:
            # byte by byte: a slice per chunk would leave a small object on the heap for each,
            # between the caller's (a board-like port's heap, fragmented, then lacks a large block)
            k = 16 if left > 16 else left
            a = (c << 4) - p
            left -= k
            k += p
            while p < k:
                fb[p] = tail[a + p]
                p += 1
            c = link[c]
        if bits & 7:
            fb[p] = (st.acc << (8 - (bits & 7))) & 0xFF
            p += 1
    end = p
    body = end - 2
    if body < 0x80:
        fb[1] = body
        return 1 << 16 | end
    fb[0] = (body & 0x7F) | 0x80
    fb[1] = body >> 7
    return end


# ---- the Store's frame to come (store.py): its buffers, costing, writing


def alloc(store):
    # the buffers of a Store's writing, made at its first append: the record's encoding and its
    # views (encode_into), the tail, the frame's buffer and the streams' states (a store opened
    # to be read and committed, a sync's, makes none of them)
    store._enc = bytearray(_MAX_RECORD + 8)
    mv = memoryview(store._enc)
    store._views = [mv[:k] for k in range(_VIEWS)]
    tail = bytearray(_TAIL)
    store._arec = Rec()
    store._fbuf = bytearray(_FRAME_MAX)
    store._tail = tail  # last: a store with a tail has every buffer (store._alloc then only restates)
    restate(store)


def restate(store):
    # the frame's sections (Writer) and the streams' states, made afresh over the buffers: at the
    # first append, and after the store let this module go (store.let_writer_go: a Writer or a
    # State, of this module's classes, would hold its code in RAM). Between frames nothing in
    # them is needed again: a stream's first record in a frame is coded whole
    store._fwr = Writer(store._tail, bytearray(_CHUNKS))
    store._fst = [State() for _ in store._names]


def add_stream(store):
    store._fst.append(State())


# @micropython.native
def add(store, sid, n):
    # Native code on a board (the "# @micropython.native" line above: a decorator in deploy's
    # -march copy): two thirds of its bytecode's time on an RP2040, for 3.3 KB more of the heap
    # and some 5 ms more to import at a deep-sleep wake (frame.mpy's native code).
    # Adds the record store._enc[:n] (record.encode_into's) to the frame to come: its bits are
    # written to its stream's section (Writer) when it fits, and the frame's size at most with it
    # is returned; else nothing changes and -2 when the frame must go out first (_FRAME_MAX, the
    # tail, the ordinals), -1 when the segment must end first.
    # The common record (a number or bool of the stream's type and flags, its timestamp within
    # 63 ms of the steady interval, its value within 255 units of the last) is read, coded and
    # written here inline, with the types' numbers as literals (record.T_*: 0, 1 bool, 2 int,
    # 8..14 scaled): each name, call and step costs a board some us; the rest through record.read
    # and code().
    enc = store._enc
    st = store._fst[sid]
    b0 = st.bits  # 0: the stream's first record in the frame (a record takes 1 bit at least)
    k = 0  # the inline record's bits (x: their value), 0: code()'s record
    q = 1 + (enc[0] >> 7)  # H after L's 1 or 2 bytes
    h = enc[q]
    typ = h >> 2
    if b0 and h == st.h and (0x7F07 >> typ) & 1:  # types 0, 1, 2, 8..14
        # the ts delta's varint (record.py), up to 4 bytes unrolled: each byte added in place,
        # the continuation bits taken off at the end
        p = q + 3
        d = enc[p - 1]
        if d >= 0x80:
            b = enc[p]
            p += 1
            d += b << 7
            if b < 0x80:
                d -= 0x80
            else:
                b = enc[p]
                p += 1
                d += b << 14
                if b < 0x80:
                    d -= 0x4080
                else:
                    b = enc[p]
                    p += 1
                    d += (b << 21) - 0x204080
                    if b >= 0x80:
                        d = -1  # 5 bytes or more (days from the segment's base): code()
        if d >= 0:
            d = (d >> 1) ^ -(d & 1)
            step = d - st.d
            z = step - st.step
            if -64 <= z < 64:
                if z:
                    x = 0x100 | (z << 1 if z > 0 else ((-z) << 1) - 1)  # '0' (same H), '10', 7 bits
                    k = 10
                else:
                    x = 0
                    k = 2
                if typ > 1:
                    m = enc[p]
                    if m >= 0x80:
                        b = enc[p + 1]
                        m = (m & 0x7F) | ((b & 0x7F) << 7)
                        s = 14
                        while b >= 0x80:
                            p += 1
                            b = enc[p + 1]
                            m |= (b & 0x7F) << s
                            s += 7
                    m = (m >> 1) ^ -(m & 1)
                    z = m - st.m
                    if not z:
                        x <<= 1
                        k += 1
                    elif -64 <= z < 64:
                        x = (x << 9) | 0x100 | (z << 1 if z > 0 else ((-z) << 1) - 1)
                        k += 9
                    elif -256 <= z < 256:
                        x = (x << 12) | 0xC00 | (z << 1 if z > 0 else ((-z) << 1) - 1)
                        k += 12
                    else:
                        k = 0
    w = store._fwr
    tn = w.tn + n
    if k:
        # the stream has records in the frame: so has the frame, and lim and ocap are its bounds
        est = w.est + ((b0 + k + 7) >> 3) - ((b0 + 7) >> 3)
        if est > w.lim or tn > _TAIL or store._fcount >= w.ocap:
            return -2 if store._wsize + est <= store.segment_size else -1
        st.bits = b0 + k
        acc = (st.acc << k) | x
        k += b0 & 7
        if k >= 8:
            buf = w.buf
            p = st.pos
            while k >= 8:
                k -= 8
                if not p & 15:
                    p = w.chunk(p, st)
                buf[p] = (acc >> k) & 0xFF
                p += 1
            st.pos = p
            acc &= (1 << k) - 1
        st.acc = acc
        st.d = d
        st.step = step
        if typ > 1:
            st.m = m
        st.n += 1
    else:
        # written first (code() with w) and taken back when it does not fit: the stream's state
        # before it kept (its first record in the frame: nothing), the chunks given out since
        # put back. Counted first instead (code() without w) when the tail's free chunks might
        # not hold its bits (a record's code takes at most 16 bytes more than the record).
        rec = store._arec
        read(rec, enc, 0, n)
        n0 = st.n
        used = w.used
        if b0:
            p = st.pos
            w.p = p
            w.acc = st.acc
            w.nb = b0 & 7
            h = st.h
            d = st.d
            step = st.step
            m = st.m
            if rec.typ == 3 or rec.typ == 4:  # _T_F32, _T_F64: code() changes the last value's bytes
                w.fv[:] = st.fv
        else:
            p = w.p = w.acc = w.nb = 0
        w.v = st
        first = ((_CHUNKS - used) << 4) + ((-p) & 15) >= n + 16
        bits = code(st, rec, w if first else None)
        est = w.est + ((b0 + bits + 7) >> 3) - ((b0 + 7) >> 3)
        if not b0:
            est += _SECTION_MAX
        fc = store._fcount
        wsize = store._wsize
        lim = store.segment_size - wsize
        room = est <= lim
        if not (
            (room and est <= _FRAME_MAX and tn <= _TAIL and store._word + fc < _MAX_ORD)
            or (not fc and wsize <= _HDR)  # one record over a fresh segment's room: alone
        ):
            if first:
                st.n = n0
                st.bits = b0
                w.used = used
                if b0:
                    st.h = h
                    st.d = d
                    st.step = step
                    st.m = m
                    if rec.typ == 3 or rec.typ == 4:
                        st.fv[:] = w.fv
            return -2 if fc and room else -1
        w.lim = lim if lim < _FRAME_MAX else _FRAME_MAX
        w.ocap = _MAX_ORD - store._word
        if not first:
            code(st, rec, w)
        st.pos = w.p
        st.acc = w.acc
    w.est = est
    w.tn = tn
    store._fcount += 1
    return est


def put(store):
    # Writes the frame to come at the end of the write segment (not synced); its size is what add()
    # costed, exactly.
    fst = store._fst
    w = store._fwr
    fb = store._fbuf
    end = build(fst, w, fb, store._word)
    start = end >> 16
    end &= 0xFFFF
    mv = memoryview(fb)
    struct.pack_into("<I", fb, end, binascii.crc32(mv[start:end], wkey(store)) & 0xFFFFFFFF)
    end += 4
    if store._wf is None:
        store._wf = open(store._seg_name(store._wseq), "ab")
    if store.owner is not None:
        store.owner[2] = True  # (before the write: a failed one may have left a part)
    store._wf.write(mv[start:end])
    store._wsize += end - start
    store._word += store._fcount
    for st in fst:
        st.n = 0
        st.bits = 0
    w.used = 0
    w.est = _FIXED
    w.tn = 0
    store._fcount = 0


# ---- the store's segments: a new one to write, a failed write's books


def new_segment(store, ts):
    # Closes the full write segment and opens the next one (base_ts = ts), making room first.
    # False when the store is full and refuses (drop_newest). The frame to come is written
    # to the segment it was costed for first.
    if store._fcount:
        store._put_frame()
    # a fully committed write segment is free space: it is deleted once the next one exists
    if store._segs and store._segscan[-1]:
        store._count_seg(len(store._segs) - 1)
    while len(store._segs) - (1 if store._segs and store._segpend[-1] <= 0 else 0) >= store._max_segs:
        if _refuses(store):
            return False
        store._drop_oldest()
    # a file system smaller than capacity is full earlier: the same policy applies (a refusal
    # too when the write segment is the only one and holds pending samples, under drop_newest
    # or while a sync holds the store; drop_oldest keeps the newest segment, and an empty one
    # goes once the next one exists). The room is asked only where it decides (a statvfs walks
    # littlefs's blocks: 0.02 ms a sample on a Pico W)
    while len(store._segs) > 1 or (store._segs and store._segpend[-1] > 0 and _refuses(store)):
        if _room(store):
            break
        if len(store._segs) == 1 or _refuses(store):
            return False
        store._drop_oldest()
    # the write segment the only one and the file system short of room for the next (it holds
    # other files, or is smaller than capacity): the next one's header is synced at once, so
    # that a write into it that finds no room leaves it readable (write_failed keeps the frame)
    # and the store drops the oldest segment to make room (Store._put_frame); a header that
    # finds none itself has the oldest dropped first, unless the store refuses
    tight = len(store._segs) == 1 and not _room(store)
    store._close_write()
    seq = store._next_seq()
    h = store._hdr  # (the store's header buffer: reading a segment's header, as a drop does, fills it)
    salt = new_salt()
    name = store._seg_name(seq)
    while True:
        struct.pack_into(_HDR_FMT, h, 0, _MAGIC, _SEG_V3, 0, seq, ts, salt)
        struct.pack_into("<I", h, 20, binascii.crc32(memoryview(h)[:20]) & 0xFFFFFFFF)
        f = open(name, "wb")
        try:
            f.write(h)
            if tight:
                f.flush()
            break
        except OSError as e:
            try:
                f.close()
            except OSError:
                pass
            if not tight or not no_room(e) or not store._segs or (store._segpend[0] > 0 and _refuses(store)):
                raise
            os.remove(name)
            store._drop_oldest()
    store._wf = f
    if store.owner is not None:
        store.owner[2] = True  # the header, not synced
    if store._clean is not None:
        store._clean[store._slot(seq)] = -1  # a number seen before (a damaged newest segment went)
    store._segs.append(seq)
    store._segpend.append(0)
    store._segsize.append(_HDR)
    store._segscan.append(0)
    store._wseq = seq
    store._wbase = ts
    store._wsalt = salt
    store._wsize = _HDR
    store._wver = _SEG_V3
    store._word = 0
    store._reclaim()
    return True


def no_room(e):
    # an OSError that says the file system is full (ENOSPC: its first argument, as MicroPython's
    # and CPython's file errors give it)
    return bool(e.args) and e.args[0] == _ENOSPC


def _refuses(store):
    # a full store's answer: drop_newest refuses the sample, and so does a store a sync_async holds
    # (asked only when full: hold() ends a sync_async its ended loop left behind)
    return store.on_full == "drop_newest" or (store.hold is not None and store.hold())


def _room(store):
    # True when the file system has space for one more segment, with blocks to spare for
    # littlefs's copy-on-write of a last block and its metadata.
    try:
        st = os.statvfs(store.path)
    except (OSError, AttributeError):
        return True
    # more blocks available than the file system has: littlefs counted more in use than there
    # are (a file system past full), and MicroPython's statvfs turned the negative count into
    # 2**32 less it on a 64-bit port: no room (a 32-bit port's small int makes it negative)
    if st[4] > st[2]:
        return False
    return st[0] * st[4] >= store.segment_size + 3 * st[0]


def write_failed(store):
    # A write or sync of the write segment failed. What its handle held since the last sync is
    # on flash in part or not at all (littlefs drops a failed file's unsynced data and syncs
    # it no more: a later flush on that handle would "succeed" and lose what came after), so
    # the handle goes and the books are derived again from flash, as at opening: the write
    # segment counted to its real end (cut at a torn tail), the others counted again when
    # next needed, the frame to come (in RAM) counted as pending. It goes out at the next
    # write, at the segment's real end. If the segment itself is gone (its first sync failed)
    # or cannot be read now, that frame goes too (appended since the last flush that
    # returned: never acknowledged), every segment is counted again when next needed, and
    # the next append makes a new segment.
    store._let_go()
    k = len(store._segs) - 1
    if k < 0:
        return
    try:
        size = os.stat(store._seg_name(store._wseq))[6]
    except OSError:
        size = 0
    _uncount(store, k, store._fst)
    store._uncounted += 1  # the write segment too, counted just below
    store._segpend[k] = store._fcount
    store._segscan[k] = store._wsize = store._segsize[k] = size
    store._word = 0
    store._un_n = store._fcount
    store._un_b = 0
    counted = False
    try:
        counted = store._count_seg(k)
    finally:
        if not counted:
            _uncount(store, len(store._segs), None)  # counted again, all of it, when next needed
            _drop_frame(store)


def _uncount(store, k, fst):
    # segments below k count again when next needed (pending: the frame to come's, fst)
    pend = store._pending
    for sid in range(len(pend)):
        pend[sid] = fst[sid].n if fst is not None and sid < len(fst) else 0
    for i in range(k):
        store._segpend[i] = 0
        store._segscan[i] = _WHOLE
    store._uncounted = k


def _drop_frame(store):
    # the frame to come goes and the next append makes a new segment
    store._fst = None
    store._fcount = 0
    store._un_n = 0
    store._wver = 0


def wkey(store):
    # the CRC key of a record appended now: the salt taken signed (a small int on a 32-bit
    # port for a salt from record.new_salt), kept with the salt it came from
    salt = store._wsalt
    if salt is None:
        return 0
    if salt is not store._wsalt_of:
        store._wsk = signed_salt(salt)
        store._wsalt_of = salt
    return key(store._wsk, store._wsize)


# ---- the tail's records: format 2's record codec, its writing side (record.py exports these names
# too, and holds the reading side: check, decode). Here so that a wake that appends to a store of
# frames loads this module and not record.py; a string or a location is encoded by record.py's
# bytecode helper (_put_other), imported at the first one.
MAX_TS = 1 << 56  # Unix ms (~41 bits) and boot-relative codes (boot id << 40 | ms) both fit
_REL = const(0x20000000)  # encode_into's rel is within +-2**29
_TS_TOP = MAX_TS - _REL  # below it, ts + rel < MAX_TS
_INT_MIN = -(1 << 63)
_INT_MAX = (1 << 63) - 1
_scratch = bytearray(8)
_isfinite = math.isfinite
# small ints are at least 62-bit here (a 64-bit port, CPython): ts arithmetic allocates nothing
_WIDE = sys.maxsize > 1 << 40
_words = array("H", (0, 0, 0, 0, 0, 0, 0, 0))  # two int64s as 16-bit words (delta)
_dbase = None  # delta's last base (an int object) and its words 0..2 (_dw0.._dw2; word 3 is 0)
_dw0 = _dw1 = _dw2 = 0
_P5 = (1, 5, 25, 125, 625, 3125, 15625)  # 5**decimals: 10**d = 5**d * 2**d
_P10_BITS = (1, 4, 7, 10, 14, 17, 20)  # bits of 10**d, rounded up
_SPLIT = 26 if _WIDE else 12  # the mantissa's halves: each times 5**6 stays a small int


def new_salt():
    # A random 32-bit salt for a new segment or sector, its top two bits equal (31 random bits;
    # readers take any salt): signed_salt() of it is a small int on a 32-bit port.
    try:
        b = bytearray(os.urandom(4))
    except (AttributeError, NotImplementedError, OSError):
        import random

        b = bytearray(struct.pack("<I", random.getrandbits(32)))
    b[3] = (b[3] & 0x3F) | (0xC0 if b[3] & 0x80 else 0)
    return struct.unpack("<I", b)[0]


def delta(ts, base):
    # ts - base for two non-negative ints, without a heap int on a 32-bit port when both are below
    # 2**46 and the difference is within 2**29 ms (6 days): taken from their 16-bit words. The
    # last base's words are kept (a segment's base serves all its records).
    global _dbase, _dw0, _dw1, _dw2
    if _WIDE or ts is base:
        return ts - base
    w = _words
    if _dbase is not base:
        struct.pack_into("<q", w, 8, base)
        if w[7] or w[6] >= 0x4000:
            return ts - base
        _dbase = base
        _dw0 = w[4]
        _dw1 = w[5]
        _dw2 = w[6]
    struct.pack_into("<q", w, 0, ts)
    if w[3] or w[2] >= 0x4000:
        return ts - base
    h = ((w[2] - _dw2) << 16) + w[1] - _dw1
    if -0x2000 < h < 0x2000:
        return (h << 16) + w[0] - _dw0
    return ts - base


def _f32_exact(v):
    # True when the float survives float32 unchanged (checked on its IEEE double bits, no
    # allocation): zero, or a normal float32 exponent and the 29 low mantissa bits clear.
    s = _scratch
    struct.pack_into("<d", s, 0, v)
    if s[0] or s[1] or s[2] or s[3] or (s[4] & 0x1F):
        return False
    e = ((s[7] & 0x7F) << 4) | (s[6] >> 4)
    if e == 0:
        return not (s[6] & 0x0F or s[5] or s[4])
    return 897 <= e <= 1150


def _scaled_f32(v, d):
    # round_scaled(v, d) (v finite) from v's float32 bits, in small ints; None where the result
    # may not be one (|v| * 10**d from 2**29 on: round_scaled then). v = m * 2**(e - 150) exactly,
    # so v * 10**d = m * 5**d / 2**k, k = 150 - e - d, rounded half to even.
    s = _scratch
    struct.pack_into("<f", s, 0, v)
    e = ((s[3] & 0x7F) << 1) | (s[2] >> 7)
    if e == 0:
        return 0  # zero, or a subnormal: under 2**-126 * 10**6, it rounds to 0
    if e + _P10_BITS[d] > 155:
        return None
    k = 150 - e - d
    if k <= 0:
        return None
    m = ((s[2] & 0x7F) << 16) | (s[1] << 8) | s[0] | 0x800000
    if d > 2:
        q = _shift_split(m, k, d)  # m * 5**d would pass 2**30
    elif k > 30:
        return 0  # m * 5**d < 2**29 <= half of 2**k
    else:
        m *= _P5[d]
        q = m >> k
        r = m - (q << k)
        h = 1 << (k - 1)
        if r > h or (r == h and q & 1):
            q += 1
    return -q if s[3] & 0x80 else q


def _scaled_f64(v, d):
    # _scaled_f32 for doubles on a port with 62-bit small ints (CPython: any): v = m * 2**(e - 1075)
    s = _scratch
    struct.pack_into("<d", s, 0, v)
    e = ((s[7] & 0x7F) << 4) | (s[6] >> 4)
    if e == 0:
        return 0
    if e + _P10_BITS[d] > 1051:
        return None
    k = 1075 - e - d
    if k <= 0:
        return None
    m = (
        0x10000000000000
        | ((s[6] & 0x0F) << 48)
        | (s[5] << 40)
        | (s[4] << 32)
        | (s[3] << 24)
        | (s[2] << 16)
        | (s[1] << 8)
        | s[0]
    )
    q = _shift_split(m, k, d)
    return -q if s[7] & 0x80 else q


def _shift_split(m, k, d):
    # m * 5**d / 2**k rounded half to even (k > 0, the result under 2**29), the mantissa m taken in
    # two halves so that no product leaves the small ints
    f = _P5[d]
    hi = (m >> _SPLIT) * f
    lo = (m & ((1 << _SPLIT) - 1)) * f
    # m * 5**d = hi * 2**_SPLIT + lo; q = that >> k
    if k <= _SPLIT:
        q = (hi << (_SPLIT - k)) + (lo >> k)
        r = lo - ((lo >> k) << k)
        half = r >> (k - 1)
        rest = r - (half << (k - 1))
    else:
        j = k - _SPLIT
        c = hi + (lo >> _SPLIT)
        q = c >> j
        half = (c >> (j - 1)) & 1
        rest = c - (q << j) - (half << (j - 1)) + (lo & ((1 << _SPLIT) - 1))
    if half and (rest or q & 1):
        q += 1
    return q


_F32 = FLOAT_BITS == 24


if _F32:
    _scaled = _scaled_f32
elif _WIDE:
    _scaled = _scaled_f64
else:
    _scaled = None  # a 32-bit port with doubles: round_scaled


def _check_args(sid, ts, flags, decimals, rel):
    if type(ts) is not int or type(rel) is not int:
        raise TypeError("ts not int")
    if rel:
        if not -_REL < rel < _REL:
            raise ValueError("rel out of range")
        if (ts < _REL or ts >= _TS_TOP) and not 0 <= ts + rel < MAX_TS:
            raise ValueError("ts out of range")
    elif not 0 <= ts < MAX_TS:
        raise ValueError("ts out of range")
    if type(sid) is not int or not 0 <= sid <= 254:
        raise ValueError("bad stream id")
    if type(flags) is not int or not 0 <= flags <= 3:
        raise ValueError("bad flags")
    if decimals is not None and (type(decimals) is not int or not 0 <= decimals <= 6):
        raise ValueError("bad decimals")


# @micropython.native
def encode_into(
    buf, off, sid, ts, value, flags=0, decimals=None, base_ts=0, views=None, crckey=0, rel=0, checked=False
):
    # Writes one whole record at buf[off:] and returns its length. Raises TypeError for a value
    # or ts of the wrong type, ValueError for one out of range; writes nothing usable then.
    # views: optional list with views[k] == memoryview(buf)[:k], so that a record encoded at
    # off 0 gets its CRC without allocating a slice. crckey: the key of the place the record goes
    # (key()), 0 for format 1. rel: the record's time is ts + rel (a small int: a clock's stamp
    # as its anchor and the ms since, so that no heap int is made for it on a 32-bit port).
    # checked: the caller has checked sid, ts, rel, flags and decimals as below (Logger.add, via
    # the store's append): a board spends a few us a step. The value is checked here always.
    if not checked:
        _check_args(sid, ts, flags, decimals, rel)
    # value first into its slot after a 2-byte-L guess is avoided: the body is laid out at
    # off + 1, and moved one byte on in the rare case L needs two bytes (strings only).
    # The varints are written inline (zigzag, then 7 bits a byte): a call costs much on a board.
    t = type(value)
    buf[off + 2] = sid
    p = off + 3
    if ts is base_ts:
        z = rel
    elif _WIDE:
        z = ts - base_ts + rel
    elif _dbase is base_ts:
        # delta(), inline for the common case: base_ts's words kept, ts in its 2**32 ms
        w = _words
        struct.pack_into("<q", w, 0, ts)
        z = w[1] - _dw1
        if w[2] == _dw2 and not w[3] and -0x2000 < z < 0x2000:
            z = (z << 16) + w[0] - _dw0 + rel
        else:
            z = delta(ts, base_ts) + rel
    else:
        z = delta(ts, base_ts) + rel
    z = z << 1 if z >= 0 else ((-z) << 1) - 1
    if z < 0x4000:  # the varint: up to 4 bytes unrolled (the value's, below: 2), else a loop
        if z < 0x80:
            buf[p] = z
            p += 1
        else:
            buf[p] = (z & 0x7F) | 0x80
            buf[p + 1] = z >> 7
            p += 2
    elif z < 0x10000000:
        buf[p] = (z & 0x7F) | 0x80
        buf[p + 1] = ((z >> 7) & 0x7F) | 0x80
        if z < 0x200000:
            buf[p + 2] = z >> 14
            p += 3
        else:
            buf[p + 2] = ((z >> 14) & 0x7F) | 0x80
            buf[p + 3] = z >> 21
            p += 4
    else:
        while z >= 0x80:
            buf[p] = (z & 0x7F) | 0x80
            z >>= 7
            p += 1
        buf[p] = z
        p += 1
    z = None  # an int to write as a zigzag varint after the type's byte
    if t is int:
        if not _INT_MIN <= value <= _INT_MAX:
            raise ValueError("int out of range")
        typ = _T_INT
        z = value
    elif t is float:
        if not _isfinite(value):
            raise ValueError("value not finite")
        typ = -1
        if decimals is not None:
            if _F32 and decimals <= 2:
                # _scaled_f32, inline for the common decimals (a call costs much on a board)
                s = _scratch
                struct.pack_into("<f", s, 0, value)
                e = ((s[3] & 0x7F) << 1) | (s[2] >> 7)
                k = 150 - e - decimals
                if e == 0 or k > 30:
                    z = 0  # zero, a subnormal, or under half of 10**-decimals
                elif e + _P10_BITS[decimals] > 155 or k <= 0:
                    z = None  # may pass 2**29: round_scaled below
                else:
                    z = (((s[2] & 0x7F) << 16) | (s[1] << 8) | s[0] | 0x800000) * _P5[decimals]
                    e = z >> k
                    z -= e << k  # the bits shifted out
                    k = 1 << (k - 1)
                    if z > k or (z == k and e & 1):
                        e += 1
                    z = -e if s[3] & 0x80 else e
            else:
                z = _scaled(value, decimals) if _scaled is not None else None
            if z is None:
                z = value * 10**decimals
                if z - z == 0:  # still finite: a huge value scaled overflows to infinity
                    z = round_scaled(value, decimals)
                    if not _INT_MIN <= z <= _INT_MAX:
                        z = None
                else:
                    z = None
            if z is not None:
                typ = _T_SCALED + decimals
        if typ < 0:
            if _f32_exact(value):
                typ = _T_F32
                struct.pack_into("<f", buf, p, value)
                p += 4
            else:
                typ = _T_F64
                struct.pack_into("<d", buf, p, value)
                p += 8
    elif t is bool:
        typ = _T_TRUE if value else _T_FALSE
    else:
        from .record import _put_other

        p = _put_other(buf, p, t, value)  # a string or a location: the type in bits 16 on
        typ = p >> 16
        p &= 0xFFFF
    if z is not None:
        z = z << 1 if z >= 0 else ((-z) << 1) - 1
        if z < 0x4000:
            if z < 0x80:
                buf[p] = z
                p += 1
            else:
                buf[p] = (z & 0x7F) | 0x80
                buf[p + 1] = z >> 7
                p += 2
        else:
            while z >= 0x80:
                buf[p] = (z & 0x7F) | 0x80
                z >>= 7
                p += 1
            buf[p] = z
            p += 1
    buf[off + 1] = flags | (typ << 2)
    body = p - off - 1
    if body < 0x80:
        buf[off] = body
        end = p
    else:
        # two-byte L: shift the body one byte right (only strings get here)
        buf[off + 2 : p + 1] = buf[off + 1 : p]
        buf[off] = (body & 0x7F) | 0x80
        buf[off + 1] = body >> 7
        end = p + 1
    if views is not None and off == 0 and end < len(views):
        crc = binascii.crc32(views[end], crckey)
    else:
        crc = binascii.crc32(memoryview(buf)[off:end], crckey)
    struct.pack_into("<I", buf, end, crc)  # crc32 gives it unsigned (a heap int from 2**30 on a 32-bit port)
    return end + 4 - off


def read(rec, buf, off, n):
    # Fills rec from the record buf[off:off + n] that check() accepted (not its pos or base).
    q = off + (1 if buf[off] < 0x80 else 2)
    h = buf[q]
    rec.sid = buf[q + 1]
    rec.flags = h & 3
    typ = h >> 2
    rec.typ = typ
    p = q + 2
    b = buf[p]
    z = b & 0x7F
    s = 7
    while b & 0x80:
        p += 1
        b = buf[p]
        z |= (b & 0x7F) << s
        s += 7
    p += 1
    rec.delta = (z >> 1) ^ -(z & 1)
    if typ == _T_INT or typ >= _T_SCALED:
        b = buf[p]
        z = b & 0x7F
        s = 7
        while b & 0x80:
            p += 1
            b = buf[p]
            z |= (b & 0x7F) << s
            s += 7
        rec.m = (z >> 1) ^ -(z & 1)
    elif typ > _T_TRUE:
        rec.buf = buf
        rec.p = p
        rec.last = off + n - 4
