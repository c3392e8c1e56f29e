//! Decoding of protocol-v1 payloads: one pass over the JSON, no tree built,
//! strings borrowed from the payload; every rule of the protocol checked
//! with its own reason; one bad event in an array never rejects the others.
//!
//! Never panics on any input (see the proptest at the bottom and
//! `docs/protocol.md`).

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::device::{topic_device, DeviceCode};
use super::event::{Body, Event, Kind, Mode, Phase};
use super::fault_code::{Cause, FaultCode};
use super::invalid::Invalid;
use super::scalar::*;
use super::time::{Timestamp, MICROS_PER_MINUTE, MICROS_PER_SEC};

/// Largest payload accepted (256 KiB).
pub const MAX_PAYLOAD_BYTES: usize = 256 * 1024;
/// Most events in one array.
pub const MAX_EVENTS_PER_PAYLOAD: usize = 1000;
/// How far ahead of the platform clock a `ts` may be (5 minutes).
pub const MAX_FUTURE_MICROS: i64 = 5 * MICROS_PER_MINUTE;
/// Earliest `ts` accepted: 2010-01-01T00:00:00Z, in microseconds since the
/// Unix epoch. A fixed floor, not one relative to the platform clock, so a
/// backlog uploaded after a long outage and late events for past KPI windows
/// are never refused, and a replay decides the same way as the first pass.
/// No box speaking protocol v1 existed before 2010; earlier times come from a
/// clock that reset (1970-01-01, 1980-01-06, 2000-01-01 RTC defaults, year 0000).
pub const MIN_TS_MICROS: i64 = 1_262_304_000 * MICROS_PER_SEC;
/// [`MIN_TS_MICROS`] as RFC 3339, for messages.
pub const MIN_TS_RFC3339: &str = "2010-01-01T00:00:00Z";
/// Longest `fault_id` / `incident_id`.
pub const MAX_ID_CHARS: usize = 64;

/// A rejected payload or event, with what a dead-letter record needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejected {
    /// Position in the array; `None` for a single object or a payload-level problem.
    pub index: Option<usize>,
    /// The raw text of the rejected array element; `None` means the whole
    /// payload (the caller has it) is what was rejected.
    pub raw: Option<String>,
    /// Why.
    pub reason: Invalid,
}

/// The outcome of decoding one MQTT message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Decoded {
    /// Valid events, in payload order.
    pub events: Vec<Event>,
    /// Rejected parts, in payload order.
    pub rejects: Vec<Rejected>,
}

impl Decoded {
    fn whole(reason: Invalid) -> Decoded {
        Decoded { events: Vec::new(), rejects: vec![Rejected { index: None, raw: None, reason }] }
    }
}

/// Validates a topic and returns its device code.
pub fn parse_topic(topic: &str) -> Result<DeviceCode, Invalid> {
    let code = topic_device(topic).ok_or_else(|| Invalid::BadTopic(topic.to_owned()))?;
    DeviceCode::parse(code).map_err(|problem| Invalid::BadTopicDevice { code: code.to_owned(), problem })
}

/// Decodes one MQTT message received on `topic` at platform time `now`.
///
/// Payload-level problems (topic, size, UTF-8, JSON syntax, shape) reject the
/// whole message; event-level problems reject only that event.
pub fn decode_message(topic: &str, payload: &[u8], now: Timestamp) -> Decoded {
    match parse_topic(topic) {
        Ok(device) => decode_payload(&device, payload, now),
        Err(reason) => Decoded::whole(reason),
    }
}

