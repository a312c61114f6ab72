"""The fake Twilio, driven by the official twilio SDK (and raw requests where
the SDK would not send what is tested)."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.request_validator import RequestValidator

from . import FakeTwilio, WebhookApp, client_for
from .spec import SID_PATTERN

ROOT = Path(__file__).resolve().parents[2]
FROM = "+15005550006"
TO = "+14155550100"


@pytest.fixture
def fake():
    f = FakeTwilio(step=0.01).start()
    yield f
    f.stop()
    f.assert_responses_valid()


@pytest.fixture
def app():
    a = WebhookApp()
    yield a
    a.close()


def creds(account, key=False):
    """(username, password): the account's token, or its first API key."""
    if key:
        sid, k = next(iter(account.keys.items()))
        return sid, k["secret"]
    return account.sid, account.auth_token


def sdk(fake, account=None, key=False):
    account = account or fake.main
    return client_for(fake.base_url, *creds(account, key), account.sid)


def status_of(excinfo):
    """HTTP status of a TwilioRestException, or of the TwilioException that
    list calls raise with the response."""
    err = excinfo.value
    return err.status if hasattr(err, "status") else err.args[1].status_code


def signed_by(request, token):
    return RequestValidator(token).validate(request["url"], request["params"],
                                            request["headers"]["x-twilio-signature"])


def test_sms_status_callbacks_are_signed_with_the_owning_accounts_token(fake, app):
    main, sub = fake.main, fake.subaccounts[0]
    c = sdk(fake)
    m = c.messages.create(to=TO, from_=FROM, body="hello", status_callback=app.url + "/status?tenant=1")
    assert (m.status, m.direction, m.sid[:2], m.num_segments) == ("queued", "outbound-api", "SM", "1")
    hooks = app.wait_for(2)
    assert [h["form"]["MessageStatus"] for h in hooks] == [["sent"], ["delivered"]]
    for h in hooks:
        assert signed_by(h, main.auth_token)
        assert h["form"]["MessageSid"] == [m.sid] and h["form"]["AccountSid"] == [main.sid]
        assert {"SmsSid", "SmsStatus", "ApiVersion", "From", "To"} <= set(h["form"])
        assert h["headers"]["i-twilio-idempotency-token"]
    assert c.messages(m.sid).fetch().status == "delivered"

    # A main-account API key acts on the subaccount; Twilio signs with the subaccount's token.
    by_key = sdk(fake, main, key=True)
    s = by_key.api.v2010.accounts(sub.sid).messages.create(to=TO, from_=FROM, body="sub",
                                                           status_callback=app.url + "/sub")
    assert s.account_sid == sub.sid
    sub_hooks = app.wait_for(2, "/sub")
    assert all(signed_by(h, sub.auth_token) and not signed_by(h, main.auth_token) for h in sub_hooks)
    fake.assert_no_violations()


@pytest.mark.parametrize("to,from_,code", [
    ("+15005550004", FROM, 21610), ("+15005550001", FROM, 21211), ("+15005550002", FROM, 21612),
    ("+15005550003", FROM, 21408), ("+15005550009", FROM, 21614), (TO, "+15005550001", 21212),
    (TO, "+15005550007", 21606), (TO, "+15005550008", 21611), (TO, "+12015550123", 21606),
])
def test_magic_numbers_answer_twilios_errors(fake, to, from_, code):
    with pytest.raises(TwilioRestException) as e:
        sdk(fake).messages.create(to=to, from_=from_, body="x")
    assert (e.value.status, e.value.code) == (400, code)
    assert fake.messages == {}


def test_missing_parameters_get_twilios_codes_and_a_missing_to_is_a_violation(fake):
    url = f"{fake.base_url}/2010-04-01/Accounts/{fake.main.sid}/Messages.json"
    auth = (fake.main.sid, fake.main.auth_token)
    for data, code in (({"From": FROM, "Body": "x"}, 21604), ({"To": TO, "Body": "x"}, 21603),
                       ({"To": TO, "From": FROM}, 21602)):
        r = requests.post(url, data=data, auth=auth, timeout=5)
        assert (r.status_code, r.json()["code"]) == (400, code)
        assert set(r.json()) == {"code", "message", "more_info", "status"}
    assert [v["problems"] for v in fake.violations] == [["required parameter `To` is missing"]]


