//! Webhooks (issue 10, "Alerts"): where finding events are posted.
//!
//! Each caller has its own webhooks (ids are per caller, so nothing of
//! another's shows). A regulator subscribes to any scope (every finding, or
//! one firm's); a firm only to its own findings, and only to a public `https://` receiver — a
//! firm must not be able to make the service call into its own network
//! (SSRF) nor read another firm's findings. The secret is write-only.

use std::net::IpAddr;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use liftwatch_store::alerts::{Webhook, WebhookSpec};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::check_id;
use crate::auth::Caller;
use crate::error::{write_refused, ApiError, ApiResult, ErrorBody};
use crate::ApiState;

/// Actions a webhook may filter on.
pub const ACTIONS: [&str; 5] = ["notice", "rectify", "exit", "disqualify", "stop"];
/// Shortest secret accepted (or a Standard Webhooks `whsec_…` secret).
pub const MIN_SECRET_CHARS: usize = 24;
const MAX_SECRET_CHARS: usize = 256;
const MAX_URL_CHARS: usize = 2048;

/// The routes.
pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(put_webhook, get_webhook, delete_webhook)).routes(routes!(list_webhooks))
}

/// Body of `PUT /api/v1/webhooks/{id}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookBody {
    /// Receiver (`https://…`; a regulator may also use `http://`).
    #[schema(example = "https://alerts.example.com/liftwatch")]
    pub url: String,
    /// Signing secret: at least 24 characters, or `whsec_<base64>`.
    pub secret: String,
    /// Only this firm's findings (a firm: absent or its own id).
    pub firm_id: Option<String>,
    /// Only these actions (`notice`, `rectify`, `exit`, `disqualify`, `stop`).
    pub actions: Option<Vec<String>>,
}

/// Each caller has its own webhooks: `regulator` or `firm:{id}`.
fn owner(caller: &Caller) -> String {
    caller.audit_name()
}

/// Creates or replaces a webhook. Events are signed as the Standard Webhooks specification says.
#[utoipa::path(put, path = "/api/v1/webhooks/{id}", tag = "alerts",
    params(("id" = String, Path, description = "webhook id")),
    request_body = WebhookBody,
    responses((status = 201, description = "created", body = Webhook), (status = 200, description = "replaced", body = Webhook),
               (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn put_webhook(
    State(s): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<Json<WebhookBody>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<Webhook>)> {
    check_id("webhook", &id)?;
    let Json(b) = body?;
    let firm_id = match (&caller, b.firm_id) {
        (Caller::Firm(mine), Some(f)) if &f != mine => {
            return Err(ApiError::forbidden("a firm can subscribe to its own findings only"))
        }
        (Caller::Firm(mine), _) => Some(mine.clone()),
        (Caller::Regulator, Some(f)) => {
            if s.store.firm(&f).await?.is_none() {
                return Err(ApiError::bad_request(format!("firm {f} does not exist")));
            }
            Some(f)
        }
        (Caller::Regulator, None) => None,
    };
    check_url(&b.url, matches!(caller, Caller::Firm(_)))?;
    check_secret(&b.secret)?;
    if let Some(a) = &b.actions {
        if a.is_empty() {
            return Err(ApiError::bad_request("actions must not be empty (leave it out for every action)"));
        }
        if let Some(bad) = a.iter().find(|x| !ACTIONS.contains(&x.as_str())) {
            return Err(ApiError::bad_request(format!("action {bad:?} must be one of {}", ACTIONS.join(", "))));
        }
    }
    let spec = WebhookSpec {
        id: id.clone(),
        url: b.url,
        secret: b.secret,
        firm_id,
        actions: b.actions,
        owner: owner(&caller),
    };
    let created = s.store.put_webhook(&spec).await.map_err(write_refused)?;
    let w = s.store.webhook(&spec.owner, &id).await?.ok_or_else(|| ApiError::not_found("webhook vanished"))?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(w)))
}

/// One of the caller's webhooks, with its pending deliveries.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = "alerts",
    params(("id" = String, Path, description = "webhook id")),
    responses((status = 200, body = Webhook), (status = 404, body = ErrorBody)))]
async fn get_webhook(State(s): State<ApiState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Json<Webhook>> {
    s.store
        .webhook(&owner(&caller), &id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("webhook {id} does not exist")))
}

