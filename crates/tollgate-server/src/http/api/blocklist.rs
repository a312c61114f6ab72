//! `/tollgate/v1/Blocklist`: numbers or prefixes whose inbound texts are
//! dropped (optionally until an expiry), with the counts of dropped texts.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use tollgate_store::BlockRecord;
use tollgate_types::Timestamp;

use crate::app::App;
use crate::audit;
use crate::error::{ApiError, ApiResult};
use crate::http::auth::Principal;
use crate::http::wire::{Order, PageRequest, Params};

fn render(b: &BlockRecord) -> Value {
    json!({
        "account_sid": b.account_sid,
        "prefix": format!("+{}", b.prefix),
        "expires": b.expires_at.map(|t| Timestamp(t).iso8601()),
        "date_created": Timestamp(b.date_created).iso8601(),
    })
}

/// The digits of an E.164 number or prefix: `+`, an assigned country
/// calling code, at most 15 digits in all.
fn digits(app: &App, text: &str) -> Option<String> {
    let d = text.trim().strip_prefix('+')?;
    let well_formed = !d.is_empty() && d.len() <= 15 && d.bytes().all(|b| b.is_ascii_digit());
    (well_formed && app.classifier.calling_code(d).is_some()).then(|| d.to_owned())
}

/// `POST /tollgate/v1/Blocklist` (`Number`: a number or prefix; `ExpiresIn` seconds).
pub async fn create(
    State(app): State<Arc<App>>,
    principal: Principal,
    params: Params,
) -> ApiResult<(StatusCode, Json<Value>)> {
    principal.require_account_credentials()?;
    let prefix = digits(
        &app,
        params
            .get("Number")
            .ok_or_else(|| ApiError::missing("Number"))?,
    )
    .ok_or_else(|| {
        ApiError::invalid(
            "Number",
            "must be an E.164 number or prefix that starts with a country code, like +2526",
        )
    })?;
    let now = app.clock.now().0;
    let expires_at = match params.get("ExpiresIn") {
        None => None,
        Some(v) => Some(
            now + v
                .parse::<i64>()
                .ok()
                .filter(|s| (1..=366 * 86_400).contains(s))
                .ok_or_else(|| ApiError::invalid("ExpiresIn", "must be 1 to 31622400 seconds"))?
                * 1000,
        ),
    };
    let record = BlockRecord {
        account_sid: principal.account.sid.clone(),
        prefix,
        expires_at,
        date_created: now,
    };
    let change = app.change().await;
    let event = audit::by(
        &principal,
        now,
        &record.account_sid,
        "tollgate-blocklist.created",
        ("tollgate-blocklist", Some(&record.prefix)),
        json!({"after": {"prefix": record.prefix, "expires_at": record.expires_at}}),
    );
    app.store.upsert_block(&record, &event).await?;
    change.commit(|snapshot, _| {
        snapshot.put_block(&record);
        Ok(())
    })?;
    Ok((StatusCode::CREATED, Json(render(&record))))
}

/// `GET /tollgate/v1/Blocklist`: entries in force (paged, by prefix) and the
/// dropped-text counts.
pub async fn list(
    State(app): State<Arc<App>>,
    principal: Principal,
    params: Params,
) -> ApiResult<Json<Value>> {
    let page = PageRequest::<String>::from_params(&params)?;
    let now = app.clock.now().0;
    let entries: Vec<&BlockRecord> = principal
        .snapshot
        .blocks
        .get(&principal.account.sid)
        .into_iter()
        .flat_map(|list| list.iter())
        .filter(|b| b.expires_at.is_none_or(|t| t > now))
        .collect();
    let page = page.slice(entries, Order::Ascending, |b| b.prefix.clone());
    Ok(Json(page.twilio_v1_with(
        "entries",
        &app.public_url,
        "/tollgate/v1/Blocklist",
        &params,
        |b| render(b),
        json!({"dropped": app.traffic.dropped(&principal.account.sid)}),
    )))
}

/// `DELETE /tollgate/v1/Blocklist/{Number}`
pub async fn delete(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(number): Path<String>,
) -> ApiResult<StatusCode> {
    principal.require_account_credentials()?;
    let prefix = digits(&app, &number)
        .ok_or_else(|| ApiError::not_found(&format!("/tollgate/v1/Blocklist/{number}")))?;
    let change = app.change().await;
    if !app
        .store
        .delete_block(
            &principal.account.sid,
            &prefix,
            &audit::by(
                &principal,
                app.clock.now().0,
                &principal.account.sid,
                "tollgate-blocklist.deleted",
                ("tollgate-blocklist", Some(&prefix)),
                json!({"before": {"prefix": prefix}}),
            ),
        )
        .await?
    {
        return Err(ApiError::not_found(&format!(
            "/tollgate/v1/Blocklist/{number}"
        )));
    }
    change.commit(|snapshot, _| {
        snapshot.remove_block(&principal.account.sid, &prefix);
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT)
}
