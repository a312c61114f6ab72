//! Bounded-memory building blocks: exponentially decayed counters and
//! rates, a two-generation Bloom filter, and the hashes they use.

/// A count that halves every `half_life` seconds (event time).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Decay {
    value: f64,
    t: f64,
}

impl Decay {
    /// The value at `t` (times before the last update count as that update).
    pub(crate) fn get(&self, t: f64, half_life: f64) -> f64 {
        if self.value == 0.0 {
            return 0.0;
        }
        let dt = (t - self.t).max(0.0);
        self.value * (-dt / half_life).exp2()
    }

    pub(crate) fn add(&mut self, t: f64, half_life: f64, x: f64) {
        let t = t.max(self.t);
        self.value = self.get(t, half_life) + x;
        self.t = t;
    }

    /// Replaces the value (used to hold an estimate).
    pub(crate) fn set(&mut self, t: f64, x: f64) {
        self.value = x;
        self.t = t.max(self.t);
    }
}

/// A decayed event rate: events and elapsed time decay alike, so the rate
/// is right from the first hour on (no warm-up bias).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Rate {
    count: f64,
    span: f64,
    t: f64,
    started: bool,
}

impl Rate {
    fn roll(&mut self, t: f64, half_life: f64) {
        if !self.started {
            self.started = true;
            self.t = t;
            return;
        }
        let dt = (t - self.t).max(0.0);
        if dt > 0.0 {
            let k = (-dt / half_life).exp2();
            // Elapsed time integrates the decay: ∫ 2^(-s/h) ds over dt.
            self.span = self.span * k + (1.0 - k) * half_life / std::f64::consts::LN_2;
            self.count *= k;
            self.t = t;
        }
    }

    pub(crate) fn add(&mut self, t: f64, half_life: f64, x: f64) {
        self.roll(t, half_life);
        self.count += x;
    }

    /// Events per second, and the (decayed) seconds observed.
    pub(crate) fn rate(&self, t: f64, half_life: f64) -> (f64, f64) {
        let mut r = *self;
        r.roll(t, half_life);
        if r.span <= 0.0 {
            return (0.0, 0.0);
        }
        (r.count / r.span, r.span)
    }
}

/// A Bloom filter with two generations: when the current one has taken its
/// capacity it becomes the previous one and a fresh one starts, so memory
/// stays fixed and old members are forgotten after two generations.
#[derive(Debug, Clone)]
pub(crate) struct Bloom {
    current: Vec<u64>,
    previous: Vec<u64>,
    inserted: usize,
    capacity: usize,
    mask: u64,
}

impl Bloom {
    /// `bits` is rounded up to a power of two (at least 64).
    pub(crate) fn new(bits: usize, capacity: usize) -> Bloom {
        let bits = bits.max(64).next_power_of_two();
        Bloom {
            current: vec![0; bits / 64],
            previous: vec![0; bits / 64],
            inserted: 0,
            capacity,
            mask: (bits - 1) as u64,
        }
    }

    fn positions(&self, h: u64) -> [u64; 3] {
        let h2 = mix(h ^ 0x9e37_79b9_7f4a_7c15) | 1;
        [
            h & self.mask,
            h.wrapping_add(h2) & self.mask,
            h.wrapping_add(h2.wrapping_mul(2)) & self.mask,
        ]
    }

    fn test(words: &[u64], p: u64) -> bool {
        words
            .get((p / 64) as usize)
            .is_some_and(|w| w & (1 << (p % 64)) != 0)
    }

    pub(crate) fn contains(&self, h: u64) -> bool {
        let ps = self.positions(h);
        ps.iter().all(|p| Self::test(&self.current, *p))
            || ps.iter().all(|p| Self::test(&self.previous, *p))
    }

    pub(crate) fn insert(&mut self, h: u64) {
        let ps = self.positions(h);
        if ps.iter().all(|p| Self::test(&self.current, *p)) {
            return;
        }
        if self.inserted >= self.capacity {
            std::mem::swap(&mut self.current, &mut self.previous);
            self.current.iter_mut().for_each(|w| *w = 0);
            self.inserted = 0;
        }
        for p in ps {
            if let Some(w) = self.current.get_mut((p / 64) as usize) {
                *w |= 1 << (p % 64);
            }
        }
        self.inserted += 1;
    }
}

/// A count-min sketch of event counts that halve every `half_life`
/// seconds of event time (all cells at once): fixed memory, and an
/// estimate that never undercounts.
#[derive(Debug, Clone)]
pub(crate) struct CountMin {
    cells: Vec<u32>,
    width_mask: u64,
    half_life: f64,
    next_halving: f64,
}

const COUNT_MIN_ROWS: usize = 4;

impl CountMin {
    /// `width` (cells per row) is rounded up to a power of two.
    pub(crate) fn new(width: usize, half_life: f64) -> CountMin {
        let width = width.max(64).next_power_of_two();
        CountMin {
            cells: vec![0; width * COUNT_MIN_ROWS],
            width_mask: (width - 1) as u64,
            half_life,
            next_halving: f64::NAN,
        }
    }

