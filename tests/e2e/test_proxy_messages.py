"""Proxy mode, messages: an admitted send goes to (fake) Twilio with its
parameters, Twilio's answer and errors come back, status callbacks come back
through Tollgate and reach the application signed with its Tollgate token."""

import os
import sys
import time
from urllib.parse import parse_qsl

import pytest
import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.request_validator import RequestValidator

from conftest import ROOT, Gateway
from webhook_receiver import MultiDict, Receiver

sys.path.insert(0, str(ROOT / "tests"))
from fake_twilio import FakeTwilio, WebhookApp  # noqa: E402

FROM = "+15005550006"  # Twilio's magic valid sender
TO = "+14155550100"


def env(**extra):
    e = dict(os.environ)
    e.update({"TOLLGATE_WEBHOOK_ALLOW_PRIVATE": "1", "TOLLGATE_WEBHOOK_RETRY_BASE_MS": "100"})
    e.update({k: str(v) for k, v in extra.items()})
    return e


@pytest.fixture
def fake():
    f = FakeTwilio(step=0.02, seed=11, call_seconds=0.2).start()
    yield f
    f.stop()
    f.assert_no_violations()


@pytest.fixture
def proxy(tmp_dir, fake):
    g = Gateway(tmp_dir / "data", env=env(TOLLGATE_CARRIER="twilio",
                                          TOLLGATE_UPSTREAM_BASE_URL=fake.base_url,
                                          TOLLGATE_UPSTREAM_TIMEOUT_MS="2000")).init().start()
    key_sid, key = next(iter(fake.main.keys.items()))
    r = requests.post(f"{g.url}/tollgate/v1/Accounts/{g.account_sid}/Upstream",
                      data={"AccountSid": fake.main.sid, "ApiKeySid": key_sid,
                            "ApiKeySecret": key["secret"], "AuthToken": fake.main.auth_token},
                      auth=(g.account_sid, g.auth_token), timeout=10)
    assert r.status_code == 200, r.text
    g.client().incoming_phone_numbers.create(phone_number=FROM)
    yield g
    assert g.stop() == 0


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def test_sms_goes_to_twilio_and_its_callbacks_come_back_signed_by_tollgate(proxy, fake, receiver):
    client = proxy.client()
    msg = client.messages.create(to=TO, from_=FROM, body="Your code is 123456",
                                 status_callback=f"{receiver.base}/status", media_url=["https://example.com/a.png",
                                                                                      "https://example.com/b.png"])
    # Twilio's SID and answer, under the Tollgate account.
    assert msg.sid.startswith("MM") or msg.sid.startswith("SM")
    assert msg.account_sid == proxy.account_sid and msg.status in ("queued", "accepted")
    sent = [r for r in fake.requests if r["method"] == "POST" and r["path"].endswith("/Messages.json")]
    assert len(sent) == 1
    form = sent[0]["form"]
    assert form["Body"] == ["Your code is 123456"] and form["To"] == [TO]
    assert form["MediaUrl"] == ["https://example.com/a.png", "https://example.com/b.png"], "repeated keys stay repeated"
    assert form["StatusCallback"] == [f"{proxy.url}/tollgate/v1/Upstream/MessageStatus"]

    callbacks = receiver.wait_for(2)
    statuses = [dict(parse_qsl(r["body"].decode()))["MessageStatus"] for r in callbacks]
    assert statuses == ["sent", "delivered"]
    validator = RequestValidator(proxy.auth_token)
    for r in callbacks:
        params = MultiDict(parse_qsl(r["body"].decode(), keep_blank_values=True))
        assert validator.validate(receiver.base + r["path"], params, r["headers"]["X-Twilio-Signature"])
        assert params["AccountSid"] == proxy.account_sid and params["MessageSid"] == msg.sid
    deadline = time.monotonic() + 5
    while client.messages(msg.sid).fetch().status != "delivered":
        assert time.monotonic() < deadline, "the record follows Twilio's callbacks"
        time.sleep(0.05)


