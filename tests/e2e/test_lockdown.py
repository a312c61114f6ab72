"""One-command lockdown, with the official package: from the API and from
the CLI while the server runs; undo gives back service with the new token
only."""

import json
import time

import pytest
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
