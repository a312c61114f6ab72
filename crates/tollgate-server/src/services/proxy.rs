//! Proxy mode's traffic (`carrier = "twilio"`): an admitted send goes on to
//! the account's upstream Twilio account with every parameter kept, and
//! Twilio's answer comes back to the application; Twilio's status callbacks
//! come back through Tollgate, update the record and are relayed, re-signed,
//! to the application's own `StatusCallback`.

use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::Value;
use tollgate_store::{CallRecord, MessageRecord, UpstreamIntentRecord, WriteOp};
use tollgate_types::error_code as codes;
use tollgate_webhook::request::{Method, Payload};

use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::privacy::{Privacy, stored_form};
use crate::random::OsRandom;
use crate::state::snapshot::UpstreamEntry;

/// Where Twilio sends a proxied message's status callbacks.
pub const MESSAGE_STATUS_PATH: &str = "/tollgate/v1/Upstream/MessageStatus";

/// Twilio's answer to a forwarded request, with the upstream account's SID
/// replaced by the Tollgate account's.
pub struct Answer {
    pub status: StatusCode,
    pub body: Vec<u8>,
}

/// The longest `Idempotency-Key` kept.
pub const MAX_IDEMPOTENCY_KEY: usize = 255;

/// A request's idempotency key, with what ties it to the request.
pub struct Idempotency {
    pub account_sid: String,
    pub key: String,
    pub request_hash: String,
}

impl Idempotency {
    /// From the `Idempotency-Key` header of a create of `account` at `path`
    /// with `params`; `None` without the header.
    pub fn of(
        app: &App,
        account: &str,
        header: Option<&str>,
        path: &str,
        params: &[(String, String)],
    ) -> ApiResult<Option<Idempotency>> {
        let Some(key) = header else {
            return Ok(None);
        };
        if key.is_empty()
            || key.len() > MAX_IDEMPOTENCY_KEY
            || !key.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(ApiError::invalid(
                "Idempotency-Key",
                "must be 1 to 255 printable ASCII characters",
            ));
        }
        let mut input = format!("POST\0{path}\0").into_bytes();
        for (name, value) in params {
            input.extend_from_slice(name.as_bytes());
            input.push(b'=');
            input.extend_from_slice(value.as_bytes());
            input.push(0);
        }
        let hash = tollgate_secrets::fingerprint(
            &app.master_key().derive("tollgate idempotent request"),
            &input,
        );
        Ok(Some(Idempotency {
            account_sid: account.to_owned(),
            key: key.to_owned(),
            request_hash: hex::encode(hash),
        }))
    }

    fn same_request(&self, held: &tollgate_store::IdempotentRequestRecord) -> bool {
        tollgate_secrets::ct_eq(held.request_hash.as_bytes(), self.request_hash.as_bytes())
    }

    fn aad(&self) -> String {
        format!("{}:idempotent:{}", self.account_sid, self.key)
    }

    fn settled_error(
        &self,
        held: &tollgate_store::IdempotentRequestRecord,
    ) -> ApiResult<Option<Answer>> {
        if !self.same_request(held) {
            return Err(ApiError::new(
                &codes::IDEMPOTENCY_KEY_REUSED,
                "This Idempotency-Key was used with a different request",
            ));
        }
        Err(ApiError::new(
            &codes::IDEMPOTENT_REQUEST_UNSETTLED,
            "A request with this Idempotency-Key is in progress or its outcome is unknown; nothing was sent again",
        ))
    }

    /// The answer of an earlier request with this key, if it has one.
    pub async fn replay(&self, app: &App) -> ApiResult<Option<Answer>> {
        let Some(held) = app
            .store
            .idempotent_request(&self.account_sid, &self.key)
            .await?
        else {
            return Ok(None);
        };
        self.answer_of(app, &held)
    }

    fn answer_of(
        &self,
        app: &App,
        held: &tollgate_store::IdempotentRequestRecord,
    ) -> ApiResult<Option<Answer>> {
        match (&held.status[..], held.answer_status, &held.answer_sealed) {
            ("done", Some(status), Some(sealed)) if self.same_request(held) => {
                let body = app
                    .master_key()
                    .open(&self.aad(), sealed)
                    .map_err(|_| ApiError::internal())?;
                Ok(Some(Answer {
                    status: StatusCode::from_u16(u16::try_from(status).unwrap_or(500))
                        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                    body: body.to_vec(),
                }))
            }
            _ => self.settled_error(held),
        }
    }

    /// Claims the key before the request leaves Tollgate; a claim already
    /// there answers for it.
    pub async fn claim(&self, app: &App) -> ApiResult<Option<Answer>> {
        let claim = tollgate_store::IdempotentRequestRecord {
            account_sid: self.account_sid.clone(),
            idempotency_key: self.key.clone(),
            request_hash: self.request_hash.clone(),
            status: "pending".into(),
            answer_status: None,
            answer_sealed: None,
            date_created: app.clock.now().0,
        };
        match app.store.claim_idempotency(&claim).await? {
            None => Ok(None),
            Some(held) => self.answer_of(app, &held),
        }
    }

    /// Keeps Twilio's answer for the key; gives the key back when nothing
    /// was sent (99502); keeps it unsettled when the outcome is unknown.
    pub async fn settle(&self, app: &App, result: Result<&Answer, &ApiError>) {
        let outcome = match result {
            Ok(answer) => match app
                .master_key()
                .seal(&self.aad(), &answer.body, &mut OsRandom)
            {
                Ok(sealed) => {
                    app.store
                        .finish_idempotency(
                            &self.account_sid,
                            &self.key,
                            i64::from(answer.status.as_u16()),
                            &sealed,
                        )
                        .await
                }
                Err(_) => return,
            },
            Err(e) if e.spec.code == codes::UPSTREAM_UNREACHABLE.code => {
                app.store
                    .release_idempotency(&self.account_sid, &self.key)
                    .await
            }
            Err(_) => return,
        };
        if let Err(e) = outcome {
            tracing::error!(error = %e, "cannot settle an idempotency key");
        }
    }
}

