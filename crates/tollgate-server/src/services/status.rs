//! What happens when a send's status changes: the new status is written
//! with its status callback (one transaction), a call's minutes after the
//! first are billed, delivery receipts reach Fraud Guard. The carrier calls
//! these; they import nothing of the HTTP layer.

use std::sync::Arc;

use tollgate_store::{CallRecord, MessageRecord, WriteOp};
use tollgate_types::Timestamp;

use crate::app::App;
use crate::privacy::{Privacy, into_stored};

/// Queues the status callbacks of `messages` (those that asked for one)
/// for the status each has now, durably, and returns then: a round's
/// callbacks always precede the next round's.
pub async fn status_callbacks(app: &Arc<App>, messages: Vec<MessageRecord>) {
    let ops: Vec<WriteOp> = messages
        .iter()
        .filter_map(|m| status_callback(app, m))
        .map(WriteOp::EnqueueWebhook)
        .collect();
    if ops.is_empty() {
        return;
    }
    if let Err(e) = app.writer.write_all(ops).await {
        tracing::error!(error = %e, "cannot queue status callbacks");
    }
    app.webhooks.wake_dispatcher();
}

/// Final statuses, each written with its status callback and the end of
/// its send in flight (one transaction each, many per batch); then each
/// message leaves the in-flight set and its delivery receipt reaches Fraud
/// Guard.
pub async fn record_final_statuses(app: &Arc<App>, settled: Vec<(MessageRecord, Privacy)>) {
    if settled.is_empty() {
        return;
    }
    let mut receipts = Vec::with_capacity(settled.len());
    let mut ops = Vec::with_capacity(settled.len());
    let mut callbacks = false;
    for (message, privacy) in settled {
        receipts.push((message.sid.clone(), message.status == "delivered"));
        let mut group = Vec::with_capacity(3);
        if let Some(hook) = status_callback(app, &message) {
            group.push(WriteOp::EnqueueWebhook(hook));
            callbacks = true;
        }
        group.push(WriteOp::UpdateMessage(into_stored(message, privacy)));
        ops.push(WriteOp::Group(group));
    }
    let written = app.writer.write_all(ops).await;
    let now = app.clock.now().0;
    for (sid, delivered) in &receipts {
        app.sandbox.settled(sid);
        app.verify.receipt(sid, *delivered, now);
    }
    if let Err(e) = written {
        tracing::error!(error = %e, messages = receipts.len(), "cannot record message statuses");
        return;
    }
    if callbacks {
        app.webhooks.wake_dispatcher();
    }
}

/// The status callback of `message` for its current status, if it asked for one.
fn status_callback(app: &App, message: &MessageRecord) -> Option<tollgate_store::WebhookRecord> {
    let sealed = message.status_callback_sealed.as_ref()?;
    let mut params = vec![
        ("MessageSid", message.sid.clone()),
        ("SmsSid", message.sid.clone()),
        ("AccountSid", message.account_sid.clone()),
        ("From", message.from_number.clone()),
        ("To", message.to_number.clone()),
        ("MessageStatus", message.status.clone()),
        ("SmsStatus", message.status.clone()),
        ("ApiVersion", "2010-04-01".to_owned()),
    ];
    if let Some(code) = message.error_code {
        params.push(("ErrorCode", code.to_string()));
    }
    crate::services::unsettled::callback(
        app,
        &message.account_sid,
        &message.sid,
        &message.status,
        sealed,
        params,
    )
}

/// Records a status change; on completion bills the minutes after the first
/// and sends the status callback (Twilio's default event: `completed`).
pub async fn record_status(app: &Arc<App>, call: &CallRecord) {
    let mut call = call.clone();
    // The price recorded so far (the first minute), before billing the rest.
    let billed_before = call.price_micros.unwrap_or(0);
    if call.status == "completed"
        && let (Some(duration), Some(first_minute)) = (call.duration, call.price_micros)
    {
        let minutes = (i64::from(duration.max(1)) + 59) / 60;
        let total = first_minute.saturating_mul(minutes);
        if minutes > 1 {
            let snapshot = app.snapshot();
            if let Some(account) = snapshot.accounts.get(&call.account_sid) {
                let chain = snapshot.chain(account);
                app.traffic.add_spend(
                    &chain,
                    call.country.as_deref().unwrap_or(""),
                    total - first_minute,
                    call.date_updated,
                );
            }
        }
        call.price_micros = Some(total);
    }
    let terminal = matches!(
        call.status.as_str(),
        "completed" | "failed" | "busy" | "no-answer" | "canceled"
    );
    // A final status and its callback commit together.
    let mut group = vec![WriteOp::UpdateCall(call.clone())];
    if terminal && let Some(hook) = call_status_callback(app, &call) {
        group.push(WriteOp::EnqueueWebhook(hook));
    }
    let callback = group.len() > 1;
    if let Err(e) = app.writer.write(WriteOp::Group(group)).await {
        tracing::error!(error = %e, sid = %call.sid, "cannot record a call status");
        return;
    }
    if callback {
        app.webhooks.wake_dispatcher();
    }
    if call.status == "completed" && call.rule.is_none() {
        // Minutes and the price beyond the first minute count now.
        let delta = tollgate_policy::triggers::Usage {
            calls_outbound: tollgate_policy::triggers::Tally {
                count: 0,
                usage: (i64::from(call.duration.unwrap_or(0)) + 59) / 60,
                price_micros: call.price_micros.unwrap_or(0) - billed_before,
            },
            ..Default::default()
        };
        crate::services::triggers::observe(app, &call.account_sid, &delta).await;
    }
}

/// The status callback of a call that reached a final status (Twilio's
/// default event: `completed`), if it asked for one.
fn call_status_callback(app: &App, call: &CallRecord) -> Option<tollgate_store::WebhookRecord> {
    let sealed = call.status_callback_sealed.as_ref()?;
    let mut params = vec![
        ("CallSid", call.sid.clone()),
        ("AccountSid", call.account_sid.clone()),
        ("From", call.from_number.clone()),
        ("To", call.to_number.clone()),
        ("Caller", call.from_number.clone()),
        ("Called", call.to_number.clone()),
        ("CallStatus", call.status.clone()),
        ("Direction", call.direction.clone()),
        ("ApiVersion", "2010-04-01".to_owned()),
        ("CallbackSource", "call-progress-events".to_owned()),
        ("Timestamp", Timestamp(call.date_updated).rfc2822()),
        ("SequenceNumber", "0".to_owned()),
    ];
    if let Some(d) = call.duration {
        params.push(("CallDuration", d.to_string()));
        params.push(("Duration", ((i64::from(d) + 59) / 60).to_string()));
    }
    crate::services::unsettled::callback(
        app,
        &call.account_sid,
        &call.sid,
        &call.status,
        sealed,
        params,
    )
}
