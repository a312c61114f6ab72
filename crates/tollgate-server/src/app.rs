//! Shared state of a running gateway, and the write path that keeps the
//! snapshot in step with the store.

use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio::sync::{Mutex, MutexGuard};
use tollgate_secrets::{MasterKey, RandomSource, SecretError};
use tollgate_store::Store;
use zeroize::Zeroizing;

use crate::clock::Clock;
use crate::error::{ApiError, ApiResult};
use crate::random::OsRandom;
use crate::state::snapshot::{Snapshot, TrafficRows};
use crate::state::webhook_client::Webhooks;

pub struct App {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    /// Base of absolute URLs in v1 responses, e.g. `http://127.0.0.1:8080`.
    pub public_url: String,
    master_key: MasterKey,
    snapshot: ArcSwap<Snapshot>,
    /// Serialises changes, so a snapshot never goes back in time.
    writes: Mutex<()>,
    /// The store's state generation the snapshot reflects (lockdowns bump
    /// it; see `lockdown::follow_outside_changes`).
    generation: std::sync::atomic::AtomicI64,
    /// Failed-authentication throttle and the bounded argon2 queue.
    pub auth: crate::state::auth_throttle::AuthGuard,
    /// Per-process key for remembering verified key secrets.
    pub fingerprint_key: [u8; 32],
    /// Outbound webhooks: settings, HTTP client, dispatcher wake-up.
    pub webhooks: Webhooks,
    /// Number intelligence with the configured risk tables.
    pub classifier: Arc<tollgate_numbering::Classifier>,
    /// Velocity limiters, spend ledger and prices (in memory).
    pub traffic: crate::state::traffic::Traffic,
    /// Where recorded sends go.
    pub carrier: Arc<dyn crate::state::sandbox::Carrier>,
    /// The built-in carrier (the default `carrier`) and its test controls.
    pub sandbox: Arc<crate::state::sandbox::Sandbox>,
    /// Longest call, in seconds.
    pub max_call_seconds: u32,
    /// Group commit for messages and calls.
    pub writer: crate::state::writer::Writer,
    /// Audit aggregates (authentication failures, policy blocks) and the
    /// sinks' wake-up.
    pub audit: crate::state::aggregates::Aggregates,
    /// Usage triggers with their running values.
    pub triggers: crate::state::usage_triggers::Triggers,
    /// Alarms with their sliding windows.
    pub alarms: crate::state::alarm_windows::Alarms,
    /// Verify services, live verifications, the safe list and Fraud Guard.
    pub verify: crate::state::verifications::Verify,
    /// Proxy mode's client to Twilio (`carrier = "twilio"`); `None` with the sandbox.
    pub upstream: Option<crate::state::upstream_client::UpstreamClient>,
}

/// What the traffic side of the app is built from.
pub struct TrafficParts {
    pub traffic: crate::state::traffic::Traffic,
    pub sandbox: crate::state::sandbox::Sandbox,
    pub max_call_seconds: u32,
    pub verify_code_ttl_ms: i64,
    pub auth_limits: crate::state::auth_throttle::AuthLimits,
    pub upstream: Option<crate::state::upstream_client::UpstreamClient>,
}

impl App {
    /// Loads the snapshot from the store. Fails if the master key does not
    /// open the stored tokens.
    pub async fn load(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        master_key: MasterKey,
        public_url: String,
        webhooks: Webhooks,
        classifier: Arc<tollgate_numbering::Classifier>,
        traffic: TrafficParts,
    ) -> Result<App, LoadError> {
        let snapshot = read_snapshot(store.as_ref(), &master_key).await?;
        let mut fingerprint_key = [0u8; 32];
        OsRandom.fill(&mut fingerprint_key);
        let verify =
            crate::state::verifications::Verify::new(&master_key, traffic.verify_code_ttl_ms);
        let sandbox = Arc::new(traffic.sandbox);
        let writer = crate::state::writer::Writer::spawn(store.clone())
            .map_err(|e| LoadError::Store(e.to_string()))?;
        Ok(App {
            store,
            clock,
            public_url,
            master_key,
            snapshot: ArcSwap::from_pointee(snapshot),
            writes: Mutex::new(()),
            generation: std::sync::atomic::AtomicI64::new(0),
            auth: crate::state::auth_throttle::AuthGuard::new(traffic.auth_limits),
            fingerprint_key,
            webhooks,
            classifier,
            traffic: traffic.traffic,
            carrier: sandbox.clone(),
            sandbox,
            max_call_seconds: traffic.max_call_seconds,
            writer,
            audit: crate::state::aggregates::Aggregates::default(),
            triggers: crate::state::usage_triggers::Triggers::default(),
            alarms: crate::state::alarm_windows::Alarms::default(),
            verify,
            upstream: traffic.upstream,
        })
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    /// Starts a change: takes the write lock, so changes reach the snapshot
    /// in the order they reached the store. Write to the store, then
    /// [`Change::commit`] the delta.
    pub async fn change(&self) -> Change<'_> {
        Change {
            app: self,
            _lock: self.writes.lock().await,
        }
    }
    /// The store's state generation the snapshot reflects.
    pub fn seen_generation(&self) -> i64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Notes that the snapshot reflects state generation `generation`.
    pub fn saw_generation(&self, generation: i64) {
        self.generation
            .store(generation, std::sync::atomic::Ordering::Release);
    }

