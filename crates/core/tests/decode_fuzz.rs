//! Fuzz-style property tests of protocol-v1 decoding (issue 9, item 16).
//!
//! 1. arbitrary bytes never panic `decode_message`;
//! 2. structure-aware JSON (arrays of objects built from the protocol's field
//!    names, with valid and invalid values of every JSON type): never panics,
//!    and every array element is accepted or rejected exactly once;
//! 3. a differential check of the RFC 3339 parser against chrono.
//!
//! Case counts are moderate by default so `cargo test` stays fast; set
//! `PROPTEST_CASES` for a long run (see `docs/fuzzing.md`), e.g.
//! `PROPTEST_CASES=200000 cargo test --release -p liftwatch-core --test decode_fuzz`.
#![allow(clippy::unwrap_used)]

use chrono::DateTime;
use liftwatch_core::protocol::{
    decode_message, parse_rfc3339, Decoded, Invalid, TimeError, Timestamp, MAX_EVENTS_PER_PAYLOAD, MAX_PAYLOAD_BYTES,
};
use proptest::prelude::*;
use proptest::test_runner::Config;

const DEV: &str = "31103302002018120001";
const TOPIC: &str = "lift/v1/31103302002018120001/events";

/// `cases` unless `PROPTEST_CASES` is set (`with_cases` alone would override it).
fn config(cases: u32) -> Config {
    let mut c = Config::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = cases;
    }
    c
}

fn now() -> Timestamp {
    parse_rfc3339("2026-11-28T12:00:00+08:00").unwrap().0
}

// ---------------------------------------------------------------------------
// 1. Arbitrary bytes.

fn arb_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // Raw bytes, mostly invalid UTF-8.
        3 => proptest::collection::vec(any::<u8>(), 0..2048),
        // Bytes over JSON's alphabet: far more likely to get deep into the parser.
        3 => proptest::collection::vec(
            proptest::sample::select(b"{}[],:\"\\0123456789.eE+-tfnrulasxyz \n\xff\xc3".to_vec()),
            0..2048
        ),
        // Deep nesting, bounded only by the payload limit.
        1 => (1usize..MAX_PAYLOAD_BYTES / 2 + 8, any::<bool>()).prop_map(|(n, obj)| {
            if obj {
                let mut v = "{\"v\":".repeat(n / 5).into_bytes();
                v.extend(std::iter::repeat_n(b'}', n / 5));
                v
            } else {
                let mut v = vec![b'['; n];
                v.extend(std::iter::repeat_n(b']', n));
                v
            }
        }),
    ]
}

proptest! {
    #![proptest_config(config(3000))]

    /// Whatever the bytes, decoding returns (at least one event or reject).
    #[test]
    fn arbitrary_bytes_never_panic(bytes in arb_bytes()) {
        let d = decode_message(TOPIC, &bytes, now());
        prop_assert!(d.events.len() + d.rejects.len() >= 1);
        if bytes.len() > MAX_PAYLOAD_BYTES {
            prop_assert!(matches!(d.rejects.as_slice(), [r] if r.index.is_none() && matches!(r.reason, Invalid::TooLarge(_))));
        }
        if std::str::from_utf8(&bytes).is_err() && bytes.len() <= MAX_PAYLOAD_BYTES {
            prop_assert!(matches!(d.rejects.as_slice(), [r] if r.index.is_none() && matches!(r.reason, Invalid::NotUtf8(_))));
        }
    }
}

// ---------------------------------------------------------------------------
// 2. Structure-aware JSON.

/// Every field name protocol v1 defines, plus a few near misses and unknowns.
const FIELDS: &[&str] = &[
    "v",
    "device",
    "seq",
    "ts",
    "type",
    "end",
    "from",
    "to",
    "doors",
    "fault_id",
    "code",
    "stops_service",
    "cause",
    "incident_id",
    "visit_id",
    "phase",
    "mode",
    "runs_total",
    "r#type",
    "Type",
    "extra",
    "",
];

