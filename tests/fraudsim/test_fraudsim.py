"""Tests for tools/fraudsim: determinism, file format, attack coverage, end-to-end run.

Runs the scripts as subprocesses (as a user would); small scenarios only.
"""

import collections
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tools" / "fraudsim"
FAMILIES = ("A1a", "A1b", "A2a", "A2b", "A3", "A4", "A5", "A6", "V1")
REQUEST_KEYS = {"type", "t", "id", "channel", "to", "ip", "ip_flags", "device"}
LABEL_KEYS = {"id", "t", "label", "family", "country", "cost_usd", "would_deliver",
              "deliver_delay", "would_verify", "verify_delay", "eval"}


def simulate(tmp: Path, name: str, *args) -> tuple[Path, Path]:
    ev, lab = tmp / f"{name}.events.ndjson", tmp / f"{name}.labels.ndjson"
    subprocess.run([sys.executable, str(TOOLS / "simulate.py"), *map(str, args),
                    "--out", str(ev), "--labels", str(lab), "--quiet"], check=True, timeout=120)
    return ev, lab


def read(path: Path) -> list[dict]:
    with open(path) as f:
        return [json.loads(line) for line in f]


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    """The coverage scenario of the brief: scale 0.05, 10 days with 3 of warm-up."""
    tmp = tmp_path_factory.mktemp("fraudsim")
    return simulate(tmp, "cov", "--seed", 7, "--scale", 0.05, "--days", 10, "--warmup", 3)


def test_same_seed_is_byte_identical(tmp_path):
    a = simulate(tmp_path, "a", "--seed", 3, "--scale", 0.02, "--days", 4, "--warmup", 1)
    b = simulate(tmp_path, "b", "--seed", 3, "--scale", 0.02, "--days", 4, "--warmup", 1)
    c = simulate(tmp_path, "c", "--seed", 4, "--scale", 0.02, "--days", 4, "--warmup", 1)
    assert a[0].read_bytes() == b[0].read_bytes()
    assert a[1].read_bytes() == b[1].read_bytes()
    assert a[0].read_bytes() != c[0].read_bytes()


def test_events_are_ordered_requests_without_labels_or_feedback(scenario):
    events, labels = read(scenario[0]), read(scenario[1])
    assert len(events) == len(labels) > 1000
    prev = float("-inf")
    for i, (e, lab) in enumerate(zip(events, labels), start=1):
        assert e["type"] == "request"
        assert set(e) <= REQUEST_KEYS and {"type", "t", "id", "channel", "to", "ip"} <= set(e)
        assert e["id"] == lab["id"] == f"r{i}" and e["t"] == lab["t"]
        assert e["t"] >= prev
        prev = e["t"]
        assert e["channel"] in ("sms", "call")
        assert e["to"].startswith("+") and e["to"][1:].isdigit()
        assert set(e.get("ip_flags", [])) <= {"datacenter", "proxy", "tor"}
        assert "ip_flags" not in e or e["ip_flags"]
        assert "device" not in e or e["device"]
        assert set(lab) == LABEL_KEYS
        assert lab["label"] in ("legit", "fraud")
        assert (lab["verify_delay"] is None) == (not lab["would_verify"])
        assert not lab["would_verify"] or lab["would_deliver"]
    text = scenario[0].read_text()
    for leaked in ('"label"', '"family"', '"delivery"', '"verified"', '"would_', '"cost_usd"'):
        assert leaked not in text


def test_every_family_appears_in_the_evaluation_period(scenario):
    labels = read(scenario[1])
    eval_start = min(lab["t"] for lab in labels if lab["eval"])
    seen = {}
    for lab in labels:
        if lab["label"] == "fraud":
            assert lab["eval"] and lab["family"] in FAMILIES
            seen[lab["family"]] = seen.get(lab["family"], 0) + 1
        else:
            assert lab["family"] in ("normal", "flash", "launch", "outage")
            if lab["family"] != "normal":
                assert lab["t"] >= eval_start
    assert set(seen) == set(FAMILIES), seen
    legit_tags = {lab["family"] for lab in labels if lab["label"] == "legit"}
    assert legit_tags == {"normal", "flash", "launch", "outage"}
    calls = [lab for lab in labels if lab["family"] == "V1"]
    assert len(calls) >= 24


