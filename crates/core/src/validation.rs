//! Validation of what people send: typed errors that name the field, the
//! value and the rule, collected so a caller can report every problem at once.
//!
//! The HTTP API answers 400 with [`ValidationErrors`]' text; the store runs
//! the same checks again before writing (it is called by other adapters too)
//! and refuses with a permanent error. Both use these functions, so the rules
//! and their wording exist once.

use std::fmt;

use crate::protocol::MAX_ID_CHARS;

/// Longest free text kept (summaries, reasons, names), in characters.
pub const MAX_TEXT_CHARS: usize = 4000;
/// Longest technician name or staff number, in characters.
pub const MAX_TECHNICIAN_CHARS: usize = 100;
/// Longest finding id cited by a rectification order, in characters.
pub const MAX_FINDING_ID_CHARS: usize = 200;
/// Longest resource id (firm, project), in bytes (ids are ASCII).
pub const MAX_RESOURCE_ID_CHARS: usize = 64;

/// One problem with one field: what was wrong and, where it helps, what to do.
///
/// Displayed as ``field `x`: problem``, so a message names the field even
/// when several are joined.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("field `{field}`: {problem}")]
pub struct ValidationError {
    /// The field, as spelled on the wire (`summary`, `elevators[2].device_code`).
    pub field: String,
    /// What is wrong with it, with the value and the rule.
    pub problem: String,
}

impl ValidationError {
    /// A problem with `field`.
    pub fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        ValidationError { field: field.into(), problem: problem.into() }
    }

    /// The same problem for a field nested under `parent`
    /// (`commitment` + `rescue_minutes` → `commitment.rescue_minutes`;
    /// `elevators[2]` + `device_code` → `elevators[2].device_code`).
    pub fn within(mut self, parent: &str) -> Self {
        self.field = format!("{parent}.{}", self.field);
        self
    }
}

/// Every problem found in one request, in the order the fields were checked.
///
/// `validate()` methods return it so that a client fixes everything in one
/// round trip; its text joins the problems with `"; "`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ValidationErrors(pub Vec<ValidationError>);

impl ValidationErrors {
    /// No problem yet.
    pub fn new() -> Self {
        ValidationErrors(Vec::new())
    }

    /// Adds one problem.
    pub fn push(&mut self, e: ValidationError) {
        self.0.push(e);
    }

    /// Adds the problem of a check, if it failed.
    pub fn check(&mut self, r: Result<(), ValidationError>) {
        if let Err(e) = r {
            self.0.push(e);
        }
    }

    /// Adds every problem of a nested value, with its fields under `parent`.
    pub fn nested(&mut self, parent: &str, r: Result<(), ValidationErrors>) {
        if let Err(es) = r {
            self.0.extend(es.0.into_iter().map(|e| e.within(parent)));
        }
    }

    /// True when nothing was found.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The problems, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &ValidationError> {
        self.0.iter()
    }

    /// `Ok` when nothing was found, else every problem.
    pub fn into_result(self) -> Result<(), ValidationErrors> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self)
        }
    }
}

