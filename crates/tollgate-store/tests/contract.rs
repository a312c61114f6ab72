//! One contract, two stores: every check runs on SQLite and, when
//! `TOLLGATE_TEST_POSTGRES_URL` is set, on PostgreSQL in a fresh schema.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // A test binary: failing loudly is the point.

use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;
use tollgate_store::{
    AccountQuery, AccountRecord, ApiKeyRecord, BlockRecord, CallRecord, DeliveryStatus,
    FraudBlockRecord, GeoPermissionRecord, MessageRecord, NumberRecord, PageQuery, PgStore,
    PublicKeyRecord, RateLimitRecord, SafeListRecord, ServiceRecord, SettingRecord,
    SpendLimitRecord, SqliteStore, Store, StoreError, TrafficQuery, UsageRow, VerificationRecord,
    VerifyBucketRecord, VerifyRateLimitRecord, VerifyServiceRecord, WebhookRecord,
};
use tollgate_types::AccountStatus;

fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).unwrap();
    hex::encode(bytes)
}

fn account(sid: &str, owner: &str, created: i64) -> AccountRecord {
    AccountRecord {
        sid: sid.into(),
        owner_account_sid: owner.into(),
        friendly_name: format!("name {sid}"),
        status: AccountStatus::Active,
        auth_token_sealed: vec![1, 2, 3, created as u8],
        secondary_token_sealed: None,
        secondary_token_created: None,
        require_client_validation: false,
        dialing_permissions_inheritance: true,
        date_created: created,
        date_updated: created,
    }
}

fn key(sid: &str, account: &str, created: i64) -> ApiKeyRecord {
    ApiKeyRecord {
        sid: sid.into(),
        account_sid: account.into(),
        friendly_name: format!("key {sid}"),
        secret_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        date_created: created,
        date_updated: created,
    }
}

/// `limit` rows after `key` (`(date_created, sid)`), or before it when `backward`.
fn page(limit: u32, key: Option<(i64, &str)>, backward: bool) -> PageQuery {
    PageQuery {
        limit,
        key: key.map(|(d, s)| (d, s.to_owned())),
        backward,
    }
}

