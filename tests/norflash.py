# A NOR flash simulator with the block-device interface of esp32.Partition and rp2.Flash:
#   readblocks(n, buf, offset=0), writeblocks(n, buf, offset=0), ioctl(op, arg)
# Program only clears bits (data &= buf); programming a 1 over a 0 raises OSError (unless
# strict is off), so a store that rewrites programmed bytes fails loudly. Erase (ioctl 6) sets a sector to 0xFF.
# It counts bytes programmed, program operations and erases per sector, and it can cut the power:
# after `cut_at` operations the next program or erase is torn (nothing, a prefix of the bytes, a
# random subset of the bits, or a part of the sector erased) and raises OSError; every operation
# after that raises too until power_on(). Portable: runs on CPython and the MicroPython unix port.

_FF = b"\xff"


class PowerCut(OSError):
    pass


class Rng:
    # xorshift32: the same sequence on both runtimes for the same seed.
    def __init__(self, seed):
        self.s = (seed * 2654435761 + 1) & 0xFFFFFFFF or 1

    def next(self):
        s = self.s
        s ^= (s << 13) & 0xFFFFFFFF
        s ^= s >> 17
        s ^= (s << 5) & 0xFFFFFFFF
        self.s = s
        return s

    def below(self, n):
        return self.next() % n if n > 0 else 0


class NorFlash:
    # sectors: count; sector_size: erase unit (the store's blocks); prog_size: program unit
    # (offsets and lengths must be multiples of it).
    def __init__(self, sectors=16, sector_size=4096, prog_size=1, data=None):
        self.sector_size = sector_size
        self.sectors = sectors
        self.prog_size = prog_size
        self.data = data if data is not None else bytearray(_FF * (sectors * sector_size))
        self._blank = _FF * sector_size
        self.bytes_programmed = 0
        self.programs = 0
        self.erases = [0] * sectors
        self.reads = 0
        self.ops = 0  # programs + erases since the last power_on (or creation)
        self.cut_at = None  # the operation (0-based, counted in ops) that the power cut tears
        self.cut_mode = "none"  # "none": nothing done; "prefix": part of it; "bits": random bits
        self.rng = Rng(1)
        self.dead = False
        # strict: a 1 over a 0 raises (catches a store that rewrites programmed bytes); not
        # strict: it is a no-op, as on a real chip (for page-padded programs)
        self.strict = True

    # -- power --
    def arm(self, cut_at, mode="none", seed=1):
        self.ops = 0
        self.cut_at = cut_at
        self.cut_mode = mode
        self.rng = Rng(seed)
        self.dead = False

    def power_on(self):
        self.ops = 0
        self.cut_at = None
        self.dead = False

    def _tick(self):
        # True when this operation is the one the power cut tears.
        if self.dead:
            raise PowerCut(5, "power is off")
        n = self.ops
        self.ops = n + 1
        if self.cut_at is not None and n >= self.cut_at:
            self.dead = True
            return True
        return False

    # -- block device --
    def readblocks(self, n, buf, offset=0):
        if self.dead:
            raise PowerCut(5, "power is off")
        a = n * self.sector_size + offset
        if a < 0 or a + len(buf) > len(self.data):
            raise OSError(22, "read out of range")
        self.reads += 1
        buf[:] = memoryview(self.data)[a : a + len(buf)]

    def writeblocks(self, n, buf, offset=0):
        a = n * self.sector_size + offset
        k = len(buf)
        if a < 0 or a + k > len(self.data):
            raise OSError(22, "program out of range")
        if a % self.prog_size or k % self.prog_size:
            raise OSError(22, "program not aligned")
        d = self.data
        if self.strict:
            for i in range(k):
                if buf[i] & ~d[a + i] & 0xFF:
                    raise OSError(5, "1 over 0 at %d" % (a + i))
        torn = self._tick()
        if torn:
            mode = self.cut_mode
            if mode == "prefix":
                for i in range(self.rng.below(k)):
                    d[a + i] &= buf[i]
            elif mode == "bits":
                r = self.rng
                for i in range(k):
                    d[a + i] &= buf[i] | (r.next() & 0xFF)
            raise PowerCut(5, "power cut in program")
        for i in range(k):
            d[a + i] &= buf[i]
        self.bytes_programmed += k
        self.programs += 1

    def erase(self, n):
        if n < 0 or n >= self.sectors:
            raise OSError(22, "erase out of range")
        ss = self.sector_size
        torn = self._tick()
        if torn:
            mode = self.cut_mode
            if mode == "prefix":
                k = self.rng.below(ss)
                self.data[n * ss : n * ss + k] = self._blank[:k]
            elif mode == "bits":
                r = self.rng
                d = self.data
                for i in range(n * ss, n * ss + ss):
                    d[i] |= r.next() & 0xFF
            raise PowerCut(5, "power cut in erase")
        self.data[n * ss : n * ss + ss] = self._blank
        self.erases[n] += 1

    def ioctl(self, op, arg=0):
        if op == 4:
            return self.sectors
        if op == 5:
            return self.sector_size
        if op == 6:
            self.erase(arg)
            return 0
        return 0

    # -- figures --
    def total_erases(self):
        return sum(self.erases)

    def copy(self):
        # A device with the same content (for starting several cut runs from one state).
        return NorFlash(self.sectors, self.sector_size, self.prog_size, bytearray(self.data))
