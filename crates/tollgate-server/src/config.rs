//! Configuration: command line over environment over an optional TOML file,
//! parsed, then validated with every error collected, before anything binds.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use tollgate_secrets::MasterKey;
use tollgate_store::DatabaseTarget;

pub use crate::state::upstream_client::{CarrierKind, UpstreamSettings};
pub use crate::state::webhook_client::WebhookSettings;

pub const DEFAULT_DATA_DIR: &str = "./tollgate-data";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DATABASE_FILE: &str = "tollgate.db";
pub const MASTER_KEY_FILE: &str = "master.key";

/// Settings as given, before validation. Every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub data_dir: Option<String>,
    pub listen: Option<String>,
    pub database_url: Option<String>,
    pub public_url: Option<String>,
    /// `1`/`true`: webhooks may go to loopback and private addresses (local development, tests).
    pub webhook_allow_private: Option<String>,
    /// Send webhooks through this HTTP proxy (`http://host:port`).
    pub webhook_proxy: Option<String>,
    /// Send webhooks from this local address (a "static proxy" egress IP).
    pub webhook_source_address: Option<String>,
    /// Attempts per webhook, the first included (default 5).
    pub webhook_max_attempts: Option<String>,
    /// Delay before the first retry in ms, doubled each time (default 1000).
    pub webhook_retry_base_ms: Option<String>,
    /// Whole-request timeout in ms (default 15000, as Twilio).
    pub webhook_timeout_ms: Option<String>,
    /// Most pending deliveries the durable queue holds (default 10000).
    pub webhook_queue_limit: Option<String>,
    /// This node's name among nodes sharing one database (default: the host name).
    pub node_id: Option<String>,
    /// The country a new main account may reach (ISO code, default US).
    pub home_country: Option<String>,
    /// Extra high-risk toll-fraud prefixes: a file of `digits<TAB>reason` lines.
    pub tollfraud_prefixes_file: Option<String>,
    /// Extra high-risk special prefixes: a file of `digits<TAB>reason` lines.
    pub special_prefixes_file: Option<String>,
    /// Prices overriding the built-in table (`iso sms_out sms_in voice_min` lines).
    pub prices_file: Option<String>,
    /// Longest call in seconds; `TimeLimit` is clamped to it (default 14400, 4 h).
    pub max_call_seconds: Option<String>,
    /// How long a Verify code stays valid, in seconds (default 600, 120-86400).
    pub verify_code_ttl_seconds: Option<String>,
    /// Sandbox carrier: delay between status steps in ms (default 500; 0 in tests).
    pub sandbox_step_ms: Option<String>,
    /// Sandbox carrier: how long a call lasts unless ended sooner (default 30 s).
    pub sandbox_call_seconds: Option<String>,
    /// Audit events as JSON lines to this file (relative to the data dir).
    pub audit_file: Option<String>,
    /// Rotate the audit file at this size (default 104857600, 100 MiB).
    pub audit_file_max_bytes: Option<String>,
    /// Rotated audit files kept (default 10).
    pub audit_file_keep: Option<String>,
    /// Audit events to syslog: `udp://host:port` or `tcp://host:port` (RFC 5424).
    pub audit_syslog: Option<String>,
    /// Days audit events are kept (default 0: forever).
    pub audit_retention_days: Option<String>,
    /// Open connections at most (default 1024, or 3/4 of the open-file limit if lower, leaving 64 files).
    pub max_connections: Option<String>,
    /// Open connections per client address, IPv6 per /64 (default max_connections/4; 0: no cap).
    pub max_connections_per_ip: Option<String>,
    /// A request head must arrive within this, in ms (default 10000).
    pub header_read_timeout_ms: Option<String>,
    /// An idle keep-alive connection is closed after this, in ms (default 60000).
    pub idle_timeout_ms: Option<String>,
    /// Reading a request's body and answering it take at most this, in ms (default 30000).
    pub request_timeout_ms: Option<String>,
    /// Request line and headers at most, in bytes (default 16384).
    pub max_header_bytes: Option<String>,
    /// Failed authentications one source (IPv4 address, IPv6 /64) may make per minute (default 20).
    pub auth_failures_per_source: Option<String>,
    /// Failed authentications against one SID per minute, from sources it has not seen succeed (default 50).
    pub auth_failures_per_name: Option<String>,
    /// Wrong credentials are answered no sooner than this, in ms (default 100).
    pub auth_failure_floor_ms: Option<String>,
    /// `sandbox` (default) or `twilio` (proxy mode: admitted traffic goes to Twilio).
    pub carrier: Option<String>,
    /// Proxy mode: one base URL for every Twilio domain (tests, benchmarks, a forward proxy).
    pub upstream_base_url: Option<String>,
    /// Proxy mode: base URLs per domain, `api=https://…,verify=https://…`.
    pub upstream_base_urls: Option<String>,
    /// Proxy mode: whole-request timeout to Twilio, in ms (default 15000).
    pub upstream_timeout_ms: Option<String>,
    /// Proxy mode: connect timeout to Twilio, in ms (default 3000).
    pub upstream_connect_timeout_ms: Option<String>,
    /// Only from `TOLLGATE_MASTER_KEY`, never from a file or the command line.
    #[serde(skip)]
    pub master_key: Option<String>,
}

