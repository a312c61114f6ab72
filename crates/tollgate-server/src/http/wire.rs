//! Twilio's wire format: form parameters (repeated keys allowed), list pages
//! with `first_page_uri` / `next_page_uri`, and `.json` resource paths.

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::http::{Method, header};
use tollgate_types::error_code as codes;

use crate::error::{ApiError, ApiResult};

/// Largest request body Tollgate reads (the listener enforces it on every route).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Longest value of any parameter, in characters, unless [`LONG_PARAMS`]
/// names it. Handlers bound the fields they store more tightly.
pub const MAX_PARAM_CHARS: usize = 4096;

/// Longest parameter name, in characters.
pub const MAX_PARAM_NAME_CHARS: usize = 256;

/// Parameters that may be longer than [`MAX_PARAM_CHARS`] (up to the body
/// limit); their handlers check them: a message `Body` (21617 over 1600
/// characters), JSON documents, domain lists.
const LONG_PARAMS: [&str; 4] = ["Body", "UpdateRequest", "LinkDomains", "LinkBlocklist"];

/// Request parameters in order: the query string, then a form-encoded body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    /// Parses `application/x-www-form-urlencoded` text.
    pub fn parse(text: &[u8]) -> Params {
        Params(form_urlencoded::parse(text).into_owned().collect())
    }

    /// Refuses a parameter name or value longer than the bounds above.
    pub fn check_lengths(&self) -> ApiResult<()> {
        for (name, value) in &self.0 {
            if name.chars().count() > MAX_PARAM_NAME_CHARS {
                let shown: String = name.chars().take(32).collect();
                return Err(ApiError::invalid(
                    &format!("{shown}…"),
                    &format!("parameter names are at most {MAX_PARAM_NAME_CHARS} characters"),
                ));
            }
            if !LONG_PARAMS.contains(&name.as_str()) && value.chars().count() > MAX_PARAM_CHARS {
                return Err(ApiError::invalid(
                    name,
                    &format!("longer than {MAX_PARAM_CHARS} characters"),
                ));
            }
        }
        Ok(())
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A `true`/`false` parameter (any case); `None` when absent.
    pub fn flag(&self, name: &str) -> ApiResult<Option<bool>> {
        match self.get(name) {
            None => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(_) => Err(ApiError::invalid(name, "must be true or false")),
        }
    }

    /// Every value of `name`, in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let mut params = Params::parse(req.uri().query().unwrap_or("").as_bytes());
        // Twilio reads form bodies only; other bodies are ignored, as there.
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if is_form && req.method() != Method::GET {
            let body: Body = req.into_body();
            let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
                .await
                .map_err(|_| {
                    ApiError::new(
                        &codes::ENTITY_TOO_LARGE,
                        format!("Request body is larger than {MAX_BODY_BYTES} bytes"),
                    )
                })?;
            params.0.extend(Params::parse(&bytes).0);
        }
        params.check_lengths()?;
        Ok(params)
    }
}

