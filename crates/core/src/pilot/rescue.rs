//! Rescue time (救援时间, A1 §II.(一)): from the entrapment alarm to the
//! rescuer's arrival on site, the earliest arrival reported at or after the
//! alarm counting.

use crate::protocol::{Timestamp, MICROS_PER_MINUTE};
use crate::validation::ValidationError;

/// TSG T5002: the firm must reach trapped passengers within 30 minutes in
/// city districts (the default; regions may configure another limit).
pub const DEFAULT_RESCUE_LIMIT_MINUTES: u32 = 30;

/// A1 §II.(一).3: the rescue time of one entrapment, microseconds — the
/// arrival minus the alarm. The KPI sums these; callers pass the earliest
/// arrival **at or after** the alarm
/// ([`crate::incident::EntrapmentRecord::arrived_at`]): an arrival stamped
/// before the alarm (a box's clock, or a firm reporting an arrival before
/// the box's alarm reached the store) is never the rescue — it would let the
/// supervised firm zero its own figure — and is only kept for audit
/// ([`crate::incident::EntrapmentRecord::early_arrival`]). The clamp at 0 is
/// a guard only.
pub fn rescue_micros(alarm: Timestamp, arrival: Timestamp) -> i64 {
    arrival.0.saturating_sub(alarm.0).max(0)
}

/// [`rescue_micros`] in minutes, rounded to 2 decimals, as shown for one
/// entrapment.
pub fn rescue_minutes(alarm: Timestamp, arrival: Timestamp) -> f64 {
    let m = rescue_micros(alarm, arrival) as f64 / MICROS_PER_MINUTE as f64;
    (m * 100.0).round() / 100.0
}

/// An arrival reported by a person (firm or regulator) cannot be before the
/// alarm when the alarm is known: that would shorten the rescue time the
/// firm is judged by. (An arrival before the alarm that gets past this check
/// — the alarm not received yet, or a box's — never counts as the rescue:
/// see [`rescue_micros`].)
pub fn check_reported_arrival(alarm: Option<Timestamp>, arrived_at: Timestamp) -> Result<(), ValidationError> {
    match alarm {
        Some(a) if arrived_at < a => Err(ValidationError::new(
            "arrived_at",
            format!("{} is before the entrapment alarm at {}", arrived_at.to_rfc3339(), a.to_rfc3339()),
        )),
        _ => Ok(()),
    }
}

/// Whether a rescue took longer than `limit_minutes` (a rescue exactly at
/// the limit is in time).
pub fn rescue_too_slow(alarm: Timestamp, arrival: Timestamp, limit_minutes: u32) -> bool {
    rescue_micros(alarm, arrival) > i64::from(limit_minutes) * MICROS_PER_MINUTE
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::MICROS_PER_SEC;

    fn t(s: &str) -> Timestamp {
        crate::protocol::parse_rfc3339(s).unwrap().0
    }

    #[test]
    fn minutes_from_alarm_to_arrival() {
        let a = t("2026-11-20T10:00:00+08:00");
        assert_eq!(rescue_minutes(a, t("2026-11-20T10:14:00+08:00")), 14.0);
        assert_eq!(rescue_minutes(a, t("2026-11-20T10:14:20+08:00")), 14.33);
        assert_eq!(rescue_minutes(a, a), 0.0);
        assert_eq!(rescue_micros(a, Timestamp(a.0 + 1)), 1);
    }

    #[test]
    fn an_arrival_before_the_alarm_counts_zero() {
        let a = t("2026-11-20T10:00:00+08:00");
        assert_eq!(rescue_micros(a, t("2026-11-20T09:59:00+08:00")), 0);
        assert_eq!(rescue_minutes(a, t("2026-11-20T09:00:00+08:00")), 0.0);
        assert_eq!(rescue_micros(Timestamp(i64::MIN), Timestamp(i64::MAX)), i64::MAX, "no overflow");
    }

    #[test]
    fn reported_arrivals_not_before_a_known_alarm() {
        let a = t("2026-11-20T10:00:00+08:00");
        assert!(check_reported_arrival(None, t("2026-11-20T09:00:00+08:00")).is_ok(), "alarm not yet received");
        assert!(check_reported_arrival(Some(a), a).is_ok(), "at the alarm");
        let e = check_reported_arrival(Some(a), Timestamp(a.0 - MICROS_PER_SEC)).unwrap_err();
        assert_eq!(e.field, "arrived_at");
        assert!(e.problem.contains("is before the entrapment alarm"), "{e}");
    }

    #[test]
    fn the_earliest_arrival_counts() {
        use crate::incident::{Alarm, EntrapmentRecord};
        let a = t("2026-11-20T10:00:00+08:00");
        let mut r = EntrapmentRecord { alarm: Some(Alarm { ts: a, seq: 1, fault_id: None }), ..Default::default() };
        assert_eq!(r.rescue_minutes(), None, "no arrival yet");
        r.report_arrival(t("2026-11-20T10:20:00+08:00"));
        assert_eq!(r.rescue_minutes(), Some(20.0));
        r.report_arrival(t("2026-11-20T10:14:00+08:00"));
        r.report_arrival(t("2026-11-20T10:30:00+08:00"));
        assert_eq!(r.rescue_minutes(), Some(14.0), "a later report does not replace an earlier one");
        let (_, day) = r.contribution(chrono_tz::Asia::Shanghai).unwrap();
        assert_eq!((day.rescues, day.rescue_us), (1, 14 * MICROS_PER_MINUTE), "the KPI uses the same figure");
    }

    #[test]
    fn the_limit_is_inclusive() {
        let a = t("2026-11-20T10:00:00+08:00");
        let lim = DEFAULT_RESCUE_LIMIT_MINUTES;
        assert!(!rescue_too_slow(a, t("2026-11-20T10:30:00+08:00"), lim));
        assert!(rescue_too_slow(a, t("2026-11-20T10:30:00.000001+08:00"), lim));
    }
}
