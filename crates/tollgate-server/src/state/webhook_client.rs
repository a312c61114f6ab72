//! The outbound HTTP side of the gateway: webhook settings, the clients
//! (with the SSRF guard on every connection) and the dispatcher's wake-up
//! and concurrency. The delivery loop is `services::webhooks`.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper_util::client::legacy::connect::{Connection, HttpInfo};
use tokio::sync::{Notify, Semaphore};
use tollgate_webhook::address::forbidden_reason;
use tollgate_webhook::overrides::DEFAULT_CONNECT_TIMEOUT_MS;

/// How webhooks leave the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSettings {
    pub allow_private: bool,
    pub proxy: Option<String>,
    pub source_address: Option<std::net::IpAddr>,
    pub retry: tollgate_webhook::retry::RetryPolicy,
    pub timeout_ms: u64,
    pub queue_limit: u32,
    /// Holds this node's delivery leases: a restarted node takes back its
    /// own at once instead of waiting for them to expire.
    pub node_id: String,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            allow_private: false,
            proxy: None,
            source_address: None,
            retry: tollgate_webhook::retry::RetryPolicy::default(),
            timeout_ms: 15_000,
            queue_limit: 10_000,
            node_id: "local".to_owned(),
        }
    }
}

/// Deliveries in flight at once, per node.
pub const CONCURRENCY: usize = 16;
/// The outbound side of the gateway.
pub struct Webhooks {
    pub settings: WebhookSettings,
    client: reqwest::Client,
    /// Clients by connect timeout (ms): the default one, and those for
    /// URLs with a `ct` override.
    by_connect_timeout: Mutex<HashMap<u64, reqwest::Client>>,
    pub wake: Notify,
    pub permits: Arc<Semaphore>,
    /// Ordering keys with a delivery in flight on this node.
    ordered_in_flight: Mutex<std::collections::HashSet<String>>,
}

impl Webhooks {
    /// Claims `key` for one delivery; false while another delivery with the
    /// same key is in flight.
    pub fn begin_ordered(&self, key: &str) -> bool {
        self.ordered_in_flight
            .lock()
            .is_ok_and(|mut keys| keys.insert(key.to_owned()))
    }

    /// Releases `key` and wakes the dispatcher for the delivery that waited.
    pub fn end_ordered(&self, key: &str) {
        if let Ok(mut keys) = self.ordered_in_flight.lock() {
            keys.remove(key);
        }
        self.wake.notify_one();
    }

    /// Tells the dispatcher a delivery was queued.
    pub fn wake_dispatcher(&self) {
        self.wake.notify_one();
    }

    pub fn new(settings: WebhookSettings) -> Result<Webhooks, String> {
        // Without a `ct` in the URL: Twilio's default connect timeout.
        let default_ct = u64::from(DEFAULT_CONNECT_TIMEOUT_MS).min(settings.timeout_ms);
        let client = client(&settings, default_ct)?;
        Ok(Webhooks {
            settings,
            by_connect_timeout: Mutex::new(HashMap::from([(default_ct, client.clone())])),
            client,
            wake: Notify::new(),
            permits: Arc::new(Semaphore::new(CONCURRENCY)),
            ordered_in_flight: Mutex::default(),
        })
    }

    /// The client for a URL's `ct` override (a connect timeout is a
    /// client setting in reqwest); the default client without one.
    pub fn client_for(&self, connect_timeout_ms: Option<u32>) -> reqwest::Client {
        let Some(ms) = connect_timeout_ms else {
            return self.client.clone();
        };
        // Rounded up to 100 ms, so at most 100 clients exist.
        let ms = u64::from(ms.div_ceil(100) * 100).min(self.settings.timeout_ms);
        let Ok(mut clients) = self.by_connect_timeout.lock() else {
            return self.client.clone();
        };
        if let Some(c) = clients.get(&ms) {
            return c.clone();
        }
        match client(&self.settings, ms) {
            Ok(c) => {
                clients.insert(ms, c.clone());
                c
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot build a webhook client; using the default");
                self.client.clone()
            }
        }
    }
}

/// An HTTP client with the server's webhook settings and this connect timeout.
pub fn client(
    settings: &WebhookSettings,
    connect_timeout_ms: u64,
) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_millis(settings.timeout_ms))
        .connect_timeout(Duration::from_millis(connect_timeout_ms))
        .dns_resolver(Arc::new(GuardedResolver {
            allow_private: settings.allow_private,
        }));
    if !settings.allow_private && settings.proxy.is_none() {
        builder = builder.connector_layer(GuardConnections);
    }
    builder = match &settings.proxy {
        Some(url) => builder.proxy(reqwest::Proxy::all(url).map_err(|e| e.to_string())?),
        None => builder.no_proxy(),
    };
    if let Some(ip) = settings.source_address {
        builder = builder.local_address(ip);
    }
    builder.build().map_err(|e| e.to_string())
}

/// A connector layer that checks the address each new connection reached,
/// so no path (an address literal, a resolver, a retry) reaches a forbidden
/// one: the connection is dropped before a byte of the request is written.
/// Installed only without a proxy (with one, the peer is the proxy).
#[derive(Clone, Copy)]
struct GuardConnections;

impl<S> tower::Layer<S> for GuardConnections {
    type Service = Guarded<S>;

    fn layer(&self, inner: S) -> Guarded<S> {
        Guarded { inner }
    }
}

#[derive(Clone)]
struct Guarded<S> {
    inner: S,
}

type BoxError = Box<dyn StdError + Send + Sync>;

impl<S, R> tower::Service<R> for Guarded<S>
where
    S: tower::Service<R, Error = BoxError>,
    S::Response: Connection + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<S::Response, BoxError>> + Send>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        let connecting = self.inner.call(request);
        Box::pin(async move {
            let conn = connecting.await?;
            let mut extras = axum::http::Extensions::new();
            conn.connected().get_extras(&mut extras);
            let Some(peer) = extras.get::<HttpInfo>().map(|i| i.remote_addr().ip()) else {
                return Err(
                    Box::new(Blocked("the connection's peer address is unknown".into()))
                        as BoxError,
                );
            };
            if let Some(r) = forbidden_reason(peer) {
                return Err(Box::new(Blocked(format!(
                    "destination refused: connected to {peer}, a {r}"
                ))) as BoxError);
            }
            Ok(conn)
        })
    }
}

/// A resolver that drops forbidden addresses, so a name cannot smuggle a
/// request to a private address (checked on the addresses actually used).
struct GuardedResolver {
    allow_private: bool,
}

#[derive(Debug)]
pub struct Blocked(pub String);

impl std::fmt::Display for Blocked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for Blocked {}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|e| Box::new(e) as Box<dyn StdError + Send + Sync>)?
                .collect();
            let mut refused = None;
            let allowed: Vec<SocketAddr> = addrs
                .into_iter()
                .filter(|a| match forbidden_reason(a.ip()) {
                    Some(r) if !allow_private => {
                        refused = Some(format!(
                            "destination refused: {host} resolves to {}, a {r}",
                            a.ip()
                        ));
                        false
                    }
                    _ => true,
                })
                .collect();
            if allowed.is_empty() {
                let why = refused.unwrap_or_else(|| format!("{host} has no addresses"));
                return Err(Box::new(Blocked(why)) as Box<dyn StdError + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}
