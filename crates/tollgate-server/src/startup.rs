//! Start-up in order: validated config → data dir → store and migrations →
//! first-run initialisation → master key → snapshot → bind → serve.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use tollgate_secrets::MasterKey;
use tollgate_store::{DatabaseTarget, GeoPermissionRecord, Store};
use zeroize::Zeroizing;

use crate::app::{App, LoadError};
use crate::clock::Clock;
use crate::config::{Config, redact_url};
use crate::random::OsRandom;

/// Why start-up stopped. Config errors exit 64 (`EX_USAGE`), the rest 1.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("invalid configuration:\n  {}", .0.join("\n  "))]
    Config(Vec<String>),
    #[error("{0}")]
    AlreadyInitialised(String),
    #[error("{0}")]
    Runtime(String),
}

impl StartError {
    pub fn exit_code(&self) -> i32 {
        match self {
            StartError::Config(_) => 64,
            StartError::AlreadyInitialised(_) | StartError::Runtime(_) => 1,
        }
    }
}

/// The main account's credentials, printed once at initialisation.
pub struct Credentials {
    pub account_sid: String,
    pub auth_token: Zeroizing<String>,
}

fn runtime<E: std::fmt::Display>(context: &str) -> impl Fn(E) -> StartError + '_ {
    move |e| StartError::Runtime(format!("{context}: {e}"))
}

fn ensure_data_dir(dir: &Path) -> Result<(), StartError> {
    std::fs::create_dir_all(dir).map_err(runtime("data dir"))?;
    restrict(dir, 0o700);
    Ok(())
}

#[cfg(unix)]
fn restrict(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode));
}

#[cfg(not(unix))]
fn restrict(_path: &Path, _mode: u32) {}

async fn open_store(config: &Config) -> Result<Arc<dyn Store>, StartError> {
    let described = match &config.database {
        DatabaseTarget::Sqlite(path) => path.display().to_string(),
        DatabaseTarget::Postgres(url) => redact_url(url),
    };
    let store = tollgate_store::open(&config.database)
        .await
        .map_err(|e| StartError::Runtime(format!("cannot open database {described}: {e}")))?;
    store.migrate().await.map_err(runtime("migrations"))?;
    Ok(store)
}

/// The master key from `TOLLGATE_MASTER_KEY`, else from `master.key` in the
/// data dir. With `create`, a missing file is generated (mode 0600).
fn master_key(config: &Config, create: bool) -> Result<MasterKey, StartError> {
    if let Some(key) = &config.master_key {
        return Ok(key.clone());
    }
    let path = config.master_key_file();
    match std::fs::read_to_string(&path) {
        Ok(text) => MasterKey::from_hex(&text).map_err(|_| {
            StartError::Config(vec![format!(
                "master key: {} is not 64 hex characters",
                path.display()
            )])
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
            let key = MasterKey::generate(&mut OsRandom);
            write_private(&path, key.to_hex().as_bytes()).map_err(runtime("master key file"))?;
            Ok(key)
        }
        Err(_) => Err(StartError::Config(vec![format!(
            "master key: set TOLLGATE_MASTER_KEY or provide {} (the key this data was created with)",
            path.display()
        )])),
    }
}

/// Creates `path` with mode 0600 and writes `bytes`; fails if it exists.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| e.to_string())?;
    file.write_all(bytes).map_err(|e| e.to_string())?;
    file.write_all(b"\n").map_err(|e| e.to_string())?;
    file.sync_all().map_err(|e| e.to_string())
}