/// A response whose JSON body is already serialised.
pub fn json_response(status: axum::http::StatusCode, body: Vec<u8>) -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        status,
        [(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

/// Strips the `.json` suffix of a path segment; `None` if absent.
pub fn json_segment(segment: &str) -> Option<&str> {
    segment.strip_suffix(".json")
}

/// Characters display text may not hold: control characters (NUL, CR,
/// LF, tab, …), line and paragraph separators, and the bidirectional-text
/// controls (embeddings, overrides, isolates, marks) that make text read
/// differently from what it is.
pub fn forbidden_in_display_text(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}'
                | '\u{2029}'
                | '\u{061C}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// Why `value` is not display text of 1 to `max` characters, if it is not.
pub fn display_text_problem(value: &str, max: usize) -> Option<String> {
    let len = value.chars().count();
    if !(1..=max).contains(&len) || value.trim().is_empty() {
        Some(format!("must be 1 to {max} characters"))
    } else if value.chars().any(forbidden_in_display_text) {
        Some(
            "must not contain control characters, line breaks or bidirectional-text controls"
                .to_owned(),
        )
    } else {
        None
    }
}

/// Most characters of a `FriendlyName`.
pub const MAX_FRIENDLY_NAME_CHARS: usize = 64;

/// Validates a `FriendlyName` (every resource's, the same rule): 1 to 64
/// characters of display text.
pub fn friendly_name(value: &str) -> ApiResult<String> {
    match display_text_problem(value, MAX_FRIENDLY_NAME_CHARS) {
        None => Ok(value.to_owned()),
        Some(why) => Err(ApiError::new(
            &codes::INVALID_FRIENDLY_NAME,
            format!("FriendlyName {why}"),
        )),
    }
}

/// Validates other display text (a description, an alarm's query): 400 /
/// 20422 naming `name`.
pub fn display_text(name: &str, value: &str, max: usize) -> ApiResult<String> {
    match display_text_problem(value, max) {
        None => Ok(value.to_owned()),
        Some(why) => Err(ApiError::invalid(name, &why)),
    }
}

/// An ISO 8601 date or date-time parameter (`StartDate`, `EndDate`), in ms.
pub fn iso_date(params: &Params, name: &str) -> ApiResult<Option<i64>> {
    params
        .get(name)
        .map(|v| {
            tollgate_types::Timestamp::parse_iso8601(v)
                .map(|t| t.0)
                .ok_or_else(|| ApiError::invalid(name, "must be an ISO 8601 date or date-time"))
        })
        .transpose()
}

// ---- Paging, shared by every list ----
//
// A list has one stable order, given by a unique key per row. A page is
// `PageSize` rows after a key (`PageToken=PA…`, the next page) or before it
// (`PageToken=PB…`, the previous page); the first page has no token. The key
// is the row's place in the order, not a reference to a row, so a walk goes
// on when rows are added or removed between pages: a row present throughout
// comes exactly once. `Page` is only the page's label, as in Twilio.

/// A row's place in its list's order, carried by a `PageToken`.
pub trait PageKey: Ord + Clone + Sized {
    /// URL-safe text.
    fn encode(&self) -> String;
    fn decode(text: &str) -> Option<Self>;
}

/// The longest key text a token may carry.
const MAX_KEY_LEN: usize = 160;

fn key_text(text: &str) -> Option<&str> {
    (!text.is_empty()
        && text.len() <= MAX_KEY_LEN
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-_.~:/".contains(&b)))
    .then_some(text)
}

/// Text keys: SIDs, ISO codes, prefixes, numbers.
impl PageKey for String {
    fn encode(&self) -> String {
        self.clone()
    }
    fn decode(text: &str) -> Option<Self> {
        key_text(text).map(str::to_owned)
    }
}

/// Positions and sequence numbers.
impl PageKey for i64 {
    fn encode(&self) -> String {
        self.to_string()
    }
    fn decode(text: &str) -> Option<Self> {
        let digits = text.strip_prefix('-').unwrap_or(text);
        if digits.is_empty() || digits.len() > 19 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        text.parse().ok()
    }
}

/// `(date_created, sid)`: the order of most lists.
impl PageKey for (i64, String) {
    fn encode(&self) -> String {
        format!("{}_{}", self.0, self.1)
    }
    fn decode(text: &str) -> Option<Self> {
        let (time, sid) = text.split_once('_')?;
        Some((i64::decode(time)?, String::decode(sid)?))
    }
}

/// The direction of a list's order by its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Ascending,
    Descending,
}

impl Order {
    fn cmp<K: Ord>(self, a: &K, b: &K) -> std::cmp::Ordering {
        match self {
            Order::Ascending => a.cmp(b),
            Order::Descending => b.cmp(a),
        }
    }
}

/// Where a page starts: after a key (next pages) or before it (previous).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cursor<K> {
    After(K),
    Before(K),
}

impl<K: PageKey> Cursor<K> {
    fn token(&self) -> String {
        match self {
            Cursor::After(k) => format!("PA{}", k.encode()),
            Cursor::Before(k) => format!("PB{}", k.encode()),
        }
    }

    fn parse(token: &str) -> Option<Cursor<K>> {
        if let Some(k) = token.strip_prefix("PA") {
            K::decode(k).map(Cursor::After)
        } else {
            token
                .strip_prefix("PB")
                .and_then(K::decode)
                .map(Cursor::Before)
        }
    }
}

/// A requested page: `PageSize`, `Page` (a label) and `PageToken`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest<K> {
    pub size: u32,
    pub page: u32,
    pub cursor: Option<Cursor<K>>,
}

