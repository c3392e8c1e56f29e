//! Telemetry completeness: how much of what happened reached us.
//!
//! A regulator acts on the KPIs, so a figure computed on incomplete data must
//! say so, and silence is never "all is well" (MISSION.md, "Trust in the
//! numbers"). Two indicators, both pure arithmetic here:
//!
//! - **by the odometer**: `counter` events carry the controller's cumulative
//!   run count. Between two consecutive counters of an elevator (ordered by
//!   `(ts, seq)`), the runs the odometer counted (`runs_total` difference)
//!   are compared with the `run` events received in that span. A counter
//!   smaller than the one before is a reset (controller replaced, counter
//!   wrapped): it starts a new series and the pair across it is not counted.
//! - **by the sequence numbers**: seq numbers the box skipped ([`SeqStats`]),
//!   and the last time anything was heard from it (`last_seen`).
//!
//! The store keeps one [`Reading`] per counter, with the runs reported in the
//! span ending at it, maintained at ingest ([`crate::ingest::plan_readings`]);
//! a KPI query sums small rows ([`span_sums`]) and never scans raw events.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::kpi::Membership;
use crate::protocol::{DeviceCode, Timestamp};
use crate::window::Window;

/// The order of counter readings: by box time, then sequence number.
pub type ReadingKey = (Timestamp, u64);

/// Where the span ending at a reading began: the previous reading's local
/// day and the runs the odometer counted since it (`None`: a reset — the
/// counter went down, so this pair is not counted).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpanStart {
    /// Local day of the previous reading.
    pub day: NaiveDate,
    /// `runs_total − previous runs_total`, or `None` across a reset.
    pub odometer_runs: Option<i64>,
}

/// One counter reading of an elevator, with the span that ends at it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reading {
    /// When the box read the odometer.
    pub ts: Timestamp,
    /// The event's sequence number (orders readings with equal `ts`).
    pub seq: u64,
    /// The controller's cumulative run count.
    pub runs_total: u64,
    /// Local day of `ts`.
    pub day: NaiveDate,
    /// `run` events received with `previous.ts < ts ≤ self.ts` (0 for the
    /// first reading, whose span has no start).
    pub runs_in_span: i64,
    /// The span's start; `None` for the elevator's first reading.
    pub prev: Option<SpanStart>,
}

impl Reading {
    /// Its position in the elevator's series.
    pub fn key(&self) -> ReadingKey {
        (self.ts, self.seq)
    }
}

/// Runs the odometer counted from `prev` to `next`; `None` when the counter
/// went down (a reset starts a new series).
pub fn odometer_runs(prev: u64, next: u64) -> Option<i64> {
    next.checked_sub(prev).and_then(|d| i64::try_from(d).ok())
}

/// The span start of a reading that follows `prev` (none for the first).
pub fn span_start(prev: Option<&Reading>, runs_total: u64) -> Option<SpanStart> {
    prev.map(|p| SpanStart { day: p.day, odometer_runs: odometer_runs(p.runs_total, runs_total) })
}

/// The readings of one elevator computed in one pass (the reference the
/// incremental maintenance is checked against): `counters` are
/// `(ts, seq, runs_total)` in any order, `runs_between(a, b)` counts the
/// runs with `a < ts ≤ b`.
pub fn readings_from(
    counters: impl IntoIterator<Item = (Timestamp, u64, u64)>,
    tz: Tz,
    mut runs_between: impl FnMut(Timestamp, Timestamp) -> i64,
) -> Vec<Reading> {
    let sorted: BTreeMap<ReadingKey, u64> = counters.into_iter().map(|(t, s, n)| ((t, s), n)).collect();
    let mut out: Vec<Reading> = Vec::with_capacity(sorted.len());
    for ((ts, seq), runs_total) in sorted {
        let prev = out.last();
        let runs_in_span = prev.map_or(0, |p| runs_between(p.ts, ts));
        let prev = span_start(prev, runs_total);
        out.push(Reading { ts, seq, runs_total, day: ts.local_day(tz), runs_in_span, prev });
    }
    out
}

