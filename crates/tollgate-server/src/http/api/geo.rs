//! Geo permissions, shaped as Twilio's APIs:
//! - voice v1 `/v1/DialingPermissions/Countries`, `…/{IsoCode}`,
//!   `…/{IsoCode}/HighRiskSpecialPrefixes`, `/v1/DialingPermissions/BulkCountryUpdates`
//!   and `/v1/Settings` (`DialingPermissionsInheritance`);
//! - accounts v1 `/v1/Messaging/GeoPermissions` (GET, PATCH).
//!
//! They act on the caller's account. Reads accept any credential; changes
//! need the account's own credentials. A subaccount that inherits its
//! parent's permissions must turn inheritance off before changing its own.

use std::collections::HashSet;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use tollgate_numbering::countries::{self, Country};
use tollgate_policy::geo::{FRAUD_DESTINATIONS, SMS_NEVER};
use tollgate_policy::{GeoPolicy, VoicePermission};
use tollgate_store::{AccountRecord, GeoPermissionRecord};

use crate::app::App;
use crate::audit;
use crate::error::{ApiError, ApiResult};
use crate::http::auth::Principal;
use crate::http::wire::{Order, PageRequest, Params};
use crate::state::snapshot::AccountEntry;

const COUNTRIES: &str = "/v1/DialingPermissions/Countries";

fn render_country(app: &App, country: &Country, policy: &GeoPolicy) -> Value {
    let p = policy
        .voice
        .get(country.iso_code)
        .copied()
        .unwrap_or_default();
    let url = format!("{}{COUNTRIES}/{}", app.public_url, country.iso_code);
    json!({
        "iso_code": country.iso_code,
        "name": country.name,
        "continent": country.continent,
        "country_codes": [format!("+{}", country.calling_code)],
        "low_risk_numbers_enabled": p.low_risk,
        "high_risk_special_numbers_enabled": p.high_risk_special,
        "high_risk_tollfraud_numbers_enabled": p.high_risk_tollfraud,
        "links": {"highrisk_special_prefixes": format!("{url}/HighRiskSpecialPrefixes")},
        "url": url,
    })
}

/// `GET /v1/DialingPermissions/Countries`, with Twilio's filters.
pub async fn list_countries(
    State(app): State<Arc<App>>,
    principal: Principal,
    params: Params,
) -> ApiResult<Json<Value>> {
    let page = PageRequest::<String>::from_params(&params)?;
    let policy = principal.snapshot.effective_geo(&principal.account);
    let iso = params.get("IsoCode").map(str::to_ascii_uppercase);
    let continent = params.get("Continent").map(str::to_ascii_uppercase);
    let code = params
        .get("CountryCode")
        .map(|c| c.trim().trim_start_matches('+').to_owned());
    let low = params.flag("LowRiskNumbersEnabled")?;
    let special = params.flag("HighRiskSpecialNumbersEnabled")?;
    let tollfraud = params.flag("HighRiskTollfraudNumbersEnabled")?;
    let rows: Vec<&Country> = countries::all()
        .iter()
        .filter(|c| {
            let p = policy.voice.get(c.iso_code).copied().unwrap_or_default();
            iso.as_deref().is_none_or(|i| i == c.iso_code)
                && continent.as_deref().is_none_or(|k| k == c.continent)
                && code
                    .as_deref()
                    .is_none_or(|k| k == c.calling_code.to_string())
                && low.is_none_or(|v| v == p.low_risk)
                && special.is_none_or(|v| v == p.high_risk_special)
                && tollfraud.is_none_or(|v| v == p.high_risk_tollfraud)
        })
        .collect();
    let page = page.slice(rows, Order::Ascending, |c| c.iso_code.to_owned());
    Ok(Json(page.twilio_v1(
        "content",
        &app.public_url,
        COUNTRIES,
        &params,
        |c| render_country(&app, c, &policy),
    )))
}

fn country_or_404(iso: &str) -> ApiResult<&'static Country> {
    countries::by_iso(iso).ok_or_else(|| ApiError::not_found(&format!("{COUNTRIES}/{iso}")))
}

