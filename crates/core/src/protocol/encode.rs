//! Encoding events as protocol-v1 JSON: what simulators and tests publish,
//! and what dead-letter replays re-read. `decode(encode(e)) == e`.

use serde_json::{json, Map, Value};

use super::event::{Body, Event, Phase};
use super::time::Timestamp;

fn ts(t: Timestamp, off: i32) -> Value {
    Value::String(t.to_rfc3339_at(off))
}

/// The event as a protocol-v1 JSON object.
pub fn to_value(e: &Event) -> Value {
    let mut m = Map::new();
    m.insert("v".into(), json!(1));
    m.insert("device".into(), json!(e.device.as_str()));
    m.insert("seq".into(), json!(e.seq));
    m.insert("ts".into(), ts(e.ts, e.ts_offset));
    m.insert("type".into(), json!(e.type_name()));
    match &e.body {
        Body::Run { end, from, to, doors } => {
            m.insert("end".into(), ts(*end, e.ts_offset));
            m.insert("from".into(), json!(from));
            m.insert("to".into(), json!(to));
            if let Some(d) = doors {
                m.insert("doors".into(), json!(d));
            }
        }
        Body::Fault { fault_id, code, stops_service, cause } => {
            m.insert("fault_id".into(), json!(fault_id));
            m.insert("code".into(), json!(code.as_str()));
            m.insert("stops_service".into(), json!(stops_service));
            if let Some(c) = cause {
                m.insert("cause".into(), json!(c.as_str()));
            }
        }
        Body::FaultCleared { fault_id } => {
            m.insert("fault_id".into(), json!(fault_id));
        }
        Body::Entrapment { incident_id, fault_id } => {
            m.insert("incident_id".into(), json!(incident_id));
            if let Some(f) = fault_id {
                m.insert("fault_id".into(), json!(f));
            }
        }
        Body::RescueArrived { incident_id } | Body::Released { incident_id } => {
            m.insert("incident_id".into(), json!(incident_id));
        }
        Body::Maintenance { visit_id, phase } => {
            m.insert("visit_id".into(), json!(visit_id));
            m.insert("phase".into(), json!(if *phase == Phase::Start { "start" } else { "end" }));
        }
        Body::Heartbeat { mode } => {
            m.insert("mode".into(), serde_json::to_value(mode).unwrap_or(Value::Null));
        }
        Body::Counter { runs_total } => {
            m.insert("runs_total".into(), json!(runs_total));
        }
    }
    Value::Object(m)
}

/// One event as a payload.
pub fn to_payload(e: &Event) -> String {
    to_value(e).to_string()
}

/// Several events as an array payload.
pub fn to_array_payload<'a>(events: impl IntoIterator<Item = &'a Event>) -> String {
    Value::Array(events.into_iter().map(to_value).collect()).to_string()
}
