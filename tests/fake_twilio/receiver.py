"""A local web app for tests: records the webhooks it receives, with the
form parameters' repeated names kept, and answers with set TwiML."""

import http.server
import socket
import threading
import time
from urllib.parse import parse_qsl


class Params(dict):
    """Form parameters as RequestValidator takes them: first values, and
    getlist() for repeated names (as Django's QueryDict)."""

    def __init__(self, pairs):
        super().__init__()
        self.pairs = list(pairs)
        for k, v in self.pairs:
            self.setdefault(k, v)

    def getlist(self, name):
        return [v for k, v in self.pairs if k == name]


class WebhookApp:
    """`replies` maps a path to the body it answers (TwiML); other paths get
    an empty 200. `requests` holds dicts: method, path, url, headers
    (lower-case names), pairs (form, in order), form (name -> [values]),
    params (for RequestValidator)."""

    def __init__(self, replies=None, host="127.0.0.1"):
        self.replies = dict(replies or {})
        self.requests = []
        self.lock = threading.Lock()
        app = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, *args):
                pass

            def handle_any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                pairs = parse_qsl(body, keep_blank_values=True)
                form = {}
                for k, v in pairs:
                    form.setdefault(k, []).append(v)
                path = self.path.split("?")[0]
                with app.lock:
                    app.requests.append({"method": self.command, "path": path, "url": app.url + self.path,
                                         "headers": {k.lower(): v for k, v in self.headers.items()},
                                         "pairs": pairs, "form": form, "params": Params(pairs), "body": body})
                reply = app.replies.get(path, "").encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/xml" if reply else "text/plain")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            do_GET = do_POST = handle_any

        self.server = http.server.ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://{host}:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def received(self, path=None):
        with self.lock:
            return [r for r in self.requests if path is None or r["path"] == path]

    def wait_for(self, count, path=None, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            got = self.received(path)
            if len(got) >= count:
                return got
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} webhooks at {path or 'any path'}, got {len(got)}")
            time.sleep(0.005)

    def close(self):
        self.server.shutdown()
        self.server.server_close()
