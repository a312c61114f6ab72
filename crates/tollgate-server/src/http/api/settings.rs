//! `/tollgate/v1/Accounts/{Sid}/Settings`: per-account security switches:
//! `RequireClientValidation` (Public Key Client Validation), and the
//! phishing and privacy switches of `account_settings` (`RecipientPolicy`,
//! `LinkPolicy`, `LinkDomains`, `LinkBlocklist`, `StripInboundLinks`,
//! `StripInboundPhoneNumbers`, `RedactPhoneNumbers`, `RedactMessageBodies`).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};
use tollgate_store::AccountRecord;

use crate::app::App;
use crate::audit;
use crate::error::{ApiError, ApiResult};
use crate::http::auth::Principal;
use crate::http::wire::Params;
use crate::state::account_settings::{
    AccountSettings, DEFAULT_INBOUND_PER_MINUTE, LinkPolicy, RecipientPolicy,
};

fn render(app: &App, account: &AccountRecord) -> Value {
    let mut body = render_settings(&app.snapshot().settings_of(&account.sid));
    if let Some(map) = body.as_object_mut() {
        map.insert("account_sid".into(), json!(account.sid));
        map.insert(
            "require_client_validation".into(),
            json!(account.require_client_validation),
        );
        map.insert(
            "url".into(),
            json!(format!(
                "{}/tollgate/v1/Accounts/{}/Settings",
                app.public_url, account.sid
            )),
        );
    }
    body
}

async fn load(app: &App, principal: &Principal, sid: &str) -> ApiResult<AccountRecord> {
    principal.require_account_credentials()?;
    let account = principal.account(sid)?;
    app.store
        .account(&account.sid)
        .await?
        .ok_or_else(ApiError::authenticate)
}

/// `GET …/Settings`
pub async fn fetch(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(account): Path<String>,
) -> ApiResult<Json<Value>> {
    let record = load(&app, &principal, &account).await?;
    Ok(Json(render(&app, &record)))
}

/// `POST …/Settings`: `RequireClientValidation=true|false`. Turning it on
/// needs a registered public key, so the account cannot lock itself out.
pub async fn update(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(account): Path<String>,
    params: Params,
) -> ApiResult<Json<Value>> {
    let change = app.change().await;
    let mut record = load(&app, &principal, &account).await?;
    if let Some(require) = params.flag("RequireClientValidation")? {
        let has_key = app.snapshot().public_keys_of(&record.sid).next().is_some();
        if require && !has_key {
            return Err(ApiError::invalid(
                "RequireClientValidation",
                "register a public key for this account first (POST /v1/Credentials/PublicKeys)",
            ));
        }
        record.require_client_validation = require;
    }
    let now = app.clock.now().0;
    let mut rows = Vec::new();
    for name in crate::state::account_settings::NAMES {
        if let Some(value) = params.get(name) {
            let value = crate::state::account_settings::validate(name, value)
                .map_err(|why| ApiError::invalid(name, why))?;
            rows.push(tollgate_store::SettingRecord {
                account_sid: record.sid.clone(),
                name: name.to_owned(),
                value,
                date_updated: now,
            });
        }
    }
    // Each write carries the events of what it changes, in its own
    // transaction: the account row (client validation), then the settings.
    let event = |after: Value| {
        audit::by(
            &principal,
            now,
            &record.sid,
            "account-settings.updated",
            ("account-settings", Some(&record.sid)),
            json!({"after": after}),
        )
    };
    if let Some(require) = params.flag("RequireClientValidation")? {
        record.date_updated = now;
        let changed = event(json!({"require_client_validation": require}));
        app.store.update_account(&record, &changed).await?;
    }
    if !rows.is_empty() {
        let after: serde_json::Map<String, Value> = rows
            .iter()
            .map(|row| (row.name.clone(), json!(row.value)))
            .collect();
        app.store
            .upsert_settings(&rows, &event(Value::Object(after)))
            .await?;
        for row in &rows {
            tracing::info!(account = %record.sid, setting = %row.name, value = %row.value, "account setting changed");
        }
    }
    change.commit(|snapshot, key| {
        if params.get("RequireClientValidation").is_some() {
            snapshot.put_account(key, &record)?;
        }
        snapshot.put_settings(&rows);
        Ok(())
    })?;
    tracing::info!(account = %record.sid, require_client_validation = record.require_client_validation, "account settings changed");
    Ok(Json(render(&app, &record)))
}

/// The settings as the API shows them.
fn render_settings(s: &AccountSettings) -> serde_json::Value {
    serde_json::json!({
        "recipient_policy": match s.recipient_policy {
            RecipientPolicy::Any => "any",
            RecipientPolicy::Allowlist => "allowlist",
            RecipientPolicy::Known => "known",
        },
        "link_policy": match s.link_policy {
            LinkPolicy::Allow => "allow",
            LinkPolicy::Block => "block",
            LinkPolicy::Allowlist => "allowlist",
        },
        "link_domains": s.link_domains,
        "link_blocklist": s.link_blocklist,
        "strip_inbound_links": s.strip_inbound_links,
        "strip_inbound_phone_numbers": s.strip_inbound_phone_numbers,
        "redact_phone_numbers": s.redact_phone_numbers,
        "redact_message_bodies": s.redact_message_bodies,
        "sms_pumping_protection": s.sms_pumping_protection,
        "inbound_rate_per_minute": s.inbound_rate_per_minute.unwrap_or(DEFAULT_INBOUND_PER_MINUTE),
    })
}
