# The sensor drivers (firmware/sensors.py) against fake buses: decoding, CRC checks, failures
# that raise (so the loop reports them and stores nothing), the simulated and replayed sources.
from fwfakes import FakeBoard, T0
from support import raises, tmpdir

import sensors


class FakeI2C:
    def __init__(self, replies):
        self.replies = list(replies)  # successive reads
        self.writes = []

    def writeto(self, addr, buf, stop=True):
        self.writes.append((addr, bytes(buf)))
        return 1

    def readfrom_into(self, addr, buf, stop=True):
        if not self.replies:
            raise OSError(19)
        data = self.replies.pop(0)
        for i in range(len(buf)):
            buf[i] = data[i]


def _sht_frame(t_raw, rh_raw, bad=False):
    a = bytes([t_raw >> 8, t_raw & 0xFF])
    b = bytes([rh_raw >> 8, rh_raw & 0xFF])
    crc_a = sensors.crc8(a, 2) ^ (1 if bad else 0)
    return a + bytes([crc_a]) + b + bytes([sensors.crc8(b, 2)])


def _aht_frame(rh_raw, t_raw, status=0x1C):
    body = bytes(
        [
            status,
            rh_raw >> 12,
            (rh_raw >> 4) & 0xFF,
            ((rh_raw & 0xF) << 4) | (t_raw >> 16),
            (t_raw >> 8) & 0xFF,
            t_raw & 0xFF,
        ]
    )
    return body + bytes([sensors.crc8(body, 6)])


def test_crc8_matches_the_sensirion_datasheet_example():
    assert sensors.crc8(b"\xbe\xef", 2) == 0x92


def test_sht3x_decodes_temperature_and_humidity():
    bus = FakeI2C([_sht_frame(0x6666, 0x8000)])
    t, rh = sensors.Sht3x(bus).read()
    assert abs(t - 25.0) < 0.01 and abs(rh - 50.0) < 0.01
    assert bus.writes == [(0x44, b"\x24\x00")]


def test_sht3x_with_a_bad_crc_raises():
    bus = FakeI2C([_sht_frame(0x6666, 0x8000, bad=True)])
    e = raises(ValueError, sensors.Sht3x(bus).read)
    assert "CRC" in str(e)


def test_sht3x_missing_on_the_bus_raises_oserror():
    raises(OSError, sensors.Sht3x(FakeI2C([])).read)


def test_aht20_decodes_temperature_and_humidity():
    bus = FakeI2C([b"\x18", _aht_frame(0x80000, 0x66666)])
    t, rh = sensors.Aht20(bus).read()
    assert abs(t - 30.0) < 0.01 and abs(rh - 50.0) < 0.01
    assert bus.writes == [(0x38, b"\xac\x33\x00")]  # calibrated: no init command


def test_aht20_uncalibrated_gets_the_init_command_first():
    bus = FakeI2C([b"\x10", _aht_frame(0x80000, 0x66666)])
    sensors.Aht20(bus).read()
    assert bus.writes[0] == (0x38, b"\xbe\x08\x00")


def test_aht20_that_stays_busy_raises():
    busy = _aht_frame(0x80000, 0x66666, status=0x98)
    bus = FakeI2C([b"\x18"] + [busy] * 5)
    e = raises(OSError, sensors.Aht20(bus).read)
    assert "busy" in str(e)


def test_adc_applies_scale_and_offset_to_the_mean_of_its_samples():
    class Adc:
        vals = [1000, 3000]

        def read_u16(self):
            return self.vals.pop(0)

    board = FakeBoard()
    board.adc = lambda pin, atten=None: Adc()
    (v,) = sensors.Adc(board, 34, scale=0.5, offset=1.0, samples=2).read()
    assert v == 1001.0


def test_mcu_temp_reads_the_boards_sensor():
    assert sensors.McuTemp(FakeBoard()).read() == (41.5,)


def test_simulated_source_follows_the_boards_time_and_is_repeatable():
    board = FakeBoard()
    a = sensors.Simulated(board, base=20.0, amplitude=5.0, period_s=86400, noise=0.0)
    board.t = (86400000 - T0 % 86400000) % 86400000 + 21600000  # a quarter of the day: the top of the sine
    assert a.read() == (25.0,)
    b1 = sensors.Simulated(board, noise=1.0, seed=7).read()
    b2 = sensors.Simulated(board, noise=1.0, seed=7).read()
    assert b1 == b2


def test_replay_gives_the_latest_value_at_or_before_the_boards_time():
    path = tmpdir("replay") + "/r.csv"
    with open(path, "w") as f:
        f.write("ts_ms,stream,value\n%d,t,1.5\n%d,h,40\n%d,t,2.5\n%d,t,9\n" % (T0, T0, T0 + 60000, T0 + 120000))
    board = FakeBoard()
    r = sensors.Replay(board, path, ["t", "h"])
    assert r.read() == (1.5, 40.0)
    board.t = 60000
    assert r.read() == (2.5, 40.0)


def test_replay_before_the_first_value_raises():
    path = tmpdir("replay") + "/r.csv"
    with open(path, "w") as f:
        f.write("%d,t,1.5\n" % (T0 + 1000))
    e = raises(ValueError, sensors.Replay(FakeBoard(), path, ["t"]).read)
    assert "no value yet" in str(e)


def test_make_builds_a_sensor_from_a_config_entry():
    s = sensors.make({"type": "mcu_temp", "stream": "x"}, FakeBoard())
    assert s.fields == ("temperature",)
