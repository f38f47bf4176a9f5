# main.py: what the board runs after boot.py. A deep-sleep wake with nothing but a sample due
# is hw.fast_wake's (no package, no App: the sample goes to RTC memory, then deep sleep); every
# other wake is app.py's loop (compiled to app.mpy by deploy); a configuration error stops there
# with a message naming the key, at the REPL.
# Ctrl-C at the console stops the loop and gives the REPL; any other fault sleeps and boots again.
import sys

# A built-in module that a file may override (time, json, machine...) is looked for on the file
# system at every import statement of it: about 6.5 ms each on the emulated Pico W's littlefs, where
# it is nothing once in sys.modules. A board's file system holds no such file (deploy lays none), so
# the built-ins go in sys.modules under their names first. Not on the unix port: the virtual
# board's chip (boards/unix/chip) is such files.
if sys.platform in ("esp32", "rp2"):
    for _n in (
        "time",
        "json",
        "struct",
        "binascii",
        "machine",
        "os",
        "io",
        "errno",
        "hashlib",
        "random",
        "re",
        "select",
        "socket",
        "collections",
        "array",
        "heapq",
    ):
        if _n not in sys.modules:
            try:
                sys.modules[_n] = __import__("u" + _n)
            except ImportError:  # a port without the u-name: the import statement finds it
                pass

_board = None
try:
    import hw

    _board = hw.fast_wake("config.json")  # deep-sleeps when it took the wake; else the full wake's
except Exception as _e:  # the full wake does it again, and reports what fails there
    sys.print_exception(_e)

try:
    import hw

    hw.move_old_store()  # before anything imports blynklog
    import app

    app.main("config.json", _board)
except Exception as _e:  # a fault before the firmware could take it (a MemoryError importing)
    sys.print_exception(_e)
    import machine

    machine.deepsleep(60000)  # and boot again; Ctrl-C (not an Exception) still gives the REPL
