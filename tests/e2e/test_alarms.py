"""Alerts and alarms, with the official package: every error becomes an
alert; an alarm on 21408 fires its signed webhook after N blocked sends,
once, and can suspend the account."""

import time
from urllib.parse import parse_qsl

import pytest
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator

from test_messaging import env, gw  # noqa: F401 (the gw fixture)
from webhook_receiver import MultiDict, Receiver

FROM = "+12015550123"
GB = "+447400123456"  # not in the default geo permissions: 21408


def create_alarm(gw, account_sid, token, **body):
    r = requests.post(f"{gw.url}/v2/Alarms", json=body, auth=(account_sid, token), timeout=10)
    assert r.status_code == 201, r.text
    return r.json()


def blocked_send(client):
    with pytest.raises(TwilioRestException) as err:
        client.messages.create(to=GB, from_=FROM, body="hi")
    assert err.value.code == 21408


def test_alarm_on_21408_fires_once_after_n_blocked_sends_and_alerts_are_listed(gw):
    receiver = Receiver()
    try:
        c = gw.client()
        c.api.v2010.accounts(gw.account_sid).incoming_phone_numbers.create(phone_number=FROM)
        alarm = create_alarm(gw, gw.account_sid, gw.auth_token, friendlyName="geo blocks", queryType="ERROR_CODE",
                             query="21408", triggerValue=3, timeWindow="FIVE_MINS", webhook=receiver.base + "/alarm")
        assert alarm["sid"].startswith("AK") and alarm["enabled"] is True
        for _ in range(2):
            blocked_send(c)
        time.sleep(0.5)
        assert receiver.requests == []
        blocked_send(c)
        [req] = receiver.wait_for(1, timeout=10)
        p = dict(parse_qsl(req["body"].decode()))
        assert (p["AlarmSid"], p["ErrorCode"], p["CurrentValue"], p["TriggerValue"]) == (alarm["sid"], "21408", "3", "3")
        assert RequestValidator(gw.auth_token).validate(
            receiver.base + req["path"], MultiDict(parse_qsl(req["body"].decode(), keep_blank_values=True)),
            req["headers"]["X-Twilio-Signature"])
        # Still above the value: no second firing.
        blocked_send(c)
        time.sleep(0.8)
        assert len(receiver.requests) == 1

        alerts = c.monitor.v1.alerts.list()
        geo = [a for a in alerts if a.error_code == "21408"]
        assert len(geo) == 4
        assert geo[0].log_level == "warning" and geo[0].request_method == "POST"
        assert geo[0].request_url == f"/2010-04-01/Accounts/{gw.account_sid}/Messages.json"
        assert c.monitor.v1.alerts(geo[0].sid).fetch().alert_text == geo[0].alert_text
        assert gw.auth_token not in str([a.alert_text for a in alerts])
        listed = requests.get(f"{gw.url}/v2/Alarms", auth=(gw.account_sid, gw.auth_token), timeout=10).json()
        assert [a["sid"] for a in listed["alarms"]] == [alarm["sid"]]
    finally:
        receiver.close()


def test_alarm_with_action_suspend_suspends_the_subaccount(gw):
    main = gw.client()
    sub = main.api.v2010.accounts.create(friendly_name="tenant")
    sub_client = gw.client(sub.sid, sub.auth_token)
    sub_client.api.v2010.accounts(sub.sid).incoming_phone_numbers.create(phone_number=FROM)
    create_alarm(gw, sub.sid, sub.auth_token, queryType="ERROR_CODE", query="21408", triggerValue=2,
                 timeWindow="ONE_HOUR", action="suspend")
    blocked_send(sub_client)
    blocked_send(sub_client)
    deadline = time.monotonic() + 5
    while main.api.v2010.accounts(sub.sid).fetch().status != "suspended":
        assert time.monotonic() < deadline, "the alarm did not suspend the account"
        time.sleep(0.1)
    # The subaccount's alerts: its own only; the parent sees them too.
    assert {a.account_sid for a in main.monitor.v1.alerts.list()} >= {sub.sid}
    suspended = [e for e in main.monitor.v1.events.list(resource_sid=sub.sid) if e.event_type == "account.updated"]
    assert suspended and suspended[0].actor_type == "tollgate"


def test_bad_alarm_bodies_get_twilio_errors(gw):
    r = requests.post(f"{gw.url}/v2/Alarms", json={"queryType": "NOPE"}, auth=(gw.account_sid, gw.auth_token),
                      timeout=10)
    assert r.status_code == 400 and set(r.json()) == {"code", "message", "more_info", "status"}
    r = requests.post(f"{gw.url}/v2/Alarms", data=b"{not json", auth=(gw.account_sid, gw.auth_token), timeout=10)
    assert r.status_code == 400


def test_an_api_key_can_neither_set_nor_remove_an_action_that_takes_an_account_down(gw):
    main = gw.client()
    sub = main.api.v2010.accounts.create(friendly_name="tenant")
    key = gw.client(sub.sid, sub.auth_token).new_keys.create(friendly_name="app")
    body = {"queryType": "ERROR_CODE", "query": "21408", "triggerValue": 1}
    for action in ("suspend", "lockdown", "SUSPEND"):
        r = requests.post(f"{gw.url}/v2/Alarms", json={**body, "action": action}, auth=(key.sid, key.secret),
                          timeout=10)
        assert r.status_code == 401 and r.json()["code"] == 20003, (action, r.text)
    # An alarm that only notifies is the key's to make and remove.
    plain = requests.post(f"{gw.url}/v2/Alarms", json=body, auth=(key.sid, key.secret), timeout=10)
    assert plain.status_code == 201, plain.text
    assert requests.delete(f"{gw.url}/v2/Alarms/{plain.json()['sid']}", auth=(key.sid, key.secret),
                           timeout=10).status_code == 204
    # One that suspends, made with the account's token, the key cannot remove.
    acting = create_alarm(gw, sub.sid, sub.auth_token, **body, action="suspend")
    r = requests.delete(f"{gw.url}/v2/Alarms/{acting['sid']}", auth=(key.sid, key.secret), timeout=10)
    assert r.status_code == 401, r.text
    listed = requests.get(f"{gw.url}/v2/Alarms", auth=(sub.sid, sub.auth_token), timeout=10).json()
    assert [a["sid"] for a in listed["alarms"]] == [acting["sid"]]
