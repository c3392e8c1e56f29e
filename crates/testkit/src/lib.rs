//! The one test kit of liftwatch: what the integration tests and the
//! benchmarks would otherwise each write again. A dev-dependency only — no
//! production crate depends on it (it panics instead of returning errors
//! wherever a test would only `unwrap`).
//!
//! * [`codes`]: device codes (`dev(n)`), fixed times and the platform clock
//!   the store and API tests pass in;
//! * [`fleet`]: fleet events from the simulator (`liftwatch-sim`, re-exported
//!   as [`sim`]) for any device codes;
//! * [`fixtures`]: firm and project registration, and events as the gateway
//!   hands them to the store ([`fixtures::messages`]);
//! * [`db`]: a throw-away database per test ([`TestDb`]);
//! * [`wait`]: waiting for a condition with a deadline, never a sleep as
//!   synchronisation;
//! * [`procs`]: a private Mosquitto ([`Broker`]), `liftwatch serve`
//!   ([`Service`]), a private PostgreSQL cluster, a minimal HTTP client;
//! * [`mqtt`]: a publisher that behaves like a fleet of boxes;
//! * [`tls`]: a throw-away CA and server certificate ([`TestCa`]);
//! * [`browser`]: headless Chromium over WebDriver ([`Browser`]), for the
//!   dashboard's tests.

pub mod browser;
pub mod codes;
pub mod db;
pub mod fixtures;
pub mod fleet;
pub mod mqtt;
pub mod procs;
pub mod tls;
pub mod wait;

pub use browser::Browser;
pub use codes::{day, dev, devs, now, t};
pub use db::{admin_url, TestDb};
pub use fixtures::{firm, messages, project, register};
pub use fleet::fleet_events;
pub use liftwatch_sim as sim;
pub use mqtt::publish;
pub use procs::{free_port, Broker, Service, StockBroker};
pub use tls::TestCa;
pub use wait::wait_until;
