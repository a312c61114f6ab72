#!/usr/bin/env python3
"""PumpBench traffic simulator: seeded, deterministic OTP traffic with labelled
SMS-pumping / voice-IRSF attacks.

    python3 tools/fraudsim/simulate.py --seed 1 [--days 21] [--warmup 7] [--scale 1.0] \
        --out events.ndjson --labels labels.ndjson

Writes two files with one line per request, in the same (time) order:

* ``--out``: what a detector may see, one request per line::

    {"type":"request","t":1704067200.123,"id":"r1","channel":"sms","to":"+15551234567",
     "ip":"1.2.3.4","ip_flags":["proxy"],"device":"d0123456789ab"}

  (``ip_flags`` and ``device`` are left out when empty or unknown). No feedback is
  precomputed here: delivery receipts and verifications only ever exist for requests a
  detector allowed, so ``harness.py`` synthesises them from the labels at run time.

* ``--labels``: ground truth, never to be shown to a detector::

    {"id":"r1","t":...,"label":"legit"|"fraud","family":"normal|flash|launch|outage|A1a|...|V1",
     "country":"US","cost_usd":0.0079,"would_deliver":true,"deliver_delay":3.2,
     "would_verify":true,"verify_delay":28.1,"eval":true}

  ``verify_delay`` is null when ``would_verify`` is false. ``eval`` tells whether the
  request falls in the evaluation period (after the warm-up).

The model follows section 7 ("PumpBench") of shared/reference/pumping-detection.md.
Everything that is an assumption is a named constant below. Only the standard library
is used, and every random draw comes from a ``random.Random`` seeded from ``--seed``
(one stream per component, so changing one attack does not reshuffle the legitimate
traffic); the wall clock is never read.
"""

from __future__ import annotations

import argparse
import bisect
import math
import random
import sys

# --------------------------------------------------------------------------------------
# Scenario clock
# --------------------------------------------------------------------------------------
START_EPOCH = 1704067200  # 2024-01-01 00:00:00 UTC, a Monday. No DST anywhere (assumption).
BIN_SECONDS = 300  # legitimate arrivals are Poisson per 5-minute bin
# Attacks whose default duration is at least this long are shortened in proportion when
# the evaluation period is shorter than REFERENCE_EVAL_DAYS, so all families still fit.
LONG_ATTACK_SECONDS = 86400
REFERENCE_EVAL_DAYS = 14

# --------------------------------------------------------------------------------------
# Legitimate traffic (section 7.2). All of these are assumptions unless noted.
# --------------------------------------------------------------------------------------
LEGIT_REQUESTS_PER_DAY = 40000  # at --scale 1.0, including retries (assumption: mid-size app)
RETRY_INFLATION = 1.075  # requests per session implied by the retry model below (measured)
DIURNAL_PEAK_HOUR = 16.0  # local time; the minimum is 12 h earlier (04:00)
DIURNAL_RATIO = 5.0  # peak / trough
WEEKEND_FACTOR = 0.85
ACTIVE_BLOCK_FRACTION = 0.30  # share of each NDC's 10k blocks that legitimate users live in
CONVERSION_RANGE = (0.68, 0.88)  # per-country legitimate conversion (verified / sent)
CONVERSION_DAILY_SD = 0.04  # daily multiplier ~ N(1, sd)
DELIVERY_FAIL = 0.03  # legitimate DLR failure rate (Telesign: 1-5 %)
DLR_DELAY_MEDIAN, DLR_DELAY_SIGMA = 4.0, 0.8  # seconds, lognormal (delivered)
DLR_FAIL_DELAY_MEDIAN, DLR_FAIL_DELAY_SIGMA = 30.0, 1.0  # seconds, lognormal (failed)
CALL_ANSWER_DELAY = (5.0, 20.0)  # seconds, uniform, for voice OTP
VERIFY_DELAY_MEDIAN, VERIFY_DELAY_SIGMA = 25.0, 0.7  # seconds after delivery, lognormal
VERIFY_DELAY_MAX = 600.0  # an OTP expires after 10 minutes
RETRY_PROBS = (0.37, 0.08)  # P(retry) after the 1st and the 2nd unconverted attempt
RETRY_DELAY = (60.0, 180.0)  # seconds, uniform
RETURNING_USER_FRACTION = 0.5  # sessions by a number seen before (logins vs sign-ups)
HOME_IP_FRACTION = 0.6  # a returning user reuses their home IP, else a fresh pool IP
FOREIGN_IP_FRACTION = 0.05  # legit request from another country's IP space (travel)
PROXY_IP_FRACTION = 0.02  # legit request from a commercial VPN, flagged "proxy"
DATACENTER_IP_FRACTION = 0.003  # legit request from a cloud/corporate egress (assumption)
NO_DEVICE_FRACTION = 0.08  # legit requests without a device id
VOICE_FIRST_ATTEMPT = 0.02  # share of legitimate first attempts sent as a voice OTP call
VOICE_RETRY = 0.25  # share of legitimate retries sent as a voice OTP call
VOICE_PRICE_MULT = 2.0  # voice price per minute = this x the SMS price (min $0.013)
VOICE_OTP_MINUTES = 1.0  # a voice OTP call bills one minute
IP_POOL_PER_DAILY_SESSION = 0.5  # legitimate IP pool size per daily session (CGNAT skew)
RESIDENTIAL_PROXY_FLAG_RATE = 0.6  # IP intelligence flags 60 % of residential proxies (7.9)