/// Values of every JSON type, including ones serde_json cannot represent
/// (`1e400`, a lone surrogate) and ones the protocol forbids.
fn arb_any_value() -> BoxedStrategy<String> {
    prop_oneof![
        proptest::sample::select(vec![
            "null",
            "true",
            "false",
            "0",
            "1",
            "-1",
            "2",
            "1.0",
            "1.5",
            "-0",
            "1e2",
            "1e400",
            "-1e400",
            "9223372036854775807",
            "9223372036854775808",
            "18446744073709551615",
            "18446744073709551616",
            "-9223372036854775809",
            "4294967296",
            "9.3e18",
            "\"\"",
            "\"\\ud800\"",
            "\"a\\u0000b\"",
            "\"\\u00e9\"",
            "\"é\"",
            "\"run\"",
            "\"fault\"",
            "\"start\"",
            "\"normal\"",
            "\"equipment\"",
            "\"31103302002018120001\"",
            "\"31103302002018120002\"",
            "\"2026-11-28T08:00:01.120+08:00\"",
            "\"2026-11-28T08:00:01\"",
            "\"2026-13-01T00:00:00Z\"",
            "\"2030-01-01T00:00:00Z\"",
            "[]",
            "[1,{\"v\":1}]",
            "{}",
            "{\"v\":[null]}",
        ])
        .prop_map(str::to_owned),
        any::<i64>().prop_map(|i| i.to_string()),
        any::<u64>().prop_map(|i| i.to_string()),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| format!("{f:e}")),
        "[ -~]{0,70}".prop_map(|s| serde_json::to_string(&s).unwrap()),
        any::<String>().prop_map(|s| serde_json::to_string(&s).unwrap()),
    ]
    .boxed()
}

fn q(s: &str) -> String {
    format!("\"{s}\"")
}

/// A valid value for `field` (given the event's type), or `None` if the
/// field does not belong to that type.
fn valid_value(field: &str, kind: &str, n: u64) -> String {
    let pick = |xs: &[&str]| q(xs[(n as usize) % xs.len()]);
    match field {
        "v" => "1".into(),
        "device" => q(DEV),
        "seq" => (n >> 1).to_string(),
        "ts" => q("2026-11-28T08:00:01.120+08:00"),
        "type" => q(kind),
        "end" => q("2026-11-28T08:00:31.450+08:00"),
        "from" | "to" => ((n % 200) as i64 - 3).to_string(),
        "doors" => (n % 5).to_string(),
        "fault_id" | "incident_id" | "visit_id" => q(&format!("id-{}", n % 1000)),
        "code" => pick(&["door_open_fault", "power_failure", "E-77"]),
        "stops_service" => n.is_multiple_of(2).to_string(),
        "cause" => pick(&["equipment", "external", "usage", "unknown"]),
        "phase" => pick(&["start", "end"]),
        "mode" => pick(&["normal", "inspection", "maintenance", "out_of_service", "fire"]),
        "runs_total" => (n >> 2).to_string(),
        _ => "null".into(),
    }
}

fn fields_of(kind: &str) -> &'static [&'static str] {
    match kind {
        "run" => &["end", "from", "to", "doors"],
        "fault" => &["fault_id", "code", "stops_service", "cause"],
        "fault_cleared" => &["fault_id"],
        "entrapment" => &["incident_id", "fault_id"],
        "rescue_arrived" | "released" => &["incident_id"],
        "maintenance" => &["visit_id", "phase"],
        "heartbeat" => &["mode"],
        "counter" => &["runs_total"],
        _ => &[],
    }
}

const KINDS: &[&str] = &[
    "run",
    "fault",
    "fault_cleared",
    "entrapment",
    "rescue_arrived",
    "released",
    "maintenance",
    "heartbeat",
    "counter",
    "Run",
    "door",
];

#[derive(Clone, Debug)]
enum Mutation {
    Remove(usize),
    Replace(usize, String),
    Duplicate(usize),
    Insert(usize, String),
}

fn arb_mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Remove),
        (any::<usize>(), arb_any_value()).prop_map(|(i, v)| Mutation::Replace(i, v)),
        any::<usize>().prop_map(Mutation::Duplicate),
        (0..FIELDS.len(), arb_any_value()).prop_map(|(i, v)| Mutation::Insert(i, v)),
    ]
}

