"""Failed authentication, as an attacker holding nothing or one tenant's
credentials would try it: throttled per source and per SID (429, code 99020,
Retry-After), alerted (so an alarm can watch brute force), argon2 bounded,
and no timing difference between unknown and known key SIDs."""

import base64
import http.client
import json
import statistics
import threading
import time
from urllib.parse import parse_qsl

import requests

from conftest import Gateway
from test_messaging import env
from webhook_receiver import Receiver


def attempt(gw, user, password, source="127.0.0.1", path=None):
    """One GET with Basic credentials from a chosen loopback source address:
    (status, JSON body, Retry-After, seconds taken)."""
    conn = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=10, source_address=(source, 0))
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    started = time.monotonic()
    conn.request("GET", path or f"/2010-04-01/Accounts/{gw.account_sid}.json",
                 headers={"Authorization": f"Basic {token}"})
    r = conn.getresponse()
    body = r.read()
    took = time.monotonic() - started
    conn.close()
    return r.status, (json.loads(body) if body else None), r.getheader("Retry-After"), took


def gateway(tmp_dir, **extra):
    return Gateway(tmp_dir / "data", env=env(**extra)).init().start()


def test_a_guessing_source_is_throttled_and_alerted_and_an_alarm_fires(tmp_dir):
    receiver = Receiver()
    gw = gateway(tmp_dir, TOLLGATE_AUTH_FAILURES_PER_SOURCE=5, TOLLGATE_AUTH_FAILURE_FLOOR_MS=0)
    try:
        r = requests.post(f"{gw.url}/v2/Alarms", auth=(gw.account_sid, gw.auth_token), timeout=10,
                          json={"queryType": "ERROR_CODE", "query": "99020", "triggerValue": 1,
                                "webhook": receiver.base + "/brute"})
        assert r.status_code == 201, r.text
        statuses = [attempt(gw, gw.account_sid, "x" * 32, source="127.0.0.2")[0] for _ in range(5)]
        assert statuses == [401] * 5
        status, body, retry_after, _ = attempt(gw, gw.account_sid, "y" * 32, source="127.0.0.2")
        assert (status, body["code"]) == (429, 99020), body
        assert body["more_info"].endswith("/99020") and 1 <= int(retry_after) <= 60
        # Even the right token waits while its source is throttled...
        assert attempt(gw, gw.account_sid, gw.auth_token, source="127.0.0.2")[0] == 429
        # ...and every other source goes on as before.
        assert attempt(gw, gw.account_sid, gw.auth_token, source="127.0.0.3")[0] == 200
        [hook] = receiver.wait_for(1, timeout=10)
        p = dict(parse_qsl(hook["body"].decode()))
        assert p["ErrorCode"] == "99020"
        alerts = requests.get(f"{gw.url}/v1/Alerts", auth=(gw.account_sid, gw.auth_token), timeout=10).json()
        throttled = [a for a in alerts["alerts"] if a["error_code"] == "99020"]
        assert len(throttled) == 1 and "127.0.0.2" in throttled[0]["alert_text"], throttled
        assert gw.auth_token not in json.dumps(alerts)
    finally:
        receiver.close()
        gw.stop()


def test_a_distributed_guess_at_one_account_holds_back_new_sources_only(tmp_dir):
    gw = gateway(tmp_dir, TOLLGATE_AUTH_FAILURES_PER_SOURCE=100, TOLLGATE_AUTH_FAILURES_PER_NAME=6,
                 TOLLGATE_AUTH_FAILURE_FLOOR_MS=0)
    try:
        # The account's own client authenticated from here before the attack.
        assert attempt(gw, gw.account_sid, gw.auth_token, source="127.0.0.1")[0] == 200
        for i in range(6):
            assert attempt(gw, gw.account_sid, "z" * 32, source=f"127.0.1.{i + 1}")[0] == 401
        status, body, _, _ = attempt(gw, gw.account_sid, "z" * 32, source="127.0.1.50")
        assert (status, body["code"]) == (429, 99020)
        # A new source is held back even with the right token; the known one is not.
        assert attempt(gw, gw.account_sid, gw.auth_token, source="127.0.2.1")[0] == 429
        assert attempt(gw, gw.account_sid, gw.auth_token, source="127.0.0.1")[0] == 200
    finally:
        gw.stop()


def test_api_key_guesses_after_a_restart_cost_no_argon2_beyond_the_budget_and_do_not_tell_sids_apart(tmp_dir):
    gw = gateway(tmp_dir, TOLLGATE_AUTH_FAILURES_PER_SOURCE=8)
    try:
        main = gw.client()
        victim = main.new_keys.create(friendly_name="victim")
        legit = main.new_keys.create(friendly_name="legit")
        gw.stop()
        gw.start()  # no key has been verified since start-up: each check is an argon2 run
        unknown = "SK" + "0" * 32
        timings = {"known": [], "unknown": []}
        for i in range(4):
            for name, sid in (("known", victim.sid), ("unknown", unknown)):
                status, body, _, took = attempt(gw, sid, f"wrong-{i}" * 4, source=f"127.0.3.{i + 1}")
                assert status == 401, body
                timings[name].append(took)
        # Unknown and known SIDs take the same time (the floor covers the argon2 run).
        known, unk = statistics.median(timings["known"]), statistics.median(timings["unknown"])
        assert min(timings["known"] + timings["unknown"]) >= 0.1
        assert abs(known - unk) < 0.05, timings
        # Eight guessers at one key: past their budgets they get 429 at once, without argon2.
        results = []

        def guesser(n):
            for i in range(12):
                results.append(attempt(gw, victim.sid, f"guess-{n}-{i}", source=f"127.0.4.{n + 1}"))

        threads = [threading.Thread(target=guesser, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        first_use = attempt(gw, legit.sid, legit.secret, source="127.0.0.1",
                            path=f"/2010-04-01/Accounts/{gw.account_sid}/Messages.json")
        for t in threads:
            t.join()
        # Each guesser's own budget of 8, less what the key's budget (50) took first.
        throttled = [r for r in results if r[0] == 429]
        assert len([r for r in results if r[0] == 401]) <= 8 * 8
        assert len(throttled) >= 8 * 4, [r[0] for r in results]
        assert all(r[1]["code"] == 99020 and r[3] < 0.1 for r in throttled)
        assert first_use[0] == 200, first_use
    finally:
        gw.stop()
