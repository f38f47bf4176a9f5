# cpython-only: it tests the host-side Blynk emulator (tools/blynk_server.py) with http.client and ssl.
# The local Blynk Cloud emulator: one behaviour per test, each against a strict reading of shared/spec.
import base64
import email.utils
import json
import os
import socket
import ssl
import sys
import time
import http.client
import urllib.parse

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tools"))

from blynk_server import BlynkServer  # noqa: E402

BASIC = "Basic " + base64.b64encode(b"test-client:test-secret").decode()
IMPORT = "/api/v1/organization/device/import/batch"


@pytest.fixture(scope="module")
def server():
    srv = BlynkServer(tls=True).start()
    yield srv
    srv.stop()


@pytest.fixture
def srv(server):
    server.reset()
    return server


def now_ms():
    return int(time.time() * 1000)


def _port(url):
    return urllib.parse.urlsplit(url).port


def https(srv, url=None, cadata=None, hostname=None):
    ctx = ssl.create_default_context(cadata=cadata or open(srv.ca_der_path, "rb").read())
    return http.client.HTTPSConnection(hostname or "127.0.0.1", _port(url or srv.url), context=ctx, timeout=10)


def plain(srv):
    return http.client.HTTPConnection("127.0.0.1", _port(srv.http_url), timeout=10)


def call(conn, method, path, body=None, headers=None):
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    data = r.read()
    return r, (json.loads(data) if data and r.getheader("Content-Type", "").startswith("application/json") else data)


def token(conn):
    r, body = call(conn, "POST", "/oauth2/token?grant_type=client_credentials", b"", {"Authorization": BASIC})
    assert r.status == 200
    return body


def import_batch(conn, access, values, device=1, stream=1):
    body = {"deviceId": device, "dataStreamId": stream, "values": values}
    return call(conn, "POST", IMPORT, body, {"Authorization": "Bearer " + access, "Content-Type": "application/json"})


def update(conn, values, query="token=test-device-token&pin=V1", ctype="application/json"):
    headers = {"Content-Type": ctype} if ctype else {}
    return call(conn, "POST", "/external/api/batch/update?" + query, values, headers)


def error_message(body):
    return body["error"]["message"]


# --- TLS and certificates


def test_tls_listener_verifies_against_the_written_ca(srv):
    conn = https(srv)
    r, _ = call(conn, "GET", "/_emu/stats")
    assert r.status == 200 and srv.handshakes == 1


def test_certificate_names_both_localhost_and_127_0_0_1(srv):
    for host in ("127.0.0.1", "localhost"):
        conn = https(srv, hostname=host)
        r, _ = call(conn, "GET", "/_emu/stats")
        assert r.status == 200


def test_cert_dir_holds_the_promised_files(srv):
    names = set(os.listdir(srv.cert_dir))
    assert {"ca.der", "ca.pem", "server.pem", "server.key", "other-ca.der"} <= names
    assert srv.ca_der_path == os.path.join(srv.cert_dir, "ca.der")


def test_other_ca_does_not_verify_the_server(srv):
    conn = https(srv, cadata=open(srv.other_ca_der_path, "rb").read())
    with pytest.raises(ssl.SSLCertVerificationError):
        call(conn, "GET", "/_emu/stats")


def test_wrong_name_listener_fails_hostname_check(srv):
    with pytest.raises(ssl.SSLCertVerificationError):
        call(https(srv, url=srv.wrong_name_url), "GET", "/_emu/stats")


def test_cert_dir_is_reused_across_restarts(tmp_path):
    with BlynkServer(cert_dir=str(tmp_path)) as a:
        first = open(a.ca_der_path, "rb").read()
    with BlynkServer(cert_dir=str(tmp_path)) as b:
        assert open(b.ca_der_path, "rb").read() == first


def test_temporary_cert_dir_is_removed_at_stop():
    srv = BlynkServer().start()
    d = srv.cert_dir
    srv.stop()
    assert not os.path.exists(d)


def test_non_loopback_host_is_refused():
    with pytest.raises(ValueError):
        BlynkServer(host="0.0.0.0")


