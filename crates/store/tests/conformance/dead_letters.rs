//! Dead letters (issue 9, items 6, 9, 15): a dead letter can always be
//! written (text a store cannot hold is escaped), an oversize payload is kept
//! truncated with its size, the same message is kept once, and pruning
//! holds retention and the size cap, oldest first.

use liftwatch_core::protocol::{decode_message, topic_for, Timestamp, MICROS_PER_SEC};
use liftwatch_store::dead_letters::{DeadLetterFilter, DeadLetterPolicy, DEAD_LETTER_PAYLOAD_MAX};
use liftwatch_store::prelude::*;
use liftwatch_store::Inbound;

use crate::fixtures::*;
use crate::Factory;

/// A message as the gateway hands it over, decoded at `at`.
fn message(topic: &str, payload: &[u8], at: Timestamp) -> Inbound {
    Inbound {
        topic: topic.into(),
        payload: payload.to_vec(),
        received_at: at,
        decoded: decode_message(topic, payload, at),
    }
}

async fn pending<S: Store>(s: &S) -> Vec<liftwatch_store::dead_letters::DeadLetterRecord> {
    s.dead_letters(&DeadLetterFilter { limit: Some(1000), ..Default::default() }).await.unwrap()
}

pub async fn a_topic_with_nul_is_dead_lettered_escaped<F: Factory>(f: &F) {
    let (s, _g) = f.open("dl_nul").await;
    let topic = "lift/v1/3110\0/events";
    // Through ingest (the decoder refuses the topic) …
    let r = s.ingest(&[message(topic, b"[]", now())]).await.unwrap();
    assert_eq!(r.dead_letters.len(), 1);
    // … and directly, with a NUL in the reason too.
    s.dead_letter(&message(topic, b"{\"a\":1}", now()), "store_refused", "refused \0 here").await.unwrap();
    let rows = pending(&s).await;
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|d| d.topic == "lift/v1/3110\\u0000/events"), "{rows:?}");
    assert_eq!(rows[1].reason, "refused \\u0000 here");
}

pub async fn an_oversize_payload_is_kept_truncated_with_its_size<F: Factory>(f: &F) {
    let (s, _g) = f.open("dl_big").await;
    let big = vec![b'x'; DEAD_LETTER_PAYLOAD_MAX + 1000];
    let r = s.ingest(&[message(&topic_for(&dev(1)), &big, now())]).await.unwrap();
    assert_eq!(r.dead_letters, ["payload_too_large"]);
    let rows = pending(&s).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].payload.len(), DEAD_LETTER_PAYLOAD_MAX);
    assert_eq!(rows[0].payload_bytes, (DEAD_LETTER_PAYLOAD_MAX + 1000) as i64);
    // Not replayable (cut), so a replay leaves it pending.
    let rep = s.replay_dead_letters(&DeadLetterFilter::default(), now()).await.unwrap();
    assert_eq!(rep.replayed, 0);
}

pub async fn the_same_message_redelivered_is_kept_once<F: Factory>(f: &F) {
    let (s, _g) = f.open("dl_dedupe").await;
    let topic = topic_for(&dev(1));
    let later = Timestamp(now().0 + 1_000_000);
    let m = |at| message(&topic, b"not json", at);
    // Twice in one batch, once in another, once by the gateway's path.
    s.ingest(&[m(now()), m(now())]).await.unwrap();
    s.ingest(&[m(later)]).await.unwrap();
    s.dead_letter(&m(later), "not_json", "again").await.unwrap();
    // Another payload is another dead letter.
    s.ingest(&[message(&topic, b"nor this", now())]).await.unwrap();
    let rows = pending(&s).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!((rows[0].seen_count, rows[0].received_at, rows[0].last_seen_at), (4, now(), later));
    assert_eq!(rows[1].seen_count, 1);
    // Replayed and still invalid: a new pending row, counted afresh.
    let rep = s.replay_dead_letters(&DeadLetterFilter::default(), now()).await.unwrap();
    assert_eq!((rep.replayed, rep.ingest.dead_letters.len()), (2, 2));
    let rows = pending(&s).await;
    assert_eq!(rows.iter().map(|d| d.seen_count).collect::<Vec<_>>(), [1, 1]);
}

pub async fn pruning_holds_retention_and_the_size_cap_oldest_first<F: Factory>(f: &F) {
    let (s, _g) = f.open("dl_prune").await;
    let topic = topic_for(&dev(1));
    let day = |n: i64| Timestamp(now().0 - n * 86_400 * MICROS_PER_SEC);
    // 10 distinct letters, the oldest 40 days old, one a day.
    for n in 0..10 {
        let payload = format!("junk {n:02} {}", "p".repeat(1000));
        s.dead_letter(&message(&topic, payload.as_bytes(), day(40 - n)), "not_json", "junk").await.unwrap();
    }
    // Retention 35 days: the 5 older than that go (40..36 days old).
    let r = s.prune_dead_letters(&DeadLetterPolicy { keep_since: day(35), max_bytes: u64::MAX }).await.unwrap();
    assert_eq!((r.expired, r.over_cap), (5, 0));
    // A cap of 2.5 letters' bytes: the newest 2 stay.
    let r = s.prune_dead_letters(&DeadLetterPolicy { keep_since: day(35), max_bytes: 2500 }).await.unwrap();
    assert_eq!((r.expired, r.over_cap), (0, 3));
    let rows = pending(&s).await;
    assert_eq!(rows.iter().map(|d| d.received_at).collect::<Vec<_>>(), [day(32), day(31)]);
    let bytes: usize = rows.iter().map(|d| d.topic.len() + d.reason.len() + d.payload.len()).sum();
    assert!(bytes <= 2500);
}
