# The store's writing side let go at a sync (store.let_writer_go) and made again at the next
# append: a fault while it is made, a module that still holds its functions, two Loggers' stores.
import sys

from blynklog import Logger
from logger_support import device_config, now_ms


def _failing_rec():
    raise MemoryError("memory allocation failed, allocating 1192 bytes")


def test_a_memory_error_while_the_first_append_makes_its_buffers_leaves_the_next_add_working():
    # the tail made, the buffers after it not (a heap in pieces): the next add makes them all
    import blynklog.frame_write as fwm

    log = Logger(device_config())
    t = now_ms() - 60000
    real = fwm.Rec
    fwm.Rec = _failing_rec
    try:
        log.add("temperature", 1.5, ts=t)
        raise AssertionError("no MemoryError")
    except MemoryError:
        pass
    finally:
        fwm.Rec = real
    assert log.add("temperature", 2.5, ts=t + 1000)
    log.flush()
    assert log.stats()["pending"] == 1
    log.close()


def test_a_sync_after_a_string_sample_leaves_no_second_copy_of_the_writing_side():
    # record.py (loaded by a string's check) binds frame_write's functions: letting the module go
    # while record.py holds them keeps its code, and the next append loads a second copy
    log = Logger(device_config({"temperature": {"pin": "V1", "decimals": 2}, "note": {"pin": "V4", "type": "string"}}))
    t = now_ms() - 60000
    log.add("temperature", 1.5, ts=t)
    log.add("note", "hi", ts=t)
    log.sync()
    log.add("temperature", 2.5, ts=t + 1000)
    rec = sys.modules.get("blynklog.record")
    fw = sys.modules.get("blynklog.frame_write")
    log.close()
    assert rec is None or rec.encode_into is fw.encode_into


def test_another_loggers_sync_leaves_no_store_writing_with_the_writing_side_it_let_go():
    # b's frame was flushed before a's sync: b's next append makes its Writer and states of the
    # module loaded again, not of the copy let go (which they would keep in RAM)
    t = now_ms() - 60000
    a = Logger(device_config())
    b = Logger(device_config())
    a.add("temperature", 1.0, ts=t)
    b.add("temperature", 2.0, ts=t)
    b.flush()
    a.sync()
    b.add("temperature", 3.0, ts=t + 1000)
    fw = sys.modules["blynklog.frame_write"]
    st = b._store
    same = type(st._fwr) is fw.Writer and type(st._fst[0]) is fw.State
    b.close()
    a.close()
    assert same
