//! One test per rule of protocol v1 (`docs/protocol.md` lists them).

use super::*;

const DEV: &str = "31103302002018120001";
const TOPIC: &str = "lift/v1/31103302002018120001/events";

fn now() -> Timestamp {
    parse_rfc3339("2026-11-28T12:00:00+08:00").unwrap().0
}

fn decode(payload: &str) -> Decoded {
    decode_message(TOPIC, payload.as_bytes(), now())
}

fn run_json(seq: u64) -> String {
    format!(
        r#"{{"v":1,"device":"{DEV}","seq":{seq},"ts":"2026-11-28T08:00:01.120+08:00","type":"run","end":"2026-11-28T08:00:31.450+08:00","from":1,"to":12,"doors":1}}"#
    )
}

/// Replaces/removes one field of a valid run event and returns the single reject.
fn reject_of(payload: &str) -> Invalid {
    let d = decode(payload);
    assert!(d.events.is_empty(), "expected a reject for {payload}, got {:?}", d.events);
    assert_eq!(d.rejects.len(), 1, "{payload}");
    d.rejects[0].reason.clone()
}

fn with(field: &str, value: &str) -> String {
    let mut v: serde_json::Value = serde_json::from_str(&run_json(1)).unwrap();
    let obj = v.as_object_mut().unwrap();
    if value.is_empty() {
        obj.remove(field);
    } else {
        obj.insert(field.into(), serde_json::from_str(value).unwrap());
    }
    v.to_string()
}

fn ev(json: &str) -> String {
    format!(r#"{{"v":1,"device":"{DEV}","seq":7,"ts":"2026-11-28T08:03:10+08:00",{json}}}"#)
}

#[test]
fn protocol_example_run_decodes() {
    let d = decode(&run_json(1001));
    assert!(d.rejects.is_empty(), "{:?}", d.rejects);
    let e = &d.events[0];
    assert_eq!(e.device.as_str(), DEV);
    assert_eq!(e.seq, 1001);
    assert_eq!(e.ts, parse_rfc3339("2026-11-28T00:00:01.120Z").unwrap().0);
    assert_eq!(e.ts_offset, 8 * 3600);
    assert_eq!(
        e.body,
        Body::Run { end: parse_rfc3339("2026-11-28T08:00:31.450+08:00").unwrap().0, from: 1, to: 12, doors: Some(1) }
    );
}

#[test]
fn protocol_example_array_decodes() {
    let p = format!(
        r#"[{{"v":1,"device":"{DEV}","seq":1002,"ts":"2026-11-28T08:03:10+08:00","type":"fault","fault_id":"f-77","code":"door_open_fault","stops_service":true}},
           {{"v":1,"device":"{DEV}","seq":1003,"ts":"2026-11-28T08:03:12+08:00","type":"entrapment","incident_id":"e-12","fault_id":"f-77"}}]"#
    );
    let d = decode(&p);
    assert!(d.rejects.is_empty());
    assert_eq!(d.events.len(), 2);
    assert_eq!(
        d.events[0].body,
        Body::Fault {
            fault_id: "f-77".into(),
            code: FaultCode::parse("door_open_fault"),
            stops_service: true,
            cause: None
        }
    );
    assert_eq!(d.events[1].body, Body::Entrapment { incident_id: "e-12".into(), fault_id: Some("f-77".into()) });
}

