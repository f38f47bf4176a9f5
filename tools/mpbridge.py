#!/usr/bin/env python3
"""The virtual board on a TCP port: the MicroPython unix port on a pty, bridged to 127.0.0.1.

mpremote cannot open a bare pty (it sets RTS, which a pty refuses), but it can open
socket://host:port. This bridge runs `micropython` (the REPL, which speaks the raw REPL like a
board) on a pty whose working directory is the board's "flash" folder, and relays one TCP client
at a time to it. Files that mpremote copies land in that folder; MICROPYPATH gives the REPL a
board's import path ("", ".frozen", "lib"). When the micropython process ends (a soft reset ends
the unix port), the bridge starts a new one.

    python tools/mpbridge.py --flash DIR [--port 0] [--micropython EXE] [--heapsize 2M]
    python tools/mpbridge.py --vboard DIR ...   (a virtual board of tools/vboard.py: its REPL has
                                                 the board's chip; DIR/flash is the file system)
    -> prints {"port": N, "url": "socket://127.0.0.1:N", "flash": DIR} when ready
    mpremote connect socket://127.0.0.1:N resume exec "print(1)"

It listens on loopback only and serves until SIGTERM/SIGINT (or --max-seconds).
"""
import argparse
import json
import os
import pty
import select
import signal
import socket
import subprocess
import sys
import time
import tty

IDLE_POLL_S = 0.2


class Bridge:
    def __init__(self, flash, port=0, micropython=None, heapsize="2M", env=None):
        self.flash = os.path.abspath(flash)
        self.env = env  # the REPL's environment (default: os.environ with a board's MICROPYPATH)
        os.makedirs(self.flash, exist_ok=True)
        self.exe = micropython or default_micropython()
        self.heapsize = heapsize
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", port))
        self.listener.listen(1)
        self.port = self.listener.getsockname()[1]
        self.url = "socket://127.0.0.1:%d" % self.port
        self.proc = None
        self.master = None
        self.client = None
        self.starts = 0
        self._stop = False

    def _spawn(self):
        self._reap()
        master, slave = pty.openpty()
        tty.setraw(slave)
        env = dict(self.env or os.environ)
        if self.env is None:
            env["MICROPYPATH"] = ":.frozen:lib"
        self.proc = subprocess.Popen([self.exe, "-X", "heapsize=" + self.heapsize], stdin=slave, stdout=slave,
                                     stderr=slave, cwd=self.flash, env=env, close_fds=True, start_new_session=True)
        os.close(slave)
        self.master = master
        self.starts += 1

    def _reap(self):
        if self.master is not None:
            os.close(self.master)
            self.master = None
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(2)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(2)
            self.proc = None

    def _drop_client(self):
        if self.client is not None:
            try:
                self.client.close()
            except OSError:
                pass
            self.client = None

    def serve(self, max_seconds=None):
        deadline = None if max_seconds is None else time.monotonic() + max_seconds
        self._spawn()
        try:
            while not self._stop and (deadline is None or time.monotonic() < deadline):
                if self.proc.poll() is not None:
                    self._spawn()  # the board "rebooted"
                fds = [self.listener, self.master] + ([self.client] if self.client is not None else [])
                try:
                    ready, _, _ = select.select(fds, [], [], IDLE_POLL_S)
                except (OSError, ValueError):
                    continue
                if self.listener in ready:
                    conn, _ = self.listener.accept()
                    self._drop_client()  # one client at a time, like a serial port
                    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    self.client = conn
                if self.master in ready:
                    try:
                        data = os.read(self.master, 4096)
                    except OSError:
                        data = b""
                    if not data:
                        self._spawn()
                        continue
                    if self.client is not None:
                        try:
                            self.client.sendall(data)
                        except OSError:
                            self._drop_client()
                if self.client is not None and self.client in ready:
                    try:
                        data = self.client.recv(4096)
                    except OSError:
                        data = b""
                    if not data:
                        self._drop_client()
                        continue
                    try:
                        os.write(self.master, data)
                    except OSError:
                        self._spawn()
        finally:
            self.close()

    def stop(self, *args):
        self._stop = True

    def close(self):
        self._drop_client()
        self._reap()
        try:
            self.listener.close()
        except OSError:
            pass


def default_micropython():
    exe = os.path.join(os.path.dirname(sys.executable), "micropython")
    return exe if os.path.exists(exe) else "micropython"


def main(argv=None):
    ap = argparse.ArgumentParser(description="The MicroPython unix port on a pty, bridged to a TCP port on 127.0.0.1.")
    ap.add_argument("--flash", default=None, help="the board's flash: the folder micropython runs in")
    ap.add_argument("--vboard", default=None, help="a virtual board's folder (tools/vboard.py): its file system "
                    "DIR/flash, its chip on the REPL's sys.path")
    ap.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free one; printed)")
    ap.add_argument("--micropython", default=None, help="the unix port's executable (default: the venv's)")
    ap.add_argument("--heapsize", default="2M", help="micropython -X heapsize (default 2M)")
    ap.add_argument("--max-seconds", type=float, default=None, help="stop after this long (default: never)")
    args = ap.parse_args(argv)
    env = None
    if args.vboard:
        import vboard

        vb = vboard.VBoard(args.vboard, args.micropython)
        args.flash = vb.flash
        env = vb.env()
    elif not args.flash:
        ap.error("give --flash DIR or --vboard DIR")
    bridge = Bridge(args.flash, args.port, args.micropython, args.heapsize, env)
    signal.signal(signal.SIGTERM, bridge.stop)
    signal.signal(signal.SIGINT, bridge.stop)
    print(json.dumps({"port": bridge.port, "url": bridge.url, "flash": bridge.flash}), flush=True)
    bridge.serve(args.max_seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
