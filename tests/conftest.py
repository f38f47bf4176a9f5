# pytest setup for CPython: the package, the board stand-ins and the test helpers on sys.path.
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
for p in (os.path.join(HERE, "stubs"), os.path.join(ROOT, "lib"), HERE):
    if p not in sys.path:
        sys.path.insert(0, p)


# The local Blynk emulator (tools/blynk_server.py), one for the whole session, started on first use.
# Its addresses go into the environment (BLYNKLOG_EMU_*), where tests/emu.py reads them, so one
# portable test runs unchanged here and on the unix port (test_unix_port.py passes them on).
import pytest

EMU_ENV = ("BLYNKLOG_EMU_URL", "BLYNKLOG_EMU_HTTP_URL", "BLYNKLOG_EMU_CA", "BLYNKLOG_EMU_OTHER_CA",
           "BLYNKLOG_EMU_WRONG_NAME_URL")


@pytest.fixture(scope="session", autouse=True)
def blynk_emulator():
    tools = os.path.join(ROOT, "tools")
    if tools not in sys.path:
        sys.path.insert(0, tools)
    from blynk_server import BlynkServer

    srv = BlynkServer(tls=True).start()
    saved = {k: os.environ.get(k) for k in EMU_ENV}
    os.environ.update({
        "BLYNKLOG_EMU_URL": srv.url,
        "BLYNKLOG_EMU_HTTP_URL": srv.http_url,
        "BLYNKLOG_EMU_CA": srv.ca_der_path,
        "BLYNKLOG_EMU_OTHER_CA": srv.other_ca_der_path,
        "BLYNKLOG_EMU_WRONG_NAME_URL": srv.wrong_name_url,
    })
    try:
        yield srv
    finally:
        srv.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
