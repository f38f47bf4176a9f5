# Test helper: a tiny seeded random generator (xorshift32) that gives the same sequence on CPython
# and on the MicroPython unix port (whose `random` module has no Random class), so a failing
# seeded case is reproduced anywhere from the seed its assertion message prints.


class Rng:
    def __init__(self, seed):
        self.s = (seed * 2654435761 + 1) & 0xFFFFFFFF or 1
        for _ in range(4):
            self.u32()

    def u32(self):
        x = self.s
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self.s = x
        return x

    def below(self, n):
        # an int in 0..n-1 (n >= 1; n may exceed 2**32)
        r = 0
        m = 1
        while m < n:
            r = (r << 32) | self.u32()
            m <<= 32
        return r % n

    def between(self, lo, hi):
        # an int in lo..hi inclusive
        return lo + self.below(hi - lo + 1)

    def choice(self, seq):
        return seq[self.below(len(seq))]

    def chance(self, percent):
        return self.below(100) < percent

    def bytes(self, n):
        return bytes(self.u32() & 0xFF for _ in range(n))
