# Run by test_heap.py on the unix port with a small heap (-X heapsize=...): uploads N points of one
# stream in one request over verified TLS to the emulator, then prints "SENT <answer kind> <status>".
#   micropython -X heapsize=64K tests/heap_upload.py LIBDIR API N
# API is "device" or "platform". The points are generated, never held in a list.
import gc
import os
import sys
import time

sys.path.insert(0, sys.argv[1])
from blynklog.blynk import DeviceClient, PlatformClient
from blynklog.http import Connection

api = sys.argv[2]
n = int(sys.argv[3])

gc.collect()
with open(os.getenv("BLYNKLOG_EMU_CA"), "rb") as f:
    ca = f.read()
start = (int(time.time()) - 3600) * 1000


def points():
    return ((start + i * 100, (i % 1000) * 0.25) for i in range(n))


conn = Connection(os.getenv("BLYNKLOG_EMU_URL"), ca_ders=[ca], timeout_ms=20000)
ca = None
if api == "device":
    client = DeviceClient(conn, "test-device-token")
else:
    client = PlatformClient(conn, "test-client", "test-secret", 1, None)
gc.collect()
answer = client.upload({"id": 1, "pin": "V1", "type": "double", "decimals": 2}, points, n)
conn.close()
gc.collect()
print("SENT", answer.kind, answer.status, answer.message)
print("HEAP", gc.mem_alloc(), gc.mem_free())