pub const DEFAULT_PAGE_SIZE: u32 = 50;
pub const MAX_PAGE_SIZE: u32 = 1000;
/// Twilio's `Page` is a 32-bit integer.
pub const MAX_PAGE: u32 = i32::MAX as u32;

/// A whole number written as plain digits (no sign, no spaces); `None`
/// otherwise. Digit strings too long for a u64 count as `u64::MAX`.
fn plain_number(v: &str) -> Option<u64> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(v.parse().unwrap_or(u64::MAX))
}

impl<K: PageKey> PageRequest<K> {
    pub fn from_params(params: &Params) -> ApiResult<PageRequest<K>> {
        let size = match params.get("PageSize") {
            None => DEFAULT_PAGE_SIZE,
            Some(v) => match plain_number(v) {
                Some(n) if n > u64::from(MAX_PAGE_SIZE) => {
                    return Err(ApiError::new(
                        &codes::PAGE_SIZE_TOO_LARGE,
                        format!("PageSize must be at most {MAX_PAGE_SIZE}"),
                    ));
                }
                Some(n) if n >= 1 => u32::try_from(n).unwrap_or(MAX_PAGE_SIZE),
                _ => {
                    return Err(ApiError::invalid(
                        "PageSize",
                        "must be a whole number from 1 to 1000",
                    ));
                }
            },
        };
        let page = match params.get("Page") {
            None => 0,
            Some(v) => plain_number(v)
                .filter(|n| *n <= u64::from(MAX_PAGE))
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| {
                    ApiError::invalid("Page", "must be a whole number from 0 to 2147483647")
                })?,
        };
        let cursor = match params.get("PageToken") {
            None => None,
            Some(token) => Some(Cursor::parse(token).ok_or_else(|| {
                ApiError::new(
                    &codes::INVALID_PAGE_TOKEN,
                    "The PageToken in the requested URL was not valid",
                )
            })?),
        };
        if page > 0 && cursor.is_none() {
            return Err(ApiError::new(
                &codes::MISSING_PARAMETER,
                "PageToken is required for paging",
            ));
        }
        Ok(PageRequest { size, page, cursor })
    }

    /// How many rows to fetch: one more than the page, to learn whether more follow.
    pub fn limit(&self) -> u32 {
        self.size.saturating_add(1)
    }

    /// The store's query for this page.
    pub fn store_query(&self) -> tollgate_store::PageQuery<K> {
        let (key, backward) = match &self.cursor {
            None => (None, false),
            Some(Cursor::After(k)) => (Some(k.clone()), false),
            Some(Cursor::Before(k)) => (Some(k.clone()), true),
        };
        tollgate_store::PageQuery {
            limit: self.limit(),
            key,
            backward,
        }
    }

    /// Pages a list held in memory: orders `items` by key (rows with equal
    /// keys are one row) and takes the page.
    pub fn slice<T>(&self, mut items: Vec<T>, order: Order, key_of: impl Fn(&T) -> K) -> Page<T> {
        items.sort_by_cached_key(&key_of);
        if order == Order::Descending {
            items.reverse();
        }
        items.dedup_by(|a, b| key_of(a) == key_of(b));
        let limit = usize::try_from(self.limit()).unwrap_or(usize::MAX);
        let fetched: Vec<T> = match &self.cursor {
            None => items.into_iter().take(limit).collect(),
            Some(Cursor::After(k)) => {
                let start = items.partition_point(|i| order.cmp(&key_of(i), k).is_le());
                items.into_iter().skip(start).take(limit).collect()
            }
            Some(Cursor::Before(k)) => {
                let end = items.partition_point(|i| order.cmp(&key_of(i), k).is_lt());
                items.truncate(end);
                items.into_iter().rev().take(limit).collect()
            }
        };
        self.settle(fetched, key_of)
    }

    /// Cuts rows fetched for this page (nearest the cursor first, at most
    /// [`PageRequest::limit`], as [`PageRequest::store_query`] returns them)
    /// to the page in list order, with its links.
    pub fn settle<T>(&self, mut fetched: Vec<T>, key_of: impl Fn(&T) -> K) -> Page<T> {
        let size = usize::try_from(self.size).unwrap_or(usize::MAX);
        let more = fetched.len() > size;
        fetched.truncate(size);
        let at = |row: Option<&T>, cursor: fn(K) -> Cursor<K>| row.map(|r| cursor(key_of(r)));
        let next_label = self.page.saturating_add(1).min(MAX_PAGE);
        let previous_label = self.page.saturating_sub(1);
        let (next, previous) = match &self.cursor {
            Some(Cursor::Before(_)) => {
                fetched.reverse();
                let previous = if more {
                    at(fetched.first(), Cursor::Before).map(|c| Link::at(previous_label, c))
                } else {
                    None
                };
                // Nothing before this page: the rows after it start the list.
                let next = Some(match at(fetched.last(), Cursor::After) {
                    Some(c) => Link::at(next_label, c),
                    None => Link::first(),
                });
                (next, previous)
            }
            cursor => {
                let next = if more {
                    at(fetched.last(), Cursor::After).map(|c| Link::at(next_label, c))
                } else {
                    None
                };
                let previous = match cursor {
                    Some(Cursor::After(k)) => Some(Link::at(
                        previous_label,
                        at(fetched.first(), Cursor::Before)
                            .unwrap_or_else(|| Cursor::Before(k.clone())),
                    )),
                    _ => None,
                };
                (next, previous)
            }
        };
        Page {
            rows: fetched,
            page: self.page,
            size: self.size,
            token: self.cursor.as_ref().map(Cursor::token),
            next,
            previous,
        }
    }
}

