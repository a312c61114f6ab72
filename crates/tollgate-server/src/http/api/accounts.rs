//! `/2010-04-01/Accounts.json` and `/2010-04-01/Accounts/{Sid}.json`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use tollgate_secrets::{MasterKey, SecretError, generate_auth_token};
use tollgate_store::{AccountQuery, AccountRecord};
use tollgate_types::error_code as codes;
use tollgate_types::{AccountStatus, SidPrefix, Timestamp};

use crate::app::App;
use crate::audit;
use crate::error::{ApiError, ApiResult};
use crate::http::auth::Principal;
use crate::http::wire::{PageRequest, Params, friendly_name, json_segment};
use crate::random::{OsRandom, new_sid};

/// The subresources Tollgate serves under an account, as Twilio lists them.
const SUBRESOURCES: &[(&str, &str)] = &[("keys", "Keys"), ("balance", "Balance")];

/// An account as Twilio renders it. `auth_token` is included, as Twilio does,
/// for callers using account credentials (the only ones that reach this).
pub fn render(app: &App, record: &AccountRecord) -> ApiResult<Value> {
    let token = app.open_token(&record.sid, &record.auth_token_sealed)?;
    let base = format!("/2010-04-01/Accounts/{}", record.sid);
    let subresources: serde_json::Map<String, Value> = SUBRESOURCES
        .iter()
        .map(|(key, path)| {
            (
                (*key).to_owned(),
                Value::String(format!("{base}/{path}.json")),
            )
        })
        .collect();
    Ok(json!({
        "auth_token": token.as_str(),
        "date_created": Timestamp(record.date_created).rfc2822(),
        "date_updated": Timestamp(record.date_updated).rfc2822(),
        "friendly_name": record.friendly_name,
        "owner_account_sid": record.owner_account_sid,
        "sid": record.sid,
        "status": record.status,
        "subresource_uris": subresources,
        "type": "Full",
        "uri": format!("{base}.json"),
    }))
}

/// Twilio's default name for a subaccount (times in UTC here).
pub fn default_subaccount_name(now: Timestamp) -> String {
    let (y, mo, d, h, mi) = now.civil();
    let meridian = if h < 12 { "AM" } else { "PM" };
    format!("SubAccount Created at {y:04}-{mo:02}-{d:02} {h:02}:{mi:02} {meridian}")
}

/// A new active account with a fresh token sealed under `key`; `owner: None`
/// makes a main account. Returns the plaintext token too, to show once.
pub fn new_account(
    key: &MasterKey,
    owner: Option<&str>,
    name: String,
    now: Timestamp,
) -> Result<(AccountRecord, zeroize::Zeroizing<String>), SecretError> {
    let sid = new_sid(SidPrefix::Account).to_string();
    let token = generate_auth_token(&mut OsRandom);
    let sealed = key.seal(&sid, token.as_bytes(), &mut OsRandom)?;
    let record = AccountRecord {
        owner_account_sid: owner.unwrap_or(&sid).to_owned(),
        sid,
        friendly_name: name,
        status: AccountStatus::Active,
        auth_token_sealed: sealed,
        secondary_token_sealed: None,
        secondary_token_created: None,
        require_client_validation: false,
        dialing_permissions_inheritance: true,
        date_created: now.0,
        date_updated: now.0,
    };
    Ok((record, token))
}

/// `POST /2010-04-01/Accounts.json`: create a subaccount.
pub async fn create(
    State(app): State<Arc<App>>,
    principal: Principal,
    params: Params,
) -> ApiResult<(StatusCode, Json<Value>)> {
    principal.require_account_credentials()?;
    if !principal.account.is_main() {
        return Err(ApiError::new(
            &codes::SUBACCOUNT_NESTING,
            "Subaccounts cannot contain subaccounts",
        ));
    }
    let now = app.clock.now();
    let name = match params.get("FriendlyName") {
        Some(name) => friendly_name(name)?,
        None => default_subaccount_name(now),
    };
    let (record, _token) = new_account(app.master_key(), Some(&principal.account.sid), name, now)
        .map_err(|_| ApiError::internal())?;
    let change = app.change().await;
    let event = audit::by(
        &principal,
        now.0,
        &principal.account.sid,
        "account.created",
        ("account", Some(&record.sid)),
        json!({"after": {"friendly_name": record.friendly_name,
            "status": record.status.as_str(), "owner_account_sid": record.owner_account_sid}}),
    );
    app.store.insert_account(&record, &event).await?;
    change.commit(|snapshot, key| snapshot.put_account(key, &record))?;
    Ok((StatusCode::CREATED, Json(render(&app, &record)?)))
}

