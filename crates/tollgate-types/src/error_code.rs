//! Every error code Tollgate returns, with its HTTP status and meaning.
//!
//! Twilio's own codes are used wherever Twilio has one; Tollgate's own codes
//! live in 99000–99999. `docs/errors.md` and `GET /tollgate/v1/Errors/{Code}`
//! are generated from this one table.

/// One row of the error table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorSpec {
    pub code: u32,
    pub http_status: u16,
    pub title: &'static str,
    pub explanation: &'static str,
}

macro_rules! codes {
    ($($name:ident = ($code:expr, $status:expr, $title:expr, $expl:expr);)*) => {
        $(pub const $name: ErrorSpec = ErrorSpec { code: $code, http_status: $status, title: $title, explanation: $expl };)*
        /// The whole table, in code order.
        pub const ALL: &[ErrorSpec] = &[$($name),*];
    };
}

codes! {
    MISSING_PARAMETER = (20001, 400, "Missing required parameter",
        "A parameter the resource requires was not in the request.");
    INVALID_FRIENDLY_NAME = (20002, 400, "Invalid FriendlyName",
        "FriendlyName must be between 1 and 64 characters long.");
    AUTHENTICATE = (20003, 401, "Authenticate",
        "The credentials are missing or wrong, belong to a suspended or closed account or a deleted key, or may not act on this resource. The response never says which.");
    METHOD_NOT_ALLOWED = (20004, 405, "Method not allowed",
        "The resource exists but does not support this HTTP method.");
    ACCOUNT_NOT_ACTIVE = (20005, 403, "Account not active",
        "The account is suspended or closed, so this change is not possible.");
    PAGE_SIZE_TOO_LARGE = (20007, 400, "Page size too large",
        "PageSize must be between 1 and 1000.");
    RESOURCE_NOT_COMPLETE = (20009, 400, "Cannot delete this resource before it is complete",
        "The message is not in a final state yet (it is queued or being sent), so its body cannot be redacted; retry once it is delivered, undelivered or failed.");
    CV_AUTHENTICATION_FAILED = (20151, 401, "Authentication Failed",
        "Client validation: the Twilio-Client-Validation JWT's signature does not verify with the registered public key it names.");
    CV_INVALID_HEADER = (20152, 401, "Invalid Header",
        "Client validation: the JWT is malformed, or its header is not alg RS256/PS256, cty twilio-pkrv;v=1 with a kid.");
    CV_INVALID_ISSUER_OR_SUBJECT = (20153, 401, "Invalid Issuer Or Subject",
        "Client validation: iss is not the API key (or account) the request authenticated with, or sub is not the account.");
    CV_INVALID_CLAIM_SET = (20154, 401, "Invalid Claim Set",
        "Client validation: a claim (iss, sub, exp, hrh, rqh) is missing or of the wrong type.");
    CV_NOT_YET_VALID = (20155, 401, "Expiration Time In The Future",
        "Client validation: the JWT's nbf is in the future (beyond 60 s of clock skew).");
    CV_EXPIRED = (20156, 401, "Expired or Invalid Expiration in Token",
        "Client validation: the JWT expired (exp more than 60 s in the past).");
    CV_EXPIRY_TOO_FAR = (20157, 401, "Expiration Time Exceeds Maximum Time Allowed",
        "Client validation: exp is more than 300 s (plus 60 s of skew) in the future.");
    NOT_FOUND = (20404, 404, "Not Found",
        "The requested resource was not found.");
    CONFLICT = (20409, 409, "Conflict",
        "The resource is in a state that does not allow this request, for example a secondary auth token already exists.");
    ENTITY_TOO_LARGE = (20413, 413, "Request Entity Too Large",
        "The request body is larger than the gateway accepts.");
    INVALID_PARAMETER = (20422, 400, "Invalid Parameter",
        "A parameter has a value the resource does not accept.");
    TOO_MANY_REQUESTS = (20429, 429, "Too Many Requests",
        "A velocity limit refused the send (a /tollgate/v1/RateLimits rule or a default one), or the client's address already holds max_connections_per_ip open connections. Retry-After says when to try again.");
    INTERNAL = (20500, 500, "Internal Server Error",
        "Tollgate could not complete the request. Nothing was changed unless the response says so.");
    UNAVAILABLE = (20503, 503, "Service unavailable",
        "Tollgate is starting or shutting down, or its store is unreachable.");
    SUBACCOUNT_NESTING = (21101, 400, "Subaccounts cannot contain subaccounts",
        "Only a main account may create subaccounts.");
    CALLED_REQUIRED = (21201, 400, "No Called number specified",
        "A call needs To.");
    URL_REQUIRED = (21205, 400, "Invalid URL",
        "A call needs Url, Twiml or ApplicationSid, and Url must be a valid URL.");
    CALL_FROM_NOT_OWNED = (21210, 400, "'From' phone number not verified",
        "Calls may only come from a number of the account (IncomingPhoneNumbers).");
    INVALID_TO = (21211, 400, "Invalid 'To' Phone Number",
        "The 'To' number is not a valid phone number.");
    CALLER_REQUIRED = (21213, 400, "Caller phone number is required",
        "A call needs From.");
    CALL_NOT_PERMITTED = (21215, 400, "Geo Permission configuration is not permitting call",
        "Voice dialing permissions do not allow this destination: its country, or its high-risk tier, is not enabled.");
    SMS_NOT_PERMITTED = (21408, 400, "Permission to send an SMS has not been enabled for the region indicated by the 'To' number",
        "Messaging geo permissions do not allow the destination's country.");
    NUMBER_NOT_AVAILABLE = (21422, 400, "PhoneNumber Requested is not available",
        "Another account already has this number, or it is not a valid E.164 number.");
    INVALID_STATUS = (21475, 400, "Unable to update Status, invalid Status.",
        "Status must be one of active, suspended, closed.");
    MAIN_ACCOUNT_STATUS = (21477, 400, "Unable to update Status for parent accounts",
        "Status updates are restricted to subaccounts: the main account can be neither suspended nor closed.");
    CLOSED_ACCOUNT = (21479, 400, "Unable to update Status for subaccount, subaccount has been closed.",
        "A closed account is final and cannot be re-opened.");
    INVALID_PAGE_TOKEN = (21481, 400, "Invalid PageToken",
        "The PageToken in the requested URL was not valid.");
    BODY_REQUIRED = (21602, 400, "Message body is required.",
        "A message needs a Body.");
    FROM_REQUIRED = (21603, 400, "A 'From' phone number is required.",
        "A message needs From or MessagingServiceSid.");
    TO_REQUIRED = (21604, 400, "A 'To' phone number is required.",
        "A message needs To.");
    SMS_FROM_NOT_OWNED = (21606, 400, "The From phone number is not a valid, SMS-capable inbound phone number or short code for your account.",
        "Messages may only come from a number of the account or of the messaging service's pool.");
    BODY_TOO_LONG = (21617, 400, "The concatenated message body exceeds the 1600 character limit.",
        "Body is longer than 1600 characters.");
    POOL_FULL = (21714, 400, "Messaging Service Number Pool size limit reached",
        "A Messaging Service holds at most 400 numbers.");
    DOMAIN_BLOCKED = (30110, 400, "Domain is blocked",
        "A link in the body points to a domain the account's LinkPolicy blocks (any link with block, one outside LinkDomains with allowlist, a public URL shortener with allow).");
    URL_BLOCKLISTED = (30111, 400, "Url is on a deny list",
        "A link in the body points to a domain in the account's LinkBlocklist.");
    CANNOT_CANCEL = (30409, 400, "This message cannot be canceled",
        "Only a scheduled message can be canceled (Status=canceled); Tollgate sends every message at once, so none is scheduled.");
    SMS_PUMPING_BLOCKED = (30450, 403, "Message delivery blocked",
        "SMS Pumping Protection (account setting SmsPumpingProtection=true): Fraud Guard blocks the destination's number range; the error names the range and rule, /tollgate/v1/FraudGuard/Blocks shows the evidence.");
    VERIFY_INVALID_PARAMETER = (60200, 400, "Invalid parameter",
        "A Verify parameter has a value the resource does not accept (CodeLength 4-10, Channel sms or call, an unknown RateLimits key).");
    VERIFY_MAX_CHECKS = (60202, 429, "Max check attempts reached",
        "The verification was checked 5 times without the right code; start a new one after it expires or is canceled.");
    VERIFY_MAX_SENDS = (60203, 429, "Max send attempts reached",
        "More than 5 sends for one verification without completing it; check it, cancel it, or wait for it to expire.");
    VERIFY_NO_TARGET = (60221, 400, "No target verification specified",
        "A VerificationCheck needs To or VerificationSid.");
    VERIFY_FRAUD_BLOCKED = (60410, 403, "Verification delivery attempt blocked",
        "Fraud Guard blocks the destination's number range (until 1 h after the last refused attempt); /tollgate/v1/FraudGuard/Blocks shows the range, rule and evidence.");
    SAFE_LIST_DUPLICATE = (60411, 400, "Phone number already in the Safe List",
        "The number or 1,000-number prefix is on the account's Safe List already.");
    VERIFY_GEO_BLOCKED = (60605, 403, "The destination phone number has been blocked by Verify Geo-Permissions",
        "The account's geo permissions do not allow verifications to this destination's country or risk tier.");
    CV_REQUIRED = (70052, 401, "Public Key Client Validation Required For Account",
        "The account requires client validation and the request has no Twilio-Client-Validation header.");
    CV_PUBLIC_KEY_NOT_FOUND = (70153, 401, "Public Key Specified Does Not Exist",
        "Client validation: the JWT's kid is not a public key registered for the account.");
    CV_PUBLIC_KEY_INVALID = (70154, 400, "Public Key Is Invalid",
        "The public key is not an RSA public key in PEM of at least 2048 bits with exponent 65537.");
    CV_MISSING_SIGNED_HEADERS = (70155, 401, "Request Is Missing Required HTTP Headers",
        "Client validation: a header the JWT signs (hrh, which must include authorization and host) is not in the request.");
    CV_REQUEST_HASH_INVALID = (70156, 401, "Request Hash Is Invalid",
        "Client validation: the request differs from the one signed (rqh): method, path, query, signed headers or body.");
}

