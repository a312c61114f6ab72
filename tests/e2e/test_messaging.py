"""Messages and calls through the pipeline, with the official package."""

import os
import time
from urllib.parse import parse_qsl

import pytest
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator

from conftest import Gateway
from webhook_receiver import MultiDict, Receiver

FROM = "+12015550123"
TO = "+12015550124"




def env(**extra):
    e = dict(os.environ)
    e.update({
        "TOLLGATE_WEBHOOK_ALLOW_PRIVATE": "1",
        "TOLLGATE_WEBHOOK_RETRY_BASE_MS": "100",
        "TOLLGATE_SANDBOX_STEP_MS": "0",
        "TOLLGATE_SANDBOX_CALL_SECONDS": "1",
    })
    e.update({k: str(v) for k, v in extra.items()})
    return e


@pytest.fixture
def gw(tmp_dir):
    g = Gateway(tmp_dir / "data", env=env()).init().start()
    yield g
    assert g.stop() == 0


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def wait_status(fetch, statuses, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        item = fetch()
        if item.status in statuses or time.monotonic() > deadline:
            return item
        time.sleep(0.05)


def valid_callback(gw, receiver, req):
    return RequestValidator(gw.auth_token).validate(
        receiver.base + req["path"], MultiDict(parse_qsl(req["body"].decode(), keep_blank_values=True)),
        req["headers"]["X-Twilio-Signature"],
    )


def test_sms_and_call_with_signed_status_callbacks(gw, receiver):
    client = gw.client()
    number = client.incoming_phone_numbers.create(phone_number=FROM, sms_url=f"{receiver.base}/sms")
    assert number.sid.startswith("PN") and number.phone_number == FROM
    assert number.sms_url == f"{receiver.base}/sms"
    msg = client.messages.create(to=TO, from_=FROM, body="Your code is 123456",
                                 status_callback=f"{receiver.base}/status")
    assert msg.status == "queued" and msg.num_segments == "1" and msg.direction == "outbound-api"
    done = wait_status(lambda: client.messages(msg.sid).fetch(), {"delivered", "undelivered", "failed"})
    assert done.status == "delivered" and done.price == "-0.00830" and done.price_unit == "USD"
    callbacks = receiver.wait_for(2)
    statuses = [dict(parse_qsl(r["body"].decode()))["MessageStatus"] for r in callbacks]
    assert statuses == ["sent", "delivered"]
    assert all(valid_callback(gw, receiver, r) for r in callbacks)
    handset = requests.get(f"{gw.url}/sandbox/v1/Messages.json", params={"To": TO},
                           auth=(gw.account_sid, gw.auth_token), timeout=10).json()["messages"]
    assert handset[0]["sid"] == msg.sid and handset[0]["body"] == "Your code is 123456"

    call = client.calls.create(to=TO, from_=FROM, url="https://example.com/twiml",
                               status_callback=f"{receiver.base}/call", time_limit=99999)
    assert call.sid.startswith("CA") and call.status == "queued"
    ended = wait_status(lambda: client.calls(call.sid).fetch(), {"completed", "failed"})
    assert ended.status == "completed" and ended.duration is not None and ended.price == "-0.01400"
    req = receiver.wait_for(3)[2]
    fields = dict(parse_qsl(req["body"].decode()))
    assert fields["CallStatus"] == "completed" and fields["CallSid"] == call.sid
    assert valid_callback(gw, receiver, req)
    assert [m.sid for m in client.messages.list(to=TO)] == [msg.sid]


def rest(excinfo):
    return excinfo.value.status, excinfo.value.code


def test_blocks_get_twilio_codes_and_are_recorded(gw):
    client = gw.client()
    client.incoming_phone_numbers.create(phone_number=FROM)
    with pytest.raises(TwilioRestException) as e:
        client.messages.create(to=TO, from_="+12015550199", body="hi")
    assert rest(e) == (400, 21606)
    with pytest.raises(TwilioRestException) as e:
        client.calls.create(to=TO, from_="+12015550199", url="https://example.com/t")
    assert rest(e) == (400, 21210)
    with pytest.raises(TwilioRestException) as e:
        client.messages.create(to="+33612345678", from_=FROM, body="hi")
    assert rest(e) == (400, 21408)
    with pytest.raises(TwilioRestException) as e:
        client.calls.create(to="+33612345678", from_=FROM, url="https://example.com/t")
    assert rest(e) == (400, 21215)
    with pytest.raises(TwilioRestException) as e:
        client.messages.create(to="+1201555", from_=FROM, body="hi")
    assert rest(e) == (400, 21211)

    auth = (gw.account_sid, gw.auth_token)
    r = requests.post(f"{gw.url}/tollgate/v1/RateLimits", auth=auth,
                      data={"Key": "to", "Max": "2", "Interval": "3600"}, timeout=10)
    assert r.status_code == 201, r.text
    other = "+12015550125"
    client.messages.create(to=other, from_=FROM, body="1")
    client.messages.create(to=other, from_=FROM, body="2")
    raw = requests.post(f"{gw.url}/2010-04-01/Accounts/{gw.account_sid}/Messages.json", auth=auth,
                        data={"To": other, "From": FROM, "Body": "3"}, timeout=10)
    assert raw.status_code == 429 and raw.json()["code"] == 20429
    assert int(raw.headers["Retry-After"]) > 0

    r = requests.post(f"{gw.url}/tollgate/v1/SpendLimits", auth=auth,
                      data={"Scope": "account", "Period": "day", "LimitUsd": "0.05"}, timeout=10)
    assert r.status_code == 201, r.text
    spent = 0
    sent = 0
    with pytest.raises(TwilioRestException) as e:
        for i in range(20):
            client.messages.create(to=f"+1201555{1000 + i}", from_=FROM, body="x")
            sent += 1
    assert rest(e) == (403, 99001)
    # 0.05 USD at 0.0083 a message: 6 fit today, minus the 3 already sent... whatever fits is below the cap.
    assert 0 < sent < 20
    blocked = [m for m in client.messages.list(limit=100) if m.status == "failed"]
    codes = sorted({m.error_code for m in blocked})
    assert codes == [20429, 21211, 21408, 21606, 99001], codes
    assert all(m.price is None for m in blocked)


def test_inbound_is_relayed_signed(gw, receiver):
    client = gw.client()
    client.incoming_phone_numbers.create(phone_number=FROM, sms_url=f"{receiver.base}/inbound?app=1")
    r = requests.post(f"{gw.url}/sandbox/v1/Messages/Inbound.json", auth=(gw.account_sid, gw.auth_token),
                      data={"From": "+447400123456", "To": FROM, "Body": "STOP it's me"}, timeout=10)
    assert r.status_code == 201, r.text
    req = receiver.wait_for(1)[0]
    fields = dict(parse_qsl(req["body"].decode()))
    assert fields["Body"] == "STOP it's me" and fields["From"] == "+447400123456" and fields["SmsStatus"] == "received"
    assert fields["FromCountry"] == "GB" and fields["ToCountry"] == "US"
    assert valid_callback(gw, receiver, req)


def test_usage_records_match_traffic(gw):
    client = gw.client()
    client.incoming_phone_numbers.create(phone_number=FROM)
    sids = [client.messages.create(to=f"+120155501{30 + i}", from_=FROM, body=body).sid
            for i, body in enumerate(["a", "b" * 200, "c"])]
    call = client.calls.create(to=TO, from_=FROM, twiml="<Response><Say>hi</Say></Response>")
    wait_status(lambda: client.calls(call.sid).fetch(), {"completed"})
    records = {r.category: r for r in client.usage.records.today.list()}
    assert records["sms-outbound"].count == "3" and records["sms-outbound"].usage == "4"
    assert float(records["sms-outbound"].price) == pytest.approx(4 * 0.0083)
    assert records["calls-outbound"].count == "1"
    assert float(records["totalprice"].price) == pytest.approx(4 * 0.0083 + 0.014)
    assert len(sids) == 3


def test_suspending_an_account_ends_its_calls(tmp_dir):
    g = Gateway(tmp_dir / "calls", env=env(TOLLGATE_SANDBOX_CALL_SECONDS="120")).init().start()
    try:
        main = g.client()
        sub = main.api.v2010.accounts.create(friendly_name="callers")
        sub_client = g.client(sub.sid, sub.auth_token)
        sub_client.incoming_phone_numbers.create(phone_number=FROM)
        call = sub_client.calls.create(to=TO, from_=FROM, url="https://example.com/t")
        wait_status(lambda: main.api.v2010.accounts(sub.sid).calls(call.sid).fetch(), {"in-progress"})
        main.api.v2010.accounts(sub.sid).update(status="suspended")
        ended = wait_status(lambda: main.api.v2010.accounts(sub.sid).calls(call.sid).fetch(), {"completed"}, timeout=5)
        assert ended.status == "completed"
    finally:
        assert g.stop() == 0


def settings(gw, **data):
    r = requests.post(f"{gw.url}/tollgate/v1/Accounts/{gw.account_sid}/Settings",
                      auth=(gw.account_sid, gw.auth_token), data=data, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def test_phishing_controls(gw, receiver):
    client = gw.client()
    client.incoming_phone_numbers.create(phone_number=FROM, sms_url=f"{receiver.base}/in")
    auth = (gw.account_sid, gw.auth_token)
    # Public URL shorteners are blocked by default; LinkDomains lets one through.
    with pytest.raises(TwilioRestException) as e:
        client.messages.create(to=TO, from_=FROM, body="win big: bit.ly/abc")
    assert rest(e) == (400, 30110)
    settings(gw, LinkDomains="bit.ly")
    client.messages.create(to=TO, from_=FROM, body="ok: https://bit.ly/abc")
    settings(gw, LinkPolicy="allowlist", LinkDomains="example.com", LinkBlocklist="evil.test")
    client.messages.create(to=TO, from_=FROM, body="see https://www.example.com/x")
    with pytest.raises(TwilioRestException) as e:
        client.messages.create(to=TO, from_=FROM, body="see https://other.org/x")
    assert rest(e) == (400, 30110)
    with pytest.raises(TwilioRestException) as e:
        client.messages.create(to=TO, from_=FROM, body="see http://login.evil.test/")
    assert rest(e) == (400, 30111)
    # No arbitrary recipients.
    assert settings(gw, RecipientPolicy="allowlist")["recipient_policy"] == "allowlist"
    with pytest.raises(TwilioRestException) as e:
        client.messages.create(to=TO, from_=FROM, body="hi")
    assert rest(e) == (403, 99010)
    assert requests.post(f"{gw.url}/tollgate/v1/Recipients", auth=auth, data={"PhoneNumber": TO},
                         timeout=10).status_code == 201
    client.messages.create(to=TO, from_=FROM, body="hi")
    settings(gw, RecipientPolicy="known")
    stranger = "+12015550177"
    with pytest.raises(TwilioRestException) as e:
        client.messages.create(to=stranger, from_=FROM, body="hi")
    assert rest(e) == (403, 99010)
    # Once the stranger texts in, replies are allowed; what is relayed is stripped.
    settings(gw, StripInboundLinks="true", StripInboundPhoneNumbers="true")
    r = requests.post(f"{gw.url}/sandbox/v1/Messages/Inbound.json", auth=auth, data={
        "From": stranger, "To": FROM,
        "Body": "call me at +1 (415) 555-0100 or visit https://phish.example/login now"}, timeout=10)
    assert r.status_code == 201
    relayed = dict(parse_qsl(receiver.wait_for(1)[0]["body"].decode()))
    assert relayed["Body"] == "call me at [number removed] or visit [link removed] now"
    assert valid_callback(gw, receiver, receiver.requests[0])
    client.messages.create(to=stranger, from_=FROM, body="thanks")


def test_redaction_keeps_plaintext_off_the_disk(gw, receiver):
    client = gw.client()
    client.incoming_phone_numbers.create(phone_number=FROM, sms_url=f"{receiver.base}/in")
    settings(gw, RedactPhoneNumbers="true", RedactMessageBodies="true")
    secret_to = "+12015550166"
    msg = client.messages.create(to=secret_to, from_=FROM, body="SECRET-BODY-4711",
                                 status_callback=f"{receiver.base}/status")
    done = wait_status(lambda: client.messages(msg.sid).fetch(), {"delivered"})
    assert done.to == "+1201555XXXX" and done.body == "" and done.from_ == FROM
    # Per message, with Twilio's parameters, on an account without the switches.
    settings(gw, RedactPhoneNumbers="false", RedactMessageBodies="false")
    other = client.messages.create(to="+12015550167", from_=FROM, body="SECRET-BODY-4712",
                                   content_retention="discard", address_retention="obfuscate")
    wait_status(lambda: client.messages(other.sid).fetch(), {"delivered"})
    assert client.messages(other.sid).fetch().to == "+1201555XXXX"
    settings(gw, RedactPhoneNumbers="true", RedactMessageBodies="true")
    r = requests.post(f"{gw.url}/sandbox/v1/Messages/Inbound.json", auth=(gw.account_sid, gw.auth_token),
                      data={"From": "+14155550199", "To": FROM, "Body": "INBOUND-SECRET-99"}, timeout=10)
    assert r.status_code == 201 and r.json()["from"] == "+1415555XXXX"
    # The application still gets the real values, signed.
    seen = receiver.wait_for(3)
    assert any("INBOUND-SECRET-99" in req["body"].decode() for req in seen)
    time.sleep(0.5)
    for suffix in ("", "-wal", "-shm"):
        path = gw.data_dir / f"tollgate.db{suffix}"
        if path.exists():
            data = path.read_bytes()
            for secret in (b"SECRET-BODY-4711", b"SECRET-BODY-4712", b"INBOUND-SECRET-99",
                           b"2015550166", b"2015550167", b"4155550199"):
                assert secret not in data, (suffix, secret)
    logs = gw.logs()
    for secret in ("SECRET-BODY-4711", "INBOUND-SECRET-99", "2015550166", "4155550199"):
        assert secret not in logs, secret


def test_sender_pool_sticky_sender_and_failover(gw):
    client = gw.client()
    numbers = [client.incoming_phone_numbers.create(phone_number=f"+120155501{40 + i}") for i in range(3)]
    service = client.messaging.v1.services.create(friendly_name="otp pool", sticky_sender=True)
    assert service.sid.startswith("MG") and service.sticky_sender is True
    for n in numbers:
        service.phone_numbers.create(phone_number_sid=n.sid)
    assert len(client.messaging.v1.services(service.sid).phone_numbers.list()) == 3
    first = [client.messages.create(to=TO, messaging_service_sid=service.sid, body=f"code {i}") for i in range(3)]
    assert len({m.from_ for m in first}) == 1, "sticky sender"
    assert first[0].messaging_service_sid == service.sid
    others = {client.messages.create(to=f"+120155502{i:02d}", messaging_service_sid=service.sid, body="x").from_
              for i in range(6)}
    assert len(others) >= 2, "rotation across the pool"
    sticky = first[0].from_
    auth = (gw.account_sid, gw.auth_token)
    assert requests.post(f"{gw.url}/sandbox/v1/Numbers/{sticky}.json", auth=auth,
                         data={"Reachable": "false"}, timeout=10).status_code == 200
    msg = client.messages.create(to=TO, messaging_service_sid=service.sid, body="after failure")
    done = wait_status(lambda: client.messages(msg.sid).fetch(), {"delivered", "failed", "undelivered"})
    assert done.status == "delivered" and done.from_ != sticky, (done.status, done.from_)
    # A number outside the pool cannot be used through the service.
    with pytest.raises(TwilioRestException) as e:
        client.messages.create(to=TO, messaging_service_sid=service.sid, from_="+12015550123", body="x")
    assert rest(e) == (400, 21606)


def test_sticky_sender_survives_a_restart(gw):
    client = gw.client()
    numbers = [client.incoming_phone_numbers.create(phone_number=f"+120155503{10 + i}") for i in range(4)]
    service = client.messaging.v1.services.create(friendly_name="restart pool", sticky_sender=True)
    for n in numbers:
        service.phone_numbers.create(phone_number_sid=n.sid)
    recipients = [f"+120155504{i:02d}" for i in range(6)]
    before = {to: client.messages.create(to=to, messaging_service_sid=service.sid, body="a").from_
              for to in recipients}
    assert len(set(before.values())) >= 2, "rotation spreads recipients over the pool"
    assert gw.stop() == 0
    gw.start()
    client = gw.client()
    # Rotation restarts at the pool's first number; each recipient keeps its own.
    after = {to: client.messages.create(to=to, messaging_service_sid=service.sid, body="b").from_
             for to in reversed(recipients)}
    assert after == before


def test_pool_size_limit(gw):
    client = gw.client()
    service = client.messaging.v1.services.create(friendly_name="big")
    auth = (gw.account_sid, gw.auth_token)
    session = requests.Session()
    for i in range(401):
        r = session.post(f"{gw.url}/2010-04-01/Accounts/{gw.account_sid}/IncomingPhoneNumbers.json", auth=auth,
                         data={"PhoneNumber": f"+1201556{i:04d}"}, timeout=10)
        assert r.status_code == 201, r.text
        r = session.post(f"{gw.url}/v1/Services/{service.sid}/PhoneNumbers", auth=auth,
                         data={"PhoneNumberSid": r.json()["sid"]}, timeout=10)
        if i < 400:
            assert r.status_code == 201, r.text
        else:
            assert r.status_code == 400 and r.json()["code"] == 21714, r.text


def test_inbound_flood_control_and_blocklist(gw, receiver):
    client = gw.client()
    client.incoming_phone_numbers.create(phone_number=FROM, sms_url=f"{receiver.base}/in")
    auth = (gw.account_sid, gw.auth_token)
    settings(gw, InboundRatePerMinute="3")

    def text(sender):
        return requests.post(f"{gw.url}/sandbox/v1/Messages/Inbound.json", auth=auth,
                             data={"From": sender, "To": FROM, "Body": "spam"}, timeout=10)

    results = [text("+447400123456").status_code for _ in range(5)]
    assert results == [201, 201, 201, 202, 202], results
    assert text("+447400123457").status_code == 201, "other senders are not affected"
    r = requests.post(f"{gw.url}/tollgate/v1/Blocklist", auth=auth, data={"Number": "+4474001235"}, timeout=10)
    assert r.status_code == 201 and r.json()["prefix"] == "+4474001235"
    dropped = text("+447400123599")
    assert dropped.status_code == 202 and dropped.json()["reason"] == "blocklist"
    listing = requests.get(f"{gw.url}/tollgate/v1/Blocklist", auth=auth, timeout=10).json()
    assert listing["dropped"] == {"blocklist": 1, "flood": 2}
    time.sleep(0.3)
    assert len(receiver.requests) == 4, "dropped texts are never forwarded"
    assert requests.delete(f"{gw.url}/tollgate/v1/Blocklist/+4474001235", auth=auth, timeout=10).status_code == 204
    assert text("+447400123599").status_code == 201


def test_redaction_covers_every_table_and_verify_survives_a_restart(gw, receiver):
    """RedactPhoneNumbers and RedactMessageBodies, checked against every file
    Tollgate writes: messages both ways, calls, Verify (across a restart,
    found again by its number), alerts, webhooks and sends in flight."""
    from test_verify import code_sent_to

    client = gw.client()
    client.incoming_phone_numbers.create(phone_number=FROM, sms_url=f"{receiver.base}/in")
    settings(gw, RedactPhoneNumbers="true", RedactMessageBodies="true")
    numbers = {"sms": "+12015550301", "call": "+12015550302", "verify": "+12015550303", "inbound": "+14155550304",
               "geo": "+447400123305"}
    body = "ZEBRA-QUARTZ-8841"
    msg = client.messages.create(to=numbers["sms"], from_=FROM, body=body, status_callback=f"{receiver.base}/s")
    call = client.calls.create(to=numbers["call"], from_=FROM, url="https://example.com/t",
                               status_callback=f"{receiver.base}/c")
    assert call.to == "+1201555XXXX"
    r = requests.post(f"{gw.url}/sandbox/v1/Messages/Inbound.json", auth=(gw.account_sid, gw.auth_token),
                      data={"From": numbers["inbound"], "To": FROM, "Body": body + "-IN"}, timeout=10)
    assert r.status_code == 201
    with pytest.raises(TwilioRestException):
        client.messages.create(to=numbers["geo"], from_=FROM, body=body)
    service = client.verify.v2.services.create(friendly_name="Acme")
    v = client.verify.v2.services(service.sid).verifications.create(to=numbers["verify"], channel="sms")
    assert v.to == "+1201555XXXX"
    code = code_sent_to(gw, numbers["verify"])
    wait_status(lambda: client.messages(msg.sid).fetch(), {"delivered"})
    wait_status(lambda: client.calls(call.sid).fetch(), {"completed"})
    assert gw.stop() == 0
    gw.start()
    client = gw.client()
    ok = client.verify.v2.services(service.sid).verification_checks.create(to=numbers["verify"], code=code)
    assert ok.status == "approved" and ok.sid == v.sid
    alerts = client.monitor.v1.alerts.list()
    assert any("+44740012XXXX" in a.alert_text for a in alerts), [a.alert_text for a in alerts]
    # The application still got the real values, signed.
    seen = b"".join(r["body"] for r in receiver.wait_for(4))
    assert numbers["sms"][1:].encode() in seen and (body + "-IN").encode() in seen
    assert gw.stop() == 0
    needles = [n[1:].encode() for n in numbers.values()] + [n[-7:].encode() for n in numbers.values()]
    needles += [body.encode(), code.encode()]
    files = [p for p in gw.data_dir.rglob("*") if p.is_file() and p.name != "master.key"]
    files += [gw.log_path, gw.out_path]
    found = [(p.name, n) for p in files for n in needles if n in p.read_bytes()]
    assert found == [], found
    gw.start()
