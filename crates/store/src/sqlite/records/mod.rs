//! What firms ([`firm`]) and regulators ([`regulator`]) record, in SQLite;
//! the helpers both use. Every firm call is scoped ([`Scoped`]); a write
//! checks the record's day in its own transaction on the writer thread, so
//! no registry change can slip between the check and the write.

mod firm;
mod regulator;

pub(crate) use firm::visit_of;

use chrono::NaiveDate;
use liftwatch_core::protocol::DeviceCode;
use liftwatch_core::tenancy::{FirmAccess, Tenure};
use rusqlite::{params, Connection};

use super::incidents::elevator_id;
use crate::records::Scope;
pub(crate) use crate::records::{day_start, FIRST_DAY, LAST_DAY};
use crate::StoreError;

/// One elevator as a [`Scope`] reaches it: its id and, for a firm, the days
/// of its [`FirmAccess`].
pub(crate) struct Scoped {
    /// The elevator's id.
    pub eid: i64,
    device: DeviceCode,
    /// `None` for [`Scope::All`].
    firm: Option<FirmAccess>,
}

impl Scoped {
    /// Loads the elevator and the tenures of all its memberships. `NotFound`
    /// with the words of an unregistered elevator when a firm may not see it.
    pub fn load(c: &Connection, scope: Scope<'_>, device: DeviceCode) -> Result<Scoped, StoreError> {
        let eid = elevator_id(c, device.as_str())?.ok_or_else(|| not_registered(device))?;
        let Scope::Firm { firm_id, today } = scope else { return Ok(Scoped { eid, device, firm: None }) };
        let tenures: Vec<Tenure> = c
            .prepare_cached(
                "SELECT p.firm_id, m.since, m.until FROM memberships m JOIN projects p ON p.id = m.project_id \
                 WHERE m.elevator_id = ?1",
            )?
            .query_map(params![eid], |r| Ok(Tenure { firm: r.get(0)?, since: r.get(1)?, until: r.get(2)? }))?
            .collect::<rusqlite::Result<_>>()?;
        let access = FirmAccess::of(&tenures, firm_id, today);
        if !access.visible() {
            return Err(not_registered(device));
        }
        Ok(Scoped { eid, device, firm: Some(access) })
    }

    /// Whether the scope reads the records of `day`.
    pub fn reads(&self, day: NaiveDate) -> bool {
        self.firm.as_ref().is_none_or(|a| a.reads(day))
    }

    /// Whether the scope may write a record of `day` (`Forbidden` otherwise).
    pub fn check_write(&self, day: NaiveDate) -> Result<(), StoreError> {
        match &self.firm {
            None => Ok(()),
            Some(a) => a.check_write(day).map_err(|e| StoreError::Forbidden(format!("elevator {}: {e}", self.device))),
        }
    }

    /// The spans of days read, first and last (every day for [`Scope::All`]).
    pub fn read_days(&self) -> Vec<(NaiveDate, NaiveDate)> {
        match &self.firm {
            None => vec![(FIRST_DAY, LAST_DAY)],
            Some(a) => a.read.iter().map(|(from, to)| (*from, to.unwrap_or(LAST_DAY))).collect(),
        }
    }

    /// Whether the scope holds the elevator today (a firm sees the box's
    /// live telemetry only then).
    pub fn holds(&self) -> bool {
        self.firm.as_ref().is_none_or(|a| a.write.is_some())
    }
}

/// A [`Scope`] that can travel to the writer thread or a reader.
pub(crate) enum OwnedScope {
    /// [`Scope::All`].
    All,
    /// [`Scope::Firm`].
    Firm(String, NaiveDate),
}

impl OwnedScope {
    /// An owned copy of `s`.
    pub fn of(s: Scope<'_>) -> OwnedScope {
        match s {
            Scope::All => OwnedScope::All,
            Scope::Firm { firm_id, today } => OwnedScope::Firm(firm_id.to_owned(), today),
        }
    }

    /// The scope it holds.
    pub fn get(&self) -> Scope<'_> {
        match self {
            OwnedScope::All => Scope::All,
            OwnedScope::Firm(firm_id, today) => Scope::Firm { firm_id, today: *today },
        }
    }
}

/// Spans as a JSON array of `[first, last]` pairs, for `json_each` (SQLite's
/// stand-in for PostgreSQL's `unnest` of two arrays).
pub(crate) fn spans_json<T: serde::Serialize>(spans: &[(T, T)]) -> String {
    serde_json::to_string(spans).unwrap_or_else(|_| "[]".into())
}

/// `col` lies in one of the spans of parameter `param` ([`spans_json`]).
pub(crate) fn in_spans(col: &str, param: &str) -> String {
    format!("EXISTS (SELECT 1 FROM json_each({param}) s WHERE {col} BETWEEN s.value ->> 0 AND s.value ->> 1)")
}

/// What an elevator a caller may not see answers: the same as an unregistered one.
pub(crate) fn not_registered(device: DeviceCode) -> StoreError {
    StoreError::NotFound(format!("elevator {device} is not registered"))
}
