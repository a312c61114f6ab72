//! The Global Safe List (`accounts` domain, `/v1/SafeList/Numbers`) and
//! Fraud Guard's blocks (`/tollgate/v1/FraudGuard/Blocks`): each block with
//! its range, rule, evidence and expiry, and a way to lift it by hand.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use tollgate_store::{FraudBlockRecord, SafeListRecord};
use tollgate_types::error_code as codes;
use tollgate_types::{SidPrefix, Timestamp};

use crate::app::App;
use crate::audit;
use crate::error::{ApiError, ApiResult};
use crate::http::auth::Principal;
use crate::http::wire::{Order, PageRequest, Params};
use crate::random::new_sid;

/// `+E164`, or a 1,000-number prefix written `+18001234xxx`.
fn safe_entry(app: &App, text: &str) -> ApiResult<String> {
    let text = text.trim();
    if let Some(head) = text.strip_suffix("xxx") {
        let digits = head.strip_prefix('+').unwrap_or("");
        let ok = digits.len() >= 6
            && digits.len() <= 12
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        return if ok {
            Ok(format!("+{digits}xxx"))
        } else {
            Err(ApiError::invalid(
                "PhoneNumber",
                "must be an E.164 number or a 1,000-number prefix like +18001234xxx",
            ))
        };
    }
    let c = app.classifier.classify(text, None);
    c.e164.filter(|_| c.valid).ok_or_else(|| {
        ApiError::invalid(
            "PhoneNumber",
            "must be an E.164 number or a 1,000-number prefix like +18001234xxx",
        )
    })
}

fn render_safe(app: &App, r: &SafeListRecord) -> Value {
    json!({
        "sid": r.sid,
        "phone_number": r.phone_number,
        "url": format!("{}/v1/SafeList/Numbers", app.public_url),
    })
}

/// `POST /v1/SafeList/Numbers` (`PhoneNumber`).
pub async fn add_safe(
    State(app): State<Arc<App>>,
    principal: Principal,
    params: Params,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let entry = safe_entry(
        &app,
        params
            .get("PhoneNumber")
            .ok_or_else(|| ApiError::missing("PhoneNumber"))?,
    )?;
    let now = app.clock.now().0;
    let record = SafeListRecord {
        sid: new_sid(SidPrefix::SafeListNumber).to_string(),
        account_sid: principal.account.sid.clone(),
        phone_number: entry.clone(),
        date_created: now,
    };
    let change = app.change().await;
    let event = audit::by(
        &principal,
        now,
        &record.account_sid,
        "safe-list.added",
        ("safe-list-number", Some(&record.sid)),
        json!({"after": {"phone_number": entry}}),
    );
    if !app.store.insert_safe_number(&record, &event).await? {
        return Err(ApiError::new(
            &codes::SAFE_LIST_DUPLICATE,
            format!("{} is on the Safe List already", record.phone_number),
        ));
    }
    app.verify.safe_list_add(&record);
    change.commit_outside_snapshot();
    Ok((StatusCode::CREATED, Json(render_safe(&app, &record))))
}

/// `GET /v1/SafeList/Numbers?PhoneNumber=`
pub async fn fetch_safe(
    State(app): State<Arc<App>>,
    principal: Principal,
    params: Params,
) -> ApiResult<Json<Value>> {
    let entry = safe_entry(
        &app,
        params
            .get("PhoneNumber")
            .ok_or_else(|| ApiError::missing("PhoneNumber"))?,
    )?;
    let record = app
        .store
        .all_safe_numbers()
        .await?
        .into_iter()
        .find(|r| r.account_sid == principal.account.sid && r.phone_number == entry)
        .ok_or_else(|| ApiError::not_found("/v1/SafeList/Numbers"))?;
    Ok(Json(render_safe(&app, &record)))
}

/// `DELETE /v1/SafeList/Numbers?PhoneNumber=`
pub async fn remove_safe(
    State(app): State<Arc<App>>,
    principal: Principal,
    params: Params,
) -> ApiResult<StatusCode> {
    let entry = safe_entry(
        &app,
        params
            .get("PhoneNumber")
            .ok_or_else(|| ApiError::missing("PhoneNumber"))?,
    )?;
    let account = principal.account.sid.clone();
    let change = app.change().await;
    let event = audit::by(
        &principal,
        app.clock.now().0,
        &account,
        "safe-list.removed",
        ("safe-list-number", None),
        json!({"before": {"phone_number": entry}}),
    );
    if !app
        .store
        .delete_safe_number(&account, &entry, &event)
        .await?
    {
        return Err(ApiError::not_found("/v1/SafeList/Numbers"));
    }
    app.verify.safe_list_remove(&account, &entry);
    change.commit_outside_snapshot();
    Ok(StatusCode::NO_CONTENT)
}

fn render_block(app: &App, b: &FraudBlockRecord) -> Value {
    let numbers: Value = serde_json::from_str(&b.numbers).unwrap_or_else(|_| json!([]));
    json!({
        "scope": b.scope,
        "account_sid": b.account_sid,
        "range": format!("+{}", b.prefix),
        "rule": b.rule,
        "evidence": b.evidence,
        "numbers": numbers,
        "refused": b.refused,
        "date_created": Timestamp(b.since).iso8601(),
        "date_expires": Timestamp(b.expires).iso8601(),
        "url": format!("{}/tollgate/v1/FraudGuard/Blocks/{}/{}", app.public_url, b.scope, b.prefix),
    })
}

/// `GET /tollgate/v1/FraudGuard/Blocks` (optional `Scope`): the standing
/// blocks of the caller's accounts.
pub async fn list_blocks(
    State(app): State<Arc<App>>,
    principal: Principal,
    params: Params,
) -> ApiResult<Json<Value>> {
    let page = PageRequest::from_params(&params)?;
    let now = app.clock.now().0;
    let scope = params.get("Scope");
    let rows: Vec<FraudBlockRecord> = app
        .verify
        .blocks(&principal.visible_accounts(), now)
        .into_iter()
        .filter(|b| scope.is_none_or(|s| s == b.scope))
        .collect();
    let page = page.slice(rows, Order::Ascending, |b| {
        format!("{}/{}", b.scope, b.prefix)
    });
    Ok(Json(page.twilio_v1(
        "blocks",
        &app.public_url,
        "/tollgate/v1/FraudGuard/Blocks",
        &params,
        |b| render_block(&app, b),
    )))
}

/// `DELETE /tollgate/v1/FraudGuard/Blocks/{Scope}/{Range}`: lifts a block.
pub async fn lift_block(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path((scope, range)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let prefix = range.trim_start_matches('+').to_owned();
    let not_found =
        || ApiError::not_found(&format!("/tollgate/v1/FraudGuard/Blocks/{scope}/{range}"));
    let account = app.verify.scope_account(&scope).ok_or_else(not_found)?;
    principal.account(&account).map_err(|_| not_found())?;
    let lifted = app.verify.lift(&scope, &prefix).ok_or_else(not_found)?;
    let change = app.change().await;
    let event = audit::by(
        &principal,
        app.clock.now().0,
        &lifted,
        "fraud-guard.block-lifted",
        ("fraud-guard-block", Some(&format!("{scope}/{prefix}"))),
        json!({"before": {"range": format!("+{prefix}")}}),
    );
    // Absent on disk when it was never written: the event still records the lift.
    if !app
        .store
        .delete_fraud_block(&scope, &prefix, &event)
        .await?
    {
        app.store.append_audit(&event).await?;
    }
    change.commit_outside_snapshot();
    Ok(StatusCode::NO_CONTENT)
}
