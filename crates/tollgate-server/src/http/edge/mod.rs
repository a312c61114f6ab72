//! The HTTP listener: accepts connections up to a cap (and a cap per
//! source address), serves each with hyper's HTTP/1 under a header-read and
//! an idle timeout, and applies the per-request limits of [`requests`].
//!
//! At the cap the listener stops accepting: new connections wait in the
//! kernel's listen backlog until one closes, and a warning is logged once.
//! A source over its own cap is answered 429 (Twilio's JSON) and closed.
//! On shutdown the listener closes, idle connections close, and requests in
//! flight finish.

pub mod conn;
pub mod requests;
pub mod sources;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tower::ServiceExt;

use conn::{Activity, Watched};
use sources::{SourceSlot, Sources};

/// Connection limits and timeouts (config: `max_connections`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdgeSettings {
    /// Open connections at most; more wait in the listen backlog.
    pub max_connections: u32,
    /// Open connections per source address (IPv6: per /64); 0: no cap.
    pub max_connections_per_ip: u32,
    /// A new connection's first request head, and any later request head
    /// from its first byte, must arrive within this.
    pub header_read_timeout: Duration,
    /// A keep-alive connection with no request is closed after this.
    pub idle_timeout: Duration,
    /// Reading a request's body and answering it take at most this.
    pub request_timeout: Duration,
    /// The request line and headers take at most this many bytes.
    pub max_header_bytes: u32,
}

/// Open files the process needs besides connections, at least (database,
/// logs, webhook deliveries, refusals in progress).
pub const RESERVED_FILES: u64 = 64;
/// The default connection cap where the open-file limit allows it.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 1024;

impl EdgeSettings {
    /// The default cap: 1024, or three quarters of the open-file limit
    /// `nofile` when that is lower, leaving at least [`RESERVED_FILES`].
    pub fn default_max_connections(nofile: Option<u64>) -> u32 {
        let fits = nofile.map_or(u64::from(DEFAULT_MAX_CONNECTIONS), |n| {
            (n.saturating_mul(3) / 4).min(n.saturating_sub(RESERVED_FILES))
        });
        u32::try_from(fits.min(u64::from(DEFAULT_MAX_CONNECTIONS)))
            .unwrap_or(DEFAULT_MAX_CONNECTIONS)
            .max(1)
    }

    /// The defaults for an open-file limit of `nofile`.
    pub fn defaults(nofile: Option<u64>) -> EdgeSettings {
        let max_connections = EdgeSettings::default_max_connections(nofile);
        EdgeSettings {
            max_connections,
            max_connections_per_ip: (max_connections / 4).max(1),
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(30),
            max_header_bytes: 16 * 1024,
        }
    }
}

/// The soft limit on open files (`RLIMIT_NOFILE`), where it can be read.
pub fn open_file_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let soft = line
        .trim_start_matches("Max open files")
        .split_whitespace()
        .next()?;
    soft.parse().ok()
}

/// `router` with the per-request limits every route meets.
pub fn with_request_limits(router: Router, settings: &EdgeSettings) -> Router {
    router.layer(axum::middleware::from_fn_with_state(
        settings.request_timeout,
        requests::guard,
    ))
}

/// A warning logged at most once a minute, with how often it happened.
struct Occasional {
    last: Option<tokio::time::Instant>,
    times: u64,
}

impl Occasional {
    const PERIOD: Duration = Duration::from_secs(60);

    fn new() -> Occasional {
        Occasional {
            last: None,
            times: 0,
        }
    }

    /// Counts one occurrence; `Some(count since the last log)` when it is
    /// time to log.
    fn due(&mut self) -> Option<u64> {
        self.times = self.times.saturating_add(1);
        let now = tokio::time::Instant::now();
        if self.last.is_some_and(|last| now < last + Self::PERIOD) {
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.times))
    }
}

/// Refusals answered at once at most; more are closed without an answer.
const REFUSALS_IN_FLIGHT: usize = 64;

