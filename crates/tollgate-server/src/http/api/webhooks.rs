//! `/tollgate/v1/Accounts/{Sid}/Webhooks`: send a test webhook through the
//! delivery pipeline, and see how a delivery went. Every webhook Tollgate
//! sends (status callbacks, usage triggers…) has such a record.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::Value;
use tollgate_webhook::request::{Method, Payload};

use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::http::auth::Principal;
use crate::http::wire::Params;
use crate::services::webhooks::{NewWebhook, enqueue, render};

/// Prefix of the parameters a test webhook carries (`Param.Name=Value`).
const PARAM_PREFIX: &str = "Param.";

/// `POST …/Webhooks`: `Url` (required), `Method` (POST/GET), `ContentType`
/// (`form` or `json`), `Body` (the JSON document, for `json`), and any
/// `Param.{Name}={Value}` (repeatable) for form webhooks.
pub async fn create(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(account): Path<String>,
    params: Params,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let account = principal.account(&account)?;
    let url = params.get("Url").ok_or_else(|| ApiError::missing("Url"))?;
    let method = match params.get("Method") {
        None => Method::Post,
        Some(m) => {
            Method::parse(m).ok_or_else(|| ApiError::invalid("Method", "must be GET or POST"))?
        }
    };
    let payload = match params.get("ContentType").unwrap_or("form") {
        "form" => {
            let mut fields = vec![
                ("AccountSid".to_owned(), account.sid.clone()),
                ("ApiVersion".to_owned(), "2010-04-01".to_owned()),
            ];
            fields.extend(params.0.iter().filter_map(|(name, value)| {
                name.strip_prefix(PARAM_PREFIX)
                    .filter(|n| !n.is_empty())
                    .map(|n| (n.to_owned(), value.clone()))
            }));
            Payload::Form(fields)
        }
        "json" => {
            let body = params
                .get("Body")
                .ok_or_else(|| ApiError::missing("Body"))?;
            if serde_json::from_str::<Value>(body).is_err() {
                return Err(ApiError::invalid("Body", "must be a JSON document"));
            }
            if method == Method::Get {
                return Err(ApiError::invalid(
                    "Method",
                    "a JSON webhook is sent with POST",
                ));
            }
            Payload::Json(body.to_owned())
        }
        _ => return Err(ApiError::invalid("ContentType", "must be form or json")),
    };
    tollgate_webhook::request::Target::parse_checked(url)
        .map_err(|e| ApiError::invalid("Url", &e.to_string()))?;
    let record = enqueue(
        &app,
        NewWebhook {
            account_sid: &account.sid,
            url,
            method,
            ordering_key: None,
            payload,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(render(&app, &record))))
}

/// `GET …/Webhooks/{WebhookSid}`
pub async fn fetch(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path((account, sid)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let account = principal.account(&account)?;
    let path = format!("/tollgate/v1/Accounts/{}/Webhooks/{sid}", account.sid);
    let record = app
        .store
        .webhook(&account.sid, &sid)
        .await?
        .ok_or_else(|| ApiError::not_found(&path))?;
    Ok(Json(render(&app, &record)))
}
