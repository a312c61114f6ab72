"""Verify v2 with Fraud Guard, driven by the official package."""

import os
import re
import threading
import time

import pytest
import requests
from twilio.base.exceptions import TwilioRestException

from conftest import Gateway

TO = "+14155550100"


def env(**extra):
    e = dict(os.environ)
    e.update({
        "TOLLGATE_WEBHOOK_ALLOW_PRIVATE": "1",
        "TOLLGATE_SANDBOX_STEP_MS": "0",
    })
    e.update({k: str(v) for k, v in extra.items()})
    return e


@pytest.fixture
def gw(tmp_dir):
    g = Gateway(tmp_dir / "data", env=env()).init().start()
    yield g
    assert g.stop() == 0


def rest(excinfo):
    return excinfo.value.status, excinfo.value.code


def code_sent_to(gw, to, timeout=10):
    """The newest code on the sandbox handset of `to`."""
    deadline = time.monotonic() + timeout
    while True:
        inbox = requests.get(f"{gw.url}/sandbox/v1/Messages.json", params={"To": to},
                             auth=(gw.account_sid, gw.auth_token), timeout=10).json()["messages"]
        if inbox:
            found = re.search(r"code is:? ([0-9 ]+)", inbox[0]["body"])
            assert found, inbox[0]["body"]
            return found.group(1).replace(" ", "")
        assert time.monotonic() < deadline, f"no code reached {to}"
        time.sleep(0.05)


def test_verify_flow_send_read_check_approved(gw):
    client = gw.client()
    service = client.verify.v2.services.create(friendly_name="Acme Login", code_length=7)
    assert service.sid.startswith("VA") and service.code_length == 7
    assert client.verify.v2.services(service.sid).fetch().friendly_name == "Acme Login"
    v = client.verify.v2.services(service.sid).verifications.create(to=TO, channel="sms")
    assert v.sid.startswith("VE") and v.status == "pending" and v.valid is False
    assert v.to == TO and v.channel == "sms" and len(v.send_code_attempts) == 1
    code = code_sent_to(gw, TO)
    assert len(code) == 7
    wrong = str((int(code) + 1) % 10**7).zfill(7)
    bad = client.verify.v2.services(service.sid).verification_checks.create(to=TO, code=wrong)
    assert bad.status == "pending" and bad.valid is False
    ok = client.verify.v2.services(service.sid).verification_checks.create(to=TO, code=code)
    assert ok.status == "approved" and ok.valid is True and ok.sid == v.sid
    assert client.verify.v2.services(service.sid).verifications(v.sid).fetch().status == "approved"
    # Approved: a new check finds nothing pending.
    with pytest.raises(TwilioRestException) as e:
        client.verify.v2.services(service.sid).verification_checks.create(to=TO, code=code)
    assert rest(e) == (404, 20404)
    # The code never rests on disk: neither in the verification nor the message log.
    db = (gw.data_dir / "tollgate.db").read_bytes()
    assert code.encode() not in db


def test_five_wrong_codes_then_60202_and_six_sends_then_60203(gw):
    client = gw.client()
    service = client.verify.v2.services.create(friendly_name="Acme")
    svc = client.verify.v2.services(service.sid)
    v = svc.verifications.create(to=TO, channel="sms")
    code = code_sent_to(gw, TO)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        assert svc.verification_checks.create(verification_sid=v.sid, code=wrong).valid is False
    with pytest.raises(TwilioRestException) as e:
        svc.verification_checks.create(verification_sid=v.sid, code=code)
    assert rest(e) == (429, 60202)
    # Sends: the Safe List keeps Fraud Guard out of the way, 5 sends pass
    # (the same verification, the same code), the 6th is 60203.
    other = "+14155550111"
    client.accounts.v1.safelist.create(phone_number=other)
    with pytest.raises(TwilioRestException) as e:
        client.accounts.v1.safelist.create(phone_number=other)
    assert rest(e) == (400, 60411)
    assert client.accounts.v1.safelist.fetch(phone_number=other).phone_number == other
    sids = {svc.verifications.create(to=other, channel="sms").sid for _ in range(5)}
    assert len(sids) == 1
    with pytest.raises(TwilioRestException) as e:
        svc.verifications.create(to=other, channel="sms")
    assert rest(e) == (429, 60203)
    assert len(svc.verifications(sids.pop()).fetch().send_code_attempts) == 5


