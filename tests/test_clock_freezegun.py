# cpython-only: freezegun drives the host's wall clock and monotonic ticks.
# The clock with its default sources (time.time_ns, compat's ticks, the ntptime stand-in) while
# freezegun holds or moves the host clock: the wall-clock paths the injected-source tests skip.
import datetime

import ntptime
import pytest
from freezegun import freeze_time

from blynklog.clock import FLAG_BOOTREL, Clock
from blynklog.clock import State

NOW = 1795628968000  # Wed, 25 Nov 2026 17:49:28 GMT


@pytest.fixture
def state(tmp_path):
    return State(str(tmp_path / "state.json"))


@pytest.fixture
def ntp():
    # the stubs' ntptime, restored afterwards
    saved = (ntptime.answer, ntptime.error, ntptime.timeout)
    yield ntptime
    ntptime.answer, ntptime.error, ntptime.timeout = saved


def test_host_clock_in_2026_is_set_and_read_to_the_millisecond(state):
    with freeze_time("2026-11-25 17:49:28.250"):
        clock = Clock(state)
        assert clock.is_set()
        assert abs(clock.now_ms() - (NOW + 250)) <= 1


def test_host_clock_in_2024_is_not_set(state):
    with freeze_time("2024-06-01 12:00:00"):
        clock = Clock(state)
        assert not clock.is_set()
        assert clock.stamp()[1] == FLAG_BOOTREL


def test_sample_taken_before_ntp_sync_resolves_to_the_time_it_was_taken(state, ntp):
    # the host clock is 2024 (unset); NTP knows better: the sample gets the NTP time it was taken
    with freeze_time("2024-06-01 12:00:00") as frozen:
        clock = Clock(state)
        frozen.tick(datetime.timedelta(seconds=10))
        ts, flags = clock.stamp()
        frozen.tick(datetime.timedelta(seconds=50))
        ntp.answer = NOW // 1000
        assert clock.sync_ntp(timeout_ms=800)
        got, estimated = clock.resolve(ts, flags)
        assert not estimated
        assert abs(got - (NOW - 50000)) <= 1000


def test_ntp_module_timeout_is_reported_and_its_socket_timeout_set(state, ntp):
    with freeze_time("2024-06-01 12:00:00"):
        clock = Clock(state)
        ntp.error = OSError(110)
        assert not clock.sync_ntp(timeout_ms=800)
        assert clock.last_error == "ntp: timeout"
        assert ntp.timeout == 0.8


def test_ntp_module_answering_1970_is_refused(state, ntp):
    with freeze_time("2024-06-01 12:00:00"):
        clock = Clock(state)
        ntp.answer = 0
        assert not clock.sync_ntp()
        assert not clock.is_set()


def test_now_ms_does_not_go_back_when_the_host_clock_does(state):
    with freeze_time("2026-11-25 17:49:28") as frozen:
        clock = Clock(state)
        first = clock.now_ms()
        frozen.move_to("2026-11-25 17:48:28")
        assert clock.now_ms() >= first


def test_http_date_sets_the_clock_when_the_host_clock_is_unset(state):
    with freeze_time("2024-06-01 12:00:00") as frozen:
        clock = Clock(state)
        assert clock.set_from_http_date("Wed, 25 Nov 2026 17:49:28 GMT")
        frozen.tick(datetime.timedelta(seconds=30))
        assert abs(clock.now_ms() - (NOW + 30000)) <= 1000


def test_clock_set_in_a_later_session_places_an_earlier_sessions_samples(state, tmp_path):
    # a process restart is a new boot; the anchor of the first boot is persisted when it is set
    with freeze_time("2024-06-01 12:00:00") as frozen:
        clock = Clock(state)
        ts, flags = clock.stamp()
        frozen.tick(datetime.timedelta(seconds=5))
        clock.set_time_ms(NOW)
        later = Clock(State(state.path))
        got, estimated = later.resolve(ts, flags)
        assert (got, estimated) == (NOW - 5000, False)


def test_without_time_ns_the_milliseconds_come_from_the_ticks(state, monkeypatch):
    import time

    with freeze_time("2026-11-25 17:49:28") as frozen:
        monkeypatch.delattr(time, "time_ns")
        clock = Clock(state)
        assert clock.now_ms() == NOW
        frozen.tick(datetime.timedelta(milliseconds=250))
        assert clock.now_ms() == NOW + 250
        frozen.tick(datetime.timedelta(milliseconds=900))
        later = clock.now_ms()
        assert NOW + 1000 <= later <= NOW + 1150
