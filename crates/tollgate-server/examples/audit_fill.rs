//! Appends N audit events to a data dir's SQLite database through the real
//! append path (for `scripts/bench-audit-verify`).
//! Usage: audit_fill DATA_DIR N

use std::sync::Arc;

use tollgate_server::audit::Actor;
use tollgate_store::{SqliteStore, Store};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or("usage: audit_fill DATA_DIR N")?;
    let n: usize = args.next().ok_or("usage: audit_fill DATA_DIR N")?.parse()?;
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&std::path::Path::new(&dir).join("tollgate.db")).await?);
    store.migrate().await?;
    let actor = Actor::tollgate();
    let mut done = 0;
    while done < n {
        let batch: Vec<_> = (done..n.min(done + 1000))
            .map(|i| {
                actor.event(
                    1_700_000_000_000 + i64::try_from(i).unwrap_or(0),
                    "ACbench0000000000000000000000000000",
                    "account-keys.updated",
                    ("account-keys", Some("SKbench0000000000000000000000000000")),
                    serde_json::json!({"before": {"friendly_name": format!("k{i}")},
                                       "after": {"friendly_name": format!("k{}", i + 1)}}),
                )
            })
            .collect();
        store.append_audit(&batch).await?;
        done += batch.len();
    }
    println!("{done}");
    Ok(())
}