def test_rate_limit_buckets_and_geo_block(gw):
    client = gw.client()
    svc = client.verify.v2.services(client.verify.v2.services.create(friendly_name="Acme").sid)
    rl = svc.rate_limits.create(unique_name="end_user_ip", description="per IP")
    assert rl.sid.startswith("RK")
    bucket = svc.rate_limits(rl.sid).buckets.create(max=2, interval=60)
    assert bucket.sid.startswith("BL") and bucket.max == 2 and bucket.interval == 60
    # Numbers far apart: three neighbours within seconds would be a sweep.
    for n in range(2):
        svc.verifications.create(to=f"+141555502{n}0", channel="sms",
                                 rate_limits={"end_user_ip": "203.0.113.9"})
    with pytest.raises(TwilioRestException) as e:
        svc.verifications.create(to="+14155550290", channel="sms",
                                 rate_limits={"end_user_ip": "203.0.113.9"})
    assert rest(e) == (429, 20429)
    svc.verifications.create(to="+14155550290", channel="sms", rate_limits={"end_user_ip": "198.51.100.7"})
    with pytest.raises(TwilioRestException) as e:
        svc.verifications.create(to="+14155550270", channel="sms", rate_limits={"nope": "x"})
    assert rest(e) == (400, 60200)
    # New accounts reach their home country only: France is a geo block.
    with pytest.raises(TwilioRestException) as e:
        svc.verifications.create(to="+33612345678", channel="sms")
    assert rest(e) == (403, 60605)


def test_pumping_burst_is_blocked_on_its_range_while_legit_traffic_flows(gw):
    client = gw.client()
    svc = client.verify.v2.services(client.verify.v2.services.create(friendly_name="Acme").sid)

    def legit(n):
        to = f"+1415555{n:04d}"
        svc.verifications.create(to=to, channel="sms")
        check = svc.verification_checks.create(to=to, code=code_sent_to(gw, to))
        assert check.status == "approved", to

    for n in range(300, 306):
        legit(n)
    # Real users of the same country keep verifying while the bot pumps.
    failures = []

    def users():
        for n in range(400, 420):
            try:
                legit(n)
            except Exception as e:  # noqa: BLE001 - reported below
                failures.append(repr(e))

    crowd = threading.Thread(target=users)
    crowd.start()
    blocked_at = None
    block_message = ""
    for i in range(20):
        try:
            svc.verifications.create(to=f"+1201556{i:04d}", channel="sms")
        except TwilioRestException as e:
            assert (e.status, e.code) == (403, 60410), e.msg
            blocked_at = i + 1
            block_message = e.msg
            break
    for i in range(20, 25):
        with pytest.raises(TwilioRestException) as e:
            svc.verifications.create(to=f"+1201556{i:04d}", channel="sms")
        assert rest(e) == (403, 60410)
    crowd.join()
    assert blocked_at is not None and blocked_at <= 5, blocked_at
    assert failures == []
    auth = (gw.account_sid, gw.auth_token)
    blocks = requests.get(f"{gw.url}/tollgate/v1/FraudGuard/Blocks", auth=auth, timeout=10).json()["blocks"]
    assert len(blocks) == 1, blocks
    block = blocks[0]
    assert block["scope"] == svc._solution["sid"] and block["rule"].startswith("fraudguard.")
    # The narrowest range that holds the attack: inside +1201556, never the country.
    assert block["range"].startswith("+1201556") and block["range"] in block_message
    assert block["numbers"] and all(n.startswith("+1201556") for n in block["numbers"])
    assert block["evidence"] and block["refused"] >= 5
    r = requests.delete(f"{gw.url}{block['url'][len(gw.url):]}", auth=auth, timeout=10)
    assert r.status_code == 204, r.text
    assert requests.get(f"{gw.url}/tollgate/v1/FraudGuard/Blocks", auth=auth,
                        timeout=10).json()["blocks"] == []
    events = [e.event_type for e in client.monitor.v1.events.list(limit=200)]
    assert "fraud-guard.block-lifted" in events and "verify-service.created" in events


