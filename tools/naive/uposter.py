# A minimal stand-in for urequests.post where micropython-lib's requests is not importable
# (CPython): a new socket per request, TLS without verification (CERT_NONE, as urequests does),
# HTTP/1.0, the whole answer read into memory. Runs on CPython and MicroPython.
import socket
import ssl
import sys

_MP = sys.implementation.name == "micropython"


class Response:
    def __init__(self, status_code, content):
        self.status_code = status_code
        self.content = content

    def json(self):
        import json

        return json.loads(self.content)

    def close(self):
        pass


def post(url, data=None, headers=None):
    proto, _, hostport, path = url.split("/", 3)
    host, _, port = hostport.partition(":")
    port = int(port) if port else (443 if proto == "https:" else 80)
    ai = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0]
    s = socket.socket(ai[0], socket.SOCK_STREAM, ai[2])
    try:
        s.settimeout(30)
        s.connect(ai[-1])
        if proto == "https:":
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            if not _MP:
                ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            s = ctx.wrap_socket(s, server_hostname=host)
        if isinstance(data, str):
            data = data.encode()
        head = "POST /%s HTTP/1.0\r\nHost: %s\r\n" % (path, host)
        for k in headers or {}:
            head += "%s: %s\r\n" % (k, headers[k])
        if "Content-Length" not in (headers or {}):
            head += "Content-Length: %d\r\n" % (len(data) if data else 0)
        head += "\r\n"
        out = head.encode() + (data or b"")
        if _MP:
            s.write(out)
        else:
            s.sendall(out)
        chunks = []
        while True:
            b = s.read(4096) if _MP else s.recv(4096)
            if not b:
                break
            chunks.append(b)
        raw = b"".join(chunks)
    finally:
        s.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return Response(status, body)
