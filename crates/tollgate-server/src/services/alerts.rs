//! Alerts (Monitor v1 `/v1/Alerts`): every error Tollgate returns to an
//! authenticated caller, and every error it observes (webhook deliveries
//! that fail for good), becomes an alert. Alerts feed the alarms.

use std::sync::{Arc, OnceLock};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tollgate_store::{AlertRecord, WriteOp};
use tollgate_types::SidPrefix;

use crate::app::App;
use crate::error::ErrorInfo;
use crate::privacy::mask_numbers;
use crate::random::new_ordered_sid;

/// Set by the authentication extractor: whose request this is.
#[derive(Clone, Default)]
pub struct AlertSlot(pub Arc<OnceLock<String>>);

/// Middleware: turns the error responses of authenticated requests into alerts.
pub async fn capture(State(app): State<Arc<App>>, mut request: Request, next: Next) -> Response {
    let slot = AlertSlot::default();
    request.extensions_mut().insert(slot.clone());
    // Cheap clones (shared bytes); text only for an alert.
    let method = request.method().clone();
    let uri = request.uri().clone();
    let response = next.run(request).await;
    if let (Some(info), Some(account)) = (response.extensions().get::<ErrorInfo>(), slot.0.get()) {
        let level = if response.status().is_server_error() {
            "error"
        } else {
            "warning"
        };
        record(
            &app,
            account,
            info.code,
            level,
            &info.message,
            Some(method.as_str()),
            Some(uri.path()),
            None,
        );
    }
    response
}

/// Records one alert (without waiting for the disk) and lets the alarms see it.
#[allow(clippy::too_many_arguments)]
pub fn record(
    app: &Arc<App>,
    account: &str,
    code: u32,
    level: &str,
    text: &str,
    method: Option<&str>,
    url: Option<&str>,
    resource: Option<&str>,
) {
    let now = app.clock.now().0;
    let snapshot = app.snapshot();
    let text = if snapshot.settings_of(account).redact_phone_numbers {
        mask_numbers(text)
    } else {
        text.to_owned()
    };
    let alert = AlertRecord {
        sid: new_ordered_sid(SidPrefix::Alert, now).to_string(),
        account_sid: account.to_owned(),
        error_code: i32::try_from(code).unwrap_or(i32::MAX),
        log_level: level.to_owned(),
        alert_text: text,
        request_method: method.map(str::to_owned),
        request_url: url.map(str::to_owned),
        resource_sid: resource.map(str::to_owned),
        date_created: now,
    };
    app.alarms.send(alert.clone());
    app.writer.submit(WriteOp::InsertAlert(alert));
}