def test_twilio_errors_pass_through(proxy, fake):
    with pytest.raises(TwilioRestException) as e:
        proxy.client().messages.create(to="+15005550004", from_=FROM, body="hi")
    assert e.value.code == 21610 and e.value.status == 400


def test_status_callbacks_must_be_signed_by_the_upstream_account(proxy, fake):
    r = requests.post(f"{proxy.url}/tollgate/v1/Upstream/MessageStatus",
                      data={"AccountSid": fake.main.sid, "MessageSid": "SM" + "0" * 32, "MessageStatus": "delivered"},
                      headers={"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"}, timeout=10)
    assert r.status_code == 403 and r.json()["code"] == 99104


def test_upstream_down_is_a_clear_error(proxy, fake):
    fake.stop()
    with pytest.raises(TwilioRestException) as e:
        proxy.client().messages.create(to=TO, from_=FROM, body="hi")
    assert e.value.code == 99502 and e.value.status == 502
    fake.start()


def test_inbound_sms_is_screened_recorded_and_relayed_signed_by_tollgate(proxy, fake):
    app = WebhookApp(replies={"/sms": "<Response><Message>thanks</Message></Response>"})
    try:
        client = proxy.client()
        number = client.incoming_phone_numbers.list(phone_number=FROM)[0]
        client.incoming_phone_numbers(number.sid).update(sms_url=f"{app.url}/sms")
        r = requests.post(f"{proxy.url}/tollgate/v1/Accounts/{proxy.account_sid}/Settings",
                          data={"StripInboundLinks": "true"}, auth=(proxy.account_sid, proxy.auth_token), timeout=10)
        assert r.status_code == 200, r.text
        fake.add_number(fake.main, "+15005550010", sms_url=f"{proxy.url}/tollgate/v1/Upstream/Sms")
        # Tollgate knows the number as the account's own.
        client.incoming_phone_numbers.create(phone_number="+15005550010", sms_url=f"{app.url}/sms")
        result = fake.inbound_sms("+15005550010", "+14155550199", "win a prize at https://evil.example/x now")
        relayed = app.wait_for(1, "/sms")[0]
        assert "evil.example" not in relayed["form"]["Body"][0], "links are stripped before the application sees them"
        assert relayed["form"]["AccountSid"] == [proxy.account_sid]
        assert relayed["form"]["MessageSid"] == [result["message_sid"]]
        assert RequestValidator(proxy.auth_token).validate(relayed["url"], relayed["params"],
                                                           relayed["headers"]["x-twilio-signature"])
        assert len(result["replies"]) == 1, "the application's TwiML reply reached Twilio"
        inbound = client.messages.list(to="+15005550010")
        assert [m.sid for m in inbound] == [result["message_sid"]] and inbound[0].direction == "inbound"
    finally:
        app.close()


def test_inbound_sms_from_a_blocklisted_sender_never_reaches_the_application(proxy, fake):
    app = WebhookApp()
    try:
        client = proxy.client()
        fake.add_number(fake.main, "+15005550011", sms_url=f"{proxy.url}/tollgate/v1/Upstream/Sms")
        client.incoming_phone_numbers.create(phone_number="+15005550011", sms_url=f"{app.url}/sms")
        r = requests.post(f"{proxy.url}/tollgate/v1/Blocklist", data={"Number": "+14155550198"},
                          auth=(proxy.account_sid, proxy.auth_token), timeout=10)
        assert r.status_code == 201, r.text
        result = fake.inbound_sms("+15005550011", "+14155550198", "hello")
        assert result["replies"] == [] and app.received("/sms") == []
    finally:
        app.close()


