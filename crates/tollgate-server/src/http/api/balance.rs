//! `GET /2010-04-01/Accounts/{Sid}/Balance.json`. Served from memory; any
//! credential of the account (or its parent) may read it.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use crate::app::App;
use crate::error::ApiResult;
use crate::http::auth::Principal;

/// Tollgate holds no funds: the balance is zero until spend tracking lands,
/// which will report spend as a negative balance.
pub async fn fetch(
    State(_app): State<Arc<App>>,
    principal: Principal,
    Path(account): Path<String>,
) -> ApiResult<Json<Value>> {
    let account = principal.account(&account)?;
    Ok(Json(json!({
        "account_sid": account.sid,
        "balance": "0.00",
        "currency": "USD",
    })))
}