def test_no_tls_server_serves_plain_http_on_url():
    with BlynkServer(tls=False) as srv:
        assert srv.url.startswith("http://") and srv.url == srv.http_url
        r, _ = update(plain(srv), [[now_ms(), 1.0]])
        assert r.status == 200


# --- OAuth2 token endpoint


def test_token_grant_answers_the_documented_shape(srv):
    body = token(https(srv))
    assert body["token_type"] == "Bearer" and body["expires_in"] == 86400
    assert body["access_token"] and body["refresh_token"]


def test_token_lifetime_is_configurable():
    with BlynkServer(tls=False, token_lifetime_s=300) as srv:
        assert token(plain(srv))["expires_in"] == 300


def test_bad_client_secret_gets_invalid_client(srv):
    bad = "Basic " + base64.b64encode(b"test-client:nope").decode()
    r, body = call(https(srv), "POST", "/oauth2/token?grant_type=client_credentials", b"", {"Authorization": bad})
    assert r.status == 400 and body["error"] == "invalid_client"


def test_missing_basic_auth_gets_invalid_client(srv):
    r, body = call(https(srv), "POST", "/oauth2/token?grant_type=client_credentials", b"")
    assert r.status == 400 and body["error"] == "invalid_client"


def test_unknown_grant_type_is_refused(srv):
    r, body = call(https(srv), "POST", "/oauth2/token?grant_type=password", b"", {"Authorization": BASIC})
    assert r.status == 400 and body["error"] == "unsupported_grant_type"


def test_refresh_token_gives_a_new_access_token_once(srv):
    conn = https(srv)
    first = token(conn)
    path = "/oauth2/token?grant_type=refresh_token&refresh_token=" + first["refresh_token"]
    r, body = call(conn, "POST", path, b"", {"Authorization": BASIC})
    assert r.status == 200 and body["access_token"] != first["access_token"]
    r, body = call(conn, "POST", path, b"", {"Authorization": BASIC})
    assert r.status == 400 and body["error"] == "invalid_grant"


def test_expired_access_token_gets_401(srv):
    srv.configure(token_lifetime_s=0)
    conn = https(srv)
    access = token(conn)["access_token"]
    r, body = import_batch(conn, access, [{"value": 1, "ts": now_ms()}])
    assert r.status == 401 and error_message(body)


def test_expire_tokens_invalidates_issued_tokens(srv):
    conn = https(srv)
    access = token(conn)["access_token"]
    srv.expire_tokens()
    r, _ = import_batch(conn, access, [{"value": 1, "ts": now_ms()}])
    assert r.status == 401


def test_unknown_bearer_token_gets_401(srv):
    r, body = import_batch(https(srv), "not-a-token", [{"value": 1, "ts": now_ms()}])
    assert r.status == 401 and "message" in body["error"]


# --- Platform API: import/batch


def test_import_batch_answers_204_and_records_points(srv):
    conn = https(srv)
    t = now_ms()
    r, body = import_batch(conn, token(conn)["access_token"], [{"value": 5, "ts": t}, {"value": 2.5, "ts": t + 1}])
    assert r.status == 204 and body == b""
    assert srv.points(1, 1) == [(t, 5), (t + 1, 2.5)]


def test_import_batch_unknown_device_is_404_with_the_documented_message(srv):
    conn = https(srv)
    r, body = import_batch(conn, token(conn)["access_token"], [{"value": 1, "ts": now_ms()}], device=77)
    assert r.status == 404
    assert error_message(body) == "Device with identifier 77 is not found or belong to another organization."


def test_import_batch_unknown_stream_is_404_with_the_documented_message(srv):
    conn = https(srv)
    r, body = import_batch(conn, token(conn)["access_token"], [{"value": 1, "ts": now_ms()}], stream=99)
    assert r.status == 404 and error_message(body) == "Data stream with identifier 99 is not found!"


def test_import_batch_refuses_extra_keys(srv):
    conn = https(srv)
    access = token(conn)["access_token"]
    r, _ = import_batch(conn, access, [{"value": 1, "ts": now_ms(), "x": 1}])
    assert r.status == 400 and srv.points(1, 1) == []


