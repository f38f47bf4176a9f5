# The clock: Unix ms on both epochs, boot-relative stamps placed later, NTP and HTTP Date with
# sanity checks, deep sleep with a lost RTC, and tick wrap-around. Every time source is injected
# (ticks, RTC, NTP, port clock), so the same tests run on CPython and the unix port.
import json

from blynklog import compat
from blynklog.clock import FLAG_BOOTREL, Clock, civil_from_days, rtc_ms, rtc_tuple
from blynklog.clock_set import parse_http_date
from blynklog.clock import State
from support import raises, tmpdir

NOW = 1795628968000  # Wed, 25 Nov 2026 17:49:28 GMT
Y2021 = 1609459200000  # rp2's RTC after every reset
Y2000 = 946684800000  # ESP32's RTC after power-on
ESP32_EPOCH_S = 946684800
DEEPSLEEP_RESET = 4
PWRON_RESET = 1
HOUR = 3600000
MINUTE = 60000


class Ticks:
    # time.ticks_ms for one boot; advance() moves it with ticks_add, so it wraps like the port's
    def __init__(self, start=0):
        self.t = start

    def __call__(self):
        return self.t

    def advance(self, ms):
        self.t = compat.ticks_add(self.t, ms)


class RTC:
    # a board's RTC: a calendar that runs with the ticks and can be set (microseconds last)
    def __init__(self, ticks, unix_ms):
        self.ticks = ticks
        self.ms = unix_ms
        self.at = ticks()
        self.writes = 0

    def now(self):
        return self.ms + compat.ticks_diff(self.ticks(), self.at)

    def datetime(self, dt=None):
        if dt is None:
            n = self.now()
            return rtc_tuple(n)[:7] + ((n % 1000) * 1000,)
        self.ms = rtc_ms(dt)
        self.at = self.ticks()
        self.writes += 1


class Ntp:
    # ntptime: time() gives seconds since the port's epoch, or raises
    def __init__(self, answer=None, error=None):
        self.answer = answer
        self.error = error
        self.timeout = 1

    def time(self):
        if self.error is not None:
            raise self.error
        return self.answer


