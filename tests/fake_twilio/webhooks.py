"""What the fake sends out: signed webhooks, and the stepper that moves
messages and calls through their statuses."""

import base64
import hashlib
import heapq
import hmac
import itertools
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import requests


def signature(token: str, url: str, pairs) -> str:
    """X-Twilio-Signature: Base64(HMAC-SHA1(token, url + name + value ...)),
    names sorted, and each name's distinct values sorted."""
    values = {}
    for name, value in pairs:
        values.setdefault(name, set()).add(value)
    data = url + "".join(name + v for name in sorted(values) for v in sorted(values[name]))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


class Sender:
    """Sends one webhook as Twilio does: a form POST signed over the URL and
    the parameters, or a GET with the parameters in the query string,
    signed over the whole URL."""

    def __init__(self, timeout=5.0):
        self.timeout = timeout
        self.local = threading.local()

    def session(self):
        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
        return self.local.session

    def send(self, token, url, method, pairs, idempotency_token):
        headers = {
            "User-Agent": "TwilioProxy/1.1",
            "Accept": "*/*",
            "X-Home-Region": "us1",
            "I-Twilio-Idempotency-Token": idempotency_token,
        }
        method = (method or "POST").upper()
        if method == "GET":
            full = url + ("&" if "?" in url else "?") + urlencode(pairs) if pairs else url
            headers["X-Twilio-Signature"] = signature(token, full, [])
            kwargs = {"url": full}
        else:
            headers["X-Twilio-Signature"] = signature(token, url, pairs)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            kwargs = {"url": url, "data": urlencode(pairs)}
        result = {"signature": headers["X-Twilio-Signature"], "status": None, "body": "", "content_type": None,
                  "error": None}
        try:
            r = self.session().request(method, headers=headers, timeout=self.timeout, allow_redirects=False, **kwargs)
            result.update(status=r.status_code, body=r.text, content_type=r.headers.get("Content-Type"))
        except requests.RequestException as e:
            result["error"] = f"{type(e).__name__}: {e}"
        return result


class Stepper:
    """Runs jobs `step` seconds after they are scheduled, on worker threads.
    With step=None nothing runs until advance()."""

    def __init__(self, step, workers=16):
        self.step = step
        self.heap = []
        self.seq = itertools.count()
        self.cv = threading.Condition()
        self.running = 0
        self.stopped = False
        self.pool = None
        if step is not None:
            self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fake-twilio-step")
            self.thread = threading.Thread(target=self._loop, name="fake-twilio-stepper", daemon=True)
            self.thread.start()

    def later(self, job, delay=None):
        due = time.monotonic() + (self.step or 0 if delay is None else delay)
        with self.cv:
            heapq.heappush(self.heap, (due, next(self.seq), job))
            self.cv.notify()

    def pending(self) -> int:
        with self.cv:
            return len(self.heap) + self.running

    def advance(self) -> int:
        """Runs every job scheduled so far (manual mode), in order."""
        with self.cv:
            jobs = [heapq.heappop(self.heap)[2] for _ in range(len(self.heap))]
        for job in jobs:
            job()
        return len(jobs)

    def _loop(self):
        while True:
            with self.cv:
                while not self.stopped and (not self.heap or self.heap[0][0] > time.monotonic()):
                    self.cv.wait(None if not self.heap else max(0.0, self.heap[0][0] - time.monotonic()))
                if self.stopped:
                    return
                job = heapq.heappop(self.heap)[2]
                self.running += 1
            self.pool.submit(self._run, job)

    def _run(self, job):
        try:
            job()
        finally:
            with self.cv:
                self.running -= 1

    def stop(self):
        with self.cv:
            self.stopped = True
            self.heap.clear()
            self.cv.notify_all()
        if self.pool:
            self.pool.shutdown(wait=False, cancel_futures=True)
