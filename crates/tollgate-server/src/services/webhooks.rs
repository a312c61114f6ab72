//! Webhook delivery: a durable queue in the store, drained by a dispatcher
//! task that signs each request with the account's primary auth token at
//! sending time, refuses private destinations (SSRF) unless allowed, answers
//! Basic/Digest challenges with the URL's credentials, and retries with
//! backoff. Several nodes may share one queue: each delivery is leased.

use std::error::Error as StdError;
use std::sync::Arc;
use std::time::Duration;

use tollgate_secrets::RandomSource;
use tollgate_store::{DeliveryStatus, WebhookRecord};
use tollgate_types::error_code as codes;
use tollgate_types::{SidPrefix, Timestamp};
use tollgate_webhook::address::{forbidden_reason, refused};
use tollgate_webhook::digest::{
    Challenge, basic_authorization, digest_authorization, parse_challenges,
};
use tollgate_webhook::overrides::Overrides;
use tollgate_webhook::request::{
    FORM_CONTENT_TYPE, JSON_CONTENT_TYPE, Method, Payload, SignedRequest, Target, build,
};
use tollgate_webhook::retry::{Next, Outcome};

use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::random::{OsRandom, new_sid};
use crate::state::webhook_client::{Blocked, CONCURRENCY, WebhookSettings};

/// Due deliveries read per pass.
const BATCH: u32 = 32;
/// How long a node holds a delivery it is sending.
const LEASE_MS: i64 = 120_000;
/// The longest the dispatcher sleeps without looking (other nodes may enqueue).
const IDLE_POLL_MS: i64 = 1_000;

/// What to deliver, as the API or a feature asks for it.
pub struct NewWebhook<'a> {
    pub account_sid: &'a str,
    pub url: &'a str,
    pub method: Method,
    pub payload: Payload,
    /// Deliveries with the same key are sent one at a time, in the order
    /// they are due (a message's or call's status callbacks).
    pub ordering_key: Option<&'a str>,
}

/// Queues a webhook durably; the dispatcher sends it. The URL is checked
/// here, so a bad one is the caller's error and not a failed delivery.
pub async fn enqueue(app: &App, hook: NewWebhook<'_>) -> ApiResult<WebhookRecord> {
    let record = prepare(app, hook)?;
    let limit = app.webhooks.settings.queue_limit;
    if !app.store.enqueue_webhook(&record, limit).await? {
        tracing::warn!(limit, "webhook queue full; a webhook was refused");
        return Err(ApiError::new(
            &codes::WEBHOOK_QUEUE_FULL,
            format!("The webhook queue is full ({limit} pending deliveries)"),
        ));
    }
    app.webhooks.wake_dispatcher();
    Ok(record)
}

/// A sealed webhook URL as shown in API answers: opened, with any password
/// hidden. `None` if it cannot be opened.
pub fn shown_url(app: &App, aad: &str, sealed: &[u8]) -> Option<String> {
    let url = app.master_key().open_text(aad, sealed).ok()?;
    Some(
        Target::parse(&url)
            .map(|t| t.redacted())
            .unwrap_or_else(|_| url.to_string()),
    )
}

/// The delivery record for `hook`, sealed, not yet stored (for writes that
/// must queue it in their own transaction).
pub fn prepare(app: &App, hook: NewWebhook<'_>) -> ApiResult<WebhookRecord> {
    prepare_as(app, hook, new_sid(SidPrefix::WebhookDelivery).to_string())
}

