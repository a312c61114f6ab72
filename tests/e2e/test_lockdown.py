"""One-command lockdown, with the official package: from the API and from
the CLI while the server runs; undo gives back service with the new token
only."""

import json
import time

import pytest
import requests
from twilio.base.exceptions import TwilioRestException

from conftest import run
from test_messaging import env, gw  # noqa: F401 (the gw fixture)

FROM = "+12015550123"


def refused(fn):
    with pytest.raises(TwilioRestException) as err:
        fn()
    return err.value.status


def test_api_lockdown_of_a_subaccount_and_undo(gw):
    main = gw.client()
    sub = main.api.v2010.accounts.create(friendly_name="tenant")
    old = gw.client(sub.sid, sub.auth_token)
    old.api.v2010.accounts(sub.sid).incoming_phone_numbers.create(phone_number=FROM)
    key = old.new_keys.create(friendly_name="app key")
    keyed = gw.client(key.sid, key.secret, sub.sid)
    keyed.messages.create(to="+12015551000", from_=FROM, body="before")

    r = main.request("POST", f"{gw.url}/tollgate/v1/Accounts/{sub.sid}/Lockdown", data={})
    assert r.status_code == 200, r.text
    report = json.loads(r.text)
    steps = report["steps"]
    assert steps["suspended"] == [sub.sid] and steps["api_keys_revoked"] == 1
    assert steps["inbound_blocked"] and steps["queued_sends_paused"] and steps["in_progress_calls_ended"]
    new_token = report["new_auth_tokens"][sub.sid]
    assert new_token != sub.auth_token

    # The old token, the key and the new token (account suspended) all fail.
    assert refused(lambda: old.messages.create(to="+12015551001", from_=FROM, body="x")) == 401
    assert refused(lambda: keyed.messages.create(to="+12015551001", from_=FROM, body="x")) == 401
    new = gw.client(sub.sid, new_token)
    assert refused(lambda: new.messages.create(to="+12015551001", from_=FROM, body="x")) == 401
    assert main.api.v2010.accounts(sub.sid).fetch().status == "suspended"
    # Inbound to its number is dropped.
    r = main.request("POST", f"{gw.url}/sandbox/v1/Messages/Inbound.json",
                     data={"From": "+12015559999", "To": FROM, "Body": "hello"})
    assert r.status_code in (200, 202) and "lockdown" in r.text, r.text

    # Undo with the new token: service comes back, the old token and key stay dead.
    r = new.request("DELETE", f"{gw.url}/tollgate/v1/Accounts/{sub.sid}/Lockdown")
    assert r.status_code == 200, r.text
    assert json.loads(r.text)["steps"]["auth_tokens_restored"] is False
    new.messages.create(to="+12015551002", from_=FROM, body="after undo")
    assert refused(lambda: old.messages.create(to="+12015551003", from_=FROM, body="x")) == 401
    assert refused(lambda: keyed.messages.create(to="+12015551003", from_=FROM, body="x")) == 401
    # Every step is audited.
    types = [e.event_type for e in main.monitor.v1.events.list(resource_sid=sub.sid)]
    for t in ["account.updated", "account-auth-token.promoted", "account-keys.deleted",
              "tollgate-lockdown.created", "tollgate-lockdown.deleted"]:
        assert t in types, types


def test_cli_lockdown_reaches_the_running_server(gw):
    main = gw.client()
    main.api.v2010.accounts(gw.account_sid).incoming_phone_numbers.create(phone_number=FROM)
    main.messages.create(to="+12015551100", from_=FROM, body="before")
    r = run(["lockdown", "--data-dir", str(gw.data_dir), "--account", gw.account_sid], env=gw.env)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    new_token = report["new_auth_tokens"][gw.account_sid]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            main.api.v2010.accounts(gw.account_sid).fetch()
            time.sleep(0.1)
        except TwilioRestException as e:
            assert e.status == 401
            break
    else:
        raise AssertionError("the running server did not pick up the lockdown")
    r = run(["lockdown", "--data-dir", str(gw.data_dir), "--account", gw.account_sid, "--undo"], env=gw.env)
    assert r.returncode == 0, r.stderr
    new = gw.client(gw.account_sid, new_token)
    deadline = time.monotonic() + 5
    while True:
        try:
            new.messages.create(to="+12015551101", from_=FROM, body="after undo")
            break
        except TwilioRestException:
            assert time.monotonic() < deadline, "undo did not reach the server"
            time.sleep(0.1)
    assert refused(lambda: main.api.v2010.accounts(gw.account_sid).fetch()) == 401
    events = new.monitor.v1.events.list(event_type="tollgate-lockdown.created")
    assert events and events[0].source == "cli" and events[0].actor_type == "user"


def unlock(gw, username, password, sid, **headers):
    return requests.delete(f"{gw.url}/tollgate/v1/Accounts/{sid}/Lockdown", auth=(username, password),
                           headers=headers, timeout=10)


def wait_suspended(main, sid, timeout=5):
    deadline = time.monotonic() + timeout
    while main.api.v2010.accounts(sid).fetch().status != "suspended":
        assert time.monotonic() < deadline, f"{sid} was not suspended"
        time.sleep(0.05)


