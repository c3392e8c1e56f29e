//! Throughput of liftwatch-core on one core: protocol decoding and rollup
//! updates. Run with `cargo bench -p liftwatch-benches --bench core`;
//! figures and their reading are in `docs/performance.md`.

// `criterion_group!`/`criterion_main!` generate undocumented items.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use liftwatch_benches::{array_json, decode_ts, mixed_json, now, run_json, Fleet, DEVICE, OFFSET_SECS, TOPIC};
use liftwatch_core::ledger::{Applied, Ledger};
use liftwatch_core::protocol::{decode_message, decode_payload, parse_rfc3339, parse_topic, DeviceCode, FaultCode};
use liftwatch_core::rollup::DayRollup;
use serde_json::value::RawValue;

/// Distinct single-object payloads cycled through (so branch predictors and
/// caches do not see one payload over and over).
const SINGLES: u64 = 1024;
/// Distinct 100-event arrays cycled through.
const ARRAYS: u64 = 16;
const ARRAY_LEN: u64 = 100;

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(700))
        .measurement_time(Duration::from_secs(3))
}

/// Hands out the items in turn, one per call (one per iteration).
fn cycle<'a, T: ?Sized>(items: &'a [Box<T>]) -> impl FnMut() -> &'a T {
    let mut i = 0;
    move || {
        let it = &items[i];
        i = (i + 1) % items.len();
        it
    }
}

fn boxed(v: Vec<String>) -> Vec<Box<[u8]>> {
    v.into_iter().map(|s| s.into_bytes().into_boxed_slice()).collect()
}

fn check_decodes(payloads: &[Box<[u8]>], per_payload: usize) {
    for p in payloads {
        let d = decode_message(TOPIC, p, now());
        assert!(d.rejects.is_empty(), "workload payload rejected: {:?}", d.rejects);
        assert_eq!(d.events.len(), per_payload);
    }
}

fn decode(c: &mut Criterion) {
    let now = now();
    let singles = boxed((0..SINGLES).map(run_json).collect());
    let runs = boxed((0..ARRAYS).map(|a| array_json(a * ARRAY_LEN, ARRAY_LEN, run_json)).collect());
    let mixed = boxed((0..ARRAYS).map(|a| array_json(a * ARRAY_LEN, ARRAY_LEN, mixed_json)).collect());
    check_decodes(&singles, 1);
    check_decodes(&runs, ARRAY_LEN as usize);
    check_decodes(&mixed, ARRAY_LEN as usize);

    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(1));
    let mut next = cycle(&singles);
    g.bench_function("decode_message/single_run", |b| b.iter(|| decode_message(TOPIC, black_box(next()), now)));
    let mut next = cycle(&singles);
    g.bench_function("serde_json_value/single_run", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(next())).expect("JSON"))
    });
    let mut next = cycle(&singles);
    g.bench_function("serde_json_rawvalue/single_run", |b| {
        b.iter(|| serde_json::from_slice::<&RawValue>(black_box(next())).expect("JSON").get().len())
    });

    g.throughput(Throughput::Elements(ARRAY_LEN));
    let mut next = cycle(&runs);
    g.bench_function("decode_message/array100_run", |b| b.iter(|| decode_message(TOPIC, black_box(next()), now)));
    let mut next = cycle(&mixed);
    g.bench_function("decode_message/array100_mixed", |b| b.iter(|| decode_message(TOPIC, black_box(next()), now)));
    let mut next = cycle(&runs);
    g.bench_function("serde_json_value/array100_run", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(next())).expect("JSON"))
    });
    let mut next = cycle(&runs);
    g.bench_function("serde_json_rawvalue/array100_run", |b| {
        b.iter(|| serde_json::from_slice::<Vec<&RawValue>>(black_box(next())).expect("JSON").len())
    });
    g.finish();
}

/// The pieces of decoding one run event costs, measured alone.
fn decode_parts(c: &mut Criterion) {
    let stamps: Vec<Box<str>> = (0..SINGLES).map(|i| decode_ts(i).to_rfc3339_at(OFFSET_SECS).into()).collect();
    let topic_device = parse_topic(TOPIC).expect("topic");
    let singles = boxed((0..SINGLES).map(run_json).collect());

    let mut g = c.benchmark_group("decode_parts");
    g.throughput(Throughput::Elements(1));
    let mut next = cycle(&stamps);
    g.bench_function("parse_rfc3339", |b| b.iter(|| parse_rfc3339(black_box(next()))));
    g.bench_function("device_code_parse", |b| b.iter(|| DeviceCode::parse(black_box(DEVICE))));
    g.bench_function("parse_topic", |b| b.iter(|| parse_topic(black_box(TOPIC))));
    g.bench_function("fault_code_parse/known", |b| b.iter(|| FaultCode::parse(black_box("safety_circuit_open"))));
    let mut next = cycle(&singles);
    g.bench_function("decode_payload/single_run", |b| {
        b.iter(|| decode_payload(&topic_device, black_box(next()), now()))
    });
    g.finish();
}

fn ledger(c: &mut Criterion) {
    let tz = chrono_tz::Asia::Shanghai;
    let fleet = Fleet::BENCH;
    let runs = fleet.runs();
    let mixed = fleet.mixed();

    let mut g = c.benchmark_group("ledger");
    g.throughput(Throughput::Elements(runs.len() as u64));
    g.bench_function("apply/new_runs", |b| {
        b.iter_batched(
            || Ledger::new(tz),
            |mut l| {
                for e in &runs {
                    black_box(l.apply(e));
                }
                l
            },
            BatchSize::LargeInput,
        )
    });

    let mut full = Ledger::new(tz);
    for e in &runs {
        assert_eq!(full.apply(e), Applied::New);
    }
    g.bench_function("apply/duplicate_runs", |b| {
        b.iter(|| {
            for e in &runs {
                black_box(full.apply(e));
            }
        })
    });
    assert_eq!(full.len(), runs.len(), "replays added nothing");

    g.throughput(Throughput::Elements(mixed.len() as u64));
    g.bench_function("apply/new_mixed", |b| {
        b.iter_batched(
            || Ledger::new(tz),
            |mut l| {
                for e in &mixed {
                    black_box(l.apply(e));
                }
                l
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();

    let mut g = c.benchmark_group("rollup");
    g.throughput(Throughput::Elements(1));
    let run_row = DayRollup::run();
    let mut acc = DayRollup::default();
    g.bench_function("add_assign/run_row", |b| b.iter(|| acc += black_box(&run_row)));
    let mut fault_row = DayRollup { faults: 1, equipment_faults: 1, ..Default::default() };
    fault_row.by_code.entry("door_open_fault".into()).or_default().equipment = 1;
    let mut acc = fault_row.clone();
    g.bench_function("add_assign/fault_row_by_code", |b| b.iter(|| acc += black_box(&fault_row)));
    g.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = decode, decode_parts, ledger
}
criterion_main!(benches);