async fn contract(store: &dyn Store) {
    store.migrate().await.unwrap();
    store.migrate().await.unwrap(); // idempotent

    // Initialisation: exactly one main account.
    assert_eq!(store.main_account().await.unwrap(), None);
    let main = account("ACmain", "ACmain", 1_000);
    store.insert_main_account(&main, &[]).await.unwrap();
    assert_eq!(store.main_account().await.unwrap(), Some(main.clone()));
    let second = account("ACother", "ACother", 1_001);
    assert!(matches!(
        store.insert_main_account(&second, &[]).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(store.account("ACother").await.unwrap().is_none());

    // Subaccounts, listing, filters and keyset pages.
    for i in 0..5 {
        store
            .insert_account(&account(&format!("ACsub{i}"), "ACmain", 2_000 + i), &[])
            .await
            .unwrap();
    }
    assert!(matches!(
        store
            .insert_account(&account("ACsub0", "ACmain", 9), &[])
            .await,
        Err(StoreError::Conflict(_))
    ));
    let family = AccountQuery {
        family_of: "ACmain".into(),
        friendly_name: None,
        status: None,
    };
    let all = store
        .list_accounts(&family, &page(100, None, false))
        .await
        .unwrap();
    let sids: Vec<&str> = all.iter().map(|a| a.sid.as_str()).collect();
    assert_eq!(
        sids,
        ["ACmain", "ACsub0", "ACsub1", "ACsub2", "ACsub3", "ACsub4"]
    );
    let after = store
        .list_accounts(&family, &page(2, Some((2_001, "ACsub1")), false))
        .await
        .unwrap();
    assert_eq!(
        after.iter().map(|a| a.sid.as_str()).collect::<Vec<_>>(),
        ["ACsub2", "ACsub3"]
    );
    // Backward: the rows before the key, nearest first.
    let before = store
        .list_accounts(&family, &page(2, Some((2_004, "ACsub4")), true))
        .await
        .unwrap();
    assert_eq!(
        before.iter().map(|a| a.sid.as_str()).collect::<Vec<_>>(),
        ["ACsub3", "ACsub2"]
    );
    // The key is a place in the order, not a row: one that never existed works.
    let between = store
        .list_accounts(&family, &page(10, Some((2_002, "ACsub2x")), false))
        .await
        .unwrap();
    assert_eq!(
        between.iter().map(|a| a.sid.as_str()).collect::<Vec<_>>(),
        ["ACsub3", "ACsub4"]
    );
    // A subaccount's family is only itself.
    let own = AccountQuery {
        family_of: "ACsub2".into(),
        friendly_name: None,
        status: None,
    };
    assert_eq!(
        store
            .list_accounts(&own, &page(10, None, false))
            .await
            .unwrap()
            .len(),
        1
    );

    // Update every mutable field; filters see the change.
    let mut sub = store.account("ACsub3").await.unwrap().unwrap();
    sub.status = AccountStatus::Suspended;
    sub.friendly_name = "renamed".into();
    sub.secondary_token_sealed = Some(vec![9, 9]);
    sub.secondary_token_created = Some(5_000);
    sub.date_updated = 5_000;
    assert!(store.update_account(&sub, &[]).await.unwrap());
    assert_eq!(store.account("ACsub3").await.unwrap(), Some(sub.clone()));
    let suspended = AccountQuery {
        status: Some(AccountStatus::Suspended),
        ..family.clone()
    };
    let found = store
        .list_accounts(&suspended, &page(10, None, false))
        .await
        .unwrap();
    assert_eq!(found, vec![sub.clone()]);
    let by_name = AccountQuery {
        friendly_name: Some("renamed".into()),
        ..family.clone()
    };
    assert_eq!(
        store
            .list_accounts(&by_name, &page(10, None, false))
            .await
            .unwrap(),
        vec![sub]
    );
    assert!(
        !store
            .update_account(&account("ACnone", "ACmain", 1), &[])
            .await
            .unwrap()
    );
    assert_eq!(store.all_accounts().await.unwrap().len(), 6);

    // Keys: scoped to their account.
    for i in 0..3 {
        store
            .insert_api_key(&key(&format!("SK{i}"), "ACsub0", 3_000 + i), &[])
            .await
            .unwrap();
    }
    store
        .insert_api_key(&key("SKx", "ACsub1", 3_000), &[])
        .await
        .unwrap();
    assert!(store.api_key("ACsub1", "SK0").await.unwrap().is_none());
    let mut k = store.api_key("ACsub0", "SK1").await.unwrap().unwrap();
    k.friendly_name = "renamed key".into();
    k.date_updated = 4_000;
    assert!(store.update_api_key(&k, &[]).await.unwrap());
    assert_eq!(store.api_key("ACsub0", "SK1").await.unwrap(), Some(k));
    let keys = store
        .list_api_keys("ACsub0", &page(10, None, false))
        .await
        .unwrap();
    assert_eq!(
        keys.iter().map(|k| k.sid.as_str()).collect::<Vec<_>>(),
        ["SK0", "SK1", "SK2"]
    );
    let next = store
        .list_api_keys("ACsub0", &page(10, Some((3_000, "SK0")), false))
        .await
        .unwrap();
    assert_eq!(next.len(), 2);
    assert!(!store.delete_api_key("ACsub1", "SK1", &[]).await.unwrap());
    assert!(store.delete_api_key("ACsub0", "SK1", &[]).await.unwrap());
    assert!(!store.delete_api_key("ACsub0", "SK1", &[]).await.unwrap());
    assert_eq!(store.all_api_keys().await.unwrap().len(), 3);
    // A key must belong to an existing account.
    assert!(
        store
            .insert_api_key(&key("SKorphan", "ACnobody", 1), &[])
            .await
            .is_err()
    );

    // Client validation: the account switch persists.
    let mut acct = store.account("ACsub2").await.unwrap().unwrap();
    acct.require_client_validation = true;
    assert!(store.update_account(&acct, &[]).await.unwrap());
    assert!(
        store
            .account("ACsub2")
            .await
            .unwrap()
            .unwrap()
            .require_client_validation
    );

    // Public keys: scoped to their account.
    let pk = |sid: &str, account: &str, created: i64| PublicKeyRecord {
        sid: sid.into(),
        account_sid: account.into(),
        friendly_name: None,
        public_key: "-----BEGIN PUBLIC KEY-----\n...".into(),
        date_created: created,
        date_updated: created,
    };
    store
        .insert_public_key(&pk("CR1", "ACsub2", 5_000), &[])
        .await
        .unwrap();
    store
        .insert_public_key(&pk("CR2", "ACsub2", 5_001), &[])
        .await
        .unwrap();
    let mut renamed = pk("CR1", "ACsub2", 5_000);
    renamed.friendly_name = Some("laptop".into());
    assert!(store.update_public_key(&renamed, &[]).await.unwrap());
    let listed = store
        .list_public_keys("ACsub2", &page(10, None, false))
        .await
        .unwrap();
    assert_eq!(listed, vec![renamed, pk("CR2", "ACsub2", 5_001)]);
    assert!(!store.delete_public_key("ACsub3", "CR2", &[]).await.unwrap());
    assert!(store.delete_public_key("ACsub2", "CR2", &[]).await.unwrap());
    assert_eq!(store.all_public_keys().await.unwrap().len(), 1);

    // Webhook queue: bounded, due order, leases, attempts.
    let hook = |sid: &str, due: i64| WebhookRecord {
        sid: sid.into(),
        account_sid: "ACsub2".into(),
        url_sealed: vec![9, 9],
        url_redacted: "https://example.com/h".into(),
        method: "POST".into(),
        content_type: "application/x-www-form-urlencoded".into(),
        body: b"A=1".to_vec(),
        status: DeliveryStatus::Queued,
        attempts: 0,
        next_attempt_at: due,
        lease_until: None,
        last_response_code: None,
        last_error: None,
        date_created: due,
        date_updated: due,
        ordering_key: Some("SMx".into()),
    };
    assert_eq!(store.next_webhook_due().await.unwrap(), None);
    assert!(store.enqueue_webhook(&hook("WD2", 200), 2).await.unwrap());
    assert!(store.enqueue_webhook(&hook("WD1", 100), 2).await.unwrap());
    assert!(
        !store.enqueue_webhook(&hook("WD3", 50), 2).await.unwrap(),
        "queue full"
    );
    assert_eq!(store.next_webhook_due().await.unwrap(), Some(100));
    let due = store.due_webhooks(150, 10).await.unwrap();
    assert_eq!(due, vec![hook("WD1", 100)]);
    assert!(
        store
            .lease_webhook("WD1", 150, 1_150, "node-a")
            .await
            .unwrap()
    );
    assert!(
        !store
            .lease_webhook("WD1", 160, 1_160, "node-b")
            .await
            .unwrap(),
        "held"
    );
    // Another node starting again leaves node-a's lease alone; node-a
    // starting again takes it back at once.
    assert_eq!(store.release_webhook_leases("node-b").await.unwrap(), 0);
    assert!(
        !store
            .lease_webhook("WD1", 170, 1_170, "node-b")
            .await
            .unwrap()
    );
    assert_eq!(store.release_webhook_leases("node-a").await.unwrap(), 1);
    assert!(
        store
            .lease_webhook("WD1", 180, 1_150, "node-a")
            .await
            .unwrap()
    );
    assert!(
        store
            .due_webhooks(500, 10)
            .await
            .unwrap()
            .iter()
            .all(|w| w.sid != "WD1")
    );
    // A leased delivery is next due when its lease runs out.
    assert_eq!(store.next_webhook_due().await.unwrap(), Some(200));
    let mut done = hook("WD1", 100);
    done.status = DeliveryStatus::Delivered;
    done.attempts = 1;
    done.last_response_code = Some(204);
    done.date_updated = 151;
    assert!(store.record_webhook_attempt(&done).await.unwrap());
    assert_eq!(store.webhook("ACsub2", "WD1").await.unwrap(), Some(done));
    assert_eq!(store.release_webhook_leases("node-a").await.unwrap(), 0);
    assert!(store.webhook("ACsub3", "WD1").await.unwrap().is_none());
    assert!(
        !store
            .lease_webhook("WD1", 2_000, 3_000, "node-a")
            .await
            .unwrap(),
        "done"
    );
    // Geo permissions: upsert replaces, listing is ordered.
    let geo = |channel: &str, iso: &str, low: bool| GeoPermissionRecord {
        account_sid: "ACsub2".into(),
        channel: channel.into(),
        iso_code: iso.into(),
        low_risk: low,
        high_risk_special: false,
        high_risk_tollfraud: false,
        date_updated: 7_000,
    };
    store
        .upsert_geo_permissions(
            &[
                geo("voice", "US", true),
                geo("sms", "US", true),
                geo("voice", "GB", true),
            ],
            &[],
        )
        .await
        .unwrap();
    store
        .upsert_geo_permissions(&[geo("voice", "GB", false)], &[])
        .await
        .unwrap();
    assert_eq!(
        store.all_geo_permissions().await.unwrap(),
        vec![
            geo("sms", "US", true),
            geo("voice", "GB", false),
            geo("voice", "US", true)
        ]
    );
    assert!(
        store
            .upsert_geo_permissions(
                &[GeoPermissionRecord {
                    account_sid: "ACnobody".into(),
                    ..geo("sms", "FR", true)
                }],
                &[]
            )
            .await
            .is_err()
    );
    let mut acct = store.account("ACsub2").await.unwrap().unwrap();
    assert!(acct.dialing_permissions_inheritance);
    acct.dialing_permissions_inheritance = false;
    assert!(store.update_account(&acct, &[]).await.unwrap());
    assert!(
        !store
            .account("ACsub2")
            .await
            .unwrap()
            .unwrap()
            .dialing_permissions_inheritance
    );

    // Numbers: one owner per number.
    let number = |sid: &str, account: &str, e164: &str| NumberRecord {
        sid: sid.into(),
        account_sid: account.into(),
        phone_number: e164.into(),
        friendly_name: e164.into(),
        sms_url_sealed: Some(vec![1]),
        sms_method: "POST".into(),
        voice_url_sealed: None,
        voice_method: "POST".into(),
        status_callback_sealed: None,
        status_callback_method: "POST".into(),
        date_created: 8_000,
        date_updated: 8_000,
    };
    store
        .insert_number(&number("PN1", "ACsub2", "+15005550006"), &[])
        .await
        .unwrap();
    assert!(matches!(
        store
            .insert_number(&number("PN2", "ACsub3", "+15005550006"), &[])
            .await,
        Err(StoreError::Conflict(_))
    ));
    let mut renamed = number("PN1", "ACsub2", "+15005550006");
    renamed.friendly_name = "main line".into();
    assert!(store.update_number(&renamed, &[]).await.unwrap());
    assert_eq!(
        store
            .list_numbers("ACsub2", None, &page(10, None, false))
            .await
            .unwrap(),
        vec![renamed]
    );
    assert_eq!(store.all_numbers().await.unwrap().len(), 1);

    // Messages and calls: newest first, filters, usage of billed traffic only.
    let message = |sid: &str, to: &str, created: i64, rule: Option<&str>| MessageRecord {
        sid: sid.into(),
        account_sid: "ACsub2".into(),
        messaging_service_sid: None,
        direction: "outbound-api".into(),
        from_number: "+15005550006".into(),
        to_number: to.into(),
        body: Some("hi".into()),
        status: if rule.is_some() {
            "failed".into()
        } else {
            "queued".into()
        },
        num_segments: 2,
        price_micros: rule.is_none().then_some(7_900),
        country: Some("US".into()),
        error_code: None,
        error_message: None,
        rule: rule.map(str::to_owned),
        status_callback_sealed: None,
        date_created: created,
        date_updated: created,
        date_sent: None,
        carrier_node: None,
        resume_sealed: None,
    };
    for (i, to) in ["+12015550001", "+12015550002", "+12015550001"]
        .iter()
        .enumerate()
    {
        store
            .insert_message(&message(&format!("SM{i}"), to, 9_000 + i as i64, None))
            .await
            .unwrap();
    }
    store
        .insert_message(&message(
            "SMblocked",
            "+12015550001",
            9_100,
            Some("geo.country_not_enabled"),
        ))
        .await
        .unwrap();
    let to_one = TrafficQuery {
        account_sid: "ACsub2".into(),
        to: Some("+12015550001".into()),
        ..TrafficQuery::default()
    };
    let listed: Vec<String> = store
        .list_messages(&to_one, &page(10, None, false))
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.sid)
        .collect();
    assert_eq!(listed, ["SMblocked", "SM2", "SM0"]);
    let after: Vec<String> = store
        .list_messages(&to_one, &page(10, Some((9_002, "SM2")), false))
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.sid)
        .collect();
    assert_eq!(after, ["SM0"]);
    // Newest first, so backward from SM0 is SM2 then the newer blocked one.
    let before: Vec<String> = store
        .list_messages(&to_one, &page(10, Some((9_000, "SM0")), true))
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.sid)
        .collect();
    assert_eq!(before, ["SM2", "SMblocked"]);
    let mut sent = message("SM1", "+12015550002", 9_001, None);
    sent.status = "delivered".into();
    sent.date_sent = Some(9_500);
    assert!(store.update_message(&sent).await.unwrap());
    assert_eq!(store.message("ACsub2", "SM1").await.unwrap(), Some(sent));
    let call = CallRecord {
        sid: "CA1".into(),
        account_sid: "ACsub2".into(),
        direction: "outbound-api".into(),
        from_number: "+15005550006".into(),
        to_number: "+12015550001".into(),
        status: "completed".into(),
        time_limit: 14_400,
        duration: Some(61),
        start_time: Some(9_000),
        end_time: Some(70_000),
        price_micros: Some(28_000),
        country: Some("US".into()),
        error_code: None,
        rule: None,
        status_callback_sealed: None,
        date_created: 9_000,
        date_updated: 70_000,
        carrier_node: None,
        resume_sealed: None,
    };
    store.insert_call(&call).await.unwrap();
    assert_eq!(
        store.call("ACsub2", "CA1").await.unwrap(),
        Some(call.clone())
    );
    let mut usage = store.usage("ACsub2", 0, 100_000).await.unwrap();
    usage.sort_by(|a, b| a.category.cmp(&b.category));
    assert_eq!(
        usage,
        vec![
            UsageRow {
                category: "calls-outbound".into(),
                count: 1,
                usage: 2,
                price_micros: 28_000
            },
            UsageRow {
                category: "sms-outbound".into(),
                count: 3,
                usage: 6,
                price_micros: 23_700
            },
        ]
    );
    assert_eq!(store.spend_since(0).await.unwrap().len(), 4);
    assert!(store.delete_message("ACsub2", "SM0", &[]).await.unwrap());

    // Rate and spend limits.
    let rl = RateLimitRecord {
        sid: "RL1".into(),
        account_sid: "ACsub2".into(),
        limit_key: "to".into(),
        max_events: 5,
        interval_seconds: 60,
        channel: Some("sms".into()),
        date_created: 1,
    };
    store.insert_rate_limit(&rl, &[]).await.unwrap();
    assert_eq!(store.all_rate_limits().await.unwrap(), vec![rl]);
    assert!(store.delete_rate_limit("ACsub2", "RL1", &[]).await.unwrap());
    let sl = SpendLimitRecord {
        sid: "SL1".into(),
        account_sid: "ACsub2".into(),
        scope: "country:GB".into(),
        period: "day".into(),
        limit_micros: 5_000_000,
        date_created: 1,
    };
    store.insert_spend_limit(&sl, &[]).await.unwrap();
    assert_eq!(store.all_spend_limits().await.unwrap(), vec![sl]);
    assert!(
        !store
            .delete_spend_limit("ACsub3", "SL1", &[])
            .await
            .unwrap()
    );

    // Settings and recipients.
    let setting = |name: &str, value: &str| SettingRecord {
        account_sid: "ACsub2".into(),
        name: name.into(),
        value: value.into(),
        date_updated: 1,
    };
    store
        .upsert_settings(
            &[
                setting("RecipientPolicy", "allowlist"),
                setting("LinkPolicy", "block"),
            ],
            &[],
        )
        .await
        .unwrap();
    store
        .upsert_settings(&[setting("RecipientPolicy", "known")], &[])
        .await
        .unwrap();
    assert_eq!(
        store.all_settings().await.unwrap(),
        vec![
            setting("LinkPolicy", "block"),
            setting("RecipientPolicy", "known")
        ]
    );
    store
        .insert_recipient("ACsub2", "+12015550001", 1, &[])
        .await
        .unwrap();
    store
        .insert_recipient("ACsub2", "+12015550001", 2, &[])
        .await
        .unwrap();
    assert_eq!(
        store.all_recipients().await.unwrap(),
        vec![("ACsub2".to_owned(), "+12015550001".to_owned())]
    );
    assert!(
        store
            .delete_recipient("ACsub2", "+12015550001", &[])
            .await
            .unwrap()
    );
    let mut inbound = message("SMin", "+15005550006", 9_200, None);
    inbound.direction = "inbound".into();
    inbound.from_number = "+447400123456".into();
    store.insert_message(&inbound).await.unwrap();
    assert_eq!(
        store.known_numbers().await.unwrap(),
        vec![("ACsub2".to_owned(), "+447400123456".to_owned())]
    );
    // Sticky senders to restore: newest first, failed and blocked sends left out.
    let via_service = |sid: &str, to: &str, from: &str, status: &str, rule: Option<&str>| {
        let mut m = message(sid, to, 9_250, None);
        m.account_sid = "ACsvc".into();
        m.messaging_service_sid = Some("MGpool".into());
        m.from_number = from.into();
        m.status = status.into();
        m.price_micros = None;
        m.rule = rule.map(str::to_owned);
        m
    };
    for m in [
        via_service("SMs1", "+12015550020", "+12015550101", "delivered", None),
        via_service("SMs2", "+12015550020", "+12015550102", "sent", None),
        via_service("SMs3", "+12015550021", "+12015550101", "undelivered", None),
        via_service(
            "SMs4",
            "+12015550022",
            "+12015550101",
            "failed",
            Some("velocity"),
        ),
    ] {
        store.insert_message(&m).await.unwrap();
    }
    let pair = |to: &str, from: &str| ("MGpool".to_owned(), to.to_owned(), from.to_owned());
    assert_eq!(
        store.recent_service_senders(10).await.unwrap(),
        vec![
            pair("+12015550020", "+12015550102"),
            pair("+12015550020", "+12015550101")
        ]
    );
    assert_eq!(
        store.recent_service_senders(1).await.unwrap(),
        vec![pair("+12015550020", "+12015550102")]
    );
    let batch = vec![
        tollgate_store::WriteOp::InsertMessage(message("SMb1", "+12015550009", 9_300, None)),
        tollgate_store::WriteOp::InsertMessage(message("SMb1", "+12015550009", 9_300, None)),
    ];
    assert!(
        store.write_batch(&batch).await.is_err(),
        "a batch is all or nothing"
    );
    assert!(store.message("ACsub2", "SMb1").await.unwrap().is_none());

    // The blocking batch writer (SQLite's writer thread) writes the same rows.
    if let Some(mut writer) = store.batch_writer().unwrap() {
        let mut sent = message("SMw1", "+12015550010", 9_400, None);
        writer
            .write_batch(&[tollgate_store::WriteOp::InsertMessage(sent.clone())])
            .unwrap();
        sent.status = "delivered".into();
        sent.date_sent = Some(9_401);
        sent.date_updated = 9_402;
        sent.body = None;
        writer
            .write_batch(&[tollgate_store::WriteOp::UpdateMessage(sent.clone())])
            .unwrap();
        assert_eq!(store.message("ACsub2", "SMw1").await.unwrap(), Some(sent));
        let twice = vec![
            tollgate_store::WriteOp::InsertMessage(message("SMw2", "+12015550011", 9_500, None)),
            tollgate_store::WriteOp::InsertMessage(message("SMw2", "+12015550011", 9_500, None)),
        ];
        assert!(matches!(
            writer.write_batch(&twice),
            Err(tollgate_store::StoreError::Conflict(_))
        ));
        assert!(store.message("ACsub2", "SMw2").await.unwrap().is_none());
        assert!(store.delete_message("ACsub2", "SMw1", &[]).await.unwrap());
    } else {
        assert_eq!(store.backend(), tollgate_store::Backend::Postgres);
    }

    // Unsettled sends: a send's row names its node until its final status,
    // written with its callback all or nothing; a callback written twice is one.
    use tollgate_store::WriteOp;
    let mut flying = message("SMf1", "+12015550012", 9_600, None);
    flying.status = "queued".into();
    flying.carrier_node = Some("n1".into());
    flying.resume_sealed = Some(vec![1, 2, 3]);
    store
        .write_batch(&[WriteOp::InsertMessage(flying.clone())])
        .await
        .unwrap();
    assert_eq!(
        store.unsettled_sends("n1").await.unwrap(),
        (vec![flying.clone()], vec![])
    );
    assert_eq!(store.unsettled_sends("n2").await.unwrap(), (vec![], vec![]));
    let mut ringing = call.clone();
    ringing.sid = "CAf1".into();
    ringing.status = "queued".into();
    ringing.carrier_node = Some("n1".into());
    ringing.resume_sealed = Some(vec![4]);
    let failing = WriteOp::Group(vec![
        WriteOp::InsertCall(ringing.clone()),
        WriteOp::InsertMessage(flying.clone()),
    ]);
    assert!(
        store.write_batch(&[failing]).await.is_err(),
        "a group is all or nothing"
    );
    assert!(store.call("ACsub2", "CAf1").await.unwrap().is_none());
    store
        .write_batch(&[WriteOp::InsertCall(ringing.clone())])
        .await
        .unwrap();
    ringing.status = "ringing".into();
    store
        .write_batch(&[WriteOp::UpdateCall(ringing.clone())])
        .await
        .unwrap();
    assert_eq!(
        store.unsettled_sends("n1").await.unwrap().1,
        vec![ringing.clone()]
    );
    ringing.status = "completed".into();
    store
        .write_batch(&[WriteOp::UpdateCall(ringing.clone())])
        .await
        .unwrap();
    ringing.resume_sealed = None;
    assert_eq!(store.call("ACsub2", "CAf1").await.unwrap(), Some(ringing));
    flying.status = "delivered".into();
    let mut callback = hook("WDcb1", 9_700);
    let settle = WriteOp::Group(vec![
        WriteOp::EnqueueWebhook(callback.clone()),
        WriteOp::UpdateMessage(flying.clone()),
    ]);
    store
        .write_batch(std::slice::from_ref(&settle))
        .await
        .unwrap();
    callback.body = vec![9];
    store
        .write_batch(&[WriteOp::EnqueueWebhook(callback.clone())])
        .await
        .unwrap();
    assert_eq!(store.unsettled_sends("n1").await.unwrap(), (vec![], vec![]));
    flying.resume_sealed = None;
    assert_eq!(
        store.message("ACsub2", "SMf1").await.unwrap(),
        Some(flying.clone())
    );
    let queued: Vec<_> = store
        .due_webhooks(9_700, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|w| w.sid == "WDcb1")
        .collect();
    assert_eq!(queued.len(), 1);
    assert_ne!(queued[0].body, vec![9], "the first write stands");
    if let Some(mut writer) = store.batch_writer().unwrap() {
        let mut second = message("SMf3", "+12015550013", 9_800, None);
        second.status = "queued".into();
        second.carrier_node = Some("n1".into());
        writer
            .write_batch(&[WriteOp::InsertMessage(second.clone())])
            .unwrap();
        assert_eq!(store.unsettled_sends("n1").await.unwrap().0.len(), 1);
        second.status = "delivered".into();
        writer
            .write_batch(&[WriteOp::Group(vec![
                WriteOp::EnqueueWebhook(hook("WDcb3", 9_800)),
                WriteOp::UpdateMessage(second.clone()),
            ])])
            .unwrap();
        writer
            .write_batch(&[WriteOp::EnqueueWebhook(hook("WDcb3", 9_800))])
            .unwrap();
        assert_eq!(store.unsettled_sends("n1").await.unwrap(), (vec![], vec![]));
        assert_eq!(store.message("ACsub2", "SMf3").await.unwrap(), Some(second));
    }
    // Delivered: the queue's bound below counts only what is still queued.
    for w in store.due_webhooks(10_000, 100).await.unwrap() {
        if w.sid.starts_with("WDcb") {
            let mut done = w.clone();
            done.status = DeliveryStatus::Delivered;
            store.record_webhook_attempt(&done).await.unwrap();
        }
    }

    // Messaging services and their pools.
    let service = ServiceRecord {
        sid: "MG1".into(),
        account_sid: "ACsub2".into(),
        friendly_name: "pool".into(),
        sticky_sender: true,
        date_created: 1,
        date_updated: 1,
    };
    store.insert_service(&service, &[]).await.unwrap();
    store
        .insert_number(&number("PN3", "ACsub2", "+15005550007"), &[])
        .await
        .unwrap();
    assert!(
        store
            .add_service_number("MG1", "PN1", 1, 2, &[])
            .await
            .unwrap()
    );
    assert!(
        store
            .add_service_number("MG1", "PN3", 2, 2, &[])
            .await
            .unwrap()
    );
    assert!(
        store
            .add_service_number("MG1", "PN3", 3, 5, &[])
            .await
            .is_err(),
        "twice"
    );
    store
        .insert_number(&number("PN4", "ACsub2", "+15005550008"), &[])
        .await
        .unwrap();
    assert!(
        !store
            .add_service_number("MG1", "PN4", 3, 2, &[])
            .await
            .unwrap(),
        "pool full"
    );
    assert_eq!(
        store.all_service_numbers().await.unwrap(),
        vec![
            ("MG1".to_owned(), "PN1".to_owned()),
            ("MG1".to_owned(), "PN3".to_owned())
        ]
    );
    assert!(
        store
            .remove_service_number("MG1", "PN3", &[])
            .await
            .unwrap()
    );
    assert!(!store.delete_service("ACsub3", "MG1", &[]).await.unwrap());
    assert!(store.delete_service("ACsub2", "MG1", &[]).await.unwrap());
    assert!(store.all_service_numbers().await.unwrap().is_empty());

    // Blocklist: upsert replaces the expiry.
    let block = |prefix: &str, expires: Option<i64>| BlockRecord {
        account_sid: "ACsub2".into(),
        prefix: prefix.into(),
        expires_at: expires,
        date_created: 1,
    };
    store
        .upsert_block(&block("25261", None), &[])
        .await
        .unwrap();
    store
        .upsert_block(&block("25261", Some(99)), &[])
        .await
        .unwrap();
    assert_eq!(
        store.all_blocks().await.unwrap(),
        vec![block("25261", Some(99))]
    );
    assert!(store.delete_block("ACsub2", "25261", &[]).await.unwrap());
    assert!(!store.delete_block("ACsub2", "25261", &[]).await.unwrap());

    // With one queued, there is room again.
    assert!(store.enqueue_webhook(&hook("WD3", 50), 2).await.unwrap());
    assert_eq!(store.next_webhook_due().await.unwrap(), Some(50));

    // Alarms: replaced in place, description kept.
    let mut alarm = tollgate_store::AlarmRecord {
        sid: "AKone".into(),
        account_sid: "ACsub2".into(),
        friendly_name: Some("geo".into()),
        description: Some("blocked sends".into()),
        query_type: "ERROR_CODE".into(),
        query: Some("21408".into()),
        trigger_value: 3,
        time_window: "FIVE_MINS".into(),
        webhook_sealed: None,
        enabled: true,
        action: "none".into(),
        date_created: 10,
        date_updated: 10,
    };
    store.insert_alarm(&alarm, &[]).await.unwrap();
    alarm.description = Some("changed".into());
    alarm.trigger_value = 5;
    alarm.enabled = false;
    alarm.date_updated = 11;
    assert!(store.update_alarm(&alarm, &[]).await.unwrap());
    assert_eq!(store.all_alarms().await.unwrap(), vec![alarm.clone()]);
    alarm.account_sid = "ACsub1".into();
    assert!(
        !store.update_alarm(&alarm, &[]).await.unwrap(),
        "another account's alarm"
    );

    verify_contract(store).await;
    upstream_contract(store).await;
}

