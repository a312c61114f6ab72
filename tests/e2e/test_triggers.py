"""Usage triggers that act, with the official package: a signed callback
with Twilio's parameters, suspension before the next send, exactly once per
period across restarts and kill -9."""

import random
import signal
import threading
import time
from urllib.parse import parse_qsl

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator

from conftest import Gateway
from test_messaging import env, gw  # noqa: F401 (the gw fixture)
from webhook_receiver import MultiDict, Receiver

FROM = "+12015550123"


def create_trigger(gw, account_sid, **params):
    """POST …/Usage/Triggers.json with Tollgate's Action extension (the SDK's
    create() has fixed arguments), through the SDK's own HTTP client."""
    c = gw.client()
    r = c.request(
        "POST",
        f"{gw.url}/2010-04-01/Accounts/{account_sid}/Usage/Triggers.json",
        data=params,
    )
    assert r.status_code == 201, r.text
    return c.api.v2010.accounts(account_sid).usage.triggers(__import__("json").loads(r.text)["sid"]).fetch()


def callbacks(receiver):
    with receiver.lock:
        return [dict(parse_qsl(r["body"].decode(), keep_blank_values=True)) for r in receiver.requests]


def test_daily_count_trigger_suspends_the_subaccount_once_across_a_restart(tmp_dir):
    receiver = Receiver()
    gw = Gateway(tmp_dir / "data", env=env()).init().start()
    try:
        main = gw.client()
        sub = main.api.v2010.accounts.create(friendly_name="tenant")
        sub_client = gw.client(sub.sid, sub.auth_token)
        sub_client.api.v2010.accounts(sub.sid).incoming_phone_numbers.create(phone_number=FROM)
        trigger = create_trigger(
            gw, sub.sid, CallbackUrl=receiver.base + "/usage", TriggerValue="3", UsageCategory="sms",
            Recurring="daily", TriggerBy="count", Action="suspend", FriendlyName="3 a day",
        )
        assert trigger.sid.startswith("UT") and trigger.recurring == "daily" and trigger.trigger_by == "count"
        listed = main.api.v2010.accounts(sub.sid).usage.triggers.list(usage_category="sms")
        assert [t.sid for t in listed] == [trigger.sid]
        for i in range(3):
            sub_client.messages.create(to=f"+1201555{1000 + i}", from_=FROM, body="hi")
        # The third crossed: the callback is queued and the account suspended
        # before the third send returned.
        with pytest.raises(TwilioRestException):
            sub_client.messages.create(to="+12015552000", from_=FROM, body="one too many")
        assert main.api.v2010.accounts(sub.sid).fetch().status == "suspended"
        [req] = receiver.wait_for(1, timeout=5)
        p = dict(parse_qsl(req["body"].decode(), keep_blank_values=True))
        assert set(p) == {"AccountSid", "UsageTriggerSid", "DateFired", "Recurring", "UsageCategory", "TriggerBy",
                          "TriggerValue", "CurrentValue", "UsageRecordUri", "IdempotencyToken"}
        assert (p["AccountSid"], p["UsageTriggerSid"], p["Recurring"], p["UsageCategory"], p["TriggerBy"]) == (
            sub.sid, trigger.sid, "daily", "sms", "count")
        assert (p["TriggerValue"], p["CurrentValue"]) == ("3", "3")
        assert p["UsageRecordUri"].startswith(f"/2010-04-01/Accounts/{sub.sid}/Usage/Records/Daily.json?Category=sms")
        assert RequestValidator(sub.auth_token).validate(
            receiver.base + req["path"], MultiDict(parse_qsl(req["body"].decode(), keep_blank_values=True)),
            req["headers"]["X-Twilio-Signature"],
        )
        fired = main.api.v2010.accounts(sub.sid).usage.triggers(trigger.sid).fetch()
        assert fired.date_fired is not None and fired.current_value == "3"
        # Audited: the firing and the suspension, by Tollgate.
        events = main.monitor.v1.events.list()
        assert any(e.event_type == "usage-trigger.fired" and e.resource_sid == trigger.sid for e in events)
        suspended = [e for e in events if e.event_type == "account.updated" and e.resource_sid == sub.sid]
        assert suspended and suspended[0].actor_type == "tollgate" and suspended[0].event_data["after"] == {"status": "suspended"}

        # Restart: the trigger does not fire again in this period, even after
        # the parent reactivates the account and more texts go out.
        assert gw.stop() == 0
        gw.start()
        main = gw.client()
        main.api.v2010.accounts(sub.sid).update(status="active")
        sub_client = gw.client(sub.sid, sub.auth_token)
        sub_client.messages.create(to="+12015553000", from_=FROM, body="after restart")
        time.sleep(1.5)
        assert len(callbacks(receiver)) == 1
        assert main.api.v2010.accounts(sub.sid).fetch().status == "active"
    finally:
        receiver.close()
        gw.stop()