/// The account's upstream account, or 99103.
pub fn upstream_of(app: &App, account: &str) -> ApiResult<Arc<UpstreamEntry>> {
    app.snapshot().upstreams.get(account).cloned().ok_or_else(|| {
        ApiError::new(
            &codes::NO_UPSTREAM_ACCOUNT,
            format!("Account {account} has no upstream Twilio account: POST /tollgate/v1/Accounts/{account}/Upstream"),
        )
    })
}

/// Sends a request to `path` of `domain` with the upstream account's key.
/// A connection that never opened is 99502 (nothing was sent); a request
/// that may have reached Twilio without an answer is 99504, never retried.
pub async fn send(
    app: &App,
    upstream: &UpstreamEntry,
    method: reqwest::Method,
    domain: &str,
    path: &str,
    body: Option<(&str, Vec<u8>)>,
) -> ApiResult<Answer> {
    let Some(client) = app.upstream.as_ref() else {
        return Err(ApiError::internal());
    };
    let now = app.clock.now().0;
    let allowed = client
        .breaker
        .lock()
        .map(|mut b| b.allows(now))
        .unwrap_or(true);
    if !allowed {
        return Err(ApiError::new(
            &codes::UPSTREAM_UNREACHABLE,
            "Twilio has not been reachable; requests are held back for a few seconds and nothing was sent",
        ));
    }
    let url = format!("{}{path}", client.settings.base_url(domain));
    let mut request = client.http.request(method, &url).basic_auth(
        &upstream.api_key_sid,
        Some(upstream.api_key_secret.as_str()),
    );
    if let Some((content_type, body)) = body {
        request = request.header("Content-Type", content_type).body(body);
    }
    let response = request.send().await.map_err(|e| {
        if let Ok(mut b) = client.breaker.lock() {
            if e.is_connect() {
                b.failed(now);
            } else {
                b.reached();
            }
        }
        if e.is_connect() {
            tracing::warn!(error = %e.without_url(), "upstream unreachable");
            ApiError::new(
                &codes::UPSTREAM_UNREACHABLE,
                "Twilio could not be reached; nothing was sent",
            )
        } else {
            tracing::error!(error = %e.without_url(), "upstream outcome unknown");
            ApiError::new(
                &codes::UPSTREAM_OUTCOME_UNKNOWN,
                "Twilio did not answer in time; the request may have taken effect and is not sent again",
            )
        }
    })?;
    let status =
        StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let body = response.bytes().await.map_err(|_| {
        ApiError::new(
            &codes::UPSTREAM_OUTCOME_UNKNOWN,
            "Twilio's answer was cut off; the request may have taken effect and is not sent again",
        )
    })?;
    Ok(Answer {
        status,
        body: map_identity(&body, &upstream.upstream_account_sid, &upstream.account_sid),
    })
}

/// A keyed hash of a message body: how a create whose answer was lost is
/// found again among Twilio's messages, without keeping the body.
fn body_key(app: &App, body: &str) -> String {
    hex::encode(tollgate_secrets::fingerprint(
        &app.master_key().derive("tollgate upstream intent body"),
        body.as_bytes(),
    ))
}

/// Sends a create to Twilio with its intent durable first. The caller
/// settles the intent with the record of a created resource; an answer
/// without one, or a request that never left (99502), settles it here; a
/// request without an answer (99504) leaves it to [`reconcile`].
async fn send_create(
    app: &App,
    upstream: &UpstreamEntry,
    path: &str,
    body: Vec<u8>,
    intent: UpstreamIntentRecord,
) -> ApiResult<Answer> {
    let local_sid = intent.local_sid.clone();
    app.writer.write(WriteOp::InsertIntent(intent)).await?;
    let result = send(
        app,
        upstream,
        reqwest::Method::POST,
        "api",
        path,
        Some(("application/x-www-form-urlencoded", body)),
    )
    .await;
    match &result {
        Ok(answer) if answer.status.is_success() => {}
        Err(e) if e.spec.code != codes::UPSTREAM_UNREACHABLE.code => {}
        _ => settle_intent(app, &local_sid).await,
    }
    result
}