/// Additive sums over spans (one elevator or many).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpanSums {
    /// Consecutive counter pairs (resets included).
    pub pairs: i64,
    /// Of those, resets (not counted below).
    pub resets: i64,
    /// `run` events received in the counted spans.
    pub runs_reported: i64,
    /// Runs the odometer counted in the same spans.
    pub runs_by_odometer: i64,
}

impl std::ops::AddAssign for SpanSums {
    fn add_assign(&mut self, o: SpanSums) {
        self.pairs += o.pairs;
        self.resets += o.resets;
        self.runs_reported += o.runs_reported;
        self.runs_by_odometer += o.runs_by_odometer;
    }
}

impl std::ops::SubAssign for SpanSums {
    fn sub_assign(&mut self, o: SpanSums) {
        self.pairs -= o.pairs;
        self.resets -= o.resets;
        self.runs_reported -= o.runs_reported;
        self.runs_by_odometer -= o.runs_by_odometer;
    }
}

impl SpanSums {
    /// The contribution of one reading's span (zero for a first reading).
    pub fn of(r: &Reading) -> SpanSums {
        match r.prev {
            None => SpanSums::default(),
            Some(SpanStart { odometer_runs: None, .. }) => SpanSums { pairs: 1, resets: 1, ..Default::default() },
            Some(SpanStart { odometer_runs: Some(n), .. }) => {
                SpanSums { pairs: 1, resets: 0, runs_reported: r.runs_in_span, runs_by_odometer: n }
            }
        }
    }

    /// Runs the odometer counted that were never reported (0 when the box
    /// reported as many or more).
    pub fn missing(&self) -> i64 {
        (self.runs_by_odometer - self.runs_reported).max(0)
    }
}

/// Whether a reading's span lies in the window: both counters' local days
/// in it and, when `memberships` is given, both on days of one membership
/// of the elevator (a span across a gap in membership is not the project's).
pub fn span_in(w: &Window, memberships: Option<&[Membership]>, device: DeviceCode, r: &Reading) -> bool {
    let Some(p) = r.prev else { return false };
    if !(w.contains(p.day) && w.contains(r.day)) {
        return false;
    }
    memberships.is_none_or(|ms| ms.iter().any(|m| m.device == device && m.covers(p.day) && m.covers(r.day)))
}

/// Sums the spans of `readings` that lie in the window ([`span_in`]), per
/// elevator. Callers may pass readings of other elevators (ignored when
/// `memberships` is given and does not name them).
pub fn span_sums<'a>(
    w: &Window,
    memberships: Option<&[Membership]>,
    readings: impl IntoIterator<Item = (DeviceCode, &'a Reading)>,
) -> BTreeMap<DeviceCode, SpanSums> {
    let mut out: BTreeMap<DeviceCode, SpanSums> = BTreeMap::new();
    for (d, r) in readings {
        if span_in(w, memberships, d, r) {
            *out.entry(d).or_default() += SpanSums::of(r);
        }
    }
    out
}

/// Rounds a ratio like the other ratios of the KPI answers (4 decimals).
fn r4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// Completeness of the runs beside a KPI answer (docs/kpis.md §9).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Completeness {
    /// `run` events received in the spans between consecutive counters that
    /// lie in the window (resets excluded).
    pub runs_reported: i64,
    /// Runs the odometers counted in the same spans.
    pub runs_by_odometer: i64,
    /// `runs_reported / runs_by_odometer`, 4 decimals; `null` when no
    /// elevator has a counter pair in the window (or its odometer counted no
    /// run): nothing measured, which is not "complete".
    pub runs_share: Option<f64>,
    /// Consecutive counter pairs in the window, resets included.
    pub counter_pairs: i64,
    /// Of those, resets (the counter went down; not counted).
    pub counter_resets: i64,
}

impl Completeness {
    /// The figures of some sums.
    pub fn new(s: SpanSums) -> Completeness {
        Completeness {
            runs_reported: s.runs_reported,
            runs_by_odometer: s.runs_by_odometer,
            runs_share: runs_share(s.runs_reported, s.runs_by_odometer),
            counter_pairs: s.pairs,
            counter_resets: s.resets,
        }
    }
}