def test_import_batch_refuses_a_string_timestamp(srv):
    conn = https(srv)
    r, _ = import_batch(conn, token(conn)["access_token"], [{"value": 1, "ts": str(now_ms())}])
    assert r.status == 400


def test_import_batch_refuses_a_float_timestamp(srv):
    conn = https(srv)
    r, _ = import_batch(conn, token(conn)["access_token"], [{"value": 1, "ts": now_ms() + 0.5}])
    assert r.status == 400


# --- Device API: batch/update


def test_batch_update_answers_200_and_records_points_by_pin(srv):
    t = now_ms()
    r, _ = update(https(srv), [[t, 1.5], [t + 1, 2]], "token=test-device-token&pin=V3")
    assert r.status == 200 and srv.points(1, 3) == [(t, 1.5), (t + 1, 2)]


def test_batch_update_accepts_data_stream_id(srv):
    t = now_ms()
    r, _ = update(https(srv), [[t, 1.5]], "token=test-device-token-2&dataStreamId=4")
    assert r.status == 200 and srv.points(2, 4) == [(t, 1.5)]


def test_batch_update_bad_token_is_invalid_token(srv):
    r, body = update(https(srv), [[now_ms(), 1]], "token=nope&pin=V1")
    assert r.status == 400 and error_message(body) == "Invalid token."


def test_batch_update_bad_pin_is_wrong_pin_format(srv):
    r, body = update(https(srv), [[now_ms(), 1]], "token=test-device-token&pin=X1")
    assert r.status == 400 and error_message(body) == "Wrong pin format."


def test_batch_update_without_content_type_is_unknown_content_type(srv):
    r, body = update(https(srv), [[now_ms(), 1]], ctype=None)
    assert r.status == 400 and error_message(body) == "Unknown content type."


def test_batch_update_wrong_content_type_is_unknown_content_type(srv):
    r, body = update(https(srv), [[now_ms(), 1]], ctype="text/plain")
    assert r.status == 400 and error_message(body) == "Unknown content type."


def test_batch_over_max_batch_is_too_much_data():
    with BlynkServer(tls=False, max_batch=3) as srv:
        t = now_ms()
        r, body = update(plain(srv), [[t + i, 1] for i in range(4)])
        assert r.status == 400
        assert error_message(body) == "Too much data in batch. Maximum batch size is 3 points."


def test_value_of_the_wrong_type_is_refused(srv):
    srv.add_stream(1, 20, "V20", "int")
    r, body = update(https(srv), [[now_ms(), 1.5]], "token=test-device-token&pin=V20")
    assert r.status == 400 and error_message(body) == "Value doesn't match the Datastream data type."


def test_each_stream_type_accepts_its_values(srv):
    t = now_ms()
    cases = [("int", 7), ("double", 7.25), ("string", "hi"), ("bool", True), ("location", [24.1, 56.9])]
    conn = https(srv)
    for i, (kind, value) in enumerate(cases):
        srv.add_stream(1, 30 + i, "V%d" % (30 + i), kind)
        r, _ = update(conn, [[t, value]], "token=test-device-token&pin=V%d" % (30 + i))
        assert r.status == 200, kind
        assert srv.points(1, 30 + i) == [(t, value)]


def test_string_longer_than_1024_bytes_is_refused(srv):
    srv.add_stream(1, 21, "V21", "string")
    r, _ = update(https(srv), [[now_ms(), "x" * 1025]], "token=test-device-token&pin=V21")
    assert r.status == 400


def test_nan_is_not_accepted_as_json(srv):
    r, _ = update(https(srv), '[[%d, NaN]]' % now_ms())
    assert r.status == 400 and srv.points(1, 1) == []


def test_malformed_json_is_refused(srv):
    r, _ = update(https(srv), '[[%d, 1]' % now_ms())
    assert r.status == 400


# --- limits shared by both APIs


def test_timestamp_older_than_max_age_is_refused(srv):
    old = now_ms() - 31 * 86400000
    r, body = update(https(srv), [[old, 1]])
    assert r.status == 400 and error_message(body) and srv.points(1, 1) == []


