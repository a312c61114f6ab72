//! Twilio's JSON forms of records that more than one handler renders, and
//! the list filters they share.

use serde_json::Value;
use tollgate_policy::spend::format_price;
use tollgate_store::{MessageRecord, TrafficQuery};
use tollgate_types::Timestamp;

use crate::error::{ApiError, ApiResult};
use crate::http::wire::{Params, json_response};

/// A message in Twilio's JSON shape (keys in alphabetical order, as
/// serde_json's maps give them elsewhere).
#[derive(serde::Serialize)]
pub struct MessageView<'a> {
    account_sid: &'a str,
    api_version: &'static str,
    body: &'a str,
    date_created: String,
    date_sent: Option<String>,
    date_updated: String,
    direction: &'a str,
    error_code: Option<i32>,
    error_message: Option<&'a str>,
    from: &'a str,
    messaging_service_sid: Option<&'a str>,
    num_media: &'static str,
    num_segments: String,
    price: Option<String>,
    price_unit: &'static str,
    sid: &'a str,
    status: &'a str,
    subresource_uris: MediaUri,
    to: &'a str,
    /// Tollgate's addition: the rule that blocked the message, if one did.
    tollgate_rule: Option<&'a str>,
    uri: String,
}

#[derive(serde::Serialize)]
struct MediaUri {
    media: String,
}

impl<'a> MessageView<'a> {
    pub fn of(record: &'a MessageRecord) -> MessageView<'a> {
        let base = format!(
            "/2010-04-01/Accounts/{}/Messages/{}",
            record.account_sid, record.sid
        );
        MessageView {
            account_sid: &record.account_sid,
            api_version: "2010-04-01",
            body: record.body.as_deref().unwrap_or_default(),
            date_created: Timestamp(record.date_created).rfc2822(),
            date_sent: record.date_sent.map(|t| Timestamp(t).rfc2822()),
            date_updated: Timestamp(record.date_updated).rfc2822(),
            direction: &record.direction,
            error_code: record.error_code,
            error_message: record.error_message.as_deref(),
            from: &record.from_number,
            messaging_service_sid: record.messaging_service_sid.as_deref(),
            num_media: "0",
            num_segments: record.num_segments.to_string(),
            price: record
                .price_micros
                .filter(|_| record.status != "queued")
                .map(format_price),
            price_unit: "USD",
            sid: &record.sid,
            status: &record.status,
            subresource_uris: MediaUri {
                media: format!("{base}/Media.json"),
            },
            to: &record.to_number,
            tollgate_rule: record.rule.as_deref(),
            uri: format!("{base}.json"),
        }
    }
}

pub fn render(record: &MessageRecord) -> Value {
    serde_json::to_value(MessageView::of(record)).unwrap_or_default()
}

/// Parses a `DateSent`-style filter: a date (whole UTC day) or a date-time.
pub fn date_filters(params: &Params, name: &str) -> ApiResult<(Option<i64>, Option<i64>)> {
    let parse = |v: &str| {
        Timestamp::parse_iso8601(v).map(|t| t.0).ok_or_else(|| {
            ApiError::invalid(name, "must be a date (YYYY-MM-DD) or an ISO 8601 date-time")
        })
    };
    let mut from = None;
    let mut before = None;
    if let Some(v) = params.get(name) {
        let start = parse(v)?;
        from = Some(start);
        before = Some(if v.len() == 10 {
            start + 86_400_000
        } else {
            start + 1
        });
    }
    if let Some(v) = params.get(&format!("{name}>")) {
        from = Some(parse(v)?);
    }
    if let Some(v) = params.get(&format!("{name}<")) {
        let end = parse(v)?;
        before = Some(if v.len() == 10 { end + 86_400_000 } else { end });
    }
    Ok((from, before))
}

/// The list filters shared by messages and calls (`date` names the date filter).
pub fn traffic_query(account_sid: &str, params: &Params, date: &str) -> ApiResult<TrafficQuery> {
    let (created_from, created_before) = date_filters(params, date)?;
    Ok(TrafficQuery {
        account_sid: account_sid.to_owned(),
        to: params.get("To").map(str::to_owned),
        from: params.get("From").map(str::to_owned),
        created_from,
        created_before,
    })
}

impl crate::services::proxy::Answer {
    /// The answer as it goes to the application. An error keeps Twilio's
    /// JSON and carries its code, so it is not reshaped and alerts see it.
    pub fn into_response(self) -> axum::response::Response {
        let error = (self.status.is_client_error() || self.status.is_server_error())
            .then(|| serde_json::from_slice::<Value>(&self.body).ok())
            .flatten()
            .map(|v| crate::error::ErrorInfo {
                code: v
                    .get("code")
                    .and_then(Value::as_u64)
                    .and_then(|c| u32::try_from(c).ok())
                    .unwrap_or(0),
                message: v
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            });
        let mut response = json_response(self.status, self.body);
        if let Some(info) = error {
            response.extensions_mut().insert(info);
        }
        response
    }
}
