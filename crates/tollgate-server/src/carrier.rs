//! The carrier boundary. The built-in sandbox carrier is in-process and
//! deterministic: messages go `queued → sent → delivered` (or `undelivered`
//! / `failed` when a number was made unreachable), calls `queued → ringing
//! → in-progress → completed`, with configurable delays. Its "handsets" keep
//! what they received in memory for tests.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tollgate_store::{CallRecord, MessageRecord};

use crate::app::App;

/// A message as a sandbox handset received it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HandsetMessage {
    pub sid: String,
    pub from: String,
    pub to: String,
    pub body: String,
    pub date_created: String,
}

/// Sandbox timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SandboxSettings {
    /// Delay between status steps.
    pub step_ms: u64,
    /// How long a sandbox call lasts when nothing ends it sooner.
    pub call_seconds: u32,
}

impl Default for SandboxSettings {
    fn default() -> Self {
        SandboxSettings {
            step_ms: 500,
            call_seconds: 30,
        }
    }
}

/// Messages kept per handset, and handsets kept.
const INBOX_DEPTH: usize = 100;
const INBOXES: usize = 10_000;

pub struct Sandbox {
    pub settings: SandboxSettings,
    unreachable: Mutex<HashSet<String>>,
    inboxes: Mutex<HashMap<String, VecDeque<HandsetMessage>>>,
    /// Calls in progress, by SID, with the signal that ends them early.
    calls: Mutex<HashMap<String, (String, Arc<Notify>)>>,
    /// Messages between `queued` and their final status, in their stored
    /// form: a message is written when created and when it settles, and
    /// reads see the steps between from here.
    in_flight: Mutex<HashMap<String, MessageRecord>>,
}

impl Sandbox {
    pub fn new(settings: SandboxSettings) -> Sandbox {
        Sandbox {
            settings,
            unreachable: Mutex::new(HashSet::new()),
            inboxes: Mutex::new(HashMap::new()),
            calls: Mutex::new(HashMap::new()),
            in_flight: Mutex::new(HashMap::new()),
        }
    }

    pub fn set_reachable(&self, number: &str, reachable: bool) {
        if let Ok(mut set) = self.unreachable.lock() {
            if reachable {
                set.remove(number);
            } else {
                set.insert(number.to_owned());
            }
        }
    }

    pub(crate) fn is_reachable(&self, number: &str) -> bool {
        self.unreachable
            .lock()
            .map(|s| !s.contains(number))
            .unwrap_or(true)
    }

    /// `record` as it stands now: its in-flight status, if it has one.
    pub fn current(&self, record: MessageRecord) -> MessageRecord {
        self.in_flight
            .lock()
            .ok()
            .and_then(|m| m.get(&record.sid).cloned())
            .unwrap_or(record)
    }

    pub(crate) fn set_in_flight(&self, stored: MessageRecord) {
        if let Ok(mut m) = self.in_flight.lock() {
            m.insert(stored.sid.clone(), stored);
        }
    }

    pub(crate) fn settled(&self, sid: &str) {
        if let Ok(mut m) = self.in_flight.lock() {
            m.remove(sid);
        }
    }

    /// What the handset `to` received, newest first.
    pub fn inbox(&self, to: &str) -> Vec<HandsetMessage> {
        self.inboxes
            .lock()
            .ok()
            .and_then(|m| m.get(to).map(|q| q.iter().rev().cloned().collect()))
            .unwrap_or_default()
    }

    pub(crate) fn deliver_to_handset(&self, message: HandsetMessage) {
        if let Ok(mut m) = self.inboxes.lock() {
            if !m.contains_key(&message.to) && m.len() >= INBOXES {
                m.clear();
            }
            let q = m.entry(message.to.clone()).or_default();
            if q.len() >= INBOX_DEPTH {
                q.pop_front();
            }
            q.push_back(message);
        }
    }

    /// Ends every in-progress call of `account` (when it is suspended or closed).
    pub fn end_calls_of(&self, account: &str) {
        if let Ok(calls) = self.calls.lock() {
            for (owner, signal) in calls.values() {
                if owner == account {
                    signal.notify_one();
                }
            }
        }
    }

    /// Ends one call now. False if it is not in progress.
    pub fn end_call(&self, sid: &str) -> bool {
        self.calls
            .lock()
            .ok()
            .and_then(|c| c.get(sid).map(|(_, s)| s.notify_one()))
            .is_some()
    }

    pub(crate) async fn step(&self) {
        if self.settings.step_ms > 0 {
            tokio::time::sleep(Duration::from_millis(self.settings.step_ms)).await;
        }
    }
}