#[test]
fn every_type_decodes() {
    let cases = [
        (r#""type":"fault_cleared","fault_id":"f-1""#, Kind::FaultCleared),
        (r#""type":"rescue_arrived","incident_id":"e-1""#, Kind::RescueArrived),
        (r#""type":"released","incident_id":"e-1""#, Kind::Released),
        (r#""type":"maintenance","visit_id":"v-1","phase":"start""#, Kind::Maintenance),
        (r#""type":"maintenance","visit_id":"v-1","phase":"end""#, Kind::Maintenance),
        (r#""type":"heartbeat","mode":"out_of_service""#, Kind::Heartbeat),
        (r#""type":"counter","runs_total":123456"#, Kind::Counter),
        (r#""type":"entrapment","incident_id":"e-1""#, Kind::Entrapment),
        (r#""type":"fault","fault_id":"f","code":"41","stops_service":false,"cause":"external""#, Kind::Fault),
    ];
    for (json, kind) in cases {
        let d = decode(&ev(json));
        assert!(d.rejects.is_empty(), "{json}: {:?}", d.rejects);
        assert_eq!(d.events[0].body.kind(), kind);
    }
}

#[test]
fn unknown_extra_fields_are_ignored() {
    let d = decode(&with("firmware", r#"{"nested":[1,2,{"x":null}]}"#));
    assert_eq!(d.events.len(), 1);
    let d = decode(&ev(r#""type":"heartbeat","mode":"normal","battery":0.93,"v2_field":"x""#));
    assert_eq!(d.events.len(), 1);
}

#[test]
fn version_must_be_1() {
    assert_eq!(reject_of(&with("v", "2")), Invalid::Version("2".into()));
    assert_eq!(reject_of(&with("v", "\"1\"")).code(), "wrong_type");
    assert_eq!(reject_of(&with("v", "1.0")).code(), "wrong_type");
    assert_eq!(reject_of(&with("v", "")).code(), "missing_field");
}

#[test]
fn device_must_be_valid_and_match_the_topic() {
    assert!(matches!(
        reject_of(&with("device", "\"3110330200201812\"")),
        Invalid::BadDevice { problem: DeviceCodeError::Length(16), .. }
    ));
    assert!(matches!(
        reject_of(&with("device", "\"3110330200201812000a\"")),
        Invalid::BadDevice { problem: DeviceCodeError::Character('a'), .. }
    ));
    let r = reject_of(&with("device", "\"31103302002018120002\""));
    assert_eq!(r, Invalid::DeviceMismatch { device: "31103302002018120002".into(), topic: DEV.into() });
    assert_eq!(
        r.to_string(),
        "device \"31103302002018120002\" differs from the topic's device code \"31103302002018120001\""
    );
    assert_eq!(reject_of(&with("device", "12345678901234567")).code(), "wrong_type");
}

#[test]
fn topic_must_have_the_protocol_shape() {
    let d = decode_message("lift/v1/31103302002018120001/status", run_json(1).as_bytes(), now());
    assert_eq!(d.rejects[0].reason.code(), "bad_topic");
    let d = decode_message("lift/v1/abc/events", run_json(1).as_bytes(), now());
    assert!(matches!(d.rejects[0].reason, Invalid::BadTopicDevice { .. }));
}

#[test]
fn seq_range() {
    assert_eq!(decode(&with("seq", "0")).events.len(), 1);
    assert_eq!(decode(&with("seq", "9223372036854775807")).events[0].seq, (1u64 << 63) - 1);
    assert_eq!(reject_of(&with("seq", "9223372036854775808")), Invalid::SeqRange("9223372036854775808".into()));
    assert_eq!(reject_of(&with("seq", "-1")), Invalid::SeqRange("-1".into()));
    assert_eq!(reject_of(&with("seq", "1e30")).code(), "seq_out_of_range");
    assert_eq!(reject_of(&with("seq", "1.5")).code(), "wrong_type");
    assert_eq!(reject_of(&with("seq", "\"5\"")).code(), "wrong_type");
}

#[test]
fn ts_must_be_rfc3339_with_offset() {
    assert!(matches!(
        reject_of(&with("ts", "\"2026-11-28T08:00:01.120\"")),
        Invalid::BadTime { field: "ts", problem: TimeError::NoOffset, .. }
    ));
    assert!(matches!(
        reject_of(&with("ts", "\"2026-11-28 garbage\"")),
        Invalid::BadTime { problem: TimeError::Shape, .. }
    ));
    assert_eq!(reject_of(&with("ts", "1764288001")).code(), "wrong_type");
    // Seconds precision (as in the protocol's own example) is accepted.
    assert_eq!(decode(&ev(r#""type":"heartbeat","mode":"normal""#)).events.len(), 1);
}

#[test]
fn ts_more_than_5_minutes_ahead_is_rejected() {
    // now = 04:00Z; 04:05Z is at the limit, 04:05:00.001Z is past it.
    let at_limit =
        with("ts", "\"2026-11-28T04:05:00Z\"").replace("2026-11-28T08:00:31.450+08:00", "2026-11-28T04:06:00Z");
    assert_eq!(decode(&at_limit).events.len(), 1);
    let past =
        with("ts", "\"2026-11-28T04:05:00.001Z\"").replace("2026-11-28T08:00:31.450+08:00", "2026-11-28T04:06:00Z");
    let r = reject_of(&past);
    assert_eq!(r.code(), "ts_in_future");
    assert_eq!(
        r.to_string(),
        "ts is 2026-11-28T04:05:00.001Z, more than 5 minutes ahead of the platform clock (2026-11-28T04:00:00.000000Z)"
    );
}

#[test]
fn ts_before_the_2010_floor_is_rejected() {
    // Exactly the floor is accepted, also written with an offset.
    let at_floor =
        with("ts", "\"2010-01-01T00:00:00Z\"").replace("2026-11-28T08:00:31.450+08:00", "2010-01-01T00:01:00Z");
    assert_eq!(decode(&at_floor).events.len(), 1);
    let at_floor_offset =
        with("ts", "\"2010-01-01T08:00:00+08:00\"").replace("2026-11-28T08:00:31.450+08:00", "2010-01-01T00:01:00Z");
    assert_eq!(decode(&at_floor_offset).events.len(), 1);
    // One microsecond before it is rejected.
    let r = reject_of(&with("ts", "\"2009-12-31T23:59:59.999999Z\""));
    assert_eq!(r.code(), "ts_too_old");
    assert_eq!(
        r.to_string(),
        "ts is 2009-12-31T23:59:59.999999Z, before 2010-01-01T00:00:00Z, the earliest time protocol v1 accepts"
    );
    assert_eq!(reject_of(&with("ts", "\"2010-01-01T07:59:59.999999+08:00\"")).code(), "ts_too_old");
    // Reset clocks: Unix epoch, RTC default, year 0000.
    for ts in ["1970-01-01T00:00:00Z", "2000-01-01T00:00:00Z", "0000-01-01T00:00:00Z"] {
        assert_eq!(reject_of(&with("ts", &format!("\"{ts}\""))).code(), "ts_too_old", "{ts}");
    }
}

#[test]
fn late_events_are_accepted() {
    let old = with("ts", "\"2026-05-01T08:00:00+08:00\"")
        .replace("2026-11-28T08:00:31.450+08:00", "2026-05-01T08:00:30+08:00");
    assert_eq!(decode(&old).events.len(), 1);
}

#[test]
fn type_must_be_known() {
    assert_eq!(reject_of(&with("type", "\"teleport\"")).code(), "unknown_type");
    assert_eq!(reject_of(&with("type", "")).code(), "missing_field");
}

#[test]
fn run_fields() {
    assert!(matches!(reject_of(&with("end", "")), Invalid::Missing { field: "end", .. }));
    assert_eq!(reject_of(&with("end", "\"2026-11-28T08:00:00+08:00\"")).code(), "end_before_start");
    assert!(matches!(reject_of(&with("from", "")), Invalid::Missing { field: "from", .. }));
    assert_eq!(reject_of(&with("to", "\"12\"")).code(), "wrong_type");
    assert_eq!(reject_of(&with("to", "3000000000")).code(), "out_of_range");
    assert_eq!(decode(&with("from", "-2")).events.len(), 1, "basements are negative floors");
    assert_eq!(decode(&with("doors", "")).events.len(), 1, "doors is optional");
    assert_eq!(decode(&with("doors", "null")).events.len(), 1, "null means absent");
    assert_eq!(reject_of(&with("doors", "-1")).code(), "out_of_range");
    let m = reject_of(&with("from", "")).to_string();
    assert_eq!(m, "run event: field `from` is missing");
}

#[test]
fn fault_fields() {
    assert!(matches!(
        reject_of(&ev(r#""type":"fault","code":"02","stops_service":true"#)),
        Invalid::Missing { field: "fault_id", .. }
    ));
    assert!(matches!(
        reject_of(&ev(r#""type":"fault","fault_id":"f","stops_service":true"#)),
        Invalid::Missing { field: "code", .. }
    ));
    assert!(matches!(
        reject_of(&ev(r#""type":"fault","fault_id":"f","code":"02""#)),
        Invalid::Missing { field: "stops_service", .. }
    ));
    assert_eq!(
        reject_of(&ev(r#""type":"fault","fault_id":"f","code":"02","stops_service":"yes""#)).code(),
        "wrong_type"
    );
    assert_eq!(reject_of(&ev(r#""type":"fault","fault_id":"f","code":2,"stops_service":true"#)).code(), "wrong_type");
    assert_eq!(
        reject_of(&ev(r#""type":"fault","fault_id":"f","code":"02","stops_service":true,"cause":"aliens""#)).code(),
        "bad_value"
    );
    assert_eq!(reject_of(&ev(r#""type":"fault","fault_id":"","code":"02","stops_service":true"#)).code(), "bad_length");
    let long = "x".repeat(65);
    assert_eq!(
        reject_of(&ev(&format!(r#""type":"fault","fault_id":"{long}","code":"02","stops_service":true"#))).code(),
        "bad_length"
    );
    let ok64 = "好".repeat(64);
    assert_eq!(
        decode(&ev(&format!(r#""type":"fault","fault_id":"{ok64}","code":"02","stops_service":true"#))).events.len(),
        1,
        "64 characters, not bytes"
    );
    // Numeric GB/T code and an unknown code are both accepted.
    let d = decode(&ev(r#""type":"fault","fault_id":"f","code":"02","stops_service":true"#));
    assert!(matches!(&d.events[0].body, Body::Fault { code, .. } if code.as_str() == "door_close_fault"));
    let d = decode(&ev(r#""type":"fault","fault_id":"f","code":"E77","stops_service":false"#));
    assert!(
        matches!(&d.events[0].body, Body::Fault { code, cause: None, .. } if code.grade() == 3 && code.default_cause() == Cause::Unknown)
    );
}

#[test]
fn incident_and_visit_fields() {
    assert!(matches!(reject_of(&ev(r#""type":"fault_cleared""#)), Invalid::Missing { field: "fault_id", .. }));
    assert!(matches!(reject_of(&ev(r#""type":"entrapment""#)), Invalid::Missing { field: "incident_id", .. }));
    assert_eq!(reject_of(&ev(r#""type":"entrapment","incident_id":"e","fault_id":5"#)).code(), "wrong_type");
    assert!(matches!(reject_of(&ev(r#""type":"rescue_arrived""#)), Invalid::Missing { field: "incident_id", .. }));
    assert!(matches!(reject_of(&ev(r#""type":"released""#)), Invalid::Missing { field: "incident_id", .. }));
    assert!(matches!(
        reject_of(&ev(r#""type":"maintenance","phase":"start""#)),
        Invalid::Missing { field: "visit_id", .. }
    ));
    assert_eq!(reject_of(&ev(r#""type":"maintenance","visit_id":"v","phase":"middle""#)).code(), "bad_value");
    assert_eq!(reject_of(&ev(r#""type":"heartbeat","mode":"dancing""#)).code(), "bad_value");
    assert!(matches!(reject_of(&ev(r#""type":"heartbeat""#)), Invalid::Missing { field: "mode", .. }));
    assert_eq!(reject_of(&ev(r#""type":"counter","runs_total":-5"#)).code(), "out_of_range");
    assert_eq!(reject_of(&ev(r#""type":"counter","runs_total":"5""#)).code(), "wrong_type");
}

#[test]
fn duplicate_fields_are_rejected() {
    let p = run_json(1).replace(r#""seq":1,"#, r#""seq":1,"seq":2,"#);
    assert_eq!(reject_of(&p), Invalid::Duplicate("seq"));
}

#[test]
fn payload_level_rules() {
    assert_eq!(reject_of("{not json").code(), "not_json");
    assert_eq!(reject_of("42").code(), "not_object");
    assert_eq!(reject_of("\"run\"").code(), "not_object");
    assert_eq!(reject_of("[]"), Invalid::EmptyArray);
    let many = format!("[{}]", vec![run_json(1); 1001].join(","));
    assert_eq!(reject_of(&many), Invalid::TooManyEvents(1001));
    let d = decode_message(TOPIC, &[0xff, 0xfe], now());
    assert_eq!(d.rejects[0].reason, Invalid::NotUtf8(0));
    let big = vec![b' '; MAX_PAYLOAD_BYTES + 1];
    assert_eq!(decode_message(TOPIC, &big, now()).rejects[0].reason, Invalid::TooLarge(MAX_PAYLOAD_BYTES + 1));
    assert_eq!(reject_of(&format!("{} {}", run_json(1), run_json(2))).code(), "not_json", "trailing data");
    // 1000 events is allowed.
    let max = format!("[{}]", (0..1000).map(run_json).collect::<Vec<_>>().join(","));
    assert_eq!(decode(&max).events.len(), 1000);
}

#[test]
fn one_bad_event_in_an_array_does_not_reject_the_others() {
    let bad = with("to", "\"x\"");
    let p = format!("[{}, {bad}, 17, {}]", run_json(1), run_json(3));
    let d = decode(&p);
    assert_eq!(d.events.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 3]);
    assert_eq!(d.rejects.len(), 2);
    assert_eq!(d.rejects[0].index, Some(1));
    assert_eq!(d.rejects[0].raw.as_deref(), Some(bad.as_str()), "the raw element is kept for the dead letter");
    assert_eq!(d.rejects[1].index, Some(2));
    assert_eq!(d.rejects[1].reason, Invalid::NotObject("number"));
    assert_eq!(d.rejects[1].raw.as_deref(), Some("17"));
}

#[test]
fn escaped_strings_decode() {
    let d = decode(&ev(r#""type":"fault","fault_id":"f\u002d1","code":"door_\u006fpen_fault","stops_service":true"#));
    assert!(
        matches!(&d.events[0].body, Body::Fault { fault_id, code, .. } if &**fault_id == "f-1" && code.as_str() == "door_open_fault")
    );
}

#[test]
fn encode_then_decode_is_identity() {
    let p = format!(
        "[{},{},{},{}]",
        run_json(5),
        ev(r#""type":"fault","fault_id":"f","code":"41","stops_service":false,"cause":"external""#),
        ev(r#""type":"maintenance","visit_id":"v","phase":"end""#),
        ev(r#""type":"counter","runs_total":99"#)
    );
    let d = decode(&p);
    assert_eq!(d.events.len(), 4);
    let again = decode(&to_array_payload(&d.events));
    assert_eq!(again.events, d.events);
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Decoding never panics, whatever the bytes.
        #[test]
        fn never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode_message(TOPIC, &bytes, now());
        }

        /// Nor on JSON-looking text built from protocol fragments.
        #[test]
        fn never_panics_on_json_like(parts in proptest::collection::vec(prop_oneof![
            Just("{".to_string()), Just("}".to_string()), Just("[".to_string()), Just("]".to_string()),
            Just(",".to_string()), Just(":".to_string()), Just("\"v\"".to_string()), Just("1".to_string()),
            Just("\"type\"".to_string()), Just("\"run\"".to_string()), Just("\"ts\"".to_string()),
            Just("\"2026-11-28T08:00:01Z\"".to_string()), Just(format!("\"{DEV}\"")), Just("\"device\"".to_string()),
            Just("null".to_string()), Just("-1e999".to_string()), Just("\"\\ud800\"".to_string()),
            "[ -~]{0,8}".prop_map(|s| s),
        ], 0..40)) {
            let text = parts.concat();
            let _ = decode_message(TOPIC, text.as_bytes(), now());
        }

        /// Mutating one byte of a valid array never panics, and every element
        /// is accounted for: events + rejects = elements (when still an array).
        #[test]
        fn mutated_arrays_account_for_every_element(pos in 0usize..2000, byte in any::<u8>()) {
            let mut p = format!("[{},{},{}]", run_json(1), run_json(2), run_json(3)).into_bytes();
            let i = pos % p.len();
            p[i] = byte;
            let d = decode_message(TOPIC, &p, now());
            let total = d.events.len() + d.rejects.len();
            prop_assert!(total >= 1);
            if d.rejects.iter().all(|r| r.index.is_some()) {
                prop_assert_eq!(total, 3);
            }
        }
    }
}

#[test]
fn unrepresentable_values_reject_only_their_element() {
    let bad = with("seq", "1").replace(r#""seq":1"#, r#""seq":1e400"#);
    let bad2 = ev(r#""type":"fault_cleared","fault_id":"\ud800""#);
    let p = format!("[{}, {bad}, {bad2}, {}]", run_json(1), run_json(3));
    let d = decode(&p);
    assert_eq!(d.events.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 3]);
    assert_eq!(d.rejects.iter().map(|r| r.index).collect::<Vec<_>>(), vec![Some(1), Some(2)]);
    assert_eq!(d.rejects[0].reason.code(), "not_json");
    assert_eq!(d.rejects[0].raw.as_deref(), Some(bad.as_str()));
}

#[test]
fn strings_that_cannot_be_stored_are_rejected() {
    assert_eq!(reject_of(&ev(r#""type":"fault_cleared","fault_id":"a\u0000b""#)), Invalid::Nul("fault_id"));
    assert_eq!(
        reject_of(&ev(r#""type":"fault","fault_id":"f","code":"","stops_service":true"#)),
        Invalid::Empty("code")
    );
}

#[test]
fn visit_ids_and_codes_have_no_upper_length_limit() {
    let long = "v".repeat(200);
    assert_eq!(decode(&ev(&format!(r#""type":"maintenance","visit_id":"{long}","phase":"start""#))).events.len(), 1);
    assert_eq!(
        decode(&ev(&format!(r#""type":"fault","fault_id":"f","code":"{long}","stops_service":true"#))).events.len(),
        1
    );
}

#[test]
fn wrong_type_messages_read_well() {
    assert_eq!(reject_of(&with("to", "[1]")).to_string(), "field `to` is an array; it must be an integer");
}