impl RawConfig {
    /// `self`, with `other`'s values where `self` has none.
    pub fn or(self, other: RawConfig) -> RawConfig {
        RawConfig {
            data_dir: self.data_dir.or(other.data_dir),
            listen: self.listen.or(other.listen),
            database_url: self.database_url.or(other.database_url),
            public_url: self.public_url.or(other.public_url),
            webhook_allow_private: self.webhook_allow_private.or(other.webhook_allow_private),
            webhook_proxy: self.webhook_proxy.or(other.webhook_proxy),
            webhook_source_address: self.webhook_source_address.or(other.webhook_source_address),
            webhook_max_attempts: self.webhook_max_attempts.or(other.webhook_max_attempts),
            webhook_retry_base_ms: self.webhook_retry_base_ms.or(other.webhook_retry_base_ms),
            webhook_timeout_ms: self.webhook_timeout_ms.or(other.webhook_timeout_ms),
            webhook_queue_limit: self.webhook_queue_limit.or(other.webhook_queue_limit),
            node_id: self.node_id.or(other.node_id),
            home_country: self.home_country.or(other.home_country),
            tollfraud_prefixes_file: self
                .tollfraud_prefixes_file
                .or(other.tollfraud_prefixes_file),
            special_prefixes_file: self.special_prefixes_file.or(other.special_prefixes_file),
            prices_file: self.prices_file.or(other.prices_file),
            max_call_seconds: self.max_call_seconds.or(other.max_call_seconds),
            verify_code_ttl_seconds: self
                .verify_code_ttl_seconds
                .or(other.verify_code_ttl_seconds),
            sandbox_step_ms: self.sandbox_step_ms.or(other.sandbox_step_ms),
            sandbox_call_seconds: self.sandbox_call_seconds.or(other.sandbox_call_seconds),
            audit_file: self.audit_file.or(other.audit_file),
            audit_file_max_bytes: self.audit_file_max_bytes.or(other.audit_file_max_bytes),
            audit_file_keep: self.audit_file_keep.or(other.audit_file_keep),
            audit_syslog: self.audit_syslog.or(other.audit_syslog),
            audit_retention_days: self.audit_retention_days.or(other.audit_retention_days),
            max_connections: self.max_connections.or(other.max_connections),
            max_connections_per_ip: self.max_connections_per_ip.or(other.max_connections_per_ip),
            header_read_timeout_ms: self.header_read_timeout_ms.or(other.header_read_timeout_ms),
            idle_timeout_ms: self.idle_timeout_ms.or(other.idle_timeout_ms),
            request_timeout_ms: self.request_timeout_ms.or(other.request_timeout_ms),
            max_header_bytes: self.max_header_bytes.or(other.max_header_bytes),
            auth_failures_per_source: self
                .auth_failures_per_source
                .or(other.auth_failures_per_source),
            auth_failures_per_name: self.auth_failures_per_name.or(other.auth_failures_per_name),
            auth_failure_floor_ms: self.auth_failure_floor_ms.or(other.auth_failure_floor_ms),
            carrier: self.carrier.or(other.carrier),
            upstream_base_url: self.upstream_base_url.or(other.upstream_base_url),
            upstream_base_urls: self.upstream_base_urls.or(other.upstream_base_urls),
            upstream_timeout_ms: self.upstream_timeout_ms.or(other.upstream_timeout_ms),
            upstream_connect_timeout_ms: self
                .upstream_connect_timeout_ms
                .or(other.upstream_connect_timeout_ms),
            master_key: self.master_key.or(other.master_key),
        }
    }

