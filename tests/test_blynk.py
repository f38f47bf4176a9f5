# The two Blynk clients against the local emulator: every answer class, the token cache and its
# renewal, the 308 path, garbage and oversized answers. Portable (CPython and the unix port).
import time

import emu
from blynklog import blynk
from blynklog.blynk import AUTH, BAD_BATCH, OK, RETRY, UNKNOWN_DEVICE, UNKNOWN_STREAM, DeviceClient, PlatformClient
from blynklog.http import Connection, Response
from blynklog.clock import State
from support import tmpdir

STREAM = {"id": 1, "pin": "V1", "type": "double", "decimals": 2}


def now_ms():
    return int(time.time()) * 1000


def pts(n=10, start=None):
    first = (now_ms() - 600000) if start is None else start

    def points():
        return ((first + i * 10, i * 0.25) for i in range(n))

    return points


def conn(url=None):
    return Connection(url or emu.url(), ca_ders=[emu.read_file(emu.ca_path())])


def platform(state=None, secret="test-secret", device_id=1):
    if state is None:
        state = State(tmpdir() + "/state.json")
    return PlatformClient(conn(), "test-client", secret, device_id, state)


def device(token="test-device-token"):
    return DeviceClient(conn(), token)


def token_requests():
    return [r for r in emu.requests() if r["path"] == "/oauth2/token"]


def grants():
    # (grant type, status) of every token request so far
    return [(r["query"].split("grant_type=")[1].split("&")[0], r["status"]) for r in token_requests()]


def test_platform_upload_is_accepted_and_every_point_arrives():
    emu.require()
    emu.reset()
    c = platform()
    a = c.upload(STREAM, pts(300), 300)
    c.conn.close()
    assert (a.kind, a.status) == (OK, 204)
    got = emu.points(1, 1)
    assert len(got) == 300 and got[3][1] == 0.75


def test_device_upload_is_accepted_and_every_point_arrives():
    emu.require()
    emu.reset()
    c = device()
    a = c.upload(STREAM, pts(200), 200)
    c.conn.close()
    assert (a.kind, a.status) == (OK, 200)
    assert len(emu.points(1, 1)) == 200


def test_device_upload_by_datastream_id_when_no_pin():
    emu.require()
    emu.reset()
    c = device()
    a = c.upload({"id": 2, "type": "double", "decimals": 1}, pts(5), 5)
    c.conn.close()
    assert a.kind == OK and len(emu.points(1, 2)) == 5


def test_the_token_is_cached_in_the_state_file_so_the_next_wake_does_not_authenticate():
    emu.require()
    emu.reset()
    path = tmpdir() + "/state.json"
    c = platform(State(path))
    assert c.upload(STREAM, pts(3), 3).kind == OK
    c.conn.close()
    saved = State(path).get("token")
    assert set(saved) >= {"access_token", "expires_at_ms", "refresh_token"}
    c2 = platform(State(path))
    assert c2.upload(STREAM, pts(3, now_ms() - 500000), 3).kind == OK
    c2.conn.close()
    assert len(token_requests()) == 1


def other_name():
    # the emulator under its other name: another server to the client (its certificate names both)
    return "https://localhost:" + emu.url().rsplit(":", 1)[1]


def test_a_cached_token_is_not_sent_to_another_server():
    # the token (and its refresh token) another server granted is not this server's: a fresh
    # grant first, not an upload with it
    emu.require()
    emu.reset()
    path = tmpdir() + "/state.json"
    c = platform(State(path))
    assert c.upload(STREAM, pts(3), 3).kind == OK
    c.conn.close()
    c2 = PlatformClient(conn(other_name()), "test-client", "test-secret", 1, State(path))
    assert c2.upload(STREAM, pts(3, now_ms() - 500000), 3).kind == OK
    c2.conn.close()
    assert grants() == [("client_credentials", 200), ("client_credentials", 200)]
    assert State(path).get("token")["server"] == other_name()


def test_a_cached_token_without_its_server_is_not_used():
    # an entry an older version wrote names no server: it is dropped, not sent anywhere
    emu.require()
    emu.reset()
    path = tmpdir() + "/state.json"
    c = platform(State(path))
    assert c.upload(STREAM, pts(3), 3).kind == OK
    c.conn.close()
    st = State(path)
    tok = dict(st.get("token"))
    tok.pop("server", None)
    st.set("token", tok)
    st.save()
    c2 = platform(State(path))
    assert c2.upload(STREAM, pts(3, now_ms() - 500000), 3).kind == OK
    c2.conn.close()
    assert grants() == [("client_credentials", 200), ("client_credentials", 200)]