# Legitimate anomalies (must not be blocked), all placed in the evaluation period.
FLASH = dict(candidates=("US", "IN", "BR", "GB"), multiplier=6.0, duration=4 * 3600, local_hours=(9.0, 17.0))
OUTAGE = dict(candidates=("US", "IN", "BR", "GB", "DE"), deliver_prob=0.10, duration=2 * 3600,
              local_hours=(8.0, 18.0))
LAUNCH = dict(country="CL", sessions_per_day=300.0)  # starts in the 1st half of evaluation

# --------------------------------------------------------------------------------------
# Countries: ISO, calling code, national number length, mobile NDCs (first = busiest
# carrier), UTC offset (hours), legitimate share (heavy-tailed; 0 = no history), SMS price
# (USD, plausible list prices; higher for the classic pumping destinations).
# An "NDC" here is the leading national digits of a carrier's range. Where a real NDC
# leaves digits that libphonenumber rejects (a NANP exchange starting with 0/1, spare
# sub-ranges), "917[23456789]" lists the valid next digits: the carrier's weight is
# split evenly over those sub-ranges, which keeps its number space (and so the density
# of legitimate users in it) as large as possible. Mexico's old mobile "1" is gone
# ("155" is "551", the same size), Argentina's carriers are "9" + area code + valid
# exchanges, and GN "64" and CL "91" (unallocated) are dropped. Every number of the
# national length under an NDC is valid in libphonenumber's metadata
# (tests/fraudsim checks this when the `phonenumbers` package is installed). Only the
# attacks' deliberately invalid-length numbers (A2a) are invalid.
# --------------------------------------------------------------------------------------
COUNTRIES = [
    ("US", "1", 10, ("917[23456789]", "646[23456789]", "310[23456789]", "415[23456789]", "702[23456789]", "312[23456789]", "713[23456789]", "305[23456789]"), -6.0, 20.0, 0.0079),
    ("IN", "91", 10, ("98", "99", "97", "96", "70", "80", "90", "63"), 5.5, 12.0, 0.0830),
    ("BR", "55", 11, ("119", "219", "319", "419", "519", "619", "719", "819"), -3.0, 8.0, 0.0450),
    ("GB", "44", 10, ("77[123456789]", "78", "79[023456789]", "74", "75"), 0.0, 6.0, 0.0400),
    ("DE", "49", 11, ("151", "152", "160", "170", "171", "176"), 1.0, 5.0, 0.0900),
    ("FR", "33", 9, ("61", "62", "66", "67", "75", "76"), 1.0, 4.5, 0.0750),
    ("MX", "52", 10, ("551", "331", "811", "222", "442"), -6.0, 4.0, 0.0500),
    ("ID", "62", 11, ("812", "813", "821", "852", "857"), 7.0, 4.0, 0.0600),
    ("PH", "63", 10, ("917", "918", "919", "927", "998"), 8.0, 3.5, 0.1700),
    ("NG", "234", 10, ("803", "806", "813", "816", "703", "706", "805", "807"), 1.0, 3.0, 0.0600),
    ("PK", "92", 10, ("300", "301", "321", "333", "345"), 5.0, 2.5, 0.1500),
    ("EG", "20", 10, ("10", "11", "12", "15"), 2.0, 2.2, 0.1200),
    ("TR", "90", 10, ("530", "532", "535", "542", "505"), 3.0, 2.2, 0.0300),
    ("VN", "84", 9, ("90", "91", "98", "97", "86"), 7.0, 2.0, 0.0700),
    ("BD", "880", 10, ("17", "18", "19", "15", "16"), 6.0, 1.8, 0.3000),
    ("ES", "34", 9, ("60", "61", "62", "65", "66", "67", "68", "69"), 1.0, 1.8, 0.0800),
    ("IT", "39", 10, ("320", "328", "333", "338", "347", "348", "349"), 1.0, 1.7, 0.0800),
    ("ZA", "27", 9, ("82", "83", "72", "73", "84"), 2.0, 1.5, 0.0300),
    ("KE", "254", 9, ("70", "71", "72", "79", "11"), 3.0, 1.2, 0.1100),
    ("CO", "57", 10, ("300", "310", "311", "312", "315", "320"), -5.0, 1.2, 0.0400),
    ("AR", "54", 11, ("911[012345678]", "9221[23456]", "9351[23456789]", "9261[2345678]", "9341[2345678]"), -3.0, 1.1, 0.0600),
    ("UA", "380", 9, ("50", "66", "67", "68", "97", "98", "63", "73"), 2.0, 1.0, 0.0900),
    ("PL", "48", 9, ("50", "51", "60", "69", "72", "78", "88"), 1.0, 1.0, 0.0400),
    ("SA", "966", 9, ("50", "53", "54", "55", "56", "59"), 3.0, 0.9, 0.0500),
    ("AE", "971", 9, ("50", "52", "54", "55", "56", "58"), 4.0, 0.8, 0.0900),
    ("UZ", "998", 9, ("90", "91", "93", "94", "95", "97", "99"), 5.0, 0.4, 0.2500),
    ("RS", "381", 9, ("60", "61", "62", "63", "64", "65", "66", "69"), 1.0, 0.4, 0.0600),
    ("LT", "370", 8, ("60", "61", "62", "63", "64", "65", "67", "68", "69"), 2.0, 0.3, 0.0410),
    ("LV", "371", 8, ("20", "21", "22", "23[1456789]", "24", "25", "26", "27", "28", "29"), 2.0, 0.25, 0.1200),
    ("AZ", "994", 9, ("50", "51", "55", "70", "77", "99"), 4.0, 0.25, 0.2500),
    ("GN", "224", 9, ("62", "65", "66", "60", "61", "63"), 0.0, 0.12, 0.1000),
    # No legitimate history (CL gets legitimate traffic only from its launch on).
    ("MH", "692", 7, ("455", "625", "235", "329"), 12.0, 0.0, 0.2800),
    ("SB", "677", 7, ("74", "75", "84", "86"), 11.0, 0.0, 0.2500),
    ("TD", "235", 8, ("66", "77", "99", "65"), 1.0, 0.0, 0.2000),
    ("SL", "232", 8, ("76", "77", "78", "30", "33"), 0.0, 0.0, 0.2000),
    ("CL", "56", 9, ("92", "93[012345789]", "94", "95", "96[012345678]", "97[123456789]", "98"), -4.0, 0.0, 0.0500),
]
# (country, NDC) -> SMS price: the expensive carrier inside a country (reference section 4).
PRICE_OVERRIDES = {("NG", "803"): 0.108, ("GN", "62"): 0.152, ("RS", "60"): 0.091, ("LT", "69"): 0.060}

