# blynklog.frame: the frame codec of segment format 3 (docs/FORMAT.md, "Format 3: frames"), its
# reading side and the value types; the writing side (the frame to come, the tail records'
# encoding) is frame_write.py, loaded at a store's first append, so that a sync that only reads
# and commits holds none of its code.
# A frame packs the records a flush writes: per stream, its records' bits back to back (the
# first record's timestamp and value in full, then delta-of-delta timestamps, delta-coded ints and
# scaled ints, XOR-coded float bytes), one keyed CRC for the frame.
#   frame     = L (varint: bytes from `first` to the end of the sections) | first (varint:
#               ordinal of the frame's first record in its segment) | n (u8: sections) | n x (sid
#               u8, count varint, size varint: the section's bytes) | the sections | CRC-32 keyed
#   section   = the stream's records, bit-packed (most significant bit first), padded to a byte
# Here: a frame checked (check) and its directory read (head, varint), a segment's clean end
# (clean_end: opening a store), the CRC keys, and record.Rec, which a section's reader
# (segment.py) fills one record a step, nothing allocated for the numeric kinds.
# Pure functions over caller buffers; one task at a time.
from .compat import binascii, const, scaled_float, struct

# value types (bits 2..5 of a record's H; record.py's; frame_write.py has them as its own consts)
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
_RESIDUE = const(0x2144DF1C)  # CRC-32 of any data followed by its own CRC (record.py)


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


def free(store):
    # a closed store's frame buffers go, and the readers' code (segment.py, legacy.py) leaves
    # sys.modules and the package: RAM at the next collection, as the Logger lets its one-off
    # modules go (a store still open imports them again at its next use). frame_write.py stays
    # here: Store.let_writer_go lets it go, between frames, with record.py, which binds its
    # functions
    import sys

    store._tail = store._fbuf = store._fwr = store._fst = store._enc = store._views = None
    pkg = sys.modules.get("blynklog")
    for name in ("segment", "legacy"):
        sys.modules.pop("blynklog." + name, None)
        if pkg is not None and name in pkg.__dict__:
            delattr(pkg, name)


def clean_end(store, buf, n, size, salt):
    # store_open._clean_end of a segment of frames: True when a valid frame ends exactly at size (buf[:n]:
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


def key(salt, off):
    # The CRC key (format 2) of the record at offset off of a segment or sector with this salt:
    # distinct for every offset (off < 65536) of one segment.
    return salt ^ (off & 0xFFFF)


def signed_salt(salt):
    # The salt as a signed 32-bit int: binascii.crc32 takes a key's low 32 bits, so key(signed
    # salt, off) keys the same CRC; a small int on a 32-bit port for a salt from new_salt() (its
    # top two bits equal), so the key of each record appended costs no heap int.
    return salt - (1 << 32) if salt >= 1 << 31 else salt


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
