//! Inbound messages: recorded (billed as `sms-inbound`) and relayed to the
//! number's `SmsUrl` as a signed webhook.

use std::sync::Arc;

use tollgate_policy::content::{segments, strip_links, strip_phone_numbers};
use tollgate_store::{MessageRecord, WriteOp};
use tollgate_types::SidPrefix;
use tollgate_webhook::request::{Method, Payload};

use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::random::new_ordered_sid;
use crate::services::webhooks::{NewWebhook, enqueue};
use crate::state::snapshot::NumberEntry;

/// What became of an inbound text.
pub enum Received {
    Relayed(Box<MessageRecord>),
    /// Dropped before anything was stored or forwarded.
    Dropped {
        reason: &'static str,
    },
}

/// An inbound text that passed the controls, not yet recorded.
pub struct Inbound {
    pub number: Arc<NumberEntry>,
    /// The record as it will be stored in full (`privacy` says what is redacted).
    pub record: MessageRecord,
    pub privacy: crate::privacy::Privacy,
    pub from_country: String,
    pub to_country: String,
}

/// Runs the inbound controls on a text from `from` to the account number
/// `to`: lockdown, the blocklist, flood limits, then link and number
/// stripping. `sid` is the message's SID (Twilio's, in proxy mode).
pub fn screen(
    app: &App,
    from: &str,
    to: &str,
    body: &str,
    sid: Option<&str>,
) -> ApiResult<Result<Inbound, &'static str>> {
    let to_info = app.classifier.classify(to, None);
    let to_e164 = to_info.e164.clone().unwrap_or_else(|| to.to_owned());
    let snapshot = app.snapshot();
    let number = snapshot
        .numbers
        .get(&to_e164)
        .cloned()
        .ok_or_else(|| ApiError::not_found(&format!("/IncomingPhoneNumbers/{to_e164}")))?;
    let from_info = app.classifier.classify(from, None);
    let from_e164 = from_info.e164.clone().unwrap_or_else(|| from.to_owned());
    let settings = snapshot.settings_of(&number.record.account_sid);
    let account_sid = number.record.account_sid.as_str();
    let now = app.clock.now().0;
    // A locked-down account takes nothing in.
    if settings.inbound_blocked {
        app.traffic.count_dropped(account_sid, false);
        app.audit.blocked(account_sid, "inbound.lockdown");
        tracing::info!(
            account = account_sid,
            "inbound text dropped: account in lockdown"
        );
        return Ok(Err("lockdown"));
    }
    // Inbound flood control: blocklisted senders and floods are dropped,
    // counted, never stored or forwarded.
    if snapshot.blocked(account_sid, &from_e164, now).is_some() {
        app.traffic.count_dropped(account_sid, false);
        app.audit.blocked(account_sid, "inbound.blocklisted_sender");
        tracing::info!(
            account = account_sid,
            "inbound text dropped: blocklisted sender"
        );
        return Ok(Err("blocklist"));
    }
    let per_minute = settings
        .inbound_rate_per_minute
        .unwrap_or(crate::state::account_settings::DEFAULT_INBOUND_PER_MINUTE);
    if !app
        .traffic
        .inbound_allowed(account_sid, &from_e164, per_minute, now)
    {
        app.traffic.count_dropped(account_sid, true);
        app.audit.blocked(account_sid, "inbound.sender_flood");
        tracing::info!(account = account_sid, "inbound text dropped: sender flood");
        return Ok(Err("flood"));
    }
    // Phishing controls: what the application sees has no links or numbers.
    let mut body = body.to_owned();
    if settings.strip_inbound_links {
        body = strip_links(&body);
    }
    if settings.strip_inbound_phone_numbers {
        body = strip_phone_numbers(&body);
    }
    let body = body.as_str();
    let seg = segments(body);
    let country = to_info.country.unwrap_or("").to_owned();
    let price = app.traffic.prices.get(&country).sms_inbound * i64::from(seg.count);
    let record = MessageRecord {
        sid: sid.map_or_else(
            || new_ordered_sid(SidPrefix::Message, now).to_string(),
            str::to_owned,
        ),
        account_sid: number.record.account_sid.clone(),
        messaging_service_sid: None,
        direction: "inbound".into(),
        from_number: from_e164.clone(),
        to_number: to_e164.clone(),
        body: Some(body.to_owned()),
        status: "received".into(),
        num_segments: i32::try_from(seg.count).unwrap_or(i32::MAX),
        price_micros: Some(price),
        country: Some(country),
        error_code: None,
        error_message: None,
        rule: None,
        status_callback_sealed: None,
        date_created: now,
        date_updated: now,
        date_sent: Some(now),
        carrier_node: None,
        resume_sealed: None,
    };
    let privacy = crate::privacy::Privacy {
        numbers: settings.redact_phone_numbers,
        bodies: settings.redact_message_bodies,
    };
    Ok(Ok(Inbound {
        number,
        record,
        privacy,
        from_country: from_info.country.unwrap_or("").to_owned(),
        to_country: to_info.country.unwrap_or("").to_owned(),
    }))
}