    /// The key that seals auth tokens at rest.
    pub fn master_key(&self) -> &MasterKey {
        &self.master_key
    }

    /// Seals a token for `account_sid` under the master key.
    pub fn seal_token(&self, account_sid: &str, token: &str) -> ApiResult<Vec<u8>> {
        self.master_key
            .seal(account_sid, token.as_bytes(), &mut OsRandom)
            .map_err(|_| ApiError::internal())
    }

    /// Opens a sealed token of `account_sid`.
    pub fn open_token(&self, account_sid: &str, sealed: &[u8]) -> ApiResult<Zeroizing<String>> {
        self.master_key
            .open_text(account_sid, sealed)
            .map_err(|_| ApiError::internal())
    }
}

/// A change in progress (see [`App::change`]). Dropped without a commit (the
/// store refused the write), it changes nothing.
pub struct Change<'a> {
    app: &'a App,
    _lock: MutexGuard<'a, ()>,
}

impl Change<'_> {
    /// The store has committed: applies `delta` to a copy of the snapshot
    /// (the maps share structure, so this costs what the delta costs),
    /// publishes it and wakes the audit sinks for the change's events.
    pub fn commit(
        self,
        delta: impl FnOnce(&mut Snapshot, &MasterKey) -> Result<(), SecretError>,
    ) -> ApiResult<()> {
        let mut next = Snapshot::clone(&self.app.snapshot.load());
        delta(&mut next, &self.app.master_key).map_err(|e| {
            tracing::error!(error = %e, "cannot apply a change to the snapshot");
            ApiError::internal()
        })?;
        self.app.snapshot.store(Arc::new(next));
        self.app.audit.appended.notify_waiters();
        Ok(())
    }

    /// The store has committed a change to state outside the snapshot
    /// (Verify, Fraud Guard, a message): wakes the audit sinks.
    pub fn commit_outside_snapshot(self) {
        self.app.audit.appended.notify_waiters();
    }

    /// Re-reads the whole snapshot from the store: for changes made outside
    /// this server (the CLI, another node), whose delta is unknown here.
    pub async fn reload(self) -> ApiResult<()> {
        let next = read_snapshot(self.app.store.as_ref(), &self.app.master_key)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "cannot reload the snapshot");
                ApiError::internal()
            })?;
        let previous = self.app.snapshot.load_full();
        let mut next = next;
        // Verified key secrets stay verified: a key's secret never changes.
        for (sid, key) in next.keys.clone().iter() {
            if let Some(old) = previous.keys.get(sid)
                && old.secret_hash == key.secret_hash
            {
                next.keys.insert(sid.clone(), old.clone());
            }
        }
        self.app.snapshot.store(Arc::new(next));
        self.app.audit.appended.notify_waiters();
        Ok(())
    }
}

/// Reads every table the snapshot mirrors and builds it (start-up, and
/// changes made outside this server).
async fn read_snapshot(store: &dyn Store, master_key: &MasterKey) -> Result<Snapshot, LoadError> {
    let accounts = store.all_accounts().await?;
    let keys = store.all_api_keys().await?;
    let public_keys = store.all_public_keys().await?;
    let geo = store.all_geo_permissions().await?;
    let traffic = TrafficRows {
        numbers: store.all_numbers().await?,
        rate_limits: store.all_rate_limits().await?,
        spend_limits: store.all_spend_limits().await?,
        settings: store.all_settings().await?,
        recipients: store.all_recipients().await?,
        services: store.all_services().await?,
        service_numbers: store.all_service_numbers().await?,
        blocks: store.all_blocks().await?,
        upstreams: store.all_upstreams().await?,
    };
    Snapshot::build(master_key, &accounts, &keys, &public_keys, &geo, &traffic)
        .map_err(LoadError::MasterKey)
}

/// Why the gateway's state could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{0}")]
    Store(String),
    #[error(
        "the master key does not open the stored auth tokens ({0}); set TOLLGATE_MASTER_KEY or master.key to the key this data was created with"
    )]
    MasterKey(SecretError),
}

impl From<tollgate_store::StoreError> for LoadError {
    fn from(e: tollgate_store::StoreError) -> Self {
        LoadError::Store(e.to_string())
    }
}
