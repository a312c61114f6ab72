//! `/2010-04-01/Accounts/{Sid}/IncomingPhoneNumbers.json`: the numbers an
//! account may send from. With the sandbox carrier any valid E.164 number
//! no other account holds can be added. URLs are sealed at rest (they may
//! carry credentials) and shown with the password hidden.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use tollgate_store::NumberRecord;
use tollgate_types::error_code as codes;
use tollgate_types::{SidPrefix, Timestamp};
use tollgate_webhook::request::Target;

use crate::app::App;
use crate::audit;
use crate::error::{ApiError, ApiResult};
use crate::http::auth::Principal;
use crate::http::wire::{PageRequest, Params, friendly_name, json_segment};
use crate::random::{OsRandom, new_sid};
use crate::state::snapshot::NumberEntry;

fn shown(url: &Option<String>) -> Value {
    match url {
        None => Value::Null,
        Some(u) => Value::String(
            Target::parse(u)
                .map(|t| t.redacted())
                .unwrap_or_else(|_| u.clone()),
        ),
    }
}

/// Twilio's number types (its Local, Mobile and TollFree subresources).
fn number_type(app: &App, e164: &str) -> &'static str {
    match app.classifier.classify(e164, None).number_type {
        tollgate_numbering::NumberType::TollFree => "toll-free",
        tollgate_numbering::NumberType::Mobile => "mobile",
        _ => "local",
    }
}

fn render(app: &App, entry: &NumberEntry) -> Value {
    let r = &entry.record;
    json!({
        "account_sid": r.account_sid,
        "address_requirements": "none",
        "address_sid": null,
        "api_version": "2010-04-01",
        "beta": false,
        "bundle_sid": null,
        "capabilities": {"mms": false, "sms": true, "voice": true, "fax": false},
        "date_created": Timestamp(r.date_created).rfc2822(),
        "date_updated": Timestamp(r.date_updated).rfc2822(),
        "emergency_address_sid": null,
        "emergency_address_status": "unregistered",
        "emergency_status": "Inactive",
        "friendly_name": r.friendly_name,
        "identity_sid": null,
        "origin": "twilio",
        "phone_number": r.phone_number,
        "sid": r.sid,
        "sms_application_sid": null,
        "sms_fallback_method": "POST",
        "sms_fallback_url": null,
        "sms_method": r.sms_method,
        "sms_url": shown(&entry.sms_url),
        "status": "in-use",
        "status_callback": shown(&entry.status_callback),
        "status_callback_method": r.status_callback_method,
        "trunk_sid": null,
        "type": number_type(app, &r.phone_number),
        "uri": format!("/2010-04-01/Accounts/{}/IncomingPhoneNumbers/{}.json", r.account_sid, r.sid),
        "voice_application_sid": null,
        "voice_caller_id_lookup": false,
        "voice_fallback_method": "POST",
        "voice_fallback_url": null,
        "voice_method": r.voice_method,
        "voice_receive_mode": "voice",
        "voice_url": shown(&entry.voice_url),
    })
}

fn method(params: &Params, name: &str, current: &str) -> ApiResult<String> {
    match params.get(name) {
        None => Ok(current.to_owned()),
        Some(m) if m.eq_ignore_ascii_case("GET") => Ok("GET".into()),
        Some(m) if m.eq_ignore_ascii_case("POST") => Ok("POST".into()),
        Some(_) => Err(ApiError::invalid(name, "must be GET or POST")),
    }
}

/// A URL parameter: `Some(None)` clears it, `Some(Some(sealed))` sets it.
fn url_param(
    app: &App,
    params: &Params,
    name: &str,
    sid: &str,
) -> ApiResult<Option<Option<Vec<u8>>>> {
    match params.get(name) {
        None => Ok(None),
        Some("") => Ok(Some(None)),
        Some(url) => {
            Target::parse_checked(url).map_err(|e| ApiError::invalid(name, &e.to_string()))?;
            let sealed = app
                .master_key()
                .seal(sid, url.as_bytes(), &mut OsRandom)
                .map_err(|_| ApiError::internal())?;
            Ok(Some(Some(sealed)))
        }
    }
}

