# blynklog.frame: the frame codec of segment format 3 (docs/FORMAT.md, "Format 3: frames").
# A frame packs the records a flush writes: per stream, its records' bits back to back (the
# first record's timestamp and value in full, then delta-of-delta timestamps, delta-coded ints and
# scaled ints, XOR-coded float bytes), one keyed CRC for the frame.
#   frame     = L (varint: bytes from `first` to the end of the sections) | first (varint:
#               ordinal of the frame's first record in its segment) | n (u8: sections) | n x (sid
#               u8, count varint, size varint: the section's bytes) | the sections | CRC-32 keyed
#   section   = the stream's records, bit-packed (most significant bit first), padded to a byte
# The store keeps the records of a frame to come as format 2 records in RAM (record.py's encoding,
# its tail) and costs each one on arrival (code() with out None: the exact bits, so the frame's
# size is known before it is written); the frame is built from that tail at flush (code() with a
# Writer). A section is read by a Reader into a record.Rec, one record a step, nothing allocated for
# the numeric kinds (small ints: bit fields of at most 16 bits are read at a time).
# Pure functions over caller buffers and per-stream state objects; one task at a time.
import math
import sys
from array import array

from .compat import FLOAT_BITS, binascii, const, os, round_scaled, scaled_float, struct

# value types (bits 2..5 of a record's H; record.py's, whose writing side is at the end of this file)
T_FALSE = const(0)
T_TRUE = const(1)
T_INT = const(2)
T_F32 = const(3)
T_F64 = const(4)
T_STR = const(5)
T_LOC32 = const(6)
T_LOC64 = const(7)
T_SCALED = const(8)  # 8..14: scaled int with decimals = type - 8

FRAME_MAX = const(1192)  # bytes of a whole frame (the store's read buffer holds one and 8 more)
FIXED = const(10)  # L, first, n and the CRC at most
SECTION_MAX = const(6)  # a section's directory entry at most: sid, count (<= 3), size (<= 2)
_TAIL = const(3072)  # bytes of records a frame is built from (the unflushed tail, in RAM)
_MAX_ORD = const(0xFFF0)  # records in a segment (their ordinals are the low 16 bits of a pos)
_HDR = const(24)  # a segment's header
_RESIDUE = const(0x2144DF1C)  # CRC-32 of any data followed by its own CRC (record.py)


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
    # Bits into buf from byte p on, most significant first; put() takes at most 16 bits at a time.
    def __init__(self, buf):
        self.buf = buf
        self.p = 0
        self.acc = 0
        self.nb = 0

    def put(self, v, k):
        acc = (self.acc << k) | v
        nb = self.nb + k
        buf = self.buf
        p = self.p
        while nb >= 8:
            nb -= 8
            buf[p] = (acc >> nb) & 0xFF
            p += 1
        self.acc = acc & ((1 << nb) - 1)
        self.nb = nb
        self.p = p

    def align(self):
        if self.nb:
            self.put(0, 8 - self.nb)

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
    # Per stream: the last record's H, ts delta, step and value (m; float bytes), and the frame's
    # count and bits so far. Lists sized by the number of streams (add() per stream).
    def __init__(self):
        self.h = []
        self.d = []
        self.step = []
        self.m = []
        self.fv = []
        self.n = []
        self.bits = []

    def add(self):
        self.h.append(0)
        self.d.append(0)
        self.step.append(0)
        self.m.append(0)
        self.fv.append(bytearray(8))
        self.n.append(0)
        self.bits.append(0)