pub const WEBHOOK_QUEUE_FULL: ErrorSpec = ErrorSpec {
    code: 99090,
    http_status: 503,
    title: "Webhook queue full",
    explanation: "The durable webhook queue holds its configured maximum of pending deliveries (webhook_queue_limit); nothing was queued. It drains as receivers answer or deliveries give up.",
};

pub const SPEND_CAP_EXCEEDED: ErrorSpec = ErrorSpec {
    code: 99001,
    http_status: 403,
    title: "Spend cap exceeded",
    explanation: "The send's price would take a period's spend over a hard cap (/tollgate/v1/SpendLimits) of the account or its parent. Nothing was sent or billed.",
};

pub const RECIPIENT_NOT_ALLOWED: ErrorSpec = ErrorSpec {
    code: 99010,
    http_status: 403,
    title: "Recipient not allowed",
    explanation: "The account's RecipientPolicy does not allow this number: with allowlist only /tollgate/v1/Recipients, with known only numbers that have texted the account.",
};

pub const AUTH_THROTTLED: ErrorSpec = ErrorSpec {
    code: 99020,
    http_status: 429,
    title: "Too many failed authentications",
    explanation: "The source (an IPv4 address or IPv6 /64) or the account or key SID presented has had too many failed authentications in the last minute (auth_failures_per_source, auth_failures_per_name), or too many API key checks are waiting; nothing was checked. Retry-After says when to try again. A source that recently authenticated as the SID is not held back by the SID's budget.",
};

