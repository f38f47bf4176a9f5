# After the wakes: what the firmware left on the flash (a fresh boot; the Logger opened read-only
# as far as the data goes, then closed).
import json

import blynklog

log = blynklog.Logger("config.json")
st = log.stats()
print(
    "STATS",
    json.dumps(
        {
            "pending": st["pending"],
            "by": st["pending_by_stream"],
            "sent": st["sent"],
            "clock_set": st["clock_set"],
            "dropped": st["dropped_full"],
        }
    ),
)
log.close()
with open("fw_state.json") as f:
    print("KEPT", f.read())
with open("error.log") as f:
    for line in f:
        print("ERRLOG", line.rstrip())