async fn create_main_account(
    store: &Arc<dyn Store>,
    clock: &Arc<dyn Clock>,
    key: &MasterKey,
    home_country: &str,
) -> Result<Credentials, StartError> {
    let (record, token) = crate::http::api::accounts::new_account(
        key,
        None,
        "Tollgate main account".into(),
        clock.now(),
    )
    .map_err(runtime("sealing the auth token"))?;
    let actor = crate::audit::Actor::cli();
    let created = actor.event(record.date_created, &record.sid, "account.created", ("account", Some(&record.sid)),
        serde_json::json!({"after": {"friendly_name": record.friendly_name, "status": record.status.as_str()}}));
    store
        .insert_main_account(&record, &[created])
        .await
        .map_err(runtime("creating the main account"))?;
    // Secure default: the home country only, low-risk numbers only.
    let rows: Vec<GeoPermissionRecord> = ["voice", "sms"]
        .into_iter()
        .map(|channel| GeoPermissionRecord {
            account_sid: record.sid.clone(),
            channel: channel.to_owned(),
            iso_code: home_country.to_owned(),
            low_risk: true,
            high_risk_special: false,
            high_risk_tollfraud: false,
            date_updated: record.date_created,
        })
        .collect();
    let geo = actor.event(record.date_created, &record.sid, "voice-geographic-permissions.updated",
        ("voice-geographic-permissions", None),
        serde_json::json!({"after": {"home_country": home_country, "channels": ["voice", "sms"], "low_risk_only": true}}));
    store
        .upsert_geo_permissions(&rows, &[geo])
        .await
        .map_err(runtime("setting the home country"))?;
    Ok(Credentials {
        account_sid: record.sid,
        auth_token: token,
    })
}

/// `tollgate init`: creates the data dir, database and main account. Fails,
/// changing nothing, if the store already has a main account.
pub async fn initialise(config: &Config, clock: Arc<dyn Clock>) -> Result<Credentials, StartError> {
    ensure_data_dir(&config.data_dir)?;
    let store = open_store(config).await?;
    if let Some(main) = store.main_account().await.map_err(runtime("database"))? {
        return Err(StartError::AlreadyInitialised(format!(
            "already initialised: this database holds main account {}; nothing was changed",
            main.sid
        )));
    }
    let key = master_key(config, true)?;
    create_main_account(&store, &clock, &key, &config.home_country).await
}

/// `tollgate audit verify|checkpoint`: walks the audit chain of the
/// configured database (see [`crate::audit::verify_chain`]).
pub async fn verify_audit(
    config: &Config,
    expect: Option<tollgate_audit::Checkpoint>,
) -> Result<Result<crate::audit::ChainReport, tollgate_audit::Break>, StartError> {
    let store = open_store(config).await?;
    let key = master_key(config, false)?;
    crate::audit::verify_chain(
        store.as_ref(),
        key.derive(crate::audit::ANCHOR_KEY).as_slice(),
        expect,
    )
    .await
    .map_err(runtime("reading the audit log"))
}

/// `tollgate lockdown [--undo]`: the incident checklist on the database; a
/// running server picks it up within a second.
pub async fn run_lockdown(
    config: &Config,
    account: &str,
    include_subaccounts: bool,
    undo: bool,
    clock: Arc<dyn Clock>,
) -> Result<serde_json::Value, StartError> {
    let store = open_store(config).await?;
    let key = master_key(config, false)?;
    let actor = crate::audit::Actor::cli();
    let now = clock.now().0;
    let report = if undo {
        crate::services::lockdown::unlock(store.as_ref(), now, account, include_subaccounts, &actor)
            .await
    } else {
        crate::services::lockdown::lock(
            store.as_ref(),
            &key,
            now,
            account,
            include_subaccounts,
            &actor,
        )
        .await
    }
    .map_err(|e| StartError::Runtime(e.to_string()))?;
    Ok(report.to_json(undo))
}

/// What `tollgate upstream` does.
pub enum UpstreamCommand {
    /// Sets the account's upstream account after checking the credentials
    /// against Twilio (secrets never on the command line).
    Set {
        upstream_account: String,
        api_key_sid: String,
        api_key_secret: String,
        auth_token: String,
    },
    Show,
    Delete,
    /// Imports the upstream account's phone numbers (keeping the
    /// application's URLs in Tollgate); with `point_webhooks`, points their
    /// webhooks at Tollgate on Twilio.
    Sync {
        point_webhooks: bool,
    },
}

