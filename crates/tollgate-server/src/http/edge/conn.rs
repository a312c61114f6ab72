//! One connection: when it was last active, for the header-read and idle
//! timeouts, and its byte stream, where hyper's own error answers (a request
//! it cannot parse) are rewritten as Twilio's JSON.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::http::StatusCode;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

/// `head_since` when no request head has started.
const NONE: u64 = u64::MAX;

/// What a connection is doing, as the watchdog sees it. All of it is touched
/// by the connection's own task only; atomics keep the service `Send`.
pub struct Activity {
    origin: Instant,
    in_flight: AtomicU32,
    served: AtomicBool,
    /// Milliseconds since `origin` when the connection last went quiet: no
    /// request in flight and the last response byte written.
    quiet_since: AtomicU64,
    /// Milliseconds since `origin` of the first byte of the next request head.
    head_since: AtomicU64,
}

impl Activity {
    pub fn new() -> Activity {
        Activity {
            origin: Instant::now(),
            in_flight: AtomicU32::new(0),
            served: AtomicBool::new(false),
            quiet_since: AtomicU64::new(0),
            head_since: AtomicU64::new(NONE),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(NONE - 1)
    }

    fn idle(&self) -> bool {
        self.in_flight.load(Ordering::Relaxed) == 0
    }

    fn read(&self, n: usize) {
        if n > 0 && self.idle() && self.head_since.load(Ordering::Relaxed) == NONE {
            self.head_since.store(self.now_ms(), Ordering::Relaxed);
        }
    }

    fn wrote(&self, n: usize) {
        if n > 0 && self.idle() {
            self.quiet_since.store(self.now_ms(), Ordering::Relaxed);
        }
    }

    /// A request reached the service; the guard marks its end.
    pub fn begin(self: &Arc<Self>) -> Busy {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.served.store(true, Ordering::Relaxed);
        self.head_since.store(NONE, Ordering::Relaxed);
        Busy(self.clone())
    }

    /// When the connection is to be closed if nothing changes: a new
    /// connection must send its first request head within `header`, a
    /// started head must complete within `header`, and a quiet keep-alive
    /// connection is closed after `idle`. `None` while a request is in
    /// flight (the request timeout bounds it).
    pub fn deadline(&self, header: Duration, idle: Duration) -> Option<Instant> {
        if !self.idle() {
            return None;
        }
        let at = |ms: u64, allowance: Duration| {
            self.origin + Duration::from_millis(ms).saturating_add(allowance)
        };
        if !self.served.load(Ordering::Relaxed) {
            return Some(at(0, header));
        }
        match self.head_since.load(Ordering::Relaxed) {
            NONE => Some(at(self.quiet_since.load(Ordering::Relaxed), idle)),
            head => Some(at(head, header)),
        }
    }
}

impl Default for Activity {
    fn default() -> Self {
        Activity::new()
    }
}

/// A request in flight; dropping it ends the request.
pub struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        let activity = &self.0;
        if activity.in_flight.fetch_sub(1, Ordering::Relaxed) == 1 {
            activity
                .quiet_since
                .store(activity.now_ms(), Ordering::Relaxed);
            activity.head_since.store(NONE, Ordering::Relaxed);
        }
    }
}

/// A connection's stream, reporting reads and writes to its [`Activity`].
pub struct Watched<T> {
    inner: T,
    activity: Arc<Activity>,
    /// Bytes that go out before anything else (a rewritten answer).
    pending: Vec<u8>,
    sent: usize,
}

impl<T> Watched<T> {
    pub fn new(inner: T, activity: Arc<Activity>) -> Watched<T> {
        Watched {
            inner,
            activity,
            pending: Vec::new(),
            sent: 0,
        }
    }
}

impl<T: AsyncWrite + Unpin> Watched<T> {
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some(rest) = self.pending.get(self.sent..).filter(|r| !r.is_empty()) {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, rest))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        self.pending.clear();
        self.sent = 0;
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        this.activity
            .read(buf.filled().len().saturating_sub(before));
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        if let Some(answer) = json_for_automatic_error(buf) {
            this.pending = answer;
            this.sent = 0;
            if let Poll::Ready(Err(e)) = this.poll_pending(cx) {
                return Poll::Ready(Err(e));
            }
            this.activity.wrote(buf.len());
            return Poll::Ready(Ok(buf.len()));
        }
        let n = ready!(Pin::new(&mut this.inner).poll_write(cx, buf))?;
        this.activity.wrote(n);
        Poll::Ready(Ok(n))
    }

    /// hyper writes a response's head and body as separate slices (no copy)
    /// when the stream takes vectored writes; an answer of its own is a head
    /// alone, one slice, so it still meets the rewrite above.
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let mut nonempty = bufs.iter().filter(|b| !b.is_empty());
        if let (Some(only), None) = (nonempty.next(), nonempty.next()) {
            return self.poll_write(cx, only);
        }
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        let n = ready!(Pin::new(&mut this.inner).poll_write_vectored(cx, bufs))?;
        this.activity.wrote(n);
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

