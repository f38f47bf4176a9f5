# The firmware's asyncio mode (setting "asyncio": true, app.App.run_async): sampling and uploading
# are two tasks of one loop, the upload on Logger.sync_async(), so the samples go on while an
# upload waits for the network. A board whose clock is the host's (the loop's waits are real).
from fwfakes import FakeBoard, FakeLogger, make_app
from support import raises


class RealTimeBoard(FakeBoard):
    # the board's ms are the host's since the board was made; sleep_ms is not used by the loop
    def __init__(self):
        FakeBoard.__init__(self)
        from blynklog.compat import ticks_ms

        self._t0 = ticks_ms()

    def ms(self):
        from blynklog.compat import ticks_diff, ticks_ms

        return ticks_diff(ticks_ms(), self._t0)


def test_in_asyncio_mode_the_samples_go_on_while_an_upload_waits_for_the_network():
    log = FakeLogger()
    log.async_wait_s = 1.5  # the upload's network wait: more than a sample period
    a, board, _ = make_app(board=RealTimeBoard(), log=log, sample_every_s=1, upload_every_s=3600, asyncio=True)
    a.run_async(cycles=3)
    assert a.totals["cycles"] == 3 and len(log.added) == 6, (a.totals, log.added)
    assert log.async_syncs == [2], log.async_syncs  # the power-on upload, begun after the first cycle
    assert a.totals["uploads"] == 1 and a.totals["sent"] >= 4, a.totals  # samples of later cycles went in it
    assert board.events == ["up", "down"] and not board.sleeps, (board.events, board.sleeps)


def test_the_asyncio_setting_must_be_true_or_false():
    import settings
    from fwfakes import raw_config

    e = raises(ValueError, settings.load, raw_config(asyncio="yes"), True)
    assert str(e).startswith("asyncio:"), e


class RemoteLogger(FakeLogger):
    # a Logger whose sync reads a remote sample_every_s of 120 s, and that has a health section
    def __init__(self):
        FakeLogger.__init__(self)
        self.health_hook = None
        self.settings = {}

    def sync(self, budget_ms=None, feed=None):
        self.settings = {"sample_every_s": 120}
        return FakeLogger.sync(self, budget_ms, feed)

    def remote(self):
        return self.settings


def test_in_asyncio_mode_the_upload_applies_remote_settings_and_gives_the_logger_the_health_hook():
    log = RemoteLogger()
    a, _, _ = make_app(board=RealTimeBoard(), log=log, sample_every_s=1, upload_every_s=3600, asyncio=True)
    a.run_async(cycles=2)
    assert log.async_syncs == [2] and a.fw["sample_every_s"] == 120, (log.async_syncs, a.fw["sample_every_s"])
    assert log.health_hook is not None and log.health_hook() == {"wakes": 2}, log.health_hook
