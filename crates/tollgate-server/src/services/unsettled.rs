//! Sends a 201 promised, until the carrier settles them. A send's own row
//! names the node that took it and keeps, sealed, what the row redacts;
//! its final status (written with its status callback) settles it, and the
//! node resumes what it did not settle at start-up. A status callback has
//! one delivery SID per send and status, so writing it again after a
//! restart queues nothing new: each arrives once.

use std::sync::Arc;

use tollgate_store::{CallRecord, MessageRecord, WebhookRecord};
use tollgate_webhook::request::{Method, Payload};

use crate::app::App;
use crate::privacy::Privacy;
use crate::random::OsRandom;

/// What a message's stored row redacts, kept sealed until it settles.
#[derive(serde::Serialize, serde::Deserialize)]
struct Unredacted {
    to: String,
    from: String,
    body: Option<String>,
    numbers: bool,
    bodies: bool,
}

/// Marks `message` as taken by this node, with what `privacy` will redact
/// from its stored row sealed, so it can be resumed after a crash.
pub fn take_message(app: &App, message: &mut MessageRecord, privacy: Privacy) {
    message.carrier_node = Some(app.webhooks.settings.node_id.clone());
    message.resume_sealed = (privacy.numbers || privacy.bodies)
        .then(|| {
            let unredacted = Unredacted {
                to: message.to_number.clone(),
                from: message.from_number.clone(),
                body: message.body.clone(),
                numbers: privacy.numbers,
                bodies: privacy.bodies,
            };
            let json = serde_json::to_vec(&unredacted).ok()?;
            app.master_key()
                .seal(&message.sid, &json, &mut OsRandom)
                .ok()
        })
        .flatten();
}

/// Marks `call` as taken by this node (`redacted`: its stored row will not
/// hold the number called, which is kept sealed).
pub fn take_call(app: &App, call: &mut CallRecord, redacted: bool) {
    call.carrier_node = Some(app.webhooks.settings.node_id.clone());
    call.resume_sealed = redacted
        .then(|| {
            app.master_key()
                .seal(&call.sid, call.to_number.as_bytes(), &mut OsRandom)
                .ok()
        })
        .flatten();
}

/// The status callback for `sid` reaching `status`, as a write that commits
/// with the status itself. Its delivery SID is derived from both, so a
/// status written twice (a send resumed after a crash) queues it once.
pub fn callback(
    app: &App,
    account_sid: &str,
    sid: &str,
    status: &str,
    sealed_url: &[u8],
    params: Vec<(&str, String)>,
) -> Option<WebhookRecord> {
    let url = app.master_key().open_text(sid, sealed_url).ok()?;
    let hook = crate::services::webhooks::NewWebhook {
        account_sid,
        url: &url,
        method: Method::Post,
        payload: Payload::Form(params.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()),
        ordering_key: Some(sid),
    };
    let delivery_sid = callback_sid(app, sid, status);
    match crate::services::webhooks::prepare_as(app, hook, delivery_sid) {
        Ok(mut record) => {
            // Due after the callbacks of the statuses before it, even
            // within one millisecond: with the ordering key, they go in order.
            record.next_attempt_at += status_rank(status);
            Some(record)
        }
        Err(e) => {
            tracing::warn!(%sid, code = e.spec.code, "status callback not queued");
            None
        }
    }
}

/// A status's place in its resource's life.
pub fn status_rank(status: &str) -> i64 {
    match status {
        "queued" | "initiated" | "accepted" => 0,
        "sending" | "ringing" => 1,
        "sent" | "in-progress" | "answered" => 2,
        _ => 3,
    }
}

/// `WD` + 32 hex digits of a keyed hash of the resource and its status.
pub fn callback_sid(app: &App, sid: &str, status: &str) -> String {
    let key = app.master_key().derive("tollgate status callback delivery");
    let mac = tollgate_secrets::fingerprint(&key, format!("{sid}\0{status}").as_bytes());
    let hex = hex::encode(mac);
    format!("WD{}", hex.get(..32).unwrap_or(&hex))
}

/// Resumes every send this node took and did not settle: messages go back
/// to the carrier from where they were, calls go on from their status.
pub async fn resume(app: &Arc<App>) {
    let node = &app.webhooks.settings.node_id;
    let (messages, calls) = match app.store.unsettled_sends(node).await {
        Ok(sends) => sends,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the unsettled sends");
            return;
        }
    };
    if messages.is_empty() && calls.is_empty() {
        return;
    }
    let (mut resumed_messages, mut resumed_calls) = (0, 0);
    for message in messages {
        if let Some((message, privacy)) = unredacted_message(app, message) {
            app.carrier.submit_message(message, privacy);
            resumed_messages += 1;
        }
    }
    for call in calls {
        if let Some(call) = unredacted_call(app, call) {
            app.carrier.start_call(call);
            resumed_calls += 1;
        }
    }
    tracing::info!(
        messages = resumed_messages,
        calls = resumed_calls,
        "resumed the sends left unsettled before a restart"
    );
}

/// The message as it was sent: what its row redacts, opened.
fn unredacted_message(app: &App, mut message: MessageRecord) -> Option<(MessageRecord, Privacy)> {
    let Some(sealed) = message.resume_sealed.clone() else {
        return Some((message, Privacy::default()));
    };
    let Some(unredacted) = app
        .master_key()
        .open(&message.sid, &sealed)
        .ok()
        .and_then(|json| serde_json::from_slice::<Unredacted>(&json).ok())
    else {
        tracing::error!(sid = %message.sid, "an unsettled message cannot be opened; it is not resumed");
        return None;
    };
    message.to_number = unredacted.to;
    message.from_number = unredacted.from;
    message.body = unredacted.body;
    let privacy = Privacy {
        numbers: unredacted.numbers,
        bodies: unredacted.bodies,
    };
    Some((message, privacy))
}

/// The call as it was placed: the number its row redacts, opened.
fn unredacted_call(app: &App, mut call: CallRecord) -> Option<CallRecord> {
    let Some(sealed) = call.resume_sealed.clone() else {
        return Some(call);
    };
    match app.master_key().open_text(&call.sid, &sealed) {
        Ok(to) => {
            call.to_number = to.to_string();
            Some(call)
        }
        Err(_) => {
            tracing::error!(sid = %call.sid, "an unsettled call cannot be opened; it is not resumed");
            None
        }
    }
}