/// A page link: its label and token (none for the first page).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Link {
    page: u32,
    token: Option<String>,
}

impl Link {
    fn first() -> Link {
        Link {
            page: 0,
            token: None,
        }
    }

    fn at<K: PageKey>(page: u32, cursor: Cursor<K>) -> Link {
        Link {
            page,
            token: Some(cursor.token()),
        }
    }
}

/// One page of a list, in list order, with what its links need.
#[derive(Debug)]
pub struct Page<T> {
    pub rows: Vec<T>,
    page: u32,
    size: u32,
    token: Option<String>,
    next: Option<Link>,
    previous: Option<Link>,
}

/// The links of a page, relative to the host.
struct Links {
    first: String,
    next: Option<String>,
    previous: Option<String>,
    current: String,
}

impl<T> Page<T> {
    /// The request's parameters other than paging (its filters) are echoed
    /// into every link, as Twilio does, so every page has the same filters.
    fn links(&self, path: &str, params: &Params) -> Links {
        let link = |page: u32, token: Option<&str>| {
            let mut q = form_urlencoded::Serializer::new(String::new());
            for (name, value) in &params.0 {
                if !matches!(name.as_str(), "PageSize" | "Page" | "PageToken") {
                    q.append_pair(name, value);
                }
            }
            q.append_pair("PageSize", &self.size.to_string());
            q.append_pair("Page", &page.to_string());
            if let Some(token) = token {
                q.append_pair("PageToken", token);
            }
            format!("{path}?{}", q.finish())
        };
        let of = |l: &Link| link(l.page, l.token.as_deref());
        Links {
            first: link(0, None),
            next: self.next.as_ref().map(of),
            previous: self.previous.as_ref().map(of),
            current: link(self.page, self.token.as_deref()),
        }
    }

    /// A 2010-04-01 list page: the rows under `key`, relative `*_page_uri`
    /// links, `page`, `page_size`, `start`, `end`, `uri`.
    pub fn twilio_2010(
        &self,
        key: &str,
        path: &str,
        params: &Params,
        render: impl Fn(&T) -> serde_json::Value,
    ) -> serde_json::Value {
        let links = self.links(path, params);
        let start = u64::from(self.page) * u64::from(self.size);
        let end = (start + self.rows.len() as u64)
            .saturating_sub(1)
            .max(start);
        let mut page = serde_json::json!({
            "first_page_uri": links.first,
            "next_page_uri": links.next,
            "previous_page_uri": links.previous,
            "page": self.page,
            "page_size": self.size,
            "start": start,
            "end": end,
            "uri": links.current,
        });
        if let Some(map) = page.as_object_mut() {
            map.insert(
                key.to_owned(),
                serde_json::Value::Array(self.rows.iter().map(render).collect()),
            );
        }
        page
    }

