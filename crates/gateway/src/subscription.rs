//! The subscription's state machine: subscribe on every connection, and
//! retry with backoff while the broker refuses (a SUBACK failure code: an
//! ACL, a broker limit) or does not answer. Pure: times passed in; the
//! source does the I/O and sleeps until [`Subscription::deadline`].

use std::time::{Duration, Instant};

/// How long the gateway waits for a SUBACK before it subscribes again.
pub const SUBACK_TIMEOUT: Duration = Duration::from_secs(10);
/// First wait before subscribing again after a failure; doubled up to [`RETRY_MAX`].
pub const RETRY_FIRST: Duration = Duration::from_millis(500);
/// Longest wait between subscription attempts.
pub const RETRY_MAX: Duration = Duration::from_secs(30);

/// Why a subscription attempt failed (the label of
/// `liftwatch_mqtt_subscribe_failures_total`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The broker answered with a failure code.
    Refused,
    /// No SUBACK within [`SUBACK_TIMEOUT`].
    Timeout,
}

impl Failure {
    /// Every label value, for pre-registration.
    pub const ALL: [Failure; 2] = [Failure::Refused, Failure::Timeout];

    /// The label value.
    pub fn code(self) -> &'static str {
        match self {
            Failure::Refused => "refused",
            Failure::Timeout => "timeout",
        }
    }
}

/// Where the subscription stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// No connection.
    Down,
    /// SUBSCRIBE sent, SUBACK awaited until then.
    Waiting(Instant),
    /// Failed; subscribe again at then.
    Backoff(Instant),
    /// Acknowledged by the broker.
    Up,
}

/// What the source must do after a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Nothing.
    Idle,
    /// Send a SUBSCRIBE.
    Subscribe,
    /// The attempt failed (log, count); the next one comes after `retry_in`.
    Failed {
        /// Why.
        why: Failure,
        /// Wait before the next attempt.
        retry_in: Duration,
    },
    /// The broker acknowledged the subscription.
    Subscribed,
}

/// The subscription of one gateway, across connections.
#[derive(Debug)]
pub(crate) struct Subscription {
    state: State,
    /// Wait after the next failure.
    backoff: Duration,
}

impl Default for Subscription {
    fn default() -> Self {
        Subscription { state: State::Down, backoff: RETRY_FIRST }
    }
}

impl Subscription {
    /// A new connection: subscribe now.
    pub(crate) fn connected(&mut self, now: Instant) -> Step {
        self.backoff = RETRY_FIRST;
        self.state = State::Waiting(now + SUBACK_TIMEOUT);
        Step::Subscribe
    }

    /// The connection is gone (the subscription goes with it).
    pub(crate) fn disconnected(&mut self) {
        self.state = State::Down;
    }

    /// A SUBACK: `ok` unless a return code is a failure. A late success
    /// (after a timeout) is taken; a late failure waits for the retry.
    pub(crate) fn acked(&mut self, ok: bool, now: Instant) -> Step {
        match (self.state, ok) {
            (State::Waiting(_) | State::Backoff(_), true) => {
                self.state = State::Up;
                Step::Subscribed
            }
            (State::Waiting(_), false) => self.fail(Failure::Refused, now),
            _ => Step::Idle,
        }
    }

    /// The time has come (`now` ≥ [`Subscription::deadline`]): a SUBACK
    /// overdue is a failure; a backoff over means subscribe again.
    pub(crate) fn tick(&mut self, now: Instant) -> Step {
        match self.state {
            State::Waiting(until) if now >= until => self.fail(Failure::Timeout, now),
            State::Backoff(until) if now >= until => {
                self.state = State::Waiting(now + SUBACK_TIMEOUT);
                Step::Subscribe
            }
            _ => Step::Idle,
        }
    }

    /// When [`Subscription::tick`] has something to do.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        match self.state {
            State::Waiting(t) | State::Backoff(t) => Some(t),
            State::Down | State::Up => None,
        }
    }

    /// Whether the broker acknowledged the subscription on this connection.
    pub(crate) fn is_up(&self) -> bool {
        self.state == State::Up
    }

    fn fail(&mut self, why: Failure, now: Instant) -> Step {
        let retry_in = self.backoff;
        self.backoff = (self.backoff * 2).min(RETRY_MAX);
        self.state = State::Backoff(now + retry_in);
        Step::Failed { why, retry_in }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Protects issue 9, item 10: a refused or unanswered SUBSCRIBE is
    /// retried with a growing backoff until the broker takes it; the
    /// subscription is up only then, and a new connection starts afresh.
    #[test]
    fn a_refused_or_unanswered_subscribe_is_retried_with_backoff() {
        let t0 = Instant::now();
        let mut s = Subscription::default();
        assert_eq!(s.deadline(), None);
        assert_eq!(s.connected(t0), Step::Subscribe);
        assert!(!s.is_up());
        // Refused.
        assert_eq!(s.acked(false, t0), Step::Failed { why: Failure::Refused, retry_in: RETRY_FIRST });
        assert_eq!(s.deadline(), Some(t0 + RETRY_FIRST));
        assert_eq!(s.tick(t0), Step::Idle, "not before the backoff is over");
        let t1 = t0 + RETRY_FIRST;
        assert_eq!(s.tick(t1), Step::Subscribe);
        // Unanswered.
        assert_eq!(s.deadline(), Some(t1 + SUBACK_TIMEOUT));
        let t2 = t1 + SUBACK_TIMEOUT;
        assert_eq!(s.tick(t2), Step::Failed { why: Failure::Timeout, retry_in: RETRY_FIRST * 2 });
        let t3 = t2 + RETRY_FIRST * 2;
        assert_eq!(s.tick(t3), Step::Subscribe);
        // Accepted.
        assert_eq!(s.acked(true, t3), Step::Subscribed);
        assert!(s.is_up());
        assert_eq!(s.deadline(), None);
        assert_eq!(s.acked(false, t3), Step::Idle, "a stray SUBACK changes nothing once up");
        // The connection drops: down; the next connection subscribes afresh.
        s.disconnected();
        assert!(!s.is_up());
        assert_eq!(s.deadline(), None);
        assert_eq!(s.connected(t3), Step::Subscribe);
        assert_eq!(s.acked(false, t3), Step::Failed { why: Failure::Refused, retry_in: RETRY_FIRST });
    }

    /// The backoff doubles up to its cap; a SUBACK that comes after its
    /// timeout, while waiting to retry, still counts.
    #[test]
    fn the_backoff_is_capped_and_a_late_suback_is_taken() {
        let mut now = Instant::now();
        let mut s = Subscription::default();
        s.connected(now);
        let mut waits = Vec::new();
        for _ in 0..10 {
            match s.acked(false, now) {
                Step::Failed { retry_in, .. } => waits.push(retry_in),
                other => panic!("{other:?}"),
            }
            now += waits[waits.len() - 1];
            assert_eq!(s.tick(now), Step::Subscribe);
        }
        assert_eq!(waits[1], RETRY_FIRST * 2);
        assert_eq!(waits.last(), Some(&RETRY_MAX));
        now += SUBACK_TIMEOUT;
        assert!(matches!(s.tick(now), Step::Failed { why: Failure::Timeout, .. }));
        assert_eq!(s.acked(true, now), Step::Subscribed);
    }
}
