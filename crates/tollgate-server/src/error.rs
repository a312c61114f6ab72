//! The one place where errors become HTTP responses, in Twilio's JSON shape:
//! `{"code", "message", "more_info", "status"}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tollgate_store::StoreError;
use tollgate_types::ErrorSpec;
use tollgate_types::error_code as codes;

/// Attached to an error response by `ApiError`.
#[derive(Clone, Debug)]
pub struct ErrorInfo {
    pub code: u32,
    pub message: String,
}

/// An API error: a row of the error table and a message for this occurrence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub spec: &'static ErrorSpec,
    pub message: String,
    /// Seconds, sent as `Retry-After` (429s).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(spec: &'static ErrorSpec, message: impl Into<String>) -> ApiError {
        ApiError {
            spec,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 401 / 20003 "Authenticate". Never says which part was wrong.
    pub fn authenticate() -> ApiError {
        ApiError::new(&codes::AUTHENTICATE, "Authenticate")
    }

    /// 500 / 20500. The cause goes to the log, never to the client.
    pub fn internal() -> ApiError {
        ApiError::new(&codes::INTERNAL, "Internal Server Error")
    }

    /// 404 / 20404 for `path`.
    pub fn not_found(path: &str) -> ApiError {
        ApiError::new(
            &codes::NOT_FOUND,
            format!("The requested resource {path} was not found"),
        )
    }

    /// 400 / 20001 for a missing parameter.
    pub fn missing(name: &str) -> ApiError {
        ApiError::new(
            &codes::MISSING_PARAMETER,
            format!("Missing required parameter {name} in the post body"),
        )
    }

    /// 400 / 20422 for a parameter with a value the resource does not accept.
    pub fn invalid(name: &str, why: &str) -> ApiError {
        ApiError::new(
            &codes::INVALID_PARAMETER,
            format!("Invalid parameter {name}: {why}"),
        )
    }

    /// The error for an HTTP status that something other than a handler
    /// chose (an extractor's rejection, hyper, a limit), with the detail it
    /// gave. Statuses without a row of their own become 400 or 500.
    pub fn for_status(status: StatusCode, detail: Option<&str>) -> ApiError {
        let (spec, message): (&'static ErrorSpec, &str) = match status.as_u16() {
            401 => (&codes::AUTHENTICATE, "Authenticate"),
            404 => (&codes::NOT_FOUND, "The requested resource was not found"),
            405 => (
                &codes::METHOD_NOT_ALLOWED,
                "The requested method is not allowed",
            ),
            408 => (&codes::REQUEST_TIMEOUT, "The request took too long"),
            409 => (&codes::CONFLICT, "Conflict"),
            413 => (&codes::ENTITY_TOO_LARGE, "The request body is too large"),
            414 => (&codes::URI_TOO_LONG, "The request URI is too long"),
            429 => (&codes::TOO_MANY_REQUESTS, "Too many requests"),
            431 => (
                &codes::HEADERS_TOO_LARGE,
                "The request headers are too large",
            ),
            503 => (
                &codes::UNAVAILABLE,
                "Service is unavailable, please try again",
            ),
            500..=599 => (&codes::INTERNAL, "Internal Server Error"),
            _ => (&codes::MALFORMED_REQUEST, "The request could not be parsed"),
        };
        // Server errors keep their detail to the log.
        match detail.filter(|d| !d.is_empty() && spec.http_status < 500) {
            Some(detail) => ApiError::new(spec, format!("{message}: {}", printable(detail, 200))),
            None => ApiError::new(spec, message),
        }
    }

    /// Twilio's error JSON.
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({
            "code": self.spec.code,
            "message": self.message,
            "more_info": self.more_info(),
            "status": self.spec.http_status,
        })
    }

    /// Where the code is documented.
    pub fn more_info(&self) -> String {
        more_info(self.spec.code)
    }
}

/// At most `max` characters of `text`, control characters dropped.
fn printable(text: &str, max: usize) -> String {
    text.chars().filter(|c| !c.is_control()).take(max).collect()
}

/// Twilio's documentation for Twilio's codes; Tollgate's own table for its own.
pub fn more_info(code: u32) -> String {
    if (99000..=99999).contains(&code) {
        format!("/tollgate/v1/Errors/{code}")
    } else {
        format!("https://www.twilio.com/docs/errors/{code}")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.spec.http_status)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, axum::Json(self.body())).into_response();
        response.extensions_mut().insert(ErrorInfo {
            code: self.spec.code,
            message: self.message.clone(),
        });
        if let Some(seconds) = self.retry_after
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"Twilio API\""),
            );
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        // Details go to the log, never to the client.
        tracing::error!(error = %e, "store error");
        match e {
            StoreError::Conflict(_) => ApiError::new(&codes::CONFLICT, "Conflict"),
            StoreError::Backend(_) | StoreError::Migration(_) => ApiError::new(
                &codes::UNAVAILABLE,
                "Service is unavailable, please try again",
            ),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