async fn settle_intent(app: &App, local_sid: &str) {
    if let Err(e) = app
        .writer
        .write(WriteOp::DeleteIntent(local_sid.to_owned()))
        .await
    {
        tracing::error!(error = %e, "cannot settle a proxied create");
    }
}

/// The relay of a status callback to the application's own URL (sealed
/// with the resource's SID), to be written with the status: its delivery
/// SID is derived from the resource and `event` (a repeat queues nothing),
/// and it is due after the callbacks of earlier statuses (`rank`).
fn relay_to_application(
    app: &App,
    upstream: &UpstreamEntry,
    sid: &str,
    sealed_url: Option<&[u8]>,
    event: &str,
    rank: i64,
    params: &[(String, String)],
) -> Option<WriteOp> {
    let url = app.master_key().open_text(sid, sealed_url?).ok()?;
    let hook = crate::services::webhooks::NewWebhook {
        account_sid: &upstream.account_sid,
        url: &url,
        method: Method::Post,
        payload: Payload::Form(relayed_params(upstream, params)),
        ordering_key: Some(sid),
    };
    let delivery = crate::services::unsettled::callback_sid(app, sid, event);
    match crate::services::webhooks::prepare_as(app, hook, delivery) {
        Ok(mut record) => {
            record.next_attempt_at += rank;
            Some(WriteOp::EnqueueWebhook(record))
        }
        Err(e) => {
            tracing::warn!(%sid, code = e.spec.code, "status callback not relayed");
            None
        }
    }
}

/// Twilio's webhook parameters as the application gets them: every one, in
/// order, with the upstream account SID replaced by the Tollgate account's.
fn relayed_params(upstream: &UpstreamEntry, params: &[(String, String)]) -> Vec<(String, String)> {
    params
        .iter()
        .map(|(name, value)| {
            let value = if *value == upstream.upstream_account_sid {
                upstream.account_sid.clone()
            } else {
                value.clone()
            };
            (name.clone(), value)
        })
        .collect()
}

/// `body` with every `from` replaced by `to` (an account SID is 34
/// characters of a random space: it appears nowhere by chance).
pub fn map_identity(body: &[u8], from: &str, to: &str) -> Vec<u8> {
    match std::str::from_utf8(body) {
        Ok(text) => text.replace(from, to).into_bytes(),
        Err(_) => body.to_vec(),
    }
}

/// Forwards an admitted Messages create: every parameter as the
/// application sent it, except `StatusCallback`, which points at Tollgate
/// (the application's own is kept for the relay). Twilio's answer is the
/// application's answer; a created message is recorded under Twilio's SID.
pub async fn create_message(
    app: &App,
    params: &[(String, String)],
    mut record: MessageRecord,
    privacy: Privacy,
    app_callback: Option<&str>,
    idempotency_key: Option<&str>,
) -> ApiResult<(Answer, Option<MessageRecord>)> {
    let intent = UpstreamIntentRecord {
        local_sid: record.sid.clone(),
        account_sid: record.account_sid.clone(),
        kind: "message".into(),
        to_number: record.to_number.clone(),
        from_number: record.from_number.clone(),
        body_key: record.body.as_deref().map(|b| body_key(app, b)),
        idempotency_key: idempotency_key.map(str::to_owned),
        node: app.webhooks.settings.node_id.clone(),
        date_created: app.clock.now().0,
    };
    let local_sid = intent.local_sid.clone();
    let (answer, created) = forward_create(
        app,
        params,
        "Messages",
        MESSAGE_STATUS_PATH,
        intent,
        app_callback,
    )
    .await?;
    let Some(created) = created else {
        return Ok((answer, None));
    };
    created.apply(
        &mut record.sid,
        &mut record.status,
        &mut record.status_callback_sealed,
    );
    app.writer
        .write_all(vec![WriteOp::Group(vec![
            WriteOp::InsertMessage(stored_form(&record, privacy)),
            WriteOp::DeleteIntent(local_sid),
        ])])
        .await?;
    Ok((answer, Some(record)))
}

/// What Twilio created for a forwarded create.
struct Created {
    sid: String,
    status: Option<String>,
    /// The application's own `StatusCallback`, sealed under Twilio's SID.
    callback_sealed: Option<Vec<u8>>,
}

impl Created {
    fn apply(self, sid: &mut String, status: &mut String, callback: &mut Option<Vec<u8>>) {
        *sid = self.sid;
        if let Some(s) = self.status {
            *status = s;
        }
        *callback = self.callback_sealed;
    }
}

