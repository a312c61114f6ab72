//! `/tollgate/v1/Accounts/{Sid}/Upstream`: the account's upstream Twilio
//! account in proxy mode. The API key secret and the auth token are checked
//! against Twilio, sealed, and never shown again.

use std::sync::Arc;

use axum::Json;
use axum::extract::FromRequestParts;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use tollgate_secrets::MasterKey;
use tollgate_signature::{Algorithm, Payload as SignedPayload, Verifier};
use tollgate_store::UpstreamRecord;
use tollgate_types::error_code as codes;
use tollgate_types::{AccountStatus, Timestamp};

use crate::app::App;
use crate::audit;
use crate::error::{ApiError, ApiResult};
use crate::http::auth::Principal;
use crate::http::wire::Params;
use crate::random::OsRandom;
use crate::services::proxy;
use crate::services::upstream::{CredentialsError, check_credentials};
use crate::state::snapshot::{UpstreamEntry, upstream_aad};

fn path(account: &str) -> String {
    format!("/tollgate/v1/Accounts/{account}/Upstream")
}

fn render(app: &App, u: &UpstreamEntry) -> Value {
    json!({
        "account_sid": u.account_sid,
        "upstream_account_sid": u.upstream_account_sid,
        "api_key_sid": u.api_key_sid,
        "date_created": Timestamp(u.date_created).iso8601(),
        "date_updated": Timestamp(u.date_updated).iso8601(),
        "url": format!("{}{}", app.public_url, path(&u.account_sid)),
    })
}

/// `prefix` and 32 lowercase hex digits, as Twilio's SIDs.
fn sid_param<'a>(params: &'a Params, name: &str, prefix: &str) -> ApiResult<&'a str> {
    let value = params.get(name).ok_or_else(|| ApiError::missing(name))?;
    let hex = value.strip_prefix(prefix).unwrap_or_default();
    if hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(value)
    } else {
        Err(ApiError::invalid(
            name,
            &format!("must be {prefix} and 32 hex digits"),
        ))
    }
}

/// A secret: 16 to 256 printable ASCII characters.
fn secret_param<'a>(params: &'a Params, name: &str) -> ApiResult<&'a str> {
    let value = params.get(name).ok_or_else(|| ApiError::missing(name))?;
    if (16..=256).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(value)
    } else {
        Err(ApiError::invalid(
            name,
            "must be 16 to 256 printable ASCII characters",
        ))
    }
}

fn seal(key: &MasterKey, account: &str, what: &str, secret: &str) -> ApiResult<Vec<u8>> {
    key.seal(
        &upstream_aad(account, what),
        secret.as_bytes(),
        &mut OsRandom,
    )
    .map_err(|_| ApiError::internal())
}

/// `POST …/Upstream` (`AccountSid`, `ApiKeySid`, `ApiKeySecret`, `AuthToken`).
/// Account credentials only (of the account or its parent).
pub async fn set(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(account): Path<String>,
    params: Params,
) -> ApiResult<Json<Value>> {
    principal.require_account_credentials()?;
    let account = principal.account(&account)?;
    let Some(client) = app.upstream.as_ref() else {
        return Err(ApiError::new(
            &codes::PROXY_MODE_OFF,
            "Proxy mode is off: set carrier = \"twilio\" to carry traffic to Twilio",
        ));
    };
    let upstream_sid = sid_param(&params, "AccountSid", "AC")?;
    let key_sid = sid_param(&params, "ApiKeySid", "SK")?;
    let key_secret = secret_param(&params, "ApiKeySecret")?;
    let token = secret_param(&params, "AuthToken")?;
    if let Some(owner) = app.snapshot().upstream_owners.get(upstream_sid)
        && *owner != account.sid
    {
        return Err(ApiError::new(
            &codes::UPSTREAM_ACCOUNT_TAKEN,
            format!("Upstream account {upstream_sid} is carried by another account"),
        ));
    }
    check_credentials(client, upstream_sid, key_sid, key_secret, token)
        .await
        .map_err(|e| {
            tracing::warn!(account = %account.sid, error = %e, "upstream credentials refused");
            let message = match &e {
                CredentialsError::Refused(..) => e.to_string(),
                CredentialsError::Unreachable(_) => "Twilio could not be asked".to_owned(),
            };
            ApiError::new(&codes::UPSTREAM_CREDENTIALS_REFUSED, message)
        })?;
    let now = app.clock.now().0;
    let key = app.master_key();
    let created = app
        .snapshot()
        .upstreams
        .get(&account.sid)
        .map_or(now, |u| u.date_created);
    let record = UpstreamRecord {
        account_sid: account.sid.clone(),
        upstream_account_sid: upstream_sid.to_owned(),
        api_key_sid: key_sid.to_owned(),
        api_key_secret_sealed: seal(key, &account.sid, "key", key_secret)?,
        auth_token_sealed: seal(key, &account.sid, "token", token)?,
        date_created: created,
        date_updated: now,
    };
    let change = app.change().await;
    let event = audit::by(
        &principal,
        now,
        &account.sid,
        "tollgate-upstream.updated",
        ("tollgate-upstream", Some(&account.sid)),
        json!({"after": {"upstream_account_sid": upstream_sid, "api_key_sid": key_sid}}),
    );
    match app.store.put_upstream(&record, &event).await {
        Err(tollgate_store::StoreError::Conflict(_)) => {
            return Err(ApiError::new(
                &codes::UPSTREAM_ACCOUNT_TAKEN,
                format!("Upstream account {upstream_sid} is carried by another account"),
            ));
        }
        other => other?,
    }
    change.commit(|snapshot, key| snapshot.put_upstream(key, &record))?;
    tracing::info!(account = %account.sid, upstream = %upstream_sid, "upstream account set");
    let snapshot = app.snapshot();
    let entry = snapshot
        .upstreams
        .get(&account.sid)
        .ok_or_else(ApiError::internal)?;
    Ok(Json(render(&app, entry)))
}