/// `GET /v1/DialingPermissions/Countries/{IsoCode}`
pub async fn fetch_country(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(iso): Path<String>,
) -> ApiResult<Json<Value>> {
    let country = country_or_404(&iso)?;
    let policy = principal.snapshot.effective_geo(&principal.account);
    Ok(Json(render_country(&app, country, &policy)))
}

/// `GET …/{IsoCode}/HighRiskSpecialPrefixes`: prefixes derived from
/// libphonenumber's special-service patterns, plus the special table's.
pub async fn high_risk_special_prefixes(
    State(app): State<Arc<App>>,
    _principal: Principal,
    Path(iso): Path<String>,
    params: Params,
) -> ApiResult<Json<Value>> {
    let country = country_or_404(&iso)?;
    let page = PageRequest::<String>::from_params(&params)?;
    let prefixes = app.classifier.high_risk_special_prefixes(country.iso_code);
    let page = page.slice(prefixes, Order::Ascending, Clone::clone);
    Ok(Json(page.twilio_v1(
        "content",
        &app.public_url,
        &format!("{COUNTRIES}/{}/HighRiskSpecialPrefixes", country.iso_code),
        &params,
        |p| json!({"prefix": format!("+{p}")}),
    )))
}

/// The caller's own account record, for a change to its permissions.
async fn own_for_change(app: &App, principal: &Principal) -> ApiResult<AccountRecord> {
    principal.require_account_credentials()?;
    let account: &AccountEntry = &principal.account;
    if !account.is_main() && account.dialing_permissions_inheritance {
        return Err(ApiError::invalid(
            "DialingPermissionsInheritance",
            "this subaccount uses its parent's geo permissions: set DialingPermissionsInheritance=false (POST /v1/Settings) to manage its own",
        ));
    }
    app.store
        .account(&account.sid)
        .await?
        .ok_or_else(ApiError::authenticate)
}

fn json_flag(value: Option<&Value>, name: &str, iso: &str) -> ApiResult<Option<bool>> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(_) => Err(ApiError::invalid(
            "UpdateRequest",
            &format!("{name} of {iso} must be true or false"),
        )),
    }
}

/// `POST /v1/DialingPermissions/BulkCountryUpdates` (`UpdateRequest`: a JSON
/// array of `{iso_code, low_risk_numbers_enabled, high_risk_special_numbers_enabled,
/// high_risk_tollfraud_numbers_enabled}`). All or nothing.
pub async fn bulk_update(
    State(app): State<Arc<App>>,
    principal: Principal,
    params: Params,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let text = params
        .get("UpdateRequest")
        .ok_or_else(|| ApiError::missing("UpdateRequest"))?;
    let items: Vec<Value> = serde_json::from_str(text).map_err(|_| {
        ApiError::invalid("UpdateRequest", "must be a JSON array of country updates")
    })?;
    if items.is_empty() || items.len() > 500 {
        return Err(ApiError::invalid(
            "UpdateRequest",
            "must list 1 to 500 countries",
        ));
    }
    let change = app.change().await;
    let account = own_for_change(&app, &principal).await?;
    let current = principal.snapshot.effective_geo(&principal.account);
    let now = app.clock.now().0;
    let mut rows = Vec::new();
    let mut seen = HashSet::new();
    for item in &items {
        let iso = item
            .get("iso_code")
            .and_then(Value::as_str)
            .map(str::to_ascii_uppercase)
            .ok_or_else(|| ApiError::invalid("UpdateRequest", "every item needs an iso_code"))?;
        let country = countries::by_iso(&iso).ok_or_else(|| {
            ApiError::invalid(
                "UpdateRequest",
                &format!("{iso} is not a country Tollgate knows"),
            )
        })?;
        if !seen.insert(country.iso_code) {
            return Err(ApiError::invalid(
                "UpdateRequest",
                &format!("{iso} is listed twice"),
            ));
        }
        let was = current
            .voice
            .get(country.iso_code)
            .copied()
            .unwrap_or_default();
        let low = json_flag(
            item.get("low_risk_numbers_enabled"),
            "low_risk_numbers_enabled",
            &iso,
        )?;
        let special = json_flag(
            item.get("high_risk_special_numbers_enabled"),
            "high_risk_special_numbers_enabled",
            &iso,
        )?;
        let tollfraud = json_flag(
            item.get("high_risk_tollfraud_numbers_enabled"),
            "high_risk_tollfraud_numbers_enabled",
            &iso,
        )?;
        let next = VoicePermission {
            low_risk: low.unwrap_or(was.low_risk),
            high_risk_special: special.unwrap_or(was.high_risk_special),
            high_risk_tollfraud: tollfraud.unwrap_or(was.high_risk_tollfraud),
        };
        log_change(
            &account.sid,
            "voice",
            country.iso_code,
            was.low_risk,
            next.low_risk,
            &next,
        );
        rows.push(GeoPermissionRecord {
            account_sid: account.sid.clone(),
            channel: "voice".into(),
            iso_code: country.iso_code.to_owned(),
            low_risk: next.low_risk,
            high_risk_special: next.high_risk_special,
            high_risk_tollfraud: next.high_risk_tollfraud,
            date_updated: now,
        });
    }
    let changed: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({"iso_code": r.iso_code, "low_risk_numbers_enabled": r.low_risk,
            "high_risk_special_numbers_enabled": r.high_risk_special,
            "high_risk_tollfraud_numbers_enabled": r.high_risk_tollfraud})
        })
        .collect();
    let event = audit::by(
        &principal,
        now,
        &account.sid,
        "voice-geographic-permissions.updated",
        ("voice-geographic-permissions", None),
        json!({"after": changed}),
    );
    app.store.upsert_geo_permissions(&rows, &event).await?;
    change.commit(|snapshot, _| {
        snapshot.put_geo(&rows);
        Ok(())
    })?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"update_count": rows.len(), "update_request": text})),
    ))
}