def test_a_token_granted_after_a_308_is_used_at_the_next_wake_on_the_new_server():
    emu.require()
    emu.reset()
    emu.inject("redirect", target="token", location=other_name())
    path = tmpdir() + "/state.json"
    c = platform(State(path))
    a = c.upload(STREAM, pts(3), 3)
    c.conn.close()
    assert (a.kind, a.moved_to) == (OK, other_name())
    c2 = PlatformClient(conn(a.moved_to), "test-client", "test-secret", 1, State(path))
    assert c2.upload(STREAM, pts(3, now_ms() - 500000), 3).kind == OK
    c2.conn.close()
    assert grants() == [("client_credentials", 308), ("client_credentials", 200)]


def test_a_token_near_its_expiry_is_renewed_before_the_upload():
    emu.require()
    emu.reset()
    path = tmpdir() + "/state.json"
    c = platform(State(path))
    c.upload(STREAM, pts(2), 2)
    c.conn.close()
    st = State(path)
    tok = dict(st.get("token"))
    tok["renew_at_ms"] = now_ms() - 1000
    st.set("token", tok)
    st.save()
    c2 = platform(State(path))
    assert c2.upload(STREAM, pts(2, now_ms() - 500000), 2).kind == OK
    c2.conn.close()
    statuses = [r["status"] for r in emu.requests()]
    assert statuses == [200, 204, 200, 204]  # token, upload, token (renewed first), upload
    assert State(path).get("token")["access_token"] != tok["access_token"]


def test_an_expired_token_is_renewed_once_and_the_upload_retried():
    emu.require()
    emu.reset()
    c = platform()
    c.upload(STREAM, pts(2), 2)
    emu.expire_tokens()
    a = c.upload(STREAM, pts(2, now_ms() - 500000), 2)
    c.conn.close()
    assert a.kind == OK
    assert [r["status"] for r in emu.requests()] == [200, 204, 401, 200, 204]


def test_a_busy_answer_to_a_refresh_is_retried_after_its_retry_after_without_a_fresh_grant():
    # a 429 on the refresh grant is the server's "not now": a client-credentials grant straight
    # after it would be a second request into the same limit
    emu.require()
    emu.reset()
    c = platform()
    c.upload(STREAM, pts(2), 2)
    emu.expire_tokens()
    emu.inject("status", count=1, target="token", status=429, retry_after=30)
    a = c.upload(STREAM, pts(2, now_ms() - 500000), 2)
    c.conn.close()
    assert (a.kind, a.status, a.retry_after_ms) == (RETRY, 429, 30000)
    assert grants() == [("client_credentials", 200), ("refresh_token", 429)]


def test_a_refused_refresh_token_falls_back_to_a_fresh_grant():
    emu.require()
    emu.reset()
    path = tmpdir() + "/state.json"
    c = platform(State(path))
    c.upload(STREAM, pts(2), 2)
    c.conn.close()
    st = State(path)
    tok = dict(st.get("token"), refresh_token="not-a-refresh-token", renew_at_ms=now_ms() - 1000)
    st.set("token", tok)
    st.save()
    c2 = platform(State(path))
    a = c2.upload(STREAM, pts(2, now_ms() - 500000), 2)
    c2.conn.close()
    assert a.kind == OK
    assert grants() == [("client_credentials", 200), ("refresh_token", 400), ("client_credentials", 200)]


def test_a_second_refusal_after_renewal_is_an_auth_failure():
    emu.require()
    emu.reset()
    emu.inject("status", count=2, status=401, body={"error": {"message": "Nope."}})
    c = platform()
    a = c.upload(STREAM, pts(2), 2)
    c.conn.close()
    assert (a.kind, a.status) == (AUTH, 401)
    assert c.token_fetches == 2 and emu.points(1, 1) == []


def test_a_403_counts_like_a_401():
    emu.require()
    emu.reset()
    emu.inject("status", count=1, status=403)
    c = platform()
    a = c.upload(STREAM, pts(2), 2)
    c.conn.close()
    assert a.kind == OK and c.token_fetches == 2


