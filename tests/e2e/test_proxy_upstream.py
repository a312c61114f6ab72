"""Proxy mode: an account's upstream Twilio account, checked against a fake
Twilio before it is stored, sealed at rest and never shown."""

import sys

import pytest
import requests

from conftest import ROOT, Gateway

sys.path.insert(0, str(ROOT / "tests"))
from fake_twilio import FakeTwilio  # noqa: E402


def env(**extra):
    import os
    e = dict(os.environ)
    e.update({"TOLLGATE_SANDBOX_STEP_MS": "0", "TOLLGATE_WEBHOOK_ALLOW_PRIVATE": "1"})
    e.update({k: str(v) for k, v in extra.items()})
    return e


@pytest.fixture
def fake():
    f = FakeTwilio(step=0.01, seed=7, subaccounts=1).start()
    yield f
    f.stop()
    f.assert_no_violations()


@pytest.fixture
def proxy(tmp_dir, fake):
    g = Gateway(tmp_dir / "data", env=env(TOLLGATE_CARRIER="twilio",
                                          TOLLGATE_UPSTREAM_BASE_URL=fake.base_url)).init().start()
    yield g
    assert g.stop() == 0


def upstream_form(account):
    key_sid, key = next(iter(account.keys.items()))
    return {"AccountSid": account.sid, "ApiKeySid": key_sid,
            "ApiKeySecret": key["secret"], "AuthToken": account.auth_token}


def post(gw, path, data, auth=None):
    return requests.post(gw.url + path, data=data, auth=auth or (gw.account_sid, gw.auth_token), timeout=10)


def test_upstream_credentials_are_checked_sealed_and_never_shown(proxy, fake):
    path = f"/tollgate/v1/Accounts/{proxy.account_sid}/Upstream"
    assert requests.get(proxy.url + path, auth=(proxy.account_sid, proxy.auth_token), timeout=10).status_code == 404

    wrong = dict(upstream_form(fake.main), AuthToken="0" * 32)
    r = post(proxy, path, wrong)
    assert r.status_code == 400 and r.json()["code"] == 99101, r.text

    form = upstream_form(fake.main)
    r = post(proxy, path, form)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["upstream_account_sid"] == fake.main.sid and body["api_key_sid"] == form["ApiKeySid"]
    assert form["ApiKeySecret"] not in r.text and form["AuthToken"] not in r.text
    got = requests.get(proxy.url + path, auth=(proxy.account_sid, proxy.auth_token), timeout=10)
    assert got.json() == body

    # A subaccount of this Tollgate account cannot take the same upstream account.
    sub = requests.post(f"{proxy.url}/2010-04-01/Accounts.json", data={"FriendlyName": "s"},
                        auth=(proxy.account_sid, proxy.auth_token), timeout=10).json()
    r = post(proxy, f"/tollgate/v1/Accounts/{sub['sid']}/Upstream", form)
    assert r.status_code == 409 and r.json()["code"] == 99102, r.text

    # Nothing secret in the data files or the logs.
    for f in (proxy.data_dir).rglob("*"):
        if f.is_file():
            data = f.read_bytes()
            assert form["ApiKeySecret"].encode() not in data, f
            assert form["AuthToken"].encode() not in data, f
    assert form["ApiKeySecret"] not in proxy.logs() and form["AuthToken"] not in proxy.logs()

    # Kept across a restart (sealed under the master key), then removed.
    proxy.stop()
    proxy.start()
    assert requests.get(proxy.url + path, auth=(proxy.account_sid, proxy.auth_token), timeout=10).json() == body
    r = requests.delete(proxy.url + path, auth=(proxy.account_sid, proxy.auth_token), timeout=10)
    assert r.status_code == 204
    assert requests.get(proxy.url + path, auth=(proxy.account_sid, proxy.auth_token), timeout=10).status_code == 404


def test_api_keys_cannot_set_upstream_credentials(proxy, fake):
    key = requests.post(f"{proxy.url}/2010-04-01/Accounts/{proxy.account_sid}/Keys.json",
                        data={"FriendlyName": "k"}, auth=(proxy.account_sid, proxy.auth_token), timeout=10).json()
    r = post(proxy, f"/tollgate/v1/Accounts/{proxy.account_sid}/Upstream", upstream_form(fake.main),
             auth=(key["sid"], key["secret"]))
    assert r.status_code == 401, r.text


