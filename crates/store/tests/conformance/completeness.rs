//! Telemetry completeness (docs/kpis.md §9): the runs reported between
//! consecutive counters against the odometer, whatever the arrival order;
//! seq gaps and silence. Semantics are the ledger's.

use liftwatch_core::completeness::Completeness;
use liftwatch_core::protocol::{Body, DeviceCode, Event, Mode, Timestamp};
use liftwatch_core::window::Window;
use liftwatch_store::prelude::*;
use liftwatch_store::Inbound;
use liftwatch_testkit::t;

use crate::fixtures::*;
use crate::Factory;

fn ev(d: DeviceCode, seq: u64, ts: Timestamp, body: Body) -> Event {
    Event { device: d, seq, ts, ts_offset: 8 * 3600, body }
}

/// `n` runs of `d` evenly between `from` and `to` (exclusive of both), seqs from `seq`.
fn runs(d: DeviceCode, seq: u64, from: &str, to: &str, n: u64) -> Vec<Event> {
    let (a, b) = (t(from).0, t(to).0);
    (1..=n)
        .map(|i| {
            let ts = Timestamp(a + (b - a) * i as i64 / (n as i64 + 1));
            ev(d, seq + i, ts, Body::Run { end: Timestamp(ts.0 + 20_000_000), from: 1, to: 5, doors: None })
        })
        .collect()
}

fn counter(d: DeviceCode, seq: u64, at: &str, runs_total: u64) -> Event {
    ev(d, seq, t(at), Body::Counter { runs_total })
}

fn window() -> Window {
    Window::rolling(day("2026-11-28")).unwrap()
}

async fn ingest<S: EventStore>(s: &S, events: &[Event], per_msg: usize) {
    s.ingest(&messages(events, per_msg)).await.unwrap();
}

async fn project_completeness<S: Store>(s: &S) -> Completeness {
    s.project_kpis("haibin", window()).await.unwrap().unwrap().completeness
}

pub async fn runs_withheld_between_counters_give_the_share<F: Factory>(f: &F) {
    let (s, _g) = f.open("withheld").await;
    let d = register(&s, 2).await;
    let mut events = vec![counter(d[0], 1, "2026-10-01T08:00:00+08:00", 1000)];
    events.extend(runs(d[0], 10, "2026-10-01T08:00:00+08:00", "2026-10-02T08:00:00+08:00", 7));
    events.push(counter(d[0], 2, "2026-10-02T08:00:00+08:00", 1010)); // the odometer counted 10
    events.extend(runs(d[1], 100, "2026-10-01T08:00:00+08:00", "2026-10-02T08:00:00+08:00", 5));
    ingest(&s, &events, 4).await;
    let c = project_completeness(&s).await;
    assert_eq!((c.runs_reported, c.runs_by_odometer, c.runs_share, c.counter_pairs), (7, 10, Some(0.7), 1));
    let e = s.elevator_kpis(Scope::All, d[0], window()).await.unwrap().unwrap();
    assert_eq!(e.completeness, c);
    let per = s.project_elevator_completeness("haibin", window()).await.unwrap();
    assert_eq!(per, vec![(d[0], c)], "only elevators with a counter pair");
    let tele = s.device_telemetry(d[0]).await.unwrap().unwrap();
    assert_eq!((tele.runs_by_odometer, tele.runs_reported), (10, 7));
    // A window that holds only one end of the span counts nothing.
    let edge = Window::range(day("2026-10-02"), day("2026-10-31")).unwrap();
    assert_eq!(s.project_kpis("haibin", edge).await.unwrap().unwrap().completeness.runs_share, None);
    assert_matches_ledger(&s, &ledger_of(&events), 2).await;
}

