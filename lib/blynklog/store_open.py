# blynklog.store_open: the opening of a Store (store.py), run once by Store() and let go after
# (blynklog._drop), so that its code is in RAM only while a store opens: the folder listed (made
# when missing), the stream names and the cursors file read (a file the listing lacks is not
# looked for), the segments found and the newest one's header and tail checked (a torn tail is
# cut, a damaged newest segment goes), and a wake's journal taken in (journal.py). Opening costs
# the same whatever the backlog: no segment but the newest is opened or stat-ed. cursors_meta()
# reads the cursors file's meta for a journal wake without the store (store.py is imported only
# by the functions of the opening that need it).
from . import _drop, _exists, _loaded
from .compat import binascii, const, dir_entries, json, os, struct

_CMAGIC = b"BC"
_VERSION = const(1)  # of the cursors file
_SEG_V3 = const(3)
_RBUF = const(1200)
_MAX_STREAMS = const(255)
_WHOLE = const(0x3FFFFFFF)  # a scan mark past any segment's end: count the whole file
_FULL = "books.full"  # the books could not be written for lack of room (segment._stuck)


def run(store, journal, new_segment):
    # Store()'s reading of its folder, its attributes set; new_segment: nothing is appended to the
    # newest segment (another handle may have it open)
    listing = _listing(store)
    here = [e[0] for e in listing if not e[0].endswith(".seg")]  # a file not here is not opened
    store._names = _load_names(store, here)
    n = len(store._names)
    store._cursor = [0] * n
    store._pending = [0] * n
    _load_cursors(store, here)
    _load_marks(store, here)
    full = _FULL in here
    if "books.try" in here:  # (segment.check_books's, left by a cut)
        from .store import _remove

        _remove(store.path + "/books.try")
    here = None
    _open_scan(store, listing)
    if new_segment or (store._segs and max(store._cursor or [0]) >= store._wseq << 16 | 0xFFFF):
        # (as after a dropped frame: the next append makes one). The newest segment dropped: a
        # cut left it behind the cursors (its drop booked, the file not deleted yet) after the one
        # made next went, nothing of it synced: records appended to it would be behind them too
        store._wver = 0
    if journal is not None:
        # a wake's journal there (journal.Journal) comes in before anything else is appended
        if _exists(journal + "/journal") or _exists(journal + "/journal.in") or _exists(journal + "/journal.seal"):
            held = _loaded("journal")  # a wake's Logger holds it until it has replayed
            from . import journal as _journal

            try:
                _journal.take_in(store, journal)
            except Exception:
                # this opening fails: its write file is closed now, not left to a finaliser
                # that could sync a stale view over the next opening's writes (what it syncs
                # is counted from the seal by the next taking in)
                store._let_go()
                raise
            finally:
                _journal = None
                _drop("journal", held)  # used once: its code leaves RAM
    store._full = full  # (after the journal's taking in: its reads do not write the books)


def _listing(store):
    # [(name, size)] of the store's folder, made when missing. The listing is what says the
    # folder can be used (no stat of its own: a lookup in a littlefs folder written at every
    # wake costs some ms on a board); OSError naming the folder when it cannot be.
    try:
        return list(dir_entries(store.path))
    except OSError as e:
        err = e
    try:
        os.mkdir(store.path)
    except OSError:
        raise OSError("store folder %r cannot be used (%s)" % (store.path, err))
    return list(dir_entries(store.path))


def _load_names(store, here):
    # here: the names of the folder's files (the listing): a file not among them is not
    # looked for (a failed open costs some ms on a board)
    for name in ("streams", "streams.new"):
        if name not in here:
            continue
        try:
            with open(store.path + "/" + name, "rb") as f:
                text = f.read().decode()
        except (OSError, UnicodeError):  # missing, or damaged into bytes that are not UTF-8
            continue
        if text.endswith("\n"):
            names = text.split("\n")[:-1]
            if len(names) <= _MAX_STREAMS:
                return names
    return []


def _load_cursors(store, here):
    got = _cursors(store.path, here)
    if got is None:
        return
    data, n, meta, name = got
    if name == "cursors" and "cursors.new" in here:
        # a write that a cut left before its rename: it holds a block that the next write of the
        # books may need (a full file system)
        from .store import _remove

        _remove(store.path + "/cursors.new")
    store._meta = meta
    store.dropped_full = store._saved_drops = struct.unpack_from("<I", data, 4 + 8 * n)[0]
    k = len(store._cursor)
    for i in range(min(n, k)):
        store._cursor[i] = struct.unpack_from("<Q", data, 4 + 8 * i)[0]
    if n > k:
        # cursors of ids the names file lacks (lost or damaged): stream_id() gives those ids to
        # the next names with their cursors, so what was committed under them is not sent again
        store._lost = {}
        for i in range(k, n):
            store._lost[i] = struct.unpack_from("<Q", data, 4 + 8 * i)[0]


