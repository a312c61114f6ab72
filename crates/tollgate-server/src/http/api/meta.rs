//! Tollgate's own unauthenticated endpoints under `/tollgate/v1`.

use axum::Json;
use axum::extract::Path;
use axum::http::Uri;
use serde_json::{Value, json};
use tollgate_types::error_code as codes;

use crate::error::{ApiError, ApiResult, more_info};

/// `GET /tollgate/v1/Health`
pub async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /tollgate/v1/Errors/{Code}`: what an error code means.
pub async fn error_code(Path(code): Path<String>) -> ApiResult<Json<Value>> {
    let spec = code
        .parse::<u32>()
        .ok()
        .and_then(tollgate_types::lookup_error)
        .ok_or_else(|| ApiError::not_found(&format!("/tollgate/v1/Errors/{code}")))?;
    Ok(Json(json!({
        "code": spec.code,
        "status": spec.http_status,
        "title": spec.title,
        "explanation": spec.explanation,
        "more_info": more_info(spec.code),
    })))
}

/// Any unknown path: 404 / 20404.
pub async fn not_found(uri: Uri) -> ApiError {
    ApiError::not_found(uri.path())
}

/// A known path with a method it does not support: 405 / 20004.
pub async fn method_not_allowed(uri: Uri) -> ApiError {
    ApiError::new(
        &codes::METHOD_NOT_ALLOWED,
        format!("The requested method is not allowed on {}", uri.path()),
    )
}
