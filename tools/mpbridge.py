#!/usr/bin/env python3
"""The virtual board on a TCP port: the MicroPython unix port on a pty, bridged to 127.0.0.1.

mpremote cannot open a bare pty (it sets RTS, which a pty refuses), but it can open
socket://host:port. This bridge runs `micropython` (the REPL, which speaks the raw REPL like a
board) on a pty whose working directory is the board's "flash" folder, and relays one TCP client
at a time to it. Files that mpremote copies land in that folder; MICROPYPATH gives the REPL a
board's import path ("", ".frozen", "lib").

It answers as a board's USB REPL does, so plain mpremote commands work (ls, cp, rm, run, exec,
mip install, soft-reset, reset), not only `resume`:
- at start the board waits at its REPL (as a board whose main.py was stopped by Ctrl-C);
- a soft reset (Ctrl-D at an empty prompt, raw or friendly, or SystemExit) ends the unix port; the
  bridge prints "MPY: soft reboot" and boots a fresh interpreter: boot.py (and main.py when the
  REPL was the friendly one), then the REPL, raw again if it was. Nothing imported survives;
- a hard reset (machine.reset() on a virtual board, a crash) boots boot.py then main.py, then the
  REPL, as a board's reset does: with the firmware deployed that is the firmware's loop;
- a deep sleep (the chip ends the process with 75) lasts its time over the world's time_scale
  (hw.json), then the board boots as above; it does not answer meanwhile, but a Ctrl-C stands for
  its reset button: it boots at once, and the Ctrl-C stops boot.py or main.py, even one that
  ends (sleeps again, resets) before the Ctrl-C reaches it: the REPL comes next;
- Ctrl-C while code runs (a main.py, an exec) interrupts it (KeyboardInterrupt), as on a board;
  at a prompt it goes to the REPL as the byte it is.
A boot is one process (boot.py, main.py) and its REPL another (the unix port's -i would take a
SystemExit to its REPL rather than end): main.py's globals are not at the REPL, as they are on a
board.

    python tools/mpbridge.py --flash DIR [--port 0] [--micropython EXE] [--heapsize 2M]
    python tools/mpbridge.py --vboard DIR ...   (a virtual board of tools/vboard.py: its REPL has
                                                 the board's chip; DIR/flash is the file system;
                                                 --new makes the board when DIR holds none)
    -> prints {"port": N, "url": "socket://127.0.0.1:N", "flash": DIR} when ready
    mpremote connect socket://127.0.0.1:N ls
    mpremote connect socket://127.0.0.1:N resume exec "print(1)"   (no soft reset first)

It listens on loopback only and serves until SIGTERM/SIGINT (or --max-seconds).
"""

import argparse
import json
import os
import pty
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
import tty

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_args import port_number

IDLE_POLL_S = 0.2
BOOT_TIMEOUT_S = 10  # a new process is up (and at its raw REPL prompt) within this, or is taken as it is
INTERRUPT_WAIT_S = 5  # after a Ctrl-C that interrupts code, the REPL's prompt comes within this
HOLD_MAX = 1 << 20  # client bytes held while the REPL cannot take them (mpremote sends none then)
MAX_SLEEP_S = 24 * 3600  # a deep sleep's real length is at most this
MIN_LIFE_S = 0.2  # a process that ends sooner is restarted no sooner than this after its start
DEEPSLEEP_EXIT = 75  # the virtual board's chip (tools/vboard.py): machine.deepsleep() ends the
RESET_EXIT = 76  # process with 75, machine.reset() with 76
REPL_EXIT = 97  # a boot's process ends with this when boot.py and main.py are done: the REPL next
RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"
FRIENDLY_BANNER = b'Type "help()" for more information.'
PROMPTS = (b">>> ", b"... ", b"\x04>", RAW_BANNER + b">")  # friendly; raw after a command, on entry
SOFT_REBOOT = b"MPY: soft reboot\r\n"
UP = b"\x00mpbridge: up\x00"  # a booting process's first output (not relayed): MicroPython runs
QUICKACK = getattr(socket, "TCP_QUICKACK", None)


