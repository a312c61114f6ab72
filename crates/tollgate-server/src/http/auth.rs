//! HTTP Basic authentication against the snapshot: `AccountSid:AuthToken`
//! (primary or secondary) or `ApiKeySid:Secret`. No database read. Failed
//! attempts are throttled per source and per name ([`crate::state::auth_throttle`]).

use std::net::IpAddr;

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine;

use tollgate_secrets::{ct_eq, fingerprint, verify_secret};
use tollgate_types::AccountStatus;
use tollgate_types::error_code as codes;

use crate::app::App;
use crate::error::{ApiError, ApiResult};

use crate::state::auth_throttle::{Argon2Busy, Budget, DECOY, Source};
use crate::state::snapshot::{AccountEntry, KeyEntry, Snapshot};

pub use crate::http::principal::{Credential, Principal};

/// Splits an `Authorization: Basic …` header into user and password.
pub fn parse_basic(header: &[u8]) -> Option<(String, String)> {
    let header = std::str::from_utf8(header).ok()?;
    let (scheme, encoded) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// Checks `password` against both tokens, always comparing both, so timing
/// does not tell which (if any) matched.
fn token_matches(account: &AccountEntry, password: &str) -> bool {
    let password = password.as_bytes();
    let primary = ct_eq(account.primary_token.as_bytes(), password);
    let secondary = match &account.secondary_token {
        Some(token) => ct_eq(token.as_bytes(), password),
        None => {
            // The same work either way.
            let _ = ct_eq(account.primary_token.as_bytes(), password);
            false
        }
    };
    primary | secondary
}

/// 429 for a throttled attempt or a full argon2 queue.
fn too_many(retry_after_ms: i64, why: &str) -> ApiError {
    let mut e = ApiError::new(&codes::AUTH_THROTTLED, why.to_owned());
    e.retry_after = Some(
        u64::try_from(retry_after_ms.max(1))
            .unwrap_or(1)
            .div_ceil(1000),
    );
    e
}

/// What checking a credential found.
enum Checked {
    Valid(Arc<AccountEntry>, Credential),
    Wrong,
    Busy,
}

async fn key_matches(app: &App, key: &KeyEntry, password: &str) -> Option<bool> {
    let presented = fingerprint(&app.fingerprint_key, password.as_bytes());
    if let Some(known) = key.verified.get() {
        return Some(ct_eq(known, &presented));
    }
    // First use since start-up: one argon2 run, in the bounded queue.
    let hash = key.secret_hash.clone();
    let secret = zeroize::Zeroizing::new(password.to_owned());
    let ok = app
        .auth
        .argon2(move || verify_secret(&secret, &hash))
        .await
        .ok()?;
    if ok {
        let _ = key.verified.set(presented);
    }
    Some(ok)
}

/// Checks a user and password against the snapshot, whatever the account's status.
async fn check_credentials(app: &App, snapshot: &Snapshot, user: &str, password: &str) -> Checked {
    if user.starts_with("SK") {
        let Some(key) = snapshot.keys.get(user) else {
            // As much work as a key never used since start-up.
            let decoy = app.auth.decoy_hash.clone();
            let secret = zeroize::Zeroizing::new(password.to_owned());
            return match app
                .auth
                .argon2(move || verify_secret(&secret, &decoy))
                .await
            {
                Ok(_) => Checked::Wrong,
                Err(Argon2Busy) => Checked::Busy,
            };
        };
        return match key_matches(app, key, password).await {
            None => Checked::Busy,
            Some(false) => Checked::Wrong,
            Some(true) => match snapshot.accounts.get(&key.account_sid) {
                Some(account) => Checked::Valid(
                    account.clone(),
                    Credential::ApiKey {
                        sid: key.sid.clone(),
                    },
                ),
                None => Checked::Wrong,
            },
        };
    }
    let Some(account) = snapshot.accounts.get(user) else {
        let _ = ct_eq(DECOY, password.as_bytes());
        return Checked::Wrong;
    };
    if token_matches(account, password) {
        Checked::Valid(account.clone(), Credential::AuthToken)
    } else {
        Checked::Wrong
    }
}

/// How a request presents itself: its `Authorization` header and peer.
#[derive(Clone, Copy)]
pub struct Attempt<'a> {
    pub header: Option<&'a [u8]>,
    pub ip: Option<IpAddr>,
}