def test_bad_client_credentials_are_an_auth_failure_naming_the_error_not_the_secret():
    emu.require()
    emu.reset()
    c = platform(secret="wrong-secret")
    a = c.upload(STREAM, pts(2), 2)
    c.conn.close()
    assert (a.kind, a.status) == (AUTH, 400)
    assert "invalid_client" in a.message and "wrong-secret" not in a.message


def test_a_token_error_that_echoes_the_client_secret_does_not_show_it():
    # a server (or a proxy) that names the secret in its error: the message must not carry it,
    # nor a part of it where the client id is a part of the secret
    emu.require()
    emu.reset()
    state = State(tmpdir() + "/state.json")
    c = PlatformClient(conn(), "test-client", "test-client-s3cr3t", 1, state)
    text = "client test-client with secret test-client-s3cr3t is refused"
    emu.inject("status", status=400, target="token", body={"error": "invalid_client", "error_description": text})
    a = c.upload(STREAM, pts(2), 2)
    c.conn.close()
    assert a.kind == AUTH and "invalid_client" in a.message, a
    assert "s3cr3t" not in a.message, a


def test_an_invalid_device_token_is_an_auth_failure_without_the_token():
    emu.require()
    emu.reset()
    c = device("not-a-token")
    a = c.upload(STREAM, pts(2), 2)
    c.conn.close()
    assert a.kind == AUTH and "not-a-token" not in a.message


def test_an_unknown_device_is_reported():
    emu.require()
    emu.reset()
    c = platform(device_id=77)
    a = c.upload(STREAM, pts(2), 2)
    c.conn.close()
    assert (a.kind, a.status) == (UNKNOWN_DEVICE, 404)
    assert a.message.startswith("Device with identifier 77")


def test_an_unknown_datastream_is_reported_by_both_apis():
    emu.require()
    emu.reset()
    p = platform()
    a = p.upload({"id": 99, "pin": "V99", "decimals": 2}, pts(2), 2)
    p.conn.close()
    assert (a.kind, a.status) == (UNKNOWN_STREAM, 404)
    d = device()
    b = d.upload({"id": 99, "pin": "V99", "decimals": 2}, pts(2), 2)
    d.conn.close()
    assert b.kind == UNKNOWN_STREAM


def test_a_bad_batch_keeps_the_server_message():
    emu.require()
    emu.reset()
    c = device()
    a = c.upload(STREAM, pts(2, 1000000000000), 2)  # 2001: older than the age limit
    c.conn.close()
    assert (a.kind, a.status) == (BAD_BATCH, 400)
    assert "older" in a.message


def test_server_errors_are_retried_later():
    emu.require()
    emu.reset()
    emu.inject("status", status=500)
    c = device()
    a = c.upload(STREAM, pts(2), 2)
    c.conn.close()
    assert (a.kind, a.status, a.retry_after_ms) == (RETRY, 500, None)


def test_a_429_is_retried_after_its_retry_after():
    emu.require()
    emu.reset()
    emu.inject("status", status=429, retry_after=7)
    c = device()
    a = c.upload(STREAM, pts(2), 2)
    c.conn.close()
    assert (a.kind, a.status, a.retry_after_ms) == (RETRY, 429, 7000)


def test_a_503_with_retry_after_is_retried_after_it():
    emu.require()
    emu.reset()
    emu.inject("status", status=503, retry_after=30)
    c = platform()
    a = c.upload(STREAM, pts(2), 2)
    c.conn.close()
    assert (a.kind, a.retry_after_ms) == (RETRY, 30000)


def test_the_daily_points_limit_is_a_retry_not_a_bad_batch():
    emu.require()
    emu.reset()
    emu.config(points_per_day=5)
    try:
        c = device()
        a = c.upload(STREAM, pts(10), 10)
        c.conn.close()
    finally:
        emu.reset()
        emu.config(points_per_day=10000)
    assert (a.kind, a.status) == (RETRY, 400)


def test_a_dropped_connection_is_a_retry_and_never_raises():
    emu.require()
    emu.reset()
    emu.inject("drop")
    c = device()
    a = c.upload(STREAM, pts(2), 2)
    c.conn.close()
    assert a.kind == RETRY and a.status == 0 and a.message.startswith("network")


def test_a_garbage_answer_is_a_retry():
    emu.require()
    emu.reset()
    emu.inject("garbage")
    c = platform()
    a = c.upload(STREAM, pts(2), 2)
    c.conn.close()
    assert a.kind == RETRY