/// `tollgate upstream …` for `account`: the same checks and sealing as the
/// API; running servers pick the change up within a second.
pub async fn run_upstream(
    config: &Config,
    account: &str,
    command: UpstreamCommand,
    clock: Arc<dyn Clock>,
) -> Result<serde_json::Value, StartError> {
    let store = open_store(config).await?;
    let key = master_key(config, false)?;
    if store
        .account(account)
        .await
        .map_err(runtime("store"))?
        .is_none()
    {
        return Err(StartError::Runtime(format!("no account {account}")));
    }
    let actor = crate::audit::Actor::cli();
    let now = clock.now().0;
    let shown = |u: &tollgate_store::UpstreamRecord| {
        serde_json::json!({"account_sid": u.account_sid, "upstream_account_sid": u.upstream_account_sid,
            "api_key_sid": u.api_key_sid})
    };
    let result = match command {
        UpstreamCommand::Show => {
            let all = store.all_upstreams().await.map_err(runtime("store"))?;
            return all
                .iter()
                .find(|u| u.account_sid == account)
                .map(shown)
                .ok_or_else(|| StartError::Runtime(format!("{account} has no upstream account")));
        }
        UpstreamCommand::Delete => {
            let event = actor.event(
                now,
                account,
                "tollgate-upstream.deleted",
                ("tollgate-upstream", Some(account)),
                serde_json::json!({}),
            );
            if !store
                .delete_upstream(account, &[event])
                .await
                .map_err(runtime("store"))?
            {
                return Err(StartError::Runtime(format!(
                    "{account} has no upstream account"
                )));
            }
            serde_json::json!({"account_sid": account, "deleted": true})
        }
        UpstreamCommand::Sync { point_webhooks } => {
            let all = store.all_upstreams().await.map_err(runtime("store"))?;
            let Some(upstream) = all.iter().find(|u| u.account_sid == account) else {
                return Err(StartError::Runtime(format!(
                    "{account} has no upstream account"
                )));
            };
            sync_numbers(
                config,
                store.as_ref(),
                &key,
                upstream,
                point_webhooks,
                &actor,
                now,
            )
            .await?
        }
        UpstreamCommand::Set {
            upstream_account,
            api_key_sid,
            api_key_secret,
            auth_token,
        } => {
            if config.upstream.carrier != crate::state::upstream_client::CarrierKind::Twilio {
                return Err(StartError::Config(vec![
                    "upstream credentials need carrier = \"twilio\" (TOLLGATE_CARRIER=twilio)"
                        .into(),
                ]));
            }
            let client =
                crate::state::upstream_client::UpstreamClient::new(config.upstream.clone())
                    .map_err(|e| StartError::Config(vec![format!("upstream: {e}")]))?;
            crate::services::upstream::check_credentials(
                &client,
                &upstream_account,
                &api_key_sid,
                &api_key_secret,
                &auth_token,
            )
            .await
            .map_err(|e| StartError::Runtime(e.to_string()))?;
            let seal = |what: &str, secret: &str| {
                key.seal(
                    &crate::state::snapshot::upstream_aad(account, what),
                    secret.as_bytes(),
                    &mut crate::random::OsRandom,
                )
                .map_err(|_| StartError::Runtime("cannot seal a secret".into()))
            };
            let record = tollgate_store::UpstreamRecord {
                account_sid: account.to_owned(),
                upstream_account_sid: upstream_account.clone(),
                api_key_sid: api_key_sid.clone(),
                api_key_secret_sealed: seal("key", &api_key_secret)?,
                auth_token_sealed: seal("token", &auth_token)?,
                date_created: now,
                date_updated: now,
            };
            let event = actor.event(now, account, "tollgate-upstream.updated",
                ("tollgate-upstream", Some(account)),
                serde_json::json!({"after": {"upstream_account_sid": upstream_account, "api_key_sid": api_key_sid}}));
            store
                .put_upstream(&record, &[event])
                .await
                .map_err(|e| match e {
                    tollgate_store::StoreError::Conflict(_) => StartError::Runtime(format!(
                        "upstream account {upstream_account} is carried by another account"
                    )),
                    e => StartError::Runtime(e.to_string()),
                })?;
            shown(&record)
        }
    };
    store
        .bump_state_generation()
        .await
        .map_err(runtime("store"))?;
    Ok(result)
}