# --------------------------------------------------------------------------------------
# Attack families (section 7.3); evaluation period only. Rates (and V1's calls per
# wave, down to min_calls_per_wave) are multiplied by --attack-scale (default: --scale),
# so that fraud prevalence stays about the same when the scenario is shrunk. Durations of at least
# LONG_ATTACK_SECONDS are shortened in proportion to a short evaluation period.
# ip: "datacenter" (a fixed pool, flagged), "rotating_residential" (a new worldwide
# residential IP per request), "geo_residential" (a new IP in the target country per
# request); residential proxies are flagged "proxy" at RESIDENTIAL_PROXY_FLAG_RATE.
# --------------------------------------------------------------------------------------
ATTACKS = {
    # Sequential burst into one 10k block, datacenter IPs, reused device ids.
    "A1a": dict(country="LV", rate=5.0, duration=1800, numbers="sequential_block",
                ip="datacenter", n_ips=20, tor_fraction=0.0, devices=30,
                p_deliver=0.95, p_verify=0.0),
    # Sequential burst, rotating residential proxies, no device id.
    "A1b": dict(country="GN", ndc="62", rate=20.0, duration=600, numbers="sequential_block",
                ip="rotating_residential", devices=0, p_deliver=0.95, p_verify=0.0),
    # Random within a 100k range, 15 % invalid-length numbers, datacenter + some Tor.
    "A2a": dict(country="AZ", rate=1.0, duration=4 * 3600, numbers="random_range",
                range_digits=5, invalid_fraction=0.15, ip="datacenter", n_ips=10,
                tor_fraction=0.2, devices=-1, p_deliver=0.9, p_verify=0.0),
    # Random within 1M numbers of a busy legitimate carrier, geo-matched residential IPs.
    "A2b": dict(country="NG", ndc="803", rate=0.5, duration=8 * 3600, numbers="random_range",
                range_digits=6, invalid_fraction=0.0, ip="geo_residential", devices=-1,
                p_deliver=0.85, p_verify=0.0),
    # Slow-and-low AIT: ~25 % of each country's legitimate rate in 20 countries, whole
    # mobile number space, diurnal like the legitimate traffic. The 3 biggest markets are
    # excluded (assumption: keeps prevalence near the reference's ~16 %).
    "A3": dict(n_countries=20, exclude_top=3, rel_rate=0.25, duration=5 * 86400,
               numbers="random_mobile", ip="geo_residential", devices=-1,
               p_deliver=0.9, p_verify=0.0),
    # Conversion-mimic: the attacker verifies half of the codes, quickly.
    "A4": dict(country="UZ", rate=0.3, duration=86400, numbers="random_mobile",
               ip="geo_residential", devices=-1, p_deliver=0.95, p_verify=0.5,
               verify_median=12.0, verify_sigma=0.5),
    # A country with no legitimate history.
    "A5": dict(country="MH", per_day=150.0, duration=3 * 86400, numbers="random_mobile",
               ip="datacenter", n_ips=8, tor_fraction=0.0, devices=5,
               p_deliver=0.9, p_verify=0.0),
    # Boiling frog: linear ramp from 0 to 3x the legitimate rate, diurnal.
    "A6": dict(country="RS", peak_rel_rate=3.0, duration=12 * 86400, numbers="random_mobile",
               ip="geo_residential", devices=-1, p_deliver=0.9, p_verify=0.0),
    # Voice IRSF: a few test calls to a test-IPRN range, then waves of dozens of
    # concurrent calls to a bought IPRN range within 30 minutes. Weekend-heavy (Xintec).
    "V1": dict(country="LT", test_prefix="6990", bought_prefix="6991", test_calls=3,
               test_spread=300, first_wave_after=(600, 1500), waves=3, calls_per_wave=40,
               wave_spread=300, wave_gap=(1800, 2700), call_minutes=(5.0, 30.0),
               price_per_min=0.90, ip="datacenter", n_ips=3, tor_fraction=0.0,
               devices=0, p_answer=0.97, weekend_prob=0.8, min_calls_per_wave=12),
}
# Families placed in separate strata of the evaluation period so they do not pile up.
STRATIFIED_FAMILIES = ("A1a", "A1b", "A2a", "A2b", "A4")
ATTACK_ORDER = ("A1a", "A1b", "A2a", "A2b", "A3", "A4", "A5", "A6", "V1")

