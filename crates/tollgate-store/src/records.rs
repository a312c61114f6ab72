//! Rows as the store returns them. Times are Unix milliseconds.

use tollgate_types::AccountStatus;

/// An account or subaccount. The main account is its own owner.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AccountRecord {
    pub sid: String,
    pub owner_account_sid: String,
    pub friendly_name: String,
    #[sqlx(try_from = "String")]
    pub status: AccountStatus,
    /// The primary auth token, sealed under the master key.
    pub auth_token_sealed: Vec<u8>,
    /// The secondary auth token during a rotation, sealed.
    pub secondary_token_sealed: Option<Vec<u8>>,
    pub secondary_token_created: Option<i64>,
    pub date_created: i64,
    pub date_updated: i64,
}

impl AccountRecord {
    /// True for the main account (the root of the account tree).
    pub fn is_main(&self) -> bool {
        self.sid == self.owner_account_sid
    }
}

/// An API key. The secret is kept only as an argon2id PHC string.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ApiKeyRecord {
    pub sid: String,
    pub account_sid: String,
    pub friendly_name: String,
    pub secret_hash: String,
    pub date_created: i64,
    pub date_updated: i64,
}

/// Filters for listing an account family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountQuery {
    /// The account whose family is listed: itself and the accounts it owns.
    pub family_of: String,
    pub friendly_name: Option<String>,
    pub status: Option<AccountStatus>,
}

/// One page: `size` rows after the row `after` (a SID), skipping `offset` rows.
/// Callers ask for one row more than they show, to learn whether a next page exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageQuery {
    pub size: u32,
    pub after: Option<String>,
    pub offset: u64,
}