/// hyper answers a request it cannot parse (400, 414, 431) itself, before
/// any service runs, with an empty body: a status line, `connection: close`,
/// `content-length: 0` and `date`, written alone. This recognises exactly
/// that answer and returns it with Twilio's JSON error as its body.
pub fn json_for_automatic_error(buf: &[u8]) -> Option<Vec<u8>> {
    // Every response head passes here: only a 4xx or 5xx head is read further.
    if !buf.starts_with(b"HTTP/1.1 ")
        || !matches!(buf.get(9), Some(b'4' | b'5'))
        || !buf.ends_with(b"\r\n\r\n")
    {
        return None;
    }
    let text = std::str::from_utf8(buf).ok()?;
    let head = text.strip_suffix("\r\n\r\n")?;
    if head.contains("\r\n\r\n") {
        return None;
    }
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let status = StatusCode::from_bytes(status_line.get(9..12)?.as_bytes()).ok()?;
    if !(status.is_client_error() || status.is_server_error()) {
        return None;
    }
    let mut date = None;
    let mut empty = false;
    for line in lines {
        let (name, value) = line.split_once(':')?;
        let value = value.trim();
        match name.to_ascii_lowercase().as_str() {
            "date" => date = Some(value),
            "content-length" if value == "0" => empty = true,
            "connection" if value.eq_ignore_ascii_case("close") => {}
            _ => return None,
        }
    }
    if !empty {
        return None;
    }
    let error = crate::error::ApiError::for_status(status, None);
    let body = error.body().to_string();
    let mut answer = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        error.spec.http_status,
        StatusCode::from_u16(error.spec.http_status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or(""),
        body.len(),
    );
    if let Some(date) = date {
        answer.push_str("date: ");
        answer.push_str(date);
        answer.push_str("\r\n");
    }
    answer.push_str("\r\n");
    answer.push_str(&body);
    Some(answer.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hypers_automatic_answers_become_json() {
        for (head, status, code) in [
            ("HTTP/1.1 431 Request Header Fields Too Large", 431, 99431),
            ("HTTP/1.1 414 URI Too Long", 414, 99414),
            ("HTTP/1.1 400 Bad Request", 400, 99400),
        ] {
            let raw = format!(
                "{head}\r\nconnection: close\r\ncontent-length: 0\r\ndate: Mon, 07 Dec 2026 21:38:04 GMT\r\n\r\n"
            );
            let answer =
                String::from_utf8(json_for_automatic_error(raw.as_bytes()).unwrap()).unwrap();
            let (top, body) = answer.split_once("\r\n\r\n").unwrap();
            assert!(top.starts_with(&format!("HTTP/1.1 {status} ")), "{top}");
            assert!(top.contains("\r\ncontent-type: application/json\r\n"));
            assert!(top.contains(&format!("\r\ncontent-length: {}\r\n", body.len())));
            assert!(top.contains("\r\ndate: Mon, 07 Dec 2026 21:38:04 GMT"));
            let json: serde_json::Value = serde_json::from_str(body).unwrap();
            assert_eq!(json["code"], code);
            assert_eq!(json["status"], status);
        }
    }

    #[test]
    fn other_writes_pass_untouched() {
        for raw in [
            // A handler's answer: it has a type and a body.
            "HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}",
            "HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: 0\r\n\r\n",
            "HTTP/1.1 204 No Content\r\ndate: x\r\n\r\n",
            "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
            // Body bytes that happen to look like a head.
            "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\nHTTP/1.1 400 Bad Request\r\n\r\n",
            "{\"a\":1}",
            "",
        ] {
            assert!(json_for_automatic_error(raw.as_bytes()).is_none(), "{raw}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn deadlines_follow_the_connection_phases() {
        let header = Duration::from_secs(10);
        let idle = Duration::from_secs(60);
        let activity = Arc::new(Activity::new());
        let start = activity.origin;
        // A new connection must send its request within the header timeout,
        // even if it trickles bytes.
        assert_eq!(activity.deadline(header, idle), Some(start + header));
        tokio::time::advance(Duration::from_secs(5)).await;
        activity.read(3);
        assert_eq!(activity.deadline(header, idle), Some(start + header));
        let busy = activity.begin();
        assert_eq!(activity.deadline(header, idle), None);
        tokio::time::advance(Duration::from_secs(20)).await;
        drop(busy);
        // Quiet keep-alive: the idle timeout from the end of the request.
        let quiet = start + Duration::from_secs(25);
        assert_eq!(activity.deadline(header, idle), Some(quiet + idle));
        tokio::time::advance(Duration::from_secs(1)).await;
        activity.wrote(100);
        assert_eq!(
            activity.deadline(header, idle),
            Some(quiet + Duration::from_secs(1) + idle)
        );
        tokio::time::advance(Duration::from_secs(30)).await;
        activity.read(1);
        // The next head started: the header timeout from its first byte.
        assert_eq!(
            activity.deadline(header, idle),
            Some(start + Duration::from_secs(56) + header)
        );
    }
}
