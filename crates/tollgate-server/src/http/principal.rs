//! Who an authenticated request acts as.

use std::sync::Arc;

use crate::audit::Actor;
use crate::error::{ApiError, ApiResult};
use crate::state::snapshot::{AccountEntry, Snapshot};

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

    /// A rule whose `action` suspends or locks down an account (an alarm's
    /// `suspend`/`lockdown`, a usage trigger's `suspend`) is created, changed
    /// or deleted only with account credentials, as status changes and
    /// Lockdown are: an API key may neither take an account down nor remove
    /// what would.
    pub fn require_for_action(&self, action: &str) -> ApiResult<()> {
        if action.eq_ignore_ascii_case("none") {
            Ok(())
        } else {
            self.require_account_credentials()
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

impl From<&Principal> for Actor {
    /// The caller of an API request.
    fn from(principal: &Principal) -> Actor {
        match &principal.credential {
            Credential::AuthToken => Actor {
                sid: Some(principal.account.sid.clone()),
                kind: "account",
                source: "api",
                ip: principal.ip,
            },
            Credential::ApiKey { sid } => Actor {
                sid: Some(sid.clone()),
                kind: "api-key",
                source: "api",
                ip: principal.ip,
            },
        }
    }
}