/// Decodes a payload for a topic whose device code is already known.
pub fn decode_payload(topic_device: &DeviceCode, payload: &[u8], now: Timestamp) -> Decoded {
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Decoded::whole(Invalid::TooLarge(payload.len()));
    }
    let text = match std::str::from_utf8(payload) {
        Ok(t) => t,
        Err(e) => return Decoded::whole(Invalid::NotUtf8(e.valid_up_to())),
    };
    let ctx = Ctx { topic: topic_device, now };
    let mut de = serde_json::Deserializer::from_str(text);
    let top = ShapeVisitor { ctx: &ctx, element: false };
    let parsed = match top.deserialize(&mut de).and_then(|p| de.end().map(|_| p)) {
        Ok(ShapeOut::Payload(p)) => p,
        Ok(ShapeOut::Item(_)) => Parsed::Scalar("value"),
        Err(e) => return decode_elements_apart(topic_device, text, now, e),
    };
    match parsed {
        Parsed::Scalar(kind) => Decoded::whole(Invalid::NotObjectOrArray(kind)),
        Parsed::One(Ok(ev)) => Decoded { events: vec![ev], rejects: Vec::new() },
        Parsed::One(Err(reason)) => Decoded::whole(reason),
        Parsed::Many(items) => {
            if items.is_empty() {
                return Decoded::whole(Invalid::EmptyArray);
            }
            if items.len() > MAX_EVENTS_PER_PAYLOAD {
                return Decoded::whole(Invalid::TooManyEvents(items.len()));
            }
            let mut out = Decoded { events: Vec::with_capacity(items.len()), rejects: Vec::new() };
            for (i, res) in items.into_iter().enumerate() {
                match res {
                    Ok(ev) => out.events.push(ev),
                    Err(reason) => out.rejects.push(Rejected { index: Some(i), raw: None, reason }),
                }
            }
            if !out.rejects.is_empty() {
                // Rare path: a second pass to cut out the raw text of each
                // rejected element, so its dead letter can be replayed alone.
                if let Ok(elems) = serde_json::from_str::<Vec<&RawValue>>(text) {
                    for r in &mut out.rejects {
                        r.raw = r.index.and_then(|i| elems.get(i)).map(|v| v.get().to_owned());
                    }
                }
            }
            out
        }
    }
}

/// The one-pass read failed. If the payload is still a well-formed array
/// (the failure was a value serde_json cannot represent in a known field,
/// e.g. `1e400` or a lone surrogate `"\ud800"`), decode its elements one by
/// one so the bad one does not take its neighbours down with it.
fn decode_elements_apart(topic_device: &DeviceCode, text: &str, now: Timestamp, err: serde_json::Error) -> Decoded {
    let Ok(elems) = serde_json::from_str::<Vec<&RawValue>>(text) else {
        return Decoded::whole(Invalid::NotJson(err.to_string()));
    };
    if elems.is_empty() || elems.len() > MAX_EVENTS_PER_PAYLOAD {
        return Decoded::whole(Invalid::NotJson(err.to_string()));
    }
    let mut out = Decoded::default();
    for (i, el) in elems.iter().enumerate() {
        let raw = el.get();
        if !raw.starts_with('{') {
            // Arrays nested in arrays etc.: the normal path reports the kind.
            let kind = if raw.starts_with('[') { "array" } else { "value" };
            out.rejects.push(Rejected { index: Some(i), raw: Some(raw.to_owned()), reason: Invalid::NotObject(kind) });
            continue;
        }
        let one = decode_payload(topic_device, raw.as_bytes(), now);
        out.events.extend(one.events);
        out.rejects.extend(one.rejects.into_iter().map(|r| Rejected {
            index: Some(i),
            raw: Some(raw.to_owned()),
            reason: r.reason,
        }));
    }
    out
}

macro_rules! fields {
    ($($name:ident),* $(,)?) => {
        /// Names of the fields protocol v1 defines.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[allow(non_camel_case_types)]
        enum F { $($name,)* Ignored }

        impl F {
            fn parse(s: &str) -> F {
                match s { $(stringify!($name) => F::$name,)* _ => F::Ignored }
            }
            fn name(self) -> &'static str {
                match self { $(F::$name => stringify!($name),)* F::Ignored => "" }
            }
        }

        /// The known fields of one event object, as found.
        #[derive(Default, Debug)]
        #[allow(non_snake_case)]
        struct RawEvent<'a> {
            $($name: Option<Scalar<'a>>,)*
            duplicate: Option<&'static str>,
        }

        impl<'a> RawEvent<'a> {
            fn slot(&mut self, f: F) -> Option<&mut Option<Scalar<'a>>> {
                match f { $(F::$name => Some(&mut self.$name),)* F::Ignored => None }
            }
        }
    };
}

fields!(
    v,
    device,
    seq,
    ts,
    r#type,
    end,
    from,
    to,
    doors,
    fault_id,
    code,
    stops_service,
    cause,
    incident_id,
    visit_id,
    phase,
    mode,
    runs_total
);

struct Key(F);

impl<'de> de::Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KV;
        impl<'de> Visitor<'de> for KV {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E>(self, v: &str) -> Result<Key, E> {
                // `r#type` stringifies as "r#type".
                Ok(Key(if v == "type" {
                    F::r#type
                } else if v == "r#type" {
                    F::Ignored
                } else {
                    F::parse(v)
                }))
            }
        }
        d.deserialize_str(KV)
    }
}