pub const PROXY_MODE_OFF: ErrorSpec = ErrorSpec {
    code: 99100,
    http_status: 400,
    title: "Proxy mode is off",
    explanation: "Upstream credentials are set only when Tollgate carries traffic to Twilio (carrier = \"twilio\"); with the sandbox carrier nothing would use them.",
};

pub const UPSTREAM_CREDENTIALS_REFUSED: ErrorSpec = ErrorSpec {
    code: 99101,
    http_status: 400,
    title: "Upstream credentials refused",
    explanation: "Twilio did not accept the API key or the auth token for the upstream account given (Tollgate checks both before storing them), or could not be asked. Nothing was stored.",
};

pub const UPSTREAM_ACCOUNT_TAKEN: ErrorSpec = ErrorSpec {
    code: 99102,
    http_status: 409,
    title: "Upstream account taken",
    explanation: "Another Tollgate account already carries this upstream Twilio account: each upstream account belongs to one Tollgate account, so its webhooks reach one tenant.",
};

pub const NO_UPSTREAM_ACCOUNT: ErrorSpec = ErrorSpec {
    code: 99103,
    http_status: 403,
    title: "No upstream account",
    explanation: "In proxy mode, this account has no upstream Twilio account (POST /tollgate/v1/Accounts/{Sid}/Upstream), so Tollgate cannot carry its request. Nothing was sent.",
};

