# Flash wear of the store on littlefs (unix port: vfs.VfsLfs2 over the counting RAM block device
# of blockdev.py, 4096-byte blocks): flash bytes written per sample for 10,000 samples, at the
# default flush policy and, for comparison, with a flush every 64 samples. The figures are
# printed (docs/FORMAT.md quotes them).
from blockdev import RAMBlockDev
from blynklog.store import Store
from support import skip

MOUNT = "/wear"
SAMPLES = 10000
T0 = 1700000000000


def _measure(**options):
    try:
        import vfs
    except ImportError:
        vfs = None
    if vfs is None or not hasattr(vfs, "VfsLfs2"):
        skip("needs littlefs (vfs.VfsLfs2): the unix port")
    bdev = RAMBlockDev(96)
    vfs.VfsLfs2.mkfs(bdev)
    vfs.mount(vfs.VfsLfs2(bdev), MOUNT)
    try:
        store = Store(MOUNT + "/store", **options)
        sid = store.stream_id("temperature")
        bdev.reset_counts()
        for i in range(SAMPLES):
            # a temperature every 10 s, two decimals, as the Logger stores it
            store.append(sid, T0 + i * 10000, 20.0 + (i % 500) / 100, 0, 2)
        store.close()
        written = bdev.bytes_written
        erases = bdev.erases
        st = store.stats()
    finally:
        vfs.umount(MOUNT)
    record = (st["bytes"] - 20 * st["segments"]) / st["pending"]
    per_sample = written / SAMPLES
    print(
        "%r: %d samples, record %.2f bytes, flash written %.2f bytes/sample (%.2fx), %d erases"
        % (options, SAMPLES, record, per_sample, per_sample / record, erases)
    )
    assert st["pending"] == SAMPLES and st["dropped_full"] == 0
    return record, per_sample


def test_flash_bytes_per_sample_stay_under_twice_the_record_size_by_default():
    record, per_sample = _measure()
    assert per_sample < 2 * record


def test_a_numeric_sample_takes_at_most_16_bytes_of_store_with_all_overhead():
    record, per_sample = _measure()
    assert record <= 16


def test_flushing_every_64_samples_wears_more_than_the_default():
    record, default = _measure()
    record64, frequent = _measure(flush_records=64)
    assert frequent > default
