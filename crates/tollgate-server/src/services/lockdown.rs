//! One-command lockdown: the seeds' incident checklist as one transaction,
//! from the API (`/tollgate/v1/Accounts/{Sid}/Lockdown`) or the CLI
//! (`tollgate lockdown`). Undo reactivates and unblocks; it never restores
//! the old token or keys.

use serde_json::json;
use std::collections::HashSet;

use tollgate_secrets::{MasterKey, SecretError, fingerprint, generate_auth_token};
use tollgate_store::{AccountRecord, Store};
use tollgate_types::AccountStatus;
use zeroize::Zeroizing;

use crate::app::{App, Change};
use crate::audit::Actor;
use crate::random::OsRandom;
use crate::state::snapshot::Snapshot;

/// What a lockdown (or its undo) did.
#[derive(Debug, Default)]
pub struct Report {
    pub accounts: Vec<String>,
    /// New primary tokens, shown once.
    pub new_tokens: Vec<(String, Zeroizing<String>)>,
    pub keys_revoked: u64,
    /// The account rows as the lockdown or undo left them.
    pub records: Vec<AccountRecord>,
    /// The undo seals a lockdown stored, one per record (none on undo).
    pub seals: Vec<String>,
}

impl Report {
    /// Applies what the store did to `snapshot`: the accounts' new rows and
    /// tokens, their API keys gone (lockdown), the inbound block and seal
    /// set (lockdown) or cleared (undo).
    pub fn apply_to(&self, snapshot: &mut Snapshot, key: &MasterKey) -> Result<(), SecretError> {
        for record in &self.records {
            snapshot.put_account(key, record)?;
        }
        if !self.seals.is_empty() {
            let sids: HashSet<&str> = self.records.iter().map(|r| r.sid.as_str()).collect();
            snapshot.remove_keys_of(&sids);
        }
        for (i, record) in self.records.iter().enumerate() {
            let seal = self.seals.get(i).map(String::as_str);
            snapshot.set_setting(&record.sid, "LockdownInbound", seal.map(|_| "true"));
            snapshot.set_setting(&record.sid, "LockdownSeal", seal);
        }
        Ok(())
    }

    pub fn to_json(&self, undo: bool) -> serde_json::Value {
        let tokens: serde_json::Map<String, serde_json::Value> = self
            .new_tokens
            .iter()
            .map(|(sid, t)| (sid.clone(), json!(t.as_str())))
            .collect();
        if undo {
            json!({
                "accounts": self.accounts,
                "steps": {
                    "reactivated": self.accounts,
                    "inbound_unblocked": true,
                    "queued_sends_resumed": true,
                    "auth_tokens_restored": false,
                    "api_keys_restored": false,
                },
            })
        } else {
            json!({
                "accounts": self.accounts,
                "steps": {
                    "suspended": self.accounts,
                    "in_progress_calls_ended": true,
                    "auth_tokens_rotated": self.accounts,
                    "api_keys_revoked": self.keys_revoked,
                    "inbound_blocked": true,
                    "queued_sends_paused": true,
                },
                // Shown once: the old tokens no longer work.
                "new_auth_tokens": tokens,
            })
        }
    }
}

/// Why a lockdown or its undo did not happen.
#[derive(Debug, thiserror::Error)]
pub enum LockdownError {
    #[error("no account {0}")]
    NoAccount(String),
    #[error("account {0} is not under lockdown")]
    NotLocked(String),
    #[error("{0}")]
    Store(String),
}

impl From<tollgate_store::StoreError> for LockdownError {
    fn from(e: tollgate_store::StoreError) -> Self {
        LockdownError::Store(e.to_string())
    }
}

/// What a lockdown's own token must match to undo it: a keyed hash of the
/// account, the token and the account row as the lockdown left it. Any
/// later change to the account (its parent, a usage trigger or an alarm
/// suspending it again) changes the row, so only the parent can undo then.
pub fn undo_seal(key: &MasterKey, account: &AccountRecord, token: &str) -> String {
    let mut input = Vec::with_capacity(128);
    for part in [
        account.sid.as_bytes(),
        token.as_bytes(),
        account.status.as_str().as_bytes(),
        account.date_updated.to_string().as_bytes(),
    ] {
        input.extend_from_slice(part);
        input.push(0);
    }
    hex::encode(fingerprint(&key.derive(UNDO_SEAL_KEY), &input))
}

/// The purpose the undo seal's key is derived for.
const UNDO_SEAL_KEY: &str = "tollgate lockdown undo seal";

/// The account and, with `include_subaccounts`, its subaccounts (never a
/// closed one).
async fn targets(
    store: &dyn Store,
    account: &str,
    include_subaccounts: bool,
) -> Result<Vec<AccountRecord>, LockdownError> {
    let all = store.all_accounts().await?;
    if !all.iter().any(|a| a.sid == account) {
        return Err(LockdownError::NoAccount(account.to_owned()));
    }
    Ok(all
        .into_iter()
        .filter(|a| a.sid == account || (include_subaccounts && a.owner_account_sid == account))
        .filter(|a| a.status != AccountStatus::Closed)
        .collect())
}

