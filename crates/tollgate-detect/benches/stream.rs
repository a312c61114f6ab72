//! A deterministic, realistic mixed stream for the benchmarks: legitimate
//! users in 20 countries (heavy-tailed shares, users in 30 % of the 10k
//! blocks, half of them returning, 78 % verified ~25 s later, IPs from
//! per-country pools, 2 % proxy-flagged), with 5 % pumping mixed in
//! (sequential sweeps and random-in-range bursts, none verified).

use std::collections::VecDeque;

use tollgate_detect::{Channel, Detector, IpFlags, Request};

/// One generated send.
pub struct Send {
    pub t: f64,
    pub id: String,
    pub digits: String,
    pub cc: &'static str,
    pub ip: String,
    pub flags: IpFlags,
    pub device: String,
    pub verify_after: Option<f64>,
}

struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n.max(1)
    }
}

/// (calling code, national digits after the 2-digit NDC, share).
const COUNTRIES: [(&str, u32, u64); 20] = [
    ("1", 8, 200),
    ("91", 8, 120),
    ("55", 9, 80),
    ("44", 8, 60),
    ("49", 9, 50),
    ("33", 7, 45),
    ("52", 8, 40),
    ("62", 9, 40),
    ("63", 8, 35),
    ("234", 8, 30),
    ("92", 8, 25),
    ("20", 8, 22),
    ("90", 8, 22),
    ("84", 7, 20),
    ("34", 7, 18),
    ("39", 8, 17),
    ("27", 7, 15),
    ("254", 7, 12),
    ("371", 6, 3),
    ("998", 7, 4),
];

fn country(ci: usize) -> (&'static str, u32, u64) {
    COUNTRIES.get(ci).copied().unwrap_or(("1", 8, 200))
}

/// Generates `n` sends in time order at about `rate` per second.
pub fn generate(n: usize, rate: f64, seed: u64) -> Vec<Send> {
    let mut rng = Lcg(seed);
    let total: u64 = COUNTRIES.iter().map(|c| c.2).sum();
    let mut users: Vec<(usize, String, String)> = Vec::new();
    let mut out = Vec::with_capacity(n);
    let mut t = 1_700_000_000.0;
    let mut sweep: Option<(usize, u64, u64)> = None;
    for i in 0..n {
        t += 1.0 / rate * (0.5 + rng.next(1000) as f64 / 1000.0);
        let id = format!("r{i}");
        // 5 % pumping: a sequential sweep or random numbers in a 100k range.
        if rng.next(100) < 5 {
            let (ci, base, k) = *sweep.get_or_insert_with(|| (18, rng.next(90) + 10, 0));
            let (cc, rest, _) = country(ci);
            let digits = if k % 2 == 0 {
                format!("{cc}2{base}{:0w$}", k / 2 % 10_000, w = rest as usize - 1)
            } else {
                format!(
                    "{cc}2{base}{:0w$}",
                    rng.next(100_000),
                    w = rest as usize - 1
                )
            };
            sweep = if k > 2000 {
                None
            } else {
                Some((ci, base, k + 1))
            };
            out.push(Send {
                t,
                id,
                digits,
                cc,
                ip: format!("203.0.{}.{}", rng.next(4), rng.next(256)),
                flags: IpFlags::DATACENTER,
                device: String::new(),
                verify_after: None,
            });
            continue;
        }
        let returning = !users.is_empty() && rng.next(2) == 0;
        let known = if returning {
            users.get(rng.next(users.len() as u64) as usize).cloned()
        } else {
            None
        };
        let (ci, number, device) = if let Some(user) = known {
            user
        } else {
            let mut pick = rng.next(total);
            let mut ci = 0;
            for (j, c) in COUNTRIES.iter().enumerate() {
                if pick < c.2 {
                    ci = j;
                    break;
                }
                pick -= c.2;
            }
            let (cc, rest, _) = country(ci);
            let ndc = 70 + rng.next(8);
            let blocks = 10u64.pow(rest - 4);
            let block = rng.next(blocks) * 3 / 10;
            let digits = format!(
                "{cc}{ndc}{block:0w$}{:04}",
                rng.next(10_000),
                w = rest as usize - 4
            );
            let device = format!("d{:012x}", rng.next(1 << 40));
            if users.len() < 200_000 {
                users.push((ci, digits.clone(), device.clone()));
            }
            (ci, digits, device)
        };
        let (cc, _, share) = country(ci);
        let pool = share * 20;
        let flags = if rng.next(100) < 2 {
            IpFlags::PROXY
        } else {
            IpFlags::NONE
        };
        out.push(Send {
            t,
            id,
            digits: number,
            cc,
            ip: format!("10.{ci}.{}.{}", rng.next(pool) / 256, rng.next(256)),
            flags,
            device,
            verify_after: (rng.next(100) < 78).then(|| 10.0 + rng.next(40) as f64),
        });
    }
    out
}

/// Feeds sends `range` of `stream` to the detector, delivering the
/// verifications that fall due first; returns how many were blocked.
#[derive(Default)]
pub struct Feeder {
    due: VecDeque<(f64, usize)>,
    pub next: usize,
}

impl Feeder {
    pub fn new() -> Feeder {
        Feeder {
            due: VecDeque::new(),
            next: 0,
        }
    }

    /// Decides on the next send (wrapping around), with its feedback.
    pub fn step(&mut self, d: &mut Detector, stream: &[Send], time_offset: f64) -> bool {
        let i = self.next % stream.len().max(1);
        let lap = (self.next / stream.len().max(1)) as f64;
        self.next += 1;
        let Some(s) = stream.get(i) else {
            return false;
        };
        let t = s.t + lap * time_offset;
        while let Some((due, j)) = self.due.front().copied() {
            if due > t {
                break;
            }
            self.due.pop_front();
            if let Some(sent) = stream.get(j) {
                d.verified(due, &sent.id);
            }
        }
        let v = d.decide(&Request {
            t,
            id: &s.id,
            digits: &s.digits,
            calling_code: s.cc,
            valid: true,
            channel: Channel::Sms,
            ip: Some(&s.ip),
            ip_flags: s.flags,
            device: (!s.device.is_empty()).then_some(s.device.as_str()),
            price_micros: 0,
            ..Request::default()
        });
        if v.allow
            && let Some(after) = s.verify_after
        {
            self.due.push_back((t + after, i));
        }
        !v.allow
    }
}
