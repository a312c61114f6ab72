"""Audit events: the Monitor Events API with the official SDK, the hash
chain checked by `tollgate audit verify`, tampering on SQLite and
PostgreSQL, and the JSON-lines SIEM sink."""

import json
import os
import shutil
import sqlite3
import subprocess
import uuid

import pytest
from twilio.base.exceptions import TwilioRestException

from conftest import Gateway, run

PG_URL = os.environ.get("TOLLGATE_TEST_POSTGRES_URL")


def scripted_changes(gw):
    """A series of changes; returns what they were, for checking."""
    c = gw.client()
    key = c.new_keys.create(friendly_name="ci key")
    c.api.v2010.accounts(gw.account_sid).keys(key.sid).update(friendly_name="ci key 2")
    sub = c.api.v2010.accounts.create(friendly_name="tenant")
    c.api.v2010.accounts(sub.sid).update(status="suspended")
    c.voice.v1.dialing_permissions.bulk_country_updates.create(
        update_request=json.dumps([{"iso_code": "GB", "low_risk_numbers_enabled": "true"}])
    )
    done_secondary = c.accounts.v1.secondary_auth_token().create().secondary_auth_token
    c.api.v2010.accounts(gw.account_sid).keys(key.sid).delete()
    return {"key": key, "sub": sub, "secondary": done_secondary}


def test_events_api_lists_the_changes_with_actor_ip_and_resource_and_no_secret(gateway):
    done = scripted_changes(gateway)
    c = gateway.client()
    events = c.monitor.v1.events.list(limit=100)
    types = [e.event_type for e in events]
    # Newest first; init's two events (account.created, geo) come last.
    assert types == [
        "account-keys.deleted",
        "account-secondary-auth-token.created",
        "voice-geographic-permissions.updated",
        "account.updated",
        "account.created",
        "account-keys.updated",
        "account-keys.created",
        "voice-geographic-permissions.updated",
        "account.created",
    ], types
    api_events = events[:-2]
    for e in api_events:
        assert e.actor_sid == gateway.account_sid and e.actor_type == "account"
        assert e.source == "api" and e.source_ip_address == "127.0.0.1"
    assert events[-1].source == "cli" and events[-1].actor_type == "user"
    created = next(e for e in events if e.event_type == "account-keys.created")
    assert created.resource_sid == done["key"].sid and created.resource_type == "account-keys"
    assert created.event_data == {"after": {"friendly_name": "ci key"}}
    suspended = next(e for e in events if e.event_type == "account.updated")
    assert suspended.resource_sid == done["sub"].sid
    assert suspended.event_data == {"before": {"status": "active"}, "after": {"status": "suspended"}}
    # No secret anywhere: the key secret, the auth tokens, the new secondary.
    everything = json.dumps([e.event_data for e in events])
    assert done["key"].secret not in everything
    assert gateway.auth_token not in everything
    assert done["secondary"] not in everything
    assert "secret" not in everything.lower() and "token" not in json.dumps(
        [e.event_data for e in events if "token" not in e.event_type]
    ).lower()

    # Filters combine (Twilio allows one at a time).
    both = c.monitor.v1.events.list(event_type="account-keys.created", resource_sid=done["key"].sid)
    assert [e.sid for e in both] == [created.sid]
    assert c.monitor.v1.events.list(event_type="account-keys.created", resource_sid=done["sub"].sid) == []
    assert c.monitor.v1.events(created.sid).fetch().event_type == "account-keys.created"
    # Paging walks the whole list.
    assert [e.sid for e in c.monitor.v1.events.list(page_size=2)] == [e.sid for e in events]

    # A subaccount sees only its own events; the parent sees them too.
    sub = c.api.v2010.accounts.create(friendly_name="other")
    sub_client = gateway.client(sub.sid, sub.auth_token)
    sub_client.new_keys.create(friendly_name="sub key")
    own = sub_client.monitor.v1.events.list()
    assert [e.event_type for e in own] == ["account-keys.created"]
    with pytest.raises(TwilioRestException) as err:
        sub_client.monitor.v1.events(created.sid).fetch()
    assert err.value.status == 404
    assert own[0].sid in [e.sid for e in c.monitor.v1.events.list()]

    # The chain is intact; the checkpoint is its head.
    v = run(["audit", "verify", "--data-dir", str(gateway.data_dir)])
    assert v.returncode == 0 and "audit chain intact" in v.stdout, v.stdout + v.stderr
    cp = run(["audit", "checkpoint", "--data-dir", str(gateway.data_dir)])
    assert cp.returncode == 0
    seq, head = cp.stdout.strip().split(":")
    assert int(seq) == len(c.monitor.v1.events.list())  # the parent sees every event here
    assert run(["audit", "verify", "--data-dir", str(gateway.data_dir), "--expect-head", cp.stdout.strip()]).returncode == 0


