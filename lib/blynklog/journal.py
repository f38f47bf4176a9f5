# blynklog.journal: the wake journal's format, its writing side (Journal) and its reading side
# (take_in). A Logger built from a cached configuration (a deep-sleep wake after the first)
# writes the numbers it is given to <store.path>/journal (Journal, below: beside state.json, not among the segments, whose
# folder's every new entry costs a full store's wake a commit in a large directory) instead of
# loading the store; the store takes them in when it next opens (take_in, from store_open.run
# given the folder), before anything else is appended.
#   journal        records of 28 bytes: stream id (B), flags (B), decimals (b, -128: None),
#                  kind (B: 0 float, 1 int, 2 bool), ts (q), rel (i), value (d, or q for an int
#                  and a bool's 0/1), then
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
# RAM: a wake's Journal holds 8 records (224 bytes) and their views; taking in reads into a buffer
# of 16 records (448 bytes). Imported by a Logger built from a cached configuration, and by a
# store finding a journal; a Logger that validates does not load it.
from .compat import IS_MICROPYTHON, binascii, const, dir_entries, os, struct

_REC = const(28)
_READ = const(16)  # records read at a time
_JBUF = const(8)  # records a wake keeps in RAM until its flush: one more opens the store
_JMAX = const(2048)  # the journal's bytes at most: past them the store opens and takes it in
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


def _file_size(path):
    try:
        return os.stat(path)[6]
    except OSError:
        return 0


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
        if sid >= names or kind > 2:
            continue
        if i >= done:
            ts, rel, value = struct.unpack_from("<qiq" if kind else "<qid", buf, k + 4)
            if kind == 2:
                value = value == 1
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


# ---- the writing side: a wake's stand-in for the store
_JOURNAL = "/journal"


def wake_journal(log, scfg):
    # The journal standing in for the store at this wake, or None when the store must open: the
    # store's folder has no streams file naming every configured stream, or the journal is full
    # or ends in a part record.
    data = scfg["path"] + "/data"
    try:
        # bytes, as the store reads them: text mode on CPython turns a "\r" in a name into a line
        with open(data + "/streams", "rb") as f:
            names = f.read().decode()
    except (OSError, UnicodeError):
        return None
    if not names.endswith("\n"):
        return None
    names = names.split("\n")[:-1]  # as the store reads them: a stream's id is its line
    for name in log._cfg["streams"]:
        if name not in names:
            return None
    try:
        size = os.stat(scfg["path"] + _JOURNAL)[6]
    except OSError:
        size = 0
    if size % _REC or size + _JBUF * _REC > _JMAX:
        return None
    return Journal(log, scfg["path"] + _JOURNAL, names, size)


