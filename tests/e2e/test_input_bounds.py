"""What the API stores is bounded and clean: display text without control or
bidirectional-text characters, every parameter within a length, a message
needs a body, the blocklist takes E.164 only, and the data files are the
owner's alone."""

import os
import stat

import pytest
import requests
from twilio.base.exceptions import TwilioRestException

from conftest import Gateway

BAD_NAMES = [
    "nul\x00byte",
    "line\r\nbreak",
    "new\nline",
    "tab\there",
    "\u202egnp.exe",  # right-to-left override
    "x\u2066y\u2069",  # isolates
    "mark\u200f",
    "para\u2029graph",
    "c1\x85control",
]


def refused(call, status=400, code=20002):
    with pytest.raises(TwilioRestException) as e:
        call()
    assert (e.value.status, e.value.code) == (status, code), e.value.msg
    return e.value


def test_friendly_names_refuse_control_and_bidi_characters(gateway):
    client = gateway.client()
    account = client.api.v2010.accounts(gateway.account_sid)
    service = client.messaging.v1.services.create(friendly_name="pool")
    verify = client.verify.v2.services.create(friendly_name="Acme")
    trigger = account.usage.triggers.create(
        callback_url="https://example.com/cb", trigger_value="100", usage_category="sms")
    auth = (gateway.account_sid, gateway.auth_token)
    for bad in BAD_NAMES:
        refused(lambda: client.api.v2010.accounts.create(friendly_name=bad))
        refused(lambda: account.update(friendly_name=bad))
        refused(lambda: account.new_keys.create(friendly_name=bad))
        refused(lambda: client.messaging.v1.services.create(friendly_name=bad))
        refused(lambda: client.messaging.v1.services(service.sid).update(friendly_name=bad))
        refused(lambda: account.usage.triggers(trigger.sid).update(friendly_name=bad))
        refused(lambda: client.verify.v2.services.create(friendly_name=bad), code=60200)
        refused(lambda: client.verify.v2.services(verify.sid).update(friendly_name=bad), code=60200)
        refused(lambda: client.verify.v2.services(verify.sid).rate_limits.create(
            unique_name="per_ip", description=bad), code=60200)
        alarm = {"friendlyName": bad, "queryType": "ALL", "triggerValue": 1}
        r = requests.post(f"{gateway.url}/v2/Alarms", json=alarm, auth=auth, timeout=10)
        assert (r.status_code, r.json()["code"]) == (400, 20002), (bad, r.text)
    # Ordinary Unicode stays welcome.
    name = "Équipe 東京 👩\u200d💻"
    assert client.api.v2010.accounts.create(friendly_name=name).friendly_name == name


def test_every_stored_text_field_is_bounded(gateway):
    client = gateway.client()
    auth = (gateway.account_sid, gateway.auth_token)
    long = "x" * 10_000
    for alarm, field in [
        ({"friendlyName": long, "queryType": "ALL", "triggerValue": 1}, "friendlyName"),
        ({"queryType": "ERROR_CODE", "query": long, "triggerValue": 1}, "query"),
    ]:
        r = requests.post(f"{gateway.url}/v2/Alarms", json=alarm, auth=auth, timeout=10)
        assert r.status_code == 400, (field, r.text)
    verify = client.verify.v2.services.create(friendly_name="Acme")
    refused(lambda: client.verify.v2.services(verify.sid).rate_limits.create(
        unique_name="per_ip", description="d" * 300), code=60200)
    # Any parameter: at most 4096 characters, with a message that names it.
    calls = f"{gateway.url}/2010-04-01/Accounts/{gateway.account_sid}/Calls.json"
    r = requests.post(calls, auth=auth, timeout=10,
                      data={"To": "+12015550124", "From": "+1" + "5" * 5000, "Url": "https://example.com/t"})
    assert (r.status_code, r.json()["code"]) == (400, 20422)
    assert "From" in r.json()["message"]
    settings = f"{gateway.url}/tollgate/v1/Accounts/{gateway.account_sid}/Settings"
    domains = ",".join(f"d{i}.example" for i in range(1001))
    r = requests.post(settings, auth=auth, data={"LinkBlocklist": domains}, timeout=10)
    assert (r.status_code, r.json()["code"]) == (400, 20422)
    r = requests.post(settings, auth=auth, data={"LinkBlocklist": "bad.example,worse.example"}, timeout=10)
    assert r.status_code == 200 and r.json()["link_blocklist"] == ["bad.example", "worse.example"]


def test_an_empty_message_body_is_21602(gateway):
    client = gateway.client()
    refused(lambda: client.messages.create(to="+12015550124", from_="+12015550100", body=""), code=21602)
    refused(lambda: client.messages.create(to="+12015550124", from_="+12015550100"), code=21602)


def test_the_blocklist_takes_only_e164_numbers_and_prefixes(gateway):
    auth = (gateway.account_sid, gateway.auth_token)
    url = f"{gateway.url}/tollgate/v1/Blocklist"
    for bad in ["0", "-12015550124", "12015550124", "+0123", "+999123", "+1234567890123456",
                "+1 201 555", "+", "", "+１２０１"]:
        r = requests.post(url, auth=auth, data={"Number": bad}, timeout=10)
        assert (r.status_code, r.json()["code"]) == (400, 20422), (bad, r.text)
        r = requests.delete(f"{url}/{bad or 'x'}", auth=auth, timeout=10)
        assert r.status_code in (404, 405), (bad, r.text)
    for good in ["+2526", "+12015550124", "+44"]:
        r = requests.post(url, auth=auth, data={"Number": good}, timeout=10)
        assert r.status_code == 201, (good, r.text)
    listed = requests.get(url, auth=auth, timeout=10).json()["entries"]
    assert sorted(e["prefix"] for e in listed) == ["+12015550124", "+2526", "+44"]


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_data_files_are_owner_only(tmp_dir):
    old = os.umask(0o022)
    try:
        env = dict(os.environ, TOLLGATE_AUDIT_FILE="audit.jsonl")
        gw = Gateway(tmp_dir / "data", env=env).init()
        db = gw.data_dir / "tollgate.db"
        assert mode(db) == 0o600
        gw.start()
        gw.client().api.v2010.accounts.create(friendly_name="sub")
        for name in ["tollgate.db", "tollgate.db-wal", "tollgate.db-shm"]:
            assert mode(gw.data_dir / name) == 0o600, name
        assert gw.stop() == 0
        assert mode(gw.data_dir / "audit.jsonl") == 0o600
        # Files an older version left readable are tightened at the next start.
        os.chmod(db, 0o644)
        gw.start()
        assert mode(db) == 0o600
        assert gw.stop() == 0
    finally:
        os.umask(old)
