# blynklog.journal: the wake journal's format and its reading side. A Logger built from a cached
# configuration (a deep-sleep wake after the first) writes the numbers it is given to
# <store.path>/journal (blynklog._Journal: beside state.json, not among the segments, whose
# folder's every new entry costs a full store's wake a commit in a large directory) instead of
# loading the store; the store takes them in when it next opens (take_in, from Store.__init__
# given the folder), before anything else is appended.
#   journal        records of 28 bytes: stream id (B), flags (B), decimals (b, -128: None),
#                  kind (B: 0 float, 1 int), ts (q), rel (i), value (d, or q for an int), then
#                  the CRC-32 of those 24 bytes (<I). Appended a flush at a time; a record whose
#                  CRC fails, or a part record at the end, is skipped.
#   journal.in     the journal being taken in: renamed so (atomic) first, so that a wake may begin
#                  a new journal at any time (the wakes look at `journal` only)
#   journal.seal   "BJ", the position (<Q) from which the store's records are journal.in's,
#                  CRC-32 of both (<I): written before the first record is taken in.
# Exactly once across power cuts: the seal is durable before any record taken in is, and
# journal.in goes only after the store's flush, its seal after it. Finding journal.in with a seal,
# the store counts its records from that position (journal.in's first ones, in order, as it took
# them) and takes in the rest; without a seal (never written whole) nothing was taken in yet.
# RAM: a read buffer of 16 records (448 bytes). Imported only by a store finding a journal.
from .compat import binascii, const, os, struct

_REC = const(28)
_READ = const(16)  # records read at a time
_SEG_SHIFT = const(16)  # store.py's: a position is its segment's seq << 16 | the record's ordinal


def take_in(store, folder):
    # The journals' records into the store just opened (journal.in's, then journal's), then they
    # go. Samples a flush acknowledged are stored whatever on_full says now (a configuration
    # changed to drop_newest since): they displace the oldest ones, as when they were added.
    keep = store.on_full
    store.on_full = "drop_oldest"
    try:
        for _ in range(3):  # journal.in (a power cut's), then journal (renamed first)
            if not _take_one(store, folder + "/journal"):
                return
    finally:
        store.on_full = keep


def _take_one(store, path):
    # journal.in taken in, or journal renamed to it: True; False when there is neither
    seal = path + ".seal"
    start = _sealed(seal)
    try:
        f = open(path + ".in", "rb")
    except OSError as e:
        if not _absent(e):
            raise  # there but unreadable now (a flash fault): the opening fails, nothing lost
        if start is not None:
            os.remove(seal)  # taken in whole: journal.in went, its seal not yet
        try:
            os.rename(path, path + ".in")
        except OSError as e:
            if _absent(e):
                return False  # no journal
            raise  # there, and not renamed: a flash fault
        return True
    try:
        if start is None:
            start = _end(store)
            _write_seal(seal, start)
            done = 0
        else:
            done = _count_from(store, start)
        buf = bytearray(_READ * _REC)
        i = 0
        while True:
            got = f.readinto(buf)
            if not got:
                break
            i = take(store, buf, got // _REC, i, done)
            if got % _REC:
                break  # a part record: the end of what reached the file
    finally:
        f.close()
    store.flush()
    os.remove(path + ".in")
    os.remove(seal)
    return True


def _absent(e):
    # an OSError that says the file is not there (ENOENT), not that it could not be read
    return bool(e.args) and e.args[0] == 2


def take(store, buf, n, i, done):
    # Appends buf's first n records to the store, skipping the first `done` sound ones counted
    # from i (the records taken in before a power cut); -> i plus the sound records seen.
    mv = memoryview(buf)
    names = len(store._names)
    for k in range(0, n * _REC, _REC):
        if binascii.crc32(mv[k : k + 24]) & 0xFFFFFFFF != struct.unpack_from("<I", buf, k + 24)[0]:
            continue
        sid, flags, dec, kind = struct.unpack_from("<BBbB", buf, k)
        if sid >= names or kind > 1:
            continue
        if i >= done:
            ts, rel, value = struct.unpack_from("<qiq" if kind else "<qid", buf, k + 4)
            store.append(sid, ts, value, flags, None if dec == -128 else dec, rel, True)
        i += 1
    return i


def _end(store):
    # the position of the next record the store appends, or one below it: the records from it
    # on are the journal's
    if store._segs and store._wver == 3:
        return (store._wseq << _SEG_SHIFT) | store._word
    return store._next_seq() << _SEG_SHIFT


def _count_from(store, start):
    # the store's records at positions from start (none of them is committed yet)
    n = 0
    for sid in range(len(store._names)):
        for _ in store.records(sid, start - 1):
            n += 1
    return n


def _sealed(seal):
    # the seal's position, or None (no seal, or one that was never written whole: nothing was
    # taken in then)
    try:
        with open(seal, "rb") as f:
            data = f.read()
    except OSError as e:
        if _absent(e):
            return None
        raise  # there but unreadable now: taking everything in again would store it twice
    if len(data) != 14 or data[:2] != b"BJ":
        return None
    if binascii.crc32(data[:10]) & 0xFFFFFFFF != struct.unpack_from("<I", data, 10)[0]:
        return None
    return struct.unpack_from("<Q", data, 2)[0]


def _write_seal(seal, start):
    data = bytearray(14)
    data[0:2] = b"BJ"
    struct.pack_into("<Q", data, 2, start)
    struct.pack_into("<I", data, 10, binascii.crc32(memoryview(data)[:10]) & 0xFFFFFFFF)
    with open(seal, "wb") as f:
        f.write(data)
        if hasattr(os, "fsync"):  # CPython: durable before the store's records are
            f.flush()
            os.fsync(f.fileno())
