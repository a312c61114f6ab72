//! Alarms (Monitor v2 shape): a count of matching alerts in a sliding window.
//! An alarm fires its signed webhook when the count reaches `triggerValue`,
//! and again only after the count has dropped below it. Tollgate's
//! extension: `action=suspend|lockdown` acts on the account at once.

use std::sync::Arc;

use tollgate_store::{AlarmRecord, AlertRecord};
use tollgate_types::{AccountStatus, Timestamp};

use crate::app::App;
use crate::audit::Actor;

/// Counts each new alert (sent by `alerts::record`) against the alarms of
/// its account and of the account's parent, and fires those that reach
/// their value. Runs until `stop`.
pub async fn run(app: Arc<App>, stop: impl std::future::Future<Output = ()>) {
    let Some(mut alerts) = app.alarms.take_receiver() else {
        return;
    };
    tokio::pin!(stop);
    loop {
        let alert = tokio::select! {
            () = &mut stop => return,
            alert = alerts.recv() => alert,
        };
        let Some(alert) = alert else {
            return;
        };
        observe(&app, &alert);
    }
}

fn observe(app: &Arc<App>, alert: &AlertRecord) {
    let snapshot = app.snapshot();
    // Its own account's alarms, and its parent's (once, for a main account).
    let mut accounts = vec![alert.account_sid.as_str()];
    if let Some(owner) = snapshot
        .accounts
        .get(&alert.account_sid)
        .map(|a| a.owner_account_sid.as_str())
        && owner != alert.account_sid
    {
        accounts.push(owner);
    }
    for (alarm, count) in app.alarms.counted(&accounts, alert) {
        let app = app.clone();
        let alert = alert.clone();
        tokio::spawn(async move { fire(&app, &alarm, &alert, count).await });
    }
}

async fn fire(app: &Arc<App>, alarm: &AlarmRecord, alert: &AlertRecord, count: usize) {
    let now = app.clock.now().0;
    tracing::warn!(alarm = %alarm.sid, account = %alarm.account_sid, count, "alarm fired");
    if let Some(sealed) = &alarm.webhook_sealed
        && let Ok(url) = app.master_key().open_text(&alarm.sid, sealed)
    {
        let params = vec![
            ("AlarmSid".to_owned(), alarm.sid.clone()),
            ("AccountSid".to_owned(), alarm.account_sid.clone()),
            (
                "FriendlyName".to_owned(),
                alarm.friendly_name.clone().unwrap_or_default(),
            ),
            ("QueryType".to_owned(), alarm.query_type.clone()),
            ("Query".to_owned(), alarm.query.clone().unwrap_or_default()),
            ("TriggerValue".to_owned(), alarm.trigger_value.to_string()),
            ("TimeWindow".to_owned(), alarm.time_window.clone()),
            ("CurrentValue".to_owned(), count.to_string()),
            ("ErrorCode".to_owned(), alert.error_code.to_string()),
            ("AlertSid".to_owned(), alert.sid.clone()),
            ("AlertAccountSid".to_owned(), alert.account_sid.clone()),
            ("DateFired".to_owned(), Timestamp(now).rfc2822()),
            ("Action".to_owned(), alarm.action.clone()),
        ];
        let hook = crate::services::webhooks::NewWebhook {
            account_sid: &alarm.account_sid,
            url: &url,
            method: tollgate_webhook::request::Method::Post,
            ordering_key: None,
            payload: tollgate_webhook::request::Payload::Form(params),
        };
        if let Err(e) = crate::services::webhooks::enqueue(app, hook).await {
            tracing::error!(alarm = %alarm.sid, code = e.spec.code, "alarm webhook not queued");
        }
    }
    // The account the alert was about, unless it is the main account.
    let target = app
        .snapshot()
        .accounts
        .get(&alert.account_sid)
        .filter(|a| !a.is_main() && a.status == AccountStatus::Active)
        .map(|a| a.sid.clone());
    let Some(target) = target else {
        return;
    };
    let actor = Actor::tollgate();
    let result = match alarm.action.as_str() {
        "lockdown" => {
            let change = app.change().await;
            crate::services::lockdown::apply(change, app, &target, false, false, &actor)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
        "suspend" => {
            let change = app.change().await;
            async {
                let mut record = app
                    .store
                    .account(&target)
                    .await
                    .map_err(|e| e.to_string())?
                    .ok_or("no such account")?;
                record.status = AccountStatus::Suspended;
                record.date_updated = now;
                let event = actor.event(now, &target, "account.updated", ("account", Some(&target)),
                    serde_json::json!({"before": {"status": "active"}, "after": {"status": "suspended"},
                        "reason": format!("alarm {}", alarm.sid)}));
                app.store
                    .update_account(&record, &[event])
                    .await
                    .map_err(|e| e.to_string())?;
                change
                    .commit(|snapshot, key| snapshot.put_account(key, &record))
                    .map_err(|e| e.message.clone())
            }
            .await
        }
        _ => return,
    };
    match result {
        Ok(()) => {
            app.carrier.end_calls_of(&target);
            tracing::warn!(alarm = %alarm.sid, account = %target, action = %alarm.action, "alarm acted");
        }
        Err(e) => tracing::error!(alarm = %alarm.sid, error = %e, "alarm action failed"),
    }
}