impl From<ValidationError> for ValidationErrors {
    fn from(e: ValidationError) -> Self {
        ValidationErrors(vec![e])
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

/// A value that is not one of a closed set's wire spellings (the `FromStr`
/// error of every domain enum): names the field, the value and the choices.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{what} {value:?} must be one of {}", allowed.join(", "))]
pub struct UnknownValue {
    /// The field or concept (`grade`, `mode`, `kind`).
    pub what: &'static str,
    /// The value received.
    pub value: String,
    /// The accepted spellings.
    pub allowed: &'static [&'static str],
}

impl From<UnknownValue> for ValidationError {
    fn from(u: UnknownValue) -> Self {
        ValidationError::new(u.what, format!("{:?} must be one of {}", u.value, u.allowed.join(", ")))
    }
}

/// Checks a free-text field: at most `max` characters, no U+0000 (PostgreSQL
/// cannot store it), and not blank when `required`.
pub fn check_text(field: &str, s: &str, max: usize, required: bool) -> Result<(), ValidationError> {
    if required && s.trim().is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    let n = s.chars().count();
    if n > max {
        return Err(ValidationError::new(field, format!("has {n} characters; at most {max} are kept")));
    }
    if s.contains('\0') {
        return Err(ValidationError::new(field, "contains the character U+0000, which cannot be stored"));
    }
    Ok(())
}

/// Checks an incident id (`fault_id`, `incident_id`) as the protocol does:
/// 1–64 characters, no U+0000 — so that the API can name every incident a box can.
pub fn check_incident_id(field: &str, s: &str) -> Result<(), ValidationError> {
    let n = s.chars().count();
    if n == 0 || n > MAX_ID_CHARS || s.contains('\0') {
        return Err(ValidationError::new(
            field,
            format!("{s:?} must be 1 to {MAX_ID_CHARS} characters (without U+0000), as in the protocol"),
        ));
    }
    Ok(())
}

/// Checks a resource id (firm, project): 1–64 of `a-z A-Z 0-9 _ - .`, so it
/// is safe in a URL path, a file name and a log line without escaping.
pub fn check_resource_id(field: &str, id: &str) -> Result<(), ValidationError> {
    if id.is_empty()
        || id.len() > MAX_RESOURCE_ID_CHARS
        || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
    {
        return Err(ValidationError::new(
            field,
            format!("{id:?} must be 1 to {MAX_RESOURCE_ID_CHARS} characters of letters, digits, '_', '-' or '.'"),
        ));
    }
    Ok(())
}

/// Defines a closed set of wire strings as an enum with `ALL`, `NAMES`,
/// `as_str`, `Display`, `FromStr` (error [`UnknownValue`]) and serde that
/// reads and writes exactly the wire strings (so JSON stays byte-identical
/// to the strings it replaces, and a bad value is refused with the list of
/// accepted ones).
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident as $what:literal {
            $( $(#[$vmeta:meta])* $variant:ident = $wire:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every value, in the order of [`Self::NAMES`].
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The wire spellings.
            pub const NAMES: &'static [&'static str] = &[$($wire),+];

            /// The wire spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire,)+
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::validation::UnknownValue;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($wire => Ok($name::$variant),)+
                    _ => Err($crate::validation::UnknownValue { what: $what, value: s.to_owned(), allowed: Self::NAMES }),
                }
            }
        }

        /// The OpenAPI schema: a string, one of [`Self::NAMES`].
        #[cfg(feature = "schema")]
        impl ::utoipa::PartialSchema for $name {
            fn schema() -> ::utoipa::openapi::RefOr<::utoipa::openapi::schema::Schema> {
                ::utoipa::openapi::RefOr::T(::utoipa::openapi::schema::Schema::Object(
                    ::utoipa::openapi::ObjectBuilder::new()
                        .schema_type(::utoipa::openapi::schema::Type::String)
                        .enum_values(Some(Self::NAMES.iter().copied()))
                        .build(),
                ))
            }
        }

        #[cfg(feature = "schema")]
        impl ::utoipa::ToSchema for $name {}

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <::std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(::serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use wire_enum;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_names_its_field() {
        let e = ValidationError::new("summary", "must not be empty");
        assert_eq!(e.to_string(), "field `summary`: must not be empty");
        assert_eq!(e.within("elevators[2]").to_string(), "field `elevators[2].summary`: must not be empty");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let mut es = ValidationErrors::new();
        assert_eq!(es.clone().into_result(), Ok(()));
        es.check(check_text("a", "", 10, true));
        es.check(check_text("b", "fine", 10, true));
        es.check(check_text("c", "elevenchars", 10, false));
        let e = es.into_result().unwrap_err();
        assert_eq!(e.0.len(), 2);
        assert_eq!(e.to_string(), "field `a`: must not be empty; field `c`: has 11 characters; at most 10 are kept");
    }

    #[test]
    fn nested_problems_keep_their_path() {
        let mut es = ValidationErrors::new();
        es.nested("commitment", Err(ValidationError::new("rescue_minutes", "is negative").into()));
        es.nested("pilot_form", Ok(()));
        assert_eq!(es.0, vec![ValidationError::new("commitment.rescue_minutes", "is negative")]);
    }

    #[test]
    fn text_limits_are_exact() {
        let max = "字".repeat(MAX_TEXT_CHARS);
        assert!(check_text("reason", &max, MAX_TEXT_CHARS, true).is_ok(), "characters, not bytes");
        let over = format!("{max}x");
        assert!(check_text("reason", &over, MAX_TEXT_CHARS, true).is_err());
        assert!(check_text("summary", "", MAX_TEXT_CHARS, false).is_ok(), "optional text may be empty");
        assert!(check_text("summary", " \t", MAX_TEXT_CHARS, true).is_err(), "blank is empty");
        let nul = check_text("summary", "a\0b", MAX_TEXT_CHARS, false).unwrap_err();
        assert_eq!(nul.field, "summary");
        assert!(nul.problem.contains("U+0000"));
    }

    #[test]
    fn incident_ids_follow_the_protocol() {
        assert!(check_incident_id("fault_id", "f").is_ok());
        assert!(check_incident_id("fault_id", &"x".repeat(64)).is_ok());
        assert!(check_incident_id("fault_id", &"x".repeat(65)).is_err());
        assert!(check_incident_id("fault_id", "").is_err());
        assert!(check_incident_id("incident_id", "a\0").is_err());
        assert_eq!(check_incident_id("incident_id", "").unwrap_err().field, "incident_id");
    }

    #[test]
    fn resource_ids_are_url_safe() {
        assert!(check_resource_id("firm_id", "zls-1.a_B").is_ok());
        assert!(check_resource_id("firm_id", &"a".repeat(64)).is_ok());
        assert!(check_resource_id("firm_id", &"a".repeat(65)).is_err());
        assert!(check_resource_id("firm_id", "").is_err());
        assert!(check_resource_id("firm_id", "a/b").is_err());
        assert!(check_resource_id("firm_id", "舟山").is_err());
    }

    #[test]
    fn unknown_values_list_the_choices() {
        let u = UnknownValue { what: "grade", value: "E".into(), allowed: &["A", "B"] };
        assert_eq!(u.to_string(), "grade \"E\" must be one of A, B");
        let v: ValidationError = u.into();
        assert_eq!(v.to_string(), "field `grade`: \"E\" must be one of A, B");
    }
}
