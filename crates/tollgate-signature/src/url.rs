//! Just enough URL splitting to produce the two URL forms the official
//! validators try, without allocating: Python's `urlsplit` + `geturl` rules
//! (lower-case scheme, an empty `?` or `#` dropped, the port toggled).

/// Which form of the URL matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UrlVariant {
    /// The URL as received (normalised as `geturl` does).
    AsReceived,
    /// The port removed if one was given, else the scheme's default added.
    PortToggled,
}

/// The most pieces a URL form is fed to the HMAC in.
pub(crate) const MAX_PIECES: usize = 7;

pub(crate) struct UrlParts<'a> {
    /// The whole URL, when it is already in `geturl` form (the usual case):
    /// then the as-received form is fed to the HMAC in one piece.
    whole: Option<&'a str>,
    scheme: &'static str,
    /// `://` + userinfo + host.
    host: &'a str,
    port: Option<&'a str>,
    path: &'a str,
    /// `?query`, or empty when absent or empty.
    query: &'a str,
    /// `#fragment`, or empty when absent or empty.
    fragment: &'a str,
}

impl<'a> UrlParts<'a> {
    /// Splits an `http`/`https` URL. `None` for anything else, or a port that
    /// is not a number from 0 to 65535.
    pub(crate) fn split(url: &'a str) -> Option<UrlParts<'a>> {
        let (scheme, rest) = url.split_once("://")?;
        let scheme = if scheme.eq_ignore_ascii_case("https") {
            "https"
        } else if scheme.eq_ignore_ascii_case("http") {
            "http"
        } else {
            return None;
        };
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        let host_start = authority.rfind('@').map_or(0, |at| at + 1);
        let hostinfo = authority.get(host_start..)?;
        // The port follows `]` for IPv6 literals, else the first `:`.
        let colon = if hostinfo.starts_with('[') {
            let close = hostinfo.find(']')?;
            hostinfo
                .get(close + 1..)?
                .starts_with(':')
                .then_some(close + 1)
        } else {
            hostinfo.find(':')
        };
        let (host_end, port) = match colon {
            None => (authority.len(), None),
            Some(c) => {
                let port = hostinfo.get(c + 1..)?;
                if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                if port.parse::<u32>().ok()? > 65535 {
                    return None;
                }
                (host_start + c, Some(port))
            }
        };
        let host = url.get(scheme.len()..scheme.len() + 3 + host_end)?;
        let (before_fragment, fragment) = match tail.find('#') {
            Some(i) => tail.split_at(i),
            None => (tail, ""),
        };
        let (path, query) = match before_fragment.find('?') {
            Some(i) => before_fragment.split_at(i),
            None => (before_fragment, ""),
        };
        let normalized = url.starts_with(scheme)
            && (query.is_empty() || query.len() > 1)
            && (fragment.is_empty() || fragment.len() > 1);
        Some(UrlParts {
            whole: normalized.then_some(url),
            scheme,
            host,
            port,
            path,
            query: if query.len() > 1 { query } else { "" },
            fragment: if fragment.len() > 1 { fragment } else { "" },
        })
    }

    fn default_port(&self) -> &'static str {
        if self.scheme == "https" { "443" } else { "80" }
    }

    /// Writes the pieces of `variant` into `out`; returns how many.
    pub(crate) fn pieces(&self, variant: UrlVariant, out: &mut [&'a str; MAX_PIECES]) -> usize {
        if let (UrlVariant::AsReceived, Some(whole)) = (variant, self.whole) {
            out[0] = whole;
            return 1;
        }
        let port = match (variant, self.port) {
            (UrlVariant::AsReceived, port) => port,
            (UrlVariant::PortToggled, Some(_)) => None,
            (UrlVariant::PortToggled, None) => Some(self.default_port()),
        };
        let mut n = 0;
        let mut push = |piece: &'a str| {
            if let Some(slot) = out.get_mut(n) {
                *slot = piece;
                n += 1;
            }
        };
        push(self.scheme);
        push(self.host);
        if let Some(port) = port {
            push(":");
            push(port);
        }
        push(self.path);
        push(self.query);
        push(self.fragment);
        n
    }
}

/// The first non-empty value of query parameter `name` (percent-decoded).
pub(crate) fn query_param(url: &str, name: &str) -> Option<String> {
    let before_fragment = url.split('#').next()?;
    let (_, query) = before_fragment.split_once('?')?;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, v)| k == name && !v.is_empty())
        .map(|(_, v)| v.into_owned())
}
