# The emulator helper (tests/emu.py) works on both runtimes: the session's emulator is reachable
# and its /_emu/ controls answer. Every portable test that talks to the emulator relies on this.
import emu


def test_emulator_addresses_are_in_the_environment():
    emu.require()
    assert emu.url().startswith("https://127.0.0.1:")
    assert emu.http_url().startswith("http://127.0.0.1:")
    assert emu.ca_path().endswith(".der") and emu.other_ca_path().endswith(".der")


def test_ca_certificate_file_is_readable_der():
    emu.require()
    data = emu.read_file(emu.ca_path())
    assert data[0] == 0x30 and len(data) > 200


def test_reset_then_stats_shows_nothing_recorded():
    emu.require()
    emu.reset()
    s = emu.stats()
    assert s["requests"] == 0 and s["points"] == 0


def test_injected_fault_shows_as_pending_until_reset():
    emu.require()
    emu.reset()
    emu.inject("status", count=2, status=503)
    assert emu.stats()["faults_pending"] == 2
    emu.reset()
    assert emu.stats()["faults_pending"] == 0


def test_config_change_is_undone_by_reset():
    emu.require()
    emu.reset()
    emu.config(points_per_day=3)
    assert emu.config()["points_per_day"] == 3
    emu.reset()
    assert emu.config()["points_per_day"] == 10000


def test_set_value_is_clamped_and_listed_in_values():
    emu.require()
    emu.reset()
    emu.add_stream(1, 20, "V20", "int", min=10, max=3600, setting=True)
    assert emu.set_value(1, "V20", 5) == 10
    assert [(v["pin"], v["value"]) for v in emu.values(1)] == [("V20", 10)]
    emu.reset()


def test_declared_event_code_starts_with_an_empty_event_log():
    emu.require()
    emu.reset()
    emu.add_event_code(1, "boot")
    assert emu.events(1) == []
    emu.reset()