pub const UPSTREAM_SIGNATURE_INVALID: ErrorSpec = ErrorSpec {
    code: 99104,
    http_status: 403,
    title: "Upstream webhook signature invalid",
    explanation: "A request to Tollgate's upstream webhook endpoints does not carry a valid X-Twilio-Signature of a known upstream account for the URL Tollgate gave Twilio. Nothing was done.",
};

pub const IDEMPOTENCY_KEY_REUSED: ErrorSpec = ErrorSpec {
    code: 99105,
    http_status: 422,
    title: "Idempotency key reused",
    explanation: "The Idempotency-Key was used before with a different request (method, path or parameters). Nothing was sent. Use a new key for a new request.",
};

pub const IDEMPOTENT_REQUEST_UNSETTLED: ErrorSpec = ErrorSpec {
    code: 99106,
    http_status: 409,
    title: "Request with this Idempotency-Key unsettled",
    explanation: "A request with this Idempotency-Key is in progress, or reached Twilio without an answer (99504). Nothing was sent again.",
};

pub const INBOUND_CALL_REJECTED: ErrorSpec = ErrorSpec {
    code: 99107,
    http_status: 403,
    title: "Inbound call rejected",
    explanation: "Proxy mode: an inbound call was answered <Reject/> without reaching the application: the account is under lockdown, the caller is blocklisted, or the caller, the caller's range or the called number went over its per-minute limit. Recorded as an alert (and an aggregate audit event), so alarms can act.",
};

pub const TWIML_REPLY_REFUSED: ErrorSpec = ErrorSpec {
    code: 99108,
    http_status: 403,
    title: "TwiML reply refused",
    explanation: "Proxy mode: the application's TwiML reply would dial or text a number the account's controls refuse (geo permissions, risk tiers, velocity, spend), or could not be read. Twilio got <Reject/> (a call) or an empty reply (a text) instead. Recorded as an alert with the rule.",
};

pub const MALFORMED_REQUEST: ErrorSpec = ErrorSpec {
    code: 99400,
    http_status: 400,
    title: "Malformed request",
    explanation: "The request line, a header, the path (invalid percent-encoding or UTF-8) or the body could not be parsed.",
};

pub const REQUEST_TIMEOUT: ErrorSpec = ErrorSpec {
    code: 99408,
    http_status: 408,
    title: "Request timeout",
    explanation: "The request was not received and answered within request_timeout_ms (default 30 s). The connection is closed.",
};

