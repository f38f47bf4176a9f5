# blynklog.aio: Logger.sync_async(), the upload on asyncio streams. The sync is one generator
# (logger_sync.sync_gen -> policy.run -> client.upload_gen -> Connection.request_gen; after the
# batches remote.run -> client.fetch_gen for the remote settings and events) that yields
# the I/O it needs as ops (http.py: OPEN, SEND, RECV, PEEK, STALE, SLEEP, YIELD); http.run_blocking
# does them on blocking sockets for sync(), _drive() below does them on asyncio streams. The policy,
# the report and the HTTP exchange are the same code for both: only how bytes move differs.
# Here:
#   - OPEN resolves the host with socket.getaddrinfo, which BLOCKS the loop (a DNS query; the one
#     call here that can, up to the resolver's timeout), once per host and sync (cached in _drive),
#     then asyncio.open_connection(address, port, ssl=<the verifying SSLContext>, server_hostname=
#     host): the certificate and the host name are checked as in sync() (on MicroPython at the
#     first write, where its stream does the handshake), a failure the same "tls: ..." fault;
#   - every read waits at most upload.timeout_ms (asyncio.wait_for around a read of what has
#     arrived, never around readexactly: a read that times out has taken no byte), and so does
#     every drain: a dead link (a read that never completes) is an ETIMEDOUT, reported as sync()
#     reports it; the whole answer must still come within timeout_ms (http.py);
#   - after every body chunk (512 bytes, ~20 points) and every send the loop runs other tasks.
#   - Nagle's algorithm: CPython's open_connection turns it off (as sync() does: http.no_delay);
#     MicroPython's hands no raw socket out of its TLS one, so it stays on there, and a request's
#     body may wait for the server's delayed ACK of its head (tens of ms a request).
#   - the policy's passes over the records pause every 256 records (policy._PAUSE), and the
#     upload modules load one at a time with a pause between them.
# What does not yield: a commit (one flash write), the TLS context's setup, on MicroPython the
# handshake's crypto steps, a fresh Logger's first count of its backlog (store.pending()), and
# the store's skipping of other streams' records while it looks for a stream's next one (a
# stream whose next record lies behind a long run of another's is found in one step).
# "At the same time" on one core: asyncio switches tasks only at an await, so add() and flush()
# from another task run whole, between two ops of the sync, never inside one. Across an await the
# sync holds: the batch planned (the stream's records from its commit cursor up to last_pos) and
# the scan over them that the body is encoded from (bounded by the store's end at the scan's
# start). add() only appends after that end and flush() only syncs the file, so neither changes
# what the batch reads; what add() appends meanwhile goes in a later batch or sync. The one store
# step that would, dropping the oldest segment of a full store, is held off while sync_async runs
# (store.hold: a full store refuses new samples then, counted in dropped_full as drop_newest
# counts them). The commit comes after the server's answer, at one step, so a sample is counted
# sent once, and the books balance. sync() while one runs raises ValueError, and so does close()
# (it must wait for the sync); a second sync_async() waits for it to end (_after_the_running_one).
# Cancelling the task ends the sync as a network fault would: the connection is closed, nothing
# unacknowledged is committed, the state is saved. A task
# left pending when its loop ended (MicroPython's asyncio.run does not finish other tasks) is
# ended so at the next sync(), at close(), or when a full store would hold for it, whichever comes
# first with no loop running (logger_sync.left_behind); a sync_async() in a later loop waits for it
# (that loop runs it on), or ends it when it makes no step (a loop that never runs it).
# The requests transport has no asyncio side: its requests block the loop (requests_transport.py).
# RAM: per op a 3-tuple, per read or drain a wait_for task; the resolved addresses of one sync.
import asyncio
import socket

from .http import OPEN, PEEK, RECV, SEND, SLEEP, STALE, YIELD, tls_fault
from .compat import IS_MICROPYTHON, const, ticks_diff, ticks_ms

