//! `POST` / `DELETE /tollgate/v1/Accounts/{Sid}/Lockdown`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use serde_json::Value;

use crate::app::App;
use crate::audit::Actor;
use crate::error::{ApiError, ApiResult};
use crate::http::auth::Principal;
use crate::http::wire::Params;
use crate::services::lockdown::LockdownError;

async fn apply(
    app: &Arc<App>,
    actor: &Actor,
    account: &str,
    params: &Params,
    undo: bool,
) -> ApiResult<Json<Value>> {
    let include = params.flag("IncludeSubaccounts")?.unwrap_or(false);
    let change = app.change().await;
    let report = crate::services::lockdown::apply(change, app, account, include, undo, actor)
        .await
        .map_err(|e| match e {
            LockdownError::NotLocked(_) | LockdownError::NoAccount(_) => {
                ApiError::not_found(&format!(
                    "/tollgate/v1/Accounts/{account}/Lockdown (the account is not under lockdown)"
                ))
            }
            LockdownError::Store(e) => {
                tracing::error!(error = %e, "lockdown failed");
                ApiError::internal()
            }
        })?;
    tracing::warn!(accounts = ?report.accounts, undo, "lockdown");
    Ok(Json(report.to_json(undo)))
}

/// `POST`: lock the account down (`IncludeSubaccounts=true` for its
/// subaccounts too). Account credentials only.
pub async fn lock(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(account): Path<String>,
    params: Params,
) -> ApiResult<Json<Value>> {
    principal.require_account_credentials()?;
    let target = principal.account(&account)?;
    apply(&app, &Actor::from(&principal), &target.sid, &params, false).await
}

/// `DELETE`: undo. Takes the parent's auth token, or the token the lockdown
/// issued to the account itself (never its old one, never a key); client
/// validation applies as on every request. 404 when there is no lockdown.
pub async fn unlock(State(app): State<Arc<App>>, request: Request) -> ApiResult<Json<Value>> {
    let (mut parts, body) = request.into_parts();
    let Path(account) = Path::<String>::from_request_parts(&mut parts, &app)
        .await
        .map_err(|_| ApiError::not_found(parts.uri.path()))?;
    let principal = crate::http::auth::authenticate_for_unlock(&app, &parts, &account).await?;
    let params = Params::from_request(Request::from_parts(parts, body), &app).await?;
    apply(&app, &Actor::from(&principal), &account, &params, true).await
}
