# One sampling wake on the emulated Pico W, as a board runs it after deep sleep (every wake is a
# reset): Logger(config file), three add(), flush(), before_sleep(). tests/test_pico_wake.py runs
# it twice with a soft reset between, so each run imports the package afresh. Prints the simulated
# ms of each phase ("WAKE ...") and the package's modules it loaded ("MODS ...").
import sys
import time

T = time.ticks_ms
t0 = T()
import blynklog  # noqa: E402

t1 = T()
log = blynklog.Logger("wake-config.json")
t2 = T()
log.add("air_temp", 21.5)
log.add("chip_temp", 30.1)
log.add("air_temp", 21.6)
t3 = T()
log.flush()
t4 = T()
log.before_sleep(60000)
t5 = T()
print("WAKE import %d logger %d add %d flush %d before_sleep %d total %d" % (
    t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t5 - t0))
print("MODS " + " ".join(sorted(k for k in sys.modules if k.startswith("blynklog"))))