def code(st, sid, rec, out):
    # The bits of record rec (record.read of a tail record) as the next one of stream sid's
    # section; written to out (a Writer) unless out is None. Updates st.
    n = st.n[sid]
    h = rec.flags | (rec.typ << 2)
    typ = rec.typ
    if n == 0:
        bits = 6
        same = False
        if out is not None:
            out.put(h, 6)
    elif h == st.h[sid]:
        bits = 1
        same = True
        if out is not None:
            out.put(0, 1)
    else:
        bits = 7
        same = False
        if out is not None:
            out.put(0x40 | h, 7)
    st.h[sid] = h
    d = rec.delta
    if n == 0:
        step = 0
        z = d
    else:
        step = d - st.d[sid]
        z = step - st.step[sid]
    st.d[sid] = d
    st.step[sid] = step
    z = z << 1 if z >= 0 else ((-z) << 1) - 1
    bits += zbits(z)
    if out is not None:
        out.put_z(z)
    if typ == T_INT or typ >= T_SCALED:
        m = rec.m
        z = m - st.m[sid] if same else m
        st.m[sid] = m
        z = z << 1 if z >= 0 else ((-z) << 1) - 1
        bits += zbits(z)
        if out is not None:
            out.put_z(z)
    elif typ == T_F32 or typ == T_F64:
        # XOR with the last value's bytes (zeros after another type): '0' equal, else '1', 3 bits
        # of leading zero bytes, 3 bits of (bytes - 1), the bytes from the top one down
        w = 4 if typ == T_F32 else 8
        fv = st.fv[sid]
        if not same:
            for k in range(8):
                fv[k] = 0
        buf = rec.buf
        p = rec.p
        top = -1
        low = w
        for k in range(w):
            if buf[p + k] != fv[k]:
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
                    out.put(buf[p + k] ^ fv[k], 8)
                    k -= 1
            for k in range(w):
                fv[k] = buf[p + k]
    elif typ > T_TRUE:
        # a string (11-bit length) or a location: padded to a byte, then its bytes as stored
        k = rec.last - rec.p
        if typ == T_STR:
            bits += 11
            if out is not None:
                out.put(k, 11)
        pad = (-(st.bits[sid] + bits)) & 7
        bits += pad + 8 * k
        if out is not None:
            if pad:
                out.put(0, pad)
            buf = rec.buf
            p = out.p
            out.buf[p : p + k] = buf[rec.p : rec.last]
            out.p = p + k
    st.n[sid] = n + 1
    st.bits[sid] += bits
    return bits


def check(buf, off, end, mv, key):
    # Length of the valid frame at buf[off:end] (CRC keyed for its place, a directory whose
    # sections fill the frame), or 0.
    if off + 9 > end:
        return 0
    body = buf[off]
    q = off + 1
    if body >= 0x80:
        b = buf[q]
        body = (body & 0x7F) | (b << 7)
        q += 1
        if b >= 0x80 or body < 0x80:
            return 0  # not canonical
    n = q - off + body + 4
    if body < 4 or n > FRAME_MAX or off + n > end:
        return 0
    if binascii.crc32(mv[off : off + n], key) != _RESIDUE:
        return 0
    last = q + body
    p, c = varint(buf, q, last)
    if c < 0 or p >= last:
        return 0
    ns = buf[p]
    p += 1
    total = 0
    prev = -1
    for _ in range(ns):
        if p >= last or buf[p] == 255 or buf[p] <= prev:
            return 0
        prev = buf[p]
        p, c = varint(buf, p + 1, last)
        if c <= 0:
            return 0
        p, s = varint(buf, p, last)
        if s < 0:
            return 0
        total += s
    if ns == 0 or p + total != last:
        return 0
    return n


def head(buf, i):
    # (ordinal of the first record, sections, offset of the directory) of the frame at buf[i:]
    q = i + 1 if buf[i] < 0x80 else i + 2
    q, first = varint(buf, q, q + 3)
    return first, buf[q], q + 1


def varint(buf, p, end):
    # (next p, value) of the unsigned LEB128 at buf[p:end] (at most 3 bytes), value -1 when bad
    z = 0
    s = 0
    while p < end and s < 21:
        b = buf[p]
        z |= (b & 0x7F) << s
        p += 1
        if not b & 0x80:
            return p, z
        s += 7
    return p, -1


def put_varint(buf, p, z):
    while z >= 0x80:
        buf[p] = (z & 0x7F) | 0x80
        z >>= 7
        p += 1
    buf[p] = z
    return p + 1


def vbytes(z):
    return 1 if z < 0x80 else (2 if z < 0x4000 else 3)


