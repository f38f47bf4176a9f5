# main.py: what the board runs after boot.py. The loop lives in app.py (compiled to app.mpy by
# deploy); a configuration error stops there with a message naming the key, at the REPL.
# Ctrl-C at the console stops the loop and gives the REPL.
import app

app.main("config.json")