/// `GET /2010-04-01/Accounts.json`: the caller's account and its subaccounts.
pub async fn list(
    State(app): State<Arc<App>>,
    principal: Principal,
    params: Params,
) -> ApiResult<Json<Value>> {
    principal.require_account_credentials()?;
    let page = PageRequest::from_params(&params)?;
    let status = params
        .get("Status")
        .map(|s| s.parse::<AccountStatus>())
        .transpose()
        .map_err(|_| {
            ApiError::new(
                &codes::INVALID_STATUS,
                "Status must be active, suspended or closed",
            )
        })?;
    let query = AccountQuery {
        family_of: principal.account.sid.clone(),
        friendly_name: params.get("FriendlyName").map(str::to_owned),
        status,
    };
    let rows = app.store.list_accounts(&query, &page.store_query()).await?;
    let rendered: Vec<((i64, String), Value)> = rows
        .iter()
        .map(|r| render(&app, r).map(|v| ((r.date_created, r.sid.clone()), v)))
        .collect::<ApiResult<_>>()?;
    let page = page.settle(rendered, |(key, _)| key.clone());
    Ok(Json(page.twilio_2010(
        "accounts",
        "/2010-04-01/Accounts.json",
        &params,
        |(_, v)| v.clone(),
    )))
}

/// Resolves `{Sid}.json` to a stored account the caller may act on.
async fn target(
    app: &App,
    principal: &Principal,
    segment: &str,
    path: &str,
) -> ApiResult<AccountRecord> {
    let sid = json_segment(segment).ok_or_else(|| ApiError::not_found(path))?;
    principal.account(sid)?;
    app.store
        .account(sid)
        .await?
        .ok_or_else(|| ApiError::not_found(path))
}

/// `GET /2010-04-01/Accounts/{Sid}.json`
pub async fn fetch(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(segment): Path<String>,
) -> ApiResult<Json<Value>> {
    principal.require_account_credentials()?;
    let path = format!("/2010-04-01/Accounts/{segment}");
    let record = target(&app, &principal, &segment, &path).await?;
    Ok(Json(render(&app, &record)?))
}

/// What an update asks for, checked against Twilio's rules.
pub fn plan_update(
    principal_sid: &str,
    target: &AccountRecord,
    params: &Params,
) -> ApiResult<(String, AccountStatus)> {
    let name = match params.get("FriendlyName") {
        Some(name) => friendly_name(name)?,
        None => target.friendly_name.clone(),
    };
    let status = match params.get("Status") {
        None => target.status,
        Some(s) => {
            let wanted: AccountStatus = s.parse().map_err(|_| {
                ApiError::new(
                    &codes::INVALID_STATUS,
                    "Unable to update Status, invalid Status.",
                )
            })?;
            if target.is_main() {
                if wanted != AccountStatus::Active {
                    return Err(ApiError::new(
                        &codes::MAIN_ACCOUNT_STATUS,
                        "Unable to update Status for parent accounts",
                    ));
                }
            } else if target.sid == principal_sid {
                // A subaccount cannot change its own status: only its parent can.
                return Err(ApiError::authenticate());
            }
            if target.status == AccountStatus::Closed && wanted != AccountStatus::Closed {
                return Err(ApiError::new(
                    &codes::CLOSED_ACCOUNT,
                    "Unable to update Status for subaccount, subaccount has been closed.",
                ));
            }
            wanted
        }
    };
    Ok((name, status))
}

