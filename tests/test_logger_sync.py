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
