//! The broker connection as the acker and the source share it, and the
//! detection of a client-id fight. Pure: no I/O, times passed in.
//!
//! **Acks only on the connection a message came on.** A packet id names a
//! message only within one connection: after a reconnect the broker resends
//! what was unacked (the store, or the spool, drops the copy as a
//! duplicate), and an old packet id may by then name a different message —
//! a PUBACK carried over would acknowledge that one before it is stored. So
//! connections are numbered ([`Link::connected`]), every message carries the
//! number of its connection, and an ack is handed to rumqttc only while that
//! connection is up ([`Link::offer`], under the link's lock). Once the
//! source sees the connection fail it marks the link down (under the same
//! lock), then removes every ack rumqttc still holds (`source::forget_acks`):
//! none can reach the next connection.
//!
//! **Session takeovers.** MQTT 3.1.1 has the broker close the connection of
//! a client when another one connects with the same client id. Two gateways
//! started with one `--mqtt-client-id` take the session from each other
//! again and again, each receiving part of the stream while its acks are
//! dropped. The sign seen from one of them: the broker closes a working
//! connection and the very next connection attempt succeeds, finding the
//! session kept (the broker was up all along — unlike a broker restart,
//! where attempts are usually refused for a while, and a broker without
//! persistence comes back without the session). A broker restarting faster
//! than the first reconnection delay (100 ms) with persistence looks the
//! same, hence a threshold: [`Takeovers`] calls it a conflict past
//! [`TAKEOVER_THRESHOLD`] within [`TAKEOVER_WINDOW`].

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// What became of an ack offered to the link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Offer {
    /// Handed to rumqttc.
    Sent,
    /// Not sent: its connection is gone (or down); the broker redelivers the message.
    Dropped,
    /// rumqttc's request queue is full: offer it again once the event loop
    /// has taken a request.
    Full,
}

/// The broker connection's number and state.
#[derive(Debug, Default)]
pub(crate) struct Link {
    /// Connections made so far (each CONNACK adds one): the current one's number.
    generation: u64,
    /// Whether connection `generation` is up.
    up: bool,
}

impl Link {
    /// A CONNACK: a new connection, numbered one more than the last.
    pub(crate) fn connected(&mut self) -> u64 {
        self.generation += 1;
        self.up = true;
        self.generation
    }

    /// The connection failed (or closed): no ack may be sent until the next one.
    pub(crate) fn lost(&mut self) {
        self.up = false;
    }

    /// The current connection's number (messages are tagged with it).
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// Sends the ack of a message that arrived on connection `connection`
    /// through `send` (which reports `false` when rumqttc's queue is full),
    /// only if that connection is the current one and up.
    pub(crate) fn offer(&self, connection: u64, send: impl FnOnce() -> bool) -> Offer {
        if !self.up || connection != self.generation {
            Offer::Dropped
        } else if send() {
            Offer::Sent
        } else {
            Offer::Full
        }
    }
}

/// Session takeovers within this window count towards a conflict.
pub const TAKEOVER_WINDOW: Duration = Duration::from_secs(60);
/// Session takeovers within [`TAKEOVER_WINDOW`] that make a client-id conflict.
pub const TAKEOVER_THRESHOLD: usize = 3;

/// Recent session takeovers, and whether they amount to a client-id conflict.
///
/// A conflict starts at the [`TAKEOVER_THRESHOLD`]th takeover within
/// [`TAKEOVER_WINDOW`] and lasts until a whole window passes without one
/// (hysteresis: a fight slowed down by the reconnection backoff still shows
/// as one conflict, not as one that comes and goes).
#[derive(Debug, Default)]
pub(crate) struct Takeovers {
    /// Times of the takeovers within the window before the last one.
    recent: VecDeque<Instant>,
    /// Whether a conflict was declared (and has not lapsed, see [`Takeovers::conflict`]).
    firing: bool,
}

impl Takeovers {
    /// Records a takeover at `now`; `true` when this one starts a conflict.
    pub(crate) fn record(&mut self, now: Instant) -> bool {
        if !self.conflict(now) {
            self.firing = false;
        }
        while self.recent.front().is_some_and(|t| now.saturating_duration_since(*t) >= TAKEOVER_WINDOW) {
            self.recent.pop_front();
        }
        self.recent.push_back(now);
        let starts = !self.firing && self.recent.len() >= TAKEOVER_THRESHOLD;
        self.firing |= starts;
        starts
    }

    /// Whether a conflict lasts at `now`: declared, and the last takeover
    /// less than [`TAKEOVER_WINDOW`] ago.
    pub(crate) fn conflict(&self, now: Instant) -> bool {
        self.firing && self.recent.back().is_some_and(|t| now.saturating_duration_since(*t) < TAKEOVER_WINDOW)
    }

