"""No auth token, key secret or master key appears in plaintext in the
database files or the logs, even with trace-level logging."""

import os
from pathlib import Path

import pytest

from conftest import Gateway


def exercise(gw):
    """Creates every kind of secret and returns them all."""
    main = gw.client()
    secrets = [gw.auth_token]
    for i in range(3):
        sub = main.api.v2010.accounts.create(friendly_name=f"sub{i}")
        secrets.append(sub.auth_token)
        key = main.api.v2010.accounts(sub.sid).new_keys.create(friendly_name=f"k{i}")
        secrets.append(key.secret)
        keyed = gw.client(key.sid, key.secret, sub.sid)
        keyed.api.v2010.accounts(sub.sid).balance.fetch()
    key = main.api.v2010.accounts(gw.account_sid).new_keys.create(friendly_name="main key")
    secrets.append(key.secret)
    secondary = main.accounts.v1.secondary_auth_token().create().secondary_auth_token
    secrets.append(secondary)
    main.accounts.v1.auth_token_promotion().update()
    return secrets


def scan(paths, needles):
    found = []
    for path in paths:
        data = Path(path).read_bytes()
        for needle in needles:
            if needle and needle in data:
                found.append((str(path), needle[:6]))
    return found


def secret_variants(secret: str):
    raw = secret.encode()
    return [raw, raw.upper(), secret.encode("utf-16-le")]


@pytest.mark.parametrize("key_from_env", [False, True])
def test_no_plaintext_secret_in_store_or_logs(tmp_dir, key_from_env):
    env = dict(os.environ, TOLLGATE_LOG="trace")
    master_hex = None
    if key_from_env:
        master_hex = os.urandom(32).hex()
        env["TOLLGATE_MASTER_KEY"] = master_hex
    gw = Gateway(tmp_dir / "data", env=env).init().start()
    secrets = exercise(gw)
    assert gw.stop() == 0
    if key_from_env:
        assert not (gw.data_dir / "master.key").exists()
    else:
        key_file = gw.data_dir / "master.key"
        assert oct(key_file.stat().st_mode & 0o777) == "0o600"
        master_hex = key_file.read_text().strip()
    master_raw = bytes.fromhex(master_hex)

    needles = [v for s in secrets for v in secret_variants(s)]
    needles += [master_raw, *secret_variants(master_hex)]
    files = [p for p in gw.data_dir.iterdir() if p.name != "master.key"]
    assert any(p.name == "tollgate.db" for p in files)
    logs = [gw.log_path, gw.out_path]
    assert gw.log_path.stat().st_size > 10_000, "trace logging should have produced output"
    assert scan(files + logs, needles) == []