/// Every enable is logged; enabling one of the seeds' ten fraud destinations
/// is a warning.
fn log_change(account: &str, channel: &str, iso: &str, was: bool, now: bool, p: &VoicePermission) {
    if now && !was && FRAUD_DESTINATIONS.contains(&iso) {
        tracing::warn!(
            account,
            channel,
            country = iso,
            "geo permission enabled for a destination among the ten most used for fraud"
        );
    } else {
        tracing::info!(
            account,
            channel,
            country = iso,
            enabled = now,
            high_risk_special = p.high_risk_special,
            high_risk_tollfraud = p.high_risk_tollfraud,
            "geo permission changed"
        );
    }
}

fn render_settings(app: &App, account: &AccountEntry) -> Value {
    json!({
        "dialing_permissions_inheritance": account.dialing_permissions_inheritance,
        "url": format!("{}/v1/Settings", app.public_url),
    })
}

/// `GET /v1/Settings`
pub async fn fetch_settings(
    State(app): State<Arc<App>>,
    principal: Principal,
) -> ApiResult<Json<Value>> {
    Ok(Json(render_settings(&app, &principal.account)))
}

/// `POST /v1/Settings` (`DialingPermissionsInheritance`). Turning inheritance
/// off starts the subaccount with no permissions of its own (everything
/// off), unless it set some before.
pub async fn update_settings(
    State(app): State<Arc<App>>,
    principal: Principal,
    params: Params,
) -> ApiResult<(StatusCode, Json<Value>)> {
    principal.require_account_credentials()?;
    let change = app.change().await;
    let mut record = app
        .store
        .account(&principal.account.sid)
        .await?
        .ok_or_else(ApiError::authenticate)?;
    if let Some(value) = params.flag("DialingPermissionsInheritance")? {
        record.dialing_permissions_inheritance = value;
        record.date_updated = app.clock.now().0;
        let event = audit::by(
            &principal,
            record.date_updated,
            &record.sid,
            "voice-dialing-permissions-settings.updated",
            ("voice-dialing-permissions-settings", None),
            json!({"after": {"dialing_permissions_inheritance": value}}),
        );
        app.store.update_account(&record, &event).await?;
        change.commit(|snapshot, key| snapshot.put_account(key, &record))?;
        tracing::info!(account = %record.sid, inheritance = value, "dialing permissions inheritance changed");
    }
    let snapshot = app.snapshot();
    let entry = snapshot
        .accounts
        .get(&record.sid)
        .ok_or_else(ApiError::internal)?;
    Ok((StatusCode::ACCEPTED, Json(render_settings(&app, entry))))
}