/// Forwards an admitted create to `list` (`Messages`, `Calls`) of the
/// upstream account: every parameter as the application sent it, except
/// `StatusCallback`, which points at Tollgate's `callback_path` (the
/// application's own is kept for the relay). The intent is durable first
/// ([`send_create`]); an answer without a SID settles it here. The caller
/// records what was created and settles the intent with it.
async fn forward_create(
    app: &App,
    params: &[(String, String)],
    list: &str,
    callback_path: &str,
    intent: UpstreamIntentRecord,
    app_callback: Option<&str>,
) -> ApiResult<(Answer, Option<Created>)> {
    let upstream = upstream_of(app, &intent.account_sid)?;
    let mut form: Vec<(String, String)> = params
        .iter()
        .filter(|(name, _)| name != "StatusCallback")
        .cloned()
        .collect();
    form.push((
        "StatusCallback".into(),
        format!("{}{callback_path}", app.public_url),
    ));
    let path = format!(
        "/2010-04-01/Accounts/{}/{list}.json",
        upstream.upstream_account_sid
    );
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&form)
        .finish()
        .into_bytes();
    let local_sid = intent.local_sid.clone();
    let answer = send_create(app, &upstream, &path, body, intent).await?;
    if !answer.status.is_success() {
        return Ok((answer, None));
    }
    let created: Value = serde_json::from_slice(&answer.body).unwrap_or_default();
    let Some(sid) = created.get("sid").and_then(Value::as_str) else {
        tracing::error!(%list, "Twilio created a resource without a SID");
        settle_intent(app, &local_sid).await;
        return Ok((answer, None));
    };
    let callback_sealed = app_callback
        .map(|url| {
            app.master_key()
                .seal(sid, url.as_bytes(), &mut OsRandom)
                .map_err(|_| ApiError::internal())
        })
        .transpose()?;
    let created = Created {
        sid: sid.to_owned(),
        status: created
            .get("status")
            .and_then(Value::as_str)
            .map(str::to_owned),
        callback_sealed,
    };
    Ok((answer, Some(created)))
}

/// What a status callback from Twilio did.
#[derive(Debug, PartialEq, Eq)]
pub enum StatusOutcome {
    /// The record moved on (and the callback was relayed, if asked for).
    Recorded,
    /// A status at or before the one recorded (callbacks arrive out of order).
    Stale,
    /// No such message in Tollgate.
    Unknown,
}

/// Applies a status callback Twilio sent for a proxied message of
/// `account` (its signature checked already): the record never moves back,
/// and the application's own `StatusCallback` gets the same parameters,
/// signed with its Tollgate token.
pub async fn message_status(
    app: &Arc<App>,
    upstream: &UpstreamEntry,
    params: &[(String, String)],
) -> ApiResult<StatusOutcome> {
    let get = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let (Some(sid), Some(status)) = (get("MessageSid"), get("MessageStatus")) else {
        return Err(ApiError::missing("MessageSid"));
    };
    let Some(mut message) = app.store.message(&upstream.account_sid, sid).await? else {
        return Ok(StatusOutcome::Unknown);
    };
    let rank = crate::services::unsettled::status_rank;
    if rank(status) <= rank(&message.status) {
        return Ok(StatusOutcome::Stale);
    }
    message.status = status.to_owned();
    message.date_updated = app.clock.now().0;
    if status == "sent" {
        message.date_sent = Some(message.date_updated);
    }
    if let Some(code) = get("ErrorCode").and_then(|c| c.parse().ok()) {
        message.error_code = Some(code);
    }
    let mut group: Vec<WriteOp> = relay_to_application(
        app,
        upstream,
        sid,
        message.status_callback_sealed.as_deref(),
        status,
        crate::services::unsettled::status_rank(status),
        params,
    )
    .into_iter()
    .collect();
    let relay = !group.is_empty();
    group.push(WriteOp::UpdateMessage(message.clone()));
    app.writer.write_all(vec![WriteOp::Group(group)]).await?;
    if relay {
        app.webhooks.wake_dispatcher();
    }
    if matches!(status, "delivered" | "undelivered" | "failed" | "read") {
        app.verify.receipt(
            sid,
            status == "delivered" || status == "read",
            app.clock.now().0,
        );
    }
    Ok(StatusOutcome::Recorded)
}

/// Where Twilio sends the texts to a proxied account's numbers (`SmsUrl`).
pub const INBOUND_SMS_PATH: &str = "/tollgate/v1/Upstream/Sms";

/// The empty TwiML reply: nothing more happens.
pub const EMPTY_TWIML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>";

