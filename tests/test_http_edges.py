# cpython-only: a scripted loopback server (threads) plays answers the emulator never gives.
# The transport's edge cases: chunked and unframed answers, header caps, a keep-alive socket the
# server closed while idle (reopened silently before anything is sent).
import select
import socket
import threading

import pytest

from blynklog.http import Connection


class Scripted:
    # Accepts connections on 127.0.0.1; for each request reads the head (and a Content-Length
    # body), then sends the next scripted answer; an answer of None closes the connection.
    def __init__(self, answers, close_after_each=False, tls=None):
        self.answers = list(answers)
        self.close_after_each = close_after_each
        self.tls = tls  # a server SSLContext: each connection is wrapped in it
        self.connections = 0
        self.heads = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.sock.settimeout(5)
        self.url = "%s://127.0.0.1:%d" % ("https" if tls else "http", self.sock.getsockname()[1])
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while self.answers:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            c.settimeout(5)
            try:
                if self.tls is not None:
                    c = self.tls.wrap_socket(c, server_side=True)
                self._one_connection(c)
            except OSError:
                pass
            finally:
                c.close()

    def _one_connection(self, c):
        buf = b""
        while self.answers:
            while b"\r\n\r\n" not in buf:
                d = c.recv(4096)
                if not d:
                    return
                buf += d
            head, buf = buf.split(b"\r\n\r\n", 1)
            self.heads.append(head)
            length = 0
            for line in head.split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length":
                    length = int(v)
            while len(buf) < length:
                buf += c.recv(4096)
            buf = buf[length:]
            answer = self.answers.pop(0)
            if answer is None:
                return
            c.sendall(answer)
            if self.close_after_each:
                return

    def stop(self):
        self.answers = []
        self.sock.close()


