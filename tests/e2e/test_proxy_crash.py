"""Proxy mode: kill -9 of Tollgate during a burst of creates to (fake)
Twilio. With their Idempotency-Keys retried after the restart, no message is
sent twice and none is lost: each is at Twilio once and in Tollgate's
records under Twilio's SID."""

import os
import signal
import sys
import threading
import time

import requests

from conftest import ROOT, Gateway

sys.path.insert(0, str(ROOT / "tests"))
from fake_twilio import FakeTwilio  # noqa: E402

FROM = "+15005550006"


def test_kill_during_a_burst_sends_each_message_once_and_loses_none(tmp_dir):
    fake = FakeTwilio(step=0.02, seed=5).start()
    env = dict(os.environ, TOLLGATE_CARRIER="twilio", TOLLGATE_UPSTREAM_BASE_URL=fake.base_url,
               TOLLGATE_UPSTREAM_TIMEOUT_MS="1000")
    gw = Gateway(tmp_dir / "data", env=env).init().start()
    try:
        key_sid, key = next(iter(fake.main.keys.items()))
        auth = (gw.account_sid, gw.auth_token)
        r = requests.post(f"{gw.url}/tollgate/v1/Accounts/{gw.account_sid}/Upstream",
                          data={"AccountSid": fake.main.sid, "ApiKeySid": key_sid,
                                "ApiKeySecret": key["secret"], "AuthToken": fake.main.auth_token},
                          auth=auth, timeout=10)
        assert r.status_code == 200, r.text
        gw.client().incoming_phone_numbers.create(phone_number=FROM)
        url = f"{gw.url}/2010-04-01/Accounts/{gw.account_sid}/Messages.json"
        bodies = {f"k{i}": f"burst message {i}" for i in range(12)}

        def create(k):
            try:
                return requests.post(url, data={"To": f"+1415555{1000 + int(k[1:]):04d}", "From": FROM,
                                                "Body": bodies[k]},
                                     auth=auth, headers={"Idempotency-Key": k}, timeout=10)
            except requests.RequestException:
                return None

        # Twilio is slow: the burst is in flight when Tollgate dies.
        fake.fail("slow", path="/Messages.json", method="POST", delay_ms=400)
        threads = [threading.Thread(target=create, args=(k,)) for k in bodies]
        for t in threads:
            t.start()
        time.sleep(0.2)
        gw.stop(signal.SIGKILL)
        for t in threads:
            t.join()
        time.sleep(0.6)  # what reached Twilio is created there
        fake.clear_failures() if hasattr(fake, "clear_failures") else fake.failures.clear()
        gw.start()

        # Retries with the same keys: an unsettled key answers 409 until
        # Tollgate has looked it up at Twilio, then each gets one answer.
        sids = {}
        deadline = time.monotonic() + 30
        while len(sids) < len(bodies):
            if time.monotonic() >= deadline:
                logs = gw.logs()
                at = logs.find("panicked")
                raise AssertionError(f"unsettled: {set(bodies) - set(sids)}\n{logs[max(at - 300, 0):at + 1200] if at >= 0 else logs[-3000:]}")
            for k in bodies:
                if k in sids:
                    continue
                r = create(k)
                if r is not None and r.status_code == 201:
                    sids[k] = r.json()["sid"]
                else:
                    assert r is not None and r.status_code == 409, (k, r and r.text)
            time.sleep(0.2)

        sent = [req for req in fake.requests if req["method"] == "POST" and req["path"].endswith("/Messages.json")]
        for k, body in bodies.items():
            at_twilio = [req for req in sent if req["form"].get("Body") == [body]]
            assert len(at_twilio) == 1, f"{k} reached Twilio {len(at_twilio)} times"
        listed = {m.sid for m in gw.client().messages.list(limit=100)}
        assert set(sids.values()) <= listed, "every message Twilio took is in Tollgate's records"
        assert len(set(sids.values())) == len(bodies)
    finally:
        gw.stop()
        fake.stop()
