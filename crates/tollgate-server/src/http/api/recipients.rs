//! `/tollgate/v1/Recipients`: the numbers an account with
//! `RecipientPolicy=allowlist` may message. Account credentials only.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::app::App;
use crate::audit;
use crate::error::{ApiError, ApiResult};
use crate::http::auth::Principal;
use crate::http::wire::{Order, PageRequest, Params};

/// `POST /tollgate/v1/Recipients` (`PhoneNumber`).
pub async fn create(
    State(app): State<Arc<App>>,
    principal: Principal,
    params: Params,
) -> ApiResult<(StatusCode, Json<Value>)> {
    principal.require_account_credentials()?;
    let wanted = params
        .get("PhoneNumber")
        .ok_or_else(|| ApiError::missing("PhoneNumber"))?;
    let number = app.classifier.classify(wanted, None);
    let Some(e164) = number.e164.filter(|_| number.valid) else {
        return Err(ApiError::invalid(
            "PhoneNumber",
            "must be a valid phone number",
        ));
    };
    let change = app.change().await;
    app.store
        .insert_recipient(
            &principal.account.sid,
            &e164,
            app.clock.now().0,
            &audit::by(
                &principal,
                app.clock.now().0,
                &principal.account.sid,
                "tollgate-recipient.created",
                ("tollgate-recipient", None),
                json!({"after": {"phone_number": recipient_form(&app, &principal, &e164)}}),
            ),
        )
        .await?;
    change.commit(|snapshot, _| {
        snapshot.add_recipient(&principal.account.sid, &e164);
        Ok(())
    })?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"account_sid": principal.account.sid, "phone_number": e164})),
    ))
}

/// `GET /tollgate/v1/Recipients`: the numbers, in order.
pub async fn list(
    State(app): State<Arc<App>>,
    principal: Principal,
    params: Params,
) -> ApiResult<Json<Value>> {
    let page = PageRequest::<String>::from_params(&params)?;
    let numbers: Vec<String> = principal
        .snapshot
        .recipients
        .get(&principal.account.sid)
        .into_iter()
        .flat_map(|list| list.iter())
        .cloned()
        .collect();
    let page = page.slice(numbers, Order::Ascending, Clone::clone);
    Ok(Json(page.twilio_v1(
        "recipients",
        &app.public_url,
        "/tollgate/v1/Recipients",
        &params,
        |n| json!(n),
    )))
}

/// `DELETE /tollgate/v1/Recipients/{E164}`
pub async fn delete(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(number): Path<String>,
) -> ApiResult<StatusCode> {
    principal.require_account_credentials()?;
    let e164 = app
        .classifier
        .classify(&number, None)
        .e164
        .unwrap_or(number.clone());
    let change = app.change().await;
    if !app
        .store
        .delete_recipient(
            &principal.account.sid,
            &e164,
            &audit::by(
                &principal,
                app.clock.now().0,
                &principal.account.sid,
                "tollgate-recipient.deleted",
                ("tollgate-recipient", None),
                json!({"before": {"phone_number": recipient_form(&app, &principal, &e164)}}),
            ),
        )
        .await?
    {
        return Err(ApiError::not_found(&format!(
            "/tollgate/v1/Recipients/{number}"
        )));
    }
    change.commit(|snapshot, _| {
        snapshot.remove_recipient(&principal.account.sid, &e164);
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT)
}

/// A recipient as an audit event shows it: masked when the account redacts
/// phone numbers.
fn recipient_form(_app: &App, principal: &Principal, e164: &str) -> String {
    if principal
        .snapshot
        .settings_of(&principal.account.sid)
        .redact_phone_numbers
    {
        crate::privacy::mask_number(e164)
    } else {
        e164.to_owned()
    }
}