/// A text Twilio received for a number of `upstream`'s account (its
/// signature checked already): screened by the inbound controls, recorded
/// under Twilio's SID, then relayed at once to the number's `SmsUrl` with
/// every parameter Twilio sent (the account SID mapped, the body as the
/// controls left it), signed with the account's Tollgate token. The
/// application's reply goes back to Twilio; a dropped text gets an empty
/// reply, so Twilio neither retries nor runs anything.
pub async fn inbound_sms(
    app: &Arc<App>,
    upstream: &UpstreamEntry,
    params: &[(String, String)],
    idempotency_token: Option<&str>,
) -> ApiResult<(String, Vec<u8>)> {
    let get = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let empty = || ("text/xml".to_owned(), EMPTY_TWIML.as_bytes().to_vec());
    let (Some(from), Some(to)) = (get("From"), get("To")) else {
        return Err(ApiError::missing("From"));
    };
    let body = get("Body").unwrap_or_default();
    let inbound = match crate::services::inbound::screen(app, from, to, body, get("MessageSid"))? {
        Ok(inbound) => inbound,
        Err(reason) => {
            tracing::info!(account = %upstream.account_sid, reason, "inbound text dropped");
            return Ok(empty());
        }
    };
    // The number must be this upstream account's tenant's own.
    if inbound.number.record.account_sid != upstream.account_sid {
        tracing::warn!(upstream = %upstream.upstream_account_sid, "inbound text for another tenant's number refused");
        return Ok(empty());
    }
    crate::services::inbound::record(app, &inbound).await?;
    let Some(url) = inbound.number.sms_url.clone() else {
        return Ok(empty());
    };
    let screened = inbound.record.body.clone().unwrap_or_default();
    let mut relayed = relayed_params(upstream, params);
    for (name, value) in &mut relayed {
        if name == "Body" {
            value.clone_from(&screened);
        }
    }
    let method = if inbound.number.record.sms_method == "GET" {
        Method::Get
    } else {
        Method::Post
    };
    let token = idempotency_token.unwrap_or(&inbound.record.sid);
    match crate::services::webhooks::call_now(
        app,
        &upstream.account_sid,
        &url,
        method,
        &Payload::Form(relayed),
        token,
    )
    .await
    {
        Ok(reply) if (200..300).contains(&reply.status) => {
            let own = inbound.record.to_number.clone();
            let body = screen_reply(
                app,
                &upstream.account_sid,
                &own,
                reply.body,
                tollgate_twiml::EMPTY,
            )
            .await;
            Ok((
                reply.content_type.unwrap_or_else(|| "text/xml".to_owned()),
                body,
            ))
        }
        Ok(reply) => {
            tracing::warn!(account = %upstream.account_sid, status = reply.status, "the application refused an inbound text");
            Ok(empty())
        }
        Err(e) => {
            tracing::warn!(account = %upstream.account_sid, error = %e, "inbound text not relayed");
            Ok(empty())
        }
    }
}

/// Where Twilio sends a proxied call's status callbacks.
pub const CALL_STATUS_PATH: &str = "/tollgate/v1/Upstream/CallStatus";

/// Forwards an admitted Calls create, as [`create_message`] does: every
/// parameter kept (`StatusCallbackEvent` stays repeated), `StatusCallback`
/// pointed at Tollgate; a created call is recorded under Twilio's SID
/// (`stored` is the form the row keeps).
pub async fn create_call(
    app: &App,
    params: &[(String, String)],
    mut record: CallRecord,
    stored: impl Fn(&CallRecord) -> CallRecord,
    app_callback: Option<&str>,
    idempotency_key: Option<&str>,
) -> ApiResult<(Answer, Option<CallRecord>)> {
    let intent = UpstreamIntentRecord {
        local_sid: record.sid.clone(),
        account_sid: record.account_sid.clone(),
        kind: "call".into(),
        to_number: record.to_number.clone(),
        from_number: record.from_number.clone(),
        body_key: None,
        idempotency_key: idempotency_key.map(str::to_owned),
        node: app.webhooks.settings.node_id.clone(),
        date_created: app.clock.now().0,
    };
    let local_sid = intent.local_sid.clone();
    let (answer, created) =
        forward_create(app, params, "Calls", CALL_STATUS_PATH, intent, app_callback).await?;
    let Some(created) = created else {
        return Ok((answer, None));
    };
    created.apply(
        &mut record.sid,
        &mut record.status,
        &mut record.status_callback_sealed,
    );
    app.writer
        .write_all(vec![WriteOp::Group(vec![
            WriteOp::InsertCall(stored(&record)),
            WriteOp::DeleteIntent(local_sid),
        ])])
        .await?;
    Ok((answer, Some(record)))
}

/// A call status's place in the call's life.
fn call_rank(status: &str) -> u8 {
    match status {
        "queued" | "initiated" => 0,
        "ringing" => 1,
        "in-progress" | "answered" => 2,
        _ => 3,
    }
}

/// Applies a status callback Twilio sent for a proxied call (its signature
/// checked already), as [`message_status`] does for messages.
pub async fn call_status(
    app: &Arc<App>,
    upstream: &UpstreamEntry,
    params: &[(String, String)],
) -> ApiResult<StatusOutcome> {
    let get = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let (Some(sid), Some(status)) = (get("CallSid"), get("CallStatus")) else {
        return Err(ApiError::missing("CallSid"));
    };
    let Some(mut call) = app.store.call(&upstream.account_sid, sid).await? else {
        return Ok(StatusOutcome::Unknown);
    };
    if call_rank(status) <= call_rank(&call.status) && status != call.status {
        return Ok(StatusOutcome::Stale);
    }
    let now = app.clock.now().0;
    let moved = status != call.status;
    call.status = status.to_owned();
    call.date_updated = now;
    if status == "in-progress" && call.start_time.is_none() {
        call.start_time = Some(now);
    }
    if let Some(duration) = get("CallDuration").and_then(|d| d.parse().ok()) {
        call.duration = Some(duration);
        call.end_time = Some(now);
    }
    let event = get("CallbackSource")
        .and(get("SequenceNumber"))
        .map_or_else(|| status.to_owned(), |n| format!("{status}-{n}"));
    let mut group: Vec<WriteOp> = relay_to_application(
        app,
        upstream,
        sid,
        call.status_callback_sealed.as_deref(),
        &event,
        i64::from(call_rank(status)),
        params,
    )
    .into_iter()
    .collect();
    if !moved && group.is_empty() {
        return Ok(StatusOutcome::Stale);
    }
    let relay = !group.is_empty();
    group.push(WriteOp::UpdateCall(call));
    app.writer.write_all(vec![WriteOp::Group(group)]).await?;
    if relay {
        app.webhooks.wake_dispatcher();
    }
    Ok(StatusOutcome::Recorded)
}

