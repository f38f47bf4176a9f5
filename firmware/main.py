# main.py: what the board runs after boot.py. The loop lives in app.py (compiled to app.mpy by
# deploy); a configuration error stops there with a message naming the key, at the REPL.
# Ctrl-C at the console stops the loop and gives the REPL; any other fault sleeps and boots again.
import os
import sys

# A store made at the earlier default path, the folder "blynklog" beside config.json, would be
# imported in place of the package (sys.path starts with ''): move it to the default path now,
# before anything imports blynklog. A folder holding the package itself is left alone.
try:
    os.stat("blynklog-data")
except OSError:
    for _name in ("state.json", "data"):
        try:
            os.stat("blynklog/" + _name)
            os.rename("blynklog", "blynklog-data")
            break
        except OSError:
            pass

try:
    import app

    app.main("config.json")
except Exception as _e:  # a fault before the firmware could take it (a MemoryError importing)
    sys.print_exception(_e)
    import machine

    machine.deepsleep(60000)  # and boot again; Ctrl-C (not an Exception) still gives the REPL