def test_wrong_credentials_and_foreign_accounts_get_401_20003(fake):
    main, sub = fake.main, fake.subaccounts[0]
    other = fake.add_account(friendly_name="someone else")
    with pytest.raises(TwilioRestException) as e:
        client_for(fake.base_url, main.sid, "0" * 32).messages.create(to=TO, from_=FROM, body="x")
    assert (e.value.status, e.value.code) == (401, 20003)
    for auth, target in ((creds(main), other.sid), (creds(sub, key=True), main.sid), (creds(sub), other.sid)):
        r = requests.get(f"{fake.base_url}/2010-04-01/Accounts/{target}/Messages.json", auth=auth, timeout=5)
        assert (r.status_code, r.json()["code"]) == (401, 20003), auth
    # The parent may suspend its subaccount, whose credentials then stop working.
    assert sdk(fake).api.v2010.accounts(sub.sid).update(status="suspended").status == "suspended"
    with pytest.raises(TwilioException) as e:
        sdk(fake, sub).messages.list()
    assert status_of(e) == 401


def test_call_lifecycle_honours_status_callback_events(fake, app):
    app.replies["/answer"] = "<Response><Say>hi</Say></Response>"
    c = sdk(fake)
    call = c.calls.create(to=TO, from_=FROM, url=app.url + "/answer", status_callback=app.url + "/call",
                          status_callback_event=["initiated", "ringing", "answered", "completed"])
    assert (call.status, call.sid[:2]) == ("queued", "CA")
    hooks = app.wait_for(4, "/call")
    assert [h["form"]["CallStatus"][0] for h in hooks] == ["initiated", "ringing", "in-progress", "completed"]
    assert [h["form"]["SequenceNumber"][0] for h in hooks] == ["0", "1", "2", "3"]
    assert hooks[-1]["form"]["CallDuration"] == ["5"] and all(signed_by(h, fake.main.auth_token) for h in hooks)
    answer = app.received("/answer")
    assert len(answer) == 1 and answer[0]["form"]["CallStatus"] == ["in-progress"]
    done = c.calls(call.sid).fetch()
    assert (done.status, done.duration) == ("completed", "5") and done.end_time > done.start_time
    fake.outcome("+14155550199", "busy")
    busy = c.calls.create(to="+14155550199", from_=FROM, url=app.url + "/answer")
    fake.settle()
    assert c.calls(busy.sid).fetch().status == "busy"
    fake.assert_no_violations()


def test_hanging_up_ends_a_call_at_once_and_sends_only_completed_by_default(app):
    with FakeTwilio(step=None) as fake:
        c = sdk(fake)
        call = c.calls.create(to=TO, from_=FROM, twiml="<Response><Pause length='60'/></Response>",
                              status_callback=app.url + "/quiet")
        fake.advance()
        assert c.calls(call.sid).update(status="completed").status == "completed"
        fake.settle()
        assert [h["form"]["CallStatus"] for h in app.received("/quiet")] == [["completed"]]
        with pytest.raises(TwilioRestException) as e:
            c.calls(call.sid).update(status="completed")
        assert e.value.code == 21220


def test_repeated_media_url_and_status_callback_event_are_kept_as_lists(fake, app):
    c = sdk(fake)
    m = c.messages.create(to=TO, from_=FROM, media_url=["https://e.com/a.jpg", "https://e.com/b.jpg"])
    assert (m.sid[:2], m.num_media) == ("MM", "2")
    c.calls.create(to=TO, from_=FROM, url=app.url + "/a", status_callback=app.url + "/c",
                   status_callback_event=["ringing", "completed"])
    sent = fake.requests_to("POST", r"/(Messages|Calls)\.json$")
    assert sent[0]["form"]["MediaUrl"] == ["https://e.com/a.jpg", "https://e.com/b.jpg"]
    assert sent[1]["form"]["StatusCallbackEvent"] == ["ringing", "completed"]
    fake.assert_no_violations()


def test_a_request_the_spec_rejects_is_a_violation(fake):
    url = f"{fake.base_url}/2010-04-01/Accounts/{fake.main.sid}/Messages.json"
    auth = (fake.main.sid, fake.main.auth_token)
    r = requests.post(url, data={"To": TO, "From": FROM, "Body": "x", "Colour": "red"}, auth=auth, timeout=5)
    assert (r.status_code, r.json()["code"]) == (400, 20422)
    r = requests.post(url, data=[("To", TO), ("From", FROM), ("Body", "a"), ("Body", "b"),
                                 ("ProvideFeedback", "maybe")], auth=auth, timeout=5)
    assert r.status_code == 400
    r = requests.get(f"{fake.base_url}/2010-04-01/Accounts/{fake.main.sid}/Nothing.json", auth=auth, timeout=5)
    assert (r.status_code, r.json()["code"]) == (404, 20404)
    problems = [p for v in fake.violations for p in v["problems"]]
    assert problems == ["form parameter `Colour` is not in the spec",
                        "form parameter `Body` is repeated, the spec's is a single string",
                        "form ProvideFeedback: 'maybe' is not a boolean",
                        "no such path in Twilio's spec"]
    with pytest.raises(AssertionError, match="Colour"):
        fake.assert_no_violations()
    assert fake.messages == {}


