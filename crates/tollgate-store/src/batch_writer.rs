//! Batched traffic writes on a dedicated SQLite connection (rusqlite, prepared
//! statements), for a writer thread that owns it. sqlx's SQLite driver hands
//! every statement to a worker thread and back; under load those hand-offs,
//! not the SQL, were the cost (docs/benchmarks-history.md, message creates,
//! session 3). PostgreSQL keeps the async path.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, ToSql};

use crate::sql::{
    DELETE_INTENT, INSERT_ALERT, INSERT_CALL, INSERT_INTENT, INSERT_MESSAGE, INSERT_WEBHOOK,
    UPDATE_CALL, UPDATE_MESSAGE,
};
use crate::{AlertRecord, CallRecord, MessageRecord, Result, StoreError, WebhookRecord, WriteOp};

/// Writes batches of [`WriteOp`] in one transaction each. Blocking: run it on
/// a thread of its own.
pub trait BatchWriter: Send {
    /// Applies every op in one transaction; on error none is applied.
    fn write_batch(&mut self, ops: &[WriteOp]) -> Result<()>;
}

pub(crate) struct SqliteBatchWriter {
    conn: Connection,
    /// Each statement's parameter indices for `$1`, `$2`, …, looked up once
    /// (by name, the shared SQL's placeholders), keyed by the SQL's address.
    indices: std::collections::HashMap<usize, Vec<usize>>,
}

impl SqliteBatchWriter {
    /// Opens a second connection to the (migrated) database at `path`, with
    /// the pool's durability settings: WAL and `synchronous=FULL`.
    pub(crate) fn open(path: &Path) -> Result<SqliteBatchWriter> {
        let conn = Connection::open(path).map_err(backend)?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(backend)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
        )
        .map_err(backend)?;
        Ok(SqliteBatchWriter {
            conn,
            indices: std::collections::HashMap::new(),
        })
    }
}

fn backend(e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, msg)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE =>
        {
            StoreError::Conflict(msg.clone().unwrap_or_else(|| e.to_string()))
        }
        _ => StoreError::Backend(e.to_string()),
    }
}

impl BatchWriter for SqliteBatchWriter {
    fn write_batch(&mut self, ops: &[WriteOp]) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(backend)?;
        // One transaction: a group is as atomic inside it as alone.
        for op in crate::flatten(ops) {
            write_one(&tx, &mut self.indices, op)?;
        }
        tx.commit().map_err(backend)
    }
}

fn write_one(
    tx: &rusqlite::Transaction<'_>,
    ix: &mut std::collections::HashMap<usize, Vec<usize>>,
    op: &WriteOp,
) -> Result<()> {
    match op {
        WriteOp::InsertMessage(m) => execute(tx, ix, INSERT_MESSAGE, &insert_message(m)),
        WriteOp::UpdateMessage(m) => execute(tx, ix, UPDATE_MESSAGE, &update_message(m)),
        WriteOp::InsertCall(c) => execute(tx, ix, INSERT_CALL, &insert_call(c)),
        WriteOp::UpdateCall(c) => execute(tx, ix, UPDATE_CALL, &update_call(c)),
        WriteOp::InsertAlert(a) => execute(tx, ix, INSERT_ALERT, &insert_alert(a)),
        WriteOp::EnqueueWebhook(w) => execute(tx, ix, INSERT_WEBHOOK, &insert_webhook(w)),
        WriteOp::InsertIntent(i) => execute(
            tx,
            ix,
            INSERT_INTENT,
            &[
                &i.local_sid,
                &i.account_sid,
                &i.kind,
                &i.to_number,
                &i.from_number,
                &i.body_key,
                &i.idempotency_key,
                &i.node,
                &i.date_created,
            ],
        ),
        WriteOp::DeleteIntent(sid) => execute(tx, ix, DELETE_INTENT, &[sid]),
        WriteOp::Group(inner) => inner.iter().try_for_each(|op| write_one(tx, ix, op)),
    }
}

fn status_sql(status: crate::DeliveryStatus) -> &'static dyn ToSql {
    match status {
        crate::DeliveryStatus::Queued => &"queued",
        crate::DeliveryStatus::Delivered => &"delivered",
        crate::DeliveryStatus::Failed => &"failed",
    }
}