/// Authenticates an attempt: throttled sources and names get a 429 before
/// any check; a wrong credential counts against both, is answered no sooner
/// than the failure floor, and raises an alert when it engages the
/// throttle. `accept` says which valid credentials may act (it sees the
/// account whatever its status); a refusal there is an ordinary 401.
async fn authenticate_with(
    app: &Arc<App>,
    attempt: Attempt<'_>,
    accept: impl FnOnce(&Snapshot, &AccountEntry, &Credential, &str) -> bool,
) -> ApiResult<Principal> {
    let started = tokio::time::Instant::now();
    let (user, password) = attempt
        .header
        .and_then(parse_basic)
        .ok_or_else(ApiError::authenticate)?;
    let source = Source::of(attempt.ip);
    let now = app.clock.now().0;
    let name = match app.auth.check(source, &user, now) {
        Ok(name) => name,
        Err(t) => {
            return Err(too_many(
                t.retry_after_ms,
                "Too many failed authentications; try again later",
            ));
        }
    };
    let snapshot = app.snapshot();
    let (account, credential) = match check_credentials(app, &snapshot, &user, &password).await {
        Checked::Valid(account, credential) => {
            app.auth.succeeded(source, name, now);
            if accept(&snapshot, &account, &credential, &password) {
                (account, credential)
            } else {
                fail_after_floor(app, started).await;
                return Err(ApiError::authenticate());
            }
        }
        Checked::Busy => {
            return Err(too_many(
                1000,
                "Too many authentications at once; try again",
            ));
        }
        Checked::Wrong => {
            let target = failed_account(&snapshot, &user);
            app.audit.auth_failure(&target, attempt.ip);
            if let Some(by) = app.auth.failed(source, name, now) {
                alert_throttled(app, &target, by, &user, attempt.ip);
            }
            fail_after_floor(app, started).await;
            return Err(ApiError::authenticate());
        }
    };
    Ok(Principal {
        account,
        credential,
        snapshot,
        ip: attempt.ip,
    })
}

/// The alert (99020) for a budget used up just now, on the account named
/// (an alarm on 99020 watches brute force).
fn alert_throttled(app: &Arc<App>, account: &str, by: Budget, user: &str, ip: Option<IpAddr>) {
    let source = ip.map_or_else(|| "an unknown source".to_owned(), |ip| ip.to_string());
    // The name as presented, shortened to what a SID can be.
    let user: String = user
        .chars()
        .filter(char::is_ascii_graphic)
        .take(40)
        .collect();
    let limits = &app.auth.limits;
    let seconds = limits.window_ms / 1000;
    let text = match by {
        Budget::Source => format!(
            "Authentication throttled: {} failed attempts within {seconds} s from {source}",
            limits.failures_per_source
        ),
        Budget::Name => format!(
            "Authentication throttled: {} failed attempts within {seconds} s as {user} (latest from {source})",
            limits.failures_per_name
        ),
    };
    tracing::warn!(%account, ?by, %source, "authentication throttled");
    let code = codes::AUTH_THROTTLED.code;
    crate::services::alerts::record(app, account, code, "warning", &text, None, None, None);
}

/// Waits until the failure floor has passed since `started`.
async fn fail_after_floor(app: &App, started: tokio::time::Instant) {
    let floor = std::time::Duration::from_millis(app.auth.limits.failure_floor_ms);
    tokio::time::sleep_until(started + floor).await;
}

/// Authenticates an ordinary request: valid credentials of an active account.
pub async fn authenticate(app: &Arc<App>, attempt: Attempt<'_>) -> ApiResult<Principal> {
    authenticate_with(app, attempt, |_, account, _, _| {
        account.status == AccountStatus::Active
    })
    .await
}

/// The account a failed authentication was aimed at: the one named by the
/// Basic user (an account or one of its keys), else the main account.
fn failed_account(snapshot: &Snapshot, user: &str) -> String {
    if let Some(a) = snapshot.accounts.get(user) {
        return a.sid.clone();
    }
    if let Some(k) = snapshot.keys.get(user) {
        return k.account_sid.clone();
    }
    snapshot.main_account_sid.clone().unwrap_or_default()
}

