//! HTTP Basic authentication against the snapshot: `AccountSid:AuthToken`
//! (primary or secondary) or `ApiKeySid:Secret`. No database read.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine;
use tollgate_secrets::{ct_eq, fingerprint, verify_secret};
use tollgate_types::AccountStatus;

use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::snapshot::{AccountEntry, KeyEntry, Snapshot};

/// How the caller proved who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// The account's own auth token (primary or secondary).
    AuthToken,
    /// A standard API key: everything except managing accounts, keys and tokens.
    ApiKey { sid: String },
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    pub account: Arc<AccountEntry>,
    pub credential: Credential,
    pub snapshot: Arc<Snapshot>,
    /// The peer's address (for audit events), when the server knows it.
    pub ip: Option<std::net::IpAddr>,
}

impl Principal {
    /// Accounts, keys and tokens are managed only with account credentials (as on Twilio).
    pub fn require_account_credentials(&self) -> ApiResult<()> {
        match self.credential {
            Credential::AuthToken => Ok(()),
            Credential::ApiKey { .. } => Err(ApiError::authenticate()),
        }
    }

    /// The accounts whose events and alerts this caller sees: itself, and
    /// its subaccounts when it is a main account.
    pub fn visible_accounts(&self) -> Vec<String> {
        let me = &self.account;
        self.snapshot
            .accounts
            .values()
            .filter(|a| a.sid == me.sid || (me.is_main() && a.owner_account_sid == me.sid))
            .map(|a| a.sid.clone())
            .collect()
    }

    /// The account `sid` if this caller may act on it (itself or a subaccount).
    pub fn account(&self, sid: &str) -> ApiResult<Arc<AccountEntry>> {
        self.snapshot
            .accessible(&self.account, sid)
            .cloned()
            .ok_or_else(ApiError::authenticate)
    }
}

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

/// A fixed value to compare against when the SID is unknown, so an unknown
/// SID costs about as much as a wrong token.
const DECOY: &[u8; 32] = b"00000000000000000000000000000000";

async fn key_matches(app: &App, key: &KeyEntry, password: &str) -> bool {
    let presented = fingerprint(&app.fingerprint_key, password.as_bytes());
    if let Some(known) = key.verified.get() {
        return ct_eq(known, &presented);
    }
    // First use since start-up: one argon2 run, bounded in concurrency.
    let Ok(_permit) = app.argon2_permits.acquire().await else {
        return false;
    };
    let hash = key.secret_hash.clone();
    let secret = zeroize::Zeroizing::new(password.to_owned());
    let ok = tokio::task::spawn_blocking(move || verify_secret(&secret, &hash))
        .await
        .unwrap_or(false);
    if ok {
        let _ = key.verified.set(presented);
    }
    ok
}

/// Authenticates a request's `Authorization` header.
pub async fn authenticate(app: &App, header: Option<&[u8]>) -> ApiResult<Principal> {
    let (user, password) = header
        .and_then(parse_basic)
        .ok_or_else(ApiError::authenticate)?;
    let snapshot = app.snapshot();
    let (account, credential) = if user.starts_with("SK") {
        let Some(key) = snapshot.keys.get(&user) else {
            let _ = ct_eq(DECOY, password.as_bytes());
            return Err(ApiError::authenticate());
        };
        if !key_matches(app, key, &password).await {
            return Err(ApiError::authenticate());
        }
        let account = snapshot.accounts.get(&key.account_sid).cloned();
        (
            account,
            Credential::ApiKey {
                sid: key.sid.clone(),
            },
        )
    } else {
        let Some(account) = snapshot.accounts.get(&user) else {
            let _ = ct_eq(DECOY, password.as_bytes());
            return Err(ApiError::authenticate());
        };
        if !token_matches(account, &password) {
            return Err(ApiError::authenticate());
        }
        (Some(account.clone()), Credential::AuthToken)
    };
    match account {
        Some(account) if account.status == AccountStatus::Active => Ok(Principal {
            account,
            credential,
            snapshot,
            ip: None,
        }),
        _ => Err(ApiError::authenticate()),
    }
}

/// The account a failed authentication was aimed at: the one named by the
/// Basic user (an account or one of its keys), else the main account.
fn failed_account(app: &App, header: Option<&[u8]>) -> String {
    let snapshot = app.snapshot();
    let named = header.and_then(parse_basic).and_then(|(user, _)| {
        if let Some(a) = snapshot.accounts.get(&user) {
            return Some(a.sid.clone());
        }
        snapshot.keys.get(&user).map(|k| k.account_sid.clone())
    });
    named.unwrap_or_else(|| {
        snapshot
            .accounts
            .values()
            .find(|a| a.is_main())
            .map(|a| a.sid.clone())
            .unwrap_or_default()
    })
}

/// For undoing a lockdown of `target`: the target's own auth token (its new
/// one) even though it is suspended, or the active parent's auth token.
/// API keys never (the lockdown revoked them).
pub async fn authenticate_for_unlock(
    app: &App,
    header: Option<&[u8]>,
    target: &str,
) -> ApiResult<Principal> {
    let (user, password) = header
        .and_then(parse_basic)
        .ok_or_else(ApiError::authenticate)?;
    let snapshot = app.snapshot();
    let Some(account) = snapshot.accounts.get(&user).cloned() else {
        let _ = ct_eq(DECOY, password.as_bytes());
        return Err(ApiError::authenticate());
    };
    if !token_matches(&account, &password) {
        app.audit.auth_failure(&account.sid, None);
        return Err(ApiError::authenticate());
    }
    let allowed = account.status != AccountStatus::Closed
        && (account.sid == target
            || (account.status == AccountStatus::Active
                && snapshot
                    .accounts
                    .get(target)
                    .is_some_and(|t| t.owner_account_sid == account.sid)));
    if !allowed {
        return Err(ApiError::authenticate());
    }
    Ok(Principal {
        account,
        credential: Credential::AuthToken,
        snapshot,
        ip: None,
    })
}

impl FromRequestParts<Arc<App>> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Arc<App>,
    ) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get(AUTHORIZATION).map(|v| v.as_bytes());
        let ip = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip());
        let mut principal = match authenticate(app, header).await {
            Ok(p) => p,
            Err(e) => {
                app.audit.auth_failure(&failed_account(app, header), ip);
                return Err(e);
            }
        };
        principal.ip = ip;
        if let Some(slot) = parts.extensions.get::<crate::alerts::AlertSlot>() {
            let _ = slot.0.set(principal.account.sid.clone());
        }
        crate::client_validation::enforce(app, parts, &principal)?;
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
