# The logger a user writes without blynklog: one JSON line per sample, appended to a file and
# flushed at once so the sample survives a power cut. Kept as plain as the usual forum answer.
import json


class JsonLinesLog:
    def __init__(self, path):
        self.f = open(path, "a")

    def add(self, stream, value, ts):
        self.f.write(json.dumps({"stream": stream, "value": value, "ts": ts}) + "\n")
        self.f.flush()

    def close(self):
        self.f.close()
