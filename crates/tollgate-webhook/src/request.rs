//! The request a webhook becomes, signed as Twilio signs it.

use tollgate_signature::{Algorithm, Key, SIGNATURE_HEADER};

use crate::overrides::Overrides;

/// The `User-Agent` Twilio's webhooks carry.
pub const USER_AGENT: &str = "TwilioProxy/1.1";
/// The header that lets a receiver drop a retried duplicate.
pub const IDEMPOTENCY_HEADER: &str = "I-Twilio-Idempotency-Token";
pub const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";
pub const JSON_CONTENT_TYPE: &str = "application/json";

/// What to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// Form parameters: in the body for POST, in the query for GET.
    Form(Vec<(String, String)>),
    /// A JSON document, bound to the signature by `bodySHA256`.
    Json(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

impl Method {
    pub fn parse(text: &str) -> Option<Method> {
        if text.eq_ignore_ascii_case("GET") {
            Some(Method::Get)
        } else if text.eq_ignore_ascii_case("POST") {
            Some(Method::Post)
        } else {
            None
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// Credentials given in the URL (`https://user:pass@host/…`).
#[derive(Clone, PartialEq, Eq)]
pub struct UrlCredentials {
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for UrlCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "UrlCredentials({}, ***)", self.user)
    }
}

/// Where a connection for a URL goes, as the HTTP client reads its host
/// (WHATWG URL rules: `127.1`, `2130706433`, `0x7f.1`, `0177.0.0.1`, a
/// trailing dot and percent-encoded digits are all IPv4 addresses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    Ip(std::net::IpAddr),
    /// A name, resolved when connecting (lowercase, IDNA ASCII form).
    Name(String),
}

impl Destination {
    /// The destination of `url` as the WHATWG parser (the `url` crate, which
    /// the HTTP client uses) reads it; `None` if it has no host.
    pub fn of(url: &url::Url) -> Option<Destination> {
        Some(match url.host()? {
            url::Host::Ipv4(v4) => Destination::Ip(v4.into()),
            url::Host::Ipv6(v6) => Destination::Ip(v6.into()),
            url::Host::Domain(name) => Destination::Name(name.to_ascii_lowercase()),
        })
    }
}

/// A webhook target: scheme and host checked, credentials separated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The URL without credentials: what is requested and signed.
    pub url: String,
    /// The host as the HTTP client reads it (canonical form).
    pub host: String,
    /// Where the HTTP client will connect: decided on the same parse.
    pub destination: Destination,
    pub port: u16,
    pub https: bool,
    pub credentials: Option<UrlCredentials>,
    /// Twilio's connection overrides from the URL's fragment (none if the
    /// fragment's overrides are invalid: see [`Target::parse_checked`]).
    pub overrides: Overrides,
    /// The fragment as given (after `#`): shown, never sent or signed.
    pub fragment: String,
}

/// Why a URL cannot be a webhook target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidUrl(pub std::borrow::Cow<'static, str>);

impl From<&'static str> for InvalidUrl {
    fn from(why: &'static str) -> Self {
        InvalidUrl(why.into())
    }
}

impl std::fmt::Display for InvalidUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Target {
    /// As [`Target::parse`], and also refuses a fragment whose connection
    /// overrides are invalid (`#rc=9`): for URLs a caller gives now.
    pub fn parse_checked(url: &str) -> Result<Target, InvalidUrl> {
        Target::parse_with(url, true)
    }

    /// Parses an absolute `http`/`https` URL. Credentials are percent-decoded.
    /// Invalid connection overrides are ignored here (a URL stored before
    /// they were checked still delivers, with the defaults).
    pub fn parse(url: &str) -> Result<Target, InvalidUrl> {
        Target::parse_with(url, false)
    }

    fn parse_with(url: &str, check_overrides: bool) -> Result<Target, InvalidUrl> {
        let (scheme, rest) = url.split_once("://").ok_or(InvalidUrl::from(
            "the URL must be absolute, http:// or https://",
        ))?;
        let https = if scheme.eq_ignore_ascii_case("https") {
            true
        } else if scheme.eq_ignore_ascii_case("http") {
            false
        } else {
            return Err(InvalidUrl::from("the URL scheme must be http or https"));
        };
        if url.len() > 4096 {
            return Err(InvalidUrl::from("the URL is longer than 4096 characters"));
        }
        if url
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        {
            return Err(InvalidUrl::from(
                "the URL contains spaces or control characters",
            ));
        }
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        // The fragment is never sent or signed; it may carry overrides.
        let (tail, fragment) = tail.split_once('#').unwrap_or((tail, ""));
        let overrides = match Overrides::parse(fragment) {
            Ok(o) => o,
            Err(e) if check_overrides => return Err(InvalidUrl(e.0.into())),
            Err(_) => Overrides::default(),
        };
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (_, port) = split_host_port(hostport)?;
        let port = match port {
            Some(p) => p,
            None if https => 443,
            None => 80,
        };
        let credentials = userinfo.map(|u| {
            let (user, password) = u.split_once(':').unwrap_or((u, ""));
            UrlCredentials {
                user: percent_decode(user),
                password: percent_decode(password),
            }
        });
        let scheme = if https { "https" } else { "http" };
        let path = if tail.is_empty() { "/" } else { tail };
        let path = if path.starts_with('?') {
            format!("/{path}")
        } else {
            path.to_owned()
        };
        let url = format!("{scheme}://{hostport}{path}");
        // The client parses this very string: its host is the destination.
        let parsed = url::Url::parse(&url)
            .map_err(|e| InvalidUrl(format!("the URL is not valid: {e}").into()))?;
        let destination =
            Destination::of(&parsed).ok_or(InvalidUrl::from("the URL has no host"))?;
        let port = parsed.port_or_known_default().unwrap_or(port);
        let host = match &destination {
            Destination::Ip(ip) => ip.to_string(),
            Destination::Name(name) => name.clone(),
        };
        Ok(Target {
            url,
            host,
            destination,
            port,
            https,
            credentials,
            overrides,
            fragment: fragment.to_owned(),
        })
    }