/// Upstream accounts: one per Tollgate account (a put replaces it), one
/// Tollgate account per upstream account.
async fn upstream_contract(store: &dyn Store) {
    let mut upstream = tollgate_store::UpstreamRecord {
        account_sid: "ACsub1".into(),
        upstream_account_sid: "ACup1".into(),
        api_key_sid: "SKup1".into(),
        api_key_secret_sealed: vec![1, 2],
        auth_token_sealed: vec![3, 4],
        date_created: 10,
        date_updated: 10,
    };
    store.put_upstream(&upstream, &[]).await.unwrap();
    upstream.api_key_sid = "SKup2".into();
    upstream.date_updated = 20;
    store.put_upstream(&upstream, &[]).await.unwrap();
    assert_eq!(store.all_upstreams().await.unwrap(), vec![upstream.clone()]);
    let other = tollgate_store::UpstreamRecord {
        account_sid: "ACsub2".into(),
        ..upstream.clone()
    };
    assert!(
        matches!(
            store.put_upstream(&other, &[]).await,
            Err(tollgate_store::StoreError::Conflict(_))
        ),
        "an upstream account already taken by another account"
    );
    assert!(store.delete_upstream("ACsub1", &[]).await.unwrap());
    assert!(!store.delete_upstream("ACsub1", &[]).await.unwrap());
    assert!(store.all_upstreams().await.unwrap().is_empty());

    // Idempotency keys: one claim wins, a finished key keeps its answer,
    // a released pending claim can be taken again, old keys are pruned.
    let claim = tollgate_store::IdempotentRequestRecord {
        account_sid: "ACsub1".into(),
        idempotency_key: "k1".into(),
        request_hash: "h1".into(),
        status: "pending".into(),
        answer_status: None,
        answer_sealed: None,
        date_created: 100,
    };
    assert_eq!(store.claim_idempotency(&claim).await.unwrap(), None);
    let again = store.claim_idempotency(&claim).await.unwrap().unwrap();
    assert_eq!(
        (again.status.as_str(), again.request_hash.as_str()),
        ("pending", "h1")
    );
    store
        .finish_idempotency("ACsub1", "k1", 201, &[7, 7])
        .await
        .unwrap();
    store.release_idempotency("ACsub1", "k1").await.unwrap();
    let done = store
        .idempotent_request("ACsub1", "k1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (done.status.as_str(), done.answer_status, done.answer_sealed),
        ("done", Some(201), Some(vec![7, 7]))
    );
    let other = tollgate_store::IdempotentRequestRecord {
        idempotency_key: "k2".into(),
        date_created: 300,
        ..claim
    };
    assert_eq!(store.claim_idempotency(&other).await.unwrap(), None);
    store.release_idempotency("ACsub1", "k2").await.unwrap();
    assert_eq!(
        store.claim_idempotency(&other).await.unwrap(),
        None,
        "a released claim is free again"
    );
    assert_eq!(store.prune_idempotency(200).await.unwrap(), 1);
    assert!(
        store
            .idempotent_request("ACsub1", "k1")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .idempotent_request("ACsub1", "k2")
            .await
            .unwrap()
            .is_some()
    );
}

