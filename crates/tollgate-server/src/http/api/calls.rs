//! `/2010-04-01/Accounts/{Sid}/Calls.json`: outbound calls through the same
//! pipeline as messages (the first minute is checked against spend caps;
//! later minutes are counted as they happen). `TimeLimit` is clamped to the
//! gateway's maximum call duration (4 hours by default, as the seeds advise).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Value, json};
use tollgate_policy::Channel;
use tollgate_policy::spend::format_price;
use tollgate_store::{CallRecord, WriteOp};
use tollgate_types::error_code as codes;
use tollgate_types::{SidPrefix, Timestamp};

use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::http::auth::Principal;
use crate::http::views::traffic_query;
use crate::http::wire::{PageRequest, Params, json_segment};
use crate::random::{OsRandom, new_ordered_sid};
use crate::services::admission::{Edge, Sender};

pub fn render(record: &CallRecord) -> Value {
    let base = format!(
        "/2010-04-01/Accounts/{}/Calls/{}",
        record.account_sid, record.sid
    );
    json!({
        "account_sid": record.account_sid,
        "annotation": null,
        "answered_by": null,
        "api_version": "2010-04-01",
        "caller_name": null,
        "date_created": Timestamp(record.date_created).rfc2822(),
        "date_updated": Timestamp(record.date_updated).rfc2822(),
        "direction": record.direction,
        "duration": record.duration.map(|d| d.to_string()),
        "end_time": record.end_time.map(|t| Timestamp(t).rfc2822()),
        "forwarded_from": null,
        "from": record.from_number,
        "from_formatted": record.from_number,
        "group_sid": null,
        "parent_call_sid": null,
        "phone_number_sid": null,
        "price": record.price_micros.filter(|_| record.status == "completed").map(format_price),
        "price_unit": "USD",
        "queue_time": "0",
        "sid": record.sid,
        "start_time": record.start_time.map(|t| Timestamp(t).rfc2822()),
        "status": record.status,
        "subresource_uris": {
            "notifications": format!("{base}/Notifications.json"),
            "recordings": format!("{base}/Recordings.json"),
        },
        "to": record.to_number,
        "to_formatted": record.to_number,
        "trunk_sid": null,
        "uri": format!("{base}.json"),
        "tollgate_rule": record.rule,
        "tollgate_error_code": record.error_code,
    })
}

/// `POST …/Calls.json` (`To`, `From`, `Url` or `Twiml`, `TimeLimit`, `StatusCallback`).
pub async fn create(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(account): Path<String>,
    connect: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    idempotency_key: crate::http::wire::IdempotencyKey,
    params: Params,
) -> ApiResult<axum::response::Response> {
    let account = principal.account(&account)?;
    // Proxy mode: a retry with the same Idempotency-Key gets the first answer.
    let idempotency = match app.upstream {
        Some(_) => crate::services::proxy::Idempotency::of(
            &app,
            &account.sid,
            idempotency_key.0.as_deref(),
            &format!("/2010-04-01/Accounts/{}/Calls.json", account.sid),
            &params.0,
        )?,
        None => None,
    };
    if let Some(idempotency) = &idempotency
        && let Some(answer) = idempotency.replay(&app).await?
    {
        return Ok(answer.into_response());
    }
    let to = params.get("To").ok_or_else(|| {
        ApiError::new(
            &codes::CALLED_REQUIRED,
            "Required parameter 'To' is missing: no called number specified",
        )
    })?;
    let from = params.get("From").ok_or_else(|| {
        ApiError::new(
            &codes::CALLER_REQUIRED,
            "Required parameter 'From' is missing: the caller phone number is required",
        )
    })?;
    if params.get("Url").is_none()
        && params.get("Twiml").is_none()
        && params.get("ApplicationSid").is_none()
    {
        return Err(ApiError::new(
            &codes::URL_REQUIRED,
            "One of Url, Twiml or ApplicationSid is required",
        ));
    }
    if let Some(url) = params.get("Url")
        && let Err(e) = tollgate_webhook::request::Target::parse(url)
    {
        return Err(ApiError::new(
            &codes::URL_REQUIRED,
            format!("Url is not valid: {e}"),
        ));
    }
    let max = app.max_call_seconds;
    let time_limit = match params.get("TimeLimit") {
        None => max,
        Some(v) => v
            .parse::<u32>()
            .map_err(|_| ApiError::invalid("TimeLimit", "must be a whole number of seconds"))?
            .min(max),
    };
    let callback = params.get("StatusCallback").filter(|u| !u.is_empty());
    if let Some(url) = callback {
        tollgate_webhook::request::Target::parse_checked(url)
            .map_err(|e| ApiError::invalid("StatusCallback", &e.to_string()))?;
    }
    let now = app.clock.now().0;
    let sid = new_ordered_sid(SidPrefix::Call, now).to_string();
    let number = app.classifier.classify(to, None);
    let to_e164 = number.e164.clone().unwrap_or_else(|| to.to_owned());
    let mut record = CallRecord {
        sid: sid.clone(),
        account_sid: account.sid.clone(),
        direction: "outbound-api".into(),
        from_number: from.to_owned(),
        to_number: to_e164,
        status: "queued".into(),
        time_limit: i32::try_from(time_limit).unwrap_or(i32::MAX),
        duration: None,
        start_time: None,
        end_time: None,
        price_micros: None,
        country: None,
        error_code: None,
        rule: None,
        status_callback_sealed: None,
        date_created: now,
        date_updated: now,
        carrier_node: None,
        resume_sealed: None,
    };
    let ip = connect.map(|c| c.0.0.ip());
    let request = tollgate_admission::SendRequest {
        edge: Edge::Calls,
        channel: Channel::Voice,
        account: &account.sid,
        account_active: account.status == tollgate_types::AccountStatus::Active,
        from: Sender::Number(from),
        to,
        number: &number,
        body: None,
        units: 1,
        ip,
        guard: None,
        now_ms: now,
    };
    let decision = crate::services::admission::admit(
        &app,
        &principal.snapshot,
        &account,
        tollgate_detect::Mode::Off,
        &request,
    )
    .await;
    match decision {
        Err(refusal) => {
            record.status = "failed".into();
            record.rule = Some(refusal.rule.clone());
            record.error_code = i32::try_from(refusal.spec.code).ok();
            app.writer
                .write(WriteOp::InsertCall(stored_form(&app, &record)))
                .await?;
            tracing::info!(sid = %record.sid, account = %account.sid, rule = refusal.rule, "call blocked");
            Err(refusal.into())
        }
        Ok(admitted) => {
            record.country = Some(admitted.country);
            record.price_micros = Some(admitted.price_micros);
            if app.upstream.is_some() {
                // Proxy mode: Twilio places it, and its answer is the answer.
                if let Some(idempotency) = &idempotency
                    && let Some(answer) = idempotency.claim(&app).await?
                {
                    return Ok(answer.into_response());
                }
                let result = crate::services::proxy::create_call(
                    &app,
                    &params.0,
                    record,
                    |r| stored_form(&app, r),
                    callback,
                    idempotency.as_ref().map(|i| i.key.as_str()),
                )
                .await;
                if let Some(idempotency) = &idempotency {
                    idempotency
                        .settle(&app, result.as_ref().map(|(a, _)| a))
                        .await;
                }
                let (answer, created) = result?;
                if let Some(record) = created {
                    let delta = tollgate_policy::triggers::Usage {
                        calls_outbound: tollgate_policy::triggers::Tally {
                            count: 1,
                            usage: 0,
                            price_micros: record.price_micros.unwrap_or(0),
                        },
                        ..Default::default()
                    };
                    crate::services::triggers::observe(&app, &account.sid, &delta).await;
                }
                return Ok(answer.into_response());
            }
            if let Some(url) = callback {
                record.status_callback_sealed = Some(
                    app.master_key()
                        .seal(&sid, url.as_bytes(), &mut OsRandom)
                        .map_err(|_| ApiError::internal())?,
                );
            }
            let redacted = stored_form(&app, &record).to_number != record.to_number;
            crate::services::unsettled::take_call(&app, &mut record, redacted);
            let stored = stored_form(&app, &record);
            app.writer
                .write(WriteOp::InsertCall(stored.clone()))
                .await?;
            let delta = tollgate_policy::triggers::Usage {
                calls_outbound: tollgate_policy::triggers::Tally {
                    count: 1,
                    usage: 0,
                    price_micros: record.price_micros.unwrap_or(0),
                },
                ..Default::default()
            };
            crate::services::triggers::observe(&app, &account.sid, &delta).await;
            app.carrier.start_call(record);
            Ok((StatusCode::CREATED, Json(render(&stored))).into_response())
        }
    }
}

