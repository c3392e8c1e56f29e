//! Bearer tokens and the two roles of api-v1.md.
//!
//! The regulator's token is configured at start; a firm's token is issued
//! when the firm is created (and on rotation) and only its SHA-256 is stored.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::NaiveDate;
use liftwatch_store::records::Scope;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::ApiState;

/// Who is calling.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    /// Sees and changes everything.
    Regulator,
    /// A maintenance firm: only its own things.
    Firm(String),
}

impl Caller {
    /// 403 unless a regulator.
    pub fn require_regulator(&self) -> Result<(), ApiError> {
        match self {
            Caller::Regulator => Ok(()),
            Caller::Firm(_) => Err(ApiError::forbidden("this endpoint is for regulators only")),
        }
    }

    /// Whether the caller may see things of `firm`.
    pub fn sees_firm(&self, firm: &str) -> bool {
        match self {
            Caller::Regulator => true,
            Caller::Firm(f) => f == firm,
        }
    }

    /// The store's scope for this caller on `today`: a firm reaches the days
    /// of its tenures only ([`liftwatch_store::records::Scope`]).
    pub fn scope(&self, today: NaiveDate) -> Scope<'_> {
        match self {
            Caller::Regulator => Scope::All,
            Caller::Firm(f) => Scope::Firm { firm_id: f, today },
        }
    }

    /// Audit name: `regulator` or `firm:{id}`.
    pub fn audit_name(&self) -> String {
        match self {
            Caller::Regulator => "regulator".into(),
            Caller::Firm(f) => format!("firm:{f}"),
        }
    }
}

/// SHA-256 of a token, hex.
pub fn token_hash(token: &str) -> String {
    let d = Sha256::digest(token.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// A new random token (256 bits, hex).
pub fn new_token() -> Result<String, ApiError> {
    let mut buf = [0u8; 32];
    getrandom::getrandom(&mut buf).map_err(|e| ApiError {
        status: axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        code: "internal",
        message: format!("no randomness for a token: {e}"),
    })?;
    Ok(format!("lwf_{}", buf.iter().map(|b| format!("{b:02x}")).collect::<String>()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer <token> header"))?;
        let value = header.to_str().map_err(|_| ApiError::unauthorized("Authorization header is not ASCII"))?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::unauthorized("Authorization must be: Bearer <token>"))?;
        if let Some(reg) = &state.regulator_token {
            if constant_time_eq(reg.as_bytes(), token.as_bytes()) {
                return Ok(Caller::Regulator);
            }
        }
        match state.store.firm_by_token_hash(&token_hash(token)).await? {
            Some(f) => Ok(Caller::Firm(f)),
            None => Err(ApiError::unauthorized("unknown or revoked token")),
        }
    }
}