/// Verify services, rate limits, verifications, the safe list and Fraud
/// Guard blocks: upserts replace, deleting a service takes its children.
async fn verify_contract(store: &dyn Store) {
    let mut service = VerifyServiceRecord {
        sid: "VA1".into(),
        account_sid: "ACsub2".into(),
        friendly_name: "Login".into(),
        code_length: 6,
        fraud_guard: "standard".into(),
        do_not_share_warning_enabled: false,
        date_created: 1,
        date_updated: 1,
    };
    store.put_verify_service(&service, &[]).await.unwrap();
    service.code_length = 8;
    service.date_updated = 2;
    store.put_verify_service(&service, &[]).await.unwrap();
    assert_eq!(
        store.all_verify_services().await.unwrap(),
        vec![service.clone()]
    );
    let limit = VerifyRateLimitRecord {
        sid: "RK1".into(),
        service_sid: "VA1".into(),
        account_sid: "ACsub2".into(),
        unique_name: "end_user_ip".into(),
        description: None,
        date_created: 1,
        date_updated: 1,
    };
    store.put_verify_rate_limit(&limit, &[]).await.unwrap();
    let twin = VerifyRateLimitRecord {
        sid: "RK2".into(),
        ..limit.clone()
    };
    assert!(matches!(
        store.put_verify_rate_limit(&twin, &[]).await,
        Err(StoreError::Conflict(_))
    ));
    let bucket = VerifyBucketRecord {
        sid: "BL1".into(),
        rate_limit_sid: "RK1".into(),
        service_sid: "VA1".into(),
        account_sid: "ACsub2".into(),
        max_requests: 3,
        interval_seconds: 60,
        date_created: 1,
        date_updated: 1,
    };
    store.put_verify_bucket(&bucket, &[]).await.unwrap();
    assert_eq!(store.all_verify_buckets().await.unwrap(), vec![bucket]);
    let mut v = VerificationRecord {
        sid: "VE1".into(),
        service_sid: "VA1".into(),
        account_sid: "ACsub2".into(),
        to_number: "+14155550100".into(),
        to_key: "k1".into(),
        channel: "sms".into(),
        status: "pending".into(),
        code_hash: vec![1, 2, 3],
        send_attempts: "[]".into(),
        checks: 0,
        expires_at: 1_000,
        date_created: 1,
        date_updated: 1,
    };
    store.put_verification(&v).await.unwrap();
    assert_eq!(
        store.live_verifications(999).await.unwrap(),
        vec![v.clone()]
    );
    assert!(
        store.live_verifications(1_000).await.unwrap().is_empty(),
        "expired"
    );
    v.checks = 1;
    v.status = "approved".into();
    store.put_verification(&v).await.unwrap();
    assert!(
        store.live_verifications(0).await.unwrap().is_empty(),
        "approved"
    );
    assert_eq!(store.verification("VA1", "VE1").await.unwrap(), Some(v));
    assert!(
        store
            .known_numbers()
            .await
            .unwrap()
            .contains(&("ACsub2".to_owned(), "+14155550100".to_owned())),
        "a number that passed Verify is known"
    );
    let safe = SafeListRecord {
        sid: "GN1".into(),
        account_sid: "ACsub2".into(),
        phone_number: "+18001234xxx".into(),
        date_created: 1,
    };
    assert!(store.insert_safe_number(&safe, &[]).await.unwrap());
    let again = SafeListRecord {
        sid: "GN2".into(),
        ..safe.clone()
    };
    assert!(
        !store.insert_safe_number(&again, &[]).await.unwrap(),
        "duplicate"
    );
    assert_eq!(store.all_safe_numbers().await.unwrap(), vec![safe]);
    assert!(
        store
            .delete_safe_number("ACsub2", "+18001234xxx", &[])
            .await
            .unwrap()
    );
    assert!(
        !store
            .delete_safe_number("ACsub2", "+18001234xxx", &[])
            .await
            .unwrap()
    );
    let mut block = FraudBlockRecord {
        scope: "VA1".into(),
        prefix: "2347063".into(),
        account_sid: "ACsub2".into(),
        rule: "fraudguard.burst".into(),
        evidence: "5 sends in 60 s".into(),
        numbers: "[\"+2347063000001\"]".into(),
        since: 10,
        expires: 100,
        refused: 1,
    };
    store.put_fraud_block(&block).await.unwrap();
    block.expires = 200;
    block.refused = 7;
    store.put_fraud_block(&block).await.unwrap();
    assert_eq!(
        store.live_fraud_blocks(150).await.unwrap(),
        vec![block.clone()]
    );
    assert!(store.live_fraud_blocks(200).await.unwrap().is_empty());
    // Deleting the service takes its limits, buckets, verifications and blocks.
    assert!(
        !store
            .delete_verify_service("ACsub3", "VA1", &[])
            .await
            .unwrap()
    );
    assert!(
        store
            .delete_verify_service("ACsub2", "VA1", &[])
            .await
            .unwrap()
    );
    assert!(store.all_verify_services().await.unwrap().is_empty());
    assert!(store.all_verify_rate_limits().await.unwrap().is_empty());
    assert!(store.all_verify_buckets().await.unwrap().is_empty());
    assert!(store.verification("VA1", "VE1").await.unwrap().is_none());
    assert!(store.live_fraud_blocks(0).await.unwrap().is_empty());
}

