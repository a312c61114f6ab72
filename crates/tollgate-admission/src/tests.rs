//! The pipeline without a server: a table of sends, each refused (or not)
//! by one rule, with its code and evidence; the order; what is counted.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::sync::Arc;

use tollgate_numbering::Classifier;
use tollgate_policy::spend::{Period, Scope};
use tollgate_policy::{GeoPolicy, VoicePermission};

use super::*;

/// State as a test wants it.
struct Fake {
    owned: HashSet<String>,
    geo: Arc<GeoPolicy>,
    recipients: RecipientPolicy,
    allowlist: HashSet<String>,
    known: HashSet<String>,
    link_policy: LinkPolicy,
    domains: Vec<String>,
    blocklist: Vec<String>,
    velocity_left: Cell<u32>,
    spend_left: Cell<i64>,
    fraud: Option<FraudRefusal>,
    /// What the fake was asked, in order.
    calls: RefCell<Vec<String>>,
}

impl Default for Fake {
    fn default() -> Self {
        let mut geo = GeoPolicy {
            owner: "AC1".into(),
            ..GeoPolicy::default()
        };
        geo.sms.insert("US".into());
        geo.voice.insert(
            "US".into(),
            VoicePermission {
                low_risk: true,
                high_risk_special: false,
                high_risk_tollfraud: false,
            },
        );
        Fake {
            owned: ["+12015550123".to_owned()].into(),
            geo: Arc::new(geo),
            recipients: RecipientPolicy::Any,
            allowlist: HashSet::new(),
            known: HashSet::new(),
            link_policy: LinkPolicy::Allow,
            domains: vec![],
            blocklist: vec![],
            velocity_left: Cell::new(u32::MAX),
            spend_left: Cell::new(i64::MAX),
            fraud: None,
            calls: RefCell::new(vec![]),
        }
    }
}

impl Views for Fake {
    fn fraud_guard(
        &self,
        _: &SendRequest<'_>,
        guard: &Guard<'_>,
        price: i64,
    ) -> Option<FraudRefusal> {
        self.calls
            .borrow_mut()
            .push(format!("fraud_guard {} {price}", guard.scope));
        self.fraud.clone()
    }
    fn not_sent(&self, guard: &Guard<'_>, _: i64) {
        self.calls
            .borrow_mut()
            .push(format!("not_sent {}", guard.send_id));
    }
    fn owns_number(&self, _: &str, number: &str) -> bool {
        self.owned.contains(number)
    }
    fn geo_policy(&self, _: &str) -> Arc<GeoPolicy> {
        self.geo.clone()
    }
    fn recipient_policy(&self, _: &str) -> RecipientPolicy {
        self.recipients
    }
    fn is_allowlisted(&self, _: &str, e164: &str) -> bool {
        self.allowlist.contains(e164)
    }
    fn is_known(&self, _: &str, e164: &str) -> bool {
        self.known.contains(e164)
    }
    fn link_rules(&self, _: &str) -> LinkRules<'_> {
        LinkRules {
            policy: self.link_policy,
            domains: &self.domains,
            blocklist: &self.blocklist,
        }
    }
    fn velocity(&self, _: &str, keys: &VelocityKeys<'_>, _: i64) -> Result<(), VelocityRefusal> {
        self.calls
            .borrow_mut()
            .push(format!("velocity {} {}", keys.from, keys.to));
        match self.velocity_left.get() {
            0 => Err(VelocityRefusal {
                rule: "RL1".into(),
                key: "to".into(),
                retry_after_ms: 1_500,
            }),
            n => {
                self.velocity_left.set(n - 1);
                Ok(())
            }
        }
    }
    fn unit_price(&self, country: &str, channel: Channel) -> i64 {
        match (country, channel) {
            ("US", Channel::Sms) => 8_300,
            (_, Channel::Voice) => 14_000,
            _ => 50_000,
        }
    }
    fn spend(&self, account: &str, _: &str, price: i64, _: i64) -> Result<(), CapExceeded> {
        self.calls.borrow_mut().push(format!("spend {price}"));
        if price > self.spend_left.get() {
            return Err(CapExceeded {
                limit_sid: "SL1".into(),
                account_sid: account.into(),
                scope: Scope::Account,
                period: Period::Day,
                limit_micros: 10_000,
                spent_micros: 10_000 - self.spend_left.get(),
                price_micros: price,
            });
        }
        self.spend_left.set(self.spend_left.get() - price);
        Ok(())
    }
}

struct Send {
    edge: Edge,
    channel: Channel,
    active: bool,
    from: Sender<'static>,
    to: &'static str,
    body: Option<&'static str>,
    guarded: bool,
}

impl Default for Send {
    fn default() -> Self {
        Send {
            edge: Edge::Messages,
            channel: Channel::Sms,
            active: true,
            from: Sender::Number("+12015550123"),
            to: "+12015550100",
            body: Some("hello"),
            guarded: false,
        }
    }
}

