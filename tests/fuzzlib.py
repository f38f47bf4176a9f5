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


_WORDS = (
    "",
    "a",
    "V1",
    "v300",
    "V-1",
    "V",
    "https://x",
    "http://127.0.0.1:1",
    "platform",
    "device",
    "double",
    "int",
    "location",
    "drop_oldest",
    "raw",
    "oldest_first",
    "socket",
    "requests",
    "\u00e9",
    "V\u00b2",
    "\u0663",
    "x" * 300,
    "\x00",
    "null",
    "ca.der",
    "/nonexistent/ca.der",
    "1e309",
    " ",
    "-1",
)
_NUMBERS = (
    0,
    1,
    -1,
    2,
    7,
    255,
    256,
    65535,
    65536,
    16384,
    2147483647,
    2147483648,
    -2147483649,
    10**30,
    -(10**30),
    1 << 64,
    0.5,
    -0.0,
    1e308,
    -1e308,
    3.0,
    1e-320,
)


def json_value(rng, depth=2):
    # A random JSON-shaped value: None, bool, int (some huge), float, str, list or dict.
    k = rng.below(9 if depth > 0 else 7)
    if k == 0:
        return None
    if k == 1:
        return rng.chance(50)
    if k == 2:
        return rng.choice(_NUMBERS)
    if k == 3:
        return rng.between(-(1 << 40), 1 << 40)
    if k == 4:
        return rng.choice(_WORDS)
    if k == 5:
        return "".join(chr(rng.between(32, 0x2FF)) for _ in range(rng.below(12)))
    if k == 6:
        return rng.between(-1000, 100000) / 8
    if k == 7:
        return [json_value(rng, depth - 1) for _ in range(rng.below(4))]
    return dict((rng.choice(_WORDS[:12]) + str(i), json_value(rng, depth - 1)) for i in range(rng.below(4)))


def paths(obj, prefix=()):
    # Every (path tuple) inside nested dicts and lists, the root excluded.
    out = []
    if isinstance(obj, dict):
        for k in obj:
            out.append(prefix + (k,))
            out.extend(paths(obj[k], prefix + (k,)))
    elif isinstance(obj, list):
        for i in range(len(obj)):
            out.append(prefix + (i,))
            out.extend(paths(obj[i], prefix + (i,)))
    return out


def copy(obj):
    if isinstance(obj, dict):
        return dict((k, copy(obj[k])) for k in obj)
    if isinstance(obj, list):
        return [copy(v) for v in obj]
    return obj


def mutate(rng, obj, keys=()):
    # A deep copy of obj with one random change: a value replaced, a key deleted, or a key added
    # (one of `keys` or a made-up one). Returns (new object, description).
    obj = copy(obj)
    ps = paths(obj)
    if not ps:
        return obj, "unchanged"
    p = rng.choice(ps)
    parent = obj
    for k in p[:-1]:
        parent = parent[k]
    what = rng.below(3)
    if what == 0:
        parent[p[-1]] = json_value(rng)
        return obj, "set %r" % (p,)
    if what == 1:
        if isinstance(parent, dict):
            del parent[p[-1]]
        else:
            parent.pop(p[-1])
        return obj, "del %r" % (p,)
    if isinstance(parent, dict):
        key = rng.choice(keys) if keys and rng.chance(50) else "unknown%d" % rng.below(9)
        parent[key] = json_value(rng)
        return obj, "add %r" % (p[:-1] + (key,),)
    parent.append(json_value(rng))
    return obj, "append %r" % (p[:-1],)