def test_max_age_is_configurable(srv):
    srv.configure(max_age_days=60)
    r, _ = update(https(srv), [[now_ms() - 31 * 86400000, 1]])
    assert r.status == 200


def test_a_batch_is_all_or_nothing(srv):
    t = now_ms()
    r, _ = update(https(srv), [[t, 1], [t + 1, "oops"]])
    assert r.status == 400 and srv.points(1, 1) == []


def test_duplicate_timestamp_in_a_batch_is_refused(srv):
    t = now_ms()
    r, body = update(https(srv), [[t, 1], [t, 2]])
    assert r.status == 400 and error_message(body) == "Duplicate timestamp." and srv.points(1, 1) == []


def test_daily_quota_refuses_the_batch_that_would_exceed_it(srv):
    srv.configure(points_per_day=5)
    conn = https(srv)
    t = now_ms()
    assert update(conn, [[t + i, 1] for i in range(3)])[0].status == 200
    r, body = update(conn, [[t + 10 + i, 1] for i in range(3)], "token=test-device-token&pin=V2")
    assert r.status == 400 and error_message(body) == "Daily points limit reached."
    assert srv.points(1, 2) == []


def test_daily_quota_is_per_device(srv):
    srv.configure(points_per_day=2)
    conn = https(srv)
    t = now_ms()
    assert update(conn, [[t, 1], [t + 1, 1]])[0].status == 200
    assert update(conn, [[t, 1], [t + 1, 1]], "token=test-device-token-2&pin=V1")[0].status == 200


def test_daily_quota_is_shared_by_both_apis(srv):
    srv.configure(points_per_day=2)
    conn = https(srv)
    t = now_ms()
    assert update(conn, [[t, 1], [t + 1, 1]])[0].status == 200
    r, body = import_batch(conn, token(conn)["access_token"], [{"value": 1, "ts": t + 5}])
    assert r.status == 400 and error_message(body) == "Daily points limit reached."


def test_body_over_the_limit_is_413():
    with BlynkServer(tls=False, max_body=1000) as srv:
        r, _ = update(plain(srv), [[now_ms() + i, 1] for i in range(200)])
        assert r.status == 413


# --- HTTP/1.1 behaviour


def test_keep_alive_serves_many_requests_on_one_connection(srv):
    conn = https(srv)
    t = now_ms()
    for i in range(3):
        assert update(conn, [[t + i, 1]])[0].status == 200
    assert srv.handshakes == 1 and srv.connections == 1


def test_connection_close_is_honoured(srv):
    conn = https(srv)
    conn.request(
        "POST",
        "/external/api/batch/update?token=test-device-token&pin=V1",
        body=json.dumps([[now_ms(), 1]]),
        headers={"Content-Type": "application/json", "Connection": "close"},
    )
    r = conn.getresponse()
    r.read()
    assert r.status == 200 and r.getheader("Connection") == "close"


def test_every_response_carries_a_date_header(srv):
    r, _ = update(https(srv), [[now_ms(), 1]], "token=nope&pin=V1")
    assert r.getheader("Date", "").endswith("GMT")


def raw_exchange(srv, data):
    s = socket.create_connection(("127.0.0.1", _port(srv.http_url)), timeout=10)
    try:
        s.sendall(data)
        chunks = []
        while True:
            c = s.recv(4096)
            if not c:
                break
            chunks.append(c)
        return b"".join(chunks)
    finally:
        s.close()


def test_post_without_content_length_is_411(srv):
    answer = raw_exchange(
        srv,
        b"POST /external/api/batch/update?token=test-device-token&pin=V1 HTTP/1.1\r\n"
        b"Host: x\r\nContent-Type: application/json\r\n\r\n",
    )
    assert answer.startswith(b"HTTP/1.1 411 ")


def test_chunked_request_body_is_accepted(srv):
    body = json.dumps([[now_ms(), 1.5]]).encode()
    half = len(body) // 2
    chunked = b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (half, body[:half], len(body) - half, body[half:])
    answer = raw_exchange(
        srv,
        b"POST /external/api/batch/update?token=test-device-token&pin=V1 HTTP/1.1\r\n"
        b"Host: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
        b"Connection: close\r\n\r\n" + chunked,
    )
    assert answer.startswith(b"HTTP/1.1 200 ") and len(srv.points(1, 1)) == 1


