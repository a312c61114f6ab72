//! `/tollgate/v1/RateLimits` (velocity limits) and `/tollgate/v1/SpendLimits`
//! (hard spend caps) of the caller's account. Managed with account credentials.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use tollgate_policy::spend::{Period, Scope, format_price, parse_usd_micros};
use tollgate_store::{RateLimitRecord, SpendLimitRecord};
use tollgate_types::{SidPrefix, Timestamp};

use crate::app::App;
use crate::audit;
use crate::error::{ApiError, ApiResult};
use crate::http::auth::Principal;
use crate::http::wire::{Order, PageRequest, Params};
use crate::random::new_sid;
use crate::state::traffic::{DEFAULT_RULES, LIMIT_KEYS};

fn render_rate(app: &App, r: &RateLimitRecord) -> Value {
    json!({
        "sid": r.sid,
        "account_sid": r.account_sid,
        "key": r.limit_key,
        "max": r.max_events,
        "interval": r.interval_seconds,
        "channel": r.channel,
        "date_created": Timestamp(r.date_created).iso8601(),
        "url": format!("{}/tollgate/v1/RateLimits/{}", app.public_url, r.sid),
    })
}

/// `POST /tollgate/v1/RateLimits` (`Key`, `Max`, `Interval` seconds, `Channel`).
pub async fn create_rate(
    State(app): State<Arc<App>>,
    principal: Principal,
    params: Params,
) -> ApiResult<(StatusCode, Json<Value>)> {
    principal.require_account_credentials()?;
    let key = params.get("Key").ok_or_else(|| ApiError::missing("Key"))?;
    if !LIMIT_KEYS.contains(&key) {
        return Err(ApiError::invalid(
            "Key",
            "must be account, to, to-prefix, from, ip or country",
        ));
    }
    let max: i32 = params
        .get("Max")
        .ok_or_else(|| ApiError::missing("Max"))?
        .parse()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| ApiError::invalid("Max", "must be a whole number of at least 1"))?;
    let interval: i32 = params
        .get("Interval")
        .ok_or_else(|| ApiError::missing("Interval"))?
        .parse()
        .ok()
        .filter(|n| (1..=31 * 86_400).contains(n))
        .ok_or_else(|| ApiError::invalid("Interval", "must be 1 to 2678400 seconds"))?;
    let channel = match params.get("Channel") {
        None => None,
        Some(c @ ("sms" | "voice")) => Some(c.to_owned()),
        Some(_) => return Err(ApiError::invalid("Channel", "must be sms or voice")),
    };
    let record = RateLimitRecord {
        sid: new_sid(SidPrefix::RateLimit).to_string(),
        account_sid: principal.account.sid.clone(),
        limit_key: key.to_owned(),
        max_events: max,
        interval_seconds: interval,
        channel,
        date_created: app.clock.now().0,
    };
    let change = app.change().await;
    let event = audit::by(
        &principal,
        record.date_created,
        &record.account_sid,
        "tollgate-rate-limit.created",
        ("tollgate-rate-limit", Some(&record.sid)),
        json!({"after": {"key": record.limit_key,
            "max": record.max_events, "interval": record.interval_seconds, "channel": record.channel}}),
    );
    app.store.insert_rate_limit(&record, &event).await?;
    change.commit(|snapshot, _| {
        snapshot.put_rate_limit(&record);
        Ok(())
    })?;
    tracing::info!(sid = %record.sid, account = %record.account_sid, key, max, interval, "rate limit created");
    Ok((StatusCode::CREATED, Json(render_rate(&app, &record))))
}

/// `GET /tollgate/v1/RateLimits`: the account's rules (paged) and the
/// defaults in force.
pub async fn list_rates(
    State(app): State<Arc<App>>,
    principal: Principal,
    params: Params,
) -> ApiResult<Json<Value>> {
    let page = PageRequest::from_params(&params)?;
    let snapshot = &principal.snapshot;
    let own: Vec<&RateLimitRecord> = snapshot
        .rate_limits
        .get(&principal.account.sid)
        .into_iter()
        .flat_map(|list| list.iter())
        .collect();
    let defaults: Vec<Value> = DEFAULT_RULES
        .iter()
        .filter(|(key, _, _)| !own.iter().any(|r| r.limit_key == *key))
        .map(|(key, max, interval)| json!({"key": key, "max": max, "interval": interval, "channel": null, "default": true}))
        .collect();
    let page = page.slice(own, Order::Ascending, |r| (r.date_created, r.sid.clone()));
    Ok(Json(page.twilio_v1_with(
        "rate_limits",
        &app.public_url,
        "/tollgate/v1/RateLimits",
        &params,
        |r| render_rate(&app, r),
        json!({"defaults": defaults}),
    )))
}