    /// Reads a TOML config file.
    pub fn from_toml(text: &str) -> Result<RawConfig, String> {
        toml::from_str(text).map_err(|e| format!("config file: {}", e.message()))
    }

    /// Reads the `TOLLGATE_*` variables through `lookup` (the real environment, or a map in tests).
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> RawConfig {
        RawConfig {
            data_dir: lookup("TOLLGATE_DATA_DIR"),
            listen: lookup("TOLLGATE_LISTEN"),
            database_url: lookup("TOLLGATE_DATABASE_URL"),
            public_url: lookup("TOLLGATE_PUBLIC_URL"),
            webhook_allow_private: lookup("TOLLGATE_WEBHOOK_ALLOW_PRIVATE"),
            webhook_proxy: lookup("TOLLGATE_WEBHOOK_PROXY"),
            webhook_source_address: lookup("TOLLGATE_WEBHOOK_SOURCE_ADDRESS"),
            webhook_max_attempts: lookup("TOLLGATE_WEBHOOK_MAX_ATTEMPTS"),
            webhook_retry_base_ms: lookup("TOLLGATE_WEBHOOK_RETRY_BASE_MS"),
            webhook_timeout_ms: lookup("TOLLGATE_WEBHOOK_TIMEOUT_MS"),
            webhook_queue_limit: lookup("TOLLGATE_WEBHOOK_QUEUE_LIMIT"),
            node_id: lookup("TOLLGATE_NODE_ID"),
            home_country: lookup("TOLLGATE_HOME_COUNTRY"),
            tollfraud_prefixes_file: lookup("TOLLGATE_TOLLFRAUD_PREFIXES_FILE"),
            special_prefixes_file: lookup("TOLLGATE_SPECIAL_PREFIXES_FILE"),
            prices_file: lookup("TOLLGATE_PRICES_FILE"),
            max_call_seconds: lookup("TOLLGATE_MAX_CALL_SECONDS"),
            verify_code_ttl_seconds: lookup("TOLLGATE_VERIFY_CODE_TTL_SECONDS"),
            sandbox_step_ms: lookup("TOLLGATE_SANDBOX_STEP_MS"),
            sandbox_call_seconds: lookup("TOLLGATE_SANDBOX_CALL_SECONDS"),
            audit_file: lookup("TOLLGATE_AUDIT_FILE"),
            audit_file_max_bytes: lookup("TOLLGATE_AUDIT_FILE_MAX_BYTES"),
            audit_file_keep: lookup("TOLLGATE_AUDIT_FILE_KEEP"),
            audit_syslog: lookup("TOLLGATE_AUDIT_SYSLOG"),
            audit_retention_days: lookup("TOLLGATE_AUDIT_RETENTION_DAYS"),
            max_connections: lookup("TOLLGATE_MAX_CONNECTIONS"),
            max_connections_per_ip: lookup("TOLLGATE_MAX_CONNECTIONS_PER_IP"),
            header_read_timeout_ms: lookup("TOLLGATE_HEADER_READ_TIMEOUT_MS"),
            idle_timeout_ms: lookup("TOLLGATE_IDLE_TIMEOUT_MS"),
            request_timeout_ms: lookup("TOLLGATE_REQUEST_TIMEOUT_MS"),
            max_header_bytes: lookup("TOLLGATE_MAX_HEADER_BYTES"),
            auth_failures_per_source: lookup("TOLLGATE_AUTH_FAILURES_PER_SOURCE"),
            auth_failures_per_name: lookup("TOLLGATE_AUTH_FAILURES_PER_NAME"),
            auth_failure_floor_ms: lookup("TOLLGATE_AUTH_FAILURE_FLOOR_MS"),
            carrier: lookup("TOLLGATE_CARRIER"),
            upstream_base_url: lookup("TOLLGATE_UPSTREAM_BASE_URL"),
            upstream_base_urls: lookup("TOLLGATE_UPSTREAM_BASE_URLS"),
            upstream_timeout_ms: lookup("TOLLGATE_UPSTREAM_TIMEOUT_MS"),
            upstream_connect_timeout_ms: lookup("TOLLGATE_UPSTREAM_CONNECT_TIMEOUT_MS"),
            master_key: lookup("TOLLGATE_MASTER_KEY"),
        }
    }
}