def test_end_to_end_velocity_baseline(tmp_path):
    started = time.monotonic()
    ev, lab = simulate(tmp_path, "e2e", "--seed", 11, "--scale", 0.02, "--days", 4, "--warmup", 1)
    dec = tmp_path / "decisions.ndjson"
    detector = f"{sys.executable} {TOOLS / 'baselines.py'} --rule velocity"
    subprocess.run([sys.executable, str(TOOLS / "harness.py"), "--detector-cmd", detector,
                    "--events", str(ev), "--labels", str(lab), "--decisions", str(dec)],
                   check=True, timeout=120)
    out = subprocess.run([sys.executable, str(TOOLS / "score.py"), "--labels", str(lab),
                          "--decisions", str(dec), "--json"],
                         check=True, capture_output=True, text=True, timeout=60).stdout
    assert time.monotonic() - started < 60
    decisions = read(dec)
    assert len(decisions) == len(read(lab))
    assert all(d["decision"] in ("allow", "block") for d in decisions)
    m = json.loads(out)
    assert m["missing_decisions"] == 0 and m["fraud_requests"] > 0 and m["blocked"] > 0

    def in_unit(x):
        return x is None or (isinstance(x, (int, float)) and 0.0 <= x <= 1.0)

    for key in ("precision", "recall", "legit_fpr", "cost_recall"):
        assert m[key] is not None and in_unit(m[key]), (key, m[key])
    for tag in m["fpr_by_tag"].values():
        assert in_unit(tag["fpr"])
    for fam, a in m["attacks"].items():
        assert in_unit(a["blocked_fraction"]) and in_unit(a["cost_blocked_fraction"]), fam
        assert a["ttd_s"] is None or a["ttd_s"] >= 0
        assert a["ttc_s"] is None or a["ttc_s"] >= a["ttd_s"]
    # The velocity rule stops sequential bursts.
    assert m["attacks"]["A1b"]["blocked_fraction"] > 0.5


def test_harness_sends_feedback_only_for_allowed(tmp_path):
    """A detector that blocks every other request and logs what it receives."""
    ev, lab = simulate(tmp_path, "fb", "--seed", 5, "--scale", 0.01, "--days", 2, "--warmup", 1)
    log = tmp_path / "seen.ndjson"
    det = tmp_path / "det.py"
    det.write_text(
        "import json, sys\n"
        f"log = open({str(log)!r}, 'w')\n"
        "n = 0\n"
        "for line in sys.stdin:\n"
        "    log.write(line)\n"
        "    ev = json.loads(line)\n"
        "    if ev['type'] == 'request':\n"
        "        n += 1\n"
        "        d = 'block' if n % 2 == 0 else 'allow'\n"
        "        print(json.dumps({'id': ev['id'], 'decision': d, 'rule': 'alt'}), flush=True)\n"
        "log.close()\n")
    dec = tmp_path / "d.ndjson"
    subprocess.run([sys.executable, str(TOOLS / "harness.py"), "--detector-cmd", f"{sys.executable} {det}",
                    "--events", str(ev), "--labels", str(lab), "--decisions", str(dec)],
                   check=True, timeout=60)
    seen = read(log)
    blocked = {d["id"] for d in read(dec) if d["decision"] == "block"}
    labels = {x["id"]: x for x in read(lab)}
    prev = float("-inf")
    deliveries = verifies = 0
    for e in seen:
        assert e["t"] >= prev
        prev = e["t"]
        if e["type"] == "request":
            continue
        assert e["id"] not in blocked
        x = labels[e["id"]]
        if e["type"] == "delivery":
            deliveries += 1
            assert e["delivered"] == x["would_deliver"]
            assert abs(e["t"] - (x["t"] + x["deliver_delay"])) < 0.002
        else:
            assert e["type"] == "verified" and x["would_verify"]
            verifies += 1
    assert deliveries == len(labels) - len(blocked)
    assert verifies == sum(1 for i, x in labels.items() if x["would_verify"] and i not in blocked)