# Fixed infrastructure (IP space), independent of the seed's traffic draws.
N_DATACENTER_16S = 16
N_VPN_16S = 6
N_TOR_IPS = 300

# --------------------------------------------------------------------------------------

_DIURNAL_AMP = (DIURNAL_RATIO - 1.0) / (DIURNAL_RATIO + 1.0)
_TWO_PI = 2.0 * math.pi


def diurnal(local_hour: float) -> float:
    """Cosine day shape with mean 1, peak at DIURNAL_PEAK_HOUR, ratio DIURNAL_RATIO."""
    return 1.0 + _DIURNAL_AMP * math.cos(_TWO_PI * (local_hour - DIURNAL_PEAK_HOUR) / 24.0)


def day_shape(t: float, tz: float) -> float:
    """Diurnal x weekend multiplier at absolute time t for a country at UTC offset tz."""
    local = t - START_EPOCH + tz * 3600.0
    day = math.floor(local / 86400.0)
    hour = (local - day * 86400.0) / 3600.0
    f = diurnal(hour)
    if day % 7 >= 5:  # START_EPOCH is a Monday
        f *= WEEKEND_FACTOR
    return f


def poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0.0:
        return 0
    if mean < 30.0:
        limit = math.exp(-mean)
        k, p = 0, rng.random()
        while p > limit:
            k += 1
            p *= rng.random()
        return k
    return max(0, int(round(rng.gauss(mean, math.sqrt(mean)))))


def lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return median * math.exp(sigma * rng.gauss(0.0, 1.0))


def rand_digits(rng: random.Random, n: int) -> str:
    if n <= 0:
        return ""
    return str(rng.randrange(10 ** n)).zfill(n)


class Country:
    __slots__ = ("iso", "cc", "nsn", "ndcs", "ndc_cum", "tz", "share", "price", "idx",
                 "active", "space16", "pool", "conv", "sessions_per_day", "voice_price")

    def __init__(self, idx, iso, cc, nsn, ndcs, tz, share, price):
        self.idx, self.iso, self.cc, self.nsn, self.ndcs = idx, iso, cc, nsn, ndcs
        self.tz, self.share, self.price = tz, share, price
        # "917[23456789]" -> 9172 ... 9179, sharing the carrier's weight.
        flat, w = [], []
        for i, spec in enumerate(ndcs):
            base, _, rest = spec.partition("[")
            subs = [base + d for d in rest.rstrip("]")] if rest else [base]
            flat.extend(subs)
            w.extend([1.0 / (i + 1) ** 0.8 / len(subs)] * len(subs))
        self.ndcs = ndcs = tuple(flat)
        tot, acc, cum = sum(w), 0.0, []
        for x in w:
            acc += x / tot
            cum.append(acc)
        cum[-1] = 1.0
        self.ndc_cum = cum
        self.active = {}
        self.space16 = []
        self.pool = []
        self.conv = 0.0
        self.sessions_per_day = 0.0
        self.voice_price = 0.0

    def sms_price(self, national: str) -> float:
        for ndc in self.ndcs:
            if national.startswith(ndc):
                return PRICE_OVERRIDES.get((self.iso, ndc), self.price)
        return self.price