fn audit_event(n: usize, account: &str) -> tollgate_store::NewAuditEvent {
    tollgate_store::NewAuditEvent {
        sid: format!("AE{:032x}", n),
        account_sid: account.into(),
        actor_sid: Some(account.into()),
        actor_type: "account".into(),
        source: "api".into(),
        source_ip_address: Some("192.0.2.1".into()),
        event_type: "tollgate-blocklist.created".into(),
        resource_sid: None,
        resource_type: "tollgate-blocklist".into(),
        event_data: format!("{{\"n\":{n}}}"),
        event_date: 1_000 + i64::try_from(n).unwrap(),
    }
}

/// Walks the chain as `tollgate audit verify` does.
async fn walk(store: &dyn Store) -> Result<tollgate_audit::Anchor, tollgate_audit::Break> {
    let mut v = tollgate_audit::Verifier::new(tollgate_audit::Anchor::GENESIS);
    let mut after = 0;
    loop {
        let rows = store.audit_after(after, 1000).await.unwrap();
        for row in &rows {
            v.push(&row.to_event())?;
        }
        match rows.last() {
            Some(last) => after = last.seq,
            None => break,
        }
    }
    let (seq, hash) = store.audit_head().await.unwrap();
    let head = v.head();
    if seq != head.seq || hash != head.hash {
        return Err(tollgate_audit::Break::HeadMismatch {
            expected: seq.to_string(),
            found: head.seq.to_string(),
        });
    }
    Ok(head)
}