/// `DELETE /tollgate/v1/RateLimits/{Sid}`
pub async fn delete_rate(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(sid): Path<String>,
) -> ApiResult<StatusCode> {
    principal.require_account_credentials()?;
    let change = app.change().await;
    if !app
        .store
        .delete_rate_limit(
            &principal.account.sid,
            &sid,
            &audit::by(
                &principal,
                app.clock.now().0,
                &principal.account.sid,
                "tollgate-rate-limit.deleted",
                ("tollgate-rate-limit", Some(&sid)),
                json!({}),
            ),
        )
        .await?
    {
        return Err(ApiError::not_found(&format!(
            "/tollgate/v1/RateLimits/{sid}"
        )));
    }
    change.commit(|snapshot, _| {
        snapshot.remove_rate_limit(&principal.account.sid, &sid);
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT)
}

fn render_spend(app: &App, r: &SpendLimitRecord) -> Value {
    let spent = Period::parse(&r.period)
        .map(|p| app.traffic.spent(&r.account_sid, p, app.clock.now().0))
        .unwrap_or(0);
    json!({
        "sid": r.sid,
        "account_sid": r.account_sid,
        "scope": r.scope,
        "period": r.period,
        "limit_usd": format_price(r.limit_micros).trim_start_matches('-'),
        "spent_usd_account_this_period": format_price(spent).trim_start_matches('-'),
        "date_created": Timestamp(r.date_created).iso8601(),
        "url": format!("{}/tollgate/v1/SpendLimits/{}", app.public_url, r.sid),
    })
}

/// `POST /tollgate/v1/SpendLimits` (`Scope` = account | country:XX, `Period` = hour|day|month, `LimitUsd`).
pub async fn create_spend(
    State(app): State<Arc<App>>,
    principal: Principal,
    params: Params,
) -> ApiResult<(StatusCode, Json<Value>)> {
    principal.require_account_credentials()?;
    let scope_text = params.get("Scope").unwrap_or("account");
    let scope = Scope::parse(scope_text)
        .ok_or_else(|| ApiError::invalid("Scope", "must be account or country:XX"))?;
    let period = Period::parse(
        params
            .get("Period")
            .ok_or_else(|| ApiError::missing("Period"))?,
    )
    .ok_or_else(|| ApiError::invalid("Period", "must be hour, day or month"))?;
    let limit = parse_usd_micros(
        params
            .get("LimitUsd")
            .ok_or_else(|| ApiError::missing("LimitUsd"))?,
    )
    .filter(|_| {
        !params
            .get("LimitUsd")
            .is_some_and(|v| v.trim().starts_with('-'))
    })
    .ok_or_else(|| ApiError::invalid("LimitUsd", "must be a dollar amount like 25 or 0.50"))?;
    let record = SpendLimitRecord {
        sid: new_sid(SidPrefix::SpendLimit).to_string(),
        account_sid: principal.account.sid.clone(),
        scope: scope.render(),
        period: period.as_str().to_owned(),
        limit_micros: limit,
        date_created: app.clock.now().0,
    };
    let change = app.change().await;
    let event = audit::by(
        &principal,
        record.date_created,
        &record.account_sid,
        "tollgate-spend-limit.created",
        ("tollgate-spend-limit", Some(&record.sid)),
        json!({"after": {"scope": record.scope,
            "period": record.period, "limit_micros": record.limit_micros}}),
    );
    app.store.insert_spend_limit(&record, &event).await?;
    change.commit(|snapshot, _| {
        snapshot.put_spend_limit(&record);
        Ok(())
    })?;
    tracing::info!(sid = %record.sid, account = %record.account_sid, scope = %record.scope, period = %record.period, "spend limit created");
    Ok((StatusCode::CREATED, Json(render_spend(&app, &record))))
}

/// `GET /tollgate/v1/SpendLimits`
pub async fn list_spend(
    State(app): State<Arc<App>>,
    principal: Principal,
    params: Params,
) -> ApiResult<Json<Value>> {
    let page = PageRequest::from_params(&params)?;
    let mut own = app.store.all_spend_limits().await?;
    own.retain(|r| r.account_sid == principal.account.sid);
    let page = page.slice(own, Order::Ascending, |r| (r.date_created, r.sid.clone()));
    Ok(Json(page.twilio_v1(
        "spend_limits",
        &app.public_url,
        "/tollgate/v1/SpendLimits",
        &params,
        |r| render_spend(&app, r),
    )))
}

/// `DELETE /tollgate/v1/SpendLimits/{Sid}`
pub async fn delete_spend(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(sid): Path<String>,
) -> ApiResult<StatusCode> {
    principal.require_account_credentials()?;
    let change = app.change().await;
    if !app
        .store
        .delete_spend_limit(
            &principal.account.sid,
            &sid,
            &audit::by(
                &principal,
                app.clock.now().0,
                &principal.account.sid,
                "tollgate-spend-limit.deleted",
                ("tollgate-spend-limit", Some(&sid)),
                json!({}),
            ),
        )
        .await?
    {
        return Err(ApiError::not_found(&format!(
            "/tollgate/v1/SpendLimits/{sid}"
        )));
    }
    change.commit(|snapshot, _| {
        snapshot.remove_spend_limit(&principal.account.sid, &sid);
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT)
}