def test_pass_through_operations_answer_spec_shaped_resources(fake):
    c = sdk(fake)
    assert c.conferences.list() == [] and c.recordings.list() == [] and c.queues.list() == []
    q = c.queues.create(friendly_name="support", max_size=10)
    assert (q.sid[:2], q.friendly_name, q.max_size, q.account_sid) == ("QU", "support", 10, fake.main.sid)
    assert [x.sid for x in c.queues.list()] == [q.sid]
    assert c.queues(q.sid).update(friendly_name="help").friendly_name == "help"
    assert c.queues(q.sid).fetch().friendly_name == "help"
    c.queues(q.sid).delete()
    assert c.queues.list() == []
    with pytest.raises(TwilioRestException) as e:
        c.conferences("CF" + "0" * 32).fetch()
    assert (e.value.status, e.value.code) == (404, 20404)
    assert c.lookups.v2.phone_numbers("+14155550100").fetch().phone_number == "+14155550100"
    # v1 lists page with absolute https://*.twilio.com URLs; the SDK follows them.
    sids = {c.messaging.v1.services.create(friendly_name=f"s{i}").sid for i in range(3)}
    assert {s.sid for s in c.messaging.v1.services.list(page_size=2)} == sids
    assert len(fake.requests_to("GET", r"^/v1/Services$")) == 2
    fake.assert_no_violations()


def test_paging_follows_next_page_uri(fake):
    c = sdk(fake)
    sent = [c.messages.create(to=TO, from_=FROM, body=str(i)).sid for i in range(5)]
    assert [m.sid for m in c.messages.list(page_size=2)] == sent[::-1]
    page = requests.get(f"{fake.base_url}/2010-04-01/Accounts/{fake.main.sid}/Messages.json",
                        params={"PageSize": 2, "To": TO}, auth=(fake.main.sid, fake.main.auth_token), timeout=5).json()
    assert (page["start"], page["end"], page["page_size"], page["previous_page_uri"]) == (0, 1, 2, None)
    assert page["next_page_uri"].startswith(f"/2010-04-01/Accounts/{fake.main.sid}/Messages.json?To=%2B1415")
    assert [m.sid for m in c.messages.list(to=TO, page_size=2)] == sent[::-1]
    assert [m.sid for m in c.messages.list(to="+19999999999")] == []


def test_updates_redact_and_delete(fake):
    c = sdk(fake)
    m = c.messages.create(to=TO, from_=FROM, body="secret 1234")
    with pytest.raises(TwilioRestException) as e:
        c.messages(m.sid).update(body="")
    assert (e.value.status, e.value.code) == (400, 20009)
    fake.settle()
    assert c.messages(m.sid).update(body="").body == ""
    with pytest.raises(TwilioRestException) as e:
        c.messages(m.sid).update(status="canceled")
    assert e.value.code == 30409
    assert c.messages(m.sid).delete() is True
    with pytest.raises(TwilioRestException) as e:
        c.messages(m.sid).fetch()
    assert (e.value.status, e.value.code) == (404, 20404)