/// Reported over counted runs, 4 decimals; `None` when the odometers counted
/// none (no pair, or equal counters). May exceed 1 (a box reporting runs its
/// controller did not count): shown, not clamped.
pub fn runs_share(reported: i64, by_odometer: i64) -> Option<f64> {
    (by_odometer > 0).then(|| r4(reported as f64 / by_odometer as f64))
}

/// Sequence numbers and liveness of one device: an additive summary of its
/// distinct events (order of arrival does not matter).
///
/// `seq_gaps` counts the seq numbers between the smallest and the largest
/// received that never arrived. Protocol v1 lets a box skip numbers and
/// restart from 0 after a firmware reset, so this is an indicator, not
/// proof: after a restart the two series overlap and the figure undercounts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeqStats {
    /// Distinct events received.
    pub events: i64,
    /// Smallest seq received.
    pub min_seq: i64,
    /// Largest seq received.
    pub max_seq: i64,
    /// Latest event time (box clock) of any event, heartbeats included.
    pub last_seen: Timestamp,
}

impl SeqStats {
    /// The summary of one event.
    pub fn one(seq: u64, ts: Timestamp) -> SeqStats {
        let s = seq as i64;
        SeqStats { events: 1, min_seq: s, max_seq: s, last_seen: ts }
    }

    /// Adds another summary (commutative, associative).
    pub fn merge(&mut self, o: &SeqStats) {
        self.events += o.events;
        self.min_seq = self.min_seq.min(o.min_seq);
        self.max_seq = self.max_seq.max(o.max_seq);
        self.last_seen = self.last_seen.max(o.last_seen);
    }

    /// Seq numbers in `[min_seq, max_seq]` never received (0 when the
    /// events cover the range, e.g. after a restart from 0).
    pub fn gaps(&self) -> i64 {
        (self.max_seq.saturating_sub(self.min_seq).saturating_add(1) - self.events).max(0)
    }
}

/// What the store knows of a device's telemetry (for the elevator KPI
/// answer, the rule engine and `/metrics`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct DeviceTelemetry {
    /// Latest event time (box clock) of any event, heartbeats included.
    pub last_seen: Timestamp,
    /// Seq numbers skipped ([`SeqStats::gaps`]): an indicator, not proof.
    pub seq_gaps: i64,
    /// Distinct events received.
    pub events: i64,
    /// Runs the odometer counted, over all its counted spans.
    pub runs_by_odometer: i64,
    /// Runs received in those spans.
    pub runs_reported: i64,
}

impl DeviceTelemetry {
    /// From the seq summary and the span sums over all the device's readings.
    pub fn new(s: &SeqStats, spans: SpanSums) -> DeviceTelemetry {
        DeviceTelemetry {
            last_seen: s.last_seen,
            seq_gaps: s.gaps(),
            events: s.events,
            runs_by_odometer: spans.runs_by_odometer,
            runs_reported: spans.runs_reported,
        }
    }

    /// Whether nothing was heard since before `since`.
    pub fn silent_since(&self, since: Timestamp) -> bool {
        self.last_seen < since
    }
}

/// Fleet-wide figures for `/metrics`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TelemetrySummary {
    /// Devices that sent anything.
    pub devices: i64,
    /// Of those, silent since before the threshold.
    pub silent: i64,
    /// Seq numbers skipped, summed.
    pub seq_gaps: i64,
    /// Runs counted by odometers, summed over counted spans.
    pub runs_by_odometer: i64,
    /// Runs received in those spans.
    pub runs_reported: i64,
    /// Σ per device of `max(0, by_odometer − reported)`.
    pub runs_missing: i64,
}

