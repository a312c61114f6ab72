//! `/2010-04-01/Accounts/{Sid}/Messages.json`: every outbound message goes
//! through the pipeline before it costs money, in this order:
//! account active → sender ownership → destination (geo, risk tier) →
//! recipient rules → content rules → velocity → spend cap → durable record
//! (usage is derived from it) → carrier. Each step is a decision with a rule id; a blocked send is
//! recorded with it (never billed) and answered with Twilio's error.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};
use tollgate_policy::Channel;
use tollgate_policy::content::{MAX_BODY_CHARS, segments};
use tollgate_store::{MessageRecord, WriteOp};
use tollgate_types::error_code as codes;
use tollgate_types::{AccountStatus, SidPrefix};

use crate::app::App;
use crate::audit;
use crate::error::{ApiError, ApiResult};
use crate::http::auth::Principal;
use crate::http::views::{MessageView, render, traffic_query};
use crate::http::wire::{PageRequest, Params, json_response, json_segment};
use crate::privacy::{Privacy, stored_form};
use crate::random::{OsRandom, new_ordered_sid};
use crate::services::admission::{Edge, Sender};
use crate::state::snapshot::AccountEntry;

/// `POST …/Messages.json`
pub async fn create(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(account): Path<String>,
    connect: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    idempotency_key: crate::http::wire::IdempotencyKey,
    params: Params,
) -> ApiResult<Response> {
    let account = principal.account(&account)?;
    // Proxy mode: a retry with the same Idempotency-Key gets the first answer.
    let idempotency = match app.upstream {
        Some(_) => crate::services::proxy::Idempotency::of(
            &app,
            &account.sid,
            idempotency_key.0.as_deref(),
            &format!("/2010-04-01/Accounts/{}/Messages.json", account.sid),
            &params.0,
        )?,
        None => None,
    };
    if let Some(idempotency) = &idempotency
        && let Some(answer) = idempotency.replay(&app).await?
    {
        return Ok(answer.into_response());
    }
    let to = params
        .get("To")
        .ok_or_else(|| ApiError::new(&codes::TO_REQUIRED, "A 'To' phone number is required."))?;
    let service = match params.get("MessagingServiceSid") {
        None => None,
        Some(sid) => Some(
            principal
                .snapshot
                .services
                .get(sid)
                .filter(|s| s.record.account_sid == account.sid)
                .cloned()
                .ok_or_else(|| ApiError::not_found(&format!("/v1/Services/{sid}")))?,
        ),
    };
    if params.get("From").is_none() && service.is_none() {
        return Err(ApiError::new(
            &codes::FROM_REQUIRED,
            "A 'From' phone number is required.",
        ));
    }
    let body = params
        .get("Body")
        .filter(|b| !b.is_empty())
        .ok_or_else(|| ApiError::new(&codes::BODY_REQUIRED, "Message body is required."))?;
    if body.chars().count() > MAX_BODY_CHARS {
        return Err(ApiError::new(
            &codes::BODY_TOO_LONG,
            "The concatenated message body exceeds the 1600 character limit.",
        ));
    }
    let callback = params.get("StatusCallback").filter(|u| !u.is_empty());
    if let Some(url) = callback {
        tollgate_webhook::request::Target::parse_checked(url)
            .map_err(|e| ApiError::invalid("StatusCallback", &e.to_string()))?;
    }
    let settings = principal.snapshot.settings_of(&account.sid);
    let privacy = Privacy {
        numbers: settings.redact_phone_numbers
            || params
                .get("AddressRetention")
                .is_some_and(|v| v.eq_ignore_ascii_case("obfuscate")),
        bodies: settings.redact_message_bodies
            || params
                .get("ContentRetention")
                .is_some_and(|v| v.eq_ignore_ascii_case("discard")),
    };
    let seg = segments(body);
    let now = app.clock.now().0;
    let sid = new_ordered_sid(SidPrefix::Message, now).to_string();
    // Classified once: the record and every pipeline step use this.
    let number = app.classifier.classify(to, None);
    let to_e164 = number.e164.clone().unwrap_or_else(|| to.to_owned());
    // The sender: as given, or picked from the service's pool (sticky, healthy).
    let from: String = match (&service, params.get("From")) {
        (Some(svc), Some(given)) if !svc.numbers.iter().any(|n| n == given) => {
            return Err(ApiError::new(
                &codes::SMS_FROM_NOT_OWNED,
                format!("The From phone number {given} is not in the Messaging Service's pool."),
            ));
        }
        (_, Some(given)) => given.to_owned(),
        (Some(svc), None) => app
            .traffic
            .pick_sender(
                &svc.record.sid,
                &svc.numbers,
                svc.record.sticky_sender,
                &to_e164,
                &[],
                now,
            )
            .ok_or_else(|| {
                ApiError::new(
                    &codes::SMS_FROM_NOT_OWNED,
                    "The Messaging Service has no phone numbers in its pool.",
                )
            })?,
        (None, None) => return Err(ApiError::internal()),
    };
    let from = from.as_str();
    let mut record = MessageRecord {
        sid: sid.clone(),
        account_sid: account.sid.clone(),
        messaging_service_sid: service.as_ref().map(|s| s.record.sid.clone()),
        direction: "outbound-api".into(),
        from_number: from.to_owned(),
        to_number: to_e164,
        body: Some(body.to_owned()),
        status: "queued".into(),
        num_segments: i32::try_from(seg.count).unwrap_or(i32::MAX),
        price_micros: None,
        country: None,
        error_code: None,
        error_message: None,
        rule: None,
        status_callback_sealed: None,
        date_created: now,
        date_updated: now,
        date_sent: None,
        carrier_node: None,
        resume_sealed: None,
    };
    let ip = connect.map(|c| c.0.0.ip());
    // SMS Pumping Protection: Fraud Guard on the account's own sends,
    // learning from delivery receipts (scope: the account).
    let guarded = settings.sms_pumping_protection
        && !params
            .get("RiskCheck")
            .is_some_and(|v| v.eq_ignore_ascii_case("disable"))
        && !app.verify.is_safe(&account.sid, &record.to_number);
    let request = tollgate_admission::SendRequest {
        edge: Edge::Messages,
        channel: Channel::Sms,
        account: &account.sid,
        account_active: account.status == AccountStatus::Active,
        from: Sender::Number(from),
        to,
        number: &number,
        body: Some(body),
        units: i64::from(seg.count),
        ip,
        guard: guarded.then_some(tollgate_admission::Guard {
            scope: &account.sid,
            send_id: &sid,
            ip,
            ip_flags: None,
            device: None,
        }),
        now_ms: now,
    };
    let decision = crate::services::admission::admit(
        &app,
        &principal.snapshot,
        &account,
        tollgate_detect::Mode::Standard,
        &request,
    )
    .await;
    match decision {
        Err(refusal) => {
            record.status = "failed".into();
            record.rule = Some(refusal.rule.clone());
            record.error_code = i32::try_from(refusal.spec.code).ok();
            record.error_message = Some(refusal.message.clone());
            app.writer
                .write(WriteOp::InsertMessage(stored_form(&record, privacy)))
                .await?;
            tracing::info!(sid = %record.sid, account = %account.sid, rule = refusal.rule, "message blocked");
            Err(refusal.into())
        }
        Ok(admitted) => {
            record.country = Some(admitted.country);
            record.price_micros = Some(admitted.price_micros);
            if app.upstream.is_some() {
                // Proxy mode: Twilio sends it, and its answer is the answer.
                if let Some(idempotency) = &idempotency
                    && let Some(answer) = idempotency.claim(&app).await?
                {
                    return Ok(answer.into_response());
                }
                let result = crate::services::proxy::create_message(
                    &app,
                    &params.0,
                    record,
                    privacy,
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
                        sms_outbound: tollgate_policy::triggers::Tally {
                            count: 1,
                            usage: i64::from(record.num_segments),
                            price_micros: record.price_micros.unwrap_or(0),
                        },
                        ..Default::default()
                    };
                    crate::services::triggers::observe(&app, &account.sid, &delta).await;
                    if guarded {
                        app.verify.await_receipt(&record.sid, &account.sid, &sid);
                    }
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
            crate::services::unsettled::take_message(&app, &mut record, privacy);
            let stored = stored_form(&record, privacy);
            // The answer is what the store holds, rendered before the record
            // moves to the writer.
            let answer =
                serde_json::to_vec(&MessageView::of(&stored)).map_err(|_| ApiError::internal())?;
            let delta = tollgate_policy::triggers::Usage {
                sms_outbound: tollgate_policy::triggers::Tally {
                    count: 1,
                    usage: i64::from(record.num_segments),
                    price_micros: record.price_micros.unwrap_or(0),
                },
                ..Default::default()
            };
            app.writer.write(WriteOp::InsertMessage(stored)).await?;
            crate::services::triggers::observe(&app, &account.sid, &delta).await;
            if guarded {
                app.verify.await_receipt(&record.sid, &account.sid, &sid);
            }
            app.carrier.submit_message(record, privacy);
            Ok(json_response(StatusCode::CREATED, answer))
        }
    }
}

fn not_found(account: &str, sid: &str) -> ApiError {
    ApiError::not_found(&format!(
        "/2010-04-01/Accounts/{account}/Messages/{sid}.json"
    ))
}

/// `GET …/Messages/{Sid}.json`
pub async fn fetch(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path((account, segment)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let (_, record) = stored(&app, &principal, &account, &segment).await?;
    Ok(Json(render(&app.sandbox.current(record))))
}

/// The message `{Sid}.json` of the account in the path, if the caller may
/// see it, with the account.
async fn stored(
    app: &App,
    principal: &Principal,
    account: &str,
    segment: &str,
) -> ApiResult<(Arc<AccountEntry>, MessageRecord)> {
    let account = principal.account(account)?;
    let sid = json_segment(segment).ok_or_else(|| not_found(&account.sid, segment))?;
    let record = app
        .store
        .message(&account.sid, sid)
        .await?
        .ok_or_else(|| not_found(&account.sid, sid))?;
    Ok((account, record))
}

/// Statuses after which a message changes no more.
const FINAL_STATUSES: [&str; 6] = [
    "delivered",
    "undelivered",
    "failed",
    "received",
    "read",
    "canceled",
];

/// `POST …/Messages/{Sid}.json`: `Body=""` redacts the body of a message in
/// a final state (20009 before); `Status=canceled` cancels a scheduled
/// message, and Tollgate schedules none (30409).
pub async fn update(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path((account, segment)): Path<(String, String)>,
    params: Params,
) -> ApiResult<Json<Value>> {
    let (account, record) = stored(&app, &principal, &account, &segment).await?;
    let sid = record.sid.clone();
    match params.get("Status") {
        None => {}
        Some("canceled") => {
            return Err(ApiError::new(
                &codes::CANNOT_CANCEL,
                "This message cannot be canceled: only a scheduled message can be, and it is not scheduled",
            ));
        }
        Some(_) => return Err(ApiError::invalid("Status", "must be canceled")),
    }
    let current = app.sandbox.current(record);
    match params.get("Body") {
        None => return Ok(Json(render(&current))),
        Some("") => {}
        Some(_) => {
            return Err(ApiError::invalid(
                "Body",
                "may only be set to an empty string, which redacts the message",
            ));
        }
    }
    if !FINAL_STATUSES.contains(&current.status.as_str()) {
        return Err(ApiError::new(
            &codes::RESOURCE_NOT_COMPLETE,
            format!(
                "The message is {}: its body can be redacted once it is delivered, undelivered or failed",
                current.status
            ),
        ));
    }
    if current.body.as_deref().is_none_or(str::is_empty) {
        return Ok(Json(render(&current)));
    }
    let now = app.clock.now().0;
    let redacted = MessageRecord {
        body: Some(String::new()),
        date_updated: now,
        ..current
    };
    let change = app.change().await;
    if !app.store.update_message(&redacted).await? {
        return Err(not_found(&account.sid, &sid));
    }
    let event = audit::by(
        &principal,
        now,
        &account.sid,
        "message.updated",
        ("message", Some(&sid)),
        json!({"after": {"body": "[redacted]"}}),
    );
    app.store.append_audit(&event).await?;
    change.commit_outside_snapshot();
    Ok(Json(render(&redacted)))
}

/// `DELETE …/Messages/{Sid}.json`
pub async fn delete(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path((account, segment)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let account = principal.account(&account)?;
    let sid = json_segment(&segment).ok_or_else(|| not_found(&account.sid, &segment))?;
    let event = audit::by(
        &principal,
        app.clock.now().0,
        &account.sid,
        "message.deleted",
        ("message", Some(sid)),
        json!({}),
    );
    if app.store.delete_message(&account.sid, sid, &event).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found(&account.sid, sid))
    }
}

/// `GET …/Messages.json` (`To`, `From`, `DateSent`, `DateSent<`, `DateSent>`), newest first.
pub async fn list(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(account): Path<String>,
    params: Params,
) -> ApiResult<Json<Value>> {
    let account = principal.account(&account)?;
    let page = PageRequest::from_params(&params)?;
    let query = traffic_query(&account.sid, &params, "DateSent")?;
    let rows = app
        .store
        .list_messages(&query, &page.store_query())
        .await?
        .into_iter()
        .map(|m| app.sandbox.current(m))
        .collect();
    let page = page.settle(rows, |m| (m.date_created, m.sid.clone()));
    Ok(Json(page.twilio_2010(
        "messages",
        &format!("/2010-04-01/Accounts/{}/Messages.json", account.sid),
        &params,
        render,
    )))
}
