//! Monitor v1 `/v1/Events` and `/v1/Events/{Sid}`: the audit log.
//! Unlike Twilio, filters combine. A parent sees its subaccounts' events;
//! a subaccount sees only its own.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};
use tollgate_store::{AuditEventRecord, AuditQuery};
use tollgate_types::Timestamp;

use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::http::auth::Principal;
use crate::http::wire::{PageRequest, Params, iso_date};

const PATH: &str = "/v1/Events";

fn render(app: &App, e: &AuditEventRecord) -> Value {
    let data: Value = serde_json::from_str(&e.event_data).unwrap_or_else(|_| json!({}));
    // Twilio's `actor_sid` is a user (`US…`) or an account (`AC…`); other
    // actors (an API key) show as null there and in `tollgate_actor_sid`.
    let twilio_actor = e
        .actor_sid
        .as_deref()
        .filter(|s| s.starts_with("AC") || s.starts_with("US"));
    json!({
        "account_sid": e.account_sid,
        "actor_sid": twilio_actor,
        "actor_type": e.actor_type,
        "description": null,
        "event_data": data,
        "event_date": Timestamp(e.event_date).iso8601(),
        "event_type": e.event_type,
        "resource_sid": e.resource_sid,
        "resource_type": e.resource_type,
        "sid": e.sid,
        "source": e.source,
        "source_ip_address": e.source_ip_address,
        "url": format!("{}{PATH}/{}", app.public_url, e.sid),
        "links": {},
        // Tollgate's addition: the event's place in the hash chain.
        "tollgate_actor_sid": e.actor_sid,
        "tollgate_seq": e.seq,
        "tollgate_hash": hex::encode(&e.hash),
    })
}

/// `GET /v1/Events`: newest first.
pub async fn list(
    State(app): State<Arc<App>>,
    principal: Principal,
    params: Params,
) -> ApiResult<Json<Value>> {
    // Keyed by the event's place in the chain.
    let page = PageRequest::<i64>::from_params(&params)?;
    let filter = |name: &str| params.get(name).map(str::to_owned);
    let query = AuditQuery {
        account_sids: principal.visible_accounts(),
        actor_sid: filter("ActorSid"),
        event_type: filter("EventType"),
        resource_sid: filter("ResourceSid"),
        source_ip_address: filter("SourceIpAddress"),
        date_from: iso_date(&params, "StartDate")?,
        date_before: iso_date(&params, "EndDate")?,
        page: page.store_query(),
    };
    let rows = app.store.audit_events(&query).await?;
    let page = page.settle(rows, |e| e.seq);
    Ok(Json(page.twilio_v1(
        "events",
        &app.public_url,
        PATH,
        &params,
        |e| render(&app, e),
    )))
}

/// `GET /v1/Events/{Sid}`
pub async fn fetch(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(sid): Path<String>,
) -> ApiResult<Json<Value>> {
    let not_found = || ApiError::not_found(&format!("{PATH}/{sid}"));
    let event = app.store.audit_event(&sid).await?.ok_or_else(not_found)?;
    if !principal.visible_accounts().contains(&event.account_sid) {
        return Err(not_found());
    }
    Ok(Json(render(&app, &event)))
}