def test_failed_logins_and_policy_blocks_are_recorded_in_aggregate(gateway):
    bad = gateway.client(gateway.account_sid, "x" * 32)
    for _ in range(3):
        with pytest.raises(TwilioRestException):
            bad.api.v2010.accounts(gateway.account_sid).fetch()
    c = gateway.client()
    c.api.v2010.accounts(gateway.account_sid).incoming_phone_numbers.create(phone_number="+12015550123")
    for _ in range(2):
        with pytest.raises(TwilioRestException):
            c.messages.create(to="+447400123456", from_="+12015550123", body="hi")
    # Aggregates are written every minute and at shutdown.
    assert gateway.stop() == 0
    gateway.start()
    events = gateway.client().monitor.v1.events.list()
    failed = [e for e in events if e.event_type == "account.authentication-failed"]
    assert len(failed) == 1 and failed[0].event_data["count"] == 3
    assert failed[0].source_ip_address == "127.0.0.1" and failed[0].actor_type == "tollgate"
    blocked = [e for e in events if e.event_type == "tollgate-policy.blocked"]
    assert blocked and blocked[0].event_data == {"rule": "geo.country_not_enabled", "count": 2, "window_seconds": 60}


def tamper_cases():
    # (description, SQL, what verify must name)
    return [
        ("edit", "UPDATE audit_events SET event_data = '{\"x\":1}' WHERE seq = 3", "seq 3) was edited"),
        ("delete", "DELETE FROM audit_events WHERE seq = 3", "seq 3 is missing"),
        ("swap", "UPDATE audit_events SET seq = -1 WHERE seq = 3; UPDATE audit_events SET seq = 3 WHERE seq = 4; "
                 "UPDATE audit_events SET seq = 4 WHERE seq = -1", "seq 3) does not follow"),
        ("insert", "UPDATE audit_events SET seq = -seq WHERE seq > 2; UPDATE audit_events SET seq = -seq + 1 WHERE seq < 0; "
                   "INSERT INTO audit_events SELECT 3, 'AEforged', account_sid, actor_sid, actor_type, source, "
                   "source_ip_address, event_type, resource_sid, resource_type, event_data, event_date, hash, hash "
                   "FROM audit_events WHERE seq = 2", "seq 3) was edited"),
        ("truncate", "DELETE FROM audit_events WHERE seq > 3", "head"),
    ]


@pytest.mark.parametrize("case", tamper_cases(), ids=[c[0] for c in tamper_cases()])
def test_tampering_on_sqlite_is_named_by_verify(tmp_dir, case):
    _, sql, named = case
    gw = Gateway(tmp_dir / "data").init().start()
    c = gw.client()
    for i in range(4):
        c.new_keys.create(friendly_name=f"k{i}")
    assert gw.stop() == 0
    assert run(["audit", "verify", "--data-dir", str(gw.data_dir)]).returncode == 0
    db = sqlite3.connect(gw.data_dir / "tollgate.db")
    db.executescript(sql)
    db.commit()
    db.close()
    v = run(["audit", "verify", "--data-dir", str(gw.data_dir)])
    assert v.returncode == 1, v.stdout + v.stderr
    assert "BROKEN" in v.stdout and named in v.stdout, v.stdout


@pytest.mark.skipif(not PG_URL, reason="TOLLGATE_TEST_POSTGRES_URL is not set")
@pytest.mark.parametrize("case", tamper_cases(), ids=[c[0] for c in tamper_cases()])
def test_tampering_on_postgres_is_named_by_verify(tmp_dir, case):
    _, sql, named = case
    name = "tollgate_audit_" + uuid.uuid4().hex[:10]
    base, _, _ = PG_URL.rpartition("/")
    psql = shutil.which("psql")
    assert psql, "psql is needed"
    subprocess.run([psql, PG_URL, "-qc", f"CREATE DATABASE {name}"], check=True, capture_output=True)
    url = f"{base}/{name}"
    try:
        gw = Gateway(tmp_dir / "data", extra_args=["--database-url", url]).init().start()
        c = gw.client()
        for i in range(4):
            c.new_keys.create(friendly_name=f"k{i}")
        assert gw.stop() == 0
        assert run(["audit", "verify", "--data-dir", str(gw.data_dir), "--database-url", url]).returncode == 0
        subprocess.run([psql, url, "-qc", sql], check=True, capture_output=True)
        v = run(["audit", "verify", "--data-dir", str(gw.data_dir), "--database-url", url])
        assert v.returncode == 1, v.stdout + v.stderr
        assert "BROKEN" in v.stdout and named in v.stdout, v.stdout
    finally:
        subprocess.run([psql, PG_URL, "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], capture_output=True)


def test_the_siem_file_sink_gets_each_event_once_in_order_across_restarts(tmp_dir):
    env = dict(os.environ, TOLLGATE_AUDIT_FILE="audit.jsonl")
    gw = Gateway(tmp_dir / "data", env=env).init().start()
    c = gw.client()
    c.new_keys.create(friendly_name="a")
    assert gw.stop() == 0
    gw.start()
    c = gw.client()
    c.new_keys.create(friendly_name="b")
    c.new_keys.create(friendly_name="c")
    assert gw.stop() == 0
    lines = [json.loads(l) for l in (gw.data_dir / "audit.jsonl").read_text().splitlines()]
    assert [l["seq"] for l in lines] == list(range(1, len(lines) + 1))
    assert [l["event_type"] for l in lines][-3:] == ["account-keys.created"] * 3
    assert [l["event_data"]["after"]["friendly_name"] for l in lines[-3:]] == ["a", "b", "c"]
    # Each line carries its chain link.
    assert all(lines[i]["prev_hash"] == lines[i - 1]["hash"] for i in range(1, len(lines)))