/// `tollgate upstream --sync`: every phone number of the upstream account
/// becomes (or stays) a number of the Tollgate account, with the URLs the
/// application set on Twilio kept in Tollgate; with `point_webhooks`, each
/// number's SMS and voice webhooks on Twilio then point at Tollgate.
async fn sync_numbers(
    config: &Config,
    store: &dyn Store,
    key: &MasterKey,
    upstream: &tollgate_store::UpstreamRecord,
    point_webhooks: bool,
    actor: &crate::audit::Actor,
    now: i64,
) -> Result<serde_json::Value, StartError> {
    use crate::services::proxy::{INBOUND_SMS_PATH, INBOUND_VOICE_PATH};
    if config.upstream.carrier != crate::state::upstream_client::CarrierKind::Twilio {
        return Err(StartError::Config(vec![
            "syncing numbers needs carrier = \"twilio\" (TOLLGATE_CARRIER=twilio)".into(),
        ]));
    }
    let client = crate::state::upstream_client::UpstreamClient::new(config.upstream.clone())
        .map_err(|e| StartError::Config(vec![format!("upstream: {e}")]))?;
    let aad = |what| crate::state::snapshot::upstream_aad(&upstream.account_sid, what);
    let secret = key
        .open_text(&aad("key"), &upstream.api_key_secret_sealed)
        .map_err(|_| StartError::Runtime("cannot open the upstream key".into()))?;
    let base = client.settings.base_url("api").to_owned();
    let get = |url: String| {
        let request = client
            .http
            .get(url)
            .basic_auth(&upstream.api_key_sid, Some(secret.as_str()));
        async move {
            let response = request
                .send()
                .await
                .map_err(|e| StartError::Runtime(e.without_url().to_string()))?;
            if !response.status().is_success() {
                return Err(StartError::Runtime(format!(
                    "Twilio answered {}",
                    response.status()
                )));
            }
            let body = response
                .bytes()
                .await
                .map_err(|e| StartError::Runtime(e.without_url().to_string()))?;
            serde_json::from_slice::<serde_json::Value>(&body)
                .map_err(|e| StartError::Runtime(e.to_string()))
        }
    };
    let mut url = format!(
        "{base}/2010-04-01/Accounts/{}/IncomingPhoneNumbers.json?PageSize=1000",
        upstream.upstream_account_sid
    );
    let mut remote = Vec::new();
    loop {
        let page = get(url.clone()).await?;
        remote.extend(
            page.get("incoming_phone_numbers")
                .and_then(|v| v.as_array())
                .cloned()
                .unwrap_or_default(),
        );
        match page.get("next_page_uri").and_then(|v| v.as_str()) {
            Some(next) if !next.is_empty() => url = format!("{base}{next}"),
            _ => break,
        }
        if remote.len() > 100_000 {
            break;
        }
    }
    let ours = |u: &str| u.starts_with(&config.public_url);
    let existing = store.all_numbers().await.map_err(runtime("store"))?;
    let (mut imported, mut updated, mut pointed) = (0, 0, 0);
    for n in &remote {
        let field = |name: &str| {
            n.get(name)
                .and_then(|v| v.as_str())
                .filter(|s| !s.is_empty())
        };
        let (Some(phone), Some(sid)) = (field("phone_number"), field("sid")) else {
            continue;
        };
        let current = existing.iter().find(|r| r.phone_number == phone);
        if current.is_some_and(|r| r.account_sid != upstream.account_sid) {
            tracing::warn!(%phone, "the number belongs to another Tollgate account; skipped");
            continue;
        }
        let mut record = current
            .cloned()
            .unwrap_or_else(|| tollgate_store::NumberRecord {
                sid: sid.to_owned(),
                account_sid: upstream.account_sid.clone(),
                phone_number: phone.to_owned(),
                friendly_name: field("friendly_name").unwrap_or(phone).to_owned(),
                sms_url_sealed: None,
                sms_method: "POST".into(),
                voice_url_sealed: None,
                voice_method: "POST".into(),
                status_callback_sealed: None,
                status_callback_method: "POST".into(),
                date_created: now,
                date_updated: now,
            });
        let seal = |url: &str| {
            key.seal(&record.sid, url.as_bytes(), &mut crate::random::OsRandom)
                .ok()
        };
        // The application's own URLs (not those already pointing at Tollgate).
        if let Some(u) = field("sms_url").filter(|u| !ours(u)) {
            record.sms_url_sealed = seal(u);
            record.sms_method = field("sms_method").unwrap_or("POST").to_owned();
        }
        if let Some(u) = field("voice_url").filter(|u| !ours(u)) {
            record.voice_url_sealed = seal(u);
            record.voice_method = field("voice_method").unwrap_or("POST").to_owned();
        }
        record.date_updated = now;
        let event = actor.event(
            now,
            &upstream.account_sid,
            if current.is_some() {
                "incoming-phone-number.updated"
            } else {
                "incoming-phone-number.created"
            },
            ("incoming-phone-number", Some(&record.sid)),
            serde_json::json!({"after": {"phone_number": phone, "source": "upstream sync"}}),
        );
        if current.is_some() {
            store
                .update_number(&record, &[event])
                .await
                .map_err(runtime("store"))?;
            updated += 1;
        } else {
            store
                .insert_number(&record, &[event])
                .await
                .map_err(runtime("store"))?;
            imported += 1;
        }
        if point_webhooks {
            let form = [
                ("SmsUrl", format!("{}{INBOUND_SMS_PATH}", config.public_url)),
                ("SmsMethod", "POST".to_owned()),
                (
                    "VoiceUrl",
                    format!("{}{INBOUND_VOICE_PATH}", config.public_url),
                ),
                ("VoiceMethod", "POST".to_owned()),
            ];
            let response = client
                .http
                .post(format!(
                    "{base}/2010-04-01/Accounts/{}/IncomingPhoneNumbers/{sid}.json",
                    upstream.upstream_account_sid
                ))
                .basic_auth(&upstream.api_key_sid, Some(secret.as_str()))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(
                    form_urlencoded::Serializer::new(String::new())
                        .extend_pairs(&form)
                        .finish(),
                )
                .send()
                .await
                .map_err(|e| StartError::Runtime(e.without_url().to_string()))?;
            if !response.status().is_success() {
                return Err(StartError::Runtime(format!(
                    "Twilio refused to point {phone} at Tollgate ({})",
                    response.status()
                )));
            }
            pointed += 1;
        }
    }
    Ok(
        serde_json::json!({"account_sid": upstream.account_sid, "numbers": remote.len(),
        "imported": imported, "updated": updated, "webhooks_pointed_at_tollgate": pointed}),
    )
}

