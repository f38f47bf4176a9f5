# Fault injection for the portable tests (CPython and the MicroPython unix ports), without changing
# lib/: stand-ins replace module attributes of blynklog for the duration of a run.
#   budget = faults.Budget()          counts every fallible call made while it is armed
#   with faults.Injected(budget):     the stand-ins are in place (restored on exit)
#       budget.arm(k)                 the k-th fallible call from now fails (k=0: none fails)
#       budget.arm(k, cut=True)       a power cut at the k-th call instead: it and every fallible
#                                     call after it raise PowerCut (a BaseException: the code's own
#                                     handlers let it pass, its finally blocks reach no flash/socket)
#       ... log.sync() ...
#       budget.disarm()               -> budget.n calls were made; budget.fired names the one that failed
# Fallible calls, each one injection point (its site name, the error raised):
#   sock.connect, sock.send, sock.recv    OSError   each socket (or TLS socket) connect/handshake,
#                                                   write/send/sendall, read/recv/recv_into, through a
#                                                   Connection subclass put in blynklog.http
#   flash.open, flash.write, flash.flush, flash.close, flash.rename, flash.remove, flash.fsync
#                                         OSError   the store's and the state's file system calls:
#                                                   `open` for writing and `os` in blynklog.store, its
#                                                   reading side blynklog.segment and blynklog.clock (State's); the raw store's flash file (its
#                                                   writes and flushes, `open` in blynklog.rawstore)
#   mem.body, mem.chunk                   MemoryError  the encoder's body (each call and each chunk),
#                                                   through blynklog.blynk.body
#   mem.commit                            MemoryError  the store's commit record (json.dumps in
#                                                   blynklog.store and blynklog.rawstore)
#   mem.readbuf, mem.commitbuf            MemoryError  the store's read buffer (each records()) and its
#                                                   commit record's buffer (bytearray in blynklog.store)
#   mem.state                             MemoryError  the state file's JSON (json.dumps in State, blynklog.clock)
#   mem.answer                            MemoryError  parsing an answer (json.loads in blynklog.blynk)
#   mem.request, mem.reply                MemoryError  each HTTP request as it starts, and as its answer
#                                                   is read (the request went out whole)
# The error is raised instead of the call (nothing is written, sent or read by it).
import json as _json
import os as _os
import sys as _sys

_EIO = 5
_ECONNRESET = 104


def _error(site):
    if site.startswith("mem."):
        return MemoryError("injected at " + site)
    if site.startswith("sock."):
        return OSError(_ECONNRESET)
    return OSError(_EIO)


class PowerCut(BaseException):
    pass


class Budget:
    def __init__(self):
        self.k = 0
        self.n = 0
        self.armed = False
        self.cut = False
        self.dead = False
        self.skip = ()
        self.fired = None
        self.sites = {}  # site -> calls made while armed (the last run)

    def arm(self, k, cut=False, skip=()):
        # skip: sites not counted (they never fail), e.g. ("flash.write",) around many appends
        self.skip = skip
        self.k = k
        self.n = 0
        self.fired = None
        self.sites = {}
        self.cut = cut
        self.dead = False
        self.armed = True

    def disarm(self):
        self.armed = False
        return self.n

    def hit(self, site):
        if not self.armed:
            return
        if self.dead:
            raise PowerCut(site)
        if site in self.skip:
            return
        self.n += 1
        self.sites[site] = self.sites.get(site, 0) + 1
        if self.n == self.k:
            self.fired = site
            if self.cut:
                self.dead = True
                raise PowerCut(site)
            raise _error(site)


# ---- the file system


class _File:
    # A file opened for writing: write, flush and close can fail.
    def __init__(self, real, budget):
        self._f = real
        self._b = budget

    def write(self, *args):
        self._b.hit("flash.write")
        return self._f.write(*args)

    def flush(self):
        self._b.hit("flash.flush")
        return self._f.flush()

    def close(self):
        f = self._f
        if f is None:
            return
        self._f = None
        try:
            self._b.hit("flash.close")
        finally:
            f.close()

    def fileno(self):
        return self._f.fileno()

    def readinto(self, buf):
        return self._f.readinto(buf)

    def read(self, *args):
        return self._f.read(*args)

    def seek(self, *args):
        return self._f.seek(*args)

    def tell(self):
        return self._f.tell()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _Os:
    # The os module as blynklog.store / blynklog.clock (State) see it: rename, remove and fsync can fail.
    def __init__(self, real, budget):
        self._os = real
        self._b = budget

    def __getattr__(self, name):
        return getattr(self._os, name)

    def rename(self, a, b):
        self._b.hit("flash.rename")
        return self._os.rename(a, b)

    def remove(self, path):
        self._b.hit("flash.remove")
        return self._os.remove(path)


