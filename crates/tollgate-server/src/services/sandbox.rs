//! The carrier boundary. The built-in sandbox carrier is in-process and
//! deterministic: messages go `queued → sent → delivered` (or `undelivered`
//! / `failed` when a number was made unreachable), calls `queued → ringing
//! → in-progress → completed`, with configurable delays. Its "handsets" keep
//! what they received in memory for tests.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;
use tollgate_store::{CallRecord, MessageRecord};

use crate::app::App;
use crate::privacy::Privacy;

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
    /// Messages between `queued` and their final status: a message is
    /// written when created and when it settles; reads see the step between
    /// (`sent`, with its time and, after a failover, its new sender) from here.
    in_flight: Mutex<HashMap<String, Sent>>,
    messages: Arc<MessageQueue>,
}

impl Sandbox {
    pub fn new(settings: SandboxSettings) -> Sandbox {
        Sandbox {
            settings,
            unreachable: Mutex::new(HashSet::new()),
            inboxes: Mutex::new(HashMap::new()),
            calls: Mutex::new(HashMap::new()),
            in_flight: Mutex::new(HashMap::new()),
            messages: Arc::default(),
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
    pub fn current(&self, mut record: MessageRecord) -> MessageRecord {
        let sent = self
            .in_flight
            .lock()
            .ok()
            .and_then(|m| m.get(&record.sid).cloned());
        if let Some(sent) = sent {
            record.status = "sent".into();
            record.date_sent = Some(sent.at);
            record.date_updated = sent.at;
            if let Some(from) = sent.from {
                record.from_number = from;
            }
        }
        record
    }

    /// Records a message's `sent` step, which reads show until it settles.
    pub(crate) fn set_sent(&self, message: &MessageRecord) {
        let sent = Sent {
            at: message.date_sent.unwrap_or(message.date_updated),
            // Outbound senders are the account's own numbers, never redacted.
            from: message
                .messaging_service_sid
                .is_some()
                .then(|| message.from_number.clone()),
        };
        if let Ok(mut m) = self.in_flight.lock() {
            m.insert(message.sid.clone(), sent);
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

    /// When a step taken now is due.
    fn due(&self) -> Instant {
        Instant::now() + Duration::from_millis(self.settings.step_ms)
    }

    pub(crate) async fn step(&self) {
        if self.settings.step_ms > 0 {
            tokio::time::sleep(Duration::from_millis(self.settings.step_ms)).await;
        }
    }
}

/// A message's `sent` step, as reads see it until its final status is written.
#[derive(Debug, Clone)]
struct Sent {
    at: i64,
    /// The sender when a Messaging Service picked it (it may change on failover).
    from: Option<String>,
}

/// A message waiting for its next sandbox step.
struct Pending {
    due: Instant,
    settle: bool,
    retried: bool,
    message: MessageRecord,
    privacy: Privacy,
}

/// Messages moving through the sandbox: one task steps them all and writes
/// each round's final statuses in one batch. Every step waits the same
/// delay, so steps are due in the order they were queued (first in, first
/// out); sends paused by a suspension wait in their own queue.
#[derive(Default)]
struct MessageQueue {
    queues: Mutex<Queues>,
    wake: Notify,
    worker: OnceLock<()>,
}

#[derive(Default)]
struct Queues {
    steps: VecDeque<Pending>,
    paused: VecDeque<Pending>,
}

impl Queues {
    fn earliest(&self) -> Option<Instant> {
        let a = self.steps.front().map(|p| p.due);
        let b = self.paused.front().map(|p| p.due);
        a.into_iter().chain(b).min()
    }
}

impl MessageQueue {
    fn push(&self, pending: Pending, paused: bool) {
        let mut earliest = true;
        if let Ok(mut q) = self.queues.lock() {
            earliest = q.earliest().is_none_or(|e| pending.due < e);
            if paused {
                q.paused.push_back(pending);
            } else {
                q.steps.push_back(pending);
            }
        }
        // The task sleeps until the earliest step; a later one needs no wake-up.
        if earliest {
            self.wake.notify_one();
        }
    }

    fn next_due(&self) -> Option<Instant> {
        self.queues.lock().ok().and_then(|q| q.earliest())
    }

    fn take_due(&self, now: Instant) -> Vec<Pending> {
        let mut due = Vec::new();
        if let Ok(mut guard) = self.queues.lock() {
            let q = &mut *guard;
            for queue in [&mut q.steps, &mut q.paused] {
                while queue.front().is_some_and(|p| p.due <= now) {
                    due.extend(queue.pop_front());
                }
            }
        }
        due
    }
}

/// Where recorded sends go. The sandbox is the built-in carrier; an
/// upstream carrier implements the same boundary.
pub trait Carrier: Send + Sync {
    /// Takes a recorded outbound message; its status moves on in the background.
    fn submit_message(&self, app: &Arc<App>, message: MessageRecord, privacy: Privacy);
    /// Takes a recorded call; its status moves on in the background.
    fn start_call(&self, app: &Arc<App>, call: CallRecord);
    /// Ends one call now. False if it is not in progress.
    fn end_call(&self, sid: &str) -> bool;
    /// Ends every in-progress call of `account` (when it is suspended or closed).
    fn end_calls_of(&self, account: &str);
}

impl Carrier for Sandbox {
    /// A message sent through a Messaging Service whose sender fails at the
    /// carrier is retried once through another sender of the pool.
    fn submit_message(&self, app: &Arc<App>, message: MessageRecord, privacy: Privacy) {
        self.messages.worker.get_or_init(|| {
            tokio::spawn(step_messages(
                self.messages.clone(),
                Arc::downgrade(app),
                Duration::from_millis(self.settings.step_ms),
            ));
        });
        self.messages.push(
            Pending {
                due: self.due(),
                settle: false,
                retried: false,
                message,
                privacy,
            },
            false,
        );
    }

    fn start_call(&self, app: &Arc<App>, call: CallRecord) {
        start_call(app.clone(), call);
    }

    fn end_call(&self, sid: &str) -> bool {
        self.calls
            .lock()
            .ok()
            .and_then(|c| c.get(sid).map(|(_, s)| s.notify_one()))
            .is_some()
    }

    fn end_calls_of(&self, account: &str) {
        if let Ok(calls) = self.calls.lock() {
            for (owner, signal) in calls.values() {
                if owner == account {
                    signal.notify_one();
                }
            }
        }
    }
}

/// The sandbox's message task: sleeps until the earliest step is due, then
/// takes every due step. Ends when the app is gone.
async fn step_messages(queue: Arc<MessageQueue>, app: std::sync::Weak<App>, step: Duration) {
    // Steps due within one round's span are taken together (a 500 ms step
    // is late by at most 20 ms), so many messages cost one wake-up and one
    // batch of writes.
    let span = (step / 25).min(Duration::from_millis(20));
    loop {
        match queue.next_due() {
            None => queue.wake.notified().await,
            Some(due) if due > Instant::now() => {
                tokio::select! {
                    _ = tokio::time::sleep_until(due + span) => {}
                    _ = queue.wake.notified() => {}
                }
            }
            Some(_) => {}
        }
        let Some(app) = app.upgrade() else {
            return;
        };
        let due = queue.take_due(Instant::now());
        if !due.is_empty() {
            step_round(&app, due).await;
        }
    }
}

/// One round of steps: `queued → sent`, and `sent →` a final status, whose
/// records are written together.
async fn step_round(app: &Arc<App>, due: Vec<Pending>) {
    let sandbox = &app.sandbox;
    let snapshot = app.snapshot();
    let now = app.clock.now().0;
    let mut settled = Vec::new();
    let mut sent_callbacks = Vec::new();
    for mut p in due {
        let message = &mut p.message;
        if !p.settle {
            // Queued sends of a suspended account (a lockdown) wait, for up to
            // a day, until it is active again.
            let active = snapshot
                .accounts
                .get(&message.account_sid)
                .is_none_or(|a| a.status == tollgate_types::AccountStatus::Active);
            if !active && now - message.date_created < PAUSED_AT_MOST_MS {
                p.due = Instant::now() + PAUSED_RECHECK;
                sandbox.messages.push(p, true);
                continue;
            }
            message.status = "sent".into();
            message.date_sent = Some(now);
            message.date_updated = now;
            sandbox.set_sent(message);
            if message.status_callback_sealed.is_some() {
                sent_callbacks.push(message.clone());
            }
            p.due = sandbox.due();
            p.settle = true;
            sandbox.messages.push(p, false);
            continue;
        }
        message.date_updated = now;
        let sender_failed = !sandbox.is_reachable(&message.from_number);
        if message.messaging_service_sid.is_some() {
            app.traffic
                .sender_result(&message.from_number, !sender_failed, now);
        }
        if sender_failed
            && !p.retried
            && let Some(service) = message
                .messaging_service_sid
                .as_ref()
                .and_then(|sid| snapshot.services.get(sid))
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
            p.due = sandbox.due();
            p.settle = false;
            p.retried = true;
            sandbox.messages.push(p, false);
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
        settled.push((p.message, p.privacy));
    }
    crate::services::status::status_callbacks(app, sent_callbacks).await;
    crate::services::status::record_final_statuses(app, settled).await;
}

/// A send paused by a suspension waits at most a day, then goes on.
const PAUSED_AT_MOST_MS: i64 = 86_400_000;

/// How often a paused send looks whether its account is active again.
const PAUSED_RECHECK: Duration = Duration::from_millis(200);

/// Hands a recorded call to the sandbox, from its status: a new call rings
/// first; one resumed after a restart goes on from where it was.
fn start_call(app: Arc<App>, mut call: CallRecord) {
    let signal = Arc::new(Notify::new());
    if let Ok(mut calls) = app.sandbox.calls.lock() {
        calls.insert(call.sid.clone(), (call.account_sid.clone(), signal.clone()));
    }
    tokio::spawn(async move {
        let sandbox = &app.sandbox;
        if call.status == "queued" {
            sandbox.step().await;
            call.status = "ringing".into();
            call.date_updated = app.clock.now().0;
            crate::services::status::record_status(&app, &call).await;
        }
        if call.status == "ringing" {
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
                crate::services::status::record_status(&app, &call).await;
            }
        }
        if call.status == "in-progress" {
            let start = call.start_time.unwrap_or(call.date_updated);
            let limit_ms = i64::from(
                u32::try_from(call.time_limit)
                    .unwrap_or(0)
                    .min(sandbox.settings.call_seconds),
            ) * 1000;
            // A resumed call has already run part of its time.
            let left = (start + limit_ms - app.clock.now().0).max(0);
            tokio::select! {
                _ = signal.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(u64::try_from(left).unwrap_or(0))) => {}
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
        crate::services::status::record_status(&app, &call).await;
    });
}
