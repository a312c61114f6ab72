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

/// One page of a list, by keyset: up to `limit` rows after `key` in the
/// list's order, in that order; with `backward`, up to `limit` rows before
/// `key`, nearest first. The key is the row's place in the order itself
/// (`(date_created, sid)` unless said otherwise), not a reference to a row,
/// so a page goes on from a row that was deleted since. Callers ask for one
/// row more than they show, to learn whether more follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageQuery<K = (i64, String)> {
    pub limit: u32,
    pub key: Option<K>,
    pub backward: bool,
}

impl<K> Default for PageQuery<K> {
    fn default() -> Self {
        PageQuery {
            limit: 50,
            key: None,
            backward: false,
        }
    }
}

impl<K> PageQuery<K> {
    /// The SQL of the query's direction.
    pub(crate) fn pick(&self, sql: crate::sql::Paged) -> &'static str {
        if self.backward {
            sql.backward
        } else {
            sql.forward
        }
    }
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
    /// Deliveries with the same key (a message's or call's status
    /// callbacks) are sent one at a time, in the order they are due.
    pub ordering_key: Option<String>,
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
    /// The node that took the send (it resumes it after a restart).
    pub carrier_node: Option<String>,
    /// What the row redacts, sealed, until the send settles.
    pub resume_sealed: Option<Vec<u8>>,
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
    /// The node that took the call (it resumes it after a restart).
    pub carrier_node: Option<String>,
    /// What the row redacts, sealed, until the call settles.
    pub resume_sealed: Option<Vec<u8>>,
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

/// A Tollgate account's upstream Twilio account (proxy mode). The secrets
/// are sealed under the master key with `account_sid` as associated data.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UpstreamRecord {
    pub account_sid: String,
    pub upstream_account_sid: String,
    pub api_key_sid: String,
    pub api_key_secret_sealed: Vec<u8>,
    pub auth_token_sealed: Vec<u8>,
    pub date_created: i64,
    pub date_updated: i64,
}

/// A create sent with an `Idempotency-Key` (proxy mode): `pending` from
/// before it goes to Twilio, `done` with Twilio's answer (sealed).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct IdempotentRequestRecord {
    pub account_sid: String,
    pub idempotency_key: String,
    pub request_hash: String,
    pub status: String,
    pub answer_status: Option<i64>,
    pub answer_sealed: Option<Vec<u8>>,
    pub date_created: i64,
}

/// A proxied create on its way to Twilio (see `WriteOp::InsertIntent`).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UpstreamIntentRecord {
    /// The SID Tollgate gave the request before Twilio gave its own.
    pub local_sid: String,
    pub account_sid: String,
    /// `message` or `call`.
    pub kind: String,
    pub to_number: String,
    pub from_number: String,
    /// A keyed hash of the message body, to find it again at Twilio.
    pub body_key: Option<String>,
    pub idempotency_key: Option<String>,
    pub node: String,
    pub date_created: i64,
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

/// An audit event to append: the store gives it its place in the chain
/// (`seq`, `prev_hash`, `hash`) in the transaction of the change it records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEvent {
    pub sid: String,
    pub account_sid: String,
    pub actor_sid: Option<String>,
    pub actor_type: String,
    pub source: String,
    pub source_ip_address: Option<String>,
    pub event_type: String,
    pub resource_sid: Option<String>,
    pub resource_type: String,
    /// A JSON object, without secrets.
    pub event_data: String,
    pub event_date: i64,
}

/// An audit event as stored (`AE…`).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditEventRecord {
    pub seq: i64,
    pub sid: String,
    pub account_sid: String,
    pub actor_sid: Option<String>,
    pub actor_type: String,
    pub source: String,
    pub source_ip_address: Option<String>,
    pub event_type: String,
    pub resource_sid: Option<String>,
    pub resource_type: String,
    pub event_data: String,
    pub event_date: i64,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

impl AuditEventRecord {
    /// The chain's view of this row (a hash of the wrong length reads as
    /// zeros, which then fails verification).
    pub fn to_event(&self) -> tollgate_audit::Event {
        self.clone().into_event()
    }

    pub fn into_event(self) -> tollgate_audit::Event {
        let h = |v: &[u8]| <[u8; 32]>::try_from(v).unwrap_or([0; 32]);
        tollgate_audit::Event {
            seq: self.seq,
            prev_hash: h(&self.prev_hash),
            hash: h(&self.hash),
            sid: self.sid,
            account_sid: self.account_sid,
            actor_sid: self.actor_sid,
            actor_type: self.actor_type,
            source: self.source,
            source_ip_address: self.source_ip_address,
            event_type: self.event_type,
            resource_sid: self.resource_sid,
            resource_type: self.resource_type,
            event_data: self.event_data,
            event_date: self.event_date,
        }
    }
}

/// Filters of `GET /v1/Events`; all given ones apply together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// The accounts whose events are visible (a family, or one subaccount).
    pub account_sids: Vec<String>,
    pub actor_sid: Option<String>,
    pub event_type: Option<String>,
    pub resource_sid: Option<String>,
    pub source_ip_address: Option<String>,
    pub date_from: Option<i64>,
    pub date_before: Option<i64>,
    /// Newest first, keyed by `seq`.
    pub page: PageQuery<i64>,
}