pub const URI_TOO_LONG: ErrorSpec = ErrorSpec {
    code: 99414,
    http_status: 414,
    title: "URI too long",
    explanation: "The request's path and query are longer than 8192 bytes. The connection is closed.",
};

pub const UPSTREAM_UNREACHABLE: ErrorSpec = ErrorSpec {
    code: 99502,
    http_status: 502,
    title: "Upstream unreachable",
    explanation: "Twilio could not be reached (connection refused or failed before the request was sent), or the circuit breaker is open after repeated failures. Nothing was sent; retrying later is safe.",
};

pub const UPSTREAM_OUTCOME_UNKNOWN: ErrorSpec = ErrorSpec {
    code: 99504,
    http_status: 504,
    title: "Upstream outcome unknown",
    explanation: "The request reached Twilio but no answer came back in time. It may have taken effect, so Tollgate does not send it again.",
};

pub const HEADERS_TOO_LARGE: ErrorSpec = ErrorSpec {
    code: 99431,
    http_status: 431,
    title: "Request headers too large",
    explanation: "The request line and headers are longer than max_header_bytes (default 16384) or number more than 100. The connection is closed.",
};

/// Tollgate's own codes (99000–99999), in code order.
pub const TOLLGATE_CODES: &[ErrorSpec] = &[
    SPEND_CAP_EXCEEDED,
    RECIPIENT_NOT_ALLOWED,
    AUTH_THROTTLED,
    WEBHOOK_QUEUE_FULL,
    PROXY_MODE_OFF,
    UPSTREAM_CREDENTIALS_REFUSED,
    UPSTREAM_ACCOUNT_TAKEN,
    NO_UPSTREAM_ACCOUNT,
    UPSTREAM_SIGNATURE_INVALID,
    IDEMPOTENCY_KEY_REUSED,
    IDEMPOTENT_REQUEST_UNSETTLED,
    INBOUND_CALL_REJECTED,
    TWIML_REPLY_REFUSED,
    MALFORMED_REQUEST,
    REQUEST_TIMEOUT,
    URI_TOO_LONG,
    HEADERS_TOO_LARGE,
    UPSTREAM_UNREACHABLE,
    UPSTREAM_OUTCOME_UNKNOWN,
];

/// The spec for `code`, if Tollgate can return it.
pub fn lookup(code: u32) -> Option<&'static ErrorSpec> {
    ALL.iter()
        .chain(TOLLGATE_CODES.iter())
        .find(|spec| spec.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_sorted_and_statuses_are_errors() {
        let all: Vec<&ErrorSpec> = ALL.iter().chain(TOLLGATE_CODES.iter()).collect();
        for pair in all.windows(2) {
            assert!(
                pair[0].code < pair[1].code,
                "{} before {}",
                pair[0].code,
                pair[1].code
            );
        }
        for spec in &all {
            assert!((400..600).contains(&spec.http_status), "{}", spec.code);
        }
        for spec in TOLLGATE_CODES {
            assert!((99000..=99999).contains(&spec.code));
        }
    }

    #[test]
    fn docs_table_lists_every_code_with_its_status() {
        let docs = include_str!("../../../docs/errors.md");
        for spec in ALL.iter().chain(TOLLGATE_CODES.iter()) {
            let row = format!("| {} | {} |", spec.code, spec.http_status);
            assert!(docs.contains(&row), "docs/errors.md lacks the row {row}");
        }
        let rows = docs
            .lines()
            .filter(|l| l.starts_with("| ") && l.chars().nth(2).is_some_and(|c| c.is_ascii_digit()))
            .count();
        assert_eq!(
            rows,
            ALL.len() + TOLLGATE_CODES.len(),
            "docs/errors.md lists codes the table does not have"
        );
    }

    #[test]
    fn lookup_finds_known_codes_only() {
        assert_eq!(lookup(20003).map(|s| s.http_status), Some(401));
        assert_eq!(lookup(20404).map(|s| s.http_status), Some(404));
        assert!(lookup(12345).is_none());
    }
}
