"""Every served Twilio operation against Twilio's published OpenAPI specs:
status, fields, types, enums, SID patterns, and Twilio's error codes and
error shape. Tollgate-only routes (/tollgate/…, /sandbox/…) are not Twilio's
and are skipped. See conformance.py for the checks."""

import json
import re
import time

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from conformance import SpecCheck, served_routes, shape, spec_dir, spec_path
from test_messaging import env, gw  # noqa: F401 (the gw fixture)

FROM = "+12015550123"
TO = "+12015550124"
OTHER = "+12015550125"
A = "/2010-04-01/Accounts/{account}"

# Served routes that this spec version does not describe (checked: if the
# spec gains them, the test asks for them to be exercised).
NOT_IN_SPEC = {
    ("GET", "/v1/Messaging/GeoPermissions"),
    ("PATCH", "/v1/Messaging/GeoPermissions"),
}


@pytest.fixture(scope="module")
def spec():
    return spec_dir()


class Body(dict):
    """A response body; a missing field reads as a placeholder, so one
    divergence does not hide the ones after it."""

    def __missing__(self, key):
        return f"missing-{key}"


class Runner:
    """Sends requests to served routes, checks the answers, and records
    which routes were exercised."""

    def __init__(self, gw, check: SpecCheck):
        self.gw, self.check = gw, check
        self.auth = (gw.account_sid, gw.auth_token)
        self.covered = set()

    def send(self, method, route, data=None, body=None, params=None, **path):
        self.covered.add((method, route))
        url = self.gw.url + route.format(**path)
        return requests.request(method, url, data=data, json=body, params=params, auth=self.auth, timeout=10)

    def ok(self, method, route, what="", spec_route=None, **kw):
        r = self.send(method, route, **kw)
        self.check.response(method, spec_route or route, r, what)
        try:
            body = r.json()
        except ValueError:
            body = None
        return Body(body) if isinstance(body, dict) else Body()

    def err(self, method, route, status, code, what, **kw):
        r = self.send(method, route, **kw)
        self.check.error(f"{method} {route} ({what})", r, status, code)


