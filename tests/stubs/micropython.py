# Stand-in for MicroPython's `micropython` module on CPython.


def const(x):
    return x


def heap_lock():
    return 0


def heap_unlock():
    return 0


def mem_info(verbose=None):
    pass


def opt_level(level=None):
    return 0


def schedule(func, arg):
    func(arg)
