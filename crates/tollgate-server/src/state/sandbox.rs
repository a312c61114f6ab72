//! The carrier boundary, and the built-in sandbox carrier's state: its
//! queues, in-flight steps and handsets. Its loops (stepping messages,
//! running calls) are `services::sandbox`. The sandbox is in-process and
//! deterministic: messages go `queued → sent → delivered` (or `undelivered`
//! / `failed` when a number was made unreachable), calls `queued → ringing
//! → in-progress → completed`, with configurable delays. Its "handsets" keep
//! what they received in memory for tests.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;
use tollgate_store::{CallRecord, MessageRecord};

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
    pub(crate) messages: Arc<MessageQueue>,
    /// Calls handed over and not yet started by the calls task.
    calls_started: mpsc::UnboundedSender<CallRecord>,
    calls_receiver: Mutex<Option<mpsc::UnboundedReceiver<CallRecord>>>,
}

impl Sandbox {
    pub fn new(settings: SandboxSettings) -> Sandbox {
        let (calls_started, calls_receiver) = mpsc::unbounded_channel();
        Sandbox {
            settings,
            unreachable: Mutex::new(HashSet::new()),
            inboxes: Mutex::new(HashMap::new()),
            calls: Mutex::new(HashMap::new()),
            in_flight: Mutex::new(HashMap::new()),
            messages: Arc::default(),
            calls_started,
            calls_receiver: Mutex::new(Some(calls_receiver)),
        }
    }

    /// The receiving end of started calls, for the one calls task.
    pub(crate) fn take_calls(&self) -> Option<mpsc::UnboundedReceiver<CallRecord>> {
        self.calls_receiver.lock().ok()?.take()
    }

    /// Registers a call in progress; its signal ends it early.
    pub(crate) fn call_began(&self, call: &CallRecord) -> Arc<Notify> {
        let signal = Arc::new(Notify::new());
        if let Ok(mut calls) = self.calls.lock() {
            calls.insert(call.sid.clone(), (call.account_sid.clone(), signal.clone()));
        }
        signal
    }

    pub(crate) fn call_ended(&self, sid: &str) {
        if let Ok(mut calls) = self.calls.lock() {
            calls.remove(sid);
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
    pub(crate) fn due(&self) -> Instant {
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
pub(crate) struct Pending {
    pub due: Instant,
    pub settle: bool,
    pub retried: bool,
    pub message: MessageRecord,
    pub privacy: Privacy,
}

/// Messages moving through the sandbox: one task steps them all and writes
/// each round's final statuses in one batch. Every step waits the same
/// delay, so steps are due in the order they were queued (first in, first
/// out); sends paused by a suspension wait in their own queue.
#[derive(Default)]
pub(crate) struct MessageQueue {
    queues: Mutex<Queues>,
    pub wake: Notify,
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
    pub fn push(&self, pending: Pending, paused: bool) {
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

    pub fn next_due(&self) -> Option<Instant> {
        self.queues.lock().ok().and_then(|q| q.earliest())
    }

    pub fn take_due(&self, now: Instant) -> Vec<Pending> {
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
    fn submit_message(&self, message: MessageRecord, privacy: Privacy);
    /// Takes a recorded call; its status moves on in the background.
    fn start_call(&self, call: CallRecord);
    /// Ends one call now. False if it is not in progress.
    fn end_call(&self, sid: &str) -> bool;
    /// Ends every in-progress call of `account` (when it is suspended or closed).
    fn end_calls_of(&self, account: &str);
}

impl Carrier for Sandbox {
    /// A message sent through a Messaging Service whose sender fails at the
    /// carrier is retried once through another sender of the pool.
    fn submit_message(&self, message: MessageRecord, privacy: Privacy) {
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

    fn start_call(&self, call: CallRecord) {
        if self.calls_started.send(call).is_err() {
            tracing::error!("the sandbox's calls task has stopped; a call was not started");
        }
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
