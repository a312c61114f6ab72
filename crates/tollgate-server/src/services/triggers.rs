//! Usage triggers that act: evaluated on every usage change (not on a
//! timer), each firing exactly once per period, durably before its callback
//! is queued, and optionally suspending the account at the crossing.

use std::sync::Arc;

use tollgate_policy::triggers::{Recurring, Usage, format_value, is_price};
use tollgate_store::UsageTriggerRecord;
use tollgate_types::{AccountStatus, Timestamp};

use crate::app::App;
use crate::audit::Actor;
use crate::services::webhooks::{NewWebhook, prepare};
use crate::state::usage_triggers::{Watched, parse};

/// The account's usage since `start`, from the store.
pub async fn usage_since(app: &App, account: &str, start: i64) -> Result<Usage, String> {
    let rows = app
        .store
        .usage(account, start, i64::MAX)
        .await
        .map_err(|e| e.to_string())?;
    let mut usage = Usage::default();
    for row in rows {
        if let Some(t) = usage.base_mut(&row.category) {
            t.count += row.count;
            t.usage += row.usage;
            t.price_micros += row.price_micros;
        }
    }
    Ok(usage)
}

/// Starts watching `record` from the store's usage in its period, and
/// fires it at once if it is already crossed (a crash between a send and
/// its trigger, or a trigger created below the current value).
pub async fn watch(app: &Arc<App>, record: UsageTriggerRecord) -> Result<(), String> {
    let Some((recurring, by)) = parse(&record) else {
        return Err(format!(
            "trigger {} has an unknown period or metric",
            record.sid
        ));
    };
    let now = app.clock.now().0;
    let period = recurring.period_start(now);
    let usage = usage_since(app, &record.account_sid, period).await?;
    let value = usage.value(&record.usage_category, by).unwrap_or(0);
    let account = record.account_sid.clone();
    app.triggers.put(record, period, value)?;
    observe(app, &account, &Usage::default()).await;
    Ok(())
}

/// Adds `delta` (durable already) to the account's triggers and fires
/// those that crossed. Returns when their state is durable and any
/// suspension is in force, so the next send sees it.
pub async fn observe(app: &Arc<App>, account: &str, delta: &Usage) {
    let now = app.clock.now().0;
    for w in app.triggers.crossed(account, delta, now) {
        if let Err(e) = fire(app, &w, now).await {
            tracing::error!(error = %e, trigger = %w.record.sid, "usage trigger did not fire; retried on the next change");
            app.triggers.unclaim(&w);
        }
    }
}

/// Records the firing, queues the signed callback and (with `Action=suspend`)
/// suspends the account, in one transaction.
async fn fire(app: &Arc<App>, w: &Watched, now: i64) -> Result<(), String> {
    let r = &w.record;
    let price = is_price(&r.usage_category, w.by);
    let current = format_value(w.value, price);
    let url = app
        .master_key()
        .open_text(&r.sid, &r.callback_url_sealed)
        .map_err(|_| "cannot open the callback URL".to_owned())?;
    let record_kind = match w.recurring {
        Recurring::Daily => "/Daily",
        Recurring::Monthly => "/Monthly",
        Recurring::Yearly | Recurring::AllTime => "",
    };
    let usage_uri = format!(
        "/2010-04-01/Accounts/{}/Usage/Records{record_kind}.json?Category={}&StartDate={}&EndDate={}",
        r.account_sid,
        r.usage_category,
        &Timestamp(w.period).iso8601()[..10],
        &Timestamp(now).iso8601()[..10],
    );
    let params: Vec<(String, String)> = vec![
        ("AccountSid".into(), r.account_sid.clone()),
        ("UsageTriggerSid".into(), r.sid.clone()),
        ("DateFired".into(), Timestamp(now).rfc2822()),
        ("Recurring".into(), w.recurring.as_str().to_owned()),
        ("UsageCategory".into(), r.usage_category.clone()),
        ("TriggerBy".into(), r.trigger_by.clone()),
        ("TriggerValue".into(), r.trigger_value.clone()),
        ("CurrentValue".into(), current.clone()),
        ("UsageRecordUri".into(), usage_uri),
        // The same for every delivery attempt of this firing.
        ("IdempotencyToken".into(), format!("{}-{}", r.sid, w.period)),
    ];
    let method = if r.callback_method.eq_ignore_ascii_case("GET") {
        tollgate_webhook::request::Method::Get
    } else {
        tollgate_webhook::request::Method::Post
    };
    let hook = prepare(
        app,
        NewWebhook {
            account_sid: &r.account_sid,
            url: &url,
            method,
            ordering_key: None,
            payload: tollgate_webhook::request::Payload::Form(params),
        },
    )
    .map_err(|e| e.message.clone())?;
    let snapshot = app.snapshot();
    let suspend = (r.action == "suspend")
        .then(|| snapshot.accounts.get(&r.account_sid))
        .flatten()
        .filter(|a| !a.is_main() && a.status == AccountStatus::Active)
        .map(|a| a.sid.clone());
    let actor = Actor::tollgate();
    let mut events = vec![actor.event(
        now,
        &r.account_sid,
        "usage-trigger.fired",
        ("usage-trigger", Some(&r.sid)),
        serde_json::json!({"usage_category": r.usage_category, "trigger_by": r.trigger_by,
            "trigger_value": r.trigger_value, "current_value": current, "action": r.action}),
    )];
    if let Some(account) = &suspend {
        events.push(actor.event(
            now,
            account,
            "account.updated",
            ("account", Some(account)),
            serde_json::json!({"before": {"status": "active"}, "after": {"status": "suspended"},
                "reason": format!("usage trigger {}", r.sid)}),
        ));
    }
    // The suspension must be in the snapshot before the next send: hold the
    // write lock across the store write and the refresh.
    let change = app.change().await;
    let fired = app
        .store
        .fire_usage_trigger(
            &r.sid,
            w.period,
            now,
            &current,
            &hook,
            suspend.as_deref(),
            &events,
        )
        .await
        .map_err(|e| e.to_string())?;
    if !fired {
        return Ok(()); // fired already in this period (another node, or before a restart)
    }
    if let Some(account) = &suspend {
        let record = app
            .store
            .account(account)
            .await
            .map_err(|e| e.to_string())?;
        change
            .commit(|snapshot, key| match &record {
                Some(record) => snapshot.put_account(key, record),
                None => Ok(()),
            })
            .map_err(|e| e.message.clone())?;
        app.carrier.end_calls_of(account);
        tracing::warn!(%account, trigger = %r.sid, "account suspended by a usage trigger");
    } else {
        change.commit_outside_snapshot();
    }
    app.webhooks.wake_dispatcher();
    tracing::info!(trigger = %r.sid, account = %r.account_sid, value = %current, "usage trigger fired");
    Ok(())
}