fn read_event<'de, A: MapAccess<'de>>(mut m: A) -> Result<RawEvent<'de>, A::Error> {
    let mut ev = RawEvent::default();
    while let Some(Key(f)) = m.next_key::<Key>()? {
        match ev.slot(f) {
            Some(slot) => {
                let val: Scalar<'de> = m.next_value()?;
                let dup = slot.replace(val).is_some();
                if dup {
                    ev.duplicate.get_or_insert(field_name(f));
                }
            }
            None => {
                m.next_value::<IgnoredAny>()?;
            }
        }
    }
    Ok(ev)
}

fn field_name(f: F) -> &'static str {
    if f == F::r#type {
        "type"
    } else {
        f.name()
    }
}

/// Validates each array element as soon as it is read, so a 1000-event
/// array never holds more than one raw event at a time.
struct ItemSeed<'c, 't>(&'c Ctx<'t>);

impl<'de> DeserializeSeed<'de> for ItemSeed<'_, '_> {
    type Value = Result<Event, Invalid>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        match d.deserialize_any(ShapeVisitor { ctx: self.0, element: true })? {
            ShapeOut::Item(r) => Ok(r),
            ShapeOut::Payload(_) => Ok(Err(Invalid::NotObject("array"))),
        }
    }
}

enum Parsed {
    One(Result<Event, Invalid>),
    Many(Vec<Result<Event, Invalid>>),
    Scalar(&'static str),
}

/// Reads a payload (`element: false`) or one array element (`element: true`).
struct ShapeVisitor<'c, 't> {
    ctx: &'c Ctx<'t>,
    element: bool,
}

impl ShapeVisitor<'_, '_> {
    fn other<E>(&self, kind: &'static str) -> Result<ShapeOut, E> {
        Ok(if self.element {
            ShapeOut::Item(Err(Invalid::NotObject(kind)))
        } else {
            ShapeOut::Payload(Parsed::Scalar(kind))
        })
    }
}

enum ShapeOut {
    Payload(Parsed),
    Item(Result<Event, Invalid>),
}

impl<'de> Visitor<'de> for ShapeVisitor<'_, '_> {
    type Value = ShapeOut;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an event object or an array of event objects")
    }
    fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<Self::Value, A::Error> {
        let res = read_event(m).map(|raw| self.ctx.validate(raw))?;
        Ok(if self.element { ShapeOut::Item(res) } else { ShapeOut::Payload(Parsed::One(res)) })
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Self::Value, A::Error> {
        if self.element {
            while s.next_element::<IgnoredAny>()?.is_some() {}
            return self.other("array");
        }
        let mut items = Vec::with_capacity(s.size_hint().unwrap_or(16).min(MAX_EVENTS_PER_PAYLOAD));
        while let Some(it) = s.next_element_seed(ItemSeed(self.ctx))? {
            items.push(it);
        }
        Ok(ShapeOut::Payload(Parsed::Many(items)))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        self.other("boolean")
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        self.other("number")
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        self.other("number")
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        self.other("number")
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        self.other("string")
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        self.other("null")
    }
}

impl<'de> DeserializeSeed<'de> for ShapeVisitor<'_, '_> {
    type Value = ShapeOut;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

// ---------------------------------------------------------------------------
// Validation of one event's fields.

struct Ctx<'t> {
    topic: &'t DeviceCode,
    now: Timestamp,
}

impl Ctx<'_> {
    fn validate(&self, r: RawEvent<'_>) -> Result<Event, Invalid> {
        if let Some(f) = r.duplicate {
            return Err(Invalid::Duplicate(f));
        }
        // Envelope, in the order of the protocol's table.
        let v = req(&r.v, "v", None)?;
        match v {
            Scalar::U(1) => {}
            Scalar::U(_) | Scalar::I(_) => return Err(Invalid::Version(v.render())),
            other => {
                return Err(Invalid::WrongType { field: "v", expected: "the integer 1", found: other.type_name() })
            }
        }
        let dev = req_str(&r.device, "device", None)?;
        let device = DeviceCode::parse(dev).map_err(|problem| Invalid::BadDevice { code: dev.to_owned(), problem })?;
        if device != *self.topic {
            return Err(Invalid::DeviceMismatch { device: dev.to_owned(), topic: self.topic.to_string() });
        }
        let seq = match req(&r.seq, "seq", None)? {
            Scalar::U(u) if *u < (1u64 << 63) => *u,
            s @ (Scalar::U(_) | Scalar::I(_)) => return Err(Invalid::SeqRange(s.render())),
            Scalar::F(f) if f.fract() == 0.0 && f.abs() >= 9.0e18 => return Err(Invalid::SeqRange(format!("{f}"))),
            other => return Err(Invalid::WrongType { field: "seq", expected: "an integer", found: other.type_name() }),
        };
        let (ts, ts_offset) = time(&r.ts, "ts", None)?;
        if ts.0 > self.now.0.saturating_add(MAX_FUTURE_MICROS) {
            let raw = present(&r.ts).and_then(|s| as_str(s, "ts").ok()).unwrap_or_default();
            return Err(Invalid::Future { ts: raw.to_owned(), now: self.now.to_rfc3339() });
        }
        // `end` needs no check of its own: a run's `end` is refused when it is
        // before `ts` (end_before_start), so an accepted `end` is after the floor.
        if ts.0 < MIN_TS_MICROS {
            let raw = present(&r.ts).and_then(|s| as_str(s, "ts").ok()).unwrap_or_default();
            return Err(Invalid::TooOld { ts: raw.to_owned(), floor: MIN_TS_RFC3339 });
        }
        let ty = req_str(&r.r#type, "type", None)?;
        let kind = Kind::parse(ty).ok_or_else(|| Invalid::UnknownType(ty.to_owned()))?;
        let k = Some(kind);
        let body = match kind {
            Kind::Run => {
                let (end, _) = time(&r.end, "end", k)?;
                if end < ts {
                    return Err(Invalid::EndBeforeStart {
                        ts: req_str(&r.ts, "ts", None)?.to_owned(),
                        end: req_str(&r.end, "end", k)?.to_owned(),
                    });
                }
                let from = floor(&r.from, "from")?;
                let to = floor(&r.to, "to")?;
                let doors = match present(&r.doors) {
                    None => None,
                    Some(s) => {
                        let d = int(s, "doors")?;
                        Some(u32::try_from(d).map_err(|_| Invalid::Range {
                            field: "doors",
                            value: d.to_string(),
                            range: "0 to 4294967295 door cycles",
                        })?)
                    }
                };
                Body::Run { end, from, to, doors }
            }
            Kind::Fault => {
                let fault_id = id_str(&r.fault_id, "fault_id", kind)?;
                let code_s = req_str(&r.code, "code", k)?;
                let code = FaultCode::parse(&nonempty(code_s, "code")?);
                let stops_service = match req(&r.stops_service, "stops_service", k)? {
                    Scalar::Bool(b) => *b,
                    other => {
                        return Err(Invalid::WrongType {
                            field: "stops_service",
                            expected: "a boolean",
                            found: other.type_name(),
                        })
                    }
                };
                let cause = match present(&r.cause) {
                    None => None,
                    Some(s) => {
                        let c = as_str(s, "cause")?;
                        Some(Cause::parse(c).ok_or_else(|| Invalid::NotAllowed {
                            field: "cause",
                            value: c.to_owned(),
                            allowed: Cause::NAMES,
                        })?)
                    }
                };
                Body::Fault { fault_id, code, stops_service, cause }
            }
            Kind::FaultCleared => Body::FaultCleared { fault_id: id_str(&r.fault_id, "fault_id", kind)? },
            Kind::Entrapment => {
                let incident_id = id_str(&r.incident_id, "incident_id", kind)?;
                let fault_id = match present(&r.fault_id) {
                    None => None,
                    Some(s) => Some(check_id(as_str(s, "fault_id")?, "fault_id")?),
                };
                Body::Entrapment { incident_id, fault_id }
            }
            Kind::RescueArrived => Body::RescueArrived { incident_id: id_str(&r.incident_id, "incident_id", kind)? },
            Kind::Released => Body::Released { incident_id: id_str(&r.incident_id, "incident_id", kind)? },
            Kind::Maintenance => {
                let visit_id = nonempty(req_str(&r.visit_id, "visit_id", k)?, "visit_id")?;
                let phase = one_of(&r.phase, "phase", kind, Phase::NAMES, |s| match s {
                    "start" => Some(Phase::Start),
                    "end" => Some(Phase::End),
                    _ => None,
                })?;
                Body::Maintenance { visit_id, phase }
            }
            Kind::Heartbeat => Body::Heartbeat { mode: one_of(&r.mode, "mode", kind, Mode::NAMES, Mode::parse)? },
            Kind::Counter => {
                let n = int(req(&r.runs_total, "runs_total", k)?, "runs_total")?;
                let runs_total = u64::try_from(n).ok().filter(|n| *n < (1u64 << 63)).ok_or_else(|| Invalid::Range {
                    field: "runs_total",
                    value: n.to_string(),
                    range: "0 ≤ runs_total < 2^63",
                })?;
                Body::Counter { runs_total }
            }
        };
        Ok(Event { device, seq, ts, ts_offset, body })
    }
}
