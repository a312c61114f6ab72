//! The admission pipeline: what every send passes before it costs money,
//! from every edge (REST Messages and Calls, Verify, and later TwiML and
//! SIP), in one order defined here ([`ORDER`]):
//!
//! 1. **account active**: the sending account is not suspended or closed;
//! 2. **Fraud Guard**: the scope's pumping detector, when the edge asks for
//!    it (Verify, SMS Pumping Protection). It runs before the rules below so
//!    that it counts attempts they refuse, and it is told when one of them
//!    refuses a send it let through;
//! 3. **sender**: `From` is a number of the account (Verify's own sender
//!    needs no check);
//! 4. **destination**: geo permissions and risk tiers ([`tollgate_policy::decide`]);
//! 5. **recipient**: the account's `RecipientPolicy`;
//! 6. **content**: links against `LinkPolicy`, `LinkDomains`, `LinkBlocklist`;
//! 7. **velocity**: rate limits, counted when they pass;
//! 8. **spend**: hard caps of the account and its parent, counted when they pass.
//!
//! Each step is a decision: a refusal names its step, rule id, Twilio error
//! code and evidence. The crate is pure: it reads state through [`Views`],
//! which the server implements over its snapshot and counters; it does no
//! I/O and reads no clock.

use std::net::IpAddr;

use tollgate_numbering::Classification;
use tollgate_policy::content::{SHORTENERS, find_links, host_in};
use tollgate_policy::spend::{CapExceeded, format_price};
use tollgate_policy::{Channel, GeoPolicy, decide};
use tollgate_types::ErrorSpec;
use tollgate_types::error_code::{self as codes, lookup};

/// The steps, in the order every send meets them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    AccountActive,
    FraudGuard,
    Sender,
    Destination,
    Recipient,
    Content,
    Velocity,
    Spend,
}

/// The one order of the steps.
pub const ORDER: [Step; 8] = [
    Step::AccountActive,
    Step::FraudGuard,
    Step::Sender,
    Step::Destination,
    Step::Recipient,
    Step::Content,
    Step::Velocity,
    Step::Spend,
];

/// Where a send comes from: some refusals carry the edge's own Twilio code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    /// `POST …/Messages.json`.
    Messages,
    /// `POST …/Calls.json`.
    Calls,
    /// A Verify code sent by SMS or call.
    Verify,
}

/// Who the send is from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender<'a> {
    /// A number that must belong to the account.
    Number(&'a str),
    /// Tollgate's own sender (Verify codes): no ownership check.
    Tollgate,
}

/// The sender Verify codes come from.
pub const TOLLGATE_SENDER: &str = "Verify";

/// One send, as an edge asks for it.
#[derive(Debug, Clone)]
pub struct SendRequest<'a> {
    pub edge: Edge,
    pub channel: Channel,
    pub account: &'a str,
    pub account_active: bool,
    pub from: Sender<'a>,
    /// `To` as given.
    pub to: &'a str,
    /// `To` classified once by the edge.
    pub number: &'a Classification,
    /// The text, when the send has one (links are checked in it).
    pub body: Option<&'a str>,
    /// Segments of a message, or the first minute of a call.
    pub units: i64,
    pub ip: Option<IpAddr>,
    /// Fraud Guard, when the edge asks for it.
    pub guard: Option<Guard<'a>>,
    pub now_ms: i64,
}

/// What Fraud Guard needs beyond the send.
#[derive(Debug, Clone)]
pub struct Guard<'a> {
    /// The detector's scope: a Verify service, or the account for SMS
    /// Pumping Protection.
    pub scope: &'a str,
    /// The attempt's id, for its later receipt.
    pub send_id: &'a str,
    /// The end user's address as the edge knows it (Verify's `DeviceIp`),
    /// which may differ from the caller's ([`SendRequest::ip`]).
    pub ip: Option<IpAddr>,
    pub ip_flags: Option<&'a str>,
    pub device: Option<&'a str>,
}

/// A Fraud Guard refusal, as the detector gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FraudRefusal {
    pub rule: String,
    /// The range refused (`+…`), or the number.
    pub range: String,
    /// The refusal is a block the Blocks listing shows.
    pub listed: bool,
    pub evidence: String,
}