    /// Takeovers within the window before `now`.
    pub(crate) fn recent(&self, now: Instant) -> usize {
        self.recent.iter().filter(|t| now.saturating_duration_since(**t) < TAKEOVER_WINDOW).count()
    }
}

/// How a connection ended, as far as takeover detection cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ended {
    /// The broker closed a connection that was up (end of stream or reset).
    ClosedByBroker,
    /// Anything else: a refused or failed connection attempt, a timeout, a
    /// protocol error.
    Other,
}

/// Tells a session takeover from other connection losses: the broker
/// closed a connection that was up and the next attempt connected at once.
#[derive(Debug, Default)]
pub(crate) struct TakeoverSign {
    /// The last connection was closed by the broker and no attempt failed since.
    suspect: bool,
}

impl TakeoverSign {
    /// A connection (or an attempt) ended.
    pub(crate) fn ended(&mut self, how: Ended, was_up: bool) {
        self.suspect = was_up && how == Ended::ClosedByBroker;
    }

    /// A CONNACK: `true` when the connection before was taken over. The
    /// broker must have kept the session (`session_present`): it was in use
    /// by the other client (a broker restarted without persistence has none).
    pub(crate) fn connected(&mut self, session_present: bool) -> bool {
        std::mem::take(&mut self.suspect) && session_present
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Protects issue 9, item 10: an ack is handed to rumqttc only on the
    /// connection its message arrived on, while it is up; never on a later
    /// connection (where its packet id may name another message), never
    /// while disconnected.
    #[test]
    fn acks_of_old_connections_are_dropped() {
        let mut l = Link::default();
        let offer = |l: &Link, connection| {
            let mut sent = false;
            let o = l.offer(connection, || {
                sent = true;
                true
            });
            assert_eq!(sent, o == Offer::Sent, "send is called only for an ack that goes out");
            o
        };
        // Before the first CONNACK nothing is sent.
        assert_eq!(offer(&l, 0), Offer::Dropped);
        let first = l.connected();
        assert_eq!(offer(&l, first), Offer::Sent);
        l.lost();
        assert_eq!(offer(&l, first), Offer::Dropped, "down: not even on the connection it came on");
        let second = l.connected();
        assert_eq!(offer(&l, first), Offer::Dropped, "an ack of the old connection stays dropped");
        assert_eq!(offer(&l, second), Offer::Sent);
        assert_eq!(l.offer(second, || false), Offer::Full);
    }

    /// Three takeovers within the window start a conflict (reported once);
    /// it lasts while takeovers go on, even spaced out, and ends a window
    /// after the last one.
    #[test]
    fn repeated_takeovers_make_a_conflict_until_they_stop() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut t = Takeovers::default();
        assert!(!t.record(at(0)));
        assert!(!t.record(at(30)));
        assert!(!t.conflict(at(30)));
        // 0 is out of the window by 61: only two within it.
        assert!(!t.record(at(61)));
        assert!(t.record(at(80)), "three within 60 s (30, 61, 80)");
        assert!(t.conflict(at(80)) && t.recent(at(80)) == 3);
        // Spaced 50 s apart: fewer than three per window, still the same conflict.
        assert!(!t.record(at(130)));
        assert!(!t.record(at(180)));
        assert!(t.conflict(at(239)));
        assert!(!t.conflict(at(240)), "a whole window without a takeover ends it");
        // A new episode needs three again.
        assert!(!t.record(at(300)));
        assert!(!t.conflict(at(300)));
        assert!(!t.record(at(301)));
        assert!(t.record(at(302)));
    }

    /// A takeover is the broker closing a working connection followed by an
    /// immediate reconnection; a failed attempt in between (the broker was
    /// down: a restart) or a connection that ended otherwise is not one.
    #[test]
    fn a_takeover_is_a_close_by_the_broker_then_an_immediate_reconnection() {
        let mut s = TakeoverSign::default();
        assert!(!s.connected(true), "the first connection");
        s.ended(Ended::ClosedByBroker, true);
        assert!(s.connected(true));
        assert!(!s.connected(true), "counted once");
        // Broker restart: closed, then refused, then connected.
        s.ended(Ended::ClosedByBroker, true);
        s.ended(Ended::Other, false);
        assert!(!s.connected(true));
        // A broker restarted without persistence, fast: no session any more.
        s.ended(Ended::ClosedByBroker, true);
        assert!(!s.connected(false));
        // Keep-alive timeout or protocol error.
        s.ended(Ended::Other, true);
        assert!(!s.connected(true));
        // A connection attempt the broker closed before CONNACK.
        s.ended(Ended::ClosedByBroker, false);
        assert!(!s.connected(true));
    }
}
