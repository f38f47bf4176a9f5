# blynklog.legacy: reading segments of formats 1 and 2 (a record per sample, record.py), which a
# store upgraded in place still holds until they are consumed; new segments are format 3 (frames:
# frame.py, segment.py). Imported by the store only when it meets such a segment. Functions of
# the Store that read its files; same contract as the store's: one task at a time.
from . import record

_SEG_SHIFT = 16


def walk(store, seq, buf, start, stop, skips=False):
    # Yields off for each valid record of segment seq with start <= off < stop: the record
    # is buf[i:i + n] until the next step, i and n in store._wi and store._wn (read them at
    # once: no tuple per record). Damaged bytes are skipped one at a time
    # (resynchronisation) and counted. Reads bounded chunks; the file is closed between
    # chunks, so the caller may delete or grow segments between steps.
    # A run of records checked back to back is remembered (_clean: per segment, offsets lo..hi,
    # its bytes never change but by _cut); a later walk follows the lengths there without
    # the CRC, which is what an upload's passes mostly read: the plan, the body, the commit.
    hd = store._read_header(seq)
    if hd is None:
        return
    lo = hi = -1
    ck = store._checked_runs()
    j = store._slot(seq)
    if ck[j] == seq:
        lo = ck[j + 1]
        hi = ck[j + 2]
    rs = re = -1  # the last run of records checked back to back here
    salt = hd[1]
    kb = 0 if salt is None else record.signed_salt(salt)  # a small int key for the salts new_salt() makes
    name = store._seg_name(seq)
    mv = memoryview(buf)
    size = len(buf)
    fpos = start if start > hd[2] else hd[2]
    rounds = 0
    try:
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
                if lo <= off < hi:
                    # checked before: its length from L
                    n = buf[i]
                    if n >= 0x80:
                        n = ((n & 0x7F) | (buf[i + 1] << 7)) + 1 if i + 1 < limit else limit
                    if i + n + 5 <= limit:
                        store._wi = i
                        store._wn = n + 5
                        yield off
                        i += n + 5
                        continue
                n = record.check(buf, i, limit, mv, 0 if salt is None else kb ^ (off & 0xFFFF))
                if n:
                    if off != re:
                        rs = off
                    re = off + n
                    store._wi = i
                    store._wn = n
                    yield off
                    i += n
                elif more and limit - i < record.MAX_RECORD:
                    break  # may be a record cut by the chunk: read again from here
                else:
                    if skips:
                        store.skipped_bytes += 1
                    i += 1
            fpos += i
    finally:
        _note_clean(store, seq, rs, re)


def _note_clean(store, seq, s, e):
    if s < 0:
        return
    ck = store._checked_runs()
    j = store._slot(seq)
    if ck[j] == seq and s <= ck[j + 2] and e >= ck[j + 1]:
        if ck[j + 1] < s:
            s = ck[j + 1]
        if ck[j + 2] > e:
            e = ck[j + 2]
    ck[j] = seq
    ck[j + 1] = s
    ck[j + 2] = e


def clean_end(buf, n, mv, size, salt):
    # store_open._clean_end of a segment of records: buf[:n] holds its last n bytes (size in all)
    for k in range(5, n + 1):  # the record's length: L + body (>= 3) + CRC
        off = size - k
        if record.check(buf, n - k, n, mv, 0 if salt is None else record.key(salt, off)) == k:
            return True
    return False


def scan(store, seq, hd, sid, start, stop, buf, rec):
    # Store._scan of a segment of records
    base = hd[0]
    first = start & 0xFFFF if seq == start >> _SEG_SHIFT else 0
    top = seq << _SEG_SHIFT
    read = record.read
    for off in walk(store, seq, buf, first, stop):
        i = store._wi
        if buf[i + (1 if buf[i] < 0x80 else 2) + 1] != sid:  # record.sid_of
            continue
        pos = top | off
        if pos <= start or pos <= store._cursor[sid]:
            continue
        read(rec, buf, i, store._wn)
        rec.pos = pos
        rec.base = base
        yield rec