PAGE = (
    '<!DOCTYPE html>\n<!--[if lt IE 7]> <html class="no-js ie6 oldie" lang="en-US"> <![endif]-->\n'
    "<head>\n<title>blynk.cloud | 502: Bad gateway</title>\n</head><body>Bad \x01 gateway</body></html>"
)


def test_a_non_json_error_body_is_told_by_its_status_not_its_markup():
    emu.require()
    emu.reset()
    emu.inject("status", status=400, body=PAGE)
    c = device()
    a = c.upload(STREAM, pts(2), 2)
    c.conn.close()
    assert (a.kind, a.message) == (BAD_BATCH, "HTTP 400")


def test_a_proxys_html_error_page_is_a_retry_named_by_its_status():
    emu.require()
    emu.reset()
    emu.inject("status", status=502, body=PAGE)
    c = device()
    a = c.upload(STREAM, pts(2), 2)
    c.conn.close()
    assert (a.kind, a.message) == (RETRY, "HTTP 502")


def test_a_plain_text_error_body_gives_its_first_line_after_the_status():
    emu.require()
    emu.reset()
    emu.inject("status", status=503, body="upstream connect error\nreset reason: overflow")
    c = device()
    a = c.upload(STREAM, pts(2), 2)
    c.conn.close()
    assert (a.kind, a.message) == (RETRY, "HTTP 503: upstream connect error")


def test_a_json_error_message_is_kept_as_the_server_said_it():
    emu.require()
    emu.reset()
    emu.inject("status", status=503, body={"error": {"message": "Try again later."}})
    c = device()
    a = c.upload(STREAM, pts(2), 2)
    c.conn.close()
    assert (a.kind, a.message) == (RETRY, "Try again later.")


def test_a_huge_error_body_gives_a_short_message():
    emu.require()
    emu.reset()
    emu.inject("status", status=400, body={"error": {"message": "y" * 50000}})
    c = device()
    a = c.upload(STREAM, pts(2), 2)
    assert a.kind == BAD_BATCH and len(a.message) <= 120
    assert c.upload(STREAM, pts(2), 2).kind == OK  # the connection recovers
    c.conn.close()


def test_an_error_body_missing_its_fields_still_classifies():
    emu.require()
    emu.reset()
    emu.inject("status", status=404, body={"unexpected": [1, 2]})
    c = platform()
    a = c.upload(STREAM, pts(2), 2)
    c.conn.close()
    assert a.kind == RETRY and a.status == 404


def test_a_wrong_ca_is_a_retry_and_no_credential_leaves_the_device():
    emu.require()
    emu.reset()
    c = PlatformClient(
        Connection(emu.url(), ca_ders=[emu.read_file(emu.other_ca_path())]),
        "test-client",
        "test-secret",
        1,
        State(tmpdir() + "/s.json"),
    )
    a = c.upload(STREAM, pts(2), 2)
    assert a.kind == RETRY and "test-secret" not in a.message
    assert emu.requests() == []


def test_a_308_is_followed_and_the_new_server_reported():
    emu.require()
    emu.reset()
    # the same emulator under its other name stands in for the right region
    port = emu.url().rsplit(":", 1)[1]
    other = "https://localhost:" + port
    emu.inject("redirect", location=other)
    c = device()
    a = c.upload(STREAM, pts(20), 20)
    c.conn.close()
    assert (a.kind, a.moved_to) == (OK, other)
    assert c.conn.url == other
    assert len(emu.points(1, 1)) == 20
    assert [r["status"] for r in emu.requests()] == [308, 200]


def test_a_308_on_the_platform_api_is_followed_with_the_token():
    emu.require()
    emu.reset()
    port = emu.url().rsplit(":", 1)[1]
    other = "https://localhost:" + port
    emu.inject("redirect", location=other)
    c = platform()
    a = c.upload(STREAM, pts(20), 20)
    c.conn.close()
    assert (a.kind, a.moved_to) == (OK, other)
    assert len(emu.points(1, 1)) == 20


class Redirected(Connection):
    # a Connection whose first request is answered by a redirect (status) to `to`, as a proxy's or
    # a load balancer's; the request there, and every one after it, goes to the emulator
    def __init__(self, status, to):
        Connection.__init__(self, emu.url(), ca_ders=[emu.read_file(emu.ca_path())])
        self.answer = (status, to)

    def request_gen(self, method, path, headers=None, body=None, keep=None):
        if self.answer is not None:
            status, to = self.answer
            self.answer = None
            return Response(status, "Moved", {"location": to + path}, b"")
        return (yield from Connection.request_gen(self, method, path, headers, body, keep))