/// Everything `serve` needs, prepared before any socket is bound.
pub struct Prepared {
    pub app: Arc<App>,
    /// Set when this start initialised an empty store: print it once.
    pub new_credentials: Option<Credentials>,
}

/// Opens the store, initialises it if empty, and loads the snapshot.
pub async fn prepare(config: &Config, clock: Arc<dyn Clock>) -> Result<Prepared, StartError> {
    ensure_data_dir(&config.data_dir)?;
    let store = open_store(config).await?;
    let initialised = store
        .main_account()
        .await
        .map_err(runtime("database"))?
        .is_some();
    let key = master_key(config, !initialised)?;
    let new_credentials = if initialised {
        None
    } else {
        Some(create_main_account(&store, &clock, &key, &config.home_country).await?)
    };
    let webhooks = crate::state::webhook_client::Webhooks::new(config.webhooks.clone())
        .map_err(|e| StartError::Config(vec![format!("webhooks: {e}")]))?;
    let upstream = match config.upstream.carrier {
        crate::state::upstream_client::CarrierKind::Twilio => Some(
            crate::state::upstream_client::UpstreamClient::new(config.upstream.clone())
                .map_err(|e| StartError::Config(vec![format!("upstream: {e}")]))?,
        ),
        crate::state::upstream_client::CarrierKind::Sandbox => None,
    };
    let classifier = Arc::new(tollgate_numbering::Classifier::with_tables(
        config.tollfraud.clone(),
        config.special.clone(),
    ));
    let app = App::load(
        store,
        clock,
        key,
        config.public_url.clone(),
        webhooks,
        classifier,
        crate::app::TrafficParts {
            traffic: crate::state::traffic::Traffic::new(config.prices.clone()),
            sandbox: crate::state::sandbox::Sandbox::new(config.sandbox),
            max_call_seconds: config.max_call_seconds,
            verify_code_ttl_ms: i64::from(config.verify_code_ttl_seconds) * 1000,
            auth_limits: config.auth,
            upstream,
        },
    )
    .await
    .map_err(|e| match e {
        LoadError::MasterKey(_) => StartError::Config(vec![e.to_string()]),
        LoadError::Store(_) => StartError::Runtime(e.to_string()),
    })?;
    // Spend counters start from this month's billed traffic.
    let month = tollgate_types::Timestamp(app.clock.now().0)
        .start_of_month()
        .0;
    let spent = app
        .store
        .spend_since(month)
        .await
        .map_err(runtime("reading this month's spend"))?;
    let snapshot = app.snapshot();
    for (account, country, at, price) in spent {
        if let Some(entry) = snapshot.accounts.get(&account) {
            app.traffic
                .add_spend(&snapshot.chain(entry), &country, price, at);
        }
    }
    for (account, number) in app
        .store
        .known_numbers()
        .await
        .map_err(runtime("reading known senders"))?
    {
        app.traffic.add_known(&account, &number);
    }
    // Sticky senders survive a restart: each recipient keeps its sender.
    let recent = app
        .store
        .recent_service_senders(crate::state::traffic::STICKY_CAPACITY as i64)
        .await
        .map_err(runtime("reading sticky senders"))?;
    app.traffic.restore_sticky(recent);
    app.verify
        .load(app.store.as_ref(), app.clock.now().0)
        .await
        .map_err(runtime("reading Verify services and Fraud Guard blocks"))?;
    let app = Arc::new(app);
    // Usage triggers start from the store's usage; one crossed while
    // Tollgate was down (or killed mid-send) fires now, once.
    for trigger in app
        .store
        .all_usage_triggers()
        .await
        .map_err(runtime("reading usage triggers"))?
    {
        if let Err(e) = crate::services::triggers::watch(&app, trigger).await {
            tracing::error!(error = %e, "a usage trigger could not be loaded");
        }
    }
    for alarm in app
        .store
        .all_alarms()
        .await
        .map_err(runtime("reading alarms"))?
    {
        app.alarms.watch(alarm);
    }
    Ok(Prepared {
        app,
        new_credentials,
    })
}

