//! `POST /tollgate/v1/Decisions` (`To`, `Channel=sms|voice`): the destination
//! decision a message or call to `To` would get from this account, with its
//! rule and evidence. Always 200: the verdict is the content.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use tollgate_policy::{Channel, Decision, decide};

use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::http::auth::Principal;
use crate::http::wire::Params;

pub fn render(decision: &Decision, channel: Channel) -> Value {
    let e = &decision.evidence;
    json!({
        "allowed": decision.allowed,
        "channel": channel.as_str(),
        "rule": decision.rule.as_str(),
        "error_code": decision.error_code,
        "message": decision.message,
        "evidence": {
            "to": e.input,
            "e164": e.e164,
            "country": e.country,
            "calling_code": e.calling_code,
            "number_type": e.number_type,
            "risk": e.risk,
            "matched_prefix": e.matched_prefix,
            "risk_reason": e.risk_reason,
            "permissions_of": e.permissions_of,
        },
    })
}

pub async fn create(
    State(app): State<Arc<App>>,
    principal: Principal,
    params: Params,
) -> ApiResult<Json<Value>> {
    let to = params.get("To").ok_or_else(|| ApiError::missing("To"))?;
    let channel = match params.get("Channel") {
        None => return Err(ApiError::missing("Channel")),
        Some(c) => {
            Channel::parse(c).ok_or_else(|| ApiError::invalid("Channel", "must be sms or voice"))?
        }
    };
    let policy = principal.snapshot.effective_geo(&principal.account);
    let number = app.classifier.classify(to, None);
    let decision = decide(&policy, &number, to, channel);
    if !decision.allowed {
        tracing::info!(
            account = %principal.account.sid,
            rule = decision.rule.as_str(),
            country = decision.evidence.country.unwrap_or("-"),
            "destination refused"
        );
    }
    Ok(Json(render(&decision, channel)))
}