fn insert_webhook(w: &WebhookRecord) -> [&dyn ToSql; 16] {
    [
        &w.sid,
        &w.account_sid,
        &w.url_sealed,
        &w.url_redacted,
        &w.method,
        &w.content_type,
        &w.body,
        status_sql(w.status),
        &w.attempts,
        &w.next_attempt_at,
        &w.lease_until,
        &w.last_response_code,
        &w.last_error,
        &w.date_created,
        &w.date_updated,
        &w.ordering_key,
    ]
}

/// `$1`, `$2`, … : the shared SQL's placeholders, which SQLite treats as
/// names (an UPDATE's do not appear in numeric order, so bind by name).
const PLACEHOLDERS: [&str; 20] = [
    "$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8", "$9", "$10", "$11", "$12", "$13", "$14", "$15",
    "$16", "$17", "$18", "$19", "$20",
];

fn execute(
    tx: &rusqlite::Transaction<'_>,
    indices: &mut std::collections::HashMap<usize, Vec<usize>>,
    sql: &'static str,
    params: &[&dyn ToSql],
) -> Result<()> {
    let mut stmt = tx.prepare_cached(sql).map_err(backend)?;
    let known = match indices.entry(sql.as_ptr() as usize) {
        std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
        std::collections::hash_map::Entry::Vacant(e) => {
            let mut found = Vec::with_capacity(params.len());
            for name in PLACEHOLDERS.iter().take(params.len()) {
                let Some(index) = stmt.parameter_index(name).map_err(backend)? else {
                    return Err(StoreError::Backend(format!("no parameter {name} in {sql}")));
                };
                found.push(index);
            }
            e.insert(found)
        }
    };
    for (index, value) in known.iter().zip(params) {
        stmt.raw_bind_parameter(*index, value).map_err(backend)?;
    }
    stmt.raw_execute().map_err(backend)?;
    Ok(())
}

fn insert_message(m: &MessageRecord) -> [&dyn ToSql; 20] {
    [
        &m.sid,
        &m.account_sid,
        &m.messaging_service_sid,
        &m.direction,
        &m.from_number,
        &m.to_number,
        &m.body,
        &m.status,
        &m.num_segments,
        &m.price_micros,
        &m.country,
        &m.error_code,
        &m.error_message,
        &m.rule,
        &m.status_callback_sealed,
        &m.date_created,
        &m.date_updated,
        &m.date_sent,
        &m.carrier_node,
        &m.resume_sealed,
    ]
}

fn update_message(m: &MessageRecord) -> [&dyn ToSql; 10] {
    [
        &m.account_sid,
        &m.sid,
        &m.status,
        &m.price_micros,
        &m.error_code,
        &m.error_message,
        &m.body,
        &m.from_number,
        &m.date_updated,
        &m.date_sent,
    ]
}

fn insert_call(c: &CallRecord) -> [&dyn ToSql; 19] {
    [
        &c.sid,
        &c.account_sid,
        &c.direction,
        &c.from_number,
        &c.to_number,
        &c.status,
        &c.time_limit,
        &c.duration,
        &c.start_time,
        &c.end_time,
        &c.price_micros,
        &c.country,
        &c.error_code,
        &c.rule,
        &c.status_callback_sealed,
        &c.date_created,
        &c.date_updated,
        &c.carrier_node,
        &c.resume_sealed,
    ]
}

fn update_call(c: &CallRecord) -> [&dyn ToSql; 9] {
    [
        &c.account_sid,
        &c.sid,
        &c.status,
        &c.duration,
        &c.start_time,
        &c.end_time,
        &c.price_micros,
        &c.error_code,
        &c.date_updated,
    ]
}

fn insert_alert(a: &AlertRecord) -> [&dyn ToSql; 9] {
    [
        &a.sid,
        &a.account_sid,
        &a.error_code,
        &a.log_level,
        &a.alert_text,
        &a.request_method,
        &a.request_url,
        &a.resource_sid,
        &a.date_created,
    ]
}