/// Hands a recorded message to the sandbox; its status moves on in the
/// background. A message sent through a Messaging Service whose sender fails
/// at the carrier is retried once through another sender of the pool.
pub fn submit_message(
    app: Arc<App>,
    mut message: MessageRecord,
    privacy: crate::api::messages::Privacy,
) {
    tokio::spawn(async move {
        let sandbox = &app.sandbox;
        let mut retried = false;
        loop {
            sandbox.step().await;
            paused_while_inactive(&app, &message.account_sid).await;
            let now = app.clock.now().0;
            message.status = "sent".into();
            message.date_sent = Some(now);
            message.date_updated = now;
            crate::api::messages::record_status(&app, &message, privacy, false).await;
            sandbox.step().await;
            let now = app.clock.now().0;
            message.date_updated = now;
            let sender_failed = !sandbox.is_reachable(&message.from_number);
            if message.messaging_service_sid.is_some() {
                app.traffic
                    .sender_result(&message.from_number, !sender_failed, now);
            }
            if sender_failed
                && !retried
                && let Some(service) = message
                    .messaging_service_sid
                    .as_ref()
                    .and_then(|sid| app.snapshot().services.get(sid).cloned())
                && let Some(other) = app.traffic.pick_sender(
                    &service.record.sid,
                    &service.numbers,
                    false,
                    &message.to_number,
                    &[message.from_number.as_str()],
                    now,
                )
            {
                tracing::info!(sid = %message.sid, "sender failed; retrying through another sender of the pool");
                message.from_number = other;
                retried = true;
                continue;
            }
            if !sandbox.is_reachable(&message.to_number) {
                message.status = "undelivered".into();
                message.error_code = Some(30003);
                message.error_message = Some("Unreachable destination handset".into());
            } else if sender_failed {
                message.status = "failed".into();
                message.error_code = Some(30008);
                message.error_message = Some("Unknown error".into());
            } else {
                message.status = "delivered".into();
                sandbox.deliver_to_handset(HandsetMessage {
                    sid: message.sid.clone(),
                    from: message.from_number.clone(),
                    to: message.to_number.clone(),
                    body: message.body.clone().unwrap_or_default(),
                    date_created: tollgate_types::Timestamp(message.date_created).iso8601(),
                });
            }
            crate::api::messages::record_status(&app, &message, privacy, true).await;
            break;
        }
    });
}

/// Queued sends of a suspended account (a lockdown) wait, for up to a day,
/// until it is active again.
async fn paused_while_inactive(app: &App, account: &str) {
    let active = || {
        app.snapshot()
            .accounts
            .get(account)
            .is_none_or(|a| a.status == tollgate_types::AccountStatus::Active)
    };
    let mut waited = 0;
    while !active() && waited < 86_400 * 5 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        waited += 1;
    }
}

/// Hands a recorded call to the sandbox.
pub fn start_call(app: Arc<App>, mut call: CallRecord) {
    let signal = Arc::new(Notify::new());
    if let Ok(mut calls) = app.sandbox.calls.lock() {
        calls.insert(call.sid.clone(), (call.account_sid.clone(), signal.clone()));
    }
    tokio::spawn(async move {
        let sandbox = &app.sandbox;
        sandbox.step().await;
        call.status = "ringing".into();
        call.date_updated = app.clock.now().0;
        crate::api::calls::record_status(&app, &call).await;
        sandbox.step().await;
        if !sandbox.is_reachable(&call.to_number) || !sandbox.is_reachable(&call.from_number) {
            call.status = "failed".into();
            call.error_code = Some(30008);
            call.date_updated = app.clock.now().0;
        } else {
            let start = app.clock.now().0;
            call.status = "in-progress".into();
            call.start_time = Some(start);
            call.date_updated = start;
            crate::api::calls::record_status(&app, &call).await;
            let limit = u32::try_from(call.time_limit)
                .unwrap_or(0)
                .min(sandbox.settings.call_seconds);
            tokio::select! {
                _ = signal.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(u64::from(limit))) => {}
            }
            let end = app.clock.now().0;
            call.status = "completed".into();
            call.end_time = Some(end);
            call.duration = Some(i32::try_from((end - start).max(0) / 1000).unwrap_or(i32::MAX));
            call.date_updated = end;
        }
        if let Ok(mut calls) = app.sandbox.calls.lock() {
            calls.remove(&call.sid);
        }
        crate::api::calls::record_status(&app, &call).await;
    });
}