class Scenario:
    def __init__(self, seed: int, days: int, warmup: int, scale: float, attack_scale: float):
        if days <= warmup:
            raise SystemExit("--days must be greater than --warmup")
        self.seed, self.days, self.warmup = seed, days, warmup
        self.scale, self.attack_scale = scale, attack_scale
        self.t0 = float(START_EPOCH)
        self.eval_start = self.t0 + warmup * 86400.0
        self.t_end = self.t0 + days * 86400.0
        self.eval_days = days - warmup
        self.shrink = min(1.0, self.eval_days / REFERENCE_EVAL_DAYS)
        self.countries = [Country(i, *row) for i, row in enumerate(COUNTRIES)]
        self.by_iso = {c.iso: c for c in self.countries}
        self._build_static()
        self._place_events()

    def rng(self, *parts) -> random.Random:
        return random.Random("/".join([str(self.seed)] + [str(p) for p in parts]))

    # ---- static layout: number blocks, IP space, conversion levels ------------------
    def _build_static(self):
        r = self.rng("static")
        used16 = set()
        banned_first = {0, 10, 100, 127, 169, 172, 192, 198, 203}

        def new16():
            while True:
                a = r.randrange(1, 224)
                if a in banned_first:
                    continue
                b = r.randrange(256)
                if (a, b) not in used16:
                    used16.add((a, b))
                    return f"{a}.{b}."

        total_share = sum(c.share for c in self.countries)
        base_sessions = LEGIT_REQUESTS_PER_DAY * self.scale / RETRY_INFLATION
        for c in self.countries:
            for ndc in c.ndcs:
                sub = c.nsn - len(ndc)
                bdig = max(0, sub - 4)
                nblocks = 10 ** bdig
                k = max(1, int(round(nblocks * ACTIVE_BLOCK_FRACTION)))
                blocks = sorted(r.sample(range(nblocks), k))
                c.active[ndc] = [str(b).zfill(bdig) if bdig else "" for b in blocks]
            n16 = 2 + int(round(10 * math.sqrt(max(c.share, 0.05) / 20.0)))
            c.space16 = [new16() for _ in range(n16)]
            c.conv = r.uniform(*CONVERSION_RANGE)
            c.sessions_per_day = base_sessions * c.share / total_share
            c.voice_price = max(0.013, c.price * VOICE_PRICE_MULT)
        self.dc16 = [new16() for _ in range(N_DATACENTER_16S)]
        self.vpn16 = [new16() for _ in range(N_VPN_16S)]
        self.tor_ips = [self._host(r, r.choice(self.dc16 + self.vpn16)) for _ in range(N_TOR_IPS)]
        # Legitimate (residential, CGNAT-skewed) IP pools per country.
        launch = LAUNCH["sessions_per_day"] * self.scale
        for c in self.countries:
            spd = c.sessions_per_day if c.share > 0 else (launch if c.iso == LAUNCH["country"] else 0.0)
            size = max(8, int(spd * IP_POOL_PER_DAILY_SESSION))
            c.pool = [self._host(r, r.choice(c.space16)) for _ in range(size)]
        hist = [c for c in self.countries if c.share > 0]
        self.hist = hist
        acc, self.hist_cum = 0.0, []
        for c in hist:
            acc += c.share / total_share
            self.hist_cum.append(acc)
        self.hist_cum[-1] = 1.0

    @staticmethod
    def _host(r: random.Random, prefix16: str) -> str:
        return f"{prefix16}{r.randrange(256)}.{r.randrange(1, 255)}"

    def pick_hist_country(self, r: random.Random) -> Country:
        return self.hist[bisect.bisect_left(self.hist_cum, r.random())]

    # ---- placement of anomalies and attacks -----------------------------------------
    def duration(self, seconds: float) -> float:
        return seconds * self.shrink if seconds >= LONG_ATTACK_SECONDS else seconds

    def _place_events(self):
        r = self.rng("placement")
        es, ee = self.eval_start, self.t_end
        span = ee - es
        self.windows = {}
        strata = list(STRATIFIED_FAMILIES)
        r.shuffle(strata)
        width = span / len(strata)
        for i, fam in enumerate(strata):
            dur = self.duration(ATTACKS[fam]["duration"])
            lo = es + i * width
            self.windows[fam] = (lo + r.uniform(0.0, max(0.0, width - dur)), dur)
        for fam in ("A3", "A5", "A6"):
            dur = self.duration(ATTACKS[fam]["duration"])
            self.windows[fam] = (es + r.uniform(0.0, max(0.0, span - dur)), dur)
        # V1: weekend-heavy (Friday 20:00 UTC to Monday 06:00 UTC).
        v = ATTACKS["V1"]
        vdur = 4 * 3600.0
        weekends = []
        d0 = int((es - self.t0) // 86400) - 7
        for d in range(d0, self.days + 1):
            if d % 7 == 4:
                ws = self.t0 + d * 86400 + 20 * 3600
                we = ws + 58 * 3600
                lo, hi = max(ws, es), min(we, ee) - vdur
                if hi > lo:
                    weekends.append((lo, hi))
        if weekends and r.random() < v["weekend_prob"]:
            lo, hi = r.choice(weekends)
            self.windows["V1"] = (r.uniform(lo, hi), vdur)
        else:
            self.windows["V1"] = (es + r.uniform(0.0, max(0.0, span - vdur)), vdur)
        # Legitimate anomalies.
        fl = self.by_iso[r.choice(FLASH["candidates"])]
        self.flash = (fl.idx, self._local_daytime(r, fl, FLASH), FLASH["duration"])
        out_c = [x for x in OUTAGE["candidates"] if x != fl.iso]
        ou = self.by_iso[r.choice(out_c)]
        self.outage = (ou.idx, self._local_daytime(r, ou, OUTAGE), OUTAGE["duration"])
        self.launch_t = es + r.uniform(0.0, span / 2.0)
        # A3 countries.
        a3 = ATTACKS["A3"]
        ranked = sorted(self.hist, key=lambda c: -c.share)[a3["exclude_top"]:]
        self.a3_countries = r.sample(ranked, min(a3["n_countries"], len(ranked)))
        self.a3_countries.sort(key=lambda c: c.idx)

    def _local_daytime(self, r, c, spec):
        """A start time in the evaluation period, during the country's local day
        (spec["local_hours"]), so the anomaly has enough traffic to measure."""
        lo_h, hi_h = spec["local_hours"]
        dur = spec["duration"]
        for _ in range(100):
            day = self.warmup + r.randrange(self.eval_days)
            t = self.t0 + day * 86400.0 + (r.uniform(lo_h, hi_h) - c.tz) * 3600.0
            if self.eval_start <= t <= self.t_end - dur:
                return t
        return self.eval_start + r.uniform(0.0, self.t_end - self.eval_start - dur)

    # ---- legitimate traffic ------------------------------------------------------------
    def legit_day(self, day: int, seq0: int, out: list) -> int:
        """Append the legitimate requests of sessions starting on `day`; returns next seq."""
        seq = seq0
        day_start = self.t0 + day * 86400.0
        fl_idx, fl_t, fl_d = self.flash
        ou_idx, ou_t, ou_d = self.outage
        launch_c = self.by_iso[LAUNCH["country"]]
        nbins = 86400 // BIN_SECONDS
        for c in self.countries:
            if c.share <= 0 and c is not launch_c:
                continue
            r = self.rng("legit", c.iso, day)
            daily_conv = min(0.99, max(0.3, c.conv * r.gauss(1.0, CONVERSION_DAILY_SD)))
            p_verify = min(0.995, daily_conv / (1.0 - DELIVERY_FAIL))
            for b in range(nbins):
                bs = day_start + b * BIN_SECONDS
                mid = bs + BIN_SECONDS / 2.0
                if c is launch_c:
                    if mid < self.launch_t:
                        continue
                    spd = LAUNCH["sessions_per_day"] * self.scale
                    tag = "launch"
                else:
                    spd = c.sessions_per_day
                    tag = "normal"
                    if c.idx == fl_idx and fl_t <= mid < fl_t + fl_d:
                        spd *= FLASH["multiplier"]
                        tag = "flash"
                    elif c.idx == ou_idx and ou_t <= mid < ou_t + ou_d:
                        tag = "outage"
                mean = spd * day_shape(mid, c.tz) * BIN_SECONDS / 86400.0
                n = poisson(r, mean)
                if not n:
                    continue
                times = sorted(bs + r.random() * BIN_SECONDS for _ in range(n))
                for t in times:
                    seq = self._session(r, c, t, tag, p_verify, seq, out)
        return seq

    def _user(self, r: random.Random, c: Country, users: list):
        if users and r.random() < RETURNING_USER_FRACTION:
            return users[r.randrange(len(users))], True
        ndc = c.ndcs[bisect.bisect_left(c.ndc_cum, r.random())]
        blocks = c.active[ndc]
        sub = c.nsn - len(ndc)
        nat = ndc + blocks[r.randrange(len(blocks))] + rand_digits(r, min(4, sub))
        dev = "" if r.random() < NO_DEVICE_FRACTION else f"d{r.getrandbits(48):012x}"
        home = c.pool[int(len(c.pool) * r.random() ** 2)]
        u = (nat, dev, home)
        users.append(u)
        return u, False

    def _legit_ip(self, r: random.Random, c: Country, home: str, returning: bool):
        x = r.random()
        if x < PROXY_IP_FRACTION:
            return self._host(r, r.choice(self.vpn16)), "proxy"
        x -= PROXY_IP_FRACTION
        if x < DATACENTER_IP_FRACTION:
            return self._host(r, r.choice(self.dc16)), "datacenter"
        x -= DATACENTER_IP_FRACTION
        if x < FOREIGN_IP_FRACTION:
            o = self.pick_hist_country(r)
            if o is not c:
                return o.pool[int(len(o.pool) * r.random() ** 2)], ""
        if returning and r.random() < HOME_IP_FRACTION:
            return home, ""
        return c.pool[int(len(c.pool) * r.random() ** 2)], ""

    def _session(self, r, c, t, tag, p_verify, seq, out):
        users = self._users.setdefault(c.idx, [])
        (nat, dev, home), returning = self._user(r, c, users)
        to = "+" + c.cc + nat
        ip, flag = self._legit_ip(r, c, home, returning)
        sms_price = c.sms_price(nat)
        ou_idx, ou_t, ou_d = self.outage
        attempt = 0
        while True:
            voice = r.random() < (VOICE_FIRST_ATTEMPT if attempt == 0 else VOICE_RETRY)
            in_outage = c.idx == ou_idx and ou_t <= t < ou_t + ou_d
            p_deliver = OUTAGE["deliver_prob"] if in_outage else 1.0 - DELIVERY_FAIL
            delivered = r.random() < p_deliver
            if voice:
                dd = r.uniform(*CALL_ANSWER_DELAY) if delivered else lognormal(r, DLR_FAIL_DELAY_MEDIAN, DLR_FAIL_DELAY_SIGMA)
                cost = c.voice_price * VOICE_OTP_MINUTES
            else:
                dd = lognormal(r, DLR_DELAY_MEDIAN, DLR_DELAY_SIGMA) if delivered else lognormal(r, DLR_FAIL_DELAY_MEDIAN, DLR_FAIL_DELAY_SIGMA)
                cost = sms_price
            dd = min(dd, 3600.0)
            verified = delivered and r.random() < p_verify
            vd = min(dd + lognormal(r, VERIFY_DELAY_MEDIAN, VERIFY_DELAY_SIGMA), VERIFY_DELAY_MAX) if verified else None
            out.append((round(t, 3), seq, "call" if voice else "sms", to, ip, flag, dev,
                        0, tag, c.iso, cost, delivered, dd, verified, vd))
            seq += 1
            if verified or attempt >= len(RETRY_PROBS) or r.random() >= RETRY_PROBS[attempt]:
                return seq
            attempt += 1
            t += r.uniform(*RETRY_DELAY)
            if r.random() < 0.3:  # the retry may come from another IP (mobile data vs wifi)
                ip, flag = self._legit_ip(r, c, home, True)

    # ---- attacks -------------------------------------------------------------------------
    def attack_records(self) -> list:
        recs = []
        for fam in ATTACK_ORDER:
            recs.extend(self._attack_v1(fam) if fam == "V1" else self._attack_generic(fam))
        return recs

    def _times_const(self, r, rate, start, dur):
        times, t = [], start
        if rate <= 0:
            return times
        while True:
            t += r.expovariate(rate)
            if t >= start + dur:
                return times
            times.append(t)

    def _times_fn(self, r, fn, start, dur):
        times, t = [], start
        end = start + dur
        while t < end:
            b1 = min(end, t + BIN_SECONDS)
            n = poisson(r, fn((t + b1) / 2.0) * (b1 - t))
            times.extend(sorted(t + r.random() * (b1 - t) for _ in range(n)))
            t = b1
        return times

    def _ensure_min(self, r, times, start, dur, k=3):
        if len(times) < k:
            times = sorted(times + [start + r.random() * dur for _ in range(k - len(times))])
        return times

    def _ip_maker(self, r, spec, country):
        kind = spec["ip"]
        if kind == "datacenter":
            ips = []
            for _ in range(spec["n_ips"]):
                if r.random() < spec.get("tor_fraction", 0.0):
                    ips.append((r.choice(self.tor_ips), "tor"))
                else:
                    ips.append((self._host(r, r.choice(self.dc16)), "datacenter"))
            return lambda: ips[r.randrange(len(ips))]

        def resi(c):
            flag = "proxy" if r.random() < RESIDENTIAL_PROXY_FLAG_RATE else ""
            if r.random() < 0.5 and c.pool:
                return c.pool[r.randrange(len(c.pool))], flag
            return self._host(r, r.choice(c.space16)), flag

        if kind == "rotating_residential":
            return lambda: resi(self.pick_hist_country(r))
        return lambda: resi(country)

    def _device_maker(self, r, spec):
        n = spec.get("devices", 0)
        if n == 0:
            return lambda: ""
        if n < 0:  # random fingerprint per request, sometimes missing
            return lambda: "" if r.random() < 0.3 else f"d{r.getrandbits(48):012x}"
        devs = [f"d{r.getrandbits(48):012x}" for _ in range(n)]
        return lambda: devs[r.randrange(len(devs))]

    def _sms_outcome(self, r, spec):
        delivered = r.random() < spec["p_deliver"]
        dd = lognormal(r, DLR_DELAY_MEDIAN, DLR_DELAY_SIGMA) if delivered else lognormal(r, DLR_FAIL_DELAY_MEDIAN, DLR_FAIL_DELAY_SIGMA)
        verified = delivered and r.random() < spec["p_verify"]
        vd = dd + lognormal(r, spec.get("verify_median", VERIFY_DELAY_MEDIAN), spec.get("verify_sigma", VERIFY_DELAY_SIGMA)) if verified else None
        if vd is not None:
            vd = min(vd, VERIFY_DELAY_MAX)
        return delivered, min(dd, 3600.0), verified, vd

    def _attack_generic(self, fam):
        spec = ATTACKS[fam]
        r = self.rng("attack", fam)
        start, dur = self.windows[fam]
        k = self.attack_scale
        recs = []
        if fam == "A3":
            targets = [(c, self._times_fn(r, (lambda t, c=c: spec["rel_rate"] * c.sessions_per_day * RETRY_INFLATION * day_shape(t, c.tz) / 86400.0 * k / self.scale if self.scale else 0.0), start, dur))
                       for c in self.a3_countries]
        elif fam == "A6":
            c = self.by_iso[spec["country"]]
            fn = (lambda t, c=c: spec["peak_rel_rate"] * (t - start) / dur * c.sessions_per_day * RETRY_INFLATION * day_shape(t, c.tz) / 86400.0 * k / self.scale)
            targets = [(c, self._times_fn(r, fn, start, dur))]
        else:
            c = self.by_iso[spec["country"]]
            rate = spec["per_day"] / 86400.0 if "per_day" in spec else spec["rate"]
            targets = [(c, self._times_const(r, rate * k, start, dur))]
        targets = [(c, self._ensure_min(r, ts, start, dur)) for c, ts in targets]
        for c, times in targets:
            ipf = self._ip_maker(r, spec, c)
            devf = self._device_maker(r, spec)
            numf = self._number_maker(r, spec, c)
            for t in times:
                nat = numf()
                ip, flag = ipf()
                delivered, dd, verified, vd = self._sms_outcome(r, spec)
                if len(nat) != c.nsn:
                    delivered, verified, vd = False, False, None
                recs.append((round(t, 3), 0, "sms", "+" + c.cc + nat, ip, flag, devf(), 1, fam,
                             c.iso, c.sms_price(nat), delivered, dd, verified, vd))
        return recs

    def _number_maker(self, r, spec, c):
        kind = spec["numbers"]
        if kind == "sequential_block":
            ndc = spec.get("ndc") or r.choice(c.ndcs)
            sub = c.nsn - len(ndc)
            base = ndc + rand_digits(r, sub - 4)
            state = [r.randrange(10000)]

            def seqnum():
                v = state[0]
                state[0] = (v + (2 if r.random() < 0.1 else 1)) % 10000
                return base + str(v).zfill(4)
            return seqnum
        if kind == "random_range":
            ndc = spec.get("ndc") or r.choice(c.ndcs)
            sub = c.nsn - len(ndc)
            rd = spec["range_digits"]
            base = ndc + rand_digits(r, sub - rd)
            inv = spec.get("invalid_fraction", 0.0)

            def rangenum():
                nat = base + rand_digits(r, rd)
                if r.random() < inv:
                    cut = r.choice((-2, -1, 1, 2))
                    nat = nat[:cut] if cut < 0 else nat + rand_digits(r, cut)
                return nat
            return rangenum

        def mobile():
            ndc = c.ndcs[r.randrange(len(c.ndcs))]
            return ndc + rand_digits(r, c.nsn - len(ndc))
        return mobile

    def _attack_v1(self, fam):
        spec = ATTACKS[fam]
        r = self.rng("attack", fam)
        start, _ = self.windows[fam]
        c = self.by_iso[spec["country"]]
        ipf = self._ip_maker(r, spec, c)
        sub_t = c.nsn - len(spec["test_prefix"])
        sub_b = c.nsn - len(spec["bought_prefix"])
        recs = []

        def call(t, nat):
            answered = r.random() < spec["p_answer"]
            dd = r.uniform(*CALL_ANSWER_DELAY) if answered else lognormal(r, DLR_FAIL_DELAY_MEDIAN, DLR_FAIL_DELAY_SIGMA)
            minutes = r.uniform(*spec["call_minutes"]) if answered else 0.0
            ip, flag = ipf()
            recs.append((round(t, 3), 0, "call", "+" + c.cc + nat, ip, flag, "", 1, fam, c.iso,
                         round(spec["price_per_min"] * minutes, 4), answered, dd, False, None))

        test_nums = [spec["test_prefix"] + rand_digits(r, sub_t) for _ in range(2)]
        for _ in range(spec["test_calls"]):
            call(start + r.random() * spec["test_spread"], r.choice(test_nums))
        t = start + r.uniform(*spec["first_wave_after"])
        per_wave = max(spec["min_calls_per_wave"], int(round(spec["calls_per_wave"] * self.attack_scale)))
        for _ in range(spec["waves"]):
            for _ in range(per_wave):
                call(t + r.random() * spec["wave_spread"], spec["bought_prefix"] + rand_digits(r, sub_b))
            t += r.uniform(*spec["wave_gap"])
        recs.sort(key=lambda x: x[0])
        return recs

    # ---- output -----------------------------------------------------------------------
    def generate(self, out_path: str, labels_path: str) -> dict:
        self._users = {}
        attacks = sorted(self.attack_records(), key=lambda x: x[0])
        attacks = [a for a in attacks if a[0] < self.t_end]
        ai = 0
        seq = 0
        pending = []
        counts = {}
        n = 0
        with open(out_path, "w", encoding="ascii", newline="\n", buffering=1 << 20) as fo, \
                open(labels_path, "w", encoding="ascii", newline="\n", buffering=1 << 20) as fl:
            for day in range(self.days):
                seq = self.legit_day(day, seq, pending)
                day_end = self.t0 + (day + 1) * 86400.0
                while ai < len(attacks) and attacks[ai][0] < day_end:
                    a = attacks[ai]
                    pending.append((a[0], seq) + a[2:])
                    seq += 1
                    ai += 1
                last = day == self.days - 1
                pending.sort(key=lambda x: (x[0], x[1]))
                cut = len(pending) if last else bisect.bisect_left(pending, (day_end,))
                n = self._write(pending[:cut], fo, fl, n, counts)
                del pending[:cut]
        return counts

    def _write(self, recs, fo, fl, n, counts):
        ev_start = self.eval_start
        t_end = self.t_end
        wo, wl = fo.write, fl.write
        for (t, _s, ch, to, ip, flag, dev, is_fraud, fam, iso, cost, deliv, dd, ver, vd) in recs:
            if t >= t_end:
                continue
            n += 1
            rid = f"r{n}"
            line = f'{{"type":"request","t":{t:.3f},"id":"{rid}","channel":"{ch}","to":"{to}","ip":"{ip}"'
            if flag:
                line += f',"ip_flags":["{flag}"]'
            if dev:
                line += f',"device":"{dev}"'
            wo(line + "}\n")
            wl(f'{{"id":"{rid}","t":{t:.3f},"label":"{"fraud" if is_fraud else "legit"}","family":"{fam}",'
               f'"country":"{iso}","cost_usd":{round(cost, 6)!r},'
               f'"would_deliver":{"true" if deliv else "false"},"deliver_delay":{dd:.3f},'
               f'"would_verify":{"true" if ver else "false"},'
               f'"verify_delay":{"null" if vd is None else format(vd, ".3f")},'
               f'"eval":{"true" if t >= ev_start else "false"}}}\n')
            key = (fam, t >= ev_start)
            counts[key] = counts.get(key, 0) + 1
        return n


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--days", type=int, default=21)
    ap.add_argument("--warmup", type=int, default=7)
    ap.add_argument("--scale", type=float, default=1.0, help="legitimate volume multiplier (1.0 = 40k requests/day)")
    ap.add_argument("--attack-scale", type=float, default=None, help="attack rate multiplier (default: --scale)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--labels", required=True)
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)
    if a.scale <= 0:
        ap.error("--scale must be positive")
    sc = Scenario(a.seed, a.days, a.warmup, a.scale, a.scale if a.attack_scale is None else a.attack_scale)
    counts = sc.generate(a.out, a.labels)
    if not a.quiet:
        total = sum(counts.values())
        ev = {k[0]: v for k, v in counts.items() if k[1]}
        warm = sum(v for k, v in counts.items() if not k[1])
        print(f"requests: {total} (warm-up {warm}, evaluation {sum(ev.values())})", file=sys.stderr)
        fam_order = ["normal", "flash", "launch", "outage"] + list(ATTACK_ORDER)
        print("evaluation period by family: " + ", ".join(f"{f}={ev[f]}" for f in fam_order if f in ev), file=sys.stderr)
        for fam in ATTACK_ORDER:
            s, d = sc.windows[fam]
            print(f"  {fam}: start +{(s - sc.t0) / 86400:.2f} d, duration {d / 3600:.1f} h", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
