//! Fault-cause corrections (MISSION "The KPIs": a fault's cause may be
//! corrected afterwards by the firm or a regulator, with a reason; every
//! correction is kept and shown, and the KPIs follow it).
//!
//! The one decision both the store and [`crate::ledger::Ledger`] make when a
//! correction is requested. Policy: every request with a reason is kept in
//! the history — also one that repeats the cause in force, which documents
//! who confirmed what and when, and pins the cause against a late start
//! event with another code; a request that does not change the cause in
//! force changes no KPI.

use crate::incident::{CauseCorrection, IncidentError};
use crate::protocol::{Cause, Timestamp};

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
    /// false, no KPI and no rollup changes: the store may skip the rollup
    /// update, but still writes the history.
    pub cause_changed: bool,
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

    #[test]
    fn a_clock_stepping_back_does_not_reorder_the_history() {
        let (hist, _) = run(Cause::Equipment, &[req(Cause::External, 100), req(Cause::Usage, 50)]);
        assert_eq!(hist[1].at, Timestamp(100), "dated at the previous entry, not before it");
        assert!(hist.windows(2).all(|w| w[0].at <= w[1].at));
    }
}