class _OsFsync(_Os):
    # CPython's store calls os.fsync when the module has it
    def fsync(self, fd):
        self._b.hit("flash.fsync")
        return self._os.fsync(fd)


def _opener(budget):
    real_open = open

    def fault_open(name, mode="r", *args):
        if "w" in mode or "a" in mode or "+" in mode:
            budget.hit("flash.open")
            return _File(real_open(name, mode, *args), budget)
        return real_open(name, mode, *args)

    return fault_open


def _allocator(budget):
    real = bytearray

    def fault_bytearray(*args):
        # the store's 1200-byte read buffer (one per records() iterator), else its commit record
        budget.hit("mem.readbuf" if args and args[0] == 1200 else "mem.commitbuf")
        return real(*args)

    return fault_bytearray


# ---- JSON and the encoder (allocation-heavy steps)


class _Json:
    def __init__(self, budget, site):
        self._b = budget
        self._site = site

    def dumps(self, obj, *args, **kw):
        if self._site == "mem.commit" or self._site == "mem.state":
            self._b.hit(self._site)
        return _json.dumps(obj, *args, **kw)

    def dump(self, obj, f):
        # one string written at once: the same bytes as json.dump
        if self._site == "mem.state":
            self._b.hit(self._site)
        f.write(_json.dumps(obj))

    def loads(self, s):
        if self._site == "mem.answer":
            self._b.hit(self._site)
        return _json.loads(s)

    def load(self, f):
        return _json.load(f)


class _Encoder:
    def __init__(self, real, budget):
        self._enc = real
        self._b = budget

    def __getattr__(self, name):
        return getattr(self._enc, name)

    def body_chunks(self, *args):
        self._b.hit("mem.body")
        return _chunks(self._enc.body_chunks(*args), self._b)


def _chunks(it, budget):
    for chunk in it:
        budget.hit("mem.chunk")
        yield chunk


# ---- sockets


class _Sock:
    def __init__(self, real, budget):
        self.real = real
        self._b = budget

    def recv_into(self, buf, *args):
        self._b.hit("sock.recv")
        return self.real.recv_into(buf, *args)

    def recv(self, n):
        self._b.hit("sock.recv")
        return self.real.recv(n)

    def readinto(self, buf):  # MicroPython's read of what has come (http.py after a poll)
        self._b.hit("sock.recv")
        return self.real.readinto(buf)

    def settimeout(self, t):
        return self.real.settimeout(t)

    def close(self):
        return self.real.close()


class _SockSendall(_Sock):
    # CPython sockets (plain and TLS)
    def sendall(self, data):
        self._b.hit("sock.send")
        return self.real.sendall(data)


class _SockWrite(_Sock):
    # MicroPython sockets and TLS sockets: http.py writes piece by piece (no sendall here)
    def write(self, data):
        self._b.hit("sock.send")
        return self.real.write(data)


def _sock(real, budget):
    if hasattr(real, "sendall"):
        return _SockSendall(real, budget)
    return _SockWrite(real, budget)


class _SocketModule:
    # blynklog.http's socket module, with TCP_NODELAY on each new socket: http.py writes the head
    # and the body apart, and Nagle's algorithm against the server's delayed ACK costs ~40 ms a
    # request on loopback. Speed only: nothing else changes.
    def __init__(self, real):
        self._socket = real

    def __getattr__(self, name):
        return getattr(self._socket, name)

    def socket(self, *args):
        s = self._socket.socket(*args)
        try:
            s.setsockopt(6, 1, 1)  # IPPROTO_TCP, TCP_NODELAY (Linux numbers; the unix ports lack the names)
        except (OSError, AttributeError, TypeError):
            pass
        return s


