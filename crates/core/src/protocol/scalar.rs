//! The scalar values of an event's fields as they were written (no
//! allocation for plain strings) and the checks of one field each, with the
//! rule's own [`Invalid`] reason.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::decode::MAX_ID_CHARS;
use super::event::Kind;
use super::invalid::{Invalid, KindPrefix};
use super::time::{parse_rfc3339, Timestamp};

// ---------------------------------------------------------------------------
// One-pass JSON reading into flat, borrowed field values.

/// A JSON value as far as validation needs it: scalars kept, containers only named.
#[derive(Debug)]
pub(super) enum Scalar<'a> {
    Null,
    Bool(bool),
    U(u64),
    I(i64),
    F(f64),
    Str(Cow<'a, str>),
    Container(&'static str),
}
impl Scalar<'_> {
    pub(super) fn type_name(&self) -> &'static str {
        match self {
            Scalar::Null => "null",
            Scalar::Bool(_) => "a boolean",
            Scalar::U(_) | Scalar::I(_) => "an integer",
            Scalar::F(_) => "a number with a fraction or exponent",
            Scalar::Str(_) => "a string",
            Scalar::Container("object") => "an object",
            Scalar::Container(_) => "an array",
        }
    }
    pub(super) fn render(&self) -> String {
        match self {
            Scalar::Null => "null".into(),
            Scalar::Bool(b) => b.to_string(),
            Scalar::U(u) => u.to_string(),
            Scalar::I(i) => i.to_string(),
            Scalar::F(f) => f.to_string(),
            Scalar::Str(s) => format!("{s:?}"),
            Scalar::Container(k) => (*k).to_string(),
        }
    }
}
pub(super) struct ScalarVisitor;
impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Null)
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Scalar::Bool(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Scalar::U(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(if v >= 0 { Scalar::U(v as u64) } else { Scalar::I(v) })
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Scalar::F(v))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Owned(v)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
        while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::Container("object"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Self::Value, A::Error> {
        while s.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar::Container("array"))
    }
}
impl<'de> de::Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }
}
pub(super) fn present<'s, 'a>(slot: &'s Option<Scalar<'a>>) -> Option<&'s Scalar<'a>> {
    slot.as_ref().filter(|s| !matches!(s, Scalar::Null))
}
pub(super) fn req<'s, 'a>(
    slot: &'s Option<Scalar<'a>>,
    field: &'static str,
    kind: Option<Kind>,
) -> Result<&'s Scalar<'a>, Invalid> {
    present(slot).ok_or(Invalid::Missing { field, kind: KindPrefix(kind) })
}
pub(super) fn as_str<'s>(s: &'s Scalar<'_>, field: &'static str) -> Result<&'s str, Invalid> {
    match s {
        Scalar::Str(v) => Ok(v),
        other => Err(Invalid::WrongType { field, expected: "a string", found: other.type_name() }),
    }
}
pub(super) fn req_str<'s>(
    slot: &'s Option<Scalar<'_>>,
    field: &'static str,
    kind: Option<Kind>,
) -> Result<&'s str, Invalid> {
    as_str(req(slot, field, kind)?, field)
}
pub(super) fn id_str(slot: &Option<Scalar<'_>>, field: &'static str, kind: Kind) -> Result<Box<str>, Invalid> {
    let s = req_str(slot, field, Some(kind))?;
    check_id(s, field)
}
pub(super) fn check_id(s: &str, field: &'static str) -> Result<Box<str>, Invalid> {
    let n = s.chars().count();
    if n == 0 || n > MAX_ID_CHARS {
        return Err(Invalid::Length { field, len: n, min: 1, max: MAX_ID_CHARS });
    }
    nonempty(s, field)
}
/// A non-empty string without U+0000 (which no SQL text column can store).
pub(super) fn nonempty(s: &str, field: &'static str) -> Result<Box<str>, Invalid> {
    if s.is_empty() {
        return Err(Invalid::Empty(field));
    }
    if s.contains('\0') {
        return Err(Invalid::Nul(field));
    }
    Ok(s.into())
}
pub(super) fn int(s: &Scalar<'_>, field: &'static str) -> Result<i128, Invalid> {
    match s {
        Scalar::U(u) => Ok(*u as i128),
        Scalar::I(i) => Ok(*i as i128),
        other => Err(Invalid::WrongType { field, expected: "an integer", found: other.type_name() }),
    }
}
pub(super) fn floor(slot: &Option<Scalar<'_>>, field: &'static str) -> Result<i32, Invalid> {
    let v = int(req(slot, field, Some(Kind::Run))?, field)?;
    i32::try_from(v).map_err(|_| Invalid::Range {
        field,
        value: v.to_string(),
        range: "a floor number between -2147483648 and 2147483647",
    })
}
pub(super) fn time(
    slot: &Option<Scalar<'_>>,
    field: &'static str,
    kind: Option<Kind>,
) -> Result<(Timestamp, i32), Invalid> {
    let s = req_str(slot, field, kind)?;
    parse_rfc3339(s).map_err(|problem| Invalid::BadTime { field, value: s.to_owned(), problem })
}
pub(super) fn one_of<T: Copy>(
    slot: &Option<Scalar<'_>>,
    field: &'static str,
    kind: Kind,
    allowed: &'static [&'static str],
    parse: impl Fn(&str) -> Option<T>,
) -> Result<T, Invalid> {
    let s = req_str(slot, field, Some(kind))?;
    parse(s).ok_or_else(|| Invalid::NotAllowed { field, value: s.to_owned(), allowed })
}
