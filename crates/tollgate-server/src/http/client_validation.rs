//! Public Key Client Validation at the edge: accounts with
//! `RequireClientValidation` accept only requests whose
//! `Twilio-Client-Validation` JWT signs this very request.
//!
//! [`capture_body`] keeps a copy of the body of requests that carry the
//! header (the hash covers it); [`enforce`] runs after authentication.

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tollgate_signature::client_validation::{self as cv, Expected};
use tollgate_types::error_code::{self as codes, lookup};

use crate::app::App;
use crate::error::ApiError;
use crate::http::principal::{Credential, Principal};
use crate::http::wire::MAX_BODY_BYTES;

/// The body of a request that carries a client-validation JWT.
#[derive(Clone)]
pub struct SignedBody(pub Bytes);

/// Middleware: buffers the body of requests with `Twilio-Client-Validation`
/// (within the API's body limit) and puts it back, keeping a copy.
pub async fn capture_body(request: Request, next: Next) -> Response {
    if !request.headers().contains_key(cv::HEADER) {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return ApiError::new(
                &codes::ENTITY_TOO_LARGE,
                format!("Request body is larger than {MAX_BODY_BYTES} bytes"),
            )
            .into_response();
        }
    };
    parts.extensions.insert(SignedBody(bytes.clone()));
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// Checks the request against the principal's account policy.
pub fn enforce(app: &App, parts: &Parts, principal: &Principal) -> Result<(), ApiError> {
    let account = &principal.account;
    if !account.require_client_validation {
        return Ok(());
    }
    let Some(token) = parts.headers.get(cv::HEADER).and_then(|v| v.to_str().ok()) else {
        return Err(ApiError::new(
            &codes::CV_REQUIRED,
            "Public Key Client Validation is required for this account: send a Twilio-Client-Validation header",
        ));
    };
    let headers: Vec<(&str, &str)> = parts
        .headers
        .iter()
        .filter_map(|(name, value)| value.to_str().ok().map(|v| (name.as_str(), v)))
        .collect();
    let body = parts
        .extensions
        .get::<SignedBody>()
        .map(|b| b.0.clone())
        .unwrap_or_default();
    let request = cv::Request {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: &headers,
        body: &body,
    };
    // With an API key, iss is the key (as Twilio); with the account's own
    // auth token, the account SID (Tollgate also allows that).
    let issuer = match &principal.credential {
        Credential::ApiKey { sid } => sid.as_str(),
        Credential::AuthToken => account.sid.as_str(),
    };
    let expected = Expected {
        account_sid: &account.sid,
        api_key_sid: Some(issuer),
    };
    let snapshot = &principal.snapshot;
    let key_for = |kid: &str| {
        snapshot
            .public_keys
            .get(kid)
            .filter(|entry| entry.record.account_sid == account.sid)
            .map(|entry| &entry.key)
    };
    let now_secs = app.clock.now().0.div_euclid(1000);
    match cv::verify(token, &request, &expected, key_for, now_secs) {
        Ok(_) => Ok(()),
        Err(e) => {
            tracing::info!(account = %account.sid, code = e.code(), "client validation failed");
            let spec = lookup(e.code()).unwrap_or(&codes::AUTHENTICATE);
            Err(ApiError::new(spec, e.to_string()))
        }
    }
}
