//! Per-decision latency of the detector (criterion reports means only):
//! warms a detector on a realistic mixed stream, then times every
//! `decide` (with the verification feedback delivered in between, untimed)
//! and prints decisions per second, median, p99, p99.9 and max.
//!
//! ```sh
//! cargo run --release -p tollgate-detect --example latency [-- <decisions>]
//! ```

use std::time::Instant;

use tollgate_detect::{Detector, Mode};

#[allow(dead_code)]
#[path = "../benches/stream.rs"]
mod stream;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let sends = stream::generate(400_000, 30.0, 11);
    let span = sends.last().map(|s| s.t).unwrap_or(0.0) - sends.first().map(|s| s.t).unwrap_or(0.0);
    let mut d = Detector::new(Mode::Standard);
    let mut f = stream::Feeder::new();
    for _ in 0..sends.len() {
        f.step(&mut d, &sends, span + 60.0);
    }
    let mut lat = Vec::with_capacity(n);
    let mut blocked = 0usize;
    let start = Instant::now();
    for _ in 0..n {
        let t0 = Instant::now();
        blocked += usize::from(f.step(&mut d, &sends, span + 60.0));
        lat.push(t0.elapsed().as_nanos() as u64);
    }
    let wall = start.elapsed().as_secs_f64();
    lat.sort_unstable();
    let q = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    let (ranges, countries, pending) = d.footprint();
    println!(
        "decisions {n} in {wall:.3} s: {:.0}/s (incl. feedback and timing); blocked {blocked}",
        n as f64 / wall
    );
    println!(
        "latency ns: p50 {} p90 {} p99 {} p99.9 {} max {}",
        q(0.5),
        q(0.9),
        q(0.99),
        q(0.999),
        lat.last().copied().unwrap_or(0)
    );
    println!("state: {ranges} ranges, {countries} countries, {pending} pending sends");
}