def build(st, bst, tail, tn, w, rec, first):
    # Builds the frame of the tail's records (tail[:tn], format 2 records costed in st) in w.buf,
    # its first record's ordinal `first`; returns start << 16 | end: the frame is fb[start:end]
    # and its CRC (bst: build state).
    fb = w.buf
    ns = 0
    at = put_varint(fb, 2, first)  # L's 1 or 2 bytes go before it, at the end
    p = at + 1
    for sid in range(len(st.n)):
        if st.n[sid]:
            fb[p] = sid
            p = put_varint(fb, p + 1, st.n[sid])
            p = put_varint(fb, p, (st.bits[sid] + 7) >> 3)
            ns += 1
    fb[at] = ns
    w.p = p
    w.acc = 0
    w.nb = 0
    for sid in range(len(st.n)):
        if not st.n[sid]:
            continue
        bst.n[sid] = 0
        bst.bits[sid] = 0
        start = w.p
        i = 0
        while i < tn:
            b = tail[i]
            q = i + 1 if b < 0x80 else i + 2
            n = q - i + (b if b < 0x80 else (b & 0x7F) | (tail[i + 1] << 7)) + 4
            if tail[q + 1] == sid:
                read(rec, tail, i, n)
                code(bst, sid, rec, w)
            i += n
        w.align()
        if w.p - start != (st.bits[sid] + 7) >> 3 or bst.n[sid] != st.n[sid]:
            raise RuntimeError("frame section size")
    end = w.p
    body = end - 2
    if body < 0x80:
        fb[1] = body
        return 1 << 16 | end
    fb[0] = (body & 0x7F) | 0x80
    fb[1] = body >> 7
    return end


# ---- the Store's frame to come (store.py): its buffers, costing, writing; and the end of a segment


def alloc(store):
    # the tail and the frame's buffer and states of a Store, made at its first append
    store._tail = bytearray(_TAIL)
    store._tmv = memoryview(store._tail)
    store._tn = 0  # bytes of the tail
    store._fbytes = FIXED  # the frame's size at most
    store._arec = Rec()
    store._brec = Rec()
    store._fbuf = bytearray(FRAME_MAX)
    store._fwr = Writer(store._fbuf)
    store._fst = State()
    store._bst = State()
    for _ in store._names:
        store._fst.add()
        store._bst.add()


def free(store):
    # a closed store's frame buffers go, and the readers' code (segment.py, legacy.py) leaves
    # sys.modules and the package: RAM at the next collection, as the Logger lets its one-off
    # modules go (a store still open imports them again at its next use). This module stays: the
    # package's add() holds its delta (a copy dropped here would stay in RAM through it, and the
    # next store would load a second one)
    import sys

    store._tail = store._tmv = store._fbuf = store._fwr = store._fst = store._bst = None
    pkg = sys.modules.get("blynklog")
    for name in ("segment", "legacy"):
        sys.modules.pop("blynklog." + name, None)
        if pkg is not None and name in pkg.__dict__:
            delattr(pkg, name)


def add_stream(store):
    store._fst.add()
    store._bst.add()


def add(store, sid, n):
    # Adds the record store._enc[:n] to the frame to come, costed (its exact bits): the frame's
    # size at most with it, when it fits; else nothing changes and -2 when the frame must go out
    # first (FRAME_MAX, the tail, the ordinals), -1 when the segment must end first.
    rec = store._arec
    st = store._fst
    read(rec, store._enc, 0, n)
    n0 = st.n[sid]
    b0 = st.bits[sid]
    bits = code(st, sid, rec, None)
    est = store._fbytes + ((b0 + bits + 7) >> 3) - ((b0 + 7) >> 3)
    if not n0:
        est += SECTION_MAX
    room = store._wsize + est <= store.segment_size
    tn = store._tn
    if (room and est <= FRAME_MAX and tn + n <= _TAIL and store._word + store._fcount < _MAX_ORD) or (
        not store._fcount and store._wsize <= _HDR  # one record over a fresh segment's room: alone
    ):
        if n < len(store._views):
            store._tmv[tn : tn + n] = store._views[n]
        else:
            store._tmv[tn : tn + n] = memoryview(store._enc)[:n]
        store._tn = tn + n
        store._fbytes = est
        store._fcount += 1
        return est
    st.n[sid] = n0
    st.bits[sid] = b0
    return -2 if store._fcount and room else -1


