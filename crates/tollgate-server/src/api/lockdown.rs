//! `POST` / `DELETE /tollgate/v1/Accounts/{Sid}/Lockdown`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use serde_json::Value;

use crate::app::App;
use crate::audit::Actor;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::wire::Params;

async fn apply(
    app: &Arc<App>,
    actor: &Actor,
    account: &str,
    params: &Params,
    undo: bool,
) -> ApiResult<Json<Value>> {
    let include = params.flag("IncludeSubaccounts")?.unwrap_or(false);
    let write = app.begin_write().await;
    let now = app.clock.now().0;
    let report = if undo {
        crate::lockdown::unlock(app.store.as_ref(), now, account, include, actor).await
    } else {
        crate::lockdown::lock(
            app.store.as_ref(),
            app.master_key(),
            now,
            account,
            include,
            actor,
        )
        .await
    }
    .map_err(|e| {
        tracing::error!(error = %e, "lockdown failed");
        ApiError::internal()
    })?;
    app.refresh(&write).await?;
    drop(write);
    if !undo {
        for sid in &report.accounts {
            app.carrier.end_calls_of(sid);
        }
    }
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
    apply(&app, &Actor::of(&principal), &target.sid, &params, false).await
}

/// `DELETE`: undo. A locked-down account cannot authenticate, so this takes
/// its parent's credentials, or the account's new token (shown by the lockdown).
pub async fn unlock(
    State(app): State<Arc<App>>,
    headers: axum::http::HeaderMap,
    connect: Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    Path(account): Path<String>,
    params: Params,
) -> ApiResult<Json<Value>> {
    let header = headers
        .get(axum::http::header::AUTHORIZATION)
        .map(|v| v.as_bytes());
    let principal = crate::auth::authenticate_for_unlock(&app, header, &account).await?;
    let mut actor = Actor::of(&principal);
    actor.ip = connect.map(|c| c.0.0.ip());
    apply(&app, &actor, &account, &params, true).await
}
