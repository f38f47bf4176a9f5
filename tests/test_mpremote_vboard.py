# cpython-only: runs mpremote (a subprocess) against tools/mpbridge.py and the unix port.
# mpremote against the virtual board as against a board's USB REPL, each command as a user types
# it (docs/FIRMWARE.md, "The virtual board"): ls, cp, rm, run, exec (each after mpremote's own soft
# reset), soft-reset (a fresh interpreter), resume (the same one), reset (boot.py then main.py,
# whose loop Ctrl-C stops), a deep sleep that Ctrl-C ends as the reset button would, and mip
# install of a local package.json into lib/; Ctrl-D at the friendly prompt as a terminal sends it.
# On the pip unix port in make test (the bridge is host code; the port only runs the REPL);
# BLYNKLOG_MPREMOTE_ALL=1 runs it on every unix port (BLYNKLOG_MICROPYTHON_32 adds the board-like one).
import json
import os
import socket
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from test_unix_port import runtimes as _all_runtimes  # noqa: E402


def runtimes():
    found = _all_runtimes()
    if os.getenv("BLYNKLOG_MPREMOTE_ALL") == "1":
        return found
    return dict((k, v) for k, v in found.items() if k == "unix")


MPREMOTE = os.path.join(os.path.dirname(sys.executable), "mpremote")
TIMEOUT_S = 60  # one mpremote command; each takes well under a second here (mip: about 10 s)


