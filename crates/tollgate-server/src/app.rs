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
use crate::snapshot::{Snapshot, TrafficRows};
use crate::webhooks::Webhooks;

pub struct App {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    /// Base of absolute URLs in v1 responses, e.g. `http://127.0.0.1:8080`.
    pub public_url: String,
    master_key: MasterKey,
    snapshot: ArcSwap<Snapshot>,
    /// Serialises changes, so a snapshot never goes back in time.
    writes: Mutex<()>,
    /// Failed-authentication throttle and the bounded argon2 queue.
    pub auth: crate::auth::AuthGuard,
    /// Per-process key for remembering verified key secrets.
    pub fingerprint_key: [u8; 32],
    /// Outbound webhooks: settings, HTTP client, dispatcher wake-up.
    pub webhooks: Webhooks,
    /// Number intelligence with the configured risk tables.
    pub classifier: Arc<tollgate_numbering::Classifier>,
    /// Velocity limiters, spend ledger and prices (in memory).
    pub traffic: crate::traffic::Traffic,
    /// Where recorded sends go.
    pub carrier: Arc<dyn crate::carrier::Carrier>,
    /// The built-in carrier (the default `carrier`) and its test controls.
    pub sandbox: Arc<crate::carrier::Sandbox>,
    /// Longest call, in seconds.
    pub max_call_seconds: u32,
    /// Group commit for messages and calls.
    pub writer: crate::writer::Writer,
    /// Audit aggregates (authentication failures, policy blocks) and the
    /// sinks' wake-up.
    pub audit: crate::audit_tasks::Aggregates,
    /// Usage triggers with their running values.
    pub triggers: crate::triggers::Triggers,
    /// Alarms with their sliding windows.
    pub alarms: crate::alarms::Alarms,
    /// Verify services, live verifications, the safe list and Fraud Guard.
    pub verify: crate::verify::Verify,
}

/// What the traffic side of the app is built from.
pub struct TrafficParts {
    pub traffic: crate::traffic::Traffic,
    pub sandbox: crate::carrier::Sandbox,
    pub max_call_seconds: u32,
    pub verify_code_ttl_ms: i64,
    pub auth_limits: crate::auth_throttle::AuthLimits,
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
        let snapshot = read_snapshot(store.as_ref(), &master_key, None).await?;
        let mut fingerprint_key = [0u8; 32];
        OsRandom.fill(&mut fingerprint_key);
        let verify = crate::verify::Verify::new(&master_key, traffic.verify_code_ttl_ms);
        let sandbox = Arc::new(traffic.sandbox);
        let writer = crate::writer::Writer::spawn(store.clone())
            .map_err(|e| LoadError::Store(e.to_string()))?;
        Ok(App {
            store,
            clock,
            public_url,
            master_key,
            snapshot: ArcSwap::from_pointee(snapshot),
            writes: Mutex::new(()),
            auth: crate::auth::AuthGuard::new(traffic.auth_limits),
            fingerprint_key,
            webhooks,
            classifier,
            traffic: traffic.traffic,
            carrier: sandbox.clone(),
            sandbox,
            max_call_seconds: traffic.max_call_seconds,
            writer,
            audit: crate::audit_tasks::Aggregates::default(),
            triggers: crate::triggers::Triggers::default(),
            alarms: crate::alarms::Alarms::default(),
            verify,
        })
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    /// Takes the write lock. Hold it across a change and [`App::refresh`].
    pub async fn begin_write(&self) -> MutexGuard<'_, ()> {
        self.writes.lock().await
    }

    /// Rebuilds the snapshot from the store. Call with the write lock held.
    pub async fn refresh(&self, _write: &MutexGuard<'_, ()>) -> ApiResult<()> {
        let previous = self.snapshot.load_full();
        let next = read_snapshot(self.store.as_ref(), &self.master_key, Some(&previous))
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "cannot rebuild the credential snapshot");
                ApiError::internal()
            })?;
        self.snapshot.store(Arc::new(next));
        // Every change came with its audit events: the sinks may go on.
        self.audit.appended.notify_waiters();
        Ok(())
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

/// Reads every account and key and builds a snapshot, keeping the key
/// verification caches of `previous`.
async fn read_snapshot(
    store: &dyn Store,
    master_key: &MasterKey,
    previous: Option<&Snapshot>,
) -> Result<Snapshot, LoadError> {
    let accounts = store
        .all_accounts()
        .await
        .map_err(|e| LoadError::Store(e.to_string()))?;
    let keys = store
        .all_api_keys()
        .await
        .map_err(|e| LoadError::Store(e.to_string()))?;
    let public_keys = store
        .all_public_keys()
        .await
        .map_err(|e| LoadError::Store(e.to_string()))?;
    let geo = store
        .all_geo_permissions()
        .await
        .map_err(|e| LoadError::Store(e.to_string()))?;
    let traffic = TrafficRows {
        numbers: store
            .all_numbers()
            .await
            .map_err(|e| LoadError::Store(e.to_string()))?,
        rate_limits: store
            .all_rate_limits()
            .await
            .map_err(|e| LoadError::Store(e.to_string()))?,
        spend_limits: store
            .all_spend_limits()
            .await
            .map_err(|e| LoadError::Store(e.to_string()))?,
        settings: store
            .all_settings()
            .await
            .map_err(|e| LoadError::Store(e.to_string()))?,
        recipients: store
            .all_recipients()
            .await
            .map_err(|e| LoadError::Store(e.to_string()))?,
        services: store
            .all_services()
            .await
            .map_err(|e| LoadError::Store(e.to_string()))?,
        service_numbers: store
            .all_service_numbers()
            .await
            .map_err(|e| LoadError::Store(e.to_string()))?,
        blocks: store
            .all_blocks()
            .await
            .map_err(|e| LoadError::Store(e.to_string()))?,
    };
    Snapshot::build(
        master_key,
        &accounts,
        &keys,
        &public_keys,
        &geo,
        &traffic,
        previous,
    )
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
