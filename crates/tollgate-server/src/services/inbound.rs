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

/// What became of an inbound text.
pub enum Received {
    Relayed(Box<MessageRecord>),
    /// Dropped before anything was stored or forwarded.
    Dropped {
        reason: &'static str,
    },
}

pub async fn receive(app: &Arc<App>, from: &str, to: &str, body: &str) -> ApiResult<Received> {
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
        return Ok(Received::Dropped { reason: "lockdown" });
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
        return Ok(Received::Dropped {
            reason: "blocklist",
        });
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
        return Ok(Received::Dropped { reason: "flood" });
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
        sid: new_ordered_sid(SidPrefix::Message, app.clock.now().0).to_string(),
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
    let stored = crate::privacy::stored_form(&record, privacy);
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
    if let Some(account) = snapshot.accounts.get(&record.account_sid) {
        let chain = snapshot.chain(account);
        app.traffic
            .add_spend(&chain, record.country.as_deref().unwrap_or(""), price, now);
    }
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
            ("NumSegments", seg.count.to_string()),
            ("SmsStatus", "received".to_owned()),
            ("ApiVersion", "2010-04-01".to_owned()),
            ("FromCountry", from_info.country.unwrap_or("").to_owned()),
            ("ToCountry", to_info.country.unwrap_or("").to_owned()),
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