/// One event object as text: a valid event of some type, then 0–3 mutations.
fn arb_object() -> impl Strategy<Value = String> {
    (proptest::sample::select(KINDS), any::<u64>(), proptest::collection::vec(arb_mutation(), 0..4)).prop_map(
        |(kind, n, muts)| {
            let mut fields: Vec<(String, String)> = ["v", "device", "seq", "ts", "type"]
                .iter()
                .chain(fields_of(kind))
                .map(|f| (q(f), valid_value(f, kind, n)))
                .collect();
            for m in muts {
                let len = fields.len().max(1);
                match m {
                    Mutation::Remove(i) if !fields.is_empty() => {
                        fields.remove(i % len);
                    }
                    Mutation::Replace(i, v) if !fields.is_empty() => fields[i % len].1 = v,
                    Mutation::Duplicate(i) if !fields.is_empty() => {
                        let f = fields[i % len].clone();
                        fields.push(f);
                    }
                    Mutation::Insert(i, v) => fields.push((q(FIELDS[i]), v)),
                    _ => {}
                }
            }
            let body: Vec<String> = fields.into_iter().map(|(k, v)| format!("{k}:{v}")).collect();
            format!("{{{}}}", body.join(","))
        },
    )
}

/// An array element: mostly event objects, sometimes another JSON value.
fn arb_element() -> impl Strategy<Value = String> {
    prop_oneof![9 => arb_object(), 1 => arb_any_value()]
}

#[derive(Clone, Debug)]
enum Payload {
    Array(Vec<String>),
    Single(String),
}

fn arb_payload() -> impl Strategy<Value = Payload> {
    prop_oneof![
        8 => proptest::collection::vec(arb_element(), 0..24).prop_map(Payload::Array),
        // Not an array: a lone object or scalar.
        2 => arb_element().prop_filter("not an array", |e| !e.starts_with('[')).prop_map(Payload::Single),
    ]
}

fn text_of(p: &Payload, spaced: bool) -> String {
    match p {
        Payload::Array(els) => {
            let sep = if spaced { " ,\n " } else { "," };
            if spaced {
                format!("[ {} ]", els.join(sep))
            } else {
                format!("[{}]", els.join(sep))
            }
        }
        Payload::Single(s) => s.clone(),
    }
}

/// Each element is either accepted or rejected exactly once.
fn check_accounting(p: &Payload, text: &str, d: &Decoded) -> Result<(), TestCaseError> {
    match p {
        Payload::Array(els) if els.is_empty() || els.len() > MAX_EVENTS_PER_PAYLOAD => {
            prop_assert_eq!(d.events.len(), 0);
            prop_assert_eq!(d.rejects.len(), 1);
            prop_assert_eq!(d.rejects[0].index, None);
        }
        Payload::Array(els) => {
            // Every reject is of one element: none of the whole payload.
            prop_assert!(
                d.rejects.iter().all(|r| r.index.is_some()),
                "whole-payload reject of {}: {:?}",
                text,
                d.rejects
            );
            let idx: Vec<usize> = d.rejects.iter().filter_map(|r| r.index).collect();
            prop_assert!(idx.windows(2).all(|w| w[0] < w[1]), "indexes not strictly increasing: {:?}", idx);
            prop_assert!(idx.iter().all(|&i| i < els.len()));
            prop_assert_eq!(d.events.len() + idx.len(), els.len(), "{}", text);
            // The dead letter holds exactly that element's text.
            for r in &d.rejects {
                let i = r.index.unwrap();
                prop_assert_eq!(r.raw.as_deref(), Some(els[i].as_str()), "reject {:?} of {}", r, text);
            }
        }
        Payload::Single(_) => {
            prop_assert_eq!(d.events.len() + d.rejects.len(), 1, "{}", text);
            prop_assert!(d.rejects.iter().all(|r| r.index.is_none() && r.raw.is_none()));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(3000))]

    /// Structure-aware payloads never panic, and every element is counted once.
    #[test]
    fn structured_payloads_account_for_every_element(p in arb_payload(), spaced in any::<bool>()) {
        let text = text_of(&p, spaced);
        let d = decode_message(TOPIC, text.as_bytes(), now());
        check_accounting(&p, &text, &d)?;
        // The accepted events are exactly those a lone decode of each element accepts.
        if let Payload::Array(els) = &p {
            if !els.is_empty() && els.len() <= MAX_EVENTS_PER_PAYLOAD {
                let alone: Vec<_> = els.iter().flat_map(|e| {
                    if e.starts_with('{') { decode_message(TOPIC, e.as_bytes(), now()).events } else { Vec::new() }
                }).collect();
                prop_assert_eq!(&d.events, &alone, "{}", text);
            }
        }
    }
}