    /// The path and query, as a Digest `uri`.
    pub fn request_uri(&self) -> &str {
        let after_scheme = self.url.split_once("://").map_or("", |(_, r)| r);
        after_scheme
            .find('/')
            .and_then(|i| after_scheme.get(i..))
            .unwrap_or("/")
    }

    /// The URL with the credentials' password hidden and its fragment
    /// kept, for display and logs.
    pub fn redacted(&self) -> String {
        let mut shown = match &self.credentials {
            None => self.url.clone(),
            Some(c) => self.url.replacen(
                "://",
                &format!("://{}:***@", percent_encode_user(&c.user)),
                1,
            ),
        };
        if !self.fragment.is_empty() {
            shown.push('#');
            shown.push_str(&self.fragment);
        }
        shown
    }
}

fn split_host_port(hostport: &str) -> Result<(&str, Option<u16>), InvalidUrl> {
    let bad_port = InvalidUrl::from("the URL's port is not a number from 1 to 65535");
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (inside, after) = v6
            .split_once(']')
            .ok_or(InvalidUrl::from("the URL's IPv6 host has no closing ]"))?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err(InvalidUrl::from("the URL's host is malformed")),
        };
        (inside, port)
    } else {
        match hostport.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    if host.is_empty() {
        return Err(InvalidUrl::from("the URL has no host"));
    }
    let port = match port {
        None | Some("") => None,
        Some(p) => Some(p.parse::<u16>().ok().filter(|p| *p != 0).ok_or(bad_port)?),
    };
    Ok((host, port))
}

fn percent_decode(text: &str) -> String {
    let decoded: Vec<u8> =
        form_urlencoded::parse(format!("x={}", text.replace('+', "%2B")).as_bytes())
            .next()
            .map(|(_, v)| v.into_owned().into_bytes())
            .unwrap_or_default();
    String::from_utf8_lossy(&decoded).into_owned()
}

fn percent_encode_user(user: &str) -> String {
    form_urlencoded::byte_serialize(user.as_bytes()).collect()
}

/// A request ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRequest {
    pub method: Method,
    /// The URL to request (and that was signed): with the query for GET and
    /// `bodySHA256` for JSON.
    pub url: String,
    /// Headers, names as Twilio spells them.
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

/// Builds the request for `target`, signed with `auth_token` (the account's
/// primary token at sending time). `idempotency_token` is the same on every
/// attempt of one webhook.
pub fn build(
    target: &Target,
    method: Method,
    payload: &Payload,
    auth_token: &str,
    idempotency_token: &str,
) -> SignedRequest {
    let key = Key::new(auth_token.as_bytes(), Algorithm::HmacSha1);
    let mut headers = vec![
        ("User-Agent", USER_AGENT.to_owned()),
        (IDEMPOTENCY_HEADER, idempotency_token.to_owned()),
        ("Accept", "*/*".to_owned()),
    ];
    let (url, signature, body) = match (method, payload) {
        (Method::Post, Payload::Form(params)) => {
            headers.push((
                "Content-Type",
                format!("{FORM_CONTENT_TYPE}; charset=utf-8"),
            ));
            let body = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(params)
                .finish()
                .into_bytes();
            (target.url.clone(), key.sign(&target.url, params), body)
        }
        (Method::Get, Payload::Form(params)) => {
            let url = with_query(&target.url, params);
            let signature = key.sign::<String, String>(&url, &[]);
            (url, signature, Vec::new())
        }
        (_, Payload::Json(json)) => {
            headers.push(("Content-Type", JSON_CONTENT_TYPE.to_owned()));
            let (url, signature) = key.sign_body(&target.url, json.as_bytes());
            (url, signature, json.as_bytes().to_vec())
        }
    };
    headers.push((SIGNATURE_HEADER, signature.to_string()));
    SignedRequest {
        method: if matches!(payload, Payload::Json(_)) {
            Method::Post
        } else {
            method
        },
        url,
        headers,
        body,
    }
}

