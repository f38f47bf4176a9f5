# The NOR flash simulator (tests/norflash.py) behaves like the chips the raw store runs on:
# program only clears bits, erase sets 0xFF, counters are exact, power cuts tear operations.
from norflash import NorFlash, PowerCut, Rng
from support import raises


def read(d, n, off, k):
    b = bytearray(k)
    d.readblocks(n, b, off)
    return b


def test_a_new_device_reads_erased():
    d = NorFlash(sectors=2, sector_size=256)
    assert read(d, 1, 0, 256) == b"\xff" * 256


def test_ioctl_reports_count_and_size_and_erases():
    d = NorFlash(sectors=3, sector_size=4096)
    assert d.ioctl(4, 0) == 3 and d.ioctl(5, 0) == 4096
    d.writeblocks(2, b"\x00", 7)
    assert d.ioctl(6, 2) == 0
    assert read(d, 2, 7, 1) == b"\xff" and d.erases == [0, 0, 1]


def test_program_ands_the_bytes_in():
    d = NorFlash(sectors=1, sector_size=256)
    d.writeblocks(0, b"\xf0\x0f", 10)
    d.writeblocks(0, b"\x30\x0f", 10)
    assert read(d, 0, 10, 2) == b"\x30\x0f"


def test_a_one_over_a_zero_raises_and_changes_nothing():
    d = NorFlash(sectors=1, sector_size=256)
    d.writeblocks(0, b"\x00\x00", 4)
    e = raises(OSError, d.writeblocks, 0, b"\x00\x01", 4)
    assert "1 over 0" in str(e)
    assert read(d, 0, 4, 2) == b"\x00\x00" and d.programs == 1


def test_a_lenient_device_ignores_ones_as_a_chip_does():
    d = NorFlash(sectors=1, sector_size=256)
    d.strict = False
    d.writeblocks(0, b"\x0f", 0)
    d.writeblocks(0, b"\xf3", 0)
    assert read(d, 0, 0, 1) == b"\x03"


def test_counters_count_bytes_programs_and_erases_per_sector():
    d = NorFlash(sectors=4, sector_size=256)
    d.writeblocks(1, b"\x00" * 10, 0)
    d.writeblocks(3, b"\x01" * 5, 100)
    d.ioctl(6, 3)
    d.ioctl(6, 3)
    assert d.bytes_programmed == 15 and d.programs == 2
    assert d.erases == [0, 0, 0, 2] and d.total_erases() == 2


def test_out_of_range_and_unaligned_programs_raise():
    d = NorFlash(sectors=2, sector_size=256, prog_size=4)
    raises(OSError, d.writeblocks, 1, b"\x00" * 4, 254)
    raises(OSError, d.writeblocks, 0, b"\x00" * 3, 0)
    raises(OSError, d.writeblocks, 0, b"\x00" * 4, 2)
    raises(OSError, d.ioctl, 6, 2)
    d.writeblocks(0, b"\x00" * 4, 8)


def test_a_cut_before_an_operation_leaves_it_undone_and_the_power_off():
    d = NorFlash(sectors=1, sector_size=256)
    d.arm(1)
    d.writeblocks(0, b"\x00", 0)
    raises(PowerCut, d.writeblocks, 0, b"\x00", 1)
    assert d.data[1] == 0xFF
    raises(PowerCut, d.writeblocks, 0, b"\x00", 2)
    raises(PowerCut, d.readblocks, 0, bytearray(1), 0)
    d.power_on()
    assert read(d, 0, 0, 3) == b"\x00\xff\xff"


def test_a_power_cut_is_an_oserror():
    d = NorFlash(sectors=1, sector_size=256)
    d.arm(0)
    raises(OSError, d.ioctl, 6, 0)


def test_a_cut_part_way_programs_only_a_prefix():
    d = NorFlash(sectors=1, sector_size=256)
    d.arm(0, "prefix", seed=7)
    raises(PowerCut, d.writeblocks, 0, b"\x00" * 64, 0)
    k = 0
    while k < 64 and d.data[k] == 0:
        k += 1
    assert k < 64 and d.data[k:64] == b"\xff" * (64 - k)


def test_a_cut_with_random_bits_clears_only_bits_that_were_meant_to_clear():
    d = NorFlash(sectors=1, sector_size=256)
    d.arm(0, "bits", seed=3)
    raises(PowerCut, d.writeblocks, 0, b"\x0f" * 64, 0)
    got = d.data[:64]
    assert all(b & 0x0F == 0x0F for b in got)  # bits meant to stay 1 are 1
    assert got != b"\x0f" * 64 and got != b"\xff" * 64


def test_a_cut_part_way_through_an_erase_leaves_the_sector_half_erased():
    d = NorFlash(sectors=1, sector_size=256)
    d.writeblocks(0, b"\x00" * 256, 0)
    d.arm(0, "prefix", seed=11)
    raises(PowerCut, d.ioctl, 6, 0)
    k = d.data.find(b"\x00")
    assert 0 <= k < 256 and d.data[:k] == b"\xff" * k and d.erases == [0]


def test_the_same_seed_tears_the_same_way():
    a = NorFlash(sectors=1, sector_size=256)
    b = NorFlash(sectors=1, sector_size=256)
    for d in (a, b):
        d.arm(0, "bits", seed=42)
        raises(PowerCut, d.writeblocks, 0, b"\x00" * 32, 0)
    assert a.data == b.data


def test_the_rng_gives_the_same_numbers_on_both_runtimes():
    r = Rng(5)
    assert [r.next() for _ in range(4)] == [3630449307, 1456888448, 759471139, 1725221667]
