//! All Twilio domains on one listener, routed by path. The listener
//! (`edge`) adds the limits every request meets: body, URI, timeout.

use std::sync::Arc;

use axum::Router;
use axum::routing::{delete, get, post, put};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};

use crate::app::App;
use crate::error::ApiError;
use crate::http::api::{
    accounts, auth_tokens, balance, blocklist, calls, decisions, events, fraud_guard, geo, keys,
    limits, lockdown, lookup, messages, meta, monitor, numbers, public_keys, recipients, sandbox,
    services, settings, upstream, usage, usage_triggers, verify, webhooks,
};
use crate::http::client_validation;

/// The whole gateway as a router: one group per Twilio domain.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .merge(api_2010())
        .merge(accounts_v1())
        .merge(voice_v1())
        .merge(monitor())
        .merge(lookups_v2())
        .merge(messaging_v1())
        .merge(verify_v2())
        .merge(tollgate_v1())
        .merge(sandbox_v1())
        .fallback(upstream::pass_through)
        .method_not_allowed_fallback(meta::method_not_allowed)
        .layer(axum::middleware::from_fn(client_validation::capture_body))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            crate::services::alerts::capture,
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new())
                .on_response(DefaultOnResponse::new()),
        )
        .layer(CatchPanicLayer::custom(|_| {
            axum::response::IntoResponse::into_response(ApiError::internal())
        }))
        .with_state(app)
}

/// api.twilio.com, 2010-04-01: accounts, keys, numbers, messages, calls,
/// usage. `{sid}` segments carry a `.json` suffix that the handlers strip
/// (axum cannot route `{sid}.json`).
fn api_2010() -> Router<Arc<App>> {
    Router::new()
        .route(
            "/2010-04-01/Accounts.json",
            get(accounts::list).post(accounts::create),
        )
        .route(
            "/2010-04-01/Accounts/{account}",
            get(accounts::fetch).post(accounts::update),
        )
        .route(
            "/2010-04-01/Accounts/{account}/Keys.json",
            get(keys::list).post(keys::create),
        )
        .route(
            "/2010-04-01/Accounts/{account}/Keys/{key}",
            get(keys::fetch).post(keys::update).delete(keys::delete),
        )
        .route(
            "/2010-04-01/Accounts/{account}/Balance.json",
            get(balance::fetch),
        )
        .route(
            "/2010-04-01/Accounts/{account}/IncomingPhoneNumbers.json",
            get(numbers::list).post(numbers::create),
        )
        .route(
            "/2010-04-01/Accounts/{account}/IncomingPhoneNumbers/{sid}",
            get(numbers::fetch)
                .post(numbers::update)
                .delete(numbers::delete),
        )
        .route(
            "/2010-04-01/Accounts/{account}/Messages.json",
            get(messages::list).post(messages::create),
        )
        .route(
            "/2010-04-01/Accounts/{account}/Messages/{sid}",
            get(messages::fetch)
                .post(messages::update)
                .delete(messages::delete),
        )
        .route(
            "/2010-04-01/Accounts/{account}/Calls.json",
            get(calls::list).post(calls::create),
        )
        .route(
            "/2010-04-01/Accounts/{account}/Calls/{sid}",
            get(calls::fetch).post(calls::update),
        )
        .route(
            "/2010-04-01/Accounts/{account}/Usage/Records.json",
            get(usage::records),
        )
        .route(
            "/2010-04-01/Accounts/{account}/Usage/Records/{kind}",
            get(usage::records),
        )
        .route(
            "/2010-04-01/Accounts/{account}/Usage/Triggers.json",
            get(usage_triggers::list).post(usage_triggers::create),
        )
        .route(
            "/2010-04-01/Accounts/{account}/Usage/Triggers/{sid}",
            get(usage_triggers::fetch)
                .post(usage_triggers::update)
                .delete(usage_triggers::delete),
        )
}