_POLL_S = 0.02  # how often a sync_async waiting for the running one looks again
_POLL_MS = const(20)


async def sync(log, budget_ms):
    from .logger_sync import sync_gen

    await _after_the_running_one(log)
    gen = sync_gen(log, budget_ms, None, True)
    try:
        op = gen.send(None)  # its checks first: a sync already running raises here
    except StopIteration as e:
        return e.value
    # held while it runs: a task left pending when its loop ended (MicroPython's asyncio.run
    # returns with other tasks still queued) is closed by the next sync (logger_sync.left_behind)
    log._async = gen
    log._async_ms = ticks_ms()
    try:
        return await _drive(gen, op, log)
    finally:
        if log._async is gen:
            log._async = None


async def _after_the_running_one(log):
    # A sync_async of this Logger already running (another task's, or, on MicroPython, one a loop
    # that has ended left queued, which this loop runs on): this one waits for it to end. One that
    # makes no step for longer than any of its steps can take is in no running loop (one dropped
    # by asyncio.new_event_loop()): it is ended here, as logger_sync.left_behind ends one with no
    # loop running.
    # The time without a step is counted while this loop runs: a loop held up by a blocking call
    # (a slow getaddrinfo, another task's) held the running sync up too, and counts a poll's
    # worth (by the clock alone, a sync still running in this loop was ended under its task,
    # which then gave no report, or raised)
    from .logger_sync import STEP_SLACK_MS

    most = log._cfg["upload"]["timeout_ms"] + STEP_SLACK_MS
    seen = log._async_ms
    idle = 0
    t = ticks_ms()
    while log._syncing and log._async is not None:
        await asyncio.sleep(_POLL_S)
        now = ticks_ms()
        if log._async_ms != seen:  # it made a step
            seen = log._async_ms
            idle = 0
        else:
            gap = ticks_diff(now, t)
            idle += gap if gap < _POLL_MS * 4 else _POLL_MS
        t = now
        if idle > most and log._async is not None:
            gen = log._async
            log._async = None
            gen.close()  # its clean-up: the connection closed, the store let go, the state saved
            break


async def _drive(gen, op, log):
    # As http.run_blocking: each op done here, its result sent back in, its fault thrown back in.
    addrs = {}
    while True:
        log._async_ms = ticks_ms()  # (a sync_async called meanwhile: _after_the_running_one)
        val = err = None
        try:
            val = await _do(op, addrs)
        except asyncio.TimeoutError:
            err = OSError(110)  # ETIMEDOUT, as a blocking socket's timeout says it
        except ValueError as e:
            # a certificate that failed verification: at OPEN on CPython, at the first SEND or RECV
            # on MicroPython (its asyncio stream does the handshake there); the TLS fault sync() gives
            err = tls_fault(e) if op[1] is not None and op[1].tls else e
        except OSError as e:
            err = e
            if getattr(e, "errno", 0) is None and type(e).__name__ == "ConnectionResetError":
                err = OSError(104)  # CPython's streams: "Connection lost", a blocking socket's ECONNRESET
        except BaseException as e:  # cancelled too: the sync's handlers close the connection, save the state
            err = e
        try:
            op = gen.send(val) if err is None else gen.throw(err)
        except StopIteration as e:
            return e.value


