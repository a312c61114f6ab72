//! Group commit for traffic records: concurrent sends queue their writes,
//! one task commits them together (one fsync for many), and each request
//! answers only after its own write is durable.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tollgate_store::{Store, StoreError, WriteOp};

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
    /// Starts the committer on the current runtime.
    pub fn spawn(store: Arc<dyn Store>) -> Writer {
        let (queue, mut rx) = mpsc::channel::<(WriteOp, Option<Done>)>(QUEUE);
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
        Writer { queue }
    }

    /// Writes `op` durably (with whatever else is waiting) and returns then.
    pub async fn write(&self, op: WriteOp) -> Result<(), StoreError> {
        let (done, wait) = oneshot::channel();
        self.queue
            .send((op, Some(done)))
            .await
            .map_err(|_| StoreError::Backend("the writer stopped".into()))?;
        match wait.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(StoreError::Backend(e)),
            Err(_) => Err(StoreError::Backend("the writer stopped".into())),
        }
    }
}

/// Commits the batch in one transaction; if that fails, each write alone,
/// so one bad write fails only its own request.
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
                if let Some(done) = done {
                    let _ = done.send(result);
                }
            }
        }
    }
}