def _bridge(folder, runtime):
    proc = subprocess.Popen(
        [
            sys.executable,
            os.path.join(ROOT, "tools", "mpbridge.py"),
            "--vboard",
            str(folder),
            "--new",  # the tests' boards start empty
            "--micropython",
            runtimes()[runtime],
            "--max-seconds",
            "300",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    return proc, json.loads(proc.stdout.readline())["url"]


@pytest.fixture(scope="module", params=sorted(runtimes()))
def board(request, tmp_path_factory):
    # a virtual board behind the bridge, and a host folder the commands run in
    tmp = tmp_path_factory.mktemp("mpremote")
    (tmp / "host").mkdir()
    proc, url = _bridge(tmp / "vb", request.param)
    try:
        yield {
            "url": url,
            "flash": tmp / "vb" / "flash",
            "chip": str(tmp / "vb" / "chip"),
            "host": tmp / "host",
            "runtime": request.param,
        }
    finally:
        proc.terminate()
        proc.wait(10)


def mpremote(b, *args):
    # `mpremote connect socket://127.0.0.1:N ARGS...`, run in the host folder
    r = subprocess.run(
        [MPREMOTE, "connect", b["url"]] + list(args),
        cwd=str(b["host"]),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_ls_lists_the_boards_flash(board):
    (board["flash"] / "listed.txt").write_text("x")
    assert "listed.txt" in mpremote(board, "ls").split()


def test_cp_copies_a_file_into_flash(board):
    (board["host"] / "hello.py").write_text("print('hello from flash')\n")
    mpremote(board, "cp", "hello.py", ":hello.py")
    assert (board["flash"] / "hello.py").read_text() == "print('hello from flash')\n"


def test_rm_removes_a_file_from_flash(board):
    (board["flash"] / "gone.txt").write_text("x")
    mpremote(board, "rm", ":gone.txt")
    assert not (board["flash"] / "gone.txt").exists()


def test_run_runs_a_host_script_on_the_board_in_its_flash(board):
    (board["host"] / "where.py").write_text("import os\nprint('cwd', os.getcwd())\n")
    assert "cwd %s" % board["flash"] in mpremote(board, "run", "where.py")


def test_exec_runs_with_the_boards_sys_path_and_chip(board):
    out = mpremote(board, "exec", "import sys, machine; print(sys.path, machine.unique_id())")
    assert out.strip() == "%r b'vboard'" % (["", ".frozen", "lib", board["chip"]],)


def test_soft_reset_gives_a_fresh_interpreter(board):
    (board["flash"] / "loaded.py").write_text("X = 1\n")
    check = "import sys; print('loaded' in sys.modules)"
    assert mpremote(board, "exec", "import loaded", "soft-reset", "exec", check).strip() == "False"


def test_resume_keeps_the_interpreter_between_sessions(board):
    # tools/deploy.py's way in: no soft reset, what the last session imported is still there
    (board["flash"] / "kept.py").write_text("X = 1\n")
    mpremote(board, "exec", "import kept")
    assert mpremote(board, "resume", "exec", "import sys; print('kept' in sys.modules)").strip() == "True"


def _wait_for(path, text, limit_s=20):
    # until the file holds text (the board's reboot runs in its own time); bounded
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        if path.exists() and path.read_text() == text:
            return True
        time.sleep(0.05)
    return False


@pytest.fixture(params=sorted(runtimes()))
def runtime(request):
    return request.param


def test_reset_boots_through_boot_and_main_and_ctrl_c_stops_mains_loop(tmp_path, runtime):
    # as a board's hard reset: boot.py then main.py (here a loop standing in for the firmware's);
    # the next mpremote command interrupts it, and its soft reset into the raw REPL runs boot.py only
    proc, url = _bridge(tmp_path / "vb", runtime)
    b = {"url": url, "host": tmp_path}
    flash = tmp_path / "vb" / "flash"
    trail = flash / "trail.txt"
    (flash / "boot.py").write_text("open('trail.txt', 'a').write('b')\n")
    (flash / "main.py").write_text(
        "import time\nopen('trail.txt', 'a').write('m')\nwhile True:\n    time.sleep(0.05)\n"
    )
    try:
        mpremote(b, "reset")  # mpremote's soft reset first (boot.py), then machine.reset()
        assert _wait_for(trail, "bbm"), trail.read_text() if trail.exists() else "no trail"
        assert mpremote(b, "exec", "print('at the REPL')").strip() == "at the REPL"
        assert trail.read_text() == "bbmb"
    finally:
        proc.terminate()
        proc.wait(10)


def test_ctrl_c_wakes_a_deep_sleeping_board_as_its_reset_button(tmp_path, runtime):
    # main.py deep-sleeps for an hour (time_scale 1: an hour here too); the next mpremote
    # command's Ctrl-C boots the board and stops what it runs, and the command goes through
    proc, url = _bridge(tmp_path / "vb", runtime)
    b = {"url": url, "host": tmp_path}
    flash = tmp_path / "vb" / "flash"
    trail = flash / "trail.txt"
    (flash / "main.py").write_text("import machine\nopen('trail.txt', 'a').write('m')\nmachine.deepsleep(3600000)\n")
    try:
        mpremote(b, "reset")
        assert _wait_for(trail, "m"), trail.read_text() if trail.exists() else "no trail"
        assert mpremote(b, "exec", "print('awake')").strip() == "awake"
        # the wake boots through boot.py and main.py as a reset does: the Ctrl-C stops main.py
        # before or just after it wrote its mark, as on a board, and never lets it sleep again
        assert trail.read_text() in ("m", "mm"), trail.read_text()
    finally:
        proc.terminate()
        proc.wait(10)


def test_mip_install_of_a_local_package_json_lands_the_package_in_flash_lib(board):
    # the repository's package.json, its urls pointing at this checkout's files (relative to it)
    pkg = json.load(open(os.path.join(ROOT, "package.json")))
    prefix = "github:blynklog/blynklog/"
    folder = board["host"] / "pkg"
    folder.mkdir()
    pkg["urls"] = [[d, os.path.relpath(os.path.join(ROOT, u[len(prefix) :]), str(folder))] for d, u in pkg["urls"]]
    (folder / "package.json").write_text(json.dumps(pkg))
    mpremote(board, "mip", "install", "--target", "lib", "pkg/package.json")
    names = sorted(n for n in os.listdir(os.path.join(ROOT, "lib", "blynklog")) if n.endswith(".py"))
    assert sorted(os.listdir(board["flash"] / "lib" / "blynklog")) == names
    assert "ok <class 'State'>" in mpremote(board, "exec", "from blynklog.clock import State; print('ok', State)")


def _read_until(sock, end, limit_s=20):
    # the board's output up to and including end; bounded
    out = b""
    deadline = time.monotonic() + limit_s
    while not out.endswith(end) and time.monotonic() < deadline:
        try:
            data = sock.recv(4096)
        except socket.timeout:
            continue
        if not data:
            break
        out += data
    return out


def test_ctrl_d_at_the_friendly_prompt_soft_reboots_through_boot_and_main(tmp_path, runtime):
    # a terminal on the board (mpremote's repl): Ctrl-D prints what a board prints and runs
    # boot.py and main.py in a fresh interpreter, then the friendly prompt
    proc, url = _bridge(tmp_path / "vb", runtime)
    flash = tmp_path / "vb" / "flash"
    (flash / "boot.py").write_text("print('boot.py ran')\n")
    (flash / "main.py").write_text("print('main.py ran', 'x' in globals())\n")
    try:
        with socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=10) as sock:
            sock.settimeout(0.2)
            sock.sendall(b"\x03print('ready')\r")
            assert _read_until(sock, b"ready\n>>> ").endswith(b"ready\n>>> ")
            sock.sendall(b"x = 1\r")
            assert _read_until(sock, b">>> ").endswith(b"x = 1\r\n>>> ")
            sock.sendall(b"\x04")
            out = _read_until(sock, b">>> ")
        assert out.startswith(b"\r\nMPY: soft reboot\r\nboot.py ran\nmain.py ran False\n"), out
        assert out.endswith(b'Type "help()" for more information.\r\n>>> '), out
    finally:
        proc.terminate()
        proc.wait(10)


# --- the bridge's command line on a user's mistakes: one line naming the option, no traceback


def _bridge_cli(*args):
    tool = os.path.join(ROOT, "tools", "mpbridge.py")
    return subprocess.run(
        [sys.executable, tool, *args, "--max-seconds", "5"], capture_output=True, text=True, timeout=30
    )


def test_bridge_refuses_a_port_past_65535(tmp_path):
    r = _bridge_cli("--flash", str(tmp_path / "flash"), "--port", "99999")
    assert r.returncode == 2 and "--port" in r.stderr and "Traceback" not in r.stderr


def test_bridge_refuses_a_micropython_that_is_no_executable(tmp_path):
    r = _bridge_cli("--flash", str(tmp_path / "flash"), "--micropython", str(tmp_path / "nonexistent"))
    assert r.returncode == 1 and r.stderr.startswith("mpbridge: --micropython ") and "Traceback" not in r.stderr


def test_bridge_refuses_a_vboard_folder_that_is_no_board_and_makes_nothing(tmp_path):
    r = _bridge_cli("--vboard", str(tmp_path / "typo"))
    assert r.returncode == 1 and r.stderr.startswith("mpbridge: --vboard ") and "Traceback" not in r.stderr
    assert not (tmp_path / "typo").exists()


def test_bridge_new_makes_an_empty_board_and_serves_it(tmp_path, runtime):
    proc, url = _bridge(tmp_path / "vb", runtime)  # with --new
    try:
        assert url.startswith("socket://127.0.0.1:") and (tmp_path / "vb" / "flash").is_dir()
        assert (tmp_path / "vb" / "hw.json").exists()
    finally:
        proc.terminate()
        proc.wait(10)