/// The form of `call` that may touch the disk: the number called redacted
/// when the account redacts numbers (the carrier keeps it in memory).
fn stored_form(app: &App, call: &CallRecord) -> CallRecord {
    let mut stored = call.clone();
    if app
        .snapshot()
        .settings_of(&call.account_sid)
        .redact_phone_numbers
    {
        stored.to_number = crate::privacy::mask_number(&call.to_number);
    }
    stored
}

fn not_found(account: &str, sid: &str) -> ApiError {
    ApiError::not_found(&format!("/2010-04-01/Accounts/{account}/Calls/{sid}.json"))
}

/// The call `{Sid}.json` of the account in the path, if the caller may see it.
async fn stored(
    app: &App,
    principal: &Principal,
    account: &str,
    segment: &str,
) -> ApiResult<CallRecord> {
    let account = principal.account(account)?;
    let sid = json_segment(segment).ok_or_else(|| not_found(&account.sid, segment))?;
    app.store
        .call(&account.sid, sid)
        .await?
        .ok_or_else(|| not_found(&account.sid, sid))
}

/// `GET …/Calls/{Sid}.json`
pub async fn fetch(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path((account, segment)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    Ok(Json(render(
        &stored(&app, &principal, &account, &segment).await?,
    )))
}

/// `POST …/Calls/{Sid}.json` (`Status=completed|canceled`): ends the call.
pub async fn update(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path((account, segment)): Path<(String, String)>,
    params: Params,
) -> ApiResult<Json<Value>> {
    let record = stored(&app, &principal, &account, &segment).await?;
    match params.get("Status") {
        None => {}
        Some("completed" | "canceled") => {
            app.carrier.end_call(&record.sid);
        }
        Some(_) => return Err(ApiError::invalid("Status", "must be completed or canceled")),
    }
    Ok(Json(render(&record)))
}

/// `GET …/Calls.json` (`To`, `From`, `StartTime`, `StartTime<`, `StartTime>`), newest first.
pub async fn list(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(account): Path<String>,
    params: Params,
) -> ApiResult<Json<Value>> {
    let account = principal.account(&account)?;
    let page = PageRequest::from_params(&params)?;
    let query = traffic_query(&account.sid, &params, "StartTime")?;
    let rows = app.store.list_calls(&query, &page.store_query()).await?;
    let page = page.settle(rows, |c| (c.date_created, c.sid.clone()));
    Ok(Json(page.twilio_2010(
        "calls",
        &format!("/2010-04-01/Accounts/{}/Calls.json", account.sid),
        &params,
        render,
    )))
}