def test_operations_tollgate_does_not_serve_pass_through_to_twilio(proxy, fake):
    client = proxy.client()
    # A Conference list and a Queue create: answered by (fake) Twilio, under the Tollgate account.
    assert client.conferences.list() == []
    queue = client.queues.create(friendly_name="support")
    assert queue.account_sid == proxy.account_sid
    assert [q.sid for q in client.queues.list()] == [queue.sid]
    # The write is in the audit log, with who made it.
    events = requests.get(f"{proxy.url}/v1/Events", params={"EventType": "tollgate-upstream-request.created"},
                          auth=(proxy.account_sid, proxy.auth_token), timeout=10).json()["events"]
    assert any(e["event_data"]["method"] == "POST" for e in events), events
    # A suspended account reaches nothing upstream.
    sub = client.api.accounts.create(friendly_name="tenant")
    up = fake.subaccounts[0]
    key_sid, key = next(iter(up.keys.items()))
    r = requests.post(f"{proxy.url}/tollgate/v1/Accounts/{sub.sid}/Upstream",
                      data={"AccountSid": up.sid, "ApiKeySid": key_sid, "ApiKeySecret": key["secret"],
                            "AuthToken": up.auth_token}, auth=(proxy.account_sid, proxy.auth_token), timeout=10)
    assert r.status_code == 200, r.text
    sub_client = proxy.client(account_sid=sub.sid)
    assert sub_client.recordings.list() == []
    client.api.accounts(sub.sid).update(status="suspended")
    before = len(fake.requests)
    with pytest.raises(TwilioException) as e:
        sub_client.recordings.list()
    assert '"code":20005' in str(e.value)
    assert len(fake.requests) == before, "nothing reached Twilio"


def test_api_keys_cannot_manage_credentials_through_the_proxy(proxy, fake):
    key = requests.post(f"{proxy.url}/2010-04-01/Accounts/{proxy.account_sid}/Keys.json",
                        data={"FriendlyName": "k"}, auth=(proxy.account_sid, proxy.auth_token), timeout=10).json()
    r = requests.get(f"{proxy.url}/2010-04-01/Accounts/{proxy.account_sid}/SigningKeys.json",
                     auth=(key["sid"], key["secret"]), timeout=10)
    assert r.status_code == 401, r.text
    r = requests.get(f"{proxy.url}/2010-04-01/Accounts/{proxy.account_sid}/Queues.json",
                     auth=(key["sid"], key["secret"]), timeout=10)
    assert r.status_code == 200, r.text