    /// A v1 list page with more top-level fields (Tollgate's own lists).
    pub fn twilio_v1_with(
        &self,
        key: &str,
        base_url: &str,
        path: &str,
        params: &Params,
        render: impl Fn(&T) -> serde_json::Value,
        extra: serde_json::Value,
    ) -> serde_json::Value {
        let mut page = self.twilio_v1(key, base_url, path, params, render);
        if let (Some(map), serde_json::Value::Object(extra)) = (page.as_object_mut(), extra) {
            map.extend(extra);
        }
        page
    }

    /// A v1/v2 list page: the rows under `key` and a `meta` object with
    /// absolute `*_page_url` links under `base_url`.
    pub fn twilio_v1(
        &self,
        key: &str,
        base_url: &str,
        path: &str,
        params: &Params,
        render: impl Fn(&T) -> serde_json::Value,
    ) -> serde_json::Value {
        let links = self.links(path, params);
        let absolute = |link: String| format!("{base_url}{link}");
        serde_json::json!({
            key: self.rows.iter().map(render).collect::<Vec<_>>(),
            "meta": {
                "first_page_url": absolute(links.first),
                "next_page_url": links.next.map(absolute),
                "previous_page_url": links.previous.map(absolute),
                "page": self.page,
                "page_size": self.size,
                "url": absolute(links.current),
                "key": key,
            },
        })
    }
}

