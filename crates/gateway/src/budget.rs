//! The byte bound of the pipeline (issue 9, item 9): a count bound alone let
//! several GiB in with 1 MiB messages. Every received message takes its size
//! (topic + payload) from a [`ByteBudget`] before it enters the queue and
//! gives it back once it is committed (stored or spooled: the acker takes
//! its bytes back before it waits to ack) or given up, so the bytes held
//! between the MQTT loop and the commits (queue, batches being stored) stay
//! under `queue_max_bytes`. While the budget is spent the source stops
//! polling and the broker stops sending. A message waiting for its ack must
//! not hold bytes: the ack goes out only when the source polls the event
//! loop, which it does not while it waits for bytes (a deadlock once the
//! broker's backlog exceeds the budget, seen at 10 million events).

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Bytes that may be held at once.
#[derive(Clone, Debug)]
pub(crate) struct ByteBudget {
    sem: Arc<Semaphore>,
    max: u32,
}

/// Bytes taken from a [`ByteBudget`]; given back on drop.
#[derive(Debug)]
pub(crate) struct Held(#[allow(dead_code)] Option<OwnedSemaphorePermit>);

impl Held {
    /// Nothing held (a committed message waiting for its ack; messages made
    /// outside the source, in tests).
    pub(crate) fn nothing() -> Held {
        Held(None)
    }
}

impl ByteBudget {
    /// A budget of `max` bytes (capped at what a semaphore can count, and
    /// at `u32::MAX`).
    pub(crate) fn new(max: u64) -> ByteBudget {
        let max = u32::try_from(max.min(Semaphore::MAX_PERMITS as u64)).unwrap_or(u32::MAX).max(1);
        ByteBudget { sem: Arc::new(Semaphore::new(max as usize)), max }
    }

    /// Waits until `bytes` are free and takes them. A message larger than
    /// the whole budget takes all of it (it passes alone).
    pub(crate) async fn take(&self, bytes: usize) -> Held {
        let n = u32::try_from(bytes).unwrap_or(u32::MAX).clamp(1, self.max);
        // The semaphore is never closed.
        Held(self.sem.clone().acquire_many_owned(n).await.ok())
    }

    /// Bytes held now.
    pub(crate) fn held(&self) -> u64 {
        u64::from(self.max).saturating_sub(self.sem.available_permits() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bound holds: a message that does not fit waits until enough is
    /// given back; an oversize one passes alone.
    #[tokio::test(start_paused = true)]
    async fn the_byte_bound_holds_and_recovers() {
        let b = ByteBudget::new(100);
        let first = b.take(60).await;
        assert_eq!(b.held(), 60);
        let mut second = Box::pin(b.take(60));
        assert!(futures_poll(&mut second).is_none(), "60 + 60 > 100 must wait");
        drop(first);
        let second = second.await;
        assert_eq!(b.held(), 60);
        drop(second);
        let big = b.take(1_000_000).await;
        assert_eq!(b.held(), 100);
        drop(big);
        assert_eq!(b.held(), 0);
    }

    /// Polls a future once.
    fn futures_poll<F: std::future::Future + Unpin>(f: &mut F) -> Option<F::Output> {
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        match std::pin::Pin::new(f).poll(&mut cx) {
            std::task::Poll::Ready(v) => Some(v),
            std::task::Poll::Pending => None,
        }
    }
}