/// `GET …/Upstream`: the upstream account and key SIDs, never the secrets.
pub async fn fetch(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(account): Path<String>,
) -> ApiResult<Json<Value>> {
    let account = principal.account(&account)?;
    let snapshot = app.snapshot();
    let entry = snapshot
        .upstreams
        .get(&account.sid)
        .ok_or_else(|| ApiError::not_found(&path(&account.sid)))?;
    Ok(Json(render(&app, entry)))
}

/// `DELETE …/Upstream`
pub async fn delete(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(account): Path<String>,
) -> ApiResult<StatusCode> {
    principal.require_account_credentials()?;
    let account = principal.account(&account)?;
    let change = app.change().await;
    let event = audit::by(
        &principal,
        app.clock.now().0,
        &account.sid,
        "tollgate-upstream.deleted",
        ("tollgate-upstream", Some(&account.sid)),
        json!({}),
    );
    if !app.store.delete_upstream(&account.sid, &event).await? {
        return Err(ApiError::not_found(&path(&account.sid)));
    }
    change.commit(|snapshot, _| {
        snapshot.remove_upstream(&account.sid);
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT)
}

/// The upstream account that signed this request to `path`, or 403: the
/// signature is checked with that account's auth token over the URL Tollgate
/// gave Twilio.
fn signed_by(
    app: &App,
    headers: &HeaderMap,
    params: &Params,
    path: &str,
) -> ApiResult<Arc<UpstreamEntry>> {
    let upstream = params
        .get("AccountSid")
        .and_then(|sid| {
            let snapshot = app.snapshot();
            let owner = snapshot.upstream_owners.get(sid)?.clone();
            snapshot.upstreams.get(&owner).cloned()
        })
        .ok_or_else(forbidden)?;
    let signature = headers
        .get("X-Twilio-Signature")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(forbidden)?;
    let url = format!("{}{path}", app.public_url);
    Verifier::for_auth_tokens(&[upstream.auth_token.as_bytes()])
        .verify(
            &url,
            SignedPayload::Form(&params.0),
            signature,
            Algorithm::HmacSha1,
        )
        .map_err(|_| {
            tracing::warn!(upstream = %upstream.upstream_account_sid, %path, "upstream webhook with a bad signature");
            forbidden()
        })?;
    Ok(upstream)
}

/// `POST /tollgate/v1/Upstream/MessageStatus`: Twilio's status callback for
/// a proxied message.
pub async fn message_status(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    params: Params,
) -> ApiResult<StatusCode> {
    let upstream = signed_by(&app, &headers, &params, proxy::MESSAGE_STATUS_PATH)?;
    let outcome = proxy::message_status(&app, &upstream, &params.0).await?;
    tracing::debug!(?outcome, "upstream message status");
    Ok(StatusCode::OK)
}

/// `POST /tollgate/v1/Upstream/CallStatus`: Twilio's status callback for a
/// proxied call.
pub async fn call_status(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    params: Params,
) -> ApiResult<StatusCode> {
    let upstream = signed_by(&app, &headers, &params, proxy::CALL_STATUS_PATH)?;
    let outcome = proxy::call_status(&app, &upstream, &params.0).await?;
    tracing::debug!(?outcome, "upstream call status");
    Ok(StatusCode::OK)
}

/// `POST /tollgate/v1/Upstream/Voice`: a call Twilio received for a
/// proxied number; the answer is the application's TwiML, screened, or
/// `<Reject/>`.
pub async fn inbound_call(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    params: Params,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let upstream = signed_by(&app, &headers, &params, proxy::INBOUND_VOICE_PATH)?;
    let token = headers
        .get("I-Twilio-Idempotency-Token")
        .and_then(|v| v.to_str().ok());
    let body = proxy::inbound_call(&app, &upstream, &params.0, token).await?;
    Ok(([(axum::http::header::CONTENT_TYPE, "text/xml")], body).into_response())
}

/// `POST /tollgate/v1/Upstream/Sms`: a text Twilio received for a proxied
/// number; the answer is the application's TwiML reply.
pub async fn inbound_sms(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    params: Params,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let upstream = signed_by(&app, &headers, &params, proxy::INBOUND_SMS_PATH)?;
    let token = headers
        .get("I-Twilio-Idempotency-Token")
        .and_then(|v| v.to_str().ok());
    let (content_type, body) = proxy::inbound_sms(&app, &upstream, &params.0, token).await?;
    Ok(([(axum::http::header::CONTENT_TYPE, content_type)], body).into_response())
}

fn forbidden() -> ApiError {
    ApiError::new(
        &codes::UPSTREAM_SIGNATURE_INVALID,
        "The request is not signed by the upstream account",
    )
}

/// Any request Tollgate does not serve itself, in proxy mode: authenticated
/// and authorised as a served request (tenant, key rights, client
/// validation, an active account), then sent to the account's upstream
/// Twilio account with its method, query and body; Twilio's answer comes
/// back as it is, with the account SID mapped. Writes are audited. Without
/// proxy mode, or for a path of no proxied domain: 404.
pub async fn pass_through(
    State(app): State<Arc<App>>,
    request: axum::extract::Request,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    match forward(&app, request).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

/// Account and credential management, which Twilio keeps from standard API
/// keys: the accounts domain, an account itself, its keys and signing keys.
fn manages_credentials(domain: &str, path: &str) -> bool {
    if domain == "accounts" {
        return true;
    }
    let Some(rest) = path.strip_prefix("/2010-04-01/Accounts") else {
        return false;
    };
    let mut segments = rest.trim_start_matches('/').split('/');
    let _account = segments.next();
    match segments.next() {
        None | Some("") => true,
        Some(next) => {
            let next = next.trim_end_matches(".json");
            matches!(next, "Keys" | "SigningKeys" | "Credentials")
        }
    }
}

async fn forward(
    app: &Arc<App>,
    request: axum::extract::Request,
) -> ApiResult<axum::response::Response> {
    let path = request.uri().path().to_owned();
    let domain = crate::state::upstream_client::domain_of(&path);
    let (Some(_), Some(domain)) = (app.upstream.as_ref(), domain) else {
        return Err(ApiError::not_found(&path));
    };
    let (mut parts, body) = request.into_parts();
    let principal = Principal::from_request_parts(&mut parts, app).await?;
    // The account the path names (2010 API), else the caller's own.
    let named = path
        .strip_prefix("/2010-04-01/Accounts/")
        .and_then(|rest| rest.split('/').next())
        .map(|segment| segment.trim_end_matches(".json"))
        .filter(|sid| sid.starts_with("AC"));
    let account = match named {
        Some(sid) => principal.account(sid)?,
        None => principal.account.clone(),
    };
    // What a standard API key may not do on Twilio, it may not do through
    // Tollgate's (possibly stronger) upstream key either.
    if manages_credentials(domain, &path) {
        principal.require_account_credentials()?;
    }
    if account.status != AccountStatus::Active {
        return Err(ApiError::new(
            &codes::ACCOUNT_NOT_ACTIVE,
            format!("Account {} is not active", account.sid),
        ));
    }
    let upstream = proxy::upstream_of(app, &account.sid)?;
    let mut target = match named {
        Some(sid) => path.replacen(sid, &upstream.upstream_account_sid, 1),
        None => path.clone(),
    };
    if let Some(query) = parts.uri.query() {
        target.push('?');
        target.push_str(query);
    }
    let body = axum::body::to_bytes(body, crate::http::wire::MAX_BODY_BYTES)
        .await
        .map_err(|_| ApiError::internal())?;
    let content_type = parts
        .headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/x-www-form-urlencoded")
        .to_owned();
    let method = reqwest::Method::from_bytes(parts.method.as_str().as_bytes())
        .map_err(|_| ApiError::internal())?;
    let writes = !matches!(
        parts.method,
        axum::http::Method::GET | axum::http::Method::HEAD
    );
    let body = (!body.is_empty()).then(|| (content_type.as_str(), body.to_vec()));
    let answer = proxy::send(app, &upstream, method.clone(), domain, &target, body).await?;
    if writes {
        let change = app.change().await;
        let event = audit::by(
            &principal,
            app.clock.now().0,
            &account.sid,
            "tollgate-upstream-request.created",
            ("tollgate-upstream-request", None),
            json!({"method": method.as_str(), "domain": domain, "path": path,
                   "status": answer.status.as_u16()}),
        );
        app.store.append_audit(&event).await?;
        change.commit_outside_snapshot();
    }
    tracing::info!(account = %account.sid, %domain, method = %method, %path, status = answer.status.as_u16(), "passed through to Twilio");
    Ok(answer.into_response())
}