class Journal:
    # The store's stand-in at a wake that only adds numbers: a Logger built from a cached
    # configuration (a deep-sleep wake after the first) does not import the store, frame.py or
    # the codecs. append() packs the sample as the store would be given it into a RAM buffer;
    # flush() appends the buffer to <store>/journal and closes the file (durable then, as a
    # store flush is); fill() reads the folder (usage). Anything else (a string or a location,
    # stats(), a sync, a full journal, a ninth number before a flush, a failed write) opens the
    # store (Logger._opened), which takes the journal in
    # first (journal.take_in: exactly once across power cuts); attributes it lacks are the store's.
    def __init__(self, log, path, names, size):
        self._log = log
        self._path = path
        self._names = names
        self._size = size  # the file's bytes
        self._buf = bytearray(_JBUF * _REC)
        mv = memoryview(self._buf)
        self._recs = [mv[k : k + 24] for k in range(0, _JBUF * _REC, _REC)]  # each record's CRC'd bytes
        self._n = 0  # records in the buffer
        self._fsync = not IS_MICROPYTHON  # CPython: a flush is durable once fsynced, as the store's

    def __getattr__(self, name):
        return getattr(self._log._opened(), name)

    def stream_id(self, name):
        return self._names.index(name)

    def stream_ids(self, names):
        return [self._names.index(name) for name in names]

    def append(self, sid, ts, value, flags=0, decimals=None, rel=0, checked=False):
        # the store's append() (Logger.add checked the arguments); True: stored
        t = type(value)
        if t is bool:
            kind = 2
            value = 1 if value else 0
        else:
            kind = 0 if t is float else 1
        if (t is not float and t is not int and kind != 2) or self._size > _JMAX or self._n == _JBUF:
            # a wake that adds more numbers than the buffer holds before a flush opens the store:
            # a journal append mid-wake costs a flash block write (an erase on a board) each, the
            # store writes them as one frame at the flush
            return self._log._opened().append(sid, ts, value, flags, decimals, rel, checked)
        buf = self._buf
        n = self._n
        off = n * _REC
        struct.pack_into(
            "<BBbBqiq" if kind else "<BBbBqid",
            buf,
            off,
            sid,
            flags,
            -128 if decimals is None else decimals,
            kind,
            ts,
            rel,
            value,
        )
        struct.pack_into("<I", buf, off + 24, binascii.crc32(self._recs[n]))  # unsigned on every runtime
        self._n = n + 1
        return True

    def _write(self):
        # The buffer's records to the end of the file (wake_journal left room for a full buffer).
        # A failed write leaves the records in the buffer and the store to open next: what
        # reached the file is taken in whole records.
        n = self._n * _REC
        try:
            with open(self._path, "ab") as f:
                f.write(memoryview(self._buf)[:n])
                if self._fsync:
                    f.flush()
                    os.fsync(f.fileno())
        except Exception:
            # the whole records that reached the file anyway (a write cut short on a full host
            # disk, an fsync that failed after it) are the store's when it takes the file in:
            # the buffer keeps the rest alone, or replay() stored them a second time
            try:
                k = (os.stat(self._path)[6] - self._size) // _REC
            except OSError:
                k = 0
            if 0 < k <= self._n:
                buf = self._buf
                buf[: n - k * _REC] = buf[k * _REC : n]
                self._n -= k
            self._size = _JMAX + 1  # the store opens next (and takes in what reached the file)
            raise
        self._size += n
        self._n = 0

    def usage(self):
        # fill()'s (bytes, capacity) without opening the store: the segments' bytes as the data
        # folder's listing gives them, and the journal's as they stand (its file, a power cut's
        # journal.in, this wake's buffered records). A record takes 28 bytes here and fewer once
        # the store has taken it in: the figure is at most 2 KB above the store's own.
        if self._size > _JMAX:
            return self._log._opened().usage()
        folder = self._path[: -len(_JOURNAL)]
        used = self._size + self._n * _REC + _file_size(self._path + ".in")
        for name, size in dir_entries(folder + "/data"):
            if name.endswith(".seg") and len(name) == 12:
                used += size if size >= 0 else _file_size(folder + "/data/" + name)
        return used, self._log._cfg["store"]["capacity"]

    def flush(self):
        if self._size > _JMAX:
            self._log._opened().flush()
        elif self._n:
            self._write()

    def wait_ms(self):
        # upload_wait_ms() from the quota's books in the store's cursors file and the back-off in
        # state.json: no store opened, no upload side loaded; the Uploader's books answer the same
        # through quota.py (logger_sync.upload_wait_ms).
        from . import _drop, _loaded
        from .quota import books, full_of, left, retry_wait_ms, target, wait_ms

        log = self._log
        clock = log.clock
        now = clock.now_ms() if clock.is_set() else None
        wait = retry_wait_ms(log._state, log._cfg["server"], log._cfg["upload"]["retry_max_s"], now)
        if wait or now is None:
            return wait
        had = _loaded("store_open")
        from .store_open import cursors_meta

        try:
            meta = cursors_meta(self._path[: -len(_JOURNAL)] + "/data")
        finally:
            _drop("store_open", had)
        per_day = log._cfg["limits"]["points_per_day"]
        qday, qsent, qprev = books(meta)
        full = full_of(log._state, target(log._cfg))
        return wait_ms(0, left(per_day, qday, qsent, qprev, full, now), now, full)

    def clean(self):
        # nothing waits in RAM for the store: every record is in the file (or there are none)
        return not self._n and self._size <= _JMAX

    def close(self):
        # after flush(): what a failed write left in RAM goes to the store (opened now, it takes
        # in what reached the file first); else nothing is open
        if not self.clean():
            self._log._opened().close()

    def replay(self, store):
        # the buffer's records to the store just opened (the file's it took in itself)
        take(store, self._buf, self._n, 0, 0)
        self._n = 0
