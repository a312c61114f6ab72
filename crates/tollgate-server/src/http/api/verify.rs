//! Verify v2 (`verify` domain): Services, Verifications, VerificationCheck,
//! RateLimits and their Buckets, with Fraud Guard before every send. Codes
//! come from the OS CSPRNG, are kept only as keyed hashes, are compared in
//! constant time and expire (10 minutes by default). A code goes out
//! through the normal pipeline (geo → 60605, velocity, spend caps, sandbox).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use tollgate_detect::Mode;
use tollgate_policy::Channel;
use tollgate_store::{
    MessageRecord, VerificationRecord, VerifyBucketRecord, VerifyRateLimitRecord,
    VerifyServiceRecord, WriteOp,
};
use tollgate_types::error_code as codes;
use tollgate_types::{SidPrefix, Timestamp};

use crate::app::App;
use crate::audit;
use crate::error::{ApiError, ApiResult};
use crate::http::auth::Principal;
use crate::http::wire::{Order, PageRequest, Params, display_text_problem};
use crate::random::{OsRandom, new_ordered_sid, new_sid};
use crate::services::admission::{Edge, Sender};
use crate::state::verifications::{BucketRefusal, Live, MAX_CHECKS, MAX_SENDS};

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(&codes::VERIFY_INVALID_PARAMETER, message)
}

/// A rate limit's `Description`: up to 255 characters of display text.
fn description(params: &Params) -> ApiResult<Option<String>> {
    match params.get("Description") {
        None => Ok(None),
        Some("") => Ok(Some(String::new())),
        Some(d) => match display_text_problem(d, 255) {
            None => Ok(Some(d.to_owned())),
            Some(why) => Err(invalid(format!("Invalid parameter `Description`: {why}"))),
        },
    }
}

fn service_url(app: &App, sid: &str) -> String {
    format!("{}/v2/Services/{sid}", app.public_url)
}

fn render_service(app: &App, r: &VerifyServiceRecord) -> Value {
    let url = service_url(app, &r.sid);
    json!({
        "sid": r.sid,
        "account_sid": r.account_sid,
        "friendly_name": r.friendly_name,
        "code_length": r.code_length,
        "lookup_enabled": false,
        "psd2_enabled": false,
        "skip_sms_to_landlines": false,
        "dtmf_input_required": true,
        "tts_name": null,
        "do_not_share_warning_enabled": r.do_not_share_warning_enabled,
        "custom_code_enabled": false,
        "push": {"include_date": false, "apn_credential_sid": null, "fcm_credential_sid": null},
        "totp": {"issuer": null, "time_step": 30, "code_length": 6, "skew": 1},
        "default_template_sid": null,
        "whatsapp": {"msg_service_sid": null, "from": null},
        "verify_event_subscription_enabled": false,
        "date_created": Timestamp(r.date_created).iso8601(),
        "date_updated": Timestamp(r.date_updated).iso8601(),
        "url": url,
        "links": {
            "verifications": format!("{url}/Verifications"),
            "verification_checks": format!("{url}/VerificationCheck"),
            "rate_limits": format!("{url}/RateLimits"),
        },
        // Tollgate's addition: this service's Fraud Guard mode.
        "tollgate_fraud_guard": r.fraud_guard,
    })
}

fn owned_service(app: &App, principal: &Principal, sid: &str) -> ApiResult<VerifyServiceRecord> {
    app.verify
        .service(sid)
        .filter(|s| principal.account(&s.account_sid).is_ok())
        .ok_or_else(|| ApiError::not_found(&format!("/Services/{sid}")))
}

fn code_length(params: &Params, default: i32) -> ApiResult<i32> {
    match params.get("CodeLength") {
        None => Ok(default),
        Some(v) => match v.trim().parse::<i32>() {
            Ok(n) if (4..=10).contains(&n) => Ok(n),
            _ => Err(invalid("Invalid parameter `CodeLength`: must be 4 to 10")),
        },
    }
}

fn fraud_guard(params: &Params, default: &str) -> ApiResult<String> {
    match params.get("FraudGuard") {
        None => Ok(default.to_owned()),
        Some(v) => {
            let v = v.trim().to_ascii_lowercase();
            Mode::parse(&v).map(|_| v).ok_or_else(|| {
                invalid("Invalid parameter `FraudGuard`: must be off, basic, standard or max")
            })
        }
    }
}

fn service_fields(r: &VerifyServiceRecord) -> Value {
    json!({"friendly_name": r.friendly_name, "code_length": r.code_length,
        "fraud_guard": r.fraud_guard, "do_not_share_warning_enabled": r.do_not_share_warning_enabled})
}

