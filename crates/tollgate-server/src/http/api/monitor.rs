//! Monitor: v1 `/v1/Alerts` (errors returned or observed) and v2
//! `/v2/Alarms` (thresholds over alerts, JSON bodies as in Twilio's v2).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use tollgate_store::{AlarmRecord, AlertQuery, AlertRecord};
use tollgate_types::{SidPrefix, Timestamp};
use tollgate_webhook::request::Target;

use crate::app::App;
use crate::audit;
use crate::error::{ApiError, ApiResult};
use crate::http::auth::Principal;
use crate::http::wire::{Order, PageRequest, Params, display_text, friendly_name, iso_date};
use crate::random::{OsRandom, new_sid};

fn render_alert(app: &App, a: &AlertRecord) -> Value {
    json!({
        "sid": a.sid,
        "account_sid": a.account_sid,
        "alert_text": a.alert_text,
        "api_version": "2010-04-01",
        "date_created": Timestamp(a.date_created).iso8601(),
        "date_generated": Timestamp(a.date_created).iso8601(),
        "date_updated": Timestamp(a.date_created).iso8601(),
        "error_code": a.error_code.to_string(),
        "log_level": a.log_level,
        "more_info": format!("https://www.twilio.com/docs/errors/{}", a.error_code),
        // Twilio's alerts name GET or POST only; others show as null.
        "request_method": a.request_method.as_deref().filter(|m| matches!(*m, "GET" | "POST")),
        "request_url": a.request_url,
        "request_variables": null,
        "resource_sid": a.resource_sid,
        "response_body": null,
        "response_headers": null,
        "request_headers": null,
        "service_sid": null,
        "url": format!("{}/v1/Alerts/{}", app.public_url, a.sid),
    })
}

/// `GET /v1/Alerts` (`LogLevel`, `StartDate`, `EndDate`), newest first.
pub async fn list_alerts(
    State(app): State<Arc<App>>,
    principal: Principal,
    params: Params,
) -> ApiResult<Json<Value>> {
    let page = PageRequest::from_params(&params)?;
    let query = AlertQuery {
        account_sids: principal.visible_accounts(),
        log_level: params.get("LogLevel").map(str::to_owned),
        date_from: iso_date(&params, "StartDate")?,
        date_before: iso_date(&params, "EndDate")?,
        page: page.store_query(),
    };
    let rows = app.store.alerts(&query).await?;
    let page = page.settle(rows, |a| (a.date_created, a.sid.clone()));
    Ok(Json(page.twilio_v1(
        "alerts",
        &app.public_url,
        "/v1/Alerts",
        &params,
        |a| render_alert(&app, a),
    )))
}

/// `GET /v1/Alerts/{Sid}`
pub async fn fetch_alert(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(sid): Path<String>,
) -> ApiResult<Json<Value>> {
    let not_found = || ApiError::not_found(&format!("/v1/Alerts/{sid}"));
    let alert = app.store.alert(&sid).await?.ok_or_else(not_found)?;
    if !principal.visible_accounts().contains(&alert.account_sid) {
        return Err(not_found());
    }
    Ok(Json(render_alert(&app, &alert)))
}

fn render_alarm(app: &App, a: &AlarmRecord) -> Value {
    let webhook = a
        .webhook_sealed
        .as_ref()
        .and_then(|s| crate::services::webhooks::shown_url(app, &a.sid, s));
    let mut body = json!({
        "sid": a.sid,
        "alertConfigSid": a.sid,
        "accountSid": a.account_sid,
        "friendlyName": a.friendly_name.as_deref().unwrap_or_default(),
        "description": a.description.as_deref().unwrap_or_default(),
        "queryType": a.query_type,
        "query": a.query,
        "triggerValue": a.trigger_value,
        "timeWindow": a.time_window,
        "email": [],
        "consoleIndicator": false,
        "enabled": a.enabled,
        "product": "Tollgate",
        "dateCreated": Timestamp(a.date_created).iso8601(),
        "dateUpdated": Timestamp(a.date_updated).iso8601(),
        "url": format!("{}/v2/Alarms/{}", app.public_url, a.sid),
        // Tollgate's extension.
        "action": a.action,
    });
    // Twilio's `webhook` is a URL, absent when there is none.
    if let (Some(url), Some(map)) = (webhook, body.as_object_mut()) {
        map.insert("webhook".into(), json!(url));
    }
    body
}

