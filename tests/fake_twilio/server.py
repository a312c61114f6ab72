"""A stateful fake of Twilio's REST API for tests: one threaded HTTP server
answers every path of the domains in spec.FILES, checks each request
against Twilio's OpenAPI specs, keeps messages and calls, and sends signed
webhooks. See README.md."""

import base64
import collections
import email.utils
import hmac
import itertools
import json
import random
import re
import socket
import struct
import sys
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode

from . import resources
from .spec import PAGING, load, snake
from .webhooks import Sender, Stepper

MODES = ("slow", "reset", "429", "500", "503")
ERRORS = {429: (20429, "Too Many Requests"), 500: (20500, "Internal Server Error"),
          503: (20503, "Service Unavailable")}


class Account:
    def __init__(self, sid, auth_token, parent, friendly_name, created, seq):
        self.sid, self.auth_token, self.parent = sid, auth_token, parent
        self.friendly_name, self.status = friendly_name, "active"
        self.created = self.updated = created
        self.seq = seq
        self.keys = {}  # SK sid -> {secret, friendly_name, created, updated, seq}

    def credentials(self):
        return {"sid": self.sid, "auth_token": self.auth_token, "parent": self.parent, "status": self.status,
                "friendly_name": self.friendly_name,
                "keys": [{"sid": s, "secret": k["secret"]} for s, k in self.keys.items()]}


class Ctx:
    """One API request, parsed."""

    def __init__(self, **kw):
        self.__dict__.update(kw)

    def q(self, name):
        return next((v for k, v in self.query if k == name), None)

    def f(self, name):
        return next((v for k, v in self.form if k == name), None)

    def form_list(self, name):
        return [v for k, v in self.form if k == name]


class Failure:
    def __init__(self, mode, count=None, path=None, method=None, delay_ms=0):
        if mode not in MODES:
            raise ValueError(f"unknown failure mode {mode!r}; modes: down, {', '.join(MODES)}")
        self.mode, self.count, self.delay_ms = mode, count, delay_ms
        self.path = re.compile(path) if path else None
        self.method = method.upper() if method else None

    def matches(self, method, path):
        return (self.method is None or self.method == method) and (self.path is None or self.path.search(path))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024

    def __init__(self, address, fake):
        self.fake = fake
        self.connections = set()
        super().__init__(address, _Handler)

    def process_request(self, request, client_address):
        self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        self.connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that hung up is no error
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeTwilio/1.0"
    sys_version = ""

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *args):
        pass

    def handle_any(self):
        self.server.fake._serve(self)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any