/// Validated settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub database: DatabaseTarget,
    pub public_url: String,
    pub master_key: Option<MasterKey>,
    pub webhooks: WebhookSettings,
    /// ISO code of the only country a new main account may reach.
    pub home_country: String,
    /// The toll-fraud and special prefix tables: defaults plus the files given.
    pub tollfraud: tollgate_numbering::PrefixTable,
    pub special: tollgate_numbering::PrefixTable,
    pub prices: tollgate_policy::pricing::PriceTable,
    pub max_call_seconds: u32,
    /// Verify codes expire after this many seconds.
    pub verify_code_ttl_seconds: u32,
    pub sandbox: crate::state::sandbox::SandboxSettings,
    pub audit: crate::services::audit_tasks::AuditSettings,
    /// Connection limits and timeouts.
    pub edge: crate::http::edge::EdgeSettings,
    pub auth: crate::state::auth_throttle::AuthLimits,
    /// The carrier, and how proxy mode reaches Twilio.
    pub upstream: UpstreamSettings,
}

/// Reads a prefix table file into `table`, or records why not.
fn load_prefixes(
    name: &str,
    path: Option<&str>,
    table: &mut tollgate_numbering::PrefixTable,
    errors: &mut Vec<String>,
) {
    let Some(path) = path.filter(|p| !p.is_empty()) else {
        return;
    };
    match std::fs::read_to_string(path) {
        Ok(text) => {
            if let Err(e) = table.extend_from_text(&text) {
                errors.push(format!("{name}: {path} {e}"));
            }
        }
        Err(e) => errors.push(format!("{name}: cannot read {path}: {e}")),
    }
}

/// An http(s) URL without a trailing slash, or why not.
fn base_url(name: &str, value: &str, errors: &mut Vec<String>) -> Option<String> {
    let value = value.trim().trim_end_matches('/');
    match url::Url::parse(value) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
            Some(value.to_owned())
        }
        _ => {
            errors.push(format!("{name}: '{value}' is not an http(s) URL"));
            None
        }
    }
}

fn upstream_settings(raw: &RawConfig, errors: &mut Vec<String>) -> UpstreamSettings {
    let mut s = UpstreamSettings::default();
    if let Some(text) = raw.carrier.as_deref().filter(|t| !t.trim().is_empty()) {
        match CarrierKind::parse(text) {
            Some(kind) => s.carrier = kind,
            None => errors.push(format!("carrier: '{text}' is not sandbox or twilio")),
        }
    }
    if let Some(all) = raw.upstream_base_url.as_deref().filter(|t| !t.is_empty())
        && let Some(url) = base_url("upstream base url", all, errors)
    {
        for value in s.base_urls.values_mut() {
            value.clone_from(&url);
        }
    }
    for part in raw
        .upstream_base_urls
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .filter(|p| !p.trim().is_empty())
    {
        let Some((domain, url)) = part.split_once('=') else {
            errors.push(format!("upstream base urls: '{part}' is not domain=url"));
            continue;
        };
        let domain = domain.trim().to_ascii_lowercase();
        if !crate::state::upstream_client::DOMAINS.contains(&domain.as_str()) {
            errors.push(format!(
                "upstream base urls: '{domain}' is not a proxied Twilio domain"
            ));
            continue;
        }
        if let Some(url) = base_url("upstream base urls", url, errors) {
            s.base_urls.insert(domain, url);
        }
    }
    s.timeout_ms = parse_number(
        "upstream timeout ms",
        raw.upstream_timeout_ms.as_deref(),
        s.timeout_ms,
        |n| (100..=120_000).contains(n),
        errors,
    );
    s.connect_timeout_ms = parse_number(
        "upstream connect timeout ms",
        raw.upstream_connect_timeout_ms.as_deref(),
        s.connect_timeout_ms,
        |n| (10..=60_000).contains(n),
        errors,
    );
    s
}

fn parse_flag(name: &str, value: Option<&str>, errors: &mut Vec<String>) -> bool {
    match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None | Some("" | "0" | "false" | "no") => false,
        Some("1" | "true" | "yes") => true,
        Some(other) => {
            errors.push(format!("{name}: '{other}' is not 1/0 or true/false"));
            false
        }
    }
}

