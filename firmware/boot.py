# boot.py: runs first at every reset. Kept minimal so that a mistake elsewhere never stops the
# REPL from coming up: no Wi-Fi, no imports of the package here (main.py does the work).
# It starts the watchdog, so that a hang anywhere after it (an import, the flash, a sensor's bus,
# DNS or TLS) ends in a reset rather than a board awake until its battery is flat: the rp2040's
# longest timeout, 120 s elsewhere; the firmware sets its own timeout once it runs
# (watchdog_ms) and feeds it from then on.
import gc
import sys

try:
    import machine

    machine.WDT(timeout=8388 if sys.platform == "rp2" else 120000)
except Exception:  # a port without a watchdog (the unix port without the virtual board's chip)
    pass
gc.collect()
