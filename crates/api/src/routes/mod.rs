//! Handlers, one module per resource family; the request parameters they
//! share are in [`params`].

pub mod dead_letters;
pub mod findings;
pub mod firm_records;
pub mod grades;
pub mod health;
pub mod inspection;
pub mod kpis;
pub mod params;
pub mod registry;
pub mod regulator_records;
pub mod session;
pub mod telemetry;
pub mod webhooks;

pub use params::{check_id, device, Page};
