# Test helper: what the emulator holds, as raw JSON text, and exact decimal/double
# comparisons in ints, the same on every runtime (no float parse on a float32 port).
import emu


def raw_points(device=1, stream=1):
    # [(ts, value_text), ...]: the emulator's points as the text its JSON answer carries
    body = emu.request_raw("GET", "/_emu/points?device=%d&stream=%d" % (device, stream))[1].decode()
    i = body.find('"points":[')
    if i < 0 or body[i + 10 : i + 12] == "]}":
        return []
    inner = body[i + 11 : body.rfind("]}") - 1]  # ts,v],[ts,v],...,[ts,v
    out = []
    nested = inner.endswith("]")
    for p in inner.split("]],[" if nested else "],["):
        ts, _, v = p.partition(",")
        if nested and not v.endswith("]"):
            v += "]"
        out.append((int(ts.strip()), v.strip()))
    return out


def dec(text):
    # "-12.5e-3" -> (neg, num, den), exact
    t = text.strip()
    neg = t.startswith("-")
    if neg:
        t = t[1:]
    exp = 0
    for c in "eE":
        if c in t:
            t, _, x = t.partition(c)
            exp = int(x)
    if "." in t:
        a, _, b = t.partition(".")
        exp -= len(b)
        t = a + b
    n = int(t)
    if exp >= 0:
        return neg, n * 10**exp, 1
    return neg, n, 10**-exp


def _bitlen(n):
    return len(bin(n)) - 2 if n else 0


def _div_even(num, den):
    q, r = divmod(num, den)
    if 2 * r > den or (2 * r == den and q & 1):
        q += 1
    return q


def double_of(text):
    # the IEEE double nearest the decimal text, as (neg, m, e) (normal range only; 0 -> (neg, 0, 0))
    neg, num, den = dec(text)
    if num == 0:
        return neg, 0, 0
    e = _bitlen(num) - _bitlen(den) - 53
    for _ in range(4):
        q = _div_even(num << -e, den) if e < 0 else _div_even(num, den << e)
        if q >= 1 << 53:
            e += 1
        elif q < 1 << 52:
            e -= 1
        else:
            return neg, q, e
    raise AssertionError(text)


def same_double(a, b):
    return double_of(a) == double_of(b)
