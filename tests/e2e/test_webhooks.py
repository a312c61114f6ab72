"""Webhook delivery: every callback Tollgate sends validates with the official
RequestValidator; retries, credentials in the URL, SSRF refusal, durability."""

import os
import socket
import time
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from twilio.request_validator import RequestValidator

from conftest import Gateway
from webhook_receiver import MultiDict, Receiver




def env(**extra):
    e = dict(os.environ)
    e["TOLLGATE_WEBHOOK_RETRY_BASE_MS"] = "100"
    e.update({k: str(v) for k, v in extra.items()})
    return e


@pytest.fixture
def hooks_gateway(tmp_dir):
    gw = Gateway(tmp_dir / "data", env=env(TOLLGATE_WEBHOOK_ALLOW_PRIVATE="1")).init().start()
    yield gw
    assert gw.stop() == 0


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def send(gw, **data):
    r = requests.post(
        f"{gw.url}/tollgate/v1/Accounts/{gw.account_sid}/Webhooks",
        auth=(gw.account_sid, gw.auth_token),
        data=data,
        timeout=10,
    )
    return r


def delivery(gw, sid, until=("delivered", "failed"), timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        r = requests.get(
            f"{gw.url}/tollgate/v1/Accounts/{gw.account_sid}/Webhooks/{sid}",
            auth=(gw.account_sid, gw.auth_token),
            timeout=10,
        )
        assert r.status_code == 200, r.text
        body = r.json()
        if body["status"] in until or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


TRICKY = [
    ("Param.Body", "It's 100% ünïcode & more + spaces"),
    ("Param.To", "+14155550100"),
    ("Param.MediaUrl", "https://example.com/b.png?x=1&y=2"),
    ("Param.MediaUrl", "https://example.com/a.png"),
    ("Param.Caller", "sip:alice@example.com:5060"),
    ("Param.Empty", ""),
]


def test_every_callback_validates_with_the_official_validator(hooks_gateway, receiver):
    gw = hooks_gateway
    validator = RequestValidator(gw.auth_token)
    created = []
    r = requests.post(
        f"{gw.url}/tollgate/v1/Accounts/{gw.account_sid}/Webhooks",
        auth=(gw.account_sid, gw.auth_token),
        data=[("Url", f"{receiver.base}/status?tenant=42&q=a%20b"), *TRICKY],
        timeout=10,
    )
    assert r.status_code == 201, r.text
    created.append(("form", r.json()))
    r = requests.post(
        f"{gw.url}/tollgate/v1/Accounts/{gw.account_sid}/Webhooks",
        auth=(gw.account_sid, gw.auth_token),
        data=[("Url", f"{receiver.base}/get-hook"), ("Method", "GET"), *TRICKY],
        timeout=10,
    )
    assert r.status_code == 201, r.text
    created.append(("get", r.json()))
    r = send(gw, Url=f"{receiver.base}/json-hook", ContentType="json",
             Body='{"CallSid": "CA123", "note": "it\'s ünïcode", "n": [1, 2]}')
    assert r.status_code == 201, r.text
    created.append(("json", r.json()))
    assert all(c[1]["status"] == "queued" and c[1]["sid"].startswith("WD") for c in created)

    seen = receiver.wait_for(3)
    for kind, resource in created:
        d = delivery(gw, resource["sid"])
        assert d["status"] == "delivered", d
        assert d["attempts"] == 1 and d["response_code"] == 200
    by_token = {req["headers"]["I-Twilio-Idempotency-Token"]: req for req in seen}
    for kind, resource in created:
        req = by_token[resource["sid"]]
        assert req["headers"]["User-Agent"] == "TwilioProxy/1.1"
        url = receiver.base + req["path"]
        signature = req["headers"]["X-Twilio-Signature"]
        if kind == "form":
            assert req["method"] == "POST"
            pairs = parse_qsl(req["body"].decode(), keep_blank_values=True)
            assert ("MediaUrl", "https://example.com/a.png") in pairs
            assert ("AccountSid", gw.account_sid) in pairs
            params = MultiDict(pairs)
            assert validator.validate(url, params, signature)
            # Any change is caught.
            tampered = MultiDict([(k, v + "x" if k == "Body" else v) for k, v in pairs])
            assert not validator.validate(url, tampered, signature)
        elif kind == "get":
            assert req["method"] == "GET" and req["body"] == b""
            assert "Body=It%27s" in req["path"] or "Body=It's" in req["path"]
            assert validator.validate(url, {}, signature)
        else:
            assert req["method"] == "POST"
            assert req["headers"]["Content-Type"] == "application/json"
            assert "bodySHA256=" in req["path"]
            assert validator.validate(url, req["body"].decode(), signature)
            assert not validator.validate(url, req["body"].decode().replace("CA123", "CA999"), signature)
        assert not RequestValidator("0" * 32).validate(url, {}, signature)


def test_signed_with_the_primary_token_during_rotation(hooks_gateway, receiver):
    gw = hooks_gateway
    client = gw.client()
    secondary = client.accounts.v1.secondary_auth_token().create().secondary_auth_token
    r = send(gw, Url=f"{receiver.base}/a")
    assert r.status_code == 201
    req = receiver.wait_for(1)[0]
    body = parse_qsl(req["body"].decode())
    url = receiver.base + req["path"]
    sig = req["headers"]["X-Twilio-Signature"]
    assert RequestValidator(gw.auth_token).validate(url, MultiDict(body), sig)
    assert not RequestValidator(secondary).validate(url, MultiDict(body), sig)
    # After promotion the secondary signs.
    client.accounts.v1.auth_token_promotion().update()
    gw.auth_token = secondary
    r = send(gw, Url=f"{receiver.base}/b")
    assert r.status_code == 201, r.text
    req = receiver.wait_for(2)[1]
    assert RequestValidator(secondary).validate(
        receiver.base + req["path"], MultiDict(parse_qsl(req["body"].decode())), req["headers"]["X-Twilio-Signature"]
    )


def test_retries_5xx_with_one_idempotency_token_and_4xx_is_final(hooks_gateway):
    gw = hooks_gateway
    flaky = Receiver(statuses=[503, 500])
    try:
        sid = send(gw, Url=f"{flaky.base}/x").json()["sid"]
        d = delivery(gw, sid)
        assert d["status"] == "delivered" and d["attempts"] == 3, d
        seen = flaky.wait_for(3)
        assert {r["headers"]["I-Twilio-Idempotency-Token"] for r in seen} == {sid}
        assert len({r["headers"]["X-Twilio-Signature"] for r in seen}) == 1
    finally:
        flaky.close()
    gone = Receiver(statuses=[404])
    try:
        sid = send(gw, Url=f"{gone.base}/x").json()["sid"]
        d = delivery(gw, sid)
        assert d["status"] == "failed" and d["attempts"] == 1 and d["response_code"] == 404, d
    finally:
        gone.close()


def test_connection_overrides_in_the_fragment_set_retries_and_timeouts(hooks_gateway):
    """Twilio's `#rc=…&rp=…&tt=…`: the fragment is neither sent nor signed."""
    gw = hooks_gateway
    # rp=4xx with rc=2: a 404 is retried twice, then final.
    gone = Receiver(statuses=[404, 404, 404])
    try:
        sid = send(gw, Url=f"{gone.base}/x?a=1#rc=2&rp=4xx").json()["sid"]
        d = delivery(gw, sid)
        assert d["status"] == "failed" and d["attempts"] == 3 and d["response_code"] == 404, d
        seen = gone.wait_for(3)
        assert all(r["path"] == "/x?a=1" for r in seen), seen
        assert RequestValidator(gw.auth_token).validate(
            f"{gone.base}/x?a=1", MultiDict(parse_qsl(seen[0]["body"].decode())), seen[0]["headers"]["X-Twilio-Signature"]
        )
    finally:
        gone.close()
    # rc without rp retries connect failures only (Twilio's default): a 503 is final.
    busy = Receiver(statuses=[503])
    try:
        d = delivery(gw, send(gw, Url=f"{busy.base}/x#rc=3").json()["sid"])
        assert d["status"] == "failed" and d["attempts"] == 1 and d["response_code"] == 503, d
    finally:
        busy.close()
    # tt bounds an attempt; rp=rt retries the one that got no answer in time.
    for rp, attempts, status in [("rt", 2, "delivered"), ("ct", 1, "failed")]:
        slow = Receiver(slow=(1, 1.5))
        try:
            d = delivery(gw, send(gw, Url=f"{slow.base}/x#tt=300&rc=1&rp={rp}").json()["sid"])
            assert d["status"] == status and d["attempts"] == attempts, (rp, d)
        finally:
            slow.close()
    # ct is a connect timeout: a listener whose backlog is full never completes a
    # connection. rc alone retries that (Twilio's default rp=ct); rp=rt does not.
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(0)
    fill = []
    for _ in range(3):
        c = socket.socket()
        c.setblocking(False)
        try:
            c.connect(hole.getsockname())
        except BlockingIOError:
            pass
        fill.append(c)
    try:
        url = f"http://127.0.0.1:{hole.getsockname()[1]}/x"
        for rp, attempts in [("", 2), ("&rp=rt", 1)]:
            d = delivery(gw, send(gw, Url=f"{url}#ct=300&rc=1{rp}").json()["sid"])
            assert d["status"] == "failed" and d["attempts"] == attempts, (rp, d)
            assert "connect" in (d.get("error") or ""), d
    finally:
        for c in fill:
            c.close()
        hole.close()
    # A bad override is the caller's error, and nothing is queued.
    r = send(gw, Url="https://example.com/x#rc=9")
    assert r.status_code == 400 and "rc must be a whole number from 0 to 5" in r.json()["message"], r.text


@pytest.mark.parametrize("scheme", ["basic", "digest"])
def test_credentials_in_the_url_answer_the_challenge_and_stay_secret(hooks_gateway, scheme):
    gw = hooks_gateway
    password = "s3cr3t-p@ss"
    recv = Receiver(**{scheme: ("hookuser", password)})
    try:
        url = f"http://hookuser:{password.replace('@', '%40')}@127.0.0.1:{recv.port}/secure?a=1"
        r = send(gw, Url=url)
        assert r.status_code == 201, r.text
        assert r.json()["webhook_url"] == f"http://hookuser:***@127.0.0.1:{recv.port}/secure?a=1"
        d = delivery(gw, r.json()["sid"])
        assert d["status"] == "delivered", d
        first, second = recv.wait_for(2)[:2]
        assert "Authorization" not in first["headers"]
        assert second["headers"]["Authorization"].lower().startswith(scheme)
        # The signature covers the URL without credentials, as the receiver sees it.
        assert RequestValidator(gw.auth_token).validate(
            recv.base + second["path"], MultiDict(parse_qsl(second["body"].decode())),
            second["headers"]["X-Twilio-Signature"],
        )
    finally:
        recv.close()
    assert password not in gw.logs()
    db = (gw.data_dir / "tollgate.db").read_bytes()
    for suffix in ("", "-wal"):
        p = gw.data_dir / f"tollgate.db{suffix}"
        if p.exists():
            assert password.encode() not in p.read_bytes()
            assert password.replace("@", "%40").encode() not in p.read_bytes()
    assert db


def test_private_destinations_are_refused_by_default(tmp_dir, receiver):
    gw = Gateway(tmp_dir / "strict", env=env()).init().start()
    try:
        for url in (f"{receiver.base}/x", f"http://localhost:{receiver.port}/x", "http://169.254.169.254/latest"):
            r = send(gw, Url=url)
            assert r.status_code == 201, r.text
            d = delivery(gw, r.json()["sid"])
            assert d["status"] == "failed" and d["attempts"] == 1, d
            assert "refused" in d["error"], d
        time.sleep(0.2)
        assert receiver.requests == []
        r = send(gw, Url="ftp://example.com/x")
        assert r.status_code == 400 and r.json()["code"] == 20422
    finally:
        assert gw.stop() == 0


def test_queue_survives_a_restart_and_is_bounded(tmp_dir):
    # Nothing listens on the port yet: the first attempt fails and is retried.
    with __import__("socket").socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gw = Gateway(
        tmp_dir / "durable",
        env=env(TOLLGATE_WEBHOOK_ALLOW_PRIVATE="1", TOLLGATE_WEBHOOK_RETRY_BASE_MS="1500",
                TOLLGATE_WEBHOOK_QUEUE_LIMIT="1"),
    ).init().start()
    sid = send(gw, Url=f"http://127.0.0.1:{port}/late").json()["sid"]
    d = delivery(gw, sid, until=("queued",))
    deadline = time.monotonic() + 10
    while d["attempts"] < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
        d = delivery(gw, sid, until=("queued",))
    assert d["status"] == "queued" and d["attempts"] == 1 and "connection" in d["error"], d
    full = send(gw, Url=f"http://127.0.0.1:{port}/second")
    assert full.status_code == 503 and full.json()["code"] == 99090, full.text
    assert gw.stop() == 0

    late = Receiver(port=port)
    try:
        gw.start()
        d = delivery(gw, sid)
        assert d["status"] == "delivered" and d["attempts"] == 2, d
        assert late.wait_for(1)[0]["path"] == "/late"
    finally:
        late.close()
        assert gw.stop() == 0


SPELLINGS = ["127.1", "2130706433", "0x7f000001", "0x7F.0.0.1", "0177.0.0.1", "127.0.0.1.", "%31%32%37.0.0.1",
             "127.0.1", "0x7f.1", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "LocalHost.", "api.localhost"]


def test_no_spelling_of_a_private_address_reaches_it_from_any_webhook_kind(tmp_dir, receiver):
    """The HTTP client reads hosts by the WHATWG URL rules; the guard decides
    on that same reading and on every connection's peer address."""
    gw = Gateway(tmp_dir / "strict", env=env(TOLLGATE_SANDBOX_STEP_MS="0")).init().start()
    try:
        for host in SPELLINGS:
            r = send(gw, Url=f"http://{host}:{receiver.port}/x")
            assert r.status_code == 201, (host, r.text)
            d = delivery(gw, r.json()["sid"])
            assert d["status"] == "failed" and "refused" in d["error"], (host, d)
            assert d["response_code"] is None, (host, d)
        # Status callbacks, inbound relays (SmsUrl), usage-trigger callbacks and alarm webhooks share the guard.
        c = gw.client()
        number = "+12015550123"
        c.api.v2010.accounts(gw.account_sid).incoming_phone_numbers.create(
            phone_number=number, sms_url=f"http://0x7f.1:{receiver.port}/sms")
        c.messages.create(to="+12015551234", from_=number, body="hi",
                          status_callback=f"http://2130706433:{receiver.port}/status")
        r = c.request("POST", f"{gw.url}/2010-04-01/Accounts/{gw.account_sid}/Usage/Triggers.json",
                      data={"CallbackUrl": f"http://127.1:{receiver.port}/usage", "TriggerValue": "1",
                            "UsageCategory": "sms", "TriggerBy": "count"})
        assert r.status_code == 201, r.text
        r = requests.post(f"{gw.url}/v2/Alarms", auth=(gw.account_sid, gw.auth_token), timeout=10,
                          json={"queryType": "ERROR_CODE", "query": "21211", "triggerValue": 1,
                                "webhook": f"http://0177.0.0.1:{receiver.port}/alarm"})
        assert r.status_code == 201, r.text
        r = requests.post(f"{gw.url}/sandbox/v1/Messages/Inbound.json", timeout=10, auth=(gw.account_sid, gw.auth_token),
                          data={"From": "+12015559999", "To": number, "Body": "hello"})
        assert r.status_code == 201, r.text
        with pytest.raises(Exception):
            c.messages.create(to="not a number", from_=number, body="x")
        deadline = time.monotonic() + 5
        while gw.logs().count("destination refused") < len(SPELLINGS) + 4 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert gw.logs().count("destination refused") >= len(SPELLINGS) + 4, gw.logs()[-4000:]
        time.sleep(0.3)
        assert receiver.requests == []
    finally:
        assert gw.stop() == 0