fn render_sms(country: &Country, policy: &GeoPolicy) -> Value {
    json!({
        "country_code": country.iso_code,
        "type": "country",
        "enabled": policy.sms.contains(country.iso_code),
        "prefix": format!("+{}", country.calling_code),
    })
}

/// `GET /v1/Messaging/GeoPermissions` (`CountryCode`: comma-separated ISO codes).
pub async fn fetch_sms(
    State(_app): State<Arc<App>>,
    principal: Principal,
    params: Params,
) -> ApiResult<Json<Value>> {
    let policy = principal.snapshot.effective_geo(&principal.account);
    let wanted: Option<HashSet<String>> = params.get("CountryCode").map(|list| {
        list.split(',')
            .map(|c| c.trim().to_ascii_uppercase())
            .filter(|c| !c.is_empty())
            .collect()
    });
    let permissions: Vec<Value> = countries::all()
        .iter()
        .filter(|c| wanted.as_ref().is_none_or(|w| w.contains(c.iso_code)))
        .map(|c| render_sms(c, &policy))
        .collect();
    Ok(Json(json!({"permissions": permissions})))
}

/// `PATCH /v1/Messaging/GeoPermissions` (`Permissions`, repeated: JSON
/// `{"country_code","type":"country","enabled"}`). Each item answers for
/// itself: `error_code` 0, or 30649 with the reason (Iran, Syria and Cuba
/// cannot be enabled; unknown countries are refused).
pub async fn update_sms(
    State(app): State<Arc<App>>,
    principal: Principal,
    params: Params,
) -> ApiResult<Json<Value>> {
    let items = params.all("Permissions");
    if items.is_empty() {
        return Err(ApiError::missing("Permissions"));
    }
    let change = app.change().await;
    let account = own_for_change(&app, &principal).await?;
    let current = principal.snapshot.effective_geo(&principal.account);
    let now = app.clock.now().0;
    let mut rows = Vec::new();
    let mut answers = Vec::new();
    for text in items {
        let item: Value = serde_json::from_str(text)
            .map_err(|_| ApiError::invalid("Permissions", "each item must be a JSON object"))?;
        let code = item
            .get("country_code")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_ascii_uppercase();
        let enabled = json_flag(item.get("enabled"), "enabled", &code)?
            .ok_or_else(|| ApiError::invalid("Permissions", "each item needs enabled"))?;
        let failure = match countries::by_iso(&code) {
            None => Some(format!("Unknown country: {code}")),
            Some(_) if enabled && SMS_NEVER.contains(&code.as_str()) => Some(format!(
                "Non-supported country: SMS to {code} cannot be enabled"
            )),
            Some(_) => None,
        };
        let was = current.sms.contains(code.as_str());
        if let Some(message) = failure {
            answers.push(json!({
                "country_code": code, "type": "country", "enabled": was,
                "error_code": 30649, "error_messages": [message],
            }));
            continue;
        }
        let p = VoicePermission {
            low_risk: enabled,
            ..VoicePermission::default()
        };
        log_change(&account.sid, "sms", &code, was, enabled, &p);
        rows.push(GeoPermissionRecord {
            account_sid: account.sid.clone(),
            channel: "sms".into(),
            iso_code: code.clone(),
            low_risk: enabled,
            high_risk_special: false,
            high_risk_tollfraud: false,
            date_updated: now,
        });
        answers.push(json!({
            "country_code": code, "type": "country", "enabled": enabled,
            "error_code": 0, "error_messages": [],
        }));
    }
    if !rows.is_empty() {
        let changed: Vec<Value> = rows
            .iter()
            .map(|r| json!({"country_code": r.iso_code, "enabled": r.low_risk}))
            .collect();
        let event = audit::by(
            &principal,
            now,
            &account.sid,
            "messaging-geographic-permissions.updated",
            ("messaging-geographic-permissions", None),
            json!({"after": changed}),
        );
        app.store.upsert_geo_permissions(&rows, &event).await?;
        change.commit(|snapshot, _| {
            snapshot.put_geo(&rows);
            Ok(())
        })?;
    }
    Ok(Json(json!({"permissions": answers})))
}