# --- records and the /_emu/ controls


def test_requests_are_recorded_with_method_path_status_and_bytes(srv):
    update(https(srv), [[now_ms(), 1]])
    (entry,) = srv.requests
    assert entry["method"] == "POST" and entry["path"] == "/external/api/batch/update"
    assert entry["status"] == 200 and entry["bytes_in"] > entry["body_bytes"] > 0


def test_control_calls_are_not_recorded_as_requests(srv):
    call(plain(srv), "GET", "/_emu/stats")
    assert srv.requests == [] and srv.connections == 0


def test_reset_clears_points_requests_faults_and_quota(srv):
    srv.configure(points_per_day=1)
    update(https(srv), [[now_ms(), 1]])
    srv.inject("drop")
    srv.reset()
    assert srv.points(1, 1) == [] and srv.requests == [] and srv.faults == [] and srv.quota == {}
    assert srv.config["points_per_day"] == 10000


def test_http_controls_mirror_the_python_api(srv):
    conn = plain(srv)
    t = now_ms()
    update(conn, [[t, 2.5]])
    r, body = call(conn, "GET", "/_emu/points?device=1&stream=1")
    assert body == {"points": [[t, 2.5]]}
    r, body = call(conn, "GET", "/_emu/stats")
    assert body["requests"] == 1 and body["points"] == 1 and body["connections"] == 1
    assert call(conn, "POST", "/_emu/config", {"points_per_day": 7})[0].status == 200
    assert srv.config["points_per_day"] == 7
    assert call(conn, "POST", "/_emu/inject", {"kind": "status", "status": 503, "count": 2})[0].status == 200
    assert srv.faults[0]["count"] == 2
    assert call(conn, "POST", "/_emu/reset", {})[0].status == 200
    assert srv.points(1, 1) == [] and srv.faults == []


def test_http_controls_refuse_unknown_settings(srv):
    r, _ = call(plain(srv), "POST", "/_emu/config", {"points_per_hour": 7})
    assert r.status == 400


def test_emu_helper_drives_the_session_server():
    import emu

    emu.require()
    emu.reset()
    emu.inject("status", status=429, retry_after=1)
    assert emu.stats()["faults_pending"] == 1
    emu.reset()
    assert emu.points(1, 1) == [] and emu.ca_path().endswith("ca.der")


# --- fault injection


def test_injected_status_answers_it_with_retry_after_and_stores_nothing(srv):
    srv.inject("status", status=503, retry_after=7)
    r, body = update(https(srv), [[now_ms(), 1]])
    assert r.status == 503 and r.getheader("Retry-After") == "7" and srv.points(1, 1) == []


def test_injected_status_body_is_sent_verbatim(srv):
    srv.inject("status", status=429, body={"error": {"message": "Too many requests."}})
    r, body = update(https(srv), [[now_ms(), 1]])
    assert r.status == 429 and error_message(body) == "Too many requests."


def test_fault_applies_to_the_next_count_requests_only(srv):
    srv.inject("status", count=2, status=500)
    conn = https(srv)
    t = now_ms()
    statuses = [update(conn, [[t + i, 1]])[0].status for i in range(3)]
    assert statuses == [500, 500, 200]


def test_upload_faults_leave_the_token_endpoint_alone(srv):
    srv.inject("status", status=500)
    assert token(https(srv))["access_token"]
    assert srv.faults


def test_token_target_faults_hit_the_token_endpoint(srv):
    srv.inject("status", status=503, target="token")
    conn = https(srv)
    r, _ = call(conn, "POST", "/oauth2/token?grant_type=client_credentials", b"", {"Authorization": BASIC})
    assert r.status == 503
    assert update(conn, [[now_ms(), 1]])[0].status == 200


def test_drop_closes_the_connection_without_an_answer(srv):
    srv.inject("drop")
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        update(https(srv), [[now_ms(), 1]])
    assert srv.points(1, 1) == [] and srv.requests[0]["fault"] == "drop"