/// accounts.twilio.com, v1: auth tokens, public keys, the Safe List, SMS
/// geo permissions.
fn accounts_v1() -> Router<Arc<App>> {
    Router::new()
        .route(
            "/v1/AuthTokens/Secondary",
            post(auth_tokens::create_secondary).delete(auth_tokens::delete_secondary),
        )
        .route("/v1/AuthTokens/Promote", post(auth_tokens::promote))
        .route(
            "/v1/Credentials/PublicKeys",
            get(public_keys::list).post(public_keys::create),
        )
        .route(
            "/v1/Credentials/PublicKeys/{sid}",
            get(public_keys::fetch)
                .post(public_keys::update)
                .delete(public_keys::delete),
        )
        .route(
            "/v1/Messaging/GeoPermissions",
            get(geo::fetch_sms).patch(geo::update_sms),
        )
        .route(
            "/v1/SafeList/Numbers",
            get(fraud_guard::fetch_safe)
                .post(fraud_guard::add_safe)
                .delete(fraud_guard::remove_safe),
        )
}

/// voice.twilio.com, v1: dialing permissions.
fn voice_v1() -> Router<Arc<App>> {
    Router::new()
        .route("/v1/DialingPermissions/Countries", get(geo::list_countries))
        .route(
            "/v1/DialingPermissions/Countries/{iso}",
            get(geo::fetch_country),
        )
        .route(
            "/v1/DialingPermissions/Countries/{iso}/HighRiskSpecialPrefixes",
            get(geo::high_risk_special_prefixes),
        )
        .route(
            "/v1/DialingPermissions/BulkCountryUpdates",
            post(geo::bulk_update),
        )
        .route(
            "/v1/Settings",
            get(geo::fetch_settings).post(geo::update_settings),
        )
}

/// monitor.twilio.com: events and alerts (v1), alarms (v2).
fn monitor() -> Router<Arc<App>> {
    Router::new()
        .route("/v1/Events", get(events::list))
        .route("/v1/Events/{sid}", get(events::fetch))
        .route("/v1/Alerts", get(monitor::list_alerts))
        .route("/v1/Alerts/{sid}", get(monitor::fetch_alert))
        .route(
            "/v2/Alarms",
            get(monitor::list_alarms).post(monitor::create_alarm),
        )
        .route(
            "/v2/Alarms/{sid}",
            get(monitor::fetch_alarm)
                .put(monitor::update_alarm)
                .delete(monitor::delete_alarm),
        )
        .route("/v2/Alarms/{sid}/status", put(monitor::update_alarm_status))
}

/// lookups.twilio.com, v2.
fn lookups_v2() -> Router<Arc<App>> {
    Router::new().route("/v2/PhoneNumbers/{number}", get(lookup::fetch))
}

/// messaging.twilio.com, v1: Messaging Services and their sender pools.
fn messaging_v1() -> Router<Arc<App>> {
    Router::new()
        .route("/v1/Services", get(services::list).post(services::create))
        .route(
            "/v1/Services/{sid}",
            get(services::fetch)
                .post(services::update)
                .delete(services::delete),
        )
        .route(
            "/v1/Services/{sid}/PhoneNumbers",
            get(services::list_numbers).post(services::add_number),
        )
        .route(
            "/v1/Services/{sid}/PhoneNumbers/{number}",
            delete(services::remove_number),
        )
}

/// verify.twilio.com, v2: services, verifications, checks, rate limits.
fn verify_v2() -> Router<Arc<App>> {
    Router::new()
        .route(
            "/v2/Services",
            get(verify::list_services).post(verify::create_service),
        )
        .route(
            "/v2/Services/{service}",
            get(verify::fetch_service)
                .post(verify::update_service)
                .delete(verify::delete_service),
        )
        .route(
            "/v2/Services/{service}/Verifications",
            post(verify::create_verification),
        )
        .route(
            "/v2/Services/{service}/Verifications/{sid}",
            get(verify::fetch_verification).post(verify::update_verification),
        )
        .route(
            "/v2/Services/{service}/VerificationCheck",
            post(verify::check),
        )
        .route(
            "/v2/Services/{service}/RateLimits",
            get(verify::list_rate_limits).post(verify::create_rate_limit),
        )
        .route(
            "/v2/Services/{service}/RateLimits/{sid}",
            get(verify::fetch_rate_limit)
                .post(verify::update_rate_limit)
                .delete(verify::delete_rate_limit),
        )
        .route(
            "/v2/Services/{service}/RateLimits/{rate_limit}/Buckets",
            get(verify::list_buckets).post(verify::create_bucket),
        )
        .route(
            "/v2/Services/{service}/RateLimits/{rate_limit}/Buckets/{sid}",
            get(verify::fetch_bucket)
                .post(verify::update_bucket)
                .delete(verify::delete_bucket),
        )
}