fn parse_number<T: std::str::FromStr>(
    name: &str,
    value: Option<&str>,
    default: T,
    valid: impl Fn(&T) -> bool,
    errors: &mut Vec<String>,
) -> T {
    match value {
        None => default,
        Some(text) => match text.trim().parse::<T>() {
            Ok(n) if valid(&n) => n,
            _ => {
                errors.push(format!("{name}: '{text}' is out of range or not a number"));
                default
            }
        },
    }
}

fn webhook_settings(raw: &RawConfig, errors: &mut Vec<String>) -> WebhookSettings {
    let d = WebhookSettings::default();
    let proxy = raw.webhook_proxy.clone().filter(|p| !p.is_empty());
    if let Some(p) = &proxy
        && !(p.starts_with("http://") || p.starts_with("https://"))
    {
        errors.push(format!(
            "webhook proxy: '{}' must start with http:// or https://",
            redact_url(p)
        ));
    }
    let source_address = match raw.webhook_source_address.as_deref() {
        None | Some("") => None,
        Some(text) => match text.parse() {
            Ok(ip) => Some(ip),
            Err(_) => {
                errors.push(format!(
                    "webhook source address: '{text}' is not an IP address"
                ));
                None
            }
        },
    };
    WebhookSettings {
        allow_private: parse_flag(
            "webhook allow private",
            raw.webhook_allow_private.as_deref(),
            errors,
        ),
        proxy,
        source_address,
        retry: tollgate_webhook::retry::RetryPolicy {
            max_attempts: parse_number(
                "webhook max attempts",
                raw.webhook_max_attempts.as_deref(),
                d.retry.max_attempts,
                |n| (1..=20).contains(n),
                errors,
            ),
            base_delay_ms: parse_number(
                "webhook retry base ms",
                raw.webhook_retry_base_ms.as_deref(),
                d.retry.base_delay_ms,
                |n| (1..=3_600_000).contains(n),
                errors,
            ),
            max_delay_ms: d.retry.max_delay_ms,
        },
        timeout_ms: parse_number(
            "webhook timeout ms",
            raw.webhook_timeout_ms.as_deref(),
            d.timeout_ms,
            |n| (100..=60_000).contains(n),
            errors,
        ),
        queue_limit: parse_number(
            "webhook queue limit",
            raw.webhook_queue_limit.as_deref(),
            d.queue_limit,
            |n| *n >= 1,
            errors,
        ),
        node_id: node_id(raw.node_id.as_deref(), errors),
    }
}

/// Connection limits and timeouts; defaults fit the open-file limit.
fn edge_settings(raw: &RawConfig, errors: &mut Vec<String>) -> crate::http::edge::EdgeSettings {
    use std::time::Duration;
    let nofile = crate::http::edge::open_file_limit();
    let d = crate::http::edge::EdgeSettings::defaults(nofile);
    let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    let max_connections = parse_number(
        "max connections",
        raw.max_connections.as_deref(),
        d.max_connections,
        |n| (1..=1_000_000).contains(n),
        errors,
    );
    let max_connections_per_ip = parse_number(
        "max connections per ip",
        raw.max_connections_per_ip.as_deref(),
        // The default follows a configured cap.
        (max_connections / 4).max(1),
        |n| *n <= 1_000_000,
        errors,
    );
    let mut timeout = |name: &str, value: Option<&str>, default: Duration, max_ms: u64| {
        Duration::from_millis(parse_number(
            name,
            value,
            ms(default),
            |n| (100..=max_ms).contains(n),
            errors,
        ))
    };
    crate::http::edge::EdgeSettings {
        max_connections,
        max_connections_per_ip,
        header_read_timeout: timeout(
            "header read timeout ms",
            raw.header_read_timeout_ms.as_deref(),
            d.header_read_timeout,
            300_000,
        ),
        idle_timeout: timeout(
            "idle timeout ms",
            raw.idle_timeout_ms.as_deref(),
            d.idle_timeout,
            3_600_000,
        ),
        request_timeout: timeout(
            "request timeout ms",
            raw.request_timeout_ms.as_deref(),
            d.request_timeout,
            600_000,
        ),
        // hyper needs at least 8192 bytes of buffer.
        max_header_bytes: parse_number(
            "max header bytes",
            raw.max_header_bytes.as_deref(),
            d.max_header_bytes,
            |n| (8192..=1_048_576).contains(n),
            errors,
        ),
    }
}

