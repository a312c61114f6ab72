//! Accounts v1 `/v1/Credentials/PublicKeys`: the RSA public keys that sign
//! `Twilio-Client-Validation` JWTs. Managed with account credentials.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use tollgate_signature::client_validation::PublicKey;
use tollgate_store::PublicKeyRecord;
use tollgate_types::error_code as codes;
use tollgate_types::{SidPrefix, Timestamp};

use crate::app::App;
use crate::audit;
use crate::error::{ApiError, ApiResult};
use crate::http::auth::Principal;
use crate::http::wire::{PageRequest, Params, friendly_name};
use crate::random::new_sid;
use crate::state::snapshot::PublicKeyEntry;

const PATH: &str = "/v1/Credentials/PublicKeys";
/// A PEM of an 8192-bit key is under 1.5 KiB; anything far larger is not a key.
const MAX_PEM_BYTES: usize = 16 * 1024;

fn render(app: &App, key: &PublicKeyRecord) -> Value {
    json!({
        "sid": key.sid,
        "account_sid": key.account_sid,
        "friendly_name": key.friendly_name,
        "date_created": Timestamp(key.date_created).iso8601(),
        "date_updated": Timestamp(key.date_updated).iso8601(),
        "url": format!("{}{PATH}/{}", app.public_url, key.sid),
    })
}

/// `POST /v1/Credentials/PublicKeys`: `PublicKey` (PEM), `FriendlyName`, `AccountSid`.
pub async fn create(
    State(app): State<Arc<App>>,
    principal: Principal,
    params: Params,
) -> ApiResult<(StatusCode, Json<Value>)> {
    principal.require_account_credentials()?;
    let pem = params
        .get("PublicKey")
        .ok_or_else(|| ApiError::missing("PublicKey"))?;
    if pem.len() > MAX_PEM_BYTES {
        return Err(ApiError::new(
            &codes::CV_PUBLIC_KEY_INVALID,
            "Public Key Is Invalid: longer than any RSA public key",
        ));
    }
    let parsed = PublicKey::from_pem(pem).map_err(|e| {
        ApiError::new(
            &codes::CV_PUBLIC_KEY_INVALID,
            format!("Public Key Is Invalid: {e}"),
        )
    })?;
    let account = match params.get("AccountSid") {
        Some(sid) => principal.account(sid)?,
        None => principal.account.clone(),
    };
    let name = params.get("FriendlyName").map(friendly_name).transpose()?;
    let now = app.clock.now();
    let record = PublicKeyRecord {
        sid: new_sid(SidPrefix::PublicKey).to_string(),
        account_sid: account.sid.clone(),
        friendly_name: name,
        public_key: pem.to_owned(),
        date_created: now.0,
        date_updated: now.0,
    };
    let change = app.change().await;
    let event = audit::by(
        &principal,
        now.0,
        &record.account_sid,
        "credential-public-keys.created",
        ("credential-public-keys", Some(&record.sid)),
        json!({"after": {"friendly_name": record.friendly_name}}),
    );
    app.store.insert_public_key(&record, &event).await?;
    change.commit(|snapshot, _| {
        snapshot.put_public_key(&record);
        Ok(())
    })?;
    tracing::info!(sid = %record.sid, account = %record.account_sid, bits = parsed.bits(), "public key registered");
    Ok((StatusCode::CREATED, Json(render(&app, &record))))
}

/// `GET /v1/Credentials/PublicKeys`: the caller's account's keys.
pub async fn list(
    State(app): State<Arc<App>>,
    principal: Principal,
    params: Params,
) -> ApiResult<Json<Value>> {
    principal.require_account_credentials()?;
    let page = PageRequest::from_params(&params)?;
    let rows = app
        .store
        .list_public_keys(&principal.account.sid, &page.store_query())
        .await?;
    let page = page.settle(rows, |k| (k.date_created, k.sid.clone()));
    Ok(Json(page.twilio_v1(
        "credentials",
        &app.public_url,
        PATH,
        &params,
        |k| render(&app, k),
    )))
}

/// The key `sid` if the caller may manage it (its account or a subaccount's).
fn owned(principal: &Principal, sid: &str) -> ApiResult<Arc<PublicKeyEntry>> {
    principal.require_account_credentials()?;
    let entry = principal
        .snapshot
        .public_keys
        .get(sid)
        .cloned()
        .ok_or_else(|| ApiError::not_found(&format!("{PATH}/{sid}")))?;
    principal
        .account(&entry.record.account_sid)
        .map_err(|_| ApiError::not_found(&format!("{PATH}/{sid}")))?;
    Ok(entry)
}

/// `GET /v1/Credentials/PublicKeys/{Sid}`
pub async fn fetch(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(sid): Path<String>,
) -> ApiResult<Json<Value>> {
    let entry = owned(&principal, &sid)?;
    Ok(Json(render(&app, &entry.record)))
}

/// `POST /v1/Credentials/PublicKeys/{Sid}`: `FriendlyName`.
pub async fn update(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(sid): Path<String>,
    params: Params,
) -> ApiResult<Json<Value>> {
    let entry = owned(&principal, &sid)?;
    let mut record = entry.record.clone();
    if let Some(name) = params.get("FriendlyName") {
        record.friendly_name = Some(friendly_name(name)?);
    }
    record.date_updated = app.clock.now().0;
    let change = app.change().await;
    let event = audit::by(
        &principal,
        record.date_updated,
        &record.account_sid,
        "credential-public-keys.updated",
        ("credential-public-keys", Some(&record.sid)),
        json!({"before": {"friendly_name": entry.record.friendly_name}, "after": {"friendly_name": record.friendly_name}}),
    );
    if !app.store.update_public_key(&record, &event).await? {
        return Err(ApiError::not_found(&format!("{PATH}/{sid}")));
    }
    change.commit(|snapshot, _| {
        snapshot.put_public_key(&record);
        Ok(())
    })?;
    Ok(Json(render(&app, &record)))
}

/// `DELETE /v1/Credentials/PublicKeys/{Sid}`: JWTs naming it fail at once.
pub async fn delete(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(sid): Path<String>,
) -> ApiResult<StatusCode> {
    let entry = owned(&principal, &sid)?;
    let change = app.change().await;
    let account_sid = &entry.record.account_sid;
    let still_required = app
        .snapshot()
        .accounts
        .get(account_sid)
        .is_some_and(|a| a.require_client_validation);
    let others = app
        .snapshot()
        .public_keys_of(account_sid)
        .filter(|k| k.record.sid != sid)
        .count();
    if still_required && others == 0 {
        return Err(ApiError::new(
            &codes::CONFLICT,
            "This is the account's last public key and the account requires client validation: turn RequireClientValidation off first",
        ));
    }
    let event = audit::by(
        &principal,
        app.clock.now().0,
        account_sid,
        "credential-public-keys.deleted",
        ("credential-public-keys", Some(&sid)),
        json!({"before": {"friendly_name": entry.record.friendly_name}}),
    );
    app.store
        .delete_public_key(account_sid, &sid, &event)
        .await?;
    change.commit(|snapshot, _| {
        snapshot.remove_public_key(&sid);
        Ok(())
    })?;
    tracing::info!(%sid, account = %account_sid, "public key deleted");
    Ok(StatusCode::NO_CONTENT)
}
