//! The audit log's background work: aggregated events (authentication
//! failures, policy blocks), streaming to SIEM sinks (JSON lines file,
//! syslog) after commit, and retention (pruning behind a signed anchor).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tollgate_store::{AuditAnchorRecord, AuditEventRecord, Store};
use tollgate_types::Timestamp;

use crate::app::App;
pub use crate::state::aggregates::Aggregates;
use crate::state::aggregates::FLUSH_EVERY;

/// Where audit events are streamed, and how long they are kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditSettings {
    /// JSON lines, one event per line, rotated at `file_max_bytes`.
    pub file: Option<PathBuf>,
    pub file_max_bytes: u64,
    /// Rotated files kept (`audit.jsonl.1` … `.N`).
    pub file_keep: u32,
    /// RFC 5424 syslog.
    pub syslog: Option<SyslogTarget>,
    /// Days events are kept; 0 keeps them forever.
    pub retention_days: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyslogTarget {
    Udp(String),
    /// Octet-counted frames (RFC 6587).
    Tcp(String),
}

impl SyslogTarget {
    /// `udp://host:port` or `tcp://host:port`.
    pub fn parse(text: &str) -> Result<SyslogTarget, String> {
        let bad = || format!("audit syslog: '{text}' is not udp://host:port or tcp://host:port");
        let (scheme, addr) = text.split_once("://").ok_or_else(bad)?;
        if addr.is_empty() || !addr.contains(':') {
            return Err(bad());
        }
        match scheme {
            "udp" => Ok(SyslogTarget::Udp(addr.to_owned())),
            "tcp" => Ok(SyslogTarget::Tcp(addr.to_owned())),
            _ => Err(bad()),
        }
    }
}

/// Writes the aggregates as events every [`FLUSH_EVERY`] and at shutdown.
pub async fn run_aggregates(app: Arc<App>, stop: impl std::future::Future<Output = ()>) {
    tokio::pin!(stop);
    loop {
        let stopping = tokio::select! {
            () = &mut stop => true,
            () = tokio::time::sleep(FLUSH_EVERY) => false,
        };
        flush_aggregates(&app).await;
        if stopping {
            return;
        }
    }
}

pub async fn flush_aggregates(app: &App) {
    let events = app.audit.drain(app.clock.now().0);
    if events.is_empty() {
        return;
    }
    match app.store.append_audit(&events).await {
        Ok(()) => app.audit.appended.notify_waiters(),
        Err(e) => tracing::error!(error = %e, "cannot record aggregated audit events"),
    }
}

/// One event as a SIEM reads it: Twilio's fields plus its place in the chain.
pub fn siem_json(e: &AuditEventRecord) -> serde_json::Value {
    json!({
        "seq": e.seq,
        "sid": e.sid,
        "account_sid": e.account_sid,
        "actor_sid": e.actor_sid,
        "actor_type": e.actor_type,
        "source": e.source,
        "source_ip_address": e.source_ip_address,
        "event_type": e.event_type,
        "resource_sid": e.resource_sid,
        "resource_type": e.resource_type,
        "event_data": serde_json::from_str::<serde_json::Value>(&e.event_data).unwrap_or(json!({})),
        "event_date": Timestamp(e.event_date).iso8601(),
        "prev_hash": hex::encode(&e.prev_hash),
        "hash": hex::encode(&e.hash),
    })
}

/// An RFC 5424 message: facility 13 (log audit), severity 5 (notice).
pub fn syslog_line(e: &AuditEventRecord, hostname: &str) -> String {
    let msgid: String = e
        .event_type
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(32)
        .collect();
    format!(
        "<109>1 {} {} tollgate - {} - {}",
        Timestamp(e.event_date).iso8601(),
        if hostname.is_empty() { "-" } else { hostname },
        if msgid.is_empty() {
            "-".to_owned()
        } else {
            msgid
        },
        siem_json(e)
    )
}

/// The JSON-lines file sink, rotated by size.
pub struct FileSink {
    path: PathBuf,
    max_bytes: u64,
    keep: u32,
}

impl FileSink {
    pub fn new(path: PathBuf, max_bytes: u64, keep: u32) -> FileSink {
        FileSink {
            path,
            max_bytes,
            keep,
        }
    }

