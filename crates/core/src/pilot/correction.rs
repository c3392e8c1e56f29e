//! Fault-cause corrections (MISSION "The KPIs": a fault's cause may be
//! corrected afterwards by the firm or a regulator, with a reason; every
//! correction is kept and shown, and the KPIs follow it).
//!
//! The one decision both the store and [`crate::ledger::Ledger`] make when a
//! correction is requested. Policy: every request with a reason is kept in
//! the history — also one that repeats the cause in force, which documents
//! who confirmed what and when, and pins the cause against a late start
//! event with another code; a request that does not change the cause in
//! force changes no KPI. A firm cannot override a regulator: once the
//! correction in force is a regulator's, a firm's request is refused
//! ([`IncidentError::RegulatorCorrectionStands`]) until a regulator changes it.

use crate::incident::{CauseCorrection, IncidentError};
use crate::protocol::{Cause, Timestamp};

/// Who a regulator's correction is recorded as (`by`).
pub const REGULATOR: &str = "regulator";

/// Whether `by` names a maintenance firm (`firm:{id}`).
pub fn is_firm(by: &str) -> bool {
    by.starts_with("firm:")
}

/// A request to set a fault's cause.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CorrectionRequest<'a> {
    /// The box's fault id (for the error that names it).
    pub fault_id: &'a str,
    /// The cause asked for.
    pub to: Cause,
    /// Who asks (`regulator`, or `firm:{id}`).
    pub by: &'a str,
    /// Why (required, shown to regulators).
    pub reason: &'a str,
    /// When it is recorded.
    pub at: Timestamp,
}

/// What a correction request does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorrectionOutcome {
    /// The entry to append to the fault's history (always appended).
    pub entry: CauseCorrection,
    /// Whether the cause in force changed (`entry.from != entry.to`). When
    /// false, no KPI but the reclassified share changes: a regulator
    /// confirming a firm's reclassification takes it out of the firm's
    /// share ([`crate::incident::FaultRecord::contribution`]); callers apply
    /// the contribution change in every case.
    pub cause_changed: bool,
}

fn is_regulator(by: &str) -> bool {
    by == REGULATOR
}

