# cpython-only: it runs the pip unix port beside CPython on one configuration file.
# The Logger keeps a validated configuration in the store's folder (config.cache) for the next
# boot; what validation allows depends on the runtime (a store.path named like a module built
# into the port), so a cache written by one runtime is not taken by another.
import json
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
LIB = os.path.join(os.path.dirname(HERE), "lib")
_OPEN = (
    "import sys\n"
    "sys.path.insert(0, %r)\n"
    "import blynklog\n"
    "try:\n"
    "    blynklog.Logger('config.json').close()\n"
    "    print('OPENED')\n"
    "except ValueError as e:\n"
    "    print('REFUSED', e)\n"
) % LIB


def _unix_port():
    exe = os.path.join(os.path.dirname(sys.executable), "micropython")
    if not os.access(exe, os.X_OK):
        pytest.skip("no unix port beside this Python")
    return exe


def _open(exe, folder):
    out = subprocess.run([exe, "-c", _OPEN], cwd=folder, capture_output=True, text=True, timeout=60)
    return (out.stdout + out.stderr).strip().splitlines()[-1]


def test_a_configuration_cpython_cached_is_validated_again_on_the_unix_port(tmp_path):
    # store.path "termios": a module the unix port has built in, which the folder would shadow.
    # CPython has no such module and accepted it, writing the cache; the port then took the
    # configuration from that cache, though it refuses it when it validates
    exe = _unix_port()
    cfg = {"server": "http://127.0.0.1:9", "token": "t", "streams": {"a": {"pin": "V1"}}, "store": {"path": "termios"}}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    assert _open(exe, str(tmp_path)).startswith("REFUSED")
    assert _open(sys.executable, str(tmp_path)) == "OPENED"
    assert os.path.exists(str(tmp_path / "termios" / "config.cache"))
    got = _open(exe, str(tmp_path))
    assert got.startswith("REFUSED") and "termios" in got, got