def test_call_goes_to_twilio_and_its_status_callbacks_come_back_in_order(proxy, fake):
    app = WebhookApp(replies={"/voice": "<Response><Say>hi</Say></Response>"})
    try:
        client = proxy.client()
        call = client.calls.create(to=TO, from_=FROM, url=f"{app.url}/voice",
                                   status_callback=f"{app.url}/status",
                                   status_callback_event=["initiated", "ringing", "answered", "completed"])
        assert call.sid.startswith("CA") and call.account_sid == proxy.account_sid
        sent = [r for r in fake.requests if r["method"] == "POST" and r["path"].endswith("/Calls.json")]
        assert sent[0]["form"]["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]
        relayed = app.wait_for(3, "/status")
        statuses = [r["form"]["CallStatus"][0] for r in relayed]
        assert statuses[-1] == "completed" or len(relayed) < 4
        deadline = time.monotonic() + 10
        while client.calls(call.sid).fetch().status != "completed":
            assert time.monotonic() < deadline, "the record follows Twilio's callbacks"
            time.sleep(0.05)
        relayed = app.received("/status")
        order = {"initiated": 0, "ringing": 1, "in-progress": 2, "completed": 3}
        ranks = [order[r["form"]["CallStatus"][0]] for r in relayed]
        assert ranks == sorted(ranks), [r["form"]["CallStatus"] for r in relayed]
        validator = RequestValidator(proxy.auth_token)
        for r in relayed:
            assert validator.validate(r["url"], r["params"], r["headers"]["x-twilio-signature"])
            assert r["form"]["AccountSid"] == [proxy.account_sid]
    finally:
        app.close()


def test_a_retry_with_the_same_idempotency_key_never_sends_twice(proxy, fake):
    url = f"{proxy.url}/2010-04-01/Accounts/{proxy.account_sid}/Messages.json"
    auth = (proxy.account_sid, proxy.auth_token)
    form = {"To": TO, "From": FROM, "Body": "once only"}
    first = requests.post(url, data=form, auth=auth, headers={"Idempotency-Key": "order-42"}, timeout=10)
    again = requests.post(url, data=form, auth=auth, headers={"Idempotency-Key": "order-42"}, timeout=10)
    assert first.status_code == 201 and again.status_code == 201, (first.text, again.text)
    assert again.json()["sid"] == first.json()["sid"]
    sent = [r for r in fake.requests if r["method"] == "POST" and r["path"].endswith("/Messages.json")]
    assert len(sent) == 1, "Twilio saw the send once"
    other = requests.post(url, data=dict(form, Body="something else"), auth=auth,
                          headers={"Idempotency-Key": "order-42"}, timeout=10)
    assert other.status_code == 422 and other.json()["code"] == 99105

    # The connection drops after Twilio took the send: the outcome is unknown,
    # and a retry with the key sends nothing again.
    fake.fail("reset", count=1, path="/Messages.json", method="POST")
    lost = requests.post(url, data=dict(form, Body="ambiguous"), auth=auth,
                         headers={"Idempotency-Key": "order-43"}, timeout=10)
    assert lost.status_code == 504 and lost.json()["code"] == 99504, lost.text
    retry = requests.post(url, data=dict(form, Body="ambiguous"), auth=auth,
                          headers={"Idempotency-Key": "order-43"}, timeout=10)
    assert retry.status_code == 409 and retry.json()["code"] == 99106, retry.text
    ambiguous = [r for r in fake.requests if r["method"] == "POST" and r["path"].endswith("/Messages.json")
                 and r["form"].get("Body") == ["ambiguous"]]
    assert len(ambiguous) == 1


def test_twiml_dial_to_a_country_the_account_may_not_call_is_rejected(proxy, fake):
    app = WebhookApp(replies={
        "/forward-abroad": "<Response><Dial><Number>+2348012345678</Number></Dial></Response>",
        "/forward-home": "<Response><Dial><Number>+14155550142</Number></Dial></Response>",
    })
    try:
        client = proxy.client()
        for n, path in (("+15005550020", "/forward-abroad"), ("+15005550021", "/forward-home")):
            fake.add_number(fake.main, n, voice_url=f"{proxy.url}/tollgate/v1/Upstream/Voice")
            client.incoming_phone_numbers.create(phone_number=n, voice_url=f"{app.url}{path}")
        abroad = fake.inbound_call("+15005550020", "+14155550150")
        assert abroad["rejected"] and abroad["dialed"] == [], abroad
        assert len(app.received("/forward-abroad")) == 1, "the application was asked, its reply refused"
        home = fake.inbound_call("+15005550021", "+14155550151")
        assert not home["rejected"] and home["dialed"] == ["+14155550142"], home
        relayed = app.received("/forward-home")[0]
        assert RequestValidator(proxy.auth_token).validate(relayed["url"], relayed["params"],
                                                           relayed["headers"]["x-twilio-signature"])
        alerts = requests.get(f"{proxy.url}/v1/Alerts", auth=(proxy.account_sid, proxy.auth_token),
                              timeout=10).json()["alerts"]
        assert any(a["error_code"] == "99108" for a in alerts), alerts
    finally:
        app.close()


def test_a_caller_flooding_a_number_is_rejected_without_waking_the_application(proxy, fake):
    app = WebhookApp(replies={"/voice": "<Response><Say>hello</Say></Response>"})
    try:
        fake.add_number(fake.main, "+15005550030", voice_url=f"{proxy.url}/tollgate/v1/Upstream/Voice")
        proxy.client().incoming_phone_numbers.create(phone_number="+15005550030", voice_url=f"{app.url}/voice")
        results = [fake.inbound_call("+15005550030", "+14155550160") for _ in range(7)]
        assert [r["rejected"] for r in results] == [False] * 5 + [True] * 2
        assert len(app.received("/voice")) == 5
    finally:
        app.close()
