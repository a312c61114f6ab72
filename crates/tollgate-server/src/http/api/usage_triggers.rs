//! `/2010-04-01/Accounts/{Sid}/Usage/Triggers.json` and `…/Triggers/{Sid}.json`:
//! Twilio's usage triggers, evaluated on every usage change. Tollgate's
//! extension: `Action=suspend` suspends the (non-main) account at the crossing.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use tollgate_policy::triggers::{CATEGORIES, Recurring, TriggerBy, is_price, parse_threshold};
use tollgate_store::UsageTriggerRecord;
use tollgate_types::{SidPrefix, Timestamp};
use tollgate_webhook::request::Target;

use crate::app::App;
use crate::audit;
use crate::error::{ApiError, ApiResult};
use crate::http::auth::Principal;
use crate::http::wire::{Order, PageRequest, Params, friendly_name, json_segment};
use crate::random::{OsRandom, new_sid};

fn base(account: &str) -> String {
    format!("/2010-04-01/Accounts/{account}/Usage/Triggers")
}

fn render(app: &App, r: &UsageTriggerRecord) -> Value {
    let url = app
        .master_key()
        .open_text(&r.sid, &r.callback_url_sealed)
        .map(|u| {
            Target::parse(&u)
                .map(|t| t.redacted())
                .unwrap_or_else(|_| u.to_string())
        })
        .unwrap_or_default();
    let current = app
        .triggers
        .current_value(&r.account_sid, &r.sid)
        .or_else(|| r.current_value.clone());
    json!({
        "account_sid": r.account_sid,
        "api_version": "2010-04-01",
        "callback_method": r.callback_method,
        "callback_url": url,
        "current_value": current,
        "date_created": Timestamp(r.date_created).rfc2822(),
        "date_fired": r.date_fired.map(|t| Timestamp(t).rfc2822()),
        "date_updated": Timestamp(r.date_updated).rfc2822(),
        "friendly_name": r.friendly_name,
        // Stored as "" when not recurring; the resource says `alltime`.
        "recurring": if r.recurring.is_empty() { "alltime" } else { r.recurring.as_str() },
        "sid": r.sid,
        "trigger_by": r.trigger_by,
        "trigger_value": r.trigger_value,
        "uri": format!("{}/{}.json", base(&r.account_sid), r.sid),
        "usage_category": r.usage_category,
        "usage_record_uri": format!(
            "/2010-04-01/Accounts/{}/Usage/Records.json?Category={}",
            r.account_sid, r.usage_category
        ),
        // Tollgate's extension.
        "action": r.action,
    })
}

fn method(params: &Params) -> ApiResult<Option<String>> {
    params
        .get("CallbackMethod")
        .map(|m| match m.to_ascii_uppercase().as_str() {
            "GET" => Ok("GET".to_owned()),
            "POST" => Ok("POST".to_owned()),
            _ => Err(ApiError::invalid("CallbackMethod", "must be GET or POST")),
        })
        .transpose()
}

fn callback(app: &App, sid: &str, url: &str) -> ApiResult<Vec<u8>> {
    Target::parse_checked(url).map_err(|e| ApiError::invalid("CallbackUrl", &e.to_string()))?;
    app.master_key()
        .seal(sid, url.as_bytes(), &mut OsRandom)
        .map_err(|_| ApiError::internal())
}

/// `POST …/Usage/Triggers.json`
pub async fn create(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(account): Path<String>,
    params: Params,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let account = principal.account(&account)?;
    let url = params
        .get("CallbackUrl")
        .ok_or_else(|| ApiError::missing("CallbackUrl"))?;
    let value_text = params
        .get("TriggerValue")
        .ok_or_else(|| ApiError::missing("TriggerValue"))?;
    let category = params
        .get("UsageCategory")
        .ok_or_else(|| ApiError::missing("UsageCategory"))?;
    if !CATEGORIES.contains(&category) {
        return Err(ApiError::invalid(
            "UsageCategory",
            &format!("Tollgate meters {}", CATEGORIES.join(", ")),
        ));
    }
    let recurring_text = params.get("Recurring").unwrap_or("");
    let recurring = Recurring::parse(recurring_text).ok_or_else(|| {
        ApiError::invalid("Recurring", "must be daily, monthly, yearly or alltime")
    })?;
    let by_text = params.get("TriggerBy").unwrap_or("usage");
    let by = TriggerBy::parse(by_text)
        .ok_or_else(|| ApiError::invalid("TriggerBy", "must be count, usage or price"))?;
    let action = params.get("Action").unwrap_or("none").to_ascii_lowercase();
    if action != "none" && action != "suspend" {
        return Err(ApiError::invalid("Action", "must be none or suspend"));
    }
    principal.require_for_action(&action)?;
    if action == "suspend" && account.is_main() {
        return Err(ApiError::invalid(
            "Action",
            "the main account cannot be suspended by a trigger; set it on a subaccount",
        ));
    }
    let name = params.get("FriendlyName").map(friendly_name).transpose()?;
    let now = app.clock.now().0;
    let price = is_price(category, by);
    let current =
        crate::services::triggers::usage_since(&app, &account.sid, recurring.period_start(now))
            .await
            .map_err(|_| ApiError::internal())?
            .value(category, by)
            .unwrap_or(0);
    let threshold = parse_threshold(value_text, price, current).ok_or_else(|| {
        ApiError::invalid(
            "TriggerValue",
            "must be a positive number, or an offset like +30",
        )
    })?;
    let sid = new_sid(SidPrefix::UsageTrigger).to_string();
    let record = UsageTriggerRecord {
        callback_url_sealed: callback(&app, &sid, url)?,
        sid,
        account_sid: account.sid.clone(),
        friendly_name: name,
        callback_method: method(&params)?.unwrap_or_else(|| "POST".into()),
        trigger_value: tollgate_policy::triggers::format_value(threshold, price),
        threshold,
        usage_category: category.to_owned(),
        recurring: recurring.as_str().to_owned(),
        trigger_by: by.as_str().to_owned(),
        action,
        fired_period: None,
        date_fired: None,
        current_value: None,
        date_created: now,
        date_updated: now,
    };
    let event = audit::by(
        &principal,
        now,
        &record.account_sid,
        "usage-trigger.created",
        ("usage-trigger", Some(&record.sid)),
        json!({"after": {"usage_category": record.usage_category, "trigger_by": record.trigger_by,
            "trigger_value": record.trigger_value, "recurring": record.recurring, "action": record.action,
            "friendly_name": record.friendly_name}}),
    );
    app.store.insert_usage_trigger(&record, &event).await?;
    crate::services::triggers::watch(&app, record.clone())
        .await
        .map_err(|_| ApiError::internal())?;
    let fresh = find(&app, &record.account_sid, &record.sid)
        .await?
        .unwrap_or(record);
    Ok((StatusCode::CREATED, Json(render(&app, &fresh))))
}

