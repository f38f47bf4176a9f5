# cpython-only: reads what the Logger prints (pytest's capsys).
# What the Logger says about an unverified connection: once, when it starts, not again when the
# first upload opens the connection.
import emu
from blynklog import Logger
from logger_support import device_config


def test_insecure_is_said_once_not_again_at_the_first_upload(capsys):
    emu.require()
    emu.reset()
    import blynklog.http as http

    del http._warned[:]  # as in a fresh process
    cfg = device_config(insecure=True)
    cfg.pop("ca", None)
    log = Logger(cfg)
    log.add("temperature", 1.0)
    log.sync()
    log.close()
    out = capsys.readouterr().out
    assert out.count("WARNING") == 1 and "NOT verified" in out, out