/// The configured node name, else the host name, else `local`.
fn node_id(configured: Option<&str>, errors: &mut Vec<String>) -> String {
    let valid = |s: &str| {
        !s.is_empty()
            && s.len() <= 128
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
    };
    match configured.map(str::trim) {
        Some(name) if valid(name) => name.to_owned(),
        Some(name) => {
            errors.push(format!(
                "node id: '{name}' must be 1-128 letters, digits, '-', '_', '.' or ':'"
            ));
            "local".to_owned()
        }
        None => std::fs::read_to_string("/proc/sys/kernel/hostname")
            .or_else(|_| std::fs::read_to_string("/etc/hostname"))
            .map(|h| h.trim().to_owned())
            .ok()
            .filter(|h| valid(h))
            .unwrap_or_else(|| "local".to_owned()),
    }
}

impl Config {
    /// Validates every field and returns all problems at once.
    pub fn validate(raw: RawConfig) -> Result<Config, Vec<String>> {
        let mut errors = Vec::new();
        let data_dir = PathBuf::from(raw.data_dir.as_deref().unwrap_or(DEFAULT_DATA_DIR));
        if data_dir.as_os_str().is_empty() {
            errors.push("data dir: must not be empty".to_owned());
        } else if data_dir.exists() && !data_dir.is_dir() {
            errors.push(format!(
                "data dir: {} exists and is not a directory",
                data_dir.display()
            ));
        }
        let listen_text = raw.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
        let listen = listen_text.parse::<SocketAddr>().map_err(|_| {
            errors.push(format!(
                "listen: '{listen_text}' is not an address with a port, like 127.0.0.1:8080"
            ))
        });
        let database = match raw.database_url.as_deref() {
            None | Some("") => Ok(DatabaseTarget::Sqlite(data_dir.join(DATABASE_FILE))),
            Some(url) => parse_database_url(url).map_err(|e| errors.push(e)),
        };
        let master_key = match raw.master_key.as_deref() {
            None => Ok(None),
            Some(text) => MasterKey::from_hex(text).map(Some).map_err(|_| {
                errors.push("TOLLGATE_MASTER_KEY: must be 64 hex characters (32 bytes)".to_owned())
            }),
        };
        let webhooks = webhook_settings(&raw, &mut errors);
        let upstream = upstream_settings(&raw, &mut errors);
        let edge = edge_settings(&raw, &mut errors);
        let mut prices = tollgate_policy::pricing::PriceTable::builtin();
        if let Some(path) = raw.prices_file.as_deref().filter(|p| !p.is_empty()) {
            match std::fs::read_to_string(path) {
                Ok(text) => {
                    if let Err(e) = prices.extend_from_text(&text) {
                        errors.push(format!("prices file: {path} {e}"));
                    }
                }
                Err(e) => errors.push(format!("prices file: cannot read {path}: {e}")),
            }
        }
        let max_call_seconds = parse_number(
            "max call seconds",
            raw.max_call_seconds.as_deref(),
            14_400u32,
            |n| (1..=86_400).contains(n),
            &mut errors,
        );
        let verify_code_ttl_seconds = parse_number(
            "verify code ttl seconds",
            raw.verify_code_ttl_seconds.as_deref(),
            600u32,
            |n| (120..=86_400).contains(n),
            &mut errors,
        );
        let defaults = crate::state::sandbox::SandboxSettings::default();
        let sandbox = crate::state::sandbox::SandboxSettings {
            step_ms: parse_number(
                "sandbox step ms",
                raw.sandbox_step_ms.as_deref(),
                defaults.step_ms,
                |n| *n <= 60_000,
                &mut errors,
            ),
            call_seconds: parse_number(
                "sandbox call seconds",
                raw.sandbox_call_seconds.as_deref(),
                defaults.call_seconds,
                |n| *n <= 86_400,
                &mut errors,
            ),
        };
        let audit = crate::services::audit_tasks::AuditSettings {
            file: raw
                .audit_file
                .as_deref()
                .filter(|p| !p.is_empty())
                .map(|p| crate::services::audit_tasks::resolve(&data_dir, p)),
            file_max_bytes: parse_number(
                "audit file max bytes",
                raw.audit_file_max_bytes.as_deref(),
                104_857_600u64,
                |n| *n >= 4096,
                &mut errors,
            ),
            file_keep: parse_number(
                "audit file keep",
                raw.audit_file_keep.as_deref(),
                10u32,
                |n| *n <= 1000,
                &mut errors,
            ),
            syslog: match raw.audit_syslog.as_deref().filter(|s| !s.is_empty()) {
                None => None,
                Some(text) => crate::services::audit_tasks::SyslogTarget::parse(text)
                    .map_err(|e| errors.push(e))
                    .ok(),
            },
            retention_days: parse_number(
                "audit retention days",
                raw.audit_retention_days.as_deref(),
                0u32,
                |n| *n <= 36_500,
                &mut errors,
            ),
        };
        let auth_defaults = crate::state::auth_throttle::AuthLimits::default();
        let auth = crate::state::auth_throttle::AuthLimits {
            failures_per_source: parse_number(
                "auth failures per source",
                raw.auth_failures_per_source.as_deref(),
                auth_defaults.failures_per_source,
                |n| (1..=1_000_000).contains(n),
                &mut errors,
            ),
            failures_per_name: parse_number(
                "auth failures per name",
                raw.auth_failures_per_name.as_deref(),
                auth_defaults.failures_per_name,
                |n| (1..=1_000_000).contains(n),
                &mut errors,
            ),
            window_ms: auth_defaults.window_ms,
            failure_floor_ms: parse_number(
                "auth failure floor ms",
                raw.auth_failure_floor_ms.as_deref(),
                auth_defaults.failure_floor_ms,
                |n| *n <= 5_000,
                &mut errors,
            ),
        };
        let home_country = raw
            .home_country
            .as_deref()
            .unwrap_or("US")
            .trim()
            .to_ascii_uppercase();
        if tollgate_numbering::countries::by_iso(&home_country).is_none() {
            errors.push(format!(
                "home country: '{home_country}' is not an ISO 3166 country code Tollgate knows"
            ));
        }
        let mut tollfraud = tollgate_numbering::PrefixTable::new();
        if let Err(e) =
            tollfraud.extend_from_text(tollgate_numbering::risk::DEFAULT_TOLLFRAUD_TABLE)
        {
            errors.push(format!("built-in toll-fraud table: {e}"));
        }
        load_prefixes(
            "toll-fraud prefixes file",
            raw.tollfraud_prefixes_file.as_deref(),
            &mut tollfraud,
            &mut errors,
        );
        let mut special = tollgate_numbering::PrefixTable::new();
        load_prefixes(
            "special prefixes file",
            raw.special_prefixes_file.as_deref(),
            &mut special,
            &mut errors,
        );
        let public_url = match raw.public_url {
            None => Ok(None),
            Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
                Ok(Some(url.trim_end_matches('/').to_owned()))
            }
            Some(url) => {
                errors.push(format!(
                    "public url: '{url}' must start with http:// or https://"
                ));
                Err(())
            }
        };
        match (listen, database, master_key, public_url) {
            (Ok(listen), Ok(database), Ok(master_key), Ok(public_url)) if errors.is_empty() => {
                Ok(Config {
                    public_url: public_url.unwrap_or_else(|| format!("http://{listen}")),
                    data_dir,
                    listen,
                    database,
                    master_key,
                    webhooks,
                    home_country,
                    tollfraud,
                    special,
                    prices,
                    max_call_seconds,
                    verify_code_ttl_seconds,
                    sandbox,
                    audit,
                    edge,
                    auth,
                    upstream,
                })
            }
            _ => Err(errors),
        }
    }

    pub fn master_key_file(&self) -> PathBuf {
        self.data_dir.join(MASTER_KEY_FILE)
    }
}