    fn cell(&self, row: usize, h: u64) -> usize {
        let hr = mix(h ^ (row as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let width = self.width_mask as usize + 1;
        row * width + (hr & self.width_mask) as usize
    }

    fn age(&mut self, t: f64) {
        if self.next_halving.is_nan() {
            self.next_halving = t + self.half_life;
        }
        if t - self.next_halving > 32.0 * self.half_life {
            self.cells.iter_mut().for_each(|c| *c = 0);
            self.next_halving = t + self.half_life;
        }
        while t >= self.next_halving {
            self.cells.iter_mut().for_each(|c| *c /= 2);
            self.next_halving += self.half_life;
        }
    }

    pub(crate) fn add(&mut self, t: f64, h: u64) {
        self.age(t);
        for row in 0..COUNT_MIN_ROWS {
            let i = self.cell(row, h);
            if let Some(c) = self.cells.get_mut(i) {
                *c = c.saturating_add(1);
            }
        }
    }

    pub(crate) fn get(&self, h: u64) -> u32 {
        (0..COUNT_MIN_ROWS)
            .map(|row| self.cells.get(self.cell(row, h)).copied().unwrap_or(0))
            .min()
            .unwrap_or(0)
    }
}

/// A 64-bit finaliser (splitmix64).
pub(crate) fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// FNV-1a then [`mix`], with a domain tag so IPs and devices never collide.
pub(crate) fn hash_str(tag: u64, s: &str) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ tag;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix(h)
}

/// ln P(X ≥ k) for X ~ Poisson(λ), by the Chernoff bound (an upper bound:
/// it never overstates how surprising a count is). 0 when k ≤ λ.
pub(crate) fn poisson_upper_tail_ln(k: f64, lambda: f64) -> f64 {
    if k <= lambda || k <= 0.0 {
        return 0.0;
    }
    let lambda = lambda.max(1e-12);
    -lambda + k * (1.0 + lambda.ln() - k.ln())
}

/// ln P(V ≤ v) for V ~ Binomial(n, p), by the Chernoff bound (relative
/// entropy form). 0 when v ≥ n·p.
pub(crate) fn binomial_lower_tail_ln(v: f64, n: f64, p: f64) -> f64 {
    if n <= 0.0 || v >= n * p {
        return 0.0;
    }
    let q = (v / n).clamp(1e-9, 1.0 - 1e-9);
    let p = p.clamp(1e-9, 1.0 - 1e-9);
    -n * (q * (q / p).ln() + (1.0 - q) * ((1.0 - q) / (1.0 - p)).ln())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decay_halves_every_half_life() {
        let mut d = Decay::default();
        d.add(0.0, 10.0, 8.0);
        assert!((d.get(10.0, 10.0) - 4.0).abs() < 1e-9);
        assert!((d.get(30.0, 10.0) - 1.0).abs() < 1e-9);
        d.add(30.0, 10.0, 1.0);
        assert!((d.get(30.0, 10.0) - 2.0).abs() < 1e-9);
    }

    #[test]
    fn rate_is_unbiased_from_the_start() {
        let mut r = Rate::default();
        for i in 0..=600 {
            r.add(f64::from(i), 3600.0, 2.0);
        }
        let (rate, span) = r.rate(600.0, 3600.0);
        assert!((rate - 2.0).abs() < 0.05, "{rate}");
        // The elapsed time decays like the events: ∫₀⁶⁰⁰ 2^(-s/3600) ds ≈ 566 s.
        assert!(span > 560.0 && span < 570.0, "{span}");
    }

    #[test]
    fn bloom_remembers_and_rotates() {
        let mut b = Bloom::new(1 << 12, 100);
        for i in 0..100u64 {
            b.insert(mix(i));
        }
        assert!((0..100u64).all(|i| b.contains(mix(i))));
        let false_positives = (1000..2000u64).filter(|i| b.contains(mix(*i))).count();
        assert!(false_positives < 20, "{false_positives}");
        // Two more generations forget the first.
        for i in 5000..5200u64 {
            b.insert(mix(i));
        }
        let remembered = (0..100u64).filter(|i| b.contains(mix(*i))).count();
        assert!(remembered < 10, "{remembered}");
    }

    #[test]
    fn tails_are_bounds_in_the_right_direction() {
        // P(X ≥ 10 | λ = 1) ≈ 1.1e-7; the bound is above it.
        let ln = poisson_upper_tail_ln(10.0, 1.0);
        assert!(ln > (1.1e-7f64).ln() && ln < (1e-5f64).ln(), "{ln}");
        assert_eq!(poisson_upper_tail_ln(1.0, 2.0), 0.0);
        // P(V ≤ 20 | n = 100, p = 0.8) is astronomically small.
        assert!(binomial_lower_tail_ln(20.0, 100.0, 0.8) < -50.0);
        assert_eq!(binomial_lower_tail_ln(80.0, 100.0, 0.8), 0.0);
    }

    #[test]
    fn count_min_never_undercounts_and_halves_with_time() {
        let mut cm = CountMin::new(1 << 14, 100.0);
        for k in 0..5_000u64 {
            for _ in 0..(k % 7) {
                cm.add(0.0, mix(k));
            }
        }
        let mut over = 0;
        for k in 0..5_000u64 {
            let got = cm.get(mix(k));
            assert!(got >= (k % 7) as u32, "{k}: {got}");
            over += got - (k % 7) as u32;
        }
        // Width 16,384 for 5,000 keys: collisions add less than 1 on average.
        assert!(over < 5_000, "{over}");
        let hot = mix(42_000_000);
        for _ in 0..40 {
            cm.add(0.0, hot);
        }
        let before = cm.get(hot);
        cm.add(250.0, mix(1));
        let after = cm.get(hot);
        assert!(
            after <= before / 4 + 1 && after >= 40 / 4,
            "{before} -> {after}"
        );
        // A jump of years forgets everything at once.
        cm.add(1e9, mix(1));
        assert_eq!(cm.get(hot), 0);
    }
}