/// Who may be sent to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RecipientPolicy {
    /// Any valid destination the other rules allow.
    #[default]
    Any,
    /// Only numbers in `/tollgate/v1/Recipients`.
    Allowlist,
    /// Only numbers that have texted the account (or passed Verify).
    Known,
}

/// Which links a body may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LinkPolicy {
    /// Links allowed, except public URL shorteners (unless in `LinkDomains`).
    #[default]
    Allow,
    /// No links at all.
    Block,
    /// Only links to `LinkDomains`.
    Allowlist,
}

/// An account's link rules.
#[derive(Debug, Clone, Copy, Default)]
pub struct LinkRules<'a> {
    pub policy: LinkPolicy,
    pub domains: &'a [String],
    pub blocklist: &'a [String],
}

/// What a velocity limit refused: the rule, the key it counts by, and when
/// to retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VelocityRefusal {
    pub rule: String,
    pub key: String,
    pub retry_after_ms: i64,
}

/// The keys a velocity rule can count a send by.
#[derive(Debug, Clone, Copy)]
pub struct VelocityKeys<'a> {
    pub channel: Channel,
    pub from: &'a str,
    pub to: &'a str,
    pub country: &'a str,
    pub ip: Option<IpAddr>,
}

/// The state the steps read, and the counters velocity and spend move when
/// they pass (each checks and counts at once, so concurrent sends cannot
/// both take the last unit). The server implements it over its snapshot.
pub trait Views {
    /// Fraud Guard's verdict on the send (it learns from it); `None`: let through.
    fn fraud_guard(
        &self,
        request: &SendRequest<'_>,
        guard: &Guard<'_>,
        price_micros: i64,
    ) -> Option<FraudRefusal>;
    /// A send Fraud Guard let through was refused by a later step.
    fn not_sent(&self, guard: &Guard<'_>, now_ms: i64);
    fn owns_number(&self, account: &str, number: &str) -> bool;
    /// The geo permissions that apply to the account (its own or its parent's).
    fn geo_policy(&self, account: &str) -> std::sync::Arc<GeoPolicy>;
    fn recipient_policy(&self, account: &str) -> RecipientPolicy;
    fn is_allowlisted(&self, account: &str, e164: &str) -> bool;
    fn is_known(&self, account: &str, e164: &str) -> bool;
    fn link_rules(&self, account: &str) -> LinkRules<'_>;
    /// Checks the velocity limits of the account (and its parent) and
    /// counts the send when they pass.
    fn velocity(
        &self,
        account: &str,
        keys: &VelocityKeys<'_>,
        now_ms: i64,
    ) -> Result<(), VelocityRefusal>;
    /// The price of one unit to `country`.
    fn unit_price(&self, country: &str, channel: Channel) -> i64;
    /// Checks the caps of the account (and its parent) and counts the price
    /// when it fits.
    fn spend(
        &self,
        account: &str,
        country: &str,
        price_micros: i64,
        now_ms: i64,
    ) -> Result<(), CapExceeded>;
}

/// What a step found when it refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Evidence {
    AccountNotActive,
    FraudGuard(FraudRefusal),
    SenderNotOwned {
        from: String,
    },
    Destination(tollgate_policy::Evidence),
    RecipientNotAllowed {
        number: String,
        policy: RecipientPolicy,
    },
    Link {
        host: String,
        policy: LinkPolicy,
    },
    Velocity(VelocityRefusal),
    Spend(CapExceeded),
}

/// A refused send: the step, its rule, the Twilio error and the evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub step: Step,
    pub rule: String,
    pub spec: &'static ErrorSpec,
    pub message: String,
    /// Seconds, for `Retry-After` (velocity).
    pub retry_after_s: Option<u64>,
    pub evidence: Box<Evidence>,
}

/// What a send that passed every step costs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admitted {
    pub country: String,
    pub price_micros: i64,
}