pub async fn a_counter_reset_starts_a_new_series<F: Factory>(f: &F) {
    let (s, _g) = f.open("reset").await;
    let d = register(&s, 1).await;
    let mut events = vec![
        counter(d[0], 1, "2026-10-01T08:00:00+08:00", 1000),
        counter(d[0], 2, "2026-10-01T09:00:00+08:00", 1002),
        counter(d[0], 3, "2026-10-01T10:00:00+08:00", 3), // controller replaced
        counter(d[0], 4, "2026-10-01T11:00:00+08:00", 4),
    ];
    events.extend(runs(d[0], 10, "2026-10-01T08:00:00+08:00", "2026-10-01T09:00:00+08:00", 2));
    events.extend(runs(d[0], 20, "2026-10-01T09:00:00+08:00", "2026-10-01T10:00:00+08:00", 5));
    events.extend(runs(d[0], 30, "2026-10-01T10:00:00+08:00", "2026-10-01T11:00:00+08:00", 1));
    ingest(&s, &events, 3).await;
    let c = project_completeness(&s).await;
    assert_eq!(
        (c.runs_reported, c.runs_by_odometer, c.runs_share, c.counter_pairs, c.counter_resets),
        (3, 3, Some(1.0), 3, 1),
        "the 5 runs across the reset count on neither side"
    );
    assert_matches_ledger(&s, &ledger_of(&events), 1).await;
}

pub async fn an_elevator_without_counters_is_null_not_complete<F: Factory>(f: &F) {
    let (s, _g) = f.open("nocounter").await;
    let d = register(&s, 2).await;
    let mut events = runs(d[0], 10, "2026-10-01T08:00:00+08:00", "2026-10-02T08:00:00+08:00", 9);
    events.push(ev(d[0], 1, t("2026-10-01T08:00:00+08:00"), Body::Heartbeat { mode: Mode::Normal }));
    events.push(counter(d[1], 1, "2026-10-01T08:00:00+08:00", 50)); // one counter: no pair
    ingest(&s, &events, 5).await;
    let k = s.project_kpis("haibin", window()).await.unwrap().unwrap();
    assert_eq!((k.completeness.runs_share, k.completeness.counter_pairs), (None, 0));
    let json = serde_json::to_value(&k).unwrap();
    assert!(json["completeness"]["runs_share"].is_null(), "null, never 1.0: {json}");
    let e = s.elevator_kpis(Scope::All, d[0], window()).await.unwrap().unwrap();
    assert_eq!(e.completeness.runs_share, None);
    assert!(s.project_elevator_completeness("haibin", window()).await.unwrap().is_empty());
    assert_matches_ledger(&s, &ledger_of(&events), 2).await;
}

pub async fn runs_arriving_after_the_counter_that_closes_their_span<F: Factory>(f: &F) {
    let (s, _g) = f.open("latecount").await;
    let d = register(&s, 1).await;
    let counters =
        vec![counter(d[0], 1, "2026-10-01T08:00:00+08:00", 100), counter(d[0], 3, "2026-10-01T12:00:00+08:00", 120)];
    let early = runs(d[0], 10, "2026-10-01T08:00:00+08:00", "2026-10-01T10:00:00+08:00", 6);
    let later = runs(d[0], 20, "2026-10-01T10:00:00+08:00", "2026-10-01T12:00:00+08:00", 9);
    let middle = vec![counter(d[0], 2, "2026-10-01T10:00:00+08:00", 110)];
    let last = runs(d[0], 30, "2026-10-01T08:30:00+08:00", "2026-10-01T09:30:00+08:00", 2);
    // The counters first, then the runs, then a counter in the middle of
    // their span, then more runs of the first half.
    for part in [&counters, &later, &early, &middle, &last] {
        ingest(&s, part, 4).await;
    }
    let all: Vec<Event> = [counters, early, later, middle, last].concat();
    let c = project_completeness(&s).await;
    assert_eq!((c.runs_reported, c.runs_by_odometer, c.counter_pairs), (17, 20, 2));
    let readings = s.counter_readings().await.unwrap();
    let spans: Vec<i64> = readings.iter().map(|(_, r)| r.runs_in_span).collect();
    assert_eq!(spans, vec![0, 8, 9], "6 + 2 runs before 10:00, 9 after");
    assert_matches_ledger(&s, &ledger_of(&all), 1).await;
}

