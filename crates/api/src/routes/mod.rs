//! Handlers, one module per resource family.

pub mod dead_letters;
pub mod findings;
pub mod health;
pub mod kpis;
pub mod records;
pub mod registry;

use serde::Deserialize;

/// Pagination of list endpoints.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct Page {
    /// At most this many (1–1000, default 100).
    pub limit: Option<i64>,
    /// Skip this many (default 0).
    pub offset: Option<i64>,
}

impl Page {
    /// Validated `(limit, offset)`.
    pub fn get(&self) -> Result<(i64, i64), crate::error::ApiError> {
        let limit = self.limit.unwrap_or(100);
        let offset = self.offset.unwrap_or(0);
        if !(1..=1000).contains(&limit) {
            return Err(crate::error::ApiError::bad_request(format!("limit {limit} must be between 1 and 1000")));
        }
        if offset < 0 {
            return Err(crate::error::ApiError::bad_request(format!("offset {offset} must not be negative")));
        }
        Ok((limit, offset))
    }
}

/// Validates a resource id from the path: 1–64 of `a-z A-Z 0-9 _ - .`.
pub fn check_id(kind: &str, id: &str) -> Result<(), crate::error::ApiError> {
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b)) {
        return Err(crate::error::ApiError::bad_request(format!(
            "{kind} id {id:?} must be 1 to 64 characters of letters, digits, '_', '-' or '.'"
        )));
    }
    Ok(())
}

/// Validates a device code from the path.
pub fn device(code: &str) -> Result<liftwatch_core::protocol::DeviceCode, crate::error::ApiError> {
    liftwatch_core::protocol::DeviceCode::parse(code)
        .map_err(|e| crate::error::ApiError::bad_request(format!("device code {code:?} {e}")))
}