type Exec = Box<
    dyn Fn(String) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> + Send + Sync,
>;

/// The audit chain: appends with changes, concurrency, and every kind of
/// tampering through raw SQL (`exec`).
async fn audit_contract(store: std::sync::Arc<dyn Store>, exec: Exec) {
    // An update of an absent row records nothing.
    let absent = store
        .delete_block("ACnone", "1", &[audit_event(0, "ACnone")])
        .await
        .unwrap();
    assert!(!absent);
    assert_eq!(store.audit_head().await.unwrap().0, 0);

    store
        .insert_main_account(&account("ACw0", "ACw0", 1), &[])
        .await
        .unwrap();
    for w in 1..8 {
        store
            .insert_account(&account(&format!("ACw{w}"), "ACw0", 1), &[])
            .await
            .unwrap();
    }
    // 8 writers x 1,000 changes, each with its event, at once.
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..1000 {
                    let n = w * 1000 + i + 1;
                    let block = BlockRecord {
                        account_sid: format!("ACw{w}"),
                        prefix: format!("{n}"),
                        expires_at: None,
                        date_created: 1,
                    };
                    store
                        .upsert_block(&block, &[audit_event(n, &format!("ACw{w}"))])
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }
    let head = walk(store.as_ref()).await.expect("one unbroken chain");
    assert_eq!(head.seq, 8000);

    // Queries: combined filters, newest first, the visible accounts only.
    let q = tollgate_store::AuditQuery {
        account_sids: vec!["ACw3".into()],
        source_ip_address: Some("192.0.2.1".into()),
        page: tollgate_store::PageQuery {
            limit: 5,
            ..Default::default()
        },
        ..Default::default()
    };
    let page = store.audit_events(&q).await.unwrap();
    assert_eq!(page.len(), 5);
    assert!(page.iter().all(|e| e.account_sid == "ACw3"));
    assert!(page.windows(2).all(|w| w[0].seq > w[1].seq));
    // Pages by `seq`, both ways.
    let (first, last) = (page[0].seq, page[4].seq);
    let mut q2 = q.clone();
    q2.page.key = Some(first);
    let after = store.audit_events(&q2).await.unwrap();
    assert_eq!(after.first().map(|e| e.seq), Some(page[1].seq));
    q2.page = tollgate_store::PageQuery {
        limit: 3,
        key: Some(last),
        backward: true,
    };
    let before: Vec<i64> = store
        .audit_events(&q2)
        .await
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(before, [page[3].seq, page[2].seq, page[1].seq]);
    let none = tollgate_store::AuditQuery {
        account_sids: vec!["ACw3".into()],
        event_type: Some("account.updated".into()),
        ..Default::default()
    };
    assert!(store.audit_events(&none).await.unwrap().is_empty());

    // Tampering, from the end back, so each is the first break the walk
    // meets. Insertion in the middle: later rows move up one, a forged row
    // takes 7501 (linked to 7500, but its hash cannot match).
    exec("UPDATE audit_events SET seq = -seq WHERE seq > 7500".into()).await;
    exec("UPDATE audit_events SET seq = -seq + 1 WHERE seq < -7500".into()).await;
    exec(
        "INSERT INTO audit_events (seq, sid, account_sid, actor_sid, actor_type, source, source_ip_address, \
         event_type, resource_sid, resource_type, event_data, event_date, prev_hash, hash) \
         SELECT 7501, 'AEforged', account_sid, actor_sid, actor_type, source, source_ip_address, event_type, \
         resource_sid, resource_type, '{\"forged\":true}', event_date, hash, hash FROM audit_events WHERE seq = 7500"
            .into(),
    )
    .await;
    assert!(matches!(
        walk(store.as_ref()).await,
        Err(tollgate_audit::Break::Edited { seq: 7501, .. })
    ));
    // Two rows swapped (contents trade places).
    exec("UPDATE audit_events SET seq = -1 WHERE seq = 7000".into()).await;
    exec("UPDATE audit_events SET seq = 7000 WHERE seq = 7001".into()).await;
    exec("UPDATE audit_events SET seq = 7001 WHERE seq = -1".into()).await;
    assert!(matches!(
        walk(store.as_ref()).await,
        Err(tollgate_audit::Break::Unlinked { seq: 7000, .. })
    ));
    // One row deleted.
    exec("DELETE FROM audit_events WHERE seq = 5000".into()).await;
    assert!(matches!(
        walk(store.as_ref()).await,
        Err(tollgate_audit::Break::Missing {
            expected_seq: 5000,
            found_seq: 5001,
            ..
        })
    ));
    // One row edited.
    exec("UPDATE audit_events SET event_data = '{\"n\":0}' WHERE seq = 3000".into()).await;
    assert!(matches!(
        walk(store.as_ref()).await,
        Err(tollgate_audit::Break::Edited { seq: 3000, .. })
    ));
    // The tail cut off (head row untouched): the head no longer matches.
    exec("DELETE FROM audit_events WHERE seq > 10".into()).await;
    exec("UPDATE audit_events SET event_data = '{\"n\":0}' WHERE seq = 3000".into()).await;
    assert!(matches!(
        walk(store.as_ref()).await,
        Err(tollgate_audit::Break::HeadMismatch { .. })
    ));
}

