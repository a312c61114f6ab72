"""The command line: init, serve, exit codes, first run, shutdown, PostgreSQL."""

import json
import os
import re
import shutil
import signal
import time
import socket
import subprocess
import uuid

import pytest

from conftest import Gateway, free_port, run


def test_init_json_prints_one_line_and_refuses_a_second_time(tmp_dir):
    data = tmp_dir / "data"
    r = run(["init", "--data-dir", str(data), "--json"])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 1
    creds = json.loads(lines[0])
    assert set(creds) == {"account_sid", "auth_token"}
    assert re.match(r"^AC[0-9a-f]{32}$", creds["account_sid"])
    assert re.match(r"^[0-9a-f]{32}$", creds["auth_token"])
    key_before = (data / "master.key").read_bytes()

    again = run(["init", "--data-dir", str(data), "--json"])
    assert again.returncode == 1
    assert "already initialised" in again.stderr and again.stdout == ""
    assert (data / "master.key").read_bytes() == key_before

    # Nothing changed: the first credentials work and there is one account.
    gw = Gateway(data)
    gw.account_sid, gw.auth_token = creds["account_sid"], creds["auth_token"]
    gw.start()
    try:
        assert [a.sid for a in gw.client().api.v2010.accounts.list()] == [creds["account_sid"]]
    finally:
        assert gw.stop() == 0


def test_serve_lists_every_config_error_and_binds_nothing(tmp_dir):
    port = free_port()
    env = dict(os.environ, TOLLGATE_MASTER_KEY="not-hex", TOLLGATE_LISTEN=f"127.0.0.1:{port}")
    r = run(["serve", "--data-dir", str(tmp_dir / "d"), "--listen", "nowhere",
             "--database-url", "mysql://user:hunter2@db/x"], env=env)
    assert r.returncode == 64
    assert "listen: 'nowhere'" in r.stderr
    assert "database url" in r.stderr and "hunter2" not in r.stderr
    assert "TOLLGATE_MASTER_KEY" in r.stderr
    assert not (tmp_dir / "d").exists()
    r = run(["serve", "--no-such-flag"])
    assert r.returncode == 64


def test_first_serve_initialises_and_prints_credentials_once(tmp_dir):
    gw = Gateway(tmp_dir / "fresh").start()
    out = gw.out_path.read_text()
    sid = re.search(r"Account SID: (AC[0-9a-f]{32})", out).group(1)
    token = re.search(r"Auth token:  ([0-9a-f]{32})", out).group(1)
    gw.account_sid, gw.auth_token = sid, token
    assert gw.client().api.v2010.accounts(sid).fetch().status == "active"
    assert "listening on http://127.0.0.1:" in gw.log_path.read_text()
    assert gw.stop() == 0
    gw.start()
    assert gw.out_path.read_text().count(token) == 1
    assert gw.client().api.v2010.accounts(sid).fetch().sid == sid
    assert gw.stop(signal.SIGINT) == 0


def test_sigterm_finishes_in_flight_requests(tmp_dir):
    """A key creation (argon2, tens of ms) in flight when SIGTERM arrives still completes."""
    gw = Gateway(tmp_dir / "data").init().start()
    body = f"FriendlyName=inflight".encode()
    request = (
        f"POST /2010-04-01/Accounts/{gw.account_sid}/Keys.json HTTP/1.1\r\nHost: x\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Authorization: Basic {__import__('base64').b64encode(f'{gw.account_sid}:{gw.auth_token}'.encode()).decode()}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body
    with socket.create_connection(("127.0.0.1", gw.port)) as s:
        s.sendall(request)
        # Let the server read the request (the argon2 run then keeps it in
        # flight for tens of ms); a connection with no request yet is closed.
        time.sleep(0.02)
        gw.proc.send_signal(signal.SIGTERM)
        response = b""
        while chunk := s.recv(65536):
            response += chunk
    assert response.startswith(b"HTTP/1.1 201"), response[:200]
    assert gw.proc.wait(timeout=20) == 0
    gw.proc = None
    gw.log.close()
    gw.out.close()


def psql(url, sql):
    return subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-qc", sql], capture_output=True, text=True)


@pytest.mark.skipif(not os.environ.get("TOLLGATE_TEST_POSTGRES_URL") or not shutil.which("psql"),
                    reason="TOLLGATE_TEST_POSTGRES_URL and psql are needed")
def test_postgres_backend_end_to_end(tmp_dir):
    base = os.environ["TOLLGATE_TEST_POSTGRES_URL"]
    schema = f"tollgate_e2e_{uuid.uuid4().hex[:10]}"
    assert psql(base, f"CREATE SCHEMA {schema}").returncode == 0
    try:
        sep = "&" if "?" in base else "?"
        url = f"{base}{sep}options=-c%20search_path%3D{schema}"
        gw = Gateway(tmp_dir / "pgdata", extra_args=["--database-url", url]).init().start()
        sub = gw.client().api.v2010.accounts.create(friendly_name="on postgres")
        assert gw.stop() == 0
        assert not (gw.data_dir / "tollgate.db").exists()
        gw.start()
        assert gw.client(sub.sid, sub.auth_token).api.v2010.accounts(sub.sid).fetch().friendly_name == "on postgres"
        assert gw.stop() == 0
        count = subprocess.run(["psql", base, "-tAc", f"SELECT count(*) FROM {schema}.accounts"],
                               capture_output=True, text=True)
        assert count.stdout.strip() == "2"
    finally:
        psql(base, f"DROP SCHEMA {schema} CASCADE")