def launch(files):
    # what a board runs at a (re)boot, before its REPL: each file in turn, a missing one skipped;
    # SystemExit (a soft reset, the chip's reset or deep sleep) ends the process with its status,
    # anything else is shown and the REPL comes next (a new process: the unix port's -i would take
    # a SystemExit to its REPL too)
    return (
        "import sys as _sys\n"
        "def _boot(f):\n"
        "    try:\n"
        "        s = open(f).read()\n"
        "    except OSError:\n"
        "        return\n"
        "    exec(s, globals())\n"
        "try:\n"
        "    _sys.stdout.write(%r)\n"
        "    for _f in %r:\n"
        "        _boot(_f)\n"
        "except SystemExit:\n"
        "    raise\n"
        "except BaseException as _e:\n"
        "    _sys.print_exception(_e)\n"
        "raise SystemExit(%d)\n"
    ) % (UP.decode(), tuple(files), REPL_EXIT)


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
        self.started_at = 0.0
        self.launched = False  # the process runs launch() (and says UP), or is the REPL
        self.boot_raw = False  # the REPL after this boot is the raw one
        self.up = False  # MicroPython in it has started (its first output)
        self.early = b""  # its output until then
        self.raw = False  # the REPL is the raw one (seen from its output)
        self.tail = b""  # the REPL's last output bytes: its mode and whether it waits at a prompt
        self.booting = None  # [deadline, output so far, stage] while it is brought to the raw REPL
        self.interrupted = None  # until when the client's bytes wait for the prompt after a Ctrl-C
        self.hold = b""  # the client's bytes meanwhile (not up, booting, interrupted)
        self.asleep = None  # until when the board deep-sleeps (no process: it does not answer)
        self.state_path = (env or {}).get("BLYNKLOG_VBOARD")  # a virtual board's chip state
        self._stop = False

    # ---- the REPL process

    def _spawn(self, kind="power", raw=False):
        # power: the REPL (the bridge's start); soft: boot.py (and main.py from the friendly REPL),
        # then the REPL, raw again if it was; hard: boot.py then main.py, then the REPL; repl: the
        # REPL after a boot, raw when raw
        self._reap()
        wait = self.started_at + MIN_LIFE_S - time.monotonic()
        if wait > 0:
            time.sleep(wait)  # a boot that ends at once (a main.py calling sys.exit()) restarts at this pace
        master, slave = pty.openpty()
        tty.setraw(slave)
        env = dict(self.env or os.environ)
        if self.env is None:
            env["MICROPYPATH"] = ":.frozen:lib"
        cmd = [self.exe, "-X", "heapsize=" + self.heapsize]
        self.launched = kind in ("soft", "hard")
        self.boot_raw = raw
        if self.launched:
            cmd += ["-c", launch(("boot.py",) if raw else ("boot.py", "main.py"))]
        self.proc = subprocess.Popen(
            cmd,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=self.flash,
            env=env,
            close_fds=True,
            start_new_session=True,
        )
        os.close(slave)
        self.master = master
        self.starts += 1
        self.started_at = time.monotonic()
        self.up, self.early, self.tail, self.raw = False, b"", b"", False
        self.interrupted = None
        self.booting = [self.started_at + BOOT_TIMEOUT_S, b"", "banner"] if raw and not self.launched else None
        if kind == "hard":
            self.hold = b""  # what was sent to the board before its reset is lost, as on a board

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

    def _ended(self):
        # the process ended: a soft reset (Ctrl-D at a prompt, SystemExit: an exit status of its own)
        # or a hard one (the chip's machine.reset() or deep sleep, a crash: a signal); the board
        # boots again accordingly
        try:
            rc = self.proc.wait(2)
        except subprocess.TimeoutExpired:
            rc = None  # its pty closed but it lingers: a hard reset
        if not self.up:
            self._send(self.early.replace(UP, b""))  # what it said before it ended
        raw = self.boot_raw if self.launched else (self.raw or self.booting is not None)
        stopped = self.interrupted is not None  # a Ctrl-C was sent and no prompt came since
        self._reap()
        if rc == REPL_EXIT or stopped:
            # a Ctrl-C that reached the code as it ended (in its deep sleep, its reset, an
            # exception) stops it all the same, as it came first: the REPL next, and the client's
            # bytes after the Ctrl-C go to it (mpremote's Ctrl-A)
            self._spawn("repl", raw)
        elif rc == DEEPSLEEP_EXIT:
            self.asleep = time.monotonic() + self._sleep_s()
            self.hold = b""
        elif rc is not None and 0 <= rc < 256 and rc != RESET_EXIT:
            self._send(SOFT_REBOOT)
            self._spawn("soft", raw)
        else:
            self._spawn("hard")

    def _sleep_s(self):
        # a deep sleep lasts its time shortened by the world's time_scale, as the chip's other
        # waits do (tools/vboard.py's runner jumps over it; here the board lives in real time)
        try:
            with open(self.state_path) as f:
                st = json.load(f)
            return min(MAX_SLEEP_S, max(0.0, float(st.get("slept_ms") or 0) / 1000 / float(st.get("time_scale") or 1)))
        except (OSError, TypeError, ValueError, ZeroDivisionError):
            return 0.0

    def _wake(self):
        self.asleep = None
        self._spawn("hard")

    def _running_code(self):
        # the REPL runs code (not waiting at a prompt): the unix port has its SIGINT handler in
        # place only then (it raises KeyboardInterrupt). A boot runs code until it ends, even as
        # it ends (its main.py back in deep sleep, its handler gone) before a Ctrl-C reaches it:
        # that Ctrl-C stops it all the same, and _ended() brings the REPL, not another sleep
        if self.launched:
            return True
        if self.tail.endswith(PROMPTS):
            return False
        try:
            with open("/proc/%d/status" % self.proc.pid) as f:
                for line in f:
                    if line.startswith("SigCgt:"):
                        return bool(int(line.split()[1], 16) & (1 << (signal.SIGINT - 1)))
        except (OSError, ValueError):
            pass
        return True

    # ---- the REPL's output

    def _from_repl(self, data):
        if self.up:
            self._relay(data)
            return
        # until MicroPython runs code or waits at its prompt, a Ctrl-C would reach the process's
        # loader (the pip port is CPython running MicroPython) and end it: a booting process
        # says UP first, the bare REPL shows its prompt
        self.early += data
        if self.launched:
            ready = UP in self.early
        else:
            ready = self.early.endswith(PROMPTS)
        if ready or len(self.early) >= HOLD_MAX:
            self._come_up()

    def _come_up(self):
        data, self.early, self.up = self.early.replace(UP, b"", 1), b"", True
        self._relay(data)
        if self.booting is None:
            self._release()

    def _relay(self, data):
        if self.booting is not None:
            self._boot_output(data)
            return
        self._note(data)
        self._send(data)
        if self.interrupted is not None and self.tail.endswith(PROMPTS):
            self._release()

    def _note(self, data):
        seen = self.tail + data
        r, f = seen.rfind(RAW_BANNER), seen.rfind(FRIENDLY_BANNER)
        if r >= 0 or f >= 0:
            self.raw = r > f
        self.tail = seen[-64:]

    def _boot_output(self, data):
        # a fresh process after a soft reset in the raw REPL: what boot.py prints goes to the
        # client, the unix port's banner does not; then Ctrl-A, and the raw REPL's prompt
        b = self.booting
        b[1] += data
        if len(b[1]) > HOLD_MAX:
            self._finish_boot(b[1])  # a boot.py that prints on and on: show it as it is
        elif b[2] == "banner":
            i = b[1].find(FRIENDLY_BANNER)
            if i >= 0 and b[1].endswith(b">>> "):
                start = b[1].rfind(b"MicroPython ", 0, i)
                self._send(b[1][: start if start >= 0 else i])
                b[1], b[2] = b"", "raw"
                self._to_repl(b"\x01")
        elif b[1].endswith(RAW_BANNER + b">"):
            self._finish_boot(RAW_BANNER + b">")

    def _finish_boot(self, out):
        self.booting = None
        self._note(out)
        self._send(out)
        self._release()

    def _release(self):
        # the client's held bytes go to the REPL now that it takes them
        self.interrupted = None
        hold, self.hold = self.hold, b""
        if hold:
            self._from_client(hold)

    def _send(self, data):
        if self.client is not None and data:
            try:
                self.client.sendall(data)
            except OSError:
                self._drop_client()

    # ---- the client's input

    def _from_client(self, data):
        if self.asleep is not None:
            # a board in deep sleep does not answer; Ctrl-C here stands for its reset button: it
            # boots now, and the Ctrl-C stops boot.py or main.py once they run
            i = data.find(b"\x03")
            if i < 0:
                return
            self._wake()
            data = data[i:]
        if not self.up or self.booting is not None or self.interrupted is not None:
            self.hold = (self.hold + data)[-HOLD_MAX:]
            return
        i = data.find(b"\x03")
        if i >= 0 and self._running_code():
            # Ctrl-C while code runs: a KeyboardInterrupt, as a board's USB REPL raises. What
            # follows waits for the REPL's prompt: the unix port, coming back to its REPL, may
            # flush the terminal's input (a board keeps it)
            self._to_repl(data[:i])
            try:
                if self.proc.poll() is None:
                    os.kill(self.proc.pid, signal.SIGINT)
            except OSError:
                pass
            self.tail = b""
            self.interrupted = time.monotonic() + INTERRUPT_WAIT_S
            self.hold = data[i + 1 :]
            return
        self._to_repl(data)

    def _to_repl(self, data):
        if data:
            try:
                os.write(self.master, data)
            except OSError:
                pass  # it ended: the read side sees it and restarts it

    def _quickack(self):
        # ACK the client's bytes at once: mpremote writes small pieces without TCP_NODELAY, and
        # its Nagle waiting on our delayed ACK would cost 40 ms a round trip (Linux; the option
        # lasts until the next delayed ACK, so it is set again after every read)
        if QUICKACK is not None:
            try:
                self.client.setsockopt(socket.IPPROTO_TCP, QUICKACK, 1)
            except OSError:
                pass

    def _drop_client(self):
        if self.client is not None:
            try:
                self.client.close()
            except OSError:
                pass
            self.client = None

    def _timers(self):
        now = time.monotonic()
        if self.proc is not None and not self.up and now > self.started_at + BOOT_TIMEOUT_S:
            self._come_up()  # it said nothing in time: taken as up
        if self.booting is not None and now > self.booting[0]:
            self._finish_boot(self.booting[1])  # it did not come up as expected: show what it said
        if self.interrupted is not None and now > self.interrupted:
            self._release()  # the code took the KeyboardInterrupt and goes on
        if self.asleep is not None and now >= self.asleep:
            self._wake()

    def serve(self, max_seconds=None):
        deadline = None if max_seconds is None else time.monotonic() + max_seconds
        self._spawn()
        try:
            while not self._stop and (deadline is None or time.monotonic() < deadline):
                self._timers()
                fds = [f for f in (self.listener, self.master, self.client) if f is not None]
                try:
                    ready, _, _ = select.select(fds, [], [], IDLE_POLL_S)
                except (OSError, ValueError):
                    continue
                if self.listener in ready:
                    conn, _ = self.listener.accept()
                    self._drop_client()  # one client at a time, like a serial port
                    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    self.client = conn
                if self.master is not None and self.master in ready:
                    try:
                        data = os.read(self.master, 4096)
                    except OSError:
                        data = b""
                    if not data:
                        self._ended()
                        continue
                    self._from_repl(data)
                if self.client is not None and self.client in ready:
                    try:
                        data = self.client.recv(4096)
                    except OSError:
                        data = b""
                    if not data:
                        self._drop_client()
                        continue
                    self._quickack()
                    self._from_client(data)
                if self.proc is not None and self.proc.poll() is not None and self.master not in ready:
                    self._drain_and_end()
        finally:
            self.close()

    def _drain_and_end(self):
        # the process ended; its last output (the raw REPL's "OK") goes out before the reboot
        for _ in range(64):
            try:
                r, _, _ = select.select([self.master], [], [], 0.05)
                data = os.read(self.master, 4096) if r else b""
            except OSError:
                data = b""
            if not data:
                break
            self._from_repl(data)
        self._ended()

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
    ap.add_argument(
        "--vboard",
        default=None,
        help="a virtual board's folder (tools/vboard.py): its file system DIR/flash, its chip on the REPL's sys.path",
    )
    ap.add_argument(
        "--new",
        action="store_true",
        help="with --vboard: make the board when DIR holds none (an empty one, to deploy to by its REPL)",
    )
    ap.add_argument("--port", type=port_number, default=0, help="TCP port on 127.0.0.1 (0: any free one; printed)")
    ap.add_argument("--micropython", default=None, help="the unix port's executable (default: the venv's)")
    ap.add_argument("--heapsize", default="2M", help="micropython -X heapsize (default 2M)")
    ap.add_argument("--max-seconds", type=float, default=None, help="stop after this long (default: never)")
    args = ap.parse_args(argv)
    exe = args.micropython or default_micropython()
    if shutil.which(exe) is None:
        sys.exit("mpbridge: --micropython %s: no such executable" % exe)
    env = None
    if args.new and not args.vboard:
        ap.error("--new is for --vboard DIR")
    if args.vboard:
        import vboard

        # a mistyped DIR must not become a new, empty board served as if it were the one meant
        if not args.new and not vboard.is_board(args.vboard):
            sys.exit("mpbridge: --vboard %s: no virtual board there (no flash/ folder); --new makes one" % args.vboard)
        vb = vboard.VBoard(args.vboard, args.micropython)
        args.flash = vb.flash
        env = vb.env()
    elif not args.flash:
        ap.error("give --flash DIR or --vboard DIR")
    try:
        bridge = Bridge(args.flash, args.port, args.micropython, args.heapsize, env)
    except OSError as e:
        if e.filename:  # makedirs of the flash folder
            sys.exit("mpbridge: %s: cannot make the folder (%s)" % (args.flash, e.strerror))
        sys.exit("mpbridge: cannot listen on 127.0.0.1:%d (%s)" % (args.port, e.strerror or e))
    signal.signal(signal.SIGTERM, bridge.stop)
    signal.signal(signal.SIGINT, bridge.stop)
    print(json.dumps({"port": bridge.port, "url": bridge.url, "flash": bridge.flash}), flush=True)
    bridge.serve(args.max_seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