/// `POST /v2/Services`
pub async fn create_service(
    State(app): State<Arc<App>>,
    principal: Principal,
    params: Params,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let name = params
        .get("FriendlyName")
        .ok_or_else(|| ApiError::missing("FriendlyName"))?;
    if let Some(why) = display_text_problem(name, 30) {
        return Err(invalid(format!("Invalid parameter `FriendlyName`: {why}")));
    }
    let now = app.clock.now().0;
    let record = VerifyServiceRecord {
        sid: new_sid(SidPrefix::VerifyService).to_string(),
        account_sid: principal.account.sid.clone(),
        friendly_name: name.to_owned(),
        code_length: code_length(&params, 6)?,
        fraud_guard: fraud_guard(&params, "standard")?,
        do_not_share_warning_enabled: params.flag("DoNotShareWarningEnabled")?.unwrap_or(false),
        date_created: now,
        date_updated: now,
    };
    let change = app.change().await;
    let event = audit::by(
        &principal,
        now,
        &record.account_sid,
        "verify-service.created",
        ("verify-service", Some(&record.sid)),
        json!({"after": service_fields(&record)}),
    );
    app.store.put_verify_service(&record, &event).await?;
    app.verify.put_service(record.clone());
    change.commit_outside_snapshot();
    Ok((StatusCode::CREATED, Json(render_service(&app, &record))))
}

/// `GET /v2/Services`
pub async fn list_services(
    State(app): State<Arc<App>>,
    principal: Principal,
    params: Params,
) -> ApiResult<Json<Value>> {
    let page = PageRequest::from_params(&params)?;
    let rows = app.verify.services_of(&principal.account.sid);
    let page = page.slice(rows, Order::Ascending, |r| (r.date_created, r.sid.clone()));
    Ok(Json(page.twilio_v1(
        "services",
        &app.public_url,
        "/v2/Services",
        &params,
        |r| render_service(&app, r),
    )))
}

/// `GET /v2/Services/{Sid}`
pub async fn fetch_service(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(sid): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(render_service(
        &app,
        &owned_service(&app, &principal, &sid)?,
    )))
}

/// `POST /v2/Services/{Sid}`
pub async fn update_service(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(sid): Path<String>,
    params: Params,
) -> ApiResult<Json<Value>> {
    let before = owned_service(&app, &principal, &sid)?;
    let mut record = before.clone();
    if let Some(name) = params.get("FriendlyName") {
        if let Some(why) = display_text_problem(name, 30) {
            return Err(invalid(format!("Invalid parameter `FriendlyName`: {why}")));
        }
        record.friendly_name = name.to_owned();
    }
    record.code_length = code_length(&params, record.code_length)?;
    record.fraud_guard = fraud_guard(&params, &record.fraud_guard)?;
    if let Some(on) = params.flag("DoNotShareWarningEnabled")? {
        record.do_not_share_warning_enabled = on;
    }
    record.date_updated = app.clock.now().0;
    let change = app.change().await;
    let event = audit::by(
        &principal,
        record.date_updated,
        &record.account_sid,
        "verify-service.updated",
        ("verify-service", Some(&record.sid)),
        audit::changes(&service_fields(&before), &service_fields(&record)),
    );
    app.store.put_verify_service(&record, &event).await?;
    app.verify.put_service(record.clone());
    change.commit_outside_snapshot();
    Ok(Json(render_service(&app, &record)))
}

/// `DELETE /v2/Services/{Sid}`
pub async fn delete_service(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(sid): Path<String>,
) -> ApiResult<StatusCode> {
    let record = owned_service(&app, &principal, &sid)?;
    let change = app.change().await;
    let event = audit::by(
        &principal,
        app.clock.now().0,
        &record.account_sid,
        "verify-service.deleted",
        ("verify-service", Some(&sid)),
        json!({"before": service_fields(&record)}),
    );
    app.store
        .delete_verify_service(&record.account_sid, &sid, &event)
        .await?;
    app.verify.forget_service(&sid);
    change.commit_outside_snapshot();
    Ok(StatusCode::NO_CONTENT)
}

// ---- verifications ----

fn render_verification(app: &App, r: &VerificationRecord) -> Value {
    // As stored: an account that redacts numbers sees them redacted.
    let r = &stored_verification(app, r);
    let attempts: Value = serde_json::from_str(&r.send_attempts).unwrap_or_else(|_| json!([]));
    json!({
        "sid": r.sid,
        "service_sid": r.service_sid,
        "account_sid": r.account_sid,
        "to": r.to_number,
        "channel": r.channel,
        "status": r.status,
        "valid": r.status == "approved",
        "lookup": {"carrier": null},
        "amount": null,
        "payee": null,
        "send_code_attempts": attempts,
        "date_created": Timestamp(r.date_created).iso8601(),
        "date_updated": Timestamp(r.date_updated).iso8601(),
        "sna": null,
        "url": format!("{}/Verifications/{}", service_url(app, &r.service_sid), r.sid),
    })
}

