# The store's folder on a board's layout: config.json at the root, which is also sys.path's first
# entry, so a folder there named like a module is imported in the module's place. The default
# path is no module's name; a path that would shadow the package or a firmware module is refused;
# a store at the earlier default "blynklog" is moved to the new default once.
import json
import os

from blynklog import ConfigError, Logger, config
from logger_support import device_config, now_ms
from support import IS_MICROPYTHON, raises, skip, tmpdir


def _write_config(folder, **over):
    cfg = device_config(**over)
    del cfg["store"]
    with open(folder + "/config.json", "w") as f:
        json.dump(cfg, f)
    return folder + "/config.json"


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def test_the_default_store_path_is_not_an_identifier():
    c = config.load({"api": "device", "token": "t", "insecure": True, "streams": {"t": {"pin": "V1"}}})
    name = c["store"]["path"].rsplit("/", 1)[-1]
    assert name == "blynklog-data"
    assert not all(ch.isalpha() or ch.isdigit() or ch == "_" for ch in name)


def test_a_store_path_named_like_the_package_is_refused_naming_store_path():
    for path in (
        "blynklog",
        "/blynklog",
        "sub/blynklog/",
        "app",
        "main",
        "boot",
        "board",
        "sensors",
        "settings",
        "hw",
        "errlog",
        "app.py",
        "/lib/blynklog",
    ):
        cfg = {
            "api": "device",
            "token": "t",
            "insecure": True,
            "streams": {"t": {"pin": "V1"}},
            "store": {"path": path},
        }
        e = raises(ConfigError, config.load, cfg)
        assert str(e).startswith("store.path:"), str(e)
        assert "blynklog-data" in str(e)


def test_a_store_path_that_only_contains_a_module_name_is_accepted():
    for path in ("data", "/data", "blynklog_store", "app-data", "data/app-log"):
        cfg = {
            "api": "device",
            "token": "t",
            "insecure": True,
            "streams": {"t": {"pin": "V1"}},
            "store": {"path": path},
        }
        # a relative one is taken from the current folder, once (os.chdir() later moves nothing)
        want = path if path.startswith("/") else os.getcwd().rstrip("/") + "/" + path
        assert config.load(cfg)["store"]["path"] == want


def test_the_default_store_lands_beside_the_config_file():
    d = tmpdir("root")
    log = Logger(_write_config(d))
    log.add("temperature", 20.5)
    log.close()
    assert _exists(d + "/blynklog-data/state.json")
    assert not _exists(d + "/blynklog")


def test_a_store_at_the_earlier_default_is_moved_and_keeps_its_samples():
    d = tmpdir("root")
    # a store as the earlier default laid it out: <config folder>/blynklog
    cfg = device_config()
    cfg["store"] = {"path": d + "/old/blynklog-data"}
    log = Logger(cfg)
    ts = now_ms() - 60000
    for i in range(5):
        log.add("temperature", 20.0 + i, ts=ts + i)
    log.close()
    os.rename(d + "/old/blynklog-data", d + "/blynklog")
    log = Logger(_write_config(d))
    try:
        assert log.stats()["pending"] == 5
    finally:
        log.close()
    assert not _exists(d + "/blynklog")
    assert _exists(d + "/blynklog-data/state.json")


def test_a_package_folder_at_the_earlier_default_is_left_alone():
    d = tmpdir("root")
    os.mkdir(d + "/blynklog")
    with open(d + "/blynklog/__init__.py", "w") as f:
        f.write("# a package\n")
    log = Logger(_write_config(d))
    log.close()
    assert _exists(d + "/blynklog/__init__.py")
    assert _exists(d + "/blynklog-data/state.json")


def test_every_firmware_and_board_module_is_a_refused_store_name():
    # run from the checkout's root, as both runners do
    names = set()
    for folder in ("firmware", "boards/esp32", "boards/rp2040", "boards/unix"):
        for n in os.listdir(folder):
            if n.endswith(".py") and n != "manifest.py":
                names.add(n[:-3])
    names.add("blynklog")
    missing = sorted(n for n in names if n not in config.SHADOWED_MODULES)
    assert not missing, missing


def _store_error(path):
    cfg = {"api": "device", "token": "t", "insecure": True, "streams": {"t": {"pin": "V1"}}, "store": {"path": path}}
    return str(raises(ConfigError, config.load, cfg))


def test_a_store_path_named_like_a_module_a_board_imports_is_refused_naming_store_path():
    for name in (
        "asyncio",
        "os",
        "time",
        "json",
        "machine",
        "network",
        "ntptime",
        "requests",
        "struct",
        "mip",
        "neopixel",
        "dht",
        "onewire",
        "ds18x20",
        "webrepl",
        "upysh",
        "aioble",
        "config",
        "wifi",
    ):
        e = _store_error("/tmp/x/" + name)
        assert e.startswith("store.path:") and "blynklog-data" in e, (name, e)


def test_a_store_path_named_like_a_modules_older_u_name_is_refused():
    for name in ("uos", "utime", "ujson", "urequests", "uasyncio", "usocket", "ustruct", "uzlib"):
        assert _store_error(name).startswith("store.path:"), name


def test_a_store_path_named_like_a_module_in_another_case_is_refused():
    # FAT (which some boards use) finds "Main" for an import of main
    for name in ("Main", "TIME", "Blynklog.py", "TIME.PY", "Main.Py", "blynklog.MPY"):
        assert _store_error(name).startswith("store.path:"), name


def test_a_store_path_whose_first_folder_is_a_modules_name_is_refused():
    # "blynklog/x" beside the config makes the folder blynklog at the root, imported as a package
    for path in ("blynklog/x", "time/data", "/asyncio/data"):
        e = _store_error(path)
        assert e.startswith("store.path:") and path.strip("/").split("/")[0] in e, (path, e)


def test_every_module_of_the_virtual_boards_chip_is_a_refused_store_name():
    # run from the checkout's root, as both runners do
    names = [n[:-3] for n in os.listdir("boards/unix/chip") if n.endswith(".py")]
    assert names and not [n for n in names if n not in config.SHADOWED_MODULES], names


def test_a_store_path_named_like_a_module_built_into_the_running_micropython_is_refused():
    if not IS_MICROPYTHON:
        skip("CPython runs on no board: only MicroPython is asked what it has built in")
    # termios: built into the unix port, in no board's firmware (so not in SHADOWED_MODULES)
    assert "termios" not in config.SHADOWED_MODULES
    assert _store_error("termios").startswith("store.path:")


def test_asking_the_runtime_about_a_store_folders_name_runs_no_file_and_keeps_sys_path():
    import sys

    d = tmpdir("mod")
    with open(d + "/blzprobe.py", "w") as f:
        f.write("open(%r, 'w').close()\n" % (d + "/ran"))
    before = list(sys.path)
    cwd = os.getcwd()
    os.chdir(d)  # the current folder: what an empty sys.path would search
    try:
        cfg = {"api": "device", "token": "t", "insecure": True, "streams": {"t": {"pin": "V1"}}}
        cfg["store"] = {"path": "blzprobe"}
        assert config.load(cfg)["store"]["path"] == d.rstrip("/") + "/blzprobe"
    finally:
        os.chdir(cwd)
    assert not _exists(d + "/ran")
    assert sys.path == before