async fn find(app: &App, account: &str, sid: &str) -> ApiResult<Option<UsageTriggerRecord>> {
    Ok(app
        .store
        .all_usage_triggers()
        .await?
        .into_iter()
        .find(|t| t.account_sid == account && t.sid == sid))
}

async fn owned(
    app: &App,
    principal: &Principal,
    account: &str,
    segment: &str,
) -> ApiResult<UsageTriggerRecord> {
    let account = principal.account(account)?;
    let sid = json_segment(segment).unwrap_or(segment);
    find(app, &account.sid, sid)
        .await?
        .ok_or_else(|| ApiError::not_found(&format!("{}/{sid}.json", base(&account.sid))))
}

/// `GET …/Usage/Triggers.json` (`Recurring`, `TriggerBy`, `UsageCategory`).
pub async fn list(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(account): Path<String>,
    params: Params,
) -> ApiResult<Json<Value>> {
    let account = principal.account(&account)?;
    let page = PageRequest::from_params(&params)?;
    let recurring = params
        .get("Recurring")
        .map(|r| if r == "alltime" { "" } else { r });
    let rows: Vec<UsageTriggerRecord> = app
        .store
        .all_usage_triggers()
        .await?
        .into_iter()
        .filter(|t| t.account_sid == account.sid)
        .filter(|t| recurring.is_none_or(|r| t.recurring == r))
        .filter(|t| params.get("TriggerBy").is_none_or(|b| t.trigger_by == b))
        .filter(|t| {
            params
                .get("UsageCategory")
                .is_none_or(|c| t.usage_category == c)
        })
        .collect();
    let page = page.slice(rows, Order::Ascending, |t| (t.date_created, t.sid.clone()));
    Ok(Json(page.twilio_2010(
        "usage_triggers",
        &format!("{}.json", base(&account.sid)),
        &params,
        |t| render(&app, t),
    )))
}

/// `GET …/Usage/Triggers/{Sid}.json`
pub async fn fetch(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path((account, segment)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let record = owned(&app, &principal, &account, &segment).await?;
    Ok(Json(render(&app, &record)))
}

/// `POST …/Usage/Triggers/{Sid}.json`: `CallbackMethod`, `CallbackUrl`, `FriendlyName`.
pub async fn update(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path((account, segment)): Path<(String, String)>,
    params: Params,
) -> ApiResult<Json<Value>> {
    let mut record = owned(&app, &principal, &account, &segment).await?;
    let before =
        json!({"callback_method": record.callback_method, "friendly_name": record.friendly_name});
    if let Some(m) = method(&params)? {
        record.callback_method = m;
    }
    if let Some(url) = params.get("CallbackUrl") {
        record.callback_url_sealed = callback(&app, &record.sid, url)?;
    }
    if let Some(name) = params.get("FriendlyName") {
        record.friendly_name = Some(friendly_name(name)?);
    }
    record.date_updated = app.clock.now().0;
    let mut after =
        json!({"callback_method": record.callback_method, "friendly_name": record.friendly_name});
    let mut data = audit::changes(&before, &after);
    if params.get("CallbackUrl").is_some()
        && let Some(a) = data.get_mut("after").and_then(Value::as_object_mut)
    {
        a.insert("callback_url_changed".into(), json!(true));
    }
    after = data;
    let event = audit::by(
        &principal,
        record.date_updated,
        &record.account_sid,
        "usage-trigger.updated",
        ("usage-trigger", Some(&record.sid)),
        after,
    );
    app.store.update_usage_trigger(&record, &event).await?;
    app.triggers.replace(&record);
    Ok(Json(render(&app, &record)))
}

/// `DELETE …/Usage/Triggers/{Sid}.json`
pub async fn delete(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path((account, segment)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let record = owned(&app, &principal, &account, &segment).await?;
    principal.require_for_action(&record.action)?;
    let event = audit::by(
        &principal,
        app.clock.now().0,
        &record.account_sid,
        "usage-trigger.deleted",
        ("usage-trigger", Some(&record.sid)),
        json!({"before": {"usage_category": record.usage_category}}),
    );
    app.store
        .delete_usage_trigger(&record.account_sid, &record.sid, &event)
        .await?;
    app.triggers.forget(&record.account_sid, &record.sid);
    Ok(StatusCode::NO_CONTENT)
}
