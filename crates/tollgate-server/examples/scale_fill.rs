//! Fills a data dir made by `tollgate init` to a scale, through the store
//! with the rows and audit events the API would write: SUBACCOUNTS
//! subaccounts of the main account, NUMBERS IncomingPhoneNumbers spread over
//! the main account and its subaccounts, and a few API keys of the main
//! account (for `scripts/bench-writes`).
//! Usage: scale_fill DATA_DIR NUMBERS SUBACCOUNTS
//!
//! Numbers are US numbers +1 NPA NXX XXXX from area code 201 upwards, in
//! order, skipping what the classifier refuses; `scripts/bench-writes` adds
//! its own from area code 312, which this reaches only past ~800 million.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::Arc;

use serde_json::json;
use tollgate_secrets::{MasterKey, generate_key_secret, hash_secret};
use tollgate_server::audit::Actor;
use tollgate_server::http::api::accounts::{default_subaccount_name, new_account};
use tollgate_server::random::{OsRandom, new_sid};
use tollgate_server::{Clock, SystemClock};
use tollgate_store::{ApiKeyRecord, NumberRecord, SqliteStore, Store};
use tollgate_types::SidPrefix;

const USAGE: &str = "usage: scale_fill DATA_DIR NUMBERS SUBACCOUNTS";
/// Writes in flight at once: SQLite commits one at a time, but the pool's
/// connections overlap the rest of the work.
const IN_FLIGHT: usize = 4;
/// API keys of the main account (each costs an argon2 hash).
const KEYS: usize = 3;

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or(USAGE)?;
    let numbers: usize = args.next().ok_or(USAGE)?.parse()?;
    let subaccounts: usize = args.next().ok_or(USAGE)?.parse()?;
    let dir = Path::new(&dir);
    let key = master_key(dir)?;
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.join("tollgate.db")).await?);
    // No migration: the schema stays as `init` made it, so the build that
    // made the data dir (perhaps an older one) can read it.
    let main = store
        .main_account()
        .await?
        .ok_or("no main account: run `tollgate init` first")?;
    // The main account acting through the API, as the audit log records it.
    let actor = Actor {
        sid: Some(main.sid.clone()),
        kind: "account",
        source: "api",
        ip: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
    };
    let ctx = Arc::new(Fill {
        store,
        key,
        actor,
        main: main.sid.clone(),
    });

    let started = std::time::Instant::now();
    let mut owners = vec![main.sid.clone()];
    owners.extend(in_parallel(&ctx, subaccounts, add_subaccount).await?);
    let accounts_done = started.elapsed();
    let owners = Arc::new(owners);
    let phones = Arc::new(us_numbers(numbers));
    let done = in_parallel(&ctx, numbers, move |ctx, i| {
        let (owners, phones) = (owners.clone(), phones.clone());
        async move { add_number(&ctx, i, &owners, &phones).await }
    })
    .await?
    .len();
    for i in 0..KEYS {
        add_key(&ctx, i).await?;
    }
    eprintln!(
        "scale_fill: {subaccounts} subaccounts in {:.1} s, {done} numbers and {KEYS} keys in {:.1} s",
        accounts_done.as_secs_f64(),
        (started.elapsed() - accounts_done).as_secs_f64()
    );
    // Into the database file, so a server starting on it does not inherit a
    // write-ahead log of every row (its first commits would checkpoint it).
    rusqlite::Connection::open(dir.join("tollgate.db"))?.query_row(
        "PRAGMA wal_checkpoint(TRUNCATE)",
        [],
        |_| Ok(()),
    )?;
    Ok(())
}

struct Fill {
    store: Arc<dyn Store>,
    key: MasterKey,
    actor: Actor,
    main: String,
}

/// The master key as the server finds it: `TOLLGATE_MASTER_KEY`, else
/// `master.key` in the data dir.
fn master_key(dir: &Path) -> Result<MasterKey, Error> {
    let text = match std::env::var("TOLLGATE_MASTER_KEY") {
        Ok(text) => text,
        Err(_) => std::fs::read_to_string(dir.join("master.key"))?,
    };
    MasterKey::from_hex(&text).map_err(|_| "the master key is not 64 hex characters".into())
}