def put(store):
    # Writes the frame to come at the end of the write segment (not synced); its size is what fit()
    # costed, exactly.
    st = store._fst
    end = build(st, store._bst, store._tail, store._tn, store._fwr, store._brec, store._word)
    start = end >> 16
    end &= 0xFFFF
    fb = store._fbuf
    mv = memoryview(fb)
    struct.pack_into("<I", fb, end, binascii.crc32(mv[start:end], store._wkey()) & 0xFFFFFFFF)
    end += 4
    if store._wf is None:
        store._wf = open(store._seg_name(store._wseq), "ab")
    store._wf.write(mv[start:end])
    store._wsize += end - start
    store._word += store._fcount
    for sid in range(len(st.n)):
        st.n[sid] = 0
        st.bits[sid] = 0
    store._fcount = 0
    store._fbytes = FIXED
    store._tn = 0


def clean_end(store, buf, n, size, salt):
    # Store._clean_end of a segment of frames: True when a valid frame ends exactly at size (buf[:n]:
    # the segment's last n bytes); then store._word is the ordinal after its records
    for k in range(9, n + 1):  # a frame's length: L (1 or 2) + body + CRC
        j = n - k
        b = buf[j]
        if b + 5 == k or (b >= 0x80 and j + 1 < n and ((b & 0x7F) | (buf[j + 1] << 7)) + 6 == k):
            if check(buf, j, n, store._rmv, key(signed_salt(salt), size - k)) == k:
                o, ns, p = head(buf, j)
                for _ in range(ns):
                    p, c = varint(buf, p + 1, p + 4)
                    p = varint(buf, p, p + 3)[0]
                    o += c
                store._word = o
                return True
    return False


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


def key(salt, off):
    # The CRC key (format 2) of the record at offset off of a segment or sector with this salt:
    # distinct for every offset (off < 65536) of one segment.
    return salt ^ (off & 0xFFFF)


def signed_salt(salt):
    # The salt as a signed 32-bit int: binascii.crc32 takes a key's low 32 bits, so key(signed
    # salt, off) keys the same CRC; a small int on a 32-bit port for a salt from new_salt() (its
    # top two bits equal), so the key of each record appended costs no heap int.
    return salt - (1 << 32) if salt >= 1 << 31 else salt


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
        typ = T_INT
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
                typ = T_SCALED + decimals
        if typ < 0:
            if _f32_exact(value):
                typ = T_F32
                struct.pack_into("<f", buf, p, value)
                p += 4
            else:
                typ = T_F64
                struct.pack_into("<d", buf, p, value)
                p += 8
    elif t is bool:
        typ = T_TRUE if value else T_FALSE
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


class Rec:
    # One record read in place by Store.scan(): valid until the scan's next step. Its ts is
    # base + delta (base: its segment's, one int per segment; delta: a small int within 12 days of
    # it), its value as stored: typ, m (the varint of T_INT and T_SCALED + d), or buf[p:last] (the
    # bytes of the other kinds); value() makes the Python value. typ -1: a record of another store
    # (policy's adapter), its value in obj. Filled by read(); nothing boxed for the common kinds.
    def __init__(self):
        self.pos = 0
        self.sid = 0
        self.flags = 0
        self.typ = -1
        self.base = 0
        self.delta = 0
        self.m = 0
        self.buf = None
        self.p = 0
        self.last = 0
        self.obj = None

    def ts(self):
        return self.base + self.delta

    def value(self):
        typ = self.typ
        if typ < 0:
            return self.obj
        if typ == T_FALSE:
            return False
        if typ == T_TRUE:
            return True
        if typ == T_INT:
            return self.m
        if typ >= T_SCALED:
            return scaled_float(self.m, typ - T_SCALED)
        buf = self.buf
        p = self.p
        if typ == T_F32:
            return struct.unpack_from("<f", buf, p)[0]
        if typ == T_F64:
            return struct.unpack_from("<d", buf, p)[0]
        if typ == T_STR:
            return str(bytes(buf[p : self.last]), "utf-8")
        return struct.unpack_from("<ff" if typ == T_LOC32 else "<dd", buf, p)


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
    if typ == T_INT or typ >= T_SCALED:
        b = buf[p]
        z = b & 0x7F
        s = 7
        while b & 0x80:
            p += 1
            b = buf[p]
            z |= (b & 0x7F) << s
            s += 7
        rec.m = (z >> 1) ^ -(z & 1)
    elif typ > T_TRUE:
        rec.buf = buf
        rec.p = p
        rec.last = off + n - 4
