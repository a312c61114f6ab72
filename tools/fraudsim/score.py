#!/usr/bin/env python3
"""Score a detector's decisions against the simulator's labels (evaluation period only).

    python3 tools/fraudsim/score.py --labels labels.ndjson --decisions decisions.ndjson [--json]

Metrics (section 7.5 of shared/reference/pumping-detection.md); "positive" = fraud,
a block is a positive prediction, a request without a decision counts as allowed:

* precision = fraud blocked / all blocked; recall = fraud blocked / fraud;
  legit FPR = legit blocked / legit; cost recall = blocked fraud $ / total fraud $.
* FPR per legitimate tag (normal / flash / launch / outage) and legit blocks per rule.
* Per attack family (one attack instance per family): requests, blocked fraction, cost
  and blocked cost fraction; TTD = time of the first block of that attack minus its
  first request; TTC = the time of the earliest BLOCKED request from which on >= 95 % of
  the attack's remaining requests are blocked, minus its first request (null: never
  contained; requiring a block there keeps TTC >= TTD);
  messages and $ allowed before that point ("leaked before containment"; when never
  contained, everything allowed).

Undefined ratios (e.g. precision with nothing blocked) are reported as null.
This file is the only place labels are interpreted: never import it from a detector.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

if __name__ != "__main__" and not os.environ.get("FRAUDSIM_ALLOW_SCORER_IMPORT"):
    raise ImportError("fraudsim/score.py reads labels: run it as a script, never import it from a detector")

LEGIT_TAGS = ("normal", "flash", "launch", "outage")
ATTACK_FAMILIES = ("A1a", "A1b", "A2a", "A2b", "A3", "A4", "A5", "A6", "V1")
CONTAINMENT = 0.95


def ratio(a, b):
    return a / b if b else None


def load_decisions(path):
    dec = {}
    with open(path, "rb") as f:
        for line in f:
            if line.strip():
                d = json.loads(line)
                dec[d["id"]] = (d["decision"] == "block", d.get("rule") or "")
    return dec


def attack_metrics(reqs):
    """reqs: list of (t, blocked, cost) in time order."""
    n = len(reqs)
    t_first = reqs[0][0]
    blocked = sum(1 for r in reqs if r[1])
    cost = sum(r[2] for r in reqs)
    cost_blocked = sum(r[2] for r in reqs if r[1])
    ttd = next((r[0] - t_first for r in reqs if r[1]), None)
    # Containment point: the earliest blocked request reqs[i] such that >= 95 % of
    # reqs[i:] are blocked (so TTC >= TTD, and a detector that never blocks is never
    # contained even if the attack is tiny).
    contain = None
    suffix_blocked = 0
    for i in range(n - 1, -1, -1):
        suffix_blocked += reqs[i][1]
        if reqs[i][1] and suffix_blocked >= CONTAINMENT * (n - i):
            contain = i
    end = n if contain is None else contain
    leaked = [r for r in reqs[:end] if not r[1]]
    return dict(
        requests=n,
        blocked=blocked,
        blocked_fraction=blocked / n,
        cost_usd=round(cost, 4),
        cost_blocked_fraction=ratio(cost_blocked, cost),
        ttd_s=None if ttd is None else round(ttd, 3),
        ttc_s=None if contain is None else round(reqs[contain][0] - t_first, 3),
        contained=contain is not None,
        leaked_before_containment_msgs=len(leaked),
        leaked_before_containment_usd=round(sum(r[2] for r in leaked), 4),
        leaked_total_msgs=n - blocked,
        leaked_total_usd=round(cost - cost_blocked, 4),
    )


def score(labels_path, decisions_path):
    dec = load_decisions(decisions_path)
    missing = 0
    tp = fp = fn = tn = 0
    fraud_cost = fraud_cost_blocked = 0.0
    tags = {t: [0, 0] for t in LEGIT_TAGS}
    fp_rules = {}
    attacks = {}
    eval_start = None
    with open(labels_path, "rb") as f:
        for line in f:
            if not line.strip():
                continue
            lab = json.loads(line)
            if not lab.get("eval", True):
                continue
            if eval_start is None:
                eval_start = lab["t"]
            d = dec.get(lab["id"])
            if d is None:
                missing += 1
                blocked, rule = False, ""
            else:
                blocked, rule = d
            fam = lab["family"]
            if lab["label"] == "fraud":
                cost = lab["cost_usd"]
                fraud_cost += cost
                if blocked:
                    tp += 1
                    fraud_cost_blocked += cost
                else:
                    fn += 1
                attacks.setdefault(fam, []).append((lab["t"], blocked, cost))
            else:
                tg = tags.setdefault(fam, [0, 0])
                tg[0] += 1
                if blocked:
                    fp += 1
                    tg[1] += 1
                    fp_rules[rule or "?"] = fp_rules.get(rule or "?", 0) + 1
                else:
                    tn += 1
    res = dict(
        eval_requests=tp + fp + fn + tn,
        legit_requests=fp + tn,
        fraud_requests=tp + fn,
        missing_decisions=missing,
        blocked=tp + fp,
        precision=ratio(tp, tp + fp),
        recall=ratio(tp, tp + fn),
        legit_fpr=ratio(fp, fp + tn),
        fraud_cost_usd=round(fraud_cost, 4),
        fraud_cost_blocked_usd=round(fraud_cost_blocked, 4),
        fraud_cost_leaked_usd=round(fraud_cost - fraud_cost_blocked, 4),
        cost_recall=ratio(fraud_cost_blocked, fraud_cost),
        fpr_by_tag={t: dict(requests=v[0], blocked=v[1], fpr=ratio(v[1], v[0])) for t, v in tags.items()},
        legit_blocked_by_rule=dict(sorted(fp_rules.items(), key=lambda kv: -kv[1])),
        attacks={},
    )
    order = [f for f in ATTACK_FAMILIES if f in attacks] + sorted(f for f in attacks if f not in ATTACK_FAMILIES)
    for fam in order:
        reqs = attacks[fam]
        reqs.sort(key=lambda r: r[0])
        res["attacks"][fam] = attack_metrics(reqs)
    return res


def fmt(x, pct=False, nd=4):
    if x is None:
        return "-"
    if pct:
        return f"{100 * x:.2f}%"
    if isinstance(x, float):
        return f"{x:.{nd}g}" if abs(x) < 1e6 else f"{x:.0f}"
    return str(x)


def fmt_s(x):
    if x is None:
        return "never"
    if x < 120:
        return f"{x:.1f}s"
    if x < 7200:
        return f"{x / 60:.1f}m"
    return f"{x / 3600:.1f}h"


def print_table(r, out=sys.stdout):
    p = lambda *a: print(*a, file=out)  # noqa: E731
    p(f"evaluation requests {r['eval_requests']} (legit {r['legit_requests']}, fraud {r['fraud_requests']}),"
      f" blocked {r['blocked']}, missing decisions {r['missing_decisions']}")
    p(f"precision {fmt(r['precision'])}  recall {fmt(r['recall'])}  legit FPR {fmt(r['legit_fpr'], True)}"
      f"  cost recall {fmt(r['cost_recall'], True)}"
      f"  (fraud ${r['fraud_cost_usd']:.2f}, leaked ${r['fraud_cost_leaked_usd']:.2f})")
    p("")
    p(f"{'legit tag':<10} {'requests':>9} {'blocked':>8} {'FPR':>8}")
    for t, v in r["fpr_by_tag"].items():
        p(f"{t:<10} {v['requests']:>9} {v['blocked']:>8} {fmt(v['fpr'], True):>8}")
    if r["legit_blocked_by_rule"]:
        p("legit blocked by rule: " + ", ".join(f"{k}={v}" for k, v in r["legit_blocked_by_rule"].items()))
    p("")
    p(f"{'attack':<6} {'requests':>8} {'blocked':>8} {'cost $':>9} {'$ blk':>8} {'TTD':>8} {'TTC':>8}"
      f" {'leak msgs':>9} {'leak $':>9}")
    for fam, a in r["attacks"].items():
        p(f"{fam:<6} {a['requests']:>8} {fmt(a['blocked_fraction'], True):>8} {a['cost_usd']:>9.2f}"
          f" {fmt(a['cost_blocked_fraction'], True):>8} {fmt_s(a['ttd_s']):>8} {fmt_s(a['ttc_s']):>8}"
          f" {a['leaked_before_containment_msgs']:>9} {a['leaked_before_containment_usd']:>9.2f}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Score fraudsim decisions against labels (evaluation period).")
    ap.add_argument("--labels", required=True)
    ap.add_argument("--decisions", required=True)
    ap.add_argument("--json", action="store_true", help="print the metrics as JSON")
    a = ap.parse_args(argv)
    r = score(a.labels, a.decisions)
    if a.json:
        json.dump(r, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print_table(r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
