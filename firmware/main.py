# main.py, after boot.py: one wake (sensors.wake): the fast one when only a sample is due, else
# app.py's loop. Kept short: it is compiled at every wake.
try:
    import sensors

    sensors.wake("config.json")
except Exception as _e:  # a fault before the firmware could take it (a MemoryError importing)
    import sys

    sys.print_exception(_e)
    import machine

    # a minute, then boot again; Ctrl-C (not an Exception) still gives the REPL. rp2's deepsleep()
    # is one lightsleep through which boot.py's watchdog (8388 ms) counts: there, while it counts
    # (WATCHDOG_CTRL's ENABLE bit), the minute goes in fed steps, then the reset
    if sys.platform == "rp2" and machine.mem32[0x40058000] & 0x40000000:
        _w = machine.WDT(timeout=8388)  # boot.py's, taken over to be fed
        for _ in range(15):
            machine.lightsleep(4000)
            _w.feed()
        machine.reset()
    machine.deepsleep(60000)
