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
    /// Every API request must carry a valid `Twilio-Client-Validation` JWT.
    pub require_client_validation: bool,
    /// A subaccount uses its parent's geo permissions (voice and SMS).
    pub dialing_permissions_inheritance: bool,
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

/// A registered public key for client validation (`CR…`). Public, so plain.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PublicKeyRecord {
    pub sid: String,
    pub account_sid: String,
    pub friendly_name: Option<String>,
    /// The PEM as registered.
    pub public_key: String,
    pub date_created: i64,
    pub date_updated: i64,
}

/// Where a webhook delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Waiting for its first or next attempt.
    Queued,
    Delivered,
    /// Given up: a final error, or out of attempts.
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Queued => "queued",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }
}

impl TryFrom<String> for DeliveryStatus {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        match s.as_str() {
            "queued" => Ok(DeliveryStatus::Queued),
            "delivered" => Ok(DeliveryStatus::Delivered),
            "failed" => Ok(DeliveryStatus::Failed),
            _ => Err(format!("unknown delivery status {s}")),
        }
    }
}

/// One webhook to deliver, with its progress. The target URL may carry
/// credentials, so it is stored sealed (AAD = the delivery SID).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct WebhookRecord {
    pub sid: String,
    pub account_sid: String,
    pub url_sealed: Vec<u8>,
    /// The URL without credentials, for display and logs.
    pub url_redacted: String,
    pub method: String,
    pub content_type: String,
    pub body: Vec<u8>,
    #[sqlx(try_from = "String")]
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub next_attempt_at: i64,
    /// A node holds the delivery until then (several nodes share a queue).
    pub lease_until: Option<i64>,
    pub last_response_code: Option<i32>,
    pub last_error: Option<String>,
    pub date_created: i64,
    pub date_updated: i64,
}

/// One country's geo permission for one channel of one account.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct GeoPermissionRecord {
    pub account_sid: String,
    /// `voice` or `sms`.
    pub channel: String,
    /// ISO 3166 alpha-2, or `001` for international networks.
    pub iso_code: String,
    /// Voice: low-risk numbers; SMS: the country is enabled.
    pub low_risk: bool,
    pub high_risk_special: bool,
    pub high_risk_tollfraud: bool,
    pub date_updated: i64,
}

/// A phone number of an account (`PN…`). URLs are sealed (AAD = the SID).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct NumberRecord {
    pub sid: String,
    pub account_sid: String,
    pub phone_number: String,
    pub friendly_name: String,
    pub sms_url_sealed: Option<Vec<u8>>,
    pub sms_method: String,
    pub voice_url_sealed: Option<Vec<u8>>,
    pub voice_method: String,
    pub status_callback_sealed: Option<Vec<u8>>,
    pub status_callback_method: String,
    pub date_created: i64,
    pub date_updated: i64,
}

/// A message (`SM…`), sent, received or blocked.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct MessageRecord {
    pub sid: String,
    pub account_sid: String,
    pub messaging_service_sid: Option<String>,
    pub direction: String,
    pub from_number: String,
    pub to_number: String,
    /// `None` when the body is not retained.
    pub body: Option<String>,
    pub status: String,
    pub num_segments: i32,
    pub price_micros: Option<i64>,
    pub country: Option<String>,
    pub error_code: Option<i32>,
    pub error_message: Option<String>,
    /// The rule that blocked it, if one did.
    pub rule: Option<String>,
    pub status_callback_sealed: Option<Vec<u8>>,
    pub date_created: i64,
    pub date_updated: i64,
    pub date_sent: Option<i64>,
}

/// A call (`CA…`).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CallRecord {
    pub sid: String,
    pub account_sid: String,
    pub direction: String,
    pub from_number: String,
    pub to_number: String,
    pub status: String,
    pub time_limit: i32,
    pub duration: Option<i32>,
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
    pub price_micros: Option<i64>,
    pub country: Option<String>,
    pub error_code: Option<i32>,
    pub rule: Option<String>,
    pub status_callback_sealed: Option<Vec<u8>>,
    pub date_created: i64,
    pub date_updated: i64,
}

/// A velocity limit of an account (`RL…`).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RateLimitRecord {
    pub sid: String,
    pub account_sid: String,
    /// `account`, `to`, `to-prefix`, `from`, `ip` or `country`.
    pub limit_key: String,
    pub max_events: i32,
    pub interval_seconds: i32,
    /// `sms` or `voice`; `None` for both.
    pub channel: Option<String>,
    pub date_created: i64,
}

/// A hard spend cap of an account (`SL…`).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SpendLimitRecord {
    pub sid: String,
    pub account_sid: String,
    /// `account` or `country:XX`.
    pub scope: String,
    /// `hour`, `day` or `month` (UTC).
    pub period: String,
    pub limit_micros: i64,
    pub date_created: i64,
}

/// Filters for listing messages or calls.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrafficQuery {
    pub account_sid: String,
    pub to: Option<String>,
    pub from: Option<String>,
    /// Only rows created at or after / before these instants (ms).
    pub created_from: Option<i64>,
    pub created_before: Option<i64>,
}

/// One line of a usage summary.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UsageRow {
    /// `sms-outbound`, `sms-inbound`, `calls-outbound` or `calls-inbound`.
    pub category: String,
    pub count: i64,
    /// Segments for SMS, minutes for calls.
    pub usage: i64,
    pub price_micros: i64,
}

/// One named setting of an account.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SettingRecord {
    pub account_sid: String,
    pub name: String,
    pub value: String,
    pub date_updated: i64,
}

/// A Messaging Service (`MG…`): a pool of senders.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ServiceRecord {
    pub sid: String,
    pub account_sid: String,
    pub friendly_name: String,
    pub sticky_sender: bool,
    pub date_created: i64,
    pub date_updated: i64,
}

/// An inbound blocklist entry: digits of an E.164 number or prefix.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct BlockRecord {
    pub account_sid: String,
    /// Digits without `+`.
    pub prefix: String,
    pub expires_at: Option<i64>,
    pub date_created: i64,
}
