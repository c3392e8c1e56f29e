//! What firms ([`firm`]) and regulators ([`regulator`]) record, in
//! PostgreSQL; the helpers both use.

mod firm;

pub(crate) use firm::visit_of;
mod regulator;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use liftwatch_core::protocol::DeviceCode;
use tokio_postgres::GenericClient;

use crate::StoreError;

/// The first instant of a local day in `tz`.
pub(super) fn day_start(tz: Tz, d: NaiveDate) -> DateTime<Utc> {
    let midnight = d.and_time(chrono::NaiveTime::MIN);
    match tz.from_local_datetime(&midnight).earliest() {
        Some(t) => t.with_timezone(&Utc),
        // A zone that skips midnight: the day starts an hour later at most.
        None => tz
            .from_local_datetime(&(midnight + chrono::Duration::hours(1)))
            .earliest()
            .map_or_else(|| Utc.from_utc_datetime(&midnight), |t| t.with_timezone(&Utc)),
    }
}

pub(super) fn client(c: &deadpool_postgres::Object) -> &tokio_postgres::Client {
    c
}

pub(super) async fn elevator_id<C: GenericClient>(c: &C, device: DeviceCode) -> Result<i32, StoreError> {
    c.query_opt("SELECT id FROM elevators WHERE device_code = $1", &[&device.as_str()])
        .await?
        .map(|r| r.get(0))
        .ok_or_else(|| StoreError::NotFound(format!("elevator {device} is not registered")))
}