#[tokio::test]
async fn contract_on_sqlite() {
    let dir = std::env::temp_dir().join(format!("tollgate-contract-{}", random_hex(8)));
    std::fs::create_dir_all(&dir).unwrap();
    let store = SqliteStore::open(&dir.join("tollgate.db")).await.unwrap();
    contract(&store).await;
    let audit_db = dir.join("audit.db");
    let store = std::sync::Arc::new(SqliteStore::open(&audit_db).await.unwrap());
    store.migrate().await.unwrap();
    let raw = sqlx::SqlitePool::connect(&format!("sqlite://{}", audit_db.display()))
        .await
        .unwrap();
    audit_contract(
        store,
        Box::new(move |sql| {
            let raw = raw.clone();
            Box::pin(async move {
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(&raw)
                    .await
                    .unwrap();
            })
        }),
    )
    .await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn contract_on_postgres() {
    let Ok(url) = std::env::var("TOLLGATE_TEST_POSTGRES_URL") else {
        eprintln!("TOLLGATE_TEST_POSTGRES_URL is not set: PostgreSQL contract skipped");
        return;
    };
    let schema = format!("tollgate_contract_{}", random_hex(6));
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&pool)
        .await
        .unwrap();
    let options = PgConnectOptions::from_str(&url)
        .unwrap()
        .options([("search_path", schema.as_str())]);
    let store = PgStore::connect_with(options.clone()).await.unwrap();
    contract(&store).await;
    // The audit chain in a schema of its own.
    let audit_schema = format!("{schema}_audit");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {audit_schema}")))
        .execute(&pool)
        .await
        .unwrap();
    let audit_options = PgConnectOptions::from_str(&url)
        .unwrap()
        .options([("search_path", audit_schema.as_str())]);
    let audit_store =
        std::sync::Arc::new(PgStore::connect_with(audit_options.clone()).await.unwrap());
    audit_store.migrate().await.unwrap();
    let raw = sqlx::PgPool::connect_with(audit_options).await.unwrap();
    audit_contract(
        audit_store,
        Box::new(move |sql| {
            let raw = raw.clone();
            Box::pin(async move {
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(&raw)
                    .await
                    .unwrap();
            })
        }),
    )
    .await;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA {audit_schema} CASCADE"
    )))
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&pool)
        .await
        .unwrap();
}