/// The generator is not vacuous: both accepted and rejected elements occur often.
#[test]
fn structured_generator_covers_accepts_and_rejects() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut events, mut rejects) = (0, 0);
    for _ in 0..300 {
        let p = arb_payload().new_tree(&mut runner).unwrap().current();
        let d = decode_message(TOPIC, text_of(&p, false).as_bytes(), now());
        events += d.events.len();
        rejects += d.rejects.len();
    }
    assert!(events >= 300 && rejects >= 300, "{events} events, {rejects} rejects");
}

/// The two payload-level limits on arrays reject the whole payload.
#[test]
fn array_size_limits_reject_the_whole_payload() {
    for n in [0, MAX_EVENTS_PER_PAYLOAD + 1] {
        let els = vec!["{}".to_owned(); n];
        let p = Payload::Array(els);
        let text = text_of(&p, false);
        let d = decode_message(TOPIC, text.as_bytes(), now());
        check_accounting(&p, &text, &d).unwrap();
    }
    // 1000 elements, one of them unrepresentable (the element-by-element path).
    let mut els = vec!["{}".to_owned(); MAX_EVENTS_PER_PAYLOAD];
    els[500] = "{\"seq\":1e400}".into();
    let p = Payload::Array(els);
    let text = text_of(&p, true);
    let d = decode_message(TOPIC, text.as_bytes(), now());
    check_accounting(&p, &text, &d).unwrap();
}

// ---------------------------------------------------------------------------
// 3. RFC 3339: our parser against chrono.

fn d2(n: u32) -> String {
    format!("{n:02}")
}

/// Near-valid RFC 3339 strings, built from components that are each valid
/// or just out of range, then maybe mutated by one character.
fn arb_rfc3339() -> impl Strategy<Value = String> {
    let year = prop_oneof![
        proptest::sample::select(vec![0u32, 1, 1582, 1899, 1900, 1969, 1970, 2000, 2024, 2026, 2100, 9999]),
        0u32..10_000,
    ];
    let date = (year, 0u32..14, prop_oneof![0u32..33, 28u32..32]);
    let time =
        (prop_oneof![0u32..26, Just(23u32)], prop_oneof![0u32..62, Just(59u32)], prop_oneof![0u32..62, 58u32..61]);
    let sep = proptest::sample::select(vec!["T", "t", " ", "_", "", "TT"]);
    let frac = prop_oneof![
        2 => Just(None),
        6 => "[0-9]{0,9}".prop_map(Some),
        1 => "[0-9]{10,20}".prop_map(Some),
    ];
    let offset = prop_oneof![
        proptest::sample::select(vec![
            "Z", "z", "", "+00:00", "-00:00", "+08:00", "-05:30", "+14:00", "+0800", "+08", "UTC", "Z "
        ])
        .prop_map(str::to_owned),
        (proptest::sample::select(vec!['+', '-']), 0u32..26, 0u32..62).prop_map(|(s, h, m)| format!(
            "{s}{}:{}",
            d2(h),
            d2(m)
        )),
    ];
    let mutation = prop_oneof![
        6 => Just(None),
        1 => (any::<usize>(), proptest::char::range(' ', '~')).prop_map(Some),
    ];
    ((date, time), sep, frac, offset, mutation, any::<bool>()).prop_map(
        |(((y, mo, d), (h, mi, s)), sep, frac, off, mutation, delete)| {
            let frac = frac.map(|f| format!(".{f}")).unwrap_or_default();
            let mut s = format!("{y:04}-{}-{}{sep}{}:{}:{}{frac}{off}", d2(mo), d2(d), d2(h), d2(mi), d2(s));
            if let Some((i, c)) = mutation {
                let i = i % (s.len() + 1);
                if delete && i < s.len() {
                    s.remove(i);
                } else {
                    s.insert(i, c);
                }
            }
            s
        },
    )
}