/// Where the chain starts after pruning.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditAnchorRecord {
    pub seq: i64,
    pub hash: Vec<u8>,
    pub signature: Vec<u8>,
    pub date_pruned: i64,
}

/// A usage trigger (`UT…`). The callback URL may carry credentials: sealed
/// (AAD = the trigger SID).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UsageTriggerRecord {
    pub sid: String,
    pub account_sid: String,
    pub friendly_name: Option<String>,
    pub callback_url_sealed: Vec<u8>,
    pub callback_method: String,
    /// As shown (offsets resolved).
    pub trigger_value: String,
    /// The threshold in the trigger's units (micro-dollars for prices).
    pub threshold: i64,
    pub usage_category: String,
    /// `daily`, `monthly`, `yearly` or `""` (all time).
    pub recurring: String,
    pub trigger_by: String,
    /// `none` or `suspend` (Tollgate's extension).
    pub action: String,
    /// The start of the period it last fired in (0 for all time).
    pub fired_period: Option<i64>,
    pub date_fired: Option<i64>,
    pub current_value: Option<String>,
    pub date_created: i64,
    pub date_updated: i64,
}

/// An alert (`NO…`): an error Tollgate returned or observed.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AlertRecord {
    pub sid: String,
    pub account_sid: String,
    pub error_code: i32,
    /// `error`, `warning`, `notice` or `debug`.
    pub log_level: String,
    /// Without secrets or redacted data.
    pub alert_text: String,
    pub request_method: Option<String>,
    /// The path only (a query string may hold numbers or tokens).
    pub request_url: Option<String>,
    pub resource_sid: Option<String>,
    pub date_created: i64,
}

/// Filters of `GET /v1/Alerts`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertQuery {
    pub account_sids: Vec<String>,
    pub log_level: Option<String>,
    pub date_from: Option<i64>,
    pub date_before: Option<i64>,
    /// Newest first.
    pub page: PageQuery,
}

/// An alarm (`AL…`, Monitor v2 shape): fires its webhook when matching
/// alerts in the window reach `trigger_value`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AlarmRecord {
    pub sid: String,
    pub account_sid: String,
    pub friendly_name: Option<String>,
    pub description: Option<String>,
    /// `ERROR_CODE`, `LOG_LEVEL` or `ALL`.
    pub query_type: String,
    pub query: Option<String>,
    pub trigger_value: i64,
    /// `FIVE_MINS`, `FIFTEEN_MINS`, `ONE_HOUR`, `TWELVE_HOURS`, `ONE_DAY`.
    pub time_window: String,
    pub webhook_sealed: Option<Vec<u8>>,
    pub enabled: bool,
    /// `none`, `suspend` or `lockdown` (Tollgate's extension).
    pub action: String,
    pub date_created: i64,
    pub date_updated: i64,
}

/// A Verify Service (`VA…`).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct VerifyServiceRecord {
    pub sid: String,
    pub account_sid: String,
    pub friendly_name: String,
    pub code_length: i32,
    /// Fraud Guard: `off`, `basic`, `standard` or `max`.
    pub fraud_guard: String,
    pub do_not_share_warning_enabled: bool,
    pub date_created: i64,
    pub date_updated: i64,
}

/// A Verify Service rate limit (`RK…`): a key the application passes.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct VerifyRateLimitRecord {
    pub sid: String,
    pub service_sid: String,
    pub account_sid: String,
    pub unique_name: String,
    pub description: Option<String>,
    pub date_created: i64,
    pub date_updated: i64,
}

/// A bucket (`BL…`) of a rate limit: at most `max_requests` per `interval_seconds`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct VerifyBucketRecord {
    pub sid: String,
    pub rate_limit_sid: String,
    pub service_sid: String,
    pub account_sid: String,
    pub max_requests: i64,
    pub interval_seconds: i64,
    pub date_created: i64,
    pub date_updated: i64,
}

/// A verification (`VE…`). The code is kept only as a keyed hash.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct VerificationRecord {
    pub sid: String,
    pub service_sid: String,
    pub account_sid: String,
    /// The number, or its redacted form when the account redacts numbers.
    pub to_number: String,
    /// A keyed hash of the service and the full number (finds it again).
    pub to_key: String,
    pub channel: String,
    /// `pending`, `approved`, `canceled`, `max_attempts_reached`, `expired`.
    pub status: String,
    pub code_hash: Vec<u8>,
    /// JSON array of `{attempt_sid, channel, time}`.
    pub send_attempts: String,
    pub checks: i32,
    pub expires_at: i64,
    pub date_created: i64,
    pub date_updated: i64,
}

/// A Global Safe List entry (`GN…`): an E.164 number or a 1,000-number
/// prefix (`+18001234xxx`) that Fraud Guard never blocks.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SafeListRecord {
    pub sid: String,
    pub account_sid: String,
    pub phone_number: String,
    pub date_created: i64,
}

/// A Fraud Guard block on a number range, for one scope (a Verify Service,
/// or an account's Programmable Messaging).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct FraudBlockRecord {
    pub scope: String,
    /// E.164 digits of the range, without `+`.
    pub prefix: String,
    pub account_sid: String,
    pub rule: String,
    pub evidence: String,
    /// JSON array of the numbers that tripped it.
    pub numbers: String,
    pub since: i64,
    pub expires: i64,
    pub refused: i64,
}
