# blynklog.quota: the server's word that its day's points are spent (state "quota_full"), as the
# books and upload_wait_ms() read it. Portable.
from blynklog.quota import full_wait, left, wait_ms

DAY = 86400000
NOW = 20000 * DAY + 43200000  # noon of UTC day 20000


def test_the_servers_word_holds_until_the_time_its_day_turns():
    until = NOW + 60000
    assert full_wait(until, NOW) == 60000
    assert left(10000, 20000, 5, 0, until, NOW) == 0
    assert wait_ms(0, 0, NOW, until) == 60000
    assert full_wait(until, until) == 0 and left(10000, 20000, 5, 0, until, until) == 9995


def test_a_day_number_from_an_earlier_version_holds_that_day_and_the_next():
    assert full_wait(20000, NOW) == DAY - 43200000
    assert full_wait(20001, NOW) == DAY - 43200000
    assert full_wait(19999, NOW) == 0
    assert left(10000, 20000, 5, 0, 20000, NOW) == 0


def test_a_damaged_entry_never_holds_the_quota_for_more_than_two_days():
    for bad in (NOW + 3 * DAY, NOW - 1, True, "x", None, 1.5):
        assert full_wait(bad, NOW) == 0, bad
        assert left(10000, 20000, 5, 0, bad, NOW) == 9995, bad


def test_without_a_clock_the_servers_word_is_not_read():
    assert full_wait(NOW + 60000, None) == 0
    assert wait_ms(0, 0, None, NOW + 60000) == 0


def test_our_own_books_spent_wait_for_our_utc_midnight():
    assert wait_ms(0, 0, NOW) == DAY - 43200000
    assert wait_ms(5000, 0, NOW) == 5000  # a back-off first
