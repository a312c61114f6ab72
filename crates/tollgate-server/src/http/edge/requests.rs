//! Limits every request meets before its route: the URI length, the body
//! read whole within the body limit before any handler or extractor runs
//! (so an early answer, such as a 401, never leaves a body unread on a
//! keep-alive connection), the request timeout; and Twilio's JSON for every
//! error answer that a handler did not shape itself.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use tollgate_types::error_code as codes;

use crate::error::{ApiError, ErrorInfo};
use crate::http::wire::MAX_BODY_BYTES;

/// Longest path and query accepted, in bytes.
pub const MAX_URI_BYTES: usize = 8192;

/// Most bytes of a plain error answer kept as the JSON error's detail.
const MAX_DETAIL_BYTES: usize = 1024;

/// `error` as a response that also closes the connection: the request may
/// not have been read to its end.
fn closing(error: ApiError) -> Response {
    let mut response = error.into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Middleware, the one every request meets: the limits of [`bounded`], then
/// Twilio's JSON for an error answer that a handler did not shape.
pub async fn guard(State(timeout): State<Duration>, request: Request, next: Next) -> Response {
    shaped(bounded(timeout, request, next).await).await
}

/// The URI limit, then the body and the handler within the request timeout.
async fn bounded(timeout: Duration, request: Request, next: Next) -> Response {
    let uri = request.uri();
    let uri_len = uri.path_and_query().map_or(0, |p| p.as_str().len())
        + uri.authority().map_or(0, |a| a.as_str().len());
    if uri_len > MAX_URI_BYTES {
        return closing(ApiError::new(
            &codes::URI_TOO_LONG,
            format!("The request URI is longer than {MAX_URI_BYTES} bytes"),
        ));
    }
    let run = async move {
        match read_body(request).await {
            Ok(request) => next.run(request).await,
            Err(error) => closing(error),
        }
    };
    match tokio::time::timeout(timeout, run).await {
        Ok(response) => response,
        Err(_) => closing(ApiError::new(
            &codes::REQUEST_TIMEOUT,
            format!(
                "The request was not received and answered within {} ms",
                timeout.as_millis()
            ),
        )),
    }
}

/// Reads the whole body, at most [`MAX_BODY_BYTES`], and puts it back.
async fn read_body(request: Request) -> Result<Request, ApiError> {
    let (parts, body) = request.into_parts();
    if axum::body::HttpBody::is_end_stream(&body) {
        return Ok(Request::from_parts(parts, body));
    }
    let too_large = || {
        ApiError::new(
            &codes::ENTITY_TOO_LARGE,
            format!("Request body is larger than {MAX_BODY_BYTES} bytes"),
        )
    };
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    let bytes = Limited::new(body, MAX_BODY_BYTES)
        .collect()
        .await
        .map_err(|e| {
            if e.is::<LengthLimitError>() {
                too_large()
            } else {
                ApiError::new(
                    &codes::MALFORMED_REQUEST,
                    "The request body could not be read",
                )
            }
        })?
        .to_bytes();
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

/// An error response that did not come from [`ApiError`] (an extractor's
/// rejection, a framework default) becomes Twilio's JSON error for its
/// status, keeping the text it had as the detail.
async fn shaped(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error())
        || response.extensions().get::<ErrorInfo>().is_some()
    {
        return response;
    }
    let (parts, body) = response.into_parts();
    let detail = Limited::new(body, MAX_DETAIL_BYTES)
        .collect()
        .await
        .ok()
        .map(|c| String::from_utf8_lossy(&c.to_bytes()).trim().to_owned());
    if status.is_server_error() {
        tracing::error!(%status, detail = detail.as_deref().unwrap_or(""), "error answer without an ApiError");
    }
    let mut answer = ApiError::for_status(status, detail.as_deref()).into_response();
    for name in [header::CONNECTION, header::RETRY_AFTER, header::ALLOW] {
        if let Some(value) = parts.headers.get(&name) {
            answer.headers_mut().insert(name, value.clone());
        }
    }
    answer
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::extract::Path;
    use axum::http::StatusCode;
    use axum::routing::{get, post};
    use tower::ServiceExt;

    fn app(timeout: Duration) -> Router {
        Router::new()
            .route(
                "/json",
                post(|axum::Json(v): axum::Json<serde_json::Value>| async move { v.to_string() }),
            )
            .route(
                "/bytes",
                post(|b: axum::body::Bytes| async move { b.len().to_string() }),
            )
            .route("/path/{x}", get(|Path(x): Path<String>| async move { x }))
            .route(
                "/slow",
                get(|| async { tokio::time::sleep(Duration::from_secs(5)).await }),
            )
            .route("/teapot", get(|| async { StatusCode::IM_A_TEAPOT }))
            .layer(axum::middleware::from_fn_with_state(timeout, guard))
    }

    async fn send(request: Request) -> (StatusCode, Option<String>, serde_json::Value) {
        let response = app(Duration::from_millis(200))
            .oneshot(request)
            .await
            .unwrap();
        let status = response.status();
        let connection = response
            .headers()
            .get(header::CONNECTION)
            .map(|v| v.to_str().unwrap().to_owned());
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
        (status, connection, json)
    }

    fn post_body(path: &str, body: Vec<u8>) -> Request {
        Request::post(path)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap()
    }

    #[tokio::test]
    async fn every_route_has_the_one_body_limit() {
        for path in ["/json", "/bytes"] {
            let big = format!("\"{}\"", "x".repeat(MAX_BODY_BYTES)).into_bytes();
            let (status, connection, json) = send(post_body(path, big)).await;
            assert_eq!(
                (status, json["code"].as_u64()),
                (StatusCode::PAYLOAD_TOO_LARGE, Some(20413))
            );
            assert_eq!(connection.as_deref(), Some("close"));
            let fits = format!("\"{}\"", "x".repeat(MAX_BODY_BYTES - 2)).into_bytes();
            let (status, _, _) = send(post_body(path, fits)).await;
            assert_eq!(status, StatusCode::OK, "{path}");
        }
    }

    #[tokio::test]
    async fn framework_rejections_become_twilio_json() {
        let (status, _, json) = send(post_body("/json", b"{nope".to_vec())).await;
        assert_eq!(
            (status, json["code"].as_u64()),
            (StatusCode::BAD_REQUEST, Some(99400))
        );
        assert!(
            json["message"]
                .as_str()
                .unwrap()
                .starts_with("The request could not be parsed: ")
        );
        let bad_utf8 = Request::get("/path/%FF%FE").body(Body::empty()).unwrap();
        let (status, _, json) = send(bad_utf8).await;
        assert_eq!(
            (status, json["code"].as_u64()),
            (StatusCode::BAD_REQUEST, Some(99400))
        );
        assert_eq!(json["status"], 400);
        let (status, _, json) = send(Request::get("/teapot").body(Body::empty()).unwrap()).await;
        assert_eq!(
            (status, json["code"].as_u64()),
            (StatusCode::BAD_REQUEST, Some(99400))
        );
    }

    #[tokio::test]
    async fn long_uris_and_slow_requests_get_json_and_close() {
        let long = format!("/path/{}", "a".repeat(MAX_URI_BYTES));
        let (status, connection, json) =
            send(Request::get(long).body(Body::empty()).unwrap()).await;
        assert_eq!(
            (status, json["code"].as_u64()),
            (StatusCode::URI_TOO_LONG, Some(99414))
        );
        assert_eq!(connection.as_deref(), Some("close"));
        let (status, connection, json) =
            send(Request::get("/slow").body(Body::empty()).unwrap()).await;
        assert_eq!(
            (status, json["code"].as_u64()),
            (StatusCode::REQUEST_TIMEOUT, Some(99408))
        );
        assert_eq!(connection.as_deref(), Some("close"));
    }
}