fn run(send: Send, views: &Fake) -> Result<Admitted, Refusal> {
    let number = Classifier::new().classify(send.to, None);
    let guard = Guard {
        scope: "VA1",
        send_id: "VL1",
        ip: None,
        ip_flags: None,
        device: None,
    };
    let request = SendRequest {
        edge: send.edge,
        channel: send.channel,
        account: "AC1",
        account_active: send.active,
        from: send.from,
        to: send.to,
        number: &number,
        body: send.body,
        units: 2,
        ip: None,
        guard: send.guarded.then_some(guard),
        now_ms: 1_000,
    };
    admit(&request, views)
}

fn fraud() -> FraudRefusal {
    FraudRefusal {
        rule: "fraudguard.density".into(),
        range: "+1201555".into(),
        listed: true,
        evidence: "12 unverified sends".into(),
    }
}

/// Every rule: the send, the state, the step, rule id, code and evidence.
#[test]
fn each_rule_refuses_with_its_step_code_and_evidence() {
    type Case = (
        &'static str,
        Send,
        Fake,
        Step,
        &'static str,
        u32,
        fn(&Evidence) -> bool,
    );
    let cases: Vec<Case> = vec![
        (
            "suspended account",
            Send {
                active: false,
                ..Send::default()
            },
            Fake::default(),
            Step::AccountActive,
            "account.not_active",
            20005,
            |e| matches!(e, Evidence::AccountNotActive),
        ),
        (
            "Fraud Guard on a message",
            Send {
                guarded: true,
                ..Send::default()
            },
            Fake {
                fraud: Some(fraud()),
                ..Fake::default()
            },
            Step::FraudGuard,
            "fraudguard.density",
            30450,
            |e| matches!(e, Evidence::FraudGuard(f) if f.range == "+1201555"),
        ),
        (
            "Fraud Guard on Verify",
            Send {
                guarded: true,
                edge: Edge::Verify,
                from: Sender::Tollgate,
                ..Send::default()
            },
            Fake {
                fraud: Some(fraud()),
                ..Fake::default()
            },
            Step::FraudGuard,
            "fraudguard.density",
            60410,
            |e| matches!(e, Evidence::FraudGuard(f) if f.rule == "fraudguard.density"),
        ),
        (
            "SMS from a number not owned",
            Send {
                from: Sender::Number("+12015550999"),
                ..Send::default()
            },
            Fake::default(),
            Step::Sender,
            "sender.not_owned",
            21606,
            |e| matches!(e, Evidence::SenderNotOwned { from } if from == "+12015550999"),
        ),
        (
            "call from a number not owned",
            Send {
                channel: Channel::Voice,
                from: Sender::Number("+12015550999"),
                body: None,
                edge: Edge::Calls,
                ..Send::default()
            },
            Fake::default(),
            Step::Sender,
            "sender.not_owned",
            21210,
            |e| matches!(e, Evidence::SenderNotOwned { .. }),
        ),
        (
            "SMS to a country not enabled",
            Send {
                to: "+447400123456",
                ..Send::default()
            },
            Fake::default(),
            Step::Destination,
            "geo.country_not_enabled",
            21408,
            |e| matches!(e, Evidence::Destination(d) if d.country == Some("GB")),
        ),
        (
            "Verify to a country not enabled",
            Send {
                to: "+447400123456",
                edge: Edge::Verify,
                from: Sender::Tollgate,
                ..Send::default()
            },
            Fake::default(),
            Step::Destination,
            "geo.country_not_enabled",
            60605,
            |e| matches!(e, Evidence::Destination(_)),
        ),
        (
            "invalid To",
            Send {
                to: "+1201",
                ..Send::default()
            },
            Fake::default(),
            Step::Destination,
            "geo.invalid_number",
            21211,
            |e| matches!(e, Evidence::Destination(d) if d.input == "+1201"),
        ),
        (
            "recipient not on the allowlist",
            Send::default(),
            Fake {
                recipients: RecipientPolicy::Allowlist,
                ..Fake::default()
            },
            Step::Recipient,
            "recipient.not_allowed",
            99010,
            |e| matches!(e, Evidence::RecipientNotAllowed { number, policy: RecipientPolicy::Allowlist } if number == "+12015550100"),
        ),
        (
            "recipient never texted the account",
            Send::default(),
            Fake {
                recipients: RecipientPolicy::Known,
                ..Fake::default()
            },
            Step::Recipient,
            "recipient.not_allowed",
            99010,
            |e| {
                matches!(
                    e,
                    Evidence::RecipientNotAllowed {
                        policy: RecipientPolicy::Known,
                        ..
                    }
                )
            },
        ),
        (
            "a blocklisted domain",
            Send {
                body: Some("see https://evil.example/login"),
                ..Send::default()
            },
            Fake {
                blocklist: vec!["evil.example".into()],
                ..Fake::default()
            },
            Step::Content,
            "content.url_blocklisted",
            30111,
            |e| matches!(e, Evidence::Link { host, .. } if host == "evil.example"),
        ),
        (
            "a shortener under LinkPolicy=allow",
            Send {
                body: Some("go to bit.ly/x"),
                ..Send::default()
            },
            Fake::default(),
            Step::Content,
            "content.domain_blocked",
            30110,
            |e| {
                matches!(
                    e,
                    Evidence::Link {
                        policy: LinkPolicy::Allow,
                        ..
                    }
                )
            },
        ),
        (
            "any link under LinkPolicy=block",
            Send {
                body: Some("www.example.com"),
                ..Send::default()
            },
            Fake {
                link_policy: LinkPolicy::Block,
                ..Fake::default()
            },
            Step::Content,
            "content.domain_blocked",
            30110,
            |e| {
                matches!(
                    e,
                    Evidence::Link {
                        policy: LinkPolicy::Block,
                        ..
                    }
                )
            },
        ),
        (
            "a velocity limit",
            Send::default(),
            Fake {
                velocity_left: Cell::new(0),
                ..Fake::default()
            },
            Step::Velocity,
            "velocity.to",
            20429,
            |e| matches!(e, Evidence::Velocity(v) if v.rule == "RL1"),
        ),
        (
            "a spend cap",
            Send::default(),
            Fake {
                spend_left: Cell::new(100),
                ..Fake::default()
            },
            Step::Spend,
            "spend.cap_exceeded",
            99001,
            |e| matches!(e, Evidence::Spend(c) if c.price_micros == 16_600),
        ),
    ];
    for (name, send, views, step, rule, code, evidence) in cases {
        let refused = run(send, &views).expect_err(name);
        assert_eq!(refused.step, step, "{name}");
        assert_eq!(refused.rule, rule, "{name}");
        assert_eq!(refused.spec.code, code, "{name}");
        assert!(
            evidence(&refused.evidence),
            "{name}: {:?}",
            refused.evidence
        );
        assert!(!refused.message.is_empty(), "{name}");
    }
}