/// Runs every step of [`ORDER`] over `request`. On admission the velocity
/// limits and the spend ledger have counted the send.
pub fn admit(request: &SendRequest<'_>, views: &dyn Views) -> Result<Admitted, Refusal> {
    let country = request.number.country.unwrap_or("").to_owned();
    let price_micros = views
        .unit_price(&country, request.channel)
        .saturating_mul(request.units);
    let mut guarded = None;
    for step in ORDER {
        let decided = match step {
            Step::AccountActive => account_active(request),
            Step::FraudGuard => match &request.guard {
                None => Ok(()),
                Some(guard) => {
                    guarded = Some(guard);
                    fraud_guard(request, guard, price_micros, views)
                }
            },
            Step::Sender => sender(request, views),
            Step::Destination => destination(request, views),
            Step::Recipient => recipient(request, views),
            Step::Content => content(request, views),
            Step::Velocity => velocity(request, &country, views),
            Step::Spend => spend(request, &country, price_micros, views),
        };
        if let Err(refusal) = decided {
            if let Some(guard) = guarded
                && step > Step::FraudGuard
            {
                views.not_sent(guard, request.now_ms);
            }
            return Err(refusal);
        }
    }
    Ok(Admitted {
        country,
        price_micros,
    })
}

fn refusal(
    step: Step,
    rule: impl Into<String>,
    spec: &'static ErrorSpec,
    message: String,
    evidence: Evidence,
) -> Refusal {
    Refusal {
        step,
        rule: rule.into(),
        spec,
        message,
        retry_after_s: None,
        evidence: Box::new(evidence),
    }
}

/// `To` as E.164 when it parsed, else as given.
fn e164<'a>(request: &'a SendRequest<'a>) -> &'a str {
    request.number.e164.as_deref().unwrap_or(request.to)
}

fn account_active(request: &SendRequest<'_>) -> Result<(), Refusal> {
    if request.account_active {
        return Ok(());
    }
    Err(refusal(
        Step::AccountActive,
        "account.not_active",
        &codes::ACCOUNT_NOT_ACTIVE,
        "Account not active".to_owned(),
        Evidence::AccountNotActive,
    ))
}

fn fraud_guard(
    request: &SendRequest<'_>,
    guard: &Guard<'_>,
    price_micros: i64,
    views: &dyn Views,
) -> Result<(), Refusal> {
    let Some(found) = views.fraud_guard(request, guard, price_micros) else {
        return Ok(());
    };
    let (spec, lead) = match request.edge {
        Edge::Verify => (
            &codes::VERIFY_FRAUD_BLOCKED,
            "Verification delivery attempt blocked: Fraud Guard",
        ),
        Edge::Messages | Edge::Calls => (
            &codes::SMS_PUMPING_BLOCKED,
            "Message delivery blocked: SMS Pumping Protection",
        ),
    };
    let message = if found.listed {
        format!(
            "{lead} blocks {} ({}); see /tollgate/v1/FraudGuard/Blocks",
            found.range, found.rule
        )
    } else {
        format!("{lead} refuses {} ({})", found.range, found.rule)
    };
    Err(refusal(
        Step::FraudGuard,
        found.rule.clone(),
        spec,
        message,
        Evidence::FraudGuard(found),
    ))
}

fn sender(request: &SendRequest<'_>, views: &dyn Views) -> Result<(), Refusal> {
    let Sender::Number(from) = request.from else {
        return Ok(());
    };
    if views.owns_number(request.account, from) {
        return Ok(());
    }
    let (spec, message) = match request.channel {
        Channel::Sms => (
            &codes::SMS_FROM_NOT_OWNED,
            format!(
                "The From phone number {from} is not a valid, SMS-capable inbound phone number or short code for your account."
            ),
        ),
        Channel::Voice => (
            &codes::CALL_FROM_NOT_OWNED,
            format!(
                "The source phone number provided, {from}, is not yet verified for your account. You may only make calls from phone numbers that you've verified or purchased from Twilio."
            ),
        ),
    };
    Err(refusal(
        Step::Sender,
        "sender.not_owned",
        spec,
        message,
        Evidence::SenderNotOwned {
            from: from.to_owned(),
        },
    ))
}

fn destination(request: &SendRequest<'_>, views: &dyn Views) -> Result<(), Refusal> {
    let policy = views.geo_policy(request.account);
    let decision = decide(&policy, request.number, request.to, request.channel);
    if decision.allowed {
        return Ok(());
    }
    let (spec, message) = match request.edge {
        Edge::Verify => (
            &codes::VERIFY_GEO_BLOCKED,
            format!(
                "The destination phone number has been blocked by Verify Geo-Permissions: {}",
                decision.message
            ),
        ),
        Edge::Messages | Edge::Calls => (
            decision
                .error_code
                .and_then(lookup)
                .unwrap_or(&codes::INVALID_PARAMETER),
            decision.message,
        ),
    };
    Err(refusal(
        Step::Destination,
        decision.rule.as_str(),
        spec,
        message,
        Evidence::Destination(decision.evidence),
    ))
}

