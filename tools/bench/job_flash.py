# Benchmark job, run by tools/bench.py on the unix port (and CPython for the timing rows): logs
# n samples of the workload on one side and prints "RESULT {json}" with the flash figures and the
# add() time.
#   micropython tools/bench/job_flash.py '{"side": "ours", "n": 10000, "k": 3, "fs": "lfs"}'
# side: "ours" (Logger, default flush policy), "ours_sync" (Logger, flush() after every add),
#       "naive" (a JSON line per sample, flushed), "raw" (Logger on the raw backend, a NOR flash
#       simulator, every add durable at once; "warm" samples first fill the ring so the
#       counted ones run in the steady state, where each new sector costs one erase).
# fs:   "lfs" (littlefs v2 on a counting RAM block device, 4096-byte blocks: unix port only) or
#       "posix" (a folder `dir` on the host file system: timing only).
# progsize: littlefs's program size, 32 (the ESP32 port's) or 256 (the rp2 port's).
import gc
import json
import os
import sys

_here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
for _p in (_here + "/../../tests", _here + "/../naive", _here + "/../../lib", _here):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import workload  # noqa: E402  (after the sys.path set-up above)

try:
    from time import ticks_us, ticks_diff

    def _since_us(t0):
        return ticks_diff(ticks_us(), t0)
except ImportError:
    from time import perf_counter

    def ticks_us():
        return perf_counter()

    def _since_us(t0):
        return int((perf_counter() - t0) * 1000000)


def _walk_size(path):
    total = 0
    for name in os.listdir(path):
        p = path + "/" + name
        st = os.stat(p)
        if st[0] & 0x4000:
            total += _walk_size(p)
        else:
            total += st[6]
    return total


def _fs_used(path):
    st = os.statvfs(path)
    return (st[2] - st[3]) * st[0]


def _format2_bytes(n, k, start, warm):
    # (bytes, record bytes) the same samples take as format 2 segments (a record per sample,
    # record.py; a 24-byte header per 4096-byte segment), for the comparison rows: what the store
    # wrote before format 3's frames, and the record the raw backend writes
    from blynklog import record

    dec = {}
    for name, _, _, d in workload.streams(k):
        dec[name] = d
    buf = bytearray(record.MAX_RECORD + 8)
    total = 0
    seg = 4096
    base = None
    for i in range(warm, warm + n):
        name, v, ts = workload.sample(i, k, start)
        sid = i % k
        m = record.encode_into(buf, 0, sid, ts, v, 0, dec[name], ts if base is None else base)
        if base is None or seg + m > 4096:
            base = ts
            seg = 24
            total += 24
            m = record.encode_into(buf, 0, sid, ts, v, 0, dec[name], base)
        seg += m
        total += m
    return total, total - 24 * ((total + 4095) // 4096)


def run(spec):
    from blynklog.compat import unix_ms

    side = spec["side"]
    n = spec["n"]
    k = spec.get("k", 3)
    fs = spec.get("fs", "lfs")
    out = {"side": side, "n": n, "k": k, "fs": fs}
    dev = nor = None
    if fs == "lfs":
        import bdev

        dev = bdev.mount_lfs(spec.get("blocks", 512), 4096, "/lfs", spec.get("progsize", 32))
        root = "/lfs"
    else:
        root = spec["dir"]
    warm = spec.get("warm", 0)
    now = unix_ms()
    start = workload.start_for(n + warm, k, now)
    if side == "naive":
        from jsonlog import JsonLinesLog

        log = JsonLinesLog(root + "/log.jsonl")
        flush_each = False
    else:
        extra = None
        if side == "raw":
            from norflash import NorFlash
            from blynklog import rawstore

            nor = NorFlash(sectors=spec.get("sectors", 64), sector_size=4096)
            rawstore.open_device = lambda cfg: nor
            extra = {"store": {"path": root + "/bl", "backend": "raw"}}
        import blynklog

        log = blynklog.Logger(workload.config(k, root + "/bl", extra=extra))
        log.clock.set_time_ms(now, "user")
        flush_each = side == "ours_sync"
    sample = workload.sample
    for i in range(warm):
        name, v, ts = sample(i, k, start)
        log.add(name, v, ts=ts)
    gc.collect()
    if dev is not None:
        dev.reset_counters()
    if nor is not None:
        nor.bytes_programmed = nor.programs = 0
        nor.erases = [0] * nor.sectors
    t0 = ticks_us()
    for i in range(warm, warm + n):
        name, v, ts = sample(i, k, start)
        log.add(name, v, ts=ts)
        if flush_each:
            log.flush()
    out["add_us"] = _since_us(t0)
    if side != "naive":
        st = log.stats()
        out["pending"] = st["pending"]
        out["store_stats"] = st["store"]
    log.close()
    if dev is not None:
        out["flash"] = dev.counters()
        out["fs_used"] = _fs_used(root)
    if nor is not None:
        out["flash"] = {
            "bytes_written": nor.bytes_programmed,
            "writes": nor.programs,
            "erases": nor.total_erases(),
            "max_block_erases": max(nor.erases),
        }
    if side == "naive":
        out["file_bytes"] = os.stat(root + "/log.jsonl")[6]
    elif side != "raw":
        # the segment files: frames (records in format 2) plus a header per segment
        # (lib/blynklog/store.py's _HDR, formats 2 and 3; a const, so not importable on MicroPython)
        header_bytes = 24

        segs = 0
        seg_bytes = 0
        for name in os.listdir(root + "/bl/data"):
            if name.endswith(".seg"):
                segs += 1
                seg_bytes += os.stat(root + "/bl/data/" + name)[6]
        out["segments"] = segs
        out["segment_bytes"] = seg_bytes
        out["record_bytes"] = seg_bytes - header_bytes * segs
        out["file_bytes"] = _walk_size(root + "/bl")
        out["format2_bytes"], out["format2_record_bytes"] = _format2_bytes(n, k, start, warm)
    if fs == "lfs":
        import bdev

        bdev.umount("/lfs")
    return out


if __name__ == "__main__":
    print("RESULT " + json.dumps(run(json.loads(sys.argv[1]))))