#[test]
fn a_send_that_passes_is_priced_and_counted_once() {
    let views = Fake {
        velocity_left: Cell::new(1),
        spend_left: Cell::new(20_000),
        ..Fake::default()
    };
    let admitted = run(Send::default(), &views).unwrap();
    assert_eq!(
        admitted,
        Admitted {
            country: "US".into(),
            price_micros: 16_600
        }
    );
    assert_eq!(views.velocity_left.get(), 0);
    assert_eq!(views.spend_left.get(), 20_000 - 16_600);
    // Verify's own sender counts under its own name.
    let views = Fake::default();
    run(
        Send {
            from: Sender::Tollgate,
            edge: Edge::Verify,
            ..Send::default()
        },
        &views,
    )
    .unwrap();
    assert!(
        views
            .calls
            .borrow()
            .contains(&"velocity Verify +12015550100".to_owned())
    );
}

#[test]
fn the_first_step_that_refuses_decides_and_later_ones_do_not_run() {
    // Refused by the sender, the destination and velocity alike: the sender decides,
    // and nothing was counted.
    let views = Fake {
        velocity_left: Cell::new(0),
        ..Fake::default()
    };
    let refused = run(
        Send {
            from: Sender::Number("+12015550999"),
            to: "+447400123456",
            ..Send::default()
        },
        &views,
    )
    .unwrap_err();
    assert_eq!(refused.step, Step::Sender);
    assert!(
        views.calls.borrow().is_empty(),
        "{:?}",
        views.calls.borrow()
    );
    assert_eq!(
        ORDER.windows(2).filter(|w| w[0] < w[1]).count(),
        ORDER.len() - 1
    );
}

#[test]
fn fraud_guard_sees_the_send_first_and_hears_when_a_later_step_refuses_it() {
    let views = Fake {
        spend_left: Cell::new(0),
        ..Fake::default()
    };
    let refused = run(
        Send {
            guarded: true,
            to: "+447400123456",
            ..Send::default()
        },
        &views,
    )
    .unwrap_err();
    assert_eq!(refused.step, Step::Destination);
    assert_eq!(
        *views.calls.borrow(),
        vec![
            "fraud_guard VA1 100000".to_owned(),
            "not_sent VL1".to_owned()
        ]
    );
    // Refused by Fraud Guard itself: no not_sent.
    let views = Fake {
        fraud: Some(fraud()),
        ..Fake::default()
    };
    run(
        Send {
            guarded: true,
            ..Send::default()
        },
        &views,
    )
    .unwrap_err();
    assert_eq!(views.calls.borrow().len(), 1);
    // Unguarded sends never reach it.
    let views = Fake::default();
    run(Send::default(), &views).unwrap();
    assert!(
        !views
            .calls
            .borrow()
            .iter()
            .any(|c| c.starts_with("fraud_guard"))
    );
}

#[test]
fn a_velocity_refusal_says_when_to_retry() {
    let views = Fake {
        velocity_left: Cell::new(0),
        ..Fake::default()
    };
    let refused = run(Send::default(), &views).unwrap_err();
    assert_eq!(refused.retry_after_s, Some(2));
    assert!(
        refused.message.contains("retry in 2 s"),
        "{}",
        refused.message
    );
}
