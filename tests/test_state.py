# The persistent state helper: atomic replace, recovery, no needless writes.
import os

from blynklog.clock import State
from support import tmpdir


def test_state_survives_a_reopen():
    path = tmpdir() + "/state.json"
    s = State(path)
    s.set("quota", {"day": 19706, "sent": 12})
    assert s.save()
    assert State(path).get("quota") == {"day": 19706, "sent": 12}


def test_save_without_change_writes_nothing():
    path = tmpdir() + "/state.json"
    s = State(path)
    s.set("a", 1)
    s.save()
    s.set("a", 1)
    assert not s.save()


def test_missing_file_starts_empty():
    s = State(tmpdir() + "/none.json")
    assert s.data == {} and s.error is None


def test_corrupt_file_starts_empty_and_reports_it():
    path = tmpdir() + "/state.json"
    with open(path, "w") as f:
        f.write('{"a": 1, "b"')
    s = State(path)
    assert s.data == {}
    assert "unreadable" in s.error


def test_a_new_file_left_by_a_cut_before_rename_is_used_when_the_old_one_is_missing():
    path = tmpdir() + "/state.json"
    with open(path + ".new", "w") as f:
        f.write('{"a": 2}')
    assert State(path).get("a") == 2


def test_the_temporary_file_is_gone_after_save():
    d = tmpdir()
    s = State(d + "/state.json")
    s.set("x", [1, 2])
    s.save()
    assert sorted(os.listdir(d)) == ["state.json"]
