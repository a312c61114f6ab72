//! The URL the sender signed, rebuilt from what reached the application.
//!
//! Behind a TLS terminator or a tunnel (ngrok, a load balancer) the
//! application sees `http://127.0.0.1:3000/…` while Twilio signed
//! `https://example.ngrok.app/…`. A [`ProxyPolicy`] says which headers, or
//! which configured public URL, to believe.

/// How to find the scheme and host the sender used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyPolicy {
    /// No proxy: the scheme the application listens with, and `Host`.
    Direct { scheme: Scheme },
    /// Proxies set `Forwarded` (RFC 7239) or `X-Forwarded-Proto` /
    /// `X-Forwarded-Host` / `X-Forwarded-Port`; the first (client-side) value
    /// wins. Anything missing falls back to `fallback_scheme` and `Host`.
    ///
    /// Forged headers cannot make a bad signature pass (the key is still
    /// needed); at worst they make a good one fail. Use it only when every
    /// request comes through proxies that overwrite these headers.
    TrustForwarded { fallback_scheme: Scheme },
    /// A fixed public base URL, such as `https://example.ngrok.app` or
    /// `https://example.com/app` (a path prefix the proxy strips). The path
    /// and query received are appended to it.
    PublicBaseUrl(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    fn parse(value: &str) -> Option<Scheme> {
        if value.eq_ignore_ascii_case("https") {
            Some(Scheme::Https)
        } else if value.eq_ignore_ascii_case("http") {
            Some(Scheme::Http)
        } else {
            None
        }
    }
}

/// Why no external URL could be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExternalUrlError {
    /// No `Host` (or forwarded host) to build the URL from.
    MissingHost,
    /// A host or scheme header holds something that is not a host or scheme.
    InvalidHeader,
}

impl std::fmt::Display for ExternalUrlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ExternalUrlError::MissingHost => "the request has no Host",
            ExternalUrlError::InvalidHeader => "a Host or forwarding header is malformed",
        })
    }
}

/// The URL the sender requested: `policy` applied to the request's headers
/// (`header(name)` returns the first value of a header, any case) and its
/// path and query exactly as received.
pub fn external_url<'h>(
    policy: &ProxyPolicy,
    header: impl Fn(&str) -> Option<&'h str>,
    path_and_query: &str,
) -> Result<String, ExternalUrlError> {
    let path_and_query = if path_and_query.is_empty() {
        "/"
    } else {
        path_and_query
    };
    let (scheme, host) = match policy {
        ProxyPolicy::PublicBaseUrl(base) => {
            return Ok(format!("{}{path_and_query}", base.trim_end_matches('/')));
        }
        ProxyPolicy::Direct { scheme } => (*scheme, None),
        ProxyPolicy::TrustForwarded { fallback_scheme } => {
            let forwarded = header("forwarded").map(first_forwarded_element);
            let proto = match forwarded.and_then(|f| f.proto) {
                Some(p) => Some(p),
                None => header("x-forwarded-proto").map(first_value),
            };
            let scheme = match proto {
                Some(p) => Scheme::parse(p).ok_or(ExternalUrlError::InvalidHeader)?,
                None => *fallback_scheme,
            };
            let host = match forwarded.and_then(|f| f.host) {
                Some(h) => Some(h.to_owned()),
                None => header("x-forwarded-host").map(|h| {
                    let h = first_value(h);
                    match header("x-forwarded-port").map(first_value) {
                        Some(port) if !has_port(h) && !is_default_port(scheme, port) => {
                            format!("{h}:{port}")
                        }
                        _ => h.to_owned(),
                    }
                }),
            };
            (scheme, host)
        }
    };
    let host = match host {
        Some(h) => h,
        None => header("host")
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .ok_or(ExternalUrlError::MissingHost)?
            .to_owned(),
    };
    if host.is_empty() || !host.bytes().all(is_host_byte) {
        return Err(ExternalUrlError::InvalidHeader);
    }
    Ok(format!("{}://{host}{path_and_query}", scheme.as_str()))
}

/// Characters of `host[:port]`, including IPv6 literals; nothing that could
/// move the host into the path or userinfo.
fn is_host_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':' | b'[' | b']' | b'%')
}

fn first_value(header: &str) -> &str {
    header.split(',').next().unwrap_or("").trim()
}

fn has_port(host: &str) -> bool {
    match host.rfind(']') {
        Some(close) => host.get(close + 1..).is_some_and(|r| r.starts_with(':')),
        None => host.contains(':'),
    }
}

fn is_default_port(scheme: Scheme, port: &str) -> bool {
    matches!(
        (scheme, port),
        (Scheme::Https, "443") | (Scheme::Http, "80")
    )
}