/// Decides a cause correction.
///
/// - `current`: the cause in force ([`crate::incident::FaultRecord::cause`]:
///   the latest correction, else the box's cause or the code's default);
///   `None` when the fault's start has not been received, which is refused
///   with [`IncidentError::UnknownFault`] — a correction needs a fault to correct.
/// - `history`: the corrections so far, oldest first. The new entry is
///   dated no earlier than the latest of them, so that the history's order
///   by time is the order of the decisions and its last entry stays the
///   cause in force ([`crate::incident::FaultRecord::merge`] sorts by time;
///   a clock stepping back must not reorder it).
/// - a request by a firm when the correction in force (the last of
///   `history`) is a regulator's is refused with
///   [`IncidentError::RegulatorCorrectionStands`]: the regulator's stands
///   until a regulator changes it.
/// - a blank reason is refused with [`IncidentError::NoReason`]. Length and
///   character checks of the reason are the request's validation
///   ([`crate::validation::check_text`]), done before.
///
/// Pure: the caller appends [`CorrectionOutcome::entry`] and, when the cause
/// changed, applies the contribution change.
pub fn decide_correction(
    current: Option<Cause>,
    history: &[CauseCorrection],
    req: &CorrectionRequest<'_>,
) -> Result<CorrectionOutcome, IncidentError> {
    let from = current.ok_or_else(|| IncidentError::UnknownFault(req.fault_id.to_owned()))?;
    if req.reason.trim().is_empty() {
        return Err(IncidentError::NoReason);
    }
    if !is_regulator(req.by) && history.last().is_some_and(|last| is_regulator(&last.by)) {
        return Err(IncidentError::RegulatorCorrectionStands(req.fault_id.to_owned()));
    }
    let at = history.last().map_or(req.at, |last| req.at.max(last.at));
    let entry = CauseCorrection { at, by: req.by.to_owned(), from, to: req.to, reason: req.reason.to_owned() };
    Ok(CorrectionOutcome { cause_changed: from != req.to, entry })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(to: Cause, at: i64) -> CorrectionRequest<'static> {
        CorrectionRequest { fault_id: "f1", to, by: "firm:zls", reason: "checked on site", at: Timestamp(at) }
    }

    /// Applies requests in turn as a caller does; returns the history and
    /// which ones changed the cause.
    fn run(original: Cause, reqs: &[CorrectionRequest<'_>]) -> (Vec<CauseCorrection>, Vec<bool>) {
        let mut hist: Vec<CauseCorrection> = Vec::new();
        let mut changed = Vec::new();
        for r in reqs {
            let current = hist.last().map(|c| c.to).or(Some(original));
            let o = decide_correction(current, &hist, r).unwrap();
            changed.push(o.cause_changed);
            hist.push(o.entry);
        }
        (hist, changed)
    }

    #[test]
    fn a_change_is_recorded_with_its_from_and_to() {
        let o = decide_correction(Some(Cause::Equipment), &[], &req(Cause::External, 10)).unwrap();
        assert!(o.cause_changed);
        assert_eq!((o.entry.from, o.entry.to, o.entry.at), (Cause::Equipment, Cause::External, Timestamp(10)));
        assert_eq!((o.entry.by.as_str(), o.entry.reason.as_str()), ("firm:zls", "checked on site"));
    }

    #[test]
    fn a_repeated_correction_is_kept_but_changes_no_kpi() {
        let (hist, changed) = run(Cause::Equipment, &[req(Cause::External, 10), req(Cause::External, 20)]);
        assert_eq!(changed, [true, false]);
        assert_eq!(hist.len(), 2, "the repetition is in the history");
        assert_eq!((hist[1].from, hist[1].to), (Cause::External, Cause::External));
    }

    #[test]
    fn confirming_the_box_cause_is_kept_and_changes_nothing() {
        let (hist, changed) = run(Cause::Equipment, &[req(Cause::Equipment, 10)]);
        assert_eq!(changed, [false]);
        assert_eq!((hist[0].from, hist[0].to), (Cause::Equipment, Cause::Equipment));
    }

    #[test]
    fn back_and_forth_changes_every_time() {
        let (hist, changed) = run(
            Cause::Equipment,
            &[req(Cause::External, 10), req(Cause::Equipment, 20), req(Cause::External, 30), req(Cause::Usage, 40)],
        );
        assert_eq!(changed, [true, true, true, true]);
        let pairs: Vec<_> = hist.iter().map(|c| (c.from, c.to)).collect();
        assert_eq!(
            pairs,
            [
                (Cause::Equipment, Cause::External),
                (Cause::External, Cause::Equipment),
                (Cause::Equipment, Cause::External),
                (Cause::External, Cause::Usage)
            ]
        );
    }

    #[test]
    fn refusals() {
        assert_eq!(
            decide_correction(None, &[], &req(Cause::External, 1)),
            Err(IncidentError::UnknownFault("f1".into())),
            "only a clearing (or nothing) was received"
        );
        let blank = CorrectionRequest { reason: " \n", ..req(Cause::External, 1) };
        assert_eq!(decide_correction(Some(Cause::Equipment), &[], &blank), Err(IncidentError::NoReason));
    }

    fn reg(to: Cause, at: i64) -> CorrectionRequest<'static> {
        CorrectionRequest { by: REGULATOR, ..req(to, at) }
    }

    #[test]
    fn a_firm_cannot_override_a_regulator() {
        let (hist, _) = run(Cause::Equipment, &[req(Cause::External, 10), reg(Cause::Equipment, 20)]);
        let current = hist.last().map(|c| c.to);
        let refused = Err(IncidentError::RegulatorCorrectionStands("f1".into()));
        assert_eq!(decide_correction(current, &hist, &req(Cause::External, 30)), refused);
        assert_eq!(decide_correction(current, &hist, &req(Cause::Equipment, 30)), refused, "not even a confirmation");
        // The other firm, too.
        let other = CorrectionRequest { by: "firm:other", ..req(Cause::Usage, 30) };
        assert_eq!(decide_correction(current, &hist, &other), refused);
        // A regulator may change it again, and a firm may correct a firm.
        assert!(decide_correction(current, &hist, &reg(Cause::Usage, 30)).unwrap().cause_changed);
        assert!(decide_correction(current, &hist[..1], &req(Cause::Usage, 30)).is_ok());
        // The other refusals come first.
        assert_eq!(
            decide_correction(None, &hist, &req(Cause::External, 30)),
            Err(IncidentError::UnknownFault("f1".into()))
        );
        let blank = CorrectionRequest { reason: " ", ..req(Cause::External, 30) };
        assert_eq!(decide_correction(current, &hist, &blank), Err(IncidentError::NoReason));
    }

    #[test]
    fn a_regulator_first_also_stands() {
        let (hist, _) = run(Cause::Equipment, &[reg(Cause::Equipment, 10)]);
        assert!(decide_correction(Some(Cause::Equipment), &hist, &req(Cause::External, 20)).is_err());
        assert!(is_firm("firm:zls") && !is_firm(REGULATOR) && !is_firm("firmzls"));
    }

    #[test]
    fn a_clock_stepping_back_does_not_reorder_the_history() {
        let (hist, _) = run(Cause::Equipment, &[req(Cause::External, 100), req(Cause::Usage, 50)]);
        assert_eq!(hist[1].at, Timestamp(100), "dated at the previous entry, not before it");
        assert!(hist.windows(2).all(|w| w[0].at <= w[1].at));
    }
}
