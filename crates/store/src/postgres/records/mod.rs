//! What firms ([`firm`]) and regulators ([`regulator`]) record, in
//! PostgreSQL; the helpers both use.

mod firm;

pub(crate) use firm::visit_of;
mod regulator;

use chrono::NaiveDate;
use liftwatch_core::protocol::DeviceCode;
use liftwatch_core::tenancy::{FirmAccess, Tenure};
use tokio_postgres::GenericClient;

use crate::records::Scope;
pub(crate) use crate::records::{day_start, FIRST_DAY, LAST_DAY};
use crate::StoreError;

pub(super) fn client(c: &deadpool_postgres::Object) -> &tokio_postgres::Client {
    c
}

pub(super) async fn elevator_id<C: GenericClient>(c: &C, device: DeviceCode) -> Result<i32, StoreError> {
    c.query_opt("SELECT id FROM elevators WHERE device_code = $1", &[&device.as_str()])
        .await?
        .map(|r| r.get(0))
        .ok_or_else(|| not_registered(device))
}

/// One elevator as a [`Scope`] reaches it: its id and, for a firm, the days
/// of its [`FirmAccess`].
pub(crate) struct Scoped {
    /// The elevator's id.
    pub eid: i32,
    device: DeviceCode,
    /// `None` for [`Scope::All`].
    firm: Option<FirmAccess>,
}

impl Scoped {
    /// Loads the elevator and the tenures of all its memberships in the
    /// caller's connection or transaction; `lock` (in a write's transaction)
    /// locks the membership rows `FOR SHARE` until it ends, so a registry
    /// change ending, moving or removing one waits for the write (and a write
    /// after it sees it). `NotFound` with the words of an unregistered
    /// elevator when a firm may not see it.
    pub async fn load<C: GenericClient>(
        c: &C,
        scope: Scope<'_>,
        device: DeviceCode,
        lock: bool,
    ) -> Result<Scoped, StoreError> {
        let eid = elevator_id(c, device).await?;
        let Scope::Firm { firm_id, today } = scope else { return Ok(Scoped { eid, device, firm: None }) };
        let sql = format!(
            "SELECT p.firm_id, m.since, m.until FROM memberships m JOIN projects p ON p.id = m.project_id \
             WHERE m.elevator_id = $1{}",
            if lock { " FOR SHARE OF m" } else { "" }
        );
        let tenures: Vec<Tenure> = c
            .query(sql.as_str(), &[&eid])
            .await?
            .iter()
            .map(|r| Tenure { firm: r.get(0), since: r.get(1), until: r.get(2) })
            .collect();
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

    /// The spans of days read, as two arrays of first and last days for
    /// `unnest($n::date[], $m::date[])` (every day for [`Scope::All`]).
    pub fn read_days(&self) -> (Vec<NaiveDate>, Vec<NaiveDate>) {
        match &self.firm {
            None => (vec![FIRST_DAY], vec![LAST_DAY]),
            Some(a) => a.read.iter().map(|(from, to)| (*from, to.unwrap_or(LAST_DAY))).unzip(),
        }
    }

    /// Whether the scope holds the elevator today (a firm sees the box's
    /// live telemetry only then).
    pub fn holds(&self) -> bool {
        self.firm.as_ref().is_none_or(|a| a.write.is_some())
    }
}

/// What an elevator a caller may not see answers: the same as an unregistered one.
pub(super) fn not_registered(device: DeviceCode) -> StoreError {
    StoreError::NotFound(format!("elevator {device} is not registered"))
}
