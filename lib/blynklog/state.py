# blynklog.state: a small persistent dict (JSON) written atomically: write "<path>.new", then
# rename it over <path> (an atomic replace on littlefs and POSIX). A power cut leaves either the old
# or the new content. Modules keep their own key (clock, token, quota, retry, server) and call
# save() when they need their change to survive; save() writes only when something changed.
# RAM: the dict itself (a few hundred bytes). Not safe to share between tasks without a lock.
# The class is defined in clock.py (a wake that samples loads one module for the clock and its
# state); this module names it as ever.
from .clock import State  # noqa: F401
