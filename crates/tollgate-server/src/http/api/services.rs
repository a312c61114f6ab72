//! Messaging v1 `/v1/Services` and `/v1/Services/{Sid}/PhoneNumbers`:
//! sender pools, so applications send "from the service", not from a
//! hard-coded number. Pools hold at most 400 numbers (21714).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use tollgate_store::ServiceRecord;
use tollgate_types::error_code as codes;
use tollgate_types::{SidPrefix, Timestamp};

use crate::app::App;
use crate::audit;
use crate::error::{ApiError, ApiResult};
use crate::http::auth::Principal;
use crate::http::wire::{Order, PageRequest, Params, friendly_name};
use crate::random::new_sid;
use crate::state::snapshot::ServiceEntry;

/// Twilio's pool size limit.
pub const MAX_POOL: u32 = 400;

fn render(app: &App, r: &ServiceRecord) -> Value {
    let url = format!("{}/v1/Services/{}", app.public_url, r.sid);
    json!({
        "account_sid": r.account_sid,
        "sid": r.sid,
        "friendly_name": r.friendly_name,
        "date_created": Timestamp(r.date_created).iso8601(),
        "date_updated": Timestamp(r.date_updated).iso8601(),
        "sticky_sender": r.sticky_sender,
        "inbound_request_url": null,
        "inbound_method": "POST",
        "fallback_url": null,
        "fallback_method": "POST",
        "status_callback": null,
        "mms_converter": false,
        "smart_encoding": false,
        "scan_message_content": "inherit",
        "fallback_to_long_code": false,
        "area_code_geomatch": false,
        "synchronous_validation": false,
        "validity_period": 14400,
        "usecase": "undeclared",
        "us_app_to_person_registered": false,
        "use_inbound_webhook_on_number": true,
        "links": {"phone_numbers": format!("{url}/PhoneNumbers")},
        "url": url,
    })
}

fn owned(principal: &Principal, sid: &str) -> ApiResult<Arc<ServiceEntry>> {
    principal
        .snapshot
        .services
        .get(sid)
        .filter(|s| principal.account(&s.record.account_sid).is_ok())
        .cloned()
        .ok_or_else(|| ApiError::not_found(&format!("/v1/Services/{sid}")))
}

/// `POST /v1/Services` (`FriendlyName`, `StickySender`).
pub async fn create(
    State(app): State<Arc<App>>,
    principal: Principal,
    params: Params,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let name = friendly_name(
        params
            .get("FriendlyName")
            .ok_or_else(|| ApiError::missing("FriendlyName"))?,
    )?;
    let sticky = params.flag("StickySender")?.unwrap_or(true);
    let now = app.clock.now().0;
    let record = ServiceRecord {
        sid: new_sid(SidPrefix::MessagingService).to_string(),
        account_sid: principal.account.sid.clone(),
        friendly_name: name,
        sticky_sender: sticky,
        date_created: now,
        date_updated: now,
    };
    let change = app.change().await;
    let event = audit::by(
        &principal,
        now,
        &record.account_sid,
        "messaging-service.created",
        ("messaging-service", Some(&record.sid)),
        json!({"after": {"friendly_name": record.friendly_name, "sticky_sender": record.sticky_sender}}),
    );
    app.store.insert_service(&record, &event).await?;
    change.commit(|snapshot, _| {
        snapshot.put_service(&record);
        Ok(())
    })?;
    Ok((StatusCode::CREATED, Json(render(&app, &record))))
}

/// `GET /v1/Services`
pub async fn list(
    State(app): State<Arc<App>>,
    principal: Principal,
    params: Params,
) -> ApiResult<Json<Value>> {
    let page = PageRequest::from_params(&params)?;
    let rows: Vec<&ServiceRecord> = principal
        .snapshot
        .services
        .values()
        .map(|s| &s.record)
        .filter(|r| r.account_sid == principal.account.sid)
        .collect();
    let page = page.slice(rows, Order::Ascending, |r| (r.date_created, r.sid.clone()));
    Ok(Json(page.twilio_v1(
        "services",
        &app.public_url,
        "/v1/Services",
        &params,
        |r| render(&app, r),
    )))
}

/// `GET /v1/Services/{Sid}`
pub async fn fetch(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(sid): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(render(&app, &owned(&principal, &sid)?.record)))
}

/// `POST /v1/Services/{Sid}` (`FriendlyName`, `StickySender`).
pub async fn update(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(sid): Path<String>,
    params: Params,
) -> ApiResult<Json<Value>> {
    let mut record = owned(&principal, &sid)?.record.clone();
    if let Some(name) = params.get("FriendlyName") {
        record.friendly_name = friendly_name(name)?;
    }
    if let Some(sticky) = params.flag("StickySender")? {
        record.sticky_sender = sticky;
    }
    record.date_updated = app.clock.now().0;
    let change = app.change().await;
    let before = &owned(&principal, &sid)?.record;
    let event = audit::by(
        &principal,
        record.date_updated,
        &record.account_sid,
        "messaging-service.updated",
        ("messaging-service", Some(&record.sid)),
        audit::changes(
            &json!({"friendly_name": before.friendly_name, "sticky_sender": before.sticky_sender}),
            &json!({"friendly_name": record.friendly_name, "sticky_sender": record.sticky_sender}),
        ),
    );
    app.store.update_service(&record, &event).await?;
    change.commit(|snapshot, _| {
        snapshot.put_service(&record);
        Ok(())
    })?;
    Ok(Json(render(&app, &record)))
}

