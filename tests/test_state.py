# The persistent state helper: atomic replace (on littlefs written over in place, which littlefs
# commits whole at the file's closing), recovery, no needless writes.
import gc
import os

from blynklog.clock import State
from support import tmpdir


def test_state_survives_a_reopen():
    path = tmpdir() + "/state.json"
    s = State(path)
    s.set("quota", {"day": 19706, "sent": 12})
    assert s.save()
    assert State(path).get("quota") == {"day": 19706, "sent": 12}


def test_save_without_change_writes_nothing():
    path = tmpdir() + "/state.json"
    s = State(path)
    s.set("a", 1)
    s.save()
    s.set("a", 1)
    assert not s.save()


def test_missing_file_starts_empty():
    s = State(tmpdir() + "/none.json")
    assert s.data == {} and s.error is None


def test_corrupt_file_starts_empty_and_reports_it():
    path = tmpdir() + "/state.json"
    with open(path, "w") as f:
        f.write('{"a": 1, "b"')
    s = State(path)
    assert s.data == {}
    assert "unreadable" in s.error


def test_a_new_file_left_by_a_cut_before_rename_is_used_when_the_old_one_is_missing():
    path = tmpdir() + "/state.json"
    with open(path + ".new", "w") as f:
        f.write('{"a": 2}')
    assert State(path).get("a") == 2


def test_the_temporary_file_is_gone_after_save():
    d = tmpdir()
    s = State(d + "/state.json")
    s.set("x", [1, 2])
    s.save()
    assert sorted(os.listdir(d)) == ["state.json"]


# ---- on littlefs (the unix port's vfs.VfsLfs2 over a RAM block device): written over in place

LFS = "/st"


def _mounted(bdev):
    from blockdev import littlefs

    vfs = littlefs()
    vfs.mount(vfs.VfsLfs2(bdev), LFS)
    return vfs


def test_on_littlefs_a_save_writes_the_file_over_in_place_without_a_temporary_file():
    from blockdev import RAMBlockDev, littlefs

    bdev = RAMBlockDev(16)
    littlefs().VfsLfs2.mkfs(bdev)
    vfs = _mounted(bdev)
    try:
        s = State(LFS + "/state.json")
        s.set("a", 1)
        s.save()
        s.set("a", 2)
        bdev.reset_counts()
        s.save()
        names = sorted(os.listdir(LFS))
        writes = bdev.writes
    finally:
        vfs.umount(LFS)
    assert names == ["state.json"]
    assert writes <= 2, writes  # one metadata commit (the rename scheme took three)


def test_on_littlefs_a_power_cut_during_a_save_leaves_the_old_or_the_new_content():
    from blockdev import RAMBlockDev, littlefs

    vfs = littlefs()
    seen = set()
    k = 0
    while k < 40:
        bdev = RAMBlockDev(16)
        vfs.VfsLfs2.mkfs(bdev)
        _mounted(bdev)
        try:
            s = State(LFS + "/state.json")
            s.set("n", 1)
            s.set("pad", "x" * 300)
            s.save()
            bdev.arm(k)
            for n in range(2, 6):
                s.set("n", n)
                try:
                    s.save()
                except OSError:
                    break
            cut = bdev.dead
        finally:
            # the file the cut save left open (its close failed) is closed by the collector: while
            # its littlefs is mounted, not later on an unmounted one, where the unix port's
            # finaliser crashed now and then (exit -11)
            gc.collect()
            try:
                vfs.umount(LFS)
            except OSError:
                pass
        vfs.mount(vfs.VfsLfs2(RAMBlockDev(data=bdev.data)), LFS)
        try:
            st = State(LFS + "/state.json")
        finally:
            vfs.umount(LFS)
        assert st.error is None and st.get("pad") == "x" * 300, (k, st.error, st.data)
        seen.add(st.get("n"))
        if not cut:
            break  # every save of the run got through
        k += 1
    assert k > 0 and seen >= {1, 5}, (k, seen)


def test_on_littlefs_a_memory_error_making_the_text_leaves_the_file_as_it_was():
    from blockdev import RAMBlockDev, littlefs

    import blynklog.clock as clock

    bdev = RAMBlockDev(16)
    littlefs().VfsLfs2.mkfs(bdev)
    vfs = _mounted(bdev)
    real = clock.json

    class _NoRoom:
        def dumps(self, obj):
            raise MemoryError

    try:
        s = State(LFS + "/state.json")
        s.set("a", 1)
        s.save()
        s.set("a", 2)
        clock.json = _NoRoom()
        try:
            s.save()
            raise AssertionError("no MemoryError")
        except MemoryError:
            pass
        clock.json = real
        assert State(LFS + "/state.json").get("a") == 1
    finally:
        clock.json = real
        vfs.umount(LFS)


def test_a_state_file_that_cannot_be_written_is_an_os_error_naming_it():
    # a board's error log read "OSError: [Errno 21] EISDIR", naming no file
    d = tmpdir("stuck")
    os.mkdir(d + "/state.json")
    s = State(d + "/state.json")
    s.set("k", 1)
    try:
        s.save()
    except OSError as e:
        assert e.args[0] == 21 and "state.json" in str(e), e.args
    else:
        raise AssertionError("no OSError")