impl TelemetrySummary {
    /// Sums devices' telemetry; `silent_before`: the threshold instant.
    pub fn of<'a>(devices: impl IntoIterator<Item = &'a DeviceTelemetry>, silent_before: Timestamp) -> Self {
        let mut s = TelemetrySummary::default();
        for d in devices {
            s.devices += 1;
            s.silent += i64::from(d.silent_since(silent_before));
            s.seq_gaps += d.seq_gaps;
            s.runs_by_odometer += d.runs_by_odometer;
            s.runs_reported += d.runs_reported;
            s.runs_missing += (d.runs_by_odometer - d.runs_reported).max(0);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::protocol::parse_rfc3339;

    const TZ: Tz = chrono_tz::Asia::Shanghai;

    fn t(s: &str) -> Timestamp {
        parse_rfc3339(s).unwrap().0
    }
    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }
    fn dev() -> DeviceCode {
        DeviceCode::parse("31103302002018120001").unwrap()
    }

    /// Runs at these times; counts `a < ts ≤ b`.
    fn counter_of(runs: &[Timestamp]) -> impl FnMut(Timestamp, Timestamp) -> i64 + '_ {
        move |a, b| runs.iter().filter(|r| a < **r && **r <= b).count() as i64
    }

    #[test]
    fn consecutive_counters_pair_and_runs_fall_in_their_span() {
        let runs = [t("2026-10-01T09:00:00+08:00"), t("2026-10-01T10:00:00+08:00"), t("2026-10-02T09:00:00+08:00")];
        let rs = readings_from(
            [(t("2026-10-02T12:00:00+08:00"), 9, 110), (t("2026-10-01T08:00:00+08:00"), 1, 100)],
            TZ,
            counter_of(&runs),
        );
        assert_eq!(rs.len(), 2);
        assert_eq!(rs[0].prev, None, "the first reading opens no span");
        assert_eq!(rs[0].runs_in_span, 0);
        assert_eq!(rs[1].prev, Some(SpanStart { day: d("2026-10-01"), odometer_runs: Some(10) }));
        assert_eq!(rs[1].runs_in_span, 3);
        let s = SpanSums::of(&rs[1]);
        assert_eq!((s.runs_reported, s.runs_by_odometer, s.missing()), (3, 10, 7));
        assert_eq!(Completeness::new(s).runs_share, Some(0.3));
    }

    #[test]
    fn a_run_at_the_counter_instant_counts_before_it() {
        let at = t("2026-10-01T10:00:00+08:00");
        let rs = readings_from([(t("2026-10-01T09:00:00+08:00"), 1, 5), (at, 2, 6)], TZ, counter_of(&[at]));
        assert_eq!(rs[1].runs_in_span, 1);
    }

    #[test]
    fn a_reset_starts_a_new_series_and_its_pair_is_not_counted() {
        assert_eq!(odometer_runs(100, 40), None);
        assert_eq!(odometer_runs(100, 100), Some(0));
        let runs = [t("2026-10-01T09:30:00+08:00")];
        let rs = readings_from(
            [
                (t("2026-10-01T09:00:00+08:00"), 1, 1000),
                (t("2026-10-01T10:00:00+08:00"), 2, 3),
                (t("2026-10-01T11:00:00+08:00"), 3, 5),
            ],
            TZ,
            counter_of(&runs),
        );
        let w = Window::range(d("2026-10-01"), d("2026-10-01")).unwrap();
        let s = span_sums(&w, None, rs.iter().map(|r| (dev(), r)))[&dev()];
        assert_eq!(s, SpanSums { pairs: 2, resets: 1, runs_reported: 0, runs_by_odometer: 2 });
        let c = Completeness::new(s);
        assert_eq!((c.runs_share, c.counter_pairs, c.counter_resets), (Some(0.0), 2, 1));
    }

    #[test]
    fn equal_counters_measure_nothing_and_the_share_is_null() {
        let rs = readings_from(
            [(t("2026-10-01T09:00:00+08:00"), 1, 7), (t("2026-10-01T10:00:00+08:00"), 2, 7)],
            TZ,
            counter_of(&[]),
        );
        let c = Completeness::new(SpanSums::of(&rs[1]));
        assert_eq!((c.counter_pairs, c.runs_by_odometer, c.runs_share), (1, 0, None));
    }

    #[test]
    fn an_elevator_without_counters_is_null_not_complete() {
        let c = Completeness::new(SpanSums::default());
        assert_eq!(c.runs_share, None, "never 1.0");
        assert_eq!(c.counter_pairs, 0);
        // One counter alone makes no pair either.
        let rs = readings_from([(t("2026-10-01T09:00:00+08:00"), 1, 7)], TZ, counter_of(&[]));
        assert_eq!(Completeness::new(SpanSums::of(&rs[0])).runs_share, None);
    }

    #[test]
    fn a_span_crossing_the_window_edge_is_not_counted() {
        let rs = readings_from(
            [
                (t("2026-09-30T23:00:00+08:00"), 1, 0),
                (t("2026-10-01T01:00:00+08:00"), 2, 10),
                (t("2026-10-01T23:00:00+08:00"), 3, 30),
                (t("2026-10-02T01:00:00+08:00"), 4, 40),
            ],
            TZ,
            counter_of(&[]),
        );
        let w = Window::range(d("2026-10-01"), d("2026-10-01")).unwrap();
        let s = span_sums(&w, None, rs.iter().map(|r| (dev(), r)))[&dev()];
        assert_eq!((s.pairs, s.runs_by_odometer), (1, 20), "only the span inside the window");
        // Membership: a span is the project's only when one membership covers both ends.
        let m = [Membership { device: dev(), since: d("2026-10-01"), until: None }];
        let wide = Window::range(d("2026-09-01"), d("2026-10-31")).unwrap();
        let s = span_sums(&wide, Some(&m), rs.iter().map(|r| (dev(), r)))[&dev()];
        assert_eq!((s.pairs, s.runs_by_odometer), (2, 30));
    }

    #[test]
    fn a_duplicate_counter_is_one_reading_and_a_second_at_the_same_instant_spans_nothing() {
        let at = t("2026-10-01T10:00:00+08:00");
        let runs = [t("2026-10-01T09:30:00+08:00")];
        let same =
            readings_from([(t("2026-10-01T09:00:00+08:00"), 1, 5), (at, 2, 9), (at, 2, 9)], TZ, counter_of(&runs));
        assert_eq!(same.len(), 2, "one identity, one reading");
        let two =
            readings_from([(t("2026-10-01T09:00:00+08:00"), 1, 5), (at, 2, 9), (at, 3, 9)], TZ, counter_of(&runs));
        assert_eq!((two[1].runs_in_span, two[2].runs_in_span), (1, 0));
        assert_eq!(two[2].prev.unwrap().odometer_runs, Some(0));
    }

    #[test]
    fn share_rounds_to_four_decimals_and_may_exceed_one() {
        assert_eq!(runs_share(1, 3), Some(0.3333));
        assert_eq!(runs_share(2, 3), Some(0.6667));
        assert_eq!(runs_share(12, 10), Some(1.2));
        assert_eq!(runs_share(5, 0), None);
    }

    #[test]
    fn seq_gaps_count_skipped_numbers_in_any_order() {
        let ts = t("2026-10-01T09:00:00+08:00");
        let one = |s: u64| SeqStats::one(s, Timestamp(ts.0 + s as i64));
        let mut a = one(10);
        for s in [14, 11, 12] {
            a.merge(&one(s));
        }
        assert_eq!(a.gaps(), 1, "13 never arrived");
        assert_eq!(a.last_seen, Timestamp(ts.0 + 14));
        let mut b = one(12);
        b.merge(&one(14));
        let mut c = one(10);
        c.merge(&one(11));
        b.merge(&c);
        assert_eq!(b, a, "the summary does not depend on order");
        // A restart from 0 overlaps the old series: no negative gap.
        let mut r = SeqStats::one(0, ts);
        r.merge(&SeqStats::one(1, ts));
        r.merge(&SeqStats::one(0, Timestamp(ts.0 + 1)));
        assert_eq!(r.gaps(), 0);
        assert_eq!(SeqStats::one(7, ts).gaps(), 0);
    }

    #[test]
    fn summary_counts_silent_devices_before_the_threshold() {
        let ts = t("2026-10-01T09:00:00+08:00");
        let a = DeviceTelemetry::new(
            &SeqStats::one(1, ts),
            SpanSums { pairs: 1, resets: 0, runs_reported: 7, runs_by_odometer: 10 },
        );
        let b = DeviceTelemetry::new(
            &SeqStats::one(1, Timestamp(ts.0 + 1)),
            SpanSums { pairs: 1, resets: 0, runs_reported: 12, runs_by_odometer: 10 },
        );
        let s = TelemetrySummary::of([&a, &b], Timestamp(ts.0 + 1));
        assert_eq!((s.devices, s.silent, s.runs_missing, s.runs_by_odometer), (2, 1, 3, 20));
    }
}