/// `postgres://…` / `postgresql://…`, or `sqlite://PATH` / `sqlite:PATH`.
fn parse_database_url(url: &str) -> Result<DatabaseTarget, String> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(DatabaseTarget::Postgres(url.to_owned()));
    }
    if let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        let path = path.split('?').next().unwrap_or_default();
        if !path.is_empty() {
            return Ok(DatabaseTarget::Sqlite(Path::new(path).to_path_buf()));
        }
    }
    Err(format!(
        "database url: '{}' is neither postgres://… nor sqlite://PATH",
        redact_url(url)
    ))
}

/// A URL with any password replaced, for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = url.get(scheme + 3..at).unwrap_or_default();
            let user = userinfo.split(':').next().unwrap_or_default();
            format!(
                "{}{}:***{}",
                url.get(..scheme + 3).unwrap_or_default(),
                user,
                url.get(at..).unwrap_or_default()
            )
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> RawConfig {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        RawConfig::from_env(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_are_local_sqlite() {
        let c = Config::validate(RawConfig::default()).unwrap();
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(
            c.database,
            DatabaseTarget::Sqlite(PathBuf::from(DEFAULT_DATA_DIR).join(DATABASE_FILE))
        );
        assert_eq!(c.public_url, "http://127.0.0.1:8080");
        assert!(c.master_key.is_none());
    }

    #[test]
    fn every_error_is_reported_at_once() {
        let raw = env(&[
            ("TOLLGATE_LISTEN", "nowhere"),
            ("TOLLGATE_DATABASE_URL", "mysql://u:pw@h/db"),
            ("TOLLGATE_MASTER_KEY", "short"),
            ("TOLLGATE_PUBLIC_URL", "ftp://x"),
        ]);
        let errors = Config::validate(raw).unwrap_err();
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert!(errors.iter().any(|e| e.starts_with("listen:")));
        assert!(errors.iter().any(|e| e.contains("mysql://u:***@h/db")));
        assert!(errors.iter().all(|e| !e.contains("pw")));
        assert!(errors.iter().any(|e| e.starts_with("TOLLGATE_MASTER_KEY")));
        assert!(errors.iter().any(|e| e.starts_with("public url")));
    }

    #[test]
    fn command_line_wins_over_env_over_file() {
        let cli = RawConfig {
            listen: Some("127.0.0.1:1".into()),
            ..RawConfig::default()
        };
        let from_env = env(&[
            ("TOLLGATE_LISTEN", "127.0.0.1:2"),
            ("TOLLGATE_DATABASE_URL", "postgres://h/db"),
        ]);
        // A data dir that cannot exist yet, so the test does not depend on /tmp's contents.
        let dir = std::env::temp_dir()
            .join(format!("tollgate-config-test-{}", std::process::id()))
            .join("data");
        let file = RawConfig::from_toml(&format!(
            "listen = \"127.0.0.1:3\"\ndata_dir = \"{}\"\n",
            dir.display()
        ))
        .unwrap();
        let c = Config::validate(cli.or(from_env).or(file)).unwrap();
        assert_eq!(c.listen.port(), 1);
        assert_eq!(
            c.database,
            DatabaseTarget::Postgres("postgres://h/db".into())
        );
        assert_eq!(c.data_dir, dir);
    }

    #[test]
    fn connection_limits_and_timeouts_are_validated() {
        let c = Config::validate(env(&[
            ("TOLLGATE_MAX_CONNECTIONS", "40"),
            ("TOLLGATE_HEADER_READ_TIMEOUT_MS", "1500"),
            ("TOLLGATE_IDLE_TIMEOUT_MS", "2500"),
        ]))
        .unwrap();
        assert_eq!(c.edge.max_connections, 40);
        assert_eq!(c.edge.max_connections_per_ip, 10);
        assert_eq!(c.edge.header_read_timeout.as_millis(), 1500);
        assert_eq!(c.edge.idle_timeout.as_millis(), 2500);
        assert_eq!(c.edge.request_timeout.as_millis(), 30_000);
        let off = Config::validate(env(&[("TOLLGATE_MAX_CONNECTIONS_PER_IP", "0")])).unwrap();
        assert_eq!(off.edge.max_connections_per_ip, 0);
        let errors = Config::validate(env(&[
            ("TOLLGATE_MAX_CONNECTIONS", "0"),
            ("TOLLGATE_HEADER_READ_TIMEOUT_MS", "5"),
            ("TOLLGATE_IDLE_TIMEOUT_MS", "x"),
            ("TOLLGATE_REQUEST_TIMEOUT_MS", "99999999"),
            ("TOLLGATE_MAX_HEADER_BYTES", "4096"),
        ]))
        .unwrap_err();
        assert_eq!(errors.len(), 5, "{errors:?}");
    }

    #[test]
    fn unknown_file_keys_are_errors() {
        assert!(
            RawConfig::from_toml("lisen = \"x\"")
                .unwrap_err()
                .contains("lisen")
        );
    }

    #[test]
    fn sqlite_urls_name_a_path() {
        assert_eq!(
            parse_database_url("sqlite:///tmp/a.db"),
            Ok(DatabaseTarget::Sqlite("/tmp/a.db".into()))
        );
        assert_eq!(
            parse_database_url("sqlite:b.db"),
            Ok(DatabaseTarget::Sqlite("b.db".into()))
        );
        assert!(parse_database_url("sqlite://").is_err());
    }
}