def _connection_class(http, budget):
    base = http.Connection

    class FaultConnection(base):
        def request_gen(self, *args):
            budget.hit("mem.request")  # building the request head, before a byte goes
            return base.request_gen(self, *args)

        def _answer(self, *args):
            budget.hit("mem.reply")  # the request went out whole: reading its answer
            return base._answer(self, *args)

        def _open(self):
            budget.hit("sock.connect")
            base._open(self)
            self._sock = _sock(self._sock, budget)

        def _stale(self):
            # select.poll wants the real socket
            s = self._sock
            if isinstance(s, _Sock):
                self._sock = s.real
                try:
                    return base._stale(self)
                finally:
                    self._sock = s
            return base._stale(self)

    return FaultConnection


# ---- putting them in place


class Injected:
    def __init__(self, budget):
        self.budget = budget
        self._saved = []

    def _set(self, module, name, value):
        try:
            old = getattr(module, name)
            had = name in module.__dict__
        except AttributeError:
            old, had = None, False
        self._saved.append((module, name, had, old))
        setattr(module, name, value)

    def __enter__(self):
        import blynklog
        import blynklog.blynk
        import blynklog.clock
        import blynklog.frame
        import blynklog.frame_write
        import blynklog.http
        import blynklog.rawstore
        import blynklog.segment
        import blynklog.store
        import blynklog.store_open  # loaded here, Store() keeps it (with its stand-ins) after opening

        b = self.budget
        store = blynklog.store
        os_class = _OsFsync if hasattr(_os, "fsync") else _Os
        self._set(store, "os", os_class(_os, b))
        self._set(store, "open", _opener(b))
        self._set(store, "bytearray", _allocator(b))
        self._set(store, "json", _Json(b, "mem.commit"))
        # its opening (store_open.py) and its writing side (frame_write.py: the segments' files)
        for mod in (blynklog.store_open, blynklog.frame_write):
            self._set(mod, "os", os_class(_os, b))
            self._set(mod, "open", _opener(b))
            self._set(mod, "bytearray", _allocator(b))
        self._set(blynklog.store_open, "json", _Json(b, "mem.commit"))
        # the store's reading side (segment.py: scans, commits, the cursors file's writing)
        self._set(blynklog.segment, "os", os_class(_os, b))
        self._set(blynklog.segment, "open", _opener(b))
        self._set(blynklog.segment, "bytearray", _allocator(b))
        self._set(blynklog.segment, "json", _Json(b, "mem.commit"))
        self._set(blynklog.rawstore, "open", _opener(b))  # the raw store's flash file (FileFlash)
        self._set(blynklog.rawstore, "json", _Json(b, "mem.commit"))
        # State is in clock.py: its file system and JSON are clock's
        self._set(blynklog.clock, "os", _Os(_os, b))
        self._set(blynklog.clock, "open", _opener(b))
        self._set(blynklog.clock, "json", _Json(b, "mem.state"))
        self._set(blynklog.blynk, "json", _Json(b, "mem.answer"))
        from blynklog import body

        self._set(blynklog.blynk, "body", _Encoder(body, b))
        self._set(blynklog.http, "Connection", _connection_class(blynklog.http, b))
        self._set(blynklog.http, "socket", _SocketModule(blynklog.http.socket))
        self._set(blynklog, "print", _quiet)  # the Logger's warning about plain http, each run
        # Logger.close() lets the upload side's modules go (sys.modules), and a store's close its
        # reading side (segment.py): the next Logger would import them afresh, without the
        # stand-ins above. They stay while injected.
        self._set(blynklog, "_drop", _keep)
        self._set(blynklog.frame, "free", _free_keeping(blynklog.frame.free, blynklog.segment))
        return self

    def __exit__(self, *exc):
        self.budget.disarm()
        while self._saved:
            module, name, had, old = self._saved.pop()
            if had:
                setattr(module, name, old)
            else:
                delattr(module, name)


def _quiet(*args, **kw):
    pass


def _keep(name, was_loaded):
    pass


def _free_keeping(free, segment):
    # frame.free() as it is, then blynklog.segment (with its stand-ins) back where it was
    def free_keeping(store):
        import blynklog

        free(store)
        _sys.modules["blynklog.segment"] = segment
        blynklog.segment = segment

    return free_keeping