/// The caller's webhooks (each caller, the regulator or a firm, has its own).
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "alerts", responses((status = 200, body = [Webhook])))]
async fn list_webhooks(State(s): State<ApiState>, caller: Caller) -> ApiResult<Json<Vec<Webhook>>> {
    Ok(Json(s.store.webhooks(&owner(&caller)).await?))
}

/// Deletes a webhook and its pending deliveries.
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "alerts",
    params(("id" = String, Path, description = "webhook id")),
    responses((status = 204, description = "deleted"), (status = 404, body = ErrorBody)))]
async fn delete_webhook(State(s): State<ApiState>, caller: Caller, Path(id): Path<String>) -> ApiResult<StatusCode> {
    if s.store.delete_webhook(&owner(&caller), &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("webhook {id} does not exist")))
    }
}

fn check_secret(secret: &str) -> ApiResult<()> {
    let n = secret.chars().count();
    if secret.starts_with("whsec_") && n > 6 && n <= MAX_SECRET_CHARS {
        return Ok(());
    }
    if !(MIN_SECRET_CHARS..=MAX_SECRET_CHARS).contains(&n) {
        return Err(ApiError::bad_request(format!(
            "secret must be {MIN_SECRET_CHARS} to {MAX_SECRET_CHARS} characters (or whsec_<base64>)"
        )));
    }
    Ok(())
}

/// A receiver URL: `https://host[:port]/…` (or `http://` for a regulator).
/// For a firm the host must not be a name or address of a private network.
fn check_url(url: &str, firm: bool) -> ApiResult<()> {
    let bad = |why: &str| ApiError::bad_request(format!("url {url:?}: {why}"));
    if url.len() > MAX_URL_CHARS || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("too long or contains spaces"));
    }
    let rest = if let Some(r) = url.strip_prefix("https://") {
        r
    } else if let Some(r) = url.strip_prefix("http://") {
        if firm {
            return Err(bad("a firm's receiver must use https://"));
        }
        r
    } else {
        return Err(bad("must start with https:// (or http://)"));
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return Err(bad("credentials in the URL are not accepted; use the secret"));
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    if host.is_empty() {
        return Err(bad("has no host"));
    }
    if firm && is_private_host(host) {
        return Err(bad("a firm's receiver must be a public host"));
    }
    Ok(())
}

fn is_private_host(host: &str) -> bool {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    if h == "localhost"
        || h.ends_with(".localhost")
        || h.ends_with(".local")
        || h.ends_with(".internal")
        || !h.contains('.') && h.parse::<IpAddr>().is_err()
    {
        return true;
    }
    match h.parse::<IpAddr>() {
        Ok(IpAddr::V4(a)) => {
            a.is_loopback()
                || a.is_private()
                || a.is_link_local()
                || a.is_unspecified()
                || a.is_broadcast()
                || a.octets()[0] == 100 && (a.octets()[1] & 0xc0) == 64
        }
        Ok(IpAddr::V6(a)) => {
            a.is_loopback()
                || a.is_unspecified()
                || (a.segments()[0] & 0xfe00) == 0xfc00
                || (a.segments()[0] & 0xffc0) == 0xfe80
                || a.to_ipv4_mapped().is_some_and(|v4| is_private_host(&v4.to_string()))
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_firm_cannot_point_a_webhook_into_a_private_network() {
        for url in [
            "http://alerts.example.com/x",
            "https://127.0.0.1/x",
            "https://localhost:8080/x",
            "https://10.1.2.3/x",
            "https://192.168.0.1/x",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/x",
            "https://[fd00::1]:443/x",
            "https://[::ffff:127.0.0.1]/x",
            "https://db/x",
            "https://user:pw@example.com/x",
            "ftp://example.com/x",
            "https://",
        ] {
            assert!(check_url(url, true).is_err(), "{url} must be refused for a firm");
        }
        assert!(check_url("https://alerts.example.com:8443/hook?x=1", true).is_ok());
        assert!(check_url("https://203.0.113.7/hook", true).is_ok());
        assert!(check_url("http://127.0.0.1:9000/hook", false).is_ok(), "a regulator's own network is its call");
    }

    #[test]
    fn secrets_are_long_enough_or_standard() {
        assert!(check_secret("short").is_err());
        assert!(check_secret(&"x".repeat(24)).is_ok());
        assert!(check_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_ok());
        assert!(check_secret(&"x".repeat(300)).is_err());
    }
}