    /// The `seq` of the last complete line already in the file: the sink
    /// resumes after it, so no event is written twice even after a crash
    /// between writing and recording the cursor.
    pub fn last_written(&self) -> Option<i64> {
        let text = std::fs::read(&self.path).ok()?;
        let tail = text.get(text.len().saturating_sub(1 << 16)..)?;
        let tail = String::from_utf8_lossy(tail);
        tail.lines()
            .rev()
            .find_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .and_then(|v| v.get("seq").and_then(serde_json::Value::as_i64))
    }

    fn rotate(&self) -> std::io::Result<()> {
        let numbered = |n: u32| {
            let mut p = self.path.clone().into_os_string();
            p.push(format!(".{n}"));
            PathBuf::from(p)
        };
        if self.keep == 0 {
            return std::fs::remove_file(&self.path);
        }
        let _ = std::fs::remove_file(numbered(self.keep));
        for n in (1..self.keep).rev() {
            let _ = std::fs::rename(numbered(n), numbered(n + 1));
        }
        std::fs::rename(&self.path, numbered(1))
    }

    /// Appends the events (in order), one line each, and syncs.
    pub fn write(&self, events: &[AuditEventRecord]) -> std::io::Result<()> {
        let mut lines = String::new();
        for e in events {
            lines.push_str(&siem_json(e).to_string());
            lines.push('\n');
        }
        let size = std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0);
        if size > 0 && size + lines.len() as u64 > self.max_bytes {
            self.rotate()?;
        }
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true);
        // Audit events name actors and addresses: owner only, as the database.
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&self.path)?;
        file.write_all(lines.as_bytes())?;
        file.sync_data()
    }
}

async fn send_syslog(
    target: &SyslogTarget,
    tcp: &mut Option<tokio::net::TcpStream>,
    events: &[AuditEventRecord],
) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt;
    let host = hostname();
    match target {
        SyslogTarget::Udp(addr) => {
            let socket = tokio::net::UdpSocket::bind(("0.0.0.0", 0)).await?;
            socket.connect(addr).await?;
            for e in events {
                socket.send(syslog_line(e, &host).as_bytes()).await?;
            }
        }
        SyslogTarget::Tcp(addr) => {
            if tcp.is_none() {
                *tcp = Some(tokio::net::TcpStream::connect(addr).await?);
            }
            if let Some(stream) = tcp.as_mut() {
                let mut frames = Vec::new();
                for e in events {
                    let msg = syslog_line(e, &host);
                    frames.extend_from_slice(format!("{} {msg}", msg.len()).as_bytes());
                }
                if let Err(e) = stream.write_all(&frames).await {
                    *tcp = None;
                    return Err(e);
                }
            }
        }
    }
    Ok(())
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default()
}

