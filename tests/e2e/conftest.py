"""Fixtures: a real `tollgate` process per test, driven by the official twilio SDK."""

import json
import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from twilio.rest import Client

ROOT = Path(__file__).resolve().parents[2]
BIN = os.environ.get("TOLLGATE_BIN", str(ROOT / "target" / "debug" / "tollgate"))
DOMAINS = ["api", "accounts", "lookups", "voice", "monitor", "verify", "messaging", "iam", "trunking"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(args, env=None, timeout=60):
    """Runs the tollgate binary to completion."""
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=timeout, env=env)


class Gateway:
    """A tollgate serving on a free loopback port from its own data dir."""

    def __init__(self, data_dir: Path, extra_args=(), env=None):
        self.data_dir = Path(data_dir)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.extra_args = list(extra_args)
        self.env = dict(os.environ if env is None else env)
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}-serve.log"
        self.out_path = self.data_dir.parent / f"{self.data_dir.name}-serve.out"
        self.proc = None

    def init(self):
        r = run(["init", "--data-dir", str(self.data_dir), "--json", *self.extra_args], env=self.env)
        assert r.returncode == 0, r.stderr
        creds = json.loads(r.stdout)
        self.account_sid, self.auth_token = creds["account_sid"], creds["auth_token"]
        return self

    def start(self):
        self.log = open(self.log_path, "ab")
        self.out = open(self.out_path, "ab")
        self.proc = subprocess.Popen(
            [BIN, "serve", "--data-dir", str(self.data_dir), "--listen", f"127.0.0.1:{self.port}", *self.extra_args],
            stdout=self.out, stderr=self.log, env=self.env,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"tollgate exited {self.proc.returncode}: {self.log_path.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError("tollgate did not start listening")

    def stop(self, sig=signal.SIGTERM) -> int:
        if self.proc is None:
            return 0
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=20)
        self.proc = None
        self.log.close()
        self.out.close()
        return code

    def client(self, username=None, password=None, account_sid=None) -> Client:
        c = Client(username or self.account_sid, password or self.auth_token, account_sid or None)
        for domain in DOMAINS:
            getattr(c, domain).base_url = self.url
        return c

    def logs(self) -> str:
        return self.log_path.read_text() + self.out_path.read_text()


@pytest.fixture
def tmp_dir():
    with tempfile.TemporaryDirectory(prefix="tollgate-e2e-") as d:
        yield Path(d)


@pytest.fixture
def gateway(tmp_dir):
    gw = Gateway(tmp_dir / "data").init().start()
    yield gw
    assert gw.stop() == 0, "tollgate did not shut down cleanly"


def rest_error(excinfo):
    """(HTTP status, Twilio code) of a TwilioRestException, or of the
    TwilioException("Unable to fetch page", response) that list calls raise."""
    err = excinfo.value
    if hasattr(err, "status"):
        return err.status, err.code
    response = err.args[1]
    return response.status_code, json.loads(response.text)["code"]