async def _do(op, addrs):
    code = op[0]
    conn = op[1]
    if code == SEND:
        w = conn._sock
        w.write(op[2] if IS_MICROPYTHON else bytes(op[2]))  # CPython may keep the view: the encoder reuses it
        await asyncio.wait_for(w.drain(), conn.timeout_ms / 1000)
        if conn._shaking:  # the handshake went with the first write (_open)
            conn._shaking = False
            conn.handshakes += 1
            # ...and the request's head after it: its time (the policy's pace counts from it) is
            # now, not from before the handshake (the next request went tens of ms too soon)
            conn.sent_ms = ticks_ms()
    elif code == RECV:
        free = conn._mv[conn._end :]
        wait_s = conn._left() / 1000  # at most until the answer's deadline
        if IS_MICROPYTHON:
            return await asyncio.wait_for(_readinto(conn._reader, free), wait_s)
        data = await asyncio.wait_for(conn._reader.read(len(free)), wait_s)
        n = len(data)
        free[:n] = data
        return n
    elif code == YIELD:
        await asyncio.sleep(0)
    elif code == PEEK:
        return await _peek(conn)
    elif code == STALE:
        await asyncio.sleep(0)
        return _stale(conn._reader)
    elif code == SLEEP:
        await asyncio.sleep(op[2] / 1000)
    elif code == OPEN:
        await _open(conn, addrs)
    return None


async def _open(conn, addrs):
    key = (conn.host, conn.port)
    addr = addrs.get(key)
    if addr is None:
        # BLOCKS the loop: a DNS query (asyncio has no resolver on MicroPython); once per sync
        addr = _numeric(socket.getaddrinfo(conn.host, conn.port, 0, socket.SOCK_STREAM)[0], conn.host)
        addrs[key] = addr
    if conn.tls:
        ctx = conn._context()
        aw = asyncio.open_connection(addr, conn.port, ssl=ctx, server_hostname=conn.host)
    else:
        aw = asyncio.open_connection(addr, conn.port)
    r, w = await asyncio.wait_for(aw, conn.timeout_ms / 1000)  # a failed verification: _drive
    conn._reader = r
    conn._sock = w
    conn._raw = None
    if conn.tls:
        # CPython's open_connection has made the handshake; MicroPython's stream makes it at the
        # first write, which counts it (a dead port or a refused certificate fails there)
        if IS_MICROPYTHON:
            conn._shaking = True
        else:
            conn.handshakes += 1


def _numeric(ai, host):
    # The numeric address of a getaddrinfo entry, for open_connection to resolve without a query:
    # a (host, port) tuple on CPython and lwIP ports, a raw sockaddr on the unix port.
    sa = ai[-1]
    if isinstance(sa, tuple):
        return sa[0]
    try:
        if ai[0] == socket.AF_INET:
            return socket.inet_ntop(ai[0], bytes(sa[4:8]))  # type: ignore[attr-defined]  # the stubs lack it
        return socket.inet_ntop(ai[0], bytes(sa[8:24]))  # type: ignore[attr-defined]
    except Exception:
        return host  # open_connection resolves it (and blocks) itself


async def _readinto(r, free):
    # MicroPython's Stream: what arrives, read into the buffer (read() makes a bytes object of the
    # size asked, http.py's _recv says why that matters). Its readinto() waits for the socket to be
    # readable, and returns None when that was nothing for us (a TLS session ticket): wait again.
    # Bounded by the caller's wait_for.
    while True:
        n = await r.readinto(free)
        if n is not None:
            return n


async def _peek(conn):
    # A read that does not wait (an answer that came while the body still goes) -> count or None.
    r = conn._reader
    free = conn._mv[conn._end :]
    buf = getattr(r, "_buffer", None)
    if buf is not None:
        # CPython's StreamReader: what arrived is in its buffer already (a read of it returns at once)
        if not buf and not r.at_eof():
            return None
        data = await r.read(len(free))
    else:
        # MicroPython's Stream: its socket is non-blocking, a read of it returns None when empty
        return r.s.readinto(free)
    n = len(data)
    free[:n] = data
    return n


def _stale(r):
    # Whether the idle kept connection was closed by the server (readable: EOF or junk).
    buf = getattr(r, "_buffer", None)
    if buf is not None:
        return bool(buf) or r.at_eof()
    try:
        import select

        p = select.poll()
        p.register(r.s, select.POLLIN)
        return bool(p.poll(0))
    except Exception:
        return False