/// Records an inbound text that passed the controls: stored (redacted as
/// the account asks), billed, its sender known to the account.
pub async fn record(app: &Arc<App>, inbound: &Inbound) -> ApiResult<MessageRecord> {
    let record = &inbound.record;
    let now = record.date_created;
    let price = record.price_micros.unwrap_or(0);
    let stored = crate::privacy::stored_form(record, inbound.privacy);
    app.writer
        .write(WriteOp::InsertMessage(stored.clone()))
        .await?;
    app.traffic
        .add_known(&record.account_sid, &record.from_number);
    let delta = tollgate_policy::triggers::Usage {
        sms_inbound: tollgate_policy::triggers::Tally {
            count: 1,
            usage: i64::from(record.num_segments),
            price_micros: price,
        },
        ..Default::default()
    };
    crate::services::triggers::observe(app, &record.account_sid, &delta).await;
    let snapshot = app.snapshot();
    if let Some(account) = snapshot.accounts.get(&record.account_sid) {
        let chain = snapshot.chain(account);
        app.traffic
            .add_spend(&chain, record.country.as_deref().unwrap_or(""), price, now);
    }
    Ok(stored)
}

/// Receives a text through the sandbox: screened, recorded and relayed to
/// the number's `SmsUrl` as a signed webhook (queued, retried).
pub async fn receive(app: &Arc<App>, from: &str, to: &str, body: &str) -> ApiResult<Received> {
    let inbound = match screen(app, from, to, body, None)? {
        Ok(inbound) => inbound,
        Err(reason) => return Ok(Received::Dropped { reason }),
    };
    let stored = record(app, &inbound).await?;
    let record = &inbound.record;
    let number = &inbound.number;
    let body = record.body.as_deref().unwrap_or_default();
    let seg_count = record.num_segments;
    let (from_e164, to_e164) = (record.from_number.clone(), record.to_number.clone());
    if let Some(url) = &number.sms_url {
        let params = vec![
            ("MessageSid", record.sid.clone()),
            ("SmsSid", record.sid.clone()),
            ("SmsMessageSid", record.sid.clone()),
            ("AccountSid", record.account_sid.clone()),
            ("From", from_e164.clone()),
            ("To", to_e164),
            ("Body", body.to_owned()),
            ("NumMedia", "0".to_owned()),
            ("NumSegments", seg_count.to_string()),
            ("SmsStatus", "received".to_owned()),
            ("ApiVersion", "2010-04-01".to_owned()),
            ("FromCountry", inbound.from_country.clone()),
            ("ToCountry", inbound.to_country.clone()),
        ];
        let method = if number.record.sms_method == "GET" {
            Method::Get
        } else {
            Method::Post
        };
        enqueue(
            app,
            NewWebhook {
                account_sid: &record.account_sid,
                url,
                method,
                ordering_key: None,
                payload: Payload::Form(
                    params.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
                ),
            },
        )
        .await?;
    }
    Ok(Received::Relayed(Box::new(stored)))
}
