# The uploader a user writes without blynklog: get an OAuth2 token, load the whole backlog (the
# JSON-lines file) into a list of dicts, then per stream and per batch of 1,000 points build the
# Import DataStream Values body with json.dumps and send it with requests.post; delete the file
# when everything went. On MicroPython the poster is micropython-lib's `requests` (the module
# behind `urequests`, frozen into the unix port), which opens a new TLS connection per request
# and does not verify the server; where it is missing (CPython) uposter.py does the same job.
import json
import os
import sys

try:
    if sys.implementation.name != "micropython":
        raise ImportError("CPython: not micropython-lib's requests")
    import requests

    POSTER = "micropython-lib requests " + getattr(requests, "__version__", "?")
except ImportError:
    import uposter as requests

    POSTER = "uposter (socket + TLS, CERT_NONE)"

BATCH = 1000


def _b64(text):
    import binascii

    return binascii.b2a_base64(text.encode()).decode().strip()


def upload(path, server, client_id, client_secret, device_id, stream_ids):
    # -> (points sent, requests made)
    # (requests sends no Content-Length for an empty body, and the server wants one: 411)
    r = requests.post(
        server + "/oauth2/token?grant_type=client_credentials",
        headers={"Authorization": "Basic " + _b64(client_id + ":" + client_secret), "Content-Length": "0"},
    )
    if r.status_code != 200:
        raise OSError("token: HTTP %d" % r.status_code)
    token = r.json()["access_token"]
    r.close()
    requests_made = 1

    backlog = []
    with open(path) as f:
        for line in f:
            backlog.append(json.loads(line))

    sent = 0
    url = server + "/api/v1/organization/device/import/batch"
    headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
    for name in stream_ids:
        values = [{"value": rec["value"], "ts": rec["ts"]} for rec in backlog if rec["stream"] == name]
        for i in range(0, len(values), BATCH):
            body = json.dumps(
                {"deviceId": device_id, "dataStreamId": stream_ids[name], "values": values[i : i + BATCH]}
            )
            r = requests.post(url, data=body, headers=headers)
            status = r.status_code
            r.close()
            requests_made += 1
            if status not in (200, 204):
                raise OSError("upload: HTTP %d" % status)
            sent += len(values[i : i + BATCH])
    os.remove(path)
    return sent, requests_made
