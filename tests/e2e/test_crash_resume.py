"""A 201 means the send will happen, even across kill -9: sends in flight
when Tollgate dies are resumed at start-up, each settles once, and each of
its status callbacks arrives (with one idempotency token per status)."""

import os
import random
import shutil
import signal
import threading
import time
import uuid
from contextlib import contextmanager
from urllib.parse import parse_qsl

import pytest

from conftest import Gateway
from test_cli import psql
from test_messaging import env
from webhook_receiver import Receiver

FROM = "+12015550123"
FINAL = {"delivered", "undelivered", "failed"}


def posted(receiver):
    with receiver.lock:
        return [(dict(parse_qsl(r["body"].decode(), keep_blank_values=True)), r["headers"]["I-Twilio-Idempotency-Token"])
                for r in receiver.requests]


PG_URL = os.environ.get("TOLLGATE_TEST_POSTGRES_URL")


@contextmanager
def database(kind):
    """Gateway arguments for a fresh database of `kind`."""
    if kind == "sqlite":
        yield []
        return
    if not PG_URL or not shutil.which("psql"):
        pytest.skip("TOLLGATE_TEST_POSTGRES_URL and psql are needed")
    schema = f"tollgate_crash_{uuid.uuid4().hex[:10]}"
    assert psql(PG_URL, f"CREATE SCHEMA {schema}").returncode == 0
    try:
        sep = "&" if "?" in PG_URL else "?"
        yield ["--database-url", f"{PG_URL}{sep}options=-c%20search_path%3D{schema}"]
    finally:
        psql(PG_URL, f"DROP SCHEMA {schema} CASCADE")


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_kill_9_during_send_bursts_every_acknowledged_send_settles_once_with_its_callbacks(tmp_dir, kind):
    with database(kind) as args:
        kill_9_during_send_bursts(tmp_dir, args)


def kill_9_during_send_bursts(tmp_dir, args):
    receiver = Receiver()
    rng = random.Random(11)
    # Sends take 2 x 300 ms in the sandbox and calls 1 s: many are in flight at each kill.
    gw = Gateway(tmp_dir / "data", extra_args=args,
                 env=env(TOLLGATE_SANDBOX_STEP_MS=300, TOLLGATE_SANDBOX_CALL_SECONDS=1,
                         TOLLGATE_WEBHOOK_RETRY_BASE_MS=50)).init().start()
    messages, calls = [], []
    lock = threading.Lock()
    try:
        gw.client().api.v2010.accounts(gw.account_sid).incoming_phone_numbers.create(phone_number=FROM)
        for run in range(4):
            stop = threading.Event()

            def burst(n):
                client = gw.client()
                i = 0
                while not stop.is_set():
                    i += 1
                    try:
                        if i % 5 == 0:
                            c = client.calls.create(to=f"+1201557{rng.randrange(10000):04d}", from_=FROM,
                                                    url="https://example.com/twiml",
                                                    status_callback=receiver.base + "/call")
                            with lock:
                                calls.append(c.sid)
                        else:
                            m = client.messages.create(to=f"+1201556{rng.randrange(10000):04d}", from_=FROM,
                                                       body=f"run {run} #{n}.{i}",
                                                       status_callback=receiver.base + "/sms")
                            with lock:
                                messages.append(m.sid)
                    except Exception:
                        return

            threads = [threading.Thread(target=burst, args=(n,)) for n in range(3)]
            for t in threads:
                t.start()
            time.sleep(rng.uniform(0.4, 0.9))
            assert gw.stop(signal.SIGKILL) == -signal.SIGKILL
            stop.set()
            for t in threads:
                t.join()
            gw.start()
        assert len(messages) > 20 and len(calls) > 3, (len(messages), len(calls))

        client = gw.client()
        deadline = time.monotonic() + 60
        pending = set(messages)
        while pending and time.monotonic() < deadline:
            pending = {sid for sid in pending if client.messages(sid).fetch().status not in FINAL}
            time.sleep(0.2)
        assert not pending, f"{len(pending)} acknowledged messages never settled"
        pending = set(calls)
        while pending and time.monotonic() < deadline:
            pending = {sid for sid in pending if client.calls(sid).fetch().status != "completed"}
            time.sleep(0.2)
        assert not pending, f"{len(pending)} acknowledged calls never completed"

        # Every status callback: one token per (send, status), none missing.
        def tokens():
            out = {}
            for params, token in posted(receiver):
                sid = params.get("MessageSid") or params.get("CallSid")
                status = params.get("MessageStatus") or params.get("CallStatus")
                out.setdefault((sid, status), set()).add(token)
            return out

        wanted = {(sid, "sent") for sid in messages} | {(sid, "delivered") for sid in messages} \
            | {(sid, "completed") for sid in calls}
        while not wanted <= set(tokens()) and time.monotonic() < deadline:
            time.sleep(0.2)
        got = tokens()
        missing = wanted - set(got)
        assert not missing, f"{len(missing)} status callbacks never arrived, e.g. {sorted(missing)[:3]}"
        twice = {k: v for k, v in got.items() if len(v) > 1}
        assert not twice, f"{len(twice)} statuses reported under two deliveries, e.g. {list(twice.items())[:2]}"
        # Each message reached its final status once: the final callbacks name one status each.
        finals = {}
        for (sid, status) in got:
            if status in FINAL:
                finals.setdefault(sid, set()).add(status)
        assert all(len(s) == 1 for s in finals.values())
        print(f"crash bursts: 4 kills, {len(messages)} messages and {len(calls)} calls acknowledged, "
              f"{len(posted(receiver))} callbacks received for {len(got)} (send, status) pairs")
    finally:
        receiver.close()
        gw.stop()
