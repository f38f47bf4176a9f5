# The benchmark's sensor workload, the same on every side and runtime: sample i of a run over
# `k` streams (1..3), round robin, one sample per stream every 10 s, values with the decimals a
# real sensor gives (temperature 0.01, humidity and pressure 0.1). Pure integer arithmetic, so
# the unix port and CPython produce the same floats. Allocates only the values it returns.

STREAMS = (
    # name, datastream id (emulator device 1), pin, decimals
    ("temperature", 1, "V1", 2),
    ("humidity", 2, "V2", 1),
    ("pressure", 3, "V3", 1),
)
STEP_MS = 10000


def streams(k):
    return STREAMS[:k]


def sample(i, k, start_ms):
    # -> (stream name, value, ts)
    s = i % k
    t = start_ms + (i // k) * STEP_MS + s * 7
    if s == 0:
        v = (1800 + (i * 37) % 700) / 100
    elif s == 1:
        v = (400 + (i * 13) % 500) / 10
    else:
        v = (10000 + (i * 11) % 300) / 10
    return STREAMS[s][0], v, t


def start_for(n, k, now_ms):
    # a start time that puts the last sample a minute before now
    return now_ms - (n // k + 1) * STEP_MS - 60000


def config(k, store_path, url=None, ca=None, extra=None):
    # The Logger configuration of this workload: Platform API, device 1, the emulator's CA.
    cfg = {
        "server": url or "https://127.0.0.1:9",
        "api": "platform",
        "client_id": "test-client",
        "client_secret": "test-secret",
        "device_id": 1,
        "streams": {},
        "store": {"path": store_path},
    }
    if ca:
        cfg["ca"] = ca
    else:
        cfg["insecure"] = True
    for name, sid, pin, dec in streams(k):
        cfg["streams"][name] = {"id": sid, "pin": pin, "type": "double", "decimals": dec}
    if extra:
        for key in extra:
            cfg[key] = extra[key]
    return cfg
