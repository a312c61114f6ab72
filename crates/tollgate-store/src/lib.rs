//! Tollgate's durable store.
//!
//! [`Store`] is the one interface the server uses; [`SqliteStore`] (the
//! default, embedded) and [`PgStore`] (multi-node) implement it from one body
//! of SQL (see `sql.rs`), so the two cannot drift apart. Both run the same
//! contract tests (`tests/contract.rs`).
//!
//! The store holds no policy: it persists and returns records. Secrets arrive
//! already sealed or hashed.

mod batch_writer;
mod records;
mod sql;

pub use batch_writer::BatchWriter;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use records::{
    AccountQuery, AccountRecord, AlarmRecord, AlertQuery, AlertRecord, ApiKeyRecord,
    AuditAnchorRecord, AuditEventRecord, AuditQuery, BlockRecord, CallRecord, DeliveryStatus,
    FraudBlockRecord, GeoPermissionRecord, IdempotentRequestRecord, MessageRecord, NewAuditEvent,
    NumberRecord, PageQuery, PublicKeyRecord, RateLimitRecord, SafeListRecord, ServiceRecord,
    SettingRecord, SpendLimitRecord, TrafficQuery, UpstreamIntentRecord, UpstreamRecord, UsageRow,
    UsageTriggerRecord, VerificationRecord, VerifyBucketRecord, VerifyRateLimitRecord,
    VerifyServiceRecord, WebhookRecord,
};

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint refused the write (for example a second main account).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database refused or could not be reached.
    #[error("database error: {0}")]
    Backend(String),
    /// Migrations could not be applied.
    #[error("migration error: {0}")]
    Migration(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict(db.message().to_owned())
            }
            _ => StoreError::Backend(e.to_string()),
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A write that can join a batch ([`Store::write_batch`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOp {
    InsertMessage(MessageRecord),
    UpdateMessage(MessageRecord),
    InsertCall(CallRecord),
    UpdateCall(CallRecord),
    InsertAlert(AlertRecord),
    /// A webhook delivery; one with the same SID already queued or sent is
    /// kept as it is (a status callback written again after a restart).
    EnqueueWebhook(WebhookRecord),
    /// A proxied create about to go to Twilio.
    InsertIntent(UpstreamIntentRecord),
    /// A proxied create settled (by its local SID).
    DeleteIntent(String),
    /// Writes that commit together or not at all, even when a batch falls
    /// back to one write at a time.
    Group(Vec<WriteOp>),
}

/// `ops` with every group's writes in its place, in order.
pub(crate) fn flatten(ops: &[WriteOp]) -> Vec<&WriteOp> {
    let mut out = Vec::with_capacity(ops.len());
    for op in ops {
        match op {
            WriteOp::Group(inner) => out.extend(flatten(inner)),
            op => out.push(op),
        }
    }
    out
}

/// Whether a change happened, so its audit events are committed with it
/// (an update of an absent row records nothing).
pub trait Changed {
    fn changed(&self) -> bool;
}
impl Changed for () {
    fn changed(&self) -> bool {
        true
    }
}
impl Changed for bool {
    fn changed(&self) -> bool {
        *self
    }
}

/// Which database a store is backed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Everything the server persists. Every write is durable when it returns.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    fn backend(&self) -> Backend;
    /// Applies pending migrations. Idempotent.
    async fn migrate(&self) -> Result<()>;

    /// The main account, if the store has been initialised.
    async fn main_account(&self) -> Result<Option<AccountRecord>>;
    /// Inserts the main account; `Conflict` if one exists already.
    async fn insert_main_account(
        &self,
        account: &AccountRecord,
        audit: &[NewAuditEvent],
    ) -> Result<()>;
    async fn insert_account(&self, account: &AccountRecord, audit: &[NewAuditEvent]) -> Result<()>;
    async fn account(&self, sid: &str) -> Result<Option<AccountRecord>>;
    /// Writes every mutable field of the account with this SID. False if absent.
    async fn update_account(
        &self,
        account: &AccountRecord,
        audit: &[NewAuditEvent],
    ) -> Result<bool>;
    /// One page of an account family (the account and its subaccounts), oldest first.
    async fn list_accounts(
        &self,
        query: &AccountQuery,
        page: &PageQuery,
    ) -> Result<Vec<AccountRecord>>;
    async fn all_accounts(&self) -> Result<Vec<AccountRecord>>;

    async fn insert_api_key(&self, key: &ApiKeyRecord, audit: &[NewAuditEvent]) -> Result<()>;
    async fn api_key(&self, account_sid: &str, sid: &str) -> Result<Option<ApiKeyRecord>>;
    /// Writes the key's friendly name and update date. False if absent.
    async fn update_api_key(&self, key: &ApiKeyRecord, audit: &[NewAuditEvent]) -> Result<bool>;
    /// Deletes the key. False if it did not exist.
    async fn delete_api_key(
        &self,
        account_sid: &str,
        sid: &str,
        audit: &[NewAuditEvent],
    ) -> Result<bool>;
    /// One page of an account's keys, oldest first.
    async fn list_api_keys(&self, account_sid: &str, page: &PageQuery)
    -> Result<Vec<ApiKeyRecord>>;
    async fn all_api_keys(&self) -> Result<Vec<ApiKeyRecord>>;

    async fn insert_public_key(&self, key: &PublicKeyRecord, audit: &[NewAuditEvent])
    -> Result<()>;
    /// Writes the friendly name and update date. False if absent.
    async fn update_public_key(
        &self,
        key: &PublicKeyRecord,
        audit: &[NewAuditEvent],
    ) -> Result<bool>;
    async fn delete_public_key(
        &self,
        account_sid: &str,
        sid: &str,
        audit: &[NewAuditEvent],
    ) -> Result<bool>;
    /// One page of an account's public keys, oldest first.
    async fn list_public_keys(
        &self,
        account_sid: &str,
        page: &PageQuery,
    ) -> Result<Vec<PublicKeyRecord>>;
    async fn all_public_keys(&self) -> Result<Vec<PublicKeyRecord>>;

    /// Queues a webhook unless `limit` deliveries are queued already; false then.
    async fn enqueue_webhook(&self, webhook: &WebhookRecord, limit: u32) -> Result<bool>;
    async fn webhook(&self, account_sid: &str, sid: &str) -> Result<Option<WebhookRecord>>;
    /// Queued deliveries due at `now` and not leased, soonest first.
    async fn due_webhooks(&self, now: i64, limit: u32) -> Result<Vec<WebhookRecord>>;
    /// When the next queued delivery is due, if any.
    async fn next_webhook_due(&self) -> Result<Option<i64>>;
    /// Takes the delivery for this node until `until`. False if another holds it or it is done.
    async fn lease_webhook(&self, sid: &str, now: i64, until: i64, holder: &str) -> Result<bool>;
    /// Drops every lease `holder` holds (a node starting again: what it
    /// leased before is not in flight any more). Returns how many.
    async fn release_webhook_leases(&self, holder: &str) -> Result<u64>;
    /// Records an attempt: status, attempts, next attempt, last response; drops the lease.
    async fn record_webhook_attempt(&self, webhook: &WebhookRecord) -> Result<bool>;

    /// Applies `ops` in one transaction (one commit for many writes): all or none.
    async fn write_batch(&self, ops: &[WriteOp]) -> Result<()>;
    /// The messages and calls `node` took and that have not settled
    /// (a message `queued`, a call `queued`, `ringing` or `in-progress`),
    /// oldest first.
    async fn unsettled_sends(&self, node: &str) -> Result<(Vec<MessageRecord>, Vec<CallRecord>)>;
    /// A blocking writer on a connection of its own, for a dedicated writer
    /// thread, where that is faster than [`Store::write_batch`] (SQLite).
    fn batch_writer(&self) -> Result<Option<Box<dyn BatchWriter>>>;

    /// Writes these permissions (insert or replace), all or none.
    async fn upsert_geo_permissions(
        &self,
        rows: &[GeoPermissionRecord],
        audit: &[NewAuditEvent],
    ) -> Result<()>;
    async fn all_geo_permissions(&self) -> Result<Vec<GeoPermissionRecord>>;

    /// `Conflict` if another account owns the number already.
    async fn insert_number(&self, number: &NumberRecord, audit: &[NewAuditEvent]) -> Result<()>;
    /// Writes names, URLs and methods. False if absent.
    async fn update_number(&self, number: &NumberRecord, audit: &[NewAuditEvent]) -> Result<bool>;
    async fn delete_number(
        &self,
        account_sid: &str,
        sid: &str,
        audit: &[NewAuditEvent],
    ) -> Result<bool>;
    /// An account's numbers; `like` is a SQL `LIKE` pattern on the number.
    async fn list_numbers(
        &self,
        account_sid: &str,
        like: Option<&str>,
        page: &PageQuery,
    ) -> Result<Vec<NumberRecord>>;
    async fn all_numbers(&self) -> Result<Vec<NumberRecord>>;

    async fn insert_message(&self, message: &MessageRecord) -> Result<()>;
    /// Writes status, price, errors, body and dates. False if absent.
    async fn update_message(&self, message: &MessageRecord) -> Result<bool>;
    async fn message(&self, account_sid: &str, sid: &str) -> Result<Option<MessageRecord>>;
    async fn delete_message(
        &self,
        account_sid: &str,
        sid: &str,
        audit: &[NewAuditEvent],
    ) -> Result<bool>;
    /// Newest first.
    async fn list_messages(
        &self,
        query: &TrafficQuery,
        page: &PageQuery,
    ) -> Result<Vec<MessageRecord>>;

    async fn insert_call(&self, call: &CallRecord) -> Result<()>;
    /// Writes status, times, duration, price and errors. False if absent.
    async fn update_call(&self, call: &CallRecord) -> Result<bool>;
    async fn call(&self, account_sid: &str, sid: &str) -> Result<Option<CallRecord>>;
    /// Newest first.
    async fn list_calls(&self, query: &TrafficQuery, page: &PageQuery) -> Result<Vec<CallRecord>>;

    /// Billed traffic of one account in `[start, end)`, by category.
    async fn usage(&self, account_sid: &str, start: i64, end: i64) -> Result<Vec<UsageRow>>;
    /// `(account, country, at, price)` of billed sends since `start`, to rebuild spend counters.
    async fn spend_since(&self, start: i64) -> Result<Vec<(String, String, i64, i64)>>;

    async fn insert_rate_limit(
        &self,
        limit: &RateLimitRecord,
        audit: &[NewAuditEvent],
    ) -> Result<()>;
    async fn delete_rate_limit(
        &self,
        account_sid: &str,
        sid: &str,
        audit: &[NewAuditEvent],
    ) -> Result<bool>;
    async fn all_rate_limits(&self) -> Result<Vec<RateLimitRecord>>;
    async fn insert_spend_limit(
        &self,
        limit: &SpendLimitRecord,
        audit: &[NewAuditEvent],
    ) -> Result<()>;
    async fn delete_spend_limit(
        &self,
        account_sid: &str,
        sid: &str,
        audit: &[NewAuditEvent],
    ) -> Result<bool>;
    async fn all_spend_limits(&self) -> Result<Vec<SpendLimitRecord>>;

    /// Writes these settings (insert or replace), all or none.
    async fn upsert_settings(&self, rows: &[SettingRecord], audit: &[NewAuditEvent]) -> Result<()>;
    async fn all_settings(&self) -> Result<Vec<SettingRecord>>;
    /// Adds a number to the account's recipient allowlist (idempotent).
    async fn insert_recipient(
        &self,
        account_sid: &str,
        phone_number: &str,
        at: i64,
        audit: &[NewAuditEvent],
    ) -> Result<()>;
    async fn delete_recipient(
        &self,
        account_sid: &str,
        phone_number: &str,
        audit: &[NewAuditEvent],
    ) -> Result<bool>;
    /// `(account, number)` of every allowlisted recipient.
    async fn all_recipients(&self) -> Result<Vec<(String, String)>>;
    /// `(account, number)` of every number that has texted an account or
    /// passed one of its verifications (`RecipientPolicy=known`).
    async fn known_numbers(&self) -> Result<Vec<(String, String)>>;
    /// `(service, to, from)` of the newest outbound messages sent through a
    /// messaging service that did not fail, newest first, at most `limit`
    /// rows: the sticky senders to restore at start.
    async fn recent_service_senders(&self, limit: i64) -> Result<Vec<(String, String, String)>>;

    async fn insert_service(&self, service: &ServiceRecord, audit: &[NewAuditEvent]) -> Result<()>;
    /// Writes the name, sticky sender and update date. False if absent.
    async fn update_service(
        &self,
        service: &ServiceRecord,
        audit: &[NewAuditEvent],
    ) -> Result<bool>;
    /// Deletes the service and its pool. False if absent.
    async fn delete_service(
        &self,
        account_sid: &str,
        sid: &str,
        audit: &[NewAuditEvent],
    ) -> Result<bool>;
    async fn all_services(&self) -> Result<Vec<ServiceRecord>>;
    /// Adds a number to a pool unless it holds `limit` already; false then.
    async fn add_service_number(
        &self,
        service_sid: &str,
        number_sid: &str,
        at: i64,
        limit: u32,
        audit: &[NewAuditEvent],
    ) -> Result<bool>;
    async fn remove_service_number(
        &self,
        service_sid: &str,
        number_sid: &str,
        audit: &[NewAuditEvent],
    ) -> Result<bool>;
    /// `(service, number)` of every pool member, oldest first.
    async fn all_service_numbers(&self) -> Result<Vec<(String, String)>>;

    /// Appends audit events on their own (aggregates, actions of Tollgate).
    async fn append_audit(&self, events: &[NewAuditEvent]) -> Result<()>;
    /// Events visible to a query, newest first.
    async fn audit_events(&self, query: &AuditQuery) -> Result<Vec<AuditEventRecord>>;
    async fn audit_event(&self, sid: &str) -> Result<Option<AuditEventRecord>>;
    /// Up to `limit` events with `seq > after`, oldest first (verification, sinks).
    async fn audit_after(&self, after: i64, limit: u32) -> Result<Vec<AuditEventRecord>>;
    /// The head row: `(seq, hash)` of the last event appended.
    async fn audit_head(&self) -> Result<(i64, Vec<u8>)>;
    async fn audit_anchor(&self) -> Result<Option<AuditAnchorRecord>>;
    /// Deletes events up to `anchor.seq` and records the anchor, together.
    async fn prune_audit(&self, anchor: &AuditAnchorRecord) -> Result<u64>;
    /// How far the sink `name` has delivered (0 when it never has).
    async fn audit_cursor(&self, name: &str) -> Result<i64>;
    async fn set_audit_cursor(&self, name: &str, seq: i64) -> Result<()>;

    async fn insert_usage_trigger(
        &self,
        t: &UsageTriggerRecord,
        audit: &[NewAuditEvent],
    ) -> Result<()>;
    /// Writes the callback, method and name. False if absent.
    async fn update_usage_trigger(
        &self,
        t: &UsageTriggerRecord,
        audit: &[NewAuditEvent],
    ) -> Result<bool>;
    async fn delete_usage_trigger(
        &self,
        account_sid: &str,
        sid: &str,
        audit: &[NewAuditEvent],
    ) -> Result<bool>;
    async fn all_usage_triggers(&self) -> Result<Vec<UsageTriggerRecord>>;
    /// Marks the trigger fired for `period` unless it already fired in it,
    /// and in the same transaction queues its callback, suspends
    /// `suspend` (an account) if given, and appends `audit`. False (and
    /// nothing written) if it had fired already: exactly once per period.
    #[allow(clippy::too_many_arguments)]
    async fn fire_usage_trigger(
        &self,
        sid: &str,
        period: i64,
        date_fired: i64,
        current_value: &str,
        callback: &WebhookRecord,
        suspend: Option<&str>,
        audit: &[NewAuditEvent],
    ) -> Result<bool>;

    /// The incident checklist in one transaction: writes `accounts` (status
    /// and tokens as given) and deletes every API key of them when
    /// `revoke_keys`. With `undo_seals` (one per account, in order) it puts
    /// them under lockdown (`LockdownInbound` true, `LockdownSeal` set);
    /// without, it ends their lockdown (both settings removed). Appends
    /// `audit` and bumps the state generation. Returns how many keys were
    /// revoked.
    async fn apply_lockdown(
        &self,
        accounts: &[AccountRecord],
        revoke_keys: bool,
        undo_seals: Option<&[String]>,
        audit: &[NewAuditEvent],
    ) -> Result<u64>;
    /// A counter bumped by changes made outside the server (the CLI), so a
    /// running server reloads its snapshot.
    async fn state_generation(&self) -> Result<i64>;
    /// Tells running servers that state changed outside them (the CLI).
    async fn bump_state_generation(&self) -> Result<()>;

    async fn alerts(&self, query: &AlertQuery) -> Result<Vec<AlertRecord>>;
    async fn alert(&self, sid: &str) -> Result<Option<AlertRecord>>;
    async fn insert_alarm(&self, alarm: &AlarmRecord, audit: &[NewAuditEvent]) -> Result<()>;
    /// Replaces an alarm's settings (all but its SID, account and creation). False if absent.
    async fn update_alarm(&self, alarm: &AlarmRecord, audit: &[NewAuditEvent]) -> Result<bool>;
    async fn delete_alarm(
        &self,
        account_sid: &str,
        sid: &str,
        audit: &[NewAuditEvent],
    ) -> Result<bool>;
    async fn all_alarms(&self) -> Result<Vec<AlarmRecord>>;

    /// Inserts or replaces a Verify Service.
    async fn put_verify_service(
        &self,
        r: &VerifyServiceRecord,
        audit: &[NewAuditEvent],
    ) -> Result<()>;
    /// Deletes a service with its rate limits, buckets, verifications and blocks.
    async fn delete_verify_service(
        &self,
        account_sid: &str,
        sid: &str,
        audit: &[NewAuditEvent],
    ) -> Result<bool>;
    async fn all_verify_services(&self) -> Result<Vec<VerifyServiceRecord>>;
    /// Inserts or replaces a rate limit; `Conflict` on a second `unique_name`.
    async fn put_verify_rate_limit(
        &self,
        r: &VerifyRateLimitRecord,
        audit: &[NewAuditEvent],
    ) -> Result<()>;
    async fn delete_verify_rate_limit(
        &self,
        service_sid: &str,
        sid: &str,
        audit: &[NewAuditEvent],
    ) -> Result<bool>;
    async fn all_verify_rate_limits(&self) -> Result<Vec<VerifyRateLimitRecord>>;
    async fn put_verify_bucket(
        &self,
        r: &VerifyBucketRecord,
        audit: &[NewAuditEvent],
    ) -> Result<()>;
    async fn delete_verify_bucket(
        &self,
        rate_limit_sid: &str,
        sid: &str,
        audit: &[NewAuditEvent],
    ) -> Result<bool>;
    async fn all_verify_buckets(&self) -> Result<Vec<VerifyBucketRecord>>;
    /// Inserts or replaces a verification (every send and check).
    async fn put_verification(&self, r: &VerificationRecord) -> Result<()>;
    async fn verification(
        &self,
        service_sid: &str,
        sid: &str,
    ) -> Result<Option<VerificationRecord>>;
    /// Pending verifications that expire after `now` (reloaded at start).
    async fn live_verifications(&self, now: i64) -> Result<Vec<VerificationRecord>>;
    /// False if the account lists the number already.
    async fn insert_safe_number(&self, r: &SafeListRecord, audit: &[NewAuditEvent])
    -> Result<bool>;
    async fn delete_safe_number(
        &self,
        account_sid: &str,
        phone_number: &str,
        audit: &[NewAuditEvent],
    ) -> Result<bool>;
    async fn all_safe_numbers(&self) -> Result<Vec<SafeListRecord>>;
    /// Inserts or replaces a block (new, renewed, or counted).
    async fn put_fraud_block(&self, r: &FraudBlockRecord) -> Result<()>;
    async fn delete_fraud_block(
        &self,
        scope: &str,
        prefix: &str,
        audit: &[NewAuditEvent],
    ) -> Result<bool>;
    /// Blocks that expire after `now`.
    async fn live_fraud_blocks(&self, now: i64) -> Result<Vec<FraudBlockRecord>>;

    /// Adds or replaces a blocklist entry.
    async fn upsert_block(&self, block: &BlockRecord, audit: &[NewAuditEvent]) -> Result<()>;
    async fn delete_block(
        &self,
        account_sid: &str,
        prefix: &str,
        audit: &[NewAuditEvent],
    ) -> Result<bool>;
    async fn all_blocks(&self) -> Result<Vec<BlockRecord>>;

    /// Sets an account's upstream Twilio account; [`StoreError::Conflict`]
    /// when another account has that upstream account already.
    async fn put_upstream(&self, upstream: &UpstreamRecord, audit: &[NewAuditEvent]) -> Result<()>;
    async fn delete_upstream(&self, account_sid: &str, audit: &[NewAuditEvent]) -> Result<bool>;
    async fn all_upstreams(&self) -> Result<Vec<UpstreamRecord>>;

    /// Claims an idempotency key: `None` when this claim inserted it
    /// (pending), else the record already there.
    async fn claim_idempotency(
        &self,
        claim: &IdempotentRequestRecord,
    ) -> Result<Option<IdempotentRequestRecord>>;
    async fn idempotent_request(
        &self,
        account_sid: &str,
        key: &str,
    ) -> Result<Option<IdempotentRequestRecord>>;
    /// Stores the answer of a claimed key (`done`).
    async fn finish_idempotency(
        &self,
        account_sid: &str,
        key: &str,
        answer_status: i64,
        answer_sealed: &[u8],
    ) -> Result<()>;
    /// Gives a claim back (the request never left Tollgate).
    async fn release_idempotency(&self, account_sid: &str, key: &str) -> Result<()>;
    /// Forgets keys claimed before `before` (ms); how many.
    async fn prune_idempotency(&self, before: i64) -> Result<u64>;

    /// The proxied creates `node` sent and has not settled, oldest first.
    async fn intents_of(&self, node: &str) -> Result<Vec<UpstreamIntentRecord>>;
}

/// Embedded SQLite: WAL journal, `synchronous=FULL` so a commit survives power loss.
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    path: std::path::PathBuf,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path`.
    pub async fn open(path: &Path) -> Result<SqliteStore> {
        owner_only(path)
            .map_err(|e| StoreError::Backend(format!("cannot restrict {}: {e}", path.display())))?;
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        Ok(SqliteStore {
            pool,
            path: path.to_owned(),
        })
    }

    fn open_batch_writer(&self) -> Result<Option<Box<dyn BatchWriter>>> {
        Ok(Some(Box::new(batch_writer::SqliteBatchWriter::open(
            &self.path,
        )?)))
    }
}

/// Makes the database file, and its `-wal` and `-shm` files if present,
/// readable and writable by the owner only (0600), creating the database
/// file so if it is missing. SQLite gives the `-wal` and `-shm` files it
/// creates later the database file's mode.
#[cfg(unix)]
fn owner_only(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let mut files = vec![path.to_path_buf()];
    for suffix in ["-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        files.push(name.into());
    }
    for file in files {
        match std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn owner_only(_path: &Path) -> std::io::Result<()> {
    Ok(())
}

/// PostgreSQL, for several Tollgate nodes sharing one database.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to `url` (`postgres://…`).
    pub async fn connect(url: &str) -> Result<PgStore> {
        let options = PgConnectOptions::from_str(url)?;
        Self::connect_with(options).await
    }

    /// Connects with explicit options (tests use them to pick a schema).
    pub async fn connect_with(options: PgConnectOptions) -> Result<PgStore> {
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await?;
        Ok(PgStore { pool })
    }

    /// PostgreSQL has no blocking writer: its batches go through `write_batch`.
    fn open_batch_writer(&self) -> Result<Option<Box<dyn BatchWriter>>> {
        Ok(None)
    }
}

/// Where the data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseTarget {
    Sqlite(std::path::PathBuf),
    Postgres(String),
}

/// Opens the store for `target` (without migrating).
pub async fn open(target: &DatabaseTarget) -> Result<Arc<dyn Store>> {
    Ok(match target {
        DatabaseTarget::Sqlite(path) => Arc::new(SqliteStore::open(path).await?),
        DatabaseTarget::Postgres(url) => Arc::new(PgStore::connect(url).await?),
    })
}

mod sqlite_impl {
    use super::*;
    sql::impl_store!(
        SqliteStore,
        sqlx::Sqlite,
        Backend::Sqlite,
        "./migrations/sqlite"
    );
}
mod postgres_impl {
    use super::*;
    sql::impl_store!(
        PgStore,
        sqlx::Postgres,
        Backend::Postgres,
        "./migrations/postgres"
    );
}