def test_numbers_are_valid_except_the_deliberately_invalid_ones(scenario):
    """Every destination is a valid number in libphonenumber's metadata, except A2a's
    invalid-length numbers (a detector must not be able to block legitimate users just
    for having "invalid" numbers the simulator made up)."""
    phonenumbers = pytest.importorskip("phonenumbers")
    invalid = {}
    a2a = 0
    for e, lab in zip(read(scenario[0]), read(scenario[1])):
        ok = phonenumbers.is_valid_number(phonenumbers.parse(e["to"]))
        if lab["family"] == "A2a":
            a2a += 1
            if not ok:
                invalid["A2a"] = invalid.get("A2a", 0) + 1
        elif not ok:
            invalid[(lab["family"], lab["country"])] = invalid.get((lab["family"], lab["country"]), 0) + 1
    assert set(invalid) <= {"A2a"}, invalid
    assert 0 < invalid.get("A2a", 0) < 0.3 * a2a


def test_leak_report_splits_a_family_by_decision(tmp_path):
    ev, lab = simulate(tmp_path, "s5-x0.02", "--seed", 5, "--scale", 0.02, "--days", 8, "--warmup", 1)
    events = {e["id"]: e for e in read(ev) if e["type"] == "request"}
    # A made-up detector: it lets through exactly the A3 requests that carry a device.
    with open(tmp_path / "s5-x0.02.fake.decisions.ndjson", "w") as f:
        for label in read(lab):
            allow = label["family"] != "A3" or bool(events[label["id"]].get("device"))
            f.write(json.dumps({"id": label["id"], "decision": "allow" if allow else "block"}) + "\n")
    out = subprocess.run([sys.executable, str(TOOLS / "leak.py"), "--workdir", str(tmp_path), "--seed", "5",
                          "--scale", "0.02", "--detector", "fake", "--family", "A3"],
                         check=True, capture_output=True, text=True, timeout=60).stdout
    sections = {}
    for line in out.splitlines():
        if not line.startswith(" "):
            name = line.split(":")[0]
            sections[name] = {}
        else:
            key, _, value = line.strip().partition(": ")
            sections[name][key] = value
    assert set(sections) == {"A3 allowed", "A3 refused", "legit, new number"}, out
    assert sections["A3 allowed"]["device"] == "100%", out
    assert sections["A3 refused"]["device"] == "0%", out


def test_afterwards_report_puts_blocks_after_an_attack_in_their_own_rows(tmp_path):
    ev, lab = simulate(tmp_path, "s5-x0.02", "--seed", 5, "--scale", 0.02, "--days", 8, "--warmup", 1)
    labels = read(lab)
    spans = {}
    for label in labels:
        if label["eval"] and label["label"] == "fraud":
            span = spans.setdefault(label["country"], {}).setdefault(label["family"], [label["t"], label["t"]])
            span[0], span[1] = min(span[0], label["t"]), max(span[1], label["t"])
    eval_start = min(label["t"] for label in labels if label["eval"])

    def where(label):
        own = spans.get(label["country"], {}).values()
        if any(a <= label["t"] <= b for a, b in own):
            return "during an attack on the country"
        ended = [label["t"] - b for _, b in own if b < label["t"]]
        if not ended:
            return "with no attack on the country before"
        hours = min(ended) / 3600.0
        return "after the attacks on the country ended, " + ("< 2 h" if hours < 2 else "2-12 h" if hours < 12 else "12-24 h" if hours < 24 else "> 24 h")

    # A made-up detector: it blocks every 7th legitimate request of the
    # evaluation period, wherever it falls, so that every row gets some.
    expected = collections.Counter()
    with open(tmp_path / "s5-x0.02.fake.decisions.ndjson", "w") as f:
        legit = 0
        for label in labels:
            block = False
            if label["eval"] and label["label"] == "legit":
                legit += 1
                block = legit % 7 == 0
                if block:
                    expected[where(label)] += 1
            f.write(json.dumps({"id": label["id"], "decision": "block" if block else "allow"}) + "\n")
    assert eval_start > 0 and len(expected) >= 3, expected
    out = subprocess.run([sys.executable, str(TOOLS / "afterwards.py"), "--workdir", str(tmp_path), "--seed", "5",
                          "--scale", "0.02", "--detector", "fake"],
                         check=True, capture_output=True, text=True, timeout=60).stdout
    lines = out.splitlines()
    rows = dict(line.strip().rsplit(": ", 1) for line in lines[1:] if "by country" not in line)
    assert lines[0] == f"legitimate requests: {legit}, blocked: {sum(expected.values())}", out
    assert len(rows) == 6, out
    for row, count in rows.items():
        assert int(count) == expected[row], (row, out)
