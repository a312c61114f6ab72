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

/// A requested page: `PageSize`, `Page` and `PageToken` (`PA` + the SID of
/// the last row of the previous page).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub size: u32,
    pub page: u64,
    pub after: Option<String>,
}

pub const DEFAULT_PAGE_SIZE: u32 = 50;
pub const MAX_PAGE_SIZE: u32 = 1000;

impl PageRequest {
    /// For lists keyed by SID.
    pub fn from_params(params: &Params) -> ApiResult<PageRequest> {
        PageRequest::from_params_keyed(params, |key| {
            key.len() == 34 && key.bytes().all(|b| b.is_ascii_alphanumeric())
        })
    }

    /// For lists keyed by something else (`is_key` says what a key looks like).
    pub fn from_params_keyed(
        params: &Params,
        is_key: impl Fn(&str) -> bool,
    ) -> ApiResult<PageRequest> {
        let size = match params.get("PageSize") {
            None => DEFAULT_PAGE_SIZE,
            Some(v) => match v.parse::<u32>() {
                Ok(n) if (1..=MAX_PAGE_SIZE).contains(&n) => n,
                Ok(_) => {
                    return Err(ApiError::new(
                        &codes::PAGE_SIZE_TOO_LARGE,
                        "PageSize must be between 1 and 1000",
                    ));
                }
                Err(_) => return Err(ApiError::invalid("PageSize", "not a whole number")),
            },
        };
        let page = match params.get("Page") {
            None => 0,
            Some(v) => v
                .parse::<u64>()
                .map_err(|_| ApiError::invalid("Page", "not a whole number"))?,
        };
        let after = match params.get("PageToken") {
            None => None,
            Some(token) => Some(
                token
                    .strip_prefix("PA")
                    .filter(|key| is_key(key))
                    .ok_or_else(|| {
                        ApiError::new(
                            &codes::INVALID_PAGE_TOKEN,
                            "The PageToken in the requested URL was not valid",
                        )
                    })?
                    .to_owned(),
            ),
        };
        Ok(PageRequest { size, page, after })
    }

    /// The store query: one row more than the page, to learn if a next page exists.
    pub fn store_query(&self) -> tollgate_store::PageQuery {
        let offset = if self.after.is_some() {
            0
        } else {
            self.page.saturating_mul(u64::from(self.size))
        };
        tollgate_store::PageQuery {
            size: self.size.saturating_add(1),
            after: self.after.clone(),
            offset,
        }
    }
}

/// One page of an in-memory list sorted by key: the rows after the
/// `PageToken` key (or at the `Page` offset), plus one to tell if more follow.
pub fn page_in_memory<T>(
    items: Vec<T>,
    request: &PageRequest,
    key_of: impl Fn(&T) -> &str,
) -> Vec<T> {
    let size = usize::try_from(request.size).unwrap_or(usize::MAX);
    let skip = match &request.after {
        Some(after) => items
            .iter()
            .take_while(|i| key_of(i) <= after.as_str())
            .count(),
        None => usize::try_from(request.page.saturating_mul(u64::from(request.size)))
            .unwrap_or(usize::MAX),
    };
    items
        .into_iter()
        .skip(skip)
        .take(size.saturating_add(1))
        .collect()
}

/// The links of one page of a list: shared by both of Twilio's page shapes.
struct PageLinks {
    first: String,
    next: Option<String>,
    previous: Option<String>,
    current: String,
}

impl PageLinks {
    /// `filters` are echoed into every link, as Twilio does. `last_sid` is the
    /// last row shown when a next page exists.
    fn new(
        path: &str,
        filters: &[(&str, Option<&str>)],
        request: &PageRequest,
        last_sid: Option<String>,
    ) -> PageLinks {
        let mut base = form_urlencoded::Serializer::new(String::new());
        for (name, value) in filters {
            if let Some(value) = value {
                base.append_pair(name, value);
            }
        }
        base.append_pair("PageSize", &request.size.to_string());
        let base = base.finish();
        let link = |page: u64, token: Option<&str>| {
            let mut q = format!("{path}?{base}&Page={page}");
            if let Some(token) = token {
                q.push_str("&PageToken=PA");
                q.push_str(token);
            }
            q
        };
        PageLinks {
            first: link(0, None),
            next: last_sid.map(|sid| link(request.page.saturating_add(1), Some(&sid))),
            previous: request.page.checked_sub(1).map(|p| link(p, None)),
            current: link(request.page, request.after.as_deref()),
        }
    }
}

/// Cuts `rows` (fetched with [`PageRequest::store_query`], so possibly one
/// row over) to the page, and returns the links.
fn paginate<T>(
    path: &str,
    filters: &[(&str, Option<&str>)],
    request: &PageRequest,
    rows: &mut Vec<T>,
    sid_of: impl Fn(&T) -> String,
) -> PageLinks {
    let size = usize::try_from(request.size).unwrap_or(usize::MAX);
    let has_more = rows.len() > size;
    rows.truncate(size);
    let last = if has_more {
        rows.last().map(&sid_of)
    } else {
        None
    };
    PageLinks::new(path, filters, request, last)
}

