#!/usr/bin/env python3
"""What the requests of one attack family that a detector let through look like,
next to the ones it refused and to legitimate requests to new numbers.

    python3 tools/fraudsim/leak.py --workdir /work/fraudsim-runs --seed 41 \\
        --detector r5 --family A3

Reads the scenario's events and labels and the detector's decisions (as compare.py
leaves them in --workdir) and prints, for the evaluation period, the share of each
group with a device, with an unflagged IP that legitimate users had verified from
before, with a flagged IP, and how many earlier verified legitimate sends their IP
had. "Verified before" is counted from the labels, as an upper bound on what a
detector could know. A diagnostic: it never feeds the detector.
"""

from __future__ import annotations

import argparse
import collections
import json
from pathlib import Path

BUCKETS = ((1, "0"), (3, "1-2"), (10, "3-9"), (30, "10-29"), (None, "30+"))


def bucket(count: int) -> str:
    for limit, name in BUCKETS:
        if limit is None or count < limit:
            return name
    return BUCKETS[-1][1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--detector", required=True, help="the name given to compare.py")
    ap.add_argument("--family", default="A3")
    ap.add_argument("--scale", type=float, default=1.0)
    a = ap.parse_args(argv)
    base = Path(a.workdir) / f"s{a.seed}-x{a.scale}"
    labels = {}
    with open(f"{base}.labels.ndjson") as f:
        for line in f:
            d = json.loads(line)
            labels[d["id"]] = d
    decisions = {}
    with open(f"{base}.{a.detector}.decisions.ndjson") as f:
        for line in f:
            d = json.loads(line)
            decisions[d["id"]] = d["decision"]
    verified_from = collections.Counter()
    verified_numbers = set()
    groups = collections.defaultdict(collections.Counter)
    with open(f"{base}.events.ndjson") as f:
        for line in f:
            e = json.loads(line)
            if e["type"] != "request":
                continue
            label = labels[e["id"]]
            ip = e.get("ip")
            group = None
            decision = decisions.get(e["id"])
            if label["eval"] and label["family"] == a.family:
                group = {"allow": f"{a.family} allowed", "block": f"{a.family} refused"}.get(
                    decision, f"{a.family} without a decision")
            elif label["eval"] and label["label"] == "legit" and e["to"] not in verified_numbers:
                group = "legit, new number"
            if group:
                g = groups[group]
                flagged = bool(e.get("ip_flags"))
                g["n"] += 1
                g["device"] += bool(e.get("device"))
                g["flagged IP"] += flagged
                g["IP verified from before"] += (not flagged) and verified_from[ip] > 0
                if not flagged:
                    g["unflagged"] += 1
                    g["verified sends from IP: " + bucket(verified_from[ip])] += 1
            if label["label"] == "legit" and label["would_verify"]:
                verified_from[ip] += 1
                verified_numbers.add(e["to"])
    for name in sorted(groups):
        g = groups[name]
        n = g["n"]
        print(f"{name}: {n} requests")
        for key in ("device", "flagged IP", "IP verified from before"):
            print(f"  {key}: {100 * g[key] / max(n, 1):.0f}%")
        unflagged = max(g["unflagged"], 1)
        spread = ", ".join(
            f"{label} {100 * g['verified sends from IP: ' + label] / unflagged:.0f}%"
            for _, label in BUCKETS
        )
        print(f"  unflagged IPs by earlier verified sends: {spread}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
