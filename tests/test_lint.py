# cpython-only: it runs the host's lint, format and type checkers (ruff, mypy) over the source tree.
# The static checks, part of make test; a finding fails its test with the tool's own report.
#   ruff check, ruff format --check: the whole tree (settings: pyproject.toml)
#   mypy: the board code (lib/, firmware/, boards/) against each board's MicroPython stubs, so a
#         name the ESP32 or the RP2040 port lacks, or a wrong call into machine, network, tls...,
#         shows before a board runs it. The virtual board (boards/unix/board.py) is checked with the
#         ESP32 stubs, which its chip imitates; the chip itself (boards/unix/chip) is not, since it
#         extends the unix port's own built-ins through star imports that mypy cannot follow.
#         boards/*/manifest.py are MicroPython's build scripts, not board code.
# The stubs: micropython-esp32-stubs and micropython-rp2-stubs both provide machine, network,
# time..., so they cannot share one site-packages; each board's set is installed on its own with
# pip --target into build/stubs/<board> at the versions requirements-dev.txt pins (the packages and
# the stdlib stubs they share), once: the folder's .pins file tells which pins it holds.
# Alone: .venv/bin/python -m pytest -q tests/test_lint.py
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build")

# board: (stub package, the files checked, mypy's search path ahead of the stubs, after them)
TARGETS = {
    "esp32": (
        "micropython-esp32-stubs",
        ["lib/blynklog", "firmware", "boards/esp32/board.py"],
        ["lib", "firmware", "boards/esp32"],
        [],
    ),
    "rp2": (
        "micropython-rp2-stubs",
        ["lib/blynklog", "firmware", "boards/rp2040/board.py"],
        ["lib", "firmware", "boards/rp2040"],
        [],
    ),
    # the virtual board: lib/ and firmware/ are followed, their findings are the esp32 run's; the
    # chip only for _vchip (the stubs' machine, time and network come first)
    "unix": (
        "micropython-esp32-stubs",
        ["boards/unix/board.py"],
        ["lib", "firmware", "boards/unix"],
        ["boards/unix/chip"],
    ),
}


def _run(args, env=None):
    out = subprocess.run([sys.executable, "-m"] + args, cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)
    return out.returncode, (out.stdout + out.stderr).strip()


def _pins(*names):
    # the lines of requirements-dev.txt that pin these packages
    pins = {}
    with open(os.path.join(ROOT, "requirements-dev.txt")) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            name = line.split("==", 1)[0].strip()
            if name in names:
                pins[name] = line
    missing = [n for n in names if n not in pins]
    assert not missing, "requirements-dev.txt pins no version of %s" % ", ".join(missing)
    return [pins[n] for n in names]


def _stubs(package):
    # build/stubs/<board>: the package and the stdlib stubs, at their pins, installed on their own
    pins = _pins(package, "micropython-stdlib-stubs")
    target = os.path.join(BUILD, "stubs", package.split("-")[1])
    stamp = os.path.join(target, ".pins")
    want = "\n".join(pins) + "\n"
    if os.path.exists(stamp):
        with open(stamp) as f:
            if f.read() == want:
                return target
    shutil.rmtree(target, ignore_errors=True)
    code, text = _run(
        ["pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps", "--target", target] + pins
    )
    assert code == 0, "pip could not install %s into %s:\n%s" % (" ".join(pins), target, text)
    with open(stamp, "w") as f:
        f.write(want)
    return target


def test_ruff_check_finds_nothing():
    code, text = _run(["ruff", "check", "."])
    assert code == 0, "ruff check:\n" + text


def test_ruff_format_would_change_nothing():
    code, text = _run(["ruff", "format", "--check", "--diff", "."])
    assert code == 0, "ruff format (run `.venv/bin/python -m ruff format .` to apply):\n" + text


@pytest.mark.parametrize("board", sorted(TARGETS))
def test_mypy_finds_nothing_against_the_board_stubs(board):
    package, files, before, after = TARGETS[board]
    stubs = _stubs(package)
    env = dict(os.environ)
    env["MYPYPATH"] = os.pathsep.join(
        [os.path.join(ROOT, p) for p in before] + [stubs] + [os.path.join(ROOT, p) for p in after]
    )
    code, text = _run(
        [
            "mypy",
            "--config-file",
            os.path.join(ROOT, "pyproject.toml"),
            "--custom-typeshed-dir",
            stubs,
            "--cache-dir",
            os.path.join(BUILD, "mypy-cache", board),
        ]
        + files,
        env=env,
    )
    assert code == 0, "mypy against %s:\n%s" % (package, text)


def test_every_board_file_is_type_checked_or_named_as_left_out():
    # a new module under lib/, firmware/ or boards/ falls under one of the mypy runs above
    checked = set()
    for _, files, _, _ in TARGETS.values():
        checked.update(files)
    left_out = []
    for top in ("lib", "firmware", "boards"):
        for dirpath, _, names in os.walk(os.path.join(ROOT, top)):
            for name in names:
                rel = os.path.relpath(os.path.join(dirpath, name), ROOT)
                if not name.endswith(".py") or name == "manifest.py" or rel.startswith("boards/unix/chip/"):
                    continue
                if not any(rel == f or rel.startswith(f + "/") for f in checked):
                    left_out.append(rel)
    assert not left_out, "not type-checked: %s (add them to TARGETS)" % ", ".join(sorted(left_out))
