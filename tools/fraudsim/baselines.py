#!/usr/bin/env python3
"""Two published SMS-pumping baselines that speak the fraudsim detector protocol.

    python3 tools/fraudsim/baselines.py --rule velocity [--limit 10] [--window 86400]
    python3 tools/fraudsim/baselines.py --rule conversion [--floor 20] [--ratio 0.2] [--hourly]

Reads NDJSON events on stdin (see harness.py). For every ``request`` it writes exactly
one line ``{"id":...,"decision":"allow"|"block","rule":...}`` and flushes; ``delivery``
and ``verified`` events update state and get no answer. No labels are ever read.

velocity (AWS sample "Techniques to mitigate SMS pumping threats using AWS",
achrafsouk/sms-pumping): the destination prefix is the E.164 number minus its last 3
digits; a request is blocked when the prefix has already seen more than ``--limit``
requests in the last ``--window`` seconds (24 h, > 10 by default). Every request
counts, blocked or not, as the sample's counter does.

conversion (Authgear docs/specs/fraud-protection.md,
SMS__UNVERIFIED_OTPS__BY_PHONE_COUNTRY__DAILY): per phone country, the OTPs sent
(allowed) in the last 24 h that are not verified yet are counted; a request is blocked
when that count exceeds max(20, 0.2 x the 14-day rolling max of daily verified OTPs,
0.2 x verified OTPs in the last 24 h). "Daily" is Authgear's sliding 24 h; the rolling
max is over the 14 previous UTC days plus today so far. ``--hourly`` adds the hourly
rule (unverified in the last 1 h > max(3, daily threshold / 6, 0.2 x verified in the
last 1 h)). The phone country comes from the calling code via the small table below
(the codes the simulator uses; +1 is treated as one country, as the sample does not
split NANP).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import deque

CALLING_CODES = {
    "1": "US", "7": "RU", "20": "EG", "27": "ZA", "33": "FR", "34": "ES", "39": "IT", "44": "GB",
    "48": "PL", "49": "DE", "52": "MX", "54": "AR", "55": "BR", "56": "CL", "57": "CO", "60": "MY",
    "62": "ID", "63": "PH", "66": "TH", "81": "JP", "84": "VN", "90": "TR", "91": "IN", "92": "PK",
    "224": "GN", "232": "SL", "234": "NG", "235": "TD", "254": "KE", "370": "LT", "371": "LV",
    "380": "UA", "381": "RS", "677": "SB", "692": "MH", "880": "BD", "966": "SA", "971": "AE",
    "994": "AZ", "998": "UZ",
}


def phone_country(e164: str) -> str:
    digits = e164[1:] if e164.startswith("+") else e164
    for n in (1, 2, 3):
        iso = CALLING_CODES.get(digits[:n])
        if iso:
            return iso
    return "+" + digits[:3]  # unknown code: its own bucket


class Velocity:
    def __init__(self, limit: int, window: float):
        self.limit, self.window = limit, window
        self.hits: dict[str, deque] = {}

    def request(self, ev):
        t = ev["t"]
        prefix = ev["to"][:-3]
        q = self.hits.get(prefix)
        if q is None:
            q = self.hits[prefix] = deque()
        lo = t - self.window
        while q and q[0] <= lo:
            q.popleft()
        block = len(q) >= self.limit  # more than `limit` including this one
        q.append(t)
        if len(self.hits) > 2_000_000:  # keep memory bounded on long runs
            self.hits = {k: v for k, v in self.hits.items() if v and v[-1] > lo}
        return ("block", "velocity_prefix") if block else ("allow", "")

    def delivery(self, ev):
        pass

    def verified(self, ev):
        pass


class CountryState:
    __slots__ = ("sent", "n_ver", "ver_times", "daily_ver", "sent_h", "n_ver_h", "ver_times_h")

    def __init__(self):
        self.sent = deque()  # entries of OTPs allowed in the last 24 h
        self.n_ver = 0  # how many of them are verified
        self.ver_times = deque()  # verification times in the last 24 h
        self.daily_ver = {}  # UTC day -> verified count
        self.sent_h = deque()  # the same for the last hour (--hourly)
        self.n_ver_h = 0
        self.ver_times_h = deque()


# A sent OTP: [t, id, country state, verified, in 24 h window, in 1 h window]
T, RID, STATE, VER, IN_DAY, IN_HOUR = range(6)


class Conversion:
    def __init__(self, floor: float, ratio: float, hourly: bool):
        self.floor, self.ratio, self.hourly = floor, ratio, hourly
        self.countries: dict[str, CountryState] = {}
        self.sent_by_id: dict[str, list] = {}

    def _state(self, iso):
        s = self.countries.get(iso)
        if s is None:
            s = self.countries[iso] = CountryState()
        return s

    def _expire(self, s, t):
        lo = t - 86400.0
        while s.sent and s.sent[0][T] <= lo:
            e = s.sent.popleft()
            e[IN_DAY] = False
            if e[VER]:
                s.n_ver -= 1
            self.sent_by_id.pop(e[RID], None)
        while s.ver_times and s.ver_times[0] <= lo:
            s.ver_times.popleft()
        lo_h = t - 3600.0
        while s.sent_h and s.sent_h[0][T] <= lo_h:
            e = s.sent_h.popleft()
            e[IN_HOUR] = False
            if e[VER]:
                s.n_ver_h -= 1
        while s.ver_times_h and s.ver_times_h[0] <= lo_h:
            s.ver_times_h.popleft()

    def request(self, ev):
        t, rid = ev["t"], ev["id"]
        s = self._state(phone_country(ev["to"]))
        self._expire(s, t)
        day = int(t // 86400)
        rolling_max = max((s.daily_ver.get(d, 0) for d in range(day - 14, day + 1)), default=0)
        daily_thr = max(self.floor, self.ratio * rolling_max, self.ratio * len(s.ver_times))
        rule = ""
        if len(s.sent) - s.n_ver > daily_thr:
            rule = "conversion_country_daily"
        elif self.hourly:
            hourly_thr = max(3.0, daily_thr / 6.0, self.ratio * len(s.ver_times_h))
            if len(s.sent_h) - s.n_ver_h > hourly_thr:
                rule = "conversion_country_hourly"
        if rule:
            return "block", rule
        e = [t, rid, s, False, True, self.hourly]
        s.sent.append(e)
        if self.hourly:
            s.sent_h.append(e)
        self.sent_by_id[rid] = e
        return "allow", ""

    def delivery(self, ev):
        pass

    def verified(self, ev):
        t = ev["t"]
        e = self.sent_by_id.get(ev["id"])
        if e is None or e[VER]:
            return  # unknown, sent more than 24 h ago, or a duplicate
        e[VER] = True
        s = e[STATE]
        if e[IN_DAY]:
            s.n_ver += 1
        if e[IN_HOUR]:
            s.n_ver_h += 1
        s.ver_times.append(t)
        s.ver_times_h.append(t)
        day = int(t // 86400)
        s.daily_ver[day] = s.daily_ver.get(day, 0) + 1
        if len(s.daily_ver) > 16:
            for d in [d for d in s.daily_ver if d < day - 15]:
                del s.daily_ver[d]


def serve(det, fin=sys.stdin.buffer, fout=sys.stdout.buffer):
    loads = json.loads
    write, flush = fout.write, fout.flush
    for line in fin:
        if not line.strip():
            continue
        ev = loads(line)
        typ = ev.get("type")
        if typ == "request":
            decision, rule = det.request(ev)
            write(f'{{"id":"{ev["id"]}","decision":"{decision}","rule":"{rule}"}}\n'.encode())
            flush()
        elif typ == "delivery":
            det.delivery(ev)
        elif typ == "verified":
            det.verified(ev)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Published SMS-pumping baselines (fraudsim detector protocol).")
    ap.add_argument("--rule", choices=("velocity", "conversion"), required=True)
    ap.add_argument("--limit", type=int, default=10, help="velocity: max requests per prefix in the window (AWS: 10)")
    ap.add_argument("--window", type=float, default=86400.0, help="velocity: sliding window in seconds (AWS: 24 h)")
    ap.add_argument("--floor", type=float, default=20.0, help="conversion: constant lower bound (Authgear: 20)")
    ap.add_argument("--ratio", type=float, default=0.2, help="conversion: verified multiplier (Authgear: 0.2)")
    ap.add_argument("--hourly", action="store_true", help="conversion: also apply Authgear's hourly rule")
    a = ap.parse_args(argv)
    det = Velocity(a.limit, a.window) if a.rule == "velocity" else Conversion(a.floor, a.ratio, a.hourly)
    serve(det)
    return 0


if __name__ == "__main__":
    sys.exit(main())
