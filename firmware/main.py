# main.py, after boot.py: one wake (sensors.wake): the fast one when only a sample is due, else
# app.py's loop. Kept short: it is compiled at every wake.
try:
    import sensors

    sensors.wake("config.json")
except Exception as _e:  # a fault before the firmware could take it (a MemoryError importing)
    import sys

    sys.print_exception(_e)
    import machine

    machine.deepsleep(60000)  # and boot again; Ctrl-C (not an Exception) still gives the REPL