/// Serves `router` on `listener` until `stop` turns true, then waits for the
/// open connections to finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    settings: EdgeSettings,
    mut stop: watch::Receiver<bool>,
) {
    if let Some(nofile) = open_file_limit()
        && u64::from(settings.max_connections).saturating_add(RESERVED_FILES) > nofile
    {
        tracing::warn!(
            max_connections = settings.max_connections,
            open_file_limit = nofile,
            "max_connections leaves fewer than {RESERVED_FILES} open files for the database, logs and webhooks; lower it or raise the open-file limit (ulimit -n)"
        );
    }
    let router = with_request_limits(router, &settings);
    let slots = Arc::new(Semaphore::new(settings.max_connections as usize));
    let sources = Arc::new(Sources::new(settings.max_connections_per_ip as usize));
    let refusals = Arc::new(Semaphore::new(REFUSALS_IN_FLIGHT));
    let (mut at_cap, mut over_source_cap, mut accept_failed) =
        (Occasional::new(), Occasional::new(), Occasional::new());
    loop {
        let permit = match slots.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                if let Some(times) = at_cap.due() {
                    tracing::warn!(
                        max_connections = settings.max_connections,
                        times,
                        "connection limit reached: new connections wait in the listen backlog until one closes"
                    );
                }
                let permit = tokio::select! {
                    permit = slots.clone().acquire_owned() => permit,
                    _ = stop.wait_for(|s| *s) => break,
                };
                let Ok(permit) = permit else { break };
                permit
            }
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|s| *s) => break,
        };
        let (stream, remote) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors, or a connection reset before
                // it was accepted: wait a little rather than spin.
                if let Some(times) = accept_failed.due() {
                    tracing::warn!(error = %e, times, "accepting a connection failed");
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let slot = match sources.admit(remote.ip()) {
            Ok(slot) => slot,
            Err(refused) => {
                if let Some(times) = over_source_cap.due() {
                    tracing::warn!(
                        source = %refused.0,
                        max_connections_per_ip = settings.max_connections_per_ip,
                        times,
                        "a source reached its connection cap: more connections from it are refused with 429"
                    );
                }
                refuse(stream, &refusals);
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(serve_connection(
            stream,
            remote,
            router.clone(),
            settings,
            stop.clone(),
            (permit, slot),
        ));
    }
    drop(listener);
    // Every connection holds a permit until it ends.
    let _ = slots.acquire_many(settings.max_connections).await;
}

/// Serves one connection until it ends, its deadline passes, or shutdown
/// lets it finish.
async fn serve_connection(
    stream: TcpStream,
    remote: SocketAddr,
    router: Router,
    settings: EdgeSettings,
    mut stop: watch::Receiver<bool>,
    _held: (OwnedSemaphorePermit, Option<SourceSlot>),
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched::new(stream, activity.clone()));
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            let busy = activity.begin();
            request.extensions_mut().insert(ConnectInfo(remote));
            let call = router.clone().oneshot(request.map(Body::new));
            async move {
                let response = call.await;
                drop(busy);
                response
            }
        })
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        // hyper refuses less than 8192 (config validation does too).
        .max_buf_size((settings.max_header_bytes as usize).max(8192))
        // Head and body as separate slices, no copy; hyper's own error
        // answers are a head alone, still recognised and sent as JSON
        // (conn::json_for_automatic_error).
        .writev(true)
        // The watchdog below times heads and idle connections.
        .header_read_timeout(None);
    let connection = builder.serve_connection(io, service);
    tokio::pin!(connection);
    let mut draining = false;
    loop {
        let deadline = activity.deadline(settings.header_read_timeout, settings.idle_timeout);
        let wake = deadline.unwrap_or_else(|| tokio::time::Instant::now() + settings.idle_timeout);
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(%remote, error = %e, "connection ended with an error");
                }
                return;
            }
            () = tokio::time::sleep_until(wake) => {
                let expired = activity
                    .deadline(settings.header_read_timeout, settings.idle_timeout)
                    .is_some_and(|d| d <= tokio::time::Instant::now());
                if expired {
                    tracing::debug!(%remote, "closing a connection: no request within the header-read or idle timeout");
                    return;
                }
            }
            _ = stop.wait_for(|s| *s), if !draining => {
                connection.as_mut().graceful_shutdown();
                draining = true;
            }
        }
    }
}

/// Answers a connection over its source's cap with a 429 and closes it,
/// reading what the client sent meanwhile so the answer is not reset away.
fn refuse(stream: TcpStream, refusals: &Arc<Semaphore>) {
    let Ok(permit) = refusals.clone().try_acquire_owned() else {
        return;
    };
    tokio::spawn(async move {
        let _permit = permit;
        let mut stream = stream;
        let answer = refusal_bytes();
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            stream.write_all(&answer).await?;
            stream.shutdown().await?;
            let mut sink = [0u8; 4096];
            let mut read = 0usize;
            while read < 64 * 1024 {
                match stream.read(&mut sink).await? {
                    0 => break,
                    n => read += n,
                }
            }
            Ok::<_, std::io::Error>(())
        })
        .await;
    });
}

/// The whole HTTP answer to a refused connection.
fn refusal_bytes() -> Vec<u8> {
    let body = crate::error::ApiError::new(
        &tollgate_types::error_code::TOO_MANY_REQUESTS,
        "Too many open connections from this address",
    )
    .body()
    .to_string();
    format!(
        "HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\ncontent-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_cap_fits_the_open_file_limit() {
        assert_eq!(EdgeSettings::default_max_connections(None), 1024);
        assert_eq!(EdgeSettings::default_max_connections(Some(1_048_576)), 1024);
        assert_eq!(EdgeSettings::default_max_connections(Some(1024)), 768);
        assert_eq!(EdgeSettings::default_max_connections(Some(256)), 192);
        assert_eq!(EdgeSettings::default_max_connections(Some(128)), 64);
        assert_eq!(EdgeSettings::default_max_connections(Some(0)), 1);
        for nofile in [100, 256, 1024, 4096, 1 << 20] {
            let cap = u64::from(EdgeSettings::default_max_connections(Some(nofile)));
            assert!(cap + RESERVED_FILES <= nofile, "{nofile}");
        }
        let d = EdgeSettings::defaults(Some(256));
        assert_eq!((d.max_connections, d.max_connections_per_ip), (192, 48));
    }

    #[tokio::test(start_paused = true)]
    async fn warnings_come_at_most_once_a_minute_with_a_count() {
        let mut warn = Occasional::new();
        assert_eq!(warn.due(), Some(1));
        assert_eq!(warn.due(), None);
        assert_eq!(warn.due(), None);
        tokio::time::advance(Duration::from_secs(61)).await;
        assert_eq!(warn.due(), Some(3));
    }

    #[test]
    fn the_refusal_is_a_complete_twilio_answer() {
        let bytes = refusal_bytes();
        let text = String::from_utf8(bytes).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 429 "));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(
            (json["code"].as_u64(), json["status"].as_u64()),
            (Some(20429), Some(429))
        );
    }
}
