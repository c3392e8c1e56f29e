//! When to try a failed delivery again: exponential from 5 s, doubling, at
//! most an hour apart, with up to 20 % jitter drawn from the message id (so
//! the receivers of one outage do not all retry in the same second, and the
//! schedule is reproducible).

use std::time::Duration;

/// First retry after this long.
pub const FIRST_RETRY: Duration = Duration::from_secs(5);
/// Retries are at most this far apart.
pub const MAX_RETRY: Duration = Duration::from_secs(3600);

/// Delay before the next attempt after `attempts` failed ones (≥ 1).
pub fn retry_delay(attempts: u32, msg_id: &str) -> Duration {
    let exp = FIRST_RETRY.saturating_mul(1u32 << attempts.saturating_sub(1).min(20));
    let base = exp.min(MAX_RETRY);
    let h = msg_id.bytes().fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    let jitter = base.mul_f64(f64::from(h.wrapping_add(attempts) % 1000) / 1000.0 * 0.2);
    base + jitter
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_from_five_seconds_and_caps_at_an_hour_with_bounded_jitter() {
        let mut prev = Duration::ZERO;
        for a in 1..=12 {
            let d = retry_delay(a, "msg");
            let base = FIRST_RETRY.saturating_mul(1 << (a - 1)).min(MAX_RETRY);
            assert!(d >= base && d <= base.mul_f64(1.2), "attempt {a}: {d:?} vs {base:?}");
            assert!(d + base.mul_f64(0.2) >= prev, "never much shorter than the previous");
            prev = d;
        }
        assert!(retry_delay(40, "msg") <= MAX_RETRY.mul_f64(1.2));
        assert_eq!(retry_delay(3, "a"), retry_delay(3, "a"));
    }
}
