# The store's folder on a board's layout: config.json at the root, which is also sys.path's first
# entry, so a folder there named like a module is imported in the module's place. The default
# path is no module's name; a path that would shadow the package or a firmware module is refused;
# a store at the earlier default "blynklog" is moved to the new default once.
import json
import os

from blynklog import ConfigError, Logger, config
from logger_support import device_config, now_ms
from support import raises, tmpdir


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
    for path in ("data", "/data", "blynklog_store", "app-data", "blynklog/x"):
        cfg = {
            "api": "device",
            "token": "t",
            "insecure": True,
            "streams": {"t": {"pin": "V1"}},
            "store": {"path": path},
        }
        assert config.load(cfg)["store"]["path"] == path


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