def test_sandbox_carrier_refuses_upstream_credentials(tmp_dir, fake):
    g = Gateway(tmp_dir / "sandbox", env=env()).init().start()
    try:
        r = post(g, f"/tollgate/v1/Accounts/{g.account_sid}/Upstream", upstream_form(fake.main))
        assert r.status_code == 400 and r.json()["code"] == 99100, r.text
    finally:
        assert g.stop() == 0


def test_the_cli_sets_upstream_credentials_from_the_environment_and_a_running_server_follows(proxy, fake):
    import time
    from conftest import run
    key_sid, key = next(iter(fake.main.keys.items()))
    e = env(TOLLGATE_CARRIER="twilio", TOLLGATE_UPSTREAM_BASE_URL=fake.base_url,
            TOLLGATE_UPSTREAM_API_KEY_SECRET=key["secret"], TOLLGATE_UPSTREAM_AUTH_TOKEN=fake.main.auth_token)
    args = ["upstream", "--data-dir", str(proxy.data_dir), "--account", proxy.account_sid]
    r = run([*args, "--set", fake.main.sid, "--api-key-sid", key_sid], env=e)
    assert r.returncode == 0, r.stderr
    assert key["secret"] not in r.stdout and fake.main.auth_token not in r.stdout
    path = f"{proxy.url}/tollgate/v1/Accounts/{proxy.account_sid}/Upstream"
    deadline = time.monotonic() + 5
    while requests.get(path, auth=(proxy.account_sid, proxy.auth_token), timeout=10).status_code != 200:
        assert time.monotonic() < deadline, "the running server picks the change up"
        time.sleep(0.1)
    bad = dict(e, TOLLGATE_UPSTREAM_AUTH_TOKEN="0" * 32)
    r = run([*args, "--set", fake.main.sid, "--api-key-sid", key_sid], env=bad)
    assert r.returncode != 0 and "refused" in r.stderr
    r = run([*args, "--delete"], env=e)
    assert r.returncode == 0, r.stderr
    deadline = time.monotonic() + 5
    while requests.get(path, auth=(proxy.account_sid, proxy.auth_token), timeout=10).status_code != 404:
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_sync_imports_twilio_numbers_and_points_their_webhooks_at_tollgate(proxy, fake):
    import time
    from conftest import run
    from fake_twilio import WebhookApp
    app = WebhookApp(replies={"/sms": "<Response/>"})
    try:
        fake.add_number(fake.main, "+15005550040", sms_url=f"{app.url}/sms", voice_url=f"{app.url}/voice")
        r = post(proxy, f"/tollgate/v1/Accounts/{proxy.account_sid}/Upstream", upstream_form(fake.main))
        assert r.status_code == 200, r.text
        e = env(TOLLGATE_CARRIER="twilio", TOLLGATE_UPSTREAM_BASE_URL=fake.base_url, TOLLGATE_PUBLIC_URL=proxy.url)
        r = run(["upstream", "--data-dir", str(proxy.data_dir), "--account", proxy.account_sid,
                 "--sync", "--point-webhooks"], env=e)
        assert r.returncode == 0, r.stderr
        client = proxy.client()
        deadline = time.monotonic() + 5
        while True:
            found = client.incoming_phone_numbers.list(phone_number="+15005550040")
            if found and found[0].sms_url:
                break
            assert time.monotonic() < deadline, "the running server picks the numbers up"
            time.sleep(0.1)
        assert found[0].sms_url == f"{app.url}/sms", "the application's own URL stays in Tollgate"
        result = fake.inbound_sms("+15005550040", "+14155550177", "hello")
        assert result["url"] == f"{proxy.url}/tollgate/v1/Upstream/Sms", "Twilio now calls Tollgate"
        assert len(app.wait_for(1, "/sms")) == 1, "and the text reaches the application through it"
    finally:
        app.close()
