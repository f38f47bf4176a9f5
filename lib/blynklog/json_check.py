# blynklog.json_check: check(data) raises ValueError(offset, what) where a configuration file's
# bytes are not JSON as RFC 8259 has it, less surrogate escapes. MicroPython's json.loads takes
# more (a comma left out or one too many, 02, any escape, text after the value), CPython's NaN
# and half surrogate pairs, and MicroPython reads a surrogate pair's escape as two halves: checked
# first, a file means one thing on every runtime. Imported by config.load() for a file only, and
# let go after (a module of its own: compiled from .py apart from config.py, a smaller peak).
# Bytes, not text: indexing MicroPython's str walks it from the start. Nesting is capped at
# _MAX_DEPTH, which RFC 8259 allows: CPython's reader gave up at about 1,000 levels, MicroPython's
# at its C stack's end, which a board reaches far earlier than the unix port.
from .compat import const

_MAX_DEPTH = const(64)
_HEX = b"0123456789abcdefABCDEF"


def _ws(t, i):
    n = len(t)
    while i < n and t[i] in b" \t\n\r":
        i += 1
    return i


def _json_string(t, i):
    # t[i] is '"': -> the offset after the string; ValueError(offset, what) when it is not JSON's.
    # By find() from one quote or backslash to the next (a board's bytecode would take half a
    # second for a 10 KB file byte by byte). A control byte outside a string is no token.
    n = len(t)
    i += 1
    q = -1
    while True:
        if q < i:  # the next quote; again only after an escaped one (a rescan per escape is quadratic)
            q = t.find(b'"', i)
            if q < 0:
                raise ValueError(n, "a string without its end")
        k = t.find(b"\\", i, q)
        end = q if k < 0 else k
        if end > i and min(memoryview(t)[i:end]) < 0x20:  # min() runs in C
            while t[i] >= 0x20:
                i += 1
            raise ValueError(i, "a control character in a string")
        if k < 0:
            return q + 1
        e = t[k + 1 : k + 2]
        if e == b"u":
            if 0xD800 <= _hex4(t, k + 2) < 0xE000:
                # half of a pair (CPython reads it as no character UTF-8 has), or a pair,
                # which MicroPython's json reads as two halves: the character, not its escape
                raise ValueError(k, "a surrogate escape: write the character itself")
            i = k + 6
        elif e and e in b'"\\/bfnrt':
            i = k + 2
        else:
            raise ValueError(k, "an escape JSON does not have")


def _hex4(t, i):
    h = t[i : i + 4]
    for c in h:
        if c not in _HEX:
            break
    else:
        if len(h) == 4:
            return int(h, 16)
    raise ValueError(i, "\\u without 4 hex digits")


def _digits(t, k):
    n = len(t)
    while k < n and 0x30 <= t[k] <= 0x39:
        k += 1
    return k


def _json_number(t, i):
    # t[i] is '-' or a digit: -> the offset after the number
    n = len(t)
    j = i + 1 if t[i] == 0x2D else i  # -
    k = _digits(t, j)
    bad = k == j or (t[j] == 0x30 and k > j + 1)  # none, or a leading 0
    if not bad and k < n and t[k] == 0x2E:  # .
        j = k + 1
        k = _digits(t, j)
        bad = k == j
    if not bad and k < n and t[k] in b"eE":
        j = k + 1
        if j < n and t[j] in b"+-":
            j += 1
        k = _digits(t, j)
        bad = k == j
    if bad:
        raise ValueError(i, "a number JSON does not have")
    return k


def check(t):
    # t: a file's bytes (UTF-8, checked before)
    n = len(t)
    closers = []  # of the open objects and arrays
    i = _ws(t, 0)
    key = False  # an object's key is due at i
    while True:
        if i >= n:
            raise ValueError(i, "the text ends early")
        c = t[i]
        if key:
            if c != 0x22:
                raise ValueError(i, "a key (a string) expected")
            i = _ws(t, _json_string(t, i))
            if t[i : i + 1] != b":":
                raise ValueError(i, "':' expected")
            i = _ws(t, i + 1)
            key = False
            continue
        if c == 0x7B or c == 0x5B:  # { [
            close = c + 2  # } ]
            if len(closers) >= _MAX_DEPTH:  # an empty one too: it is a level as deep
                raise ValueError(i, "nested more than %d deep" % _MAX_DEPTH)
            i = _ws(t, i + 1)
            if i >= n or t[i] != close:
                closers.append(close)
                key = close == 0x7D
                continue
            i += 1
        elif c == 0x22:
            i = _json_string(t, i)
        elif c == 0x2D or 0x30 <= c <= 0x39:
            i = _json_number(t, i)
        else:
            for word in (b"true", b"false", b"null"):
                if t[i : i + len(word)] == word:
                    i += len(word)
                    break
            else:
                raise ValueError(i, "a value expected")
        # after a value: a comma, the end of its object or array, or the end of the text
        while True:
            i = _ws(t, i)
            if not closers:
                if i < n:
                    raise ValueError(i, "more after the JSON value")
                return
            if i < n and t[i] == 0x2C:  # ,
                i = _ws(t, i + 1)
                key = closers[-1] == 0x7D
                break
            if i >= n or t[i] != closers[-1]:
                raise ValueError(i, "',' or '%s' expected" % chr(closers[-1]))
            closers.pop()
            i += 1
