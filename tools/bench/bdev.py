# A RAM block device with the interface littlefs mounts (vfs.VfsLfs2): readblocks/writeblocks
# with an offset, ioctl 4 (count), 5 (size), 6 (erase). It counts what a flash chip would see:
# bytes programmed, program operations, erases (total and per block) and bytes read.
# Runs on the MicroPython unix port (and CPython, where nothing mounts it). RAM: blocks * size.


class CountingBlockDevice:
    def __init__(self, blocks=512, block_size=4096):
        self.blocks = blocks
        self.block_size = block_size
        self.data = bytearray(b"\xff" * (blocks * block_size))
        self.reset_counters()

    def reset_counters(self):
        self.bytes_written = 0
        self.writes = 0
        self.erases = 0
        self.bytes_read = 0
        self.erase_per_block = [0] * self.blocks

    def readblocks(self, n, buf, offset=0):
        a = n * self.block_size + offset
        buf[:] = memoryview(self.data)[a : a + len(buf)]
        self.bytes_read += len(buf)

    def writeblocks(self, n, buf, offset=None):
        if offset is None:
            # the simple interface: whole blocks, erase implied
            offset = 0
            for i in range(len(buf) // self.block_size):
                self.ioctl(6, n + i)
        a = n * self.block_size + offset
        k = len(buf)
        self.data[a : a + k] = buf
        self.bytes_written += k
        self.writes += 1

    def ioctl(self, op, arg):
        if op == 4:
            return self.blocks
        if op == 5:
            return self.block_size
        if op == 6:
            ss = self.block_size
            self.data[arg * ss : arg * ss + ss] = b"\xff" * ss
            self.erases += 1
            self.erase_per_block[arg] += 1
            return 0
        return 0

    def counters(self):
        return {
            "bytes_written": self.bytes_written,
            "writes": self.writes,
            "erases": self.erases,
            "bytes_read": self.bytes_read,
            "max_block_erases": max(self.erase_per_block),
        }


def mount_lfs(blocks=512, block_size=4096, at="/lfs", progsize=32):
    # A fresh littlefs (v2) on a new counting device, mounted at `at`, with the ESP32 port's
    # geometry (readsize/progsize/lookahead 32) or, with progsize=256, the rp2 port's. Counters
    # start at zero after mkfs.
    import vfs

    dev = CountingBlockDevice(blocks, block_size)
    vfs.VfsLfs2.mkfs(dev, progsize=progsize)
    fs = vfs.VfsLfs2(dev, progsize=progsize)
    vfs.mount(fs, at)
    dev.reset_counters()
    return dev


def umount(at="/lfs"):
    import vfs

    vfs.umount(at)