/// Streams committed events to one sink, in `seq` order, resuming from the
/// sink's cursor. Runs until `stop`.
async fn run_sink(
    app: Arc<App>,
    name: &'static str,
    file: Option<FileSink>,
    syslog: Option<SyslogTarget>,
    stop: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stop);
    let mut tcp = None;
    let mut cursor = match app.store.audit_cursor(name).await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, sink = name, "cannot read the audit sink cursor");
            0
        }
    };
    if let Some(written) = file.as_ref().and_then(FileSink::last_written) {
        cursor = cursor.max(written);
    }
    // At stop, one more pass: events committed just before it still go out.
    let mut stopping = false;
    loop {
        let batch = match app.store.audit_after(cursor, 500).await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, sink = name, "cannot read audit events");
                Vec::new()
            }
        };
        if let Some(last) = batch.last().map(|e| e.seq) {
            let sent = match (&file, &syslog) {
                (Some(f), _) => f.write(&batch),
                (None, Some(target)) => send_syslog(target, &mut tcp, &batch).await,
                (None, None) => Ok(()),
            };
            match sent {
                Ok(()) => {
                    cursor = last;
                    if let Err(e) = app.store.set_audit_cursor(name, cursor).await {
                        tracing::warn!(error = %e, sink = name, "cannot record the audit sink cursor");
                    }
                    continue;
                }
                Err(e) => tracing::warn!(error = %e, sink = name, "audit sink failed; retrying"),
            }
        }
        if stopping {
            return;
        }
        tokio::select! {
            () = &mut stop => stopping = true,
            () = app.audit.appended.notified() => {}
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// Starts the configured sinks, the aggregate flusher and retention.
pub fn spawn_all(
    app: &Arc<App>,
    settings: &AuditSettings,
    stop: &tokio::sync::watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let mut tasks = vec![tokio::spawn(run_aggregates(
        app.clone(),
        stopped(stop.clone()),
    ))];
    if let Some(path) = &settings.file {
        let sink = FileSink::new(path.clone(), settings.file_max_bytes, settings.file_keep);
        tasks.push(tokio::spawn(run_sink(
            app.clone(),
            "file",
            Some(sink),
            None,
            stopped(stop.clone()),
        )));
    }
    if let Some(target) = &settings.syslog {
        tasks.push(tokio::spawn(run_sink(
            app.clone(),
            "syslog",
            None,
            Some(target.clone()),
            stopped(stop.clone()),
        )));
    }
    if settings.retention_days > 0 {
        let app = app.clone();
        let days = settings.retention_days;
        let stop = stopped(stop.clone());
        tasks.push(tokio::spawn(async move {
            tokio::pin!(stop);
            loop {
                if let Err(e) = prune(&app, days).await {
                    tracing::warn!(error = %e, "audit retention did not run");
                }
                tokio::select! {
                    () = &mut stop => return,
                    () = tokio::time::sleep(Duration::from_secs(3600)) => {}
                }
            }
        }));
    }
    tasks
}

/// Deletes events older than `days`, but only after verifying the chain up
/// to the last of them (pruning must not launder tampering), and leaves a
/// signed anchor there so verification still starts from a trusted point.
/// Returns how many events were deleted.
pub async fn prune(app: &App, days: u32) -> Result<u64, String> {
    let cutoff = app.clock.now().0 - i64::from(days) * 86_400_000;
    let key = app.master_key().derive(crate::audit::ANCHOR_KEY);
    prune_before(
        app.store.as_ref(),
        key.as_slice(),
        cutoff,
        app.clock.now().0,
    )
    .await
}

pub async fn prune_before(
    store: &dyn Store,
    key: &[u8],
    cutoff: i64,
    now: i64,
) -> Result<u64, String> {
    let start = crate::audit::trusted_start(store, key)
        .await
        .map_err(|e| e.to_string())?
        .map_err(|b| format!("not pruning: {b}"))?;
    let mut verifier = tollgate_audit::Verifier::new(start);
    let mut after = start.seq;
    'walk: loop {
        let rows = store
            .audit_after(after, 5000)
            .await
            .map_err(|e| e.to_string())?;
        let Some(last) = rows.last().map(|r| r.seq) else {
            break;
        };
        for row in &rows {
            if row.event_date >= cutoff {
                break 'walk;
            }
            verifier
                .push(&row.to_event())
                .map_err(|b| format!("not pruning: the audit chain is broken: {b}"))?;
        }
        after = last;
    }
    let head = verifier.head();
    if head.seq == start.seq {
        return Ok(0);
    }
    let anchor = AuditAnchorRecord {
        seq: head.seq,
        hash: head.hash.to_vec(),
        signature: tollgate_audit::sign_anchor(key, &head).to_vec(),
        date_pruned: now,
    };
    let n = store
        .prune_audit(&anchor)
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(
        deleted = n,
        anchor = head.seq,
        "audit events pruned behind a signed anchor"
    );
    Ok(n)
}

