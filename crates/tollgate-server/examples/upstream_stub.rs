//! A fast stand-in for Twilio behind `scripts/bench-proxy`: just enough for
//! proxy mode's Messages create. It answers
//! - `GET /2010-04-01/Accounts/{Sid}.json` with 200 (the credential check),
//! - `POST /2010-04-01/Accounts/{Sid}/Messages.json` with 201 and a message
//!   in Twilio's shape (a new SID, `queued`, the request's To/From/Body),
//! - `GET /_stub/created/{Sid}` with how many messages it created for `Sid`.
//!
//! Any Basic credentials are accepted (a missing header is 401); nothing is
//! validated, stored or called back, so the proxies in front of it are what
//! a benchmark sees.
//! Usage: upstream_stub 127.0.0.1:18300

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use tollgate_server::{Clock, SystemClock};

static CREATED: AtomicU64 = AtomicU64::new(0);
static CREATED_BY_ACCOUNT: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());

fn has_basic_auth(headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Basic "))
}

fn twilio_json(status: StatusCode, body: serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn unauthorized() -> Response {
    twilio_json(
        StatusCode::UNAUTHORIZED,
        json!({"code": 20003, "message": "Authenticate", "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401}),
    )
}

fn now_rfc2822() -> String {
    SystemClock.now().rfc2822()
}

async fn account(Path(file): Path<String>, headers: HeaderMap) -> Response {
    let Some(sid) = file.strip_suffix(".json") else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if !has_basic_auth(&headers) {
        return unauthorized();
    }
    let now = now_rfc2822();
    twilio_json(
        StatusCode::OK,
        json!({
            "sid": sid,
            "owner_account_sid": sid,
            "friendly_name": "bench",
            "status": "active",
            "type": "Full",
            "date_created": now,
            "date_updated": now,
            "uri": format!("/2010-04-01/Accounts/{sid}.json"),
        }),
    )
}

async fn create_message(Path(sid): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    if !has_basic_auth(&headers) {
        return unauthorized();
    }
    let (mut to, mut from, mut text) = (String::new(), String::new(), String::new());
    for (name, value) in form_urlencoded::parse(&body) {
        match name.as_ref() {
            "To" => to = value.into_owned(),
            "From" => from = value.into_owned(),
            "Body" => text = value.into_owned(),
            _ => {}
        }
    }
    let message = format!("SM{:032x}", CREATED.fetch_add(1, Ordering::Relaxed));
    if let Ok(mut counts) = CREATED_BY_ACCOUNT.lock() {
        *counts.entry(sid.clone()).or_default() += 1;
    }
    let now = now_rfc2822();
    let uri = format!("/2010-04-01/Accounts/{sid}/Messages/{message}");
    twilio_json(
        StatusCode::CREATED,
        json!({
            "account_sid": sid,
            "api_version": "2010-04-01",
            "body": text,
            "date_created": now,
            "date_sent": null,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": null,
            "error_message": null,
            "from": from,
            "messaging_service_sid": null,
            "num_media": "0",
            "num_segments": "1",
            "price": null,
            "price_unit": "USD",
            "sid": message,
            "status": "queued",
            "subresource_uris": {"media": format!("{uri}/Media.json")},
            "to": to,
            "uri": format!("{uri}.json"),
        }),
    )
}

async fn created(Path(sid): Path<String>) -> String {
    CREATED_BY_ACCOUNT
        .lock()
        .ok()
        .and_then(|c| c.get(&sid).copied())
        .unwrap_or(0)
        .to_string()
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18300".into());
    let app = Router::new()
        .route("/2010-04-01/Accounts/{file}", get(account))
        .route(
            "/2010-04-01/Accounts/{sid}/Messages.json",
            post(create_message),
        )
        .route("/_stub/created/{sid}", get(created));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    axum::serve(listener, app).await
}
