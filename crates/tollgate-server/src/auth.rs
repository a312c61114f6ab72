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
}

impl Principal {
    /// Accounts, keys and tokens are managed only with account credentials (as on Twilio).
    pub fn require_account_credentials(&self) -> ApiResult<()> {
        match self.credential {
            Credential::AuthToken => Ok(()),
            Credential::ApiKey { .. } => Err(ApiError::authenticate()),
        }
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
        }),
        _ => Err(ApiError::authenticate()),
    }
}

impl FromRequestParts<Arc<App>> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Arc<App>,
    ) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get(AUTHORIZATION).map(|v| v.as_bytes());
        let principal = authenticate(app, header).await?;
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