def _load_marks(store, here):
    # Drops booked by a mark and not by the cursors file (segment.drop_oldest: a cut between the
    # mark and the cursors file's write, or a write that found no room): <seq>.<dropped_full>.drop,
    # 8 hex digits each. Every cursor moves past segment seq and dropped_full becomes the mark's
    # when the cursors file has less; the mark stays until the next cursors write (save_cursors),
    # and one the cursors file already holds goes now.
    for name in here:
        if not (name.endswith(".drop") and len(name) == 22 and name[8] == "."):
            continue
        try:
            seq = int(name[:8], 16)
            drops = int(name[9:17], 16)
        except ValueError:
            continue
        if drops > store._saved_drops:
            end = seq << 16 | 0xFFFF
            cur = store._cursor
            for i in range(len(cur)):
                if cur[i] < end:
                    cur[i] = end
            if drops > store.dropped_full:
                store.dropped_full = drops
            store._marks.append(store.path + "/" + name)
        else:
            from .store import _remove

            _remove(store.path + "/" + name)


def cursors_meta(path):
    # The commit meta of the store in folder path, from its cursors file, without opening the
    # store (upload_wait_ms() at a journal wake: journal.Journal.wait_ms); {} when none is whole.
    got = _cursors(path, ("cursors", "cursors.new"))
    return {} if got is None else got[2]


def _cursors(path, here):
    # (the file's bytes, n, meta, its name) of the first whole cursors file, or None. The file: "BC",
    # version, n, n u64 cursors, u32 dropped_full, u16 m, m bytes of JSON meta, CRC-32. here: as
    # for _load_names
    for name in ("cursors", "cursors.new"):
        if name not in here:
            continue
        try:
            with open(path + "/" + name, "rb") as f:
                data = f.read()
        except OSError:
            continue
        if len(data) < 10 or data[:2] != _CMAGIC or data[2] != _VERSION:
            continue
        n = data[3]
        if len(data) < 14 + 8 * n:
            continue
        m = struct.unpack_from("<H", data, 8 + 8 * n)[0]
        if len(data) != 14 + 8 * n + m:
            continue
        if binascii.crc32(data[:-4]) & 0xFFFFFFFF != struct.unpack_from("<I", data, len(data) - 4)[0]:
            continue
        meta = {}
        if m:
            try:
                meta = json.loads(str(data[10 + 8 * n : 10 + 8 * n + m], "utf-8"))
            except (ValueError, UnicodeError):
                meta = {}
            if not isinstance(meta, dict):
                meta = {}
        return data, n, meta, name
    return None


def _open_scan(store, listing):
    from .store import _remove  # here, not at the top: a journal wake's cursors_meta loads no store.py

    seqs = []
    sizes = {}
    for name, size in listing:
        if name.endswith(".seg.new"):
            _remove(store.path + "/" + name)
        elif name.endswith(".seg") and len(name) == 12:
            try:
                seq = int(name[:8], 16)
            except ValueError:
                continue
            seqs.append(seq)
            sizes[seq] = size
    seqs.sort()
    hd = None
    clean = False
    while seqs and hd is None:
        # the newest segment: its header, and whether its tail is whole, in one open
        seq = seqs[-1]
        try:
            with open(store._seg_name(seq), "rb") as f:
                hd = store._read_header(seq, f)
                if hd is not None:
                    if sizes[seq] < 0:
                        sizes[seq] = os.stat(store._seg_name(seq))[6]
                    clean = _clean_end(store, f, hd, sizes[seq])
        except OSError:
            pass  # no header read: the segment goes; after one, clean stays False: counted
        if hd is None:  # a damaged newest segment: nothing of it can be read
            store.bad_segments += 1
            _remove(store._seg_name(seqs.pop()))
    for seq in seqs:
        # an older segment's size, where the listing does not give it, is asked when a figure
        # needs it (_bytes), not here: opening costs the same whatever the backlog. It is
        # counted to its end (it no longer grows).
        size = sizes[seq]
        store._segs.append(seq)
        store._segpend.append(0)
        store._segsize.append(size)
        store._segscan.append(size if size >= 0 else _WHOLE)
    store._uncounted = len(seqs)
    if seqs:
        store._wseq = seqs[-1]
        store._wbase = hd[0]
        store._wsalt = hd[1]
        store._wver = hd[3]
        store._wsize = store._segsize[-1]
        if not clean:
            store._count_seg(len(seqs) - 1)  # a torn or damaged tail: cut there


def _clean_end(store, f, hd, size):
    # True when a valid record ends exactly at `size` in the segment open as f: the tail is
    # whole (a record's CRC is keyed by its offset, so one that checks there was written
    # there). It reads the last bytes once and tries the few record lengths that end there: a
    # few ms on a board, where following the lengths from the header takes a hundred and more.
    start = hd[2]
    if size <= start:
        return size == start
    buf = store._rbuf
    n = size - start
    if n > _RBUF:
        n = _RBUF
    try:
        f.seek(size - n)
        got = f.readinto(buf) or 0
    except OSError:
        return False
    if got != n:
        return False
    salt = hd[1]
    if hd[3] == _SEG_V3:
        from . import frame
        from .store import _codec

        _codec()  # the store's reads take the codec from here on
        return frame.clean_end(store, buf, n, size, salt)
    from . import legacy

    return legacy.clean_end(buf, n, store._rmv, size, salt)
