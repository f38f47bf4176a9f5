# The fast wake's buffer in RTC memory (firmware/sensors.py's layout, hw.pack and hw.samples): what pack() writes samples() reads back
# exactly, and a damaged or cut buffer is refused with a ValueError (the full wake reports and drops
# it), never read as samples. Whole wakes on the virtual board: tests/test_firmware_fastwake.py.
import fwfakes  # noqa: F401  (firmware/ on sys.path)
from support import raises

import hw as quick

NAMES = ["chip_temp", "air_temp", "air_rh", "battery"]
RECORDS = [(1800000000000, (35.0, 21.5, 55.25, 3.875)), (1800000060000, (35.5, 21.75, 54.5, 3.8125))]


def test_packed_samples_read_back_with_their_names_timestamps_and_values():
    elapsed, names, records = quick.samples(quick.pack(120000, NAMES, RECORDS))
    assert (elapsed, names, records) == (120000, NAMES, RECORDS), (elapsed, names, records)


def test_a_changed_byte_is_refused_by_the_crc():
    tail = bytearray(quick.pack(0, NAMES, RECORDS))
    tail[20] ^= 1
    e = raises(ValueError, quick.samples, bytes(tail))
    assert "CRC" in str(e), e


def test_a_buffer_cut_short_is_refused():
    tail = quick.pack(0, NAMES, RECORDS)
    raises(ValueError, quick.samples, tail[:-3])


def test_an_empty_buffer_is_refused():
    raises(ValueError, quick.samples, b"")


def test_split_keeps_the_schedule_apart_from_the_buffer():
    tail = quick.pack(0, NAMES, RECORDS)
    head, rest = quick.split(b'{"up": 1}' + b"\x00" + tail)
    assert head == b'{"up": 1}' and rest == tail
    assert quick.split(b'{"up": 1}') == (b'{"up": 1}', None)