@pytest.fixture
def scripted():
    servers = []

    def make(answers, **kw):
        s = Scripted(answers, **kw)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.stop()


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def test_a_chunked_answer_is_read_and_the_connection_kept(scripted):
    srv = scripted([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=1\r\nde\r\n0\r\n\r\n", OK])
    c = Connection(srv.url)
    assert c.request("GET", "/a").body == b"abcde"
    assert c.request("GET", "/b").body == b"ok"
    assert srv.connections == 1
    c.close()


def test_an_answer_without_length_is_read_to_the_close_and_bounded(scripted):
    srv = scripted([b"HTTP/1.1 500 Oops\r\nConnection: close\r\n\r\n" + b"x" * 5000])
    c = Connection(srv.url)
    r = c.request("GET", "/")
    assert r.status == 500 and r.reason == "Oops" and len(r.body) == 1024
    assert c._sock is None


def test_too_many_header_lines_are_refused(scripted):
    srv = scripted([b"HTTP/1.1 200 OK\r\n" + b"X-A: 1\r\n" * 100 + b"Content-Length: 0\r\n\r\n"])
    c = Connection(srv.url)
    with pytest.raises(ValueError):
        c.request("GET", "/")
    assert c._sock is None


def test_a_long_header_line_of_a_field_not_kept_is_read_past(scripted):
    # a 204 that carries a long policy or cookie (a CDN's, a load balancer's) is an answer: the
    # batch it acknowledges must not be sent again
    csp = b"Content-Security-Policy: " + b"default-src 'self'; " * 100
    cookie = b"Set-Cookie: lb=" + b"c" * 3000 + b"; Path=/; Secure"
    answer = (
        b"HTTP/1.1 204 No Content\r\n" + csp + b"\r\n" + cookie + b"\r\nDate: Mon, 30 Nov 2026 11:00:00 GMT\r\n\r\n"
    )
    srv = scripted([answer, OK])
    c = Connection(srv.url)
    r = c.request("POST", "/a", {"Content-Type": "application/json"}, b"[]")
    assert r.status == 204 and r.headers.get("date") == "Mon, 30 Nov 2026 11:00:00 GMT"
    assert c.request("GET", "/b").body == b"ok"  # the connection stays usable
    assert srv.connections == 1
    c.close()


def test_a_header_line_longer_than_the_buffer_is_refused_when_kept_or_endless(scripted):
    # a kept header (Location, Retry-After, ...) that long is refused, and so is a head over 16 KB
    loc = b"HTTP/1.1 308 Moved\r\nLocation: https://x/" + b"a" * 2000 + b"\r\nContent-Length: 0\r\n\r\n"
    huge = b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 20000 + b"\r\nContent-Length: 0\r\n\r\n"
    srv = scripted([loc, huge])
    for _ in range(2):
        c = Connection(srv.url)
        with pytest.raises(ValueError):
            c.request("GET", "/")
        assert c._sock is None


def test_a_huge_chunked_answer_drops_the_connection(scripted):
    chunk = b"4000\r\n" + b"y" * 0x4000 + b"\r\n"
    srv = scripted([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk * 3 + b"0\r\n\r\n"])
    c = Connection(srv.url)
    r = c.request("GET", "/")
    assert len(r.body) == 1024 and c._sock is None


def test_connection_close_is_honoured(scripted):
    srv = scripted([b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", OK])
    c = Connection(srv.url)
    c.request("GET", "/a")
    assert c._sock is None
    assert c.request("GET", "/b").status == 200
    assert srv.connections == 2
    c.close()


def test_a_keep_alive_socket_closed_by_the_server_while_idle_is_reopened_silently(scripted):
    srv = scripted([OK, OK], close_after_each=True)
    c = Connection(srv.url)
    assert c.request("POST", "/a", {}, b"1").status == 200
    # the server's close arriving on the idle socket (readable: its EOF), at most 10 s: with a
    # fixed 0.2 s, a server thread slower than that left the socket open, and the next request
    # went on it and was reset
    for _ in range(1000):
        if select.select([c._sock], [], [], 0.01)[0]:
            break
    assert c.request("POST", "/b", {}, b"2").status == 200
    assert srv.connections == 2
    c.close()


def test_a_request_whose_answer_never_comes_is_not_repeated(scripted):
    srv = scripted([None, OK])
    c = Connection(srv.url)
    with pytest.raises(OSError):
        c.request("POST", "/a", {}, b"1")
    assert len(srv.heads) == 1


def test_the_request_head_carries_host_and_content_length(scripted):
    srv = scripted([OK])
    c = Connection(srv.url)
    c.request("POST", "/p?q=1", {"Content-Type": "application/json"}, (2, [b"[", b"]"]))
    head = srv.heads[0].decode()
    port = srv.url.rsplit(":", 1)[1]
    assert head.startswith("POST /p?q=1 HTTP/1.1\r\nHost: 127.0.0.1:%s\r\n" % port)
    assert "Content-Length: 2" in head and "Content-Type: application/json" in head
    assert c.bytes_sent == len(srv.heads[0]) + 4 + 2
    c.close()


def test_an_interim_100_answer_is_skipped_for_the_final_one(scripted):
    srv = scripted([b"HTTP/1.1 100 Continue\r\n\r\n" + OK, OK])
    c = Connection(srv.url)
    r = c.request("POST", "/a", {}, b"1")
    assert (r.status, r.body) == (200, b"ok")
    assert c.request("POST", "/b", {}, b"2").body == b"ok"  # nothing left over on the socket
    c.close()


def test_endless_interim_answers_are_refused(scripted):
    srv = scripted([b"HTTP/1.1 100 Continue\r\n\r\n" * 50])
    c = Connection(srv.url)
    with pytest.raises(ValueError):
        c.request("POST", "/a", {}, b"1")
    assert c._sock is None


def _chain(folder):
    # A root, an intermediate it signs, and a leaf for 127.0.0.1 the intermediate signs: the
    # server's chain file (leaf, then intermediate), its key file, the intermediate and the leaf
    # as DER.
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def make(cn, issuer, issuer_key, ca):
        key = ec.generate_private_key(ec.SECP256R1())
        b = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer or cn)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if ca:
            usage = dict.fromkeys(
                ("content_commitment", "key_encipherment", "data_encipherment", "key_agreement"), False
            )
            usage.update(encipher_only=False, decipher_only=False)
            b = b.add_extension(
                x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, **usage), critical=True
            )
        else:
            b = b.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        return key, b.sign(issuer_key or key, hashes.SHA256())

    root_key, _ = make("test root", None, None, True)
    inter_key, inter = make("test intermediate", "test root", root_key, True)
    leaf_key, leaf = make("127.0.0.1", "test intermediate", inter_key, False)
    pem = serialization.Encoding.PEM
    chain, key = str(folder / "chain.pem"), str(folder / "leaf.key")
    with open(chain, "wb") as f:
        f.write(leaf.public_bytes(pem) + inter.public_bytes(pem))
    with open(key, "wb") as f:
        f.write(leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    der = serialization.Encoding.DER
    return chain, key, inter.public_bytes(der), leaf.public_bytes(der)


def test_a_ca_that_is_an_intermediate_of_the_servers_chain_verifies_it(scripted, tmp_path):
    # the `ca` the intermediate that issued the server's certificate (sent with it): the unix
    # ports (mbedTLS) took it, CPython refused "unable to get issuer certificate"
    import ssl

    chain, key, inter, _ = _chain(tmp_path)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(chain, key)
    srv = scripted([OK], tls=ctx)
    c = Connection(srv.url, ca_ders=[inter])
    assert c.request("GET", "/").body == b"ok"
    assert c.handshakes == 1
    c.close()


def test_a_ca_that_is_the_servers_own_certificate_signed_by_another_is_still_refused(scripted, tmp_path):
    # as mbedTLS refuses it (the intermediate above is what vouches for it): trusting an
    # intermediate must not make any certificate given as `ca` an anchor on CPython
    import ssl

    chain, key, _, leaf = _chain(tmp_path)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(chain, key)
    srv = scripted([OK], tls=ctx)
    c = Connection(srv.url, ca_ders=[leaf])
    with pytest.raises(OSError) as e:
        c.request("GET", "/")
    assert str(e.value).startswith("tls: ")
    assert c._sock is None