/// For undoing a lockdown of `target`: an active account's auth token when
/// `target` is the account or one of its subaccounts; or, from the target
/// itself whatever its status, only the token the lockdown issued while the
/// account is as the lockdown left it (checked against the lockdown's seal).
/// Never an API key. Client validation applies as on every request.
pub async fn authenticate_for_unlock(
    app: &Arc<App>,
    parts: &Parts,
    target: &str,
) -> ApiResult<Principal> {
    let attempt = attempt_of(parts);
    // The row is read only when the target presents its own credentials.
    let from_target = attempt
        .header
        .and_then(parse_basic)
        .is_some_and(|(user, _)| user == target);
    let record = if from_target {
        app.store.account(target).await?
    } else {
        None
    };
    let seal = app.snapshot().settings_of(target).lockdown_seal.clone();
    let principal = authenticate_with(app, attempt, |snapshot, account, credential, password| {
        if *credential != Credential::AuthToken || account.status == AccountStatus::Closed {
            return false;
        }
        if account.sid == target {
            return match (&record, &seal) {
                (Some(record), Some(seal)) => ct_eq(
                    crate::services::lockdown::undo_seal(app.master_key(), record, password)
                        .as_bytes(),
                    seal.as_bytes(),
                ),
                _ => false,
            };
        }
        account.status == AccountStatus::Active
            && snapshot
                .accounts
                .get(target)
                .is_some_and(|t| t.owner_account_sid == account.sid)
    })
    .await?;
    crate::http::client_validation::enforce(app, parts, &principal)?;
    Ok(principal)
}

/// The attempt a request makes.
fn attempt_of(parts: &Parts) -> Attempt<'_> {
    Attempt {
        header: parts.headers.get(AUTHORIZATION).map(|v| v.as_bytes()),
        ip: parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip()),
    }
}

impl FromRequestParts<Arc<App>> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Arc<App>,
    ) -> Result<Self, Self::Rejection> {
        let principal = authenticate(app, attempt_of(parts)).await?;
        if let Some(slot) = parts.extensions.get::<crate::services::alerts::AlertSlot>() {
            let _ = slot.0.set(principal.account.sid.clone());
        }
        crate::http::client_validation::enforce(app, parts, &principal)?;
        Ok(principal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use zeroize::Zeroizing;

    fn basic(user: &str, password: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        )
    }

    #[test]
    fn parses_basic_headers() {
        assert_eq!(
            parse_basic(basic("AC1", "tok:en").as_bytes()),
            Some(("AC1".into(), "tok:en".into()))
        );
        assert_eq!(parse_basic(b"Bearer abc"), None);
        assert_eq!(parse_basic(b"Basic !!!"), None);
        assert_eq!(parse_basic(b"Basic"), None);
    }

    fn entry(secondary: Option<&str>) -> AccountEntry {
        AccountEntry {
            sid: "AC1".into(),
            owner_account_sid: "AC1".into(),
            status: AccountStatus::Active,
            primary_token: Zeroizing::new("p".repeat(32)),
            secondary_token: secondary.map(|s| Zeroizing::new(s.to_owned())),
            require_client_validation: false,
            dialing_permissions_inheritance: true,
        }
    }

    #[test]
    fn tokens_match_primary_or_secondary_only() {
        let with = entry(Some(&"s".repeat(32)));
        assert!(token_matches(&with, &"p".repeat(32)));
        assert!(token_matches(&with, &"s".repeat(32)));
        assert!(!token_matches(&with, &"x".repeat(32)));
        let without = entry(None);
        assert!(token_matches(&without, &"p".repeat(32)));
        assert!(!token_matches(&without, ""));
        assert!(!token_matches(&without, &"s".repeat(32)));
    }

    proptest! {
        #[test]
        fn parse_basic_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_basic(&bytes);
        }

        #[test]
        fn parse_basic_round_trips(user in "[A-Za-z0-9]{1,40}", password in "\\PC{0,40}") {
            prop_assert_eq!(parse_basic(basic(&user, &password).as_bytes()), Some((user, password)));
        }
    }
}
