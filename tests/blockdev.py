# A RAM block device for littlefs on the unix port (vfs.VfsLfs2), with the extended interface
# (readblocks/writeblocks with an offset, ioctl 6 = erase). It counts what reaches the "flash":
# writes (writeblocks calls), bytes written, erases and bytes erased. With cut_after=N the N+1-th
# write raises OSError (EIO) after programming only the first half of its data (a torn program);
# after that the power is off: later writes and erases change nothing and reads return nothing
# (quietly, since only finalisers of the dead mount's files still call in). A new device over the same bytes
# (RAMBlockDev(data=old.data)) is the reboot. fail_once(n): the n+1-th write from now fails
# (OSError EIO, nothing programmed) and the device goes on working: a transient fault.
# Portable: importable on CPython (no littlefs there).
_EIO = 5


def littlefs():
    # the vfs module with littlefs (the unix port's), or the test is skipped saying why
    from support import skip

    try:
        import vfs
    except ImportError:
        vfs = None
    if vfs is None or not hasattr(vfs, "VfsLfs2"):
        skip("needs littlefs (vfs.VfsLfs2): the unix port")
    return vfs


class RAMBlockDev:
    def __init__(self, blocks=64, block_size=4096, data=None, cut_after=None):
        self.block_size = block_size
        self.blocks = blocks if data is None else len(data) // block_size
        self.data = data if data is not None else bytearray(b"\xff" * (blocks * block_size))
        self.cut_after = cut_after
        self.dead = False
        self.fail_after = None
        self.reset_counts()

    def reset_counts(self):
        self.writes = 0
        self.bytes_written = 0
        self.erases = 0

    def arm(self, n):
        # cut the power at the n+1-th write from now (n writes succeed)
        self.writes = 0
        self.cut_after = n

    def fail_once(self, n):
        self.fail_after = n

    def readblocks(self, block, buf, off=0):
        if self.dead:
            return
        a = block * self.block_size + off
        buf[:] = self.data[a : a + len(buf)]

    def writeblocks(self, block, buf, off=None):
        if self.dead:
            return
        if self.fail_after is not None:
            self.fail_after -= 1
            if self.fail_after < 0:
                self.fail_after = None
                raise OSError(_EIO)
        if off is None:
            # simple interface: whole blocks, erase included
            off = 0
            self.erases += len(buf) // self.block_size
        a = block * self.block_size + off
        n = len(buf)
        if self.cut_after is not None and self.writes >= self.cut_after:
            half = n // 2
            self.data[a : a + half] = buf[:half]
            self.dead = True
            raise OSError(_EIO)
        self.data[a : a + n] = buf
        self.writes += 1
        self.bytes_written += n

    def ioctl(self, op, arg):
        if op == 4:  # block count
            return self.blocks
        if op == 5:  # block size
            return self.block_size
        if op == 6:  # erase
            if self.dead:
                return 0
            a = arg * self.block_size
            self.data[a : a + self.block_size] = b"\xff" * self.block_size
            self.erases += 1
            return 0
        return 0