def test_blocks_survive_a_restart(tmp_dir):
    gw = Gateway(tmp_dir / "data", env=env()).init().start()
    try:
        client = gw.client()
        sid = client.verify.v2.services.create(friendly_name="Acme").sid
        svc = client.verify.v2.services(sid)
        with pytest.raises(TwilioRestException):
            for i in range(10):
                svc.verifications.create(to=f"+1201556{i:04d}", channel="sms")
        assert gw.stop() == 0
        gw.start()
        with pytest.raises(TwilioRestException) as e:
            gw.client().verify.v2.services(sid).verifications.create(to="+12015560050", channel="sms")
        assert rest(e) == (403, 60410)
    finally:
        gw.stop()


def test_sms_pumping_protection_on_programmable_messaging(tmp_dir):
    # Receipts lag by a sandbox step, as real delivery reports do.
    gw = Gateway(tmp_dir / "data", env=env(TOLLGATE_SANDBOX_STEP_MS=300)).init().start()
    try:
        client = gw.client()
        sender = "+12015550123"
        client.incoming_phone_numbers.create(phone_number=sender)
        auth = (gw.account_sid, gw.auth_token)
        r = requests.post(f"{gw.url}/tollgate/v1/Accounts/{gw.account_sid}/Settings", auth=auth,
                          data={"SmsPumpingProtection": "true"}, timeout=10)
        assert r.status_code == 200 and r.json()["sms_pumping_protection"] is True, r.text
        # Ordinary traffic, delivered, builds the baseline.
        for n in range(6):
            client.messages.create(to=f"+1415555{n:04d}", from_=sender, body="Your order shipped")
            time.sleep(0.7)
        blocked_at = None
        for i in range(15):
            try:
                client.messages.create(to=f"+1201556{i:04d}", from_=sender, body="code 1234")
            except TwilioRestException as e:
                assert (e.status, e.code) == (403, 30450), e.msg
                blocked_at = i + 1
                break
        assert blocked_at is not None and blocked_at <= 5, blocked_at
        # The block is on the range: other numbers of the country still get texts.
        client.messages.create(to="+14155550077", from_=sender, body="Your order shipped")
        blocked = [m for m in client.messages.list(limit=50) if m.status == "failed"]
        assert blocked and blocked[0].error_code == 30450
    finally:
        gw.stop()


def test_a_call_requested_from_a_datacenter_ip_without_a_device_is_refused(gw):
    client = gw.client()
    sid = client.verify.v2.services.create(friendly_name="Acme").sid
    url = f"{gw.url}/v2/Services/{sid}/Verifications"
    auth = (gw.account_sid, gw.auth_token)
    hosted = {"Channel": "call", "DeviceIp": "203.0.113.7", "TollgateDeviceIpFlags": "datacenter"}
    r = requests.post(url, auth=auth, data={"To": "+14155557001", **hosted}, timeout=10)
    assert r.status_code == 403 and r.json()["code"] == 60410, r.text
    assert "fraudguard.hosted_call" in r.json()["message"] and "Blocks" not in r.json()["message"]
    # No range is blocked for it.
    assert requests.get(f"{gw.url}/tollgate/v1/FraudGuard/Blocks", auth=auth,
                        timeout=10).json()["blocks"] == []
    # The same call with a device fingerprint, or by SMS, goes out.
    r = requests.post(url, auth=auth, data={"To": "+14155557001", "TollgateDeviceId": "web-7f3a", **hosted},
                      timeout=10)
    assert r.status_code == 201 and r.json()["channel"] == "call", r.text
    r = requests.post(url, auth=auth, data={**hosted, "To": "+14155558001", "Channel": "sms"}, timeout=10)
    assert r.status_code == 201, r.text
