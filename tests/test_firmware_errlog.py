# The error log (firmware/errlog.py): console and file, rotation at max_bytes, repeats counted.
from support import tmpdir

import fwfakes  # noqa: F401  (firmware/ on sys.path)
from errlog import ErrorLog


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def test_an_error_goes_to_the_file_with_where_and_type():
    path = tmpdir("el") + "/error.log"
    ErrorLog(path).report("sensors[0] sht3x", OSError(19))
    assert _read(path).startswith("sensors[0] sht3x: OSError: ")


def test_the_file_rotates_when_it_passes_max_bytes():
    path = tmpdir("el") + "/error.log"
    log = ErrorLog(path, max_bytes=300)
    for i in range(20):
        log.report("wifi", "attempt %d failed" % i)
    assert len(_read(path)) <= 300
    assert "attempt 19" in _read(path)
    assert "attempt" in _read(path + ".1")


def test_a_repeated_message_is_counted_not_written_again():
    path = tmpdir("el") + "/error.log"
    log = ErrorLog(path)
    for _ in range(5):
        log.report("wifi", "no connection")
    log.report("upload", "done")
    text = _read(path)
    assert text.count("no connection") == 1
    assert "repeated 4 times" in text


def test_a_log_that_cannot_be_written_does_not_raise():
    log = ErrorLog("/nonexistent-dir/x/error.log")
    log.report("x", "y")
    assert log.count == 1


def test_two_messages_that_alternate_are_counted_not_written_again():
    # two parts missing at every wake: two lines a wake rotated every other line out within the hour
    path = tmpdir("el") + "/error.log"
    log = ErrorLog(path, max_bytes=300)
    log.report("wifi", "no connection")
    for _ in range(50):
        log.report("sensors[1] sht3x", "no I2C bus")
        log.report("sensors[2] adc", "no ADC")
    text = _read(path)
    assert _read(path + ".1") == "" and text.count("\n") == 3, text
    log.report("upload", "done")
    text = _read(path)
    assert "(previous message repeated 49 times)\n(repeated 49 times: sensors[1] sht3x: no I2C bus)\n" in text, text


def test_the_state_kept_across_a_reset_stays_small_and_holds_the_latest():
    # RTC memory holds it beside the fast wake's plan and samples
    import errlog

    log = ErrorLog("")
    for c in "abc":
        log.report("x", c * 150)
    texts, counts = log.state()
    assert texts[-1] == "x: " + "c" * 150 and sum(len(t) for t in texts) <= errlog.STATE_CHARS
    log.report("x", "d" * 1000)
    assert log.state()[0] == ["x: " + "d" * 1000]
    again = ErrorLog("")
    again.restore(*log.state())
    assert again.state() == log.state()


def test_the_repeats_of_a_message_the_state_leaves_out_are_written_not_lost():
    # two long messages at every wake: the state keeps the latest only, and the other's repeats
    # since it was written went with it, in no line of the file
    path = tmpdir("el") + "/error.log"
    a, b = "a" * 170, "b" * 170
    log = ErrorLog(path)
    for _ in range(3):
        log.report("x", a)
        log.report("x", b)
    texts, counts = log.state()
    assert texts == ["x: " + b] and counts == [2]
    assert "(repeated 2 times: x: " + a + ")" in _read(path), _read(path)
    again = ErrorLog(path)
    again.restore(texts, counts)
    again.report("y", "new")
    text = _read(path)
    assert text.count("x: " + a) == 2 and "(repeated 2 times: x: " + b + ")" in text, text


def test_a_state_restored_twice_keeps_each_message_once_with_its_count():
    # the App restores the kept state, then fails to start: the boot fault restores it again
    log = ErrorLog("")
    log.restore(["sensors[0] sht3x: no reply"], [2])
    log.report("sensors[0] sht3x", "no reply")
    log.restore(["sensors[0] sht3x: no reply"], [2])
    assert log.state() == (["sensors[0] sht3x: no reply"], [3])