fn recipient(request: &SendRequest<'_>, views: &dyn Views) -> Result<(), Refusal> {
    let number = e164(request);
    let policy = views.recipient_policy(request.account);
    let allowed = match policy {
        RecipientPolicy::Any => true,
        RecipientPolicy::Allowlist => views.is_allowlisted(request.account, number),
        RecipientPolicy::Known => views.is_known(request.account, number),
    };
    if allowed {
        return Ok(());
    }
    Err(refusal(
        Step::Recipient,
        "recipient.not_allowed",
        &codes::RECIPIENT_NOT_ALLOWED,
        format!("Recipient not allowed: {number} is not an allowed recipient of this account"),
        Evidence::RecipientNotAllowed {
            number: number.to_owned(),
            policy,
        },
    ))
}

fn content(request: &SendRequest<'_>, views: &dyn Views) -> Result<(), Refusal> {
    let Some(body) = request.body else {
        return Ok(());
    };
    let rules = views.link_rules(request.account);
    for link in find_links(body) {
        let in_list = |list: &[String]| list.iter().any(|d| host_in(&link.host, d));
        let evidence = || Evidence::Link {
            host: link.host.clone(),
            policy: rules.policy,
        };
        if in_list(rules.blocklist) {
            return Err(refusal(
                Step::Content,
                "content.url_blocklisted",
                &codes::URL_BLOCKLISTED,
                format!("Url is on a deny list: {}", link.host),
                evidence(),
            ));
        }
        let allowed = match rules.policy {
            LinkPolicy::Block => false,
            LinkPolicy::Allowlist => in_list(rules.domains),
            LinkPolicy::Allow => {
                in_list(rules.domains) || !SHORTENERS.iter().any(|s| host_in(&link.host, s))
            }
        };
        if !allowed {
            return Err(refusal(
                Step::Content,
                "content.domain_blocked",
                &codes::DOMAIN_BLOCKED,
                format!("Domain is blocked: {}", link.host),
                evidence(),
            ));
        }
    }
    Ok(())
}

fn velocity(request: &SendRequest<'_>, country: &str, views: &dyn Views) -> Result<(), Refusal> {
    let from = match request.from {
        Sender::Number(n) => n,
        Sender::Tollgate => TOLLGATE_SENDER,
    };
    let keys = VelocityKeys {
        channel: request.channel,
        from,
        to: e164(request),
        country,
        ip: request.ip,
    };
    let Err(refused) = views.velocity(request.account, &keys, request.now_ms) else {
        return Ok(());
    };
    let seconds = u64::try_from((refused.retry_after_ms + 999) / 1000)
        .unwrap_or(1)
        .max(1);
    let mut r = refusal(
        Step::Velocity,
        format!("velocity.{}", refused.key),
        &codes::TOO_MANY_REQUESTS,
        format!(
            "Too Many Requests: the {} limit ({}) is reached; retry in {seconds} s",
            refused.key, refused.rule
        ),
        Evidence::Velocity(refused),
    );
    r.retry_after_s = Some(seconds);
    Err(r)
}

fn spend(
    request: &SendRequest<'_>,
    country: &str,
    price_micros: i64,
    views: &dyn Views,
) -> Result<(), Refusal> {
    let Err(cap) = views.spend(request.account, country, price_micros, request.now_ms) else {
        return Ok(());
    };
    let usd = |micros: i64| format_price(micros).trim_start_matches('-').to_owned();
    Err(refusal(
        Step::Spend,
        "spend.cap_exceeded",
        &codes::SPEND_CAP_EXCEEDED,
        format!(
            "Spend cap exceeded: {} ({} per {}) of {}: spent {} of {} USD; this send costs {}",
            cap.limit_sid,
            cap.scope.render(),
            cap.period.as_str(),
            cap.account_sid,
            usd(cap.spent_micros),
            usd(cap.limit_micros),
            usd(cap.price_micros),
        ),
        Evidence::Spend(cap),
    ))
}

#[cfg(test)]
mod tests;
