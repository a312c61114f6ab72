//! Decisions per second of the detector on a realistic mixed stream (see
//! `stream.rs`), including the verification feedback. Per-decision
//! percentiles: `cargo run --release -p tollgate-detect --example latency`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tollgate_detect::{Detector, Mode};

#[allow(dead_code)]
mod stream;

const BATCH: u64 = 10_000;

fn decide(c: &mut Criterion) {
    let sends = stream::generate(400_000, 30.0, 7);
    let span = sends.last().map(|s| s.t).unwrap_or(0.0) - sends.first().map(|s| s.t).unwrap_or(0.0);
    let mut d = Detector::new(Mode::Standard);
    let mut f = stream::Feeder::new();
    // Warm up: one pass over the stream (a few days of traffic).
    for _ in 0..sends.len() {
        f.step(&mut d, &sends, span + 60.0);
    }
    let mut g = c.benchmark_group("detector");
    g.throughput(Throughput::Elements(BATCH));
    g.bench_function("decide_mixed_stream_x10000", |b| {
        b.iter(|| {
            let mut blocked = 0u32;
            for _ in 0..BATCH {
                blocked += u32::from(f.step(&mut d, &sends, span + 60.0));
            }
            blocked
        });
    });
    g.finish();
}

criterion_group!(benches, decide);
criterion_main!(benches);