def test_a_302_or_307_is_followed_but_not_reported_as_a_move():
    # a temporary redirect answers this request only: the server stays the one configured
    emu.require()
    for status in (302, 307):
        emu.reset()
        c = DeviceClient(Redirected(status, other_name()), "test-device-token")
        a = c.upload(STREAM, pts(20), 20)
        c.conn.close()
        assert (a.kind, a.moved_to) == (OK, None), (status, a.moved_to)
        assert c.conn.url == other_name() and len(emu.points(1, 1)) == 20, status


def test_a_token_a_temporary_redirects_target_granted_is_not_sent_to_the_configured_server():
    # the token was saved as the configured server's: the next sync there sent it another
    # server's Bearer and refresh tokens (1 grant in all; now a grant at each)
    emu.require()
    emu.reset()
    path = tmpdir() + "/state.json"
    c = PlatformClient(Redirected(307, other_name()), "test-client", "test-secret", 1, State(path))
    assert c.upload(STREAM, pts(3), 3).kind == OK
    c.conn.close()
    assert State(path).get("token")["server"] == other_name()
    c = platform(State(path))
    assert c.upload(STREAM, pts(3, now_ms() - 500000), 3).kind == OK
    c.conn.close()
    assert len(grants()) == 2, grants()


def test_a_301_is_reported_as_a_move_as_a_308_is():
    emu.require()
    emu.reset()
    c = DeviceClient(Redirected(301, other_name()), "test-device-token")
    a = c.upload(STREAM, pts(20), 20)
    c.conn.close()
    assert (a.kind, a.moved_to) == (OK, other_name())


def test_a_308_after_a_307_is_not_reported_as_a_move():
    # the temporary target's own move is not the configured server's
    emu.require()
    emu.reset()
    emu.inject("redirect", location=emu.url())  # the 307's target (localhost) moves to 127.0.0.1
    c = DeviceClient(Redirected(307, other_name()), "test-device-token")
    a = c.upload(STREAM, pts(20), 20)
    c.conn.close()
    assert (a.kind, a.moved_to) == (OK, None)
    assert [r["status"] for r in emu.requests()] == [308, 200]


def test_endless_redirects_end_as_a_retry():
    emu.require()
    emu.reset()
    emu.inject("redirect", count=10, location=emu.url())
    c = device()
    a = c.upload(STREAM, pts(2), 2)
    c.conn.close()
    assert (a.kind, a.status) == (RETRY, 308)
    emu.reset()


def test_many_batches_of_one_wake_share_one_handshake():
    emu.require()
    emu.reset()
    c = platform()
    for k in range(4):
        assert c.upload({"id": k + 1, "decimals": 1}, pts(50), 50).kind == OK
    c.conn.close()
    assert c.conn.handshakes == 1


def test_an_oversize_or_unencodable_batch_is_refused_before_sending():
    emu.require()
    emu.reset()
    c = device()
    a = c.upload(STREAM, lambda: iter([(now_ms(), float("nan"))]), 1)
    assert (a.kind, a.status) == (BAD_BATCH, 0)
    assert emu.requests() == []


def test_error_message_reads_every_documented_shape():
    assert blynk.error_message(b'{"error":{"message":"Invalid token."}}') == "Invalid token."
    assert blynk.error_message(b'{"error":"invalid_client","error_description":"bad"}') == "invalid_client: bad"
    assert blynk.error_message(b'{"message":"m"}') == "m"
    assert blynk.error_message(b"plain") == "plain"
    assert blynk.error_message(b'{"error":[1]}') == '{"error":[1]}'
    assert isinstance(blynk.error_message(b"\xff\xfe{"), str)


def test_retry_after_accepts_seconds_and_a_date_counted_from_the_answers_date_and_ignores_garbage():
    assert blynk.retry_after_ms("120") == 120000
    assert blynk.retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT") is None  # no Date to count from
    assert blynk.retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT", "Wed, 21 Oct 2015 07:18:00 GMT") == 600000
    assert blynk.retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT", "Wed, 21 Oct 2015 07:30:00 GMT") == 0
    assert blynk.retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT", "garbage") is None
    assert blynk.retry_after_ms("-5") is None
    assert blynk.retry_after_ms(None) is None
    assert blynk.retry_after_ms("99999999") == 86400000
