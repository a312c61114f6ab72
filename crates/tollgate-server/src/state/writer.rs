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
/// Background writes (final statuses, alerts) in a transaction that also
/// carries writes a request waits for: a request never waits behind a whole
/// round of status updates.
const BACKGROUND_BESIDE_REQUESTS: usize = 32;
/// Background writes taken off the queue ahead of the committer.
const BACKGROUND_AHEAD: usize = 4_096;
/// Writes that may wait for the committer before senders wait too.
const QUEUE: usize = 8_192;

type Done = oneshot::Sender<Result<(), String>>;

/// A queued write: the op, who waits for it, and whether a request waits
/// (`urgent`) or the write is background work (final statuses, alerts).
struct Queued {
    op: WriteOp,
    done: Option<Done>,
    urgent: bool,
}

#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<Queued>,
}

/// What the committer holds between transactions. Requests' writes keep
/// their order, background writes keep theirs; a request's insert is
/// durable before its message reaches the carrier, so a background update of
/// a row never overtakes the row's insert.
#[derive(Default)]
struct Pending {
    urgent: Vec<(WriteOp, Option<Done>)>,
    background: std::collections::VecDeque<(WriteOp, Option<Done>)>,
}

impl Pending {
    fn push(&mut self, q: Queued) {
        if q.urgent {
            self.urgent.push((q.op, q.done));
        } else {
            self.background.push_back((q.op, q.done));
        }
    }

    fn is_empty(&self) -> bool {
        self.urgent.is_empty() && self.background.is_empty()
    }

    /// Room to take more off the queue.
    fn has_room(&self) -> bool {
        self.urgent.len() < MAX_BATCH && self.background.len() < BACKGROUND_AHEAD
    }

    /// The next transaction: every waiting request's write (up to the batch
    /// size) and a bounded share of background writes.
    fn next_batch(&mut self, batch: &mut Vec<(WriteOp, Option<Done>)>) {
        let urgent = self.urgent.len().min(MAX_BATCH);
        batch.extend(self.urgent.drain(..urgent));
        let share = if urgent > 0 {
            BACKGROUND_BESIDE_REQUESTS
        } else {
            MAX_BATCH
        };
        let background = self.background.len().min(share);
        batch.extend(self.background.drain(..background));
    }
}

impl Writer {
    /// Starts the committer: a thread when the store offers a blocking
    /// writer, else a task on the current runtime.
    pub fn spawn(store: Arc<dyn Store>) -> Result<Writer, StoreError> {
        let (queue, mut rx) = mpsc::channel::<Queued>(QUEUE);
        if let Some(mut writer) = store.batch_writer()? {
            std::thread::Builder::new()
                .name("tollgate-writer".into())
                .spawn(move || {
                    let mut pending = Pending::default();
                    let mut batch: Vec<(WriteOp, Option<Done>)> = Vec::with_capacity(MAX_BATCH);
                    loop {
                        if pending.is_empty() {
                            match rx.blocking_recv() {
                                Some(first) => pending.push(first),
                                None => return,
                            }
                        }
                        while pending.has_room() {
                            match rx.try_recv() {
                                Ok(next) => pending.push(next),
                                Err(_) => break,
                            }
                        }
                        pending.next_batch(&mut batch);
                        commit_blocking(writer.as_mut(), &mut batch);
                    }
                })
                .map_err(|e| StoreError::Backend(format!("cannot start the writer thread: {e}")))?;
            return Ok(Writer { queue });
        }
        tokio::spawn(async move {
            let mut batch: Vec<(WriteOp, Option<Done>)> = Vec::with_capacity(MAX_BATCH);
            while let Some(first) = rx.recv().await {
                batch.push((first.op, first.done));
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(next) => batch.push((next.op, next.done)),
                        Err(_) => break,
                    }
                }
                commit(store.as_ref(), &mut batch).await;
            }
        });
        Ok(Writer { queue })
    }

    async fn send(&self, op: WriteOp, done: Option<Done>, urgent: bool) -> Result<(), StoreError> {
        self.queue
            .send(Queued { op, done, urgent })
            .await
            .map_err(|_| StoreError::Backend("the writer stopped".into()))
    }

    /// Queues `op` without waiting for it (alerts). Dropped, with a warning,
    /// if the queue is full: the send path must not wait on an alert.
    pub fn submit(&self, op: WriteOp) {
        let queued = Queued {
            op,
            done: None,
            urgent: false,
        };
        if self.queue.try_send(queued).is_err() {
            tracing::warn!("the write queue is full; an alert was dropped");
        }
    }

    /// Writes `ops` durably, in order, as background work, and returns when
    /// the last is written. The result is the last op's; an earlier op that
    /// fails is logged.
    pub async fn write_all(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        let (done, wait) = oneshot::channel();
        let mut done = Some(done);
        let last = ops.len().saturating_sub(1);
        for (i, op) in ops.into_iter().enumerate() {
            let done = if i == last { done.take() } else { None };
            self.send(op, done, false).await?;
        }
        if done.is_some() {
            return Ok(());
        }
        outcome(wait).await
    }

    /// Writes `op` durably (with whatever else is waiting) and returns then:
    /// a request's write, which goes ahead of background writes.
    pub async fn write(&self, op: WriteOp) -> Result<(), StoreError> {
        let (done, wait) = oneshot::channel();
        self.send(op, Some(done), true).await?;
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
