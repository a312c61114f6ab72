//! The admission pipeline ([`tollgate_admission`]) over this server's
//! state: the snapshot for rules, the traffic counters for velocity and
//! spend, the Verify state for Fraud Guard. Every edge that sends (Messages,
//! Calls, Verify) asks [`admit`]; the HTTP layer turns a refusal into
//! Twilio's JSON with [`ApiError::from`].

use std::sync::{Arc, Mutex};

use tollgate_admission::{
    FraudRefusal, Guard, LinkRules, RecipientPolicy, SendRequest, VelocityKeys, VelocityRefusal,
};
use tollgate_detect::Mode;
use tollgate_policy::spend::CapExceeded;
use tollgate_policy::{Channel, GeoPolicy};
use tollgate_store::FraudBlockRecord;

pub use tollgate_admission::{Admitted, Edge, Refusal, Sender, Step};

use crate::app::App;
use crate::error::ApiError;
use crate::state::snapshot::{AccountEntry, Snapshot};
use crate::state::verifications::seconds;

/// Runs the pipeline for `request` from `account`, with Fraud Guard in
/// `mode` when the request asks for it, then stores a block Fraud Guard
/// raised (its one side effect that touches the disk).
pub async fn admit(
    app: &App,
    snapshot: &Snapshot,
    account: &AccountEntry,
    mode: Mode,
    request: &SendRequest<'_>,
) -> Result<Admitted, Refusal> {
    let views = ServerViews {
        app,
        snapshot,
        account,
        mode,
        block: Mutex::new(None),
    };
    let decided = tollgate_admission::admit(request, &views);
    let block = views.block.lock().ok().and_then(|mut b| b.take());
    if let Some(record) = block
        && let Err(e) = app.store.put_fraud_block(&record).await
    {
        tracing::error!(error = %e, scope = %record.scope, "cannot record a Fraud Guard block");
    }
    if let Err(refusal) = &decided {
        app.audit.blocked(&account.sid, &refusal.rule);
    }
    decided
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> ApiError {
        let mut error = ApiError::new(refusal.spec, refusal.message);
        error.retry_after = refusal.retry_after_s;
        error
    }
}

/// No link domains.
const NONE: &[String] = &[];

struct ServerViews<'a> {
    app: &'a App,
    snapshot: &'a Snapshot,
    account: &'a AccountEntry,
    mode: Mode,
    /// A Fraud Guard block to store once the pipeline has run.
    block: Mutex<Option<FraudBlockRecord>>,
}

impl tollgate_admission::Views for ServerViews<'_> {
    fn fraud_guard(
        &self,
        request: &SendRequest<'_>,
        guard: &Guard<'_>,
        price_micros: i64,
    ) -> Option<FraudRefusal> {
        let number = request.number;
        let e164 = number.e164.as_deref().unwrap_or("");
        let classified =
            tollgate_detect::replay::Classified::from_numbering(e164, number, price_micros);
        let ip = guard.ip.map(|i| i.to_string());
        let flags: Vec<&str> = guard
            .ip_flags
            .map(|f| {
                f.split(',')
                    .map(str::trim)
                    .filter(|f| !f.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let detector_request = tollgate_detect::Request {
            t: seconds(request.now_ms),
            id: guard.send_id,
            digits: &classified.digits,
            calling_code: &classified.calling_code,
            valid: classified.valid,
            channel: match request.channel {
                Channel::Sms => tollgate_detect::Channel::Sms,
                Channel::Voice => tollgate_detect::Channel::Call,
            },
            ip: ip.as_deref(),
            ip_flags: tollgate_detect::IpFlags::from_names(flags),
            device: guard.device,
            price_micros,
            risk: classified.risk,
        };
        let (verdict, write) =
            self.app
                .verify
                .guard(guard.scope, &self.account.sid, self.mode, &detector_request);
        if let Some(record) = write
            && let Ok(mut block) = self.block.lock()
        {
            *block = Some(record);
        }
        if verdict.allow {
            return None;
        }
        let range = verdict.range.unwrap_or_else(|| e164.to_owned());
        tracing::info!(scope = guard.scope, range, rule = verdict.rule, evidence = %verdict.evidence, "Fraud Guard block");
        Some(FraudRefusal {
            rule: verdict.rule.to_owned(),
            range,
            listed: tollgate_detect::lists_a_block(verdict.rule),
            evidence: verdict.evidence.to_string(),
        })
    }

    fn not_sent(&self, guard: &Guard<'_>, now_ms: i64) {
        self.app.verify.not_sent(guard.scope, guard.send_id, now_ms);
    }

    fn owns_number(&self, account: &str, number: &str) -> bool {
        self.snapshot
            .numbers
            .get(number)
            .is_some_and(|n| n.record.account_sid == account)
    }

    fn geo_policy(&self, _account: &str) -> Arc<GeoPolicy> {
        self.snapshot.effective_geo(self.account)
    }

    fn recipient_policy(&self, account: &str) -> RecipientPolicy {
        self.snapshot
            .settings
            .get(account)
            .map(|s| s.recipient_policy)
            .unwrap_or_default()
    }

    fn is_allowlisted(&self, account: &str, e164: &str) -> bool {
        self.snapshot
            .recipients
            .get(account)
            .is_some_and(|r| r.contains(e164))
    }

    fn is_known(&self, account: &str, e164: &str) -> bool {
        self.app.traffic.is_known(account, e164)
    }

    fn link_rules(&self, account: &str) -> LinkRules<'_> {
        match self.snapshot.settings.get(account) {
            Some(s) => LinkRules {
                policy: s.link_policy,
                domains: &s.link_domains,
                blocklist: &s.link_blocklist,
            },
            None => LinkRules {
                policy: Default::default(),
                domains: NONE,
                blocklist: NONE,
            },
        }
    }

    fn velocity(
        &self,
        _account: &str,
        keys: &VelocityKeys<'_>,
        now_ms: i64,
    ) -> Result<(), VelocityRefusal> {
        self.app
            .traffic
            .velocity(self.snapshot, self.account, keys, now_ms)
    }

    fn unit_price(&self, country: &str, channel: Channel) -> i64 {
        let price = self.app.traffic.prices.get(country);
        match channel {
            Channel::Sms => price.sms_outbound,
            Channel::Voice => price.voice_per_minute,
        }
    }

    fn spend(
        &self,
        _account: &str,
        country: &str,
        price_micros: i64,
        now_ms: i64,
    ) -> Result<(), CapExceeded> {
        let chain = self.snapshot.chain(self.account);
        self.app
            .traffic
            .spend(self.snapshot, &chain, country, price_micros, now_ms)
    }
}