/// Runs `task(ctx, i)` for every `i` below `n`, `IN_FLIGHT` at a time, and
/// returns their results in order of `i`.
async fn in_parallel<T, F, Fut>(ctx: &Arc<Fill>, n: usize, task: F) -> Result<Vec<T>, Error>
where
    T: Send + 'static,
    F: Fn(Arc<Fill>, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<T, Error>> + Send + 'static,
{
    let task = Arc::new(task);
    let workers: Vec<_> = (0..IN_FLIGHT)
        .map(|w| {
            let (ctx, task) = (ctx.clone(), task.clone());
            tokio::spawn(async move {
                let mut out = Vec::new();
                for i in (w..n).step_by(IN_FLIGHT) {
                    out.push((i, task(ctx.clone(), i).await?));
                }
                Ok::<_, Error>(out)
            })
        })
        .collect();
    let mut all = Vec::with_capacity(n);
    for worker in workers {
        all.extend(worker.await??);
    }
    all.sort_by_key(|(i, _)| *i);
    Ok(all.into_iter().map(|(_, t)| t).collect())
}

/// As `POST /2010-04-01/Accounts.json` without a FriendlyName.
async fn add_subaccount(ctx: Arc<Fill>, _: usize) -> Result<String, Error> {
    let now = SystemClock.now();
    let (record, _token) =
        new_account(&ctx.key, Some(&ctx.main), default_subaccount_name(now), now)?;
    let event = ctx.actor.event(
        now.0,
        &ctx.main,
        "account.created",
        ("account", Some(&record.sid)),
        json!({"after": {"friendly_name": record.friendly_name,
            "status": record.status.as_str(), "owner_account_sid": record.owner_account_sid}}),
    );
    ctx.store.insert_account(&record, &[event]).await?;
    Ok(record.sid)
}

/// `n` distinct US numbers the classifier accepts, in order.
fn us_numbers(n: usize) -> Vec<String> {
    let classifier = tollgate_numbering::Classifier::new();
    (201u32..1000)
        .flat_map(|npa| (200u32..1000).map(move |nxx| (npa, nxx)))
        .flat_map(|(npa, nxx)| (0u32..10_000).map(move |line| format!("+1{npa}{nxx}{line:04}")))
        .filter(|e164| classifier.classify(e164, None).valid)
        .take(n)
        .collect()
}

/// As `POST …/IncomingPhoneNumbers.json` with just `PhoneNumber`, by the
/// main account for one of `owners` (the main account, then its subaccounts)
/// in turn.
async fn add_number(
    ctx: &Fill,
    i: usize,
    owners: &[String],
    phones: &[String],
) -> Result<(), Error> {
    let phone = phones.get(i).ok_or("fewer valid numbers than asked for")?;
    let owner = owners
        .get(i % owners.len().max(1))
        .ok_or("no owner")?
        .clone();
    let now = SystemClock.now().0;
    let record = NumberRecord {
        sid: new_sid(SidPrefix::PhoneNumber).to_string(),
        account_sid: owner,
        phone_number: phone.clone(),
        friendly_name: phone.clone(),
        sms_url_sealed: None,
        sms_method: "POST".into(),
        voice_url_sealed: None,
        voice_method: "POST".into(),
        status_callback_sealed: None,
        status_callback_method: "POST".into(),
        date_created: now,
        date_updated: now,
    };
    let event = ctx.actor.event(
        now,
        &record.account_sid,
        "incoming-phone-number.created",
        ("incoming-phone-number", Some(&record.sid)),
        json!({"after": {"phone_number": record.phone_number}}),
    );
    ctx.store.insert_number(&record, &[event]).await?;
    Ok(())
}

/// As `POST …/Keys.json` with a FriendlyName, on the main account.
async fn add_key(ctx: &Fill, i: usize) -> Result<(), Error> {
    let secret = generate_key_secret(&mut OsRandom);
    let now = SystemClock.now().0;
    let record = ApiKeyRecord {
        sid: new_sid(SidPrefix::ApiKey).to_string(),
        account_sid: ctx.main.clone(),
        friendly_name: format!("scale-fill {i}"),
        secret_hash: hash_secret(&secret, &mut OsRandom)?,
        date_created: now,
        date_updated: now,
    };
    let event = ctx.actor.event(
        now,
        &record.account_sid,
        "account-keys.created",
        ("account-keys", Some(&record.sid)),
        json!({"after": {"friendly_name": record.friendly_name}}),
    );
    ctx.store.insert_api_key(&record, &[event]).await?;
    Ok(())
}
