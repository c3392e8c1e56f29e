//! Bearer tokens and the two roles of api-v1.md.
//!
//! The regulator's token is configured at start; a firm's token is issued
//! when the firm is created (and on rotation) and only its SHA-256 is stored.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

/// Seconds a token lookup is remembered: a revoked or rotated token works
/// at most this long on an instance that did not rotate it (the instance
/// that rotates forgets at once).
pub const DEFAULT_TOKEN_CACHE_TTL_SECS: u64 = 10;
/// Lookups remembered at most; past it, the expired ones are dropped, then all.
const TOKEN_CACHE_MAX: usize = 10_000;

/// Lookups by token hash: when looked up, and the firm (`None`: unknown token).
type Lookups = HashMap<String, (Instant, Option<String>)>;

/// Recent token lookups by token hash (the firm, or `None` for an unknown
/// token), so that a request costs no database round trip.
#[derive(Clone, Debug)]
pub struct TokenCache {
    ttl: Duration,
    entries: Arc<Mutex<Lookups>>,
}

impl Default for TokenCache {
    fn default() -> Self {
        TokenCache::new(Duration::from_secs(DEFAULT_TOKEN_CACHE_TTL_SECS))
    }
}

impl TokenCache {
    /// A cache whose entries live `ttl` (zero: no caching).
    pub fn new(ttl: Duration) -> Self {
        TokenCache { ttl, entries: Arc::default() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Lookups> {
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The remembered lookup of `hash`, if still fresh.
    fn get(&self, hash: &str, now: Instant) -> Option<Option<String>> {
        let e = self.lock();
        e.get(hash).filter(|(at, _)| now.duration_since(*at) < self.ttl).map(|(_, firm)| firm.clone())
    }

    fn put(&self, hash: String, firm: Option<String>, now: Instant) {
        if self.ttl.is_zero() {
            return;
        }
        let mut e = self.lock();
        if e.len() >= TOKEN_CACHE_MAX {
            e.retain(|_, (at, _)| now.duration_since(*at) < self.ttl);
            if e.len() >= TOKEN_CACHE_MAX {
                e.clear();
            }
        }
        e.insert(hash, (now, firm));
    }

    /// Forgets every lookup (after a token rotation).
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// The firm of the token with `hash`: remembered, or asked of the store.
    async fn firm(&self, state: &ApiState, hash: String) -> Result<Option<String>, ApiError> {
        let now = Instant::now();
        if let Some(hit) = self.get(&hash, now) {
            return Ok(hit);
        }
        let firm = state.store.firm_by_token_hash(&hash).await?;
        self.put(hash, firm.clone(), now);
        Ok(firm)
    }
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
        match state.tokens.firm(state, token_hash(token)).await? {
            Some(f) => Ok(Caller::Firm(f)),
            None => Err(ApiError::unauthorized("unknown or revoked token")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_expire_after_the_ttl_and_can_be_forgotten() {
        let c = TokenCache::new(Duration::from_secs(10));
        let t0 = Instant::now();
        c.put("h".into(), Some("zls".into()), t0);
        assert_eq!(c.get("h", t0 + Duration::from_secs(9)), Some(Some("zls".into())));
        assert_eq!(c.get("h", t0 + Duration::from_secs(10)), None);
        c.put("unknown".into(), None, t0);
        assert_eq!(c.get("unknown", t0), Some(None));
        c.clear();
        assert_eq!(c.get("h", t0), None);
        let off = TokenCache::new(Duration::ZERO);
        off.put("h".into(), Some("zls".into()), t0);
        assert_eq!(off.get("h", t0), None);
    }
}