def test_numbers_and_inbound_sms_through_the_control_api(fake, app):
    app.replies["/sms"] = "<Response><Message>Thanks!</Message></Response>"
    sub = fake.subaccounts[0]
    c = sdk(fake, sub)
    available = c.available_phone_numbers("US").local.list(area_code="415")
    assert [a.phone_number for a in available][:2] == ["+14155550100", "+14155550101"]
    n = c.incoming_phone_numbers.create(phone_number=available[1].phone_number, sms_url=app.url + "/sms")
    assert (n.sid[:2], n.sms_url, n.account_sid) == ("PN", app.url + "/sms", sub.sid)
    assert c.incoming_phone_numbers(n.sid).update(voice_url=app.url + "/voice").voice_url == app.url + "/voice"
    assert [x.phone_number for x in c.incoming_phone_numbers.list()] == [n.phone_number]
    with pytest.raises(TwilioRestException) as e:
        c.incoming_phone_numbers.create(phone_number="+15005550000")
    assert e.value.code == 21422

    r = requests.post(f"{fake.base_url}/_fake/inbound/sms", json={"To": n.phone_number, "From": TO, "Body": "hi"},
                      timeout=5).json()
    assert (r["status"], r["body"]) == (200, app.replies["/sms"])
    hook = app.received("/sms")[0]
    assert signed_by(hook, sub.auth_token)
    assert (hook["form"]["Body"], hook["form"]["SmsStatus"], hook["form"]["AccountSid"]) == (["hi"], ["received"],
                                                                                            [sub.sid])
    received = c.messages(r["message_sid"]).fetch()
    assert (received.direction, received.status, received.body) == ("inbound", "received", "hi")
    reply = c.messages(r["replies"][0]).fetch()
    assert (reply.direction, reply.to, reply.from_, reply.body) == ("outbound-reply", TO, n.phone_number, "Thanks!")

    app.replies["/voice"] = "<Response><Dial><Number>+442071838750</Number></Dial></Response>"
    call = requests.post(f"{fake.base_url}/_fake/inbound/call", json={"To": n.phone_number, "From": TO},
                         timeout=5).json()
    assert call["dialed"] == ["+442071838750"] and signed_by(app.received("/voice")[0], sub.auth_token)
    assert c.calls(call["call_sid"]).fetch().direction == "inbound"
    c.incoming_phone_numbers(n.sid).delete()
    assert c.incoming_phone_numbers.list() == []
    fake.assert_no_violations()


def test_out_of_order_and_duplicated_callbacks(app):
    with FakeTwilio(step=None, out_of_order=True, duplicate_callbacks=True, seed=7) as fake:
        m = sdk(fake).messages.create(to=TO, from_=FROM, body="x", status_callback=app.url + "/s")
        fake.settle()
        hooks = app.wait_for(4, "/s")
        statuses = [h["form"]["MessageStatus"][0] for h in hooks]
        assert statuses == ["delivered", "delivered", "sent", "sent"]
        tokens = [h["headers"]["i-twilio-idempotency-token"] for h in hooks]
        assert tokens[0] == tokens[1] != tokens[2] == tokens[3]
        assert fake.message(m.sid)["status"] == "delivered"
        fake.assert_responses_valid()


def test_failure_modes(fake):
    c = sdk(fake)
    fake.fail("reset", count=1, path=r"/Messages\.json$", method="POST")
    with pytest.raises(requests.ConnectionError):
        c.messages.create(to=TO, from_=FROM, body="ambiguous")
    assert [m.body for m in c.messages.list()] == ["ambiguous"], "created once, answer lost"

    fake.fail("429", count=1)
    with pytest.raises(TwilioRestException) as e:
        c.messages.create(to=TO, from_=FROM, body="x")
    assert (e.value.status, e.value.code) == (429, 20429)
    fake.fail("500", count=1)
    with pytest.raises(TwilioRestException) as e:
        c.messages.create(to=TO, from_=FROM, body="x")
    assert (e.value.status, e.value.code) == (500, 20500)
    assert len(c.messages.list()) == 1, "refused requests create nothing"

    fake.fail("slow", count=1, delay_ms=150)
    started = time.monotonic()
    c.messages.list()
    assert time.monotonic() - started >= 0.15

    fake.fail("down")
    with pytest.raises(requests.ConnectionError):
        c.messages.list()
    fake.up()
    assert len(c.messages.list()) == 1
    r = requests.post(f"{fake.base_url}/_fake/failures", json={"mode": "503", "count": 1}, timeout=5)
    assert r.status_code == 201
    with pytest.raises(TwilioException) as e:
        c.messages.list()
    assert status_of(e) == 503
    fake.assert_no_violations()


def test_deterministic_given_a_seed_with_time_as_a_parameter():
    def run():
        with FakeTwilio(seed=3, step=None, clock=lambda: 1_700_000_000) as fake:
            m = sdk(fake).messages.create(to=TO, from_=FROM, body="x")
            fake.advance()
            return fake.main.sid, fake.main.auth_token, m.sid, fake.message(m.sid)
    first, second = run(), run()
    assert first == second
    assert first[3]["status"] == "sent" and first[3]["date_sent"] == "Tue, 14 Nov 2023 22:13:20 +0000"