/// [`prepare`] with the delivery SID given (one derived from what it
/// reports, so writing it twice queues it once).
pub fn prepare_as(app: &App, hook: NewWebhook<'_>, sid: String) -> ApiResult<WebhookRecord> {
    let target = Target::parse(hook.url).map_err(|e| ApiError::invalid("Url", &e.to_string()))?;
    let url_sealed = app
        .master_key()
        .seal(&sid, hook.url.as_bytes(), &mut OsRandom)
        .map_err(|_| ApiError::internal())?;
    let (content_type, body) = match &hook.payload {
        Payload::Form(params) => (
            FORM_CONTENT_TYPE,
            form_urlencoded::Serializer::new(String::new())
                .extend_pairs(params)
                .finish()
                .into_bytes(),
        ),
        Payload::Json(json) => (JSON_CONTENT_TYPE, json.clone().into_bytes()),
    };
    // Webhook bodies carry message bodies and phone numbers: sealed at rest.
    let body = app
        .master_key()
        .seal(&body_aad(&sid), &body, &mut OsRandom)
        .map_err(|_| ApiError::internal())?;
    let now = app.clock.now().0;
    let record = WebhookRecord {
        sid,
        account_sid: hook.account_sid.to_owned(),
        url_sealed,
        url_redacted: target.redacted(),
        method: hook.method.as_str().to_owned(),
        content_type: content_type.to_owned(),
        body,
        status: DeliveryStatus::Queued,
        attempts: 0,
        next_attempt_at: now,
        lease_until: None,
        last_response_code: None,
        last_error: None,
        date_created: now,
        date_updated: now,
        ordering_key: hook.ordering_key.map(str::to_owned),
    };
    Ok(record)
}

/// The associated data a delivery's body is sealed with.
fn body_aad(sid: &str) -> String {
    format!("{sid}:body")
}