#[derive(Debug, Clone, Copy, Default)]
struct ForwardedElement<'a> {
    proto: Option<&'a str>,
    host: Option<&'a str>,
}

/// `proto` and `host` of the first element of an RFC 7239 `Forwarded` header.
fn first_forwarded_element(header: &str) -> ForwardedElement<'_> {
    let mut element = ForwardedElement::default();
    let first = header.split(',').next().unwrap_or("");
    for pair in first.split(';') {
        if let Some((name, value)) = pair.split_once('=') {
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            match name.trim().to_ascii_lowercase().as_str() {
                "proto" => element.proto = Some(value),
                "host" => element.host = Some(value),
                _ => {}
            }
        }
    }
    element
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn headers<'a>(list: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<&'a str> {
        move |name| {
            list.iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| *v)
        }
    }

    const TRUST: ProxyPolicy = ProxyPolicy::TrustForwarded {
        fallback_scheme: Scheme::Http,
    };

    #[test]
    fn direct_uses_host_and_the_listening_scheme() {
        let h = [
            ("Host", "app.example.com:8443"),
            ("X-Forwarded-Host", "evil"),
        ];
        let url = external_url(
            &ProxyPolicy::Direct {
                scheme: Scheme::Https,
            },
            headers(&h),
            "/sms?x=1",
        );
        assert_eq!(url.as_deref(), Ok("https://app.example.com:8443/sms?x=1"));
    }

    #[test]
    fn ngrok_style_x_forwarded_headers() {
        let h = [
            ("Host", "abc.ngrok.app"),
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-For", "1.2.3.4"),
        ];
        assert_eq!(
            external_url(&TRUST, headers(&h), "/hook").as_deref(),
            Ok("https://abc.ngrok.app/hook")
        );
    }

    #[test]
    fn forwarded_header_wins_and_its_first_element_is_used() {
        let h = [
            ("Host", "10.0.0.5:3000"),
            (
                "Forwarded",
                "for=192.0.2.60;proto=https;host=\"hooks.example.com\", for=10.0.0.1;proto=http;host=inner",
            ),
            ("X-Forwarded-Proto", "http"),
        ];
        assert_eq!(
            external_url(&TRUST, headers(&h), "/a").as_deref(),
            Ok("https://hooks.example.com/a")
        );
    }

    #[test]
    fn x_forwarded_port_is_added_unless_default() {
        let h = [
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", "example.com, proxy.local"),
            ("X-Forwarded-Port", "8443"),
        ];
        assert_eq!(
            external_url(&TRUST, headers(&h), "/a").as_deref(),
            Ok("https://example.com:8443/a")
        );
        let h = [
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", "example.com"),
            ("X-Forwarded-Port", "443"),
        ];
        assert_eq!(
            external_url(&TRUST, headers(&h), "/a").as_deref(),
            Ok("https://example.com/a")
        );
    }

    #[test]
    fn public_base_url_keeps_path_and_query_verbatim() {
        let policy = ProxyPolicy::PublicBaseUrl("https://example.com/app/".into());
        let h = [("Host", "localhost:3000")];
        assert_eq!(
            external_url(&policy, headers(&h), "/sms?b=2&a=1").as_deref(),
            Ok("https://example.com/app/sms?b=2&a=1")
        );
    }

    #[test]
    fn bad_headers_are_refused() {
        let h = [("Host", "evil.com/path@x")];
        assert_eq!(
            external_url(&TRUST, headers(&h), "/"),
            Err(ExternalUrlError::InvalidHeader)
        );
        let h = [("X-Forwarded-Proto", "gopher"), ("Host", "a")];
        assert_eq!(
            external_url(&TRUST, headers(&h), "/"),
            Err(ExternalUrlError::InvalidHeader)
        );
        assert_eq!(
            external_url(&TRUST, headers(&[]), "/"),
            Err(ExternalUrlError::MissingHost)
        );
    }

    proptest! {
        #[test]
        fn never_panics_and_never_leaves_the_authority(host in "\\PC{0,30}", fwd in "\\PC{0,40}", proto in "\\PC{0,8}") {
            let h = [("Host", host.as_str()), ("Forwarded", fwd.as_str()), ("X-Forwarded-Proto", proto.as_str())];
            if let Ok(url) = external_url(&TRUST, headers(&h), "/p") {
                let rest = url.split_once("://").map(|(_, r)| r).unwrap_or("");
                let authority = rest.split('/').next().unwrap_or("");
                prop_assert!(!authority.contains('@'));
                prop_assert!(url.ends_with("/p"));
            }
        }
    }
}
