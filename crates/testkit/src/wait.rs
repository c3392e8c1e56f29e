//! Waiting for a condition with a deadline: the condition is what a test
//! synchronises on; the short pause between polls only paces the polling.

use std::future::Future;
use std::time::{Duration, Instant};

/// How often a condition is polled.
pub const POLL: Duration = Duration::from_millis(50);

/// The deadline passed before the condition held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimedOut(pub String);

impl std::fmt::Display for TimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TimedOut {}

/// Polls `cond` until it holds; `Err` after `timeout` (for callers that
/// report rather than panic, such as the benchmarks).
pub async fn try_wait_until<F, Fut>(what: &str, timeout: Duration, mut cond: F) -> Result<(), TimedOut>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    while !cond().await {
        if start.elapsed() >= timeout {
            return Err(TimedOut(format!("timed out after {timeout:?} waiting for {what}")));
        }
        tokio::time::sleep(POLL).await;
    }
    Ok(())
}

/// Polls `cond` until it holds; panics with `what` after `timeout`.
pub async fn wait_until<F, Fut>(what: &str, timeout: Duration, cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    if let Err(e) = try_wait_until(what, timeout, cond).await {
        panic!("{e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn gives_up_at_the_deadline_and_returns_once_the_condition_holds() {
        let mut n = 0;
        try_wait_until("the third poll", Duration::from_secs(1), || {
            n += 1;
            std::future::ready(n >= 3)
        })
        .await
        .expect("holds on the third poll");
        let e = try_wait_until("never", Duration::from_millis(200), || std::future::ready(false)).await;
        assert_eq!(e, Err(TimedOut("timed out after 200ms waiting for never".into())));
    }
}