fn apply(app: &App, params: &Params, record: &mut NumberRecord) -> ApiResult<()> {
    if let Some(name) = params.get("FriendlyName") {
        record.friendly_name = friendly_name(name)?;
    }
    let sid = record.sid.clone();
    if let Some(v) = url_param(app, params, "SmsUrl", &sid)? {
        record.sms_url_sealed = v;
    }
    if let Some(v) = url_param(app, params, "VoiceUrl", &sid)? {
        record.voice_url_sealed = v;
    }
    if let Some(v) = url_param(app, params, "StatusCallback", &sid)? {
        record.status_callback_sealed = v;
    }
    record.sms_method = method(params, "SmsMethod", &record.sms_method)?;
    record.voice_method = method(params, "VoiceMethod", &record.voice_method)?;
    record.status_callback_method = method(
        params,
        "StatusCallbackMethod",
        &record.status_callback_method,
    )?;
    Ok(())
}

fn entry(app: &App, sid: &str) -> ApiResult<Arc<NumberEntry>> {
    app.snapshot()
        .number_by_sid(sid)
        .cloned()
        .ok_or_else(ApiError::internal)
}

/// `POST …/IncomingPhoneNumbers.json` (`PhoneNumber`, `FriendlyName`, `SmsUrl`, `VoiceUrl`, `StatusCallback`…).
pub async fn create(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(account): Path<String>,
    params: Params,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let account = principal.account(&account)?;
    let wanted = params
        .get("PhoneNumber")
        .ok_or_else(|| ApiError::missing("PhoneNumber"))?;
    let number = app.classifier.classify(wanted, None);
    let Some(e164) = number.e164.filter(|_| number.valid) else {
        return Err(ApiError::new(
            &codes::NUMBER_NOT_AVAILABLE,
            format!("PhoneNumber {wanted} is not a valid E.164 number"),
        ));
    };
    let now = app.clock.now().0;
    let mut record = NumberRecord {
        sid: new_sid(SidPrefix::PhoneNumber).to_string(),
        account_sid: account.sid.clone(),
        phone_number: e164.clone(),
        friendly_name: e164.clone(),
        sms_url_sealed: None,
        sms_method: "POST".into(),
        voice_url_sealed: None,
        voice_method: "POST".into(),
        status_callback_sealed: None,
        status_callback_method: "POST".into(),
        date_created: now,
        date_updated: now,
    };
    apply(&app, &params, &mut record)?;
    let change = app.change().await;
    let event = audit::by(
        &principal,
        now,
        &record.account_sid,
        "incoming-phone-number.created",
        ("incoming-phone-number", Some(&record.sid)),
        json!({"after": {"phone_number": record.phone_number}}),
    );
    match app.store.insert_number(&record, &event).await {
        Err(tollgate_store::StoreError::Conflict(_)) => {
            return Err(ApiError::new(
                &codes::NUMBER_NOT_AVAILABLE,
                format!("PhoneNumber {e164} is not available"),
            ));
        }
        other => other?,
    }
    change.commit(|snapshot, key| snapshot.put_number(key, &record))?;
    tracing::info!(sid = %record.sid, account = %account.sid, "phone number added");
    Ok((
        StatusCode::CREATED,
        Json(render(&app, &*entry(&app, &record.sid)?)),
    ))
}

