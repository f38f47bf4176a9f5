# boot.py: runs first at every reset. Kept minimal so that a mistake elsewhere never stops the
# REPL from coming up: no Wi-Fi, no imports of the package here (main.py does the work).
import gc

gc.collect()
