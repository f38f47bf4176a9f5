# main.py: what the board runs after boot.py. A deep-sleep wake with nothing but a sample due
# is quick.py's (no package, no App: the sample goes to RTC memory, then deep sleep); every
# other wake is app.py's loop (compiled to app.mpy by deploy); a configuration error stops there
# with a message naming the key, at the REPL.
# Ctrl-C at the console stops the loop and gives the REPL; any other fault sleeps and boots again.
import sys

_board = None
try:
    import quick

    _board = quick.run("config.json")  # deep-sleeps when it took the wake; else the full wake's
except Exception as _e:  # the full wake does it again, and reports what fails there
    sys.print_exception(_e)

try:
    import quick

    quick.move_old_store()  # before anything imports blynklog
    import app

    app.main("config.json", _board)
except Exception as _e:  # a fault before the firmware could take it (a MemoryError importing)
    sys.print_exception(_e)
    import machine

    machine.deepsleep(60000)  # and boot again; Ctrl-C (not an Exception) still gives the REPL
