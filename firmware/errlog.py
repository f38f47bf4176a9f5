# errlog: errors to the console and to a small rotating file, so a board that ran unattended can
# tell what went wrong. When the file passes max_bytes it is renamed to "<path>.1" (replacing the
# older one), so the two never take more than about 2 x max_bytes of flash. A message equal to the
# previous one is counted, not written again (a board offline for a week does not wear its flash
# with the same line); state()/restore() carry the last message and its count across a deep sleep
# (the firmware keeps them in RTC memory), so a sensor missing at every wake is one line, not one
# a wake. Never raises: a failing file system only loses the file copy.
# RAM: the last message and a counter. Not safe from an interrupt; one task at a time.
import os
import sys


class ErrorLog:
    def __init__(self, path="error.log", max_bytes=4096, clock=None):
        self.path = path
        self.max_bytes = max_bytes
        self._clock = clock  # a callable giving a time stamp (ms) for the lines, or None
        self._last = None
        self.repeats = 0
        self.count = 0

    def state(self):
        # (last message, times repeated since written): for restore() after a reset
        return self._last, self.repeats

    def restore(self, last, repeats):
        if isinstance(last, str) and isinstance(repeats, int) and repeats >= 0:
            self._last = last
            self.repeats = repeats

    def report(self, where, err):
        # err: an exception or a message. Prints it, appends it to the file; returns the line
        # (None when even that failed: an error while reporting an error never escapes)
        try:
            return self._report(where, err)
        except Exception:
            return None

    def _report(self, where, err):
        self.count += 1
        if isinstance(err, BaseException):
            text = "%s: %s: %s" % (where, type(err).__name__, err)
        else:
            text = "%s: %s" % (where, err)
        stamp = ""
        if self._clock is not None:
            try:
                stamp = "%d " % self._clock()
            except Exception:
                stamp = ""
        line = stamp + text
        print("ERROR", line)
        if isinstance(err, BaseException) and not isinstance(err, (OSError, ValueError, TypeError)):
            # unexpected: the traceback helps, on the console only
            try:
                sys.print_exception(err)
            except AttributeError:
                import traceback  # type: ignore[import-not-found]  # CPython only

                traceback.print_exception(type(err), err, err.__traceback__)
        if text == self._last:
            self.repeats += 1
            return line
        if self.repeats:
            self._write("%s(previous message repeated %d times)\n" % (stamp, self.repeats))
            self.repeats = 0
        self._last = text
        self._write(line + "\n")
        return line

    def _write(self, line):
        if not self.path:
            return
        try:
            try:
                size = os.stat(self.path)[6]
            except OSError:
                size = 0
            if size + len(line) > self.max_bytes and size:
                os.rename(self.path, self.path + ".1")
            with open(self.path, "a") as f:
                f.write(line)
        except OSError:
            pass  # the console copy is all we can give