pub async fn duplicated_runs_and_counters_count_once<F: Factory>(f: &F) {
    let (s, _g) = f.open("dupcount").await;
    let d = register(&s, 2).await;
    let mut events = Vec::new();
    for (i, dv) in d.iter().enumerate() {
        let base = 1000 * i as u64;
        events.push(counter(*dv, base + 1, "2026-10-01T08:00:00+08:00", 500));
        events.push(counter(*dv, base + 2, "2026-10-01T20:00:00+08:00", 530));
        events.push(counter(*dv, base + 3, "2026-10-03T20:00:00+08:00", 560));
        events.extend(runs(*dv, base + 10, "2026-10-01T08:00:00+08:00", "2026-10-03T20:00:00+08:00", 50));
    }
    ingest(&s, &events, 7).await;
    let mut rev = events.clone();
    rev.reverse();
    let r = s.ingest(&messages(&rev, 3)).await.unwrap();
    assert_eq!(r.new_events, 0);
    // The same events again inside one batch, twice.
    let twice: Vec<Inbound> = messages(&events, 11).into_iter().chain(messages(&events, 2)).collect();
    assert_eq!(s.ingest(&twice).await.unwrap().new_events, 0);
    let c = project_completeness(&s).await;
    assert_eq!((c.runs_reported, c.runs_by_odometer, c.runs_share), (100, 120, Some(0.8333)));
    assert_matches_ledger(&s, &ledger_of(&events), 2).await;
}

pub async fn concurrent_runs_and_counters_keep_spans_exact<F: Factory>(f: &F) {
    let (s, _g) = f.open("conccount").await;
    let d = register(&s, 2).await;
    let mut events = Vec::new();
    for (i, dv) in d.iter().enumerate() {
        let base = 10_000 * i as u64;
        for h in 0..12u64 {
            let at = format!("2026-10-01T{:02}:00:00+08:00", 8 + h);
            events.push(counter(*dv, base + h, &at, 1000 + h * 10 + h % 3));
            let to = format!("2026-10-01T{:02}:00:00+08:00", 9 + h);
            events.extend(runs(*dv, base + 100 + h * 20, &at, &to, 7 + h % 4));
        }
    }
    // Interleave counters and runs so that each gateway sees both kinds.
    let msgs: Vec<Inbound> = events.iter().map(|e| messages(std::slice::from_ref(e), 1).remove(0)).collect();
    let mut tasks = Vec::new();
    for g in 0..4usize {
        let s = s.clone();
        let mine: Vec<Inbound> =
            msgs.iter().enumerate().filter(|(i, _)| (i * 7 + g) % 3 != 0).map(|(_, m)| m.clone()).rev().collect();
        tasks.push(tokio::spawn(async move {
            for b in mine.chunks(5) {
                loop {
                    match s.ingest(b).await {
                        Ok(_) => break,
                        Err(e) if e.is_transient() => continue,
                        Err(e) => panic!("{e}"),
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // Whatever no gateway took, once.
    s.ingest(&msgs).await.unwrap();
    assert_matches_ledger(&s, &ledger_of(&events), 2).await;
}

pub async fn seq_gaps_and_silence<F: Factory>(f: &F) {
    let (s, _g) = f.open("seqgaps").await;
    let d = register(&s, 2).await;
    let hb = |seq: u64, at: &str| ev(d[0], seq, t(at), Body::Heartbeat { mode: Mode::Normal });
    let events = vec![
        hb(9, "2026-10-01T08:20:00+08:00"),
        hb(1, "2026-10-01T08:00:00+08:00"),
        hb(2, "2026-10-01T08:05:00+08:00"),
        hb(3, "2026-10-01T08:10:00+08:00"),
        hb(5, "2026-10-01T08:15:00+08:00"),
    ];
    ingest(&s, &events[..2], 1).await;
    ingest(&s, &events, 2).await;
    let tele = s.device_telemetry(d[0]).await.unwrap().unwrap();
    assert_eq!((tele.seq_gaps, tele.events, tele.last_seen), (4, 5, t("2026-10-01T08:20:00+08:00")));
    assert_eq!(Some(tele), ledger_of(&events).telemetry(d[0]));
    assert_eq!(s.device_telemetry(d[1]).await.unwrap(), None, "never heard");
    // Silent: the elevator never heard, and the other once its last event is before the threshold.
    let silent = s.silent_devices(t("2026-10-01T08:20:00+08:00"), 10).await.unwrap();
    assert_eq!(silent, vec![(d[1], None)]);
    let silent = s.silent_devices(t("2026-10-01T08:20:00.001+08:00"), 10).await.unwrap();
    assert_eq!(silent, vec![(d[1], None), (d[0], Some(tele))]);
    let sum = s.telemetry_summary(t("2026-10-01T08:20:00.001+08:00")).await.unwrap();
    assert_eq!((sum.devices, sum.silent, sum.seq_gaps), (1, 2, 4));
}