/// How long an `Idempotency-Key` holds its answer.
pub const IDEMPOTENCY_KEEP_MS: i64 = 24 * 3_600_000;

/// Runs proxy mode's background work until `stop`: settling creates whose
/// answer never came (every 5 s, and at once after a restart) and
/// forgetting idempotency keys older than [`IDEMPOTENCY_KEEP_MS`].
pub async fn run_background(app: Arc<App>, stop: impl std::future::Future<Output = ()>) {
    tokio::pin!(stop);
    let mut last_prune: Option<i64> = None;
    loop {
        reconcile(&app).await;
        let now = app.clock.now().0;
        if last_prune.is_none_or(|t| now.saturating_sub(t) >= 3_600_000) {
            last_prune = Some(now);
            match app.store.prune_idempotency(now - IDEMPOTENCY_KEEP_MS).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(keys = n, "old idempotency keys forgotten"),
                Err(e) => tracing::error!(error = %e, "cannot prune idempotency keys"),
            }
        }
        tokio::select! {
            () = &mut stop => return,
            () = tokio::time::sleep(std::time::Duration::from_secs(5)) => {}
        }
    }
}

/// Settles the creates this node sent without learning Twilio's answer (a
/// crash, a timeout), once they are older than the upstream timeout: each
/// is looked up at Twilio (by its numbers and, for a message, a keyed hash
/// of its body). Found: it is recorded under Twilio's SID and its
/// `Idempotency-Key` answers with it. Not found: Twilio never took it, and
/// its key is free again. Nothing is ever sent again from here.
pub async fn reconcile(app: &Arc<App>) {
    let Some(client) = app.upstream.as_ref() else {
        return;
    };
    let node = &app.webhooks.settings.node_id;
    let intents = match app.store.intents_of(node).await {
        Ok(intents) => intents,
        Err(e) => {
            tracing::error!(error = %e, "cannot read proxied creates");
            return;
        }
    };
    let settled_before =
        app.clock.now().0 - i64::try_from(client.settings.timeout_ms).unwrap_or(i64::MAX) - 1_000;
    for intent in intents
        .into_iter()
        .filter(|i| i.date_created < settled_before)
    {
        if let Err(e) = reconcile_one(app, &intent).await {
            tracing::warn!(error = %e.message, local = %intent.local_sid, "a proxied create is still unsettled");
        }
    }
}

async fn reconcile_one(app: &Arc<App>, intent: &UpstreamIntentRecord) -> ApiResult<()> {
    let Ok(upstream) = upstream_of(app, &intent.account_sid) else {
        settle_intent(app, &intent.local_sid).await;
        return Ok(());
    };
    let message = intent.kind == "message";
    let list = if message { "Messages" } else { "Calls" };
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("To", &intent.to_number)
        .append_pair("From", &intent.from_number)
        .append_pair("PageSize", "50")
        .finish();
    let path = format!(
        "/2010-04-01/Accounts/{}/{list}.json?{query}",
        upstream.upstream_account_sid
    );
    let answer = send(app, &upstream, reqwest::Method::GET, "api", &path, None).await?;
    if !answer.status.is_success() {
        return Err(ApiError::new(
            &codes::UPSTREAM_OUTCOME_UNKNOWN,
            format!("Twilio answered {} to the lookup", answer.status),
        ));
    }
    let page: Value = serde_json::from_slice(&answer.body).unwrap_or_default();
    let key = if message { "messages" } else { "calls" };
    let mut found = None;
    for resource in page
        .get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(sid) = resource.get("sid").and_then(Value::as_str) else {
            continue;
        };
        let same_body = !message
            || resource
                .get("body")
                .and_then(Value::as_str)
                .map(|b| body_key(app, b))
                == intent.body_key;
        let known = if message {
            app.store.message(&intent.account_sid, sid).await?.is_some()
        } else {
            app.store.call(&intent.account_sid, sid).await?.is_some()
        };
        if same_body && !known {
            found = Some(resource.clone());
            break;
        }
    }
    let claim = intent.idempotency_key.as_ref().map(|key| Idempotency {
        account_sid: intent.account_sid.clone(),
        key: key.clone(),
        request_hash: String::new(),
    });
    let Some(resource) = found else {
        tracing::info!(local = %intent.local_sid, "a proxied create never reached Twilio");
        if let Some(claim) = &claim {
            app.store
                .release_idempotency(&claim.account_sid, &claim.key)
                .await?;
        }
        settle_intent(app, &intent.local_sid).await;
        return Ok(());
    };
    let sid = resource
        .get("sid")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let status = resource
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or("queued")
        .to_owned();
    let now = app.clock.now().0;
    let record = if message {
        let settings = app.snapshot().settings_of(&intent.account_sid);
        let privacy = Privacy {
            numbers: settings.redact_phone_numbers,
            bodies: settings.redact_message_bodies,
        };
        let body = resource
            .get("body")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let segments = resource
            .get("num_segments")
            .and_then(Value::as_str)
            .and_then(|n| n.parse().ok())
            .unwrap_or(1);
        WriteOp::InsertMessage(stored_form(
            &MessageRecord {
                sid: sid.clone(),
                account_sid: intent.account_sid.clone(),
                messaging_service_sid: None,
                direction: "outbound-api".into(),
                from_number: intent.from_number.clone(),
                to_number: intent.to_number.clone(),
                body,
                status,
                num_segments: segments,
                price_micros: None,
                country: None,
                error_code: None,
                error_message: None,
                rule: None,
                status_callback_sealed: None,
                date_created: intent.date_created,
                date_updated: now,
                date_sent: None,
                carrier_node: None,
                resume_sealed: None,
            },
            privacy,
        ))
    } else {
        WriteOp::InsertCall(CallRecord {
            sid: sid.clone(),
            account_sid: intent.account_sid.clone(),
            direction: "outbound-api".into(),
            from_number: intent.from_number.clone(),
            to_number: intent.to_number.clone(),
            status,
            time_limit: 0,
            duration: None,
            start_time: None,
            end_time: None,
            price_micros: None,
            country: None,
            error_code: None,
            rule: None,
            status_callback_sealed: None,
            date_created: intent.date_created,
            date_updated: now,
            carrier_node: None,
            resume_sealed: None,
        })
    };
    app.writer
        .write_all(vec![WriteOp::Group(vec![
            record,
            WriteOp::DeleteIntent(intent.local_sid.clone()),
        ])])
        .await?;
    if let Some(claim) = &claim {
        let body = map_identity(
            &serde_json::to_vec(&resource).unwrap_or_default(),
            &upstream.upstream_account_sid,
            &upstream.account_sid,
        );
        claim
            .settle(
                app,
                Ok(&Answer {
                    status: StatusCode::CREATED,
                    body,
                }),
            )
            .await;
    }
    tracing::info!(local = %intent.local_sid, %sid, "a proxied create whose answer was lost is recorded");
    Ok(())
}

