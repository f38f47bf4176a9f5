# errlog: errors to the console and to a small rotating file, so a board that ran unattended can
# tell what went wrong. When the file passes max_bytes it is renamed to "<path>.1" (replacing the
# older one), so the two never take more than about 2 x max_bytes of flash. A message equal to one
# of the last RECENT different ones is counted, not written again (a board offline for a week does
# not wear its flash with the same line, nor two parts missing at every wake with two lines a
# wake, which also rotated every other line out within the hour); the counts are written before
# the next new message. state()/restore() carry the recent messages and their counts across a
# deep sleep (the firmware keeps them in RTC memory), so a sensor missing at every wake is one
# line, not one a wake. Never raises: a failing file system only loses the file copy.
# RAM: the recent messages and their counters. Not safe from an interrupt; one task at a time.
import os
import sys


RECENT = 3  # the different messages counted instead of written again (RTC memory keeps them)
STATE_CHARS = 320  # at most this much of them kept across a reset, besides the latest


class ErrorLog:
    def __init__(self, path="error.log", max_bytes=4096, clock=None):
        self.path = path
        self.max_bytes = max_bytes
        self.clock = clock  # a callable giving a time stamp (ms, or None: none) for the lines, or None
        self._texts = []  # the last RECENT different messages, the latest last
        self._counts = []  # times each was repeated since it was written (or its count was)
        self._prev = None  # the last message this one wrote to the file
        self.count = 0

    def state(self):
        # (messages, their repeat counts): for restore() after a reset. The latest always; the
        # older ones while all of them stay within STATE_CHARS (RTC memory also holds the fast
        # wake's plan and samples)
        i = len(self._texts) - 1
        n = 0
        while i > 0 and n + len(self._texts[i]) + len(self._texts[i - 1]) <= STATE_CHARS:
            n += len(self._texts[i])
            i -= 1
        if i < 0:
            i = 0
        if i:  # the counts of the messages left out are written now: lost with them otherwise
            self._write_counts(self._stamp(), i)
        return self._texts[i:], self._counts[i:]

    def restore(self, texts, counts):
        # what state() gave; also the earlier form (last message, its repeats) that RTC memory may
        # hold from the firmware before. A message already here is not taken again (a boot fault
        # after the App restored them restores them once more)
        if isinstance(texts, str):
            texts, counts = [texts], [counts]
        if not isinstance(texts, list) or not isinstance(counts, list) or len(texts) != len(counts):
            return
        for i in range(len(texts)):
            t, n = texts[i], counts[i]
            if (
                isinstance(t, str)
                and isinstance(n, int)
                and not isinstance(n, bool)
                and n >= 0
                and t not in self._texts
            ):
                self._texts.append(t)
                self._counts.append(n)
        del self._texts[:-RECENT]
        del self._counts[:-RECENT]

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
        stamp = self._stamp()
        line = stamp + text
        print("ERROR", line)
        if isinstance(err, BaseException) and not isinstance(err, (OSError, ValueError, TypeError)):
            # unexpected: the traceback helps, on the console only
            try:
                sys.print_exception(err)
            except AttributeError:
                import traceback  # type: ignore[import-not-found]  # CPython only

                traceback.print_exception(type(err), err, err.__traceback__)
        texts = self._texts
        counts = self._counts
        if text in texts:
            i = texts.index(text)
            n = counts[i] + 1
            del texts[i]
            del counts[i]
            texts.append(text)  # the latest last
            counts.append(n)
            return line
        self._write_counts(stamp, len(texts))
        texts.append(text)
        counts.append(0)
        del texts[:-RECENT]
        del counts[:-RECENT]
        self._write(line + "\n")
        self._prev = text
        return line

    def _stamp(self):
        if self.clock is not None:
            try:
                t = self.clock()
                if t is not None:
                    return "%d " % t
            except Exception:
                pass
        return ""

    def _write_counts(self, stamp, n):
        # writes (and clears) the repeat counts of the first n recent messages
        texts = self._texts
        counts = self._counts
        if self._prev in texts[:n]:  # the file's last message first, as it always said
            i = texts.index(self._prev)
            if counts[i]:
                self._write("%s(previous message repeated %d times)\n" % (stamp, counts[i]))
                counts[i] = 0
        for i in range(n):
            if counts[i]:
                self._write("%s(repeated %d times: %s)\n" % (stamp, counts[i], texts[i]))
                counts[i] = 0

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
