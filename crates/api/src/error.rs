//! API errors: `{"error": "<machine code>", "message": "<human text>"}` with
//! the right status (api-v1.md). A client's mistake is never a 500.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use liftwatch_core::{UnknownValue, ValidationError, ValidationErrors};
use liftwatch_store::StoreError;
use serde::Serialize;

/// The error body.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Machine code (`not_found`, `bad_request`, …).
    pub error: String,
    /// What was wrong and what to do.
    pub message: String,
}

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Machine code.
    pub code: &'static str,
    /// Human text.
    pub message: String,
}

impl ApiError {
    /// 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError { status: StatusCode::BAD_REQUEST, code: "bad_request", message: message.into() }
    }
    /// 404 (also what a firm gets for another firm's resource).
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError { status: StatusCode::NOT_FOUND, code: "not_found", message: message.into() }
    }
    /// 401.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        ApiError { status: StatusCode::UNAUTHORIZED, code: "unauthorized", message: message.into() }
    }
    /// 403.
    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError { status: StatusCode::FORBIDDEN, code: "forbidden", message: message.into() }
    }
    /// 409.
    pub fn conflict(message: impl Into<String>) -> Self {
        ApiError { status: StatusCode::CONFLICT, code: "conflict", message: message.into() }
    }
    /// 422: well-formed but breaks a rule.
    pub fn unprocessable(message: impl Into<String>) -> Self {
        ApiError { status: StatusCode::UNPROCESSABLE_ENTITY, code: "invalid", message: message.into() }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { error: self.code.to_owned(), message: self.message };
        (self.status, Json(body)).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => ApiError::not_found(m),
            StoreError::Forbidden(m) => ApiError::forbidden(m),
            StoreError::Conflict(m) => ApiError::conflict(m),
            StoreError::Permanent(m) => ApiError::unprocessable(m),
            StoreError::Transient(m) => {
                tracing::warn!(error = %m, "store unavailable");
                ApiError {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    code: "unavailable",
                    message: "the database is unavailable; retry shortly".into(),
                }
            }
            StoreError::Config(m) => {
                // The detail (which may name tables or settings) goes to the log only.
                tracing::error!(error = %m, "store configuration");
                ApiError {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    code: "internal",
                    message: "internal error; the operator finds the cause in the service's log".into(),
                }
            }
        }
    }
}

impl From<ValidationErrors> for ApiError {
    /// What the domain refuses in a request (every problem at once): 400.
    fn from(e: ValidationErrors) -> Self {
        ApiError::bad_request(e.to_string())
    }
}

impl From<ValidationError> for ApiError {
    /// As [`ValidationErrors`]: 400.
    fn from(e: ValidationError) -> Self {
        ApiError::bad_request(e.to_string())
    }
}

impl From<UnknownValue> for ApiError {
    /// A value outside its set (`grade "E" must be one of A, B, C, D`): 400.
    fn from(e: UnknownValue) -> Self {
        ValidationError::from(e).into()
    }
}

/// Store errors of write requests: data the store refuses is the client's
/// mistake (400, as the same refusal by the API's own validation); the other
/// errors as [`From<StoreError>`].
pub fn write_refused(e: StoreError) -> ApiError {
    match e {
        StoreError::Permanent(m) => ApiError::bad_request(m),
        e => e.into(),
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        let status = r.status();
        let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "too_large"
        } else if status == StatusCode::UNSUPPORTED_MEDIA_TYPE {
            "unsupported_media_type"
        } else if status == StatusCode::UNPROCESSABLE_ENTITY {
            "invalid"
        } else {
            "bad_request"
        };
        ApiError { status, code, message: r.body_text() }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::bad_request(r.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::bad_request(r.body_text())
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
