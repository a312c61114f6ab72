//! The SQL behind both stores. `$N` placeholders work on SQLite and PostgreSQL
//! alike, so one macro body implements [`crate::Store`] for each pool type.

/// Traffic writes, shared with the SQLite batch writer (`batch_writer.rs`).
pub(crate) const INSERT_MESSAGE: &str = "INSERT INTO messages (sid, account_sid, messaging_service_sid, direction, \
     from_number, to_number, body, status, num_segments, price_micros, country, error_code, error_message, rule, \
     status_callback_sealed, date_created, date_updated, date_sent, carrier_node, resume_sealed) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)";
/// A message's update is always its final status or later: what was kept
/// to resume it goes.
pub(crate) const UPDATE_MESSAGE: &str = "UPDATE messages SET status = $3, price_micros = $4, error_code = $5, \
     error_message = $6, body = $7, from_number = $8, date_updated = $9, date_sent = $10, resume_sealed = NULL \
     WHERE account_sid = $1 AND sid = $2";
pub(crate) const INSERT_CALL: &str = "INSERT INTO calls (sid, account_sid, direction, from_number, to_number, status, \
     time_limit, duration, start_time, end_time, price_micros, country, error_code, rule, status_callback_sealed, \
     date_created, date_updated, carrier_node, resume_sealed) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)";
pub(crate) const INSERT_ALERT: &str = "INSERT INTO alerts (sid, account_sid, error_code, log_level, alert_text, \
     request_method, request_url, resource_sid, date_created) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
pub(crate) const INSERT_INTENT: &str = "INSERT INTO upstream_intents (local_sid, account_sid, kind, to_number, \
     from_number, body_key, idempotency_key, node, date_created) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
pub(crate) const DELETE_INTENT: &str = "DELETE FROM upstream_intents WHERE local_sid = $1";
/// A delivery whose SID is already there is left as it is.
pub(crate) const INSERT_WEBHOOK: &str = "INSERT INTO webhook_deliveries (sid, account_sid, url_sealed, \
     url_redacted, method, content_type, body, status, attempts, next_attempt_at, lease_until, last_response_code, \
     last_error, date_created, date_updated, ordering_key) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) ON CONFLICT (sid) DO NOTHING";
/// What was kept to resume a call goes with its final status.
pub(crate) const UPDATE_CALL: &str = "UPDATE calls SET status = $3, duration = $4, start_time = $5, end_time = $6, \
     price_micros = $7, error_code = $8, date_updated = $9, \
     resume_sealed = CASE WHEN $3 IN ('queued', 'ringing', 'in-progress') THEN resume_sealed ELSE NULL END \
     WHERE account_sid = $1 AND sid = $2";

/// A list query in both directions ([`crate::PageQuery`]).
#[derive(Clone, Copy)]
pub(crate) struct Paged {
    pub forward: &'static str,
    pub backward: &'static str,
}

/// Keyset paging on `(date_created, sid)`: `$select` (which ends in its
/// filters) then the key at `$d`, `$s` and the limit at `$l`. `asc` lists
/// oldest first, `desc` newest first.
macro_rules! by_created {
    (asc, $select:literal, $d:literal, $s:literal, $l:literal) => {
        $crate::sql::Paged {
            forward: concat!(
                $select,
                " AND (",
                $d,
                " IS NULL OR (date_created, sid) > (",
                $d,
                ", ",
                $s,
                ")) ORDER BY date_created, sid LIMIT ",
                $l
            ),
            backward: concat!(
                $select,
                " AND (",
                $d,
                " IS NULL OR (date_created, sid) < (",
                $d,
                ", ",
                $s,
                ")) ORDER BY date_created DESC, sid DESC LIMIT ",
                $l
            ),
        }
    };
    (desc, $select:literal, $d:literal, $s:literal, $l:literal) => {
        $crate::sql::Paged {
            forward: concat!(
                $select,
                " AND (",
                $d,
                " IS NULL OR (date_created, sid) < (",
                $d,
                ", ",
                $s,
                ")) ORDER BY date_created DESC, sid DESC LIMIT ",
                $l
            ),
            backward: concat!(
                $select,
                " AND (",
                $d,
                " IS NULL OR (date_created, sid) > (",
                $d,
                ", ",
                $s,
                ")) ORDER BY date_created, sid LIMIT ",
                $l
            ),
        }
    };
}

/// Runs `$body` in a transaction that first appends `$audit` to the audit
/// chain, and commits only if the body changed something ([`crate::Changed`]):
/// a change and its events are written together or not at all. `$tx` names
/// the transaction inside the body.
macro_rules! audited {
    ($self:ident, $audit:ident, $tx:ident => $body:block) => {{
        let mut $tx = $self.pool.begin().await?;
        Self::append_audit_tx(&mut $tx, $audit).await?;
        let result: Result<_> = $body;
        let out = result?;
        if $crate::Changed::changed(&out) {
            $tx.commit().await?;
        }
        Ok(out)
    }};
}