def test_price_trigger_with_an_offset_and_the_main_account_cannot_suspend_itself(gw, tmp_dir):
    receiver = Receiver()
    try:
        c = gw.client()
        c.api.v2010.accounts(gw.account_sid).incoming_phone_numbers.create(phone_number=FROM)
        c.messages.create(to="+12015554000", from_=FROM, body="before")
        r = c.request("POST", f"{gw.url}/2010-04-01/Accounts/{gw.account_sid}/Usage/Triggers.json",
                      data={"CallbackUrl": receiver.base + "/x", "TriggerValue": "1", "UsageCategory": "sms",
                            "Action": "suspend"})
        assert r.status_code == 400
        t = c.api.v2010.accounts(gw.account_sid).usage.triggers.create(
            callback_url=receiver.base + "/p", trigger_value="+0.01", usage_category="totalprice",
            trigger_by="price", callback_method="GET")
        before = float(t.trigger_value)
        assert before > 0.01  # the offset was added to what was spent already
        while not receiver.requests:
            c.messages.create(to="+12015554001", from_=FROM, body="spend")
            time.sleep(0.05)
        req = receiver.wait_for(1)[0]
        assert req["method"] == "GET" and "IdempotencyToken=" in req["path"]
        t.update(friendly_name="renamed")
        assert c.api.v2010.accounts(gw.account_sid).usage.triggers(t.sid).fetch().friendly_name == "renamed"
        t.delete()
        assert c.api.v2010.accounts(gw.account_sid).usage.triggers.list() == []
    finally:
        receiver.close()


def test_kill_9_during_crossings_yields_exactly_one_callback_each(tmp_dir):
    """20 runs: a new trigger (+5 texts) each run, texts sent from 3
    threads, Tollgate killed with SIGKILL at a random moment, restarted,
    texts sent until the crossing is certain. Every trigger fires once, and
    its callback arrives (again, with the same token, if the kill fell
    between the receiver's answer and its record)."""
    receiver = Receiver()
    rng = random.Random(7)
    gw = Gateway(tmp_dir / "data", env=env(TOLLGATE_WEBHOOK_RETRY_BASE_MS=50)).init().start()
    triggers = []
    try:
        gw.client().api.v2010.accounts(gw.account_sid).incoming_phone_numbers.create(phone_number=FROM)
        for run in range(20):
            c = gw.client()
            t = c.api.v2010.accounts(gw.account_sid).usage.triggers.create(
                callback_url=receiver.base + f"/run{run}", trigger_value="+5", usage_category="sms-outbound",
                trigger_by="count")
            triggers.append(t.sid)

            def send(n):
                client = gw.client()
                for i in range(n):
                    try:
                        client.messages.create(to=f"+1201556{rng.randrange(10000):04d}", from_=FROM, body="x")
                    except Exception:
                        return

            threads = [threading.Thread(target=send, args=(3,)) for _ in range(3)]
            for th in threads:
                th.start()
            time.sleep(rng.uniform(0.0, 0.15))
            assert gw.stop(signal.SIGKILL) == -signal.SIGKILL
            for th in threads:
                th.join()
            gw.start()
            send(6)  # at least 5 after creation, whatever the kill cut off
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            got = {p["UsageTriggerSid"] for p in callbacks(receiver)}
            if got >= set(triggers):
                break
            time.sleep(0.1)
        time.sleep(1)
        per_trigger = {}
        for p in callbacks(receiver):
            per_trigger.setdefault(p["UsageTriggerSid"], set()).add(p["IdempotencyToken"])
        assert set(per_trigger) == set(triggers)
        assert all(len(tokens) == 1 for tokens in per_trigger.values()), per_trigger
        # One firing per crossing (one token each). A kill between the
        # receiver's answer and Tollgate recording it makes the restarted
        # node send that callback again, with the same token: at most one
        # repeat per kill, never a missing callback.
        raw = len(callbacks(receiver))
        print(f"crash loop: 20 runs, {len(per_trigger)} triggers, {raw} callbacks received "
              f"({raw - 20} repeated after a kill mid-delivery)")
        assert 20 <= raw <= 40
    finally:
        receiver.close()
        gw.stop()


def test_an_api_key_cannot_set_or_remove_a_trigger_that_suspends(gw):
    main = gw.client()
    sub = main.api.v2010.accounts.create(friendly_name="tenant")
    key = gw.client(sub.sid, sub.auth_token).new_keys.create(friendly_name="app")
    keyed = gw.client(key.sid, key.secret, sub.sid)
    url = f"{gw.url}/2010-04-01/Accounts/{sub.sid}/Usage/Triggers.json"
    params = {"CallbackUrl": "https://example.com/u", "TriggerValue": "5", "UsageCategory": "sms"}
    r = keyed.request("POST", url, data={**params, "Action": "suspend"})
    assert r.status_code == 401, r.text
    r = keyed.request("POST", url, data=params)
    assert r.status_code == 201, r.text
    keyed.api.v2010.accounts(sub.sid).usage.triggers(__import__("json").loads(r.text)["sid"]).delete()
    acting = create_trigger(gw, sub.sid, **params, Action="suspend")
    with pytest.raises(TwilioRestException) as err:
        keyed.api.v2010.accounts(sub.sid).usage.triggers(acting.sid).delete()
    assert err.value.status == 401
    assert [t.sid for t in main.api.v2010.accounts(sub.sid).usage.triggers.list()] == [acting.sid]
