//! The floor under `scripts/bench-messages`: what a durable message create
//! costs with no pipeline at all. It parses the form as Tollgate does,
//! inserts one message row through Tollgate's group-commit writer (SQLite,
//! WAL, `synchronous=FULL`) and answers 201 with a small JSON body once the
//! row is on disk. No auth, no policy, no carrier, no status update.
//! Usage: durable_floor 127.0.0.1:18184 /path/to/empty/dir

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use tollgate_server::http::wire::Params;
use tollgate_server::random::new_ordered_sid;
use tollgate_server::state::writer::Writer;
use tollgate_server::{Clock, SystemClock};
use tollgate_store::{MessageRecord, SqliteStore, Store, WriteOp};
use tollgate_types::SidPrefix;

async fn create(State(writer): State<Arc<Writer>>, body: Bytes) -> (StatusCode, String) {
    let params = Params::parse(&body);
    let now = SystemClock.now().0;
    let sid = new_ordered_sid(SidPrefix::Message, now).to_string();
    let record = MessageRecord {
        sid: sid.clone(),
        account_sid: format!("AC{}", "0".repeat(32)),
        messaging_service_sid: None,
        direction: "outbound-api".into(),
        from_number: params.get("From").unwrap_or_default().to_owned(),
        to_number: params.get("To").unwrap_or_default().to_owned(),
        body: params.get("Body").map(str::to_owned),
        status: "queued".into(),
        num_segments: 1,
        price_micros: None,
        country: None,
        error_code: None,
        error_message: None,
        rule: None,
        status_callback_sealed: None,
        date_created: now,
        date_updated: now,
        date_sent: None,
        carrier_node: None,
        resume_sealed: None,
    };
    let answer = serde_json::json!({
        "sid": sid,
        "to": record.to_number,
        "from": record.from_number,
        "body": record.body,
        "status": "queued",
    })
    .to_string();
    match writer.write(WriteOp::InsertMessage(record)).await {
        Ok(()) => (StatusCode::CREATED, answer),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:18184".into());
    let dir = std::path::PathBuf::from(args.next().ok_or("a data directory is needed")?);
    std::fs::create_dir_all(&dir)?;
    let store = SqliteStore::open(&dir.join("floor.db")).await?;
    store.migrate().await?;
    let store: Arc<dyn Store> = Arc::new(store);
    let writer = Arc::new(Writer::spawn(store)?);
    let app = Router::new()
        .route("/Messages.json", post(create))
        .with_state(writer);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