/// The file sink's path relative to the data dir when not absolute.
pub fn resolve(data_dir: &Path, path: &str) -> PathBuf {
    let p = PathBuf::from(path);
    if p.is_absolute() { p } else { data_dir.join(p) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: i64, event_type: &str) -> AuditEventRecord {
        AuditEventRecord {
            seq,
            sid: format!("AE{seq:032x}"),
            account_sid: "AC1".into(),
            actor_sid: None,
            actor_type: "tollgate".into(),
            source: "tollgate".into(),
            source_ip_address: None,
            event_type: event_type.into(),
            resource_sid: None,
            resource_type: "account".into(),
            event_data: "{\"a\":1}".into(),
            event_date: 1_700_000_000_000,
            prev_hash: vec![0; 32],
            hash: vec![1; 32],
        }
    }

    #[test]
    fn syslog_lines_follow_rfc_5424() {
        let line = syslog_line(&record(7, "account.updated"), "gw1");
        assert!(line.starts_with("<109>1 2023-11-14T22:13:20Z gw1 tollgate - account.updated - {"));
        assert!(line.contains("\"seq\":7"));
    }

    #[test]
    fn syslog_targets_parse() {
        assert_eq!(
            SyslogTarget::parse("udp://127.0.0.1:514"),
            Ok(SyslogTarget::Udp("127.0.0.1:514".into()))
        );
        assert_eq!(
            SyslogTarget::parse("tcp://siem:601"),
            Ok(SyslogTarget::Tcp("siem:601".into()))
        );
        assert!(SyslogTarget::parse("http://x:1").is_err());
        assert!(SyslogTarget::parse("udp://nohost").is_err());
    }

    #[test]
    fn the_file_sink_rotates_and_resumes_after_its_last_line() {
        let dir = std::env::temp_dir().join(format!("tollgate-sink-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let sink = FileSink::new(dir.join("audit.jsonl"), 600, 2);
        assert_eq!(sink.last_written(), None);
        for seq in 1..=6 {
            sink.write(&[record(seq, "account.updated")]).unwrap();
        }
        assert_eq!(sink.last_written(), Some(6));
        assert!(dir.join("audit.jsonl.1").exists(), "rotated");
        assert!(!dir.join("audit.jsonl.3").exists(), "keeps 2");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn pruning_leaves_a_signed_anchor_that_verification_starts_from() {
        let dir = std::env::temp_dir().join(format!("tollgate-prune-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let store = tollgate_store::SqliteStore::open(&dir.join("t.db"))
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let events: Vec<_> = (0..10)
            .map(|i| {
                crate::audit::Actor::tollgate().event(
                    1_000 * i,
                    "AC1",
                    "account.updated",
                    ("account", None),
                    json!({"i": i}),
                )
            })
            .collect();
        store.append_audit(&events).await.unwrap();
        let key = [9u8; 32];
        // Events dated before 5,000 go: seq 1..=5.
        assert_eq!(prune_before(&store, &key, 5_000, 99).await.unwrap(), 5);
        assert_eq!(store.audit_anchor().await.unwrap().unwrap().seq, 5);
        let report = crate::audit::verify_chain(&store, &key, None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (report.start.seq, report.head.seq, report.checked),
            (5, 10, 5)
        );
        // A forged anchor (another key) is caught.
        assert!(matches!(
            crate::audit::verify_chain(&store, &[1u8; 32], None)
                .await
                .unwrap(),
            Err(tollgate_audit::Break::BadAnchor { seq: 5 })
        ));
        // Nothing more to prune; a broken chain is never pruned.
        assert_eq!(prune_before(&store, &key, 5_000, 99).await.unwrap(), 0);
        let raw = rusqlite::Connection::open(dir.join("t.db")).unwrap();
        raw.execute(
            "UPDATE audit_events SET event_data = '{}' WHERE seq = 7",
            [],
        )
        .unwrap();
        assert!(prune_before(&store, &key, 9_500, 99).await.is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn aggregates_stay_bounded_and_drain_once() {
        let a = Aggregates::default();
        for i in 0..(crate::state::aggregates::MAX_KEYS + 50) {
            a.auth_failure(
                "AC1",
                Some(std::net::IpAddr::from([
                    10,
                    0,
                    (i / 256) as u8,
                    (i % 256) as u8,
                ])),
            );
        }
        a.blocked("AC1", "geo.country_not_enabled");
        a.blocked("AC1", "geo.country_not_enabled");
        let events = a.drain(5);
        assert_eq!(events.len(), crate::state::aggregates::MAX_KEYS + 1 + 1);
        let block = events
            .iter()
            .find(|e| e.event_type == "tollgate-policy.blocked")
            .unwrap();
        assert!(block.event_data.contains("\"count\":2"));
        assert!(a.drain(6).is_empty());
    }
}
