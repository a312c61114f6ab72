//! Classifications per second of E.164 numbers: the compiled path, against
//! `rlibphonenumber`'s own parse + type + validity on the same numbers.
//! The sample (example numbers of every region and type, with varied last
//! digits) is written to `target/numbering-bench-sample.txt` so that
//! `scripts/bench-numbering-python` times the Python package on it too.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rlibphonenumber::{PHONE_NUMBER_UTIL, PhoneNumberFormat, PhoneNumberType};
use std::hint::black_box;
use tollgate_numbering::Classifier;

const TYPES: [PhoneNumberType; 10] = [
    PhoneNumberType::FixedLine,
    PhoneNumberType::Mobile,
    PhoneNumberType::TollFree,
    PhoneNumberType::PremiumRate,
    PhoneNumberType::SharedCost,
    PhoneNumberType::VoIP,
    PhoneNumberType::PersonalNumber,
    PhoneNumberType::Pager,
    PhoneNumberType::UAN,
    PhoneNumberType::VoiceMail,
];

fn sample() -> Vec<String> {
    let mut out = Vec::new();
    for region in PHONE_NUMBER_UTIL.get_supported_regions() {
        for t in TYPES {
            if let Ok(n) = PHONE_NUMBER_UTIL.get_example_number_for_type_and_region(region, t) {
                let s = PHONE_NUMBER_UTIL
                    .format(&n, PhoneNumberFormat::E164)
                    .into_owned();
                for d in ["1", "4", "7"] {
                    out.push(format!("{}{d}", &s[..s.len() - 1]));
                }
            }
        }
    }
    out.sort();
    out
}

fn bench(c: &mut Criterion) {
    let numbers = sample();
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../target/numbering-bench-sample.txt"
    );
    let _ = std::fs::write(path, numbers.join("\n") + "\n");
    let classifier = Classifier::new();
    classifier.warm();
    let mut group = c.benchmark_group("classify_e164");
    group.throughput(Throughput::Elements(numbers.len() as u64));
    group.bench_function("tollgate_compiled", |b| {
        b.iter(|| {
            for n in &numbers {
                black_box(classifier.classify(black_box(n), None));
            }
        })
    });
    group.bench_function("rlibphonenumber_parse_type_valid", |b| {
        b.iter(|| {
            for n in &numbers {
                if let Ok(p) = PHONE_NUMBER_UTIL.parse(black_box(n), None) {
                    black_box(PHONE_NUMBER_UTIL.get_number_type(&p));
                    black_box(PHONE_NUMBER_UTIL.is_valid_number(&p));
                    black_box(PHONE_NUMBER_UTIL.get_region_for_number(&p));
                }
            }
        })
    });
    group.finish();

    // Mixed input, as a form sees it (invalid lengths, junk, random digits):
    // `scripts/numbering-diff --count 100000 --seed 1 --dump-only --dump target/numbering-mixed-sample.txt`.
    let mixed_path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../target/numbering-mixed-sample.txt"
    );
    if let Ok(text) = std::fs::read_to_string(mixed_path) {
        let mixed: Vec<&str> = text.lines().collect();
        let mut group = c.benchmark_group("classify_mixed");
        group.throughput(Throughput::Elements(mixed.len() as u64));
        group.sample_size(20);
        group.bench_function("tollgate_compiled", |b| {
            b.iter(|| {
                for n in &mixed {
                    black_box(classifier.classify(black_box(n), None));
                }
            })
        });
        group.bench_function("rlibphonenumber_parse_type_valid", |b| {
            b.iter(|| {
                for n in &mixed {
                    if let Ok(p) = PHONE_NUMBER_UTIL.parse(black_box(n), None) {
                        black_box(PHONE_NUMBER_UTIL.get_number_type(&p));
                        black_box(PHONE_NUMBER_UTIL.is_valid_number(&p));
                        black_box(PHONE_NUMBER_UTIL.get_region_for_number(&p));
                    }
                }
            })
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
