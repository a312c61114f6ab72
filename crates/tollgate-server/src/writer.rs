//! Group commit for traffic records: concurrent sends queue their writes,
//! one committer writes them together (one fsync for many), and each request
//! answers only after its own write is durable. On SQLite the committer is a
//! thread that owns its connection (no hand-off per statement); on
//! PostgreSQL it is a task using the pool.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tollgate_store::{BatchWriter, Store, StoreError, WriteOp};

/// Most writes in one transaction.
const MAX_BATCH: usize = 512;
/// Writes that may wait for the committer before senders wait too.
const QUEUE: usize = 8_192;

type Done = oneshot::Sender<Result<(), String>>;

#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<(WriteOp, Option<Done>)>,
}

impl Writer {
    /// Starts the committer: a thread when the store offers a blocking
    /// writer, else a task on the current runtime.
    pub fn spawn(store: Arc<dyn Store>) -> Result<Writer, StoreError> {
        let (queue, mut rx) = mpsc::channel::<(WriteOp, Option<Done>)>(QUEUE);
        if let Some(mut writer) = store.batch_writer()? {
            std::thread::Builder::new()
                .name("tollgate-writer".into())
                .spawn(move || {
                    let mut batch: Vec<(WriteOp, Option<Done>)> = Vec::with_capacity(MAX_BATCH);
                    while let Some(first) = rx.blocking_recv() {
                        batch.push(first);
                        while batch.len() < MAX_BATCH {
                            match rx.try_recv() {
                                Ok(next) => batch.push(next),
                                Err(_) => break,
                            }
                        }
                        commit_blocking(writer.as_mut(), &mut batch);
                    }
                })
                .map_err(|e| StoreError::Backend(format!("cannot start the writer thread: {e}")))?;
            return Ok(Writer { queue });
        }
        tokio::spawn(async move {
            let mut batch: Vec<(WriteOp, Option<Done>)> = Vec::with_capacity(MAX_BATCH);
            while let Some(first) = rx.recv().await {
                batch.push(first);
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(next) => batch.push(next),
                        Err(_) => break,
                    }
                }
                commit(store.as_ref(), &mut batch).await;
            }
        });
        Ok(Writer { queue })
    }

    /// Queues `op` without waiting for it (alerts). Dropped, with a warning,
    /// if the queue is full: the send path must not wait on an alert.
    pub fn submit(&self, op: WriteOp) {
        if self.queue.try_send((op, None)).is_err() {
            tracing::warn!("the write queue is full; an alert was dropped");
        }
    }

    /// Writes `ops` durably, in order, and returns when the last is written.
    /// The result is the last op's; an earlier op that fails is logged.
    pub async fn write_all(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        let (done, wait) = oneshot::channel();
        let mut done = Some(done);
        let last = ops.len().saturating_sub(1);
        for (i, op) in ops.into_iter().enumerate() {
            let done = if i == last { done.take() } else { None };
            self.queue
                .send((op, done))
                .await
                .map_err(|_| StoreError::Backend("the writer stopped".into()))?;
        }
        if done.is_some() {
            return Ok(());
        }
        outcome(wait).await
    }

    /// Writes `op` durably (with whatever else is waiting) and returns then.
    pub async fn write(&self, op: WriteOp) -> Result<(), StoreError> {
        let (done, wait) = oneshot::channel();
        self.queue
            .send((op, Some(done)))
            .await
            .map_err(|_| StoreError::Backend("the writer stopped".into()))?;
        outcome(wait).await
    }
}

/// What the committer reported for a write.
async fn outcome(wait: oneshot::Receiver<Result<(), String>>) -> Result<(), StoreError> {
    match wait.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(StoreError::Backend(e)),
        Err(_) => Err(StoreError::Backend("the writer stopped".into())),
    }
}

/// Commits the batch in one transaction; if that fails, each write alone,
/// so one bad write fails only its own request.
fn commit_blocking(writer: &mut dyn BatchWriter, batch: &mut Vec<(WriteOp, Option<Done>)>) {
    let (ops, dones): (Vec<WriteOp>, Vec<Option<Done>>) = batch.drain(..).unzip();
    let together = writer.write_batch(&ops);
    for (op, done) in ops.iter().zip(dones) {
        let result = match &together {
            Ok(()) => Ok(()),
            Err(_) => writer
                .write_batch(std::slice::from_ref(op))
                .map_err(|e| e.to_string()),
        };
        report(done, result);
    }
}

/// Tells the waiting request; a write nobody waits for is logged if it failed.
fn report(done: Option<Done>, result: Result<(), String>) {
    match (done, result) {
        (Some(done), result) => {
            let _ = done.send(result);
        }
        (None, Err(e)) => tracing::error!(error = %e, "a queued write failed"),
        (None, Ok(())) => {}
    }
}

/// As [`commit_blocking`], through the store's async batch.
async fn commit(store: &dyn Store, batch: &mut Vec<(WriteOp, Option<Done>)>) {
    // Inserts first (a stable partition: an update still follows its insert,
    // and updates of one row keep their order), so inserts form one statement.
    batch.sort_by_key(|(op, _)| !matches!(op, WriteOp::InsertMessage(_) | WriteOp::InsertCall(_)));
    let ops: Vec<WriteOp> = batch.iter().map(|(op, _)| op.clone()).collect();
    match store.write_batch(&ops).await {
        Ok(()) => {
            for (_, done) in batch.drain(..) {
                if let Some(done) = done {
                    let _ = done.send(Ok(()));
                }
            }
        }
        Err(_) => {
            for (op, done) in batch.drain(..) {
                let result = store
                    .write_batch(std::slice::from_ref(&op))
                    .await
                    .map_err(|e| e.to_string());
                report(done, result);
            }
        }
    }
}
