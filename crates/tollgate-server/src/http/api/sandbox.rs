//! The sandbox carrier's test controls (main-account credentials only):
//! what handsets received, making numbers unreachable, and simulated
//! inbound texts to the account's numbers.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::http::auth::Principal;
use crate::http::wire::{Params, json_segment};

fn main_only(principal: &Principal) -> ApiResult<()> {
    principal.require_account_credentials()?;
    if principal.account.is_main() {
        Ok(())
    } else {
        Err(ApiError::authenticate())
    }
}

/// `GET /sandbox/v1/Messages.json?To=E164`: newest first.
pub async fn handset(
    State(app): State<Arc<App>>,
    principal: Principal,
    params: Params,
) -> ApiResult<Json<Value>> {
    main_only(&principal)?;
    let to = params.get("To").ok_or_else(|| ApiError::missing("To"))?;
    let to = app
        .classifier
        .classify(to, None)
        .e164
        .unwrap_or_else(|| to.to_owned());
    Ok(Json(json!({"messages": app.sandbox.inbox(&to)})))
}

/// `POST /sandbox/v1/Numbers/{E164}.json` (`Reachable=true|false`).
pub async fn reachability(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(segment): Path<String>,
    params: Params,
) -> ApiResult<Json<Value>> {
    main_only(&principal)?;
    let number = json_segment(&segment)
        .ok_or_else(|| ApiError::not_found(&format!("/sandbox/v1/Numbers/{segment}")))?;
    let e164 = app
        .classifier
        .classify(number, None)
        .e164
        .unwrap_or_else(|| number.to_owned());
    let reachable = params
        .flag("Reachable")?
        .ok_or_else(|| ApiError::missing("Reachable"))?;
    app.sandbox.set_reachable(&e164, reachable);
    Ok(Json(json!({"phone_number": e164, "reachable": reachable})))
}

/// `POST /sandbox/v1/Messages/Inbound.json` (`From`, `To`, `Body`): a handset
/// texts one of the account's numbers.
pub async fn inbound(
    State(app): State<Arc<App>>,
    principal: Principal,
    params: Params,
) -> ApiResult<(StatusCode, Json<Value>)> {
    main_only(&principal)?;
    let from = params
        .get("From")
        .ok_or_else(|| ApiError::missing("From"))?;
    let to = params.get("To").ok_or_else(|| ApiError::missing("To"))?;
    let body = params.get("Body").unwrap_or("");
    match crate::services::inbound::receive(&app, from, to, body).await? {
        crate::services::inbound::Received::Relayed(record) => Ok((
            StatusCode::CREATED,
            Json(crate::http::views::render(&record)),
        )),
        crate::services::inbound::Received::Dropped { reason } => Ok((
            StatusCode::ACCEPTED,
            Json(json!({"status": "dropped", "reason": reason})),
        )),
    }
}