/// Drains the queue until `shutdown` resolves. Deliveries in flight finish.
pub async fn run_dispatcher(app: Arc<App>, shutdown: impl std::future::Future<Output = ()>) {
    tokio::pin!(shutdown);
    let node = app.webhooks.settings.node_id.clone();
    // Deliveries this node leased before it stopped are not in flight now.
    match app.store.release_webhook_leases(&node).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(count = n, "took back webhook leases held before a restart"),
        Err(e) => tracing::error!(error = %e, "cannot release this node's webhook leases"),
    }
    loop {
        let now = app.clock.now().0;
        let mut full_batch = false;
        match app.store.due_webhooks(now, BATCH).await {
            Ok(due) => {
                full_batch = due.len() == BATCH as usize;
                for record in due {
                    // One delivery per ordering key at a time: a later status
                    // callback waits for the earlier one's attempt.
                    let key = record.ordering_key.clone();
                    if let Some(key) = &key
                        && !app.webhooks.begin_ordered(key)
                    {
                        continue;
                    }
                    let Ok(permit) = app.webhooks.permits.clone().acquire_owned().await else {
                        return;
                    };
                    match app
                        .store
                        .lease_webhook(&record.sid, now, now + LEASE_MS, &node)
                        .await
                    {
                        Ok(true) => {
                            let app = app.clone();
                            tokio::spawn(async move {
                                deliver(&app, record).await;
                                drop(permit);
                                if let Some(key) = &key {
                                    app.webhooks.end_ordered(key);
                                }
                            });
                        }
                        Ok(false) => {
                            if let Some(key) = &key {
                                app.webhooks.end_ordered(key);
                            }
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "cannot lease a webhook");
                            if let Some(key) = &key {
                                app.webhooks.end_ordered(key);
                            }
                        }
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot read the webhook queue"),
        }
        let wait_ms = if full_batch {
            0
        } else {
            match app.store.next_webhook_due().await {
                Ok(Some(due)) => (due - app.clock.now().0).clamp(0, IDLE_POLL_MS),
                _ => IDLE_POLL_MS,
            }
        };
        let wait = Duration::from_millis(u64::try_from(wait_ms).unwrap_or(0));
        tokio::select! {
            _ = &mut shutdown => break,
            _ = app.webhooks.wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
    // Let deliveries in flight record their outcome.
    let _ = app
        .webhooks
        .permits
        .acquire_many(u32::try_from(CONCURRENCY).unwrap_or(1))
        .await;
}

/// One attempt, then its outcome recorded.
async fn deliver(app: &Arc<App>, mut record: WebhookRecord) {
    let attempt = u32::try_from(record.attempts).unwrap_or(0) + 1;
    let target = app
        .master_key()
        .open_text(&record.sid, &record.url_sealed)
        .map_err(|_| "the stored URL cannot be opened".to_owned())
        .and_then(|url| Target::parse(&url).map_err(|e| e.to_string()));
    let (outcome, overrides) = match target {
        Ok(target) => (attempt_once(app, &record, &target).await, target.overrides),
        Err(why) => (Outcome::Refused(why), Overrides::default()),
    };
    let now = app.clock.now().0;
    let next = app
        .webhooks
        .settings
        .retry
        .decide_with(attempt, &outcome, now, &overrides);
    record.attempts = i32::try_from(attempt).unwrap_or(i32::MAX);
    record.last_response_code = match outcome {
        Outcome::Status(code) => Some(i32::from(code)),
        _ => None,
    };
    record.date_updated = now;
    match &next {
        Next::Delivered => {
            record.status = DeliveryStatus::Delivered;
            record.last_error = None;
        }
        Next::RetryAt { at_ms, reason } => {
            record.status = DeliveryStatus::Queued;
            record.next_attempt_at = *at_ms;
            record.last_error = Some(reason.clone());
        }
        Next::GiveUp { reason } => {
            record.status = DeliveryStatus::Failed;
            record.last_error = Some(reason.clone());
        }
    }
    if matches!(next, Next::GiveUp { .. }) {
        // 11200: HTTP retrieval failure (Twilio's code for webhooks that fail).
        crate::services::alerts::record(
            app,
            &record.account_sid,
            11200,
            "error",
            &format!(
                "Webhook to {} failed after {attempt} attempt(s): {}",
                record.url_redacted,
                record.last_error.as_deref().unwrap_or("")
            ),
            Some(record.method.as_str()),
            None,
            Some(&record.sid),
        );
    }
    tracing::info!(
        sid = %record.sid,
        url = %record.url_redacted,
        attempt,
        status = record.status.as_str(),
        response = ?record.last_response_code,
        error = record.last_error.as_deref().unwrap_or(""),
        "webhook attempt"
    );
    if let Err(e) = app.store.record_webhook_attempt(&record).await {
        tracing::error!(error = %e, sid = %record.sid, "cannot record a webhook attempt");
    }
}

async fn attempt_once(app: &App, record: &WebhookRecord, target: &Target) -> Outcome {
    let method = Method::parse(&record.method).unwrap_or(Method::Post);
    let Ok(body) = app.master_key().open(&body_aad(&record.sid), &record.body) else {
        return Outcome::Refused("the stored body cannot be opened".into());
    };
    let payload = if record.content_type == JSON_CONTENT_TYPE {
        Payload::Json(String::from_utf8_lossy(&body).into_owned())
    } else {
        Payload::Form(form_urlencoded::parse(&body).into_owned().collect())
    };
    match exchange(
        app,
        &record.account_sid,
        target,
        method,
        &payload,
        &record.sid,
    )
    .await
    {
        Ok(response) => Outcome::Status(response.status().as_u16()),
        Err(outcome) => outcome,
    }
}

/// One signed request to `target` for `account_sid`, with the SSRF guard
/// and Twilio's answer to a credentials challenge.
async fn exchange(
    app: &App,
    account_sid: &str,
    target: &Target,
    method: Method,
    payload: &Payload,
    idempotency_token: &str,
) -> Result<reqwest::Response, Outcome> {
    let Some(account) = app.snapshot().accounts.get(account_sid).cloned() else {
        return Err(Outcome::Refused("the account no longer exists".into()));
    };
    if !app.webhooks.settings.allow_private
        && let Some(reason) = refused_destination(&app.webhooks.settings, target).await
    {
        return Err(Outcome::Refused(reason));
    }
    let request = build(
        target,
        method,
        payload,
        &account.primary_token,
        idempotency_token,
    );
    let client = &app.webhooks.client_for(target.overrides.connect_timeout_ms);
    // The operator's webhook_timeout_ms still bounds an attempt.
    let timeout = target
        .overrides
        .attempt_timeout_ms()
        .map(|ms| Duration::from_millis(ms.min(app.webhooks.settings.timeout_ms)));
    let first = send(client, &request, None, timeout).await?;
    // Twilio's way with URL credentials: ask without, answer the challenge.
    if first.status().as_u16() == 401
        && let Some(credentials) = &target.credentials
    {
        let challenge = first
            .headers()
            .get_all(reqwest::header::WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(parse_challenges);
        let authorization = match challenge {
            Some(Challenge::Digest(d)) => {
                let mut cnonce = [0u8; 16];
                OsRandom.fill(&mut cnonce);
                digest_authorization(
                    &d,
                    &credentials.user,
                    &credentials.password,
                    request.method.as_str(),
                    request_uri(&request.url),
                    &hex::encode(cnonce),
                )
            }
            Some(Challenge::Basic) | None => {
                basic_authorization(&credentials.user, &credentials.password)
            }
        };
        return send(client, &request, Some(authorization), timeout).await;
    }
    Ok(first)
}

/// The most of an application's reply that a synchronous relay reads.
const MAX_REPLY_BYTES: usize = 64 * 1024;

/// An application's answer to a relayed webhook.
pub struct Reply {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// Sends a webhook now and waits for the application's answer (a TwiML
/// reply), signed with the account's Tollgate token, through the same
/// guard as every webhook; not queued, not retried (Twilio does not retry
/// these either).
pub async fn call_now(
    app: &App,
    account_sid: &str,
    url: &str,
    method: Method,
    payload: &Payload,
    idempotency_token: &str,
) -> Result<Reply, String> {
    let target = Target::parse(url).map_err(|e| e.to_string())?;
    let response = exchange(
        app,
        account_sid,
        &target,
        method,
        payload,
        idempotency_token,
    )
    .await
    .map_err(|outcome| format!("{outcome:?}"))?;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut body = Vec::new();
    let mut response = response;
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| e.without_url().to_string())?
    {
        if body.len() + chunk.len() > MAX_REPLY_BYTES {
            return Err(format!("the reply is longer than {MAX_REPLY_BYTES} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Reply {
        status,
        content_type,
        body,
    })
}

fn request_uri(url: &str) -> &str {
    let rest = url.split_once("://").map_or("", |(_, r)| r);
    rest.find('/').and_then(|i| rest.get(i..)).unwrap_or("/")
}

async fn send(
    client: &reqwest::Client,
    request: &SignedRequest,
    authorization: Option<String>,
    timeout: Option<Duration>,
) -> Result<reqwest::Response, Outcome> {
    let method = match request.method {
        Method::Get => reqwest::Method::GET,
        Method::Post => reqwest::Method::POST,
    };
    let mut builder = client.request(method, &request.url);
    for (name, value) in &request.headers {
        builder = builder.header(*name, value);
    }
    if let Some(value) = authorization {
        builder = builder.header(reqwest::header::AUTHORIZATION, value);
    }
    if request.method == Method::Post {
        builder = builder.body(request.body.clone());
    }
    if let Some(timeout) = timeout {
        builder = builder.timeout(timeout);
    }
    builder.send().await.map_err(classify)
}

/// A transport error as an outcome: refused by our resolver, or unreachable.
fn classify(error: reqwest::Error) -> Outcome {
    let mut source: Option<&(dyn StdError + 'static)> = error.source();
    while let Some(e) = source {
        if let Some(blocked) = e.downcast_ref::<Blocked>() {
            return Outcome::Refused(blocked.to_string());
        }
        source = e.source();
    }
    let error = error.without_url();
    if error.is_connect() {
        let kind = if error.is_timeout() {
            "connect timed out"
        } else {
            "connection failed"
        };
        return Outcome::Unreachable(format!("{kind}: {error}"));
    }
    let kind = if error.is_timeout() {
        "no answer in time"
    } else {
        "request failed"
    };
    Outcome::NoAnswer(format!("{kind}: {error}"))
}

/// Why `target` may not be reached, checked before sending on the host as
/// the client reads it: addresses and `localhost` always; names too when a
/// proxy resolves them for us (else the guarded resolver checks them).
async fn refused_destination(settings: &WebhookSettings, target: &Target) -> Option<String> {
    if let Some(reason) = refused(&target.destination) {
        return Some(reason);
    }
    if settings.proxy.is_some() {
        match tokio::net::lookup_host((target.host.as_str(), target.port)).await {
            Ok(addrs) => {
                for addr in addrs {
                    if let Some(r) = forbidden_reason(addr.ip()) {
                        return Some(format!(
                            "destination refused: {} resolves to {}, a {r}",
                            target.host,
                            addr.ip()
                        ));
                    }
                }
            }
            Err(e) => return Some(format!("cannot resolve {}: {e}", target.host)),
        }
    }
    None
}

/// A delivery as the API shows it (v1 style, ISO 8601 dates).
pub fn render(app: &App, record: &WebhookRecord) -> serde_json::Value {
    serde_json::json!({
        "sid": record.sid,
        "account_sid": record.account_sid,
        "webhook_url": record.url_redacted,
        "method": record.method,
        "content_type": record.content_type,
        "status": record.status.as_str(),
        "attempts": record.attempts,
        "next_attempt": match record.status {
            DeliveryStatus::Queued => Some(Timestamp(record.next_attempt_at).iso8601()),
            _ => None,
        },
        "response_code": record.last_response_code,
        "error": record.last_error,
        "date_created": Timestamp(record.date_created).iso8601(),
        "date_updated": Timestamp(record.date_updated).iso8601(),
        "url": format!(
            "{}/tollgate/v1/Accounts/{}/Webhooks/{}",
            app.public_url, record.account_sid, record.sid
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::webhook_client::client;
    use tokio::io::AsyncReadExt;

    /// The last line of defence: whatever the URL says and whatever the
    /// pre-send check missed, a connection whose peer is forbidden is dropped
    /// before the request is written.
    #[tokio::test]
    async fn the_client_drops_connections_to_forbidden_peers_before_writing() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = received.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let seen = seen.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 64];
                    if let Ok(n) = socket.read(&mut buf).await {
                        seen.fetch_add(n, std::sync::atomic::Ordering::SeqCst);
                    }
                });
            }
        });
        let client = client(&WebhookSettings::default(), 2000).unwrap();
        for url in [
            format!("http://127.0.0.1:{port}/"),
            format!("http://127.1:{port}/"),
            format!("http://0x7f000001:{port}/x"),
            format!("http://localhost:{port}/"),
        ] {
            let err = client.post(&url).body("x").send().await.unwrap_err();
            assert!(
                matches!(classify(err), Outcome::Refused(ref why) if why.contains("refused")),
                "{url}"
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(received.load(std::sync::atomic::Ordering::SeqCst), 0);
        // With private delivery allowed the same client settings connect.
        let open = WebhookSettings {
            allow_private: true,
            ..WebhookSettings::default()
        };
        let _ = client_for_test(&open)
            .post(format!("http://127.1:{port}/"))
            .body("x")
            .timeout(Duration::from_millis(300))
            .send()
            .await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(received.load(std::sync::atomic::Ordering::SeqCst) > 0);
    }

    fn client_for_test(settings: &WebhookSettings) -> reqwest::Client {
        client(settings, 2000).unwrap()
    }
}
