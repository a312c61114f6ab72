//! The sandbox carrier's loops: one task steps every message (`queued →
//! sent →` a final status, each round's final statuses written together),
//! and one takes started calls and runs each (`ringing → in-progress →
//! completed`). Started with the server.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tollgate_store::CallRecord;

use crate::app::App;
use crate::state::sandbox::{HandsetMessage, Pending};

/// Runs the sandbox's loops until `stop`.
pub async fn run(app: Arc<App>, stop: impl std::future::Future<Output = ()>) {
    let Some(mut calls) = app.sandbox.take_calls() else {
        return;
    };
    let messages = tokio::spawn(step_messages(app.clone()));
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            call = calls.recv() => match call {
                Some(call) => start_call(app.clone(), call),
                None => break,
            },
        }
    }
    messages.abort();
}

/// The sandbox's message task: sleeps until the earliest step is due, then
/// takes every due step.
async fn step_messages(app: Arc<App>) {
    let queue = &app.sandbox.messages;
    let step = Duration::from_millis(app.sandbox.settings.step_ms);
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
    let signal = app.sandbox.call_began(&call);
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
        app.sandbox.call_ended(&call.sid);
        crate::services::status::record_status(&app, &call).await;
    });
}
