#!/usr/bin/env python3
"""Run a detector over a simulated scenario, with feedback only for allowed requests.

    python3 tools/fraudsim/harness.py --detector-cmd "python3 tools/fraudsim/baselines.py --rule velocity" \
        --events events.ndjson --labels labels.ndjson --decisions decisions.ndjson

The detector is started as a subprocess (``--detector-cmd`` is split with shlex, no
shell). Its stdin receives NDJSON events in time order:

* every request line of ``--events``, verbatim; the detector must answer each one with
  exactly one line on stdout, ``{"id":"r1","decision":"allow"|"block","rule":"..."}``,
  before it gets the next event;
* for requests it ALLOWED, feedback synthesised from the labels:
  ``{"type":"delivery","t":...,"id":"r1","delivered":true|false}`` at t + deliver_delay,
  and ``{"type":"verified","t":...,"id":"r1"}`` at t + verify_delay when the code would
  be verified. Feedback is interleaved in time order (a priority queue) before any later
  request; a detector must not answer feedback lines. Blocked requests never get any.

All decision lines are written to ``--decisions`` as received. A short run summary
(throughput, decision latency) goes to stderr. The labels are read here only to
schedule feedback; nothing but the events above reaches the detector.
"""

from __future__ import annotations

import argparse
import heapq
import json
import shlex
import subprocess
import sys
import time


def _label_iter(path):
    with open(path, "rb") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


class LabelLookup:
    """Labels are written in the same order as the events, so they are normally read in
    lockstep; if the orders differ, fall back to loading them all into a dict."""

    def __init__(self, path):
        self.path = path
        self.it = _label_iter(path)
        self.table = None

    def get(self, rid):
        if self.table is None:
            d = next(self.it, None)
            if d is not None and d["id"] == rid:
                return d
            self.table = {x["id"]: x for x in _label_iter(self.path)}
        return self.table[rid]


def run(cmd, events_path, labels_path, decisions_path, log=sys.stderr):
    argv = shlex.split(cmd)
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=1 << 16)
    stdin, stdout = proc.stdin, proc.stdout
    write, flush, readline = stdin.write, stdin.flush, stdout.readline
    labels = LabelLookup(labels_path)
    heap = []  # (time, seq, encoded feedback line)
    seq = 0
    n_req = n_block = n_fb = 0
    lat = []
    perf = time.perf_counter
    t_start = perf()
    try:
        with open(events_path, "rb") as ev, open(decisions_path, "wb", buffering=1 << 20) as out:
            for raw in ev:
                if not raw.strip():
                    continue
                req = json.loads(raw)
                if req.get("type") != "request":
                    raise SystemExit(f"harness: unexpected event type in events file: {raw[:200]!r}")
                t, rid = req["t"], req["id"]
                while heap and heap[0][0] <= t:
                    write(heapq.heappop(heap)[2])
                    n_fb += 1
                if not raw.endswith(b"\n"):
                    raw += b"\n"
                t0 = perf()
                write(raw)
                flush()
                ans = readline()
                lat.append(perf() - t0)
                if not ans:
                    raise SystemExit(f"harness: detector exited or closed stdout before answering {rid} (rc={proc.poll()})")
                try:
                    dec = json.loads(ans)
                    decision = dec["decision"]
                except (ValueError, KeyError, TypeError):
                    raise SystemExit(f"harness: bad decision line for {rid}: {ans[:200]!r}")
                if dec.get("id") != rid:
                    raise SystemExit(f"harness: decision for {dec.get('id')!r} while waiting for {rid}")
                if decision not in ("allow", "block"):
                    raise SystemExit(f"harness: unknown decision {decision!r} for {rid}")
                out.write(ans if ans.endswith(b"\n") else ans + b"\n")
                n_req += 1
                lab = labels.get(rid)
                if decision == "block":
                    n_block += 1
                    continue
                td = round(t + lab["deliver_delay"], 3)
                seq += 1
                heapq.heappush(heap, (td, seq, (
                    f'{{"type":"delivery","t":{td:.3f},"id":"{rid}","delivered":'
                    f'{"true" if lab["would_deliver"] else "false"}}}\n').encode()))
                if lab["would_verify"]:
                    tv = round(t + lab["verify_delay"], 3)
                    seq += 1
                    heapq.heappush(heap, (tv, seq, f'{{"type":"verified","t":{tv:.3f},"id":"{rid}"}}\n'.encode()))
            while heap:
                write(heapq.heappop(heap)[2])
                n_fb += 1
        stdin.close()
        rc = proc.wait(timeout=60)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    wall = perf() - t_start
    if rc != 0:
        raise SystemExit(f"harness: detector exited with status {rc}")
    lat.sort()

    def q(p):
        return lat[min(len(lat) - 1, int(p * len(lat)))] * 1e6 if lat else 0.0

    stats = dict(requests=n_req, blocked=n_block, feedback_events=n_fb, wall_s=round(wall, 3),
                 decisions_per_s=round(n_req / wall, 1) if wall > 0 else None,
                 latency_us_p50=round(q(0.50), 1), latency_us_p99=round(q(0.99), 1))
    if log is not None:
        print("harness: " + " ".join(f"{k}={v}" for k, v in stats.items()), file=log)
    return stats


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Feed a scenario to a detector subprocess with delayed feedback.")
    ap.add_argument("--detector-cmd", required=True, help='e.g. "python3 tools/fraudsim/baselines.py --rule velocity"')
    ap.add_argument("--events", required=True)
    ap.add_argument("--labels", required=True)
    ap.add_argument("--decisions", required=True)
    ap.add_argument("--stats-json", help="also write the run summary to this file")
    a = ap.parse_args(argv)
    stats = run(a.detector_cmd, a.events, a.labels, a.decisions)
    if a.stats_json:
        with open(a.stats_json, "w") as f:
            json.dump(stats, f, indent=1)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