/// `GET …/IncomingPhoneNumbers.json` (`PhoneNumber` filter).
pub async fn list(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(account): Path<String>,
    params: Params,
) -> ApiResult<Json<Value>> {
    let account = principal.account(&account)?;
    let page = PageRequest::from_params(&params)?;
    // Part of a number, `*` for any one digit (Twilio's filter).
    let like = params.get("PhoneNumber").map(|f| {
        let part: String = f
            .chars()
            .filter_map(|c| match c {
                '0'..='9' | '+' => Some(c),
                '*' => Some('_'),
                _ => None,
            })
            .collect();
        format!("%{part}%")
    });
    let rows = app
        .store
        .list_numbers(&account.sid, like.as_deref(), &page.store_query())
        .await?;
    let page = page.settle(rows, |r| (r.date_created, r.sid.clone()));
    let snapshot = app.snapshot();
    Ok(Json(page.twilio_2010(
        "incoming_phone_numbers",
        &format!(
            "/2010-04-01/Accounts/{}/IncomingPhoneNumbers.json",
            account.sid
        ),
        &params,
        |r| match snapshot.numbers.get(&r.phone_number) {
            Some(entry) => render(&app, entry),
            // Removed since the page was read.
            None => render(
                &app,
                &NumberEntry {
                    record: r.clone(),
                    sms_url: None,
                    voice_url: None,
                    status_callback: None,
                },
            ),
        },
    )))
}

fn owned(
    app: &App,
    principal: &Principal,
    account: &str,
    segment: &str,
) -> ApiResult<Arc<NumberEntry>> {
    let account = principal.account(account)?;
    let path = format!(
        "/2010-04-01/Accounts/{}/IncomingPhoneNumbers/{segment}",
        account.sid
    );
    let sid = json_segment(segment).ok_or_else(|| ApiError::not_found(&path))?;
    app.snapshot()
        .number_by_sid(sid)
        .filter(|n| n.record.account_sid == account.sid)
        .cloned()
        .ok_or_else(|| ApiError::not_found(&path))
}

/// `GET …/IncomingPhoneNumbers/{Sid}.json`
pub async fn fetch(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path((account, segment)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    Ok(Json(render(
        &app,
        &*owned(&app, &principal, &account, &segment)?,
    )))
}

/// `POST …/IncomingPhoneNumbers/{Sid}.json`
pub async fn update(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path((account, segment)): Path<(String, String)>,
    params: Params,
) -> ApiResult<Json<Value>> {
    let current = owned(&app, &principal, &account, &segment)?;
    let mut record = current.record.clone();
    apply(&app, &params, &mut record)?;
    record.date_updated = app.clock.now().0;
    let change = app.change().await;
    let event = audit::by(
        &principal,
        record.date_updated,
        &record.account_sid,
        "incoming-phone-number.updated",
        ("incoming-phone-number", Some(&record.sid)),
        json!({"after": {"sms_method": record.sms_method, "voice_method": record.voice_method,
            "urls_changed": record.sms_url_sealed != current.record.sms_url_sealed
                || record.voice_url_sealed != current.record.voice_url_sealed
                || record.status_callback_sealed != current.record.status_callback_sealed}}),
    );
    if !app.store.update_number(&record, &event).await? {
        return Err(ApiError::not_found(&format!(
            "/2010-04-01/Accounts/{}/IncomingPhoneNumbers/{}",
            record.account_sid, record.sid
        )));
    }
    change.commit(|snapshot, key| snapshot.put_number(key, &record))?;
    Ok(Json(render(&app, &*entry(&app, &record.sid)?)))
}

/// `DELETE …/IncomingPhoneNumbers/{Sid}.json`
pub async fn delete(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path((account, segment)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let current = owned(&app, &principal, &account, &segment)?;
    let change = app.change().await;
    app.store
        .delete_number(
            &current.record.account_sid,
            &current.record.sid,
            &audit::by(
                &principal,
                app.clock.now().0,
                &current.record.account_sid,
                "incoming-phone-number.deleted",
                ("incoming-phone-number", Some(&current.record.sid)),
                json!({"before": {"phone_number": current.record.phone_number}}),
            ),
        )
        .await?;
    change.commit(|snapshot, _| {
        snapshot.remove_number(&current.record.sid);
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT)
}