macro_rules! impl_store {
    ($store:ty, $db:ty, $backend:expr, $migrations:literal) => {
        type Query<'q> = sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments>;

        /// Statements shared by single writes and batches.
        impl $store {
            fn insert_message_query(m: &MessageRecord) -> Query<'_> {
                sqlx::query($crate::sql::INSERT_MESSAGE)
                .bind(&m.sid).bind(&m.account_sid).bind(&m.messaging_service_sid).bind(&m.direction)
                .bind(&m.from_number).bind(&m.to_number).bind(&m.body).bind(&m.status).bind(m.num_segments)
                .bind(m.price_micros).bind(&m.country).bind(m.error_code).bind(&m.error_message).bind(&m.rule)
                .bind(&m.status_callback_sealed).bind(m.date_created).bind(m.date_updated).bind(m.date_sent)
                .bind(&m.carrier_node).bind(&m.resume_sealed)
            }

            fn update_message_query(m: &MessageRecord) -> Query<'_> {
                sqlx::query($crate::sql::UPDATE_MESSAGE)
                .bind(&m.account_sid).bind(&m.sid).bind(&m.status).bind(m.price_micros).bind(m.error_code)
                .bind(&m.error_message).bind(&m.body).bind(&m.from_number).bind(m.date_updated).bind(m.date_sent)
            }

            fn insert_call_query(c: &CallRecord) -> Query<'_> {
                sqlx::query($crate::sql::INSERT_CALL)
                .bind(&c.sid).bind(&c.account_sid).bind(&c.direction).bind(&c.from_number).bind(&c.to_number)
                .bind(&c.status).bind(c.time_limit).bind(c.duration).bind(c.start_time).bind(c.end_time)
                .bind(c.price_micros).bind(&c.country).bind(c.error_code).bind(&c.rule)
                .bind(&c.status_callback_sealed).bind(c.date_created).bind(c.date_updated)
                .bind(&c.carrier_node).bind(&c.resume_sealed)
            }

            fn update_call_query(c: &CallRecord) -> Query<'_> {
                sqlx::query($crate::sql::UPDATE_CALL)
                .bind(&c.account_sid).bind(&c.sid).bind(&c.status).bind(c.duration).bind(c.start_time)
                .bind(c.end_time).bind(c.price_micros).bind(c.error_code).bind(c.date_updated)
            }

            /// Appends `events` to the chain inside `tx`. Its first statement
            /// writes the head row, so concurrent appends wait for each other
            /// (a row lock on PostgreSQL, the write lock on SQLite) and each
            /// links to the head the one before it left: no forks.
            async fn append_audit_tx(
                tx: &mut sqlx::Transaction<'_, $db>,
                events: &[NewAuditEvent],
            ) -> Result<()> {
                if events.is_empty() {
                    return Ok(());
                }
                let n = i64::try_from(events.len()).unwrap_or(i64::MAX);
                let (last, head): (i64, Vec<u8>) = sqlx::query_as(
                    "UPDATE audit_head SET seq = seq + $1 WHERE id = 1 RETURNING seq, hash",
                )
                .bind(n)
                .fetch_one(&mut **tx)
                .await?;
                let mut prev = <[u8; 32]>::try_from(head.as_slice())
                    .map_err(|_| StoreError::Backend("the audit head hash is not 32 bytes".into()))?;
                let mut seq = last - n;
                for e in events {
                    seq += 1;
                    let mut event = tollgate_audit::Event {
                        seq,
                        sid: e.sid.clone(),
                        account_sid: e.account_sid.clone(),
                        actor_sid: e.actor_sid.clone(),
                        actor_type: e.actor_type.clone(),
                        source: e.source.clone(),
                        source_ip_address: e.source_ip_address.clone(),
                        event_type: e.event_type.clone(),
                        resource_sid: e.resource_sid.clone(),
                        resource_type: e.resource_type.clone(),
                        event_data: e.event_data.clone(),
                        event_date: e.event_date,
                        prev_hash: prev,
                        hash: prev,
                    };
                    event.seal(prev);
                    sqlx::query(
                        "INSERT INTO audit_events (seq, sid, account_sid, actor_sid, actor_type, source, \
                         source_ip_address, event_type, resource_sid, resource_type, event_data, event_date, \
                         prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
                    )
                    .bind(event.seq).bind(&event.sid).bind(&event.account_sid).bind(&event.actor_sid)
                    .bind(&event.actor_type).bind(&event.source).bind(&event.source_ip_address)
                    .bind(&event.event_type).bind(&event.resource_sid).bind(&event.resource_type)
                    .bind(&event.event_data).bind(event.event_date).bind(&event.prev_hash[..])
                    .bind(&event.hash[..])
                    .execute(&mut **tx)
                    .await?;
                    prev = event.hash;
                }
                sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
                    .bind(&prev[..])
                    .execute(&mut **tx)
                    .await?;
                Ok(())
            }

            fn write_query(op: &WriteOp) -> Query<'_> {
                match op {
                    WriteOp::InsertAlert(a) => sqlx::query($crate::sql::INSERT_ALERT)
                        .bind(&a.sid).bind(&a.account_sid).bind(a.error_code).bind(&a.log_level)
                        .bind(&a.alert_text).bind(&a.request_method).bind(&a.request_url)
                        .bind(&a.resource_sid).bind(a.date_created),
                    WriteOp::InsertMessage(m) => Self::insert_message_query(m),
                    WriteOp::UpdateMessage(m) => Self::update_message_query(m),
                    WriteOp::InsertCall(c) => Self::insert_call_query(c),
                    WriteOp::UpdateCall(c) => Self::update_call_query(c),
                    WriteOp::EnqueueWebhook(w) => sqlx::query($crate::sql::INSERT_WEBHOOK)
                        .bind(&w.sid).bind(&w.account_sid).bind(&w.url_sealed).bind(&w.url_redacted)
                        .bind(&w.method).bind(&w.content_type).bind(&w.body).bind(w.status.as_str())
                        .bind(w.attempts).bind(w.next_attempt_at).bind(w.lease_until).bind(w.last_response_code)
                        .bind(&w.last_error).bind(w.date_created).bind(w.date_updated).bind(&w.ordering_key),
                    WriteOp::InsertIntent(i) => sqlx::query($crate::sql::INSERT_INTENT)
                        .bind(&i.local_sid).bind(&i.account_sid).bind(&i.kind).bind(&i.to_number)
                        .bind(&i.from_number).bind(&i.body_key).bind(&i.idempotency_key).bind(&i.node)
                        .bind(i.date_created),
                    WriteOp::DeleteIntent(sid) => sqlx::query($crate::sql::DELETE_INTENT).bind(sid),
                    // Flattened by `write_batch` before it gets here.
                    WriteOp::Group(_) => sqlx::query("SELECT 1"),
                }
            }
        }

        #[async_trait]
        impl Store for $store {
            async fn write_batch(&self, ops: &[WriteOp]) -> Result<()> {
                /// Rows per multi-row INSERT (20 parameters each, under SQLite's limit).
                const ROWS: usize = 50;
                // One transaction: a group is as atomic inside it as alone.
                let flat = $crate::flatten(ops);
                let ops = flat.as_slice();
                let mut tx = self.pool.begin().await?;
                let mut at = 0;
                while at < ops.len() {
                    // Runs of message inserts become one statement; the rest go one by one.
                    let run: Vec<&MessageRecord> = ops
                        .get(at..)
                        .unwrap_or(&[])
                        .iter()
                        .take(ROWS)
                        .map_while(|op| match op {
                            WriteOp::InsertMessage(m) => Some(m),
                            _ => None,
                        })
                        .collect();
                    if run.len() > 1 {
                        let mut q = sqlx::QueryBuilder::<$db>::new(
                            "INSERT INTO messages (sid, account_sid, messaging_service_sid, direction, from_number, \
                             to_number, body, status, num_segments, price_micros, country, error_code, error_message, \
                             rule, status_callback_sealed, date_created, date_updated, date_sent, carrier_node, \
                             resume_sealed) ",
                        );
                        q.push_values(run.iter(), |mut b, m| {
                            b.push_bind(m.sid.clone()).push_bind(m.account_sid.clone())
                                .push_bind(m.messaging_service_sid.clone()).push_bind(m.direction.clone())
                                .push_bind(m.from_number.clone()).push_bind(m.to_number.clone())
                                .push_bind(m.body.clone()).push_bind(m.status.clone()).push_bind(m.num_segments)
                                .push_bind(m.price_micros).push_bind(m.country.clone()).push_bind(m.error_code)
                                .push_bind(m.error_message.clone()).push_bind(m.rule.clone())
                                .push_bind(m.status_callback_sealed.clone()).push_bind(m.date_created)
                                .push_bind(m.date_updated).push_bind(m.date_sent)
                                .push_bind(m.carrier_node.clone()).push_bind(m.resume_sealed.clone());
                        });
                        q.build().execute(&mut *tx).await?;
                        at += run.len();
                    } else if let Some(op) = ops.get(at) {
                        Self::write_query(op).execute(&mut *tx).await?;
                        at += 1;
                    }
                }
                tx.commit().await?;
                Ok(())
            }

            async fn unsettled_sends(&self, node: &str) -> Result<(Vec<MessageRecord>, Vec<CallRecord>)> {
                let messages = sqlx::query_as::<_, MessageRecord>(
                    "SELECT * FROM messages WHERE carrier_node = $1 AND status = 'queued' ORDER BY date_created, sid",
                )
                .bind(node)
                .fetch_all(&self.pool)
                .await?;
                let calls = sqlx::query_as::<_, CallRecord>(
                    "SELECT * FROM calls WHERE carrier_node = $1 AND status IN ('queued', 'ringing', 'in-progress') \
                     ORDER BY date_created, sid",
                )
                .bind(node)
                .fetch_all(&self.pool)
                .await?;
                Ok((messages, calls))
            }

            async fn insert_usage_trigger(&self, t: &UsageTriggerRecord, audit: &[NewAuditEvent]) -> Result<()> {
                $crate::sql::audited!(self, audit, tx => {
                    sqlx::query(
                        "INSERT INTO usage_triggers (sid, account_sid, friendly_name, callback_url_sealed, callback_method, \
                         trigger_value, threshold, usage_category, recurring, trigger_by, action, fired_period, date_fired, \
                         current_value, date_created, date_updated) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
                    )
                    .bind(&t.sid).bind(&t.account_sid).bind(&t.friendly_name).bind(&t.callback_url_sealed)
                    .bind(&t.callback_method).bind(&t.trigger_value).bind(t.threshold).bind(&t.usage_category)
                    .bind(&t.recurring).bind(&t.trigger_by).bind(&t.action).bind(t.fired_period).bind(t.date_fired)
                    .bind(&t.current_value).bind(t.date_created).bind(t.date_updated)
                    .execute(&mut *tx)
                    .await?;
                    Ok(())
                })
            }

            async fn update_usage_trigger(&self, t: &UsageTriggerRecord, audit: &[NewAuditEvent]) -> Result<bool> {
                $crate::sql::audited!(self, audit, tx => {
                    let n = sqlx::query(
                        "UPDATE usage_triggers SET friendly_name = $3, callback_url_sealed = $4, callback_method = $5, \
                         date_updated = $6 WHERE account_sid = $1 AND sid = $2",
                    )
                    .bind(&t.account_sid).bind(&t.sid).bind(&t.friendly_name).bind(&t.callback_url_sealed)
                    .bind(&t.callback_method).bind(t.date_updated)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    Ok(n == 1)
                })
            }

            async fn delete_usage_trigger(&self, account_sid: &str, sid: &str, audit: &[NewAuditEvent]) -> Result<bool> {
                $crate::sql::audited!(self, audit, tx => {
                    let n = sqlx::query("DELETE FROM usage_triggers WHERE account_sid = $1 AND sid = $2")
                        .bind(account_sid)
                        .bind(sid)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    Ok(n == 1)
                })
            }

            async fn all_usage_triggers(&self) -> Result<Vec<UsageTriggerRecord>> {
                Ok(sqlx::query_as::<_, UsageTriggerRecord>(
                    "SELECT * FROM usage_triggers ORDER BY date_created, sid",
                )
                .fetch_all(&self.pool)
                .await?)
            }

            async fn fire_usage_trigger(
                &self,
                sid: &str,
                period: i64,
                date_fired: i64,
                current_value: &str,
                w: &WebhookRecord,
                suspend: Option<&str>,
                audit: &[NewAuditEvent],
            ) -> Result<bool> {
                let mut tx = self.pool.begin().await?;
                // The conditional update comes first: it takes the row (and,
                // on SQLite, the write lock) before anything else is written.
                let n = sqlx::query(
                    "UPDATE usage_triggers SET fired_period = $2, date_fired = $3, current_value = $4, date_updated = $3 \
                     WHERE sid = $1 AND (fired_period IS NULL OR fired_period < $2)",
                )
                .bind(sid).bind(period).bind(date_fired).bind(current_value)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if n != 1 {
                    return Ok(false);
                }
                sqlx::query(
                    "INSERT INTO webhook_deliveries (sid, account_sid, url_sealed, url_redacted, method, content_type, \
                     body, status, attempts, next_attempt_at, lease_until, last_response_code, last_error, \
                     date_created, date_updated, ordering_key) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
                )
                .bind(&w.sid).bind(&w.account_sid).bind(&w.url_sealed).bind(&w.url_redacted).bind(&w.method)
                .bind(&w.content_type).bind(&w.body).bind(w.status.as_str()).bind(w.attempts)
                .bind(w.next_attempt_at).bind(w.lease_until).bind(w.last_response_code).bind(&w.last_error)
                .bind(w.date_created).bind(w.date_updated).bind(&w.ordering_key)
                .execute(&mut *tx)
                .await?;
                if let Some(account) = suspend {
                    sqlx::query(
                        "UPDATE accounts SET status = 'suspended', date_updated = $2 WHERE sid = $1 AND status = 'active'",
                    )
                    .bind(account)
                    .bind(date_fired)
                    .execute(&mut *tx)
                    .await?;
                }
                Self::append_audit_tx(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn apply_lockdown(
                &self,
                accounts: &[AccountRecord],
                revoke_keys: bool,
                undo_seals: Option<&[String]>,
                audit: &[NewAuditEvent],
            ) -> Result<u64> {
                let mut tx = self.pool.begin().await?;
                Self::append_audit_tx(&mut tx, audit).await?;
                let mut revoked = 0;
                for (i, a) in accounts.iter().enumerate() {
                    sqlx::query(
                        "UPDATE accounts SET status = $2, auth_token_sealed = $3, secondary_token_sealed = $4, \
                         secondary_token_created = $5, date_updated = $6 WHERE sid = $1",
                    )
                    .bind(&a.sid).bind(a.status.as_str()).bind(&a.auth_token_sealed)
                    .bind(&a.secondary_token_sealed).bind(a.secondary_token_created).bind(a.date_updated)
                    .execute(&mut *tx)
                    .await?;
                    if revoke_keys {
                        revoked += sqlx::query("DELETE FROM api_keys WHERE account_sid = $1")
                            .bind(&a.sid)
                            .execute(&mut *tx)
                            .await?
                            .rows_affected();
                    }
                    sqlx::query(
                        "DELETE FROM account_settings WHERE account_sid = $1 \
                         AND name IN ('LockdownInbound', 'LockdownSeal')",
                    )
                    .bind(&a.sid)
                    .execute(&mut *tx)
                    .await?;
                    let seal = undo_seals.and_then(|s| s.get(i));
                    if let Some(seal) = seal {
                        for (name, value) in [("LockdownInbound", "true"), ("LockdownSeal", seal.as_str())] {
                            sqlx::query(
                                "INSERT INTO account_settings (account_sid, name, value, date_updated) \
                                 VALUES ($1, $2, $3, $4)",
                            )
                            .bind(&a.sid)
                            .bind(name)
                            .bind(value)
                            .bind(a.date_updated)
                            .execute(&mut *tx)
                            .await?;
                        }
                    }
                }
                sqlx::query("UPDATE state_generation SET generation = generation + 1 WHERE id = 1")
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(revoked)
            }

            async fn bump_state_generation(&self) -> Result<()> {
                sqlx::query("UPDATE state_generation SET generation = generation + 1 WHERE id = 1")
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn state_generation(&self) -> Result<i64> {
                let row: (i64,) = sqlx::query_as("SELECT generation FROM state_generation WHERE id = 1")
                    .fetch_one(&self.pool)
                    .await?;
                Ok(row.0)
            }

            async fn alerts(&self, q: &AlertQuery) -> Result<Vec<AlertRecord>> {
                let accounts = format!(",{},", q.account_sids.join(","));
                let (date, sid) = q.page.key.clone().unzip();
                Ok(sqlx::query_as::<_, AlertRecord>(q.page.pick($crate::sql::by_created!(desc,
                    "SELECT * FROM alerts WHERE $1 LIKE '%,' || account_sid || ',%' \
                     AND ($2 IS NULL OR log_level = $2) \
                     AND ($3 IS NULL OR date_created >= $3) \
                     AND ($4 IS NULL OR date_created < $4)", "$5", "$6", "$7")))
                .bind(accounts).bind(&q.log_level).bind(q.date_from).bind(q.date_before)
                .bind(date).bind(sid).bind(i64::from(q.page.limit))
                .fetch_all(&self.pool)
                .await?)
            }

            async fn alert(&self, sid: &str) -> Result<Option<AlertRecord>> {
                Ok(sqlx::query_as::<_, AlertRecord>("SELECT * FROM alerts WHERE sid = $1")
                    .bind(sid)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn insert_alarm(&self, a: &AlarmRecord, audit: &[NewAuditEvent]) -> Result<()> {
                $crate::sql::audited!(self, audit, tx => {
                    sqlx::query(
                        "INSERT INTO alarms (sid, account_sid, friendly_name, query_type, query, trigger_value, time_window, \
                         webhook_sealed, enabled, action, date_created, date_updated, description) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                    )
                    .bind(&a.sid).bind(&a.account_sid).bind(&a.friendly_name).bind(&a.query_type).bind(&a.query)
                    .bind(a.trigger_value).bind(&a.time_window).bind(&a.webhook_sealed).bind(a.enabled)
                    .bind(&a.action).bind(a.date_created).bind(a.date_updated).bind(&a.description)
                    .execute(&mut *tx)
                    .await?;
                    Ok(())
                })
            }

            async fn update_alarm(&self, a: &AlarmRecord, audit: &[NewAuditEvent]) -> Result<bool> {
                $crate::sql::audited!(self, audit, tx => {
                    let n = sqlx::query(
                        "UPDATE alarms SET friendly_name = $3, description = $4, query_type = $5, query = $6, \
                         trigger_value = $7, time_window = $8, webhook_sealed = $9, enabled = $10, action = $11, \
                         date_updated = $12 WHERE account_sid = $1 AND sid = $2",
                    )
                    .bind(&a.account_sid).bind(&a.sid).bind(&a.friendly_name).bind(&a.description)
                    .bind(&a.query_type).bind(&a.query).bind(a.trigger_value).bind(&a.time_window)
                    .bind(&a.webhook_sealed).bind(a.enabled).bind(&a.action).bind(a.date_updated)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    Ok(n == 1)
                })
            }

            async fn delete_alarm(&self, account_sid: &str, sid: &str, audit: &[NewAuditEvent]) -> Result<bool> {
                $crate::sql::audited!(self, audit, tx => {
                    let n = sqlx::query("DELETE FROM alarms WHERE account_sid = $1 AND sid = $2")
                        .bind(account_sid)
                        .bind(sid)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    Ok(n == 1)
                })
            }

            async fn all_alarms(&self) -> Result<Vec<AlarmRecord>> {
                Ok(sqlx::query_as::<_, AlarmRecord>("SELECT * FROM alarms ORDER BY date_created, sid")
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn put_verify_service(&self, r: &VerifyServiceRecord, audit: &[NewAuditEvent]) -> Result<()> {
                $crate::sql::audited!(self, audit, tx => {
                    sqlx::query(
                        "INSERT INTO verify_services (sid, account_sid, friendly_name, code_length, fraud_guard, \
                         do_not_share_warning_enabled, date_created, date_updated) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                         ON CONFLICT (sid) DO UPDATE SET friendly_name = excluded.friendly_name, code_length = excluded.code_length, \
                         fraud_guard = excluded.fraud_guard, do_not_share_warning_enabled = excluded.do_not_share_warning_enabled, \
                         date_updated = excluded.date_updated",
                    )
                    .bind(&r.sid).bind(&r.account_sid).bind(&r.friendly_name).bind(r.code_length).bind(&r.fraud_guard)
                    .bind(r.do_not_share_warning_enabled).bind(r.date_created).bind(r.date_updated)
                    .execute(&mut *tx).await?;
                    Ok(())
                })
            }

            async fn delete_verify_service(&self, account_sid: &str, sid: &str, audit: &[NewAuditEvent]) -> Result<bool> {
                $crate::sql::audited!(self, audit, tx => {
                    let owned = sqlx::query("SELECT 1 FROM verify_services WHERE account_sid = $1 AND sid = $2")
                        .bind(account_sid).bind(sid).fetch_optional(&mut *tx).await?.is_some();
                    if !owned {
                        return Ok(false);
                    }
                    sqlx::query("DELETE FROM verify_buckets WHERE service_sid = $1").bind(sid).execute(&mut *tx).await?;
                    sqlx::query("DELETE FROM verify_rate_limits WHERE service_sid = $1").bind(sid).execute(&mut *tx).await?;
                    sqlx::query("DELETE FROM verifications WHERE service_sid = $1").bind(sid).execute(&mut *tx).await?;
                    sqlx::query("DELETE FROM fraud_blocks WHERE scope = $1").bind(sid).execute(&mut *tx).await?;
                    sqlx::query("DELETE FROM verify_services WHERE sid = $1").bind(sid).execute(&mut *tx).await?;
                    Ok(true)
                })
            }

            async fn all_verify_services(&self) -> Result<Vec<VerifyServiceRecord>> {
                Ok(sqlx::query_as::<_, VerifyServiceRecord>("SELECT * FROM verify_services ORDER BY date_created, sid")
                    .fetch_all(&self.pool).await?)
            }

            async fn put_verify_rate_limit(&self, r: &VerifyRateLimitRecord, audit: &[NewAuditEvent]) -> Result<()> {
                $crate::sql::audited!(self, audit, tx => {
                    sqlx::query(
                        "INSERT INTO verify_rate_limits (sid, service_sid, account_sid, unique_name, description, date_created, date_updated) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (sid) DO UPDATE SET description = excluded.description, \
                         date_updated = excluded.date_updated",
                    )
                    .bind(&r.sid).bind(&r.service_sid).bind(&r.account_sid).bind(&r.unique_name).bind(&r.description)
                    .bind(r.date_created).bind(r.date_updated)
                    .execute(&mut *tx).await?;
                    Ok(())
                })
            }

            async fn delete_verify_rate_limit(&self, service_sid: &str, sid: &str, audit: &[NewAuditEvent]) -> Result<bool> {
                $crate::sql::audited!(self, audit, tx => {
                    sqlx::query("DELETE FROM verify_buckets WHERE rate_limit_sid = $1 AND service_sid = $2")
                        .bind(sid).bind(service_sid).execute(&mut *tx).await?;
                    let n = sqlx::query("DELETE FROM verify_rate_limits WHERE sid = $1 AND service_sid = $2")
                        .bind(sid).bind(service_sid).execute(&mut *tx).await?.rows_affected();
                    Ok(n == 1)
                })
            }

            async fn all_verify_rate_limits(&self) -> Result<Vec<VerifyRateLimitRecord>> {
                Ok(sqlx::query_as::<_, VerifyRateLimitRecord>("SELECT * FROM verify_rate_limits ORDER BY date_created, sid")
                    .fetch_all(&self.pool).await?)
            }

            async fn put_verify_bucket(&self, r: &VerifyBucketRecord, audit: &[NewAuditEvent]) -> Result<()> {
                $crate::sql::audited!(self, audit, tx => {
                    sqlx::query(
                        "INSERT INTO verify_buckets (sid, rate_limit_sid, service_sid, account_sid, max_requests, interval_seconds, \
                         date_created, date_updated) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (sid) DO UPDATE SET \
                         max_requests = excluded.max_requests, interval_seconds = excluded.interval_seconds, date_updated = excluded.date_updated",
                    )
                    .bind(&r.sid).bind(&r.rate_limit_sid).bind(&r.service_sid).bind(&r.account_sid).bind(r.max_requests)
                    .bind(r.interval_seconds).bind(r.date_created).bind(r.date_updated)
                    .execute(&mut *tx).await?;
                    Ok(())
                })
            }

            async fn delete_verify_bucket(&self, rate_limit_sid: &str, sid: &str, audit: &[NewAuditEvent]) -> Result<bool> {
                $crate::sql::audited!(self, audit, tx => {
                    let n = sqlx::query("DELETE FROM verify_buckets WHERE sid = $1 AND rate_limit_sid = $2")
                        .bind(sid).bind(rate_limit_sid).execute(&mut *tx).await?.rows_affected();
                    Ok(n == 1)
                })
            }

            async fn all_verify_buckets(&self) -> Result<Vec<VerifyBucketRecord>> {
                Ok(sqlx::query_as::<_, VerifyBucketRecord>("SELECT * FROM verify_buckets ORDER BY date_created, sid")
                    .fetch_all(&self.pool).await?)
            }

            async fn put_verification(&self, r: &VerificationRecord) -> Result<()> {
                sqlx::query(
                    "INSERT INTO verifications (sid, service_sid, account_sid, to_number, channel, status, code_hash, \
                     send_attempts, checks, expires_at, date_created, date_updated, to_key) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (sid) DO UPDATE SET \
                     channel = excluded.channel, status = excluded.status, code_hash = excluded.code_hash, \
                     send_attempts = excluded.send_attempts, checks = excluded.checks, expires_at = excluded.expires_at, \
                     date_updated = excluded.date_updated",
                )
                .bind(&r.sid).bind(&r.service_sid).bind(&r.account_sid).bind(&r.to_number).bind(&r.channel)
                .bind(&r.status).bind(&r.code_hash).bind(&r.send_attempts).bind(r.checks).bind(r.expires_at)
                .bind(r.date_created).bind(r.date_updated).bind(&r.to_key)
                .execute(&self.pool).await?;
                Ok(())
            }

            async fn verification(&self, service_sid: &str, sid: &str) -> Result<Option<VerificationRecord>> {
                Ok(sqlx::query_as::<_, VerificationRecord>("SELECT * FROM verifications WHERE service_sid = $1 AND sid = $2")
                    .bind(service_sid).bind(sid).fetch_optional(&self.pool).await?)
            }

            async fn live_verifications(&self, now: i64) -> Result<Vec<VerificationRecord>> {
                Ok(sqlx::query_as::<_, VerificationRecord>(
                    "SELECT * FROM verifications WHERE status = 'pending' AND expires_at > $1 ORDER BY date_created, sid",
                )
                .bind(now).fetch_all(&self.pool).await?)
            }

            async fn insert_safe_number(&self, r: &SafeListRecord, audit: &[NewAuditEvent]) -> Result<bool> {
                $crate::sql::audited!(self, audit, tx => {
                    let n = sqlx::query(
                        "INSERT INTO safe_list_numbers (sid, account_sid, phone_number, date_created) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (account_sid, phone_number) DO NOTHING",
                    )
                    .bind(&r.sid).bind(&r.account_sid).bind(&r.phone_number).bind(r.date_created)
                    .execute(&mut *tx).await?.rows_affected();
                    Ok(n == 1)
                })
            }

            async fn delete_safe_number(&self, account_sid: &str, phone_number: &str, audit: &[NewAuditEvent]) -> Result<bool> {
                $crate::sql::audited!(self, audit, tx => {
                    let n = sqlx::query("DELETE FROM safe_list_numbers WHERE account_sid = $1 AND phone_number = $2")
                        .bind(account_sid).bind(phone_number).execute(&mut *tx).await?.rows_affected();
                    Ok(n == 1)
                })
            }

            async fn all_safe_numbers(&self) -> Result<Vec<SafeListRecord>> {
                Ok(sqlx::query_as::<_, SafeListRecord>("SELECT * FROM safe_list_numbers ORDER BY date_created, sid")
                    .fetch_all(&self.pool).await?)
            }

            async fn put_fraud_block(&self, r: &FraudBlockRecord) -> Result<()> {
                sqlx::query(
                    "INSERT INTO fraud_blocks (scope, prefix, account_sid, rule, evidence, numbers, since, expires, refused) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (scope, prefix) DO UPDATE SET \
                     rule = excluded.rule, evidence = excluded.evidence, numbers = excluded.numbers, since = excluded.since, \
                     expires = excluded.expires, refused = excluded.refused",
                )
                .bind(&r.scope).bind(&r.prefix).bind(&r.account_sid).bind(&r.rule).bind(&r.evidence).bind(&r.numbers)
                .bind(r.since).bind(r.expires).bind(r.refused)
                .execute(&self.pool).await?;
                Ok(())
            }

            async fn delete_fraud_block(&self, scope: &str, prefix: &str, audit: &[NewAuditEvent]) -> Result<bool> {
                $crate::sql::audited!(self, audit, tx => {
                    let n = sqlx::query("DELETE FROM fraud_blocks WHERE scope = $1 AND prefix = $2")
                        .bind(scope).bind(prefix).execute(&mut *tx).await?.rows_affected();
                    Ok(n == 1)
                })
            }

            async fn live_fraud_blocks(&self, now: i64) -> Result<Vec<FraudBlockRecord>> {
                Ok(sqlx::query_as::<_, FraudBlockRecord>(
                    "SELECT * FROM fraud_blocks WHERE expires > $1 ORDER BY since, scope, prefix",
                )
                .bind(now).fetch_all(&self.pool).await?)
            }

            async fn append_audit(&self, events: &[NewAuditEvent]) -> Result<()> {
                let mut tx = self.pool.begin().await?;
                Self::append_audit_tx(&mut tx, events).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn audit_events(&self, q: &AuditQuery) -> Result<Vec<AuditEventRecord>> {
                // The visible accounts are few (a family): bound as one
                // comma-joined list, matched with a delimiter-safe test.
                let accounts = format!(",{},", q.account_sids.join(","));
                Ok(sqlx::query_as::<_, AuditEventRecord>(q.page.pick($crate::sql::Paged {
                    forward: "SELECT * FROM audit_events \
                     WHERE $1 LIKE '%,' || account_sid || ',%' \
                     AND ($2 IS NULL OR actor_sid = $2) \
                     AND ($3 IS NULL OR event_type = $3) \
                     AND ($4 IS NULL OR resource_sid = $4) \
                     AND ($5 IS NULL OR source_ip_address = $5) \
                     AND ($6 IS NULL OR event_date >= $6) \
                     AND ($7 IS NULL OR event_date < $7) \
                     AND ($8 IS NULL OR seq < $8) \
                     ORDER BY seq DESC LIMIT $9",
                    backward: "SELECT * FROM audit_events \
                     WHERE $1 LIKE '%,' || account_sid || ',%' \
                     AND ($2 IS NULL OR actor_sid = $2) \
                     AND ($3 IS NULL OR event_type = $3) \
                     AND ($4 IS NULL OR resource_sid = $4) \
                     AND ($5 IS NULL OR source_ip_address = $5) \
                     AND ($6 IS NULL OR event_date >= $6) \
                     AND ($7 IS NULL OR event_date < $7) \
                     AND ($8 IS NULL OR seq > $8) \
                     ORDER BY seq LIMIT $9",
                }))
                .bind(accounts)
                .bind(&q.actor_sid)
                .bind(&q.event_type)
                .bind(&q.resource_sid)
                .bind(&q.source_ip_address)
                .bind(q.date_from)
                .bind(q.date_before)
                .bind(q.page.key)
                .bind(i64::from(q.page.limit))
                .fetch_all(&self.pool)
                .await?)
            }

            async fn audit_event(&self, sid: &str) -> Result<Option<AuditEventRecord>> {
                Ok(sqlx::query_as::<_, AuditEventRecord>("SELECT * FROM audit_events WHERE sid = $1")
                    .bind(sid)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn audit_after(&self, after: i64, limit: u32) -> Result<Vec<AuditEventRecord>> {
                Ok(sqlx::query_as::<_, AuditEventRecord>(
                    "SELECT * FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2",
                )
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?)
            }

            async fn audit_head(&self) -> Result<(i64, Vec<u8>)> {
                Ok(sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1")
                    .fetch_one(&self.pool)
                    .await?)
            }

            async fn audit_anchor(&self) -> Result<Option<AuditAnchorRecord>> {
                Ok(sqlx::query_as::<_, AuditAnchorRecord>(
                    "SELECT seq, hash, signature, date_pruned FROM audit_anchor WHERE id = 1",
                )
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn prune_audit(&self, anchor: &AuditAnchorRecord) -> Result<u64> {
                let mut tx = self.pool.begin().await?;
                sqlx::query(
                    "INSERT INTO audit_anchor (id, seq, hash, signature, date_pruned) VALUES (1, $1, $2, $3, $4) \
                     ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, \
                     signature = excluded.signature, date_pruned = excluded.date_pruned",
                )
                .bind(anchor.seq)
                .bind(&anchor.hash)
                .bind(&anchor.signature)
                .bind(anchor.date_pruned)
                .execute(&mut *tx)
                .await?;
                let n = sqlx::query("DELETE FROM audit_events WHERE seq <= $1")
                    .bind(anchor.seq)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                tx.commit().await?;
                Ok(n)
            }

            async fn audit_cursor(&self, name: &str) -> Result<i64> {
                let row: Option<(i64,)> = sqlx::query_as("SELECT seq FROM audit_sink_cursors WHERE name = $1")
                    .bind(name)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.map_or(0, |r| r.0))
            }

            async fn set_audit_cursor(&self, name: &str, seq: i64) -> Result<()> {
                sqlx::query(
                    "INSERT INTO audit_sink_cursors (name, seq) VALUES ($1, $2) \
                     ON CONFLICT (name) DO UPDATE SET seq = excluded.seq",
                )
                .bind(name)
                .bind(seq)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            fn batch_writer(&self) -> Result<Option<Box<dyn $crate::BatchWriter>>> {
                self.open_batch_writer()
            }

            fn backend(&self) -> Backend {
                $backend
            }

            async fn migrate(&self) -> Result<()> {
                sqlx::migrate!($migrations)
                    .run(&self.pool)
                    .await
                    .map_err(|e| StoreError::Migration(e.to_string()))
            }

            async fn main_account(&self) -> Result<Option<AccountRecord>> {
                Ok(sqlx::query_as::<_, AccountRecord>(
                    "SELECT * FROM accounts WHERE sid = owner_account_sid",
                )
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn insert_main_account(&self, a: &AccountRecord, audit: &[NewAuditEvent]) -> Result<()> {
                $crate::sql::audited!(self, audit, tx => {
                    let inserted = sqlx::query(
                        "INSERT INTO accounts (sid, owner_account_sid, friendly_name, status, auth_token_sealed, \
                         secondary_token_sealed, secondary_token_created, date_created, date_updated, require_client_validation, \
                         dialing_permissions_inheritance) \
                         SELECT $1, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10 \
                         WHERE NOT EXISTS (SELECT 1 FROM accounts WHERE sid = owner_account_sid)",
                    )
                    .bind(&a.sid)
                    .bind(&a.friendly_name)
                    .bind(a.status.as_str())
                    .bind(&a.auth_token_sealed)
                    .bind(&a.secondary_token_sealed)
                    .bind(a.secondary_token_created)
                    .bind(a.date_created)
                    .bind(a.date_updated)
                    .bind(a.require_client_validation)
                    .bind(a.dialing_permissions_inheritance)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if inserted == 1 {
                        Ok(())
                    } else {
                        Err(StoreError::Conflict("a main account exists already".into()))
                    }
                })
            }

            async fn insert_account(&self, a: &AccountRecord, audit: &[NewAuditEvent]) -> Result<()> {
                $crate::sql::audited!(self, audit, tx => {
                    sqlx::query(
                        "INSERT INTO accounts (sid, owner_account_sid, friendly_name, status, auth_token_sealed, \
                         secondary_token_sealed, secondary_token_created, date_created, date_updated, require_client_validation, \
                         dialing_permissions_inheritance) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                    )
                    .bind(&a.sid)
                    .bind(&a.owner_account_sid)
                    .bind(&a.friendly_name)
                    .bind(a.status.as_str())
                    .bind(&a.auth_token_sealed)
                    .bind(&a.secondary_token_sealed)
                    .bind(a.secondary_token_created)
                    .bind(a.date_created)
                    .bind(a.date_updated)
                    .bind(a.require_client_validation)
                    .bind(a.dialing_permissions_inheritance)
                    .execute(&mut *tx)
                    .await?;
                    Ok(())
                })
            }

            async fn account(&self, sid: &str) -> Result<Option<AccountRecord>> {
                Ok(sqlx::query_as::<_, AccountRecord>("SELECT * FROM accounts WHERE sid = $1")
                    .bind(sid)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn update_account(&self, a: &AccountRecord, audit: &[NewAuditEvent]) -> Result<bool> {
                $crate::sql::audited!(self, audit, tx => {
                    let n = sqlx::query(
                        "UPDATE accounts SET friendly_name = $2, status = $3, auth_token_sealed = $4, \
                         secondary_token_sealed = $5, secondary_token_created = $6, date_updated = $7, \
                         require_client_validation = $8, dialing_permissions_inheritance = $9 WHERE sid = $1",
                    )
                    .bind(&a.sid)
                    .bind(&a.friendly_name)
                    .bind(a.status.as_str())
                    .bind(&a.auth_token_sealed)
                    .bind(&a.secondary_token_sealed)
                    .bind(a.secondary_token_created)
                    .bind(a.date_updated)
                    .bind(a.require_client_validation)
                    .bind(a.dialing_permissions_inheritance)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    Ok(n == 1)
                })
            }

            async fn list_accounts(&self, q: &AccountQuery, page: &PageQuery) -> Result<Vec<AccountRecord>> {
                let (date, sid) = page.key.clone().unzip();
                Ok(sqlx::query_as::<_, AccountRecord>(page.pick($crate::sql::by_created!(asc,
                    "SELECT * FROM accounts \
                     WHERE (sid = $1 OR owner_account_sid = $1) \
                     AND ($2 IS NULL OR friendly_name = $2) \
                     AND ($3 IS NULL OR status = $3)", "$4", "$5", "$6")))
                .bind(&q.family_of)
                .bind(&q.friendly_name)
                .bind(q.status.map(|s| s.as_str()))
                .bind(date)
                .bind(sid)
                .bind(i64::from(page.limit))
                .fetch_all(&self.pool)
                .await?)
            }

            async fn all_accounts(&self) -> Result<Vec<AccountRecord>> {
                Ok(sqlx::query_as::<_, AccountRecord>("SELECT * FROM accounts ORDER BY date_created, sid")
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn insert_api_key(&self, k: &ApiKeyRecord, audit: &[NewAuditEvent]) -> Result<()> {
                $crate::sql::audited!(self, audit, tx => {
                    sqlx::query(
                        "INSERT INTO api_keys (sid, account_sid, friendly_name, secret_hash, date_created, date_updated) \
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(&k.sid)
                    .bind(&k.account_sid)
                    .bind(&k.friendly_name)
                    .bind(&k.secret_hash)
                    .bind(k.date_created)
                    .bind(k.date_updated)
                    .execute(&mut *tx)
                    .await?;
                    Ok(())
                })
            }

            async fn api_key(&self, account_sid: &str, sid: &str) -> Result<Option<ApiKeyRecord>> {
                Ok(sqlx::query_as::<_, ApiKeyRecord>(
                    "SELECT * FROM api_keys WHERE account_sid = $1 AND sid = $2",
                )
                .bind(account_sid)
                .bind(sid)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn update_api_key(&self, k: &ApiKeyRecord, audit: &[NewAuditEvent]) -> Result<bool> {
                $crate::sql::audited!(self, audit, tx => {
                    let n = sqlx::query(
                        "UPDATE api_keys SET friendly_name = $3, date_updated = $4 WHERE account_sid = $1 AND sid = $2",
                    )
                    .bind(&k.account_sid)
                    .bind(&k.sid)
                    .bind(&k.friendly_name)
                    .bind(k.date_updated)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    Ok(n == 1)
                })
            }

            async fn delete_api_key(&self, account_sid: &str, sid: &str, audit: &[NewAuditEvent]) -> Result<bool> {
                $crate::sql::audited!(self, audit, tx => {
                    let n = sqlx::query("DELETE FROM api_keys WHERE account_sid = $1 AND sid = $2")
                        .bind(account_sid)
                        .bind(sid)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    Ok(n == 1)
                })
            }

            async fn list_api_keys(&self, account_sid: &str, page: &PageQuery) -> Result<Vec<ApiKeyRecord>> {
                let (date, sid) = page.key.clone().unzip();
                Ok(sqlx::query_as::<_, ApiKeyRecord>(page.pick($crate::sql::by_created!(asc,
                    "SELECT * FROM api_keys WHERE account_sid = $1", "$2", "$3", "$4")))
                .bind(account_sid)
                .bind(date)
                .bind(sid)
                .bind(i64::from(page.limit))
                .fetch_all(&self.pool)
                .await?)
            }

            async fn all_api_keys(&self) -> Result<Vec<ApiKeyRecord>> {
                Ok(sqlx::query_as::<_, ApiKeyRecord>("SELECT * FROM api_keys ORDER BY date_created, sid")
                    .fetch_all(&self.pool)
                    .await?)
            }
            async fn insert_public_key(&self, k: &PublicKeyRecord, audit: &[NewAuditEvent]) -> Result<()> {
                $crate::sql::audited!(self, audit, tx => {
                    sqlx::query(
                        "INSERT INTO public_keys (sid, account_sid, friendly_name, public_key, date_created, date_updated) \
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(&k.sid)
                    .bind(&k.account_sid)
                    .bind(&k.friendly_name)
                    .bind(&k.public_key)
                    .bind(k.date_created)
                    .bind(k.date_updated)
                    .execute(&mut *tx)
                    .await?;
                    Ok(())
                })
            }

            async fn update_public_key(&self, k: &PublicKeyRecord, audit: &[NewAuditEvent]) -> Result<bool> {
                $crate::sql::audited!(self, audit, tx => {
                    let n = sqlx::query(
                        "UPDATE public_keys SET friendly_name = $3, date_updated = $4 WHERE account_sid = $1 AND sid = $2",
                    )
                    .bind(&k.account_sid)
                    .bind(&k.sid)
                    .bind(&k.friendly_name)
                    .bind(k.date_updated)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    Ok(n == 1)
                })
            }

            async fn delete_public_key(&self, account_sid: &str, sid: &str, audit: &[NewAuditEvent]) -> Result<bool> {
                $crate::sql::audited!(self, audit, tx => {
                    let n = sqlx::query("DELETE FROM public_keys WHERE account_sid = $1 AND sid = $2")
                        .bind(account_sid)
                        .bind(sid)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    Ok(n == 1)
                })
            }

            async fn list_public_keys(&self, account_sid: &str, page: &PageQuery) -> Result<Vec<PublicKeyRecord>> {
                let (date, sid) = page.key.clone().unzip();
                Ok(sqlx::query_as::<_, PublicKeyRecord>(page.pick($crate::sql::by_created!(asc,
                    "SELECT * FROM public_keys WHERE account_sid = $1", "$2", "$3", "$4")))
                .bind(account_sid)
                .bind(date)
                .bind(sid)
                .bind(i64::from(page.limit))
                .fetch_all(&self.pool)
                .await?)
            }

            async fn all_public_keys(&self) -> Result<Vec<PublicKeyRecord>> {
                Ok(sqlx::query_as::<_, PublicKeyRecord>("SELECT * FROM public_keys ORDER BY date_created, sid")
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn enqueue_webhook(&self, w: &WebhookRecord, limit: u32) -> Result<bool> {
                let n = sqlx::query(
                    "INSERT INTO webhook_deliveries (sid, account_sid, url_sealed, url_redacted, method, content_type, \
                     body, status, attempts, next_attempt_at, lease_until, last_response_code, last_error, \
                     date_created, date_updated, ordering_key) \
                     SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $17 \
                     WHERE (SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'queued') < $16",
                )
                .bind(&w.sid)
                .bind(&w.account_sid)
                .bind(&w.url_sealed)
                .bind(&w.url_redacted)
                .bind(&w.method)
                .bind(&w.content_type)
                .bind(&w.body)
                .bind(w.status.as_str())
                .bind(w.attempts)
                .bind(w.next_attempt_at)
                .bind(w.lease_until)
                .bind(w.last_response_code)
                .bind(&w.last_error)
                .bind(w.date_created)
                .bind(w.date_updated)
                .bind(i64::from(limit))
                .bind(&w.ordering_key)
                .execute(&self.pool)
                .await?
                .rows_affected();
                Ok(n == 1)
            }

            async fn webhook(&self, account_sid: &str, sid: &str) -> Result<Option<WebhookRecord>> {
                Ok(sqlx::query_as::<_, WebhookRecord>(
                    "SELECT * FROM webhook_deliveries WHERE account_sid = $1 AND sid = $2",
                )
                .bind(account_sid)
                .bind(sid)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn due_webhooks(&self, now: i64, limit: u32) -> Result<Vec<WebhookRecord>> {
                Ok(sqlx::query_as::<_, WebhookRecord>(
                    "SELECT * FROM webhook_deliveries WHERE status = 'queued' AND next_attempt_at <= $1 \
                     AND (lease_until IS NULL OR lease_until < $1) \
                     ORDER BY next_attempt_at, sid LIMIT $2",
                )
                .bind(now)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?)
            }

            async fn next_webhook_due(&self) -> Result<Option<i64>> {
                let due: Option<i64> = sqlx::query_scalar(
                    "SELECT MIN(COALESCE(CASE WHEN lease_until > next_attempt_at THEN lease_until END, next_attempt_at)) \
                     FROM webhook_deliveries WHERE status = 'queued'",
                )
                .fetch_one(&self.pool)
                .await?;
                Ok(due)
            }

            async fn lease_webhook(&self, sid: &str, now: i64, until: i64, holder: &str) -> Result<bool> {
                let n = sqlx::query(
                    "UPDATE webhook_deliveries SET lease_until = $3, lease_holder = $4 WHERE sid = $1 \
                     AND status = 'queued' AND (lease_until IS NULL OR lease_until < $2)",
                )
                .bind(sid)
                .bind(now)
                .bind(until)
                .bind(holder)
                .execute(&self.pool)
                .await?
                .rows_affected();
                Ok(n == 1)
            }

            async fn release_webhook_leases(&self, holder: &str) -> Result<u64> {
                Ok(sqlx::query(
                    "UPDATE webhook_deliveries SET lease_until = NULL, lease_holder = NULL \
                     WHERE lease_holder = $1 AND status = 'queued'",
                )
                .bind(holder)
                .execute(&self.pool)
                .await?
                .rows_affected())
            }

            async fn record_webhook_attempt(&self, w: &WebhookRecord) -> Result<bool> {
                let n = sqlx::query(
                    "UPDATE webhook_deliveries SET status = $2, attempts = $3, next_attempt_at = $4, lease_until = NULL, lease_holder = NULL, \
                     last_response_code = $5, last_error = $6, date_updated = $7 WHERE sid = $1",
                )
                .bind(&w.sid)
                .bind(w.status.as_str())
                .bind(w.attempts)
                .bind(w.next_attempt_at)
                .bind(w.last_response_code)
                .bind(&w.last_error)
                .bind(w.date_updated)
                .execute(&self.pool)
                .await?
                .rows_affected();
                Ok(n == 1)
            }
            async fn upsert_geo_permissions(&self, rows: &[GeoPermissionRecord], audit: &[NewAuditEvent]) -> Result<()> {
                $crate::sql::audited!(self, audit, tx => {
                    for r in rows {
                        sqlx::query(
                            "INSERT INTO geo_permissions (account_sid, channel, iso_code, low_risk, high_risk_special, \
                             high_risk_tollfraud, date_updated) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                             ON CONFLICT (account_sid, channel, iso_code) DO UPDATE SET low_risk = excluded.low_risk, \
                             high_risk_special = excluded.high_risk_special, \
                             high_risk_tollfraud = excluded.high_risk_tollfraud, date_updated = excluded.date_updated",
                        )
                        .bind(&r.account_sid)
                        .bind(&r.channel)
                        .bind(&r.iso_code)
                        .bind(r.low_risk)
                        .bind(r.high_risk_special)
                        .bind(r.high_risk_tollfraud)
                        .bind(r.date_updated)
                        .execute(&mut *tx)
                        .await?;
                    }
                    Ok(())
                })
            }

            async fn all_geo_permissions(&self) -> Result<Vec<GeoPermissionRecord>> {
                Ok(sqlx::query_as::<_, GeoPermissionRecord>(
                    "SELECT * FROM geo_permissions ORDER BY account_sid, channel, iso_code",
                )
                .fetch_all(&self.pool)
                .await?)
            }
            async fn insert_number(&self, n: &NumberRecord, audit: &[NewAuditEvent]) -> Result<()> {
                $crate::sql::audited!(self, audit, tx => {
                    sqlx::query(
                        "INSERT INTO incoming_phone_numbers (sid, account_sid, phone_number, friendly_name, sms_url_sealed, \
                         sms_method, voice_url_sealed, voice_method, status_callback_sealed, status_callback_method, \
                         date_created, date_updated) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                    )
                    .bind(&n.sid).bind(&n.account_sid).bind(&n.phone_number).bind(&n.friendly_name)
                    .bind(&n.sms_url_sealed).bind(&n.sms_method).bind(&n.voice_url_sealed).bind(&n.voice_method)
                    .bind(&n.status_callback_sealed).bind(&n.status_callback_method)
                    .bind(n.date_created).bind(n.date_updated)
                    .execute(&mut *tx)
                    .await?;
                    Ok(())
                })
            }

            async fn update_number(&self, n: &NumberRecord, audit: &[NewAuditEvent]) -> Result<bool> {
                $crate::sql::audited!(self, audit, tx => {
                    let done = sqlx::query(
                        "UPDATE incoming_phone_numbers SET friendly_name = $3, sms_url_sealed = $4, sms_method = $5, \
                         voice_url_sealed = $6, voice_method = $7, status_callback_sealed = $8, \
                         status_callback_method = $9, date_updated = $10 WHERE account_sid = $1 AND sid = $2",
                    )
                    .bind(&n.account_sid).bind(&n.sid).bind(&n.friendly_name).bind(&n.sms_url_sealed)
                    .bind(&n.sms_method).bind(&n.voice_url_sealed).bind(&n.voice_method)
                    .bind(&n.status_callback_sealed).bind(&n.status_callback_method).bind(n.date_updated)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    Ok(done == 1)
                })
            }

            async fn delete_number(&self, account_sid: &str, sid: &str, audit: &[NewAuditEvent]) -> Result<bool> {
                $crate::sql::audited!(self, audit, tx => {
                    let done = sqlx::query("DELETE FROM incoming_phone_numbers WHERE account_sid = $1 AND sid = $2")
                        .bind(account_sid).bind(sid)
                        .execute(&mut *tx).await?.rows_affected();
                    Ok(done == 1)
                })
            }

            async fn list_numbers(&self, account_sid: &str, like: Option<&str>, page: &PageQuery) -> Result<Vec<NumberRecord>> {
                let (date, sid) = page.key.clone().unzip();
                Ok(sqlx::query_as::<_, NumberRecord>(page.pick($crate::sql::by_created!(asc,
                    "SELECT * FROM incoming_phone_numbers WHERE account_sid = $1 \
                     AND ($2 IS NULL OR phone_number LIKE $2)", "$3", "$4", "$5")))
                .bind(account_sid).bind(like).bind(date).bind(sid).bind(i64::from(page.limit))
                .fetch_all(&self.pool).await?)
            }

            async fn all_numbers(&self) -> Result<Vec<NumberRecord>> {
                Ok(sqlx::query_as::<_, NumberRecord>("SELECT * FROM incoming_phone_numbers ORDER BY date_created, sid")
                    .fetch_all(&self.pool).await?)
            }

            async fn insert_message(&self, m: &MessageRecord) -> Result<()> {
                Self::insert_message_query(m).execute(&self.pool).await?;
                Ok(())
            }

            async fn update_message(&self, m: &MessageRecord) -> Result<bool> {
                Ok(Self::update_message_query(m).execute(&self.pool).await?.rows_affected() == 1)
            }

            async fn message(&self, account_sid: &str, sid: &str) -> Result<Option<MessageRecord>> {
                Ok(sqlx::query_as::<_, MessageRecord>("SELECT * FROM messages WHERE account_sid = $1 AND sid = $2")
                    .bind(account_sid).bind(sid).fetch_optional(&self.pool).await?)
            }

            async fn delete_message(&self, account_sid: &str, sid: &str, audit: &[NewAuditEvent]) -> Result<bool> {
                $crate::sql::audited!(self, audit, tx => {
                    let done = sqlx::query("DELETE FROM messages WHERE account_sid = $1 AND sid = $2")
                        .bind(account_sid).bind(sid).execute(&mut *tx).await?.rows_affected();
                    Ok(done == 1)
                })
            }

            async fn list_messages(&self, q: &TrafficQuery, page: &PageQuery) -> Result<Vec<MessageRecord>> {
                let (date, sid) = page.key.clone().unzip();
                Ok(sqlx::query_as::<_, MessageRecord>(page.pick($crate::sql::by_created!(desc,
                    "SELECT * FROM messages WHERE account_sid = $1 \
                     AND ($2 IS NULL OR to_number = $2) AND ($3 IS NULL OR from_number = $3) \
                     AND ($4 IS NULL OR date_created >= $4) AND ($5 IS NULL OR date_created < $5)",
                    "$6", "$7", "$8")))
                .bind(&q.account_sid).bind(&q.to).bind(&q.from).bind(q.created_from).bind(q.created_before)
                .bind(date).bind(sid).bind(i64::from(page.limit))
                .fetch_all(&self.pool).await?)
            }

            async fn insert_call(&self, c: &CallRecord) -> Result<()> {
                Self::insert_call_query(c).execute(&self.pool).await?;
                Ok(())
            }

            async fn update_call(&self, c: &CallRecord) -> Result<bool> {
                Ok(Self::update_call_query(c).execute(&self.pool).await?.rows_affected() == 1)
            }

            async fn call(&self, account_sid: &str, sid: &str) -> Result<Option<CallRecord>> {
                Ok(sqlx::query_as::<_, CallRecord>("SELECT * FROM calls WHERE account_sid = $1 AND sid = $2")
                    .bind(account_sid).bind(sid).fetch_optional(&self.pool).await?)
            }

            async fn list_calls(&self, q: &TrafficQuery, page: &PageQuery) -> Result<Vec<CallRecord>> {
                let (date, sid) = page.key.clone().unzip();
                Ok(sqlx::query_as::<_, CallRecord>(page.pick($crate::sql::by_created!(desc,
                    "SELECT * FROM calls WHERE account_sid = $1 \
                     AND ($2 IS NULL OR to_number = $2) AND ($3 IS NULL OR from_number = $3) \
                     AND ($4 IS NULL OR date_created >= $4) AND ($5 IS NULL OR date_created < $5)",
                    "$6", "$7", "$8")))
                .bind(&q.account_sid).bind(&q.to).bind(&q.from).bind(q.created_from).bind(q.created_before)
                .bind(date).bind(sid).bind(i64::from(page.limit))
                .fetch_all(&self.pool).await?)
            }

            async fn usage(&self, account_sid: &str, start: i64, end: i64) -> Result<Vec<UsageRow>> {
                Ok(sqlx::query_as::<_, UsageRow>(
                    "SELECT CASE WHEN direction = 'inbound' THEN 'sms-inbound' ELSE 'sms-outbound' END AS category, \
                     CAST(COUNT(*) AS BIGINT) AS count, CAST(COALESCE(SUM(num_segments), 0) AS BIGINT) AS usage, \
                     CAST(COALESCE(SUM(price_micros), 0) AS BIGINT) AS price_micros \
                     FROM messages WHERE account_sid = $1 AND rule IS NULL AND date_created >= $2 AND date_created < $3 \
                     GROUP BY 1 \
                     UNION ALL \
                     SELECT CASE WHEN direction = 'inbound' THEN 'calls-inbound' ELSE 'calls-outbound' END AS category, \
                     CAST(COUNT(*) AS BIGINT) AS count, \
                     CAST(COALESCE(SUM((COALESCE(duration, 0) + 59) / 60), 0) AS BIGINT) AS usage, \
                     CAST(COALESCE(SUM(price_micros), 0) AS BIGINT) AS price_micros \
                     FROM calls WHERE account_sid = $1 AND rule IS NULL AND date_created >= $2 AND date_created < $3 \
                     GROUP BY 1",
                )
                .bind(account_sid).bind(start).bind(end)
                .fetch_all(&self.pool).await?)
            }

            async fn spend_since(&self, start: i64) -> Result<Vec<(String, String, i64, i64)>> {
                Ok(sqlx::query_as::<_, (String, String, i64, i64)>(
                    "SELECT account_sid, COALESCE(country, ''), date_created, price_micros FROM messages \
                     WHERE rule IS NULL AND price_micros IS NOT NULL AND date_created >= $1 \
                     UNION ALL \
                     SELECT account_sid, COALESCE(country, ''), date_created, price_micros FROM calls \
                     WHERE rule IS NULL AND price_micros IS NOT NULL AND date_created >= $1",
                )
                .bind(start)
                .fetch_all(&self.pool).await?)
            }

            async fn insert_rate_limit(&self, r: &RateLimitRecord, audit: &[NewAuditEvent]) -> Result<()> {
                $crate::sql::audited!(self, audit, tx => {
                    sqlx::query(
                        "INSERT INTO rate_limits (sid, account_sid, limit_key, max_events, interval_seconds, channel, date_created) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(&r.sid).bind(&r.account_sid).bind(&r.limit_key).bind(r.max_events)
                    .bind(r.interval_seconds).bind(&r.channel).bind(r.date_created)
                    .execute(&mut *tx).await?;
                    Ok(())
                })
            }

            async fn delete_rate_limit(&self, account_sid: &str, sid: &str, audit: &[NewAuditEvent]) -> Result<bool> {
                $crate::sql::audited!(self, audit, tx => {
                    let done = sqlx::query("DELETE FROM rate_limits WHERE account_sid = $1 AND sid = $2")
                        .bind(account_sid).bind(sid).execute(&mut *tx).await?.rows_affected();
                    Ok(done == 1)
                })
            }

            async fn all_rate_limits(&self) -> Result<Vec<RateLimitRecord>> {
                Ok(sqlx::query_as::<_, RateLimitRecord>("SELECT * FROM rate_limits ORDER BY date_created, sid")
                    .fetch_all(&self.pool).await?)
            }

            async fn insert_spend_limit(&self, r: &SpendLimitRecord, audit: &[NewAuditEvent]) -> Result<()> {
                $crate::sql::audited!(self, audit, tx => {
                    sqlx::query(
                        "INSERT INTO spend_limits (sid, account_sid, scope, period, limit_micros, date_created) \
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(&r.sid).bind(&r.account_sid).bind(&r.scope).bind(&r.period).bind(r.limit_micros)
                    .bind(r.date_created)
                    .execute(&mut *tx).await?;
                    Ok(())
                })
            }

            async fn delete_spend_limit(&self, account_sid: &str, sid: &str, audit: &[NewAuditEvent]) -> Result<bool> {
                $crate::sql::audited!(self, audit, tx => {
                    let done = sqlx::query("DELETE FROM spend_limits WHERE account_sid = $1 AND sid = $2")
                        .bind(account_sid).bind(sid).execute(&mut *tx).await?.rows_affected();
                    Ok(done == 1)
                })
            }

            async fn all_spend_limits(&self) -> Result<Vec<SpendLimitRecord>> {
                Ok(sqlx::query_as::<_, SpendLimitRecord>("SELECT * FROM spend_limits ORDER BY date_created, sid")
                    .fetch_all(&self.pool).await?)
            }
            async fn upsert_settings(&self, rows: &[SettingRecord], audit: &[NewAuditEvent]) -> Result<()> {
                $crate::sql::audited!(self, audit, tx => {
                    for r in rows {
                        sqlx::query(
                            "INSERT INTO account_settings (account_sid, name, value, date_updated) VALUES ($1, $2, $3, $4) \
                             ON CONFLICT (account_sid, name) DO UPDATE SET value = excluded.value, \
                             date_updated = excluded.date_updated",
                        )
                        .bind(&r.account_sid).bind(&r.name).bind(&r.value).bind(r.date_updated)
                        .execute(&mut *tx).await?;
                    }
                    Ok(())
                })
            }

            async fn all_settings(&self) -> Result<Vec<SettingRecord>> {
                Ok(sqlx::query_as::<_, SettingRecord>("SELECT * FROM account_settings ORDER BY account_sid, name")
                    .fetch_all(&self.pool).await?)
            }

            async fn insert_recipient(&self, account_sid: &str, phone_number: &str, at: i64, audit: &[NewAuditEvent]) -> Result<()> {
                $crate::sql::audited!(self, audit, tx => {
                    sqlx::query(
                        "INSERT INTO recipients (account_sid, phone_number, date_created) VALUES ($1, $2, $3) \
                         ON CONFLICT (account_sid, phone_number) DO NOTHING",
                    )
                    .bind(account_sid).bind(phone_number).bind(at)
                    .execute(&mut *tx).await?;
                    Ok(())
                })
            }

            async fn delete_recipient(&self, account_sid: &str, phone_number: &str, audit: &[NewAuditEvent]) -> Result<bool> {
                $crate::sql::audited!(self, audit, tx => {
                    let done = sqlx::query("DELETE FROM recipients WHERE account_sid = $1 AND phone_number = $2")
                        .bind(account_sid).bind(phone_number).execute(&mut *tx).await?.rows_affected();
                    Ok(done == 1)
                })
            }

            async fn all_recipients(&self) -> Result<Vec<(String, String)>> {
                Ok(sqlx::query_as::<_, (String, String)>("SELECT account_sid, phone_number FROM recipients")
                    .fetch_all(&self.pool).await?)
            }

            async fn known_numbers(&self) -> Result<Vec<(String, String)>> {
                Ok(sqlx::query_as::<_, (String, String)>(
                    "SELECT account_sid, from_number FROM messages WHERE direction = 'inbound' \
                     UNION SELECT account_sid, to_number FROM verifications WHERE status = 'approved' \
                     ORDER BY 1, 2",
                )
                .fetch_all(&self.pool).await?)
            }
            async fn recent_service_senders(&self, limit: i64) -> Result<Vec<(String, String, String)>> {
                // Message SIDs are time-ordered, so the primary key gives the newest first.
                Ok(sqlx::query_as::<_, (String, String, String)>(
                    "SELECT messaging_service_sid, to_number, from_number FROM messages \
                     WHERE messaging_service_sid IS NOT NULL AND direction <> 'inbound' AND rule IS NULL \
                     AND status NOT IN ('failed', 'undelivered', 'canceled') \
                     ORDER BY sid DESC LIMIT $1",
                )
                .bind(limit)
                .fetch_all(&self.pool).await?)
            }
            async fn insert_service(&self, r: &ServiceRecord, audit: &[NewAuditEvent]) -> Result<()> {
                $crate::sql::audited!(self, audit, tx => {
                    sqlx::query(
                        "INSERT INTO messaging_services (sid, account_sid, friendly_name, sticky_sender, date_created, date_updated) \
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(&r.sid).bind(&r.account_sid).bind(&r.friendly_name).bind(r.sticky_sender)
                    .bind(r.date_created).bind(r.date_updated)
                    .execute(&mut *tx).await?;
                    Ok(())
                })
            }

            async fn update_service(&self, r: &ServiceRecord, audit: &[NewAuditEvent]) -> Result<bool> {
                $crate::sql::audited!(self, audit, tx => {
                    let done = sqlx::query(
                        "UPDATE messaging_services SET friendly_name = $3, sticky_sender = $4, date_updated = $5 \
                         WHERE account_sid = $1 AND sid = $2",
                    )
                    .bind(&r.account_sid).bind(&r.sid).bind(&r.friendly_name).bind(r.sticky_sender).bind(r.date_updated)
                    .execute(&mut *tx).await?.rows_affected();
                    Ok(done == 1)
                })
            }

            async fn delete_service(&self, account_sid: &str, sid: &str, audit: &[NewAuditEvent]) -> Result<bool> {
                $crate::sql::audited!(self, audit, tx => {
                    sqlx::query("DELETE FROM service_numbers WHERE service_sid = $1 AND EXISTS \
                                 (SELECT 1 FROM messaging_services WHERE sid = $1 AND account_sid = $2)")
                        .bind(sid).bind(account_sid).execute(&mut *tx).await?;
                    let done = sqlx::query("DELETE FROM messaging_services WHERE account_sid = $1 AND sid = $2")
                        .bind(account_sid).bind(sid).execute(&mut *tx).await?.rows_affected();
                    Ok(done == 1)
                })
            }

            async fn all_services(&self) -> Result<Vec<ServiceRecord>> {
                Ok(sqlx::query_as::<_, ServiceRecord>("SELECT * FROM messaging_services ORDER BY date_created, sid")
                    .fetch_all(&self.pool).await?)
            }

            async fn add_service_number(&self, service_sid: &str, number_sid: &str, at: i64, limit: u32, audit: &[NewAuditEvent]) -> Result<bool> {
                $crate::sql::audited!(self, audit, tx => {
                    let done = sqlx::query(
                        "INSERT INTO service_numbers (service_sid, number_sid, date_created) \
                         SELECT $1, $2, $3 WHERE (SELECT COUNT(*) FROM service_numbers WHERE service_sid = $1) < $4",
                    )
                    .bind(service_sid).bind(number_sid).bind(at).bind(i64::from(limit))
                    .execute(&mut *tx).await?.rows_affected();
                    Ok(done == 1)
                })
            }

            async fn remove_service_number(&self, service_sid: &str, number_sid: &str, audit: &[NewAuditEvent]) -> Result<bool> {
                $crate::sql::audited!(self, audit, tx => {
                    let done = sqlx::query("DELETE FROM service_numbers WHERE service_sid = $1 AND number_sid = $2")
                        .bind(service_sid).bind(number_sid).execute(&mut *tx).await?.rows_affected();
                    Ok(done == 1)
                })
            }

            async fn all_service_numbers(&self) -> Result<Vec<(String, String)>> {
                Ok(sqlx::query_as::<_, (String, String)>(
                    "SELECT service_sid, number_sid FROM service_numbers ORDER BY date_created, number_sid",
                )
                .fetch_all(&self.pool).await?)
            }
            async fn upsert_block(&self, b: &BlockRecord, audit: &[NewAuditEvent]) -> Result<()> {
                $crate::sql::audited!(self, audit, tx => {
                    sqlx::query(
                        "INSERT INTO blocklist (account_sid, prefix, expires_at, date_created) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (account_sid, prefix) DO UPDATE SET expires_at = excluded.expires_at, \
                         date_created = excluded.date_created",
                    )
                    .bind(&b.account_sid).bind(&b.prefix).bind(b.expires_at).bind(b.date_created)
                    .execute(&mut *tx).await?;
                    Ok(())
                })
            }

            async fn delete_block(&self, account_sid: &str, prefix: &str, audit: &[NewAuditEvent]) -> Result<bool> {
                $crate::sql::audited!(self, audit, tx => {
                    let done = sqlx::query("DELETE FROM blocklist WHERE account_sid = $1 AND prefix = $2")
                        .bind(account_sid).bind(prefix).execute(&mut *tx).await?.rows_affected();
                    Ok(done == 1)
                })
            }

            async fn all_blocks(&self) -> Result<Vec<BlockRecord>> {
                Ok(sqlx::query_as::<_, BlockRecord>("SELECT * FROM blocklist ORDER BY account_sid, prefix")
                    .fetch_all(&self.pool).await?)
            }

            async fn put_upstream(&self, u: &UpstreamRecord, audit: &[NewAuditEvent]) -> Result<()> {
                $crate::sql::audited!(self, audit, tx => {
                    sqlx::query(
                        "INSERT INTO upstream_accounts (account_sid, upstream_account_sid, api_key_sid, \
                         api_key_secret_sealed, auth_token_sealed, date_created, date_updated) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7) \
                         ON CONFLICT (account_sid) DO UPDATE SET upstream_account_sid = excluded.upstream_account_sid, \
                         api_key_sid = excluded.api_key_sid, api_key_secret_sealed = excluded.api_key_secret_sealed, \
                         auth_token_sealed = excluded.auth_token_sealed, date_updated = excluded.date_updated",
                    )
                    .bind(&u.account_sid).bind(&u.upstream_account_sid).bind(&u.api_key_sid)
                    .bind(&u.api_key_secret_sealed).bind(&u.auth_token_sealed).bind(u.date_created)
                    .bind(u.date_updated)
                    .execute(&mut *tx).await?;
                    Ok(())
                })
            }

            async fn delete_upstream(&self, account_sid: &str, audit: &[NewAuditEvent]) -> Result<bool> {
                $crate::sql::audited!(self, audit, tx => {
                    let done = sqlx::query("DELETE FROM upstream_accounts WHERE account_sid = $1")
                        .bind(account_sid).execute(&mut *tx).await?.rows_affected();
                    Ok(done == 1)
                })
            }

            async fn claim_idempotency(&self, c: &IdempotentRequestRecord) -> Result<Option<IdempotentRequestRecord>> {
                let inserted = sqlx::query(
                    "INSERT INTO idempotent_requests (account_sid, idempotency_key, request_hash, status, \
                     answer_status, answer_sealed, date_created) VALUES ($1, $2, $3, 'pending', NULL, NULL, $4) \
                     ON CONFLICT (account_sid, idempotency_key) DO NOTHING",
                )
                .bind(&c.account_sid).bind(&c.idempotency_key).bind(&c.request_hash).bind(c.date_created)
                .execute(&self.pool).await?.rows_affected();
                if inserted == 1 {
                    return Ok(None);
                }
                self.idempotent_request(&c.account_sid, &c.idempotency_key).await
            }

            async fn idempotent_request(&self, account_sid: &str, key: &str) -> Result<Option<IdempotentRequestRecord>> {
                Ok(sqlx::query_as::<_, IdempotentRequestRecord>(
                    "SELECT * FROM idempotent_requests WHERE account_sid = $1 AND idempotency_key = $2",
                )
                .bind(account_sid).bind(key).fetch_optional(&self.pool).await?)
            }

            async fn finish_idempotency(&self, account_sid: &str, key: &str, answer_status: i64, answer_sealed: &[u8]) -> Result<()> {
                sqlx::query(
                    "UPDATE idempotent_requests SET status = 'done', answer_status = $3, answer_sealed = $4 \
                     WHERE account_sid = $1 AND idempotency_key = $2",
                )
                .bind(account_sid).bind(key).bind(answer_status).bind(answer_sealed)
                .execute(&self.pool).await?;
                Ok(())
            }

            async fn release_idempotency(&self, account_sid: &str, key: &str) -> Result<()> {
                sqlx::query(
                    "DELETE FROM idempotent_requests WHERE account_sid = $1 AND idempotency_key = $2 AND status = 'pending'",
                )
                .bind(account_sid).bind(key).execute(&self.pool).await?;
                Ok(())
            }

            async fn intents_of(&self, node: &str) -> Result<Vec<UpstreamIntentRecord>> {
                Ok(sqlx::query_as::<_, UpstreamIntentRecord>(
                    "SELECT * FROM upstream_intents WHERE node = $1 ORDER BY date_created, local_sid",
                )
                .bind(node).fetch_all(&self.pool).await?)
            }

            async fn prune_idempotency(&self, before: i64) -> Result<u64> {
                Ok(sqlx::query("DELETE FROM idempotent_requests WHERE date_created < $1")
                    .bind(before).execute(&self.pool).await?.rows_affected())
            }

            async fn all_upstreams(&self) -> Result<Vec<UpstreamRecord>> {
                Ok(sqlx::query_as::<_, UpstreamRecord>("SELECT * FROM upstream_accounts ORDER BY account_sid")
                    .fetch_all(&self.pool).await?)
            }
        }
    };
}

pub(crate) use audited;
pub(crate) use by_created;
pub(crate) use impl_store;