def test_a_suspended_account_cannot_undo_a_suspension_with_its_own_credentials(gw):
    """The class: every suspension that is not the account's own lockdown
    (by its parent, a usage trigger, an alarm) stays until the parent acts."""
    main = gw.client()
    parent_suspended = main.api.v2010.accounts.create(friendly_name="by parent")
    main.api.v2010.accounts(parent_suspended.sid).update(status="suspended")

    by_trigger = main.api.v2010.accounts.create(friendly_name="by trigger")
    t = gw.client(by_trigger.sid, by_trigger.auth_token)
    t.api.v2010.accounts(by_trigger.sid).incoming_phone_numbers.create(phone_number="+12015550124")
    r = t.request("POST", f"{gw.url}/2010-04-01/Accounts/{by_trigger.sid}/Usage/Triggers.json",
                  data={"CallbackUrl": "https://example.com/t", "TriggerValue": "1", "UsageCategory": "sms",
                        "TriggerBy": "count", "Action": "suspend"})
    assert r.status_code == 201, r.text
    t.messages.create(to="+12015551200", from_="+12015550124", body="crosses")
    wait_suspended(main, by_trigger.sid)

    by_alarm = main.api.v2010.accounts.create(friendly_name="by alarm")
    a = gw.client(by_alarm.sid, by_alarm.auth_token)
    a.api.v2010.accounts(by_alarm.sid).incoming_phone_numbers.create(phone_number="+12015550125")
    r = requests.post(f"{gw.url}/v2/Alarms", auth=(by_alarm.sid, by_alarm.auth_token), timeout=10,
                      json={"queryType": "ERROR_CODE", "query": "21408", "triggerValue": 1, "action": "suspend"})
    assert r.status_code == 201, r.text
    with pytest.raises(TwilioRestException):
        a.messages.create(to="+447400123456", from_="+12015550125", body="geo blocked")
    wait_suspended(main, by_alarm.sid)

    for account in (parent_suspended, by_trigger, by_alarm):
        r = unlock(gw, account.sid, account.auth_token, account.sid)
        assert r.status_code == 401, (account.friendly_name, r.status_code, r.text)
        assert r.json()["code"] == 20003
        assert main.api.v2010.accounts(account.sid).fetch().status == "suspended", account.friendly_name
        # Its parent finds no lockdown to undo: a plain suspension is undone by a status change.
        r = unlock(gw, gw.account_sid, gw.auth_token, account.sid)
        assert r.status_code == 404 and r.json()["code"] == 20404, r.text
        assert main.api.v2010.accounts(account.sid).fetch().status == "suspended"


def test_only_the_lockdown_token_undoes_a_lockdown_and_only_until_the_parent_acts(gw):
    main = gw.client()
    sub = main.api.v2010.accounts.create(friendly_name="tenant")
    lock = lambda: json.loads(main.request("POST", f"{gw.url}/tollgate/v1/Accounts/{sub.sid}/Lockdown", data={}).text)  # noqa: E731
    new_token = lock()["new_auth_tokens"][sub.sid]
    # The old token and a made-up one do nothing.
    assert unlock(gw, sub.sid, sub.auth_token, sub.sid).status_code == 401
    assert unlock(gw, sub.sid, "0" * 32, sub.sid).status_code == 401
    # The parent suspends it again on top of the lockdown: the lockdown's own
    # token no longer undoes it; the parent's credentials still do.
    main.api.v2010.accounts(sub.sid).update(status="suspended")
    r = unlock(gw, sub.sid, new_token, sub.sid)
    assert r.status_code == 401, r.text
    assert main.api.v2010.accounts(sub.sid).fetch().status == "suspended"
    r = unlock(gw, gw.account_sid, gw.auth_token, sub.sid)
    assert r.status_code == 200, r.text
    assert main.api.v2010.accounts(sub.sid).fetch().status == "active"
    # Undone once: a second undo finds no lockdown.
    assert unlock(gw, gw.account_sid, gw.auth_token, sub.sid).status_code == 404
    # A fresh lockdown's token undoes it, once.
    token = lock()["new_auth_tokens"][sub.sid]
    assert unlock(gw, sub.sid, token, sub.sid).status_code == 200
    # Its seal is spent: the account's own credentials undo nothing now.
    assert unlock(gw, sub.sid, token, sub.sid).status_code == 401
    assert main.api.v2010.accounts(sub.sid).fetch().status == "active"
    # Another subaccount's credentials never reach it.
    other = main.api.v2010.accounts.create(friendly_name="neighbour")
    lock()
    assert unlock(gw, other.sid, other.auth_token, sub.sid).status_code == 401


def test_undo_runs_client_validation(gw):
    from test_client_validation import keypair, pointed
    from twilio.http.validation_client import ValidationClient
    from twilio.rest import Client

    main = gw.client()
    sub = main.api.v2010.accounts.create(friendly_name="validated")
    s = gw.client(sub.sid, sub.auth_token)
    private_pem, public_pem = keypair()
    credential = s.accounts.v1.credentials.public_key.create(public_key=public_pem)
    r = requests.post(f"{gw.url}/tollgate/v1/Accounts/{sub.sid}/Settings", auth=(sub.sid, sub.auth_token),
                      data={"RequireClientValidation": "true"}, timeout=10)
    assert r.status_code == 200, r.text
    r = main.request("POST", f"{gw.url}/tollgate/v1/Accounts/{sub.sid}/Lockdown", data={})
    token = json.loads(r.text)["new_auth_tokens"][sub.sid]
    r = unlock(gw, sub.sid, token, sub.sid)
    assert r.status_code == 401 and r.json()["code"] == 70052, r.text
    assert main.api.v2010.accounts(sub.sid).fetch().status == "suspended"
    # With a signed request it goes through.
    http = ValidationClient(sub.sid, sub.sid, credential.sid, private_pem)
    signed = pointed(Client(sub.sid, token, http_client=http), gw)
    r = signed.request("DELETE", f"{gw.url}/tollgate/v1/Accounts/{sub.sid}/Lockdown")
    assert r.status_code == 200, r.text
    assert main.api.v2010.accounts(sub.sid).fetch().status == "active"
