"""`tollgate fraud replay`: one decision per request, written and flushed
before the next input line is read; nothing for feedback events."""

import json
import subprocess

from conftest import BIN


def test_replay_answers_each_request_before_reading_on():
    p = subprocess.Popen([BIN, "fraud", "replay", "--mode", "standard"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True, bufsize=1)
    try:
        def ask(event):
            p.stdin.write(json.dumps(event) + "\n")
            p.stdin.flush()
            return json.loads(p.stdout.readline())

        first = ask({"type": "request", "t": 1.0, "id": "r1", "channel": "sms", "to": "+447400123456"})
        assert first == {"id": "r1", "decision": "allow", "rule": "allow"}
        # Feedback gets no answer: the next line read answers the next request.
        p.stdin.write(json.dumps({"type": "verified", "t": 9.0, "id": "r1"}) + "\n")
        decisions = [ask({"type": "request", "t": 10.0 + i * 0.1, "id": f"a{i}", "channel": "sms",
                          "to": f"+3712000{i:04d}"}) for i in range(30)]
        blocked = [d for d in decisions if d["decision"] == "block"]
        # A sweep of a country with no history: stopped as a sweep, by the
        # new-country budget or as a burst, within 5 sends.
        assert blocked and blocked[0]["rule"] in {"fraudguard.sweep", "fraudguard.new_country",
                                                  "fraudguard.burst"}
        assert len(decisions) - len(blocked) <= 5
        assert ask({"type": "request", "t": 20.0, "id": "bad", "channel": "call", "to": "+3712"})["rule"] == \
            "fraudguard.invalid_number"
    finally:
        p.stdin.close()
        assert p.wait(timeout=10) == 0