/// The `Idempotency-Key` header of a create, read alone (no copy of the
/// other headers on the send path).
pub struct IdempotencyKey(pub Option<String>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for IdempotencyKey {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(IdempotencyKey(
            parts
                .headers
                .get("Idempotency-Key")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn params_keep_repeated_keys_in_order() {
        let p = Params::parse(b"MediaUrl=a&To=%2B14155550100&MediaUrl=b");
        assert_eq!(p.get("To"), Some("+14155550100"));
        assert_eq!(p.all("MediaUrl"), ["a", "b"]);
        assert_eq!(p.get("Body"), None);
    }

    fn params(q: &str) -> Params {
        Params::parse(q.as_bytes())
    }

    type Created = (i64, String);

    fn code(q: &str) -> u32 {
        PageRequest::<Created>::from_params(&params(q))
            .unwrap_err()
            .spec
            .code
    }

    #[test]
    fn display_text_keeps_ordinary_unicode() {
        for ok in ["Team A", "Équipe 東京 🚀", "👩\u{200D}💻 dev", "עברית", "a"] {
            assert_eq!(friendly_name(ok).unwrap(), ok);
        }
        for bad in [
            "",
            "   ",
            "a\0b",
            "line\r\nbreak",
            "tab\there",
            "\u{202E}gnp.exe",
            "x\u{2066}y\u{2069}",
        ] {
            assert_eq!(friendly_name(bad).unwrap_err().spec.code, 20002, "{bad:?}");
        }
        assert_eq!(friendly_name(&"x".repeat(65)).unwrap_err().spec.code, 20002);
    }

    #[test]
    fn every_parameter_is_bounded() {
        let long = "x".repeat(MAX_PARAM_CHARS + 1);
        assert!(
            params(&format!("To={}", "x".repeat(MAX_PARAM_CHARS)))
                .check_lengths()
                .is_ok()
        );
        let err = params(&format!("StatusCallback={long}"))
            .check_lengths()
            .unwrap_err();
        assert_eq!(err.spec.code, 20422);
        assert!(err.message.contains("StatusCallback"));
        assert!(params(&format!("Body={long}")).check_lengths().is_ok());
        let name = "N".repeat(MAX_PARAM_NAME_CHARS + 1);
        assert!(params(&format!("{name}=1")).check_lengths().is_err());
    }

    #[test]
    fn page_requests_validate_like_twilio() {
        assert_eq!(
            PageRequest::<Created>::from_params(&params("")).unwrap(),
            PageRequest {
                size: 50,
                page: 0,
                cursor: None
            }
        );
        let sid = format!("AC{}", "a".repeat(32));
        let r = PageRequest::<Created>::from_params(&params(&format!(
            "PageSize=2&Page=3&PageToken=PA1700000000000_{sid}"
        )))
        .unwrap();
        assert_eq!(
            r,
            PageRequest {
                size: 2,
                page: 3,
                cursor: Some(Cursor::After((1_700_000_000_000, sid.clone())))
            }
        );
        assert_eq!(
            r.store_query(),
            tollgate_store::PageQuery {
                limit: 3,
                key: Some((1_700_000_000_000, sid)),
                backward: false
            }
        );
        assert!(
            PageRequest::<Created>::from_params(&params("PageToken=PB-5_x"))
                .unwrap()
                .store_query()
                .backward
        );
        for q in ["PageSize=1001", "PageSize=99999999999999999999999"] {
            assert_eq!(code(q), 20007, "{q}");
        }
        for q in [
            "PageSize=0",
            "PageSize=x",
            "PageSize=%2B5",
            "PageSize=-1",
            "PageSize=",
            "PageSize=%205",
            "Page=-1",
            "Page=%2B1",
            "Page=2147483648",
            "Page=999999999999",
            "Page=1.0",
        ] {
            assert_eq!(code(q), 20422, "{q}");
        }
        assert_eq!(code("Page=2"), 20001, "Page needs a token, as in Twilio");
        for q in [
            "PageToken=nope",
            "PageToken=PA",
            "PageToken=PAx_y",
            "PageToken=PA5",
            "PageToken=PA5_",
            "PageToken=PA5_a%20b",
        ] {
            assert_eq!(code(q), 21481, "{q}");
        }
        let long = format!("PageToken=PB1_{}", "a".repeat(MAX_KEY_LEN + 1));
        assert_eq!(code(&long), 21481);
        assert!(
            PageRequest::<Created>::from_params(&params("Page=2147483647&PageToken=PA1_a")).is_ok()
        );
    }

    /// The query of a link, as the next request's parameters.
    fn follow(link: &str) -> Params {
        params(link.split_once('?').map_or("", |(_, q)| q))
    }

    fn rows_of<T: Clone>(page: &Page<T>) -> Vec<T> {
        page.rows.clone()
    }

    #[test]
    fn pages_link_forward_and_back_with_tokens() {
        let keys: Vec<String> = ["AC1", "AC2", "AC3", "AC4", "AC5"]
            .map(String::from)
            .to_vec();
        let filters = params("Status=active&PageSize=9");
        let first = PageRequest::<String>::from_params(&params("PageSize=2"))
            .unwrap()
            .slice(keys.clone(), Order::Ascending, Clone::clone);
        let body = first.twilio_2010("accounts", "/A.json", &filters, |s| serde_json::json!(s));
        assert_eq!(body["accounts"], serde_json::json!(["AC1", "AC2"]));
        assert_eq!(
            body["next_page_uri"],
            "/A.json?Status=active&PageSize=2&Page=1&PageToken=PAAC2"
        );
        assert!(body["previous_page_uri"].is_null());
        assert_eq!(
            body["first_page_uri"],
            "/A.json?Status=active&PageSize=2&Page=0"
        );
        let next = body["next_page_uri"].as_str().unwrap();
        let second = PageRequest::<String>::from_params(&follow(next))
            .unwrap()
            .slice(keys.clone(), Order::Ascending, Clone::clone);
        let body = second.twilio_2010("accounts", "/A.json", &filters, |s| serde_json::json!(s));
        assert_eq!(body["accounts"], serde_json::json!(["AC3", "AC4"]));
        assert_eq!(
            body["previous_page_uri"],
            "/A.json?Status=active&PageSize=2&Page=0&PageToken=PBAC3"
        );
        assert_eq!(
            (body["start"].as_u64(), body["end"].as_u64()),
            (Some(2), Some(3))
        );
        let back = PageRequest::<String>::from_params(&follow(
            body["previous_page_uri"].as_str().unwrap(),
        ))
        .unwrap()
        .slice(keys.clone(), Order::Ascending, Clone::clone);
        assert_eq!(rows_of(&back), ["AC1", "AC2"]);
        assert!(back.previous.is_none());
        let v1 = back.twilio_v1(
            "events",
            "http://h",
            "/v1/Events",
            &Params::default(),
            |s| serde_json::json!(s),
        );
        assert_eq!(v1["meta"]["key"], "events");
        assert_eq!(
            v1["meta"]["next_page_url"],
            "http://h/v1/Events?PageSize=2&Page=1&PageToken=PAAC2"
        );
        assert_eq!(
            v1["meta"]["url"],
            "http://h/v1/Events?PageSize=2&Page=0&PageToken=PBAC3"
        );
        // A full last page has no next link: no empty page after it.
        let last = PageRequest::<String>::from_params(&params("PageSize=5"))
            .unwrap()
            .slice(keys, Order::Ascending, Clone::clone);
        assert!(last.next.is_none());
    }

    /// Walks a list by its next links, re-reading `items_at(step)` for each
    /// page. Returns the pages' rows; fails past `max_pages`.
    fn walk<K: PageKey + std::fmt::Debug>(
        size: u32,
        order: Order,
        max_pages: usize,
        mut items_at: impl FnMut(usize) -> Vec<K>,
    ) -> Vec<Vec<K>> {
        let mut pages = Vec::new();
        let mut query = params(&format!("PageSize={size}"));
        loop {
            assert!(pages.len() < max_pages, "paging does not end");
            let request = PageRequest::<K>::from_params(&query).unwrap();
            assert_eq!(request.page as usize, pages.len());
            let page = request.slice(items_at(pages.len()), order, Clone::clone);
            let next = page.links("/l", &Params::default()).next;
            pages.push(page.rows);
            match next {
                Some(link) => query = follow(&link),
                None => return pages,
            }
        }
    }

    fn sorted<K: Ord + Clone>(mut keys: Vec<K>, order: Order) -> Vec<K> {
        keys.sort();
        keys.dedup();
        if order == Order::Descending {
            keys.reverse();
        }
        keys
    }

    fn check_walk<K: PageKey + std::fmt::Debug>(
        keys: Vec<K>,
        size: u32,
        order: Order,
    ) -> Result<(), TestCaseError> {
        let expected = sorted(keys.clone(), order);
        let pages_expected = expected.len().div_ceil(size as usize).max(1);
        let pages = walk(size, order, pages_expected, |_| keys.clone());
        prop_assert_eq!(pages.len(), pages_expected);
        prop_assert_eq!(pages.concat(), expected);
        // Back from the last page by previous links, then the first link.
        let mut query = {
            let last = PageRequest::<K>::from_params(&params(&format!("PageSize={size}"))).unwrap();
            let mut page = last.slice(keys.clone(), order, Clone::clone);
            while let Some(next) = page.links("/l", &Params::default()).next {
                page = PageRequest::<K>::from_params(&follow(&next))
                    .unwrap()
                    .slice(keys.clone(), order, Clone::clone);
            }
            page.links("/l", &Params::default())
                .previous
                .map(|l| follow(&l))
        };
        let mut index = pages.len() - 1;
        while let Some(q) = query {
            prop_assert!(index > 0, "a previous link before the first page");
            index -= 1;
            let request = PageRequest::<K>::from_params(&q).unwrap();
            prop_assert_eq!(request.page as usize, index);
            let page = request.slice(keys.clone(), order, Clone::clone);
            prop_assert_eq!(&page.rows, &pages[index]);
            let links = page.links("/l", &Params::default());
            let first = PageRequest::<K>::from_params(&follow(&links.first))
                .unwrap()
                .slice(keys.clone(), order, Clone::clone);
            prop_assert_eq!(&first.rows, &pages[0]);
            query = links.previous.map(|l| follow(&l));
        }
        prop_assert_eq!(index, 0, "previous links lead back to the first page");
        Ok(())
    }

    fn created_key() -> impl Strategy<Value = Created> {
        (-3i64..3_000_000_000_000, "[A-Za-z0-9]{1,6}")
    }

    fn orders() -> impl Strategy<Value = Order> {
        prop_oneof![Just(Order::Ascending), Just(Order::Descending)]
    }

    proptest! {
        #[test]
        fn paging_returns_every_row_once_in_order_and_ends(
            keys in proptest::collection::vec(created_key(), 0..60),
            size in 1u32..12,
            order in orders(),
        ) {
            check_walk(keys, size, order)?;
        }

        #[test]
        fn paging_text_and_number_keys(
            texts in proptest::collection::vec("[A-Za-z0-9+_.:/-]{1,8}", 0..40),
            numbers in proptest::collection::vec(any::<i64>(), 0..40),
            size in 1u32..9,
            order in orders(),
        ) {
            check_walk(texts, size, order)?;
            check_walk(numbers, size, order)?;
        }

        /// Rows that come and go between pages never make the walk repeat a
        /// row, go back or fail to end; rows present throughout come once.
        #[test]
        fn paging_survives_changes_between_pages(
            stable in proptest::collection::btree_set(0i64..200, 0..40),
            volatile in proptest::collection::btree_set(0i64..200, 0..40),
            present in proptest::collection::vec(any::<u64>(), 64),
            size in 1u32..7,
            order in orders(),
        ) {
            let volatile: Vec<i64> = volatile.difference(&stable).copied().collect();
            let most = (stable.len() + volatile.len()) / size as usize + 2;
            let pages = walk(size, order, most, |step| {
                let mask = present.get(step).copied().unwrap_or(0);
                let mut items: Vec<i64> = stable.iter().copied().collect();
                items.extend(volatile.iter().enumerate().filter(|(i, _)| mask >> (i % 64) & 1 == 1).map(|(_, k)| *k));
                items
            });
            let walked = pages.concat();
            prop_assert!(walked.windows(2).all(|w| order.cmp(&w[0], &w[1]).is_lt()), "in order, no repeats");
            for k in &stable {
                prop_assert!(walked.contains(k));
            }
        }

        #[test]
        fn params_parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let p = Params::parse(&bytes);
            let _ = p.get("To");
        }

        #[test]
        fn page_request_never_panics(q in "\\PC{0,80}", token in "P[AB]\\PC{0,40}") {
            let _ = PageRequest::<Created>::from_params(&params(&q));
            let mut with_token = Params::default();
            with_token.0.push(("PageToken".into(), token));
            let _ = PageRequest::<Created>::from_params(&with_token);
            let _ = PageRequest::<i64>::from_params(&with_token);
            let _ = PageRequest::<String>::from_params(&with_token);
        }

        #[test]
        fn page_keys_round_trip(key in created_key()) {
            prop_assert_eq!(<Created as PageKey>::decode(&key.encode()), Some(key));
        }

        #[test]
        fn friendly_name_accepts_exactly_1_to_64_display_chars(s in "\\PC{0,80}") {
            let n = s.chars().count();
            let display = !s.trim().is_empty() && !s.chars().any(forbidden_in_display_text);
            prop_assert_eq!(friendly_name(&s).is_ok(), (1..=64).contains(&n) && display);
        }

        #[test]
        fn any_forbidden_character_is_refused(
            before in "[a-z ]{0,20}",
            bad in prop_oneof![
                (0u32..0x20).prop_map(|c| char::from_u32(c).unwrap()),
                Just('\u{7f}'), Just('\u{85}'), Just('\u{2028}'), Just('\u{2029}'),
                Just('\u{061C}'), Just('\u{200E}'), Just('\u{200F}'),
                (0x202Au32..=0x202E).prop_map(|c| char::from_u32(c).unwrap()),
                (0x2066u32..=0x2069).prop_map(|c| char::from_u32(c).unwrap()),
            ],
            after in "[a-z]{1,20}",
        ) {
            let name = format!("{before}{bad}{after}");
            prop_assert_eq!(friendly_name(&name).unwrap_err().spec.code, 20002);
            prop_assert!(display_text("Description", &name, 255).is_err());
        }
    }
}
