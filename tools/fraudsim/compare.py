#!/usr/bin/env python3
"""Run several detectors over several seeds of the simulator and tabulate the scores.

    python3 tools/fraudsim/compare.py --seeds 1 2 3 4 5 --workdir /tmp/fraudsim \\
        --detector "tollgate=target/release/examples/replay --mode standard --risk-table none" \\
        --detector "velocity=python3 tools/fraudsim/baselines.py --rule velocity" \\
        [--scale 1.0] [--out results.json]

For each seed the scenario is generated once (kept in --workdir), each detector is run
through harness.py, and score.py --json scores it. Prints one markdown table per
detector (per seed and mean) and writes everything to --out. The scorer runs as a
separate process, as for any detector.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
FAMILIES = ("A1a", "A1b", "A2a", "A2b", "A3", "A4", "A5", "A6", "V1")


def sh(args, **kw):
    return subprocess.run(args, check=True, **kw)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--detector", action="append", required=True, help="name=command")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--out")
    a = ap.parse_args(argv)
    wd = Path(a.workdir)
    wd.mkdir(parents=True, exist_ok=True)
    dets = [d.split("=", 1) for d in a.detector]
    results = {}
    for seed in a.seeds:
        ev, lab = wd / f"s{seed}-x{a.scale}.events.ndjson", wd / f"s{seed}-x{a.scale}.labels.ndjson"
        if not (ev.exists() and lab.exists()):
            sh([sys.executable, str(HERE / "simulate.py"), "--seed", str(seed), "--scale", str(a.scale),
                "--out", str(ev), "--labels", str(lab), "--quiet"])
        for name, cmd in dets:
            dec = wd / f"s{seed}-x{a.scale}.{name}.decisions.ndjson"
            stats = wd / f"s{seed}-x{a.scale}.{name}.stats.json"
            sh([sys.executable, str(HERE / "harness.py"), "--detector-cmd", cmd, "--events", str(ev),
                "--labels", str(lab), "--decisions", str(dec), "--stats-json", str(stats)])
            out = sh([sys.executable, str(HERE / "score.py"), "--labels", str(lab), "--decisions", str(dec),
                      "--json"], capture_output=True, text=True).stdout
            r = json.loads(out)
            r["harness"] = json.loads(stats.read_text())
            results.setdefault(name, {})[seed] = r
            print(f"seed {seed} {name}: precision {r['precision']} legit_fpr {r['legit_fpr']} "
                  f"cost_recall {r['cost_recall']}", file=sys.stderr, flush=True)
            if a.out:
                Path(a.out).write_text(json.dumps(results, indent=1))
    for name, by_seed in results.items():
        print(table(name, by_seed))
    return 0


def pct(x):
    return "-" if x is None else f"{100 * x:.2f}%"


def table(name, by_seed):
    seeds = sorted(by_seed)
    rows = [f"\n### {name}\n", "| metric | " + " | ".join(f"seed {s}" for s in seeds) + " | mean |",
            "|---" * (len(seeds) + 2) + "|"]

    def row(label, get, fmt):
        vals = [get(by_seed[s]) for s in seeds]
        nums = [v for v in vals if v is not None]
        mean = statistics.fmean(nums) if len(nums) == len(vals) and nums else None
        rows.append(f"| {label} | " + " | ".join(fmt(v) for v in vals) + f" | {fmt(mean)} |")

    row("precision", lambda r: r["precision"], lambda v: "-" if v is None else f"{v:.4f}")
    row("legit FPR", lambda r: r["legit_fpr"], pct)
    row("fraud cost recall", lambda r: r["cost_recall"], pct)
    for tag in ("flash", "launch", "outage"):
        row(f"{tag} blocked", lambda r, t=tag: r["fpr_by_tag"][t]["fpr"], pct)
    for fam in FAMILIES:
        row(f"{fam} cost blocked", lambda r, f=fam: r["attacks"].get(f, {}).get("cost_blocked_fraction"), pct)
        row(f"{fam} TTC s", lambda r, f=fam: r["attacks"].get(f, {}).get("ttc_s"),
            lambda v: "never" if v is None else f"{v:.1f}")
        row(f"{fam} leaked msgs before containment",
            lambda r, f=fam: r["attacks"].get(f, {}).get("leaked_before_containment_msgs"),
            lambda v: "-" if v is None else f"{v:.0f}")
    return "\n".join(rows)


if __name__ == "__main__":
    sys.exit(main())