fn with_query(url: &str, params: &[(String, String)]) -> String {
    if params.is_empty() {
        return url.to_owned();
    }
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{query}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate_signature::{Payload as SigPayload, Verifier};

    const TOKEN: &str = "0123456789abcdef0123456789abcdef";

    fn header<'a>(r: &'a SignedRequest, name: &str) -> &'a str {
        r.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    #[test]
    fn credentials_are_separated_and_never_signed() {
        let t =
            Target::parse("https://us%40er:p%3Ass@hooks.example.com:8443/status?x=1#frag").unwrap();
        assert_eq!(t.url, "https://hooks.example.com:8443/status?x=1");
        assert_eq!(t.host, "hooks.example.com");
        assert_eq!(t.port, 8443);
        let c = t.credentials.clone().unwrap();
        assert_eq!((c.user.as_str(), c.password.as_str()), ("us@er", "p:ss"));
        assert!(!format!("{c:?}").contains("p:ss"));
        assert_eq!(
            t.redacted(),
            "https://us%40er:***@hooks.example.com:8443/status?x=1#frag"
        );
        assert_eq!(t.request_uri(), "/status?x=1");
    }

    #[test]
    fn connection_overrides_are_read_from_the_fragment_and_not_signed() {
        let t = Target::parse("https://example.com/status?x=1#rc=2&rp=5xx&ct=1000").unwrap();
        assert_eq!(t.url, "https://example.com/status?x=1");
        assert_eq!(t.overrides.retry_count, Some(2));
        assert_eq!(t.overrides.connect_timeout_ms, Some(1000));
        let t = Target::parse("https://example.com#tt=2000").unwrap();
        assert_eq!(t.url, "https://example.com/");
        assert_eq!(t.overrides.total_timeout_ms, Some(2000));
        assert_eq!(t.redacted(), "https://example.com/#tt=2000");
        let e = Target::parse_checked("https://example.com/status#rc=9").unwrap_err();
        assert!(e.to_string().contains("rc must be"), "{e}");
        // Stored before overrides were checked: still a target, with the defaults.
        let t = Target::parse("https://example.com/status#rc=9").unwrap();
        assert_eq!(t.overrides, Overrides::default());
        assert_eq!(t.url, "https://example.com/status");
    }

    #[test]
    fn bad_targets_are_refused() {
        for url in [
            "ftp://x/y",
            "hooks.example.com/x",
            "https:///x",
            "https://h:99999/",
            "https://h:0/",
            "https://[::1/",
            "https://h/a b",
        ] {
            assert!(Target::parse(url).is_err(), "{url}");
        }
        let t = Target::parse("http://[::1]:8080").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.url.as_str()),
            ("::1", 8080, "http://[::1]:8080/")
        );
    }

    #[test]
    fn post_form_verifies_with_the_official_algorithm() {
        let t = Target::parse("https://u:p@example.com/cb?tenant=1").unwrap();
        let params = vec![
            ("MessageStatus".to_owned(), "delivered".to_owned()),
            ("Body".to_owned(), "it's 100% ünïcode & more".to_owned()),
            ("To".to_owned(), "+14155550100".to_owned()),
        ];
        let r = build(&t, Method::Post, &Payload::Form(params), TOKEN, "WDabc");
        assert_eq!(header(&r, "User-Agent"), "TwilioProxy/1.1");
        assert_eq!(header(&r, "I-Twilio-Idempotency-Token"), "WDabc");
        let received: Vec<(String, String)> =
            form_urlencoded::parse(&r.body).into_owned().collect();
        let v = Verifier::for_auth_tokens(&[TOKEN]);
        assert!(
            v.verify(
                &r.url,
                SigPayload::Form(&received),
                header(&r, "X-Twilio-Signature"),
                Algorithm::HmacSha1
            )
            .is_ok()
        );
        assert!(!r.url.contains("u:p"));
    }

    #[test]
    fn get_puts_params_in_the_signed_query_and_json_uses_body_sha256() {
        let t = Target::parse("http://example.com/cb").unwrap();
        let params = vec![("A".to_owned(), "1 2".to_owned())];
        let r = build(&t, Method::Get, &Payload::Form(params), TOKEN, "WD1");
        assert_eq!(r.url, "http://example.com/cb?A=1+2");
        assert!(r.body.is_empty());
        let v = Verifier::for_auth_tokens(&[TOKEN]);
        let none: [(String, String); 0] = [];
        assert!(
            v.verify(
                &r.url,
                SigPayload::Form(&none),
                header(&r, "X-Twilio-Signature"),
                Algorithm::HmacSha1
            )
            .is_ok()
        );

        let r = build(
            &t,
            Method::Post,
            &Payload::Json("{\"a\":1}".into()),
            TOKEN,
            "WD2",
        );
        assert!(r.url.starts_with("http://example.com/cb?bodySHA256="));
        assert!(
            v.verify(
                &r.url,
                SigPayload::<'_, String, String>::Body(&r.body),
                header(&r, "X-Twilio-Signature"),
                Algorithm::HmacSha1
            )
            .is_ok()
        );
    }
}
