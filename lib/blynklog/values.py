# blynklog.values: add()'s checks of a value its inline path does not take (Logger.add stores a
# double stream's finite float and an int stream's 32-bit int itself): an int or a bool for a
# double stream, bool, enum, string and location streams, and the errors for a wrong value.
# Imported at the first such value and kept; a wake that adds floats and ints does not load it.
# Allocates nothing for a valid number (comparisons only).
from . import _INF, _INT_MAX, _INT_MIN, _NINF, _is_int

_FLOAT_INT_MAX = 9007199254740992  # 2**53: ints beyond cannot be a double stream's value
_STRING_MAX = 1024
_NUMBER = (int, float)  # a tuple literal of names is built at each call


def _is_number(v):
    return isinstance(v, _NUMBER) and not isinstance(v, bool)


def _finite(name, v):
    # comparisons only: float arithmetic would box a float per call (add() allocates nothing)
    if isinstance(v, float) and (v != v or v == _INF or v == _NINF):  # NaN and infinities
        raise ValueError("%s: value must be finite, got %r" % (name, v))
    if _is_int(v) and not -_FLOAT_INT_MAX <= v <= _FLOAT_INT_MAX:
        raise ValueError("%s: value out of range" % name)


def _plain(v):
    # a value of a subclass of int, float or str (an IntEnum member, a sensor library's number
    # type) as the plain value it holds: the store takes these types only, and MicroPython cannot
    # compare an int with an int subclass's value (float() refuses a float subclass's there)
    t = type(v)
    if t is int or t is float or t is str or t is bool:
        return v
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float):
        return v * 1.0
    if isinstance(v, str):
        return str(v)
    return v


def checked(name, s, value):
    t = s["type"]
    value = _plain(value)
    if t == "double":
        if not _is_number(value):
            raise TypeError("%s: expected a number, got %s" % (name, type(value).__name__))
        _finite(name, value)
        return value
    if t == "int" or t == "enum":
        if not _is_int(value):
            raise TypeError("%s: expected an int, got %s" % (name, type(value).__name__))
        if not _INT_MIN <= value <= _INT_MAX:
            raise ValueError("%s: %d does not fit a 32-bit integer" % (name, value))
        return value
    if t == "bool":
        # stored as a bool record and sent as true/false: Blynk's batch upload asks for true or
        # false on a boolean datastream (0/1 is a number)
        if isinstance(value, bool):
            return value
        if _is_int(value) and value in (0, 1):
            return value == 1
        raise TypeError("%s: expected True/False (or 0/1), got %r" % (name, value))
    if t == "string":
        from .record import utf8

        if not isinstance(value, str):
            raise TypeError("%s: expected a str, got %s" % (name, type(value).__name__))
        try:
            n = len(utf8(value))  # a lone surrogate has no UTF-8: refused on every runtime
        except ValueError as e:
            raise ValueError("%s: %s" % (name, e))
        if n > _STRING_MAX:
            raise ValueError("%s: string longer than %d bytes of UTF-8" % (name, _STRING_MAX))
        return value
    # location: (lon, lat)
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError("%s: expected a (lon, lat) pair" % name)
    lon, lat = _plain(value[0]), _plain(value[1])
    if not _is_number(lon) or not _is_number(lat):
        raise TypeError("%s: lon and lat must be numbers" % name)
    _finite(name, lon)
    _finite(name, lat)
    if not -180 <= lon <= 180 or not -90 <= lat <= 90:
        raise ValueError("%s: lon must be within +-180 and lat within +-90" % name)
    return (float(lon), float(lat))
