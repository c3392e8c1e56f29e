//! The dashboard (issue 12): a sign-in page at `/` and a small front end
//! (hand-written ES module and CSS, uPlot for the charts) that reads the
//! JSON API with the bearer token the user typed, kept in the tab's
//! session storage. Everything is compiled into the binary: no CDN, no
//! separate server, no node to build (docs/dashboard.md).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::ApiState;

/// An embedded file: its path under `/assets/`, content type and bytes.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const INDEX: &str = include_str!("../dashboard/index.html");

const ASSETS: &[Asset] = &[
    Asset { name: "app.js", content_type: "text/javascript; charset=utf-8", body: include_str!("../dashboard/app.js") },
    Asset {
        name: "i18n.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../dashboard/i18n.js"),
    },
    Asset { name: "app.css", content_type: "text/css; charset=utf-8", body: include_str!("../dashboard/app.css") },
    Asset {
        name: "uPlot.iife.min.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../dashboard/vendor/uPlot.iife.min.js"),
    },
    Asset {
        name: "uPlot.min.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../dashboard/vendor/uPlot.min.css"),
    },
    Asset {
        name: "uPlot.LICENSE.txt",
        content_type: "text/plain; charset=utf-8",
        body: include_str!("../dashboard/vendor/uPlot.LICENSE"),
    },
];

/// Scripts and styles from this origin only, API calls to it only, never
/// framed: injected markup could neither run nor send the token elsewhere.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The routes: `/` and `/assets/{name}` (no token: the page holds no data;
/// the data comes from the API, which asks for one).
pub fn router() -> Router<ApiState> {
    Router::new().route("/", get(index)).route("/assets/{name}", get(asset))
}

fn page(content_type: &'static str, body: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    // Small files, served from memory: always revalidate so that an upgrade shows at once.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

async fn index() -> Response {
    page("text/html; charset=utf-8", INDEX)
}

async fn asset(axum::extract::Path(name): axum::extract::Path<String>) -> Response {
    match ASSETS.iter().find(|a| a.name == name) {
        Some(a) => page(a.content_type, a.body),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_the_page_names_is_served() {
        for a in ["app.js", "app.css", "uPlot.iife.min.js", "uPlot.min.css"] {
            assert!(INDEX.contains(&format!("/assets/{a}")), "{a}");
        }
        for line in INDEX.lines().filter(|l| l.contains("/assets/")) {
            let name = line.split("/assets/").nth(1).unwrap_or("").split('"').next().unwrap_or("");
            assert!(ASSETS.iter().any(|a| a.name == name), "{name} is named by the page but not served");
        }
    }
}