/// Locks `account` down (and its subaccounts with `include_subaccounts`):
/// suspends, rotates the auth token (the secondary is dropped), revokes
/// every API key, blocks inbound traffic. The server then ends calls and
/// pauses queued sends because the accounts are suspended.
pub async fn lock(
    store: &dyn Store,
    key: &MasterKey,
    now: i64,
    account: &str,
    include_subaccounts: bool,
    actor: &Actor,
) -> Result<Report, LockdownError> {
    let mut accounts = targets(store, account, include_subaccounts).await?;
    let mut report = Report::default();
    let mut events = Vec::new();
    let mut seals = Vec::with_capacity(accounts.len());
    for a in &mut accounts {
        let token = generate_auth_token(&mut OsRandom);
        a.auth_token_sealed = key
            .seal(&a.sid, token.as_bytes(), &mut OsRandom)
            .map_err(|_| LockdownError::Store("cannot seal the new token".to_owned()))?;
        a.secondary_token_sealed = None;
        a.secondary_token_created = None;
        let before = a.status;
        a.status = AccountStatus::Suspended;
        a.date_updated = now;
        seals.push(undo_seal(key, a, &token));
        for (event_type, resource, data) in [
            (
                "account.updated",
                "account",
                json!({"before": {"status": before.as_str()}, "after": {"status": "suspended"}, "reason": "lockdown"}),
            ),
            (
                "account-auth-token.promoted",
                "account-auth-token",
                json!({"reason": "lockdown"}),
            ),
            (
                "account-keys.deleted",
                "account-keys",
                json!({"all": true, "reason": "lockdown"}),
            ),
            (
                "tollgate-lockdown.created",
                "tollgate-lockdown",
                json!({"inbound_blocked": true, "queued_sends_paused": true}),
            ),
        ] {
            events.push(actor.event(now, &a.sid, event_type, (resource, Some(&a.sid)), data));
        }
        report.accounts.push(a.sid.clone());
        report.new_tokens.push((a.sid.clone(), token));
    }
    report.keys_revoked = store
        .apply_lockdown(&accounts, true, Some(&seals), &events)
        .await?;
    report.records = accounts;
    report.seals = seals;
    Ok(report)
}

/// Undoes a lockdown: reactivates and unblocks the accounts under lockdown
/// (an account suspended for another reason stays suspended). Tokens and
/// keys stay as the lockdown left them. [`LockdownError::NotLocked`] if
/// `account` itself is not under lockdown.
pub async fn unlock(
    store: &dyn Store,
    now: i64,
    account: &str,
    include_subaccounts: bool,
    actor: &Actor,
) -> Result<Report, LockdownError> {
    let locked: std::collections::HashSet<String> = store
        .all_settings()
        .await?
        .into_iter()
        .filter(|s| s.name == "LockdownInbound" && s.value == "true")
        .map(|s| s.account_sid)
        .collect();
    if !locked.contains(account) {
        return Err(LockdownError::NotLocked(account.to_owned()));
    }
    let mut accounts = targets(store, account, include_subaccounts).await?;
    accounts.retain(|a| locked.contains(&a.sid));
    let mut events = Vec::new();
    let mut report = Report::default();
    for a in &mut accounts {
        let before = a.status;
        a.status = AccountStatus::Active;
        a.date_updated = now;
        events.push(actor.event(now, &a.sid, "account.updated", ("account", Some(&a.sid)),
            json!({"before": {"status": before.as_str()}, "after": {"status": "active"}, "reason": "lockdown undone"})));
        events.push(actor.event(
            now,
            &a.sid,
            "tollgate-lockdown.deleted",
            ("tollgate-lockdown", Some(&a.sid)),
            json!({"inbound_blocked": false}),
        ));
        report.accounts.push(a.sid.clone());
    }
    store
        .apply_lockdown(&accounts, false, None, &events)
        .await?;
    report.records = accounts;
    Ok(report)
}

/// Locks `account` down (or undoes its lockdown) and applies the result to
/// the snapshot, under `change`. The store's state generation moves by one
/// per lockdown; this server notes the move as its own, so
/// [`follow_outside_changes`] does not reload for it.
pub async fn apply(
    change: Change<'_>,
    app: &App,
    account: &str,
    include_subaccounts: bool,
    undo: bool,
    actor: &Actor,
) -> Result<Report, LockdownError> {
    let before = app.store.state_generation().await?;
    let now = app.clock.now().0;
    let report = if undo {
        unlock(app.store.as_ref(), now, account, include_subaccounts, actor).await?
    } else {
        lock(
            app.store.as_ref(),
            app.master_key(),
            now,
            account,
            include_subaccounts,
            actor,
        )
        .await?
    };
    let after = app.store.state_generation().await?;
    if before == app.seen_generation() && after == before + 1 {
        app.saw_generation(after);
    }
    change
        .commit(|snapshot, key| report.apply_to(snapshot, key))
        .map_err(|e| LockdownError::Store(e.message.clone()))?;
    if !undo {
        for sid in &report.accounts {
            app.carrier.end_calls_of(sid);
        }
    }
    Ok(report)
}

/// Reloads the snapshot when something outside this server (the CLI, another
/// node's lockdown) bumped the state generation, and ends the calls of any
/// account that is no longer active. Polls every second until `stop`.
pub async fn follow_outside_changes(
    app: std::sync::Arc<crate::app::App>,
    stop: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stop);
    if let Ok(now) = app.store.state_generation().await {
        app.saw_generation(now);
    }
    loop {
        tokio::select! {
            () = &mut stop => return,
            () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
        }
        let Ok(now) = app.store.state_generation().await else {
            continue;
        };
        if now == app.seen_generation() {
            continue;
        }
        // Under the lock, this server's own lockdowns have noted their
        // generation: only a change from outside reloads.
        let change = app.change().await;
        let Ok(now) = app.store.state_generation().await else {
            continue;
        };
        if now == app.seen_generation() {
            continue;
        }
        if change.reload().await.is_err() {
            continue;
        }
        app.saw_generation(now);
        for account in app.snapshot().accounts.values() {
            if account.status != AccountStatus::Active {
                app.carrier.end_calls_of(&account.sid);
            }
        }
        tracing::info!(
            generation = now,
            "state changed outside this server; snapshot reloaded"
        );
    }
}