/// `POST /v2/Alarms` with a JSON body.
pub async fn create_alarm(
    State(app): State<Arc<App>>,
    principal: Principal,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let body: Value = serde_json::from_slice(&body)
        .map_err(|_| ApiError::invalid("body", "must be a JSON object"))?;
    let sid = new_sid(SidPrefix::Alarm).to_string();
    let s = alarm_settings(&app, &sid, &body)?;
    guard_action(&principal, &[&s.action])?;
    let now = app.clock.now().0;
    let record = AlarmRecord {
        sid,
        account_sid: principal.account.sid.clone(),
        friendly_name: s.friendly_name,
        description: s.description,
        query_type: s.query_type,
        query: s.query,
        trigger_value: s.trigger_value,
        time_window: s.time_window,
        webhook_sealed: s.webhook_sealed,
        enabled: s.enabled,
        action: s.action,
        date_created: now,
        date_updated: now,
    };
    let event = audit::by(
        &principal,
        now,
        &record.account_sid,
        "alarm.created",
        ("alarm", Some(&record.sid)),
        json!({"after": {"query_type": record.query_type, "query": record.query, "trigger_value": record.trigger_value,
            "time_window": record.time_window, "action": record.action, "enabled": record.enabled}}),
    );
    app.store.insert_alarm(&record, &event).await?;
    app.alarms.watch(record.clone());
    Ok((StatusCode::CREATED, Json(render_alarm(&app, &record))))
}

async fn own_alarms(app: &App, principal: &Principal) -> ApiResult<Vec<AlarmRecord>> {
    Ok(app
        .store
        .all_alarms()
        .await?
        .into_iter()
        .filter(|a| a.account_sid == principal.account.sid)
        .collect())
}

/// `GET /v2/Alarms` (`SortOrder` `asc`, the default, or `desc` by creation).
pub async fn list_alarms(
    State(app): State<Arc<App>>,
    principal: Principal,
    params: Params,
) -> ApiResult<Json<Value>> {
    let page = PageRequest::from_params(&params)?;
    let order = match params.get("SortOrder") {
        None | Some("asc") => Order::Ascending,
        Some("desc") => Order::Descending,
        Some(_) => return Err(ApiError::invalid("SortOrder", "must be asc or desc")),
    };
    let rows = own_alarms(&app, &principal).await?;
    let page = page.slice(rows, order, |a| (a.date_created, a.sid.clone()));
    Ok(Json(page.twilio_v1(
        "alarms",
        &app.public_url,
        "/v2/Alarms",
        &params,
        |a| render_alarm(&app, a),
    )))
}

/// `GET /v2/Alarms/{Sid}`
pub async fn fetch_alarm(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(sid): Path<String>,
) -> ApiResult<Json<Value>> {
    own_alarms(&app, &principal)
        .await?
        .into_iter()
        .find(|a| a.sid == sid)
        .map(|a| Json(render_alarm(&app, &a)))
        .ok_or_else(|| ApiError::not_found(&format!("/v2/Alarms/{sid}")))
}

/// `DELETE /v2/Alarms/{Sid}`
pub async fn delete_alarm(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(sid): Path<String>,
) -> ApiResult<StatusCode> {
    if let Some(alarm) = own_alarms(&app, &principal)
        .await?
        .into_iter()
        .find(|a| a.sid == sid)
    {
        guard_action(&principal, &[&alarm.action])?;
    }
    let event = audit::by(
        &principal,
        app.clock.now().0,
        &principal.account.sid,
        "alarm.deleted",
        ("alarm", Some(&sid)),
        json!({}),
    );
    if !app
        .store
        .delete_alarm(&principal.account.sid, &sid, &event)
        .await?
    {
        return Err(ApiError::not_found(&format!("/v2/Alarms/{sid}")));
    }
    app.alarms.forget(&principal.account.sid, &sid);
    Ok(StatusCode::NO_CONTENT)
}

/// An alarm's free text from a JSON body, bounded as display text:
/// `friendlyName` as every FriendlyName, `description` up to 255 characters,
/// `query` up to 64. Empty is absent.
fn alarm_text(body: &Value, name: &str) -> ApiResult<Option<String>> {
    let Some(value) = body
        .get(name)
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
    else {
        return Ok(None);
    };
    match name {
        "friendlyName" => friendly_name(value),
        "description" => display_text(name, value, 255),
        _ => display_text(name, value, 64),
    }
    .map(Some)
}

/// The settings of an alarm from a Monitor v2 JSON body, with the defaults
/// of a new alarm for what the body leaves out (a `PUT` replaces them all).
fn alarm_settings(app: &App, sid: &str, body: &Value) -> ApiResult<AlarmSettings> {
    let text = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_owned);
    let query_type = text("queryType")
        .unwrap_or_else(|| "ALL".into())
        .to_ascii_uppercase();
    if !["ERROR_CODE", "LOG_LEVEL", "ALL"].contains(&query_type.as_str()) {
        return Err(ApiError::invalid(
            "queryType",
            "must be ERROR_CODE, LOG_LEVEL or ALL",
        ));
    }
    let query = alarm_text(body, "query")?;
    if query_type != "ALL" && query.is_none() {
        return Err(ApiError::missing("query"));
    }
    let trigger_value = body
        .get("triggerValue")
        .and_then(|v| {
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        })
        .filter(|v| (1..=1_000_000).contains(v))
        .ok_or_else(|| ApiError::invalid("triggerValue", "must be a whole number from 1"))?;
    let time_window = text("timeWindow").unwrap_or_else(|| "FIVE_MINS".into());
    if crate::state::alarm_windows::window_ms(&time_window).is_none() {
        return Err(ApiError::invalid(
            "timeWindow",
            "must be FIVE_MINS, FIFTEEN_MINS, ONE_HOUR, TWELVE_HOURS or ONE_DAY",
        ));
    }
    let action = text("action")
        .unwrap_or_else(|| "none".into())
        .to_ascii_lowercase();
    if !["none", "suspend", "lockdown"].contains(&action.as_str()) {
        return Err(ApiError::invalid(
            "action",
            "must be none, suspend or lockdown",
        ));
    }
    let webhook_sealed = match text("webhook").filter(|w| !w.is_empty()) {
        None => None,
        Some(url) => {
            Target::parse_checked(&url)
                .map_err(|e| ApiError::invalid("webhook", &e.to_string()))?;
            Some(
                app.master_key()
                    .seal(sid, url.as_bytes(), &mut OsRandom)
                    .map_err(|_| ApiError::internal())?,
            )
        }
    };
    let enabled = match body.get("enabled") {
        None => true,
        Some(v) => v
            .as_bool()
            .ok_or_else(|| ApiError::invalid("enabled", "must be true or false"))?,
    };
    Ok(AlarmSettings {
        friendly_name: alarm_text(body, "friendlyName")?,
        description: alarm_text(body, "description")?,
        query_type,
        query,
        trigger_value,
        time_window,
        webhook_sealed,
        enabled,
        action,
    })
}

