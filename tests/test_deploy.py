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


@pytest.fixture
def virtual_board(tmp_path):
    flash = tmp_path / "flash"
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "tools", "mpbridge.py"), "--flash", str(flash),
                             "--max-seconds", "120"], stdout=subprocess.PIPE, text=True)
    try:
        info = json.loads(proc.stdout.readline())
        yield info["url"], flash
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def config(tmp_path, blynk_emulator):
    d = tmp_path / "cfg"
    d.mkdir()
    shutil.copy(blynk_emulator.ca_der_path, d / "ca.der")
    cfg = {"server": blynk_emulator.url, "api": "device", "token": "test-device-token", "ca": "ca.der",
           "streams": {"t": {"pin": "V1"}}, "sensors": [{"type": "sim", "stream": "t"}], "board": {"wakes": 1}}
    (d / "config.json").write_text(json.dumps(cfg))
    return str(d / "config.json")


def _sha(path):
    import hashlib

    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def test_deploy_copies_compiles_and_verifies_then_copies_nothing_the_second_time(virtual_board, config):
    url, flash = virtual_board
    lines = []
    first = deploy.deploy("unix", url, config, out=lines.append)
    modules = sorted(n[:-3] for n in os.listdir(os.path.join(ROOT, "lib", "blynklog")) if n.endswith(".py"))
    on_board = sorted(n[:-4] for n in os.listdir(flash / "lib" / "blynklog"))
    assert on_board == modules
    for name in ("main.py", "boot.py", "app.mpy", "sensors.mpy", "settings.mpy", "board.mpy", "config.json", "ca.der"):
        assert (flash / name).exists(), name
    assert _sha(flash / "config.json") == _sha(config)
    assert first["verified"] == len(first["copied"]) and first["unchanged"] == 0
    assert any(line.startswith("[1/") for line in lines)  # progress
    second = deploy.deploy("unix", url, config, out=lines.append)
    assert second["copied"] == [] and second["verified"] == first["verified"]


def test_deployed_firmware_boots_on_the_virtual_board(virtual_board, config):
    url, flash = virtual_board
    deploy.deploy("unix", url, config, out=lambda m: None)
    env = dict(os.environ, MICROPYPATH=":.frozen:lib")
    exe = os.path.join(os.path.dirname(sys.executable), "micropython")
    r = subprocess.run([exe, "main.py"], cwd=flash, env=env, capture_output=True, text=True, timeout=60)
    assert "SUMMARY " in r.stdout, r.stdout + r.stderr
    summary = json.loads(r.stdout.split("SUMMARY ", 1)[1].splitlines()[0])
    assert summary["samples"] == 1


def test_a_changed_file_is_the_only_one_copied_again(virtual_board, config, tmp_path):
    url, flash = virtual_board
    deploy.deploy("unix", url, config, out=lambda m: None)
    cfg = json.loads(open(config).read())
    cfg["sample_every_s"] = 30
    with open(config, "w") as f:
        json.dump(cfg, f)
    again = deploy.deploy("unix", url, config, out=lambda m: None)
    assert again["copied"] == ["config.json"]


def test_a_stale_py_that_would_shadow_an_mpy_is_removed(virtual_board, config):
    url, flash = virtual_board
    (flash).mkdir(parents=True, exist_ok=True)
    (flash / "app.py").write_text("raise SystemExit('stale')\n")
    result = deploy.deploy("unix", url, config, out=lambda m: None)
    assert "app.py" in result["removed"]
    assert not (flash / "app.py").exists()


def test_a_config_with_a_wrong_key_stops_the_deploy_naming_it(tmp_path):
    bad = tmp_path / "config.json"
    bad.write_text(json.dumps({"streams": {"t": {"pin": "V1"}}, "sensors": [{"type": "sim", "stream": "x"}]}))
    with pytest.raises(deploy.DeployError, match=r"sensors\[0\]\.stream"):
        deploy.plan("unix", str(bad))


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