/// Where Twilio sends the calls to a proxied account's numbers (`VoiceUrl`).
pub const INBOUND_VOICE_PATH: &str = "/tollgate/v1/Upstream/Voice";

/// Inbound calls one caller may make to an account per minute.
pub const CALLS_PER_CALLER_PER_MINUTE: u32 = 5;
/// Inbound calls from one caller range (the number without its last four
/// digits) per minute: a pumping or TDoS burst from neighbouring numbers.
pub const CALLS_PER_RANGE_PER_MINUTE: u32 = 20;
/// Inbound calls to one number of the account per minute.
pub const CALLS_PER_NUMBER_PER_MINUTE: u32 = 60;

/// Screens what an application's TwiML reply would start: every number it
/// dials or texts passes the admission pipeline (geo permissions, risk
/// tiers, velocity, spend, Fraud Guard) as an API send from `own` would.
/// A refusal, or a reply that cannot be read, gives `safe` instead: the
/// whole reply is dropped, audited and alerted.
pub async fn screen_reply(
    app: &Arc<App>,
    account_sid: &str,
    own: &str,
    reply: Vec<u8>,
    safe: &'static str,
) -> Vec<u8> {
    let refuse = |why: &str| {
        tracing::warn!(account = %account_sid, %why, "TwiML reply refused");
        crate::services::alerts::record(
            app,
            account_sid,
            codes::TWIML_REPLY_REFUSED.code,
            "warning",
            &format!("TwiML reply refused: {why}"),
            None,
            None,
            None,
        );
        safe.as_bytes().to_vec()
    };
    let text = String::from_utf8_lossy(&reply);
    let found = match tollgate_twiml::destinations(&text) {
        Ok(found) => found,
        Err(e) => return refuse(&e.to_string()),
    };
    let snapshot = app.snapshot();
    let Some(account) = snapshot.accounts.get(account_sid).cloned() else {
        return refuse("no such account");
    };
    for d in found
        .iter()
        .filter(|d| d.kind == tollgate_twiml::Kind::Number)
    {
        let from = d.from.as_deref().unwrap_or(own);
        let number = app.classifier.classify(&d.target, None);
        let voice = d.verb == tollgate_twiml::Verb::Dial;
        let request = tollgate_admission::SendRequest {
            edge: if voice {
                tollgate_admission::Edge::Calls
            } else {
                tollgate_admission::Edge::Messages
            },
            channel: if voice {
                tollgate_policy::Channel::Voice
            } else {
                tollgate_policy::Channel::Sms
            },
            account: &account.sid,
            account_active: account.status == tollgate_types::AccountStatus::Active,
            from: tollgate_admission::Sender::Number(from),
            to: &d.target,
            number: &number,
            body: None,
            units: 1,
            ip: None,
            guard: None,
            now_ms: app.clock.now().0,
        };
        if let Err(refusal) = crate::services::admission::admit(
            app,
            &snapshot,
            &account,
            tollgate_detect::Mode::Off,
            &request,
        )
        .await
        {
            return refuse(&format!(
                "{} to {} refused by {} ({}): {}",
                if voice { "<Dial>" } else { "<Message>" },
                crate::privacy::mask_number(&d.target),
                refusal.rule,
                refusal.spec.code,
                refusal.message
            ));
        }
    }
    reply
}

