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
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::random::{OsRandom, new_sid};
use crate::wire::{PageRequest, Params, display_text, friendly_name, iso_date, page_v1};

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
        "request_method": a.request_method,
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
    let before = match &page.after {
        Some(sid) => {
            let a = app
                .store
                .alert(sid)
                .await?
                .ok_or_else(|| ApiError::invalid("PageToken", "no such alert"))?;
            Some((a.date_created, a.sid))
        }
        None => None,
    };
    let query = AlertQuery {
        account_sids: principal.visible_accounts(),
        log_level: params.get("LogLevel").map(str::to_owned),
        date_from: iso_date(&params, "StartDate")?,
        date_before: iso_date(&params, "EndDate")?,
        before,
        limit: page.size.saturating_add(1),
    };
    let rows = app.store.alerts(&query).await?;
    Ok(Json(page_v1(
        "alerts",
        &app.public_url,
        "/v1/Alerts",
        &[
            ("LogLevel", params.get("LogLevel")),
            ("StartDate", params.get("StartDate")),
            ("EndDate", params.get("EndDate")),
        ],
        &page,
        rows,
        |a| a.sid.clone(),
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
        .and_then(|s| crate::webhooks::shown_url(app, &a.sid, s));
    json!({
        "sid": a.sid,
        "accountSid": a.account_sid,
        "friendlyName": a.friendly_name,
        "queryType": a.query_type,
        "query": a.query,
        "triggerValue": a.trigger_value,
        "timeWindow": a.time_window,
        "webhook": webhook,
        "enabled": a.enabled,
        "product": "Tollgate",
        "dateCreated": Timestamp(a.date_created).iso8601(),
        "dateUpdated": Timestamp(a.date_updated).iso8601(),
        "url": format!("{}/v2/Alarms/{}", app.public_url, a.sid),
        // Tollgate's extension.
        "action": a.action,
    })
}

/// `POST /v2/Alarms` with a JSON body.
pub async fn create_alarm(
    State(app): State<Arc<App>>,
    principal: Principal,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let body: Value = serde_json::from_slice(&body)
        .map_err(|_| ApiError::invalid("body", "must be a JSON object"))?;
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
    let query = text("query")
        .filter(|q| !q.is_empty())
        .map(|q| display_text("query", &q, 64))
        .transpose()?;
    if query_type != "ALL" && query.is_none() {
        return Err(ApiError::missing("query"));
    }
    let friendly_name = text("friendlyName")
        .map(|n| friendly_name(&n))
        .transpose()?;
    let trigger_value = body
        .get("triggerValue")
        .and_then(|v| {
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        })
        .filter(|v| (1..=1_000_000).contains(v))
        .ok_or_else(|| ApiError::invalid("triggerValue", "must be a whole number from 1"))?;
    let time_window = text("timeWindow").unwrap_or_else(|| "FIVE_MINS".into());
    if crate::alarms::window_ms(&time_window).is_none() {
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
    let sid = new_sid(SidPrefix::Alarm).to_string();
    let webhook_sealed = match text("webhook").filter(|w| !w.is_empty()) {
        None => None,
        Some(url) => {
            Target::parse_checked(&url)
                .map_err(|e| ApiError::invalid("webhook", &e.to_string()))?;
            Some(
                app.master_key()
                    .seal(&sid, url.as_bytes(), &mut OsRandom)
                    .map_err(|_| ApiError::internal())?,
            )
        }
    };
    let now = app.clock.now().0;
    let record = AlarmRecord {
        sid,
        account_sid: principal.account.sid.clone(),
        friendly_name,
        query_type,
        query,
        trigger_value,
        time_window,
        webhook_sealed,
        enabled: body.get("enabled").and_then(Value::as_bool).unwrap_or(true),
        action,
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

/// `GET /v2/Alarms`
pub async fn list_alarms(
    State(app): State<Arc<App>>,
    principal: Principal,
) -> ApiResult<Json<Value>> {
    let rows: Vec<Value> = own_alarms(&app, &principal)
        .await?
        .iter()
        .map(|a| render_alarm(&app, a))
        .collect();
    Ok(Json(json!({"alarms": rows, "meta": {"key": "alarms"}})))
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