fn render_check(r: &VerificationRecord) -> Value {
    json!({
        "sid": r.sid,
        "service_sid": r.service_sid,
        "account_sid": r.account_sid,
        "to": r.to_number,
        "channel": r.channel,
        "status": r.status,
        "valid": r.status == "approved",
        "amount": null,
        "payee": null,
        "date_created": Timestamp(r.date_created).iso8601(),
        "date_updated": Timestamp(r.date_updated).iso8601(),
        "sna_attempts_error_codes": [],
    })
}

/// A code of `len` digits from the OS CSPRNG, without modulo bias.
fn new_code(len: i32) -> zeroize::Zeroizing<String> {
    use tollgate_secrets::RandomSource;
    let mut code = zeroize::Zeroizing::new(String::with_capacity(10));
    while code.len() < usize::try_from(len).unwrap_or(6) {
        let mut byte = [0u8; 1];
        OsRandom.fill(&mut byte);
        if byte[0] < 250 {
            code.push(char::from(b'0' + byte[0] % 10));
        }
    }
    code
}

/// Parses `RateLimits` (a JSON object of unique name → value).
fn rate_limit_keys(params: &Params) -> ApiResult<Vec<(String, String)>> {
    let Some(text) = params.get("RateLimits") else {
        return Ok(Vec::new());
    };
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(text) else {
        return Err(invalid(
            "Invalid parameter `RateLimits`: must be a JSON object",
        ));
    };
    Ok(map
        .into_iter()
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            (k, v)
        })
        .collect())
}