class FakeTwilio:
    """The fake. `step` is the seconds between two statuses of a message or
    call (None: they move only on advance()); `clock` gives the time written
    into resources; everything random comes from `seed`."""

    def __init__(self, port=0, host="127.0.0.1", seed=0, step=0.02, subaccounts=1, spec_dir=None, clock=time.time,
                 out_of_order=False, duplicate_callbacks=False, call_seconds=5, strict_from=True,
                 check_responses=True, log_limit=None, webhook_timeout=5.0):
        self.host, self.port = host, port
        self.spec = load(spec_dir)
        self.clock = clock
        self.rng = random.Random(seed)
        self.lock = threading.RLock()
        self.seq = itertools.count(1)
        self.step = step
        self.out_of_order, self.duplicate_callbacks = out_of_order, duplicate_callbacks
        self.call_seconds, self.strict_from, self.check_responses = call_seconds, strict_from, check_responses
        self.sender = Sender(webhook_timeout)
        self.steps = None
        self.routes = resources.routes()
        self.accounts, self.key_owner = {}, {}
        self.messages, self.calls, self.numbers = {}, {}, {}
        self.lists, self.singles = {}, {}  # generic resources: by list path, by instance path
        self.message_outcomes, self.call_outcomes = {}, {}
        self.requests = collections.deque(maxlen=log_limit)
        self.violations, self.response_problems, self.webhooks = [], [], []
        self.failures = []
        self._httpd = None
        self._thread = None
        self._up_timer = None
        self.main = self.add_account(friendly_name="Main account")
        self.add_key(self.main)
        self.subaccounts = []
        for i in range(subaccounts):
            sub = self.add_account(parent=self.main, friendly_name=f"Subaccount {i + 1}")
            self.add_key(sub)
            self.subaccounts.append(sub)

    # -- lifecycle -----------------------------------------------------------------------

    def start(self):
        self.steps = self.steps or Stepper(self.step)
        self.up()
        return self

    def stop(self):
        if self._up_timer:
            self._up_timer.cancel()
        self.down()
        if self.steps:
            self.steps.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def base_url(self):
        return f"http://{self.host}:{self.port}"

    def up(self):
        """Listens (again) on the same port."""
        with self.lock:
            if self._httpd is not None:
                return
            httpd = _Server((self.host, self.port), self)
            self.port = httpd.server_address[1]
            self._httpd = httpd
            self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                            name="fake-twilio-http", daemon=True)
            self._thread.start()

    def down(self):
        """Stops listening and drops open connections: connections are refused."""
        with self.lock:
            httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        for conn in list(httpd.connections):
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    # -- configuration -------------------------------------------------------------------

    def new_sid(self, prefix):
        with self.lock:
            return prefix + f"{self.rng.getrandbits(128):032x}"

    def next_seq(self):
        return next(self.seq)

    def add_account(self, parent=None, friendly_name=None):
        with self.lock:
            sid = self.new_sid("AC")
            acct = Account(sid, f"{self.rng.getrandbits(128):032x}", parent.sid if parent else None,
                           friendly_name or sid, self.now(), self.next_seq())
            self.accounts[sid] = acct
            return acct

    def add_key(self, account, friendly_name=None):
        with self.lock:
            sid = self.new_sid("SK")
            secret = f"{self.rng.getrandbits(128):032x}"
            now = self.now()
            account.keys[sid] = {"secret": secret, "friendly_name": friendly_name or sid, "created": now,
                                 "updated": now, "seq": self.next_seq()}
            self.key_owner[sid] = account.sid
            return sid, secret

    def add_number(self, account, phone_number, **fields):
        """Gives `account` a number; fields are IncomingPhoneNumber
        parameters (sms_url=..., voice_url=...)."""
        pairs = [("".join(w.title() for w in k.split("_")), v) for k, v in fields.items()]
        rec = resources.add_number(self, account, phone_number, pairs)
        if rec is None:
            raise ValueError(f"{phone_number} is taken")
        return rec.data

    def outcome(self, number, status, error_code=None):
        """Messages to `number` end `failed`/`undelivered` (with error_code);
        calls to it end `busy`/`no-answer`/`failed`."""
        if status in ("failed", "undelivered"):
            self.message_outcomes[number] = (status, error_code or 30003)
        if status in ("busy", "no-answer", "failed"):
            self.call_outcomes[number] = status
        if status not in ("failed", "undelivered", "busy", "no-answer"):
            raise ValueError(status)

    def fail(self, mode, count=None, path=None, method=None, delay_ms=0, for_ms=None):
        """Failure modes for API requests (not /_fake): `down` refuses
        connections (for `for_ms`, or until up()); `503`, `500`, `429` answer
        that error; `slow` waits delay_ms first; `reset` handles the request,
        then resets the connection instead of answering. `count` limits how
        many requests fail; `path` (a regex) and `method` pick them."""
        if mode == "down":
            self.down()
            if for_ms:
                self._up_timer = threading.Timer(for_ms / 1000, self.up)
                self._up_timer.daemon = True
                self._up_timer.start()
            return
        with self.lock:
            self.failures.append(Failure(mode, count, path, method, delay_ms))

    def heal(self):
        with self.lock:
            self.failures.clear()
        self.up()

    # -- time ------------------------------------------------------------------------------

    def now(self):
        return datetime.fromtimestamp(self.clock(), timezone.utc)

    @staticmethod
    def rfc2822(dt):
        return email.utils.format_datetime(dt)

    @staticmethod
    def parse2822(text):
        return email.utils.parsedate_to_datetime(text)

    def stamp(self):
        return self.rfc2822(self.now())

    # -- webhooks --------------------------------------------------------------------------

    def webhook(self, account, url, method, pairs, kind, sid, token=None, attempt=1):
        """Sends one signed webhook now and records it in `webhooks`."""
        token = token or self._idempotency_token()
        result = self.sender.send(account.auth_token, url, method, pairs, token)
        record = {"kind": kind, "sid": sid, "account_sid": account.sid, "url": url, "method": (method or "POST"),
                  "params": list(pairs), "idempotency_token": token, "attempt": attempt, "time": self.clock(),
                  **result}
        with self.lock:
            self.webhooks.append(record)
        return record

    def _idempotency_token(self):
        with self.lock:
            h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def status_callback(self, rec, url, method, pairs, kind, final):
        """A status callback: sent now (twice with duplicate_callbacks), or,
        with out_of_order, held until the resource's last status and then
        sent in a shuffled order."""
        token = self._idempotency_token()
        with self.lock:
            if url:
                rec.meta["held"].append((url, method, pairs, token))
            if self.out_of_order and not final:
                return
            held, rec.meta["held"] = rec.meta["held"], []
            if self.out_of_order and len(held) > 1:
                shuffled = held[:]
                self.rng.shuffle(shuffled)
                held = shuffled if shuffled != held else held[::-1]
        account = self.accounts[rec.account_sid]
        for url, method, pairs, token in held:
            for attempt in (1, 2) if self.duplicate_callbacks else (1,):
                self.webhook(account, url, method, pairs, kind, rec.data["sid"], token, attempt)

    def inbound_sms(self, to, from_, body="", media=(), extra=()):
        """A text from `from_` to the account number `to`: the fake stores it,
        POSTs the signed webhook to the number's SmsUrl, sends the <Message>
        replies, and returns the app's answer."""
        return resources.inbound_sms(self, to, from_, body, media, extra)

    def inbound_call(self, to, from_, extra=()):
        """A call to the account number `to`: POSTs the signed webhook to its
        VoiceUrl and returns the TwiML (also `dialed`, `rejected`)."""
        return resources.inbound_call(self, to, from_, extra)

    def advance(self):
        """Manual mode (step=None): runs every pending lifecycle step once."""
        return self.steps.advance()

    def settle(self, timeout=10.0):
        """Waits until no message or call has a status step left."""
        deadline = time.monotonic() + timeout
        while self.steps.pending():
            if self.step is None:
                self.advance()
                continue
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.steps.pending()} lifecycle steps still pending")
            time.sleep(0.005)

    def wait_for(self, predicate, timeout=10.0, what="condition"):
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            if self.step is None:
                self.advance()
            time.sleep(0.005)

    # -- inspection ------------------------------------------------------------------------

    def message(self, sid):
        with self.lock:
            rec = self.messages.get(sid)
            return dict(rec.data) if rec else None

    def call(self, sid):
        with self.lock:
            rec = self.calls.get(sid)
            return dict(rec.data) if rec else None

    def requests_to(self, method=None, path=None):
        """Logged API requests, oldest first, filtered by method and a path regex."""
        with self.lock:
            return [e for e in self.requests if (method is None or e["method"] == method)
                    and (path is None or re.search(path, e["path"]))]

    def assert_no_violations(self):
        with self.lock:
            found = list(self.violations)
        assert not found, "requests Twilio's spec rejects:\n" + "\n".join(
            f"  {v['method']} {v['path']}: {'; '.join(v['problems'])}" for v in found)

    def assert_responses_valid(self):
        with self.lock:
            found = list(self.response_problems)
        assert not found, "fake answers that Twilio's spec rejects:\n" + "\n".join(f"  {p}" for p in found)

    # -- answers ---------------------------------------------------------------------------

    @staticmethod
    def error(status, code, message, headers=None):
        return status, {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
                        "status": status}, headers or {}

    def not_found(self, path):
        return self.error(404, 20404, f"The requested resource {path} was not found")

    def page(self, ctx, rows, key):
        """A page of `rows` (newest first) in the shape of the operation:
        2010's start/end/*_page_uri, or v1's meta with absolute URLs."""
        try:
            size = int(ctx.q("PageSize") or 50)
            number = int(ctx.q("Page") or 0)
        except ValueError:
            size, number = 50, 0
        size = max(1, min(size, 1000))
        token = ctx.q("PageToken") or ""
        sids = [r.get("sid") for r in rows]
        start = number * size
        if token[:2] in ("PA", "PB") and token[2:] in sids:
            i = sids.index(token[2:])
            start = i + 1 if token[:2] == "PA" else max(0, i - size)
        chunk = rows[start:start + size]
        filters = "".join(urlencode([(k, v)]) + "&" for k, v in ctx.query if k not in PAGING)

        def link(page, tok=None):
            return f"{ctx.path}?{filters}PageSize={size}&Page={page}" + (f"&PageToken={tok}" if tok else "")
        more = start + size < len(rows)
        next_link = link(number + 1, "PA" + chunk[-1]["sid"]) if more and chunk and chunk[-1].get("sid") else \
            link(number + 1) if more else None
        prev_link = None
        if number > 0:
            prev_link = link(number - 1, "PB" + chunk[0]["sid"]) if chunk and chunk[0].get("sid") else link(number - 1)
        this = link(number, token or None)
        if ctx.op.list_key and "meta" in (ctx.op.schema.get("properties") or {}):
            base = ctx.op.base
            body = {key: chunk, "meta": {
                "page": number, "page_size": size, "first_page_url": base + link(0),
                "previous_page_url": base + prev_link if prev_link else None, "url": base + this,
                "next_page_url": base + next_link if next_link else None, "key": key}}
        else:
            body = {key: chunk, "end": start + len(chunk) - 1 if chunk else 0, "first_page_uri": link(0),
                    "next_page_uri": next_link, "page": number, "page_size": size, "previous_page_uri": prev_link,
                    "start": start, "uri": this}
        return 200, body, {}

    # -- HTTP ------------------------------------------------------------------------------

    def _serve(self, h):
        try:
            body = self._read_body(h)
        except (ValueError, OSError):
            h.close_connection = True
            return
        path, _, query = h.path.partition("?")
        if path.startswith("/_fake/"):
            status, payload, headers = self._control(h.command, path, query, body)
            self._write(h, status, payload, headers)
            return
        failure = self._failure(h.command, path)
        if failure and failure.mode == "slow":
            time.sleep(failure.delay_ms / 1000)
        if failure and failure.mode in ("429", "500", "503"):
            status = int(failure.mode)
            code, text = ERRORS[status]
            entry = self._log(h, path, query, body)
            entry["status"] = status
            self._write(h, *self.error(status, code, text))
            return
        status, payload, headers = self._api(h, path, query, body)
        if failure and failure.mode == "reset":
            # The request took effect; the client sees a reset, not the answer.
            h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            h.connection.close()
            h.close_connection = True
            return
        self._write(h, status, payload, headers)

    @staticmethod
    def _read_body(h):
        if "chunked" in (h.headers.get("Transfer-Encoding") or "").lower():
            out = b""
            while True:
                size = int(h.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while h.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += h.rfile.read(size)
                h.rfile.readline()
        length = int(h.headers.get("Content-Length") or 0)
        return h.rfile.read(length) if length else b""

    def _write(self, h, status, payload, headers):
        data = b"" if payload is None else json.dumps(payload).encode()
        try:
            h.send_response(status)
            if payload is not None:
                h.send_header("Content-Type", "application/json; charset=utf-8")
            h.send_header("Content-Length", str(len(data)))
            h.send_header("Twilio-Request-Id", f"RQ{self.next_seq():032x}")
            for k, v in (headers or {}).items():
                h.send_header(k, v)
            h.end_headers()
            if data and h.command != "HEAD":
                h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            h.close_connection = True

    def _failure(self, method, path):
        with self.lock:
            for f in self.failures:
                if f.matches(method, path):
                    if f.count is not None:
                        f.count -= 1
                        if f.count <= 0:
                            self.failures.remove(f)
                    return f
        return None

    def _log(self, h, path, query, body):
        ctype = h.headers.get("Content-Type") or ""
        text = body.decode("utf-8", "replace")
        form, parsed_json = [], None
        if body and ctype.startswith("application/json"):
            try:
                parsed_json = json.loads(text)
            except ValueError:
                pass
        elif body:
            form = parse_qsl(text, keep_blank_values=True)
        grouped = {}
        for k, v in form:
            grouped.setdefault(k, []).append(v)
        entry = {"seq": self.next_seq(), "time": self.clock(), "method": h.command, "path": path,
                 "query": parse_qsl(query, keep_blank_values=True),
                 "headers": {k.lower(): v for k, v in h.headers.items()}, "content_type": ctype,
                 "form": grouped, "pairs": form, "json": parsed_json, "body": text, "operation": None,
                 "principal": None, "status": None, "violations": []}
        with self.lock:
            self.requests.append(entry)
        return entry

    def _authenticate(self, header):
        if not header or not header.startswith("Basic "):
            return None
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        with self.lock:
            if user.startswith("AC"):
                acct = self.accounts.get(user)
                secret = acct.auth_token if acct else None
            else:
                acct = self.accounts.get(self.key_owner.get(user, ""))
                secret = acct.keys[user]["secret"] if acct else None
        if acct is None or not hmac.compare_digest(secret.encode(), password.encode()):
            return None
        return acct

    def _api(self, h, path, query, body):
        entry = self._log(h, path, query, body)
        try:
            status, payload, headers = self._answer(h, entry)
        except Exception as e:  # a bug of the fake: the test must see it
            with self.lock:
                self.response_problems.append(f"{entry['method']} {path}: the fake raised {type(e).__name__}: {e}")
            status, payload, headers = self.error(500, 20500, "Internal Server Error (fake Twilio bug)")
        entry["status"] = status
        if self.check_responses and 200 <= status < 300 and entry["operation"]:
            self._check_response(entry, status, payload)
        return status, payload, headers

    def _violation(self, entry, problems):
        entry["violations"] = problems
        with self.lock:
            self.violations.append({"seq": entry["seq"], "method": entry["method"], "path": entry["path"],
                                    "operation": entry["operation"], "problems": problems})

    def _answer(self, h, entry):
        method, path = entry["method"], entry["path"]
        found = self.spec.match(path)
        if found is None:
            self._violation(entry, ["no such path in Twilio's spec"])
            return self.not_found(path)
        template, params = found
        op = self.spec.ops.get((method, template))
        if op is None:
            self._violation(entry, [f"{method} is not an operation of {template} "
                                    f"(the spec has {', '.join(self.spec.methods(template))})"])
            return self.error(405, 20004, "Method not allowed")
        entry["operation"] = op.name
        problems, missing = self.spec.check_request(op, params, entry["query"], entry["pairs"], entry["json"],
                                                    entry["content_type"])
        if entry["json"] is None and op.body_type == "application/json" and not entry["body"]:
            problems = [p for p in problems if not p.startswith("body is not JSON")]
            missing = missing or ["(a JSON body)"]
        if problems or missing:
            self._violation(entry, problems + [f"required parameter `{m}` is missing" for m in missing])
        principal = self._authenticate(h.headers.get("Authorization"))
        if principal is None or principal.status != "active":
            return self.error(401, 20003, "Authenticate", {"WWW-Authenticate": 'Basic realm="Twilio API"'})
        entry["principal"] = principal.sid
        target_sid = params.get("AccountSid") or (params.get("Sid") if template ==
                                                  "/2010-04-01/Accounts/{Sid}.json" else None)
        account = self.accounts.get(target_sid) if target_sid else principal
        if account is None or not (account is principal or account.parent == principal.sid):
            return self.error(401, 20003, "Authenticate", {"WWW-Authenticate": 'Basic realm="Twilio API"'})
        if account.status != "active" and not (account is not principal and template ==
                                               "/2010-04-01/Accounts/{Sid}.json"):
            return self.error(401, 20003, "Authenticate", {"WWW-Authenticate": 'Basic realm="Twilio API"'})
        if problems:
            return self.error(400, 20422, f"Invalid parameter: {problems[0]}")
        ctx = Ctx(method=method, path=path, template=template, op=op, params=params, query=entry["query"],
                  form=entry["pairs"], json=entry["json"], principal=principal, account=account,
                  headers=entry["headers"])
        handler = self.routes.get((method, template))
        if handler is None:
            if missing:
                return self.error(400, 20001, f"Missing required parameter {missing[0]} in the post body")
            handler = generic
        answer = handler(self, ctx)
        return answer if len(answer) == 3 else (*answer, {})

    def _check_response(self, entry, status, payload):
        class Shim:
            status_code, text = status, json.dumps(payload) if payload is not None else ""

            @staticmethod
            def json():
                if payload is None:
                    raise ValueError("no body")
                return payload
        checker = self.spec.checker()
        method, template = entry["operation"].split(" ", 1)
        checker.response(method, template, Shim)
        if checker.problems:
            with self.lock:
                self.response_problems.extend(checker.problems)

    # -- control API ------------------------------------------------------------------------

    def _control(self, method, path, query, body):
        try:
            data = json.loads(body) if body else {}
        except ValueError:
            return 400, {"error": "body is not JSON"}, {}
        parts = path.strip("/").split("/")[1:]
        route = (method, "/".join(parts[:1]))
        try:
            if route == ("GET", "files"):
                return 200, {}, {}
            if route == ("GET", "health"):
                return 200, {"ok": True}, {}
            if route == ("GET", "accounts"):
                return 200, [a.credentials() for a in sorted(self.accounts.values(), key=lambda a: a.seq)], {}
            if route == ("POST", "accounts") and len(parts) == 1:
                parent = self.accounts.get(data["parent"]) if data.get("parent") else None
                acct = self.add_account(parent, data.get("friendly_name"))
                self.add_key(acct)
                return 201, acct.credentials(), {}
            if route == ("POST", "accounts") and parts[2:] == ["keys"]:
                sid, secret = self.add_key(self.accounts[parts[1]])
                return 201, {"sid": sid, "secret": secret}, {}
            if route == ("POST", "accounts") and parts[2:] == ["numbers"]:
                number = dict(data)
                phone = number.pop("phone_number")
                return 201, self.add_number(self.accounts[parts[1]], phone, **number), {}
            if route == ("GET", "requests"):
                since = int(dict(parse_qsl(query)).get("since", 0))
                with self.lock:
                    return 200, [e for e in self.requests if e["seq"] > since], {}
            if route == ("DELETE", "requests"):
                with self.lock:
                    self.requests.clear()
                    self.violations.clear()
                return 204, None, {}
            if route == ("GET", "violations"):
                with self.lock:
                    return 200, list(self.violations), {}
            if route == ("GET", "webhooks"):
                with self.lock:
                    return 200, list(self.webhooks), {}
            if route == ("GET", "messages"):
                with self.lock:
                    return 200, [dict(r.data) for r in self.messages.values()], {}
            if route == ("GET", "calls"):
                with self.lock:
                    return 200, [dict(r.data) for r in self.calls.values()], {}
            if route == ("POST", "inbound") and parts[1:] == ["sms"]:
                return 200, self.inbound_sms(data["To"], data["From"], data.get("Body", ""),
                                             data.get("MediaUrl", [])), {}
            if route == ("POST", "inbound") and parts[1:] == ["call"]:
                return 200, self.inbound_call(data["To"], data["From"]), {}
            if route == ("POST", "failures"):
                if data.get("mode") == "down":
                    # Answer first, then stop listening.
                    threading.Timer(0.05, self.fail, kwargs={"mode": "down", "for_ms": data.get("for_ms")}).start()
                    return 202, {"down": True}, {}
                self.fail(data["mode"], data.get("count"), data.get("path"), data.get("method"),
                          data.get("delay_ms", 0))
                return 201, {"mode": data["mode"]}, {}
            if route == ("DELETE", "failures"):
                self.heal()
                return 204, None, {}
            if route == ("POST", "outcomes"):
                self.outcome(data["to"], data["status"], data.get("error_code"))
                return 201, data, {}
            if route == ("POST", "advance"):
                return 200, {"ran": self.advance()}, {}
        except (KeyError, ValueError, LookupError) as e:
            return 400, {"error": f"{type(e).__name__}: {e}"}, {}
        return 404, {"error": f"no control route {method} {path}"}, {}


# -- every other operation: resources built from the spec --------------------------------------


def computed(op):
    """A read-only instance whose last path parameter is not a SID (a
    Lookup, a country): Twilio computes it, so any value has an answer."""
    if set(op.item) & {"post", "delete", "put"}:
        return False
    last = op.path_params[-1] if op.path_params else None
    pattern = ((op.params.get(("path", last)) or {}).get("schema") or {}).get("pattern", "")
    return not re.match(r"^\^\(?[A-Z]{2}", pattern or "")


def generic(fake, ctx):
    op, spec = ctx.op, fake.spec
    acct = ctx.account.sid
    path = ctx.path
    if ctx.method == "GET" and op.list_key:
        with fake.lock:
            rows = [dict(r.data) for r in sorted(fake.lists.get((acct, path), {}).values(), key=lambda r: -r.seq)]
        return fake.page(ctx, rows, op.list_key)
    with fake.lock:
        rec = fake.singles.get((acct, path))
        if ctx.method == "DELETE":
            if rec is None and op.last_is_param:
                return fake.not_found(path)
            fake.singles.pop((acct, path), None)
            for rows in fake.lists.values():
                if rec is not None:
                    rows.pop(rec.data.get("sid"), None)
            return 204, None
        if ctx.method == "GET":
            if 300 <= op.status < 400:  # a redirect to the file (Twilio's point to S3)
                return op.status, None, {"Location": f"{fake.base_url}/_fake/files{path}"}
            if rec is not None:
                return 200, dict(rec.data)
            if op.last_is_param and not computed(op):
                return fake.not_found(path)
            return 200, build(fake, ctx, None)
        creates = op.item.get("x-twilio", {}).get("pathType") == "list"
        if rec is None and not creates and op.last_is_param:
            return fake.not_found(path)
        if rec is not None and not creates:
            apply_params(fake, ctx, rec.data)
            rec.data.update(dated(fake, op, update=True))
            return op.status, dict(rec.data)
        sid = fake.new_sid(spec.sid_prefix(op))
        data = build(fake, ctx, sid)
        instance = path if not creates else (path[:-5] + f"/{sid}.json" if path.endswith(".json") else f"{path}/{sid}")
        if creates and "uri" in data and path.startswith("/2010-04-01/"):
            data["uri"] = instance
        if creates and "url" in data and not path.startswith("/2010-04-01/"):
            data["url"] = op.base + instance
        rec = resources.Resource(acct, data, fake.next_seq())
        fake.singles[(acct, instance)] = rec
        if creates:
            fake.lists.setdefault((acct, path), {})[data.get("sid") or sid] = rec
        return op.status, dict(data)


def build(fake, ctx, sid):
    """A resource from the operation's example: placeholders replaced by the
    account, the path's values and a new SID; then the request's values."""
    op, spec = ctx.op, fake.spec
    example = spec.example(op) or {}
    replace = {}
    props = (op.item_schema or {}).get("properties") or {}
    for name, value in ctx.params.items():
        prop = "sid" if name == "Sid" else snake(name)
        pattern = spec.resolve(op.doc, props.get(prop, {})).get("pattern")
        if isinstance(example.get(prop), str) and (not pattern or re.match(pattern, value)):
            replace[example[prop]] = value
    if isinstance(example.get("account_sid"), str):
        replace[example["account_sid"]] = ctx.account.sid
    if sid and isinstance(example.get("sid"), str):
        replace[example["sid"]] = sid
    data = spec.build(op, example, replace)
    if "account_sid" in data:
        data["account_sid"] = ctx.account.sid
    if sid and "sid" in data:
        data["sid"] = sid
    data.update(dated(fake, op))
    apply_params(fake, ctx, data)
    return data


def dated(fake, op, update=False):
    props = (op.item_schema or {}).get("properties") or {}
    now = fake.now()
    out = {}
    for name in (("date_updated", "dateUpdated") if update else
                 ("date_created", "date_updated", "dateCreated", "dateUpdated")):
        fmt = fake.spec.resolve(op.doc, props.get(name, {})).get("format")
        if fmt == "date-time-rfc-2822":
            out[name] = fake.rfc2822(now)
        elif fmt == "date-time":
            out[name] = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    return out


def apply_params(fake, ctx, data):
    props = (ctx.op.item_schema or {}).get("properties") or {}
    values = {}
    for k, v in ctx.form:
        values.setdefault(k, []).append(v)
    for name, vals in values.items():
        prop = snake(name)
        if prop in props and prop not in ("sid", "account_sid"):
            value = fake.spec.coerce(ctx.op, prop, vals)
            if fits(fake, ctx.op, props[prop], value):
                data[prop] = value
    for name, value in (ctx.json or {}).items() if isinstance(ctx.json, dict) else ():
        if name in props and name != "sid" and fits(fake, ctx.op, props[name], value):
            data[name] = value


def fits(fake, op, schema, value):
    """Whether a request's value may stand in the answer (a value outside
    the answer's enum or pattern keeps the example's)."""
    checker = fake.spec.checker()
    checker.value(op.doc, schema, value, "value")
    return not checker.problems