/// Where our parser and chrono's `parse_from_rfc3339` may disagree, and why.
/// Anything else is a bug in one of them.
fn check_against_chrono(s: &str) -> Result<(), TestCaseError> {
    let ours = parse_rfc3339(s);
    let theirs = DateTime::parse_from_rfc3339(s);
    match (&ours, &theirs) {
        (Ok((t, off)), Ok(c)) => {
            prop_assert_eq!(t.micros(), c.timestamp_micros(), "instant of {:?}", s);
            prop_assert_eq!(*off, c.offset().local_minus_utc(), "offset of {:?}", s);
        }
        (Err(_), Err(_)) => {}
        (Ok(_), Err(e)) => prop_assert!(false, "{:?}: we accept, chrono rejects ({})", s, e),
        (Err(e), Ok(c)) => prop_assert!(false, "{:?}: chrono accepts ({}), we reject ({})", s, c, e),
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(5000))]

    /// Whenever both accept, instant (µs) and offset agree; where only one
    /// accepts, the difference is one of the documented ones.
    #[test]
    fn rfc3339_agrees_with_chrono(s in arb_rfc3339()) {
        check_against_chrono(&s)?;
    }

    /// Arbitrary short text: never panics, same verdicts.
    #[test]
    fn rfc3339_never_panics_on_text(s in "[0-9TtZz:+. -]{0,40}|\\PC{0,40}") {
        check_against_chrono(&s)?;
    }
}

/// Spellings at the edges where the two parsers agree. With chrono 0.4 (the
/// workspace's version) no intentional difference remains: both accept `T`,
/// `t` or a space as separator, `Z`/`z`, any number of fraction digits
/// (we truncate to µs, chrono to ns, so µs agree), `-00:00`, and a leap
/// second `:60` at any minute (both count it as the next second's start);
/// both require an explicit offset and reject `+0800`, `+08`, hours ≥ 24.
#[test]
fn rfc3339_edges_agree_with_chrono() {
    for s in [
        "2026-12-31T23:59:60Z",
        "2026-06-30T12:34:60.999999999+08:00",
        "2026-11-28t08:00:01.120z",
        "2026-11-28 08:00:01.120-00:00",
        "2026-11-28T08:00:01.12345678901234567890+23:59",
        "0000-01-01T00:00:00Z",
        "9999-12-31T23:59:59.999999-23:59",
        "2000-02-29T00:00:00Z",
    ] {
        assert!(parse_rfc3339(s).is_ok(), "{s}");
        check_against_chrono(s).unwrap();
    }
    for s in [
        "2026-11-28T08:00:01",
        "2026-11-28T08:00:01+0800",
        "2026-11-28T08:00:01+08",
        "2026-11-28T08:00:01+24:00",
        "2026-11-28T08:00:01.Z",
        "2026-11-28T24:00:00Z",
        "2026-11-28T08:00:61Z",
        "1900-02-29T00:00:00Z",
        "2026-11-28T08:00:01Z ",
    ] {
        assert!(parse_rfc3339(s).is_err(), "{s}");
        assert!(DateTime::parse_from_rfc3339(s).is_err(), "{s}");
    }
    assert_eq!(parse_rfc3339("2026-11-28T08:00:01"), Err(TimeError::NoOffset));
}

/// The generator is not vacuous: plenty of strings are accepted by both
/// parsers (so instants are compared) and plenty rejected by both.
#[test]
fn rfc3339_generator_covers_both_verdicts() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut both_ok, mut both_err) = (0, 0);
    for _ in 0..2000 {
        let s = arb_rfc3339().new_tree(&mut runner).unwrap().current();
        match (parse_rfc3339(&s).is_ok(), DateTime::parse_from_rfc3339(&s).is_ok()) {
            (true, true) => both_ok += 1,
            (false, false) => both_err += 1,
            _ => {}
        }
    }
    assert!(both_ok >= 200 && both_err >= 200, "both accept {both_ok}, both reject {both_err} of 2000");
}
