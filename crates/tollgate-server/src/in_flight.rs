//! Sends a 201 promised, until the carrier settles them: each is recorded in
//! the transaction that records the send, removed in the one that records
//! its final status, and resumed at start-up by the node that took it. A
//! status callback has one delivery SID per send and status, so writing it
//! again after a restart queues nothing new: each arrives once.

use std::sync::Arc;

use tollgate_store::{CallRecord, InFlightRecord, MessageRecord, WebhookRecord, WriteOp};
use tollgate_webhook::request::{Method, Payload};

use crate::api::messages::Privacy;
use crate::app::App;
use crate::random::OsRandom;

pub const MESSAGE: &str = "message";
pub const CALL: &str = "call";

/// What a message's stored row redacts, kept sealed while it is in flight.
#[derive(serde::Serialize, serde::Deserialize)]
struct Unredacted {
    to: String,
    from: String,
    body: Option<String>,
    numbers: bool,
    bodies: bool,
}

/// The write that records `message` as taken by this node.
pub fn message_taken(app: &App, message: &MessageRecord, privacy: Privacy) -> WriteOp {
    let sealed = (privacy.numbers || privacy.bodies)
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
    taken(
        app,
        &message.sid,
        MESSAGE,
        &message.account_sid,
        sealed,
        message.date_created,
    )
}

/// The write that records `call` as taken by this node (`redacted`: the
/// stored row does not hold the number called).
pub fn call_taken(app: &App, call: &CallRecord, redacted: bool) -> WriteOp {
    let sealed = redacted
        .then(|| {
            app.master_key()
                .seal(&call.sid, call.to_number.as_bytes(), &mut OsRandom)
                .ok()
        })
        .flatten();
    taken(
        app,
        &call.sid,
        CALL,
        &call.account_sid,
        sealed,
        call.date_created,
    )
}

fn taken(
    app: &App,
    sid: &str,
    kind: &str,
    account_sid: &str,
    sealed: Option<Vec<u8>>,
    at: i64,
) -> WriteOp {
    WriteOp::InsertInFlight(InFlightRecord {
        sid: sid.to_owned(),
        kind: kind.to_owned(),
        account_sid: account_sid.to_owned(),
        node: app.webhooks.settings.node_id.clone(),
        sealed,
        date_created: at,
    })
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
    let hook = crate::webhooks::NewWebhook {
        account_sid,
        url: &url,
        method: Method::Post,
        payload: Payload::Form(params.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()),
    };
    let delivery_sid = callback_sid(app, sid, status);
    match crate::webhooks::prepare_as(app, hook, delivery_sid) {
        Ok(record) => Some(record),
        Err(e) => {
            tracing::warn!(%sid, code = e.spec.code, "status callback not queued");
            None
        }
    }
}

/// `WD` + 32 hex digits of a keyed hash of the resource and its status.
fn callback_sid(app: &App, sid: &str, status: &str) -> String {
    let key = app.master_key().derive("tollgate status callback delivery");
    let mac = tollgate_secrets::fingerprint(&key, format!("{sid}\0{status}").as_bytes());
    let hex = hex::encode(mac);
    format!("WD{}", hex.get(..32).unwrap_or(&hex))
}

/// Resumes every send this node took and did not settle: messages go back
/// to the carrier from where they were, calls go on from their status.
pub async fn resume(app: &Arc<App>) {
    let node = &app.webhooks.settings.node_id;
    let taken = match app.store.sends_in_flight(node).await {
        Ok(taken) => taken,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the sends in flight");
            return;
        }
    };
    if taken.is_empty() {
        return;
    }
    let (mut messages, mut calls, mut settled) = (0, 0, Vec::new());
    for send in taken {
        let resumed = match send.kind.as_str() {
            MESSAGE => resume_message(app, &send).await,
            CALL => resume_call(app, &send).await,
            _ => false,
        };
        match (resumed, send.kind.as_str()) {
            (true, MESSAGE) => messages += 1,
            (true, _) => calls += 1,
            (false, _) => settled.push(WriteOp::DeleteInFlight(send.sid)),
        }
    }
    if !settled.is_empty()
        && let Err(e) = app.writer.write_all(settled).await
    {
        tracing::error!(error = %e, "cannot clear settled sends");
    }
    tracing::info!(
        messages,
        calls,
        "resumed the sends in flight before a restart"
    );
}

/// False when there is nothing to resume (the row settled or is gone).
async fn resume_message(app: &Arc<App>, send: &InFlightRecord) -> bool {
    let Ok(Some(mut message)) = app.store.message(&send.account_sid, &send.sid).await else {
        return false;
    };
    if message.status != "queued" {
        return false;
    }
    let mut privacy = Privacy::default();
    if let Some(sealed) = &send.sealed {
        let Some(unredacted) = app
            .master_key()
            .open(&send.sid, sealed)
            .ok()
            .and_then(|json| serde_json::from_slice::<Unredacted>(&json).ok())
        else {
            tracing::error!(sid = %send.sid, "a send in flight cannot be opened; it is not resumed");
            return false;
        };
        message.to_number = unredacted.to;
        message.from_number = unredacted.from;
        message.body = unredacted.body;
        privacy = Privacy {
            numbers: unredacted.numbers,
            bodies: unredacted.bodies,
        };
    }
    app.carrier.submit_message(app, message, privacy);
    true
}

async fn resume_call(app: &Arc<App>, send: &InFlightRecord) -> bool {
    let Ok(Some(mut call)) = app.store.call(&send.account_sid, &send.sid).await else {
        return false;
    };
    if !matches!(call.status.as_str(), "queued" | "ringing" | "in-progress") {
        return false;
    }
    if let Some(sealed) = &send.sealed {
        match app.master_key().open_text(&send.sid, sealed) {
            Ok(to) => call.to_number = to.to_string(),
            Err(_) => {
                tracing::error!(sid = %send.sid, "a call in flight cannot be opened; it is not resumed");
                return false;
            }
        }
    }
    app.carrier.start_call(app, call);
    true
}