/// `POST /v2/Services/{Sid}/Verifications`
pub async fn create_verification(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(service_sid): Path<String>,
    connect: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    params: Params,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let service = owned_service(&app, &principal, &service_sid)?;
    let account = principal.account(&service.account_sid)?;
    let to = params.get("To").ok_or_else(|| ApiError::missing("To"))?;
    let channel_text = params
        .get("Channel")
        .ok_or_else(|| ApiError::missing("Channel"))?;
    let channel = match channel_text.to_ascii_lowercase().as_str() {
        "sms" => Channel::Sms,
        "call" => Channel::Voice,
        _ => {
            return Err(invalid(format!(
                "Invalid parameter `Channel`: {channel_text} (Tollgate sends sms and call)"
            )));
        }
    };
    let channel_name = if channel == Channel::Sms {
        "sms"
    } else {
        "call"
    };
    let risk_check = match params
        .get("RiskCheck")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("enable") => true,
        Some("disable") => false,
        Some(_) => return Err(invalid("Invalid parameter `RiskCheck`: enable or disable")),
    };
    let device_ip = match params.get("DeviceIp") {
        None => None,
        Some(ip) => Some(
            ip.trim()
                .parse::<std::net::IpAddr>()
                .map_err(|_| invalid("Invalid parameter `DeviceIp`: not an IP address"))?,
        ),
    };
    let keys = rate_limit_keys(&params)?;
    let number = app.classifier.classify(to, None);
    let Some(e164) = number.e164.clone().filter(|_| number.valid) else {
        return Err(invalid(format!("Invalid parameter `To`: {to}")));
    };
    let now = app.clock.now().0;

    // A pending verification of this number is sent again (same code).
    let existing = app.verify.pending_for(&service.sid, &e164, now);
    if let Some(sid) = &existing {
        let sends = app
            .verify
            .with_live(sid, |l| send_count(&l.record))
            .unwrap_or(0);
        if sends >= MAX_SENDS {
            return Err(ApiError::new(
                &codes::VERIFY_MAX_SENDS,
                "Max send attempts reached",
            ));
        }
    }
    // Rate-limit buckets the application asked for.
    if let Err(refusal) = app.verify.take_buckets(&service.sid, &keys, now) {
        return Err(match refusal {
            BucketRefusal::UnknownKey(name) => invalid(format!(
                "Invalid parameter `RateLimits`: the service has no rate limit '{name}'"
            )),
            BucketRefusal::Full {
                rate_limit,
                bucket,
                max,
                interval,
                retry_after_ms,
            } => {
                let seconds = u64::try_from((retry_after_ms + 999) / 1000)
                    .unwrap_or(1)
                    .max(1);
                let mut e = ApiError::new(
                    &codes::TOO_MANY_REQUESTS,
                    format!(
                        "Too Many Requests: rate limit '{rate_limit}' bucket {bucket} allows {max} per {interval} s; retry in {seconds} s"
                    ),
                );
                e.retry_after = Some(seconds);
                e
            }
        });
    }
    // Fraud Guard, unless the number is safe-listed or the caller opted out.
    let send_id = new_sid(SidPrefix::VerifyAttempt).to_string();
    let mode = Mode::parse(&service.fraud_guard).unwrap_or(Mode::Standard);
    let guarded = risk_check && mode != Mode::Off && !app.verify.is_safe(&account.sid, &e164);
    // The code, and the record before anything is sent.
    let (sid, code) = match &existing {
        Some(sid) => {
            let code = app
                .verify
                .with_live(sid, |l| l.code.clone())
                .flatten()
                .unwrap_or_else(|| new_code(service.code_length));
            (sid.clone(), code)
        }
        None => (
            new_sid(SidPrefix::Verification).to_string(),
            new_code(service.code_length),
        ),
    };
    let mut record = match existing.as_ref().and_then(|s| app.verify.record(s)) {
        Some(r) => r,
        None => VerificationRecord {
            sid: sid.clone(),
            service_sid: service.sid.clone(),
            account_sid: account.sid.clone(),
            to_number: e164.clone(),
            to_key: app.verify.number_key(&service.sid, &e164),
            channel: channel_name.to_owned(),
            status: "pending".into(),
            code_hash: Vec::new(),
            send_attempts: "[]".into(),
            checks: 0,
            expires_at: now + app.verify.code_ttl_ms,
            date_created: now,
            date_updated: now,
        },
    };
    // Through the pipeline: geo (60605), velocity, spend caps.
    let body = if channel == Channel::Sms {
        let mut body = format!(
            "Your {} verification code is: {}",
            service.friendly_name, &*code
        );
        if service.do_not_share_warning_enabled {
            body.push_str(
                ". Don't share this code with anyone; our employees will never ask for the code.",
            );
        }
        body
    } else {
        let spaced: Vec<String> = code.chars().map(String::from).collect();
        format!(
            "Your {} verification code is {}",
            service.friendly_name,
            spaced.join(" ")
        )
    };
    let ip = device_ip.or_else(|| connect.map(|c| c.0.0.ip()));
    let units = if channel == Channel::Sms {
        i64::from(tollgate_policy::content::segments(&body).count)
    } else {
        1
    };
    // Through the pipeline: Fraud Guard (unless safe-listed or opted out),
    // geo (60605), velocity, spend caps.
    let request = tollgate_admission::SendRequest {
        edge: Edge::Verify,
        channel,
        account: &account.sid,
        account_active: account.status == tollgate_types::AccountStatus::Active,
        from: Sender::Tollgate,
        to: &e164,
        number: &number,
        body: (channel == Channel::Sms).then_some(body.as_str()),
        units,
        ip,
        guard: guarded.then_some(tollgate_admission::Guard {
            scope: &service.sid,
            send_id: &send_id,
            ip: device_ip,
            ip_flags: params.get("TollgateDeviceIpFlags"),
            device: params.get("TollgateDeviceId").filter(|d| !d.is_empty()),
        }),
        now_ms: now,
    };
    let admitted =
        crate::services::admission::admit(&app, &principal.snapshot, &account, mode, &request)
            .await
            .map_err(ApiError::from)?;
    let mut attempts: Vec<Value> = serde_json::from_str(&record.send_attempts).unwrap_or_default();
    attempts.push(json!({"attempt_sid": send_id, "channel": channel_name,
        "time": Timestamp(now).iso8601()}));
    record.send_attempts = Value::Array(attempts).to_string();
    record.channel = channel_name.to_owned();
    record.code_hash = app.verify.hash_code(&record.sid, &code);
    record.date_updated = now;
    app.store
        .put_verification(&stored_verification(&app, &record))
        .await?;
    app.verify.keep(
        Live {
            record: record.clone(),
            code: Some(code),
            last_send: guarded.then(|| send_id.clone()),
        },
        now,
    );
    // The send itself: a call speaks the code on the sandbox handset.
    if channel == Channel::Voice {
        let app2 = app.clone();
        let (to, sid_text, scope, id) = (e164, record.sid.clone(), service.sid.clone(), send_id);
        tokio::spawn(async move {
            app2.sandbox.step().await;
            let now = app2.clock.now().0;
            let answered = app2.sandbox.is_reachable(&to);
            if answered {
                app2.sandbox
                    .deliver_to_handset(crate::state::sandbox::HandsetMessage {
                        sid: sid_text,
                        from: tollgate_admission::TOLLGATE_SENDER.into(),
                        to,
                        body,
                        date_created: Timestamp(now).iso8601(),
                    });
            }
            if guarded {
                app2.verify.receipt_for(&scope, &id, answered, now);
            }
        });
        return Ok((
            StatusCode::CREATED,
            Json(render_verification(&app, &record)),
        ));
    }
    let mut message = MessageRecord {
        sid: new_ordered_sid(SidPrefix::Message, now).to_string(),
        account_sid: account.sid.clone(),
        messaging_service_sid: None,
        direction: "outbound-api".into(),
        from_number: tollgate_admission::TOLLGATE_SENDER.into(),
        to_number: e164,
        body: Some(body),
        status: "queued".into(),
        num_segments: i32::try_from(units).unwrap_or(1),
        price_micros: Some(admitted.price_micros),
        country: Some(admitted.country),
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
    if guarded {
        app.verify
            .await_receipt(&message.sid, &service.sid, &send_id);
    }
    let settings = principal.snapshot.settings_of(&account.sid);
    let privacy = crate::privacy::Privacy {
        numbers: settings.redact_phone_numbers,
        // A code never rests on disk.
        bodies: true,
    };
    crate::services::unsettled::take_message(&app, &mut message, privacy);
    app.writer
        .write(WriteOp::InsertMessage(crate::privacy::stored_form(
            &message, privacy,
        )))
        .await?;
    app.carrier.submit_message(message, privacy);
    Ok((
        StatusCode::CREATED,
        Json(render_verification(&app, &record)),
    ))
}

