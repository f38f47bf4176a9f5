#!/usr/bin/env python3
"""Run code on the real MicroPython rp2 firmware (Pico W build) in the RP2040 emulator.

    python tools/pico.py [--board pico_w] [--image IMG] [--fs-out IMG] [--cut-after N [--torn]]
                         [--tests] [--config CFG] script.py [script.py ...]

The emulator is ../shared/pico-sim (or $BLYNKLOG_PICO_SIM): its run-pico.mjs under Node.js with
rp2040js, which `npm ci` installs into build/pico-sim-node at the versions its package-lock.json
pins (done here on first use). Without --image the run starts from an image holding what
tools/deploy.py lays on a Pico W: lib/blynklog/*.mpy, the firmware's .mpy files, board.mpy,
boot.py and main.py (and with --tests, tests/ helpers as /tests/*.mpy); it is built with the
sim's mkfs.py (littlefs-python). Exit status as run-pico.mjs: 0 ok, 1 a script raised, 3 power
cut, 4 panic, 5 timeout.

As a module (tests/test_pico*.py, tools/bench/pico_*.py):
    sim = Sim()                       # None-safe: Sim.find() returns None when there is no sim
    img = sim.image("build/pico/x.img", config=None, extra=[(src, board_path)], tests=True)
    r = sim.run(["script.py"], fs_in=img, fs_out=out, cut_after=None, torn=False)
    r.rc, r.out, r.err, r.sim_s, r.erases, r.programs
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build")
NODE_DIR = os.path.join(BUILD, "pico-sim-node")
BOARD = "pico_w"
# the tests/ modules an on-board run may import (portable ones; compiled to /tests/*.mpy)
TEST_HELPERS = ("support.py", "exactnum.py", "store_cases.py", "unix_runner.py", "test_store.py", "test_encoder.py")

_LAST = re.compile(
    r"\[pico-sim\] exit (\d+): wall ([\d.]+) s, simulated ([\d.]+) s, flash erase (\d+) "
    r"\((\d+) B\), program (\d+) \((\d+) B\)"
)


class Result:
    def __init__(self, rc, out, err):
        self.rc = rc
        self.out = out
        self.err = err
        m = _LAST.search(err)
        self.wall_s = float(m.group(2)) if m else None
        self.sim_s = float(m.group(3)) if m else None
        self.erases = int(m.group(4)) if m else None
        self.programs = int(m.group(6)) if m else None

    def lines(self, prefix):
        # the payload of every stdout line starting with prefix (a script's own report lines)
        return [line[len(prefix) :].strip() for line in self.out.splitlines() if line.startswith(prefix)]

    def __repr__(self):
        return "<pico run rc=%s sim %s s, erase %s, program %s>" % (self.rc, self.sim_s, self.erases, self.programs)


def sim_dir():
    # the folder named by BLYNKLOG_PICO_SIM (the Makefile's PICO_SIM), else None
    d = os.environ.get("BLYNKLOG_PICO_SIM", "")
    return os.path.abspath(d) if d else None


def missing(d):
    # why the emulated board cannot run here (None when it can)
    if not d:
        return "no emulator named (BLYNKLOG_PICO_SIM / make PICO_SIM=...)"
    for name in ("run-pico.mjs", "mkfs.py", "package.json", "package-lock.json", "firmware-pico-w.bin"):
        if not os.path.exists(os.path.join(d, name)):
            return "%s has no %s" % (d, name)
    node = shutil.which("node")
    if not node:
        return "no Node.js (node) on PATH"
    try:
        v = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
        if int(v.lstrip("v").split(".")[0]) < 18:
            return "Node.js %s: the emulator needs 18 or later" % v
    except (OSError, ValueError, subprocess.TimeoutExpired) as e:
        return "node --version: %s" % e
    if not shutil.which("npm") and not os.path.exists(os.path.join(NODE_DIR, "node_modules", "rp2040js")):
        return "no npm on PATH to install rp2040js"
    try:
        import littlefs  # noqa: F401  (mkfs.py needs it)
    except ImportError:
        return "no littlefs-python (requirements-dev.txt)"
    return None


def _same(a, b):
    try:
        with open(a, "rb") as fa, open(b, "rb") as fb:
            return fa.read() == fb.read()
    except OSError:
        return False


def install_node_modules(d):
    # rp2040js and uf2 at the versions the sim pins, into build/pico-sim-node (the sim's folder
    # may be read-only). Skipped when the same lock file is installed already.
    lock = os.path.join(d, "package-lock.json")
    mine = os.path.join(NODE_DIR, "package-lock.json")
    if _same(lock, mine) and os.path.exists(os.path.join(NODE_DIR, "node_modules", "rp2040js", "package.json")):
        return NODE_DIR
    os.makedirs(NODE_DIR, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copyfile(os.path.join(d, name), os.path.join(NODE_DIR, name))
    r = subprocess.run(
        ["npm", "ci", "--prefix", NODE_DIR, "--no-audit", "--no-fund"], capture_output=True, text=True, timeout=600
    )
    if r.returncode != 0:
        raise RuntimeError("npm ci --prefix %s failed:\n%s" % (NODE_DIR, (r.stderr or r.stdout)[-2000:]))
    return NODE_DIR


class Sim:
    def __init__(self, d=None, board=BOARD):
        self.dir = d or sim_dir()
        why = missing(self.dir)
        if why:
            raise RuntimeError(why)
        self.board = board
        install_node_modules(self.dir)

    @classmethod
    def find(cls):
        # a ready Sim, or None when there is none here (the reason: missing(sim_dir()))
        if missing(sim_dir()):
            return None
        return cls()

    def _deploy(self):
        sys.path.insert(0, os.path.join(ROOT, "tools"))
        import deploy

        return deploy

    def files(self, config=None, tests=False, native_of=None):
        # [(board_path, local_file)]: what tools/deploy.py copies to a Pico W (armv6m .mpy), plus
        # the tests/ helpers as /tests/*.mpy; native_of "esp32": the functions native on an ESP32
        # native here, the rest bytecode (the ESP32's code path timed on the Pico W's CPU)
        deploy = self._deploy()
        build = os.path.join(BUILD, "pico", "rp2040" + ("-" + native_of if native_of else ""))
        files = deploy.plan("rp2040", config, build_dir=build, native_of=native_of)
        if tests:
            for name in TEST_HELPERS:
                out = os.path.join(build, "tests", name[:-3] + ".mpy")
                deploy.compile_py(os.path.join(ROOT, "tests", name), out, name, "rp2040")
                files.append(("tests/" + name[:-3] + ".mpy", out))
        return files

    def image(self, out, config=None, extra=(), tests=False, base=None, main=True, dirs=("tmp",), native_of=None):
        # a littlefs image of the Pico W's file system region holding the deployed files (without
        # main.py and boot.py when main is False: a boot then runs no firmware)
        files = self.files(config, tests, native_of)
        if not main:
            files = [f for f in files if f[0] not in ("main.py", "boot.py")]
        files += list(extra)
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            pairs = []
            for d in dirs:  # empty folders: mkfs.py makes a file's parents, so a placeholder
                keep = os.path.join(tmp, d.replace("/", "_") + ".keep")
                open(keep, "w").close()
                pairs.append("%s:/%s/.keep" % (keep, d))
            pairs += ["%s:/%s" % (local, path) for path, local in files]
            cmd = [sys.executable, os.path.join(self.dir, "mkfs.py"), "--board", self.board]
            if base:
                cmd += ["--in", base]
            r = subprocess.run(cmd + [out] + pairs, capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            raise RuntimeError("mkfs.py: %s" % (r.stderr or r.stdout)[-2000:])
        return out

    def command(
        self,
        scripts,
        fs_in=None,
        fs_out=None,
        cut_after=None,
        torn=False,
        timeout=900,
        flash_timing=False,
        trace_flash=False,
    ):
        cmd = [
            "node",
            os.path.join(self.dir, "run-pico.mjs"),
            "--board",
            self.board,
            "--quiet-boot",
            "--timeout",
            str(int(timeout)),
        ]
        if fs_in:
            cmd += ["--fs-in", fs_in]
        if fs_out:
            cmd += ["--fs-out", fs_out]
        if cut_after:
            cmd += ["--cut-after", str(int(cut_after))]
            if torn:
                cmd.append("--torn")
        if flash_timing:
            cmd.append("--flash-timing")
        if trace_flash:
            cmd.append("--trace-flash")
        for s in scripts:
            cmd += ["--script", s]
        return cmd

    def run(self, scripts, **kw):
        # runs the scripts in one boot (@softreset between them soft-resets); -> Result
        timeout = kw.get("timeout", 900)
        env = dict(os.environ, PICO_SIM_MODULES=NODE_DIR)
        p = subprocess.run(
            self.command(scripts, **kw), capture_output=True, text=True, errors="replace", env=env, timeout=timeout + 60
        )
        return Result(p.returncode, p.stdout, p.stderr)


def main(argv):
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--board", default=BOARD, help="pico_w (default) or pico")
    ap.add_argument("--image", help="the file system image to boot (default: the package deployed afresh)")
    ap.add_argument("--fs-out", help="where to save the file system when the run ends")
    ap.add_argument("--config", help="a config.json to deploy with the package")
    ap.add_argument("--tests", action="store_true", help="deploy the tests' helpers too (/tests/*.mpy)")
    ap.add_argument("--cut-after", type=int, help="a power cut at the N-th flash erase or program")
    ap.add_argument("--torn", action="store_true", help="leave the cut operation half done")
    ap.add_argument("--flash-timing", action="store_true", help="charge typical W25Q16 erase/program times")
    ap.add_argument("--trace-flash", action="store_true", help="print every flash operation")
    ap.add_argument("scripts", nargs="+", help="scripts to run in turn (@softreset between two: a soft reset)")
    a = ap.parse_args(argv)
    if not os.environ.get("BLYNKLOG_PICO_SIM") and os.path.isdir(os.path.join(ROOT, "..", "shared", "pico-sim")):
        os.environ["BLYNKLOG_PICO_SIM"] = os.path.join(ROOT, "..", "shared", "pico-sim")
    try:
        sim = Sim(board=a.board)
    except RuntimeError as e:
        print("pico: %s" % e, file=sys.stderr)
        return 2
    img = a.image or sim.image(os.path.join(BUILD, "pico", "deployed.img"), config=a.config, tests=a.tests)
    cmd = sim.command(
        a.scripts,
        fs_in=img,
        fs_out=a.fs_out,
        cut_after=a.cut_after,
        torn=a.torn,
        flash_timing=a.flash_timing,
        trace_flash=a.trace_flash,
    )
    return subprocess.call(cmd, env=dict(os.environ, PICO_SIM_MODULES=NODE_DIR))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