class Board:
    # one board across boots: its state file survives, its ticks and (on rp2) its RTC do not
    def __init__(self, kind="rp2", ticks_start=0):
        self.kind = kind
        self.path = tmpdir("clock") + "/state.json"
        self.epoch = ESP32_EPOCH_S if kind == "esp32" else 0
        self.ticks = Ticks(ticks_start)
        self.rtc = RTC(self.ticks, Y2000 if kind == "esp32" else Y2021)
        self.true_ms = NOW  # the real time, for the test's own bookkeeping

    def boot(self, cause=PWRON_RESET, **kw):
        self.state = State(self.path)
        return Clock(self.state, rtc=self.rtc, ticks=self.ticks, epoch_offset_s=self.epoch, reset_cause=cause, **kw)

    def run(self, ms):
        self.ticks.advance(ms)
        self.true_ms += ms

    def ntp(self, true_ms=None):
        # an NTP server answering the real time, in the port's epoch
        return Ntp((self.true_ms if true_ms is None else true_ms) // 1000 - self.epoch)

    def deep_sleep(self, ms):
        self.true_ms += ms
        self.ticks = Ticks(0)
        if self.kind == "esp32":
            n = self.rtc.now() + ms
            self.rtc = RTC(self.ticks, n)  # keeps counting through deep sleep
        else:
            self.rtc = RTC(self.ticks, Y2021)  # rp2: deep sleep is a reset

    def power_cycle(self, off_ms=0):
        self.true_ms += off_ms
        self.ticks = Ticks(0)
        self.rtc = RTC(self.ticks, Y2000 if self.kind == "esp32" else Y2021)

    def reset(self, ms):
        # a reset that keeps the power (a watchdog's): ms later the ticks restart; an ESP32's RTC
        # ran on, rp2's restarts
        self.true_ms += ms
        self.ticks = Ticks(0)
        self.rtc = RTC(self.ticks, self.rtc.now() + ms if self.kind == "esp32" else Y2021)


# ---- calendar helpers


def test_civil_from_days_inverts_days_from_civil():
    for ymd in ((1970, 1, 1), (2000, 1, 1), (2000, 2, 29), (2021, 1, 1), (2026, 11, 25), (2099, 12, 31)):
        assert civil_from_days(compat.days_from_civil(*ymd)) == ymd


def test_rtc_tuple_of_a_known_time():
    assert rtc_tuple(NOW) == (2026, 11, 25, 3, 17, 49, 28, 0)


def test_rtc_ms_reads_microseconds_in_the_last_field():
    assert rtc_ms((2026, 11, 25, 3, 17, 49, 28, 250000)) == NOW + 250


def test_parse_http_date_of_an_imf_fixdate():
    assert parse_http_date("Wed, 25 Nov 2026 17:49:28 GMT") == NOW


def test_parse_http_date_accepts_the_obsolete_rfc_850_and_asctime_forms():
    # RFC 9110: a recipient must accept all three HTTP-date forms
    assert parse_http_date("Wednesday, 25-Nov-26 17:49:28 GMT") == NOW
    assert parse_http_date("Wed Nov 25 17:49:28 2026") == NOW
    assert parse_http_date("Tue Dec  1 08:00:00 2026") == 1796112000000


def test_parse_http_date_refuses_a_day_past_the_end_of_its_month():
    # a garbled Date is refused (TIME.md), not moved into the next month
    for text in ("Tue, 31 Feb 2026 08:00:00 GMT", "Sun, 29 Feb 2026 08:00:00 GMT", "Mon, 31 Nov 2026 08:00:00 GMT"):
        assert parse_http_date(text) is None, text
    assert parse_http_date("Tue, 29 Feb 2028 00:00:00 GMT") == 1835395200000  # a leap year's
    assert parse_http_date("Thu, 31 Dec 2026 23:59:59 GMT") == 1798761599000


def test_parse_http_date_refuses_numbers_with_a_sign():
    for text in ("Tue, 01 Dec 2026 +8:-0:00 GMT", "Tue, 01 Dec -2026 08:00:00 GMT", "Tue, +1 Dec 2026 08:00:00 GMT"):
        assert parse_http_date(text) is None, text


def test_parse_http_date_refuses_garbage():
    for text in (
        "",
        "yesterday",
        "Wed, 25 Foo 2026 17:49:28 GMT",
        "Wed, 25 Nov 2026 17:49 GMT",
        "Wed, 25 Nov 2026 25:49:28 GMT",
        "Wed, xx Nov 2026 17:49:28 GMT",
        None,
    ):
        assert parse_http_date(text) is None


# ---- set or not set


def test_clock_is_set_when_the_port_clock_reads_a_recent_year():
    clock = Clock(State(tmpdir() + "/s.json"), port_time_ms=lambda: NOW)
    assert clock.is_set()
    assert clock.now_ms() == NOW


def test_rp2_after_reset_reading_2021_is_not_set():
    assert not Board("rp2").boot().is_set()


def test_esp32_after_power_on_reading_2000_is_not_set():
    assert not Board("esp32").boot().is_set()


def test_port_clock_reading_2099_is_not_set():
    clock = Clock(State(tmpdir() + "/s.json"), port_time_ms=lambda: 4070908800000)
    assert not clock.is_set()


def test_the_host_clock_counts_as_set_with_default_sources():
    clock = Clock(State(tmpdir() + "/s.json"))
    assert clock.is_set()
    assert abs(clock.now_ms() - compat.unix_ms()) < 60000


def test_user_code_setting_the_rtc_is_noticed():
    b = Board("rp2")
    clock = b.boot()
    b.rtc.datetime(rtc_tuple(NOW))  # e.g. ntptime.settime() in the user's sketch
    assert clock.is_set()
    assert clock.stats()["source"] == "rtc"


# ---- stamps and boot-relative codes


def test_stamp_while_set_is_unix_ms_without_flag():
    clock = Clock(State(tmpdir() + "/s.json"), port_time_ms=lambda: NOW)
    assert clock.stamp() == (NOW, 0)


def test_stamp_before_set_is_a_boot_relative_code_with_the_flag():
    b = Board("rp2")
    clock = b.boot()
    b.run(1234)
    ts, flags = clock.stamp()
    assert flags == FLAG_BOOTREL
    assert ts == (clock.stats()["boot"] << 40) | 1234
    assert ts < 1 << 56


def test_boot_id_increments_with_each_clock_and_is_persisted():
    b = Board("rp2")
    first = b.boot().stats()["boot"]
    assert b.boot().stats()["boot"] == first + 1
    assert json.load(open(b.path))["clock"]["boot"] == first + 1


def test_boot_id_wraps_at_16_bits():
    path = tmpdir() + "/s.json"
    s = State(path)
    s.set("clock", {"boot": 65535})
    s.save()
    assert Clock(State(path), port_time_ms=lambda: Y2021).stats()["boot"] == 0


def test_resolve_passes_unix_timestamps_through():
    clock = Board("rp2").boot()
    assert clock.resolve(NOW, 0) == (NOW, False)


def test_resolve_of_this_boot_before_set_is_none():
    clock = Board("rp2").boot()
    ts, flags = clock.stamp()
    assert clock.resolve(ts, flags) is None


def test_sample_stamped_before_ntp_sync_gets_its_unix_ms_on_rp2():
    b = Board("rp2")
    ntp = Ntp()
    clock = b.boot(ntp=ntp)
    b.run(5000)
    taken = b.true_ms
    ts, flags = clock.stamp()
    b.run(60000)
    ntp.answer = b.true_ms // 1000
    assert clock.sync_ntp() is True
    got, estimated = clock.resolve(ts, flags)
    assert estimated is False
    assert abs(got - taken) <= 1000  # ntptime gives whole seconds


def test_sample_stamped_before_ntp_sync_gets_its_unix_ms_on_esp32():
    b = Board("esp32")
    ntp = Ntp()
    clock = b.boot(ntp=ntp)
    b.run(5000)
    taken = b.true_ms
    ts, flags = clock.stamp()
    b.run(60000)
    ntp.answer = b.true_ms // 1000 - ESP32_EPOCH_S  # ntptime answers in the port's epoch
    assert clock.sync_ntp() is True
    got, estimated = clock.resolve(ts, flags)
    assert estimated is False
    assert abs(got - taken) <= 1000


def test_ntp_answer_in_the_esp32_epoch_is_converted_to_unix_ms():
    b = Board("esp32")
    b.run(10)
    clock = b.boot(ntp=b.ntp())
    assert clock.sync_ntp()
    assert abs(clock.now_ms() - b.true_ms) <= 1000


def test_sample_from_before_sync_uploaded_in_a_later_boot_keeps_its_time():
    b = Board("esp32")
    clock = b.boot()
    b.run(7000)
    taken = b.true_ms
    ts, flags = clock.stamp()
    b.run(1000)
    assert clock.set_time_ms(b.true_ms)
    clock.before_sleep(HOUR)
    b.deep_sleep(HOUR)
    later = b.boot(DEEPSLEEP_RESET)
    assert later.resolve(ts, flags) == (taken, False)


def test_setting_the_clock_writes_the_rtc():
    b = Board("rp2")
    clock = b.boot()
    assert clock.set_time_ms(b.true_ms)
    assert abs(b.rtc.now() - b.true_ms) < 1000


def test_now_ms_after_a_set_follows_the_ticks():
    b = Board("rp2")
    clock = b.boot()
    clock.set_time_ms(b.true_ms)
    b.run(90000)
    assert clock.now_ms() == b.true_ms


# ---- earlier boots


def test_previous_boot_that_never_got_a_set_clock_cannot_be_placed():
    b = Board("rp2")
    clock = b.boot()
    ts, flags = clock.stamp()
    b.power_cycle(HOUR)
    later = b.boot(PWRON_RESET)
    later.set_time_ms(b.true_ms)
    assert later.resolve(ts, flags) is False


def test_records_of_boots_older_than_the_kept_anchors_cannot_be_placed():
    b = Board("rp2")
    clock = b.boot()
    ts, flags = clock.stamp()
    clock.set_time_ms(b.true_ms)
    assert b.boot().resolve(ts, flags) == (NOW, False)
    for _ in range(20):
        b.power_cycle(1000)
        b.boot()
    assert len(json.load(open(b.path))["clock"]["boots"]) <= 16
    assert b.boot().resolve(ts, flags) is False


def test_dropped_unplaceable_samples_are_counted_and_persisted():
    b = Board("rp2")
    clock = b.boot()
    clock.note_dropped(3)
    clock.before_sleep(1000)
    assert b.boot().stats()["unplaceable"] == 3


# ---- deep sleep


def test_wake_from_deep_sleep_with_a_lost_rtc_restores_an_estimate():
    b = Board("rp2")
    clock = b.boot()
    clock.set_time_ms(b.true_ms)
    b.run(3000)
    clock.before_sleep(HOUR)
    b.deep_sleep(HOUR)
    woken = b.boot(DEEPSLEEP_RESET)
    assert not woken.is_set()
    assert woken.stats()["estimated"] is True
    assert abs(woken.now_ms() - b.true_ms) < 1000
    assert abs(b.rtc.now() - b.true_ms) < 1000  # written back, so TLS sees a sane date


def test_samples_after_a_wake_with_a_lost_rtc_are_placed_as_estimated():
    b = Board("rp2")
    clock = b.boot()
    clock.set_time_ms(b.true_ms)
    clock.before_sleep(HOUR)
    b.deep_sleep(HOUR)
    woken = b.boot(DEEPSLEEP_RESET)
    b.run(2000)
    ts, flags = woken.stamp()
    assert flags == FLAG_BOOTREL
    got, estimated = woken.resolve(ts, flags)
    assert estimated is True
    assert abs(got - b.true_ms) < 1000


def test_sync_after_a_wake_makes_that_boots_samples_exact():
    b = Board("rp2")
    clock = b.boot()
    clock.set_time_ms(b.true_ms)
    clock.before_sleep(HOUR)
    b.deep_sleep(HOUR + 4000)  # the board overslept: the estimate is 4 s early
    woken = b.boot(DEEPSLEEP_RESET)
    b.run(2000)
    taken = b.true_ms
    ts, flags = woken.stamp()
    b.run(2000)
    assert woken.set_time_ms(b.true_ms)
    assert woken.resolve(ts, flags) == (taken, False)


def test_sync_after_a_wake_places_the_unset_boot_before_the_sleep_as_estimated():
    b = Board("rp2")
    clock = b.boot()
    b.run(1000)
    taken = b.true_ms
    ts, flags = clock.stamp()
    b.run(1000)
    clock.before_sleep(HOUR)
    b.deep_sleep(HOUR)
    woken = b.boot(DEEPSLEEP_RESET)
    assert woken.resolve(ts, flags) is None  # not yet: this boot's sync can still place it
    b.run(500)
    woken.set_time_ms(b.true_ms)
    got, estimated = woken.resolve(ts, flags)
    assert (got, estimated) == (taken, True)


def test_a_chain_of_timeless_deep_sleep_wakes_longer_than_the_kept_anchors_is_placed_whole():
    # an ESP32 after a power cut, its Wi-Fi down: 40 wakes from deep sleep without the time, each
    # stamping a sample; the 41st gets the time and places every one of them
    b = Board("esp32")
    stamps = []
    clock = b.boot(PWRON_RESET)
    for _ in range(40):
        b.run(200)
        stamps.append((b.true_ms,) + clock.stamp())
        clock.before_sleep(MINUTE)
        b.deep_sleep(MINUTE)
        clock = b.boot(DEEPSLEEP_RESET)
    assert len(json.load(open(b.path))["clock"]["boots"]) == 1
    b.run(300)
    taken = b.true_ms
    ts, flags = clock.stamp()
    assert clock.set_time_ms(b.true_ms)
    for true_ms, code, fl in stamps:
        got, estimated = clock.resolve(code, fl)
        assert abs(got - true_ms) < 1000 and estimated is True, (got, true_ms, estimated)
    assert clock.resolve(ts, flags) == (taken, False)
    # and in the boots after, from the state file
    clock.before_sleep(MINUTE)
    b.deep_sleep(MINUTE)
    later = b.boot(DEEPSLEEP_RESET)
    got, estimated = later.resolve(stamps[0][1], stamps[0][2])
    assert abs(got - stamps[0][0]) < 1000 and estimated is True


def _timeless_chain_error_ms(kind, wakes, boot_ms):
    # wakes of a board without the time, each stamping a sample; the last gets the time: the
    # largest error of the chain's placed samples (each wake's boot takes boot_ms before its ticks)
    b = Board(kind)
    stamps = []
    clock = b.boot(PWRON_RESET)
    for _ in range(wakes):
        b.run(200)
        stamps.append((b.true_ms,) + clock.stamp())
        clock.before_sleep(MINUTE)
        b.deep_sleep(MINUTE + boot_ms)
        clock = b.boot(DEEPSLEEP_RESET)
    b.run(300)
    assert clock.set_time_ms(b.true_ms)
    worst = 0
    for true_ms, code, fl in stamps:
        got, estimated = clock.resolve(code, fl)
        assert estimated is True
        worst = max(worst, abs(got - true_ms))
    return worst


def test_a_timeless_chain_counts_each_wakes_boot_time_by_the_rtc_that_ran_through_the_sleep():
    # an ESP32's ROM and bootloader run 300 ms before its ticks start: planned sleeps alone would
    # lose that at every wake (12 s over 40 wakes); the RTC, unset but counting, saw it
    assert _timeless_chain_error_ms("esp32", 40, 300) < 100


def test_a_timeless_chain_on_a_board_whose_rtc_restarts_keeps_to_the_planned_sleeps():
    # rp2: the RTC restarts at every reset, so its reading says nothing of the sleep
    assert _timeless_chain_error_ms("rp2", 5, 0) < 100


def test_boots_that_wake_with_the_time_do_not_push_out_a_boot_whose_samples_wait():
    # the time was set exactly in the boot that stamped; 30 wakes later (each with its RTC set,
    # as an ESP32's after deep sleep) its boot-relative samples still resolve
    b = Board("esp32")
    clock = b.boot(PWRON_RESET)
    b.run(1000)
    taken = b.true_ms
    ts, flags = clock.stamp()
    assert clock.set_time_ms(b.true_ms)
    for _ in range(30):
        clock.before_sleep(MINUTE)
        b.deep_sleep(MINUTE)
        clock = b.boot(DEEPSLEEP_RESET)
        assert clock.is_set()
    assert clock.resolve(ts, flags) == (taken, False)
    assert len(json.load(open(b.path))["clock"]["boots"]) <= 16


def test_a_boot_set_from_its_start_takes_no_room_from_sixteen_boots_whose_samples_wait():
    # TIME.md: the last 16 boots that may hold boot-relative samples are kept; a boot whose clock
    # was set from its start (an ESP32 waking with its RTC) takes no room, so the 16th boot back
    # still resolves
    b = Board("esp32")
    for i in range(16):
        if i:
            b.power_cycle(1000)
        clock = b.boot(PWRON_RESET)
        b.run(100)
        ts, flags = clock.stamp()
        if not i:
            first = (ts, flags, b.true_ms)
        assert clock.set_time_ms(b.true_ms)
    clock.before_sleep(MINUTE)
    b.deep_sleep(MINUTE)
    clock = b.boot(DEEPSLEEP_RESET)
    assert clock.is_set()
    assert clock.resolve(first[0], first[1]) == (first[2], False)


def test_power_on_reset_during_sleep_does_not_use_the_sleep_anchor():
    b = Board("rp2")
    clock = b.boot()
    clock.set_time_ms(b.true_ms)
    clock.before_sleep(HOUR)
    b.power_cycle(5 * HOUR)
    woken = b.boot(PWRON_RESET)
    assert woken.stats()["estimated"] is False
    ts, flags = woken.stamp()
    assert woken.resolve(ts, flags) is None


def test_a_wake_with_its_rtc_after_one_with_its_rtc_writes_the_state_once_at_before_sleep():
    b = Board("esp32")
    clock = b.boot()
    clock.set_time_ms(b.true_ms)
    clock.before_sleep(MINUTE)
    b.deep_sleep(MINUTE)
    b.boot(DEEPSLEEP_RESET).before_sleep(MINUTE)  # the first wake with its RTC: written at once
    b.deep_sleep(MINUTE)
    before = open(b.path).read()
    woken = b.boot(DEEPSLEEP_RESET)
    assert woken.is_set() and open(b.path).read() == before  # nothing to write yet
    b.run(500)
    woken.stamp()
    woken.before_sleep(MINUTE)
    assert json.load(open(b.path))["clock"]["boot"] == woken.stats()["boot"]


def test_esp32_rtc_survives_deep_sleep_and_the_clock_is_set():
    b = Board("esp32")
    clock = b.boot()
    clock.set_time_ms(b.true_ms)
    clock.before_sleep(HOUR)
    b.deep_sleep(HOUR)
    woken = b.boot(DEEPSLEEP_RESET)
    assert woken.is_set()
    assert abs(woken.now_ms() - b.true_ms) < 1000


def test_a_clock_made_again_in_a_wake_on_the_estimate_in_the_rtc_lets_the_sync_make_the_wake_exact():
    # a Logger closed and made again in the wake (went_on): the RTC reads the estimate written
    # into it, which is no set clock; the next sync makes the wake's samples exact (TIME.md)
    b = Board("rp2")
    clock = b.boot()
    clock.set_time_ms(b.true_ms)
    clock.before_sleep(HOUR)
    b.deep_sleep(HOUR + 4000)  # the board overslept: the estimate is 4 s early
    woken = b.boot(DEEPSLEEP_RESET)
    b.run(2000)
    taken = b.true_ms
    ts, flags = woken.stamp()
    again = b.boot(DEEPSLEEP_RESET, went_on=woken.ended())
    assert not again.is_set()
    b.run(2000)
    taken2 = b.true_ms
    ts2, flags2 = again.stamp()
    b.run(2000)
    assert again.set_time_ms(b.true_ms)
    assert again.resolve(ts, flags) == (taken, False)
    assert again.resolve(ts2, flags2) == (taken2, False)


def test_a_clock_made_again_in_a_wake_on_the_estimate_without_an_rtc_lets_the_sync_make_the_wake_exact():
    # the same where the port clock cannot be written (the estimate is only the Clock's offset)
    b = Board("rp2")
    clock = b.boot()
    clock.set_time_ms(b.true_ms)
    clock.before_sleep(HOUR)
    b.deep_sleep(HOUR + 4000)

    def boot(**kw):
        return Clock(State(b.path), ticks=b.ticks, port_time_ms=lambda: Y2021 + b.ticks(), **kw)

    woken = boot(reset_cause=DEEPSLEEP_RESET)
    assert woken.stats()["estimated"] is True
    b.run(2000)
    taken = b.true_ms
    ts, flags = woken.stamp()
    again = boot(reset_cause=DEEPSLEEP_RESET, went_on=woken.ended())
    b.run(2000)
    assert again.set_time_ms(b.true_ms)
    assert again.resolve(ts, flags) == (taken, False)


def test_chained_estimates_over_two_sleeps_without_sync():
    b = Board("rp2")
    clock = b.boot()
    clock.set_time_ms(b.true_ms)
    clock.before_sleep(HOUR)
    b.deep_sleep(HOUR)
    b.boot(DEEPSLEEP_RESET).before_sleep(HOUR)
    b.deep_sleep(HOUR)
    third = b.boot(DEEPSLEEP_RESET)
    assert third.stats()["estimated"] is True
    assert abs(third.now_ms() - b.true_ms) < 1000


# ---- NTP


def test_ntp_failure_is_reported_and_leaves_the_clock_unset():
    b = Board("rp2")
    clock = b.boot(ntp=Ntp(error=OSError(113)))
    assert clock.sync_ntp() is False
    assert not clock.is_set()
    assert clock.last_error.startswith("ntp")


def test_ntp_timeout_is_reported_as_a_timeout():
    clock = Board("rp2").boot(ntp=Ntp(error=OSError(110)))
    assert clock.sync_ntp(timeout_ms=1500) is False
    assert clock.last_error == "ntp: timeout"


def test_ntp_host_is_passed_to_ntptime():
    b = Board("rp2")
    ntp = b.ntp()
    ntp.host = "pool.ntp.org"
    b.boot(ntp=ntp, ntp_host="127.0.0.1").sync_ntp()
    assert ntp.host == "127.0.0.1"


def test_ntp_socket_timeout_follows_timeout_ms():
    b = Board("rp2")
    ntp = b.ntp()
    clock = b.boot(ntp=ntp)
    clock.sync_ntp(timeout_ms=1500)
    assert ntp.timeout == 1.5


def test_ntp_answering_1970_is_refused():
    clock = Board("rp2").boot(ntp=Ntp(0))
    assert clock.sync_ntp() is False
    assert "before 2025" in clock.last_error
    assert not clock.is_set()


def test_ntp_answering_2099_is_refused():
    clock = Board("rp2").boot(ntp=Ntp(4070908800))  # 2099-01-01
    assert clock.sync_ntp() is False
    assert "after" in clock.last_error
    assert not clock.is_set()


def test_ntp_answering_garbage_is_refused():
    clock = Board("rp2").boot(ntp=Ntp("soon"))
    assert clock.sync_ntp() is False
    assert clock.stats()["refused"] == 1


# ---- sanity of a step


def test_step_before_stored_data_by_more_than_the_margin_is_refused():
    b = Board("rp2")
    clock = b.boot()
    clock.note_stored(NOW)
    assert clock.set_time_ms(NOW - 11 * 60000) is False
    assert "before stored data" in clock.last_error


def test_step_back_within_the_margin_is_accepted():
    b = Board("rp2")
    clock = b.boot(max_step_back_ms=60000)
    clock.note_stored(NOW)
    assert clock.set_time_ms(NOW - 30000) is True


def test_newest_stamp_of_an_earlier_boot_guards_the_next_boots_steps():
    b = Board("rp2")
    clock = b.boot()
    clock.set_time_ms(b.true_ms)
    b.run(1000)
    clock.stamp()
    clock.before_sleep(HOUR)
    b.deep_sleep(HOUR)
    woken = b.boot(DEEPSLEEP_RESET)
    assert woken.set_time_ms(NOW - 24 * HOUR) is False


def test_now_ms_never_goes_backwards_after_a_step_back():
    b = Board("rp2")
    clock = b.boot()
    clock.set_time_ms(NOW)
    first = clock.now_ms()
    clock.set_time_ms(NOW - 5000)
    assert clock.now_ms() >= first


def test_set_time_ms_rejects_a_non_int():
    clock = Board("rp2").boot()
    raises(TypeError, clock.set_time_ms, 1.5e12)


# ---- HTTP Date


def test_http_date_sets_an_unset_clock():
    b = Board("rp2")
    clock = b.boot()
    assert clock.set_from_http_date("Wed, 25 Nov 2026 17:49:28 GMT") is True
    assert clock.is_set()
    assert clock.stats()["source"] == "http"
    assert abs(clock.now_ms() - NOW) <= 1000


def test_http_date_does_not_override_ntp():
    b = Board("rp2")
    clock = b.boot(ntp=b.ntp())
    clock.sync_ntp()
    assert clock.set_from_http_date("Wed, 25 Nov 2026 18:49:28 GMT") is False
    assert clock.stats()["source"] == "ntp"


def test_bad_http_date_is_refused():
    clock = Board("rp2").boot()
    assert clock.set_from_http_date("not a date") is False
    assert clock.last_error == "http: bad date"
    assert not clock.is_set()


# ---- wrap-around


def test_ms_since_boot_counts_across_a_ticks_wrap():
    b = Board("rp2", ticks_start=compat.ticks_add(0, -5))  # five ms before the counter wraps
    clock = b.boot()
    b.run(20)
    ts, flags = clock.stamp()
    assert ts & ((1 << 40) - 1) == 20


def test_ms_since_boot_stays_exact_over_several_board_periods():
    b = Board("rp2", ticks_start=compat.ticks_add(0, -5))
    clock = b.boot()
    step = 1 << 28  # a quarter of a board's ticks period: ten steps wrap it twice
    for _ in range(10):
        b.run(step)
        clock.stamp()
    ts, _ = clock.stamp()
    assert ts & ((1 << 40) - 1) == 10 * step


def test_sample_taken_before_a_wrap_resolves_after_it():
    b = Board("rp2", ticks_start=compat.ticks_add(0, -1000))
    clock = b.boot()
    taken = b.true_ms
    ts, flags = clock.stamp()
    b.run(5000)
    clock.set_time_ms(b.true_ms)
    assert clock.resolve(ts, flags) == (taken, False)


def test_user_code_setting_the_rtc_over_an_estimate_is_noticed():
    b = Board("rp2")
    clock = b.boot()
    clock.set_time_ms(b.true_ms)
    clock.before_sleep(HOUR)
    b.deep_sleep(HOUR + 60000)  # the estimate is a minute early
    woken = b.boot(DEEPSLEEP_RESET)
    assert not woken.is_set()
    b.rtc.datetime(rtc_tuple(b.true_ms))  # the user's sketch ran ntptime.settime()
    assert woken.is_set()
    assert abs(woken.now_ms() - b.true_ms) < 1000


# ---- the machine module's stand-in (tests/stubs/machine.py) in place of the board's


def _with_stub_machine(test):
    import sys

    import stubs.machine as m

    saved = sys.modules.get("machine")
    sys.modules["machine"] = m
    try:
        test(m)
    finally:
        m.RTC._now = None
        m.set_reset_cause(m.PWRON_RESET)
        if saved is None:
            del sys.modules["machine"]
        else:
            sys.modules["machine"] = saved


def test_stub_machine_rtc_after_reset_is_unset_on_both_epochs_and_set_writes_it():
    def check(m):
        for reset_dt, epoch in (((2000, 1, 1, 6, 0, 0, 0, 0), ESP32_EPOCH_S), ((2021, 1, 1, 5, 0, 0, 0, 0), 0)):
            m.RTC._now = reset_dt
            clock = Clock(State(tmpdir() + "/s.json"), rtc=m.RTC(), epoch_offset_s=epoch)
            assert not clock.is_set()
            ts, flags = clock.stamp()
            assert clock.set_time_ms(NOW)
            # the RTC holds whole seconds, written a moment after NOW: compare within a second
            written = m.RTC().datetime()
            assert written[:4] == rtc_tuple(NOW)[:4]
            assert 0 <= rtc_ms(written) - NOW // 1000 * 1000 <= 1000
            assert 0 <= NOW - clock.resolve(ts, flags)[0] < 1000

    _with_stub_machine(check)


def test_reset_cause_is_asked_from_machine_when_not_given():
    def check(m):
        results = []
        for cause in (m.DEEPSLEEP_RESET, m.PWRON_RESET):
            b = Board("rp2")
            clock = b.boot()
            clock.set_time_ms(b.true_ms)
            clock.before_sleep(HOUR)
            b.deep_sleep(HOUR)
            m.set_reset_cause(cause)
            results.append(b.boot(cause=None).stats()["estimated"])
        assert results == [True, False]

    _with_stub_machine(check)


def _stamp_then_watchdog_reset(kind, cause, reset_ms):
    # a board without the time stamps a sample, saves before_sleep(MINUTE), and a watchdog reset
    # comes reset_ms later instead of the sleep (on rp2 the deep sleep itself ends in one); the
    # next boot gets the time -> (the sample's real time, what resolve() gives for it)
    b = Board(kind)
    clock = b.boot(PWRON_RESET)
    b.run(200)
    taken = b.true_ms
    ts, flags = clock.stamp()
    clock.before_sleep(MINUTE)
    b.reset(reset_ms)
    clock = b.boot(cause)
    b.run(300)
    assert clock.set_time_ms(b.true_ms)
    return taken, clock.resolve(ts, flags)


def test_a_watchdog_reset_between_before_sleep_and_the_deep_sleep_is_no_wake_on_esp32():
    # ESP32 names its wake DEEPSLEEP_RESET: a watchdog reset 5 s after before_sleep() (its RTC ran
    # on) is not the planned minute's sleep, which would place the sample 55 s early; the chain
    # ends there, its sample unplaceable as after any reset that ends a timeless chain
    def check(m):
        taken, got = _stamp_then_watchdog_reset("esp32", m.WDT_RESET, 5000)
        assert got is False, (got, taken)

    _with_stub_machine(check)


class _Rp2Machine:
    # rp2's machine: no DEEPSLEEP_RESET, its deepsleep() ends in a watchdog reboot
    PWRON_RESET = 1
    WDT_RESET = 3


def test_a_watchdog_reset_is_the_wake_from_deep_sleep_on_rp2():
    import sys

    saved = sys.modules.get("machine")
    sys.modules["machine"] = _Rp2Machine
    try:
        taken, got = _stamp_then_watchdog_reset("rp2", _Rp2Machine.WDT_RESET, MINUTE)
    finally:
        if saved is None:
            del sys.modules["machine"]
        else:
            sys.modules["machine"] = saved
    assert got[1] is True and abs(got[0] - taken) < 1000, (got, taken)


def test_ntp_may_pull_back_an_esp32_rtc_that_ran_fast_in_deep_sleep():
    b = Board("esp32")
    clock = b.boot()
    clock.set_time_ms(b.true_ms)
    clock.stamp()
    clock.before_sleep(10 * HOUR)
    b.deep_sleep(10 * HOUR)
    b.rtc.ms += 30 * 60000  # the RC oscillator ran 5 % fast
    woken = b.boot(DEEPSLEEP_RESET)
    assert woken.stamp()[0] > b.true_ms + 29 * 60000
    assert woken.set_time_ms(b.true_ms)
    assert woken.stamp()[0] == b.true_ms


def test_damaged_clock_state_is_ignored_not_trusted():
    path = tmpdir() + "/s.json"
    s = State(path)
    s.set("clock", {"boot": 3, "boots": [[3, "x", 0, 1, None, 1], [4, 1.5, 0, None, None, 0], 7], "newest": "no"})
    s.save()
    clock = Clock(State(path), ticks=Ticks(), port_time_ms=lambda: Y2021, reset_cause=DEEPSLEEP_RESET)
    assert clock.stats()["boot"] == 4
    assert clock.stats()["anchors"] == 0
    assert clock.resolve((3 << 40) | 5, FLAG_BOOTREL) is False