def test_reset_mid_body_resets_the_connection_and_stores_nothing(srv):
    srv.inject("reset_mid_body")
    t = now_ms()
    with pytest.raises((http.client.HTTPException, OSError)):
        update(https(srv), [[t + i, 1.0] for i in range(2000)])
    assert srv.points(1, 1) == [] and srv.requests[0]["fault"] == "reset_mid_body"


def test_slow_answer_times_out_a_short_client_timeout(srv):
    srv.inject("slow", delay_s=2)
    conn = https(srv)
    conn.connect()  # the handshake under the usual timeout: only the answer's wait under 0.3 s
    conn.sock.settimeout(0.3)
    with pytest.raises(socket.timeout):
        update(conn, [[now_ms(), 1]])
    # the request was the slow one, and the server has taken its point (before its 2 s wait)
    # before the next test's reset: at most 10 s
    for _ in range(1000):
        if srv.requests and srv.requests[0]["status"] is not None:
            break
        time.sleep(0.01)
    assert srv.requests[0]["fault"] == "slow" and srv.requests[0]["status"] == 200, srv.requests


def test_slow_answer_still_answers(srv):
    srv.inject("slow", delay_s=0.05)
    r, _ = update(https(srv), [[now_ms(), 1]])
    assert r.status == 200 and len(srv.points(1, 1)) == 1


def test_redirect_points_to_the_other_server_with_the_same_request_target(srv):
    with BlynkServer(tls=False, wrong_name=False) as other:
        srv.inject("redirect", location=other.url)
        r, _ = update(https(srv), [[now_ms(), 1]])
        assert r.status == 308
        loc = r.getheader("Location")
        assert loc == other.url + "/external/api/batch/update?token=test-device-token&pin=V1"
        parts = urllib.parse.urlsplit(loc)
        r, _ = update(plain(other), [[now_ms(), 1]], parts.query)
        assert r.status == 200 and len(other.points(1, 1)) == 1 and srv.points(1, 1) == []


def test_garbage_answer_is_not_http(srv):
    srv.inject("garbage")
    with pytest.raises((http.client.HTTPException, OSError)):
        update(https(srv), [[now_ms(), 1]])


def test_unknown_fault_kind_is_refused(srv):
    with pytest.raises(ValueError):
        srv.inject("explode")


# --- the chart page


def test_chart_page_draws_an_svg_per_numeric_stream(srv):
    t = now_ms()
    update(https(srv), [[t, 1.0], [t + 1000, 3.5]])
    update(https(srv), [[t, 2.0]], "token=test-device-token&pin=V2")
    r, body = call(plain(srv), "GET", "/")
    page = body.decode()
    assert r.status == 200 and r.getheader("Content-Type").startswith("text/html")
    assert page.count("<svg") == 2 and "datastream 1" in page and "datastream 2" in page


def test_chart_page_uses_no_external_assets(srv):
    update(https(srv), [[now_ms(), 1.0]])
    page = call(plain(srv), "GET", "/")[1].decode()
    assert "src=" not in page and "href=" not in page


def test_chart_page_lists_string_values_in_a_table(srv):
    srv.add_stream(1, 40, "V40", "string")
    update(https(srv), [[now_ms(), "<hello>"]], "token=test-device-token&pin=V40")
    page = call(plain(srv), "GET", "/")[1].decode()
    assert "&lt;hello&gt;" in page and "<svg" not in page


def test_chart_table_of_strings_says_how_many_of_how_many_points_it_shows(srv):
    srv.add_stream(1, 41, "V41", "string")
    t = now_ms()
    update(https(srv), [[t + i, "s%d" % i] for i in range(25)], "token=test-device-token&pin=V41")
    page = call(plain(srv), "GET", "/")[1].decode()
    assert "the last 20 of 25 points" in page
    assert "s24" in page and "&quot;s4&quot;" not in page


def test_chart_shows_a_gap_between_two_runs_as_a_gap(srv):
    t = now_ms() - 3600000
    first = [[t + i * 1000, float(i)] for i in range(10)]
    second = [[t + 1800000 + i * 1000, float(i)] for i in range(10)]
    update(https(srv), first + second)
    page = call(plain(srv), "GET", "/")[1].decode()
    assert page.count("<polyline") == 2