/// Binds and serves until `shutdown` completes; in-flight requests finish.
pub async fn serve(
    config: &Config,
    app: Arc<App>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| StartError::Runtime(format!("cannot listen on {}: {e}", config.listen)))?;
    let local = listener.local_addr().map_err(runtime("listener"))?;
    tracing::info!("tollgate listening on http://{local}");
    // One shutdown signal for the listener and the webhook dispatcher.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let mut audit_tasks = crate::services::audit_tasks::spawn_all(&app, &config.audit, &stop_rx);
    audit_tasks.push(tokio::spawn(
        crate::services::lockdown::follow_outside_changes(app.clone(), stopped(stop_rx.clone())),
    ));
    audit_tasks.push(tokio::spawn(crate::services::sandbox::run(
        app.clone(),
        stopped(stop_rx.clone()),
    )));
    if app.upstream.is_some() {
        audit_tasks.push(tokio::spawn(crate::services::proxy::run_background(
            app.clone(),
            stopped(stop_rx.clone()),
        )));
    }
    audit_tasks.push(tokio::spawn(crate::services::alarms::run(
        app.clone(),
        stopped(stop_rx.clone()),
    )));
    let dispatcher = tokio::spawn(crate::services::webhooks::run_dispatcher(
        app.clone(),
        stopped(stop_rx.clone()),
    ));
    // What a 201 promised before a crash goes on now, once.
    crate::services::unsettled::resume(&app).await;
    crate::http::edge::serve(
        listener,
        crate::http::routes::router(app),
        config.edge,
        stop_rx,
    )
    .await;
    let _ = dispatcher.await;
    for task in audit_tasks {
        let _ = task.await;
    }
    tracing::info!("tollgate stopped");
    Ok(())
}
