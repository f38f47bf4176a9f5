# blynklog.frame: the frame codec of segment format 3 (docs/FORMAT.md, "Format 3: frames").
# A frame packs the records a flush writes: per stream, its records' bits back to back (the
# first record's timestamp and value in full, then delta-of-delta timestamps, delta-coded ints and
# scaled ints, XOR-coded float bytes), one keyed CRC for the frame.
#   frame     = L (u16: bytes from `first` to the end of the sections) | first (u16: ordinal of the
#               frame's first record in its segment) | n (u8: sections) | n x (sid u8, count
#               varint, size varint: the section's bytes) | the sections | CRC-32 keyed (4)
#   section   = the stream's records, bit-packed (most significant bit first), padded to a byte
# The store keeps the records of a frame to come as format 2 records in RAM (record.py's encoding,
# its tail) and costs each one on arrival (code() with out None: the exact bits, so the frame's
# size is known before it is written); the frame is built from that tail at flush (code() with a
# Writer). A section is read by a Reader into a record.Rec, one record a step, nothing allocated for
# the numeric kinds (small ints: bit fields of at most 16 bits are read at a time).
# Pure functions over caller buffers and per-stream state objects; one task at a time.
from .compat import binascii, const
from .record import T_F32, T_F64, T_INT, T_LOC32, T_SCALED, T_STR, T_TRUE

FRAME_MAX = const(1192)  # bytes of a whole frame (the store's read buffer holds one and 8 more)
FIXED = const(9)  # L, first, n and the CRC
SECTION_MAX = const(6)  # a section's directory entry at most: sid, count (<= 3), size (<= 2)
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
    if z < 0x100000000:
        return 37
    n = 33
    while z >> n:
        n += 1
    return 12 + n


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
        # z >= 0: '0' | '10' 7 bits | '110' 9 bits | '1110' 16 bits | '11110' 32 bits |
        # '11111' 7-bit n and n bits
        if z == 0:
            self.put(0, 1)
        elif z < 0x80:
            self.put(0x100 | z, 9)
        elif z < 0x200:
            self.put(0xC00 | z, 12)
        elif z < 0x10000:
            self.put(0xE, 4)
            self.put(z, 16)
        elif z < 0x100000000:
            self.put(0x1E, 5)
            self.put(z >> 16, 16)
            self.put(z & 0xFFFF, 16)
        else:
            n = 33
            while z >> n:
                n += 1
            self.put(0x1F, 5)
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

    def get(self, k):
        # k <= 16 bits (the buffer holds 2 bytes past the frame)
        q = self.q
        i = q >> 3
        buf = self.buf
        w = (buf[i] << 16) | (buf[i + 1] << 8) | buf[i + 2]
        self.q = q + k
        return (w >> (24 - (q & 7) - k)) & ((1 << k) - 1)

    def get_z(self):
        get = self.get
        if not get(1):
            return 0
        if not get(1):
            return get(7)
        if not get(1):
            return get(9)
        if not get(1):
            return get(16)
        if not get(1):
            return (get(16) << 16) | get(16)
        n = get(7)
        z = 0
        while n > 0:
            k = 16 if n > 16 else n
            n -= k
            z = (z << k) | get(k)
        return z

    def next(self, rec):
        # Fills rec (sid, flags, typ, delta, m or buf/p/last) with the section's next record.
        get = self.get
        if self.first:
            h = get(6)
            same = False
        elif not get(1):
            h = self.h
            same = True
        else:
            h = get(6)
            same = False
        self.h = h
        typ = h >> 2
        rec.flags = h & 3
        rec.typ = typ
        z = self.get_z()
        z = (z >> 1) ^ -(z & 1)
        if self.first:
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
            z = self.get_z()
            z = (z >> 1) ^ -(z & 1)
            m = self.m + z if same else z
            self.m = m
            rec.m = m
        elif typ == T_F32 or typ == T_F64:
            fv = self.fv
            if not same:
                for k in range(8):
                    fv[k] = 0
            if get(1):
                c = get(6)
                k = (4 if typ == T_F32 else 8) - 1 - (c >> 3)
                low = k - (c & 7)
                while k >= low:
                    fv[k] ^= get(8)
                    k -= 1
            rec.buf = fv
            rec.p = 0
        elif typ > T_TRUE:
            if typ == T_STR:
                k = get(11)
            else:
                k = 8 if typ == T_LOC32 else 16
            q = (self.q + 7) & ~7
            p = q >> 3
            rec.buf = self.buf
            rec.p = p
            rec.last = p + k
            self.q = q + 8 * k


def check(buf, off, end, mv, key):
    # Length of the valid frame at buf[off:end] (CRC keyed for its place, a directory whose
    # sections fill the frame), or 0.
    if off + FIXED + 2 > end:
        return 0
    body = buf[off] | (buf[off + 1] << 8)
    n = body + 6
    if body < 5 or n > FRAME_MAX or off + n > end:
        return 0
    if binascii.crc32(mv[off : off + n], key) != _RESIDUE:
        return 0
    ns = buf[off + 4]
    p = off + 5
    last = off + 2 + body
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
