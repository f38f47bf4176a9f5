# Helpers shared by the portable tests (CPython and the MicroPython unix port).
import os
import sys

IS_MICROPYTHON = sys.implementation.name == "micropython"
_counter = [0]


class Skipped(Exception):
    # Raised by a test that cannot run on this runtime; both runners report it as skipped.
    pass


def skip(reason):
    if not IS_MICROPYTHON:
        import pytest

        pytest.skip(reason)
    raise Skipped(reason)


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def rmtree(path):
    if not _exists(path):
        return
    if os.stat(path)[0] & 0x4000:
        for name in os.listdir(path):
            rmtree(path + "/" + name)
        os.rmdir(path)
    else:
        os.remove(path)


def tmpdir(tag="t"):
    # A new empty folder under /tmp, unique to this process and call.
    _counter[0] += 1
    base = "/tmp/blynklog-tests-%d" % (os.getpid() if hasattr(os, "getpid") else _pid())
    if not _exists(base):
        os.mkdir(base)
    path = "%s/%s%d" % (base, tag, _counter[0])
    rmtree(path)
    os.mkdir(path)
    return path


_tag = []


def _pid():
    # The unix port has no os.getpid: a random tag does the job.
    if not _tag:
        _tag.append(int.from_bytes(os.urandom(4), "little"))
    return _tag[0]


def raises(exc_type, func, *args, **kwargs):
    # Calls func and returns the exception it raised; fails when it raised nothing or another type.
    try:
        func(*args, **kwargs)
    except exc_type as e:
        return e
    raise AssertionError("%s not raised by %s" % (exc_type.__name__, getattr(func, "__name__", func)))