/// Tollgate's own API: decisions, limits, recipients, the inbound
/// blocklist, account settings, webhooks and lockdown, Fraud Guard blocks,
/// health and the error-code pages.
fn tollgate_v1() -> Router<Arc<App>> {
    Router::new()
        .route("/tollgate/v1/Decisions", post(decisions::create))
        .route(
            "/tollgate/v1/RateLimits",
            get(limits::list_rates).post(limits::create_rate),
        )
        .route("/tollgate/v1/RateLimits/{sid}", delete(limits::delete_rate))
        .route(
            "/tollgate/v1/SpendLimits",
            get(limits::list_spend).post(limits::create_spend),
        )
        .route(
            "/tollgate/v1/SpendLimits/{sid}",
            delete(limits::delete_spend),
        )
        .route(
            "/tollgate/v1/Recipients",
            get(recipients::list).post(recipients::create),
        )
        .route(
            "/tollgate/v1/Recipients/{number}",
            delete(recipients::delete),
        )
        .route(
            "/tollgate/v1/Blocklist",
            get(blocklist::list).post(blocklist::create),
        )
        .route("/tollgate/v1/Blocklist/{number}", delete(blocklist::delete))
        .route(
            "/tollgate/v1/Accounts/{account}/Webhooks",
            post(webhooks::create),
        )
        .route(
            "/tollgate/v1/Accounts/{account}/Settings",
            get(settings::fetch).post(settings::update),
        )
        .route(
            "/tollgate/v1/Accounts/{account}/Webhooks/{sid}",
            get(webhooks::fetch),
        )
        .route(
            "/tollgate/v1/Upstream/MessageStatus", // proxy::MESSAGE_STATUS_PATH
            post(upstream::message_status),
        )
        .route(
            "/tollgate/v1/Upstream/Sms", // proxy::INBOUND_SMS_PATH
            post(upstream::inbound_sms),
        )
        .route(
            "/tollgate/v1/Upstream/CallStatus", // proxy::CALL_STATUS_PATH
            post(upstream::call_status),
        )
        .route(
            "/tollgate/v1/Upstream/Voice", // proxy::INBOUND_VOICE_PATH
            post(upstream::inbound_call),
        )
        .route(
            "/tollgate/v1/Accounts/{account}/Upstream",
            get(upstream::fetch)
                .post(upstream::set)
                .delete(upstream::delete),
        )
        .route(
            "/tollgate/v1/Accounts/{account}/Lockdown",
            post(lockdown::lock).delete(lockdown::unlock),
        )
        .route(
            "/tollgate/v1/FraudGuard/Blocks",
            get(fraud_guard::list_blocks),
        )
        .route(
            "/tollgate/v1/FraudGuard/Blocks/{scope}/{range}",
            delete(fraud_guard::lift_block),
        )
        .route("/tollgate/v1/Health", get(meta::health))
        .route("/tollgate/v1/Errors/{code}", get(meta::error_code))
}

/// The sandbox carrier's controls: handsets, reachability, inbound texts.
fn sandbox_v1() -> Router<Arc<App>> {
    Router::new()
        .route("/sandbox/v1/Messages.json", get(sandbox::handset))
        .route("/sandbox/v1/Numbers/{number}", post(sandbox::reachability))
        .route("/sandbox/v1/Messages/Inbound.json", post(sandbox::inbound))
}