struct AlarmSettings {
    friendly_name: Option<String>,
    description: Option<String>,
    query_type: String,
    query: Option<String>,
    trigger_value: i64,
    time_window: String,
    webhook_sealed: Option<Vec<u8>>,
    enabled: bool,
    action: String,
}

/// Actions that suspend or lock accounts need account credentials to set,
/// change or remove (an API key may not).
fn guard_action(principal: &Principal, actions: &[&str]) -> ApiResult<()> {
    actions
        .iter()
        .try_for_each(|action| principal.require_for_action(action))
}

/// Writes a changed alarm and watches it from now on.
async fn replace_alarm(
    app: &App,
    principal: &Principal,
    before: &AlarmRecord,
    after: &AlarmRecord,
) -> ApiResult<()> {
    let event = audit::by(
        principal,
        after.date_updated,
        &after.account_sid,
        "alarm.updated",
        ("alarm", Some(&after.sid)),
        json!({
            "before": {"query_type": before.query_type, "query": before.query, "trigger_value": before.trigger_value,
                "time_window": before.time_window, "action": before.action, "enabled": before.enabled},
            "after": {"query_type": after.query_type, "query": after.query, "trigger_value": after.trigger_value,
                "time_window": after.time_window, "action": after.action, "enabled": after.enabled},
        }),
    );
    if !app.store.update_alarm(after, &event).await? {
        return Err(ApiError::not_found(&format!("/v2/Alarms/{}", after.sid)));
    }
    app.alarms.watch(after.clone());
    Ok(())
}

/// `PUT /v2/Alarms/{Sid}` with a JSON body: replaces the alarm's settings.
pub async fn update_alarm(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(sid): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let before = own_alarms(&app, &principal)
        .await?
        .into_iter()
        .find(|a| a.sid == sid)
        .ok_or_else(|| ApiError::not_found(&format!("/v2/Alarms/{sid}")))?;
    let body: Value = serde_json::from_slice(&body)
        .map_err(|_| ApiError::invalid("body", "must be a JSON object"))?;
    let s = alarm_settings(&app, &sid, &body)?;
    guard_action(&principal, &[&before.action, &s.action])?;
    let after = AlarmRecord {
        friendly_name: s.friendly_name,
        description: s.description,
        query_type: s.query_type,
        query: s.query,
        trigger_value: s.trigger_value,
        time_window: s.time_window,
        webhook_sealed: s.webhook_sealed,
        enabled: s.enabled,
        action: s.action,
        date_updated: app.clock.now().0,
        ..before.clone()
    };
    replace_alarm(&app, &principal, &before, &after).await?;
    Ok(Json(render_alarm(&app, &after)))
}

/// `PUT /v2/Alarms/{Sid}/status` (`{"enabled": bool}`): 204.
pub async fn update_alarm_status(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(sid): Path<String>,
    body: Bytes,
) -> ApiResult<StatusCode> {
    let before = own_alarms(&app, &principal)
        .await?
        .into_iter()
        .find(|a| a.sid == sid)
        .ok_or_else(|| ApiError::not_found(&format!("/v2/Alarms/{sid}/status")))?;
    let body: Value = serde_json::from_slice(&body)
        .map_err(|_| ApiError::invalid("body", "must be a JSON object"))?;
    let enabled = body
        .get("enabled")
        .ok_or_else(|| ApiError::missing("enabled"))?
        .as_bool()
        .ok_or_else(|| ApiError::invalid("enabled", "must be true or false"))?;
    guard_action(&principal, &[&before.action])?;
    let after = AlarmRecord {
        enabled,
        date_updated: app.clock.now().0,
        ..before.clone()
    };
    replace_alarm(&app, &principal, &before, &after).await?;
    Ok(StatusCode::NO_CONTENT)
}
