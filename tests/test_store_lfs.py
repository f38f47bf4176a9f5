# The store on littlefs itself (unix port: vfs.VfsLfs2 over the RAM block device of blockdev.py):
# a file system smaller than the configured capacity counts as full, under both policies.
import os

from blockdev import RAMBlockDev
from blynklog.store import Store
from support import skip

MOUNT = "/lfs"
T0 = 1700000000000


def _v(i):
    # values that pack badly (deltas of some 30 bits), so that 20,000 fill the small file system
    return (i * 7919) % 1000003 * 1000


def _mounted(blocks):
    try:
        import vfs
    except ImportError:
        vfs = None
    if vfs is None or not hasattr(vfs, "VfsLfs2"):
        skip("needs littlefs (vfs.VfsLfs2): the unix port")
    bdev = RAMBlockDev(blocks)
    vfs.VfsLfs2.mkfs(bdev)
    vfs.mount(vfs.VfsLfs2(bdev), MOUNT)
    return vfs


def _drops_the_oldest(vfs, path, n=20000):
    # n samples into a drop_oldest store at path on a mounted small file system: every one taken,
    # the oldest dropped and counted, the store holding the newest ones
    try:
        s = Store(path)
        sid = s.stream_id("a")
        for i in range(n):
            assert s.append(sid, T0 + i * 1000, _v(i))
        st = s.stats()
        assert st["dropped_full"] > 0 and st["dropped_full"] + st["pending"] == n, st
        got = [r[2] for r in s.records(sid)]
        assert got == [_v(i) for i in range(n - len(got), n)]
        s.close()
    finally:
        vfs.umount(MOUNT)


def _refuses_the_newest(vfs, path, n, on_full="drop_newest", hold=None):
    # n samples into a store at path on a mounted small file system (drop_newest, or held by a
    # sync: hold): some taken, the rest refused and counted, the store holding the first ones
    try:
        s = Store(path, on_full=on_full)
        s.hold = hold
        sid = s.stream_id("a")
        accepted = 0
        for i in range(n):
            if s.append(sid, T0 + i * 1000, _v(i)):
                accepted += 1
        st = s.stats()
        assert 0 < accepted < n and st["dropped_full"] == n - accepted, st
        assert [r[2] for r in s.records(sid)] == [_v(i) for i in range(accepted)]
        s.close()
    finally:
        vfs.umount(MOUNT)


def test_a_file_system_smaller_than_capacity_drops_the_oldest_instead_of_failing():
    _drops_the_oldest(_mounted(16), MOUNT + "/s")


def test_a_file_system_smaller_than_capacity_refuses_new_samples_under_drop_newest():
    _refuses_the_newest(_mounted(16), MOUNT + "/s", 20000)


def _filled(blocks, other_blocks):
    # a file system of `blocks` with a file of `other_blocks` blocks and a folder beside the
    # store (as a Logger's store folder is in its own): the store's segments fill the room left
    # until littlefs is past full (it counts more blocks in use than it has, and MicroPython's
    # statvfs gives a 64-bit port 2**32 less that as the blocks free)
    vfs = _mounted(blocks)
    with open(MOUNT + "/other", "wb") as f:
        f.write(bytes(other_blocks * 4096))
    os.mkdir(MOUNT + "/log")
    return vfs


def test_a_file_system_past_full_beside_other_files_drops_the_oldest_instead_of_failing():
    _drops_the_oldest(_filled(16, 4), MOUNT + "/log/s")


def test_a_file_system_past_full_beside_other_files_refuses_new_samples_under_drop_newest():
    _refuses_the_newest(_filled(16, 4), MOUNT + "/log/s", 20000)


def test_a_file_system_with_room_for_one_segment_drops_the_oldest_instead_of_failing():
    # the write segment full and no room for the next one: the next one's first write found no
    # room and add() raised ENOSPC; the oldest segment now goes to make room
    _drops_the_oldest(_filled(16, 8), MOUNT + "/log/s", 5000)


def test_a_file_system_with_room_for_one_segment_refuses_new_samples_under_drop_newest():
    # the write segment full and no room for the next one: drop_newest refuses (add() raised
    # ENOSPC from the new segment's file, which drop_newest never needs)
    _refuses_the_newest(_filled(16, 8), MOUNT + "/log/s", 5000)


def test_a_file_system_with_room_for_one_segment_refuses_new_samples_while_a_sync_holds_the_store():
    # a sync_async holds the store (store.hold): a full one refuses new samples as drop_newest
    # does; with room for one segment add() raised ENOSPC from the next segment's file instead
    _refuses_the_newest(_filled(16, 8), MOUNT + "/log/s", 5000, "drop_oldest", lambda: True)
