//! Lookup v2 `GET /v2/PhoneNumbers/{PhoneNumber}`: validation and formatting
//! (always), line type intelligence (`Fields=line_type_intelligence`) from
//! the number's type. An invalid number is `200` with `valid: false`, as on
//! Twilio. No carrier data: carrier fields are null.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};
use tollgate_numbering::NumberType;

use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::http::auth::Principal;
use crate::http::wire::Params;

/// Twilio's line type vocabulary for a libphonenumber type. Fixed-or-mobile
/// (as in the US and Canada) cannot be split without carrier data: `unknown`.
fn line_type(t: NumberType) -> &'static str {
    match t {
        NumberType::Mobile => "mobile",
        NumberType::FixedLine => "landline",
        NumberType::Voip => "nonFixedVoip",
        NumberType::TollFree => "tollFree",
        NumberType::PremiumRate => "premium",
        NumberType::SharedCost => "sharedCost",
        NumberType::Uan => "uan",
        NumberType::Voicemail => "voicemail",
        NumberType::Pager => "pager",
        NumberType::PersonalNumber => "personal",
        NumberType::FixedLineOrMobile | NumberType::Unknown => "unknown",
    }
}

const KNOWN_FIELDS: [&str; 11] = [
    "validation",
    "caller_name",
    "sim_swap",
    "call_forwarding",
    "line_status",
    "line_type_intelligence",
    "identity_match",
    "reassigned_number",
    "sms_pumping_risk",
    "phone_number_quality_score",
    "pre_fill",
];

pub async fn fetch(
    State(app): State<Arc<App>>,
    _principal: Principal,
    Path(number): Path<String>,
    params: Params,
) -> ApiResult<Json<Value>> {
    let fields: Vec<String> = params
        .get("Fields")
        .unwrap_or("")
        .split(',')
        .map(|f| f.trim().to_ascii_lowercase())
        .filter(|f| !f.is_empty())
        .collect();
    if let Some(bad) = fields.iter().find(|f| !KNOWN_FIELDS.contains(&f.as_str())) {
        return Err(ApiError::invalid("Fields", &format!("unknown field {bad}")));
    }
    let region = params.get("CountryCode");
    let c = app.classifier.classify(&number, region);
    let national = if c.valid {
        c.e164
            .as_deref()
            .and_then(|e| app.classifier.national_format(e))
    } else {
        None
    };
    let line_type_intelligence = fields
        .iter()
        .any(|f| f == "line_type_intelligence")
        .then(|| {
            json!({
                "type": if c.valid { line_type(c.number_type) } else { "unknown" },
                "carrier_name": null,
                "mobile_country_code": null,
                "mobile_network_code": null,
                "error_code": null,
                // Tollgate's additions: libphonenumber's type and the risk tier.
                "number_type": c.number_type.as_str(),
                "risk": c.risk.as_str(),
            })
        });
    let phone_number = c.e164.clone().unwrap_or_else(|| number.clone());
    Ok(Json(json!({
        "calling_country_code": if c.valid { c.calling_code.map(|n| n.to_string()) } else { None },
        "country_code": if c.valid { c.country.filter(|r| *r != "001") } else { None },
        "phone_number": phone_number,
        "national_format": national,
        "valid": c.valid,
        "validation_errors": c.error.map(|e| vec![e.as_str()]),
        "caller_name": null,
        "sim_swap": null,
        "call_forwarding": null,
        "line_status": null,
        "line_type_intelligence": line_type_intelligence,
        "identity_match": null,
        "reassigned_number": null,
        "sms_pumping_risk": null,
        "phone_number_quality_score": null,
        "pre_fill": null,
        "url": format!("{}/v2/PhoneNumbers/{}", app.public_url, phone_number),
    })))
}
