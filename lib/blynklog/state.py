# blynklog.state: a small persistent dict (JSON) written atomically: write "<path>.new", then
# rename it over <path> (an atomic replace on littlefs and POSIX). A power cut leaves either the old
# or the new content. Modules keep their own key (clock, token, quota, retry, server) and call
# save() when they need their change to survive; save() writes only when something changed.
# RAM: the dict itself (a few hundred bytes). Not safe to share between tasks without a lock.
from .compat import json, os


class State:
    def __init__(self, path):
        self.path = path
        self.data = {}
        self.error = None
        self._dirty = False
        for candidate in (path, path + ".new"):
            try:
                with open(candidate) as f:
                    data = json.load(f)
            except OSError:
                continue
            except ValueError:
                # unreadable content: start afresh, and say so in stats rather than crash
                self.error = "state file %s unreadable" % candidate
                continue
            if isinstance(data, dict):
                self.data = data
                break

    def get(self, key, default=None):
        return self.data.get(key, default)

    def set(self, key, value):
        if self.data.get(key) != value:
            self.data[key] = value
            self._dirty = True

    def save(self):
        if not self._dirty:
            return False
        tmp = self.path + ".new"
        with open(tmp, "w") as f:
            json.dump(self.data, f)
        os.rename(tmp, self.path)
        self._dirty = False
        return True
