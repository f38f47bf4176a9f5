# Logger.sync() when the upload stack cannot be built (a MemoryError while its modules load, as in
# a small heap): the report says so, names that fault, and the samples stay pending.
from blynklog import Logger
from logger_support import device_config


def _failing_uploader(log):
    raise MemoryError("memory allocation failed, allocating 1200 bytes")


def test_a_sync_whose_upload_stack_cannot_be_built_reports_that_memory_error():
    from blynklog import logger_sync

    log = Logger(device_config())
    log.add("temperature", 21.5, ts=1767225600000)
    real = logger_sync.uploader
    logger_sync.uploader = _failing_uploader
    try:
        report = log.sync()
    finally:
        logger_sync.uploader = real
    assert report["stopped"] == "error"
    assert report["last_error"] == "MemoryError: memory allocation failed, allocating 1200 bytes", report["last_error"]
    assert report["pending"] == 1
    log.close()


def _writer_loaded():
    import sys

    return "blynklog.frame_write" in sys.modules


class _NoRecordHolders:
    # legacy.py and rawstore.py (an old store's reader, the raw backend) hold record.py, which
    # binds the writing side's functions: while either is loaded nothing is let go. Earlier tests
    # in this process may have loaded them: out of sys.modules for the test, back after it
    def __enter__(self):
        import sys

        self.kept = [(n, sys.modules.pop(n)) for n in ("blynklog.legacy", "blynklog.rawstore") if n in sys.modules]
        return self

    def __exit__(self, *exc):
        import sys

        for n, m in self.kept:
            sys.modules[n] = m


def test_a_sync_lets_the_stores_writing_side_go_and_the_next_add_makes_it_again():
    # its code and buffers go back to the heap for the batches (not on an ESP32, whose native
    # code's IRAM only a reset frees); what is added after the sync is stored and goes up too
    import emu
    from logger_support import now_ms, received

    emu.reset()
    log = Logger(device_config())
    t = now_ms() - 60000
    log.add("temperature", 21.5, ts=t)
    assert _writer_loaded()
    with _NoRecordHolders():
        report = log.sync()
    assert report["sent"] == 1 and report["pending"] == 0, report
    assert not _writer_loaded()
    log.add("temperature", 21.75, ts=t + 1000)
    assert _writer_loaded()
    log.flush()
    assert log.sync()["sent"] == 1
    log.close()
    assert received(1) == [(t, 21.5), (t + 1000, 21.75)]


def test_one_loggers_sync_letting_the_writing_side_go_leaves_another_loggers_unflushed_samples_whole():
    # the writing side's code is the module's, shared by both stores: the other store, whose
    # samples wait in RAM, loads it again at its next append and flush
    import json

    from logger_support import now_ms

    a = Logger(device_config())
    cfg = device_config()
    b = Logger(json.loads(json.dumps(cfg)))
    t = now_ms() - 60000
    a.add("temperature", 1.0, ts=t)
    b.add("temperature", 2.0, ts=t)
    b.add("humidity", 3.0, ts=t)
    with _NoRecordHolders():
        a.sync()
    assert not _writer_loaded()
    b.add("temperature", 4.0, ts=t + 1000)
    b.close()
    a.close()
    c = Logger(cfg)
    assert c.stats()["pending"] == 3
    assert c.stats()["pending_by_stream"] == {"temperature": 2, "humidity": 1, "pressure": 0}
    c.close()