/// `DELETE /v1/Services/{Sid}`
pub async fn delete(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(sid): Path<String>,
) -> ApiResult<StatusCode> {
    let entry = owned(&principal, &sid)?;
    let change = app.change().await;
    app.store
        .delete_service(
            &entry.record.account_sid,
            &sid,
            &audit::by(
                &principal,
                app.clock.now().0,
                &entry.record.account_sid,
                "messaging-service.deleted",
                ("messaging-service", Some(&sid)),
                json!({"before": {"friendly_name": entry.record.friendly_name}}),
            ),
        )
        .await?;
    change.commit(|snapshot, _| {
        snapshot.remove_service(&sid);
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT)
}

fn render_number(app: &App, service: &str, number: &crate::state::snapshot::NumberEntry) -> Value {
    let r = &number.record;
    json!({
        "sid": r.sid,
        "account_sid": r.account_sid,
        "service_sid": service,
        "date_created": Timestamp(r.date_created).iso8601(),
        "date_updated": Timestamp(r.date_updated).iso8601(),
        "phone_number": r.phone_number,
        "country_code": app.classifier.classify(&r.phone_number, None).country,
        "capabilities": ["SMS", "Voice"],
        "url": format!("{}/v1/Services/{service}/PhoneNumbers/{}", app.public_url, r.sid),
    })
}

/// `POST /v1/Services/{Sid}/PhoneNumbers` (`PhoneNumberSid`).
pub async fn add_number(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(sid): Path<String>,
    params: Params,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let service = owned(&principal, &sid)?;
    let number_sid = params
        .get("PhoneNumberSid")
        .ok_or_else(|| ApiError::missing("PhoneNumberSid"))?;
    let number = principal
        .snapshot
        .number_by_sid(number_sid)
        .filter(|n| n.record.account_sid == service.record.account_sid)
        .cloned()
        .ok_or_else(|| ApiError::invalid("PhoneNumberSid", "not a number of this account"))?;
    let change = app.change().await;
    match app
        .store
        .add_service_number(
            &sid,
            number_sid,
            app.clock.now().0,
            MAX_POOL,
            &audit::by(
                &principal,
                app.clock.now().0,
                &service.record.account_sid,
                "messaging-service-phone-number.created",
                ("messaging-service-phone-number", Some(number_sid)),
                json!({"after": {"service_sid": sid}}),
            ),
        )
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            return Err(ApiError::new(
                &codes::POOL_FULL,
                format!("Messaging Service Number Pool size limit ({MAX_POOL}) reached"),
            ));
        }
        Err(tollgate_store::StoreError::Conflict(_)) => {
            return Err(ApiError::new(
                &codes::CONFLICT,
                "The number is in the pool already",
            ));
        }
        Err(e) => return Err(e.into()),
    }
    change.commit(|snapshot, _| {
        snapshot.add_service_number(&sid, number_sid);
        Ok(())
    })?;
    Ok((
        StatusCode::CREATED,
        Json(render_number(&app, &sid, &number)),
    ))
}

/// `GET /v1/Services/{Sid}/PhoneNumbers`
pub async fn list_numbers(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(sid): Path<String>,
    params: Params,
) -> ApiResult<Json<Value>> {
    let service = owned(&principal, &sid)?;
    let page = PageRequest::from_params(&params)?;
    let entries: Vec<Arc<crate::state::snapshot::NumberEntry>> = service
        .numbers
        .iter()
        .filter_map(|e164| principal.snapshot.numbers.get(e164).cloned())
        .collect();
    let page = page.slice(entries, Order::Ascending, |e| e.record.sid.clone());
    Ok(Json(page.twilio_v1(
        "phone_numbers",
        &app.public_url,
        &format!("/v1/Services/{sid}/PhoneNumbers"),
        &params,
        |e| render_number(&app, &sid, e),
    )))
}

/// `DELETE /v1/Services/{Sid}/PhoneNumbers/{PhoneNumberSid}`
pub async fn remove_number(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path((sid, number_sid)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let service = owned(&principal, &sid)?;
    let change = app.change().await;
    let event = audit::by(
        &principal,
        app.clock.now().0,
        &service.record.account_sid,
        "messaging-service-phone-number.deleted",
        ("messaging-service-phone-number", Some(&number_sid)),
        json!({"before": {"service_sid": sid}}),
    );
    if !app
        .store
        .remove_service_number(&sid, &number_sid, &event)
        .await?
    {
        return Err(ApiError::not_found(&format!(
            "/v1/Services/{sid}/PhoneNumbers/{number_sid}"
        )));
    }
    change.commit(|snapshot, _| {
        snapshot.remove_service_number(&sid, &number_sid);
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT)
}