/// `POST /2010-04-01/Accounts/{Sid}.json`: FriendlyName and Status.
pub async fn update(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(segment): Path<String>,
    params: Params,
) -> ApiResult<Json<Value>> {
    principal.require_account_credentials()?;
    let path = format!("/2010-04-01/Accounts/{segment}");
    let change = app.change().await;
    let mut record = target(&app, &principal, &segment, &path).await?;
    let (name, status) = plan_update(&principal.account.sid, &record, &params)?;
    // A status given is written even when unchanged: a parent suspending an
    // account under lockdown takes the lockdown's undo over (its seal no
    // longer matches the row).
    if name != record.friendly_name || status != record.status || params.get("Status").is_some() {
        let before =
            json!({"friendly_name": record.friendly_name, "status": record.status.as_str()});
        let after = json!({"friendly_name": name, "status": status.as_str()});
        record.friendly_name = name;
        if status != record.status {
            tracing::info!(account = %record.sid, from = %record.status, to = %status, "account status changed");
        }
        record.status = status;
        record.date_updated = app.clock.now().0;
        let event = audit::by(
            &principal,
            record.date_updated,
            &record.sid,
            "account.updated",
            ("account", Some(&record.sid)),
            audit::changes(&before, &after),
        );
        app.store.update_account(&record, &event).await?;
        change.commit(|snapshot, key| snapshot.put_account(key, &record))?;
        // Twilio lets calls run on; Tollgate ends them with the account.
        if record.status != AccountStatus::Active {
            app.carrier.end_calls_of(&record.sid);
        }
    }
    Ok(Json(render(&app, &record)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(sid: &str, owner: &str, status: AccountStatus) -> AccountRecord {
        AccountRecord {
            sid: sid.into(),
            owner_account_sid: owner.into(),
            friendly_name: "n".into(),
            status,
            auth_token_sealed: vec![],
            secondary_token_sealed: None,
            secondary_token_created: None,
            require_client_validation: false,
            dialing_permissions_inheritance: true,
            date_created: 0,
            date_updated: 0,
        }
    }

    fn code(r: ApiResult<(String, AccountStatus)>) -> u32 {
        r.unwrap_err().spec.code
    }

    #[test]
    fn update_rules_follow_twilio() {
        let p = |q: &str| Params::parse(q.as_bytes());
        let main = record("ACm", "ACm", AccountStatus::Active);
        let sub = record("ACs", "ACm", AccountStatus::Active);
        let closed = record("ACc", "ACm", AccountStatus::Closed);
        assert_eq!(
            code(plan_update("ACm", &main, &p("Status=suspended"))),
            21477
        );
        assert_eq!(code(plan_update("ACm", &main, &p("Status=closed"))), 21477);
        assert!(plan_update("ACm", &main, &p("Status=active")).is_ok());
        assert_eq!(code(plan_update("ACm", &sub, &p("Status=paused"))), 21475);
        assert_eq!(
            code(plan_update("ACs", &sub, &p("Status=suspended"))),
            20003
        );
        assert_eq!(
            plan_update("ACm", &sub, &p("Status=suspended")).unwrap().1,
            AccountStatus::Suspended
        );
        assert_eq!(
            code(plan_update("ACm", &closed, &p("Status=active"))),
            21479
        );
        assert_eq!(
            code(plan_update("ACm", &closed, &p("Status=suspended"))),
            21479
        );
        assert_eq!(
            code(plan_update(
                "ACm",
                &sub,
                &p(&format!("FriendlyName={}", "x".repeat(65)))
            )),
            20002
        );
        assert_eq!(
            plan_update("ACs", &sub, &p("FriendlyName=new")).unwrap().0,
            "new"
        );
    }

    #[test]
    fn default_name_uses_the_given_time() {
        assert_eq!(
            default_subaccount_name(Timestamp(1_282_161_700_000)),
            "SubAccount Created at 2010-08-18 20:01 PM"
        );
    }
}