fn send_count(r: &VerificationRecord) -> usize {
    serde_json::from_str::<Vec<Value>>(&r.send_attempts).map_or(0, |v| v.len())
}

fn live_or_404(app: &App, service: &str, sid: &str, now: i64) -> ApiResult<VerificationRecord> {
    app.verify
        .record(sid)
        .filter(|r| r.service_sid == service && (r.status != "pending" || r.expires_at > now))
        .ok_or_else(|| ApiError::not_found(&format!("/Services/{service}/Verifications/{sid}")))
}

/// `GET /v2/Services/{Sid}/Verifications/{Sid}`
pub async fn fetch_verification(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path((service_sid, sid)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let service = owned_service(&app, &principal, &service_sid)?;
    let now = app.clock.now().0;
    let record = match live_or_404(&app, &service.sid, &sid, now) {
        Ok(r) => r,
        Err(e) => app
            .store
            .verification(&service.sid, &sid)
            .await?
            .filter(|r| r.status != "pending" || r.expires_at > now)
            .ok_or(e)?,
    };
    Ok(Json(render_verification(&app, &record)))
}

/// `POST /v2/Services/{Sid}/Verifications/{Sid}` (`Status=canceled|approved`).
pub async fn update_verification(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path((service_sid, sid)): Path<(String, String)>,
    params: Params,
) -> ApiResult<Json<Value>> {
    let service = owned_service(&app, &principal, &service_sid)?;
    let status = params
        .get("Status")
        .ok_or_else(|| ApiError::missing("Status"))?;
    let now = app.clock.now().0;
    let mut record = live_or_404(&app, &service.sid, &sid, now)?;
    if record.status != "pending" {
        return Err(ApiError::not_found(&format!(
            "/Services/{}/Verifications/{sid}",
            service.sid
        )));
    }
    match status {
        "canceled" => record.status = "canceled".into(),
        "approved" => record.status = "approved".into(),
        _ => return Err(invalid("Invalid parameter `Status`: canceled or approved")),
    }
    record.date_updated = now;
    finish(&app, &service, record.clone(), now).await?;
    Ok(Json(render_verification(&app, &record)))
}

/// `record` as it may rest on disk: its number redacted when the account
/// redacts numbers.
fn stored_verification(app: &App, record: &VerificationRecord) -> VerificationRecord {
    let redact = app
        .snapshot()
        .settings_of(&record.account_sid)
        .redact_phone_numbers;
    crate::state::verifications::Verify::stored_form(record, redact)
}

/// Writes a verification's new state; an approval teaches Fraud Guard and
/// makes the number "known" to the account (`RecipientPolicy=known`).
async fn finish(
    app: &App,
    service: &VerifyServiceRecord,
    record: VerificationRecord,
    now: i64,
) -> ApiResult<()> {
    app.store
        .put_verification(&stored_verification(app, &record))
        .await?;
    let last_send = app
        .verify
        .with_live(&record.sid, |l| l.last_send.clone())
        .flatten();
    if record.status == "approved" {
        if let Some(id) = &last_send {
            app.verify.converted(&service.sid, id, now);
        }
        app.traffic
            .add_known(&record.account_sid, &record.to_number);
    }
    app.verify.keep(
        Live {
            record,
            code: None,
            last_send,
        },
        now,
    );
    Ok(())
}

/// `POST /v2/Services/{Sid}/VerificationCheck` (`Code`, and `To` or `VerificationSid`).
pub async fn check(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(service_sid): Path<String>,
    params: Params,
) -> ApiResult<Json<Value>> {
    let service = owned_service(&app, &principal, &service_sid)?;
    let code = params
        .get("Code")
        .ok_or_else(|| ApiError::missing("Code"))?;
    let now = app.clock.now().0;
    let not_found = || ApiError::not_found(&format!("/Services/{}/VerificationCheck", service.sid));
    let sid = match (params.get("VerificationSid"), params.get("To")) {
        (Some(sid), _) => sid.to_owned(),
        (None, Some(to)) => {
            let e164 = app
                .classifier
                .classify(to, None)
                .e164
                .unwrap_or_else(|| to.to_owned());
            app.verify
                .pending_for(&service.sid, &e164, now)
                .ok_or_else(not_found)?
        }
        (None, None) => {
            return Err(ApiError::new(
                &codes::VERIFY_NO_TARGET,
                "No target verification specified: give To or VerificationSid",
            ));
        }
    };
    let mut record = app
        .verify
        .record(&sid)
        .filter(|r| r.service_sid == service.sid && r.status == "pending" && r.expires_at > now)
        .ok_or_else(not_found)?;
    if record.checks >= MAX_CHECKS {
        return Err(ApiError::new(
            &codes::VERIFY_MAX_CHECKS,
            "Max check attempts reached",
        ));
    }
    record.checks += 1;
    record.date_updated = now;
    let matched = code.len() <= 10 && app.verify.code_matches(&record, code.trim());
    if matched {
        record.status = "approved".into();
        finish(&app, &service, record.clone(), now).await?;
    } else {
        app.store
            .put_verification(&stored_verification(&app, &record))
            .await?;
        let r = record.clone();
        app.verify.with_live(&sid, move |l| l.record = r);
    }
    Ok(Json(render_check(&record)))
}

// ---- rate limits and buckets ----

fn render_rate_limit(app: &App, r: &VerifyRateLimitRecord) -> Value {
    let url = format!("{}/RateLimits/{}", service_url(app, &r.service_sid), r.sid);
    json!({
        "sid": r.sid,
        "service_sid": r.service_sid,
        "account_sid": r.account_sid,
        "unique_name": r.unique_name,
        "description": r.description,
        "date_created": Timestamp(r.date_created).iso8601(),
        "date_updated": Timestamp(r.date_updated).iso8601(),
        "url": url,
        "links": {"buckets": format!("{url}/Buckets")},
    })
}

fn render_bucket(app: &App, r: &VerifyBucketRecord) -> Value {
    json!({
        "sid": r.sid,
        "rate_limit_sid": r.rate_limit_sid,
        "service_sid": r.service_sid,
        "account_sid": r.account_sid,
        "max": r.max_requests,
        "interval": r.interval_seconds,
        "date_created": Timestamp(r.date_created).iso8601(),
        "date_updated": Timestamp(r.date_updated).iso8601(),
        "url": format!("{}/RateLimits/{}/Buckets/{}", service_url(app, &r.service_sid), r.rate_limit_sid, r.sid),
    })
}

fn owned_rate_limit(
    app: &App,
    principal: &Principal,
    service: &str,
    sid: &str,
) -> ApiResult<(VerifyServiceRecord, VerifyRateLimitRecord)> {
    let svc = owned_service(app, principal, service)?;
    let rl = app
        .verify
        .rate_limit(&svc.sid, sid)
        .ok_or_else(|| ApiError::not_found(&format!("/Services/{service}/RateLimits/{sid}")))?;
    Ok((svc, rl))
}

/// `POST /v2/Services/{Sid}/RateLimits` (`UniqueName`, `Description`).
pub async fn create_rate_limit(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(service_sid): Path<String>,
    params: Params,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let svc = owned_service(&app, &principal, &service_sid)?;
    let name = params
        .get("UniqueName")
        .ok_or_else(|| ApiError::missing("UniqueName"))?
        .trim();
    if name.is_empty()
        || name.len() > 100
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
    {
        return Err(invalid(
            "Invalid parameter `UniqueName`: 1-100 letters, digits, '_', '-' or '.'",
        ));
    }
    if app
        .verify
        .rate_limits_of(&svc.sid)
        .iter()
        .any(|r| r.unique_name == name)
    {
        return Err(ApiError::new(
            &codes::CONFLICT,
            format!("A rate limit named '{name}' exists already"),
        ));
    }
    let now = app.clock.now().0;
    let record = VerifyRateLimitRecord {
        sid: new_sid(SidPrefix::VerifyRateLimit).to_string(),
        service_sid: svc.sid.clone(),
        account_sid: svc.account_sid.clone(),
        unique_name: name.to_owned(),
        description: description(&params)?,
        date_created: now,
        date_updated: now,
    };
    let change = app.change().await;
    let event = audit::by(
        &principal,
        now,
        &record.account_sid,
        "verify-rate-limit.created",
        ("verify-rate-limit", Some(&record.sid)),
        json!({"after": {"service_sid": record.service_sid, "unique_name": record.unique_name}}),
    );
    app.store.put_verify_rate_limit(&record, &event).await?;
    app.verify.put_rate_limit(record.clone());
    change.commit_outside_snapshot();
    Ok((StatusCode::CREATED, Json(render_rate_limit(&app, &record))))
}

/// `GET /v2/Services/{Sid}/RateLimits`
pub async fn list_rate_limits(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(service_sid): Path<String>,
    params: Params,
) -> ApiResult<Json<Value>> {
    let svc = owned_service(&app, &principal, &service_sid)?;
    let page = PageRequest::from_params(&params)?;
    let page = page.slice(app.verify.rate_limits_of(&svc.sid), Order::Ascending, |r| {
        (r.date_created, r.sid.clone())
    });
    Ok(Json(page.twilio_v1(
        "rate_limits",
        &app.public_url,
        &format!("/v2/Services/{}/RateLimits", svc.sid),
        &params,
        |r| render_rate_limit(&app, r),
    )))
}

/// `GET /v2/Services/{Sid}/RateLimits/{Sid}`
pub async fn fetch_rate_limit(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path((service_sid, sid)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let (_, rl) = owned_rate_limit(&app, &principal, &service_sid, &sid)?;
    Ok(Json(render_rate_limit(&app, &rl)))
}

/// `POST /v2/Services/{Sid}/RateLimits/{Sid}` (`Description`).
pub async fn update_rate_limit(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path((service_sid, sid)): Path<(String, String)>,
    params: Params,
) -> ApiResult<Json<Value>> {
    let (_, mut rl) = owned_rate_limit(&app, &principal, &service_sid, &sid)?;
    let before = rl.description.clone();
    if let Some(d) = description(&params)? {
        rl.description = Some(d);
    }
    rl.date_updated = app.clock.now().0;
    let change = app.change().await;
    let event = audit::by(
        &principal,
        rl.date_updated,
        &rl.account_sid,
        "verify-rate-limit.updated",
        ("verify-rate-limit", Some(&rl.sid)),
        audit::changes(
            &json!({"description": before}),
            &json!({"description": rl.description}),
        ),
    );
    app.store.put_verify_rate_limit(&rl, &event).await?;
    app.verify.put_rate_limit(rl.clone());
    change.commit_outside_snapshot();
    Ok(Json(render_rate_limit(&app, &rl)))
}

/// `DELETE /v2/Services/{Sid}/RateLimits/{Sid}`
pub async fn delete_rate_limit(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path((service_sid, sid)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let (svc, rl) = owned_rate_limit(&app, &principal, &service_sid, &sid)?;
    let change = app.change().await;
    let event = audit::by(
        &principal,
        app.clock.now().0,
        &rl.account_sid,
        "verify-rate-limit.deleted",
        ("verify-rate-limit", Some(&rl.sid)),
        json!({"before": {"service_sid": rl.service_sid, "unique_name": rl.unique_name}}),
    );
    app.store
        .delete_verify_rate_limit(&svc.sid, &sid, &event)
        .await?;
    app.verify.forget_rate_limit(&sid);
    change.commit_outside_snapshot();
    Ok(StatusCode::NO_CONTENT)
}

fn bucket_numbers(params: &Params, max: i64, interval: i64) -> ApiResult<(i64, i64)> {
    let parse = |name: &str, default: i64| -> ApiResult<i64> {
        match params.get(name) {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 1 && *n <= 1_000_000_000)
                .ok_or_else(|| {
                    invalid(format!("Invalid parameter `{name}`: a whole number from 1"))
                }),
        }
    };
    Ok((parse("Max", max)?, parse("Interval", interval)?))
}

/// `POST /v2/Services/{Sid}/RateLimits/{Sid}/Buckets` (`Max`, `Interval`).
pub async fn create_bucket(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path((service_sid, rate_limit_sid)): Path<(String, String)>,
    params: Params,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let (svc, rl) = owned_rate_limit(&app, &principal, &service_sid, &rate_limit_sid)?;
    if params.get("Max").is_none() {
        return Err(ApiError::missing("Max"));
    }
    if params.get("Interval").is_none() {
        return Err(ApiError::missing("Interval"));
    }
    let (max, interval) = bucket_numbers(&params, 0, 0)?;
    let now = app.clock.now().0;
    let record = VerifyBucketRecord {
        sid: new_sid(SidPrefix::VerifyBucket).to_string(),
        rate_limit_sid: rl.sid.clone(),
        service_sid: svc.sid.clone(),
        account_sid: svc.account_sid.clone(),
        max_requests: max,
        interval_seconds: interval,
        date_created: now,
        date_updated: now,
    };
    let change = app.change().await;
    let event = audit::by(
        &principal,
        now,
        &record.account_sid,
        "verify-bucket.created",
        ("verify-bucket", Some(&record.sid)),
        json!({"after": {"rate_limit_sid": record.rate_limit_sid, "max": max, "interval": interval}}),
    );
    app.store.put_verify_bucket(&record, &event).await?;
    app.verify.put_bucket(record.clone());
    change.commit_outside_snapshot();
    Ok((StatusCode::CREATED, Json(render_bucket(&app, &record))))
}

fn owned_bucket(
    app: &App,
    principal: &Principal,
    service: &str,
    rate_limit: &str,
    sid: &str,
) -> ApiResult<VerifyBucketRecord> {
    let (_, rl) = owned_rate_limit(app, principal, service, rate_limit)?;
    app.verify.bucket(&rl.sid, sid).ok_or_else(|| {
        ApiError::not_found(&format!(
            "/Services/{service}/RateLimits/{rate_limit}/Buckets/{sid}"
        ))
    })
}

/// `GET /v2/Services/{Sid}/RateLimits/{Sid}/Buckets`
pub async fn list_buckets(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path((service_sid, rate_limit_sid)): Path<(String, String)>,
    params: Params,
) -> ApiResult<Json<Value>> {
    let (svc, rl) = owned_rate_limit(&app, &principal, &service_sid, &rate_limit_sid)?;
    let page = PageRequest::from_params(&params)?;
    let page = page.slice(app.verify.buckets_of(&rl.sid), Order::Ascending, |r| {
        (r.date_created, r.sid.clone())
    });
    Ok(Json(page.twilio_v1(
        "buckets",
        &app.public_url,
        &format!("/v2/Services/{}/RateLimits/{}/Buckets", svc.sid, rl.sid),
        &params,
        |r| render_bucket(&app, r),
    )))
}

/// `GET /v2/Services/{Sid}/RateLimits/{Sid}/Buckets/{Sid}`
pub async fn fetch_bucket(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path((service_sid, rate_limit_sid, sid)): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    let b = owned_bucket(&app, &principal, &service_sid, &rate_limit_sid, &sid)?;
    Ok(Json(render_bucket(&app, &b)))
}

/// `POST /v2/Services/{Sid}/RateLimits/{Sid}/Buckets/{Sid}` (`Max`, `Interval`).
pub async fn update_bucket(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path((service_sid, rate_limit_sid, sid)): Path<(String, String, String)>,
    params: Params,
) -> ApiResult<Json<Value>> {
    let mut b = owned_bucket(&app, &principal, &service_sid, &rate_limit_sid, &sid)?;
    let before = json!({"max": b.max_requests, "interval": b.interval_seconds});
    (b.max_requests, b.interval_seconds) =
        bucket_numbers(&params, b.max_requests, b.interval_seconds)?;
    b.date_updated = app.clock.now().0;
    let change = app.change().await;
    let event = audit::by(
        &principal,
        b.date_updated,
        &b.account_sid,
        "verify-bucket.updated",
        ("verify-bucket", Some(&b.sid)),
        audit::changes(
            &before,
            &json!({"max": b.max_requests, "interval": b.interval_seconds}),
        ),
    );
    app.store.put_verify_bucket(&b, &event).await?;
    app.verify.put_bucket(b.clone());
    change.commit_outside_snapshot();
    Ok(Json(render_bucket(&app, &b)))
}

/// `DELETE /v2/Services/{Sid}/RateLimits/{Sid}/Buckets/{Sid}`
pub async fn delete_bucket(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path((service_sid, rate_limit_sid, sid)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    let b = owned_bucket(&app, &principal, &service_sid, &rate_limit_sid, &sid)?;
    let change = app.change().await;
    let event = audit::by(
        &principal,
        app.clock.now().0,
        &b.account_sid,
        "verify-bucket.deleted",
        ("verify-bucket", Some(&b.sid)),
        json!({"before": {"max": b.max_requests, "interval": b.interval_seconds}}),
    );
    app.store
        .delete_verify_bucket(&b.rate_limit_sid, &sid, &event)
        .await?;
    app.verify.forget_bucket(&sid);
    change.commit_outside_snapshot();
    Ok(StatusCode::NO_CONTENT)
}