def test_chart_joins_a_steady_series_with_one_line(srv):
    t = now_ms() - 3600000
    update(https(srv), [[t + i * 1000, float(i % 3)] for i in range(30)])
    page = call(plain(srv), "GET", "/")[1].decode()
    assert page.count("<polyline") == 1


def test_chart_shows_the_stream_name_it_was_given(srv):
    srv.stream_names[(1, 1)] = "greenhouse_temp"
    update(https(srv), [[now_ms(), 1.0]])
    page = call(plain(srv), "GET", "/")[1].decode()
    assert "greenhouse_temp" in page


def test_chart_thins_long_series_to_a_bounded_number_of_points():
    import blynk_server

    series = [(i, float(i % 17)) for i in range(50000)]
    thin = blynk_server._thin(series, 1000)
    assert len(thin) <= 1000 and thin[0][0] == 0 and max(v for _, v in thin) == 16.0


# --- the command line


def test_cli_prints_its_addresses_and_stops_on_sigterm(tmp_path):
    import signal
    import subprocess

    tool = os.path.join(os.path.dirname(HERE), "tools", "blynk_server.py")
    p = subprocess.Popen(
        [sys.executable, tool, "--cert-dir", str(tmp_path), "--token-lifetime", "120"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        info = json.loads(p.stdout.readline())
        assert info["ca"] == str(tmp_path / "ca.der") and info["url"].startswith("https://127.0.0.1:")
        ctx = ssl.create_default_context(cadata=open(info["ca"], "rb").read())
        conn = http.client.HTTPSConnection("127.0.0.1", _port(info["url"]), context=ctx, timeout=10)
        assert token(conn)["expires_in"] == 120
        conn.close()
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=20) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=10)


def test_cli_help_works():
    import subprocess

    tool = os.path.join(os.path.dirname(HERE), "tools", "blynk_server.py")
    r = subprocess.run([sys.executable, tool, "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "--no-tls" in r.stdout and "--token-lifetime" in r.stdout


def test_http11_request_without_host_is_400(srv):
    answer = raw_exchange(srv, b"GET /_emu/stats HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 ")


def test_clock_offset_moves_the_quota_to_a_new_utc_day(srv):
    srv.configure(points_per_day=1)
    conn = https(srv)
    t = now_ms()
    assert update(conn, [[t, 1]])[0].status == 200
    srv.configure(clock_offset_ms=86400000)
    assert update(conn, [[t + 1, 1]])[0].status == 200


def test_clock_offset_moves_the_age_limit(srv):
    srv.configure(clock_offset_ms=31 * 86400000)
    r, _ = update(https(srv), [[now_ms(), 1]])
    assert r.status == 400


def test_body_over_2mb_gets_413_before_the_client_finishes_sending(srv):
    s = socket.create_connection(("127.0.0.1", _port(srv.http_url)), timeout=10)
    try:
        s.sendall(
            b"POST /external/api/batch/update?token=test-device-token&pin=V1 HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: 3000000\r\n\r\n"
        )
        s.sendall(b"[" * 65536)
        answer = s.recv(4096)
    finally:
        s.close()
    assert answer.startswith(b"HTTP/1.1 413 ")


def test_the_date_header_tells_the_servers_clock_offset_included(srv):
    # a client that reads the server's day (or sets its clock) from Date sees the day the quota and
    # the age limit are counted in
    srv.configure(clock_offset_ms=-3 * 86400000)
    r, _ = update(https(srv), [[now_ms(), 1]])
    told = email.utils.parsedate_to_datetime(r.getheader("Date")).timestamp() * 1000
    assert abs(told - srv.now_ms()) < 5000, (r.getheader("Date"), srv.now_ms())


def test_the_date_header_tells_a_fixed_server_clock(srv):
    srv.configure(clock_fixed_ms=1700000000000)
    r, _ = update(https(srv), [[1700000000000 - 1000, 1]])
    assert r.getheader("Date") == "Tue, 14 Nov 2023 22:13:20 GMT"
