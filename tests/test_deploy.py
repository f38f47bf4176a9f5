# cpython-only: drives tools/deploy.py and tools/mpbridge.py (subprocesses, mpremote) from the host.
# Deploy, end to end without hardware: the unix port behind tools/mpbridge.py stands in for the
# board (socket://127.0.0.1:PORT, "resume"), its flash is a folder. Also package.json and the
# boards' manifests.
import json
import os
import re
import shutil
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tools"))

import deploy  # noqa: E402


def _config(d, url, ca):
    d.mkdir()
    shutil.copy(ca, d / "ca.der")
    cfg = {
        "server": url,
        "api": "device",
        "token": "test-device-token",
        "ca": "ca.der",
        "wifi": {"ssid": "virtual-net"},
        "streams": {"t": {"pin": "V1"}},
        "sensors": [{"type": "sim", "stream": "t"}],
        "board": {"wakes": 1},
        "upload": {"timeout_ms": 6000},
    }  # within a Pico W's watchdog: the same config suits every board
    (d / "config.json").write_text(json.dumps(cfg))
    return str(d / "config.json")


@pytest.fixture(scope="module")
def deployed(tmp_path_factory, blynk_emulator):
    # one virtual board for the module, deployed once; a stale app.py waits on it beforehand
    tmp = tmp_path_factory.mktemp("deploy")
    flash = tmp / "vb" / "flash"  # a virtual board (tools/vboard.py) in tmp/vb
    flash.mkdir(parents=True)
    (flash / "app.py").write_text("raise SystemExit('stale')\n")
    (flash / "lib" / "blynklog").mkdir(parents=True)
    (flash / "lib" / "blynklog" / "state.mpy").write_bytes(b"M\x06")  # a module the package had
    config = _config(tmp / "cfg", blynk_emulator.url, blynk_emulator.ca_der_path)
    proc = subprocess.Popen(
        [
            sys.executable,
            os.path.join(ROOT, "tools", "mpbridge.py"),
            "--vboard",
            str(tmp / "vb"),
            "--max-seconds",
            "120",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = json.loads(proc.stdout.readline())["url"]
        lines = []
        t0 = time.time()
        first = deploy.deploy("unix", url, config, out=lines.append)
        yield {"url": url, "flash": flash, "config": config, "first": first, "lines": lines, "t0": t0}
    finally:
        proc.terminate()
        proc.wait(10)


def _edited_since(t0):
    # package modules whose source changed after the first deploy (a shared checkout moves on)
    lib = os.path.join(ROOT, "lib", "blynklog")
    return set(
        "lib/blynklog/%s.mpy" % n[:-3]
        for n in os.listdir(lib)
        if n.endswith(".py") and os.path.getmtime(os.path.join(lib, n)) >= t0
    )


def _sha(path):
    import hashlib

    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def test_deploy_copies_the_compiled_package_firmware_board_and_config_and_verifies(deployed):
    flash, first = deployed["flash"], deployed["first"]
    modules = sorted(n[:-3] for n in os.listdir(os.path.join(ROOT, "lib", "blynklog")) if n.endswith(".py"))
    assert sorted(n[:-4] for n in os.listdir(flash / "lib" / "blynklog")) == modules
    for name in ("main.py", "boot.py", "app.mpy", "sensors.mpy", "settings.mpy", "board.mpy", "config.json", "ca.der"):
        assert (flash / name).exists(), name
    assert _sha(flash / "config.json") == _sha(deployed["config"])
    assert first["verified"] == len(first["copied"]) and first["unchanged"] == 0
    assert any(line.startswith("[1/") for line in deployed["lines"])  # progress


def test_a_stale_py_that_would_shadow_an_mpy_is_removed(deployed):
    assert "app.py" in deployed["first"]["removed"]
    assert not (deployed["flash"] / "app.py").exists()


def test_a_module_the_package_no_longer_has_is_removed(deployed):
    assert "lib/blynklog/state.mpy" in deployed["first"]["removed"]
    assert not (deployed["flash"] / "lib" / "blynklog" / "state.mpy").exists()


def test_deploy_to_a_folder_removes_a_module_the_package_no_longer_has(deployed, tmp_path):
    old = tmp_path / "lib" / "blynklog" / "state.mpy"
    old.parent.mkdir(parents=True)
    old.write_bytes(b"M\x06")
    result = deploy.deploy_to_folder("unix", str(tmp_path), deployed["config"], out=lambda m: None)
    assert "lib/blynklog/state.mpy" in result["removed"] and not old.exists()


def test_a_second_deploy_copies_nothing_and_verifies(deployed):
    again = deploy.deploy("unix", deployed["url"], deployed["config"], out=lambda m: None)
    assert set(again["copied"]) <= _edited_since(deployed["t0"])  # nothing, unless a module was edited
    assert again["verified"] == deployed["first"]["verified"]


def test_a_changed_file_is_the_only_one_copied_again(deployed):
    cfg = json.loads(open(deployed["config"]).read())
    cfg["sample_every_s"] = 30
    with open(deployed["config"], "w") as f:
        json.dump(cfg, f)
    again = deploy.deploy("unix", deployed["url"], deployed["config"], out=lambda m: None)
    assert set(again["copied"]) - _edited_since(deployed["t0"]) == {"config.json"}


def test_deployed_firmware_boots_on_the_virtual_board(deployed):
    import vboard

    vb = vboard.VBoard(str(deployed["flash"].parent), time_scale=1e6)
    vb.power_on()
    r = vb.boot(timeout_s=60)
    assert r.how == "exit" and "SUMMARY " in r.out, r.out  # board.wakes 1: main() returns
    summary = json.loads(r.out.split("SUMMARY ", 1)[1].splitlines()[0])
    assert summary["samples"] == 1


def test_deploy_to_the_virtual_boards_folder_lays_out_the_same_files(deployed, tmp_path):
    result = deploy.deploy_to_folder("unix", str(tmp_path), deployed["config"], out=lambda m: None)
    mine = sorted(os.path.relpath(os.path.join(d, n), tmp_path) for d, _, ns in os.walk(tmp_path) for n in ns)
    assert "main.py" in mine and "lib/blynklog/__init__.mpy" in mine and result["verified"] == len(mine)
    for rel in mine:  # the files the bridge's deploy wrote, byte for byte
        assert _sha(tmp_path / rel) == _sha(deployed["flash"] / rel), rel
    again = deploy.deploy_to_folder("unix", str(tmp_path), deployed["config"], out=lambda m: None)
    assert again["copied"] == [] and again["unchanged"] == len(mine)


def test_a_config_with_a_wrong_key_stops_the_deploy_naming_it(tmp_path):
    bad = tmp_path / "config.json"
    bad.write_text(
        json.dumps(
            {"streams": {"t": {"pin": "V1"}}, "wifi": {"ssid": "net"}, "sensors": [{"type": "sim", "stream": "x"}]}
        )
    )
    with pytest.raises(deploy.DeployError, match=r"sensors\[0\]\.stream"):
        deploy.plan("unix", str(bad))


def _config_with_ca(tmp_path, blynk_emulator, ca):
    # the deploy tests' configuration in tmp_path/cfg, its "ca" replaced by ca (a function of the folder)
    config = _config(tmp_path / "cfg", blynk_emulator.url, blynk_emulator.ca_der_path)
    with open(config) as f:
        cfg = json.load(f)
    cfg["ca"] = ca(tmp_path / "cfg")
    with open(config, "w") as f:
        json.dump(cfg, f)
    return config


def test_an_absolute_ca_inside_the_configs_folder_is_deployed_at_its_relative_place(tmp_path, blynk_emulator):
    # (the emulator's ready config.json names its CA so)
    def inside(folder):
        (folder / "certs").mkdir()
        shutil.move(str(folder / "ca.der"), str(folder / "certs" / "ca.der"))
        return str(folder / "certs" / "ca.der")

    config = _config_with_ca(tmp_path, blynk_emulator, inside)
    flash = tmp_path / "vb" / "flash"
    deploy.deploy_to_folder("unix", str(flash), config, out=lambda m: None)
    assert (flash / "certs" / "ca.der").read_bytes() == (tmp_path / "cfg" / "certs" / "ca.der").read_bytes()
    assert json.loads((flash / "config.json").read_text())["ca"] == "certs/ca.der"


def test_an_absolute_ca_outside_the_configs_folder_is_refused_naming_ca(tmp_path, blynk_emulator):
    def outside(folder):
        (tmp_path / "elsewhere").mkdir()
        shutil.copy(str(folder / "ca.der"), str(tmp_path / "elsewhere" / "ca.der"))
        return str(tmp_path / "elsewhere" / "ca.der")

    config = _config_with_ca(tmp_path, blynk_emulator, outside)
    with pytest.raises(deploy.DeployError, match="^config: ca: '.*elsewhere/ca.der' is outside the config's folder"):
        deploy.plan("unix", config)


def test_a_relative_ca_that_climbs_out_of_the_configs_folder_is_refused_naming_ca(tmp_path, blynk_emulator):
    def climbing(folder):
        shutil.copy(str(folder / "ca.der"), str(tmp_path / "ca.der"))
        return "../ca.der"

    config = _config_with_ca(tmp_path, blynk_emulator, climbing)
    with pytest.raises(deploy.DeployError, match="^config: ca: '../ca.der' is outside the config's folder"):
        deploy.plan("unix", config)


def test_a_replay_sensors_missing_file_is_refused_naming_its_key(tmp_path, blynk_emulator):
    # it ended deploy in a FileNotFoundError traceback at the copy
    config = _config(tmp_path / "cfg", blynk_emulator.url, blynk_emulator.ca_der_path)
    with open(config) as f:
        cfg = json.load(f)
    stream = sorted(cfg["streams"])[0]
    cfg["sensors"] = [{"type": "replay", "file": "samples.csv", "fields": [stream], "stream": stream}]
    with open(config, "w") as f:
        json.dump(cfg, f)
    with pytest.raises(deploy.DeployError, match=r"^config: sensors\[0\]\.file: 'samples.csv': no such file"):
        deploy.plan("unix", config)


def test_package_json_lists_exactly_the_modules_of_the_package():
    with open(os.path.join(ROOT, "package.json")) as f:
        pkg = json.load(f)
    modules = sorted(n for n in os.listdir(os.path.join(ROOT, "lib", "blynklog")) if n.endswith(".py"))
    listed = sorted(dest for dest, _ in pkg["urls"])
    assert listed == ["blynklog/" + n for n in modules], "run: python tools/deploy.py --write-package-json"
    for dest, src in pkg["urls"]:
        assert src.endswith("/lib/" + dest)


@pytest.mark.parametrize("board", ["esp32", "rp2040"])
def test_board_manifest_names_files_that_exist(board):
    folder = os.path.join(ROOT, "boards", board)
    text = open(os.path.join(folder, "manifest.py")).read()
    for name, base in re.findall(r'module\("([^"]+)"(?:, base_path="([^"]+)")?\)', text):
        assert os.path.exists(os.path.join(folder, base or "", name)), name
    for inc in re.findall(r'include\("([^"$]+)"\)', text):
        assert os.path.exists(os.path.normpath(os.path.join(folder, inc))), inc


def test_the_example_config_passes_every_check_once_the_roots_are_written(tmp_path):
    cfg = tmp_path / "config.json"
    shutil.copy(os.path.join(ROOT, "firmware", "config.example.json"), cfg)
    files = dict(deploy.plan("esp32", str(cfg)))
    for name in ("isrg-root-x1.der", "amazon-root-ca-1.der", "digicert-global-root-g2.der"):
        assert "certs/" + name in files and (tmp_path / "certs" / name).exists()
    assert "config.json" in files and "main.py" in files and "lib/blynklog/__init__.mpy" in files


def test_deploy_refuses_the_examples_placeholders_naming_them(tmp_path):
    cfg = tmp_path / "config.json"
    shutil.copy(os.path.join(ROOT, "firmware", "config.example.json"), cfg)
    with pytest.raises(deploy.DeployError, match="token, wifi.ssid, wifi.password"):
        deploy.deploy("esp32", "socket://127.0.0.1:9", str(cfg), out=lambda m: None)


# ---- what deploy checks before it copies, and copies cut part-way


@pytest.fixture
def vboard(tmp_path, blynk_emulator):
    # a virtual board of its own behind tools/mpbridge.py with the firmware on it (the folder deploy)
    config = _config(tmp_path / "cfg", blynk_emulator.url, blynk_emulator.ca_der_path)
    flash = tmp_path / "vb" / "flash"
    deploy.deploy_to_folder("unix", str(flash), config, out=lambda m: None)
    proc = subprocess.Popen(
        [
            sys.executable,
            os.path.join(ROOT, "tools", "mpbridge.py"),
            "--vboard",
            str(tmp_path / "vb"),
            "--max-seconds",
            "60",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        yield {"url": json.loads(proc.stdout.readline())["url"], "flash": flash, "config": config}
    finally:
        proc.terminate()
        proc.wait(10)


def _files(folder):
    # {relative path: SHA-256} of everything in a board's folder
    return dict(
        (os.path.relpath(os.path.join(d, n), folder), _sha(os.path.join(d, n)))
        for d, _, ns in os.walk(folder)
        for n in ns
    )


def _previous_app(flash):
    # an app.mpy the build does not have (so deploy copies it), longer than one chunk
    previous = b"the previous app.mpy\n" * 400
    (flash / "app.mpy").write_bytes(previous)
    return previous


def _fail_after_open(monkeypatch, path, replace):
    # the board's write of path (or of path.tmp) fails in the exec after the one that opened it:
    # replace(code) raises on the host or returns the code the board runs instead
    from mpremote.transport_serial import SerialTransport

    real = SerialTransport.exec
    state = {"armed": False}

    def exec_(self, code, *args, **kwargs):
        if state["armed"]:
            state["armed"] = False
            code = replace(code)
        elif "open('%s" % path in code:
            state["armed"] = True
        return real(self, code, *args, **kwargs)

    monkeypatch.setattr(SerialTransport, "exec", exec_)


def test_deploying_rp2040_onto_the_virtual_board_is_refused_before_any_copy(vboard, tmp_path):
    before = _files(vboard["flash"])
    cfg = json.loads(open(vboard["config"]).read())
    cfg.pop("board")  # the virtual board's settings: a Pico W takes none
    config = tmp_path / "config.json"
    config.write_text(json.dumps(cfg))
    shutil.copy(os.path.join(os.path.dirname(vboard["config"]), "ca.der"), tmp_path / "ca.der")
    with pytest.raises(deploy.DeployError, match=r"--board rp2040, but the board says it is a unix board .*'linux'"):
        deploy.deploy("rp2040", vboard["url"], str(config), out=lambda m: None)
    assert _files(vboard["flash"]) == before


def test_a_board_that_loads_another_mpy_version_is_refused_before_any_copy(vboard, monkeypatch):
    real = deploy.Board.identity

    def mpy_v5(self):
        ident = real(self)
        return ident[:2] + ((ident[2] & ~0xFF) | 5,) + ident[3:]  # as MicroPython 1.12 to 1.18 says

    monkeypatch.setattr(deploy.Board, "identity", mpy_v5)
    _previous_app(vboard["flash"])
    before = _files(vboard["flash"])
    with pytest.raises(deploy.DeployError, match=r"loads \.mpy version 5 .* writes version 6 .*nothing copied"):
        deploy.deploy("unix", vboard["url"], vboard["config"], out=lambda m: None)
    assert _files(vboard["flash"]) == before


def test_mpy_mismatch_compares_the_version_and_for_native_code_the_arch():
    bytecode, xtensawin = b"M\x06\x00\x1f", b"M\x06\x2b\x1f"  # mpy-cross 1.29: plain, -march=xtensawin native
    assert deploy.mpy_mismatch(0x2B06, bytecode) is None and deploy.mpy_mismatch(0x2B06, xtensawin) is None
    assert deploy.mpy_mismatch(0x1306, bytecode) is None  # a Pico's 1.29: bytecode loads anywhere
    assert "version 5" in deploy.mpy_mismatch(0x1305, bytecode)
    assert "native code for xtensawin" in deploy.mpy_mismatch(0x1306, xtensawin)  # on an armv6m board
    assert "loads no .mpy" in deploy.mpy_mismatch(None, bytecode)


def test_the_virtual_board_is_what_board_unix_says_and_loads_the_build(vboard):
    dev = deploy.Board(vboard["url"])
    try:
        ident = dev.identity()
    finally:
        dev.close()
    assert ident[0] == "linux" and ident[4]  # the unix port, with the chip's network module
    assert deploy.identity_mismatch("unix", ident) is None
    assert deploy.build_mismatch(ident, deploy.plan("unix", None)) is None


def test_a_pico_without_w_is_refused_for_rp2040():
    pico = ("rp2", "Raspberry Pi Pico with RP2040", 0x1306, (1, 29, 0), False)
    assert "no network module" in deploy.identity_mismatch("rp2040", pico)
    assert deploy.identity_mismatch("rp2040", pico[:4] + (True,)) is None  # a Pico W
    assert "ESP32S3" in deploy.identity_mismatch(
        "esp32", ("esp32", "Generic ESP32S3 module with ESP32S3", 0x2B06, (1, 29, 0), True)
    )


@pytest.mark.parametrize(
    "setting, key",
    [
        ({"watchdog_ms": 9000}, r"watchdog_ms: at most 8388 on rp2040"),
        (
            {"sensors": [{"type": "adc", "pin": 34, "stream": "t"}]},
            r"sensors\[0\]\.pin: rp2040 reads ADC on pins 26, 27, 28 only, got 34",
        ),
    ],
)
def test_an_rp2040_config_the_board_cannot_do_is_refused_before_connecting(
    tmp_path, monkeypatch, blynk_emulator, setting, key
):
    config = _config(tmp_path / "cfg", blynk_emulator.url, blynk_emulator.ca_der_path)
    cfg = json.loads(open(config).read())
    cfg.pop("board")  # the virtual board's settings: a Pico W takes none
    cfg.update(setting)
    with open(config, "w") as f:
        json.dump(cfg, f)

    def connect(port):
        raise AssertionError("deploy connected to the board")

    monkeypatch.setattr(deploy, "Board", connect)
    with pytest.raises(deploy.DeployError, match=key):
        deploy.deploy("rp2040", "socket://127.0.0.1:9", config, out=lambda m: None)


def test_a_copy_cut_part_way_leaves_the_previous_file_whole(vboard, monkeypatch):
    from mpremote.transport import TransportError

    previous = _previous_app(vboard["flash"])

    def cut(code):
        raise TransportError("timeout waiting for first EOF reception")  # as a pulled cable reads

    _fail_after_open(monkeypatch, "app.mpy", cut)
    with pytest.raises(deploy.DeployError, match=r"copying app\.mpy failed .*the board's app\.mpy is as before"):
        deploy.deploy("unix", vboard["url"], vboard["config"], out=lambda m: None)
    assert (vboard["flash"] / "app.mpy").read_bytes() == previous
    assert not (vboard["flash"] / "app.mpy.tmp").exists()


def test_the_tmp_file_of_a_cut_copy_is_removed_by_the_next_deploy(vboard):
    (vboard["flash"] / "app.mpy.tmp").write_bytes(b"the first half of an app.mpy")  # the connection was lost
    deploy.deploy("unix", vboard["url"], vboard["config"], out=lambda m: None)
    assert not (vboard["flash"] / "app.mpy.tmp").exists()


def test_a_full_file_system_is_reported_naming_the_file(vboard, monkeypatch):
    previous = _previous_app(vboard["flash"])
    _fail_after_open(monkeypatch, "app.mpy", lambda code: "raise OSError(28)")  # ENOSPC, as on a board
    with pytest.raises(
        deploy.DeployError,
        match=r"the board's file system is full: app\.mpy not copied "
        r"\(\d+ bytes free, \d+ bytes left to copy\)",
    ):
        deploy.deploy("unix", vboard["url"], vboard["config"], out=lambda m: None)
    assert (vboard["flash"] / "app.mpy").read_bytes() == previous
    assert not (vboard["flash"] / "app.mpy.tmp").exists()


def test_files_that_cannot_fit_are_refused_before_any_copy(vboard, monkeypatch):
    monkeypatch.setattr(deploy.Board, "free", lambda self: (4096, 8192))  # two blocks free
    previous = _previous_app(vboard["flash"])
    before = _files(vboard["flash"])
    with pytest.raises(deploy.DeployError) as e:
        deploy.deploy("unix", vboard["url"], vboard["config"], out=lambda m: None)
    # the new app.mpy (built by this deploy) in whole blocks beside the previous one, + 2 blocks
    size = os.path.getsize(os.path.join(ROOT, "build", "unix", "app.mpy"))
    need = deploy.space_needed([(size, len(previous))], 4096)
    assert need >= 16384
    assert re.search(
        r"has 8192 bytes free, copying 1 file\(s\) of %d bytes needs %d .*nothing copied" % (size, need), str(e.value)
    ), str(e.value)
    assert _files(vboard["flash"]) == before


def test_space_needed_counts_whole_blocks_less_what_each_file_replaces():
    # 5000 bytes over 4096: 2 blocks beside the old one, which the rename frees; then 100 bytes, new
    assert deploy.space_needed([(5000, 4096), (100, 0)], 4096) == 2 * 4096 + 2 * 4096
    assert deploy.space_needed([(100, 0), (100, 0), (100, 0)], 4096) == 3 * 4096 + 2 * 4096
    assert deploy.space_needed([], 4096) == 0


def test_a_full_file_system_in_a_folder_deploy_is_reported_naming_the_file(tmp_path, monkeypatch, blynk_emulator):
    config = _config(tmp_path / "cfg", blynk_emulator.url, blynk_emulator.ca_der_path)
    flash = tmp_path / "flash"
    deploy.deploy_to_folder("unix", str(flash), config, out=lambda m: None)
    previous = _previous_app(flash)

    def copyfile(src, dst):
        with open(src, "rb") as f, open(dst, "wb") as g:
            g.write(f.read(1000))  # part of it, then the disk is full
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(deploy.shutil, "copyfile", copyfile)
    with pytest.raises(deploy.DeployError, match=r"the board's file system is full: app\.mpy not copied"):
        deploy.deploy_to_folder("unix", str(flash), config, out=lambda m: None)
    assert (flash / "app.mpy").read_bytes() == previous
    assert not (flash / "app.mpy.tmp").exists()


def test_mip_install_from_package_json_works_against_the_virtual_board(tmp_path):
    # package.json's urls, served from this checkout on 127.0.0.1 instead of GitHub
    import functools
    import http.server
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=ROOT)
    handler.log_message = lambda *a: None
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    pkg = json.load(open(os.path.join(ROOT, "package.json")))
    prefix = "github:blynklog/blynklog/"
    pkg["urls"] = [[d, "http://127.0.0.1:%d/%s" % (srv.server_address[1], u[len(prefix) :])] for d, u in pkg["urls"]]
    import urllib.request

    for _, u in pkg["urls"]:  # every url resolves to a file of the checkout
        with urllib.request.urlopen(u, timeout=10) as r:
            assert r.status == 200
    # mip itself, on a part small enough to stay fast (mpremote writes 256 bytes per round trip)
    # (clock.py's State, and compat.py, all that clock.py imports)
    pkg["urls"] = [u for u in pkg["urls"] if u[0] in ("blynklog/compat.py", "blynklog/clock.py")]
    (tmp_path / "package.json").write_text(json.dumps(pkg))
    flash = tmp_path / "flash"
    bridge = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, "tools", "mpbridge.py"), "--flash", str(flash), "--max-seconds", "60"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = json.loads(bridge.stdout.readline())["url"]
        mpremote = [os.path.join(os.path.dirname(sys.executable), "mpremote"), "connect", url, "resume"]
        r = subprocess.run(
            mpremote + ["mip", "install", "--target", "lib", str(tmp_path / "package.json")],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 0, r.stdout + r.stderr
        assert sorted(os.listdir(flash / "lib" / "blynklog")) == ["clock.py", "compat.py"]
        r = subprocess.run(
            mpremote + ["exec", "from blynklog.clock import State; print('ok', State)"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert "ok <class 'State'>" in r.stdout, r.stdout + r.stderr
    finally:
        bridge.terminate()
        bridge.wait(10)
        srv.shutdown()
