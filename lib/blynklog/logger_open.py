# blynklog.logger_open: the steps of Logger() that a wake seldom takes, kept out of the package's
# own module so that a wake does not load their code: writing the validated-config cache (after a
# validation), making the store's folder (its first start) or moving a store from the earlier
# default path, and opening the raw backend. The Logger imports this module only when one of them
# is due and drops it again after (blynklog._drop). Allocates what the steps write; one task.
from . import ConfigError, _cache_key
from .compat import binascii, json, os


def save_cached_config(path, raw, cache, cfg):
    # the cache's layout: blynklog/__init__.py (before _cache_key)
    try:
        body = _cache_key(path, raw) + raw + json.dumps(cfg).encode()
        with open(cache, "wb") as f:
            f.write(b"%08x" % (binascii.crc32(body) & 0xFFFFFFFF))
            f.write(body)
    except Exception:  # a flash fault, a full file system, a MemoryError: the next Logger() validates
        pass


def store_folder(path, old):
    # Makes the store's folder (and its parents); nothing is at path. A store made at the earlier
    # default path (old: "blynklog", which shadows the package on a board) moves to the new default
    # once.
    if old:
        _move_old_store(old, path)
    cur = "/" if path.startswith("/") else ""
    for part in path.split("/"):
        if not part:
            continue
        cur = cur + part if (not cur or cur.endswith("/")) else cur + "/" + part
        try:
            os.mkdir(cur)
        except OSError:
            pass  # it exists (or cannot be made: the store says so when it opens)


def _move_old_store(old, new):
    # nothing is at new: a store at old (its state or its data) moves there
    try:
        os.stat(old + "/state.json")
    except OSError:
        try:
            os.stat(old + "/data")
        except OSError:
            return
    try:
        os.rename(old, new)
        print("blynklog: moved the store from %r to %r" % (old, new))
    except OSError as e:
        print("blynklog: could not move the store from %r to %r (%s)" % (old, new, e))


def raw_check(cfg, validated):
    # The raw backend's refusals that need no writing, made before Logger() writes anything (the
    # store's folder, the cache, the device's format): streams that cannot fit a new store's
    # checkpoint, samples a littlefs store at the same path has not uploaded (validated: a
    # configuration just checked, as one whose backend changed is), and on a board a flash region
    # it does not have. -> the board's device, opened (that writes nothing; raw_store takes it),
    # or None on a host (its device is a file)
    import sys

    from .policy import meta_max
    from .rawstore import new_spare, open_device

    room = meta_max()
    _fits(cfg, room, new_spare(cfg["streams"], room))
    if validated:
        _littlefs_left(cfg["store"]["path"])
    if sys.platform in ("esp32", "rp2"):
        return open_device(cfg["store"])
    _ring_size(cfg["store"])
    return None


def _ring_size(scfg):
    # On a host the ring is <store.path>/nor.bin, scfg["capacity"] bytes (rawstore.open_device):
    # its size is fixed once written (a smaller ring leaves sectors out, a larger one takes in
    # old ones; docs/RAWSTORE.md, Limits), so another capacity is a ConfigError naming it
    try:
        have = os.stat(scfg["path"] + "/nor.bin")[6]
    except OSError:
        return
    want = scfg["capacity"] // 4096 * 4096  # whole sectors of the simulator (rawstore's _SECTOR)
    if have and have != want:
        raise ConfigError(
            "store.capacity: the raw store's ring %r is %d bytes, not %d: its size is fixed once written "
            "(upload its samples and delete the file before giving another)" % (scfg["path"] + "/nor.bin", have, want)
        )


def _littlefs_left(path):
    # A littlefs store at this store.path (its segments in <path>/data, a wake's journal in
    # <path>) holding samples not uploaded: the raw ring would never see them, so they would
    # leave pending and never be sent. ConfigError naming store.backend; a store all uploaded
    # (or none) passes. Its journal is not taken in (counted as pending).
    from .store import Store

    try:
        os.stat(path + "/data/streams")
    except OSError:
        return
    n = 0
    for name in ("/journal", "/journal.in"):
        try:
            n += os.stat(path + name)[6] // 28  # journal.py's records
        except OSError:
            pass
    st = Store(path + "/data")
    try:
        n += st.pending()
    finally:
        st.close()
    if n:
        raise ConfigError(
            "store.backend: the littlefs store at %r holds %d samples not uploaded, which the raw "
            "store would not see; sync them with backend littlefs first, or give a new store.path" % (path, n)
        )


def _fits(cfg, room, spare):
    if spare < 0:
        raise ConfigError(
            "streams: %d streams with these names do not fit the raw store's checkpoint beside "
            "the upload counters (%d bytes): %d bytes over; use fewer streams or shorter names"
            % (len(cfg["streams"]), room, -spare)
        )


def raw_store(cfg, dev=None):
    # The raw backend's store for this (validated) configuration, on dev (raw_check's) or its
    # device opened now. Every checkpoint holds each stream's name (the store's earlier streams'
    # too) and keeps room for the largest meta the upload policy commits: streams that leave less
    # are refused here, not after a sync.
    from .policy import meta_max
    from .rawstore import RawStore, open_device

    scfg = cfg["store"]
    room = meta_max()
    store = RawStore(
        dev if dev is not None else open_device(scfg), on_full=scfg["on_full"], close_device=True, meta_room=room
    )
    try:
        _fits(cfg, room, store.spare(cfg["streams"]))
    except ConfigError:
        store.close()
        raise
    return store
