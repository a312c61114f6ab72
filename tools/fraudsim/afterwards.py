#!/usr/bin/env python3
"""When a detector's legitimate blocks happen, next to the attacks on their country.

    python3 tools/fraudsim/afterwards.py --workdir /work/fraudsim-runs --seed 1 --detector base

Reads the scenario's labels and the detector's decisions (as compare.py leaves them
in --workdir) and prints, for the evaluation period, how many legitimate requests
were blocked while an attack on their country was going on, how many after the last
one had ended (by hours since its end) and how many with no attack on their country
before them. Blocks long after an attack are a watch that outlives it. A diagnostic:
it never feeds the detector.
"""

from __future__ import annotations

import argparse
import collections
import json
from pathlib import Path

AFTER_BUCKETS = ((2.0, "< 2 h"), (12.0, "2-12 h"), (24.0, "12-24 h"), (None, "> 24 h"))


def after_bucket(hours: float) -> str:
    for limit, name in AFTER_BUCKETS:
        if limit is None or hours < limit:
            return name
    return AFTER_BUCKETS[-1][1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--detector", required=True, help="the name given to compare.py")
    ap.add_argument("--scale", type=float, default=1.0)
    a = ap.parse_args(argv)
    base = Path(a.workdir) / f"s{a.seed}-x{a.scale}"
    blocked = set()
    with open(f"{base}.{a.detector}.decisions.ndjson") as f:
        for line in f:
            d = json.loads(line)
            if d["decision"] == "block":
                blocked.add(d["id"])
    windows = collections.defaultdict(dict)  # country -> family -> [first, last]
    legit_blocks = []
    legit = 0
    with open(f"{base}.labels.ndjson") as f:
        for line in f:
            d = json.loads(line)
            if not d["eval"]:
                continue
            if d["label"] == "fraud":
                w = windows[d["country"]].setdefault(d["family"], [d["t"], d["t"]])
                w[0], w[1] = min(w[0], d["t"]), max(w[1], d["t"])
            else:
                legit += 1
                if d["id"] in blocked:
                    legit_blocks.append((d["t"], d["country"]))
    counts = collections.Counter()
    by_country = collections.Counter()
    for t, country in legit_blocks:
        spans = windows.get(country, {}).values()
        if any(first <= t <= last for first, last in spans):
            where = "during an attack on the country"
        else:
            ended = [t - last for _, last in spans if last < t]
            if ended:
                where = "after the attacks on the country ended, " + after_bucket(min(ended) / 3600.0)
                by_country[country] += 1
            else:
                where = "with no attack on the country before"
        counts[where] += 1
    print(f"legitimate requests: {legit}, blocked: {len(legit_blocks)}")
    order = ["during an attack on the country"]
    order += ["after the attacks on the country ended, " + name for _, name in AFTER_BUCKETS]
    order += ["with no attack on the country before"]
    for where in order:
        print(f"  {where}: {counts[where]}")
    if by_country:
        spread = ", ".join(f"{c} {n}" for c, n in by_country.most_common())
        print(f"  after an attack, by country: {spread}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