def test_command_line_serves_and_prints_credentials():
    proc = subprocess.Popen([sys.executable, "-m", "tests.fake_twilio", "--port", "0", "--seed", "1"], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    try:
        info = json.loads(proc.stdout.readline())
        main = info["accounts"][0]
        assert requests.get(info["base_url"] + "/_fake/health", timeout=5).json() == {"ok": True}
        r = requests.get(f"{info['base_url']}/2010-04-01/Accounts/{main['sid']}.json",
                         auth=(main["keys"][0]["sid"], main["keys"][0]["secret"]), timeout=5)
        assert r.json()["sid"] == main["sid"]
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


def sample(spec, doc, schema, typed=False):
    """A value the schema accepts: form text, or a JSON value if `typed`."""
    schema = spec.resolve(doc, schema)
    kind, fmt = schema.get("type"), schema.get("format")
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "array":
        return [sample(spec, doc, schema.get("items", {}), typed)]
    if kind in ("integer", "number"):
        n = max(1, schema.get("minimum", 1))
        return n if typed else str(n)
    if kind == "boolean":
        return True if typed else "true"
    if kind == "object":
        return {} if typed else "{}"
    prefix = SID_PATTERN.match(schema.get("pattern", "") or "")
    if prefix:
        return prefix.group(1) + "0" * 32
    return {"uri": "https://example.com/x", "phone-number": "+14155550100", "date-time": "2024-01-01T00:00:00Z",
            "date": "2024-01-01"}.get(fmt, "x")


def concrete(fake, op):
    path = op.template
    for name in op.path_params:
        value = fake.main.sid if name == "AccountSid" else \
            sample(fake.spec, op.doc, (op.params.get(("path", name)) or {}).get("schema", {}))
        path = path.replace("{" + name + "}", {"CountryCode": "US", "PhoneNumber": "+14155550100"}.get(name, value))
    return path


def test_every_spec_operation_gets_a_spec_valid_answer(fake):
    """Every read and every create of the fronted domains' specs, then the
    created resource's fetch, update and delete: answers are 2xx (or 404
    for an unknown instance), shaped as the spec says, with no violation."""
    spec, auth = fake.spec, creds(fake.main)
    native = set(fake.routes)
    exercised = set()
    for (method, template), op in spec.ops.items():
        if method != "GET" and not (method == "POST" and op.item.get("x-twilio", {}).get("pathType") == "list"):
            continue
        if (method, template) in native:
            continue
        path = concrete(fake, op)
        query = {n: sample(spec, op.doc, p.get("schema", {})) for (i, n), p in op.params.items()
                 if i == "query" and p.get("required")}
        body = op.body_schema or {}
        required = {n: sample(spec, op.doc, body["properties"][n], op.body_type == "application/json")
                    for n in body.get("required") or []}
        kwargs = {"json": required} if op.body_type == "application/json" else {"data": required}
        r = requests.request(method, fake.base_url + path, params=query, auth=auth, timeout=5,
                             allow_redirects=False, **kwargs)
        exercised.add(op.name)
        expected = 404 if method == "GET" and op.last_is_param and r.status_code == 404 else op.status
        assert r.status_code == expected, f"{method} {template}: {r.status_code} {r.text[:200]}"
        if method == "POST" and r.status_code < 300:
            created = r.json()
            sid = created.get("sid")
            instance = (path[:-5] + f"/{sid}.json") if path.endswith(".json") else f"{path}/{sid}"
            found = spec.match(instance)
            readable = sid and found and ("GET", found[0]) in spec.ops
            if readable:
                assert requests.get(fake.base_url + instance, auth=auth, timeout=5).json() == created
            update = spec.ops.get(("POST", found[0])) if sid and found else None
            if update is not None and update.body_type != "application/json":
                form = {n: sample(spec, update.doc, update.body_schema["properties"][n])
                        for n in (update.body_schema or {}).get("required") or []}
                r = requests.post(fake.base_url + instance, data=form, auth=auth, timeout=5)
                assert r.status_code == update.status, f"POST {found[0]}: {r.text[:200]}"
                exercised.add(update.name)
            if sid and found and ("DELETE", found[0]) in spec.ops:
                assert requests.delete(fake.base_url + instance, auth=auth, timeout=5).status_code == 204
                if readable:
                    assert requests.get(fake.base_url + instance, auth=auth, timeout=5).status_code == 404
    assert len(exercised) > 260, len(exercised)
    fake.assert_no_violations()
    fake.assert_responses_valid()
