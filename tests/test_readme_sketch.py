# cpython-only: it follows README's "Run your sketch on the desktop" with make and the unix port.
# The steps are read from README itself: the sketch is its python block, the commands are its
# `make emulator` and `MICROPYPATH=...` lines. The only change: the emulator listens on a free port
# and writes into a temporary folder (EMU_PORT=0 EMU_OUT=...), so runs never collide.
import json
import os
import re
import shlex
import subprocess
import sys
import time
import urllib.request
import ssl

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECTION = "## Run your sketch on the desktop"


def _section():
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    start = text.index(SECTION)
    end = text.index("\n## ", start + len(SECTION))
    return text[start:end]


def _blocks(section):
    return re.findall(r"```(\w*)\n(.*?)```", section, re.S)


def _points(url, ca, device, stream):
    ctx = ssl.create_default_context(cafile=None)
    ctx.load_verify_locations(cadata=open(ca, "rb").read())
    with urllib.request.urlopen(
        "%s/_emu/points?device=%d&stream=%d" % (url, device, stream), context=ctx, timeout=10
    ) as r:
        return json.loads(r.read())["points"]


def test_readme_sketch_runs_against_make_emulator_and_its_points_arrive(tmp_path):
    section = _section()
    blocks = _blocks(section)
    sketch = [b for lang, b in blocks if lang == "python"]
    commands = [line.strip() for lang, b in blocks if lang == "" for line in b.splitlines()]
    make_line = [c for c in commands if c.startswith("make emulator")][0]
    run_line = [c for c in commands if c.startswith("MICROPYPATH=")][0]
    assert len(sketch) == 1
    (tmp_path / "my_sketch.py").write_text(sketch[0])
    out = tmp_path / "emulator"
    make_cmd = shlex.split(make_line.split("#", 1)[0]) + ["EMU_PORT=0", "EMU_OUT=%s" % out]
    emu = subprocess.Popen(make_cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        printed = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = emu.stdout.readline()
            if not line:
                break
            printed.append(line)
            if line.startswith("Ctrl-C"):
                break
        text = "".join(printed)
        assert "config.json:" in text, text
        for words in ("server:", "CA file:", "test-device-token"):
            assert words in text, text
        url = re.search(r"server:\s+(\S+)", text).group(1)
        ca = re.search(r"CA file:\s+(\S+)", text).group(1)
        # the README's command, with the sketch and the config where this run put them
        env_part, _, rest = run_line.partition(" ")
        argv = shlex.split(rest)
        argv = [os.path.join(ROOT, a) if a.startswith(".venv/") else a for a in argv]
        argv[argv.index("my_sketch.py")] = str(tmp_path / "my_sketch.py")
        argv[argv.index("build/emulator/config.json")] = str(out / "config.json")
        env = dict(os.environ, MICROPYPATH=env_part.split("=", 1)[1])
        run = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stdout + run.stderr
        assert "'sent': 15" in run.stdout, run.stdout
        cfg = json.loads((out / "config.json").read_text())
        for name, kind in (("temperature", float), ("count", int), ("status", str)):
            pin = int(cfg["streams"][name]["pin"][1:])
            pts = _points(url, ca, 1, pin)
            assert len(pts) == 5, (name, pts)
            assert all(isinstance(v, kind) or (kind is float and isinstance(v, (int, float))) for _, v in pts), pts
    finally:
        emu.terminate()
        try:
            emu.wait(timeout=20)
        except subprocess.TimeoutExpired:
            emu.kill()
            emu.wait()


def test_emulator_creates_the_datastreams_a_config_declares(tmp_path):
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    import emulator
    from blynk_server import BlynkServer

    cfg = {
        "api": "device",
        "token": "my-own-token",
        "streams": {
            "soil": {"pin": "V42", "type": "int"},
            "note": {"pin": "V7", "type": "string"},
            "air": {"pin": "V9", "type": "double", "decimals": 1},
        },
    }
    srv = BlynkServer(tls=True, cert_dir=str(tmp_path / "certs")).start()
    try:
        ready = emulator.provision(srv, cfg)
        assert ready["server"] == srv.url and ready["ca"] == os.path.abspath(srv.ca_der_path)
        assert ready["token"] == "my-own-token"
        assert srv.streams[1] == {42: ("V42", "int"), 7: ("V7", "string"), 9: ("V9", "double")}
    finally:
        srv.stop()


def test_emulator_names_the_key_of_a_stream_it_cannot_create(tmp_path):
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    import emulator
    from blynk_server import BlynkServer

    srv = BlynkServer(tls=True, cert_dir=str(tmp_path / "certs")).start()
    try:
        try:
            emulator.provision(
                srv,
                {
                    "api": "platform",
                    "client_id": "c",
                    "client_secret": "s",
                    "device_id": 3,
                    "streams": {"t": {"pin": "V1"}},
                },
            )
        except emulator.SetupError as e:
            assert str(e).startswith("streams.t.id:")
        else:
            raise AssertionError("a platform stream without an id was accepted")
    finally:
        srv.stop()