/// A 2010-04-01 list page: the rows under `key`, relative `*_page_uri` links,
/// `page`, `page_size`, `start`, `end`, `uri`.
pub fn page_2010<T>(
    key: &str,
    path: &str,
    filters: &[(&str, Option<&str>)],
    request: &PageRequest,
    mut rows: Vec<T>,
    sid_of: impl Fn(&T) -> String,
    render: impl Fn(&T) -> serde_json::Value,
) -> serde_json::Value {
    let links = paginate(path, filters, request, &mut rows, sid_of);
    let start = request.page.saturating_mul(u64::from(request.size));
    let end = (start + rows.len() as u64).saturating_sub(1).max(start);
    let mut page = serde_json::json!({
        "first_page_uri": links.first,
        "next_page_uri": links.next,
        "previous_page_uri": links.previous,
        "page": request.page,
        "page_size": request.size,
        "start": start,
        "end": end,
        "uri": links.current,
    });
    if let Some(map) = page.as_object_mut() {
        map.insert(
            key.to_owned(),
            serde_json::Value::Array(rows.iter().map(render).collect()),
        );
    }
    page
}

/// A v1/v2 list page: the rows under `key` and a `meta` object with absolute
/// `*_page_url` links under `base_url`.
#[allow(clippy::too_many_arguments)]
pub fn page_v1<T>(
    key: &str,
    base_url: &str,
    path: &str,
    filters: &[(&str, Option<&str>)],
    request: &PageRequest,
    mut rows: Vec<T>,
    sid_of: impl Fn(&T) -> String,
    render: impl Fn(&T) -> serde_json::Value,
) -> serde_json::Value {
    let links = paginate(path, filters, request, &mut rows, sid_of);
    let absolute = |link: String| format!("{base_url}{link}");
    serde_json::json!({
        key: rows.iter().map(render).collect::<Vec<_>>(),
        "meta": {
            "first_page_url": absolute(links.first),
            "next_page_url": links.next.map(absolute),
            "previous_page_url": links.previous.map(absolute),
            "page": request.page,
            "page_size": request.size,
            "url": absolute(links.current),
            "key": key,
        },
    })
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
            PageRequest::from_params(&params("")).unwrap(),
            PageRequest {
                size: 50,
                page: 0,
                after: None
            }
        );
        let sid = format!("AC{}", "a".repeat(32));
        let r = PageRequest::from_params(&params(&format!("PageSize=2&Page=3&PageToken=PA{sid}")))
            .unwrap();
        assert_eq!(
            r,
            PageRequest {
                size: 2,
                page: 3,
                after: Some(sid)
            }
        );
        assert_eq!(r.store_query().offset, 0);
        assert_eq!(r.store_query().size, 3);
        let offset = PageRequest::from_params(&params("PageSize=10&Page=2")).unwrap();
        assert_eq!(offset.store_query().offset, 20);
        assert_eq!(
            PageRequest::from_params(&params("PageSize=1001"))
                .unwrap_err()
                .spec
                .code,
            20007
        );
        assert_eq!(
            PageRequest::from_params(&params("PageSize=0"))
                .unwrap_err()
                .spec
                .code,
            20007
        );
        assert_eq!(
            PageRequest::from_params(&params("PageSize=x"))
                .unwrap_err()
                .spec
                .code,
            20422
        );
        assert_eq!(
            PageRequest::from_params(&params("PageToken=nope"))
                .unwrap_err()
                .spec
                .code,
            21481
        );
    }

    #[test]
    fn pages_link_forward_with_a_token_and_back_by_number() {
        let request = PageRequest {
            size: 2,
            page: 1,
            after: None,
        };
        let rows = vec!["AC1", "AC2", "AC3"];
        let page = page_2010(
            "accounts",
            "/2010-04-01/Accounts.json",
            &[("Status", Some("active")), ("FriendlyName", None)],
            &request,
            rows,
            |s| s.to_string(),
            |s| serde_json::json!({ "sid": s }),
        );
        assert_eq!(page["accounts"].as_array().unwrap().len(), 2);
        assert_eq!(
            page["next_page_uri"],
            "/2010-04-01/Accounts.json?Status=active&PageSize=2&Page=2&PageToken=PAAC2"
        );
        assert_eq!(
            page["previous_page_uri"],
            "/2010-04-01/Accounts.json?Status=active&PageSize=2&Page=0"
        );
        assert_eq!(
            page["first_page_uri"],
            "/2010-04-01/Accounts.json?Status=active&PageSize=2&Page=0"
        );
        assert_eq!(
            (page["start"].as_u64(), page["end"].as_u64()),
            (Some(2), Some(3))
        );
        let last = page_2010(
            "accounts",
            "/x.json",
            &[],
            &request,
            vec!["AC9"],
            |s| s.to_string(),
            |_| serde_json::json!({}),
        );
        assert!(last["next_page_uri"].is_null());
    }

    #[test]
    fn v1_pages_carry_meta_with_absolute_urls() {
        let request = PageRequest {
            size: 1,
            page: 0,
            after: None,
        };
        let page = page_v1(
            "events",
            "http://127.0.0.1:8080",
            "/v1/Events",
            &[("EventType", Some("account.updated"))],
            &request,
            vec!["AE1", "AE2"],
            |s| s.to_string(),
            |s| serde_json::json!({ "sid": s }),
        );
        assert_eq!(page["events"], serde_json::json!([{ "sid": "AE1" }]));
        assert_eq!(page["meta"]["key"], "events");
        assert_eq!(
            page["meta"]["next_page_url"],
            "http://127.0.0.1:8080/v1/Events?EventType=account.updated&PageSize=1&Page=1&PageToken=PAAE1"
        );
        assert!(page["meta"]["previous_page_url"].is_null());
        assert_eq!(
            page["meta"]["url"],
            "http://127.0.0.1:8080/v1/Events?EventType=account.updated&PageSize=1&Page=0"
        );
    }

    proptest! {
        #[test]
        fn params_parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let p = Params::parse(&bytes);
            let _ = p.get("To");
        }

        #[test]
        fn page_request_never_panics(q in "\\PC{0,80}") {
            let _ = PageRequest::from_params(&params(&q));
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