/// A call Twilio received for a number of `upstream`'s account (signature
/// checked already): the inbound controls (lockdown, blocklist, limits per
/// caller, caller range and called number) answer `<Reject/>` without
/// waking the application, audited and alerted; otherwise the call goes to
/// the number's `VoiceUrl`, signed with the Tollgate token, and the TwiML
/// it answers is screened before it goes back to Twilio.
pub async fn inbound_call(
    app: &Arc<App>,
    upstream: &UpstreamEntry,
    params: &[(String, String)],
    idempotency_token: Option<&str>,
) -> ApiResult<Vec<u8>> {
    let get = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let reject = || tollgate_twiml::REJECT.as_bytes().to_vec();
    let (Some(from), Some(to)) = (get("From"), get("To")) else {
        return Err(ApiError::missing("From"));
    };
    let to_e164 = app
        .classifier
        .classify(to, None)
        .e164
        .unwrap_or_else(|| to.to_owned());
    let snapshot = app.snapshot();
    let Some(number) = snapshot.numbers.get(&to_e164).cloned() else {
        return Ok(reject());
    };
    let account = upstream.account_sid.as_str();
    if number.record.account_sid != account {
        tracing::warn!(upstream = %upstream.upstream_account_sid, "inbound call for another tenant's number refused");
        return Ok(reject());
    }
    let from_e164 = app
        .classifier
        .classify(from, None)
        .e164
        .unwrap_or_else(|| from.to_owned());
    let now = app.clock.now().0;
    let settings = snapshot.settings_of(account);
    let range: String = from_e164
        .chars()
        .take(from_e164.chars().count().saturating_sub(4))
        .collect();
    let refused = if settings.inbound_blocked {
        Some("inbound.lockdown")
    } else if snapshot.blocked(account, &from_e164, now).is_some() {
        Some("inbound.blocklisted_caller")
    } else if !app.traffic.inbound_allowed(
        account,
        &format!("voice-caller|{from_e164}"),
        CALLS_PER_CALLER_PER_MINUTE,
        now,
    ) {
        Some("inbound.caller_flood")
    } else if !app.traffic.inbound_allowed(
        account,
        &format!("voice-range|{range}"),
        CALLS_PER_RANGE_PER_MINUTE,
        now,
    ) {
        Some("inbound.caller_range_flood")
    } else if !app.traffic.inbound_allowed(
        account,
        &format!("voice-called|{to_e164}"),
        CALLS_PER_NUMBER_PER_MINUTE,
        now,
    ) {
        Some("inbound.called_number_flood")
    } else {
        None
    };
    if let Some(rule) = refused {
        app.traffic.count_dropped(account, rule.ends_with("flood"));
        app.audit.blocked(account, rule);
        crate::services::alerts::record(
            app,
            account,
            codes::INBOUND_CALL_REJECTED.code,
            "warning",
            &format!(
                "inbound call from {} rejected: {rule}",
                crate::privacy::mask_number(&from_e164)
            ),
            None,
            None,
            get("CallSid"),
        );
        tracing::info!(%account, rule, "inbound call rejected");
        return Ok(reject());
    }
    let Some(url) = number.voice_url.clone() else {
        return Ok(reject());
    };
    let relayed = relayed_params(upstream, params);
    let method = if number.record.voice_method == "GET" {
        Method::Get
    } else {
        Method::Post
    };
    let token = idempotency_token.or(get("CallSid")).unwrap_or_default();
    match crate::services::webhooks::call_now(
        app,
        account,
        &url,
        method,
        &Payload::Form(relayed),
        token,
    )
    .await
    {
        Ok(reply) if (200..300).contains(&reply.status) => {
            Ok(screen_reply(app, account, &to_e164, reply.body, tollgate_twiml::REJECT).await)
        }
        Ok(reply) => {
            tracing::warn!(%account, status = reply.status, "the application refused an inbound call");
            Ok(reject())
        }
        Err(e) => {
            tracing::warn!(%account, error = %e, "inbound call not relayed");
            Ok(reject())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The routes spell these paths out (the conformance test reads them).
    #[test]
    fn webhook_paths_match_the_routes() {
        let routes = include_str!("../http/routes.rs");
        for path in [
            MESSAGE_STATUS_PATH,
            CALL_STATUS_PATH,
            INBOUND_SMS_PATH,
            INBOUND_VOICE_PATH,
        ] {
            assert!(routes.contains(&format!("\"{path}\"")), "{path}");
        }
    }

    #[test]
    fn identities_are_mapped_everywhere_in_an_answer() {
        let body = br#"{"account_sid":"ACup","uri":"/2010-04-01/Accounts/ACup/Messages/SM1.json"}"#;
        assert_eq!(
            map_identity(body, "ACup", "ACtg"),
            br#"{"account_sid":"ACtg","uri":"/2010-04-01/Accounts/ACtg/Messages/SM1.json"}"#
        );
    }
}
