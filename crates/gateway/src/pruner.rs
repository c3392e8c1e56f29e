//! The dead-letter pruner (issue 9, item 15): every [`PRUNE_EVERY`], deletes
//! dead letters last seen before the retention and then the oldest ones
//! beyond the size cap ([`DeadLetters::prune_dead_letters`]), so that a
//! publisher the registry does not know cannot fill the disk: between two
//! runs the table can outgrow the cap by what arrives in [`PRUNE_EVERY`] only.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use liftwatch_core::protocol::{Timestamp, MICROS_PER_SEC};
use liftwatch_store::dead_letters::DeadLetterPolicy;
use liftwatch_store::DeadLetters;
use tokio::sync::watch;

use crate::metrics::Stats;

/// Time between two prunes (the first runs at start).
pub const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// Prunes until shutdown; errors are logged and tried again next time.
pub async fn run(
    store: Arc<dyn DeadLetters>,
    retention: Duration,
    max_bytes: u64,
    stats: Arc<Stats>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(PRUNE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        let keep_since = Timestamp(
            Timestamp::now().0
                - i64::try_from(retention.as_secs()).unwrap_or(i64::MAX / MICROS_PER_SEC) * MICROS_PER_SEC,
        );
        match store.prune_dead_letters(&DeadLetterPolicy { keep_since, max_bytes }).await {
            Ok(r) => {
                stats.dead_letters_expired.fetch_add(r.expired, Ordering::Relaxed);
                stats.dead_letters_over_cap.fetch_add(r.over_cap, Ordering::Relaxed);
                if r.over_cap > 0 {
                    tracing::warn!(
                        deleted = r.over_cap,
                        max_bytes,
                        "dead letters over their size cap: the oldest were deleted (an unregistered publisher?)"
                    );
                }
                if r.expired > 0 {
                    tracing::info!(deleted = r.expired, "dead letters past their retention deleted");
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot prune dead letters, trying again later"),
        }
    }
}
