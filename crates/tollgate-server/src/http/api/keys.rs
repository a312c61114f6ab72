//! `/2010-04-01/Accounts/{Sid}/Keys.json` and `/Keys/{KeySid}.json`.
//! Managed only with account credentials; secrets are shown once.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use tollgate_secrets::{fingerprint, generate_key_secret, hash_secret};
use tollgate_store::ApiKeyRecord;
use tollgate_types::error_code as codes;
use tollgate_types::{AccountStatus, SidPrefix, Timestamp};

use crate::app::App;
use crate::audit;
use crate::error::{ApiError, ApiResult};
use crate::http::auth::Principal;
use crate::http::wire::{PageRequest, Params, friendly_name, json_segment};
use crate::random::{OsRandom, new_sid};
use crate::state::snapshot::AccountEntry;

fn render(key: &ApiKeyRecord) -> Value {
    json!({
        "sid": key.sid,
        "friendly_name": key.friendly_name,
        "date_created": Timestamp(key.date_created).rfc2822(),
        "date_updated": Timestamp(key.date_updated).rfc2822(),
    })
}

/// The account named in the path, if the caller may manage its keys.
fn owner(principal: &Principal, segment: &str) -> ApiResult<Arc<AccountEntry>> {
    principal.require_account_credentials()?;
    principal.account(segment)
}

/// `POST …/Keys.json`
pub async fn create(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(account): Path<String>,
    params: Params,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let account = owner(&principal, &account)?;
    if account.status != AccountStatus::Active {
        return Err(ApiError::new(
            &codes::ACCOUNT_NOT_ACTIVE,
            "Account not active: keys can be created only for active accounts",
        ));
    }
    let name = params
        .get("FriendlyName")
        .map(friendly_name)
        .transpose()?
        .unwrap_or_default();
    let secret = generate_key_secret(&mut OsRandom);
    let hashed = {
        let secret = secret.clone();
        app.auth
            .argon2(move || hash_secret(&secret, &mut OsRandom))
            .await
            .map_err(|_| {
                ApiError::new(
                    &codes::UNAVAILABLE,
                    "Service is unavailable, please try again",
                )
            })?
            .ok()
            .ok_or_else(ApiError::internal)?
    };
    let now = app.clock.now();
    let record = ApiKeyRecord {
        sid: new_sid(SidPrefix::ApiKey).to_string(),
        account_sid: account.sid.clone(),
        friendly_name: name,
        secret_hash: hashed,
        date_created: now.0,
        date_updated: now.0,
    };
    let change = app.change().await;
    let event = audit::by(
        &principal,
        now.0,
        &record.account_sid,
        "account-keys.created",
        ("account-keys", Some(&record.sid)),
        json!({"after": {"friendly_name": record.friendly_name}}),
    );
    app.store.insert_api_key(&record, &event).await?;
    change.commit(|snapshot, _| {
        snapshot.put_key(&record);
        Ok(())
    })?;
    // The secret is known now: remember it, so the first use needs no argon2 run.
    if let Some(entry) = app.snapshot().keys.get(&record.sid) {
        let _ = entry
            .verified
            .set(fingerprint(&app.fingerprint_key, secret.as_bytes()));
    }
    let mut body = render(&record);
    if let Some(map) = body.as_object_mut() {
        map.insert("secret".into(), Value::String(secret.to_string()));
    }
    Ok((StatusCode::CREATED, Json(body)))
}

/// `GET …/Keys.json`
pub async fn list(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(account): Path<String>,
    params: Params,
) -> ApiResult<Json<Value>> {
    let account = owner(&principal, &account)?;
    let page = PageRequest::from_params(&params)?;
    let rows = app
        .store
        .list_api_keys(&account.sid, &page.store_query())
        .await?;
    let page = page.settle(rows, |k| (k.date_created, k.sid.clone()));
    Ok(Json(page.twilio_2010(
        "keys",
        &format!("/2010-04-01/Accounts/{}/Keys.json", account.sid),
        &params,
        render,
    )))
}

async fn stored(
    app: &App,
    principal: &Principal,
    account: &str,
    key: &str,
) -> ApiResult<ApiKeyRecord> {
    let path = format!("/2010-04-01/Accounts/{account}/Keys/{key}");
    let account = owner(principal, account)?;
    let sid = json_segment(key).ok_or_else(|| ApiError::not_found(&path))?;
    app.store
        .api_key(&account.sid, sid)
        .await?
        .ok_or_else(|| ApiError::not_found(&path))
}

/// `GET …/Keys/{Sid}.json`
pub async fn fetch(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path((account, key)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    Ok(Json(render(
        &stored(&app, &principal, &account, &key).await?,
    )))
}

/// `POST …/Keys/{Sid}.json`: FriendlyName.
pub async fn update(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path((account, key)): Path<(String, String)>,
    params: Params,
) -> ApiResult<Json<Value>> {
    let change = app.change().await;
    let mut record = stored(&app, &principal, &account, &key).await?;
    if let Some(name) = params.get("FriendlyName") {
        let before = std::mem::replace(&mut record.friendly_name, friendly_name(name)?);
        record.date_updated = app.clock.now().0;
        let event = audit::by(
            &principal,
            record.date_updated,
            &record.account_sid,
            "account-keys.updated",
            ("account-keys", Some(&record.sid)),
            json!({"before": {"friendly_name": before}, "after": {"friendly_name": record.friendly_name}}),
        );
        app.store.update_api_key(&record, &event).await?;
        // The name is not in the snapshot.
        change.commit_outside_snapshot();
    }
    Ok(Json(render(&record)))
}

/// `DELETE …/Keys/{Sid}.json`: the key stops working at once.
pub async fn delete(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path((account, key)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let change = app.change().await;
    let record = stored(&app, &principal, &account, &key).await?;
    app.store
        .delete_api_key(
            &record.account_sid,
            &record.sid,
            &audit::by(
                &principal,
                app.clock.now().0,
                &record.account_sid,
                "account-keys.deleted",
                ("account-keys", Some(&record.sid)),
                json!({"before": {"friendly_name": record.friendly_name}}),
            ),
        )
        .await?;
    change.commit(|snapshot, _| {
        snapshot.remove_key(&record.sid);
        Ok(())
    })?;
    tracing::info!(key = %record.sid, account = %record.account_sid, "api key deleted");
    Ok(StatusCode::NO_CONTENT)
}