def public_pem():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def settle(run, account, sid, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = run.send("GET", A + "/Messages/{sid}", account=account, sid=f"{sid}.json").json()
        if m["status"] in ("delivered", "undelivered", "failed"):
            return m
        time.sleep(0.05)
    raise AssertionError(f"message {sid} did not settle")


def exercise(run, gw):
    acc = gw.account_sid
    # Accounts and keys.
    sub = run.ok("POST", "/2010-04-01/Accounts.json", data={"FriendlyName": "conformance"})
    run.ok("GET", "/2010-04-01/Accounts.json")
    run.ok("GET", "/2010-04-01/Accounts/{account}", account=f"{sub['sid']}.json")
    run.ok("POST", "/2010-04-01/Accounts/{account}", account=f"{sub['sid']}.json", data={"FriendlyName": "c2"})
    key = run.ok("POST", A + "/Keys.json", account=acc, data={"FriendlyName": "k"})
    run.ok("GET", A + "/Keys.json", account=acc)
    run.ok("GET", A + "/Keys/{key}", account=acc, key=f"{key['sid']}.json")
    run.ok("POST", A + "/Keys/{key}", account=acc, key=f"{key['sid']}.json", data={"FriendlyName": "k2"})
    run.ok("DELETE", A + "/Keys/{key}", account=acc, key=f"{key['sid']}.json")
    run.ok("GET", A + "/Balance.json", account=acc)

    # Numbers, messages, calls.
    number = run.ok("POST", A + "/IncomingPhoneNumbers.json", account=acc, data={"PhoneNumber": FROM})
    run.ok("GET", A + "/IncomingPhoneNumbers.json", account=acc)
    run.ok("GET", A + "/IncomingPhoneNumbers/{sid}", account=acc, sid=f"{number['sid']}.json")
    run.ok("POST", A + "/IncomingPhoneNumbers/{sid}", account=acc, sid=f"{number['sid']}.json",
           data={"SmsUrl": "https://example.com/sms", "FriendlyName": "main"})
    message = run.ok("POST", A + "/Messages.json", account=acc, data={"To": TO, "From": FROM, "Body": "hello"})
    run.ok("GET", A + "/Messages.json", account=acc)
    run.ok("GET", A + "/Messages/{sid}", account=acc, sid=f"{message['sid']}.json")
    settle(run, acc, message["sid"])
    redacted = run.ok("POST", A + "/Messages/{sid}", "redact", account=acc, sid=f"{message['sid']}.json",
                      data={"Body": ""})
    if redacted.get("body") != "":
        run.check.fail("POST …/Messages/{Sid}.json (redact)", f"body is {redacted.get('body')!r} after Body=''")
    run.err("POST", A + "/Messages/{sid}", 400, 30409, "cancel a message that is not scheduled",
            account=acc, sid=f"{message['sid']}.json", data={"Status": "canceled"})
    run.ok("DELETE", A + "/Messages/{sid}", account=acc, sid=f"{message['sid']}.json")
    call = run.ok("POST", A + "/Calls.json", account=acc,
                  data={"To": TO, "From": FROM, "Url": "https://example.com/twiml"})
    run.ok("GET", A + "/Calls.json", account=acc)
    run.ok("GET", A + "/Calls/{sid}", account=acc, sid=f"{call['sid']}.json")
    run.ok("POST", A + "/Calls/{sid}", account=acc, sid=f"{call['sid']}.json", data={"Status": "completed"})
    # A refused send, for an alert.
    run.send("POST", A + "/Messages.json", account=acc, data={"To": "+447400123456", "From": FROM, "Body": "x"})

    # Usage.
    run.ok("GET", A + "/Usage/Records.json", account=acc)
    for kind in ("AllTime", "Daily", "LastMonth", "Monthly", "ThisMonth", "Today", "Yearly", "Yesterday"):
        run.ok("GET", A + "/Usage/Records/{kind}", kind, spec_route=f"{A}/Usage/Records/{kind}.json",
               account=acc, kind=f"{kind}.json")
    trigger = run.ok("POST", A + "/Usage/Triggers.json", account=acc,
                     data={"CallbackUrl": "https://example.com/t", "TriggerValue": "100", "UsageCategory": "sms"})
    recurring = run.ok("POST", A + "/Usage/Triggers.json", "recurring", account=acc,
                       data={"CallbackUrl": "https://example.com/t", "TriggerValue": "5", "UsageCategory": "calls",
                             "Recurring": "daily", "TriggerBy": "count"})
    run.ok("GET", A + "/Usage/Triggers.json", account=acc)
    run.ok("GET", A + "/Usage/Triggers/{sid}", account=acc, sid=f"{trigger['sid']}.json")
    run.ok("POST", A + "/Usage/Triggers/{sid}", account=acc, sid=f"{trigger['sid']}.json",
           data={"FriendlyName": "renamed"})
    run.ok("DELETE", A + "/Usage/Triggers/{sid}", account=acc, sid=f"{recurring['sid']}.json")

    # Monitor.
    events = run.ok("GET", "/v1/Events")
    run.ok("GET", "/v1/Events/{sid}", sid=(events.get("events") or [{}])[0].get("sid"))
    alerts = run.ok("GET", "/v1/Alerts")
    run.ok("GET", "/v1/Alerts/{sid}", sid=(alerts.get("alerts") or [{}])[0].get("sid"))
    alarm_body = {"friendlyName": "geo", "queryType": "ERROR_CODE", "query": "21408", "triggerValue": 3,
                  "timeWindow": "FIVE_MINS", "description": "blocked sends", "enabled": True}
    alarm = run.ok("POST", "/v2/Alarms", body=alarm_body)
    run.ok("GET", "/v2/Alarms")
    run.ok("GET", "/v2/Alarms/{sid}", sid=alarm.get("sid"))
    run.ok("PUT", "/v2/Alarms/{sid}", sid=alarm.get("sid"), body={**alarm_body, "triggerValue": 5})
    run.ok("PUT", "/v2/Alarms/{sid}/status", sid=alarm.get("sid"), body={"enabled": False})
    run.ok("DELETE", "/v2/Alarms/{sid}", sid=alarm.get("sid"))

    # Voice geo permissions and lookups.
    run.ok("GET", "/v1/DialingPermissions/Countries")
    run.ok("GET", "/v1/DialingPermissions/Countries/{iso}", iso="US")
    run.ok("GET", "/v1/DialingPermissions/Countries/{iso}/HighRiskSpecialPrefixes", iso="LV")
    run.ok("POST", "/v1/DialingPermissions/BulkCountryUpdates", data={"UpdateRequest": json.dumps([
        {"iso_code": "GB", "low_risk_numbers_enabled": "true", "high_risk_special_numbers_enabled": "false",
         "high_risk_tollfraud_numbers_enabled": "false"}])})
    run.ok("GET", "/v1/Settings")
    run.ok("POST", "/v1/Settings", data={"DialingPermissionsInheritance": "true"})
    run.ok("GET", "/v2/PhoneNumbers/{number}", number="+12015550123")

    # Messaging Services.
    svc = run.ok("POST", "/v1/Services", data={"FriendlyName": "pool"})
    run.ok("GET", "/v1/Services")
    run.ok("GET", "/v1/Services/{sid}", sid=svc["sid"])
    run.ok("POST", "/v1/Services/{sid}", sid=svc["sid"], data={"FriendlyName": "pool 2"})
    run.ok("POST", "/v1/Services/{sid}/PhoneNumbers", sid=svc["sid"], data={"PhoneNumberSid": number["sid"]})
    run.ok("GET", "/v1/Services/{sid}/PhoneNumbers", sid=svc["sid"])
    run.ok("DELETE", "/v1/Services/{sid}/PhoneNumbers/{number}", sid=svc["sid"], number=number["sid"])
    run.ok("DELETE", "/v1/Services/{sid}", sid=svc["sid"])

    # Verify.
    vs = run.ok("POST", "/v2/Services", data={"FriendlyName": "Login"})
    run.ok("GET", "/v2/Services")
    run.ok("GET", "/v2/Services/{service}", service=vs["sid"])
    run.ok("POST", "/v2/Services/{service}", service=vs["sid"], data={"CodeLength": "6"})
    v = run.ok("POST", "/v2/Services/{service}/Verifications", service=vs["sid"],
               data={"To": "+14155550100", "Channel": "sms"})
    run.ok("GET", "/v2/Services/{service}/Verifications/{sid}", service=vs["sid"], sid=v["sid"])
    run.ok("POST", "/v2/Services/{service}/VerificationCheck", service=vs["sid"],
           data={"To": "+14155550100", "Code": "000000"})
    run.err("POST", "/v2/Services/{service}/VerificationCheck", 400, 60221, "neither To nor VerificationSid",
            service=vs["sid"], data={"Code": "123456"})
    run.ok("POST", "/v2/Services/{service}/Verifications/{sid}", service=vs["sid"], sid=v["sid"],
           data={"Status": "canceled"})
    rl = run.ok("POST", "/v2/Services/{service}/RateLimits", service=vs["sid"], data={"UniqueName": "ip"})
    run.ok("GET", "/v2/Services/{service}/RateLimits", service=vs["sid"])
    run.ok("GET", "/v2/Services/{service}/RateLimits/{sid}", service=vs["sid"], sid=rl["sid"])
    run.ok("POST", "/v2/Services/{service}/RateLimits/{sid}", service=vs["sid"], sid=rl["sid"],
           data={"Description": "per IP"})
    bucket = run.ok("POST", "/v2/Services/{service}/RateLimits/{rate_limit}/Buckets", service=vs["sid"],
                    rate_limit=rl["sid"], data={"Max": "3", "Interval": "60"})
    run.ok("GET", "/v2/Services/{service}/RateLimits/{rate_limit}/Buckets", service=vs["sid"], rate_limit=rl["sid"])
    run.ok("GET", "/v2/Services/{service}/RateLimits/{rate_limit}/Buckets/{sid}", service=vs["sid"],
           rate_limit=rl["sid"], sid=bucket["sid"])
    run.ok("POST", "/v2/Services/{service}/RateLimits/{rate_limit}/Buckets/{sid}", service=vs["sid"],
           rate_limit=rl["sid"], sid=bucket["sid"], data={"Max": "4"})
    run.ok("DELETE", "/v2/Services/{service}/RateLimits/{rate_limit}/Buckets/{sid}", service=vs["sid"],
           rate_limit=rl["sid"], sid=bucket["sid"])
    run.ok("DELETE", "/v2/Services/{service}/RateLimits/{sid}", service=vs["sid"], sid=rl["sid"])
    run.ok("DELETE", "/v2/Services/{service}", service=vs["sid"])
    run.ok("POST", "/v1/SafeList/Numbers", data={"PhoneNumber": "+14155550177"})
    run.ok("GET", "/v1/SafeList/Numbers", params={"PhoneNumber": "+14155550177"})
    run.ok("DELETE", "/v1/SafeList/Numbers", params={"PhoneNumber": "+14155550177"})

    # Credentials, last: promoting changes the token.
    pk = run.ok("POST", "/v1/Credentials/PublicKeys", data={"PublicKey": public_pem(), "FriendlyName": "laptop"})
    run.ok("GET", "/v1/Credentials/PublicKeys")
    run.ok("GET", "/v1/Credentials/PublicKeys/{sid}", sid=pk["sid"])
    run.ok("POST", "/v1/Credentials/PublicKeys/{sid}", sid=pk["sid"], data={"FriendlyName": "desk"})
    run.ok("DELETE", "/v1/Credentials/PublicKeys/{sid}", sid=pk["sid"])
    run.ok("DELETE", A + "/IncomingPhoneNumbers/{sid}", account=acc, sid=f"{number['sid']}.json")
    secondary = run.ok("POST", "/v1/AuthTokens/Secondary")
    run.ok("POST", "/v1/AuthTokens/Promote")
    run.auth = (acc, secondary.get("secondary_auth_token"))
    run.ok("POST", "/v1/AuthTokens/Secondary", "again")
    run.ok("DELETE", "/v1/AuthTokens/Secondary")


def errors(run, gw):
    """Twilio's error codes for requests Twilio refuses."""
    acc = gw.account_sid
    calls = A + "/Calls.json"
    call = {"To": TO, "From": FROM, "Url": "https://example.com/t"}
    text = {"To": TO, "From": FROM, "Body": "hi"}
    run.send("POST", A + "/IncomingPhoneNumbers.json", account=acc, data={"PhoneNumber": OTHER})
    call["From"] = text["From"] = OTHER
    for missing, code in (("To", 21201), ("From", 21213), ("Url", 21205)):
        run.err("POST", calls, 400, code, f"no {missing}", account=acc,
                data={k: v for k, v in call.items() if k != missing})
    messages = A + "/Messages.json"
    for missing, code in (("To", 21604), ("From", 21603), ("Body", 21602)):
        run.err("POST", messages, 400, code, f"no {missing}", account=acc,
                data={k: v for k, v in text.items() if k != missing})
    run.err("GET", A + "/Messages/{sid}", 404, 20404, "unknown message", account=acc, sid="SM" + "0" * 32 + ".json")
    run.err("GET", "/2010-04-01/Accounts.json", 400, 20007, "PageSize=1001", params={"PageSize": "1001"})
    run.err("GET", "/v1/Events", 400, 21481, "bad PageToken", params={"PageToken": "nope"})
    run.err("DELETE", A + "/Keys/{key}", 404, 20404, "unknown key", account=acc, key="SK" + "0" * 32 + ".json")
    run.err("POST", A + "/Messages/{sid}", 404, 20404, "unknown message", account=acc, sid="SM" + "0" * 32 + ".json",
            data={"Body": ""})


def variants(run, gw):
    """The same operations in other states: other statuses, actors, fields."""
    acc = gw.account_sid
    # An API key as the actor of events; a suspended subaccount.
    key = run.ok("POST", A + "/Keys.json", "for a key actor", account=acc, data={"FriendlyName": "actor"})
    main_auth, run.auth = run.auth, (key["sid"], key["secret"])
    run.ok("POST", A + "/Usage/Triggers.json", "made with a key", account=acc,
           data={"CallbackUrl": "https://example.com/k", "TriggerValue": "9", "UsageCategory": "sms"})
    run.auth = main_auth
    sub = run.ok("POST", "/2010-04-01/Accounts.json", "to suspend", data={"FriendlyName": "s"})
    run.ok("POST", "/2010-04-01/Accounts/{account}", "suspended", account=f"{sub['sid']}.json",
           data={"Status": "suspended"})
    run.ok("GET", "/2010-04-01/Accounts/{account}", "main", account=f"{acc}.json")
    # A message from a Messaging Service, a blocked one, a failed call.
    number = run.ok("POST", A + "/IncomingPhoneNumbers.json", "pool number", account=acc,
                    data={"PhoneNumber": "+12015550160", "VoiceUrl": "https://example.com/v"})
    svc = run.ok("POST", "/v1/Services", "with a number", data={"FriendlyName": "pool"})
    run.send("POST", "/v1/Services/{sid}/PhoneNumbers", sid=svc["sid"], data={"PhoneNumberSid": number["sid"]})
    run.ok("POST", A + "/Messages.json", "from a service", account=acc,
           data={"To": TO, "MessagingServiceSid": svc["sid"], "Body": "pooled"})
    run.ok("GET", A + "/Messages.json", "after sends", account=acc, params={"PageSize": "20"})
    run.ok("GET", A + "/Calls.json", "after calls", account=acc)
    run.ok("GET", "/v1/Events", "after key and status changes", params={"PageSize": "100"})
    run.ok("GET", "/v1/Alerts", "after a DELETE error", params={"PageSize": "100"})
    run.ok("GET", "/v2/PhoneNumbers/{number}", "line type", number="+447400123456",
           params={"Fields": "line_type_intelligence"})
    run.ok("GET", "/v2/PhoneNumbers/{number}", "invalid", number="+1201555")
    run.ok("GET", "/v1/DialingPermissions/Countries", "filtered", params={"IsoCode": "GB"})
    # An approved verification.
    vs = run.ok("POST", "/v2/Services", "for approval", data={"FriendlyName": "Approve"})
    run.ok("POST", "/v2/Services/{service}/Verifications", "to approve", service=vs["sid"],
           data={"To": "+14155550111", "Channel": "sms"})
    code = code_sent_to(run, gw, "+14155550111")
    run.ok("POST", "/v2/Services/{service}/VerificationCheck", "approved", service=vs["sid"],
           data={"To": "+14155550111", "Code": code})
    run.ok("GET", "/v2/Services/{service}", "after approval", service=vs["sid"])


def code_sent_to(run, gw, to, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        inbox = requests.get(f"{gw.url}/sandbox/v1/Messages.json", params={"To": to}, auth=run.auth,
                             timeout=10).json()["messages"]
        found = inbox and re.search(r"code is:? ([0-9 ]+)", inbox[0]["body"])
        if found:
            return found.group(1).replace(" ", "")
        time.sleep(0.05)
    raise AssertionError(f"no code reached {to}")


def test_every_served_operation_matches_twilios_spec(gw, spec):
    check = SpecCheck(spec)
    run = Runner(gw, check)
    errors(run, gw)
    variants(run, gw)
    exercise(run, gw)

    served = [(m, r) for m, r in served_routes() if not r.startswith(("/tollgate/", "/sandbox/"))]
    for method, route in served:
        if (method, route) in NOT_IN_SPEC:
            assert check.operation(method, route) is None, f"{method} {route} is in the spec now: exercise it"
            continue
        if (method, route) not in run.covered:
            check.fail(f"{method} {route}", "served but not exercised by this test")
        elif check.operation(method, route) is None and "{kind}" not in route:
            check.fail(f"{method} {route}", "served, but no such operation in Twilio's spec")
    assert not check.problems, "divergences from Twilio's spec:\n" + "\n".join(check.problems)


def test_spec_paths_of_2010_routes_keep_the_json_suffix():
    assert spec_path("/2010-04-01/Accounts/{account}/Keys/{key}") == "/2010-04-01/Accounts/{account}/Keys/{key}.json"
    assert shape("/v2/Services/{service}/RateLimits/{sid}") == "/v2/Services/{}/RateLimits/{}"


def test_sdk_attributes_come_back_set(gw):
    """Fields the SDK reads are there (they came back None before)."""
    c = gw.client()
    number = c.incoming_phone_numbers.create(phone_number=FROM)
    assert (number.voice_receive_mode, number.sms_fallback_method, number.voice_fallback_method) == (
        "voice", "POST", "POST")
    assert number.emergency_address_status == "unregistered" and number.trunk_sid is None
    assert number.type == "local"
    assert c.incoming_phone_numbers.create(phone_number="+18005550199").type == "toll-free"
    trigger = c.usage.triggers.create(callback_url="https://example.com/t", trigger_value="5", usage_category="sms")
    assert trigger.recurring == "alltime"
    assert [t.recurring for t in c.usage.triggers.list(recurring="alltime")] == ["alltime"]


def test_message_update_redacts_final_messages_and_cancels_none(tmp_dir):
    from conftest import Gateway
    from twilio.base.exceptions import TwilioRestException

    slow = Gateway(tmp_dir / "slow", env=env(TOLLGATE_SANDBOX_STEP_MS="1500")).init().start()
    try:
        c = slow.client()
        c.incoming_phone_numbers.create(phone_number=FROM)
        m = c.messages.create(to=TO, from_=FROM, body="secret 1234")
        with pytest.raises(TwilioRestException) as e:
            c.messages(m.sid).update(body="")
        assert (e.value.status, e.value.code) == (400, 20009), "not final yet"
        with pytest.raises(TwilioRestException) as e:
            c.messages(m.sid).update(status="canceled")
        assert (e.value.status, e.value.code) == (400, 30409)
        with pytest.raises(TwilioRestException) as e:
            c.messages(m.sid).update(body="other text")
        assert (e.value.status, e.value.code) == (400, 20422)
        deadline = time.monotonic() + 20
        while c.messages(m.sid).fetch().status not in ("delivered", "undelivered", "failed"):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        redacted = c.messages(m.sid).update(body="")
        assert redacted.body == "" and c.messages(m.sid).fetch().body == ""
        assert redacted.status in ("delivered", "undelivered", "failed")
        events = c.monitor.v1.events.list(resource_sid=m.sid)
        assert [e.event_type for e in events] == ["message.updated"]
    finally:
        assert slow.stop() == 0


def test_alarm_put_replaces_it_and_actions_that_suspend_need_account_credentials(gw):
    c = gw.client()
    key = c.api.v2010.accounts(gw.account_sid).new_keys.create(friendly_name="ops")
    main, by_key = (gw.account_sid, gw.auth_token), (key.sid, key.secret)
    body = {"friendlyName": "geo", "description": "blocked", "queryType": "ERROR_CODE", "query": "21408",
            "triggerValue": 3, "timeWindow": "FIVE_MINS", "enabled": True}
    url = f"{gw.url}/v2/Alarms"
    sid = requests.post(url, json=body, auth=by_key, timeout=10).json()["sid"]
    assert sid.startswith("AK")
    # A key may change a plain alarm, not give it an action that suspends.
    r = requests.put(f"{url}/{sid}", json={**body, "triggerValue": 7}, auth=by_key, timeout=10)
    assert r.status_code == 200 and r.json()["triggerValue"] == 7 and r.json()["description"] == "blocked"
    for action in ("suspend", "lockdown"):
        r = requests.put(f"{url}/{sid}", json={**body, "action": action}, auth=by_key, timeout=10)
        assert (r.status_code, r.json()["code"]) == (401, 20003), action
    r = requests.put(f"{url}/{sid}", json={**body, "action": "lockdown"}, auth=main, timeout=10)
    assert r.status_code == 200 and r.json()["action"] == "lockdown"
    # Nor replace or switch off one that has such an action.
    r = requests.put(f"{url}/{sid}", json=body, auth=by_key, timeout=10)
    assert (r.status_code, r.json()["code"]) == (401, 20003)
    r = requests.put(f"{url}/{sid}/status", json={"enabled": False}, auth=by_key, timeout=10)
    assert (r.status_code, r.json()["code"]) == (401, 20003)
    assert requests.put(f"{url}/{sid}/status", json={"enabled": False}, auth=main, timeout=10).status_code == 204
    fetched = requests.get(f"{url}/{sid}", auth=main, timeout=10).json()
    assert (fetched["enabled"], fetched["action"], fetched["triggerValue"]) == (False, "lockdown", 3)
    r = requests.put(f"{url}/{sid}", json={**body, "timeWindow": "NOPE"}, auth=main, timeout=10)
    assert (r.status_code, r.json()["code"]) == (400, 20422)
    r = requests.put(f"{url}/AK{'0' * 32}", json=body, auth=main, timeout=10)
    assert (r.status_code, r.json()["code"]) == (404, 20404)
    assert [e.event_type for e in c.monitor.v1.events.list(resource_sid=sid)] == [
        "alarm.updated", "alarm.updated", "alarm.updated", "alarm.created"]
