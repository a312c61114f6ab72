"""A local HTTP server that records the webhooks Tollgate sends, for the e2e tests."""

import hashlib
import http.server
import re
import threading
import time
from base64 import b64encode

from requests.structures import CaseInsensitiveDict


class MultiDict(dict):
    """Repeated form names, as Django's QueryDict hands them to the validator."""

    def __init__(self, pairs):
        super().__init__()
        self.pairs = pairs
        for k, v in pairs:
            self.setdefault(k, v)

    def getlist(self, name):
        return [v for k, v in self.pairs if k == name]


class Receiver:
    """Records every request. `statuses` are answered in order (then 200).
    `basic=(user, pw)` or `digest=(user, pw)` demand that auth first.
    `slow=(n, seconds)`: the first n requests wait that long before answering."""

    def __init__(self, statuses=(), basic=None, digest=None, port=0, slow=(0, 0.0)):
        self.requests = []
        self.slow = list(slow)
        self.statuses = list(statuses)
        self.basic = basic
        self.digest = digest
        self.nonce = "dcd98b7102dd2f0e8b11d0f600bfb0c093"
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def handle_any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with receiver.lock:
                    receiver.requests.append(
                        {"method": self.command, "path": self.path, "headers": CaseInsensitiveDict(self.headers.items()), "body": body}
                    )
                    status = receiver.answer(self.command, self.path, self.headers)
                    delay = 0.0
                    if receiver.slow[0] > 0:
                        receiver.slow[0] -= 1
                        delay = receiver.slow[1]
                time.sleep(delay)
                try:
                    self.send_response(status)
                    if status == 401:
                        if receiver.digest:
                            self.send_header(
                                "WWW-Authenticate",
                                f'Digest realm="hooks", qop="auth", nonce="{receiver.nonce}", opaque="xyz"',
                            )
                        else:
                            self.send_header("WWW-Authenticate", 'Basic realm="hooks"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the sender gave up waiting

            do_GET = handle_any
            do_POST = handle_any

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, method, path, headers):
        auth = headers.get("Authorization")
        if self.basic:
            expected = "Basic " + b64encode(f"{self.basic[0]}:{self.basic[1]}".encode()).decode()
            if auth != expected:
                return 401
        if self.digest:
            if not auth or not self.digest_ok(method, auth):
                return 401
        return self.statuses.pop(0) if self.statuses else 200

    def digest_ok(self, method, header):
        fields = dict(re.findall(r'(\w+)="?([^",]*)"?', header))
        user, password = self.digest
        md5 = lambda s: hashlib.md5(s.encode()).hexdigest()
        ha1 = md5(f"{user}:hooks:{password}")
        ha2 = md5(f"{method}:{fields.get('uri')}")
        expected = md5(f"{ha1}:{self.nonce}:{fields.get('nc')}:{fields.get('cnonce')}:auth:{ha2}")
        return fields.get("username") == user and fields.get("response") == expected

    def wait_for(self, count, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.requests) >= count:
                    return list(self.requests)
            time.sleep(0.02)
        raise AssertionError(f"expected {count} requests, got {len(self.requests)}")

    def close(self):
        self.server.shutdown()
        self.server.server_close()
