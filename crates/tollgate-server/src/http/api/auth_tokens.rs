//! Accounts v1 auth-token rotation: `/v1/AuthTokens/Secondary` and
//! `/v1/AuthTokens/Promote`. They act on the caller's own account.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};
use tollgate_secrets::generate_auth_token;
use tollgate_store::AccountRecord;
use tollgate_types::Timestamp;
use tollgate_types::error_code as codes;

use crate::app::App;
use crate::audit;
use crate::error::{ApiError, ApiResult};
use crate::http::auth::Principal;
use crate::random::OsRandom;

async fn own_account(app: &App, principal: &Principal) -> ApiResult<AccountRecord> {
    principal.require_account_credentials()?;
    app.store
        .account(&principal.account.sid)
        .await?
        .ok_or_else(ApiError::authenticate)
}

fn no_secondary(path: &str) -> ApiError {
    ApiError::not_found(path)
}

/// `POST /v1/AuthTokens/Secondary`: 201 with the new secondary token.
pub async fn create_secondary(
    State(app): State<Arc<App>>,
    principal: Principal,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let change = app.change().await;
    let mut record = own_account(&app, &principal).await?;
    if record.secondary_token_sealed.is_some() {
        return Err(ApiError::new(
            &codes::CONFLICT,
            "A secondary auth token already exists: promote or delete it first",
        ));
    }
    let now = app.clock.now();
    let token = generate_auth_token(&mut OsRandom);
    record.secondary_token_sealed = Some(app.seal_token(&record.sid, &token)?);
    record.secondary_token_created = Some(now.0);
    record.date_updated = now.0;
    let event = audit::by(
        &principal,
        now.0,
        &record.sid,
        "account-secondary-auth-token.created",
        ("account-secondary-auth-token", Some(&record.sid)),
        json!({}),
    );
    app.store.update_account(&record, &event).await?;
    change.commit(|snapshot, key| snapshot.put_account(key, &record))?;
    tracing::info!(account = %record.sid, "secondary auth token created");
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "account_sid": record.sid,
            "date_created": now.iso8601(),
            "date_updated": now.iso8601(),
            "secondary_auth_token": token.as_str(),
            "url": format!("{}/v1/AuthTokens/Secondary", app.public_url),
        })),
    ))
}

/// `DELETE /v1/AuthTokens/Secondary`: 204; 404 if there is none.
pub async fn delete_secondary(
    State(app): State<Arc<App>>,
    principal: Principal,
) -> ApiResult<StatusCode> {
    let change = app.change().await;
    let mut record = own_account(&app, &principal).await?;
    if record.secondary_token_sealed.is_none() {
        return Err(no_secondary("/v1/AuthTokens/Secondary"));
    }
    record.secondary_token_sealed = None;
    record.secondary_token_created = None;
    record.date_updated = app.clock.now().0;
    let event = audit::by(
        &principal,
        record.date_updated,
        &record.sid,
        "account-secondary-auth-token.deleted",
        ("account-secondary-auth-token", Some(&record.sid)),
        json!({}),
    );
    app.store.update_account(&record, &event).await?;
    change.commit(|snapshot, key| snapshot.put_account(key, &record))?;
    tracing::info!(account = %record.sid, "secondary auth token deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/AuthTokens/Promote`: the secondary becomes primary; the old
/// primary stops working at once. 404 if there is no secondary.
pub async fn promote(State(app): State<Arc<App>>, principal: Principal) -> ApiResult<Json<Value>> {
    let change = app.change().await;
    let mut record = own_account(&app, &principal).await?;
    let Some(secondary) = record.secondary_token_sealed.take() else {
        return Err(no_secondary("/v1/AuthTokens/Promote"));
    };
    let token = app.open_token(&record.sid, &secondary)?;
    let created = record
        .secondary_token_created
        .take()
        .unwrap_or(record.date_updated);
    let now = app.clock.now();
    record.auth_token_sealed = secondary;
    record.date_updated = now.0;
    let event = audit::by(
        &principal,
        now.0,
        &record.sid,
        "account-auth-token.promoted",
        ("account-auth-token", Some(&record.sid)),
        json!({}),
    );
    app.store.update_account(&record, &event).await?;
    change.commit(|snapshot, key| snapshot.put_account(key, &record))?;
    tracing::info!(account = %record.sid, "secondary auth token promoted");
    Ok(Json(json!({
        "account_sid": record.sid,
        "auth_token": token.as_str(),
        "date_created": Timestamp(created).iso8601(),
        "date_updated": now.iso8601(),
        "url": format!("{}/v1/AuthTokens/Promote", app.public_url),
    })))
}
