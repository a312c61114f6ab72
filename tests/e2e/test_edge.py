"""The HTTP edge, with raw sockets where the SDK cannot express the request:
header-read and idle timeouts, the connection caps, and Twilio's JSON for
every answer the gateway writes (413, 414, 431, 400, 408)."""

import base64
import json
import os
import resource
import signal
import socket
import time

import pytest
import requests
from twilio.http.http_client import TwilioHttpClient
from twilio.base.exceptions import TwilioRestException

from conftest import Gateway


def start(tmp_dir, name="data", **settings):
    env = dict(os.environ)
    env.update({f"TOLLGATE_{k.upper()}": str(v) for k, v in settings.items()})
    return Gateway(tmp_dir / name, env=env).init().start()


def connect(gw, source="127.0.0.1", timeout=10):
    s = socket.socket()
    s.bind((source, 0))
    s.settimeout(timeout)
    s.connect(("127.0.0.1", gw.port))
    return s


def read_response(s):
    """One HTTP response: (status, lower-case headers, body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a response: {data!r}")
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = s.recv(65536)
        if not chunk:
            break
        rest += chunk
    return status, headers, rest[:length]


def raw(gw, data, source="127.0.0.1"):
    with connect(gw, source) as s:
        s.sendall(data)
        return read_response(s)


def closed_after(s, limit):
    """Seconds until the server closes `s` (None if it is still open after `limit`)."""
    started = time.monotonic()
    s.settimeout(limit)
    try:
        while True:
            if not s.recv(4096):
                return time.monotonic() - started
    except socket.timeout:
        return None
    except ConnectionResetError:
        return time.monotonic() - started


def health(host="x"):
    return f"GET /tollgate/v1/Health HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()


def assert_twilio_error(status, headers, body, want_status, want_code):
    assert status == want_status, (status, body)
    assert headers.get("content-type") == "application/json", headers
    err = json.loads(body)
    assert set(err) == {"code", "message", "more_info", "status"}, err
    assert (err["status"], err["code"]) == (want_status, want_code), err
    return err


# Item 5: timeouts and connection caps.


def test_slow_and_silent_headers_are_closed_after_the_header_timeout(tmp_dir):
    gw = start(tmp_dir, header_read_timeout_ms=1000, idle_timeout_ms=20000)
    silent = connect(gw)
    trickle = connect(gw)
    trickle.sendall(b"GET /tollgate/v1/Health HTTP/1.1\r\nHost: x\r\n")
    started = time.monotonic()
    closed = None
    # One header line every 0.3 s: bytes keep coming, the head never ends.
    while time.monotonic() - started < 6:
        try:
            trickle.sendall(b"X-Slow: 1\r\n")
        except OSError:
            closed = time.monotonic() - started
            break
        trickle.settimeout(0.3)
        try:
            if trickle.recv(4096) == b"":
                closed = time.monotonic() - started
                break
        except socket.timeout:
            pass
        except ConnectionResetError:
            closed = time.monotonic() - started
            break
    assert closed is not None and 0.8 < closed < 3, closed
    assert closed_after(silent, 4) is not None
    silent.close()
    trickle.close()
    assert raw(gw, health())[0] == 200
    assert gw.stop() == 0


def test_idle_keep_alive_connections_close_after_the_idle_timeout(tmp_dir):
    gw = start(tmp_dir, header_read_timeout_ms=1000, idle_timeout_ms=2500)
    s = connect(gw)
    s.sendall(health())
    assert read_response(s)[0] == 200
    # Longer than the header timeout: a quiet keep-alive connection is idle, not slow.
    time.sleep(1.5)
    s.sendall(health())
    status, headers, _ = read_response(s)
    assert status == 200 and headers.get("connection") != "close"
    closed = closed_after(s, 6)
    assert closed is not None and 2.0 < closed < 4.5, closed
    s.close()
    assert gw.stop() == 0


def test_at_the_connection_cap_new_connections_wait_and_are_served(tmp_dir):
    gw = start(tmp_dir, max_connections=3, max_connections_per_ip=0, header_read_timeout_ms=1000)
    idle = [connect(gw) for _ in range(3)]
    started = time.monotonic()
    status, _, body = raw(gw, health())
    waited = time.monotonic() - started
    assert status == 200 and json.loads(body) == {"status": "ok"}
    # It waited in the backlog until an idle connection timed out.
    assert 0.5 < waited < 5, waited
    for s in idle:
        assert closed_after(s, 3) is not None
        s.close()
    assert "connection limit reached" in gw.logs()
    assert gw.client().api.v2010.accounts(gw.account_sid).fetch().sid == gw.account_sid
    assert gw.stop() == 0


def test_one_source_cannot_take_every_connection(tmp_dir):
    gw = start(tmp_dir, max_connections=10, max_connections_per_ip=2, header_read_timeout_ms=5000)
    time.sleep(0.3)  # the start-up probe's connection has closed
    held = [connect(gw) for _ in range(2)]
    time.sleep(0.2)
    started = time.monotonic()
    status, headers, body = raw(gw, health())
    assert time.monotonic() - started < 2
    assert_twilio_error(status, headers, body, 429, 20429)
    assert headers.get("connection") == "close" and headers.get("retry-after") == "1"
    # Another address is served at once.
    status, _, _ = raw(gw, health(), source="127.0.0.2")
    assert status == 200
    for s in held:
        s.close()
    time.sleep(0.2)
    assert raw(gw, health())[0] == 200
    assert "reached its connection cap" in gw.logs()
    assert gw.stop() == 0


def test_an_idle_flood_under_a_low_open_file_limit_does_not_stop_the_service(tmp_dir):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
    try:
        gw = start(tmp_dir, header_read_timeout_ms=1000)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    # More idle connections than the server has file descriptors, each from
    # its own address (no per-source cap applies).
    flood = []
    for i in range(400):
        try:
            flood.append(connect(gw, source=f"127.0.{1 + i // 100}.{1 + i % 100}", timeout=2))
        except OSError:
            break
    assert len(flood) >= 300
    client = gw.client()
    deadline = time.monotonic() + 20
    served = None
    while served is None and time.monotonic() < deadline:
        try:
            served = client.api.v2010.accounts(gw.account_sid).fetch()
        except Exception:  # refused, reset or timed out while the flood drains
            time.sleep(0.5)
    assert served is not None and served.sid == gw.account_sid
    for s in flood:
        s.close()
    assert client.api.v2010.accounts.create(friendly_name="after the flood").status == "active"
    assert gw.stop() == 0


def test_shutdown_lets_a_request_in_flight_finish(tmp_dir):
    gw = start(tmp_dir)
    s = connect(gw)
    body = b"FriendlyName=finishing"
    s.sendall(
        b"POST /2010-04-01/Accounts.json HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body[:5]
    )
    time.sleep(0.3)
    gw.proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    assert gw.proc.poll() is None, "the server stopped with a request in flight"
    s.sendall(body[5:])
    status, headers, answer = read_response(s)
    assert_twilio_error(status, headers, answer, 401, 20003)
    s.close()
    assert gw.stop() == 0


# Item 9: one body limit, Twilio's JSON for every answer, keep-alive after early answers.


def test_every_route_has_the_one_body_limit(gateway):
    auth = (gateway.account_sid, gateway.auth_token)
    alarm = {"friendlyName": "big", "queryType": "ALL", "triggerValue": 1, "padding": "x" * 70_000}
    r = requests.post(f"{gateway.url}/v2/Alarms", json=alarm, auth=auth, timeout=10)
    assert (r.status_code, r.json()["code"]) == (413, 20413)
    assert r.headers["Connection"] == "close"
    # Chunked, without a length: cut at the limit too.
    chunks = (b"x" * 8192 for _ in range(10))
    r = requests.post(f"{gateway.url}/v2/Alarms", data=chunks, auth=auth, timeout=10,
                      headers={"Content-Type": "application/json"})
    assert (r.status_code, r.json()["code"]) == (413, 20413)
    # Declared too large: answered before the body is sent.
    status, headers, body = raw(
        gateway,
        b"POST /2010-04-01/Accounts.json HTTP/1.1\r\nHost: x\r\nContent-Length: 3000000\r\n\r\n",
    )
    assert_twilio_error(status, headers, body, 413, 20413)
    assert headers["connection"] == "close"


def test_answers_written_before_routing_are_twilio_json(gateway):
    long_uri = b"GET /2010-04-01/Accounts.json?x=" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    status, headers, body = raw(gateway, long_uri)
    assert_twilio_error(status, headers, body, 414, 99414)
    huge_uri = b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    status, headers, body = raw(gateway, huge_uri)
    assert_twilio_error(status, headers, body, 431, 99431)
    big_header = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40_000 + b"\r\n\r\n"
    assert_twilio_error(*raw(gateway, big_header), 431, 99431)
    many = b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: a\r\n" % i for i in range(120)) + b"\r\n"
    assert_twilio_error(*raw(gateway, many), 431, 99431)
    for bad in [b"G@T / HTTP/1.1\r\nHost: x\r\n\r\n", b"GET / HTTP/1.1\r\nBad Header\r\n\r\n",
                b"GET / HTTP/9.9\r\nHost: x\r\n\r\n"]:
        assert_twilio_error(*raw(gateway, bad), 400, 99400)


def test_undecodable_paths_are_twilio_json(gateway):
    auth = (gateway.account_sid, gateway.auth_token)
    for path in ["/v1/Alerts/%FF%FE", f"/2010-04-01/Accounts/{gateway.account_sid}/Keys/%C3%28.json",
                 "/v2/Services/%E2%82"]:
        r = requests.get(gateway.url + path, auth=auth, timeout=10)
        assert r.status_code == 400, (path, r.text)
        err = r.json()
        assert (err["code"], err["status"]) == (99400, 400), err
    r = requests.post(f"{gateway.url}/v2/Alarms", data=b"{nope", auth=auth, timeout=10,
                      headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["status"] == 400


def test_the_request_timeout_answers_json_and_closes(tmp_dir):
    gw = start(tmp_dir, request_timeout_ms=1000)
    s = connect(gw)
    s.sendall(b"POST /2010-04-01/Accounts.json HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n\r\nFriendly")
    started = time.monotonic()
    status, headers, body = read_response(s)
    assert 0.8 < time.monotonic() - started < 3
    assert_twilio_error(status, headers, body, 408, 99408)
    assert headers["connection"] == "close"
    s.close()
    assert gw.stop() == 0


def test_a_refused_post_keeps_the_connection_usable(gateway):
    """An SDK's session reuses its connection after a 401 to a large POST."""
    # The body arrives after the head: a 401 sent at once would leave it
    # unread and the connection unusable.
    bad = "Basic " + base64.b64encode(f"{gateway.account_sid}:{'0' * 32}".encode()).decode()
    good = "Basic " + base64.b64encode(f"{gateway.account_sid}:{gateway.auth_token}".encode()).decode()
    body = b"FriendlyName=" + b"x" * 60_000
    s = connect(gateway)
    s.sendall(b"POST /2010-04-01/Accounts.json HTTP/1.1\r\nHost: x\r\nAuthorization: " + bad.encode()
              + b"\r\nContent-Type: application/x-www-form-urlencoded\r\n"
              + f"Content-Length: {len(body)}\r\n\r\n".encode())
    time.sleep(0.3)
    s.sendall(body)
    status, headers, answer = read_response(s)
    assert_twilio_error(status, headers, answer, 401, 20003)
    assert headers.get("connection") != "close"
    s.sendall(b"GET /2010-04-01/Accounts.json HTTP/1.1\r\nHost: x\r\nAuthorization: " + good.encode() + b"\r\n\r\n")
    assert read_response(s)[0] == 200
    s.close()

    url = f"{gateway.url}/2010-04-01/Accounts.json"
    session = requests.Session()
    r = session.post(url, data={"FriendlyName": "x" * 60_000}, auth=(gateway.account_sid, "0" * 32), timeout=10)
    assert (r.status_code, r.json()["code"]) == (401, 20003)
    assert r.headers.get("Connection") != "close"
    r = session.get(url, auth=(gateway.account_sid, gateway.auth_token), timeout=10)
    assert r.status_code == 200
    assert r.raw._pool.num_connections == 1, "the connection was dropped after the 401"

    # The same through the official SDK, sharing one HTTP client.
    http = TwilioHttpClient()
    bad = gateway.client(password="0" * 32)
    good = gateway.client()
    bad.http_client = good.http_client = http
    with pytest.raises(TwilioRestException) as e:
        bad.api.v2010.accounts.create(friendly_name="y" * 60_000)
    assert e.value.status == 401
    assert good.api.v2010.accounts(gateway.account_sid).fetch().sid == gateway.account_sid
    pools = list(http.session.get_adapter(gateway.url).poolmanager.pools._container.values())
    assert [p.num_connections for p in pools] == [1]
